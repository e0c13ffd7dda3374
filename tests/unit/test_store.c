/*
 * test_store.c — storage/store.c on a real RocksDB in a temporary directory: column
 * families, reopen, foreign families, multi_get, batches and prefix-bounded iterators.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "clx_test.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Only to plant a column family costlynx does not know; the code under test hides RocksDB. */
#include <rocksdb/c.h>

#include "clx_error.h"
#include "clx_store.h"

typedef struct fixture {
    char dir[64];
    clx_store_t *s;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char *err = NULL;

    strcpy(f->dir, "/tmp/clx_test_store_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    if (clx_store_open(f->dir, &f->s, &err) != CLX_OK) {
        fprintf(stderr, "open: %s\n", err ? err : "?");
        free(err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    clx_store_close(f->s);
    clx_test_rm_tree(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture_t *f)
{
    char *err = NULL;

    clx_store_close(f->s);
    f->s = NULL;
    assert_int_equal(clx_store_open(f->dir, &f->s, &err), CLX_OK);
    assert_null(err);
}

static void expect_val(clx_store_t *s, clx_cf_t cf, const char *key, size_t klen, const char *want)
{
    char *val = NULL;
    size_t vlen = 0;

    assert_int_equal(clx_store_get(s, cf, key, klen, &val, &vlen), CLX_OK);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(val, want, vlen);
    free(val);
}

static void expect_absent(clx_store_t *s, clx_cf_t cf, const char *key, size_t klen)
{
    char *val = NULL;
    size_t vlen = 0;

    assert_int_equal(clx_store_get(s, cf, key, klen, &val, &vlen), CLX_ENOTFOUND);
    assert_null(val);
}

/* "k" NUL digit: keys are bytes, NULs included */
static void nul_key(char key[4], int c)
{
    key[0] = 'k';
    key[1] = '\0';
    key[2] = (char)('0' + c);
    key[3] = '\0';
}

static void test_put_get_delete_each_cf(void **state)
{
    fixture_t *f = *state;
    char key[4], val[32];

    for (int c = 0; c < CLX_CF_COUNT_; c++) {
        nul_key(key, c);
        snprintf(val, sizeof(val), "value-of-cf-%d", c);
        assert_int_equal(clx_store_put(f->s, (clx_cf_t)c, key, 3, val, strlen(val)), CLX_OK);
    }
    for (int c = 0; c < CLX_CF_COUNT_; c++) {
        nul_key(key, c);
        snprintf(val, sizeof(val), "value-of-cf-%d", c);
        expect_val(f->s, (clx_cf_t)c, key, 3, val);
        /* families are separate key spaces */
        for (int o = 0; o < CLX_CF_COUNT_; o++)
            if (o != c)
                expect_absent(f->s, (clx_cf_t)o, key, 3);
    }
    /* empty value is a value, not an absence */
    assert_int_equal(clx_store_put(f->s, CLX_CF_SETTINGS, "empty", 5, "", 0), CLX_OK);
    expect_val(f->s, CLX_CF_SETTINGS, "empty", 5, "");
    for (int c = 0; c < CLX_CF_COUNT_; c++) {
        nul_key(key, c);
        assert_int_equal(clx_store_delete(f->s, (clx_cf_t)c, key, 3), CLX_OK);
        expect_absent(f->s, (clx_cf_t)c, key, 3);
    }
    assert_int_equal(clx_store_delete(f->s, CLX_CF_EVENTS, "never", 5), CLX_OK);

    /* metadata lives apart from every family of ours */
    char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_meta_get(f->s, "seq", &v, &vlen), CLX_ENOTFOUND);
    assert_int_equal(clx_store_meta_put(f->s, "seq", "12345678", 8), CLX_OK);
    assert_int_equal(clx_store_meta_get(f->s, "seq", &v, &vlen), CLX_OK);
    assert_int_equal(vlen, 8);
    assert_memory_equal(v, "12345678", 8);
    free(v);
    for (int c = 0; c < CLX_CF_COUNT_; c++)
        expect_absent(f->s, (clx_cf_t)c, "seq", 3);
}

/* Number of RocksDB table files in dir. */
static int count_sst(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l > 4 && strcmp(e->d_name + l - 4, ".sst") == 0;
    }
    closedir(d);
    return n;
}

static void test_reopen_keeps_data(void **state)
{
    fixture_t *f = *state;
    char key[16], val[32];

    for (int c = 0; c < CLX_CF_COUNT_; c++) {
        snprintf(key, sizeof(key), "key%d", c);
        snprintf(val, sizeof(val), "persist-%d", c);
        assert_int_equal(clx_store_put(f->s, (clx_cf_t)c, key, strlen(key), val, strlen(val)), CLX_OK);
    }
    assert_int_equal(clx_store_meta_put(f->s, "name", "costlynx", 8), CLX_OK);
    /* an unsynced batch must survive an orderly close too */
    clx_batch_t *b = clx_batch_create();
    clx_batch_put(b, f->s, CLX_CF_ROLLUPS, "nosync", 6, "kept", 4);
    assert_int_equal(clx_store_write(f->s, b, 0), CLX_OK);
    clx_batch_destroy(b);

    reopen(f);
    assert_true(count_sst(f->dir) >= CLX_CF_COUNT_); /* close flushed every memtable */
    /* twice: the second open sees the families listed, not created */
    reopen(f);
    for (int c = 0; c < CLX_CF_COUNT_; c++) {
        snprintf(key, sizeof(key), "key%d", c);
        snprintf(val, sizeof(val), "persist-%d", c);
        expect_val(f->s, (clx_cf_t)c, key, strlen(key), val);
    }
    expect_val(f->s, CLX_CF_ROLLUPS, "nosync", 6, "kept");
    char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_meta_get(f->s, "name", &v, &vlen), CLX_OK);
    assert_int_equal(vlen, 8);
    assert_memory_equal(v, "costlynx", 8);
    free(v);
}

