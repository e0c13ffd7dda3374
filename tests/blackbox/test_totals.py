"""Totals stay exact past the int64 range (issue 16, defect 3), and the per-event limits hold.

10,000+ events at the per-event limits ($1,000,000 and 10^9 tokens per field), through REST and
gRPC, add up to more than 2^63 nano-dollars: every total (overview, series, costs by any
dimension, warnings) must be the exact sum, before and after a restart. Values above a limit
are refused with invalid_value naming the field.
"""
import json
import os
import sys
import unittest
from decimal import Decimal

import clx
from clx import event

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "grpc"))
import grpc_stubs  # noqa: E402
import grpc  # noqa: E402

MAX_TOKENS = 10 ** 9
MAX_USD = 10 ** 6
MAX_NANOS = 10 ** 15
INT64_MAX = 2 ** 63 - 1


def max_event(rid, **kw):
    e = event(rid, inputTokens=MAX_TOKENS, outputTokens=MAX_TOKENS, cachedTokens=MAX_TOKENS // 2,
              cacheWriteTokens=MAX_TOKENS // 2, feature="f-%d" % (sum(map(ord, rid)) % 3))
    e.update(kw)
    return e


class TotalsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(grpc=True)
        cls.srv.create_project("big")
        cls.key = cls.srv.create_key(name="big", default_project="big", default_environment="prod")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def refused(self, body, field, *words):
        st, js, raw = self.srv.ingest(self.key, body)
        self.assertEqual(st, 400, raw)
        self.assertEqual((js["error"]["code"], js["error"]["field"]), ("invalid_value", field), raw)
        for w in words:
            self.assertIn(w, js["error"]["message"])

    def test_limits_refused_with_the_field(self):
        self.refused(event("lim-usd", estimatedCostUsd=1000000.000000001), "estimatedCostUsd", "1000000 US dollars")
        self.refused('{"provider":"openai","model":"m","requestId":"lim-usd2","estimatedCostUsd":1e6000}',
                     "estimatedCostUsd", "per-event limit")
        self.refused(event("lim-usd3", estimatedCostUsd=1000001), "estimatedCostUsd")
        self.refused(event("lim-nanos", estimatedCostNanos=MAX_NANOS + 1), "estimatedCostNanos", "1000000000000000")
        self.refused(event("lim-nanos2", estimatedCostNanos=INT64_MAX), "estimatedCostNanos")
        for f in ("inputTokens", "outputTokens"):
            self.refused(event("lim-" + f, **{f: MAX_TOKENS + 1}), f, str(MAX_TOKENS))
        self.refused(event("lim-cached", inputTokens=MAX_TOKENS, cachedTokens=MAX_TOKENS + 1), "cachedTokens")
        # in a batch: the event over a limit is rejected by index, its neighbours stored
        st, js, raw = self.srv.ingest(self.key, {"events": [event("lim-b0"), event("lim-b1", estimatedCostUsd=2e6),
                                                            event("lim-b2")]})
        self.assertEqual((st, js["inserted"], js["rejected"]), (200, 2, 1), raw)
        self.assertEqual((js["errors"][0]["index"], js["errors"][0]["field"]), (1, "estimatedCostUsd"))
        # gRPC names the same fields
        stubs = grpc_stubs.load()
        pb = stubs.usage_pb2
        with grpc.insecure_channel(self.srv.grpc_addr) as ch:
            stub = stubs.usage_pb2_grpc.UsageIngestionStub(ch)
            evs = [pb.UsageEvent(provider="openai", model="m", request_id="lim-g0", estimated_cost_usd=1e6 + 0.01),
                   pb.UsageEvent(provider="openai", model="m", request_id="lim-g1", estimated_cost_nanos=MAX_NANOS + 1),
                   pb.UsageEvent(provider="openai", model="m", request_id="lim-g2", output_tokens=MAX_TOKENS + 1)]
            r = stub.Ingest(pb.IngestBatch(events=evs), metadata=[("x-api-key", self.key)], timeout=15)
        self.assertEqual([(e.index, e.field, e.code) for e in r.errors],
                         [(0, "estimatedCostUsd", "invalid_value"), (1, "estimatedCostNanos", "invalid_value"),
                          (2, "outputTokens", "invalid_value")])

    def test_many_max_value_events_sum_exactly(self):
        ws = self.srv.create_workspace("huge")["slug"]
        self.srv.create_project("big", ws=ws)
        key = self.srv.create_key(ws=ws, name="huge", default_project="big", default_environment="prod")
        want = {"events": 0, "inputTokens": 0, "outputTokens": 0, "cachedTokens": 0, "cacheWriteTokens": 0,
                "cost": Decimal(0)}
        by_feature = {}

        def count(e, usd):
            want["events"] += 1
            for f in ("inputTokens", "outputTokens", "cachedTokens", "cacheWriteTokens"):
                want[f] += e[f]
            want["cost"] += usd
            row = by_feature.setdefault(e["feature"], [0, Decimal(0)])
            row[0] += 1
            row[1] += usd

        # REST: 100 batches of 100 at the limit, half as dollars (the JSON text), half as nanos
        for b in range(100):
            evs = []
            for i in range(100):
                rid = "max-%03d-%03d" % (b, i)
                e = max_event(rid, estimatedCostUsd=MAX_USD) if i % 2 else max_event(rid, estimatedCostNanos=MAX_NANOS)
                evs.append(e)
            st, js, raw = self.srv.ingest(key, {"events": evs})
            self.assertEqual((st, js["inserted"]), (200, 100), raw[:300])
            for e in evs:
                count(e, Decimal(MAX_USD))
        # gRPC: 200 more, the double arm and the exact arm
        stubs = grpc_stubs.load()
        pb = stubs.usage_pb2
        with grpc.insecure_channel(self.srv.grpc_addr) as ch:
            stub = stubs.usage_pb2_grpc.UsageIngestionStub(ch)
            for b in range(2):
                evs, mirror = [], []
                for i in range(100):
                    rid = "gmax-%d-%03d" % (b, i)
                    e = max_event(rid)
                    kw = {"estimated_cost_usd": 1e6} if i % 2 else {"estimated_cost_nanos": MAX_NANOS}
                    evs.append(pb.UsageEvent(provider="openai", model="gpt-4o-mini", request_id=rid,
                                             input_tokens=e["inputTokens"], output_tokens=e["outputTokens"],
                                             cached_tokens=e["cachedTokens"], cache_write_tokens=e["cacheWriteTokens"],
                                             feature=e["feature"], **kw))
                    mirror.append(e)
                r = stub.Ingest(pb.IngestBatch(events=evs), metadata=[("x-api-key", key)], timeout=30)
                self.assertEqual(r.inserted, 100, r)
                for e in mirror:
                    count(e, Decimal(MAX_USD))
        # catalog-priced at the token limits: the catalog cost of one, times 50
        evs = [max_event("cat-%02d" % i, feature="catalog") for i in range(50)]
        st, js, raw = self.srv.ingest(key, {"events": evs})
        self.assertEqual((st, js["inserted"]), (200, 50), raw[:300])
        one = Decimal(self.srv.get_event("cat-00", ws=ws)["costUsd"])
        self.assertGreater(one, 0)
        for e in evs:
            count(e, one)
        self.assertGreater(want["cost"] * 10 ** 9, INT64_MAX, "the test must cross the int64 range")

        def check():
            st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)
            self.assertEqual(st, 200, raw)
            t = js["totals"]
            for f in ("events", "inputTokens", "outputTokens", "cachedTokens", "cacheWriteTokens"):
                self.assertEqual(t[f], want[f], f)
            self.assertEqual(Decimal(t["costUsd"]), want["cost"])
            self.assertNotIn("-", t["costUsd"])
            self.assertEqual(t["unpricedEvents"], 0)
            # the series adds up to the totals
            self.assertEqual(sum(Decimal(s["costUsd"]) for s in js["series"]), want["cost"])
            self.assertEqual(sum(s["inputTokens"] for s in js["series"]), want["inputTokens"])
            # costs by feature: every row and the total, exact
            st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?groupBy=feature" % ws)
            self.assertEqual(st, 200, raw)
            self.assertEqual(Decimal(js["total"]["costUsd"]), want["cost"])
            self.assertEqual(js["total"]["events"], want["events"])
            got = {r["feature"]: (r["events"], Decimal(r["costUsd"])) for r in js["rows"]}
            self.assertEqual(got, {f: (n, c) for f, (n, c) in by_feature.items()})
            # grouped by hour and provider too
            st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?groupBy=provider,hour" % ws)
            self.assertEqual(sum(Decimal(r["costUsd"]) for r in js["rows"]), want["cost"])
            self.assertEqual(Decimal(js["total"]["costUsd"]), want["cost"])
            # the raw JSON carries the integers exactly (no float, no exponent)
            self.assertIn(b'"inputTokens":%d' % want["inputTokens"], raw)
            st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/warnings" % ws)
            self.assertEqual(st, 200, raw)
            self.assertEqual(js["unpriced"]["events"], 0)

        check()
        self.srv.restart()
        check()


if __name__ == "__main__":
    unittest.main()
