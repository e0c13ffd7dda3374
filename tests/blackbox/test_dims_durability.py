"""The dims counters (groupBy=user|key|tag:KEY) are summed by the writer in memory and flushed
every few seconds (docs/design.md, "Users, keys and tags"): they must still count every
acknowledged event exactly — read right after ingest, after kill -9 before any flush, and
with voids and amends of events whose sums were still held, and across kill -9 around a flush
written in batches.

Costs by hand: gpt-4o-mini lists $0.15 input and $0.60 output per million tokens, i.e. 150 and
600 nano-dollars per token."""
import time
import unittest
import urllib.parse
from decimal import Decimal

import clx

IN, OUT = 150, 600


def usd(nanos):
    return Decimal(nanos) / Decimal(10 ** 9)


class DimsDurabilityTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.started = time.monotonic()
        self.srv = clx.Server()
        self.key = self.srv.create_key(name="dims")
        st, js, raw = self.srv.admin("PATCH", "workspaces/default", {"tagDimensions": ["team"]})
        self.assertEqual(st, 200, raw)

    def tearDown(self):
        self.srv.cleanup()

    def users(self, **params):
        q = urllib.parse.urlencode(dict(groupBy="user", **params))
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/costs?" + q)
        self.assertEqual(st, 200, raw)
        return {r["user"]: (int(r["events"]), Decimal(r["costUsd"])) for r in js["rows"]}

    def teams(self):
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/costs?groupBy=tag:team")
        self.assertEqual(st, 200, raw)
        return {r["tag:team"]: (int(r["events"]), Decimal(r["costUsd"])) for r in js["rows"]}

    def send(self, events):
        st, js, raw = self.srv.ingest(self.key, {"events": events})
        self.assertEqual((st, js["inserted"]), (200, len(events)), raw)

    def test_counted_after_kill9_before_a_flush(self):
        # 300 events of 30 users; user u's events i = u, u+30, ... cost 150*(1000+i) + 600*100
        events = [clx.event("k%d" % i, inputTokens=1000 + i, outputTokens=100, userId="u%02d" % (i % 30),
                            tags={"team": "t%d" % (i % 3)}) for i in range(300)]
        for b in range(3):
            self.send(events[b * 100:(b + 1) * 100])
        want = {}
        for i in range(300):
            n, c = want.get("u%02d" % (i % 30), (0, 0))
            want["u%02d" % (i % 30)] = (n + 1, c + IN * (1000 + i) + OUT * 100)
        want = {u: (n, usd(c)) for u, (n, c) in want.items()}
        self.assertEqual(self.users(), want)  # read-your-writes: the held sums count
        self.srv.kill9()  # at once: nothing flushed yet (the writer flushes after 5 s)
        self.srv.start()
        self.assertEqual(self.users(), want)  # counted again from the stored events
        teams = self.teams()
        self.assertEqual(sum(n for n, _ in teams.values()), 300)
        self.srv.restart()  # a clean stop flushes; nothing is counted twice
        self.assertEqual(self.users(), want)

    def user_totals(self):
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/costs?groupBy=user&limit=1")
        self.assertEqual(st, 200, raw)
        return int(js["groups"]), int(js["total"]["events"]), Decimal(js["total"]["costUsd"])

    def test_kill9_around_a_flush_in_batches(self):
        # 12,000 users, one event each: 36,000 user keys, written by the flusher in batches of
        # 10,000 merges; killed about when the flush 5-6 s after the start runs (before, between
        # its batches or after: the timing decides), every sum is counted once. Event i costs 150*(1000 + i % 7) + 600*100.
        n = 12000
        for b in range(n // 100):
            self.send([clx.event("f%d" % i, inputTokens=1000 + i % 7, outputTokens=100, userId="u%05d" % i)
                       for i in range(b * 100, (b + 1) * 100)])
        want = (n, n, usd(sum(IN * (1000 + i % 7) + OUT * 100 for i in range(n))))
        self.assertEqual(self.user_totals(), want)
        time.sleep(max(0.0, 5.6 - (time.monotonic() - self.started)))
        self.srv.kill9()
        self.srv.start()
        self.assertEqual(self.user_totals(), want)
        self.srv.restart()  # a clean stop flushes; nothing is counted twice
        self.assertEqual(self.user_totals(), want)

    def test_void_and_amend_of_held_sums(self):
        self.send([clx.event("a1", inputTokens=1000, outputTokens=0, userId="alice", tags={"team": "x"}),
                   clx.event("a2", inputTokens=2000, outputTokens=0, userId="alice", tags={"team": "x"}),
                   clx.event("b1", inputTokens=3000, outputTokens=0, userId="bob", tags={"team": "y"})])
        st, _, raw = self.srv.request("POST", "/api/v1/usage/void",
                                       body={"requestIds": ["a2"], "reason": "test"},
                                       headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        self.assertEqual(st, 200, raw)
        st, _, raw = self.srv.request("POST", "/api/v1/usage/amend?workspace=default",
                                       body={"requestId": "b1", "set": {"inputTokens": 4000, "userId": "carol"},
                                             "reason": "test"},
                                       headers={"Authorization": "Bearer " + self.srv.admin_token,
                                                "Content-Type": "application/json"})
        self.assertEqual(st, 200, raw)
        want = {"alice": (1, usd(IN * 1000)), "carol": (1, usd(IN * 4000))}
        self.assertEqual(self.users(), want)
        self.assertEqual(self.teams(), {"y": (1, usd(IN * 4000)), "x": (1, usd(IN * 1000))})
        self.srv.kill9()
        self.srv.start()
        self.assertEqual(self.users(), want)
        self.srv.restart()
        self.assertEqual(self.users(), want)


if __name__ == "__main__":
    unittest.main()
