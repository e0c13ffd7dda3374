"""SIGTERM under load — what a Kubernetes rolling update or `docker stop` does to costlynxd.

The real binary ($COSTLYNXD) on free loopback ports; 8 keep-alive clients send one event per
request, each with a unique requestId; SIGTERM after ~1.5 s. Then:
  - costlynxd exits 0 within its grace period (no SIGKILL needed);
  - every request got an answer: 200, or 503 with Retry-After, or — only after the shutdown
    began — a refused or reset connection; no request hangs (client timeouts are failures);
  - after a restart on the same data folder every acknowledged (200, inserted 1) requestId is
    stored exactly once, no requestId is stored twice, nothing answered 503 was stored, and
    nothing was stored that was not sent.
The same again with costlynxd as PID 1 of its own PID namespace (as in a container: the kernel
drops signals PID 1 has no handler for), when this runs as root with unshare.
"""
import collections
import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

import deploylib

THREADS = 8
LOAD_BEFORE_SIGTERM = 1.5   # seconds
SHUTDOWN_GRACE_MS = 10000   # the binary's default, passed explicitly
CLIENT_TIMEOUT = 15.0       # a request unanswered this long is a hang
EXIT_TIMEOUT = SHUTDOWN_GRACE_MS / 1000 + 10
INGEST = "/api/v1/usage/ingest"


def event(rid):
    return {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 10, "outputTokens": 5, "requestId": rid}


