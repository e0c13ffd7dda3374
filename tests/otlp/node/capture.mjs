// Captures what real OpenTelemetry exporters send for real GenAI instrumentation.
//
// The real `openai` and `@anthropic-ai/sdk` clients, instrumented by OpenLLMetry
// (@traceloop/node-server-sdk), make four calls whose provider HTTP is answered in-process
// by a fake fetch (realistic response bodies, usage with cache and reasoning tokens). The
// spans go out through three real exporters to a receiver in this process:
//   - OpenLLMetry's own exporter (@opentelemetry/exporter-trace-otlp-proto, OTLP/HTTP
//     protobuf), configured the way its users do: initialize({ baseUrl, headers });
//   - @opentelemetry/exporter-trace-otlp-http (OTLP/HTTP JSON, gzip-compressed);
//   - @opentelemetry/exporter-trace-otlp-grpc (OTLP/gRPC, received by @grpc/grpc-js).
// The receiver keeps each request body byte for byte.
//
//   node capture.mjs --out DIR
// writes DIR/manifest.json (the provider answers, and one entry per captured body: file,
// transport, content type and encoding, the x-api-key it carried) and the bodies.
// `node capture.mjs --out ../vectors` refreshes the checked-in test vectors.
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { ANSWERS, fakeFetch } from "./fake_provider.mjs";

export { ANSWERS };

const require = createRequire(import.meta.url);

export const API_KEY = "clx_test_otlp_key";

// Resource attributes as users set them: OTEL_RESOURCE_ATTRIBUTES, read by the SDK at start.
process.env.OTEL_RESOURCE_ATTRIBUTES =
  "costlynx.project=checkout,deployment.environment.name=staging,costlynx.tags.team=growth";
process.env.TRACELOOP_TELEMETRY = "false";
// only the env detector: no host ids or local paths in the checked-in vectors
process.env.OTEL_NODE_RESOURCE_DETECTORS = "env";

// ---- the receiver -------------------------------------------------------------------------

