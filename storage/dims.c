/*
 * dims.c — the dims family: usage counters per end user, ingestion key and declared tag
 * value in aligned day buckets of three widths; their keys, an event's deltas, and the sums
 * over a range of days that top-N queries read.
 */
#include "clx_dims.h"

#include <string.h>

#include <stdlib.h>

#include "clx_error.h"
#include "clx_hash.h"
#include "clx_log.h"

/*
 * 1, 4 and 16 days. A range of n days is tiled by at most about 2·3 + n/16 buckets (the
 * edges in smaller ones); "the last 30 days" reads 5 to 9 of them, and the coarse ones
 * already hold each value once. Writes cost one merge per level and value: three for an
 * event's user (docs/design.md, Rollups, has the measurements behind the choice).
 */
static const uint32_t spans[CLX_DIMS_LEVELS] = {1, 4, 16};

uint32_t clx_dims_span(int level)
{
    return spans[level];
}

size_t clx_dims_key_size(const char *ws, const char *space, const char *value)
{
    return 1 + strlen(ws) + 1 + strlen(space) + 1 + 1 + 4 + 1 + strlen(value);
}

/* kind | ws '\0' | space '\0' | level | bucket: the prefix of one bucket's range. */
static size_t put_prefix(char *buf, char kind, const char *ws, const char *space, int level, uint32_t bucket)
{
    size_t n = 0, wl = strlen(ws), sl = strlen(space);
    buf[n++] = kind;
    memcpy(buf + n, ws, wl + 1);
    n += wl + 1;
    memcpy(buf + n, space, sl + 1);
    n += sl + 1;
    buf[n++] = (char)level;
    for (int i = 3; i >= 0; i--)
        buf[n++] = (char)(bucket >> (8 * i));
    return n;
}

size_t clx_dims_key_encode(char *buf, char kind, const char *ws, const char *space, int level, uint32_t bucket,
                           uint8_t flags, const char *value)
{
    size_t n = put_prefix(buf, kind, ws, space, level, bucket);
    size_t vl = strlen(value);
    buf[n++] = (char)flags;
    memcpy(buf + n, value, vl);
    return n + vl;
}

int clx_dims_key_decode(const char *key, size_t klen, char *kind, const char **space, size_t *slen, int *level,
                        uint32_t *bucket, uint8_t *flags, const char **value, size_t *vlen)
{
    if (klen < 1)
        return -1;
    const char *ws_end = memchr(key + 1, '\0', klen - 1);
    if (ws_end == NULL)
        return -1;
    const char *sp = ws_end + 1;
    const char *sp_end = memchr(sp, '\0', (size_t)(key + klen - sp));
    if (sp_end == NULL || (size_t)(key + klen - sp_end) < 1 + 1 + 4 + 1)
        return -1;
    const unsigned char *p = (const unsigned char *)sp_end + 1;
    if (p[0] >= CLX_DIMS_LEVELS)
        return -1;
    *kind = key[0];
    *space = sp;
    *slen = (size_t)(sp_end - sp);
    *level = p[0];
    *bucket = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    *flags = p[5];
    *value = (const char *)p + 6;
    *vlen = klen - (size_t)((const char *)p + 6 - key);
    return 0;
}

size_t clx_dims_tile(int64_t from_day, int64_t to_day, int *levels, uint32_t *buckets, size_t max)
{
    size_t n = 0;
    for (int64_t d = from_day < 0 ? 0 : from_day; d < to_day;) {
        int l = CLX_DIMS_LEVELS - 1;
        while (l > 0 && (d % spans[l] != 0 || d + spans[l] > to_day))
            l--;
        if (n < max) {
            levels[n] = l;
            buckets[n] = (uint32_t)d;
        }
        n++;
        d += spans[l];
    }
    return n;
}

uint32_t clx_dims_rolled_tags(const Costlynx__Store__V1__StoredEvent *rec, char *const *declared, size_t ndeclared)
{
    uint32_t bits = 0;
    for (size_t t = 0; t < rec->n_tags && t < 32; t++)
        for (size_t i = 0; i < ndeclared; i++)
            if (rec->tags[t] != NULL && rec->tags[t]->key != NULL && strcmp(rec->tags[t]->key, declared[i]) == 0)
                bits |= 1u << t;
    return bits;
}

