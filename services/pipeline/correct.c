/*
 * correct.c — corrections behind the door API: void and amend. A void hands the writer its ids;
 * an amend rebuilds the caller's event from the stored version, overlays the named fields, runs
 * the same stages as ingestion and hands the writer the new version with the version it was
 * built on (the writer refuses it as stale when another correction came first).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_rollup.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "pipeline_internal.h"

struct clx_correction {
    clx_write_op_t op;
    char **ids; /* void */
    size_t nids;
    const char *reason;
    const char *request_id; /* amend */
    Costlynx__V1__UsageEvent *set;
    char **fields;
    size_t nfields;
    Costlynx__V1__UsageEvent *rebuilt; /* the event as if sent with the new values */
    clx_correction_result_t result;
};

/* ---- sessions and requests ------------------------------------------------------------------ */

int clx_ingest_admin_session(clx_pipeline_t *p, const char *workspace, clx_arena_t *arena, clx_ingest_session_t **out)
{
    clx_workspace_t ws;
    if (clx_settings_get_workspace(clx_pipeline_settings(p), workspace, &ws) != CLX_OK)
        return CLX_ENOTFOUND;
    clx_ingest_session_t *s = clx_arena_zalloc(arena, sizeof(*s));
    s->pipeline = p;
    s->admin = 1;
    snprintf(s->key.key_id, sizeof(s->key.key_id), "admin");
    snprintf(s->key.workspace, sizeof(s->key.workspace), "%s", workspace);
    s->key.strict_mode = ws.strict_mode;
    s->secret = "";
    *out = s;
    return CLX_OK;
}

int clx_ingest_admin_authenticate(clx_pipeline_t *p, const char *token, size_t len, const char *workspace,
                                  clx_arena_t *arena, clx_ingest_session_t **out)
{
    if (clx_settings_admin_check(clx_pipeline_settings(p), token, len) != CLX_OK)
        return CLX_EUNAUTH;
    return clx_ingest_admin_session(p, workspace, arena, out);
}

static int begin(clx_ingest_session_t *s, clx_arena_t *arena, Costlynx__V1__UsageEvent **events, size_t n,
                 clx_ingest_t **out)
{
    int rc = clx_ingest_begin(s, arena, events, n, out);
    if (rc != CLX_OK)
        return rc;
    (*out)->correction = clx_arena_zalloc(arena, sizeof(*(*out)->correction));
    return CLX_OK;
}

int clx_ingest_begin_void(clx_ingest_session_t *s, clx_arena_t *arena, char **request_ids, size_t n, const char *reason,
                          clx_ingest_t **out)
{
    int rc = begin(s, arena, NULL, 0, out);
    if (rc != CLX_OK)
        return rc;
    struct clx_correction *c = (*out)->correction;
    c->op = CLX_WRITE_OP_VOID;
    c->ids = request_ids;
    c->nids = n;
    c->reason = reason != NULL ? reason : "";
    return CLX_OK;
}

int clx_ingest_begin_amend(clx_ingest_session_t *s, clx_arena_t *arena, const char *request_id,
                           Costlynx__V1__UsageEvent *set, char **fields, size_t nfields, const char *reason,
                           clx_ingest_t **out)
{
    /* one event slot: the rebuilt event goes through the stages as event 0 */
    Costlynx__V1__UsageEvent **events = clx_arena_zalloc(arena, sizeof(*events));
    int rc = begin(s, arena, events, 1, out);
    if (rc != CLX_OK)
        return rc;
    struct clx_correction *c = (*out)->correction;
    c->op = CLX_WRITE_OP_AMEND;
    c->request_id = request_id;
    c->set = set;
    c->fields = fields;
    c->nfields = nfields;
    c->reason = reason != NULL ? reason : "";
    return CLX_OK;
}

void clx_ingest_correction(clx_ingest_t *ing, clx_correction_result_t *out)
{
    *out = ing->correction->result;
}

/* "key:<id>" or "admin": who a correction is recorded as made by. */
static const char *actor(clx_ingest_t *ing)
{
    const clx_ingest_session_t *s = ing->session;
    return s->admin ? "admin" : clx_arena_printf(ing->arena, "key:%s", s->key.key_id);
}

