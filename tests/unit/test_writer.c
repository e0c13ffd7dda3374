/*
 * test_writer.c — storage/writer.c on a real RocksDB: dedup outcomes, group commit under
 * concurrency, sequence continuity across reopen, back-pressure and shutdown.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "clx_test.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_store.h"
#include "clx_writer.h"

/* Parks the writer thread inside done() (see done_hold) until released. */
typedef struct holder {
    sem_t entered;
    sem_t release;
} holder_t;

typedef struct fixture {
    char dir[64];
    clx_store_t *s;
    clx_writer_t *w;
    holder_t h;       /* for tests that park the writer; teardown releases it */
    pthread_t killer; /* a thread running clx_writer_destroy(w), when killing */
    int killing;
} fixture_t;


static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    sem_init(&f->h.entered, 0, 0);
    sem_init(&f->h.release, 0, 0);
    strcpy(f->dir, "/tmp/clx_test_writer_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    if (clx_store_open(f->dir, &f->s, NULL) != CLX_OK)
        return -1;
    if (clx_writer_create(f->s, 1u << 20, &f->w) != CLX_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    for (int i = 0; i < 8; i++) /* a failed test may have left the writer parked */
        sem_post(&f->h.release);
    if (f->killing)
        pthread_join(f->killer, NULL);
    else
        clx_writer_destroy(f->w);
    sem_destroy(&f->h.entered);
    sem_destroy(&f->h.release);
    clx_store_close(f->s);
    clx_test_rm_tree(f->dir);
    free(f);
    return 0;
}

/* --- synchronous submission ------------------------------------------------------------ */

/* Waits for s; a writer that never answers fails the run instead of hanging it. */
static void wait_for(sem_t *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    while (sem_timedwait(s, &ts) != 0) {
        if (errno != EINTR) {
            fprintf(stderr, "FAILED: the writer did not answer within 30 s\n");
            abort();
        }
    }
}

typedef struct waiter {
    sem_t done;
    int calls;
} waiter_t;

static void done_post(clx_write_req_t *req)
{
    waiter_t *wt = req->data;
    wt->calls++;
    sem_post(&wt->done);
}

/* Submits and waits for done(); returns req->status, the submit error, or -999 on a double done(). */
static int submit_wait(clx_writer_t *w, clx_write_item_t *items, size_t n)
{
    waiter_t wt = {.calls = 0};
    clx_write_req_t req = {.items = items, .nitems = n, .done = done_post, .data = &wt, .status = 12345};

    sem_init(&wt.done, 0, 0);
    int rc = clx_writer_submit(w, &req);
    if (rc == CLX_OK) {
        wait_for(&wt.done);
        rc = wt.calls == 1 ? req.status : -999; /* no cmocka assert: submitter threads call this */
    }
    sem_destroy(&wt.done);
    return rc;
}

static clx_write_item_t item(const char *ws, const char *id, const char *value, uint64_t fp)
{
    clx_write_item_t it = {
        .workspace = ws,
        .request_id = id,
        .request_id_len = strlen(id),
        .value = value,
        .value_len = strlen(value),
        .fingerprint = fp,
    };
    return it;
}

static void expect_stored(clx_store_t *s, const char *ws, const char *id, const char *value, uint64_t seq)
{
    char *v = NULL;
    size_t vlen = 0;
    uint64_t got = 0;

    assert_int_equal(clx_store_find_event(s, ws, id, strlen(id), &v, &vlen, &got), CLX_OK);
    assert_int_equal(vlen, strlen(value));
    assert_memory_equal(v, value, vlen);
    assert_int_equal(got, seq);
    free(v);

    /* and the event key itself */
    char key[128];
    size_t kl = clx_event_key(key, ws, seq);
    assert_int_equal(kl, strlen(ws) + 9);
    assert_int_equal(clx_store_get(s, CLX_CF_EVENTS, key, kl, &v, &vlen), CLX_OK);
    assert_memory_equal(v, value, vlen);
    free(v);
}

static size_t count_cf(clx_store_t *s, clx_cf_t cf, const char *prefix, size_t plen)
{
    size_t n = 0;
    clx_iter_t *it = clx_iter_create(s, cf, prefix, plen);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        n++;
    assert_int_equal(clx_iter_status(it), CLX_OK);
    clx_iter_destroy(it);
    return n;
}

/* --- dedup outcomes ---------------------------------------------------------------------- */

static void test_insert_then_skip(void **state)
{
    fixture_t *f = *state;
    clx_write_item_t a = item("acme", "req-1", "event-one", 111);

    assert_int_equal(submit_wait(f->w, &a, 1), CLX_OK);
    assert_int_equal(a.outcome, CLX_WRITE_INSERTED);
    assert_int_equal(a.seq, 1);
    expect_stored(f->s, "acme", "req-1", "event-one", 1);

    clx_write_item_t again = item("acme", "req-1", "event-one", 111);
    assert_int_equal(submit_wait(f->w, &again, 1), CLX_OK);
    assert_int_equal(again.outcome, CLX_WRITE_SKIPPED);
    assert_int_equal(again.seq, 1);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, NULL, 0), 1);

    char *v = NULL;
    size_t vlen = 0;
    uint64_t seq = 0;
    assert_int_equal(clx_store_find_event(f->s, "acme", "req-2", 5, &v, &vlen, &seq), CLX_ENOTFOUND);
    assert_int_equal(clx_store_find_event(f->s, "acm", "req-1", 5, &v, &vlen, &seq), CLX_ENOTFOUND);

    clx_writer_stats_t st;
    clx_writer_stats(f->w, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.items, 2);
    assert_int_equal(st.inserted, 1);
    assert_int_equal(st.groups, 1); /* the all-skipped group wrote nothing */
}

