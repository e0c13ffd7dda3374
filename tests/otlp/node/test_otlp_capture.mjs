// Real exporters' bodies through costlynx's OTLP decoder.
//
// Runs capture.mjs afresh (the real openai / anthropic SDKs, OpenLLMetry, and the real
// OTLP proto, JSON+gzip and gRPC exporters), feeds every captured body to clx_otlp_dump
// (the OTLP module: decode, map, UsageEvent), and checks that the usage records say what the
// fake provider answered. The checked-in vectors (../vectors) get the same checks, so a
// change to the decoder is tested against bodies captured earlier too.
// Run: ../run_node.sh (needs $CLX_OTLP_DUMP, else <repo>/build/clx_otlp_dump).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = process.env.CLX_SOURCE_DIR || path.resolve(HERE, "..", "..", "..");
const DUMP = process.env.CLX_OTLP_DUMP || path.join(SOURCE_DIR, "build", "clx_otlp_dump");
const VECTORS = path.resolve(HERE, "..", "vectors");
const API_KEY = "clx_test_otlp_key";

function dump(dir, body) {
  const args = ["--content-type", body.contentType];
  if (body.contentEncoding) args.push("--content-encoding", body.contentEncoding);
  args.push(path.join(dir, body.file));
  const r = spawnSync(DUMP, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `clx_otlp_dump ${args.join(" ")} failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

// What costlynx must make of the four calls, from the provider's answers.
function checkBody(manifest, body, out) {
  const { chat, responses, anthropic } = manifest.answers;
  const where = `${body.file} (${body.transport}, ${body.contentType}${body.contentEncoding ? ", " + body.contentEncoding : ""})`;
  assert.equal(out.ok, true, where);
  assert.equal(body.apiKey, API_KEY, `${where}: the exporter sent the x-api-key header`);
  // three LLM calls + OpenLLMetry's workflow span (no usage of its own: ignored)
  assert.equal(out.spans, 4, where);
  assert.equal(out.ignored, 1, where);
  assert.equal(out.rejected, 0, `${where}: ${JSON.stringify(out.rejects)}`);
  assert.equal(out.records.length, 3, where);

  const byModel = Object.fromEntries(out.records.map((r) => [r.model, r]));
  const c = byModel[chat.model];
  assert.ok(c, `${where}: a record for ${chat.model}`);
  assert.equal(c.provider, "openai");
  assert.equal(c.requestId, chat.id);
  assert.equal(c.requestIdFromSpan, false);
  assert.equal(c.inputTokens, chat.usage.prompt_tokens);
  assert.equal(c.outputTokens, chat.usage.completion_tokens);
  // OpenLLMetry 0.27 does not export OpenAI's prompt_tokens_details.cached_tokens: the record
  // can only say 0 (documented in docs/otlp.md: such spans are priced without the cache discount)
  assert.equal(c.cachedTokens, 0);
  assert.equal(c.project, "checkout"); // resource attribute (OTEL_RESOURCE_ATTRIBUTES)
  assert.equal(c.environment, "staging"); // deployment.environment.name on the resource
  assert.equal(c.feature, "order-status"); // span attribute
  assert.equal(c.userId, "user-42");
  assert.deepEqual(c.tags, { team: "growth" });
  assert.equal(c.scope, "@traceloop/instrumentation-openai");

  const r = byModel[responses.model];
  assert.ok(r, `${where}: a record for ${responses.model}`);
  assert.equal(r.provider, "openai");
  assert.equal(r.requestId, responses.id);
  assert.equal(r.inputTokens, responses.usage.input_tokens);
  assert.equal(r.outputTokens, responses.usage.output_tokens); // reasoning tokens included
  assert.equal(r.feature, "math-tutor");
  assert.equal(r.userId, "");

  const a = byModel[anthropic.model];
  assert.ok(a, `${where}: a record for ${anthropic.model}`);
  const u = anthropic.usage;
  assert.equal(a.provider, "anthropic");
  // Anthropic reports cache reads and writes beside input_tokens, and so does OpenLLMetry's
  // instrumentation: costlynx's inputTokens counts them all, the cache fields are its parts
  assert.equal(a.inputTokens, u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens);
  assert.equal(a.cachedTokens, u.cache_read_input_tokens);
  assert.equal(a.cacheWriteTokens, u.cache_creation_input_tokens);
  assert.equal(a.outputTokens, u.output_tokens);
  // no gen_ai.response.id from that instrumentation: the trace and span ids make the id
  assert.match(a.requestId, /^[0-9a-f]{32}-[0-9a-f]{16}$/);
  assert.equal(a.requestIdFromSpan, true);
  assert.equal(a.project, "billing"); // the span's own attribute beats the resource's
  assert.equal(a.environment, "staging");
  assert.equal(a.feature, "refunds");

  for (const rec of out.records) {
    assert.ok(BigInt(rec.timestampUnixNano) > 1600000000000000000n, `${where}: span end time`);
  }
  // the UsageEvents carry the same values
  assert.deepEqual(out.events.map((e) => e.requestId), out.records.map((x) => x.requestId));
  for (let i = 0; i < out.events.length; i++) {
    for (const k of ["provider", "model", "inputTokens", "outputTokens", "cachedTokens", "cacheWriteTokens",
      "reasoningTokens", "audioInputTokens", "audioOutputTokens", "project", "environment", "feature", "userId",
      "serviceTier", "timestampUnixNano"]) {
      assert.equal(out.events[i][k], out.records[i][k], `${where}: event ${i} ${k}`);
    }
    assert.deepEqual(out.events[i].tags, out.records[i].tags, `${where}: event ${i} tags`);
  }
}

function checkCapture(dir) {
  const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
  const kinds = manifest.bodies.map((b) => `${b.transport} ${b.contentType} ${b.contentEncoding}`).sort();
  assert.deepEqual(kinds, ["grpc application/x-protobuf ", "http application/json gzip",
    "http application/x-protobuf "]);
  const outs = manifest.bodies.map((b) => {
    const out = dump(dir, b);
    checkBody(manifest, b, out);
    return out;
  });
  // three exporters, one set of spans: the same records whichever way they came
  for (const out of outs.slice(1)) assert.deepEqual(out.records, outs[0].records);
}

test("real exporters, captured now: every body maps to what the provider answered", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "clx-otlp-capture-"));
  try {
    execFileSync(process.execPath, [path.join(HERE, "capture.mjs"), "--out", dir], { stdio: "inherit",
      timeout: 120000 });
    checkCapture(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("checked-in vectors (tests/otlp/vectors) still map the same way", () => {
  checkCapture(VECTORS);
});

test("a truncated real body is refused with a clear error, never half-read", () => {
  const manifest = JSON.parse(readFileSync(path.join(VECTORS, "manifest.json"), "utf8"));
  const pb = manifest.bodies.find((b) => b.transport === "http" && b.contentType === "application/x-protobuf");
  const dir = mkdtempSync(path.join(tmpdir(), "clx-otlp-trunc-"));
  try {
    const bytes = readFileSync(path.join(VECTORS, pb.file));
    const cut = path.join(dir, "cut.pb");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 7));
    const r = spawnSync(DUMP, ["--content-type", "application/x-protobuf", cut], { encoding: "utf8" });
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.status, 400);
    assert.equal(out.code, "invalid_protobuf");
    assert.match(out.message, /past the end|truncated/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
