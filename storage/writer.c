/*
 * writer.c — the group-commit writer thread: takes the whole queue, decides dedup with one
 * MultiGet plus an in-group hash set, writes one synced batch, then completes every request.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "clx_writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_dims.h"
#include "clx_error.h"
#include "clx_hash.h"
#include "clx_log.h"
#include "clx_mem.h"

struct clx_writer {
    clx_store_t *s;
    size_t max_queued;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    clx_write_req_t *head; /* FIFO, guarded by mu */
    clx_write_req_t *tail;
    size_t queued_items;
    int stopping;
    pthread_t thread;

    atomic_uint_fast64_t groups;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t items;
    atomic_uint_fast64_t inserted;

    /* below: the writer thread's alone; buffers grow and are reused across groups */
    uint64_t last_seq;
    clx_batch_t *batch;
    size_t itemcap;
    clx_write_item_t **gitems;
    const char **keys; /* dedup keys, in keybuf */
    size_t *klens;
    size_t *koffs;
    size_t *wlens; /* workspace lengths */
    char **vals;
    size_t *vlens;
    size_t *ins;    /* indices of the items inserted by the group */
    size_t *evoffs; /* inserted item i: its event key at evkeys + evoffs[i] */
    size_t *evlens;
    char *keybuf;
    size_t keycap;
    char *evkeys;
    size_t evkeycap;
    uint32_t *slots; /* in-group set: index + 1 of the first item with a key, 0 = empty */
    size_t slotcap;
    const clx_rollup_ref_t **rolls; /* the group's rollups, handed to clx_rollup_merge_refs */
    size_t rollcap;

    clx_rollup_upkeep_t *upkeep; /* compacts the rollups family after a burst of merges */

    /* the dims deltas of inserted events, summed in memory and flushed every few seconds
     * (clx_dims.h: clx_dims_acc_t says why and how nothing is lost) */
    clx_dims_acc_t *dims;
    const clx_rollup_ref_t **dimrefs; /* the group's dims refs, added once the group is written */
    size_t ndimrefs, dimcap;
    int64_t dims_flushed_ms; /* monotonic time of the last flush */
};

#define DIMS_FLUSH_MS 5000       /* the longest the writer holds dims sums */
#define DIMS_FLUSH_KEYS 100000 /* or this many distinct keys, whichever comes first */

/* Returns buf grown to hold at least need bytes. Cannot fail (aborts on OOM). */
static void *grow(void *buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return buf;
    size_t n = *cap != 0 ? *cap : 256;
    while (n < need)
        n *= 2;
    *cap = n;
    return clx_xrealloc(buf, n);
}

/* Makes the per-item arrays hold n items. Cannot fail (aborts on OOM). */
static void grow_items(clx_writer_t *w, size_t n)
{
    if (n <= w->itemcap)
        return;
    size_t cap = w->itemcap != 0 ? w->itemcap : 256;
    while (cap < n)
        cap *= 2;
    w->gitems = clx_xrealloc(w->gitems, cap * sizeof(*w->gitems));
    w->keys = clx_xrealloc(w->keys, cap * sizeof(*w->keys));
    w->klens = clx_xrealloc(w->klens, cap * sizeof(*w->klens));
    w->koffs = clx_xrealloc(w->koffs, cap * sizeof(*w->koffs));
    w->wlens = clx_xrealloc(w->wlens, cap * sizeof(*w->wlens));
    w->evoffs = clx_xrealloc(w->evoffs, cap * sizeof(*w->evoffs));
    w->evlens = clx_xrealloc(w->evlens, cap * sizeof(*w->evlens));
    w->vals = clx_xrealloc(w->vals, cap * sizeof(*w->vals));
    w->vlens = clx_xrealloc(w->vlens, cap * sizeof(*w->vlens));
    w->ins = clx_xrealloc(w->ins, cap * sizeof(*w->ins));
    w->itemcap = cap;
}

