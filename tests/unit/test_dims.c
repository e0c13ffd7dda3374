/*
 * test_dims.c — the dims family (keys, the tiling of a range into aligned buckets, an event's
 * deltas by event time, sums over a range through the real writer and RocksDB) and the
 * event-time index (keys, the writer's entries, the one-time upgrade of an older data folder:
 * idempotent, and redone when the marker is missing).
 */
#include "clx_test.h"

#include <semaphore.h>
#include <unistd.h>

#include "clx_dims.h"
#include "clx_error.h"
#include "clx_events.h"
#include "clx_log.h"
#include "clx_query.h"
#include "clx_rollup.h"
#include "clx_writer.h"

#define DAY 86400000LL

static void test_key_round_trip(void **state)
{
    (void)state;
    char key[256];
    size_t klen = clx_dims_key_encode(key, CLX_DIM_KIND_TAG, "acme", "team", 2, 20448, 1, "search");
    assert_int_equal(klen, clx_dims_key_size("acme", "team", "search"));
    assert_memory_equal(key, "tacme\0team\0\2", 12);
    char kind;
    const char *space, *value;
    size_t slen, vlen;
    int level;
    uint32_t bucket;
    uint8_t flags;
    assert_int_equal(clx_dims_key_decode(key, klen, &kind, &space, &slen, &level, &bucket, &flags, &value, &vlen), 0);
    assert_int_equal(kind, 't');
    assert_int_equal(slen, 4);
    assert_memory_equal(space, "team", 4);
    assert_int_equal(level, 2);
    assert_int_equal(bucket, 20448);
    assert_int_equal(flags, 1);
    assert_int_equal(vlen, 6);
    assert_memory_equal(value, "search", 6);
    /* a user key has an empty space; an empty value is allowed */
    klen = clx_dims_key_encode(key, CLX_DIM_KIND_USER, "acme", "", 0, 7, 0, "");
    assert_int_equal(clx_dims_key_decode(key, klen, &kind, &space, &slen, &level, &bucket, &flags, &value, &vlen), 0);
    assert_int_equal(slen, 0);
    assert_int_equal(vlen, 0);
    /* cut keys and a level out of range are refused */
    assert_int_equal(clx_dims_key_decode(key, 8, &kind, &space, &slen, &level, &bucket, &flags, &value, &vlen), -1);
    key[7] = 9;
    assert_int_equal(clx_dims_key_decode(key, klen, &kind, &space, &slen, &level, &bucket, &flags, &value, &vlen), -1);
}

static void check_compact(const clx_rollup_t *r)
{
    unsigned char buf[CLX_ROLLUP_COMPACT_MAX];
    size_t n = clx_rollup_pack_compact(r, buf);
    assert_true(n <= CLX_ROLLUP_COMPACT_MAX);
    assert_true(n != CLX_ROLLUP_V1_LEN); /* that length reads as version 1 */
    clx_rollup_t back;
    assert_int_equal(clx_rollup_unpack(buf, n, &back), CLX_OK);
    assert_memory_equal(&back, r, sizeof(back));
    /* cut anywhere: refused, never misread */
    for (size_t cut = 1; cut < n; cut++)
        if (cut != CLX_ROLLUP_V1_LEN && !(n == CLX_ROLLUP_V1_LEN + 1 && cut == CLX_ROLLUP_V1_LEN))
            assert_int_equal(clx_rollup_unpack(buf, cut, &back), CLX_ECORRUPT);
}

