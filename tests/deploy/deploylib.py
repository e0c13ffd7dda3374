"""
deploylib.py — helpers shared by the deployment tests (tests/deploy/test_*.py).

Standard library only (plus Debian's python3-yaml in test_chart), for /usr/bin/python3.
The binary is $COSTLYNXD, else $CLX_SOURCE_DIR/build/costlynxd; Helm is scripts/helm.sh.
"""
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLX_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("COSTLYNXD") or os.path.join(SOURCE_DIR, "build", "costlynxd")
DOCKERFILE = os.environ.get("CLX_DOCKERFILE") or os.path.join(SOURCE_DIR, "Dockerfile")
CHART = os.environ.get("CLX_CHART") or os.path.join(SOURCE_DIR, "deploy", "helm", "costlynx")
HELM = os.path.join(SOURCE_DIR, "scripts", "helm.sh")

READY_RE = re.compile(rb"^costlynxd ready: http://([0-9.]+):(\d+)\r?\n", re.M)
GRPC_READY_RE = re.compile(rb"^costlynxd grpc ready: ([0-9.]+):(\d+)\r?\n", re.M)


# ---- Dockerfile --------------------------------------------------------------------------------

def dockerfile_instructions(path=DOCKERFILE):
    """[(INSTRUCTION, arguments)] as Docker reads them: comment lines dropped (also inside a
    continued instruction), backslash-newline continuations joined."""
    out, cur = [], None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.strip().startswith("#"):
                continue
            if cur is None:
                if not line.strip():
                    continue
                cur = line.strip()
            else:
                cur += " " + line.strip()
            if cur.endswith("\\"):
                cur = cur[:-1].rstrip()
                continue
            word, _, rest = cur.partition(" ")
            out.append((word.upper(), rest.strip()))
            cur = None
    if cur is not None:
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_stages(path=DOCKERFILE):
    """[{"image", "name", "instructions"}] in order; the last one is the image that ships."""
    stages = []
    for word, rest in dockerfile_instructions(path):
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"image": parts[0], "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((word, rest))
    return stages


def apt_install_packages(run_args):
    """Package names that one RUN line gives to `apt-get install` (options dropped)."""
    pkgs = []
    for m in re.finditer(r"apt-get\s+(?:-\S+\s+)*install\b(.*?)(?:;|&&|\|\||\||$)", run_args):
        for tok in m.group(1).split():
            if not tok.startswith("-"):
                pkgs.append(tok)
    return pkgs


def dockerfile_env(instructions):
    """ENV key=value pairs of a stage (the key=value form, values without quotes or spaces)."""
    env = {}
    for word, rest in instructions:
        if word == "ENV":
            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                env[k] = v.strip('"')
    return env


# ---- helm --------------------------------------------------------------------------------------

def helm(*args, check=True, timeout=300):
    """Runs scripts/helm.sh; returns (returncode, stdout, stderr)."""
    # no kubeconfig: these tests render only, and must never reach a real cluster
    env = dict(os.environ, KUBECONFIG=os.path.join(tempfile.gettempdir(), "clx-deploy-tests-no-kubeconfig"))
    p = subprocess.run([HELM] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError("helm %s failed (%d):\n%s\n%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


# ---- the real binary ---------------------------------------------------------------------------

def addr_port(addr):
    return int(addr.rsplit(":", 1)[1])


class Server:
    """One costlynxd on free loopback ports over a data folder that survives restarts.

    env: the process environment (default: ours without COSTLYNX_*); the addresses are always
    127.0.0.1:0 flags, which win over any COSTLYNX_*_ADDR in env. prefix: argv before the
    binary (e.g. setpriv to drop to uid 10001, or unshare to be PID 1)."""

    def __init__(self, data_dir=None, admin_token=None, env=None, extra_args=(), prefix=(), threads=2,
                 binary=None):
        self.binary = binary or BINARY
        self.tmp = tempfile.mkdtemp(prefix="clx-deploy-")
        os.chmod(self.tmp, 0o755)
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.admin_token = admin_token or ("adm-" + secrets.token_hex(12))
        self.env = env
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)
        self.threads = threads
        self.proc = None
        self.starts = 0

    def start(self, timeout=20.0):
        self.starts += 1
        self.stdout_path = os.path.join(self.tmp, "stdout.%d" % self.starts)
        self.stderr_path = os.path.join(self.tmp, "stderr.%d" % self.starts)
        if self.env is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
            env["COSTLYNX_ADMIN_TOKEN"] = self.admin_token
            env["COSTLYNX_DATA_DIR"] = self.data_dir
            env["COSTLYNX_HTTP_THREADS"] = str(self.threads)
        else:
            env = dict(self.env)
        args = self.prefix + [self.binary, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"] + self.extra_args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            out = self.stdout()
            m, g = READY_RE.search(out.encode()), GRPC_READY_RE.search(out.encode())
            if m and g:
                self.port, self.grpc_port = int(m.group(2)), int(g.group(2))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("costlynxd exited %s before ready\nstdout:\n%s\nstderr:\n%s"
                                     % (self.proc.returncode, out, self.stderr()))
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("costlynxd not ready within %.0fs\nstderr:\n%s" % (timeout, self.stderr()))
            time.sleep(0.02)

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig, pid=None):
        os.kill(pid or self.proc.pid, sig)

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- HTTP ---------------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=15):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def admin(self, method, path, body=None):
        st, _, raw = self.request(method, "/api/v1/admin" + path, body,
                                  {"Authorization": "Bearer " + self.admin_token,
                                   "Content-Type": "application/json"})
        return st, (json.loads(raw) if raw else None)

    def create_key(self, name="k"):
        st, js = self.admin("POST", "/workspaces/default/keys", {"name": name})
        assert st == 201, (st, js)
        return js["key"]

    def all_event_ids(self, workspace="default"):
        """Every stored requestId (with repeats, if any), paging ?limit=1000&cursor=."""
        ids, cursor = [], None
        for _ in range(100000):
            q = "?limit=1000" + ("&cursor=" + cursor if cursor else "")
            st, js = self.admin("GET", "/workspaces/%s/usage/events%s" % (workspace, q))
            assert st == 200, (st, js)
            ids.extend(e["requestId"] for e in js["events"])
            cursor = js.get("nextCursor")
            if not cursor:
                return ids
        raise AssertionError("paging did not end")


def grpc_health_check(port, service="", timeout=5.0):
    """grpc.health.v1.Health/Check with Debian's python3-grpcio, protobuf bytes by hand:
    returns the status number (1 = SERVING). None when grpcio is not installed."""
    try:
        import grpc  # noqa: PLC0415
    except ImportError:
        return None
    req = b"" if not service else b"\x0a" + bytes([len(service)]) + service.encode()
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        call = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        resp = call(req, timeout=timeout)
    # HealthCheckResponse { ServingStatus status = 1; }: absent = 0 (UNKNOWN)
    return resp[1] if len(resp) >= 2 and resp[0] == 0x08 else 0
