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
/*
 * The dims sums the writer holds in memory (clx_writer_dims): the top-N queries add them to
 * the store's, so they count every acknowledged event. NULL (the default): the store only.
 */
typedef struct clx_dims_acc clx_dims_acc_t;
void clx_query_set_dims(clx_query_t *q, clx_dims_acc_t *held);

/* CLX_OK with *out, CLX_ENOTFOUND, CLX_EIO, or CLX_ECORRUPT for an unreadable record. */
int clx_query_event(clx_query_t *q, const char *workspace, const char *request_id, size_t rid_len, clx_arena_t *arena,
                    Costlynx__Store__V1__StoredEvent **out);

#define CLX_FILTER_TAGS 4 /* tag.KEY=VALUE filters per listing */

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
    int64_t from_ms, to_ms;                                         /* event time in [from, to); 0 = open */
    const char *project, *environment, *feature, *provider, *model; /* attributed values; "" = none */
    const char *user_id;                                            /* the event's userId; "" = none */
    const char *tag_key[CLX_FILTER_TAGS], *tag_value[CLX_FILTER_TAGS]; /* every one must match */
    size_t ntags;
} clx_event_filter_t;

/* A listing's position: before the event (time_ms, seq) in event-time order. */
typedef struct clx_event_cursor {
    int64_t time_ms;
    uint64_t seq; /* 0 (with time 0): no position — from the newest / no next page */
} clx_event_cursor_t;

/* Bytes enough for a cursor as text (a decimal of up to 128 bits). */
#define CLX_CURSOR_BUF 48
/* Writes c as digits only (the REST door's nextCursor); returns the length. Cannot fail. */
size_t clx_query_cursor_format(const clx_event_cursor_t *c, char buf[CLX_CURSOR_BUF]);
/* Reads digits written by clx_query_cursor_format: 0, or -1 for anything else. */
int clx_query_cursor_parse(const char *s, clx_event_cursor_t *c);

#define CLX_LIST_SCAN_MAX 100000 /* events examined per page before a cursor is returned */

/*
 * Calls fn for up to limit events of workspace matching filter (NULL: all), newest first by
 * event time (the caller's timestamp, else the arrival; ties: the later arrival first),
 * starting before *before (NULL or {0,0}: from the newest). The order comes from the
 * event-time index, so the scan starts at filter->to_ms and stops at the first event before
 * filter->from_ms; other filters are checked on each event, at most CLX_LIST_SCAN_MAX per
 * page. *next receives the cursor for the next page ({0,0} when there is none; also set when
 * CLX_LIST_SCAN_MAX events were examined without filling the page). fn returns non-zero to
 * stop early; the event it gets is valid only during the call. CLX_OK or CLX_EIO.
 */
typedef int (*clx_event_fn)(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev);
int clx_query_list_events(clx_query_t *q, const char *workspace, const clx_event_cursor_t *before, size_t limit,
                          const clx_event_filter_t *filter, clx_event_fn fn, void *arg, clx_event_cursor_t *next);

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
    int voided;                       /* read the voided events' counters instead (day buckets) */
    /* issue 12: a feature as an admin's aliases name it (grouped, filtered and shown so);
     * NULL: as stored. Called per rollup with the row's project; returns feature or a label
     * that lives as long as the query */
    const char *(*fold_feature)(void *ctx, const char *project, const char *feature);
    void *fold_ctx;
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

/* ---- top values of a dimension with many values (the dims family, never a scan) ---------- */

#define CLX_TOP_USER 'u' /* the events' userId */
#define CLX_TOP_KEY 'k'  /* the ingestion key that sent them */
#define CLX_TOP_TAG 't'  /* the value of a declared tag key */

typedef struct clx_top_query {
    const char *workspace;
    char kind;              /* CLX_TOP_* */
    const char *tag_key;    /* CLX_TOP_TAG: the tag key (a declared one: others have no counters) */
    int64_t from_ms, to_ms; /* [from, to), whole UTC days (by event time) */
    size_t limit;           /* the first limit rows by cost; 0: all */
} clx_top_query_t;

typedef struct clx_top_row {
    const char *value; /* the user id, key id or tag value */
    clx_rollup_t sum;
    clx_i128_t unpriced_events;
} clx_top_row_t;

/*
 * The values of q's dimension with their sums over q's days, ordered by cost, then events,
 * descending, then value ascending; at most q->limit rows (a partial sort: a bounded heap, so
 * 100,000 users cost one pass), into arena. *total sums every value (not only the rows
 * returned) and *nvalues counts them. Events without the dimension (no userId; a tag not
 * set or not declared when written) are in no row. CLX_OK, CLX_EINVAL when the range is not
 * whole UTC days, CLX_EIO, CLX_ECORRUPT.
 */
int clx_query_top(clx_query_t *service, const clx_top_query_t *q, clx_arena_t *arena, clx_top_row_t **rows,
                  size_t *nrows, clx_top_row_t *total, size_t *nvalues);

#endif
