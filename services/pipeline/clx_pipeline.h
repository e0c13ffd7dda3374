/*
 * clx_pipeline.h — the one ingestion path both doors call.
 *
 * A door authenticates the request (clx_pipeline_auth), decodes its events into protobuf-c
 * UsageEvent structs, records any per-event decode problem it found (clx_ingest_reject /
 * clx_ingest_warn), and calls clx_pipeline_ingest. The pipeline validates, attributes,
 * prices and fingerprints every event on the caller's thread (CPU only, no I/O), hands the
 * survivors to the group-commit writer, and fills ing->response — the IngestResponse both
 * doors render, each in its own protocol. The door never sees RocksDB, prices or slugs.
 */
#ifndef CLX_PIPELINE_H
#define CLX_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "clx_mem.h"
#include "clx_pricing.h"
#include "clx_settings.h"
#include "clx_writer.h"
#include "costlynx/v1/usage.pb-c.h"

#define CLX_MAX_BATCH 100
/*
 * Per-event limits no real bill reaches, chosen so that every stored value fits an int64
 * with room to spare (sums are 128-bit, see clx_rollup_t):
 * - tokens, per field per event: 10^9 — a hundred times the largest context window offered
 *   today (10M tokens), and above a whole provider batch job reported as one event;
 * - a caller's cost (estimatedCostUsd / estimatedCostNanos): $1,000,000 per event (10^15
 *   nano-dollars) — no single call costs that;
 * - a catalog cost needs no limit of its own: at most 2 x 10^9 tokens are priced (input, of
 *   which cached and cache-write are parts, plus output) at most $1,000,000 per million
 *   tokens (the price parser's limit), so at most 2 x 10^18 nano-dollars, below 2^63.
 */
#define CLX_MAX_TOKENS 1000000000LL /* 10^9 per field per event */
#define CLX_MAX_COST_USD 1000000LL  /* per event, caller's cost */
#define CLX_MAX_COST_NANOS (CLX_MAX_COST_USD * 1000000000LL)
#define CLX_MAX_REQUEST_ID 256
#define CLX_MAX_PROVIDER 64
#define CLX_MAX_MODEL 256
#define CLX_MAX_FEATURE 256

typedef struct clx_pipeline clx_pipeline_t;
typedef struct clx_ingest clx_ingest_t;

/* The pipeline's per-request state; opaque to doors. */
typedef struct clx_ingest_priv clx_ingest_priv_t;

/*
 * One ingest request. The door allocates it (clx_ingest_init), owns it and its arena, and
 * must keep it alive until the request completes.
 */
struct clx_ingest {
    clx_arena_t *arena;       /* the request's memory; everything below lives in it */
    clx_key_info_t key;       /* set by clx_pipeline_auth */
    Costlynx__V1__UsageEvent **events;
    size_t nevents;
    Costlynx__V1__IngestResponse response; /* valid after completion */
    /* after completion: CLX_OK, or CLX_EIO / CLX_ENOSPC / CLX_ESHUTDOWN (nothing stored; answer
     * "retry later") */
    int status;
    void (*done)(clx_ingest_t *ing); /* async completion, called on the writer thread */
    void *data;               /* the door's */
    clx_ingest_priv_t *priv_; /* pipeline-private, in the arena */
};

/* Where the price catalog comes from: a CSV file, or a buffer (the one built in). */
typedef struct clx_catalog_source {
    const char *path; /* when not NULL/empty */
    const char *data;
    size_t len;
} clx_catalog_source_t;

/*
 * Creates the pipeline over its collaborators (all must outlive it) and loads the catalog
 * from source. CLX_OK; otherwise the catalog's error (CLX_ENOTFOUND, CLX_EINVAL with
 * *errmsg naming the line, CLX_EIO) and *out is NULL.
 */
int clx_pipeline_create(clx_settings_t *settings, clx_writer_t *writer, const clx_catalog_source_t *source,
                        clx_pipeline_t **out, char **errmsg);
/* Frees the pipeline and every catalog it has used. NULL is a no-op. */
void clx_pipeline_destroy(clx_pipeline_t *p);
/*
 * The catalog in use. It stays valid until the pipeline is destroyed, even after a reload
 * (replaced catalogs are retired, not freed: requests may still be pricing with them).
 */
