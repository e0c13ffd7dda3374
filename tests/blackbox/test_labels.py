"""Clean feature labels (issue 12): spellings of one feature in GET …/usage/warnings, aliases
declared by an admin folding them together in the costs query from then on (stored events keep
what was sent), refusals, and persistence across a restart — through the real binary."""
import unittest

import clx
from clx import event


class LabelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.srv.create_project("web")
        cls.srv.create_project("api")
        key = cls.srv.create_key(name="web", default_project="web")
        events = []
        # costs in nano-dollars chosen so the folded sum is hand-checkable: 3x0.1 + 2x0.02 + 0.003 = 0.343
        for i in range(3):
            events.append(event("cr%d" % i, feature="chat-response", estimatedCostUsd=0.1))
        for i in range(2):
            events.append(event("cu%d" % i, feature="chat_response", estimatedCostUsd=0.02))
        events.append(event("cc0", feature="Chat-Response", estimatedCostUsd=0.003))
        events.append(event("s0", feature="search", estimatedCostUsd=1))
        events.append(event("g4", feature="gpt-4", estimatedCostUsd=1))
        events.append(event("g5", feature="gpt-5", estimatedCostUsd=1))
        # the same spellings in another project are that project's business
        events.append(event("a0", feature="chat_response", project="api", estimatedCostUsd=1))
        st, js, raw = cls.srv.ingest(key, {"events": events})
        assert st == 200 and js["inserted"] == len(events), raw

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def groups(self):
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/warnings")
        self.assertEqual(st, 200, raw)
        return js["spellings"]["groups"]

    def costs_by_feature(self, extra=""):
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/costs?groupBy=project,feature" + extra)
        self.assertEqual(st, 200, raw)
        return {(r["project"], r["feature"]): (r["events"], r["costUsd"]) for r in js["rows"]}

    def test_1_spellings_then_aliases(self):
        g = self.groups()
        self.assertEqual(len(g), 1, g)
        self.assertEqual(g[0]["project"], "web")
        self.assertEqual([(x["label"], x["events"]) for x in g[0]["labels"]],
                         [("chat-response", 3), ("chat_response", 2), ("Chat-Response", 1)])
        self.assertEqual((g[0]["events"], g[0]["suggested"]), (6, "chat-response"))
        self.assertTrue(g[0]["warning"].startswith("3 spellings of one feature: chat-response (3 events)"), g)
        before = self.costs_by_feature()
        self.assertEqual(before[("web", "chat_response")], (2, "0.04"))
        # declare the aliases
        for alias in ("chat_response", "Chat-Response"):
            st, js, raw = self.srv.admin("POST", "workspaces/default/aliases",
                                         {"project": "web", "alias": alias, "canonical": "chat-response"})
            self.assertEqual(st, 201, raw)
            self.assertEqual((js["alias"], js["canonical"], js["project"]), (alias, "chat-response", "web"))
        after = self.costs_by_feature()
        self.assertEqual(after[("web", "chat-response")], (6, "0.343"))
        self.assertNotIn(("web", "chat_response"), after)
        self.assertNotIn(("web", "Chat-Response"), after)
        self.assertEqual(after[("api", "chat_response")], (1, "1"))  # another project's label is untouched
        self.assertEqual(after[("web", "gpt-4")], (1, "1"))
        # a filter on the canonical label finds the folded spellings
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/costs?groupBy=feature&project=web&feature=chat-response")
        self.assertEqual(js["total"]["events"], 6, raw)
        self.assertEqual(self.groups(), [])
        # stored events keep what was sent
        self.assertEqual(self.srv.get_event("cu0")["feature"], "chat_response")
        # aliases survive a restart
        self.srv.restart()
        self.assertEqual(self.costs_by_feature()[("web", "chat-response")], (6, "0.343"))
        st, js, raw = self.srv.admin("GET", "workspaces/default/aliases")
        self.assertEqual(sorted(a["alias"] for a in js["aliases"]), ["Chat-Response", "chat_response"])
        # removing one brings the warning back
        st, js, raw = self.srv.admin("DELETE", "workspaces/default/aliases?project=web&alias=chat_response")
        self.assertEqual(st, 200, raw)
        g = self.groups()
        self.assertEqual(len(g), 1, g)
        self.assertEqual(self.costs_by_feature()[("web", "chat_response")], (2, "0.04"))
        st, js, raw = self.srv.admin("POST", "workspaces/default/aliases",
                                     {"project": "web", "alias": "chat_response", "canonical": "chat-response"})
        self.assertEqual(st, 201, raw)

    def test_3_tag_value_spellings(self):
        srv = self.srv
        st, js, raw = srv.admin("PATCH", "workspaces/default", {"tagDimensions": ["team"]})
        self.assertEqual(st, 200, raw)
        key = srv.create_key(name="tags", default_project="api")
        st, js, raw = srv.ingest(key, {"events": [
            event("t1", tags={"team": "Support"}), event("t2", tags={"team": "support"}),
            event("t3", tags={"team": "support"}), event("t4", tags={"team": "sales"})]})
        self.assertEqual(js["inserted"], 4, raw)
        tg = [g for g in self.groups() if g["kind"] == "tag value"]
        self.assertEqual(len(tg), 1, tg)
        self.assertEqual((tg[0]["tag"], tg[0]["project"], tg[0]["suggested"]), ("team", None, "support"))
        self.assertEqual([(x["label"], x["events"]) for x in tg[0]["labels"]], [("support", 2), ("Support", 1)])
        self.assertTrue(tg[0]["warning"].startswith("2 spellings of one tag value"), tg)

    def test_2_refusals(self):
        cases = [
            ({"project": "web", "alias": "chat-response", "canonical": "Chat-Response"}, 400, "canonical"),  # cycle
            ({"project": "web", "alias": "x", "canonical": "x"}, 400, "canonical"),
            ({"project": "nope", "alias": "x", "canonical": "y"}, 404, "project"),
            ({"alias": "x", "canonical": "y"}, 400, "project"),
            ({"project": "web", "canonical": "y"}, 400, "alias"),
            ({"project": "web", "alias": "x"}, 400, "canonical"),
            ({"project": "web", "alias": "x", "canonical": "y", "kind": "tag"}, 400, "kind"),
            ({"project": "web", "alias": "x\u0001", "canonical": "y"}, 400, "alias"),
        ]
        for body, status, field in cases:
            st, js, raw = self.srv.admin("POST", "workspaces/default/aliases", body)
            self.assertEqual((st, js["error"].get("field")), (status, field), (body, raw))
        st, js, raw = self.srv.admin("DELETE", "workspaces/default/aliases?project=web&alias=never")
        self.assertEqual(st, 404, raw)
        st, js, raw = self.srv.admin("DELETE", "workspaces/default/aliases?project=web")
        self.assertEqual(st, 400, raw)


if __name__ == "__main__":
    unittest.main()
