// An application whose OpenTelemetry SDK is set up only through the standard environment
// variables, as docs/otlp.md ("An OpenTelemetry SDK, by environment variables") tells users:
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_COMPRESSION and OTEL_RESOURCE_ATTRIBUTES. The code names no exporter, no
// endpoint and no key: @opentelemetry/sdk-node picks and configures the OTLP exporter from the
// environment. One call of the real openai SDK (instrumented by OpenLLMetry's
// @traceloop/instrumentation-openai), answered by the fake provider with id $CLX_ANSWER_ID; the
// SDK's shutdown exports the spans.
import { createRequire } from "node:module";

import { ANSWERS, fakeFetch } from "./fake_provider.mjs";

const require = createRequire(import.meta.url);
const { NodeSDK } = require("@opentelemetry/sdk-node");
const { OpenAIInstrumentation } = require("@traceloop/instrumentation-openai");
const { OpenAI } = require("openai");

const instrumentation = new OpenAIInstrumentation();
const sdk = new NodeSDK({ instrumentations: [instrumentation] });
sdk.start();
instrumentation.manuallyInstrument(OpenAI);

const answers = { ...ANSWERS, chat: { ...ANSWERS.chat, id: process.env.CLX_ANSWER_ID } };
const openai = new OpenAI({ apiKey: "sk-test", fetch: fakeFetch("openai", answers), maxRetries: 0 });
await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Where is my order?" }] });
await sdk.shutdown();
