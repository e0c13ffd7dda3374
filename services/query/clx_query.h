/*
 * clx_query.h — reading stored usage back: one event by requestId, or the newest events.
 *
 * Returned records are protobuf-c StoredEvents unpacked into the caller's arena; they stay
 * valid until the arena is reset or destroyed.
 */
#ifndef CLX_QUERY_H
#define CLX_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "clx_mem.h"
#include "clx_store.h"
#include "costlynx/store/v1/records.pb-c.h"

/* CLX_OK with *out, CLX_ENOTFOUND, CLX_EIO, or CLX_ECORRUPT for an unreadable record. */
int clx_query_event(clx_store_t *store, const char *workspace, const char *request_id, size_t rid_len,
                    clx_arena_t *arena, Costlynx__Store__V1__StoredEvent **out);

/*
 * Calls fn for up to limit events of workspace, newest first, starting below the sequence
 * number before_seq (0: from the newest). *next_seq receives the cursor for the next page
 * (0 when there is none). fn returns non-zero to stop early. CLX_OK or CLX_EIO.
 */
typedef int (*clx_event_fn)(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev);
int clx_query_list_events(clx_store_t *store, const char *workspace, uint64_t before_seq, size_t limit,
                          clx_arena_t *arena, clx_event_fn fn, void *arg, uint64_t *next_seq);

#endif
