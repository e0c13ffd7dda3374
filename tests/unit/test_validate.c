/*
 * test_validate.c — the validation stage, table-driven: each row breaks one rule of a
 * valid event and names the field and code the caller must see.
 */
#include "clx_test.h"

#include <string.h>

#include "clx_error.h"
#include "clx_pipeline.h"

static char long_model[300];
static char long_id[300];

static void valid_event(Costlynx__V1__UsageEvent *ev)
{
    costlynx__v1__usage_event__init(ev);
    ev->provider = "openai";
    ev->model = "gpt-4o-mini";
    ev->request_id = "req-1";
    ev->input_tokens = 850;
    ev->output_tokens = 320;
    ev->cached_tokens = 100;
}

struct row {
    const char *name;
    void (*mutate)(Costlynx__V1__UsageEvent *ev);
    const char *field;
    const char *code;
};

static void no_request_id(Costlynx__V1__UsageEvent *ev) { ev->request_id = ""; }
static void no_provider(Costlynx__V1__UsageEvent *ev) { ev->provider = ""; }
static void no_model(Costlynx__V1__UsageEvent *ev) { ev->model = ""; }
static void model_too_long(Costlynx__V1__UsageEvent *ev) { ev->model = long_model; }
static void id_too_long(Costlynx__V1__UsageEvent *ev) { ev->request_id = long_id; }
static void negative_input(Costlynx__V1__UsageEvent *ev) { ev->input_tokens = -1; }
static void huge_output(Costlynx__V1__UsageEvent *ev) { ev->output_tokens = CLX_MAX_TOKENS + 1; }
static void cached_over_input(Costlynx__V1__UsageEvent *ev) { ev->cached_tokens = 851; }
static void writes_over_input(Costlynx__V1__UsageEvent *ev) { ev->cache_write_tokens = 751; }
static void bad_utf8(Costlynx__V1__UsageEvent *ev) { ev->feature = "caf\xc3"; }
static void overlong_utf8(Costlynx__V1__UsageEvent *ev) { ev->feature = "\xc0\xaf"; }
static void control_char(Costlynx__V1__UsageEvent *ev) { ev->project = "a\nb"; }
static void negative_cost(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev->estimated_cost_usd = -0.01;
}
static void nan_cost(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev->estimated_cost_usd = 0.0 / 0.0;
}
static void negative_nanos(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
    ev->estimated_cost_nanos = -5;
}
/* regression (issue 16): DEL passed the "no control characters" rule; -0.0 passed as >= 0 */
static void del_char(Costlynx__V1__UsageEvent *ev) { ev->request_id = "req\x7f"; }
static void c1_control(Costlynx__V1__UsageEvent *ev) { ev->model = "gpt\xc2\x85"; }
static void lone_surrogate_bytes(Costlynx__V1__UsageEvent *ev) { ev->request_id = "a\xed\xa0\x80"; }
static void negative_zero_cost(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev->estimated_cost_usd = -0.0;
}
static void huge_input(Costlynx__V1__UsageEvent *ev) { ev->input_tokens = CLX_MAX_TOKENS + 1; }
static void max_int64_input(Costlynx__V1__UsageEvent *ev) { ev->input_tokens = INT64_MAX; }
static void huge_cached(Costlynx__V1__UsageEvent *ev)
{
    ev->input_tokens = CLX_MAX_TOKENS;
    ev->cached_tokens = CLX_MAX_TOKENS + 1;
}
static void huge_cache_write(Costlynx__V1__UsageEvent *ev) { ev->cache_write_tokens = INT64_MAX; }
static void cost_over_limit(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev->estimated_cost_usd = 1000000.0001;
}
static void cost_infinite(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev->estimated_cost_usd = 1.0 / 0.0;
}
static void nanos_over_limit(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
    ev->estimated_cost_nanos = CLX_MAX_COST_NANOS + 1;
}
static void nanos_int64_max(Costlynx__V1__UsageEvent *ev)
{
    ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
    ev->estimated_cost_nanos = INT64_MAX;
}

