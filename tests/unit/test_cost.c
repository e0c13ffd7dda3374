/*
 * test_cost.c — unit tests for the cost of one event: every token kind and service tier
 * priced against the shipped catalog to the nano (sums done by hand in USD), the breakdown
 * that sums exactly to the once-rounded total, and the usage subset rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_pricing.h"

#define SRC "https://example.com/pricing"
#define HEADER3                                                                                                        \
    "id,provider,model,aliases,effective_from,input_per_mtok,output_per_mtok,cached_input_per_mtok,"                   \
    "cache_write_per_mtok,source,checked,input_above_200k_per_mtok,output_above_200k_per_mtok,"                        \
    "cached_input_above_200k_per_mtok,cache_write_above_200k_per_mtok,batch_discount_pct,cache_write_1h_per_mtok,"     \
    "cache_write_1h_above_200k_per_mtok,priority_input_per_mtok,priority_output_per_mtok,"                             \
    "priority_cached_input_per_mtok,flex_input_per_mtok,flex_output_per_mtok,flex_cached_input_per_mtok,"              \
    "audio_input_per_mtok,cached_audio_input_per_mtok,audio_output_per_mtok,reasoning_output_per_mtok,"                \
    "web_search_per_1k_calls\n"

static clx_catalog_t *g_cat; /* the shipped catalog */

static int64_t day_ms(int y, int m, int d)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return (int64_t)timegm(&tm) * 1000;
}

#define NOW day_ms(2026, 7, 24)

static int setup_catalog(void **state)
{
    char *err = NULL;

    (void)state;
    if (clx_catalog_load(CLX_CATALOG_PATH, &g_cat, &err) != CLX_OK) {
        fprintf(stderr, "loading %s: %s\n", CLX_CATALOG_PATH, err != NULL ? err : "(no message)");
        free(err);
        return -1;
    }
    return 0;
}

static int teardown_catalog(void **state)
{
    (void)state;
    clx_catalog_destroy(g_cat);
    return 0;
}

static const clx_price_t *price_of(const char *provider, const char *model)
{
    const clx_price_t *p = clx_catalog_lookup(g_cat, provider, model, strlen(model), NOW);

    if (p == NULL)
        fail_msg("%s/%s: no price", provider, model);
    return p;
}

/*
 * The breakdown of u against p, checked for the invariants every breakdown keeps: its total
 * is clx_price_cost_nanos, its parts sum to the total, and every part is its exact amount
 * (units x rate x (100 - discount) / 100 pico) rounded down or up to nanos.
 */
static clx_cost_breakdown_t breakdown(const clx_price_t *p, clx_usage_t u)
{
    clx_cost_breakdown_t b;
    int64_t total = clx_price_cost_breakdown(p, &u, &b), sum = 0;
    size_t k;

    if (total != b.total_nanos || total != clx_price_cost_nanos(p, &u))
        fail_msg("%s: breakdown total %lld, struct %lld, cost_nanos %lld", p->id, (long long)total,
                 (long long)b.total_nanos, (long long)clx_price_cost_nanos(p, &u));
    for (k = 0; k < CLX_COST_KINDS; k++) {
        int mult = k == CLX_COST_WEB_SEARCH ? 100 : 100 - b.discount_pct;
        __int128 exact = (__int128)b.part[k].units * b.part[k].rate_pico * mult; /* 1/100 pico */
        __int128 lo = exact / 100000, hi = (exact + 99999) / 100000;

        if (b.part[k].nanos < lo || b.part[k].nanos > hi)
            fail_msg("%s: part %s is %lld nanos, exact amount %lld.%05lld", p->id, clx_cost_kind_name(k),
                     (long long)b.part[k].nanos, (long long)lo, (long long)(exact % 100000));
        sum += b.part[k].nanos;
    }
    if (sum != total)
        fail_msg("%s: parts sum to %lld nanos, total %lld", p->id, (long long)sum, (long long)total);
    return b;
}

static clx_cost_breakdown_t assert_cost(const char *provider, const char *model, clx_usage_t u, int64_t want)
{
    const clx_price_t *p = price_of(provider, model);
    clx_cost_breakdown_t b = breakdown(p, u);

    if (b.total_nanos != want)
        fail_msg("%s/%s (%s): cost %lld nanos, want %lld", provider, model, p->id, (long long)b.total_nanos,
                 (long long)want);
    return b;
}

static void assert_part(const clx_cost_breakdown_t *b, clx_cost_kind_t k, int64_t units, int64_t rate, int64_t nanos)
{
    const clx_cost_part_t *p = &b->part[k];

    if (p->units != units || p->rate_pico != rate || p->nanos != nanos)
        fail_msg("part %s: %lld units x %lld pico = %lld nanos, want %lld x %lld = %lld", clx_cost_kind_name(k),
                 (long long)p->units, (long long)p->rate_pico, (long long)p->nanos, (long long)units, (long long)rate,
                 (long long)nanos);
}

/* ---- Anthropic: 5-minute and 1-hour cache writes ------------------------------------- */