function startHttpReceiver(captured) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const ctype = req.headers["content-type"] || "";
      captured.push({
        transport: "http",
        path: req.url,
        contentType: ctype,
        contentEncoding: req.headers["content-encoding"] || "",
        apiKey: req.headers["x-api-key"] || "",
        body: Buffer.concat(chunks),
      });
      // full success: an empty ExportTraceServiceResponse
      if (ctype.startsWith("application/json")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      } else {
        res.writeHead(200, { "content-type": "application/x-protobuf" });
        res.end();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function startGrpcReceiver(grpc, captured) {
  const raw = (b) => b;
  const service = {
    Export: {
      path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  };
  const server = new grpc.Server();
  server.addService(service, {
    Export: (call, callback) => {
      captured.push({
        transport: "grpc",
        path: service.Export.path,
        contentType: "application/x-protobuf",
        contentEncoding: "",
        apiKey: String(call.metadata.get("x-api-key")[0] || ""),
        body: Buffer.from(call.request),
      });
      callback(null, Buffer.alloc(0));
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve({ server, port })));
}

// ---- the application ----------------------------------------------------------------------

// A span processor sending every span to several processors (one per exporter), and setting
// the per-call attributes an application adds to its LLM spans (costlynx.feature, user.id).
export class FanOut {
  constructor(processors) { this.processors = processors; this.callAttributes = {}; }
  onStart(span, ctx) {
    for (const [k, v] of Object.entries(this.callAttributes)) span.setAttribute(k, v);
    for (const p of this.processors) p.onStart(span, ctx);
  }
  onEnd(span) { for (const p of this.processors) p.onEnd(span); }
  async forceFlush() { await Promise.all(this.processors.map((p) => p.forceFlush())); }
  async shutdown() { await Promise.all(this.processors.map((p) => p.shutdown())); }
}

// The application's three LLM calls, each with the attributes the application adds to its spans
// (through fanout, a FanOut): a chat completion inside an OpenLLMetry workflow, a Responses API
// call, an Anthropic message with a cached system prompt. Returns the SDKs' answers.
export async function makeCalls(traceloop, fanout, openai, anthropic) {
  // a workflow span around the first call: no usage of its own (ignored by costlynx)
  fanout.callAttributes = { "costlynx.feature": "order-status", "user.id": "user-42" };
  const chat = await traceloop.withWorkflow({ name: "support_reply" }, async () =>
    openai.chat.completions.create({ model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Where is my order?" }] }));
  fanout.callAttributes = { "costlynx.feature": "math-tutor" };
  const resp = await openai.responses.create({ model: "o4-mini", input: "What is 6 x 7?" });
  fanout.callAttributes = { "costlynx.feature": "refunds", "costlynx.project": "billing" };
  const msg = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256,
    system: [{ type: "text", text: "You are a refund assistant.", cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: "Refund order 1234?" }] });
  fanout.callAttributes = {};
  return { chat, resp, msg };
}

export async function capture() {
  const grpc = require("@grpc/grpc-js");
  const captured = [];
  const http = await startHttpReceiver(captured);
  const { server: grpcServer, port: grpcPort } = await startGrpcReceiver(grpc, captured);
  const base = `http://127.0.0.1:${http.address().port}`;

  const traceloop = require("@traceloop/node-server-sdk");
  const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base");
  const { OTLPTraceExporter: JsonExporter } = require("@opentelemetry/exporter-trace-otlp-http");
  const { OTLPTraceExporter: GrpcExporter } = require("@opentelemetry/exporter-trace-otlp-grpc");
  const { OpenAI } = require("openai");
  const anthropicModule = require("@anthropic-ai/sdk");

  const metadata = new grpc.Metadata();
  metadata.set("x-api-key", API_KEY);
  const fanout = new FanOut([
    new BatchSpanProcessor(new JsonExporter({ url: `${base}/v1/traces`, headers: { "x-api-key": API_KEY },
      compression: "gzip" })),
    new BatchSpanProcessor(new GrpcExporter({ url: `http://127.0.0.1:${grpcPort}`, metadata })),
  ]);
  traceloop.initialize({
    appName: "otlp-capture",
    baseUrl: base, // OpenLLMetry's own OTLP/HTTP protobuf exporter posts to <baseUrl>/v1/traces
    headers: { "x-api-key": API_KEY },
    processor: fanout,
    instrumentModules: { openAI: OpenAI, anthropic: anthropicModule },
    traceloopSyncEnabled: false,
    silenceInitializationMessage: true,
  });

  const openai = new OpenAI({ apiKey: "sk-test", fetch: fakeFetch("openai"), maxRetries: 0 });
  const anthropic = new anthropicModule.Anthropic({ apiKey: "sk-ant-test", fetch: fakeFetch("anthropic"),
    maxRetries: 0 });

  await makeCalls(traceloop, fanout, openai, anthropic);
  await traceloop.forceFlush();
  await fanout.forceFlush();
  await fanout.shutdown();
  await new Promise((r) => http.close(r));
  await new Promise((r) => grpcServer.tryShutdown(r));
  return captured;
}

// ---- command line ----------------------------------------------------------------------------

function extension(c) {
  return c.contentType.startsWith("application/json") ? (c.contentEncoding === "gzip" ? "json.gz" : "json")
    : (c.contentEncoding === "gzip" ? "pb.gz" : "pb");
}

export function writeCapture(dir, captured) {
  mkdirSync(dir, { recursive: true });
  const bodies = captured.map((c, i) => {
    const file = `${String(i + 1).padStart(2, "0")}-${c.transport}.${extension(c)}`;
    writeFileSync(path.join(dir, file), c.body);
    return { file, transport: c.transport, path: c.path, contentType: c.contentType,
      contentEncoding: c.contentEncoding, apiKey: c.apiKey, bytes: c.body.length };
  });
  const manifest = { generatedBy: "tests/otlp/node/capture.mjs", answers: ANSWERS, bodies };
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const i = process.argv.indexOf("--out");
  if (i < 0 || !process.argv[i + 1]) {
    console.error("usage: node capture.mjs --out DIR");
    process.exit(2);
  }
  const captured = await capture();
  const manifest = writeCapture(process.argv[i + 1], captured);
  console.log(`captured ${manifest.bodies.length} bodies into ${process.argv[i + 1]}`);
  process.exit(0);
}
