/*
 * pipeline.c — the ingestion entry point both doors call: runs validate → attribute →
 * price → fingerprint over a request's events and hands the survivors to the writer.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_map.h"
#include "clx_rollup.h"
#include "pipeline_internal.h"

struct clx_pipeline {
    clx_settings_t *settings;
    clx_writer_t *writer;
    clx_catalog_source_t source;
    _Atomic(clx_catalog_t *) catalog;
    pthread_mutex_t reload_mu;
    atomic_uint_fast64_t m_requests, m_refused, m_failed, m_inserted, m_skipped, m_rejected, m_warnings;
    clx_catalog_t **retired; /* earlier catalogs: in-flight requests may still hold them */
    size_t nretired;
};

struct note {
    size_t index;
    size_t seq;      /* insertion order, for a stable sort */
    int stored_only; /* dropped when the event is not stored (skipped or rejected) */
    Costlynx__V1__Warning w;
};

struct lock_note { /* an event refused by a key's environment lock, counted for the warnings view */
    const char *env;
};

struct clx_ingest_priv {
    struct lock_note **locks;
    size_t nlocks, cap_locks;
    clx_pipeline_t *pipeline;
    struct clx_ingest_slot *slots;
    Costlynx__V1__EventError **errors;
    size_t nerrors, cap_errors;
    struct note **notes;
    size_t nnotes, cap_notes;
    clx_write_req_t wreq;
    clx_write_item_t *items;
    size_t *item_slot; /* items[i] is event item_slot[i] */
};

static int load_catalog(const clx_catalog_source_t *src, clx_catalog_t **out, char **errmsg)
{
    if (src->path != NULL && src->path[0] != '\0')
        return clx_catalog_load(src->path, out, errmsg);
    return clx_catalog_load_buffer(src->data, src->len, out, errmsg);
}

int clx_pipeline_create(clx_settings_t *settings, clx_writer_t *writer, const clx_catalog_source_t *source,
                        clx_pipeline_t **out, char **errmsg)
{
    clx_catalog_t *catalog = NULL;
    *out = NULL;
    int rc = load_catalog(source, &catalog, errmsg);
    if (rc != CLX_OK)
        return rc;
    clx_pipeline_t *p = clx_xcalloc(1, sizeof(*p));
    p->settings = settings;
    p->writer = writer;
    p->source.path = source->path != NULL ? clx_xstrdup(source->path) : NULL;
    p->source.data = source->data;
    p->source.len = source->len;
    atomic_init(&p->catalog, catalog);
    pthread_mutex_init(&p->reload_mu, NULL);
    *out = p;
    return CLX_OK;
}

void clx_pipeline_destroy(clx_pipeline_t *p)
{
    if (p == NULL)
        return;
    clx_catalog_destroy(atomic_load(&p->catalog));
    for (size_t i = 0; i < p->nretired; i++)
        clx_catalog_destroy(p->retired[i]);
    free(p->retired);
    free((char *)p->source.path);
    pthread_mutex_destroy(&p->reload_mu);
    free(p);
}

const clx_catalog_t *clx_pipeline_catalog(clx_pipeline_t *p)
{
    return atomic_load(&p->catalog);
}

int clx_pipeline_reload_catalog(clx_pipeline_t *p, char **errmsg)
{
    clx_catalog_t *fresh = NULL;
    int rc = load_catalog(&p->source, &fresh, errmsg);
    if (rc != CLX_OK)
        return rc;
    pthread_mutex_lock(&p->reload_mu);
    clx_catalog_t *old = atomic_exchange(&p->catalog, fresh);
    p->retired = clx_xrealloc(p->retired, (p->nretired + 1) * sizeof(*p->retired));
    p->retired[p->nretired++] = old;
    pthread_mutex_unlock(&p->reload_mu);
    clx_log(CLX_LOG_INFO, "pricing", "catalog reloaded: %zu prices (%s)", clx_catalog_count(fresh),
            clx_catalog_version(fresh));
    return CLX_OK;
}

