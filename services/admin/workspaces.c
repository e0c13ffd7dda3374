/*
 * workspaces.c — the attribution tree: workspaces (and strict mode), their projects, each
 * project's environments; created, read and listed by the admin API, looked up by the
 * ingest path inside a read section.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "settings_internal.h"

static const char *const default_envs[] = {"prod", "staging", "dev"};

int clx_settings_create_workspace(clx_settings_t *s, const char *slug, const char *name, clx_workspace_t *out,
                                  clx_settings_problem_t *problem)
{
    int rc;
    if ((rc = clx_settings_check_slug(slug, "slug", problem)) != CLX_OK ||
        (rc = clx_settings_check_name(name, problem)) != CLX_OK)
        return rc;
    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, slug, strlen(slug)) != NULL) {
        clx_settings_bad(problem, "slug", "workspace '%s' already exists", slug);
        rc = CLX_EEXIST;
        goto done;
    }
    clx_workspace_t *w = clx_xcalloc(1, sizeof(*w));
    clx_settings_copy_slug(w->slug, slug);
    w->name = clx_xstrdup(name != NULL && name[0] != '\0' ? name : slug);
    w->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_workspace(s, b, w);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(w->name);
        free(w);
        goto done;
    }
    clx_settings_index_workspace(s, w);
    if (out != NULL)
        *out = *w;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_get_workspace(clx_settings_t *s, const char *slug, clx_workspace_t *out)
{
    clx_settings_read_begin(s);
    const clx_workspace_t *w = clx_map_get(s->ws_by_slug, slug, strlen(slug));
    if (w != NULL && out != NULL)
        *out = *w;
    clx_settings_read_end(s);
    return w != NULL ? CLX_OK : CLX_ENOTFOUND;
}

int clx_settings_set_strict_mode(clx_settings_t *s, const char *ws, int strict, clx_workspace_t *out)
{
    int rc = CLX_OK;
    clx_settings_write_lock(s);
    clx_workspace_t *w = clx_map_get(s->ws_by_slug, ws, strlen(ws));
    if (w == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    clx_workspace_t updated = *w;
    updated.strict_mode = strict != 0;
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_workspace(s, b, &updated);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK)
        goto done;
    w->strict_mode = updated.strict_mode;
    if (out != NULL)
        *out = *w;
done:
    clx_settings_unlock(s);
    return rc;
}

static int check_update(const clx_workspace_update_t *u, clx_settings_problem_t *problem)
{
    char msg[160];
    if (u->set_window) {
        const struct {
            const char *field;
            int64_t ms, max;
        } w[2] = {{"eventWindow.backSeconds", u->window_back_ms, CLX_WINDOW_BACK_MAX_MS},
                  {"eventWindow.forwardSeconds", u->window_forward_ms, CLX_WINDOW_FORWARD_MAX_MS}};
        for (int i = 0; i < 2; i++) {
            if (w[i].ms != 0 && (w[i].ms < 1000 || w[i].ms > w[i].max || w[i].ms % 1000 != 0)) {
                snprintf(msg, sizeof(msg), "%s must be a whole number of seconds from 1 to %lld", w[i].field,
                         (long long)(w[i].max / 1000));
                return clx_settings_bad(problem, w[i].field, "%s", msg);
            }
        }
    }
    if (u->set_tag_dimensions) {
        if (u->ntag_dimensions > CLX_TAG_DIMENSIONS_MAX) {
            snprintf(msg, sizeof(msg), "tagDimensions holds at most %d tag keys, got %zu", CLX_TAG_DIMENSIONS_MAX,
                     u->ntag_dimensions);
            return clx_settings_bad(problem, "tagDimensions", "%s", msg);
        }
        for (size_t i = 0; i < u->ntag_dimensions; i++) {
            const char *d = u->tag_dimensions[i];
            if (d == NULL || !clx_tag_key_valid(d, strlen(d))) {
                snprintf(msg, sizeof(msg),
                         "tagDimensions: '%.64s' is not a tag key (1 to 64 bytes of a-z, 0-9, '_', "
                         "'.' and '-')",
                         d != NULL ? d : "");
                return clx_settings_bad(problem, "tagDimensions", "%s", msg);
            }
            for (size_t j = 0; j < i; j++)
                if (strcmp(u->tag_dimensions[j], d) == 0) {
                    snprintf(msg, sizeof(msg), "tagDimensions: '%s' appears more than once", d);
                    return clx_settings_bad(problem, "tagDimensions", "%s", msg);
                }
        }
    }
    return CLX_OK;
}

int clx_settings_update_workspace(clx_settings_t *s, const char *ws, const clx_workspace_update_t *u,
                                  clx_workspace_t *out, clx_settings_problem_t *problem)
{
    int rc = check_update(u, problem);
    if (rc != CLX_OK)
        return rc;
    clx_settings_write_lock(s);
    clx_workspace_t *w = clx_map_get(s->ws_by_slug, ws, strlen(ws));
    if (w == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    clx_workspace_t updated = *w;
    if (u->set_window) {
        updated.window_back_ms = u->window_back_ms;
        updated.window_forward_ms = u->window_forward_ms;
    }
    if (u->set_tag_dimensions) {
        memset(updated.tag_dimensions, 0, sizeof(updated.tag_dimensions));
        for (size_t i = 0; i < u->ntag_dimensions; i++)
            memcpy(updated.tag_dimensions[i], u->tag_dimensions[i], strlen(u->tag_dimensions[i]) + 1);
        updated.ntag_dimensions = u->ntag_dimensions;
    }
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_workspace(s, b, &updated);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK)
        goto done;
    *w = updated; /* the name pointer is the same string */
    if (out != NULL)
        *out = *w;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_create_project(clx_settings_t *s, const char *ws, const char *slug, const char *name,
                                clx_project_t *out, clx_settings_problem_t *problem)
{
    int rc;
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if ((rc = clx_settings_check_slug(slug, "slug", problem)) != CLX_OK ||
        (rc = clx_settings_check_name(name, problem)) != CLX_OK)
        return rc;
    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    if (clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, slug, NULL)) != NULL) {
        clx_settings_bad(problem, "slug", "project '%s' already exists", slug);
        rc = CLX_EEXIST;
        goto done;
    }
    int64_t now = clx_now_ms();
    clx_project_t *p = clx_xcalloc(1, sizeof(*p));
    clx_settings_copy_slug(p->workspace, ws);
    clx_settings_copy_slug(p->slug, slug);
    p->name = clx_xstrdup(name != NULL && name[0] != '\0' ? name : slug);
    p->created_at_ms = now;
    /* the guide's standard environments come with every project */
    clx_environment_t *envs[3];
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_project(s, b, p);
    for (size_t i = 0; i < 3; i++) {
        envs[i] = clx_xcalloc(1, sizeof(clx_environment_t));
        clx_settings_copy_slug(envs[i]->workspace, ws);
        clx_settings_copy_slug(envs[i]->project, slug);
        clx_settings_copy_slug(envs[i]->slug, default_envs[i]);
        envs[i]->created_at_ms = now;
        clx_settings_put_environment(s, b, envs[i]);
    }
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        for (size_t i = 0; i < 3; i++)
            free(envs[i]);
        free(p->name);
        free(p);
        goto done;
    }
    clx_settings_index_project(s, p);
    for (size_t i = 0; i < 3; i++)
        clx_settings_index_environment(s, envs[i]);
    if (out != NULL)
        *out = *p;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_get_project(clx_settings_t *s, const char *ws, const char *slug, clx_project_t *out)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (strlen(ws) > CLX_SLUG_MAX || strlen(slug) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    clx_settings_read_begin(s);
    const clx_project_t *p = clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, slug, NULL));
    if (p != NULL && out != NULL)
        *out = *p;
    clx_settings_read_end(s);
    return p != NULL ? CLX_OK : CLX_ENOTFOUND;
}

