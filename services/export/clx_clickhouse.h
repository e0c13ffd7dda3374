/*
 * clx_clickhouse.h — what costlynx exports to ClickHouse: the table (its DDL, single-node and
 * cluster forms), one row per event version (RowBinary), and the INSERT that carries them.
 *
 * One column table in clickhouse.c drives all three, so the DDL, the insert's column list
 * and the bytes of a row cannot disagree. Rules the table keeps (docs/clickhouse.md):
 *   - ReplacingMergeTree(version) ORDER BY (workspace, request_id): a re-sent row, or a
 *     later version of it, replaces the earlier one at merge time; reads use FINAL or
 *     argMax(..., version) so they are right before merges too.
 *   - money is Int64 nano-dollars, never Float64; times are DateTime (seconds) and UInt64
 *     Unix milliseconds (ClickHouse 18.16 has no DateTime64);
 *   - the partition key (month of received_at) never changes between versions of a row:
 *     rows of different partitions are never merged with each other.
 *   - portable SQL only: what 18.16 (Debian 12) and current servers both accept.
 * The encoding is a pure function of (workspace, version, cell, StoredEvent): the same events
 * always make the same bytes.
 */
#ifndef CLX_CLICKHOUSE_H
#define CLX_CLICKHOUSE_H

#include <stddef.h>
#include <stdint.h>

#include "costlynx/store/v1/records.pb-c.h"

/* A growable byte buffer (malloc'd; aborts on OOM). Zero-initialise; free p when done. */
typedef struct clx_bytes {
    unsigned char *p;
    size_t len, cap;
} clx_bytes_t;

void clx_bytes_append(clx_bytes_t *b, const void *data, size_t n);
void clx_bytes_printf(clx_bytes_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a NUL without counting it, so p can be read as a C string. */
const char *clx_bytes_cstr(clx_bytes_t *b);

/* Where the rows go. database and table must pass clx_ch_ident_valid. */
typedef struct clx_ch_target {
    const char *database;
    const char *table;
    const char *cluster; /* NULL or "": single node; else the cluster form (remote_servers name) */
} clx_ch_target_t;

#define CLX_CH_DEFAULT_DATABASE "costlynx"
#define CLX_CH_DEFAULT_TABLE "usage_events"

/* True for an identifier we write unquoted: [A-Za-z_][A-Za-z0-9_]{0,63}. */
int clx_ch_ident_valid(const char *s);

/*
 * Appends the DDL for t: CREATE DATABASE and CREATE TABLE, each ending in ";\n". Single
 * node: the ReplacingMergeTree table <table>. Cluster: <table>_local as
 * ReplicatedReplacingMergeTree on every node (ON CLUSTER), and <table> as a Distributed
 * table over it sharded by cityHash64(workspace, request_id), so every version of a row
 * lands on the same shard (FINAL / argMax stay right per shard). Statements are separated
 * by blank lines (clickhouse-client --multiquery runs them all).
 */
void clx_ch_schema(clx_bytes_t *out, const clx_ch_target_t *t);

/* Appends "INSERT INTO db.table (col, ...) FORMAT RowBinary" for t (the table rows go to). */
void clx_ch_insert_query(clx_bytes_t *out, const clx_ch_target_t *t);

/* One exported row: the event version and where it lives. */
typedef struct clx_ch_row {
    const char *workspace;
    const char *cell; /* "" without a cell id */
    uint64_t version; /* the event's seq in its cell */
    int voided;       /* 1 for a voided version (the StoredEvent's voided) */
    const Costlynx__Store__V1__StoredEvent *ev;
} clx_ch_row_t;

/* Appends the row in RowBinary, columns in table order. Cannot fail. */
void clx_ch_encode_row(clx_bytes_t *out, const clx_ch_row_t *row);

/* Number of columns, and the name of column i (for tests and docs). */
size_t clx_ch_ncolumns(void);
const char *clx_ch_column_name(size_t i);

/*
 * Columns added after the first release (issue 10's): a table made by an older costlynxd lacks
 * them. clx_ch_column_added(i) is 1 for such a column. clx_ch_add_column appends the
 * "ALTER TABLE database.table [ON CLUSTER cluster] ADD COLUMN ..." of column i (no ";"),
 * with the DEFAULT that the table's older rows read. clx_ch_upgrade appends every such ALTER
 * for t, each ending in ";\n": single node on t's table; a cluster on <table>_local then on
 * the Distributed <table>, both ON CLUSTER. (An ALTER of a column the table has fails with
 * ClickHouse's "already exists": run only the missing ones.)
 */
int clx_ch_column_added(size_t i);
void clx_ch_add_column(clx_bytes_t *out, const char *database, const char *table, const char *cluster, size_t i);
void clx_ch_upgrade(clx_bytes_t *out, const clx_ch_target_t *t);

#endif
