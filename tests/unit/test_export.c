/*
 * test_export.c — the event log (storage/events.c) on a real RocksDB written by the real
 * writer: global seq order across workspaces, bounds, snapshot consistency under concurrent
 * group commits, durable cursors; and the ClickHouse side (services/export/clickhouse.c):
 * RowBinary bytes, determinism, the DDL and the INSERT column list.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "clx_test.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_clickhouse.h"
#include "clx_error.h"
#include "clx_export.h"
#include "clx_store.h"
#include "clx_writer.h"

typedef struct fixture {
    char *dir;
    clx_store_t *s;
    clx_writer_t *w;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->dir = clx_test_tmpdir();
    if (clx_store_open(f->dir, &f->s, NULL) != CLX_OK || clx_writer_create(f->s, 1u << 20, &f->w) != CLX_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    clx_writer_destroy(f->w);
    clx_store_close(f->s);
    clx_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- writing through the real writer ------------------------------------------------------- */

typedef struct waiter {
    sem_t done;
} waiter_t;

static void done_post(clx_write_req_t *req)
{
    sem_post(&((waiter_t *)req->data)->done);
}

/* Stores n events of workspace ws in one request (one group unless others queue with it). */
static int submit(clx_writer_t *w, const char *ws, const char *id_prefix, size_t n)
{
    clx_write_item_t *items = calloc(n, sizeof(*items));
    char(*ids)[64] = calloc(n, 64);
    char(*vals)[96] = calloc(n, 96);
    waiter_t wt;
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 64, "%s-%zu", id_prefix, i);
        snprintf(vals[i], 96, "value of %s/%s", ws, ids[i]);
        items[i] = (clx_write_item_t){.workspace = ws,
                                      .request_id = ids[i],
                                      .request_id_len = strlen(ids[i]),
                                      .value = vals[i],
                                      .value_len = strlen(vals[i]),
                                      .fingerprint = 1};
    }
    clx_write_req_t req = {.items = items, .nitems = n, .done = done_post, .data = &wt};
    sem_init(&wt.done, 0, 0);
    int rc = clx_writer_submit(w, &req);
    if (rc == CLX_OK) {
        sem_wait(&wt.done);
        rc = req.status;
    }
    sem_destroy(&wt.done);
    free(items);
    free(ids);
    free(vals);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct seen {
    size_t n, cap;
    uint64_t *seqs;
    char **ws;
    char **vals;
    size_t stop_after; /* 0: never */
} seen_t;

static int collect(void *arg, const clx_logged_event_t *ev)
{
    seen_t *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->seqs = realloc(s->seqs, s->cap * sizeof(*s->seqs));
        s->ws = realloc(s->ws, s->cap * sizeof(*s->ws));
        s->vals = realloc(s->vals, s->cap * sizeof(*s->vals));
    }
    s->seqs[s->n] = ev->seq;
    s->ws[s->n] = strdup(ev->workspace);
    s->vals[s->n] = strndup(ev->value, ev->vlen);
    s->n++;
    return s->stop_after != 0 && s->n == s->stop_after ? 42 : 0;
}

static void seen_free(seen_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ws[i]);
        free(s->vals[i]);
    }
    free(s->seqs);
    free(s->ws);
    free(s->vals);
    memset(s, 0, sizeof(*s));
}

/* Submits one request and waits for it: its status. */
static int run_req(clx_writer_t *w, clx_write_req_t *req)
{
    waiter_t wt;
    sem_init(&wt.done, 0, 0);
    req->done = done_post;
    req->data = &wt;
    int rc = clx_writer_submit(w, req);
    if (rc == CLX_OK) {
        sem_wait(&wt.done);
        rc = req->status;
    }
    sem_destroy(&wt.done);
    return rc;
}

/* Stores the StoredEvent (ws, id) costing nanos: its seq. */
static uint64_t put_stored(clx_writer_t *w, const char *ws, const char *id, int64_t nanos)
{
    Costlynx__Store__V1__StoredEvent ev = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
    ev.request_id = (char *)id;
    ev.model = "m";
    ev.cost_nanos = nanos;
    ev.received_at_ms = 1700000000000;
    ev.version = 1;
    uint8_t buf[256];
    size_t n = costlynx__store__v1__stored_event__pack(&ev, buf);
    clx_write_item_t it = {.workspace = ws,
                           .request_id = id,
                           .request_id_len = strlen(id),
                           .value = buf,
                           .value_len = n,
                           .fingerprint = 7,
                           .event_time_ms = ev.received_at_ms};
    clx_write_req_t req = {.items = &it, .nitems = 1};
    assert_int_equal(run_req(w, &req), CLX_OK);
    assert_int_equal(it.outcome, CLX_WRITE_INSERTED);
    return it.seq;
}

