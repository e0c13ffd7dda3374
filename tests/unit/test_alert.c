/*
 * test_alert.c — services/governance alert.c and http.c without a network: webhook
 * signatures (a vector computed independently with Python's hmac), the webhook and Slack
 * documents (parsed back with yajl), the retry schedule, and the SSRF guard's URL and
 * address decisions (numeric hosts and localhost only: nothing is connected to).
 */
#include "clx_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <yajl/yajl_tree.h>

#include "clx_alert.h"
#include "clx_error.h"
#include "clx_http.h"

static void test_signature_vector(void **state)
{
    char sig[CLX_WEBHOOK_SIGNATURE_LEN + 1];
    const char *body = "{\"id\":\"a1\"}";

    clx_webhook_sign("whsec_test", 10, 1767225600, body, strlen(body), sig);
    assert_string_equal(sig, "sha256=dec95660f4a08f5c2ef5ad5c2004e1325bf9031233009455450aaa083972a3ef");
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "1767225600", body, strlen(body), sig, 1767225700, 300),
                     CLX_OK);
    /* another body, secret or timestamp: refused */
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "1767225600", "{\"id\":\"a2\"}", 11, sig, 1767225700, 300),
                     CLX_EUNAUTH);
    assert_int_equal(clx_webhook_verify("whsec_tesT", 10, "1767225600", body, strlen(body), sig, 1767225700, 300),
                     CLX_EUNAUTH);
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "1767225601", body, strlen(body), sig, 1767225700, 300),
                     CLX_EUNAUTH);
    /* a replay ten minutes later, or a timestamp from the future: stale */
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "1767225600", body, strlen(body), sig, 1767226201, 300),
                     CLX_EINVAL);
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "1767225600", body, strlen(body), sig, 1767225000, 300),
                     CLX_EINVAL);
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "17672x", body, strlen(body), sig, 1767225700, 300),
                     CLX_EINVAL);
    assert_int_equal(clx_webhook_verify("whsec_test", 10, "1767225600", body, strlen(body), "sha256=00", 1767225700,
                                        300),
                     CLX_EUNAUTH);
}

static const clx_alert_field_t fields[] = {
    {"Budget", "Team <A> & friends"},
    {"Spent", "$80.00 of $100.00 (80%)"},
};

static const clx_alert_msg_t msg = {
    .id = "budget:team-a:2026-03:8000",
    .kind = "budget_threshold",
    .workspace = "acme",
    .title = "Budget \"Team A\" reached 80%",
    .text = "Spent $80.00 of $100.00 this month.\n<!channel> see <http://evil|here> \x01",
    .fields = fields,
    .nfields = 2,
    .at_ms = 1772323200123LL, /* 2026-03-01T00:00:00.123Z */
    .link = "https://costlynx.example/budgets/team-a",
};

static const char *str_at(yajl_val root, const char **path)
{
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    if (v == NULL)
        fail_msg("no string at %s", path[0]);
    return YAJL_GET_STRING(v);
}

static void test_webhook_json(void **state)
{
    size_t len;
    char *js = clx_alert_webhook_json(&msg, &len), errbuf[200];
    assert_int_equal(strlen(js), len);
    yajl_val root = yajl_tree_parse(js, errbuf, sizeof(errbuf));
    if (root == NULL)
        fail_msg("not JSON (%s): %s", errbuf, js);
    const char *p_id[] = {"id", NULL}, *p_at[] = {"at", NULL}, *p_text[] = {"text", NULL},
               *p_budget[] = {"fields", "Budget", NULL}, *p_title[] = {"title", NULL};
    assert_string_equal(str_at(root, p_id), "budget:team-a:2026-03:8000");
    assert_string_equal(str_at(root, p_at), "2026-03-01T00:00:00.123Z");
    assert_string_equal(str_at(root, p_title), "Budget \"Team A\" reached 80%");
    assert_string_equal(str_at(root, p_text), msg.text); /* exact round trip, control byte included */
    assert_string_equal(str_at(root, p_budget), "Team <A> & friends");
    yajl_tree_free(root);
    free(js);

    /* NULL strings and no link; ill-formed UTF-8 replaced */
    clx_alert_msg_t bare = {.id = "x", .title = "bad \xff byte", .at_ms = 0};
    js = clx_alert_webhook_json(&bare, &len);
    assert_string_equal(js, "{\"id\":\"x\",\"kind\":\"\",\"workspace\":\"\",\"title\":\"bad \xef\xbf\xbd byte\","
                            "\"text\":\"\",\"at\":\"1970-01-01T00:00:00.000Z\",\"fields\":{},\"link\":null}");
    free(js);
}

