"""Hostile input on issue 11's surfaces with an ingestion key (and the admin token): the NDJSON
import (a line over the limit, a million blank lines, a gzip bomb of newlines, truncated and
corrupt gzip, concatenated members, CRLF, a BOM, invalid UTF-8, NULs, ?firstLine= negative /
huge / not a number, concurrent imports of one file, allowOld before the epoch), void and amend
over REST and gRPC (1,001 ids, duplicates, empty and huge reasons, NUL / lone surrogates,
`set` with unknown fields, the requestId, nested garbage, a voided event) and tenant isolation
(another workspace's requestId is not found, and its event stays untouched). Each answer names
the field; canaries are read back exactly. (hostile.py)"""
import gzip
import json
import threading
import time
import unittest

import hostile  # noqa: I100 (puts tests/blackbox and tests/grpc on the path)
import clx  # noqa: E402
import grpc  # noqa: E402
import grpc_stubs  # noqa: E402
from hostile import check_answer, pb_len, pb_varint  # noqa: E402

S = grpc_stubs.load()
PB = S.usage_pb2
IMPORT = "/api/v1/usage/import"


def line(rid, **kw):
    ev = {"provider": "openai", "model": "gpt-4o-mini", "requestId": rid, "inputTokens": 1000, "outputTokens": 100,
          "project": "app", "environment": "prod"}
    ev.update(kw)
    return json.dumps(ev).encode()


class HostileCorrectionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.key = hostile.setup_server(grpc=True)
        cls.canaries = hostile.Canaries(cls.srv, cls.key, "corr")
        cls.srv.create_workspace("other")
        cls.srv.create_project("app", ws="other")
        cls.other_key = cls.srv.create_key(ws="other")
        cls.channel = grpc.insecure_channel(cls.srv.grpc_addr)
        cls.void_rpc = cls.channel.unary_unary("/costlynx.v1.UsageIngestion/Void", request_serializer=lambda b: b,
                                               response_deserializer=PB.VoidResponse.FromString)
        cls.amend_rpc = cls.channel.unary_unary("/costlynx.v1.UsageIngestion/Amend", request_serializer=lambda b: b,
                                                response_deserializer=PB.AmendResponse.FromString)
        cls.ran = 0

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.cleanup()

    def count(self):
        hostile.CASES["count"] += 1
        type(self).ran += 1

    def imp(self, body, query="", headers=None, key=None):
        h = {"X-API-Key": key or self.key, "Content-Type": "application/x-ndjson"}
        h.update(headers or {})
        st, _, raw = self.srv.request("POST", IMPORT + query, body, h)
        return st, clx.parse(raw), raw

    def imported(self, name, body, counts, errors=(), **kw):
        """An import answered 200 with counts (inserted, skipped, rejected, lines) and errors [(line, code)]."""
        with self.subTest(case=name):
            self.count()
            st, js, raw = self.imp(body, **kw)
            self.assertEqual(st, 200, raw)
            self.assertEqual((js["inserted"], js["skipped"], js["rejected"], js["lines"]), counts, raw)
            self.assertEqual([(e["line"], e["code"]) for e in js["errors"]], list(errors), raw)
            for e in js["errors"]:
                self.assertTrue(e["message"], raw)
            return js

    def corr(self, path, body, key=None, query="", token=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        else:
            h["X-API-Key"] = key or self.key
        return self.srv.request("POST", "/api/v1/usage/" + path + query, body, h)

    def test_00_canaries_before(self):
        for _ in range(3):
            self.canaries.add("before")
        st, js, raw = self.srv.ingest(self.other_key, json.loads(line("shared-id", feature="theirs")))
        self.assertEqual((st, js["inserted"]), (200, 1), raw)

    def test_10_import_lines(self):
        ok = line("imp-%d")
        self.imported("CRLF line ends", line("imp-crlf-1") + b"\r\n" + line("imp-crlf-2") + b"\r\n", (2, 0, 0, 2))
        # a UTF-8 BOM starts the body (Windows tools write one): skipped, the first line is stored
        # (it was refused as invalid_json "near byte 1"); inside the body it is no BOM
        self.imported("a BOM before the first line", b"\xef\xbb\xbf" + line("imp-bom") + b"\n" + line("imp-bom-2"),
                      (2, 0, 0, 2))
        self.imported("a BOM before the second line", line("imp-bom-3") + b"\n\xef\xbb\xbf" + line("imp-bom-4"),
                      (1, 0, 1, 2), [(2, "invalid_json")])
        self.imported("a BOM then CRLF, gzip", gzip.compress(b"\xef\xbb\xbf" + line("imp-bom-5") + b"\r\n"),
                      (1, 0, 0, 1), headers={"Content-Encoding": "gzip"})
        self.imported("a BOM alone", b"\xef\xbb\xbf\n" + line("imp-bom-6"), (1, 0, 0, 2))
        self.imported("invalid UTF-8 line", b"\xff\xfe\n" + line("imp-utf8"), (1, 0, 1, 2), [(1, "invalid_json")])
        self.imported("invalid UTF-8 in a requestId", line("imp-\udcff".encode("utf-8", "surrogateescape").decode(
            "latin-1")).replace(b"\\u00ff", b"\xff") + b"\n" + line("imp-utf8-b"), (1, 0, 1, 2),
            [(1, "invalid_value")])
        self.imported("a raw NUL line", b"\x00\n" + line("imp-nul"), (1, 0, 1, 2), [(1, "invalid_json")])
        self.imported("a NUL between two events", line("imp-nul-a") + b"\x00" + line("imp-nul-b"), (0, 0, 1, 1),
                      [(1, "invalid_json")])
        self.imported("bare CR is not a line end", line("imp-cr-a") + b"\r" + line("imp-cr-b"), (0, 0, 1, 1),
                      [(1, "invalid_json")])
        self.imported("an {events:[...]} line", b'{"events":[' + line("imp-ev") + b"]}\n", (0, 0, 1, 1),
                      [(1, "invalid_body")])
        self.imported("a line of 10 MB", b'{"provider":"' + b"a" * 10_000_000 + b'"}\n' + line("imp-long"),
                      (1, 0, 1, 2), [(1, "too_long")])
        self.imported("a million blank lines", b"\n" * 1_000_000 + line("imp-blank") + b"\n \t\r\n",
                      (1, 0, 0, 1_000_002))
        # regression: once 8 chunks in a row (800 lines) were all rejected, nothing was in flight to
        # move the import on: the request hung for good, holding its body
        self.imported("800 invalid lines", b"x\n" * 800, (0, 0, 800, 800), [(i + 1, "invalid_json") for i in range(800)])
        self.imported("5,000 invalid lines, then an event", b"{}\n" * 5000 + line("imp-after-bad"), (1, 0, 5000, 5001),
                      [(i + 1, "invalid_body") for i in range(1000)])
        self.imported("a line per event error", line("imp-neg", inputTokens=-5) + b"\n" + line("imp-ok-after"),
                      (1, 0, 1, 2), [(1, "invalid_value")])
        self.imported("the same id twice in one file", line("imp-twice") + b"\n" + line("imp-twice"), (1, 1, 0, 2))
        del ok
        hostile.assert_alive(self, self.srv)

    def test_20_import_query_and_gzip(self):
        bad_fl = ("env", 400, "invalid_value", "firstLine")
        for fl in ["-1", "0", "abc", "1e3", "", "%2B5", "99999999999999999999", "18446744073709551615",
                   "9223372036854775807", "%201"]:
            with self.subTest(case="firstLine=%s" % fl):
                st, _, raw = self.imp(line("imp-fl"), query="?firstLine=" + fl)
                check_answer(self, st, raw, bad_fl)
                type(self).ran += 1
        js = self.imported("firstLine=2147483648", b"garbage\n" + line("imp-fl-big"), (1, 0, 1, 2),
                           [(2147483648, "invalid_json")], query="?firstLine=2147483648")
        del js
        st, _, raw = self.imp(line("imp-fl"), query="?firstLine=1%00")
        check_answer(self, st, raw, ("env", 400, "invalid_value", "query"))
        st, _, raw = self.imp(line("imp-old", timestamp="2020-01-01T00:00:00Z"), query="?allowOld=true")
        check_answer(self, st, raw, ("env", 403, "permission_denied", "Authorization"))
        st, _, raw = self.imp(line("imp-old"), query="?allowOld=1")
        check_answer(self, st, raw, ("env", 400, "invalid_value", "allowOld"))
        st, _, raw = self.srv.request("POST", IMPORT, line("imp-ct"), {"X-API-Key": self.key,
                                                                         "Content-Type": "application/json"})
        check_answer(self, st, raw, ("env", 415, "unsupported_media_type", "Content-Type"))
        st, _, raw = self.srv.request("POST", IMPORT, line("imp-nokey"), {"Content-Type": "application/x-ndjson"})
        check_answer(self, st, raw, ("env", 401, "unauthenticated", "X-API-Key"))
        gz = {"Content-Encoding": "gzip"}
        body = gzip.compress(b"\n".join(line("imp-gz-%d" % i) for i in range(40)))
        self.imported("gzip", body, (40, 0, 0, 40), headers=gz)
        self.imported("two gzip members", gzip.compress(line("imp-m1") + b"\n") + gzip.compress(line("imp-m2")),
                      (2, 0, 0, 2), headers=gz)
        with self.subTest(case="gzip of gzip (one layer taken off: binary lines)"):
            self.count()
            st, js, raw = self.imp(gzip.compress(body), headers=gz)
            self.assertEqual((st, js["inserted"], js["rejected"]), (200, 0, js["lines"]), raw)
            self.assertEqual({e["code"] for e in js["errors"]}, {"invalid_json"}, raw)
        for name, data, at in [("truncated gzip", body[:len(body) // 2], None),
                               ("gzip header then garbage", b"\x1f\x8b\x08\x00garbage", 0),
                               ("not gzip at all", line("imp-plain"), 0),
                               ("gzip then trailing junk", gzip.compress(line("imp-tj") + b"\n") + b"junk", 1)]:
            with self.subTest(case=name):
                self.count()
                st, js, raw = self.imp(data, headers=gz)
                self.assertEqual(st, 400, raw)
                self.assertIs(js["ok"], False, raw)
                self.assertEqual((js["error"]["code"], js["error"]["field"]), ("invalid_gzip", "Content-Encoding"))
                if at is not None:
                    self.assertEqual(js["inserted"] + js["skipped"], at, raw)
        for enc in ["deflate", "gzip, gzip", "br"]:
            with self.subTest(case="Content-Encoding " + enc):
                st, _, raw = self.imp(line("imp-enc"), headers={"Content-Encoding": enc})
                check_answer(self, st, raw, ("env", 415, "unsupported_encoding", "Content-Encoding"))
                type(self).ran += 1
        # a gzip bomb of newlines: 64 MiB of blank lines from 64 KiB sent, read a line at a time
        self.count()
        t0 = time.monotonic()
        st, js, raw = self.imp(gzip.compress(b"\n" * (64 << 20), 9) + gzip.compress(line("imp-bomb")),
                               headers=gz)
        self.assertEqual((st, js["inserted"], js["lines"]), (200, 1, (64 << 20) + 1), raw)
        self.assertLess(time.monotonic() - t0, 60)
        with open("/proc/%d/status" % self.srv.proc.pid) as f:
            rss_kb = int(f.read().split("VmHWM:")[1].split()[0])
        self.assertLess(rss_kb, 2 << 20, "the bomb was inflated into memory")  # < 2 GiB even under ASan
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_30_import_concurrent_and_epoch(self):
        # six imports of one file at once: every line stored once
        body = b"\n".join(line("imp-cc-%d" % i) for i in range(300))
        answers = []

        def send():
            c = self.srv.connect()
            c.request("POST", IMPORT, body, {"X-API-Key": self.key, "Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            answers.append((r.status, json.loads(r.read())))
            c.close()
        ts = [threading.Thread(target=send) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.count()
        self.assertEqual([a[0] for a in answers], [200] * 6)
        self.assertEqual(sum(a[1]["inserted"] for a in answers), 300, answers)
        self.assertEqual(sum(a[1]["skipped"] for a in answers), 1500, answers)
        # regression: with allowOld a timestamp at or before the epoch was stored, counted at its
        # arrival (an event time of 0 or less reads as none) and read back as "1970-01-01T00:00:00.-500Z"
        admin = {"Authorization": "Bearer " + self.srv.admin_token}
        early = ["1969-12-31T23:59:59.500Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00.001Z",
                 "1900-01-01T00:00:00Z"]
        lines = b"\n".join(line("imp-epoch-%d" % i, timestamp=t) for i, t in enumerate(early))
        js = self.imported("allowOld before the epoch", lines + b"\n" + line("imp-epoch-ok", timestamp="1970-01-01T00:00:00.001Z"),
                           (1, 0, 4, 5), [(i + 1, "invalid_value") for i in range(4)], query="?allowOld=true",
                           headers=admin)
        for i, e in enumerate(js["errors"]):
            self.assertEqual(e["field"], "timestamp")
            self.assertIn("after 1970-01-01T00:00:00.000Z", e["message"])
            self.assertIn(early[i][:19], e["message"])  # the time as sent, four year digits
            self.assertIsNone(self.srv.get_event("imp-epoch-%d" % i))
        self.assertEqual(self.srv.get_event("imp-epoch-ok")["timestamp"], "1970-01-01T00:00:00.001Z")
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_40_void_bodies(self):
        bad = ("env", 400, "invalid_value")
        for rid in ("v-1", "v-2", "v-3"):
            st, js, raw = self.srv.ingest(self.key, json.loads(line(rid)))
            self.assertEqual(js["inserted"], 1, raw)
        ids = json.dumps(["x%d" % i for i in range(1001)]).encode()
        cases = [
            ("1,001 ids", lambda: self.corr("void", b'{"requestIds":' + ids + b"}"), bad + ("requestIds",)),
            ("no ids", lambda: self.corr("void", b'{"requestIds":[]}'), bad + ("requestIds",)),
            ("ids null", lambda: self.corr("void", b'{"requestIds":null}'), bad + ("requestIds",)),
            ("ids an object", lambda: self.corr("void", b'{"requestIds":{"a":1}}'), bad + ("requestIds",)),
            ("an id a number", lambda: self.corr("void", b'{"requestIds":[1]}'), bad + ("requestIds[0]",)),
            ("an empty id", lambda: self.corr("void", b'{"requestIds":[""]}'), bad + ("requestIds[0]",)),
            ("an id of 257 bytes", lambda: self.corr("void", b'{"requestIds":["' + b"a" * 257 + b'"]}'),
             bad + ("requestIds[0]",)),
            ("an id with NUL", lambda: self.corr("void", b'{"requestIds":["v-1\\u0000x"]}'), bad + ("requestIds",)),
            ("an id with a lone surrogate", lambda: self.corr("void", b'{"requestIds":["v-1\\ud800"]}'),
             bad + ("requestIds",)),
            ("an id of invalid UTF-8", lambda: self.corr("void", b'{"requestIds":["v-1\xff"]}'),
             ("env", 400, "invalid_json", None)),
            ("nested arrays 10,000 deep", lambda: self.corr("void", b'{"requestIds":' + b"[" * 10000 + b"]" * 10000
                                                             + b"}"), bad + ("requestIds[0]",)),
            ("reason of 1,025 bytes", lambda: self.corr("void", b'{"requestIds":["v-1"],"reason":"' + b"r" * 1025
                                                         + b'"}'), ("env", 400, "too_long", "reason")),
            ("reason with NUL", lambda: self.corr("void", b'{"requestIds":["v-1"],"reason":"a\\u0000"}'),
             bad + ("reason",)),
            ("an unknown member", lambda: self.corr("void", b'{"requestIds":["v-1"],"x":1}'),
             ("env", 400, "unknown_field", "x")),
            ("requestIds twice", lambda: self.corr("void", b'{"requestIds":["v-2"],"requestIds":["v-1"]}'),
             bad + ("requestIds",)),
            ("an array body", lambda: self.corr("void", b"[]"), ("env", 400, "invalid_body", None)),
            ("a key naming a workspace", lambda: self.corr("void", b'{"requestIds":["v-1"]}', query="?workspace=other"),
             bad + ("workspace",)),
            ("the admin token without a workspace",
             lambda: self.corr("void", b'{"requestIds":["v-1"]}', token=self.srv.admin_token),
             ("env", 400, "missing_field", "workspace")),
            ("the admin token, workspace ../default",
             lambda: self.corr("void", b'{"requestIds":["v-1"]}', token=self.srv.admin_token,
                               query="?workspace=..%2Fdefault"), ("env", 404, "not_found", "workspace")),
            ("a wrong admin token", lambda: self.corr("void", b'{"requestIds":["v-1"]}', token="nope",
                                                       query="?workspace=default"),
             ("env", 401, "unauthenticated", None)),
        ]
        for name, fn, expect in cases:
            with self.subTest(case=name):
                st, _, raw = fn()
                js = check_answer(self, st, raw, expect[:3] + (expect[3],)) if expect[3] is not None or \
                    expect[2] != "unauthenticated" else None
                if js is None:
                    self.assertEqual(st, 401, raw)
                type(self).ran += 1
        for rid in ("v-1", "v-2", "v-3"):
            self.assertIs(self.srv.get_event(rid).get("voided", False), False, rid)  # nothing refused voided
        # duplicates count once each way; an empty reason is fine
        st, _, raw = self.corr("void", b'{"requestIds":["v-1","v-1","nope"],"reason":""}')
        self.count()
        self.assertEqual((st, clx.parse(raw)), (200, {"ok": True, "voided": 1, "alreadyVoided": 1, "notFound": 1}))
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_50_amend_bodies(self):
        st, js, raw = self.srv.ingest(self.key, json.loads(line("am-1")))
        self.assertEqual(js["inserted"], 1, raw)
        st, js, raw = self.srv.ingest(self.key, json.loads(line("am-voided")))
        st, _, raw = self.corr("void", b'{"requestIds":["am-voided"]}')
        self.assertEqual(st, 200, raw)
        bad = ("env", 400, "invalid_value")

        def am(body):
            return lambda: self.corr("amend", body)
        cases = [
            ("set with an unknown field", am(b'{"requestId":"am-1","set":{"colour":5}}'),
             ("env", 400, "unknown_field", "set.colour")),
            ("set.requestId", am(b'{"requestId":"am-1","set":{"requestId":"am-2"}}'), bad + ("set.requestId",)),
            ("set.request_id", am(b'{"requestId":"am-1","set":{"request_id":"am-2"}}'),
             ("env", 400, "unknown_field", "set.request_id")),
            ("nested garbage", am(b'{"requestId":"am-1","set":{"inputTokens":{"a":[1,{"b":2}]}}}'),
             ("env", 400, "invalid_type", "set.inputTokens")),
            ("set null", am(b'{"requestId":"am-1","set":null}'), bad + ("set",)),
            ("set an array", am(b'{"requestId":"am-1","set":[]}'), bad + ("set",)),
            ("set empty", am(b'{"requestId":"am-1","set":{}}'), bad + ("set",)),
            ("a field twice", am(b'{"requestId":"am-1","set":{"inputTokens":1,"inputTokens":2}}'),
             bad + ("set.inputTokens",)),
            ("provider cleared", am(b'{"requestId":"am-1","set":{"provider":null}}'),
             ("env", 400, "missing_field", "set.provider")),
            ("tags with an upper-case key", am(b'{"requestId":"am-1","set":{"tags":{"A":"x"}}}'),
             bad + ("set.tags",)),
            ("tags with NUL", am(b'{"requestId":"am-1","set":{"tags":{"a":"x\\u0000"}}}'), bad + ("set",)),
            ("cachedTokens over inputTokens", am(b'{"requestId":"am-1","set":{"cachedTokens":100000}}'),
             bad + ("set.cachedTokens",)),
            ("estimatedCostUsd 1e400", am(b'{"requestId":"am-1","set":{"estimatedCostUsd":1e400}}'),
             bad + ("set.estimatedCostUsd",)),
            ("timestamp before the epoch", am(b'{"requestId":"am-1","set":{"timestamp":"1969-12-31T23:59:59Z"}}'),
             bad + ("set.timestamp",)),
            ("batch a string", am(b'{"requestId":"am-1","set":{"batch":"yes"}}'), ("env", 400, "invalid_type",
                                                                                    "set.batch")),
            ("no requestId", am(b'{"set":{"inputTokens":1}}'), ("env", 400, "missing_field", "requestId")),
            ("requestId with NUL", am(b'{"requestId":"am-1\\u0000x","set":{"inputTokens":1}}'),
             bad + ("requestId",)),
            ("an unknown member", am(b'{"requestId":"am-1","set":{"inputTokens":1},"sett":1}'),
             ("env", 400, "unknown_field", "sett")),
            ("reason of 1,025 bytes", am(b'{"requestId":"am-1","set":{"inputTokens":1},"reason":"' + b"r" * 1025
                                         + b'"}'), ("env", 400, "too_long", "reason")),
            ("a voided event", am(b'{"requestId":"am-voided","set":{"inputTokens":1}}'),
             ("env", 409, "event_voided", "requestId")),
            ("an unknown requestId", am(b'{"requestId":"am-nope","set":{"inputTokens":1}}'),
             ("env", 404, "not_found", "requestId")),
        ]
        for name, fn, expect in cases:
            with self.subTest(case=name):
                st, _, raw = fn()
                check_answer(self, st, raw, expect)
                type(self).ran += 1
        got = self.srv.get_event("am-1")  # nothing refused changed it
        self.assertEqual((got["inputTokens"], got["outputTokens"], got.get("version", 1)), (1000, 100, 1), got)
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_60_tenant_isolation(self):
        # "shared-id" exists only in workspace other; the default key must not reach it
        st, js, raw = self.srv.ingest(self.key, json.loads(line("mine-only")))
        self.assertEqual(js["inserted"], 1, raw)
        self.count()
        st, _, raw = self.corr("void", b'{"requestIds":["shared-id"]}')
        self.assertEqual((st, clx.parse(raw)), (200, {"ok": True, "voided": 0, "alreadyVoided": 0, "notFound": 1}))
        self.count()
        st, _, raw = self.corr("amend", b'{"requestId":"shared-id","set":{"inputTokens":1}}')
        check_answer(self, st, raw, ("env", 404, "not_found", "requestId"))
        self.count()
        st, _, raw = self.corr("void", b'{"requestIds":["mine-only"]}', key=self.other_key)
        self.assertEqual(clx.parse(raw)["notFound"], 1, raw)
        self.count()
        with self.assertRaises(grpc.RpcError) as cm:
            self.amend_rpc(pb_len(1, b"shared-id") + pb_len(2, pb_varint(3, 1)) + pb_len(3, b"inputTokens"),
                           metadata=[("x-api-key", self.key)], timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        r = self.void_rpc(pb_len(1, b"shared-id"), metadata=[("x-api-key", self.key)], timeout=30)
        self.assertEqual((r.voided, r.not_found), (0, 1))
        st, _, raw = self.srv.request("GET", "/api/v1/admin/workspaces/default/usage/events/shared-id/history",
                                      None, {"Authorization": "Bearer " + self.srv.admin_token})
        check_answer(self, st, raw, ("env", 404, "not_found", "requestId"))
        theirs = self.srv.get_event("shared-id", ws="other")
        self.assertEqual((theirs["inputTokens"], theirs.get("voided", False), theirs["feature"]), (1000, False, "theirs"))
        self.assertIs(self.srv.get_event("mine-only").get("voided", False), False)
        hostile.assert_alive(self, self.srv)

    def test_70_grpc_corrections(self):
        st, js, raw = self.srv.ingest(self.key, json.loads(line("g-1")))
        self.assertEqual(js["inserted"], 1, raw)
        md = [("x-api-key", self.key)]

        def vreq(ids, reason=b""):
            return b"".join(pb_len(1, i) for i in ids) + (pb_len(2, reason) if reason else b"")

        def areq(rid, setb, fields, reason=b""):
            return pb_len(1, rid) + pb_len(2, setb) + b"".join(pb_len(3, f) for f in fields) + \
                (pb_len(4, reason) if reason else b"")
        inv = grpc.StatusCode.INVALID_ARGUMENT
        cases = [
            ("void: an id with NUL (g-1\\0x is not g-1)", self.void_rpc, vreq([b"g-1\x00x"]), inv, "request_ids"),
            ("void: invalid UTF-8", self.void_rpc, vreq([b"g-1\xff"]), inv, "request_ids"),
            ("void: no ids", self.void_rpc, vreq([]), inv, "request_ids"),
            ("void: 1,001 ids", self.void_rpc, vreq([b"x%d" % i for i in range(1001)]), inv, "request_ids"),
            ("void: an empty id", self.void_rpc, vreq([b""]), inv, "request_ids[0]"),
            ("void: reason with NUL", self.void_rpc, vreq([b"g-1"], b"a\x00"), inv, "reason"),
            ("void: reason of 1,025 bytes", self.void_rpc, vreq([b"g-1"], b"r" * 1025), inv, "reason"),
            ("void: not a message", self.void_rpc, b"\xff\xff\xff", inv, "VoidRequest"),
            ("amend: an id with NUL", self.amend_rpc, areq(b"g-1\x00x", pb_varint(3, 5), [b"inputTokens"]), inv,
             "request_id"),
            ("amend: no fields", self.amend_rpc, areq(b"g-1", pb_varint(3, 5), []), inv, "fields"),
            ("amend: an unknown field", self.amend_rpc, areq(b"g-1", pb_varint(3, 5), [b"colour"]), inv, "set.colour"),
            ("amend: requestId", self.amend_rpc, areq(b"g-1", pb_len(6, b"g-2"), [b"requestId"]), inv,
             "set.requestId"),
            ("amend: a field name with NUL", self.amend_rpc, areq(b"g-1", pb_varint(3, 5), [b"inputTokens\x00x"]), inv,
             "fields"),
            ("amend: model invalid UTF-8", self.amend_rpc, areq(b"g-1", pb_len(2, b"\xff"), [b"model"]), inv,
             "set.model"),
            ("amend: timestamp seconds 2^62", self.amend_rpc,
             areq(b"g-1", pb_len(14, pb_varint(1, 1 << 62)), [b"timestamp"]), inv, "set.timestamp"),
            ("amend: timestamp nanos -5", self.amend_rpc,
             areq(b"g-1", pb_len(14, pb_varint(1, int(time.time())) + pb_varint(2, -5)), [b"timestamp"]), inv,
             "set.timestamp"),
            ("amend: estimatedCostNanos -5", self.amend_rpc, areq(b"g-1", pb_varint(11, -5), [b"estimatedCostNanos"]),
             inv, "set.estimatedCostNanos"),
            ("amend: NaN estimatedCostUsd", self.amend_rpc,
             areq(b"g-1", b"\x51" + b"\x00\x00\x00\x00\x00\x00\xf8\x7f", [b"estimatedCostUsd"]), inv,
             "set.estimatedCostUsd"),
            ("amend: reason with NUL", self.amend_rpc, areq(b"g-1", pb_varint(3, 5), [b"inputTokens"], b"a\x00"), inv,
             "reason"),
            ("amend: an unknown id", self.amend_rpc, areq(b"g-nope", pb_varint(3, 5), [b"inputTokens"]),
             grpc.StatusCode.NOT_FOUND, "request_id"),
            ("amend: no key", self.amend_rpc, areq(b"g-1", pb_varint(3, 5), [b"inputTokens"]),
             grpc.StatusCode.UNAUTHENTICATED, "x-api-key"),
        ]
        for name, rpc, data, code, words in cases:
            with self.subTest(case=name):
                self.count()
                with self.assertRaises(grpc.RpcError) as cm:
                    rpc(data, metadata=[] if code == grpc.StatusCode.UNAUTHENTICATED else md, timeout=30)
                self.assertEqual(cm.exception.code(), code, cm.exception.details())
                self.assertIn(words, cm.exception.details())
        got = self.srv.get_event("g-1")
        self.assertEqual((got["inputTokens"], got.get("voided", False)), (1000, False), got)
        r = self.void_rpc(vreq([b"g-1", b"g-1"]), metadata=md, timeout=30)
        self.count()
        self.assertEqual((r.voided, r.already_voided, r.not_found), (1, 1, 0))
        with self.assertRaises(grpc.RpcError) as cm:
            self.amend_rpc(areq(b"g-1", pb_varint(3, 5), [b"inputTokens"]), metadata=md, timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.canaries.add("between")
        hostile.assert_alive(self, self.srv)

    def test_99_canaries_after(self):
        for _ in range(3):
            self.canaries.add("after")
        hostile.assert_alive(self, self.srv)
        self.canaries.verify(self)
        self.assertGreaterEqual(type(self).ran, 100)


if __name__ == "__main__":
    unittest.main()
