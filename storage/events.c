/*
 * events.c — keys and values of the events and dedup column families, the read of one
 * event by requestId, and the newest-first iterator over a workspace's events.
 */
#include "clx_events.h"

#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"

/* ---- keys and values ------------------------------------------------------------------------ */

size_t clx_event_key_encode(char *buf, const char *workspace, size_t wslen, uint64_t seq)
{
    memcpy(buf, workspace, wslen);
    buf[wslen] = '\0';
    clx_be64_put((unsigned char *)buf + wslen + 1, seq);
    return CLX_EVENT_KEY_LEN(wslen);
}

size_t clx_event_key(char *buf, const char *workspace, uint64_t seq)
{
    return clx_event_key_encode(buf, workspace, strlen(workspace), seq);
}

int clx_event_key_decode(const char *key, size_t klen, size_t wslen, uint64_t *seq)
{
    if (klen != CLX_EVENT_KEY_LEN(wslen) || key[wslen] != '\0')
        return CLX_ECORRUPT;
    *seq = clx_be64_get((const unsigned char *)key + wslen + 1);
    return CLX_OK;
}

size_t clx_dedup_key_encode(char *buf, const char *workspace, size_t wslen, const char *request_id, size_t ridlen)
{
    memcpy(buf, workspace, wslen);
    buf[wslen] = '\0';
    memcpy(buf + wslen + 1, request_id, ridlen);
    return CLX_DEDUP_KEY_LEN(wslen, ridlen);
}

void clx_dedup_value_encode(unsigned char out[CLX_DEDUP_VALUE_LEN], uint64_t seq, uint64_t fingerprint)
{
    clx_be64_put(out, seq);
    clx_be64_put(out + 8, fingerprint);
}

int clx_dedup_value_decode(const void *val, size_t len, uint64_t *seq, uint64_t *fingerprint)
{
    if (len != CLX_DEDUP_VALUE_LEN)
        return CLX_ECORRUPT;
    *seq = clx_be64_get(val);
    *fingerprint = clx_be64_get((const unsigned char *)val + 8);
    return CLX_OK;
}

/* ---- reads ---------------------------------------------------------------------------------- */

/*
 * Dedup record, then event. CLX_ENOTFOUND when the id was never stored, CLX_EIO on a
 * storage error, CLX_ECORRUPT when the dedup record is malformed or its event is missing.
 */
int clx_store_find_event(clx_store_t *s, const char *workspace, const char *request_id, size_t request_id_len,
                         char **val, size_t *vlen, uint64_t *seq)
{
    int rc;
    size_t wl = strlen(workspace);
    size_t dl = CLX_DEDUP_KEY_LEN(wl, request_id_len), el = CLX_EVENT_KEY_LEN(wl);
    char *key = clx_xmalloc(dl > el ? dl : el);
    char *dv = NULL;
    size_t dlen = 0;
    uint64_t sq, fp;

    rc = clx_store_get(s, CLX_CF_DEDUP, key, clx_dedup_key_encode(key, workspace, wl, request_id, request_id_len), &dv,
                       &dlen);
    if (rc != CLX_OK)
        goto done;
    if (clx_dedup_value_decode(dv, dlen, &sq, &fp) != CLX_OK) {
        clx_log(CLX_LOG_ERROR, "store", "dedup record of %zu bytes for workspace %s", dlen, workspace);
        rc = CLX_ECORRUPT;
        goto done;
    }
    rc = clx_store_get(s, CLX_CF_EVENTS, key, clx_event_key_encode(key, workspace, wl, sq), val, vlen);
    if (rc == CLX_ENOTFOUND) {
        clx_log(CLX_LOG_ERROR, "store", "event %llu of workspace %s has a dedup record but no event",
                (unsigned long long)sq, workspace);
        rc = CLX_ECORRUPT;
        goto done;
    }
    if (rc == CLX_OK && seq != NULL)
        *seq = sq;
done:
    free(dv);
    free(key);
    return rc;
}

struct clx_event_iter {
    clx_iter_t *it;
    char *workspace;
    size_t wslen;
    uint64_t seq; /* of the current event */
};

clx_event_iter_t *clx_event_iter_create(clx_store_t *s, const char *workspace)
{
    clx_event_iter_t *e = clx_xcalloc(1, sizeof(*e));
    e->wslen = strlen(workspace);
    e->workspace = clx_xstrndup(workspace, e->wslen);
    /* the prefix is the workspace with its terminating NUL: "acme" never reads "acme-2" */
    e->it = clx_iter_create(s, CLX_CF_EVENTS, e->workspace, e->wslen + 1);
    return e;
}

void clx_event_iter_destroy(clx_event_iter_t *e)
{
    if (e == NULL)
        return;
    clx_iter_destroy(e->it);
    free(e->workspace);
    free(e);
}

/* Moves back over keys that are not event keys, and reads the seq of the one it stops on. */
static void settle(clx_event_iter_t *e)
{
    for (; clx_iter_valid(e->it); clx_iter_prev(e->it)) {
        size_t klen;
        const char *k = clx_iter_key(e->it, &klen);
        if (clx_event_key_decode(k, klen, e->wslen, &e->seq) == CLX_OK)
            return;
    }
}

void clx_event_iter_seek_before(clx_event_iter_t *e, uint64_t before_seq)
{
    if (before_seq == 0) {
        clx_iter_last(e->it);
    } else {
        char *target = clx_xmalloc(CLX_EVENT_KEY_LEN(e->wslen));
        size_t tl = clx_event_key_encode(target, e->workspace, e->wslen, before_seq - 1);
        clx_iter_seek_for_prev(e->it, target, tl);
        free(target);
    }
    settle(e);
}

int clx_event_iter_valid(clx_event_iter_t *e)
{
    return clx_iter_valid(e->it);
}

void clx_event_iter_prev(clx_event_iter_t *e)
{
    clx_iter_prev(e->it);
    settle(e);
}

uint64_t clx_event_iter_seq(clx_event_iter_t *e)
{
    return e->seq;
}

const char *clx_event_iter_value(clx_event_iter_t *e, size_t *vlen)
{
    return clx_iter_value(e->it, vlen);
}

int clx_event_iter_status(clx_event_iter_t *e)
{
    return clx_iter_status(e->it);
}