/* ---- the amend's event ------------------------------------------------------------------------ */

enum ftype { F_STR, F_I64, F_BOOL, F_COST_USD, F_COST_NANOS, F_TIMESTAMP, F_TAGS };

/* What an amend may change (the list; requestId is the identity and never changes). */
static const struct amendable {
    const char *name; /* proto3 JSON */
    enum ftype type;
    size_t off;
} amendable[] = {
#define EV(f) offsetof(Costlynx__V1__UsageEvent, f)
    {"provider", F_STR, EV(provider)},
    {"model", F_STR, EV(model)},
    {"inputTokens", F_I64, EV(input_tokens)},
    {"outputTokens", F_I64, EV(output_tokens)},
    {"cachedTokens", F_I64, EV(cached_tokens)},
    {"cacheWriteTokens", F_I64, EV(cache_write_tokens)},
    {"project", F_STR, EV(project)},
    {"environment", F_STR, EV(environment)},
    {"feature", F_STR, EV(feature)},
    {"estimatedCostUsd", F_COST_USD, 0},
    {"estimatedCostNanos", F_COST_NANOS, 0},
    {"batch", F_BOOL, EV(batch)},
    {"timestamp", F_TIMESTAMP, EV(timestamp)},
    {"userId", F_STR, EV(user_id)},
    {"tags", F_TAGS, 0},
    {"reasoningTokens", F_I64, EV(reasoning_tokens)},
    {"cacheWrite1hTokens", F_I64, EV(cache_write_1h_tokens)},
    {"audioInputTokens", F_I64, EV(audio_input_tokens)},
    {"audioOutputTokens", F_I64, EV(audio_output_tokens)},
    {"cachedAudioTokens", F_I64, EV(cached_audio_tokens)},
    {"serviceTier", F_STR, EV(service_tier)},
    {"webSearchCalls", F_I64, EV(web_search_calls)},
#undef EV
};

int clx_ingest_amendable(const char *name)
{
    for (size_t k = 0; k < sizeof(amendable) / sizeof(amendable[0]); k++)
        if (strcmp(name, amendable[k].name) == 0)
            return 1;
    return 0;
}

static const char *const tier_names[] = {"standard", "priority", "flex", "batch"};

Costlynx__V1__UsageEvent *clx_correct_rebuild(clx_arena_t *a, const Costlynx__Store__V1__StoredEvent *rec)
{
    Costlynx__V1__UsageEvent *ev = clx_arena_alloc(a, sizeof(*ev));
    costlynx__v1__usage_event__init(ev);
    ev->provider = rec->provider_as_sent[0] != '\0' ? rec->provider_as_sent : rec->provider;
    ev->model = rec->model;
    ev->request_id = rec->request_id;
    ev->input_tokens = rec->input_tokens;
    ev->output_tokens = rec->output_tokens;
    ev->cached_tokens = rec->cached_tokens;
    ev->cache_write_tokens = rec->cache_write_tokens;
    ev->project = rec->project_as_sent;
    ev->environment = rec->environment_as_sent;
    ev->feature = rec->feature;
    ev->batch = rec->batch;
    if (rec->cost_source == COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER) {
        ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
        ev->estimated_cost_nanos = rec->cost_nanos; /* exact: what was stored */
    }
    if (rec->event_time_ms != 0) {
        Google__Protobuf__Timestamp *ts = clx_arena_alloc(a, sizeof(*ts));
        google__protobuf__timestamp__init(ts);
        int64_t ms = rec->event_time_ms;
        ts->seconds = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
        ts->nanos = (int32_t)((ms - ts->seconds * 1000) * 1000000);
        ev->timestamp = ts;
    }
    ev->user_id = rec->user_id;
    if (rec->n_tags > 0) {
        ev->tags = clx_arena_alloc(a, rec->n_tags * sizeof(*ev->tags));
        for (size_t i = 0; i < rec->n_tags; i++) {
            Costlynx__V1__UsageEvent__TagsEntry *t = clx_arena_alloc(a, sizeof(*t));
            costlynx__v1__usage_event__tags_entry__init(t);
            t->key = rec->tags[i]->key;
            t->value = rec->tags[i]->value;
            ev->tags[i] = t;
        }
        ev->n_tags = rec->n_tags;
    }
    ev->reasoning_tokens = rec->reasoning_tokens;
    ev->cache_write_1h_tokens = rec->cache_write_1h_tokens;
    ev->audio_input_tokens = rec->audio_input_tokens;
    ev->audio_output_tokens = rec->audio_output_tokens;
    ev->cached_audio_tokens = rec->cached_audio_tokens;
    ev->web_search_calls = rec->web_search_calls;
    unsigned tier = (unsigned)rec->service_tier;
    if (tier != 0 && tier < sizeof(tier_names) / sizeof(tier_names[0]) &&
        !(tier == COSTLYNX__STORE__V1__SERVICE_TIER__SERVICE_TIER_BATCH && rec->batch))
        ev->service_tier = (char *)tier_names[tier];
    return ev;
}