/* Adds family "legacy" with one key, through RocksDB directly, to a closed store. */
static void plant_foreign_cf(const char *dir)
{
    char *err = NULL;
    size_t n = 0;
    rocksdb_options_t *o = rocksdb_options_create();
    char **names = rocksdb_list_column_families(o, dir, &n, &err);
    assert_null(err);
    assert_int_equal(n, 1 + CLX_CF_COUNT_); /* default + ours */

    rocksdb_options_t **opts = calloc(n, sizeof(*opts));
    rocksdb_column_family_handle_t **h = calloc(n, sizeof(*h));
    for (size_t i = 0; i < n; i++)
        opts[i] = o;
    rocksdb_t *db = rocksdb_open_column_families(o, dir, (int)n, (const char *const *)names,
                                                 (const rocksdb_options_t *const *)opts, h, &err);
    assert_null(err);
    rocksdb_column_family_handle_t *legacy = rocksdb_create_column_family(db, o, "legacy", &err);
    assert_null(err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put_cf(db, wo, legacy, "old", 3, "data", 4, &err);
    assert_null(err);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_column_family_handle_destroy(legacy);
    for (size_t i = 0; i < n; i++)
        rocksdb_column_family_handle_destroy(h[i]);
    rocksdb_close(db);
    rocksdb_list_column_families_destroy(names, n);
    free(h);
    free(opts);
    rocksdb_options_destroy(o);
}

static void test_reopen_with_unknown_cf(void **state)
{
    fixture_t *f = *state;
    char *err = NULL;

    assert_int_equal(clx_store_put(f->s, CLX_CF_EVENTS, "e", 1, "1", 1), CLX_OK);
    clx_store_close(f->s);
    f->s = NULL;
    plant_foreign_cf(f->dir);

    assert_int_equal(clx_store_open(f->dir, &f->s, &err), CLX_OK);
    assert_null(err);
    expect_val(f->s, CLX_CF_EVENTS, "e", 1, "1");
    assert_int_equal(clx_store_put(f->s, CLX_CF_DEDUP, "d", 1, "2", 1), CLX_OK);
    reopen(f);
    expect_val(f->s, CLX_CF_DEDUP, "d", 1, "2");

    /* the foreign family is still there, with its data */
    clx_store_close(f->s);
    f->s = NULL;
    rocksdb_options_t *o = rocksdb_options_create();
    size_t n = 0;
    char **names = rocksdb_list_column_families(o, f->dir, &n, &err);
    assert_null(err);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += strcmp(names[i], "legacy") == 0;
    assert_int_equal(found, 1);
    assert_int_equal(n, 1 + CLX_CF_COUNT_ + 1); /* default, ours, legacy */
    rocksdb_list_column_families_destroy(names, n);
    rocksdb_options_destroy(o);
    assert_int_equal(clx_store_open(f->dir, &f->s, &err), CLX_OK);
}

static void test_open_failure(void **state)
{
    (void)state;
    char path[] = "/tmp/clx_test_store_file_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    clx_store_t *s = NULL;
    char *err = NULL;
    char dir[64];
    snprintf(dir, sizeof(dir), "%s/db", path); /* under a regular file: cannot exist */
    assert_int_equal(clx_store_open(dir, &s, &err), CLX_EIO);
    assert_null(s);
    assert_non_null(err);
    free(err);
    assert_int_equal(clx_store_open(dir, &s, NULL), CLX_EIO);
    unlink(path);

    /* NULL is a no-op everywhere */
    clx_store_close(NULL);
    clx_batch_destroy(NULL);
    clx_iter_destroy(NULL);
}

static void test_multi_get(void **state)
{
    fixture_t *f = *state;
    enum { N = 150 }; /* above the 64-key stack arrays */
    char kbuf[N][16];
    const char *keys[N];
    size_t klens[N];
    char *vals[N];
    size_t vlens[N];

    for (int i = 0; i < N; i++) {
        klens[i] = (size_t)snprintf(kbuf[i], sizeof(kbuf[i]), "mk%d", i);
        keys[i] = kbuf[i];
        if (i % 3 == 0) {
            char v[16];
            int vl = snprintf(v, sizeof(v), "v%d", i * 7);
            assert_int_equal(clx_store_put(f->s, CLX_CF_DEDUP, kbuf[i], klens[i], v, (size_t)vl), CLX_OK);
        }
    }
    /* same keys in another family must not be seen */
    assert_int_equal(clx_store_put(f->s, CLX_CF_EVENTS, "mk1", 3, "wrong", 5), CLX_OK);

    assert_int_equal(clx_store_multi_get(f->s, CLX_CF_DEDUP, N, keys, klens, vals, vlens), CLX_OK);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            char v[16];
            int vl = snprintf(v, sizeof(v), "v%d", i * 7);
            assert_non_null(vals[i]);
            assert_int_equal(vlens[i], (size_t)vl);
            assert_memory_equal(vals[i], v, (size_t)vl);
            free(vals[i]);
        } else {
            assert_null(vals[i]);
        }
    }
    /* small, all absent, and zero keys */
    assert_int_equal(clx_store_multi_get(f->s, CLX_CF_DEDUP, 2, keys + 1, klens + 1, vals, vlens), CLX_OK);
    assert_null(vals[0]);
    assert_null(vals[1]);
    assert_int_equal(clx_store_multi_get(f->s, CLX_CF_DEDUP, 0, keys, klens, vals, vlens), CLX_OK);
}

