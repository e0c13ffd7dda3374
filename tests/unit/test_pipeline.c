/*
 * test_pipeline.c — the whole pipeline on real parts: a RocksDB store in a temp dir, the
 * group-commit writer, the settings and the real catalog. Attribution rules, pricing,
 * dedup and the response the doors render.
 */
#include "clx_test.h"

#include <pthread.h>

#include "clx_error.h"
#include "clx_pipeline.h"
#include "clx_query.h"
#include "clx_settings.h"
#include "clx_writer.h"

struct fixture {
    char *dir;
    clx_store_t *store;
    clx_settings_t *settings;
    clx_writer_t *writer;
    clx_pipeline_t *pipeline;
    clx_query_t *query;
    char key_plain[CLX_KEY_SECRET_LEN + 1];
    char key_defaults[CLX_KEY_SECRET_LEN + 1];
    char key_locked[CLX_KEY_SECRET_LEN + 1];
    char key_other_ws[CLX_KEY_SECRET_LEN + 1];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void on_done(clx_ingest_t *ing, void *data)
{
    (void)ing;
    pthread_mutex_lock(&mu);
    *(int *)data = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *err = NULL;
    f->dir = clx_test_tmpdir();
    assert_int_equal(clx_store_open(f->dir, &f->store, &err), CLX_OK);
    assert_int_equal(clx_settings_open(f->store, &f->settings), CLX_OK);
    assert_int_equal(clx_writer_create(f->store, 10000, &f->writer), CLX_OK);
    clx_catalog_source_t src = {CLX_CATALOG_PATH, NULL, 0};
    assert_int_equal(clx_pipeline_create(f->settings, f->writer, &src, &f->pipeline, &err), CLX_OK);
    f->query = clx_query_create(f->store);
    clx_settings_problem_t p;
    assert_int_equal(clx_settings_create_project(f->settings, "default", "support", NULL, NULL, &p), CLX_OK);
    assert_int_equal(clx_settings_create_key(f->settings, "default", "plain", NULL, NULL, NULL, NULL, f->key_plain, &p),
                     CLX_OK);
    assert_int_equal(clx_settings_create_key(f->settings, "default", "defaults", "support", "staging", NULL, NULL,
                                             f->key_defaults, &p),
                     CLX_OK);
    assert_int_equal(
        clx_settings_create_key(f->settings, "default", "locked", "support", NULL, "prod", NULL, f->key_locked, &p),
        CLX_OK);
    assert_int_equal(clx_settings_create_workspace(f->settings, "acme", "Acme", NULL, &p), CLX_OK);
    assert_int_equal(
        clx_settings_create_key(f->settings, "acme", "acme", NULL, NULL, NULL, NULL, f->key_other_ws, &p), CLX_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    clx_writer_destroy(f->writer);
    clx_query_destroy(f->query);
    clx_pipeline_destroy(f->pipeline);
    clx_settings_destroy(f->settings);
    clx_store_close(f->store);
    clx_test_rmdir(f->dir);
    free(f);
    return 0;
}

static Costlynx__V1__UsageEvent *event(clx_arena_t *a, const char *provider, const char *model, const char *rid,
                                       const char *project, const char *env)
{
    Costlynx__V1__UsageEvent *ev = clx_arena_alloc(a, sizeof(*ev));
    costlynx__v1__usage_event__init(ev);
    ev->provider = (char *)provider;
    ev->model = (char *)model;
    ev->request_id = (char *)rid;
    ev->project = (char *)(project ? project : "");
    ev->environment = (char *)(env ? env : "");
    ev->input_tokens = 850;
    ev->output_tokens = 320;
    return ev;
}

/* Runs one request of events to completion through the door API; returns the response (in a). */
static Costlynx__V1__IngestResponse *run(struct fixture *f, clx_arena_t *a, const char *key,
                                         Costlynx__V1__UsageEvent **events, size_t n,
                                         void (*door_notes)(clx_ingest_t *ing))
{
    clx_ingest_session_t *s;
    clx_ingest_t *ing;
    int finished = 0;
    assert_int_equal(clx_ingest_authenticate(f->pipeline, key, strlen(key), a, &s), CLX_OK);
    assert_int_equal(clx_ingest_begin(s, a, events, n, &ing), CLX_OK);
    if (door_notes != NULL)
        door_notes(ing);
    if (clx_ingest_submit(ing, on_done, &finished) == 0) {
        pthread_mutex_lock(&mu);
        while (!finished)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    assert_int_equal(clx_ingest_status(ing), CLX_OK);
    return (Costlynx__V1__IngestResponse *)clx_ingest_response(ing);
}

static Costlynx__V1__IngestResponse *run1(struct fixture *f, clx_arena_t *a, const char *key,
                                          Costlynx__V1__UsageEvent *ev)
{
    Costlynx__V1__UsageEvent **events = clx_arena_alloc(a, sizeof(*events));
    events[0] = ev;
    return run(f, a, key, events, 1, NULL);
}

static Costlynx__Store__V1__StoredEvent *stored(struct fixture *f, clx_arena_t *a, const char *ws, const char *rid)
{
    Costlynx__Store__V1__StoredEvent *ev = NULL;
    int rc = clx_query_event(f->query, ws, rid, strlen(rid), a, &ev);
    return rc == CLX_OK ? ev : NULL;
}

static void test_insert_then_skip_with_exact_cost(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    Costlynx__V1__IngestResponse *r =
        run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "r1", "support", "staging"));
    assert_int_equal(r->inserted, 1);
    assert_int_equal(r->skipped, 0);
    assert_int_equal(r->n_warnings, 0);
    Costlynx__Store__V1__StoredEvent *s = stored(f, a, "default", "r1");
    assert_non_null(s);
    /* gpt-4o-mini: $0.15 in, $0.60 out per Mtok -> 850*0.15e-6 + 320*0.60e-6 = $0.0003195 */
    assert_int_equal(s->cost_nanos, 319500);
    assert_string_equal(s->project, "support");
    assert_string_equal(s->environment, "staging");
    assert_string_equal(s->price_id, "openai/gpt-4o-mini@2024-07-18");

    r = run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "r1", "support", "staging"));
    assert_int_equal(r->inserted, 0);
    assert_int_equal(r->skipped, 1);
    assert_int_equal(r->n_warnings, 0);
    clx_arena_destroy(a);
}

