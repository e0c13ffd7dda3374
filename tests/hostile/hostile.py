"""hostile.py — shared machinery of the hostile-input suite (tests/hostile/test_hostile_*.py).

The attacker holds a valid ingestion key. Every suite:
  * starts the real costlynxd (clx.Server, loopback ports, temp data folder, gRPC door on);
  * stores CANARY events before, between and after the attacks, each acknowledged with the
    guide's exact answer, and at the end reads every one back through the admin read-back API
    and compares the stored values exactly (ids, tokens, caller cost to the nano-dollar,
    attribution, feature);
  * checks after each group of attacks that the server is alive (/healthz) and still serving;
  * counts its cases, so the suite as a whole can be held to its size (>= 200 cases).

Clients are real: http.client and raw sockets (HTTP/1.1), Debian's python3-h2 (HTTP/2 with
prior knowledge), Debian's python3-grpcio (gRPC). Run with /usr/bin/python3.
"""
import json
import os
import socket
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, os.path.join(HERE, "..", "grpc"))

import clx  # noqa: E402

INGEST = "/api/v1/usage/ingest"
CASES = {"count": 0}  # cases run by this process (all suites of one file)


class Canaries:
    """Acknowledged events that must survive every attack with exact stored values."""

    def __init__(self, srv, key, prefix):
        self.srv, self.key, self.prefix = srv, key, prefix
        self.sent = []  # (event dict, expected read-back subset)
        self.lock = threading.Lock()

    def add(self, tag):
        n = len(self.sent)
        rid = "%s-canary-%s-%03d-\u00e9\u6f22" % (self.prefix, tag, n)  # non-ASCII on purpose
        cost = "0.%09d" % (123456789 - n)
        ev = {"provider": "anthropic", "model": "claude-3-7-sonnet-20250219", "requestId": rid,
              "inputTokens": 1000 + n, "outputTokens": 7 + n, "cachedTokens": n, "project": "app",
              "environment": "prod", "feature": "canary \t%s" % tag}
        # the cost as exact JSON number text (never through a binary double)
        body = (json.dumps(ev, ensure_ascii=False)[:-1] + ', "estimatedCostUsd": %s}' % cost).encode()
        st, _, raw = self.srv.post_ingest(self.key, body)
        assert (st, raw) == (200, clx.OK1), "canary %s not acknowledged: %s %r" % (rid, st, raw)
        want = {"requestId": rid, "provider": "anthropic", "providerAsSent": "anthropic",
                "model": "claude-3-7-sonnet-20250219", "inputTokens": 1000 + n, "outputTokens": 7 + n,
                "cachedTokens": n, "cacheWriteTokens": 0, "project": "app", "environment": "prod",
                "feature": "canary \t%s" % tag, "costUsd": cost.rstrip("0").rstrip("."), "costSource": "caller",
                "flags": []}
        with self.lock:
            self.sent.append(want)
        return rid

    def verify(self, test):
        test.assertTrue(self.srv.alive(), "costlynxd died; stderr tail:\n%s" % self.srv.stderr()[-3000:])
        test.assertGreater(len(self.sent), 0)
        for want in self.sent:
            got = self.srv.get_event(want["requestId"])
            test.assertIsNotNone(got, "acknowledged canary %r is gone" % want["requestId"])
            test.assertEqual({k: got.get(k) for k in want}, want)


def setup_server(grpc=False, **kw):
    """A server with project 'app' (envs prod/staging/dev) and an ingestion key."""
    srv = clx.Server(grpc=grpc, **kw)
    srv.create_project("app")
    key = srv.create_key(name="attacker key")
    return srv, key


def assert_alive(test, srv):
    test.assertTrue(srv.alive(), "costlynxd died; stderr tail:\n%s" % srv.stderr()[-3000:])
    st, _, raw = srv.request("GET", "/healthz")
    test.assertEqual((st, raw), (200, b'{"ok":true}'))


def check_answer(test, status, raw, expect, srv=None):
    """Checks one ingest answer against expect (see the suites' case tables):
      ("env", status, code, field)      the whole body refused: {"ok":false,"error":{...}}
      ("one", code, field)              a single event refused: 400 naming the field
      ("ok", rid_or_None, stored_fields) stored (200, inserted 1); stored_fields read back exactly
      ("batch", inserted, [(index, field, code), ...])  200 with per-event errors
    Every answer must be valid UTF-8 JSON.
    """
    CASES["count"] += 1
    try:
        js = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        test.fail("answer is not UTF-8 JSON (%s): %r" % (e, raw[:300]))
    kind = expect[0]
    if kind == "env":
        test.assertEqual(status, expect[1], raw)
        test.assertIs(js.get("ok"), False, raw)
        test.assertEqual(js["error"]["code"], expect[2], raw)
        test.assertEqual(js["error"].get("field"), expect[3], raw)
        test.assertTrue(js["error"]["message"], raw)
    elif kind == "one":
        test.assertEqual(status, 400, raw)
        test.assertIs(js.get("ok"), False, raw)
        test.assertEqual((js["error"]["code"], js["error"]["field"]), (expect[1], expect[2]), raw)
        test.assertTrue(js["error"]["message"], raw)
    elif kind == "ok":
        test.assertEqual(status, 200, raw)
        test.assertEqual((js["ok"], js["inserted"], js["skipped"]), (True, 1, 0), raw)
        test.assertNotIn("errors", js, raw)
        if expect[1] is not None and srv is not None:
            got = srv.get_event(expect[1])
            test.assertIsNotNone(got, "stored event %r not readable" % expect[1])
            for k, v in (expect[2] or {}).items():
                test.assertEqual(got.get(k), v, "%s of %r" % (k, expect[1]))
    elif kind == "batch":
        test.assertEqual(status, 200, raw)
        test.assertEqual(js["inserted"], expect[1], raw)
        errs = [(e["index"], e["field"], e["code"]) for e in js.get("errors", [])]
        test.assertEqual(errs, expect[2], raw)
        test.assertEqual(js.get("rejected", 0), len(expect[2]), raw)
    else:
        raise AssertionError("unknown expectation %r" % (expect,))
    return js


