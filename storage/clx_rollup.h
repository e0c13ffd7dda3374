/*
 * clx_rollup.h — the rollups column family, whole: usage counters per time bucket and per
 * attribution (project, environment, feature, provider, model, flags), maintained at write
 * time so dashboards never scan events. This module alone knows
 *
 *   the keys     granularity ('h' hour, 'd' day, 'x' lock refusals per day) | workspace |
 *                '\0' | bucket (4 bytes BE: hours or days since the Unix epoch, UTC) |
 *                flags (1 byte) | project '\0' environment '\0' feature '\0' provider '\0'
 *                model. Project and environment are as sent (after key defaults); the flags
 *                say whether they were attributed;
 *   the records  the counters (clx_rollup_t, common/clx_rollup_counts.h) on disk: version 2
 *                (CLX_ROLLUP_LEN = 113 bytes: the byte 2, the six sums as 16-byte two's-
 *                complement little-endian, then first_ms and last_ms as 8-byte little-endian);
 *                version 1 (64 bytes: the eight fields as int64 little-endian, written before
 *                the sums were widened) is read as well and rewritten as version 2 by merging;
 *   the merge    what RocksDB's merge operator for the family does (store.c wires it): add;
 *   the deltas   which rollups one stored event adds to (its hour and its day by event
 *                time, and its dims in the dims family), and a refusal by a key's
 *                environment lock;
 *   the summing  one merge per distinct key for a whole group of writes (the writer's batch);
 *   the upkeep   a thread compacting the family soon after a burst of merges, so unfolded
 *                operands do not slow the dashboard.
 *
 * The writer and the queries call it; neither composes a key or a record itself.
 */
#ifndef CLX_ROLLUP_H
#define CLX_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "clx_log.h" /* CLX_MS_PER_HOUR, CLX_MS_PER_DAY */
#include "clx_mem.h"
#include "clx_rollup_counts.h"
#include "clx_store.h"
#include "costlynx/store/v1/records.pb-c.h"

#define CLX_ROLLUP_HOUR 'h'
#define CLX_ROLLUP_DAY 'd'
/* per day: events refused by a key's environment lock; dims: project = key id,
 * environment = the one the event named, feature = the locked one */
#define CLX_ROLLUP_LOCK 'x'
/* per day of the event's time: the events voided (issue 11), dims as 'd' — what the totals no
 * longer count, for "voided spend" (a query reads them only when asked) */
#define CLX_ROLLUP_VOIDED 'v'

/* ---- records ---------------------------------------------------------------------------------- */

#define CLX_ROLLUP_LEN 113
#define CLX_ROLLUP_V1_LEN 64

/*
 * Version 3, compact (the dims family's records: most sums there are small): the byte 3, the
 * six sums and the two times as zigzag LEB128 varints, plus one 0 byte when that would make
 * exactly CLX_ROLLUP_V1_LEN bytes (which would read as version 1). At most
 * CLX_ROLLUP_COMPACT_MAX bytes; returns the length. Cannot fail.
 */
#define CLX_ROLLUP_COMPACT_MAX (1 + 6 * 19 + 2 * 10 + 1)
size_t clx_rollup_pack_compact(const clx_rollup_t *r, unsigned char out[CLX_ROLLUP_COMPACT_MAX]);

/* Writes r as version 2 (CLX_ROLLUP_LEN bytes). Cannot fail. */
void clx_rollup_pack(const clx_rollup_t *r, unsigned char out[CLX_ROLLUP_LEN]);
/* Reads version 3, 2 or 1: CLX_OK, or CLX_ECORRUPT for any other length or version. */
int clx_rollup_unpack(const void *data, size_t len, clx_rollup_t *r);

/*
 * The family's merge: existing (elen bytes; NULL when there is none) plus n operands, added
 * into one version-2 record, returned malloc'd (*outlen bytes; the caller frees it with
 * free()). NULL when a value is malformed (RocksDB then reports corruption) or on OOM.
 */
char *clx_rollup_merge(const char *existing, size_t elen, const char *const *ops, const size_t *oplens, int n,
                       size_t *outlen);
/* The same, writing the result as version 3 when compact (the dims family) else version 2. */
char *clx_rollup_merge_as(const char *existing, size_t elen, const char *const *ops, const size_t *oplens, int n,
                          int compact, size_t *outlen);
/* The merge operators' names, recorded by RocksDB in existing stores: never change them. */
#define CLX_ROLLUP_MERGE_NAME "clx.rollup.v1"
#define CLX_DIMS_MERGE_NAME "clx.dims.v1"

