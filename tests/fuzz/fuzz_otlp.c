/*
 * fuzz_otlp.c — libFuzzer harness for the OTLP door's input path. One input is a mode byte
 * and an export body: mode % 4 picks protobuf (0), OTLP/JSON (1), gzip + protobuf (2) or
 * gzip + JSON (3), as an OTLP/HTTP request's Content-Type and Content-Encoding would. The body
 * is decoded with the door's limits (clx_otlp_decode_http), its spans mapped to usage records
 * (clx_otlp_map) and their UsageEvents taken through the door API and clx_pipeline_prepare in
 * requests of CLX_MAX_BATCH, as the door cuts them: validation, attribution against real
 * settings (a temp RocksDB made once), pricing, the packing of what would be stored. The OTLP
 * answer is rendered in both formats and read back. A refused body goes through the door's own
 * steps (clx_otlp_door.h) to its reply, whose google.rpc.Status must unpack and agree. Nothing is
 * written (no submit). A protobuf body is decoded twice: as the door does (only what the
 * mapping reads, limits.usage_only) and whole, and both must map to the same records.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_otlp.h"
#include "clx_otlp_door.h"
#include "clx_pipeline.h"
#include "clx_settings.h"
#include "clx_store.h"
#include "clx_utf8.h"
#include "clx_writer.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "pipeline_internal.h"

#define NOW_MS 1767225600000 /* fixed time: a run must not depend on the clock */

static clx_pipeline_t *pipeline;
static clx_otlp_door_t *door;
static char secret[CLX_KEY_SECRET_LEN + 1];
/* the default limits scaled down (the same code checks them), so that one input stays cheap */
static clx_otlp_limits_t limits;

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "fuzz_otlp: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *err = NULL;
    char dir[] = "/tmp/clx-fuzz-otlp-XXXXXX";
    clx_store_t *store = NULL;
    clx_settings_t *settings = NULL;
    clx_writer_t *writer = NULL;
    clx_settings_problem_t p;
    clx_apikey_t k;
    clx_log_set_level(CLX_LOG_ERROR);
    limits = clx_otlp_default_limits;
    limits.max_body = 1u << 20;
    limits.max_spans = 1000;
    limits.max_messages = 20000;
    if (mkdtemp(dir) == NULL || clx_store_open(dir, &store, &err) != CLX_OK)
        die("setup: store");
    if (clx_settings_open(store, &settings) != CLX_OK)
        die("setup: settings");
    clx_catalog_source_t src = {CLX_CATALOG_PATH, NULL, 0};
    if (clx_writer_create(store, 1000, &writer) != CLX_OK ||
        clx_pipeline_create(settings, writer, &src, &pipeline, &err) != CLX_OK)
        die(err != NULL ? err : "setup: pipeline");
    /* the projects and environments the seeds name, so attribution takes every path */
    if (clx_settings_create_project(settings, "default", "checkout", "Checkout", NULL, &p) != CLX_OK ||
        clx_settings_create_key(settings, "default", "fuzz", "checkout", NULL, NULL, &k, secret, &p) != CLX_OK)
        die(p.message);
    clx_otlp_door_config_t cfg = {.pipeline = pipeline, .limits = &limits};
    clx_otlp_door_create(&cfg, &door);
    return 0;
}

static const char *const ctypes[] = {"application/x-protobuf", "application/json"};

/* Text an answer carries must be valid UTF-8 (strict proto3 readers refuse anything else). */
static int utf8(clx_arena_t *arena, const char *s, size_t len)
{
    char *copy = clx_arena_strndup(arena, s, len);
    return strlen(copy) == len && clx_utf8_sanitize(arena, copy) == copy;
}