const clx_catalog_t *clx_pipeline_catalog(clx_pipeline_t *p);
/*
 * Loads the catalog source again and swaps it in atomically for new requests; stored costs
 * never change. On failure the running catalog stays and *errmsg says why.
 */
int clx_pipeline_reload_catalog(clx_pipeline_t *p, char **errmsg);

/*
 * Prepares ing for n events in arena (ing->events gets n NULL slots the door fills).
 */
void clx_ingest_init(clx_ingest_t *ing, clx_arena_t *arena, size_t n);

/* Authenticates the ingestion key into ing->key: CLX_OK or CLX_EUNAUTH. */
int clx_pipeline_auth(clx_pipeline_t *p, clx_ingest_t *ing, const char *api_key, size_t len);
/*
 * For a door that keeps a request open over many messages (IngestStream): re-checks before
 * each message that the key in *key (from clx_pipeline_auth) is still valid. Costs one atomic
 * load while the settings are unchanged. CLX_OK (*key may be refreshed) or CLX_EUNAUTH
 * (revoked since).
 */
int clx_pipeline_recheck(clx_pipeline_t *p, clx_key_info_t *key, const char *api_key, size_t len);

/*
 * Marks event index as rejected by the door (it could not be decoded): field in proto3
 * JSON spelling, code from the EventError codes. The pipeline reports it and skips it.
 */
void clx_ingest_reject(clx_ingest_t *ing, size_t index, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Adds a warning for event index (e.g. unknown_field). */
void clx_ingest_warn(clx_ingest_t *ing, size_t index, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Runs the request through the pipeline.
 *   1            completed synchronously (nothing needed writing): ing->response is ready,
 *                done() is not called;
 *   0            pending: done() will be called once, from the writer thread;
 *   CLX_EBUSY / CLX_ESHUTDOWN  the writer refused it: nothing stored, answer "retry later"
 *                (503 / UNAVAILABLE); done() is not called.
 */
int clx_pipeline_ingest(clx_pipeline_t *p, clx_ingest_t *ing);

/*
 * A running summary over several requests (IngestStream): counts, and the errors and
 * warnings with indices counted over all events summed so far.
 */
typedef struct clx_ingest_summary {
    Costlynx__V1__IngestResponse response;
    size_t cap_errors, cap_warnings;
    size_t max_notes; /* errors and warnings kept (each); the counts stay exact */
} clx_ingest_summary_t;

void clx_ingest_summary_init(clx_ingest_summary_t *s, size_t max_notes);
/* Adds src with its indices shifted by offset; strings are copied into arena. */
void clx_ingest_summary_add(clx_ingest_summary_t *s, clx_arena_t *arena, const Costlynx__V1__IngestResponse *src,
                            uint32_t offset);

/* Counters since start, for /metrics (read without locks; each value is exact on its own). */
typedef struct clx_pipeline_metrics {
    uint64_t requests;          /* ingest requests that reached the pipeline */
    uint64_t refused;           /* requests answered "retry later" (queue full, shutting down) */
    uint64_t failed;            /* requests whose storage write failed */
    uint64_t inserted, skipped, rejected, warnings; /* events / warnings in answers */
    clx_writer_stats_t writer;
} clx_pipeline_metrics_t;
void clx_pipeline_metrics(clx_pipeline_t *p, clx_pipeline_metrics_t *out);

/* Pipeline stages, exposed for unit tests and for the doors' shared wording. */

/* Validation result for one event: field is NULL when the event is valid. */
typedef struct clx_problem {
    const char *field;
    const char *code;
    char message[200];
} clx_problem_t;

/* validate.c: required fields, lengths, UTF-8, token ranges and token semantics. */
int clx_validate_event(const Costlynx__V1__UsageEvent *ev, clx_problem_t *problem);
/*
 * The text rule for one id / label field (clx_text_check: UTF-8, no NUL, no control but
 * tab): CLX_OK, or CLX_EINVAL with problem naming field, code "invalid_value". s holds len
 * bytes and may hold a NUL: a door that knows a string's true length checks it here before
 * the string becomes a C string, so every door words the refusal alike.
 */
int clx_validate_text(const char *field, const char *s, size_t len, clx_problem_t *problem);

#endif
