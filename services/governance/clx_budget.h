/*
 * clx_budget.h — budget arithmetic: period boundaries in a zone, the forecast to the
 * period's end, and which thresholds a spend has crossed. Pure functions, exact integer
 * money (nano-dollars, see clx_money.h); safe from any thread.
 *
 * Not here yet (docs/governance.md, "what remains to wire"): the budget records, their
 * admin API, reading period-to-date spend from the rollups, the fired-threshold markers.
 */
#ifndef CLX_BUDGET_H
#define CLX_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "clx_tz.h"

typedef enum clx_period {
    CLX_PERIOD_DAY = 0,
    CLX_PERIOD_WEEK,  /* ISO week: Monday 00:00 to the next Monday 00:00 */
    CLX_PERIOD_MONTH, /* the calendar month */
    CLX_PERIOD_COUNT_
} clx_period_t;

/* A half-open interval of Unix milliseconds [start_ms, end_ms). */
typedef struct clx_span {
    int64_t start_ms;
    int64_t end_ms;
} clx_span_t;

/* "day", "week", "month" -> *out. CLX_OK or CLX_EINVAL. */
int clx_period_parse(const char *s, clx_period_t *out);
/* The name clx_period_parse accepts; "?" outside the enum. Static. */
const char *clx_period_name(clx_period_t p);

/*
 * The period of kind p that contains instant at_ms, in zone tz: it starts at the first
 * instant of its first local day (local midnight, or the end of a DST gap that swallows
 * midnight) and ends where the next period starts. A local day is therefore 23, 24 or 25
 * hours long (or another length in zones with unusual shifts). CLX_OK, or CLX_EINVAL for p
 * outside the enum.
 */
int clx_period_bounds(const clx_tz_t *tz, clx_period_t p, int64_t at_ms, clx_span_t *out);

/*
 * Forecast of the spend at the period's end from the period-to-date rate:
 *
 *     forecast = spent x (end - start) / (now - start)      (rounded half up, in nanos)
 *
 * i.e. the spend so far continued at the same average rate over the whole period, in real
 * elapsed time (a 25-hour day has 25 hours of spending). now_ms is clamped to the period:
 * at or after its end the forecast is the spend; at its start (nothing elapsed) there is no
 * rate yet and the forecast is the spend too. Saturates at INT64_MAX. spent < 0 is treated as 0.
 */
int64_t clx_budget_forecast(int64_t spent_nanos, const clx_span_t *period, int64_t now_ms);

/* Default thresholds in basis points of the amount (50 %, 80 %, 100 %). */
#define CLX_BUDGET_DEFAULT_THRESHOLDS {5000, 8000, 10000}
#define CLX_BUDGET_MAX_THRESHOLDS 16
#define CLX_BUDGET_MAX_THRESHOLD_BP 100000 /* 1000 % */

/*
 * Which thresholds spend S has reached against amount A: bit i is set iff
 * S x 10,000 >= A x bp[i] (exact, in 128-bit integers: S = 4,000,000,000 nanos reaches 80 %
 * of A = 5,000,000,000 and not 80.01 %). Returns the bit set; 0 when amount <= 0 or n == 0.
 * n is at most CLX_BUDGET_MAX_THRESHOLDS (entries beyond are ignored).
 */
uint32_t clx_budget_crossed(int64_t spent_nanos, int64_t amount_nanos, const uint32_t *bp, size_t n);

/*
 * Checks a threshold list from an admin: 1..CLX_BUDGET_MAX_THRESHOLDS entries, each
 * 1..CLX_BUDGET_MAX_THRESHOLD_BP, strictly ascending. CLX_OK or CLX_EINVAL.
 */
int clx_budget_thresholds_valid(const uint32_t *bp, size_t n);

/* Spend as basis points of the amount, rounded down (S x 10,000 / A); 0 when A <= 0; saturates. */
int64_t clx_budget_percent_bp(int64_t spent_nanos, int64_t amount_nanos);

#endif
