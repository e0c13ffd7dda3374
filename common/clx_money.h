/*
 * clx_money.h — exact money: US dollars as integer nano-dollars (1 USD = 10^9 nanos).
 *
 * No binary floating point touches a stored cost or a sum. Prices are kept as integer
 * pico-dollars per token (= micro-dollars per million tokens), so tokens x price is exact;
 * an event's cost is rounded once, half up, from pico- to nano-dollars.
 */
#ifndef CLX_MONEY_H
#define CLX_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define CLX_NANOS_PER_USD 1000000000LL

/*
 * A 128-bit signed integer, for sums: a sum of int64 values over at most 2^64 terms (more
 * events than sequence numbers exist) stays below 2^127, so no sum of stored values can
 * overflow it — however many events anyone sends.
 */
typedef __int128 clx_i128_t;

/* Bytes clx_i128_format and clx_money_format_usd_wide may write, NUL included. */
#define CLX_I128_BUF 48

/* Writes v in decimal ("-12", "0", up to 40 digits and a sign). buf >= CLX_I128_BUF. Returns the length. */
size_t clx_i128_format(clx_i128_t v, char *buf);

/*
 * Parses a non-negative decimal number in JSON syntax ("0.0017", "12", "1.5e-7", "2E3")
 * as US dollars into nano-dollars, rounding half up beyond the 9th decimal.
 * Returns CLX_OK, or CLX_EINVAL for a negative number, bad syntax, or a value over
 * 9,000,000,000 USD. s need not be NUL-terminated.
 */
int clx_money_parse_usd(const char *s, size_t len, int64_t *nanos);

/*
 * Parses a non-negative decimal number of US dollars per MILLION tokens ("2.00", "0.075")
 * into pico-dollars per token (exact up to 6 decimals; more decimals -> CLX_EINVAL).
 */
int clx_money_parse_per_mtok(const char *s, size_t len, int64_t *pico_per_token);

/*
 * Writes nanos as a plain decimal dollar string without exponent and without trailing
 * zeros ("0.0017", "2", "0", "-0.5"). buf needs 32 bytes. Returns the length.
 */
size_t clx_money_format_usd(int64_t nanos, char *buf);
/* The same for a 128-bit amount of nano-dollars (a sum). buf >= CLX_I128_BUF. */
size_t clx_money_format_usd_wide(clx_i128_t nanos, char *buf);

/* Writes pico-dollars per token as dollars per million tokens ("2", "0.075"). buf >= 32. */
size_t clx_money_format_per_mtok(int64_t pico_per_token, char *buf);

/* tokens x pico-per-token, rounded half up to nano-dollars; saturates at INT64_MAX. */
int64_t clx_money_cost_nanos(int64_t tokens, int64_t pico_per_token);

/* A pico-dollar amount rounded half up to nano-dollars; saturates to the int64 range. */
int64_t clx_money_pico_to_nanos(__int128 pico);

/*
 * pct percent of a pico-dollar amount (pico x pct / 100), rounded half up to nano-dollars
 * in one step: floor((pico x pct + 50,000) / 100,000). Nothing is rounded before the
 * percentage is taken, so 50% of an odd pico amount stays exact (1001 pico -> 500.5 pico
 * -> 1 nano; 999 pico -> 499.5 pico -> 0 nanos). pct is clamped to 0..100; saturates to
 * the int64 range.
 */
int64_t clx_money_pico_pct_to_nanos(__int128 pico, int pct);

#endif