static void test_anthropic_cache_write_ttls(void **state)
{
    clx_cost_breakdown_t b;

    (void)state;
    /*
     * usage.input_tokens 120, cache_read_input_tokens 2,000, cache_creation_input_tokens
     * 1,500 of which cache_creation.ephemeral_1h_input_tokens 1,000; output 300.
     * claude-sonnet-4-5: 120 x $3 + 2,000 x $0.30 + 500 x $3.75 + 1,000 x $6 + 300 x $15 (per M)
     *   = 0.00036 + 0.0006 + 0.001875 + 0.006 + 0.0045 = $0.013335
     */
    b = assert_cost("anthropic", "claude-sonnet-4-5-20250929",
                    (clx_usage_t){.input_tokens = 3620,
                                  .output_tokens = 300,
                                  .cached_tokens = 2000,
                                  .cache_write_tokens = 1500,
                                  .cache_write_1h_tokens = 1000},
                    13335000);
    assert_part(&b, CLX_COST_INPUT, 120, 3000000, 360000);
    assert_part(&b, CLX_COST_CACHED_INPUT, 2000, 300000, 600000);
    assert_part(&b, CLX_COST_CACHE_WRITE_5M, 500, 3750000, 1875000);
    assert_part(&b, CLX_COST_CACHE_WRITE_1H, 1000, 6000000, 6000000);
    assert_part(&b, CLX_COST_OUTPUT, 300, 15000000, 4500000);
    assert_int_equal(b.flags, 0);
    assert_false(b.long_context);
    /* the same 1,500 writes all at 5 minutes: the pre-schema-3 price (0.001875 + 0.0016875 instead) */
    assert_cost(
        "anthropic", "claude-sonnet-4-5",
        (clx_usage_t){.input_tokens = 3620, .output_tokens = 300, .cached_tokens = 2000, .cache_write_tokens = 1500},
        120 * 3000 + 600000 + 1500 * 3750 + 4500000);
    /* every write 1-hour: claude-haiku-4-5 10,000 x $2 = $0.02 (5-minute: $0.0125) */
    assert_cost("anthropic", "claude-haiku-4-5",
                (clx_usage_t){.input_tokens = 10000, .cache_write_tokens = 10000, .cache_write_1h_tokens = 10000},
                20000000);
    assert_cost("anthropic", "claude-haiku-4-5", (clx_usage_t){.input_tokens = 10000, .cache_write_tokens = 10000},
                12500000);
    /* claude-3-5-haiku 1-hour $1.60, claude-3-haiku $0.50, claude-opus-4-1 $30, opus 4.5 $10 */
    assert_cost("anthropic", "claude-3-5-haiku-20241022",
                (clx_usage_t){.input_tokens = 1000, .cache_write_tokens = 1000, .cache_write_1h_tokens = 1000},
                1600000);
    assert_cost("anthropic", "claude-3-haiku-20240307",
                (clx_usage_t){.input_tokens = 1000, .cache_write_tokens = 1000, .cache_write_1h_tokens = 1000}, 500000);
    assert_cost("anthropic", "claude-opus-4-1",
                (clx_usage_t){.input_tokens = 1000, .cache_write_tokens = 1000, .cache_write_1h_tokens = 1000},
                30000000);
    assert_cost("anthropic", "claude-opus-4-5",
                (clx_usage_t){.input_tokens = 7, .cache_write_tokens = 7, .cache_write_1h_tokens = 3},
                4 * 6250 + 3 * 10000); /* 4 x $6.25 + 3 x $10 per M = 55,000 nanos */
    /* Bedrock geographic profile, +10%: 1-hour writes at $6.60 */
    assert_cost("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                (clx_usage_t){.input_tokens = 1000, .cache_write_tokens = 1000, .cache_write_1h_tokens = 1000},
                6600000);
}

/* The 1M-context tier (> 200k input) and the batch discount with 1-hour writes. */
static void test_anthropic_long_context_and_batch(void **state)
{
    clx_cost_breakdown_t b;
    clx_usage_t u = {.input_tokens = 210000,
                     .output_tokens = 1000,
                     .cached_tokens = 40000,
                     .cache_write_tokens = 20000,
                     .cache_write_1h_tokens = 9000};

    (void)state;
    /*
     * 150,000 uncached + 40,000 reads + 11,000 5-minute + 9,000 1-hour writes = 210,000 > 200k:
     * every token at the long-context price, 1-hour writes at 2 x $6 = $12:
     * 150,000 x $6 + 40,000 x $0.60 + 11,000 x $7.50 + 9,000 x $12 + 1,000 x $22.50 (per M)
     *   = 0.9 + 0.024 + 0.0825 + 0.108 + 0.0225 = $1.137
     */
    b = assert_cost("anthropic", "claude-sonnet-4-5", u, 1137000000);
    assert_true(b.long_context);
    assert_part(&b, CLX_COST_CACHE_WRITE_1H, 9000, 12000000, 108000000);
    assert_part(&b, CLX_COST_CACHE_WRITE_5M, 11000, 7500000, 82500000);
    /* Message Batches: half of every token part, the tier kept */
    u.batch = true;
    b = assert_cost("anthropic", "claude-sonnet-4-5", u, 568500000);
    assert_int_equal(b.tier, CLX_TIER_BATCH);
    assert_int_equal(b.discount_pct, 50);
    assert_part(&b, CLX_COST_CACHE_WRITE_1H, 9000, 12000000, 54000000);
    /* serviceTier "batch" is the same as batch: true */
    u.batch = false;
    u.service_tier = CLX_TIER_BATCH;
    assert_cost("anthropic", "claude-sonnet-4-5", u, 568500000);
    /* Bedrock us. profile in the tier: 1-hour writes at $13.20 */
    assert_cost("bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                (clx_usage_t){.input_tokens = 250000, .cache_write_tokens = 250000, .cache_write_1h_tokens = 250000},
                3300000000LL);
    /* exactly 200,000 is not above: claude-sonnet-4 1-hour writes at $6 */
    assert_cost("anthropic", "claude-sonnet-4-20250514",
                (clx_usage_t){.input_tokens = 200000, .cache_write_tokens = 200000, .cache_write_1h_tokens = 200000},
                1200000000);
    /* batch + 1-hour writes without the tier: claude-3-7-sonnet 1,000 x $6 / 2 */
    assert_cost("anthropic", "claude-3-7-sonnet",
                (clx_usage_t){.input_tokens = 1000,
                              .cache_write_tokens = 1000,
                              .cache_write_1h_tokens = 1000,
                              .service_tier = CLX_TIER_BATCH},
                3000000);
}

