"""A data folder written by the previous costlynxd opens in this one, with the same answers.
Its events read back with issue 10's fields at their "absent" values, and sent again they are
duplicates, not conflicts (their fingerprints did not change).

The rollup records changed format (64-byte int64 sums → 113-byte 128-bit sums, docs/design.md
"Rollups"): this test writes a folder with an older binary — flushed tables and, after a
kill -9, merge operands still in the WAL — then reads it with this build and compares every
usage answer, before and after new ingestion and a restart.

The older binary comes from $CLX_PREVIOUS_COSTLYNXD (build main's costlynxd and point at it:
`git worktree add /tmp/prev main && (cd /tmp/prev && TARGET=costlynxd ./scripts/build.sh)`,
then CLX_PREVIOUS_COSTLYNXD=/tmp/prev/build/costlynxd). Without it the test is skipped; the
unit test tests/unit/test_rollup.c covers the old record bytes on every run.
"""
import os
import shutil
import tempfile
import unittest
from decimal import Decimal

import clx
from clx import event

PREVIOUS = os.environ.get("CLX_PREVIOUS_COSTLYNXD")
# what read-back gained with issue 10 (event time, user, tags, token kinds, tier, breakdown)
ISSUE10_FIELDS = ("timestamp", "userId", "tags", "cacheWrite1hTokens", "reasoningTokens", "audioInputTokens",
                  "cachedAudioTokens", "audioOutputTokens", "webSearchCalls", "serviceTier", "costBreakdown")


def strip_issue10(js):
    """Removes the read-back fields added since the older binary from every event (a dict with a
    requestId) in js: issue 10's, and issue 11's version (1 for an event never corrected)."""
    if isinstance(js, dict):
        if "requestId" in js and "receivedAt" in js:
            for k in ISSUE10_FIELDS:
                js.pop(k, None)
            if js.get("version") == 1:
                js.pop("version")
        for v in js.values():
            strip_issue10(v)
    elif isinstance(js, list):
        for v in js:
            strip_issue10(v)


READS = ["usage/overview", "usage/overview?bucket=hour", "usage/costs?groupBy=project,feature",
         "usage/costs?groupBy=model,day", "usage/warnings", "usage/events?limit=1000"]


@unittest.skipIf(not PREVIOUS, "set CLX_PREVIOUS_COSTLYNXD to an older costlynxd binary to run the upgrade test")
class UpgradeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="clx-upgrade-")
        self.data = os.path.join(self.tmp, "data")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, binary, token):
        saved = clx.BINARY
        clx.BINARY = binary
        try:
            s = clx.Server(data_dir=self.data, admin_token=token)
        finally:
            clx.BINARY = saved
        self.servers.append(s)
        return s

    def start_as(self, srv, binary):
        saved = clx.BINARY
        clx.BINARY = binary
        try:
            srv.start()
        finally:
            clx.BINARY = saved

    def reads(self, srv):
        out = {}
        for path in READS:
            st, js, raw = srv.admin("GET", "workspaces/default/" + path)
            self.assertEqual(st, 200, raw)
            for k in ("from", "to"):  # the default range ends "today": equal within one run
                js.pop(k, None)
            strip_issue10(js)  # checked in old_events_read_back
            out[path] = js
        return out

    def ingest(self, srv, key, prefix, n):
        for b in range(n):
            evs = [event("%s-%d-%d" % (prefix, b, i), feature="feat-%d" % (i % 4), inputTokens=1000 + i,
                         outputTokens=50 + b, **({"estimatedCostUsd": "0.%06d" % (i + 1)} if i % 3 == 0 else {}))
                   for i in range(50)]
            evs[0]["model"] = "no-such-model-%s" % prefix  # unpriced: shows in warnings
            st, js, raw = srv.ingest(key, {"events": evs})
            self.assertEqual((st, js["inserted"]), (200, 50), raw[:300])

    def test_previous_data_folder(self):
        token = "adm-upgrade-test"
        old = self.server(PREVIOUS, token)
        old.create_project("app")
        key = old.create_key(name="k", default_project="app", default_environment="prod")
        self.ingest(old, key, "a", 10)
        old.stop()  # flushed: version-1 records in tables
        self.start_as(old, PREVIOUS)  # clx.Server.start runs clx.BINARY: the older one again
        self.ingest(old, key, "b", 10)
        before = self.reads(old)
        self.assertEqual(before["usage/overview"]["totals"]["events"], 1000)
        old.kill9()  # version-1 merge operands left in the WAL

        new = self.server(clx.BINARY, token)
        after = self.reads(new)
        self.assertEqual(after, before)
        self.old_events_read_back(new)
        # new ingestion adds version-2 operands onto version-1 records
        self.ingest(new, key, "c", 4)
        total = self.reads(new)["usage/overview"]["totals"]
        self.assertEqual(total["events"], 1200)
        old_cost = Decimal(before["usage/overview"]["totals"]["costUsd"])
        self.assertGreater(Decimal(total["costUsd"]), old_cost)
        events = new.all_events()
        self.assertEqual(len(events), 1200)
        self.assertEqual(Decimal(total["costUsd"]), sum(Decimal(e.get("costUsd") or 0) for e in events))
        self.assertEqual(total["inputTokens"], sum(e["inputTokens"] for e in events))
        mid = self.reads(new)
        new.restart()
        self.assertEqual(self.reads(new), mid)
        # the settings written by the older binary work: the key still ingests, a repeat is skipped
        st, js, raw = new.ingest(key, event("a-0-1", feature="feat-1", inputTokens=1001, outputTokens=50))
        self.assertEqual(raw, clx.SKIP1)
        # an old event sent again unchanged is a duplicate (its fingerprint did not move), and one
        # sent with a new field set is a conflict (a batch of them: every fingerprint kind)
        st, js, raw = new.ingest(key, {"events": [
            event("a-0-%d" % i, feature="feat-%d" % (i % 4), inputTokens=1000 + i, outputTokens=50,
                  **({"estimatedCostUsd": "0.%06d" % (i + 1)} if i % 3 == 0 else {})) for i in range(1, 50)]})
        self.assertEqual((st, js["inserted"], js["skipped"], js.get("warnings", [])), (200, 0, 49, []), raw[:300])
        st, js, raw = new.ingest(key, event("a-0-1", feature="feat-1", inputTokens=1001, outputTokens=50,
                                            userId="someone"))
        self.assertEqual([w["code"] for w in js["warnings"]], ["requestId_conflict"], raw)

    def old_events_read_back(self, srv):
        """Events stored before issue 10: the event time is the arrival time, no user, no tags,
        no token kinds, the standard tier, and no breakdown (none was recorded; none is derived)."""
        events = srv.all_events()
        self.assertEqual(len(events), 1000)
        for e in events:
            self.assertEqual(e["timestamp"], e["receivedAt"])
            self.assertEqual((e["userId"], e["tags"], e["costBreakdown"], e["serviceTier"]),
                             (None, {}, None, "standard"))
            self.assertEqual([e[k] for k in ("cacheWrite1hTokens", "reasoningTokens", "audioInputTokens",
                                             "cachedAudioTokens", "audioOutputTokens", "webSearchCalls")], [0] * 6)


if __name__ == "__main__":
    unittest.main()
