/*
 * correct.c — the REST door's corrections: POST /api/v1/usage/void and /api/v1/usage/amend
 * (JSON in, the door API's correction outcome out), and an event's versions for the admin,
 * GET /api/v1/admin/workspaces/{ws}/usage/events/{requestId}/history.
 *
 * Who may correct: the workspace's ingestion key (X-API-Key), or the admin token
 * (Authorization: Bearer) naming the workspace with ?workspace=.
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_ingest.h"
#include "clx_log.h"
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
    /* strings holding a NUL were refused above; one left is in a member name, which yajl's C
     * strings would cut ("model\u0000x" read as "model"): never amend a field not named */
    if (memmem(req->entity.base, req->entity.len, "\\u0000", 6) != NULL) {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "set", "member names must not contain NUL");
        goto done;
    }
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
    if (decoded->events[0] == NULL) { /* the decoder refused it without a note: never amend with nothing */
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "set", "set must be an object of event fields");
        goto done;
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

/* ---- reprice: a job on a thread of its own ------------------------------------------------------ */

#define REPRICE_WAIT_MS 2000 /* a POST answers with the result when the job ends sooner, else 202 */

struct clx_rest_job {
    atomic_int refs; /* the registry's and the thread's */
    char id[32];
    char ws[CLX_REST_WS_MAX + 1];
    clx_arena_t *arena; /* the session, the query's strings, the result */
    clx_ingest_session_t *session;
    clx_reprice_query_t q;
    clx_reprice_result_t result; /* the thread's; read by others once done */
    pthread_mutex_t mu;          /* guards what follows */
    clx_reprice_result_t counts; /* the progress so far (counts only) */
    int done, status;
    int64_t started_ms, finished_ms;
    int interrupted; /* restored from the journal: a restart ended it part way */
    /* the thread's alone */
    struct reprice_wait *waiter; /* the POST still waiting for its answer */
    uint64_t started_ns;
    clx_rest_t *srv;
};

/* A POST's answer, rendered by the job's thread (the job as it was then) and posted to its loop. */
struct reprice_wait {
    clx_rest_pending_t base; /* first */
    char *json;
    size_t len;
    int status;
};

static void job_unref(struct clx_rest_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&j->mu);
    clx_arena_destroy(j->arena);
    free(j);
}

void clx_rest_jobs_free(clx_rest_t *srv)
{
    for (size_t i = 0; i < CLX_REST_JOBS; i++)
        if (srv->jobs[i] != NULL)
            job_unref(srv->jobs[i]);
}

static void jw_nanos(clx_jw_t *w, const char *key, __int128 nanos)
{
    char buf[64];
    clx_money_format_usd_wide(nanos, buf);
    clx_jw_str(w, key, buf);
}

/* The job as an answer (caller holds j->mu): the counts, and once done the result. */
static void render_job(clx_jw_t *w, struct clx_rest_job *j)
{
    char when[40];
    const clx_reprice_result_t *r = j->done ? &j->result : &j->counts;
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", !j->done || j->status == CLX_OK);
    clx_jw_str(w, "jobId", j->id);
    clx_jw_str(w, "status", !j->done ? "running" : j->status == CLX_OK ? "done" : "failed");
    if (j->done && j->status != CLX_OK) {
        clx_jw_obj_open(w, "error");
        clx_jw_str(w, "code", clx_err_name(j->status));
        clx_jw_str(w, "message",
                   j->interrupted ? "a restart of costlynxd ended the reprice part way: the events counted as applied "
                                    "(at least) have their new version, the others do not; run it again to finish"
                   : j->q.dry_run ? "the dry run stopped part way; run it again"
                                  : "the reprice stopped part way: the events counted as applied have their new "
                                    "version, the others do not; run it again to finish");
        clx_jw_obj_end(w);
    }
    clx_jw_bool(w, "dryRun", j->q.dry_run);
    clx_rest_iso_time(j->started_ms, when, sizeof(when));
    clx_jw_str(w, "startedAt", when);
    if (j->done) {
        clx_rest_iso_time(j->finished_ms, when, sizeof(when));
        clx_jw_str(w, "finishedAt", when);
    }
    clx_jw_int(w, "scanned", r->scanned);
    clx_jw_int(w, "eligible", r->eligible);
    clx_jw_int(w, "changed", r->changed);
    if (!j->q.dry_run) {
        clx_jw_int(w, "applied", r->applied);
        clx_jw_int(w, "conflicts", r->conflicts);
    }
    if (j->done) {
        jw_nanos(w, "oldCostUsd", r->old_nanos);
        jw_nanos(w, "newCostUsd", r->new_nanos);
        clx_jw_arr_begin(w, "models");
        for (size_t i = 0; i < r->nmodels; i++) {
            const clx_reprice_model_t *m = &r->models[i];
            clx_jw_obj_open(w, NULL);
            clx_jw_str(w, "provider", m->provider);
            clx_jw_str(w, "model", m->model);
            clx_jw_int(w, "events", m->events);
            jw_nanos(w, "oldCostUsd", m->old_nanos);
            jw_nanos(w, "newCostUsd", m->new_nanos);
            clx_jw_obj_end(w);
        }
        clx_jw_arr_end(w);
    }
    clx_jw_obj_end(w);
}

