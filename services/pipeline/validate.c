/*
 * validate.c — the first pipeline stage: is this event well-formed on its own?
 * One table of string fields and one of token fields; no lookups, no I/O.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_utf8.h"
#include "pipeline_internal.h"

struct string_rule {
    const char *field; /* proto3 JSON spelling, as callers write it */
    size_t offset;
    size_t max;
    int required;
};

#define EV_OFF(m) offsetof(Costlynx__V1__UsageEvent, m)

static const struct string_rule string_rules[] = {
    {"requestId", EV_OFF(request_id), CLX_MAX_REQUEST_ID, 1},
    {"provider", EV_OFF(provider), CLX_MAX_PROVIDER, 1},
    {"model", EV_OFF(model), CLX_MAX_MODEL, 1},
    {"project", EV_OFF(project), CLX_SLUG_MAX, 0},
    {"environment", EV_OFF(environment), CLX_SLUG_MAX, 0},
    {"feature", EV_OFF(feature), CLX_MAX_FEATURE, 0},
};

struct token_rule {
    const char *field;
    size_t offset;
};

static const struct token_rule token_rules[] = {
    {"inputTokens", EV_OFF(input_tokens)},
    {"outputTokens", EV_OFF(output_tokens)},
    {"cachedTokens", EV_OFF(cached_tokens)},
    {"cacheWriteTokens", EV_OFF(cache_write_tokens)},
};

int clx_problem_set(clx_problem_t *p, const char *field, clx_code_t code, const char *fmt, ...)
{
    va_list ap;
    p->field = field;
    p->code_id = code;
    p->code = clx_code_name(code);
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
    va_end(ap);
    return CLX_EINVAL;
}

int clx_validate_text(const char *field, const char *s, size_t len, clx_problem_t *p)
{
    switch (clx_text_check((const unsigned char *)s, len)) {
    case CLX_TEXT_OK:
        return CLX_OK;
    case CLX_TEXT_NUL:
        return clx_problem_set(p, field, CLX_CODE_INVALID_VALUE, "%s must not contain NUL characters", field);
    default:
        return clx_problem_set(p, field, CLX_CODE_INVALID_VALUE, "%s must be UTF-8 text without control characters",
                               field);
    }
}

int clx_validate_event(const Costlynx__V1__UsageEvent *ev, clx_problem_t *p)
{
    p->field = NULL;
    p->code_id = CLX_CODE_NONE;
    p->code = NULL;
    p->message[0] = '\0';
    for (size_t i = 0; i < sizeof(string_rules) / sizeof(string_rules[0]); i++) {
        const struct string_rule *r = &string_rules[i];
        const char *v = *(const char *const *)((const char *)ev + r->offset);
        size_t len = v != NULL ? strlen(v) : 0;
        if (len == 0) {
            if (r->required)
                return clx_problem_set(p, r->field, CLX_CODE_MISSING_FIELD, "%s is required", r->field);
            continue;
        }
        if (r->required && strspn(v, " \t") == len)
            return clx_problem_set(p, r->field, CLX_CODE_MISSING_FIELD, "%s is required and must not be blank",
                                   r->field);
        if (len > r->max)
            return clx_problem_set(p, r->field, CLX_CODE_TOO_LONG, "%s is %zu bytes long; the limit is %zu", r->field,
                                   len, r->max);
        if (clx_validate_text(r->field, v, len, p) != CLX_OK)
            return CLX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(token_rules) / sizeof(token_rules[0]); i++) {
        const struct token_rule *r = &token_rules[i];
        int64_t v = *(const int64_t *)((const char *)ev + r->offset);
        if (v < 0 || v > CLX_MAX_TOKENS)
            return clx_problem_set(p, r->field, CLX_CODE_INVALID_VALUE,
                                   "%s must be an integer from 0 to %lld, got %lld", r->field,
                                   (long long)CLX_MAX_TOKENS, (long long)v);
    }
    if (ev->cached_tokens > ev->input_tokens)
        return clx_problem_set(
            p, "cachedTokens", CLX_CODE_INVALID_VALUE,
            "cachedTokens (%lld) exceeds inputTokens (%lld): inputTokens counts all prompt tokens, cached "
            "ones included",
            (long long)ev->cached_tokens, (long long)ev->input_tokens);
    if (ev->cached_tokens + ev->cache_write_tokens > ev->input_tokens)
        return clx_problem_set(
            p, "cacheWriteTokens", CLX_CODE_INVALID_VALUE,
            "cachedTokens + cacheWriteTokens (%lld) exceeds inputTokens (%lld): inputTokens counts all "
            "prompt tokens, cache reads and writes included",
            (long long)(ev->cached_tokens + ev->cache_write_tokens), (long long)ev->input_tokens);
    switch (ev->estimated_cost_case) {
    case COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD:
        /* NaN fails both comparisons, so it is rejected here too; -0 is refused like every
         * other signed zero (REST's "-0" included), so "non-negative" means one thing; the
         * bound is exact in a double, and price.c rounds to nanos below it */
        if (!(ev->estimated_cost_usd >= 0.0 && ev->estimated_cost_usd <= (double)CLX_MAX_COST_USD) ||
            signbit(ev->estimated_cost_usd))
            return clx_problem_set(p, "estimatedCostUsd", CLX_CODE_INVALID_VALUE,
                                   "estimatedCostUsd must be from 0 to %lld US dollars (the per-event limit), got %g",
                                   (long long)CLX_MAX_COST_USD, ev->estimated_cost_usd);
        break;
    case COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS:
        if (ev->estimated_cost_nanos < 0 || ev->estimated_cost_nanos > CLX_MAX_COST_NANOS)
            return clx_problem_set(
                p, "estimatedCostNanos", CLX_CODE_INVALID_VALUE,
                "estimatedCostNanos must be from 0 to %lld (%lld US dollars, the per-event limit), got %lld",
                (long long)CLX_MAX_COST_NANOS, (long long)CLX_MAX_COST_USD, (long long)ev->estimated_cost_nanos);
        break;
    default:
        break;
    }
    return CLX_OK;
}
