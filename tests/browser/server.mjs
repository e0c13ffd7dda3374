// Starts the real costlynxd ($COSTLYNXD, else <repo>/build/costlynxd) on free loopback ports with a
// temporary data folder, and a small REST client for preparing data.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.CLX_SOURCE_DIR || path.resolve(HERE, "..", "..");
export const BINARY = process.env.COSTLYNXD || path.join(SOURCE_DIR, "build", "costlynxd");
const START_TIMEOUT_MS = 15000;

export async function startServer(extraArgs = []) {
  const srv = {
    tmp: mkdtempSync(path.join(tmpdir(), "clx-browser-")),
    token: "adm-" + randomBytes(12).toString("hex"),
    url: null, proc: null, stdout: "", stderr: "",
  };
  // the test decides every setting: no COSTLYNX_* from the caller's environment
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("COSTLYNX_")));
  env.COSTLYNX_ADMIN_TOKEN = srv.token;
  const args = ["--data-dir", path.join(srv.tmp, "data"), "--http-addr", "127.0.0.1:0",
    "--grpc-addr", "127.0.0.1:0", "--http-threads", "2", "--log-level", "warn", ...extraArgs];
  srv.proc = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  srv.proc.stderr.on("data", (d) => { srv.stderr += d; });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      srv.proc.kill("SIGKILL");
      reject(new Error(`costlynxd not ready after ${START_TIMEOUT_MS} ms\nstdout:\n${srv.stdout}\nstderr:\n${srv.stderr}`));
    }, START_TIMEOUT_MS);
    srv.proc.on("error", (e) => { clearTimeout(timer); reject(new Error(`cannot start ${BINARY}: ${e.message}`)); });
    srv.proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`costlynxd exited with ${code} before ready\nstderr:\n${srv.stderr}`));
    });
    srv.proc.stdout.on("data", (d) => {
      srv.stdout += d;
      const m = /^costlynxd ready: (http:\/\/127\.0\.0\.1:\d+)\r?$/m.exec(srv.stdout);
      if (m && !srv.url) {
        clearTimeout(timer);
        srv.url = m[1];
        resolve();
      }
    });
  });
  srv.proc.removeAllListeners("exit");

  /** fetch JSON from the server: {status, body} */
  srv.call = async (method, p, { body, token = srv.token, key, headers = {} } = {}) => {
    const h = { Accept: "application/json", ...headers };
    if (token) h.Authorization = "Bearer " + token;
    if (key) {
      delete h.Authorization;
      h["X-API-Key"] = key;
    }
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(srv.url + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: res.status, body: json, headers: res.headers };
  };

  srv.stop = async () => {
    if (srv.proc && srv.proc.exitCode === null && srv.proc.signalCode === null) {
      const exited = new Promise((resolve) => srv.proc.once("exit", resolve));
      srv.proc.kill("SIGTERM");
      const timer = setTimeout(() => srv.proc.kill("SIGKILL"), 15000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(srv.tmp, { recursive: true, force: true });
  };
  return srv;
}