int clx_settings_create_environment(clx_settings_t *s, const char *ws, const char *project, const char *slug,
                                    clx_environment_t *out, clx_settings_problem_t *problem)
{
    int rc;
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if ((rc = clx_settings_check_slug(slug, "slug", problem)) != CLX_OK)
        return rc;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(project) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "project", "project '%s' does not exist", project);
    clx_settings_write_lock(s);
    if (clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, project, NULL)) == NULL) {
        rc = clx_settings_missing(problem, "project", "project '%s' does not exist", project);
        goto done;
    }
    if (clx_map_get(s->env_by_slug, k, clx_settings_mapkey(k, ws, project, slug)) != NULL) {
        clx_settings_bad(problem, "slug", "environment '%s' already exists", slug);
        rc = CLX_EEXIST;
        goto done;
    }
    clx_environment_t *e = clx_xcalloc(1, sizeof(*e));
    clx_settings_copy_slug(e->workspace, ws);
    clx_settings_copy_slug(e->project, project);
    clx_settings_copy_slug(e->slug, slug);
    e->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_environment(s, b, e);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(e);
        goto done;
    }
    clx_settings_index_environment(s, e);
    if (out != NULL)
        *out = *e;
done:
    clx_settings_unlock(s);
    return rc;
}

/* ---- the ingest path's lookups (inside a read section) -------------------------------------- */