static void test_batch(void **state)
{
    fixture_t *f = *state;
    clx_batch_t *b = clx_batch_create();

    assert_int_equal(clx_batch_count(b), 0);
    assert_int_equal(clx_store_put(f->s, CLX_CF_SETTINGS, "gone", 4, "x", 1), CLX_OK);
    clx_batch_put(b, f->s, CLX_CF_EVENTS, "a", 1, "1", 1);
    clx_batch_put(b, f->s, CLX_CF_DEDUP, "b", 1, "2", 1);
    clx_batch_delete(b, f->s, CLX_CF_SETTINGS, "gone", 4);
    clx_batch_meta_put(b, f->s, "m", "3", 1);
    assert_int_equal(clx_batch_count(b), 4);
    /* nothing is applied before the write */
    expect_absent(f->s, CLX_CF_EVENTS, "a", 1);
    assert_int_equal(clx_store_write(f->s, b, 1), CLX_OK);
    expect_val(f->s, CLX_CF_EVENTS, "a", 1, "1");
    expect_val(f->s, CLX_CF_DEDUP, "b", 1, "2");
    expect_absent(f->s, CLX_CF_SETTINGS, "gone", 4);
    char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_meta_get(f->s, "m", &v, &vlen), CLX_OK);
    assert_int_equal(vlen, 1);
    assert_memory_equal(v, "3", 1);
    free(v);

    clx_batch_clear(b);
    assert_int_equal(clx_batch_count(b), 0);
    clx_batch_put(b, f->s, CLX_CF_EVENTS, "c", 1, "4", 1);
    assert_int_equal(clx_store_write(f->s, b, 0), CLX_OK);
    expect_val(f->s, CLX_CF_EVENTS, "c", 1, "4");
    expect_val(f->s, CLX_CF_EVENTS, "a", 1, "1"); /* cleared ops are not replayed */
    clx_batch_destroy(b);
}

