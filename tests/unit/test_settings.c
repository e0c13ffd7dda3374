/*
 * test_settings.c — settings on a real store: validation, duplicates, references, key
 * secrets (hash only, revocation), the admin token, and everything surviving a reopen.
 */
#include "clx_test.h"

#include "clx_error.h"
#include "clx_settings.h"

static void count_cb(void *arg, const void *rec)
{
    (*(int *)arg)++;
}

static int count_projects(clx_settings_t *s, const char *ws)
{
    int n = 0;
    clx_settings_list_projects(s, ws, (clx_project_fn)count_cb, &n);
    return n;
}

/* Reads every byte of every file under dir and reports whether needle occurs. */
static int dir_contains(const char *dir, const char *needle)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "grep -rqa -- '%s' '%s'", needle, dir);
    return system(cmd) == 0;
}

static void test_slugs(void **state)
{
    assert_true(clx_slug_valid("customer-support", 16));
    assert_true(clx_slug_valid("a", 1));
    assert_true(clx_slug_valid("prod_2", 6));
    assert_false(clx_slug_valid("", 0));
    assert_false(clx_slug_valid("Customer", 8));
    assert_false(clx_slug_valid("-lead", 5));
    assert_false(clx_slug_valid("has space", 9));
    assert_false(clx_slug_valid("a/b", 3));
    char long_slug[66];
    memset(long_slug, 'a', 65);
    long_slug[65] = '\0';
    assert_false(clx_slug_valid(long_slug, 65));
    assert_true(clx_slug_valid(long_slug, 64));
}

static void test_lifecycle_and_reopen(void **state)
{
    char *dir = clx_test_tmpdir();
    clx_store_t *store;
    clx_settings_t *s;
    char *err = NULL;
    clx_settings_problem_t p;
    char secret[CLX_KEY_SECRET_LEN + 1], revoked_secret[CLX_KEY_SECRET_LEN + 1];
    clx_apikey_t key, revoked;
    clx_key_info_t info;

    assert_int_equal(clx_store_open(dir, &store, &err), CLX_OK);
    assert_int_equal(clx_settings_open(store, &s), CLX_OK);
    assert_int_equal(clx_settings_get_workspace(s, "default", NULL), CLX_OK); /* a fresh folder has it */

    assert_int_equal(clx_settings_create_project(s, "default", "Bad Slug", NULL, NULL, &p), CLX_EINVAL);
    assert_string_equal(p.field, "slug");
    assert_int_equal(clx_settings_create_project(s, "nope", "x", NULL, NULL, &p), CLX_ENOTFOUND);
    assert_int_equal(clx_settings_create_project(s, "default", "support", "Support", NULL, &p), CLX_OK);
    assert_int_equal(clx_settings_create_project(s, "default", "support", NULL, NULL, &p), CLX_EEXIST);
    assert_int_equal(clx_settings_create_environment(s, "default", "support", "canary", NULL, &p), CLX_OK);
    assert_int_equal(clx_settings_create_environment(s, "default", "support", "prod", NULL, &p), CLX_EEXIST);
    assert_int_equal(clx_settings_create_environment(s, "default", "ghost", "prod", NULL, &p), CLX_ENOTFOUND);

    /* defaults must exist; a default environment needs a project */
    assert_int_equal(clx_settings_create_key(s, "default", "k", "ghost", NULL, NULL, NULL, secret, &p), CLX_ENOTFOUND);
    assert_string_equal(p.field, "defaultProject");
    assert_int_equal(clx_settings_create_key(s, "default", "k", NULL, "prod", NULL, NULL, secret, &p), CLX_EINVAL);
    assert_int_equal(clx_settings_create_key(s, "default", "", NULL, NULL, NULL, NULL, secret, &p), CLX_EINVAL);
    assert_int_equal(clx_settings_create_key(s, "default", "ci", "support", "canary", NULL, &key, secret, &p), CLX_OK);
    assert_int_equal(strlen(secret), CLX_KEY_SECRET_LEN);
    assert_memory_equal(secret, "clx_", 4);
    assert_int_equal(clx_settings_create_key(s, "default", "old", NULL, NULL, NULL, &revoked, revoked_secret, &p),
                     CLX_OK);
    assert_int_equal(clx_settings_revoke_key(s, "default", revoked.id), CLX_OK);
    assert_int_equal(clx_settings_revoke_key(s, "default", "key_000000000000"), CLX_ENOTFOUND);

    assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret), &info), CLX_OK);
    assert_string_equal(info.default_project, "support");
    assert_string_equal(info.default_environment, "canary");
    assert_int_equal(clx_settings_auth_key(s, revoked_secret, strlen(revoked_secret), &info), CLX_EUNAUTH);
    assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret) - 1, &info), CLX_EUNAUTH);

    char *generated = NULL;
    assert_int_equal(clx_settings_admin_init(s, NULL, &generated), CLX_OK);
    assert_non_null(generated);
    assert_int_equal(clx_settings_admin_check(s, generated, strlen(generated)), CLX_OK);
    assert_int_equal(clx_settings_admin_check(s, "wrong", 5), CLX_EUNAUTH);
    assert_int_equal(clx_settings_set_strict_mode(s, "default", 1, NULL), CLX_OK);

    clx_settings_destroy(s);
    clx_store_close(store);

    /* secrets are never stored in the clear */
    assert_false(dir_contains(dir, secret));
    assert_false(dir_contains(dir, generated));

    assert_int_equal(clx_store_open(dir, &store, &err), CLX_OK);
    assert_int_equal(clx_settings_open(store, &s), CLX_OK);
    assert_int_equal(count_projects(s, "default"), 1);
    clx_settings_read_begin(s);
    assert_true(clx_settings_has_environment_locked(s, "default", "support", "canary", 6));
    assert_true(clx_settings_has_environment_locked(s, "default", "support", "staging", 7));
    assert_false(clx_settings_has_environment_locked(s, "default", "support", "qa", 2));
    clx_settings_read_end(s);
    assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret), &info), CLX_OK);
    assert_int_equal(info.strict_mode, 1);
    assert_int_equal(clx_settings_auth_key(s, revoked_secret, strlen(revoked_secret), &info), CLX_EUNAUTH);
    char *again = NULL;
    assert_int_equal(clx_settings_admin_init(s, NULL, &again), CLX_OK);
    assert_null(again); /* generated once, accepted afterwards */
    assert_int_equal(clx_settings_admin_check(s, generated, strlen(generated)), CLX_OK);
    /* a configured token replaces the generated one */
    assert_int_equal(clx_settings_admin_init(s, "configured", &again), CLX_OK);
    assert_int_equal(clx_settings_admin_check(s, "configured", 10), CLX_OK);
    assert_int_equal(clx_settings_admin_check(s, generated, strlen(generated)), CLX_EUNAUTH);
    free(generated);

    clx_settings_destroy(s);
    clx_store_close(store);
    clx_test_rmdir(dir);
}

