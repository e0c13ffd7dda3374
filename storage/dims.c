/*
 * dims.c — the dims family: usage counters per end user, ingestion key and declared tag
 * value in aligned day buckets of three widths; their keys, an event's deltas, and the sums
 * over a range of days that top-N queries read.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "clx_dims.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_events.h"
#include "clx_hash.h"
#include "clx_log.h"

/*
 * 1, 4 and 16 days. A range of n days is tiled by at most about 2·3 + n/16 buckets (the
 * edges in smaller ones); "the last 30 days" reads 5 to 12 of them (6.9 on average), and
 * the coarse ones already hold each value once. Writes cost one merge per level and value: three for an
 * event's user (docs/design.md, Rollups, has the measurements behind the choice).
 */
static const uint32_t spans[CLX_DIMS_LEVELS] = {1, 4, 16};

uint32_t clx_dims_span(int level)
{
    return spans[level];
}

size_t clx_dims_key_size(const char *ws, const char *space, const char *value)
{
    return 1 + strlen(ws) + 1 + strlen(space) + 1 + 1 + 4 + 1 + strlen(value);
}

/* kind | ws '\0' | space '\0' | level | bucket: the prefix of one bucket's range. */
static size_t put_prefix(char *buf, char kind, const char *ws, const char *space, int level, uint32_t bucket)
{
    size_t n = 0, wl = strlen(ws), sl = strlen(space);
    buf[n++] = kind;
    memcpy(buf + n, ws, wl + 1);
    n += wl + 1;
    memcpy(buf + n, space, sl + 1);
    n += sl + 1;
    buf[n++] = (char)level;
    for (int i = 3; i >= 0; i--)
        buf[n++] = (char)(bucket >> (8 * i));
    return n;
}

size_t clx_dims_key_encode(char *buf, char kind, const char *ws, const char *space, int level, uint32_t bucket,
                           uint8_t flags, const char *value)
{
    size_t n = put_prefix(buf, kind, ws, space, level, bucket);
    size_t vl = strlen(value);
    buf[n++] = (char)flags;
    memcpy(buf + n, value, vl);
    return n + vl;
}

int clx_dims_key_decode(const char *key, size_t klen, char *kind, const char **space, size_t *slen, int *level,
                        uint32_t *bucket, uint8_t *flags, const char **value, size_t *vlen)
{
    if (klen < 1)
        return -1;
    const char *ws_end = memchr(key + 1, '\0', klen - 1);
    if (ws_end == NULL)
        return -1;
    const char *sp = ws_end + 1;
    const char *sp_end = memchr(sp, '\0', (size_t)(key + klen - sp));
    if (sp_end == NULL || (size_t)(key + klen - sp_end) < 1 + 1 + 4 + 1)
        return -1;
    const unsigned char *p = (const unsigned char *)sp_end + 1;
    if (p[0] >= CLX_DIMS_LEVELS)
        return -1;
    *kind = key[0];
    *space = sp;
    *slen = (size_t)(sp_end - sp);
    *level = p[0];
    *bucket = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    *flags = p[5];
    *value = (const char *)p + 6;
    *vlen = klen - (size_t)((const char *)p + 6 - key);
    return 0;
}

size_t clx_dims_tile(int64_t from_day, int64_t to_day, int *levels, uint32_t *buckets, size_t max)
{
    size_t n = 0;
    for (int64_t d = from_day < 0 ? 0 : from_day; d < to_day;) {
        int l = CLX_DIMS_LEVELS - 1;
        while (l > 0 && (d % spans[l] != 0 || d + spans[l] > to_day))
            l--;
        if (n < max) {
            levels[n] = l;
            buckets[n] = (uint32_t)d;
        }
        n++;
        d += spans[l];
    }
    return n;
}

uint32_t clx_dims_rolled_tags(const Costlynx__Store__V1__StoredEvent *rec, char *const *declared, size_t ndeclared)
{
    uint32_t bits = 0;
    for (size_t t = 0; t < rec->n_tags && t < 32; t++)
        for (size_t i = 0; i < ndeclared; i++)
            if (rec->tags[t] != NULL && rec->tags[t]->key != NULL && strcmp(rec->tags[t]->key, declared[i]) == 0)
                bits |= 1u << t;
    return bits;
}

