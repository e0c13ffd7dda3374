/*
 * test_query.c — the query service on real parts: events ingested through the door API
 * (pipeline, group-commit writer, RocksDB in a temp dir), then read back as the dashboard
 * and the settings API do: usage totals and groups from the rollups (charged vs as sent,
 * flags, filters, lock refusals, hour and day buckets), and event listings and lookups.
 */
#include "clx_test.h"

#include <pthread.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_pipeline.h"
#include "clx_query.h"
#include "clx_settings.h"
#include "clx_writer.h"

#define DAY 86400000LL
#define HOUR 3600000LL
#define COST_4O_MINI 319500 /* 850 input x $0.15 + 320 output x $0.60 per Mtok, in nanos */

struct fixture {
    char *dir;
    clx_store_t *store;
    clx_settings_t *settings;
    clx_writer_t *writer;
    clx_pipeline_t *pipeline;
    clx_query_t *query;
    clx_arena_t *arena;
    char key[CLX_KEY_SECRET_LEN + 1];        /* default workspace, no defaults */
    char key_locked[CLX_KEY_SECRET_LEN + 1]; /* locked to support/prod */
    char key_acme[CLX_KEY_SECRET_LEN + 1];   /* workspace acme */
    char locked_id[CLX_KEY_ID_LEN + 1];
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
    clx_settings_problem_t p;
    clx_apikey_t k;
    clx_log_set_level(CLX_LOG_ERROR);
    f->dir = clx_test_tmpdir();
    assert_int_equal(clx_store_open(f->dir, &f->store, &err), CLX_OK);
    assert_int_equal(clx_settings_open(f->store, &f->settings), CLX_OK);
    assert_int_equal(clx_writer_create(f->store, 10000, &f->writer), CLX_OK);
    clx_catalog_source_t src = {CLX_CATALOG_PATH, NULL, 0};
    assert_int_equal(clx_pipeline_create(f->settings, f->writer, &src, &f->pipeline, &err), CLX_OK);
    f->query = clx_query_create(f->store);
    f->arena = clx_arena_create(64 * 1024);
    assert_int_equal(clx_settings_create_project(f->settings, "default", "support", NULL, NULL, &p), CLX_OK);
    assert_int_equal(clx_settings_create_key(f->settings, "default", "k", NULL, NULL, NULL, NULL, f->key, &p), CLX_OK);
    assert_int_equal(
        clx_settings_create_key(f->settings, "default", "locked", "support", NULL, "prod", &k, f->key_locked, &p),
        CLX_OK);
    memcpy(f->locked_id, k.id, sizeof(f->locked_id));
    assert_int_equal(clx_settings_create_workspace(f->settings, "acme", "Acme", NULL, &p), CLX_OK);
    assert_int_equal(clx_settings_create_key(f->settings, "acme", "a", NULL, NULL, NULL, NULL, f->key_acme, &p),
                     CLX_OK);
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
    clx_arena_destroy(f->arena);
    clx_test_rmdir(f->dir);
    free(f);
    return 0;
}

static Costlynx__V1__UsageEvent *event(struct fixture *f, const char *rid, const char *project, const char *env,
                                       const char *feature, const char *model)
{
    Costlynx__V1__UsageEvent *ev = clx_arena_alloc(f->arena, sizeof(*ev));
    costlynx__v1__usage_event__init(ev);
    ev->provider = "openai";
    ev->model = (char *)model;
    ev->request_id = (char *)rid;
    ev->project = (char *)project;
    ev->environment = (char *)env;
    ev->feature = (char *)feature;
    ev->input_tokens = 850;
    ev->output_tokens = 320;
    return ev;
}