void clx_ingest_init(clx_ingest_t *ing, clx_arena_t *arena, size_t n)
{
    memset(ing, 0, sizeof(*ing));
    ing->arena = arena;
    ing->nevents = n;
    ing->events = clx_arena_zalloc(arena, (n ? n : 1) * sizeof(*ing->events));
    costlynx__v1__ingest_response__init(&ing->response);
    clx_ingest_priv_t *priv = clx_arena_zalloc(arena, sizeof(*priv));
    priv->slots = clx_arena_zalloc(arena, (n ? n : 1) * sizeof(*priv->slots));
    ing->priv_ = priv;
}

int clx_pipeline_auth(clx_pipeline_t *p, clx_ingest_t *ing, const char *api_key, size_t len)
{
    return clx_settings_auth_key(p->settings, api_key, len, &ing->key);
}

int clx_pipeline_recheck(clx_pipeline_t *p, clx_key_info_t *key, const char *api_key, size_t len)
{
    return clx_settings_recheck_key(p->settings, api_key, len, key);
}

/* Grows an arena-backed pointer array. */
static void *grow(clx_arena_t *a, void *arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 4;
    void **fresh = clx_arena_alloc(a, ncap * sizeof(void *));
    if (n)
        memcpy(fresh, arr, n * sizeof(void *));
    *cap = ncap;
    return fresh;
}

static const char *request_id_of(clx_ingest_t *ing, size_t index)
{
    if (index < ing->nevents && ing->events[index] != NULL && ing->events[index]->request_id != NULL)
        return ing->events[index]->request_id;
    return "";
}

void clx_ingest_reject(clx_ingest_t *ing, size_t index, const char *field, const char *code, const char *fmt, ...)
{
    clx_ingest_priv_t *priv = ing->priv_;
    if (index < ing->nevents) {
        if (priv->slots[index].state == SLOT_REJECTED)
            return; /* one error per event: the first problem found */
        priv->slots[index].state = SLOT_REJECTED;
    }
    Costlynx__V1__EventError *e = clx_arena_alloc(ing->arena, sizeof(*e));
    costlynx__v1__event_error__init(e);
    e->index = (uint32_t)index;
    e->request_id = (char *)request_id_of(ing, index);
    e->field = (char *)field;
    e->code = (char *)code;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    e->message = clx_arena_strndup(ing->arena, msg, strlen(msg));
    if (strcmp(code, "environment_not_allowed") == 0 && index < ing->nevents && ing->events[index] != NULL) {
        priv->locks = grow(ing->arena, priv->locks, priv->nlocks, &priv->cap_locks);
        struct lock_note *ln = clx_arena_alloc(ing->arena, sizeof(*ln));
        const char *env = ing->events[index]->environment;
        ln->env = env != NULL ? env : "";
        priv->locks[priv->nlocks++] = ln;
    }
    priv->errors = grow(ing->arena, priv->errors, priv->nerrors, &priv->cap_errors);
    priv->errors[priv->nerrors++] = e;
}

static void add_note(clx_ingest_t *ing, size_t index, int stored_only, const char *code, const char *fmt,
                     va_list ap)
{
    clx_ingest_priv_t *priv = ing->priv_;
    struct note *n = clx_arena_alloc(ing->arena, sizeof(*n));
    n->index = index;
    n->seq = priv->nnotes;
    n->stored_only = stored_only;
    costlynx__v1__warning__init(&n->w);
    n->w.index = (uint32_t)index;
    n->w.request_id = (char *)request_id_of(ing, index);
    n->w.code = (char *)code;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n->w.message = clx_arena_strndup(ing->arena, msg, strlen(msg));
    priv->notes = grow(ing->arena, priv->notes, priv->nnotes, &priv->cap_notes);
    priv->notes[priv->nnotes++] = n;
}

void clx_ingest_warn(clx_ingest_t *ing, size_t index, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note(ing, index, 0, code, fmt, ap);
    va_end(ap);
}

void clx_ingest_warn_if_stored(clx_ingest_t *ing, size_t index, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note(ing, index, 1, code, fmt, ap);
    va_end(ap);
}

