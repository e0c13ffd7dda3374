/*
 * door.c — the OTLP door behind both transports: credential, decode and mapping, the spans'
 * events cut into requests of CLX_MAX_BATCH under one session and summed, the OTLP answer or
 * a google.rpc.Status, and the per-transport counters. Protocol-free: the entries in
 * services/rest and services/grpc carry bytes in and out.
 */
#include "clx_otlp_door.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_text.h"
#include "clx_utf8.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "otlp_internal.h"

#define RETRY_AFTER_S 1 /* the delay a retry-later answer asks for (Retry-After, RetryInfo) */
#define CHUNK_ARENA (16 * 1024)

struct counters {
    atomic_uint_fast64_t requests[CLX_OTLP_RESULTS];
    atomic_uint_fast64_t spans, events, ignored, inserted, skipped, rejected, warnings;
};

struct clx_otlp_door {
    clx_pipeline_t *pipeline;
    clx_otlp_limits_t limits;
    struct counters count[CLX_OTLP_TRANSPORTS];
};

/* One request of at most CLX_MAX_BATCH events: its own arena (the first uses the export's). */
struct chunk {
    clx_otlp_export_t *x;
    clx_arena_t *arena;
    clx_ingest_t *ing;
    size_t first, n; /* events[first, first + n) of the export */
    int started;     /* handed to the pipeline (its answer is read in finish) */
};

struct clx_otlp_export {
    clx_otlp_door_t *door;
    clx_otlp_transport_t transport;
    clx_arena_t *arena;
    clx_otlp_format_t fmt;
    clx_ingest_session_t *session;
    int status; /* CLX_OK, or the refusal's clx_err_t (error says why) */
    clx_otlp_error_t error;
    int mapped; /* batch holds the mapping of a decoded request */
    clx_otlp_batch_t batch;
    struct chunk *chunks;
    size_t nchunks;
    atomic_size_t pending; /* chunks not answered yet, plus one held by submit while it runs */
    int begin_status;      /* a request's begin refused (the key was revoked meanwhile): none submitted */
    clx_otlp_done_fn done;
    void *done_data;
    /* the outcome, once every chunk was answered */
    int64_t inserted, skipped, rejected, warnings;
    const char *message; /* the first problem (or warning), "" when none */
};

/* ---- the door ------------------------------------------------------------------------------- */

int clx_otlp_door_create(const clx_otlp_door_config_t *cfg, clx_otlp_door_t **out)
{
    clx_otlp_door_t *d = clx_xcalloc(1, sizeof(*d));
    d->pipeline = cfg->pipeline;
    d->limits = cfg->limits != NULL ? *cfg->limits : clx_otlp_default_limits;
    d->limits.usage_only = 1; /* decode only what the mapping reads (prompts are never copied) */
    if (cfg->max_body != 0)
        d->limits.max_body = cfg->max_body;
    *out = d;
    return CLX_OK;
}

void clx_otlp_door_destroy(clx_otlp_door_t *d)
{
    free(d);
}

size_t clx_otlp_door_max_body(const clx_otlp_door_t *d)
{
    return d->limits.max_body;
}

static const char *const result_names[CLX_OTLP_RESULTS] = {
    [CLX_OTLP_SUCCESS] = "success",
    [CLX_OTLP_PARTIAL] = "partial_success",
    [CLX_OTLP_REFUSED] = "refused",
    [CLX_OTLP_RETRY] = "retry_later",
};

const char *clx_otlp_result_name(clx_otlp_result_t r)
{
    return (int)r >= 0 && r < CLX_OTLP_RESULTS ? result_names[r] : "";
}

void clx_otlp_door_metrics(const clx_otlp_door_t *d, clx_otlp_transport_t t, clx_otlp_metrics_t *out)
{
    const struct counters *c = &d->count[t];
    for (int r = 0; r < CLX_OTLP_RESULTS; r++)
        out->requests[r] = atomic_load(&c->requests[r]);
    out->spans = atomic_load(&c->spans);
    out->events = atomic_load(&c->events);
    out->ignored = atomic_load(&c->ignored);
    out->inserted = atomic_load(&c->inserted);
    out->skipped = atomic_load(&c->skipped);
    out->rejected = atomic_load(&c->rejected);
    out->warnings = atomic_load(&c->warnings);
}

