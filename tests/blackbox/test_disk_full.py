"""A full disk: costlynxd refuses writes before the disk is exhausted, keeps serving reads, says
why on /readyz, restarts on a full disk (read-only), and resumes by itself when space returns.

Mounts a 64 MiB tmpfs as the data folder's filesystem, so it needs root (skipped otherwise, with
the reason). The disk is filled with a filler file next to the store, then by ingestion itself.
Every acknowledged event must be stored exactly once at the end.
"""
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import clx
from clx import OK1, event

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "grpc"))
import grpc_stubs  # noqa: E402
import grpc  # noqa: E402  (Debian's python3-grpcio)

MiB = 1 << 20
RESERVE = 16 * MiB
TMPFS_SIZE = "64m"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def can_mount_tmpfs():
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs (run the suite as root to cover the full-disk case)"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount not found"
    probe = tempfile.mkdtemp(prefix="clx-tmpfs-probe-")
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], capture_output=True, text=True)
        if p.returncode != 0:
            return "cannot mount a tmpfs here: %s" % p.stderr.strip()
        subprocess.run(["umount", probe], check=True)
        return None
    finally:
        os.rmdir(probe)


SKIP = can_mount_tmpfs()


@unittest.skipIf(SKIP is not None, SKIP or "")
class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="clx-disk-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", self.mnt], check=True)
        self.data = os.path.join(self.mnt, "data")
        self.filler = os.path.join(self.mnt, "filler")
        self.srv = None
        self.acked = []  # requestIds acknowledged as inserted
        self.seq = 0

    def tearDown(self):
        try:
            if self.srv is not None:
                self.srv.cleanup()
        finally:
            subprocess.run(["umount", "-l", self.mnt])
            os.rmdir(self.mnt)

    # ---- helpers ---------------------------------------------------------------------------

    def fill(self, leave):
        """Grows the filler file until at most `leave` bytes are free (0: the disk is exhausted)."""
        chunk = b"\0" * (256 * 1024)
        with open(self.filler, "ab") as f:
            while True:
                room = free_bytes(self.mnt) - leave
                if room <= 0:
                    break
                try:
                    f.write(chunk[:max(4096, min(len(chunk), room))])
                    f.flush()
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC)
                    break
        if leave == 0:
            self.assertLess(free_bytes(self.mnt), 4096 * 2, "the disk should be exhausted")

    def last_stderr(self):
        """What the latest start of costlynxd wrote on stderr."""
        with open(self.srv.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def unfill(self):
        os.unlink(self.filler)

    def batch(self, n=100, feature="f" * 120):
        ids = []
        for _ in range(n):
            self.seq += 1
            ids.append("df-%06d" % self.seq)
        return ids, {"events": [event(r, feature=feature, inputTokens=1000 + len(r), outputTokens=7) for r in ids]}

    def ingest_until_refused(self, limit=5000):
        """Sends 100-event batches until one is refused; returns the refusal (status, headers, body)."""
        for _ in range(limit):
            ids, body = self.batch()
            st, hdrs, raw = self.srv.post_ingest(self.key, body)
            if st == 200:
                js = clx.parse(raw)
                self.assertEqual((js["inserted"], js["skipped"]), (100, 0), raw)
                self.acked.extend(ids)
                continue
            self.refused_ids = ids
            return st, hdrs, raw
        self.fail("the disk never filled up")

    def assert_disk_full_answer(self, st, hdrs, raw):
        self.assertEqual(st, 503, raw)
        js = clx.parse(raw)
        self.assertEqual(js["error"]["code"], "storage_unavailable", raw)
        self.assertIn("disk full", js["error"]["message"], raw)
        self.assertIn("retry-after", hdrs)
        self.assertGreater(int(hdrs["retry-after"]), 0)

    def assert_not_ready(self, *words):
        st, _, raw = self.srv.request("GET", "/readyz")
        self.assertEqual(st, 503, raw)
        js = clx.parse(raw)
        self.assertEqual(js["error"]["code"], "storage_unavailable", raw)
        msg = js["error"]["message"]
        self.assertTrue(msg.startswith("disk full:"), msg)
        for w in words:
            self.assertIn(w, msg)
        return msg

    def assert_ready(self):
        st, _, raw = self.srv.request("GET", "/readyz")
        self.assertEqual((st, clx.parse(raw)), (200, {"ok": True, "ready": True}), raw)

    def wait_ready(self, timeout=60):
        """Waits until /readyz answers 200 (the store found its space again)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, _, _ = self.srv.request("GET", "/readyz")
            if st == 200:
                return
            time.sleep(0.2)
        self.fail("costlynxd did not become ready again within %ds after space was freed; stderr tail:\n%s"
                  % (timeout, self.srv.stderr()[-1500:]))

    def assert_reads_work(self):
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)
        first, last = self.acked[0], self.acked[-1]
        for rid in (first, last):
            ev = self.srv.get_event(rid)
            self.assertIsNotNone(ev, rid)
            self.assertEqual(ev["requestId"], rid)
        evs, _ = self.srv.list_events(limit=5)
        self.assertEqual(len(evs), 5)
        for path in ("usage/overview", "usage/costs?groupBy=feature", "usage/warnings"):
            st, js, raw = self.srv.admin("GET", "workspaces/default/" + path)
            self.assertEqual(st, 200, raw)
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/overview")
        self.assertEqual(js["totals"]["events"], len(self.acked), raw[:300])

    def assert_writes_refused(self):
        _, body = self.batch(1)
        st, hdrs, raw = self.srv.post_ingest(self.key, body["events"][0])
        self.assert_disk_full_answer(st, hdrs, raw)
        # settings writes too, with the same answer
        st, js, raw = self.srv.admin("POST", "workspaces/default/projects", {"slug": "while-full"})
        self.assertEqual(st, 503, raw)
        self.assertEqual(js["error"]["code"], "storage_unavailable", raw)
        self.assertIn("disk full", js["error"]["message"])
        # gRPC: UNAVAILABLE, saying why
        stubs = grpc_stubs.load()
        pb = stubs.usage_pb2
        with grpc.insecure_channel(self.srv.grpc_addr) as ch:
            stub = stubs.usage_pb2_grpc.UsageIngestionStub(ch)
            ev = pb.UsageEvent(provider="openai", model="gpt-4o-mini", input_tokens=3, request_id="df-grpc-refused")
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Ingest(pb.IngestBatch(events=[ev]), metadata=[("x-api-key", self.key)], timeout=15)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("disk full", cm.exception.details())

    def start(self):
        self.srv = clx.Server(data_dir=self.data, grpc=True, extra_args=["--disk-reserve", "16MiB"])

    def audit(self):
        stored = {}
        for e in self.srv.all_events():
            stored[e["requestId"]] = stored.get(e["requestId"], 0) + 1
        dups = {r: c for r, c in stored.items() if c > 1}
        self.assertEqual(dups, {})
        missing = [r for r in self.acked if r not in stored]
        self.assertEqual(missing, [], "%d acknowledged events lost" % len(missing))
        self.assertEqual(set(stored), set(self.acked), "stored events nobody acknowledged")
        st, js, raw = self.srv.admin("GET", "workspaces/default/usage/overview")
        self.assertEqual(js["totals"]["events"], len(self.acked))
        want_in = sum(1000 + len(r) for r in self.acked)
        self.assertEqual(js["totals"]["inputTokens"], want_in)
        self.assertEqual(js["totals"]["outputTokens"], 7 * len(self.acked))

    # ---- the story ---------------------------------------------------------------------------

    def test_full_disk(self):
        os.mkdir(self.data)
        self.start()
        self.srv.create_project("disk")
        self.key = self.srv.create_key(name="disk", default_project="disk", default_environment="prod")

        # 1. ingestion fills the disk: refused with 503 before it is exhausted
        self.fill(RESERVE + 10 * MiB)
        st, hdrs, raw = self.ingest_until_refused()
        self.assertGreater(len(self.acked), 1000)
        self.assert_disk_full_answer(st, hdrs, raw)
        left = free_bytes(self.mnt)
        self.assertGreaterEqual(left, RESERVE, "writes went into the reserve: %d bytes free" % left)
        self.assert_writes_refused()
        msg = self.assert_not_ready("too little to keep")
        self.assertIn("16.0 MiB reserve", msg)
        self.assert_reads_work()
        self.assertIn("disk full", self.srv.stderr())
        st, _, raw = self.srv.request("GET", "/metrics")
        self.assertIn(b"costlynx_store_writable 0\n", raw)
        self.assertTrue(self.srv.alive())

        # 2. space comes back: the same request goes through, no restart
        self.unfill()
        st, _, raw = self.srv.post_ingest(self.key, {"events": [event(r, feature="f" * 120,
                                                                      inputTokens=1000 + len(r), outputTokens=7)
                                                                for r in self.refused_ids]})
        self.assertEqual(st, 200, raw)
        self.assertEqual(clx.parse(raw)["inserted"], 100)
        self.acked.extend(self.refused_ids)
        self.assert_ready()
        st, js, raw = self.srv.admin("POST", "workspaces/default/projects", {"slug": "after-full"})
        self.assertEqual(st, 201, raw)

        # 3. below the reserve again, then a clean stop and a restart: it starts, says why
        self.fill(RESERVE // 2)
        self.assert_writes_refused()
        self.srv.stop()  # exit status 0
        self.srv.start()
        self.assertIn("disk full", self.last_stderr())
        self.assert_not_ready()
        self.assert_reads_work()
        self.assert_writes_refused()

        # 4. crash on the full disk, exhaust it completely, restart: read-only, reads served
        self.srv.kill9()
        self.fill(0)
        self.srv.start()
        self.assertTrue(self.srv.alive())
        self.assertIn("READ-ONLY", self.last_stderr())
        self.assert_not_ready("read-only")
        self.assert_reads_work()
        self.assert_writes_refused()
        st, _, raw = self.srv.request("GET", "/metrics")
        self.assertIn(b"costlynx_store_read_only 1\n", raw)
        # a second restart on the exhausted disk does not loop either
        self.srv.stop()
        self.srv.start()
        self.assert_not_ready("read-only")
        self.assert_reads_work()

        # 5. space comes back: the store reopens read-write by itself and ingest resumes
        self.unfill()
        self.wait_ready()
        self.assertIn("reopened read-write", self.last_stderr())
        ids, body = self.batch()
        st, _, raw = self.srv.post_ingest(self.key, body)
        self.assertEqual(st, 200, raw)
        self.assertEqual(clx.parse(raw)["inserted"], 100, raw)
        self.acked.extend(ids)
        st, _, raw = self.srv.post_ingest(self.key, event("df-single-after", inputTokens=1000 + 15, outputTokens=7))
        self.assertEqual((st, raw), (200, OK1))
        self.acked.append("df-single-after")

        # 6. nothing acknowledged was lost or doubled, and totals agree — also after a restart
        self.audit()
        self.srv.restart()
        self.audit()


if __name__ == "__main__":
    unittest.main()
