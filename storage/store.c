/*
 * store.c — the RocksDB store: opening with every column family, the free-space guard and
 * read-only fallback, point reads, batches, prefix-bounded iterators and metadata.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "clx_store.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_rollup.h"

#define STORE_WRITE_BUFFER (64u << 20)
#define STORE_SMALL_WRITE_BUFFER (16u << 20)
#define STORE_BLOCK_CACHE (64u << 20)
#define STORE_MAX_TOTAL_WAL (512ull << 20)
#define STORE_DEDUP_WRITE_BUFFER (16u << 20)
/* room a WAL append takes beyond the batch itself: record headers, 32 KiB block padding, and
 * the new file RocksDB starts when a memtable switches */
#define STORE_WAL_SLACK (1ull << 20)
#define STORE_WATCH_MS 1000

static const char *const cf_names[CLX_CF_COUNT_] = {
    [CLX_CF_EVENTS] = "events",   [CLX_CF_DEDUP] = "dedup",     [CLX_CF_SETTINGS] = "settings",
    [CLX_CF_ROLLUPS] = "rollups", [CLX_CF_OUTBOX] = "outbox",   [CLX_CF_DIMS] = "dims",
    [CLX_CF_EVTIME] = "evtime",   [CLX_CF_HISTORY] = "history", [CLX_CF_CORRLOG] = "corrlog",
};

struct clx_store {
    char *dir;
    uint64_t reserve;
    unsigned watch_ms;
    uint64_t memtable_budget; /* db_write_buffer_size */
    /*
     * Shared by every call that touches the database or a family handle (iterators hold it
     * for their lifetime); exclusive only while the watcher reopens a read-only store
     * read-write. glibc's default rwlock prefers readers, so a thread that holds it shared
     * may take it shared again.
     */
    pthread_rwlock_t lock;
    atomic_int read_only; /* the database is open read-only: every write is CLX_ENOSPC */
    atomic_int low;       /* the last look found the disk below the reserve (for logging once) */

    rocksdb_t *db;
    rocksdb_column_family_handle_t **handles; /* every family opened, ours and others */
    size_t nhandles;
    rocksdb_column_family_handle_t *cf[CLX_CF_COUNT_];
    rocksdb_column_family_handle_t *meta; /* "default" */
    rocksdb_writeoptions_t *wsync;
    rocksdb_writeoptions_t *wnosync;
    rocksdb_readoptions_t *ropts;

    pthread_t watcher; /* runs while the store is read-only */
    int watcher_started;
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    int watch_stop;
};

struct clx_batch {
    rocksdb_writebatch_t *wb;
};

struct clx_iter {
    clx_store_t *store; /* its lock is held shared while the iterator lives */
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ropts;
    char *prefix; /* plen bytes */
    size_t plen;
    char *upper; /* smallest key above every key with the prefix; NULL when there is none */
    size_t ulen;
    const rocksdb_snapshot_t *snap; /* clx_iter_create_pinned's, else NULL */
    int borrowed;                   /* clx_iter_create_beside's: snap and the lock are another's */
};

/* Logs a RocksDB error under the "store" tag, frees it and returns CLX_EIO. */
static int store_fail(const char *what, char *err)
{
    clx_log(CLX_LOG_ERROR, "store", "%s: %s", what, err != NULL ? err : "unknown error");
    rocksdb_free(err);
    return CLX_EIO;
}

/* Options shared by every family of ours; the caller sets what differs. Cannot fail. */
static rocksdb_options_t *cf_options(rocksdb_cache_t *cache, int bloom, size_t write_buffer)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();

    rocksdb_block_based_options_set_block_cache(t, cache);
    rocksdb_block_based_options_set_format_version(t, 5);
    if (bloom) {
        /* the table options take ownership of the policy */
        rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom(10));
        rocksdb_block_based_options_set_whole_key_filtering(t, 1);
    }
    rocksdb_options_set_block_based_table_factory(o, t); /* copies t */
    rocksdb_block_based_options_destroy(t);

    rocksdb_options_set_write_buffer_size(o, write_buffer);
    rocksdb_options_set_max_write_buffer_number(o, 3);
    rocksdb_options_set_compression(o, rocksdb_lz4_compression);
    rocksdb_options_set_bottommost_compression(o, rocksdb_zstd_compression);
    rocksdb_options_set_target_file_size_base(o, 64ull << 20);
    rocksdb_options_set_max_bytes_for_level_base(o, 256ull << 20);
    return o;
}

/* DB-wide options (also used for "default"). Cannot fail. */
/* ---- the rollups family's merge operator: RocksDB's callbacks around clx_rollup_merge ---------- */

/* A malformed value fails the merge (RocksDB reports corruption). */
/* state: NULL for the rollups family (version-2 records), DIMS_STATE for dims (compact). */
static char dims_state;
#define DIMS_STATE ((void *)&dims_state)

static char *rollup_combine(void *state, const char *existing, size_t elen, const char *const *ops,
                            const size_t *oplens, int n, unsigned char *success, size_t *outlen)
{
    char *out = clx_rollup_merge_as(existing, elen, ops, oplens, n, state == DIMS_STATE, outlen);
    *success = out != NULL;
    return out;
}

static char *rollup_full_merge(void *state, const char *key, size_t klen, const char *existing, size_t elen,
                               const char *const *ops, const size_t *oplens, int n, unsigned char *success,
                               size_t *outlen)
{
    return rollup_combine(state, existing, elen, ops, oplens, n, success, outlen);
}

static char *rollup_partial_merge(void *state, const char *key, size_t klen, const char *const *ops,
                                  const size_t *oplens, int n, unsigned char *success, size_t *outlen)
{
    return rollup_combine(state, NULL, 0, ops, oplens, n, success, outlen);
}

static void rollup_delete_value(void *state, const char *value, size_t len)
{
    free((void *)value);
}

/* RocksDB calls the destructor unconditionally: ours has no state to free. */
static void rollup_destroy(void *state)
{
    (void)state;
}

/* The name is kept although records are now version 2: RocksDB records it in the OPTIONS
 * file and table properties of existing stores, and the operator reads both versions. */