size_t clx_dims_event_refs(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, int64_t day,
                           const clx_rollup_t *delta, clx_rollup_ref_t *refs)
{
    /* (kind, space, value) of each dimension the event has */
    char kinds[2 + CLX_DIMS_MAX_TAGS];
    const char *space[2 + CLX_DIMS_MAX_TAGS], *value[2 + CLX_DIMS_MAX_TAGS];
    size_t nd = 0;
    if (rec->user_id != NULL && rec->user_id[0] != '\0') {
        kinds[nd] = CLX_DIM_KIND_USER;
        space[nd] = "";
        value[nd++] = rec->user_id;
    }
    if (rec->key_id != NULL && rec->key_id[0] != '\0') {
        kinds[nd] = CLX_DIM_KIND_KEY;
        space[nd] = "";
        value[nd++] = rec->key_id;
    }
    for (size_t t = 0; t < rec->n_tags && t < 32 && nd < 2 + CLX_DIMS_MAX_TAGS; t++) {
        if (!(rec->rolled_tags & (1u << t)) || rec->tags[t] == NULL)
            continue;
        kinds[nd] = CLX_DIM_KIND_TAG;
        space[nd] = rec->tags[t]->key != NULL ? rec->tags[t]->key : "";
        value[nd++] = rec->tags[t]->value != NULL ? rec->tags[t]->value : "";
    }
    uint8_t flags = (rec->flags & COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED) ? 1 : 0;
    uint32_t d = (uint32_t)(day < 0 ? 0 : day);
    size_t n = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t size = clx_dims_key_size(ws, space[i], value[i]);
        for (int l = 0; l < CLX_DIMS_LEVELS; l++) {
            char *key = clx_arena_alloc(arena, size);
            refs[n].klen = clx_dims_key_encode(key, kinds[i], ws, space[i], l, d - d % spans[l], flags, value[i]);
            refs[n].key = key;
            refs[n].delta = *delta;
            refs[n].dims = 1;
            n++;
        }
    }
    return n;
}

/* ---- the writer's sums not yet in the store ------------------------------------------------- */

typedef struct acc_entry {
    const char *key; /* in the table's arena */
    size_t klen;
    uint64_t hash;
    clx_rollup_t sum;
} acc_entry_t;

/* Sums by key: an open-addressing table of entry indexes, keys in an arena. */
typedef struct table {
    clx_arena_t *keys;
    acc_entry_t *e;
    size_t n, cap;
    uint32_t *slots; /* entry index + 1; 0 empty; at most half full */
    size_t mask;
} table_t;

/*
 * Two tables: the writer adds to cur; a flush swaps it with the empty out and the flusher
 * thread writes out to the store while the writer goes on. Locks, always in this order:
 * view (held by a flush from its write until out is emptied, and by a query while it takes
 * its iterators and copies the tables: so a query sees each sum once, in the store or in a
 * table) and mu (the tables and the hand-off; the writer's adds take only mu, so a flush never
 * holds up ingestion).
 */
struct clx_dims_acc {
    pthread_mutex_t view;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    table_t t[2];
    int cur;          /* index of the table the writer adds to */
    int out_busy;     /* t[!cur] holds sums being written */
    uint64_t out_through;
    int stop;
    clx_store_t *s;   /* set by clx_dims_acc_start: the flusher thread runs */
    clx_batch_t *batch;
    pthread_t thread;
    atomic_size_t flushed; /* merges written, for the upkeep (read by the writer) */
};

static void table_init(table_t *t)
{
    memset(t, 0, sizeof(*t));
    t->keys = clx_arena_create(1 << 20);
    t->mask = 4095;
    t->slots = clx_xcalloc(t->mask + 1, sizeof(*t->slots));
}

static void table_dispose(table_t *t)
{
    clx_arena_destroy(t->keys);
    free(t->e);
    free(t->slots);
}

static void table_clear(table_t *t)
{
    t->n = 0;
    memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
    clx_arena_reset(t->keys);
}