static void reprice_respond(clx_rest_pending_t *base, h2o_req_t *req)
{
    struct reprice_wait *wt = (struct reprice_wait *)base;
    clx_rest_send_json(req, wt->status, wt->json, wt->len);
}

/* The job's thread: renders the waiting POST's answer into its arena (the loop does not touch it
 * until the post) and posts it; the answer needs nothing of the job afterwards. */
static void post_waiter(struct clx_rest_job *j)
{
    struct reprice_wait *wt = j->waiter;
    j->waiter = NULL;
    clx_jw_t w;
    pthread_mutex_lock(&j->mu);
    clx_jw_init(&w, wt->base.arena, 1024 + 160 * (j->done ? j->result.nmodels : 0));
    render_job(&w, j);
    wt->status = !j->done ? 202 : j->status == CLX_OK ? 200 : clx_err_http_status(j->status);
    pthread_mutex_unlock(&j->mu);
    wt->json = w.buf;
    wt->len = w.len;
    clx_rest_pending_post(&wt->base);
}

/*
 * The journal: the running applies (a line each: id, workspace, started ms, applied so far) in
 * the store's metadata, saved when one starts, after each batch it writes and when it ends, so a
 * restart can report the ones it ended part way (clx_rest_jobs_restore). Dry runs change nothing
 * and are not journaled. journal_mu orders the saves: the last one written is the newest view.
 */
