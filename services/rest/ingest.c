/*
 * ingest.c — POST /api/v1/usage/ingest: HTTP checks, JSON → UsageEvents, the door API,
 * and the guide's exact answers. Completions come back from the writer through the
 * loop's multithread queue; a request whose client left meanwhile is just released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clx_error.h"
#include "clx_ingest.h"
#include "rest_internal.h"

struct pending {
    clx_rest_pending_t base; /* first */
    clx_ingest_t *ing;
    int batch;
};

/* Renders the answer of the door API and sends it. */
static void respond(h2o_req_t *req, clx_arena_t *arena, clx_ingest_t *ing, int batch)
{
    int status = clx_ingest_status(ing);
    if (status != CLX_OK) {
        clx_rest_send_error(req, status, CLX_CODE_NONE, NULL, "%s: nothing was stored; retry with the same requestId",
                            clx_strerror(status));
        return;
    }
    const Costlynx__V1__IngestResponse *r = clx_ingest_response(ing);
    if (!batch && r->rejected > 0) {
        const Costlynx__V1__EventError *e = r->errors[0];
        clx_jw_t w;
        clx_jw_init(&w, arena, 512);
        clx_jw_obj_begin(&w);
        clx_jw_bool(&w, "ok", 0);
        clx_jw_obj_open(&w, "error");
        clx_jw_str(&w, "code", e->code);
        clx_jw_str(&w, "field", e->field);
        clx_jw_str(&w, "message", e->message);
        if (e->request_id[0] != '\0')
            clx_jw_str(&w, "requestId", e->request_id);
        clx_jw_obj_end(&w);
        clx_jw_obj_end(&w);
        clx_rest_send_json(req, clx_err_http_status(CLX_EINVAL), w.buf, w.len);
        return;
    }
    clx_jw_t w;
    clx_jw_init(&w, arena, 256 + 200 * (r->n_errors + r->n_warnings));
    /* the guide shows these bytes exactly: {"ok":true,"inserted":1,"skipped":0} */
    clx_jw_obj_begin(&w);
    clx_jw_bool(&w, "ok", 1);
    clx_jw_int(&w, "inserted", r->inserted);
    clx_jw_int(&w, "skipped", r->skipped);
    if (r->rejected > 0) {
        clx_jw_int(&w, "rejected", r->rejected);
        clx_jw_arr_begin(&w, "errors");
        for (size_t i = 0; i < r->n_errors; i++) {
            const Costlynx__V1__EventError *e = r->errors[i];
            clx_jw_obj_open(&w, NULL);
            clx_jw_int(&w, "index", e->index);
            clx_jw_str(&w, "requestId", e->request_id);
            clx_jw_str(&w, "field", e->field);
            clx_jw_str(&w, "code", e->code);
            clx_jw_str(&w, "message", e->message);
            clx_jw_obj_end(&w);
        }
        clx_jw_arr_end(&w);
    }
    if (r->n_warnings > 0) {
        clx_jw_arr_begin(&w, "warnings");
        for (size_t i = 0; i < r->n_warnings; i++) {
            const Costlynx__V1__Warning *x = r->warnings[i];
            clx_jw_obj_open(&w, NULL);
            clx_jw_int(&w, "index", x->index);
            clx_jw_str(&w, "requestId", x->request_id);
            clx_jw_str(&w, "code", x->code);
            clx_jw_str(&w, "message", x->message);
            clx_jw_obj_end(&w);
        }
        clx_jw_arr_end(&w);
    }
    clx_jw_obj_end(&w);
    clx_rest_send_json(req, 200, w.buf, w.len);
}

/* Writer thread: hand the finished request to the loop that owns its connection. */
static void on_ingest_done(clx_ingest_t *ing, void *data)
{
    (void)ing;
    clx_rest_pending_post(data);
}

/* Loop thread: the answer, once the writer is done. */
static void respond_later(clx_rest_pending_t *base, h2o_req_t *req)
{
    struct pending *p = (struct pending *)base;
    respond(req, base->arena, p->ing, p->batch);
}

static int is_json(h2o_iovec_t ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;
    if (ct.len < n || strncasecmp(ct.base, want, n) != 0)
        return 0;
    return ct.len == n || ct.base[n] == ';' || ct.base[n] == ' ';
}

/* Hands the decoder's findings to the door API. */
static void add_notes(clx_ingest_t *ing, const clx_ingest_body_t *body)
{
    for (size_t i = 0; i < body->nnotes; i++) {
        const clx_decode_note_t *n = &body->notes[i];
        if (n->is_error)
            clx_ingest_reject(ing, n->index, n->field, n->code_id, "%s", n->message);
        else
            clx_ingest_warn(ing, n->index, n->code_id, "%s", n->message);
    }
}

int clx_rest_ingest(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    clx_rest_thread_t *t = call->thread;

    if (atomic_load(&srv->stopping))
        return clx_rest_send_error(req, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL,
                                   "the server is shutting down; retry with the same requestId");
    h2o_iovec_t key = clx_rest_header(req, "x-api-key");
    if (key.base == NULL || key.len == 0)
        return clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "the X-API-Key header is missing");

    clx_arena_t *arena = clx_rest_arena_get(t);
    clx_ingest_session_t *session;
    if (clx_ingest_authenticate(srv->cfg.pipeline, key.base, key.len, arena, &session) != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
        goto done;
    }
    if (!is_json(clx_rest_header(req, "content-type"))) {
        clx_rest_send_error(req, CLX_EMEDIA, CLX_CODE_NONE, "Content-Type", "Content-Type must be application/json");
        goto done;
    }
    if (req->entity.len > srv->cfg.max_body) {
        if (req->version >= 0x200) /* an HTTP/2 body is cut just past the limit (framing.c) */
            clx_rest_send_error(req, CLX_ETOOBIG, CLX_CODE_NONE, NULL, "the body is larger than the limit of %zu bytes",
                                srv->cfg.max_body);
        else
            clx_rest_send_error(req, CLX_ETOOBIG, CLX_CODE_NONE, NULL, "the body is %zu bytes; the limit is %zu",
                                req->entity.len, srv->cfg.max_body);
        goto done;
    }
    clx_ingest_body_t *body = clx_arena_alloc(arena, sizeof(*body));
    if (clx_rest_decode_ingest(req->entity.base, req->entity.len, arena, body) != CLX_OK) {
        clx_rest_send_error(req, CLX_EINVAL, body->code_id, body->field, "%s", body->message);
        goto done;
    }

    struct pending *p = (struct pending *)clx_rest_pending_new(call, arena, sizeof(*p), respond_later);
    p->batch = body->batch;
    if (clx_ingest_begin(session, arena, body->events, body->nevents, &p->ing) != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
        goto done;
    }
    add_notes(p->ing, body);
    if (clx_ingest_submit(p->ing, on_ingest_done, p)) {
        respond(req, arena, p->ing, p->batch);
        goto done;
    }
    clx_rest_pending_wait(&p->base, req); /* the writer answers through on_ingest_done */
    return 0;

done:
    clx_rest_arena_put(t, arena);
    return 0;
}
