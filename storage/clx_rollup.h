/*
 * clx_rollup.h — keys of the rollups column family: usage counters per time bucket and
 * per attribution (project, environment, feature, provider, model, flags), maintained at
 * write time so dashboards never scan events.
 *
 * Key: granularity ('h' hour, 'd' day) | workspace | '\0' | bucket (4 bytes BE: hours or
 * days since the Unix epoch, UTC) | flags (1 byte) | project '\0' environment '\0'
 * feature '\0' provider '\0' model. Project and environment are as sent (after key
 * defaults); the flags say whether they were attributed.
 */
#ifndef CLX_ROLLUP_H
#define CLX_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#define CLX_ROLLUP_HOUR 'h'
#define CLX_ROLLUP_DAY 'd'
/* per day: events refused by a key's environment lock; dims: project = key id,
 * environment = the one the event named, feature = the locked one */
#define CLX_ROLLUP_LOCK 'x'
#define CLX_MS_PER_HOUR 3600000LL
#define CLX_MS_PER_DAY 86400000LL

typedef struct clx_rollup_dims {
    const char *project; /* as sent */
    const char *environment;
    const char *feature;
    const char *provider; /* normalised */
    const char *model;    /* as sent */
    uint32_t flags;       /* EventFlag bits of records.proto */
} clx_rollup_dims_t;

/* Bytes clx_rollup_key_encode writes for these dims. */
size_t clx_rollup_key_size(const char *ws, const clx_rollup_dims_t *d);
/* Writes the key into buf (clx_rollup_key_size bytes); returns its length. */
size_t clx_rollup_key_encode(char *buf, char granularity, const char *ws, uint32_t bucket, const clx_rollup_dims_t *d);
/* Writes the prefix of every key of (granularity, ws, bucket) into buf; returns its length. */
size_t clx_rollup_key_prefix(char *buf, char granularity, const char *ws, uint32_t bucket, int with_bucket);
/*
 * Decodes key (klen bytes after the workspace prefix of length plen, i.e. key+plen points at
 * the bucket) into *bucket and *d, whose strings point into scratch (>= klen bytes).
 * Returns 0, or -1 for a malformed key.
 */
int clx_rollup_key_decode(const char *key, size_t klen, size_t plen, char *scratch, uint32_t *bucket,
                          clx_rollup_dims_t *d);

#endif
