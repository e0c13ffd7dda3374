/*
 * correct.c — the REST door's corrections: POST /api/v1/usage/void and /api/v1/usage/amend
 * (JSON in, the door API's correction outcome out), and an event's versions for the admin,
 * GET /api/v1/admin/workspaces/{ws}/usage/events/{requestId}/history.
 *
 * Who may correct: the workspace's ingestion key (X-API-Key), or the admin token
 * (Authorization: Bearer) naming the workspace with ?workspace=.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_ingest.h"
#include "clx_query.h"
#include "rest_internal.h"

#define MAX_REASON 1024 /* bytes of a correction's reason */

struct pending {
    clx_rest_pending_t base; /* first */
    clx_ingest_t *ing;
    int amend;
};

/* ---- answers ---------------------------------------------------------------------------------- */

static void render_warnings(clx_jw_t *w, const Costlynx__V1__IngestResponse *r)
{
    clx_jw_arr_begin(w, "warnings");
    for (size_t i = 0; i < r->n_warnings; i++) {
        clx_jw_obj_open(w, NULL);
        clx_jw_str(w, "code", r->warnings[i]->code);
        clx_jw_str(w, "message", r->warnings[i]->message);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
}

static void respond(h2o_req_t *req, clx_arena_t *arena, clx_ingest_t *ing, int amend)
{
    int status = clx_ingest_status(ing);
    if (status != CLX_OK) {
        clx_rest_send_error(req, status, CLX_CODE_NONE, NULL, "%s: nothing changed; send it again",
                            clx_strerror(status));
        return;
    }
    clx_correction_result_t res;
    clx_ingest_correction(ing, &res);
    Costlynx__V1__IngestResponse *r = clx_ingest_response(ing);
    clx_jw_t w;
    clx_jw_init(&w, arena, 1024);
    if (!amend) {
        clx_jw_obj_begin(&w);
        clx_jw_bool(&w, "ok", 1);
        clx_jw_int(&w, "voided", res.voided);
        clx_jw_int(&w, "alreadyVoided", res.already_voided);
        clx_jw_int(&w, "notFound", res.not_found);
        clx_jw_obj_end(&w);
        clx_rest_send_json(req, 200, w.buf, w.len);
        return;
    }
    switch (res.amend) {
    case CLX_OK:
        clx_jw_obj_begin(&w);
        clx_jw_bool(&w, "ok", 1);
        clx_jw_int(&w, "version", res.event->version);
        clx_jw_key(&w, "event");
        w.need_comma = 0; /* the event renders itself as an element */
        clx_rest_render_event(&w, res.event);
        render_warnings(&w, r);
        clx_jw_obj_end(&w);
        clx_rest_send_json(req, 200, w.buf, w.len);
        return;
    case CLX_ENOTFOUND:
        clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, "requestId", "no stored event has this requestId");
        return;
    case CLX_EINVAL: {
        const Costlynx__V1__EventError *e = r->n_errors > 0 ? r->errors[0] : NULL;
        if (e == NULL) {
            clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "set", "the amended event is not valid");
            return;
        }
        /* the stages name the event's field; in an amend it sits under "set" */
        const char *field = e->field != NULL && strncmp(e->field, "set", 3) != 0
                                ? clx_arena_printf(arena, "set.%s", e->field)
                                : e->field;
        clx_jw_obj_begin(&w);
        clx_jw_bool(&w, "ok", 0);
        clx_jw_obj_open(&w, "error");
        clx_jw_str(&w, "code", e->code);
        clx_jw_str(&w, "field", field);
        clx_jw_str(&w, "message", e->message);
        clx_jw_obj_end(&w);
        clx_jw_obj_end(&w);
        clx_rest_send_json(req, 400, w.buf, w.len);
        return;
    }
    default:
        clx_rest_send_error(req, CLX_EEXIST, res.amend_code, "requestId", "%s",
                            res.amend_code == CLX_CODE_EVENT_VOIDED
                                ? "the event is voided: a voided event cannot be amended"
                                : "the event was corrected by another request meanwhile; nothing changed, send the "
                                  "amend again");
        return;
    }
}

static void on_done(clx_ingest_t *ing, void *data)
{
    (void)ing;
    clx_rest_pending_post(data);
}

