/*
 * price.c — pipeline stage: the event's cost in nano-dollars, from the caller's
 * estimatedCostUsd when given, else at the price clx_price_resolve picks (the workspace's
 * terms, then the catalog price in force at the event's time), every token kind and the
 * service tier at their rates (clx_price_cost_breakdown), and how the cost was made
 * (cost_detail).
 */
#include <string.h>

#include "clx_money.h"
#include "pipeline_internal.h"

/* How the cost was made (rec->cost_detail): only the kinds with units, in breakdown order. */
static void record_detail(clx_arena_t *arena, const char *catalog_version, const clx_cost_breakdown_t *bd,
                          Costlynx__Store__V1__StoredEvent *rec)
{
    Costlynx__Store__V1__CostDetail *d = clx_arena_alloc(arena, sizeof(*d));
    costlynx__store__v1__cost_detail__init(d);
    d->catalog_version = (char *)catalog_version;
    d->tier_used = (Costlynx__Store__V1__ServiceTier)bd->tier;
    d->discount_pct = bd->discount_pct;
    d->long_context = bd->long_context;
    d->flags = bd->flags;
    size_t n = 0;
    for (int k = 0; k < CLX_COST_KINDS; k++)
        n += bd->part[k].units != 0;
    Costlynx__Store__V1__CostPart *parts = clx_arena_alloc(arena, (n ? n : 1) * sizeof(*parts));
    d->parts = clx_arena_alloc(arena, (n ? n : 1) * sizeof(*d->parts));
    for (int k = 0; k < CLX_COST_KINDS; k++) {
        if (bd->part[k].units == 0)
            continue;
        Costlynx__Store__V1__CostPart *cp = &parts[d->n_parts];
        costlynx__store__v1__cost_part__init(cp);
        cp->kind = (uint32_t)k;
        cp->units = bd->part[k].units;
        cp->rate_pico = bd->part[k].rate_pico;
        cp->nanos = bd->part[k].nanos;
        d->parts[d->n_parts++] = cp;
    }
    rec->cost_detail = d;
}

/*
 * PASS with the cost in rec, or WARN (stored unpriced, or priced standard for a tier the price
 * lacks: the warning in *why).
 */
clx_verdict_t clx_price_event(const clx_catalog_t *catalog, clx_settings_t *settings, const char *ws,
                              clx_arena_t *arena, const Costlynx__V1__UsageEvent *ev,
                              Costlynx__Store__V1__StoredEvent *rec, int64_t at_ms, clx_problem_t *why)
{
    size_t plen = strlen(ev->provider), mlen = strlen(ev->model);
    char *pbuf = clx_arena_alloc(arena, plen + 1);
    rec->provider = (char *)clx_pricing_normalize_provider(ev->provider, plen, pbuf);
    rec->provider_as_sent = ev->provider;
    rec->model = ev->model;
    char *mbuf = clx_arena_alloc(arena, mlen + 1);
    clx_pricing_normalize_model(ev->model, mlen, mbuf);
    rec->model_normalized = mbuf;
    rec->price_id = (char *)"";

    switch (ev->estimated_cost_case) {
    case COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS:
        rec->cost_nanos = ev->estimated_cost_nanos;
        rec->cost_source = COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER;
        return CLX_VERDICT_PASS;
    case COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD:
        /* the one place a binary double enters: validated to [0, CLX_MAX_COST_USD], rounded once */
        rec->cost_nanos = (int64_t)(ev->estimated_cost_usd * 1e9 + 0.5);
        rec->cost_source = COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER;
        return CLX_VERDICT_PASS;
    default:
        break;
    }

    clx_settings_terms_t ctx;
    clx_price_terms_t terms;
    clx_settings_price_terms(settings, ws, &ctx, &terms);
    const char *mapped;
    clx_price_t own;
    const clx_price_t *price =
        clx_price_resolve(catalog, &terms, rec->provider, ev->model, mlen, rec->model_normalized, at_ms, &own, &mapped);
    if (mapped != NULL)
        rec->model_normalized = (char *)mapped;
    if (price == NULL) {
        rec->cost_nanos = 0;
        rec->cost_source = COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_NONE;
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED;
        clx_problem_set(why, NULL, CLX_CODE_UNPRICED_MODEL,
                        "no catalog price for %s model '%s' and no estimatedCostUsd: stored without a cost figure",
                        rec->provider, ev->model);
        return CLX_VERDICT_WARN;
    }
    clx_usage_t usage;
    clx_cost_breakdown_t bd;
    clx_usage_of_event(ev, &usage);
    int own_terms = price == &own;
    rec->price_id = clx_arena_strndup(arena, price->id, strlen(price->id));
    rec->cost_nanos = clx_price_cost_breakdown(price, &usage, &bd);
    rec->cost_source = own_terms ? COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_OVERRIDE
                                 : COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CATALOG;
    record_detail(arena, own_terms ? "" : clx_catalog_version(catalog), &bd, rec);
    if (bd.flags & CLX_COST_TIER_UNPRICED) {
        clx_problem_set(why, "serviceTier", CLX_CODE_TIER_UNPRICED,
                        "%s has no %s price for %s model '%s': priced at the standard rates", rec->price_id,
                        clx_service_tier_name(usage.service_tier), rec->provider, ev->model);
        return CLX_VERDICT_WARN;
    }
    return CLX_VERDICT_PASS;
}
