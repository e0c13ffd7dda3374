/*
 * test_rest_json.c — the REST door's JSON reader: single events, batches, type errors
 * reported per event, envelope errors, exact money; and the writer's escaping.
 */
#include "clx_test.h"

#include "clx_error.h"
#include "rest_json.h"

static int decode(const char *body, clx_arena_t *a, clx_ingest_body_t *out)
{
    return clx_rest_decode_ingest(body, strlen(body), a, out);
}

static void test_single_event(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    assert_int_equal(decode("{\"provider\":\"openai\",\"model\":\"gpt-4.1\",\"inputTokens\":1200,\"outputTokens\":450,"
                            "\"cachedTokens\":\"100\",\"requestId\":\"chatcmpl-abc123\",\"project\":null,"
                            "\"estimatedCostUsd\":1.5e-7}",
                            a, &b),
                     CLX_OK);
    assert_int_equal(b.batch, 0);
    assert_int_equal(b.nevents, 1);
    assert_int_equal(b.nnotes, 0);
    Costlynx__V1__UsageEvent *ev = b.events[0];
    assert_string_equal(ev->provider, "openai");
    assert_string_equal(ev->model, "gpt-4.1");
    assert_int_equal(ev->input_tokens, 1200);
    assert_int_equal(ev->output_tokens, 450);
    assert_int_equal(ev->cached_tokens, 100); /* proto3 JSON: int64 may come as a string */
    assert_string_equal(ev->request_id, "chatcmpl-abc123");
    assert_string_equal(ev->project, ""); /* null = absent */
    assert_int_equal(ev->estimated_cost_case, COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS);
    assert_int_equal(ev->estimated_cost_nanos, 150); /* exact: 1.5e-7 USD = 150 nanos */
    clx_arena_destroy(a);
}

static void test_batch_with_problems(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    assert_int_equal(decode("{\"events\":[{\"provider\":\"openai\",\"model\":\"m\",\"requestId\":\"a\"},"
                            "{\"provider\":\"x\",\"model\":\"m\",\"requestId\":\"b\",\"inputTokens\":\"abc\"},"
                            "{\"provider\":true,\"model\":\"m\",\"requestId\":\"c\",\"extra\":{\"deep\":[1,2]}},"
                            "42,"
                            "{\"provider\":\"x\",\"model\":\"m\",\"requestId\":\"d\",\"outputTokens\":1.5}]}",
                            a, &b),
                     CLX_OK);
    assert_int_equal(b.batch, 1);
    assert_int_equal(b.nevents, 5);
    assert_int_equal(b.nnotes, 5);
    assert_int_equal(b.notes[0].index, 1);
    assert_string_equal(b.notes[0].field, "inputTokens");
    assert_string_equal(b.notes[0].code, "invalid_value");
    assert_int_equal(b.notes[1].index, 2);
    assert_string_equal(b.notes[1].field, "provider");
    assert_string_equal(b.notes[1].code, "invalid_type");
    assert_int_equal(b.notes[2].index, 2); /* the unknown field is a warning, its value skipped whole */
    assert_int_equal(b.notes[2].is_error, 0);
    assert_string_equal(b.notes[2].code, "unknown_field");
    assert_int_equal(b.notes[3].index, 3);
    assert_string_equal(b.notes[3].code, "invalid_type");
    assert_int_equal(b.notes[4].index, 4);
    assert_string_equal(b.notes[4].field, "outputTokens");
    assert_string_equal(b.events[2]->request_id, "c");
    assert_string_equal(b.events[4]->request_id, "d");
    clx_arena_destroy(a);
}

