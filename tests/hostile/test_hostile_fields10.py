"""Hostile input on issue 10's event fields, REST and gRPC: timestamp (leap second 23:59:60,
years 0000 / 9999 / before the epoch, offsets of +-24:00, ten fraction digits, NUL, numbers;
proto Timestamp seconds at the int64 edges and nanos out of range), tags (duplicate keys, NUL,
invalid UTF-8, lone surrogates, 17 and 10,000 entries, nested objects 5,000 deep), the token
kinds (parts over their totals, int64 edges, -0, 1.0, 1e3, strings), serviceTier, userId; and
the queries built on them (groupBy=user|tag:KEY, userId= and tag.KEY= filters). Each answer
names the field; canaries are read back exactly. (hostile.py)"""
import json
import time
import unittest

import hostile  # noqa: I100 (puts tests/blackbox and tests/grpc on the path)
import grpc  # noqa: E402
import grpc_stubs  # noqa: E402
from hostile import check_answer, pb_batch, pb_event, pb_len, pb_varint  # noqa: E402

S = grpc_stubs.load()
PB = S.usage_pb2


def ev(rid, **kw):
    e = {"provider": "openai", "model": "gpt-4o-mini", "requestId": rid, "inputTokens": 100, "outputTokens": 100,
         "cachedTokens": 50, "cacheWriteTokens": 20, "project": "app", "environment": "prod"}
    e.update(kw)
    return json.dumps(e).encode()


def raw_ev(rid, member):
    """An event with one member spelled as raw JSON text (bytes)."""
    return ev(rid)[:-1] + b", " + member + b"}"