# ---- HTTP/1.1 on a raw socket (for what http.client will not send) ----------------------------

def raw_http(port, data, timeout=10.0):
    """Sends bytes on a fresh connection; returns (all bytes received until close, closed?)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    out, closed = b"", False
    try:
        s.sendall(data)
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            out += d
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        s.close()
    return out, closed


def split_responses(data):
    """[(status, headers {lower: value}, body)] of the HTTP/1.1 responses in data (Content-Length framed)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        data = rest[n:]
    return out


# ---- HTTP/2 with prior knowledge (python3-h2) --------------------------------------------------

class H2:
    """One HTTP/2 cleartext connection (prior knowledge) driven by python3-h2."""

    def __init__(self, port, timeout=15.0):
        import h2.config
        import h2.connection
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(2 ** 30)
        self.sock.sendall(self.conn.data_to_send())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def requests(self, reqs):
        """Sends [(method, path, headers, body)] on concurrent streams; returns per request
        {"status", "headers", "body", "reset"} (reset: the RST_STREAM error code, or None)."""
        import h2.events
        streams = {}
        for method, path, headers, body in reqs:
            sid = self.conn.get_next_available_stream_id()
            hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1")]
            hdrs += list(headers)
            self.conn.send_headers(sid, hdrs, end_stream=not body)
            streams[sid] = {"body_out": body or b"", "off": 0, "status": None, "headers": {}, "body": b"",
                            "reset": None}
        self.sock.sendall(self.conn.data_to_send())
        pending = set(streams)
        while pending:
            for sid in list(pending):
                st = streams[sid]
                while st["off"] < len(st["body_out"]) and st["reset"] is None and st["status"] is None:
                    w = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                            len(st["body_out"]) - st["off"])
                    if w <= 0:
                        break
                    end = st["off"] + w == len(st["body_out"])
                    self.conn.send_data(sid, st["body_out"][st["off"]:st["off"] + w], end_stream=end)
                    st["off"] += w
            self.sock.sendall(self.conn.data_to_send())
            data = self.sock.recv(1 << 20)
            if not data:
                raise AssertionError("the server closed the HTTP/2 connection")
            for ev in self.conn.receive_data(data):
                sid = getattr(ev, "stream_id", None)
                st = streams.get(sid)
                if isinstance(ev, h2.events.ResponseReceived) and st is not None:
                    st["headers"] = {k.decode(): v.decode() for k, v in ev.headers}
                    st["status"] = int(st["headers"][":status"])
                elif isinstance(ev, h2.events.DataReceived) and st is not None:
                    st["body"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and st is not None:
                    pending.discard(sid)
                elif isinstance(ev, h2.events.StreamReset) and st is not None:
                    st["reset"] = ev.error_code
                    pending.discard(sid)
            self.sock.sendall(self.conn.data_to_send())
        return [streams[s] for s in sorted(streams)]

    def request(self, method, path, headers=(), body=None):
        return self.requests([(method, path, headers, body)])[0]


def h2_ingest_headers(key, content_type="application/json", extra=()):
    h = []
    if content_type is not None:
        h.append(("content-type", content_type))
    if key is not None:
        h.append(("x-api-key", key))
    return h + list(extra)


# ---- protobuf by hand (for bytes a proto3 library refuses to encode) ----------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_len(field, data):
    return varint(field << 3 | 2) + varint(len(data)) + data


def pb_varint(field, n):
    return varint(field << 3) + varint(n & 0xFFFFFFFFFFFFFFFF)


def pb_event(request_id=b"r", provider=b"openai", model=b"gpt-4o-mini", extra=b"", **strings):
    """An encoded UsageEvent; string fields as bytes (any bytes at all)."""
    nums = {"provider": 1, "model": 2, "request_id": 6, "project": 7, "environment": 8, "feature": 9,
            "user_id": 15, "service_tier": 21}
    vals = {"provider": provider, "model": model, "request_id": request_id, "project": b"app",
            "environment": b"prod"}
    vals.update(strings)
    out = b""
    for name, num in nums.items():
        v = vals.get(name)
        if v is not None:
            out += pb_len(num, v)
    return out + pb_varint(3, 10) + pb_varint(4, 5) + extra


def pb_batch(*events):
    return b"".join(pb_len(1, e) for e in events)


def query(d):
    return urllib.parse.urlencode(d)
