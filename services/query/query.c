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

static int matches(const clx_event_filter_t *f, const Costlynx__Store__V1__StoredEvent *ev)
{
    if (f == NULL)
        return 1;
    if (f->to_ms != 0 && ev->received_at_ms >= f->to_ms)
        return 0;
    return field_matches(f->project, ev->project) && field_matches(f->environment, ev->environment) &&
           field_matches(f->feature, ev->feature) && field_matches(f->provider, ev->provider) &&
           field_matches(f->model, ev->model);
}

int clx_query_list_events(clx_query_t *q, const char *workspace, uint64_t before_seq, size_t limit,
                          const clx_event_filter_t *filter, clx_event_fn fn, void *arg, uint64_t *next_seq)
{
    /* each event is unpacked into scratch memory reused for the next: a filtered scan may
     * examine many events, and fn copies what it keeps */
    clx_arena_t *scratch = clx_arena_create(8192);
    ProtobufCAllocator alloc;
    clx_arena_allocator(scratch, &alloc);

    *next_seq = 0;
    clx_event_iter_t *it = clx_event_iter_create(q->store, workspace);
    size_t n = 0, scanned = 0;
    for (clx_event_iter_seek_before(it, before_seq); clx_event_iter_valid(it); clx_event_iter_prev(it)) {
        uint64_t seq = clx_event_iter_seq(it);
        if (n == limit || scanned == CLX_LIST_SCAN_MAX) {
            *next_seq = seq + 1;
            break;
        }
        scanned++;
        clx_arena_reset(scratch);
        size_t vlen;
        const char *v = clx_event_iter_value(it, &vlen);
        Costlynx__Store__V1__StoredEvent *ev =
            costlynx__store__v1__stored_event__unpack(&alloc, vlen, (const uint8_t *)v);
        if (ev == NULL)
            continue; /* unreadable record: skipped here, reported by the store check */
        if (filter != NULL && filter->from_ms != 0 && ev->received_at_ms < filter->from_ms)
            break; /* arrival order: everything older is out of range */
        if (!matches(filter, ev))
            continue;
        n++;
        if (fn(arg, seq, ev) != 0)
            break;
    }
    int rc = clx_event_iter_status(it);
    clx_event_iter_destroy(it);
    clx_arena_destroy(scratch);
    return rc;
}