/* Event-style key: ws '\0' seq (8 bytes BE). */
static size_t ev_key(char *buf, const char *ws, uint64_t seq)
{
    size_t wl = strlen(ws);
    memcpy(buf, ws, wl + 1);
    clx_be64_put((unsigned char *)buf + wl + 1, seq);
    return wl + 9;
}

static void put_ev(clx_store_t *s, const char *ws, uint64_t seq)
{
    char k[64], v[64];
    size_t kl = ev_key(k, ws, seq);
    int vl = snprintf(v, sizeof(v), "%s#%llu", ws, (unsigned long long)seq);
    assert_int_equal(clx_store_put(s, CLX_CF_EVENTS, k, kl, v, (size_t)vl), CLX_OK);
}

/* Asserts the iterator is valid on (ws, seq), key and value. */
static void expect_at(clx_iter_t *it, const char *ws, uint64_t seq)
{
    char k[64], v[64];
    size_t kl = ev_key(k, ws, seq), gl = 0, gvl = 0;
    int vl = snprintf(v, sizeof(v), "%s#%llu", ws, (unsigned long long)seq);

    assert_true(clx_iter_valid(it));
    const char *g = clx_iter_key(it, &gl);
    assert_int_equal(gl, kl);
    assert_memory_equal(g, k, kl);
    const char *gv = clx_iter_value(it, &gvl);
    assert_int_equal(gvl, (size_t)vl);
    assert_memory_equal(gv, v, gvl);
}

