/*
 * pipeline.c — the orchestrator behind the door API: runs validate → attribute → price →
 * fingerprint over a request's events, decides on the stages' verdicts, and hands the
 * survivors (with their rollup deltas) to the writer; completes the request after the write.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_hash.h"
#include "clx_dims.h"
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
    clx_pipeline_hooks_t hooks; /* governance's (issue 12); zero: none */
};

void clx_pipeline_set_hooks(clx_pipeline_t *p, const clx_pipeline_hooks_t *hooks)
{
    p->hooks = *hooks;
}

void clx_pipeline_note_corrected(clx_pipeline_t *p, const char *ws)
{
    if (p->hooks.corrected != NULL)
        p->hooks.corrected(p->hooks.arg, ws);
}

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

int clx_pipeline_auth(clx_pipeline_t *p, const char *key, size_t len, clx_key_info_t *out)
{
    return clx_settings_auth_key(p->settings, key, len, out);
}

int clx_pipeline_recheck(clx_pipeline_t *p, clx_ingest_session_t *s)
{
    if (s->admin)
        return CLX_OK; /* the door checked the admin token for this request */
    return clx_settings_recheck_key(p->settings, s->secret, s->secret_len, &s->key);
}

/*
 * Hash of what the caller sent, after key defaults: equal events have equal fingerprints.
 * Fields added later only enter the hash when set, so the fingerprint of an event without
 * them is what it always was (an old event sent again is still a duplicate, not a conflict).
 */
static uint64_t fingerprint(const Costlynx__Store__V1__StoredEvent *rec, const Costlynx__V1__UsageEvent *ev)
{
    uint64_t h = CLX_FNV1A64_INIT;
    const char *strs[] = {rec->provider, rec->model, rec->project_as_sent, rec->environment_as_sent, rec->feature};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        h = clx_fnv1a64(h, strs[i], strlen(strs[i]) + 1); /* the NUL separates fields */
    int64_t nums[] = {ev->input_tokens, ev->output_tokens, ev->cached_tokens, ev->cache_write_tokens,
                      rec->cost_source == COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER ? rec->cost_nanos : -1};
    h = clx_fnv1a64(h, nums, sizeof(nums));
    /* batch: true and serviceTier "batch" are one tier, hashed as batch always was */
    if (rec->service_tier == COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_BATCH)
        h = clx_fnv1a64(h, "batch", 5);
    /* issue 10: each one a tagged, NUL-separated item, only when set */
    if (rec->service_tier == COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_PRIORITY ||
        rec->service_tier == COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_FLEX) {
        uint32_t t = (uint32_t)rec->service_tier;
        h = clx_fnv1a64(h, "tier", 5);
        h = clx_fnv1a64(h, &t, sizeof(t));
    }
    if (ev->timestamp != NULL) {
        int64_t ts[2] = {ev->timestamp->seconds, ev->timestamp->nanos};
        h = clx_fnv1a64(h, "timestamp", 10);
        h = clx_fnv1a64(h, ts, sizeof(ts));
    }
    if (rec->user_id[0] != '\0') {
        h = clx_fnv1a64(h, "userId", 7);
        h = clx_fnv1a64(h, rec->user_id, strlen(rec->user_id) + 1);
    }
    for (size_t i = 0; i < rec->n_tags; i++) { /* sorted by key: the order sent does not matter */
        h = clx_fnv1a64(h, "tag", 4);
        h = clx_fnv1a64(h, rec->tags[i]->key, strlen(rec->tags[i]->key) + 1);
        h = clx_fnv1a64(h, rec->tags[i]->value, strlen(rec->tags[i]->value) + 1);
    }
    static const char *const part_names[] = {"reasoning", "cw1h", "audioIn", "audioOut", "cachedAudio", "webSearch"};
    int64_t parts[] = {rec->reasoning_tokens,    rec->cache_write_1h_tokens, rec->audio_input_tokens,
                       rec->audio_output_tokens, rec->cached_audio_tokens,   rec->web_search_calls};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (parts[i] == 0)
            continue;
        h = clx_fnv1a64(h, part_names[i], strlen(part_names[i]) + 1);
        h = clx_fnv1a64(h, &parts[i], sizeof(parts[i]));
    }
    return h;
}