class HostileFields10Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.key = hostile.setup_server(grpc=True)
        cls.canaries = hostile.Canaries(cls.srv, cls.key, "f10")
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.ingest = cls.channel.unary_unary("/costlynx.v1.UsageIngestion/Ingest", request_serializer=lambda b: b,
                                             response_deserializer=PB.IngestResponse.FromString)
        cls.ran = 0

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def run_rest(self, cases):
        for name, body, expect in cases:
            with self.subTest(case=name):
                st, _, raw = self.srv.post_ingest(self.key, body)
                check_answer(self, st, raw, expect, self.srv)
                type(self).ran += 1

    def run_grpc(self, cases):
        for name, data, errors in cases:
            with self.subTest(case=name):
                hostile.CASES["count"] += 1
                type(self).ran += 1
                r = self.ingest(data, metadata=[("x-api-key", self.key)], timeout=30)
                self.assertTrue(r.ok)
                self.assertEqual([(e.field, e.code) for e in r.errors], errors, r)
                self.assertEqual(r.inserted, 0 if errors else 1, r)
                for e in r.errors:
                    self.assertTrue(e.message)

    def test_00_canaries_before(self):
        for _ in range(3):
            self.canaries.add("before")

    def test_10_rest_timestamps(self):
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        bad = ("one", "invalid_value", "timestamp")
        out = ("one", "timestamp_out_of_range", "timestamp")
        cases = []
        for i, (t, expect) in enumerate([
                (now[:17] + "60Z", bad), (now[:11] + "23:59:60Z", bad), ("0000-01-01T00:00:00Z", bad),
                ("9999-12-31T23:59:59Z", out), ("9999-12-31T23:30:00-01:00", bad), ("0001-01-01T00:00:00Z", bad),
                ("1969-12-31T23:59:59.999Z", bad), (now + "+24:00", bad), (now + "-24:00", bad),
                (now + "+0100", bad), (now + ".1234567890Z", bad), (now + "." + "0" * 40 + "1Z", bad),
                (now + ".Z", bad), (now + "Z ", bad), (" " + now + "Z", bad), ("2026-02-29T00:00:00Z", bad),
                ("2026-13-01T00:00:00Z", bad), ("2026-12-32T00:00:00Z", bad), (now + "\u0000Z", bad), ("", bad),
                (now, bad), (now + "+01", bad), (now.replace("T", " ") + "Z", bad)]):
            cases.append(("timestamp %r" % t[:40], ev("f10-ts-%d" % i, timestamp=t), expect))
        for i, member in enumerate([b'"timestamp": 1796000000', b'"timestamp": []', b'"timestamp": {}',
                                    b'"timestamp": true', b'"timestamp": "\\ud800"']):
            cases.append(("timestamp %s" % member.decode(), raw_ev("f10-tsj-%d" % i, member),
                          ("one", "invalid_type" if i < 4 else "invalid_value", "timestamp")))
        cases += [("timestamp lower-case t and z", ev("f10-ts-lc", timestamp=now.replace("T", "t") + "z"),
                   ("ok", "f10-ts-lc", {"timestamp": now + ".000Z"})),
                  ("timestamp 9 fraction digits", ev("f10-ts-9", timestamp=now + ".123456789Z"),
                   ("ok", "f10-ts-9", {"timestamp": now + ".123Z"})),
                  ("timestamp null", raw_ev("f10-ts-null", b'"timestamp": null'), ("ok", "f10-ts-null", {}))]
        self.run_rest(cases)
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_20_rest_tags_and_strings(self):
        bad = ("one", "invalid_value", "tags")
        typ = ("one", "invalid_type", "tags")
        deep = b'"tags": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000
        cases = [
            ("a tag key twice", raw_ev("f10-tg-1", b'"tags": {"a":"1","a":"2"}'), bad),
            ("NUL in a tag key", raw_ev("f10-tg-2", b'"tags": {"a\\u0000b":"1"}'), bad),
            ("NUL in a tag value", raw_ev("f10-tg-3", b'"tags": {"ab":"1\\u0000"}'), bad),
            ("lone surrogate in a value", raw_ev("f10-tg-4", b'"tags": {"ab":"\\ud800"}'), bad),
            ("lone surrogate in a key", raw_ev("f10-tg-5", b'"tags": {"\\udc00":"x"}'), bad),
            ("invalid UTF-8 in a value", raw_ev("f10-tg-6", b'"tags": {"ab":"\xff"}'), bad),
            ("DEL in a value", raw_ev("f10-tg-7", b'"tags": {"ab":"\x7f"}'), bad),
            ("a nested object", raw_ev("f10-tg-8", b'"tags": {"ab":{"c":"d"}}'), typ),
            ("an array value", raw_ev("f10-tg-9", b'"tags": {"ab":["x"]}'), typ),
            ("a number value", raw_ev("f10-tg-10", b'"tags": {"ab":1}'), typ),
            ("a null value", raw_ev("f10-tg-11", b'"tags": {"ab":null}'), typ),
            ("tags an array", raw_ev("f10-tg-12", b'"tags": ["a"]'), typ),
            ("tags a string", raw_ev("f10-tg-13", b'"tags": "a=b"'), typ),
            ("17 tags", ev("f10-tg-14", tags={"k%d" % i: "v" for i in range(17)}), bad),
            ("10,000 tags", ev("f10-tg-15", tags={"k%d" % i: "v" for i in range(10000)}), bad),
            ("nested 5,000 deep", raw_ev("f10-tg-16", deep), typ),
            ("an empty key", ev("f10-tg-17", tags={"": "v"}), bad),
            ("an upper-case key", ev("f10-tg-18", tags={"Team": "v"}), bad),
            ("a key of 65 bytes", ev("f10-tg-19", tags={"a" * 65: "v"}), bad),
            ("a value of 257 bytes", ev("f10-tg-20", tags={"a": "v" * 257}), bad),
            ("20 entries, 3 keys", raw_ev("f10-tg-21", b'"tags": {' + b",".join(b'"k%d":"v"' % (i % 3)
                                                                                for i in range(20)) + b"}"), bad),
            ("tags twice", raw_ev("f10-tg-22", b'"tags": {"a":"1"}, "tags": {"b":"2"}'), bad),
            ("16 tags are fine", ev("f10-tg-ok", tags={"k%02d" % i: "v" for i in range(16)}),
             ("ok", "f10-tg-ok", {})),
            ("userId of 257 bytes", ev("f10-u-1", userId="u" * 257), ("one", "too_long", "userId")),
            ("userId with NUL", raw_ev("f10-u-2", b'"userId": "a\\u0000b"'), ("one", "invalid_value", "userId")),
            ("userId with a lone surrogate", raw_ev("f10-u-3", b'"userId": "a\\ud800"'),
             ("one", "invalid_value", "userId")),
            ("userId a number", ev("f10-u-4", userId=5), ("one", "invalid_type", "userId")),
            ("userId and user_id", raw_ev("f10-u-5", b'"userId": "a", "user_id": "b"'),
             ("one", "invalid_value", "userId")),
            ("serviceTier PRIORITY", ev("f10-st-1", serviceTier="PRIORITY"), ("one", "invalid_value", "serviceTier")),
            ("serviceTier with NUL", raw_ev("f10-st-2", b'"serviceTier": "flex\\u0000"'),
             ("one", "invalid_value", "serviceTier")),
            ("serviceTier of 300 bytes", ev("f10-st-3", serviceTier="x" * 300), ("one", "too_long", "serviceTier")),
            ("batch with priority", ev("f10-st-4", serviceTier="priority", batch=True),
             ("one", "invalid_value", "serviceTier")),
        ]
        self.run_rest(cases)
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_30_rest_token_kinds(self):
        cases = []
        for f in ["reasoningTokens", "cacheWrite1hTokens", "audioInputTokens", "cachedAudioTokens",
                  "audioOutputTokens", "webSearchCalls"]:
            for v in [b"-0", b"-1", b"1.0", b"1e3", b"9223372036854775807", b"9223372036854775808",
                      b"-9223372036854775808", b'"-0"', b'" 1"', b'"0x1"', b"1000000001", b"true", b"[1]"]:
                code = "invalid_type" if v in (b"true", b"[1]") else "invalid_value"
                cases.append(("%s %s" % (f, v.decode()), raw_ev("f10-tk-%s-%s" % (f, v.hex()), b'"%s": %s' % (
                    f.encode(), v)), ("one", code, f)))
        for f, v in [("reasoningTokens", 101), ("audioOutputTokens", 101), ("cacheWrite1hTokens", 21),
                     ("audioInputTokens", 31), ("cachedAudioTokens", 1)]:
            cases.append(("%s %d over its total" % (f, v), ev("f10-over-%s" % f, **{f: v}), ("one", "invalid_value", f)))
        cases += [("parts at their totals", ev("f10-tk-ok", reasoningTokens=60, audioOutputTokens=40,
                                               cacheWrite1hTokens=20, audioInputTokens=30, webSearchCalls=1000000),
                   ("ok", "f10-tk-ok", {"reasoningTokens": 60, "audioOutputTokens": 40, "cacheWrite1hTokens": 20,
                                        "audioInputTokens": 30, "webSearchCalls": 1000000}))]
        self.run_rest(cases)
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_40_grpc(self):
        now = int(time.time())

        def ts(sec, nanos=None):
            return pb_len(14, pb_varint(1, sec) + (pb_varint(2, nanos) if nanos is not None else b""))

        def tag(k, v):
            return pb_len(16, pb_len(1, k) + pb_len(2, v))
        bad_ts = [("timestamp", "invalid_value")]
        cases = [
            ("seconds int64 min", ts(-(1 << 63)), bad_ts), ("seconds int64 max", ts((1 << 63) - 1), bad_ts),
            ("seconds -1", ts(-1), bad_ts), ("seconds 0 (the epoch)", ts(0), bad_ts),
            ("an empty Timestamp", pb_len(14, b""), bad_ts), ("year 10000", ts(253402300800), bad_ts),
            ("year 0", ts(-62135596801), bad_ts), ("year 1", ts(-62135596800), bad_ts),
            ("nanos -1", ts(now, -1), bad_ts), ("nanos 10^9", ts(now, 10 ** 9), bad_ts),
            ("nanos 2^31", ts(now, 1 << 31), bad_ts), ("nanos int32 max", ts(now, (1 << 31) - 1), bad_ts),
            ("seconds a day ahead", ts(now + 86400), [("timestamp", "timestamp_out_of_range")]),
            ("NUL in a tag key", tag(b"a\x00b", b"v"), [("tags", "invalid_value")]),
            ("NUL in a tag value", tag(b"ab", b"v\x00"), [("tags", "invalid_value")]),
            ("invalid UTF-8 tag value", tag(b"ab", b"\xff"), [("tags", "invalid_value")]),
            ("CESU surrogate tag value", tag(b"ab", b"\xed\xa0\x80"), [("tags", "invalid_value")]),
            ("invalid UTF-8 tag key", tag(b"\xff", b"v"), [("tags", "invalid_value")]),
            ("a tag key twice", tag(b"a", b"1") + tag(b"a", b"2"), [("tags", "invalid_value")]),
            ("17 tags", b"".join(tag(b"k%d" % i, b"v") for i in range(17)), [("tags", "invalid_value")]),
            ("10,000 tags", b"".join(tag(b"k%d" % i, b"v") for i in range(10000)), [("tags", "invalid_value")]),
            ("a tag entry without a key", pb_len(16, pb_len(2, b"v")), [("tags", "invalid_value")]),
            ("NUL in user_id", pb_len(15, b"u\x00v"), [("userId", "invalid_value")]),
            ("NUL in service_tier", pb_len(21, b"flex\x00"), [("serviceTier", "invalid_value")]),
            ("service_tier PRIORITY", pb_len(21, b"PRIORITY"), [("serviceTier", "invalid_value")]),
        ]
        for f, name in [(17, "reasoningTokens"), (18, "cacheWrite1hTokens"), (19, "audioInputTokens"),
                        (20, "audioOutputTokens"), (22, "webSearchCalls"), (23, "cachedAudioTokens")]:
            for v in (-1, (1 << 63) - 1, 1000000001):
                cases.append(("%s %d" % (name, v), pb_varint(f, v), [(name, "invalid_value")]))
        self.run_grpc([(name, pb_batch(pb_event(request_id=b"f10-g-%d" % i, extra=extra)), errors)
                       for i, (name, extra, errors) in enumerate(cases)])
        self.run_grpc([("now with nanos 999999999", pb_batch(pb_event(request_id=b"f10-g-ok", extra=ts(now, 999999999))),
                        [])])
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_50_queries(self):
        h = {"Authorization": "Bearer " + self.srv.admin_token}

        def get(q):
            return lambda: self.srv.request("GET", "/api/v1/admin/workspaces/default/usage/" + q, None, h)
        for name, fn, expect in [
                ("tag filter without a key", get("events?tag.=x"), ("env", 400, "invalid_value", "tag")),
                ("%00 in a tag filter", get("events?tag.team=a%00"), ("env", 400, "invalid_value", "query")),
                ("%00 in userId", get("events?userId=u%00"), ("env", 400, "invalid_value", "query"))]:
            with self.subTest(case=name):
                st, _, raw = fn()
                check_answer(self, st, raw, expect)
                type(self).ran += 1
        for q in ["events?userId=" + "u" * 300, "events?tag.team=", "events?tag.TEAM=x", "events?tag." + "a" * 70 + "=x",
                  "events?userId=%ff", "events?tag.team=x&tag.team=y"]:
            with self.subTest(case=q[:40]):
                hostile.CASES["count"] += 1
                type(self).ran += 1
                st, _, raw = get(q)()
                self.assertIn(st, (200, 400), raw)
                json.loads(raw.decode("utf-8"))
        hostile.assert_alive(self, self.srv)

    def test_99_canaries_after(self):
        for _ in range(3):
            self.canaries.add("after")
        hostile.assert_alive(self, self.srv)
        self.canaries.verify(self)
        self.assertGreaterEqual(type(self).ran, 150)


if __name__ == "__main__":
    unittest.main()
