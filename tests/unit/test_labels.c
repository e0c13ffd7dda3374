/*
 * test_labels.c — services/governance/labels.c: which labels are spellings of one, the
 * groups and warnings a project's features produce, and the alias table's folding.
 */
#include "clx_test.h"

#include "clx_error.h"
#include "clx_labels.h"

static void test_keys(void **state)
{
    char k[CLX_LABEL_KEY_MAX + 1];
    assert_int_equal(clx_label_key("Chat-Response", k), 12);
    assert_string_equal(k, "chatresponse");
    clx_label_key("chat_response", k);
    assert_string_equal(k, "chatresponse");
    clx_label_key("  chat . response__", k);
    assert_string_equal(k, "chatresponse");
    clx_label_key("v1-2", k);
    assert_string_equal(k, "v1.2");
    clx_label_key("v1__.2", k);
    assert_string_equal(k, "v1.2");
    clx_label_key("v12", k);
    assert_string_equal(k, "v12");
    clx_label_key("Résumé", k); /* non-ASCII bytes untouched */
    assert_string_equal(k, "r\xc3\xa9sum\xc3\xa9");
    char lng[600];
    memset(lng, 'a', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(clx_label_key(lng, k), CLX_LABEL_KEY_MAX);
}

static void test_matches(void **state)
{
    static const struct {
        const char *a, *b;
        clx_label_match_t want;
    } cases[] = {
        /* the guide's example */
        {"chat-response", "chat_response", CLX_LABEL_SAME_KEY},
        {"chat-response", "Chat Response", CLX_LABEL_SAME_KEY},
        {"chat-response", "chatResponse", CLX_LABEL_SAME_KEY},
        {"chat-response", "chat.response", CLX_LABEL_SAME_KEY},
        {"chat", "chat-response", CLX_LABEL_DIFFERENT}, /* a different feature */
        /* plurals */
        {"chat", "chats", CLX_LABEL_PLURAL},
        {"Summary", "summaries", CLX_LABEL_PLURAL},
        {"class", "classes", CLX_LABEL_PLURAL},
        {"doc-search", "doc_searches", CLX_LABEL_PLURAL},
        {"ab", "abs", CLX_LABEL_DIFFERENT}, /* stem too short */
        /* one slip on a longer word */
        {"summarize", "summarise", CLX_LABEL_ONE_EDIT},
        {"embedding", "embeding", CLX_LABEL_ONE_EDIT},
        {"search", "saerch", CLX_LABEL_ONE_EDIT},
        {"rerank", "re-rank", CLX_LABEL_SAME_KEY},
        {"agent", "agnet", CLX_LABEL_ONE_EDIT}, /* a swap, 5 letters */
        /* short words one letter apart are different words */
        {"chat", "char", CLX_LABEL_DIFFERENT},
        {"chat", "chart", CLX_LABEL_DIFFERENT},
        {"model", "modal", CLX_LABEL_DIFFERENT},
        {"label", "lapel", CLX_LABEL_DIFFERENT},
        {"ocr", "orc", CLX_LABEL_DIFFERENT},
        /* numbers never merge */
        {"gpt-4", "gpt-5", CLX_LABEL_DIFFERENT},
        {"gpt-4", "GPT_4", CLX_LABEL_SAME_KEY},
        {"gpt-4", "gpt-4o", CLX_LABEL_DIFFERENT},
        {"gpt-4-turbo", "gpt-4o-turbo", CLX_LABEL_DIFFERENT},
        {"claude-3-5-sonnet", "claude-3-7-sonnet", CLX_LABEL_DIFFERENT},
        {"claude-3-5-sonnet", "claude-35-sonnet", CLX_LABEL_DIFFERENT},
        {"claude-3.5-sonnet", "claude-3-5-sonnet", CLX_LABEL_SAME_KEY},
        {"pipeline-v2", "pipeline-v3", CLX_LABEL_DIFFERENT},
        {"pipeline-v2", "pipelines-v2", CLX_LABEL_ONE_EDIT},
        {"step1", "steps1", CLX_LABEL_DIFFERENT}, /* next to a digit */
        {"report2024", "report2025", CLX_LABEL_DIFFERENT},
        {"same", "same", CLX_LABEL_DIFFERENT}, /* identical labels are not two spellings */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clx_label_match_t got = clx_label_match(cases[i].a, cases[i].b);
        if (got != cases[i].want)
            fail_msg("%s / %s: got %d want %d", cases[i].a, cases[i].b, got, cases[i].want);
        assert_int_equal(clx_label_match(cases[i].b, cases[i].a), got); /* symmetric */
    }
}

static void test_groups_and_warning(void **state)
{
    const clx_label_count_t in[] = {
        {"chat-response", 120}, {"chat_response", 30}, {"Chat-Response", 2}, {"chat", 500},   {"chats", 4},
        {"char", 7},            {"gpt-4", 10},         {"gpt-5", 10},        {"summarize", 8}, {"summarise", 9},
        {"embedding", 3},       {"chat_response", 5}, /* listed twice: counts add up */
    };
    clx_label_report_t *r = NULL;
    char line[512];

    assert_int_equal(clx_labels_group(in, sizeof(in) / sizeof(in[0]), &r), CLX_OK);
    assert_int_equal(clx_label_report_count(r), 3);
    /* sorted by total events: chat (504), chat-response (157), summarise (17) */
    const clx_label_group_t *g = clx_label_report_group(r, 0);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->canonical, "chat");
    assert_string_equal(g->members[1].label, "chats");
    assert_int_equal(g->total_events, 504);
    g = clx_label_report_group(r, 1);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->total_events, 157);
    assert_string_equal(g->canonical, "chat-response");
    assert_int_equal(g->members[1].events, 35);
    clx_label_warning(g, "feature", line, sizeof(line));
    assert_string_equal(line, "3 spellings of one feature: chat-response (120 events), chat_response (35 events), "
                              "Chat-Response (2 events); suggested: chat-response");
    g = clx_label_report_group(r, 2);
    assert_string_equal(g->canonical, "summarise");
    assert_null(clx_label_report_group(r, 3));
    /* truncation: bounded, terminated, marked, and the needed length is returned */
    char small[24];
    size_t need = clx_label_warning(clx_label_report_group(r, 1), "feature", small, sizeof(small));
    assert_int_equal(need, strlen(line));
    assert_int_equal(strlen(small), sizeof(small) - 1); /* 20 bytes of the line, then a 3-byte ellipsis */
    assert_memory_equal(small + sizeof(small) - 4, "\xe2\x80\xa6", 3);
    clx_label_report_destroy(r);
}