/* The dims family's compact records (version 3) round-trip every value, and merge like v2. */
static void test_compact_records(void **state)
{
    (void)state;
    clx_i128_t big = (clx_i128_t)1 << 125;
    clx_rollup_t small = {.events = 1, .cost_nanos = 210000, .first_ms = 1767225600000LL, .last_ms = 1767225600001LL};
    clx_rollup_t neg = {.events = -3, .input_tokens = -1, .cost_nanos = -(clx_i128_t)INT64_MAX * 1000};
    clx_rollup_t huge = {.events = big, .input_tokens = big, .output_tokens = big, .cached_tokens = 64};
    const clx_i128_t i128_min = (clx_i128_t)((unsigned __int128)1 << 127);
    clx_rollup_t max = {.events = ~i128_min,
                        .cost_nanos = i128_min,
                        .first_ms = INT64_MIN,
                        .last_ms = INT64_MAX};
    check_compact(&small);
    check_compact(&neg);
    check_compact(&huge); /* 64 bytes before the pad byte */
    check_compact(&max);
    unsigned char buf[CLX_ROLLUP_COMPACT_MAX];
    assert_int_equal(clx_rollup_pack_compact(&huge, buf), CLX_ROLLUP_V1_LEN + 1);

    /* merged: a compact and a version-2 operand add up, the result compact */
    unsigned char v2[CLX_ROLLUP_LEN];
    clx_rollup_pack(&small, v2);
    size_t cl = clx_rollup_pack_compact(&small, buf);
    const char *ops[2] = {(const char *)buf, (const char *)v2};
    const size_t lens[2] = {cl, sizeof(v2)};
    size_t outlen;
    char *out = clx_rollup_merge_as(NULL, 0, ops, lens, 2, 1, &outlen);
    assert_non_null(out);
    assert_int_equal((unsigned char)out[0], 3);
    clx_rollup_t sum;
    assert_int_equal(clx_rollup_unpack(out, outlen, &sum), CLX_OK);
    assert_true(sum.events == 2 && sum.cost_nanos == 420000);
    assert_int_equal(sum.first_ms, small.first_ms);
    free(out);
}

/* The tiles cover the range exactly, aligned, coarsest first where they fit. */
static void test_tiling(void **state)
{
    (void)state;
    int levels[64];
    uint32_t buckets[64];
    /* days 30..60: 30,31 (1-day), 32..47 (16), 48..55 (4, 4), 56..59 (4) */
    size_t n = clx_dims_tile(30, 60, levels, buckets, 64);
    assert_int_equal(n, 6);
    static const int wl[] = {0, 0, 2, 1, 1, 1};
    static const uint32_t wb[] = {30, 31, 32, 48, 52, 56};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(levels[i], wl[i]);
        assert_int_equal(buckets[i], wb[i]);
    }
    for (int64_t from = 1000; from < 1040; from++) {
        for (int64_t len = 1; len < 70; len++) {
            n = clx_dims_tile(from, from + len, levels, buckets, 64);
            assert_true(n <= 64);
            int64_t d = from;
            for (size_t i = 0; i < n; i++) {
                uint32_t span = clx_dims_span(levels[i]);
                assert_int_equal(buckets[i], d);
                assert_int_equal(buckets[i] % span, 0);
                d += span;
            }
            assert_int_equal(d, from + len);
        }
    }
}

static Costlynx__Store__V1__Tag tag_a = {PROTOBUF_C_MESSAGE_INIT(&costlynx__store__v1__tag__descriptor), "env", "prod"},
                                tag_b = {PROTOBUF_C_MESSAGE_INIT(&costlynx__store__v1__tag__descriptor), "team",
                                         "search"};

static void fill_event(Costlynx__Store__V1__StoredEvent *rec, Costlynx__Store__V1__Tag **tags)
{
    costlynx__store__v1__stored_event__init(rec);
    rec->request_id = "r1";
    rec->provider = "openai";
    rec->model = "gpt-4o-mini";
    rec->key_id = "key_0123456789ab";
    rec->user_id = "alice";
    rec->input_tokens = 1000;
    rec->output_tokens = 100;
    rec->cost_nanos = 210000;
    rec->received_at_ms = 20454 * DAY + 5000;
    rec->event_time_ms = 20450 * DAY + 3600000; /* four days before it arrived */
    tags[0] = &tag_a;
    tags[1] = &tag_b;
    rec->tags = tags;
    rec->n_tags = 2;
}