/* ---- OpenAI: priority and flex processing -------------------------------------------- */

static void test_openai_priority_and_flex(void **state)
{
    clx_cost_breakdown_t b;

    (void)state;
    /*
     * gpt-4.1 priority: prompt_tokens 10,000 (6,000 cached), completion 500:
     * 4,000 x $3.50 + 6,000 x $0.875 + 500 x $14 = 0.014 + 0.00525 + 0.007 = $0.02625
     * (standard: $0.015)
     */
    b = assert_cost(
        "openai", "gpt-4.1-2025-04-14",
        (clx_usage_t){
            .input_tokens = 10000, .output_tokens = 500, .cached_tokens = 6000, .service_tier = CLX_TIER_PRIORITY},
        26250000);
    assert_int_equal(b.tier, CLX_TIER_PRIORITY);
    assert_int_equal(b.flags, 0);
    assert_part(&b, CLX_COST_CACHED_INPUT, 6000, 875000, 5250000);
    assert_cost("openai", "gpt-4.1", (clx_usage_t){.input_tokens = 10000, .output_tokens = 500, .cached_tokens = 6000},
                15000000);
    /* gpt-4o priority $4.25 / $2.125 cached / $17; gpt-4o-mini $0.25 / $0.125 / $1.00 */
    assert_cost(
        "openai", "gpt-4o-2024-11-20",
        (clx_usage_t){
            .input_tokens = 3000, .output_tokens = 100, .cached_tokens = 1000, .service_tier = CLX_TIER_PRIORITY},
        2000 * 4250 + 1000 * 2125 + 100 * 17000);
    assert_cost(
        "openai", "gpt-4o-mini",
        (clx_usage_t){
            .input_tokens = 3000, .output_tokens = 100, .cached_tokens = 1000, .service_tier = CLX_TIER_PRIORITY},
        2000 * 250 + 1000 * 125 + 100 * 1000);
    /* gpt-4o-2024-05-13 has no cached price: its priority tier bills cached tokens at $8.75 */
    assert_cost(
        "openai", "gpt-4o-2024-05-13",
        (clx_usage_t){
            .input_tokens = 1000, .output_tokens = 1000, .cached_tokens = 400, .service_tier = CLX_TIER_PRIORITY},
        1000 * 8750 + 1000 * 26250);
    /* gpt-5 priority: 9,000 x $2.50 + 1,000 x $0.25 + 2,000 x $20 = 0.0225 + 0.00025 + 0.04 */
    assert_cost(
        "openai", "gpt-5",
        (clx_usage_t){
            .input_tokens = 10000, .output_tokens = 2000, .cached_tokens = 1000, .service_tier = CLX_TIER_PRIORITY},
        62750000);
    /*
     * gpt-5 flex = half the standard price, caching on top:
     * 6,000 x $0.625 + 4,000 x $0.0625 + 2,000 x $5 = 0.00375 + 0.00025 + 0.01 = $0.014
     */
    b = assert_cost("openai", "gpt-5",
                    (clx_usage_t){.input_tokens = 10000,
                                  .output_tokens = 2000,
                                  .cached_tokens = 4000,
                                  .reasoning_tokens = 1500,
                                  .service_tier = CLX_TIER_FLEX},
                    14000000);
    assert_int_equal(b.tier, CLX_TIER_FLEX);
    assert_part(&b, CLX_COST_REASONING, 1500, 5000000, 7500000); /* reasoning at the (flex) output rate */
    assert_cost("openai", "gpt-5", (clx_usage_t){.input_tokens = 10000, .output_tokens = 2000, .cached_tokens = 4000},
                28000000);
    /*
     * o4-mini flex cached $0.1375 per M (half of $0.275; OpenAI's page shows it rounded as $0.138):
     * 3 cached tokens = 412.5 nanos -> 413 (at $0.138 it would be 414); 2 -> exactly 275
     */
    assert_cost("openai", "o4-mini",
                (clx_usage_t){.input_tokens = 3, .cached_tokens = 3, .service_tier = CLX_TIER_FLEX}, 413);
    assert_cost("openai", "o4-mini",
                (clx_usage_t){.input_tokens = 2, .cached_tokens = 2, .service_tier = CLX_TIER_FLEX}, 275);
    /* o3 flex $1 / $4, gpt-5-nano flex $0.025 / $0.20, gpt-5-mini flex $0.125 / $1 */
    assert_cost("openai", "o3",
                (clx_usage_t){.input_tokens = 1000000, .output_tokens = 1000000, .service_tier = CLX_TIER_FLEX},
                5000000000LL);
    assert_cost("openai", "gpt-5-nano",
                (clx_usage_t){.input_tokens = 1000000, .output_tokens = 1000000, .service_tier = CLX_TIER_FLEX},
                225000000);
    assert_cost("openai", "gpt-5-mini-2025-08-07",
                (clx_usage_t){.input_tokens = 1000000, .output_tokens = 1000000, .service_tier = CLX_TIER_FLEX},
                1125000000);
}