static void test_conflict_keeps_stored(void **state)
{
    fixture_t *f = *state;
    clx_write_item_t a = item("acme", "req-9", "original", 7);
    clx_write_item_t b = item("acme", "req-9", "impostor", 8);

    assert_int_equal(submit_wait(f->w, &a, 1), CLX_OK);
    assert_int_equal(a.outcome, CLX_WRITE_INSERTED);
    assert_int_equal(submit_wait(f->w, &b, 1), CLX_OK);
    assert_int_equal(b.outcome, CLX_WRITE_CONFLICT);
    assert_int_equal(b.seq, a.seq);
    expect_stored(f->s, "acme", "req-9", "original", a.seq);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, NULL, 0), 1);

    /* the dedup record still holds the first fingerprint */
    char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_get(f->s, CLX_CF_DEDUP, "acme\0req-9", 10, &v, &vlen), CLX_OK);
    assert_int_equal(vlen, CLX_DEDUP_VALUE_LEN);
    assert_int_equal(clx_be64_get((unsigned char *)v), a.seq);
    assert_int_equal(clx_be64_get((unsigned char *)v + 8), 7);
    free(v);
}

static void test_same_id_inside_one_request(void **state)
{
    fixture_t *f = *state;
    clx_write_item_t items[4] = {
        item("acme", "dup", "first", 1),
        item("acme", "other", "x", 2),
        item("acme", "dup", "second", 1),
        item("acme", "dup", "third", 99),
    };

    assert_int_equal(submit_wait(f->w, items, 4), CLX_OK);
    assert_int_equal(items[0].outcome, CLX_WRITE_INSERTED);
    assert_int_equal(items[1].outcome, CLX_WRITE_INSERTED);
    assert_int_equal(items[2].outcome, CLX_WRITE_SKIPPED);
    assert_int_equal(items[3].outcome, CLX_WRITE_CONFLICT);
    assert_int_equal(items[2].seq, items[0].seq);
    assert_int_not_equal(items[0].seq, items[1].seq);
    expect_stored(f->s, "acme", "dup", "first", items[0].seq);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, NULL, 0), 2);
    assert_int_equal(count_cf(f->s, CLX_CF_DEDUP, NULL, 0), 2);
}