/* A pinned iterator and its metadata read the same instant: writes after it are in neither. */
static void test_iterator_pinned_meta(void **state)
{
    fixture_t *f = *state;
    char *val = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_meta_put(f->s, "seq", "\0\0\0\0\0\0\0\1", 8), CLX_OK);
    assert_int_equal(clx_store_put(f->s, CLX_CF_ROLLUPS, "r1", 2, "a", 1), CLX_OK);
    clx_iter_t *it = clx_iter_create_pinned(f->s, CLX_CF_ROLLUPS, "r", 1);
    /* after the snapshot: another rollup and a new seq, in one batch as the writer does */
    clx_batch_t *b = clx_batch_create();
    clx_batch_put(b, f->s, CLX_CF_ROLLUPS, "r2", 2, "b", 1);
    clx_batch_meta_put(b, f->s, "seq", "\0\0\0\0\0\0\0\2", 8);
    assert_int_equal(clx_store_write(f->s, b, 1), CLX_OK);
    clx_batch_destroy(b);
    assert_int_equal(clx_iter_meta_get(it, "seq", &val, &vlen), CLX_OK);
    assert_int_equal(vlen, 8);
    assert_int_equal((unsigned char)val[7], 1);
    free(val);
    assert_int_equal(clx_iter_meta_get(it, "nope", &val, &vlen), CLX_ENOTFOUND);
    size_t n = 0;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        n++;
    assert_int_equal(n, 1); /* r1 only */
    clx_iter_destroy(it);
    /* a fresh one sees both, and the new seq */
    it = clx_iter_create_pinned(f->s, CLX_CF_ROLLUPS, "r", 1);
    assert_int_equal(clx_iter_meta_get(it, "seq", &val, &vlen), CLX_OK);
    assert_int_equal((unsigned char)val[7], 2);
    free(val);
    n = 0;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        n++;
    assert_int_equal(n, 2);
    clx_iter_destroy(it);
}

static void test_iterator_prefix(void **state)
{
    fixture_t *f = *state;
    const char *wss[] = {"ws", "ws1", "ws10", "ws2", "ws0"};
    char k[64];
    size_t kl;

    /* neighbours on both sides of "ws1\0": "ws\0", "ws0\0" below, "ws10\0", "ws2\0" above */
    for (size_t w = 0; w < sizeof(wss) / sizeof(wss[0]); w++)
        for (uint64_t s = 1; s <= 5; s++)
            put_ev(f->s, wss[w], s * 10);
    put_ev(f->s, "ws1", 0xFFFFFFFFFFFFFFFFull); /* largest possible suffix */

    clx_iter_t *it = clx_iter_create(f->s, CLX_CF_EVENTS, "ws1", 4); /* "ws1\0" */
    clx_iter_first(it);
    for (uint64_t s = 1; s <= 5; s++, clx_iter_next(it))
        expect_at(it, "ws1", s * 10);
    expect_at(it, "ws1", 0xFFFFFFFFFFFFFFFFull);
    clx_iter_next(it);
    assert_false(clx_iter_valid(it)); /* not "ws10\0..." */
    assert_int_equal(clx_iter_status(it), CLX_OK);

    clx_iter_last(it);
    expect_at(it, "ws1", 0xFFFFFFFFFFFFFFFFull);
    clx_iter_prev(it);
    for (uint64_t s = 5; s >= 1; s--, clx_iter_prev(it))
        expect_at(it, "ws1", s * 10);
    assert_false(clx_iter_valid(it)); /* not "ws0\0..." */

    kl = ev_key(k, "ws1", 30);
    clx_iter_seek(it, k, kl);
    expect_at(it, "ws1", 30);
    kl = ev_key(k, "ws1", 31);
    clx_iter_seek(it, k, kl);
    expect_at(it, "ws1", 40);
    clx_iter_seek_for_prev(it, k, kl);
    expect_at(it, "ws1", 30);
    kl = ev_key(k, "ws1", 5);
    clx_iter_seek_for_prev(it, k, kl);
    assert_false(clx_iter_valid(it));
    clx_iter_seek(it, "ws0", 3); /* below the prefix: lands on its first key */
    expect_at(it, "ws1", 10);
    clx_iter_seek(it, "ws2", 3); /* above the prefix */
    assert_false(clx_iter_valid(it));
    clx_iter_seek_for_prev(it, "ws2", 3); /* above: the prefix's last key */
    expect_at(it, "ws1", 0xFFFFFFFFFFFFFFFFull);
    clx_iter_seek_for_prev(it, "ws0", 3);
    assert_false(clx_iter_valid(it));
    clx_iter_destroy(it);

    /* "ws10\0" last, with "ws2\0" right after it */
    it = clx_iter_create(f->s, CLX_CF_EVENTS, "ws10", 5);
    clx_iter_last(it);
    expect_at(it, "ws10", 50);
    clx_iter_first(it);
    expect_at(it, "ws10", 10);
    clx_iter_destroy(it);

    /* shorter prefix "ws1" (no NUL) covers ws1 and ws10 only */
    it = clx_iter_create(f->s, CLX_CF_EVENTS, "ws1", 3);
    int n = 0;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        n++;
    assert_int_equal(n, 11);
    clx_iter_last(it);
    expect_at(it, "ws10", 50);
    clx_iter_destroy(it);

    /* empty prefix: everything, both ways */
    it = clx_iter_create(f->s, CLX_CF_EVENTS, NULL, 0);
    n = 0;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        n++;
    assert_int_equal(n, 26);
    n = 0;
    for (clx_iter_last(it); clx_iter_valid(it); clx_iter_prev(it))
        n++;
    assert_int_equal(n, 26);
    clx_iter_destroy(it);

    /* a prefix nobody has */
    it = clx_iter_create(f->s, CLX_CF_EVENTS, "ws3", 4);
    clx_iter_first(it);
    assert_false(clx_iter_valid(it));
    clx_iter_last(it);
    assert_false(clx_iter_valid(it));
    clx_iter_destroy(it);
}

