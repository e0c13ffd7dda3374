/*
 * budget.c — period boundaries in a workspace's zone, forecasts and threshold crossings.
 * Money stays in integers; products are taken in 128 bits so nothing rounds or wraps.
 */
#include "clx_budget.h"

#include <string.h>

#include "clx_error.h"

static const char *const period_names[CLX_PERIOD_COUNT_] = {
    [CLX_PERIOD_DAY] = "day",
    [CLX_PERIOD_WEEK] = "week",
    [CLX_PERIOD_MONTH] = "month",
};

int clx_period_parse(const char *s, clx_period_t *out)
{
    for (int p = 0; s != NULL && p < CLX_PERIOD_COUNT_; p++)
        if (strcmp(s, period_names[p]) == 0) {
            *out = (clx_period_t)p;
            return CLX_OK;
        }
    return CLX_EINVAL;
}

const char *clx_period_name(clx_period_t p)
{
    return (unsigned)p < CLX_PERIOD_COUNT_ ? period_names[p] : "?";
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* The first local date of the period after the one starting on (y, m, d). */
static void period_next(clx_period_t p, int *y, int *m, int *d)
{
    int64_t days = clx_days_from_civil(*y, p == CLX_PERIOD_MONTH ? *m + 1 : *m,
                                       p == CLX_PERIOD_MONTH ? 1 : *d + (p == CLX_PERIOD_WEEK ? 7 : 1));
    clx_civil_from_days(days, y, m, d);
}

int clx_period_bounds(const clx_tz_t *tz, clx_period_t p, int64_t at_ms, clx_span_t *out)
{
    clx_civil_t c;
    int y, m, d;

    if ((unsigned)p >= CLX_PERIOD_COUNT_)
        return CLX_EINVAL;
    clx_tz_civil(tz, floor_div(at_ms, 1000), &c);
    y = c.year;
    m = c.month;
    d = c.day;
    if (p == CLX_PERIOD_WEEK)
        clx_civil_from_days(clx_days_from_civil(y, m, d) - (c.weekday + 6) % 7, &y, &m, &d); /* back to Monday */
    else if (p == CLX_PERIOD_MONTH)
        d = 1;
    out->start_ms = clx_tz_from_local(tz, y, m, d, 0, 0, 0) * 1000;
    period_next(p, &y, &m, &d);
    out->end_ms = clx_tz_from_local(tz, y, m, d, 0, 0, 0) * 1000;
    /*
     * A period starts where the clock first shows its first day. When a fall-back at
     * midnight repeats the last hour of a day, the repeat comes after the next period has
     * started: such an instant belongs to that next period.
     */
    if (at_ms >= out->end_ms) {
        out->start_ms = out->end_ms;
        period_next(p, &y, &m, &d);
        out->end_ms = clx_tz_from_local(tz, y, m, d, 0, 0, 0) * 1000;
    }
    return CLX_OK;
}

static int64_t saturate(__int128 v)
{
    if (v > INT64_MAX)
        return INT64_MAX;
    if (v < INT64_MIN)
        return INT64_MIN;
    return (int64_t)v;
}

int64_t clx_budget_forecast(int64_t spent_nanos, const clx_span_t *period, int64_t now_ms)
{
    int64_t spent = spent_nanos > 0 ? spent_nanos : 0;
    int64_t total = period->end_ms - period->start_ms;
    int64_t elapsed = now_ms - period->start_ms;

    if (elapsed <= 0 || elapsed >= total)
        return spent;
    /* spent x total / elapsed, half up: (2 x spent x total + elapsed) / (2 x elapsed) */
    __int128 num = (__int128)spent * total * 2 + elapsed;
    return saturate(num / ((__int128)elapsed * 2));
}

uint32_t clx_budget_crossed(int64_t spent_nanos, int64_t amount_nanos, const uint32_t *bp, size_t n)
{
    uint32_t bits = 0;

    if (amount_nanos <= 0)
        return 0;
    if (n > CLX_BUDGET_MAX_THRESHOLDS)
        n = CLX_BUDGET_MAX_THRESHOLDS;
    for (size_t i = 0; i < n; i++)
        if ((__int128)spent_nanos * 10000 >= (__int128)amount_nanos * bp[i])
            bits |= 1u << i;
    return bits;
}

int clx_budget_thresholds_valid(const uint32_t *bp, size_t n)
{
    if (n == 0 || n > CLX_BUDGET_MAX_THRESHOLDS)
        return CLX_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (bp[i] == 0 || bp[i] > CLX_BUDGET_MAX_THRESHOLD_BP)
            return CLX_EINVAL;
        if (i > 0 && bp[i] <= bp[i - 1])
            return CLX_EINVAL;
    }
    return CLX_OK;
}

int64_t clx_budget_percent_bp(int64_t spent_nanos, int64_t amount_nanos)
{
    if (amount_nanos <= 0 || spent_nanos <= 0)
        return 0;
    return saturate((__int128)spent_nanos * 10000 / amount_nanos);
}
