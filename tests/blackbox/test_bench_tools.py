"""The benchmark's own tools tell the truth (bench/table.sh builds issue 15's table on them).

bench/h2_load (HTTP/2 prior knowledge with a fresh requestId per request) against the real
costlynxd: every request it counts as done is an event stored once (costlynxd's own counters
and event list agree), every requestId has the length asked for, and a run whose answers are
duplicates ("skipped") fails instead of passing as ingestion. bench/disk_bench on the stopped
server's folder counts exactly the stored events. Skipped when the tools are not built (h2_load
needs libnghttp2-dev).
"""
import os
import re
import subprocess
import unittest

import clx

BENCH = os.path.join(os.path.dirname(os.path.abspath(clx.BINARY)), "bench")
H2_LOAD = os.path.join(BENCH, "h2_load")
DISK_BENCH = os.path.join(BENCH, "disk_bench")


def result(out):
    lines = [line for line in out.splitlines() if line.startswith("RESULT")]
    if not lines:
        raise AssertionError("no RESULT line in %r" % out)
    return {k: v for k, v in re.findall(r"(\w+)=([0-9.]+)", lines[-1])}


def inserted(srv):
    st, _, raw = srv.request("GET", "/metrics")
    m = re.search(rb'^costlynx_events_total\{outcome="inserted"\} (\d+)$', raw, re.M)
    return int(m.group(1))


@unittest.skipUnless(os.access(H2_LOAD, os.X_OK) and os.access(DISK_BENCH, os.X_OK),
                     "bench/h2_load or bench/disk_bench not built (libnghttp2-dev)")
class BenchToolsTest(unittest.TestCase):
    def setUp(self):
        self.srv = clx.Server()
        self.addCleanup(self.srv.cleanup)
        self.srv.create_project("bench")
        self.key = self.srv.create_key(name="bench")
        self.addr = "127.0.0.1:%d" % self.srv.port

    def h2_load(self, *args):
        p = subprocess.run([H2_LOAD, "--addr", self.addr, *args], capture_output=True, text=True, timeout=60)
        return p.returncode, result(p.stdout), p.stderr

    def test_h2_load_counts_only_stored_events_and_disk_bench_counts_them(self):
        rc, r, err = self.h2_load("--key", self.key, "--connections", "4", "--streams", "4", "--seconds", "1",
                                  "--id-len", "33", "--run-id", "bt")
        self.assertEqual(rc, 0, err)
        n = int(r["requests"])
        self.assertGreater(n, 100)
        self.assertEqual(r["errors"], "0")
        self.assertEqual(inserted(self.srv), n)
        events = self.srv.all_events()
        self.assertEqual(len(events), n)
        ids = {e["requestId"] for e in events}
        self.assertEqual(len(ids), n)
        self.assertEqual({len(i) for i in ids}, {33})
        self.assertTrue(all(i.startswith("bt-") for i in ids))

        # the ceiling mode posts to /healthz and stores nothing
        rc, r, err = self.h2_load("--mode", "ceiling", "--connections", "2", "--streams", "2", "--seconds", "1")
        self.assertEqual(rc, 0, err)
        self.assertGreater(int(r["requests"]), 100)
        self.assertEqual(inserted(self.srv), n)

        # the same ids again (no random tail): the answers are "skipped", and the run fails
        args = ("--key", self.key, "--connections", "1", "--streams", "1", "--seconds", "1", "--run-id", "dup",
                "--threads", "1")
        rc, first, err = self.h2_load(*args)
        self.assertEqual(rc, 0, err)
        rc, again, err = self.h2_load(*args)
        self.assertEqual(rc, 1)
        self.assertGreater(int(again["errors"]), 0)
        self.assertIn('"skipped":1', err)
        total = inserted(self.srv)
        self.assertEqual(total, n + int(first["requests"]) + int(again["requests"]))

        # disk_bench: the stopped server's folder, fully compacted, holds exactly those events
        self.srv.stop()
        p = subprocess.run([DISK_BENCH, self.srv.data_dir], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        d = result(p.stdout)
        self.assertEqual(int(d["events"]), total)
        self.assertGreater(float(d["bytes_per_event"]), 10)
        self.assertGreater(float(d["events_per_event"]), 0)
        self.assertGreater(float(d["dedup_per_event"]), 0)


if __name__ == "__main__":
    unittest.main()