/* ---- keys ------------------------------------------------------------------------------------- */

typedef struct clx_rollup_dims {
    const char *project; /* as sent */
    const char *environment;
    const char *feature;
    const char *provider; /* normalised */
    const char *model;    /* as sent */
    uint32_t flags;       /* EventFlag bits of records.proto */
} clx_rollup_dims_t;

/* Bytes clx_rollup_key_encode writes for these dims. */
size_t clx_rollup_key_size(const char *ws, const clx_rollup_dims_t *d);
/* Writes the key into buf (clx_rollup_key_size bytes); returns its length. */
size_t clx_rollup_key_encode(char *buf, char granularity, const char *ws, uint32_t bucket, const clx_rollup_dims_t *d);
/* Bytes of the prefixes clx_rollup_key_prefix writes for ws (with the bucket). */
#define CLX_ROLLUP_PREFIX_LEN(wslen) (1 + (wslen) + 1 + 4)
/* Writes the prefix of every key of (granularity, ws, bucket) into buf; returns its length. */
size_t clx_rollup_key_prefix(char *buf, char granularity, const char *ws, uint32_t bucket, int with_bucket);
/*
 * Decodes key (klen bytes after the workspace prefix of length plen, i.e. key+plen points at
 * the bucket) into *bucket and *d, whose strings point into scratch (>= klen bytes).
 * Returns 0, or -1 for a malformed key.
 */
int clx_rollup_key_decode(const char *key, size_t klen, size_t plen, char *scratch, uint32_t *bucket,
                          clx_rollup_dims_t *d);

/* ---- deltas ----------------------------------------------------------------------------------- */

/* A rollup a write adds to: its family, its key (owned by the submitter) and the counters it adds. */
typedef struct clx_rollup_ref {
    const char *key;
    size_t klen;
    clx_rollup_t delta;
    uint8_t dims; /* 0: the rollups family; 1: the dims family (clx_dims.h, same records) */
} clx_rollup_ref_t;

/* At most: its hour and its day, then its dims (CLX_DIMS_PER_EVENT, clx_dims.h). */
#define CLX_ROLLUP_PER_EVENT (2 + 21)

/*
 * The deltas of a stored event of workspace ws — the one definition of what an event adds
 * to the counters, for ingestion (sign 1) and for corrections that take an event back
 * (sign -1): its hour and its day rollups, then its dims (its user, its key, its declared
 * tags: clx_dims_event_refs). The time is the event's time (clx_event_time_ms: the caller's
 * timestamp, else its arrival), and so are first and last seen (left alone when sign < 0:
 * a minimum cannot be taken back). Writes at most CLX_ROLLUP_PER_EVENT refs into refs, keys
 * in arena; returns how many. Cannot fail.
 */
size_t clx_rollup_event_refs(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, int sign,
                             clx_rollup_ref_t *refs);
/*
 * The voided counts of a stored event being voided: one ref (CLX_ROLLUP_VOIDED, its event day,
 * its attribution), key in arena. Cannot fail.
 */
void clx_rollup_voided_ref(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec,
                           clx_rollup_ref_t *ref);
/*
 * The count of one event refused at at_ms by key_id's lock to locked_environment (the event
 * named environment): one ref, key in arena. Cannot fail.
 */
void clx_rollup_lock_ref(clx_arena_t *arena, const char *ws, const char *key_id, const char *environment,
                         const char *locked_environment, int64_t at_ms, clx_rollup_ref_t *ref);

/* ---- summing a group -------------------------------------------------------------------------- */

/*
 * Adds up refs (n pointers; reordered) per distinct key and puts one merge per key into b.
 * Returns the number of merges. Cannot fail.
 */
size_t clx_rollup_merge_refs(clx_batch_t *b, clx_store_t *s, const clx_rollup_ref_t **refs, size_t n);

/* ---- upkeep ----------------------------------------------------------------------------------- */

/*
 * A thread that compacts the rollups family once merges_written has grown by a burst since
 * its last compaction (checked every few seconds). NULL when the thread cannot start (the
 * family then only compacts as RocksDB decides: queries stay correct, only slower).
 */
typedef struct clx_rollup_upkeep clx_rollup_upkeep_t;
clx_rollup_upkeep_t *clx_rollup_upkeep_start(clx_store_t *s);
/* Counts merges written (any thread; lock-free). NULL is a no-op. */
void clx_rollup_upkeep_note(clx_rollup_upkeep_t *u, size_t merges);
/* Stops and joins the thread. NULL is a no-op. */
void clx_rollup_upkeep_stop(clx_rollup_upkeep_t *u);

#endif