static void test_envelope_errors(void **state)
{
    static const struct {
        const char *body;
        const char *code;
    } cases[] = {
        {"{\"provider\":", "invalid_json"},
        {"", "invalid_json"},
        {"[1,2]", "invalid_body"},
        {"\"text\"", "invalid_body"},
        {"{}", "invalid_body"},
        {"{\"events\":[]}", "empty_batch"},
        {"{\"events\":{}}", "invalid_body"},
        {"{\"events\":[{}],\"provider\":\"x\"}", "invalid_body"},
        {"{\"provider\":\"x\",\"events\":[{}]}", "invalid_body"},
        {"{\"provider\":\"x\"} trailing", "invalid_json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        int rc = decode(cases[i].body, a, &b);
        if (rc != CLX_EINVAL || b.code == NULL || strcmp(b.code, cases[i].code) != 0)
            fail_msg("body %s: expected %s, got rc=%d code=%s", cases[i].body, cases[i].code, rc,
                     b.code ? b.code : "-");
        assert_true(strlen(b.message) > 5);
        clx_arena_destroy(a);
    }
}

static void test_batch_limit(void **state)
{
    char *body = malloc(200 * 64);
    for (int n = 100; n <= 101; n++) {
        strcpy(body, "{\"events\":[");
        for (int i = 0; i < n; i++)
            sprintf(body + strlen(body), "%s{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r%d\"}", i ? "," : "",
                    i);
        strcat(body, "]}");
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        int rc = decode(body, a, &b);
        if (n == 100) {
            assert_int_equal(rc, CLX_OK);
            assert_int_equal(b.nevents, 100);
        } else {
            assert_int_equal(rc, CLX_EINVAL);
            assert_string_equal(b.code, "too_many_events");
        }
        clx_arena_destroy(a);
    }
    free(body);
}

static void test_writer_escapes(void **state)
{
    clx_arena_t *a = clx_arena_create(64);
    clx_jw_t w;
    clx_jw_init(&w, a, 8); /* tiny start: forces growth */
    clx_jw_obj_begin(&w);
    clx_jw_str(&w, "s", "a\"b\\c\n\x01é");
    clx_jw_int(&w, "n", -42);
    clx_jw_arr_begin(&w, "l");
    clx_jw_bool(&w, NULL, 1);
    clx_jw_null(&w, NULL);
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    assert_int_equal(w.len, strlen("{\"s\":\"a\\\"b\\\\c\\u000a\\u0001é\",\"n\":-42,\"l\":[true,null]}"));
    assert_memory_equal(w.buf, "{\"s\":\"a\\\"b\\\\c\\u000a\\u0001é\",\"n\":-42,\"l\":[true,null]}", w.len);
    clx_arena_destroy(a);
}

/* regression: echoed caller text cut mid-character, or not UTF-8, made answers invalid JSON */
static void test_writer_replaces_invalid_utf8(void **state)
{
    clx_arena_t *a = clx_arena_create(64);
    clx_jw_t w;
    clx_jw_init(&w, a, 8);
    clx_jw_str(&w, NULL, "ok\xc3");              /* truncated 2-byte sequence */
    clx_jw_str(&w, NULL, "\xed\xb2\x80|\xff|é"); /* a surrogate, a stray byte, then valid text */
    const char *want = "\"ok\\ufffd\",\"\\ufffd\\ufffd\\ufffd|\\ufffd|é\"";
    assert_int_equal(w.len, strlen(want));
    assert_memory_equal(w.buf, want, w.len);
    clx_arena_destroy(a);
}

/* regression: invalid UTF-8 in one event made the whole batch a 400 invalid_json */
static void test_invalid_utf8_is_decoded_for_the_pipeline(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    assert_int_equal(decode("{\"events\":[{\"model\":\"ok\"},{\"model\":\"\xff\xfe\"}]}", a, &b), CLX_OK);
    assert_int_equal(b.nevents, 2);
    assert_memory_equal(b.events[1]->model, "\xff\xfe", 3); /* validate.c rejects this one event */
    clx_arena_destroy(a);
}

/* regression (issue 16, remote crash): non-object elements past 100 wrote past events[] */
static void test_batch_limit_counts_non_objects(void **state)
{
    static const char *const elems[] = {"null", "42", "\"s\"", "[1,[2]]", "true", "{}"};
    for (size_t e = 0; e < sizeof(elems) / sizeof(elems[0]); e++) {
        for (int n = 100; n <= 102; n++) {
            size_t cap = 64 + (size_t)n * 80;
            char *body = malloc(cap);
            strcpy(body, "{\"events\":[");
            for (int i = 0; i < n; i++)
                sprintf(body + strlen(body), "%s%s", i ? "," : "", elems[e]);
            strcat(body, "]}");
            clx_arena_t *a = clx_arena_create(4096);
            clx_ingest_body_t b;
            int rc = decode(body, a, &b);
            if (n == 100) {
                assert_int_equal(rc, CLX_OK);
                assert_int_equal(b.nevents, 100);
            } else {
                if (rc != CLX_EINVAL || b.code == NULL || strcmp(b.code, "too_many_events") != 0)
                    fail_msg("%d x %s: rc=%d code=%s", n, elems[e], rc, b.code ? b.code : "-");
                assert_string_equal(b.field, "events");
            }
            assert_true(b.nevents <= CLX_MAX_BATCH);
            clx_arena_destroy(a);
            free(body);
        }
    }
    /* 100 valid objects, then one more element of each kind */
    for (size_t e = 0; e < sizeof(elems) / sizeof(elems[0]); e++) {
        char *body = malloc(100 * 64 + 64);
        strcpy(body, "{\"events\":[");
        for (int i = 0; i < 100; i++)
            sprintf(body + strlen(body), "%s{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r%d\"}", i ? "," : "", i);
        sprintf(body + strlen(body), ",%s]}", elems[e]);
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        assert_int_equal(decode(body, a, &b), CLX_EINVAL);
        assert_string_equal(b.code, "too_many_events");
        clx_arena_destroy(a);
        free(body);
    }
}

/* The note of the only event of body (an error), or fails. */
static const clx_decode_note_t *only_error(const char *body, clx_arena_t *a, clx_ingest_body_t *b)
{
    assert_int_equal(clx_rest_decode_ingest(body, strlen(body), a, b), CLX_OK);
    if (b->nnotes != 1 || !b->notes[0].is_error)
        fail_msg("%s: want one error note, got %zu", body, b->nnotes);
    return &b->notes[0];
}

/* regression (issue 16): yajl turned "\ud800" into '?' (another id stored); a lone low half
 * was refused later as bad UTF-8. Both halves are now refused alike, naming the field. */
static void test_lone_surrogate_escapes_are_refused(void **state)
{
    static const char *const ids[] = {
        "a\\ud800",       "a\\ud800x",       "a\\uD800\\u0041", "\\udbff",          "a\\udc00",
        "a\\uDFFFb",      "\\udc00\\ud800",  "a\\ud800\\ud800", "x\\\\\\ud800",     "\\ud83d\\ud83d\\ude00",
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"%s\"}", ids[i]);
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        const clx_decode_note_t *n = only_error(body, a, &b);
        assert_string_equal(n->field, "requestId");
        assert_string_equal(n->code, "invalid_value");
        assert_non_null(strstr(n->message, "surrogate"));
        assert_null(b.events[0]->request_id == NULL ? NULL : (b.events[0]->request_id[0] ? "set" : NULL));
        clx_arena_destroy(a);
    }
    /* a proper pair, an escaped backslash before 'u', and plain escapes are kept as sent */
    static const struct {
        const char *json, *want;
    } ok[] = {
        {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
        {"x\\\\ud800", "x\\ud800"},
        {"\\u00e9\\n\\\"", "\xc3\xa9\n\""},
        {"e\\u0301", "e\xcc\x81"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"%s\"}", ok[i].json);
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        assert_int_equal(decode(body, a, &b), CLX_OK);
        assert_int_equal(b.nnotes, 0);
        assert_string_equal(b.events[0]->request_id, ok[i].want);
        clx_arena_destroy(a);
    }
    /* the same in a batch: one event refused, its neighbours kept; other string fields too */
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    assert_int_equal(decode("{\"events\":[{\"requestId\":\"ok\"},{\"requestId\":\"b\",\"feature\":\"f\\ud800\"},"
                            "{\"requestId\":\"c\",\"project\":\"\\udfff\"}]}",
                            a, &b),
                     CLX_OK);
    assert_int_equal(b.nnotes, 2);
    assert_int_equal(b.notes[0].index, 1);
    assert_string_equal(b.notes[0].field, "feature");
    assert_int_equal(b.notes[1].index, 2);
    assert_string_equal(b.notes[1].field, "project");
    clx_arena_destroy(a);
}

/* regression (issue 16): "-0" was accepted for tokens and nanos but not for dollars */
static void test_negative_zero_is_refused_everywhere(void **state)
{
    static const char *const bodies[] = {
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r\",\"inputTokens\":-0}",
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r\",\"outputTokens\":\"-0\"}",
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r\",\"estimatedCostNanos\":-0}",
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r\",\"estimatedCostUsd\":-0}",
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"r\",\"estimatedCostUsd\":-0.0}",
    };
    static const char *const fields[] = {"inputTokens", "outputTokens", "estimatedCostNanos", "estimatedCostUsd",
                                         "estimatedCostUsd"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        const clx_decode_note_t *n = only_error(bodies[i], a, &b);
        assert_string_equal(n->field, fields[i]);
        assert_string_equal(n->code, "invalid_value");
        clx_arena_destroy(a);
    }
}

/* regression (issue 16): an empty body was "premature EOF\n (near byte 1)" */
static void test_empty_body_says_so(void **state)
{
    static const char *const bodies[] = {"", " ", "\r\n\t "};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        assert_int_equal(decode(bodies[i], a, &b), CLX_EINVAL);
        assert_string_equal(b.code, "invalid_json");
        assert_string_equal(b.message, "the body is empty");
        clx_arena_destroy(a);
    }
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    assert_int_equal(decode("{\"a\":", a, &b), CLX_EINVAL);
    assert_null(strchr(b.message, '\n'));
    clx_arena_destroy(a);
}

