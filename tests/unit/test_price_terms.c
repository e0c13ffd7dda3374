/*
 * test_price_terms.c — clx_price_resolve: a workspace's terms (deployment mappings, its own
 * prices) before the catalog, in the documented order, over a small real catalog and terms
 * kept in a table (what the settings provide in costlynxd).
 */
#include "clx_test.h"

#include "clx_error.h"
#include "clx_pricing.h"

#define CSV                                                                                                            \
    "id,provider,model,aliases,effective_from,input_per_mtok,output_per_mtok,cached_input_per_mtok,"                   \
    "cache_write_per_mtok,source,checked\n"                                                                            \
    "openai/gpt-4o-mini@2024-07-18,openai,gpt-4o-mini,,2024-07-18,0.15,0.60,0.075,,https://example.com,2026-01-01\n"   \
    "openai/gpt-4o@2024-08-06,openai,gpt-4o,,2024-08-06,2.50,10,1.25,,https://example.com,2026-01-01\n"

#define AT 1767225600000LL /* 2026-01-01 */

/* Terms as a table: one deployment mapping and one own price. */
struct terms {
    const char *deployment, *deployment_model; /* lowercased name -> catalog model */
    const char *own_provider, *own_model;      /* the workspace's price for this pair */
    int calls;
};

static const char *deployment_model(void *ctx, const char *deployment)
{
    struct terms *t = ctx;
    t->calls++;
    return t->deployment != NULL && strcmp(deployment, t->deployment) == 0 ? t->deployment_model : NULL;
}

static int own_price(void *ctx, const char *provider, const char *model, clx_price_t *out)
{
    struct terms *t = ctx;
    t->calls++;
    if (t->own_model == NULL || strcmp(provider, t->own_provider) != 0 || strcmp(model, t->own_model) != 0)
        return 0;
    *out = (clx_price_t){.id = "override:test",
                         .provider = t->own_provider,
                         .model = t->own_model,
                         .input_pico = 1,
                         .output_pico = 2,
                         .cached_input_pico = -1,
                         .cache_write_pico = -1,
                         .input_above_200k_pico = -1,
                         .output_above_200k_pico = -1,
                         .cached_input_above_200k_pico = -1,
                         .cache_write_above_200k_pico = -1};
    return 1;
}

static clx_catalog_t *catalog;

static int setup(void **state)
{
    char *err = NULL;
    (void)state;
    return clx_catalog_load_buffer(CSV, strlen(CSV), &catalog, &err) == CLX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    clx_catalog_destroy(catalog);
    return 0;
}

/* Resolves (provider, model as sent) under t; *mapped gets the mapped name or NULL. */
static const clx_price_t *resolve(struct terms *t, const char *provider, const char *model, const char **mapped,
                                  clx_price_t *own)
{
    char norm[CLX_PRICING_MODEL_MAX + 1];
    clx_pricing_normalize_model(model, strlen(model), norm);
    clx_price_terms_t terms = {t, deployment_model, own_price};
    return clx_price_resolve(catalog, t != NULL ? &terms : NULL, provider, model, strlen(model), norm, AT, own, mapped);
}

static void test_catalog_when_no_terms_apply(void **state)
{
    (void)state;
    clx_price_t own;
    const char *mapped;
    struct terms none = {0};
    const clx_price_t *p = resolve(&none, "openai", "GPT-4o-mini-2024-07-18", &mapped, &own);
    assert_non_null(p);
    assert_string_equal(p->id, "openai/gpt-4o-mini@2024-07-18");
    assert_null(mapped);
    assert_int_equal(none.calls, 3); /* one deployment lookup, two own-price lookups */
    /* no terms at all: the catalog straight away */
    p = resolve(NULL, "openai", "gpt-4o", &mapped, &own);
    assert_string_equal(p->id, "openai/gpt-4o@2024-08-06");
    assert_null(resolve(NULL, "openai", "my-finetune", &mapped, &own));
}

static void test_own_price_wins_over_the_catalog(void **state)
{
    (void)state;
    clx_price_t own;
    const char *mapped;
    /* as sent (lowercased) */
    struct terms t = {.own_provider = "openai", .own_model = "gpt-4o-mini"};
    const clx_price_t *p = resolve(&t, "openai", "GPT-4o-Mini", &mapped, &own);
    assert_ptr_equal(p, &own);
    assert_string_equal(p->id, "override:test");
    /* then by the normalised name: a dated name gets the undated model's price */
    p = resolve(&t, "openai", "gpt-4o-mini-2024-07-18", &mapped, &own);
    assert_ptr_equal(p, &own);
    /* another provider's model of that name is not the workspace's */
    p = resolve(&t, "azure", "gpt-4o-mini", &mapped, &own);
    assert_string_equal(p->id, "openai/gpt-4o-mini@2024-07-18"); /* azure falls back to openai's list price */
}

static void test_deployment_is_priced_as_its_model(void **state)
{
    (void)state;
    clx_price_t own;
    const char *mapped;
    struct terms t = {.deployment = "prod-chat", .deployment_model = "gpt-4o"};
    const clx_price_t *p = resolve(&t, "azure", "Prod-Chat", &mapped, &own);
    assert_non_null(p);
    assert_string_equal(p->id, "openai/gpt-4o@2024-08-06");
    assert_string_equal(mapped, "gpt-4o");
    /* a mapped deployment takes the workspace's own price for the model it maps to */
    t.own_provider = "azure";
    t.own_model = "gpt-4o";
    p = resolve(&t, "azure", "prod-chat", &mapped, &own);
    assert_ptr_equal(p, &own);
    assert_string_equal(mapped, "gpt-4o");
    /* an unmapped deployment name prices as itself: unpriced here */
    assert_null(resolve(&t, "azure", "staging-chat", &mapped, &own));
    assert_null(mapped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_when_no_terms_apply),
        cmocka_unit_test(test_own_price_wins_over_the_catalog),
        cmocka_unit_test(test_deployment_is_priced_as_its_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
