/*
 * pricing_terms.c — a workspace's own pricing terms: its prices for some models (overrides)
 * and its Azure deployment names mapped to catalog models. Kept, listed and looked up here;
 * the order in which they apply before the catalog is pricing/terms.c's (clx_price_resolve).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_pricing.h"
#include "clx_text.h"
#include "settings_internal.h"

int clx_settings_set_override(clx_settings_t *s, const clx_override_input_t *req, clx_price_override_t *out,
                              clx_settings_problem_t *problem)
{
    int rc;
    clx_price_override_t parsed = {0}, *in = &parsed;
    if ((rc = clx_settings_check_text(req->provider, CLX_SLUG_MAX, "provider", problem)) != CLX_OK ||
        (rc = clx_settings_check_text(req->model, 256, "model", problem)) != CLX_OK)
        return rc;
    if (strlen(req->workspace) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", req->workspace);
    if ((rc = clx_settings_parse_price(req->input, "inputPerMtok", 1, &in->input_pico, problem)) != CLX_OK ||
        (rc = clx_settings_parse_price(req->output, "outputPerMtok", 1, &in->output_pico, problem)) != CLX_OK ||
        (rc = clx_settings_parse_price(req->cached_input, "cachedInputPerMtok", 0, &in->cached_input_pico, problem)) !=
            CLX_OK ||
        (rc = clx_settings_parse_price(req->cache_write, "cacheWritePerMtok", 0, &in->cache_write_pico, problem)) !=
            CLX_OK)
        return rc;
    char pbuf[CLX_SLUG_MAX + 1], mbuf[257];
    clx_settings_copy_slug(in->workspace, req->workspace);
    clx_settings_copy_slug(in->provider, clx_pricing_normalize_provider(req->provider, strlen(req->provider), pbuf));
    clx_pricing_normalize_model(req->model, strlen(req->model), mbuf);
    snprintf(in->model, sizeof(in->model), "%s", mbuf);
    in->note = (char *)(req->note != NULL ? req->note : "");
    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, in->workspace, strlen(in->workspace)) == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", in->workspace);
        goto done;
    }
    clx_price_override_t *o = clx_xcalloc(1, sizeof(*o));
    *o = *in;
    o->note = clx_xstrdup(in->note != NULL ? in->note : "");
    o->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_override(s, b, o);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(o->note);
        free(o);
        goto done;
    }
    clx_settings_index_override(s, o);
    if (out != NULL)
        *out = *o;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_delete_override(clx_settings_t *s, const char *ws, const char *provider, const char *model)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    int rc = CLX_OK;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(provider) > CLX_SLUG_MAX || strlen(model) > 256)
        return CLX_ENOTFOUND;
    clx_settings_write_lock(s);
    size_t kl = clx_settings_mapkey(k, ws, provider, model);
    if (clx_map_get(s->override_by_name, k, kl) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if ((rc = clx_settings_delete_override_record(s, ws, provider, model)) == CLX_OK)
        clx_map_remove(s->override_by_name, k, kl); /* the record itself stays until destroy */
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_set_deployment(clx_settings_t *s, const char *ws, const char *deployment, const char *model,
                                clx_deployment_t *out, clx_settings_problem_t *problem)
{
    int rc;
    if ((rc = clx_settings_check_text(deployment, 256, "deployment", problem)) != CLX_OK ||
        (rc = clx_settings_check_text(model, 256, "model", problem)) != CLX_OK)
        return rc;
    if (strlen(ws) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    clx_deployment_t *d = clx_xcalloc(1, sizeof(*d));
    clx_settings_copy_slug(d->workspace, ws);
    snprintf(d->deployment, sizeof(d->deployment), "%s", deployment);
    clx_ascii_lower_copy(d->deployment, d->deployment, strlen(d->deployment));
    snprintf(d->model, sizeof(d->model), "%s", model);
    d->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_deployment(s, b, d);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(d);
        goto done;
    }
    clx_settings_index_deployment(s, d);
    if (out != NULL)
        *out = *d;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_delete_deployment(clx_settings_t *s, const char *ws, const char *deployment)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    int rc = CLX_OK;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(deployment) > 256)
        return CLX_ENOTFOUND;
    clx_settings_write_lock(s);
    size_t kl = clx_settings_mapkey(k, ws, deployment, NULL);
    if (clx_map_get(s->deployment_by_name, k, kl) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if ((rc = clx_settings_delete_deployment_record(s, ws, deployment)) == CLX_OK)
        clx_map_remove(s->deployment_by_name, k, kl);
done:
    clx_settings_unlock(s);
    return rc;
}

