/*
 * rollup.c — rollup keys and rollup records (clx_rollup_t, versions 1 and 2); the store's
 * merge operator (store.c) adds records up with these functions.
 */
#include "clx_rollup.h"

#include <string.h>

#include "clx_error.h"
#include "clx_store.h"

#define ROLLUP_V2 2
#define ROLLUP_SUMS 6

/* ---- records ------------------------------------------------------------------------------- */

static void put_le(unsigned char *p, unsigned __int128 v, int bytes)
{
    for (int k = 0; k < bytes; k++, v >>= 8)
        p[k] = (unsigned char)v;
}

static unsigned __int128 get_le(const unsigned char *p, int bytes)
{
    unsigned __int128 v = 0;
    for (int k = bytes - 1; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

void clx_rollup_pack(const clx_rollup_t *r, unsigned char out[CLX_ROLLUP_LEN])
{
    const clx_i128_t sums[ROLLUP_SUMS] = {r->events,        r->input_tokens,       r->output_tokens,
                                          r->cached_tokens, r->cache_write_tokens, r->cost_nanos};
    out[0] = ROLLUP_V2;
    for (int i = 0; i < ROLLUP_SUMS; i++)
        put_le(out + 1 + 16 * i, (unsigned __int128)sums[i], 16);
    put_le(out + 1 + 16 * ROLLUP_SUMS, (uint64_t)r->first_ms, 8);
    put_le(out + 1 + 16 * ROLLUP_SUMS + 8, (uint64_t)r->last_ms, 8);
}

int clx_rollup_unpack(const void *data, size_t len, clx_rollup_t *r)
{
    const unsigned char *p = data;
    clx_i128_t sums[ROLLUP_SUMS];
    if (len == CLX_ROLLUP_V1_LEN) { /* eight int64, written before the sums were widened */
        for (int i = 0; i < ROLLUP_SUMS; i++)
            sums[i] = (int64_t)(uint64_t)get_le(p + 8 * i, 8);
        r->first_ms = (int64_t)(uint64_t)get_le(p + 48, 8);
        r->last_ms = (int64_t)(uint64_t)get_le(p + 56, 8);
    } else if (len == CLX_ROLLUP_LEN && p[0] == ROLLUP_V2) {
        for (int i = 0; i < ROLLUP_SUMS; i++)
            sums[i] = (clx_i128_t)get_le(p + 1 + 16 * i, 16);
        r->first_ms = (int64_t)(uint64_t)get_le(p + 1 + 16 * ROLLUP_SUMS, 8);
        r->last_ms = (int64_t)(uint64_t)get_le(p + 1 + 16 * ROLLUP_SUMS + 8, 8);
    } else {
        return CLX_ECORRUPT;
    }
    r->events = sums[0];
    r->input_tokens = sums[1];
    r->output_tokens = sums[2];
    r->cached_tokens = sums[3];
    r->cache_write_tokens = sums[4];
    r->cost_nanos = sums[5];
    return CLX_OK;
}

void clx_rollup_add(clx_rollup_t *a, const clx_rollup_t *b)
{
    a->events += b->events;
    a->input_tokens += b->input_tokens;
    a->output_tokens += b->output_tokens;
    a->cached_tokens += b->cached_tokens;
    a->cache_write_tokens += b->cache_write_tokens;
    a->cost_nanos += b->cost_nanos;
    if (b->first_ms != 0 && (a->first_ms == 0 || b->first_ms < a->first_ms))
        a->first_ms = b->first_ms;
    if (b->last_ms > a->last_ms)
        a->last_ms = b->last_ms;
}

/* ---- keys ---------------------------------------------------------------------------------- */

size_t clx_rollup_key_size(const char *ws, const clx_rollup_dims_t *d)
{
    return 1 + strlen(ws) + 1 + 4 + 1 + strlen(d->project) + 1 + strlen(d->environment) + 1 + strlen(d->feature) + 1 +
           strlen(d->provider) + 1 + strlen(d->model);
}

size_t clx_rollup_key_prefix(char *buf, char granularity, const char *ws, uint32_t bucket, int with_bucket)
{
    size_t n = 0, wl = strlen(ws);
    buf[n++] = granularity;
    memcpy(buf + n, ws, wl + 1);
    n += wl + 1;
    if (with_bucket) {
        for (int i = 3; i >= 0; i--)
            buf[n++] = (char)(bucket >> (8 * i));
    }
    return n;
}

size_t clx_rollup_key_encode(char *buf, char granularity, const char *ws, uint32_t bucket, const clx_rollup_dims_t *d)
{
    size_t n = clx_rollup_key_prefix(buf, granularity, ws, bucket, 1);
    buf[n++] = (char)(d->flags & 0xff);
    const char *parts[5] = {d->project, d->environment, d->feature, d->provider, d->model};
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]);
        memcpy(buf + n, parts[i], l);
        n += l;
        if (i < 4)
            buf[n++] = '\0';
    }
    return n;
}

int clx_rollup_key_decode(const char *key, size_t klen, size_t plen, char *scratch, uint32_t *bucket,
                          clx_rollup_dims_t *d)
{
    if (klen < plen + 5)
        return -1;
    const unsigned char *p = (const unsigned char *)key + plen;
    *bucket = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    d->flags = p[4];
    size_t rest = klen - plen - 5;
    memcpy(scratch, key + plen + 5, rest);
    scratch[rest] = '\0';
    const char **parts[5] = {&d->project, &d->environment, &d->feature, &d->provider, &d->model};
    char *s = scratch;
    for (int i = 0; i < 5; i++) {
        *parts[i] = s;
        if (i == 4)
            break;
        char *z = memchr(s, '\0', (size_t)(scratch + rest - s));
        if (z == NULL)
            return -1;
        s = z + 1;
    }
    return 0;
}
