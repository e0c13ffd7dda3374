/*
 * export.c — the events family as a log in global seq order (a merge over the workspaces'
 * key ranges on one snapshot) and the exporters' durable cursors in the store's metadata.
 */
#include "clx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_events.h" /* clx_event_key: the event key layout */

#define CURSOR_VERSION 1
#define CURSOR_LEN 17 /* version, done (8 bytes BE), pending (8 bytes BE) */

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
    if (m->keycap < r->wslen + 9) {
        m->keycap = r->wslen + 9;
        m->key = clx_xrealloc(m->key, m->keycap);
    }
    size_t kl = clx_event_key(m->key, r->ws, seq);
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
    if (klen != r->wslen + 9 || memcmp(k, r->ws, r->wslen) != 0 || k[r->wslen] != '\0')
        return 0;
    *seq = clx_be64_get((const unsigned char *)k + r->wslen + 1);
    return 1;
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
        if (nul == NULL || (size_t)(nul - k) + 9 != klen) {
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
        size_t kl = clx_event_key(m->key, r->ws, UINT64_MAX);
        clx_iter_seek_for_prev(it, m->key, kl);
        if (!key_in_run(it, r, &seq))
            return CLX_EIO; /* the workspace's first key vanished from a snapshot: a storage fault */
        if (seq > *last)
            *last = seq;
        clx_iter_next(it);
    }
    return CLX_OK;
}

int clx_events_read_after(clx_store_t *s, uint64_t after_seq, uint64_t up_to_seq, size_t max, clx_event_log_fn fn,
                          void *arg, uint64_t *last_seq)
{
    merge_t m;
    uint64_t last = 0, seq;
    size_t n = 0;
    int rc;

    memset(&m, 0, sizeof(m));
    /* one iterator = one implicit snapshot for the whole read; v2: seek(after_seq + 1), scan */
    clx_iter_t *it = clx_iter_create(s, CLX_CF_EVENTS, NULL, 0);
    rc = collect_runs(it, &m, after_seq, up_to_seq, &last);
    while (rc == CLX_OK && m.nheap > 0 && n < max) {
        size_t ri = heap_pop(&m);
        ws_run_t *r = &m.runs[ri];
        /* this run is read until another workspace's next event comes first */
        uint64_t bound = m.nheap > 0 ? m.runs[m.heap[0]].next : UINT64_MAX;
        seek_event(it, &m, r, r->next);
        while (n < max && key_in_run(it, r, &seq) && seq <= up_to_seq) {
            if (seq > bound) {
                r->next = seq;
                heap_push(&m, ri);
                break;
            }
            clx_logged_event_t ev = {.seq = seq, .workspace = r->ws};
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
    if (rc == CLX_OK && last_seq != NULL)
        *last_seq = last;
    clx_iter_destroy(it);
    for (size_t i = 0; i < m.nruns; i++)
        free(m.runs[i].ws);
    free(m.runs);
    free(m.heap);
    free(m.key);
    return rc;
}

/* ---- cursors ------------------------------------------------------------------------------ */

static int cursor_key(char *buf, size_t cap, const char *name)
{
    if (strlen(name) > CLX_EXPORT_NAME_MAX)
        return CLX_EINVAL;
    snprintf(buf, cap, "export/%s", name);
    return CLX_OK;
}

int clx_export_cursor_load(clx_store_t *s, const char *name, clx_export_cursor_t *out)
{
    char key[CLX_EXPORT_NAME_MAX + 8];
    char *val = NULL;
    size_t vlen = 0;
    int rc;

    if ((rc = cursor_key(key, sizeof(key), name)) != CLX_OK)
        return rc;
    rc = clx_store_meta_get(s, key, &val, &vlen);
    if (rc == CLX_ENOTFOUND) {
        out->done = out->pending = 0;
        return CLX_OK;
    }
    if (rc != CLX_OK)
        return rc;
    const unsigned char *v = (const unsigned char *)val;
    if (vlen != CURSOR_LEN || v[0] != CURSOR_VERSION) {
        clx_log(CLX_LOG_ERROR, "store", "export cursor %s: %zu bytes of version %d, expected %d of version %d", name,
                vlen, vlen > 0 ? v[0] : -1, CURSOR_LEN, CURSOR_VERSION);
        rc = CLX_ECORRUPT;
        goto done;
    }
    out->done = clx_be64_get(v + 1);
    out->pending = clx_be64_get(v + 9);
    if (out->pending != 0 && out->pending <= out->done) {
        clx_log(CLX_LOG_ERROR, "store", "export cursor %s: pending %llu is not after done %llu", name,
                (unsigned long long)out->pending, (unsigned long long)out->done);
        rc = CLX_ECORRUPT;
    }
done:
    free(val);
    return rc;
}

int clx_export_cursor_save(clx_store_t *s, const char *name, const clx_export_cursor_t *c)
{
    char key[CLX_EXPORT_NAME_MAX + 8];
    unsigned char v[CURSOR_LEN];
    int rc;

    if ((rc = cursor_key(key, sizeof(key), name)) != CLX_OK)
        return rc;
    if (c->pending != 0 && c->pending <= c->done)
        return CLX_EINVAL;
    v[0] = CURSOR_VERSION;
    clx_be64_put(v + 1, c->done);
    clx_be64_put(v + 9, c->pending);
    return clx_store_meta_put(s, key, v, sizeof(v));
}