static void test_slack_json(void **state)
{
    size_t len;
    char errbuf[200];
    char *js = clx_alert_slack_json(&msg, &len);
    yajl_val root = yajl_tree_parse(js, errbuf, sizeof(errbuf));
    if (root == NULL)
        fail_msg("not JSON (%s): %s", errbuf, js);
    const char *p_text[] = {"text", NULL}, *p_blocks[] = {"blocks", NULL};
    /* mrkdwn escaping: no @channel mention, no forged link */
    const char *text = str_at(root, p_text);
    assert_non_null(strstr(text, "&lt;!channel&gt; see &lt;http://evil|here&gt;"));
    assert_null(strstr(text, "<!channel>"));
    yajl_val blocks = yajl_tree_get(root, p_blocks, yajl_t_array);
    assert_non_null(blocks);
    assert_int_equal(YAJL_GET_ARRAY(blocks)->len, 5); /* header, section, fields, context, actions */
    const char *types[] = {"header", "section", "section", "context", "actions"};
    for (size_t i = 0; i < 5; i++) {
        const char *p_type[] = {"type", NULL};
        assert_string_equal(str_at(YAJL_GET_ARRAY(blocks)->values[i], p_type), types[i]);
    }
    const char *p_htext[] = {"text", "text", NULL};
    assert_string_equal(str_at(YAJL_GET_ARRAY(blocks)->values[0], p_htext), "Budget \"Team A\" reached 80%");
    yajl_val fl = YAJL_GET_ARRAY(blocks)->values[2];
    const char *p_fields[] = {"fields", NULL}, *p_ft[] = {"text", NULL};
    yajl_val farr = yajl_tree_get(fl, p_fields, yajl_t_array);
    assert_string_equal(str_at(YAJL_GET_ARRAY(farr)->values[0], p_ft), "*Budget*\nTeam &lt;A&gt; &amp; friends");
    yajl_tree_free(root);
    free(js);

    /* a title over Slack's 150-character header limit is cut with an ellipsis */
    char title[400];
    memset(title, 'x', 300);
    title[300] = '\0';
    clx_alert_msg_t longm = {.id = "y", .title = title, .text = "", .workspace = "w"};
    js = clx_alert_slack_json(&longm, &len);
    root = yajl_tree_parse(js, errbuf, sizeof(errbuf));
    assert_non_null(root);
    blocks = yajl_tree_get(root, p_blocks, yajl_t_array);
    assert_int_equal(YAJL_GET_ARRAY(blocks)->len, 3); /* no fields, no link */
    const char *h = str_at(YAJL_GET_ARRAY(blocks)->values[0], p_htext);
    assert_int_equal(strlen(h), 149 + 3);
    assert_memory_equal(h + 149, "\xe2\x80\xa6", 3);
    yajl_tree_free(root);
    free(js);
}

static void test_backoff(void **state)
{
    const clx_backoff_t b = CLX_BACKOFF_DEFAULT;
    const int64_t t0 = 1000000000000LL;
    int64_t now = t0, prev_delay = 0;
    uint32_t failures = 0;

    /* the whole schedule of one item: growing, jittered into [d/2, d], capped at 1 h, last at 24 h */
    for (;;) {
        failures++;
        int64_t next = clx_backoff_next(&b, failures, t0, now, 42);
        if (next < 0)
            break;
        int64_t d = next - now, full = 30000;
        for (uint32_t i = 1; i < failures && full < 3600000; i++)
            full *= 2;
        if (full > 3600000)
            full = 3600000;
        if (next != t0 + b.horizon_ms)
            assert_true(d >= full / 2 && d <= full);
        assert_true(next <= t0 + b.horizon_ms);
        assert_true(failures < 200);
        prev_delay = d;
        now = next;
    }
    (void)prev_delay;
    assert_int_equal(now, t0 + b.horizon_ms); /* the last attempt is at the horizon */
    assert_true(failures > 24 && failures < 60);
    /* deterministic per seed, different across seeds */
    assert_int_equal(clx_backoff_next(&b, 3, t0, t0, 7), clx_backoff_next(&b, 3, t0, t0, 7));
    int differ = 0;
    for (uint64_t s = 0; s < 20; s++)
        differ |= clx_backoff_next(&b, 5, t0, t0, s) != clx_backoff_next(&b, 5, t0, t0, s + 100);
    assert_true(differ);
    /* huge failure counts do not overflow */
    int64_t far = clx_backoff_next(&b, 4000000000u, t0, t0 + 1000, 1);
    assert_true(far > t0 + 1000 && far <= t0 + 1000 + 3600000);
}

