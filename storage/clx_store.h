/*
 * clx_store.h — costlynx's RocksDB store: one database, fixed column families.
 *
 * The only module that includes rocksdb/c.h. Column families:
 *   CLX_CF_EVENTS    the stored events, in arrival order per workspace  (keys: clx_events.h)
 *   CLX_CF_DEDUP     (workspace, requestId) -> the stored event          (keys: clx_events.h)
 *                    (tuned for point reads: whole-key bloom filters)
 *   CLX_CF_SETTINGS  key: "<kind>/<id...>" (see services/admin)     value: protobuf records
 *   CLX_CF_ROLLUPS   usage counters per bucket and attribution (keys and records: clx_rollup.h)
 *   CLX_CF_OUTBOX    alert deliveries (keys and values: services/governance/clx_outbox.h)
 *   CLX_CF_DIMS      usage counters per end user, key and declared tag by day (clx_dims.h;
 *                    the rollups' records and merge operator)
 *   CLX_CF_EVTIME    the events by event time: (workspace, event time, seq), no value
 *                    (keys: clx_events.h)
 *   CLX_CF_HISTORY   the earlier versions of corrected events      (keys: clx_events.h)
 *   CLX_CF_CORRLOG   one record per correction under its own seq: the exporters' outbox
 *                    of corrections (keys: clx_events.h)
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
    CLX_CF_DIMS,
    CLX_CF_EVTIME,
    CLX_CF_HISTORY,
    CLX_CF_CORRLOG,
    CLX_CF_COUNT_
} clx_cf_t;

typedef struct clx_store clx_store_t;
typedef struct clx_batch clx_batch_t;
typedef struct clx_iter clx_iter_t;

/*
 * Disk space. RocksDB as Debian builds it (7.8.3, assertions on) aborts the process when a
 * write-ahead-log append fails with ENOSPC — during a write, at open and at close — while a
 * flush or compaction that runs out of space only sets a background error that clears itself
 * once space returns (docs/deploy.md, "Full disk", has the measurements). So the store never
 * lets a WAL append meet a full disk: every write first checks the free space of the data
 * folder's filesystem (statvfs) and is refused with CLX_ENOSPC, having written nothing, when
 * it would leave less than reserve_bytes (+ 1 MiB of WAL framing). The reserve also keeps
 * room for the flushes and compactions already under way. Writes resume by themselves as
 * soon as a later check finds the space.
 *
 * At open, replaying the WAL writes about as much as the WAL holds. When the free space
 * cannot hold that plus the reserve, the store opens READ-ONLY instead of aborting: reads
 * work (the WAL is replayed in memory), every write answers CLX_ENOSPC, and a watcher thread
 * reopens the database read-write once the space is there (calls wait on a lock meanwhile).
 * A store that does not exist yet is never created on a disk below the reserve.
 */
typedef struct clx_store_config {
    uint64_t reserve_bytes; /* free space every write must leave on the data folder's filesystem */
    unsigned watch_ms;      /* how often a read-only store looks for space again (0: 1000) */
    int read_only;          /* open read-only and stay so (to inspect a copy); never creates */
    /* memory all memtables may hold together (RocksDB's db_write_buffer_size): past it the
     * oldest is flushed, which bounds the process's peak RSS under load (40 MiB: ~120 MiB under
     * the REST benchmark instead of ~155-180, docs/BENCHMARKS.md); 0: no such bound, each family
     * has its own buffers (events 64 MiB x up to 3). Not the default: the earlier flushes write
     * tables that the disk reserve's check does not foresee (test_disk_full) */
    uint64_t memtable_budget;
} clx_store_config_t;

/*
 * Opens (creating when absent) the store in directory dir, with every column family above
 * and any others already present; cfg may be NULL (no reserve beyond the WAL framing). On
 * failure returns CLX_EIO, or CLX_ENOSPC when dir holds no store yet and its disk is below
 * the reserve, and, when errmsg is not NULL, sets *errmsg to a malloc'd description the
 * caller frees. Opening read-only for lack of space is a success (see clx_store_space).
 */
int clx_store_open_with(const char *dir, const clx_store_config_t *cfg, clx_store_t **out, char **errmsg);
/* clx_store_open_with(dir, NULL, out, errmsg). */
int clx_store_open(const char *dir, clx_store_t **out, char **errmsg);
/*
 * Stops the read-only watcher, flushes the memtables when the disk can take them (else the
 * synced WAL keeps them for the next open) and closes. NULL is a no-op. No other call may be
 * running or follow.
 */
void clx_store_close(clx_store_t *s);

/* The store's disk state, measured now. */
typedef struct clx_store_space {
    int writable;           /* writes are accepted */
    int read_only;          /* opened read-only because the disk was full at start */
    uint64_t free_bytes;    /* available to this process on the data folder's filesystem */
    uint64_t reserve_bytes; /* the configured reserve */
    uint64_t need_bytes;    /* free space at which writes resume */
} clx_store_space_t;

