"""Issue 10 over the real binary, the read side: rollups and the event list by event time,
costs grouped by end user, ingestion key and declared tag (the dims family), and the event
list's userId= and tag.KEY= filters.

Costs are computed by hand: gpt-4o-mini lists $0.15 input and $0.60 output per million
tokens (pricing/catalog/prices.csv), i.e. 150 and 600 nano-dollars per token."""
import datetime
import time
import unittest
import urllib.parse
from decimal import Decimal

import clx

DAY = 86400
IN, OUT = 150, 600  # nano-dollars per token, gpt-4o-mini


def rfc3339(unix_s):
    t = datetime.datetime.fromtimestamp(unix_s, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def day_str(unix_s):
    return datetime.datetime.fromtimestamp(unix_s, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


def usd(nanos):
    return Decimal(nanos) / Decimal(10 ** 9)


class EventTimeTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.key_info = cls.srv.create_key_full(name="dims")
        cls.key = cls.key_info["key"]
        now = time.time()
        if now % DAY > DAY - 120:  # the test's "today" must not roll over while it runs
            time.sleep(DAY - now % DAY + 1)
            now = time.time()
        cls.today = int(now // DAY * DAY)
        d = cls.today
        # (requestId, event time or None (= now), user, tags, input, output)
        cls.events = {
            "e0": (d - 3 * DAY + 9 * 3600, "dave", {"team": "search"}, 10, 0),  # before team was declared
            "e1": (d - 3 * DAY + 10 * 3600 + 15 * 60, "alice", {"team": "search"}, 1000, 100),
            "e2": (d - 3 * DAY + 10 * 3600 + 45 * 60, "bob", {"team": "ads"}, 2000, 500),
            "e3": (d - DAY + 23 * 3600 + 30 * 60, "alice", {"team": "search", "trace": "xyz"}, 3000, 0),
            "e4": (None, "carol", {"team": "ads"}, 100, 1000),
            "e5": (d - 2 * DAY + 5 * 3600, None, {}, 10, 10),
        }
        cls.cost = {rid: i * IN + o * OUT for rid, (_, _, _, i, o) in cls.events.items()}
        # e0 is written while the workspace declares no tag dimension
        cls.send(["e0"])
        status, js, raw = cls.srv.admin("PATCH", "workspaces/default", {"tagDimensions": ["team"]})
        assert status == 200, raw
        cls.send(["e1", "e3", "e2", "e5", "e4"])  # not in time order

    @classmethod
    def send(cls, rids):
        body = {"events": []}
        for rid in rids:
            t, user, tags, i, o = cls.events[rid]
            body["events"].append(clx.event(rid, inputTokens=i, outputTokens=o, userId=user, tags=tags or None,
                                            timestamp=rfc3339(t) if t is not None else None))
        status, js, raw = cls.srv.ingest(cls.key, body)
        assert status == 200 and js["inserted"] == len(rids), raw

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def get(self, path, **params):
        q = urllib.parse.urlencode(params)
        status, js, raw = self.srv.admin("GET", "workspaces/default/usage/%s%s" % (path, "?" + q if q else ""))
        return status, js, raw

    def ok(self, path, **params):
        status, js, raw = self.get(path, **params)
        self.assertEqual(status, 200, raw)
        return js

    def refused(self, field, path, **params):
        status, js, raw = self.get(path, **params)
        self.assertEqual(status, 400, raw)
        self.assertEqual(js["error"]["field"], field, raw)
        return js["error"]["message"]

    # ---- rollups by event time ----------------------------------------------------------------

    def test_backdated_events_land_on_their_days(self):
        d = self.today
        js = self.ok("costs", groupBy="day", **{"from": day_str(d - 3 * DAY), "to": day_str(d + DAY)})
        got = {r["day"][:10]: (int(r["events"]), Decimal(r["costUsd"])) for r in js["rows"]}
        c = self.cost
        self.assertEqual(got, {
            day_str(d - 3 * DAY): (3, usd(c["e0"] + c["e1"] + c["e2"])),  # 1,500 + 210,000 + 600,000
            day_str(d - 2 * DAY): (1, usd(c["e5"])),                       # 7,500
            day_str(d - DAY): (1, usd(c["e3"])),                           # 450,000
            day_str(d): (1, usd(c["e4"])),                                 # 615,000
        })
        self.assertEqual(Decimal(js["total"]["costUsd"]), usd(1500 + 210000 + 600000 + 7500 + 450000 + 615000))

    def test_backdated_events_land_on_their_hours(self):
        d = self.today - 3 * DAY
        js = self.ok("costs", groupBy="hour", **{"from": str((d + 8 * 3600) * 1000),
                                                 "to": str((d + 12 * 3600) * 1000)})
        got = {r["hour"]: (int(r["events"]), Decimal(r["costUsd"])) for r in js["rows"]}
        iso = lambda t: datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:00:00")
        self.assertEqual({k[:19]: v for k, v in got.items()}, {
            iso(d + 9 * 3600): (1, usd(1500)),
            iso(d + 10 * 3600): (2, usd(210000 + 600000)),
        })

    def test_overview_series_by_event_time(self):
        d = self.today
        js = self.ok("overview", bucket="day", **{"from": day_str(d - 3 * DAY), "to": day_str(d - 2 * DAY)})
        self.assertEqual(int(js["totals"]["events"]), 3)
        self.assertEqual(Decimal(js["totals"]["costUsd"]), usd(811500))
        self.assertEqual([e["requestId"] for e in js["recent"]], ["e2", "e1", "e0"])

    # ---- dims: users, keys, declared tags ----------------------------------------------------

    def test_costs_by_user_exact_and_ordered(self):
        js = self.ok("costs", groupBy="user")
        rows = [(r["user"], int(r["events"]), Decimal(r["costUsd"])) for r in js["rows"]]
        self.assertEqual(rows, [
            ("alice", 2, usd(210000 + 450000)),
            ("carol", 1, usd(615000)),
            ("bob", 1, usd(600000)),
            ("dave", 1, usd(1500)),
        ])
        self.assertEqual(js["groupBy"], ["user"])
        self.assertEqual(js["groups"], 4)
        # the total counts events with a user only (e5 has none)
        self.assertEqual(int(js["total"]["events"]), 5)
        self.assertEqual(Decimal(js["total"]["costUsd"]), usd(660000 + 615000 + 600000 + 1500))

    def test_top_n(self):
        js = self.ok("costs", groupBy="user", limit="2")
        self.assertEqual([r["user"] for r in js["rows"]], ["alice", "carol"])
        self.assertEqual(js["groups"], 4)  # and the total still sums every user
        self.assertEqual(Decimal(js["total"]["costUsd"]), usd(660000 + 615000 + 600000 + 1500))
        # a range of days by event time: only e1 and e2 (and e0) three days ago
        d = self.today
        js = self.ok("costs", groupBy="user", **{"from": day_str(d - 3 * DAY), "to": day_str(d - 2 * DAY)})
        self.assertEqual([(r["user"], Decimal(r["costUsd"])) for r in js["rows"]],
                         [("bob", usd(600000)), ("alice", usd(210000)), ("dave", usd(1500))])

    def test_costs_by_declared_tag(self):
        js = self.ok("costs", groupBy="tag:team")
        rows = [(r["tag:team"], int(r["events"]), Decimal(r["costUsd"])) for r in js["rows"]]
        # e0 carried team=search before team was declared: not rolled up
        self.assertEqual(rows, [("ads", 2, usd(600000 + 615000)), ("search", 2, usd(210000 + 450000))])

    def test_costs_by_key(self):
        js = self.ok("costs", groupBy="key")
        self.assertEqual([(r["key"], int(r["events"])) for r in js["rows"]], [(self.key_info["id"], 6)])
        self.assertEqual(Decimal(js["rows"][0]["costUsd"]), usd(sum(self.cost.values())))

    def test_refusals_name_the_field(self):
        msg = self.refused("groupBy", "costs", groupBy="tag:trace")
        self.assertIn("trace", msg)  # undeclared: stored and filterable, not rolled up
        self.refused("groupBy", "costs", groupBy="tag:Bad!")
        self.refused("groupBy", "costs", groupBy="user,project")
        self.refused("groupBy", "costs", groupBy="project,user")
        self.refused("project", "costs", groupBy="user", project="x")
        self.refused("model", "costs", groupBy="tag:team", model="gpt-4o-mini")
        self.refused("from", "costs", groupBy="user", **{"from": "2026-01-01T05:00:00Z", "to": "2026-01-02"})
        self.refused("limit", "costs", groupBy="user", limit="0")
        self.refused("limit", "costs", groupBy="user", limit="1001")

    # ---- the event list ------------------------------------------------------------------------

    def ids(self, **params):
        return [e["requestId"] for e in self.ok("events", **params)["events"]]

    def test_list_in_event_time_order(self):
        self.assertEqual(self.ids(), ["e4", "e3", "e5", "e2", "e1", "e0"])
        page = self.ok("events", limit="2")
        self.assertEqual([e["requestId"] for e in page["events"]], ["e4", "e3"])
        page = self.ok("events", limit="2", cursor=page["nextCursor"])
        self.assertEqual([e["requestId"] for e in page["events"]], ["e5", "e2"])
        page = self.ok("events", limit="2", cursor=page["nextCursor"])
        self.assertEqual([e["requestId"] for e in page["events"]], ["e1", "e0"])
        self.assertIsNone(page["nextCursor"])
        d = self.today
        self.assertEqual(self.ids(**{"from": day_str(d - 3 * DAY), "to": day_str(d - 2 * DAY)}), ["e2", "e1", "e0"])

    def test_list_filters_user_and_tags(self):
        self.assertEqual(self.ids(userId="alice"), ["e3", "e1"])
        self.assertEqual(self.ids(**{"tag.team": "ads"}), ["e4", "e2"])
        self.assertEqual(self.ids(**{"tag.trace": "xyz"}), ["e3"])  # an undeclared tag filters too
        self.assertEqual(self.ids(**{"tag.team": "search", "userId": "alice"}), ["e3", "e1"])
        self.assertEqual(self.ids(**{"tag.team": "search", "tag.trace": "xyz"}), ["e3"])
        self.assertEqual(self.ids(userId="nobody"), [])
        self.refused("tag", "events", **{"tag.": "x"})


if __name__ == "__main__":
    unittest.main()