/* An event's deltas: hour and day by event time, then user, key and declared tags per level. */
static void test_event_refs_by_event_time(void **state)
{
    (void)state;
    clx_arena_t *a = clx_arena_create(4096);
    Costlynx__Store__V1__StoredEvent rec;
    Costlynx__Store__V1__Tag *tags[2];
    fill_event(&rec, tags);
    char *declared[] = {"team", "customer"};
    rec.rolled_tags = clx_dims_rolled_tags(&rec, declared, 2);
    assert_int_equal(rec.rolled_tags, 2); /* tags[1] (team) only */

    clx_rollup_ref_t refs[CLX_ROLLUP_PER_EVENT];
    size_t n = clx_rollup_event_refs(a, "acme", &rec, 1, refs);
    assert_int_equal(n, 2 + 3 * CLX_DIMS_LEVELS);
    char scratch[256];
    uint32_t bucket;
    clx_rollup_dims_t d;
    assert_int_equal(clx_rollup_key_decode(refs[0].key, refs[0].klen, 6, scratch, &bucket, &d), 0);
    assert_int_equal(bucket, rec.event_time_ms / 3600000);
    assert_int_equal(clx_rollup_key_decode(refs[1].key, refs[1].klen, 6, scratch, &bucket, &d), 0);
    assert_int_equal(bucket, 20450);
    assert_int_equal(refs[0].delta.first_ms, rec.event_time_ms);
    assert_int_equal(refs[0].dims, 0);
    static const char kinds[3] = {'u', 'k', 't'};
    for (size_t i = 2; i < n; i++) {
        char kind;
        const char *space, *value;
        size_t slen, vlen;
        int level;
        uint8_t flags;
        assert_int_equal(refs[i].dims, 1);
        assert_int_equal(clx_dims_key_decode(refs[i].key, refs[i].klen, &kind, &space, &slen, &level, &bucket, &flags,
                                             &value, &vlen),
                         0);
        assert_int_equal(kind, kinds[(i - 2) / CLX_DIMS_LEVELS]);
        assert_int_equal(level, (int)((i - 2) % CLX_DIMS_LEVELS));
        assert_int_equal(bucket, 20450 - 20450 % clx_dims_span(level)); /* event day, aligned */
        assert_true(refs[i].delta.cost_nanos == 210000);
    }

    /* taken back (corrections): negated sums, first/last seen left alone */
    n = clx_rollup_event_refs(a, "acme", &rec, -1, refs);
    assert_true(refs[0].delta.events == -1);
    assert_true(refs[n - 1].delta.cost_nanos == -210000);
    assert_int_equal(refs[0].delta.first_ms, 0);

    /* an event stored before event time existed: its arrival places it */
    rec.event_time_ms = 0;
    clx_rollup_event_refs(a, "acme", &rec, 1, refs);
    assert_int_equal(clx_rollup_key_decode(refs[1].key, refs[1].klen, 6, scratch, &bucket, &d), 0);
    assert_int_equal(bucket, 20454);
    clx_arena_destroy(a);
}

static sem_t written;

static void on_written(clx_write_req_t *req)
{
    assert_int_equal(req->status, CLX_OK);
    sem_post(&written);
}

/* Writes n events of user "user-<i % users>" (cost i+1 nanos) on day 20400 + i % 40 through the writer. */
static void write_events_from(clx_writer_t *w, int first, int n, int users);
static int64_t user_cost(clx_store_t *s, clx_writer_t *w, const char *user, int64_t *events);

static void write_events(clx_writer_t *w, int n, int users)
{
    write_events_from(w, 0, n, users);
}

