"""The gRPC door (costlynx.v1.UsageIngestion), black-box, with the real grpcio client.

Starts the real costlynxd with --grpc-addr 127.0.0.1:0 (clx.Server(grpc=True)); keys, projects
and read-back go through the REST settings API. Stubs are generated at import time into a temp
dir (grpc_stubs.py). Run with the Debian interpreter, which has python3-grpcio/python3-protobuf:

    cd tests/grpc && /usr/bin/python3 -m unittest -v test_grpc_python
"""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, json_format, timestamp_pb2  # noqa: E402

import clx  # noqa: E402
import grpc_stubs  # noqa: E402

S = grpc_stubs.load()
pb = S.usage_pb2
EXAMPLE = os.path.join(clx.SOURCE_DIR, "examples", "python", "send_usage.py")

SERVICE = "costlynx.v1.UsageIngestion"
INGEST_PATH = "/costlynx.v1.UsageIngestion/Ingest"
RPC_TIMEOUT = 15.0
SC = grpc.StatusCode


# ---- helpers -------------------------------------------------------------------------------

def ev(rid, **kw):
    """A proto UsageEvent: openai gpt-4o-mini, 10 in / 5 out, project app / prod (no warnings)."""
    fields = dict(provider="openai", model="gpt-4o-mini", input_tokens=10, output_tokens=5,
                  request_id=rid, project="app", environment="prod")
    fields.update(kw)
    return pb.UsageEvent(**{k: v for k, v in fields.items() if v is not None})


def batch(*events):
    return pb.IngestBatch(events=list(events))


def md(key):
    return () if key is None else (("x-api-key", key),)


def resp_tuple(r):
    """IngestResponse -> comparable plain values."""
    return (r.ok, r.inserted, r.skipped, r.rejected,
            [(e.index, e.request_id, e.field, e.code) for e in r.errors],
            [(w.index, w.request_id, w.code) for w in r.warnings])


def json_to_proto(ev_json):
    """A REST (proto3 JSON) event -> UsageEvent, through the official JSON mapping."""
    return json_format.ParseDict(ev_json, pb.UsageEvent())


def err_message(field, message, fix):
    # REST quotes the JSON text of a bad estimatedCostUsd ('-1'); gRPC has only a double: not compared
    if field == "estimatedCostUsd":
        return "<not compared>"
    # the window's edges are the arrival time's, which differs per call: compared without them
    return re.sub(r" \(\d{4}-\d\d-\d\dT[^)]* to [^)]*\)", " (edges)", fix(message))


def norm_rest(js, prefix):
    """A REST ingest answer, request ids with `prefix` replaced by '#', as a plain dict."""
    def fix(s):
        return s.replace(prefix, "#") if isinstance(s, str) else s
    return {
        "ok": js["ok"], "inserted": js["inserted"], "skipped": js["skipped"], "rejected": js.get("rejected", 0),
        "errors": [(e["index"], fix(e.get("requestId", "")), e.get("field", ""), e["code"],
                    err_message(e.get("field", ""), e["message"], fix))
                   for e in js.get("errors", [])],
        "warnings": [(w["index"], fix(w.get("requestId", "")), w["code"], fix(w["message"]))
                     for w in js.get("warnings", [])],
    }


def norm_grpc(r, prefix):
    def fix(s):
        return s.replace(prefix, "#")
    return {
        "ok": r.ok, "inserted": r.inserted, "skipped": r.skipped, "rejected": r.rejected,
        "errors": [(e.index, fix(e.request_id), e.field, e.code, err_message(e.field, e.message, fix))
                   for e in r.errors],
        "warnings": [(w.index, fix(w.request_id), w.code, fix(w.message)) for w in r.warnings],
    }


class GrpcCase(unittest.TestCase):
    """Shared plumbing: one server per class, a channel, a stub, status assertions."""
    server_args = ()
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server(grpc=True, extra_args=cls.server_args)
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.stub = S.usage_pb2_grpc.UsageIngestionStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def ingest(self, key, *events, **kw):
        return self.stub.Ingest(batch(*events), metadata=md(key), timeout=RPC_TIMEOUT, **kw)

    def stream(self, key, batches):
        return self.stub.IngestStream(iter(batches), metadata=md(key), timeout=RPC_TIMEOUT)

    def assertStatus(self, code, fn, *a, **kw):
        """fn(*a, **kw) must fail with `code`; returns the RpcError."""
        with self.assertRaises(grpc.RpcError) as cm:
            got = fn(*a, **kw)
            self.fail("expected %s, got OK: %r" % (code.name, got))
        err = cm.exception
        self.assertEqual(err.code(), code, "details: %r" % err.details())
        return err

    def assertResp(self, r, ok=True, inserted=0, skipped=0, rejected=0, errors=(), warnings=()):
        self.assertEqual(resp_tuple(r), (ok, inserted, skipped, rejected, list(errors), list(warnings)), r)
        for e in r.errors:
            self.assertTrue(e.message, e)
        for w in r.warnings:
            self.assertTrue(w.message, w)


# ---- Ingest ---------------------------------------------------------------------------------

