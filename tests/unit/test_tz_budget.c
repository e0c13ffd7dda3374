/*
 * test_tz_budget.c — services/governance tz.c and budget.c: TZif zones against glibc as an
 * oracle, period boundaries across DST (days of 23 and 25 hours, a gap and an overlap at
 * midnight), the forecast formula and exact threshold crossings.
 */
#include "clx_test.h"

#include <pthread.h>
#include <time.h>

#include "clx_budget.h"
#include "clx_error.h"
#include "clx_tz.h"

#define H 3600000LL /* one hour in ms */

/* Unix ms of a UTC date-time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi)
{
    return (clx_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

static clx_tz_t *load(const char *name)
{
    clx_tz_t *tz = NULL;
    int rc = clx_tz_load(name, &tz);
    if (rc != CLX_OK)
        fail_msg("clx_tz_load(%s) = %d (is tzdata installed? scripts/deps.sh installs it)", name, rc);
    return tz;
}

static void expect_span(const clx_tz_t *tz, clx_period_t p, int64_t at, int64_t start, int64_t end)
{
    clx_span_t s;
    assert_int_equal(clx_period_bounds(tz, p, at, &s), CLX_OK);
    if (s.start_ms != start || s.end_ms != end)
        fail_msg("%s %s at %lld: got [%lld, %lld) want [%lld, %lld)", clx_tz_name(tz), clx_period_name(p),
                 (long long)at, (long long)s.start_ms, (long long)s.end_ms, (long long)start, (long long)end);
}

static void test_civil_days(void **state)
{
    int y, m, d;
    assert_int_equal(clx_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(clx_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(clx_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(clx_days_from_civil(2026, 13, 1), clx_days_from_civil(2027, 1, 1)); /* month overflow */
    assert_int_equal(clx_days_from_civil(2024, 2, 30), clx_days_from_civil(2024, 3, 1)); /* leap year */
    assert_int_equal(clx_days_from_civil(2026, 0, 1), clx_days_from_civil(2025, 12, 1));
    for (int64_t days = -800000; days < 800000; days += 997) {
        clx_civil_from_days(days, &y, &m, &d);
        assert_int_equal(clx_days_from_civil(y, m, d), days);
    }
}

/* glibc reads the same files: its offsets are the oracle (single-threaded, so setenv is fine here) */
static void test_offsets_match_glibc(void **state)
{
    static const char *zones[] = {"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham",
                                  "America/Sao_Paulo", "Australia/Lord_Howe", "Africa/Casablanca",
                                  "America/St_Johns", "Asia/Kathmandu", "Europe/Dublin", "UTC"};
    uint64_t x = 88172645463325252ULL;

    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        clx_tz_t *tz = load(zones[z]);
        setenv("TZ", zones[z], 1);
        tzset();
        for (int i = 0; i < 3000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* 1901 .. 2099: both before the first transition and far past the table (footer rule) */
            int64_t t = -2145916800LL + (int64_t)(x % 6311390400ULL);
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            clx_civil_t c;
            clx_tz_civil(tz, t, &c);
            if (c.offset != tm.tm_gmtoff || c.hour != tm.tm_hour || c.day != tm.tm_mday || c.weekday != tm.tm_wday)
                fail_msg("%s at %lld: offset %d hour %d, glibc %ld hour %d", zones[z], (long long)t, c.offset,
                         c.hour, tm.tm_gmtoff, tm.tm_hour);
        }
        clx_tz_destroy(tz);
    }
    unsetenv("TZ");
    tzset();
}

static void test_bad_names(void **state)
{
    clx_tz_t *tz = (clx_tz_t *)1;
    assert_int_equal(clx_tz_load("../../etc/passwd", &tz), CLX_EINVAL);
    assert_null(tz);
    assert_int_equal(clx_tz_load("", &tz), CLX_EINVAL);
    assert_int_equal(clx_tz_load("/etc/localtime", &tz), CLX_EINVAL);
    assert_int_equal(clx_tz_load("Europe/Berlin ", &tz), CLX_EINVAL);
    assert_int_equal(clx_tz_load("Europe", &tz), CLX_ENOTFOUND); /* a directory */
    assert_int_equal(clx_tz_load("Mars/Olympus_Mons", &tz), CLX_ENOTFOUND);
    assert_int_equal(clx_tz_load_dir("/nonexistent", "Europe/Berlin", &tz), CLX_ENOTFOUND);
    /* UTC needs no file at all */
    assert_int_equal(clx_tz_load_dir("/nonexistent", "UTC", &tz), CLX_OK);
    assert_ptr_equal(tz, clx_tz_utc());
    clx_tz_destroy(tz); /* a no-op */
    assert_int_equal(clx_tz_offset(clx_tz_utc(), 1700000000), 0);
}