static void respond_later(clx_rest_pending_t *base, h2o_req_t *req)
{
    struct pending *p = (struct pending *)base;
    respond(req, base->arena, p->ing, p->amend);
}

/* ---- requests --------------------------------------------------------------------------------- */

/*
 * The session a correction runs under: the ingestion key, or the admin token with ?workspace=.
 * CLX_OK, or -1 after answering.
 */
static int session_of(clx_rest_call_t *call, clx_arena_t *arena, clx_ingest_session_t **out)
{
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    h2o_iovec_t key = clx_rest_header(req, "x-api-key");
    const char *ws = clx_rest_query(req, "workspace");
    if (key.base != NULL && key.len > 0) {
        if (clx_ingest_authenticate(srv->cfg.pipeline, key.base, key.len, arena, out) != CLX_OK) {
            clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
            return -1;
        }
        if (ws != NULL) {
            clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "workspace",
                                "an ingestion key corrects its own workspace: ?workspace= is for the admin token");
            return -1;
        }
        return CLX_OK;
    }
    if (clx_rest_header(req, "authorization").base == NULL) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key",
                            "send the workspace's ingestion key (X-API-Key), or the admin token with ?workspace=");
        return -1;
    }
    if (clx_rest_admin_auth(call) != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "Authorization", "the admin token is not valid");
        return -1;
    }
    if (ws == NULL || ws[0] == '\0') {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_MISSING_FIELD, "workspace",
                            "with the admin token, name the workspace: ?workspace=<slug>");
        return -1;
    }
    if (clx_ingest_admin_session(srv->cfg.pipeline, ws, arena, out) != CLX_OK) {
        clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, "workspace", "no workspace '%s'", ws);
        return -1;
    }
    return CLX_OK;
}

/* A string member that must pass the id / label text rule: CLX_OK (*out NULL when absent), or -1 after a 400. */
static int text_member(clx_rest_call_t *call, yajl_val obj, const char *name, size_t max, const char **out)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
    *out = NULL;
    if (v == NULL || YAJL_IS_NULL(v))
        return CLX_OK;
    if (!YAJL_IS_STRING(v)) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, name, "%s must be a string", name);
        return -1;
    }
    const char *s = YAJL_GET_STRING(v);
    if (strlen(s) > max) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_TOO_LONG, name, "%s is longer than %zu bytes", name, max);
        return -1;
    }
    *out = s;
    return CLX_OK;
}

/* Refuses members other than the allowed ones: 0, or -1 after a 400 naming the first. */
static int only_members(clx_rest_call_t *call, yajl_val obj, const char *const *allowed, size_t n)
{
    for (size_t i = 0; i < obj->u.object.len; i++) {
        size_t k = 0;
        while (k < n && strcmp(obj->u.object.keys[i], allowed[k]) != 0)
            k++;
        if (k == n) {
            clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_UNKNOWN_FIELD, obj->u.object.keys[i],
                                "%s is not a member of this request", obj->u.object.keys[i]);
            return -1;
        }
    }
    return 0;
}

/* Hands a begun correction to the pipeline: answered now, or later from the writer. */
static int submit(clx_rest_call_t *call, clx_arena_t *arena, struct pending *p)
{
    if (clx_ingest_submit(p->ing, on_done, p)) {
        respond(call->req, arena, p->ing, p->amend);
        return 1;
    }
    clx_rest_pending_wait(&p->base, call->req);
    return 0;
}

