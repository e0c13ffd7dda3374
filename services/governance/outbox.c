/*
 * outbox.c — alert deliveries kept in RocksDB: one record per (alert, channel) plus a
 * due-time index, each change one synced batch, so deliveries survive restarts and kill -9.
 */
#include "clx_outbox.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_mem.h"

#define REC_VERSION 1
#define REC_FIXED (1 + 1 + 4 + 8 + 8 + 8 + 4)
#define KEY_MAX (1 + 8 + 3 * (CLX_OUTBOX_ID_MAX + 1))

static const char *const state_names[] = {"pending", "delivered", "failed"};

const char *clx_outbox_state_name(clx_outbox_state_t s)
{
    return (unsigned)s < 3 ? state_names[s] : "?";
}

struct clx_outbox {
    clx_store_t *store;
    pthread_mutex_t lock; /* enqueue's check-then-write, and marks, are one at a time */
};

clx_outbox_t *clx_outbox_create(clx_store_t *s)
{
    clx_outbox_t *ob = clx_xcalloc(1, sizeof(*ob));
    ob->store = s;
    pthread_mutex_init(&ob->lock, NULL);
    return ob;
}

void clx_outbox_destroy(clx_outbox_t *ob)
{
    if (ob == NULL)
        return;
    pthread_mutex_destroy(&ob->lock);
    free(ob);
}

void clx_outbox_item_dispose(clx_outbox_item_t *it)
{
    if (it == NULL)
        return;
    free(it->workspace);
    free(it->alert_id);
    free(it->channel_id);
    free(it->payload);
    free(it->last_error);
    memset(it, 0, sizeof(*it));
}