/* Events first .. first+n-1 (same rules as write_events, by event index). */
static void write_events_from(clx_writer_t *w, int first, int n, int users)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_write_item_t *items = clx_arena_zalloc(a, (size_t)n * sizeof(*items));
    for (int k = 0; k < n; k++) {
        int i = first + k;
        Costlynx__Store__V1__StoredEvent rec = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
        char *rid = clx_arena_alloc(a, 16), *user = clx_arena_alloc(a, 16);
        snprintf(rid, 16, "r%d", i);
        snprintf(user, 16, "user-%d", i % users);
        rec.request_id = rid;
        rec.user_id = user;
        rec.key_id = "";
        rec.cost_nanos = i + 1;
        rec.received_at_ms = 20500 * DAY;
        rec.event_time_ms = (20400 + i % 40) * DAY + i;
        size_t len = costlynx__store__v1__stored_event__get_packed_size(&rec);
        uint8_t *buf = clx_arena_alloc(a, len);
        costlynx__store__v1__stored_event__pack(&rec, buf);
        items[k].workspace = "acme";
        items[k].request_id = rid;
        items[k].request_id_len = strlen(rid);
        items[k].value = buf;
        items[k].value_len = len;
        items[k].event_time_ms = rec.event_time_ms;
        clx_rollup_ref_t *refs = clx_arena_alloc(a, CLX_ROLLUP_PER_EVENT * sizeof(*refs));
        items[k].rollups = refs;
        items[k].nrollups = clx_rollup_event_refs(a, "acme", &rec, 1, refs);
    }
    clx_write_req_t req = {.items = items, .nitems = (size_t)n, .done = on_written};
    assert_int_equal(clx_writer_submit(w, &req), CLX_OK);
    sem_wait(&written);
    clx_arena_destroy(a);
}

/* Sums over any range equal what was written on those days, per user, whatever the tiling. */
static void test_sums_over_ranges(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    clx_writer_t *w = NULL;
    sem_init(&written, 0, 0);
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(s, 10000, &w), CLX_OK);
    enum { N = 400, USERS = 7 };
    write_events(w, N, USERS);
    clx_arena_t *a = clx_arena_create(1 << 16);
    static const int64_t ranges[][2] = {{20400, 20440}, {20403, 20433}, {20417, 20418}, {20390, 20405}, {0, 30000}};
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
        int64_t want[USERS] = {0}, events = 0, cost = 0;
        for (int i = 0; i < N; i++) {
            int64_t day = 20400 + i % 40;
            if (day >= ranges[r][0] && day < ranges[r][1]) {
                want[i % USERS] += i + 1;
                events++;
                cost += i + 1;
            }
        }
        clx_dims_row_t *rows, total;
        size_t n;
        assert_int_equal(
            clx_dims_sum(s, clx_writer_dims(w), CLX_DIM_KIND_USER, "acme", NULL, ranges[r][0], ranges[r][1], a, &rows, &n, &total), CLX_OK);
        assert_true(total.sum.events == events);
        assert_true(total.sum.cost_nanos == cost);
        size_t nonzero = 0;
        for (int u = 0; u < USERS; u++)
            nonzero += want[u] != 0;
        assert_int_equal(n, nonzero);
        for (size_t i = 0; i < n; i++) {
            int u = atoi(rows[i].value + 5);
            assert_true(rows[i].sum.cost_nanos == want[u]);
        }
        /* another kind, workspace or tag key sees none of it */
        assert_int_equal(
            clx_dims_sum(s, clx_writer_dims(w), CLX_DIM_KIND_KEY, "acme", NULL, ranges[r][0], ranges[r][1], a, &rows, &n, &total), CLX_OK);
        assert_int_equal(n, 0);
        assert_int_equal(
            clx_dims_sum(s, clx_writer_dims(w), CLX_DIM_KIND_USER, "acm", NULL, ranges[r][0], ranges[r][1], a, &rows, &n, &total), CLX_OK);
        assert_int_equal(n, 0);
    }
    clx_arena_destroy(a);

    /* the event-time index: one entry per event, newest event time first */
    clx_evtime_iter_t *it = clx_evtime_iter_create(s, "acme");
    int count = 0;
    int64_t prev = INT64_MAX;
    for (clx_evtime_iter_seek_before(it, INT64_MAX, UINT64_MAX); clx_evtime_iter_valid(it); clx_evtime_iter_prev(it)) {
        assert_true(clx_evtime_iter_time(it) <= prev);
        prev = clx_evtime_iter_time(it);
        const char *v;
        size_t vlen;
        assert_int_equal(clx_evtime_iter_value(it, &v, &vlen), CLX_OK);
        Costlynx__Store__V1__StoredEvent *ev =
            costlynx__store__v1__stored_event__unpack(NULL, vlen, (const uint8_t *)v);
        assert_non_null(ev);
        assert_int_equal(ev->event_time_ms, prev);
        costlynx__store__v1__stored_event__free_unpacked(ev, NULL);
        count++;
    }
    assert_int_equal(clx_evtime_iter_status(it), CLX_OK);
    clx_evtime_iter_destroy(it);
    assert_int_equal(count, N);

    clx_writer_destroy(w);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

