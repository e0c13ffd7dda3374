/*
 * rollup.c — encoding and decoding of rollup keys; the counters themselves are
 * clx_rollup_t records merged by the store (store.c).
 */
#include "clx_rollup.h"

#include <string.h>

#include "clx_store.h"

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