/* Copies the named fields of set onto ev. CLX_OK, or CLX_EINVAL with *bad naming the field. */
static int overlay(Costlynx__V1__UsageEvent *ev, const Costlynx__V1__UsageEvent *set, char **fields, size_t n,
                   const char **bad)
{
    for (size_t i = 0; i < n; i++) {
        const struct amendable *f = NULL;
        for (size_t k = 0; k < sizeof(amendable) / sizeof(amendable[0]); k++)
            if (strcmp(fields[i], amendable[k].name) == 0)
                f = &amendable[k];
        if (f == NULL) {
            *bad = fields[i];
            return CLX_EINVAL;
        }
        char *dst = (char *)ev + f->off;
        const char *src = (const char *)set + f->off;
        switch (f->type) {
        case F_STR: {
            char *v = *(char *const *)src;
            *(char **)dst = v != NULL ? v : (char *)"";
            break;
        }
        case F_I64:
            *(int64_t *)dst = *(const int64_t *)src;
            break;
        case F_BOOL:
            *(protobuf_c_boolean *)dst = *(const protobuf_c_boolean *)src;
            break;
        case F_TIMESTAMP:
            *(Google__Protobuf__Timestamp **)dst = *(Google__Protobuf__Timestamp *const *)src;
            break;
        case F_TAGS:
            ev->n_tags = set->n_tags;
            ev->tags = set->tags;
            break;
        case F_COST_USD:
        case F_COST_NANOS:
            /* the caller's cost, in whichever form the door decoded it; named but unset: cleared,
             * so the event is priced again */
            ev->estimated_cost_case = set->estimated_cost_case;
            if (set->estimated_cost_case == COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD)
                ev->estimated_cost_usd = set->estimated_cost_usd;
            else if (set->estimated_cost_case == COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS)
                ev->estimated_cost_nanos = set->estimated_cost_nanos;
            break;
        }
    }
    return CLX_OK;
}

/* ---- running ---------------------------------------------------------------------------------- */

/* Writer thread: the correction request was written (or failed). */
static void on_corrected(clx_write_req_t *wreq)
{
    clx_ingest_t *ing = wreq->data;
    struct clx_correction *c = ing->correction;
    ing->status = wreq->status;
    if (wreq->status == CLX_OK && ing->wreq.nitems > 0) /* budgets read their spend again */
        clx_pipeline_note_corrected(ing->session->pipeline, ing->items[0].workspace);
    if (wreq->status == CLX_OK) {
        if (c->op == CLX_WRITE_OP_VOID) {
            for (size_t i = 0; i < ing->wreq.nitems; i++) {
                clx_write_outcome_t o = ing->items[i].outcome;
                if (o == CLX_WRITE_CORRECTED)
                    c->result.voided++;
                else if (o == CLX_WRITE_ALREADY_VOIDED)
                    c->result.already_voided++;
                else
                    c->result.not_found++;
            }
            ing->response.ok = 1;
        } else {
            clx_write_item_t *it = &ing->items[0];
            switch (it->outcome) {
            case CLX_WRITE_CORRECTED:
                c->result.amend = CLX_OK;
                it->outcome = CLX_WRITE_INSERTED; /* the answer's warnings are the new version's */
                break;
            case CLX_WRITE_NOT_FOUND:
                c->result.amend = CLX_ENOTFOUND;
                break;
            case CLX_WRITE_ALREADY_VOIDED:
                c->result.amend = CLX_EEXIST;
                c->result.amend_code = CLX_CODE_EVENT_VOIDED;
                break;
            default:
                c->result.amend = CLX_EEXIST;
                c->result.amend_code = CLX_CODE_VERSION_CONFLICT;
                break;
            }
            clx_ingest_finish(ing);
        }
    }
    ing->done(ing, ing->data);
}

