/*
 * rollup_bench.c — the dashboard's costs query over 10 million stored events.
 * Writes N synthetic events (spread over 30 days, 20 projects x 3 environments x 10
 * features x 8 models = 4,800 attributions, so up to 144,000 day rollups) through the real group-commit writer into a fresh store, then times
 * clx_query_usage for "costs grouped by project and feature over 30 days" and checks the
 * answer against the sums of what was written.
 * Usage: rollup_bench [events=10000000] [dir]   (prints RESULT lines)
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_query.h"
#include "clx_rollup.h"
#include "clx_writer.h"

#define BATCH 100
#define THREADS 4
#define INFLIGHT 4

static const char *models[8][2] = {
    {"openai", "gpt-4o-mini"},   {"openai", "gpt-4.1"},          {"anthropic", "claude-3-5-haiku"},
    {"anthropic", "claude-sonnet-4"}, {"google", "gemini-2.0-flash"}, {"google", "gemini-2.5-pro"},
    {"mistral", "mistral-large"}, {"deepseek", "deepseek-chat"},
};
static const char *envs[3] = {"prod", "staging", "dev"};

static clx_writer_t *writer;
static long long total_events;
static int64_t day0_ms;

struct job {
    clx_write_req_t req;
    clx_write_item_t items[BATCH];
    clx_rollup_ref_t refs[BATCH][2];
    char keys[BATCH][2][160];
    char rids[BATCH][40];
    char dims[BATCH][4][24];
    sem_t *slots;
};

struct worker {
    int id;
    long long events;
    int64_t cost_sum;
    long long written;
    sem_t slots;
};

static void done(clx_write_req_t *req)
{
    struct job *j = req->data;
    if (req->status != CLX_OK) {
        fprintf(stderr, "write failed: %d\n", req->status);
        exit(1);
    }
    sem_post(j->slots);
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct job *jobs = calloc(INFLIGHT, sizeof(*jobs));
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
    static const char value[200] = "synthetic stored event";
    long long n = 0;
    for (int k = 0; n < w->events; k = (k + 1) % INFLIGHT) {
        struct job *j = &jobs[k];
        sem_wait(&w->slots);
        size_t m = 0;
        for (; m < BATCH && n < w->events; m++, n++) {
            uint64_t r = rng(&seed);
            int64_t at = day0_ms + (int64_t)(r % (30 * CLX_MS_PER_DAY));
            snprintf(j->dims[m][0], 24, "project-%02d", (int)((r >> 20) % 20));
            snprintf(j->dims[m][1], 24, "%s", envs[(r >> 30) % 3]);
            snprintf(j->dims[m][2], 24, "feature-%02d", (int)((r >> 34) % 10));
            int mi = (int)((r >> 40) % 8);
            clx_rollup_dims_t d = {j->dims[m][0], j->dims[m][1], j->dims[m][2], models[mi][0], models[mi][1], 0};
            int64_t cost = 1000 + (int64_t)((r >> 50) % 100000); /* nano-dollars */
            w->cost_sum += cost;
            clx_rollup_t delta = {1, 850, 320, 0, 0, cost, at, at};
            for (int g = 0; g < 2; g++) {
                j->refs[m][g].klen = clx_rollup_key_encode(j->keys[m][g], g ? CLX_ROLLUP_DAY : CLX_ROLLUP_HOUR,
                                                           "bench", (uint32_t)(at / (g ? CLX_MS_PER_DAY : CLX_MS_PER_HOUR)), &d);
                j->refs[m][g].key = j->keys[m][g];
                j->refs[m][g].delta = delta;
            }
            snprintf(j->rids[m], 40, "w%d-%lld", w->id, n);
            clx_write_item_t *it = &j->items[m];
            memset(it, 0, sizeof(*it));
            it->workspace = "bench";
            it->request_id = j->rids[m];
            it->request_id_len = strlen(j->rids[m]);
            it->value = value;
            it->value_len = sizeof(value);
            it->fingerprint = (uint64_t)n;
            it->rollups = j->refs[m];
            it->nrollups = 2;
        }
        j->req.items = j->items;
        j->req.nitems = m;
        j->req.done = done;
        j->req.data = j;
        j->slots = &w->slots;
        while (clx_writer_submit(writer, &j->req) == CLX_EBUSY)
            ;
    }
    for (int k = 0; k < INFLIGHT; k++)
        sem_wait(&w->slots); /* all completed */
    free(jobs);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Times the 30-day costs query RUNS times; prints p50/max; returns whether it was exact. */
