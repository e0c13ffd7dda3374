/*
 * query.c — read-back of stored events for the settings API and the dashboard; reads only,
 * on a consistent RocksDB snapshot per call.
 */
#include "clx_query.h"

#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_writer.h"

int clx_query_event(clx_store_t *store, const char *workspace, const char *request_id, size_t rid_len,
                    clx_arena_t *arena, Costlynx__Store__V1__StoredEvent **out)
{
    char *val = NULL;
    size_t vlen = 0;
    uint64_t seq;
    int rc = clx_store_find_event(store, workspace, request_id, rid_len, &val, &vlen, &seq);
    if (rc != CLX_OK)
        return rc;
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    *out = costlynx__store__v1__stored_event__unpack(&alloc, vlen, (const uint8_t *)val);
    free(val);
    return *out != NULL ? CLX_OK : CLX_ECORRUPT;
}

int clx_query_list_events(clx_store_t *store, const char *workspace, uint64_t before_seq, size_t limit,
                          clx_arena_t *arena, clx_event_fn fn, void *arg, uint64_t *next_seq)
{
    size_t wl = strlen(workspace);
    char *prefix = clx_arena_alloc(arena, wl + 1);
    memcpy(prefix, workspace, wl);
    prefix[wl] = '\0';
    char *target = clx_arena_alloc(arena, wl + 9);
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);

    *next_seq = 0;
    clx_iter_t *it = clx_iter_create(store, CLX_CF_EVENTS, prefix, wl + 1);
    if (before_seq == 0) {
        clx_iter_last(it);
    } else {
        clx_iter_seek_for_prev(it, target, clx_event_key(target, workspace, before_seq - 1));
    }
    size_t n = 0;
    for (; clx_iter_valid(it); clx_iter_prev(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        if (klen != wl + 9)
            continue;
        uint64_t seq = clx_be64_get((const unsigned char *)k + wl + 1);
        if (n == limit) {
            *next_seq = seq + 1;
            break;
        }
        const char *v = clx_iter_value(it, &vlen);
        Costlynx__Store__V1__StoredEvent *ev =
            costlynx__store__v1__stored_event__unpack(&alloc, vlen, (const uint8_t *)v);
        if (ev == NULL)
            continue; /* unreadable record: skipped here, reported by the store check */
        n++;
        if (fn(arg, seq, ev) != 0)
            break;
    }
    int rc = clx_iter_status(it);
    clx_iter_destroy(it);
    return rc;
}
