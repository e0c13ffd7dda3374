/*
 * backup.c — named, verified checkpoints under one folder, one at a time, with a keep rule.
 * The copy itself is clx_store_checkpoint (RocksDB's checkpoint).
 */
#define _GNU_SOURCE /* vasprintf */
#include "clx_backup.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_writer.h"

#define BACKUP_SLACK (1ull << 20)

static atomic_flag running = ATOMIC_FLAG_INIT; /* one backup per process at a time */

/* Sets *errmsg to the formatted message (when asked) and returns rc. */
static int fail(char **errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **errmsg, int rc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clx_log(CLX_LOG_ERROR, "backup", "%s", msg);
    if (errmsg != NULL)
        *errmsg = clx_xstrdup(msg);
    return rc;
}

/* Joins a and b with '/' into a fresh string. Cannot fail (aborts on OOM). */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = clx_xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Removes a checkpoint folder: its files, then itself. Checkpoints hold no sub-folders. */
static void remove_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = join(dir, e->d_name);
        if (unlink(p) != 0)
            clx_log(CLX_LOG_WARN, "backup", "cannot remove %s: %s", p, strerror(errno));
        free(p);
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        clx_log(CLX_LOG_WARN, "backup", "cannot remove %s: %s", dir, strerror(errno));
}

/* Regular files in dir: count and bytes; bytes of the non-table ones (WAL, manifest, options)
 * into *copied when not NULL — what a checkpoint copies even on the same filesystem. */
static void dir_stats(const char *dir, uint64_t *files, uint64_t *bytes, uint64_t *copied)
{
    *files = *bytes = 0;
    if (copied != NULL)
        *copied = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *p = join(dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            (*files)++;
            *bytes += (uint64_t)st.st_size;
            size_t n = strlen(e->d_name);
            if (copied != NULL && !(n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0))
                *copied += (uint64_t)st.st_size;
        }
        free(p);
    }
    closedir(d);
}