static void test_same_id_two_workspaces(void **state)
{
    fixture_t *f = *state;
    /* "ws1"+"0\0x" vs "ws10"+"\0x": keys must not collide across workspace boundaries */
    clx_write_item_t items[3] = {
        item("ws1", "shared", "in-ws1", 5),
        item("ws10", "shared", "in-ws10", 5),
        item("ws2", "shared", "in-ws2", 6),
    };

    assert_int_equal(submit_wait(f->w, items, 3), CLX_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(items[i].outcome, CLX_WRITE_INSERTED);
    expect_stored(f->s, "ws1", "shared", "in-ws1", items[0].seq);
    expect_stored(f->s, "ws10", "shared", "in-ws10", items[1].seq);
    expect_stored(f->s, "ws2", "shared", "in-ws2", items[2].seq);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, "ws1", 4), 1);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, "ws10", 5), 1);

    /* a second request in another workspace is independent too */
    clx_write_item_t more = item("ws3", "shared", "in-ws3", 5);
    assert_int_equal(submit_wait(f->w, &more, 1), CLX_OK);
    assert_int_equal(more.outcome, CLX_WRITE_INSERTED);
    assert_int_equal(more.seq, 4);
}

static void test_empty_request(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(submit_wait(f->w, NULL, 0), CLX_OK);
    assert_int_equal(clx_writer_submit(f->w, NULL), CLX_EINVAL);
}

/* --- concurrency ------------------------------------------------------------------------- */

enum { NTHREADS = 8, NREQS = 500, NITEMS = 10, PER_THREAD = NREQS * NITEMS, NDISTINCT = 4 * PER_THREAD };

typedef struct thread_arg {
    clx_writer_t *w;
    int t;
    char ids[PER_THREAD][16];
    char vals[PER_THREAD][32];
    clx_write_item_t items[PER_THREAD];
    int busy;
    int failures;
} thread_arg_t;

static uint64_t fp_of(int id)
{
    return (uint64_t)id * 0x9E3779B97F4A7C15ull;
}

static void *submitter(void *p)
{
    thread_arg_t *a = p;

    /* threads t and t+4 race on the very same ids, in opposite orders */
    for (int i = 0; i < PER_THREAD; i++) {
        int local = a->t < 4 ? i : PER_THREAD - 1 - i;
        int id = (a->t % 4) * PER_THREAD + local;
        snprintf(a->ids[i], sizeof(a->ids[i]), "id-%d", id);
        snprintf(a->vals[i], sizeof(a->vals[i]), "value-of-%d", id);
        /* both racers of an id agree on its workspace */
        a->items[i] = item((a->t % 4) % 2 ? "ws-odd" : "ws-even", a->ids[i], a->vals[i], fp_of(id));
    }
    for (int r = 0; r < NREQS; r++) {
        int rc;
        while ((rc = submit_wait(a->w, &a->items[r * NITEMS], NITEMS)) == CLX_EBUSY) {
            a->busy++;
            usleep(100);
        }
        if (rc != CLX_OK)
            a->failures++;
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    fixture_t *f = *state;
    pthread_t th[NTHREADS];
    thread_arg_t *args = calloc(NTHREADS, sizeof(*args));
    static int inserted_by[NDISTINCT];

    memset(inserted_by, 0, sizeof(inserted_by));
    for (int t = 0; t < NTHREADS; t++) {
        args[t].w = f->w;
        args[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, submitter, &args[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);

    uint64_t maxseq = 0;
    char *seen = calloc(NDISTINCT + 1, 1);
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(args[t].failures, 0);
        for (int i = 0; i < PER_THREAD; i++) {
            clx_write_item_t *it = &args[t].items[i];
            int id = atoi(it->request_id + 3);
            if (it->outcome == CLX_WRITE_INSERTED) {
                inserted_by[id]++;
                assert_true(it->seq >= 1 && it->seq <= NDISTINCT);
                assert_int_equal(seen[it->seq], 0); /* no seq twice */
                seen[it->seq] = 1;
                if (it->seq > maxseq)
                    maxseq = it->seq;
            } else {
                assert_int_equal(it->outcome, CLX_WRITE_SKIPPED);
            }
        }
    }
    free(seen);
    for (int id = 0; id < NDISTINCT; id++)
        assert_int_equal(inserted_by[id], 1);
    assert_int_equal(maxseq, NDISTINCT);

    /* the store agrees: one event and one dedup record per id */
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, NULL, 0), NDISTINCT);
    assert_int_equal(count_cf(f->s, CLX_CF_DEDUP, NULL, 0), NDISTINCT);
    for (int id = 0; id < NDISTINCT; id += 97) {
        char rid[16], val[32];
        snprintf(rid, sizeof(rid), "id-%d", id);
        snprintf(val, sizeof(val), "value-of-%d", id);
        const char *ws = ((id / PER_THREAD) % 2) ? "ws-odd" : "ws-even";
        char *v = NULL;
        size_t vlen = 0;
        uint64_t seq = 0;
        assert_int_equal(clx_store_find_event(f->s, ws, rid, strlen(rid), &v, &vlen, &seq), CLX_OK);
        assert_int_equal(vlen, strlen(val));
        assert_memory_equal(v, val, vlen);
        free(v);
    }

    clx_writer_stats_t st;
    clx_writer_stats(f->w, &st);
    assert_int_equal(st.requests, NTHREADS * NREQS);
    assert_int_equal(st.items, NTHREADS * PER_THREAD);
    assert_int_equal(st.inserted, NDISTINCT);
    assert_true(st.groups < st.requests); /* group commit happened */
    print_message("    %llu requests in %llu synced groups\n", (unsigned long long)st.requests,
                  (unsigned long long)st.groups);
    free(args);
}

