"""
clx.py — helpers for the costlynx black-box tests.

Starts the REAL costlynxd binary ($COSTLYNXD, else $CLX_SOURCE_DIR/build/costlynxd) on a free
loopback port (--http-addr 127.0.0.1:0) with a temporary data folder and an admin token, and
drives it with standard-library clients (http.client, and curl for HTTP/2).

Sanitizers: the same tests run against an AddressSanitizer + UBSan build (ctest's asan/...
tests, COSTLYNXD=build-asan/costlynxd). Every start sets ASAN_OPTIONS / UBSAN_OPTIONS /
LSAN_OPTIONS (sanitizer_env(); values already in the environment win), and stop(), cleanup()
and ctl() fail the test when the process printed any sanitizer report
(check_sanitizer_output()), leaks at exit included.

Standard library only: the suite runs under /usr/bin/python3 without pip.
"""
import atexit
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLX_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("COSTLYNXD") or os.path.join(SOURCE_DIR, "build", "costlynxd")

READY_RE = re.compile(rb"^costlynxd ready: (http://127\.0\.0\.1:(\d+))\r?\n", re.M)
# printed (any line of stdout) when the gRPC door listens: "costlynxd grpc ready: 127.0.0.1:PORT"
GRPC_READY_RE = re.compile(rb"^costlynxd grpc ready: (?:grpc://|http://)?(127\.0\.0\.1:(\d+))\r?\n", re.M)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 15.0

# Any of these on a costlynxd stderr fails the test (ASan, LeakSanitizer, UBSan).
SANITIZER_RE = re.compile(r"^.*(?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:).*$", re.M)
LSAN_SUPPRESSIONS = os.path.join(SOURCE_DIR, "tests", "sanitizer", "lsan.supp")


def sanitizer_env(env=None):
    """env (default os.environ) plus the sanitizer options the suites run with.

    halt_on_error: the first report stops the process (it cannot go unnoticed);
    print_stacktrace: UBSan reports say where. Leak detection stays on, with the few
    process-lifetime allocations of h2o suppressed (tests/sanitizer/lsan.supp says which and why).
    Harmless for the release binary."""
    out = dict(os.environ if env is None else env)
    out.setdefault("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=1:check_initialization_order=1")
    out.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    out.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0" % LSAN_SUPPRESSIONS)
    return out