static const char *rollup_name(void *state)
{
    return state == DIMS_STATE ? CLX_DIMS_MERGE_NAME : CLX_ROLLUP_MERGE_NAME;
}

static rocksdb_options_t *db_options(rocksdb_cache_t *cache, uint64_t memtable_budget)
{
    rocksdb_options_t *o = cf_options(cache, 0, STORE_SMALL_WRITE_BUFFER);

    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_increase_parallelism(o, 2);
    rocksdb_options_set_max_background_jobs(o, 2);
    rocksdb_options_set_manual_wal_flush(o, 0);
    /* one writer thread: concurrent memtable writes would gain nothing */
    rocksdb_options_set_allow_concurrent_memtable_write(o, 0);
    rocksdb_options_set_max_total_wal_size(o, STORE_MAX_TOTAL_WAL);
    rocksdb_options_set_bytes_per_sync(o, 1u << 20);
    rocksdb_options_set_keep_log_file_num(o, 5);
    rocksdb_options_set_max_log_file_size(o, 16u << 20);
    /* all memtables together: past the budget the oldest is flushed (peak RSS, issue 15) */
    if (memtable_budget != 0)
        rocksdb_options_set_db_write_buffer_size(o, (size_t)memtable_budget);
    return o;
}

/* Adds name to the list unless present. Cannot fail (aborts on OOM). */
static void add_name(char ***names, size_t *n, size_t *cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*names)[i], name) == 0)
            return;
    if (*n == *cap) {
        *cap = *cap != 0 ? *cap * 2 : 8;
        *names = clx_xrealloc(*names, *cap * sizeof(**names));
    }
    (*names)[(*n)++] = clx_xstrdup(name);
}

/* ---- disk space -------------------------------------------------------------------------- */

/* Bytes this process may still write on dir's filesystem; UINT64_MAX when statvfs fails
 * (then RocksDB reports whatever is wrong itself). */
static uint64_t free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

/* Is name a write-ahead log ("<number>.log")? */
static int is_wal(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".log") == 0 && strspn(name, "0123456789") == n - 4;
}

/* Is name a manifest ("MANIFEST-<number>")? */
static int is_manifest(const char *name)
{
    return strncmp(name, "MANIFEST-", 9) == 0;
}

/* Total size of the files in dir whose names match. */
static uint64_t files_bytes(const char *dir, int (*match)(const char *name))
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t dlen = strlen(dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (!match(e->d_name))
            continue;
        char *path = clx_xmalloc(dlen + n + 2);
        snprintf(path, dlen + n + 2, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        free(path);
    }
    closedir(d);
    return total;
}

static uint64_t open_need(const char *dir);
static uint64_t resume_margin(const clx_store_t *s);

void clx_store_format_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(buf, len, "%llu bytes", (unsigned long long)n);
        return;
    }
    double v = (double)n; /* for people to read only */
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

/*
 * Records whether the disk had room at the last look and logs each change once: the first
 * refusal, and the first write after space came back.
 */
static void note_space(clx_store_t *s, int low, uint64_t avail)
{
    if (atomic_exchange(&s->low, low) == low)
        return;
    char fr[32], rs[32];
    clx_store_format_bytes(avail, fr, sizeof(fr));
    clx_store_format_bytes(s->reserve, rs, sizeof(rs));
    if (low) {
        char nd[32];
        clx_store_format_bytes(s->reserve + STORE_WAL_SLACK + resume_margin(s), nd, sizeof(nd));
        clx_log(CLX_LOG_ERROR, "store",
                "disk full: %s free in %s, too little to keep the %s reserve (--disk-reserve): ingest and settings "
                "writes answer 503 storage_unavailable until %s are free; reads go on",
                fr, s->dir, rs, nd);
    } else
        clx_log(CLX_LOG_INFO, "store", "disk space is back: %s free in %s (reserve %s): writes resume", fr, s->dir, rs);
}

/* Once writes were refused, they resume only with this much more than the reserve free, so
 * that the store does not flip between refusing and accepting around the boundary. */
static uint64_t resume_margin(const clx_store_t *s)
{
    return s->reserve / 16 > (4ull << 20) ? s->reserve / 16 : (4ull << 20);
}

/* Free space a write of `bytes` needs now (the reserve, the WAL framing, the margin when low). */
static uint64_t space_need(clx_store_t *s, uint64_t bytes)
{
    return s->reserve + STORE_WAL_SLACK + bytes + (atomic_load(&s->low) ? resume_margin(s) : 0);
}

/*
 * The guard in front of every write of `bytes` bytes: CLX_OK when the disk keeps the reserve
 * after it, else CLX_ENOSPC (and nothing may be written). Caller holds the lock shared.
 */
static int space_check(clx_store_t *s, uint64_t bytes)
{
    if (atomic_load(&s->read_only))
        return CLX_ENOSPC;
    uint64_t avail = free_bytes(s->dir);
    int low = avail != UINT64_MAX && avail < space_need(s, bytes);
    note_space(s, low, avail);
    return low ? CLX_ENOSPC : CLX_OK;
}

void clx_store_space(clx_store_t *s, clx_store_space_t *out)
{
    memset(out, 0, sizeof(*out));
    out->read_only = atomic_load(&s->read_only);
    out->reserve_bytes = s->reserve;
    out->free_bytes = free_bytes(s->dir);
    if (out->read_only) {
        out->need_bytes = open_need(s->dir) + s->reserve;
        return;
    }
    out->need_bytes = space_need(s, 0);
    out->writable = out->free_bytes == UINT64_MAX || out->free_bytes >= out->need_bytes;
    if (out->free_bytes != UINT64_MAX)
        note_space(s, !out->writable, out->free_bytes);
}

