/*
 * dims_bench.c — "top 50 users by cost, last 30 days" over 10 million stored events of
 * 100,000 end users, and what the dims writes cost at ingest.
 * Writes N synthetic StoredEvents (spread over 35 days by event time; a user out of U, one of
 * 8 keys, 4 tags of which 2 are declared dimensions) through the real group-commit writer
 * with the real deltas (clx_rollup_event_refs), then times clx_query_top (users, 30 whole
 * days) and checks its total against the sums of what was written. Mode "plain" writes the
 * same events without user, key and tags (today's rollups only): the ingest baseline.
 * Usage: dims_bench [events=10000000] [users=100000] [dims|plain] [dir]   (prints RESULT lines)
 * events 0 with the dir of an earlier run only times the query (its "last 30 days" are then
 * those of that run's day: run it the same UTC day).
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_query.h"
#include "clx_rollup.h"
#include "clx_writer.h"

#define BATCH 100
#define THREADS 4
#define INFLIGHT 4
#define DAYS 35

static clx_writer_t *writer;
static long long total_events, users = 100000;
static int with_dims = 1;
static int64_t day0_ms, from_ms, to_ms; /* [from, to): the queried 30 days */

struct job {
    clx_write_req_t req;
    clx_write_item_t items[BATCH];
    clx_arena_t *arena;
    sem_t *slots;
};

