/*
 * test_money.c — unit tests for clx_money: decimal parsing, rounding, formatting and
 * exact cost arithmetic in nano- and pico-dollars.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_money.h"

typedef struct parse_case {
    const char *in;
    int rc;
    int64_t out;
} parse_case_t;

static void run_parse_usd(const parse_case_t *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int64_t v = -12345;
        int rc = clx_money_parse_usd(cases[i].in, strlen(cases[i].in), &v);

        if (rc != cases[i].rc || (rc == CLX_OK && v != cases[i].out))
            fail_msg("parse_usd(\"%s\"): rc %d value %lld, want rc %d value %lld", cases[i].in, rc, (long long)v,
                     cases[i].rc, (long long)cases[i].out);
        if (rc != CLX_OK && v != -12345)
            fail_msg("parse_usd(\"%s\") wrote its output on failure", cases[i].in);
    }
}

static void test_parse_usd_valid(void **state)
{
    static const parse_case_t cases[] = {
        {"0", CLX_OK, 0},
        {"0.0", CLX_OK, 0},
        {"12", CLX_OK, 12000000000LL},
        {"0.0017", CLX_OK, 1700000},
        {"1.5e-7", CLX_OK, 150},
        {"1.5E-7", CLX_OK, 150},
        {"2E3", CLX_OK, 2000000000000LL},
        {"2e+3", CLX_OK, 2000000000000LL},
        {"1E-09", CLX_OK, 1},
        {"100e-2", CLX_OK, 1000000000},
        {"0.1e1", CLX_OK, 1000000000},
        {"123.000000001", CLX_OK, 123000000001LL},
        {"0.000000001", CLX_OK, 1},
        {"0.0003195", CLX_OK, 319500},
        {"1e00000000000000000000009", CLX_OK, 1000000000000000000LL},
        {"0e400", CLX_OK, 0},
        {"0.000e-5", CLX_OK, 0},
        {"9000000000", CLX_OK, 9000000000000000000LL},
        {"9e9", CLX_OK, 9000000000000000000LL},
        {"9000000000.0000000004", CLX_OK, 9000000000000000000LL},
        {"8999999999.999999999", CLX_OK, 8999999999999999999LL},
        {"123456789012345678901234567890e-20", CLX_OK, 1234567890123456789LL},
    };

    (void)state;
    run_parse_usd(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_usd_rounding(void **state)
{
    static const parse_case_t cases[] = {
        {"0.000000000500", CLX_OK, 1}, /* exactly half a nano rounds up */
        {"0.0000000005", CLX_OK, 1},
        {"5e-10", CLX_OK, 1},
        {"0.0000000004999999999", CLX_OK, 0},
        {"4.99e-10", CLX_OK, 0},
        {"0.00000000049", CLX_OK, 0},
        {"0.0000000014", CLX_OK, 1},
        {"0.0000000015", CLX_OK, 2},
        {"0.0000000025", CLX_OK, 3}, /* half up, not half even */
        {"1.0000000005", CLX_OK, 1000000001},
        {"1.00000000049999", CLX_OK, 1000000000},
        {"0.00000000005", CLX_OK, 0}, /* 0.05 nano */
        {"1e-400", CLX_OK, 0},
        {"1e-99999999999999999999", CLX_OK, 0},
        {"8999999999.9999999994", CLX_OK, 8999999999999999999LL},
        {"8999999999.9999999995", CLX_OK, 9000000000000000000LL},
        {"0.0017e0", CLX_OK, 1700000},
    };

    (void)state;
    run_parse_usd(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_usd_rejects(void **state)
{
    static const parse_case_t cases[] = {
        {"", CLX_EINVAL, 0},
        {"-1", CLX_EINVAL, 0},
        {"-0", CLX_EINVAL, 0},
        {"-0.0017", CLX_EINVAL, 0},
        {"+1", CLX_EINVAL, 0},
        {"01", CLX_EINVAL, 0},
        {"00", CLX_EINVAL, 0},
        {"00.5", CLX_EINVAL, 0},
        {".5", CLX_EINVAL, 0},
        {"1.", CLX_EINVAL, 0},
        {"1.e5", CLX_EINVAL, 0},
        {"1e", CLX_EINVAL, 0},
        {"1e+", CLX_EINVAL, 0},
        {"1e-", CLX_EINVAL, 0},
        {"e5", CLX_EINVAL, 0},
        {"NaN", CLX_EINVAL, 0},
        {"nan", CLX_EINVAL, 0},
        {"Infinity", CLX_EINVAL, 0},
        {"inf", CLX_EINVAL, 0},
        {" 1", CLX_EINVAL, 0},
        {"1 ", CLX_EINVAL, 0},
        {"1,5", CLX_EINVAL, 0},
        {"0x10", CLX_EINVAL, 0},
        {"12a", CLX_EINVAL, 0},
        {"1..2", CLX_EINVAL, 0},
        {"1e5.5", CLX_EINVAL, 0},
        {"--1", CLX_EINVAL, 0},
        {"1e1e1", CLX_EINVAL, 0},
        {"9000000001", CLX_EINVAL, 0},
        {"1e10", CLX_EINVAL, 0},
        {"1e400", CLX_EINVAL, 0},
        {"1e99999999999999999999", CLX_EINVAL, 0},
        {"9000000000.000000001", CLX_EINVAL, 0},
        {"9000000000.0000000005", CLX_EINVAL, 0}, /* rounds above the limit */
        {"99999999999999999999999", CLX_EINVAL, 0},
        {"18446744073709551616", CLX_EINVAL, 0},
    };

    (void)state;
    run_parse_usd(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Digit strings far longer than any integer type. */
static void test_parse_usd_long_strings(void **state)
{
    char buf[4096];
    int64_t v = 0;
    size_t n;

    (void)state;
    /* "1." + 2000 zeros + "1": one dollar plus far less than half a nano */
    n = (size_t)snprintf(buf, sizeof(buf), "1.");
    memset(buf + n, '0', 2000);
    n += 2000;
    buf[n++] = '1';
    assert_int_equal(clx_money_parse_usd(buf, n, &v), CLX_OK);
    assert_int_equal(v, 1000000000);

    /* 0.000000001 9999...: rounds up to 2 nanos */
    n = (size_t)snprintf(buf, sizeof(buf), "0.0000000019");
    memset(buf + n, '9', 3000);
    n += 3000;
    assert_int_equal(clx_money_parse_usd(buf, n, &v), CLX_OK);
    assert_int_equal(v, 2);

    /* 0.0000000004999...9: stays below the half */
    n = (size_t)snprintf(buf, sizeof(buf), "0.0000000004");
    memset(buf + n, '9', 3000);
    n += 3000;
    assert_int_equal(clx_money_parse_usd(buf, n, &v), CLX_OK);
    assert_int_equal(v, 0);

    /* 3000 integer digits, scaled back with an exponent: 7 USD */
    buf[0] = '7';
    memset(buf + 1, '0', 2999);
    n = 3000;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "e-2999");
    assert_int_equal(clx_money_parse_usd(buf, n, &v), CLX_OK);
    assert_int_equal(v, 7000000000LL);

    /* the same without the exponent is far too large */
    assert_int_equal(clx_money_parse_usd(buf, 3000, &v), CLX_EINVAL);
}

/* s need not be NUL-terminated: only len bytes are read. */
static void test_parse_usd_length(void **state)
{
    const char text[] = "12.345xyz";
    int64_t v = 0;

    (void)state;
    assert_int_equal(clx_money_parse_usd(text, 2, &v), CLX_OK);
    assert_int_equal(v, 12000000000LL);
    assert_int_equal(clx_money_parse_usd(text, 6, &v), CLX_OK);
    assert_int_equal(v, 12345000000LL);
    assert_int_equal(clx_money_parse_usd(text, 7, &v), CLX_EINVAL);
    assert_int_equal(clx_money_parse_usd(text, 3, &v), CLX_EINVAL); /* "12." */
    assert_int_equal(clx_money_parse_usd(NULL, 0, &v), CLX_EINVAL);
}

static void test_parse_per_mtok(void **state)
{
    static const parse_case_t cases[] = {
        {"2.50", CLX_OK, 2500000},
        {"2.00", CLX_OK, 2000000},
        {"2", CLX_OK, 2000000},
        {"0.075", CLX_OK, 75000},
        {"0.01875", CLX_OK, 18750},
        {"0.3125", CLX_OK, 312500},
        {"3.125e-1", CLX_OK, 312500},
        {"0.000001", CLX_OK, 1},
        {"1e-6", CLX_OK, 1},
        {"0.0000010", CLX_OK, 1}, /* trailing zeros beyond 6 decimals are exact */
        {"150", CLX_OK, 150000000},
        {"0", CLX_OK, 0},
        {"0.00", CLX_OK, 0},
        {"1000000", CLX_OK, 1000000000000LL},
        {"0.0000001", CLX_EINVAL, 0}, /* not a whole pico-dollar per token */
        {"1.5e-6", CLX_EINVAL, 0},
        {"2.5000005", CLX_EINVAL, 0},
        {"1000000.000001", CLX_EINVAL, 0},
        {"1e7", CLX_EINVAL, 0},
        {"", CLX_EINVAL, 0},
        {"-1", CLX_EINVAL, 0},
        {"+2", CLX_EINVAL, 0},
        {".5", CLX_EINVAL, 0},
        {"2.", CLX_EINVAL, 0},
        {"02.50", CLX_EINVAL, 0},
        {"2,50", CLX_EINVAL, 0},
        {"$2", CLX_EINVAL, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -7;
        int rc = clx_money_parse_per_mtok(cases[i].in, strlen(cases[i].in), &v);

        if (rc != cases[i].rc || (rc == CLX_OK && v != cases[i].out))
            fail_msg("parse_per_mtok(\"%s\"): rc %d value %lld, want rc %d value %lld", cases[i].in, rc, (long long)v,
                     cases[i].rc, (long long)cases[i].out);
    }
}

typedef struct format_case {
    int64_t v;
    const char *want;
} format_case_t;

static void test_format_usd(void **state)
{
    static const format_case_t cases[] = {
        {0, "0"},
        {1700000, "0.0017"},
        {2000000000LL, "2"},
        {123000000001LL, "123.000000001"},
        {-500000000LL, "-0.5"},
        {1, "0.000000001"},
        {-1, "-0.000000001"},
        {319500, "0.0003195"},
        {1000000000LL, "1"},
        {1100000000LL, "1.1"},
        {9000000000000000000LL, "9000000000"},
        {INT64_MAX, "9223372036.854775807"},
        {INT64_MIN, "-9223372036.854775808"},
    };
    char buf[32];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = clx_money_format_usd(cases[i].v, buf);

        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

/* 128-bit sums render exactly, the extremes included. */
static void test_format_wide(void **state)
{
    char buf[CLX_I128_BUF];
    const clx_i128_t max = (clx_i128_t)(((unsigned __int128)1 << 127) - 1);
    const clx_i128_t min = -max - 1;
    static const struct {
        int which; /* 0: integer, 1: dollars */
        const char *want;
    } fixed[] = {
        {0, "170141183460469231731687303715884105727"},
        {0, "-170141183460469231731687303715884105728"},
        {1, "170141183460469231731687303715.884105727"},
        {1, "-170141183460469231731687303715.884105728"},
    };
    clx_i128_t vals[] = {max, min, max, min};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        size_t n = fixed[i].which ? clx_money_format_usd_wide(vals[i], buf) : clx_i128_format(vals[i], buf);
        assert_string_equal(buf, fixed[i].want);
        assert_int_equal(n, strlen(fixed[i].want));
        assert_true(n < CLX_I128_BUF);
    }
    assert_int_equal(clx_i128_format(0, buf), 1);
    assert_string_equal(buf, "0");
    /* the overflow of issue 16: two int64-max costs, and 10,000 events at the $1,000,000 limit */
    clx_money_format_usd_wide((clx_i128_t)INT64_MAX * 2, buf);
    assert_string_equal(buf, "18446744073.709551614");
    clx_money_format_usd_wide((clx_i128_t)10000 * 1000000000000000LL, buf);
    assert_string_equal(buf, "10000000000");
    /* 2^64 events (more than a store can hold) at the limit, and 1 nano more */
    clx_i128_t many = ((clx_i128_t)1 << 64) * 1000000000000000LL;
    clx_money_format_usd_wide(many + 1, buf);
    assert_string_equal(buf, "18446744073709551616000000.000000001");
    clx_i128_format((clx_i128_t)INT64_MAX * 4 + 3, buf);
    assert_string_equal(buf, "36893488147419103231");
    /* the int64 formatter agrees with the wide one on every int64 */
    char narrow[32];
    int64_t some[] = {0, 1, -1, 999999999, 1000000000, INT64_MAX, INT64_MIN, 1234567890123456789LL};
    for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++) {
        clx_money_format_usd(some[i], narrow);
        clx_money_format_usd_wide(some[i], buf);
        assert_string_equal(buf, narrow);
    }
}

static void test_format_per_mtok(void **state)
{
    static const format_case_t cases[] = {
        {2000000, "2"},  {75000, "0.075"},  {2500000, "2.5"},   {0, "0"},
        {1, "0.000001"}, {-1, "-0.000001"}, {18750, "0.01875"}, {150000000, "150"},
    };
    char buf[32];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = clx_money_format_per_mtok(cases[i].v, buf);

        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

/* format then parse returns the same non-negative amount. */
static void test_round_trip(void **state)
{
    static const int64_t vals[] = {0,
                                   1,
                                   9,
                                   10,
                                   999999999,
                                   1000000000,
                                   1000000001,
                                   123456789012345678LL,
                                   319500,
                                   8999999999999999999LL,
                                   9000000000000000000LL};
    char buf[32];
    size_t i;
    uint64_t x = 88172645463325252ULL;

    (void)state;
    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int64_t back = -1;
        size_t n = clx_money_format_usd(vals[i], buf);

        assert_int_equal(clx_money_parse_usd(buf, n, &back), CLX_OK);
        assert_int_equal(back, vals[i]);
    }
    for (i = 0; i < 10000; i++) { /* xorshift values below the limit */
        int64_t v, back = -1;
        size_t n;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = (int64_t)(x % 9000000000000000001ULL) >> (i % 60);
        n = clx_money_format_usd(v, buf);
        assert_int_equal(clx_money_parse_usd(buf, n, &back), CLX_OK);
        assert_int_equal(back, v);
        n = clx_money_format_per_mtok(v % 1000000000001LL, buf);
        assert_int_equal(clx_money_parse_per_mtok(buf, n, &back), CLX_OK);
        assert_int_equal(back, v % 1000000000001LL);
    }
}

static void test_cost_nanos(void **state)
{
    (void)state;
    /* gpt-4o-mini: 850 in at $0.15/Mtok + 320 out at $0.60/Mtok = $0.0003195 */
    assert_int_equal(clx_money_cost_nanos(850, 150000), 127500);
    assert_int_equal(clx_money_cost_nanos(320, 600000), 192000);
    assert_int_equal(clx_money_pico_to_nanos((__int128)850 * 150000 + (__int128)320 * 600000), 319500);

    assert_int_equal(clx_money_cost_nanos(0, 2500000), 0);
    assert_int_equal(clx_money_cost_nanos(1000000, 2500000), 2500000000LL); /* 1 Mtok at $2.50 */
    assert_int_equal(clx_money_cost_nanos(1, 499), 0);
    assert_int_equal(clx_money_cost_nanos(1, 500), 1); /* half up */
    assert_int_equal(clx_money_cost_nanos(1, 1499), 1);
    assert_int_equal(clx_money_cost_nanos(1, 1500), 2);
    assert_int_equal(clx_money_cost_nanos(3, 500), 2);    /* 1.5 nanos */
    assert_int_equal(clx_money_cost_nanos(1, 18750), 19); /* 18.75 nanos */
    /* exact: no drift over many tokens at a price of 0.000001 USD/Mtok */
    assert_int_equal(clx_money_cost_nanos(999999999999LL, 1), 1000000000);
    /* saturation */
    assert_int_equal(clx_money_cost_nanos(INT64_MAX, 1000000000000LL), INT64_MAX);
    assert_int_equal(clx_money_cost_nanos(INT64_MAX, INT64_MAX), INT64_MAX);
    assert_int_equal(clx_money_cost_nanos(INT64_MIN, INT64_MAX), INT64_MIN);
    /* negatives round half up too (toward +infinity) */
    assert_int_equal(clx_money_cost_nanos(-1, 500), 0);
    assert_int_equal(clx_money_cost_nanos(-1, 501), -1);
    assert_int_equal(clx_money_cost_nanos(-3, 1000), -3);
}

static void test_pico_to_nanos(void **state)
{
    (void)state;
    /* one rounding of the sum, not per part: 500 + 500 pico = 1 nano (2 if rounded apart) */
    assert_int_equal(clx_money_pico_to_nanos(500 + 500), 1);
    assert_int_equal(clx_money_pico_to_nanos(0), 0);
    assert_int_equal(clx_money_pico_to_nanos(499), 0);
    assert_int_equal(clx_money_pico_to_nanos(500), 1);
    assert_int_equal(clx_money_pico_to_nanos(-500), 0);
    assert_int_equal(clx_money_pico_to_nanos(-501), -1);
    assert_int_equal(clx_money_pico_to_nanos((__int128)INT64_MAX * 1000), INT64_MAX);
    assert_int_equal(clx_money_pico_to_nanos((__int128)INT64_MAX * 1000 + 499), INT64_MAX);
    assert_int_equal(clx_money_pico_to_nanos((__int128)INT64_MAX * 1000 + 500), INT64_MAX); /* saturated */
    assert_int_equal(clx_money_pico_to_nanos((__int128)INT64_MAX * INT64_MAX), INT64_MAX);
    assert_int_equal(clx_money_pico_to_nanos(-(__int128)INT64_MAX * INT64_MAX), INT64_MIN);
}

/* A percentage of an exact pico sum, rounded once: the batch discount. */
static void test_pico_pct_to_nanos(void **state)
{
    (void)state;
    assert_int_equal(clx_money_pico_pct_to_nanos(319500000, 100), 319500);
    assert_int_equal(clx_money_pico_pct_to_nanos(319500000, 50), 159750);
    assert_int_equal(clx_money_pico_pct_to_nanos(12345, 0), 0);
    /* 50% of an odd pico amount: 1001 -> 500.5 pico -> 1 nano; 999 -> 499.5 pico -> 0 */
    assert_int_equal(clx_money_pico_pct_to_nanos(1001, 50), 1);
    assert_int_equal(clx_money_pico_pct_to_nanos(999, 50), 0);
    /* rounding first and halving after would give 1 for 999 pico (1 nano / 2 -> 0.5 -> 1) */
    assert_int_equal(clx_money_pico_pct_to_nanos(1000, 50), 1);  /* exactly 0.5 nano: half up */
    assert_int_equal(clx_money_pico_pct_to_nanos(18750, 50), 9); /* 9.375 nanos (19 / 2 would be 10) */
    assert_int_equal(clx_money_pico_pct_to_nanos(3, 50), 0);
    assert_int_equal(clx_money_pico_pct_to_nanos(2999, 50), 1); /* 1.4995 */
    assert_int_equal(clx_money_pico_pct_to_nanos(3000, 50), 2); /* 1.5 */
    assert_int_equal(clx_money_pico_pct_to_nanos(1000, 25), 0); /* 0.25 */
    assert_int_equal(clx_money_pico_pct_to_nanos(2000, 25), 1); /* 0.5 */
    assert_int_equal(clx_money_pico_pct_to_nanos(3333, 30), 1); /* 0.9999 */
    /* same as pico_to_nanos at 100%, negatives included */
    assert_int_equal(clx_money_pico_pct_to_nanos(-500, 100), 0);
    assert_int_equal(clx_money_pico_pct_to_nanos(-501, 100), -1);
    assert_int_equal(clx_money_pico_pct_to_nanos(-999, 50), 0);   /* -0.4995 -> 0 */
    assert_int_equal(clx_money_pico_pct_to_nanos(-1000, 50), 0);  /* -0.5 -> 0 (half up) */
    assert_int_equal(clx_money_pico_pct_to_nanos(-1001, 50), -1); /* -0.5005 -> -1 */
    /* pct outside 0..100 is clamped */
    assert_int_equal(clx_money_pico_pct_to_nanos(1000000, 150), 1000);
    assert_int_equal(clx_money_pico_pct_to_nanos(1000000, -5), 0);
    /* no overflow, saturation */
    assert_int_equal(clx_money_pico_pct_to_nanos((__int128)INT64_MAX * 1000, 50), INT64_MAX / 2 + 1);
    assert_int_equal(clx_money_pico_pct_to_nanos((__int128)INT64_MAX * INT64_MAX, 100), INT64_MAX);
    assert_int_equal(clx_money_pico_pct_to_nanos((__int128)INT64_MAX * INT64_MAX * 2, 50), INT64_MAX);
    assert_int_equal(clx_money_pico_pct_to_nanos(-(__int128)INT64_MAX * INT64_MAX * 2, 50), INT64_MIN);
    assert_int_equal(clx_money_pico_pct_to_nanos((__int128)INT64_MAX * INT64_MAX * 2, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_usd_valid),   cmocka_unit_test(test_parse_usd_rounding),
        cmocka_unit_test(test_parse_usd_rejects), cmocka_unit_test(test_parse_usd_long_strings),
        cmocka_unit_test(test_parse_usd_length),  cmocka_unit_test(test_parse_per_mtok),
        cmocka_unit_test(test_format_usd),        cmocka_unit_test(test_format_per_mtok),
        cmocka_unit_test(test_format_wide),       cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_cost_nanos),        cmocka_unit_test(test_pico_to_nanos),
        cmocka_unit_test(test_pico_pct_to_nanos),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
