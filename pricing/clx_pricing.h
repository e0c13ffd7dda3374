/*
 * clx_pricing.h — the price catalog: loading, name normalisation, lookup, cost.
 *
 * A catalog is an immutable value loaded from a CSV file (pricing/catalog/prices.csv;
 * schema in pricing/catalog/README.md). Entries carry an effective-from date, so the
 * price in force at an event's time is used and a later price never rewrites history.
 * Lookups are thread-safe (the catalog is read-only once loaded).
 */
#ifndef CLX_PRICING_H
#define CLX_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Long-context tier: when an event's input_tokens (all prompt tokens, cached and
 * cache-write included) exceed this, ALL tokens of the event are billed at the entry's
 * *_above_200k prices (Anthropic 1M-context Sonnet 4/4.5, Gemini 2.5 Pro, Gemini 3 Pro),
 * 1-hour cache writes at cache_write_1h_above_200k.
 */
#define CLX_PRICING_TIER_TOKENS 200000

/*
 * A service tier's prices (OpenAI priority and flex processing). -1 = not set. A tier has
 * input and output prices or neither; its cached price is set exactly when the entry's base
 * cached price is (the loader checks both).
 */
typedef struct clx_tier_price {
    int64_t input_pico;        /* pico-dollars per uncached input token; -1 = no such tier */
    int64_t output_pico;       /* per output token */
    int64_t cached_input_pico; /* per cache-read token */
} clx_tier_price_t;

/*
 * The schema-3 columns of an entry (pricing/catalog/README.md). -1 = empty, and every empty
 * rate falls back to the next more general one: 1-hour cache writes to the 5-minute price,
 * audio input to the input price, cached audio to the cached price, audio output and
 * reasoning to the output price. A missing service tier or per-call fee has no fallback:
 * the cost breakdown flags it (CLX_COST_TIER_UNPRICED, CLX_COST_FEE_UNPRICED).
 */
typedef struct clx_price_ext {
    int64_t cache_write_1h_pico;            /* per 1-hour cache-write token (Anthropic: 2x input) */
    int64_t cache_write_1h_above_200k_pico; /* the same in the long-context tier */
    clx_tier_price_t priority;              /* service_tier "priority" */
    clx_tier_price_t flex;                  /* service_tier "flex" */
    int64_t audio_input_pico;               /* per uncached audio input token */
    int64_t cached_audio_input_pico;        /* per cache-read audio token */
    int64_t audio_output_pico;              /* per audio output token */
    int64_t reasoning_output_pico;          /* per reasoning token, only where it differs from output */
    int64_t web_search_call_pico;           /* per web search tool call (USD 10 per 1,000 = 10^10 pico) */
} clx_price_ext_t;

typedef struct clx_price {
    const char *id;       /* stable entry id, e.g. "openai/gpt-4o-mini@2024-07-18" */
    const char *provider; /* normalised provider: openai, anthropic, google, azure, ... */
    const char *model;    /* canonical model name, e.g. "gpt-4o-mini" */
    int64_t effective_from_ms;        /* Unix ms (UTC midnight of the effective date) */
    int64_t input_pico;               /* USD 10^-12 per uncached input token */
    int64_t output_pico;              /* per output token */
    int64_t cached_input_pico;        /* per cached input token (cache read); -1 = input price */
    int64_t cache_write_pico;         /* per cache-write token; -1 = input price */
    const char *source;               /* URL of the provider's price page */
    const char *checked;              /* date the price was checked, YYYY-MM-DD */
    /* long-context tier (input_tokens > CLX_PRICING_TIER_TOKENS); -1 = no tier */
    int64_t input_above_200k_pico;        /* -1: the entry has no tier (then all four are -1) */
    int64_t output_above_200k_pico;       /* set whenever input_above_200k_pico is */
    int64_t cached_input_above_200k_pico; /* -1 = the tier input price */
    int64_t cache_write_above_200k_pico;  /* -1 = the tier input price */
    int32_t batch_discount_pct;           /* 0-100 off the whole event for batch events; 0 = none */
    /* schema-3 rates (1-hour cache writes, service tiers, audio, reasoning, per-call fees);
     * NULL = the entry has none of them (every schema-1/2 row, a workspace's own price) */
    const struct clx_price_ext *ext;
} clx_price_t;