int clx_rest_void(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    clx_rest_thread_t *t = call->thread;
    yajl_val body = NULL;
    if (atomic_load(&srv->stopping))
        return clx_rest_send_error(req, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL, "the server is shutting down; retry");
    clx_arena_t *arena = clx_rest_arena_get(t);
    clx_ingest_session_t *session;
    if (session_of(call, arena, &session) != CLX_OK)
        goto done;
    if ((body = clx_rest_body_object(call, srv->cfg.max_body)) == NULL)
        goto done;
    static const char *const allowed[] = {"requestIds", "reason"};
    if (only_members(call, body, allowed, 2) != 0)
        goto done;
    const char *path[] = {"requestIds", NULL};
    yajl_val ids = yajl_tree_get(body, path, yajl_t_any);
    if (ids == NULL || !YAJL_IS_ARRAY(ids) || ids->u.array.len == 0 || ids->u.array.len > CLX_MAX_VOID) {
        clx_rest_send_error(req, CLX_EINVAL, ids == NULL ? CLX_CODE_MISSING_FIELD : CLX_CODE_INVALID_VALUE,
                            "requestIds", "requestIds must be an array of 1 to %d requestIds", CLX_MAX_VOID);
        goto done;
    }
    size_t n = ids->u.array.len;
    char **list = clx_arena_alloc(arena, n * sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        yajl_val v = ids->u.array.values[i];
        clx_problem_t problem;
        const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
        char field[48];
        snprintf(field, sizeof(field), "requestIds[%zu]", i);
        if (s == NULL || s[0] == '\0' || strlen(s) > CLX_MAX_REQUEST_ID) {
            clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, clx_arena_printf(arena, "%s", field),
                                "%s must be a requestId: a string of 1 to %d bytes", field, CLX_MAX_REQUEST_ID);
            goto done;
        }
        if (clx_validate_text(field, s, strlen(s), &problem) != CLX_OK) {
            clx_rest_send_error(req, CLX_EINVAL, problem.code_id, clx_arena_printf(arena, "%s", field), "%s",
                                problem.message);
            goto done;
        }
        list[i] = clx_arena_strndup(arena, s, strlen(s));
    }
    const char *reason;
    if (text_member(call, body, "reason", MAX_REASON, &reason) != CLX_OK)
        goto done;
    reason = clx_arena_strndup(arena, reason != NULL ? reason : "", reason != NULL ? strlen(reason) : 0);
    yajl_tree_free(body);
    body = NULL;

    struct pending *p = (struct pending *)clx_rest_pending_new(call, arena, sizeof(*p), respond_later);
    if (clx_ingest_begin_void(session, arena, list, n, reason, &p->ing) != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
        goto done;
    }
    if (submit(call, arena, p))
        goto done;
    return 0;
done:
    yajl_tree_free(body);
    clx_rest_arena_put(t, arena);
    return 0;
}