static const struct row rows[] = {
    {"DEL in requestId", del_char, "requestId", "invalid_value"},
    {"C1 control in model", c1_control, "model", "invalid_value"},
    {"surrogate bytes in requestId", lone_surrogate_bytes, "requestId", "invalid_value"},
    {"-0.0 estimatedCostUsd", negative_zero_cost, "estimatedCostUsd", "invalid_value"},
    {"missing requestId", no_request_id, "requestId", "missing_field"},
    {"missing provider", no_provider, "provider", "missing_field"},
    {"missing model", no_model, "model", "missing_field"},
    {"model over 256 bytes", model_too_long, "model", "too_long"},
    {"requestId over 256 bytes", id_too_long, "requestId", "too_long"},
    {"negative inputTokens", negative_input, "inputTokens", "invalid_value"},
    {"outputTokens over 10^9", huge_output, "outputTokens", "invalid_value"},
    {"cachedTokens > inputTokens", cached_over_input, "cachedTokens", "invalid_value"},
    {"cached + cache writes > inputTokens", writes_over_input, "cacheWriteTokens", "invalid_value"},
    {"truncated UTF-8", bad_utf8, "feature", "invalid_value"},
    {"overlong UTF-8", overlong_utf8, "feature", "invalid_value"},
    {"control character", control_char, "project", "invalid_value"},
    {"negative estimatedCostUsd", negative_cost, "estimatedCostUsd", "invalid_value"},
    {"NaN estimatedCostUsd", nan_cost, "estimatedCostUsd", "invalid_value"},
    {"negative estimatedCostNanos", negative_nanos, "estimatedCostNanos", "invalid_value"},
    {"inputTokens over 10^9", huge_input, "inputTokens", "invalid_value"},
    {"inputTokens INT64_MAX", max_int64_input, "inputTokens", "invalid_value"},
    {"cachedTokens over 10^9", huge_cached, "cachedTokens", "invalid_value"},
    {"cacheWriteTokens INT64_MAX", huge_cache_write, "cacheWriteTokens", "invalid_value"},
    {"estimatedCostUsd over $1,000,000", cost_over_limit, "estimatedCostUsd", "invalid_value"},
    {"estimatedCostUsd infinite", cost_infinite, "estimatedCostUsd", "invalid_value"},
    {"estimatedCostNanos over 10^15", nanos_over_limit, "estimatedCostNanos", "invalid_value"},
    {"estimatedCostNanos INT64_MAX", nanos_int64_max, "estimatedCostNanos", "invalid_value"},
};

/* Every limit itself is accepted: the largest event a caller can send. */
static void test_limits_are_inclusive(void **state)
{
    Costlynx__V1__UsageEvent ev;
    clx_problem_t p;
    valid_event(&ev);
    ev.input_tokens = CLX_MAX_TOKENS;
    ev.output_tokens = CLX_MAX_TOKENS;
    ev.cached_tokens = CLX_MAX_TOKENS / 2;
    ev.cache_write_tokens = CLX_MAX_TOKENS / 2;
    ev.estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_USD;
    ev.estimated_cost_usd = 1000000.0;
    assert_int_equal(clx_validate_event(&ev, &p), CLX_OK);
    ev.estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
    ev.estimated_cost_nanos = CLX_MAX_COST_NANOS;
    assert_int_equal(clx_validate_event(&ev, &p), CLX_OK);
    assert_int_equal(CLX_MAX_COST_NANOS, 1000000000000000LL);
    assert_int_equal(CLX_MAX_TOKENS, 1000000000LL);
    /* the message names the limit */
    nanos_over_limit(&ev);
    assert_int_equal(clx_validate_event(&ev, &p), CLX_EINVAL);
    assert_non_null(strstr(p.message, "1000000000000000"));
    cost_over_limit(&ev);
    assert_int_equal(clx_validate_event(&ev, &p), CLX_EINVAL);
    assert_non_null(strstr(p.message, "1000000 US dollars"));
}

static void test_valid_event_passes(void **state)
{
    Costlynx__V1__UsageEvent ev;
    clx_problem_t p;
    valid_event(&ev);
    assert_int_equal(clx_validate_event(&ev, &p), CLX_OK);
    assert_null(p.field);
    /* boundaries are allowed: cached == input, 256-byte model, UTF-8 text, zero tokens */
    ev.cached_tokens = ev.input_tokens;
    memset(long_model, 'm', 256);
    long_model[256] = '\0';
    ev.model = long_model;
    ev.feature = "résumé-摘要";
    ev.output_tokens = 0;
    assert_int_equal(clx_validate_event(&ev, &p), CLX_OK);
}

static void test_table(void **state)
{
    memset(long_model, 'm', 257);
    long_model[257] = '\0';
    memset(long_id, 'r', 257);
    long_id[257] = '\0';
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        Costlynx__V1__UsageEvent ev;
        clx_problem_t p;
        valid_event(&ev);
        rows[i].mutate(&ev);
        int rc = clx_validate_event(&ev, &p);
        if (rc != CLX_EINVAL || p.field == NULL || strcmp(p.field, rows[i].field) != 0 ||
            strcmp(p.code, rows[i].code) != 0)
            fail_msg("%s: expected %s/%s, got rc=%d %s/%s (%s)", rows[i].name, rows[i].field, rows[i].code, rc,
                     p.field ? p.field : "-", p.code ? p.code : "-", p.message);
        assert_true(strlen(p.message) > 10); /* a sentence a person can act on */
    }
}