/* Byte order of two keys (shorter first on a common prefix): RocksDB's default comparator. */
static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Orders inserted items' indices by the keys in evkeys (their event keys, then their event-time keys). */
static int cmp_event_key(const void *a, const void *b, void *arg)
{
    const clx_writer_t *w = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return cmp_bytes(w->evkeys + w->evoffs[i], w->evlens[i], w->evkeys + w->evoffs[j], w->evlens[j]);
}

/* The in-group set's hash: FNV-1a with its high bits folded into the low ones the mask keeps. */
static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = clx_fnv1a64(CLX_FNV1A64_INIT, k, n);

    return h ^ (h >> 29);
}

/*
 * Decides and writes one group (the list starting at head), then completes each request.
 * On a storage failure every request gets CLX_EIO and last_seq stays where it was.
 */
/*
 * Merges the inserted items' rollups, and every request's extra rollups, into the batch:
 * one merge per distinct key (clx_rollup_merge_refs). Returns how many merges it added.
 */
static size_t add_rollups(clx_writer_t *w, clx_write_req_t *head, size_t ninserted)
{
    size_t n = 0;
    for (size_t x = 0; x < ninserted; x++)
        n += w->gitems[w->ins[x]]->nrollups;
    for (clx_write_req_t *r = head; r != NULL; r = r->next_)
        n += r->nextra_rollups;
    if (n == 0)
        return 0;
    w->rolls = grow(w->rolls, &w->rollcap, n * sizeof(*w->rolls));
    w->dimrefs = grow(w->dimrefs, &w->dimcap, n * sizeof(*w->dimrefs));
    n = 0;
    w->ndimrefs = 0;
    for (size_t x = 0; x < ninserted; x++) {
        const clx_write_item_t *it = w->gitems[w->ins[x]];
        for (size_t k = 0; k < it->nrollups; k++) {
            if (it->rollups[k].dims) /* to the accumulator, once the group is written */
                w->dimrefs[w->ndimrefs++] = &it->rollups[k];
            else
                w->rolls[n++] = &it->rollups[k];
        }
    }
    for (clx_write_req_t *r = head; r != NULL; r = r->next_)
        for (size_t k = 0; k < r->nextra_rollups; k++)
            w->rolls[n++] = &r->extra_rollups[k];
    return clx_rollup_merge_refs(w->batch, w->s, w->rolls, n);
}

/* Flushes the held dims sums (through last_seq). CLX_OK, or the store's error (sums kept). */
static int dims_flush(clx_writer_t *w)
{
    size_t merges = 0;
    int rc = clx_dims_acc_flush(w->dims, w->s, w->batch, w->last_seq, &merges);
    w->dims_flushed_ms = (int64_t)(clx_mono_ns() / 1000000);
    if (rc == CLX_OK)
        clx_rollup_upkeep_note(w->upkeep, merges);
    else
        clx_log(CLX_LOG_WARN, "store", "dims sums not flushed yet (%s); kept in memory", clx_strerror(rc));
    return rc;
}

/* After a group: hand the sums to the flusher when they are old or many enough. */
static void dims_maybe_flush(clx_writer_t *w)
{
    size_t n = clx_dims_acc_size(w->dims);
    int64_t now = (int64_t)(clx_mono_ns() / 1000000);
    if ((n >= DIMS_FLUSH_KEYS || (n > 0 && now - w->dims_flushed_ms >= DIMS_FLUSH_MS)) &&
        clx_dims_acc_flush_async(w->dims, w->last_seq))
        w->dims_flushed_ms = now;
    else if (n >= 4 * DIMS_FLUSH_KEYS) /* no flusher, or one stuck on a full disk: here, then */
        dims_flush(w);
    clx_rollup_upkeep_note(w->upkeep, clx_dims_acc_flushed(w->dims));
}

