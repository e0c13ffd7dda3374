/*
 * clx_rollup_counts.h — the counters of a rollup: what a set of events adds up to (events,
 * tokens, cost, first and last seen). The rollups family stores them (storage/clx_rollup.h
 * encodes them), the queries add them up, the doors render them; none of those needs more
 * than this value type to do so.
 *
 * Sums are 128-bit (clx_i128_t): every per-event value is an int64, and no store holds more
 * than 2^64 events (sequence numbers are 64-bit), so a sum stays below 2^127 — exact for any
 * accepted input, however many events are sent. first_ms / last_ms are times (0: none yet).
 */
#ifndef CLX_ROLLUP_COUNTS_H
#define CLX_ROLLUP_COUNTS_H

#include <stdint.h>

#include "clx_money.h" /* clx_i128_t */

typedef struct clx_rollup {
    clx_i128_t events;
    clx_i128_t input_tokens;
    clx_i128_t output_tokens;
    clx_i128_t cached_tokens;
    clx_i128_t cache_write_tokens;
    clx_i128_t cost_nanos;
    int64_t first_ms; /* min */
    int64_t last_ms;  /* max */
} clx_rollup_t;

/* a += b, field-wise (sums; first = min; last = max). Cannot overflow (see above). */
static inline void clx_rollup_add(clx_rollup_t *a, const clx_rollup_t *b)
{
    a->events += b->events;
    a->input_tokens += b->input_tokens;
    a->output_tokens += b->output_tokens;
    a->cached_tokens += b->cached_tokens;
    a->cache_write_tokens += b->cache_write_tokens;
    a->cost_nanos += b->cost_nanos;
    if (b->first_ms != 0 && (a->first_ms == 0 || b->first_ms < a->first_ms))
        a->first_ms = b->first_ms;
    if (b->last_ms > a->last_ms)
        a->last_ms = b->last_ms;
}

#endif