size_t clx_dims_event_refs(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, int64_t day,
                           const clx_rollup_t *delta, clx_rollup_ref_t *refs)
{
    /* (kind, space, value) of each dimension the event has */
    char kinds[2 + CLX_DIMS_MAX_TAGS];
    const char *space[2 + CLX_DIMS_MAX_TAGS], *value[2 + CLX_DIMS_MAX_TAGS];
    size_t nd = 0;
    if (rec->user_id != NULL && rec->user_id[0] != '\0') {
        kinds[nd] = CLX_DIM_KIND_USER;
        space[nd] = "";
        value[nd++] = rec->user_id;
    }
    if (rec->key_id != NULL && rec->key_id[0] != '\0') {
        kinds[nd] = CLX_DIM_KIND_KEY;
        space[nd] = "";
        value[nd++] = rec->key_id;
    }
    for (size_t t = 0; t < rec->n_tags && t < 32 && nd < 2 + CLX_DIMS_MAX_TAGS; t++) {
        if (!(rec->rolled_tags & (1u << t)) || rec->tags[t] == NULL)
            continue;
        kinds[nd] = CLX_DIM_KIND_TAG;
        space[nd] = rec->tags[t]->key != NULL ? rec->tags[t]->key : "";
        value[nd++] = rec->tags[t]->value != NULL ? rec->tags[t]->value : "";
    }
    uint8_t flags = (rec->flags & COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED) ? 1 : 0;
    uint32_t d = (uint32_t)(day < 0 ? 0 : day);
    size_t n = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t size = clx_dims_key_size(ws, space[i], value[i]);
        for (int l = 0; l < CLX_DIMS_LEVELS; l++) {
            char *key = clx_arena_alloc(arena, size);
            refs[n].klen = clx_dims_key_encode(key, kinds[i], ws, space[i], l, d - d % spans[l], flags, value[i]);
            refs[n].key = key;
            refs[n].delta = *delta;
            refs[n].dims = 1;
            n++;
        }
    }
    return n;
}

/* ---- sums over a range ---------------------------------------------------------------------- */

/*
 * The rows of a sum, found by value through an open-addressing table of row indexes (the
 * value's bytes live in the row, in the arena): no copy of a key per value, as a general map
 * would make — the table is the query's hot path (one lookup per key read).
 */
struct acc {
    clx_arena_t *arena;
    clx_dims_row_t *rows;
    uint32_t *vlens; /* per row: the value's length */
    uint64_t *hashes;
    size_t n, cap;
    uint32_t *slots; /* row index + 1; 0 empty */
    size_t mask;
};

static void acc_grow_slots(struct acc *a)
{
    size_t nslots = (a->mask + 1) * 2;
    uint32_t *slots = clx_xcalloc(nslots, sizeof(*slots));
    for (size_t r = 0; r < a->n; r++) {
        size_t h = (size_t)a->hashes[r] & (nslots - 1);
        while (slots[h] != 0)
            h = (h + 1) & (nslots - 1);
        slots[h] = (uint32_t)(r + 1);
    }
    free(a->slots);
    a->slots = slots;
    a->mask = nslots - 1;
}

static clx_dims_row_t *row_of(struct acc *a, const char *value, size_t vlen, int64_t day_ms)
{
    uint64_t hv = clx_fnv1a64(clx_fnv1a64(CLX_FNV1A64_INIT, &day_ms, sizeof(day_ms)), value, vlen);
    size_t h = (size_t)hv & a->mask;
    for (; a->slots[h] != 0; h = (h + 1) & a->mask) {
        size_t r = a->slots[h] - 1;
        if (a->hashes[r] == hv && a->vlens[r] == vlen && a->rows[r].day_ms == day_ms &&
            memcmp(a->rows[r].value, value, vlen) == 0)
            return &a->rows[r];
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        clx_dims_row_t *rows = clx_arena_alloc(a->arena, cap * sizeof(*rows));
        if (a->n)
            memcpy(rows, a->rows, a->n * sizeof(*rows));
        a->rows = rows;
        a->vlens = clx_xrealloc(a->vlens, cap * sizeof(*a->vlens));
        a->hashes = clx_xrealloc(a->hashes, cap * sizeof(*a->hashes));
        a->cap = cap;
    }
    size_t r = a->n++;
    clx_dims_row_t *row = &a->rows[r];
    memset(row, 0, sizeof(*row));
    row->value = clx_arena_strndup(a->arena, value, vlen);
    row->day_ms = day_ms;
    a->vlens[r] = (uint32_t)vlen;
    a->hashes[r] = hv;
    a->slots[h] = (uint32_t)(r + 1);
    if (2 * a->n > a->mask + 1) /* at most half full */
        acc_grow_slots(a);
    return row;
}