typedef struct entry {
    uint64_t seq, event_seq;
    char ws[16];
    int voided;
    uint32_t version;
    int64_t nanos;
} entry_t;

static int collect_entries(void *arg, const clx_logged_event_t *lev)
{
    entry_t **pp = arg;
    entry_t *e = (*pp)++;
    Costlynx__Store__V1__StoredEvent *ev =
        costlynx__store__v1__stored_event__unpack(NULL, lev->vlen, (const uint8_t *)lev->value);
    assert_non_null(ev);
    e->seq = lev->seq;
    e->event_seq = lev->event_seq;
    snprintf(e->ws, sizeof(e->ws), "%s", lev->workspace);
    e->voided = ev->voided;
    e->version = ev->version;
    e->nanos = ev->cost_nanos;
    costlynx__store__v1__stored_event__free_unpacked(ev, NULL);
    return 0;
}

/*
 * Corrections take seqs of their own (their correction-log records) and the log merges them
 * with the events: gapless, in seq order, each handing out the event's current version.
 */
static void test_log_has_corrections(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(put_stored(f->w, "a", "r1", 100), 1);
    assert_int_equal(put_stored(f->w, "ab", "r2", 200), 2);
    assert_int_equal(put_stored(f->w, "a", "r3", 300), 3);

    /* void r1, then amend r3 (cost 300 -> 333): seqs 4 and 5 */
    clx_write_item_t v = {.op = CLX_WRITE_OP_VOID,
                          .workspace = "a",
                          .request_id = "r1",
                          .request_id_len = 2,
                          .by = "admin",
                          .reason = "test",
                          .at_ms = 1700000001000};
    clx_write_req_t vreq = {.items = &v, .nitems = 1, .corrections = 1};
    assert_int_equal(run_req(f->w, &vreq), CLX_OK);
    assert_int_equal(v.outcome, CLX_WRITE_CORRECTED);
    Costlynx__Store__V1__StoredEvent am = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
    am.request_id = "r3";
    am.model = "m";
    am.cost_nanos = 333;
    am.received_at_ms = 1700000000000;
    am.version = 2;
    uint8_t buf[256];
    size_t n = costlynx__store__v1__stored_event__pack(&am, buf);
    clx_write_item_t a = {.op = CLX_WRITE_OP_AMEND,
                          .workspace = "a",
                          .request_id = "r3",
                          .request_id_len = 2,
                          .value = buf,
                          .value_len = n,
                          .event_time_ms = am.received_at_ms,
                          .base_version = 1};
    clx_write_req_t areq = {.items = &a, .nitems = 1, .corrections = 1};
    assert_int_equal(run_req(f->w, &areq), CLX_OK);
    assert_int_equal(a.outcome, CLX_WRITE_CORRECTED);
    assert_int_equal(a.seq, 3); /* the event keeps its seq */
    assert_int_equal(put_stored(f->w, "ab", "r4", 400), 6);

    entry_t got[16], *p = got;
    uint64_t last = 0;
    assert_int_equal(clx_events_read_after(f->s, 0, UINT64_MAX, 100, collect_entries, &p, &last), CLX_OK);
    assert_int_equal(p - got, 6);
    assert_int_equal(last, 6);
    static const struct {
        uint64_t seq, event_seq;
        const char *ws;
        int voided;
        uint32_t version;
        int64_t nanos;
    } want[] = {
        {1, 1, "a", 1, 2, 100}, {2, 2, "ab", 0, 1, 200}, {3, 3, "a", 0, 2, 333},
        {4, 1, "a", 1, 2, 100}, {5, 3, "a", 0, 2, 333},  {6, 6, "ab", 0, 1, 400},
    };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(got[i].seq, want[i].seq);
        assert_int_equal(got[i].event_seq, want[i].event_seq);
        assert_string_equal(got[i].ws, want[i].ws);
        assert_int_equal(got[i].voided, want[i].voided);
        assert_int_equal(got[i].version, want[i].version);
        assert_int_equal(got[i].nanos, want[i].nanos);
    }
    /* bounds: after 3, at most 2 -> the two corrections; up to 4 -> one; after 5 -> the last event */
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 3, UINT64_MAX, 2, collect_entries, &p, &last), CLX_OK);
    assert_int_equal(p - got, 2);
    assert_int_equal(got[0].seq, 4);
    assert_int_equal(got[1].seq, 5);
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 2, 4, SIZE_MAX, collect_entries, &p, NULL), CLX_OK);
    assert_int_equal(p - got, 2);
    assert_int_equal(got[0].seq, 3);
    assert_int_equal(got[1].seq, 4);
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 5, UINT64_MAX, 100, collect_entries, &p, &last), CLX_OK);
    assert_int_equal(p - got, 1);
    assert_int_equal(got[0].seq, 6);
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 6, UINT64_MAX, 100, collect_entries, &p, &last), CLX_OK);
    assert_int_equal(p - got, 0);
    assert_int_equal(last, 6);

    /* the counter survives a restart: the next event takes 7 */
    clx_writer_destroy(f->w);
    assert_int_equal(clx_writer_create(f->s, 1u << 20, &f->w), CLX_OK);
    assert_int_equal(put_stored(f->w, "a", "r5", 500), 7);
}