static void writer_group(clx_writer_t *w, clx_write_req_t *head)
{
    size_t n = 0, off = 0, ninserted = 0;
    int rc;

    for (clx_write_req_t *r = head; r != NULL; r = r->next_)
        n += r->nitems;
    grow_items(w, n);

    /* the dedup keys, packed in one buffer */
    size_t i = 0;
    for (clx_write_req_t *r = head; r != NULL; r = r->next_) {
        for (size_t j = 0; j < r->nitems; j++, i++) {
            clx_write_item_t *it = &r->items[j];
            size_t wl = strlen(it->workspace);
            size_t kl = CLX_DEDUP_KEY_LEN(wl, it->request_id_len);
            w->keybuf = grow(w->keybuf, &w->keycap, off + kl);
            clx_dedup_key_encode(w->keybuf + off, it->workspace, wl, it->request_id, it->request_id_len);
            w->gitems[i] = it;
            w->koffs[i] = off;
            w->klens[i] = kl;
            w->wlens[i] = wl;
            off += kl;
        }
    }
    for (i = 0; i < n; i++)
        w->keys[i] = w->keybuf + w->koffs[i];

    rc = n != 0 ? clx_store_multi_get(w->s, CLX_CF_DEDUP, n, w->keys, w->klens, w->vals, w->vlens) : CLX_OK;
    if (rc != CLX_OK)
        goto complete;

    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    w->slots = grow(w->slots, &w->slotcap, nslots * sizeof(*w->slots));
    memset(w->slots, 0, nslots * sizeof(*w->slots));
    size_t mask = nslots - 1;

    uint64_t seq = w->last_seq;
    clx_batch_clear(w->batch);
    for (i = 0; i < n; i++) {
        clx_write_item_t *it = w->gitems[i];
        const char *key = w->keys[i];
        size_t kl = w->klens[i];

        if (w->vals[i] != NULL) { /* stored by an earlier group */
            uint64_t stored_fp;
            if (clx_dedup_value_decode(w->vals[i], w->vlens[i], &it->seq, &stored_fp) == CLX_OK) {
                it->outcome = stored_fp == it->fingerprint ? CLX_WRITE_SKIPPED : CLX_WRITE_CONFLICT;
                it->voided = (clx_dedup_value_flags(w->vals[i], w->vlens[i]) & CLX_DEDUP_VOIDED) != 0;
            } else {
                clx_log(CLX_LOG_ERROR, "store", "dedup record of %zu bytes for workspace %s; kept as is", w->vlens[i],
                        it->workspace);
                it->seq = 0;
                it->outcome = CLX_WRITE_CONFLICT;
            }
            free(w->vals[i]);
            continue;
        }

        size_t h = (size_t)key_hash(key, kl) & mask;
        const clx_write_item_t *first = NULL;
        while (w->slots[h] != 0) {
            size_t j = w->slots[h] - 1;
            if (w->klens[j] == kl && memcmp(w->keys[j], key, kl) == 0) {
                first = w->gitems[j];
                break;
            }
            h = (h + 1) & mask;
        }
        if (first != NULL) { /* an earlier item of this group inserts the id */
            it->seq = first->seq;
            it->outcome = first->fingerprint == it->fingerprint ? CLX_WRITE_SKIPPED : CLX_WRITE_CONFLICT;
            continue;
        }
        w->slots[h] = (uint32_t)(i + 1);

        it->seq = ++seq;
        it->outcome = CLX_WRITE_INSERTED;
        w->ins[ninserted++] = i;
    }

    size_t nextras = 0;
    for (clx_write_req_t *r = head; r != NULL; r = r->next_)
        nextras += r->nextra_rollups;
    if (ninserted != 0 || nextras != 0) {
        /*
         * Events go in key order: each skiplist insert then starts where the previous one
         * ended (RocksDB's splice) instead of at the top. Usually already sorted (one
         * workspace per request). Dedup needs no order: its keys are point-read only.
         */
        size_t evoff = 0, x;
        for (x = 0; x < ninserted; x++) {
            i = w->ins[x];
            size_t el = CLX_EVENT_KEY_LEN(w->wlens[i]);
            w->evkeys = grow(w->evkeys, &w->evkeycap, evoff + el);
            w->evoffs[i] = evoff;
            w->evlens[i] =
                clx_event_key_encode(w->evkeys + evoff, w->gitems[i]->workspace, w->wlens[i], w->gitems[i]->seq);
            evoff += el;
        }
        for (x = 1; x < ninserted && cmp_event_key(&w->ins[x - 1], &w->ins[x], w) < 0; x++)
            ;
        if (x < ninserted)
            qsort_r(w->ins, ninserted, sizeof(*w->ins), cmp_event_key, w);
        for (x = 0; x < ninserted; x++) {
            i = w->ins[x];
            const clx_write_item_t *it = w->gitems[i];
            clx_batch_put(w->batch, w->s, CLX_CF_EVENTS, w->evkeys + w->evoffs[i], w->evlens[i], it->value,
                          it->value_len);
        }
        for (x = 0; x < ninserted; x++) {
            i = w->ins[x];
            const clx_write_item_t *it = w->gitems[i];
            unsigned char dv[CLX_DEDUP_VALUE_LEN];
            clx_dedup_value_encode(dv, it->seq, it->fingerprint);
            clx_batch_put(w->batch, w->s, CLX_CF_DEDUP, w->keys[i], w->klens[i], dv, sizeof(dv));
        }
        /*
         * The event-time index, in its key order too (the events' keys are done with): times
         * of a backfill are scattered, and sorted inserts reuse the skiplist's splice.
         */
        for (evoff = 0, x = 0; x < ninserted; x++) {
            i = w->ins[x];
            const clx_write_item_t *it = w->gitems[i];
            w->evkeys = grow(w->evkeys, &w->evkeycap, evoff + CLX_EVTIME_KEY_LEN(w->wlens[i]));
            w->evoffs[i] = evoff;
            w->evlens[i] =
                clx_evtime_key_encode(w->evkeys + evoff, it->workspace, w->wlens[i], it->event_time_ms, it->seq);
            evoff += w->evlens[i];
        }
        for (x = 1; x < ninserted && cmp_event_key(&w->ins[x - 1], &w->ins[x], w) < 0; x++)
            ;
        if (x < ninserted)
            qsort_r(w->ins, ninserted, sizeof(*w->ins), cmp_event_key, w);
        for (x = 0; x < ninserted; x++) {
            i = w->ins[x];
            clx_batch_put(w->batch, w->s, CLX_CF_EVTIME, w->evkeys + w->evoffs[i], w->evlens[i], "", 0);
        }

        clx_rollup_upkeep_note(w->upkeep, add_rollups(w, head, ninserted));

        unsigned char sv[8];
        clx_be64_put(sv, seq);
        clx_batch_meta_put(w->batch, w->s, CLX_WRITER_META_SEQ, sv, sizeof(sv));
        rc = clx_store_write(w->s, w->batch, 1);
        if (rc == CLX_OK) {
            clx_dims_acc_add(w->dims, w->dimrefs, w->ndimrefs);
            w->last_seq = seq;
            atomic_fetch_add_explicit(&w->groups, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&w->inserted, ninserted, memory_order_relaxed);
        }
    }

complete:
    if (rc == CLX_OK)
        atomic_fetch_add_explicit(&w->items, n, memory_order_relaxed);
    else if (rc != CLX_ENOSPC)
        rc = CLX_EIO;
    size_t nreq = 0;
    for (clx_write_req_t *r = head; r != NULL; r = r->next_)
        nreq++;
    atomic_fetch_add_explicit(&w->requests, nreq, memory_order_relaxed);
    for (clx_write_req_t *r = head, *next; r != NULL; r = next) {
        next = r->next_; /* done() may free or resubmit r */
        r->next_ = NULL;
        r->status = rc;
        if (r->done != NULL)
            r->done(r);
    }
}