int clx_settings_has_project_locked(clx_settings_t *s, const char *ws, const char *project, size_t plen)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    size_t wl = strlen(ws);
    if (plen > CLX_SLUG_MAX || wl > CLX_SLUG_MAX)
        return 0;
    memcpy(k, ws, wl);
    k[wl] = '\0';
    memcpy(k + wl + 1, project, plen);
    return clx_map_get(s->proj_by_slug, k, wl + 1 + plen) != NULL;
}

int clx_settings_has_environment_locked(clx_settings_t *s, const char *ws, const char *project, const char *env,
                                        size_t elen)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (elen > CLX_SLUG_MAX || strlen(ws) > CLX_SLUG_MAX || strlen(project) > CLX_SLUG_MAX)
        return 0;
    size_t n = clx_settings_mapkey(k, ws, project, NULL);
    k[n++] = '\0';
    memcpy(k + n, env, elen);
    return clx_map_get(s->env_by_slug, k, n + elen) != NULL;
}

/* ---- listings -------------------------------------------------------------------------------- */

int clx_settings_list_workspaces(clx_settings_t *s, clx_ws_fn fn, void *arg)
{
    clx_settings_read_begin(s);
    for (size_t i = 0; i < s->workspaces.n; i++)
        fn(arg, s->workspaces.items[i]);
    clx_settings_read_end(s);
    return CLX_OK;
}

int clx_settings_list_projects(clx_settings_t *s, const char *ws, clx_project_fn fn, void *arg)
{
    int rc = CLX_OK;
    clx_settings_read_begin(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->projects.n; i++) {
        const clx_project_t *p = s->projects.items[i];
        if (strcmp(p->workspace, ws) == 0)
            fn(arg, p);
    }
done:
    clx_settings_read_end(s);
    return rc;
}

int clx_settings_list_environments(clx_settings_t *s, const char *ws, const char *project, clx_env_fn fn, void *arg)
{
    int rc = CLX_OK;
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (strlen(ws) > CLX_SLUG_MAX || strlen(project) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    clx_settings_read_begin(s);
    if (clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, project, NULL)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->environments.n; i++) {
        const clx_environment_t *e = s->environments.items[i];
        if (strcmp(e->workspace, ws) == 0 && strcmp(e->project, project) == 0)
            fn(arg, e);
    }
done:
    clx_settings_read_end(s);
    return rc;
}