/* A tier the entry lacks: standard prices and CLX_COST_TIER_UNPRICED. */
static void test_tier_unpriced(void **state)
{
    static const struct {
        const char *provider, *model;
        clx_service_tier_t tier;
        int64_t want; /* 1,000 in + 1,000 out at the standard price */
    } cases[] = {
        {"openai", "gpt-5-nano", CLX_TIER_PRIORITY, 450000}, /* no priority for nano */
        {"openai", "gpt-4.1", CLX_TIER_FLEX, 10000000},      /* no flex for gpt-4.1 */
        {"openai", "o1-pro", CLX_TIER_FLEX, 750000000},
        {"anthropic", "claude-sonnet-4-5", CLX_TIER_PRIORITY, 18000000}, /* Priority Tier is a commitment */
        {"google", "gemini-2.5-pro", CLX_TIER_PRIORITY, 11250000},
        {"mistral", "mistral-large-2411", CLX_TIER_BATCH, 8000000}, /* no batch price in the catalog */
        {"azure", "gpt-5", CLX_TIER_PRIORITY, 11250000},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clx_cost_breakdown_t b = assert_cost(
            cases[i].provider, cases[i].model,
            (clx_usage_t){.input_tokens = 1000, .output_tokens = 1000, .service_tier = cases[i].tier}, cases[i].want);

        if (b.tier != CLX_TIER_STANDARD || b.flags != CLX_COST_TIER_UNPRICED || b.discount_pct != 0)
            fail_msg("%s/%s %s: tier %s flags %u", cases[i].provider, cases[i].model,
                     clx_service_tier_name(cases[i].tier), clx_service_tier_name(b.tier), b.flags);
    }
    /* the old batch flag on a model without a discount: list price, flagged the same way */
    assert_int_equal(assert_cost("mistral", "mistral-large-2411",
                                 (clx_usage_t){.input_tokens = 1000, .output_tokens = 1000, .batch = true}, 8000000)
                         .flags,
                     CLX_COST_TIER_UNPRICED);
    /* the standard tier is never unpriced */
    assert_int_equal(assert_cost("mistral", "mistral-large-2411",
                                 (clx_usage_t){.input_tokens = 1000, .output_tokens = 1000}, 8000000)
                         .flags,
                     0);
}

/* ---- audio ---------------------------------------------------------------------------- */

static void test_audio_tokens(void **state)
{
    clx_cost_breakdown_t b;
    clx_usage_t chat = {
        .input_tokens = 1000, .output_tokens = 500, .audio_input_tokens = 800, .audio_output_tokens = 400};

    (void)state;
    /*
     * gpt-4o-audio-preview (2024-12-17 and later): prompt_tokens 1,000 of which
     * prompt_tokens_details.audio_tokens 800; completion 500 of which audio 400:
     * 200 x $2.50 + 800 x $40 + 100 x $10 + 400 x $80 = 0.0005 + 0.032 + 0.001 + 0.032 = $0.0655
     */
    b = assert_cost("openai", "gpt-4o-audio-preview-2024-12-17", chat, 65500000);
    assert_part(&b, CLX_COST_INPUT, 200, 2500000, 500000);
    assert_part(&b, CLX_COST_AUDIO_INPUT, 800, 40000000, 32000000);
    assert_part(&b, CLX_COST_OUTPUT, 100, 10000000, 1000000);
    assert_part(&b, CLX_COST_AUDIO_OUTPUT, 400, 80000000, 32000000);
    /* the first snapshot cost $100 / $200: 0.0005 + 0.08 + 0.001 + 0.08 */
    assert_cost("openai", "gpt-4o-audio-preview-2024-10-01", chat, 161500000);
    /* audio priced as text would have been $0.0045 -- the bug this prevents */
    assert_cost("openai", "gpt-4o-audio-preview", (clx_usage_t){.input_tokens = 1000, .output_tokens = 500}, 7500000);
    /* gpt-4o-mini-audio-preview: 200 x $0.15 + 800 x $10 + 100 x $0.60 + 400 x $20 */
    assert_cost("openai", "gpt-4o-mini-audio-preview", chat, 30 * 1000 + 8000000 + 60000 + 8000000);
    /* gpt-audio: 200 x $2.50 + 800 x $32 + 100 x $10 + 400 x $64 */
    assert_cost("openai", "gpt-audio-2025-08-28", chat, 500000 + 25600000 + 1000000 + 25600000);
    /*
     * gpt-realtime-mini over the Realtime API: input 10,000 = 1,000 text + 3,000 audio +
     * 2,000 cached text + 4,000 cached audio (input_token_details.cached_tokens_details);
     * output 1,500 of which 1,000 audio:
     * 1,000 x $0.60 + 2,000 x $0.06 + 3,000 x $10 + 4,000 x $0.30 + 500 x $2.40 + 1,000 x $20
     *   = 0.0006 + 0.00012 + 0.03 + 0.0012 + 0.0012 + 0.02 = $0.05312
     */
    b = assert_cost("openai", "gpt-realtime-mini-2025-10-06",
                    (clx_usage_t){.input_tokens = 10000,
                                  .output_tokens = 1500,
                                  .cached_tokens = 6000,
                                  .audio_input_tokens = 7000,
                                  .cached_audio_tokens = 4000,
                                  .audio_output_tokens = 1000},
                    53120000);
    assert_part(&b, CLX_COST_CACHED_INPUT, 2000, 60000, 120000);
    assert_part(&b, CLX_COST_CACHED_AUDIO, 4000, 300000, 1200000);
    assert_part(&b, CLX_COST_AUDIO_INPUT, 3000, 10000000, 30000000);
    /* gpt-4o-realtime-preview-2024-10-01: cached audio $20, audio $100 / $200 */
    assert_cost("openai", "gpt-4o-realtime-preview-2024-10-01",
                (clx_usage_t){.input_tokens = 1000,
                              .output_tokens = 100,
                              .cached_tokens = 500,
                              .audio_input_tokens = 1000,
                              .cached_audio_tokens = 500,
                              .audio_output_tokens = 100},
                500 * 100000 + 500 * 20000 + 100 * 200000);
    /*
     * Gemini 2.5 Flash: promptTokenCount 5,000 (promptTokensDetails AUDIO 3,000),
     * cachedContentTokenCount 1,000 (text); candidates 100 + thoughtsTokenCount 150:
     * 1,000 x $0.30 + 1,000 x $0.03 + 3,000 x $1.00 + 250 x $2.50 = 0.0003 + 0.00003 + 0.003 + 0.000625
     */
    b = assert_cost("gemini", "gemini-2.5-flash",
                    (clx_usage_t){.input_tokens = 5000,
                                  .output_tokens = 250,
                                  .cached_tokens = 1000,
                                  .audio_input_tokens = 3000,
                                  .reasoning_tokens = 150},
                    3955000);
    assert_part(&b, CLX_COST_REASONING, 150, 2500000, 375000);
    /* Gemini 2.0 Flash audio $0.70; 2.5 Pro bills audio as text ($1.25) */
    assert_cost("google", "gemini-2.0-flash", (clx_usage_t){.input_tokens = 1000, .audio_input_tokens = 1000}, 700000);
    assert_cost("google", "gemini-2.5-pro", (clx_usage_t){.input_tokens = 1000, .audio_input_tokens = 1000}, 1250000);
}