/* ---- corrections ------------------------------------------------------------------------------ */

/* The state of one event as a correction request leaves it (a later item of it sees this). */
struct corrected {
    const char *workspace;
    const char *request_id;
    size_t request_id_len;
    uint64_t seq;
    const void *val; /* the new current version */
    size_t vlen;
};

/*
 * The current version of item it's event: from an earlier item of the same request, else from
 * the store (into arena). CLX_OK, CLX_ENOTFOUND, CLX_EIO or CLX_ECORRUPT.
 */
static int current_version(clx_writer_t *w, clx_arena_t *arena, const struct corrected *done, size_t ndone,
                           const clx_write_item_t *it, const void **val, size_t *vlen, uint64_t *seq)
{
    for (size_t j = ndone; j-- > 0;) {
        const struct corrected *c = &done[j];
        if (c->request_id_len == it->request_id_len && memcmp(c->request_id, it->request_id, c->request_id_len) == 0 &&
            strcmp(c->workspace, it->workspace) == 0) {
            *val = c->val;
            *vlen = c->vlen;
            *seq = c->seq;
            return CLX_OK;
        }
    }
    char *v = NULL;
    int rc = clx_store_find_event(w->s, it->workspace, it->request_id, it->request_id_len, &v, vlen, seq);
    if (rc != CLX_OK)
        return rc;
    char *copy = clx_arena_alloc(arena, *vlen ? *vlen : 1);
    memcpy(copy, v, *vlen);
    free(v);
    *val = copy;
    return CLX_OK;
}

