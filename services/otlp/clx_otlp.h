/*
 * clx_otlp.h — OpenTelemetry trace exports in, usage records out.
 *
 * The OTLP door's protocol-independent half: it knows OTLP (protobuf, JSON, gzip) and the
 * GenAI attribute conventions, and nothing of HTTP, gRPC, keys or storage. A door calls, in
 * order:
 *
 *   clx_otlp_decode_http() / clx_otlp_decode()   body bytes -> ExportTraceServiceRequest
 *   clx_otlp_map()                               request    -> clx_otlp_usage_t records,
 *                                                              ignored and rejected spans
 *   clx_otlp_usage_to_event()                    record     -> costlynx.v1.UsageEvent
 *   clx_otlp_answer()                            counts     -> the OTLP answer body
 *
 * Memory: everything returned lives in the caller's arena (the request's) and is never freed
 * on its own; protobuf-c allocates through clx_arena_allocator(). Strings in records point
 * into the decoded request, so the request must stay alive as long as the records.
 *
 * Threads: no function keeps or writes global state; any number of threads may decode and
 * map at once, each with its own arena.
 *
 * Hostile input: every size that input controls is bounded by clx_otlp_limits_t and checked
 * before memory is spent on it — the body (after decompression), the number of spans, of
 * decoded messages (attributes, values, spans...), their nesting depth, and the length of
 * every string a record keeps. Malformed input is an error naming the problem, never a crash.
 */
#ifndef CLX_OTLP_H
#define CLX_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "clx_error.h"
#include "clx_mem.h"
#include "costlynx/v1/usage.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest clx_otlp_request_t;

/* ---- limits ------------------------------------------------------------------------------- */

typedef struct clx_otlp_limits {
    size_t max_body;       /* bytes of a body, compressed and decompressed alike */
    size_t max_spans;      /* spans in one request */
    size_t max_messages;   /* decoded messages in one request: spans, attributes, values, ... */
    unsigned max_depth;    /* nesting of messages (an attribute value nested in arrays/lists) */
    size_t max_value_len;  /* bytes of any string a usage record keeps (model, ids, slugs, tags) */
    size_t max_tags;       /* costlynx.tags.* attributes on one span (resource ones included) */
    /*
     * Not a limit, a depth: 1 decodes a protobuf body only as far as clx_otlp_map reads it — the
     * spans' ids and times, the scopes' names, and the attributes whose keys the mapping knows,
     * their bytes pointing into the body (which must then outlive the request); everything else
     * (prompts, completions, span names, events) is checked and skipped. clx_otlp_map gives the
     * same records either way. 0 decodes the whole request (the default; JSON always is).
     */
    int usage_only;
} clx_otlp_limits_t;

/*
 * The defaults: 16 MiB bodies, 10,000 spans, 500,000 messages (worst case about 60 MB of
 * arena per request), depth 32, values of 1 KiB, 32 tags, the whole request decoded. Real exporters stay far below:
 * the OpenTelemetry SDKs send at most 512 spans of at most 128 attributes per request.
 */
extern const clx_otlp_limits_t clx_otlp_default_limits;

/* ---- decoding ----------------------------------------------------------------------------- */

typedef enum clx_otlp_format {
    CLX_OTLP_PROTOBUF = 0, /* application/x-protobuf (OTLP/HTTP), and every OTLP/gRPC message */
    CLX_OTLP_JSON = 1,     /* application/json: OTLP's JSON encoding */
} clx_otlp_format_t;

/*
 * Why a body was refused, in the project's vocabulary (common/clx_error.h), so every door
 * names a fault alike: the function's clx_err_t says the status (HTTP and gRPC, through the
 * error table); code is the finer problem code, CLX_CODE_NONE where the clx_err_t's own name
 * stands (payload_too_large, unsupported_media_type); name is what callers read.
 */
