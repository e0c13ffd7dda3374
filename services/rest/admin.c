/*
 * admin.c — the settings API (workspaces, projects, environments, keys) and usage
 * read-back under /api/v1/admin/, authenticated with "Authorization: Bearer <admin token>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_maintenance.h"
#include "clx_money.h"
#include "clx_query.h"
#include "clx_settings.h"
#include "rest_internal.h"

#define ROUTE_SEGS_MAX 10

typedef int (*admin_fn)(clx_rest_call_t *call, clx_jw_t *w);

struct admin_route {
    const char *method;
    const char *pattern; /* segments after /api/v1/admin/, "{}" captures one */
    admin_fn fn;
};

/* ---- helpers --------------------------------------------------------------------------------- */

static int method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

void clx_rest_iso_time(int64_t ms, char *buf, size_t len)
{
    /* floored, so a time before 1970 keeps its milliseconds positive; %04d: strftime's %Y writes
       the year 1 as "1", not RFC 3339's "0001" */
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
}

void clx_rest_jw_time(clx_jw_t *w, const char *key, int64_t ms)
{
    char buf[40];
    if (ms == 0) {
        clx_jw_null(w, key);
        return;
    }
    clx_rest_iso_time(ms, buf, sizeof(buf));
    clx_jw_str(w, key, buf);
}

static void jw_opt(clx_jw_t *w, const char *key, const char *v)
{
    if (v == NULL || v[0] == '\0')
        clx_jw_null(w, key);
    else
        clx_jw_str(w, key, v);
}

/*
 * Parses the request body as a JSON object: NULL after answering 400/413 itself. An empty
 * (or blank) body is {}. Every string in it must pass the shared text rule (no NUL — yajl's
 * C strings would cut "acme\u0000x" to "acme" — no controls, no lone surrogate escapes).
 */
static yajl_val body_object(clx_rest_call_t *call)
{
    return clx_rest_body_object(call, 64 * 1024);
}

yajl_val clx_rest_body_object(clx_rest_call_t *call, size_t limit)
{
    h2o_req_t *req = call->req;
    char err[160];
    if (req->entity.len > limit) {
        clx_rest_send_error(req, CLX_ETOOBIG, CLX_CODE_NONE, NULL, "the body is larger than the limit of %zu bytes",
                            limit);
        return NULL;
    }
    size_t len = req->entity.len;
    while (len > 0 && strchr(" \t\r\n", req->entity.base[len - 1]) != NULL && req->entity.base[len - 1] != '\0')
        len--;
    if (memchr(req->entity.base, '\0', len) != NULL) {
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_JSON, NULL,
                            "the body is not valid JSON: it holds a NUL byte");
        return NULL;
    }
    char *text = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(text, req->entity.base, len);
    text[len] = '\0';
    yajl_val v = yajl_tree_parse(strspn(text, " \t\r\n") < len ? text : "{}", err, sizeof(err));
    if (v == NULL) {
        err[strcspn(err, "\n")] = '\0'; /* yajl adds lines pointing at the error: the first says it */
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_JSON, NULL, "the body is not valid JSON: %s", err);
        return NULL;
    }
    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_BODY, NULL, "the body must be a JSON object");
        return NULL;
    }
    clx_problem_t problem;
    char field[80];
    if (clx_rest_json_check_text(text, len, &problem, field, sizeof(field)) != CLX_OK) {
        yajl_tree_free(v);
        clx_rest_send_error(req, CLX_EINVAL, problem.code_id, problem.field, "%s", problem.message);
        return NULL;
    }
    return v;
}

/* A string member: CLX_OK with *out (NULL when absent or null), or CLX_EINVAL after a 400. */
static int member_str(clx_rest_call_t *call, yajl_val obj, const char *name, const char **out)
{
    *out = NULL;
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
    if (v == NULL || YAJL_IS_NULL(v))
        return CLX_OK;
    if (!YAJL_IS_STRING(v)) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, name, "%s must be a string", name);
        return CLX_EINVAL;
    }
    *out = YAJL_GET_STRING(v);
    return CLX_OK;
}

/* A storage refusal (CLX_EIO, CLX_ENOSPC: disk full) as its 503; 0 when rc is something else. */
static int storage_refusal(clx_rest_call_t *call, int rc, const char *what)
{
    if (rc != CLX_EIO && rc != CLX_ENOSPC)
        return 0;
    clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s: %s; nothing changed, retry", clx_strerror(rc), what);
    return 1;
}

static int settings_error(clx_rest_call_t *call, int rc, const clx_settings_problem_t *p)
{
    if (storage_refusal(call, rc, "the settings could not be saved"))
        return 0;
    /* a duplicate or a missing reference is named by the error itself; anything else is the value's fault */
    clx_code_t code = rc == CLX_EEXIST || rc == CLX_ENOTFOUND ? CLX_CODE_NONE : CLX_CODE_INVALID_VALUE;
    return clx_rest_send_error(call->req, rc, code, p->field, "%s", p->message);
}

/* ---- renderers -------------------------------------------------------------------------------- */