/* The top N by cost equal the first N of a full sort (cost, then events desc, then value asc). */
static void test_top_n_is_a_partial_sort(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    clx_writer_t *w = NULL;
    sem_init(&written, 0, 0);
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(s, 10000, &w), CLX_OK);
    enum { N = 2000, USERS = 300 };
    write_events(w, N, USERS); /* user u gets the costs i+1 of events i = u mod 300 */
    int64_t cost[USERS] = {0}, events[USERS] = {0};
    for (int i = 0; i < N; i++) {
        cost[i % USERS] += i + 1;
        events[i % USERS]++;
    }
    clx_query_t *q = clx_query_create(s);
    clx_query_set_dims(q, clx_writer_dims(w));
    clx_arena_t *a = clx_arena_create(1 << 16);
    for (size_t limit = 1; limit <= USERS + 5; limit += 37) {
        clx_top_query_t tq = {
            .workspace = "acme", .kind = CLX_TOP_USER, .from_ms = 20400 * DAY, .to_ms = 20440 * DAY, .limit = limit};
        clx_top_row_t *rows, total;
        size_t n, nvalues;
        assert_int_equal(clx_query_top(q, &tq, a, &rows, &n, &total, &nvalues), CLX_OK);
        assert_int_equal(nvalues, USERS);
        assert_int_equal(n, limit < USERS ? limit : USERS);
        assert_true(total.sum.events == N);
        for (size_t r = 0; r < n; r++) {
            int u = atoi(rows[r].value + 5);
            assert_true(rows[r].sum.cost_nanos == cost[u]);
            assert_true(rows[r].sum.events == events[u]);
            /* no user outside the rows costs more than the last row */
            if (r + 1 < n)
                assert_true(rows[r].sum.cost_nanos >= rows[r + 1].sum.cost_nanos);
        }
        int64_t last = rows[n - 1].sum.cost_nanos;
        size_t more = 0;
        for (int u = 0; u < USERS; u++)
            more += cost[u] > last;
        assert_true(more <= n - 1);
        clx_arena_reset(a);
    }
    clx_top_query_t bad = {.workspace = "acme", .kind = CLX_TOP_USER, .from_ms = 20400 * DAY + 1, .to_ms = 20440 * DAY};
    clx_top_row_t *rows, total;
    size_t n, nvalues;
    assert_int_equal(clx_query_top(q, &bad, a, &rows, &n, &total, &nvalues), CLX_EINVAL); /* not whole days */
    clx_arena_destroy(a);
    clx_query_destroy(q);
    clx_writer_destroy(w);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

/* Sums of user dims over all days, from the store and what w holds. */
static int64_t user_cost(clx_store_t *s, clx_writer_t *w, const char *user, int64_t *events)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_dims_row_t *rows, total;
    size_t n;
    int64_t cost = -1;
    *events = 0;
    assert_int_equal(clx_dims_sum(s, w != NULL ? clx_writer_dims(w) : NULL, CLX_DIM_KIND_USER, "acme", NULL, 0, 30000,
                                  a, &rows, &n, &total),
                     CLX_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].value, user) == 0) {
            cost = (int64_t)rows[i].sum.cost_nanos;
            *events = (int64_t)rows[i].sum.events;
        }
    clx_arena_destroy(a);
    return cost;
}

/*
 * A crash after events were acknowledged but before their dims were flushed: the stored events
 * after "dims.through" are counted again when the writer starts (voided ones not at all), and
 * a clean stop flushes, so the next start counts nothing twice.
 */