/* Writes a yajl value back as JSON (the amend's "set", for the ingest decoder). */
static void jw_value(clx_jw_t *w, const char *key, yajl_val v)
{
    if (YAJL_IS_STRING(v)) {
        clx_jw_str(w, key, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        clx_jw_key(w, key);
        clx_jw_raw(w, YAJL_GET_NUMBER(v), strlen(YAJL_GET_NUMBER(v)));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        clx_jw_bool(w, key, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        clx_jw_obj_open(w, key);
        for (size_t i = 0; i < v->u.object.len; i++)
            jw_value(w, v->u.object.keys[i], v->u.object.values[i]);
        clx_jw_obj_end(w);
    } else if (YAJL_IS_ARRAY(v)) {
        clx_jw_arr_begin(w, key);
        for (size_t i = 0; i < v->u.array.len; i++)
            jw_value(w, NULL, v->u.array.values[i]);
        clx_jw_arr_end(w);
    } else {
        clx_jw_null(w, key);
    }
}

int clx_rest_amend(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    clx_rest_thread_t *t = call->thread;
    yajl_val body = NULL;
    if (atomic_load(&srv->stopping))
        return clx_rest_send_error(req, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL, "the server is shutting down; retry");
    clx_arena_t *arena = clx_rest_arena_get(t);
    clx_ingest_session_t *session;
    if (session_of(call, arena, &session) != CLX_OK)
        goto done;
    if ((body = clx_rest_body_object(call, srv->cfg.max_body)) == NULL)
        goto done;
    static const char *const allowed[] = {"requestId", "set", "reason"};
    if (only_members(call, body, allowed, 3) != 0)
        goto done;
    const char *rid, *reason;
    if (text_member(call, body, "requestId", CLX_MAX_REQUEST_ID, &rid) != CLX_OK ||
        text_member(call, body, "reason", MAX_REASON, &reason) != CLX_OK)
        goto done;
    if (rid == NULL || rid[0] == '\0') {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_MISSING_FIELD, "requestId", "requestId is required");
        goto done;
    }
    const char *path[] = {"set", NULL};
    yajl_val set = yajl_tree_get(body, path, yajl_t_any);
    if (set == NULL || !YAJL_IS_OBJECT(set) || set->u.object.len == 0) {
        clx_rest_send_error(req, CLX_EINVAL, set == NULL ? CLX_CODE_MISSING_FIELD : CLX_CODE_INVALID_VALUE, "set",
                            "set must be an object naming the fields to change, e.g. {\"model\":\"gpt-4o\"}");
        goto done;
    }
    /* the fields named, and their values decoded exactly as an ingested event's */
    size_t nfields = set->u.object.len;
    char **fields = clx_arena_alloc(arena, nfields * sizeof(*fields));
    for (size_t i = 0; i < nfields; i++) {
        const char *name = set->u.object.keys[i];
        if (strcmp(name, "requestId") == 0 || !clx_ingest_amendable(name)) {
            clx_rest_send_error(req, CLX_EINVAL,
                                strcmp(name, "requestId") == 0 ? CLX_CODE_INVALID_VALUE : CLX_CODE_UNKNOWN_FIELD,
                                clx_arena_printf(arena, "set.%s", name),
                                "set.%s cannot be amended (amendable: the token fields, model, provider, timestamp, "
                                "project, environment, feature, userId, tags, estimatedCostUsd)",
                                name);
            goto done;
        }
        fields[i] = clx_arena_strndup(arena, name, strlen(name));
    }
    clx_jw_t sw;
    clx_jw_init(&sw, arena, 512);
    jw_value(&sw, NULL, set);
    clx_ingest_body_t *decoded = clx_arena_alloc(arena, sizeof(*decoded));
    if (clx_rest_decode_ingest(sw.buf, sw.len, arena, decoded) != CLX_OK || decoded->batch || decoded->nevents != 1) {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "set", "set must be an object of event fields");
        goto done;
    }
    for (size_t i = 0; i < decoded->nnotes; i++) {
        const clx_decode_note_t *note = &decoded->notes[i];
        if (note->is_error || note->code_id == CLX_CODE_UNKNOWN_FIELD) {
            clx_rest_send_error(req, CLX_EINVAL, note->code_id,
                                clx_arena_printf(arena, "set.%s", note->field != NULL ? note->field : ""), "%s",
                                note->message);
            goto done;
        }
    }
    rid = clx_arena_strndup(arena, rid, strlen(rid));
    reason = clx_arena_strndup(arena, reason != NULL ? reason : "", reason != NULL ? strlen(reason) : 0);
    yajl_tree_free(body);
    body = NULL;

    struct pending *p = (struct pending *)clx_rest_pending_new(call, arena, sizeof(*p), respond_later);
    p->amend = 1;
    if (clx_ingest_begin_amend(session, arena, rid, decoded->events[0], fields, nfields, reason, &p->ing) != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
        goto done;
    }
    if (submit(call, arena, p))
        goto done;
    return 0;
done:
    yajl_tree_free(body);
    clx_rest_arena_put(t, arena);
    return 0;
}

/* ---- history ---------------------------------------------------------------------------------- */

struct history {
    clx_jw_t *w;
    const Costlynx__Store__V1__StoredEvent *prev;
};

static const char *change_name(int kind)
{
    switch (kind) {
    case COSTLYNX__STORE__V1__CHANGE_KIND__CHANGE_KIND_VOID:
        return "void";
    case COSTLYNX__STORE__V1__CHANGE_KIND__CHANGE_KIND_AMEND:
        return "amend";
    case COSTLYNX__STORE__V1__CHANGE_KIND__CHANGE_KIND_REPRICE:
        return "reprice";
    default:
        return "ingest";
    }
}

/* The names (as the read-back renders them) of what differs between two versions. */
static void render_changed(clx_jw_t *w, const Costlynx__Store__V1__StoredEvent *a,
                           const Costlynx__Store__V1__StoredEvent *b)
{
#define STR(f, name)                                                                                                   \
    if (strcmp(a->f, b->f) != 0)                                                                                       \
        clx_jw_str(w, NULL, name);
#define NUM(f, name)                                                                                                   \
    if (a->f != b->f)                                                                                                  \
        clx_jw_str(w, NULL, name);
    clx_jw_arr_begin(w, "changed");
    STR(provider, "provider")
    STR(model, "model")
    NUM(input_tokens, "inputTokens")
    NUM(output_tokens, "outputTokens")
    NUM(cached_tokens, "cachedTokens")
    NUM(cache_write_tokens, "cacheWriteTokens")
    NUM(reasoning_tokens, "reasoningTokens")
    NUM(web_search_calls, "webSearchCalls")
    STR(project_as_sent, "project")
    STR(environment_as_sent, "environment")
    STR(feature, "feature")
    STR(user_id, "userId")
    NUM(event_time_ms, "timestamp")
    NUM(batch, "batch")
    if (a->cost_nanos != b->cost_nanos || a->cost_source != b->cost_source)
        clx_jw_str(w, NULL, "costUsd");
    STR(price_id, "priceId")
    NUM(voided, "voided")
    clx_jw_arr_end(w);
#undef STR
#undef NUM
}

