/*
 * usage.c — dashboard aggregates (overview totals and series, costs by any dimension,
 * warnings) computed from the rollups maintained at write time.
 */
#include <stdlib.h>
#include <string.h>

#include "clx_dims.h"
#include "clx_error.h"
#include "clx_map.h"
#include "clx_query.h"
#include "query_internal.h"
#include "costlynx/store/v1/records.pb-c.h"

#define F_UNKNOWN_PROJECT COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT
#define F_UNKNOWN_ENVIRONMENT COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_ENVIRONMENT

struct acc {
    clx_usage_row_t *rows;
    size_t n, cap;
    clx_map_t *index; /* group key -> row index + 1 */
};

static int by_time(const void *a, const void *b)
{
    const clx_usage_row_t *x = a, *y = b;
    return (x->bucket_ms > y->bucket_ms) - (x->bucket_ms < y->bucket_ms);
}

static int by_cost(const void *a, const void *b)
{
    const clx_usage_row_t *x = a, *y = b;
    if (x->sum.cost_nanos != y->sum.cost_nanos)
        return x->sum.cost_nanos < y->sum.cost_nanos ? 1 : -1;
    if (x->sum.events != y->sum.events)
        return x->sum.events < y->sum.events ? 1 : -1;
    for (int i = 0; i < CLX_NDIMS; i++) {
        if (x->dims[i] == NULL || y->dims[i] == NULL)
            continue;
        int c = strcmp(x->dims[i], y->dims[i]);
        if (c != 0)
            return c;
    }
    return 0;
}

int clx_query_usage(clx_query_t *service, const clx_usage_query_t *q, clx_arena_t *arena, clx_usage_row_t **rows,
                    size_t *nrows, clx_usage_row_t *total)
{
    int hourly = !q->lock_refusals && !q->voided &&
                 ((q->group_by & CLX_DIM_HOUR) || q->from_ms % CLX_MS_PER_DAY != 0 || q->to_ms % CLX_MS_PER_DAY != 0);
    int64_t width = hourly ? CLX_MS_PER_HOUR : CLX_MS_PER_DAY;
    char g = q->lock_refusals ? CLX_ROLLUP_LOCK : q->voided ? CLX_ROLLUP_VOIDED : hourly ? CLX_ROLLUP_HOUR : CLX_ROLLUP_DAY;
    int64_t from = q->from_ms > 0 ? q->from_ms / width : 0;
    int64_t to = (q->to_ms + width - 1) / width; /* exclusive */
    memset(total, 0, sizeof(*total));
    *rows = NULL;
    *nrows = 0;
    if (to <= from)
        return CLX_OK;

    size_t wl = strlen(q->workspace);
    char *prefix = clx_arena_alloc(arena, CLX_ROLLUP_PREFIX_LEN(wl));
    size_t plen = clx_rollup_key_prefix(prefix, g, q->workspace, 0, 0);
    char *start = clx_arena_alloc(arena, CLX_ROLLUP_PREFIX_LEN(wl));
    size_t slen = clx_rollup_key_prefix(start, g, q->workspace, (uint32_t)from, 1);

    struct acc acc = {.index = clx_map_create()};
    int rc = CLX_OK;
    char *scratch = NULL;
    size_t scratch_cap = 0;
    clx_iter_t *it = clx_iter_create(service->store, CLX_CF_ROLLUPS, prefix, plen);
    for (clx_iter_seek(it, start, slen); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *key = clx_iter_key(it, &klen);
        if (klen + 1 > scratch_cap) {
            scratch_cap = klen + 256;
            scratch = clx_arena_alloc(arena, scratch_cap);
        }
        uint32_t bucket;
        clx_rollup_dims_t d;
        if (clx_rollup_key_decode(key, klen, plen, scratch, &bucket, &d) != 0) {
            rc = CLX_ECORRUPT;
            break;
        }
        if ((int64_t)bucket >= to)
            break;
        if ((d.flags & q->require_flags) != q->require_flags)
            continue;
        const char *dims[CLX_NDIMS] = {d.project, d.environment, d.feature, d.provider, d.model};
        if (!q->as_sent && !q->lock_refusals) { /* what the event is charged to */
            if (d.flags & F_UNKNOWN_PROJECT)
                dims[0] = "";
            if (d.flags & (F_UNKNOWN_PROJECT | F_UNKNOWN_ENVIRONMENT))
                dims[1] = "";
        }
        if (q->fold_feature != NULL && dims[2][0] != '\0' && !q->lock_refusals)
            dims[2] = q->fold_feature(q->fold_ctx, dims[0], dims[2]);
        int skip = 0;
        for (int i = 0; i < CLX_NDIMS && !skip; i++)
            skip = q->filter[i] != NULL && strcmp(q->filter[i], dims[i]) != 0;
        if (skip)
            continue;
        clx_rollup_t r;
        const char *val = clx_iter_value(it, &vlen);
        if (clx_rollup_unpack(val, vlen, &r) != CLX_OK) {
            rc = CLX_ECORRUPT;
            break;
        }
        clx_i128_t unpriced = (d.flags & COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED) ? r.events : 0;
        clx_rollup_add(&total->sum, &r);
        total->unpriced_events += unpriced;

        /* the group this rollup belongs to */
        char gk[1400];
        size_t gl = 0;
        int64_t bucket_ms = 0;
        if (q->group_by & (CLX_DIM_HOUR | CLX_DIM_DAY)) {
            int64_t gw = (q->group_by & CLX_DIM_HOUR) ? CLX_MS_PER_HOUR : CLX_MS_PER_DAY;
            bucket_ms = (int64_t)bucket * width / gw * gw;
            memcpy(gk, &bucket_ms, sizeof(bucket_ms));
            gl = sizeof(bucket_ms);
        }
        for (int i = 0; i < CLX_NDIMS; i++) {
            if (!(q->group_by & (1u << i)))
                continue;
            size_t l = strlen(dims[i]);
            if (gl + l + 1 > sizeof(gk))
                l = sizeof(gk) - gl - 1;
            memcpy(gk + gl, dims[i], l);
            gl += l;
            gk[gl++] = '\0';
        }
        size_t idx = (size_t)(uintptr_t)clx_map_get(acc.index, gk, gl);
        if (idx == 0) {
            if (acc.n == acc.cap) {
                size_t cap = acc.cap ? acc.cap * 2 : 64;
                clx_usage_row_t *fresh = clx_arena_alloc(arena, cap * sizeof(*fresh));
                if (acc.n)
                    memcpy(fresh, acc.rows, acc.n * sizeof(*fresh));
                acc.rows = fresh;
                acc.cap = cap;
            }
            clx_usage_row_t *row = &acc.rows[acc.n++];
            memset(row, 0, sizeof(*row));
            row->bucket_ms = bucket_ms;
            for (int i = 0; i < CLX_NDIMS; i++)
                if (q->group_by & (1u << i))
                    row->dims[i] = clx_arena_strndup(arena, dims[i], strlen(dims[i]));
            idx = acc.n;
            clx_map_put(acc.index, gk, gl, (void *)(uintptr_t)idx);
        }
        clx_rollup_add(&acc.rows[idx - 1].sum, &r);
        acc.rows[idx - 1].unpriced_events += unpriced;
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    clx_map_destroy(acc.index);
    if (rc != CLX_OK)
        return rc;
    /* a group whose every event was taken out again (voided, or amended into another group)
     * sums to nothing: it is not a row (its records stay, at zero) */
    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i++)
        if (acc.rows[i].sum.events != 0)
            acc.rows[kept++] = acc.rows[i];
    acc.n = kept;
    if (acc.n > 1)
        qsort(acc.rows, acc.n, sizeof(*acc.rows), (q->group_by & (CLX_DIM_HOUR | CLX_DIM_DAY)) ? by_time : by_cost);
    *rows = acc.rows;
    *nrows = acc.n;
    return CLX_OK;
}