/* ---- reasoning ------------------------------------------------------------------------ */

static void test_reasoning_rate(void **state)
{
    /* a model that bills thinking apart (as Gemini 2.5 Flash Preview did: $0.60 out, $3.50 thinking) */
    const char *csv =
        HEADER3 "t/think@2025-01-01,t,think,,2025-01-01,0.15,0.60,,," SRC ",2026-07-24,,,,,50,,,,,,,,,,,,3.50,\n";
    clx_catalog_t *c = NULL;
    char *err = NULL;
    const clx_price_t *p;
    clx_cost_breakdown_t b;

    (void)state;
    assert_int_equal(clx_catalog_load_buffer(csv, strlen(csv), &c, &err), CLX_OK);
    p = clx_catalog_lookup(c, "t", "think", 5, NOW);
    assert_non_null(p);
    assert_non_null(p->ext);
    assert_int_equal(p->ext->reasoning_output_pico, 3500000);
    /* 1,000 in x $0.15 + 300 x $0.60 + 700 thinking x $3.50 = 0.00015 + 0.00018 + 0.00245 */
    b = breakdown(p, (clx_usage_t){.input_tokens = 1000, .output_tokens = 1000, .reasoning_tokens = 700});
    assert_int_equal(b.total_nanos, 2780000);
    assert_part(&b, CLX_COST_REASONING, 700, 3500000, 2450000);
    /* in batch, half of it */
    b = breakdown(p,
                  (clx_usage_t){.input_tokens = 1000, .output_tokens = 1000, .reasoning_tokens = 700, .batch = true});
    assert_int_equal(b.total_nanos, 1390000);
    clx_catalog_destroy(c);
    /* everywhere else reasoning is output: o3 1,000 output of which 800 reasoning = 1,000 x $8 */
    b = assert_cost("openai", "o3", (clx_usage_t){.input_tokens = 0, .output_tokens = 1000, .reasoning_tokens = 800},
                    8000000);
    assert_part(&b, CLX_COST_REASONING, 800, 8000000, 6400000);
    assert_part(&b, CLX_COST_OUTPUT, 200, 8000000, 1600000);
    assert_cost("openai", "o3", (clx_usage_t){.output_tokens = 1000}, 8000000);
}

/* ---- per-call fees -------------------------------------------------------------------- */

static void test_web_search_fees(void **state)
{
    clx_cost_breakdown_t b;

    (void)state;
    /* Anthropic: $10 per 1,000 searches = 1 cent each; claude-sonnet-4-5 3 searches + 1,000 in */
    b = assert_cost("anthropic", "claude-sonnet-4-5", (clx_usage_t){.input_tokens = 1000, .web_search_calls = 3},
                    3000000 + 30000000);
    assert_part(&b, CLX_COST_WEB_SEARCH, 3, 10000000000LL, 30000000);
    assert_int_equal(b.flags, 0);
    /* batch halves the tokens, not the fee: claude-3-5-haiku half of $0.00138 + 2 x $0.01 */
    assert_cost("anthropic", "claude-3-5-haiku",
                (clx_usage_t){.input_tokens = 2000,
                              .output_tokens = 100,
                              .cached_tokens = 1000,
                              .cache_write_tokens = 500,
                              .batch = true,
                              .web_search_calls = 2},
                690000 + 20000000);
    /* OpenAI web_search tool: $10 per 1,000 calls; gpt-5 priority with 1 call */
    assert_cost("openai", "gpt-5",
                (clx_usage_t){.input_tokens = 1000, .service_tier = CLX_TIER_PRIORITY, .web_search_calls = 1},
                2500000 + 10000000);
    assert_cost("openai", "gpt-4o-mini", (clx_usage_t){.web_search_calls = 1000}, 10000000000LL);
    /* no fee in the catalog: the calls cost 0 and are flagged */
    b = assert_cost("mistral", "mistral-large-2411", (clx_usage_t){.input_tokens = 1000, .web_search_calls = 5},
                    2000000);
    assert_int_equal(b.flags, CLX_COST_FEE_UNPRICED);
    assert_part(&b, CLX_COST_WEB_SEARCH, 5, 0, 0);
    b = assert_cost("anthropic", "claude-3-haiku", (clx_usage_t){.web_search_calls = 1}, 0);
    assert_int_equal(b.flags, CLX_COST_FEE_UNPRICED);
}

