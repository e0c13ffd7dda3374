"""Durability and exactly-once: restarts, concurrent duplicates, and kill -9 under load."""
import collections
import http.client
import json
import threading
import time
import unittest

import clx
from clx import OK1, SKIP1, event

INGEST = "/api/v1/usage/ingest"


class DurabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.srv.create_project("dur")
        cls.key = cls.srv.create_key(name="durability", default_project="dur", default_environment="prod")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_restart_keeps_dedup(self):
        e = event("restart-1", outputTokens=77)
        st, _, raw = self.srv.post_ingest(self.key, e)
        self.assertEqual((st, raw), (200, OK1))
        self.srv.stop()  # SIGTERM; asserts exit status 0
        self.assertFalse(self.srv.alive())
        self.srv.start()
        st, _, raw = self.srv.post_ingest(self.key, e)
        self.assertEqual((st, raw), (200, SKIP1))
        ev = self.srv.get_event("restart-1")
        self.assertEqual((ev["outputTokens"], ev["project"], ev["environment"]), (77, "dur", "prod"))
        ids = [x["requestId"] for x in self.srv.all_events()]
        self.assertEqual(ids.count("restart-1"), 1)
        # and a new id still inserts after the restart
        st, _, raw = self.srv.post_ingest(self.key, event("restart-2"))
        self.assertEqual((st, raw), (200, OK1))

    def test_concurrent_duplicates_insert_once(self):
        n = 50
        body = json.dumps(event("race-one-id", inputTokens=123, outputTokens=45)).encode()
        barrier = threading.Barrier(n, timeout=30)
        results = [None] * n

        def sender(i):
            conn = self.srv.connect(timeout=30)
            try:
                conn.connect()
                barrier.wait()
                conn.request("POST", INGEST, body=body,
                             headers={"Content-Type": "application/json", "X-API-Key": self.key})
                resp = conn.getresponse()
                results[i] = (resp.status, resp.read())
            except Exception as e:  # recorded, asserted below
                results[i] = ("exception", repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "senders hung")
        counts = collections.Counter(results)
        self.assertEqual(counts[(200, OK1)], 1, counts)
        self.assertEqual(counts[(200, SKIP1)], n - 1, counts)
        ids = [x["requestId"] for x in self.srv.all_events()]
        self.assertEqual(ids.count("race-one-id"), 1)
        self.assertEqual(self.srv.get_event("race-one-id")["inputTokens"], 123)

    def test_concurrent_overlapping_batches(self):
        # 20 senders, each a batch of the same 10 ids in a different order: each id inserted exactly once
        n, ids = 20, ["overlap-%02d" % i for i in range(10)]
        barrier = threading.Barrier(n, timeout=30)
        results = [None] * n

        def sender(i):
            order = ids[i % 10:] + ids[:i % 10]
            body = json.dumps({"events": [event(r) for r in order]}).encode()
            conn = self.srv.connect(timeout=30)
            try:
                conn.connect()
                barrier.wait()
                conn.request("POST", INGEST, body=body,
                             headers={"Content-Type": "application/json", "X-API-Key": self.key})
                resp = conn.getresponse()
                results[i] = (resp.status, json.loads(resp.read()))
            except Exception as e:
                results[i] = ("exception", repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertTrue(all(r is not None and r[0] == 200 for r in results), results)
        self.assertEqual(sum(r[1]["inserted"] for r in results), 10, results)
        self.assertEqual(sum(r[1]["skipped"] for r in results), n * 10 - 10, results)
        stored = collections.Counter(x["requestId"] for x in self.srv.all_events())
        self.assertEqual({r: stored[r] for r in ids}, {r: 1 for r in ids})

    def test_survives_concurrent_keepalive_load(self):
        # 16 keep-alive clients, one event per request, against 2 event loops: the server must stay up
        rounds, nthreads, seconds = 3, 16, 3.5
        for rnd in range(rounds):
            srv = clx.Server(threads=2)
            try:
                key = srv.create_key(name="load")
                acked, lock, stop = [], threading.Lock(), threading.Event()
                started = time.monotonic()

                def worker(t):
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                    for b in range(100000):
                        if stop.is_set() or time.monotonic() - started > seconds:
                            break
                        rid = "ld-%d-%d-%d" % (rnd, t, b)
                        try:
                            conn.request("POST", INGEST, body=json.dumps(event(rid)).encode(),
                                         headers={"Content-Type": "application/json", "X-API-Key": key})
                            resp = conn.getresponse()
                            raw = resp.read()
                        except (OSError, http.client.HTTPException):
                            break
                        if resp.status == 200 and json.loads(raw)["inserted"] == 1:
                            with lock:
                                acked.append(rid)
                    conn.close()

                threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
                for t in threads:
                    t.start()
                while time.monotonic() - started < seconds and srv.alive():
                    time.sleep(0.05)
                alive = srv.alive()
                stop.set()
                for t in threads:
                    t.join(30)
                self.assertTrue(alive, "round %d: costlynxd died under concurrent load (exit %r) after %d "
                                "acknowledged requests; stderr tail:\n%s"
                                % (rnd, srv.proc.returncode, len(acked), srv.stderr()[-1500:]))
                self.assertGreater(len(acked), 0)
                stored = collections.Counter(e["requestId"] for e in srv.all_events(limit=1000))
                self.assertEqual([r for r in acked if stored[r] != 1], [])
                srv.stop()  # exit 0
            finally:
                srv.cleanup()

    def test_kill9_during_load_keeps_every_acknowledged_event(self):
        srv = clx.Server()
        try:
            srv.create_project("load")
            key = srv.create_key(name="load", default_project="load", default_environment="prod")
            acked, lock = [], threading.Lock()
            unexpected = []
            stop = threading.Event()
            nthreads, batch, max_batches, max_seconds = 8, 10, 2000, 3.0
            started = time.monotonic()

            def worker(t):
                conn = None
                for b in range(max_batches):
                    if stop.is_set() or time.monotonic() - started > max_seconds:
                        break
                    rids = ["k9-%d-%05d-%d" % (t, b, i) for i in range(batch)]
                    body = json.dumps({"events": [event(r) for r in rids]}).encode()
                    try:
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                        conn.request("POST", INGEST, body=body,
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
                        resp = conn.getresponse()
                        raw = resp.read()
                    except (OSError, http.client.HTTPException):
                        break  # the server is gone: this batch was never acknowledged
                    if resp.status == 200 and json.loads(raw) == {"ok": True, "inserted": batch, "skipped": 0}:
                        with lock:
                            acked.extend(rids)
                    elif resp.status != 503:  # 503 = not stored, retry later: allowed under load
                        with lock:
                            unexpected.append((resp.status, raw[:300]))
                        break
                if conn is not None:
                    conn.close()

            threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
            for t in threads:
                t.start()
            time.sleep(1.5)
            with lock:
                acked_before_kill = len(acked)
            alive_at_kill = srv.alive()
            srv.kill9()  # mid-load
            stop.set()
            for t in threads:
                t.join(30)
            self.assertFalse(any(t.is_alive() for t in threads), "load threads hung")
            self.assertTrue(alive_at_kill, "costlynxd died under load before the kill (exit %r); stderr tail:\n%s"
                            % (srv.proc.returncode, srv.stderr()[-3000:]))
            self.assertEqual(unexpected, [])
            self.assertGreater(acked_before_kill, 0, "no batch was acknowledged before the kill")
            self.assertEqual(srv.proc.returncode, -9)

            srv.start()  # same data folder
            stored = collections.Counter(e["requestId"] for e in srv.all_events(limit=1000))
            dups = {r: c for r, c in stored.items() if c > 1}
            self.assertEqual(dups, {}, "requestIds stored more than once")
            missing = [r for r in acked if stored[r] != 1]
            self.assertEqual(len(missing), 0, "%d of %d acknowledged events lost after kill -9, e.g. %r"
                             % (len(missing), len(acked), missing[:5]))
            self.assertEqual(len(acked), len(set(acked)))
            # every stored id is one the load generated (nothing invented)
            self.assertTrue(all(r.startswith("k9-") for r in stored), list(stored)[:5])
            # re-sending an acknowledged batch after recovery is deduplicated
            some = acked[:batch]
            st, _, raw = srv.post_ingest(key, {"events": [event(r) for r in some]})
            self.assertEqual(st, 200, raw)
            self.assertEqual(json.loads(raw)["inserted"], 0, raw)
            srv.stop()
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
