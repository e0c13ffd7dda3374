/*
 * fuzz_grpc_batch.c — libFuzzer harness for the gRPC door's input path: the bytes are one
 * IngestBatch message as received. It is unpacked into a request arena through the arena
 * allocator (as services/grpc/ingest.c does), its size checked, its string fields checked on
 * the wire bytes (clx_grpc_refuse_cut_strings: NULs protobuf-c would cut), and the request
 * taken through the door API and clx_pipeline_prepare, which runs every CPU stage as
 * clx_ingest_submit does: validation, attribution against real settings (a temp RocksDB made
 * once), pricing against the built-in catalog, the packing of the records that would be
 * stored and their rollup deltas. Everything but the synced write (nothing is submitted).
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
#include "clx_writer.h"
#include "grpc_internal.h"
#include "pipeline_internal.h"

#define NKEYS 4

static clx_settings_t *settings;
static clx_pipeline_t *pipeline;
static char secrets[NKEYS][CLX_KEY_SECRET_LEN + 1]; /* no defaults; project + environment defaults;
                                                      locked; strict ws */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_grpc_batch: setup failed: %s\n", what);
    abort();
}

static void make_key(int i, const char *ws, const char *proj, const char *env, const char *lock)
{
    clx_apikey_t k;
    clx_settings_problem_t p;
    if (clx_settings_create_key(settings, ws, "fuzz", proj, env, lock, &k, secrets[i], &p) != CLX_OK)
        die(p.message);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *err = NULL;
    char dir[] = "/tmp/clx-fuzz-grpc-XXXXXX";
    clx_store_t *store = NULL;
    clx_writer_t *writer = NULL;
    clx_settings_problem_t p;
    clx_log_set_level(CLX_LOG_ERROR);
    if (mkdtemp(dir) == NULL || clx_store_open(dir, &store, &err) != CLX_OK)
        die("store");
    if (clx_settings_open(store, &settings) != CLX_OK)
        die("settings");
    /* a real writer completes the pipeline; the harness never submits to it */
    clx_catalog_source_t src = {CLX_CATALOG_PATH, NULL, 0};
    if (clx_writer_create(store, 1000, &writer) != CLX_OK ||
        clx_pipeline_create(settings, writer, &src, &pipeline, &err) != CLX_OK)
        die(err != NULL ? err : "pipeline");
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
    const char *key = secrets[size % NKEYS];
    clx_ingest_session_t *session;
    clx_ingest_t *ing;
    if (clx_ingest_authenticate(pipeline, key, strlen(key), arena, &session) != CLX_OK ||
        clx_ingest_begin(session, arena, b->events, b->n_events, &ing) != CLX_OK)
        abort();
    clx_grpc_refuse_cut_strings(ing, b, data, size);
    /* fixed time: the run must not depend on the clock */
    clx_pipeline_prepare(pipeline, ing, 1767225600000);
    for (size_t i = 0; i < ing->wreq.nitems; i++)
        if (ing->items[i].value_len == 0)
            abort();
done:
    clx_arena_destroy(arena);
    return 0;
}
