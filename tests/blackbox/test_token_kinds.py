"""Issue 10 over the real binary (REST door): event time and its window, end users and tags,
and the whole token bill — every new token kind and service tier priced to the nano from the
shipped catalog, each cost breakdown summing exactly to costUsd.

Expected costs are computed by hand from pricing/catalog/prices.csv (USD per million tokens,
quoted beside each case); a rate that changes there must change here too."""
import datetime
import time
import unittest
from decimal import Decimal

import clx

DAY = 86400


def rfc3339(unix_s):
    """Unix seconds (float) -> '2026-11-30T14:03:07.120Z' (milliseconds, UTC)."""
    t = datetime.datetime.fromtimestamp(unix_s, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def ev(rid, **kw):
    """An attributed event (app / prod) so that valid ones answer without warnings."""
    return clx.event(rid, project="app", environment="prod", **kw)


class TokenKindsTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.srv.create_project("app")
        cls.key = cls.srv.create_key(name="kinds")
        cls.srv.create_workspace("strict")
        cls.srv.create_project("app", ws="strict")
        cls.srv.set_strict(True, ws="strict")
        cls.strict_key = cls.srv.create_key(ws="strict", name="strict")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    # ---- helpers ----------------------------------------------------------------------------

    def ok(self, event, key=None, warnings=()):
        st, js, raw = self.srv.ingest(key or self.key, event)
        self.assertEqual(st, 200, raw)
        self.assertEqual(js["inserted"], 1, raw)
        self.assertEqual([w["code"] for w in js.get("warnings", [])], list(warnings), raw)
        return js

    def rejected(self, event, field, code, key=None):
        st, js, raw = self.srv.ingest(key or self.key, event)
        self.assertEqual(st, 400, raw)  # a single event's error is the answer's error
        self.assertEqual((js["error"]["field"], js["error"]["code"]), (field, code), raw)
        self.assertEqual(js["error"]["requestId"], event["requestId"])
        self.assertIsNone(self.srv.get_event(event["requestId"]))
        return js["error"]["message"]

    def priced(self, event, cost, parts, tier="standard", discount=0, flags=(), warnings=(), key=None, ws="default"):
        """Ingests event; its stored cost must be cost (USD text) made of parts
        [(kind, units, rate per Mtok or per call, costUsd)] summing exactly to it."""
        self.ok(event, key=key, warnings=warnings)
        got = self.srv.get_event(event["requestId"], ws=ws)
        self.assertEqual(got["costUsd"], cost)
        bd = got["costBreakdown"]
        self.assertEqual((bd["tier"], bd["discountPct"], bd["flags"]), (tier, discount, list(flags)))
        self.assertEqual(bd["priceId"], got["priceId"])
        if got["costSource"] == "catalog":
            self.assertTrue(bd["catalogVersion"])
        else:  # a workspace's own price is no catalog's
            self.assertEqual((got["costSource"], bd["catalogVersion"]), ("override", None))
        self.assertEqual([(p["kind"], p["units"], p.get("ratePerMtok", p.get("ratePerCall")), p["costUsd"])
                          for p in bd["parts"]], parts)
        self.assertEqual(sum(Decimal(p["costUsd"]) for p in bd["parts"]), Decimal(cost))
        return got

    # ---- the whole token bill ---------------------------------------------------------------

    def test_one_hour_cache_writes(self):
        # claude-sonnet-4-5: input 3, cached 0.30, 5-minute write 3.75, 1-hour write 6.00, output 15
        got = self.priced(
            ev("k-cw1h", provider="anthropic", model="claude-sonnet-4-5", inputTokens=10000, cachedTokens=2000,
               cacheWriteTokens=3000, cacheWrite1hTokens=1000, outputTokens=500),
            "0.0366", [("input", 5000, "3", "0.015"),            # 10000 - 2000 - 3000
                       ("cachedInput", 2000, "0.3", "0.0006"),
                       ("cacheWrite5m", 2000, "3.75", "0.0075"),  # 3000 - 1000
                       ("cacheWrite1h", 1000, "6", "0.006"),
                       ("output", 500, "15", "0.0075")])
        self.assertEqual((got["cacheWriteTokens"], got["cacheWrite1hTokens"]), (3000, 1000))

    def test_reasoning_at_the_output_rate(self):
        # o3 has no reasoning rate of its own: reasoning is priced as output (input 2, output 8)
        got = self.priced(
            ev("k-reason", provider="openai", model="o3", inputTokens=1000, outputTokens=3000, reasoningTokens=2000),
            "0.026", [("input", 1000, "2", "0.002"), ("output", 1000, "8", "0.008"),
                      ("reasoning", 2000, "8", "0.016")])
        self.assertEqual(got["reasoningTokens"], 2000)

    def test_audio_input_and_output(self):
        # gpt-4o-audio-preview: input 2.50, output 10, audio input 40, audio output 80
        self.priced(
            ev("k-audio", provider="openai", model="gpt-4o-audio-preview", inputTokens=1000, audioInputTokens=600,
               outputTokens=500, audioOutputTokens=300),
            "0.051", [("input", 400, "2.5", "0.001"), ("audioInput", 600, "40", "0.024"),
                      ("output", 200, "10", "0.002"), ("audioOutput", 300, "80", "0.024")])

    def test_cached_audio(self):
        # gpt-4o-realtime-preview: input 5, cached 2.50, audio 40, cached audio 2.50, output 20, audio out 80
        self.priced(
            ev("k-caudio", provider="openai", model="gpt-4o-realtime-preview", inputTokens=2000, cachedTokens=800,
               audioInputTokens=1200, cachedAudioTokens=500, outputTokens=100, audioOutputTokens=100),
            "0.0405", [("input", 500, "5", "0.0025"),               # 2000 - 800 cached - 700 uncached audio
                       ("cachedInput", 300, "2.5", "0.00075"),       # 800 - 500 cached audio
                       ("audioInput", 700, "40", "0.028"),            # 1200 - 500
                       ("cachedAudioInput", 500, "2.5", "0.00125"),
                       ("audioOutput", 100, "80", "0.008")])

    def test_priority_tier(self):
        # gpt-4o-mini priority: input 0.25, cached 0.125, output 1.00 (standard: 0.15 / 0.075 / 0.60)
        got = self.priced(
            ev("k-prio", inputTokens=10000, cachedTokens=4000, outputTokens=1000, serviceTier="priority"),
            "0.003", [("input", 6000, "0.25", "0.0015"), ("cachedInput", 4000, "0.125", "0.0005"),
                      ("output", 1000, "1", "0.001")], tier="priority")
        self.assertEqual(got["serviceTier"], "priority")

    def test_flex_tier_and_rounding_to_the_nano(self):
        # o3 flex: input 1.00, cached 0.25, output 4.00
        self.priced(ev("k-flex", provider="openai", model="o3", inputTokens=10000, cachedTokens=2000,
                       outputTokens=1000, serviceTier="flex"),
                    "0.0125", [("input", 8000, "1", "0.008"), ("cachedInput", 2000, "0.25", "0.0005"),
                               ("output", 1000, "4", "0.004")], tier="flex")
        # o4-mini flex: input 0.55, cached 0.1375, output 2.20 — 2 x 550 + 3 x 137.5 + 1 x 2200 = 3712.5
        # nano-dollars, rounded half up once to 3713; the cached part (412.5) takes the nano
        self.priced(ev("k-flex-round", provider="openai", model="o4-mini", inputTokens=5, cachedTokens=3,
                       outputTokens=1, serviceTier="flex"),
                    "0.000003713", [("input", 2, "0.55", "0.0000011"), ("cachedInput", 3, "0.1375", "0.000000413"),
                                    ("output", 1, "2.2", "0.0000022")], tier="flex")

    def test_batch_tier_both_spellings(self):
        # gpt-4o-mini, 50% batch discount: (10000 x 0.15 + 1000 x 0.60) / 2 = $0.00105
        parts = [("input", 10000, "0.15", "0.00075"), ("output", 1000, "0.6", "0.0003")]
        a = self.priced(ev("k-batch-tier", inputTokens=10000, outputTokens=1000, serviceTier="batch"),
                        "0.00105", parts, tier="batch", discount=50)
        b = self.priced(ev("k-batch-flag", inputTokens=10000, outputTokens=1000, batch=True),
                        "0.00105", parts, tier="batch", discount=50)
        self.assertEqual((a["serviceTier"], a["batch"]), ("batch", True))
        self.assertEqual((b["serviceTier"], b["batch"]), ("batch", True))
        # batch: true with an explicit standard name is the batch tier; with priority or flex a contradiction
        self.ok(ev("k-batch-default", batch=True, serviceTier="default"))
        self.assertEqual(self.srv.get_event("k-batch-default")["serviceTier"], "batch")
        msg = self.rejected(ev("k-batch-prio", batch=True, serviceTier="priority"), "serviceTier", "invalid_value")
        self.assertIn("batch", msg)

    def test_standard_tier_names(self):
        for name in ("standard", "default", "auto"):
            got = self.priced(ev("k-std-" + name, inputTokens=1000, outputTokens=100, serviceTier=name),
                              "0.00021", [("input", 1000, "0.15", "0.00015"), ("output", 100, "0.6", "0.00006")])
            self.assertEqual(got["serviceTier"], "standard")
        for bad in ("Priority", "turbo", "", " flex"):
            if bad == "":
                continue  # "" is proto3's absent value: the standard tier
            self.rejected(ev("k-tier-bad", serviceTier=bad), "serviceTier", "invalid_value")
        self.rejected(ev("k-tier-type", serviceTier=1), "serviceTier", "invalid_type")

    def test_web_search_fee(self):
        # claude-sonnet-4-5: $10 per 1,000 web searches = $0.01 a call; input 3, output 15
        self.priced(ev("k-web", provider="anthropic", model="claude-sonnet-4-5", inputTokens=1000, outputTokens=100,
                       webSearchCalls=3),
                    "0.0345", [("input", 1000, "3", "0.003"), ("output", 100, "15", "0.0015"),
                               ("webSearch", 3, "0.01", "0.03")])
        # gpt-4.1-nano has no known fee: the calls cost nothing and the breakdown says so
        self.priced(ev("k-web-none", model="gpt-4.1-nano", inputTokens=1000, outputTokens=1000, webSearchCalls=2),
                    "0.0005", [("input", 1000, "0.1", "0.0001"), ("output", 1000, "0.4", "0.0004"),
                               ("webSearch", 2, "0", "0")], flags=["fee_unpriced"])

    def test_tier_unpriced_warning(self):
        # gpt-4.1-nano has no flex price: priced standard (input 0.10, output 0.40), warned
        e = ev("k-unpriced-tier", model="gpt-4.1-nano", inputTokens=1000, outputTokens=1000, serviceTier="flex")
        self.priced(e, "0.0005", [("input", 1000, "0.1", "0.0001"), ("output", 1000, "0.4", "0.0004")],
                    flags=["tier_unpriced"], warnings=["tier_unpriced"])
        st, js, _ = self.srv.ingest(self.key, e)  # the warning holds only when stored: a duplicate has none
        self.assertEqual((js["skipped"], js.get("warnings", [])), (1, []))
        # batch: true on a model the batch API does not discount (gpt-5-codex: input 1.25, output 10):
        # the list price, with the same warning — the batch tier is a tier like the others
        self.priced(ev("k-batch-nodiscount", model="gpt-5-codex", inputTokens=1000, outputTokens=100, batch=True),
                    "0.00225", [("input", 1000, "1.25", "0.00125"), ("output", 100, "10", "0.001")],
                    flags=["tier_unpriced"], warnings=["tier_unpriced"])
        # strict mode is about attribution: a pricing warning stays a warning there too
        e2 = dict(e, requestId="k-unpriced-strict")
        self.priced(e2, "0.0005", [("input", 1000, "0.1", "0.0001"), ("output", 1000, "0.4", "0.0004")],
                    flags=["tier_unpriced"], warnings=["tier_unpriced"], key=self.strict_key, ws="strict")

    def test_override_and_caller_sources(self):
        st, js, raw = self.srv.admin("POST", "workspaces/default/pricing/overrides",
                                     {"provider": "openai", "model": "house-flex", "inputPerMtok": "2", "outputPerMtok": "4"})
        self.assertIn(st, (200, 201), raw)
        got = self.priced(ev("k-own", model="house-flex", inputTokens=1000, outputTokens=1000),
                          "0.006", [("input", 1000, "2", "0.002"), ("output", 1000, "4", "0.004")])
        self.assertEqual(got["costSource"], "override")
        self.ok(ev("k-caller", estimatedCostUsd="0.5"))
        got = self.srv.get_event("k-caller")
        self.assertEqual((got["costSource"], got["costUsd"], got["costBreakdown"]), ("caller", "0.5", None))

    def test_subsets_named(self):
        cases = [
            (dict(outputTokens=5, reasoningTokens=6), "reasoningTokens"),
            (dict(inputTokens=10, cacheWriteTokens=3, cacheWrite1hTokens=4), "cacheWrite1hTokens"),
            (dict(inputTokens=10, audioInputTokens=11), "audioInputTokens"),
            (dict(outputTokens=5, audioOutputTokens=6), "audioOutputTokens"),
            (dict(outputTokens=5, reasoningTokens=3, audioOutputTokens=3), "audioOutputTokens"),
            (dict(inputTokens=10, cachedTokens=2, audioInputTokens=5, cachedAudioTokens=3), "cachedAudioTokens"),
            (dict(reasoningTokens=-1), "reasoningTokens"),
            (dict(webSearchCalls=-1), "webSearchCalls"),
            (dict(webSearchCalls=1000001), "webSearchCalls"),
            (dict(cachedAudioTokens=1000000001), "cachedAudioTokens"),
        ]
        for fields, field in cases:
            with self.subTest(fields=fields):
                self.rejected(ev("k-subset", **fields), field, "invalid_value")
        self.rejected(ev("k-frac", reasoningTokens=1.5), "reasoningTokens", "invalid_value")
        self.rejected(ev("k-negzero", audioInputTokens="-0"), "audioInputTokens", "invalid_value")

    # ---- end users and tags -----------------------------------------------------------------

    def test_user_and_tags_stored_sorted(self):
        self.ok(ev("k-tags", userId="cust-42 ✓", tags={"team": "search", "customer_tier": "gold", "a.b-c_1": ""}))
        got = self.srv.get_event("k-tags")
        self.assertEqual(got["userId"], "cust-42 ✓")
        self.assertEqual(list(got["tags"].items()), [("a.b-c_1", ""), ("customer_tier", "gold"), ("team", "search")])
        # the same tags in another order are the same event; another value is a conflict
        st, js, _ = self.srv.ingest(self.key, ev("k-tags", userId="cust-42 ✓",
                                                 tags={"a.b-c_1": "", "team": "search", "customer_tier": "gold"}))
        self.assertEqual((js["inserted"], js["skipped"], js.get("warnings", [])), (0, 1, []))
        for changed in (dict(userId="cust-43"), dict(tags={"team": "search"}), dict(reasoningTokens=1),
                        dict(serviceTier="priority"), dict(timestamp=rfc3339(time.time() - 60))):
            fields = dict(userId="cust-42 ✓", tags={"team": "search", "customer_tier": "gold", "a.b-c_1": ""})
            fields.update(changed)
            with self.subTest(changed=changed):
                st, js, raw = self.srv.ingest(self.key, ev("k-tags", **fields))
                self.assertEqual([w["code"] for w in js.get("warnings", [])], ["requestId_conflict"], raw)

    def test_user_and_tag_limits(self):
        self.ok(ev("k-user-256", userId="u" * 256))
        self.rejected(ev("k-user-257", userId="u" * 257), "userId", "too_long")
        self.rejected(ev("k-user-ctl", userId="a\u0001b"), "userId", "invalid_value")
        self.rejected(ev("k-user-type", userId=5), "userId", "invalid_type")
        self.ok(ev("k-tags-16", tags={"t%02d" % i: "v" for i in range(16)}))
        msg = self.rejected(ev("k-tags-17", tags={"t%02d" % i: "v" for i in range(17)}), "tags", "invalid_value")
        self.assertIn("17", msg)
        self.ok(ev("k-tag-key-64", tags={"k" * 64: "v"}))
        msg = self.rejected(ev("k-tag-key-65", tags={"k" * 65: "v"}), "tags", "invalid_value")
        self.assertIn("64", msg)
        for bad in ("Team", "te am", "tëam", "team/x", ""):
            with self.subTest(key=bad):
                msg = self.rejected(ev("k-tag-bad", tags={bad: "v"}), "tags", "invalid_value")
                self.assertIn("'%s'" % bad, msg)
        self.ok(ev("k-tag-val-256", tags={"team": "v" * 256}))
        msg = self.rejected(ev("k-tag-val-257", tags={"team": "v" * 257}), "tags", "invalid_value")
        self.assertIn("'team'", msg)
        self.rejected(ev("k-tag-val-ctl", tags={"team": "a\nb"}), "tags", "invalid_value")
        for val, what in ((5, "a number"), (True, "a boolean"), (None, "null"), ({"x": "y"}, "an object"),
                          (["x"], "an array")):
            with self.subTest(value=val):
                msg = self.rejected(ev("k-tag-type", tags={"team": val}), "tags", "invalid_type")
                self.assertIn(what, msg)
        for tags in ("team=x", ["team", "x"], 5):
            self.rejected(ev("k-tags-type", tags=tags), "tags", "invalid_type")
        # a key twice in the object (JSON allows it, proto maps cannot hold it): refused, not guessed
        body = ('{"provider":"openai","model":"gpt-4o-mini","requestId":"k-tag-dup","project":"app",'
                '"environment":"prod","tags":{"team":"a","team":"b"}}')
        st, js, raw = self.srv.ingest(self.key, body)
        self.assertEqual((st, js["error"]["field"], js["error"]["code"]), (400, "tags", "invalid_value"), raw)
        self.assertIn("more than once", js["error"]["message"])
        body = body.replace('"team":"a","team":"b"', '"team":"a\\u0000b"').replace("k-tag-dup", "k-tag-nul")
        st, js, raw = self.srv.ingest(self.key, body)
        self.assertEqual((st, js["error"]["field"]), (400, "tags"), raw)
        self.assertIsNone(self.srv.get_event("k-tag-nul"))

    # ---- event time ------------------------------------------------------------------------

    def test_timestamp_stored_and_read_back(self):
        t = time.time() - 3 * DAY
        self.ok(ev("k-ts", timestamp=rfc3339(t)))
        got = self.srv.get_event("k-ts")
        self.assertEqual(got["timestamp"], rfc3339(t))
        self.assertNotEqual(got["timestamp"], got["receivedAt"])
        # an offset and nanoseconds: the same instant, to the millisecond
        base = datetime.datetime.fromtimestamp(int(t), tz=datetime.timezone.utc)
        local = base.astimezone(datetime.timezone(datetime.timedelta(hours=-5, minutes=-30)))
        self.ok(ev("k-ts-offset", timestamp=local.strftime("%Y-%m-%dT%H:%M:%S") + ".123456789-05:30"))
        self.assertEqual(self.srv.get_event("k-ts-offset")["timestamp"],
                         base.strftime("%Y-%m-%dT%H:%M:%S") + ".123Z")
        # absent: the arrival time
        self.ok(ev("k-ts-none"))
        got = self.srv.get_event("k-ts-none")
        self.assertEqual(got["timestamp"], got["receivedAt"])

    def test_malformed_timestamps(self):
        for bad in ("2026-11-30", "2026-11-30T14:03:07", "2026-11-30 14:03:07Z", "2026-02-30T00:00:00Z",
                    "2026-11-30T24:00:00Z", "2026-11-30T14:03:60Z", "2026-11-30T14:03:07.Z",
                    "2026-11-30T14:03:07.1234567890Z", "2026-11-30T14:03:07+0100", "1700000000", "",
                    "2025-02-29T00:00:00Z", "0000-01-01T00:00:00Z"):
            with self.subTest(value=bad):
                self.rejected(ev("k-ts-bad", timestamp=bad), "timestamp", "invalid_value")
        self.rejected(ev("k-ts-num", timestamp=1700000000), "timestamp", "invalid_type")

    def test_default_window_edges(self):
        now = time.time()
        # 35 days back: the server's arrival time is a little after ours, so "just inside" keeps 5 s
        self.ok(ev("k-back-in", timestamp=rfc3339(now - 35 * DAY + 5)))
        msg = self.rejected(ev("k-back-out", timestamp=rfc3339(now - 35 * DAY - 1)), "timestamp",
                            "timestamp_out_of_range")
        self.assertIn("35 days back to 5 minutes ahead", msg)
        self.ok(ev("k-fwd-in", timestamp=rfc3339(now + 300 - 5)))
        self.rejected(ev("k-fwd-out", timestamp=rfc3339(now + 300 + 30)), "timestamp", "timestamp_out_of_range")
        # a batch's other events are stored
        st, js, raw = self.srv.ingest(self.key, {"events": [
            ev("k-win-b0"), ev("k-win-b1", timestamp=rfc3339(now - 40 * DAY)), ev("k-win-b2")]})
        self.assertEqual((st, js["inserted"], js["rejected"]), (200, 2, 1), raw)
        self.assertEqual([(e["index"], e["code"]) for e in js["errors"]], [(1, "timestamp_out_of_range")])
        self.assertIsNone(self.srv.get_event("k-win-b1"))
        self.assertIsNotNone(self.srv.get_event("k-win-b2"))

    def test_backdated_event_priced_at_its_time(self):
        # a catalog price in force at the event's time prices it (the same price here: only the path is shown)
        self.ok(ev("k-back-price", timestamp=rfc3339(time.time() - 20 * DAY), inputTokens=1000, outputTokens=0))
        self.assertEqual(self.srv.get_event("k-back-price")["costUsd"], "0.00015")


class WindowSettingTest(unittest.TestCase):
    """A workspace's own window (the settings API), and the defaults shown."""

    @classmethod
    def setUpClass(cls):
        cls.srv = clx.Server()
        cls.srv.create_workspace("w")
        cls.srv.create_project("app", ws="w")
        cls.key = cls.srv.create_key(ws="w", name="w")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def test_workspace_window(self):
        st, js, raw = self.srv.admin("GET", "workspaces/w")
        self.assertEqual(st, 200, raw)
        self.assertEqual(js["eventWindow"], {"backSeconds": 35 * DAY, "forwardSeconds": 300})
        self.assertEqual(js["tagDimensions"], [])
        st, js, raw = self.srv.admin("PATCH", "workspaces/w", {"eventWindow": {"backSeconds": 2 * DAY,
                                                                               "forwardSeconds": 3600}})
        self.assertEqual(st, 200, raw)
        self.assertEqual(js["eventWindow"], {"backSeconds": 2 * DAY, "forwardSeconds": 3600})
        now = time.time()
        e = lambda rid, t: clx.event(rid, project="app", environment="prod", timestamp=rfc3339(t))
        st, js, raw = self.srv.ingest(self.key, e("w-3d", now - 3 * DAY))
        self.assertEqual((st, js["error"]["code"]), (400, "timestamp_out_of_range"), raw)
        self.assertIn("2 days back to 1 hour ahead", js["error"]["message"])
        st, js, raw = self.srv.ingest(self.key, e("w-1d", now - DAY))
        self.assertEqual(st, 200, raw)
        st, js, raw = self.srv.ingest(self.key, e("w-30m", now + 1800))
        self.assertEqual(st, 200, raw)
        # kept across a restart
        self.srv.restart()
        st, js, raw = self.srv.admin("GET", "workspaces/w")
        self.assertEqual(js["eventWindow"], {"backSeconds": 2 * DAY, "forwardSeconds": 3600})
        # null: back to the defaults
        st, js, raw = self.srv.admin("PATCH", "workspaces/w", {"eventWindow": None})
        self.assertEqual((st, js["eventWindow"]), (200, {"backSeconds": 35 * DAY, "forwardSeconds": 300}), raw)

    def test_bad_window_and_dimensions(self):
        for body, field in (({"eventWindow": {"backSeconds": 0}}, "eventWindow.backSeconds"),
                            ({"eventWindow": {"backSeconds": 401 * DAY}}, "eventWindow.backSeconds"),
                            ({"eventWindow": {"forwardSeconds": -1}}, "eventWindow.forwardSeconds"),
                            ({"eventWindow": {"forwardSeconds": 86401}}, "eventWindow.forwardSeconds"),
                            ({"eventWindow": {"backSeconds": 1.5}}, "eventWindow.backSeconds"),
                            ({"eventWindow": {"backSecs": 10}}, "eventWindow"),
                            ({"eventWindow": "35d"}, "eventWindow"),
                            ({"tagDimensions": ["a", "b", "c", "d", "e", "f"]}, "tagDimensions"),
                            ({"tagDimensions": ["Team"]}, "tagDimensions"),
                            ({"tagDimensions": ["team", "team"]}, "tagDimensions"),
                            ({"tagDimensions": [5]}, "tagDimensions"),
                            ({"tagDimensions": "team"}, "tagDimensions")):
            with self.subTest(body=body):
                st, js, raw = self.srv.admin("PATCH", "workspaces/w", body)
                self.assertEqual(st, 400, raw)
                self.assertEqual(js["error"]["field"], field, raw)
        st, js, raw = self.srv.admin("PATCH", "workspaces/w", {"tagDimensions": ["team", "customer_tier"]})
        self.assertEqual((st, js["tagDimensions"]), (200, ["team", "customer_tier"]), raw)
        st, js, raw = self.srv.admin("PATCH", "workspaces/w", {"strictMode": False})
        self.assertEqual(js["tagDimensions"], ["team", "customer_tier"])  # untouched by another member
        st, js, raw = self.srv.admin("PATCH", "workspaces/w", {"tagDimensions": []})
        self.assertEqual((st, js["tagDimensions"]), (200, []), raw)

    def test_ctl(self):
        rc, out, err = self.srv.ctl("--workspace", "w", "event-window", "86400", "600")
        self.assertEqual(rc, 0, err)
        self.assertEqual(clx.parse(out)["eventWindow"], {"backSeconds": 86400, "forwardSeconds": 600})
        rc, out, err = self.srv.ctl("--workspace", "w", "event-window", "-5", "600")
        self.assertNotEqual(rc, 0)
        self.assertIn(b"eventWindow.backSeconds", out + err)
        rc, out, err = self.srv.ctl("--workspace", "w", "event-window", "default")
        self.assertEqual(clx.parse(out)["eventWindow"], {"backSeconds": 35 * DAY, "forwardSeconds": 300})
        rc, out, err = self.srv.ctl("--workspace", "w", "tag-dimensions", "team", "env.region")
        self.assertEqual((rc, clx.parse(out)["tagDimensions"]), (0, ["team", "env.region"]), err)
        rc, out, err = self.srv.ctl("--workspace", "w", "tag-dimensions")
        self.assertEqual((rc, clx.parse(out)["tagDimensions"]), (0, []), err)
        rc, out, err = self.srv.ctl("--workspace", "w", "event-window", "5")
        self.assertNotEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
