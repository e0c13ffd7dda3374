"""
chlib.py — helpers for the ClickHouse export and cell tests: a REAL clickhouse-server (Debian
12's 18.16, from scripts/deps.sh) started unprivileged on free loopback ports with a temporary
folder, the export table made from `costlynxd ctl clickhouse-schema`, and waits on costlynxd's
/metrics. A ClickHouse start costs seconds: each test file shares one server (setUpModule)
and gives each test its own database.

Sizes follow the environment so that scripts/clickhouse-long.sh can run the long versions:
CLX_CH_EVENTS (events of the load tests, default 100000), CLX_CH_CYCLES (kill cycles, 1).

Standard library only.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import clx  # noqa: E402  (the costlynxd process helpers)

EVENTS = int(os.environ.get("CLX_CH_EVENTS", "100000"))
CYCLES = int(os.environ.get("CLX_CH_CYCLES", "1"))
SERVER = shutil.which("clickhouse-server") or "/usr/bin/clickhouse-server"
CONFIG = "/etc/clickhouse-server/config.xml"
WAIT = float(os.environ.get("CLX_CH_WAIT", "180"))  # bound on every wait for the export to catch up


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ClickHouse:
    """One clickhouse-server over a folder that survives kill() + start()."""

    def __init__(self):
        if not os.path.exists(SERVER):
            raise AssertionError("clickhouse-server is not installed: run scripts/deps.sh")
        self.tmp = tempfile.mkdtemp(prefix="clx-ch-")
        self.http_port, self.tcp_port, self.inter_port = free_port(), free_port(), free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def start(self, timeout=60.0):
        d = self.tmp
        args = [SERVER, "--config-file=" + CONFIG, "--",
                "--path=%s/" % d, "--tmp_path=%s/tmp/" % d, "--logger.log=%s/log" % d,
                "--logger.errorlog=%s/err" % d, "--http_port=%d" % self.http_port,
                "--tcp_port=%d" % self.tcp_port, "--interserver_http_port=%d" % self.inter_port,
                "--listen_host=127.0.0.1"]
        self.out = open(os.path.join(d, "stdout"), "ab")
        self.proc = subprocess.Popen(args, cwd=d, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.query("SELECT 1").strip() == "1":
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError("clickhouse-server exited with %s; log tail:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise AssertionError("clickhouse-server not answering after %.0fs; log tail:\n%s"
                                     % (timeout, self.log_tail()))
            time.sleep(0.1)

    def log_tail(self):
        out = ""
        for name in ("err", "stdout"):
            p = os.path.join(self.tmp, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out += f.read()[-3000:].decode("utf-8", "replace")
        return out

    def kill(self):
        """SIGKILL: no flush, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.out.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def query(self, sql, timeout=60):
        """The answer's text (TSV) of one statement; raises with ClickHouse's message on an error."""
        req = urllib.request.Request(self.url + "/", data=sql.encode("utf-8"), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            raise QueryError(e.code, e.read().decode("utf-8", "replace"), sql) from None

    def rows(self, sql):
        """The answer as a list of rows (lists of strings)."""
        text = self.query(sql + " FORMAT TSV")
        return [line.split("\t") for line in text.splitlines()]

    def scalar(self, sql):
        return self.rows(sql)[0][0]

    def create_schema(self, database, cluster=None):
        """Runs every statement `costlynxd ctl clickhouse-schema` prints."""
        for st in schema_statements(database, cluster):
            self.query(st)


class QueryError(Exception):
    def __init__(self, status, text, sql):
        super().__init__("HTTP %d from ClickHouse: %s\nquery: %s" % (status, text.strip(), sql[:300]))
        self.status, self.text = status, text


def schema_statements(database, cluster=None):
    args = [clx.BINARY, "ctl", "clickhouse-schema", "--database", database]
    if cluster:
        args += ["--cluster", cluster]
    p = subprocess.run(args, capture_output=True, timeout=20, env={"PATH": os.environ.get("PATH", "")})
    if p.returncode != 0:
        raise AssertionError("ctl clickhouse-schema failed: %r" % p.stderr)
    return [s.strip() for s in p.stdout.decode().split(";\n") if s.strip()]


# ---- costlynxd ---------------------------------------------------------------------------------

def export_args(ch_url, database, batch_rows=5000, interval_ms=100, extra=()):
    return ["--clickhouse-url", ch_url, "--clickhouse-database", database,
            "--clickhouse-batch-rows", str(batch_rows), "--clickhouse-interval-ms", str(interval_ms)] + list(extra)


def metrics(server):
    """{name: value} of the export metrics (labels dropped), from GET /metrics."""
    status, _, raw = server.request("GET", "/metrics")
    assert status == 200, (status, raw[:300])
    out = {}
    for line in raw.decode().splitlines():
        m = re.match(r"^(costlynx_export_\w+)(?:\{[^}]*\})? (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def wait_for(what, check, timeout=WAIT, interval=0.1):
    """Polls check() until it returns a true value (returned); fails with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


def wait_caught_up(server, timeout=WAIT):
    """Until the exporter reports no lag and no failure; returns the metrics."""
    def ok():
        m = metrics(server)
        return m if m.get("costlynx_export_lag_events") == 0 and m.get("costlynx_export_failing") == 0 else None
    return wait_for("the export to catch up", ok, timeout)


# ---- load ------------------------------------------------------------------------------------------

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("anthropic", "claude-3-5-haiku-20241022"),
          ("google", "gemini-2.0-flash"), ("openai", "mystery-model")]


# the event times of make_event: fixed for the process, so a re-sent event is the same event
BASE_MS = (int(time.time()) // 3600 - 1) * 3600 * 1000


def make_event(prefix, i):
    """A deterministic, varied event: several models (one unpriced), projects, features, sizes."""
    provider, model = MODELS[i % len(MODELS)]
    ev = {"provider": provider, "model": model, "inputTokens": 100 + (i * 37) % 5000,
          "outputTokens": 10 + (i * 11) % 700, "requestId": "%s-%d" % (prefix, i),
          "feature": "f%d" % (i % 7)}
    if i % 3 != 2:
        ev["project"] = "p%d" % (i % 3)
    if i % 13 == 0:
        ev["estimatedCostUsd"] = 0.000123
    if i % 17 == 0 and ev["inputTokens"] > 50:
        ev["cachedTokens"] = 50
    # issue 10: most events name a user, half a team tag, a third happened hours before arrival
    if i % 4 != 3:
        ev["userId"] = "u%d" % (i % 23)
    if i % 2 == 0:
        ev["tags"] = {"team": "t%d" % (i % 5), "run": str(i % 3)}
    if i % 3 == 0:
        ms = BASE_MS - (i % 72) * 3600000 - i % 1000
        ev["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
    return ev


def send_events(server, key, prefix, start, count, batch=100, repeat_every=0):
    """POSTs events start..start+count-1 in batches (REST). Every repeat_every-th batch is sent
    twice (the repeat must be skipped). Returns (inserted, skipped). Retries 503s."""
    inserted = skipped = 0
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for b, lo in enumerate(range(start, start + count, batch)):
            body = json.dumps({"events": [make_event(prefix, i) for i in range(lo, min(lo + batch, start + count))]})
            sends = 2 if repeat_every and b % repeat_every == 0 else 1
            for _ in range(sends):
                while True:
                    conn.request("POST", "/api/v1/usage/ingest", body=body,
                                 headers={"Content-Type": "application/json", "X-API-Key": key})
                    r = conn.getresponse()
                    raw = r.read()
                    if r.status == 503:
                        time.sleep(0.05)
                        continue
                    assert r.status == 200, (r.status, raw[:300])
                    js = json.loads(raw)
                    inserted += js["inserted"]
                    skipped += js["skipped"]
                    break
    finally:
        conn.close()
    return inserted, skipped


def setup_workspace(server, ws="default"):
    """Projects p0..p2 in ws and an ingestion key; returns the key."""
    if ws != "default":
        server.create_workspace(ws)
    for p in ("p0", "p1", "p2"):
        server.create_project(p, ws=ws)
    return server.create_key(ws=ws)


def costlynx_totals(server, ws="default"):
    """(events, cost_nanos, input, output) from costlynx's own usage API (rollups)."""
    from decimal import Decimal
    status, js, raw = server.admin("GET", "workspaces/%s/usage/overview?from=2000-01-01&to=2100-01-01" % ws)
    assert status == 200, raw[:300]
    t = js["totals"]
    return (t["events"], int(Decimal(t["costUsd"]) * 10 ** 9), t["inputTokens"], t["outputTokens"])


def costlynx_by(server, dim, ws="default"):
    """{value: (events, cost_nanos)} of the costs API grouped by dim (null -> "")."""
    from decimal import Decimal
    status, js, raw = server.admin("GET", "workspaces/%s/usage/costs?groupBy=%s&from=2000-01-01&to=2100-01-01"
                                   % (ws, dim))
    assert status == 200, raw[:300]
    return {(r[dim] or ""): (r["events"], int(Decimal(r["costUsd"]) * 10 ** 9)) for r in js["rows"]}


def clickhouse_totals(ch, table, where="1"):
    """(events, cost_nanos, input, output) of the current versions (FINAL, not voided)."""
    r = ch.rows("SELECT count(), sum(cost_nanos), sum(input_tokens), sum(output_tokens) FROM %s FINAL "
                "WHERE voided = 0 AND %s" % (table, where))[0]
    return tuple(int(x) for x in r)


class Load(threading.Thread):
    """Sends events in the background until stop() (or count reached); counts what was inserted."""

    def __init__(self, server, key, prefix, count, batch=100):
        super().__init__(daemon=True)
        self.server, self.key, self.prefix, self.count, self.batch = server, key, prefix, count, batch
        self.sent = 0
        self.inserted = 0
        self.error = None
        self._halt = threading.Event()

    def run(self):
        try:
            while self.sent < self.count and not self._halt.is_set():
                n = min(self.batch * 10, self.count - self.sent)
                ins, _ = send_events(self.server, self.key, self.prefix, self.sent, n, self.batch)
                self.inserted += ins
                self.sent += n
        except Exception as e:  # reported by the test
            self.error = e

    def stop(self):
        self._halt.set()
        self.join(120)
        if self.error:
            raise self.error


# ---- a recording proxy in front of ClickHouse -------------------------------------------------------

class Proxy:
    """An HTTP/1.1 proxy to ClickHouse that records every request body and can hold answers.

    hold_from = n: the n-th POST (1-based) and later ones are forwarded to ClickHouse (so it
    stores the rows) but not answered until release(): the caller never learns the INSERT
    succeeded. held is set when the first held request has been forwarded.
    Only INSERTs are recorded, counted and held; other statements (the exporter's look at the
    table's columns) are forwarded and answered, and listed in `others`.
    """

    def __init__(self, target_port):
        import http.server

        proxy = self
        self.target_port = target_port
        self.bodies = []  # (path, body) of the INSERTs, in arrival order
        self.others = []  # bodies of the other statements
        self.hold_from = 0
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with proxy._lock:
                    if "query=INSERT" in self.path:
                        proxy.bodies.append((self.path, body))
                        index = len(proxy.bodies)
                    else:
                        proxy.others.append(body)
                        index = 0
                hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                c = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=120)
                try:
                    c.request("POST", self.path, body=body, headers=hdrs)
                    r = c.getresponse()
                    status, answer = r.status, r.read()
                except OSError as e:
                    status, answer = 502, str(e).encode()
                finally:
                    c.close()
                if proxy.hold_from and index and index >= proxy.hold_from:
                    proxy.held.set()
                    proxy._release.wait(300)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client is gone (killed)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def hold(self, n):
        """Holds the answers of the n-th POST (1-based) and later ones, until release()."""
        self._release.clear()
        self.held.clear()
        self.hold_from = n

    def release(self):
        self.hold_from = 0
        self._release.set()

    def count(self):
        with self._lock:
            return len(self.bodies)

    def body(self, i):
        with self._lock:
            return self.bodies[i]

    def close(self):
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()
