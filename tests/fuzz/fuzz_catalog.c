/*
 * fuzz_catalog.c — libFuzzer harness for the price catalog parser (clx_catalog_load_buffer):
 * the bytes are a catalog CSV. A catalog that loads is then used the way the pipeline and the
 * pricing routes use one: every entry listed, looked up by its provider and model (and a
 * normalised variant), and priced for token counts at the validated limits — so a price the
 * parser accepts must never make the exact cost arithmetic overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_pipeline.h"
#include "clx_pricing.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    clx_log_set_level(CLX_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clx_catalog_t *c = NULL;
    char *err = NULL;
    int rc = clx_catalog_load_buffer((const char *)data, size, &c, &err);
    if (rc != CLX_OK) {
        if (c != NULL || (rc == CLX_EINVAL && (err == NULL || err[0] == '\0')))
            abort(); /* a refusal must name the problem and leave nothing half-loaded */
        free(err);
        return 0;
    }
    free(err);
    static const clx_usage_t usages[] = {
        {.input_tokens = 1000, .output_tokens = 500},
        {.input_tokens = CLX_MAX_TOKENS, .output_tokens = CLX_MAX_TOKENS, .cached_tokens = CLX_MAX_TOKENS / 2,
         .cache_write_tokens = CLX_MAX_TOKENS / 2, .batch = true, .reasoning_tokens = CLX_MAX_TOKENS / 2,
         .cache_write_1h_tokens = CLX_MAX_TOKENS / 4, .audio_input_tokens = CLX_MAX_TOKENS / 4,
         .audio_output_tokens = CLX_MAX_TOKENS / 4, .cached_audio_tokens = CLX_MAX_TOKENS / 8},
        {.input_tokens = 250000, .output_tokens = 1, .cached_tokens = 100000, .cache_write_tokens = 100000,
         .cache_write_1h_tokens = 50000, .web_search_calls = 3},
        {.batch = true},
    };
    (void)clx_catalog_version(c);
    for (size_t i = 0; i < clx_catalog_count(c); i++) {
        const clx_price_t *p = clx_catalog_entry(c, i);
        (void)clx_catalog_aliases(c, i);
        size_t mlen = strlen(p->model);
        const clx_price_t *found = clx_catalog_lookup(c, p->provider, p->model, mlen, INT64_MAX);
        if (found == NULL)
            found = p;
        char upper[CLX_PRICING_MODEL_MAX + 32];
        if (mlen < CLX_PRICING_MODEL_MAX) { /* as a caller might send it: dated, upper case */
            for (size_t k = 0; k < mlen; k++)
                upper[k] = (p->model[k] >= 'a' && p->model[k] <= 'z') ? (char)(p->model[k] - 32) : p->model[k];
            memcpy(upper + mlen, "-20250219", 10);
            (void)clx_catalog_lookup(c, p->provider, upper, mlen + 9, p->effective_from_ms);
        }
        for (size_t u = 0; u < sizeof(usages) / sizeof(usages[0]); u++) {
            clx_cost_breakdown_t bd;
            int64_t total = clx_price_cost_nanos(found, &usages[u]);
            if (clx_price_cost_breakdown(found, &usages[u], &bd) != total || bd.total_nanos != total)
                abort(); /* the breakdown must add up to the charged cost */
        }
    }
    clx_catalog_destroy(c);
    return 0;
}