size_t clx_store_space_reason(const clx_store_space_t *sp, char *buf, size_t len)
{
    char fr[32], rs[32], nd[32];
    if (len == 0)
        return 0;
    if (sp->writable) {
        buf[0] = '\0';
        return 0;
    }
    clx_store_format_bytes(sp->free_bytes, fr, sizeof(fr));
    clx_store_format_bytes(sp->reserve_bytes, rs, sizeof(rs));
    clx_store_format_bytes(sp->need_bytes, nd, sizeof(nd));
    int n;
    if (sp->read_only)
        n = snprintf(buf, len,
                     "disk full: the store was opened read-only (%s free); reads are served, ingest and settings "
                     "writes answer 503 until %s are free (the %s reserve included), then it reopens read-write by "
                     "itself",
                     fr, nd, rs);
    else
        n = snprintf(buf, len,
                     "disk full: %s free on the data folder's disk, too little to keep the %s reserve; reads are "
                     "served, ingest and settings writes answer 503 until %s are free, then resume by themselves",
                     fr, rs, nd);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* ---- opening and closing ------------------------------------------------------------------- */

/*
 * Opens s->dir (read-only or read-write) with every existing column family plus ours into
 * s->db / handles / cf / meta. On failure leaves s->db NULL, returns CLX_EIO and hands the
 * RocksDB message to *errmsg when asked. Caller holds the lock exclusively (or owns s alone).
 */
static int db_open(clx_store_t *s, int read_only, char **errmsg)
{
    int rc = CLX_EIO;
    char *err = NULL;
    char **existing = NULL;
    size_t nexisting = 0;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    rocksdb_options_t **opts = NULL;
    rocksdb_options_t *dbopts = NULL, *other = NULL;
    rocksdb_options_t *ours[CLX_CF_COUNT_] = {0};
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(STORE_BLOCK_CACHE);
    const char *dir = s->dir;

    dbopts = db_options(cache, s->memtable_budget);
    /*
     * Not in the C API: the WAL replay then writes no tables unless a recovered memtable
     * fills up, so opening on a nearly full disk writes almost nothing (see open_need).
     */
    rocksdb_options_t *tuned = rocksdb_options_create();
    rocksdb_get_options_from_string(dbopts, "avoid_flush_during_recovery=true", tuned, &err);
    if (err != NULL) {
        store_fail("avoid_flush_during_recovery", err);
        err = NULL;
        rocksdb_options_destroy(tuned);
    } else {
        rocksdb_options_destroy(dbopts);
        dbopts = tuned;
    }
    other = rocksdb_options_create();
    ours[CLX_CF_EVENTS] = cf_options(cache, 0, STORE_WRITE_BUFFER);
    ours[CLX_CF_DEDUP] = cf_options(cache, 1, STORE_DEDUP_WRITE_BUFFER);
    /*
     * dedup keys are random (client request ids) and only ever point-read (a MultiGet per
     * group, nearly all misses). A whole-key bloom filter on the memtable answers most
     * misses without walking the skiplist. (A hash memtable made inserts O(1) on the
     * writer thread but moved an O(n log n) sort into every flush: measured end to end on
     * 2 cores, the plain skiplist gave ~15% more durable events/s over gRPC and REST.)
     */
    rocksdb_options_set_memtable_whole_key_filtering(ours[CLX_CF_DEDUP], 1);
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(ours[CLX_CF_DEDUP], 0.1);
    ours[CLX_CF_SETTINGS] = cf_options(cache, 1, STORE_SMALL_WRITE_BUFFER);
    ours[CLX_CF_ROLLUPS] = cf_options(cache, 1, STORE_SMALL_WRITE_BUFFER);
    ours[CLX_CF_OUTBOX] = cf_options(cache, 1, STORE_SMALL_WRITE_BUFFER);
    ours[CLX_CF_HISTORY] = cf_options(cache, 0, STORE_SMALL_WRITE_BUFFER); /* prefix scans per event */
    ours[CLX_CF_CORRLOG] = cf_options(cache, 0, STORE_SMALL_WRITE_BUFFER); /* scanned in seq order */
    /* dims: many distinct keys per group (one per end user), read by range only */
    ours[CLX_CF_DIMS] = cf_options(cache, 0, STORE_WRITE_BUFFER);
    /* a top-N query reads a few hundred thousand of its records at once: LZ4 at every level,
     * whose decompression costs a fraction of zstd's, on the query's path */
    rocksdb_options_set_bottommost_compression(ours[CLX_CF_DIMS], rocksdb_lz4_compression);
    ours[CLX_CF_EVTIME] = cf_options(cache, 0, STORE_SMALL_WRITE_BUFFER);
    /* one operator object per family: RocksDB owns (and destroys) what it is given */
    rocksdb_options_set_merge_operator(
        ours[CLX_CF_ROLLUPS], rocksdb_mergeoperator_create(NULL, rollup_destroy, rollup_full_merge,
                                                           rollup_partial_merge, rollup_delete_value, rollup_name));
    rocksdb_options_set_merge_operator(
        ours[CLX_CF_DIMS], rocksdb_mergeoperator_create(DIMS_STATE, rollup_destroy, rollup_full_merge,
                                                        rollup_partial_merge, rollup_delete_value, rollup_name));

    /* a fresh directory has no CURRENT file and nothing to list */
    size_t dlen = strlen(dir);
    char *current = clx_xmalloc(dlen + sizeof("/CURRENT"));
    memcpy(current, dir, dlen);
    memcpy(current + dlen, "/CURRENT", sizeof("/CURRENT"));
    int fresh = access(current, F_OK) != 0;
    free(current);
    if (!fresh) {
        err = NULL;
        existing = rocksdb_list_column_families(dbopts, dir, &nexisting, &err);
        if (err != NULL) {
            if (errmsg != NULL)
                *errmsg = clx_xstrdup(err);
            rc = store_fail("list column families", err);
            existing = NULL;
            nexisting = 0;
            goto done;
        }
    }
    add_name(&names, &nnames, &cap, "default");
    for (int c = 0; c < CLX_CF_COUNT_; c++)
        add_name(&names, &nnames, &cap, cf_names[c]);
    for (size_t i = 0; i < nexisting; i++)
        add_name(&names, &nnames, &cap, existing[i]);

    opts = clx_xcalloc(nnames, sizeof(*opts));
    opts[0] = dbopts;
    for (size_t i = 1; i < nnames; i++)
        opts[i] = i <= CLX_CF_COUNT_ ? ours[i - 1] : other;
    rocksdb_column_family_handle_t **handles = clx_xcalloc(nnames, sizeof(*handles));

    err = NULL;
    rocksdb_t *db;
    if (read_only)
        /* a store written by an older costlynx may lack one of our families: read-only
         * cannot create it, and that is reported as an error like any other */
        db = rocksdb_open_for_read_only_column_families(dbopts, dir, (int)nnames, (const char *const *)names,
                                                        (const rocksdb_options_t *const *)opts, handles, 0, &err);
    else
        db = rocksdb_open_column_families(dbopts, dir, (int)nnames, (const char *const *)names,
                                          (const rocksdb_options_t *const *)opts, handles, &err);
    if (err != NULL) {
        if (errmsg != NULL)
            *errmsg = clx_xstrdup(err);
        rc = store_fail(read_only ? "open read-only" : "open", err);
        free(handles);
        goto done;
    }
    s->db = db;
    s->handles = handles;
    s->nhandles = nnames;
    s->meta = handles[0];
    for (int c = 0; c < CLX_CF_COUNT_; c++)
        s->cf[c] = handles[c + 1];
    atomic_store(&s->read_only, read_only);
    rc = CLX_OK;

done:
    if (existing != NULL)
        rocksdb_list_column_families_destroy(existing, nexisting);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    free(opts);
    for (int c = 0; c < CLX_CF_COUNT_; c++)
        rocksdb_options_destroy(ours[c]);
    rocksdb_options_destroy(other);
    rocksdb_options_destroy(dbopts);
    rocksdb_cache_destroy(cache); /* the table factories keep their own reference */
    return rc;
}

/* Bytes held by the memtables of every family: what a flush writes, at most. */
static uint64_t memtable_bytes(clx_store_t *s)
{
    uint64_t total = 0, v;
    for (size_t i = 0; i < s->nhandles; i++)
        if (rocksdb_property_int_cf(s->db, s->handles[i], "rocksdb.cur-size-all-mem-tables", &v) == 0)
            total += v;
    return total;
}

/*
 * Closes s->db. A read-write database is synced and, when the disk can take it, flushed
 * first (the next open then replays no WAL); on a disk without room for the memtables the
 * flush is skipped — the synced WAL holds everything — because a full disk during it could
 * abort the process. Failures are logged and closing goes on. Caller holds the lock
 * exclusively (or owns s alone).
 */
static void db_close(clx_store_t *s)
{
    char *err = NULL;

    if (s->db == NULL)
        return;
    if (!atomic_load(&s->read_only)) {
        rocksdb_flush_wal(s->db, 1, &err);
        if (err != NULL)
            store_fail("flush wal at close", err);
        uint64_t mem = memtable_bytes(s), avail = free_bytes(s->dir);
        if (avail != UINT64_MAX && avail < mem + STORE_WAL_SLACK + (s->reserve / 2)) {
            char fr[32], mb[32];
            clx_store_format_bytes(avail, fr, sizeof(fr));
            clx_store_format_bytes(mem, mb, sizeof(mb));
            clx_log(CLX_LOG_WARN, "store",
                    "disk nearly full (%s free): the memtables (%s) are not flushed at close; the synced "
                    "write-ahead log keeps them for the next start",
                    fr, mb);
        } else {
            rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
            rocksdb_flushoptions_set_wait(fo, 1);
            for (size_t i = 0; i < s->nhandles; i++) {
                err = NULL;
                rocksdb_flush_cf(s->db, fo, s->handles[i], &err);
                if (err != NULL)
                    store_fail("flush at close", err);
            }
            rocksdb_flushoptions_destroy(fo);
        }
    }
    for (size_t i = 0; i < s->nhandles; i++)
        rocksdb_column_family_handle_destroy(s->handles[i]);
    rocksdb_close(s->db);
    free(s->handles);
    s->handles = NULL;
    s->nhandles = 0;
    s->db = NULL;
}

/*
 * Free space opening dir read-write may write into: a new MANIFEST (at most the current
 * one), an OPTIONS file and a new WAL (in the slack), and the WAL replay. The store opens
 * with avoid_flush_during_recovery, so the replay writes tables only when a recovered
 * memtable fills up — impossible while the WAL is smaller than the smallest write buffer;
 * beyond that, count the whole WAL.
 */
static uint64_t open_need(const char *dir)
{
    uint64_t wal = files_bytes(dir, is_wal);
    return STORE_WAL_SLACK + files_bytes(dir, is_manifest) + (wal > STORE_SMALL_WRITE_BUFFER ? wal : 0);
}

/*
 * Reopens a read-only store read-write. CLX_OK; otherwise the read-only database is opened
 * again (reads go on) and the error returned. Takes the lock exclusively.
 */
static int upgrade(clx_store_t *s)
{
    char *err = NULL;
    pthread_rwlock_wrlock(&s->lock);
    db_close(s);
    int rc = db_open(s, 0, &err);
    if (rc != CLX_OK) {
        clx_log(CLX_LOG_ERROR, "store", "cannot reopen %s read-write: %s; staying read-only", s->dir,
                err != NULL ? err : "unknown error");
        free(err);
        err = NULL;
        if (db_open(s, 1, &err) != CLX_OK) {
            /* nothing is open any more and nothing can be served: let the supervisor restart us
             * (every acknowledged write is in the synced WAL) */
            clx_log(CLX_LOG_ERROR, "store", "cannot reopen %s read-only either: %s; exiting", s->dir,
                    err != NULL ? err : "unknown error");
            _exit(70);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* The watcher: while the store is read-only, looks for space and reopens read-write. */
static void *watch_main(void *arg)
{
    clx_store_t *s = arg;
    pthread_setname_np(pthread_self(), "clx-space");
    pthread_mutex_lock(&s->watch_mu);
    while (!s->watch_stop && atomic_load(&s->read_only)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->watch_ms / 1000;
        until.tv_nsec += (long)(s->watch_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &until);
        if (s->watch_stop)
            break;
        /* reopen only when writes can go on too: a read-write store below the reserve would
         * refuse them anyway, and staying read-only keeps the open itself away from the edge */
        uint64_t avail = free_bytes(s->dir), need = open_need(s->dir) + s->reserve;
        if (avail != UINT64_MAX && avail < need)
            continue;
        pthread_mutex_unlock(&s->watch_mu);
        if (upgrade(s) == CLX_OK) {
            char fr[32];
            clx_store_format_bytes(avail, fr, sizeof(fr));
            clx_log(CLX_LOG_INFO, "store", "disk space is back (%s free): %s reopened read-write; writes resume", fr,
                    s->dir);
            atomic_store(&s->low, 0);
        }
        pthread_mutex_lock(&s->watch_mu);
    }
    pthread_mutex_unlock(&s->watch_mu);
    return NULL;
}

int clx_store_open(const char *dir, clx_store_t **out, char **errmsg)
{
    return clx_store_open_with(dir, NULL, out, errmsg);
}

/*
 * Decides read-write or read-only from the free space, opens, and starts the watcher when
 * read-only. On failure frees everything, returns CLX_EIO or CLX_ENOSPC and hands a message
 * to *errmsg when asked.
 */
int clx_store_open_with(const char *dir, const clx_store_config_t *cfg, clx_store_t **out, char **errmsg)
{
    int rc;
    clx_store_t *s = clx_xcalloc(1, sizeof(*s));

    if (errmsg != NULL)
        *errmsg = NULL;
    s->dir = clx_xstrdup(dir);
    s->reserve = cfg != NULL ? cfg->reserve_bytes : 0;
    s->watch_ms = cfg != NULL && cfg->watch_ms != 0 ? cfg->watch_ms : STORE_WATCH_MS;
    s->memtable_budget = cfg != NULL ? cfg->memtable_budget : 0;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_cond_init(&s->watch_cv, NULL);
    atomic_init(&s->read_only, 0);
    atomic_init(&s->low, 0);
    s->wsync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wsync, 1);
    s->wnosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wnosync, 0);
    s->ropts = rocksdb_readoptions_create();

    size_t dlen = strlen(dir);
    char *current = clx_xmalloc(dlen + sizeof("/CURRENT"));
    snprintf(current, dlen + sizeof("/CURRENT"), "%s/CURRENT", dir);
    int fresh = access(current, F_OK) != 0;
    free(current);
    if (fresh && cfg != NULL && cfg->read_only) {
        if (errmsg != NULL) {
            char msg[300];
            snprintf(msg, sizeof(msg), "%s holds no store (no CURRENT file)", dir);
            *errmsg = clx_xstrdup(msg);
        }
        rc = CLX_EIO;
        goto fail;
    }
    if (cfg != NULL && cfg->read_only) {
        rc = db_open(s, 1, errmsg);
        if (rc != CLX_OK)
            goto fail;
        *out = s;
        return CLX_OK;
    }
    uint64_t avail = free_bytes(dir);
    uint64_t need = fresh ? s->reserve + STORE_WAL_SLACK : open_need(dir);
    int read_only = avail != UINT64_MAX && avail < need;
    char fr[32], nd[32], rs[32];
    clx_store_format_bytes(avail, fr, sizeof(fr));
    clx_store_format_bytes(need, nd, sizeof(nd));
    clx_store_format_bytes(s->reserve, rs, sizeof(rs));
    if (read_only && fresh) {
        if (errmsg != NULL) {
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "disk full: %s free, a new store needs at least %s (the %s reserve, "
                     "--disk-reserve); free some space or lower the reserve",
                     fr, nd, rs);
            *errmsg = clx_xstrdup(msg);
        }
        rc = CLX_ENOSPC;
        goto fail;
    }
    if ((rc = db_open(s, read_only, errmsg)) != CLX_OK)
        goto fail;
    if (read_only) {
        atomic_store(&s->low, 1);
        clx_store_format_bytes(need + s->reserve, nd, sizeof(nd));
        clx_log(CLX_LOG_ERROR, "store",
                "disk full: %s free in %s, too little to open the store read-write safely: it is open READ-ONLY — "
                "reads are served, ingest and settings writes answer 503 storage_unavailable; it reopens "
                "read-write by itself once %s are free (the %s reserve included)",
                fr, dir, nd, rs);
        s->watcher_started = pthread_create(&s->watcher, NULL, watch_main, s) == 0;
    }
    *out = s;
    return CLX_OK;

fail:
    clx_store_close(s);
    return rc;
}

/* Stops the watcher, closes the database (see db_close), frees. NULL is a no-op. */
void clx_store_close(clx_store_t *s)
{
    if (s == NULL)
        return;
    if (s->watcher_started) {
        pthread_mutex_lock(&s->watch_mu);
        s->watch_stop = 1;
        pthread_cond_broadcast(&s->watch_cv);
        pthread_mutex_unlock(&s->watch_mu);
        pthread_join(s->watcher, NULL);
    }
    db_close(s);
    if (s->wsync != NULL)
        rocksdb_writeoptions_destroy(s->wsync);
    if (s->wnosync != NULL)
        rocksdb_writeoptions_destroy(s->wnosync);
    if (s->ropts != NULL)
        rocksdb_readoptions_destroy(s->ropts);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_cond_destroy(&s->watch_cv);
    free(s->dir);
    free(s);
}

/* Family index CLX_CF_COUNT_ stands for "default" (metadata). */
#define CF_META CLX_CF_COUNT_

/* The handle of family cf (or CF_META). Caller holds the lock: handles change on reopen. */
static rocksdb_column_family_handle_t *handle_of(clx_store_t *s, int cf)
{
    return cf == CF_META ? s->meta : s->cf[cf];
}

/* Reads key from a family into a fresh buffer: CLX_OK, CLX_ENOTFOUND, CLX_EIO. */
static int get_cf(clx_store_t *s, int cf, const void *key, size_t klen, char **val, size_t *vlen)
{
    char *err = NULL;
    pthread_rwlock_rdlock(&s->lock);
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(s->db, s->ropts, handle_of(s, cf), key, klen, &err);
    pthread_rwlock_unlock(&s->lock);

    if (err != NULL)
        return store_fail("get", err);
    if (ps == NULL)
        return CLX_ENOTFOUND;
    size_t n = 0;
    const char *p = rocksdb_pinnableslice_value(ps, &n);
    char *copy = clx_xmalloc(n + 1);
    if (n != 0)
        memcpy(copy, p, n);
    copy[n] = '\0'; /* a convenience for text values; not counted in *vlen */
    rocksdb_pinnableslice_destroy(ps);
    *val = copy;
    *vlen = n;
    return CLX_OK;
}

/* CLX_OK with a malloc'd copy, CLX_ENOTFOUND, or CLX_EIO (logged). */
int clx_store_get(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, char **val, size_t *vlen)
{
    return get_cf(s, (int)cf, key, klen, val, vlen);
}

/* One batched MultiGet; on any key's storage error frees everything and returns CLX_EIO. */
int clx_store_multi_get(clx_store_t *s, clx_cf_t cf, size_t n, const char *const *keys, const size_t *klens,
                        char **vals, size_t *vlens)
{
    int rc = CLX_OK;
    rocksdb_pinnableslice_t *stack_ps[64];
    char *stack_errs[64];
    rocksdb_pinnableslice_t **ps = stack_ps;
    char **errs = stack_errs;

    if (n == 0)
        return CLX_OK;
    if (n > 64) {
        ps = clx_xmalloc(n * sizeof(*ps));
        errs = clx_xmalloc(n * sizeof(*errs));
    }
    pthread_rwlock_rdlock(&s->lock);
    rocksdb_batched_multi_get_cf(s->db, s->ropts, s->cf[cf], n, keys, klens, ps, errs, 0);
    pthread_rwlock_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        if (errs[i] != NULL) {
            if (rc == CLX_OK)
                rc = store_fail("multi_get", errs[i]);
            else
                rocksdb_free(errs[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ps[i] == NULL) {
            if (rc == CLX_OK) {
                vals[i] = NULL;
                vlens[i] = 0;
            }
            continue;
        }
        if (rc == CLX_OK) {
            size_t len = 0;
            const char *p = rocksdb_pinnableslice_value(ps[i], &len);
            vals[i] = clx_xmalloc(len + 1);
            if (len != 0)
                memcpy(vals[i], p, len);
            vals[i][len] = '\0';
            vlens[i] = len;
        }
        rocksdb_pinnableslice_destroy(ps[i]);
    }
    if (ps != stack_ps) {
        free(ps);
        free(errs);
    }
    return rc;
}

/* Cannot fail (aborts on OOM). */
clx_batch_t *clx_batch_create(void)
{
    clx_batch_t *b = clx_xmalloc(sizeof(*b));
    b->wb = rocksdb_writebatch_create();
    return b;
}

/* NULL is a no-op. */
void clx_batch_destroy(clx_batch_t *b)
{
    if (b == NULL)
        return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

/* Empties b and keeps its memory for reuse. Cannot fail. */
void clx_batch_clear(clx_batch_t *b)
{
    rocksdb_writebatch_clear(b->wb);
}

/*
 * The batch records a family by its id, read from the handle here: the lock keeps the handle
 * alive meanwhile (ids are stable across a reopen, handles are not).
 */

/* Copies key and value into b. Cannot fail. */
void clx_batch_put(clx_batch_t *b, clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    pthread_rwlock_rdlock(&s->lock);
    rocksdb_writebatch_put_cf(b->wb, s->cf[cf], key, klen, val, vlen);
    pthread_rwlock_unlock(&s->lock);
}

void clx_batch_merge_rollup(clx_batch_t *b, clx_store_t *s, const void *key, size_t klen, const void *val,
                            size_t vlen)
{
    clx_batch_merge_counters(b, s, CLX_CF_ROLLUPS, key, klen, val, vlen);
}

void clx_batch_merge_counters(clx_batch_t *b, clx_store_t *s, clx_cf_t cf, const void *key, size_t klen,
                              const void *val, size_t vlen)
{
    pthread_rwlock_rdlock(&s->lock);
    rocksdb_writebatch_merge_cf(b->wb, s->cf[cf], key, klen, val, vlen);
    pthread_rwlock_unlock(&s->lock);
}

/* Copies key into b. Cannot fail. */
void clx_batch_delete(clx_batch_t *b, clx_store_t *s, clx_cf_t cf, const void *key, size_t klen)
{
    pthread_rwlock_rdlock(&s->lock);
    rocksdb_writebatch_delete_cf(b->wb, s->cf[cf], key, klen);
    pthread_rwlock_unlock(&s->lock);
}

/* Copies a metadata entry into b (default family). Cannot fail. */
void clx_batch_meta_put(clx_batch_t *b, clx_store_t *s, const char *name, const void *val, size_t vlen)
{
    pthread_rwlock_rdlock(&s->lock);
    rocksdb_writebatch_put_cf(b->wb, s->meta, name, strlen(name), val, vlen);
    pthread_rwlock_unlock(&s->lock);
}

/* Cannot fail. */
size_t clx_batch_count(clx_batch_t *b)
{
    return (size_t)rocksdb_writebatch_count(b->wb);
}

/*
 * CLX_OK; CLX_ENOSPC (nothing written) when the disk would fall below the reserve; CLX_EIO
 * (logged) when RocksDB refused the batch; then nothing is applied.
 */
int clx_store_write(clx_store_t *s, clx_batch_t *b, int sync)
{
    char *err = NULL;
    size_t size = 0;

    rocksdb_writebatch_data(b->wb, &size); /* the WAL record's payload */
    pthread_rwlock_rdlock(&s->lock);
    int rc = space_check(s, size);
    if (rc == CLX_OK)
        rocksdb_write(s->db, sync ? s->wsync : s->wnosync, b->wb, &err);
    pthread_rwlock_unlock(&s->lock);
    if (err != NULL)
        return store_fail("write", err);
    return rc;
}

/* One synced put into family cf (or CF_META): CLX_OK, CLX_ENOSPC or CLX_EIO (logged). */
static int put_cf(clx_store_t *s, int cf, const void *key, size_t klen, const void *val, size_t vlen)
{
    char *err = NULL;

    pthread_rwlock_rdlock(&s->lock);
    int rc = space_check(s, klen + vlen + 32);
    if (rc == CLX_OK)
        rocksdb_put_cf(s->db, s->wsync, handle_of(s, cf), key, klen, val, vlen, &err);
    pthread_rwlock_unlock(&s->lock);
    if (err != NULL)
        return store_fail("put", err);
    return rc;
}

int clx_store_put(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen, const void *val, size_t vlen)
{
    return put_cf(s, (int)cf, key, klen, val, vlen);
}

/* Synced single delete: CLX_OK, CLX_ENOSPC or CLX_EIO (logged). Deleting an absent key is CLX_OK. */
int clx_store_delete(clx_store_t *s, clx_cf_t cf, const void *key, size_t klen)
{
    char *err = NULL;

    pthread_rwlock_rdlock(&s->lock);
    int rc = space_check(s, klen + 32);
    if (rc == CLX_OK)
        rocksdb_delete_cf(s->db, s->wsync, s->cf[cf], key, klen, &err);
    pthread_rwlock_unlock(&s->lock);
    if (err != NULL)
        return store_fail("delete", err);
    return rc;
}

/*
 * Sets *upper and *ulen to the smallest key greater than every key starting with p: p with
 * trailing 0xFF bytes dropped and the last byte incremented. Returns 0 when there is no
 * such key (p empty or all 0xFF).
 */
static int prefix_successor(const char *p, size_t plen, char **upper, size_t *ulen)
{
    size_t n = plen;

    while (n > 0 && (unsigned char)p[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return 0;
    char *u = clx_xmalloc(n);
    memcpy(u, p, n);
    u[n - 1] = (char)((unsigned char)u[n - 1] + 1);
    *upper = u;
    *ulen = n;
    return 1;
}

/* Cannot fail (aborts on OOM); RocksDB errors surface through clx_iter_status. */
clx_iter_t *clx_iter_create(clx_store_t *s, clx_cf_t cf, const void *prefix, size_t plen)
{
    clx_iter_t *it = clx_xcalloc(1, sizeof(*it));

    it->plen = plen;
    it->prefix = clx_xmalloc(plen != 0 ? plen : 1);
    if (plen != 0)
        memcpy(it->prefix, prefix, plen);
    it->ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(it->ropts, 1); /* dedup has a prefix extractor */
    if (plen != 0) {
        /* bounds let RocksDB stop at the prefix edge instead of walking the neighbours */
        rocksdb_readoptions_set_iterate_lower_bound(it->ropts, it->prefix, plen);
        if (prefix_successor(it->prefix, plen, &it->upper, &it->ulen))
            rocksdb_readoptions_set_iterate_upper_bound(it->ropts, it->upper, it->ulen);
    }
    pthread_rwlock_rdlock(&s->lock); /* released by clx_iter_destroy */
    it->store = s;
    it->it = rocksdb_create_iterator_cf(s->db, it->ropts, s->cf[cf]);
    return it;
}

/* The same on an explicit snapshot, which clx_iter_meta_get reads too. Cannot fail. */
clx_iter_t *clx_iter_create_pinned(clx_store_t *s, clx_cf_t cf, const void *prefix, size_t plen)
{
    clx_iter_t *it = clx_iter_create(s, cf, prefix, plen); /* holds the store's lock from here */
    rocksdb_iter_destroy(it->it);
    it->snap = rocksdb_create_snapshot(s->db);
    rocksdb_readoptions_set_snapshot(it->ropts, it->snap);
    it->it = rocksdb_create_iterator_cf(s->db, it->ropts, s->cf[cf]);
    return it;
}

clx_iter_t *clx_iter_create_beside(clx_iter_t *pinned, clx_cf_t cf, const void *prefix, size_t plen)
{
    clx_store_t *s = pinned->store; /* its lock is held by pinned */
    clx_iter_t *it = clx_xcalloc(1, sizeof(*it));

    it->plen = plen;
    it->prefix = clx_xmalloc(plen != 0 ? plen : 1);
    if (plen != 0)
        memcpy(it->prefix, prefix, plen);
    it->ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(it->ropts, 1);
    if (plen != 0) {
        rocksdb_readoptions_set_iterate_lower_bound(it->ropts, it->prefix, plen);
        if (prefix_successor(it->prefix, plen, &it->upper, &it->ulen))
            rocksdb_readoptions_set_iterate_upper_bound(it->ropts, it->upper, it->ulen);
    }
    if (pinned->snap != NULL)
        rocksdb_readoptions_set_snapshot(it->ropts, pinned->snap);
    it->store = s;
    it->snap = pinned->snap;
    it->borrowed = 1;
    it->it = rocksdb_create_iterator_cf(s->db, it->ropts, s->cf[cf]);
    return it;
}

/* A point read of family cf (or CF_META) on the iterator's read options (its snapshot). */
static int iter_get(clx_iter_t *it, int cf, const void *key, size_t klen, char **val, size_t *vlen)
{
    char *err = NULL;
    clx_store_t *s = it->store; /* its lock is held by the iterator */
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(s->db, it->ropts, handle_of(s, cf), key, klen, &err);
    if (err != NULL)
        return store_fail("get", err);
    if (ps == NULL)
        return CLX_ENOTFOUND;
    size_t n = 0;
    const char *p = rocksdb_pinnableslice_value(ps, &n);
    char *copy = clx_xmalloc(n + 1);
    if (n != 0)
        memcpy(copy, p, n);
    copy[n] = '\0';
    rocksdb_pinnableslice_destroy(ps);
    *val = copy;
    *vlen = n;
    return CLX_OK;
}

int clx_iter_meta_get(clx_iter_t *it, const char *name, char **val, size_t *vlen)
{
    return iter_get(it, CF_META, name, strlen(name), val, vlen);
}

int clx_iter_get(clx_iter_t *it, clx_cf_t cf, const void *key, size_t klen, char **val, size_t *vlen)
{
    return iter_get(it, (int)cf, key, klen, val, vlen);
}

/* NULL is a no-op. */
void clx_iter_destroy(clx_iter_t *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    if (!it->borrowed) {
        if (it->snap != NULL)
            rocksdb_release_snapshot(it->store->db, it->snap);
        pthread_rwlock_unlock(&it->store->lock);
    }
    rocksdb_readoptions_destroy(it->ropts);
    free(it->prefix);
    free(it->upper);
    free(it);
}

/* First key with the prefix; invalid when there is none. */
void clx_iter_first(clx_iter_t *it)
{
    rocksdb_iter_seek(it->it, it->prefix, it->plen);
}

/* Last key with the prefix; invalid when there is none. */
void clx_iter_last(clx_iter_t *it)
{
    if (it->upper != NULL) {
        /* seek_for_prev(successor) lands on the last key < successor (the bound is exclusive) */
        rocksdb_iter_seek_for_prev(it->it, it->upper, it->ulen);
        if (rocksdb_iter_valid(it->it)) {
            size_t klen = 0;
            const char *k = rocksdb_iter_key(it->it, &klen);
            if (klen == it->ulen && memcmp(k, it->upper, klen) == 0)
                rocksdb_iter_prev(it->it);
        }
    } else {
        /* no successor: every key >= an all-0xFF prefix carries it, so the last key decides */
        rocksdb_iter_seek_to_last(it->it);
    }
}

/* First key >= target (within the prefix). */
void clx_iter_seek(clx_iter_t *it, const void *target, size_t tlen)
{
    rocksdb_iter_seek(it->it, target, tlen);
}

/* Last key <= target (within the prefix). */
void clx_iter_seek_for_prev(clx_iter_t *it, const void *target, size_t tlen)
{
    rocksdb_iter_seek_for_prev(it->it, target, tlen);
}

/* 0 when unpositioned, past either end, or on a key outside the prefix. */
int clx_iter_valid(clx_iter_t *it)
{
    if (!rocksdb_iter_valid(it->it))
        return 0;
    size_t klen = 0;
    const char *k = rocksdb_iter_key(it->it, &klen);
    return klen >= it->plen && memcmp(k, it->prefix, it->plen) == 0;
}

/* Only while valid. */
void clx_iter_next(clx_iter_t *it)
{
    rocksdb_iter_next(it->it);
}

/* Only while valid. */
void clx_iter_prev(clx_iter_t *it)
{
    rocksdb_iter_prev(it->it);
}

/* Only while valid. */
const char *clx_iter_key(clx_iter_t *it, size_t *klen)
{
    return rocksdb_iter_key(it->it, klen);
}

/* Only while valid. */
const char *clx_iter_value(clx_iter_t *it, size_t *vlen)
{
    return rocksdb_iter_value(it->it, vlen);
}

/* CLX_OK, or CLX_EIO (logged) when the iterator hit a storage error. */
int clx_iter_status(clx_iter_t *it)
{
    char *err = NULL;

    rocksdb_iter_get_error(it->it, &err);
    if (err != NULL)
        return store_fail("iterate", err);
    return CLX_OK;
}

/* CLX_OK with a malloc'd copy, CLX_ENOTFOUND, or CLX_EIO (logged). */
int clx_store_meta_get(clx_store_t *s, const char *name, char **val, size_t *vlen)
{
    return get_cf(s, CF_META, name, strlen(name), val, vlen);
}

/* Synced put in the default family: CLX_OK, CLX_ENOSPC or CLX_EIO (logged). */
int clx_store_meta_put(clx_store_t *s, const char *name, const void *val, size_t vlen)
{
    return put_cf(s, CF_META, name, strlen(name), val, vlen);
}

int clx_store_meta_delete(clx_store_t *s, const char *name)
{
    char *err = NULL;
    pthread_rwlock_rdlock(&s->lock);
    int rc = space_check(s, strlen(name) + 32);
    if (rc == CLX_OK)
        rocksdb_delete_cf(s->db, s->wsync, s->meta, name, strlen(name), &err);
    pthread_rwlock_unlock(&s->lock);
    if (err != NULL)
        rc = store_fail("delete metadata", err);
    return rc;
}

int clx_store_checkpoint(clx_store_t *s, const char *dir, char **errmsg)
{
    char *err = NULL;
    if (errmsg != NULL)
        *errmsg = NULL;
    pthread_rwlock_rdlock(&s->lock); /* no reopen underneath */
    /* flushing writes tables into the store: only with room for them */
    uint64_t flush_above = space_check(s, 0) == CLX_OK ? 0 : UINT64_MAX;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(s->db, &err);
    if (err == NULL) {
        rocksdb_checkpoint_create(cp, dir, flush_above, &err);
        rocksdb_checkpoint_object_destroy(cp);
    }
    pthread_rwlock_unlock(&s->lock);
    if (err != NULL) {
        if (errmsg != NULL)
            *errmsg = clx_xstrdup(err);
        return store_fail("checkpoint", err);
    }
    return CLX_OK;
}

const char *clx_store_dir(const clx_store_t *s)
{
    return s->dir;
}

static int any_file(const char *name)
{
    return name[0] != '.';
}

uint64_t clx_store_disk_bytes(clx_store_t *s)
{
    return files_bytes(s->dir, any_file);
}

int clx_store_compact(clx_store_t *s, clx_cf_t cf)
{
    char *err = NULL;
    pthread_rwlock_rdlock(&s->lock);
    int rc = space_check(s, 0);
    if (rc == CLX_OK) {
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(fo, 1);
        rocksdb_flush_cf(s->db, fo, s->cf[cf], &err);
        rocksdb_flushoptions_destroy(fo);
        if (err == NULL)
            rocksdb_compact_range_cf(s->db, s->cf[cf], NULL, 0, NULL, 0);
    }
    pthread_rwlock_unlock(&s->lock);
    if (err != NULL)
        return store_fail("flush", err);
    return rc;
}

const char *clx_store_cf_name(clx_cf_t cf)
{
    return cf < CLX_CF_COUNT_ ? cf_names[cf] : "?";
}

uint64_t clx_store_sst_bytes(clx_store_t *s, clx_cf_t cf)
{
    pthread_rwlock_rdlock(&s->lock);
    char *v = rocksdb_property_value_cf(s->db, s->cf[cf], "rocksdb.total-sst-files-size");
    pthread_rwlock_unlock(&s->lock);
    uint64_t n = v != NULL ? strtoull(v, NULL, 10) : 0;
    rocksdb_free(v);
    return n;
}