class Load:
    """8 client threads; every request's outcome is recorded."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.lock = threading.Lock()
        self.acked, self.refused_503, self.ambiguous, self.unexpected = [], [], [], []
        self.sent = set()
        self.sigterm_at = None
        self.started = time.monotonic()
        self.threads = [threading.Thread(target=self.worker, args=(t,), daemon=True) for t in range(THREADS)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        return [t for t in self.threads if t.is_alive()]

    def shutting_down(self):
        return self.sigterm_at is not None

    def worker(self, t):
        conn, n = None, 0
        hard_stop = self.started + 60  # bounded whatever happens
        while time.monotonic() < hard_stop:
            if self.shutting_down() and time.monotonic() > self.sigterm_at + EXIT_TIMEOUT:
                break
            n += 1
            rid = "sigterm-%d-%06d" % (t, n)
            with self.lock:
                self.sent.add(rid)
            body = json.dumps(event(rid)).encode()
            sent_at = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
                conn.request("POST", INGEST, body=body,
                             headers={"Content-Type": "application/json", "X-API-Key": self.key})
                resp = conn.getresponse()
                raw = resp.read()
            except TimeoutError as e:
                with self.lock:
                    self.unexpected.append((rid, "no answer within %.0fs (hang)" % CLIENT_TIMEOUT, repr(e)))
                break
            except (ConnectionRefusedError,) as e:
                # nothing was sent: the listener is closed. Fine only once SIGTERM was sent.
                if not self.shutting_down():
                    with self.lock:
                        self.unexpected.append((rid, "connection refused before SIGTERM", repr(e)))
                with self.lock:
                    self.sent.discard(rid)
                break
            except (OSError, http.client.HTTPException) as e:
                # reset / closed mid-request: the event may or may not be stored (never acknowledged)
                with self.lock:
                    if not self.shutting_down():
                        self.unexpected.append((rid, "connection error before SIGTERM", repr(e)))
                    self.ambiguous.append(rid)
                if conn is not None:
                    conn.close()
                conn = None
                continue  # reconnect: refused (listener closed) ends the thread
            if resp.status == 200:
                js = json.loads(raw)
                with self.lock:
                    if js.get("ok") is True and js.get("inserted") == 1:
                        self.acked.append(rid)
                    else:
                        self.unexpected.append((rid, "200 without insert", raw[:200]))
            elif resp.status == 503:
                with self.lock:
                    if resp.getheader("Retry-After") is None:
                        self.unexpected.append((rid, "503 without Retry-After", raw[:200]))
                    self.refused_503.append((rid, sent_at))
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                time.sleep(0.005)
            else:
                with self.lock:
                    self.unexpected.append((rid, resp.status, raw[:200]))
                break
        if conn is not None:
            conn.close()


class SigtermUnderLoadTest(unittest.TestCase):
    def run_case(self, pid1=False):
        prefix = ["unshare", "--pid", "--fork", "--kill-child"] if pid1 else []
        srv = deploylib.Server(threads=2, prefix=prefix,
                               extra_args=["--shutdown-grace-ms", str(SHUTDOWN_GRACE_MS)])
        try:
            srv.start()
            target = srv.proc.pid
            if pid1:  # the costlynxd that unshare forked: PID 1 inside, some pid outside
                with open("/proc/%d/task/%d/children" % (srv.proc.pid, srv.proc.pid)) as f:
                    kids = f.read().split()
                self.assertEqual(len(kids), 1, kids)
                target = int(kids[0])
                with open("/proc/%d/status" % target) as f:
                    nspid = [l for l in f if l.startswith("NSpid:")][0].split()
                self.assertEqual(nspid[-1], "1", "costlynxd is not PID 1 of its namespace: %r" % nspid)
            key = srv.create_key("sigterm")
            load = Load(srv.port, key)
            load.start()
            time.sleep(LOAD_BEFORE_SIGTERM)
            with load.lock:
                acked_before = len(load.acked)
                alive = srv.proc.poll() is None
            load.sigterm_at = time.monotonic()
            os.kill(target, signal.SIGTERM)
            try:
                rc = srv.proc.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail("costlynxd still running %.0fs after SIGTERM (a pod would be SIGKILLed)\n%s"
                          % (EXIT_TIMEOUT, srv.stderr()[-2000:]))
            stopped_in = time.monotonic() - load.sigterm_at
            hung = load.join(CLIENT_TIMEOUT + 5)
            self.assertTrue(alive, "costlynxd died under load before SIGTERM:\n" + srv.stderr()[-2000:])
            self.assertEqual(hung, [], "client threads still waiting for an answer")
            self.assertEqual(rc, 0, "exit status after SIGTERM; stderr:\n" + srv.stderr()[-2000:])
            self.assertIn("stopped cleanly", srv.stderr())
            self.assertLess(stopped_in, SHUTDOWN_GRACE_MS / 1000 + 5)
            self.assertEqual(load.unexpected, [], "requests without a proper answer")
            self.assertGreater(acked_before, 20, "too little load before SIGTERM to mean anything")
            self.assertEqual(len(load.acked), len(set(load.acked)))

            srv.prefix = []  # restart on the same data folder, as the next pod would
            srv.start()
            stored = collections.Counter(srv.all_event_ids())
            self.assertEqual({r: c for r, c in stored.items() if c > 1}, {}, "requestIds stored twice")
            lost = [r for r in load.acked if stored[r] != 1]
            self.assertEqual(lost, [], "%d of %d acknowledged events missing after the restart"
                             % (len(lost), len(load.acked)))
            stored_503 = [r for r, _ in load.refused_503 if stored[r]]
            self.assertEqual(stored_503, [], "answered 503 (nothing stored, retry) but stored")
            self.assertEqual(set(stored) - load.sent, set(), "stored events nobody sent")
            self.assertEqual(srv.stop(), 0)
            return load, stopped_in
        finally:
            srv.cleanup()

    def test_sigterm_under_load(self):
        load, stopped_in = self.run_case()
        print("\n  %d acknowledged, %d answered 503, %d cut mid-request; exit %.2fs after SIGTERM"
              % (len(load.acked), len(load.refused_503), len(load.ambiguous), stopped_in))

    def test_sigterm_as_pid1(self):
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare for a PID namespace")
        probe = subprocess.run(["unshare", "--pid", "--fork", "--kill-child", "true"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10)
        if probe.returncode != 0:
            self.skipTest("PID namespaces are not available here")
        load, stopped_in = self.run_case(pid1=True)
        print("\n  PID 1: %d acknowledged, %d answered 503, %d cut mid-request; exit %.2fs after SIGTERM"
              % (len(load.acked), len(load.refused_503), len(load.ambiguous), stopped_in))


if __name__ == "__main__":
    unittest.main()