/* Puts key k with itself as the value. */
static void put_raw_cf(clx_store_t *s, clx_cf_t cf, const char *k, size_t kl)
{
    assert_int_equal(clx_store_put(s, cf, k, kl, k, kl), CLX_OK);
}

static void put_raw(clx_store_t *s, const char *k, size_t kl)
{
    put_raw_cf(s, CLX_CF_ROLLUPS, k, kl);
}

static void expect_key(clx_iter_t *it, const char *k, size_t kl)
{
    size_t gl = 0;
    assert_true(clx_iter_valid(it));
    const char *g = clx_iter_key(it, &gl);
    assert_int_equal(gl, kl);
    assert_memory_equal(g, k, kl);
}

static void test_iterator_ff_prefix(void **state)
{
    fixture_t *f = *state;

    put_raw(f->s, "a\xfe\x01", 3);
    put_raw(f->s, "a\xff", 2);
    put_raw(f->s, "a\xff\x00", 3);
    put_raw(f->s, "a\xff\xff\xff", 4);
    put_raw(f->s, "b", 1);
    put_raw(f->s, "\xff\xfe", 2);
    put_raw(f->s, "\xff\xff\x01", 3);
    put_raw(f->s, "\xff\xff\xff\xff", 4);

    clx_iter_t *it = clx_iter_create(f->s, CLX_CF_ROLLUPS, "a\xff", 2); /* successor "b" */
    clx_iter_last(it);
    expect_key(it, "a\xff\xff\xff", 4);
    clx_iter_first(it);
    expect_key(it, "a\xff", 2);
    clx_iter_prev(it);
    assert_false(clx_iter_valid(it));
    clx_iter_destroy(it);

    it = clx_iter_create(f->s, CLX_CF_ROLLUPS, "\xff\xff", 2); /* no successor */
    clx_iter_last(it);
    expect_key(it, "\xff\xff\xff\xff", 4);
    clx_iter_prev(it);
    expect_key(it, "\xff\xff\x01", 3);
    clx_iter_prev(it);
    assert_false(clx_iter_valid(it)); /* "\xff\xfe" is outside */
    clx_iter_first(it);
    expect_key(it, "\xff\xff\x01", 3);
    clx_iter_destroy(it);
}

