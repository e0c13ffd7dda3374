/*
 * clickhouse.c — the ClickHouse table as one column table: the DDL, the INSERT column list
 * and the RowBinary encoding of a row are all read from it.
 */
#include "clx_clickhouse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_events.h" /* clx_event_time_ms */
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
    ENC_EV_EVENT_MS,    /* clx_event_time_ms of the StoredEvent -> UInt64 */
    ENC_EV_EVENT_SECS,  /* the same in seconds -> DateTime */
    ENC_EV_TAG_KEYS,    /* the tags' keys, in the event's (key) order -> Array(String) */
    ENC_EV_TAG_VALUES,  /* their values, index for index -> Array(String) */
    ENC_EV_TIER,        /* the ServiceTier enum -> String ("standard", "priority", "flex", "batch") */
} enc_t;

static const char *const type_of[] = {
    [ENC_ROW_STRING] = "String",
    [ENC_ROW_U64] = "UInt64",
    [ENC_ROW_BOOL] = "UInt8",
    [ENC_EV_STRING] = "String",
    [ENC_EV_I64] = "Int64",
    [ENC_EV_MS] = "UInt64",
    [ENC_EV_SECONDS] = "DateTime",
    [ENC_EV_U32] = "UInt32",
    [ENC_EV_BOOL] = "UInt8",
    [ENC_EV_COST_SOURCE] = "String",
    [ENC_EMPTY_STRING] = "String",
    [ENC_EV_EVENT_MS] = "UInt64",
    [ENC_EV_EVENT_SECS] = "DateTime",
    [ENC_EV_TAG_KEYS] = "Array(String)",
    [ENC_EV_TAG_VALUES] = "Array(String)",
    [ENC_EV_TIER] = "String",
};

typedef struct column {
    const char *name;
    enc_t enc;
    size_t off; /* into clx_ch_row_t or the StoredEvent, by enc */
    const char *comment;
    int since;        /* 0: in the first table; 1: added by issue 10's export (ALTER at start) */
    const char *dflt; /* DEFAULT expression of an added column (what older rows read), or NULL */
} column_t;

#define ROW(f) offsetof(clx_ch_row_t, f)
#define EV(f) offsetof(Costlynx__Store__V1__StoredEvent, f)

/*
 * Append new columns at the end only, each with a default: a running exporter names its
 * columns in the INSERT, so a table with extra columns keeps working, and old rows read the
 * default. Renaming or retyping a column is a migration (docs/clickhouse.md).
 */