class IngestTest(GrpcCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_project("app")
        full = cls.srv.create_key_full(name="grpc key")
        cls.key, cls.key_id = full["key"], full["id"]

    def test_insert_then_resend_is_skipped(self):
        e = ev("g-insert-1", feature="ticket-classifier", input_tokens=850, output_tokens=320)
        self.assertResp(self.ingest(self.key, e), inserted=1)
        self.assertResp(self.ingest(self.key, e), skipped=1)
        self.assertResp(self.ingest(self.key, e), skipped=1)
        got = self.srv.get_event("g-insert-1")
        # no timestamp sent: the event time is the arrival time
        self.assertEqual(got.pop("timestamp"), got.pop("receivedAt"))
        bd = got.pop("costBreakdown")
        self.assertTrue(bd.pop("catalogVersion"))
        self.assertEqual(bd, {
            "priceId": "openai/gpt-4o-mini@2024-07-18", "tier": "standard", "discountPct": 0, "longContext": False,
            "flags": [], "parts": [
                # 850 x $0.15/M = $0.0001275; 320 x $0.60/M = $0.000192
                {"kind": "input", "units": 850, "unit": "token", "ratePerMtok": "0.15", "costUsd": "0.0001275"},
                {"kind": "output", "units": 320, "unit": "token", "ratePerMtok": "0.6", "costUsd": "0.000192"}]})
        self.assertEqual(got, {
            "requestId": "g-insert-1", "provider": "openai", "providerAsSent": "openai",
            "model": "gpt-4o-mini", "modelNormalized": "gpt-4o-mini", "priceId": "openai/gpt-4o-mini@2024-07-18",
            "costUsd": "0.0003195", "costSource": "catalog", "inputTokens": 850, "outputTokens": 320,
            "cachedTokens": 0, "cacheWriteTokens": 0, "batch": False, "project": "app", "environment": "prod",
            "projectAsSent": "app", "environmentAsSent": "prod", "feature": "ticket-classifier",
            "keyId": self.key_id, "version": 1, "flags": [], "cacheWrite1hTokens": 0, "reasoningTokens": 0, "audioInputTokens": 0,
            "cachedAudioTokens": 0, "audioOutputTokens": 0, "webSearchCalls": 0, "serviceTier": "standard",
            "userId": None, "tags": {}})

    def test_resend_with_other_payload_is_a_conflict(self):
        self.assertResp(self.ingest(self.key, ev("g-conflict-1")), inserted=1)
        r = self.ingest(self.key, ev("g-conflict-1", input_tokens=11))
        self.assertResp(r, skipped=1, warnings=[(0, "g-conflict-1", "requestId_conflict")])
        self.assertEqual(self.srv.get_event("g-conflict-1")["inputTokens"], 10)

    def test_duplicate_inside_one_batch(self):
        r = self.ingest(self.key, ev("g-dup-1"), ev("g-dup-1"))
        self.assertResp(r, inserted=1, skipped=1)

    def test_batch_with_one_invalid_event(self):
        r = self.ingest(self.key, ev("g-b1-0"), ev("g-b1-1", input_tokens=-5), ev("g-b1-2"))
        self.assertResp(r, inserted=2, rejected=1, errors=[(1, "g-b1-1", "inputTokens", "invalid_value")])
        self.assertIn("inputTokens", r.errors[0].message)
        self.assertIn("-5", r.errors[0].message)
        self.assertIsNotNone(self.srv.get_event("g-b1-0"))
        self.assertIsNone(self.srv.get_event("g-b1-1"))
        self.assertIsNotNone(self.srv.get_event("g-b1-2"))

    def test_per_event_error_codes(self):
        r = self.ingest(
            self.key,
            ev("g-ec-0", provider=""),                                 # missing_field provider
            ev("g-ec-1", model=""),                                    # missing_field model
            ev(""),                                                    # missing_field requestId
            ev("g-ec-3", cached_tokens=11),                            # cached > input
            ev("g-ec-4", model="m" * 257),                             # too_long model
            ev("g-ec-5", provider="p" * 65),                           # too_long provider
            ev("g-ec-6", feature="f" * 257),                           # too_long feature
            ev("g-ec-7", output_tokens=10 ** 9 + 1),                   # invalid_value range
            ev("g-ec-8", cached_tokens=6, cache_write_tokens=5),       # cached + write > input
            ev("g-ec-9", estimated_cost_nanos=-1),                     # negative cost
            ev("g-ec-10", estimated_cost_usd=-0.5),                    # negative cost
            ev("g-ec-11", model="m" * 256, feature="f" * 256),         # at the limits: fine
            ev("g-ec-12", input_tokens=10 ** 9, output_tokens=10 ** 9, cached_tokens=10 ** 9,
               estimated_cost_nanos=1),                                # at the limits: fine
        )
        self.assertResp(r, inserted=2, rejected=11, errors=[
            (0, "g-ec-0", "provider", "missing_field"),
            (1, "g-ec-1", "model", "missing_field"),
            (2, "", "requestId", "missing_field"),
            (3, "g-ec-3", "cachedTokens", "invalid_value"),
            (4, "g-ec-4", "model", "too_long"),
            (5, "g-ec-5", "provider", "too_long"),
            (6, "g-ec-6", "feature", "too_long"),
            (7, "g-ec-7", "outputTokens", "invalid_value"),
            (8, "g-ec-8", "cacheWriteTokens", "invalid_value"),
            (9, "g-ec-9", "estimatedCostNanos", "invalid_value"),
            (10, "g-ec-10", "estimatedCostUsd", "invalid_value"),
        ], warnings=[(11, "g-ec-11", "unpriced_model")])
        for i in range(11):
            self.assertIsNone(self.srv.get_event("g-ec-%d" % i))
        self.assertEqual(self.srv.get_event("g-ec-12")["costUsd"], "0.000000001")

    def test_warnings(self):
        r = self.ingest(self.key,
                        ev("g-w-0", project="", environment=""),        # key has no default project
                        ev("g-w-1", project="nope"),
                        ev("g-w-2", model="no-such-model-xyz"),
                        ev("g-w-3", model="no-such-model-xyz", estimated_cost_usd=0.00042),
                        ev("g-w-4", environment="nope-env"))
        self.assertResp(r, inserted=5, warnings=[(0, "g-w-0", "no_attribution"), (1, "g-w-1", "unknown_project"),
                                                 (2, "g-w-2", "unpriced_model"), (4, "g-w-4", "unknown_environment")])
        self.assertEqual(self.srv.get_event("g-w-2")["flags"], ["unpriced"])
        self.assertIsNone(self.srv.get_event("g-w-2")["costUsd"])
        got = self.srv.get_event("g-w-3")
        self.assertEqual((got["costUsd"], got["costSource"], got["flags"]), ("0.00042", "caller", []))

    def test_provider_normalisation_and_caller_cost(self):
        r = self.ingest(self.key,
                        ev("g-n-0", provider="gemini", model="gemini-2.0-flash"),
                        ev("g-n-1", estimated_cost_nanos=123456789),
                        ev("g-n-2", provider="anthropic", model="claude-3-7-sonnet-20250219", input_tokens=1000,
                           output_tokens=100, cached_tokens=600, cache_write_tokens=200))
        self.assertResp(r, inserted=3)
        g = self.srv.get_event("g-n-0")
        self.assertEqual((g["provider"], g["providerAsSent"]), ("google", "gemini"))
        self.assertEqual(self.srv.get_event("g-n-1")["costUsd"], "0.123456789")
        a = self.srv.get_event("g-n-2")
        self.assertEqual((a["modelNormalized"], a["cachedTokens"], a["cacheWriteTokens"]),
                         ("claude-3-7-sonnet", 600, 200))

    def test_100_events_is_the_limit(self):
        r = self.ingest(self.key, *[ev("g-100-%d" % i) for i in range(100)])
        self.assertResp(r, inserted=100)

    def test_concurrent_senders_of_one_request_id_insert_once(self):
        e = ev("g-race-1")
        with futures.ThreadPoolExecutor(16) as pool:
            outs = list(pool.map(lambda _: resp_tuple(self.ingest(self.key, e)), range(32)))
        self.assertEqual(sorted(o[1:4] for o in outs), [(0, 1, 0)] * 31 + [(1, 0, 0)])
        self.assertIsNotNone(self.srv.get_event("g-race-1"))

    # ---- status codes --------------------------------------------------------------------

    def test_unauthenticated(self):
        for name, key in (("missing", None), ("unknown", "clx_" + "A" * 40), ("empty", "")):
            with self.subTest(key=name):
                self.assertStatus(SC.UNAUTHENTICATED, self.ingest, key, ev("g-unauth-%s" % name))
                self.assertStatus(SC.UNAUTHENTICATED, self.stream, key, [batch(ev("g-unauth-s-%s" % name))])
                self.assertIsNone(self.srv.get_event("g-unauth-%s" % name))
                self.assertIsNone(self.srv.get_event("g-unauth-s-%s" % name))

    def test_revoked_key_is_unauthenticated(self):
        full = self.srv.create_key_full(name="to revoke")
        self.assertResp(self.ingest(full["key"], ev("g-rev-0")), inserted=1)
        self.srv.revoke_key(full["id"])
        self.assertStatus(SC.UNAUTHENTICATED, self.ingest, full["key"], ev("g-rev-1"))
        self.assertStatus(SC.UNAUTHENTICATED, self.stream, full["key"], [batch(ev("g-rev-2"))])
        self.assertIsNone(self.srv.get_event("g-rev-1"))
        self.assertIsNone(self.srv.get_event("g-rev-2"))

    def test_rest_header_name_is_not_grpc_auth(self):
        # metadata keys are lower-case; "authorization: Bearer <ingestion key>" is not the door
        self.assertStatus(SC.UNAUTHENTICATED, self.stub.Ingest, batch(ev("g-bearer")), timeout=RPC_TIMEOUT,
                          metadata=(("authorization", "Bearer " + self.key),))

    def test_empty_batch_is_invalid_argument(self):
        self.assertStatus(SC.INVALID_ARGUMENT, self.ingest, self.key)

    def test_101_events_is_invalid_argument_and_stores_nothing(self):
        self.assertStatus(SC.INVALID_ARGUMENT, self.ingest, self.key, *[ev("g-101-%d" % i) for i in range(101)])
        evs = self.srv.all_events()
        self.assertEqual([e["requestId"] for e in evs if e["requestId"].startswith("g-101-")], [])

    def test_undecodable_message_is_invalid_argument(self):
        raw = self.channel.unary_unary(INGEST_PATH, request_serializer=None, response_deserializer=None)
        for body in (b"\xff\xff\xff", b"\x0a\x05\x0a\x03ab"):  # bad varint; events[0] cut short
            with self.subTest(body=body):
                self.assertStatus(SC.INVALID_ARGUMENT, raw, body, metadata=md(self.key), timeout=RPC_TIMEOUT)
        # the same generic call with a well-formed message works (so the above is about the bytes)
        out = raw(batch(ev("g-raw-ok")).SerializeToString(), metadata=md(self.key), timeout=RPC_TIMEOUT)
        self.assertResp(pb.IngestResponse.FromString(out), inserted=1)

    def test_oversized_message_is_resource_exhausted(self):
        big = ev("g-big-1", feature="x" * (5 * 1024 * 1024))
        self.assertStatus(SC.RESOURCE_EXHAUSTED, self.ingest, self.key, big)
        self.assertStatus(SC.RESOURCE_EXHAUSTED, self.stream, self.key, [batch(ev("g-big-2")), batch(big)])
        self.assertIsNone(self.srv.get_event("g-big-1"))
        # the server is still fine afterwards
        self.assertResp(self.ingest(self.key, ev("g-big-after")), inserted=1)

    def test_unknown_method_is_unimplemented(self):
        # any gRPC server answers an unknown method / service at once with UNIMPLEMENTED
        for path in ("/costlynx.v1.UsageIngestion/NoSuchMethod", "/no.such.Service/Call"):
            with self.subTest(path=path):
                raw = self.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
                self.assertStatus(SC.UNIMPLEMENTED, raw, b"", metadata=md(self.key), timeout=3)
        self.assertResp(self.ingest(self.key, ev("g-unimpl-after")), inserted=1)

    # ---- IngestStream --------------------------------------------------------------------

    def test_stream_50_batches_of_20(self):
        full = self.srv.create_key_full(name="stream key")
        bad = {7: dict(input_tokens=-1), 333: dict(provider=""), 999: dict(model="m" * 300)}
        rids = ["g-st-%04d" % i for i in range(1000)]
        rids[650] = rids[10]   # a repeat inside the stream: skipped
        events = []
        for i, rid in enumerate(rids):
            kw = dict(bad.get(i, {}))
            if i == 500:
                kw["model"] = "no-such-model-xyz"   # stored, with a warning at global index 500
            events.append(ev(rid, **kw))
        batches = [batch(*events[i:i + 20]) for i in range(0, 1000, 20)]
        self.assertEqual(len(batches), 50)
        r = self.stream(full["key"], batches)
        self.assertResp(r, inserted=996, skipped=1, rejected=3,
                        errors=[(7, "g-st-0007", "inputTokens", "invalid_value"),
                                (333, "g-st-0333", "provider", "missing_field"),
                                (999, "g-st-0999", "model", "too_long")],
                        warnings=[(500, "g-st-0500", "unpriced_model")])
        mine = [e for e in self.srv.all_events() if e["keyId"] == full["id"]]
        self.assertEqual(len(mine), 996)
        self.assertEqual(len({e["requestId"] for e in mine}), 996)
        self.assertEqual(sorted(set(rids) - {e["requestId"] for e in mine}), ["g-st-0007", "g-st-0333", "g-st-0999"])
        # the whole stream again: all skipped (a skipped event gets no unpriced warning, as in REST),
        # the same errors at the same indexes
        r = self.stream(full["key"], batches)
        self.assertResp(r, skipped=997, rejected=3,
                        errors=[(7, "g-st-0007", "inputTokens", "invalid_value"),
                                (333, "g-st-0333", "provider", "missing_field"),
                                (999, "g-st-0999", "model", "too_long")])

    def test_stream_counts_stay_exact_past_many_errors(self):
        batches = [batch(*[ev("g-many-%d-%d" % (j, i), output_tokens=-1) for i in range(100)]) for j in range(11)]
        r = self.stream(self.key, batches)
        self.assertEqual((r.ok, r.inserted, r.skipped, r.rejected), (True, 0, 0, 1100))
        # the list may be capped, but what is listed is in order from the first event
        self.assertGreaterEqual(len(r.errors), 1000)
        self.assertEqual([e.index for e in r.errors], list(range(len(r.errors))))
        self.assertEqual({(e.field, e.code) for e in r.errors}, {("outputTokens", "invalid_value")})

    def test_stream_cancelled_midway(self):
        release = threading.Event()

        def gen():
            yield batch(ev("g-cancel-1"))
            release.wait(5)
        fut = self.stub.IngestStream.future(gen(), metadata=md(self.key), timeout=RPC_TIMEOUT)
        time.sleep(0.3)
        fut.cancel()
        release.set()
        self.assertTrue(fut.cancelled())
        # the server goes on; the retry of the same event is recorded exactly once
        r = self.ingest(self.key, ev("g-cancel-1"))
        self.assertEqual((r.inserted + r.skipped, r.rejected), (1, 0))
        self.assertIsNotNone(self.srv.get_event("g-cancel-1"))

    def test_stream_sees_a_window_changed_meanwhile(self):
        # issue 10: an open stream's session re-reads its workspace's event window after a
        # settings change (the key's re-check), so the next message is judged by the new one
        self.srv.create_workspace("grpcwin")
        key = self.srv.create_key(ws="grpcwin", name="win")
        sent, go = threading.Event(), threading.Event()
        def ts(days):
            t = timestamp_pb2.Timestamp()
            t.FromDatetime(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days))
            return t

        def gen():
            yield batch(ev("g-win-1", timestamp=ts(3)))
            sent.set()
            go.wait(10)
            yield batch(ev("g-win-2", timestamp=ts(3)), ev("g-win-3", timestamp=ts(0.5)))
        fut = self.stub.IngestStream.future(gen(), metadata=md(key), timeout=RPC_TIMEOUT)
        self.assertTrue(sent.wait(10))
        time.sleep(0.3)  # the first message is processed before the next is read
        st, js, raw = self.srv.admin("PATCH", "workspaces/grpcwin", {"eventWindow": {"backSeconds": 86400}})
        self.assertEqual(st, 200, raw)
        go.set()
        r = fut.result()
        self.assertEqual((r.inserted, r.rejected), (2, 1), r)
        self.assertEqual([(e.index, e.request_id, e.field, e.code) for e in r.errors],
                         [(1, "g-win-2", "timestamp", "timestamp_out_of_range")])
        self.assertIn("1 day back to 5 minutes ahead", r.errors[0].message)

    def test_stream_of_one_batch(self):
        r = self.stream(self.key, [batch(ev("g-s1-0"), ev("g-s1-1", input_tokens=-2))])
        self.assertResp(r, inserted=1, rejected=1, errors=[(1, "g-s1-1", "inputTokens", "invalid_value")])

    def test_stream_message_over_100_events(self):
        # Ingest answers INVALID_ARGUMENT; a stream goes on: every event of the oversized message is
        # rejected (too_many_events, none stored), the other messages count
        big = [ev("g-s101-%d" % i) for i in range(101)]
        r = self.stream(self.key, [batch(ev("g-s101-a")), batch(*big), batch(ev("g-s101-b"))])
        self.assertResp(r, inserted=2, rejected=101,
                        errors=[(1 + i, "g-s101-%d" % i, "events", "too_many_events") for i in range(101)])
        self.assertIsNone(self.srv.get_event("g-s101-5"))
        self.assertIsNotNone(self.srv.get_event("g-s101-b"))

    def test_stream_undecodable_message_is_invalid_argument(self):
        raw = self.channel.stream_unary("/costlynx.v1.UsageIngestion/IngestStream",
                                        request_serializer=None, response_deserializer=None)
        msgs = [batch(ev("g-sraw-0")).SerializeToString(), b"\xff\xff\xff"]
        self.assertStatus(SC.INVALID_ARGUMENT, raw, iter(msgs), metadata=md(self.key), timeout=RPC_TIMEOUT)

    # ---- health ---------------------------------------------------------------------------

    def test_health_check(self):
        h = S.health_pb2_grpc.HealthStub(self.channel)
        SERVING = S.health_pb2.HealthCheckResponse.SERVING
        for svc in ("", SERVICE):
            with self.subTest(service=svc):
                r = h.Check(S.health_pb2.HealthCheckRequest(service=svc), timeout=RPC_TIMEOUT)
                self.assertEqual(r.status, SERVING)
        self.assertStatus(SC.NOT_FOUND, h.Check, S.health_pb2.HealthCheckRequest(service="no.such.Service"),
                          timeout=RPC_TIMEOUT)

    def test_health_needs_no_key(self):
        # probes (grpc_health_probe, Kubernetes) send no x-api-key; a wrong one must not matter either
        h = S.health_pb2_grpc.HealthStub(self.channel)
        r = h.Check(S.health_pb2.HealthCheckRequest(service=SERVICE), timeout=RPC_TIMEOUT,
                    metadata=(("x-api-key", "nope"),))
        self.assertEqual(r.status, S.health_pb2.HealthCheckResponse.SERVING)

    def test_health_watch_first_message_is_serving(self):
        h = S.health_pb2_grpc.HealthStub(self.channel)
        for svc in ("", SERVICE):
            with self.subTest(service=svc):
                call = h.Watch(S.health_pb2.HealthCheckRequest(service=svc), timeout=RPC_TIMEOUT)
                first = next(call)
                call.cancel()
                self.assertEqual(first.status, S.health_pb2.HealthCheckResponse.SERVING)

    # ---- reflection -----------------------------------------------------------------------

    def _reflect(self, mod, mod_grpc, *requests):
        stub = mod_grpc.ServerReflectionStub(self.channel)
        return list(stub.ServerReflectionInfo(iter(requests), timeout=RPC_TIMEOUT))

    def _check_reflection(self, mod, mod_grpc):
        out = self._reflect(mod, mod_grpc, mod.ServerReflectionRequest(list_services=""))
        self.assertEqual(len(out), 1)
        names = [s.name for s in out[0].list_services_response.service]
        self.assertIn(SERVICE, names)

        out = self._reflect(mod, mod_grpc, mod.ServerReflectionRequest(file_containing_symbol=SERVICE))
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0].WhichOneof("message_response"), "file_descriptor_response", out[0])
        fds = [descriptor_pb2.FileDescriptorProto.FromString(b)
               for b in out[0].file_descriptor_response.file_descriptor_proto]
        by_name = {f.name: f for f in fds}
        self.assertIn("costlynx/v1/usage.proto", by_name, list(by_name))
        f = by_name["costlynx/v1/usage.proto"]
        self.assertEqual(f.package, "costlynx.v1")
        svc = {s.name: s for s in f.service}
        self.assertIn("UsageIngestion", svc)
        methods = {m.name: (m.input_type, m.output_type, m.client_streaming, m.server_streaming)
                   for m in svc["UsageIngestion"].method}
        self.assertEqual(methods, {
            "Ingest": (".costlynx.v1.IngestBatch", ".costlynx.v1.IngestResponse", False, False),
            "IngestStream": (".costlynx.v1.IngestBatch", ".costlynx.v1.IngestResponse", True, False),
            "Void": (".costlynx.v1.VoidRequest", ".costlynx.v1.VoidResponse", False, False),
            "Amend": (".costlynx.v1.AmendRequest", ".costlynx.v1.AmendResponse", False, False)})
        self.assertEqual(sorted(m.name for m in f.message_type),
                         ["AmendRequest", "AmendResponse", "BudgetStatus", "CheckBudgetRequest",
                          "CheckBudgetResponse", "EventError", "IngestBatch", "IngestResponse", "UsageEvent",
                          "VoidRequest", "VoidResponse", "Warning"])
        # the budget check (issue 12) is served from the same file
        self.assertEqual({m.name: (m.input_type, m.output_type) for m in svc["Budgets"].method},
                         {"CheckBudget": (".costlynx.v1.CheckBudgetRequest", ".costlynx.v1.CheckBudgetResponse")})
        # the served descriptor is the contract itself
        mine = descriptor_pb2.FileDescriptorProto()
        pb.DESCRIPTOR.CopyToProto(mine)
        self.assertEqual([m.name for m in f.message_type], [m.name for m in mine.message_type])
        self.assertEqual({fld.name: fld.number for fld in f.message_type[0].field},
                         {fld.name: fld.number for fld in mine.message_type[0].field})

        out = self._reflect(mod, mod_grpc, mod.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"))
        self.assertEqual(out[0].WhichOneof("message_response"), "error_response", out[0])
        self.assertEqual(out[0].error_response.error_code, SC.NOT_FOUND.value[0])

    def test_reflection_v1alpha(self):
        self._check_reflection(S.refl_v1alpha_pb2, S.refl_v1alpha_pb2_grpc)

    def test_reflection_v1(self):
        self._check_reflection(S.refl_v1_pb2, S.refl_v1_pb2_grpc)


# ---- parity with REST ---------------------------------------------------------------------------

# REST JSON events (requestId added per door). Valid, warned and invalid ones, each kind once.
def _ago(seconds, offset=False):
    """An RFC 3339 time `seconds` before now (negative: ahead), UTC 'Z' or a -05:30 offset."""
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)
    if offset:
        return t.astimezone(datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))).isoformat()
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