/*
 * Applies one request of corrections in one synced batch: per item, the current version goes to
 * the history family, the new one replaces it under the event's seq, the old deltas leave the
 * rollups and the new ones (an amend's) enter. Then completes the request. On a storage failure
 * the request gets CLX_EIO (or CLX_ENOSPC) and nothing of it is stored.
 */
static void writer_correct(clx_writer_t *w, clx_write_req_t *req)
{
    clx_arena_t *arena = clx_arena_create(16 * 1024);
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    struct corrected *done = clx_arena_alloc(arena, (req->nitems ? req->nitems : 1) * sizeof(*done));
    size_t ndone = 0, nrefs = 0, caprefs = 16;
    const clx_rollup_ref_t **refs = clx_arena_alloc(arena, caprefs * sizeof(*refs));
    int rc = CLX_OK;
    uint64_t cseq = w->last_seq; /* each applied correction takes the next seq: its correction-log record */

    /* the events corrected may have dims deltas still held: into the store first, so the
     * correction's own deltas (written below) meet them there and a replay never redoes them */
    rc = dims_flush(w);
    clx_batch_clear(w->batch);
    for (size_t i = 0; i < req->nitems && rc == CLX_OK; i++) {
        clx_write_item_t *it = &req->items[i];
        const void *old = NULL;
        size_t olen = 0;
        uint64_t seq = 0;
        rc = current_version(w, arena, done, ndone, it, &old, &olen, &seq);
        if (rc == CLX_ENOTFOUND) {
            it->outcome = CLX_WRITE_NOT_FOUND;
            rc = CLX_OK;
            continue;
        }
        if (rc != CLX_OK)
            break;
        Costlynx__Store__V1__StoredEvent *rec = costlynx__store__v1__stored_event__unpack(&alloc, olen, old);
        if (rec == NULL) {
            clx_log(CLX_LOG_ERROR, "store", "event %llu of workspace %s is unreadable; not corrected",
                    (unsigned long long)seq, it->workspace);
            rc = CLX_ECORRUPT;
            break;
        }
        uint32_t version = rec->version != 0 ? rec->version : 1;
        it->seq = seq;
        if (rec->voided) {
            it->outcome = CLX_WRITE_ALREADY_VOIDED;
            continue;
        }
        const void *val;
        size_t vlen;
        if (it->op == CLX_WRITE_OP_VOID) {
            Costlynx__Store__V1__StoredEvent next = *rec;
            next.voided = 1;
            next.version = version + 1;
            next.change = COSTLYNX__STORE__V1__CHANGE_KIND__CHANGE_KIND_VOID;
            next.changed_at_ms = it->at_ms;
            next.changed_by = (char *)(it->by != NULL ? it->by : "");
            next.change_reason = (char *)(it->reason != NULL ? it->reason : "");
            vlen = costlynx__store__v1__stored_event__get_packed_size(&next);
            uint8_t *buf = clx_arena_alloc(arena, vlen ? vlen : 1);
            costlynx__store__v1__stored_event__pack(&next, buf);
            val = buf;
            /* a re-ingest of the id is told from the dedup record alone */
            size_t wl = strlen(it->workspace);
            char *dk = clx_arena_alloc(arena, CLX_DEDUP_KEY_LEN(wl, it->request_id_len));
            size_t dkl = clx_dedup_key_encode(dk, it->workspace, wl, it->request_id, it->request_id_len);
            unsigned char dv[CLX_DEDUP_VALUE_FLAGS_LEN];
            clx_dedup_value_encode_flags(dv, seq, rec->fingerprint, CLX_DEDUP_VOIDED);
            clx_batch_put(w->batch, w->s, CLX_CF_DEDUP, dk, dkl, dv, sizeof(dv));
        } else { /* CLX_WRITE_OP_AMEND */
            if (version != it->base_version) {
                it->outcome = CLX_WRITE_STALE;
                continue;
            }
            val = it->value;
            vlen = it->value_len;
        }
        size_t wl = strlen(it->workspace);
        char *hk = clx_arena_alloc(arena, CLX_HISTORY_KEY_LEN(wl, it->request_id_len));
        size_t hkl = clx_history_key_encode(hk, it->workspace, wl, it->request_id, it->request_id_len, version);
        clx_batch_put(w->batch, w->s, CLX_CF_HISTORY, hk, hkl, old, olen);
        char *ek = clx_arena_alloc(arena, CLX_EVENT_KEY_LEN(wl));
        size_t ekl = clx_event_key_encode(ek, it->workspace, wl, seq);
        clx_batch_put(w->batch, w->s, CLX_CF_EVENTS, ek, ekl, val, vlen);
        clx_corrlog_put(w->batch, w->s, ++cseq, it->workspace, wl, seq);

        /* the rollups: the old version out, the new one (an amend's) in */
        size_t need = nrefs + CLX_ROLLUP_PER_EVENT + 1 + (it->op == CLX_WRITE_OP_AMEND ? it->nrollups : 0);
        if (it->op == CLX_WRITE_OP_AMEND && it->event_time_ms != clx_event_time_ms(rec)) {
            /* a new event time moves the event in the event-time index */
            char *tk = clx_arena_alloc(arena, CLX_EVTIME_KEY_LEN(wl));
            size_t tkl = clx_evtime_key_encode(tk, it->workspace, wl, clx_event_time_ms(rec), seq);
            clx_batch_delete(w->batch, w->s, CLX_CF_EVTIME, tk, tkl);
            tk = clx_arena_alloc(arena, CLX_EVTIME_KEY_LEN(wl));
            tkl = clx_evtime_key_encode(tk, it->workspace, wl, it->event_time_ms, seq);
            clx_batch_put(w->batch, w->s, CLX_CF_EVTIME, tk, tkl, "", 0);
        }
        if (need > caprefs) {
            while (caprefs < need)
                caprefs *= 2;
            const clx_rollup_ref_t **grown = clx_arena_alloc(arena, caprefs * sizeof(*grown));
            memcpy(grown, refs, nrefs * sizeof(*refs));
            refs = grown;
        }
        clx_rollup_ref_t *out = clx_arena_alloc(arena, CLX_ROLLUP_PER_EVENT * sizeof(*out));
        size_t nout = clx_rollup_event_refs(arena, it->workspace, rec, -1, out);
        for (size_t k = 0; k < nout; k++)
            refs[nrefs++] = &out[k];
        if (it->op == CLX_WRITE_OP_AMEND) {
            for (size_t k = 0; k < it->nrollups; k++)
                refs[nrefs++] = &it->rollups[k];
        } else { /* what the totals no longer count, kept apart for "voided spend" */
            clx_rollup_ref_t *v = clx_arena_alloc(arena, sizeof(*v));
            clx_rollup_voided_ref(arena, it->workspace, rec, v);
            refs[nrefs++] = v;
        }

        done[ndone++] = (struct corrected){.workspace = it->workspace,
                                           .request_id = it->request_id,
                                           .request_id_len = it->request_id_len,
                                           .seq = seq,
                                           .val = val,
                                           .vlen = vlen};
        it->version = version + 1;
        it->outcome = CLX_WRITE_CORRECTED;
    }
    if (rc == CLX_OK && ndone > 0) {
        clx_rollup_upkeep_note(w->upkeep, clx_rollup_merge_refs(w->batch, w->s, refs, nrefs));
        unsigned char sv[8];
        clx_be64_put(sv, cseq);
        clx_batch_meta_put(w->batch, w->s, CLX_WRITER_META_SEQ, sv, sizeof(sv));
        rc = clx_store_write(w->s, w->batch, 1);
        if (rc == CLX_OK) {
            w->last_seq = cseq;
            atomic_fetch_add_explicit(&w->groups, 1, memory_order_relaxed);
        }
    }
    if (rc != CLX_OK && rc != CLX_ENOSPC)
        rc = CLX_EIO;
    atomic_fetch_add_explicit(&w->requests, 1, memory_order_relaxed);
    req->next_ = NULL;
    req->status = rc;
    if (req->done != NULL)
        req->done(req);
    clx_arena_destroy(arena);
}