typedef struct clx_catalog clx_catalog_t;

/* Longest model name (bytes) that lookups and the catalog accept. */
#define CLX_PRICING_MODEL_MAX 256

/*
 * Loads the catalog CSV at path (schema 1, 2 or 3: pricing/catalog/README.md; older
 * schemas load unchanged, their entries have ext == NULL). CLX_OK; CLX_ENOTFOUND when the file is missing;
 * CLX_EINVAL when a line is malformed — then *errmsg (malloc'd, caller frees) names the
 * line and the problem. Nothing is half-loaded.
 */
int clx_catalog_load(const char *path, clx_catalog_t **out, char **errmsg);
/* Same, from a buffer (tests). */
int clx_catalog_load_buffer(const char *data, size_t len, clx_catalog_t **out, char **errmsg);
void clx_catalog_destroy(clx_catalog_t *c);

/* Number of entries, and entry i (0 <= i < count), for listing. */
size_t clx_catalog_count(const clx_catalog_t *c);
const clx_price_t *clx_catalog_entry(const clx_catalog_t *c, size_t i);
/* A version string of the loaded data (e.g. the content hash), static per catalog. */
const char *clx_catalog_version(const clx_catalog_t *c);
/* The '|'-separated alias names of entry i as written in the catalog ("" for none). */
const char *clx_catalog_aliases(const clx_catalog_t *c, size_t i);

/*
 * Normalises a provider name as callers send it: case-insensitive; "gemini", "google",
 * "vertex_ai", "google_ai" -> "google"; "azure_openai", "azure" -> "azure"; others
 * lowercased. Returns a static string for known providers or writes the lowercased name
 * into buf (size >= len+1) and returns buf.
 */
const char *clx_pricing_normalize_provider(const char *name, size_t len, char *buf);

/*
 * Normalises a model name for lookup: lowercase; strips a trailing date version
 * ("-20250219", "-2024-08-06", "@20240620"), and a leading "models/" or provider prefix
 * ("openai/"). Writes into buf (size >= len+1). Returns the length.
 */
size_t clx_pricing_normalize_model(const char *model, size_t len, char *buf);

/*
 * Finds the price for (normalised provider, model as sent) in force at at_ms: tries the
 * exact lowercased name first, then the normalised name; among entries for that name
 * picks the latest effective_from <= at_ms. "azure" falls back to the openai entry of the
 * same model when it has none of its own. Returns NULL when nothing matches.
 */
const clx_price_t *clx_catalog_lookup(const clx_catalog_t *c, const char *provider, const char *model,
                                      size_t model_len, int64_t at_ms);

/*
 * A workspace's own pricing terms, consulted before the list prices: a deployment name
 * (Azure OpenAI) priced as a catalog model, and the workspace's own (negotiated) price for a
 * model. Whoever keeps the terms provides the lookups; either may be NULL, and each returns
 * NULL / 0 for "none". Called once or twice per priced event: keep them cheap.
 */
typedef struct clx_price_terms {
    void *ctx;
    /* The catalog model that deployment (the model as sent, lowercased) is priced as, or NULL. */
    const char *(*deployment_model)(void *ctx, const char *deployment);
    /* The workspace's own price for (normalised provider, lowercased model) into *out: 1, or 0. */
    int (*own_price)(void *ctx, const char *provider, const char *model, clx_price_t *out);
} clx_price_terms_t;

/*
 * The price of one event, by precedence:
 *   1. a deployment mapping: the model as sent (lowercased) is priced as the mapped catalog model;
 *   2. the workspace's own price for that model (mapped, else lowercased as sent), then for its
 *      normalised name;
 *   3. the catalog entry in force at at_ms (clx_catalog_lookup) for the (mapped) model.
 * provider is normalised; normalized is clx_pricing_normalize_model's name for model. Returns the
 * catalog entry, or own (filled) for the workspace's price, or NULL when nothing prices the
 * model; *mapped is the mapped model name when step 1 applied, else NULL. terms may be NULL.
 */
