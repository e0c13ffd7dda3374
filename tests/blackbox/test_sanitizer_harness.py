"""The sanitizer harness itself: reports are recognised (so asan/... runs can fail), clean logs
are not, and an asan/... run really drives an ASan + UBSan binary (CLX_EXPECT_SANITIZER=1)."""
import os
import subprocess
import unittest

import clx

ASAN_REPORT = """2026-12-02T02:43:21Z info [grpc] listening on 127.0.0.1:0
=================================================================
==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011
READ of size 1 at 0x602000000011 thread T3
"""
UBSAN_REPORT = "/src/services/pipeline/pipeline.c:277:5: runtime error: null pointer passed as argument 1\n"
LSAN_REPORT = "==7==ERROR: LeakSanitizer: detected memory leaks\n\nDirect leak of 48 byte(s) in 1 object(s)\n"
CLEAN = """2026-12-02T02:43:21Z info [rest] listening on 127.0.0.1:0 (port 42869, 2 loops)
2026-12-02T02:43:22Z warn [grpc] calls still open after 10000 ms: cancelling them
2026-12-02T02:43:22Z info [main] stopped cleanly
"""


class SanitizerHarnessTest(unittest.TestCase):
    def test_reports_are_recognised(self):
        for name, text in (("asan", ASAN_REPORT), ("ubsan", UBSAN_REPORT), ("lsan", LSAN_REPORT)):
            with self.subTest(name):
                with self.assertRaises(AssertionError) as cm:
                    clx.check_sanitizer_output(text)
                self.assertIn("sanitizer report", str(cm.exception))
                with self.assertRaises(AssertionError):  # after ordinary log lines, as bytes
                    clx.check_sanitizer_output((CLEAN + text).encode())

    def test_clean_logs_pass(self):
        clx.check_sanitizer_output(CLEAN)
        clx.check_sanitizer_output(b"")

    def test_options_and_suppressions(self):
        env = clx.sanitizer_env({})
        self.assertIn("halt_on_error=1", env["ASAN_OPTIONS"])
        self.assertIn("detect_leaks=1", env["ASAN_OPTIONS"])
        self.assertIn("print_stacktrace=1", env["UBSAN_OPTIONS"])
        self.assertTrue(os.path.isfile(clx.LSAN_SUPPRESSIONS), clx.LSAN_SUPPRESSIONS)
        # a caller's own setting wins
        self.assertEqual(clx.sanitizer_env({"ASAN_OPTIONS": "x=1"})["ASAN_OPTIONS"], "x=1")

    @unittest.skipUnless(os.environ.get("CLX_EXPECT_SANITIZER") == "1", "only in the asan/... runs")
    def test_the_binary_is_sanitized(self):
        libs = subprocess.run(["ldd", clx.BINARY], capture_output=True, text=True, timeout=20).stdout
        self.assertIn("libasan", libs)
        self.assertIn("libubsan", libs)
        srv = clx.Server()
        try:
            key = srv.create_key()
            status, js, _ = srv.ingest(key, {"events": [clx.event("sanitized-1")]})
            self.assertEqual((status, js["inserted"]), (200, 1))
        finally:
            srv.cleanup()  # stops it: LeakSanitizer runs at exit, and its output is checked


if __name__ == "__main__":
    unittest.main()
