/*
 * clx_maintenance.h — the data folder as its operator sees it: its disk's state (readiness,
 * /metrics) and its backups (POST /api/v1/admin/backup). main builds the service over the
 * store and hands it to the REST door, which never sees the store.
 *
 * Thread-safe; a backup may take minutes and runs on the caller's thread (the REST door
 * gives it a thread of its own).
 */
#ifndef CLX_MAINTENANCE_H
#define CLX_MAINTENANCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct clx_store clx_store_t;
typedef struct clx_maintenance clx_maintenance_t;

/*
 * The service over store; backup_dir (absolute, outside the data folder; NULL or "": backups
 * off) keeps the newest backup_keep backups (0: all). The store and the string must outlive
 * it. Cannot fail (aborts on OOM).
 */
clx_maintenance_t *clx_maintenance_create(clx_store_t *store, const char *backup_dir, unsigned backup_keep);
/* NULL is a no-op. No backup may be running. */
void clx_maintenance_destroy(clx_maintenance_t *m);

/* The data folder's disk, measured now. */
typedef struct clx_disk_state {
    int writable;           /* writes are accepted (ready) */
    int read_only;          /* the store opened read-only because the disk was full at start */
    uint64_t free_bytes;    /* available on the data folder's filesystem */
    uint64_t reserve_bytes; /* what every write leaves free (--disk-reserve) */
    char why[400];          /* while not writable: one line saying why and what happens next */
} clx_disk_state_t;
/* Cannot fail (one statvfs). */
void clx_maintenance_disk(clx_maintenance_t *m, clx_disk_state_t *out);

/* True when backups are configured (a backup folder). */
int clx_maintenance_backups_on(const clx_maintenance_t *m);

#define CLX_BACKUP_REPORT_NAME_MAX 64
#define CLX_BACKUP_REPORT_DELETED_MAX 16

/* One backup taken: what the answer shows. */
typedef struct clx_backup_report {
    char name[CLX_BACKUP_REPORT_NAME_MAX]; /* folder name under the backup folder */
    char path[4096];                       /* backup folder + "/" + name */
    uint64_t bytes, files;
    uint64_t sequence;  /* every event with a sequence number up to this one is in the backup */
    int64_t started_ms; /* everything acknowledged before is in it */
    int64_t finished_ms;
    size_t ndeleted; /* older backups removed by the keep rule */
    char deleted[CLX_BACKUP_REPORT_DELETED_MAX][CLX_BACKUP_REPORT_NAME_MAX];
} clx_backup_report_t;

/*
 * Takes a backup (a consistent online copy that opens as a data folder) and applies the keep
 * rule. CLX_OK with *out; CLX_EBUSY (another backup is running), CLX_ENOSPC (too little room),
 * CLX_EIO (the copy failed and was removed), CLX_EINVAL (backups are off); then *errmsg
 * (malloc'd, when errmsg is not NULL) says why.
 */
int clx_maintenance_backup(clx_maintenance_t *m, clx_backup_report_t *out, char **errmsg);

#endif