/* Walks prefix p of cf both ways and checks it holds exactly want[0..n) in order. */
static void expect_prefix_keys(clx_store_t *s, clx_cf_t cf, const char *p, size_t plen, const char *const *want,
                               const size_t *wlen, size_t n)
{
    clx_iter_t *it = clx_iter_create(s, cf, p, plen);
    size_t i = 0;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it), i++) {
        assert_true(i < n);
        expect_key(it, want[i], wlen[i]);
    }
    assert_int_equal(i, n);
    for (clx_iter_last(it); clx_iter_valid(it); clx_iter_prev(it)) {
        assert_true(i > 0);
        i--;
        expect_key(it, want[i], wlen[i]);
    }
    assert_int_equal(i, 0);
    assert_int_equal(clx_iter_status(it), CLX_OK);
    clx_iter_destroy(it);
}

/* dedup is tuned for point reads (bloom filters): ordered iteration must still work. */
static void test_iterator_dedup_cf(void **state)
{
    fixture_t *f = *state;
    const char *const first[] = {"ws1\0a", "ws1\0c"};
    const size_t flen[] = {5, 5};
    const char *const later[] = {"ws1\0a", "ws1\0b", "ws1\0c", "ws1\0d"};
    const size_t llen[] = {5, 5, 5, 5};

    put_raw_cf(f->s, CLX_CF_DEDUP, "ws1\0c", 5);
    put_raw_cf(f->s, CLX_CF_DEDUP, "ws10\0a", 6);
    put_raw_cf(f->s, CLX_CF_DEDUP, "ws\0z", 4);
    put_raw_cf(f->s, CLX_CF_DEDUP, "ws2\0a", 5);
    put_raw_cf(f->s, CLX_CF_DEDUP, "ws1\0a", 5);
    expect_prefix_keys(f->s, CLX_CF_DEDUP, "ws1", 4, first, flen, 2); /* memtable */
    reopen(f);
    expect_prefix_keys(f->s, CLX_CF_DEDUP, "ws1", 4, first, flen, 2); /* table files */
    put_raw_cf(f->s, CLX_CF_DEDUP, "ws1\0d", 5);
    put_raw_cf(f->s, CLX_CF_DEDUP, "ws1\0b", 5);
    expect_prefix_keys(f->s, CLX_CF_DEDUP, "ws1", 4, later, llen, 4); /* both */
    /* point reads too */
    char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_get(f->s, CLX_CF_DEDUP, "ws1\0a", 5, &v, &vlen), CLX_OK);
    assert_int_equal(vlen, 5);
    assert_memory_equal(v, "ws1\0a", 5);
    free(v);
    expect_absent(f->s, CLX_CF_DEDUP, "ws1\0e", 5);
}

static void test_iterator_snapshot(void **state)
{
    fixture_t *f = *state;

    put_ev(f->s, "snap", 1);
    put_ev(f->s, "snap", 2);
    clx_iter_t *it = clx_iter_create(f->s, CLX_CF_EVENTS, "snap", 5);
    put_ev(f->s, "snap", 3); /* after the iterator: not seen */
    char k[32];
    size_t kl = ev_key(k, "snap", 1);
    assert_int_equal(clx_store_delete(f->s, CLX_CF_EVENTS, k, kl), CLX_OK); /* still seen */
    int n = 0;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        n++;
    assert_int_equal(n, 2);
    clx_iter_last(it);
    expect_at(it, "snap", 2);
    clx_iter_destroy(it);
}

/* A reserve larger than the disk's free space: every write is refused, nothing is written,
 * reads go on, and the refusal says why. */