def check_sanitizer_output(text, what="costlynxd"):
    """Raises AssertionError (with the report) when text holds a sanitizer report."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = SANITIZER_RE.search(text or "")
    if m:
        start = max(0, m.start() - 200)
        raise AssertionError("%s printed a sanitizer report: %s\n--- report ---\n%s"
                             % (what, m.group(0).strip(), text[start:start + 6000]))


OK1 = b'{"ok":true,"inserted":1,"skipped":0}'
SKIP1 = b'{"ok":true,"inserted":0,"skipped":1}'

_live = set()  # servers still running, killed at interpreter exit if a test crashed
_all = set()  # servers whose stderr has not been checked for sanitizer reports yet


@atexit.register
def _kill_leftovers():
    for s in list(_live):
        try:
            s.proc.kill()
            s.proc.wait(5)
        except Exception:
            pass
    for s in list(_all):  # a report from a server no test checked still fails the run
        try:
            check_sanitizer_output(s.stderr(), "costlynxd (%s)" % s.tmp)
        except AssertionError as e:
            print("\n" + str(e), flush=True)
            os._exit(1)
        except Exception:
            pass


def event(request_id, **fields):
    """One usage event with sensible defaults (openai gpt-4o-mini, 10 in / 5 out)."""
    ev = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "inputTokens": 10,
        "outputTokens": 5,
        "requestId": request_id,
    }
    for k, v in fields.items():
        if v is None:
            ev.pop(k, None)
        else:
            ev[k] = v
    return ev


def to_bytes(body):
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def parse(raw):
    """The JSON of a response body; fails loudly (with the body) when it is not JSON."""
    try:
        return json.loads(raw.decode("utf-8"))
    except Exception as e:  # pragma: no cover - reported as a test failure
        raise AssertionError("response body is not JSON (%s): %r" % (e, raw[:500]))


class Server:
    """One costlynxd process over a data folder that survives restart()."""

    def __init__(self, admin_token=None, threads=2, extra_args=(), env=None, grpc=False, data_dir=None,
                 token_on_command_line=False):
        self.tmp = tempfile.mkdtemp(prefix="clx-bb-")
        # data_dir: an existing store (a backup, a tmpfs) instead of a fresh folder under tmp;
        # cleanup() leaves it in place
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.admin_token = admin_token or ("adm-" + secrets.token_hex(12))
        self.threads = threads
        self.extra_args = list(extra_args)
        self.token_on_command_line = token_on_command_line
        self.env = env
        self.proc = None
        self.url = None
        self.port = None
        # grpc=True: also start the gRPC door on a free loopback port (--grpc-addr 127.0.0.1:0);
        # grpc_addr ("127.0.0.1:PORT") and grpc_port are then read from its ready line.
        self.grpc = bool(grpc)
        self.grpc_addr = None
        self.grpc_port = None
        self.starts = 0
        self._local = threading.local()
        self.start()

    # ---- process control -----------------------------------------------------------------

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self._killed = False
        self.stdout_path = os.path.join(self.tmp, "stdout.%d.log" % self.starts)
        self.stderr_path = os.path.join(self.tmp, "stderr.%d.log" % self.starts)
        env = sanitizer_env(self.env)
        for k in ("COSTLYNX_DATA_DIR", "COSTLYNX_HTTP_ADDR", "COSTLYNX_ADMIN_TOKEN"):
            env.pop(k, None)
        # the admin token through the environment, as docs/deploy.md tells operators (a
        # command-line secret is readable in /proc/PID/cmdline); the flag only where a test
        # checks how the daemon treats it
        args = [BINARY, "--data-dir", self.data_dir, "--http-addr", "127.0.0.1:0",
                "--http-threads", str(self.threads)] + self.extra_args
        if self.token_on_command_line:
            args += ["--admin-token", self.admin_token]
        else:
            env["COSTLYNX_ADMIN_TOKEN"] = self.admin_token
        # always a free gRPC port: the default 127.0.0.1:50051 would collide between
        # servers started side by side (and a busy port refuses to start)
        env.pop("COSTLYNX_GRPC_ADDR", None)
        args += ["--grpc-addr", "127.0.0.1:0"]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _live.add(self)
        _all.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(self.stdout_path, "rb") as f:
                out = f.read()
            m = READY_RE.search(out)
            g = GRPC_READY_RE.search(out) if self.grpc else None
            if m and (g or not self.grpc):
                self.url = m.group(1).decode()
                self.port = int(m.group(2))
                if g:
                    self.grpc_addr = g.group(1).decode()
                    self.grpc_port = int(g.group(2))
                break
            if self.proc.poll() is not None:
                _live.discard(self)
                raise AssertionError("costlynxd exited with %s before ready; stderr:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.kill9()
                if m:  # HTTP is up, the gRPC ready line never came
                    raise AssertionError("costlynxd printed no 'costlynxd grpc ready:' line within %.0fs; "
                                         "stdout:\n%s\nstderr:\n%s" % (START_TIMEOUT, out.decode("utf-8", "replace"),
                                                                       self.stderr()))
                raise AssertionError("costlynxd not ready after %.0fs; stderr:\n%s" % (START_TIMEOUT, self.stderr()))
            time.sleep(0.02)
        if not self.grpc:  # with the gRPC door, its ready line may come first
            first = self.stdout().splitlines()[0] if self.stdout() else b""
            assert first.startswith(b"costlynxd ready: "), "the ready line is not the first stdout line: %r" % first
        self._local = threading.local()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait, and require a clean exit (status 0)."""
        self._close_conns()
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            _live.discard(self)
            if self._killed:
                return self.proc.returncode
            raise AssertionError("costlynxd was no longer running when asked to stop (exit %r); stderr tail:\n%s"
                                 % (self.proc.returncode, self.stderr()[-2000:]))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            _live.discard(self)
            raise AssertionError("costlynxd did not exit within %.0fs of SIGTERM" % STOP_TIMEOUT)
        _live.discard(self)
        check_sanitizer_output(self.stderr(), "costlynxd")
        if rc != 0:
            raise AssertionError("costlynxd exited with %r after SIGTERM (want 0); stderr:\n%s" % (rc, self.stderr()))
        return rc

    def kill9(self):
        self._killed = True
        self._close_conns()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        _live.discard(self)

    def restart(self):
        if self.alive():
            self.stop()
        return self.start()

    def cleanup(self):
        """Stops (cleanly when possible) and removes the temporary folder."""
        try:
            if self.alive():
                self.stop()
            elif self.proc is not None and not self._killed and self.proc.returncode not in (0, None):
                # a crash the tests may not have seen: say so in the output, the folder goes anyway
                print("\ncostlynxd (%s) had exited with %r; stderr tail:\n%s"
                      % (self.tmp, self.proc.returncode, self.stderr()[-1500:]))
        finally:
            self.kill9()
            report = self.stderr()
            _all.discard(self)
            shutil.rmtree(self.tmp, ignore_errors=True)
            check_sanitizer_output(report, "costlynxd")

    def stdout(self):
        out = b""
        for i in range(1, self.starts + 1):
            p = os.path.join(self.tmp, "stdout.%d.log" % i)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out += f.read()
        return out

    def stderr(self):
        out = b""
        for i in range(1, self.starts + 1):
            p = os.path.join(self.tmp, "stderr.%d.log" % i)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out += f.read()
        return out.decode("utf-8", "replace")

    def logs(self):
        return self.stdout() + self.stderr().encode()

    # ---- HTTP ----------------------------------------------------------------------------

    def connect(self, timeout=HTTP_TIMEOUT):
        """A new, dedicated HTTP/1.1 connection (caller closes it)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self.connect()
            self._local.conn = c
            self._local.fresh = True
        return c

    def _close_conns(self):
        c = getattr(self._local, "conn", None)
        if c is not None:
            try:
                c.close()
            except Exception:
                pass
        self._local = threading.local()

    def request(self, method, path, body=None, headers=None):
        """(status, headers {lower-case name: value}, raw body bytes) over a keep-alive connection.

        A stale kept-alive connection (closed by the server meanwhile) is replaced once; a
        failure on a fresh connection is raised.
        """
        data = to_bytes(body) if body is not None else None
        hdrs = dict(headers or {})
        for attempt in (0, 1):
            conn = self._conn()
            reused = not getattr(self._local, "fresh", True)
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self._close_conns()
                if reused and attempt == 0:
                    continue
                raise
            self._local.fresh = False
            rh = {k.lower(): v for k, v in resp.getheaders()}
            if rh.get("connection", "").lower() == "close":
                self._close_conns()
            return resp.status, rh, raw
        raise AssertionError("unreachable")

    # ---- ingestion -----------------------------------------------------------------------

    def post_ingest(self, key, body, headers=None, content_type="application/json"):
        """POST /api/v1/usage/ingest. key None: no X-API-Key; content_type None: no Content-Type."""
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        if key is not None:
            h["X-API-Key"] = key
        h.update(headers or {})
        return self.request("POST", "/api/v1/usage/ingest", to_bytes(body), h)

    def ingest(self, key, body, **kw):
        """(status, parsed JSON, raw) of an ingest call."""
        status, _, raw = self.post_ingest(key, body, **kw)
        return status, parse(raw), raw

    # ---- settings API --------------------------------------------------------------------

    def admin(self, method, path, body=None, token=None):
        """(status, parsed JSON, raw) of /api/v1/admin/<path>; token False: no Authorization."""
        tok = self.admin_token if token is None else token
        h = {}
        if tok is not False:
            h["Authorization"] = "Bearer " + tok
        if body is not None:
            h["Content-Type"] = "application/json"
        status, _, raw = self.request(method, "/api/v1/admin/" + path.lstrip("/"), body, h)
        return status, parse(raw), raw

    def _ok(self, want, got, what):
        status, js, raw = got
        if status != want:
            raise AssertionError("%s: HTTP %s (want %s): %r" % (what, status, want, raw[:500]))
        return js

    def create_workspace(self, slug, name=None):
        body = {"slug": slug}
        if name is not None:
            body["name"] = name
        return self._ok(201, self.admin("POST", "workspaces", body), "create workspace %s" % slug)

    def create_project(self, slug, ws="default", name=None):
        body = {"slug": slug}
        if name is not None:
            body["name"] = name
        return self._ok(201, self.admin("POST", "workspaces/%s/projects" % ws, body), "create project %s" % slug)

    def create_environment(self, project, slug, ws="default"):
        return self._ok(201, self.admin("POST", "workspaces/%s/projects/%s/environments" % (ws, project),
                                        {"slug": slug}), "create environment %s" % slug)

    def create_key_full(self, ws="default", name="test key", default_project=None, default_environment=None,
                        environment=None):
        body = {"name": name}
        if default_project is not None:
            body["defaultProject"] = default_project
        if default_environment is not None:
            body["defaultEnvironment"] = default_environment
        if environment is not None:
            body["environment"] = environment
        js = self._ok(201, self.admin("POST", "workspaces/%s/keys" % ws, body), "create key %s" % name)
        assert isinstance(js.get("id"), str) and js["id"], js
        assert isinstance(js.get("key"), str) and len(js["key"]) >= 20, js
        return js

    def create_key(self, ws="default", **kw):
        """Creates an ingestion key; returns its secret."""
        return self.create_key_full(ws=ws, **kw)["key"]

    def revoke_key(self, key_id, ws="default"):
        return self._ok(200, self.admin("DELETE", "workspaces/%s/keys/%s" % (ws, key_id)), "revoke key")

    def set_strict(self, on, ws="default"):
        return self._ok(200, self.admin("PATCH", "workspaces/%s" % ws, {"strictMode": bool(on)}), "set strict")

    def get_event(self, request_id, ws="default"):
        """The stored event of request_id, or None."""
        q = urllib.parse.urlencode({"requestId": request_id})
        js = self._ok(200, self.admin("GET", "workspaces/%s/usage/events?%s" % (ws, q)), "get event")
        evs = js["events"]
        if len(evs) > 1:
            raise AssertionError("requestId %r read back %d events" % (request_id, len(evs)))
        return evs[0] if evs else None

    def list_events(self, ws="default", limit=None, cursor=None):
        """(events, nextCursor) of one page, newest first."""
        q = {}
        if limit is not None:
            q["limit"] = limit
        if cursor is not None:
            q["cursor"] = cursor
        path = "workspaces/%s/usage/events" % ws
        if q:
            path += "?" + urllib.parse.urlencode(q)
        js = self._ok(200, self.admin("GET", path), "list events")
        return js["events"], js["nextCursor"]

    def all_events(self, ws="default", limit=1000, max_pages=10000, timeout=60.0):
        """Every stored event of ws, paging with the cursor; bounded by pages and time."""
        out, cursor, deadline = [], None, time.monotonic() + timeout
        for _ in range(max_pages):
            evs, nxt = self.list_events(ws, limit=limit, cursor=cursor)
            out.extend(evs)
            if nxt is None:
                return out
            if time.monotonic() > deadline:
                raise AssertionError("paging events took more than %.0fs" % timeout)
            cursor = nxt
        raise AssertionError("more than %d pages of events" % max_pages)

    # ---- command line ----------------------------------------------------------------------

    def ctl(self, *args, token=None, timeout=20):
        """Runs `costlynxd ctl --url URL --token T args...`: (exit code, stdout, stderr)."""
        env = sanitizer_env({k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")})
        argv = [BINARY, "ctl", "--url", self.url]
        tok = self.admin_token if token is None else token
        if tok is not False:
            argv += ["--token", tok]
        p = subprocess.run(argv + list(args), capture_output=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
        check_sanitizer_output(p.stderr, "costlynxd ctl")
        return p.returncode, p.stdout, p.stderr


def curl(args, timeout=20, input_bytes=None):
    """Runs curl; returns (exit code, stdout bytes, stderr bytes)."""
    p = subprocess.run(["curl"] + list(args), capture_output=True, timeout=timeout, input=input_bytes)
    return p.returncode, p.stdout, p.stderr


def parse_header_dump(text):
    """Parses the last response of a `curl -D` header dump: (status, version, {name: value})."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text.strip()) if b.strip()]
    lines = blocks[-1].splitlines()
    m = re.match(r"HTTP/(\S+) (\d{3})", lines[0])
    assert m, "bad status line %r" % lines[0]
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return int(m.group(2)), m.group(1), hdrs
