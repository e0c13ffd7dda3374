/*
 * anomaly.c — the hourly spend anomaly rule: a seasonal median/MAD baseline over comparable
 * days, floors for flat series, a noise envelope and a minimum amount worth paging.
 */
#include "clx_anomaly.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "clx_money.h"

#define MAX_DAYS 56
#define MAD_TO_SIGMA 1.4826 /* MAD x 1.4826 estimates the standard deviation of normal noise */
#define CENT (CLX_NANOS_PER_USD / 100)
/* neighbouring hours in the envelope: jobs drift, and local patterns move by an hour with DST */
#define ENVELOPE_HOURS 2
#define WEEK_DAYS 7

static const char *const sensitivity_names[CLX_SENSITIVITY_COUNT_] = {"low", "medium", "high"};

/*
 * Sensitivity levels (a workspace setting). Medium is the measured default: see the
 * figures in docs/governance.md. Lower levels need a bigger jump and more money at stake.
 */
static const clx_anomaly_params_t levels[CLX_SENSITIVITY_COUNT_] = {
    [CLX_SENSITIVITY_LOW] = {.min_score = 8.0, .min_ratio = 3.0, .min_excess_nanos = 100 * CENT,
                             .spread_floor_nanos = CENT, .rel_floor_pct = 10, .envelope_margin_pct = 50,
                             .lookback_days = 28, .max_samples = 10, .min_samples = 4},
    [CLX_SENSITIVITY_MEDIUM] = {.min_score = 5.0, .min_ratio = 2.0, .min_excess_nanos = 50 * CENT,
                                .spread_floor_nanos = CENT, .rel_floor_pct = 10, .envelope_margin_pct = 25,
                                .lookback_days = 28, .max_samples = 10, .min_samples = 4},
    [CLX_SENSITIVITY_HIGH] = {.min_score = 4.0, .min_ratio = 1.5, .min_excess_nanos = 25 * CENT,
                              .spread_floor_nanos = CENT, .rel_floor_pct = 10, .envelope_margin_pct = 10,
                              .lookback_days = 28, .max_samples = 10, .min_samples = 4},
};

int clx_anomaly_params_for(clx_sensitivity_t s, clx_anomaly_params_t *out)
{
    if ((unsigned)s >= CLX_SENSITIVITY_COUNT_)
        return CLX_EINVAL;
    *out = levels[s];
    return CLX_OK;
}

int clx_sensitivity_parse(const char *s, clx_sensitivity_t *out)
{
    for (int i = 0; s != NULL && i < CLX_SENSITIVITY_COUNT_; i++)
        if (strcmp(s, sensitivity_names[i]) == 0) {
            *out = (clx_sensitivity_t)i;
            return CLX_OK;
        }
    return CLX_EINVAL;
}

const char *clx_sensitivity_name(clx_sensitivity_t s)
{
    return (unsigned)s < CLX_SENSITIVITY_COUNT_ ? sensitivity_names[s] : "?";
}

int clx_hour_weekday(int64_t hour)
{
    int64_t days = hour >= 0 ? hour / 24 : -((-hour + 23) / 24);
    int64_t wd = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(wd < 0 ? wd + 7 : wd);
}

static int is_weekend(int64_t hour)
{
    int wd = clx_hour_weekday(hour);
    return wd == 0 || wd == 6;
}

