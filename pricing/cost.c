/*
 * cost.c — prices one event against one catalog entry: splits its tokens into kinds,
 * picks each kind's rate for the event's tier, sums exactly and rounds once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "clx_pricing.h"

/* ---- names -------------------------------------------------------------------------- */

typedef struct tier_name {
    const char *name;
    clx_service_tier_t tier;
} tier_name_t;

/* What callers may send; the first row of each tier is its canonical name. */
static const tier_name_t tier_names[] = {
    {"standard", CLX_TIER_STANDARD}, {"priority", CLX_TIER_PRIORITY}, {"flex", CLX_TIER_FLEX},
    {"batch", CLX_TIER_BATCH},       {"default", CLX_TIER_STANDARD},  {"auto", CLX_TIER_STANDARD},
};

int clx_service_tier_parse(const char *s, size_t len, clx_service_tier_t *out)
{
    size_t i;

    if (s == NULL || out == NULL)
        return CLX_EINVAL;
    for (i = 0; i < sizeof(tier_names) / sizeof(tier_names[0]); i++) {
        if (strlen(tier_names[i].name) == len && memcmp(tier_names[i].name, s, len) == 0) {
            *out = tier_names[i].tier;
            return CLX_OK;
        }
    }
    return CLX_EINVAL;
}

const char *clx_service_tier_name(clx_service_tier_t tier)
{
    return (unsigned)tier < CLX_TIER_COUNT ? tier_names[tier].name : "";
}

static const char *const kind_names[CLX_COST_KINDS] = {
    [CLX_COST_INPUT] = "input",
    [CLX_COST_CACHED_INPUT] = "cachedInput",
    [CLX_COST_CACHE_WRITE_5M] = "cacheWrite5m",
    [CLX_COST_CACHE_WRITE_1H] = "cacheWrite1h",
    [CLX_COST_AUDIO_INPUT] = "audioInput",
    [CLX_COST_CACHED_AUDIO] = "cachedAudioInput",
    [CLX_COST_OUTPUT] = "output",
    [CLX_COST_REASONING] = "reasoning",
    [CLX_COST_AUDIO_OUTPUT] = "audioOutput",
    [CLX_COST_WEB_SEARCH] = "webSearch",
};

const char *clx_cost_kind_name(clx_cost_kind_t kind)
{
    return (unsigned)kind < CLX_COST_KINDS ? kind_names[kind] : "";
}

/* ---- usage rules -------------------------------------------------------------------- */

#define U_OFF(m) offsetof(clx_usage_t, m)

/* A signed term of a rule: +1 or -1 times a count. */
typedef struct usage_term {
    int sign;
    size_t offset;
} usage_term_t;

/*
 * One subset rule: the sum of the terms must not exceed the whole. field names the part
 * that is blamed (the most specific one), why says what the whole counts.
 */
typedef struct usage_rule {
    const char *field;
    usage_term_t terms[4];
    size_t whole;
    const char *why;
} usage_rule_t;

/* Non-negative counts, with their JSON names. */
static const struct {
    const char *field;
    size_t offset;
} usage_counts[] = {
    {"inputTokens", U_OFF(input_tokens)},
    {"outputTokens", U_OFF(output_tokens)},
    {"cachedTokens", U_OFF(cached_tokens)},
    {"cacheWriteTokens", U_OFF(cache_write_tokens)},
    {"reasoningTokens", U_OFF(reasoning_tokens)},
    {"cacheWrite1hTokens", U_OFF(cache_write_1h_tokens)},
    {"audioInputTokens", U_OFF(audio_input_tokens)},
    {"audioOutputTokens", U_OFF(audio_output_tokens)},
    {"cachedAudioTokens", U_OFF(cached_audio_tokens)},
    {"webSearchCalls", U_OFF(web_search_calls)},
};