typedef struct clx_otlp_error {
    /* CLX_CODE_INVALID_PROTOBUF, _INVALID_JSON, _INVALID_GZIP, _TOO_MANY_SPANS, _TOO_MANY_MESSAGES,
     * _TOO_DEEP, _UNSUPPORTED_ENCODING, or CLX_CODE_NONE (body too large, unknown media type) */
    clx_code_t code;
    const char *name; /* clx_code_name(code), else clx_err_name() of the error returned; static */
    char message[256];
} clx_otlp_error_t;

/*
 * Reads a Content-Type value (len bytes; parameters such as "; charset=utf-8" and letter
 * case are ignored): application/x-protobuf or application/protobuf -> CLX_OTLP_PROTOBUF,
 * application/json -> CLX_OTLP_JSON. CLX_OK, or CLX_EMEDIA with err filled.
 */
int clx_otlp_media_type(const char *value, size_t len, clx_otlp_format_t *fmt, clx_otlp_error_t *err);

/*
 * Decompresses a gzip body (one or more gzip members) into arena memory, refusing to produce
 * more than max_out bytes: a small body that inflates past the limit (a decompression bomb)
 * is stopped as soon as it crosses it, having cost at most max_out bytes.
 * CLX_OK: *out / *out_len hold the data. CLX_ETOOBIG (payload_too_large) or CLX_EINVAL
 * (invalid_gzip: not gzip, corrupt, truncated) with err filled.
 */
int clx_otlp_gunzip(const void *in, size_t len, size_t max_out, clx_arena_t *arena, const void **out,
                    size_t *out_len, clx_otlp_error_t *err);

/*
 * Decodes one ExportTraceServiceRequest from body (len bytes) in the given format. lim NULL
 * means clx_otlp_default_limits. Protobuf is checked in one pass over the wire format (well
 * formed, within the limits) before protobuf-c unpacks it; JSON is read by a streaming
 * parser straight into the same structs (OTLP/JSON: lowerCamelCase names — the proto names
 * are accepted too —, hex trace and span ids, 64-bit integers as strings or numbers, enums as
 * integers or names; unknown fields are skipped).
 * CLX_OK: *out is the request, in arena. Otherwise *out is NULL and err says why:
 *   CLX_EINVAL   invalid_protobuf, invalid_json, too_deep (400 / INVALID_ARGUMENT)
 *   CLX_ETOOBIG  payload_too_large, too_many_spans, too_many_messages (413 / RESOURCE_EXHAUSTED)
 */
int clx_otlp_decode(const void *body, size_t len, clx_otlp_format_t fmt, const clx_otlp_limits_t *lim,
                    clx_arena_t *arena, clx_otlp_request_t **out, clx_otlp_error_t *err);

/*
 * OTLP/HTTP in one call: the Content-Type value picks the format (clx_otlp_media_type), the
 * Content-Encoding value (NULL, "", "identity" or "gzip") says whether to gunzip first, then
 * clx_otlp_decode. Returns its codes, plus CLX_EMEDIA for an unknown content type
 * (unsupported_media_type) or encoding (unsupported_encoding; 415). *fmt (may be NULL) is set as
 * soon as the content type is known, so even a refusal can be answered in the caller's format.
 */
int clx_otlp_decode_http(const void *body, size_t len, const char *content_type, size_t ctype_len,
                         const char *content_encoding, size_t cenc_len, const clx_otlp_limits_t *lim,
                         clx_arena_t *arena, clx_otlp_format_t *fmt, clx_otlp_request_t **out,
                         clx_otlp_error_t *err);

/* ---- mapping spans to usage --------------------------------------------------------------- */

typedef struct clx_otlp_tag {
    const char *key;   /* the part after "costlynx.tags." */
    const char *value;
} clx_otlp_tag_t;

/*
 * One span's GenAI usage, in costlynx's terms: every field UsageEvent carries.
 * Strings are never NULL ("" when absent) and hold no NUL byte.
 */
