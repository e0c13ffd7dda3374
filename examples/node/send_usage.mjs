// Report one LLM call's usage to costlynx over gRPC, at the call site (the integration guide's pattern).
//
// 1. call the LLM (stubbed here: a fake OpenAI-style response, no network),
// 2. read the usage from the response,
// 3. send one UsageEvent with the provider's response id as requestId (the idempotency key),
// 4. retry UNAVAILABLE with the SAME requestId and a growing backoff; log any other failure
//    (INVALID_ARGUMENT, UNAUTHENTICATED, ... never get better by retrying).
//
// Environment: COSTLYNX_GRPC_ADDR (default 127.0.0.1:50051), COSTLYNX_INGESTION_KEY (required),
// COSTLYNX_PROJECT (default customer-support), COSTLYNX_ENVIRONMENT (default prod),
// COSTLYNX_PROTO_DIR (default ../../proto), COSTLYNX_RETRY_ATTEMPTS (5), COSTLYNX_RETRY_BASE_MS (200).
// Prints a one-line JSON summary; exits 0 when the event is recorded (inserted or skipped).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = process.env.COSTLYNX_PROTO_DIR || path.resolve(HERE, "..", "..", "proto");

const { costlynx } = grpc.loadPackageDefinition(protoLoader.loadSync("costlynx/v1/usage.proto", {
  includeDirs: [PROTO_DIR],
  keepCase: false, // inputTokens, requestId, ... as in the REST JSON
  longs: Number,
  defaults: true,
  oneofs: true,
}));

// Stand-in for client.chat.completions.create(...): the shape of an OpenAI response.
async function callLlm(prompt) {
  return {
    id: "chatcmpl-" + randomUUID().replaceAll("-", "").slice(0, 24), // a new id per call
    model: "gpt-4o-mini-2024-07-18",
    choices: [{ message: { content: `(a helpful answer to ${JSON.stringify(prompt)})` } }],
    usage: { prompt_tokens: 1234, completion_tokens: 321, prompt_tokens_details: { cached_tokens: 1024 } },
  };
}

// The event of one OpenAI chat completion (see docs/usage-fields.md for other providers).
function usageEvent(response, { project, environment, feature }) {
  return {
    provider: "openai",
    model: response.model,
    inputTokens: response.usage?.prompt_tokens ?? 0, // all prompt tokens, cached ones included
    outputTokens: response.usage?.completion_tokens ?? 0,
    cachedTokens: response.usage?.prompt_tokens_details?.cached_tokens ?? 0,
    requestId: response.id, // stable provider id: the idempotency key
    project,
    environment,
    feature,
  };
}

function ingestOnce(client, key, event) {
  const md = new grpc.Metadata();
  md.set("x-api-key", key);
  return new Promise((resolve, reject) => {
    client.Ingest({ events: [event] }, md, { deadline: Date.now() + 5000 },
      (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

// Sends one event; the IngestResponse, or null when it could not be recorded (logged).
export async function sendUsage(client, key, event, { attempts = 5, baseMs = 200 } = {}) {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let resp;
    try {
      resp = await ingestOnce(client, key, event);
    } catch (err) {
      if (err.code === grpc.status.UNAVAILABLE && attempt < attempts) {
        const delay = baseMs * 2 ** (attempt - 1) * (1 + Math.random() / 4);
        console.warn(`usage event ${event.requestId}: UNAVAILABLE (${err.details}); retrying in ${Math.round(delay)} ms with the same requestId`);
        await sleep(delay);
        continue;
      }
      console.error(`usage event ${event.requestId} not recorded: ${grpc.status[err.code]}: ${err.details}`);
      return null;
    }
    for (const e of resp.errors) console.error(`usage event ${e.requestId} rejected: ${e.field} ${e.code}: ${e.message}`);
    for (const w of resp.warnings) console.warn(`usage event ${w.requestId}: ${w.code}: ${w.message}`);
    return resp;
  }
  return null;
}

async function main() {
  const addr = process.env.COSTLYNX_GRPC_ADDR || "127.0.0.1:50051";
  const key = process.env.COSTLYNX_INGESTION_KEY;
  if (!key) {
    console.error("set COSTLYNX_INGESTION_KEY to an ingestion key");
    return 2;
  }
  const response = await callLlm("Where is my order #1234?");
  const answer = response.choices[0].message.content; // the user gets this whatever happens below

  const event = usageEvent(response, {
    project: process.env.COSTLYNX_PROJECT ?? "customer-support",
    environment: process.env.COSTLYNX_ENVIRONMENT ?? "prod",
    feature: "support-reply",
  });
  const client = new costlynx.v1.UsageIngestion(addr, grpc.credentials.createInsecure());
  try {
    const resp = await sendUsage(client, key, event, {
      attempts: Number(process.env.COSTLYNX_RETRY_ATTEMPTS || 5),
      baseMs: Number(process.env.COSTLYNX_RETRY_BASE_MS || 200),
    });
    console.error(`answer: ${answer}`);
    if (!resp) return 1;
    console.log(JSON.stringify({ requestId: event.requestId, ok: resp.ok, inserted: resp.inserted,
      skipped: resp.skipped, rejected: resp.rejected, warnings: resp.warnings.map((w) => w.code) }));
    return resp.ok && resp.rejected === 0 ? 0 : 1;
  } finally {
    client.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