/* In order: a caller that gets one thing wrong is told about the first total it breaks. */
static const usage_rule_t usage_rules[] = {
    {"cachedTokens", {{1, U_OFF(cached_tokens)}}, U_OFF(input_tokens), "inputTokens counts all prompt tokens"},
    {"cacheWriteTokens",
     {{1, U_OFF(cached_tokens)}, {1, U_OFF(cache_write_tokens)}},
     U_OFF(input_tokens),
     "inputTokens counts all prompt tokens, cache reads and writes included"},
    {"cacheWrite1hTokens",
     {{1, U_OFF(cache_write_1h_tokens)}},
     U_OFF(cache_write_tokens),
     "cacheWriteTokens counts all cache writes, 1-hour ones included"},
    {"audioInputTokens", {{1, U_OFF(audio_input_tokens)}}, U_OFF(input_tokens), "inputTokens counts all prompt tokens"},
    {"cachedAudioTokens",
     {{1, U_OFF(cached_audio_tokens)}},
     U_OFF(cached_tokens),
     "cachedTokens counts all cache reads, audio included"},
    {"cachedAudioTokens",
     {{1, U_OFF(cached_audio_tokens)}},
     U_OFF(audio_input_tokens),
     "audioInputTokens counts all prompt audio, cached audio included"},
    {"audioInputTokens",
     {{1, U_OFF(audio_input_tokens)},
      {-1, U_OFF(cached_audio_tokens)},
      {1, U_OFF(cached_tokens)},
      {1, U_OFF(cache_write_tokens)}},
     U_OFF(input_tokens),
     "uncached audio must fit in the uncached prompt tokens (inputTokens - cachedTokens - cacheWriteTokens)"},
    {"reasoningTokens",
     {{1, U_OFF(reasoning_tokens)}},
     U_OFF(output_tokens),
     "outputTokens counts all output tokens, reasoning included"},
    {"audioOutputTokens",
     {{1, U_OFF(reasoning_tokens)}, {1, U_OFF(audio_output_tokens)}},
     U_OFF(output_tokens),
     "outputTokens counts all output tokens: reasoning and audio are separate parts of it"},
};

static int64_t count_at(const clx_usage_t *u, size_t offset)
{
    return *(const int64_t *)(const void *)((const char *)u + offset);
}

