/*
 * clx_otlp_door.h — the OTLP door: one trace export, from the caller's credential to the
 * answer, for both of its transports.
 *
 * The HTTP entry (services/rest/otlp.c: POST /v1/traces) and the gRPC entry
 * (services/grpc/otlp.c: opentelemetry.proto.collector.trace.v1.TraceService/Export) speak
 * their protocol and nothing else: they hand this module the credential, the body and its
 * encoding, and render the reply it builds (status, body, retry delay). Everything between —
 * decoding (clx_otlp.h), mapping spans to UsageEvents, cutting them into requests of
 * CLX_MAX_BATCH under one session, summing the answers, the OTLP answer and the error bodies —
 * is here, so both transports behave alike by construction. The pipeline is reached only
 * through the door API (clx_ingest.h). An export, in order:
 *
 *   clx_otlp_export_init      on the transport's thread, in the transport's arena
 *   clx_otlp_export_format    HTTP: the Content-Type picks protobuf or JSON (gRPC: protobuf)
 *   clx_otlp_export_auth      x-api-key, else Authorization: Bearer <key>
 *   clx_otlp_export_decode    body (+ Content-Encoding) -> spans -> usage records
 *   clx_otlp_export_submit    records -> events -> requests of CLX_MAX_BATCH -> the pipeline
 *   clx_otlp_export_reply     what to answer (exactly once per export; counted in the metrics)
 *
 * Any step may fail; clx_otlp_export_fail records a refusal of the transport's own (shutting
 * down, a body over the limit) the same way. After a failed step the transport goes straight to
 * clx_otlp_export_reply.
 *
 * Threads: every step but the completion runs on the transport's thread. done() (submit's
 * completion) runs on the writer thread; reply may be called there or on any thread after it.
 * Memory: the export and everything it returns live in the arena given to init (the
 * transport's per-request arena), which must outlive the reply; requests beyond the first get
 * arenas of their own, freed before done() is called.
 */
#ifndef CLX_OTLP_DOOR_H
#define CLX_OTLP_DOOR_H

#include <stddef.h>
#include <stdint.h>

#include "clx_ingest.h"
#include "clx_otlp.h"

typedef struct clx_otlp_door clx_otlp_door_t;
typedef struct clx_otlp_export clx_otlp_export_t;

typedef enum clx_otlp_transport {
    CLX_OTLP_HTTP = 0, /* OTLP/HTTP on the REST door's port */
    CLX_OTLP_GRPC = 1, /* OTLP/gRPC on the gRPC door's port */
    CLX_OTLP_TRANSPORTS
} clx_otlp_transport_t;

typedef struct clx_otlp_door_config {
    clx_pipeline_t *pipeline;
    /* Largest export body in bytes, as received and after decompression (--otlp-max-body-bytes);
     * 0 means the limits' own (16 MiB by default). */
    size_t max_body;
    /* The decoder's limits (spans, messages, depth...); NULL means clx_otlp_default_limits. The door
     * always decodes only what the mapping reads (usage_only). */
    const clx_otlp_limits_t *limits;
} clx_otlp_door_config_t;

/* Creates the door's shared state (limits, counters). CLX_OK; aborts on OOM. */
int clx_otlp_door_create(const clx_otlp_door_config_t *cfg, clx_otlp_door_t **out);
/* Frees it; NULL is a no-op. No export may be in flight. */
void clx_otlp_door_destroy(clx_otlp_door_t *d);
/* The body limit in force (the transports size their receive buffers by it). */
size_t clx_otlp_door_max_body(const clx_otlp_door_t *d);

/* ---- one export ---------------------------------------------------------------------------- */

/* Starts an export on transport t in arena (the export is allocated there). Cannot fail. */
clx_otlp_export_t *clx_otlp_export_init(clx_otlp_door_t *d, clx_otlp_transport_t t, clx_arena_t *arena);

/*
 * HTTP: the Content-Type value (len bytes, NULL allowed) picks the body's format, and so the
 * reply's. CLX_OK, or CLX_EMEDIA (415, unsupported_media_type; the reply is then JSON). Not
 * called: protobuf (every OTLP/gRPC message).
 */
int clx_otlp_export_format(clx_otlp_export_t *x, const char *content_type, size_t len);

/*
 * Authenticates the export: key is the x-api-key value, authorization the Authorization value
 * (each len bytes; NULL or empty when absent). x-api-key wins when both are there.
 * CLX_OK, or CLX_EUNAUTH naming what was missing or wrong.
 */
int clx_otlp_export_auth(clx_otlp_export_t *x, const char *key, size_t key_len, const char *authorization,
                         size_t auth_len);

