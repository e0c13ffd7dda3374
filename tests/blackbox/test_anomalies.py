"""Spend anomalies (issue 12) in the daemon: 15 days of flat hourly spend written with event
timestamps, one hour at 26x; after a restart the watch judges the last 48 hours from the hourly
rollups: that hour is flagged for the workspace, the project, the feature and the model, listed
with its baseline, and alerted once per episode to a signature-checking receiver."""
import json
import time
import unittest

import clx
from clx import event
from webhook_receiver import WebhookReceiver

HOUR = 3600


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class AnomaliesTest(unittest.TestCase):
    def test_spike_flagged_listed_alerted_once(self):
        srv = clx.Server(extra_args=["--webhook-allow", "loopback"])
        rx = WebhookReceiver().start()
        try:
            srv.create_project("web")
            key = srv.create_key(name="web", default_project="web")
            st, ch, raw = srv.admin("POST", "workspaces/default/channels",
                                    {"name": "ops", "url": "http://127.0.0.1:%d/hook" % rx.port})
            self.assertEqual(st, 201, raw)
            rx.secret = ch["secret"].encode()
            now = time.time()
            last = int((now - 300) // HOUR) - 1  # the newest complete hour (5 minutes' grace)
            spike = last - 1
            events = []
            for h in range(last - 15 * 24, last + 1):
                events.append(event("h%d" % h, feature="chat", estimatedCostUsd=1, timestamp=iso(h * HOUR + 1800)))
                if h == spike:
                    events.append(event("spike", feature="chat", estimatedCostUsd=25, timestamp=iso(h * HOUR + 1900)))
            for i in range(0, len(events), 100):
                st, js, raw = srv.ingest(key, {"events": events[i:i + 100]})
                self.assertEqual((st, js["inserted"]), (200, len(events[i:i + 100])), raw)
            srv.restart()  # the first run judges the last 48 complete hours from the rollups

            def listed():
                st, js, raw = srv.admin("GET", "workspaces/default/anomalies")
                self.assertEqual(st, 200, raw)
                return js["anomalies"] if len(js["anomalies"]) >= 4 else None
            got = None
            end = time.time() + 30
            while got is None and time.time() < end:
                got = listed()
                time.sleep(0.2)
            self.assertIsNotNone(got, "no anomalies listed")
            self.assertEqual(sorted((a["scope"]["type"], a["scope"]["name"]) for a in got),
                             [("feature", "chat"), ("model", "openai/gpt-4o-mini"), ("project", "web"),
                              ("workspace", "default")])
            for a in got:
                self.assertEqual(a["hour"], iso(spike * HOUR).replace("Z", ".000Z"), a)
                self.assertEqual((a["observedUsd"], a["baselineUsd"]), ("26", "1"), a)
                self.assertEqual((a["observedEvents"], a["baselineEvents"]), (2, 1), a)
                self.assertGreater(a["ratio"], 25)
                self.assertTrue(a["alertId"].startswith("anomaly:"), a)

            def anomaly_reqs():
                return [r for r in rx.requests if r["headers"].get("X-Costlynx-Alert-Id", "").startswith("anomaly:")]
            end = time.time() + 30
            while len(anomaly_reqs()) < 4 and time.time() < end:
                time.sleep(0.2)
            reqs = anomaly_reqs()
            self.assertEqual(sorted(r["headers"]["X-Costlynx-Alert-Id"] for r in reqs),
                             sorted(a["alertId"] for a in got))
            self.assertTrue(all(r["verified"] for r in reqs))
            body = json.loads(reqs[0]["body"])
            self.assertEqual(body["kind"], "anomaly")
            self.assertEqual(body["fields"]["observedUsd"], "26")
            # a second restart judges the same hours again: listed again, not alerted again
            srv.restart()
            end = time.time() + 10
            while listed() is None and time.time() < end:
                time.sleep(0.2)
            self.assertEqual(len(listed()), 4)
            time.sleep(2)
            self.assertEqual(len(anomaly_reqs()), 4)
            # the other hours (flat) are not flagged; the sensitivity is shown
            st, js, raw = srv.admin("GET", "workspaces/default/anomalies")
            self.assertEqual(js["sensitivity"], "medium")
        finally:
            srv.cleanup()
            rx.stop()


if __name__ == "__main__":
    unittest.main()
