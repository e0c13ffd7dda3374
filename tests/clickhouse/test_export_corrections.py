"""ClickHouse export of issue 10's fields and issue 11's corrections, against a REAL
clickhouse-server (Debian 12's 18.16) started by this file.

  - void and amend after the events were exported: every correction takes a seq of its own and
    reaches ClickHouse as a new version of the row (version = that seq, voided = 1 for a void), so
    FINAL / argMax sums equal costlynx's own totals (voided excluded) — and hand-computed ones;
  - costlynxd killed (SIGKILL) while the INSERT carrying corrections is unconfirmed: the restart
    re-sends it byte for byte; nothing lost, nothing counted twice;
  - voids and amends racing a load while ClickHouse is killed and restarted;
  - a reprice apply reaches ClickHouse;
  - the event time, user, tags, token kinds, service tier and web search calls, field by field;
  - a table made by an older costlynxd (main's DDL before issue 10's columns) gets the new
    columns at start; a Distributed one is left alone, with a message naming the statements.
"""
import json
import os
import subprocess
import time
import unittest

import chlib
from chlib import clx

CH = None

# The table an older costlynxd made (`ctl clickhouse-schema` before issue 10's columns).
OLD_DDL = """CREATE TABLE IF NOT EXISTS costlynx.usage_events
(
    workspace            String   COMMENT 'workspace slug (lives on exactly one cell)',
    request_id           String   COMMENT 'requestId as the caller sent it, unique per workspace',
    version              UInt64   COMMENT 'sequence number of this version in its cell: the highest wins',
    voided               UInt8    COMMENT '1 when this version voids the event (corrections); count only 0',
    cell                 String   COMMENT 'the cell that stored the event (empty without --cell-id)',
    received_at          DateTime COMMENT 'when the first version was received (partition key: the same in every version)',
    received_at_ms       UInt64   COMMENT 'the same, Unix milliseconds',
    event_time_ms        UInt64   COMMENT 'when the usage happened, Unix ms (the timestamp of the caller once events carry one)',
    provider             String   COMMENT 'normalised provider (gemini -> google)',
    provider_as_sent     String   COMMENT 'provider as the caller sent it',
    model                String   COMMENT 'model exactly as sent',
    model_normalized     String   COMMENT 'the model name the price lookup used',
    price_id             String   COMMENT 'matched catalog entry (empty when none)',
    cost_source          String   COMMENT 'catalog, caller or none (unpriced)',
    cost_nanos           Int64    COMMENT 'cost in nano-dollars (USD * 10^9), exact',
    input_tokens         Int64    COMMENT 'all prompt tokens, cached ones included',
    output_tokens        Int64    COMMENT 'completion tokens, reasoning included',
    cached_tokens        Int64    COMMENT 'prompt tokens read from the prompt cache',
    cache_write_tokens   Int64    COMMENT 'prompt tokens written to the cache',
    batch                UInt8    COMMENT '1 when sent through the batch API of the provider',
    project              String   COMMENT 'attributed project (empty when none)',
    environment          String   COMMENT 'attributed environment (empty when none)',
    project_as_sent      String   COMMENT 'project the event (or its key) named',
    environment_as_sent  String   COMMENT 'environment the event (or its key) named',
    feature              String   COMMENT 'product feature (empty when none)',
    user                 String   COMMENT 'end user (empty until events carry users)',
    key_id               String   COMMENT 'id of the ingestion key that sent it',
    flags                UInt32   COMMENT 'bits: 1 unpriced, 2 unknown project, 4 unknown environment, 8 no attribution'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (workspace, request_id)
SETTINGS index_granularity = 8192;"""


def setUpModule():
    global CH
    CH = chlib.ClickHouse()


def tearDownModule():
    if CH is not None:
        CH.cleanup()


def post(server, path, body, key):
    st, _, raw = server.request("POST", path, json.dumps(body), {"Content-Type": "application/json",
                                                                 "X-API-Key": key})
    return st, clx.parse(raw) if raw else None, raw