/* A correction record that is malformed, or names a missing event, stops the read: never skipped. */
static void test_log_corrupt_correction(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(put_stored(f->w, "a", "r1", 100), 1);
    entry_t got[8], *p = got;
    unsigned char k[8], v[9];

    clx_be64_put(k, 2);
    clx_be64_put(v, 99); /* event 99 of workspace "a": there is none */
    v[8] = 'a';
    assert_int_equal(clx_store_put(f->s, CLX_CF_CORRLOG, k, 8, v, 9), CLX_OK);
    assert_int_equal(clx_events_read_after(f->s, 0, UINT64_MAX, 100, collect_entries, &p, NULL), CLX_ECORRUPT);
    assert_int_equal(p - got, 1); /* the event before it was handed out, nothing after */
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 0, 1, 100, collect_entries, &p, NULL), CLX_OK); /* bounded before */
    assert_int_equal(p - got, 1);

    clx_be64_put(v, 1);
    assert_int_equal(clx_store_put(f->s, CLX_CF_CORRLOG, k, 8, v, 8), CLX_OK); /* no workspace */
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 1, UINT64_MAX, 100, collect_entries, &p, NULL), CLX_ECORRUPT);
    assert_int_equal(p - got, 0);
    assert_int_equal(clx_store_delete(f->s, CLX_CF_CORRLOG, k, 8), CLX_OK);
    unsigned char k9[9] = {0, 0, 0, 0, 0, 0, 0, 2, 'x'};
    clx_be64_put(v, 1);
    assert_int_equal(clx_store_put(f->s, CLX_CF_CORRLOG, k9, 9, v, 9), CLX_OK); /* a key that is no seq */
    p = got;
    assert_int_equal(clx_events_read_after(f->s, 0, UINT64_MAX, 100, collect_entries, &p, NULL), CLX_ECORRUPT);
}

/* Requests alternate between workspaces whose names prefix each other ("a", "ab", "a-b"):
 * the log must come back in global seq order with each event's own workspace. */