void clx_outbox_items_free(clx_outbox_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        clx_outbox_item_dispose(&items[i]);
    free(items);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool id_ok(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    return len > 0 && len <= CLX_OUTBOX_ID_MAX;
}

/* "ws\0alert\0channel" (no trailing NUL) into buf; returns its length */
static size_t ident(char *buf, const char *ws, const char *alert, const char *channel)
{
    size_t a = strlen(ws) + 1, b = strlen(alert) + 1, c = strlen(channel);
    memcpy(buf, ws, a);
    memcpy(buf + a, alert, b);
    memcpy(buf + a + b, channel, c);
    return a + b + c;
}

static size_t item_key(char *buf, const clx_outbox_item_t *it)
{
    buf[0] = 'i';
    return 1 + ident(buf + 1, it->workspace, it->alert_id, it->channel_id);
}

static size_t due_key(char *buf, const clx_outbox_item_t *it, int64_t due)
{
    buf[0] = 'd';
    clx_be64_put((unsigned char *)buf + 1, (uint64_t)due ^ (1ULL << 63)); /* sign flip: orders negatives too */
    return 9 + ident(buf + 9, it->workspace, it->alert_id, it->channel_id);
}

static unsigned char *encode(const clx_outbox_item_t *it, size_t *len)
{
    size_t elen = it->last_error != NULL ? strlen(it->last_error) : 0;
    if (elen > CLX_OUTBOX_ERROR_MAX)
        elen = CLX_OUTBOX_ERROR_MAX;
    *len = REC_FIXED + it->payload_len + 2 + elen;
    unsigned char *p = clx_xmalloc(*len);
    p[0] = REC_VERSION;
    p[1] = (unsigned char)it->state;
    put32(p + 2, it->attempts);
    clx_be64_put(p + 6, (uint64_t)it->created_ms);
    clx_be64_put(p + 14, (uint64_t)it->due_ms);
    clx_be64_put(p + 22, (uint64_t)it->updated_ms);
    put32(p + 30, (uint32_t)it->payload_len);
    memcpy(p + REC_FIXED, it->payload, it->payload_len);
    p[REC_FIXED + it->payload_len] = (unsigned char)(elen >> 8);
    p[REC_FIXED + it->payload_len + 1] = (unsigned char)elen;
    memcpy(p + REC_FIXED + it->payload_len + 2, it->last_error, elen);
    return p;
}

/* Decodes an item from its key (after 'i') and record. CLX_OK or CLX_ECORRUPT. */
static int decode(const char *id, size_t idlen, const unsigned char *v, size_t vlen, clx_outbox_item_t *it)
{
    memset(it, 0, sizeof(*it));
    const char *a = memchr(id, '\0', idlen);
    const char *b = a != NULL ? memchr(a + 1, '\0', idlen - (size_t)(a + 1 - id)) : NULL;
    if (b == NULL || vlen < REC_FIXED + 2 || v[0] != REC_VERSION || v[1] > CLX_OUTBOX_FAILED)
        return CLX_ECORRUPT;
    size_t plen = get32(v + 30);
    if (plen > vlen - REC_FIXED - 2)
        return CLX_ECORRUPT;
    size_t elen = (size_t)v[REC_FIXED + plen] << 8 | v[REC_FIXED + plen + 1];
    if (REC_FIXED + plen + 2 + elen != vlen)
        return CLX_ECORRUPT;
    it->workspace = clx_xstrdup(id);
    it->alert_id = clx_xstrdup(a + 1);
    it->channel_id = clx_xstrndup(b + 1, idlen - (size_t)(b + 1 - id));
    it->state = (clx_outbox_state_t)v[1];
    it->attempts = get32(v + 2);
    it->created_ms = (int64_t)clx_be64_get(v + 6);
    it->due_ms = (int64_t)clx_be64_get(v + 14);
    it->updated_ms = (int64_t)clx_be64_get(v + 22);
    it->payload = clx_xstrndup((const char *)v + REC_FIXED, plen);
    it->payload_len = plen;
    it->last_error = clx_xstrndup((const char *)v + REC_FIXED + plen + 2, elen);
    return CLX_OK;
}

static int read_item(clx_outbox_t *ob, const char *key, size_t klen, clx_outbox_item_t *out)
{
    char *val = NULL;
    size_t vlen = 0;
    int rc = clx_store_get(ob->store, CLX_CF_OUTBOX, key, klen, &val, &vlen);
    if (rc == CLX_OK) {
        rc = decode(key + 1, klen - 1, (const unsigned char *)val, vlen, out);
        free(val);
    }
    return rc;
}

int clx_outbox_enqueue(clx_outbox_t *ob, const char *workspace, const char *alert_id, const char *channel_id,
                       const void *payload, size_t payload_len, int64_t due_ms, int64_t now_ms)
{
    char key[KEY_MAX], dkey[KEY_MAX];
    clx_outbox_item_t it = {0}, old = {0};
    clx_batch_t *b = NULL;
    unsigned char *rec = NULL;
    int rc;

    if (!id_ok(workspace) || !id_ok(alert_id) || !id_ok(channel_id) || payload_len > CLX_OUTBOX_PAYLOAD_MAX ||
        (payload == NULL && payload_len > 0))
        return CLX_EINVAL;
    it.workspace = (char *)workspace;
    it.alert_id = (char *)alert_id;
    it.channel_id = (char *)channel_id;
    it.payload = (char *)payload;
    it.payload_len = payload_len;
    it.state = CLX_OUTBOX_PENDING;
    it.created_ms = it.updated_ms = now_ms;
    it.due_ms = due_ms;
    it.last_error = "";
    size_t klen = item_key(key, &it), dlen = due_key(dkey, &it, due_ms);
    size_t rlen;

    pthread_mutex_lock(&ob->lock);
    rc = read_item(ob, key, klen, &old);
    if (rc == CLX_OK) {
        clx_outbox_item_dispose(&old);
        rc = CLX_EEXIST;
        goto done;
    }
    if (rc != CLX_ENOTFOUND)
        goto done;
    rec = encode(&it, &rlen);
    b = clx_batch_create();
    clx_batch_put(b, ob->store, CLX_CF_OUTBOX, key, klen, rec, rlen);
    clx_batch_put(b, ob->store, CLX_CF_OUTBOX, dkey, dlen, "", 0);
    rc = clx_store_write(ob->store, b, 1);
done:
    pthread_mutex_unlock(&ob->lock);
    clx_batch_destroy(b);
    free(rec);
    return rc;
}

/* 'f' ws '\0' alert: the fired mark */
static size_t mark_key(char *buf, const char *ws, const char *alert)
{
    size_t a = strlen(ws) + 1, b = strlen(alert);
    buf[0] = 'f';
    memcpy(buf + 1, ws, a);
    memcpy(buf + 1 + a, alert, b);
    return 1 + a + b;
}

int clx_outbox_fired(clx_outbox_t *ob, const char *workspace, const char *alert_id)
{
    char key[KEY_MAX];
    if (!id_ok(workspace) || !id_ok(alert_id))
        return CLX_EINVAL;
    char *val = NULL;
    size_t vlen;
    int rc = clx_store_get(ob->store, CLX_CF_OUTBOX, key, mark_key(key, workspace, alert_id), &val, &vlen);
    free(val);
    return rc;
}

int clx_outbox_fire(clx_outbox_t *ob, const char *workspace, const char *alert_id, const clx_outbox_new_t *items,
                    size_t n, int64_t now_ms)
{
    char key[KEY_MAX], dkey[KEY_MAX], mkey[KEY_MAX];
    int rc;
    if (!id_ok(workspace) || !id_ok(alert_id))
        return CLX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!id_ok(items[i].channel_id) || items[i].payload_len > CLX_OUTBOX_PAYLOAD_MAX ||
            (items[i].payload == NULL && items[i].payload_len > 0))
            return CLX_EINVAL;
    size_t mlen = mark_key(mkey, workspace, alert_id);
    clx_batch_t *b = clx_batch_create();
    unsigned char ts[8];
    clx_be64_put(ts, (uint64_t)now_ms);

    pthread_mutex_lock(&ob->lock);
    char *val = NULL;
    size_t vlen;
    rc = clx_store_get(ob->store, CLX_CF_OUTBOX, mkey, mlen, &val, &vlen);
    free(val);
    if (rc == CLX_OK) {
        rc = CLX_EEXIST;
        goto done;
    }
    if (rc != CLX_ENOTFOUND)
        goto done;
    clx_batch_put(b, ob->store, CLX_CF_OUTBOX, mkey, mlen, ts, sizeof(ts));
    for (size_t i = 0; i < n; i++) {
        clx_outbox_item_t it = {0};
        it.workspace = (char *)workspace;
        it.alert_id = (char *)alert_id;
        it.channel_id = (char *)items[i].channel_id;
        it.payload = (char *)items[i].payload;
        it.payload_len = items[i].payload_len;
        it.state = CLX_OUTBOX_PENDING;
        it.created_ms = it.updated_ms = now_ms;
        it.due_ms = items[i].due_ms;
        it.last_error = "";
        size_t rlen, klen = item_key(key, &it), dlen = due_key(dkey, &it, it.due_ms);
        unsigned char *rec = encode(&it, &rlen);
        clx_batch_put(b, ob->store, CLX_CF_OUTBOX, key, klen, rec, rlen);
        clx_batch_put(b, ob->store, CLX_CF_OUTBOX, dkey, dlen, "", 0);
        free(rec);
    }
    rc = clx_store_write(ob->store, b, 1);
done:
    pthread_mutex_unlock(&ob->lock);
    clx_batch_destroy(b);
    return rc;
}