/* --- restart ----------------------------------------------------------------------------- */

static void test_reopen_continues_seq(void **state)
{
    fixture_t *f = *state;
    clx_write_item_t first[3] = {
        item("acme", "a", "va", 1),
        item("acme", "b", "vb", 2),
        item("beta", "a", "vba", 3),
    };

    assert_int_equal(submit_wait(f->w, first, 3), CLX_OK);
    assert_int_equal(first[2].seq, 3);

    clx_writer_destroy(f->w);
    f->w = NULL;
    clx_store_close(f->s);
    f->s = NULL;
    assert_int_equal(clx_store_open(f->dir, &f->s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(f->s, 1000, &f->w), CLX_OK);

    clx_write_item_t again[4] = {
        item("acme", "a", "va", 1),
        item("acme", "b", "other", 22),
        item("beta", "a", "vba", 3),
        item("acme", "c", "vc", 4),
    };
    assert_int_equal(submit_wait(f->w, again, 4), CLX_OK);
    assert_int_equal(again[0].outcome, CLX_WRITE_SKIPPED);
    assert_int_equal(again[0].seq, 1);
    assert_int_equal(again[1].outcome, CLX_WRITE_CONFLICT);
    assert_int_equal(again[2].outcome, CLX_WRITE_SKIPPED);
    assert_int_equal(again[3].outcome, CLX_WRITE_INSERTED);
    assert_int_equal(again[3].seq, 4); /* continues, no key reuse */
    expect_stored(f->s, "acme", "a", "va", 1);
    expect_stored(f->s, "acme", "b", "vb", 2);
    expect_stored(f->s, "acme", "c", "vc", 4);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, NULL, 0), 4);

    /* the persisted counter itself */
    char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_meta_get(f->s, "seq", &v, &vlen), CLX_OK);
    assert_int_equal(vlen, 8);
    assert_int_equal(clx_be64_get((unsigned char *)v), 4);
    free(v);
}

/* A disk below the reserve: the whole group is refused with CLX_ENOSPC, nothing is stored,
 * the sequence does not move, and the same items go through once the reserve allows. */