/* The writer thread: runs groups until stopping and the queue is drained. */
static void *writer_main(void *arg)
{
    clx_writer_t *w = arg;

    pthread_setname_np(pthread_self(), "clx-writer");
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->stopping) {
            if (clx_dims_acc_size(w->dims) == 0) {
                pthread_cond_wait(&w->cv, &w->mu);
                continue;
            }
            /* idle with dims sums held: flush them when they are old enough */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0 && w->head == NULL) {
                pthread_mutex_unlock(&w->mu);
                dims_maybe_flush(w);
                pthread_mutex_lock(&w->mu);
            }
        }
        clx_write_req_t *group = w->head;
        w->head = w->tail = NULL;
        w->queued_items = 0;
        pthread_mutex_unlock(&w->mu);
        if (group == NULL)
            break; /* stopping and drained */
        /* runs of insert requests are group commits; a request of corrections is one of its own */
        for (clx_write_req_t *r = group, *next; r != NULL; r = next) {
            if (r->corrections) {
                next = r->next_;
                writer_correct(w, r);
                continue;
            }
            clx_write_req_t *last = r;
            while (last->next_ != NULL && !last->next_->corrections)
                last = last->next_;
            next = last->next_;
            last->next_ = NULL;
            writer_group(w, r);
        }
        dims_maybe_flush(w);
    }
    return NULL;
}

