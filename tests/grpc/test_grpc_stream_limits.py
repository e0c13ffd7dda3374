"""Open IngestStreams against revocation and the stream bounds (issue 16, defect 4).

A key revoked while a stream is open must stop that stream at its next message (nothing of
that message stored, the messages before it stored and counted); a stream that waits too long
for its next message, lasts too long or sends too many messages is ended with a status that
says which bound it hit, plus the summary of what it stored (details text and the
costlynx-summary-bin trailer). Real costlynxd, real grpcio client.

    cd tests/grpc && /usr/bin/python3 -m unittest -v test_grpc_stream_limits
"""
import os
import queue
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

import clx  # noqa: E402
from test_grpc_python import GrpcCase, batch, ev, md, pb, RPC_TIMEOUT, SC  # noqa: E402

TRAILER = "costlynx-summary-bin"
WAIT = 20.0  # upper bound for conditions the server reaches by itself (not a speed assertion)


class Gate:
    """A request iterator the test steps through: yields what was put, ends on close()."""

    def __init__(self):
        self.q = queue.Queue()

    def put(self, b):
        self.q.put(b)

    def close(self):
        self.q.put(None)

    def __iter__(self):
        while True:
            b = self.q.get(timeout=60)
            if b is None:
                return
            yield b


def wait_until(cond, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def summary_trailer(err):
    """The IngestResponse in the costlynx-summary-bin trailer of a failed stream."""
    vals = [v for k, v in (err.trailing_metadata() or ()) if k == TRAILER]
    if len(vals) != 1:
        raise AssertionError("want one %s trailer, got %r" % (TRAILER, err.trailing_metadata()))
    return pb.IngestResponse.FromString(vals[0])


class StreamCase(GrpcCase):
    def open_stream(self, key):
        gate = Gate()
        fut = self.stub.IngestStream.future(iter(gate), metadata=md(key), timeout=RPC_TIMEOUT)
        self.addCleanup(gate.close)
        return gate, fut

    def failure(self, fut, code):
        """The RpcError a stream future ended with; it must have `code`."""
        wait_until(fut.done, "the stream to end")
        err = fut.exception()
        if err is None:
            self.fail("the stream ended OK: %r" % (fut.result(),))
        self.assertEqual(err.code(), code, "details: %r" % err.details())
        return err

    def stored(self, rid):
        return self.srv.get_event(rid) is not None


class RevocationTest(StreamCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_project("app")

    def test_revoked_key_stops_an_open_stream_at_its_next_message(self):
        full = self.srv.create_key_full(name="revoked mid-stream")
        gate, fut = self.open_stream(full["key"])
        gate.put(batch(ev("rv-1a"), ev("rv-1b"), ev("rv-1c", input_tokens=-1)))
        wait_until(lambda: self.stored("rv-1b"), "message 1 to be stored")
        self.srv.revoke_key(full["id"])
        gate.put(batch(ev("rv-2a"), ev("rv-2b")))
        gate.put(batch(ev("rv-3a")))
        gate.close()
        err = self.failure(fut, SC.UNAUTHENTICATED)
        self.assertIn("the ingestion key was revoked", err.details())
        self.assertIn("message 2 was not stored", err.details())
        self.assertIn("the 1 message(s) before were processed (3 events: 2 inserted, 0 skipped, 1 rejected",
                      err.details())
        s = summary_trailer(err)
        self.assertEqual((s.inserted, s.skipped, s.rejected), (2, 0, 1))
        self.assertEqual([(e.index, e.request_id, e.field) for e in s.errors], [(2, "rv-1c", "inputTokens")])
        # what came before the revocation stays stored; nothing after it was
        self.assertTrue(self.stored("rv-1a") and self.stored("rv-1b"))
        for rid in ("rv-1c", "rv-2a", "rv-2b", "rv-3a"):
            self.assertFalse(self.stored(rid), rid)
        # and the key is refused everywhere
        self.assertStatus(SC.UNAUTHENTICATED, self.ingest, full["key"], ev("rv-after"))
        status, js, _ = self.srv.ingest(full["key"], {"events": [clx.event("rv-after-rest")]})
        self.assertEqual((status, js["error"]["code"]), (401, "unauthenticated"))

    def test_revoking_another_key_or_changing_settings_does_not_end_a_stream(self):
        mine = self.srv.create_key_full(name="stays")
        other = self.srv.create_key_full(name="other")
        gate, fut = self.open_stream(mine["key"])
        gate.put(batch(ev("ok-1")))
        wait_until(lambda: self.stored("ok-1"), "message 1 to be stored")
        # each change below makes the server check the stream's key again at its next message
        self.srv.revoke_key(other["id"])
        gate.put(batch(ev("ok-2")))
        wait_until(lambda: self.stored("ok-2"), "message 2 to be stored")
        self.srv.create_project("made-mid-stream")
        gate.put(batch(ev("ok-3", project="made-mid-stream")))
        gate.close()
        r = fut.result(timeout=WAIT)
        self.assertResp(r, inserted=3)
        self.assertEqual(self.srv.get_event("ok-3")["project"], "made-mid-stream")

    def test_two_streams_only_the_revoked_one_ends(self):
        a = self.srv.create_key_full(name="a")
        b = self.srv.create_key_full(name="b")
        gate_a, fut_a = self.open_stream(a["key"])
        gate_b, fut_b = self.open_stream(b["key"])
        gate_a.put(batch(ev("two-a1")))
        gate_b.put(batch(ev("two-b1")))
        wait_until(lambda: self.stored("two-a1") and self.stored("two-b1"), "both first messages")
        self.srv.revoke_key(a["id"])
        gate_a.put(batch(ev("two-a2")))
        gate_b.put(batch(ev("two-b2")))
        gate_a.close()
        gate_b.close()
        self.failure(fut_a, SC.UNAUTHENTICATED)
        self.assertResp(fut_b.result(timeout=WAIT), inserted=2)
        self.assertFalse(self.stored("two-a2"))
        self.assertTrue(self.stored("two-b2"))

    def test_summary_trailer_is_cut_to_fit_but_counts_stay_exact(self):
        full = self.srv.create_key_full(name="many errors")
        gate, fut = self.open_stream(full["key"])
        for j in range(11):  # 1,100 rejected events: far more notes than a trailer can hold
            gate.put(batch(*[ev("cut-%d-%d" % (j, i), output_tokens=-1) for i in range(100)]))
        gate.put(batch(ev("cut-last")))
        wait_until(lambda: self.stored("cut-last"), "the 12th message to be stored")
        self.srv.revoke_key(full["id"])
        gate.put(batch(ev("cut-never")))
        gate.close()
        err = self.failure(fut, SC.UNAUTHENTICATED)
        self.assertIn("the 12 message(s) before were processed (1101 events: 1 inserted, 0 skipped, 1100 rejected",
                      err.details())
        s = summary_trailer(err)
        self.assertEqual((s.inserted, s.skipped, s.rejected), (1, 0, 1100))
        self.assertGreater(len(s.errors), 0)
        self.assertLess(len(s.errors), 1000)
        self.assertLessEqual(len(s.SerializeToString()), 4096)
        self.assertEqual([e.index for e in s.errors], list(range(len(s.errors))))
        self.assertFalse(self.stored("cut-never"))


class IdleAndCountLimitTest(StreamCase):
    server_args = ("--grpc-stream-idle-ms", "400", "--grpc-stream-max-messages", "3")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_project("app")
        cls.key = cls.srv.create_key(name="limits")

    def test_idle_stream_is_ended_with_its_summary(self):
        gate, fut = self.open_stream(self.key)
        gate.put(batch(ev("idle-1"), ev("idle-2")))
        # then nothing: the server ends the stream by itself
        err = self.failure(fut, SC.DEADLINE_EXCEEDED)
        self.assertIn("no message for 400 ms (--grpc-stream-idle-ms)", err.details())
        self.assertIn("the 1 message(s) before were processed (2 events: 2 inserted", err.details())
        s = summary_trailer(err)
        self.assertEqual((s.inserted, s.skipped, s.rejected), (2, 0, 0))
        self.assertTrue(self.stored("idle-1") and self.stored("idle-2"))
        # a message sent after the end is not stored
        gate.put(batch(ev("idle-late")))
        gate.close()
        self.assertResp(self.ingest(self.key, ev("idle-probe")), inserted=1)
        self.assertFalse(self.stored("idle-late"))

    def test_stream_that_never_sends_is_ended_too(self):
        gate, fut = self.open_stream(self.key)
        err = self.failure(fut, SC.DEADLINE_EXCEEDED)
        self.assertIn("the 0 message(s) before were processed (0 events", err.details())
        self.assertEqual(summary_trailer(err).inserted, 0)

    def test_message_count_limit(self):
        batches = [batch(ev("cnt-%d-a" % i), ev("cnt-%d-b" % i)) for i in range(5)]
        err = self.assertStatus(SC.RESOURCE_EXHAUSTED, self.stream, self.key, batches)
        self.assertIn("a stream holds at most 3 messages (--grpc-stream-max-messages); message 4 was not stored",
                      err.details())
        self.assertIn("the 3 message(s) before were processed (6 events: 6 inserted", err.details())
        self.assertEqual(summary_trailer(err).inserted, 6)
        for i in range(5):
            self.assertEqual(self.stored("cnt-%d-a" % i), i < 3, i)

    def test_exactly_the_limit_is_fine(self):
        r = self.stream(self.key, [batch(ev("exact-%d" % i)) for i in range(3)])
        self.assertResp(r, inserted=3)

    def test_busy_stream_is_not_idle(self):
        # messages closer together than the idle bound keep a stream open past it
        gate, fut = self.open_stream(self.key)
        for i in range(3):
            gate.put(batch(ev("busy-%d" % i)))
            wait_until(lambda: self.stored("busy-%d" % i), "message %d" % i)
        gate.close()
        self.assertResp(fut.result(timeout=WAIT), inserted=3)


class BusyStreamsTest(StreamCase):
    """Regression: the expiry scan read the clock before a busy stream re-armed its receive on
    the writer thread, so `now - waiting_since` wrapped around and healthy streams under load
    were ended as idle ("no message for 60000 ms") within seconds."""

    def test_many_busy_streams_are_never_ended_as_idle(self):
        import concurrent.futures
        self.srv.create_project("app")
        key = self.srv.create_key(name="busy")
        streams, messages, per = 32, 300, 5

        def one(s):
            batches = [batch(*[ev("busy-%d-%d-%d" % (s, m, i)) for i in range(per)]) for m in range(messages)]
            return self.stream(key, batches)

        with concurrent.futures.ThreadPoolExecutor(streams) as pool:
            results = list(pool.map(one, range(streams)))
        for r in results:
            self.assertResp(r, inserted=messages * per)


class DurationLimitTest(StreamCase):
    server_args = ("--grpc-stream-max-ms", "800", "--grpc-stream-idle-ms", "0")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_project("app")
        cls.key = cls.srv.create_key(name="duration")

    def test_long_stream_is_ended_with_its_summary(self):
        gate, fut = self.open_stream(self.key)
        gate.put(batch(ev("dur-1")))
        wait_until(lambda: self.stored("dur-1"), "message 1")
        err = self.failure(fut, SC.DEADLINE_EXCEEDED)
        self.assertIn("a stream lasts at most 800 ms (--grpc-stream-max-ms)", err.details())
        self.assertEqual(summary_trailer(err).inserted, 1)
        gate.put(batch(ev("dur-late")))
        gate.close()
        self.assertResp(self.ingest(self.key, ev("dur-probe")), inserted=1)
        self.assertFalse(self.stored("dur-late"))


class StreamFlagsTest(unittest.TestCase):
    def test_bad_values_refuse_to_start(self):
        for flag in ("--grpc-stream-idle-ms", "--grpc-stream-max-ms", "--grpc-stream-max-messages"):
            with self.subTest(flag=flag):
                p = subprocess.run([clx.BINARY, flag, "soon", "--data-dir", "/nonexistent/never"],
                                   capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
                self.assertEqual(p.returncode, 2)
                self.assertIn(("invalid value 'soon' for %s" % flag).encode(), p.stderr)

    def test_defaults_are_documented_in_help(self):
        out = subprocess.run([clx.BINARY, "--help"], capture_output=True, timeout=20).stdout.decode()
        for flag, env, default in (("grpc-stream-idle-ms", "COSTLYNX_GRPC_STREAM_IDLE_MS", "60000"),
                                   ("grpc-stream-max-ms", "COSTLYNX_GRPC_STREAM_MAX_MS", "3600000"),
                                   ("grpc-stream-max-messages", "COSTLYNX_GRPC_STREAM_MAX_MESSAGES", "0")):
            line = [ln for ln in out.splitlines() if "--" + flag + " " in ln]
            self.assertEqual(len(line), 1, out)
            self.assertIn(env, line[0])
            self.assertIn('(default "%s")' % default, line[0])


if __name__ == "__main__":
    unittest.main()
