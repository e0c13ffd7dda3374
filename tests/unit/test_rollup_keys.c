/*
 * test_rollup_keys.c — the rollups family's keys (encode, decode, prefixes and the order
 * RocksDB keeps them in), the deltas of one stored event, one merge per key for a group,
 * and the merge function itself (operands, an existing record, malformed values). Records
 * and their versions are test_rollup.c's.
 */
#include "clx_test.h"

#include "clx_error.h"
#include "clx_rollup.h"

static int cmp_keys(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

static void test_key_round_trip(void **state)
{
    (void)state;
    clx_rollup_dims_t d = {.project = "support",
                           .environment = "prod",
                           .feature = "chat",
                           .provider = "openai",
                           .model = "gpt-4o-mini",
                           .flags = 5};
    char key[256], scratch[256];
    size_t klen = clx_rollup_key_encode(key, CLX_ROLLUP_DAY, "acme", 20454, &d);
    assert_int_equal(klen, clx_rollup_key_size("acme", &d));
    /* the layout: granularity, workspace, NUL, bucket (BE), flags, the dims NUL-separated */
    assert_int_equal(key[0], 'd');
    assert_memory_equal(key + 1, "acme\0", 5);
    assert_int_equal((unsigned char)key[6], 0x00);
    assert_int_equal((unsigned char)key[8], 20454 >> 8);
    assert_int_equal((unsigned char)key[9], 20454 & 0xff);
    assert_int_equal(key[10], 5);
    assert_memory_equal(key + 11, "support\0prod\0chat\0openai\0gpt-4o-mini", klen - 11);

    char prefix[64];
    size_t plen = clx_rollup_key_prefix(prefix, CLX_ROLLUP_DAY, "acme", 0, 0);
    assert_int_equal(plen, 6);
    assert_memory_equal(key, prefix, plen);
    assert_true(clx_rollup_key_prefix(prefix, CLX_ROLLUP_DAY, "acme", 20454, 1) <= CLX_ROLLUP_PREFIX_LEN(4));
    assert_memory_equal(key, prefix, CLX_ROLLUP_PREFIX_LEN(4));

    uint32_t bucket = 0;
    clx_rollup_dims_t back;
    assert_int_equal(clx_rollup_key_decode(key, klen, plen, scratch, &bucket, &back), 0);
    assert_int_equal(bucket, 20454);
    assert_int_equal(back.flags, 5);
    assert_string_equal(back.project, "support");
    assert_string_equal(back.environment, "prod");
    assert_string_equal(back.feature, "chat");
    assert_string_equal(back.provider, "openai");
    assert_string_equal(back.model, "gpt-4o-mini");

    /* empty dims (an unattributed event) survive too */
    clx_rollup_dims_t none = {.project = "", .environment = "", .feature = "", .provider = "x", .model = ""};
    klen = clx_rollup_key_encode(key, CLX_ROLLUP_HOUR, "acme", 7, &none);
    assert_int_equal(clx_rollup_key_decode(key, klen, plen, scratch, &bucket, &back), 0);
    assert_string_equal(back.project, "");
    assert_string_equal(back.provider, "x");
    assert_string_equal(back.model, "");
}

static void test_malformed_keys_are_refused(void **state)
{
    (void)state;
    clx_rollup_dims_t d = {.project = "p", .environment = "e", .feature = "f", .provider = "o", .model = "m"};
    char key[128], scratch[128];
    size_t klen = clx_rollup_key_encode(key, CLX_ROLLUP_HOUR, "ws", 1, &d);
    uint32_t bucket;
    clx_rollup_dims_t back;
    /* cut inside the bucket, and before all five dims are there */
    assert_int_equal(clx_rollup_key_decode(key, 6, 4, scratch, &bucket, &back), -1);
    assert_int_equal(clx_rollup_key_decode(key, 4 + 5 + 3, 4, scratch, &bucket, &back), -1);
    assert_int_equal(clx_rollup_key_decode(key, klen, 4, scratch, &bucket, &back), 0);
}

/* Keys sort by workspace, then bucket (so a range scan is one seek), then attribution. */
static void test_keys_sort_by_workspace_then_time(void **state)
{
    (void)state;
    clx_rollup_dims_t a = {.project = "zz", .environment = "", .feature = "", .provider = "", .model = ""};
    clx_rollup_dims_t b = {.project = "aa", .environment = "", .feature = "", .provider = "", .model = ""};
    char k1[64], k2[64], k3[64], k4[64];
    size_t l1 = clx_rollup_key_encode(k1, CLX_ROLLUP_HOUR, "ws", 255, &a);
    size_t l2 = clx_rollup_key_encode(k2, CLX_ROLLUP_HOUR, "ws", 256, &b); /* a later hour, smaller project */
    size_t l3 = clx_rollup_key_encode(k3, CLX_ROLLUP_HOUR, "ws-2", 0, &b); /* another workspace */
    size_t l4 = clx_rollup_key_encode(k4, CLX_ROLLUP_HOUR, "ws", 256, &a);
    assert_true(cmp_keys(k1, l1, k2, l2) < 0);
    assert_true(cmp_keys(k2, l2, k4, l4) < 0);
    assert_true(cmp_keys(k4, l4, k3, l3) < 0); /* "ws\0" before "ws-2": no workspace runs into another */
}

static void test_event_deltas(void **state)
{
    (void)state;
    clx_arena_t *a = clx_arena_create(1024);
    Costlynx__Store__V1__StoredEvent rec = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
    rec.project_as_sent = "support";
    rec.environment_as_sent = "prod";
    rec.feature = "chat";
    rec.provider = "openai";
    rec.model = "GPT-4o";
    rec.flags = 8;
    rec.input_tokens = 850;
    rec.output_tokens = 320;
    rec.cached_tokens = 100;
    rec.cache_write_tokens = 10;
    rec.cost_nanos = 319500;
    rec.received_at_ms = 1767225600000LL + 5 * CLX_MS_PER_HOUR + 7; /* 2026-01-01 05:00:00.007 */
    clx_rollup_ref_t refs[CLX_ROLLUP_PER_EVENT];
    rec.key_id = ""; /* no user, no key, no tags: only the hour and the day */
    assert_int_equal(clx_rollup_event_refs(a, "acme", &rec, 1, refs), 2);
    char scratch[128];
    uint32_t bucket;
    clx_rollup_dims_t d;
    assert_int_equal(refs[0].key[0], CLX_ROLLUP_HOUR);
    assert_int_equal(clx_rollup_key_decode(refs[0].key, refs[0].klen, 6, scratch, &bucket, &d), 0);
    assert_int_equal(bucket, rec.received_at_ms / CLX_MS_PER_HOUR);
    assert_string_equal(d.model, "GPT-4o"); /* as sent */
    assert_int_equal(d.flags, 8);
    assert_int_equal(refs[1].key[0], CLX_ROLLUP_DAY);
    assert_int_equal(clx_rollup_key_decode(refs[1].key, refs[1].klen, 6, scratch, &bucket, &d), 0);
    assert_int_equal(bucket, rec.received_at_ms / CLX_MS_PER_DAY);
    for (int g = 0; g < 2; g++) {
        assert_true(refs[g].delta.events == 1);
        assert_true(refs[g].delta.input_tokens == 850);
        assert_true(refs[g].delta.cache_write_tokens == 10);
        assert_true(refs[g].delta.cost_nanos == 319500);
        assert_int_equal(refs[g].delta.first_ms, rec.received_at_ms);
        assert_int_equal(refs[g].delta.last_ms, rec.received_at_ms);
    }

    clx_rollup_ref_t lock;
    clx_rollup_lock_ref(a, "acme", "key_0123456789ab", "staging", "prod", rec.received_at_ms, &lock);
    assert_int_equal(lock.key[0], CLX_ROLLUP_LOCK);
    assert_int_equal(clx_rollup_key_decode(lock.key, lock.klen, 6, scratch, &bucket, &d), 0);
    assert_int_equal(bucket, rec.received_at_ms / CLX_MS_PER_DAY);
    assert_string_equal(d.project, "key_0123456789ab");
    assert_string_equal(d.environment, "staging");
    assert_string_equal(d.feature, "prod");
    assert_true(lock.delta.events == 1 && lock.delta.cost_nanos == 0);
    clx_arena_destroy(a);
}

static void test_merge_function(void **state)
{
    (void)state;
    clx_rollup_t x = {.events = 1, .cost_nanos = 10, .first_ms = 500, .last_ms = 500};
    clx_rollup_t y = {.events = 2, .cost_nanos = 5, .first_ms = 300, .last_ms = 900};
    clx_rollup_t e = {.events = 10, .cost_nanos = 100, .first_ms = 400, .last_ms = 600};
    unsigned char px[CLX_ROLLUP_LEN], py[CLX_ROLLUP_LEN], pe[CLX_ROLLUP_LEN];
    clx_rollup_pack(&x, px);
    clx_rollup_pack(&y, py);
    clx_rollup_pack(&e, pe);
    const char *ops[2] = {(const char *)px, (const char *)py};
    const size_t lens[2] = {CLX_ROLLUP_LEN, CLX_ROLLUP_LEN};
    size_t outlen = 0;

    /* operands alone (a partial merge) */
    char *out = clx_rollup_merge(NULL, 0, ops, lens, 2, &outlen);
    assert_non_null(out);
    assert_int_equal(outlen, CLX_ROLLUP_LEN);
    clx_rollup_t r;
    assert_int_equal(clx_rollup_unpack(out, outlen, &r), CLX_OK);
    assert_true(r.events == 3 && r.cost_nanos == 15);
    assert_int_equal(r.first_ms, 300);
    assert_int_equal(r.last_ms, 900);
    free(out);

    /* onto an existing record */
    out = clx_rollup_merge((const char *)pe, sizeof(pe), ops, lens, 2, &outlen);
    assert_int_equal(clx_rollup_unpack(out, outlen, &r), CLX_OK);
    assert_true(r.events == 13 && r.cost_nanos == 115);
    assert_int_equal(r.first_ms, 300);
    assert_int_equal(r.last_ms, 900);
    free(out);

    /* a malformed operand or existing value fails the whole merge */
    const size_t bad[2] = {CLX_ROLLUP_LEN, 12};
    assert_null(clx_rollup_merge(NULL, 0, ops, bad, 2, &outlen));
    assert_null(clx_rollup_merge("short", 5, ops, lens, 2, &outlen));
}

/* A group's refs become one merge per distinct key, each the sum of its deltas. */
static void test_group_summing_on_a_store(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
    clx_arena_t *a = clx_arena_create(4096);
    clx_rollup_ref_t refs[5];
    const char *projects[5] = {"b", "a", "b", "a", "c"};
    for (int i = 0; i < 5; i++) {
        clx_rollup_dims_t d = {.project = projects[i], .environment = "", .feature = "", .provider = "", .model = ""};
        char *key = clx_arena_alloc(a, clx_rollup_key_size("ws", &d));
        refs[i].klen = clx_rollup_key_encode(key, CLX_ROLLUP_DAY, "ws", 3, &d);
        refs[i].key = key;
        refs[i].delta = (clx_rollup_t){.events = 1, .cost_nanos = i + 1, .first_ms = 100 + i, .last_ms = 100 + i};
        refs[i].dims = 0;
    }
    const clx_rollup_ref_t *ptrs[5] = {&refs[0], &refs[1], &refs[2], &refs[3], &refs[4]};
    clx_batch_t *b = clx_batch_create();
    assert_int_equal(clx_rollup_merge_refs(b, s, ptrs, 5), 3);
    assert_int_equal(clx_batch_count(b), 3);
    assert_int_equal(clx_store_write(s, b, 1), CLX_OK);
    clx_batch_destroy(b);

    /* project a: refs 1 and 3 (costs 2 + 4); b: refs 0 and 2 (1 + 3); c: ref 4 (5) */
    static const struct {
        const char *project;
        int64_t events, cost, first, last;
    } want[] = {{"a", 2, 6, 101, 103}, {"b", 2, 4, 100, 102}, {"c", 1, 5, 104, 104}};
    for (size_t i = 0; i < 3; i++) {
        clx_rollup_dims_t d = {
            .project = want[i].project, .environment = "", .feature = "", .provider = "", .model = ""};
        char key[64];
        size_t klen = clx_rollup_key_encode(key, CLX_ROLLUP_DAY, "ws", 3, &d);
        char *val = NULL;
        size_t vlen = 0;
        clx_rollup_t r;
        assert_int_equal(clx_store_get(s, CLX_CF_ROLLUPS, key, klen, &val, &vlen), CLX_OK);
        assert_int_equal(clx_rollup_unpack(val, vlen, &r), CLX_OK);
        assert_true(r.events == want[i].events);
        assert_true(r.cost_nanos == want[i].cost);
        assert_int_equal(r.first_ms, want[i].first);
        assert_int_equal(r.last_ms, want[i].last);
        free(val);
    }
    clx_arena_destroy(a);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_round_trip),
        cmocka_unit_test(test_malformed_keys_are_refused),
        cmocka_unit_test(test_keys_sort_by_workspace_then_time),
        cmocka_unit_test(test_event_deltas),
        cmocka_unit_test(test_merge_function),
        cmocka_unit_test(test_group_summing_on_a_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
