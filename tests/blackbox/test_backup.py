"""Backups you can restore: POST /api/v1/admin/backup and `costlynxd ctl backup DIR` while
ingestion runs, then a second costlynxd started on the copy.

The restored store must hold every event acknowledged before the backup began, exactly once,
exactly the events up to the sequence number the backup reports (no torn group), and totals
equal to the sum of the events it holds — the same as the live server's for those events.
"""
import collections
import http.client
import json
import os
import shutil
import tempfile
import threading
import time
import unittest
from decimal import Decimal

import clx
from clx import event

INGEST = "/api/v1/usage/ingest"


class Load:
    """Threads sending 20-event batches until stopped; records every acknowledged id in order."""

    def __init__(self, srv, key, prefix, threads=4):
        self.srv, self.key, self.prefix = srv, key, prefix
        self.acked, self.lock, self.stop = [], threading.Lock(), threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, t):
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        b = 0
        while not self.stop.is_set():
            ids = ["%s-%d-%05d-%02d" % (self.prefix, t, b, i) for i in range(20)]
            evs = [event(r, inputTokens=100 + i, outputTokens=7 + t, feature="f%d" % (i % 3),
                         **({"estimatedCostUsd": "0.00%d1" % i} if i % 4 == 0 else {}))
                   for i, r in enumerate(ids)]
            try:
                conn.request("POST", INGEST, body=json.dumps({"events": evs}).encode(),
                             headers={"Content-Type": "application/json", "X-API-Key": self.key})
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                return
            if resp.status == 200 and json.loads(raw)["inserted"] == 20:
                with self.lock:
                    self.acked.extend(ids)
            else:
                self.errors.append((resp.status, raw[:200]))
                return
            b += 1
        conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.acked)

    def wait_for(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.snapshot()) < n and time.monotonic() < deadline and not self.errors:
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "load threads hung"


class BackupTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="clx-backup-test-")
        self.backups = os.path.join(self.tmp, "backups")
        self.srv = clx.Server(extra_args=["--backup-dir", self.backups, "--backup-keep", "3"])
        self.srv.create_project("bk")
        self.key = self.srv.create_key(name="bk", default_project="bk", default_environment="prod")
        self.others = []

    def tearDown(self):
        for s in self.others:
            s.cleanup()
        self.srv.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def backup(self, body=None, token=None):
        return self.srv.admin("POST", "backup", body if body is not None else {}, token=token)

    def restore(self, path):
        srv = clx.Server(data_dir=path, admin_token=self.srv.admin_token)
        self.others.append(srv)
        return srv

    def check_restored(self, live, restored, before, sequence):
        """Every id acknowledged before the backup is there once; exactly `sequence` events; exact totals."""
        events = restored.all_events()
        ids = collections.Counter(e["requestId"] for e in events)
        self.assertEqual({r: c for r, c in ids.items() if c > 1}, {}, "events stored twice in the backup")
        missing = [r for r in before if r not in ids]
        self.assertEqual(missing, [], "%d events acknowledged before the backup are missing" % len(missing))
        self.assertEqual(len(events), sequence, "the backup holds events up to its sequence number, no more or less")
        st, js, raw = restored.admin("GET", "workspaces/default/usage/overview")
        self.assertEqual(st, 200, raw)
        t = js["totals"]
        self.assertEqual(t["events"], len(events))
        self.assertEqual(t["inputTokens"], sum(e["inputTokens"] for e in events))
        self.assertEqual(t["outputTokens"], sum(e["outputTokens"] for e in events))
        self.assertEqual(Decimal(t["costUsd"]), sum(Decimal(e["costUsd"] or 0) for e in events))
        st, js, raw = restored.admin("GET", "workspaces/default/usage/costs?groupBy=feature")
        self.assertEqual(Decimal(js["total"]["costUsd"]), Decimal(t["costUsd"]))
        # the acknowledged events are the live server's, field for field, and so their totals
        by_id = {e["requestId"]: e for e in events}
        live_by_id = {e["requestId"]: e for e in live.all_events()}
        for r in before:
            self.assertEqual(by_id[r], live_by_id[r])
        self.assertEqual(sum(Decimal(by_id[r]["costUsd"] or 0) for r in before),
                         sum(Decimal(live_by_id[r]["costUsd"] or 0) for r in before))
        # the restored store is a working store: its key ingests, and a repeat is skipped
        st, js, raw = restored.ingest(self.key, {"events": [event(before[0], inputTokens=100, outputTokens=7,
                                                                  feature="f0", estimatedCostUsd="0.001")]})
        self.assertEqual((st, js["skipped"]), (200, 1), raw)
        st, _, raw = restored.post_ingest(self.key, event("after-restore-1"))
        self.assertEqual(st, 200, raw)

    def test_backup_during_ingestion_restores(self):
        load = Load(self.srv, self.key, "http")
        try:
            load.wait_for(400)
            before = load.snapshot()  # acknowledged before the backup begins
            st, info, raw = self.backup()
            after_backup = len(load.snapshot())
            load.wait_for(after_backup + 200)
        finally:
            load.finish()
        self.assertEqual(load.errors, [])
        self.assertEqual(st, 201, raw)
        self.assertGreater(len(before), 0)
        self.assertEqual(info["ok"], True)
        self.assertTrue(info["name"].startswith("costlynx-"), info)
        self.assertEqual(info["path"], os.path.join(os.path.realpath(self.backups), info["name"]))
        self.assertTrue(os.path.isfile(os.path.join(info["path"], "CURRENT")))
        self.assertGreater(info["bytes"], 0)
        self.assertGreaterEqual(info["sequence"], len(before))
        self.assertLess(info["sequence"], len(load.snapshot()), "ingestion went on during the backup")
        self.assertIn("backup", self.srv.stderr())
        # restore: a second costlynxd on a copy of the backup (the backup itself stays as made)
        copy = os.path.join(self.tmp, "restored")
        shutil.copytree(info["path"], copy)
        restored = self.restore(copy)
        self.check_restored(self.srv, restored, before, info["sequence"])

    def test_ctl_backup_copies_to_dir(self):
        load = Load(self.srv, self.key, "ctl")
        target = os.path.join(self.tmp, "ctl-copy")
        try:
            load.wait_for(200)
            before = load.snapshot()
            rc, out, err = self.srv.ctl("backup", target, timeout=120)
        finally:
            load.finish()
        self.assertEqual(load.errors, [])
        self.assertEqual(rc, 0, err)
        info = json.loads(out.decode().split("\n", 1)[0])
        self.assertIn(b"restore: costlynxd --data-dir " + target.encode(), out)
        restored = self.restore(target)
        self.check_restored(self.srv, restored, before, info["sequence"])
        # into a folder that is not empty: refused, nothing overwritten
        rc, out, err = self.srv.ctl("backup", target)
        self.assertEqual(rc, 1)
        self.assertIn(b"must be a new or empty folder", err)

    def test_keep_and_refusals(self):
        names = []
        for i in range(4):
            st, info, raw = self.backup()
            self.assertEqual(st, 201, raw)
            names.append(info["name"])
        self.assertEqual(info["deleted"], [names[0]])
        self.assertEqual(sorted(os.listdir(self.backups)), names[1:])
        # the caller chooses no path and no name
        for body in ({"path": "/tmp/x"}, {"name": "../../etc"}, {"dir": self.tmp}):
            st, js, raw = self.backup(body)
            self.assertEqual(st, 400, raw)
            self.assertEqual((js["error"]["code"], js["error"]["field"]), ("invalid_body", list(body)[0]))
        self.assertEqual(sorted(os.listdir(self.backups)), names[1:])
        st, js, raw = self.srv.request("POST", "/api/v1/admin/backup?path=/tmp/x",
                                       headers={"Authorization": "Bearer " + self.srv.admin_token})
        self.assertEqual(st, 201, raw)  # query parameters are ignored: still under --backup-dir
        self.assertEqual(os.path.dirname(clx.parse(raw)["path"]), os.path.realpath(self.backups))
        # admin token required
        st, js, raw = self.backup(token=False)
        self.assertEqual(st, 401, raw)
        st, js, raw = self.backup(token="wrong")
        self.assertEqual(st, 401, raw)
        # a server without --backup-dir says how to turn backups on
        plain = clx.Server()
        self.others.append(plain)
        st, js, raw = plain.admin("POST", "backup", {})
        self.assertEqual((st, js["error"]["code"]), (409, "backup_not_configured"), raw)
        self.assertIn("--backup-dir", js["error"]["message"])

    def test_backup_dir_inside_data_dir_refused(self):
        tmp = tempfile.mkdtemp(prefix="clx-backup-inside-")
        try:
            data = os.path.join(tmp, "data")
            with self.assertRaises(AssertionError) as cm:
                s = clx.Server(data_dir=data, extra_args=["--backup-dir", os.path.join(data, "backups")])
                self.others.append(s)
            self.assertIn("must be outside the data folder", str(cm.exception))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
