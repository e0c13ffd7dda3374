"""Hostile input over cleartext HTTP/2 with prior knowledge (Debian's python3-h2): the REST
door's refusals as on HTTP/1.1, and bodies over the limit answered 413 (never REFUSED_STREAM)
while other streams of the connection go on. Canaries are read back exactly. (hostile.py)"""
import json
import unittest

import hostile  # noqa: I100 (puts tests/blackbox on the path)
import clx  # noqa: E402
from hostile import INGEST, check_answer, h2_ingest_headers  # noqa: E402
import test_hostile_rest as rest  # noqa: E402

LIMIT = 1048576


class HostileH2cTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.key = hostile.setup_server()
        cls.canaries = hostile.Canaries(cls.srv, cls.key, "h2c")
        cls.ran = 0

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def h2(self):
        c = hostile.H2(self.srv.port)
        self.addCleanup(c.close)
        return c

    def test_00_canaries_before(self):
        for _ in range(3):
            self.canaries.add("before")

    def test_10_rest_refusals_over_h2(self):
        # every REST body case again, on one HTTP/2 connection (ids made distinct from the HTTP/1.1 run)
        cases = rest.envelope_cases() + rest.batch_cases() + rest.number_cases()[:20] + rest.duplicate_cases()
        c = self.h2()
        for i, (name, body, expect) in enumerate(cases):
            if expect[0] in ("ok", "batch") and expect[0] == "ok" and expect[1] is not None:
                continue  # stored by id in the HTTP/1.1 suite's server only
            with self.subTest(case=name):
                body = body.replace(b"rest-", b"h2c-")
                r = c.request("POST", INGEST, h2_ingest_headers(self.key), body)
                self.assertIsNone(r["reset"], "stream reset: %s" % r["reset"])
                self.assertEqual(r["headers"].get("content-type"), "application/json")
                check_answer(self, r["status"], r["body"], expect)
                type(self).ran += 1
            if i % 20 == 19:
                self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def over_limit(self, name, size, headers=()):
        with self.subTest(case=name):
            hostile.CASES["count"] += 1
            type(self).ran += 1
            c = self.h2()
            body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
            r = c.request("POST", INGEST, h2_ingest_headers(self.key, extra=headers), body)
            self.assertIsNone(r["reset"], "want a 413 answer, got RST_STREAM %s" % r["reset"])
            check_answer(self, r["status"], r["body"], ("env", 413, "payload_too_large", None))
            # the connection goes on
            r = c.request("GET", "/healthz")
            self.assertEqual((r["status"], r["body"]), (200, b'{"ok":true}'))

    def test_20_bodies_over_the_limit_get_413(self):
        # regression (issue 16): h2o reset the stream with REFUSED_STREAM, which clients retry
        self.over_limit("limit + 1", LIMIT + 1)
        self.over_limit("2 MiB", 2 * LIMIT)
        self.over_limit("9 MiB (past h2o's own limit)", 9 * LIMIT)
        self.over_limit("9 MiB with content-length", 9 * LIMIT, [("content-length", str(9 * LIMIT))])
        self.over_limit("2 MiB with a lying content-length", 2 * LIMIT, [("content-length", "10")])
        hostile.assert_alive(self, self.srv)

    def test_21_over_limit_beside_valid_streams(self):
        c = self.h2()
        big = b'{"pad":"' + b"x" * (3 * LIMIT) + b'"}'
        ok = lambda rid: json.dumps(rest.ev(rid)).encode()  # noqa: E731
        rs = c.requests([("POST", INGEST, h2_ingest_headers(self.key), ok("h2c-beside-1")),
                         ("POST", INGEST, h2_ingest_headers(self.key), big),
                         ("POST", INGEST, h2_ingest_headers(self.key), ok("h2c-beside-2"))])
        hostile.CASES["count"] += 3
        type(self).ran += 3
        self.assertEqual([r["status"] for r in rs], [200, 413, 200])
        self.assertEqual(rs[0]["body"], clx.OK1)
        self.assertEqual(rs[2]["body"], clx.OK1)
        for rid in ("h2c-beside-1", "h2c-beside-2"):
            self.assertEqual(self.srv.get_event(rid)["inputTokens"], 10)
        # exactly the limit is accepted (an unknown member pads it)
        base = json.dumps(rest.ev("h2c-exact"))[:-1] + ',"pad":"'
        exact = (base + "x" * (LIMIT - len(base) - 2) + '"}').encode()
        self.assertEqual(len(exact), LIMIT)
        r = c.request("POST", INGEST, h2_ingest_headers(self.key), exact)
        hostile.CASES["count"] += 1
        type(self).ran += 1
        check_answer(self, r["status"], r["body"], ("ok", "h2c-exact", {"inputTokens": 10}), self.srv)
        self.canaries.add("between")

    def test_22_settings_body_over_its_limit(self):
        c = self.h2()
        hdrs = [("authorization", "Bearer " + self.srv.admin_token), ("content-type", "application/json")]
        for size in (65537, 2 * LIMIT):
            with self.subTest(case="settings body of %d bytes" % size):
                hostile.CASES["count"] += 1
                type(self).ran += 1
                r = c.request("POST", "/api/v1/admin/workspaces", hdrs, b'{"slug":"' + b"a" * size + b'"}')
                self.assertIsNone(r["reset"])
                check_answer(self, r["status"], r["body"], ("env", 413, "payload_too_large", None))

    def test_30_headers(self):
        c = self.h2()
        cases = [
            ("no content-type", h2_ingest_headers(self.key, content_type=None), (415, "unsupported_media_type", "Content-Type")),
            ("no x-api-key", h2_ingest_headers(None), (401, "unauthenticated", "X-API-Key")),
            ("unknown x-api-key", h2_ingest_headers("clx_" + "B" * 40), (401, "unauthenticated", "X-API-Key")),
        ]
        for name, hdrs, want in cases:
            with self.subTest(case=name):
                r = c.request("POST", INGEST, hdrs, json.dumps(rest.ev("h2c-hdr")).encode())
                check_answer(self, r["status"], r["body"], ("env",) + want)
                type(self).ran += 1
        self.assertIsNone(self.srv.get_event("h2c-hdr"))

    def test_99_canaries_after(self):
        for _ in range(3):
            self.canaries.add("after")
        hostile.assert_alive(self, self.srv)
        self.canaries.verify(self)
        self.assertGreaterEqual(type(self).ran, 60)


if __name__ == "__main__":
    unittest.main()