const clx_price_t *clx_price_resolve(const clx_catalog_t *c, const clx_price_terms_t *terms, const char *provider,
                                     const char *model, size_t model_len, const char *normalized, int64_t at_ms,
                                     clx_price_t *own, const char **mapped);

/*
 * The service tier an event ran under. 0 is standard, so a zeroed clx_usage_t is a standard
 * call. CLX_TIER_BATCH is the same as clx_usage_t.batch.
 */
typedef enum clx_service_tier {
    CLX_TIER_STANDARD = 0, /* callers also write "default" and "auto" (OpenAI's names) */
    CLX_TIER_PRIORITY = 1,
    CLX_TIER_FLEX = 2,
    CLX_TIER_BATCH = 3,
} clx_service_tier_t;
#define CLX_TIER_COUNT 4

/*
 * Parses a service tier as callers send it (exact lowercase: "standard", "default", "auto",
 * "priority", "flex", "batch"). s need not be NUL-terminated. CLX_OK, or CLX_EINVAL for any
 * other text (*out untouched).
 */
int clx_service_tier_parse(const char *s, size_t len, clx_service_tier_t *out);
/* "standard", "priority", "flex", "batch"; "" for a value out of range. Static. */
const char *clx_service_tier_name(clx_service_tier_t tier);

/*
 * Token counts of one event, with the semantics of UsageEvent. Every field after batch is a
 * PART of a total above it, so a caller that leaves them 0 is priced exactly as before:
 *
 *   input_tokens  = uncached text + uncached audio + cached (text + audio) + cache writes
 *   cache_write_tokens  = 5-minute writes + cache_write_1h_tokens
 *   cached_tokens       = cached text + cached_audio_tokens
 *   audio_input_tokens  = uncached audio + cached_audio_tokens   (all prompt audio)
 *   output_tokens = text output + reasoning_tokens + audio_output_tokens
 *
 * clx_usage_check() validates these subset rules.
 */
typedef struct clx_usage {
    int64_t input_tokens;       /* all prompt tokens, cached and cache-write included */
    int64_t output_tokens;      /* all output tokens, reasoning and audio included */
    int64_t cached_tokens;      /* part of input billed at the cached price */
    int64_t cache_write_tokens; /* part of input billed at a cache-write price (5-minute unless 1-hour) */
    bool batch;                 /* sent through a provider's batch API (= service_tier CLX_TIER_BATCH) */
    int64_t reasoning_tokens;      /* part of output: reasoning / thinking tokens */
    int64_t cache_write_1h_tokens; /* part of cache_write_tokens written with a 1-hour TTL */
    int64_t audio_input_tokens;    /* part of input: audio prompt tokens, cached audio included */
    int64_t audio_output_tokens;   /* part of output: audio tokens */
    int64_t cached_audio_tokens;   /* part of cached_tokens and of audio_input_tokens */
    clx_service_tier_t service_tier;
    int64_t web_search_calls; /* web search tool calls billed per call */
} clx_usage_t;

/*
 * Checks that every part of u lies within its total (the layout above) and that the
 * service tier is known and agrees with the batch flag. CLX_OK, or CLX_EINVAL with *field
 * set to the offending field's JSON name ("reasoningTokens", ...) and msg (msglen bytes,
 * NUL-terminated, may be NULL) saying why. Counts must be non-negative; upper bounds are
 * the caller's (pipeline) business.
 */
int clx_usage_check(const clx_usage_t *u, const char **field, char *msg, size_t msglen);

