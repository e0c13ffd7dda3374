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
 * *_above_200k prices (Anthropic 1M-context Sonnet 4/4.5, Gemini 2.5 Pro, Gemini 3 Pro).
 */
#define CLX_PRICING_TIER_TOKENS 200000

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
} clx_price_t;

typedef struct clx_catalog clx_catalog_t;

/* Longest model name (bytes) that lookups and the catalog accept. */
#define CLX_PRICING_MODEL_MAX 256

/*
 * Loads the catalog CSV at path. CLX_OK; CLX_ENOTFOUND when the file is missing;
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

/* Token counts of one event, with the semantics of UsageEvent. */
typedef struct clx_usage {
    int64_t input_tokens;       /* all prompt tokens, cached and cache-write included */
    int64_t output_tokens;
    int64_t cached_tokens;      /* part of input billed at the cached price */
    int64_t cache_write_tokens; /* part of input billed at the cache-write price */
    bool batch;                 /* sent through a provider's batch API (discounted) */
} clx_usage_t;

/*
 * Cost in nano-dollars: (input - cached - cache_write) x input + cached x cached_input +
 * cache_write x cache_write + output x output, summed exactly in pico-dollars. When the
 * entry has a long-context tier and input_tokens > CLX_PRICING_TIER_TOKENS, all four
 * prices are the tier prices. When u->batch is set and the entry has a batch discount,
 * the sum is multiplied by (100 - batch_discount_pct) / 100. The result is rounded half
 * up to nanos once, at the end (clx_money_pico_pct_to_nanos). Callers validate
 * cached + cache_write <= input first.
 */
int64_t clx_price_cost_nanos(const clx_price_t *p, const clx_usage_t *u);

#endif
