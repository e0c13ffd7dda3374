"""Hostile input over gRPC (Debian's python3-grpcio): bytes a proto3 library would not encode
(invalid UTF-8, NUL, DEL in every string field), huge repeated fields, unknown fields, wrong
message bytes, oversize messages and missing metadata. Answers are read with the generated,
strict proto3 parser. Canaries (over REST) are read back exactly at the end. (hostile.py)"""
import unittest

import hostile  # noqa: I100 (puts tests/blackbox and tests/grpc on the path)
import grpc  # noqa: E402
import grpc_stubs  # noqa: E402
from hostile import pb_batch, pb_event, pb_len, pb_varint  # noqa: E402

S = grpc_stubs.load()
PB = S.usage_pb2
FIELDS = {"request_id": "requestId", "provider": "provider", "model": "model", "project": "project",
          "environment": "environment", "feature": "feature", "user_id": "userId", "service_tier": "serviceTier"}


class HostileGrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.key = hostile.setup_server(grpc=True)
        cls.canaries = hostile.Canaries(cls.srv, cls.key, "grpc")
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        # raw bytes out, the strict generated parser in: a non-UTF-8 echo would fail here
        cls.ingest = cls.channel.unary_unary("/costlynx.v1.UsageIngestion/Ingest",
                                             request_serializer=lambda b: b,
                                             response_deserializer=PB.IngestResponse.FromString)
        cls.stream = cls.channel.stream_unary("/costlynx.v1.UsageIngestion/IngestStream",
                                              request_serializer=lambda b: b,
                                              response_deserializer=PB.IngestResponse.FromString)
        cls.ran = 0

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def md(self):
        return [("x-api-key", self.key)]

    def case(self, name, data, errors=None, inserted=None, status=None, md=None, stored=None, absent=()):
        """errors: [(index, field, code)] of an OK answer; status: the gRPC status code wanted."""
        with self.subTest(case=name):
            hostile.CASES["count"] += 1
            type(self).ran += 1
            try:
                r = self.ingest(data, metadata=self.md() if md is None else md, timeout=30)
            except grpc.RpcError as e:
                if status is None:
                    self.fail("%s: %s %s" % (name, e.code(), e.details()))
                self.assertEqual(e.code(), status, e.details())
                self.assertTrue(e.details())
                return None
            self.assertIsNone(status, "wanted %s, got OK: %s" % (status, r))
            self.assertTrue(r.ok)
            self.assertEqual([(e.index, e.field, e.code) for e in r.errors], errors or [])
            if inserted is not None:
                self.assertEqual(r.inserted, inserted)
            for e in r.errors:  # echoed text is valid UTF-8 (the strict parser read it) and says why
                self.assertTrue(e.message)
            for rid, want in (stored or {}).items():
                got = self.srv.get_event(rid)
                self.assertIsNotNone(got, rid)
                for k, v in want.items():
                    self.assertEqual(got[k], v)
            for rid in absent:
                self.assertIsNone(self.srv.get_event(rid), rid)
            return r

    def test_00_canaries_before(self):
        for _ in range(5):
            self.canaries.add("before")

    def test_10_bad_bytes_in_every_string_field(self):
        bad = [("invalid UTF-8", b"\xff\xfe"), ("overlong", b"\xc0\xaf"), ("surrogate bytes", b"\xed\xa0\x80"),
               ("NUL (regression)", b"a\x00x"), ("DEL (regression)", b"a\x7f"), ("C1 control", b"a\xc2\x85"),
               ("newline", b"a\nb")]
        n = 0
        for what, raw in bad:
            for pf, jf in FIELDS.items():
                n += 1
                ok_id = b"grpc-ok-%d" % n
                bad_ev = pb_event(request_id=b"grpc-bad-%d-" % n + raw) if pf == "request_id" else \
                    pb_event(request_id=b"grpc-bad-%d" % n, **{pf: b"x" + raw})
                self.case("%s in %s" % (what, pf), pb_batch(pb_event(request_id=ok_id), bad_ev),
                          errors=[(1, jf, "invalid_value")], inserted=1,
                          stored={ok_id.decode(): {"inputTokens": 10}},
                          absent=["grpc-bad-%d" % n, "grpc-bad-%d-a" % n])
            self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_10b_bad_bytes_in_tags(self):
        # issue 10: a tag key or value that protobuf-c's C strings would cut or that is not text
        bad = [("invalid UTF-8", b"\xff\xfe"), ("NUL", b"a\x00x"), ("DEL", b"a\x7f"), ("newline", b"a\nb")]
        n = 0
        for what, raw in bad:
            for where in ("key", "value"):
                n += 1
                entry = pb_len(1, b"team" + raw if where == "key" else b"team") + \
                    pb_len(2, b"v" + raw if where == "value" else b"v")
                ok_id = b"grpc-tag-ok-%d" % n
                self.case("%s in a tag %s" % (what, where),
                          pb_batch(pb_event(request_id=ok_id, extra=pb_len(16, pb_len(1, b"team") + pb_len(2, b"v"))),
                                   pb_event(request_id=b"grpc-tag-bad-%d" % n, extra=pb_len(16, entry))),
                          errors=[(1, "tags", "invalid_value")], inserted=1,
                          stored={ok_id.decode(): {"tags": {"team": "v"}}}, absent=["grpc-tag-bad-%d" % n])
        # two entries of one key (a proto map keeps the last; REST refuses a repeated key): refused alike
        self.case("a tag key twice", pb_batch(pb_event(request_id=b"grpc-tag-dup", extra=pb_len(
            16, pb_len(1, b"team") + pb_len(2, b"a")) + pb_len(16, pb_len(1, b"team") + pb_len(2, b"b")))),
            errors=[(0, "tags", "invalid_value")], inserted=0, absent=["grpc-tag-dup"])
        hostile.assert_alive(self, self.srv)

    def test_11_nul_ids_never_collide(self):
        # regression (issue 16): "a\0x" and "a\0y" were both stored as "a"
        r = self.case("two ids differing after a NUL", pb_batch(pb_event(request_id=b"grpc-nul\x00x"),
                                                              pb_event(request_id=b"grpc-nul\x00y")),
                      errors=[(0, "requestId", "invalid_value"), (1, "requestId", "invalid_value")], inserted=0)
        self.assertEqual([e.request_id for e in r.errors], ["", ""])
        self.assertIsNone(self.srv.get_event("grpc-nul"))

    def test_12_echoed_request_id_is_valid_utf8(self):
        # regression (issue 16): the raw bytes came back and grpcio failed the whole call
        r = self.case("invalid UTF-8 request_id echoed", pb_batch(pb_event(request_id=b"grpc-ok-echo"),
                                                                   pb_event(request_id=b"grpc-echo-\xff")),
                      errors=[(1, "requestId", "invalid_value")], inserted=1)
        self.assertEqual(r.errors[0].request_id, "grpc-echo-\ufffd")

    def test_20_message_shapes(self):
        ev = pb_event(request_id=b"grpc-shape-ok")
        unknown = pb_varint(99, 7) + pb_len(100, b"\xff\x00junk")
        cases = [
            ("no events", b"", grpc.StatusCode.INVALID_ARGUMENT),
            ("101 events", pb_batch(*[pb_event(request_id=b"grpc-101-%d" % i) for i in range(101)]),
             grpc.StatusCode.INVALID_ARGUMENT),
            ("10000 empty events", pb_len(1, b"") * 10000, grpc.StatusCode.INVALID_ARGUMENT),
            ("garbage bytes", b"\xff\xff\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT),
            ("truncated event", pb_batch(ev)[:-3], grpc.StatusCode.INVALID_ARGUMENT),
            ("length past the end", b"\x0a\xff\x01abc", grpc.StatusCode.INVALID_ARGUMENT),
            ("request_id as a varint", pb_len(1, pb_varint(6, 5)), grpc.StatusCode.INVALID_ARGUMENT),
            ("a HealthCheckRequest", S.health_pb2.HealthCheckRequest(service="x").SerializeToString(),
             grpc.StatusCode.INVALID_ARGUMENT),
            ("over 4 MiB", pb_batch(pb_event(request_id=b"grpc-big", feature=b"f" * (5 << 20))),
             grpc.StatusCode.RESOURCE_EXHAUSTED),
            ("no metadata", pb_batch(ev), grpc.StatusCode.UNAUTHENTICATED, []),
            ("empty x-api-key", pb_batch(ev), grpc.StatusCode.UNAUTHENTICATED, [("x-api-key", "")]),
            ("unknown x-api-key", pb_batch(ev), grpc.StatusCode.UNAUTHENTICATED, [("x-api-key", "clx_" + "A" * 40)]),
        ]
        for c in cases:
            self.case(c[0], c[1], status=c[2], md=c[3] if len(c) > 3 else None)
        self.assertIsNone(self.srv.get_event("grpc-101-0"))
        self.assertIsNone(self.srv.get_event("grpc-big"))
        ok = [
            ("unknown fields in the event", pb_batch(pb_event(request_id=b"grpc-unk-1", extra=unknown)),
             {"grpc-unk-1": {"inputTokens": 10}}),
            ("unknown fields in the batch", pb_batch(pb_event(request_id=b"grpc-unk-2")) + unknown,
             {"grpc-unk-2": {"outputTokens": 5}}),
            ("a string field given twice (last wins, as protobuf says)",
             pb_batch(pb_event(request_id=b"grpc-first") + pb_len(6, b"grpc-last")), {"grpc-last": {}}),
            ("emoji and combining marks kept", pb_batch(pb_event(request_id="grpc-\U0001F600e\u0301".encode())),
             {"grpc-\U0001F600e\u0301": {}}),
        ]
        for name, data, stored in ok:
            self.case(name, data, inserted=1, stored=stored)
        self.assertIsNone(self.srv.get_event("grpc-first"))
        hostile.assert_alive(self, self.srv)

    def test_30_numbers(self):
        def cost_usd(v):
            import struct
            return b"\x51" + struct.pack("<d", v)  # field 10, fixed64
        cases = [
            ("negative tokens", pb_varint(3, -1), "inputTokens"),
            ("int64 min tokens", pb_varint(4, -(1 << 63)), "outputTokens"),
            ("10^9+1 tokens", pb_varint(3, 10 ** 9 + 1), "inputTokens"),
            ("cached over input", pb_varint(5, 11), "cachedTokens"),
            ("-0.0 dollars (regression)", cost_usd(-0.0), "estimatedCostUsd"),
            ("NaN dollars", cost_usd(float("nan")), "estimatedCostUsd"),
            ("infinite dollars", cost_usd(float("inf")), "estimatedCostUsd"),
            ("negative dollars", cost_usd(-1.0), "estimatedCostUsd"),
            ("negative nanos", pb_varint(11, -5), "estimatedCostNanos"),
        ]
        for i, (name, extra, field) in enumerate(cases):
            self.case(name, pb_batch(pb_event(request_id=b"grpc-num-%d" % i, extra=extra)),
                      errors=[(0, field, "invalid_value")], inserted=0)
        self.case("exact nanos", pb_batch(pb_event(request_id=b"grpc-nanos", extra=pb_varint(11, 12345))),
                  inserted=1, stored={"grpc-nanos": {"costUsd": "0.000012345", "costSource": "caller"}})
        self.canaries.add("between")

    def test_40_stream(self):
        good = pb_batch(pb_event(request_id=b"grpc-st-1"))
        big = pb_batch(*[pb_event(request_id=b"grpc-st-big-%d" % i) for i in range(101)])
        nul = pb_batch(pb_event(request_id=b"grpc-st-nul\x00x"), pb_event(request_id=b"grpc-st-2"))
        hostile.CASES["count"] += 3
        type(self).ran += 3
        r = self.stream(iter([good, big, nul]), metadata=self.md(), timeout=30)
        self.assertEqual((r.inserted, r.rejected), (2, 102))
        self.assertEqual([e.code for e in r.errors][:1], ["too_many_events"])
        self.assertEqual((r.errors[-1].index, r.errors[-1].field, r.errors[-1].code), (102, "requestId", "invalid_value"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.stream(iter([good, b"\xff\xff\xff"]), metadata=self.md(), timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as cm:
            self.stream(iter([good]), timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIsNone(self.srv.get_event("grpc-st-big-0"))

    def test_99_canaries_after(self):
        for _ in range(5):
            self.canaries.add("after")
        hostile.assert_alive(self, self.srv)
        self.canaries.verify(self)
        self.assertGreaterEqual(type(self).ran, 60)


if __name__ == "__main__":
    unittest.main()