static int history_version(void *arg, uint32_t version, const Costlynx__Store__V1__StoredEvent *ev)
{
    struct history *h = arg;
    clx_jw_t *w = h->w;
    char when[40];
    clx_jw_obj_open(w, NULL);
    clx_jw_int(w, "version", version);
    clx_jw_str(w, "change", change_name(ev->change));
    clx_rest_iso_time(ev->changed_at_ms != 0 ? ev->changed_at_ms : ev->received_at_ms, when, sizeof(when));
    clx_jw_str(w, "at", when);
    clx_jw_str(w, "by", ev->changed_by[0] != '\0' ? ev->changed_by : clx_arena_printf(w->arena, "key:%s", ev->key_id));
    clx_jw_str(w, "reason", ev->change_reason);
    if (h->prev != NULL)
        render_changed(w, h->prev, ev);
    clx_jw_key(w, "event");
    w->need_comma = 0; /* the event renders itself as an element */
    clx_rest_render_event(w, ev);
    clx_jw_obj_end(w);
    h->prev = ev;
    return 0;
}

int clx_rest_event_history(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    char *rid = clx_rest_param(call, 1);
    clx_jw_obj_begin(w);
    clx_jw_str(w, "requestId", rid);
    clx_jw_arr_begin(w, "versions");
    struct history h = {.w = w};
    int rc = clx_query_event_history(call->srv->cfg.query, ws, rid, strlen(rid), w->arena, history_version, &h);
    if (rc == CLX_ENOTFOUND)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "requestId",
                                   "no stored event of workspace '%s' has this requestId", ws);
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "the event's versions could not be read");
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}

/* ---- reprice ----------------------------------------------------------------------------------- */

struct reprice_job {
    clx_rest_pending_t base; /* first */
    clx_rest_t *srv;
    clx_ingest_session_t *session;
    clx_reprice_query_t q;
    clx_reprice_result_t result;
    int status;
};

static void jw_nanos(clx_jw_t *w, const char *key, __int128 nanos)
{
    char buf[64];
    clx_money_format_usd_wide(nanos, buf);
    clx_jw_str(w, key, buf);
}

static void reprice_respond(clx_rest_pending_t *base, h2o_req_t *req)
{
    struct reprice_job *j = (struct reprice_job *)base;
    const clx_reprice_result_t *r = &j->result;
    if (j->status != CLX_OK && r->applied == 0) {
        clx_rest_send_error(req, j->status, CLX_CODE_NONE, NULL, "%s: nothing was repriced; run it again",
                            clx_strerror(j->status));
        return;
    }
    clx_jw_t w;
    clx_jw_init(&w, base->arena, 1024 + 160 * r->nmodels);
    clx_jw_obj_begin(&w);
    clx_jw_bool(&w, "ok", j->status == CLX_OK);
    if (j->status != CLX_OK) {
        clx_jw_obj_open(&w, "error");
        clx_jw_str(&w, "code", clx_err_name(j->status));
        clx_jw_str(&w, "message", "the reprice stopped part way: the events counted as applied have their new "
                                  "version, the rest do not; run it again to finish");
        clx_jw_obj_end(&w);
    }
    clx_jw_bool(&w, "dryRun", j->q.dry_run);
    clx_jw_int(&w, "scanned", r->scanned);
    clx_jw_int(&w, "eligible", r->eligible);
    clx_jw_int(&w, "changed", r->changed);
    if (!j->q.dry_run) {
        clx_jw_int(&w, "applied", r->applied);
        clx_jw_int(&w, "conflicts", r->conflicts);
    }
    jw_nanos(&w, "oldCostUsd", r->old_nanos);
    jw_nanos(&w, "newCostUsd", r->new_nanos);
    clx_jw_arr_begin(&w, "models");
    for (size_t i = 0; i < r->nmodels; i++) {
        const clx_reprice_model_t *m = &r->models[i];
        clx_jw_obj_open(&w, NULL);
        clx_jw_str(&w, "provider", m->provider);
        clx_jw_str(&w, "model", m->model);
        clx_jw_int(&w, "events", m->events);
        jw_nanos(&w, "oldCostUsd", m->old_nanos);
        jw_nanos(&w, "newCostUsd", m->new_nanos);
        clx_jw_obj_end(&w);
    }
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    clx_rest_send_json(req, j->status == CLX_OK ? 200 : clx_err_http_status(j->status), w.buf, w.len);
}