/* The worked examples of docs/usage-fields.md, as a caller would fill the fields. */
static void test_usage_fields_doc_examples(void **state)
{
    (void)state;
    /* Chat Completions, gpt-4o-audio-preview: costUsd 0.0655 */
    assert_cost("openai", "gpt-4o-audio-preview-2024-12-17",
                (clx_usage_t){
                    .input_tokens = 1000, .audio_input_tokens = 800, .output_tokens = 500, .audio_output_tokens = 400},
                65500000);
    /* Responses API, gpt-5 priority with one web_search_call: 0.07275 */
    assert_cost("openai", "gpt-5-2025-08-07",
                (clx_usage_t){.input_tokens = 10000,
                              .cached_tokens = 1000,
                              .output_tokens = 2000,
                              .reasoning_tokens = 1500,
                              .service_tier = CLX_TIER_PRIORITY,
                              .web_search_calls = 1},
                72750000);
    /* Realtime, gpt-realtime-mini: 0.05312 */
    assert_cost("openai", "gpt-realtime-mini-2025-10-06",
                (clx_usage_t){.input_tokens = 10000,
                              .cached_tokens = 6000,
                              .audio_input_tokens = 7000,
                              .cached_audio_tokens = 4000,
                              .output_tokens = 1500,
                              .audio_output_tokens = 1000},
                53120000);
    /* Anthropic, claude-sonnet-4-5 with 1-hour writes and 3 searches: 0.043335 */
    assert_cost("anthropic", "claude-sonnet-4-5-20250929",
                (clx_usage_t){.input_tokens = 120 + 2000 + 1500,
                              .cached_tokens = 2000,
                              .cache_write_tokens = 1500,
                              .cache_write_1h_tokens = 1000,
                              .output_tokens = 300,
                              .web_search_calls = 3},
                43335000);
    /* Gemini 2.5 Flash with audio and thoughts: 0.003955 */
    assert_cost("gemini", "gemini-2.5-flash",
                (clx_usage_t){.input_tokens = 5000,
                              .cached_tokens = 1000,
                              .audio_input_tokens = 3000,
                              .output_tokens = 250,
                              .reasoning_tokens = 150},
                3955000);
}

/* ---- the rounding of the parts -------------------------------------------------------- */

static void test_breakdown_rounding(void **state)
{
    const char *csv =
        HEADER3 "t/one@2025-01-01,t,one,,2025-01-01,0.000001,0.000001,,," SRC ",2026-07-24,,,,,50,,,,,,,,,,,,,\n"
                "t/tiny@2025-01-01,t,tiny,,2025-01-01,0.0004,0.0004,0.0004,0.0004," SRC
                ",2026-07-24,,,,,50,0.0004,,,,,,,,,,,,\n";
    clx_catalog_t *c = NULL;
    char *err = NULL;
    const clx_price_t *one, *tiny;
    clx_cost_breakdown_t b;

    (void)state;
    assert_int_equal(clx_catalog_load_buffer(csv, strlen(csv), &c, &err), CLX_OK);
    one = clx_catalog_lookup(c, "t", "one", 3, NOW);
    tiny = clx_catalog_lookup(c, "t", "tiny", 4, NOW);
    /* 600 + 401 pico = 1,001 pico = 1 nano; the nano goes to the larger fraction (input 0.6) */
    b = breakdown(one, (clx_usage_t){.input_tokens = 600, .output_tokens = 401});
    assert_int_equal(b.total_nanos, 1);
    assert_int_equal(b.part[CLX_COST_INPUT].nanos, 1);
    assert_int_equal(b.part[CLX_COST_OUTPUT].nanos, 0);
    /* 401 + 600: the output part gets it */
    b = breakdown(one, (clx_usage_t){.input_tokens = 401, .output_tokens = 600});
    assert_int_equal(b.part[CLX_COST_INPUT].nanos, 0);
    assert_int_equal(b.part[CLX_COST_OUTPUT].nanos, 1);
    /* 999 pico: 1 nano at list price; in batch 499.5 pico = 0 (rounded once, not per part) */
    b = breakdown(one, (clx_usage_t){.input_tokens = 500, .output_tokens = 499});
    assert_int_equal(b.total_nanos, 1);
    b = breakdown(one, (clx_usage_t){.input_tokens = 500, .output_tokens = 499, .batch = true});
    assert_int_equal(b.total_nanos, 0);
    assert_int_equal(b.part[CLX_COST_INPUT].nanos + b.part[CLX_COST_OUTPUT].nanos, 0);
    /*
     * Four parts of 400 pico each (0.4 nano): 1,600 pico rounds to 2 nanos; the floors are 0,
     * so the two earliest of the equal fractions get one nano each.
     */
    b = breakdown(tiny, (clx_usage_t){.input_tokens = 3,
                                      .cached_tokens = 1,
                                      .cache_write_tokens = 2,
                                      .cache_write_1h_tokens = 1,
                                      .output_tokens = 1});
    assert_int_equal(b.total_nanos, 2);
    assert_int_equal(b.part[CLX_COST_INPUT].units, 0);
    assert_int_equal(b.part[CLX_COST_CACHED_INPUT].nanos, 1);
    assert_int_equal(b.part[CLX_COST_CACHE_WRITE_5M].nanos, 1);
    assert_int_equal(b.part[CLX_COST_CACHE_WRITE_1H].nanos, 0);
    assert_int_equal(b.part[CLX_COST_OUTPUT].nanos, 0);
    /* per-call fees have at most 6 decimals per 1,000 calls, i.e. whole nanos per call: no fraction */
    assert_int_equal(price_of("openai", "gpt-5")->ext->web_search_call_pico % 1000, 0);
    clx_catalog_destroy(c);
    /* NULL arguments: zeroed breakdown, cost 0 */
    memset(&b, 0x5a, sizeof(b));
    assert_int_equal(clx_price_cost_breakdown(NULL, &(clx_usage_t){.input_tokens = 1}, &b), 0);
    assert_int_equal(b.total_nanos, 0);
    assert_int_equal(b.part[CLX_COST_INPUT].units, 0);
    assert_int_equal(clx_price_cost_breakdown(price_of("openai", "gpt-4o"), NULL, &b), 0);
    assert_int_equal(clx_price_cost_breakdown(price_of("openai", "gpt-4o"), &(clx_usage_t){.input_tokens = 1}, NULL),
                     0);
}

