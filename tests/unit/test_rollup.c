/*
 * test_rollup.c — rollup records (version 2: 128-bit sums; version 1: the 64-byte records
 * costlynx wrote before), the store's merge operator over both, and the usage query's sums
 * past the int64 range, on a real RocksDB in a temporary directory.
 */
#include "clx_test.h"

#include "clx_error.h"
#include "clx_query.h"
#include "clx_rollup.h"
#include "clx_store.h"

static const clx_i128_t I64MAX = INT64_MAX;

/* The 64 bytes costlynx wrote for a record before the sums were widened: eight int64, little-endian. */
static void pack_v1(const int64_t v[8], unsigned char out[64])
{
    for (int i = 0; i < 8; i++) {
        uint64_t u = (uint64_t)v[i];
        for (int k = 0; k < 8; k++, u >>= 8)
            out[i * 8 + k] = (unsigned char)u;
    }
}

static void test_record_round_trip(void **state)
{
    const clx_i128_t big = (clx_i128_t)(((unsigned __int128)1 << 126) + 12345);
    clx_rollup_t r = {
        .events = big + 1,
        .input_tokens = big + 2,
        .output_tokens = I64MAX * 3,
        .cached_tokens = 0,
        .cache_write_tokens = -7,
        .cost_nanos = big + 6,
        .first_ms = 1764633600000LL,
        .last_ms = INT64_MAX,
    };
    unsigned char buf[CLX_ROLLUP_LEN];
    clx_rollup_pack(&r, buf);
    assert_int_equal(buf[0], 2); /* version */
    clx_rollup_t back;
    assert_int_equal(clx_rollup_unpack(buf, sizeof(buf), &back), CLX_OK);
    assert_memory_equal(&back, &r, sizeof(r));

    /* a wrong version, a wrong length: corrupt, never guessed at */
    buf[0] = 3;
    assert_int_equal(clx_rollup_unpack(buf, sizeof(buf), &back), CLX_ECORRUPT);
    buf[0] = 2;
    assert_int_equal(clx_rollup_unpack(buf, sizeof(buf) - 1, &back), CLX_ECORRUPT);
    assert_int_equal(clx_rollup_unpack(buf, 0, &back), CLX_ECORRUPT);
    assert_int_equal(clx_rollup_unpack(buf, 65, &back), CLX_ECORRUPT);
}

static void test_record_v1(void **state)
{
    const int64_t v[8] = {3, 850, 320, 100, 0, INT64_MAX, 1764633600000LL, 1764637200000LL};
    unsigned char old[64];
    pack_v1(v, old);
    clx_rollup_t r;
    assert_int_equal(clx_rollup_unpack(old, sizeof(old), &r), CLX_OK);
    assert_true(r.events == 3 && r.input_tokens == 850 && r.output_tokens == 320 && r.cached_tokens == 100);
    assert_true(r.cache_write_tokens == 0 && r.cost_nanos == I64MAX);
    assert_int_equal(r.first_ms, 1764633600000LL);
    assert_int_equal(r.last_ms, 1764637200000LL);
    /* a v1 record that had already wrapped stays what it was: negative (no guessing) */
    const int64_t wrapped[8] = {2, 0, 0, 0, 0, INT64_MIN + 5, 1, 2};
    pack_v1(wrapped, old);
    assert_int_equal(clx_rollup_unpack(old, sizeof(old), &r), CLX_OK);
    assert_true(r.cost_nanos == (clx_i128_t)INT64_MIN + 5);
}

static void test_add_past_int64(void **state)
{
    clx_rollup_t a = {.events = 1, .cost_nanos = INT64_MAX, .input_tokens = INT64_MAX, .first_ms = 50, .last_ms = 60};
    clx_rollup_t b = {.events = 1, .cost_nanos = INT64_MAX, .input_tokens = INT64_MAX, .first_ms = 40, .last_ms = 55};
    clx_rollup_add(&a, &b);
    clx_rollup_add(&a, &b);
    assert_true(a.events == 3);
    assert_true(a.cost_nanos == I64MAX * 3);
    assert_true(a.input_tokens == I64MAX * 3);
    assert_int_equal(a.first_ms, 40);
    assert_int_equal(a.last_ms, 60);
    char buf[CLX_I128_BUF];
    clx_money_format_usd_wide(a.cost_nanos, buf);
    assert_string_equal(buf, "27670116110.564327421");
}