/*
 * Restores last_seq from metadata and starts the thread. CLX_EIO when the metadata cannot
 * be read or the thread cannot start, CLX_ECORRUPT when "seq" is malformed; *out untouched.
 */
int clx_writer_create(clx_store_t *s, size_t max_queued_items, clx_writer_t **out)
{
    int rc;
    char *val = NULL;
    size_t vlen = 0;
    uint64_t last_seq = 0;
    clx_writer_t *w = NULL;

    rc = clx_store_meta_get(s, CLX_WRITER_META_SEQ, &val, &vlen);
    if (rc == CLX_OK) {
        if (vlen != 8) {
            clx_log(CLX_LOG_ERROR, "store", "metadata seq has %zu bytes, expected 8", vlen);
            rc = CLX_ECORRUPT;
            goto fail;
        }
        last_seq = clx_be64_get((const unsigned char *)val);
    } else if (rc != CLX_ENOTFOUND) {
        goto fail;
    }

    w = clx_xcalloc(1, sizeof(*w));
    w->s = s;
    w->max_queued = max_queued_items;
    w->last_seq = last_seq;
    w->batch = clx_batch_create();
    w->dims = clx_dims_acc_create();
    w->dims_flushed_ms = (int64_t)(clx_mono_ns() / 1000000);
    rc = clx_dims_acc_recover(w->dims, s, last_seq, NULL); /* the deltas a crash left unflushed */
    if (rc == CLX_OK && clx_dims_acc_start(w->dims, s) != CLX_OK)
        clx_log(CLX_LOG_WARN, "store", "cannot start the dims flusher; the writer flushes them itself");
    if (rc != CLX_OK) {
        clx_log(CLX_LOG_ERROR, "store", "cannot count the dims of the events after the last flush: %s",
                clx_strerror(rc));
        clx_dims_acc_destroy(w->dims);
        clx_batch_destroy(w->batch);
        free(w);
        w = NULL;
        rc = rc == CLX_ECORRUPT ? CLX_ECORRUPT : CLX_EIO;
        goto fail;
    }
    atomic_init(&w->groups, 0);
    atomic_init(&w->requests, 0);
    atomic_init(&w->items, 0);
    atomic_init(&w->inserted, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        clx_log(CLX_LOG_ERROR, "store", "cannot start the writer thread");
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        clx_dims_acc_destroy(w->dims);
        clx_batch_destroy(w->batch);
        free(w);
        w = NULL;
        rc = CLX_EIO;
        goto fail;
    }
    w->upkeep = clx_rollup_upkeep_start(s);
    *out = w;
    rc = CLX_OK;
fail:
    free(val);
    return rc;
}

