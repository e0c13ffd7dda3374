/*
 * clx_exporter.h — the ClickHouse exporter: one thread that copies every committed event,
 * in sequence order, into a ClickHouse table over its HTTP interface. Never on the ingest
 * path: it only reads the store, and ingestion neither waits for it nor knows about it.
 *
 * Exactly-once in effect, from a durable cursor (storage/clx_export.h):
 *   1. read the events after cursor.done (at most batch_rows, one snapshot) and encode them
 *      (RowBinary, deterministic: the same events always make the same bytes);
 *   2. store cursor.pending = the batch's last seq (synced) before sending anything;
 *   3. POST the INSERT; only a 200 from ClickHouse counts as confirmed;
 *   4. store cursor.done = pending, pending = 0 (synced).
 * A failure at 3 (ClickHouse down, refused, timed out, any non-200) retries the SAME bytes
 * with a growing backoff (0.5 s doubling to 30 s), forever: nothing is dropped, ingestion
 * goes on, the lag grows and shows on /metrics. A crash anywhere re-sends exactly the batch
 * (done, pending] after the restart; a crash between 3 and 4 therefore sends rows ClickHouse
 * already has — a ReplacingMergeTree keyed by (workspace, request_id) keeps one of them, and
 * a replicated table drops the identical block outright.
 *
 * The cursor is kept per destination (the URL without its credentials and query string,
 * database and table): pointing costlynxd at a new server or table exports everything from
 * the start, which the table design makes harmless.
 */
#ifndef CLX_EXPORTER_H
#define CLX_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "clx_store.h"

typedef struct clx_exporter_config {
    clx_store_t *store;
    const char *url;      /* http(s)://host:port[/][?settings], the HTTP interface */
    const char *database; /* identifiers: [A-Za-z_][A-Za-z0-9_]* */
    const char *table;
    const char *user;     /* NULL or "": no authentication (ClickHouse's "default" user) */
    const char *password; /* NULL: empty */
    const char *cell;     /* this cell's id, written into every row; NULL or "": none */
    size_t batch_rows;    /* most rows per INSERT (> 0) */
    unsigned interval_ms; /* when caught up, the wait before looking for new events */
    long timeout_ms;      /* one INSERT's limit (0: 60 s) */
} clx_exporter_config_t;

typedef struct clx_exporter clx_exporter_t;

/*
 * Checks cfg, reads the cursor and starts the thread. Strings are copied. CLX_OK with *out;
 * CLX_EINVAL (bad URL, database or table name, batch_rows 0) or CLX_EIO (the cursor cannot
 * be read, the thread cannot start), with *errmsg (malloc'd) saying why. An unreadable
 * (malformed) cursor is not fatal: it is logged and the export starts from the beginning.
 */
int clx_exporter_start(const clx_exporter_config_t *cfg, clx_exporter_t **out, char **errmsg);

/*
 * Stops the thread: an INSERT in flight is abandoned (its batch stays pending and is sent
 * again at the next start), then joins and frees. NULL is a no-op. Call before closing the store.
 */
void clx_exporter_stop(clx_exporter_t *e);

typedef struct clx_exporter_stats {
    uint64_t done;             /* cursor: every seq <= done is in ClickHouse */
    uint64_t last_seq;         /* the highest committed seq now */
    uint64_t rows;             /* rows confirmed since start */
    uint64_t batches;          /* INSERTs confirmed since start */
    uint64_t errors;           /* failed attempts since start */
    int64_t last_success_ms;   /* Unix ms of the last confirmed INSERT, 0 never */
    int64_t oldest_pending_ms; /* received time of the oldest event not confirmed, 0 when none */
    int failing;               /* 1 while the last attempt failed */
} clx_exporter_stats_t;

/*
 * A copy of the counters, with last_seq and oldest_pending_ms read from the store at the
 * call (one snapshot): the lag is as of now. Cannot fail (a storage error reads as no lag).
 */
void clx_exporter_stats(clx_exporter_t *e, clx_exporter_stats_t *out);

/*
 * Appends the Prometheus text of the counters (costlynx_export_*) to buf at *len (cap bytes
 * in all; output that does not fit is cut at a line). Suits clx_rest_config_t.metrics_extra.
 */
void clx_exporter_metrics(void *exporter, char *buf, size_t cap, size_t *len);

#endif
