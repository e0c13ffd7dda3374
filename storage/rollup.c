/*
 * rollup.c — the rollups family: records (versions 1 and 2) and their merge, keys, the
 * deltas of a stored event, one merge per key for a group of writes, and the compaction
 * upkeep thread.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "clx_rollup.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_dims.h"
#include "clx_error.h"
#include "clx_events.h" /* clx_event_time_ms */
#include "clx_log.h"

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
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bytes == 16) { /* the hot case (every rollup a query reads): the bytes are the value */
        unsigned __int128 v;
        memcpy(&v, p, 16);
        return v;
    }
    if (bytes == 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
#endif
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

#define ROLLUP_V3 3

static size_t put_varint(unsigned char *p, unsigned __int128 v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint of at most max_bytes from p (< end): the bytes read, or 0 when malformed. */
static size_t get_varint(const unsigned char *p, const unsigned char *end, int max_bytes, unsigned __int128 *v)
{
    /* the usual case, up to 9 bytes (63 bits), in 64-bit arithmetic */
    uint64_t u = 0;
    for (int i = 0; i < 9 && i < max_bytes && p + i < end; i++) {
        u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = u;
            return (size_t)i + 1;
        }
    }
    *v = 0;
    for (int i = 0; i < max_bytes && p + i < end; i++) {
        *v |= (unsigned __int128)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            return (size_t)i + 1;
    }
    return 0;
}

static unsigned __int128 zigzag(clx_i128_t v)
{
    return ((unsigned __int128)v << 1) ^ (unsigned __int128)(v >> 127);
}

static clx_i128_t unzigzag(unsigned __int128 u)
{
    return (clx_i128_t)(u >> 1) ^ -(clx_i128_t)(u & 1);
}

size_t clx_rollup_pack_compact(const clx_rollup_t *r, unsigned char out[CLX_ROLLUP_COMPACT_MAX])
{
    const clx_i128_t f[ROLLUP_SUMS + 2] = {
        r->events,     r->input_tokens,         r->output_tokens,      r->cached_tokens, r->cache_write_tokens,
        r->cost_nanos, (clx_i128_t)r->first_ms, (clx_i128_t)r->last_ms};
    size_t n = 0;
    out[n++] = ROLLUP_V3;
    for (int i = 0; i < ROLLUP_SUMS + 2; i++)
        n += put_varint(out + n, zigzag(f[i]));
    if (n == CLX_ROLLUP_V1_LEN)
        out[n++] = 0; /* never 64 bytes: that length is version 1 */
    return n;
}

static int unpack_compact(const unsigned char *p, size_t len, clx_rollup_t *r)
{
    const unsigned char *end = p + len, *q = p + 1;
    clx_i128_t f[ROLLUP_SUMS + 2];
    for (int i = 0; i < ROLLUP_SUMS + 2; i++) {
        unsigned __int128 u;
        size_t k = get_varint(q, end, i < ROLLUP_SUMS ? 19 : 10, &u);
        if (k == 0)
            return CLX_ECORRUPT;
        q += k;
        f[i] = unzigzag(u);
    }
    if (q < end && !(q + 1 == end && *q == 0 && len == CLX_ROLLUP_V1_LEN + 1))
        return CLX_ECORRUPT;
    r->events = f[0];
    r->input_tokens = f[1];
    r->output_tokens = f[2];
    r->cached_tokens = f[3];
    r->cache_write_tokens = f[4];
    r->cost_nanos = f[5];
    r->first_ms = (int64_t)f[6];
    r->last_ms = (int64_t)f[7];
    return CLX_OK;
}

int clx_rollup_unpack(const void *data, size_t len, clx_rollup_t *r)
{
    const unsigned char *p = data;
    clx_i128_t sums[ROLLUP_SUMS];
    if (len > 0 && len != CLX_ROLLUP_V1_LEN && p[0] == ROLLUP_V3)
        return unpack_compact(p, len, r);
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

char *clx_rollup_merge(const char *existing, size_t elen, const char *const *ops, const size_t *oplens, int n,
                       size_t *outlen)
{
    return clx_rollup_merge_as(existing, elen, ops, oplens, n, 0, outlen);
}

char *clx_rollup_merge_as(const char *existing, size_t elen, const char *const *ops, const size_t *oplens, int n,
                          int compact, size_t *outlen)
{
    clx_rollup_t acc = {0}, x;
    if (existing != NULL && clx_rollup_unpack(existing, elen, &acc) != CLX_OK)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (clx_rollup_unpack(ops[i], oplens[i], &x) != CLX_OK)
            return NULL;
        clx_rollup_add(&acc, &x);
    }
    char *out = malloc(CLX_ROLLUP_LEN > CLX_ROLLUP_COMPACT_MAX ? CLX_ROLLUP_LEN : CLX_ROLLUP_COMPACT_MAX);
    if (out == NULL) /* RocksDB frees it with free(): no clx_xmalloc abort here */
        return NULL;
    if (compact) {
        *outlen = clx_rollup_pack_compact(&acc, (unsigned char *)out);
    } else {
        clx_rollup_pack(&acc, (unsigned char *)out);
        *outlen = CLX_ROLLUP_LEN;
    }
    return out;
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

/* ---- deltas --------------------------------------------------------------------------------- */

_Static_assert(CLX_ROLLUP_PER_EVENT == 2 + CLX_DIMS_PER_EVENT, "an event's refs: hour, day and its dims");

size_t clx_rollup_event_refs(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, int sign,
                             clx_rollup_ref_t *refs)
{
    static const char granularity[2] = {CLX_ROLLUP_HOUR, CLX_ROLLUP_DAY};
    static const int64_t width[2] = {CLX_MS_PER_HOUR, CLX_MS_PER_DAY};
    clx_rollup_dims_t d = {
        .project = rec->project_as_sent,
        .environment = rec->environment_as_sent,
        .feature = rec->feature,
        .provider = rec->provider,
        .model = rec->model,
        .flags = rec->flags,
    };
    int64_t at = clx_event_time_ms(rec);
    int64_t k = sign < 0 ? -1 : 1;
    size_t size = clx_rollup_key_size(ws, &d);
    clx_rollup_t delta = {
        .events = k,
        .input_tokens = (clx_i128_t)k * rec->input_tokens,
        .output_tokens = (clx_i128_t)k * rec->output_tokens,
        .cached_tokens = (clx_i128_t)k * rec->cached_tokens,
        .cache_write_tokens = (clx_i128_t)k * rec->cache_write_tokens,
        .cost_nanos = (clx_i128_t)k * rec->cost_nanos,
        .first_ms = sign < 0 ? 0 : at,
        .last_ms = sign < 0 ? 0 : at,
    };
    for (int g = 0; g < 2; g++) {
        char *key = clx_arena_alloc(arena, size);
        refs[g].klen = clx_rollup_key_encode(key, granularity[g], ws, (uint32_t)(at / width[g]), &d);
        refs[g].key = key;
        refs[g].delta = delta;
        refs[g].dims = 0;
    }
    return 2 + clx_dims_event_refs(arena, ws, rec, at / CLX_MS_PER_DAY, &delta, refs + 2);
}

void clx_rollup_voided_ref(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec,
                           clx_rollup_ref_t *ref)
{
    clx_rollup_dims_t d = {
        .project = rec->project_as_sent,
        .environment = rec->environment_as_sent,
        .feature = rec->feature,
        .provider = rec->provider,
        .model = rec->model,
        .flags = rec->flags,
    };
    int64_t at = clx_event_time_ms(rec);
    char *key = clx_arena_alloc(arena, clx_rollup_key_size(ws, &d));
    ref->klen = clx_rollup_key_encode(key, CLX_ROLLUP_VOIDED, ws, (uint32_t)(at / CLX_MS_PER_DAY), &d);
    ref->key = key;
    ref->delta = (clx_rollup_t){
        .events = 1,
        .input_tokens = rec->input_tokens,
        .output_tokens = rec->output_tokens,
        .cached_tokens = rec->cached_tokens,
        .cache_write_tokens = rec->cache_write_tokens,
        .cost_nanos = rec->cost_nanos,
        .first_ms = at,
        .last_ms = at,
    };
    ref->dims = 0;
}

void clx_rollup_lock_ref(clx_arena_t *arena, const char *ws, const char *key_id, const char *environment,
                         const char *locked_environment, int64_t at_ms, clx_rollup_ref_t *ref)
{
    clx_rollup_dims_t d = {
        .project = key_id, .environment = environment, .feature = locked_environment, .provider = "", .model = ""};
    char *key = clx_arena_alloc(arena, clx_rollup_key_size(ws, &d));
    ref->klen = clx_rollup_key_encode(key, CLX_ROLLUP_LOCK, ws, (uint32_t)(at_ms / CLX_MS_PER_DAY), &d);
    ref->key = key;
    ref->delta = (clx_rollup_t){.events = 1, .first_ms = at_ms, .last_ms = at_ms};
    ref->dims = 0;
}

/* ---- summing a group ------------------------------------------------------------------------ */

static int cmp_ref(const void *a, const void *b)
{
    const clx_rollup_ref_t *x = *(const clx_rollup_ref_t *const *)a, *y = *(const clx_rollup_ref_t *const *)b;
    if (x->dims != y->dims)
        return x->dims < y->dims ? -1 : 1;
    int c = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);
    return c != 0 ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

size_t clx_rollup_merge_refs(clx_batch_t *b, clx_store_t *s, const clx_rollup_ref_t **refs, size_t n)
{
    size_t merges = 0;
    if (n > 1)
        qsort(refs, n, sizeof(*refs), cmp_ref);
    for (size_t i = 0; i < n;) {
        clx_rollup_t sum = refs[i]->delta;
        size_t j = i + 1;
        while (j < n && cmp_ref(&refs[i], &refs[j]) == 0)
            clx_rollup_add(&sum, &refs[j++]->delta);
        unsigned char packed[CLX_ROLLUP_LEN > CLX_ROLLUP_COMPACT_MAX ? CLX_ROLLUP_LEN : CLX_ROLLUP_COMPACT_MAX];
        if (refs[i]->dims) { /* the dims family keeps compact records (version 3) */
            size_t plen = clx_rollup_pack_compact(&sum, packed);
            clx_batch_merge_counters(b, s, CLX_CF_DIMS, refs[i]->key, refs[i]->klen, packed, plen);
        } else {
            clx_rollup_pack(&sum, packed);
            clx_batch_merge_counters(b, s, CLX_CF_ROLLUPS, refs[i]->key, refs[i]->klen, packed, CLX_ROLLUP_LEN);
        }
        merges++;
        i = j;
    }
    return merges;
}

/* ---- upkeep ----------------------------------------------------------------------------------- */

/*
 * Merge operands pile up under a burst of writes until compaction folds them, and every
 * dashboard query pays for the unfolded ones: compact the family soon after a burst.
 */
#define UPKEEP_INTERVAL_MS 10000
#define UPKEEP_MERGES 100000 /* merges since the last compaction that warrant another */

struct clx_rollup_upkeep {
    clx_store_t *s;
    atomic_uint_fast64_t merges;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *upkeep_main(void *arg)
{
    clx_rollup_upkeep_t *u = arg;
    uint64_t compacted_at = 0;
    pthread_setname_np(pthread_self(), "clx-maint");
    pthread_mutex_lock(&u->mu);
    while (!u->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += UPKEEP_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&u->cv, &u->mu, &until);
        if (u->stop)
            break;
        uint64_t merges = atomic_load(&u->merges);
        if (merges - compacted_at < UPKEEP_MERGES)
            continue;
        pthread_mutex_unlock(&u->mu);
        int rc = clx_store_compact(u->s, CLX_CF_ROLLUPS);
        if (rc == CLX_OK) /* the dims family takes the same bursts (and top-N reads pay alike) */
            rc = clx_store_compact(u->s, CLX_CF_DIMS);
        if (rc != CLX_OK && rc != CLX_ENOSPC)
            clx_log(CLX_LOG_WARN, "store", "rollups compaction failed; queries stay correct, only slower");
        if (rc != CLX_ENOSPC) /* no room to compact now: try again at the next tick */
            compacted_at = merges;
        pthread_mutex_lock(&u->mu);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

clx_rollup_upkeep_t *clx_rollup_upkeep_start(clx_store_t *s)
{
    clx_rollup_upkeep_t *u = clx_xcalloc(1, sizeof(*u));
    u->s = s;
    atomic_init(&u->merges, 0);
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    if (pthread_create(&u->thread, NULL, upkeep_main, u) != 0) {
        clx_log(CLX_LOG_WARN, "store", "cannot start the rollups upkeep thread; queries stay correct, only slower");
        pthread_cond_destroy(&u->cv);
        pthread_mutex_destroy(&u->mu);
        free(u);
        return NULL;
    }
    return u;
}

void clx_rollup_upkeep_note(clx_rollup_upkeep_t *u, size_t merges)
{
    if (u != NULL)
        atomic_fetch_add_explicit(&u->merges, merges, memory_order_relaxed);
}

void clx_rollup_upkeep_stop(clx_rollup_upkeep_t *u)
{
    if (u == NULL)
        return;
    pthread_mutex_lock(&u->mu);
    u->stop = 1;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->thread, NULL);
    pthread_cond_destroy(&u->cv);
    pthread_mutex_destroy(&u->mu);
    free(u);
}