/*
 * Cost in nano-dollars: every token kind of the breakdown below at its rate, summed exactly
 * (128-bit), plus per-call fees, rounded half up to nanos once (see clx_price_cost_breakdown).
 * For usages without the schema-3 parts this is (input - cached - cache_write) x input +
 * cached x cached_input + cache_write x cache_write + output x output, with the long-context
 * tier's prices when the entry has one and input_tokens > CLX_PRICING_TIER_TOKENS, and
 * (100 - batch_discount_pct)% of it for batch events, rounded once
 * (clx_money_pico_pct_to_nanos). 0 for NULL arguments. Callers validate the usage first
 * (clx_usage_check); inconsistent counts never crash (a negative remainder counts as 0).
 */
int64_t clx_price_cost_nanos(const clx_price_t *p, const clx_usage_t *u);

/* The kinds an event's cost is made of, in breakdown order. */
typedef enum clx_cost_kind {
    CLX_COST_INPUT = 0,       /* uncached text input */
    CLX_COST_CACHED_INPUT,    /* cache reads of text */
    CLX_COST_CACHE_WRITE_5M,  /* cache writes with the 5-minute TTL (the default) */
    CLX_COST_CACHE_WRITE_1H,  /* cache writes with the 1-hour TTL */
    CLX_COST_AUDIO_INPUT,     /* uncached audio input */
    CLX_COST_CACHED_AUDIO,    /* cache reads of audio */
    CLX_COST_OUTPUT,          /* text output */
    CLX_COST_REASONING,       /* reasoning output */
    CLX_COST_AUDIO_OUTPUT,    /* audio output */
    CLX_COST_WEB_SEARCH,      /* per-call fee: units are calls, the rate is per call */
    CLX_COST_KINDS
} clx_cost_kind_t;

/* "input", "cachedInput", "cacheWrite5m", "cacheWrite1h", "audioInput", "cachedAudioInput",
 * "output", "reasoning", "audioOutput", "webSearch"; "" out of range. Static. */
const char *clx_cost_kind_name(clx_cost_kind_t kind);

typedef struct clx_cost_part {
    int64_t units;     /* tokens (calls for CLX_COST_WEB_SEARCH) */
    int64_t rate_pico; /* list rate used, pico-dollars per token (per call), before any batch discount */
    int64_t nanos;     /* this part's share of total_nanos (the parts sum to it exactly) */
} clx_cost_part_t;

/* clx_cost_breakdown_t.flags */
#define CLX_COST_TIER_UNPRICED 0x1u /* the requested service tier has no price here: standard was used */
#define CLX_COST_FEE_UNPRICED 0x2u  /* web search calls but no per-call fee here: they cost 0 */
#define CLX_COST_SATURATED 0x4u     /* the total exceeds INT64_MAX nanos (parts no longer sum) */

typedef struct clx_cost_breakdown {
    clx_cost_part_t part[CLX_COST_KINDS];
    int64_t total_nanos;          /* = clx_price_cost_nanos() */
    clx_service_tier_t tier;      /* tier whose prices were used (CLX_TIER_STANDARD when unpriced) */
    int32_t discount_pct;         /* batch discount taken off the token parts (not off fees); 0 = none */
    bool long_context;            /* the entry's >200k prices were used */
    uint32_t flags;               /* CLX_COST_* */
} clx_cost_breakdown_t;

/*
 * How an event's cost is made: per kind the units, the rate used and the amount, plus the
 * total, which equals clx_price_cost_nanos(p, u) and is returned. Rounding: each kind's
 * exact amount e_k = units x rate x (100 - discount_pct) / 100 pico-dollars (fees: no
 * discount); the total is round_half_up(sum e_k) to nanos, computed once from the 128-bit
 * sum; each part gets floor(e_k) nanos, and the nanos the floors leave short of the total
 * (never more than the number of parts with a fraction) go one each to the parts with the
 * largest fractions (ties: the earlier kind). So every part is its exact amount rounded
 * down or up, and the parts sum exactly to the total. Allocation-free; out is fully
 * written (zeroed for NULL arguments, returning 0).
 */
int64_t clx_price_cost_breakdown(const clx_price_t *p, const clx_usage_t *u, clx_cost_breakdown_t *out);

#endif
