/*
 * settings_internal.h — what the settings service's files share: the service object, its
 * in-memory indexes, the record persistence, the input checks and the secrets. Not for
 * callers of the service (clx_settings.h is theirs), except the record loader, which the fuzz
 * harness (tests/fuzz/fuzz_settings_records.c) and tests drive on its own.
 *
 * Locking: readers (the ingest path, listings) hold lock shared; every change takes it
 * exclusively through clx_settings_write_lock, which also bumps the generation (so cached
 * key lookups made before the change are void) — before the change touches any record.
 */
#ifndef CLX_SETTINGS_INTERNAL_H
#define CLX_SETTINGS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "clx_map.h"
#include "clx_settings.h"
#include "clx_store.h"

/* growable array of record pointers, in creation order */
struct clx_settings_vec {
    void **items;
    size_t n, cap;
};

struct clx_settings {
    clx_store_t *store;
    pthread_rwlock_t lock;
    struct clx_settings_vec workspaces, projects, environments, keys, overrides, deployments;
    struct clx_settings_vec budgets, channels, aliases; /* issue 12; deleted ones stay (flagged) */
    clx_map_t *ws_by_slug;         /* slug -> clx_workspace_t* */
    clx_map_t *proj_by_slug;       /* ws '\0' project -> clx_project_t* */
    clx_map_t *env_by_slug;        /* ws '\0' project '\0' env -> clx_environment_t* */
    clx_map_t *key_by_hash;        /* sha256(secret) -> clx_apikey_t* */
    clx_map_t *key_by_id;          /* ws '\0' id -> clx_apikey_t* */
    clx_map_t *override_by_name;   /* ws '\0' provider '\0' model -> clx_price_override_t* */
    clx_map_t *deployment_by_name; /* ws '\0' deployment -> clx_deployment_t* */
    unsigned char admin_sha256[32];
    int admin_set;
    atomic_uint_fast64_t generation; /* bumped by every change: invalidates the key caches */
    char cell[CLX_CELL_ID_MAX + 1];  /* this cell's id, minted into new keys; "" without cells */
};

/* ---- settings.c: the object, its lock and its indexes ------------------------------------- */

/*
 * An empty settings object over store, nothing loaded. store may be NULL: then only loading
 * and the read paths (auth, lookups, listings) may be used — any change would write to it.
 * Free with clx_settings_destroy().
 */
clx_settings_t *clx_settings_create_detached(clx_store_t *store);
/* Takes the write lock for a change; cached key lookups made before it are void. */
void clx_settings_write_lock(clx_settings_t *s);
void clx_settings_unlock(clx_settings_t *s);

/* Map keys "a\0b\0c" (b, c may be NULL); returns the length. buf holds CLX_SETTINGS_MAPKEY_MAX. */
#define CLX_SETTINGS_MAPKEY_MAX (3 * (CLX_SLUG_MAX + 1) + 260)
size_t clx_settings_mapkey(char *buf, const char *a, const char *b, const char *c);
/* Copies a slug (NULL: "") into a CLX_SLUG_MAX + 1 buffer, cut to fit. */
void clx_settings_copy_slug(char *dst, const char *src);

/* Adds a record (heap, owned by s from now on) to its indexes; the caller holds the write
 * lock or is loading. An override or deployment replaces the one of its name in the lookup
 * map; the replaced record stays listed in its vector (pointers handed out stay valid). */
void clx_settings_index_workspace(clx_settings_t *s, clx_workspace_t *w);
void clx_settings_index_project(clx_settings_t *s, clx_project_t *p);
void clx_settings_index_environment(clx_settings_t *s, clx_environment_t *e);
void clx_settings_index_key(clx_settings_t *s, clx_apikey_t *k);
void clx_settings_index_override(clx_settings_t *s, clx_price_override_t *o);
void clx_settings_index_deployment(clx_settings_t *s, clx_deployment_t *d);
/* governance.c: adds a loaded or created budget / channel (replacing one with its id). */
void clx_settings_index_budget(clx_settings_t *s, clx_budget_def_t *b);
void clx_settings_index_channel(clx_settings_t *s, clx_channel_def_t *c);
void clx_settings_index_alias(clx_settings_t *s, clx_alias_def_t *a);
void clx_settings_free_governance(clx_settings_t *s);