static void render_ws(clx_jw_t *w, const clx_workspace_t *ws)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "slug", ws->slug);
    clx_jw_str(w, "name", ws->name);
    clx_jw_bool(w, "strictMode", ws->strict_mode);
    clx_rest_render_ws_governance(w, ws);
    clx_rest_jw_time(w, "createdAt", ws->created_at_ms);
    /* the accepted event-time window in force (the defaults when the workspace sets none) */
    clx_jw_obj_open(w, "eventWindow");
    clx_jw_int(w, "backSeconds", (ws->window_back_ms > 0 ? ws->window_back_ms : CLX_WINDOW_BACK_DEFAULT_MS) / 1000);
    clx_jw_int(w, "forwardSeconds",
               (ws->window_forward_ms > 0 ? ws->window_forward_ms : CLX_WINDOW_FORWARD_DEFAULT_MS) / 1000);
    clx_jw_obj_end(w);
    clx_jw_arr_begin(w, "tagDimensions");
    for (size_t i = 0; i < ws->ntag_dimensions; i++)
        clx_jw_str(w, NULL, ws->tag_dimensions[i]);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
}

static void render_project(clx_jw_t *w, const clx_project_t *p)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "slug", p->slug);
    clx_jw_str(w, "name", p->name);
    clx_jw_str(w, "workspace", p->workspace);
    clx_rest_jw_time(w, "createdAt", p->created_at_ms);
    clx_jw_obj_end(w);
}

static void render_env(clx_jw_t *w, const clx_environment_t *e)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "slug", e->slug);
    clx_jw_str(w, "project", e->project);
    clx_rest_jw_time(w, "createdAt", e->created_at_ms);
    clx_jw_obj_end(w);
}

static void render_key(clx_jw_t *w, const clx_apikey_t *k)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "id", k->id);
    clx_jw_str(w, "name", k->name);
    clx_jw_str(w, "workspace", k->workspace);
    clx_jw_str(w, "prefix", k->prefix);
    jw_opt(w, "defaultProject", k->default_project);
    jw_opt(w, "defaultEnvironment", k->default_environment);
    jw_opt(w, "environment", k->locked_environment);
    clx_rest_jw_time(w, "createdAt", k->created_at_ms);
    clx_rest_jw_time(w, "revokedAt", k->revoked_at_ms);
    clx_jw_obj_end(w);
}

static void list_ws_cb(void *arg, const clx_workspace_t *ws)
{
    render_ws(arg, ws);
}
static void list_project_cb(void *arg, const clx_project_t *p)
{
    render_project(arg, p);
}
static void list_env_cb(void *arg, const clx_environment_t *e)
{
    render_env(arg, e);
}
static void list_key_cb(void *arg, const clx_apikey_t *k)
{
    render_key(arg, k);
}

static int send_w(clx_rest_call_t *call, int status, clx_jw_t *w)
{
    return clx_rest_send_json(call->req, status, w->buf, w->len);
}

static int no_workspace(clx_rest_call_t *call, const char *ws)
{
    return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "workspace", "workspace '%s' does not exist",
                               ws);
}

/* ---- workspaces ---------------------------------------------------------------------------- */

static int workspaces_list(clx_rest_call_t *call, clx_jw_t *w)
{
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "workspaces");
    clx_settings_list_workspaces(call->srv->cfg.settings, list_ws_cb, w);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int workspaces_create(clx_rest_call_t *call, clx_jw_t *w)
{
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    const char *slug, *name;
    clx_workspace_t ws;
    clx_settings_problem_t problem = {0};
    if (member_str(call, body, "slug", &slug) == CLX_OK && member_str(call, body, "name", &name) == CLX_OK) {
        int rc = clx_settings_create_workspace(call->srv->cfg.settings, slug, name, &ws, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            render_ws(w, &ws);
            send_w(call, 201, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

static int workspace_get(clx_rest_call_t *call, clx_jw_t *w)
{
    char *slug = clx_rest_param(call, 0);
    clx_workspace_t ws;
    if (clx_settings_get_workspace(call->srv->cfg.settings, slug, &ws) != CLX_OK)
        return no_workspace(call, slug);
    render_ws(w, &ws);
    return send_w(call, 200, w);
}

/*
 * The issue-10 members of a workspace PATCH into *up: "eventWindow" ({"backSeconds": N,
 * "forwardSeconds": N}, either member alone keeps the other as it is; null = the defaults)
 * and "tagDimensions" (an array of tag keys). CLX_OK, or CLX_EINVAL after answering 400.
 */
static int ingest_settings(clx_rest_call_t *call, yajl_val body, const clx_workspace_t *cur, clx_workspace_update_t *up)
{
    const char *wpath[] = {"eventWindow", NULL};
    yajl_val win = yajl_tree_get(body, wpath, yajl_t_any);
    if (win != NULL && YAJL_IS_NULL(win)) {
        up->set_window = 1; /* 0, 0: the defaults */
    } else if (win != NULL) {
        if (!YAJL_IS_OBJECT(win))
            return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, "eventWindow",
                                       "eventWindow must be an object {\"backSeconds\": N, \"forwardSeconds\": N}"),
                   CLX_EINVAL;
        up->set_window = 1;
        up->window_back_ms = cur->window_back_ms;
        up->window_forward_ms = cur->window_forward_ms;
        for (size_t i = 0; i < win->u.object.len; i++) {
            const char *k = win->u.object.keys[i];
            yajl_val v = win->u.object.values[i];
            int back = strcmp(k, "backSeconds") == 0;
            if (!back && strcmp(k, "forwardSeconds") != 0)
                return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "eventWindow",
                                           "eventWindow has the members backSeconds and forwardSeconds, not '%.64s'",
                                           k),
                       CLX_EINVAL;
            const char *field = back ? "eventWindow.backSeconds" : "eventWindow.forwardSeconds";
            int64_t ms;
            if (YAJL_IS_NULL(v))
                ms = 0; /* that edge's default */
            else if (!YAJL_IS_INTEGER(v))
                return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, field,
                                           "%s must be a whole number of seconds", field),
                       CLX_EINVAL;
            else if (YAJL_GET_INTEGER(v) <= 0 || YAJL_GET_INTEGER(v) > INT64_MAX / 1000)
                ms = -1; /* refused by the settings service, which words the range */
            else
                ms = YAJL_GET_INTEGER(v) * 1000;
            *(back ? &up->window_back_ms : &up->window_forward_ms) = ms;
        }
    }
    const char *dpath[] = {"tagDimensions", NULL};
    yajl_val dims = yajl_tree_get(body, dpath, yajl_t_any);
    if (dims != NULL) {
        if (!YAJL_IS_ARRAY(dims))
            return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, "tagDimensions",
                                       "tagDimensions must be an array of tag keys"),
                   CLX_EINVAL;
        up->set_tag_dimensions = 1;
        up->ntag_dimensions = dims->u.array.len;
        for (size_t i = 0; i < dims->u.array.len; i++) {
            yajl_val d = dims->u.array.values[i];
            if (!YAJL_IS_STRING(d))
                return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, "tagDimensions",
                                           "tagDimensions must be an array of tag keys (strings)"),
                       CLX_EINVAL;
            if (i < CLX_TAG_DIMENSIONS_MAX + 1)
                up->tag_dimensions[i] = YAJL_GET_STRING(d);
        }
    }
    return CLX_OK;
}