static void test_merge_order_across_workspaces(void **state)
{
    fixture_t *f = *state;
    const char *wss[] = {"ab", "a", "zeta", "a-b", "a"};
    size_t sizes[] = {3, 1, 5, 2, 4};
    uint64_t last = 99;
    seen_t s = {0};

    assert_int_equal(clx_events_read_after(f->s, 0, UINT64_MAX, 100, collect, &s, &last), CLX_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(last, 0);

    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < 5; i++) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "r%d-%zu", round, i);
            assert_int_equal(submit(f->w, wss[i], prefix, sizes[i]), CLX_OK);
        }
    const size_t total = 3 * (3 + 1 + 5 + 2 + 4);

    assert_int_equal(clx_events_read_after(f->s, 0, UINT64_MAX, 1000, collect, &s, &last), CLX_OK);
    assert_int_equal(s.n, total);
    assert_int_equal(last, total);
    /* seq 1.. in order, and each event under the workspace its request named */
    size_t k = 0;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < 5; i++)
            for (size_t j = 0; j < sizes[i]; j++, k++) {
                assert_int_equal(s.seqs[k], k + 1);
                assert_string_equal(s.ws[k], wss[i]);
                char want[96];
                snprintf(want, sizeof(want), "value of %s/r%d-%zu-%zu", wss[i], round, i, j);
                assert_string_equal(s.vals[k], want);
            }
    seen_free(&s);

    /* every starting point and batch size gives the matching slice */
    for (uint64_t after = 0; after <= total; after += 7) {
        for (size_t max = 1; max <= 20; max += 6) {
            assert_int_equal(clx_events_read_after(f->s, after, UINT64_MAX, max, collect, &s, &last), CLX_OK);
            size_t want = total - after < max ? total - after : max;
            assert_int_equal(s.n, want);
            for (size_t x = 0; x < s.n; x++)
                assert_int_equal(s.seqs[x], after + 1 + x);
            assert_int_equal(last, total);
            seen_free(&s);
        }
    }

    /* an upper bound: exactly (after, up_to], whatever max allows beyond it */
    assert_int_equal(clx_events_read_after(f->s, 10, 17, SIZE_MAX, collect, &s, NULL), CLX_OK);
    assert_int_equal(s.n, 7);
    assert_int_equal(s.seqs[0], 11);
    assert_int_equal(s.seqs[6], 17);
    seen_free(&s);

    /* max 0 only measures */
    assert_int_equal(clx_events_read_after(f->s, 3, UINT64_MAX, 0, collect, &s, &last), CLX_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(last, total);

    /* the callback's non-zero stops the read and is returned */
    s.stop_after = 2;
    assert_int_equal(clx_events_read_after(f->s, 0, UINT64_MAX, 100, collect, &s, NULL), 42);
    assert_int_equal(s.n, 2);
    seen_free(&s);

    /* past the end */
    assert_int_equal(clx_events_read_after(f->s, total, UINT64_MAX, 100, collect, &s, &last), CLX_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(clx_events_read_after(f->s, UINT64_MAX, UINT64_MAX, 100, collect, &s, &last), CLX_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(last, total);
}

/* A reopened store reads the same log (the writer continues the sequence). */
static void test_log_survives_reopen(void **state)
{
    fixture_t *f = *state;
    seen_t s = {0};
    uint64_t last = 0;

    assert_int_equal(submit(f->w, "one", "x", 3), CLX_OK);
    assert_int_equal(submit(f->w, "two", "y", 2), CLX_OK);
    clx_writer_destroy(f->w);
    clx_store_close(f->s);
    assert_int_equal(clx_store_open(f->dir, &f->s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(f->s, 1u << 20, &f->w), CLX_OK);
    assert_int_equal(submit(f->w, "one", "z", 1), CLX_OK);
    assert_int_equal(clx_events_read_after(f->s, 2, UINT64_MAX, 100, collect, &s, &last), CLX_OK);
    assert_int_equal(s.n, 4);
    assert_int_equal(last, 6);
    assert_string_equal(s.ws[0], "one");
    assert_int_equal(s.seqs[0], 3);
    assert_string_equal(s.ws[1], "two");
    assert_string_equal(s.ws[3], "one");
    assert_int_equal(s.seqs[3], 6);
    seen_free(&s);
}

/* ---- snapshot consistency under concurrent commits ------------------------------------------ */

static atomic_int loads_finished;

typedef struct load {
    clx_writer_t *w;
    atomic_int stop;
    int id;
    int failures;
} load_t;

static void *writer_load(void *arg)
{
    load_t *l = arg;
    char ws[16], prefix[32];
    for (int i = 0; !atomic_load(&l->stop) && i < 400; i++) {
        snprintf(ws, sizeof(ws), "w%d", (l->id * 7 + i) % 5);
        snprintf(prefix, sizeof(prefix), "t%d-%d", l->id, i);
        if (submit(l->w, ws, prefix, 1 + (size_t)(i % 9)) != CLX_OK)
            l->failures++;
    }
    atomic_fetch_add(&loads_finished, 1);
    return NULL;
}

/*
 * While four threads commit groups spanning five workspaces, every read must return a
 * gapless run after+1, after+2, ... up to min(max, last - after): a reader that saw a later
 * group's event but not an earlier one (separate snapshots per workspace) would skip seqs,
 * and an exporter moving its cursor past them would lose them.
 */
static void test_reads_are_gapless_under_load(void **state)
{
    fixture_t *f = *state;
    load_t loads[4];
    pthread_t th[4];
    uint64_t cursor = 0;
    int reads = 0;

    atomic_store(&loads_finished, 0);
    for (int i = 0; i < 4; i++) {
        loads[i] = (load_t){.w = f->w, .id = i};
        atomic_init(&loads[i].stop, 0);
        pthread_create(&th[i], NULL, writer_load, &loads[i]);
    }
    for (int done = 0; !done; reads++) {
        done = atomic_load(&loads_finished) == 4;
        seen_t s = {0};
        uint64_t last = 0;
        size_t max = 1 + (size_t)(reads % 50);
        assert_int_equal(clx_events_read_after(f->s, cursor, UINT64_MAX, max, collect, &s, &last), CLX_OK);
        size_t want = last - cursor < max ? (size_t)(last - cursor) : max;
        assert_int_equal(s.n, want);
        for (size_t x = 0; x < s.n; x++)
            assert_int_equal(s.seqs[x], cursor + 1 + x);
        cursor += s.n;
        seen_free(&s);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(loads[i].failures, 0);
    }
    assert_true(reads > 10);
    /* and the rest, after the load */
    seen_t s = {0};
    uint64_t last = 0;
    assert_int_equal(clx_events_read_after(f->s, cursor, UINT64_MAX, SIZE_MAX, collect, &s, &last), CLX_OK);
    assert_int_equal(cursor + s.n, last);
    assert_true(last > 1000);
    seen_free(&s);
}

/* ---- cursors -------------------------------------------------------------------------------- */

static void test_cursor_round_trip(void **state)
{
    fixture_t *f = *state;
    clx_export_cursor_t c = {.done = 77, .pending = 77};

    assert_int_equal(clx_export_cursor_load(f->s, "http://ch:8123/db.t", &c), CLX_OK);
    assert_int_equal(c.done, 0);
    assert_int_equal(c.pending, 0);

    c = (clx_export_cursor_t){.done = 1000, .pending = 1500};
    assert_int_equal(clx_export_cursor_save(f->s, "http://ch:8123/db.t", &c), CLX_OK);
    c = (clx_export_cursor_t){.done = 2000, .pending = 0};
    assert_int_equal(clx_export_cursor_save(f->s, "http://other:8123/db.t", &c), CLX_OK);

    /* pending must be after done (or 0) */
    c = (clx_export_cursor_t){.done = 10, .pending = 10};
    assert_int_equal(clx_export_cursor_save(f->s, "x", &c), CLX_EINVAL);
    char longname[CLX_EXPORT_NAME_MAX + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(clx_export_cursor_load(f->s, longname, &c), CLX_EINVAL);

    /* across a reopen */
    clx_writer_destroy(f->w);
    clx_store_close(f->s);
    assert_int_equal(clx_store_open(f->dir, &f->s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(f->s, 1u << 20, &f->w), CLX_OK);
    assert_int_equal(clx_export_cursor_load(f->s, "http://ch:8123/db.t", &c), CLX_OK);
    assert_int_equal(c.done, 1000);
    assert_int_equal(c.pending, 1500);
    assert_int_equal(clx_export_cursor_load(f->s, "http://other:8123/db.t", &c), CLX_OK);
    assert_int_equal(c.done, 2000);
    assert_int_equal(c.pending, 0);

    /* a malformed record is reported, not read as a position */
    assert_int_equal(clx_store_meta_put(f->s, "export/bad", "xyz", 3), CLX_OK);
    assert_int_equal(clx_export_cursor_load(f->s, "bad", &c), CLX_ECORRUPT);
}

/* ---- ClickHouse rows and DDL ---------------------------------------------------------------- */

static Costlynx__Store__V1__StoredEvent sample_event(void)
{
    Costlynx__Store__V1__StoredEvent ev = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
    ev.request_id = "req-1";
    ev.provider = "openai";
    ev.provider_as_sent = "openai";
    ev.model = "gpt-4o-mini";
    ev.model_normalized = "gpt-4o-mini";
    ev.price_id = "openai/gpt-4o-mini";
    ev.cost_nanos = 180000;
    ev.cost_source = COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CATALOG;
    ev.input_tokens = 1000;
    ev.output_tokens = 50;
    ev.received_at_ms = 1700000000123;
    ev.project = "support";
    ev.environment = "prod";
    ev.project_as_sent = "support";
    ev.environment_as_sent = "prod";
    ev.feature = "chat";
    ev.key_id = "key_0123456789ab";
    ev.flags = 0;
    return ev;
}

/* Reads one RowBinary String at *p. */
static char *read_string(const unsigned char **p)
{
    uint64_t n = 0;
    int shift = 0;
    unsigned char b;
    do {
        b = *(*p)++;
        n |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    char *s = strndup((const char *)*p, n);
    *p += n;
    return s;
}

static uint64_t read_le(const unsigned char **p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | (*p)[i];
    *p += bytes;
    return v;
}

static void expect_str(const unsigned char **p, const char *want)
{
    char *s = read_string(p);
    assert_string_equal(s, want);
    free(s);
}

/* The bytes, column by column, as ClickHouse's RowBinary defines them. */
static void test_rowbinary_bytes(void **state)
{
    (void)state;
    Costlynx__Store__V1__StoredEvent ev = sample_event();
    clx_ch_row_t row = {.workspace = "acme", .cell = "c2", .version = 0x0102030405060708ull, .voided = 0, .ev = &ev};
    clx_bytes_t b = {0};

    clx_ch_encode_row(&b, &row);
    const unsigned char *p = b.p;
    expect_str(&p, "acme");
    expect_str(&p, "req-1");
    assert_int_equal(p[0], 0x08); /* little-endian */
    assert_int_equal(read_le(&p, 8), 0x0102030405060708ull);
    assert_int_equal(read_le(&p, 1), 0); /* voided */
    expect_str(&p, "c2");
    assert_int_equal(read_le(&p, 4), 1700000000); /* received_at, DateTime */
    assert_int_equal(read_le(&p, 8), 1700000000123ull);
    assert_int_equal(read_le(&p, 8), 1700000000123ull); /* event_time_ms: none sent, so received_at_ms */
    expect_str(&p, "openai");
    expect_str(&p, "openai");
    expect_str(&p, "gpt-4o-mini");
    expect_str(&p, "gpt-4o-mini");
    expect_str(&p, "openai/gpt-4o-mini");
    expect_str(&p, "catalog");
    assert_int_equal(read_le(&p, 8), 180000);
    assert_int_equal(read_le(&p, 8), 1000);
    assert_int_equal(read_le(&p, 8), 50);
    assert_int_equal(read_le(&p, 8), 0);
    assert_int_equal(read_le(&p, 8), 0);
    assert_int_equal(read_le(&p, 1), 0); /* batch */
    expect_str(&p, "support");
    expect_str(&p, "prod");
    expect_str(&p, "support");
    expect_str(&p, "prod");
    expect_str(&p, "chat");
    expect_str(&p, ""); /* user */
    expect_str(&p, "key_0123456789ab");
    assert_int_equal(read_le(&p, 4), 0);
    /* issue 10's columns, zero / empty in an event without them */
    assert_int_equal(read_le(&p, 4), 1700000000); /* event_time */
    assert_int_equal(read_le(&p, 1), 0);          /* tag_keys: an empty array */
    assert_int_equal(read_le(&p, 1), 0);          /* tag_values */
    for (int i = 0; i < 5; i++)
        assert_int_equal(read_le(&p, 8), 0); /* reasoning .. cached audio */
    expect_str(&p, "standard");
    assert_int_equal(read_le(&p, 8), 0); /* web_search_calls */
    assert_int_equal((size_t)(p - b.p), b.len);
    free(b.p);
}

/* Issue 10's fields: the caller's time, the user, tags as two parallel arrays, token kinds, tier. */
static void test_rowbinary_issue10(void **state)
{
    (void)state;
    Costlynx__Store__V1__StoredEvent ev = sample_event();
    Costlynx__Store__V1__Tag t1 = COSTLYNX__STORE__V1__TAG__INIT, t2 = COSTLYNX__STORE__V1__TAG__INIT;
    t1.key = "team";
    t1.value = "search";
    t2.key = "tenant";
    t2.value = "t-42";
    Costlynx__Store__V1__Tag *tags[] = {&t1, &t2};
    ev.event_time_ms = 1699999990999; /* before its arrival */
    ev.user_id = "u-7";
    ev.tags = tags;
    ev.n_tags = 2;
    ev.reasoning_tokens = 11;
    ev.cache_write_1h_tokens = 12;
    ev.audio_input_tokens = 13;
    ev.audio_output_tokens = 14;
    ev.cached_audio_tokens = 15;
    ev.web_search_calls = 3;
    ev.service_tier = COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_FLEX;
    ev.voided = 1;
    clx_ch_row_t row = {.workspace = "acme", .cell = "", .version = 9, .voided = 1, .ev = &ev};
    clx_bytes_t b = {0};
    clx_ch_encode_row(&b, &row);

    const unsigned char *p = b.p;
    expect_str(&p, "acme");
    expect_str(&p, "req-1");
    assert_int_equal(read_le(&p, 8), 9);
    assert_int_equal(read_le(&p, 1), 1);
    expect_str(&p, "");
    assert_int_equal(read_le(&p, 4), 1700000000);       /* received_at stays the partition key */
    assert_int_equal(read_le(&p, 8), 1700000000123ull); /* received_at_ms */
    assert_int_equal(read_le(&p, 8), 1699999990999ull); /* event_time_ms: the caller's */
    for (int i = 0; i < 6; i++)
        free(read_string(&p));
    p += 5 * 8 + 1;
    for (int i = 0; i < 5; i++)
        free(read_string(&p));
    expect_str(&p, "u-7");
    expect_str(&p, "key_0123456789ab");
    p += 4;
    assert_int_equal(read_le(&p, 4), 1699999990); /* event_time */
    assert_int_equal(read_le(&p, 1), 2);
    expect_str(&p, "team");
    expect_str(&p, "tenant");
    assert_int_equal(read_le(&p, 1), 2);
    expect_str(&p, "search");
    expect_str(&p, "t-42");
    for (int i = 11; i <= 15; i++)
        assert_int_equal(read_le(&p, 8), i);
    expect_str(&p, "flex");
    assert_int_equal(read_le(&p, 8), 3);
    assert_int_equal((size_t)(p - b.p), b.len);
    free(b.p);
}

/* Edge values: a long string (multi-byte varint), negative money, a voided version. */
static void test_rowbinary_edges(void **state)
{
    (void)state;
    Costlynx__Store__V1__StoredEvent ev = sample_event();
    char feature[300];
    memset(feature, 'f', sizeof(feature) - 1);
    feature[sizeof(feature) - 1] = '\0';
    ev.feature = feature;
    ev.cost_nanos = -5;
    ev.cost_source = COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER;
    ev.batch = 1;
    ev.flags = 9;
    clx_ch_row_t row = {.workspace = "w", .cell = "", .version = 1, .voided = 1, .ev = &ev};
    clx_bytes_t b = {0};
    clx_ch_encode_row(&b, &row);

    const unsigned char *p = b.p;
    expect_str(&p, "w");
    expect_str(&p, "req-1");
    read_le(&p, 8);
    assert_int_equal(read_le(&p, 1), 1);
    expect_str(&p, "");
    p += 4 + 8 + 8;
    for (int i = 0; i < 5; i++)
        free(read_string(&p));
    expect_str(&p, "caller");
    assert_int_equal((int64_t)read_le(&p, 8), -5);
    p += 4 * 8;
    assert_int_equal(read_le(&p, 1), 1);
    for (int i = 0; i < 4; i++)
        free(read_string(&p));
    /* 299 bytes: varint 0xAB 0x02 */
    assert_int_equal(p[0], 0xAB);
    assert_int_equal(p[1], 0x02);
    expect_str(&p, feature);
    free(b.p);
}

/* Same events, same bytes: what makes a re-sent batch identical for block dedup. */
static void test_rowbinary_deterministic(void **state)
{
    (void)state;
    clx_bytes_t a = {0}, b = {0};
    for (int i = 0; i < 100; i++) {
        Costlynx__Store__V1__StoredEvent ev = sample_event();
        clx_ch_row_t row = {.workspace = "acme", .cell = "c1", .version = (uint64_t)i + 1, .ev = &ev};
        clx_ch_encode_row(&a, &row);
    }
    for (int i = 0; i < 100; i++) {
        Costlynx__Store__V1__StoredEvent ev = sample_event();
        clx_ch_row_t row = {.workspace = "acme", .cell = "c1", .version = (uint64_t)i + 1, .ev = &ev};
        clx_ch_encode_row(&b, &row);
    }
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    free(a.p);
    free(b.p);
}

static void test_schema_and_insert(void **state)
{
    (void)state;
    clx_bytes_t b = {0};
    clx_ch_target_t single = {.database = "costlynx", .table = "usage_events"};

    clx_ch_schema(&b, &single);
    const char *ddl = clx_bytes_cstr(&b);
    assert_non_null(strstr(ddl, "CREATE TABLE IF NOT EXISTS costlynx.usage_events\n"));
    assert_non_null(strstr(ddl, "ENGINE = ReplacingMergeTree(version)\n"));
    assert_non_null(strstr(ddl, "ORDER BY (workspace, request_id)\n"));
    assert_non_null(strstr(ddl, "cost_nanos            Int64"));
    assert_non_null(strstr(ddl, "tag_keys              Array(String)"));
    assert_non_null(strstr(ddl, "event_time            DateTime      DEFAULT toDateTime(intDiv(event_time_ms, 1000))"));
    assert_non_null(strstr(ddl, "PARTITION BY toYYYYMM(received_at)\n"));
    assert_null(strstr(ddl, "Float"));
    assert_null(strstr(ddl, "ON CLUSTER"));
    /* every column in the DDL, and no quote inside a comment (18.16 has no '' escape) */
    for (size_t i = 0; i < clx_ch_ncolumns(); i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n    %-21s ", clx_ch_column_name(i));
        assert_non_null(strstr(ddl, line));
    }
    for (const char *l = ddl; (l = strstr(l, "COMMENT '")) != NULL; l++) {
        const char *end = strchr(l + 9, '\'');
        assert_non_null(end);
        assert_true(end[1] == ',' || end[1] == '\n');
    }
    b.len = 0;

    clx_ch_target_t cluster = {.database = "db", .table = "ev", .cluster = "prod"};
    clx_ch_schema(&b, &cluster);
    ddl = clx_bytes_cstr(&b);
    assert_non_null(strstr(ddl, "CREATE TABLE IF NOT EXISTS db.ev_local ON CLUSTER prod\n"));
    assert_non_null(strstr(ddl, "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/ev_local', '{replica}', "
                                "version)"));
    assert_non_null(strstr(ddl, "ENGINE = Distributed(prod, db, ev_local, cityHash64(workspace, request_id));"));
    b.len = 0;

    clx_ch_insert_query(&b, &single);
    const char *q = clx_bytes_cstr(&b);
    assert_int_equal(strncmp(q, "INSERT INTO costlynx.usage_events (workspace, request_id, version, ", 67), 0);
    assert_non_null(strstr(
        q, ", flags, event_time, tag_keys, tag_values, reasoning_tokens, cache_write_1h_tokens, audio_input_tokens, "
           "audio_output_tokens, cached_audio_tokens, service_tier, web_search_calls) FORMAT RowBinary"));
    size_t commas = 0;
    for (const char *c = q; *c; c++)
        commas += *c == ',';
    assert_int_equal(commas + 1, clx_ch_ncolumns());
    free(b.p);

    assert_true(clx_ch_ident_valid("usage_events"));
    assert_true(clx_ch_ident_valid("_t1"));
    assert_false(clx_ch_ident_valid(""));
    assert_false(clx_ch_ident_valid("1t"));
    assert_false(clx_ch_ident_valid("a-b"));
    assert_false(clx_ch_ident_valid("a.b"));
    assert_false(clx_ch_ident_valid("t; DROP TABLE x"));
    assert_false(clx_ch_ident_valid("a`b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_order_across_workspaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_has_corrections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_corrupt_correction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_are_gapless_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_round_trip, setup, teardown),
        cmocka_unit_test(test_rowbinary_bytes),
        cmocka_unit_test(test_rowbinary_issue10),
        cmocka_unit_test(test_rowbinary_edges),
        cmocka_unit_test(test_rowbinary_deterministic),
        cmocka_unit_test(test_schema_and_insert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