/* ---- records.c: the settings column family ------------------------------------------------ */

/*
 * Loads one settings record (key and value as stored) into s, as clx_settings_open does.
 * CLX_OK (unknown kinds are skipped) or CLX_ECORRUPT for a value that does not decode; s stays
 * usable and destroyable either way.
 */
int clx_settings_load_record(clx_settings_t *s, const char *key, size_t klen, const void *val, size_t vlen);

/* Each puts the record of one setting into b (committed with clx_settings_commit). */
void clx_settings_put_workspace(clx_settings_t *s, clx_batch_t *b, const clx_workspace_t *w);
void clx_settings_put_project(clx_settings_t *s, clx_batch_t *b, const clx_project_t *p);
void clx_settings_put_environment(clx_settings_t *s, clx_batch_t *b, const clx_environment_t *e);
void clx_settings_put_key(clx_settings_t *s, clx_batch_t *b, const clx_apikey_t *k);
void clx_settings_put_budget(clx_settings_t *s, clx_batch_t *b, const clx_budget_def_t *d);
void clx_settings_put_channel(clx_settings_t *s, clx_batch_t *b, const clx_channel_def_t *c);
void clx_settings_put_alias(clx_settings_t *s, clx_batch_t *b, const clx_alias_def_t *a);
/* Deletes a "budget/" or "chan/" record (or "alias/ws/project/alias": c) from the store (synced). */
int clx_settings_delete_gov_record(clx_settings_t *s, const char *kind, const char *ws, const char *id);
int clx_settings_delete_alias_record(clx_settings_t *s, const char *ws, const char *project, const char *alias);
void clx_settings_put_override(clx_settings_t *s, clx_batch_t *b, const clx_price_override_t *o);
void clx_settings_put_deployment(clx_settings_t *s, clx_batch_t *b, const clx_deployment_t *d);
/* Deletes the record of an override / a deployment mapping, synced. CLX_OK or CLX_EIO. */
int clx_settings_delete_override_record(clx_settings_t *s, const char *ws, const char *provider, const char *model);
int clx_settings_delete_deployment_record(clx_settings_t *s, const char *ws, const char *deployment);
/* Puts the admin token's hash, synced. CLX_OK or CLX_EIO. */
int clx_settings_put_admin_hash(clx_settings_t *s, const unsigned char sha256[32]);
/* Writes b synced and frees it. CLX_OK, or the store's error (nothing written). */
int clx_settings_commit(clx_settings_t *s, clx_batch_t *b);

/* ---- checks.c: what admin input must look like --------------------------------------------- */

/* Each fills *problem (when not NULL) and returns its code: bad CLX_EINVAL, missing CLX_ENOTFOUND.
 * fmt takes one %s: arg. */
int clx_settings_bad(clx_settings_problem_t *problem, const char *field, const char *fmt, const char *arg);
int clx_settings_missing(clx_settings_problem_t *problem, const char *field, const char *fmt, const char *arg);
/* A required slug (clx_slug_valid), a display name (<= CLX_NAME_MAX bytes), a required text
 * of at most max bytes under the shared text rule, a price in USD per million tokens
 * (required, or -1 when absent). CLX_OK or CLX_EINVAL with *problem naming field. */
int clx_settings_check_slug(const char *slug, const char *field, clx_settings_problem_t *problem);
int clx_settings_check_name(const char *name, clx_settings_problem_t *problem);
int clx_settings_check_text(const char *v, size_t max, const char *field, clx_settings_problem_t *problem);
int clx_settings_parse_price(const char *text, const char *field, int required, int64_t *pico,
                             clx_settings_problem_t *problem);
/* True for NULL or "". */
int clx_settings_empty(const char *s);

/* ---- secrets.c: secrets and their hashes --------------------------------------------------- */

void clx_settings_sha256(const void *data, size_t len, unsigned char out[32]);
/* Fills buf[0..n) with random base62 / lowercase hex characters (the kernel's CSPRNG). */
void clx_settings_random_base62(char *buf, size_t n);
void clx_settings_random_hex(char *buf, size_t n);

#endif
