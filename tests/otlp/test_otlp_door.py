"""The OTLP door, black-box: hand-built OTLP exports (protobuf and JSON, plain and gzip) sent to
the real costlynxd over POST /v1/traces and over gRPC TraceService/Export, and what is stored,
answered and counted.

Starts the real binary (clx.Server(grpc=True)); keys and read-back go through the REST settings
API; the gRPC calls use Debian's grpcio with generic (bytes) stubs. The OTLP and google.rpc
classes are generated at import time (otlp_stubs.py).

    cd tests/otlp && /usr/bin/python3 -m unittest -v test_otlp_door
"""
import errno
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, os.path.join(HERE, "..", "grpc"))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

import clx  # noqa: E402
import grpc_stubs  # noqa: E402
import otlp_stubs as O  # noqa: E402

G = grpc_stubs.load()
TRACES = "/v1/traces"
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
PB = "application/x-protobuf"
JS = "application/json"
RPC_TIMEOUT = 30.0
SC = grpc.StatusCode
# what a stored event says about the call; the rest (requestId, keyId, receivedAt) is per delivery
CALL_FIELDS = ("provider", "providerAsSent", "model", "modelNormalized", "priceId", "costUsd", "costSource",
               "inputTokens", "outputTokens", "cachedTokens", "cacheWriteTokens", "batch", "project", "environment",
               "projectAsSent", "environmentAsSent", "feature", "flags")


def ids(n):
    """A distinct, valid (non-zero) trace id and span id for span n."""
    return (b"\x0c\x1a" + n.to_bytes(14, "big")), (b"\x5b" + n.to_bytes(7, "big"))


def spans_of(attrs_list, first=0):
    out = []
    for i, a in enumerate(attrs_list):
        t, s = ids(first + i)
        out.append(O.span(a, trace_id=t, span_id=s))
    return out


def body_of(req, fmt):
    if fmt == "pb":
        return req.SerializeToString(), PB
    return json.dumps(O.to_json(req)).encode(), JS


def http_span(**kw):
    """A span that is not a GenAI call (ignored)."""
    a = {"http.request.method": "GET", "http.response.status_code": 200, "url.path": "/orders"}
    a.update(kw)
    return a


def metric(text, name, **labels):
    """The value of one sample in a Prometheus text page (0 when absent)."""
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(want)), text, re.M)
    return int(m.group(1)) if m else 0


class OtlpDoorBase(unittest.TestCase):
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(grpc=True, extra_args=cls.extra_args)
        cls.srv.create_project("checkout")
        # events that name no project are charged to checkout (no no_attribution warning)
        cls.key = cls.srv.create_key(name="otlp", default_project="checkout")
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.export_rpc = cls.channel.unary_unary(EXPORT)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.stop()
        cls.srv.cleanup()

    # ---- sending -----------------------------------------------------------------------------

    def post(self, body, content_type=PB, key="default", encoding=None, headers=None):
        """(status, headers, raw) of POST /v1/traces with the class key (key None: none)."""
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        if key == "default":
            key = self.key
        if key is not None:
            h["x-api-key"] = key
        if encoding is not None:
            h["Content-Encoding"] = encoding
        h.update(headers or {})
        return self.srv.request("POST", TRACES, body, h)

    def export(self, req, fmt="pb", compress=False, **kw):
        body, ctype = body_of(req, fmt)
        if compress:
            body = gzip.compress(body)
            kw["encoding"] = "gzip"
        return self.post(body, ctype, **kw)

    def export_grpc(self, req, key="default", metadata=None, raw=None, **kw):
        """The ExportTraceServiceResponse of a gRPC export (raises grpc.RpcError on a status)."""
        if key == "default":
            key = self.key
        md = list(metadata or ())
        if key is not None:
            md.append(("x-api-key", key))
        out = self.export_rpc(raw if raw is not None else req.SerializeToString(), metadata=md,
                              timeout=RPC_TIMEOUT, **kw)
        return O.S.service.ExportTraceServiceResponse.FromString(out)

    # ---- answers -------------------------------------------------------------------------------

    def assert_success(self, st, hdrs, raw, ctype=PB):
        self.assertEqual(st, 200, raw)
        self.assertEqual(hdrs["content-type"], ctype)
        self.assertEqual(raw, b"" if ctype == PB else b"{}")

    def partial(self, st, hdrs, raw):
        """(rejected_spans, error_message) of a 200 answer with partial_success, either format."""
        self.assertEqual(st, 200, raw)
        if hdrs["content-type"] == PB:
            r = O.S.service.ExportTraceServiceResponse.FromString(raw)
            self.assertTrue(r.HasField("partial_success"), raw)
            return r.partial_success.rejected_spans, r.partial_success.error_message
        js = json.loads(raw)
        p = js["partialSuccess"]
        self.assertIsInstance(p["rejectedSpans"], str)  # OTLP/JSON: int64 as a string
        return int(p["rejectedSpans"]), p["errorMessage"]

    def assert_refused(self, got, status, reason, says=None, ctype=None, retry=None):
        """A refusal: the HTTP status, a google.rpc.Status body naming reason (ErrorInfo), in ctype."""
        st, hdrs, raw = got
        self.assertEqual(st, status, raw)
        if ctype is not None:
            self.assertEqual(hdrs["content-type"], ctype)
        code, message, got_reason, got_retry = O.status_of(raw, hdrs["content-type"])
        self.assertEqual(got_reason, reason, raw)
        self.assertEqual(code, {400: 3, 401: 16, 413: 8, 415: 3, 503: 14}[status], raw)
        if says is not None:
            self.assertIn(says, message)
        self.assertEqual(got_retry, retry, raw)
        if retry is None:
            self.assertNotIn("retry-after", hdrs)
        else:
            self.assertEqual(hdrs.get("retry-after"), str(retry))
        return message

    def grpc_refusal(self, fn, code):
        """The (details text, ErrorInfo reason, retry seconds) of a call that ends with status code."""
        with self.assertRaises(grpc.RpcError) as cm:
            fn()
        e = cm.exception
        self.assertEqual(e.code(), code, e.details())
        trailer = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
        self.assertIsNotNone(trailer, "a google.rpc.Status in grpc-status-details-bin")
        st_code, message, reason, retry = O.status_of(trailer, PB)
        self.assertEqual(st_code, code.value[0])
        self.assertEqual(message, e.details())
        return e.details(), reason, retry

    def metrics(self):
        st, _, raw = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        return raw.decode()

    def count_events(self, ws="default"):
        return len(self.srv.all_events(ws))