static void test_reserve_refuses_writes(void **state)
{
    fixture_t *f = *state;
    char *err = NULL;

    assert_int_equal(clx_store_put(f->s, CLX_CF_EVENTS, "before", 6, "1", 1), CLX_OK);
    clx_store_close(f->s);
    f->s = NULL;
    struct statvfs v;
    assert_int_equal(statvfs(f->dir, &v), 0);
    uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize;
    clx_store_config_t cfg = {.reserve_bytes = avail + (1ull << 40)};
    assert_int_equal(clx_store_open_with(f->dir, &cfg, &f->s, &err), CLX_OK);
    assert_null(err);

    clx_store_space_t sp;
    clx_store_space(f->s, &sp);
    assert_false(sp.writable);
    assert_false(sp.read_only); /* the WAL replay fits: open read-write, refuse writes */
    assert_int_equal(sp.reserve_bytes, cfg.reserve_bytes);
    char why[400];
    assert_true(clx_store_space_reason(&sp, why, sizeof(why)) > 0);
    assert_memory_equal(why, "disk full:", 10);

    assert_int_equal(clx_store_put(f->s, CLX_CF_EVENTS, "after", 5, "2", 1), CLX_ENOSPC);
    assert_int_equal(clx_store_delete(f->s, CLX_CF_EVENTS, "before", 6), CLX_ENOSPC);
    assert_int_equal(clx_store_meta_put(f->s, "seq", "x", 1), CLX_ENOSPC);
    clx_batch_t *b = clx_batch_create();
    clx_batch_put(b, f->s, CLX_CF_DEDUP, "d", 1, "v", 1);
    assert_int_equal(clx_store_write(f->s, b, 1), CLX_ENOSPC);
    clx_batch_destroy(b);
    assert_int_equal(clx_store_compact(f->s, CLX_CF_EVENTS), CLX_ENOSPC);

    expect_val(f->s, CLX_CF_EVENTS, "before", 6, "1");
    char *val = NULL;
    size_t vlen = 0;
    assert_int_equal(clx_store_get(f->s, CLX_CF_EVENTS, "after", 5, &val, &vlen), CLX_ENOTFOUND);
    assert_int_equal(clx_store_get(f->s, CLX_CF_DEDUP, "d", 1, &val, &vlen), CLX_ENOTFOUND);
    assert_string_equal(clx_strerror(CLX_ENOSPC), "disk full: the data folder's free space is below its reserve");
    assert_string_equal(clx_err_name(CLX_ENOSPC), "storage_unavailable");
    assert_int_equal(clx_err_http_status(CLX_ENOSPC), 503);
    assert_int_equal(clx_err_grpc_status(CLX_ENOSPC), 14);

    /* reopened without the reserve: writable again, and nothing refused was written */
    clx_store_close(f->s);
    f->s = NULL;
    assert_int_equal(clx_store_open(f->dir, &f->s, &err), CLX_OK);
    clx_store_space(f->s, &sp);
    assert_true(sp.writable);
    assert_int_equal(clx_store_space_reason(&sp, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(clx_store_put(f->s, CLX_CF_EVENTS, "after", 5, "2", 1), CLX_OK);
    expect_val(f->s, CLX_CF_EVENTS, "before", 6, "1");
}

/* A store that does not exist yet is not created on a disk below the reserve. */
static void test_reserve_refuses_new_store(void **state)
{
    (void)state;
    char *dir = clx_test_tmpdir();
    struct statvfs v;
    assert_int_equal(statvfs(dir, &v), 0);
    clx_store_config_t cfg = {.reserve_bytes = (uint64_t)v.f_bavail * v.f_frsize + (1ull << 40)};
    clx_store_t *s = NULL;
    char *err = NULL;
    assert_int_equal(clx_store_open_with(dir, &cfg, &s, &err), CLX_ENOSPC);
    assert_null(s);
    assert_non_null(err);
    assert_memory_equal(err, "disk full:", 10);
    free(err);
    char current[128];
    snprintf(current, sizeof(current), "%s/CURRENT", dir);
    assert_int_not_equal(access(current, F_OK), 0);
    clx_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete_each_cf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_with_unknown_cf, setup, teardown),
        cmocka_unit_test(test_open_failure),
        cmocka_unit_test_setup_teardown(test_reserve_refuses_writes, setup, teardown),
        cmocka_unit_test(test_reserve_refuses_new_store),
        cmocka_unit_test_setup_teardown(test_multi_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_pinned_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_ff_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_dedup_cf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_snapshot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
