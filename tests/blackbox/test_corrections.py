"""
test_corrections.py — void, amend and an event's history through the REST door, against the
real binary: totals exact to the nano after every correction (overview and costs), refusals that
change nothing, re-ingesting a voided id, the admin token's ?workspace=, and 20 clients racing
void / amend / ingest on one id with the invariant "rollups = the sum of the current versions".

Money is hand-computed from pricing/catalog/prices.csv (USD per million tokens):
  gpt-4o-mini  input 0.15  output 0.60   -> 10 in / 5 out = 1,500 + 3,000 = 4,500 nano-dollars
  gpt-4o       input 2.50  output 10.00  -> 1,000 in / 5 out = 2,500,000 + 50,000 = 2,550,000
"""
import json
import threading
import unittest
from decimal import Decimal

import clx

MINI = 4500  # nano-dollars of clx.event()'s 10 in / 5 out on gpt-4o-mini
BIG_4O = 2550000  # 1,000 in / 5 out on gpt-4o


def usd(nanos):
    return Decimal(nanos) / 10 ** 9


class Corrections(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def workspace(self, slug):
        self.srv.create_workspace(slug)
        return self.srv.create_key(ws=slug)

    def post(self, path, body, key=None, admin_ws=None):
        h = {"Content-Type": "application/json"}
        if key is not None:
            h["X-API-Key"] = key
        if admin_ws is not None:
            h["Authorization"] = "Bearer " + self.srv.admin_token
            path += "?workspace=" + admin_ws
        st, _, raw = self.srv.request("POST", path, json.dumps(body), h)
        return st, clx.parse(raw), raw

    def void(self, key, ids, reason="test", **kw):
        return self.post("/api/v1/usage/void", {"requestIds": ids, "reason": reason}, key, **kw)

    def amend(self, key, rid, set_, reason="test", **kw):
        return self.post("/api/v1/usage/amend", {"requestId": rid, "set": set_, "reason": reason}, key, **kw)

    def totals(self, ws):
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)
        self.assertEqual(st, 200, raw)
        return js["totals"]

    def costs_by_model(self, ws):
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?groupBy=model" % ws)
        self.assertEqual(st, 200, raw)
        return {r["model"]: (r["events"], Decimal(r["costUsd"])) for r in js["rows"]}, Decimal(js["total"]["costUsd"])

    def history(self, ws, rid):
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/events/%s/history" % (ws, rid))
        return st, js

    def assert_invariant(self, ws):
        """The rollups (overview) equal the sum over the current, non-voided versions."""
        evs = self.srv.all_events(ws=ws)
        live = [e for e in evs if not e.get("voided")]
        t = self.totals(ws)
        self.assertEqual(t["events"], len(live))
        self.assertEqual(t["inputTokens"], sum(e["inputTokens"] for e in live))
        self.assertEqual(t["outputTokens"], sum(e["outputTokens"] for e in live))
        self.assertEqual(Decimal(t["costUsd"]), sum((Decimal(e["costUsd"] or "0") for e in live), Decimal(0)))
        # and the voided spend equals the sum over the voided ones
        dead = [e for e in evs if e.get("voided")]
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?voided=true" % ws)
        self.assertEqual((js["total"]["events"], js["total"]["inputTokens"]),
                         (len(dead), sum(e["inputTokens"] for e in dead)), raw[:300])
        self.assertEqual(Decimal(js["total"]["costUsd"]), sum((Decimal(e["costUsd"] or "0") for e in dead), Decimal(0)))
        return evs

    def test_void_exact_and_idempotent(self):
        ws = "c-void"
        key = self.workspace(ws)
        st, js, raw = self.srv.ingest(key, {"events": [clx.event("v%d" % i) for i in range(5)]})
        self.assertEqual(js["inserted"], 5, raw)
        self.assertEqual(Decimal(self.totals(ws)["costUsd"]), usd(5 * MINI))
        st, js, raw = self.void(key, ["v1", "v3", "v3", "missing"], reason="staging traffic")
        self.assertEqual(st, 200, raw)
        self.assertEqual(raw, b'{"ok":true,"voided":2,"alreadyVoided":1,"notFound":1}')
        t = self.totals(ws)
        self.assertEqual((t["events"], t["inputTokens"], t["outputTokens"]), (3, 30, 15))
        self.assertEqual(Decimal(t["costUsd"]), usd(3 * MINI))
        rows, total = self.costs_by_model(ws)
        self.assertEqual(rows, {"gpt-4o-mini": (3, usd(3 * MINI))})
        self.assertEqual(total, usd(3 * MINI))
        # the voided spend, apart, when asked
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?groupBy=model&voided=true" % ws)
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["voided"], js["total"]["events"], Decimal(js["total"]["costUsd"])), (True, 2, usd(2 * MINI)))
        self.assertEqual([(r["model"], r["events"], r["inputTokens"]) for r in js["rows"]], [("gpt-4o-mini", 2, 20)])
        for q in ("groupBy=user&voided=true", "groupBy=hour&voided=true", "voided=yes"):
            st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?%s" % (ws, q))
            self.assertEqual(st, 400, raw)
        # voiding again changes nothing
        st, js, raw = self.void(key, ["v1"])
        self.assertEqual((js["voided"], js["alreadyVoided"]), (0, 1))
        self.assertEqual(self.totals(ws)["events"], 3)
        # the record stays, marked
        ev = self.srv.get_event("v1", ws=ws)
        self.assertTrue(ev["voided"])
        self.assertEqual(ev["voidReason"], "staging traffic")
        self.assertTrue(ev["voidedBy"].startswith("key:"))
        self.assertEqual(ev["version"], 2)
        # re-ingesting a voided id: skipped, with a warning; the totals stay
        st, js, raw = self.srv.ingest(key, clx.event("v1"))
        self.assertEqual((st, js["inserted"], js["skipped"]), (200, 0, 1), raw)
        self.assertEqual([w["code"] for w in js["warnings"]], ["requestId_voided"])
        self.assertEqual(self.totals(ws)["events"], 3)
        self.assert_invariant(ws)
        # every event voided: no row is left anywhere (the rollup records stay, at zero)
        self.void(key, ["v0", "v2", "v4"])
        rows, total = self.costs_by_model(ws)
        self.assertEqual((rows, total), ({}, Decimal(0)))
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?voided=true" % ws)
        self.assertEqual((js["total"]["events"], Decimal(js["total"]["costUsd"])), (5, usd(5 * MINI)), raw)
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)
        self.assertEqual((js["totals"]["events"], js["series"], js["recent"][0]["voided"]), (0, [], True), raw[:300])
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/warnings" % ws)
        self.assertEqual(js["unattributed"], {"events": 0, "items": []}, raw[:300])

    def test_amend_exact_history_and_refusals(self):
        ws = "c-amend"
        key = self.workspace(ws)
        self.srv.create_project("support", ws=ws)
        self.srv.ingest(key, {"events": [clx.event("m1"), clx.event("m2")]})
        st, js, raw = self.amend(key, "m1", {"model": "gpt-4o", "inputTokens": 1000, "project": "support",
                                             "environment": "prod"}, reason="tokens doubled by a bug")
        self.assertEqual(st, 200, raw)
        self.assertEqual(js["version"], 2)
        e = js["event"]
        self.assertEqual((e["model"], e["inputTokens"], e["costUsd"], e["project"], e["environment"]),
                         ("gpt-4o", 1000, "0.00255", "support", "prod"))
        self.assertEqual(e["requestId"], "m1")
        t = self.totals(ws)
        self.assertEqual((t["events"], t["inputTokens"]), (2, 1010))
        self.assertEqual(Decimal(t["costUsd"]), usd(BIG_4O + MINI))
        rows, total = self.costs_by_model(ws)
        self.assertEqual(rows, {"gpt-4o": (1, usd(BIG_4O)), "gpt-4o-mini": (1, usd(MINI))})
        # the caller's own cost, then back to the catalog by clearing it
        st, js, raw = self.amend(key, "m2", {"estimatedCostUsd": 0.25})
        self.assertEqual((st, js["event"]["costUsd"], js["event"]["costSource"]), (200, "0.25", "caller"), raw)
        self.assertEqual(Decimal(self.totals(ws)["costUsd"]), usd(BIG_4O) + Decimal("0.25"))
        st, js, raw = self.amend(key, "m2", {"estimatedCostUsd": None})
        self.assertEqual((st, js["event"]["costUsd"], js["version"]), (200, "0.0000045", 3), raw)
        self.assertEqual(Decimal(self.totals(ws)["costUsd"]), usd(BIG_4O + MINI))

        # refusals change nothing
        before = self.totals(ws)
        for set_, field, code in (({"inputTokens": -5}, "set.inputTokens", "invalid_value"),
                                  ({"cachedTokens": 5000}, "set.cachedTokens", None),
                                  ({"requestId": "other"}, "set.requestId", "invalid_value"),
                                  ({"colour": "red"}, "set.colour", "unknown_field"),
                                  ({"provider": ""}, "set.provider", None)):
            st, js, raw = self.amend(key, "m1", set_)
            self.assertEqual(st, 400, raw)
            self.assertEqual(js["error"]["field"], field, raw)
            if code is not None:
                self.assertEqual(js["error"]["code"], code, raw)
        st, js, raw = self.amend(key, "m1", {})
        self.assertEqual((st, js["error"]["field"]), (400, "set"))
        # hostile bodies: a NUL would cut a member name or an id into another one
        for body, field in ((b'{"requestId":"m1","set":{"model\\u0000x":"gpt-4o"}}', "set"),
                            (b'{"requestId":"m1\\u0000x","set":{"model":"gpt-4o"}}', "requestId"),
                            (b'{"requestId":"m1","set":{"tags":{"a":{"x":1}}}}', "set.tags"),
                            (b'{"requestId":"m1","set":{"timestamp":"nope"}}', "set.timestamp"),
                            (b'{"requestId":"m1","set":{"inputTokens":1e400}}', "set.inputTokens"),
                            (b'{"requestId":"m1","set":null}', "set")):
            st, _, raw = self.srv.request("POST", "/api/v1/usage/amend", body,
                                          {"Content-Type": "application/json", "X-API-Key": key})
            self.assertEqual((st, clx.parse(raw)["error"]["field"]), (400, field), raw)
        st, _, raw = self.srv.request("POST", "/api/v1/usage/void", b'{"requestIds":["m1\\u0000zz"]}',
                                      {"Content-Type": "application/json", "X-API-Key": key})
        self.assertEqual(st, 400, raw)
        st, js, raw = self.amend(key, "nope", {"inputTokens": 1})
        self.assertEqual((st, js["error"]["code"]), (404, "not_found"), raw)
        self.assertEqual(self.totals(ws), before)
        self.assertEqual(self.srv.get_event("m1", ws=ws)["version"], 2)

        # history: every version, what changed, by whom, why
        st, js = self.history(ws, "m1")
        self.assertEqual(st, 200, js)
        vs = js["versions"]
        self.assertEqual([v["version"] for v in vs], [1, 2])
        self.assertEqual([v["change"] for v in vs], ["ingest", "amend"])
        self.assertEqual(vs[0]["event"]["model"], "gpt-4o-mini")
        self.assertEqual(vs[1]["reason"], "tokens doubled by a bug")
        self.assertTrue(vs[1]["by"].startswith("key:"))
        self.assertEqual(set(vs[1]["changed"]), {"model", "inputTokens", "project", "environment", "costUsd",
                                                 "priceId"})
        st, js = self.history(ws, "m2")
        self.assertEqual([v["event"]["costUsd"] for v in js["versions"]], ["0.0000045", "0.25", "0.0000045"])
        st, js = self.history(ws, "nope")
        self.assertEqual(st, 404)

        # the dims family moves with the rollups: an end user's spend follows its events
        self.srv.ingest(key, {"events": [clx.event("u1", userId="cust-1", estimatedCostUsd=1.5),
                                         clx.event("u2", userId="cust-2", estimatedCostUsd=0.5)]})
        st, js, raw = self.amend(key, "u1", {"userId": "cust-2"})
        self.assertEqual(st, 200, raw)
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?groupBy=user" % ws)
        self.assertEqual(st, 200, raw)
        self.assertEqual([(r["user"], r["events"], r["costUsd"]) for r in js["rows"]], [("cust-2", 2, "2")], raw[:400])
        self.void(key, ["u2"])
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/costs?groupBy=user" % ws)
        self.assertEqual([(r["user"], r["events"], r["costUsd"]) for r in js["rows"]], [("cust-2", 1, "1.5")], raw[:400])
        self.void(key, ["u1"])

        # a voided event cannot be amended
        self.void(key, ["m2"])
        st, js, raw = self.amend(key, "m2", {"inputTokens": 1})
        self.assertEqual((st, js["error"]["code"]), (409, "event_voided"), raw)
        self.assert_invariant(ws)

    def test_who_may_correct(self):
        ws, other = "c-who", "c-who-2"
        key = self.workspace(ws)
        key2 = self.workspace(other)
        self.srv.ingest(key, clx.event("w1"))
        # another workspace's key does not see the id
        st, js, raw = self.void(key2, ["w1"])
        self.assertEqual((st, js["notFound"], js["voided"]), (200, 1, 0), raw)
        st, js, raw = self.amend(key2, "w1", {"inputTokens": 1})
        self.assertEqual(st, 404)
        # no credential, a wrong key, a wrong admin token
        st, js, raw = self.post("/api/v1/usage/void", {"requestIds": ["w1"]})
        self.assertEqual(st, 401)
        st, js, raw = self.void("clx_wrong", ["w1"])
        self.assertEqual(st, 401)
        st, _, raw = self.srv.request("POST", "/api/v1/usage/void?workspace=" + ws, json.dumps({"requestIds": ["w1"]}),
                                      {"Content-Type": "application/json", "Authorization": "Bearer wrong"})
        self.assertEqual(st, 401, raw)
        # the admin token names the workspace
        st, _, raw = self.srv.request("POST", "/api/v1/usage/void", json.dumps({"requestIds": ["w1"]}),
                                      {"Content-Type": "application/json",
                                       "Authorization": "Bearer " + self.srv.admin_token})
        self.assertEqual((st, clx.parse(raw)["error"]["field"]), (400, "workspace"), raw)
        st, js, raw = self.void(None, ["w1"], admin_ws="no-such-ws")
        self.assertEqual(st, 404, raw)
        st, js, raw = self.amend(None, "w1", {"feature": "chat"}, admin_ws=ws)
        self.assertEqual((st, js["event"]["feature"]), (200, "chat"), raw)
        st, js, raw = self.void(None, ["w1"], admin_ws=ws, reason="admin cleanup")
        self.assertEqual(js["voided"], 1, raw)
        ev = self.srv.get_event("w1", ws=ws)
        self.assertEqual((ev["voidedBy"], ev["voidReason"], ev["version"]), ("admin", "admin cleanup", 3))
        # malformed bodies
        for body, field in (({"requestIds": []}, "requestIds"), ({"requestIds": "w1"}, "requestIds"),
                            ({"requestIds": ["ok", 5]}, "requestIds[1]"), ({"requestIds": ["x"], "extra": 1}, "extra"),
                            ({"requestIds": ["a" * 257]}, "requestIds[0]"),
                            ({"requestIds": ["x" + str(i) for i in range(1001)]}, "requestIds")):
            st, js, raw = self.post("/api/v1/usage/void", body, key)
            self.assertEqual((st, js["error"]["field"]), (400, field), raw[:300])
        self.assertEqual(self.totals(ws)["events"], 0)
        self.assertEqual(self.totals(other)["events"], 0)

    def test_race_void_amend_ingest_one_id(self):
        """20 clients at once: ingest, void and amend the same id (and its neighbours)."""
        ws = "c-race"
        key = self.workspace(ws)
        self.srv.ingest(key, {"events": [clx.event("r-%d" % i) for i in range(5)]})
        errors = []
        results = {"amend": [], "void": [], "ingest": []}
        lock = threading.Lock()
        start = threading.Barrier(20)

        def client(n):
            try:
                start.wait()  # each thread has its own kept-alive connection (clx.Server is per-thread)
                for round_ in range(10):
                    rid = "r-%d" % (round_ % 5)
                    kind = ("amend", "void", "ingest")[(n + round_) % 3]
                    if kind == "amend":
                        st, js, raw = self.amend(key, rid, {"inputTokens": 100 + n, "model": "gpt-4o"})
                        ok = st in (200, 409)
                    elif kind == "void":
                        st, js, raw = self.void(key, [rid, "r-4"])
                        ok = st == 200
                    else:
                        st, js, raw = self.srv.ingest(key, clx.event(rid))
                        ok = st == 200 and js["inserted"] == 0 and js["skipped"] == 1
                    with lock:
                        results[kind].append(st)
                    if not ok:
                        errors.append((kind, st, raw[:200]))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(("exception", repr(e)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertEqual(errors, [])
        self.assertIn(200, results["amend"])
        evs = self.assert_invariant(ws)
        # one outcome per id: each is voided or not, its version counts its corrections
        for e in evs:
            st, js = self.history(ws, e["requestId"])
            vs = js["versions"]
            self.assertEqual([v["version"] for v in vs], list(range(1, len(vs) + 1)))
            self.assertEqual(vs[-1]["event"], e)
            voids = [v for v in vs if v["change"] == "void"]
            self.assertLessEqual(len(voids), 1)
            if voids:
                self.assertIs(vs[-1]["event"].get("voided"), True)
                self.assertEqual(vs[-1]["change"], "void")  # nothing after a void
        self.assertTrue(all(e.get("voided") for e in evs if e["requestId"] == "r-4"))


class Reprice(unittest.TestCase):
    """
    POST .../usage/reprice after a price appears: a model unpriced at ingestion gets a workspace
    price ($2 / $8 per million input / output tokens), so each of its events of 1,000,000 in and
    500,000 out costs 2 + 4 = $6 = 6,000,000,000 nano-dollars once repriced.
    """

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def reprice(self, ws, **body):
        body.setdefault("from", "2000-01-01")
        body.setdefault("to", "2999-01-01")
        st, js, raw = self.srv.admin("POST", "workspaces/%s/usage/reprice" % ws, body)
        return st, js, raw

    def test_dry_run_equals_apply_and_a_second_run_changes_nothing(self):
        ws = "rp-1"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        big = dict(model="house-llm", inputTokens=1000000, outputTokens=500000)
        evs = [clx.event("h%d" % i, **big) for i in range(4)]
        evs += [clx.event("mini-%d" % i) for i in range(2)]
        evs.append(clx.event("own", estimatedCostUsd=1.0, **big))
        st, js, raw = self.srv.ingest(key, {"events": evs})
        self.assertEqual(js["inserted"], 7, raw)
        st, _, raw = self.srv.request("POST", "/api/v1/usage/void", json.dumps({"requestIds": ["h3"]}),
                                      {"Content-Type": "application/json", "X-API-Key": key})
        self.assertEqual(st, 200, raw)
        t = clx.parse(self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)[2])["totals"]
        self.assertEqual((t["events"], t["unpricedEvents"], Decimal(t["costUsd"])), (6, 3, Decimal(1) + usd(2 * MINI)))
        # nothing to change while the model has no price
        st, js, raw = self.reprice(ws)
        self.assertEqual((st, js["changed"], js["eligible"]), (200, 0, 5), raw)
        st, js, raw = self.srv.admin("POST", "workspaces/%s/pricing/overrides" % ws,
                                     {"provider": "openai", "model": "house-llm", "inputPerMtok": "2",
                                      "outputPerMtok": "8"})
        self.assertEqual(st, 201, raw)

        st, dry, raw = self.reprice(ws)
        self.assertEqual(st, 200, raw)
        self.assertEqual((dry["dryRun"], dry["scanned"], dry["eligible"], dry["changed"]), (True, 7, 5, 3), raw)
        self.assertEqual((Decimal(dry["oldCostUsd"]), Decimal(dry["newCostUsd"])), (0, 18))
        self.assertEqual(dry["models"], [{"provider": "openai", "model": "house-llm", "events": 3, "oldCostUsd": "0",
                                          "newCostUsd": "18"}])
        t2 = clx.parse(self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)[2])["totals"]
        self.assertEqual(t2, t, "a dry run changes nothing")

        st, app, raw = self.reprice(ws, dryRun=False)
        self.assertEqual(st, 200, raw)
        self.assertEqual((app["dryRun"], app["changed"], app["applied"], app["conflicts"]), (False, 3, 3, 0), raw)
        for k in ("changed", "oldCostUsd", "newCostUsd", "models"):
            self.assertEqual(app[k], dry[k], k)
        t = clx.parse(self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)[2])["totals"]
        self.assertEqual((t["events"], t["unpricedEvents"]), (6, 0))
        self.assertEqual(Decimal(t["costUsd"]), Decimal(18) + Decimal(1) + usd(2 * MINI))
        ev = self.srv.get_event("h0", ws=ws)
        self.assertEqual((ev["costUsd"], ev["version"]), ("6", 2))
        self.assertEqual(self.srv.get_event("own", ws=ws)["costUsd"], "1")  # the caller's cost stands
        self.assertIsNone(self.srv.get_event("h3", ws=ws)["costUsd"])  # voided: not repriced
        st, js = self.srv.admin("GET", "workspaces/%s/usage/events/h0/history" % ws)[:2]
        last = js["versions"][-1]
        self.assertEqual((last["change"], last["reason"], last["by"]), ("reprice", "reprice", "admin"))
        self.assertEqual(set(last["changed"]), {"costUsd", "priceId"})

        # the run was a job: GET .../jobs/{id} reports it, done, with the same result
        self.assertEqual((app["status"], app["jobId"][:3]), ("done", "rp_"))
        st, job, raw = self.srv.admin("GET", "workspaces/%s/usage/jobs/%s" % (ws, app["jobId"]))
        self.assertEqual(st, 200, raw)
        self.assertEqual(job, app)
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/jobs/rp_999999" % ws)
        self.assertEqual(st, 404, raw)
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/jobs/%s" % app["jobId"])
        self.assertEqual(st, 404, raw)  # another workspace's job

        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/warnings" % ws)
        self.assertEqual(js["unpriced"], {"events": 0, "items": []}, raw[:300])  # nothing left to price

        st, again, raw = self.reprice(ws, dryRun=False)
        self.assertEqual((again["changed"], again["applied"]), (0, 0), raw)
        # filters: another model, a range without the events
        st, js, raw = self.reprice(ws, model="gpt-4o-mini")
        self.assertEqual((js["eligible"], js["changed"]), (2, 0), raw)
        st, js, raw = self.reprice(ws, **{"from": "2001-01-01", "to": "2001-02-01"})
        self.assertEqual(js["eligible"], 0, raw)

    def test_kill9_during_an_apply_is_reported_and_a_second_run_finishes(self):
        """200,000 events of a newly priced model; the apply runs past the POST's 2 s (202), the server
        is killed, and after the restart the job reads as failed (interrupted) with what it applied; the
        books hold (rollups = the sum over the current versions) and a second run finishes it."""
        import gzip
        import time
        srv = clx.Server()
        try:
            key = srv.create_key()
            n = 200000
            body = "".join(json.dumps(clx.event("k%06d" % i, model="house-llm")) + "\n" for i in range(n)).encode()
            st, _, raw = srv.request("POST", "/api/v1/usage/import", gzip.compress(body),
                                     {"Content-Type": "application/x-ndjson", "X-API-Key": key,
                                      "Content-Encoding": "gzip"})
            self.assertEqual(clx.parse(raw)["inserted"], n, raw[:200])
            st, js, raw = srv.admin("POST", "workspaces/default/pricing/overrides",
                                    {"provider": "openai", "model": "house-llm", "inputPerMtok": "2", "outputPerMtok": "8"})
            self.assertEqual(st, 201, raw)
            st, js, raw = srv.admin("POST", "workspaces/default/usage/reprice",
                                    {"from": "2000-01-01", "to": "2999-01-01", "dryRun": False})
            if st == 200:
                self.skipTest("the apply of %d events ended within 2 s: nothing to interrupt" % n)
            self.assertEqual((st, js["status"]), (202, "running"), raw)
            job = js["jobId"]
            time.sleep(0.3)
            srv.kill9()
            srv.start()
            st, js, raw = srv.admin("GET", "workspaces/default/usage/jobs/%s" % job)
            self.assertEqual(st, 200, raw)
            self.assertEqual((js["ok"], js["status"], js["error"]["code"]), (False, "failed", "shutting_down"), raw)
            self.assertIn("restart", js["error"]["message"])
            applied = js["applied"]
            self.assertGreater(applied, 0)
            self.assertLess(applied, n)
            t = clx.parse(srv.admin("GET", "workspaces/default/usage/overview")[2])["totals"]
            # 10 in x $2/M + 5 out x $8/M = 20,000 + 40,000 = 60,000 nano-dollars per repriced event
            repriced = n - t["unpricedEvents"]
            self.assertGreaterEqual(repriced, applied)
            self.assertEqual(Decimal(t["costUsd"]), usd(60000 * repriced))
            st, js, raw = srv.admin("POST", "workspaces/default/usage/reprice",
                                    {"from": "2000-01-01", "to": "2999-01-01", "dryRun": False})
            self.assertNotEqual(js["jobId"], job)
            while js["status"] == "running":
                time.sleep(0.5)
                st, js, raw = srv.admin("GET", "workspaces/default/usage/jobs/%s" % js["jobId"])
            self.assertEqual((js["status"], js["changed"], js["applied"]), ("done", n - repriced, n - repriced), raw)
            t = clx.parse(srv.admin("GET", "workspaces/default/usage/overview")[2])["totals"]
            self.assertEqual((t["unpricedEvents"], Decimal(t["costUsd"])), (0, usd(60000 * n)))
        finally:
            srv.cleanup()

    def test_refusals(self):
        st, js, raw = self.reprice("default", to="2000-01-01")
        self.assertEqual((st, js["error"]["field"]), (400, "to"), raw)
        st, js, raw = self.reprice("default", dryRun="no")
        self.assertEqual((st, js["error"]["field"]), (400, "dryRun"), raw)
        st, js, raw = self.srv.admin("POST", "workspaces/default/usage/reprice", {"to": "2999-01-01"})
        self.assertEqual((st, js["error"]["field"]), (400, "from"), raw)
        st, js, raw = self.reprice("no-such-ws")
        self.assertEqual(st, 404, raw)
        st, js, raw = self.srv.admin("POST", "workspaces/default/usage/reprice", {"from": "2000-01-01"},
                                     token="wrong")
        self.assertEqual(st, 401, raw)


