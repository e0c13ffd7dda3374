/*
 * clickhouse.c — the ClickHouse table as one column table: the DDL, the INSERT column list
 * and the RowBinary encoding of a row are all read from it.
 */
#include "clx_clickhouse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_mem.h"

/* ---- bytes ---------------------------------------------------------------------------------- */

static void reserve(clx_bytes_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->p = clx_xrealloc(b->p, cap);
    b->cap = cap;
}

void clx_bytes_append(clx_bytes_t *b, const void *data, size_t n)
{
    reserve(b, n);
    if (n != 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

void clx_bytes_printf(clx_bytes_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *clx_bytes_cstr(clx_bytes_t *b)
{
    reserve(b, 1);
    b->p[b->len] = '\0';
    return (const char *)b->p;
}

/* ---- the columns ---------------------------------------------------------------------------- */

/* How a column's value is found and written. The ClickHouse type follows from it. */
typedef enum enc {
    ENC_ROW_STRING,     /* const char * in clx_ch_row_t -> String */
    ENC_ROW_U64,        /* uint64_t in clx_ch_row_t -> UInt64 */
    ENC_ROW_BOOL,       /* int in clx_ch_row_t -> UInt8 (0 or 1) */
    ENC_EV_STRING,      /* char * in the StoredEvent -> String */
    ENC_EV_I64,         /* int64_t in the StoredEvent -> Int64 */
    ENC_EV_MS,          /* int64_t Unix ms in the StoredEvent -> UInt64 (negative: 0) */
    ENC_EV_SECONDS,     /* int64_t Unix ms in the StoredEvent -> DateTime (UInt32 seconds) */
    ENC_EV_U32,         /* uint32_t in the StoredEvent -> UInt32 */
    ENC_EV_BOOL,        /* protobuf_c_boolean in the StoredEvent -> UInt8 */
    ENC_EV_COST_SOURCE, /* the CostSource enum -> String ("none", "catalog", "caller") */
    ENC_EMPTY_STRING,   /* a column that later issues fill -> String, "" for now */
} enc_t;

static const char *const type_of[] = {
    [ENC_ROW_STRING] = "String",     [ENC_ROW_U64] = "UInt64",      [ENC_ROW_BOOL] = "UInt8",
    [ENC_EV_STRING] = "String",      [ENC_EV_I64] = "Int64",        [ENC_EV_MS] = "UInt64",
    [ENC_EV_SECONDS] = "DateTime",   [ENC_EV_U32] = "UInt32",       [ENC_EV_BOOL] = "UInt8",
    [ENC_EV_COST_SOURCE] = "String", [ENC_EMPTY_STRING] = "String",
};

typedef struct column {
    const char *name;
    enc_t enc;
    size_t off; /* into clx_ch_row_t or the StoredEvent, by enc */
    const char *comment;
} column_t;

#define ROW(f) offsetof(clx_ch_row_t, f)
#define EV(f) offsetof(Costlynx__Store__V1__StoredEvent, f)

/*
 * Append new columns at the end only, each with a default: a running exporter names its
 * columns in the INSERT, so a table with extra columns keeps working, and old rows read the
 * default. Renaming or retyping a column is a migration (docs/clickhouse.md).
 */
static const column_t columns[] = {
    {"workspace", ENC_ROW_STRING, ROW(workspace), "workspace slug (lives on exactly one cell)"},
    {"request_id", ENC_EV_STRING, EV(request_id), "requestId as the caller sent it, unique per workspace"},
    {"version", ENC_ROW_U64, ROW(version), "sequence number of this version in its cell: the highest wins"},
    {"voided", ENC_ROW_BOOL, ROW(voided), "1 when this version voids the event (corrections); count only 0"},
    {"cell", ENC_ROW_STRING, ROW(cell), "the cell that stored the event (empty without --cell-id)"},
    {"received_at", ENC_EV_SECONDS, EV(received_at_ms),
     "when the first version was received (partition key: the same in every version)"},
    {"received_at_ms", ENC_EV_MS, EV(received_at_ms), "the same, Unix milliseconds"},
    {"event_time_ms", ENC_EV_MS, EV(received_at_ms),
     "when the usage happened, Unix ms (the timestamp of the caller once events carry one)"},
    {"provider", ENC_EV_STRING, EV(provider), "normalised provider (gemini -> google)"},
    {"provider_as_sent", ENC_EV_STRING, EV(provider_as_sent), "provider as the caller sent it"},
    {"model", ENC_EV_STRING, EV(model), "model exactly as sent"},
    {"model_normalized", ENC_EV_STRING, EV(model_normalized), "the model name the price lookup used"},
    {"price_id", ENC_EV_STRING, EV(price_id), "matched catalog entry (empty when none)"},
    {"cost_source", ENC_EV_COST_SOURCE, EV(cost_source), "catalog, caller or none (unpriced)"},
    {"cost_nanos", ENC_EV_I64, EV(cost_nanos), "cost in nano-dollars (USD * 10^9), exact"},
    {"input_tokens", ENC_EV_I64, EV(input_tokens), "all prompt tokens, cached ones included"},
    {"output_tokens", ENC_EV_I64, EV(output_tokens), "completion tokens, reasoning included"},
    {"cached_tokens", ENC_EV_I64, EV(cached_tokens), "prompt tokens read from the prompt cache"},
    {"cache_write_tokens", ENC_EV_I64, EV(cache_write_tokens), "prompt tokens written to the cache"},
    {"batch", ENC_EV_BOOL, EV(batch), "1 when sent through the batch API of the provider"},
    {"project", ENC_EV_STRING, EV(project), "attributed project (empty when none)"},
    {"environment", ENC_EV_STRING, EV(environment), "attributed environment (empty when none)"},
    {"project_as_sent", ENC_EV_STRING, EV(project_as_sent), "project the event (or its key) named"},
    {"environment_as_sent", ENC_EV_STRING, EV(environment_as_sent), "environment the event (or its key) named"},
    {"feature", ENC_EV_STRING, EV(feature), "product feature (empty when none)"},
    {"user", ENC_EMPTY_STRING, 0, "end user (empty until events carry users)"},
    {"key_id", ENC_EV_STRING, EV(key_id), "id of the ingestion key that sent it"},
    {"flags", ENC_EV_U32, EV(flags), "bits: 1 unpriced, 2 unknown project, 4 unknown environment, 8 no attribution"},
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

size_t clx_ch_ncolumns(void)
{
    return NCOLUMNS;
}

const char *clx_ch_column_name(size_t i)
{
    return i < NCOLUMNS ? columns[i].name : NULL;
}

int clx_ch_ident_valid(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (n > 0 && c >= '0' && c <= '9');
        if (!ok || n == 64)
            return 0;
    }
    return n > 0;
}

/* ---- DDL ------------------------------------------------------------------------------------ */

static void column_list(clx_bytes_t *out)
{
    clx_bytes_printf(out, "(\n");
    for (size_t i = 0; i < NCOLUMNS; i++)
        clx_bytes_printf(out, "    %-20s %-8s COMMENT '%s'%s\n", columns[i].name, type_of[columns[i].enc],
                         columns[i].comment, i + 1 < NCOLUMNS ? "," : "");
    clx_bytes_printf(out, ")\n");
}

/* What both forms share after the engine: partitions and the sorting key. */
static void table_tail(clx_bytes_t *out)
{
    clx_bytes_printf(out, "PARTITION BY toYYYYMM(received_at)\n"
                          "ORDER BY (workspace, request_id)\n"
                          "SETTINGS index_granularity = 8192;\n");
}

void clx_ch_schema(clx_bytes_t *out, const clx_ch_target_t *t)
{
    const char *db = t->database, *tb = t->table;

    if (t->cluster == NULL || t->cluster[0] == '\0') {
        clx_bytes_printf(out, "CREATE DATABASE IF NOT EXISTS %s;\n\n", db);
        clx_bytes_printf(out, "CREATE TABLE IF NOT EXISTS %s.%s\n", db, tb);
        column_list(out);
        clx_bytes_printf(out, "ENGINE = ReplacingMergeTree(version)\n");
        table_tail(out);
        return;
    }
    const char *cl = t->cluster;
    clx_bytes_printf(out, "CREATE DATABASE IF NOT EXISTS %s ON CLUSTER %s;\n\n", db, cl);
    clx_bytes_printf(out, "CREATE TABLE IF NOT EXISTS %s.%s_local ON CLUSTER %s\n", db, tb, cl);
    column_list(out);
    /* {shard} and {replica} are each server's macros (config.xml <macros>) */
    clx_bytes_printf(out,
                     "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/%s/%s_local', '{replica}', "
                     "version)\n",
                     db, tb);
    table_tail(out);
    clx_bytes_printf(out,
                     "\nCREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s_local\n"
                     "ENGINE = Distributed(%s, %s, %s_local, cityHash64(workspace, request_id));\n",
                     db, tb, cl, db, tb, cl, db, tb);
}

void clx_ch_insert_query(clx_bytes_t *out, const clx_ch_target_t *t)
{
    clx_bytes_printf(out, "INSERT INTO %s.%s (", t->database, t->table);
    for (size_t i = 0; i < NCOLUMNS; i++)
        clx_bytes_printf(out, "%s%s", i > 0 ? ", " : "", columns[i].name);
    clx_bytes_printf(out, ") FORMAT RowBinary");
}

/* ---- RowBinary ------------------------------------------------------------------------------ */

/* Little-endian fixed-width integers, as RowBinary has them. */
static void put_le(clx_bytes_t *b, uint64_t v, int bytes)
{
    unsigned char tmp[8];
    for (int i = 0; i < bytes; i++, v >>= 8)
        tmp[i] = (unsigned char)v;
    clx_bytes_append(b, tmp, (size_t)bytes);
}

/* A String: its length as an unsigned LEB128 varint, then the bytes. */
static void put_string(clx_bytes_t *b, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    unsigned char tmp[10];
    int k = 0;
    uint64_t v = n;
    do {
        tmp[k] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            tmp[k] |= 0x80;
        k++;
    } while (v != 0);
    clx_bytes_append(b, tmp, (size_t)k);
    clx_bytes_append(b, s, n);
}

static const char *const cost_sources[] = {
    [COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_NONE] = "none",
    [COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CATALOG] = "catalog",
    [COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER] = "caller",
};

void clx_ch_encode_row(clx_bytes_t *out, const clx_ch_row_t *row)
{
    const char *r = (const char *)row, *e = (const char *)row->ev;

    for (size_t i = 0; i < NCOLUMNS; i++) {
        const column_t *c = &columns[i];
        int64_t v;
        switch (c->enc) {
        case ENC_ROW_STRING:
            put_string(out, *(const char *const *)(r + c->off));
            break;
        case ENC_ROW_U64:
            put_le(out, *(const uint64_t *)(r + c->off), 8);
            break;
        case ENC_ROW_BOOL:
            put_le(out, *(const int *)(r + c->off) != 0, 1);
            break;
        case ENC_EV_STRING:
            put_string(out, *(char *const *)(e + c->off));
            break;
        case ENC_EV_I64:
            put_le(out, (uint64_t) * (const int64_t *)(e + c->off), 8);
            break;
        case ENC_EV_MS:
            v = *(const int64_t *)(e + c->off);
            put_le(out, v > 0 ? (uint64_t)v : 0, 8);
            break;
        case ENC_EV_SECONDS:
            /* DateTime is UInt32 seconds: 1970 .. 2106 */
            v = *(const int64_t *)(e + c->off) / 1000;
            put_le(out, v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint64_t)v, 4);
            break;
        case ENC_EV_U32:
            put_le(out, *(const uint32_t *)(e + c->off), 4);
            break;
        case ENC_EV_BOOL:
            put_le(out, *(const protobuf_c_boolean *)(e + c->off) != 0, 1);
            break;
        case ENC_EV_COST_SOURCE: {
            unsigned s = (unsigned)*(const Costlynx__Store__V1__CostSource *)(e + c->off);
            put_string(out, s < sizeof(cost_sources) / sizeof(cost_sources[0]) && cost_sources[s] != NULL
                                ? cost_sources[s]
                                : "unknown");
            break;
        }
        case ENC_EMPTY_STRING:
            put_string(out, "");
            break;
        }
    }
}