clx_dims_acc_t *clx_dims_acc_create(void)
{
    clx_dims_acc_t *a = clx_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->view, NULL);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    table_init(&a->t[0]);
    table_init(&a->t[1]);
    atomic_init(&a->flushed, 0);
    return a;
}

static void table_rehash(table_t *t, size_t nslots)
{
    free(t->slots);
    t->slots = clx_xcalloc(nslots, sizeof(*t->slots));
    t->mask = nslots - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = (size_t)t->e[i].hash & t->mask;
        while (t->slots[h] != 0)
            h = (h + 1) & t->mask;
        t->slots[h] = (uint32_t)(i + 1);
    }
}

static void table_add(table_t *t, const char *key, size_t klen, const clx_rollup_t *d)
{
    uint64_t hv = clx_fnv1a64(CLX_FNV1A64_INIT, key, klen);
    size_t h = (size_t)hv & t->mask;
    for (; t->slots[h] != 0; h = (h + 1) & t->mask) {
        acc_entry_t *e = &t->e[t->slots[h] - 1];
        if (e->hash == hv && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            clx_rollup_add(&e->sum, d);
            return;
        }
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->e = clx_xrealloc(t->e, t->cap * sizeof(*t->e));
    }
    acc_entry_t *e = &t->e[t->n++];
    char *k = clx_arena_alloc(t->keys, klen ? klen : 1);
    memcpy(k, key, klen);
    *e = (acc_entry_t){.key = k, .klen = klen, .hash = hv, .sum = *d};
    t->slots[h] = (uint32_t)t->n;
    if (2 * t->n > t->mask + 1)
        table_rehash(t, (t->mask + 1) * 2);
}

/* Caller holds a->mu. */
static void acc_add_one(clx_dims_acc_t *a, const char *key, size_t klen, const clx_rollup_t *d)
{
    table_add(&a->t[a->cur], key, klen, d);
}

void clx_dims_acc_add(clx_dims_acc_t *a, const clx_rollup_ref_t *const *refs, size_t n)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < n; i++)
        if (refs[i]->dims)
            acc_add_one(a, refs[i]->key, refs[i]->klen, &refs[i]->delta);
    pthread_mutex_unlock(&a->mu);
}

size_t clx_dims_acc_size(clx_dims_acc_t *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->t[a->cur].n;
    pthread_mutex_unlock(&a->mu);
    return n;
}