static void sort_i64(int64_t *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* Median of n >= 1 values (sorts v); the mean of the middle two for even n, rounded down. */
static int64_t median_i64(int64_t *v, int n)
{
    sort_i64(v, n);
    if (n % 2 == 1)
        return v[n / 2];
    return v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2;
}

/* "$12.34" (rounded half up to the cent), or the exact amount below a cent ("$0.0042"). */
static void usd(int64_t nanos, char *buf, size_t cap)
{
    if (nanos < CENT && nanos > -CENT) {
        buf[0] = '$';
        if (cap >= 33)
            clx_money_format_usd(nanos, buf + 1);
        return;
    }
    int64_t cents = (nanos + CENT / 2) / CENT;
    snprintf(buf, cap, "$%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
}

static int params_ok(const clx_anomaly_params_t *p)
{
    return p->lookback_days >= 1 && p->lookback_days <= MAX_DAYS && p->max_samples >= 1 &&
           p->max_samples <= MAX_DAYS && p->min_samples >= 1 && p->min_samples <= p->max_samples &&
           p->rel_floor_pct >= 0 && p->envelope_margin_pct >= 0 && p->spread_floor_nanos >= 1 && p->min_excess_nanos >= 0 && p->min_ratio >= 1.0 &&
           p->min_score >= 0.0;
}

static void describe(clx_anomaly_t *a, const clx_anomaly_params_t *p)
{
    char obs[40], base[40];

    usd(a->observed_nanos, obs, sizeof(obs));
    usd(a->baseline_nanos, base, sizeof(base));
    if (a->verdict == CLX_VERDICT_NO_HISTORY) {
        snprintf(a->reason, sizeof(a->reason),
                 "spend %s; %d comparable day%s of history (%d needed, or 2 after the first week)", obs, a->samples,
                 a->samples == 1 ? "" : "s", p->min_samples);
        return;
    }
    if (a->verdict == CLX_VERDICT_NORMAL) {
        snprintf(a->reason, sizeof(a->reason), "spend %s vs usual %s (%.1fx, score %.1f): within the usual range", obs,
                 base, a->ratio, a->score);
        return;
    }
    const char *why = "";
    if (a->observed_events >= 0 && a->baseline_events > 0) {
        /* more calls, or dearer calls? tells a traffic burst from a model or prompt change */
        why = a->events_ratio >= 0.5 * a->ratio ? "; more calls than usual"
                                                 : "; calls as usual, each dearer (model or prompt change?)";
    }
    if (a->baseline_nanos == 0)
        snprintf(a->reason, sizeof(a->reason), "spend %s in the hour where there usually is none (score %.1f)%s", obs,
                 a->score, why);
    else
        snprintf(a->reason, sizeof(a->reason), "spend %s in the hour vs usual %s (%.1fx, score %.1f)%s", obs, base,
                 a->ratio, a->score, why);
}

int clx_anomaly_check(const clx_series_t *s, size_t slot, const clx_anomaly_params_t *p, clx_anomaly_t *out)
{
    int64_t samples[MAX_DAYS], ev_samples[MAX_DAYS], env[MAX_DAYS], dev[MAX_DAYS];
    int ns = 0;

    memset(out, 0, sizeof(*out));
    if (s == NULL || p == NULL || s->cost_nanos == NULL || slot >= s->n || !params_ok(p) ||
        s->cost_nanos[slot] < 0)
        return CLX_EINVAL;
    out->hour = s->first_hour + (int64_t)slot;
    out->observed_nanos = s->cost_nanos[slot];
    out->observed_events = s->events != NULL ? s->events[slot] : -1;

    /* history starts at the scope's first activity: zeros before it are not "usual" */
    size_t first = 0;
    while (first < slot && s->cost_nanos[first] == 0 && (s->events == NULL || s->events[first] == 0))
        first++;
    /* comparable days: the same hour on earlier days of the same kind (weekday / weekend) */
    int weekend = is_weekend(out->hour);
    for (int k = 1; k <= p->lookback_days && ns < p->max_samples; k++) {
        if ((size_t)k * 24 > slot || slot - (size_t)k * 24 < first)
            break;
        size_t j = slot - (size_t)k * 24;
        if (is_weekend(s->first_hour + (int64_t)j) != weekend)
            continue;
        samples[ns] = s->cost_nanos[j];
        ev_samples[ns] = s->events != NULL ? s->events[j] : 0;
        /* the day's highest within +-ENVELOPE_HOURS of the hour (all before slot: k >= 1) */
        int64_t top = 0;
        for (size_t i = j >= first + ENVELOPE_HOURS ? j - ENVELOPE_HOURS : first; i <= j + ENVELOPE_HOURS; i++)
            if (s->cost_nanos[i] > top)
                top = s->cost_nanos[i];
        env[ns++] = top;
    }
    out->samples = ns;
    /* enough: min_samples days, or (weekends) two once the scope is a week old */
    if (ns < p->min_samples && !(ns >= 2 && slot - first >= 24 * WEEK_DAYS)) {
        out->verdict = CLX_VERDICT_NO_HISTORY;
        describe(out, p);
        return CLX_OK;
    }

    int64_t m = median_i64(samples, ns);
    for (int i = 0; i < ns; i++)
        dev[i] = samples[i] > m ? samples[i] - m : m - samples[i];
    int64_t mad = median_i64(dev, ns);
    int64_t spread = (int64_t)llround(MAD_TO_SIGMA * (double)mad);
    int64_t rel = (int64_t)((__int128)m * p->rel_floor_pct / 100);
    if (spread < rel)
        spread = rel;
    if (spread < p->spread_floor_nanos)
        spread = p->spread_floor_nanos;
    sort_i64(env, ns);
    int64_t envelope = ns >= 2 ? env[ns - 2] : env[ns - 1];

    int64_t x = out->observed_nanos;
    out->baseline_nanos = m;
    out->spread_nanos = spread;
    out->envelope_nanos = envelope;
    out->score = (double)(x - m) / (double)spread;
    out->ratio = (double)x / (double)(m > 0 ? m : 1);
    if (s->events != NULL) {
        out->baseline_events = median_i64(ev_samples, ns);
        out->events_ratio = (double)out->observed_events / (double)(out->baseline_events > 0 ? out->baseline_events : 1);
    }
    /* score and ratio are doubles (statistics, not money); the amount at stake is an integer test */
    int far = out->score >= p->min_score && (double)x >= p->min_ratio * (double)m;
    int above = (__int128)x * 100 > (__int128)envelope * (100 + p->envelope_margin_pct);
    int worth = above && x - m >= p->min_excess_nanos;
    out->verdict = far && worth ? CLX_VERDICT_ANOMALY : CLX_VERDICT_NORMAL;
    describe(out, p);
    return CLX_OK;
}