static void test_corrupt_files(void **state)
{
    clx_tz_t *tz = NULL;
    FILE *f = fopen(CLX_TZ_DEFAULT_DIR "/Europe/Berlin", "rb");
    assert_non_null(f);
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(n > 100);

    assert_int_equal(clx_tz_parse("x", "not a zone file at all, no magic here......", 44, &tz), CLX_ECORRUPT);
    for (size_t cut = 0; cut < n; cut += 7) /* every truncation is refused, none crashes */
        assert_int_equal(clx_tz_parse("x", buf, cut, &tz), CLX_ECORRUPT);
    assert_null(tz);
    unsigned char bad[8192];
    memcpy(bad, buf, n);
    bad[n - 3] = '!'; /* footer "CET-1CEST,M3.5.0,M10.5.0/3" broken */
    assert_int_equal(clx_tz_parse("x", bad, n, &tz), CLX_ECORRUPT);
    assert_int_equal(clx_tz_parse("x", buf, n, &tz), CLX_OK);
    clx_tz_destroy(tz);
}

static void test_days_of_23_and_25_hours(void **state)
{
    clx_tz_t *berlin = load("Europe/Berlin"), *ny = load("America/New_York"), *kolkata = load("Asia/Kolkata"),
             *chatham = load("Pacific/Chatham");

    /* Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (23 h); 2026-10-25 03:00 CEST -> 02:00 CET (25 h) */
    expect_span(berlin, CLX_PERIOD_DAY, utc_ms(2026, 3, 29, 12, 0), utc_ms(2026, 3, 28, 23, 0),
                utc_ms(2026, 3, 29, 22, 0));
    expect_span(berlin, CLX_PERIOD_DAY, utc_ms(2026, 10, 25, 0, 30), utc_ms(2026, 10, 24, 22, 0),
                utc_ms(2026, 10, 25, 23, 0));
    /* the repeated hour 02:00-03:00 local: both passes are the same day */
    expect_span(berlin, CLX_PERIOD_DAY, utc_ms(2026, 10, 25, 1, 30), utc_ms(2026, 10, 24, 22, 0),
                utc_ms(2026, 10, 25, 23, 0));
    /* New York: 2026-03-08 (23 h) and 2026-11-01 (25 h) */
    expect_span(ny, CLX_PERIOD_DAY, utc_ms(2026, 3, 8, 12, 0), utc_ms(2026, 3, 8, 5, 0), utc_ms(2026, 3, 9, 4, 0));
    expect_span(ny, CLX_PERIOD_DAY, utc_ms(2026, 11, 1, 12, 0), utc_ms(2026, 11, 1, 4, 0),
                utc_ms(2026, 11, 2, 5, 0));
    /* Kolkata: +05:30 all year, the day starts at 18:30 UTC the day before */
    expect_span(kolkata, CLX_PERIOD_DAY, utc_ms(2026, 6, 1, 18, 29), utc_ms(2026, 5, 31, 18, 30),
                utc_ms(2026, 6, 1, 18, 30));
    expect_span(kolkata, CLX_PERIOD_DAY, utc_ms(2026, 6, 1, 18, 30), utc_ms(2026, 6, 1, 18, 30),
                utc_ms(2026, 6, 2, 18, 30));
    /* Chatham: +12:45 / +13:45; DST from 2026-09-27 02:45 local (23 h), to 2026-04-05 03:45 (25 h) */
    expect_span(chatham, CLX_PERIOD_DAY, utc_ms(2026, 9, 27, 0, 0), utc_ms(2026, 9, 26, 11, 15),
                utc_ms(2026, 9, 27, 10, 15));
    expect_span(chatham, CLX_PERIOD_DAY, utc_ms(2026, 4, 5, 0, 0), utc_ms(2026, 4, 4, 10, 15),
                utc_ms(2026, 4, 5, 11, 15));
    /* far past the file's table (2037): the footer rule; Berlin 2077-03-28 is a 23 h day */
    expect_span(berlin, CLX_PERIOD_DAY, utc_ms(2077, 3, 28, 12, 0), utc_ms(2077, 3, 27, 23, 0),
                utc_ms(2077, 3, 28, 22, 0));
    clx_tz_destroy(berlin);
    clx_tz_destroy(ny);
    clx_tz_destroy(kolkata);
    clx_tz_destroy(chatham);
}