/* CLX_EBUSY when the queue is full, CLX_ESHUTDOWN once destroy began, CLX_EINVAL for NULL. */
int clx_writer_submit(clx_writer_t *w, clx_write_req_t *req)
{
    int rc = CLX_OK;

    if (req == NULL)
        return CLX_EINVAL;
    req->next_ = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        rc = CLX_ESHUTDOWN;
    } else if (w->head != NULL && (req->nitems > w->max_queued || w->queued_items > w->max_queued - req->nitems)) {
        rc = CLX_EBUSY; /* an empty queue takes anything, so no request starves */
    } else {
        if (w->head == NULL) {
            w->head = req;
            pthread_cond_signal(&w->cv); /* the writer only sleeps on an empty queue */
        } else {
            w->tail->next_ = req;
        }
        w->tail = req;
        w->queued_items += req->nitems;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Drains the queue, joins the thread, frees. NULL is a no-op. Never call it from done(). */
void clx_writer_destroy(clx_writer_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    dims_flush(w); /* a clean stop leaves nothing to count again */
    clx_rollup_upkeep_stop(w->upkeep);
    clx_dims_acc_destroy(w->dims);
    free(w->dimrefs);

    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    clx_batch_destroy(w->batch);
    free(w->gitems);
    free(w->keys);
    free(w->klens);
    free(w->koffs);
    free(w->wlens);
    free(w->evoffs);
    free(w->evlens);
    free(w->vals);
    free(w->vlens);
    free(w->ins);
    free(w->keybuf);
    free(w->evkeys);
    free(w->slots);
    free(w->rolls);
    free(w);
}

clx_store_t *clx_writer_store(clx_writer_t *w)
{
    return w->s;
}

/* Cannot fail. */
clx_dims_acc_t *clx_writer_dims(clx_writer_t *w)
{
    return w->dims;
}

void clx_writer_stats(clx_writer_t *w, clx_writer_stats_t *out)
{
    out->groups = atomic_load_explicit(&w->groups, memory_order_relaxed);
    out->requests = atomic_load_explicit(&w->requests, memory_order_relaxed);
    out->items = atomic_load_explicit(&w->items, memory_order_relaxed);
    out->inserted = atomic_load_explicit(&w->inserted, memory_order_relaxed);
}