static int is_backup_name(const char *name)
{
    size_t n = strlen(name), pl = strlen(CLX_BACKUP_PREFIX);
    return n > pl && strncmp(name, CLX_BACKUP_PREFIX, pl) == 0 && !(n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Deletes the oldest backups of parent beyond the newest keep (names sort by time). */
static void apply_keep(const char *parent, unsigned keep, clx_backup_info_t *out)
{
    DIR *d = opendir(parent);
    if (d == NULL)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!is_backup_name(e->d_name))
            continue;
        char *p = join(parent, e->d_name);
        struct stat st;
        int isdir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
        if (!isdir)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = clx_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = clx_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i + keep < n; i++) {
        char *p = join(parent, names[i]);
        remove_flat(p);
        clx_log(CLX_LOG_INFO, "backup", "removed %s (keeping the newest %u)", p, keep);
        free(p);
        if (out->ndeleted < CLX_BACKUP_DELETED_MAX)
            snprintf(out->deleted[out->ndeleted++], CLX_BACKUP_NAME_MAX, "%s", names[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* "costlynx-20261202T030405.123Z", with "-2", "-3"... when taken. 0, or -1 when none is free. */
static int make_name(const char *parent, int64_t ms, clx_backup_info_t *out)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    for (int k = 1; k < 100; k++) {
        if (k == 1)
            snprintf(out->name, sizeof(out->name), "%s%s.%03dZ", CLX_BACKUP_PREFIX, stamp, (int)(ms % 1000));
        else
            snprintf(out->name, sizeof(out->name), "%s%s.%03dZ-%02d", CLX_BACKUP_PREFIX, stamp, (int)(ms % 1000), k);
        snprintf(out->path, sizeof(out->path), "%s/%s", parent, out->name);
        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.tmp", out->path);
        struct stat st;
        if (lstat(out->path, &st) != 0 && lstat(tmp, &st) != 0)
            return 0;
    }
    return -1;
}

/* Opens the copy read-only and reads the last sequence number it holds. */
static int verify(const char *path, uint64_t *sequence, char **err)
{
    clx_store_config_t cfg = {.read_only = 1};
    clx_store_t *copy = NULL;
    int rc = clx_store_open_with(path, &cfg, &copy, err);
    if (rc != CLX_OK)
        return rc;
    char *val = NULL;
    size_t vlen = 0;
    rc = clx_store_meta_get(copy, CLX_WRITER_META_SEQ, &val, &vlen);
    if (rc == CLX_ENOTFOUND) {
        *sequence = 0; /* no event written yet */
        rc = CLX_OK;
    } else if (rc == CLX_OK && vlen == 8) {
        *sequence = clx_be64_get((const unsigned char *)val);
    } else if (rc == CLX_OK) {
        rc = CLX_ECORRUPT;
        *err = clx_xstrdup("the sequence record is malformed");
    }
    free(val);
    clx_store_close(copy);
    return rc;
}

int clx_backup_create(clx_store_t *s, const char *parent, unsigned keep, clx_backup_info_t *out, char **errmsg)
{
    int rc;
    char *err = NULL;
    char fr[32], nd[32];

    if (errmsg != NULL)
        *errmsg = NULL;
    memset(out, 0, sizeof(*out));
    if (atomic_flag_test_and_set(&running))
        return fail(errmsg, CLX_EBUSY, "a backup is already running; try again when it is done");

    if (mkdir(parent, 0700) != 0 && errno != EEXIST) {
        rc = fail(errmsg, CLX_EIO, "cannot create the backup folder %s: %s", parent, strerror(errno));
        goto done;
    }
    struct stat ps, ds;
    if (stat(parent, &ps) != 0 || !S_ISDIR(ps.st_mode) || stat(clx_store_dir(s), &ds) != 0) {
        rc = fail(errmsg, CLX_EIO, "the backup folder %s is not a folder", parent);
        goto done;
    }
    /* room: on the store's own disk the tables are hard links, and the copy must leave the
     * store's reserve; elsewhere everything is copied */
    uint64_t files, bytes, copied, need;
    dir_stats(clx_store_dir(s), &files, &bytes, &copied);
    clx_store_space_t sp;
    clx_store_space(s, &sp);
    need = ps.st_dev == ds.st_dev ? copied + sp.reserve_bytes + BACKUP_SLACK : bytes + BACKUP_SLACK;
    struct statvfs v;
    uint64_t avail = statvfs(parent, &v) == 0 ? (uint64_t)v.f_bavail * v.f_frsize : UINT64_MAX;
    if (avail < need) {
        clx_store_format_bytes(avail, fr, sizeof(fr));
        clx_store_format_bytes(need, nd, sizeof(nd));
        rc = fail(errmsg, CLX_ENOSPC, "disk full: %s free in the backup folder %s, a backup needs about %s%s", fr,
                  parent, nd, ps.st_dev == ds.st_dev ? " (the store's reserve included: it is on the same disk)" : "");
        goto done;
    }

    out->started_ms = clx_now_ms();
    if (make_name(parent, out->started_ms, out) != 0) {
        rc = fail(errmsg, CLX_EIO, "no free backup name in %s", parent);
        goto done;
    }
    rc = clx_store_checkpoint(s, out->path, &err);
    if (rc != CLX_OK) {
        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.tmp", out->path);
        remove_flat(tmp);
        remove_flat(out->path);
        rc = fail(errmsg, CLX_EIO, "the checkpoint into %s failed: %s", out->path, err != NULL ? err : "unknown error");
        goto done;
    }
    free(err);
    err = NULL;
    rc = verify(out->path, &out->sequence, &err);
    if (rc != CLX_OK) {
        remove_flat(out->path);
        rc = fail(errmsg, CLX_EIO, "the backup %s does not open (removed): %s", out->path,
                  err != NULL ? err : clx_strerror(rc));
        goto done;
    }
    dir_stats(out->path, &out->files, &out->bytes, NULL);
    out->finished_ms = clx_now_ms();
    clx_store_format_bytes(out->bytes, fr, sizeof(fr));
    clx_log(CLX_LOG_INFO, "backup", "%s: %llu files, %s, events up to sequence %llu, %.1f s", out->path,
            (unsigned long long)out->files, fr, (unsigned long long)out->sequence,
            (double)(out->finished_ms - out->started_ms) / 1000.0);
    if (keep > 0)
        apply_keep(parent, keep, out);
    rc = CLX_OK;

done:
    free(err);
    atomic_flag_clear(&running);
    return rc;
}