class CorrectionsKill9(unittest.TestCase):
    """
    kill -9 while corrections stream in: 6 threads void, amend and re-ingest a pool of 60 ids
    over their own connections; the server is killed at a random moment, restarted on the same
    folder, and the invariant is checked after every restart: the rollups equal the sum over the
    current versions; every acknowledged void left its event voided; every acknowledged amend's
    version is stored (or a later one); each event's versions run 1..current in its history.
    CLX_KILL9_CYCLES (default 4) sets the number of cycles (tests/crash/ runs it long).
    """

    def test_kill9_during_corrections_keeps_the_books(self):
        import http.client
        import os
        import random
        import time
        cycles = int(os.environ.get("CLX_KILL9_CYCLES", "4"))
        rng = random.Random(int(os.environ.get("CLX_KILL9_SEED", "11")))
        srv = clx.Server()
        try:
            key = srv.create_key()
            ids = ["k-%03d" % i for i in range(60)]
            st, js, raw = srv.ingest(key, {"events": [clx.event(r) for r in ids[:50]]})
            self.assertEqual(js["inserted"], 50, raw)
            voided, amended, lock = set(), {}, threading.Lock()
            for cycle in range(cycles):
                stop = threading.Event()
                problems = []

                def worker(t):
                    wr = random.Random(rng.random())
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                    while not stop.is_set():
                        rid = wr.choice(ids)
                        kind = wr.choice(("void", "amend", "amend", "ingest"))
                        if kind == "void":
                            path, body = "/api/v1/usage/void", {"requestIds": [rid], "reason": "k9"}
                        elif kind == "amend":
                            path, body = "/api/v1/usage/amend", {"requestId": rid, "set": {
                                "inputTokens": wr.randint(0, 5000), "model": wr.choice(["gpt-4o", "gpt-4o-mini"])}}
                        else:
                            path, body = "/api/v1/usage/ingest", clx.event(rid)
                        try:
                            conn.request("POST", path, body=json.dumps(body),
                                         headers={"Content-Type": "application/json", "X-API-Key": key})
                            resp = conn.getresponse()
                            js = json.loads(resp.read() or b"{}")
                        except (OSError, http.client.HTTPException, ValueError):
                            return  # killed: this one was never acknowledged
                        with lock:
                            if kind == "void" and resp.status == 200 and js.get("voided") == 1:
                                voided.add(rid)
                            elif kind == "amend" and resp.status == 200:
                                amended[rid] = max(amended.get(rid, 0), js["version"])
                            elif resp.status not in (200, 404, 409, 503):
                                problems.append((kind, resp.status, js))

                threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
                for th in threads:
                    th.start()
                time.sleep(0.2 + rng.random() * 0.6)
                srv.kill9()
                stop.set()
                for th in threads:
                    th.join(30)
                self.assertEqual(problems, [])
                srv.start()
                evs = {e["requestId"]: e for e in srv.all_events()}
                live = [e for e in evs.values() if not e.get("voided")]
                st, js, raw = srv.admin("GET", "workspaces/default/usage/overview")
                t = js["totals"]
                self.assertEqual((t["events"], t["inputTokens"], t["outputTokens"]),
                                 (len(live), sum(e["inputTokens"] for e in live), sum(e["outputTokens"] for e in live)),
                                 "cycle %d" % cycle)
                self.assertEqual(Decimal(t["costUsd"]), sum((Decimal(e["costUsd"]) for e in live), Decimal(0)),
                                 "cycle %d" % cycle)
                dead = [e for e in evs.values() if e.get("voided")]
                st, js, raw = srv.admin("GET", "workspaces/default/usage/costs?voided=true")
                self.assertEqual((js["total"]["events"], Decimal(js["total"]["costUsd"])),
                                 (len(dead), sum((Decimal(e["costUsd"]) for e in dead), Decimal(0))), "cycle %d" % cycle)
                for rid in voided:
                    self.assertTrue(evs[rid].get("voided"), "acknowledged void of %s lost (cycle %d)" % (rid, cycle))
                for rid, v in amended.items():
                    self.assertGreaterEqual(evs[rid]["version"], v, "amend of %s lost (cycle %d)" % (rid, cycle))
                for rid in rng.sample(sorted(evs), 10):
                    st, js, raw = srv.admin("GET", "workspaces/default/usage/events/%s/history" % rid)
                    vs = [v["version"] for v in js["versions"]]
                    self.assertEqual(vs, list(range(1, evs[rid]["version"] + 1)), rid)
            self.assertTrue(voided and amended, "no correction was acknowledged: the test proved nothing")
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