/* Ingests one event through the door API and waits for its durable answer. */
static const Costlynx__V1__IngestResponse *ingest(struct fixture *f, const char *key, Costlynx__V1__UsageEvent *ev)
{
    clx_ingest_session_t *s;
    clx_ingest_t *ing;
    int finished = 0;
    Costlynx__V1__UsageEvent **events = clx_arena_alloc(f->arena, sizeof(*events));
    events[0] = ev;
    assert_int_equal(clx_ingest_authenticate(f->pipeline, key, strlen(key), f->arena, &s), CLX_OK);
    assert_int_equal(clx_ingest_begin(s, f->arena, events, 1, &ing), CLX_OK);
    if (clx_ingest_submit(ing, on_done, &finished) == 0) {
        pthread_mutex_lock(&mu);
        while (!finished)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    assert_int_equal(clx_ingest_status(ing), CLX_OK);
    return clx_ingest_response(ing);
}

/*
 * The five events most tests read: four charged to gpt-4o-mini, one unpriced; one names a
 * project that does not exist (stored unattributed), the rest the project "support".
 */
static void ingest_five(struct fixture *f)
{
    ingest(f, f->key, event(f, "e1", "support", "prod", "chat", "gpt-4o-mini"));
    ingest(f, f->key, event(f, "e2", "support", "prod", "chat", "gpt-4o-mini"));
    ingest(f, f->key, event(f, "e3", "support", "prod", "search", "gpt-4o-mini"));
    ingest(f, f->key, event(f, "e4", "ghost", "prod", "chat", "gpt-4o-mini"));
    ingest(f, f->key, event(f, "e5", "support", "prod", "chat", "my-finetune"));
}

/* Yesterday to the end of tomorrow (UTC): whole days around now, so the day rollups serve. */
static clx_usage_query_t around_now(const char *ws)
{
    int64_t today = clx_now_ms() / DAY * DAY;
    clx_usage_query_t q = {.workspace = ws, .from_ms = today - DAY, .to_ms = today + 2 * DAY};
    return q;
}

static void run(struct fixture *f, const clx_usage_query_t *q, clx_usage_row_t **rows, size_t *n,
                clx_usage_row_t *total)
{
    assert_int_equal(clx_query_usage(f->query, q, f->arena, rows, n, total), CLX_OK);
}

static void test_totals_count_stored_events_exactly(void **state)
{
    struct fixture *f = *state;
    ingest_five(f);
    /* a repeat is skipped and never counted twice */
    assert_int_equal(ingest(f, f->key, event(f, "e1", "support", "prod", "chat", "gpt-4o-mini"))->skipped, 1);
    clx_usage_query_t q = around_now("default");
    clx_usage_row_t *rows, total;
    size_t n;
    run(f, &q, &rows, &n, &total);
    assert_int_equal(n, 1); /* no grouping: one total row */
    assert_true(total.sum.events == 5);
    assert_true(total.sum.input_tokens == 5 * 850);
    assert_true(total.sum.output_tokens == 5 * 320);
    assert_true(total.sum.cost_nanos == 4 * COST_4O_MINI);
    assert_int_equal(total.unpriced_events, 1);
    assert_true(rows[0].sum.events == 5);
    assert_true(total.sum.first_ms > 0 && total.sum.first_ms <= total.sum.last_ms);

    /* another workspace's events are not in this one's rollups, and the other way round */
    ingest(f, f->key_acme, event(f, "e1", "", "", "", "gpt-4o-mini"));
    run(f, &q, &rows, &n, &total);
    assert_true(total.sum.events == 5);
    clx_usage_query_t qa = around_now("acme");
    run(f, &qa, &rows, &n, &total);
    assert_true(total.sum.events == 1);

    /* a range that holds none of them */
    q.from_ms -= 10 * DAY;
    q.to_ms = q.from_ms + DAY;
    run(f, &q, &rows, &n, &total);
    assert_int_equal(n, 0);
    assert_true(total.sum.events == 0);
}

static void test_groups_by_charged_and_as_sent_attribution(void **state)
{
    struct fixture *f = *state;
    ingest_five(f);
    clx_usage_query_t q = around_now("default");
    clx_usage_row_t *rows, total;
    size_t n;

    /* charged: the unknown project counts as unattributed; rows by cost, descending */
    q.group_by = CLX_DIM_PROJECT;
    run(f, &q, &rows, &n, &total);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].dims[0], "support");
    assert_true(rows[0].sum.events == 4);
    assert_true(rows[0].sum.cost_nanos == 3 * COST_4O_MINI);
    assert_int_equal(rows[0].unpriced_events, 1);
    assert_string_equal(rows[1].dims[0], "");
    assert_true(rows[1].sum.events == 1);
    assert_null(rows[0].dims[2]); /* not grouped by feature */

    /* as sent: the name the event gave */
    q.as_sent = 1;
    run(f, &q, &rows, &n, &total);
    assert_int_equal(n, 2);
    assert_string_equal(rows[1].dims[0], "ghost");

    /* two dimensions at once */
    q.as_sent = 0;
    q.group_by = CLX_DIM_FEATURE | CLX_DIM_MODEL;
    run(f, &q, &rows, &n, &total);
    assert_int_equal(n, 3); /* chat/gpt-4o-mini, search/gpt-4o-mini, chat/my-finetune */
    assert_string_equal(rows[0].dims[2], "chat");
    assert_string_equal(rows[0].dims[4], "gpt-4o-mini");
    assert_true(rows[0].sum.events == 3);
    assert_string_equal(rows[2].dims[4], "my-finetune"); /* no cost: last */
    assert_true(rows[2].sum.cost_nanos == 0);
    assert_true(total.sum.events == 5);
}

static void test_filters_and_flags(void **state)
{
    struct fixture *f = *state;
    ingest_five(f);
    clx_usage_query_t q = around_now("default");
    clx_usage_row_t *rows, total;
    size_t n;

    q.filter[0] = ""; /* unattributed only */
    run(f, &q, &rows, &n, &total);
    assert_true(total.sum.events == 1);
    q.filter[0] = "support";
    q.filter[2] = "chat";
    run(f, &q, &rows, &n, &total);
    assert_true(total.sum.events == 2 + 1); /* e1, e2 and the unpriced e5 */

    /* the warnings view: events carrying a flag, as sent */
    clx_usage_query_t w = around_now("default");
    w.require_flags = COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED;
    w.group_by = CLX_DIM_PROVIDER | CLX_DIM_MODEL;
    w.as_sent = 1;
    run(f, &w, &rows, &n, &total);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].dims[3], "openai");
    assert_string_equal(rows[0].dims[4], "my-finetune");
    assert_true(rows[0].sum.events == 1);
    w.require_flags = COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT;
    w.group_by = CLX_DIM_PROJECT;
    run(f, &w, &rows, &n, &total);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].dims[0], "ghost");
}

