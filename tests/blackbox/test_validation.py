"""Bad input: the right status, a JSON error naming the field, and never a cost to a neighbour."""
import json
import unittest

import clx
from clx import OK1, event

INGEST = "/api/v1/usage/ingest"


def ev(rid, **kw):
    """An attributed event (project app / prod) so valid ones answer without warnings."""
    kw.setdefault("project", "app")
    kw.setdefault("environment", "prod")
    return event(rid, **kw)


class ValidationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.srv.create_project("app")
        cls.key = cls.srv.create_key(name="validation key")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    # ---- helpers ---------------------------------------------------------------------------

    def assert_error(self, status, raw, want_status, code, field="<any>", headers=None):
        self.assertEqual(status, want_status, raw)
        if headers is not None:
            self.assertEqual(headers.get("content-type", "").split(";")[0], "application/json")
        js = clx.parse(raw)
        self.assertIs(js.get("ok"), False, raw)
        self.assertEqual(js["error"]["code"], code, raw)
        if field != "<any>":
            self.assertEqual(js["error"].get("field"), field, raw)
        self.assertIsInstance(js["error"]["message"], str)
        self.assertTrue(js["error"]["message"], raw)
        return js

    def post(self, body, **kw):
        return self.srv.post_ingest(self.key, body, **kw)

    # ---- the envelope ------------------------------------------------------------------------

    def test_malformed_json(self):
        for body in (b'{bad', b'{"provider": "openai",', b'{"provider": "openai"} trailing',
                     b'{"events": [ {"provider": "openai"} ', b"{'provider': 'openai'}"):
            with self.subTest(body=body):
                st, h, raw = self.post(body)
                self.assert_error(st, raw, 400, "invalid_json", headers=h)

    def test_top_level_not_an_object(self):
        for body in (b'[]', json.dumps([ev("arr-1")]).encode(), b'"a string"', b'42', b'true', b'null'):
            with self.subTest(body=body):
                st, h, raw = self.post(body)
                self.assert_error(st, raw, 400, "invalid_body", headers=h)
        self.assertIsNone(self.srv.get_event("arr-1"))

    def test_empty_body(self):
        st, h, raw = self.post(b"")
        self.assert_error(st, raw, 400, "invalid_json", headers=h)
        st, h, raw = self.post(b"   \n")
        self.assertEqual(st, 400, raw)

    def test_empty_object(self):
        st, h, raw = self.post(b"{}")
        self.assert_error(st, raw, 400, "invalid_body", headers=h)

    def test_empty_batch(self):
        st, h, raw = self.post({"events": []})
        self.assert_error(st, raw, 400, "empty_batch", "events", headers=h)

    def test_events_not_an_array(self):
        st, h, raw = self.post({"events": {"requestId": "x"}})
        self.assert_error(st, raw, 400, "invalid_body", "events")

    def test_101_events_rejected_nothing_stored(self):
        evs = [ev("over-%03d" % i) for i in range(101)]
        st, h, raw = self.post({"events": evs})
        self.assert_error(st, raw, 400, "too_many_events", "events", headers=h)
        for rid in ("over-000", "over-050", "over-099", "over-100"):
            self.assertIsNone(self.srv.get_event(rid), rid)

    def test_100_events_accepted(self):
        evs = [ev("hundred-%03d" % i) for i in range(100)]
        st, h, raw = self.post({"events": evs})
        self.assertEqual((st, raw), (200, b'{"ok":true,"inserted":100,"skipped":0}'))
        stored = {e["requestId"] for e in self.srv.all_events() if e["requestId"].startswith("hundred-")}
        self.assertEqual(stored, {"hundred-%03d" % i for i in range(100)})
        st, h, raw = self.post({"events": evs})
        self.assertEqual((st, raw), (200, b'{"ok":true,"inserted":0,"skipped":100}'))

    # ---- per-event problems --------------------------------------------------------------------

    def test_mixed_batch(self):
        no_rid = ev("unused")
        del no_rid["requestId"]
        no_provider = ev("mix-no-provider")
        del no_provider["provider"]
        no_model = ev("mix-no-model")
        del no_model["model"]
        cases = [
            # (event, None when valid else (field, allowed codes))
            (ev("mix-valid-0"), None),
            (ev("mix-negative", outputTokens=-5), ("outputTokens", {"invalid_value"})),
            (no_rid, ("requestId", {"missing_field"})),
            (no_provider, ("provider", {"missing_field"})),
            (no_model, ("model", {"missing_field"})),
            (ev("mix-string-tokens", inputTokens="lots"), ("inputTokens", {"invalid_type", "invalid_value"})),
            (ev("mix-fraction", inputTokens=1.5), ("inputTokens", {"invalid_value", "invalid_type"})),
            (ev("mix-cached", inputTokens=10, cachedTokens=11), ("cachedTokens", {"invalid_value"})),
            (ev("mix-long-model", model="m" * 257), ("model", {"too_long"})),
            ("r" * 257, ("requestId", {"too_long"})),
            (7, ("events", {"invalid_type"})),
            (ev("mix-model-number", model=42), ("model", {"invalid_type"})),
            (ev("mix-bool-tokens", outputTokens=True), ("outputTokens", {"invalid_type"})),
            (ev("mix-valid-13", model="m" * 256), None),          # limits are inclusive
            (ev("q" * 256), None),
            (["not", "an", "event"], ("events", {"invalid_type"})),
            (ev("mix-control", feature="a\u0001b"), ("feature", {"invalid_value"})),
            (ev("mix-valid-17", provider="mistral", model="mistral-large-latest", cachedTokens=10), None),
        ]
        events = []
        for e, _ in cases:
            if isinstance(e, str):  # the too-long requestId case
                e = ev(e)
            events.append(e)
        st, h, raw = self.post({"events": events})
        self.assertEqual(st, 200, raw)
        js = clx.parse(raw)
        bad = [(i, c) for i, (_, c) in enumerate(cases) if c is not None]
        good = [i for i, (_, c) in enumerate(cases) if c is None]
        self.assertIs(js["ok"], True)
        self.assertEqual(js["inserted"], len(good), raw)
        self.assertEqual(js["skipped"], 0)
        self.assertEqual(js["rejected"], len(bad), raw)
        errs = js["errors"]
        self.assertEqual([e["index"] for e in errs], [i for i, _ in bad], raw)
        for e, (i, (field, codes)) in zip(errs, bad):
            with self.subTest(index=i):
                self.assertEqual(e["field"], field, e)
                self.assertIn(e["code"], codes, e)
                self.assertTrue(e["message"], e)
                want_rid = events[i].get("requestId", "") if isinstance(events[i], dict) else ""
                if isinstance(want_rid, str) and len(want_rid) <= 256:
                    self.assertEqual(e["requestId"], want_rid, e)
        for i in good:
            rid = events[i]["requestId"]
            stored = self.srv.get_event(rid)
            self.assertIsNotNone(stored, "valid event %d (%s...) was not stored" % (i, rid[:20]))
            self.assertEqual(stored["model"], events[i]["model"])
        for i, _ in bad:
            rid = events[i].get("requestId") if isinstance(events[i], dict) else None
            if isinstance(rid, str) and len(rid) <= 256:
                self.assertIsNone(self.srv.get_event(rid), "rejected event %d was stored" % i)
        # the whole batch again: valid ones skipped, invalid ones rejected again
        st, h, raw = self.post({"events": events})
        js = clx.parse(raw)
        self.assertEqual((st, js["inserted"], js["skipped"], js["rejected"]), (200, 0, len(good), len(bad)), raw)

    def test_invalid_utf8_event_does_not_block_its_batch(self):
        # one event carries raw bytes that are not UTF-8 in "model"; its neighbours must still be stored
        good0 = json.dumps(ev("utf8-good-0")).encode()
        bad = b'{"provider":"openai","model":"gpt-4o-mini\xff\xfe","inputTokens":1,"outputTokens":1,' \
              b'"requestId":"utf8-bad-1","project":"app","environment":"prod"}'
        good2 = json.dumps(ev("utf8-good-2")).encode()
        st, h, raw = self.post(b'{"events":[' + good0 + b"," + bad + b"," + good2 + b"]}")
        self.assertEqual(st, 200, raw)
        js = clx.parse(raw)
        self.assertEqual((js["inserted"], js["skipped"], js["rejected"]), (2, 0, 1), raw)
        self.assertEqual([(e["index"], e["field"], e["code"]) for e in js["errors"]], [(1, "model", "invalid_value")])
        self.assertIsNotNone(self.srv.get_event("utf8-good-0"))
        self.assertIsNotNone(self.srv.get_event("utf8-good-2"))
        self.assertIsNone(self.srv.get_event("utf8-bad-1"))

    def assert_valid_json_response(self, body, want_status):
        st, h, raw = self.post(body)
        self.assertEqual(st, want_status, raw)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self.fail("response is not valid UTF-8 JSON (%s): %r" % (e, raw[:400]))

    def test_response_is_valid_json_when_echoing_long_multibyte_text(self):
        # valid UTF-8 input; the server quotes (and truncates) the caller's text in messages
        e = ev("echo-unknown-key")
        e["a" * 63 + "\u00e9"] = 1  # unknown member name, cut at 64 bytes by the server
        cases = [
            ("unknown member name", e, 200, lambda js: [w["code"] for w in js["warnings"]] == ["unknown_field"]),
            ("inputTokens text", ev("echo-tokens", inputTokens="x" + "\u00e9" * 30), 400,
             lambda js: js["error"]["field"] == "inputTokens"),
            ("estimatedCostUsd text", ev("echo-cost", estimatedCostUsd="x" + "\u00e9" * 30), 400,
             lambda js: js["error"]["field"] == "estimatedCostUsd"),
        ]
        for name, body, status, check in cases:
            with self.subTest(case=name):
                js = self.assert_valid_json_response(json.dumps(body, ensure_ascii=False).encode(), status)
                self.assertTrue(check(js), js)

    def test_response_is_valid_json_when_input_has_lone_surrogate_escapes(self):
        # "\udc80" is legal JSON syntax but no character: rejected, and the answer must stay valid JSON
        single = (b'{"provider":"openai","model":"gpt-4o-mini","inputTokens":1,"outputTokens":1,'
                  b'"requestId":"surrogate\\udc80","project":"app","environment":"prod"}')
        batch = (b'{"events":[{"provider":"openai","model":"gpt-4o-mini","inputTokens":1,"outputTokens":1,'
                 b'"requestId":"surrogate-b\\udc80"},' + json.dumps(ev("surrogate-ok")).encode() + b']}')
        member = (b'{"provider":"openai","model":"gpt-4o-mini","inputTokens":1,"outputTokens":1,'
                  b'"requestId":"surrogate-key","project":"app","environment":"prod","\\udc80x":1}')
        cases = [
            ("single event requestId", single, 400,
             lambda js: (js["error"]["field"], js["error"]["code"]) == ("requestId", "invalid_value")),
            ("batch requestId", batch, 200, lambda js: (js["inserted"], js["rejected"]) == (1, 1)),
            ("unknown member name", member, 200, lambda js: js["inserted"] == 1),
        ]
        for name, body, status, check in cases:
            with self.subTest(case=name):
                js = self.assert_valid_json_response(body, status)
                self.assertTrue(check(js), js)

    def test_single_invalid_event_is_400_naming_the_field(self):
        st, h, raw = self.post(ev("single-bad", inputTokens=-1))
        self.assertEqual(st, 400, raw)
        self.assertEqual(h.get("content-type", "").split(";")[0], "application/json")
        js = clx.parse(raw)
        self.assertEqual(set(js), {"ok", "error"})
        self.assertIs(js["ok"], False)
        self.assertEqual(set(js["error"]), {"code", "field", "message", "requestId"}, raw)
        self.assertEqual(js["error"]["code"], "invalid_value")
        self.assertEqual(js["error"]["field"], "inputTokens")
        self.assertEqual(js["error"]["requestId"], "single-bad")
        self.assertIsNone(self.srv.get_event("single-bad"))
        # missing required field, single event
        e = ev("single-missing")
        del e["model"]
        st, h, raw = self.post(e)
        js = self.assert_error(st, raw, 400, "missing_field", "model")
        self.assertEqual(js["error"]["requestId"], "single-missing")
        # the same id, corrected, is then accepted
        st, h, raw = self.post(ev("single-bad"))
        self.assertEqual((st, raw), (200, OK1))

    def test_token_upper_bound(self):
        # 10^9 per field per event (docs/api.md, "Limits per event")
        st, h, raw = self.post(ev("tok-max", inputTokens=10 ** 9, outputTokens=10 ** 9))
        self.assertEqual(st, 200, raw)
        st, h, raw = self.post(ev("tok-over", inputTokens=10 ** 9 + 1))
        self.assert_error(st, raw, 400, "invalid_value", "inputTokens")
        st, h, raw = self.post(ev("tok-over-out", outputTokens=10 ** 9 + 1))
        self.assert_error(st, raw, 400, "invalid_value", "outputTokens")
        st, h, raw = self.post(ev("tok-huge", outputTokens=10 ** 30))
        self.assert_error(st, raw, 400, "invalid_value", "outputTokens")

    # ---- authentication ------------------------------------------------------------------------

    def test_missing_api_key(self):
        st, h, raw = self.srv.post_ingest(None, ev("auth-none"))
        self.assert_error(st, raw, 401, "unauthenticated", headers=h)
        st, h, raw = self.srv.post_ingest("", ev("auth-empty"))
        self.assert_error(st, raw, 401, "unauthenticated")
        self.assertIsNone(self.srv.get_event("auth-none"))

    def test_unknown_api_key(self):
        for k in ("clx_" + "A" * 40, self.key[:-1] + ("A" if self.key[-1] != "A" else "B"), self.key + "x"):
            st, h, raw = self.srv.post_ingest(k, ev("auth-unknown"))
            self.assert_error(st, raw, 401, "unauthenticated", headers=h)
        self.assertIsNone(self.srv.get_event("auth-unknown"))

    def test_revoked_key(self):
        k = self.srv.create_key_full(name="to revoke")
        st, h, raw = self.srv.post_ingest(k["key"], ev("revoke-before"))
        self.assertEqual((st, raw), (200, OK1))
        rv = self.srv.revoke_key(k["id"])
        self.assertEqual(rv, {"ok": True, "id": k["id"], "revoked": True})
        st, h, raw = self.srv.post_ingest(k["key"], ev("revoke-after"))
        self.assert_error(st, raw, 401, "unauthenticated", headers=h)
        self.assertIsNone(self.srv.get_event("revoke-after"))
        # other keys are unaffected
        st, h, raw = self.post(ev("revoke-neighbour"))
        self.assertEqual((st, raw), (200, OK1))

    # ---- HTTP level -------------------------------------------------------------------------------

    def test_wrong_content_type(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonp", "multipart/form-data",
                   None):
            with self.subTest(ct=ct):
                st, h, raw = self.srv.post_ingest(self.key, ev("ct-bad"), content_type=ct)
                self.assert_error(st, raw, 415, "unsupported_media_type", headers=h)
        self.assertIsNone(self.srv.get_event("ct-bad"))
        # curl's default for -d (no -H Content-Type) is the form type
        rc, out, err = clx.curl(["-sS", "-X", "POST", self.srv.url + INGEST, "-H", "X-API-Key: " + self.key,
                                 "-d", json.dumps(ev("ct-curl-form")), "-w", "\n%{http_code}"])
        self.assertEqual(rc, 0, err)
        body, code = out.rsplit(b"\n", 1)
        self.assertEqual(code, b"415")
        self.assertEqual(clx.parse(body)["error"]["code"], "unsupported_media_type")
        self.assertIsNone(self.srv.get_event("ct-curl-form"))
        # with parameters it is still JSON
        st, h, raw = self.srv.post_ingest(self.key, ev("ct-charset"), content_type="application/json; charset=utf-8")
        self.assertEqual((st, raw), (200, OK1))

    def test_body_over_1mib(self):
        # a syntactically valid event padded past 1 MiB with an unknown member
        base = json.dumps(ev("big-over"))[:-1] + ',"pad":"'
        body = (base + "x" * (1048576 + 1 - len(base) - 2) + '"}').encode()
        self.assertEqual(len(body), 1048577)
        st, h, raw = self.post(body)
        self.assert_error(st, raw, 413, "payload_too_large", headers=h)
        self.assertIsNone(self.srv.get_event("big-over"))
        # exactly 1 MiB is accepted
        base = json.dumps(ev("big-exact"))[:-1] + ',"pad":"'
        body = (base + "x" * (1048576 - len(base) - 2) + '"}').encode()
        self.assertEqual(len(body), 1048576)
        st, h, raw = self.post(body)
        self.assertEqual(st, 200, raw)
        js = clx.parse(raw)
        self.assertEqual(js["inserted"], 1)
        self.assertIsNotNone(self.srv.get_event("big-exact"))

    def test_get_on_ingest_is_405(self):
        for method in ("GET", "PUT", "DELETE"):
            st, h, raw = self.srv.request(method, INGEST, None, {"X-API-Key": self.key})
            self.assert_error(st, raw, 405, "method_not_allowed", headers=h)
            self.assertEqual(h.get("allow"), "POST")

    def test_unknown_route_is_404_json(self):
        for path in ("/nope", "/api/v1/usage/ingestx", "/api/v2/usage/ingest", "/api/v1/admin/nothing-here"):
            with self.subTest(path=path):
                hdr = {"Authorization": "Bearer " + self.srv.admin_token}
                st, h, raw = self.srv.request("GET", path, None, hdr)
                self.assert_error(st, raw, 404, "not_found", headers=h)

    def test_unknown_field_is_stored_with_warning(self):
        e = ev("unknown-field-1", temperature=0.7)
        st, h, raw = self.post(e)
        self.assertEqual(st, 200, raw)
        js = clx.parse(raw)
        self.assertEqual((js["ok"], js["inserted"], js["skipped"]), (True, 1, 0))
        self.assertNotIn("errors", js)
        self.assertEqual([(w["index"], w["requestId"], w["code"]) for w in js["warnings"]],
                         [(0, "unknown-field-1", "unknown_field")])
        self.assertIn("temperature", js["warnings"][0]["message"])
        stored = self.srv.get_event("unknown-field-1")
        self.assertEqual((stored["model"], stored["project"]), ("gpt-4o-mini", "app"))
        self.assertNotIn("temperature", stored)

    def test_keepalive_connection_survives_bad_requests(self):
        conn = self.srv.connect()
        try:
            hdr = {"Content-Type": "application/json", "X-API-Key": self.key}
            for body in (b"{bad", b"[]", json.dumps(ev("ka-bad", inputTokens=-1)).encode(),
                         json.dumps(ev("ka-good")).encode()):
                conn.request("POST", INGEST, body=body, headers=hdr)
                resp = conn.getresponse()
                raw = resp.read()
            self.assertEqual((resp.status, raw), (200, OK1))
        finally:
            conn.close()

    def test_zz_server_still_healthy(self):
        st, h, raw = self.srv.request("GET", "/healthz")
        self.assertEqual(st, 200, raw)
        self.assertIs(clx.parse(raw)["ok"], True)
        st, h, raw = self.srv.request("GET", "/readyz")
        self.assertEqual(st, 200, raw)
        st, h, raw = self.post(ev("zz-after-everything"))
        self.assertEqual((st, raw), (200, OK1))
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    unittest.main()