PARITY_EVENTS = [
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 850, "outputTokens": 320, "project": "app",
     "environment": "prod", "feature": "ticket-classifier"},
    {"provider": "openai", "model": "gpt-4.1", "inputTokens": 1200, "outputTokens": 450, "cachedTokens": 1000,
     "project": "app", "environment": "staging"},
    {"provider": "anthropic", "model": "claude-3-7-sonnet-20250219", "inputTokens": 3000, "outputTokens": 500,
     "cachedTokens": 1000, "cacheWriteTokens": 1500, "project": "app", "environment": "prod"},
    {"provider": "gemini", "model": "gemini-2.0-flash", "inputTokens": 600, "outputTokens": 180, "project": "app"},
    {"provider": "azure_openai", "model": "my-gpt4o-deployment", "inputTokens": 10, "outputTokens": 1,
     "project": "app", "environment": "dev"},
    {"provider": "mistral", "model": "mistral-large-latest", "inputTokens": 100, "outputTokens": 100},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "estimatedCostUsd": 0.00042, "project": "app"},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "estimatedCostNanos": 987654321},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "estimatedCostUsd": 0},
    {"provider": "acme", "model": "acme-1", "inputTokens": 5, "outputTokens": 5, "project": "nope"},
    {"provider": "openai", "model": "gpt-4o-mini", "project": "app", "environment": "nope-env"},
    {"provider": "openai", "model": "gpt-4o-mini", "environment": "prod"},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 0, "outputTokens": 0, "project": "app",
     "environment": "prod", "feature": "ünïcödé feature ✓"},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": -5},
    {"provider": "openai", "model": "gpt-4o-mini", "outputTokens": 1000000000001},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 5, "cachedTokens": 6},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 5, "cachedTokens": 3, "cacheWriteTokens": 3},
    {"model": "gpt-4o-mini"},
    {"provider": "openai"},
    {"provider": "openai", "model": "m" * 257},
    {"provider": "p" * 65, "model": "gpt-4o-mini"},
    {"provider": "openai", "model": "gpt-4o-mini", "feature": "f" * 257},
    {"provider": "openai", "model": "gpt-4o-mini", "estimatedCostUsd": -1},
    {"provider": "openai", "model": "gpt-4o-mini", "estimatedCostNanos": -1},
    {"provider": "openai", "model": "gpt-4o-mini", "project": "app", "environment": "staging"},  # locked keys
    {"provider": "openai", "model": "gpt-4o-mini", "requestId": None},  # no requestId at all
    {"provider": "openai", "model": "gpt-4o-mini", "requestId": "x" * 252},  # 257 bytes with the prefix
    # ---- issue 10: event time, end users, tags, the whole token bill (appended: the indices above stay)
    {"provider": "anthropic", "model": "claude-sonnet-4-5", "inputTokens": 10000, "cachedTokens": 2000,
     "cacheWriteTokens": 3000, "cacheWrite1hTokens": 1000, "outputTokens": 500, "webSearchCalls": 3,
     "userId": "cust-42 ✓", "tags": {"team": "search", "customer_tier": "gold"}, "timestamp": _ago(3 * 86400)},
    {"provider": "openai", "model": "o3", "inputTokens": 1000, "outputTokens": 3000, "reasoningTokens": 2000,
     "serviceTier": "flex", "timestamp": _ago(3600, offset=True)},
    {"provider": "openai", "model": "gpt-4o-realtime-preview", "inputTokens": 2000, "cachedTokens": 800,
     "audioInputTokens": 1200, "cachedAudioTokens": 500, "outputTokens": 100, "audioOutputTokens": 100},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 100, "outputTokens": 10, "serviceTier": "priority"},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 100, "outputTokens": 10, "serviceTier": "batch"},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 100, "outputTokens": 10, "batch": True,
     "serviceTier": "auto"},
    {"provider": "openai", "model": "gpt-4.1-nano", "inputTokens": 100, "outputTokens": 10, "serviceTier": "flex",
     "webSearchCalls": 1},  # tier_unpriced warning, fee unpriced
    {"provider": "openai", "model": "gpt-4o-mini", "batch": True, "serviceTier": "priority"},
    {"provider": "openai", "model": "gpt-4o-mini", "serviceTier": "turbo"},
    {"provider": "openai", "model": "gpt-4o-mini", "outputTokens": 5, "reasoningTokens": 6},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 10, "cacheWriteTokens": 3, "cacheWrite1hTokens": 4},
    {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 10, "audioInputTokens": 11},
    {"provider": "openai", "model": "gpt-4o-mini", "outputTokens": 5, "reasoningTokens": 3, "audioOutputTokens": 3},
    {"provider": "openai", "model": "gpt-4o-mini", "webSearchCalls": 1000001},
    {"provider": "openai", "model": "gpt-4o-mini", "timestamp": _ago(40 * 86400)},
    {"provider": "openai", "model": "gpt-4o-mini", "timestamp": _ago(-3600)},
    {"provider": "openai", "model": "gpt-4o-mini", "userId": "u" * 257},
    {"provider": "openai", "model": "gpt-4o-mini", "userId": "a\u0001b"},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"t%02d" % i: "v" for i in range(17)}},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"k" * 65: "v"}},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"Team": "v"}},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"": "v"}},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"team": "v" * 257}},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"team": "a\nb"}},
    {"provider": "openai", "model": "gpt-4o-mini", "tags": {"team": "ok", "t2": "é"}, "project": "app",
     "environment": "prod", "userId": "u-1"},
]