/* NUL inside a string is refused with the shared wording, never cut */
static void test_nul_in_strings(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    const clx_decode_note_t *n = only_error("{\"provider\":\"p\",\"model\":\"m\\u0000x\",\"requestId\":\"r\"}", a, &b);
    assert_string_equal(n->field, "model");
    assert_string_equal(n->message, "model must not contain NUL characters");
    clx_arena_destroy(a);
}

/* two values for one field: refused, never one of them guessed (camelCase and snake_case too) */
static void test_duplicate_fields_are_refused(void **state)
{
    static const char *const bodies[] = {
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"a\",\"requestId\":\"b\"}",
        "{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"a\",\"request_id\":\"b\"}",
        "{\"events\":[{\"provider\":\"p\",\"model\":\"m\",\"requestId\":\"a\",\"request_id\":{\"x\":1}}]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        clx_arena_t *a = clx_arena_create(4096);
        clx_ingest_body_t b;
        const clx_decode_note_t *n = only_error(bodies[i], a, &b);
        assert_string_equal(n->field, "requestId");
        assert_string_equal(n->code, "invalid_value");
        clx_arena_destroy(a);
    }
}

/* RFC 3339 as proto3 JSON writes a Timestamp; the expected values come from Python's datetime. */
static void test_rfc3339(void **state)
{
    static const struct {
        const char *s;
        int64_t sec;
        int32_t nanos;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2026-11-30T14:03:07.120Z", 1796047387, 120000000},
        {"1969-12-31T23:59:59.5Z", -1, 500000000},
        {"2000-02-29T23:59:59.999999999-00:30", 951870599, 999999999},
        {"0001-01-01T00:00:00Z", -62135596800LL, 0},
        {"9999-12-31T23:59:59Z", 253402300799LL, 0},
        {"2024-03-01t00:00:00+14:00", 1709200800, 0},
        {"2026-11-30T14:03:07.1z", 1796047387, 100000000},
    };
    static const char *const bad[] = {
        "2026-11-30",
        "2026-11-30T14:03:07",
        "2026-11-30 14:03:07Z",
        "2026-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-30T24:00:00Z",
        "2026-11-30T14:60:00Z",
        "2026-11-30T14:03:60Z",
        "2026-11-30T14:03:07.Z",
        "2026-11-30T14:03:07.1234567890Z",
        "2026-11-30T14:03:07+0100",
        "2026-11-30T14:03:07+24:00",
        "2026-11-30T14:03:07Zjunk",
        "0000-01-01T00:00:00Z",
        "-001-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "+2026-11-30T14:03:07Z",
        "",
    };
    int64_t sec;
    int32_t nanos;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(clx_rest_parse_rfc3339(ok[i].s, strlen(ok[i].s), &sec, &nanos), 0);
        assert_true(sec == ok[i].sec);
        assert_int_equal(nanos, ok[i].nanos);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(clx_rest_parse_rfc3339(bad[i], strlen(bad[i]), &sec, &nanos), -1);
}