/* the shared text rule: the true length is checked, so a NUL inside is seen */
static void test_text_rule(void **state)
{
    clx_problem_t p;
    assert_int_equal(clx_validate_text("requestId", "a\0x", 3, &p), CLX_EINVAL);
    assert_string_equal(p.field, "requestId");
    assert_string_equal(p.code, "invalid_value");
    assert_string_equal(p.message, "requestId must not contain NUL characters");
    assert_int_equal(clx_validate_text("feature", "tab\tok \xc2\xa0 \xe2\x82\xac", 13, &p), CLX_OK);
    assert_int_equal(clx_validate_text("feature", "\x7f", 1, &p), CLX_EINVAL);
    assert_int_equal(clx_validate_text("feature", "\xc2\x9f", 2, &p), CLX_EINVAL);
}

/*
 * The event-time window to the millisecond (issue 10): exactly 35 days back and exactly 5
 * minutes ahead are accepted; one millisecond (and one second) beyond either is refused with
 * timestamp_out_of_range naming the window. A blackbox test cannot hit an edge exactly: the
 * server's clock moves between the client's send and the check.
 */
static void test_event_time_window_edges(void **state)
{
    (void)state;
    const int64_t now = 1796000000123LL; /* 2026-11-30T...Z, with milliseconds */
    const int64_t back = 35LL * 86400000LL, fwd = 300000LL;
    Costlynx__V1__UsageEvent ev;
    Google__Protobuf__Timestamp ts;
    clx_problem_t p;
    int64_t at;
    valid_event(&ev);
    google__protobuf__timestamp__init(&ts);
    ev.timestamp = &ts;
    struct {
        int64_t ms;
        int ok;
    } cases[] = {
        {now - back, 1}, {now - back - 1, 0}, {now - back - 1000, 0}, {now, 1},
        {now + fwd, 1},  {now + fwd + 1, 0},  {now + fwd + 1000, 0},  {now - back + 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ts.seconds = cases[i].ms / 1000;
        ts.nanos = (int32_t)(cases[i].ms % 1000) * 1000000 + 999999; /* sub-ms digits never count */
        assert_int_equal(clx_validate_event(&ev, &p), CLX_OK);
        int rc = clx_validate_event_time(&ev, now, back, fwd, &at, &p);
        assert_int_equal(rc, cases[i].ok ? CLX_OK : CLX_EINVAL);
        if (cases[i].ok) {
            assert_true(at == cases[i].ms);
        } else {
            assert_string_equal(p.field, "timestamp");
            assert_string_equal(p.code, "timestamp_out_of_range");
            assert_non_null(strstr(p.message, "35 days back to 5 minutes ahead"));
        }
    }
    ev.timestamp = NULL; /* absent: the arrival time */
    assert_int_equal(clx_validate_event_time(&ev, now, back, fwd, &at, &p), CLX_OK);
    assert_true(at == now);
    /* out of proto3's range, or nanos out of range: invalid_value before any window */
    ev.timestamp = &ts;
    ts.seconds = 253402300800LL;
    ts.nanos = 0;
    assert_int_equal(clx_validate_event(&ev, &p), CLX_EINVAL);
    assert_string_equal(p.code, "invalid_value");
    ts.seconds = 0;
    ts.nanos = 1000000000;
    assert_int_equal(clx_validate_event(&ev, &p), CLX_EINVAL);
    assert_string_equal(p.field, "timestamp");
    /* at or before the epoch, even with the window lifted (an admin's allowOld import): a stored
       event time of 0 or less reads as "none", so the event would count at its arrival */
    const int64_t lifted = now + 62135596800000LL;
    const struct {
        int64_t seconds;
        int32_t nanos;
        const char *shown;
    } early[] = {{-1, 500000000, "1969-12-31T23:59:59.500Z"},
                 {0, 0, "1970-01-01T00:00:00.000Z"},
                 {0, 999999, "1970-01-01T00:00:00.000Z"},
                 {-62135596800LL, 1000000, "0001-01-01T00:00:00.001Z"}};
    for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
        ts.seconds = early[i].seconds;
        ts.nanos = early[i].nanos;
        assert_int_equal(clx_validate_event(&ev, &p), CLX_OK);
        assert_int_equal(clx_validate_event_time(&ev, now, lifted, fwd, &at, &p), CLX_EINVAL);
        assert_string_equal(p.field, "timestamp");
        assert_string_equal(p.code, "invalid_value");
        assert_non_null(strstr(p.message, early[i].shown)); /* RFC 3339: four year digits, ms >= 0 */
    }
    ts.seconds = 0; /* the first millisecond after the epoch is kept */
    ts.nanos = 1000000;
    assert_int_equal(clx_validate_event_time(&ev, now, lifted, fwd, &at, &p), CLX_OK);
    assert_true(at == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_event_passes),
        cmocka_unit_test(test_limits_are_inclusive),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_text_rule),
        cmocka_unit_test(test_event_time_window_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