static int usage_fail(const char **field, const char *name, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int usage_fail(const char **field, const char *name, char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;

    if (field != NULL)
        *field = name;
    if (msg != NULL && msglen > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return CLX_EINVAL;
}

/* Counts are at most int64; every rule sum is taken in 128 bits so none can overflow. */
int clx_usage_check(const clx_usage_t *u, const char **field, char *msg, size_t msglen)
{
    size_t i, j;

    if (field != NULL)
        *field = NULL;
    if (msg != NULL && msglen > 0)
        msg[0] = '\0';
    if (u == NULL)
        return CLX_EINVAL;
    for (i = 0; i < sizeof(usage_counts) / sizeof(usage_counts[0]); i++) {
        int64_t v = count_at(u, usage_counts[i].offset);

        if (v < 0)
            return usage_fail(field, usage_counts[i].field, msg, msglen, "%s must not be negative, got %lld",
                              usage_counts[i].field, (long long)v);
    }
    for (i = 0; i < sizeof(usage_rules) / sizeof(usage_rules[0]); i++) {
        const usage_rule_t *r = &usage_rules[i];
        __int128 sum = 0;
        int64_t whole = count_at(u, r->whole);

        for (j = 0; j < 4 && r->terms[j].sign != 0; j++)
            sum += (__int128)r->terms[j].sign * count_at(u, r->terms[j].offset);
        if (sum > whole)
            return usage_fail(field, r->field, msg, msglen, "%s is too large for its total (%lld over): %s", r->field,
                              (long long)(sum - whole > INT64_MAX ? INT64_MAX : (int64_t)(sum - whole)), r->why);
    }
    if ((unsigned)u->service_tier >= CLX_TIER_COUNT)
        return usage_fail(field, "serviceTier", msg, msglen, "serviceTier %d is not a known tier",
                          (int)u->service_tier);
    if (u->batch && u->service_tier != CLX_TIER_STANDARD && u->service_tier != CLX_TIER_BATCH)
        return usage_fail(field, "serviceTier", msg, msglen,
                          "serviceTier \"%s\" contradicts batch: true (a batch job runs in the batch tier)",
                          clx_service_tier_name(u->service_tier));
    return CLX_OK;
}

/* ---- the cost of one event ---------------------------------------------------------- */

/*
 * One event, ready to sum: per kind the units, the list rate and the multiplier that
 * applies the batch discount (100 - pct for tokens, 100 for per-call fees). Amounts are
 * then units x rate x mult in units of 10^-14 USD (1/100 pico), so a 50% discount of an
 * odd pico amount stays an integer and nothing is rounded before the total.
 */
typedef struct cost_plan {
    int64_t units[CLX_COST_KINDS];
    int64_t rate[CLX_COST_KINDS];
    int32_t mult[CLX_COST_KINDS];
    clx_service_tier_t tier;
    int32_t discount_pct;
    bool long_context;
    uint32_t flags;
} cost_plan_t;

/* 1/100 pico-dollars per nano-dollar. */
#define CENTIPICO_PER_NANO 100000

static int64_t nonneg(int64_t v)
{
    return v > 0 ? v : 0;
}

/* a - b, floored at 0 (inputs are non-negative, so no overflow). */
static int64_t rest(int64_t a, int64_t b)
{
    return a > b ? a - b : 0;
}

static int64_t or_else(int64_t price, int64_t fallback)
{
    return price >= 0 ? price : fallback;
}

/*
 * Splits u into kinds and picks every kind's rate. Rates, most specific first:
 *   - the tier: batch keeps the list rates and sets discount_pct; priority / flex replace
 *     input, output and cached with the tier's (the loader allows no other kind on a row
 *     with a service tier); a tier the entry lacks leaves the standard rates and sets
 *     CLX_COST_TIER_UNPRICED;
 *   - the long-context tier (input_tokens > 200k): every token kind at its >200k price,
 *     1-hour cache writes included (the loader allows no audio or reasoning price there);
 *   - each missing price falls back to the next general one (clx_price_ext_t).
 */
static void plan_cost(const clx_price_t *p, const clx_usage_t *u, cost_plan_t *pl)
{
    static const clx_price_ext_t none = {
        .cache_write_1h_pico = -1,
        .cache_write_1h_above_200k_pico = -1,
        .priority = {-1, -1, -1},
        .flex = {-1, -1, -1},
        .audio_input_pico = -1,
        .cached_audio_input_pico = -1,
        .audio_output_pico = -1,
        .reasoning_output_pico = -1,
        .web_search_call_pico = -1,
    };
    const clx_price_ext_t *x = p->ext != NULL ? p->ext : &none;
    const clx_tier_price_t *t = NULL;
    clx_service_tier_t want = u->batch ? CLX_TIER_BATCH : u->service_tier;
    int64_t in, out, cached, write5m, write1h;
    int64_t input = nonneg(u->input_tokens), output = nonneg(u->output_tokens);
    int64_t cached_all = nonneg(u->cached_tokens), write_all = nonneg(u->cache_write_tokens);
    int64_t audio_all = nonneg(u->audio_input_tokens), cached_audio = nonneg(u->cached_audio_tokens);
    int64_t write1h_units = nonneg(u->cache_write_1h_tokens), reasoning = nonneg(u->reasoning_tokens);
    int64_t audio_out = nonneg(u->audio_output_tokens), uncached_audio = rest(audio_all, cached_audio);
    size_t k;

    memset(pl, 0, sizeof(*pl));
    in = nonneg(p->input_pico); /* required prices: never negative in a loaded catalog */
    out = nonneg(p->output_pico);
    cached = p->cached_input_pico;
    write5m = p->cache_write_pico;
    write1h = x->cache_write_1h_pico;
    if (p->input_above_200k_pico >= 0 && u->input_tokens > CLX_PRICING_TIER_TOKENS) {
        /* the whole request moves to the tier, not just the tokens above the threshold */
        pl->long_context = true;
        in = p->input_above_200k_pico;
        out = or_else(p->output_above_200k_pico, p->output_pico);
        cached = p->cached_input_above_200k_pico;
        write5m = p->cache_write_above_200k_pico;
        write1h = x->cache_write_1h_above_200k_pico;
    }
    pl->tier = CLX_TIER_STANDARD;
    switch (want) {
    case CLX_TIER_STANDARD:
        break;
    case CLX_TIER_PRIORITY:
        t = &x->priority;
        break;
    case CLX_TIER_FLEX:
        t = &x->flex;
        break;
    case CLX_TIER_BATCH:
        if (p->batch_discount_pct > 0) {
            pl->tier = CLX_TIER_BATCH;
            pl->discount_pct = p->batch_discount_pct > 100 ? 100 : p->batch_discount_pct;
        } else {
            pl->flags |= CLX_COST_TIER_UNPRICED;
        }
        break;
    default:
        pl->flags |= CLX_COST_TIER_UNPRICED;
        break;
    }
    if (t != NULL) {
        if (t->input_pico >= 0) {
            pl->tier = want;
            in = t->input_pico;
            out = or_else(t->output_pico, out);
            cached = t->cached_input_pico;
        } else {
            pl->flags |= CLX_COST_TIER_UNPRICED;
        }
    }
    cached = or_else(cached, in);
    write5m = or_else(write5m, in);
    write1h = or_else(write1h, write5m);

    pl->units[CLX_COST_INPUT] = rest(rest(rest(input, cached_all), write_all), uncached_audio);
    pl->rate[CLX_COST_INPUT] = in;
    pl->units[CLX_COST_CACHED_INPUT] = rest(cached_all, cached_audio);
    pl->rate[CLX_COST_CACHED_INPUT] = cached;
    pl->units[CLX_COST_CACHE_WRITE_5M] = rest(write_all, write1h_units);
    pl->rate[CLX_COST_CACHE_WRITE_5M] = write5m;
    pl->units[CLX_COST_CACHE_WRITE_1H] = write1h_units;
    pl->rate[CLX_COST_CACHE_WRITE_1H] = write1h;
    pl->units[CLX_COST_AUDIO_INPUT] = uncached_audio;
    pl->rate[CLX_COST_AUDIO_INPUT] = or_else(x->audio_input_pico, in);
    pl->units[CLX_COST_CACHED_AUDIO] = cached_audio;
    pl->rate[CLX_COST_CACHED_AUDIO] = or_else(x->cached_audio_input_pico, cached);
    pl->units[CLX_COST_OUTPUT] = rest(rest(output, reasoning), audio_out);
    pl->rate[CLX_COST_OUTPUT] = out;
    pl->units[CLX_COST_REASONING] = reasoning;
    pl->rate[CLX_COST_REASONING] = or_else(x->reasoning_output_pico, out);
    pl->units[CLX_COST_AUDIO_OUTPUT] = audio_out;
    pl->rate[CLX_COST_AUDIO_OUTPUT] = or_else(x->audio_output_pico, out);
    pl->units[CLX_COST_WEB_SEARCH] = nonneg(u->web_search_calls);
    pl->rate[CLX_COST_WEB_SEARCH] = or_else(x->web_search_call_pico, 0);
    if (pl->units[CLX_COST_WEB_SEARCH] > 0 && x->web_search_call_pico < 0)
        pl->flags |= CLX_COST_FEE_UNPRICED;
    for (k = 0; k < CLX_COST_KINDS; k++)
        pl->mult[k] = 100 - pl->discount_pct;
    /* batch discounts are token prices: a per-call fee is the same in every tier */
    pl->mult[CLX_COST_WEB_SEARCH] = 100;
}

/*
 * Amount of kind k in 1/100 pico-dollars. units and rate are in [0, 2^63), so their product
 * fits 126 bits; a product above 2^112 pico (~5 x 10^21 USD) is clamped there, which keeps
 * x mult (<= 100 < 2^7) and the sum of the kinds (< 2^4) inside 128 bits while the total
 * still saturates.
 */
static __int128 part_amount(const cost_plan_t *pl, size_t k)
{
    const __int128 limit = (__int128)1 << 112;
    __int128 a = (__int128)pl->units[k] * pl->rate[k];

    return (a > limit ? limit : a) * pl->mult[k];
}

/*
 * Rounds a non-negative amount in 1/100 pico-dollars half up to nanos:
 * floor((v + 50,000) / 100,000). This is clx_money_pico_pct_to_nanos(sum, pct) when v =
 * sum x pct, i.e. the same single rounding step as before the parts existed. Saturates.
 */
static int64_t centipico_to_nanos(__int128 v, bool *saturated)
{
    __int128 q = (v + CENTIPICO_PER_NANO / 2) / CENTIPICO_PER_NANO;

    if (q > INT64_MAX) {
        *saturated = true;
        return INT64_MAX;
    }
    return (int64_t)q;
}

int64_t clx_price_cost_nanos(const clx_price_t *p, const clx_usage_t *u)
{
    cost_plan_t pl;
    __int128 sum = 0;
    bool saturated = false;
    size_t k;

    if (p == NULL || u == NULL)
        return 0;
    plan_cost(p, u, &pl);
    for (k = 0; k < CLX_COST_KINDS; k++)
        sum += part_amount(&pl, k);
    return centipico_to_nanos(sum, &saturated);
}

int64_t clx_price_cost_breakdown(const clx_price_t *p, const clx_usage_t *u, clx_cost_breakdown_t *out)
{
    cost_plan_t pl;
    __int128 sum = 0, floors = 0;
    int64_t frac[CLX_COST_KINDS];
    bool saturated = false, used[CLX_COST_KINDS] = {false};
    int64_t short_by;
    size_t k;

    if (out == NULL)
        return 0;
    memset(out, 0, sizeof(*out));
    if (p == NULL || u == NULL)
        return 0;
    plan_cost(p, u, &pl);
    for (k = 0; k < CLX_COST_KINDS; k++) {
        __int128 a = part_amount(&pl, k), whole = a / CENTIPICO_PER_NANO;

        sum += a;
        floors += whole;
        frac[k] = (int64_t)(a % CENTIPICO_PER_NANO);
        out->part[k].units = pl.units[k];
        out->part[k].rate_pico = pl.rate[k];
        out->part[k].nanos = whole > INT64_MAX ? INT64_MAX : (int64_t)whole;
        saturated |= whole > INT64_MAX;
    }
    out->total_nanos = centipico_to_nanos(sum, &saturated);
    out->tier = pl.tier;
    out->discount_pct = pl.discount_pct;
    out->long_context = pl.long_context;
    out->flags = pl.flags;
    if (saturated) {
        out->flags |= CLX_COST_SATURATED;
        return out->total_nanos;
    }
    /*
     * total = floor((sum floors x 10^5 + sum fracs + 50,000) / 10^5) = sum floors + d with
     * d = floor((sum fracs + 50,000) / 10^5); with n non-zero fractions (each < 10^5),
     * d <= n, so one nano each to the d largest fractions always suffices.
     */
    short_by = out->total_nanos - (int64_t)floors;
    while (short_by-- > 0) {
        size_t best = CLX_COST_KINDS;

        for (k = 0; k < CLX_COST_KINDS; k++)
            if (!used[k] && frac[k] > 0 && (best == CLX_COST_KINDS || frac[k] > frac[best]))
                best = k;
        if (best == CLX_COST_KINDS) /* cannot happen (see above); keep the sum honest anyway */
            break;
        used[best] = true;
        out->part[best].nanos++;
    }
    return out->total_nanos;
}