/* issue 10's fields: each decoded where it belongs; tags in the order sent; every tag problem named on tags. */
static void test_issue10_fields(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_ingest_body_t b;
    assert_int_equal(
        decode("{\"provider\":\"openai\",\"model\":\"o3\",\"requestId\":\"r\",\"timestamp\":"
               "\"2026-11-30T14:03:07.120Z\",\"userId\":\"cust-1\",\"tags\":{\"team\":\"a\",\"env.x\":\"\"},"
               "\"reasoning_tokens\":\"5\",\"cacheWrite1hTokens\":1,\"audioInputTokens\":2,"
               "\"audioOutputTokens\":3,\"cachedAudioTokens\":4,\"serviceTier\":\"flex\",\"webSearchCalls\":6}",
               a, &b),
        CLX_OK);
    assert_int_equal(b.nnotes, 0);
    Costlynx__V1__UsageEvent *ev = b.events[0];
    assert_non_null(ev->timestamp);
    assert_true(ev->timestamp->seconds == 1796047387);
    assert_int_equal(ev->timestamp->nanos, 120000000);
    assert_string_equal(ev->user_id, "cust-1");
    assert_int_equal(ev->n_tags, 2);
    assert_string_equal(ev->tags[0]->key, "team");
    assert_string_equal(ev->tags[1]->key, "env.x");
    assert_string_equal(ev->tags[1]->value, "");
    assert_int_equal(ev->reasoning_tokens, 5);
    assert_int_equal(ev->cache_write_1h_tokens, 1);
    assert_int_equal(ev->audio_input_tokens, 2);
    assert_int_equal(ev->audio_output_tokens, 3);
    assert_int_equal(ev->cached_audio_tokens, 4);
    assert_string_equal(ev->service_tier, "flex");
    assert_int_equal(ev->web_search_calls, 6);

    /* one note per event, on tags, for whatever is wrong first; the other events unharmed */
    assert_int_equal(decode("{\"events\":[{\"requestId\":\"a\",\"tags\":{\"x\":1,\"y\":[2]}},"
                            "{\"requestId\":\"b\",\"tags\":\"team=a\"},"
                            "{\"requestId\":\"c\",\"tags\":{\"a\":{\"b\":{\"c\":1}}},\"userId\":\"u\"},"
                            "{\"requestId\":\"d\",\"timestamp\":1700000000},"
                            "{\"requestId\":\"e\",\"tags\":{\"k\":\"v\"},\"timestamp\":\"2026-11-30\"}]}",
                            a, &b),
                     CLX_OK);
    assert_int_equal(b.nevents, 5);
    assert_int_equal(b.nnotes, 5);
    static const struct {
        size_t index;
        const char *field, *code;
    } want[] = {{0, "tags", "invalid_type"},
                {1, "tags", "invalid_type"},
                {2, "tags", "invalid_type"},
                {3, "timestamp", "invalid_type"},
                {4, "timestamp", "invalid_value"}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(b.notes[i].index, want[i].index);
        assert_string_equal(b.notes[i].field, want[i].field);
        assert_string_equal(b.notes[i].code, want[i].code);
    }
    assert_string_equal(b.events[2]->user_id, "u"); /* the members after a skipped tags value are read */
    assert_int_equal(b.events[4]->n_tags, 1);
    clx_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_event),
        cmocka_unit_test(test_batch_with_problems),
        cmocka_unit_test(test_envelope_errors),
        cmocka_unit_test(test_batch_limit),
        cmocka_unit_test(test_writer_escapes),
        cmocka_unit_test(test_writer_replaces_invalid_utf8),
        cmocka_unit_test(test_invalid_utf8_is_decoded_for_the_pipeline),
        cmocka_unit_test(test_batch_limit_counts_non_objects),
        cmocka_unit_test(test_lone_surrogate_escapes_are_refused),
        cmocka_unit_test(test_negative_zero_is_refused_everywhere),
        cmocka_unit_test(test_empty_body_says_so),
        cmocka_unit_test(test_nul_in_strings),
        cmocka_unit_test(test_duplicate_fields_are_refused),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_issue10_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