static int workspace_patch(clx_rest_call_t *call, clx_jw_t *w)
{
    char *slug = clx_rest_param(call, 0);
    clx_workspace_t ws;
    if (clx_settings_get_workspace(call->srv->cfg.settings, slug, &ws) != CLX_OK)
        return no_workspace(call, slug);
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    const char *path[] = {"strictMode", NULL};
    yajl_val v = yajl_tree_get(body, path, yajl_t_any);
    if (v != NULL && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, "strictMode",
                            "strictMode must be true or false");
        goto done;
    }
    clx_workspace_update_t up = {0};
    if (ingest_settings(call, body, &ws, &up) != CLX_OK)
        goto done;
    if (clx_rest_patch_ws_governance(call, body, slug, &ws) < 0)
        goto done;
    if (up.set_window || up.set_tag_dimensions) {
        clx_settings_problem_t problem = {0};
        int rc = clx_settings_update_workspace(call->srv->cfg.settings, slug, &up, &ws, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
            goto done;
        }
    }
    if (v != NULL) {
        int rc = clx_settings_set_strict_mode(call->srv->cfg.settings, slug, YAJL_IS_TRUE(v), &ws);
        if (rc != CLX_OK) {
            clx_settings_problem_t problem = {.field = "strictMode"};
            snprintf(problem.message, sizeof(problem.message), "%s", clx_strerror(rc));
            settings_error(call, rc, &problem);
            goto done;
        }
    }
    render_ws(w, &ws);
    send_w(call, 200, w);
done:
    yajl_tree_free(body);
    return 0;
}

/* ---- projects and environments ------------------------------------------------------------- */

