/*
 * otlp.c — POST /v1/traces: OTLP/HTTP on the REST door's port. HTTP only: the headers and the
 * body go to the OTLP door (services/otlp/clx_otlp_door.h), which answers through the
 * pipeline; this file sends its reply — the status through the error table, Retry-After on a
 * retry-later answer, the body in the request's format.
 */
#include <stdio.h>

#include "clx_otlp_door.h"
#include "rest_internal.h"

struct pending {
    clx_rest_pending_t base; /* first */
    clx_otlp_export_t *x;
};

static void respond(h2o_req_t *req, clx_otlp_export_t *x)
{
    clx_otlp_reply_t r;
    char delay[16];
    clx_otlp_export_reply(x, &r);
    if (r.retry_after_s > 0) {
        int n = snprintf(delay, sizeof(delay), "%d", r.retry_after_s);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       h2o_strdup(&req->pool, delay, n).base, (size_t)n);
    }
    clx_rest_send(req, clx_err_http_status(r.status), r.content_type, r.body, r.len);
}

/* Writer thread: every request of the export was answered. */
static void on_export_done(clx_otlp_export_t *x, void *data)
{
    (void)x;
    clx_rest_pending_post(data);
}

static void respond_later(clx_rest_pending_t *base, h2o_req_t *req)
{
    respond(req, ((struct pending *)base)->x);
}

int clx_rest_otlp_traces(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    clx_otlp_door_t *door = srv->cfg.otlp;
    clx_arena_t *arena = clx_rest_arena_get(call->thread);
    struct pending *p = (struct pending *)clx_rest_pending_new(call, arena, sizeof(*p), respond_later);
    clx_otlp_export_t *x = p->x = clx_otlp_export_init(door, CLX_OTLP_HTTP, arena);
    h2o_iovec_t ctype = clx_rest_header(req, "content-type"), key = clx_rest_header(req, "x-api-key");
    h2o_iovec_t auth = clx_rest_header(req, "authorization"), enc = clx_rest_header(req, "content-encoding");
    size_t limit = clx_otlp_door_max_body(door);

    if (atomic_load(&srv->stopping)) {
        clx_otlp_export_fail(x, CLX_ESHUTDOWN, CLX_CODE_NONE, "the server is shutting down; retry the export");
    } else if (clx_otlp_export_format(x, ctype.base, ctype.len) == CLX_OK &&
               clx_otlp_export_auth(x, key.base, key.len, auth.base, auth.len) == CLX_OK) {
        if (req->entity.len > limit) /* an HTTP/2 body is cut just past the limit (framing.c) */
            clx_otlp_export_fail(x, CLX_ETOOBIG, CLX_CODE_NONE,
                                 "the body is %s%zu bytes; the limit is %zu (--otlp-max-body-bytes): export smaller "
                                 "batches",
                                 req->version >= 0x200 ? "over " : "", req->version >= 0x200 ? limit : req->entity.len,
                                 limit);
        else if (clx_otlp_export_decode(x, req->entity.base, req->entity.len, enc.base, enc.len) == CLX_OK &&
                 clx_otlp_export_submit(x, on_export_done, p) == 0) {
            clx_rest_pending_wait(&p->base, req); /* the writer answers through on_export_done */
            return 0;
        }
    }
    respond(req, x);
    clx_rest_arena_put(call->thread, arena);
    return 0;
}