static void test_cached_tokens_billed_once(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    Costlynx__V1__UsageEvent *ev = event(a, "openai", "gpt-4o-mini", "cached-1", "support", "prod");
    ev->input_tokens = 1000;
    ev->cached_tokens = 400;
    ev->output_tokens = 0;
    run1(f, a, f->key_plain, ev);
    /* 600 uncached x $0.15 + 400 cached x $0.075 per Mtok = 90000 + 30000 nanos */
    assert_int_equal(stored(f, a, "default", "cached-1")->cost_nanos, 120000);
    clx_arena_destroy(a);
}

static void test_key_defaults_and_lock(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    Costlynx__V1__IngestResponse *r =
        run1(f, a, f->key_defaults, event(a, "openai", "gpt-4o-mini", "def-1", NULL, NULL));
    assert_int_equal(r->inserted, 1);
    Costlynx__Store__V1__StoredEvent *s = stored(f, a, "default", "def-1");
    assert_string_equal(s->project, "support");
    assert_string_equal(s->environment, "staging");

    r = run1(f, a, f->key_locked, event(a, "openai", "gpt-4o-mini", "lock-1", NULL, "staging"));
    assert_int_equal(r->rejected, 1);
    assert_string_equal(r->errors[0]->code, "environment_not_allowed");
    assert_string_equal(r->errors[0]->field, "environment");
    assert_null(stored(f, a, "default", "lock-1"));

    r = run1(f, a, f->key_locked, event(a, "openai", "gpt-4o-mini", "lock-2", NULL, NULL));
    assert_int_equal(r->inserted, 1);
    assert_string_equal(stored(f, a, "default", "lock-2")->environment, "prod");
    clx_arena_destroy(a);
}

static void test_unknown_slugs_and_strict_mode(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    Costlynx__V1__IngestResponse *r =
        run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "slug-1", "nope", "prod"));
    assert_int_equal(r->inserted, 1);
    assert_int_equal(r->n_warnings, 1);
    assert_string_equal(r->warnings[0]->code, "unknown_project");
    Costlynx__Store__V1__StoredEvent *s = stored(f, a, "default", "slug-1");
    assert_string_equal(s->project, "");
    assert_string_equal(s->project_as_sent, "nope");
    assert_true(s->flags & COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT);

    r = run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "slug-2", "support", "canary"));
    assert_int_equal(r->n_warnings, 1);
    assert_string_equal(r->warnings[0]->code, "unknown_environment");
    assert_string_equal(stored(f, a, "default", "slug-2")->project, "support");

    assert_int_equal(clx_settings_set_strict_mode(f->settings, "default", 1, NULL), CLX_OK);
    r = run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "slug-3", "nope", "prod"));
    assert_int_equal(r->rejected, 1);
    assert_string_equal(r->errors[0]->code, "unknown_project");
    assert_null(stored(f, a, "default", "slug-3"));
    r = run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "slug-4", "support", "prod"));
    assert_int_equal(r->inserted, 1);
    assert_int_equal(clx_settings_set_strict_mode(f->settings, "default", 0, NULL), CLX_OK);
    clx_arena_destroy(a);
}