static void test_midnight_gap_and_overlap(void **state)
{
    clx_tz_t *sp = load("America/Sao_Paulo");

    /* 2018-11-04 00:00 -03 -> 01:00 -02: midnight never happened, the day starts at 01:00 */
    expect_span(sp, CLX_PERIOD_DAY, utc_ms(2018, 11, 4, 12, 0), utc_ms(2018, 11, 4, 3, 0),
                utc_ms(2018, 11, 5, 2, 0));
    expect_span(sp, CLX_PERIOD_DAY, utc_ms(2018, 11, 3, 12, 0), utc_ms(2018, 11, 3, 3, 0),
                utc_ms(2018, 11, 4, 3, 0));
    /* 2019-02-16 24:00 -02 -> 23:00 -03: the clock shows 23:00-24:00 twice and reaches
     * midnight only once, after the repeat: the 16th is 25 hours long */
    expect_span(sp, CLX_PERIOD_DAY, utc_ms(2019, 2, 17, 1, 59), utc_ms(2019, 2, 16, 2, 0),
                utc_ms(2019, 2, 17, 3, 0));
    expect_span(sp, CLX_PERIOD_DAY, utc_ms(2019, 2, 17, 2, 30), utc_ms(2019, 2, 16, 2, 0),
                utc_ms(2019, 2, 17, 3, 0));
    expect_span(sp, CLX_PERIOD_DAY, utc_ms(2019, 2, 17, 3, 0), utc_ms(2019, 2, 17, 3, 0),
                utc_ms(2019, 2, 18, 3, 0));
    clx_tz_destroy(sp);
}

static size_t put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* A TZif v2 zone: +01:00, then from Unix time t on -01:00; footer as given ("" = none). */
static size_t synthetic_zone(unsigned char *buf, int64_t t, const char *footer)
{
    size_t n = 0;
    const uint32_t v1[6] = {0, 0, 0, 0, 1, 4}, v2[6] = {0, 0, 0, 1, 2, 8};

    memcpy(buf, "TZif2", 5), n = 5;
    memset(buf + n, 0, 15), n += 15;
    for (int i = 0; i < 6; i++)
        n += put32(buf + n, v1[i]);
    n += put32(buf + n, 3600), buf[n++] = 0, buf[n++] = 0; /* v1: one type */
    memcpy(buf + n, "AAA", 4), n += 4;
    memcpy(buf + n, "TZif2", 5), n += 5;
    memset(buf + n, 0, 15), n += 15;
    for (int i = 0; i < 6; i++)
        n += put32(buf + n, v2[i]);
    n += put32(buf + n, (uint32_t)((uint64_t)t >> 32));
    n += put32(buf + n, (uint32_t)t);
    buf[n++] = 1;
    n += put32(buf + n, 3600), buf[n++] = 0, buf[n++] = 0;
    n += put32(buf + n, (uint32_t)-3600), buf[n++] = 0, buf[n++] = 4;
    memcpy(buf + n, "AAA\0BBB", 8), n += 8;
    buf[n++] = '\n';
    memcpy(buf + n, footer, strlen(footer)), n += strlen(footer);
    buf[n++] = '\n';
    return n;
}

/* a fall-back across midnight (00:30 back to 22:30): the clock shows midnight twice; the
 * repeated late evening comes after the next day has started, so it belongs to that day */