static void test_lock_refusals_are_counted_per_key(void **state)
{
    struct fixture *f = *state;
    const Costlynx__V1__IngestResponse *r =
        ingest(f, f->key_locked, event(f, "l1", "support", "staging", "chat", "gpt-4o-mini"));
    assert_int_equal(r->rejected, 1);
    ingest(f, f->key_locked, event(f, "l2", "support", "staging", "chat", "gpt-4o-mini"));
    ingest(f, f->key_locked, event(f, "l3", "support", "prod", "chat", "gpt-4o-mini")); /* allowed */
    clx_usage_query_t q = around_now("default");
    q.lock_refusals = 1;
    q.group_by = CLX_DIM_PROJECT | CLX_DIM_ENVIRONMENT | CLX_DIM_FEATURE;
    clx_usage_row_t *rows, total;
    size_t n;
    run(f, &q, &rows, &n, &total);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].dims[0], f->locked_id); /* the key */
    assert_string_equal(rows[0].dims[1], "staging");    /* what the events named */
    assert_string_equal(rows[0].dims[2], "prod");       /* what the key is locked to */
    assert_true(rows[0].sum.events == 2);
    /* refusals are not usage */
    clx_usage_query_t u = around_now("default");
    run(f, &u, &rows, &n, &total);
    assert_true(total.sum.events == 1);
}

static void test_time_buckets(void **state)
{
    struct fixture *f = *state;
    ingest_five(f);
    clx_usage_row_t *rows, total;
    size_t n;
    int64_t now = clx_now_ms();

    /* a range that is not whole days reads the hour rollups */
    clx_usage_query_t q = {
        .workspace = "default", .from_ms = now - HOUR, .to_ms = now + HOUR, .group_by = CLX_DIM_HOUR};
    run(f, &q, &rows, &n, &total);
    assert_true(total.sum.events == 5);
    assert_true(n >= 1 && n <= 2); /* 2 when the events straddle an hour */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].bucket_ms % HOUR, 0);
        if (i > 0)
            assert_true(rows[i - 1].bucket_ms < rows[i].bucket_ms); /* by time */
    }

    /* grouped by day over whole days */
    clx_usage_query_t d = around_now("default");
    d.group_by = CLX_DIM_DAY | CLX_DIM_PROJECT;
    run(f, &d, &rows, &n, &total);
    int64_t events = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].bucket_ms % DAY, 0);
        assert_non_null(rows[i].dims[0]);
        events += (int64_t)rows[i].sum.events;
    }
    assert_int_equal(events, 5);
}

static int collect(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev)
{
    char **ids = arg;
    while (*ids != NULL)
        ids++;
    *ids = strdup(ev->request_id);
    (void)seq;
    return 0;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        ids[i] = NULL;
    }
}

static void test_event_listing_and_lookup(void **state)
{
    struct fixture *f = *state;
    ingest_five(f);
    ingest(f, f->key_acme, event(f, "e9", "", "", "", "gpt-4o-mini"));
    char *ids[8] = {0};
    clx_event_cursor_t next = {0, 0};

    /* newest first, a page at a time */
    assert_int_equal(clx_query_list_events(f->query, "default", NULL, 2, NULL, collect, ids, &next), CLX_OK);
    assert_string_equal(ids[0], "e5");
    assert_string_equal(ids[1], "e4");
    assert_null(ids[2]);
    assert_true(next.seq != 0);
    free_ids(ids, 2);
    assert_int_equal(clx_query_list_events(f->query, "default", &next, 10, NULL, collect, ids, &next), CLX_OK);
    assert_string_equal(ids[0], "e3");
    assert_string_equal(ids[2], "e1");
    assert_null(ids[3]); /* acme's event is not default's */
    assert_true(next.seq == 0);
    free_ids(ids, 3);

    /* filtered by the attributed project and feature */
    clx_event_filter_t filter = {.project = "support", .feature = "search"};
    assert_int_equal(clx_query_list_events(f->query, "default", NULL, 10, &filter, collect, ids, &next), CLX_OK);
    assert_string_equal(ids[0], "e3");
    assert_null(ids[1]);
    free_ids(ids, 1);

    /* one event by requestId, per workspace */
    Costlynx__Store__V1__StoredEvent *ev = NULL;
    assert_int_equal(clx_query_event(f->query, "default", "e4", 2, f->arena, &ev), CLX_OK);
    assert_string_equal(ev->project_as_sent, "ghost");
    assert_string_equal(ev->project, "");
    assert_int_equal(clx_query_event(f->query, "default", "e9", 2, f->arena, &ev), CLX_ENOTFOUND);
    assert_int_equal(clx_query_event(f->query, "acme", "e9", 2, f->arena, &ev), CLX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_totals_count_stored_events_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_by_charged_and_as_sent_attribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_refusals_are_counted_per_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_listing_and_lookup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
