"""Shutdown with a health Watch stream open: the stream is ended (UNAVAILABLE) and costlynxd
exits promptly and cleanly instead of waiting out its grace period."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import clx  # noqa: E402
import grpc  # noqa: E402
import grpc_stubs  # noqa: E402


class WatchShutdownTest(unittest.TestCase):
    def test_open_watch_does_not_hold_up_sigterm(self):
        stubs = grpc_stubs.load()
        srv = clx.Server(grpc=True, extra_args=["--shutdown-grace-ms", "20000"])
        ch = grpc.insecure_channel(srv.grpc_addr)
        try:
            health = stubs.health_pb2_grpc.HealthStub(ch)
            stream = health.Watch(stubs.health_pb2.HealthCheckRequest(service=""), timeout=60)
            first = next(stream)
            self.assertEqual(first.status, stubs.health_pb2.HealthCheckResponse.SERVING)
            ended = {}

            def drain():
                try:
                    for _ in stream:
                        pass
                    ended["code"] = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    ended["code"] = e.code()

            t = threading.Thread(target=drain)
            t.start()
            began = time.monotonic()
            self.assertEqual(srv.stop(), 0)
            took = time.monotonic() - began
            t.join(10)
            self.assertLess(took, 5.0, "SIGTERM waited for the open Watch stream (grace is 20 s)")
            self.assertEqual(ended.get("code"), grpc.StatusCode.UNAVAILABLE)
        finally:
            ch.close()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
