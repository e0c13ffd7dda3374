/*
 * dims.c — the dims family: usage counters per end user, ingestion key and declared tag
 * value in aligned day buckets of three widths; their keys, an event's deltas, and the sums
 * over a range of days that top-N queries read.
 */
#include "clx_dims.h"

#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"

/*
 * 1, 4 and 16 days. A range of n days is tiled by at most about 2·3 + n/16 buckets (the
 * edges in smaller ones); "the last 30 days" reads 5 to 12 of them (6.9 on average), and
 * the coarse ones already hold each value once. Writes cost one merge per level and value: three for an
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
 * A range is read as runs: one per (tile, flags), each a RocksDB range whose keys differ only
 * in their value, so each yields its values in sorted order. Merging the runs (the smallest
 * current value first) meets every value once per run that has it, in order: a value's sum
 * is complete when the merge moves past it, and rows come out sorted with no hash table —
 * 100,000 users over 7 tiles cost sequential reads and a few comparisons each, not a random
 * memory access per key.
 */
typedef struct run {
    clx_iter_t *it;
    char *prefix; /* kind ws space level bucket flags: every key of the run starts with it */
    size_t plen;
    uint8_t flags;
    const char *value; /* the current key's value (valid until the run moves) */
    size_t vlen;
} run_t;

/* Moves r to its next key (or ends it); CLX_OK or CLX_ECORRUPT. */
static int run_settle(run_t *r)
{
    if (!clx_iter_valid(r->it)) {
        r->value = NULL;
        return CLX_OK;
    }
    size_t klen;
    const char *key = clx_iter_key(r->it, &klen);
    if (klen < r->plen || memcmp(key, r->prefix, r->plen) != 0) {
        r->value = NULL; /* past the run */
        return CLX_OK;
    }
    r->value = key + r->plen;
    r->vlen = klen - r->plen;
    return CLX_OK;
}

static int value_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

int clx_dims_sum(clx_store_t *s, char kind, const char *ws, const char *tag_key, int64_t from_day, int64_t to_day,
                 clx_arena_t *arena, clx_dims_row_t **rows, size_t *nrows, clx_dims_row_t *total)
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

    size_t ntiles = clx_dims_tile(from_day, to_day, NULL, NULL, 0);
    int *levels = clx_arena_alloc(arena, ntiles * sizeof(*levels));
    uint32_t *buckets = clx_arena_alloc(arena, ntiles * sizeof(*buckets));
    clx_dims_tile(from_day, to_day, levels, buckets, ntiles);

    /* two runs per tile: the priced events' counters (flags 0), then the unpriced (flags 1) */
    size_t nruns = 2 * ntiles, cap = 0, n = 0;
    run_t *runs = clx_arena_zalloc(arena, nruns * sizeof(*runs));
    size_t plen = clx_dims_key_size(ws, space, "");
    int rc = CLX_OK;
    for (size_t i = 0; i < nruns; i++) {
        run_t *r = &runs[i];
        r->flags = (uint8_t)(i % 2);
        r->prefix = clx_arena_alloc(arena, plen);
        r->plen = clx_dims_key_encode(r->prefix, kind, ws, space, levels[i / 2], buckets[i / 2], r->flags, "");
        r->it = clx_iter_create(s, CLX_CF_DIMS, r->prefix, r->plen);
        clx_iter_seek(r->it, r->prefix, r->plen);
        run_settle(r);
    }
    clx_dims_row_t *out = NULL;
    for (;;) {
        /* the smallest current value among the runs */
        const char *min = NULL;
        size_t minlen = 0;
        for (size_t i = 0; i < nruns; i++)
            if (runs[i].value != NULL && (min == NULL || value_cmp(runs[i].value, runs[i].vlen, min, minlen) < 0)) {
                min = runs[i].value;
                minlen = runs[i].vlen;
            }
        if (min == NULL)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            clx_dims_row_t *fresh = clx_arena_alloc(arena, cap * sizeof(*fresh));
            if (n)
                memcpy(fresh, out, n * sizeof(*fresh));
            out = fresh;
        }
        clx_dims_row_t *row = &out[n++];
        memset(row, 0, sizeof(*row));
        row->value = clx_arena_strndup(arena, min, minlen); /* before the runs move on */
        for (size_t i = 0; i < nruns && rc == CLX_OK; i++) {
            run_t *r = &runs[i];
            if (r->value == NULL || r->vlen != minlen || memcmp(r->value, row->value, minlen) != 0)
                continue;
            size_t vlen;
            const char *val = clx_iter_value(r->it, &vlen);
            clx_rollup_t c;
            if (clx_rollup_unpack(val, vlen, &c) != CLX_OK) {
                clx_log(CLX_LOG_ERROR, "store", "a record of %zu bytes in the dims family is malformed", vlen);
                rc = CLX_ECORRUPT;
                break;
            }
            clx_rollup_add(&row->sum, &c);
            if (r->flags)
                row->unpriced_events += c.events;
            clx_iter_next(r->it);
            rc = run_settle(r);
        }
        if (rc != CLX_OK)
            break;
        if (row->sum.events == 0 && row->sum.cost_nanos == 0) {
            n--; /* taken back whole (corrections): no row */
            continue;
        }
        clx_rollup_add(&total->sum, &row->sum);
        total->unpriced_events += row->unpriced_events;
    }
    for (size_t i = 0; i < nruns; i++) {
        if (rc == CLX_OK)
            rc = clx_iter_status(runs[i].it);
        clx_iter_destroy(runs[i].it);
    }
    if (rc != CLX_OK)
        return rc;
    *rows = out;
    *nrows = n;
    return CLX_OK;
}