/* A refused body through the door's own steps: the reply must say the same as the decoder. */
static void check_refusal(const uint8_t *body, size_t len, unsigned mode, int rc, const clx_otlp_error_t *why)
{
    clx_arena_t *arena = clx_arena_create(4096);
    clx_otlp_export_t *x = clx_otlp_export_init(door, CLX_OTLP_HTTP, arena);
    const char *enc = mode & 2 ? "gzip" : NULL;
    if (clx_otlp_export_format(x, ctypes[mode & 1], strlen(ctypes[mode & 1])) != CLX_OK ||
        clx_otlp_export_auth(x, secret, strlen(secret), NULL, 0) != CLX_OK)
        die("the door refused a valid content type or key");
    if (clx_otlp_export_decode(x, body, len, enc, enc != NULL ? strlen(enc) : 0) != rc)
        die("the door and the decoder disagree");
    clx_otlp_reply_t r;
    clx_otlp_export_reply(x, &r);
    if (r.status != rc || r.body == NULL || r.details == NULL || !utf8(arena, r.message, strlen(r.message)) ||
        ((mode & 1) && !utf8(arena, r.body, r.len)))
        die("a refusal's reply");
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    Google__Rpc__Status *st = google__rpc__status__unpack(&alloc, r.details_len, r.details);
    if (st == NULL || st->code != clx_err_grpc_status(rc) || strcmp(st->message, r.message) != 0 || st->n_details < 1)
        die("the google.rpc.Status of a refusal");
    Google__Rpc__ErrorInfo *info =
        google__rpc__error_info__unpack(&alloc, st->details[0]->value.len, st->details[0]->value.data);
    if (info == NULL || strcmp(info->reason, why->name) != 0)
        die("the ErrorInfo of a refusal names another error than the decoder");
    clx_arena_destroy(arena);
}

/* The mapping's promises (clx_otlp.h) about one request's records. */
static void check_batch(const clx_otlp_batch_t *b)
{
    if (b->nrecords + b->ignored + b->rejected != b->spans || b->nrejects > b->rejected ||
        b->nrejects > CLX_OTLP_MAX_REJECTS || (b->rejected > 0 && b->nrejects == 0))
        die("the mapping's counts do not add up");
    for (size_t i = 0; i < b->nrecords; i++) {
        const clx_otlp_usage_t *u = &b->records[i];
        if (i > 0 && u->span_index <= b->records[i - 1].span_index)
            die("records out of span order");
        if (u->span_index >= b->spans || u->request_id[0] == '\0' || u->model[0] == '\0' || u->provider[0] == '\0')
            die("a record without its span, id, model or provider");
        if (u->input_tokens < 0 || u->output_tokens < 0 || u->cached_tokens < 0 || u->cache_write_tokens < 0 ||
            u->reasoning_tokens < 0 || u->cached_tokens + u->cache_write_tokens > u->input_tokens ||
            u->reasoning_tokens > u->output_tokens || u->audio_input_tokens > u->input_tokens ||
            u->audio_output_tokens > u->output_tokens)
            die("token counts that contradict each other");
    }
    for (size_t i = 0; i < b->nrejects; i++)
        if (b->rejects[i].span_index >= b->spans || clx_code_name(b->rejects[i].code)[0] == '\0' ||
            strncmp(b->rejects[i].message, "span ", 5) != 0)
            die("a rejection without its span or code");
}