static int cmp_entry(const void *x, const void *y)
{
    const acc_entry_t *a = *(const acc_entry_t *const *)x, *b = *(const acc_entry_t *const *)y;
    int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
    return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/*
 * Writes table t and through into the store in one unsynced batch b (lost with a crash,
 * "through" is lost with it). The caller holds view (no query snapshots meanwhile) and keeps
 * t unchanged. CLX_OK or the store's error.
 */
static int table_write(const table_t *t, clx_store_t *s, clx_batch_t *b, uint64_t through)
{
    clx_batch_clear(b);
    /* in key order: each skiplist insert starts where the previous one ended */
    const acc_entry_t **order = clx_xmalloc((t->n ? t->n : 1) * sizeof(*order));
    for (size_t i = 0; i < t->n; i++)
        order[i] = &t->e[i];
    qsort(order, t->n, sizeof(*order), cmp_entry);
    for (size_t i = 0; i < t->n; i++) {
        unsigned char packed[CLX_ROLLUP_COMPACT_MAX];
        size_t plen = clx_rollup_pack_compact(&order[i]->sum, packed);
        clx_batch_merge_counters(b, s, CLX_CF_DIMS, order[i]->key, order[i]->klen, packed, plen);
    }
    free(order);
    unsigned char tv[8];
    clx_be64_put(tv, through);
    clx_batch_meta_put(b, s, CLX_DIMS_META_THROUGH, tv, sizeof(tv));
    int rc = clx_store_write(s, b, 0);
    clx_batch_clear(b);
    return rc;
}

/* The flusher thread: writes out whenever a flush hands it over; retries a failed write. */
static void *flusher_main(void *arg)
{
    clx_dims_acc_t *a = arg;
    pthread_setname_np(pthread_self(), "clx-dims");
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->out_busy && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (!a->out_busy)
            break; /* stopping, nothing handed over */
        pthread_mutex_unlock(&a->mu);
        pthread_mutex_lock(&a->view); /* view before mu, always */
        pthread_mutex_lock(&a->mu);
        if (!a->out_busy) { /* a synchronous flush wrote it meanwhile */
            pthread_mutex_unlock(&a->view);
            continue;
        }
        table_t *out = &a->t[!a->cur];
        uint64_t through = a->out_through;
        pthread_mutex_unlock(&a->mu);
        /* out is ours until emptied: the writer adds to cur, queries only read (under view) */
        int rc = table_write(out, a->s, a->batch, through);
        pthread_mutex_lock(&a->mu);
        if (rc == CLX_OK) {
            atomic_fetch_add(&a->flushed, out->n);
            table_clear(out);
            a->out_busy = 0;
            pthread_cond_broadcast(&a->cv);
        }
        pthread_mutex_unlock(&a->view);
        if (rc != CLX_OK) {
            clx_log(CLX_LOG_WARN, "store", "dims sums not flushed yet (%s); kept in memory", clx_strerror(rc));
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&a->cv, &a->mu, &until); /* then retry (or stop) */
            if (a->stop)
                break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int clx_dims_acc_start(clx_dims_acc_t *a, clx_store_t *s)
{
    a->s = s;
    a->batch = clx_batch_create();
    if (pthread_create(&a->thread, NULL, flusher_main, a) != 0) {
        clx_batch_destroy(a->batch);
        a->batch = NULL;
        a->s = NULL;
        return CLX_EIO;
    }
    return CLX_OK;
}

int clx_dims_acc_flush_async(clx_dims_acc_t *a, uint64_t through)
{
    pthread_mutex_lock(&a->mu);
    int started = 0;
    if (a->s != NULL && !a->out_busy && a->t[a->cur].n > 0) {
        a->cur = !a->cur; /* the held sums become out; the emptied out becomes cur */
        a->out_busy = 1;
        a->out_through = through;
        pthread_cond_broadcast(&a->cv);
        started = 1;
    }
    pthread_mutex_unlock(&a->mu);
    return started;
}

size_t clx_dims_acc_flushed(clx_dims_acc_t *a)
{
    return atomic_exchange(&a->flushed, 0);
}

int clx_dims_acc_flush(clx_dims_acc_t *a, clx_store_t *s, clx_batch_t *b, uint64_t through, size_t *merges)
{
    /* view: no query snapshots and no flusher write meanwhile; mu: the tables */
    pthread_mutex_lock(&a->view);
    pthread_mutex_lock(&a->mu);
    int rc = CLX_OK;
    size_t n = 0;
    if (a->out_busy) { /* handed over but not written (or its write failed): first, in order */
        table_t *out = &a->t[!a->cur];
        rc = table_write(out, s, b, a->out_through);
        if (rc == CLX_OK) {
            n += out->n;
            table_clear(out);
            a->out_busy = 0;
            pthread_cond_broadcast(&a->cv);
        }
    }
    if (rc == CLX_OK) { /* even when empty: it records how far the store is counted */
        table_t *cur = &a->t[a->cur];
        rc = table_write(cur, s, b, through);
        if (rc == CLX_OK) {
            n += cur->n;
            table_clear(cur);
        }
    }
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_unlock(&a->view);
    if (merges != NULL)
        *merges = rc == CLX_OK ? n : 0;
    return rc;
}

void clx_dims_acc_destroy(clx_dims_acc_t *a)
{
    if (a == NULL)
        return;
    if (a->s != NULL) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
        clx_batch_destroy(a->batch);
    }
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->view);
    table_dispose(&a->t[0]);
    table_dispose(&a->t[1]);
    free(a);
}

struct replay {
    clx_dims_acc_t *a;
    clx_arena_t *arena;
    uint64_t n;
};

