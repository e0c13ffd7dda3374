"""Attribution (key defaults, environment lock, unknown slugs, strict mode), dedup scope, cost sources."""
import unittest

import clx
from clx import OK1, SKIP1, event


def codes(js):
    return [(w["index"], w["requestId"], w["code"]) for w in js.get("warnings", [])]


class AttributionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s = cls.srv = clx.Server()
        s.create_project("shop")
        s.create_project("billing")
        cls.key_plain = s.create_key(name="shared pipeline")
        cls.key_defaults = s.create_key(name="shop staging", default_project="shop", default_environment="staging")
        cls.key_locked = s.create_key(name="shop prod only", default_project="shop", environment="prod")
        # strict mode lives in its own workspace so the other tests keep the lenient default
        s.create_workspace("strictws")
        s.create_project("known", ws="strictws")
        cls.key_strict = s.create_key(ws="strictws", name="strict key")
        # a second workspace for the per-workspace dedup scope
        s.create_workspace("ws2")
        s.create_project("shop", ws="ws2")
        cls.key_ws2 = s.create_key(ws="ws2", name="ws2 key")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    # ---- key defaults and lock ---------------------------------------------------------------

    def test_key_defaults_fill_missing_attribution(self):
        st, _, raw = self.srv.post_ingest(self.key_defaults, event("def-1", feature="search"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("def-1")
        self.assertEqual((ev["project"], ev["environment"], ev["feature"]), ("shop", "staging", "search"))
        self.assertEqual(ev["flags"], [])
        # an event's own environment wins over the key's default, the project is still the default
        st, _, raw = self.srv.post_ingest(self.key_defaults, event("def-2", environment="dev"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("def-2")
        self.assertEqual((ev["project"], ev["environment"]), ("shop", "dev"))
        # and an explicit project wins too
        st, _, raw = self.srv.post_ingest(self.key_defaults, event("def-3", project="billing", environment="prod"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("def-3")
        self.assertEqual((ev["project"], ev["environment"]), ("billing", "prod"))

    def test_key_without_defaults_and_event_without_project(self):
        st, js, raw = self.srv.ingest(self.key_plain, event("noattr-1"))
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["inserted"], js["skipped"]), (1, 0))
        ev = self.srv.get_event("noattr-1")
        self.assertIsNone(ev["project"])
        self.assertIsNone(ev["environment"])

    def test_environment_lock(self):
        # naming another environment: rejected
        st, js, raw = self.srv.ingest(self.key_locked, event("lock-staging", environment="staging"))
        self.assertEqual(st, 400, raw)
        self.assertEqual(js["error"]["code"], "environment_not_allowed")
        self.assertEqual(js["error"]["field"], "environment")
        self.assertEqual(js["error"]["requestId"], "lock-staging")
        self.assertIsNone(self.srv.get_event("lock-staging"))
        # no environment: the locked one
        st, _, raw = self.srv.post_ingest(self.key_locked, event("lock-none"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("lock-none")
        self.assertEqual((ev["project"], ev["environment"]), ("shop", "prod"))
        # naming the locked environment explicitly is fine
        st, _, raw = self.srv.post_ingest(self.key_locked, event("lock-prod", environment="prod"))
        self.assertEqual((st, raw), (200, OK1))
        # in a batch the locked-out event is reported by index and the rest stored
        st, js, raw = self.srv.ingest(self.key_locked, {"events": [
            event("lock-b0"), event("lock-b1", environment="dev"), event("lock-b2", environment="prod")]})
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["inserted"], js["rejected"]), (2, 1), raw)
        self.assertEqual([(e["index"], e["field"], e["code"]) for e in js["errors"]],
                         [(1, "environment", "environment_not_allowed")])
        self.assertIsNone(self.srv.get_event("lock-b1"))
        self.assertEqual(self.srv.get_event("lock-b2")["environment"], "prod")

    # ---- unknown slugs -----------------------------------------------------------------------------

    def test_unknown_project_stored_without_attribution(self):
        st, js, raw = self.srv.ingest(self.key_plain, event("unk-proj-1", project="no-such-project",
                                                           environment="prod", feature="f"))
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["ok"], js["inserted"], js["skipped"]), (True, 1, 0))
        self.assertNotIn("errors", js)
        self.assertEqual(codes(js), [(0, "unk-proj-1", "unknown_project")])
        self.assertIn("no-such-project", js["warnings"][0]["message"])
        ev = self.srv.get_event("unk-proj-1")
        self.assertIsNone(ev["project"])
        self.assertEqual(ev["projectAsSent"], "no-such-project")
        self.assertIn("unknown_project", ev["flags"])
        self.assertEqual(ev["feature"], "f")

    def test_unknown_environment_warns(self):
        st, js, raw = self.srv.ingest(self.key_plain, event("unk-env-1", project="shop", environment="qa"))
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["inserted"], js["skipped"]), (1, 0))
        self.assertEqual(codes(js), [(0, "unk-env-1", "unknown_environment")])
        ev = self.srv.get_event("unk-env-1")
        self.assertEqual(ev["project"], "shop")
        self.assertIsNone(ev["environment"])
        self.assertEqual(ev["environmentAsSent"], "qa")
        self.assertIn("unknown_environment", ev["flags"])

    def test_strict_mode(self):
        js = self.srv.set_strict(True, ws="strictws")
        self.assertIs(js["strictMode"], True)
        st, got, _ = self.srv.admin("GET", "workspaces/strictws")
        self.assertEqual((st, got["strictMode"]), (200, True))
        st, got, _ = self.srv.admin("GET", "workspaces/default")
        self.assertIs(got["strictMode"], False)
        try:
            # unknown project: rejected (single event: 400)
            st, js, raw = self.srv.ingest(self.key_strict, event("strict-unk", project="nope", environment="prod"))
            self.assertEqual(st, 400, raw)
            self.assertEqual((js["error"]["code"], js["error"]["field"]), ("unknown_project", "project"))
            self.assertIsNone(self.srv.get_event("strict-unk", ws="strictws"))
            # known project: stored
            st, _, raw = self.srv.post_ingest(self.key_strict, event("strict-ok", project="known",
                                                                     environment="prod"))
            self.assertEqual((st, raw), (200, OK1))
            self.assertEqual(self.srv.get_event("strict-ok", ws="strictws")["project"], "known")
            # unknown environment: rejected
            st, js, raw = self.srv.ingest(self.key_strict, event("strict-env", project="known", environment="qa"))
            self.assertEqual(st, 400, raw)
            self.assertEqual((js["error"]["code"], js["error"]["field"]), ("unknown_environment", "environment"))
            # batch: the known one stored, the unknown one reported by index
            st, js, raw = self.srv.ingest(self.key_strict, {"events": [
                event("strict-b0", project="nope"), event("strict-b1", project="known", environment="dev")]})
            self.assertEqual(st, 200, raw)
            self.assertEqual((js["inserted"], js["skipped"], js["rejected"]), (1, 0, 1), raw)
            self.assertEqual([(e["index"], e["requestId"], e["field"], e["code"]) for e in js["errors"]],
                             [(0, "strict-b0", "project", "unknown_project")])
            self.assertNotIn("warnings", js)
            self.assertIsNone(self.srv.get_event("strict-b0", ws="strictws"))
            self.assertIsNotNone(self.srv.get_event("strict-b1", ws="strictws"))
        finally:
            self.srv.set_strict(False, ws="strictws")
        # strict mode off again: accepted with a warning
        st, js, raw = self.srv.ingest(self.key_strict, event("strict-unk", project="nope", environment="prod"))
        self.assertEqual(st, 200, raw)
        self.assertEqual(codes(js), [(0, "strict-unk", "unknown_project")])

    def test_strict_mode_bad_value(self):
        st, js, raw = self.srv.admin("PATCH", "workspaces/strictws", {"strictMode": "yes"})
        self.assertEqual(st, 400, raw)
        self.assertEqual(js["error"]["field"], "strictMode")

    # ---- dedup scope and conflicts ---------------------------------------------------------------

    def test_dedup_is_per_workspace(self):
        e = event("shared-001", project="shop", environment="prod")
        st, _, raw = self.srv.post_ingest(self.key_plain, e)
        self.assertEqual((st, raw), (200, OK1))
        st, _, raw = self.srv.post_ingest(self.key_ws2, e)
        self.assertEqual((st, raw), (200, OK1))
        st, _, raw = self.srv.post_ingest(self.key_ws2, e)
        self.assertEqual((st, raw), (200, SKIP1))
        st, _, raw = self.srv.post_ingest(self.key_plain, e)
        self.assertEqual((st, raw), (200, SKIP1))
        a = self.srv.get_event("shared-001", ws="default")
        b = self.srv.get_event("shared-001", ws="ws2")
        self.assertIsNotNone(a)
        self.assertIsNotNone(b)
        self.assertNotEqual(a["keyId"], b["keyId"])
        # a workspace's listing holds only its own events
        ws2_ids = [x["requestId"] for x in self.srv.all_events(ws="ws2")]
        self.assertEqual(ws2_ids.count("shared-001"), 1)
        self.assertNotIn("def-1", ws2_ids)

    def test_requestid_conflict_warning(self):
        e = event("conflict-1", project="shop", environment="prod", outputTokens=5)
        st, _, raw = self.srv.post_ingest(self.key_plain, e)
        self.assertEqual((st, raw), (200, OK1))
        # identical retry: silently skipped
        st, _, raw = self.srv.post_ingest(self.key_plain, e)
        self.assertEqual((st, raw), (200, SKIP1))
        # same id, different payload: skipped, with a requestId_conflict warning
        st, js, raw = self.srv.ingest(self.key_plain, dict(e, outputTokens=999))
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["ok"], js["inserted"], js["skipped"]), (True, 0, 1))
        self.assertEqual(codes(js), [(0, "conflict-1", "requestId_conflict")])
        ev = self.srv.get_event("conflict-1")
        self.assertEqual(ev["outputTokens"], 5)
        self.assertEqual(ev["costUsd"], "0.0000045")  # 10*0.15e-6 + 5*0.6e-6, unchanged
        # in a batch: the conflicting event is index 1
        st, js, raw = self.srv.ingest(self.key_plain, {"events": [
            event("conflict-2", project="shop", environment="prod"), dict(e, model="gpt-4.1")]})
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["inserted"], js["skipped"]), (1, 1))
        self.assertEqual(codes(js), [(1, "conflict-1", "requestId_conflict")])
        self.assertEqual(self.srv.get_event("conflict-1")["model"], "gpt-4o-mini")

    def test_duplicate_requestid_inside_one_batch(self):
        e = event("dup-in-batch", project="shop", environment="prod")
        st, js, raw = self.srv.ingest(self.key_plain, {"events": [e, e, e]})
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["inserted"], js["skipped"]), (1, 2), raw)
        ids = [x["requestId"] for x in self.srv.all_events()]
        self.assertEqual(ids.count("dup-in-batch"), 1)

    # ---- cost ------------------------------------------------------------------------------------------

    def test_unpriced_model(self):
        st, js, raw = self.srv.ingest(self.key_plain, event("unpriced-1", model="gpt-unknown-9000",
                                                           project="shop", environment="prod"))
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["ok"], js["inserted"], js["skipped"]), (True, 1, 0))
        self.assertEqual(codes(js), [(0, "unpriced-1", "unpriced_model")])
        ev = self.srv.get_event("unpriced-1")
        self.assertIsNone(ev["costUsd"])
        self.assertIsNone(ev["priceId"])
        self.assertEqual(ev["costSource"], "none")
        self.assertIn("unpriced", ev["flags"])
        self.assertEqual(ev["model"], "gpt-unknown-9000")
        # a skipped repeat does not warn again
        st, _, raw = self.srv.post_ingest(self.key_plain, event("unpriced-1", model="gpt-unknown-9000",
                                                               project="shop", environment="prod"))
        self.assertEqual((st, raw), (200, SKIP1))

    def test_estimated_cost_overrides_catalog(self):
        st, _, raw = self.srv.post_ingest(self.key_plain, event("est-1", estimatedCostUsd=0.0123, project="shop",
                                                               environment="prod"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("est-1")
        self.assertEqual((ev["costUsd"], ev["costSource"]), ("0.0123", "caller"))
        self.assertNotIn("unpriced", ev["flags"])

    def test_estimated_cost_for_unpriced_model_no_warning(self):
        st, _, raw = self.srv.post_ingest(self.key_plain, event("est-unpriced", model="my-finetune-v7",
                                                               provider="acme", estimatedCostUsd=0.0123,
                                                               project="shop", environment="prod"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("est-unpriced")
        self.assertEqual((ev["costUsd"], ev["costSource"]), ("0.0123", "caller"))
        self.assertEqual(ev["flags"], [])

    def test_estimated_cost_tiny_and_zero(self):
        st, _, raw = self.srv.post_ingest(self.key_plain, event("est-tiny", estimatedCostUsd=1.5e-7,
                                                               project="shop", environment="prod"))
        self.assertEqual((st, raw), (200, OK1))
        self.assertEqual(self.srv.get_event("est-tiny")["costUsd"], "0.00000015")
        st, _, raw = self.srv.post_ingest(self.key_plain, event("est-zero", estimatedCostUsd=0, project="shop",
                                                               environment="prod"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("est-zero")
        self.assertEqual((ev["costUsd"], ev["costSource"]), ("0", "caller"))
        # exact decimal text: no binary rounding
        body = (b'{"provider":"openai","model":"gpt-4o-mini","inputTokens":1,"outputTokens":1,'
                b'"requestId":"est-exact","project":"shop","environment":"prod","estimatedCostUsd":0.1}')
        st, _, raw = self.srv.post_ingest(self.key_plain, body)
        self.assertEqual((st, raw), (200, OK1))
        self.assertEqual(self.srv.get_event("est-exact")["costUsd"], "0.1")

    def test_negative_estimated_cost_rejected(self):
        st, js, raw = self.srv.ingest(self.key_plain, event("est-neg", estimatedCostUsd=-0.01, project="shop",
                                                           environment="prod"))
        self.assertEqual(st, 400, raw)
        self.assertEqual((js["error"]["code"], js["error"]["field"], js["error"]["requestId"]),
                         ("invalid_value", "estimatedCostUsd", "est-neg"))
        self.assertIsNone(self.srv.get_event("est-neg"))
        st, js, raw = self.srv.ingest(self.key_plain, event("est-str", estimatedCostUsd="cheap"))
        self.assertEqual(st, 400, raw)
        self.assertEqual(js["error"]["field"], "estimatedCostUsd")


if __name__ == "__main__":
    unittest.main()