/* ---- the ingest path's lookups (inside a read section) -------------------------------------- */

const clx_price_override_t *clx_settings_override_locked(clx_settings_t *s, const char *ws, const char *provider,
                                                         const char *model)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (s->override_by_name == NULL || clx_map_size(s->override_by_name) == 0)
        return NULL;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(provider) > CLX_SLUG_MAX || strlen(model) > 256)
        return NULL;
    return clx_map_get(s->override_by_name, k, clx_settings_mapkey(k, ws, provider, model));
}

const char *clx_settings_deployment_locked(clx_settings_t *s, const char *ws, const char *deployment)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (clx_map_size(s->deployment_by_name) == 0 || strlen(ws) > CLX_SLUG_MAX || strlen(deployment) > 256)
        return NULL;
    const clx_deployment_t *d = clx_map_get(s->deployment_by_name, k, clx_settings_mapkey(k, ws, deployment, NULL));
    return d != NULL ? d->model : NULL;
}

/* ---- listings -------------------------------------------------------------------------------- */

int clx_settings_list_overrides(clx_settings_t *s, const char *ws, clx_override_fn fn, void *arg)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    clx_settings_read_begin(s);
    int rc = clx_map_get(s->ws_by_slug, ws, strlen(ws)) != NULL ? CLX_OK : CLX_ENOTFOUND;
    for (size_t i = 0; rc == CLX_OK && i < s->overrides.n; i++) {
        const clx_price_override_t *o = s->overrides.items[i];
        /* only the current one of each name (replaced and deleted ones stay in the vector) */
        if (strcmp(o->workspace, ws) == 0 &&
            clx_map_get(s->override_by_name, k, clx_settings_mapkey(k, o->workspace, o->provider, o->model)) == o)
            fn(arg, o);
    }
    clx_settings_read_end(s);
    return rc;
}

int clx_settings_list_deployments(clx_settings_t *s, const char *ws, clx_deployment_fn fn, void *arg)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    clx_settings_read_begin(s);
    int rc = clx_map_get(s->ws_by_slug, ws, strlen(ws)) != NULL ? CLX_OK : CLX_ENOTFOUND;
    for (size_t i = 0; rc == CLX_OK && i < s->deployments.n; i++) {
        const clx_deployment_t *d = s->deployments.items[i];
        if (strcmp(d->workspace, ws) == 0 &&
            clx_map_get(s->deployment_by_name, k, clx_settings_mapkey(k, d->workspace, d->deployment, NULL)) == d)
            fn(arg, d);
    }
    clx_settings_read_end(s);
    return rc;
}

/* ---- the terms as the price stage reads them ----------------------------------------------- */

static const char *terms_deployment(void *ctx, const char *deployment)
{
    const clx_settings_terms_t *t = ctx;
    return clx_settings_deployment_locked(t->settings, t->ws, deployment);
}

static int terms_own_price(void *ctx, const char *provider, const char *model, clx_price_t *out)
{
    const clx_settings_terms_t *t = ctx;
    const clx_price_override_t *o = clx_settings_override_locked(t->settings, t->ws, provider, model);
    if (o == NULL)
        return 0;
    *out = (clx_price_t){
        .id = o->id,
        .provider = o->provider,
        .model = o->model,
        .effective_from_ms = o->created_at_ms,
        .input_pico = o->input_pico,
        .output_pico = o->output_pico,
        .cached_input_pico = o->cached_input_pico,
        .cache_write_pico = o->cache_write_pico,
        /* a workspace's own price is one flat price: no long-context tier, no schema-3 rates */
        .input_above_200k_pico = -1,
        .output_above_200k_pico = -1,
        .cached_input_above_200k_pico = -1,
        .cache_write_above_200k_pico = -1,
    };
    return 1;
}

void clx_settings_price_terms(clx_settings_t *s, const char *ws, clx_settings_terms_t *ctx, clx_price_terms_t *out)
{
    ctx->settings = s;
    ctx->ws = ws;
    *out = (clx_price_terms_t){.ctx = ctx, .deployment_model = terms_deployment, .own_price = terms_own_price};
}
