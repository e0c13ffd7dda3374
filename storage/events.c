/*
 * events.c — keys and values of the events and dedup column families, the read of one
 * event by requestId, the newest-first iterator over a workspace's events, and the whole
 * family as a log in global seq order (the exporters' outbox).
 */
#include "clx_events.h"

#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"

/* ---- keys and values ------------------------------------------------------------------------ */

size_t clx_event_key_encode(char *buf, const char *workspace, size_t wslen, uint64_t seq)
{
    memcpy(buf, workspace, wslen);
    buf[wslen] = '\0';
    clx_be64_put((unsigned char *)buf + wslen + 1, seq);
    return CLX_EVENT_KEY_LEN(wslen);
}

size_t clx_event_key(char *buf, const char *workspace, uint64_t seq)
{
    return clx_event_key_encode(buf, workspace, strlen(workspace), seq);
}

int clx_event_key_decode(const char *key, size_t klen, size_t wslen, uint64_t *seq)
{
    if (klen != CLX_EVENT_KEY_LEN(wslen) || key[wslen] != '\0')
        return CLX_ECORRUPT;
    *seq = clx_be64_get((const unsigned char *)key + wslen + 1);
    return CLX_OK;
}

size_t clx_dedup_key_encode(char *buf, const char *workspace, size_t wslen, const char *request_id, size_t ridlen)
{
    memcpy(buf, workspace, wslen);
    buf[wslen] = '\0';
    memcpy(buf + wslen + 1, request_id, ridlen);
    return CLX_DEDUP_KEY_LEN(wslen, ridlen);
}

void clx_dedup_value_encode(unsigned char out[CLX_DEDUP_VALUE_LEN], uint64_t seq, uint64_t fingerprint)
{
    clx_be64_put(out, seq);
    clx_be64_put(out + 8, fingerprint);
}

void clx_dedup_value_encode_flags(unsigned char out[CLX_DEDUP_VALUE_FLAGS_LEN], uint64_t seq, uint64_t fingerprint,
                                  unsigned flags)
{
    clx_dedup_value_encode(out, seq, fingerprint);
    out[CLX_DEDUP_VALUE_LEN] = (unsigned char)flags;
}

unsigned clx_dedup_value_flags(const void *val, size_t len)
{
    return len == CLX_DEDUP_VALUE_FLAGS_LEN ? ((const unsigned char *)val)[CLX_DEDUP_VALUE_LEN] : 0;
}

size_t clx_history_key_encode(char *buf, const char *workspace, size_t wslen, const char *request_id, size_t ridlen,
                              uint32_t version)
{
    size_t n = clx_dedup_key_encode(buf, workspace, wslen, request_id, ridlen);
    buf[n] = '\0';
    unsigned char *v = (unsigned char *)buf + n + 1;
    v[0] = (unsigned char)(version >> 24);
    v[1] = (unsigned char)(version >> 16);
    v[2] = (unsigned char)(version >> 8);
    v[3] = (unsigned char)version;
    return CLX_HISTORY_KEY_LEN(wslen, ridlen);
}

int clx_dedup_value_decode(const void *val, size_t len, uint64_t *seq, uint64_t *fingerprint)
{
    if (len != CLX_DEDUP_VALUE_LEN && len != CLX_DEDUP_VALUE_FLAGS_LEN)
        return CLX_ECORRUPT;
    *seq = clx_be64_get(val);
    *fingerprint = clx_be64_get((const unsigned char *)val + 8);
    return CLX_OK;
}

size_t clx_evtime_key_encode(char *buf, const char *workspace, size_t wslen, int64_t time_ms, uint64_t seq)
{
    memmove(buf, workspace, wslen); /* buf may already hold the workspace */
    buf[wslen] = '\0';
    clx_be64_put((unsigned char *)buf + wslen + 1, (uint64_t)(time_ms < 0 ? 0 : time_ms));
    clx_be64_put((unsigned char *)buf + wslen + 9, seq);
    return CLX_EVTIME_KEY_LEN(wslen);
}