/* Measures the free space (one statvfs) and fills *out. Cannot fail. */
void clx_store_space(clx_store_t *s, clx_store_space_t *out);
/*
 * Writes why the store refuses writes ("disk full: ...", one line naming the free space,
 * the reserve and what happens next) into buf (len bytes, NUL-terminated); "" when
 * writable. Returns the length.
 */
size_t clx_store_space_reason(const clx_store_space_t *sp, char *buf, size_t len);

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
/* The same merge into family cf, which must be CLX_CF_ROLLUPS or CLX_CF_DIMS (same records). */
void clx_batch_merge_counters(clx_batch_t *b, clx_store_t *s, clx_cf_t cf, const void *key, size_t klen,
                              const void *val, size_t vlen);
/* Number of operations in the batch. */
size_t clx_batch_count(clx_batch_t *b);

/*
 * Applies b atomically. With sync, returns only after the WAL is on disk (fsync).
 * CLX_OK; CLX_ENOSPC when the disk is below its reserve or the store is read-only, or
 * CLX_EIO on a storage error — in both cases nothing of b is applied.
 */
int clx_store_write(clx_store_t *s, clx_batch_t *b, int sync);

/* Convenience: one synced put / delete. CLX_OK, CLX_ENOSPC or CLX_EIO, as clx_store_write. */
int clx_store_put(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, const void *val, size_t vlen);
int clx_store_delete(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen);

/*
 * Iterator over cf on a consistent snapshot, restricted to keys starting with prefix
 * (plen may be 0 for all keys). Positioning: seek (first key >= target), seek_for_prev
 * (last key <= target), first, last. key()/value() point into the iterator and are valid
 * until the next move. An iterator holds the store's shared lock until it is destroyed:
 * destroy it on the thread that created it, and soon.
 */
clx_iter_t *clx_iter_create(clx_store_t *s, clx_cf_t cf, const void *prefix, size_t plen);
void clx_iter_destroy(clx_iter_t *it);
/*
 * clx_iter_create on an explicit snapshot: clx_iter_meta_get then reads metadata as of the
 * same instant (e.g. the writer's "seq" that matches the rollups the iterator sees).
 */
clx_iter_t *clx_iter_create_pinned(clx_store_t *s, clx_cf_t cf, const void *prefix, size_t plen);
/* Metadata on a pinned iterator's snapshot: as clx_store_meta_get. */
int clx_iter_meta_get(clx_iter_t *it, const char *name, char **val, size_t *vlen);
/*
 * Another iterator (over cf, prefix as clx_iter_create) on the snapshot of the pinned iterator
 * `pinned`, so several families are read as of one instant. It borrows pinned's snapshot and
 * lock: destroy it before pinned, on the same thread. Cannot fail.
 */
clx_iter_t *clx_iter_create_beside(clx_iter_t *pinned, clx_cf_t cf, const void *prefix, size_t plen);
/* A point read of cf on the iterator's snapshot (a pinned one's): as clx_store_get. */
int clx_iter_get(clx_iter_t *it, clx_cf_t cf, const void *key, size_t klen, char **val, size_t *vlen);
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

/*
 * Flushes and compacts one column family (maintenance, benchmarks). CLX_OK, CLX_EIO, or
 * CLX_ENOSPC when the disk is below its reserve (nothing is started: compaction needs room).
 */
int clx_store_compact(clx_store_t *s, clx_cf_t cf);
/* The bytes of the family's table files now (RocksDB's total-sst-files-size; benchmarks). */
uint64_t clx_store_sst_bytes(clx_store_t *s, clx_cf_t cf);
/* The family's RocksDB name ("events", "dedup"...), a static string. */
const char *clx_store_cf_name(clx_cf_t cf);

/*
 * Writes a consistent online copy of the store into dir, which must not exist (RocksDB's
 * checkpoint: dir".tmp" meanwhile, renamed when complete). Tables are hard-linked when dir
 * is on the store's filesystem, else copied; the memtables are flushed first when the disk
 * keeps its reserve, else the write-ahead log is copied too. Every write acknowledged before
 * the call is in the copy; writes may go on meanwhile. CLX_OK, or CLX_EIO with *errmsg
 * (malloc'd) when errmsg is not NULL.
 */
int clx_store_checkpoint(clx_store_t *s, const char *dir, char **errmsg);
/* Writes n for people ("512 bytes", "12.5 MiB") into buf (32 bytes are enough). */
void clx_store_format_bytes(uint64_t n, char *buf, size_t len);
/* The store's folder, as opened. */
const char *clx_store_dir(const clx_store_t *s);
/* Bytes of every file in the store's folder: what a copy on another filesystem needs. */
uint64_t clx_store_disk_bytes(clx_store_t *s);

/* Metadata in the default column family (e.g. "seq"). Same contract as get/put. */
int clx_store_meta_get(clx_store_t *s, const char *name, char **val, size_t *vlen);
int clx_store_meta_put(clx_store_t *s, const char *name, const void *val, size_t vlen);
/* Removes a metadata entry (synced): CLX_OK (also when absent), CLX_ENOSPC or CLX_EIO. */
int clx_store_meta_delete(clx_store_t *s, const char *name);

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