static void test_pricing_paths(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    /* unpriced: stored, flagged, warned */
    Costlynx__V1__IngestResponse *r =
        run1(f, a, f->key_plain, event(a, "openai", "my-finetune-xyz", "price-1", "support", "prod"));
    assert_int_equal(r->inserted, 1);
    assert_int_equal(r->n_warnings, 1);
    assert_string_equal(r->warnings[0]->code, "unpriced_model");
    Costlynx__Store__V1__StoredEvent *s = stored(f, a, "default", "price-1");
    assert_int_equal(s->cost_source, COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_NONE);
    assert_true(s->flags & COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED);
    /* a repeat of an unpriced event is skipped without repeating the warning */
    r = run1(f, a, f->key_plain, event(a, "openai", "my-finetune-xyz", "price-1", "support", "prod"));
    assert_int_equal(r->skipped, 1);
    assert_int_equal(r->n_warnings, 0);

    /* the caller's cost wins, exactly */
    Costlynx__V1__UsageEvent *ev = event(a, "openai", "my-finetune-xyz", "price-2", "support", "prod");
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev->estimated_cost_usd = 0.0123;
    r = run1(f, a, f->key_plain, ev);
    assert_int_equal(r->n_warnings, 0);
    s = stored(f, a, "default", "price-2");
    assert_int_equal(s->cost_nanos, 12300000);
    assert_int_equal(s->cost_source, COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER);

    /* provider and model normalisation; the caller's names are kept */
    run1(f, a, f->key_plain, event(a, "gemini", "gemini-2.0-flash", "price-3", "support", "prod"));
    s = stored(f, a, "default", "price-3");
    assert_string_equal(s->provider, "google");
    assert_string_equal(s->provider_as_sent, "gemini");
    assert_true(s->cost_nanos > 0);
    run1(f, a, f->key_plain, event(a, "anthropic", "claude-3-7-sonnet-20250219", "price-4", "support", "prod"));
    s = stored(f, a, "default", "price-4");
    assert_string_equal(s->model, "claude-3-7-sonnet-20250219");
    assert_string_equal(s->model_normalized, "claude-3-7-sonnet");
    /* $3 in, $15 out per Mtok: 850*3 + 320*15 = 7350 micro-dollars */
    assert_int_equal(s->cost_nanos, 7350000);
    clx_arena_destroy(a);
}

static void test_conflict_and_workspace_isolation(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "dup-1", "support", "prod"));
    Costlynx__V1__UsageEvent *changed = event(a, "openai", "gpt-4o-mini", "dup-1", "support", "prod");
    changed->output_tokens = 999;
    Costlynx__V1__IngestResponse *r = run1(f, a, f->key_plain, changed);
    assert_int_equal(r->skipped, 1);
    assert_int_equal(r->n_warnings, 1);
    assert_string_equal(r->warnings[0]->code, "requestId_conflict");
    assert_int_equal(stored(f, a, "default", "dup-1")->output_tokens, 320); /* the first one stands */

    /* another workspace has its own id space */
    r = run1(f, a, f->key_other_ws, event(a, "openai", "gpt-4o-mini", "dup-1", NULL, NULL));
    assert_int_equal(r->inserted, 1);
    assert_non_null(stored(f, a, "acme", "dup-1"));
    clx_arena_destroy(a);
}

static void door_warning_on_3(clx_ingest_t *ing)
{
    clx_ingest_warn(ing, 3, CLX_CODE_UNKNOWN_FIELD, "door warning");
}

static void test_batch_mixed_and_repeated_ids(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    Costlynx__V1__UsageEvent *events[4] = {
        event(a, "openai", "gpt-4o-mini", "b-1", "support", "prod"),
        event(a, "openai", "gpt-4o-mini", "", "support", "prod"),    /* missing requestId */
        event(a, "openai", "gpt-4o-mini", "b-1", "support", "prod"), /* same id, same batch */
        event(a, "openai", "gpt-4o-mini", "b-3", "support", "prod"),
    };
    Costlynx__V1__IngestResponse *r = run(f, a, f->key_plain, events, 4, door_warning_on_3);
    assert_int_equal(r->inserted, 2);
    assert_int_equal(r->skipped, 1);
    assert_int_equal(r->rejected, 1);
    assert_int_equal(r->errors[0]->index, 1);
    assert_string_equal(r->errors[0]->field, "requestId");
    assert_string_equal(r->errors[0]->code, "missing_field");
    assert_int_equal(r->n_warnings, 1);
    assert_int_equal(r->warnings[0]->index, 3);
    clx_arena_destroy(a);
}

static void test_unknown_key(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_session_t *s;
    assert_int_equal(clx_ingest_authenticate(f->pipeline, "clx_nope", 8, a, &s), CLX_EUNAUTH);
    clx_arena_destroy(a);
}

