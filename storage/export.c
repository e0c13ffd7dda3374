/*
 * export.c — the exporters' durable cursors in the store's metadata (the log they read is
 * clx_events_read_after, storage/events.c).
 */
#include "clx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"

#define CURSOR_VERSION 1
#define CURSOR_LEN 17 /* version, done (8 bytes BE), pending (8 bytes BE) */

/* ---- cursors ------------------------------------------------------------------------------ */

static int cursor_key(char *buf, size_t cap, const char *name)
{
    if (strlen(name) > CLX_EXPORT_NAME_MAX)
        return CLX_EINVAL;
    snprintf(buf, cap, "export/%s", name);
    return CLX_OK;
}

int clx_export_cursor_load(clx_store_t *s, const char *name, clx_export_cursor_t *out)
{
    char key[CLX_EXPORT_NAME_MAX + 8];
    char *val = NULL;
    size_t vlen = 0;
    int rc;

    if ((rc = cursor_key(key, sizeof(key), name)) != CLX_OK)
        return rc;
    rc = clx_store_meta_get(s, key, &val, &vlen);
    if (rc == CLX_ENOTFOUND) {
        out->done = out->pending = 0;
        return CLX_OK;
    }
    if (rc != CLX_OK)
        return rc;
    const unsigned char *v = (const unsigned char *)val;
    if (vlen != CURSOR_LEN || v[0] != CURSOR_VERSION) {
        clx_log(CLX_LOG_ERROR, "store", "export cursor %s: %zu bytes of version %d, expected %d of version %d", name,
                vlen, vlen > 0 ? v[0] : -1, CURSOR_LEN, CURSOR_VERSION);
        rc = CLX_ECORRUPT;
        goto done;
    }
    out->done = clx_be64_get(v + 1);
    out->pending = clx_be64_get(v + 9);
    if (out->pending != 0 && out->pending <= out->done) {
        clx_log(CLX_LOG_ERROR, "store", "export cursor %s: pending %llu is not after done %llu", name,
                (unsigned long long)out->pending, (unsigned long long)out->done);
        rc = CLX_ECORRUPT;
    }
done:
    free(val);
    return rc;
}

int clx_export_cursor_save(clx_store_t *s, const char *name, const clx_export_cursor_t *c)
{
    char key[CLX_EXPORT_NAME_MAX + 8];
    unsigned char v[CURSOR_LEN];
    int rc;

    if ((rc = cursor_key(key, sizeof(key), name)) != CLX_OK)
        return rc;
    if (c->pending != 0 && c->pending <= c->done)
        return CLX_EINVAL;
    v[0] = CURSOR_VERSION;
    clx_be64_put(v + 1, c->done);
    clx_be64_put(v + 9, c->pending);
    return clx_store_meta_put(s, key, v, sizeof(v));
}
