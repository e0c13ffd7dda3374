/*
 * static.c — the dashboard (web/) and /openapi.json, compiled into the binary, and the
 * list of routes the server registers (which the OpenAPI document is checked against).
 */
#include <stdio.h>
#include <string.h>

#include "clx_assets.h"
#include "rest_internal.h"

static const clx_asset_t *find(const char *path, size_t len)
{
    for (const clx_asset_t *a = clx_web_assets; a->path != NULL; a++)
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
            return a;
    return NULL;
}

int clx_rest_static(h2o_req_t *req, h2o_iovec_t path)
{
    static h2o_generator_t generator = {NULL, NULL};
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return -1;
    const clx_asset_t *a = path.len == 1 ? find("/index.html", 11) : find(path.base, path.len);
    if (a == NULL)
        return -1;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->content_type,
                   strlen(a->content_type));
    /* the page holds no secrets; the admin token stays in the browser's session storage */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    req->res.content_length = a->len;
    h2o_iovec_t body = h2o_iovec_init(a->data, head ? 0 : a->len);
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void add_plain(clx_jw_t *w, const char *method, const char *path)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "method", method);
    clx_jw_str(w, "path", path);
    clx_jw_obj_end(w);
}

/* Admin patterns are relative and capture segments with "{}". */
static void add_route(void *arg, const char *method, const char *pattern)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/admin/%s", pattern);
    add_plain(arg, method, path);
}

int clx_rest_routes(clx_rest_call_t *call)
{
    static const char *const top[][2] = {
        {"GET", "/healthz"},          {"GET", "/readyz"},      {"POST", "/api/v1/usage/ingest"},
        {"GET", "/api/v1/pricing/models"}, {"GET", "/api/v1/routes"}, {"GET", "/openapi.json"},
    };
    clx_arena_t *arena = clx_rest_arena_get(call->thread);
    clx_jw_t w;
    clx_jw_init(&w, arena, 4096);
    clx_jw_obj_begin(&w);
    clx_jw_arr_begin(&w, "routes");
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
        add_plain(&w, top[i][0], top[i][1]);
    clx_rest_admin_routes(add_route, &w);
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    clx_rest_send_json(call->req, 200, w.buf, w.len);
    clx_rest_arena_put(call->thread, arena);
    return 0;
}
