"""The dashboard's query API over the real binary: after a known set of events — half sent
over REST, half over gRPC — overview, costs by each dimension and warnings return exactly
the expected numbers, and the rollups agree to the nano-dollar with the stored events."""
import datetime
import os
import sys
import unittest
import urllib.parse
from decimal import Decimal

import clx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "grpc"))
import grpc  # noqa: E402  (Debian's python3-grpcio)
import grpc_stubs  # noqa: E402

# (requestId, provider, model, in, out, cached, project, environment, feature)
EVENTS = [
    ("u1", "openai", "gpt-4o-mini", 850, 320, 0, "support", "prod", "chat"),
    ("u2", "openai", "gpt-4o-mini", 1000, 0, 400, "support", "prod", "summarize"),
    ("u3", "anthropic", "claude-3-5-haiku", 600, 180, 0, "support", "staging", "chat"),
    ("u4", "openai", "gpt-4.1", 1200, 450, 0, "docs", "prod", "contract-analysis"),
    ("u5", "openai", "mystery-model", 10, 5, 0, "docs", "prod", "chat"),     # unpriced
    ("u6", "openai", "gpt-4o-mini", 100, 100, 0, "ghost", "prod", "chat"),   # unknown project
    ("u7", "gemini", "gemini-2.0-flash", 2000, 500, 0, "docs", "canary", "chat"),  # unknown env
    ("u8", "openai", "gpt-4o-mini", 50, 50, 0, None, None, "chat"),          # no attribution
]
# exact costs in USD (list prices per Mtok: gpt-4o-mini 0.15/0.60 cached 0.075; claude-3-5-haiku
# 0.80/4.00; gpt-4.1 2.00/8.00; gemini-2.0-flash 0.10/0.40)
COST = {
    "u1": Decimal("0.0003195"), "u2": Decimal("0.00012"), "u3": Decimal("0.0012"),
    "u4": Decimal("0.006"), "u5": Decimal("0"), "u6": Decimal("0.000075"),
    "u7": Decimal("0.0004"), "u8": Decimal("0.0000375"),
}


class UsageApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(grpc=True)
        cls.srv.create_project("support")
        cls.srv.create_project("docs")
        cls.key = cls.srv.create_key(name="usage")
        half = len(EVENTS) // 2
        body = {"events": []}
        for rid, prov, model, i, o, c, proj, env, feat in EVENTS:
            ev = clx.event(rid, provider=prov, model=model, inputTokens=i, outputTokens=o, cachedTokens=c,
                           project=proj, environment=env, feature=feat)
            body["events"].append(ev)
        rest_part = {"events": body["events"][:half]}
        status, js, raw = cls.srv.ingest(cls.key, rest_part)
        assert status == 200 and js["inserted"] == half, raw
        # the other half over gRPC, through stubs generated from our proto
        stubs = grpc_stubs.load()
        pb = stubs.usage_pb2
        events = [pb.UsageEvent(provider=prov, model=model, input_tokens=i, output_tokens=o, cached_tokens=c,
                                request_id=rid, project=proj or "", environment=env or "", feature=feat)
                  for rid, prov, model, i, o, c, proj, env, feat in EVENTS[half:]]
        with grpc.insecure_channel(cls.srv.grpc_addr) as ch:
            stub = stubs.usage_pb2_grpc.UsageIngestionStub(ch)
            r = stub.Ingest(pb.IngestBatch(events=events), metadata=[("x-api-key", cls.key)], timeout=10)
        assert r.inserted == len(EVENTS) - half, r
        # a repeat of everything, through REST, must not count twice
        status, js, raw = cls.srv.ingest(cls.key, body)
        assert js["skipped"] == len(EVENTS), raw
        # a key locked to prod, used for staging twice: refused, and reported in the warnings
        locked = cls.srv.create_key_full(name="prod-only", default_project="support", environment="prod")
        cls.locked_id = locked["id"]
        for rid in ("lock-1", "lock-2"):
            status, js, raw = cls.srv.ingest(locked["key"], clx.event(rid, environment="staging"))
            assert status == 400 and js["error"]["code"] == "environment_not_allowed", raw

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def get(self, what, **params):
        q = urllib.parse.urlencode(params)
        status, js, raw = self.srv.admin("GET", "workspaces/default/usage/%s?%s" % (what, q))
        self.assertEqual(status, 200, raw)
        return js

    def test_stored_costs_are_the_hand_computed_ones(self):
        for rid, cost in COST.items():
            ev = self.srv.get_event(rid)
            if cost == 0:
                self.assertIsNone(ev["costUsd"])
            else:
                self.assertEqual(Decimal(ev["costUsd"]), cost, rid)

    def test_overview_totals_series_and_recent(self):
        js = self.get("overview")
        t = js["totals"]
        self.assertEqual(t["events"], 8)
        self.assertEqual(t["inputTokens"], sum(e[3] for e in EVENTS))
        self.assertEqual(t["outputTokens"], sum(e[4] for e in EVENTS))
        self.assertEqual(t["cachedTokens"], 400)
        self.assertEqual(Decimal(t["costUsd"]), sum(COST.values()))
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT00:00:00.000Z")
        self.assertEqual(js["bucket"], "day")
        self.assertEqual([(s["start"], s["events"]) for s in js["series"]], [(today, 8)])
        self.assertEqual([e["requestId"] for e in js["recent"]][:8], ["u8", "u7", "u6", "u5", "u4", "u3", "u2", "u1"])
        hourly = self.get("overview", bucket="hour")
        self.assertEqual(sum(s["events"] for s in hourly["series"]), 8)

    def test_costs_by_project_and_feature(self):
        js = self.get("costs", groupBy="project,feature")
        rows = {(r["project"], r["feature"]): (r["events"], Decimal(r["costUsd"])) for r in js["rows"]}
        self.assertEqual(rows, {
            ("support", "chat"): (2, COST["u1"] + COST["u3"]),
            ("support", "summarize"): (1, COST["u2"]),
            ("docs", "contract-analysis"): (1, COST["u4"]),
            ("docs", "chat"): (2, COST["u5"] + COST["u7"]),
            (None, "chat"): (2, COST["u6"] + COST["u8"]),  # unknown project + none: unattributed
        })
        self.assertEqual(Decimal(js["total"]["costUsd"]), sum(COST.values()))
        unpriced = {(r["project"], r["feature"]): r["unpricedEvents"] for r in js["rows"]}
        self.assertEqual(unpriced[("docs", "chat")], 1)  # mystery-model: counted in events, not in cost
        self.assertEqual(unpriced[("support", "chat")], 0)
        self.assertEqual(js["total"]["unpricedEvents"], 1)
        # ordered by cost, descending
        costs = [Decimal(r["costUsd"]) for r in js["rows"]]
        self.assertEqual(costs, sorted(costs, reverse=True))

    def test_costs_by_each_dimension_and_filters(self):
        by_provider = {r["provider"]: Decimal(r["costUsd"]) for r in self.get("costs", groupBy="provider")["rows"]}
        self.assertEqual(by_provider, {
            "openai": COST["u1"] + COST["u2"] + COST["u4"] + COST["u6"] + COST["u8"],
            "anthropic": COST["u3"], "google": COST["u7"]})
        by_model = {r["model"]: r["events"] for r in self.get("costs", groupBy="model")["rows"]}
        self.assertEqual(by_model["gpt-4o-mini"], 4)
        by_env = {r["environment"]: r["events"] for r in self.get("costs", groupBy="environment")["rows"]}
        self.assertEqual(by_env, {"prod": 4, "staging": 1, None: 3})  # canary unknown, ghost and none
        filtered = self.get("costs", groupBy="feature", project="support", environment="prod")
        self.assertEqual({r["feature"]: r["events"] for r in filtered["rows"]}, {"chat": 1, "summarize": 1})
        by_day = self.get("costs", groupBy="day")
        self.assertEqual(len(by_day["rows"]), 1)
        self.assertEqual(by_day["rows"][0]["events"], 8)

    def test_empty_range_and_bad_parameters(self):
        js = self.get("costs", groupBy="project", **{"from": "2020-01-01", "to": "2020-01-02"})
        self.assertEqual((js["rows"], js["total"]["events"]), ([], 0))
        status, js, _ = self.srv.admin("GET", "workspaces/default/usage/costs?groupBy=colour")
        self.assertEqual((status, js["error"]["field"]), (400, "groupBy"))
        status, js, _ = self.srv.admin("GET", "workspaces/default/usage/overview?from=yesterday")
        self.assertEqual((status, js["error"]["field"]), (400, "from"))
        status, js, _ = self.srv.admin("GET", "workspaces/nope/usage/overview")
        self.assertEqual(status, 404)
        status, js, _ = self.srv.admin("GET", "workspaces/default/usage/overview", token="wrong")
        self.assertEqual(status, 401)

    def test_event_listing_filters(self):
        ids = lambda js: [e["requestId"] for e in js["events"]]
        self.assertEqual(ids(self.get("events", project="support", feature="chat")), ["u3", "u1"])
        self.assertEqual(ids(self.get("events", provider="google")), ["u7"])
        self.assertEqual(ids(self.get("events", project="docs", environment="prod", model="gpt-4.1")), ["u4"])
        self.assertEqual(ids(self.get("events", **{"from": "2020-01-01", "to": "2020-01-02"})), [])
        page = self.get("events", limit=3)
        self.assertEqual(ids(page), ["u8", "u7", "u6"])
        self.assertEqual(ids(self.get("events", limit=3, cursor=page["nextCursor"])), ["u5", "u4", "u3"])
        self.assertEqual(self.get("overview", **{"from": "2020-01-01", "to": "2020-01-02"})["recent"], [])

    def test_warnings(self):
        js = self.get("warnings")
        self.assertEqual(js["unpriced"]["events"], 1)
        self.assertEqual([(i["provider"], i["model"], i["events"]) for i in js["unpriced"]["items"]],
                         [("openai", "mystery-model", 1)])
        self.assertTrue(js["unpriced"]["items"][0]["firstSeen"] <= js["unpriced"]["items"][0]["lastSeen"])
        self.assertEqual([(i["project"], i["events"]) for i in js["unknownProjects"]["items"]], [("ghost", 1)])
        self.assertEqual([(i["project"], i["environment"]) for i in js["unknownEnvironments"]["items"]],
                         [("docs", "canary")])
        self.assertEqual(js["unattributed"]["events"], 2)  # ghost (unknown) + none
        self.assertEqual([(i["keyId"], i["environment"], i["lockedTo"], i["events"])
                          for i in js["lockedEnvironment"]["items"]], [(self.locked_id, "staging", "prod", 2)])

    def test_rollups_survive_restart(self):
        before = self.get("costs", groupBy="project")
        self.srv.stop()
        self.srv.start()
        self.assertEqual(self.get("costs", groupBy="project"), before)


if __name__ == "__main__":
    unittest.main()
