// Black-box tests of costlynxd's gRPC door with @grpc/grpc-js + @grpc/proto-loader.
//
// Starts the real binary ($COSTLYNXD, else <repo>/build/costlynxd) with --http-addr and
// --grpc-addr on free loopback ports, creates a project and keys through the REST settings API
// (fetch), then drives costlynx.v1.UsageIngestion. Run: ../run_node.sh (or `node --test` here).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = process.env.CLX_SOURCE_DIR || path.resolve(HERE, "..", "..", "..");
const BINARY = process.env.COSTLYNXD || path.join(SOURCE_DIR, "build", "costlynxd");
const PROTO_DIR = path.join(SOURCE_DIR, "proto");
const START_TIMEOUT_MS = 15000;
// The asan/grpc/node run points COSTLYNXD at an ASan + UBSan build: the same options as
// tests/blackbox/clx.py (environment values win), and any sanitizer report fails the run.
const SANITIZER_ENV = {
  ASAN_OPTIONS: "halt_on_error=1:detect_leaks=1:check_initialization_order=1",
  UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
  LSAN_OPTIONS: `suppressions=${path.join(SOURCE_DIR, "tests", "sanitizer", "lsan.supp")}:print_suppressions=0`,
};
const SANITIZER_RE = /^.*(?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:).*$/m;
const DEADLINE_MS = 15000;

const packageDefinition = protoLoader.loadSync("costlynx/v1/usage.proto", {
  includeDirs: [PROTO_DIR],
  keepCase: false, // proto3 JSON names: inputTokens, requestId, ...
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const costlynx = grpc.loadPackageDefinition(packageDefinition).costlynx.v1;

// ---- the server ----------------------------------------------------------------------------

const srv = { proc: null, tmp: null, url: null, grpcAddr: null, token: "adm-" + randomBytes(12).toString("hex"),
  stdout: "", stderr: "" };
let client;
let key; // an ingestion key of the default workspace (no default project)
let keyId;

function startServer() {
  srv.tmp = mkdtempSync(path.join(tmpdir(), "clx-grpc-node-"));
  const env = { ...SANITIZER_ENV,
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("COSTLYNX_"))) };
  env.COSTLYNX_ADMIN_TOKEN = srv.token;
  const args = ["--data-dir", path.join(srv.tmp, "data"), "--http-addr", "127.0.0.1:0",
    "--grpc-addr", "127.0.0.1:0", "--http-threads", "2"];
  srv.proc = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  srv.proc.stderr.on("data", (d) => { srv.stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      srv.proc.kill("SIGKILL");
      reject(new Error(`costlynxd not ready (HTTP and gRPC) after ${START_TIMEOUT_MS} ms\nstdout:\n${srv.stdout}\nstderr:\n${srv.stderr}`));
    }, START_TIMEOUT_MS);
    srv.proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`costlynxd exited with ${code} before ready\nstderr:\n${srv.stderr}`));
    });
    srv.proc.stdout.on("data", (d) => {
      srv.stdout += d;
      const http = /^costlynxd ready: (http:\/\/127\.0\.0\.1:\d+)\r?$/m.exec(srv.stdout);
      const g = /^costlynxd grpc ready: (?:grpc:\/\/|http:\/\/)?(127\.0\.0\.1:\d+)\r?$/m.exec(srv.stdout);
      if (http && g && !srv.url) {
        clearTimeout(timer);
        srv.url = http[1];
        srv.grpcAddr = g[1];
        resolve();
      }
    });
  });
}

