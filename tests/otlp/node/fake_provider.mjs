// The provider side of the OTLP tests: realistic answers of OpenAI (chat completions, responses)
// and Anthropic (messages) with usage, cache and reasoning tokens, served by a fake fetch the real
// SDKs are given, so no request leaves the process. No side effects on import.

export const ANSWERS = {
  chat: {
    id: "chatcmpl-CLXotlp0001chat",
    object: "chat.completion",
    created: 1735689600,
    model: "gpt-4o-mini-2024-07-18",
    system_fingerprint: "fp_0aa8d3e20b",
    service_tier: "default",
    choices: [{
      index: 0,
      message: { role: "assistant", content: "Your order ships tomorrow.", refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage: {
      prompt_tokens: 1200,
      completion_tokens: 80,
      total_tokens: 1280,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0 },
    },
  },
  responses: {
    id: "resp_CLXotlp0002responses",
    object: "response",
    created_at: 1735689601,
    status: "completed",
    model: "o4-mini-2025-04-16",
    output: [
      { id: "rs_1", type: "reasoning", summary: [] },
      { id: "msg_1", type: "message", status: "completed", role: "assistant",
        content: [{ type: "output_text", text: "42", annotations: [] }] },
    ],
    usage: {
      input_tokens: 500,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 900,
      output_tokens_details: { reasoning_tokens: 768 },
      total_tokens: 1400,
    },
  },
  anthropic: {
    id: "msg_01CLXotlp0003anthropic",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: [{ type: "text", text: "Refund approved." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 30,
      cache_read_input_tokens: 1800,
      cache_creation_input_tokens: 200,
      output_tokens: 150,
      service_tier: "standard",
    },
  },
};

// A fetch for the provider SDKs (their `fetch` option): answers from `answers` by path, in process.
export function fakeFetch(kind, answers = ANSWERS) {
  return async (url) => {
    const u = String(url);
    let body;
    if (u.endsWith("/chat/completions")) body = answers.chat;
    else if (u.endsWith("/responses")) body = answers.responses;
    else if (u.endsWith("/messages")) body = answers.anthropic;
    else return new Response(JSON.stringify({ error: { message: `unexpected ${u}` } }), { status: 404 });
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { "content-type": "application/json", "x-request-id": `req_${kind}`, "request-id": `req_${kind}` },
    });
  };
}

