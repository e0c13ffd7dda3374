"""A revoked ingestion key fails at the very next REST request, also on a connection that was
opened (and used) while the key was valid: HTTP/1.1 keep-alive and h2c (HTTP/2 prior
knowledge, python3-h2). Issue 16, defect 4 (the REST door's side).
"""
import socket
import unittest

import h2.config
import h2.connection
import h2.events

import clx

INGEST = "/api/v1/usage/ingest"


class H2cClient:
    """One h2c connection (prior knowledge); requests go one after another on new streams."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=clx.HTTP_TIMEOUT)
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def close(self):
        self.sock.close()

    def post(self, path, body, headers):
        """(status, body bytes, stream id) of one request on this connection."""
        body = clx.to_bytes(body)
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", "POST"), (":path", path), (":scheme", "http"),
                (":authority", "127.0.0.1:%d" % self.port), ("content-length", str(len(body)))]
        hdrs += [(k.lower(), v) for k, v in headers.items()]
        self.conn.send_headers(sid, hdrs)
        self.conn.send_data(sid, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        status, data = None, b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the server closed the h2c connection")
            for e in self.conn.receive_data(chunk):
                if isinstance(e, h2.events.ConnectionTerminated):
                    raise AssertionError("the server ended the h2c connection: %r" % e)
                if getattr(e, "stream_id", None) != sid:
                    continue
                if isinstance(e, h2.events.ResponseReceived):
                    status = int(dict(e.headers)[b":status"])
                elif isinstance(e, h2.events.DataReceived):
                    data += e.data
                    self.conn.acknowledge_received_data(e.flow_controlled_length, sid)
                elif isinstance(e, h2.events.StreamReset):
                    raise AssertionError("stream %d reset: %r" % (sid, e))
                elif isinstance(e, h2.events.StreamEnded):
                    self.sock.sendall(self.conn.data_to_send())
                    return status, data, sid
            self.sock.sendall(self.conn.data_to_send())


class RevocationOnOpenConnectionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def assertRevoked(self, status, raw):
        self.assertEqual(status, 401, raw)
        js = clx.parse(raw)
        self.assertEqual(js["error"]["code"], "unauthenticated", js)
        self.assertEqual(js["error"]["message"], "unknown or revoked ingestion key", js)

    def test_http11_keep_alive(self):
        full = self.srv.create_key_full(name="h1 keep-alive")
        conn = self.srv.connect()
        self.addCleanup(conn.close)
        hdrs = {"Content-Type": "application/json", "X-API-Key": full["key"]}

        def post(rid):
            conn.request("POST", INGEST, body=clx.to_bytes({"events": [clx.event(rid)]}), headers=hdrs)
            r = conn.getresponse()
            return r.status, r.read()

        status, raw = post("rk-h1-1")
        self.assertEqual((status, clx.parse(raw)["inserted"]), (200, 1), raw)
        local = conn.sock.getsockname()
        self.srv.revoke_key(full["id"])  # on another connection
        status, raw = post("rk-h1-2")
        self.assertEqual(conn.sock.getsockname(), local, "the request did not reuse the connection")
        self.assertRevoked(status, raw)
        self.assertIsNotNone(self.srv.get_event("rk-h1-1"))
        self.assertIsNone(self.srv.get_event("rk-h1-2"))

    def test_h2c_connection(self):
        full = self.srv.create_key_full(name="h2c")
        c = H2cClient(self.srv.port)
        self.addCleanup(c.close)
        hdrs = {"content-type": "application/json", "x-api-key": full["key"]}
        status, raw, sid1 = c.post(INGEST, {"events": [clx.event("rk-h2-1")]}, hdrs)
        self.assertEqual((status, clx.parse(raw)["inserted"]), (200, 1), raw)
        self.srv.revoke_key(full["id"])
        status, raw, sid2 = c.post(INGEST, {"events": [clx.event("rk-h2-2")]}, hdrs)
        self.assertEqual((sid1, sid2), (1, 3))  # one connection, two streams
        self.assertRevoked(status, raw)
        # the connection stays usable for other keys
        other = self.srv.create_key(name="h2c other")
        status, raw, _ = c.post(INGEST, {"events": [clx.event("rk-h2-3")]}, dict(hdrs, **{"x-api-key": other}))
        self.assertEqual((status, clx.parse(raw)["inserted"]), (200, 1), raw)
        self.assertIsNone(self.srv.get_event("rk-h2-2"))
        self.assertIsNotNone(self.srv.get_event("rk-h2-3"))


if __name__ == "__main__":
    unittest.main()