async function stopServer() {
  if (srv.proc && srv.proc.exitCode === null && srv.proc.signalCode === null) {
    // "close": the process has exited and its stderr is read to the end (sanitizer reports come last)
    const exited = new Promise((resolve) => srv.proc.once("close", (code, signal) => resolve({ code, signal })));
    srv.proc.kill("SIGTERM");
    const timer = setTimeout(() => srv.proc.kill("SIGKILL"), 20000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    assertNoSanitizerReport();
    assert.equal(code, 0, `costlynxd exit after SIGTERM: code ${code} signal ${signal}\nstderr:\n${srv.stderr.slice(-2000)}`);
  }
  if (srv.tmp) rmSync(srv.tmp, { recursive: true, force: true });
  assertNoSanitizerReport(); // also when the process had already died
}

function assertNoSanitizerReport() {
  const m = SANITIZER_RE.exec(srv.stderr);
  if (m) assert.fail(`costlynxd printed a sanitizer report: ${m[0]}\n${srv.stderr.slice(Math.max(0, m.index - 200), m.index + 6000)}`);
}

async function admin(method, p, body) {
  const res = await fetch(`${srv.url}/api/v1/admin/${p}`, {
    method,
    headers: { Authorization: `Bearer ${srv.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

async function adminOk(want, method, p, body) {
  const r = await admin(method, p, body);
  assert.equal(r.status, want, `${method} ${p}: ${JSON.stringify(r.json)}`);
  return r.json;
}

async function getEvent(requestId, ws = "default") {
  const js = await adminOk(200, "GET", `workspaces/${ws}/usage/events?requestId=${encodeURIComponent(requestId)}`);
  assert.ok(js.events.length <= 1, JSON.stringify(js));
  return js.events[0] ?? null;
}

async function countEventsOfKey(id) {
  let n = 0;
  let cursor = null;
  for (;;) {
    const q = `limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const js = await adminOk(200, "GET", `workspaces/default/usage/events?${q}`);
    n += js.events.filter((e) => e.keyId === id).length;
    if (js.nextCursor === null) return n;
    cursor = js.nextCursor;
  }
}

// ---- gRPC helpers ----------------------------------------------------------------------------

function md(k) {
  const m = new grpc.Metadata();
  if (k !== null) m.set("x-api-key", k);
  return m;
}

function deadline() {
  return { deadline: Date.now() + DEADLINE_MS };
}

function ev(requestId, over = {}) {
  return { provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 5, requestId,
    project: "app", environment: "prod", ...over };
}

function ingest(k, events) {
  return new Promise((resolve, reject) => {
    client.Ingest({ events }, md(k), deadline(), (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

function ingestStream(k, batches) {
  return new Promise((resolve, reject) => {
    const call = client.IngestStream(md(k), deadline(), (err, resp) => (err ? reject(err) : resolve(resp)));
    for (const b of batches) call.write({ events: b });
    call.end();
  });
}

// the comparable part of an IngestResponse
function summary(r) {
  return {
    ok: r.ok, inserted: r.inserted, skipped: r.skipped, rejected: r.rejected,
    errors: r.errors.map((e) => [e.index, e.requestId, e.field, e.code]),
    warnings: r.warnings.map((w) => [w.index, w.requestId, w.code]),
  };
}

function want({ inserted = 0, skipped = 0, rejected = 0, errors = [], warnings = [] } = {}) {
  return { ok: true, inserted, skipped, rejected, errors, warnings };
}

async function assertStatus(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `want ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    return true;
  });
}

// ---- setup -----------------------------------------------------------------------------------

before(async () => {
  await startServer();
  await adminOk(201, "POST", "workspaces/default/projects", { slug: "app" });
  const k = await adminOk(201, "POST", "workspaces/default/keys", { name: "node grpc key" });
  key = k.key;
  keyId = k.id;
  client = new costlynx.UsageIngestion(srv.grpcAddr, grpc.credentials.createInsecure());
});

after(async () => {
  if (client) client.close();
  await stopServer();
});

// ---- tests -------------------------------------------------------------------------------------

test("insert, then the same requestId again is skipped", async () => {
  const e = ev("n-insert-1", { inputTokens: 850, outputTokens: 320, feature: "ticket-classifier" });
  assert.deepEqual(summary(await ingest(key, [e])), want({ inserted: 1 }));
  assert.deepEqual(summary(await ingest(key, [e])), want({ skipped: 1 }));
  const got = await getEvent("n-insert-1");
  assert.deepEqual(
    [got.provider, got.model, got.inputTokens, got.outputTokens, got.costUsd, got.costSource, got.project,
      got.environment, got.feature, got.keyId],
    ["openai", "gpt-4o-mini", 850, 320, "0.0003195", "catalog", "app", "prod", "ticket-classifier", keyId]);
});

test("a batch with one invalid event stores the others", async () => {
  const r = await ingest(key, [ev("n-b-0"), ev("n-b-1", { inputTokens: -5 }), ev("n-b-2")]);
  assert.deepEqual(summary(r), want({ inserted: 2, rejected: 1, errors: [[1, "n-b-1", "inputTokens", "invalid_value"]] }));
  assert.match(r.errors[0].message, /inputTokens.*-5/);
  assert.notEqual(await getEvent("n-b-0"), null);
  assert.equal(await getEvent("n-b-1"), null);
  assert.notEqual(await getEvent("n-b-2"), null);
});

test("a caller cost (oneof) and a warning", async () => {
  const r = await ingest(key, [
    ev("n-c-0", { estimatedCostNanos: 123456789 }),
    ev("n-c-1", { model: "no-such-model-xyz" }),
    ev("n-c-2", { estimatedCostUsd: 0 }),
  ]);
  assert.deepEqual(summary(r), want({ inserted: 3, warnings: [[1, "n-c-1", "unpriced_model"]] }));
  assert.equal((await getEvent("n-c-0")).costUsd, "0.123456789");
  const zero = await getEvent("n-c-2");
  assert.deepEqual([zero.costUsd, zero.costSource], ["0", "caller"]);
});

test("IngestStream: 50 batches of 20 events, a few invalid", async () => {
  const k = await adminOk(201, "POST", "workspaces/default/keys", { name: "node stream key" });
  const bad = new Map([[3, { inputTokens: -1 }], [421, { provider: "" }], [998, { model: "m".repeat(300) }]]);
  const events = Array.from({ length: 1000 }, (_, i) =>
    ev(`n-st-${String(i).padStart(4, "0")}`, bad.get(i) ?? (i === 640 ? { model: "no-such-model-xyz" } : {})));
  const batches = [];
  for (let i = 0; i < 1000; i += 20) batches.push(events.slice(i, i + 20));
  assert.equal(batches.length, 50);
  const errors = [[3, "n-st-0003", "inputTokens", "invalid_value"], [421, "n-st-0421", "provider", "missing_field"],
    [998, "n-st-0998", "model", "too_long"]];
  const r = await ingestStream(k.key, batches);
  assert.deepEqual(summary(r), want({ inserted: 997, rejected: 3, errors, warnings: [[640, "n-st-0640", "unpriced_model"]] }));
  assert.equal(await countEventsOfKey(k.id), 997);
  const again = await ingestStream(k.key, batches);
  assert.deepEqual(summary(again), want({ skipped: 997, rejected: 3, errors }));
});

test("UNAUTHENTICATED without a key, with an unknown key, with a revoked key", async () => {
  await assertStatus(ingest(null, [ev("n-u-0")]), grpc.status.UNAUTHENTICATED);
  await assertStatus(ingest("clx_" + "A".repeat(40), [ev("n-u-1")]), grpc.status.UNAUTHENTICATED);
  await assertStatus(ingestStream(null, [[ev("n-u-2")]]), grpc.status.UNAUTHENTICATED);
  const k = await adminOk(201, "POST", "workspaces/default/keys", { name: "node revoked" });
  assert.deepEqual(summary(await ingest(k.key, [ev("n-u-3")])), want({ inserted: 1 }));
  await adminOk(200, "DELETE", `workspaces/default/keys/${k.id}`);
  await assertStatus(ingest(k.key, [ev("n-u-4")]), grpc.status.UNAUTHENTICATED);
  for (const id of ["n-u-0", "n-u-1", "n-u-2", "n-u-4"]) assert.equal(await getEvent(id), null, id);
});

test("INVALID_ARGUMENT for 101 events (nothing stored) and for an empty batch", async () => {
  const events = Array.from({ length: 101 }, (_, i) => ev(`n-101-${i}`));
  await assertStatus(ingest(key, events), grpc.status.INVALID_ARGUMENT);
  assert.equal(await getEvent("n-101-0"), null);
  assert.equal(await getEvent("n-101-100"), null);
  await assertStatus(ingest(key, []), grpc.status.INVALID_ARGUMENT);
  // 100 is fine
  assert.deepEqual(summary(await ingest(key, events.slice(0, 100))), want({ inserted: 100 }));
});
