"""Threshold alerts (issue 12) through the real binary to a real HTTP receiver that checks the
signature: fired exactly once per period, across a restart and a kill -9, with the receiver down
for a while; channels, the test message, the alerts list, the SSRF guard."""
import json
import time
import unittest

import clx
from clx import event
from webhook_receiver import WebhookReceiver, verify


def wait_for(pred, timeout=30.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class AlertsTest(unittest.TestCase):
    def setUp(self):
        # retries after 1 s (doubling) so the receiver-down case is quick
        self.srv = clx.Server(extra_args=["--webhook-allow", "loopback", "--webhook-retry-ms", "1000"])
        self.rx = WebhookReceiver(secret=None).start()
        self.srv.create_project("web")
        self.key = self.srv.create_key(name="web", default_project="web")

    def tearDown(self):
        self.srv.cleanup()
        try:
            self.rx.stop()
        except Exception:
            pass

    def channel(self, url=None, kind="webhook"):
        st, js, raw = self.srv.admin("POST", "workspaces/default/channels",
                                     {"name": "ops", "type": kind, "url": url or "http://127.0.0.1:%d/hook" % self.rx.port})
        self.assertEqual(st, 201, raw)
        return js

    def budget(self, amount="10", thresholds=None):
        body = {"name": "Web monthly", "amountUsd": amount, "scope": {"type": "project", "project": "web"}}
        if thresholds:
            body["thresholds"] = thresholds
        st, js, raw = self.srv.admin("POST", "workspaces/default/budgets", body)
        self.assertEqual(st, 201, raw)
        return js

    def spend(self, rid, usd):
        st, js, raw = self.srv.ingest(self.key, event(rid, estimatedCostUsd=usd))
        self.assertEqual(st, 200, raw)

    def budget_reqs(self):
        return [r for r in self.rx.requests if r["headers"].get("X-Costlynx-Alert-Id", "").startswith("budget:")]

    def ids(self, prefix="budget:"):
        return [r["headers"].get("X-Costlynx-Alert-Id") for r in self.rx.requests
                if r["status"] == 200 and r["headers"].get("X-Costlynx-Alert-Id", "").startswith(prefix)]

    def alerts(self):
        st, js, raw = self.srv.admin("GET", "workspaces/default/alerts")
        self.assertEqual(st, 200, raw)
        return js["alerts"]

    def test_thresholds_fire_once_signed_and_listed(self):
        ch = self.channel()
        self.assertTrue(ch["secret"].startswith("whsec_"), ch)
        self.rx.secret = ch["secret"].encode()
        b = self.budget()
        date = b["state"]["periodStart"][:10]
        self.spend("a1", 4.999999999)  # one nano under 50 %
        time.sleep(1.5)
        self.assertEqual(self.budget_reqs(), [])
        t0 = time.time()
        self.spend("a2", 0.000000001)  # exactly 50 %
        self.assertTrue(wait_for(lambda: len(self.budget_reqs()) >= 1, 60), "no alert within 60 s")
        self.assertLess(time.time() - t0, 60)
        r = self.budget_reqs()[0]
        self.assertIs(r["verified"], True, r)
        self.assertEqual(r["headers"]["X-Costlynx-Alert-Id"], "budget:%s:%s:5000" % (b["id"], date))
        body = json.loads(r["body"])
        self.assertEqual(body["kind"], "budget_threshold")
        self.assertEqual(body["fields"]["spentUsd"], "5")
        self.assertEqual(body["fields"]["amountUsd"], "10")
        self.assertEqual(body["fields"]["threshold"], "50.00 %")
        # 80 % and 100 % with one event crossing both
        self.spend("a3", 6)
        self.assertTrue(wait_for(lambda: len(self.budget_reqs()) >= 3, 60), self.rx.requests)
        self.assertEqual(sorted(self.ids()), sorted(["budget:%s:%s:%d" % (b["id"], date, bp)
                                                     for bp in (5000, 8000, 10000)]))
        self.assertTrue(all(r["verified"] for r in self.budget_reqs()))
        # more spend, a repeated request id, a restart: nothing more
        self.spend("a4", 1)
        self.spend("a3", 6)
        self.srv.restart()
        self.spend("a5", 1)
        time.sleep(3)
        self.assertEqual(len(self.budget_reqs()), 3, self.ids())
        got = [a for a in self.alerts() if a["kind"] == "budget"]
        self.assertEqual(len(got), 3, got)
        self.assertTrue(all(a["state"] == "delivered" and a["attempts"] == 1 and a["kind"] == "budget"
                            and a["channel"] == ch["id"] for a in got), got)
        st, js, raw = self.srv.admin("GET", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual(js["state"]["fired"], [50, 80, 100], raw)
        self.assertEqual(js["state"]["spentUsd"], "13", raw)
        # the list: newest first, a limit, a state filter, refusals
        st, js, raw = self.srv.admin("GET", "workspaces/default/alerts?state=delivered&limit=2")
        self.assertEqual(st, 200, raw)
        self.assertEqual(len(js["alerts"]), 2, raw)
        self.assertGreaterEqual(js["total"], 4, raw)  # three thresholds and the new model
        self.assertGreaterEqual(js["alerts"][0]["createdAt"], js["alerts"][1]["createdAt"])
        st, js, raw = self.srv.admin("GET", "workspaces/default/alerts?state=failed")
        self.assertEqual((js["total"], js["alerts"]), (0, []), raw)
        for q, field in (("limit=0", "limit"), ("limit=x", "limit"), ("limit=5001", "limit"), ("state=lost", "state")):
            st, js, raw = self.srv.admin("GET", "workspaces/default/alerts?" + q)
            self.assertEqual((st, js["error"]["field"]), (400, field), raw)

    def test_a_budget_names_its_channels(self):
        ops = self.channel()
        other = WebhookReceiver().start()
        try:
            team = self.channel(url="http://127.0.0.1:%d/team" % other.port)
            other.secret = team["secret"].encode()
            self.rx.secret = ops["secret"].encode()
            st, b, raw = self.srv.admin("POST", "workspaces/default/budgets",
                                        {"name": "Team", "amountUsd": "1", "thresholds": [100],
                                         "scope": {"type": "project", "project": "web"}, "channels": [team["id"]]})
            self.assertEqual(st, 201, raw)
            self.assertEqual(b["channels"], [team["id"]])
            st, js, raw = self.srv.admin("POST", "workspaces/default/budgets",
                                         {"name": "x", "amountUsd": "1", "channels": ["ch_000000000000"]})
            self.assertEqual((st, js["error"]["field"]), (404, "channels"), raw)
            self.spend("t1", 1)
            self.assertTrue(wait_for(lambda: [r for r in other.requests
                                              if r["headers"].get("X-Costlynx-Alert-Id", "").startswith("budget:")], 30))
            time.sleep(1.5)
            self.assertEqual(self.budget_reqs(), [])  # ops is not this budget's channel
            self.assertTrue(all(r["verified"] for r in other.requests))
        finally:
            other.stop()

    def test_concurrent_ingests_fire_each_threshold_once(self):
        # 8 threads, 25 events each of $0.05 over REST (HTTP/1.1 connections of their own):
        # $10 in all against a $10 budget, crossing 50, 80 and 100 % somewhere in the middle
        import threading
        ch = self.channel()
        self.rx.secret = ch["secret"].encode()
        b = self.budget(amount="10")
        errors = []

        def worker(t):
            try:
                for i in range(25):
                    st, js, raw = self.srv.ingest(self.key, event("c%d-%d" % (t, i), estimatedCostUsd=0.05))
                    if st != 200 or js.get("inserted") != 1:
                        errors.append(raw)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertTrue(wait_for(lambda: len(self.budget_reqs()) >= 3, 60), self.ids())
        time.sleep(2)
        date = b["state"]["periodStart"][:10]
        self.assertEqual(sorted(self.ids()), sorted("budget:%s:%s:%d" % (b["id"], date, bp) for bp in (5000, 8000, 10000)))
        st, js, raw = self.srv.admin("GET", "workspaces/default/budgets/%s" % b["id"])
        self.assertEqual((js["state"]["spentUsd"], js["state"]["fired"]), ("10", [50, 80, 100]), raw)

    def test_receiver_down_then_kill9_then_back(self):
        ch = self.channel()
        port = self.rx.port
        self.rx.stop()  # the receiver is down: connection refused
        b = self.budget(thresholds=[100])
        self.spend("k1", 10)
        pending = wait_for(lambda: [a for a in self.alerts() if a["attempts"] >= 1 and a["kind"] == "budget"], 30)
        self.assertTrue(pending, self.alerts())
        self.assertEqual(pending[0]["state"], "pending")
        self.assertTrue(pending[0]["lastError"], pending)
        self.srv.kill9()
        self.srv.start()
        # the receiver comes back on the same port
        self.rx = WebhookReceiver(secret=ch["secret"].encode(), port=port).start()
        self.assertTrue(wait_for(lambda: len(self.budget_reqs()) >= 1, 60), "not delivered after the receiver came back")
        time.sleep(3)
        self.assertEqual(self.ids(), ["budget:%s:%s:10000" % (b["id"], b["state"]["periodStart"][:10])])
        self.assertTrue(self.budget_reqs()[0]["verified"])
        got = self.alerts()
        self.assertEqual([a["state"] for a in got], ["delivered"] * len(got), got)

    def test_kill9_right_after_the_crossing(self):
        ch = self.channel()
        self.rx.secret = ch["secret"].encode()
        b = self.budget(thresholds=[100])
        self.spend("x1", 10)
        self.srv.kill9()  # at once: the alert may or may not have been written
        self.srv.start()
        self.assertTrue(wait_for(lambda: len(self.budget_reqs()) >= 1, 60), "no alert after kill -9")
        self.srv.restart()
        time.sleep(3)
        # one alert (one id); a delivery in flight at the kill is sent again (at-least-once:
        # receivers dedup on the id), but never more than once per start
        ids = self.ids()
        self.assertEqual(set(ids), {"budget:%s:%s:10000" % (b["id"], b["state"]["periodStart"][:10])})
        self.assertLessEqual(len(ids), 2, ids)
        n = len(self.budget_reqs())
        self.srv.restart()
        time.sleep(2)
        self.assertEqual(len(self.budget_reqs()), n)

    def test_test_message_slack_and_ssrf_guard(self):
        ch = self.channel()
        self.rx.secret = ch["secret"].encode()
        st, js, raw = self.srv.admin("POST", "workspaces/default/channels/%s/test" % ch["id"])
        self.assertEqual(st, 202, raw)
        self.assertTrue(wait_for(lambda: len(self.rx.requests) >= 1, 30))
        r = self.rx.requests[0]
        self.assertIs(r["verified"], True)
        self.assertEqual(json.loads(r["body"])["kind"], "test")
        self.assertEqual(r["headers"]["X-Costlynx-Alert-Id"], js["alertId"])
        # the secret is shown once
        st, js, raw = self.srv.admin("GET", "workspaces/default/channels")
        self.assertNotIn("secret", js["channels"][0], raw)
        self.assertNotIn(ch["secret"].encode(), raw)
        # Slack: Slack's format, unsigned
        sl = self.channel(kind="slack", url="http://127.0.0.1:%d/slack" % self.rx.port)
        self.assertNotIn("secret", sl)
        st, js, raw = self.srv.admin("POST", "workspaces/default/channels/%s/test" % sl["id"])
        self.assertEqual(st, 202, raw)
        self.assertTrue(wait_for(lambda: any(r["path"] == "/slack" for r in self.rx.requests), 30))
        s = [r for r in self.rx.requests if r["path"] == "/slack"][0]
        self.assertNotIn("X-Costlynx-Signature", s["headers"])
        self.assertIn("blocks", json.loads(s["body"]))
        # unknown channel, bad type, bad URL
        st, js, raw = self.srv.admin("POST", "workspaces/default/channels/ch_000000000000/test")
        self.assertEqual(st, 404, raw)
        for body, field in [({"name": "x", "type": "pager", "url": "http://example.com/"}, "type"),
                            ({"name": "x", "url": "ftp://example.com/"}, "url"),
                            ({"name": "x", "url": "http://169.254.169.254/latest"}, "url"),
                            ({"name": "x", "url": "http://10.0.0.7/hook"}, "url"),
                            ({"name": "x"}, "url"),
                            ({"url": "http://example.com/"}, "name")]:
            st, js, raw = self.srv.admin("POST", "workspaces/default/channels", body)
            self.assertEqual((st, js["error"].get("field")), (400, field), (body, raw))
        # deleting a channel
        st, js, raw = self.srv.admin("DELETE", "workspaces/default/channels/%s" % sl["id"])
        self.assertEqual(st, 200, raw)
        st, js, raw = self.srv.admin("GET", "workspaces/default/channels")
        self.assertEqual([c["id"] for c in js["channels"]], [ch["id"]])


    def test_event_rules_new_model_unpriced_lock(self):
        ch = self.channel()
        self.rx.secret = ch["secret"].encode()
        self.spend("m1", 1)
        self.spend("m2", 1)
        self.assertTrue(wait_for(lambda: self.ids("model:"), 30), self.rx.requests)
        st, js, raw = self.srv.ingest(self.key, event("m3", model="gpt-4o"))
        self.assertEqual(js["inserted"], 1, raw)
        self.assertTrue(wait_for(lambda: len(self.ids("model:")) >= 2, 30), self.rx.requests)
        self.assertEqual(sorted(self.ids("model:")), ["model:openai/gpt-4o", "model:openai/gpt-4o-mini"])
        body = json.loads([r for r in self.rx.requests if r["headers"]["X-Costlynx-Alert-Id"] ==
                           "model:openai/gpt-4o"][0]["body"])
        self.assertEqual((body["kind"], body["fields"]["requestId"]), ("new_model", "m3"))
        # unpriced: a model the catalog does not know and no cost sent (twice: one alert a day)
        for rid in ("u1", "u2"):
            st, js, raw = self.srv.ingest(self.key, event(rid, model="no-such-model-x"))
            self.assertEqual(js["inserted"], 1, raw)
        self.assertTrue(wait_for(lambda: self.ids("unpriced:"), 30), self.rx.requests)
        date = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertEqual(self.ids("unpriced:"), ["unpriced:%s:openai/no-such-model-x" % date])
        # a key locked to prod, sent staging twice
        locked = self.srv.create_key_full(name="locked", default_project="web", environment="prod")
        for rid in ("l1", "l2"):
            st, js, raw = self.srv.ingest(locked["key"], event(rid, environment="staging"))
            self.assertEqual(st, 400, raw)  # refused by the lock, not stored
            self.assertIn("environment", raw.decode(), raw)
        self.assertTrue(wait_for(lambda: self.ids("lock:"), 30), self.rx.requests)
        self.assertEqual(self.ids("lock:"), ["lock:%s:%s" % (date, locked["id"])])
        # a restart: models known from the rollups, marks kept; nothing is raised again
        self.srv.restart()
        for rid, model in (("r1", "gpt-4o"), ("r2", "no-such-model-x")):
            self.srv.ingest(self.key, event(rid, model=model))
        self.srv.ingest(locked["key"], event("l3", environment="staging"))
        time.sleep(3)
        self.assertEqual(len(self.ids("model:")), 3 - 1 + 1, self.ids(""))  # gpt-4o-mini, gpt-4o, no-such-model-x
        self.assertEqual(len(self.ids("unpriced:")), 1)
        self.assertEqual(len(self.ids("lock:")), 1)
        self.assertTrue(all(r["verified"] for r in self.rx.requests))


    def test_event_rules_are_capped_per_day(self):
        # an ingestion key can invent model names: 30 new (and unpriced) models in one day make
        # 20 alerts of each rule and one "more" alert each, not 60
        ch = self.channel()
        self.rx.secret = ch["secret"].encode()
        st, js, raw = self.srv.ingest(self.key, {"events": [event("cap%d" % i, model="invented-%02d" % i)
                                                            for i in range(30)]})
        self.assertEqual(js["inserted"], 30, raw)
        date = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertTrue(wait_for(lambda: len(self.ids("")) >= 42, 30), len(self.ids("")))
        time.sleep(2)
        ids = self.ids("")
        self.assertEqual(len([i for i in ids if i.startswith("model:")]), 20, ids)
        self.assertEqual(len([i for i in ids if i.startswith("unpriced:")]), 20, ids)
        self.assertIn("new_model:%s:more" % date, ids)
        self.assertIn("unpriced_events:%s:more" % date, ids)
        self.assertEqual(len(ids), 42, ids)


class SsrfDefaultTest(unittest.TestCase):
    def test_loopback_refused_without_the_flag(self):
        srv = clx.Server()
        try:
            st, js, raw = srv.admin("POST", "workspaces/default/channels",
                                    {"name": "x", "url": "http://127.0.0.1:%d/admin" % srv.port})
            self.assertEqual(st, 400, raw)
            self.assertEqual(js["error"]["field"], "url")
            self.assertIn("loopback", js["error"]["message"])
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