/*
 * A store holding version-1 records — a base value and pending merge operands, as the
 * previous costlynx left them — then version-2 operands past the int64 range: the query
 * adds them up exactly, before and after compaction and a reopen.
 */
static void test_store_mixes_versions(void **state)
{
    char *dir = clx_test_tmpdir();
    clx_store_t *s = NULL;
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);

    const int64_t hour = 1764633600000LL / CLX_MS_PER_HOUR; /* 2025-12-02T00:00Z */
    clx_rollup_dims_t d = {
        .project = "p", .environment = "prod", .feature = "f", .provider = "openai", .model = "gpt-4o-mini"};
    char key[256];
    size_t klen = clx_rollup_key_encode(key, CLX_ROLLUP_HOUR, "ws", (uint32_t)hour, &d);
    int64_t at = hour * CLX_MS_PER_HOUR + 1000;

    /* version 1: one merge, flushed and compacted into a base value; then one pending operand */
    unsigned char old[64];
    const int64_t v1a[8] = {1, 100, 10, 0, 0, 5000, at, at};
    pack_v1(v1a, old);
    clx_batch_t *b = clx_batch_create();
    clx_batch_merge_rollup(b, s, key, klen, old, sizeof(old));
    assert_int_equal(clx_store_write(s, b, 1), CLX_OK);
    assert_int_equal(clx_store_compact(s, CLX_CF_ROLLUPS), CLX_OK);
    const int64_t v1b[8] = {2, 200, 20, 0, 0, 7000, at + 1, at + 2};
    pack_v1(v1b, old);
    clx_batch_clear(b);
    clx_batch_merge_rollup(b, s, key, klen, old, sizeof(old));
    assert_int_equal(clx_store_write(s, b, 1), CLX_OK);

    /* version 2: three events at int64-max cost each */
    for (int i = 0; i < 3; i++) {
        clx_rollup_t r = {
            .events = 1, .input_tokens = INT64_MAX, .cost_nanos = INT64_MAX, .first_ms = at, .last_ms = at + 10};
        unsigned char packed[CLX_ROLLUP_LEN];
        clx_rollup_pack(&r, packed);
        clx_batch_clear(b);
        clx_batch_merge_rollup(b, s, key, klen, packed, sizeof(packed));
        assert_int_equal(clx_store_write(s, b, 1), CLX_OK);
    }
    clx_batch_destroy(b);

    const clx_i128_t want_cost = 5000 + 7000 + I64MAX * 3;
    const clx_i128_t want_in = 100 + 200 + I64MAX * 3;
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            assert_int_equal(clx_store_compact(s, CLX_CF_ROLLUPS), CLX_OK);
        if (round == 2) {
            clx_store_close(s);
            s = NULL;
            assert_int_equal(clx_store_open(dir, &s, NULL), CLX_OK);
        }
        clx_arena_t *arena = clx_arena_create(4096);
        clx_usage_query_t q = {.workspace = "ws",
                               .from_ms = hour * CLX_MS_PER_HOUR,
                               .to_ms = (hour + 1) * CLX_MS_PER_HOUR,
                               .group_by = CLX_DIM_FEATURE};
        clx_usage_row_t *rows;
        size_t n;
        clx_usage_row_t total;
        clx_query_t *query = clx_query_create(s);
        assert_int_equal(clx_query_usage(query, &q, arena, &rows, &n, &total), CLX_OK);
        clx_query_destroy(query);
        assert_int_equal(n, 1);
        assert_true(total.sum.events == 6);
        assert_true(total.sum.cost_nanos == want_cost);
        assert_true(total.sum.input_tokens == want_in);
        assert_true(total.sum.output_tokens == 30);
        assert_true(rows[0].sum.cost_nanos == want_cost);
        assert_int_equal(total.sum.first_ms, at);
        assert_int_equal(total.sum.last_ms, at + 10);
        char buf[CLX_I128_BUF];
        clx_money_format_usd_wide(total.sum.cost_nanos, buf);
        assert_string_equal(buf, "27670116110.564339421");
        clx_arena_destroy(arena);
    }

    /* the compacted record is version 2 now */
    char *val = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_get(s, CLX_CF_ROLLUPS, key, klen, &val, &vlen), CLX_OK);
    assert_int_equal(vlen, CLX_ROLLUP_LEN);
    assert_int_equal((unsigned char)val[0], 2);
    free(val);
    clx_store_close(s);
    clx_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_v1),
        cmocka_unit_test(test_add_past_int64),
        cmocka_unit_test(test_store_mixes_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
