"""ClickHouse export against a REAL clickhouse-server (Debian 12's 18.16) started by this file.

One server for the whole file (setUpModule); each test has its own database and its own
costlynxd (real binary, loopback ports, temp folder). What a user would check:
  - rows and sums in ClickHouse equal costlynx's own (usage API, read-back) after 100k events;
  - ClickHouse killed (SIGKILL) and restarted during a load: ingestion never notices, the
    lag and the errors show on /metrics, nothing is lost, nothing is counted twice;
  - costlynxd killed (SIGKILL) while an INSERT is unconfirmed: the restart sends the very
    same bytes again, and FINAL counts every event once;
  - a missing table: errors visible, export resumes once the table exists;
  - off by default; bad settings refused at start.
Long versions (1M events, repeated kills): scripts/clickhouse-long.sh.
"""
import os
import re
import subprocess
import time
import unittest
import urllib.parse

import chlib
from chlib import clx

CH = None


def setUpModule():
    global CH
    CH = chlib.ClickHouse()


def tearDownModule():
    if CH is not None:
        CH.cleanup()


class ExportTest(unittest.TestCase):
    db = None

    def setUp(self):
        # one database per test: tests never see each other's rows
        self.db = "t_" + self.id().rsplit(".", 1)[1][5:45]
        CH.query("DROP DATABASE IF EXISTS %s" % self.db)
        self.table = "%s.usage_events" % self.db
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def start(self, *extra, url=None, batch_rows=5000, interval_ms=100):
        s = clx.Server(extra_args=chlib.export_args(url or CH.url, self.db, batch_rows, interval_ms, extra))
        self.servers.append(s)
        return s

    def assert_same_totals(self, server, ws="default"):
        """ClickHouse (FINAL, not voided) equals costlynx's usage API: totals, by project, by model."""
        want = chlib.costlynx_totals(server, ws)
        got = chlib.clickhouse_totals(CH, self.table, "workspace = '%s'" % ws)
        self.assertEqual(got, want, "ClickHouse (events, cost, input, output) vs costlynx's overview")
        for dim, col in (("project", "project"), ("model", "model")):
            want_by = chlib.costlynx_by(server, dim, ws)
            got_by = {r[0]: (int(r[1]), int(r[2])) for r in CH.rows(
                "SELECT %s, count(), sum(cost_nanos) FROM %s FINAL WHERE voided = 0 AND workspace = '%s' "
                "GROUP BY %s" % (col, self.table, ws, col))}
            self.assertEqual(got_by, want_by, "grouped by %s" % dim)
        return want

    def assert_no_duplicates(self, expect):
        """FINAL has each (workspace, request_id) once; after OPTIMIZE FINAL so does the raw table."""
        final = int(CH.scalar("SELECT count() FROM %s FINAL" % self.table))
        distinct = int(CH.scalar("SELECT uniqExact(workspace, request_id) FROM %s" % self.table))
        self.assertEqual(final, expect)
        self.assertEqual(distinct, expect)
        CH.query("OPTIMIZE TABLE %s FINAL" % self.table)
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s" % self.table)), expect)

    # ---- the cases -------------------------------------------------------------------------------

    def test_totals_equal_costlynx_after_100k_events(self):
        CH.create_schema(self.db)
        s = self.start()
        key = chlib.setup_workspace(s)
        n = chlib.EVENTS
        # every 10th batch is sent twice: the repeats are skipped by costlynx and must not
        # reach ClickHouse twice either
        inserted, skipped = chlib.send_events(s, key, "tot", 0, n, repeat_every=10)
        self.assertEqual(inserted, n)
        self.assertGreater(skipped, 0)
        m = chlib.wait_caught_up(s)
        self.assertEqual(m["costlynx_export_rows_total"], n)
        self.assertEqual(m["costlynx_export_cursor"], n)
        self.assertEqual(m["costlynx_export_errors_total"], 0)
        self.assertEqual(m["costlynx_export_lag_seconds"], 0)
        self.assertGreater(m["costlynx_export_last_success_timestamp_seconds"], time.time() - 3600)
        totals = self.assert_same_totals(s)
        self.assertEqual(totals[0], n)
        # nothing was re-sent: the raw table has exactly one row per event already
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s" % self.table)), n)
        self.assert_no_duplicates(n)

        # a few events field by field against costlynx's read-back API
        for i in (0, 1, 2, 12, 13, n // 2, n - 1):
            rid = "tot-%d" % i
            ev = s.get_event(rid)
            row = CH.rows("SELECT provider, model, project, feature, input_tokens, output_tokens, cached_tokens, "
                          "cost_nanos, cost_source, price_id, cell, voided, received_at_ms, key_id FROM %s FINAL "
                          "WHERE workspace = 'default' AND request_id = '%s'" % (self.table, rid))
            self.assertEqual(len(row), 1, rid)
            r = row[0]
            self.assertEqual(r[0], ev["provider"])
            self.assertEqual(r[1], ev["model"])
            self.assertEqual(r[2], ev.get("project") or "")
            self.assertEqual(r[3], ev.get("feature") or "")
            self.assertEqual(int(r[4]), ev["inputTokens"])
            self.assertEqual(int(r[5]), ev["outputTokens"])
            self.assertEqual(int(r[6]), ev.get("cachedTokens", 0))
            if ev.get("costUsd") is not None:
                from decimal import Decimal
                self.assertEqual(int(r[7]), int(Decimal(ev["costUsd"]) * 10 ** 9), rid)
            else:
                self.assertEqual(int(r[7]), 0, rid)
                self.assertEqual(r[8], "none", rid)
            self.assertEqual(r[10], "")  # no --cell-id
            self.assertEqual(r[11], "0")

    def test_clickhouse_killed_and_restarted_during_load(self):
        CH.create_schema(self.db)
        s = self.start(batch_rows=2000)
        key = chlib.setup_workspace(s)
        n = max(chlib.EVENTS // 2, 20000)
        expected = 0
        for cycle in range(chlib.CYCLES):
            load = chlib.Load(s, key, "ck%d" % cycle, n)
            load.start()
            # some rows in, then ClickHouse dies mid-load
            chlib.wait_for("a first confirmed INSERT",
                           lambda: chlib.metrics(s)["costlynx_export_rows_total"] > expected)
            CH.kill()
            try:
                # ingestion does not notice (these go in while ClickHouse is surely down)...
                inserted, _ = chlib.send_events(s, key, "ck%d-down" % cycle, 0, 2000)
                self.assertEqual(inserted, 2000)
                status, _, body = s.request("GET", "/readyz")
                self.assertEqual((status, body), (200, b'{"ok":true,"ready":true}'))
                # ...and the exporter says what is wrong
                m = chlib.wait_for("errors on /metrics", lambda: (lambda m: m if m["costlynx_export_failing"] == 1
                                                                   and m["costlynx_export_errors_total"] > 0
                                                                   and m["costlynx_export_lag_events"] > 0
                                                                   else None)(chlib.metrics(s)))
                self.assertGreater(m["costlynx_export_lag_seconds"], 0)
                self.assertIn("retrying with backoff, nothing is dropped", s.stderr())
                load.join(300)  # the rest of the load goes in while ClickHouse is down
                self.assertFalse(load.is_alive())
                load.stop()
                self.assertEqual(load.inserted, n)
                self.assertGreaterEqual(chlib.metrics(s)["costlynx_export_lag_events"], 2000)
            finally:
                CH.start()
            expected += n + 2000
            m = chlib.wait_caught_up(s)
            self.assertEqual(m["costlynx_export_cursor"], expected)
            self.assert_same_totals(s)
            self.assert_no_duplicates(expected)

    def test_costlynxd_killed_while_an_insert_is_unconfirmed(self):
        CH.create_schema(self.db)
        proxy = chlib.Proxy(CH.http_port)
        self.addCleanup(proxy.close)
        s = self.start(url=proxy.url, batch_rows=1000, interval_ms=50)
        key = chlib.setup_workspace(s)
        n = max(chlib.EVENTS // 5, 10000)
        held_bodies = []
        for cycle in range(chlib.CYCLES):
            # an INSERT of the events sent now reaches ClickHouse, but its answer never comes back
            proxy.hold(proxy.count() + 1 + cycle % 3)
            inserted, _ = chlib.send_events(s, key, "k9c%d" % cycle, 0, n if cycle == 0 else 5000)
            self.assertEqual(inserted, n if cycle == 0 else 5000)
            if not proxy.held.wait(120):
                self.fail("no INSERT to hold (proxy saw %d)" % proxy.count())
            held_path, held_body = proxy.body(proxy.count() - 1)
            s.kill9()
            proxy.release()
            before = proxy.count()
            s.start()
            chlib.wait_caught_up(s)
            # the first INSERT after the restart is the unconfirmed one, byte for byte
            self.assertGreater(proxy.count(), before)
            path, body = proxy.body(before)
            self.assertEqual(path, held_path)
            self.assertEqual(body, held_body, "the re-sent batch differs from the unconfirmed one")
            held_bodies.append(held_body)
        total = n + 5000 * (chlib.CYCLES - 1)
        # ClickHouse stored each held batch twice (18.16's plain MergeTree has no block dedup;
        # a merge may have folded them already), and FINAL counts every event once
        for hb in held_bodies:
            self.assertEqual(sum(1 for i in range(proxy.count()) if proxy.body(i)[1] == hb), 2)
        self.assert_same_totals(s)
        self.assert_no_duplicates(total)
        self.assertIn("re-sending the unconfirmed batch first", s.stderr())

    def test_missing_table_then_created(self):
        s = self.start(batch_rows=1000)
        key = chlib.setup_workspace(s)
        chlib.send_events(s, key, "mt", 0, 3000)
        m = chlib.wait_for("export errors", lambda: (lambda m: m if m["costlynx_export_errors_total"] >= 2
                                                      else None)(chlib.metrics(s)))
        self.assertEqual(m["costlynx_export_failing"], 1)
        self.assertEqual(m["costlynx_export_lag_events"], 3000)
        self.assertEqual(m["costlynx_export_rows_total"], 0)
        # ClickHouse's own words reach the log (the database does not exist yet)
        self.assertRegex(s.stderr(), r"INSERT of \d+ rows \(seq 1\.\.\d+\) failed: HTTP 404: Code: 81, "
                                     r"e.displayText\(\) = DB::Exception: Database %s doesn't exist" % self.db)
        status, _, _ = s.request("GET", "/readyz")
        self.assertEqual(status, 200)
        CH.create_schema(self.db)
        m = chlib.wait_caught_up(s)
        self.assertEqual(m["costlynx_export_rows_total"], 3000)
        self.assert_same_totals(s)
        self.assertIn("ClickHouse accepts inserts again", s.stderr())

    def test_cursor_survives_clean_restarts_and_a_new_destination_starts_over(self):
        CH.create_schema(self.db)
        s = self.start(batch_rows=700)
        key = chlib.setup_workspace(s)
        chlib.send_events(s, key, "rs", 0, 2000)
        chlib.wait_caught_up(s)
        s.restart()
        chlib.send_events(s, key, "rs", 2000, 1000)
        m = chlib.wait_caught_up(s)
        self.assertEqual(m["costlynx_export_rows_total"], 1000)  # only the new ones after a restart
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s" % self.table)), 3000)
        # another table is another destination: it gets everything from the start
        other = self.db + "_b"
        CH.query("DROP DATABASE IF EXISTS %s" % other)
        CH.create_schema(other)
        self.addCleanup(CH.query, "DROP DATABASE IF EXISTS %s" % other)
        s.stop()
        s.extra_args = chlib.export_args(CH.url, other, 700, 100)
        s.start()
        m = chlib.wait_caught_up(s)
        self.assertEqual(m["costlynx_export_rows_total"], 3000)
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s.usage_events FINAL" % other)), 3000)

    def test_basic_auth_user_and_password(self):
        # a user with a password, from the environment (the Helm chart passes it from a Secret)
        CH.create_schema(self.db)
        s = clx.Server(extra_args=chlib.export_args(CH.url, self.db, extra=["--clickhouse-user", "default"]),
                       env=dict(os.environ, COSTLYNX_CLICKHOUSE_PASSWORD="pw-3f9a-not-it"))
        self.servers.append(s)
        key = chlib.setup_workspace(s)
        chlib.send_events(s, key, "au", 0, 100)
        chlib.wait_for("an authentication error", lambda: "Code: 193" in s.stderr())
        self.assertIn("Wrong password for user default", s.stderr())
        self.assertEqual(chlib.metrics(s)["costlynx_export_failing"], 1, s.stderr())
        self.assertNotIn("pw-3f9a", s.stderr())  # the password is never logged
        s.stop()
        s.env = dict(os.environ, COSTLYNX_CLICKHOUSE_PASSWORD="")
        s.start()
        chlib.wait_caught_up(s)
        self.assertEqual(int(CH.scalar("SELECT count() FROM %s FINAL" % self.table)), 100)

    def test_off_by_default_and_bad_settings_refused(self):
        s = clx.Server()
        self.servers.append(s)
        status, _, raw = s.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertNotIn(b"costlynx_export", raw)
        self.assertNotIn("[export]", s.stderr())
        for args, why in (
                (["--clickhouse-url", "ftp://x"], "--clickhouse-url"),
                (["--clickhouse-url", CH.url, "--clickhouse-database", "a-b"], "--clickhouse-database"),
                (["--clickhouse-url", CH.url, "--clickhouse-table", "t;drop"], "--clickhouse-table"),
                (["--clickhouse-url", CH.url, "--clickhouse-batch-rows", "0"], "--clickhouse-batch-rows"),
                (["--cell-id", "C1"], "--cell-id"),
                (["--cell-id", "c_1"], "--cell-id"),
                (["--cell-id", "1c"], "--cell-id")):
            p = subprocess.run([clx.BINARY, "--data-dir", os.path.join(s.tmp, "x"), "--http-addr", "127.0.0.1:0",
                                "--grpc-addr", "127.0.0.1:0"] + args, capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(("invalid value '%s' for %s" % (args[-1], why)).encode(), p.stderr)


def doc_queries():
    """{name: sql} of every ```sql block of docs/clickhouse.md (each starts with "-- name: X")."""
    with open(os.path.join(clx.SOURCE_DIR, "docs", "clickhouse.md")) as f:
        text = f.read()
    out = {}
    for block in re.findall(r"```sql\n(.*?)```", text, re.S):
        m = re.match(r"-- name: (\w+)\n", block)
        assert m, "a sql block without '-- name:' in docs/clickhouse.md:\n" + block
        out[m.group(1)] = block
    return out


class DocsTest(unittest.TestCase):
    """docs/clickhouse.md's DDL is what ctl prints, and every query in it runs on 18.16 and
    agrees with costlynx's own usage API."""

    def test_ddl_in_docs_is_what_ctl_prints(self):
        with open(os.path.join(clx.SOURCE_DIR, "docs", "clickhouse.md")) as f:
            text = f.read()
        block = text.split("`costlynxd ctl clickhouse-schema` (single node):\n\n```\n", 1)[1].split("```", 1)[0]
        p = subprocess.run([clx.BINARY, "ctl", "clickhouse-schema"], capture_output=True, timeout=20,
                           env={"PATH": os.environ.get("PATH", "")})
        self.assertEqual(block, p.stdout.decode())

    def test_queries_in_docs(self):
        CH.query("DROP DATABASE IF EXISTS costlynx")
        CH.create_schema("costlynx")
        s = clx.Server(extra_args=chlib.export_args(CH.url, "costlynx", 5000, 100))
        self.addCleanup(s.cleanup)
        key = chlib.setup_workspace(s)
        status, _, raw = s.admin("PATCH", "workspaces/default", {"tagDimensions": ["team"]})
        self.assertEqual(status, 200, raw)
        chlib.send_events(s, key, "docs", 0, 20000, repeat_every=7)
        chlib.wait_caught_up(s)
        q = doc_queries()
        self.assertEqual(sorted(q), ["fleet_by_cell", "newest_per_cell", "spend_by_hour", "spend_by_model",
                                     "spend_by_project_day", "spend_by_project_day_argmax", "spend_by_tag",
                                     "top_users", "top_users_argmax", "workspaces_on_two_cells"])
        res = {name: CH.rows(sql) for name, sql in q.items()}
        # spend by project and day: FINAL, argMax and costlynx's costs API agree to the nano-dollar
        from decimal import Decimal
        want = {}
        status, js, raw = s.admin("GET", "workspaces/default/usage/costs?groupBy=project,day&from=2000-01-01"
                                         "&to=2100-01-01")
        self.assertEqual(status, 200, raw)
        for r in js["rows"]:
            want[(r["project"] or "", r["day"][:10])] = (r["events"], int(Decimal(r["costUsd"]) * 10 ** 9))
        for name in ("spend_by_project_day", "spend_by_project_day_argmax"):
            got = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in res[name]}
            self.assertEqual(got, want, name)
            for r in res[name]:  # the exact dollars column
                self.assertEqual(Decimal(r[4]) * 10 ** 9, int(r[3]))
        self.assertEqual(res["spend_by_project_day"], res["spend_by_project_day_argmax"])
        by_model = chlib.costlynx_by(s, "model")
        self.assertEqual({r[1]: (int(r[2]), int(r[5])) for r in res["spend_by_model"]}, by_model)
        # issue 10: users, a tag, event time — against costlynx's own groupings
        def costs(group):
            status, js, raw = s.admin("GET", "workspaces/default/usage/costs?groupBy=%s&from=2000-01-01"
                                             "&to=2100-01-01&limit=1000" % group)
            self.assertEqual(status, 200, raw)
            return js["rows"]
        users = sorted(((r["user"], r["events"], int(Decimal(r["costUsd"]) * 10 ** 9)) for r in costs("user")),
                       key=lambda x: (-x[2], x[0]))[:10]
        self.assertEqual(len(users), 10)
        self.assertEqual([(r[0], int(r[1]), int(r[2])) for r in res["top_users"]], users)
        self.assertEqual(res["top_users_argmax"], res["top_users"])
        self.assertEqual({r[0]: (int(r[1]), int(r[2])) for r in res["spend_by_tag"]},
                         {r["tag:team"]: (r["events"], int(Decimal(r["costUsd"]) * 10 ** 9))
                          for r in costs("tag:team")})
        hours = {re.sub(r"\D", "", r["hour"])[:10]: (r["events"], int(Decimal(r["costUsd"]) * 10 ** 9))
                 for r in costs("hour")}
        got = {re.sub(r"\D", "", r[0])[:10]: (int(r[1]), int(r[2])) for r in res["spend_by_hour"]}
        self.assertEqual(got, hours)
        self.assertGreater(len(got), 24)  # a third of the events happened up to 72 hours back
        self.assertEqual(res["workspaces_on_two_cells"], [])
        total = chlib.costlynx_totals(s)
        self.assertEqual([[r[0], r[1], int(r[2]), int(r[3])] for r in res["fleet_by_cell"]],
                         [["", "default", total[0], total[1]]])
        self.assertEqual(len(res["newest_per_cell"]), 1)


class SchemaTest(unittest.TestCase):
    def test_single_node_schema_is_idempotent(self):
        db = "t_schema"
        CH.query("DROP DATABASE IF EXISTS %s" % db)
        CH.create_schema(db)
        CH.create_schema(db)  # IF NOT EXISTS: running it again is harmless
        cols = CH.rows("SELECT name, type FROM system.columns WHERE database = '%s' AND table = 'usage_events'" % db)
        types = dict((c[0], c[1]) for c in cols)
        self.assertEqual(types["cost_nanos"], "Int64")
        self.assertEqual(types["received_at"], "DateTime")
        self.assertEqual(types["version"], "UInt64")
        self.assertNotIn("Float64", types.values())
        engine = CH.scalar("SELECT engine FROM system.tables WHERE database = '%s' AND name = 'usage_events'" % db)
        self.assertEqual(engine, "ReplacingMergeTree")

    def test_cluster_schema_is_valid_sql(self):
        # 18.16 without ZooKeeper cannot create replicated tables or run ON CLUSTER, but it parses
        # the statements first: the answer must be about ZooKeeper / DDL / macros, never syntax
        sts = chlib.schema_statements("t_cluster", cluster="test_shard_localhost")
        self.assertEqual(len(sts), 3)
        self.assertIn("ReplicatedReplacingMergeTree", sts[1])
        self.assertIn("Distributed(test_shard_localhost, t_cluster, usage_events_local", sts[2])
        for st in sts:
            try:
                CH.query(st)
            except chlib.QueryError as e:
                self.assertNotIn("Syntax error", e.text)
        # without ON CLUSTER the Distributed table is created for real over a plain local table
        CH.query("CREATE DATABASE IF NOT EXISTS t_cluster")
        local = chlib.schema_statements("t_cluster")[1].replace("t_cluster.usage_events\n",
                                                                "t_cluster.usage_events_local\n")
        CH.query(local)
        CH.query(sts[2].replace(" ON CLUSTER test_shard_localhost", ""))
        engine = CH.scalar("SELECT engine FROM system.tables WHERE database = 't_cluster' AND name = 'usage_events'")
        self.assertEqual(engine, "Distributed")

    def test_schema_flags(self):
        p = subprocess.run([clx.BINARY, "ctl", "clickhouse-schema", "--table", "x-y"], capture_output=True,
                           timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"'x-y' is not a plain identifier", p.stderr)
        env = dict(os.environ, COSTLYNX_CLICKHOUSE_DATABASE="analytics", COSTLYNX_CLICKHOUSE_TABLE="llm_usage")
        p = subprocess.run([clx.BINARY, "ctl", "clickhouse-schema"], capture_output=True, timeout=20, env=env)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"CREATE TABLE IF NOT EXISTS analytics.llm_usage\n", p.stdout)


if __name__ == "__main__":
    unittest.main()