struct worker {
    int id;
    long long events, in_range;
    int64_t cost_in_range;
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
    for (int k = 0; k < INFLIGHT; k++)
        jobs[k].arena = clx_arena_create(1 << 16);
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
    static const char *teams[4] = {"search", "ads", "support", "research"};
    static const char *tiers[3] = {"free", "pro", "enterprise"};
    long long n = 0;
    for (int k = 0; n < w->events; k = (k + 1) % INFLIGHT) {
        struct job *j = &jobs[k];
        sem_wait(&w->slots);
        clx_arena_reset(j->arena);
        clx_arena_t *a = j->arena;
        size_t m = 0;
        for (; m < BATCH && n < w->events; m++, n++) {
            uint64_t r = rng(&seed), r2 = rng(&seed);
            Costlynx__Store__V1__StoredEvent rec = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
            char *rid = clx_arena_alloc(a, 40), *user = clx_arena_alloc(a, 24), *key = clx_arena_alloc(a, 24);
            char *trace = clx_arena_alloc(a, 24), *proj = clx_arena_alloc(a, 24);
            snprintf(rid, 40, "w%d-%lld", w->id, n);
            snprintf(user, 24, "user-%06lld", (long long)(r2 % (uint64_t)users));
            snprintf(key, 24, "key_%012d", (int)((r >> 8) % 8));
            snprintf(trace, 24, "%016llx", (unsigned long long)r2);
            snprintf(proj, 24, "project-%02d", (int)((r >> 20) % 20));
            rec.request_id = rid;
            rec.provider = "openai";
            rec.model = "gpt-4o-mini";
            rec.project_as_sent = proj;
            rec.environment_as_sent = "prod";
            rec.feature = "chat";
            rec.input_tokens = 850;
            rec.output_tokens = 320;
            rec.cost_nanos = 1000 + (int64_t)((r >> 40) % 100000);
            rec.received_at_ms = day0_ms + DAYS * CLX_MS_PER_DAY;
            rec.event_time_ms = day0_ms + (int64_t)(r % (DAYS * CLX_MS_PER_DAY));
            if (with_dims) {
                rec.user_id = user;
                rec.key_id = key;
                Costlynx__Store__V1__Tag *tags = clx_arena_alloc(a, 4 * sizeof(*tags));
                Costlynx__Store__V1__Tag **tp = clx_arena_alloc(a, 4 * sizeof(*tp));
                const char *kv[4][2] = {{"customer_tier", tiers[(r >> 30) % 3]},
                                        {"env", "prod"},
                                        {"team", teams[(r >> 34) % 4]},
                                        {"trace", trace}};
                for (int t = 0; t < 4; t++) {
                    costlynx__store__v1__tag__init(&tags[t]);
                    tags[t].key = (char *)kv[t][0];
                    tags[t].value = (char *)kv[t][1];
                    tp[t] = &tags[t];
                }
                rec.tags = tp;
                rec.n_tags = 4;
                rec.rolled_tags = 1u << 0 | 1u << 2; /* customer_tier and team are declared */
            } else {
                rec.key_id = "";
            }
            if (rec.event_time_ms >= from_ms && rec.event_time_ms < to_ms) {
                w->in_range++;
                w->cost_in_range += rec.cost_nanos;
            }
            size_t len = costlynx__store__v1__stored_event__get_packed_size(&rec);
            uint8_t *buf = clx_arena_alloc(a, len);
            costlynx__store__v1__stored_event__pack(&rec, buf);
            clx_write_item_t *it = &j->items[m];
            memset(it, 0, sizeof(*it));
            it->workspace = "bench";
            it->request_id = rid;
            it->request_id_len = strlen(rid);
            it->value = buf;
            it->value_len = len;
            it->fingerprint = (uint64_t)n;
            it->event_time_ms = rec.event_time_ms;
            clx_rollup_ref_t *refs = clx_arena_alloc(a, CLX_ROLLUP_PER_EVENT * sizeof(*refs));
            it->rollups = refs;
            it->nrollups = clx_rollup_event_refs(a, "bench", &rec, 1, refs);
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
    for (int k = 0; k < INFLIGHT; k++)
        clx_arena_destroy(jobs[k].arena);
    free(jobs);
    return NULL;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Times the top-50 users query RUNS times; prints p50/p99; returns whether it was exact. */
static int run_queries(clx_query_t *query, const char *when, long long events, int64_t cost)
{
    clx_top_query_t q = {.workspace = "bench", .kind = CLX_TOP_USER, .from_ms = from_ms, .to_ms = to_ms, .limit = 50};
    enum { RUNS = 41 };
    uint64_t ns[RUNS], cpu[RUNS];
    size_t nrows = 0, nvalues = 0;
    clx_top_row_t total, *rows = NULL;
    int ordered = 1;
    for (int i = 0; i < RUNS; i++) {
        clx_arena_t *arena = clx_arena_create(1 << 20);
        uint64_t s = clx_mono_ns(), c = thread_cpu_ns();
        if (clx_query_top(query, &q, arena, &rows, &nrows, &total, &nvalues) != CLX_OK) {
            fprintf(stderr, "query failed\n");
            exit(1);
        }
        ns[i] = clx_mono_ns() - s;
        cpu[i] = thread_cpu_ns() - c;
        for (size_t r = 1; r < nrows; r++)
            ordered &= rows[r - 1].sum.cost_nanos >= rows[r].sum.cost_nanos;
        clx_arena_destroy(arena);
    }
    qsort(ns, RUNS, sizeof(ns[0]), cmp_u64);
    qsort(cpu, RUNS, sizeof(cpu[0]), cmp_u64);
    /* events < 0: a store written by an earlier run (query only): nothing to compare with */
    int exact =
        events < 0 ? ordered : total.sum.events == events && total.sum.cost_nanos == cost && nrows == 50 && ordered;
    /* cpu: the query thread's own CPU time, which other jobs on the machine do not inflate */
    printf("RESULT top_users when=%s users=%zu range_days=30 events=%lld p50_ms=%.1f p99_ms=%.1f cpu_p50_ms=%.1f "
           "cpu_p99_ms=%.1f exact=%s\n",
           when, nvalues, (long long)total.sum.events, ns[RUNS / 2] / 1e6, ns[RUNS - 1] / 1e6, cpu[RUNS / 2] / 1e6,
           cpu[RUNS - 1] / 1e6, exact ? "yes" : "NO");
    return exact;
}

int main(int argc, char **argv)
{
    total_events = argc > 1 ? atoll(argv[1]) : 10000000LL;
    users = argc > 2 ? atoll(argv[2]) : 100000;
    with_dims = argc > 3 ? strcmp(argv[3], "plain") != 0 : 1;
    char dir[] = "/tmp/clx-dims-bench-XXXXXX";
    const char *path = argc > 4 ? argv[4] : mkdtemp(dir);
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
    clx_query_set_dims(query, clx_writer_dims(writer));
    day0_ms = (clx_now_ms() / CLX_MS_PER_DAY - DAYS) * CLX_MS_PER_DAY;
    to_ms = day0_ms + DAYS * CLX_MS_PER_DAY;
    from_ms = to_ms - 30 * CLX_MS_PER_DAY;

    struct worker ws[THREADS];
    pthread_t tids[THREADS];
    uint64_t t0 = clx_mono_ns();
    for (int i = 0; i < THREADS; i++) {
        ws[i] = (struct worker){.id = i, .events = total_events / THREADS + (i < total_events % THREADS)};
        sem_init(&ws[i].slots, 0, INFLIGHT);
        pthread_create(&tids[i], NULL, work, &ws[i]);
    }
    long long in_range = 0;
    int64_t cost = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        in_range += ws[i].in_range;
        cost += ws[i].cost_in_range;
    }
    double load_s = (double)(clx_mono_ns() - t0) / 1e9;
    printf("RESULT load mode=%s events=%lld users=%lld seconds=%.1f events_per_s=%.0f\n", with_dims ? "dims" : "plain",
           total_events, users, load_s, total_events / load_s);

    int exact = 1;
    if (total_events == 0) {
        exact &= run_queries(query, "existing_store", -1, 0);
    } else if (with_dims) {
        exact &= run_queries(query, "right_after_load", in_range, cost);
        clx_store_compact(store, CLX_CF_DIMS);
        exact &= run_queries(query, "after_compaction", in_range, cost);
    }
    clx_writer_destroy(writer);
    clx_query_destroy(query);
    clx_store_close(store);
    if (argc <= 4) { /* our own temp store: 10M events leave about a gigabyte */
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", path);
    }
    return exact ? 0 : 1;
}
