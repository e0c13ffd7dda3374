/*
 * pricing.c — the price catalog over REST: GET /api/v1/pricing/models (what is priced, for
 * dashboards and for callers checking coverage) and POST /api/v1/admin/pricing/reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_pipeline.h"
#include "clx_settings.h"
#include "rest_internal.h"


static void jw_date(clx_jw_t *w, const char *key, int64_t ms)
{
    char buf[16];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    clx_jw_str(w, key, buf);
}

/* Either credential works: an admin token, or an ingestion key checking its coverage. */
static int authorized(clx_rest_call_t *call)
{
    if (clx_rest_admin_auth(call) == CLX_OK)
        return 1;
    h2o_iovec_t key = clx_rest_header(call->req, "x-api-key");
    clx_key_info_t info;
    return key.base != NULL && clx_settings_auth_key(call->srv->cfg.settings, key.base, key.len, &info) == CLX_OK;
}

int clx_rest_pricing_models(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return clx_rest_send_error(req, CLX_EMETHOD, CLX_CODE_NONE, NULL, "use GET");
    if (!authorized(call))
        return clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "Authorization",
                                   "send the admin token (Authorization: Bearer) or an ingestion key (X-API-Key)");
    char *provider = clx_rest_query(req, "provider");
    const clx_catalog_t *c = clx_pipeline_catalog(call->srv->cfg.pipeline);
    clx_arena_t *arena = clx_rest_arena_get(call->thread);
    clx_jw_t w;
    clx_jw_init(&w, arena, 64 * 1024);
    clx_jw_obj_begin(&w);
    clx_jw_str(&w, "version", clx_catalog_version(c));
    clx_jw_str(&w, "unit", "USD per million tokens");
    clx_jw_arr_begin(&w, "models");
    for (size_t i = 0; i < clx_catalog_count(c); i++) {
        const clx_price_t *p = clx_catalog_entry(c, i);
        if (provider != NULL && strcmp(provider, p->provider) != 0)
            continue;
        clx_jw_obj_open(&w, NULL);
        clx_jw_str(&w, "id", p->id);
        clx_jw_str(&w, "provider", p->provider);
        clx_jw_str(&w, "model", p->model);
        clx_jw_arr_begin(&w, "aliases");
        const char *aliases = clx_catalog_aliases(c, i);
        while (aliases != NULL && *aliases != '\0') {
            const char *bar = strchr(aliases, '|');
            size_t n = bar != NULL ? (size_t)(bar - aliases) : strlen(aliases);
            clx_jw_strn(&w, NULL, aliases, n);
            aliases = bar != NULL ? bar + 1 : aliases + n;
        }
        clx_jw_arr_end(&w);
        jw_date(&w, "effectiveFrom", p->effective_from_ms);
        clx_jw_price(&w, "inputPerMtok", p->input_pico);
        clx_jw_price(&w, "outputPerMtok", p->output_pico);
        clx_jw_price(&w, "cachedInputPerMtok", p->cached_input_pico);
        clx_jw_price(&w, "cacheWritePerMtok", p->cache_write_pico);
        if (p->input_above_200k_pico >= 0) { /* the whole request at these prices above 200k input tokens */
            clx_jw_obj_open(&w, "above200kTokens");
            clx_jw_price(&w, "inputPerMtok", p->input_above_200k_pico);
            clx_jw_price(&w, "outputPerMtok", p->output_above_200k_pico);
            clx_jw_price(&w, "cachedInputPerMtok", p->cached_input_above_200k_pico);
            clx_jw_price(&w, "cacheWritePerMtok", p->cache_write_above_200k_pico);
            clx_jw_obj_end(&w);
        }
        clx_jw_int(&w, "batchDiscountPct", p->batch_discount_pct);
        clx_jw_str(&w, "source", p->source);
        clx_jw_str(&w, "checked", p->checked);
        clx_jw_obj_end(&w);
    }
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    clx_rest_send_json(req, 200, w.buf, w.len);
    clx_rest_arena_put(call->thread, arena);
    return 0;
}

int clx_rest_pricing_reload(clx_rest_call_t *call, clx_jw_t *w)
{
    char *err = NULL;
    int rc = clx_pipeline_reload_catalog(call->srv->cfg.pipeline, &err);
    if (rc != CLX_OK) {
        /* a file that cannot be read is worth retrying; a file that does not parse is not */
        clx_rest_send_error(call->req, rc == CLX_EIO ? CLX_EIO : CLX_EINVAL, CLX_CODE_CATALOG_INVALID, NULL,
                            "the catalog was not reloaded and the running one stays: %s",
                            err != NULL ? err : clx_strerror(rc));
        free(err);
        return 0;
    }
    const clx_catalog_t *c = clx_pipeline_catalog(call->srv->cfg.pipeline);
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_str(w, "version", clx_catalog_version(c));
    clx_jw_int(w, "models", (int64_t)clx_catalog_count(c));
    clx_jw_obj_end(w);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}
