// The real costlynxd for the OTLP door's Node tests: started on free loopback ports (HTTP and
// gRPC) with a temporary data folder, driven through the REST settings API with fetch, stopped
// with SIGTERM. $COSTLYNXD names the binary (else <repo>/build/costlynxd); the sanitizer options
// are those of tests/blackbox/clx.py, and any sanitizer report fails the test.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.CLX_SOURCE_DIR || path.resolve(HERE, "..", "..", "..");
const BINARY = process.env.COSTLYNXD || path.join(SOURCE_DIR, "build", "costlynxd");
const START_TIMEOUT_MS = 15000;
const SANITIZER_ENV = {
  ASAN_OPTIONS: "halt_on_error=1:detect_leaks=1:check_initialization_order=1",
  UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
  LSAN_OPTIONS: `suppressions=${path.join(SOURCE_DIR, "tests", "sanitizer", "lsan.supp")}:print_suppressions=0`,
};
const SANITIZER_RE = /^.*(?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:).*$/m;

export class Costlynxd {
  constructor() {
    this.token = "adm-" + randomBytes(12).toString("hex");
    this.stdout = "";
    this.stderr = "";
  }

  start() {
    this.tmp = mkdtempSync(path.join(tmpdir(), "clx-otlp-node-"));
    const env = { ...SANITIZER_ENV,
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("COSTLYNX_"))) };
    env.COSTLYNX_ADMIN_TOKEN = this.token;
    const args = ["--data-dir", path.join(this.tmp, "data"), "--http-addr", "127.0.0.1:0",
      "--grpc-addr", "127.0.0.1:0", "--http-threads", "2"];
    this.proc = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stderr.on("data", (d) => { this.stderr += d; });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proc.kill("SIGKILL");
        reject(new Error(`costlynxd not ready after ${START_TIMEOUT_MS} ms\n${this.stderr}`));
      }, START_TIMEOUT_MS);
      this.proc.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`costlynxd exited with ${code} before ready\n${this.stderr}`));
      });
      this.proc.stdout.on("data", (d) => {
        this.stdout += d;
        const http = /^costlynxd ready: (http:\/\/127\.0\.0\.1:\d+)\r?$/m.exec(this.stdout);
        const g = /^costlynxd grpc ready: (?:grpc:\/\/|http:\/\/)?(127\.0\.0\.1:\d+)\r?$/m.exec(this.stdout);
        if (http && g && !this.url) {
          clearTimeout(timer);
          this.url = http[1];
          this.grpcAddr = g[1];
          resolve();
        }
      });
    });
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((resolve) => this.proc.once("close", (code, signal) => resolve({ code, signal })));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 20000);
      const { code, signal } = await exited;
      clearTimeout(timer);
      this.assertNoSanitizerReport();
      assert.equal(code, 0, `costlynxd exit after SIGTERM: code ${code} signal ${signal}\n${this.stderr.slice(-2000)}`);
    }
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    this.assertNoSanitizerReport();
  }

  assertNoSanitizerReport() {
    const m = SANITIZER_RE.exec(this.stderr);
    if (m) assert.fail(`costlynxd printed a sanitizer report: ${m[0]}\n${this.stderr.slice(Math.max(0, m.index - 200), m.index + 6000)}`);
  }

  async admin(want, method, p, body) {
    const res = await fetch(`${this.url}/api/v1/admin/${p}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    assert.equal(res.status, want, `${method} ${p}: ${JSON.stringify(json)}`);
    return json;
  }

  // A workspace with these projects and an ingestion key (no defaults); returns the key.
  async workspace(slug, projects) {
    await this.admin(201, "POST", "workspaces", { slug });
    for (const p of projects) await this.admin(201, "POST", `workspaces/${slug}/projects`, { slug: p });
    return (await this.admin(201, "POST", `workspaces/${slug}/keys`, { name: `${slug} key` })).key;
  }

  async events(ws) {
    return (await this.admin(200, "GET", `workspaces/${ws}/usage/events?limit=1000`)).events;
  }

  // POST /api/v1/usage/ingest with key: the parsed answer (200 expected).
  async ingest(key, events) {
    const res = await fetch(`${this.url}/api/v1/usage/ingest`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify({ events }),
    });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    return json;
  }

  async metrics() {
    return (await fetch(`${this.url}/metrics`)).text();
  }
}