/* ---- many usages: exact sums, and pre-schema-3 usages cost what they always did ---------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL; /* fixed seed: the same usages every run */

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A count up to 10^k for a random k <= 9, so small and large counts both occur. */
static int64_t rnd_count(void)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

    return (int64_t)(rng() % (uint64_t)(pow10[rng() % 10] + 1));
}

static int64_t rnd_upto(int64_t max)
{
    return max > 0 ? (int64_t)(rng() % (uint64_t)(max + 1)) : 0;
}

/* A valid usage: every part inside its total (clx_usage_check agrees). */
static clx_usage_t rnd_usage(void)
{
    clx_usage_t u;
    int64_t uncached;

    memset(&u, 0, sizeof(u));
    u.input_tokens = rnd_count() * (rng() % 3 == 0 ? 300 : 1); /* some above 200k */
    u.cached_tokens = rnd_upto(u.input_tokens);
    u.cache_write_tokens = rnd_upto(u.input_tokens - u.cached_tokens);
    u.cache_write_1h_tokens = rnd_upto(u.cache_write_tokens);
    u.cached_audio_tokens = rnd_upto(u.cached_tokens);
    uncached = u.input_tokens - u.cached_tokens - u.cache_write_tokens;
    u.audio_input_tokens = u.cached_audio_tokens + rnd_upto(uncached);
    u.output_tokens = rnd_count();
    u.reasoning_tokens = rnd_upto(u.output_tokens);
    u.audio_output_tokens = rnd_upto(u.output_tokens - u.reasoning_tokens);
    u.service_tier = (clx_service_tier_t)(rng() % CLX_TIER_COUNT);
    u.web_search_calls = rng() % 4 == 0 ? rnd_upto(50) : 0;
    return u;
}

/* The cost formula before schema 3, written out again: the regression oracle. */
static int64_t legacy_cost(const clx_price_t *p, const clx_usage_t *u)
{
    int64_t in = p->input_pico, out = p->output_pico, cached = p->cached_input_pico, write = p->cache_write_pico;
    __int128 uncached, sum;

    if (p->input_above_200k_pico >= 0 && u->input_tokens > CLX_PRICING_TIER_TOKENS) {
        in = p->input_above_200k_pico;
        out = p->output_above_200k_pico;
        cached = p->cached_input_above_200k_pico;
        write = p->cache_write_above_200k_pico;
    }
    cached = cached < 0 ? in : cached;
    write = write < 0 ? in : write;
    uncached = (__int128)u->input_tokens - u->cached_tokens - u->cache_write_tokens;
    sum = (uncached < 0 ? 0 : uncached) * in + (__int128)u->cached_tokens * cached +
          (__int128)u->cache_write_tokens * write + (__int128)u->output_tokens * out;
    if (u->batch && p->batch_discount_pct > 0)
        return clx_money_pico_pct_to_nanos(sum, 100 - p->batch_discount_pct);
    return clx_money_pico_to_nanos(sum);
}

static void test_breakdown_sums_exactly(void **state)
{
    size_t n = clx_catalog_count(g_cat), i, round;
    const char *field = NULL;

    (void)state;
    for (round = 0; round < 40; round++) {
        for (i = 0; i < n; i++) {
            const clx_price_t *p = clx_catalog_entry(g_cat, i);
            clx_usage_t u = rnd_usage(), old;

            if (clx_usage_check(&u, &field, NULL, 0) != CLX_OK)
                fail_msg("generated usage rejected on %s", field);
            (void)breakdown(p, u); /* asserts total = cost_nanos = sum of parts, parts within 1 nano */
            /* the same event without the schema-3 parts costs what it always did */
            memset(&old, 0, sizeof(old));
            old.input_tokens = u.input_tokens;
            old.output_tokens = u.output_tokens;
            old.cached_tokens = u.cached_tokens;
            old.cache_write_tokens = u.cache_write_tokens;
            old.batch = rng() % 2 == 0;
            if (clx_price_cost_nanos(p, &old) != legacy_cost(p, &old))
                fail_msg("%s: legacy usage %lld/%lld/%lld/%lld%s costs %lld, was %lld", p->id,
                         (long long)old.input_tokens, (long long)old.output_tokens, (long long)old.cached_tokens,
                         (long long)old.cache_write_tokens, old.batch ? " batch" : "",
                         (long long)clx_price_cost_nanos(p, &old), (long long)legacy_cost(p, &old));
            (void)breakdown(p, old);
        }
    }
}

/* Far beyond real counts: the total saturates, nothing overflows. */
static void test_saturation(void **state)
{
    clx_cost_breakdown_t b;
    clx_usage_t u = {.input_tokens = INT64_MAX,
                     .output_tokens = INT64_MAX,
                     .reasoning_tokens = INT64_MAX / 2,
                     .audio_output_tokens = INT64_MAX / 2,
                     .web_search_calls = INT64_MAX};

    (void)state;
    assert_int_equal(clx_price_cost_breakdown(price_of("openai", "gpt-5"), &u, &b), INT64_MAX);
    assert_true(b.flags & CLX_COST_SATURATED);
    assert_int_equal(clx_price_cost_nanos(price_of("anthropic", "claude-opus-4-1"), &u), INT64_MAX);
}

/* ---- usage rules ---------------------------------------------------------------------- */