/* The per-thread key cache must never outlive a revocation or a change of defaults. */
static void test_key_cache_follows_changes(void **state)
{
    char *dir = clx_test_tmpdir();
    clx_store_t *store;
    clx_settings_t *s;
    char *err = NULL;
    clx_settings_problem_t p;
    char secret[CLX_KEY_SECRET_LEN + 1];
    clx_apikey_t key;
    clx_key_info_t info;
    assert_int_equal(clx_store_open(dir, &store, &err), CLX_OK);
    assert_int_equal(clx_settings_open(store, &s), CLX_OK);
    assert_int_equal(clx_settings_create_key(s, "default", "k", NULL, NULL, NULL, &key, secret, &p), CLX_OK);
    for (int i = 0; i < 3; i++) /* the second and third come from the cache */
        assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret), &info), CLX_OK);
    assert_int_equal(info.strict_mode, 0);
    assert_int_equal(clx_settings_set_strict_mode(s, "default", 1, NULL), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret), &info), CLX_OK);
    assert_int_equal(info.strict_mode, 1); /* not the cached copy */
    assert_int_equal(clx_settings_revoke_key(s, "default", key.id), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret), &info), CLX_EUNAUTH);
    clx_settings_destroy(s);
    clx_store_close(store);
    clx_test_rmdir(dir);
}

