"""A data folder written by costlynxd before the event-time index opens in this one: the
stored events are indexed once at open (docs/design.md, Storage), listed in the same order
with the same totals, and new backdated events are listed and rolled up by their event time.

The older binary is main at PREV_COMMIT (the last commit before the index), built here from
`git archive` into /tmp once (a few minutes; later runs reuse it), or taken from
$CLX_PREVIOUS_INDEXLESS_COSTLYNXD. Without git or a build the test is skipped."""
import datetime
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
from decimal import Decimal

import clx

PREV_COMMIT = "007aedf32471d220c28b5bb0abf8bb951187d5e5"  # main before the event-time index
DAY = 86400
READS = ["usage/overview", "usage/costs?groupBy=project,feature", "usage/costs?groupBy=model,day",
         "usage/events?limit=1000"]


def previous_binary():
    """The older costlynxd, built once from PREV_COMMIT; None when it cannot be had."""
    given = os.environ.get("CLX_PREVIOUS_INDEXLESS_COSTLYNXD")
    if given:
        return given
    root = "/tmp/clx-prev-%s" % PREV_COMMIT[:8]
    binary = os.path.join(root, "src", "build", "costlynxd")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (ctest -j)
        if os.path.exists(binary):
            return binary
        src = os.path.join(root, "src")
        shutil.rmtree(src, ignore_errors=True)
        os.makedirs(src)
        try:
            archive = subprocess.run(["git", "-C", os.environ["CLX_SOURCE_DIR"], "archive", PREV_COMMIT],
                                     capture_output=True, timeout=60, check=True).stdout
            subprocess.run(["tar", "-x", "-C", src], input=archive, check=True, timeout=60)
            subprocess.run(["bash", "scripts/build.sh"], cwd=src, env=dict(os.environ, TARGET="costlynxd"),
                           capture_output=True, timeout=540, check=True)
        except (subprocess.SubprocessError, OSError, KeyError):
            return None
        return binary if os.path.exists(binary) else None


class UpgradeEventTimeTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.previous = previous_binary()

    def setUp(self):
        if self.previous is None:
            self.skipTest("no older costlynxd (git archive %s and its build failed)" % PREV_COMMIT[:8])
        self.tmp = tempfile.mkdtemp(prefix="clx-upgrade-evtime-")
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

    def reads(self, srv):
        out = {}
        for path in READS:
            st, js, raw = srv.admin("GET", "workspaces/default/" + path)
            self.assertEqual(st, 200, raw)
            for k in ("from", "to"):
                js.pop(k, None)
            out[path] = js
        return out

    ADDED_SINCE = {"version"}  # event members the newer binary renders that PREV_COMMIT did not

    def as_before(self, now, before):
        """now's reads with the event members added since PREV_COMMIT taken out of every event (a
        dict with a requestId, wherever a read lists one); before must hold none of them."""
        def strip(x, was):
            if isinstance(x, dict):
                if "requestId" in x:
                    self.assertFalse(self.ADDED_SINCE & set(was or {}), was)
                return {k: strip(v, (was or {}).get(k) if isinstance(was, dict) else None)
                        for k, v in x.items() if not ("requestId" in x and k in self.ADDED_SINCE)}
            if isinstance(x, list):
                return [strip(v, was[i] if isinstance(was, list) and i < len(was) else None) for i, v in enumerate(x)]
            return x
        return strip(now, before)

    def test_older_folder_is_indexed_once(self):
        token = "adm-upgrade-evtime"
        old = self.server(self.previous, token)
        old.create_project("app")
        key = old.create_key(name="k", default_project="app", default_environment="prod")
        # as older callers sent them: no timestamp (placed at arrival), one request each
        for i in range(3):
            ev = clx.event("o%d" % i, inputTokens=1000 * (i + 1), outputTokens=100, userId="u%d" % (i % 2))
            st, js, raw = old.ingest(key, ev)
            self.assertEqual(st, 200, raw)
            time.sleep(0.01)
        before = self.reads(old)
        self.assertEqual([e["requestId"] for e in before["usage/events?limit=1000"]["events"]], ["o2", "o1", "o0"])
        old.stop()

        new = self.server(clx.BINARY, token)
        self.assertIn("indexed 3 stored events by event time", new.logs().decode("utf-8", "replace"))
        # same order, same totals, same groups; events read back by a newer binary show what it
        # adds (an event's version, issue 11) and nothing of what they held changes
        self.assertEqual(self.as_before(self.reads(new), before), before)

        # a backdated event lands on its day and after the older events in the list
        today = int(time.time() // DAY * DAY)
        t = today - 2 * DAY + 12 * 3600
        stamp = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        st, js, raw = new.ingest(key, clx.event("n0", inputTokens=2000, outputTokens=0, timestamp=stamp))
        self.assertEqual(st, 200, raw)
        ids = [e["requestId"] for e in new.all_events()]
        self.assertEqual(ids, ["o2", "o1", "o0", "n0"])
        day = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime("%Y-%m-%d")
        nxt = datetime.datetime.fromtimestamp(t + DAY, tz=datetime.timezone.utc).strftime("%Y-%m-%d")
        st, js, raw = new.admin("GET", "workspaces/default/usage/costs?" +
                                urllib.parse.urlencode({"groupBy": "day", "from": day, "to": nxt}))
        self.assertEqual(st, 200, raw)
        self.assertEqual([(r["day"][:10], int(r["events"])) for r in js["rows"]], [(day, 1)])
        self.assertEqual(Decimal(js["total"]["costUsd"]), Decimal(2000 * 150) / 10 ** 9)  # gpt-4o-mini $0.15/M

        # once: a restart does not index again, and reads the same
        mid = self.reads(new)
        new.restart()
        self.assertEqual(new.logs().decode("utf-8", "replace").count("indexed 3 stored events"), 1)
        self.assertEqual(self.reads(new), mid)


if __name__ == "__main__":
    unittest.main()
