/*
 * keys.c — ingestion keys: created (the secret shown once, only its hash kept), revoked,
 * listed. Authenticating them is secrets.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "settings_internal.h"

int clx_cell_id_valid(const char *id)
{
    size_t n = 0;
    if (id == NULL || !(id[0] >= 'a' && id[0] <= 'z'))
        return 0;
    for (; id[n] != '\0'; n++)
        if (n == CLX_CELL_ID_MAX || !((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= '0' && id[n] <= '9')))
            return 0;
    return 1;
}

int clx_settings_set_cell(clx_settings_t *s, const char *cell)
{
    if (cell == NULL || cell[0] == '\0') {
        s->cell[0] = '\0';
        return CLX_OK;
    }
    if (!clx_cell_id_valid(cell))
        return CLX_EINVAL;
    snprintf(s->cell, sizeof(s->cell), "%s", cell);
    return CLX_OK;
}

int clx_settings_create_key(clx_settings_t *s, const char *ws, const char *name, const char *default_project,
                            const char *default_environment, const char *locked_environment, clx_apikey_t *out,
                            char *secret, clx_settings_problem_t *problem)
{
    int rc;
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (clx_settings_empty(name))
        return clx_settings_bad(problem, "name", "%s is required: it is shown in the dashboard", "name");
    if ((rc = clx_settings_check_name(name, problem)) != CLX_OK)
        return rc;
    if (!clx_settings_empty(default_project) &&
        (rc = clx_settings_check_slug(default_project, "defaultProject", problem)) != CLX_OK)
        return rc;
    if (!clx_settings_empty(default_environment) &&
        (rc = clx_settings_check_slug(default_environment, "defaultEnvironment", problem)) != CLX_OK)
        return rc;
    if (!clx_settings_empty(locked_environment) &&
        (rc = clx_settings_check_slug(locked_environment, "environment", problem)) != CLX_OK)
        return rc;
    if (!clx_settings_empty(default_environment) && clx_settings_empty(default_project))
        return clx_settings_bad(problem, "defaultEnvironment",
                                "%s needs a defaultProject: environments belong to a project", "defaultEnvironment");
    if (!clx_settings_empty(locked_environment) && !clx_settings_empty(default_environment) &&
        strcmp(locked_environment, default_environment) != 0)
        return clx_settings_bad(problem, "defaultEnvironment", "%s must equal the locked environment when both are set",
                                "defaultEnvironment");
    if (clx_settings_empty(default_environment))
        default_environment = locked_environment;
    if (strlen(ws) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);

    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    if (!clx_settings_empty(default_project) &&
        clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, default_project, NULL)) == NULL) {
        rc = clx_settings_missing(problem, "defaultProject", "project '%s' does not exist", default_project);
        goto done;
    }
    if (!clx_settings_empty(default_project) && !clx_settings_empty(default_environment) &&
        clx_map_get(s->env_by_slug, k, clx_settings_mapkey(k, ws, default_project, default_environment)) == NULL) {
        rc = clx_settings_missing(problem, "defaultEnvironment",
                                  "environment '%s' does not exist in the default project", default_environment);
        goto done;
    }
    clx_apikey_t *key = clx_xcalloc(1, sizeof(*key));
    memcpy(key->id, "key_", 4);
    clx_settings_random_hex(key->id + 4, 12);
    /* "clx_" [<cell> "_"] 40 base62: the cell, when set, names where the key's traffic goes */
    size_t sl = (size_t)snprintf(secret, CLX_KEY_SECRET_MAX + 1, "clx_%s%s", s->cell, s->cell[0] ? "_" : "");
    clx_settings_random_base62(secret + sl, CLX_KEY_SECRET_LEN - 4);
    sl += CLX_KEY_SECRET_LEN - 4;
    secret[sl] = '\0';
    clx_settings_sha256(secret, sl, key->secret_sha256);
    memcpy(key->prefix, secret, 8);
    clx_settings_copy_slug(key->workspace, ws);
    key->name = clx_xstrdup(name);
    clx_settings_copy_slug(key->default_project, default_project);
    clx_settings_copy_slug(key->default_environment, default_environment);
    clx_settings_copy_slug(key->locked_environment, locked_environment);
    key->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_key(s, b, key);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(key->name);
        free(key);
        memset(secret, 0, sl);
        goto done;
    }
    clx_settings_index_key(s, key);
    if (out != NULL)
        *out = *key;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_revoke_key(clx_settings_t *s, const char *ws, const char *id)
{
    int rc = CLX_OK;
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if (strlen(ws) > CLX_SLUG_MAX || strlen(id) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    clx_settings_write_lock(s);
    clx_apikey_t *key = clx_map_get(s->key_by_id, k, clx_settings_mapkey(k, ws, id, NULL));
    if (key == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if (key->revoked_at_ms != 0)
        goto done; /* revoking twice is harmless */
    clx_apikey_t updated = *key;
    updated.revoked_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_key(s, b, &updated);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK)
        goto done;
    key->revoked_at_ms = updated.revoked_at_ms;
    clx_map_remove(s->key_by_hash, key->secret_sha256, 32);
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_list_keys(clx_settings_t *s, const char *ws, clx_key_fn fn, void *arg)
{
    int rc = CLX_OK;
    clx_settings_read_begin(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->keys.n; i++) {
        const clx_apikey_t *k = s->keys.items[i];
        if (strcmp(k->workspace, ws) == 0)
            fn(arg, k);
    }
done:
    clx_settings_read_end(s);
    return rc;
}
