/*
 * validate.c — the first pipeline stage: is this event well-formed on its own?
 * One table of string fields and one of token fields; no lookups, no I/O.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
    {"userId", EV_OFF(user_id), CLX_MAX_USER_ID, 0},
    {"serviceTier", EV_OFF(service_tier), CLX_MAX_SERVICE_TIER, 0},
};

struct token_rule {
    const char *field;
    size_t offset;
    int64_t max;
};

static const struct token_rule token_rules[] = {
    {"inputTokens", EV_OFF(input_tokens), CLX_MAX_TOKENS},
    {"outputTokens", EV_OFF(output_tokens), CLX_MAX_TOKENS},
    {"cachedTokens", EV_OFF(cached_tokens), CLX_MAX_TOKENS},
    {"cacheWriteTokens", EV_OFF(cache_write_tokens), CLX_MAX_TOKENS},
    {"reasoningTokens", EV_OFF(reasoning_tokens), CLX_MAX_TOKENS},
    {"cacheWrite1hTokens", EV_OFF(cache_write_1h_tokens), CLX_MAX_TOKENS},
    {"audioInputTokens", EV_OFF(audio_input_tokens), CLX_MAX_TOKENS},
    {"audioOutputTokens", EV_OFF(audio_output_tokens), CLX_MAX_TOKENS},
    {"cachedAudioTokens", EV_OFF(cached_audio_tokens), CLX_MAX_TOKENS},
    {"webSearchCalls", EV_OFF(web_search_calls), CLX_MAX_CALLS},
};

/* Proto3 JSON's Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
#define TS_MIN_SECONDS (-62135596800LL)
#define TS_MAX_SECONDS 253402300799LL

void clx_usage_of_event(const Costlynx__V1__UsageEvent *ev, clx_usage_t *u)
{
    memset(u, 0, sizeof(*u));
    u->input_tokens = ev->input_tokens;
    u->output_tokens = ev->output_tokens;
    u->cached_tokens = ev->cached_tokens;
    u->cache_write_tokens = ev->cache_write_tokens;
    u->batch = ev->batch;
    u->reasoning_tokens = ev->reasoning_tokens;
    u->cache_write_1h_tokens = ev->cache_write_1h_tokens;
    u->audio_input_tokens = ev->audio_input_tokens;
    u->audio_output_tokens = ev->audio_output_tokens;
    u->cached_audio_tokens = ev->cached_audio_tokens;
    u->web_search_calls = ev->web_search_calls;
    u->service_tier = CLX_TIER_STANDARD;
    if (ev->service_tier != NULL && ev->service_tier[0] != '\0')
        (void)clx_service_tier_parse(ev->service_tier, strlen(ev->service_tier), &u->service_tier);
    if (u->batch && u->service_tier == CLX_TIER_STANDARD)
        u->service_tier = CLX_TIER_BATCH; /* batch: true is the batch tier */
}

int clx_validate_tag_key(const char *field, const char *k, size_t len, clx_problem_t *p)
{
    if (clx_tag_key_valid(k, len))
        return CLX_OK;
    return clx_problem_set(p, field, CLX_CODE_INVALID_VALUE,
                           "%s: the tag key '%.*s'%s must be 1 to %d bytes of a-z, 0-9, '_', '.' and '-'", field,
                           (int)(len > 64 ? 64 : len), k, len > 64 ? "..." : "", CLX_MAX_TAG_KEY);
}

/* An event's tags: how many, each key, each value, no key twice. */
static int validate_tags(const Costlynx__V1__UsageEvent *ev, clx_problem_t *p)
{
    if (ev->n_tags > CLX_MAX_TAGS)
        return clx_problem_set(p, "tags", CLX_CODE_INVALID_VALUE, "tags has %zu entries; an event carries at most %d",
                               ev->n_tags, CLX_MAX_TAGS);
    for (size_t i = 0; i < ev->n_tags; i++) {
        const char *k = ev->tags[i]->key != NULL ? ev->tags[i]->key : "";
        const char *v = ev->tags[i]->value != NULL ? ev->tags[i]->value : "";
        size_t klen = strlen(k), vlen = strlen(v);
        if (clx_validate_tag_key("tags", k, klen, p) != CLX_OK)
            return CLX_EINVAL;
        if (vlen > CLX_MAX_TAG_VALUE)
            return clx_problem_set(p, "tags", CLX_CODE_INVALID_VALUE,
                                   "tags: the value of '%s' is %zu bytes long; the limit is %d", k, vlen,
                                   CLX_MAX_TAG_VALUE);
        if (clx_text_check((const unsigned char *)v, vlen) != CLX_TEXT_OK)
            return clx_problem_set(p, "tags", CLX_CODE_INVALID_VALUE,
                                   "tags: the value of '%s' must be UTF-8 text without control characters", k);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ev->tags[j]->key != NULL ? ev->tags[j]->key : "", k) == 0)
                return clx_problem_set(p, "tags", CLX_CODE_INVALID_VALUE, "tags: the key '%s' appears more than once",
                                       k);
    }
    return CLX_OK;
}

