"""costlynx.v1.Budgets/CheckBudget (issue 12) over real gRPC (Python grpcio): the same answer as
GET /api/v1/budgets/check, at the edges of a budget, and its refusals."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

import clx  # noqa: E402
import grpc_stubs  # noqa: E402
from clx import event  # noqa: E402

S = grpc_stubs.load()
pb = S.usage_pb2


class CheckBudgetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(grpc=True)
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.stub = S.usage_pb2_grpc.BudgetsStub(cls.channel)
        cls.srv.create_project("app")
        cls.key = cls.srv.create_key(name="app", default_project="app")

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def check(self, key, **kw):
        return self.stub.CheckBudget(pb.CheckBudgetRequest(**kw), metadata=(("x-api-key", key),), timeout=10)

    def rest(self, key, q=""):
        st, _, raw = self.srv.request("GET", "/api/v1/budgets/check" + q, None, {"X-API-Key": key})
        self.assertEqual(st, 200, raw)
        return clx.parse(raw)

    def test_edges_and_parity_with_rest(self):
        st, b, raw = self.srv.admin("POST", "workspaces/default/budgets",
                                    {"name": "App daily", "amountUsd": "2", "period": "day",
                                     "scope": {"type": "feature", "feature": "chat", "project": "app"}})
        self.assertEqual(st, 201, raw)
        r = self.check(self.key, feature="chat")
        self.assertTrue(r.allowed)
        self.assertEqual([x.id for x in r.budgets], [b["id"]])
        # $1.999999999: one nano under (hand-computed: 1.5 + 0.499999999)
        for rid, usd in (("g1", 1.5), ("g2", 0.499999999)):
            st, js, raw = self.srv.ingest(self.key, event(rid, feature="chat", estimatedCostUsd=usd))
            self.assertEqual(js["inserted"], 1, raw)
        r = self.check(self.key, feature="chat")
        x = r.budgets[0]
        self.assertEqual((r.allowed, x.spent_nanos, x.amount_nanos, x.spent_usd, x.remaining_usd, x.exceeded),
                         (True, 1999999999, 2000000000, "1.999999999", "0.000000001", False))
        self.assertEqual(x.percent_bp, 9999)
        self.assertEqual((x.scope, x.period, x.name), ("feature", "day", "App daily"))
        st, js, raw = self.srv.ingest(self.key, event("g3", feature="chat", estimatedCostUsd=0.000000001))
        r = self.check(self.key, feature="chat")
        self.assertEqual((r.allowed, r.budgets[0].spent_usd, r.budgets[0].exceeded), (False, "2", True))
        js = self.rest(self.key, "?feature=chat")
        self.assertEqual((js["allowed"], js["budgets"][0]["spentUsd"]), (False, "2"))
        self.assertEqual(js["budgets"][0]["id"], r.budgets[0].id)
        # another feature is not charged to it
        r = self.check(self.key, feature="search")
        self.assertEqual((r.allowed, list(r.budgets)), (True, []))

    def test_user_and_tags(self):
        st, ub, raw = self.srv.admin("POST", "workspaces/default/budgets",
                                     {"name": "G user", "amountUsd": "1", "scope": {"type": "user", "user": "g-u"}})
        self.assertEqual(st, 201, raw)
        st, tb, raw = self.srv.admin("POST", "workspaces/default/budgets",
                                     {"name": "G tag", "amountUsd": "1", "scope": {"type": "tag", "tag": "team", "value": "g"}})
        self.assertEqual(st, 201, raw)
        st, js, raw = self.srv.ingest(self.key, event("gu1", userId="g-u", tags={"team": "g"}, estimatedCostUsd=0.4))
        self.assertEqual(js["inserted"], 1, raw)
        r = self.check(self.key, user_id="g-u", tags={"team": "g"})
        got = {x.id: x.spent_nanos for x in r.budgets}
        self.assertEqual((got.get(ub["id"]), got.get(tb["id"])), (400000000, 400000000), r)
        r = self.check(self.key, tags={"team": "other"})
        self.assertNotIn(tb["id"], [x.id for x in r.budgets])
        with self.assertRaises(grpc.RpcError) as e:
            self.check(self.key, tags={"Bad Key": "x"})
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_refusals(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.CheckBudget(pb.CheckBudgetRequest(), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as e:
            self.check("clx_nope")
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as e:
            self.check(self.key, feature="x" * 257)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("feature", e.exception.details())
        with self.assertRaises(grpc.RpcError) as e:
            self.check(self.key, project="a\u0001b")
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main()