class CorrectionsTest(unittest.TestCase):
    def setUp(self):
        self.db = "c_" + self.id().rsplit(".", 1)[1][5:45]
        CH.query("DROP DATABASE IF EXISTS %s" % self.db)
        self.table = "%s.usage_events" % self.db
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def start(self, url=None, batch_rows=5000, interval_ms=50):
        s = clx.Server(extra_args=chlib.export_args(url or CH.url, self.db, batch_rows, interval_ms))
        self.servers.append(s)
        return s

    def final(self, cols, where):
        return CH.rows("SELECT %s FROM %s FINAL WHERE %s" % (cols, self.table, where))

    def assert_same_totals(self, server):
        want = chlib.costlynx_totals(server)
        self.assertEqual(chlib.clickhouse_totals(CH, self.table, "workspace = 'default'"), want)
        # argMax per row, without FINAL, says the same
        r = CH.rows("SELECT count(), sum(c), sum(i), sum(o) FROM (SELECT argMax(cost_nanos, version) AS c, "
                    "argMax(input_tokens, version) AS i, argMax(output_tokens, version) AS o, "
                    "argMax(voided, version) AS v FROM %s WHERE workspace = 'default' "
                    "GROUP BY workspace, request_id) WHERE v = 0" % self.table)[0]
        self.assertEqual(tuple(int(x) for x in r), want)
        return want

    def test_amend_and_void_after_export(self):
        CH.create_schema(self.db)
        s = self.start()
        key = chlib.setup_workspace(s)
        chlib.send_events(s, key, "bulk", 0, 1000)
        # ten events with the caller's cost: 1,000,000 + i nano-dollars, 10 * (i + 1) input tokens
        evs = [clx.event("hc-%d" % i, estimatedCostNanos=1000000 + i, inputTokens=10 * (i + 1)) for i in range(10)]
        st, js, raw = s.ingest(key, {"events": evs})
        self.assertEqual(js["inserted"], 10, raw)
        m = chlib.wait_caught_up(s)
        self.assertEqual(m["costlynx_export_cursor"], 1010)

        st, js, raw = post(s, "/api/v1/usage/void", {"requestIds": ["hc-1", "hc-2", "hc-3"], "reason": "staging"},
                           key)
        self.assertEqual((st, js["voided"]), (200, 3), raw)
        for rid in ("hc-4", "hc-5"):
            st, js, raw = post(s, "/api/v1/usage/amend", {"requestId": rid, "set": {
                "estimatedCostNanos": 250000000, "inputTokens": 777}}, key)
            self.assertEqual((st, js["version"]), (200, 2), raw)
        st, js, raw = post(s, "/api/v1/usage/amend", {"requestId": "hc-4", "set": {"userId": "u-x"}}, key)
        self.assertEqual((st, js["version"]), (200, 3), raw)
        # refused corrections take no seq
        st, js, raw = post(s, "/api/v1/usage/amend", {"requestId": "hc-1", "set": {"inputTokens": 1}}, key)
        self.assertEqual(st, 409, raw)
        st, js, raw = post(s, "/api/v1/usage/void", {"requestIds": ["hc-1", "nope"]}, key)
        self.assertEqual((st, js["voided"], js["alreadyVoided"], js["notFound"]), (200, 0, 1, 1), raw)

        # 3 voids + 3 amends = 6 corrections, seqs 1011..1016, each exported as one row
        m = chlib.wait_for("the corrections exported",
                           lambda: (lambda m: m if m["costlynx_export_cursor"] == 1016 else None)(chlib.metrics(s)))
        self.assertEqual(m["costlynx_export_lag_events"], 0)
        self.assertEqual(m["costlynx_export_rows_total"], 1016)
        self.assertEqual(m["costlynx_export_errors_total"], 0)

        # hand-computed: hc-0, 6, 7, 8, 9 as sent, hc-4 and hc-5 at 250,000,000 and 777 tokens
        want_cost = sum(1000000 + i for i in (0, 6, 7, 8, 9)) + 2 * 250000000
        self.assertEqual(want_cost, 505000030)
        want_in = sum(10 * (i + 1) for i in (0, 6, 7, 8, 9)) + 2 * 777
        got = self.final("count(), sum(cost_nanos), sum(input_tokens)",
                         "voided = 0 AND workspace = 'default' AND request_id LIKE 'hc-%'")[0]
        self.assertEqual([int(x) for x in got], [7, 505000030, want_in])
        # the versions: the voids got 1011..1013 (one request, in its order), the amends 1014..1016
        rows = {r[0]: (int(r[1]), int(r[2]), r[3]) for r in self.final(
            "request_id, version, voided, user", "workspace = 'default' AND request_id LIKE 'hc-%'")}
        self.assertEqual(sorted(rows["hc-%d" % i][0] for i in (1, 2, 3)), [1011, 1012, 1013])
        self.assertTrue(all(rows["hc-%d" % i][1] == 1 for i in (1, 2, 3)))
        self.assertEqual(rows["hc-5"], (1015, 0, ""))
        self.assertEqual(rows["hc-4"], (1016, 0, "u-x"))
        self.assertEqual(rows["hc-0"][1], 0)
        # every version reached the table: hc-4 has its first row and two corrections
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s WHERE request_id = 'hc-4'" % self.table)), 3)
        totals = self.assert_same_totals(s)
        self.assertEqual(totals[0], 1007)
        # after merges: one row per event, the voided ones included (they stay, voided = 1)
        CH.query("OPTIMIZE TABLE %s FINAL" % self.table)
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s" % self.table)), 1010)
        self.assertEqual(int(CH.scalar("SELECT sum(voided) FROM %s" % self.table)), 3)
        self.assert_same_totals(s)

    def test_costlynxd_killed_between_a_correction_and_its_export(self):
        CH.create_schema(self.db)
        proxy = chlib.Proxy(CH.http_port)
        self.addCleanup(proxy.close)
        s = self.start(url=proxy.url, batch_rows=1000)
        key = chlib.setup_workspace(s)
        evs = [clx.event("k-%d" % i, estimatedCostNanos=2000000 + i) for i in range(300)]
        for lo in range(0, 300, 100):
            st, js, raw = s.ingest(key, {"events": evs[lo:lo + 100]})
            self.assertEqual(js["inserted"], 100, raw)
        chlib.wait_caught_up(s)
        n_before = proxy.count()

        # the INSERT carrying the corrections reaches ClickHouse, its answer never comes back
        proxy.hold(n_before + 1)
        st, js, raw = post(s, "/api/v1/usage/void", {"requestIds": ["k-%d" % i for i in range(5)]}, key)
        self.assertEqual((st, js["voided"]), (200, 5), raw)
        for i in range(5, 10):
            st, js, raw = post(s, "/api/v1/usage/amend", {"requestId": "k-%d" % i,
                                                          "set": {"estimatedCostNanos": 7}}, key)
            self.assertEqual(st, 200, raw)
        if not proxy.held.wait(60):
            self.fail("no INSERT to hold")
        s.kill9()
        held_path, held_body = proxy.body(proxy.count() - 1)
        proxy.release()
        # corrections made while costlynxd is down are impossible; after the restart, more of them
        before = proxy.count()
        s.start()
        m = chlib.wait_for("re-export", lambda: (lambda m: m if m["costlynx_export_cursor"] == 310
                                                  and m["costlynx_export_lag_events"] == 0 else None)(chlib.metrics(s)))
        self.assertEqual(proxy.body(before), (held_path, held_body), "the re-sent batch differs")
        self.assertIn("re-sending the unconfirmed batch first", s.stderr())
        st, js, raw = post(s, "/api/v1/usage/void", {"requestIds": ["k-10"]}, key)
        self.assertEqual((st, js["voided"]), (200, 1), raw)
        chlib.wait_for("the void after the restart", lambda: (lambda m: m if m["costlynx_export_cursor"] == 311
                                                               else None)(chlib.metrics(s)))

        # hand-computed: 300 events, 6 voided (k-0..k-4, k-10), k-5..k-9 cost 7 each
        want = sum(2000000 + i for i in range(11, 300)) + 5 * 7
        got = self.final("count(), sum(cost_nanos)", "voided = 0")[0]
        self.assertEqual([int(x) for x in got], [294, want])
        self.assert_same_totals(s)
        # no duplicates: one row per event in FINAL and after a merge
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s FINAL" % self.table)), 300)
        CH.query("OPTIMIZE TABLE %s FINAL" % self.table)
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s" % self.table)), 300)
        self.assertEqual(int(CH.scalar("SELECT sum(voided) FROM %s" % self.table)), 6)

    def test_corrections_during_a_load_and_a_clickhouse_restart(self):
        """Voids and amends racing ingestion (the log merges two families on one snapshot) while
        ClickHouse is killed and restarted: every entry arrives once, totals equal costlynx's."""
        CH.create_schema(self.db)
        s = self.start(batch_rows=2000)
        key = chlib.setup_workspace(s)
        n = max(chlib.EVENTS // 5, 5000)
        load = chlib.Load(s, key, "ld", n, batch=100)
        load.start()
        applied = 0
        voided, amended = set(), set()
        i = 0
        killed = restarted = False
        while load.is_alive() or i < 600:
            done = load.inserted
            if i + 10 > done:
                if not load.is_alive():
                    break
                time.sleep(0.02)
                continue
            if not killed and done > n // 4:
                CH.kill()
                killed = True
            if killed and not restarted and done > n // 2:
                CH.start()
                restarted = True
            if i % 20 == 0:
                ids = ["ld-%d" % j for j in range(i, i + 5)]
                st, js, raw = post(s, "/api/v1/usage/void", {"requestIds": ids}, key)
                self.assertEqual((st, js["voided"]), (200, 5), raw)
                voided.update(ids)
                applied += 5
            else:
                rid = "ld-%d" % (i + 7)
                st, js, raw = post(s, "/api/v1/usage/amend", {"requestId": rid, "set": {"outputTokens": 999}}, key)
                self.assertEqual(st, 200, raw)
                amended.add(rid)
                applied += 1
            i += 10
        load.stop()
        if not restarted:
            if not killed:
                CH.kill()
            CH.start()
        self.assertEqual(load.inserted, n)
        self.assertGreater(applied, 50)
        m = chlib.wait_for("everything exported", lambda: (lambda m: m if m["costlynx_export_cursor"] == n + applied
                                                           and m["costlynx_export_lag_events"] == 0
                                                           else None)(chlib.metrics(s)))
        self.assertEqual(m["costlynx_export_rows_total"], n + applied)
        totals = self.assert_same_totals(s)
        self.assertEqual(totals[0], n - len(voided))
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s FINAL" % self.table)), n)
        self.assertEqual(int(CH.scalar("SELECT sum(voided) FROM %s FINAL" % self.table)), len(voided))
        still = amended - voided
        self.assertEqual(int(CH.scalar("SELECT countIf(output_tokens = 999) FROM %s FINAL WHERE voided = 0"
                                       % self.table)), len(still))

    def test_reprice_apply_reaches_clickhouse(self):
        CH.create_schema(self.db)
        s = self.start()
        key = chlib.setup_workspace(s)
        big = dict(model="house-llm", inputTokens=1000000, outputTokens=500000)
        evs = [clx.event("h%d" % i, **big) for i in range(4)] + [clx.event("own", estimatedCostNanos=5, **big)]
        st, js, raw = s.ingest(key, {"events": evs})
        self.assertEqual(js["inserted"], 5, raw)
        chlib.wait_caught_up(s)
        self.assertEqual([int(x) for x in self.final("count(), sum(cost_nanos)", "model = 'house-llm'")[0]], [5, 5])
        # a workspace price of $2 / $8 per million: 1,000,000 in and 500,000 out cost 2 + 4 = $6
        st, js, raw = s.admin("POST", "workspaces/default/pricing/overrides",
                              {"provider": "openai", "model": "house-llm", "inputPerMtok": "2", "outputPerMtok": "8"})
        self.assertEqual(st, 201, raw)
        st, js, raw = s.admin("POST", "workspaces/default/usage/reprice",
                              {"from": "2000-01-01", "to": "2999-01-01", "dryRun": False})
        self.assertEqual((st, js["applied"]), (200, 4), raw)
        chlib.wait_for("the reprice exported",
                       lambda: (lambda m: m if m["costlynx_export_cursor"] == 9 else None)(chlib.metrics(s)))
        got = self.final("count(), sum(cost_nanos), min(version)", "model = 'house-llm' AND request_id != 'own'")[0]
        self.assertEqual([int(x) for x in got], [4, 4 * 6000000000, 6])
        self.assertEqual(self.final("cost_nanos, version", "request_id = 'own'"), [["5", "5"]])
        self.assert_same_totals(s)


class FieldsTest(unittest.TestCase):
    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def start(self, db):
        s = clx.Server(extra_args=chlib.export_args(CH.url, db, 5000, 50))
        self.servers.append(s)
        return s

    def send_rich(self, s, key, rid, ts):
        ev = clx.event(rid, inputTokens=1000, cachedTokens=100, cacheWriteTokens=50, cacheWrite1hTokens=20,
                       audioInputTokens=40, cachedAudioTokens=10, outputTokens=500, reasoningTokens=200,
                       audioOutputTokens=30, webSearchCalls=2, serviceTier="flex", timestamp=ts, userId="user-1",
                       tags={"team": "search", "env": "x"})
        st, js, raw = s.ingest(key, {"events": [ev]})
        self.assertEqual(js["inserted"], 1, raw)

    def check_rich(self, table, rid, ts_ms):
        r = CH.rows("SELECT event_time_ms, toUnixTimestamp(event_time), user, tag_keys, tag_values, "
                    "reasoning_tokens, cache_write_1h_tokens, audio_input_tokens, audio_output_tokens, "
                    "cached_audio_tokens, service_tier, web_search_calls, received_at_ms > event_time_ms "
                    "FROM %s FINAL WHERE request_id = '%s'" % (table, rid))
        self.assertEqual(r, [[str(ts_ms), str(ts_ms // 1000), "user-1", "['env','team']",
                              "['x','search']", "200", "20", "40", "30", "10", "flex", "2", "1"]])

    def test_issue10_fields(self):
        db = "f_fields"
        CH.query("DROP DATABASE IF EXISTS %s" % db)
        CH.create_schema(db)
        s = self.start(db)
        key = s.create_key()
        ts_ms = (int(time.time()) - 3600) * 1000 + 250  # an hour ago, with milliseconds
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + ".250Z"
        self.send_rich(s, key, "rich-1", ts)
        chlib.wait_caught_up(s)
        self.check_rich("%s.usage_events" % db, "rich-1", ts_ms)
        # a tag query and a user query read it
        self.assertEqual(CH.rows("SELECT tag_values[indexOf(tag_keys, 'team')] AS team, count() FROM %s.usage_events "
                                 "FINAL WHERE has(tag_keys, 'team') GROUP BY team" % db), [["search", "1"]])

    def test_table_of_an_older_costlynxd_gets_the_new_columns(self):
        db = "f_old"
        CH.query("DROP DATABASE IF EXISTS %s" % db)
        CH.query("CREATE DATABASE %s" % db)
        CH.query(OLD_DDL.replace("costlynx.usage_events", db + ".usage_events"))
        # a row an older costlynxd exported (event_time_ms was its arrival)
        CH.query("INSERT INTO %s.usage_events (workspace, request_id, version, received_at, received_at_ms, "
                 "event_time_ms, cost_nanos) VALUES ('default', 'old-1', 1, 1700000000, 1700000000123, "
                 "1700000000123, 42)" % db)
        s = self.start(db)
        key = s.create_key()
        ts_ms = (int(time.time()) - 600) * 1000 + 7
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + ".007Z"
        self.send_rich(s, key, "rich-2", ts)
        chlib.wait_caught_up(s)
        self.check_rich("%s.usage_events" % db, "rich-2", ts_ms)
        self.assertIn("added column event_time to %s.usage_events" % db, s.stderr())
        self.assertIn("added column web_search_calls to %s.usage_events" % db, s.stderr())
        # the older row reads the defaults: its event time from event_time_ms, no tags, tier ""
        self.assertEqual(CH.rows("SELECT toUnixTimestamp(event_time), tag_keys, service_tier, cost_nanos FROM "
                                 "%s.usage_events WHERE request_id = 'old-1'" % db),
                         [["1700000000", "[]", "", "42"]])
        # the columns are the ones a new table has, in the same order
        cols = lambda d: [r[0] for r in CH.rows("SELECT name FROM system.columns WHERE database = '%s' AND "
                                                 "table = 'usage_events'" % d)]
        CH.query("DROP DATABASE IF EXISTS f_new")
        CH.create_schema("f_new")
        self.assertEqual(cols(db), cols("f_new"))
        # a restart finds nothing to add
        s.stop()
        s.start()
        self.send_rich(s, key, "rich-3", ts)
        chlib.wait_caught_up(s)
        self.assertEqual(s.stderr().count("added column event_time"), 1)

    def test_distributed_table_of_an_older_costlynxd_waits_for_the_upgrade(self):
        db = "f_dist"
        CH.query("DROP DATABASE IF EXISTS %s" % db)
        CH.query("CREATE DATABASE %s" % db)
        CH.query(OLD_DDL.replace("costlynx.usage_events", db + ".usage_events_local"))
        CH.query("CREATE TABLE %s.usage_events AS %s.usage_events_local ENGINE = Distributed(test_shard_localhost, "
                 "%s, usage_events_local, cityHash64(workspace, request_id))" % (db, db, db))
        s = clx.Server(extra_args=chlib.export_args(CH.url + "/?insert_distributed_sync=1", db, 5000, 50))
        self.servers.append(s)
        key = s.create_key()
        st, js, raw = s.ingest(key, {"events": [clx.event("d-1", estimatedCostNanos=11)]})
        self.assertEqual(js["inserted"], 1, raw)
        chlib.wait_for("the refusal", lambda: "ctl clickhouse-schema --cluster NAME --upgrade" in s.stderr())
        self.assertIn("the Distributed table %s.usage_events lacks column event_time" % db, s.stderr())
        m = chlib.metrics(s)
        self.assertEqual((m["costlynx_export_failing"], m["costlynx_export_lag_events"]), (1, 1))
        self.assertEqual(s.request("GET", "/readyz")[0], 200)
        # the operator runs the printed statements (here without ON CLUSTER: one node, no ZooKeeper)
        p = subprocess.run([clx.BINARY, "ctl", "clickhouse-schema", "--cluster", "test_shard_localhost",
                            "--database", db, "--upgrade"], capture_output=True, timeout=20, check=True)
        stmts = [x for x in p.stdout.decode().split(";\n") if x.strip()]
        self.assertEqual(len(stmts), 20)
        for st in stmts:
            CH.query(st.replace(" ON CLUSTER test_shard_localhost", ""))
        chlib.wait_caught_up(s)
        self.assertEqual(CH.rows("SELECT request_id, cost_nanos, service_tier FROM %s.usage_events_local FINAL" % db),
                         [["d-1", "11", "standard"]])


if __name__ == "__main__":
    unittest.main()