static void iso_ms(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    /* %04d: strftime's %Y writes the year 1 as "1", not RFC 3339's "0001" */
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
}

/* "35 days", "5 minutes", "90 seconds": a window edge in the largest unit that divides it. */
static void say_span(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (ms % 1000 != 0)
        snprintf(buf, len, "%lld ms", (long long)ms);
    else if (s % 86400 == 0)
        snprintf(buf, len, "%lld day%s", (long long)(s / 86400), s == 86400 ? "" : "s");
    else if (s % 3600 == 0)
        snprintf(buf, len, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
    else if (s % 60 == 0)
        snprintf(buf, len, "%lld minute%s", (long long)(s / 60), s == 60 ? "" : "s");
    else
        snprintf(buf, len, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

int clx_validate_event_time(const Costlynx__V1__UsageEvent *ev, int64_t now_ms, int64_t back_ms, int64_t forward_ms,
                            int64_t *event_ms, clx_problem_t *p)
{
    *event_ms = now_ms;
    if (ev->timestamp == NULL)
        return CLX_OK;
    int64_t t = ev->timestamp->seconds * 1000 + ev->timestamp->nanos / 1000000;
    if (t <= 0) { /* a stored event time of 0 or less means "none": the event would count at arrival */
        char at[80];
        iso_ms(t, at, sizeof(at));
        return clx_problem_set(p, "timestamp", CLX_CODE_INVALID_VALUE,
                               "timestamp must be after 1970-01-01T00:00:00.000Z (event times are kept as Unix "
                               "milliseconds above 0), got %s",
                               at);
    }
    if (t >= now_ms - back_ms && t <= now_ms + forward_ms) {
        *event_ms = t;
        return CLX_OK;
    }
    char at[80], lo[80], hi[80], sb[40], sf[40];
    iso_ms(t, at, sizeof(at));
    iso_ms(now_ms - back_ms, lo, sizeof(lo));
    iso_ms(now_ms + forward_ms, hi, sizeof(hi));
    say_span(back_ms, sb, sizeof(sb));
    say_span(forward_ms, sf, sizeof(sf));
    return clx_problem_set(p, "timestamp", CLX_CODE_TIMESTAMP_OUT_OF_RANGE,
                           "timestamp %s is outside the accepted window of %s back to %s ahead of arrival (%s to "
                           "%s): the workspace's eventWindow setting",
                           at, sb, sf, lo, hi);
}

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
        if (v < 0 || v > r->max)
            return clx_problem_set(p, r->field, CLX_CODE_INVALID_VALUE,
                                   "%s must be an integer from 0 to %lld, got %lld", r->field, (long long)r->max,
                                   (long long)v);
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
    clx_service_tier_t tier = CLX_TIER_STANDARD;
    if (ev->service_tier != NULL && ev->service_tier[0] != '\0' &&
        clx_service_tier_parse(ev->service_tier, strlen(ev->service_tier), &tier) != CLX_OK)
        return clx_problem_set(p, "serviceTier", CLX_CODE_INVALID_VALUE,
                               "serviceTier must be one of standard (or default, auto), priority, flex, batch; got "
                               "'%s'",
                               ev->service_tier);
    clx_usage_t usage;
    const char *ufield = NULL;
    char umsg[300];
    clx_usage_of_event(ev, &usage);
    usage.service_tier = tier; /* as named: batch: true with "priority" is a contradiction */
    if (clx_usage_check(&usage, &ufield, umsg, sizeof(umsg)) != CLX_OK)
        return clx_problem_set(p, ufield != NULL ? ufield : "serviceTier", CLX_CODE_INVALID_VALUE, "%s", umsg);
    if (validate_tags(ev, p) != CLX_OK)
        return CLX_EINVAL;
    if (ev->timestamp != NULL && (ev->timestamp->seconds < TS_MIN_SECONDS || ev->timestamp->seconds > TS_MAX_SECONDS ||
                                  ev->timestamp->nanos < 0 || ev->timestamp->nanos > 999999999))
        return clx_problem_set(p, "timestamp", CLX_CODE_INVALID_VALUE,
                               "timestamp must lie in years 0001 to 9999 with nanos from 0 to 999999999, got "
                               "seconds %lld nanos %d",
                               (long long)ev->timestamp->seconds, (int)ev->timestamp->nanos);
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