static int replay_one(void *arg, const clx_logged_event_t *ev)
{
    struct replay *r = arg;
    if (ev->event_seq != ev->seq)
        return 0; /* a correction's entry: its deltas went into its own batch (after a flush) */
    Costlynx__Store__V1__StoredEvent *rec =
        costlynx__store__v1__stored_event__unpack(NULL, ev->vlen, (const uint8_t *)ev->value);
    if (rec == NULL) {
        clx_log(CLX_LOG_ERROR, "store", "event %llu cannot be read: its dims are not counted",
                (unsigned long long)ev->seq);
        return 0;
    }
    if (!rec->voided) { /* the current version: what the rollups hold for it too */
        clx_arena_reset(r->arena);
        clx_rollup_ref_t refs[CLX_ROLLUP_PER_EVENT];
        const clx_rollup_ref_t *ptrs[CLX_ROLLUP_PER_EVENT];
        size_t n = clx_rollup_event_refs(r->arena, ev->workspace, rec, 1, refs);
        for (size_t i = 0; i < n; i++)
            ptrs[i] = &refs[i];
        pthread_mutex_lock(&r->a->mu);
        for (size_t i = 0; i < n; i++)
            if (ptrs[i]->dims)
                acc_add_one(r->a, ptrs[i]->key, ptrs[i]->klen, &ptrs[i]->delta);
        pthread_mutex_unlock(&r->a->mu);
    }
    costlynx__store__v1__stored_event__free_unpacked(rec, NULL);
    r->n++;
    return 0;
}

int clx_dims_acc_recover(clx_dims_acc_t *a, clx_store_t *s, uint64_t last_seq, uint64_t *replayed)
{
    char *v = NULL;
    size_t vlen = 0;
    if (replayed != NULL)
        *replayed = 0;
    int rc = clx_store_meta_get(s, CLX_DIMS_META_THROUGH, &v, &vlen);
    if (rc == CLX_ENOTFOUND) {
        unsigned char tv[8];
        clx_be64_put(tv, last_seq);
        return clx_store_meta_put(s, CLX_DIMS_META_THROUGH, tv, sizeof(tv));
    }
    if (rc != CLX_OK)
        return rc;
    if (vlen != 8) {
        free(v);
        clx_log(CLX_LOG_ERROR, "store", "metadata %s has %zu bytes, expected 8", CLX_DIMS_META_THROUGH, vlen);
        return CLX_ECORRUPT;
    }
    uint64_t through = clx_be64_get((const unsigned char *)v);
    free(v);
    struct replay r = {.a = a, .arena = clx_arena_create(4096)};
    rc = clx_events_read_after(s, through, UINT64_MAX, SIZE_MAX, replay_one, &r, NULL);
    clx_arena_destroy(r.arena);
    if (replayed != NULL)
        *replayed = r.n;
    if (rc == CLX_OK && r.n > 0)
        clx_log(CLX_LOG_INFO, "store", "counted the dims of %llu events written after the last flush",
                (unsigned long long)r.n);
    return rc;
}

/* ---- sums over a range ---------------------------------------------------------------------- */

/*
 * A range is read as runs: one per (tile, flags), each a RocksDB range whose keys differ only
 * in their value, so each yields its values in sorted order. Merging the runs (the smallest
 * current value first) meets every value once per run that has it, in order: a value's sum
 * is complete when the merge moves past it, and rows come out sorted with no hash table —
 * 100,000 users over 7 tiles cost sequential reads and a few comparisons each, not a random
 * memory access per key.
 */
/* A held sum copied out of the accumulator for a query: its value and counters. */
typedef struct held {
    const char *value;
    size_t vlen;
    clx_rollup_t sum;
} held_t;

typedef struct run {
    clx_iter_t *it; /* a range of the store; NULL: held sums (items) */
    char *prefix;   /* kind ws space level bucket flags: every key of the run starts with it */
    size_t plen;
    uint8_t flags;
    held_t *items; /* sorted by value */
    size_t nitems, pos, cap;
    const char *value; /* the current value (valid until the run moves); NULL: ended */
    size_t vlen;
} run_t;

