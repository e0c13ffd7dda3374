"""Hostile input on the settings API and read-back paths: percent-encoding tricks (%2500, %00,
%2F), NUL / control / lone-surrogate text in bodies, unicode slugs, odd numbers in query
parameters. Each answer names the field; canaries are read back exactly. (hostile.py)"""
import unittest

import hostile  # noqa: I100 (puts tests/blackbox on the path)
import clx  # noqa: E402
from hostile import check_answer  # noqa: E402


class HostileAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.key = hostile.setup_server(token_on_command_line=True)  # test_30 checks the flag
        cls.canaries = hostile.Canaries(cls.srv, cls.key, "admin")
        cls.srv.create_workspace("acme", "Acme")
        cls.ran = 0

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def get(self, path):
        h = {"Authorization": "Bearer " + self.srv.admin_token}
        return self.srv.request("GET", "/api/v1/admin/" + path, None, h)

    def post(self, path, raw):
        h = {"Authorization": "Bearer " + self.srv.admin_token, "Content-Type": "application/json"}
        return self.srv.request("POST", "/api/v1/admin/" + path, raw, h)

    def run_cases(self, cases):
        for name, fn, expect in cases:
            with self.subTest(case=name):
                st, _, raw = fn()
                js = check_answer(self, st, raw, expect)
                type(self).ran += 1
        return js

    def test_00_canaries_before(self):
        for _ in range(3):
            self.canaries.add("before")

    def test_10_paths(self):
        nf = ("env", 404, "not_found", "workspace")
        cases = [
            ("%2500 is not a NUL (regression: decoded twice)", lambda: self.get("workspaces/acme%2500/projects"), nf),
            ("%2500 on the workspace itself", lambda: self.get("workspaces/acme%2500"), nf),
            ("%00 in a path segment", lambda: self.get("workspaces/acme%00/projects"),
             ("env", 400, "invalid_value", "path")),
            ("%00 in a query value", lambda: self.get("workspaces/acme/usage/events?requestId=a%00b"),
             ("env", 400, "invalid_value", "query")),
            ("%2F inside a segment", lambda: self.get("workspaces/acme%2Fprojects"), nf),
            ("unicode slug", lambda: self.get("workspaces/%C3%A9t%C3%A9"), nf),
            ("invalid UTF-8 slug", lambda: self.get("workspaces/%FF%FE"), nf),
            ("upper-case slug", lambda: self.get("workspaces/ACME"), nf),
            ("dot-dot segment", lambda: self.get("workspaces/acme/../default/keys"), ("env", 404, "not_found", None)),
            ("plus is not a space in paths", lambda: self.get("workspaces/ac+me"), nf),
            ("cursor -1", lambda: self.get("workspaces/acme/usage/events?cursor=-1"),
             ("env", 400, "invalid_value", "cursor")),
            ("cursor -0", lambda: self.get("workspaces/acme/usage/events?cursor=-0"),
             ("env", 400, "invalid_value", "cursor")),
            ("limit -0", lambda: self.get("workspaces/acme/usage/events?limit=-0"),
             ("env", 400, "invalid_value", "limit")),
            ("limit 1e3", lambda: self.get("workspaces/acme/usage/events?limit=1e3"),
             ("env", 400, "invalid_value", "limit")),
            ("limit +5", lambda: self.get("workspaces/acme/usage/events?limit=%2B5"),
             ("env", 400, "invalid_value", "limit")),
            ("from in the year 99999", lambda: self.get("workspaces/acme/usage/overview?from=99999-01-01"),
             ("env", 400, "invalid_value", "from")),
        ]
        self.run_cases(cases)
        st, _, raw = self.get("workspaces/acme%252F")
        self.assertEqual(st, 404, raw)
        self.assertIn("acme%2F", clx.parse(raw)["error"]["message"])  # decoded exactly once
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_20_bodies(self):
        bad = ("env", 400, "invalid_value")
        cases = [
            ("slug with \\u0000 (regression: cut at the NUL)", lambda: self.post("workspaces", b'{"slug":"acme\\u0000x"}'),
             bad + ("slug",)),
            ("name with \\u0000", lambda: self.post("workspaces", b'{"slug":"nul-name","name":"a\\u0000b"}'), bad + ("name",)),
            ("name with DEL (regression)", lambda: self.post("workspaces", b'{"slug":"del-name","name":"a\x7fb"}'),
             bad + ("name",)),
            ("name with \\u007f", lambda: self.post("workspaces", b'{"slug":"del-name","name":"a\\u007fb"}'), bad + ("name",)),
            ("name with a newline", lambda: self.post("workspaces", b'{"slug":"nl-name","name":"a\\nb"}'), bad + ("name",)),
            ("name with a lone high surrogate", lambda: self.post("workspaces", b'{"slug":"sur","name":"a\\ud800"}'),
             bad + ("name",)),
            ("name with a lone low surrogate", lambda: self.post("workspaces", b'{"slug":"sur","name":"\\udc00"}'),
             bad + ("name",)),
            ("slug twice", lambda: self.post("workspaces", b'{"slug":"dup-a","slug":"dup-b"}'), bad + ("slug",)),
            ("unicode slug", lambda: self.post("workspaces", '{"slug":"\u00e9t\u00e9"}'.encode()), bad + ("slug",)),
            ("slug of 65 characters", lambda: self.post("workspaces", b'{"slug":"' + b"a" * 65 + b'"}'), bad + ("slug",)),
            ("project slug with NUL", lambda: self.post("workspaces/acme/projects", b'{"slug":"p\\u0000q"}'),
             bad + ("slug",)),
            ("key name with NUL", lambda: self.post("workspaces/acme/keys", b'{"name":"k\\u0000"}'), bad + ("name",)),
            ("override model with DEL",
             lambda: self.post("workspaces/acme/pricing/overrides", b'{"provider":"openai","model":"m\\u007f","inputPerMtok":1}'),
             bad + ("model",)),
            ("override price -0",
             lambda: self.post("workspaces/acme/pricing/overrides", b'{"provider":"openai","model":"m","inputPerMtok":-0}'),
             bad + ("inputPerMtok",)),
            ("blank body", lambda: self.post("workspaces", b"  \r\n"), bad[:2] + ("invalid_value", "slug")),
            ("body with a raw NUL", lambda: self.post("workspaces", b'{"slug":"x"}\x00junk'),
             ("env", 400, "invalid_json", None)),
            ("not JSON", lambda: self.post("workspaces", b"{bad"), ("env", 400, "invalid_json", None)),
            ("settings body over 64 KiB", lambda: self.post("workspaces", b'{"slug":"' + b"a" * 70000 + b'"}'),
             ("env", 413, "payload_too_large", None)),
        ]
        self.run_cases(cases)
        st, _, raw = self.post("workspaces", b'{"bad')
        self.assertNotIn(b"\\n", raw, "yajl's multi-line message is cut to its first line")
        for slug in ("acme", "nul-name", "del-name", "nl-name", "sur", "dup-a", "dup-b"):
            st, _, raw = self.get("workspaces/" + slug)
            self.assertEqual(st, 200 if slug == "acme" else 404, (slug, raw))
        st, _, raw = self.get("workspaces/acme")
        self.assertEqual(clx.parse(raw)["name"], "Acme")  # not replaced by any refused request
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_30_admin_token_not_left_in_the_process_list(self):
        # regression (issue 16): --admin-token stayed readable in /proc/PID/cmdline (and ps)
        with open("/proc/%d/cmdline" % self.srv.proc.pid, "rb") as f:
            cmdline = f.read()
        self.assertIn(b"--admin-token", cmdline)
        self.assertNotIn(self.srv.admin_token.encode(), cmdline)
        self.assertIn("set COSTLYNX_ADMIN_TOKEN in the environment instead", self.srv.stderr())
        self.assertNotIn(self.srv.admin_token, self.srv.stderr())
        st, _, raw = self.get("workspaces/acme")  # the token still works
        self.assertEqual(st, 200, raw)

    def test_99_canaries_after(self):
        for _ in range(3):
            self.canaries.add("after")
        hostile.assert_alive(self, self.srv)
        self.canaries.verify(self)
        self.assertGreaterEqual(type(self).ran, 30)


if __name__ == "__main__":
    unittest.main()
