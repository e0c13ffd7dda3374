"""
test_import.py — POST /api/v1/usage/import (NDJSON bulk backfill) and `costlynxd ctl import`,
against the real binary: bad lines reported by their file line numbers while the rest is stored,
gzip bodies (also corrupt and truncated ones), the same file again all skipped, files sent in
parts by the ctl tool, auth and media-type refusals, and the server's peak memory while a file
that inflates to ~200 MB is imported.

Money is hand-computed: gpt-4o-mini costs $0.15 / $0.60 per million input / output tokens
(pricing/catalog/prices.csv), so an event of 10 input and 5 output tokens costs
10 * 150 + 5 * 600 = 4,500 nano-dollars.
"""
import gzip
import json
import os
import subprocess
import tempfile
import unittest
from decimal import Decimal

import clx

NDJSON = {"Content-Type": "application/x-ndjson"}
NANOS_PER_EVENT = 10 * 150 + 5 * 600  # 4,500 nano-dollars (see the module doc)


def line(rid, **kw):
    return json.dumps(clx.event(rid, **kw), separators=(",", ":"))


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def reset_hwm(pid):
    """Resets the peak RSS to the current RSS (Linux: writing 5 to clear_refs)."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


class ImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(extra_args=("--import-max-body-bytes", "4000000"))
        cls.key = cls.srv.create_key(name="importer")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def post(self, body, key=None, headers=None, query=""):
        h = dict(NDJSON)
        h["X-API-Key"] = self.key if key is None else key
        if key is False:
            del h["X-API-Key"]
        h.update(headers or {})
        st, rh, raw = self.srv.request("POST", "/api/v1/usage/import" + query, body, h)
        return st, clx.parse(raw), raw

    def overview(self, ws="default"):
        st, js, raw = self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)
        self.assertEqual(st, 200, raw)
        return js["totals"]

    def test_bad_lines_reported_by_line_rest_stored_and_again_all_skipped(self):
        ws = "imp-bad"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        rows = [line("bad-%03d" % i) for i in range(300)]
        rows[4] = "{not json"  # line 5
        rows[99] = line("bad-099", inputTokens=-1)  # line 100: names the field
        rows[100] = ""  # line 101: blank, ignored
        rows[150] = "   "  # line 151: blank
        rows[200] = json.dumps({"events": [clx.event("x")]})  # line 201: an envelope, not an event
        rows[250] = line("bad-250", provider=None)  # line 251: a missing field
        body = "\r\n".join(rows[:200]) + "\n" + "\n".join(rows[200:])  # CRLF and LF, no final newline
        st, js, raw = self.post(body, key=key)
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["ok"], js["inserted"], js["skipped"], js["rejected"], js["lines"]),
                         (True, 294, 0, 4, 300), raw[:400])
        got = [(e["line"], e["field"], e["code"]) for e in js["errors"]]
        self.assertEqual([g[0] for g in got], [5, 100, 201, 251], raw)
        self.assertEqual(got[0][2], "invalid_json")
        self.assertEqual(got[1][1:], ("inputTokens", "invalid_value"))
        self.assertEqual(got[2][2], "invalid_body")
        self.assertEqual(got[3][1:], ("provider", "missing_field"))
        self.assertEqual(js["errors"][1]["requestId"], "bad-099")
        # stored: every good line, none of the bad ones, exact to the nano
        self.assertIsNotNone(self.srv.get_event("bad-000", ws=ws))
        self.assertIsNotNone(self.srv.get_event("bad-299", ws=ws))
        self.assertIsNone(self.srv.get_event("bad-099", ws=ws))
        self.assertIsNone(self.srv.get_event("bad-250", ws=ws))
        t = self.overview(ws)
        self.assertEqual(t["events"], 294)
        self.assertEqual(t["inputTokens"], 294 * 10)
        self.assertEqual(Decimal(t["costUsd"]), Decimal(294 * NANOS_PER_EVENT) / 10 ** 9)
        # the same file again: all skipped, the same errors, totals unchanged
        st, js2, raw = self.post(body, key=key)
        self.assertEqual(st, 200, raw)
        self.assertEqual((js2["inserted"], js2["skipped"], js2["rejected"]), (0, 294, 4), raw[:400])
        self.assertEqual([e["line"] for e in js2["errors"]], [5, 100, 201, 251])
        self.assertEqual(self.overview(ws)["events"], 294)

    def test_gzip_body_and_broken_gzip(self):
        ws = "imp-gz"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        rows = [line("gz-%04d" % i) for i in range(1000)]
        rows[776] = '{"provider":"openai"'  # line 777: cut JSON
        body = gzip.compress(("\n".join(rows) + "\n").encode())
        st, js, raw = self.post(body, key=key, headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 200, raw)
        self.assertEqual((js["inserted"], js["rejected"], js["lines"]), (999, 1, 1000), raw[:400])
        self.assertEqual(js["errors"][0]["line"], 777)
        self.assertEqual(self.overview(ws)["events"], 999)
        # two gzip members are one stream, as gzip(1) reads them
        two = gzip.compress((line("gz-m1") + "\n").encode()) + gzip.compress((line("gz-m2") + "\n").encode())
        st, js, raw = self.post(two, key=key, headers={"Content-Encoding": "gzip"})
        self.assertEqual((st, js["inserted"], js["lines"]), (200, 2, 2), raw)
        # truncated: the lines before the cut are imported, the answer says where it stopped
        whole = gzip.compress(("\n".join(line("gzt-%04d" % i) for i in range(2000)) + "\n").encode())
        st, js, raw = self.post(whole[: len(whole) // 2], key=key, headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 400, raw[:300])
        self.assertEqual((js["ok"], js["error"]["code"], js["error"]["field"]),
                         (False, "invalid_gzip", "Content-Encoding"))
        self.assertGreater(js["inserted"], 0)
        self.assertLess(js["inserted"], 2000)
        self.assertEqual(self.overview(ws)["events"], 1001 + js["inserted"])
        # not gzip at all
        st, js, raw = self.post(b"this is not gzip\n" * 10, key=key, headers={"Content-Encoding": "gzip"})
        self.assertEqual((st, js["error"]["code"], js["inserted"]), (400, "invalid_gzip", 0), raw)

    def test_gzip_body_that_inflates_too_far(self):
        # found by the red team: 2 MB of gzip'd newlines inflate to 2 GB and kept a core busy for
        # 26 s. A gzip body may inflate to 32 times the body limit (here 4,000,000 bytes x 32): past
        # it the import stops with 413, the lines before it imported and counted
        ws = "imp-gz-far"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        head = "".join(line("far-%03d" % i) + "\n" for i in range(300)).encode()
        body = gzip.compress(head + b"\n" * (4000000 * 32 + 1), compresslevel=6)
        self.assertLess(len(body), 4000000)
        st, js, raw = self.post(body, key=key, headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 413, raw[:400])
        self.assertEqual((js["ok"], js["error"]["code"], js["error"]["field"]),
                         (False, "payload_too_large", "Content-Encoding"), raw[:400])
        self.assertIn("inflates to more than 128000000 bytes", js["error"]["message"])
        self.assertEqual(js["inserted"], 300)
        self.assertEqual(self.overview(ws)["events"], 300)
        # just under the bound it is read to its end
        body = gzip.compress(head + b"\n" * (4000000 * 32 - len(head)), compresslevel=6)
        st, js, raw = self.post(body, key=key, headers={"Content-Encoding": "gzip"})
        self.assertEqual((st, js["skipped"]), (200, 300), raw[:400])

    def test_refusals(self):
        body = line("ref-1") + "\n"
        st, js, _ = self.post(body, key=False)
        self.assertEqual((st, js["error"]["code"], js["error"]["field"]), (401, "unauthenticated", "X-API-Key"))
        st, js, _ = self.post(body, key="clx_" + "0" * 40)
        self.assertEqual((st, js["error"]["code"]), (401, "unauthenticated"))
        info = self.srv.create_key_full(name="soon revoked")
        self.srv.revoke_key(info["id"])
        st, js, _ = self.post(body, key=info["key"])
        self.assertEqual(st, 401)
        st, js, _ = self.post(body, headers={"Content-Type": "application/json"})
        self.assertEqual((st, js["error"]["code"], js["error"]["field"]), (415, "unsupported_media_type", "Content-Type"))
        st, js, _ = self.post(body, headers={"Content-Encoding": "br"})
        self.assertEqual((st, js["error"]["code"], js["error"]["field"]), (415, "unsupported_encoding", "Content-Encoding"))
        st, js, _ = self.post(body, query="?firstLine=0")
        self.assertEqual((st, js["error"]["field"]), (400, "firstLine"))
        # allowOld is the admin's call: the key alone is refused, the key and the admin token pass
        st, js, _ = self.post(body, query="?allowOld=true")
        self.assertEqual((st, js["error"]["code"], js["error"]["field"]), (403, "permission_denied", "Authorization"))
        st, js, raw = self.post(body, query="?allowOld=true",
                                headers={"Authorization": "Bearer " + self.srv.admin_token})
        self.assertEqual((st, js["inserted"]), (200, 1), raw)
        # over the per-request limit (4,000,000 here): 413, nothing stored
        big = ("\n".join(line("big-%06d" % i) for i in range(40000)) + "\n").encode()
        self.assertGreater(len(big), 4000000)
        st, js, raw = self.post(big)
        self.assertEqual((st, js["error"]["code"]), (413, "payload_too_large"), raw[:300])
        self.assertIsNone(self.srv.get_event("big-000000"))
        # nothing sent: nothing done
        st, js, raw = self.post(b"")
        self.assertEqual((st, js["lines"], js["inserted"]), (200, 0, 0), raw)

    def test_allow_old_lifts_the_event_window_for_the_admin(self):
        ws = "imp-old"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        old = line("old-1", timestamp="2020-03-01T10:00:00Z")  # far beyond the default 35 days
        recent = line("old-2")
        st, js, raw = self.post(old + "\n" + recent + "\n", key=key)
        self.assertEqual((st, js["inserted"], js["rejected"]), (200, 1, 1), raw)
        self.assertEqual((js["errors"][0]["line"], js["errors"][0]["field"], js["errors"][0]["code"]),
                         (1, "timestamp", "timestamp_out_of_range"))
        admin = {"Authorization": "Bearer " + self.srv.admin_token}
        st, js, raw = self.post(old + "\n" + recent + "\n", key=key, query="?allowOld=true", headers=admin)
        self.assertEqual((st, js["inserted"], js["skipped"], js["rejected"]), (200, 1, 1, 0), raw)
        # an amend that keeps the old time is not refused by the window it was let through
        st, _, raw = self.srv.request("POST", "/api/v1/usage/amend", json.dumps(
            {"requestId": "old-1", "set": {"feature": "backfill"}}), {"Content-Type": "application/json",
                                                                      "X-API-Key": key})
        self.assertEqual(st, 200, raw)
        self.assertEqual(clx.parse(raw)["event"]["feature"], "backfill")
        # still a window ahead: a time in the future is refused
        st, js, raw = self.post(line("old-3", timestamp="2999-01-01T00:00:00Z") + "\n", key=key,
                                query="?allowOld=true", headers=admin)
        self.assertEqual((js["rejected"], js["errors"][0]["code"]), (1, "timestamp_out_of_range"), raw)

    def test_http2_takes_the_import_limit_not_the_ingest_one(self):
        """h2c: a 3 MB body (over --max-body-bytes, 1 MiB, under this import limit) is imported whole;
        one over the import limit is a JSON 413 (framing.c cuts an HTTP/2 body by its route's limit)."""
        ws = "imp-h2"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        body = "".join(line("h2-%05d" % i) + "\n" for i in range(30000)).encode()
        self.assertGreater(len(body), 2 * 2 ** 20)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "body.ndjson")
            for data, want in ((body, 200), (body * 2, 413)):
                with open(path, "wb") as f:
                    f.write(data)
                p = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code} %{http_version}", "--http2-prior-knowledge",
                                    "-X", "POST", self.srv.url + "/api/v1/usage/import", "-H", "X-API-Key: " + key,
                                    "-H", "Content-Type: application/x-ndjson", "--data-binary", "@" + path],
                                   capture_output=True, timeout=60)
                out, status = p.stdout.rsplit(b"\n", 1)
                self.assertEqual(status.decode(), "%d 2" % want, out[:300])
                js = clx.parse(out)
                if want == 200:
                    self.assertEqual((js["inserted"], js["lines"]), (30000, 30000))
                else:
                    self.assertEqual(js["error"]["code"], "payload_too_large")
        self.assertEqual(clx.parse(self.srv.admin("GET", "workspaces/%s/usage/overview" % ws)[2])["totals"]["events"],
                         30000)

    def test_first_line_offsets_the_numbers(self):
        body = "\n".join([line("fl-1"), "nope", line("fl-3")])
        st, js, raw = self.post(body, query="?firstLine=1000001")
        self.assertEqual(st, 200, raw)
        self.assertEqual([e["line"] for e in js["errors"]], [1000002])

    def test_ctl_import_in_parts(self):
        ws = "imp-ctl"
        self.srv.create_workspace(ws)
        key = self.srv.create_key(ws=ws)
        rows = [line("ctl-%05d" % i) for i in range(3000)]
        bad = {7: "{", 1500: line("ctl-01499", outputTokens="many"), 2999: "[]"}
        for n, text in bad.items():
            rows[n - 1] = text
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "events.ndjson")
            with open(path, "w") as f:
                f.write("\n".join(rows) + "\n")
            # 16 KiB parts: ~60 requests, the line numbers stay the file's
            rc, out, err = self.srv.ctl("import", path, "--key", key, "--chunk-bytes", "16384", "--parallel", "3",
                                        token=False, timeout=120)
            self.assertEqual(rc, 0, err)
            js = json.loads(out)
            self.assertEqual((js["ok"], js["inserted"], js["skipped"], js["rejected"], js["lines"]),
                             (True, 2997, 0, 3, 3000), out[:300])
            self.assertEqual([e["line"] for e in js["errors"]], [7, 1500, 2999])
            self.assertEqual(js["errors"][1]["field"], "outputTokens")
            self.assertIn(b"3000/3000 lines", err)
            self.assertIn(b"events/s", err)
            self.assertEqual(self.overview(ws)["events"], 2997)
            # again, gzip'd: all skipped
            gz = path + ".gz"
            with open(path, "rb") as f, gzip.open(gz, "wb") as g:
                g.write(f.read())
            rc, out, err = self.srv.ctl("import", gz, "--key", key, "--chunk-bytes", "50000", token=False,
                                        timeout=120)
            self.assertEqual(rc, 0, err)
            js = json.loads(out)
            self.assertEqual((js["inserted"], js["skipped"], js["rejected"]), (0, 2997, 3))
            # a wrong key: refused, exit 1
            rc, out, err = self.srv.ctl("import", path, "--key", "clx_nope", token=False)
            self.assertEqual(rc, 1)
            self.assertIn(b"401", err)
        self.assertEqual(self.overview(ws)["events"], 2997)


