/*
 * clx_query.h — the query service: reading stored usage back for the settings API and the
 * dashboard. One event by requestId, the newest events, and aggregates from the rollups.
 * main builds it over the store and hands it to the REST door, which never sees the store.
 *
 * Every call reads on a consistent RocksDB snapshot and is safe from any thread. Returned
 * records are protobuf-c StoredEvents unpacked into the caller's arena; they stay valid
 * until the arena is reset or destroyed.
 */
#ifndef CLX_QUERY_H
#define CLX_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "clx_mem.h"
#include "clx_rollup_counts.h"
#include "costlynx/store/v1/records.pb-c.h"

typedef struct clx_store clx_store_t; /* main's to hand over; callers of the queries never need it */
typedef struct clx_query clx_query_t;

/* The query service over store (which must outlive it). Cannot fail (aborts on OOM). */
clx_query_t *clx_query_create(clx_store_t *store);
/* NULL is a no-op. */
void clx_query_destroy(clx_query_t *q);

/* CLX_OK with *out, CLX_ENOTFOUND, CLX_EIO, or CLX_ECORRUPT for an unreadable record. */
int clx_query_event(clx_query_t *q, const char *workspace, const char *request_id, size_t rid_len, clx_arena_t *arena,
                    Costlynx__Store__V1__StoredEvent **out);

/*
 * Every version of the event of (workspace, request_id), oldest first and the current one last,
 * each unpacked into arena: fn(arg, version, event). CLX_OK; CLX_ENOTFOUND when no event has the
 * id; CLX_EIO; CLX_ECORRUPT for an unreadable record. fn's non-zero return stops and is returned.
 */
typedef int (*clx_version_fn)(void *arg, uint32_t version, const Costlynx__Store__V1__StoredEvent *ev);
int clx_query_event_history(clx_query_t *q, const char *workspace, const char *request_id, size_t rid_len,
                            clx_arena_t *arena, clx_version_fn fn, void *arg);

/* Which events a listing returns; zero / NULL members match everything. */
typedef struct clx_event_filter {
    int64_t from_ms, to_ms; /* received in [from, to); 0 = open */
    const char *project, *environment, *feature, *provider, *model; /* attributed values; "" = none */
} clx_event_filter_t;

#define CLX_LIST_SCAN_MAX 100000 /* events examined per page before a cursor is returned */

/*
 * Calls fn for up to limit events of workspace matching filter (NULL: all), newest first,
 * starting below the sequence number before_seq (0: from the newest). Events are stored
 * in arrival order, so the scan stops at the first one received before filter->from_ms.
 * *next_seq receives the cursor for the next page (0 when there is none; also set when
 * CLX_LIST_SCAN_MAX events were examined without filling the page). fn returns non-zero
 * to stop early; the event it gets is valid only during the call. CLX_OK or CLX_EIO.
 */
typedef int (*clx_event_fn)(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev);
int clx_query_list_events(clx_query_t *q, const char *workspace, uint64_t before_seq, size_t limit,
                          const clx_event_filter_t *filter, clx_event_fn fn, void *arg, uint64_t *next_seq);

/* ---- aggregates from the rollups (never a scan of events) -------------------------------- */

enum {
    CLX_DIM_PROJECT = 1,
    CLX_DIM_ENVIRONMENT = 2,
    CLX_DIM_FEATURE = 4,
    CLX_DIM_PROVIDER = 8,
    CLX_DIM_MODEL = 16,
    CLX_DIM_DAY = 32,
    CLX_DIM_HOUR = 64,
};
#define CLX_NDIMS 5 /* project, environment, feature, provider, model */

typedef struct clx_usage_query {
    const char *workspace;
    int64_t from_ms, to_ms;           /* [from, to); whole UTC days unless grouped by hour */
    unsigned group_by;                /* CLX_DIM_* bits; 0: one total row */
    const char *filter[CLX_NDIMS];    /* equality filters; NULL = any; "" = unattributed */
    uint32_t require_flags;           /* only events carrying all these EventFlag bits */
    int as_sent;                      /* project/environment as the events named them */
    int lock_refusals;                /* read the CLX_ROLLUP_LOCK counters instead (day buckets) */
} clx_usage_query_t;

typedef struct clx_usage_row {
    const char *dims[CLX_NDIMS]; /* NULL where not grouped; "" = none / unattributed */
    int64_t bucket_ms;           /* start of the hour or day when grouped by time */
    clx_rollup_t sum;
    clx_i128_t unpriced_events; /* events in sum that have no cost figure */
} clx_usage_row_t;

/*
 * Adds up the rollups matching q into rows (in arena), ordered by time when grouped by
 * time, else by cost then events, descending; *total sums every matching row (128-bit sums:
 * exact for any number of events, see clx_rollup_t). Uses hour
 * rollups when grouping by hour or when the range is not whole days, day rollups
 * otherwise. CLX_OK, CLX_EIO, or CLX_ECORRUPT for an unreadable rollup.
 */
int clx_query_usage(clx_query_t *service, const clx_usage_query_t *q, clx_arena_t *arena, clx_usage_row_t **rows,
                    size_t *nrows, clx_usage_row_t *total);

#endif