static void test_disk_full_refuses_group(void **state)
{
    fixture_t *f = *state;
    char *err = NULL;
    clx_write_item_t one[1] = {item("acme", "a", "va", 1)};
    assert_int_equal(submit_wait(f->w, one, 1), CLX_OK);

    clx_writer_destroy(f->w);
    f->w = NULL;
    clx_store_close(f->s);
    f->s = NULL;
    clx_store_config_t full = {.reserve_bytes = UINT64_MAX / 4};
    assert_int_equal(clx_store_open_with(f->dir, &full, &f->s, &err), CLX_OK);
    assert_int_equal(clx_writer_create(f->s, 1000, &f->w), CLX_OK);
    clx_write_item_t two[2] = {item("acme", "b", "vb", 2), item("acme", "a", "va", 1)};
    assert_int_equal(submit_wait(f->w, two, 2), CLX_ENOSPC);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, NULL, 0), 1);
    assert_int_equal(count_cf(f->s, CLX_CF_DEDUP, NULL, 0), 1);

    clx_writer_destroy(f->w);
    f->w = NULL;
    clx_store_close(f->s);
    f->s = NULL;
    assert_int_equal(clx_store_open(f->dir, &f->s, NULL), CLX_OK);
    assert_int_equal(clx_writer_create(f->s, 1000, &f->w), CLX_OK);
    clx_write_item_t retry[2] = {item("acme", "b", "vb", 2), item("acme", "a", "va", 1)};
    assert_int_equal(submit_wait(f->w, retry, 2), CLX_OK);
    assert_int_equal(retry[0].outcome, CLX_WRITE_INSERTED);
    assert_int_equal(retry[0].seq, 2); /* the refused group used no sequence number */
    assert_int_equal(retry[1].outcome, CLX_WRITE_SKIPPED);
    expect_stored(f->s, "acme", "b", "vb", 2);
}

/* --- back-pressure and shutdown ------------------------------------------------------------ */

static void done_hold(clx_write_req_t *req)
{
    holder_t *h = req->data;
    sem_post(&h->entered);
    wait_for(&h->release);
}

/* Static: the writer may still touch these after a failed assertion left the test. */
static struct {
    waiter_t wb, wd, wf;
    clx_write_item_t ia, ib[3], ic[3], id[2], ie, ifx[10];
    clx_write_req_t ra, rb, rc, rd, re, rf;
} qf;

static void test_queue_full(void **state)
{
    fixture_t *f = *state;

    clx_writer_destroy(f->w);
    f->w = NULL;
    assert_int_equal(clx_writer_create(f->s, 5, &f->w), CLX_OK);
    memset(&qf, 0, sizeof(qf));
    sem_init(&qf.wb.done, 0, 0);
    sem_init(&qf.wd.done, 0, 0);
    sem_init(&qf.wf.done, 0, 0);
    qf.ia = item("q", "a", "v", 1);
    for (int i = 0; i < 3; i++) {
        static const char *b[] = {"b1", "b2", "b3"}, *c[] = {"c1", "c2", "c3"};
        qf.ib[i] = item("q", b[i], "v", 1);
        qf.ic[i] = item("q", c[i], "v", 1);
    }
    qf.id[0] = item("q", "d1", "v", 1);
    qf.id[1] = item("q", "d2", "v", 1);
    qf.ie = item("q", "e", "v", 1);
    for (int i = 0; i < 10; i++)
        qf.ifx[i] = item("q", "big", "v", 1);
    qf.ra = (clx_write_req_t){.items = &qf.ia, .nitems = 1, .done = done_hold, .data = &f->h};
    qf.rb = (clx_write_req_t){.items = qf.ib, .nitems = 3, .done = done_post, .data = &qf.wb};
    qf.rc = (clx_write_req_t){.items = qf.ic, .nitems = 3, .done = done_post, .data = &qf.wb};
    qf.rd = (clx_write_req_t){.items = qf.id, .nitems = 2, .done = done_post, .data = &qf.wd};
    qf.re = (clx_write_req_t){.items = &qf.ie, .nitems = 1, .done = done_post, .data = &qf.wd};
    qf.rf = (clx_write_req_t){.items = qf.ifx, .nitems = 10, .done = done_post, .data = &qf.wf};

    assert_int_equal(clx_writer_submit(f->w, &qf.ra), CLX_OK);
    wait_for(&f->h.entered); /* the writer is parked in A's done(); the queue is empty */
    assert_int_equal(clx_writer_submit(f->w, &qf.rb), CLX_OK);    /* 3 queued */
    assert_int_equal(clx_writer_submit(f->w, &qf.rc), CLX_EBUSY); /* 3 + 3 > 5 */
    assert_int_equal(clx_writer_submit(f->w, &qf.rd), CLX_OK);    /* 5 queued */
    assert_int_equal(clx_writer_submit(f->w, &qf.re), CLX_EBUSY); /* 5 + 1 > 5 */
    sem_post(&f->h.release);
    wait_for(&qf.wb.done);
    wait_for(&qf.wd.done);
    assert_int_equal(qf.wb.calls, 1); /* C was refused: its done() is never called */
    assert_int_equal(qf.wd.calls, 1);
    assert_int_equal(qf.ra.status, CLX_OK);
    assert_int_equal(qf.rb.status, CLX_OK);
    assert_int_equal(qf.rd.status, CLX_OK);
    assert_int_equal(qf.ib[2].outcome, CLX_WRITE_INSERTED);
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, "q", 2), 6);
    char *v = NULL;
    size_t vlen = 0;
    uint64_t seq;
    assert_int_equal(clx_store_find_event(f->s, "q", "c1", 2, &v, &vlen, &seq), CLX_ENOTFOUND);

    /* a request above the limit still passes through an empty queue */
    assert_int_equal(clx_writer_submit(f->w, &qf.rf), CLX_OK);
    wait_for(&qf.wf.done);
    assert_int_equal(qf.rf.status, CLX_OK);
    assert_int_equal(qf.ifx[0].outcome, CLX_WRITE_INSERTED);
    assert_int_equal(qf.ifx[9].outcome, CLX_WRITE_SKIPPED);
}

