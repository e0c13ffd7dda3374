/*
 * terms.c — which price an event is charged at: a workspace's own terms (deployment
 * mappings, negotiated prices) before the catalog's list prices. The one place that knows
 * the precedence; the terms themselves are looked up through the caller's clx_price_terms_t.
 */
#include <string.h>

#include "clx_pricing.h"
#include "clx_text.h"

const clx_price_t *clx_price_resolve(const clx_catalog_t *c, const clx_price_terms_t *terms, const char *provider,
                                     const char *model, size_t model_len, const char *normalized, int64_t at_ms,
                                     clx_price_t *own, const char **mapped)
{
    char lower[CLX_PRICING_MODEL_MAX + 1];
    *mapped = NULL;
    if (terms != NULL && model_len <= CLX_PRICING_MODEL_MAX) {
        clx_ascii_lower_copy(lower, model, model_len);
        if (terms->deployment_model != NULL)
            *mapped = terms->deployment_model(terms->ctx, lower);
        if (*mapped != NULL)
            normalized = *mapped; /* a deployment is priced as its model, whatever it is called */
        if (terms->own_price != NULL && (terms->own_price(terms->ctx, provider, *mapped ? *mapped : lower, own) ||
                                         terms->own_price(terms->ctx, provider, normalized, own)))
            return own;
    }
    if (*mapped != NULL)
        return clx_catalog_lookup(c, provider, *mapped, strlen(*mapped), at_ms);
    return clx_catalog_lookup(c, provider, model, model_len, at_ms);
}