static int projects_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "projects");
    if (clx_settings_list_projects(call->srv->cfg.settings, ws, list_project_cb, w) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int projects_create(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    const char *slug, *name;
    clx_project_t p;
    clx_settings_problem_t problem = {0};
    if (member_str(call, body, "slug", &slug) == CLX_OK && member_str(call, body, "name", &name) == CLX_OK) {
        int rc = clx_settings_create_project(call->srv->cfg.settings, ws, slug, name, &p, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            clx_jw_obj_begin(w);
            clx_jw_str(w, "slug", p.slug);
            clx_jw_str(w, "name", p.name);
            clx_jw_str(w, "workspace", p.workspace);
            clx_rest_jw_time(w, "createdAt", p.created_at_ms);
            clx_jw_arr_begin(w, "environments");
            clx_settings_list_environments(call->srv->cfg.settings, ws, p.slug, list_env_cb, w);
            clx_jw_arr_end(w);
            clx_jw_obj_end(w);
            send_w(call, 201, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

static int project_get(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *slug = clx_rest_param(call, 1);
    clx_project_t p;
    if (clx_settings_get_project(call->srv->cfg.settings, ws, slug, &p) != CLX_OK)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "project",
                                   "project '%s' does not exist in '%s'", slug, ws);
    clx_jw_obj_begin(w);
    clx_jw_str(w, "slug", p.slug);
    clx_jw_str(w, "name", p.name);
    clx_jw_str(w, "workspace", p.workspace);
    clx_rest_jw_time(w, "createdAt", p.created_at_ms);
    clx_jw_arr_begin(w, "environments");
    clx_settings_list_environments(call->srv->cfg.settings, ws, slug, list_env_cb, w);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int environments_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *project = clx_rest_param(call, 1);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "environments");
    if (clx_settings_list_environments(call->srv->cfg.settings, ws, project, list_env_cb, w) != CLX_OK)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "project",
                                   "project '%s' does not exist in '%s'", project, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int environments_create(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *project = clx_rest_param(call, 1);
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    const char *slug;
    clx_environment_t e;
    clx_settings_problem_t problem = {0};
    if (member_str(call, body, "slug", &slug) == CLX_OK) {
        int rc = clx_settings_create_environment(call->srv->cfg.settings, ws, project, slug, &e, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            render_env(w, &e);
            send_w(call, 201, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int keys_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "keys");
    if (clx_settings_list_keys(call->srv->cfg.settings, ws, list_key_cb, w) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int keys_create(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    const char *name, *dp, *de, *lock;
    if (member_str(call, body, "name", &name) == CLX_OK && member_str(call, body, "defaultProject", &dp) == CLX_OK &&
        member_str(call, body, "defaultEnvironment", &de) == CLX_OK &&
        member_str(call, body, "environment", &lock) == CLX_OK) {
        clx_apikey_t k;
        char secret[CLX_KEY_SECRET_MAX + 1];
        clx_settings_problem_t problem = {0};
        int rc = clx_settings_create_key(call->srv->cfg.settings, ws, name, dp, de, lock, &k, secret, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            clx_jw_obj_begin(w);
            clx_jw_str(w, "id", k.id);
            clx_jw_str(w, "key", secret); /* the only time the secret is shown */
            clx_jw_str(w, "name", k.name);
            clx_jw_str(w, "workspace", k.workspace);
            clx_jw_str(w, "prefix", k.prefix);
            jw_opt(w, "defaultProject", k.default_project);
            jw_opt(w, "defaultEnvironment", k.default_environment);
            jw_opt(w, "environment", k.locked_environment);
            clx_rest_jw_time(w, "createdAt", k.created_at_ms);
            clx_jw_obj_end(w);
            send_w(call, 201, w);
            memset(secret, 0, sizeof(secret));
        }
    }
    yajl_tree_free(body);
    return 0;
}

static int key_revoke(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *id = clx_rest_param(call, 1);
    int rc = clx_settings_revoke_key(call->srv->cfg.settings, ws, id);
    if (rc == CLX_ENOTFOUND)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "id", "no key '%s' in workspace '%s'", id,
                                   ws);
    if (rc != CLX_OK) {
        if (!storage_refusal(call, rc, "the key could not be revoked"))
            clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s", clx_strerror(rc));
        return 0;
    }
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_str(w, "id", id);
    clx_jw_bool(w, "revoked", 1);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

/* ---- usage read-back ------------------------------------------------------------------------ */

static const char *cost_source_name(Costlynx__Store__V1__CostSource src)
{
    switch (src) {
    case COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CATALOG:
        return "catalog";
    case COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER:
        return "caller";
    case COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_OVERRIDE:
        return "override";
    default:
        return "none";
    }
}

/* A per-call rate in pico-dollars as exact US dollars ("0.01"). */
static void jw_usd_pico(clx_jw_t *w, const char *key, int64_t pico)
{
    char buf[48];
    int n = snprintf(buf, sizeof(buf), "%lld.%012lld", (long long)(pico / 1000000000000LL),
                     (long long)(pico % 1000000000000LL));
    while (n > 0 && buf[n - 1] == '0')
        n--;
    if (n > 0 && buf[n - 1] == '.')
        n--;
    clx_jw_strn(w, key, buf, (size_t)n);
}

/*
 * How a priced event's cost was made: per kind its units, the list rate used and its share
 * (the shares sum exactly to costUsd). null for caller costs, unpriced events and events
 * stored before the breakdown was recorded (no cost_detail: nothing is derived).
 */
static void render_breakdown(clx_jw_t *w, const Costlynx__Store__V1__StoredEvent *ev)
{
    const Costlynx__Store__V1__CostDetail *d = ev->cost_detail;
    char buf[40];
    if (d == NULL) {
        clx_jw_null(w, "costBreakdown");
        return;
    }
    clx_jw_obj_open(w, "costBreakdown");
    jw_opt(w, "priceId", ev->price_id);
    jw_opt(w, "catalogVersion", d->catalog_version);
    clx_jw_str(w, "tier", clx_service_tier_name((clx_service_tier_t)d->tier_used));
    clx_jw_int(w, "discountPct", d->discount_pct);
    clx_jw_bool(w, "longContext", d->long_context);
    clx_jw_arr_begin(w, "flags");
    if (d->flags & CLX_COST_TIER_UNPRICED)
        clx_jw_str(w, NULL, "tier_unpriced");
    if (d->flags & CLX_COST_FEE_UNPRICED)
        clx_jw_str(w, NULL, "fee_unpriced");
    if (d->flags & CLX_COST_SATURATED)
        clx_jw_str(w, NULL, "saturated");
    clx_jw_arr_end(w);
    clx_jw_arr_begin(w, "parts");
    for (size_t i = 0; i < d->n_parts; i++) {
        const Costlynx__Store__V1__CostPart *p = d->parts[i];
        clx_jw_obj_open(w, NULL);
        clx_jw_str(w, "kind", clx_cost_kind_name((clx_cost_kind_t)p->kind));
        clx_jw_int(w, "units", p->units);
        if (p->kind == CLX_COST_WEB_SEARCH) {
            clx_jw_str(w, "unit", "call");
            jw_usd_pico(w, "ratePerCall", p->rate_pico);
        } else {
            clx_jw_str(w, "unit", "token");
            clx_jw_price(w, "ratePerMtok", p->rate_pico);
        }
        clx_money_format_usd(p->nanos, buf);
        clx_jw_str(w, "costUsd", buf);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
}

void clx_rest_render_event(clx_jw_t *w, const Costlynx__Store__V1__StoredEvent *ev)
{
    char cost[32];
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "requestId", ev->request_id);
    clx_jw_str(w, "provider", ev->provider);
    clx_jw_str(w, "providerAsSent", ev->provider_as_sent);
    clx_jw_str(w, "model", ev->model);
    clx_jw_str(w, "modelNormalized", ev->model_normalized);
    jw_opt(w, "priceId", ev->price_id);
    if (ev->cost_source == COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_NONE) {
        clx_jw_null(w, "costUsd");
    } else {
        clx_money_format_usd(ev->cost_nanos, cost);
        clx_jw_str(w, "costUsd", cost);
    }
    clx_jw_str(w, "costSource", cost_source_name(ev->cost_source));
    render_breakdown(w, ev);
    clx_jw_int(w, "inputTokens", ev->input_tokens);
    clx_jw_int(w, "outputTokens", ev->output_tokens);
    clx_jw_int(w, "cachedTokens", ev->cached_tokens);
    clx_jw_int(w, "cacheWriteTokens", ev->cache_write_tokens);
    clx_jw_int(w, "cacheWrite1hTokens", ev->cache_write_1h_tokens);
    clx_jw_int(w, "reasoningTokens", ev->reasoning_tokens);
    clx_jw_int(w, "audioInputTokens", ev->audio_input_tokens);
    clx_jw_int(w, "cachedAudioTokens", ev->cached_audio_tokens);
    clx_jw_int(w, "audioOutputTokens", ev->audio_output_tokens);
    clx_jw_int(w, "webSearchCalls", ev->web_search_calls);
    clx_jw_str(w, "serviceTier", clx_service_tier_name((clx_service_tier_t)ev->service_tier));
    clx_jw_bool(w, "batch", ev->batch);
    jw_opt(w, "userId", ev->user_id);
    clx_jw_obj_open(w, "tags");
    for (size_t i = 0; i < ev->n_tags; i++)
        clx_jw_str(w, ev->tags[i]->key, ev->tags[i]->value);
    clx_jw_obj_end(w);
    jw_opt(w, "project", ev->project);
    jw_opt(w, "environment", ev->environment);
    jw_opt(w, "projectAsSent", ev->project_as_sent);
    jw_opt(w, "environmentAsSent", ev->environment_as_sent);
    jw_opt(w, "feature", ev->feature);
    clx_jw_str(w, "keyId", ev->key_id);
    /* the event's time: its timestamp, else (and in events stored before it existed) arrival */
    clx_rest_jw_time(w, "timestamp", ev->event_time_ms != 0 ? ev->event_time_ms : ev->received_at_ms);
    clx_rest_jw_time(w, "receivedAt", ev->received_at_ms);
    /* corrections (issue 11): the version, and a voided event's mark (it is in no total) */
    clx_jw_int(w, "version", ev->version != 0 ? ev->version : 1);
    if (ev->voided) {
        clx_jw_bool(w, "voided", 1);
        clx_rest_jw_time(w, "voidedAt", ev->changed_at_ms);
        clx_jw_str(w, "voidedBy", ev->changed_by);
        clx_jw_str(w, "voidReason", ev->change_reason);
    }
    clx_jw_arr_begin(w, "flags");
    static const struct {
        uint32_t bit;
        const char *name;
    } flags[] = {
        {COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED, "unpriced"},
        {COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT, "unknown_project"},
        {COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_ENVIRONMENT, "unknown_environment"},
        {COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_NO_ATTRIBUTION, "no_attribution"},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (ev->flags & flags[i].bit)
            clx_jw_str(w, NULL, flags[i].name);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
}

static int list_event_cb(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev)
{
    clx_rest_render_event(arg, ev);
    return 0;
}

static int usage_events(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_workspace_t wsrec;
    if (clx_settings_get_workspace(call->srv->cfg.settings, ws, &wsrec) != CLX_OK)
        return no_workspace(call, ws);
    char *rid = clx_rest_query(call->req, "requestId");
    char *limit_s = clx_rest_query(call->req, "limit");
    char *cursor_s = clx_rest_query(call->req, "cursor");
    long limit = 100;
    if (limit_s != NULL) {
        char *end;
        limit = strtol(limit_s, &end, 10);
        if (*limit_s == '\0' || *end != '\0' || strspn(limit_s, "0123456789") != strlen(limit_s) || limit < 1 ||
            limit > 1000)
            return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "limit",
                                       "limit must be 1 to 1000");
    }
    clx_event_cursor_t cursor = {0, 0};
    if (cursor_s != NULL && clx_query_cursor_parse(cursor_s, &cursor) != 0) /* digits only */
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "cursor", "cursor must be a number");
    clx_arena_t *arena = w->arena;
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "events");
    if (rid != NULL) {
        Costlynx__Store__V1__StoredEvent *ev;
        int rc = clx_query_event(call->srv->cfg.query, ws, rid, strlen(rid), arena, &ev);
        if (rc == CLX_OK)
            clx_rest_render_event(w, ev);
        else if (rc != CLX_ENOTFOUND)
            return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "the event could not be read");
        clx_jw_arr_end(w);
        clx_jw_null(w, "nextCursor");
    } else {
        clx_event_cursor_t next;
        clx_event_filter_t filter = {0};
        if (clx_rest_event_filter(call, &filter) != 0)
            return 0;
        int rc =
            clx_query_list_events(call->srv->cfg.query, ws, &cursor, (size_t)limit, &filter, list_event_cb, w, &next);
        if (rc != CLX_OK)
            return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "events could not be read");
        clx_jw_arr_end(w);
        if (next.seq == 0) {
            clx_jw_null(w, "nextCursor");
        } else {
            char buf[CLX_CURSOR_BUF];
            clx_query_cursor_format(&next, buf);
            clx_jw_str(w, "nextCursor", buf);
        }
    }
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

/* ---- pricing overrides and Azure deployment mappings ----------------------------------------- */

static void render_override(clx_jw_t *w, const clx_price_override_t *o)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "id", o->id);
    clx_jw_str(w, "provider", o->provider);
    clx_jw_str(w, "model", o->model);
    clx_jw_price(w, "inputPerMtok", o->input_pico);
    clx_jw_price(w, "outputPerMtok", o->output_pico);
    clx_jw_price(w, "cachedInputPerMtok", o->cached_input_pico);
    clx_jw_price(w, "cacheWritePerMtok", o->cache_write_pico);
    clx_jw_str(w, "note", o->note);
    clx_rest_jw_time(w, "createdAt", o->created_at_ms);
    clx_jw_obj_end(w);
}

static void override_cb(void *arg, const clx_price_override_t *o)
{
    render_override(arg, o);
}

static void render_deployment(clx_jw_t *w, const clx_deployment_t *d)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "deployment", d->deployment);
    clx_jw_str(w, "model", d->model);
    clx_rest_jw_time(w, "createdAt", d->created_at_ms);
    clx_jw_obj_end(w);
}

static void deployment_cb(void *arg, const clx_deployment_t *d)
{
    render_deployment(arg, d);
}

/* A price member: a JSON number or a decimal string, as text; NULL when absent. */
static int member_price(clx_rest_call_t *call, yajl_val obj, const char *name, const char **out)
{
    *out = NULL;
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
    if (v == NULL || YAJL_IS_NULL(v))
        return CLX_OK;
    if (YAJL_IS_NUMBER(v)) {
        *out = YAJL_GET_NUMBER(v);
        return CLX_OK;
    }
    if (YAJL_IS_STRING(v)) {
        *out = YAJL_GET_STRING(v);
        return CLX_OK;
    }
    clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, name,
                        "%s must be a number (US dollars per million tokens)", name);
    return CLX_EINVAL;
}