class ImportMemoryTest(unittest.TestCase):
    """
    200,000 lines, each padded with spaces to ~1 KB, so the file inflates to ~200 MB from a gzip
    body of a few MB. The server reads it one line at a time with at most 8 requests of 100 events
    in flight, so its peak RSS must not follow the file's size. Budgets (VmHWM growth, reset
    before each import through /proc/PID/clear_refs):
    - the second import of the same file is all skipped, so RocksDB's memtables do not grow: 32 MiB
      (the compressed body h2o buffers, ~4 MB, the 1.06 MiB inflate window, the slots' arenas,
      allocator slack) — a quarter of what holding the inflated file would take;
    - the first import also fills memtables (events 64 MiB, dedup and rollups 16 MiB each before a
      flush, by the store's settings) with ~50 MB of records: 120 MiB, still well below 200 MB.
    """

    N = 200000

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.key = cls.srv.create_key(name="bulk")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    # AddressSanitizer keeps freed memory in quarantine and pads every allocation, so the RSS of
    # an asan/... build says nothing about what the release build holds: the bound is checked on
    # the release build (blackbox/test_import); the asan run still imports the file and checks it.
    SANITIZED = os.environ.get("CLX_EXPECT_SANITIZER") == "1"

    def test_peak_rss_bounded(self):
        pad = " " * 900
        text = "".join(line("mem-%06d" % i) + pad + "\n" for i in range(self.N)).encode()
        inflated = len(text)
        self.assertGreater(inflated, 190 * 10 ** 6)
        body = gzip.compress(text, compresslevel=6)
        del text
        pid = self.srv.proc.pid
        h = dict(NDJSON, **{"X-API-Key": self.key, "Content-Encoding": "gzip"})
        for attempt, budget_mib, want in ((1, 120, (self.N, 0, 0)), (2, 32, (0, self.N, 0))):
            reset_hwm(pid)
            before = vm_hwm_kib(pid)
            st, _, raw = self.srv.request("POST", "/api/v1/usage/import", body, h)
            js = clx.parse(raw)
            self.assertEqual(st, 200, raw[:300])
            self.assertEqual((js["inserted"], js["skipped"], js["rejected"]), want, raw[:300])
            grew_mib = (vm_hwm_kib(pid) - before) / 1024.0
            print("import %d: peak RSS grew %.1f MiB" % (attempt, grew_mib))
            if self.SANITIZED:
                continue
            self.assertLess(grew_mib, budget_mib,
                            "import %d of a file inflating to %d MB grew the peak RSS by %.1f MiB"
                            % (attempt, inflated // 10 ** 6, grew_mib))
        t = clx.parse(self.srv.admin("GET", "workspaces/default/usage/overview")[2])["totals"]
        self.assertEqual(t["events"], self.N)
        self.assertEqual(Decimal(t["costUsd"]), Decimal(self.N * NANOS_PER_EVENT) / 10 ** 9)


if __name__ == "__main__":
    unittest.main()
