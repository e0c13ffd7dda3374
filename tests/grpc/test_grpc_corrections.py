"""
test_grpc_corrections.py — costlynx.v1.UsageIngestion/Void and /Amend over real Python grpcio
against the real binary: the same semantics as the REST door (docs/grpc.md), totals exact to the
nano read back over REST, statuses for the refusals, ids with a NUL refused (never cut into
another id), and a correction made on one door seen by the other.

gpt-4o-mini at $0.15 / $0.60 per million tokens: 10 in / 5 out = 4,500 nano-dollars;
gpt-4o at $2.50 / $10.00: 1,000 in / 5 out = 2,550,000 nano-dollars.
"""
import json
import os
import sys
import unittest
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

import clx  # noqa: E402
import grpc_stubs  # noqa: E402

S = grpc_stubs.load()
pb = S.usage_pb2
SC = grpc.StatusCode
T = 15.0


def ev(rid, **kw):
    fields = dict(provider="openai", model="gpt-4o-mini", input_tokens=10, output_tokens=5, request_id=rid)
    fields.update(kw)
    return pb.UsageEvent(**fields)


class GrpcCorrections(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(grpc=True)
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.stub = S.usage_pb2_grpc.UsageIngestionStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def setup_ws(self, ws):
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        md = (("x-api-key", key),)
        r = self.stub.Ingest(pb.IngestBatch(events=[ev("g%d" % i) for i in range(4)]), metadata=md, timeout=T)
        self.assertEqual(r.inserted, 4)
        return key, md

    def totals(self, ws):
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)
        self.assertEqual(st, 200, raw)
        return js["totals"]

    def status(self, code, fn, *a, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*a, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception.details()

    def test_void_and_amend(self):
        ws = "gc-1"
        key, md = self.setup_ws(ws)
        r = self.stub.Void(pb.VoidRequest(request_ids=["g0", "g0", "nope"], reason="staging"), metadata=md, timeout=T)
        self.assertEqual((r.ok, r.voided, r.already_voided, r.not_found), (True, 1, 1, 1))
        t = self.totals(ws)
        self.assertEqual((t["events"], Decimal(t["costUsd"])), (3, Decimal(3 * 4500) / 10 ** 9))

        r = self.stub.Amend(pb.AmendRequest(request_id="g1", set=ev("", model="gpt-4o", input_tokens=1000),
                                            fields=["model", "inputTokens"], reason="bug"), metadata=md, timeout=T)
        self.assertEqual((r.ok, r.version, r.cost_nanos, r.model, r.price_id),
                         (True, 2, 2550000, "gpt-4o", "openai/gpt-4o@2024-08-06"))
        t = self.totals(ws)
        self.assertEqual(Decimal(t["costUsd"]), Decimal(2550000 + 2 * 4500) / 10 ** 9)
        # the REST door sees the gRPC door's corrections, history included
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/events/g1/history" % ws)
        self.assertEqual([v["change"] for v in js["versions"]], ["ingest", "amend"])
        self.assertTrue(self.srv.get_event("g0", ws=ws)["voided"])
        # a field named but unset in set clears it: the caller's cost, then the catalog again
        r = self.stub.Amend(pb.AmendRequest(request_id="g2", set=ev("", estimated_cost_nanos=7),
                                            fields=["estimatedCostNanos"]), metadata=md, timeout=T)
        self.assertEqual(r.cost_nanos, 7)
        r = self.stub.Amend(pb.AmendRequest(request_id="g2", fields=["estimatedCostNanos"]), metadata=md, timeout=T)
        self.assertEqual((r.cost_nanos, r.version), (4500, 3))

    def test_admin_token_names_the_workspace(self):
        ws = "gc-3"
        key, md = self.setup_ws(ws)
        admin = (("authorization", "Bearer " + self.srv.admin_token), ("costlynx-workspace", ws))
        r = self.stub.Void(pb.VoidRequest(request_ids=["g0"], reason="admin"), metadata=admin, timeout=T)
        self.assertEqual(r.voided, 1)
        ev0 = self.srv.get_event("g0", ws=ws)
        self.assertEqual((ev0["voidedBy"], ev0["voidReason"]), ("admin", "admin"))
        r = self.stub.Amend(pb.AmendRequest(request_id="g1", set=ev("", feature="chat"), fields=["feature"]),
                            metadata=admin, timeout=T)
        self.assertEqual(r.version, 2)
        self.assertEqual(self.srv.get_event("g1", ws=ws)["feature"], "chat")
        self.status(SC.UNAUTHENTICATED, self.stub.Void, pb.VoidRequest(request_ids=["g2"]),
                    metadata=(("authorization", "Bearer wrong"), ("costlynx-workspace", ws)), timeout=T)
        self.status(SC.INVALID_ARGUMENT, self.stub.Void, pb.VoidRequest(request_ids=["g2"]),
                    metadata=(("authorization", "Bearer " + self.srv.admin_token),), timeout=T)
        self.status(SC.NOT_FOUND, self.stub.Void, pb.VoidRequest(request_ids=["g2"]),
                    metadata=(("authorization", "Bearer " + self.srv.admin_token), ("costlynx-workspace", "nope")),
                    timeout=T)
        self.assertEqual(self.totals(ws)["events"], 3)

    def test_refusals(self):
        ws = "gc-2"
        key, md = self.setup_ws(ws)
        before = self.totals(ws)
        d = self.status(SC.NOT_FOUND, self.stub.Amend, pb.AmendRequest(request_id="nope", set=ev(""),
                                                                       fields=["inputTokens"]), metadata=md, timeout=T)
        self.assertIn("request_id", d)
        d = self.status(SC.INVALID_ARGUMENT, self.stub.Amend,
                        pb.AmendRequest(request_id="g1", set=ev("", input_tokens=-3), fields=["inputTokens"]),
                        metadata=md, timeout=T)
        self.assertTrue(d.startswith("set.inputTokens"), d)
        d = self.status(SC.INVALID_ARGUMENT, self.stub.Amend,
                        pb.AmendRequest(request_id="g1", set=ev(""), fields=["requestId"]), metadata=md, timeout=T)
        self.assertIn("set.requestId", d)
        self.status(SC.INVALID_ARGUMENT, self.stub.Amend, pb.AmendRequest(request_id="g1"), metadata=md, timeout=T)
        self.status(SC.INVALID_ARGUMENT, self.stub.Void, pb.VoidRequest(), metadata=md, timeout=T)
        self.status(SC.INVALID_ARGUMENT, self.stub.Void, pb.VoidRequest(request_ids=["x"] * 1001), metadata=md,
                    timeout=T)
        # an id with a NUL would be cut by C strings into "g1": refused, g1 untouched
        d = self.status(SC.INVALID_ARGUMENT, self.stub.Void, pb.VoidRequest(request_ids=["g1\x00x"]), metadata=md,
                        timeout=T)
        self.assertIn("request_ids", d)
        self.status(SC.INVALID_ARGUMENT, self.stub.Amend,
                    pb.AmendRequest(request_id="g1\x00x", set=ev(""), fields=["inputTokens"]), metadata=md, timeout=T)
        self.status(SC.UNAUTHENTICATED, self.stub.Void, pb.VoidRequest(request_ids=["g1"]), timeout=T)
        self.status(SC.UNAUTHENTICATED, self.stub.Void, pb.VoidRequest(request_ids=["g1"]),
                    metadata=(("x-api-key", "clx_wrong"),), timeout=T)
        self.assertEqual(self.totals(ws), before)
        self.assertNotIn("voided", self.srv.get_event("g1", ws=ws))
        # a voided event cannot be amended
        self.stub.Void(pb.VoidRequest(request_ids=["g3"]), metadata=md, timeout=T)
        self.status(SC.FAILED_PRECONDITION, self.stub.Amend,
                    pb.AmendRequest(request_id="g3", set=ev(""), fields=["inputTokens"]), metadata=md, timeout=T)


if __name__ == "__main__":
    unittest.main()