static void test_summary_shifts_indices_and_caps_notes(void **state)
{
    clx_arena_t *a = clx_arena_create(1024);
    Costlynx__V1__EventError e = COSTLYNX__V1__EVENT_ERROR__INIT, *ep = &e;
    Costlynx__V1__Warning w = COSTLYNX__V1__WARNING__INIT, *wp = &w;
    e.index = 2;
    e.field = "inputTokens";
    e.code = "invalid_value";
    w.index = 1;
    w.code = "unpriced_model";
    Costlynx__V1__IngestResponse r = COSTLYNX__V1__INGEST_RESPONSE__INIT;
    r.inserted = 7;
    r.skipped = 2;
    r.rejected = 1;
    r.n_errors = 1;
    r.errors = &ep;
    r.n_warnings = 1;
    r.warnings = &wp;
    clx_ingest_summary_t s;
    clx_ingest_summary_init(&s, 2);
    for (uint32_t k = 0; k < 3; k++)
        clx_ingest_summary_add(&s, a, &r, k * 10);
    assert_int_equal(s.response.inserted, 21);
    assert_int_equal(s.response.skipped, 6);
    assert_int_equal(s.response.rejected, 3); /* exact even past the cap */
    assert_int_equal(s.response.n_errors, 2); /* capped */
    assert_int_equal(s.response.errors[1]->index, 12);
    assert_string_equal(s.response.errors[1]->field, "inputTokens");
    assert_int_equal(s.response.warnings[1]->index, 11);
    assert_true(s.response.ok);
    clx_arena_destroy(a);
}

/* FNV-1a 64 written out here, so the test pins the stored formula, not the library's. */
static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/*
 * Old data folders (issue 10): an event without the new fields keeps the fingerprint the
 * formula gave before they existed (provider, model, project and environment as sent,
 * feature, each NUL-ended; input, output, cached, cache-write tokens and -1 for a
 * catalog cost as int64s; "batch" for batch events), so an old event sent again is still a
 * duplicate and not a requestId_conflict. With a new field set it differs.
 */
static void test_fingerprint_of_old_events_unchanged(void **state)
{
    struct fixture *f = *state;
    clx_arena_t *a = clx_arena_create(4096);
    static const char strs[] = "openai\0gpt-4o-mini\0support\0staging\0\0";
    int64_t nums[5] = {850, 320, 0, 0, -1};
    uint64_t want = fnv(0xcbf29ce484222325ULL, strs, sizeof(strs) - 1);
    want = fnv(want, nums, sizeof(nums));
    uint64_t want_batch = fnv(want, "batch", 5);

    run1(f, a, f->key_plain, event(a, "openai", "gpt-4o-mini", "fp-old", "support", "staging"));
    Costlynx__Store__V1__StoredEvent *s = stored(f, a, "default", "fp-old");
    assert_non_null(s);
    assert_true(s->fingerprint == want);

    Costlynx__V1__UsageEvent *b = event(a, "openai", "gpt-4o-mini", "fp-batch", "support", "staging");
    b->batch = 1;
    run1(f, a, f->key_plain, b);
    s = stored(f, a, "default", "fp-batch");
    assert_non_null(s);
    assert_true(s->fingerprint == want_batch);
    /* serviceTier "batch" is the same tier as batch: true, so the same event */
    Costlynx__V1__UsageEvent *t = event(a, "openai", "gpt-4o-mini", "fp-tier", "support", "staging");
    t->service_tier = "batch";
    run1(f, a, f->key_plain, t);
    s = stored(f, a, "default", "fp-tier");
    assert_non_null(s);
    assert_true(s->fingerprint == want_batch);
    assert_true(s->batch);

    /* a new field, set: another fingerprint (a resend with it differing is a conflict) */
    Costlynx__V1__UsageEvent *u = event(a, "openai", "gpt-4o-mini", "fp-user", "support", "staging");
    u->user_id = "cust-1";
    run1(f, a, f->key_plain, u);
    s = stored(f, a, "default", "fp-user");
    assert_non_null(s);
    assert_true(s->fingerprint != want);
    assert_string_equal(s->user_id, "cust-1");
    assert_true(s->event_time_ms == s->received_at_ms); /* no timestamp: the arrival time */
    clx_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_then_skip_with_exact_cost),
        cmocka_unit_test(test_cached_tokens_billed_once),
        cmocka_unit_test(test_key_defaults_and_lock),
        cmocka_unit_test(test_unknown_slugs_and_strict_mode),
        cmocka_unit_test(test_pricing_paths),
        cmocka_unit_test(test_conflict_and_workspace_isolation),
        cmocka_unit_test(test_batch_mixed_and_repeated_ids),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_summary_shifts_indices_and_caps_notes),
        cmocka_unit_test(test_fingerprint_of_old_events_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
