/*
 * maintenance.c — the data folder's disk state and its backups, for the operator's routes:
 * the store's free-space guard and checkpoints (storage/) behind one small service.
 */
#include "clx_maintenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_backup.h"
#include "clx_error.h"
#include "clx_mem.h"
#include "clx_store.h"

_Static_assert(CLX_BACKUP_REPORT_NAME_MAX == CLX_BACKUP_NAME_MAX &&
                   CLX_BACKUP_REPORT_DELETED_MAX == CLX_BACKUP_DELETED_MAX,
               "a report holds what a backup says");

struct clx_maintenance {
    clx_store_t *store;
    const char *backup_dir;
    unsigned backup_keep;
};

clx_maintenance_t *clx_maintenance_create(clx_store_t *store, const char *backup_dir, unsigned backup_keep)
{
    clx_maintenance_t *m = clx_xcalloc(1, sizeof(*m));
    m->store = store;
    m->backup_dir = backup_dir;
    m->backup_keep = backup_keep;
    return m;
}

void clx_maintenance_destroy(clx_maintenance_t *m)
{
    free(m);
}

void clx_maintenance_disk(clx_maintenance_t *m, clx_disk_state_t *out)
{
    clx_store_space_t sp;
    clx_store_space(m->store, &sp);
    out->writable = sp.writable;
    out->read_only = sp.read_only;
    out->free_bytes = sp.free_bytes;
    out->reserve_bytes = sp.reserve_bytes;
    clx_store_space_reason(&sp, out->why, sizeof(out->why));
}

int clx_maintenance_backups_on(const clx_maintenance_t *m)
{
    return m->backup_dir != NULL && m->backup_dir[0] != '\0';
}

int clx_maintenance_backup(clx_maintenance_t *m, clx_backup_report_t *out, char **errmsg)
{
    if (!clx_maintenance_backups_on(m)) {
        if (errmsg != NULL)
            *errmsg = clx_xstrdup("backups are off: no backup folder is configured");
        return CLX_EINVAL;
    }
    clx_backup_info_t *info = clx_xcalloc(1, sizeof(*info));
    int rc = clx_backup_create(m->store, m->backup_dir, m->backup_keep, info, errmsg);
    if (rc == CLX_OK) {
        memset(out, 0, sizeof(*out));
        snprintf(out->name, sizeof(out->name), "%s", info->name);
        snprintf(out->path, sizeof(out->path), "%s", info->path);
        out->bytes = info->bytes;
        out->files = info->files;
        out->sequence = info->sequence;
        out->started_ms = info->started_ms;
        out->finished_ms = info->finished_ms;
        out->ndeleted = info->ndeleted;
        for (size_t i = 0; i < out->ndeleted; i++)
            snprintf(out->deleted[i], sizeof(out->deleted[i]), "%s", info->deleted[i]);
    }
    free(info);
    return rc;
}
