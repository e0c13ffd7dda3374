/*
 * query.c — the query service and its reads of stored events for the settings API and the
 * dashboard; reads only, on a consistent RocksDB snapshot per call.
 */
#include "clx_query.h"

#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_events.h"
#include "query_internal.h"

clx_query_t *clx_query_create(clx_store_t *store)
{
    clx_query_t *q = clx_xcalloc(1, sizeof(*q));
    q->store = store;
    return q;
}

void clx_query_destroy(clx_query_t *q)
{
    free(q);
}

void clx_query_set_dims(clx_query_t *q, clx_dims_acc_t *held)
{
    q->dims = held;
}

int clx_query_event(clx_query_t *q, const char *workspace, const char *request_id, size_t rid_len, clx_arena_t *arena,
                    Costlynx__Store__V1__StoredEvent **out)
{
    char *val = NULL;
    size_t vlen = 0;
    int rc = clx_store_find_event(q->store, workspace, request_id, rid_len, &val, &vlen, NULL);
    if (rc != CLX_OK)
        return rc;
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    *out = costlynx__store__v1__stored_event__unpack(&alloc, vlen, (const uint8_t *)val);
    free(val);
    return *out != NULL ? CLX_OK : CLX_ECORRUPT;
}

struct history_walk {
    clx_arena_t *arena;
    clx_version_fn fn;
    void *arg;
};

static int history_one(void *arg, uint32_t version, const void *val, size_t vlen)
{
    struct history_walk *h = arg;
    ProtobufCAllocator alloc;
    clx_arena_allocator(h->arena, &alloc);
    Costlynx__Store__V1__StoredEvent *ev = costlynx__store__v1__stored_event__unpack(&alloc, vlen, val);
    if (ev == NULL)
        return CLX_ECORRUPT;
    return h->fn(h->arg, version, ev);
}

int clx_query_event_history(clx_query_t *q, const char *workspace, const char *request_id, size_t rid_len,
                            clx_arena_t *arena, clx_version_fn fn, void *arg)
{
    Costlynx__Store__V1__StoredEvent *cur;
    int rc = clx_query_event(q, workspace, request_id, rid_len, arena, &cur);
    if (rc != CLX_OK)
        return rc;
    struct history_walk h = {.arena = arena, .fn = fn, .arg = arg};
    rc = clx_store_event_history(q->store, workspace, request_id, rid_len, history_one, &h);
    if (rc != CLX_OK)
        return rc;
    return fn(arg, cur->version != 0 ? cur->version : 1, cur);
}

static int field_matches(const char *want, const char *have)
{
    return want == NULL || strcmp(want, have != NULL ? have : "") == 0;
}

static int tag_matches(const Costlynx__Store__V1__StoredEvent *ev, const char *key, const char *value)
{
    for (size_t t = 0; t < ev->n_tags; t++)
        if (ev->tags[t] != NULL && strcmp(ev->tags[t]->key, key) == 0)
            return strcmp(ev->tags[t]->value, value) == 0;
    return 0;
}

static int matches(const clx_event_filter_t *f, const Costlynx__Store__V1__StoredEvent *ev)
{
    if (f == NULL)
        return 1;
    if (!(field_matches(f->project, ev->project) && field_matches(f->environment, ev->environment) &&
          field_matches(f->feature, ev->feature) && field_matches(f->provider, ev->provider) &&
          field_matches(f->model, ev->model) && field_matches(f->user_id, ev->user_id)))
        return 0;
    for (size_t i = 0; i < f->ntags && i < CLX_FILTER_TAGS; i++)
        if (!tag_matches(ev, f->tag_key[i], f->tag_value[i]))
            return 0;
    return 1;
}

size_t clx_query_cursor_format(const clx_event_cursor_t *c, char buf[CLX_CURSOR_BUF])
{
    unsigned __int128 v = (unsigned __int128)(uint64_t)c->time_ms << 64 | c->seq;
    char tmp[CLX_CURSOR_BUF];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int clx_query_cursor_parse(const char *s, clx_event_cursor_t *c)
{
    unsigned __int128 v = 0;
    const unsigned __int128 max = ~(unsigned __int128)0 >> 1; /* time_ms is below 2^63 */
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (unsigned)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    c->time_ms = (int64_t)(uint64_t)(v >> 64);
    c->seq = (uint64_t)v;
    return 0;
}

int clx_query_list_events(clx_query_t *q, const char *workspace, const clx_event_cursor_t *before, size_t limit,
                          const clx_event_filter_t *filter, clx_event_fn fn, void *arg, clx_event_cursor_t *next)
{
    /* each event is unpacked into scratch memory reused for the next: a filtered scan may
     * examine many events, and fn copies what it keeps */
    clx_arena_t *scratch = clx_arena_create(8192);
    ProtobufCAllocator alloc;
    clx_arena_allocator(scratch, &alloc);

    clx_event_cursor_t at = {INT64_MAX, UINT64_MAX};
    if (before != NULL && (before->time_ms != 0 || before->seq != 0))
        at = *before; /* before next is reset: they may be one object */
    *next = (clx_event_cursor_t){0, 0};
    if (filter != NULL && filter->to_ms != 0 && (filter->to_ms < at.time_ms || at.time_ms == INT64_MAX))
        at = (clx_event_cursor_t){filter->to_ms, 0}; /* before (to, 0): every event before to */
    clx_evtime_iter_t *it = clx_evtime_iter_create(q->store, workspace);
    size_t n = 0, scanned = 0;
    int rc = CLX_OK;
    for (clx_evtime_iter_seek_before(it, at.time_ms, at.seq); clx_evtime_iter_valid(it); clx_evtime_iter_prev(it)) {
        int64_t t = clx_evtime_iter_time(it);
        uint64_t seq = clx_evtime_iter_seq(it);
        if (filter != NULL && filter->from_ms != 0 && t < filter->from_ms)
            break; /* event-time order: everything further is older */
        if (n == limit || scanned == CLX_LIST_SCAN_MAX) {
            *next = (clx_event_cursor_t){t, seq + 1};
            break;
        }
        scanned++;
        clx_arena_reset(scratch);
        size_t vlen;
        const char *v;
        rc = clx_evtime_iter_value(it, &v, &vlen);
        if (rc == CLX_ENOTFOUND) {
            rc = CLX_OK;
            continue; /* logged by the index */
        }
        if (rc != CLX_OK)
            break;
        Costlynx__Store__V1__StoredEvent *ev =
            costlynx__store__v1__stored_event__unpack(&alloc, vlen, (const uint8_t *)v);
        if (ev == NULL || !matches(filter, ev))
            continue; /* an unreadable record is skipped here, reported by the store check */
        n++;
        if (fn(arg, seq, ev) != 0)
            break;
    }
    if (rc == CLX_OK)
        rc = clx_evtime_iter_status(it);
    clx_evtime_iter_destroy(it);
    clx_arena_destroy(scratch);
    return rc;
}