class ParityTest(GrpcCase):
    """The same events through REST and gRPC: same answers, same stored records."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_project("app")
        cls.srv.create_workspace("strict")
        cls.srv.create_project("app", ws="strict")
        cls.srv.set_strict(True, ws="strict")
        cls.keys = {
            "plain": ("default", cls.srv.create_key_full(name="plain")),
            "defaults": ("default", cls.srv.create_key_full(name="defaults", default_project="app",
                                                            default_environment="prod")),
            "locked": ("default", cls.srv.create_key_full(name="locked", default_project="app", environment="prod")),
            "strict": ("strict", cls.srv.create_key_full(ws="strict", name="strict")),
        }

    def events_for(self, prefix, tag):
        out = []
        for i, e in enumerate(PARITY_EVENTS):
            e = dict(e)
            if "requestId" in e:
                if e["requestId"] is None:
                    del e["requestId"]
                else:
                    e["requestId"] = prefix + e["requestId"]
            else:
                e["requestId"] = "%s%s-%02d" % (prefix, tag, i)
            out.append(e)
        return out

    def check_parity(self, tag):
        ws, full = self.keys[tag]
        rest_events = self.events_for("rest-", tag)
        grpc_events = self.events_for("grpc-", tag)
        st, rjs, raw = self.srv.ingest(full["key"], {"events": rest_events})
        self.assertEqual(st, 200, raw)
        g = self.stub.Ingest(pb.IngestBatch(events=[json_to_proto(e) for e in grpc_events]),
                             metadata=md(full["key"]), timeout=RPC_TIMEOUT)
        want, got = norm_rest(rjs, "rest-"), norm_grpc(g, "grpc-")
        self.assertEqual(got["ok"], want["ok"])
        self.assertEqual((got["inserted"], got["skipped"], got["rejected"]),
                         (want["inserted"], want["skipped"], want["rejected"]))
        self.assertEqual([e[:4] for e in got["errors"]], [e[:4] for e in want["errors"]])
        self.assertEqual(got["warnings"], want["warnings"])
        self.assertGreater(want["inserted"], 0)
        stored = 0
        for re_, ge in zip(rest_events, grpc_events):
            if "requestId" not in re_ or len(re_["requestId"]) > 256:
                continue
            a = self.srv.get_event(re_["requestId"], ws=ws)
            b = self.srv.get_event(ge["requestId"], ws=ws)
            with self.subTest(tag=tag, requestId=ge["requestId"]):
                if a is None or b is None:
                    self.assertEqual((a is None), (b is None), (a, b))
                    continue
                stored += 1
                self.assertEqual(b["keyId"], full["id"])
                # without a timestamp the event time is the arrival time, per delivery like receivedAt
                for k in ("requestId", "keyId", "receivedAt", "timestamp"):
                    a.pop(k)
                    b.pop(k)
                self.assertEqual(b, a)
        self.assertEqual(stored, want["inserted"])
        return want, got

    def test_parity_key_without_defaults(self):
        self.check_parity("plain")

    def test_parity_key_with_defaults(self):
        self.check_parity("defaults")

    def test_parity_environment_locked_key(self):
        self.check_parity("locked")

    def test_parity_strict_workspace(self):
        self.check_parity("strict")

    def test_parity_error_messages(self):
        # the human-readable texts too (estimatedCostUsd ones excepted: REST quotes the JSON text)
        self.keys["messages"] = self.keys["plain"]
        want, got = self.check_parity("messages")
        self.assertEqual(got["errors"], want["errors"])

    def test_request_id_shared_between_doors(self):
        _, full = self.keys["defaults"]
        e = {"provider": "openai", "model": "gpt-4o-mini", "inputTokens": 7, "requestId": "xdoor-1"}
        st, js, raw = self.srv.ingest(full["key"], e)
        self.assertEqual(raw, clx.OK1)
        self.assertResp(self.stub.Ingest(batch(json_to_proto(e)), metadata=md(full["key"]), timeout=RPC_TIMEOUT),
                        skipped=1)
        r = self.stub.Ingest(batch(json_to_proto(dict(e, inputTokens=8))), metadata=md(full["key"]),
                             timeout=RPC_TIMEOUT)
        self.assertResp(r, skipped=1, warnings=[(0, "xdoor-1", "requestId_conflict")])
        # and the other way round
        e2 = dict(e, requestId="xdoor-2")
        self.assertResp(self.stub.Ingest(batch(json_to_proto(e2)), metadata=md(full["key"]), timeout=RPC_TIMEOUT),
                        inserted=1)
        st, js, raw = self.srv.ingest(full["key"], e2)
        self.assertEqual(raw, clx.SKIP1)
        self.assertEqual(self.srv.get_event("xdoor-1")["inputTokens"], 7)


# ---- transient faults ---------------------------------------------------------------------------

class ShutdownTest(GrpcCase):
    """After SIGTERM new calls fail UNAVAILABLE, nothing is stored, the retry (same id) stores once."""

    def test_unavailable_during_shutdown_then_retry(self):
        key = self.srv.create_key(name="k")
        self.assertResp(self.ingest(key, ev("sd-0", project="", environment="")), inserted=1,
                        warnings=[(0, "sd-0", "no_attribution")])
        # keep the HTTP/2 connection open, ask costlynxd to stop, wait until it no longer says ready
        self.srv.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                st, _, _ = self.srv.request("GET", "/readyz")
            except OSError:
                break
            if st != 200:
                break
            time.sleep(0.01)
        self.srv._close_conns()
        e = ev("sd-1", project="", environment="")
        self.assertStatus(SC.UNAVAILABLE, self.ingest, key, e)
        self.assertEqual(self.srv.proc.wait(20), 0)
        self.srv.start()
        self.channel.close()
        type(self).channel = grpc.insecure_channel(self.srv.grpc_addr)
        type(self).stub = S.usage_pb2_grpc.UsageIngestionStub(self.channel)
        self.assertIsNone(self.srv.get_event("sd-1"))
        self.assertResp(self.ingest(key, e), inserted=1, warnings=[(0, "sd-1", "no_attribution")])
        self.assertResp(self.ingest(key, ev("sd-0", project="", environment="")), skipped=1)


class StartupTest(unittest.TestCase):
    """--grpc-addr problems stop the start, as --http-addr ones do."""

    def run_costlynxd(self, *args):
        """(exit code, stdout, stderr) of a costlynxd expected to refuse to start; fails once it says ready."""
        tmp = tempfile.mkdtemp(prefix="clx-grpc-start-")
        self.addCleanup(shutil.rmtree, tmp, True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
        env["COSTLYNX_ADMIN_TOKEN"] = "t" * 24
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen([clx.BINARY, "--data-dir", os.path.join(tmp, "data"), "--http-addr", "127.0.0.1:0"]
                                 + list(args),
                                 stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while p.poll() is None and time.monotonic() < deadline:
            with open(out_path, "rb") as f:
                if b"grpc ready" in f.read():
                    break
            time.sleep(0.02)
        if p.poll() is None:
            p.kill()
            p.wait(5)
        with open(out_path, "rb") as f, open(err_path, "rb") as g:
            return p.returncode, f.read(), g.read()

    def test_grpc_port_in_use_refuses_to_start(self):
        a = clx.Server(grpc=True)
        self.addCleanup(a.cleanup)
        rc, out, err = self.run_costlynxd("--grpc-addr", a.grpc_addr)
        self.assertEqual(rc, 1, "a second costlynxd started on the gRPC port %s of another one; "
                                "stdout %r stderr %r" % (a.grpc_addr, out, err[-500:]))
        self.assertIn(a.grpc_addr.encode(), err)
        self.assertNotIn(b"grpc ready", out)

    def test_invalid_grpc_addr(self):
        for addr in ("127.0.0.1:99999", "nonsense"):
            with self.subTest(addr=addr):
                rc, out, err = self.run_costlynxd("--grpc-addr", addr)
                self.assertEqual(rc, 2, err)
                self.assertIn(b"--grpc-addr", err)
                self.assertIn(b"COSTLYNX_GRPC_ADDR", err)


# ---- the examples -------------------------------------------------------------------------------

def run_example(addr, key, timeout=30, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
    env.update({"COSTLYNX_GRPC_ADDR": addr, "COSTLYNX_INGESTION_KEY": key, "PYTHONPATH": S.dir,
                "COSTLYNX_RETRY_BASE_SECONDS": "0.05"})
    env.update(extra_env or {})
    return subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


class ExampleTest(GrpcCase):
    def test_python_example_against_costlynxd(self):
        self.srv.create_project("customer-support")
        key = self.srv.create_key(name="example")
        p = run_example(self.srv.grpc_addr, key)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout.strip().splitlines()[-1])
        rid = out["requestId"]
        self.assertTrue(rid.startswith("chatcmpl-"), out)
        self.assertEqual(out, {"requestId": rid, "ok": True, "inserted": 1, "skipped": 0, "rejected": 0,
                               "warnings": []})
        got = self.srv.get_event(rid)
        self.assertEqual((got["provider"], got["model"], got["inputTokens"], got["outputTokens"],
                          got["cachedTokens"], got["project"], got["environment"], got["feature"]),
                         ("openai", "gpt-4o-mini-2024-07-18", 1234, 321, 1024, "customer-support", "prod",
                          "support-reply"))
        self.assertEqual((got["modelNormalized"], got["costUsd"], got["costSource"]),
                         ("gpt-4o-mini", "0.0003009", "catalog"))
        self.assertEqual(len([e for e in self.srv.all_events() if e["requestId"] == rid]), 1)

    def test_python_example_bad_key_fails_without_retry(self):
        p = run_example(self.srv.grpc_addr, "clx_not_a_key_" + uuid.uuid4().hex)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("UNAUTHENTICATED", p.stderr)
        self.assertNotIn("retrying", p.stderr)


class FakeIngestion(S.usage_pb2_grpc.UsageIngestionServicer):
    """A stand-in server that fails the first `fail` calls with `code`."""

    def __init__(self, fail, code):
        self.fail, self.code, self.calls = fail, code, []
        self.lock = threading.Lock()

    def Ingest(self, request, context):
        with self.lock:
            self.calls.append(([e.request_id for e in request.events], dict(context.invocation_metadata()),
                               time.monotonic()))
            n = len(self.calls)
        if n <= self.fail:
            context.abort(self.code, "fake failure %d" % n)
        return pb.IngestResponse(ok=True, inserted=len(request.events))


class ExampleRetryTest(unittest.TestCase):
    """The example's retry policy, against a stand-in server (no costlynxd needed)."""

    def serve(self, fake):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        S.usage_pb2_grpc.add_UsageIngestionServicer_to_server(fake, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self.addCleanup(server.stop, None)
        return "127.0.0.1:%d" % port

    def test_unavailable_is_retried_with_the_same_request_id(self):
        fake = FakeIngestion(2, SC.UNAVAILABLE)
        p = run_example(self.serve(fake), "k-123")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(fake.calls), 3, fake.calls)
        ids = [c[0] for c in fake.calls]
        self.assertEqual(len(ids[0]), 1)
        self.assertEqual(ids, [ids[0]] * 3)
        self.assertTrue(ids[0][0].startswith("chatcmpl-"))
        self.assertEqual({c[1].get("x-api-key") for c in fake.calls}, {"k-123"})
        gaps = [fake.calls[i + 1][2] - fake.calls[i][2] for i in range(2)]
        self.assertGreater(gaps[1], gaps[0] * 1.2, "backoff must grow: %r" % gaps)
        self.assertEqual(json.loads(p.stdout.strip().splitlines()[-1])["requestId"], ids[0][0])

    def test_other_errors_are_not_retried(self):
        fake = FakeIngestion(99, SC.INVALID_ARGUMENT)
        p = run_example(self.serve(fake), "k-123")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(fake.calls), 1)
        self.assertIn("INVALID_ARGUMENT", p.stderr)

    def test_gives_up_after_the_last_attempt(self):
        fake = FakeIngestion(99, SC.UNAVAILABLE)
        p = run_example(self.serve(fake), "k-123", extra_env={"COSTLYNX_RETRY_ATTEMPTS": "4"})
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(fake.calls), 4)
        self.assertEqual(len({c[0][0] for c in fake.calls}), 1)
        self.assertIn("UNAVAILABLE", p.stderr)


if __name__ == "__main__":
    unittest.main()