static void test_held_sums_recovered(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    /* what a crash leaves: events 1..4 stored, "seq" 4, dims flushed through 1 only */
    clx_batch_t *b = clx_batch_create();
    static const struct {
        const char *user;
        int64_t cost;
        int voided;
    } evs[] = {{"alice", 100, 0}, {"alice", 20, 0}, {"bob", 3, 0}, {"bob", 4000, 1}};
    for (uint64_t i = 0; i < 4; i++) {
        Costlynx__Store__V1__StoredEvent rec = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
        rec.request_id = "x";
        rec.user_id = (char *)evs[i].user;
        rec.cost_nanos = evs[i].cost;
        rec.event_time_ms = 20400 * DAY;
        rec.voided = evs[i].voided;
        uint8_t buf[128];
        size_t len = costlynx__store__v1__stored_event__pack(&rec, buf);
        char key[32];
        clx_batch_put(b, s, CLX_CF_EVENTS, key, clx_event_key(key, "acme", i + 1), buf, len);
    }
    unsigned char v[8];
    clx_be64_put(v, 4);
    clx_batch_meta_put(b, s, CLX_WRITER_META_SEQ, v, 8);
    clx_be64_put(v, 1);
    clx_batch_meta_put(b, s, CLX_DIMS_META_THROUGH, v, 8);
    assert_int_equal(clx_store_write(s, b, 1), CLX_OK);
    clx_batch_destroy(b);

    clx_writer_t *w = NULL;
    assert_int_equal(clx_writer_create(s, 100, &w), CLX_OK);
    int64_t events;
    assert_int_equal(user_cost(s, w, "alice", &events), 20); /* event 1 was flushed before the crash */
    assert_int_equal(events, 1);
    assert_int_equal(user_cost(s, w, "bob", &events), 3); /* event 4 is voided */
    assert_int_equal(user_cost(s, NULL, "bob", &events), -1); /* held, not yet in the store */
    clx_writer_destroy(w); /* a clean stop flushes */
    assert_int_equal(user_cost(s, NULL, "bob", &events), 3);
    char *tv = NULL;
    size_t tl = 0;
    assert_int_equal(clx_store_meta_get(s, CLX_DIMS_META_THROUGH, &tv, &tl), CLX_OK);
    assert_int_equal(tl, 8);
    assert_int_equal(clx_be64_get((const unsigned char *)tv), 4);
    free(tv);
    assert_int_equal(clx_writer_create(s, 100, &w), CLX_OK);
    assert_int_equal(user_cost(s, w, "bob", &events), 3); /* not counted twice */
    assert_int_equal(user_cost(s, w, "alice", &events), 20);
    clx_writer_destroy(w);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

/*
 * Past the writer's flush threshold (100,000 held keys) the sums are handed to the flusher
 * thread while events keep coming: every query in between counts each event exactly once.
 */
static void test_exact_across_background_flushes(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    clx_writer_t *w = NULL;
    sem_init(&written, 0, 0);
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(s, 100000, &w), CLX_OK);
    clx_query_t *q = clx_query_create(s);
    clx_query_set_dims(q, clx_writer_dims(w));
    clx_arena_t *a = clx_arena_create(1 << 16);
    int64_t cost = 0;
    for (int r = 0; r < 50; r++) { /* 50,000 users, 3 keys each: two background flushes */
        write_events_from(w, r * 1000, 1000, 1 << 30);
        for (int i = r * 1000; i < (r + 1) * 1000; i++)
            cost += i + 1;
        clx_top_query_t tq = {
            .workspace = "acme", .kind = CLX_TOP_USER, .from_ms = 20400 * DAY, .to_ms = 20440 * DAY, .limit = 1};
        clx_top_row_t *rows, total;
        size_t n, nvalues;
        assert_int_equal(clx_query_top(q, &tq, a, &rows, &n, &total, &nvalues), CLX_OK);
        assert_true(total.sum.events == (r + 1) * 1000);
        assert_true(total.sum.cost_nanos == cost);
        assert_int_equal(nvalues, (size_t)(r + 1) * 1000);
        clx_arena_reset(a);
    }
    /* the flusher did write: user-0's sums are in the store itself (not only held) */
    int64_t events = 0;
    for (int tries = 0; tries < 200 && user_cost(s, NULL, "user-0", &events) != 1; tries++)
        usleep(10000);
    assert_int_equal(events, 1);
    clx_arena_destroy(a);
    clx_query_destroy(q);
    clx_writer_destroy(w);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

static int count_index(clx_store_t *s, const char *ws, int64_t *times, int max)
{
    clx_evtime_iter_t *it = clx_evtime_iter_create(s, ws);
    int n = 0;
    for (clx_evtime_iter_seek_before(it, INT64_MAX, UINT64_MAX); clx_evtime_iter_valid(it); clx_evtime_iter_prev(it)) {
        if (n < max)
            times[n] = clx_evtime_iter_time(it);
        n++;
    }
    clx_evtime_iter_destroy(it);
    return n;
}

/*
 * An older data folder: events (some without event_time_ms) in the events family, no index,
 * no marker. The upgrade indexes each once, by event time else arrival; a second run does
 * nothing; with the marker gone (a crash before it was written) it runs again to the same
 * index.
 */
static void test_upgrade_of_an_older_folder(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    clx_batch_t *b = clx_batch_create();
    static const struct {
        const char *ws;
        int64_t event_ms, received_ms;
    } old[] = {{"acme", 0, 5000}, {"acme", 0, 9000}, {"acme", 7000, 9500}, {"zeta", 0, 100}};
    for (uint64_t i = 0; i < 4; i++) {
        Costlynx__Store__V1__StoredEvent rec = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
        rec.request_id = "x";
        rec.event_time_ms = old[i].event_ms;
        rec.received_at_ms = old[i].received_ms;
        uint8_t buf[64];
        size_t len = costlynx__store__v1__stored_event__pack(&rec, buf);
        char key[32];
        size_t kl = clx_event_key(key, old[i].ws, i + 1);
        clx_batch_put(b, s, CLX_CF_EVENTS, key, kl, buf, len);
    }
    assert_int_equal(clx_store_write(s, b, 1), CLX_OK);
    clx_batch_destroy(b);

    int64_t times[8];
    assert_int_equal(count_index(s, "acme", times, 8), 0);
    uint64_t indexed = 99;
    assert_int_equal(clx_events_index_upgrade(s, &indexed), CLX_OK);
    assert_int_equal(indexed, 4);
    assert_int_equal(count_index(s, "acme", times, 8), 3);
    assert_int_equal(times[0], 9000); /* arrival (no event time) */
    assert_int_equal(times[1], 7000); /* event time, though it arrived at 9500 */
    assert_int_equal(times[2], 5000);
    assert_int_equal(count_index(s, "zeta", times, 8), 1);

    assert_int_equal(clx_events_index_upgrade(s, &indexed), CLX_OK);
    assert_int_equal(indexed, 0); /* marked: done once */

    /* a crash before the marker, with part of the index written: the next open builds the
     * same index again (entries are idempotent: no duplicates) and marks it */
    assert_int_equal(clx_store_meta_delete(s, CLX_EVTIME_MARKER), CLX_OK);
    char key[64];
    size_t kl = clx_evtime_key_encode(key, "acme", 4, 9000, 2);
    assert_int_equal(clx_store_delete(s, CLX_CF_EVTIME, key, kl), CLX_OK);
    assert_int_equal(count_index(s, "acme", times, 8), 2);
    clx_store_close(s);
    s = NULL;
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    assert_int_equal(clx_events_index_upgrade(s, &indexed), CLX_OK);
    assert_int_equal(indexed, 4);
    assert_int_equal(count_index(s, "acme", times, 8), 3);
    assert_int_equal(times[0], 9000);
    assert_int_equal(count_index(s, "zeta", times, 8), 1);
    char *v = NULL;
    size_t vlen;
    assert_int_equal(clx_store_meta_get(s, CLX_EVTIME_MARKER, &v, &vlen), CLX_OK);
    free(v);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

int main(void)
{
    clx_log_set_level(CLX_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_round_trip),
        cmocka_unit_test(test_tiling),
        cmocka_unit_test(test_compact_records),
        cmocka_unit_test(test_event_refs_by_event_time),
        cmocka_unit_test(test_sums_over_ranges),
        cmocka_unit_test(test_top_n_is_a_partial_sort),
        cmocka_unit_test(test_held_sums_recovered),
        cmocka_unit_test(test_exact_across_background_flushes),
        cmocka_unit_test(test_upgrade_of_an_older_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
