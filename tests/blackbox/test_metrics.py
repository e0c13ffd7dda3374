"""GET /metrics over the real binary: Prometheus text whose counters follow what callers saw."""
import re
import unittest

import clx


def metrics(srv):
    status, headers, raw = srv.request("GET", "/metrics")
    assert status == 200, raw
    assert headers["content-type"].startswith("text/plain"), headers
    out = {}
    for line in raw.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


class MetricsTest(unittest.TestCase):
    def test_counters_follow_answers(self):
        srv = clx.Server()
        try:
            key = srv.create_key(name="m")
            before = metrics(srv)
            self.assertEqual(before["costlynx_ingest_requests_total"], 0)
            srv.ingest(key, {"events": [clx.event("m1"), clx.event("m2"), clx.event("", inputTokens=1)]})
            srv.ingest(key, clx.event("m1"))  # skipped
            m = metrics(srv)
            self.assertEqual(m["costlynx_ingest_requests_total"], 2)
            self.assertEqual(m['costlynx_events_total{outcome="inserted"}'], 2)
            self.assertEqual(m['costlynx_events_total{outcome="skipped"}'], 1)
            self.assertEqual(m['costlynx_events_total{outcome="rejected"}'], 1)
            self.assertEqual(m["costlynx_http_inflight_ingest"], 0)
            self.assertGreaterEqual(m["costlynx_writer_synced_writes_total"], 1)
            catalog = [k for k in m if k.startswith("costlynx_catalog_prices{")]
            self.assertEqual(len(catalog), 1)
            self.assertTrue(re.match(r'costlynx_catalog_prices\{version="fnv1a64:[0-9a-f]{16}"\}', catalog[0]))
            self.assertGreaterEqual(m[catalog[0]], 100)
        finally:
            srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