int clx_outbox_take_due(clx_outbox_t *ob, int64_t now_ms, size_t max, clx_outbox_item_t **items, size_t *n)
{
    clx_iter_t *it = clx_iter_create(ob->store, CLX_CF_OUTBOX, "d", 1);
    clx_outbox_item_t *out = NULL;
    size_t cnt = 0;
    int rc = CLX_OK;
    char key[KEY_MAX];

    *items = NULL;
    *n = 0;
    for (clx_iter_first(it); clx_iter_valid(it) && cnt < max; clx_iter_next(it)) {
        size_t klen;
        const char *k = clx_iter_key(it, &klen);
        if (klen < 10 || klen - 9 + 1 > sizeof(key)) {
            rc = CLX_ECORRUPT;
            break;
        }
        int64_t due = (int64_t)(clx_be64_get((const unsigned char *)k + 1) ^ (1ULL << 63));
        if (due > now_ms)
            break;
        key[0] = 'i';
        memcpy(key + 1, k + 9, klen - 9);
        if (out == NULL)
            out = clx_xcalloc(max, sizeof(*out));
        rc = read_item(ob, key, klen - 8, &out[cnt]);
        if (rc != CLX_OK) {
            rc = rc == CLX_ENOTFOUND ? CLX_ECORRUPT : rc;
            break;
        }
        cnt++;
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    if (rc != CLX_OK) {
        clx_outbox_items_free(out, cnt);
        return rc;
    }
    *items = out;
    *n = cnt;
    return CLX_OK;
}

int clx_outbox_next_due(clx_outbox_t *ob, int64_t *due_ms)
{
    clx_iter_t *it = clx_iter_create(ob->store, CLX_CF_OUTBOX, "d", 1);
    size_t klen;

    *due_ms = INT64_MAX;
    clx_iter_first(it);
    if (clx_iter_valid(it)) {
        const char *k = clx_iter_key(it, &klen);
        if (klen >= 9)
            *due_ms = (int64_t)(clx_be64_get((const unsigned char *)k + 1) ^ (1ULL << 63));
    }
    int rc = clx_iter_status(it);
    clx_iter_destroy(it);
    return rc;
}

/* Moves a pending item to (state, due) with one more attempt; one synced batch. */
static int settle(clx_outbox_t *ob, clx_outbox_item_t *it, clx_outbox_state_t state, const char *error,
                  int64_t next_due, int64_t now_ms)
{
    char key[KEY_MAX], old_due[KEY_MAX], new_due[KEY_MAX];
    clx_outbox_item_t cur = {0};
    clx_batch_t *b = NULL;
    unsigned char *rec = NULL;
    size_t rlen;
    int rc;

    if (!id_ok(it->workspace) || !id_ok(it->alert_id) || !id_ok(it->channel_id))
        return CLX_EINVAL;
    size_t klen = item_key(key, it);
    pthread_mutex_lock(&ob->lock);
    rc = read_item(ob, key, klen, &cur); /* the stored record decides, not the caller's copy */
    if (rc != CLX_OK)
        goto done;
    if (cur.state != CLX_OUTBOX_PENDING) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    size_t olen = due_key(old_due, &cur, cur.due_ms);
    cur.state = state;
    cur.attempts++;
    cur.updated_ms = now_ms;
    cur.due_ms = state == CLX_OUTBOX_PENDING ? next_due : now_ms;
    free(cur.last_error);
    cur.last_error = clx_xstrdup(error != NULL ? error : "");
    rec = encode(&cur, &rlen);
    b = clx_batch_create();
    clx_batch_delete(b, ob->store, CLX_CF_OUTBOX, old_due, olen);
    clx_batch_put(b, ob->store, CLX_CF_OUTBOX, key, klen, rec, rlen);
    if (state == CLX_OUTBOX_PENDING) {
        size_t nlen = due_key(new_due, &cur, next_due);
        clx_batch_put(b, ob->store, CLX_CF_OUTBOX, new_due, nlen, "", 0);
    }
    rc = clx_store_write(ob->store, b, 1);
    if (rc == CLX_OK) { /* the caller's copy now matches what is stored */
        it->state = cur.state;
        it->attempts = cur.attempts;
        it->updated_ms = cur.updated_ms;
        it->due_ms = cur.due_ms;
        free(it->last_error);
        it->last_error = clx_xstrdup(cur.last_error);
    }
done:
    pthread_mutex_unlock(&ob->lock);
    clx_outbox_item_dispose(&cur);
    clx_batch_destroy(b);
    free(rec);
    return rc;
}

int clx_outbox_mark_delivered(clx_outbox_t *ob, clx_outbox_item_t *it, int64_t now_ms)
{
    return settle(ob, it, CLX_OUTBOX_DELIVERED, "", 0, now_ms);
}

int clx_outbox_mark_retry(clx_outbox_t *ob, clx_outbox_item_t *it, const char *error, int64_t next_due_ms,
                          int64_t now_ms)
{
    return settle(ob, it, CLX_OUTBOX_PENDING, error, next_due_ms, now_ms);
}

int clx_outbox_mark_failed(clx_outbox_t *ob, clx_outbox_item_t *it, const char *error, int64_t now_ms)
{
    return settle(ob, it, CLX_OUTBOX_FAILED, error, 0, now_ms);
}

int clx_outbox_get(clx_outbox_t *ob, const char *workspace, const char *alert_id, const char *channel_id,
                   clx_outbox_item_t *out)
{
    char key[KEY_MAX];
    clx_outbox_item_t probe = {.workspace = (char *)workspace, .alert_id = (char *)alert_id,
                               .channel_id = (char *)channel_id};

    memset(out, 0, sizeof(*out));
    if (!id_ok(workspace) || !id_ok(alert_id) || !id_ok(channel_id))
        return CLX_ENOTFOUND;
    return read_item(ob, key, item_key(key, &probe), out);
}

int clx_outbox_each(clx_outbox_t *ob, const char *workspace, int (*fn)(void *ctx, const clx_outbox_item_t *it),
                    void *ctx)
{
    char prefix[1 + CLX_OUTBOX_ID_MAX + 1];
    int rc = CLX_OK;

    if (!id_ok(workspace))
        return CLX_OK;
    prefix[0] = 'i';
    size_t plen = strlen(workspace) + 1;
    memcpy(prefix + 1, workspace, plen); /* with its NUL: "a" must not list "ab" */
    clx_iter_t *it = clx_iter_create(ob->store, CLX_CF_OUTBOX, prefix, plen + 1);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        const char *v = clx_iter_value(it, &vlen);
        clx_outbox_item_t item;
        rc = decode(k + 1, klen - 1, (const unsigned char *)v, vlen, &item);
        if (rc != CLX_OK)
            break;
        int stop = fn(ctx, &item);
        clx_outbox_item_dispose(&item);
        if (stop)
            break;
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    return rc;
}

int clx_outbox_prune(clx_outbox_t *ob, int64_t before_ms, size_t *removed)
{
    int rc = CLX_OK;
    size_t n = 0;
    clx_batch_t *b = clx_batch_create();
    pthread_mutex_lock(&ob->lock); /* no settle of the same item meanwhile */
    clx_iter_t *it = clx_iter_create(ob->store, CLX_CF_OUTBOX, "i", 1);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        const unsigned char *v = (const unsigned char *)clx_iter_value(it, &vlen);
        /* state and updated_ms are at fixed places of the record: no copy of the item needed */
        if (vlen < REC_FIXED || v[0] != REC_VERSION) {
            rc = CLX_ECORRUPT;
            break;
        }
        int64_t updated = (int64_t)clx_be64_get(v + 22);
        if (v[1] != CLX_OUTBOX_PENDING && updated < before_ms) {
            clx_batch_delete(b, ob->store, CLX_CF_OUTBOX, k, klen); /* settled items have no due entry */
            n++;
        }
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    if (rc == CLX_OK && n > 0)
        rc = clx_store_write(ob->store, b, 1);
    pthread_mutex_unlock(&ob->lock);
    clx_batch_destroy(b);
    if (removed != NULL)
        *removed = rc == CLX_OK ? n : 0;
    return rc;
}
