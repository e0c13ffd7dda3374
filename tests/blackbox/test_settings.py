"""The settings API (workspaces, projects, environments, keys), key secrecy, and `costlynxd ctl`."""
import json
import os
import unittest

import clx
from clx import OK1, event


class SettingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # debug logging: the secret must stay out of even the most verbose logs
        cls.srv = clx.Server(extra_args=["--log-level", "debug"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def assert_error(self, got, status, code=None, field=None):
        st, js, raw = got
        self.assertEqual(st, status, raw)
        self.assertIs(js["ok"], False, raw)
        if code is not None:
            self.assertEqual(js["error"]["code"], code, raw)
        if field is not None:
            self.assertEqual(js["error"].get("field"), field, raw)
        return js

    # ---- authentication -------------------------------------------------------------------------

    def test_00_fresh_folder_has_default_workspace(self):
        st, js, raw = self.srv.admin("GET", "workspaces")
        self.assertEqual(st, 200, raw)
        self.assertEqual([w["slug"] for w in js["workspaces"]], ["default"])
        self.assertIs(js["workspaces"][0]["strictMode"], False)
        st, js, raw = self.srv.admin("GET", "workspaces/default/projects")
        self.assertEqual((st, js), (200, {"projects": []}))
        st, js, raw = self.srv.admin("GET", "workspaces/default/keys")
        self.assertEqual((st, js), (200, {"keys": []}))

    def test_admin_auth(self):
        for path in ("workspaces", "workspaces/default", "workspaces/default/keys",
                     "workspaces/default/usage/events"):
            with self.subTest(path=path):
                self.assert_error(self.srv.admin("GET", path, token=False), 401, "unauthenticated")
                self.assert_error(self.srv.admin("GET", path, token="wrong-" + self.srv.admin_token), 401,
                                  "unauthenticated")
                self.assert_error(self.srv.admin("GET", path, token=self.srv.admin_token[:-1]), 401,
                                  "unauthenticated")
        # a mutation without the token changes nothing
        self.assert_error(self.srv.admin("POST", "workspaces", {"slug": "sneaky"}, token=False), 401)
        self.assert_error(self.srv.admin("POST", "workspaces", {"slug": "sneaky"}, token=""), 401)
        st, js, _ = self.srv.admin("GET", "workspaces")
        self.assertNotIn("sneaky", [w["slug"] for w in js["workspaces"]])
        # other schemes are refused
        st, h, raw = self.srv.request("GET", "/api/v1/admin/workspaces", None,
                                      {"Authorization": "Basic " + self.srv.admin_token})
        self.assertEqual(st, 401, raw)
        # an ingestion key is not an admin token
        key = self.srv.create_key(name="not admin")
        self.assert_error(self.srv.admin("GET", "workspaces", token=key), 401)

    # ---- workspaces --------------------------------------------------------------------------------

    def test_workspaces(self):
        st, js, raw = self.srv.admin("POST", "workspaces", {"slug": "acme", "name": "Acme Corp"})
        self.assertEqual(st, 201, raw)
        self.assertEqual((js["slug"], js["name"], js["strictMode"]), ("acme", "Acme Corp", False))
        self.assert_error(self.srv.admin("POST", "workspaces", {"slug": "acme"}), 409, "already_exists", "slug")
        for bad in ("Bad Slug", "UPPER", "-leading", "sp ace", "a" * 65, "emoji\u00e9"):
            with self.subTest(slug=bad):
                self.assert_error(self.srv.admin("POST", "workspaces", {"slug": bad}), 400, None, "slug")
        self.assert_error(self.srv.admin("POST", "workspaces", {"name": "no slug"}), 400, None, "slug")
        self.assert_error(self.srv.admin("POST", "workspaces", {"slug": 5}), 400, "invalid_type", "slug")
        st, h, raw = self.srv.request("POST", "/api/v1/admin/workspaces", b"{nope",
                                      {"Authorization": "Bearer " + self.srv.admin_token,
                                       "Content-Type": "application/json"})
        self.assertEqual(st, 400, raw)
        self.assertEqual(clx.parse(raw)["error"]["code"], "invalid_json")
        st, js, _ = self.srv.admin("GET", "workspaces")
        slugs = [w["slug"] for w in js["workspaces"]]
        self.assertEqual(slugs.count("acme"), 1)
        self.assertIn("default", slugs)
        self.assertNotIn("Bad Slug", slugs)
        st, js, _ = self.srv.admin("GET", "workspaces/acme")
        self.assertEqual((st, js["slug"], js["name"]), (200, "acme", "Acme Corp"))
        self.assert_error(self.srv.admin("GET", "workspaces/nope"), 404, "not_found")
        self.assert_error(self.srv.admin("PATCH", "workspaces/nope", {"strictMode": True}), 404, "not_found")

    # ---- projects and environments --------------------------------------------------------------

    def test_projects_and_environments(self):
        js = self.srv.create_project("internal-tools", name="Internal tools")
        self.assertEqual((js["slug"], js["name"], js["workspace"]), ("internal-tools", "Internal tools", "default"))
        self.assertEqual([e["slug"] for e in js["environments"]], ["prod", "staging", "dev"])
        self.assert_error(self.srv.admin("POST", "workspaces/default/projects", {"slug": "internal-tools"}), 409,
                          "already_exists", "slug")
        self.assert_error(self.srv.admin("POST", "workspaces/default/projects", {"slug": "Bad Slug"}), 400,
                          None, "slug")
        st, js, _ = self.srv.admin("GET", "workspaces/default/projects")
        self.assertEqual(st, 200)
        self.assertEqual([p["slug"] for p in js["projects"]].count("internal-tools"), 1)
        st, js, _ = self.srv.admin("GET", "workspaces/default/projects/internal-tools")
        self.assertEqual((st, js["slug"]), (200, "internal-tools"))
        # unknown workspace / project
        self.assert_error(self.srv.admin("POST", "workspaces/no-such-ws/projects", {"slug": "p"}), 404, "not_found")
        self.assert_error(self.srv.admin("GET", "workspaces/no-such-ws/projects"), 404, "not_found")
        self.assert_error(self.srv.admin("GET", "workspaces/default/projects/nope/environments"), 404, "not_found")
        self.assert_error(self.srv.admin("POST", "workspaces/default/projects/nope/environments",
                                         {"slug": "canary"}), 404, "not_found")
        # environments
        st, js, _ = self.srv.admin("GET", "workspaces/default/projects/internal-tools/environments")
        self.assertEqual(sorted(e["slug"] for e in js["environments"]), ["dev", "prod", "staging"])
        js = self.srv.create_environment("internal-tools", "canary")
        self.assertEqual((js["slug"], js["project"]), ("canary", "internal-tools"))
        self.assert_error(self.srv.admin("POST", "workspaces/default/projects/internal-tools/environments",
                                         {"slug": "canary"}), 409, "already_exists", "slug")
        self.assert_error(self.srv.admin("POST", "workspaces/default/projects/internal-tools/environments",
                                         {"slug": "Can Ary"}), 400, None, "slug")
        st, js, _ = self.srv.admin("GET", "workspaces/default/projects/internal-tools/environments")
        self.assertEqual(sorted(e["slug"] for e in js["environments"]), ["canary", "dev", "prod", "staging"])
        # the custom environment is usable right away
        key = self.srv.create_key(name="canary key")
        st, _, raw = self.srv.post_ingest(key, event("canary-1", project="internal-tools", environment="canary"))
        self.assertEqual((st, raw), (200, OK1))
        ev = self.srv.get_event("canary-1")
        self.assertEqual((ev["project"], ev["environment"], ev["flags"]), ("internal-tools", "canary", []))
        # method not allowed on a known path
        st, js, raw = self.srv.admin("DELETE", "workspaces/default/projects")
        self.assertEqual(st, 405, raw)

    # ---- keys ----------------------------------------------------------------------------------------

    def test_keys_secret_never_leaks_and_revoke(self):
        self.srv.admin("POST", "workspaces/default/projects", {"slug": "secrets-proj"})
        st, js, raw = self.srv.admin("POST", "workspaces/default/keys",
                                     {"name": "prod key", "defaultProject": "secrets-proj",
                                      "defaultEnvironment": "prod"})
        self.assertEqual(st, 201, raw)
        key_id, secret = js["id"], js["key"]
        self.assertTrue(key_id)
        self.assertGreaterEqual(len(secret), 20)
        self.assertNotEqual(key_id, secret)
        self.assertEqual((js["name"], js["defaultProject"], js["defaultEnvironment"]),
                         ("prod key", "secrets-proj", "prod"))
        # the key works
        st, _, raw = self.srv.post_ingest(secret, event("secret-use-1"))
        self.assertEqual((st, raw), (200, OK1))
        self.assertEqual(self.srv.get_event("secret-use-1")["keyId"], key_id)
        # a near miss is logged (if at all) without the real secret
        st, _, _ = self.srv.post_ingest(secret[:-2], event("secret-use-2"))
        self.assertEqual(st, 401)
        # the listing never shows the secret
        st, js, raw = self.srv.admin("GET", "workspaces/default/keys")
        self.assertEqual(st, 200)
        self.assertNotIn(secret.encode(), raw)
        listed = [k for k in js["keys"] if k["id"] == key_id]
        self.assertEqual(len(listed), 1)
        self.assertNotIn("key", listed[0])
        self.assertEqual(listed[0]["name"], "prod key")
        self.assertIsNone(listed[0]["revokedAt"])
        # nor the event read-back
        st, _, raw = self.srv.admin("GET", "workspaces/default/usage/events?limit=1000")
        self.assertNotIn(secret.encode(), raw)
        # nor the logs, nor the data folder; also after a restart (flushes, new files)
        self.assert_secret_absent(secret)
        self.srv.restart()
        st, _, raw = self.srv.post_ingest(secret, event("secret-use-3"))
        self.assertEqual((st, raw), (200, OK1), "the key must survive a restart")
        self.assert_secret_absent(secret)
        # revoke
        rv = self.srv.revoke_key(key_id)
        self.assertEqual(rv, {"ok": True, "id": key_id, "revoked": True})
        st, js, raw = self.srv.ingest(secret, event("secret-use-4"))
        self.assertEqual(st, 401, raw)
        self.assertEqual(js["error"]["code"], "unauthenticated")
        self.assertIsNone(self.srv.get_event("secret-use-4"))
        st, js, _ = self.srv.admin("GET", "workspaces/default/keys")
        self.assertIsNotNone([k for k in js["keys"] if k["id"] == key_id][0]["revokedAt"])
        # revoked stays revoked across a restart
        self.srv.restart()
        st, _, raw = self.srv.post_ingest(secret, event("secret-use-5"))
        self.assertEqual(st, 401, raw)
        self.assert_error(self.srv.admin("DELETE", "workspaces/default/keys/key_doesnotexist"), 404, "not_found")
        self.assert_secret_absent(secret)

    def assert_secret_absent(self, secret):
        needle = secret.encode()
        logs = self.srv.logs()
        self.assertNotIn(needle, logs, "the key secret appears in the server's stdout/stderr")
        hits = []
        for root, _, files in os.walk(self.srv.data_dir):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    if needle in f.read():
                        hits.append(os.path.relpath(path, self.srv.data_dir))
        self.assertEqual(hits, [], "the key secret is stored in plain text")

    def test_key_create_validation(self):
        self.assert_error(self.srv.admin("POST", "workspaces/default/keys", {}), 400, None, "name")
        self.assert_error(self.srv.admin("POST", "workspaces/no-such-ws/keys", {"name": "x"}), 404, "not_found")
        st, js, raw = self.srv.admin("POST", "workspaces/default/keys", {"name": "x", "defaultProject": "ghost"})
        self.assertIn(st, (400, 404), raw)
        self.assertEqual(js["error"]["field"], "defaultProject")
        st, js, raw = self.srv.admin("POST", "workspaces/default/keys", {"name": "x", "defaultEnvironment": "prod"})
        self.assertEqual(st, 400, raw)
        self.assertEqual(js["error"]["field"], "defaultEnvironment")

    def test_admin_token_not_in_logs(self):
        self.assertNotIn(self.srv.admin_token.encode(), self.srv.logs())

    # ---- the command line ------------------------------------------------------------------------

    def test_ctl(self):
        rc, out, err = self.srv.ctl("project-create", "cli-proj")
        self.assertEqual(rc, 0, err)
        js = json.loads(out)
        self.assertEqual(js["slug"], "cli-proj")
        self.assertEqual([e["slug"] for e in js["environments"]], ["prod", "staging", "dev"])
        st, got, _ = self.srv.admin("GET", "workspaces/default/projects/cli-proj")
        self.assertEqual(st, 200)
        # again: 409 → exit 1
        rc, out, err = self.srv.ctl("project-create", "cli-proj")
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(json.loads(out)["error"]["code"], "already_exists")
        # key-create prints the secret once; it works for ingestion
        rc, out, err = self.srv.ctl("key-create", "cli key", "--default-project", "cli-proj",
                                    "--default-environment", "dev")
        self.assertEqual(rc, 0, err)
        js = json.loads(out)
        secret = js["key"]
        self.assertEqual((js["name"], js["defaultProject"], js["defaultEnvironment"]), ("cli key", "cli-proj", "dev"))
        st, _, raw = self.srv.post_ingest(secret, event("cli-rid-1"))
        self.assertEqual((st, raw), (200, OK1))
        # event <rid>
        rc, out, err = self.srv.ctl("event", "cli-rid-1")
        self.assertEqual(rc, 0, err)
        evs = json.loads(out)["events"]
        self.assertEqual(len(evs), 1)
        self.assertEqual((evs[0]["requestId"], evs[0]["project"], evs[0]["environment"]),
                         ("cli-rid-1", "cli-proj", "dev"))
        # keys listing through the CLI does not show the secret
        rc, out, err = self.srv.ctl("keys")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(secret.encode(), out)
        # bad token → exit 1; no token → exit 2; unknown command / missing argument → exit 2
        rc, out, err = self.srv.ctl("projects", token="wrong")
        self.assertEqual(rc, 1, out + err)
        rc, out, err = self.srv.ctl("projects", token=False)
        self.assertEqual(rc, 2, out + err)
        rc, out, err = self.srv.ctl("frobnicate")
        self.assertEqual(rc, 2, out + err)
        rc, out, err = self.srv.ctl("project-create")
        self.assertEqual(rc, 2, out + err)
        # unreachable server → non-zero
        p = clx.subprocess.run([clx.BINARY, "ctl", "--url", "http://127.0.0.1:1", "--token", "t", "projects"],
                               capture_output=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)

    def test_ctl_event_unknown_request_id_fails(self):
        # `ctl event <rid>` answers "is this event stored?": a missing one must not exit 0
        rc, out, err = self.srv.ctl("event", "never-sent-request-id")
        self.assertNotEqual(rc, 0, "ctl event of an unknown requestId exited 0 with %r" % out)


if __name__ == "__main__":
    unittest.main()
