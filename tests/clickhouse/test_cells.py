"""Two cells behind a REAL HAProxy (Debian 12's 2.6) running deploy/haproxy/costlynx.cfg as
shipped, both exporting to one REAL clickhouse-server (18.16). Started by this file.

What a platform team would check:
  - keys minted on a cell name it (clx_<cell>_...); a key from before cells keeps working;
  - through the router, REST (HTTP/1.1 and h2c) and gRPC ingestion reach the key's cell, and
    admin / dashboard traffic reaches the workspace's cell; every answer names its cell;
  - each workspace's events are only on its cell (the other cell does not even know it);
  - ClickHouse's fleet totals equal the sum of both cells' own totals, per cell and workspace.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import chlib
from chlib import clx

sys.path.insert(0, os.path.join(chlib.HERE, "..", "grpc"))
import grpc  # noqa: E402
import grpc_stubs  # noqa: E402

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CFG_DIR = os.path.join(clx.SOURCE_DIR, "deploy", "haproxy")
DB = "cells"
CH = None


def setUpModule():
    global CH
    CH = chlib.ClickHouse()


def tearDownModule():
    if CH is not None:
        CH.cleanup()


class Router:
    """haproxy -f <copy of deploy/haproxy/costlynx.cfg> with this test's workspaces.map."""

    def __init__(self, cells, workspaces):
        if not os.path.exists(HAPROXY):
            raise AssertionError("haproxy is not installed: run scripts/deps.sh")
        self.tmp = tempfile.mkdtemp(prefix="clx-router-")
        shutil.copyfile(os.path.join(CFG_DIR, "costlynx.cfg"), os.path.join(self.tmp, "costlynx.cfg"))
        shutil.copyfile(os.path.join(CFG_DIR, "cells.map"), os.path.join(self.tmp, "cells.map"))
        with open(os.path.join(self.tmp, "workspaces.map"), "w") as f:
            f.write("".join("%s %s\n" % kv for kv in workspaces.items()))
        self.http_port, self.grpc_port, self.health_port = chlib.free_port(), chlib.free_port(), chlib.free_port()
        env = dict(os.environ, CLX_ROUTER_HTTP="127.0.0.1:%d" % self.http_port,
                   CLX_ROUTER_GRPC="127.0.0.1:%d" % self.grpc_port,
                   CLX_ROUTER_HEALTH="127.0.0.1:%d" % self.health_port,
                   CLX_ROUTER_SOCKET=os.path.join(self.tmp, "admin.sock"))
        for cell, srv in cells.items():
            env["CLX_CELL_%s_HTTP" % cell.upper()] = "127.0.0.1:%d" % srv.port
            env["CLX_CELL_%s_GRPC" % cell.upper()] = srv.grpc_addr
        check = subprocess.run([HAPROXY, "-c", "-f", os.path.join(self.tmp, "costlynx.cfg")], env=env,
                               capture_output=True, timeout=30)
        assert check.returncode == 0, check.stderr + check.stdout
        self.log = open(os.path.join(self.tmp, "haproxy.log"), "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", os.path.join(self.tmp, "costlynx.cfg")], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        chlib.wait_for("the router", self._up, timeout=30)

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited: %s" % self.logs())
        try:
            status, hdrs, _ = self.request("GET", "/readyz")
            return status == 200
        except OSError:
            return False

    def logs(self):
        with open(os.path.join(self.tmp, "haproxy.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            c.request(method, path, body=clx.to_bytes(body) if body is not None else None, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def admin(self, token, method, path, body=None, cell=None):
        h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        if cell:
            h["X-Costlynx-Cell"] = cell
        status, hdrs, raw = self.request(method, "/api/v1/admin/" + path, body, h)
        return status, hdrs.get("x-costlynx-cell"), json.loads(raw) if raw else None

    def ingest(self, key, events):
        status, hdrs, raw = self.request("POST", "/api/v1/usage/ingest", {"events": events},
                                         {"Content-Type": "application/json", "X-API-Key": key})
        return status, hdrs.get("x-costlynx-cell"), json.loads(raw)

    def runtime(self, command):
        """One command on HAProxy's runtime API (the stats socket); returns its answer."""
        import socket
        with socket.socket(socket.AF_UNIX) as so:
            so.connect(os.path.join(self.tmp, "admin.sock"))
            so.sendall(command.encode() + b"\n")
            out = b""
            while True:
                chunk = so.recv(4096)
                if not chunk:
                    return out.decode()
                out += chunk

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class CellsTest(unittest.TestCase):
    def setUp(self):
        CH.query("DROP DATABASE IF EXISTS %s" % DB)
        CH.create_schema(DB)
        self.token = "adm-cells-test-token"
        export = chlib.export_args(CH.url, DB, 2000, 100)
        # c1 starts as a plain costlynxd (before cells) and mints a key; then becomes cell c1
        self.c1 = clx.Server(admin_token=self.token, grpc=True, extra_args=export)
        self.addCleanup(self.c1.cleanup)
        self.legacy_key = self.c1.create_key(name="from before cells")
        self.c1.stop()
        self.c1.extra_args = export + ["--cell-id", "c1"]
        self.c1.start()
        self.c2 = clx.Server(admin_token=self.token, grpc=True, extra_args=export + ["--cell-id", "c2"])
        self.addCleanup(self.c2.cleanup)
        self.router = Router({"c1": self.c1, "c2": self.c2}, {"default": "c1", "acme": "c1", "beta": "c2"})
        self.addCleanup(self.router.close)

    def test_two_cells_behind_haproxy(self):
        r, tok = self.router, self.token
        self.assertIn(b"costlynxd cell: c1 (new ingestion keys start with clx_c1_)", self.c1.stdout())

        # workspaces: created on the cell the operator names, then found by the map
        for ws, cell in (("acme", "c1"), ("beta", "c2")):
            status, answered, js = r.admin(tok, "POST", "workspaces", {"slug": ws}, cell=cell)
            self.assertEqual((status, answered), (201, cell), js)
            for p in ("p0", "p1", "p2"):
                status, answered, js = r.admin(tok, "POST", "workspaces/%s/projects" % ws, {"slug": p})
                self.assertEqual((status, answered), (201, cell), js)
        keys = {}
        for ws, cell in (("acme", "c1"), ("beta", "c2")):
            status, answered, js = r.admin(tok, "POST", "workspaces/%s/keys" % ws, {"name": "k"})
            self.assertEqual((status, answered), (201, cell))
            self.assertTrue(js["key"].startswith("clx_%s_" % cell), js["key"])
            self.assertEqual(len(js["key"]), len("clx_%s_" % cell) + 40)
            keys[ws] = js["key"]
        self.assertRegex(self.legacy_key, r"^clx_[0-9A-Za-z]{40}$")

        # each workspace lives on its cell only: the other cell does not know it
        self.assertEqual(self.c2.admin("GET", "workspaces/acme")[0], 404)
        self.assertEqual(self.c1.admin("GET", "workspaces/beta")[0], 404)
        # and a key works only on its own cell (direct, around the router)
        self.assertEqual(self.c1.ingest(keys["beta"], chlib.make_event("x", 1))[0], 401)

        # REST through the router: each key's events go to its cell
        n = 3000
        for ws, cell in (("acme", "c1"), ("beta", "c2")):
            for lo in range(0, n, 100):
                status, answered, js = r.ingest(keys[ws], [chlib.make_event(ws, i) for i in range(lo, lo + 100)])
                self.assertEqual((status, answered, js["inserted"]), (200, cell, 100), js)
        # a key from before cells still works, through the router too (it goes to c1)
        status, answered, js = r.ingest(self.legacy_key, [chlib.make_event("legacy", i) for i in range(50)])
        self.assertEqual((status, answered, js["inserted"]), (200, "c1", 50))
        # a key naming no known cell: the first cell answers 401
        status, answered, js = r.ingest("clx_c9_" + "A" * 40, [chlib.make_event("x", 1)])
        self.assertEqual((status, answered), (401, "c1"))

        # h2c (prior knowledge) through the router, as costlynxd itself accepts it
        rc, out, err = clx.curl(["-s", "--http2-prior-knowledge", "-D", "-", "-H", "Content-Type: application/json",
                                 "-H", "X-API-Key: " + keys["beta"], "--data-binary",
                                 json.dumps(chlib.make_event("beta-h2", 0)),
                                 "http://127.0.0.1:%d/api/v1/usage/ingest" % r.http_port])
        self.assertEqual(rc, 0, err)
        status, version, hdrs = clx.parse_header_dump(out.decode().split("\r\n\r\n")[0] + "\r\n\r\n")
        self.assertEqual((status, version, hdrs.get("x-costlynx-cell")), (200, "2", "c2"))

        # gRPC (h2c) through the router by the x-api-key metadata
        S = grpc_stubs.load()
        with grpc.insecure_channel("127.0.0.1:%d" % r.grpc_port) as ch:
            stub = S.usage_pb2_grpc.UsageIngestionStub(ch)
            for ws, cell in (("acme", "c1"), ("beta", "c2")):
                evs = [S.usage_pb2.UsageEvent(provider="openai", model="gpt-4o-mini", input_tokens=100 + i,
                                              output_tokens=7, request_id="%s-grpc-%d" % (ws, i), project="p1")
                       for i in range(100)]
                resp, call = stub.Ingest.with_call(S.usage_pb2.IngestBatch(events=evs),
                                                   metadata=(("x-api-key", keys[ws]),), timeout=30)
                self.assertEqual((resp.ok, resp.inserted), (True, 100))
                self.assertIn(("x-costlynx-cell", cell), call.initial_metadata())
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Ingest(S.usage_pb2.IngestBatch(events=evs), metadata=(("x-api-key", "clx_c2_nope"),), timeout=30)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

        # admin / dashboard reads through the router come from the workspace's cell
        for ws, cell, want in (("acme", "c1", n + 100), ("beta", "c2", n + 101)):
            status, answered, js = r.admin(tok, "GET", "workspaces/%s/usage/overview?from=2000-01-01&to=2100-01-01"
                                           % ws)
            self.assertEqual((status, answered, js["totals"]["events"]), (200, cell, want))
        status, answered, _ = r.admin(tok, "GET", "workspaces/nowhere/usage/overview")
        self.assertEqual((status, answered), (404, "c1"))
        # a workspace created while the router runs: one line in the live map, no restart
        status, answered, _ = r.admin(tok, "POST", "workspaces", {"slug": "gamma"}, cell="c2")
        self.assertEqual((status, answered), (201, "c2"))
        self.assertEqual(r.admin(tok, "GET", "workspaces/gamma")[:2], (404, "c1"))  # not mapped yet
        self.assertEqual(r.runtime("add map workspaces.map gamma c2").strip(), "")
        self.assertEqual(r.admin(tok, "GET", "workspaces/gamma")[:2], (200, "c2"))
        # the router's own health answer, whatever the cells do
        c = http.client.HTTPConnection("127.0.0.1", r.health_port, timeout=10)
        c.request("GET", "/healthz")
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        # the dashboard page itself is served (by the first cell)
        status, hdrs, raw = r.request("GET", "/")
        self.assertEqual((status, hdrs.get("x-costlynx-cell")), (200, "c1"))

        # each cell has only its own workspaces' events
        self.assertEqual(chlib.costlynx_totals(self.c1, "acme")[0], n + 100)
        self.assertEqual(chlib.costlynx_totals(self.c1, "default")[0], 50)
        self.assertEqual(chlib.costlynx_totals(self.c2, "beta")[0], n + 101)
        self.assertEqual(chlib.costlynx_totals(self.c2, "default")[0], 0)

        # ClickHouse: one fleet, and it equals the sum of the cells' own totals
        chlib.wait_caught_up(self.c1)
        chlib.wait_caught_up(self.c2)
        own = {("c1", "acme"): chlib.costlynx_totals(self.c1, "acme"),
               ("c1", "default"): chlib.costlynx_totals(self.c1, "default"),
               ("c2", "beta"): chlib.costlynx_totals(self.c2, "beta")}
        got = {(row[0], row[1]): tuple(int(x) for x in row[2:]) for row in CH.rows(
            "SELECT cell, workspace, count(), sum(cost_nanos), sum(input_tokens), sum(output_tokens) "
            "FROM %s.usage_events FINAL WHERE voided = 0 GROUP BY cell, workspace" % DB)}
        self.assertEqual(got, own)
        fleet = chlib.clickhouse_totals(CH, DB + ".usage_events")
        self.assertEqual(fleet, tuple(sum(t[i] for t in own.values()) for i in range(4)))
        # no workspace on two cells
        self.assertEqual(CH.rows("SELECT workspace FROM %s.usage_events GROUP BY workspace HAVING uniqExact(cell) > 1"
                                 % DB), [])


if __name__ == "__main__":
    unittest.main()