static void test_transitive_and_ties(void **state)
{
    /* chat-response ~ chat_responses (plural of the same key): one group of three */
    const clx_label_count_t in[] = {{"chat_responses", 5}, {"chat-response", 5}, {"ChatResponse", 1}};
    clx_label_report_t *r = NULL;
    assert_int_equal(clx_labels_group(in, 3, &r), CLX_OK);
    assert_int_equal(clx_label_report_count(r), 1);
    const clx_label_group_t *g = clx_label_report_group(r, 0);
    assert_int_equal(g->n, 3);
    assert_string_equal(g->canonical, "chat-response"); /* a tie on events: the first by byte order */
    clx_label_report_destroy(r);
}

static void test_bad_input_and_many(void **state)
{
    clx_label_report_t *r = NULL;
    const clx_label_count_t empty[] = {{"", 1}}, neg[] = {{"x", -1}}, null[] = {{NULL, 1}};
    assert_int_equal(clx_labels_group(empty, 1, &r), CLX_EINVAL);
    assert_int_equal(clx_labels_group(neg, 1, &r), CLX_EINVAL);
    assert_int_equal(clx_labels_group(null, 1, &r), CLX_EINVAL);
    assert_null(r);
    assert_int_equal(clx_labels_group(NULL, 0, &r), CLX_OK);
    assert_int_equal(clx_label_report_count(r), 0);
    clx_label_report_destroy(r);
    assert_int_equal(clx_labels_group(empty, CLX_LABELS_MAX + 1, &r), CLX_EINVAL);

    /* 5,000 distinct feature names with numbers: none groups with another */
    static clx_label_count_t many[5000];
    static char names[5000][32];
    for (int i = 0; i < 5000; i++) {
        snprintf(names[i], sizeof(names[i]), "feature-%d", i);
        many[i].label = names[i];
        many[i].events = i;
    }
    assert_int_equal(clx_labels_group(many, 5000, &r), CLX_OK);
    assert_int_equal(clx_label_report_count(r), 0);
    clx_label_report_destroy(r);
}