static void test_fall_back_across_midnight(void **state)
{
    unsigned char buf[256];
    clx_tz_t *tz = NULL;
    int64_t d = clx_days_from_civil(2030, 1, 10);
    int64_t t = (d + 1) * 86400 + 1800 - 3600; /* local 00:30 of the 11th under +01:00 */

    assert_int_equal(clx_tz_parse("Test/Fold", buf, synthetic_zone(buf, t, ""), &tz), CLX_OK);
    assert_int_equal(clx_tz_offset(tz, t - 1), 3600);
    assert_int_equal(clx_tz_offset(tz, t), -3600);
    assert_int_equal(clx_tz_offset(tz, t + 400 * 86400LL), -3600); /* no footer: the last offset stays */
    expect_span(tz, CLX_PERIOD_DAY, (t - 7200) * 1000, (d * 86400 - 3600) * 1000, ((d + 1) * 86400 - 3600) * 1000);
    /* t + 600 reads 22:40 on the 10th, yet the 11th started 40 minutes earlier */
    expect_span(tz, CLX_PERIOD_DAY, (t + 600) * 1000, ((d + 1) * 86400 - 3600) * 1000,
                ((d + 2) * 86400 + 3600) * 1000);
    clx_tz_destroy(tz);
    /* the same file with a footer it cannot parse, or a type index out of range, is refused */
    size_t n = synthetic_zone(buf, t, "CET-1CEST,M3.5.0,M1O.5.0/3");
    assert_int_equal(clx_tz_parse("x", buf, n, &tz), CLX_ECORRUPT);
    n = synthetic_zone(buf, t, "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45");
    assert_int_equal(clx_tz_parse("x", buf, n, &tz), CLX_OK);
    clx_tz_destroy(tz);
}

static void test_weeks_and_months(void **state)
{
    clx_tz_t *berlin = load("Europe/Berlin");
    const clx_tz_t *utc = clx_tz_utc();

    /* 2026-03-15 is a Sunday: its ISO week began Monday the 9th */
    expect_span(utc, CLX_PERIOD_WEEK, utc_ms(2026, 3, 15, 23, 59), utc_ms(2026, 3, 9, 0, 0),
                utc_ms(2026, 3, 16, 0, 0));
    expect_span(utc, CLX_PERIOD_WEEK, utc_ms(2026, 3, 16, 0, 0), utc_ms(2026, 3, 16, 0, 0),
                utc_ms(2026, 3, 23, 0, 0));
    /* a week across the year end */
    expect_span(utc, CLX_PERIOD_WEEK, utc_ms(2027, 1, 1, 8, 0), utc_ms(2026, 12, 28, 0, 0),
                utc_ms(2027, 1, 4, 0, 0));
    expect_span(utc, CLX_PERIOD_MONTH, utc_ms(2024, 2, 29, 23, 0), utc_ms(2024, 2, 1, 0, 0),
                utc_ms(2024, 3, 1, 0, 0));
    expect_span(utc, CLX_PERIOD_MONTH, utc_ms(2026, 12, 31, 23, 59), utc_ms(2026, 12, 1, 0, 0),
                utc_ms(2027, 1, 1, 0, 0));
    expect_span(utc, CLX_PERIOD_DAY, -1, utc_ms(1969, 12, 31, 0, 0), 0); /* before the epoch */
    /* Berlin: the week with the spring change is 167 hours, March 743 hours */
    clx_span_t s;
    assert_int_equal(clx_period_bounds(berlin, CLX_PERIOD_WEEK, utc_ms(2026, 3, 29, 20, 0), &s), CLX_OK);
    assert_int_equal(s.start_ms, utc_ms(2026, 3, 22, 23, 0));
    assert_int_equal(s.end_ms - s.start_ms, 167 * H);
    assert_int_equal(clx_period_bounds(berlin, CLX_PERIOD_MONTH, utc_ms(2026, 3, 31, 21, 59), &s), CLX_OK);
    assert_int_equal(s.start_ms, utc_ms(2026, 2, 28, 23, 0));
    assert_int_equal(s.end_ms - s.start_ms, 743 * H);
    /* 22:00 UTC on March 31st is already April in Berlin */
    expect_span(berlin, CLX_PERIOD_MONTH, utc_ms(2026, 3, 31, 22, 0), utc_ms(2026, 3, 31, 22, 0),
                utc_ms(2026, 4, 30, 22, 0));
    assert_int_equal(clx_period_bounds(berlin, (clx_period_t)7, 0, &s), CLX_EINVAL);
    clx_period_t p;
    assert_int_equal(clx_period_parse("week", &p), CLX_OK);
    assert_int_equal(p, CLX_PERIOD_WEEK);
    assert_int_equal(clx_period_parse("fortnight", &p), CLX_EINVAL);
    assert_int_equal(clx_period_parse(NULL, &p), CLX_EINVAL);
    clx_tz_destroy(berlin);
}