static const column_t columns[] = {
    {"workspace", ENC_ROW_STRING, ROW(workspace), "workspace slug (lives on exactly one cell)", 0, NULL},
    {"request_id", ENC_EV_STRING, EV(request_id), "requestId as the caller sent it, unique per workspace", 0, NULL},
    {"version", ENC_ROW_U64, ROW(version), "sequence number of this version in its cell: the highest wins", 0, NULL},
    {"voided", ENC_ROW_BOOL, ROW(voided), "1 when this version voids the event (corrections); count only 0", 0, NULL},
    {"cell", ENC_ROW_STRING, ROW(cell), "the cell that stored the event (empty without --cell-id)", 0, NULL},
    {"received_at", ENC_EV_SECONDS, EV(received_at_ms),
     "when the first version was received (partition key: the same in every version)", 0, NULL},
    {"received_at_ms", ENC_EV_MS, EV(received_at_ms), "the same, Unix milliseconds", 0, NULL},
    {"event_time_ms", ENC_EV_EVENT_MS, 0, "when the usage happened, Unix ms: the caller timestamp, else received_at_ms",
     0, NULL},
    {"provider", ENC_EV_STRING, EV(provider), "normalised provider (gemini -> google)", 0, NULL},
    {"provider_as_sent", ENC_EV_STRING, EV(provider_as_sent), "provider as the caller sent it", 0, NULL},
    {"model", ENC_EV_STRING, EV(model), "model exactly as sent", 0, NULL},
    {"model_normalized", ENC_EV_STRING, EV(model_normalized), "the model name the price lookup used", 0, NULL},
    {"price_id", ENC_EV_STRING, EV(price_id), "matched catalog entry (empty when none)", 0, NULL},
    {"cost_source", ENC_EV_COST_SOURCE, EV(cost_source), "catalog, caller or none (unpriced)", 0, NULL},
    {"cost_nanos", ENC_EV_I64, EV(cost_nanos), "cost in nano-dollars (USD * 10^9), exact", 0, NULL},
    {"input_tokens", ENC_EV_I64, EV(input_tokens), "all prompt tokens, cached ones included", 0, NULL},
    {"output_tokens", ENC_EV_I64, EV(output_tokens), "completion tokens, reasoning included", 0, NULL},
    {"cached_tokens", ENC_EV_I64, EV(cached_tokens), "prompt tokens read from the prompt cache", 0, NULL},
    {"cache_write_tokens", ENC_EV_I64, EV(cache_write_tokens), "prompt tokens written to the cache", 0, NULL},
    {"batch", ENC_EV_BOOL, EV(batch), "1 when sent through the batch API of the provider", 0, NULL},
    {"project", ENC_EV_STRING, EV(project), "attributed project (empty when none)", 0, NULL},
    {"environment", ENC_EV_STRING, EV(environment), "attributed environment (empty when none)", 0, NULL},
    {"project_as_sent", ENC_EV_STRING, EV(project_as_sent), "project the event (or its key) named", 0, NULL},
    {"environment_as_sent", ENC_EV_STRING, EV(environment_as_sent), "environment the event (or its key) named", 0,
     NULL},
    {"feature", ENC_EV_STRING, EV(feature), "product feature (empty when none)", 0, NULL},
    {"user", ENC_EV_STRING, EV(user_id), "end user: the userId of the event (empty when none)", 0, NULL},
    {"key_id", ENC_EV_STRING, EV(key_id), "id of the ingestion key that sent it", 0, NULL},
    {"flags", ENC_EV_U32, EV(flags), "bits: 1 unpriced, 2 unknown project, 4 unknown environment, 8 no attribution", 0,
     NULL},
    /* ---- issue 10 (added to older tables at start by ALTER TABLE ... ADD COLUMN) ---- */
    {"event_time", ENC_EV_EVENT_SECS, 0, "event_time_ms in seconds (for toDate / toStartOfHour; not the partition key)",
     1, "toDateTime(intDiv(event_time_ms, 1000))"},
    {"tag_keys", ENC_EV_TAG_KEYS, 0, "tag keys, sorted, unique", 1, NULL},
    {"tag_values", ENC_EV_TAG_VALUES, 0, "tag values, index for index with tag_keys", 1, NULL},
    {"reasoning_tokens", ENC_EV_I64, EV(reasoning_tokens), "output tokens spent reasoning (part of output_tokens)", 1,
     NULL},
    {"cache_write_1h_tokens", ENC_EV_I64, EV(cache_write_1h_tokens),
     "prompt tokens written to the 1-hour cache (part of cache_write_tokens)", 1, NULL},
    {"audio_input_tokens", ENC_EV_I64, EV(audio_input_tokens), "audio prompt tokens (part of input_tokens)", 1, NULL},
    {"audio_output_tokens", ENC_EV_I64, EV(audio_output_tokens), "audio completion tokens (part of output_tokens)", 1,
     NULL},
    {"cached_audio_tokens", ENC_EV_I64, EV(cached_audio_tokens), "audio prompt tokens read from the cache", 1, NULL},
    {"service_tier", ENC_EV_TIER, 0, "the tier the caller named: standard, priority, flex or batch", 1, NULL},
    {"web_search_calls", ENC_EV_I64, EV(web_search_calls), "web search calls billed with the event", 1, NULL},
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

int clx_ch_column_added(size_t i)
{
    return i < NCOLUMNS && columns[i].since > 0;
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

/* "name Type [DEFAULT expr] COMMENT '...'" of column i, aligned. */
static void column_def(clx_bytes_t *out, size_t i)
{
    const column_t *c = &columns[i];
    clx_bytes_printf(out, "%-21s %-13s ", c->name, type_of[c->enc]);
    if (c->dflt != NULL)
        clx_bytes_printf(out, "DEFAULT %s ", c->dflt);
    clx_bytes_printf(out, "COMMENT '%s'", c->comment);
}

static void column_list(clx_bytes_t *out)
{
    clx_bytes_printf(out, "(\n");
    for (size_t i = 0; i < NCOLUMNS; i++) {
        clx_bytes_printf(out, "    ");
        column_def(out, i);
        clx_bytes_printf(out, "%s\n", i + 1 < NCOLUMNS ? "," : "");
    }
    clx_bytes_printf(out, ")\n");
}

void clx_ch_add_column(clx_bytes_t *out, const char *database, const char *table, const char *cluster, size_t i)
{
    clx_bytes_printf(out, "ALTER TABLE %s.%s", database, table);
    if (cluster != NULL && cluster[0] != '\0')
        clx_bytes_printf(out, " ON CLUSTER %s", cluster);
    clx_bytes_printf(out, " ADD COLUMN ");
    column_def(out, i);
}

void clx_ch_upgrade(clx_bytes_t *out, const clx_ch_target_t *t)
{
    int cluster = t->cluster != NULL && t->cluster[0] != '\0';
    for (int pass = 0; pass < (cluster ? 2 : 1); pass++) {
        /* a cluster: the local tables first (they hold the rows), then the Distributed one */
        char local[80];
        snprintf(local, sizeof(local), "%s%s", t->table, cluster && pass == 0 ? "_local" : "");
        for (size_t i = 0; i < NCOLUMNS; i++) {
            if (columns[i].since == 0)
                continue;
            clx_ch_add_column(out, t->database, local, t->cluster, i);
            clx_bytes_printf(out, ";\n");
        }
    }
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

/* An unsigned LEB128 varint (String lengths, Array sizes). */
static void put_varint(clx_bytes_t *b, uint64_t v)
{
    unsigned char tmp[10];
    int k = 0;
    do {
        tmp[k] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            tmp[k] |= 0x80;
        k++;
    } while (v != 0);
    clx_bytes_append(b, tmp, (size_t)k);
}

/* A String: its length as a varint, then the bytes. */
static void put_string(clx_bytes_t *b, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    put_varint(b, n);
    clx_bytes_append(b, s, n);
}

static const char *const cost_sources[] = {
    [COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_NONE] = "none",
    [COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CATALOG] = "catalog",
    [COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER] = "caller",
};

static const char *const tiers[] = {
    [COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_STANDARD] = "standard",
    [COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_PRIORITY] = "priority",
    [COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_FLEX] = "flex",
    [COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_BATCH] = "batch",
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
        case ENC_EV_EVENT_MS:
            v = clx_event_time_ms(row->ev);
            put_le(out, v > 0 ? (uint64_t)v : 0, 8);
            break;
        case ENC_EV_EVENT_SECS:
            v = clx_event_time_ms(row->ev) / 1000;
            put_le(out, v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint64_t)v, 4);
            break;
        case ENC_EV_TAG_KEYS:
        case ENC_EV_TAG_VALUES:
            put_varint(out, row->ev->n_tags);
            for (size_t k = 0; k < row->ev->n_tags; k++)
                put_string(out, c->enc == ENC_EV_TAG_KEYS ? row->ev->tags[k]->key : row->ev->tags[k]->value);
            break;
        case ENC_EV_TIER: {
            unsigned t = (unsigned)row->ev->service_tier;
            put_string(out, t < sizeof(tiers) / sizeof(tiers[0]) && tiers[t] != NULL ? tiers[t] : "unknown");
            break;
        }
        }
    }
}