static void *reprice_main(void *arg)
{
    struct reprice_job *j = arg;
    clx_rest_t *srv = j->srv;
    j->status = clx_ingest_reprice(j->session, j->base.arena, &j->q, &j->result);
    clx_rest_pending_post(&j->base);
    atomic_fetch_sub(&srv->workers, 1);
    return NULL;
}

int clx_rest_reprice(clx_rest_call_t *call, clx_jw_t *w)
{
    (void)w;
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    char *ws = clx_rest_param(call, 0);
    yajl_val body = clx_rest_body_object(call, 64 * 1024);
    if (body == NULL)
        return 0;
    clx_arena_t *arena = clx_arena_create(16 * 1024); /* the job's: it outlives this call */
    struct reprice_job *j = NULL;
    static const char *const allowed[] = {"from", "to", "provider", "model", "dryRun"};
    if (only_members(call, body, allowed, 5) != 0)
        goto fail;
    j = (struct reprice_job *)clx_rest_pending_new(call, arena, sizeof(*j), reprice_respond);
    j->srv = srv;
    const char *names[] = {"from", "to"};
    int64_t *slots[] = {&j->q.from_ms, &j->q.to_ms};
    for (size_t i = 0; i < 2; i++) {
        const char *v;
        if (text_member(call, body, names[i], 64, &v) != CLX_OK)
            goto fail;
        if (v == NULL || clx_rest_parse_time(v, slots[i]) != 0) {
            clx_rest_send_error(req, CLX_EINVAL, v == NULL ? CLX_CODE_MISSING_FIELD : CLX_CODE_INVALID_VALUE, names[i],
                                "%s must be a time: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix ms", names[i]);
            goto fail;
        }
    }
    if (j->q.to_ms <= j->q.from_ms) {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "to", "to must be after from");
        goto fail;
    }
    const char *provider, *model;
    if (text_member(call, body, "provider", CLX_MAX_PROVIDER, &provider) != CLX_OK ||
        text_member(call, body, "model", CLX_MAX_MODEL, &model) != CLX_OK)
        goto fail;
    j->q.provider = provider != NULL ? clx_arena_strndup(arena, provider, strlen(provider)) : NULL;
    j->q.model = model != NULL ? clx_arena_strndup(arena, model, strlen(model)) : NULL;
    const char *dp[] = {"dryRun", NULL};
    yajl_val dry = yajl_tree_get(body, dp, yajl_t_any);
    if (dry != NULL && !YAJL_IS_TRUE(dry) && !YAJL_IS_FALSE(dry)) {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, "dryRun", "dryRun must be true or false");
        goto fail;
    }
    j->q.dry_run = dry == NULL || YAJL_IS_TRUE(dry); /* a dry run unless asked otherwise */
    if (clx_ingest_admin_session(srv->cfg.pipeline, ws, arena, &j->session) != CLX_OK) {
        clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, NULL, "no workspace '%s'", ws);
        goto fail;
    }
    yajl_tree_free(body);
    body = NULL;
    atomic_fetch_add(&srv->workers, 1);
    clx_rest_pending_wait(&j->base, req);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&tid, &attr, reprice_main, j) == 0;
    pthread_attr_destroy(&attr);
    if (!started) { /* answered as a failure through the same path */
        j->status = CLX_EBUSY;
        clx_rest_pending_post(&j->base);
        atomic_fetch_sub(&srv->workers, 1);
    }
    return 0;
fail:
    yajl_tree_free(body);
    clx_arena_destroy(arena);
    return 0;
}