static int overrides_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "overrides");
    if (clx_settings_list_overrides(call->srv->cfg.settings, ws, override_cb, w) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int overrides_set(clx_rest_call_t *call, clx_jw_t *w)
{
    clx_override_input_t in = {.workspace = clx_rest_param(call, 0)};
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    if (member_str(call, body, "provider", &in.provider) == CLX_OK &&
        member_str(call, body, "model", &in.model) == CLX_OK &&
        member_price(call, body, "inputPerMtok", &in.input) == CLX_OK &&
        member_price(call, body, "outputPerMtok", &in.output) == CLX_OK &&
        member_price(call, body, "cachedInputPerMtok", &in.cached_input) == CLX_OK &&
        member_price(call, body, "cacheWritePerMtok", &in.cache_write) == CLX_OK &&
        member_str(call, body, "note", &in.note) == CLX_OK) {
        clx_price_override_t o;
        clx_settings_problem_t problem = {0};
        int rc = clx_settings_set_override(call->srv->cfg.settings, &in, &o, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            render_override(w, &o);
            send_w(call, 201, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

static int overrides_delete(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    char *provider = clx_rest_query(call->req, "provider"), *model = clx_rest_query(call->req, "model");
    if (provider == NULL || model == NULL)
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_MISSING_FIELD,
                                   provider == NULL ? "provider" : "model",
                                   "name the override with ?provider=…&model=…");
    int rc = clx_settings_delete_override(call->srv->cfg.settings, ws, provider, model);
    if (storage_refusal(call, rc, "the override could not be deleted"))
        return 0;
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "model", "no override for %s model '%s'",
                                   provider, model);
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int deployments_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "deployments");
    if (clx_settings_list_deployments(call->srv->cfg.settings, ws, deployment_cb, w) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int deployments_set(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    const char *deployment, *model;
    if (member_str(call, body, "deployment", &deployment) == CLX_OK &&
        member_str(call, body, "model", &model) == CLX_OK) {
        clx_deployment_t d;
        clx_settings_problem_t problem = {0};
        int rc = clx_settings_set_deployment(call->srv->cfg.settings, ws, deployment, model, &d, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            render_deployment(w, &d);
            send_w(call, 201, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

static int deployments_delete(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    char *deployment = clx_rest_query(call->req, "deployment");
    if (deployment == NULL)
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_MISSING_FIELD, "deployment",
                                   "name it with ?deployment=…");
    int rc = clx_settings_delete_deployment(call->srv->cfg.settings, ws, deployment);
    if (storage_refusal(call, rc, "the mapping could not be deleted"))
        return 0;
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "deployment",
                                   "no mapping for deployment '%s'", deployment);
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

/* ---- backups ---------------------------------------------------------------------------------- */

/*
 * A backup runs on a thread of its own (a checkpoint may take minutes; the loop goes on) and
 * its answer comes back to the loop that took the request, like an ingest completion.
 */
struct backup_job {
    h2o_multithread_message_t msg; /* first: the queue hands back this pointer */
    clx_rest_thread_t *thread;
    h2o_req_t *req;              /* NULL once the client has gone */
    struct backup_job **backref; /* in req->pool; cleared by the pool's dispose */
    clx_maintenance_t *maintenance;
    int rc;
    char *err;
    clx_backup_report_t info;
};

static void backup_pool_dispose(void *p)
{
    struct backup_job **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

static void *backup_main(void *arg)
{
    struct backup_job *job = arg;
    job->rc = clx_maintenance_backup(job->maintenance, &job->info, &job->err);
    atomic_fetch_sub(&job->thread->server->backups, 1); /* done with the store: stopping may go on */
    h2o_multithread_send_message(&job->thread->backup_receiver, &job->msg);
    return NULL;
}

static void backup_respond(struct backup_job *job)
{
    if (job->rc != CLX_OK) {
        clx_rest_send_error(job->req, job->rc, CLX_CODE_NONE, NULL, "%s",
                            job->err != NULL ? job->err : clx_strerror(job->rc));
        return;
    }
    const clx_backup_report_t *b = &job->info;
    clx_arena_t *arena = clx_rest_arena_get(job->thread);
    clx_jw_t w;
    clx_jw_init(&w, arena, 1024);
    clx_jw_obj_begin(&w);
    clx_jw_bool(&w, "ok", 1);
    clx_jw_str(&w, "name", b->name);
    clx_jw_str(&w, "path", b->path);
    clx_jw_int(&w, "bytes", (int64_t)b->bytes);
    clx_jw_int(&w, "files", (int64_t)b->files);
    clx_jw_int(&w, "sequence", (int64_t)b->sequence);
    clx_rest_jw_time(&w, "startedAt", b->started_ms);
    clx_rest_jw_time(&w, "finishedAt", b->finished_ms);
    clx_jw_arr_begin(&w, "deleted");
    for (size_t i = 0; i < b->ndeleted; i++)
        clx_jw_str(&w, NULL, b->deleted[i]);
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    clx_rest_send_json(job->req, 201, w.buf, w.len);
    clx_rest_arena_put(job->thread, arena);
}

void clx_rest_on_backup_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct backup_job *job = (struct backup_job *)m;
        if (job->req != NULL) {
            *job->backref = NULL;
            backup_respond(job);
        }
        free(job->err);
        free(job);
    }
}

/* POST /api/v1/admin/backup: a backup under --backup-dir, with a generated name. */
static int backup_create(clx_rest_call_t *call, clx_jw_t *w)
{
    clx_rest_t *srv = call->srv;
    if (!clx_maintenance_backups_on(srv->cfg.maintenance))
        return clx_rest_send_error(call->req, CLX_EEXIST, CLX_CODE_BACKUP_NOT_CONFIGURED, NULL,
                                   "backups are off: start costlynxd with --backup-dir (COSTLYNX_BACKUP_DIR) naming "
                                   "the folder for them");
    yajl_val body = body_object(call);
    if (body == NULL)
        return 0;
    /* the caller chooses nothing: the folder is the operator's, the name is generated */
    if (body->u.object.len > 0) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_BODY, body->u.object.keys[0],
                            "a backup goes to the server's --backup-dir under a generated name; the body takes no "
                            "fields (got '%.60s')",
                            body->u.object.keys[0]);
        yajl_tree_free(body);
        return 0;
    }
    yajl_tree_free(body);
    if (atomic_load(&srv->stopping))
        return clx_rest_send_error(call->req, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL,
                                   "shutting down; back up after the restart");
    struct backup_job *job = clx_xcalloc(1, sizeof(*job));
    job->thread = call->thread;
    job->maintenance = srv->cfg.maintenance;
    job->req = call->req;
    job->backref = h2o_mem_alloc_shared(&call->req->pool, sizeof(*job->backref), backup_pool_dispose);
    *job->backref = job;
    atomic_fetch_add(&srv->backups, 1);
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&tid, &attr, backup_main, job) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        atomic_fetch_sub(&srv->backups, 1);
        *job->backref = NULL;
        free(job);
        return clx_rest_send_error(call->req, CLX_EBUSY, CLX_CODE_NONE, NULL, "cannot start the backup thread; retry");
    }
    return 0; /* answered by clx_rest_on_backup_done */
}

/* ---- the table ------------------------------------------------------------------------------- */

static const struct admin_route routes[] = {
    {"GET", "workspaces", workspaces_list},
    {"POST", "workspaces", workspaces_create},
    {"GET", "workspaces/{}", workspace_get},
    {"PATCH", "workspaces/{}", workspace_patch},
    {"GET", "workspaces/{}/projects", projects_list},
    {"POST", "workspaces/{}/projects", projects_create},
    {"GET", "workspaces/{}/projects/{}", project_get},
    {"GET", "workspaces/{}/projects/{}/environments", environments_list},
    {"POST", "workspaces/{}/projects/{}/environments", environments_create},
    {"GET", "workspaces/{}/keys", keys_list},
    {"POST", "workspaces/{}/keys", keys_create},
    {"DELETE", "workspaces/{}/keys/{}", key_revoke},
    {"GET", "workspaces/{}/usage/events", usage_events},
    {"GET", "workspaces/{}/usage/events/{}/history", clx_rest_event_history},
    {"POST", "workspaces/{}/usage/reprice", clx_rest_reprice},
    {"GET", "workspaces/{}/usage/jobs/{}", clx_rest_reprice_job},
    {"GET", "workspaces/{}/usage/overview", clx_rest_usage_overview},
    {"GET", "workspaces/{}/usage/costs", clx_rest_usage_costs},
    {"GET", "workspaces/{}/usage/warnings", clx_rest_usage_warnings},
    {"GET", "workspaces/{}/pricing/overrides", overrides_list},
    {"POST", "workspaces/{}/pricing/overrides", overrides_set},
    {"DELETE", "workspaces/{}/pricing/overrides", overrides_delete},
    {"GET", "workspaces/{}/pricing/deployments", deployments_list},
    {"POST", "workspaces/{}/pricing/deployments", deployments_set},
    {"DELETE", "workspaces/{}/pricing/deployments", deployments_delete},
    {"POST", "pricing/reload", clx_rest_pricing_reload},
    {"POST", "backup", backup_create},
    /* issue 12: services/rest/governance.c */
    {"GET", "workspaces/{}/budgets", clx_rest_budgets_list},
    {"POST", "workspaces/{}/budgets", clx_rest_budgets_create},
    {"GET", "workspaces/{}/budgets/{}", clx_rest_budget_get},
    {"PATCH", "workspaces/{}/budgets/{}", clx_rest_budget_update},
    {"DELETE", "workspaces/{}/budgets/{}", clx_rest_budget_delete},
    {"GET", "workspaces/{}/channels", clx_rest_channels_list},
    {"POST", "workspaces/{}/channels", clx_rest_channels_create},
    {"DELETE", "workspaces/{}/channels/{}", clx_rest_channel_delete},
    {"POST", "workspaces/{}/channels/{}/test", clx_rest_channel_test},
    {"GET", "workspaces/{}/alerts", clx_rest_alerts_list},
    {"GET", "workspaces/{}/anomalies", clx_rest_anomalies_list},
    {"GET", "workspaces/{}/aliases", clx_rest_aliases_list},
    {"POST", "workspaces/{}/aliases", clx_rest_aliases_set},
    {"DELETE", "workspaces/{}/aliases", clx_rest_aliases_delete},
};

yajl_val clx_rest_admin_body(clx_rest_call_t *call)
{
    return body_object(call);
}

void clx_rest_admin_routes(clx_route_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        fn(arg, routes[i].method, routes[i].pattern);
}

/* Matches path against pattern, capturing {} segments into call->params. */
static int match(const char *pattern, const char *path, size_t len, clx_rest_call_t *call)
{
    const char *p = pattern, *s = path, *end = path + len;
    call->nparams = 0;
    if (len > 0 && path[len - 1] == '/')
        end--; /* tolerate one trailing slash */
    while (*p != '\0' && s <= end) {
        const char *pseg_end = strchr(p, '/');
        size_t plen = pseg_end != NULL ? (size_t)(pseg_end - p) : strlen(p);
        const char *sseg_end = memchr(s, '/', (size_t)(end - s));
        size_t slen = sseg_end != NULL ? (size_t)(sseg_end - s) : (size_t)(end - s);
        if (plen == 2 && p[0] == '{' && p[1] == '}') {
            if (slen == 0 || call->nparams == 4)
                return 0;
            call->params[call->nparams++] = h2o_iovec_init(s, slen);
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
        if (*p == '/') {
            if (s == end || *s != '/')
                return 0;
            p++;
            s++;
        } else {
            return s == end;
        }
    }
    return 0;
}

int clx_rest_admin_route(clx_rest_call_t *call, const char *path, size_t len)
{
    h2o_req_t *req = call->req;
    int auth = clx_rest_admin_auth(call);
    if (auth == CLX_EINVAL)
        return clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "Authorization",
                                   "send the admin token as 'Authorization: Bearer <token>'");
    if (auth != CLX_OK)
        return clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "Authorization", "the admin token is not valid");

    int path_matched = 0;
    char allow[64] = "";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!match(routes[i].pattern, path, len, call))
            continue;
        if (method_is(req, routes[i].method)) {
            clx_arena_t *arena = clx_rest_arena_get(call->thread);
            clx_jw_t w;
            clx_jw_init(&w, arena, 4096);
            routes[i].fn(call, &w);
            clx_rest_arena_put(call->thread, arena);
            return 0;
        }
        path_matched = 1;
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", routes[i].method);
    }
    if (path_matched) {
        h2o_iovec_t a = h2o_strdup(&req->pool, allow, strlen(allow)); /* h2o keeps the pointer */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, a.base, a.len);
        return clx_rest_send_error(req, CLX_EMETHOD, CLX_CODE_NONE, NULL, "allowed methods: %s", allow);
    }
    return clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, NULL, "no admin route for /api/v1/admin/%.*s",
                               (int)(len > 200 ? 200 : len), path);
}