class OtlpHttpTest(OtlpDoorBase):
    """OTLP/HTTP: POST /v1/traces."""

    def rest_twin(self, request_id, **fields):
        """The same call sent to the REST door (the guide's way), read back."""
        st, js, raw = self.srv.ingest(self.key, clx.event(request_id, **fields))
        self.assertEqual(st, 200, raw)
        return self.srv.get_event(request_id)

    def assert_same_call(self, otlp_ev, rest_ev):
        self.assertIsNotNone(otlp_ev)
        self.assertEqual({k: otlp_ev[k] for k in CALL_FIELDS}, {k: rest_ev[k] for k in CALL_FIELDS})

    def test_protobuf_export_stores_what_rest_stores(self):
        req = O.request(spans_of([
            O.genai("chatcmpl-otlp-pb-1", model="gpt-4o-mini-2024-07-18", inp=1200, out=80,
                    **{"gen_ai.usage.cache_read.input_tokens": 1024, "costlynx.feature": "order-status",
                       "user.id": "u-42"}),
            http_span(),
        ]), resource={"costlynx.project": "checkout", "deployment.environment.name": "prod",
                      "service.name": "shop"})
        self.assert_success(*self.export(req))
        ev = self.srv.get_event("chatcmpl-otlp-pb-1")
        self.assert_same_call(ev, self.rest_twin("rest-twin-pb-1", model="gpt-4o-mini-2024-07-18", inputTokens=1200,
                                                 outputTokens=80, cachedTokens=1024, project="checkout",
                                                 environment="prod", feature="order-status"))
        self.assertEqual((ev["project"], ev["environment"], ev["feature"]), ("checkout", "prod", "order-status"))
        self.assertEqual(ev["priceId"], "openai/gpt-4o-mini@2024-07-18")
        self.assertEqual(ev["flags"], [])

    def test_span_end_time_user_and_tags_are_stored(self):
        # issue 10 through the OTLP door: the span's end is the event's time (not the arrival),
        # user.id / enduser.id the user, costlynx.tags.* the tags (the span's replace the resource's)
        two_days_ago_ns = (time.time_ns() // 1_000_000 - 2 * 86_400_000 - 1234) * 1_000_000 + 987_654
        t, s = ids(9001)
        sp = O.span(O.genai("otlp-time-user-tags-1", **{"enduser.id": "cust-7", "costlynx.tags.team": "search",
                                                        "costlynx.tags.tier": "gold"}),
                    trace_id=t, span_id=s, end_ns=two_days_ago_ns)
        req = O.request([sp], resource={"costlynx.tags.team": "payments", "costlynx.tags.region": "eu"})
        self.assert_success(*self.export(req))
        ev = self.srv.get_event("otlp-time-user-tags-1")
        end_ms = two_days_ago_ns // 1_000_000
        want = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(end_ms // 1000)) + ".%03dZ" % (end_ms % 1000)
        self.assertEqual(ev["timestamp"], want)
        self.assertNotEqual(ev["receivedAt"], ev["timestamp"])
        self.assertEqual(ev["userId"], "cust-7")
        self.assertEqual(ev["tags"], {"region": "eu", "team": "search", "tier": "gold"})

        # a span that ended before the window (35 days) is a rejected span, the window named
        t, s = ids(9002)
        old_ns = time.time_ns() - 36 * 86_400 * 1_000_000_000
        req = O.request([O.span(O.genai("otlp-too-old-1"), trace_id=t, span_id=s, end_ns=old_ns)])
        rejected, message = self.partial(*self.export(req))
        self.assertEqual(rejected, 1)
        self.assertIn("outside the accepted window of 35 days back", message)
        self.assertIsNone(self.srv.get_event("otlp-too-old-1"))

    def test_json_and_gzip_exports(self):
        cases = [("json", False, "otlp-js-1"), ("json", True, "otlp-jsgz-1"), ("pb", True, "otlp-pbgz-1")]
        for fmt, compress, rid in cases:
            with self.subTest(fmt=fmt, gzip=compress):
                req = O.request(spans_of([O.genai(rid, provider="anthropic", model="claude-sonnet-4-5-20250929",
                                                  inp=30, out=150,
                                                  **{"gen_ai.usage.cache_read.input_tokens": 1800,
                                                     "gen_ai.usage.cache_creation.input_tokens": 200,
                                                     "gen_ai.usage.total_tokens": 2180})]),
                                resource={"costlynx.project": "checkout", "costlynx.environment": "staging"})
                self.assert_success(*self.export(req, fmt, compress), ctype=PB if fmt == "pb" else JS)
                # Anthropic counts cache tokens beside input_tokens: the total says so, and costlynx's
                # inputTokens holds them all, as the REST door's does
                self.assert_same_call(self.srv.get_event(rid), self.rest_twin(
                    "rest-" + rid, provider="anthropic", model="claude-sonnet-4-5-20250929", inputTokens=2030,
                    outputTokens=150, cachedTokens=1800, cacheWriteTokens=200, project="checkout",
                    environment="staging"))

    def test_bearer_token_and_key_errors(self):
        req = O.request(spans_of([O.genai("otlp-bearer-1")]))
        body = req.SerializeToString()
        self.assert_success(*self.post(body, key=None, headers={"Authorization": "Bearer " + self.key}))
        self.assertIsNotNone(self.srv.get_event("otlp-bearer-1"))
        # x-api-key wins over Authorization
        self.assert_success(*self.post(body, headers={"Authorization": "Bearer nonsense"}))
        cases = [
            ("no key", dict(key=None), "x-api-key"),
            ("unknown key", dict(key="clx_" + "Z" * 40), "unknown or revoked"),
            ("empty x-api-key", dict(key=""), "x-api-key"),
            ("Basic scheme", dict(key=None, headers={"Authorization": "Basic " + self.key}), "Bearer"),
            ("Bearer unknown", dict(key=None, headers={"Authorization": "Bearer clx_" + "Y" * 40}), "unknown"),
            ("Bearer without token", dict(key=None, headers={"Authorization": "Bearer "}), "Bearer"),
        ]
        for name, kw, says in cases:
            with self.subTest(case=name):
                for fmt_body, ctype in ((body, PB), (json.dumps(O.to_json(req)).encode(), JS)):
                    self.assert_refused(self.post(fmt_body, ctype, **kw), 401, "unauthenticated", says, ctype=ctype)
        # a revoked key
        k = self.srv.create_key_full(name="soon revoked", default_project="checkout")
        self.assert_success(*self.post(O.request(spans_of([O.genai("otlp-revoked-0")])).SerializeToString(),
                                       key=k["key"]))
        self.srv.revoke_key(k["id"])
        self.assert_refused(self.post(O.request(spans_of([O.genai("otlp-revoked-1")])).SerializeToString(),
                                      key=k["key"]), 401, "unauthenticated", "revoked")
        self.assertIsNone(self.srv.get_event("otlp-revoked-1"))

    def test_non_genai_spans_are_ignored(self):
        before = self.count_events()
        m0 = self.metrics()
        req = O.request(spans_of([http_span(), http_span(**{"db.system": "postgresql"}),
                                  {"traceloop.span.kind": "workflow", "traceloop.entity.name": "support"}]))
        for fmt in ("pb", "json"):
            self.assert_success(*self.export(req, fmt), ctype=PB if fmt == "pb" else JS)
        self.assertEqual(self.count_events(), before)
        m1 = self.metrics()
        self.assertEqual(metric(m1, "costlynx_otlp_spans_total", transport="http", outcome="ignored") -
                         metric(m0, "costlynx_otlp_spans_total", transport="http", outcome="ignored"), 6)
        self.assertEqual(metric(m1, "costlynx_otlp_requests_total", transport="http", result="success") -
                         metric(m0, "costlynx_otlp_requests_total", transport="http", result="success"), 2)

    def test_duplicate_export_is_skipped(self):
        req = O.request(spans_of([O.genai("otlp-dup-1"), O.genai(None, inp=7, out=3)], first=500))
        m0 = self.metrics()
        self.assert_success(*self.export(req))
        stored = self.srv.get_event("otlp-dup-1")
        # the span without gen_ai.response.id is deduplicated by its trace and span ids
        t, s = ids(501)
        twin = self.srv.get_event(t.hex() + "-" + s.hex())
        self.assertEqual(twin["inputTokens"], 7)
        before = self.count_events()
        for again in (lambda: self.export(req), lambda: self.export(req, "json", True)):
            st, hdrs, raw = again()
            self.assertEqual(st, 200, raw)
            self.assertIn(raw, (b"", b"{}"))  # skipped spans are not problems
        self.assertEqual(self.export_grpc(req).HasField("partial_success"), False)
        self.assertEqual(self.count_events(), before)
        self.assertEqual(self.srv.get_event("otlp-dup-1"), stored)
        m1 = self.metrics()
        self.assertEqual(metric(m1, "costlynx_otlp_spans_total", transport="http", outcome="inserted") -
                         metric(m0, "costlynx_otlp_spans_total", transport="http", outcome="inserted"), 2)
        self.assertEqual(metric(m1, "costlynx_otlp_spans_total", transport="http", outcome="skipped") -
                         metric(m0, "costlynx_otlp_spans_total", transport="http", outcome="skipped"), 4)
        self.assertEqual(metric(m1, "costlynx_otlp_spans_total", transport="grpc", outcome="skipped") -
                         metric(m0, "costlynx_otlp_spans_total", transport="grpc", outcome="skipped"), 2)

    def test_rejected_spans_partial_success(self):
        req = O.request(spans_of([
            O.genai("otlp-part-ok-0"),
            O.genai("otlp-part-nomodel", **{"gen_ai.request.model": None, "gen_ai.response.model": None}),
            http_span(),
            O.genai("otlp-part-neg", inp=-5),
            O.genai("otlp-part-noprovider", **{"gen_ai.provider.name": None}),
            O.genai("otlp-part-ok-5", **{"gen_ai.system": "openai", "gen_ai.provider.name": None}),
        ], first=600))
        for fmt in ("pb", "json"):
            with self.subTest(fmt=fmt):
                n, msg = self.partial(*self.export(req, fmt))
                self.assertEqual(n, 3)
                self.assertTrue(msg.startswith("span 1: no model: neither gen_ai.response.model nor "
                                               "gen_ai.request.model is set"), msg)
                self.assertIn("(3 spans rejected in all)", msg)
        for rid in ("otlp-part-ok-0", "otlp-part-ok-5"):
            self.assertIsNotNone(self.srv.get_event(rid), rid)
        for rid in ("otlp-part-nomodel", "otlp-part-neg", "otlp-part-noprovider"):
            self.assertIsNone(self.srv.get_event(rid), rid)

    def test_pipeline_rejections_are_rejected_spans(self):
        # what the mapping accepts but the pipeline refuses counts in rejected_spans too, and the
        # message names the first problem in span order, whoever found it
        req = O.request(spans_of([
            O.genai("otlp-pipe-ok-0"),
            O.genai("otlp-pipe-big", inp=2_000_000_000),              # over the per-event limit (pipeline)
            O.genai("otlp-pipe-long", model="m" * 300),               # over 256 bytes (pipeline)
            O.genai("otlp-pipe-nomodel", **{"gen_ai.request.model": None, "gen_ai.response.model": None}),
        ], first=700))
        n, msg = self.partial(*self.export(req))
        self.assertEqual(n, 3)
        self.assertTrue(msg.startswith("span 1: inputTokens"), msg)
        self.assertIn("(3 spans rejected in all)", msg)
        self.assertIsNotNone(self.srv.get_event("otlp-pipe-ok-0"))
        # strict workspace: an unknown project is a rejection
        self.srv.create_workspace("strictotlp")
        self.srv.create_project("known", ws="strictotlp")
        self.srv.set_strict(True, ws="strictotlp")
        skey = self.srv.create_key(ws="strictotlp")
        req = O.request(spans_of([O.genai("otlp-strict-0", **{"costlynx.project": "known"}),
                                  O.genai("otlp-strict-1", **{"costlynx.project": "nope"})], first=720))
        n, msg = self.partial(*self.export(req, "json", key=skey))
        self.assertEqual(n, 1)
        self.assertEqual(msg, "span 1: project 'nope' does not exist in workspace 'strictotlp' (strict mode)")
        self.assertIsNotNone(self.srv.get_event("otlp-strict-0", ws="strictotlp"))
        self.assertIsNone(self.srv.get_event("otlp-strict-1", ws="strictotlp"))

    def test_warnings_are_passed_on(self):
        # OTLP passes warnings as partial_success with rejected_spans 0
        req = O.request(spans_of([O.genai("otlp-warn-0", model="gpt-nobody-knows"),
                                  O.genai("otlp-warn-1", **{"costlynx.project": "ghost"})], first=800))
        n, msg = self.partial(*self.export(req, "json"))
        self.assertEqual(n, 0)
        self.assertTrue(msg.startswith("span 0: no catalog price for openai model 'gpt-nobody-knows'"), msg)
        self.assertIn("(2 warnings in all)", msg)
        self.assertEqual(self.srv.get_event("otlp-warn-0")["flags"], ["unpriced"])
        self.assertIn("unknown_project", self.srv.get_event("otlp-warn-1")["flags"])

    def test_bodies_that_are_not_otlp(self):
        valid = O.request(spans_of([O.genai("otlp-never")])).SerializeToString()
        cases = [
            ("garbage bytes as protobuf", lambda: self.post(b"\xff\xfe\xfd\x00garbage", PB), 400, "invalid_protobuf",
             PB),
            ("truncated protobuf", lambda: self.post(valid[:-5], PB), 400, "invalid_protobuf", PB),
            ("JSON sent as protobuf", lambda: self.post(b'{"resourceSpans":[]}', PB), 400, "invalid_protobuf", PB),
            ("invalid JSON", lambda: self.post(b'{"resourceSpans":[', JS), 400, "invalid_json", JS),
            ("protobuf sent as JSON", lambda: self.post(valid, JS), 400, "invalid_json", JS),
            ("not gzip", lambda: self.post(valid, PB, encoding="gzip"), 400, "invalid_gzip", PB),
            ("truncated gzip", lambda: self.post(gzip.compress(valid)[:-9], PB, encoding="gzip"), 400,
             "invalid_gzip", PB),
            ("text/plain", lambda: self.post(valid, "text/plain"), 415, "unsupported_media_type", JS),
            ("no Content-Type", lambda: self.post(valid, None), 415, "unsupported_media_type", JS),
            ("brotli", lambda: self.post(valid, PB, encoding="br"), 415, "unsupported_encoding", PB),
            ("10,001 spans", lambda: self.export(O.request([O.span(http_span())] * 10001)), 413, "too_many_spans", PB),
        ]
        for name, send, status, reason, ctype in cases:
            with self.subTest(case=name):
                self.assert_refused(send(), status, reason, ctype=ctype)
        self.assertIsNone(self.srv.get_event("otlp-never"))
        st, hdrs, raw = self.srv.request("GET", TRACES, None, {"x-api-key": self.key})
        self.assertEqual((st, hdrs.get("allow")), (405, "POST"), raw)
        # every refusal above was counted, none as anything else
        m = self.metrics()
        self.assertGreaterEqual(metric(m, "costlynx_otlp_requests_total", transport="http", result="refused"),
                                len(cases))

    def test_ten_thousand_spans_in_one_export(self):
        self.srv.create_workspace("huge")
        hkey = self.srv.create_key(ws="huge")
        attrs = [O.genai("huge-%05d" % i, inp=100 + i, out=1) for i in range(10000)]
        attrs[4321] = O.genai("huge-04321", **{"gen_ai.provider.name": None})     # the mapping rejects
        attrs[250] = O.genai("huge-00250", inp=2_000_000_000)                    # the pipeline rejects
        req = O.request(spans_of(attrs, first=10_000))
        n, msg = self.partial(*self.export(req, key=hkey))
        self.assertEqual(n, 2)
        self.assertTrue(msg.startswith("span 250: inputTokens"), msg)
        self.assertIn("(2 spans rejected in all)", msg)
        evs = self.srv.all_events("huge")
        self.assertEqual(len(evs), 9998)
        # stored in span order: newest first is the last span
        self.assertEqual([e["requestId"] for e in evs[:3]], ["huge-09999", "huge-09998", "huge-09997"])
        self.assertEqual([e["requestId"] for e in evs[-2:]], ["huge-00001", "huge-00000"])
        self.assertEqual(sum(e["inputTokens"] for e in evs), sum(100 + i for i in range(10000)) - 350 - 4421)
        # the same export again (an exporter's retry): every span skipped, the same rejections
        m0 = self.metrics()
        n, msg2 = self.partial(*self.export(req, key=hkey, compress=True))
        self.assertEqual((n, msg2), (2, msg))
        self.assertEqual(len(self.srv.all_events("huge")), 9998)
        m1 = self.metrics()
        self.assertEqual(metric(m1, "costlynx_otlp_spans_total", transport="http", outcome="skipped") -
                         metric(m0, "costlynx_otlp_spans_total", transport="http", outcome="skipped"), 9998)

    def test_http2_export_larger_than_the_ingest_limit(self):
        # /v1/traces takes --otlp-max-body-bytes (16 MiB) where ingest takes --max-body-bytes (1 MiB),
        # also over cleartext HTTP/2 (prior knowledge), whose bodies are cut below h2o
        prompt = "p" * 2000
        req = O.request(spans_of([O.genai("otlp-h2-%04d" % i, **{"gen_ai.prompt.0.content": prompt})
                                  for i in range(1200)], first=30_000))
        body = req.SerializeToString()
        self.assertGreater(len(body), 2 << 20)
        with tempfile.NamedTemporaryFile(suffix=".pb") as f:
            f.write(body)
            f.flush()
            rc, out, err = clx.curl(["-sS", "--http2-prior-knowledge", "-X", "POST", self.srv.url + TRACES,
                                     "-H", "x-api-key: " + self.key, "-H", "Content-Type: " + PB,
                                     "--data-binary", "@" + f.name, "-o", "/dev/null", "-w", "%{http_code} %{http_version}"],
                                    timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode(), "200 2", err)
        self.assertIsNotNone(self.srv.get_event("otlp-h2-1199"))
        # the ingest route keeps its own limit on the same connection kind
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            f.write(json.dumps(clx.event("h2-ingest-big", feature="x" * 100, pad="y" * (2 << 20))).encode())
            f.flush()
            rc, out, err = clx.curl(["-sS", "--http2-prior-knowledge", "-X", "POST", self.srv.url + "/api/v1/usage/ingest",
                                     "-H", "x-api-key: " + self.key, "-H", "Content-Type: application/json",
                                     "--data-binary", "@" + f.name, "-w", "\n%{http_code}"], timeout=60)
        self.assertEqual(rc, 0, err)
        body, code = out.rsplit(b"\n", 1)
        self.assertEqual(code, b"413", body)
        self.assertEqual(clx.parse(body)["error"]["code"], "payload_too_large")

    def test_metrics_per_door(self):
        m0 = self.metrics()
        req = O.request(spans_of([O.genai("otlp-met-0"), O.genai("otlp-met-1", inp=-1), http_span()], first=900))
        self.partial(*self.export(req))
        self.assertEqual(self.export_grpc(req).partial_success.rejected_spans, 1)
        m1 = self.metrics()
        d = lambda name, **l: metric(m1, name, **l) - metric(m0, name, **l)  # noqa: E731
        for t in ("http", "grpc"):
            self.assertEqual(d("costlynx_otlp_requests_total", transport=t, result="partial_success"), 1, t)
            self.assertEqual(d("costlynx_otlp_spans_received_total", transport=t), 3, t)
            self.assertEqual(d("costlynx_otlp_events_total", transport=t), 1, t)
            self.assertEqual(d("costlynx_otlp_spans_total", transport=t, outcome="rejected"), 1, t)
            self.assertEqual(d("costlynx_otlp_spans_total", transport=t, outcome="ignored"), 1, t)
        self.assertEqual(d("costlynx_otlp_spans_total", transport="http", outcome="inserted"), 1)
        self.assertEqual(d("costlynx_otlp_spans_total", transport="grpc", outcome="skipped"), 1)
        # the pipeline's own counters include the OTLP door's events
        m = re.search(r'^costlynx_events_total\{outcome="inserted"\} (\d+)$', m1, re.M)
        self.assertIsNotNone(m)


class OtlpGrpcTest(OtlpDoorBase):
    """OTLP/gRPC: TraceService/Export on the gRPC port."""

    def test_export_and_partial_success(self):
        req = O.request(spans_of([O.genai("otlp-g-0", **{"costlynx.feature": "g"}), http_span(),
                                  O.genai("otlp-g-2", **{"gen_ai.response.model": None, "gen_ai.request.model": None})],
                                 first=1000), resource={"costlynx.project": "checkout", "deployment.environment": "dev"})
        r = self.export_grpc(req)
        self.assertEqual(r.partial_success.rejected_spans, 1)
        self.assertTrue(r.partial_success.error_message.startswith("span 2: no model"), r)
        ev = self.srv.get_event("otlp-g-0")
        self.assertEqual((ev["project"], ev["environment"], ev["feature"]), ("checkout", "dev", "g"))
        # a full success is an empty message
        self.assertEqual(self.export_rpc(O.request(spans_of([O.genai("otlp-g-3")])).SerializeToString(),
                                         metadata=[("x-api-key", self.key)], timeout=RPC_TIMEOUT), b"")
        # gzip-compressed messages (grpc-encoding) and the Bearer credential
        r = self.export_grpc(O.request(spans_of([O.genai("otlp-g-gz")])), key=None,
                             metadata=[("authorization", "Bearer " + self.key)], compression=grpc.Compression.Gzip)
        self.assertFalse(r.HasField("partial_success"))
        self.assertIsNotNone(self.srv.get_event("otlp-g-gz"))

    def test_refusals_carry_a_status_with_error_info(self):
        req = O.request(spans_of([O.genai("otlp-g-never")]))
        cases = [
            ("no key", lambda: self.export_grpc(req, key=None), SC.UNAUTHENTICATED, "unauthenticated", "x-api-key"),
            ("unknown key", lambda: self.export_grpc(req, key="clx_" + "Q" * 40), SC.UNAUTHENTICATED,
             "unauthenticated", "unknown"),
            ("Basic", lambda: self.export_grpc(req, key=None, metadata=[("authorization", "Basic x")]),
             SC.UNAUTHENTICATED, "unauthenticated", "Bearer"),
            ("garbage", lambda: self.export_grpc(None, raw=b"\xff\xff\xff\xff"), SC.INVALID_ARGUMENT,
             "invalid_protobuf", "not a valid ExportTraceServiceRequest"),
            ("an IngestBatch", lambda: self.export_grpc(None, raw=G.usage_pb2.IngestBatch(
                events=[G.usage_pb2.UsageEvent(request_id="x" * 20, provider="openai")]).SerializeToString()),
             SC.INVALID_ARGUMENT, "invalid_protobuf", None),
            ("10,001 spans", lambda: self.export_grpc(O.request([O.span(http_span())] * 10001)),
             SC.RESOURCE_EXHAUSTED, "too_many_spans", "export smaller batches"),
        ]
        for name, call, code, reason, says in cases:
            with self.subTest(case=name):
                details, got_reason, retry = self.grpc_refusal(call, code)
                self.assertEqual(got_reason, reason)
                self.assertIsNone(retry)
                if says is not None:
                    self.assertIn(says, details)
        self.assertIsNone(self.srv.get_event("otlp-g-never"))

    def test_health_and_reflection_know_the_service(self):
        hc = G.health_pb2_grpc.HealthStub(self.channel)
        r = hc.Check(G.health_pb2.HealthCheckRequest(service=SERVICE), timeout=RPC_TIMEOUT)
        self.assertEqual(r.status, G.health_pb2.HealthCheckResponse.SERVING)
        stub = G.refl_v1_pb2_grpc.ServerReflectionStub(self.channel)
        out = list(stub.ServerReflectionInfo(iter([G.refl_v1_pb2.ServerReflectionRequest(list_services="")]),
                                             timeout=RPC_TIMEOUT))
        self.assertIn(SERVICE, [s.name for s in out[0].list_services_response.service])
        out = list(stub.ServerReflectionInfo(iter([G.refl_v1_pb2.ServerReflectionRequest(
            file_containing_symbol=SERVICE + ".Export")]), timeout=RPC_TIMEOUT))
        self.assertEqual(out[0].WhichOneof("message_response"), "file_descriptor_response", out[0])
        from google.protobuf import descriptor_pb2
        fds = {f.name: f for f in (descriptor_pb2.FileDescriptorProto.FromString(b)
                                   for b in out[0].file_descriptor_response.file_descriptor_proto)}
        svc = fds["opentelemetry/proto/collector/trace/v1/trace_service.proto"].service[0]
        self.assertEqual([(m.name, m.input_type, m.output_type) for m in svc.method],
                         [("Export", ".opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
                           ".opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse")])
        # OTLP's own types, so that JSON tools (grpcurl) write attribute strings as strings
        out = list(stub.ServerReflectionInfo(iter([G.refl_v1_pb2.ServerReflectionRequest(
            file_by_filename="opentelemetry/proto/common/v1/common.proto")]), timeout=RPC_TIMEOUT))
        common = descriptor_pb2.FileDescriptorProto.FromString(out[0].file_descriptor_response.file_descriptor_proto[0])
        fields = {(m.name, f.name): f.type for m in common.message_type for f in m.field}
        self.assertEqual(fields[("AnyValue", "string_value")], descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
        self.assertEqual(fields[("KeyValue", "key")], descriptor_pb2.FieldDescriptorProto.TYPE_STRING)


class OtlpLimitsTest(OtlpDoorBase):
    """--otlp-max-body-bytes: one limit for both transports, as sent and after decompression."""
    LIMIT = 65536
    extra_args = ("--otlp-max-body-bytes", str(LIMIT))

    def big(self, n, first):
        return O.request(spans_of([O.genai("otlp-lim-%d-%d" % (first, i), **{"gen_ai.prompt.0.content": "q" * 300})
                                   for i in range(n)], first=first))

    def test_over_the_limit(self):
        req = self.big(300, 40_000)
        body = req.SerializeToString()
        self.assertGreater(len(body), self.LIMIT)
        self.assert_refused(self.post(body), 413, "payload_too_large", "--otlp-max-body-bytes", ctype=PB)
        # small on the wire, over the limit once inflated: stopped at the limit
        bomb = gzip.compress(body, 9)
        self.assertLess(len(bomb), self.LIMIT)
        self.assert_refused(self.post(bomb, encoding="gzip"), 413, "payload_too_large", "inflates", ctype=PB)
        details, reason, _ = self.grpc_refusal(lambda: self.export_grpc(req), SC.RESOURCE_EXHAUSTED)
        self.assertEqual(reason, "payload_too_large")
        self.assertIsNone(self.srv.get_event("otlp-lim-40000-0"))
        # under it, fine
        small = self.big(20, 41_000)
        self.assertLess(small.ByteSize(), self.LIMIT)
        self.assert_success(*self.export(small))
        self.assertFalse(self.export_grpc(self.big(20, 42_000)).HasField("partial_success"))
        # the native gRPC door keeps its own limit (4 MiB) while the port takes larger OTLP messages
        ingest = self.channel.unary_unary("/costlynx.v1.UsageIngestion/Ingest")
        ev = G.usage_pb2.UsageEvent(provider="openai", model="gpt-4o-mini", input_tokens=1, output_tokens=1,
                                    request_id="native-small")
        out = G.usage_pb2.IngestResponse.FromString(ingest(G.usage_pb2.IngestBatch(events=[ev]).SerializeToString(),
                                                           metadata=[("x-api-key", self.key)], timeout=RPC_TIMEOUT))
        self.assertEqual(out.inserted, 1)


def can_mount_tmpfs():
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs (run the suite as root to cover the full-disk case)"
    if shutil.which("mount") is None:
        return "mount not found"
    return None


@unittest.skipIf(can_mount_tmpfs() is not None, can_mount_tmpfs() or "")
class OtlpRetryLaterTest(unittest.TestCase):
    """A full disk: the export is answered 503 / UNAVAILABLE with retry information, and the retry,
    once there is room, stores everything once."""

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="clx-otlp-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", self.mnt], check=True)
        self.srv = clx.Server(grpc=True, data_dir=os.path.join(self.mnt, "data"),
                              extra_args=["--disk-reserve", "16MiB"])

    def tearDown(self):
        try:
            self.srv.cleanup()
        finally:
            subprocess.run(["umount", "-l", self.mnt])
            os.rmdir(self.mnt)

    def test_full_disk_is_retry_later(self):
        self.srv.create_project("checkout")
        key = self.srv.create_key(default_project="checkout")
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:  # leave less than the reserve free
            try:
                while True:
                    st = os.statvfs(self.mnt)
                    if st.f_bavail * st.f_frsize < 8 << 20:
                        break
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
        req = O.request(spans_of([O.genai("otlp-full-%d" % i) for i in range(150)], first=50_000))
        for fmt in ("pb", "json"):
            body, ctype = body_of(req, fmt)
            st, hdrs, raw = self.srv.request("POST", TRACES, body, {"Content-Type": ctype, "x-api-key": key})
            self.assertEqual(st, 503, raw)
            self.assertEqual(hdrs.get("retry-after"), "1")
            code, message, reason, retry = O.status_of(raw, hdrs["content-type"])
            self.assertEqual((code, reason, retry), (14, "storage_unavailable", 1), raw)
            self.assertIn("retry the export", message)
        channel = grpc.insecure_channel(self.srv.grpc_addr)
        with self.assertRaises(grpc.RpcError) as cm:
            channel.unary_unary(EXPORT)(req.SerializeToString(), metadata=[("x-api-key", key)], timeout=RPC_TIMEOUT)
        self.assertEqual(cm.exception.code(), SC.UNAVAILABLE)
        trailer = dict(cm.exception.trailing_metadata())["grpc-status-details-bin"]
        self.assertEqual(O.status_of(trailer, PB)[2:], ("storage_unavailable", 1))
        self.assertIsNone(self.srv.get_event("otlp-full-0"))
        # room again: the exporter's retry stores every span, once
        os.unlink(filler)
        self.assertEqual(channel.unary_unary(EXPORT)(req.SerializeToString(), metadata=[("x-api-key", key)],
                                                    timeout=RPC_TIMEOUT), b"")
        st, _, raw = self.srv.request("POST", TRACES, req.SerializeToString(), {"Content-Type": PB, "x-api-key": key})
        self.assertEqual((st, raw), (200, b""))
        self.assertEqual(len(self.srv.all_events()), 150)
        st, _, raw = self.srv.request("GET", "/metrics")
        self.assertEqual(metric(raw.decode(), "costlynx_otlp_requests_total", transport="http", result="retry_later"),
                         2)
        channel.close()


if __name__ == "__main__":
    unittest.main()