/* Cells: keys minted on a cell name it; keys from before the cell id keep working. */
static void test_cell_keys(void **state)
{
    char *dir = clx_test_tmpdir();
    clx_store_t *store;
    clx_settings_t *s;
    clx_settings_problem_t p;
    char legacy[CLX_KEY_SECRET_MAX + 1], celled[CLX_KEY_SECRET_MAX + 1], longest[CLX_KEY_SECRET_MAX + 1];
    clx_key_info_t info;

    assert_true(clx_cell_id_valid("c1"));
    assert_true(clx_cell_id_valid("eu2west"));
    assert_true(clx_cell_id_valid("abcdefghijklmnop")); /* 16 */
    assert_false(clx_cell_id_valid("abcdefghijklmnopq"));
    assert_false(clx_cell_id_valid(""));
    assert_false(clx_cell_id_valid("1c"));
    assert_false(clx_cell_id_valid("C1"));
    assert_false(clx_cell_id_valid("c_1")); /* '_' separates the cell in the key */
    assert_false(clx_cell_id_valid("c-1"));

    assert_int_equal(clx_store_open(dir, &store, NULL), CLX_OK);
    assert_int_equal(clx_settings_open(store, &s), CLX_OK);
    assert_int_equal(clx_settings_create_key(s, "default", "old", NULL, NULL, NULL, NULL, legacy, &p), CLX_OK);
    assert_int_equal(strlen(legacy), CLX_KEY_SECRET_LEN);
    assert_int_equal(clx_settings_set_cell(s, "C1"), CLX_EINVAL);
    assert_int_equal(clx_settings_set_cell(s, "c12"), CLX_OK);
    assert_int_equal(clx_settings_create_key(s, "default", "new", NULL, NULL, NULL, NULL, celled, &p), CLX_OK);
    assert_int_equal(strncmp(celled, "clx_c12_", 8), 0);
    assert_int_equal(strlen(celled), 8 + 40);
    for (size_t i = 8; i < strlen(celled); i++) /* the secret part has no '_': routers split on it */
        assert_true(celled[i] != '_');
    assert_int_equal(clx_settings_auth_key(s, celled, strlen(celled), &info), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, legacy, strlen(legacy), &info), CLX_OK);
    assert_int_equal(clx_settings_set_cell(s, "abcdefghijklmnop"), CLX_OK);
    assert_int_equal(clx_settings_create_key(s, "default", "l", NULL, NULL, NULL, NULL, longest, &p), CLX_OK);
    assert_int_equal(strlen(longest), CLX_KEY_SECRET_MAX);
    assert_int_equal(clx_settings_auth_key(s, longest, strlen(longest), &info), CLX_OK);
    /* and across a reopen, with or without the cell id */
    clx_settings_destroy(s);
    assert_int_equal(clx_settings_open(store, &s), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, celled, strlen(celled), &info), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, legacy, strlen(legacy), &info), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, longest, strlen(longest), &info), CLX_OK);
    clx_settings_destroy(s);
    clx_store_close(store);
    clx_test_rmdir(dir);
}

/* An open stream's re-check: free while nothing changed, a real check after any change. */
static void test_recheck_key(void **state)
{
    char *dir = clx_test_tmpdir();
    clx_store_t *store;
    clx_settings_t *s;
    char *err = NULL;
    clx_settings_problem_t p;
    char secret[CLX_KEY_SECRET_LEN + 1], other[CLX_KEY_SECRET_LEN + 1];
    clx_apikey_t key, okey;
    clx_key_info_t info;
    assert_int_equal(clx_store_open(dir, &store, &err), CLX_OK);
    assert_int_equal(clx_settings_open(store, &s), CLX_OK);
    assert_int_equal(clx_settings_create_key(s, "default", "k", NULL, NULL, NULL, &key, secret, &p), CLX_OK);
    assert_int_equal(clx_settings_create_key(s, "default", "o", NULL, NULL, NULL, &okey, other, &p), CLX_OK);
    assert_int_equal(clx_settings_auth_key(s, secret, strlen(secret), &info), CLX_OK);
    uint64_t gen = info.generation;
    assert_int_equal(clx_settings_recheck_key(s, secret, strlen(secret), &info), CLX_OK);
    /* unchanged generation: the secret is not even looked at (no hash, no lock) */
    assert_int_equal(clx_settings_recheck_key(s, "x", 1, &info), CLX_OK);
    assert_true(info.generation == gen);
    /* another key's revocation changes the generation: a real check, still valid, refreshed */
    assert_int_equal(clx_settings_revoke_key(s, "default", okey.id), CLX_OK);
    assert_int_equal(clx_settings_recheck_key(s, secret, strlen(secret), &info), CLX_OK);
    assert_true(info.generation > gen);
    assert_string_equal(info.key_id, key.id);
    /* a change of the workspace reaches the stream's copy */
    assert_int_equal(clx_settings_set_strict_mode(s, "default", 1, NULL), CLX_OK);
    assert_int_equal(clx_settings_recheck_key(s, secret, strlen(secret), &info), CLX_OK);
    assert_int_equal(info.strict_mode, 1);
    /* its own revocation: refused from the next check on */
    assert_int_equal(clx_settings_revoke_key(s, "default", key.id), CLX_OK);
    assert_int_equal(clx_settings_recheck_key(s, secret, strlen(secret), &info), CLX_EUNAUTH);
    assert_int_equal(clx_settings_recheck_key(s, secret, strlen(secret), &info), CLX_EUNAUTH);
    clx_settings_destroy(s);
    clx_store_close(store);
    clx_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slugs),
        cmocka_unit_test(test_lifecycle_and_reopen),
        cmocka_unit_test(test_key_cache_follows_changes),
        cmocka_unit_test(test_recheck_key),
        cmocka_unit_test(test_cell_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