/* ---- the steps ------------------------------------------------------------------------------ */

clx_otlp_export_t *clx_otlp_export_init(clx_otlp_door_t *d, clx_otlp_transport_t t, clx_arena_t *arena)
{
    clx_otlp_export_t *x = clx_arena_zalloc(arena, sizeof(*x));
    x->door = d;
    x->transport = t;
    x->arena = arena;
    /* gRPC carries protobuf; an HTTP refusal before the Content-Type is read is answered in JSON */
    x->fmt = t == CLX_OTLP_GRPC ? CLX_OTLP_PROTOBUF : CLX_OTLP_JSON;
    x->message = "";
    return x;
}

/* Records the refusal (the first one stands) and returns err. */
static int vfail(clx_otlp_export_t *x, int err, clx_code_t code, const char *fmt, va_list ap)
{
    if (x->status != CLX_OK)
        return x->status;
    x->status = err;
    x->error.code = code;
    x->error.name = code != CLX_CODE_NONE ? clx_code_name(code) : clx_err_name(err);
    vsnprintf(x->error.message, sizeof(x->error.message), fmt, ap);
    return err;
}

static int failf(clx_otlp_export_t *x, int err, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int failf(clx_otlp_export_t *x, int err, clx_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(x, err, code, fmt, ap);
    va_end(ap);
    return rc;
}

void clx_otlp_export_fail(clx_otlp_export_t *x, int err, clx_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(x, err, code, fmt, ap);
    va_end(ap);
}

/* A refusal from the decoder, kept as it said it. */
static int refused(clx_otlp_export_t *x, int err, const clx_otlp_error_t *why)
{
    if (x->status == CLX_OK) {
        x->status = err;
        x->error = *why;
    }
    return err;
}

int clx_otlp_export_format(clx_otlp_export_t *x, const char *content_type, size_t len)
{
    clx_otlp_error_t why;
    int rc = clx_otlp_media_type(content_type, len, &x->fmt, &why);
    return rc == CLX_OK ? CLX_OK : refused(x, rc, &why);
}

/* How each transport names the credential's carriers, for the refusals. */
static const struct {
    const char *missing, *unknown, *scheme;
} credential_words[CLX_OTLP_TRANSPORTS] = {
    [CLX_OTLP_HTTP] = {"no ingestion key: send it in the x-api-key header (or Authorization: Bearer <key>)",
                       "unknown or revoked ingestion key",
                       "the Authorization header must be 'Bearer <ingestion key>' (or send the key in x-api-key)"},
    [CLX_OTLP_GRPC] = {"no ingestion key: send it in the x-api-key metadata entry (or authorization: Bearer <key>)",
                       "unknown or revoked ingestion key",
                       "the authorization metadata entry must be 'Bearer <ingestion key>' (or send the key in "
                       "x-api-key)"},
};

int clx_otlp_export_auth(clx_otlp_export_t *x, const char *key, size_t key_len, const char *authorization,
                         size_t auth_len)
{
    if (key == NULL || key_len == 0) {
        if (authorization == NULL || auth_len == 0)
            return failf(x, CLX_EUNAUTH, CLX_CODE_NONE, "%s", credential_words[x->transport].missing);
        if (!clx_bearer_token(authorization, auth_len, &key, &key_len))
            return failf(x, CLX_EUNAUTH, CLX_CODE_NONE, "%s", credential_words[x->transport].scheme);
    }
    if (clx_ingest_authenticate(x->door->pipeline, key, key_len, x->arena, &x->session) != CLX_OK)
        return failf(x, CLX_EUNAUTH, CLX_CODE_NONE, "%s", credential_words[x->transport].unknown);
    return CLX_OK;
}

int clx_otlp_export_decode(clx_otlp_export_t *x, const void *body, size_t len, const char *content_encoding,
                           size_t enc_len)
{
    const clx_otlp_limits_t *lim = &x->door->limits;
    clx_otlp_request_t *req;
    clx_otlp_error_t why;
    int rc;

    if (content_encoding != NULL && enc_len > 0) {
        /* HTTP: the encoding is refused or undone exactly as clx_otlp_decode_http does */
        static const char *const type_of[] = {
            [CLX_OTLP_PROTOBUF] = "application/x-protobuf", [CLX_OTLP_JSON] = "application/json"};
        const char *t = type_of[x->fmt];
        rc = clx_otlp_decode_http(body, len, t, strlen(t), content_encoding, enc_len, lim, x->arena, NULL, &req, &why);
    } else {
        rc = clx_otlp_decode(body, len, x->fmt, lim, x->arena, &req, &why);
    }
    if (rc != CLX_OK)
        return refused(x, rc, &why);
    clx_otlp_map(req, lim, x->arena, &x->batch);
    x->mapped = 1;
    return CLX_OK;
}

/* ---- submitting: requests of CLX_MAX_BATCH, summed ------------------------------------------ */

/* The prefix every problem of the answer starts with names the span. */
static const char *span_message(clx_otlp_export_t *x, uint32_t event_index, const char *message)
{
    uint32_t span = event_index < x->batch.nrecords ? x->batch.records[event_index].span_index : event_index;
    return clx_arena_printf(x->arena, "span %u: %s", (unsigned)span, message);
}

/*
 * Every request was answered: their outcomes summed in span order into the export's answer.
 * Runs on the thread that answered last, alone with the export.
 */
static void finish(clx_otlp_export_t *x)
{
    const clx_otlp_batch_t *b = &x->batch;
    clx_ingest_summary_t sum;
    int status = x->begin_status;
    int64_t warnings = 0;

    clx_ingest_summary_init(&sum, 1); /* the first error and warning are what the answer names */
    for (size_t k = 0; k < x->nchunks; k++) {
        struct chunk *ch = &x->chunks[k];
        if (!ch->started)
            continue;
        int st = clx_ingest_status(ch->ing);
        if (st != CLX_OK) {
            if (status == CLX_OK)
                status = st;
            continue;
        }
        const Costlynx__V1__IngestResponse *r = clx_ingest_response(ch->ing);
        warnings += (int64_t)r->n_warnings;
        clx_ingest_summary_add(&sum, x->arena, r, (uint32_t)ch->first);
    }
    for (size_t k = 1; k < x->nchunks; k++) /* the summary copied what it keeps */
        clx_arena_destroy(x->chunks[k].arena);
    if (status == CLX_EUNAUTH) {
        failf(x, status, CLX_CODE_NONE, "the ingestion key was revoked during the export: nothing of it was stored");
        return;
    }
    if (status != CLX_OK) {
        failf(x, status, CLX_CODE_NONE,
              "%s: retry the export (spans already stored are recognised by their ids and skipped)",
              clx_strerror(status));
        return;
    }
    const Costlynx__V1__IngestResponse *r = &sum.response;
    x->inserted = r->inserted;
    x->skipped = r->skipped;
    x->rejected = (int64_t)b->rejected + r->rejected;
    x->warnings = warnings;

    /* the first problem in span order: the mapping's or the pipeline's */
    const char *first = NULL;
    uint32_t first_span = UINT32_MAX;
    if (b->nrejects > 0) {
        first = b->rejects[0].message; /* "span N: ..." already */
        first_span = b->rejects[0].span_index;
    }
    if (r->n_errors > 0 && r->errors[0]->index < b->nrecords && b->records[r->errors[0]->index].span_index < first_span)
        first = span_message(x, r->errors[0]->index, r->errors[0]->message);
    if (first != NULL) {
        x->message = x->rejected > 1
                         ? clx_arena_printf(x->arena, "%s (%lld spans rejected in all)", first, (long long)x->rejected)
                         : first;
    } else if (r->n_warnings > 0) {
        const char *w = span_message(x, r->warnings[0]->index, r->warnings[0]->message);
        x->message = warnings > 1 ? clx_arena_printf(x->arena, "%s (%lld warnings in all)", w, (long long)warnings) : w;
    }
}

/* Writer thread (or submit's, for an answer ready at once): one request was answered. */
static void chunk_done(clx_ingest_t *ing, void *data)
{
    struct chunk *ch = data;
    clx_otlp_export_t *x = ch->x;
    (void)ing;
    if (atomic_fetch_sub(&x->pending, 1) == 1) {
        finish(x);
        x->done(x, x->done_data);
    }
}

int clx_otlp_export_submit(clx_otlp_export_t *x, clx_otlp_done_fn done, void *data)
{
    const clx_otlp_batch_t *b = &x->batch;
    size_t n = b->nrecords;

    x->done = done;
    x->done_data = data;
    if (x->status != CLX_OK)
        return 1;
    /* everything the requests read is made before the first one goes: from then on this thread
     * touches only its chunk's arena, as the writer thread may be finishing the first request
     * in the export's */
    Costlynx__V1__UsageEvent *evs = clx_arena_alloc(x->arena, (n ? n : 1) * sizeof(*evs));
    Costlynx__V1__UsageEvent **events = clx_arena_alloc(x->arena, (n ? n : 1) * sizeof(*events));
    for (size_t i = 0; i < n; i++) {
        clx_otlp_usage_to_event(&b->records[i], x->arena, &evs[i]);
        events[i] = &evs[i];
    }
    x->nchunks = (n + CLX_MAX_BATCH - 1) / CLX_MAX_BATCH;
    x->chunks = clx_arena_zalloc(x->arena, (x->nchunks ? x->nchunks : 1) * sizeof(*x->chunks));
    for (size_t k = 0; k < x->nchunks; k++) {
        struct chunk *ch = &x->chunks[k];
        ch->x = x;
        ch->arena = k == 0 ? x->arena : clx_arena_create(CHUNK_ARENA);
        ch->first = k * CLX_MAX_BATCH;
        ch->n = n - ch->first < CLX_MAX_BATCH ? n - ch->first : CLX_MAX_BATCH;
    }
    /* Every request is begun before the first is submitted: begin re-checks the session's key
     * (and may refresh the session), which the writer reads for the requests it holds. A key
     * revoked since auth so refuses the whole export, with nothing stored. */
    for (size_t k = 0; k < x->nchunks; k++) {
        struct chunk *ch = &x->chunks[k];
        int rc = clx_ingest_begin(x->session, ch->arena, events + ch->first, ch->n, &ch->ing);
        if (rc != CLX_OK) {
            x->begin_status = rc;
            finish(x);
            return 1;
        }
    }
    atomic_store(&x->pending, x->nchunks + 1);
    for (size_t k = 0; k < x->nchunks; k++) {
        struct chunk *ch = &x->chunks[k];
        ch->started = 1;
        if (clx_ingest_submit(ch->ing, chunk_done, ch))
            atomic_fetch_sub(&x->pending, 1); /* answered at once; submit's own share keeps pending > 0 */
    }
    if (atomic_fetch_sub(&x->pending, 1) == 1) { /* submit's own share, last */
        finish(x);
        return 1;
    }
    return 0;
}

/* ---- the reply ------------------------------------------------------------------------------ */

static const char *const content_types[] = {
    [CLX_OTLP_PROTOBUF] = "application/x-protobuf",
    [CLX_OTLP_JSON] = "application/json",
};

/* Packs msg into a google.protobuf.Any of type_name, in arena. */
static void pack_any(const ProtobufCMessage *msg, const char *type_name, clx_arena_t *arena, Google__Protobuf__Any *any)
{
    google__protobuf__any__init(any);
    any->type_url = clx_arena_printf(arena, "type.googleapis.com/%s", type_name);
    any->value.len = protobuf_c_message_get_packed_size(msg);
    any->value.data = clx_arena_alloc(arena, any->value.len ? any->value.len : 1);
    protobuf_c_message_pack(msg, any->value.data);
}

/*
 * The refusal as a google.rpc.Status: packed (always, for gRPC's details) and, for HTTP, in the
 * request's format. name goes in an ErrorInfo (domain "costlynx"), the delay in a RetryInfo.
 */
static void status_reply(clx_otlp_export_t *x, const char *message, clx_otlp_reply_t *out)
{
    Google__Rpc__ErrorInfo info;
    Google__Rpc__RetryInfo retry;
    Google__Protobuf__Duration delay;
    Google__Protobuf__Any any[2], *anyp[2] = {&any[0], &any[1]};
    Google__Rpc__Status st;

    google__rpc__error_info__init(&info);
    info.reason = (char *)x->error.name;
    info.domain = (char *)"costlynx";
    pack_any(&info.base, "google.rpc.ErrorInfo", x->arena, &any[0]);
    google__rpc__status__init(&st);
    st.code = clx_err_grpc_status(x->status);
    st.message = (char *)message;
    st.details = anyp;
    st.n_details = 1;
    if (out->retry_after_s > 0) {
        google__protobuf__duration__init(&delay);
        delay.seconds = out->retry_after_s;
        google__rpc__retry_info__init(&retry);
        retry.retry_delay = &delay;
        pack_any(&retry.base, "google.rpc.RetryInfo", x->arena, &any[1]);
        st.n_details = 2;
    }
    out->details_len = google__rpc__status__get_packed_size(&st);
    uint8_t *packed = clx_arena_alloc(x->arena, out->details_len ? out->details_len : 1);
    google__rpc__status__pack(&st, packed);
    out->details = packed;
    if (x->fmt == CLX_OTLP_PROTOBUF) {
        out->body = packed;
        out->len = out->details_len;
        return;
    }
    /* OTLP/JSON: the Status in proto3 JSON; each quoted string takes at most 6 bytes a byte */
    char *buf = clx_arena_alloc(x->arena, 256 + 6 * (strlen(message) + strlen(x->error.name)));
    size_t n = (size_t)sprintf(buf, "{\"code\":%d,\"message\":", st.code);
    n += clx_otlp_json_quote(buf + n, message);
    n += (size_t)sprintf(buf + n, ",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":");
    n += clx_otlp_json_quote(buf + n, x->error.name);
    n += (size_t)sprintf(buf + n, ",\"domain\":\"costlynx\"}");
    if (out->retry_after_s > 0)
        n +=
            (size_t)sprintf(buf + n, ",{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"%ds\"}",
                            out->retry_after_s);
    n += (size_t)sprintf(buf + n, "]}");
    out->body = buf;
    out->len = n;
}

void clx_otlp_export_reply(clx_otlp_export_t *x, clx_otlp_reply_t *out)
{
    struct counters *c = &x->door->count[x->transport];
    clx_otlp_result_t result;

    memset(out, 0, sizeof(*out));
    out->status = x->status;
    out->content_type = content_types[x->fmt];
    if (x->mapped) {
        atomic_fetch_add_explicit(&c->spans, x->batch.spans, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->events, x->batch.nrecords, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->ignored, x->batch.ignored, memory_order_relaxed);
    }
    if (x->status == CLX_OK) {
        out->message = "";
        clx_otlp_answer(x->fmt, x->rejected, x->message, x->arena, &out->body, &out->len);
        result = x->rejected > 0 ? CLX_OTLP_PARTIAL : CLX_OTLP_SUCCESS;
        atomic_fetch_add_explicit(&c->inserted, (uint64_t)x->inserted, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->skipped, (uint64_t)x->skipped, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->rejected, (uint64_t)x->rejected, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->warnings, (uint64_t)x->warnings, memory_order_relaxed);
    } else {
        /* 503 / UNAVAILABLE is the one transient answer: the exporter retries with the same spans */
        int transient = clx_err_http_status(x->status) == 503;
        out->retry_after_s = transient ? RETRY_AFTER_S : 0;
        out->message = clx_utf8_sanitize(x->arena, x->error.message);
        status_reply(x, out->message, out);
        result = transient ? CLX_OTLP_RETRY : CLX_OTLP_REFUSED;
    }
    atomic_fetch_add_explicit(&c->requests[result], 1, memory_order_relaxed);
}
