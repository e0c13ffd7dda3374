"""Hostile input on issue 12's surfaces: the budgets admin API (amounts, thresholds, scopes,
periods, a workspace's timeZone), the budget check with an ingestion key over REST (hostile
query strings) and gRPC (Budgets/CheckBudget with NULs: protobuf-c's C strings would cut
"a\\0b" to "a" and answer project a's budgets), and webhook channel URLs against the SSRF guard
(loopback, link-local, [::1], decimal / octal / hex IPv4, IPv4 in IPv6, names resolving to
127.0.0.1) — refused at creation, and a URL the guard lets through because its host does not
resolve never reaches a loopback receiver at delivery. Each answer names the field; canaries
are read back exactly. (hostile.py)"""
import http.server
import ipaddress
import socket
import subprocess
import threading
import time
import unittest

import hostile  # noqa: I100 (puts tests/blackbox and tests/grpc on the path)
import clx  # noqa: E402
import grpc  # noqa: E402
import grpc_stubs  # noqa: E402
from hostile import check_answer, pb_len  # noqa: E402

S = grpc_stubs.load()
PB = S.usage_pb2


class Receiver(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        Receiver.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def private_address():
    """A private (RFC 1918 / fc00::/7) address of this host that is not loopback, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except OSError:
        return None
    nets = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
    for a in out:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if any(ip.version == n.version and ip in n for n in nets):
            return ip
    return None


class HostileGovernanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.key = hostile.setup_server(grpc=True, extra_args=["--webhook-retry-ms", "100"])
        cls.canaries = hostile.Canaries(cls.srv, cls.key, "gov")
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.check = cls.channel.unary_unary("/costlynx.v1.Budgets/CheckBudget", request_serializer=lambda b: b,
                                            response_deserializer=PB.CheckBudgetResponse.FromString)
        cls.ran = 0

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def admin(self, method, path, raw=None):
        h = {"Authorization": "Bearer " + self.srv.admin_token}
        if raw is not None:
            h["Content-Type"] = "application/json"
        return self.srv.request(method, "/api/v1/admin/workspaces/default/" + path, raw, h)

    def run_cases(self, cases):
        for name, fn, expect in cases:
            with self.subTest(case=name):
                st, _, raw = fn()
                check_answer(self, st, raw, expect)
                type(self).ran += 1

    def budget(self, amount=b'"10"', scope=b'{"type":"workspace"}', extra=b""):
        return lambda: self.admin("POST", "budgets", b'{"name":"b","amountUsd":%s,"scope":%s,"period":"month"%s}'
                                  % (amount, scope, extra))

    def test_00_canaries_before(self):
        for _ in range(3):
            self.canaries.add("before")

    def test_10_budget_bodies(self):
        bad = ("env", 400, "invalid_value")
        cases = []
        for amount in [b'"1e400"', b"1e400", b'"-1"', b"-1", b"-0", b'"0"', b'"0.0000000001"', b"0.0000000001",
                       b'"1000000000000"', b"123456789012345678901234567890", b'"0x10"', b'"NaN"', b'"Infinity"',
                       b'" 1"', b'"1."', b'".5"', b'"+5"', b'""', b"true", b"[]", b'"1_000"']:
            cases.append(("amountUsd %s" % amount.decode(), self.budget(amount), bad + ("amountUsd",)))
        for th in [b"[0]", b"[-1]", b"[-0]", b"[1000.01]", b"[1e400]", b"[0.001]", b"[33.333]", b"[50,50]", b"[80,50]",
                   b"[]", b'["50"]', b"[null]", b"[" + b",".join(b"%d" % i for i in range(1, 18)) + b"]"]:
            cases.append(("thresholds %s" % th.decode()[:30], self.budget(extra=b',"thresholds":' + th),
                          bad + ("thresholds",)))
        for scope, field, status, code in [
                (b'{"type":"nope"}', "scope.type", 400, "invalid_value"),
                (b'{"type":"project"}', "scope.project", 400, "invalid_value"),
                (b'{"type":"project","project":"zz"}', "scope.project", 404, "not_found"),
                (b'{"type":"environment","project":"app","environment":"nope"}', "scope.environment", 404, "not_found"),
                (b'{"type":"key","key":"key_000000000000"}', "scope.key", 404, "not_found"),
                (b'{"type":"user","user":""}', "scope.user", 400, "invalid_value"),
                (b'{"type":"tag","tag":"A","value":"x"}', "scope.tag", 400, "invalid_value"),
                (b'{"type":"tag","tag":"team"}', "scope.value", 400, "invalid_value"),
                (b'{"type":"tag","tag":"team","value":"a\\u0000b"}', "scope", 400, "invalid_value"),
                (b'{"type":"feature","feature":"\\ud800"}', "scope", 400, "invalid_value"),
                (b'{"type":"workspace","project":"app"}', "scope.project", 400, "invalid_value"),
                (b"[]", "scope", 400, "invalid_value"), (b'"workspace"', "scope", 400, "invalid_value")]:
            cases.append(("scope %s" % scope.decode(), self.budget(scope=scope), ("env", status, code, field)))
        cases += [
            ("period year", lambda: self.admin("POST", "budgets", b'{"name":"b","amountUsd":"1","period":"year"}'),
             bad + ("period",)),
            ("period Month", lambda: self.admin("POST", "budgets", b'{"name":"b","amountUsd":"1","period":"Month"}'),
             bad + ("period",)),
            ("name with NUL", lambda: self.admin("POST", "budgets", b'{"name":"a\\u0000b","amountUsd":"1"}'),
             bad + ("name",)),
            ("amountUsd twice", lambda: self.admin("POST", "budgets", b'{"name":"a","amountUsd":"2","amountUsd":"1"}'),
             bad + ("amountUsd",)),
            ("body over 64 KiB", lambda: self.admin("POST", "budgets", b'{"name":"' + b"n" * 70000 + b'"}'),
             ("env", 413, "payload_too_large", None)),
            ("PATCH an unknown budget", lambda: self.admin("PATCH", "budgets/bud_nope", b'{"amountUsd":"3"}'),
             ("env", 404, "not_found", "id")),
            ("%00 in a budget id", lambda: self.admin("PATCH", "budgets/bud%00x", b'{"amountUsd":"3"}'),
             ("env", 400, "invalid_value", "path")),
        ]
        for tz in ["../../etc/passwd", "/etc/passwd", "Europe/../../../../etc/passwd", "America/Argentina/../Berlin",
                   "zone.tab", "tzdata.zi", "..", "Europe/", "right/UTC", "a" * 100, ""]:
            cases.append(("timeZone %r" % tz[:30], (lambda t: lambda: self.srv.request(
                "PATCH", "/api/v1/admin/workspaces/default", clx.to_bytes({"timeZone": t}),
                {"Authorization": "Bearer " + self.srv.admin_token, "Content-Type": "application/json"}))(tz),
                bad + ("timeZone",)))
        cases.append(("timeZone with NUL", lambda: self.srv.request(
            "PATCH", "/api/v1/admin/workspaces/default", b'{"timeZone":"UTC\\u0000/../../etc/passwd"}',
            {"Authorization": "Bearer " + self.srv.admin_token, "Content-Type": "application/json"}),
            bad + ("timeZone",)))
        self.run_cases(cases)
        st, _, raw = self.admin("GET", "budgets")
        self.assertEqual((st, clx.parse(raw)["budgets"]), (200, []), raw)  # nothing refused was stored
        st, _, raw = self.srv.request("GET", "/api/v1/admin/workspaces/default", None,
                                      {"Authorization": "Bearer " + self.srv.admin_token})
        self.assertEqual(clx.parse(raw)["timeZone"], "UTC", raw)
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_20_check_queries(self):
        # a budget of one nano-dollar on project "a", spent by the canaries? no: they go to "app";
        # an event on "a" spends it, so "a" is not allowed and "app" has no budget of its own
        self.srv.create_project("a")
        st, _, raw = self.admin("POST", "budgets", b'{"name":"tiny","amountUsd":"0.000000001",'
                                b'"scope":{"type":"project","project":"a"}}')
        self.assertEqual(st, 201, raw)
        ev = {"provider": "openai", "model": "gpt-4o-mini", "requestId": "gov-spend-a", "project": "a",
              "environment": "prod", "estimatedCostNanos": 5}
        st, js, raw = self.srv.ingest(self.key, ev)
        self.assertEqual((st, js["inserted"]), (200, 1), raw)

        def get(q):
            return lambda: self.srv.request("GET", "/api/v1/budgets/check" + q, None, {"X-API-Key": self.key})
        bad = ("env", 400, "invalid_value")
        self.run_cases([
            ("project of 65 bytes", get("?project=" + "a" * 65), bad + ("project",)),
            ("project invalid UTF-8", get("?project=%ff"), bad + ("project",)),
            ("project %00", get("?project=a%00b"), bad + ("query",)),
            ("project with DEL", get("?project=a%7fb"), bad + ("project",)),
            ("feature of 257 bytes", get("?feature=" + "f" * 257), bad + ("feature",)),
            ("user of 257 bytes", get("?user=" + "u" * 257), bad + ("userId",)),
            ("tag without a colon", get("?tag=team"), bad + ("tag",)),
            ("tag with an empty key", get("?tag=:x"), bad + ("tags",)),
            ("tag with an upper-case key", get("?tag=A:b"), bad + ("tags",)),
            ("no key", lambda: self.srv.request("GET", "/api/v1/budgets/check?project=a"),
             ("env", 401, "unauthenticated", "X-API-Key")),
            ("a revoked-looking key", lambda: self.srv.request("GET", "/api/v1/budgets/check", None,
                                                                {"X-API-Key": self.key + "x"}),
             ("env", 401, "unauthenticated", "X-API-Key")),
        ])
        CASES = hostile.CASES
        for q, allowed in [("?project=a", False), ("?project=app", True), ("?project=a&foo=bar", False),
                           ("?" + "x=y&" * 2000 + "project=a", False), ("?project=b", True)]:
            CASES["count"] += 1
            type(self).ran += 1
            st, _, raw = self.srv.request("GET", "/api/v1/budgets/check" + q, None, {"X-API-Key": self.key})
            self.assertEqual(st, 200, raw)
            self.assertIs(clx.parse(raw)["allowed"], allowed, (q[-20:], raw))
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_30_grpc_check_budget_strings(self):
        # regression: protobuf-c cut "a\0b" at the NUL, so the check answered project a's budgets
        md = [("x-api-key", self.key)]
        r = self.check(pb_len(1, b"a"), metadata=md, timeout=30)
        self.assertFalse(r.allowed)  # test_20's spent budget on project a
        tag = pb_len(5, pb_len(1, b"team") + pb_len(2, b"x\x00y"))
        for name, data, words in [
                ("project a\\0b", pb_len(1, b"a\x00b"), "project must not contain NUL"),
                ("environment with NUL", pb_len(2, b"prod\x00"), "environment must not contain NUL"),
                ("feature with NUL", pb_len(3, b"\x00"), "feature must not contain NUL"),
                ("user_id with NUL", pb_len(4, b"u\x00v"), "userId must not contain NUL"),
                ("tag value with NUL", tag, "tags must not contain NUL"),
                ("tag key with NUL", pb_len(5, pb_len(1, b"te\x00am") + pb_len(2, b"x")), "tags must not contain NUL"),
                ("project invalid UTF-8", pb_len(1, b"\xff"), "UTF-8"),
                ("feature of 300 bytes", pb_len(3, b"f" * 300), "longer than 256"),
                ("17 tags", b"".join(pb_len(5, pb_len(1, b"k%d" % i) + pb_len(2, b"v")) for i in range(17)),
                 "at most 16"),
                ("upper-case tag key", pb_len(5, pb_len(1, b"K") + pb_len(2, b"v")), "tag key"),
                ("not a message", b"\xff", "CheckBudgetRequest")]:
            with self.subTest(case=name):
                hostile.CASES["count"] += 1
                type(self).ran += 1
                with self.assertRaises(grpc.RpcError) as cm:
                    self.check(data, metadata=md, timeout=30)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, cm.exception.details())
                self.assertIn(words, cm.exception.details())
        with self.assertRaises(grpc.RpcError) as cm:
            self.check(b"", metadata=[("x-api-key", "clx_nope")], timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        hostile.assert_alive(self, self.srv)

    def test_40_webhook_urls(self):
        recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=recv.serve_forever, daemon=True).start()
        port = recv.server_address[1]
        try:
            self._webhook_urls(port)
        finally:
            recv.shutdown()
            recv.server_close()

    def _webhook_urls(self, port):
        def chan(url, kind="webhook"):
            return lambda: self.admin("POST", "channels", clx.to_bytes({"name": "c", "type": kind, "url": url}))
        bad = ("env", 400, "invalid_value", "url")
        refused = ["http://127.0.0.1:%d/hook", "http://localhost:%d/hook", "http://LOCALHOST:%d/hook",
                   "http://[::1]:%d/hook", "http://[0:0:0:0:0:0:0:1]:%d/hook", "http://2130706433:%d/hook",
                   "http://0x7f000001:%d/hook", "http://0177.0.0.1:%d/hook", "http://127.1:%d/hook",
                   "http://0x7f.1:%d/hook", "http://127.000.000.001:%d/hook", "http://[::ffff:127.0.0.1]:%d/hook",
                   "http://[::ffff:7f00:1]:%d/hook", "http://[::127.0.0.1]:%d/hook", "http://[64:ff9b::7f00:1]:%d/hook",
                   "http://[2002:7f00:1::]:%d/hook", "http://0.0.0.0:%d/hook", "http://[::]:%d/hook",
                   "http://169.254.169.254:%d/latest/meta-data/", "http://[::ffff:a9fe:a9fe]:%d/",
                   "http://[fe80::1]:%d/", "http://10.0.0.1:%d/", "http://192.168.1.1:%d/", "http://172.16.0.1:%d/",
                   "http://100.64.0.1:%d/", "http://[fc00::1]:%d/", "http://127.0.0.1:%d#@example.com/",
                   "http://example.com@127.0.0.1:%d/", "http://127.0.0.1:%d\\@example.com/",
                   "http://%%31%%32%%37.0.0.1:%d/", "http://127.0.0.1:80:%d/", "http://[fe80::1%%25lo]:%d/",
                   "ftp://127.0.0.1:%d/", "gopher://127.0.0.1:%d/_x", "file:///etc/passwd#%d",
                   "http://example.com:%d/\r\nX-Injected: 1"]
        cases = [("webhook " + u[:50], chan(u % port), bad) for u in refused]
        cases += [("slack at loopback", chan("http://127.0.0.1:%d/" % port, "slack"), bad),
                  ("url with NUL", lambda: self.admin("POST", "channels",
                                                      b'{"name":"c","type":"webhook","url":"http://a\\u0000b/"}'), bad),
                  ("url a number", chan(5), ("env", 400, "invalid_type", "url")),
                  ("url missing", chan(""), bad)]
        self.run_cases(cases)
        # what the guard cannot judge at creation (the host does not resolve here) is judged again at
        # each delivery, against the address it resolves to then: nothing reaches the loopback receiver
        ids = []
        for u in ["http://127.0.0.1.:%d/dot", "http://localhost.:%d/ldot", "http://127.0.0.1..:%d/dd",
                  "http://example.com#@127.0.0.1:%d/frag"]:
            st, _, raw = chan(u % port)()
            if st == 201:
                ids.append(clx.parse(raw)["id"])
                st, _, raw = self.admin("POST", "channels/%s/test" % ids[-1])
                self.assertEqual(st, 202, raw)
            else:
                check_answer(self, st, raw, bad)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            st, _, raw = self.admin("GET", "alerts")
            alerts = [a for a in clx.parse(raw)["alerts"] if a["channel"] in ids]
            if all(a.get("attempts", 0) >= 2 for a in alerts):
                break
            time.sleep(0.1)
        self.assertEqual(len(alerts), len(ids), raw)
        for a in alerts:
            self.assertGreaterEqual(a.get("attempts", 0), 1, a)  # the sender did try
            self.assertNotEqual(a["state"], "delivered", a)
        self.assertEqual(Receiver.hits, [], "a webhook reached the loopback receiver")
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_50_redirect_to_loopback_with_private_allowed(self):
        # --webhook-allow private: a receiver on this host's private address may be reached, but
        # its redirect to loopback is not followed (3xx is retried, never followed). Also the
        # regression: an IPv6 literal URL was never delivered (libcurl 7.88 cannot parse the
        # CURLOPT_RESOLVE pin of an IPv6 literal: "Couldn't parse CURLOPT_RESOLVE entry")
        ip = private_address()
        if ip is None:
            self.skipTest("this host has no private address besides loopback")
        hits = {"a": [], "b": []}

        class Loop(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hits["b"].append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass
        loop = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loop)

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hits["a"].append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(307)
                self.send_header("Location", "http://127.0.0.1:%d/stolen" % loop.server_address[1])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        red = Server((str(ip), 0), Redirect)
        for s in (loop, red):
            threading.Thread(target=s.serve_forever, daemon=True).start()
        srv = clx.Server(extra_args=["--webhook-retry-ms", "100", "--webhook-allow", "private"])
        try:
            host = "[%s]" % ip if ip.version == 6 else str(ip)
            st, js, raw = srv.admin("POST", "workspaces/default/channels",
                                    {"name": "r", "type": "webhook", "url": "http://%s:%d/hook" % (host, red.server_address[1])})
            self.assertEqual(st, 201, raw)
            st, _, raw = srv.admin("POST", "workspaces/default/channels/%s/test" % js["id"])
            self.assertEqual(st, 202, raw)
            st, js, raw = srv.admin("POST", "workspaces/default/channels",
                                    {"name": "l", "type": "webhook", "url": "http://127.0.0.1:%d/" % loop.server_address[1]})
            self.assertEqual((st, js["error"]["field"]), (400, "url"), raw)  # loopback still refused
            deadline = time.monotonic() + 10
            while len(hits["a"]) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(len(hits["a"]), 2, srv.admin("GET", "workspaces/default/alerts")[2])
            st, js, raw = srv.admin("GET", "workspaces/default/alerts")
            self.assertEqual(js["alerts"][0]["state"], "pending", raw)
            self.assertIn("HTTP 307", js["alerts"][0]["lastError"], raw)
            self.assertEqual(hits["b"], [], "the redirect to loopback was followed")
            hostile.CASES["count"] += 1
            type(self).ran += 1
        finally:
            srv.cleanup()
            for s in (loop, red):
                s.shutdown()
                s.server_close()

    def test_99_canaries_after(self):
        for _ in range(3):
            self.canaries.add("after")
        hostile.assert_alive(self, self.srv)
        self.canaries.verify(self)
        self.assertGreaterEqual(type(self).ran, 120)


if __name__ == "__main__":
    unittest.main()