static void *killer(void *p)
{
    clx_writer_destroy(p);
    return NULL;
}

typedef struct probe {
    int calls;
    int status;
} probe_t;

static void done_probe(clx_write_req_t *req)
{
    probe_t *p = req->data;
    p->calls++;
    p->status = req->status;
}

enum { NPROBES = 10000 };
static struct { /* static for the same reason as qf */
    clx_write_item_t ia;
    clx_write_req_t ra;
    clx_write_req_t reqs[NPROBES];
    clx_write_item_t items[NPROBES];
    probe_t probes[NPROBES];
    char ids[NPROBES][16];
} sd;

static void test_shutdown(void **state)
{
    fixture_t *f = *state;
    int nok = 0, rc = CLX_OK;

    memset(&sd, 0, sizeof(sd));
    sd.ia = item("sd", "held", "v", 1);
    sd.ra = (clx_write_req_t){.items = &sd.ia, .nitems = 1, .done = done_hold, .data = &f->h};
    assert_int_equal(clx_writer_submit(f->w, &sd.ra), CLX_OK);
    wait_for(&f->h.entered);
    assert_int_equal(pthread_create(&f->killer, NULL, killer, f->w), 0);
    f->killing = 1;

    /* requests queued before destroy took effect are drained; after, refused */
    for (nok = 0; nok < NPROBES; nok++) {
        snprintf(sd.ids[nok], sizeof(sd.ids[nok]), "p%d", nok);
        sd.items[nok] = item("sd", sd.ids[nok], "pv", 2);
        sd.reqs[nok] =
            (clx_write_req_t){.items = &sd.items[nok], .nitems = 1, .done = done_probe, .data = &sd.probes[nok]};
        rc = clx_writer_submit(f->w, &sd.reqs[nok]);
        if (rc != CLX_OK)
            break;
        usleep(50);
    }
    assert_int_equal(rc, CLX_ESHUTDOWN);
    sem_post(&f->h.release);
    pthread_join(f->killer, NULL);
    f->killing = 0;
    f->w = NULL;

    assert_int_equal(sd.probes[nok].calls, 0); /* refused: never completed */
    for (int i = 0; i < nok; i++) {
        assert_int_equal(sd.probes[i].calls, 1);
        assert_int_equal(sd.probes[i].status, CLX_OK);
        assert_int_equal(sd.items[i].outcome, CLX_WRITE_INSERTED);
    }
    assert_int_equal(count_cf(f->s, CLX_CF_EVENTS, "sd", 3), (size_t)nok + 1);
    print_message("    %d requests drained at shutdown\n", nok);
    clx_writer_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_then_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_keeps_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_id_inside_one_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_id_two_workspaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_refuses_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