/* Points r at its current key or item (or ends it). */
static void run_settle(run_t *r)
{
    r->value = NULL;
    if (r->it == NULL) {
        if (r->pos < r->nitems) {
            r->value = r->items[r->pos].value;
            r->vlen = r->items[r->pos].vlen;
        }
        return;
    }
    if (!clx_iter_valid(r->it))
        return;
    size_t klen;
    const char *key = clx_iter_key(r->it, &klen);
    if (klen < r->plen || memcmp(key, r->prefix, r->plen) != 0)
        return; /* past the run */
    r->value = key + r->plen;
    r->vlen = klen - r->plen;
}

/* The current counters of r: CLX_OK or CLX_ECORRUPT. */
static int run_counters(run_t *r, clx_rollup_t *c)
{
    if (r->it == NULL) {
        *c = r->items[r->pos].sum;
        return CLX_OK;
    }
    size_t vlen;
    const char *val = clx_iter_value(r->it, &vlen);
    if (clx_rollup_unpack(val, vlen, c) != CLX_OK) {
        clx_log(CLX_LOG_ERROR, "store", "a record of %zu bytes in the dims family is malformed", vlen);
        return CLX_ECORRUPT;
    }
    return CLX_OK;
}

static void run_next(run_t *r)
{
    if (r->it == NULL)
        r->pos++;
    else
        clx_iter_next(r->it);
    run_settle(r);
}

static int value_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

static int cmp_held(const void *x, const void *y)
{
    const held_t *a = x, *b = y;
    return value_cmp(a->value, a->vlen, b->value, b->vlen);
}

/*
 * Copies what acc holds for the store runs runs[0..nstore) into held runs (one per store run,
 * appended at runs + nstore), values into arena. Caller holds acc->mu.
 */
static void take_held(clx_dims_acc_t *acc, run_t *runs, size_t nstore, clx_arena_t *arena)
{
    size_t common = runs[0].plen - 6; /* kind ws space: shared by every run */
    for (size_t i = 0; i < nstore; i++)
        runs[nstore + i] = (run_t){.flags = runs[i].flags};
    for (int k = 0; k < 2; k++) {
        const table_t *t = &acc->t[k];
        if (t != &acc->t[acc->cur] && !acc->out_busy)
            continue;
        for (size_t j = 0; j < t->n; j++) {
            const acc_entry_t *e = &t->e[j];
            if (e->klen < runs[0].plen || memcmp(e->key, runs[0].prefix, common) != 0)
                continue;
            for (size_t i = 0; i < nstore; i++) {
                if (memcmp(e->key + common, runs[i].prefix + common, 6) != 0)
                    continue;
                run_t *h = &runs[nstore + i];
                if (h->nitems == h->cap) {
                    size_t cap = h->cap ? h->cap * 2 : 64;
                    held_t *fresh = clx_arena_alloc(arena, cap * sizeof(*fresh));
                    if (h->nitems)
                        memcpy(fresh, h->items, h->nitems * sizeof(*fresh));
                    h->items = fresh;
                    h->cap = cap;
                }
                size_t vlen = e->klen - runs[i].plen;
                char *v = clx_arena_alloc(arena, vlen ? vlen : 1);
                memcpy(v, e->key + runs[i].plen, vlen);
                h->items[h->nitems++] = (held_t){.value = v, .vlen = vlen, .sum = e->sum};
                break;
            }
        }
    }
}

/* Sorts a held run by value and adds up equal values (one from each table): one item each. */
static void held_sort(run_t *h)
{
    if (h->nitems < 2)
        return;
    qsort(h->items, h->nitems, sizeof(*h->items), cmp_held);
    size_t w = 0;
    for (size_t i = 1; i < h->nitems; i++) {
        if (cmp_held(&h->items[w], &h->items[i]) == 0)
            clx_rollup_add(&h->items[w].sum, &h->items[i].sum);
        else
            h->items[++w] = h->items[i];
    }
    h->nitems = w + 1;
}

