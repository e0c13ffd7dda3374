"""Pricing over the real binary: the catalog listing, a catalog replaced without restart
(admin reload and SIGHUP), and stored costs that never move when prices change."""
import os
import shutil
import signal
import tempfile
import time
import unittest

import clx

ROW = "{p}/{m}@{d},{p},{m},,{d},{i},{o},,,https://example.com/{p}/pricing,2026-07-24\n"


class PricingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="clx-cat-")
        cls.catalog = os.path.join(cls.dir, "prices.csv")
        shutil.copy(os.path.join(os.environ["CLX_SOURCE_DIR"], "pricing/catalog/prices.csv"), cls.catalog)
        with open(cls.catalog, "a") as f:
            f.write(ROW.format(p="openai", m="house-model", d="2025-01-01", i="1.00", o="2.00"))
        cls.srv = clx.Server(extra_args=["--catalog", cls.catalog])
        cls.key = cls.srv.create_key(name="pricing")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def models(self, headers):
        status, _, raw = self.srv.request("GET", "/api/v1/pricing/models", headers=headers)
        return status, clx.parse(raw)

    def test_models_listing(self):
        status, js = self.models({"Authorization": "Bearer " + self.srv.admin_token})
        self.assertEqual(status, 200)
        self.assertEqual(js["unit"], "USD per million tokens")
        mini = [m for m in js["models"] if m["id"] == "openai/gpt-4o-mini@2024-07-18"]
        self.assertEqual(len(mini), 1)
        self.assertEqual((mini[0]["inputPerMtok"], mini[0]["outputPerMtok"], mini[0]["cachedInputPerMtok"]),
                         ("0.15", "0.6", "0.075"))
        self.assertTrue(mini[0]["source"].startswith("https://"))
        # an ingestion key may check coverage too; nothing else may
        status, js2 = self.models({"X-API-Key": self.key})
        self.assertEqual(status, 200)
        self.assertEqual(len(js2["models"]), len(js["models"]))
        status, err = self.models({})
        self.assertEqual(status, 401)
        self.assertEqual(err["error"]["code"], "unauthenticated")

    def test_reload_changes_new_costs_only(self):
        ev = lambda rid: clx.event(rid, provider="openai", model="house-model", inputTokens=1000000,
                                   outputTokens=1000000)
        status, js, _ = self.srv.ingest(self.key, ev("before-change"))
        self.assertEqual((status, js["inserted"]), (200, 1))
        self.assertEqual(self.srv.get_event("before-change")["costUsd"], "3")  # $1 + $2

        # the provider raises the price: a new row with a later effective date
        with open(self.catalog, "a") as f:
            f.write(ROW.format(p="openai", m="house-model", d="2026-01-01", i="5.00", o="10.00"))
        status, js, raw = self.srv.admin("POST", "pricing/reload")
        self.assertEqual(status, 200, raw)
        self.assertTrue(js["ok"])
        status, js, _ = self.srv.ingest(self.key, ev("after-change"))
        self.assertEqual(js["inserted"], 1)
        after = self.srv.get_event("after-change")
        self.assertEqual(after["costUsd"], "15")
        self.assertEqual(after["priceId"], "openai/house-model@2026-01-01")
        before = self.srv.get_event("before-change")  # history is not rewritten
        self.assertEqual((before["costUsd"], before["priceId"]), ("3", "openai/house-model@2025-01-01"))

    def test_workspace_override_and_azure_deployment(self):
        srv = self.srv
        status, js, raw = srv.admin("POST", "workspaces/default/pricing/overrides",
                                    {"provider": "OpenAI", "model": "gpt-4o-2024-08-06", "inputPerMtok": "1.25",
                                     "outputPerMtok": 5, "note": "negotiated"})
        self.assertEqual(status, 201, raw)
        self.assertEqual((js["provider"], js["model"], js["inputPerMtok"], js["outputPerMtok"]),
                         ("openai", "gpt-4o", "1.25", "5"))
        oid = js["id"]
        # the dated name normalises to gpt-4o: the override applies, not the list price ($2.50 / $10)
        srv.ingest(self.key, clx.event("ovr-1", provider="openai", model="gpt-4o-2024-08-06",
                                       inputTokens=1000000, outputTokens=1000000))
        ev = srv.get_event("ovr-1")
        self.assertEqual((ev["costUsd"], ev["priceId"]), ("6.25", oid))
        # another workspace keeps the list price
        srv.create_workspace("other")
        other_key = srv.create_key(ws="other", name="other")
        srv.ingest(other_key, clx.event("ovr-1", provider="openai", model="gpt-4o", inputTokens=1000000,
                                        outputTokens=1000000))
        self.assertEqual(srv.get_event("ovr-1", ws="other")["costUsd"], "12.5")
        # removing the override: new events use the list price again, stored costs stay
        status, _, _ = srv.admin("DELETE", "workspaces/default/pricing/overrides?provider=openai&model=gpt-4o")
        self.assertEqual(status, 200)
        srv.ingest(self.key, clx.event("ovr-2", provider="openai", model="gpt-4o", inputTokens=1000000,
                                       outputTokens=0))
        self.assertEqual(srv.get_event("ovr-2")["costUsd"], "2.5")
        self.assertEqual(srv.get_event("ovr-1")["costUsd"], "6.25")
        # bad input names the field
        status, js, _ = srv.admin("POST", "workspaces/default/pricing/overrides",
                                  {"provider": "openai", "model": "x", "inputPerMtok": "-1", "outputPerMtok": "1"})
        self.assertEqual((status, js["error"]["field"]), (400, "inputPerMtok"))

        # Azure: a deployment name priced as a catalog model
        srv.ingest(self.key, clx.event("az-1", provider="azure_openai", model="prod-chat", inputTokens=1000000))
        self.assertIsNone(srv.get_event("az-1")["costUsd"])  # unknown deployment: unpriced
        status, js, raw = srv.admin("POST", "workspaces/default/pricing/deployments",
                                    {"deployment": "Prod-Chat", "model": "gpt-4o-mini"})
        self.assertEqual(status, 201, raw)
        srv.ingest(self.key, clx.event("az-2", provider="azure_openai", model="Prod-Chat", inputTokens=1000000,
                                       outputTokens=0))
        ev = srv.get_event("az-2")
        self.assertEqual((ev["provider"], ev["model"], ev["costUsd"]), ("azure", "Prod-Chat", "0.15"))
        status, js, _ = srv.admin("GET", "workspaces/default/pricing/deployments")
        self.assertEqual([(d["deployment"], d["model"]) for d in js["deployments"]], [("prod-chat", "gpt-4o-mini")])

    def test_batch_api_discount(self):
        # gpt-4o-mini through the Batch API: half the list price, exactly
        self.srv.ingest(self.key, clx.event("batch-1", provider="openai", model="gpt-4o-mini", inputTokens=1000001,
                                            outputTokens=0, batch=True))
        ev = self.srv.get_event("batch-1")
        # 1,000,001 x $0.15/Mtok = $0.15000015, halved = $0.075000075
        self.assertEqual((ev["costUsd"], ev["batch"]), ("0.075000075", True))
        status, js, _ = self.srv.ingest(self.key, clx.event("batch-2", batch="yes"))
        self.assertEqual((status, js["error"]["field"], js["error"]["code"]), (400, "batch", "invalid_type"))

    def test_broken_catalog_keeps_the_running_one(self):
        with open(self.catalog) as f:
            good = f.read()
        try:
            with open(self.catalog, "a") as f:
                f.write("not,a,valid,row\n")
            status, js, _ = self.srv.admin("POST", "pricing/reload")
            self.assertEqual(status, 400)
            self.assertIn("line", js["error"]["message"])
            os.kill(self.srv.proc.pid, signal.SIGHUP)  # the same through SIGHUP: logged, not fatal
            time.sleep(0.3)
            self.assertTrue(self.srv.alive())
            self.assertIn("catalog not reloaded", self.srv.stderr())
            status, js, _ = self.srv.ingest(self.key, clx.event("still-priced", provider="openai",
                                                                   model="gpt-4o-mini", inputTokens=1000,
                                                                   outputTokens=0))
            self.assertEqual(js["inserted"], 1)
            self.assertEqual(self.srv.get_event("still-priced")["costUsd"], "0.00015")
        finally:
            with open(self.catalog, "w") as f:
                f.write(good)


if __name__ == "__main__":
    unittest.main()
