/*
 * clx_ingest.h — the door API: the only header a door includes to ingest usage.
 *
 * A door (REST, gRPC; next OTLP and bulk NDJSON import) speaks its protocol and nothing
 * else. It never sees the writer, the store or the settings: it turns the caller's
 * credential into a session, its payload into protobuf-c UsageEvents, and the answer
 * (an IngestResponse, or a clx_err_t) into its own protocol. In order:
 *
 *   1. clx_ingest_authenticate   the ingestion key (x-api-key, or an OTLP door's Bearer
 *                                token) -> a session. One session may carry many requests:
 *                                a gRPC IngestStream's messages, an import's chunks.
 *   2. clx_ingest_begin          a request of n decoded events under the session; re-checks
 *                                (one atomic load while nothing changed) that the key was
 *                                not revoked since the session opened.
 *   3. clx_ingest_reject/_warn   what the decoder found about event i (enum codes).
 *   4. clx_ingest_submit         validate -> attribute -> price -> fingerprint on this thread
 *                                (CPU only), then the durable write on the writer thread. The
 *                                answer is ready at once, or done() is called later, once.
 *   5. clx_ingest_status/response  read the answer back.
 *
 * Threads: 1-4 run on the door's thread; done() runs on the writer thread (a door hands
 * the answer back to the thread that owns the connection); 5 is read in done() or after
 * it. Memory: sessions and requests live in arenas the door owns; the door keeps them
 * (and the events) alive until the answer was read, and frees them with the arena.
 *
 * Corrections (void, amend) have their own begin functions under the same kind of session (an
 * ingestion key's, or clx_ingest_admin_session's), and share submit and status; their outcome is
 * read with clx_ingest_correction. The writer orders them with ingestion.
 */
#ifndef CLX_INGEST_H
#define CLX_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "clx_error.h"
#include "clx_mem.h"
#include "costlynx/v1/usage.pb-c.h"

/* Events in one request (a REST body, a gRPC message); a door refuses more before begin. */
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
/* issue 10: the end user, free tags, per-call fees */
#define CLX_MAX_USER_ID 256
#define CLX_MAX_TAGS 16    /* tags per event */
#define CLX_MAX_TAG_KEY 64 /* bytes of [a-z0-9_.-] */
#define CLX_MAX_TAG_VALUE 256
#define CLX_MAX_SERVICE_TIER 32
#define CLX_MAX_CALLS 1000000LL /* webSearchCalls per event: no single call searches more */

typedef struct clx_pipeline clx_pipeline_t;
typedef struct clx_ingest_session clx_ingest_session_t;
typedef struct clx_ingest clx_ingest_t;

/*
 * Authenticates an ingestion key (len bytes, not NUL-terminated) into a session allocated
 * in arena (the key is copied: the session may outlive the door's header buffers).
 * CLX_OK with *out; CLX_EUNAUTH for a missing, unknown or revoked key (*out untouched).
 */
int clx_ingest_authenticate(clx_pipeline_t *p, const char *key, size_t len, clx_arena_t *arena,
                            clx_ingest_session_t **out);

/*
 * Lifts the workspace's event-time window for timestamps in the past for the session's requests
 * (a bulk import's ?allowOld=true: the door checked the admin token). The window ahead stays.
 */
void clx_ingest_session_allow_old(clx_ingest_session_t *s);

/*
 * Re-checks that the session's key was not revoked (a stream, before each message): one
 * atomic load while no setting changed, else the key is authenticated again and the
 * session's view of it refreshed. CLX_OK or CLX_EUNAUTH. clx_ingest_begin does the same.
 */
int clx_ingest_session_check(clx_ingest_session_t *s);

/*
 * Starts a request of n events (0 < n; the door enforces CLX_MAX_BATCH) under session s, in
 * arena. The request adopts events (n pointers; a NULL slot is an event the door could not
 * decode and must reject): they and arena must stay valid until the answer was read.
 * CLX_OK with *out; CLX_EUNAUTH when the session's key was revoked since it opened (then
 * nothing of the request exists; a stream answers UNAUTHENTICATED and ends).
 */