static int run_queries(clx_query_t *query, const char *when, int64_t cost_sum)
{
    clx_usage_query_t q = {.workspace = "bench", .from_ms = day0_ms, .to_ms = day0_ms + 31 * CLX_MS_PER_DAY,
                           .group_by = CLX_DIM_PROJECT | CLX_DIM_FEATURE};
    enum { RUNS = 21 };
    uint64_t ns[RUNS];
    size_t nrows = 0;
    clx_usage_row_t total;
    for (int i = 0; i < RUNS; i++) {
        clx_arena_t *arena = clx_arena_create(1 << 20);
        clx_usage_row_t *rows;
        uint64_t s = clx_mono_ns();
        if (clx_query_usage(query, &q, arena, &rows, &nrows, &total) != CLX_OK) {
            fprintf(stderr, "query failed\n");
            exit(1);
        }
        ns[i] = clx_mono_ns() - s;
        clx_arena_destroy(arena);
    }
    qsort(ns, RUNS, sizeof(ns[0]), cmp_u64);
    int exact = total.sum.events == total_events && total.sum.cost_nanos == cost_sum;
    printf("RESULT costs_query when=%s group_by=project,feature range_days=30 rows=%zu events=%lld p50_ms=%.1f "
           "max_ms=%.1f exact=%s\n",
           when, nrows, (long long)total.sum.events, ns[RUNS / 2] / 1e6, ns[RUNS - 1] / 1e6, exact ? "yes" : "NO");
    return exact;
}

int main(int argc, char **argv)
{
    total_events = argc > 1 ? atoll(argv[1]) : 10000000LL;
    char dir[] = "/tmp/clx-rollup-bench-XXXXXX";
    const char *path = argc > 2 ? argv[2] : mkdtemp(dir);
    clx_log_set_level(CLX_LOG_WARN);
    clx_store_t *store;
    char *err = NULL;
    if (clx_store_open(path, &store, &err) != CLX_OK) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    if (clx_writer_create(store, 100000, &writer) != CLX_OK) {
        fprintf(stderr, "cannot start the writer\n");
        return 1;
    }
    clx_query_t *query = clx_query_create(store);
    day0_ms = (clx_now_ms() / CLX_MS_PER_DAY - 30) * CLX_MS_PER_DAY;

    struct worker ws[THREADS];
    pthread_t tids[THREADS];
    uint64_t t0 = clx_mono_ns();
    for (int i = 0; i < THREADS; i++) {
        ws[i] = (struct worker){.id = i, .events = total_events / THREADS + (i < total_events % THREADS)};
        sem_init(&ws[i].slots, 0, INFLIGHT);
        pthread_create(&tids[i], NULL, work, &ws[i]);
    }
    int64_t cost_sum = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        cost_sum += ws[i].cost_sum;
    }
    double load_s = (double)(clx_mono_ns() - t0) / 1e9;
    printf("RESULT load events=%lld seconds=%.1f events_per_s=%.0f\n", total_events, load_s, total_events / load_s);

    int exact = 1;
    static const char *when[3] = {"right_after_load", "after_writer_maintenance", "after_full_compaction"};
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) /* the writer's maintenance compacts rollups within ~10 s of a burst */
            sleep(25);
        if (pass == 2)
            clx_store_compact(store, CLX_CF_ROLLUPS);
        exact &= run_queries(query, when[pass], cost_sum);
    }
    clx_writer_destroy(writer);
    clx_query_destroy(query);
    clx_store_close(store);
    return exact ? 0 : 1;
}