/* every period is contiguous: the next one starts where this one ends, over years of hours */
static void test_periods_tile_time(void **state)
{
    static const char *zones[] = {"Europe/Berlin", "America/New_York", "Pacific/Chatham", "America/Sao_Paulo"};
    for (size_t z = 0; z < 4; z++) {
        clx_tz_t *tz = load(zones[z]);
        for (int p = 0; p < CLX_PERIOD_COUNT_; p++) {
            clx_span_t cur;
            assert_int_equal(clx_period_bounds(tz, (clx_period_t)p, utc_ms(2017, 1, 1, 0, 0), &cur), CLX_OK);
            for (int64_t t = utc_ms(2017, 1, 1, 0, 0); t < utc_ms(2020, 1, 1, 0, 0); t += H / 2) {
                if (t >= cur.end_ms) {
                    clx_span_t nx;
                    assert_int_equal(clx_period_bounds(tz, (clx_period_t)p, t, &nx), CLX_OK);
                    assert_int_equal(nx.start_ms, cur.end_ms);
                    cur = nx;
                }
                assert_true(t >= cur.start_ms && t < cur.end_ms);
                assert_true(cur.end_ms - cur.start_ms >= 22 * H);
            }
        }
        clx_tz_destroy(tz);
    }
}

struct tz_thread {
    const clx_tz_t *tz;
    int64_t sum;
};

static void *tz_worker(void *arg)
{
    struct tz_thread *w = arg;
    for (int64_t t = 0; t < 4000; t++) {
        clx_span_t s;
        clx_period_bounds(w->tz, CLX_PERIOD_DAY, t * 7777777, &s);
        w->sum += s.start_ms / 1000 + clx_tz_offset(w->tz, t * 7777);
    }
    return NULL;
}

/* one zone shared by threads gives every thread the same answers */
static void test_threads_share_a_zone(void **state)
{
    clx_tz_t *tz = load("America/New_York");
    struct tz_thread w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i].tz = tz;
        w[i].sum = 0;
        assert_int_equal(pthread_create(&th[i], NULL, tz_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct tz_thread one = {tz, 0};
    tz_worker(&one);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].sum, one.sum);
    clx_tz_destroy(tz);
}

static void test_forecast(void **state)
{
    clx_span_t p = {utc_ms(2026, 3, 1, 0, 0), utc_ms(2026, 3, 11, 0, 0)}; /* 10 days */
    const int64_t usd = 1000000000LL;

    /* $10 in 2.5 days -> $40 over 10 days */
    assert_int_equal(clx_budget_forecast(10 * usd, &p, p.start_ms + 60 * H), 40 * usd);
    /* exact rational result, rounded half up at the nano: 1 nano x 3 / 2 = 1.5 -> 2 */
    clx_span_t q = {0, 3};
    assert_int_equal(clx_budget_forecast(1, &q, 2), 2);
    assert_int_equal(clx_budget_forecast(1, &q, 1), 3);
    /* $0.000000007 over 1/3 of the period: 21 nanos, no drift */
    clx_span_t r = {0, 3 * H};
    assert_int_equal(clx_budget_forecast(7, &r, H), 21);
    /* before any time elapsed and after the end: the spend itself */
    assert_int_equal(clx_budget_forecast(5 * usd, &p, p.start_ms), 5 * usd);
    assert_int_equal(clx_budget_forecast(5 * usd, &p, p.start_ms - 1), 5 * usd);
    assert_int_equal(clx_budget_forecast(5 * usd, &p, p.end_ms + 9), 5 * usd);
    assert_int_equal(clx_budget_forecast(-3, &p, p.start_ms + H), 0);
    /* large: $9e9 after one minute of a month saturates instead of wrapping */
    clx_span_t month = {utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 2, 1, 0, 0)};
    assert_int_equal(clx_budget_forecast(9000000000LL * usd, &month, month.start_ms + 60000), INT64_MAX);
    /* a 25-hour Berlin day: $24 after 24 h -> $25 */
    clx_tz_t *berlin = load("Europe/Berlin");
    clx_span_t day;
    assert_int_equal(clx_period_bounds(berlin, CLX_PERIOD_DAY, utc_ms(2026, 10, 25, 12, 0), &day), CLX_OK);
    assert_int_equal(clx_budget_forecast(24 * usd, &day, day.start_ms + 24 * H), 25 * usd);
    clx_tz_destroy(berlin);
}