/* Hash of what the caller sent, after key defaults: equal events have equal fingerprints. */
static uint64_t fingerprint(const Costlynx__Store__V1__StoredEvent *rec, const Costlynx__V1__UsageEvent *ev)
{
    uint64_t h = CLX_FNV1A64_INIT;
    const char *strs[] = {rec->provider, rec->model, rec->project_as_sent, rec->environment_as_sent, rec->feature};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        h = clx_fnv1a64(h, strs[i], strlen(strs[i]) + 1); /* the NUL separates fields */
    int64_t nums[] = {ev->input_tokens, ev->output_tokens, ev->cached_tokens, ev->cache_write_tokens,
                      rec->cost_source == COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER ? rec->cost_nanos : -1};
    h = clx_fnv1a64(h, nums, sizeof(nums));
    /* fields added later only enter the hash when set, so stored fingerprints stay valid */
    if (ev->batch)
        h = clx_fnv1a64(h, "batch", 5);
    return h;
}

static int by_index(const void *a, const void *b)
{
    const struct note *x = *(const struct note *const *)a, *y = *(const struct note *const *)b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int error_by_index(const void *a, const void *b)
{
    const Costlynx__V1__EventError *x = *(Costlynx__V1__EventError *const *)a;
    const Costlynx__V1__EventError *y = *(Costlynx__V1__EventError *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Builds ing->response from the slots' outcomes, errors and notes. */
static void finish(clx_ingest_t *ing)
{
    clx_ingest_priv_t *priv = ing->priv_;
    Costlynx__V1__IngestResponse *r = &ing->response;
    r->ok = 1;
    r->inserted = r->skipped = 0;
    for (size_t i = 0; i < priv->wreq.nitems; i++) {
        clx_write_item_t *it = &priv->items[i];
        size_t idx = priv->item_slot[i];
        if (it->outcome == CLX_WRITE_INSERTED) {
            r->inserted++;
            continue;
        }
        r->skipped++;
        priv->slots[idx].state = SLOT_OPEN; /* not stored: its stored-only notes go */
        if (it->outcome == CLX_WRITE_CONFLICT)
            clx_ingest_warn(ing, idx, "requestId_conflict",
                            "requestId '%s' was already stored with a different payload: this event was skipped, "
                            "the stored one stands",
                            request_id_of(ing, idx));
    }
    r->rejected = (uint32_t)priv->nerrors;
    if (priv->nerrors > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(priv->errors, priv->nerrors, sizeof(*priv->errors), error_by_index);
    r->n_errors = priv->nerrors;
    r->errors = priv->errors;

    if (priv->nnotes > 1)
        qsort(priv->notes, priv->nnotes, sizeof(*priv->notes), by_index);
    r->warnings = clx_arena_alloc(ing->arena, (priv->nnotes ? priv->nnotes : 1) * sizeof(*r->warnings));
    r->n_warnings = 0;
    for (size_t i = 0; i < priv->nnotes; i++) {
        struct note *n = priv->notes[i];
        if (n->stored_only && (n->index >= ing->nevents || priv->slots[n->index].state != SLOT_READY))
            continue;
        r->warnings[r->n_warnings++] = &n->w;
    }
}

static void count(clx_pipeline_t *p, const clx_ingest_t *ing)
{
    if (ing->status != CLX_OK) {
        atomic_fetch_add_explicit(&p->m_failed, 1, memory_order_relaxed);
        return;
    }
    const Costlynx__V1__IngestResponse *r = &ing->response;
    atomic_fetch_add_explicit(&p->m_inserted, r->inserted, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->m_skipped, r->skipped, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->m_rejected, r->rejected, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->m_warnings, r->n_warnings, memory_order_relaxed);
}

static void on_written(clx_write_req_t *wreq)
{
    clx_ingest_t *ing = wreq->data;
    ing->status = wreq->status;
    if (wreq->status == CLX_OK)
        finish(ing);
    count(ing->priv_->pipeline, ing);
    ing->done(ing);
}

void clx_pipeline_metrics(clx_pipeline_t *p, clx_pipeline_metrics_t *out)
{
    out->requests = atomic_load(&p->m_requests);
    out->refused = atomic_load(&p->m_refused);
    out->failed = atomic_load(&p->m_failed);
    out->inserted = atomic_load(&p->m_inserted);
    out->skipped = atomic_load(&p->m_skipped);
    out->rejected = atomic_load(&p->m_rejected);
    out->warnings = atomic_load(&p->m_warnings);
    clx_writer_stats(p->writer, &out->writer);
}

/* The hour and day rollups the event adds to once stored (merged by the writer). */
static void attach_rollups(clx_ingest_t *ing, const Costlynx__Store__V1__StoredEvent *rec, clx_write_item_t *it)
{
    clx_rollup_dims_t d = {
        .project = rec->project_as_sent,
        .environment = rec->environment_as_sent,
        .feature = rec->feature,
        .provider = rec->provider,
        .model = rec->model,
        .flags = rec->flags,
    };
    clx_rollup_ref_t *refs = clx_arena_alloc(ing->arena, 2 * sizeof(*refs));
    size_t size = clx_rollup_key_size(ing->key.workspace, &d);
    clx_rollup_t delta = {
        .events = 1,
        .input_tokens = rec->input_tokens,
        .output_tokens = rec->output_tokens,
        .cached_tokens = rec->cached_tokens,
        .cache_write_tokens = rec->cache_write_tokens,
        .cost_nanos = rec->cost_nanos,
        .first_ms = rec->received_at_ms,
        .last_ms = rec->received_at_ms,
    };
    static const char granularity[2] = {CLX_ROLLUP_HOUR, CLX_ROLLUP_DAY};
    static const int64_t width[2] = {CLX_MS_PER_HOUR, CLX_MS_PER_DAY};
    for (int g = 0; g < 2; g++) {
        char *key = clx_arena_alloc(ing->arena, size);
        refs[g].klen = clx_rollup_key_encode(key, granularity[g], ing->key.workspace,
                                             (uint32_t)(rec->received_at_ms / width[g]), &d);
        refs[g].key = key;
        refs[g].delta = delta;
    }
    it->rollups = refs;
    it->nrollups = 2;
}

int clx_pipeline_ingest(clx_pipeline_t *p, clx_ingest_t *ing)
{
    clx_ingest_priv_t *priv = ing->priv_;
    priv->pipeline = p;
    int64_t now = clx_now_ms();
    size_t nready = 0;

    const clx_catalog_t *catalog = atomic_load(&p->catalog); /* one catalog for the whole request */
    clx_settings_read_begin(p->settings);
    for (size_t i = 0; i < ing->nevents; i++) {
        struct clx_ingest_slot *slot = &priv->slots[i];
        Costlynx__V1__UsageEvent *ev = ing->events[i];
        if (slot->state == SLOT_REJECTED || ev == NULL)
            continue;
        clx_problem_t problem;
        if (clx_validate_event(ev, &problem) != CLX_OK) {
            clx_ingest_reject(ing, i, problem.field, problem.code, "%s", problem.message);
            continue;
        }
        Costlynx__Store__V1__StoredEvent *rec = &slot->rec;
        costlynx__store__v1__stored_event__init(rec);
        rec->request_id = ev->request_id;
        rec->input_tokens = ev->input_tokens;
        rec->output_tokens = ev->output_tokens;
        rec->cached_tokens = ev->cached_tokens;
        rec->cache_write_tokens = ev->cache_write_tokens;
        rec->feature = ev->feature != NULL ? ev->feature : (char *)"";
        rec->batch = ev->batch;
        rec->key_id = ing->key.key_id;
        rec->received_at_ms = now;
        if (clx_attribute_event(p->settings, ing, i, ev, rec) != CLX_OK)
            continue;
        clx_price_event(catalog, p->settings, ing, i, ev, rec, now);
        rec->fingerprint = fingerprint(rec, ev);
        slot->state = SLOT_READY;
        nready++;
    }
    clx_settings_read_end(p->settings);

    priv->items = clx_arena_zalloc(ing->arena, (nready ? nready : 1) * sizeof(*priv->items));
    priv->item_slot = clx_arena_alloc(ing->arena, (nready ? nready : 1) * sizeof(*priv->item_slot));
    size_t k = 0;
    for (size_t i = 0; i < ing->nevents; i++) {
        struct clx_ingest_slot *slot = &priv->slots[i];
        if (slot->state != SLOT_READY)
            continue;
        size_t len = costlynx__store__v1__stored_event__get_packed_size(&slot->rec);
        uint8_t *buf = clx_arena_alloc(ing->arena, len);
        costlynx__store__v1__stored_event__pack(&slot->rec, buf);
        clx_write_item_t *it = &priv->items[k];
        it->workspace = ing->key.workspace;
        it->request_id = slot->rec.request_id;
        it->request_id_len = strlen(slot->rec.request_id);
        it->value = buf;
        it->value_len = len;
        it->fingerprint = slot->rec.fingerprint;
        attach_rollups(ing, &slot->rec, it);
        priv->item_slot[k++] = i;
    }
    /* refusals by a key's environment lock are counted in the rollups (the warnings view) */
    if (priv->nlocks > 0) {
        clx_rollup_ref_t *extra = clx_arena_alloc(ing->arena, priv->nlocks * sizeof(*extra));
        for (size_t i = 0; i < priv->nlocks; i++) {
            const struct lock_note *ln = priv->locks[i];
            clx_rollup_dims_t d = {.project = ing->key.key_id, .environment = ln->env,
                                   .feature = ing->key.locked_environment, .provider = "", .model = ""};
            char *key = clx_arena_alloc(ing->arena, clx_rollup_key_size(ing->key.workspace, &d));
            extra[i].klen = clx_rollup_key_encode(key, CLX_ROLLUP_LOCK, ing->key.workspace,
                                                  (uint32_t)(now / CLX_MS_PER_DAY), &d);
            extra[i].key = key;
            extra[i].delta = (clx_rollup_t){.events = 1, .first_ms = now, .last_ms = now};
        }
        priv->wreq.extra_rollups = extra;
        priv->wreq.nextra_rollups = priv->nlocks;
    }
    priv->wreq.items = priv->items;
    priv->wreq.nitems = nready;
    priv->wreq.data = ing;
    priv->wreq.done = on_written;
    ing->status = CLX_OK;

    atomic_fetch_add_explicit(&p->m_requests, 1, memory_order_relaxed);
    if (nready == 0 && priv->wreq.nextra_rollups == 0) {
        finish(ing);
        count(p, ing);
        return 1;
    }
    int rc = clx_writer_submit(p->writer, &priv->wreq);
    if (rc != CLX_OK)
        atomic_fetch_add_explicit(&p->m_refused, 1, memory_order_relaxed);
    return rc == CLX_OK ? 0 : rc;
}

void clx_ingest_summary_init(clx_ingest_summary_t *s, size_t max_notes)
{
    memset(s, 0, sizeof(*s));
    costlynx__v1__ingest_response__init(&s->response);
    s->response.ok = 1;
    s->max_notes = max_notes;
}

static char *copy(clx_arena_t *a, const char *s)
{
    return clx_arena_strndup(a, s, strlen(s));
}

void clx_ingest_summary_add(clx_ingest_summary_t *s, clx_arena_t *arena, const Costlynx__V1__IngestResponse *src,
                            uint32_t offset)
{
    Costlynx__V1__IngestResponse *t = &s->response;
    t->inserted += src->inserted;
    t->skipped += src->skipped;
    t->rejected += src->rejected;
    for (size_t i = 0; i < src->n_errors && t->n_errors < s->max_notes; i++) {
        const Costlynx__V1__EventError *from = src->errors[i];
        Costlynx__V1__EventError *e = clx_arena_alloc(arena, sizeof(*e));
        costlynx__v1__event_error__init(e);
        e->index = from->index + offset;
        e->request_id = copy(arena, from->request_id);
        e->field = copy(arena, from->field);
        e->code = copy(arena, from->code);
        e->message = copy(arena, from->message);
        t->errors = grow(arena, t->errors, t->n_errors, &s->cap_errors);
        t->errors[t->n_errors++] = e;
    }
    for (size_t i = 0; i < src->n_warnings && t->n_warnings < s->max_notes; i++) {
        const Costlynx__V1__Warning *from = src->warnings[i];
        Costlynx__V1__Warning *w = clx_arena_alloc(arena, sizeof(*w));
        costlynx__v1__warning__init(w);
        w->index = from->index + offset;
        w->request_id = copy(arena, from->request_id);
        w->code = copy(arena, from->code);
        w->message = copy(arena, from->message);
        t->warnings = grow(arena, t->warnings, t->n_warnings, &s->cap_warnings);
        t->warnings[t->n_warnings++] = w;
    }
}