static int same_str(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The two decodes of one body must map alike: every record and rejection, field by field. */
static void check_same_batch(const clx_otlp_batch_t *x, const clx_otlp_batch_t *y)
{
    if (x->spans != y->spans || x->nrecords != y->nrecords || x->ignored != y->ignored || x->rejected != y->rejected ||
        x->nrejects != y->nrejects)
        die("the door's decode and the whole decode map to different counts");
    for (size_t i = 0; i < x->nrecords; i++) {
        const clx_otlp_usage_t *a = &x->records[i], *b = &y->records[i];
        if (a->span_index != b->span_index || a->input_tokens != b->input_tokens ||
            a->output_tokens != b->output_tokens || a->cached_tokens != b->cached_tokens ||
            a->cache_write_tokens != b->cache_write_tokens || a->reasoning_tokens != b->reasoning_tokens ||
            a->audio_input_tokens != b->audio_input_tokens || a->audio_output_tokens != b->audio_output_tokens ||
            a->request_id_from_span != b->request_id_from_span || a->timestamp_unix_nano != b->timestamp_unix_nano ||
            !same_str(a->provider, b->provider) || !same_str(a->model, b->model) ||
            !same_str(a->request_id, b->request_id) || !same_str(a->project, b->project) ||
            !same_str(a->environment, b->environment) || !same_str(a->feature, b->feature) ||
            !same_str(a->user_id, b->user_id) || !same_str(a->service_tier, b->service_tier) ||
            !same_str(a->scope, b->scope) || a->ntags != b->ntags)
            die("the door's decode and the whole decode map a span differently");
        for (size_t t = 0; t < a->ntags; t++)
            if (!same_str(a->tags[t].key, b->tags[t].key) || !same_str(a->tags[t].value, b->tags[t].value))
                die("the door's decode and the whole decode differ in a tag");
    }
    for (size_t i = 0; i < x->nrejects; i++) {
        const clx_otlp_reject_t *a = &x->rejects[i], *b = &y->rejects[i];
        if (a->span_index != b->span_index || a->code != b->code || !same_str(a->attribute, b->attribute) ||
            !same_str(a->message, b->message) || !same_str(a->request_id, b->request_id))
            die("the door's decode and the whole decode reject a span differently");
    }
}

/* The answer in both formats, read back. */
static void check_answer(clx_arena_t *arena, int64_t rejected, const char *message)
{
    const void *out;
    size_t len;
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    clx_otlp_answer(CLX_OTLP_PROTOBUF, rejected, message, arena, &out, &len);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(&alloc, len, out);
    if (r == NULL || (rejected > 0) != (r->partial_success != NULL && r->partial_success->rejected_spans == rejected))
        die("the protobuf answer");
    clx_otlp_answer(CLX_OTLP_JSON, rejected, message, arena, &out, &len);
    if (len < 2 || ((const char *)out)[0] != '{' || ((const char *)out)[len - 1] != '}' || !utf8(arena, out, len))
        die("the JSON answer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] % 4;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    const char *enc = mode & 2 ? "gzip" : NULL;
    clx_arena_t *arena = clx_arena_create(32 * 1024);
    clx_otlp_request_t *req, *whole;
    clx_otlp_error_t why, why_whole;
    clx_otlp_limits_t lim = limits, lean = limits;
    lean.usage_only = 1; /* as the door decodes */
    int rc = clx_otlp_decode_http(body, len, ctypes[mode & 1], strlen(ctypes[mode & 1]), enc,
                                  enc != NULL ? strlen(enc) : 0, &lean, arena, NULL, &req, &why);
    int rc_whole = clx_otlp_decode_http(body, len, ctypes[mode & 1], strlen(ctypes[mode & 1]), enc,
                                        enc != NULL ? strlen(enc) : 0, &lim, arena, NULL, &whole, &why_whole);
    if (rc != rc_whole || (rc != CLX_OK && (why.code != why_whole.code || strcmp(why.message, why_whole.message) != 0)))
        die("the door's decode and the whole decode disagree on a body");
    if (rc != CLX_OK) {
        if (req != NULL || why.name == NULL || why.message[0] == '\0')
            die("a refusal without a reason");
        check_refusal(body, len, mode, rc, &why);
        goto done;
    }
    clx_otlp_batch_t b, b_whole;
    clx_otlp_map(req, &lean, arena, &b);
    clx_otlp_map(whole, &lim, arena, &b_whole);
    check_batch(&b);
    check_same_batch(&b, &b_whole);

    /* the door's requests of CLX_MAX_BATCH, through every CPU stage of the pipeline */
    size_t pipeline_rejected = 0;
    for (size_t first = 0; first < b.nrecords; first += CLX_MAX_BATCH) {
        size_t n = b.nrecords - first < CLX_MAX_BATCH ? b.nrecords - first : CLX_MAX_BATCH;
        Costlynx__V1__UsageEvent **events = clx_arena_alloc(arena, n * sizeof(*events));
        for (size_t i = 0; i < n; i++) {
            events[i] = clx_arena_alloc(arena, sizeof(**events));
            clx_otlp_usage_to_event(&b.records[first + i], arena, events[i]);
        }
        clx_ingest_session_t *session;
        clx_ingest_t *ing;
        if (clx_ingest_authenticate(pipeline, secret, strlen(secret), arena, &session) != CLX_OK ||
            clx_ingest_begin(session, arena, events, n, &ing) != CLX_OK)
            die("the key");
        size_t ready = clx_pipeline_prepare(pipeline, ing, NOW_MS);
        pipeline_rejected += ing->nerrors;
        if (ready + ing->nerrors != n)
            die("an event neither ready nor rejected");
        for (size_t i = 0; i < ing->wreq.nitems; i++)
            if (ing->items[i].value_len == 0)
                die("an empty stored record");
    }
    check_answer(arena, (int64_t)(b.rejected + pipeline_rejected), b.nrejects > 0 ? b.rejects[0].message : "");
done:
    clx_arena_destroy(arena);
    return 0;
}