static void test_thresholds_exact(void **state)
{
    const uint32_t def[] = CLX_BUDGET_DEFAULT_THRESHOLDS;
    const int64_t A = 5000000000LL; /* $5 */

    assert_int_equal(clx_budget_crossed(0, A, def, 3), 0);
    assert_int_equal(clx_budget_crossed(A / 2 - 1, A, def, 3), 0);
    assert_int_equal(clx_budget_crossed(A / 2, A, def, 3), 1);            /* exactly 50 % */
    assert_int_equal(clx_budget_crossed(4000000000LL - 1, A, def, 3), 1); /* one nano short of 80 % */
    assert_int_equal(clx_budget_crossed(4000000000LL, A, def, 3), 3);
    assert_int_equal(clx_budget_crossed(A - 1, A, def, 3), 3);
    assert_int_equal(clx_budget_crossed(A, A, def, 3), 7);
    assert_int_equal(clx_budget_crossed(A * 3, A, def, 3), 7);
    /* 80.01 % needs 4,000,500,000 nanos of $5 */
    const uint32_t odd[] = {8001};
    assert_int_equal(clx_budget_crossed(4000499999LL, A, odd, 1), 0);
    assert_int_equal(clx_budget_crossed(4000500000LL, A, odd, 1), 1);
    /* amounts near the int64 limit: no overflow */
    const int64_t big = 9000000000000000000LL;
    assert_int_equal(clx_budget_crossed(big, big, def, 3), 7);
    assert_int_equal(clx_budget_crossed(big / 2, big, def, 3), 1);
    /* odd amount: 1 nano budget, 50 % needs 1 nano (0.5 rounds to reaching at 1) */
    assert_int_equal(clx_budget_crossed(0, 1, def, 3), 0);
    assert_int_equal(clx_budget_crossed(1, 1, def, 3), 7);
    assert_int_equal(clx_budget_crossed(10, 0, def, 3), 0);
    assert_int_equal(clx_budget_crossed(10, -5, def, 3), 0);

    assert_int_equal(clx_budget_percent_bp(4000000000LL, A), 8000);
    assert_int_equal(clx_budget_percent_bp(3999999999LL, A), 7999);
    assert_int_equal(clx_budget_percent_bp(big, 1), INT64_MAX);
    assert_int_equal(clx_budget_percent_bp(5, 0), 0);

    assert_int_equal(clx_budget_thresholds_valid(def, 3), CLX_OK);
    const uint32_t unsorted[] = {8000, 5000}, zero[] = {0, 100}, huge[] = {100001};
    assert_int_equal(clx_budget_thresholds_valid(unsorted, 2), CLX_EINVAL);
    assert_int_equal(clx_budget_thresholds_valid(zero, 2), CLX_EINVAL);
    assert_int_equal(clx_budget_thresholds_valid(huge, 1), CLX_EINVAL);
    assert_int_equal(clx_budget_thresholds_valid(def, 0), CLX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_days),
        cmocka_unit_test(test_offsets_match_glibc),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_days_of_23_and_25_hours),
        cmocka_unit_test(test_midnight_gap_and_overlap),
        cmocka_unit_test(test_fall_back_across_midnight),
        cmocka_unit_test(test_weeks_and_months),
        cmocka_unit_test(test_periods_tile_time),
        cmocka_unit_test(test_threads_share_a_zone),
        cmocka_unit_test(test_forecast),
        cmocka_unit_test(test_thresholds_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
