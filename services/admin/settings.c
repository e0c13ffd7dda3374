/*
 * settings.c — the settings service object: its lock and generation, its in-memory indexes
 * (what the hot path reads: no disk), and opening it from the store (every record loaded).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "settings_internal.h"

static void vec_push(struct clx_settings_vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->items = clx_xrealloc(v->items, v->cap * sizeof(void *));
    }
    v->items[v->n++] = p;
}

clx_settings_t *clx_settings_create_detached(clx_store_t *store)
{
    clx_settings_t *s = clx_xcalloc(1, sizeof(*s));
    s->store = store;
    pthread_rwlock_init(&s->lock, NULL);
    s->ws_by_slug = clx_map_create();
    s->proj_by_slug = clx_map_create();
    s->env_by_slug = clx_map_create();
    s->key_by_hash = clx_map_create();
    s->key_by_id = clx_map_create();
    s->override_by_name = clx_map_create();
    s->deployment_by_name = clx_map_create();
    return s;
}

void clx_settings_write_lock(clx_settings_t *s)
{
    pthread_rwlock_wrlock(&s->lock);
    atomic_fetch_add(&s->generation, 1);
}

void clx_settings_unlock(clx_settings_t *s)
{
    pthread_rwlock_unlock(&s->lock);
}

void clx_settings_read_begin(clx_settings_t *s)
{
    pthread_rwlock_rdlock(&s->lock);
}

void clx_settings_read_end(clx_settings_t *s)
{
    pthread_rwlock_unlock(&s->lock);
}

size_t clx_settings_mapkey(char *buf, const char *a, const char *b, const char *c)
{
    size_t n = strlen(a);
    memcpy(buf, a, n);
    if (b != NULL) {
        buf[n++] = '\0';
        size_t bl = strlen(b);
        memcpy(buf + n, b, bl);
        n += bl;
    }
    if (c != NULL) {
        buf[n++] = '\0';
        size_t cl = strlen(c);
        memcpy(buf + n, c, cl);
        n += cl;
    }
    return n;
}

void clx_settings_copy_slug(char *dst, const char *src)
{
    snprintf(dst, CLX_SLUG_MAX + 1, "%s", src != NULL ? src : "");
}

/* ---- indexes (the caller holds the write lock, or is loading) ------------------------------ */

void clx_settings_index_workspace(clx_settings_t *s, clx_workspace_t *w)
{
    vec_push(&s->workspaces, w);
    clx_map_put(s->ws_by_slug, w->slug, strlen(w->slug), w);
}

void clx_settings_index_project(clx_settings_t *s, clx_project_t *p)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    vec_push(&s->projects, p);
    clx_map_put(s->proj_by_slug, k, clx_settings_mapkey(k, p->workspace, p->slug, NULL), p);
}

void clx_settings_index_environment(clx_settings_t *s, clx_environment_t *e)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    vec_push(&s->environments, e);
    clx_map_put(s->env_by_slug, k, clx_settings_mapkey(k, e->workspace, e->project, e->slug), e);
}

void clx_settings_index_key(clx_settings_t *s, clx_apikey_t *k)
{
    char mk[CLX_SETTINGS_MAPKEY_MAX];
    vec_push(&s->keys, k);
    clx_map_put(s->key_by_id, mk, clx_settings_mapkey(mk, k->workspace, k->id, NULL), k);
    if (k->revoked_at_ms == 0)
        clx_map_put(s->key_by_hash, k->secret_sha256, 32, k);
}

static void override_id(clx_price_override_t *o)
{
    char day[16];
    time_t t = (time_t)(o->created_at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(o->id, sizeof(o->id), "override:%s/%s/%s@%s", o->workspace, o->provider, o->model, day);
}

/* Replaces (or adds) an override in the indexes; the replaced one is kept until destroy. */
void clx_settings_index_override(clx_settings_t *s, clx_price_override_t *o)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    override_id(o);
    vec_push(&s->overrides, o);
    clx_map_put(s->override_by_name, k, clx_settings_mapkey(k, o->workspace, o->provider, o->model), o);
}

void clx_settings_index_deployment(clx_settings_t *s, clx_deployment_t *d)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    vec_push(&s->deployments, d);
    clx_map_put(s->deployment_by_name, k, clx_settings_mapkey(k, d->workspace, d->deployment, NULL), d);
}

/* ---- open and destroy ---------------------------------------------------------------------- */

int clx_settings_open(clx_store_t *store, clx_settings_t **out)
{
    int rc = CLX_OK;
    clx_settings_t *s = clx_settings_create_detached(store);

    clx_iter_t *it = clx_iter_create(store, CLX_CF_SETTINGS, NULL, 0);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        const char *v = clx_iter_value(it, &vlen);
        if ((rc = clx_settings_load_record(s, k, klen, v, vlen)) != CLX_OK) {
            clx_log(CLX_LOG_ERROR, "settings", "unreadable settings record %.*s", (int)(klen > 80 ? 80 : klen), k);
            break;
        }
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    if (rc != CLX_OK)
        goto fail;

    if (clx_map_get(s->ws_by_slug, "default", 7) == NULL) {
        clx_settings_problem_t problem;
        rc = clx_settings_create_workspace(s, "default", "Default workspace", NULL, &problem);
        if (rc != CLX_OK)
            goto fail;
    }
    *out = s;
    return CLX_OK;

fail:
    clx_settings_destroy(s);
    return rc;
}

void clx_settings_destroy(clx_settings_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->workspaces.n; i++) {
        clx_workspace_t *w = s->workspaces.items[i];
        free(w->name);
        free(w);
    }
    for (size_t i = 0; i < s->projects.n; i++) {
        clx_project_t *p = s->projects.items[i];
        free(p->name);
        free(p);
    }
    for (size_t i = 0; i < s->environments.n; i++)
        free(s->environments.items[i]);
    for (size_t i = 0; i < s->keys.n; i++) {
        clx_apikey_t *k = s->keys.items[i];
        free(k->name);
        free(k);
    }
    for (size_t i = 0; i < s->overrides.n; i++) {
        clx_price_override_t *o = s->overrides.items[i];
        free(o->note);
        free(o);
    }
    for (size_t i = 0; i < s->deployments.n; i++)
        free(s->deployments.items[i]);
    clx_settings_free_governance(s);
    free(s->overrides.items);
    free(s->deployments.items);
    clx_map_destroy(s->override_by_name);
    clx_map_destroy(s->deployment_by_name);
    free(s->workspaces.items);
    free(s->projects.items);
    free(s->environments.items);
    free(s->keys.items);
    clx_map_destroy(s->ws_by_slug);
    clx_map_destroy(s->proj_by_slug);
    clx_map_destroy(s->env_by_slug);
    clx_map_destroy(s->key_by_hash);
    clx_map_destroy(s->key_by_id);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}