int clx_dims_sum(clx_store_t *s, char kind, const char *ws, const char *tag_key, int64_t from_day, int64_t to_day,
                 int by_day, clx_arena_t *arena, clx_dims_row_t **rows, size_t *nrows, clx_dims_row_t *total)
{
    const char *space = kind == CLX_DIM_KIND_TAG && tag_key != NULL ? tag_key : "";
    memset(total, 0, sizeof(*total));
    *rows = NULL;
    *nrows = 0;
    if (from_day < 0)
        from_day = 0;
    if (to_day > (int64_t)UINT32_MAX)
        to_day = UINT32_MAX;
    if (to_day <= from_day)
        return CLX_OK;

    /* by day: the 1-day buckets only; else the fewest that tile the range */
    size_t ntiles = by_day ? (size_t)(to_day - from_day) : clx_dims_tile(from_day, to_day, NULL, NULL, 0);
    int *levels = clx_arena_alloc(arena, ntiles * sizeof(*levels));
    uint32_t *buckets = clx_arena_alloc(arena, ntiles * sizeof(*buckets));
    if (by_day) {
        for (size_t i = 0; i < ntiles; i++) {
            levels[i] = 0;
            buckets[i] = (uint32_t)(from_day + (int64_t)i);
        }
    } else {
        clx_dims_tile(from_day, to_day, levels, buckets, ntiles);
    }

    size_t prefix_cap = clx_dims_key_size(ws, space, "");
    char *prefix = clx_arena_alloc(arena, prefix_cap);
    size_t plen = put_prefix(prefix, kind, ws, space, 0, 0); /* every level and bucket of (kind, ws, space) */
    plen -= 5;
    struct acc acc = {.arena = arena, .mask = 4095};
    acc.slots = clx_xcalloc(acc.mask + 1, sizeof(*acc.slots));
    int rc = CLX_OK;
    clx_iter_t *it = clx_iter_create(s, CLX_CF_DIMS, prefix, plen);
    for (size_t t = 0; t < ntiles && rc == CLX_OK; t++) {
        size_t blen = put_prefix(prefix, kind, ws, space, levels[t], buckets[t]);
        int64_t day_ms = by_day ? (int64_t)buckets[t] * CLX_MS_PER_DAY : 0;
        for (clx_iter_seek(it, prefix, blen); clx_iter_valid(it); clx_iter_next(it)) {
            size_t klen, vlen, slen, valen;
            const char *key = clx_iter_key(it, &klen);
            if (klen < blen + 1 || memcmp(key, prefix, blen) != 0)
                break; /* past this bucket */
            char k;
            const char *sp, *value;
            int level;
            uint32_t bucket;
            uint8_t flags;
            if (clx_dims_key_decode(key, klen, &k, &sp, &slen, &level, &bucket, &flags, &value, &valen) != 0) {
                clx_log(CLX_LOG_ERROR, "store", "a key of %zu bytes in the dims family is malformed", klen);
                rc = CLX_ECORRUPT;
                break;
            }
            clx_rollup_t r;
            const char *val = clx_iter_value(it, &vlen);
            if (clx_rollup_unpack(val, vlen, &r) != CLX_OK) {
                rc = CLX_ECORRUPT;
                break;
            }
            if (r.events == 0 && r.cost_nanos == 0)
                continue; /* taken back whole (corrections): no row */
            clx_i128_t unpriced = flags ? r.events : 0;
            clx_dims_row_t *row = row_of(&acc, value, valen, day_ms);
            clx_rollup_add(&row->sum, &r);
            row->unpriced_events += unpriced;
            clx_rollup_add(&total->sum, &r);
            total->unpriced_events += unpriced;
        }
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    free(acc.slots);
    free(acc.vlens);
    free(acc.hashes);
    if (rc != CLX_OK)
        return rc;
    *rows = acc.rows;
    *nrows = acc.n;
    return CLX_OK;
}