static void journal_save(clx_rest_t *srv)
{
    pthread_mutex_lock(&srv->journal_mu);
    size_t cap = 256, len = 0;
    char *text = clx_xmalloc(cap);
    text[0] = '\0';
    pthread_mutex_lock(&srv->jobs_mu);
    for (size_t i = 0; i < CLX_REST_JOBS; i++) {
        struct clx_rest_job *j = srv->jobs[i];
        if (j == NULL || j->q.dry_run)
            continue;
        pthread_mutex_lock(&j->mu);
        if (!j->done) {
            char line[200];
            int n = snprintf(line, sizeof(line), "%s\t%s\t%lld\t%lld\n", j->id, j->ws, (long long)j->started_ms,
                             (long long)j->counts.applied);
            if (len + (size_t)n + 1 > cap)
                text = clx_xrealloc(text, cap = (len + (size_t)n + 1) * 2);
            memcpy(text + len, line, (size_t)n + 1);
            len += (size_t)n;
        }
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_unlock(&srv->jobs_mu);
    if (clx_ingest_jobs_save(srv->cfg.pipeline, text, len) != CLX_OK)
        clx_log(CLX_LOG_WARN, "rest", "the reprice journal could not be saved: a restart may not report a running job");
    free(text);
    pthread_mutex_unlock(&srv->journal_mu);
}

void clx_rest_jobs_restore(clx_rest_t *srv)
{
    char *text = NULL;
    if (clx_ingest_jobs_load(srv->cfg.pipeline, &text) != CLX_OK || text == NULL) {
        free(text);
        return;
    }
    int64_t now = clx_now_ms();
    size_t restored = 0;
    for (char *line = text, *next; line != NULL && *line != '\0' && restored < CLX_REST_JOBS; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char id[32], ws[CLX_REST_WS_MAX + 1];
        long long started, applied;
        if (sscanf(line, "%31[^\t]\t%64[^\t]\t%lld\t%lld", id, ws, &started, &applied) != 4)
            continue;
        struct clx_rest_job *j = clx_xcalloc(1, sizeof(*j));
        atomic_init(&j->refs, 1);
        pthread_mutex_init(&j->mu, NULL);
        j->arena = clx_arena_create(1024);
        j->srv = srv;
        snprintf(j->id, sizeof(j->id), "%s", id);
        snprintf(j->ws, sizeof(j->ws), "%s", ws);
        j->started_ms = started;
        j->finished_ms = now;
        j->counts.applied = applied;
        j->result.applied = applied;
        j->done = j->interrupted = 1;
        j->status = CLX_ESHUTDOWN;
        srv->jobs[restored++] = j;
        unsigned long long n = 0;
        if (sscanf(id, "rp_%llu", &n) == 1 && n > srv->next_job)
            srv->next_job = n; /* new jobs never take an id a restored one has */
        clx_log(CLX_LOG_WARN, "rest",
                "reprice %s of workspace %s was ended by a restart after %lld new versions; run it again to finish", id,
                ws, applied);
    }
    free(text);
    journal_save(srv); /* none of them runs any more */
}

static int reprice_progress(void *arg, const clx_reprice_result_t *so_far)
{
    struct clx_rest_job *j = arg;
    pthread_mutex_lock(&j->mu);
    int wrote = so_far->applied != j->counts.applied;
    j->counts = *so_far;
    j->counts.nmodels = 0;
    pthread_mutex_unlock(&j->mu);
    if (wrote)
        journal_save(j->srv);
    if (j->waiter != NULL && clx_mono_ns() - j->started_ns >= (uint64_t)REPRICE_WAIT_MS * 1000000u)
        post_waiter(j);                         /* a long run: the POST answers 202, GET .../jobs/{id} follows it */
    return atomic_load(&j->srv->stopping) != 0; /* shutting down: stop (what was read is written) */
}

static void *reprice_main(void *arg)
{
    struct clx_rest_job *j = arg;
    clx_rest_t *srv = j->srv;
    clx_reprice_result_t result;
    int status = clx_ingest_reprice(j->session, j->arena, &j->q, &result);
    pthread_mutex_lock(&j->mu);
    j->result = result;
    j->status = status;
    j->done = 1;
    j->finished_ms = clx_now_ms();
    pthread_mutex_unlock(&j->mu);
    if (!j->q.dry_run)
        journal_save(srv);
    if (j->waiter != NULL)
        post_waiter(j);
    job_unref(j);
    atomic_fetch_sub(&srv->workers, 1);
    return NULL;
}

/* Registers j (one reference): CLX_OK, or CLX_EBUSY when every slot holds a running job. */
static int job_register(clx_rest_t *srv, struct clx_rest_job *j)
{
    int rc = CLX_EBUSY;
    pthread_mutex_lock(&srv->jobs_mu);
    size_t slot = CLX_REST_JOBS;
    int64_t oldest = INT64_MAX;
    for (size_t i = 0; i < CLX_REST_JOBS; i++) {
        struct clx_rest_job *o = srv->jobs[i];
        if (o == NULL) {
            slot = i;
            break;
        }
        pthread_mutex_lock(&o->mu);
        if (o->done && o->finished_ms < oldest) { /* the oldest finished one makes room */
            oldest = o->finished_ms;
            slot = i;
        }
        pthread_mutex_unlock(&o->mu);
    }
    if (slot < CLX_REST_JOBS) {
        if (srv->jobs[slot] != NULL)
            job_unref(srv->jobs[slot]);
        srv->jobs[slot] = j;
        snprintf(j->id, sizeof(j->id), "rp_%llu", (unsigned long long)++srv->next_job);
        rc = CLX_OK;
    }
    pthread_mutex_unlock(&srv->jobs_mu);
    return rc;
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
    struct clx_rest_job *j = clx_xcalloc(1, sizeof(*j));
    atomic_init(&j->refs, 1);
    pthread_mutex_init(&j->mu, NULL);
    j->arena = clx_arena_create(16 * 1024);
    j->srv = srv;
    snprintf(j->ws, sizeof(j->ws), "%s", ws);
    static const char *const allowed[] = {"from", "to", "provider", "model", "dryRun"};
    if (only_members(call, body, allowed, 5) != 0)
        goto fail;
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
    j->q.provider = provider != NULL ? clx_arena_strndup(j->arena, provider, strlen(provider)) : NULL;
    j->q.model = model != NULL ? clx_arena_strndup(j->arena, model, strlen(model)) : NULL;
    const char *dp[] = {"dryRun", NULL};
    yajl_val dry = yajl_tree_get(body, dp, yajl_t_any);
    if (dry != NULL && !YAJL_IS_TRUE(dry) && !YAJL_IS_FALSE(dry)) {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, "dryRun", "dryRun must be true or false");
        goto fail;
    }
    j->q.dry_run = dry == NULL || YAJL_IS_TRUE(dry); /* a dry run unless asked otherwise */
    j->q.progress = reprice_progress;
    j->q.progress_arg = j;
    if (clx_ingest_admin_session(srv->cfg.pipeline, ws, j->arena, &j->session) != CLX_OK) {
        clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, NULL, "no workspace '%s'", ws);
        goto fail;
    }
    yajl_tree_free(body);
    body = NULL;
    if (job_register(srv, j) != CLX_OK) {
        clx_rest_send_error(req, CLX_EBUSY, CLX_CODE_NONE, NULL, "%d reprices are running; retry later", CLX_REST_JOBS);
        job_unref(j);
        return 0;
    }
    atomic_fetch_add(&j->refs, 1); /* the registry's and the thread's */
    j->started_ms = clx_now_ms();
    j->started_ns = clx_mono_ns();
    if (!j->q.dry_run)
        journal_save(srv); /* before the first write: a restart from now on is reported */
    clx_arena_t *arena = clx_rest_arena_get(call->thread);
    struct reprice_wait *wt = (struct reprice_wait *)clx_rest_pending_new(call, arena, sizeof(*wt), reprice_respond);
    j->waiter = wt;
    clx_rest_pending_wait(&wt->base, req);
    atomic_fetch_add(&srv->workers, 1);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&tid, &attr, reprice_main, j) == 0;
    pthread_attr_destroy(&attr);
    if (!started) { /* the job fails at once, answered through the same path */
        pthread_mutex_lock(&j->mu);
        j->status = CLX_EBUSY;
        j->done = 1;
        j->finished_ms = clx_now_ms();
        pthread_mutex_unlock(&j->mu);
        post_waiter(j);
        job_unref(j);
        atomic_fetch_sub(&srv->workers, 1);
    }
    return 0;
fail:
    yajl_tree_free(body);
    job_unref(j);
    return 0;
}

int clx_rest_reprice_job(clx_rest_call_t *call, clx_jw_t *w)
{
    clx_rest_t *srv = call->srv;
    char *ws = clx_rest_param(call, 0);
    char *id = clx_rest_param(call, 1);
    int found = 0;
    pthread_mutex_lock(&srv->jobs_mu);
    for (size_t i = 0; i < CLX_REST_JOBS && !found; i++) {
        struct clx_rest_job *j = srv->jobs[i];
        if (j == NULL || strcmp(j->id, id) != 0 || strcmp(j->ws, ws) != 0)
            continue;
        found = 1;
        pthread_mutex_lock(&j->mu);
        render_job(w, j); /* the job exists: 200 whatever its status (a failed one says so inside) */
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_unlock(&srv->jobs_mu);
    if (!found)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "jobId",
                                   "no job '%s' in workspace '%s' (the last %d are kept, in memory: a restart forgets "
                                   "them; run the reprice again, it is idempotent)",
                                   id, ws, CLX_REST_JOBS);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}