typedef struct clx_otlp_usage {
    uint32_t span_index;          /* the span's position in the request, counting every span */
    const char *provider;         /* costlynx's name (openai, anthropic, google, azure_openai,
                                     bedrock, mistral, xai, deepseek, cohere) or the value sent */
    const char *model;            /* gen_ai.response.model, else gen_ai.request.model */
    int64_t input_tokens;         /* every prompt token: cache reads and writes included */
    int64_t output_tokens;        /* every completion token: reasoning included */
    int64_t cached_tokens;        /* part of input_tokens: read from the prompt cache */
    int64_t cache_write_tokens;   /* part of input_tokens: written to the prompt cache */
    int64_t reasoning_tokens;     /* part of output_tokens */
    int64_t audio_input_tokens;   /* part of input_tokens */
    int64_t audio_output_tokens;  /* part of output_tokens */
    const char *request_id;       /* gen_ai.response.id, else "<trace id hex>-<span id hex>" */
    int request_id_from_span;     /* 1 when request_id was made from the trace and span ids */
    uint64_t timestamp_unix_nano; /* the span's end (else start) time; 0 when it had neither */
    const char *project;          /* span attribute first, then resource attribute */
    const char *environment;
    const char *feature;
    const char *user_id;
    const char *service_tier;
    const clx_otlp_tag_t *tags;
    size_t ntags;
    const char *scope;            /* instrumentation scope that produced the span ("" if none) */
} clx_otlp_usage_t;

/* A span that carried GenAI usage but could not be turned into a record. */
typedef struct clx_otlp_reject {
    uint32_t span_index;
    const char *request_id; /* "" when not known */
    const char *attribute;  /* the attribute at fault, e.g. "gen_ai.request.model" */
    clx_code_t code;        /* CLX_CODE_MISSING_FIELD, _INVALID_TYPE, _INVALID_VALUE, _TOO_LONG */
    const char *message;    /* "span N: ...": names the attribute and, where useful, its value */
} clx_otlp_reject_t;

#define CLX_OTLP_MAX_REJECTS 100 /* rejects kept per request; the count stays exact */

typedef struct clx_otlp_batch {
    clx_otlp_usage_t *records; /* in span order */
    size_t nrecords;
    size_t spans;    /* every span of the request */
    size_t ignored;  /* spans without any GenAI token count: not usage, not an error */
    size_t rejected; /* spans with usage that cannot be used */
    clx_otlp_reject_t *rejects; /* the first CLX_OTLP_MAX_REJECTS of them, in span order */
    size_t nrejects;
} clx_otlp_batch_t;

/*
 * Maps every span of req (the rules are in docs/otlp.md) into out, allocating in arena:
 * spans + records + rejects = nrecords + ignored + rejected. lim NULL = defaults. Never
 * fails: a span that cannot be used is counted and described in out->rejects.
 */
void clx_otlp_map(const clx_otlp_request_t *req, const clx_otlp_limits_t *lim, clx_arena_t *arena,
                  clx_otlp_batch_t *out);

/*
 * Fills ev (initialised here) from every field of u: the token counts and their parts,
 * request_id, attribution, user, service tier, tags and the timestamp (none when the span had
 * no time: the pipeline then uses the arrival time). ev's strings point at u's and its
 * timestamp and tag entries are allocated in arena: ev lives no longer than either.
 */
void clx_otlp_usage_to_event(const clx_otlp_usage_t *u, clx_arena_t *arena, Costlynx__V1__UsageEvent *ev);

/* ---- the answer --------------------------------------------------------------------------- */

/*
 * Renders the ExportTraceServiceResponse in fmt, in arena. rejected == 0 and no message is full
 * success (an empty message: zero bytes in protobuf, "{}" in JSON); otherwise partial_success
 * with rejected_spans and error_message = message (with rejected 0, OTLP's way to pass on a
 * warning). The message is made valid UTF-8 first. JSON follows OTLP/JSON:
 * {"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}.
 */
void clx_otlp_answer(clx_otlp_format_t fmt, int64_t rejected, const char *message, clx_arena_t *arena,
                     const void **out, size_t *len);

#endif