static clx_addr_class_t classify(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return clx_addr_classify((struct sockaddr *)&ss);
}

static void test_address_classes(void **state)
{
    static const struct {
        const char *addr;
        clx_addr_class_t want;
    } cases[] = {
        {"8.8.8.8", CLX_ADDR_PUBLIC},
        {"93.184.216.34", CLX_ADDR_PUBLIC},
        {"127.0.0.1", CLX_ADDR_LOOPBACK},
        {"127.255.0.9", CLX_ADDR_LOOPBACK},
        {"10.0.0.7", CLX_ADDR_PRIVATE},
        {"172.16.0.1", CLX_ADDR_PRIVATE},
        {"172.31.255.255", CLX_ADDR_PRIVATE},
        {"172.32.0.1", CLX_ADDR_PUBLIC},
        {"192.168.1.1", CLX_ADDR_PRIVATE},
        {"100.64.0.1", CLX_ADDR_PRIVATE},
        {"169.254.169.254", CLX_ADDR_LINK_LOCAL},
        {"0.0.0.0", CLX_ADDR_UNSPECIFIED},
        {"0.1.2.3", CLX_ADDR_UNSPECIFIED},
        {"224.0.0.1", CLX_ADDR_RESERVED},
        {"255.255.255.255", CLX_ADDR_RESERVED},
        {"192.0.2.5", CLX_ADDR_RESERVED},
        {"2606:4700::1111", CLX_ADDR_PUBLIC},
        {"::1", CLX_ADDR_LOOPBACK},
        {"::", CLX_ADDR_UNSPECIFIED},
        {"::ffff:127.0.0.1", CLX_ADDR_LOOPBACK},
        {"::ffff:169.254.169.254", CLX_ADDR_LINK_LOCAL},
        {"::ffff:8.8.8.8", CLX_ADDR_PUBLIC},
        {"::127.0.0.1", CLX_ADDR_LOOPBACK}, /* v4-compatible */
        {"64:ff9b::a00:1", CLX_ADDR_PRIVATE}, /* NAT64 of 10.0.0.1 */
        {"2002:7f00:1::", CLX_ADDR_LOOPBACK}, /* 6to4 of 127.0.0.1 */
        {"fd12:3456::1", CLX_ADDR_PRIVATE},
        {"fe80::1", CLX_ADDR_LINK_LOCAL},
        {"ff02::1", CLX_ADDR_RESERVED},
        {"2001:db8::1", CLX_ADDR_RESERVED},
        {"2001:0:4136:e378::1", CLX_ADDR_RESERVED}, /* Teredo */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (classify(cases[i].addr) != cases[i].want)
            fail_msg("%s: %s, want %s", cases[i].addr, clx_addr_class_name(classify(cases[i].addr)),
                     clx_addr_class_name(cases[i].want));
    unsigned m = 99;
    assert_int_equal(clx_net_allow_parse("private,loopback", &m), CLX_OK);
    assert_int_equal(m, CLX_NET_ALLOW_PRIVATE | CLX_NET_ALLOW_LOOPBACK);
    assert_int_equal(clx_net_allow_parse("none", &m), CLX_OK);
    assert_int_equal(m, 0);
    assert_int_equal(clx_net_allow_parse("link-local", &m), CLX_OK);
    assert_int_equal(m, CLX_NET_ALLOW_LINK_LOCAL);
    assert_int_equal(clx_net_allow_parse("unspecified", &m), CLX_EINVAL);
    assert_int_equal(clx_net_allow_parse("private,", &m), CLX_OK);
    assert_int_equal(clx_net_allow_parse("everything", &m), CLX_EINVAL);
}

static void expect_url(const char *url, unsigned allow, int want, const char *err_part)
{
    clx_url_target_t t;
    char err[300];
    int rc = clx_url_check(url, allow, &t, err, sizeof(err));
    if (rc != want || (err_part != NULL && strstr(err, err_part) == NULL))
        fail_msg("%s: rc %d (want %d), error \"%s\" (want \"%s\")", url, rc, want, err,
                 err_part ? err_part : "");
}

static void test_url_guard(void **state)
{
    const unsigned all = CLX_NET_ALLOW_LOOPBACK | CLX_NET_ALLOW_PRIVATE | CLX_NET_ALLOW_LINK_LOCAL;

    expect_url("ftp://example.com/x", all, CLX_EINVAL, "only http:// and https://");
    expect_url("file:///etc/passwd", all, CLX_EINVAL, "only http://");
    expect_url("http://user:pw@93.184.216.34/", all, CLX_EINVAL, "credentials");
    expect_url("http://93.184.216.34 /", all, CLX_EINVAL, "spaces");
    expect_url("http:///path", all, CLX_EINVAL, "no host");
    expect_url("http://93.184.216.34:0/", all, CLX_EINVAL, "bad port");
    expect_url("http://93.184.216.34:65536/", all, CLX_EINVAL, "bad port");
    expect_url("http://93.184.216.34:80x/", all, CLX_EINVAL, "bad port");
    expect_url("http://[::1/", all, CLX_EINVAL, "IPv6");
    expect_url("http://exa_mple.com/", all, CLX_EINVAL, "bad character");
    expect_url("http://no-such-host.invalid/", all, CLX_ENOTFOUND, "does not resolve");

    /* refused classes, each named */
    expect_url("http://127.0.0.1:8080/api/v1/admin", 0, CLX_EFORBIDDEN, "127.0.0.1 is a loopback address");
    expect_url("http://localhost:8080/", 0, CLX_EFORBIDDEN, "loopback");
    expect_url("http://[::1]:8080/", 0, CLX_EFORBIDDEN, "::1 is a loopback address");
    expect_url("http://[::ffff:127.0.0.1]/", 0, CLX_EFORBIDDEN, "loopback");
    expect_url("http://2130706433/", 0, CLX_EFORBIDDEN, "127.0.0.1 is a loopback"); /* 127.0.0.1 as one number */
    expect_url("http://169.254.169.254/latest/meta-data", 0, CLX_EFORBIDDEN, "link-local");
    expect_url("http://10.0.0.7/hook", 0, CLX_EFORBIDDEN, "10.0.0.7 is a private address");
    expect_url("http://10.0.0.7/hook", CLX_NET_ALLOW_LOOPBACK, CLX_EFORBIDDEN, "an operator can allow");
    /* never allowed, whatever the operator says */
    expect_url("http://0.0.0.0:8080/", all, CLX_EFORBIDDEN, "unspecified");
    expect_url("http://[::]:8080/", all, CLX_EFORBIDDEN, "unspecified");
    expect_url("http://224.0.0.1/", all, CLX_EFORBIDDEN, "reserved");

    /* allowed */
    clx_url_target_t t;
    char err[300];
    assert_int_equal(clx_url_check("https://93.184.216.34/hooks/a?b=c#d", 0, &t, err, sizeof(err)), CLX_OK);
    assert_int_equal(t.https, 1);
    assert_int_equal(t.port, 443);
    assert_string_equal(t.addr_text, "93.184.216.34");
    assert_int_equal(clx_url_check("HTTP://127.0.0.1:9/x", CLX_NET_ALLOW_LOOPBACK, &t, err, sizeof(err)), CLX_OK);
    assert_int_equal(t.port, 9);
    assert_int_equal(ntohs(((struct sockaddr_in *)&t.addr)->sin_port), 9);
    assert_int_equal(clx_url_check("http://[::1]:8/", CLX_NET_ALLOW_LOOPBACK, &t, err, sizeof(err)), CLX_OK);
    assert_string_equal(t.host, "::1");
    assert_int_equal(clx_url_check("http://10.0.0.7/", CLX_NET_ALLOW_PRIVATE, &t, err, sizeof(err)), CLX_OK);

    /* verdicts */
    assert_int_equal(clx_send_verdict(CLX_OK, 200), CLX_SEND_DONE);
    assert_int_equal(clx_send_verdict(CLX_OK, 204), CLX_SEND_DONE);
    assert_int_equal(clx_send_verdict(CLX_OK, 500), CLX_SEND_RETRY);
    assert_int_equal(clx_send_verdict(CLX_OK, 429), CLX_SEND_RETRY);
    assert_int_equal(clx_send_verdict(CLX_OK, 302), CLX_SEND_RETRY);
    assert_int_equal(clx_send_verdict(CLX_OK, 410), CLX_SEND_GIVE_UP);
    assert_int_equal(clx_send_verdict(CLX_OK, 404), CLX_SEND_GIVE_UP);
    assert_int_equal(clx_send_verdict(CLX_EIO, 0), CLX_SEND_RETRY);
    assert_int_equal(clx_send_verdict(CLX_ENOTFOUND, 0), CLX_SEND_RETRY);
    assert_int_equal(clx_send_verdict(CLX_EFORBIDDEN, 0), CLX_SEND_GIVE_UP);
    assert_int_equal(clx_send_verdict(CLX_EINVAL, 0), CLX_SEND_GIVE_UP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_vector), cmocka_unit_test(test_webhook_json),
        cmocka_unit_test(test_slack_json),       cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_address_classes),  cmocka_unit_test(test_url_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