int clx_evtime_key_decode(const char *key, size_t klen, size_t wslen, int64_t *time_ms, uint64_t *seq)
{
    if (klen != CLX_EVTIME_KEY_LEN(wslen) || key[wslen] != '\0')
        return CLX_ECORRUPT;
    *time_ms = (int64_t)clx_be64_get((const unsigned char *)key + wslen + 1);
    *seq = clx_be64_get((const unsigned char *)key + wslen + 9);
    return CLX_OK;
}

void clx_corrlog_put(clx_batch_t *b, clx_store_t *s, uint64_t seq, const char *workspace, size_t wslen,
                     uint64_t event_seq)
{
    unsigned char key[8];
    char stackval[8 + 64];
    char *val = wslen <= 64 ? stackval : clx_xmalloc(8 + wslen);
    clx_be64_put(key, seq);
    clx_be64_put((unsigned char *)val, event_seq);
    memcpy(val + 8, workspace, wslen);
    clx_batch_put(b, s, CLX_CF_CORRLOG, key, sizeof(key), val, 8 + wslen);
    if (val != stackval)
        free(val);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int clx_store_event_get(clx_store_t *s, const char *workspace, uint64_t seq, char **val, size_t *vlen)
{
    size_t wl = strlen(workspace);
    char *key = clx_xmalloc(CLX_EVENT_KEY_LEN(wl));
    int rc = clx_store_get(s, CLX_CF_EVENTS, key, clx_event_key_encode(key, workspace, wl, seq), val, vlen);
    free(key);
    return rc;
}

/*
 * Dedup record, then event. CLX_ENOTFOUND when the id was never stored, CLX_EIO on a
 * storage error, CLX_ECORRUPT when the dedup record is malformed or its event is missing.
 */
int clx_store_find_event(clx_store_t *s, const char *workspace, const char *request_id, size_t request_id_len,
                         char **val, size_t *vlen, uint64_t *seq)
{
    int rc;
    size_t wl = strlen(workspace);
    size_t dl = CLX_DEDUP_KEY_LEN(wl, request_id_len), el = CLX_EVENT_KEY_LEN(wl);
    char *key = clx_xmalloc(dl > el ? dl : el);
    char *dv = NULL;
    size_t dlen = 0;
    uint64_t sq, fp;

    rc = clx_store_get(s, CLX_CF_DEDUP, key, clx_dedup_key_encode(key, workspace, wl, request_id, request_id_len), &dv,
                       &dlen);
    if (rc != CLX_OK)
        goto done;
    if (clx_dedup_value_decode(dv, dlen, &sq, &fp) != CLX_OK) {
        clx_log(CLX_LOG_ERROR, "store", "dedup record of %zu bytes for workspace %s", dlen, workspace);
        rc = CLX_ECORRUPT;
        goto done;
    }
    rc = clx_store_get(s, CLX_CF_EVENTS, key, clx_event_key_encode(key, workspace, wl, sq), val, vlen);
    if (rc == CLX_ENOTFOUND) {
        clx_log(CLX_LOG_ERROR, "store", "event %llu of workspace %s has a dedup record but no event",
                (unsigned long long)sq, workspace);
        rc = CLX_ECORRUPT;
        goto done;
    }
    if (rc == CLX_OK && seq != NULL)
        *seq = sq;
done:
    free(dv);
    free(key);
    return rc;
}

int clx_store_event_history(clx_store_t *s, const char *workspace, const char *request_id, size_t request_id_len,
                            clx_history_fn fn, void *arg)
{
    size_t wl = strlen(workspace);
    size_t plen = CLX_DEDUP_KEY_LEN(wl, request_id_len) + 1; /* through the NUL before the version */
    char *prefix = clx_xmalloc(plen);
    clx_dedup_key_encode(prefix, workspace, wl, request_id, request_id_len);
    prefix[plen - 1] = '\0';
    clx_iter_t *it = clx_iter_create(s, CLX_CF_HISTORY, prefix, plen);
    int rc = CLX_OK;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const unsigned char *k = (const unsigned char *)clx_iter_key(it, &klen);
        if (klen != plen + 4)
            continue; /* a longer requestId sharing the prefix cannot: ids hold no NUL */
        uint32_t version =
            (uint32_t)k[plen] << 24 | (uint32_t)k[plen + 1] << 16 | (uint32_t)k[plen + 2] << 8 | k[plen + 3];
        const char *v = clx_iter_value(it, &vlen);
        if ((rc = fn(arg, version, v, vlen)) != 0)
            break;
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    free(prefix);
    return rc;
}

struct clx_event_iter {
    clx_iter_t *it;
    char *workspace;
    size_t wslen;
    uint64_t seq; /* of the current event */
};

clx_event_iter_t *clx_event_iter_create(clx_store_t *s, const char *workspace)
{
    clx_event_iter_t *e = clx_xcalloc(1, sizeof(*e));
    e->wslen = strlen(workspace);
    e->workspace = clx_xstrndup(workspace, e->wslen);
    /* the prefix is the workspace with its terminating NUL: "acme" never reads "acme-2" */
    e->it = clx_iter_create(s, CLX_CF_EVENTS, e->workspace, e->wslen + 1);
    return e;
}

void clx_event_iter_destroy(clx_event_iter_t *e)
{
    if (e == NULL)
        return;
    clx_iter_destroy(e->it);
    free(e->workspace);
    free(e);
}

/* Moves back over keys that are not event keys, and reads the seq of the one it stops on. */
static void settle(clx_event_iter_t *e)
{
    for (; clx_iter_valid(e->it); clx_iter_prev(e->it)) {
        size_t klen;
        const char *k = clx_iter_key(e->it, &klen);
        if (clx_event_key_decode(k, klen, e->wslen, &e->seq) == CLX_OK)
            return;
    }
}

void clx_event_iter_seek_before(clx_event_iter_t *e, uint64_t before_seq)
{
    if (before_seq == 0) {
        clx_iter_last(e->it);
    } else {
        char *target = clx_xmalloc(CLX_EVENT_KEY_LEN(e->wslen));
        size_t tl = clx_event_key_encode(target, e->workspace, e->wslen, before_seq - 1);
        clx_iter_seek_for_prev(e->it, target, tl);
        free(target);
    }
    settle(e);
}

int clx_event_iter_valid(clx_event_iter_t *e)
{
    return clx_iter_valid(e->it);
}

void clx_event_iter_prev(clx_event_iter_t *e)
{
    clx_iter_prev(e->it);
    settle(e);
}

uint64_t clx_event_iter_seq(clx_event_iter_t *e)
{
    return e->seq;
}

const char *clx_event_iter_value(clx_event_iter_t *e, size_t *vlen)
{
    return clx_iter_value(e->it, vlen);
}

int clx_event_iter_status(clx_event_iter_t *e)
{
    return clx_iter_status(e->it);
}

/* ---- by event time --------------------------------------------------------------------------- */

struct clx_evtime_iter {
    clx_iter_t *it;     /* the index */
    clx_iter_t *events; /* the events, created after the index: sees every event it names */
    char *workspace;
    size_t wslen;
    char *key; /* seek buffer (the longer of the two key kinds) */
    int64_t time_ms;
    uint64_t seq;
};

clx_evtime_iter_t *clx_evtime_iter_create(clx_store_t *s, const char *workspace)
{
    clx_evtime_iter_t *e = clx_xcalloc(1, sizeof(*e));
    e->wslen = strlen(workspace);
    e->workspace = clx_xstrndup(workspace, e->wslen);
    e->key = clx_xmalloc(CLX_EVTIME_KEY_LEN(e->wslen));
    e->it = clx_iter_create(s, CLX_CF_EVTIME, e->workspace, e->wslen + 1);
    e->events = clx_iter_create(s, CLX_CF_EVENTS, e->workspace, e->wslen + 1);
    return e;
}

void clx_evtime_iter_destroy(clx_evtime_iter_t *e)
{
    if (e == NULL)
        return;
    clx_iter_destroy(e->events);
    clx_iter_destroy(e->it);
    free(e->key);
    free(e->workspace);
    free(e);
}

static void evtime_settle(clx_evtime_iter_t *e)
{
    for (; clx_iter_valid(e->it); clx_iter_prev(e->it)) {
        size_t klen;
        const char *k = clx_iter_key(e->it, &klen);
        if (clx_evtime_key_decode(k, klen, e->wslen, &e->time_ms, &e->seq) == CLX_OK)
            return;
    }
}

void clx_evtime_iter_seek_before(clx_evtime_iter_t *e, int64_t time_ms, uint64_t seq)
{
    if (time_ms <= 0 && seq == 0) {
        clx_iter_first(e->it); /* nothing is before (0, 0): an invalid position */
        if (clx_iter_valid(e->it))
            clx_iter_prev(e->it);
        return;
    }
    /* the last key < (time, seq): the last <= (time, seq - 1), or (time - 1, max) */
    size_t kl = seq > 0 ? clx_evtime_key_encode(e->key, e->workspace, e->wslen, time_ms, seq - 1)
                        : clx_evtime_key_encode(e->key, e->workspace, e->wslen, time_ms - 1, UINT64_MAX);
    clx_iter_seek_for_prev(e->it, e->key, kl);
    evtime_settle(e);
}

int clx_evtime_iter_valid(clx_evtime_iter_t *e)
{
    return clx_iter_valid(e->it);
}

void clx_evtime_iter_prev(clx_evtime_iter_t *e)
{
    clx_iter_prev(e->it);
    evtime_settle(e);
}

int64_t clx_evtime_iter_time(clx_evtime_iter_t *e)
{
    return e->time_ms;
}

uint64_t clx_evtime_iter_seq(clx_evtime_iter_t *e)
{
    return e->seq;
}

int clx_evtime_iter_value(clx_evtime_iter_t *e, const char **val, size_t *vlen)
{
    size_t kl = clx_event_key_encode(e->key, e->workspace, e->wslen, e->seq);
    clx_iter_seek(e->events, e->key, kl);
    if (clx_iter_valid(e->events)) {
        size_t klen;
        const char *k = clx_iter_key(e->events, &klen);
        if (klen == kl && memcmp(k, e->key, kl) == 0) {
            *val = clx_iter_value(e->events, vlen);
            return CLX_OK;
        }
    }
    if (clx_iter_status(e->events) != CLX_OK)
        return CLX_EIO;
    clx_log(CLX_LOG_ERROR, "store", "event %llu of workspace %s is in the event-time index but not stored",
            (unsigned long long)e->seq, e->workspace);
    return CLX_ENOTFOUND;
}

int clx_evtime_iter_status(clx_evtime_iter_t *e)
{
    int rc = clx_iter_status(e->it);
    return rc != CLX_OK ? rc : clx_iter_status(e->events);
}

#define UPGRADE_BATCH 10000

int clx_events_index_upgrade(clx_store_t *s, uint64_t *indexed)
{
    char *mv = NULL;
    size_t mlen = 0;
    uint64_t n = 0;
    int rc = clx_store_meta_get(s, CLX_EVTIME_MARKER, &mv, &mlen);
    free(mv);
    if (indexed != NULL)
        *indexed = 0;
    if (rc == CLX_OK)
        return CLX_OK;
    if (rc != CLX_ENOTFOUND)
        return rc;

    clx_batch_t *b = clx_batch_create();
    clx_iter_t *it = clx_iter_create(s, CLX_CF_EVENTS, NULL, 0);
    char *key = NULL;
    size_t keycap = 0;
    rc = CLX_OK;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        const char *nul = memchr(k, '\0', klen);
        uint64_t seq;
        if (nul == NULL || clx_event_key_decode(k, klen, (size_t)(nul - k), &seq) != CLX_OK) {
            clx_log(CLX_LOG_ERROR, "store", "a key of %zu bytes in the events family is not an event key", klen);
            rc = CLX_ECORRUPT;
            break;
        }
        const char *v = clx_iter_value(it, &vlen);
        Costlynx__Store__V1__StoredEvent *ev =
            costlynx__store__v1__stored_event__unpack(NULL, vlen, (const uint8_t *)v);
        if (ev == NULL) {
            clx_log(CLX_LOG_ERROR, "store", "event %llu cannot be read: not indexed by event time",
                    (unsigned long long)seq);
            continue; /* the listing skips an unreadable record anyway */
        }
        size_t wl = (size_t)(nul - k);
        if (keycap < CLX_EVTIME_KEY_LEN(wl)) {
            keycap = CLX_EVTIME_KEY_LEN(wl);
            key = clx_xrealloc(key, keycap);
        }
        memcpy(key, k, wl); /* the workspace */
        size_t kl = clx_evtime_key_encode(key, key, wl, clx_event_time_ms(ev), seq);
        costlynx__store__v1__stored_event__free_unpacked(ev, NULL);
        clx_batch_put(b, s, CLX_CF_EVTIME, key, kl, "", 0);
        if (++n % UPGRADE_BATCH == 0) {
            rc = clx_store_write(s, b, 0);
            clx_batch_clear(b);
            if (rc != CLX_OK)
                break;
        }
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    if (rc == CLX_OK && clx_batch_count(b) > 0)
        rc = clx_store_write(s, b, 1);
    clx_batch_destroy(b);
    free(key);
    if (rc == CLX_OK) /* last: only a whole index is marked */
        rc = clx_store_meta_put(s, CLX_EVTIME_MARKER, "1", 1);
    if (rc == CLX_OK && indexed != NULL)
        *indexed = n;
    if (rc == CLX_OK && n > 0)
        clx_log(CLX_LOG_INFO, "store", "indexed %llu stored events by event time (once, for this data folder)",
                (unsigned long long)n);
    return rc;
}

/* ---- the log: every workspace's events in global seq order ------------------------------ */

/* A workspace's key range in the merge: the seq of its next unread event. */
typedef struct ws_run {
    char *ws; /* NUL-terminated copy */
    size_t wslen;
    uint64_t next;
} ws_run_t;

typedef struct merge {
    ws_run_t *runs;
    size_t nruns, cap;
    size_t *heap; /* indices into runs, min-heap on next */
    size_t nheap;
    char *key; /* seek target buffer */
    size_t keycap;
} merge_t;

static int heap_less(const merge_t *m, size_t a, size_t b)
{
    return m->runs[m->heap[a]].next < m->runs[m->heap[b]].next;
}

static void heap_swap(merge_t *m, size_t a, size_t b)
{
    size_t t = m->heap[a];
    m->heap[a] = m->heap[b];
    m->heap[b] = t;
}

static void heap_push(merge_t *m, size_t run)
{
    size_t i = m->nheap++;
    m->heap[i] = run;
    while (i > 0 && heap_less(m, i, (i - 1) / 2)) {
        heap_swap(m, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static size_t heap_pop(merge_t *m)
{
    size_t top = m->heap[0];
    m->heap[0] = m->heap[--m->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->nheap && heap_less(m, l, s))
            s = l;
        if (r < m->nheap && heap_less(m, r, s))
            s = r;
        if (s == i)
            break;
        heap_swap(m, i, s);
        i = s;
    }
    return top;
}

/* Positions the iterator on the event key of (ws, seq) or the first one after it. */
static void seek_event(clx_iter_t *it, merge_t *m, const ws_run_t *r, uint64_t seq)
{
    if (m->keycap < CLX_EVENT_KEY_LEN(r->wslen)) {
        m->keycap = CLX_EVENT_KEY_LEN(r->wslen);
        m->key = clx_xrealloc(m->key, m->keycap);
    }
    size_t kl = clx_event_key_encode(m->key, r->ws, r->wslen, seq);
    clx_iter_seek(it, m->key, kl);
}

/*
 * The seq of the iterator's key when it is an event key of workspace r: 1 with *seq set;
 * 0 when the key belongs to another workspace (or the iterator is past the end).
 */
static int key_in_run(clx_iter_t *it, const ws_run_t *r, uint64_t *seq)
{
    if (!clx_iter_valid(it))
        return 0;
    size_t klen;
    const char *k = clx_iter_key(it, &klen);
    if (klen < r->wslen || memcmp(k, r->ws, r->wslen) != 0)
        return 0;
    return clx_event_key_decode(k, klen, r->wslen, seq) == CLX_OK;
}

/*
 * Finds every workspace in the family: for each, the first seq after after_seq (queued when
 * <= up_to_seq) and the last seq (for *last). CLX_OK or CLX_ECORRUPT for a key that is not
 * an event key.
 */
static int collect_runs(clx_iter_t *it, merge_t *m, uint64_t after_seq, uint64_t up_to_seq, uint64_t *last)
{
    uint64_t seq;

    clx_iter_first(it);
    while (clx_iter_valid(it)) {
        size_t klen;
        const char *k = clx_iter_key(it, &klen);
        const char *nul = memchr(k, '\0', klen);
        if (nul == NULL || CLX_EVENT_KEY_LEN((size_t)(nul - k)) != klen) {
            clx_log(CLX_LOG_ERROR, "store", "a key of %zu bytes in the events family is not an event key", klen);
            return CLX_ECORRUPT;
        }
        if (m->nruns == m->cap) {
            m->cap = m->cap != 0 ? m->cap * 2 : 16;
            m->runs = clx_xrealloc(m->runs, m->cap * sizeof(*m->runs));
            m->heap = clx_xrealloc(m->heap, m->cap * sizeof(*m->heap));
        }
        ws_run_t *r = &m->runs[m->nruns];
        r->wslen = (size_t)(nul - k);
        r->ws = clx_xstrndup(k, r->wslen);
        m->nruns++;

        seek_event(it, m, r, after_seq == UINT64_MAX ? UINT64_MAX : after_seq + 1);
        if (after_seq != UINT64_MAX && key_in_run(it, r, &seq) && seq <= up_to_seq) {
            r->next = seq;
            heap_push(m, m->nruns - 1);
        }
        /* the workspace's last event (the last key <= (ws, 2^64-1)), then one step on: the
         * next workspace's first key */
        size_t kl = clx_event_key_encode(m->key, r->ws, r->wslen, UINT64_MAX);
        clx_iter_seek_for_prev(it, m->key, kl);
        if (!key_in_run(it, r, &seq))
            return CLX_EIO; /* the workspace's first key vanished from a snapshot: a storage fault */
        if (seq > *last)
            *last = seq;
        clx_iter_next(it);
    }
    return CLX_OK;
}

/*
 * Where the correction log's iterator stands: 1 on a record with after_seq < seq <= up_to_seq
 * (*seq set); 0 when none is left; CLX_ECORRUPT for a key that is not a seq (logged).
 */
static int corr_at(clx_iter_t *cit, uint64_t after_seq, uint64_t up_to_seq, uint64_t *seq)
{
    size_t klen;
    if (!clx_iter_valid(cit))
        return 0;
    const char *k = clx_iter_key(cit, &klen);
    if (klen != 8) {
        clx_log(CLX_LOG_ERROR, "store", "a key of %zu bytes in the correction log is not a seq", klen);
        return CLX_ECORRUPT;
    }
    *seq = clx_be64_get((const unsigned char *)k);
    return *seq > after_seq && *seq <= up_to_seq;
}

/* Hands the correction at cit's position to fn: the event it names, read on the same snapshot. */
static int corr_emit(clx_iter_t *it, clx_iter_t *cit, merge_t *m, clx_event_log_fn fn, void *arg)
{
    size_t klen, vlen;
    const char *k = clx_iter_key(cit, &klen);
    const char *v = clx_iter_value(cit, &vlen);
    if (klen != 8 || vlen < 9 || memchr(v + 8, '\0', vlen - 8) != NULL) {
        clx_log(CLX_LOG_ERROR, "store", "a correction record (value of %zu bytes) is malformed", vlen);
        return CLX_ECORRUPT;
    }
    clx_logged_event_t ev = {.seq = clx_be64_get((const unsigned char *)k),
                             .event_seq = clx_be64_get((const unsigned char *)v)};
    size_t wl = vlen - 8;
    if (m->keycap < CLX_EVENT_KEY_LEN(wl) + wl + 1) {
        m->keycap = CLX_EVENT_KEY_LEN(wl) + wl + 1;
        m->key = clx_xrealloc(m->key, m->keycap);
    }
    size_t ekl = clx_event_key_encode(m->key, v + 8, wl, ev.event_seq);
    char *ws = m->key + ekl; /* the workspace, NUL-terminated, after the key */
    memcpy(ws, v + 8, wl);
    ws[wl] = '\0';
    char *val = NULL;
    int rc = clx_iter_get(it, CLX_CF_EVENTS, m->key, ekl, &val, &ev.vlen);
    if (rc == CLX_ENOTFOUND) {
        clx_log(CLX_LOG_ERROR, "store", "correction %llu names event %llu of workspace %s, which does not exist",
                (unsigned long long)ev.seq, (unsigned long long)ev.event_seq, ws);
        return CLX_ECORRUPT;
    }
    if (rc != CLX_OK)
        return rc;
    ev.workspace = ws;
    ev.value = val;
    rc = fn(arg, &ev);
    free(val);
    return rc;
}

int clx_events_read_after(clx_store_t *s, uint64_t after_seq, uint64_t up_to_seq, size_t max, clx_event_log_fn fn,
                          void *arg, uint64_t *last_seq)
{
    merge_t m;
    uint64_t last = 0, seq, cseq = 0;
    size_t n = 0;
    int rc;

    memset(&m, 0, sizeof(m));
    /* one snapshot for the whole read, shared by the events, the correction log and the
     * corrected events' point reads; v2: seek(after_seq + 1), scan */
    clx_iter_t *it = clx_iter_create_pinned(s, CLX_CF_EVENTS, NULL, 0);
    clx_iter_t *cit = clx_iter_create_beside(it, CLX_CF_CORRLOG, NULL, 0);
    rc = collect_runs(it, &m, after_seq, up_to_seq, &last);
    int have_corr = 0;
    if (rc == CLX_OK) {
        clx_iter_last(cit);
        if ((rc = corr_at(cit, 0, UINT64_MAX, &seq)) == 1 && seq > last)
            last = seq;
        if (rc >= 0) {
            unsigned char k[8];
            clx_be64_put(k, after_seq == UINT64_MAX ? UINT64_MAX : after_seq + 1);
            clx_iter_seek(cit, k, sizeof(k));
            have_corr = corr_at(cit, after_seq, up_to_seq, &cseq);
            rc = have_corr < 0 ? have_corr : CLX_OK;
        }
    }
    while (rc == CLX_OK && (m.nheap > 0 || have_corr) && n < max) {
        if (have_corr && (m.nheap == 0 || cseq < m.runs[m.heap[0]].next)) {
            rc = corr_emit(it, cit, &m, fn, arg);
            if (rc != 0)
                break;
            n++;
            clx_iter_next(cit);
            if ((have_corr = corr_at(cit, after_seq, up_to_seq, &cseq)) < 0)
                rc = have_corr;
            continue;
        }
        size_t ri = heap_pop(&m);
        ws_run_t *r = &m.runs[ri];
        /* this run is read until another workspace's next event, or a correction, comes first */
        uint64_t bound = m.nheap > 0 ? m.runs[m.heap[0]].next : UINT64_MAX;
        if (have_corr && cseq < bound)
            bound = cseq;
        seek_event(it, &m, r, r->next);
        while (n < max && key_in_run(it, r, &seq) && seq <= up_to_seq) {
            if (seq > bound) {
                r->next = seq;
                heap_push(&m, ri);
                break;
            }
            clx_logged_event_t ev = {.seq = seq, .event_seq = seq, .workspace = r->ws};
            ev.value = clx_iter_value(it, &ev.vlen);
            rc = fn(arg, &ev);
            if (rc != 0)
                break;
            n++;
            clx_iter_next(it);
        }
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    if (rc == CLX_OK)
        rc = clx_iter_status(cit);
    if (rc == CLX_OK && last_seq != NULL)
        *last_seq = last;
    clx_iter_destroy(cit);
    clx_iter_destroy(it);
    for (size_t i = 0; i < m.nruns; i++)
        free(m.runs[i].ws);
    free(m.runs);
    free(m.heap);
    free(m.key);
    return rc;
}