/*
 * Decodes body (len bytes; it is needed only during the call: nothing of it is kept) in the
 * export's format, gunzipping it first when content_encoding (HTTP; NULL for gRPC) says gzip, and
 * maps its spans to usage records. CLX_OK; else clx_otlp_decode_http's codes (CLX_EINVAL, CLX_ETOOBIG,
 * CLX_EMEDIA for an unknown encoding).
 */
int clx_otlp_export_decode(clx_otlp_export_t *x, const void *body, size_t len, const char *content_encoding,
                           size_t enc_len);

/* Completion of a submitted export: on the writer thread, exactly once, unless submit returned 1. */
typedef void (*clx_otlp_done_fn)(clx_otlp_export_t *x, void *data);

/*
 * Sends the records through the pipeline as UsageEvents, in span order, in requests of at most
 * CLX_MAX_BATCH under the export's one session, all handed to the writer at once (one group
 * commit can hold them all). Returns
 *   1  the reply is ready now (nothing needed writing, or the writer refused); done not called;
 *   0  done(x, data) will be called once, from the writer thread, when every request is answered.
 * A request the writer refuses (queue full, shutting down) or cannot write (storage fault, full
 * disk) makes the whole export's reply "retry later": what the other requests stored is skipped
 * as a duplicate on the retry (span ids are stable).
 */
int clx_otlp_export_submit(clx_otlp_export_t *x, clx_otlp_done_fn done, void *data);

/* Records a refusal of the transport's own (err: a clx_err_t; code: a finer code or CLX_CODE_NONE). */
void clx_otlp_export_fail(clx_otlp_export_t *x, int err, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* What the transport answers. Strings and bytes live in the export's arena. */
typedef struct clx_otlp_reply {
    /*
     * CLX_OK: the export was processed (status 200 / OK) and body is the
     * ExportTraceServiceResponse: empty when every span was stored, skipped as a duplicate or
     * ignored; partial_success with rejected_spans and the first problem otherwise (or, with
     * rejected_spans 0, the first warning). Else the clx_err_t of the refusal: the HTTP and gRPC
     * statuses come from the error table, and body is a google.rpc.Status (code, message,
     * ErrorInfo with the error's name, RetryInfo when retry_after_s > 0).
     */
    int status;
    const char *content_type; /* of body: application/x-protobuf or application/json */
    const void *body;         /* HTTP body; gRPC: the message when status is CLX_OK */
    size_t len;
    const void *details; /* the google.rpc.Status packed (gRPC's grpc-status-details-bin); status != OK */
    size_t details_len;
    const char *message; /* the refusal for a person (gRPC status message); "" when status is CLX_OK */
    int retry_after_s;   /* > 0: retry later (HTTP Retry-After; the RetryInfo delay) */
} clx_otlp_reply_t;

/* Builds the reply (call once per export: it is counted in the door's metrics). */
void clx_otlp_export_reply(clx_otlp_export_t *x, clx_otlp_reply_t *out);

/* ---- metrics ------------------------------------------------------------------------------ */

/* How an export was answered. */
typedef enum clx_otlp_result {
    CLX_OTLP_SUCCESS = 0, /* every span stored, skipped or ignored (warnings possible) */
    CLX_OTLP_PARTIAL,     /* partial_success: some spans rejected */
    CLX_OTLP_REFUSED,     /* the request was refused (4xx: credential, format, body, limits) */
    CLX_OTLP_RETRY,       /* retry later (503 / UNAVAILABLE) */
    CLX_OTLP_RESULTS
} clx_otlp_result_t;

/* The result's name as /metrics shows it ("success", "partial_success", "refused", "retry_later"). */
const char *clx_otlp_result_name(clx_otlp_result_t r);

/* Counters of one transport since start (each exact on its own; read without locks). */
typedef struct clx_otlp_metrics {
    uint64_t requests[CLX_OTLP_RESULTS]; /* exports by how they were answered */
    uint64_t spans;                      /* spans in exports that were decoded */
    uint64_t events;                     /* spans with GenAI usage made into events (handed to the pipeline) */
    uint64_t ignored;                    /* spans without GenAI usage */
    uint64_t inserted;                   /* events stored */
    uint64_t skipped;                    /* events already stored (a duplicate export): not counted again */
    uint64_t rejected;                   /* spans rejected: by the mapping or by the pipeline */
    uint64_t warnings;                   /* warnings about stored events */
} clx_otlp_metrics_t;

void clx_otlp_door_metrics(const clx_otlp_door_t *d, clx_otlp_transport_t t, clx_otlp_metrics_t *out);

#endif
