"""Budgets (issue 12): the admin API, spend from the rollups and from every written event, and
the budget check at its edges — through the real binary."""
import time
import unittest

import clx
from clx import event


class BudgetsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        srv = cls.srv
        srv.create_project("web")
        srv.create_project("batch")
        cls.web_key = srv.create_key_full(name="web", default_project="web", default_environment="prod")
        cls.batch_key = srv.create_key_full(name="batch", default_project="batch")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def create(self, body, ws="default", want=201):
        st, js, raw = self.srv.admin("POST", "workspaces/%s/budgets" % ws, body)
        self.assertEqual(st, want, raw)
        return js

    def check(self, key, **params):
        q = "&".join("%s=%s" % kv for kv in params.items())
        st, _, raw = self.srv.request("GET", "/api/v1/budgets/check" + ("?" + q if q else ""), None,
                                      {"X-API-Key": key})
        self.assertEqual(st, 200, raw)
        return clx.parse(raw)

    def ingest_ok(self, key, events):
        st, js, raw = self.srv.ingest(key, {"events": events})
        self.assertEqual(st, 200, raw)
        self.assertEqual(js["inserted"], len(events), raw)

    # ---- the admin API -------------------------------------------------------------------------

    def test_crud_and_defaults(self):
        b = self.create({"name": "All of it", "amountUsd": "1000"})
        self.assertTrue(b["id"].startswith("bud_"), b)
        self.assertEqual(b["scope"], {"type": "workspace"})
        self.assertEqual(b["period"], "month")
        self.assertEqual(b["amountUsd"], "1000")
        self.assertEqual(b["thresholds"], [50, 80, 100])
        self.assertEqual(b["state"]["timeZone"], "UTC")
        st, js, raw = self.srv.admin("GET", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual(st, 200, raw)
        self.assertEqual(js["name"], "All of it")
        st, js, raw = self.srv.admin("PATCH", "workspaces/default/budgets/%s" % b["id"],
                                     {"amountUsd": "12.5", "thresholds": [25, 80.5, 100], "period": "week"})
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["amountUsd"], js["thresholds"], js["period"]), ("12.5", [25, 80.5, 100], "week"))
        self.assertEqual(js["name"], "All of it")
        st, js, raw = self.srv.admin("GET", "workspaces/default/budgets")
        self.assertIn(b["id"], [x["id"] for x in js["budgets"]])
        st, js, raw = self.srv.admin("DELETE", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual(st, 200, raw)
        st, js, raw = self.srv.admin("GET", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual(st, 404, raw)
        st, js, raw = self.srv.admin("GET", "workspaces/default/budgets")
        self.assertNotIn(b["id"], [x["id"] for x in js["budgets"]])

    def test_bad_input_names_the_field(self):
        cases = [
            ({"name": "x"}, 400, "amountUsd"),
            ({"name": "x", "amountUsd": "-1"}, 400, "amountUsd"),
            ({"name": "x", "amountUsd": "0"}, 400, "amountUsd"),
            ({"name": "x", "amountUsd": "abc"}, 400, "amountUsd"),
            ({"amountUsd": "5"}, 400, "name"),
            ({"name": "x", "amountUsd": "5", "period": "year"}, 400, "period"),
            ({"name": "x", "amountUsd": "5", "thresholds": [80, 50]}, 400, "thresholds"),
            ({"name": "x", "amountUsd": "5", "thresholds": [0]}, 400, "thresholds"),
            ({"name": "x", "amountUsd": "5", "thresholds": [50.001]}, 400, "thresholds"),
            ({"name": "x", "amountUsd": "5", "thresholds": []}, 400, "thresholds"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "user"}}, 400, "scope.user"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "tag"}}, 400, "scope.tag"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "tag", "tag": "Team!", "value": "a"}}, 400, "scope.tag"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "tag", "tag": "team"}}, 400, "scope.value"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "project", "project": "web", "user": "u"}}, 400,
             "scope.user"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "planet"}}, 400, "scope.type"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "project"}}, 400, "scope.project"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "project", "project": "nope"}}, 404, "scope.project"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "environment", "project": "web",
                                                       "environment": "moon"}}, 404, "scope.environment"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "key", "key": "key_000000000000"}}, 404, "scope.key"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "workspace", "project": "web"}}, 400, "scope.project"),
            ({"name": "x", "amountUsd": "5", "scope": {"type": "feature"}}, 400, "scope.feature"),
        ]
        for body, status, field in cases:
            st, js, raw = self.srv.admin("POST", "workspaces/default/budgets", body)
            self.assertEqual(st, status, (body, raw))
            self.assertEqual(js["error"].get("field"), field, (body, raw))
        st, js, raw = self.srv.admin("POST", "workspaces/nope/budgets", {"name": "x", "amountUsd": "5"})
        self.assertEqual(st, 404, raw)
        st, js, raw = self.srv.admin("POST", "workspaces/default/budgets", {"name": "x", "amountUsd": "5"},
                                     token="wrong")
        self.assertEqual(st, 401, raw)

    # ---- spend and the check ---------------------------------------------------------------------

    def test_check_edges_exactly_at_the_amount(self):
        srv = self.srv
        srv.create_project("edge")
        key = srv.create_key(name="edge", default_project="edge")
        b = self.create({"name": "Edge", "amountUsd": "10.00", "scope": {"type": "project", "project": "edge"},
                         "period": "day"})
        # nothing spent: allowed, the budget listed
        js = self.check(key)
        mine = [x for x in js["budgets"] if x["id"] == b["id"]]
        self.assertEqual(len(mine), 1, js)
        self.assertEqual((mine[0]["spentUsd"], mine[0]["remainingUsd"], mine[0]["exceeded"]), ("0", "10", False))
        # one nano under: $9.999999999 (3.333333333 x 3)
        self.ingest_ok(key, [event("edge-%d" % i, estimatedCostUsd=3.333333333) for i in range(3)])
        js = self.check(key)
        mine = [x for x in js["budgets"] if x["id"] == b["id"]][0]
        self.assertEqual(mine["spentUsd"], "9.999999999", js)
        self.assertEqual(mine["remainingUsd"], "0.000000001", js)
        self.assertIs(mine["exceeded"], False)
        self.assertEqual(mine["percent"], 99.99, js)  # basis points, rounded down
        self.assertIs(js["allowed"], True, js)
        # a repeated requestId is not counted again
        st, js2, raw = srv.ingest(key, event("edge-0", estimatedCostUsd=3.333333333))
        self.assertEqual(js2["skipped"], 1, raw)
        # exactly at the amount: spent, refused
        self.ingest_ok(key, [event("edge-last", estimatedCostUsd=0.000000001)])
        js = self.check(key)
        mine = [x for x in js["budgets"] if x["id"] == b["id"]][0]
        self.assertEqual((mine["spentUsd"], mine["remainingUsd"], mine["exceeded"]), ("10", "0", True), js)
        self.assertIs(js["allowed"], False, js)
        # one nano over: still refused; ingestion itself never refuses
        self.ingest_ok(key, [event("edge-over", estimatedCostUsd=0.000000001)])
        js = self.check(key)
        mine = [x for x in js["budgets"] if x["id"] == b["id"]][0]
        self.assertEqual(mine["spentUsd"], "10.000000001", js)
        # another project's key is not charged to it
        js = self.check(self.batch_key["key"])
        self.assertNotIn(b["id"], [x["id"] for x in js["budgets"]])
        # naming the project on the check finds it
        js = self.check(self.batch_key["key"], project="edge")
        self.assertIn(b["id"], [x["id"] for x in js["budgets"]])
        self.assertIs(js["allowed"], False)
        # the admin view agrees; the alerts are written by the governance thread, just after
        st, js, raw = srv.admin("GET", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual(js["state"]["spentUsd"], "10.000000001", raw)
        end = time.time() + 10
        while js["state"]["fired"] != [50, 80, 100] and time.time() < end:
            time.sleep(0.05)
            st, js, raw = srv.admin("GET", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual(js["state"]["fired"], [50, 80, 100], raw)  # no channel: marked as fired anyway

    def test_spend_before_creation_and_after_restart_from_rollups(self):
        srv = self.srv
        srv.create_project("pre")
        key = srv.create_key_full(name="pre", default_project="pre", default_environment="staging")
        self.ingest_ok(key["key"], [event("pre-1", estimatedCostUsd=1.25, feature="chat"),
                                    event("pre-2", estimatedCostUsd=0.5, feature="search"),
                                    event("pre-3", estimatedCostUsd=2, feature="chat",
                                          environment="prod")])
        proj = self.create({"name": "P", "amountUsd": "100", "scope": {"type": "project", "project": "pre"}})
        env = self.create({"name": "E", "amountUsd": "100",
                           "scope": {"type": "environment", "project": "pre", "environment": "staging"}})
        feat = self.create({"name": "F", "amountUsd": "100", "scope": {"type": "feature", "feature": "chat"}})
        featp = self.create({"name": "FP", "amountUsd": "100",
                             "scope": {"type": "feature", "feature": "chat", "project": "pre"}})
        kb = self.create({"name": "K", "amountUsd": "100", "scope": {"type": "key", "key": key["id"]}})
        want = {proj["id"]: "3.75", env["id"]: "1.75", feat["id"]: "3.25", featp["id"]: "3.25", kb["id"]: "3.75"}
        for bid, spent in want.items():
            st, js, raw = srv.admin("GET", "workspaces/default/budgets/%s" % bid)
            self.assertEqual(js["state"]["spentUsd"], spent, (bid, raw))
        # after creation every written event adds (0.1 to each of them but env: prod)
        self.ingest_ok(key["key"], [event("pre-4", estimatedCostUsd=0.1, feature="chat", environment="prod")])
        want = {proj["id"]: "3.85", env["id"]: "1.75", feat["id"]: "3.35", featp["id"]: "3.35", kb["id"]: "3.85"}
        for bid, spent in want.items():
            st, js, raw = srv.admin("GET", "workspaces/default/budgets/%s" % bid)
            self.assertEqual(js["state"]["spentUsd"], spent, (bid, raw))
        # a restart reads the same figures back from the rollups (and the events, for the key)
        srv.restart()
        for bid, spent in want.items():
            st, js, raw = srv.admin("GET", "workspaces/default/budgets/%s" % bid)
            self.assertEqual(js["state"]["spentUsd"], spent, (bid, raw))
        js = self.check(key["key"], feature="chat")
        got = {x["id"]: x["spentUsd"] for x in js["budgets"]}
        for bid in (proj["id"], env["id"], feat["id"], featp["id"], kb["id"]):
            self.assertEqual(got[bid], want[bid], js)
        # the key defaults to environment staging: the environment budget is listed
        js = self.check(key["key"])
        self.assertIn(env["id"], [x["id"] for x in js["budgets"]])
        self.assertNotIn(feat["id"], [x["id"] for x in js["budgets"]])

    def test_void_and_amend_move_the_spend(self):
        srv = self.srv
        srv.create_project("vd")
        key = srv.create_key(name="vd", default_project="vd")
        b = self.create({"name": "VD", "amountUsd": "100", "scope": {"type": "project", "project": "vd"}})
        self.ingest_ok(key, [event("vd-1", estimatedCostUsd=3), event("vd-2", estimatedCostUsd=4)])

        def spent():
            return [x for x in self.check(key)["budgets"] if x["id"] == b["id"]][0]["spentUsd"]

        def wait_spent(want):
            end = time.time() + 10
            while spent() != want and time.time() < end:
                time.sleep(0.05)
            self.assertEqual(spent(), want)
        self.assertEqual(spent(), "7")
        st, _, raw = srv.request("POST", "/api/v1/usage/void", {"requestIds": ["vd-1"], "reason": "test"},
                                 {"X-API-Key": key, "Content-Type": "application/json"})
        self.assertEqual(st, 200, raw)
        wait_spent("4")
        st, _, raw = srv.request("POST", "/api/v1/usage/amend", {"requestId": "vd-2", "set": {"estimatedCostUsd": 10.5},
                                                                 "reason": "test"},
                                 {"X-API-Key": key, "Content-Type": "application/json"})
        self.assertEqual(st, 200, raw)
        wait_spent("10.5")
        srv.restart()
        self.assertEqual(spent(), "10.5")

    def test_user_and_tag_budgets(self):
        srv = self.srv
        srv.create_project("ut")
        key = srv.create_key(name="ut", default_project="ut")
        # before the budgets exist: u1 0.5 + 0.25 (one tagged team=support), u2 1 (team=support)
        self.ingest_ok(key, [event("ut-1", userId="u1", estimatedCostUsd=0.5),
                             event("ut-2", userId="u1", estimatedCostUsd=0.25, tags={"team": "support"}),
                             event("ut-3", userId="u2", estimatedCostUsd=1, tags={"team": "support", "x": "y"})])
        ub = self.create({"name": "U1", "amountUsd": "1", "scope": {"type": "user", "user": "u1"}})
        tb = self.create({"name": "Support", "amountUsd": "2", "scope": {"type": "tag", "tag": "team", "value": "support"}})
        self.assertEqual(ub["scope"], {"type": "user", "user": "u1"})
        self.assertEqual(tb["scope"], {"type": "tag", "tag": "team", "value": "support"})
        self.assertEqual(ub["state"]["spentUsd"], "0.75")
        self.assertEqual(tb["state"]["spentUsd"], "1.25")
        # after: every written event adds
        self.ingest_ok(key, [event("ut-4", userId="u1", estimatedCostUsd=0.25, tags={"team": "support"})])

        def spent(params):
            js = self.check(key, **params)
            return {x["id"]: (x["spentUsd"], x["exceeded"]) for x in js["budgets"]}, js["allowed"]
        got, allowed = spent({"user": "u1"})
        self.assertEqual(got.get(ub["id"]), ("1", True))  # exactly at the amount
        self.assertNotIn(tb["id"], got)
        self.assertIs(allowed, False)
        got, allowed = spent({"tag": "team:support"})
        self.assertEqual(got.get(tb["id"]), ("1.5", False))
        self.assertNotIn(ub["id"], got)
        got, allowed = spent({"user": "u2"})
        self.assertNotIn(ub["id"], got)
        st, _, raw = self.srv.request("GET", "/api/v1/budgets/check?tag=team", None, {"X-API-Key": key})
        self.assertEqual(st, 400, raw)
        srv.restart()
        for bid, want in ((ub["id"], "1"), (tb["id"], "1.5")):
            st, js, raw = srv.admin("GET", "workspaces/default/budgets/%s" % bid)
            self.assertEqual(js["state"]["spentUsd"], want, raw)

    def test_created_while_events_arrive_counts_each_once(self):
        # four threads write $0.01 events while budgets of the project and of the key are created
        # (their spend read from the store) and changed: every event counts once
        import threading
        srv = self.srv
        srv.create_project("busy")
        full = srv.create_key_full(name="busy", default_project="busy")
        key = full["key"]
        stop = threading.Event()
        sent = [0] * 4
        errors = []

        def worker(t):
            i = 0
            while not stop.is_set() or i < 20:
                st, js, raw = srv.ingest(key, {"events": [event("busy-%d-%d-%d" % (t, i, k), estimatedCostUsd=0.01)
                                                          for k in range(5)]})
                if st != 200 or js.get("inserted") != 5:
                    errors.append(raw)
                    return
                sent[t] += 5
                i += 1
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        pb = self.create({"name": "busy p", "amountUsd": "1000", "scope": {"type": "project", "project": "busy"}})
        kb = self.create({"name": "busy k", "amountUsd": "1000", "scope": {"type": "key", "key": full["id"]}})
        time.sleep(0.2)
        st, js, raw = srv.admin("PATCH", "workspaces/default/budgets/%s" % pb["id"], {"amountUsd": "999"})
        self.assertEqual(st, 200, raw)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        total = sum(sent)
        want = "%d.%02d" % (total // 100, total % 100) if total % 100 else str(total // 100)
        want = want.rstrip("0").rstrip(".") if "." in want else want
        js = self.check(key)
        got = {x["id"]: x["spentUsd"] for x in js["budgets"]}
        self.assertEqual((got[pb["id"]], got[kb["id"]]), (want, want), (total, js))

    def test_workspaces_are_apart(self):
        srv = self.srv
        keys, budgets = {}, {}
        for ws in ("wa", "wb", "wc"):
            srv.create_workspace(ws)
            keys[ws] = srv.create_key(ws=ws, name=ws)
            budgets[ws] = self.create({"name": ws, "amountUsd": "5"}, ws=ws)
        self.ingest_ok(keys["wb"], [event("wb-1", estimatedCostUsd=1.5)])
        self.ingest_ok(keys["wa"], [event("wa-1", estimatedCostUsd=0.5)])
        for ws, want in (("wa", "0.5"), ("wb", "1.5"), ("wc", "0")):
            js = self.check(keys[ws])
            self.assertEqual([(x["id"], x["spentUsd"]) for x in js["budgets"]], [(budgets[ws]["id"], want)], js)

    def test_check_needs_a_key(self):
        st, _, raw = self.srv.request("GET", "/api/v1/budgets/check", None, {})
        self.assertEqual(st, 401, raw)
        st, _, raw = self.srv.request("GET", "/api/v1/budgets/check", None, {"X-API-Key": "clx_nope"})
        self.assertEqual(st, 401, raw)
        st, _, raw = self.srv.request("POST", "/api/v1/budgets/check", b"{}", {"X-API-Key": self.web_key["key"]})
        self.assertEqual(st, 405, raw)
        st, _, raw = self.srv.request("GET", "/api/v1/budgets/check?feature=" + "x" * 300, None,
                                      {"X-API-Key": self.web_key["key"]})
        self.assertEqual(st, 400, raw)

    def test_workspace_time_zone(self):
        srv = self.srv
        ws = "tz"
        srv.create_workspace(ws)
        st, js, raw = srv.admin("PATCH", "workspaces/%s" % ws, {"timeZone": "Mars/Olympus"})
        self.assertEqual(st, 400, raw)
        self.assertEqual(js["error"]["field"], "timeZone")
        st, js, raw = srv.admin("PATCH", "workspaces/%s" % ws, {"timeZone": "../etc/passwd"})
        self.assertEqual(st, 400, raw)
        st, js, raw = srv.admin("PATCH", "workspaces/%s" % ws, {"anomalySensitivity": "extreme"})
        self.assertEqual((st, js["error"]["field"]), (400, "anomalySensitivity"), raw)
        st, js, raw = srv.admin("PATCH", "workspaces/%s" % ws, {"timeZone": "Asia/Kolkata",
                                                                 "anomalySensitivity": "high"})
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["timeZone"], js["anomalySensitivity"]), ("Asia/Kolkata", "high"))
        b = self.create({"name": "Day", "amountUsd": "1", "period": "day"}, ws=ws)
        # a day in Kolkata starts at 18:30 UTC
        self.assertEqual(b["state"]["timeZone"], "Asia/Kolkata")
        self.assertTrue(b["state"]["periodStart"].endswith("T18:30:00.000Z"), b)
        srv.restart()
        st, js, raw = srv.admin("GET", "workspaces/%s" % ws)
        self.assertEqual((js["timeZone"], js["anomalySensitivity"]), ("Asia/Kolkata", "high"), raw)
        st, js, raw = srv.admin("GET", "workspaces/%s/budgets/%s" % (ws, b["id"]))
        self.assertTrue(js["state"]["periodStart"].endswith("T18:30:00.000Z"), js)


if __name__ == "__main__":
    unittest.main()