int clx_dims_sum(clx_store_t *s, clx_dims_acc_t *acc, char kind, const char *ws, const char *tag_key, int64_t from_day,
                 int64_t to_day, clx_arena_t *arena, clx_dims_row_t **rows, size_t *nrows, clx_dims_row_t *total)
{
    const char *space = kind == CLX_DIM_KIND_TAG && tag_key != NULL ? tag_key : "";
    memset(total, 0, sizeof(*total));
    *rows = NULL;
    *nrows = 0;
    if (from_day < 0)
        from_day = 0;
    if (to_day > (int64_t)UINT32_MAX)
        to_day = UINT32_MAX;
    if (to_day <= from_day)
        return CLX_OK;

    size_t ntiles = clx_dims_tile(from_day, to_day, NULL, NULL, 0);
    int *levels = clx_arena_alloc(arena, ntiles * sizeof(*levels));
    uint32_t *buckets = clx_arena_alloc(arena, ntiles * sizeof(*buckets));
    clx_dims_tile(from_day, to_day, levels, buckets, ntiles);

    /* two store runs per tile: the priced events' counters (flags 0), then the unpriced
     * (flags 1); then as many runs of what the accumulator holds for them */
    size_t nstore = 2 * ntiles, nruns = acc != NULL ? 2 * nstore : nstore, cap = 0, n = 0;
    run_t *runs = clx_arena_zalloc(arena, nruns * sizeof(*runs));
    size_t plen = clx_dims_key_size(ws, space, "");
    int rc = CLX_OK;
    if (acc != NULL) { /* the store and the held sums at one moment: a flush holds view */
        pthread_mutex_lock(&acc->view);
        pthread_mutex_lock(&acc->mu);
    }
    for (size_t i = 0; i < nstore; i++) {
        run_t *r = &runs[i];
        r->flags = (uint8_t)(i % 2);
        r->prefix = clx_arena_alloc(arena, plen);
        r->plen = clx_dims_key_encode(r->prefix, kind, ws, space, levels[i / 2], buckets[i / 2], r->flags, "");
        r->it = clx_iter_create(s, CLX_CF_DIMS, r->prefix, r->plen);
    }
    if (acc != NULL) {
        take_held(acc, runs, nstore, arena);
        pthread_mutex_unlock(&acc->mu);
        pthread_mutex_unlock(&acc->view);
        for (size_t i = nstore; i < nruns; i++)
            held_sort(&runs[i]);
    }
    for (size_t i = 0; i < nruns; i++) {
        if (runs[i].it != NULL)
            clx_iter_seek(runs[i].it, runs[i].prefix, runs[i].plen);
        run_settle(&runs[i]);
    }
    clx_dims_row_t *out = NULL;
    for (;;) {
        /* the smallest current value among the runs */
        const char *min = NULL;
        size_t minlen = 0;
        for (size_t i = 0; i < nruns; i++)
            if (runs[i].value != NULL && (min == NULL || value_cmp(runs[i].value, runs[i].vlen, min, minlen) < 0)) {
                min = runs[i].value;
                minlen = runs[i].vlen;
            }
        if (min == NULL)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            clx_dims_row_t *fresh = clx_arena_alloc(arena, cap * sizeof(*fresh));
            if (n)
                memcpy(fresh, out, n * sizeof(*fresh));
            out = fresh;
        }
        clx_dims_row_t *row = &out[n++];
        memset(row, 0, sizeof(*row));
        row->value = clx_arena_strndup(arena, min, minlen); /* before the runs move on */
        for (size_t i = 0; i < nruns && rc == CLX_OK; i++) {
            run_t *r = &runs[i];
            if (r->value == NULL || r->vlen != minlen || memcmp(r->value, row->value, minlen) != 0)
                continue;
            clx_rollup_t c;
            rc = run_counters(r, &c);
            if (rc != CLX_OK)
                break;
            clx_rollup_add(&row->sum, &c);
            if (r->flags)
                row->unpriced_events += c.events;
            run_next(r);
        }
        if (rc != CLX_OK)
            break;
        if (row->sum.events == 0 && row->sum.cost_nanos == 0) {
            n--; /* taken back whole (corrections): no row */
            continue;
        }
        clx_rollup_add(&total->sum, &row->sum);
        total->unpriced_events += row->unpriced_events;
    }
    for (size_t i = 0; i < nstore; i++) {
        if (rc == CLX_OK)
            rc = clx_iter_status(runs[i].it);
        clx_iter_destroy(runs[i].it);
    }
    if (rc != CLX_OK)
        return rc;
    *rows = out;
    *nrows = n;
    return CLX_OK;
}
