/*
 * fuzz_grpc_batch.c — libFuzzer harness for the gRPC door's input path: the bytes are one
 * IngestBatch message as received. It is unpacked into a request arena through the arena
 * allocator (as services/grpc/ingest.c does), its size checked, its string fields checked on
 * the wire bytes (clx_grpc_refuse_cut_strings: NULs protobuf-c would cut), and each event
 * taken through the pipeline's CPU stages in the order clx_pipeline_ingest runs them: validation
 * (clx_validate_event), attribution against real settings (a temp RocksDB made once), pricing
 * against the built-in catalog, and the packing of the record that would be stored.
 * Everything but the synced write.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_pipeline.h"
#include "clx_pricing.h"
#include "clx_settings.h"
#include "clx_store.h"
#include "grpc_internal.h"
#include "pipeline_internal.h"

#define NKEYS 4

static clx_catalog_t *catalog;
static clx_settings_t *settings;
static clx_key_info_t keys[NKEYS]; /* no defaults; project + environment defaults; locked; strict ws */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_grpc_batch: setup failed: %s\n", what);
    abort();
}

static void make_key(int i, const char *ws, const char *proj, const char *env, const char *lock)
{
    char secret[CLX_KEY_SECRET_LEN + 1];
    clx_apikey_t k;
    clx_settings_problem_t p;
    if (clx_settings_create_key(settings, ws, "fuzz", proj, env, lock, &k, secret, &p) != CLX_OK)
        die(p.message);
    if (clx_settings_auth_key(settings, secret, strlen(secret), &keys[i]) != CLX_OK)
        die("auth");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *err = NULL;
    char dir[] = "/tmp/clx-fuzz-grpc-XXXXXX";
    clx_store_t *store = NULL;
    clx_settings_problem_t p;
    clx_log_set_level(CLX_LOG_ERROR);
    if (clx_catalog_load(CLX_CATALOG_PATH, &catalog, &err) != CLX_OK)
        die(err != NULL ? err : "catalog");
    if (mkdtemp(dir) == NULL || clx_store_open(dir, &store, &err) != CLX_OK)
        die("store");
    if (clx_settings_open(store, &settings) != CLX_OK)
        die("settings");
    if (clx_settings_create_project(settings, "default", "app", "App", NULL, &p) != CLX_OK ||
        clx_settings_create_workspace(settings, "strict", "Strict", NULL, &p) != CLX_OK ||
        clx_settings_create_project(settings, "strict", "app", "App", NULL, &p) != CLX_OK ||
        clx_settings_set_strict_mode(settings, "strict", 1, NULL) != CLX_OK)
        die("projects");
    clx_override_input_t o = {.workspace = "default", .provider = "openai", .model = "gpt-4o", .input = "1.5",
                              .output = "6", .cached_input = "0.75"};
    clx_price_override_t ov;
    if (clx_settings_set_override(settings, &o, &ov, &p) != CLX_OK)
        die("override");
    if (clx_settings_set_deployment(settings, "default", "my-gpt", "gpt-4o-mini", NULL, &p) != CLX_OK)
        die("deployment");
    make_key(0, "default", NULL, NULL, NULL);
    make_key(1, "default", "app", "prod", NULL);
    make_key(2, "default", "app", NULL, "staging");
    make_key(3, "strict", "app", "dev", NULL);
    /* the store stays open for the process: the settings read it only at open */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clx_arena_t *arena = clx_arena_create(32 * 1024);
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    Costlynx__V1__IngestBatch *b = costlynx__v1__ingest_batch__unpack(&alloc, size, data);
    if (b == NULL)
        goto done;
    if (b->n_events == 0 || b->n_events > CLX_MAX_BATCH) {
        /* Ingest refuses it; IngestStream reports every event's request_id as too_many_events */
        size_t total = 0;
        for (size_t i = 0; i < b->n_events; i++)
            total += strlen(b->events[i]->request_id);
        (void)total;
        goto done;
    }
    clx_ingest_t ing;
    clx_ingest_init(&ing, arena, b->n_events);
    ing.key = keys[size % NKEYS];
    memcpy(ing.events, b->events, b->n_events * sizeof(*b->events));
    clx_grpc_refuse_cut_strings(&ing, data, size);
    /* the pipeline skips events the door refused; validating them too is a harmless superset
     * (an event keeps its first error) */
    int64_t now = 1767225600000; /* fixed: the run must not depend on the clock */
    clx_settings_read_begin(settings);
    for (size_t i = 0; i < ing.nevents; i++) {
        const Costlynx__V1__UsageEvent *ev = ing.events[i];
        clx_problem_t problem;
        if (clx_validate_event(ev, &problem) != CLX_OK) {
            clx_ingest_reject(&ing, i, problem.field, problem.code, "%s", problem.message);
            continue;
        }
        Costlynx__Store__V1__StoredEvent *rec = clx_arena_zalloc(arena, sizeof(*rec));
        costlynx__store__v1__stored_event__init(rec);
        rec->request_id = ev->request_id;
        rec->input_tokens = ev->input_tokens;
        rec->output_tokens = ev->output_tokens;
        rec->cached_tokens = ev->cached_tokens;
        rec->cache_write_tokens = ev->cache_write_tokens;
        rec->feature = ev->feature != NULL ? ev->feature : (char *)"";
        rec->batch = ev->batch;
        rec->key_id = ing.key.key_id;
        rec->received_at_ms = now;
        if (clx_attribute_event(settings, &ing, i, ev, rec) != CLX_OK)
            continue;
        clx_price_event(catalog, settings, &ing, i, ev, rec, now);
        size_t len = costlynx__store__v1__stored_event__get_packed_size(rec);
        uint8_t *buf = clx_arena_alloc(arena, len ? len : 1);
        if (costlynx__store__v1__stored_event__pack(rec, buf) != len)
            abort();
    }
    clx_settings_read_end(settings);
done:
    clx_arena_destroy(arena);
    return 0;
}