int clx_ingest_begin(clx_ingest_session_t *s, clx_arena_t *arena, Costlynx__V1__UsageEvent **events, size_t n,
                     clx_ingest_t **out);

/*
 * Event index could not be decoded: it is reported with field (proto3 JSON spelling) and
 * code, and never stored. Only the first problem of an event counts. fmt is the sentence
 * a person reads.
 */
void clx_ingest_reject(clx_ingest_t *ing, size_t index, const char *field, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A warning about event index found while decoding (e.g. CLX_CODE_UNKNOWN_FIELD); kept even when skipped. */
void clx_ingest_warn(clx_ingest_t *ing, size_t index, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * What is wrong with one event (or one member of a body): the field to blame (proto3 JSON
 * spelling; NULL while nothing is wrong), the code, its name (what callers see) and a
 * sentence a person can act on. The stages fill it; a door may fill one too.
 */
typedef struct clx_problem {
    const char *field;
    clx_code_t code_id;
    const char *code; /* clx_code_name(code_id) */
    char message[512];
} clx_problem_t;

/* Fills *p (the name from the code table) and returns CLX_EINVAL. */
int clx_problem_set(clx_problem_t *p, const char *field, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The text rule for one id / label field (clx_text_check: UTF-8, no NUL, no control but
 * tab): CLX_OK, or CLX_EINVAL with problem naming field, code CLX_CODE_INVALID_VALUE. s
 * holds len bytes and may hold a NUL: a door that knows a string's true length checks it
 * here before the string becomes a C string, so every door words the refusal alike.
 */
int clx_validate_text(const char *field, const char *s, size_t len, clx_problem_t *problem);

/* Completion of a submitted request: on the writer thread, exactly once, unless submit returned 1. */
typedef void (*clx_ingest_done_fn)(clx_ingest_t *ing, void *data);

/*
 * Runs the request through the pipeline. Returns
 *   1  the answer is ready now (nothing needed writing, or the writer refused the request:
 *      status CLX_EBUSY / CLX_ESHUTDOWN); done() is never called;
 *   0  done(ing, data) will be called once, from the writer thread, after the synced write.
 */
int clx_ingest_submit(clx_ingest_t *ing, clx_ingest_done_fn done, void *data);

/*
 * The answer. status: CLX_OK (the response holds the outcome of every event), or
 * CLX_EBUSY / CLX_ESHUTDOWN / CLX_EIO / CLX_ENOSPC: nothing of the request was stored, the
 * caller retries with the same ids (503 / UNAVAILABLE through the error table).
 */
int clx_ingest_status(const clx_ingest_t *ing);
/*
 * Valid when status is CLX_OK; lives in the request's arena. The door may adapt its strings
 * to its protocol before rendering it (e.g. replace bytes a proto3 client would refuse).
 */
Costlynx__V1__IngestResponse *clx_ingest_response(clx_ingest_t *ing);

/*
 * A running answer over many requests of one session (IngestStream, import chunks): counts,
 * and the errors and warnings with their indices counted over all events summed so far.
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
/*
 * Counts n events that the door refused whole (e.g. a stream message over CLX_MAX_BATCH) as
 * rejected, each with field, code and the sentence fmt, indices from offset.
 */
void clx_ingest_summary_reject(clx_ingest_summary_t *s, clx_arena_t *arena, Costlynx__V1__UsageEvent *const *events,
                               size_t n, uint32_t offset, const char *field, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* ---- corrections (issue 11) -------------------------------------------------------------------- */

#define CLX_MAX_VOID 1000 /* requestIds in one void */

/*
 * A session of the admin token acting on workspace (the door checked the token): for
 * corrections; what they record as made "by" it is "admin". CLX_OK with *out; CLX_ENOTFOUND
 * when there is no such workspace.
 */
int clx_ingest_admin_session(clx_pipeline_t *p, const char *workspace, clx_arena_t *arena,
                             clx_ingest_session_t **out);
/*
 * The same for a door that has not checked the admin token itself (gRPC): token (len bytes, not
 * NUL-terminated) must be the admin token. CLX_OK with *out; CLX_EUNAUTH for a wrong token;
 * CLX_ENOTFOUND when there is no such workspace.
 */
int clx_ingest_admin_authenticate(clx_pipeline_t *p, const char *token, size_t len, const char *workspace,
                                  clx_arena_t *arena, clx_ingest_session_t **out);

/*
 * A void of n requestIds (1..CLX_MAX_VOID, NUL-terminated, the door checked their text) with
 * reason (may be ""), in arena: each stored event is marked voided and leaves every total; one
 * already voided, or unknown, changes nothing. Strings must outlive the request.
 * CLX_OK with *out; CLX_EUNAUTH when the session's key was revoked.
 */
int clx_ingest_begin_void(clx_ingest_session_t *s, clx_arena_t *arena, char **request_ids, size_t n,
                          const char *reason, clx_ingest_t **out);

/*
 * An amend of request_id: the fields named (proto3 JSON names, nfields of them) take set's
 * values — a name whose value set leaves unset clears the field — and the event is validated,
 * attributed and priced again as if ingested so (at its original time, under this session's
 * key lock and the workspace's strict mode). A name that is not amendable is an error naming it
 * (clx_ingest_response errors[0]), found at submit. Strings must outlive the request.
 * CLX_OK with *out; CLX_EUNAUTH when the session's key was revoked.
 */
int clx_ingest_begin_amend(clx_ingest_session_t *s, clx_arena_t *arena, const char *request_id,
                           Costlynx__V1__UsageEvent *set, char **fields, size_t nfields, const char *reason,
                           clx_ingest_t **out);

/* 1 when an amend may change the field name (proto3 JSON spelling), else 0. */
int clx_ingest_amendable(const char *name);

/* The outcome of a void or an amend, once clx_ingest_status is CLX_OK. */
typedef struct clx_correction_result {
    /* void */
    int64_t voided, already_voided, not_found;
    /*
     * amend: CLX_OK (event is the new version, in the request's arena; the response's warnings
     * are what the stages warned about); CLX_ENOTFOUND; CLX_EINVAL (the response's errors[0]
     * names the field; nothing changed); CLX_EEXIST with code CLX_CODE_EVENT_VOIDED or
     * CLX_CODE_VERSION_CONFLICT (another correction won the race: send it again).
     */
    int amend;
    clx_code_t amend_code;
    const struct Costlynx__Store__V1__StoredEvent *event;
} clx_correction_result_t;
void clx_ingest_correction(clx_ingest_t *ing, clx_correction_result_t *out);

/* ---- reprice (issue 11) --------------------------------------------------------------------------- */

typedef struct clx_reprice_result clx_reprice_result_t;
typedef struct clx_reprice_query {
    int64_t from_ms, to_ms; /* event time in [from, to); 0: open */
    const char *provider;   /* normalised; NULL: any */
    const char *model;      /* as stored (sent); NULL: any */
    int dry_run;            /* count only; else write the new versions */
    /* called on the reprice's thread every CLX_REPRICE_PROGRESS events scanned and after each
     * batch written, with the counts so far (scanned, eligible, changed, applied, conflicts;
     * not the models); non-zero stops the run (CLX_ESHUTDOWN, what is pending is still
     * written first); NULL: none */
    int (*progress)(void *arg, const clx_reprice_result_t *so_far);
    void *progress_arg;
} clx_reprice_query_t;
#define CLX_REPRICE_PROGRESS 4096

/* One (provider, model) of the events a reprice would change, and their cost before and after. */
typedef struct clx_reprice_model {
    const char *provider, *model;
    int64_t events;
    __int128 old_nanos, new_nanos;
} clx_reprice_model_t;

struct clx_reprice_result {
    int64_t scanned;   /* the workspace's events read */
    int64_t eligible;  /* in range and filter, not voided, not priced by the caller */
    int64_t changed;   /* priced differently by today's catalog and the workspace's terms */
    int64_t applied;   /* of those, written as a new version (apply only) */
    int64_t conflicts; /* changed meanwhile by another correction: left for the next run */
    __int128 old_nanos, new_nanos; /* of the changed events */
    clx_reprice_model_t *models;   /* by provider and model, at most CLX_REPRICE_MODELS (the rest in one "*") */
    size_t nmodels;
};
#define CLX_REPRICE_MODELS 200

/*
 * Prices every eligible event of the session's workspace again with the catalog and the
 * workspace's terms in force now, at the event's time, and (unless dry_run) writes each one
 * priced differently as a new version (change "reprice", by "admin" or the key, reason
 * "reprice") in writer requests of 1,000, each awaited — so it BLOCKS: call it on a thread of
 * its own, never on a loop. Idempotent: a second run finds nothing to change. The result lives
 * in arena. CLX_OK; CLX_EIO (the scan failed); CLX_ESHUTDOWN (progress asked to stop, or the
 * writer is stopping) / CLX_EBUSY / CLX_ENOSPC (a write was refused): what was applied so far is in
 * *out, the rest was not written — a later run finishes it.
 */
int clx_ingest_reprice(clx_ingest_session_t *s, clx_arena_t *arena, const clx_reprice_query_t *q,
                       clx_reprice_result_t *out);

/*
 * A small durable note for a door's running reprice jobs (text, replaced whole, synced), so that
 * after a restart the door can report the ones the restart interrupted. CLX_OK, CLX_EIO or
 * CLX_ENOSPC. _load: the note as last saved (*text malloc'd, NUL-terminated, caller frees; NULL
 * when there is none); CLX_OK or CLX_EIO.
 */
int clx_ingest_jobs_save(clx_pipeline_t *p, const char *text, size_t len);
int clx_ingest_jobs_load(clx_pipeline_t *p, char **text);

/* Counters since start, for /metrics (read without locks; each value is exact on its own). */
typedef struct clx_ingest_metrics {
    uint64_t requests; /* ingest requests that reached the pipeline */
    uint64_t refused;  /* answered "retry later" (queue full, shutting down) */
    uint64_t failed;   /* requests whose storage write failed */
    uint64_t inserted; /* events in answers, by outcome */
    uint64_t skipped;
    uint64_t rejected;
    uint64_t warnings;           /* warnings in answers */
    uint64_t synced_writes;      /* the writer's group commits */
    uint64_t writer_requests;    /* requests the writer completed */
    const char *catalog_version; /* the running catalog; lives as long as the pipeline */
    size_t catalog_prices;
} clx_ingest_metrics_t;
void clx_ingest_metrics(clx_pipeline_t *p, clx_ingest_metrics_t *out);

/*
 * The budget check (issue 12): the budgets a call would be charged to, answered from memory.
 * project and environment default as ingestion's do (the key's defaults; a key locked to an
 * environment checks that one); NULL or "" is none; user_id and tags match user and tag
 * budgets. *out and its strings live in arena. CLX_OK; CLX_EINVAL with *why naming the field
 * (longer than an event's, not text, more than CLX_MAX_TAGS tags, a bad tag key); CLX_EUNAUTH
 * when the key was revoked since the session opened. Without budgets wired (no hook set),
 * every call is allowed and no budget is listed.
 */
typedef struct clx_budget_call {
    const char *project, *environment, *feature, *user_id;
    const char *const *tag_keys, *const *tag_values;
    size_t ntags;
} clx_budget_call_t;
int clx_ingest_check_budget(clx_ingest_session_t *s, const clx_budget_call_t *call, clx_arena_t *arena,
                            Costlynx__V1__CheckBudgetResponse *out, clx_problem_t *why);

#endif