static int collect(void *ctx, const char *alias, const char *canonical)
{
    char *buf = ctx;
    strcat(buf, alias);
    strcat(buf, "->");
    strcat(buf, canonical);
    strcat(buf, ";");
    return 0;
}

static void test_aliases(void **state)
{
    clx_alias_table_t *t = clx_alias_create();
    char all[256] = "";

    assert_string_equal(clx_alias_fold(t, "chat_response"), "chat_response"); /* no alias: itself */
    assert_int_equal(clx_alias_set(t, "chat_response", "chat-response"), CLX_OK);
    assert_string_equal(clx_alias_fold(t, "chat_response"), "chat-response");
    assert_string_equal(clx_alias_fold(t, "chat-response"), "chat-response");
    assert_string_equal(clx_alias_fold(t, "Chat-Response"), "Chat-Response"); /* exact match only */
    /* an alias of an alias is flattened */
    assert_int_equal(clx_alias_set(t, "ChatResponse", "chat_response"), CLX_OK);
    assert_string_equal(clx_alias_fold(t, "ChatResponse"), "chat-response");
    /* renaming the canonical: its aliases follow */
    assert_int_equal(clx_alias_set(t, "chat-response", "chat-reply"), CLX_OK);
    assert_string_equal(clx_alias_fold(t, "chat_response"), "chat-reply");
    assert_string_equal(clx_alias_fold(t, "ChatResponse"), "chat-reply");
    /* cycles and nonsense are refused, and change nothing */
    assert_int_equal(clx_alias_set(t, "chat-reply", "chat_response"), CLX_EINVAL);
    assert_int_equal(clx_alias_set(t, "x", "x"), CLX_EINVAL);
    assert_int_equal(clx_alias_set(t, "", "x"), CLX_EINVAL);
    assert_int_equal(clx_alias_set(t, "x", NULL), CLX_EINVAL);
    assert_string_equal(clx_alias_fold(t, "chat-reply"), "chat-reply");
    assert_int_equal(clx_alias_count(t), 3);
    clx_alias_each(t, collect, all);
    assert_string_equal(all, "ChatResponse->chat-reply;chat-response->chat-reply;chat_response->chat-reply;");
    /* replacing and removing */
    assert_int_equal(clx_alias_set(t, "ChatResponse", "support"), CLX_OK);
    assert_string_equal(clx_alias_fold(t, "ChatResponse"), "support");
    assert_int_equal(clx_alias_remove(t, "chat_response"), CLX_OK);
    assert_int_equal(clx_alias_remove(t, "chat_response"), CLX_ENOTFOUND);
    assert_string_equal(clx_alias_fold(t, "chat_response"), "chat_response");
    assert_int_equal(clx_alias_count(t), 2);
    clx_alias_destroy(t);
    clx_alias_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_matches),
        cmocka_unit_test(test_groups_and_warning), cmocka_unit_test(test_transitive_and_ties),
        cmocka_unit_test(test_bad_input_and_many), cmocka_unit_test(test_aliases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