/* The event's tags as stored: sorted by key (validation made the keys unique). */
static void pack_tags(clx_arena_t *arena, const Costlynx__V1__UsageEvent *ev, Costlynx__Store__V1__StoredEvent *rec)
{
    if (ev->n_tags == 0)
        return;
    Costlynx__Store__V1__Tag *tags = clx_arena_alloc(arena, ev->n_tags * sizeof(*tags));
    rec->tags = clx_arena_alloc(arena, ev->n_tags * sizeof(*rec->tags));
    for (size_t i = 0; i < ev->n_tags; i++) {
        Costlynx__Store__V1__Tag *t = &tags[i];
        costlynx__store__v1__tag__init(t);
        t->key = ev->tags[i]->key;
        t->value = ev->tags[i]->value != NULL ? ev->tags[i]->value : (char *)"";
        size_t j = i; /* insertion sort: at most CLX_MAX_TAGS */
        while (j > 0 && strcmp(rec->tags[j - 1]->key, t->key) > 0) {
            rec->tags[j] = rec->tags[j - 1];
            j--;
        }
        rec->tags[j] = t;
    }
    rec->n_tags = ev->n_tags;
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

/* Writer thread: the group holding the request was written (or failed). */
static void on_written(clx_write_req_t *wreq)
{
    clx_ingest_t *ing = wreq->data;
    clx_pipeline_t *p = ing->session->pipeline;
    ing->status = wreq->status;
    if (wreq->status == CLX_OK && p->hooks.stored != NULL) /* budgets: after the fsync, before the answer */
        for (size_t k = 0; k < wreq->nitems; k++)
            if (ing->items[k].outcome == CLX_WRITE_INSERTED)
                p->hooks.stored(p->hooks.arg, ing->items[k].workspace, &ing->slots[ing->item_slot[k]].rec,
                                ing->items[k].seq);
    if (wreq->status == CLX_OK && ing->nlocks > 0 && p->hooks.lock_refused != NULL)
        p->hooks.lock_refused(p->hooks.arg, ing->session->key.workspace, ing->session->key.key_id,
                              ing->session->key.locked_environment, ing->locks[0], ing->nlocks);
    if (wreq->status == CLX_OK)
        clx_ingest_finish(ing);
    count(ing->session->pipeline, ing);
    ing->done(ing, ing->data);
}

void clx_ingest_metrics(clx_pipeline_t *p, clx_ingest_metrics_t *out)
{
    clx_writer_stats_t w;
    clx_writer_stats(p->writer, &w);
    const clx_catalog_t *c = atomic_load(&p->catalog);
    out->requests = atomic_load(&p->m_requests);
    out->refused = atomic_load(&p->m_refused);
    out->failed = atomic_load(&p->m_failed);
    out->inserted = atomic_load(&p->m_inserted);
    out->skipped = atomic_load(&p->m_skipped);
    out->rejected = atomic_load(&p->m_rejected);
    out->warnings = atomic_load(&p->m_warnings);
    out->synced_writes = w.groups;
    out->writer_requests = w.requests;
    out->catalog_version = clx_catalog_version(c);
    out->catalog_prices = clx_catalog_count(c);
}

/* Refusals by a key's environment lock, counted per key in the rollups (the warnings view). */
static void attach_lock_refusals(clx_ingest_t *ing, int64_t now)
{
    const clx_key_info_t *key = &ing->session->key;
    clx_rollup_ref_t *extra = clx_arena_alloc(ing->arena, ing->nlocks * sizeof(*extra));
    for (size_t i = 0; i < ing->nlocks; i++)
        clx_rollup_lock_ref(ing->arena, key->workspace, key->key_id, ing->locks[i], key->locked_environment, now,
                            &extra[i]);
    ing->wreq.extra_rollups = extra;
    ing->wreq.nextra_rollups = ing->nlocks;
}

/*
 * Runs every stage over event i into its slot and acts on the verdicts. Returns 1 when the
 * event is ready for the writer.
 */
static int run_stages(clx_pipeline_t *p, const clx_catalog_t *catalog, clx_ingest_t *ing, size_t i, int64_t now)
{
    const clx_key_info_t *key = &ing->session->key;
    struct clx_ingest_slot *slot = &ing->slots[i];
    Costlynx__V1__UsageEvent *ev = ing->events[i];
    clx_problem_t why;
    if (clx_validate_event(ev, &why) != CLX_OK) {
        clx_ingest_add_error(ing, i, &why);
        return 0;
    }
    int64_t event_ms;
    /* allowOld (an admin's import): any past time back to year 1, RFC 3339's first */
    int64_t back_ms = ing->session->allow_old ? now + 62135596800000LL : key->window_back_ms;
    if (clx_validate_event_time(ev, now, back_ms, key->window_forward_ms, &event_ms, &why) != CLX_OK) {
        clx_ingest_add_error(ing, i, &why);
        return 0;
    }
    Costlynx__Store__V1__StoredEvent *rec = &slot->rec;
    clx_usage_t usage;
    clx_usage_of_event(ev, &usage);
    costlynx__store__v1__stored_event__init(rec);
    rec->request_id = ev->request_id;
    rec->input_tokens = ev->input_tokens;
    rec->output_tokens = ev->output_tokens;
    rec->cached_tokens = ev->cached_tokens;
    rec->cache_write_tokens = ev->cache_write_tokens;
    rec->feature = ev->feature != NULL ? ev->feature : (char *)"";
    rec->service_tier = (Costlynx__Store__V1__ServiceTier)usage.service_tier;
    rec->batch = usage.service_tier == CLX_TIER_BATCH; /* batch: true, or serviceTier "batch" */
    rec->key_id = (char *)key->key_id;
    rec->received_at_ms = now;
    rec->event_time_ms = event_ms;
    rec->user_id = ev->user_id != NULL ? ev->user_id : (char *)"";
    pack_tags(ing->arena, ev, rec);
    rec->reasoning_tokens = ev->reasoning_tokens;
    rec->cache_write_1h_tokens = ev->cache_write_1h_tokens;
    rec->audio_input_tokens = ev->audio_input_tokens;
    rec->audio_output_tokens = ev->audio_output_tokens;
    rec->cached_audio_tokens = ev->cached_audio_tokens;
    rec->web_search_calls = ev->web_search_calls;
    switch (clx_attribute_event(p->settings, key, ev, rec, &why)) {
    case CLX_VERDICT_REJECT:
        clx_ingest_add_error(ing, i, &why);
        if (why.code_id == CLX_CODE_ENVIRONMENT_NOT_ALLOWED) /* counted for the warnings view */
            clx_ingest_add_lock_refusal(ing, ev->environment != NULL ? ev->environment : "");
        return 0;
    case CLX_VERDICT_WARN:
        clx_ingest_add_stored_warning(ing, i, &why);
        break;
    case CLX_VERDICT_PASS:
        break;
    }
    /* the price in force when the call was made */
    if (clx_price_event(catalog, p->settings, key->workspace, ing->arena, ev, rec, event_ms, &why) == CLX_VERDICT_WARN)
        clx_ingest_add_stored_warning(ing, i, &why);
    rec->fingerprint = fingerprint(rec, ev);
    slot->state = SLOT_READY;
    return 1;
}

/* The workspace's tagDimensions now, as pointers into *wsrec: how many. */
static size_t declared_tags(clx_pipeline_t *p, const char *ws, clx_workspace_t *wsrec,
                            char *declared[CLX_TAG_DIMENSIONS_MAX])
{
    size_t n = 0;
    if (clx_settings_get_workspace(p->settings, ws, wsrec) == CLX_OK)
        for (; n < wsrec->ntag_dimensions && n < CLX_TAG_DIMENSIONS_MAX; n++)
            declared[n] = wsrec->tag_dimensions[n];
    return n;
}

uint32_t clx_pipeline_rolled_tags(clx_pipeline_t *p, const char *ws, const Costlynx__Store__V1__StoredEvent *rec)
{
    clx_workspace_t wsrec;
    char *declared[CLX_TAG_DIMENSIONS_MAX];
    size_t n = declared_tags(p, ws, &wsrec, declared);
    return n > 0 ? clx_dims_rolled_tags(rec, declared, n) : 0;
}

size_t clx_pipeline_prepare(clx_pipeline_t *p, clx_ingest_t *ing, int64_t now)
{
    const char *ws = ing->session->key.workspace;
    size_t nready = 0;

    /* the tag keys the workspace rolls up now (its tagDimensions): StoredEvent.rolled_tags */
    clx_workspace_t wsrec;
    char *declared[CLX_TAG_DIMENSIONS_MAX];
    size_t ndeclared = declared_tags(p, ws, &wsrec, declared);

    const clx_catalog_t *catalog = atomic_load(&p->catalog); /* one catalog for the whole request */
    clx_settings_read_begin(p->settings);
    for (size_t i = 0; i < ing->nevents; i++)
        if (ing->slots[i].state != SLOT_REJECTED && ing->events[i] != NULL)
            nready += (size_t)run_stages(p, catalog, ing, i, now);
    clx_settings_read_end(p->settings);

    ing->items = clx_arena_zalloc(ing->arena, (nready ? nready : 1) * sizeof(*ing->items));
    ing->item_slot = clx_arena_alloc(ing->arena, (nready ? nready : 1) * sizeof(*ing->item_slot));
    size_t k = 0;
    for (size_t i = 0; i < ing->nevents; i++) {
        struct clx_ingest_slot *slot = &ing->slots[i];
        if (slot->state != SLOT_READY)
            continue;
        slot->rec.rolled_tags = ndeclared > 0 ? clx_dims_rolled_tags(&slot->rec, declared, ndeclared) : 0;
        size_t len = costlynx__store__v1__stored_event__get_packed_size(&slot->rec);
        uint8_t *buf = clx_arena_alloc(ing->arena, len);
        costlynx__store__v1__stored_event__pack(&slot->rec, buf);
        clx_write_item_t *it = &ing->items[k];
        it->workspace = ws;
        it->request_id = slot->rec.request_id;
        it->request_id_len = strlen(slot->rec.request_id);
        it->value = buf;
        it->value_len = len;
        it->fingerprint = slot->rec.fingerprint;
        it->event_time_ms = clx_event_time_ms(&slot->rec);
        /* the rollups the event adds to once written (merged by the writer in the same batch) */
        clx_rollup_ref_t *refs = clx_arena_alloc(ing->arena, CLX_ROLLUP_PER_EVENT * sizeof(*refs));
        it->rollups = refs;
        it->nrollups = clx_rollup_event_refs(ing->arena, ws, &slot->rec, 1, refs);
        ing->item_slot[k++] = i;
    }
    if (ing->nlocks > 0)
        attach_lock_refusals(ing, now);
    ing->wreq.items = ing->items;
    ing->wreq.nitems = nready;
    ing->wreq.data = ing;
    ing->wreq.done = on_written;
    return nready;
}

int clx_ingest_check_budget(clx_ingest_session_t *s, const clx_budget_call_t *call, clx_arena_t *arena,
                            Costlynx__V1__CheckBudgetResponse *out, clx_problem_t *why)
{
    clx_pipeline_t *p = s->pipeline;
    /* the limits and text rule of an event's fields of the same names */
    const struct {
        const char *name, *v;
        size_t max;
    } fields[] = {{"project", call->project, CLX_SLUG_MAX},
                  {"environment", call->environment, CLX_SLUG_MAX},
                  {"feature", call->feature, CLX_MAX_FEATURE},
                  {"userId", call->user_id, CLX_MAX_USER_ID}};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t n = fields[i].v != NULL ? strlen(fields[i].v) : 0;
        if (n > fields[i].max)
            return clx_problem_set(why, fields[i].name, CLX_CODE_INVALID_VALUE, "%s is longer than %zu bytes",
                                   fields[i].name, fields[i].max);
        if (n > 0 && clx_validate_text(fields[i].name, fields[i].v, n, why) != CLX_OK)
            return CLX_EINVAL;
    }
    if (call->ntags > CLX_MAX_TAGS)
        return clx_problem_set(why, "tags", CLX_CODE_INVALID_VALUE, "at most %d tags", CLX_MAX_TAGS);
    for (size_t i = 0; i < call->ntags; i++) {
        size_t kl = strlen(call->tag_keys[i]), vl = strlen(call->tag_values[i]);
        if (!clx_tag_key_valid(call->tag_keys[i], kl))
            return clx_problem_set(why, "tags", CLX_CODE_INVALID_VALUE,
                                   "a tag key is 1-64 of lowercase letters, digits, '_', '.', '-'");
        if (vl > CLX_MAX_TAG_VALUE)
            return clx_problem_set(why, "tags", CLX_CODE_INVALID_VALUE, "a tag value is at most %d bytes",
                                   CLX_MAX_TAG_VALUE);
        if (clx_validate_text("tags", call->tag_values[i], vl, why) != CLX_OK)
            return CLX_EINVAL;
    }
    if (clx_pipeline_recheck(p, s) != CLX_OK)
        return CLX_EUNAUTH;
    const clx_key_info_t *key = &s->key;
    clx_budget_call_t c = *call;
    if (c.project == NULL || c.project[0] == '\0')
        c.project = key->default_project;
    if (key->locked_environment[0] != '\0')
        c.environment = key->locked_environment;
    else if (c.environment == NULL || c.environment[0] == '\0')
        c.environment = key->default_environment;
    if (c.feature == NULL)
        c.feature = "";
    if (c.user_id == NULL)
        c.user_id = "";
    if (p->hooks.check_budget == NULL) {
        costlynx__v1__check_budget_response__init(out);
        out->allowed = 1;
        return CLX_OK;
    }
    p->hooks.check_budget(p->hooks.arg, key->workspace, key->key_id, &c, arena, out);
    return CLX_OK;
}