static int submit(clx_pipeline_t *p, clx_ingest_t *ing)
{
    ing->wreq.items = ing->items;
    ing->wreq.corrections = 1;
    ing->wreq.data = ing;
    ing->wreq.done = on_corrected;
    ing->status = CLX_OK;
    int rc = clx_writer_submit(clx_pipeline_writer(p), &ing->wreq);
    if (rc != CLX_OK) { /* queue full or shutting down: nothing changed, the caller retries */
        ing->status = rc;
        return 1;
    }
    return 0;
}

static int run_void(clx_pipeline_t *p, clx_ingest_t *ing)
{
    struct clx_correction *c = ing->correction;
    const char *by = actor(ing);
    int64_t now = clx_now_ms();
    ing->items = clx_arena_zalloc(ing->arena, (c->nids ? c->nids : 1) * sizeof(*ing->items));
    for (size_t i = 0; i < c->nids; i++) {
        clx_write_item_t *it = &ing->items[i];
        it->op = CLX_WRITE_OP_VOID;
        it->workspace = ing->session->key.workspace;
        it->request_id = c->ids[i];
        it->request_id_len = strlen(c->ids[i]);
        it->by = by;
        it->reason = c->reason;
        it->at_ms = now;
    }
    ing->wreq.nitems = c->nids;
    if (c->nids == 0) {
        ing->status = CLX_OK;
        ing->response.ok = 1;
        return 1;
    }
    return submit(p, ing);
}

/* An amend that cannot go on: its answer is ready now. */
static int amend_answer(clx_ingest_t *ing, int result, clx_code_t code)
{
    ing->status = CLX_OK;
    ing->correction->result.amend = result;
    ing->correction->result.amend_code = code;
    ing->wreq.nitems = 0;
    clx_ingest_finish(ing);
    return 1;
}

