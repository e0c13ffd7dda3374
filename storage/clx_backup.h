/*
 * clx_backup.h — backups you can restore: consistent online copies of the store (RocksDB
 * checkpoints) under one folder, with names the server makes up.
 *
 * A backup is a complete store folder: restoring is starting costlynxd with --data-dir on it
 * (or on a copy of it). It holds every event acknowledged before the backup began, and the
 * totals of exactly the events it holds. Callers never choose a path: the folder is the
 * operator's (--backup-dir), the name is "costlynx-<UTC time>" (plus "-2", "-3"... when taken
 * within the same second). One backup runs at a time per process.
 */
#ifndef CLX_BACKUP_H
#define CLX_BACKUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "clx_store.h"

#define CLX_BACKUP_PREFIX "costlynx-"
#define CLX_BACKUP_NAME_MAX 64
#define CLX_BACKUP_DELETED_MAX 16 /* deletions reported per backup (all are done) */

typedef struct clx_backup_info {
    char name[CLX_BACKUP_NAME_MAX]; /* folder name under the backup folder */
    char path[PATH_MAX];            /* backup folder + "/" + name */
    uint64_t bytes;                 /* size of its files (hard-linked tables included) */
    uint64_t files;
    uint64_t sequence;  /* every event with a sequence number up to this one is in the backup */
    int64_t started_ms; /* when the copy began (Unix ms): everything acknowledged before is in */
    int64_t finished_ms;
    size_t ndeleted; /* older backups removed by the keep rule */
    char deleted[CLX_BACKUP_DELETED_MAX][CLX_BACKUP_NAME_MAX];
} clx_backup_info_t;

/*
 * Makes a backup of s under folder parent (created when missing, mode 0700), checks that it
 * opens (read-only) and reads the sequence number it covers, then, when keep > 0, deletes
 * the oldest backups of that folder beyond the newest `keep`. Fills *out.
 *   CLX_OK;
 *   CLX_EBUSY    another backup of this process is running (try again later);
 *   CLX_ENOSPC   the folder's disk has too little room (for a folder on the store's own disk,
 *                the copy must also leave the store's reserve free);
 *   CLX_EIO      the checkpoint failed or does not open (the partial copy is removed).
 * On failure *errmsg (malloc'd, when errmsg is not NULL) says why.
 */
int clx_backup_create(clx_store_t *s, const char *parent, unsigned keep, clx_backup_info_t *out, char **errmsg);

#endif
