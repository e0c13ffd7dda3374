/*
 * clx_store.h — costlynx's RocksDB store: one database, fixed column families.
 *
 * The only module that includes rocksdb/c.h. Column families:
 *   CLX_CF_EVENTS    key: workspace '\0' seq (8 bytes big-endian)  value: StoredEvent (protobuf)
 *   CLX_CF_DEDUP     key: workspace '\0' requestId                  value: clx_dedup_value
 *                    (tuned for point reads: whole-key bloom filters)
 *   CLX_CF_SETTINGS  key: "<kind>/<id...>" (see services/admin)     value: protobuf records
 *   CLX_CF_ROLLUPS   reserved for aggregates
 *   CLX_CF_OUTBOX    alert deliveries (keys and values: services/governance/clx_outbox.h)
 * "default" exists too (RocksDB requires it) and holds store metadata.
 *
 * All functions are safe to call from any thread once the store is open.
 */
#ifndef CLX_STORE_H
#define CLX_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum clx_cf {
    CLX_CF_EVENTS = 0,
    CLX_CF_DEDUP,
    CLX_CF_SETTINGS,
    CLX_CF_ROLLUPS,
    CLX_CF_OUTBOX,
    CLX_CF_COUNT_
} clx_cf_t;

typedef struct clx_store clx_store_t;
typedef struct clx_batch clx_batch_t;
typedef struct clx_iter clx_iter_t;

/*
 * Opens (creating when absent) the store in directory dir, with every column family above
 * and any others already present. On failure returns CLX_EIO and, when errmsg is not NULL,
 * sets *errmsg to a malloc'd description the caller frees.
 */
int clx_store_open(const char *dir, clx_store_t **out, char **errmsg);
/* Flushes and closes. NULL is a no-op. No other call may be running or follow. */
void clx_store_close(clx_store_t *s);

/*
 * Point read. CLX_OK with *val (malloc'd, caller frees with free()) and *vlen;
 * CLX_ENOTFOUND; CLX_EIO on a storage error.
 */
int clx_store_get(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, char **val, size_t *vlen);

/*
 * Batched point read of n keys in one column family. For each i, vals[i] is set to a
 * malloc'd value (caller frees) or NULL when absent, and vlens[i] to its length.
 * Returns CLX_OK or CLX_EIO (then no vals[i] is set).
 */
int clx_store_multi_get(clx_store_t *s, clx_cf_t cf, size_t n, const char *const *keys, const size_t *klens,
                        char **vals, size_t *vlens);

/* A write batch; applied atomically by clx_store_write. */
clx_batch_t *clx_batch_create(void);
void clx_batch_destroy(clx_batch_t *b);
void clx_batch_clear(clx_batch_t *b);
void clx_batch_put(clx_batch_t *b, clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, const void *val,
                   size_t vlen);
void clx_batch_delete(clx_batch_t *b, clx_store_t *s, clx_cf_t cf, const void *key, size_t klen);
/* Puts metadata entry name (see clx_store_meta_get) into b, so it commits with the rest. */
void clx_batch_meta_put(clx_batch_t *b, clx_store_t *s, const char *name, const void *val, size_t vlen);
/*
 * Merges a rollup delta into the rollups family: the stored record becomes the field-wise
 * combination (sums, first = min, last = max) — see clx_rollup_t. val is a packed
 * clx_rollup_t (CLX_ROLLUP_LEN bytes).
 */
void clx_batch_merge_rollup(clx_batch_t *b, clx_store_t *s, const void *key, size_t klen, const void *val,
                            size_t vlen);
/* Number of operations in the batch. */
size_t clx_batch_count(clx_batch_t *b);

/*
 * Applies b atomically. With sync, returns only after the WAL is on disk (fsync).
 * CLX_OK or CLX_EIO (nothing of b is applied).
 */
int clx_store_write(clx_store_t *s, clx_batch_t *b, int sync);

/* Convenience: one synced put / delete. CLX_OK or CLX_EIO. */
int clx_store_put(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, const void *val, size_t vlen);
int clx_store_delete(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen);

/*
 * Iterator over cf on a consistent snapshot, restricted to keys starting with prefix
 * (plen may be 0 for all keys). Positioning: seek (first key >= target), seek_for_prev
 * (last key <= target), first, last. key()/value() point into the iterator and are valid
 * until the next move.
 */
clx_iter_t *clx_iter_create(clx_store_t *s, clx_cf_t cf, const void *prefix, size_t plen);
void clx_iter_destroy(clx_iter_t *it);
void clx_iter_first(clx_iter_t *it);
void clx_iter_last(clx_iter_t *it);
void clx_iter_seek(clx_iter_t *it, const void *target, size_t tlen);
void clx_iter_seek_for_prev(clx_iter_t *it, const void *target, size_t tlen);
/* True while positioned on a key that starts with the prefix. */
int clx_iter_valid(clx_iter_t *it);
void clx_iter_next(clx_iter_t *it);
void clx_iter_prev(clx_iter_t *it);
const char *clx_iter_key(clx_iter_t *it, size_t *klen);
const char *clx_iter_value(clx_iter_t *it, size_t *vlen);
/* CLX_OK, or CLX_EIO when iteration stopped on a storage error. */
int clx_iter_status(clx_iter_t *it);

/* Flushes and compacts one column family (maintenance, benchmarks). CLX_OK or CLX_EIO. */
int clx_store_compact(clx_store_t *s, clx_cf_t cf);

/* Metadata in the default column family (e.g. "seq"). Same contract as get/put. */
int clx_store_meta_get(clx_store_t *s, const char *name, char **val, size_t *vlen);
int clx_store_meta_put(clx_store_t *s, const char *name, const void *val, size_t vlen);

/*
 * One rollup record: counters over the events that share a rollup key. Stored as 8 int64
 * little-endian values; merged by the store's merge operator, so concurrent groups and
 * restarts never lose an increment, and the rollup is written in the same batch as the
 * events it counts (rollups and stored costs always agree to the unit).
 */
typedef struct clx_rollup {
    int64_t events;
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cached_tokens;
    int64_t cache_write_tokens;
    int64_t cost_nanos;
    int64_t first_ms; /* min */
    int64_t last_ms;  /* max */
} clx_rollup_t;
#define CLX_ROLLUP_LEN 64

void clx_rollup_pack(const clx_rollup_t *r, unsigned char out[CLX_ROLLUP_LEN]);
/* CLX_OK, or CLX_ECORRUPT when len is not CLX_ROLLUP_LEN. */
int clx_rollup_unpack(const void *data, size_t len, clx_rollup_t *r);
/* a += b, field-wise (sums; first = min; last = max). */
void clx_rollup_add(clx_rollup_t *a, const clx_rollup_t *b);

/* Big-endian helpers for composing keys. */
static inline void clx_be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}
static inline uint64_t clx_be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
