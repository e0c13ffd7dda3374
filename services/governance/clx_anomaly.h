/*
 * clx_anomaly.h — is this hour's spend an anomaly for its scope?
 *
 * A scope (the workspace, a project, a feature, a model) has an hourly series: spend in
 * nano-dollars and event counts, one slot per hour, slot 0 at first_hour (hours since the
 * Unix epoch, UTC). clx_anomaly_check judges one hour of it against a robust seasonal
 * baseline: the same hour of the day on previous days of the same kind (weekday or weekend
 * day), their median and median absolute deviation (MAD). It flags an hour only when ALL of:
 *
 *   - enough history: at least min_samples comparable days since the scope's first activity,
 *     or two once the scope is a week old (a weekend hour compares with two weekend days);
 *   - far above the baseline: score = (observed - median) / spread >= min_score, where
 *     spread = max(1.4826 x MAD, rel_floor_pct % of the median, spread_floor_nanos) — the
 *     floors keep a flat (zero-MAD) series from turning every cent into a huge score;
 *   - a real multiple: observed >= min_ratio x median;
 *   - above the noise envelope: observed > (1 + envelope_margin_pct %) x the envelope, the
 *     second-highest over the comparable days of each day's highest value within two hours
 *     of the same hour (a job that lands in a different hour each night is not
 *     news where it lands; one past incident day in the window does not hide a new one);
 *   - worth money: observed - median >= min_excess_nanos (so $0.02 -> $0.09 is never paged).
 *
 * Rationale and measured precision/recall: docs/governance.md. Money is compared in
 * integers; only the score and ratios are doubles. Pure functions: safe from any thread.
 */
#ifndef CLX_ANOMALY_H
#define CLX_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

typedef enum clx_sensitivity {
    CLX_SENSITIVITY_LOW = 0,
    CLX_SENSITIVITY_MEDIUM, /* the default */
    CLX_SENSITIVITY_HIGH,
    CLX_SENSITIVITY_COUNT_
} clx_sensitivity_t;

typedef struct clx_anomaly_params {
    double min_score;           /* robust z-score */
    double min_ratio;           /* observed / baseline */
    int64_t min_excess_nanos;   /* observed - baseline, in nano-dollars */
    int64_t spread_floor_nanos; /* lower bound of the spread */
    int rel_floor_pct;          /* lower bound of the spread, % of the baseline */
    int envelope_margin_pct;    /* observed must exceed the envelope by this % */
    int lookback_days;          /* how far back comparable days are looked for (<= 56) */
    int max_samples;            /* comparable days used, most recent first (<= 56) */
    int min_samples;            /* fewer comparable days (and not 2 in a week-old scope): no verdict */
} clx_anomaly_params_t;

/* The parameters of a sensitivity level (table in anomaly.c). CLX_OK or CLX_EINVAL. */
int clx_anomaly_params_for(clx_sensitivity_t s, clx_anomaly_params_t *out);
/* "low", "medium", "high" -> *out. CLX_OK or CLX_EINVAL. */
int clx_sensitivity_parse(const char *s, clx_sensitivity_t *out);
/* The name clx_sensitivity_parse accepts; "?" outside the enum. Static. */
const char *clx_sensitivity_name(clx_sensitivity_t s);

/* One scope's hourly series; the arrays are the caller's. */
typedef struct clx_series {
    int64_t first_hour;         /* hours since 1970-01-01T00Z of slot 0 */
    size_t n;                   /* slots */
    const int64_t *cost_nanos;  /* n values, >= 0 */
    const int64_t *events;      /* n values, or NULL */
} clx_series_t;

typedef enum clx_verdict {
    CLX_VERDICT_NORMAL = 0,
    CLX_VERDICT_ANOMALY = 1,
    CLX_VERDICT_NO_HISTORY = 2, /* too few comparable days: nothing can be said */
} clx_verdict_t;

typedef struct clx_anomaly {
    clx_verdict_t verdict;
    int64_t hour;            /* hours since the epoch of the judged slot */
    int64_t observed_nanos;  /* that hour's spend */
    int64_t baseline_nanos;  /* median of the comparable hours */
    int64_t spread_nanos;    /* the floored robust spread the score divides by */
    int64_t envelope_nanos;  /* second-highest day of the hour +-2 h */
    int64_t observed_events; /* -1 when the series has no counts */
    int64_t baseline_events;
    double score;            /* (observed - baseline) / spread */
    double ratio;            /* observed / baseline (observed / 1 nano when the baseline is 0) */
    double events_ratio;     /* observed_events / baseline_events, 0 without counts */
    int samples;             /* comparable days found */
    char reason[200];        /* one line for people, e.g. "spend $45.20 in the hour vs usual $2.10 (21.5x)…" */
} clx_anomaly_t;

/*
 * Judges slot index `slot` of series s with parameters p into *out (fully written).
 * Returns CLX_OK, or CLX_EINVAL when slot >= s->n, s or p is inconsistent (NULL arrays,
 * lookback or samples out of range, a negative value in the judged hour).
 */
int clx_anomaly_check(const clx_series_t *s, size_t slot, const clx_anomaly_params_t *p, clx_anomaly_t *out);

/* Weekday (0 = Sunday) of an hour since the epoch. */
int clx_hour_weekday(int64_t hour);

#endif
