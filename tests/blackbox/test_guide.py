"""The integration guide, followed to the letter: Step 5, the batch example, the provider snippets."""
import json
import os
import subprocess
import tempfile
import unittest
import uuid

import clx
from clx import OK1, SKIP1

# Step 5 of the guide, verbatim (the shell supplies the two variables).
GUIDE_CURL = r"""curl -X POST "$COSTLYNX_BASE_URL/api/v1/usage/ingest" \
-H "Content-Type: application/json" \
-H "X-API-Key: $COSTLYNX_INGESTION_KEY" \
-d '{
"provider": "openai",
"model": "gpt-4o-mini",
"inputTokens": 850,
"outputTokens": 320,
"requestId": "test-integration-001",
"project": "customer-support",
"environment": "staging",
"feature": "ticket-classifier"
}'"""

# The guide's batch example, verbatim.
GUIDE_BATCH = """{
"events": [
{
"provider": "openai",
"model": "gpt-4.1",
"inputTokens": 1200,
"outputTokens": 450,
"requestId": "chatcmpl-abc123",
"project": "document-processing",
"environment": "prod",
"feature": "contract-analysis"
},
{
"provider": "anthropic",
"model": "claude-3-5-haiku",
"inputTokens": 600,
"outputTokens": 180,
"requestId": "msg_xyz456",
"project": "document-processing",
"environment": "prod",
"feature": "classification"
}
]
}"""


class GuideTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        proj = cls.srv.create_project("customer-support")
        cls.created_project = proj
        cls.key = cls.srv.create_key(name="guide prod key")
        cls.srv.create_project("document-processing")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def run_guide_curl(self, extra=""):
        with tempfile.NamedTemporaryFile(prefix="clx-hdr-", delete=False) as f:
            hdr = f.name
        try:
            env = dict(os.environ, COSTLYNX_BASE_URL=self.srv.url, COSTLYNX_INGESTION_KEY=self.key, HDR=hdr)
            p = subprocess.run(["bash", "-c", GUIDE_CURL + ' -sS -D "$HDR"' + extra], capture_output=True,
                               timeout=20, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(hdr, "r", encoding="latin-1") as f:
                status, version, headers = clx.parse_header_dump(f.read())
            return status, version, headers, p.stdout
        finally:
            os.unlink(hdr)

    def test_project_comes_with_standard_environments(self):
        self.assertEqual(self.created_project["slug"], "customer-support")
        self.assertEqual([e["slug"] for e in self.created_project["environments"]], ["prod", "staging", "dev"])
        st, js, _ = self.srv.admin("GET", "workspaces/default/projects/customer-support/environments")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(e["slug"] for e in js["environments"]), ["dev", "prod", "staging"])

    def test_step5_verbatim_curl_and_idempotency(self):
        status, _, headers, body = self.run_guide_curl()
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type", "").split(";")[0].strip(), "application/json")
        self.assertEqual(body, OK1)
        # re-send: idempotency
        status, _, headers, body = self.run_guide_curl()
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type", "").split(";")[0].strip(), "application/json")
        self.assertEqual(body, SKIP1)
        # Dashboard check of Step 5.2/5.3: attribution and cost as stored
        ev = self.srv.get_event("test-integration-001")
        self.assertIsNotNone(ev)
        self.assertEqual(ev["provider"], "openai")
        self.assertEqual(ev["model"], "gpt-4o-mini")
        self.assertEqual(ev["project"], "customer-support")
        self.assertEqual(ev["environment"], "staging")
        self.assertEqual(ev["feature"], "ticket-classifier")
        self.assertEqual(ev["inputTokens"], 850)
        self.assertEqual(ev["outputTokens"], 320)
        self.assertTrue(ev["priceId"].startswith("openai/gpt-4o-mini@"), ev["priceId"])
        # $0.15 / $0.60 per Mtok: 850*0.15e-6 + 320*0.60e-6 = 0.0001275 + 0.000192
        self.assertEqual(ev["costUsd"], "0.0003195")
        self.assertEqual(ev["costSource"], "catalog")
        self.assertEqual(ev["flags"], [])
        # exactly one stored event for the id
        ids = [e["requestId"] for e in self.srv.all_events()]
        self.assertEqual(ids.count("test-integration-001"), 1)

    def test_batch_example(self):
        status, headers, raw = self.srv.post_ingest(self.key, GUIDE_BATCH.encode())
        self.assertEqual(status, 200, raw)
        self.assertEqual(headers.get("content-type", "").split(";")[0], "application/json")
        self.assertEqual(raw, b'{"ok":true,"inserted":2,"skipped":0}')

        a = self.srv.get_event("chatcmpl-abc123")
        self.assertEqual(a["provider"], "openai")
        self.assertEqual(a["model"], "gpt-4.1")
        self.assertTrue(a["priceId"].startswith("openai/gpt-4.1@"), a["priceId"])
        self.assertEqual(a["costUsd"], "0.006")  # 1200*2e-6 + 450*8e-6
        self.assertEqual(a["costSource"], "catalog")
        self.assertEqual((a["project"], a["environment"], a["feature"]),
                         ("document-processing", "prod", "contract-analysis"))

        b = self.srv.get_event("msg_xyz456")
        self.assertEqual(b["provider"], "anthropic")
        self.assertEqual(b["model"], "claude-3-5-haiku")
        self.assertTrue(b["priceId"].startswith("anthropic/claude-3-5-haiku@"), b["priceId"])
        self.assertEqual(b["costUsd"], "0.0012")  # 600*0.8e-6 + 180*4e-6
        self.assertEqual((b["project"], b["environment"], b["feature"]),
                         ("document-processing", "prod", "classification"))

        status, _, raw = self.srv.post_ingest(self.key, GUIDE_BATCH.encode())
        self.assertEqual((status, raw), (200, b'{"ok":true,"inserted":0,"skipped":2}'))

    def test_openai_snippet_with_cached_tokens(self):
        body = {"provider": "openai", "model": "gpt-4.1", "inputTokens": 1000, "outputTokens": 100,
                "cachedTokens": 400, "requestId": "chatcmpl-cached-1", "project": "customer-support",
                "environment": "prod", "feature": "ticket-classifier"}
        status, _, raw = self.srv.post_ingest(self.key, body)
        self.assertEqual((status, raw), (200, OK1))
        ev = self.srv.get_event("chatcmpl-cached-1")
        self.assertEqual(ev["cachedTokens"], 400)
        # 600 uncached * $2 + 400 cached * $0.50 + 100 out * $8, per Mtok
        self.assertEqual(ev["costUsd"], "0.0022")

    def test_gemini_is_stored_as_google(self):
        rid = str(uuid.uuid4())
        body = {"provider": "gemini", "model": "gemini-2.0-flash", "inputTokens": 1000, "outputTokens": 500,
                "requestId": rid, "project": "customer-support", "environment": "prod", "feature": "summarizer"}
        status, _, raw = self.srv.post_ingest(self.key, body)
        self.assertEqual((status, raw), (200, OK1))
        ev = self.srv.get_event(rid)
        self.assertEqual(ev["provider"], "google")
        self.assertEqual(ev["providerAsSent"], "gemini")
        self.assertEqual(ev["model"], "gemini-2.0-flash")
        self.assertTrue(ev["priceId"].startswith("google/gemini-2.0-flash@"), ev["priceId"])
        self.assertEqual(ev["costUsd"], "0.0003")  # 1000*0.10e-6 + 500*0.40e-6

    def test_anthropic_dated_model_kept_and_priced(self):
        body = {"provider": "anthropic", "model": "claude-3-7-sonnet-20250219", "inputTokens": 1000,
                "outputTokens": 200, "requestId": "msg_01XFDUDYJgAACTvjgjLqeqoK", "project": "customer-support",
                "environment": "prod", "feature": "agent"}
        status, _, raw = self.srv.post_ingest(self.key, body)
        self.assertEqual((status, raw), (200, OK1))
        ev = self.srv.get_event("msg_01XFDUDYJgAACTvjgjLqeqoK")
        self.assertEqual(ev["model"], "claude-3-7-sonnet-20250219")
        self.assertEqual(ev["modelNormalized"], "claude-3-7-sonnet")
        self.assertTrue(ev["priceId"].startswith("anthropic/claude-3-7-sonnet@"), ev["priceId"])
        self.assertEqual(ev["costUsd"], "0.006")  # 1000*3e-6 + 200*15e-6
        # the guide's own Anthropic snippet sends the undated name: same price
        body.update(model="claude-3-7-sonnet", requestId="msg_undated_1")
        status, _, raw = self.srv.post_ingest(self.key, body)
        self.assertEqual((status, raw), (200, OK1))
        ev2 = self.srv.get_event("msg_undated_1")
        self.assertEqual(ev2["model"], "claude-3-7-sonnet")
        self.assertEqual(ev2["priceId"], ev["priceId"])
        self.assertEqual(ev2["costUsd"], "0.006")

    def test_azure_openai_deployment_name(self):
        body = {"provider": "azure_openai", "model": "contoso-support-gpt4o-prod", "inputTokens": 100,
                "outputTokens": 50, "requestId": "azure-deploy-1", "project": "customer-support",
                "environment": "prod", "feature": "ticket-classifier"}
        status, js, raw = self.srv.ingest(self.key, body)
        self.assertEqual(status, 200, raw)
        self.assertEqual((js["ok"], js["inserted"], js["skipped"]), (True, 1, 0))
        self.assertNotIn("errors", js)
        self.assertEqual([(w["index"], w["requestId"], w["code"]) for w in js["warnings"]],
                         [(0, "azure-deploy-1", "unpriced_model")])
        ev = self.srv.get_event("azure-deploy-1")
        self.assertEqual(ev["provider"], "azure")
        self.assertEqual(ev["providerAsSent"], "azure_openai")
        self.assertEqual(ev["model"], "contoso-support-gpt4o-prod")
        self.assertIsNone(ev["costUsd"])
        self.assertIn("unpriced", ev["flags"])
        # an Azure deployment named after a catalog model is priced
        body.update(model="gpt-4.1", requestId="azure-deploy-2", inputTokens=1200, outputTokens=450)
        status, _, raw = self.srv.post_ingest(self.key, body)
        self.assertEqual((status, raw), (200, OK1))
        ev = self.srv.get_event("azure-deploy-2")
        self.assertEqual(ev["provider"], "azure")
        self.assertEqual(ev["costUsd"], "0.006")
        self.assertEqual(ev["flags"], [])

    def test_http2_prior_knowledge(self):
        body = json.dumps({"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 850, "outputTokens": 320,
                           "requestId": "h2-integration-001", "project": "customer-support",
                           "environment": "staging", "feature": "ticket-classifier"})
        with tempfile.TemporaryDirectory() as d:
            hdr = os.path.join(d, "h")
            args = ["--http2-prior-knowledge", "-sS", "-D", hdr, "-X", "POST", self.srv.url + "/api/v1/usage/ingest",
                    "-H", "Content-Type: application/json", "-H", "X-API-Key: " + self.key, "-d", body]
            for want in (OK1, SKIP1):
                rc, out, err = clx.curl(args)
                self.assertEqual(rc, 0, err)
                with open(hdr, encoding="latin-1") as f:
                    status, version, headers = clx.parse_header_dump(f.read())
                self.assertEqual(version, "2")
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("content-type", "").split(";")[0], "application/json")
                self.assertEqual(out, want)
            # the batch example over HTTP/2 too (new ids)
            batch = GUIDE_BATCH.replace("chatcmpl-abc123", "h2-chatcmpl-1").replace("msg_xyz456", "h2-msg-1")
            rc, out, err = clx.curl(args[:-1] + [batch])
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, b'{"ok":true,"inserted":2,"skipped":0}')
            # an error over HTTP/2 is JSON as well
            rc, out, err = clx.curl(["--http2-prior-knowledge", "-sS", "-X", "POST",
                                     self.srv.url + "/api/v1/usage/ingest", "-H", "Content-Type: application/json",
                                     "-H", "X-API-Key: nope", "-d", body, "-w", "\n%{http_code} %{http_version}"])
            text = out.decode()
            self.assertTrue(text.endswith("\n401 2"), text)
            self.assertEqual(json.loads(text.rsplit("\n", 1)[0])["error"]["code"], "unauthenticated")
        ev = self.srv.get_event("h2-integration-001")
        self.assertEqual(ev["costUsd"], "0.0003195")
        self.assertEqual(self.srv.get_event("h2-msg-1")["costUsd"], "0.0012")


if __name__ == "__main__":
    unittest.main()