static int run_amend(clx_pipeline_t *p, clx_ingest_t *ing)
{
    struct clx_correction *c = ing->correction;
    const char *ws = ing->session->key.workspace;
    ProtobufCAllocator alloc;
    clx_arena_allocator(ing->arena, &alloc);

    const char *bad = NULL;
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i], "requestId") == 0) {
            clx_ingest_reject(ing, 0, "set.requestId", CLX_CODE_INVALID_VALUE,
                              "set.requestId: the requestId identifies the event and cannot be amended");
            return amend_answer(ing, CLX_EINVAL, CLX_CODE_INVALID_VALUE);
        }
    if (c->nfields == 0) {
        clx_ingest_reject(ing, 0, "set", CLX_CODE_MISSING_FIELD, "set must name at least one field to change");
        return amend_answer(ing, CLX_EINVAL, CLX_CODE_MISSING_FIELD);
    }

    char *val = NULL;
    size_t vlen = 0;
    uint64_t seq = 0;
    int rc = clx_store_find_event(clx_writer_store(clx_pipeline_writer(p)), ws, c->request_id, strlen(c->request_id),
                                  &val, &vlen, &seq);
    if (rc == CLX_ENOTFOUND)
        return amend_answer(ing, CLX_ENOTFOUND, CLX_CODE_NONE);
    if (rc != CLX_OK) {
        ing->status = rc == CLX_ECORRUPT ? CLX_EIO : rc;
        return 1;
    }
    Costlynx__Store__V1__StoredEvent *old = costlynx__store__v1__stored_event__unpack(&alloc, vlen, (uint8_t *)val);
    free(val);
    if (old == NULL) {
        clx_log(CLX_LOG_ERROR, "pipeline", "event %llu of workspace %s is unreadable; not amended",
                (unsigned long long)seq, ws);
        ing->status = CLX_EIO;
        return 1;
    }
    if (old->voided)
        return amend_answer(ing, CLX_EEXIST, CLX_CODE_EVENT_VOIDED);

    Costlynx__V1__UsageEvent *ev = clx_correct_rebuild(ing->arena, old);
    if (overlay(ev, c->set, c->fields, c->nfields, &bad) != CLX_OK) {
        clx_ingest_reject(ing, 0, clx_arena_printf(ing->arena, "set.%s", bad), CLX_CODE_UNKNOWN_FIELD,
                          "set.%s cannot be amended (amendable: token fields, model, provider, timestamp, project, "
                          "environment, feature, userId, tags, estimatedCostUsd)",
                          bad);
        return amend_answer(ing, CLX_EINVAL, CLX_CODE_UNKNOWN_FIELD);
    }
    ev->request_id = old->request_id;
    ing->events[0] = ev;
    c->rebuilt = ev;

    /* a time the event was stored with (an admin's import may have lifted the window for it)
     * is not refused again by an amend that keeps it; a new one is checked as ingestion does */
    int keeps_time = 1;
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i], "timestamp") == 0)
            keeps_time = 0;
    if (keeps_time)
        ing->session->allow_old = 1; /* the session is this request's own (both doors) */
    /* the same stages as ingestion, at the event's original time (its bucket, its prices) */
    if (!clx_pipeline_stages_one(p, ing, 0, old->received_at_ms))
        return amend_answer(ing, CLX_EINVAL, CLX_CODE_NONE); /* the error names the field */

    Costlynx__Store__V1__StoredEvent *rec = &ing->slots[0].rec;
    uint32_t version = old->version != 0 ? old->version : 1;
    rec->key_id = old->key_id; /* the event stays the key's that sent it */
    rec->received_at_ms = old->received_at_ms;
    rec->fingerprint = old->fingerprint; /* a re-send of the original stays "skipped" */
    rec->version = version + 1;
    rec->change = COSTLYNX__STORE__V1__CHANGE_KIND__CHANGE_KIND_AMEND;
    rec->changed_at_ms = clx_now_ms();
    rec->changed_by = (char *)actor(ing);
    rec->change_reason = (char *)c->reason;
    rec->rolled_tags = clx_pipeline_rolled_tags(p, ws, rec); /* the tags rolled up with the new version */

    size_t len = costlynx__store__v1__stored_event__get_packed_size(rec);
    uint8_t *buf = clx_arena_alloc(ing->arena, len ? len : 1);
    costlynx__store__v1__stored_event__pack(rec, buf);
    clx_rollup_ref_t *refs = clx_arena_alloc(ing->arena, CLX_ROLLUP_PER_EVENT * sizeof(*refs));
    size_t nrefs = clx_rollup_event_refs(ing->arena, ws, rec, 1, refs);

    ing->items = clx_arena_zalloc(ing->arena, sizeof(*ing->items));
    ing->item_slot = clx_arena_zalloc(ing->arena, sizeof(*ing->item_slot));
    clx_write_item_t *it = &ing->items[0];
    it->op = CLX_WRITE_OP_AMEND;
    it->workspace = ws;
    it->request_id = rec->request_id;
    it->request_id_len = strlen(rec->request_id);
    it->value = buf;
    it->value_len = len;
    it->fingerprint = rec->fingerprint;
    it->event_time_ms = clx_event_time_ms(rec);
    it->rollups = refs;
    it->nrollups = nrefs;
    it->base_version = version;
    ing->wreq.nitems = 1;
    c->result.event = rec;
    return submit(p, ing);
}

int clx_correct_run(clx_pipeline_t *p, clx_ingest_t *ing)
{
    return ing->correction->op == CLX_WRITE_OP_VOID ? run_void(p, ing) : run_amend(p, ing);
}