int clx_pipeline_run(clx_pipeline_t *p, clx_ingest_t *ing)
{
    size_t nready = clx_pipeline_prepare(p, ing, clx_now_ms());
    ing->status = CLX_OK;
    atomic_fetch_add_explicit(&p->m_requests, 1, memory_order_relaxed);
    if (nready == 0 && ing->wreq.nextra_rollups == 0) {
        clx_ingest_finish(ing);
        count(p, ing);
        return 1;
    }
    int rc = clx_writer_submit(p->writer, &ing->wreq);
    if (rc != CLX_OK) { /* queue full or shutting down: nothing stored, the caller retries */
        atomic_fetch_add_explicit(&p->m_refused, 1, memory_order_relaxed);
        ing->status = rc;
        return 1;
    }
    return 0;
}

int clx_pipeline_stages_one(clx_pipeline_t *p, clx_ingest_t *ing, size_t i, int64_t now)
{
    const clx_catalog_t *catalog = atomic_load(&p->catalog);
    clx_settings_read_begin(p->settings);
    int ready = run_stages(p, catalog, ing, i, now);
    clx_settings_read_end(p->settings);
    return ready;
}

clx_writer_t *clx_pipeline_writer(clx_pipeline_t *p)
{
    return p->writer;
}

clx_settings_t *clx_pipeline_settings(clx_pipeline_t *p)
{
    return p->settings;
}