static void test_usage_check(void **state)
{
    static const struct {
        clx_usage_t u;
        const char *field; /* NULL = valid */
    } cases[] = {
        {{.input_tokens = 10, .cached_tokens = 4, .cache_write_tokens = 6, .cache_write_1h_tokens = 6}, NULL},
        {{.input_tokens = 10, .cached_tokens = 11}, "cachedTokens"},
        {{.input_tokens = 10, .cached_tokens = 5, .cache_write_tokens = 6}, "cacheWriteTokens"},
        {{.input_tokens = 10, .cache_write_tokens = 3, .cache_write_1h_tokens = 4}, "cacheWrite1hTokens"},
        {{.input_tokens = 10, .audio_input_tokens = 11}, "audioInputTokens"},
        {{.input_tokens = 10, .cached_tokens = 2, .audio_input_tokens = 5, .cached_audio_tokens = 3},
         "cachedAudioTokens"},
        {{.input_tokens = 10, .cached_tokens = 5, .audio_input_tokens = 2, .cached_audio_tokens = 3},
         "cachedAudioTokens"},
        /* 6 cached (3 audio) + 2 written leave 2 uncached, but 4 uncached audio claimed */
        {{.input_tokens = 10,
          .cached_tokens = 6,
          .cache_write_tokens = 2,
          .audio_input_tokens = 7,
          .cached_audio_tokens = 3},
         "audioInputTokens"},
        {{.input_tokens = 10,
          .cached_tokens = 6,
          .cache_write_tokens = 2,
          .audio_input_tokens = 5,
          .cached_audio_tokens = 3},
         NULL},
        {{.output_tokens = 5, .reasoning_tokens = 6}, "reasoningTokens"},
        {{.output_tokens = 5, .reasoning_tokens = 3, .audio_output_tokens = 3}, "audioOutputTokens"},
        {{.output_tokens = 5, .reasoning_tokens = 3, .audio_output_tokens = 2}, NULL},
        {{.web_search_calls = -1}, "webSearchCalls"},
        {{.input_tokens = -1}, "inputTokens"},
        {{.service_tier = (clx_service_tier_t)7}, "serviceTier"},
        {{.batch = true, .service_tier = CLX_TIER_PRIORITY}, "serviceTier"},
        {{.batch = true, .service_tier = CLX_TIER_BATCH}, NULL},
        {{.input_tokens = INT64_MAX, .cached_tokens = INT64_MAX, .cache_write_tokens = INT64_MAX}, "cacheWriteTokens"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *field = "unset";
        char msg[200];
        int rc = clx_usage_check(&cases[i].u, &field, msg, sizeof(msg));

        if (cases[i].field == NULL) {
            if (rc != CLX_OK)
                fail_msg("case %zu rejected: %s: %s", i, field, msg);
            assert_null(field);
        } else if (rc != CLX_EINVAL || field == NULL || strcmp(field, cases[i].field) != 0 ||
                   strncmp(msg, cases[i].field, strlen(cases[i].field)) != 0) {
            fail_msg("case %zu: rc %d field %s msg \"%s\", want %s", i, rc, field != NULL ? field : "NULL", msg,
                     cases[i].field);
        }
    }
    assert_int_equal(clx_usage_check(NULL, NULL, NULL, 0), CLX_EINVAL);
}

static void test_names(void **state)
{
    static const struct {
        const char *s;
        int rc;
        clx_service_tier_t tier;
    } cases[] = {
        {"standard", CLX_OK, CLX_TIER_STANDARD},
        {"default", CLX_OK, CLX_TIER_STANDARD},
        {"auto", CLX_OK, CLX_TIER_STANDARD},
        {"priority", CLX_OK, CLX_TIER_PRIORITY},
        {"flex", CLX_OK, CLX_TIER_FLEX},
        {"batch", CLX_OK, CLX_TIER_BATCH},
        {"Priority", CLX_EINVAL, 0},
        {"scale", CLX_EINVAL, 0},
        {"", CLX_EINVAL, 0},
        {"flexx", CLX_EINVAL, 0},
    };
    clx_service_tier_t t;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = (clx_service_tier_t)99;
        assert_int_equal(clx_service_tier_parse(cases[i].s, strlen(cases[i].s), &t), cases[i].rc);
        if (cases[i].rc == CLX_OK)
            assert_int_equal(t, cases[i].tier);
        else
            assert_int_equal(t, 99);
    }
    assert_int_equal(clx_service_tier_parse("flex!", 4, &t), CLX_OK); /* only len bytes are read */
    assert_int_equal(t, CLX_TIER_FLEX);
    assert_string_equal(clx_service_tier_name(CLX_TIER_PRIORITY), "priority");
    assert_string_equal(clx_service_tier_name(CLX_TIER_STANDARD), "standard");
    assert_string_equal(clx_service_tier_name((clx_service_tier_t)9), "");
    assert_string_equal(clx_cost_kind_name(CLX_COST_CACHE_WRITE_1H), "cacheWrite1h");
    assert_string_equal(clx_cost_kind_name(CLX_COST_WEB_SEARCH), "webSearch");
    assert_string_equal(clx_cost_kind_name(CLX_COST_KINDS), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anthropic_cache_write_ttls),
        cmocka_unit_test(test_anthropic_long_context_and_batch),
        cmocka_unit_test(test_openai_priority_and_flex),
        cmocka_unit_test(test_tier_unpriced),
        cmocka_unit_test(test_audio_tokens),
        cmocka_unit_test(test_reasoning_rate),
        cmocka_unit_test(test_web_search_fees),
        cmocka_unit_test(test_usage_fields_doc_examples),
        cmocka_unit_test(test_breakdown_rounding),
        cmocka_unit_test(test_breakdown_sums_exactly),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_usage_check),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, setup_catalog, teardown_catalog);
}