/* ---- top values (the dims family) ------------------------------------------------------------ */

/* Row a before row b: more cost, then more events, then the smaller value. */
static int top_before(const clx_dims_row_t *a, const clx_dims_row_t *b)
{
    if (a->sum.cost_nanos != b->sum.cost_nanos)
        return a->sum.cost_nanos > b->sum.cost_nanos;
    if (a->sum.events != b->sum.events)
        return a->sum.events > b->sum.events;
    return strcmp(a->value, b->value) < 0;
}

/* A min-heap of the best k rows so far: the root is the worst of them. */
static void heap_down(const clx_dims_row_t **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && top_before(h[w], h[l]))
            w = l;
        if (r < n && top_before(h[w], h[r]))
            w = r;
        if (w == i)
            return;
        const clx_dims_row_t *t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static int by_top(const void *a, const void *b)
{
    const clx_dims_row_t *x = *(const clx_dims_row_t *const *)a, *y = *(const clx_dims_row_t *const *)b;
    return top_before(x, y) ? -1 : top_before(y, x) ? 1 : 0;
}

int clx_query_top(clx_query_t *service, const clx_top_query_t *q, clx_arena_t *arena, clx_top_row_t **rows,
                  size_t *nrows, clx_top_row_t *total, size_t *nvalues)
{
    memset(total, 0, sizeof(*total));
    *rows = NULL;
    *nrows = 0;
    *nvalues = 0;
    if (q->from_ms % CLX_MS_PER_DAY != 0 || q->to_ms % CLX_MS_PER_DAY != 0)
        return CLX_EINVAL;
    clx_dims_row_t *all, sum;
    size_t n;
    int rc = clx_dims_sum(service->store, service->dims, q->kind, q->workspace, q->tag_key, q->from_ms / CLX_MS_PER_DAY,
                          q->to_ms / CLX_MS_PER_DAY, arena, &all, &n, &sum);
    if (rc != CLX_OK)
        return rc;
    total->sum = sum.sum;
    total->unpriced_events = sum.unpriced_events;
    size_t kept = 0; /* values whose every event was taken out again by a correction are none */
    for (size_t i = 0; i < n; i++)
        if (all[i].sum.events != 0)
            all[kept++] = all[i];
    n = kept;
    *nvalues = n;
    size_t k = q->limit != 0 && q->limit < n ? q->limit : n;
    if (k == 0)
        return CLX_OK;
    /* the best k: a heap whose root is the worst kept, replaced by any better row */
    const clx_dims_row_t **h = clx_arena_alloc(arena, k * sizeof(*h));
    for (size_t i = 0; i < k; i++)
        h[i] = &all[i];
    for (size_t i = k / 2; i-- > 0;)
        heap_down(h, k, i);
    for (size_t i = k; i < n; i++) {
        if (top_before(&all[i], h[0])) {
            h[0] = &all[i];
            heap_down(h, k, 0);
        }
    }
    qsort(h, k, sizeof(*h), by_top);
    clx_top_row_t *out = clx_arena_alloc(arena, k * sizeof(*out));
    for (size_t i = 0; i < k; i++) {
        out[i].value = h[i]->value;
        out[i].sum = h[i]->sum;
        out[i].unpriced_events = h[i]->unpriced_events;
    }
    *rows = out;
    *nrows = k;
    return CLX_OK;
}
