/*
 * secrets.c — secrets and what proves them: generating key secrets, ids and the admin token
 * from the kernel's CSPRNG, keeping only SHA-256 hashes, authenticating ingestion keys
 * (with a per-thread cache of the last key) and the admin token in constant time.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "settings_internal.h"

void clx_settings_sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

void clx_settings_random_base62(char *buf, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    while (i < n) {
        unsigned char raw[64];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
            clx_log(CLX_LOG_ERROR, "settings", "getrandom failed");
            abort();
        }
        /* rejection sampling keeps the distribution uniform: 248 = 4 * 62 */
        for (size_t j = 0; j < sizeof(raw) && i < n; j++)
            if (raw[j] < 248)
                buf[i++] = alphabet[raw[j] % 62];
    }
}

void clx_settings_random_hex(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    if (n > 2 * sizeof(raw) || getrandom(raw, (n + 1) / 2, 0) != (ssize_t)((n + 1) / 2)) {
        clx_log(CLX_LOG_ERROR, "settings", "getrandom failed");
        abort();
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
}

/* ---- the admin token -------------------------------------------------------------------------- */

int clx_settings_admin_init(clx_settings_t *s, const char *configured, char **generated)
{
    *generated = NULL;
    if (configured != NULL && configured[0] != '\0') {
        clx_settings_sha256(configured, strlen(configured), s->admin_sha256);
        s->admin_set = 1;
        return CLX_OK;
    }
    if (s->admin_set)
        return CLX_OK;
    char token[41] = "clxadm_";
    clx_settings_random_base62(token + 7, 33);
    token[40] = '\0';
    clx_settings_sha256(token, strlen(token), s->admin_sha256);
    int rc = clx_settings_put_admin_hash(s, s->admin_sha256);
    if (rc != CLX_OK)
        return rc;
    s->admin_set = 1;
    *generated = clx_xstrdup(token);
    return CLX_OK;
}

int clx_settings_admin_check(clx_settings_t *s, const char *token, size_t len)
{
    unsigned char h[32];
    if (!s->admin_set || token == NULL || len == 0)
        return CLX_EUNAUTH;
    clx_settings_sha256(token, len, h);
    return CRYPTO_memcmp(h, s->admin_sha256, 32) == 0 ? CLX_OK : CLX_EUNAUTH;
}

/* ---- ingestion keys -------------------------------------------------------------------------- */

/*
 * The last key each thread authenticated: a busy backend sends the same key over and over,
 * and this skips the SHA-256 and the lock. Valid while the settings' generation is unchanged
 * (any key, workspace or project change bumps it).
 */
struct key_cache {
    const clx_settings_t *settings;
    uint64_t generation;
    size_t len;
    char secret[CLX_KEY_SECRET_LEN + 20];
    clx_key_info_t info;
};
static __thread struct key_cache key_cache;

int clx_settings_auth_key(clx_settings_t *s, const char *secret, size_t len, clx_key_info_t *out)
{
    unsigned char h[32];
    if (secret == NULL || len == 0 || len > 256)
        return CLX_EUNAUTH;
    struct key_cache *kc = &key_cache;
    uint64_t gen = atomic_load(&s->generation);
    if (kc->settings == s && kc->generation == gen && kc->len == len && CRYPTO_memcmp(kc->secret, secret, len) == 0) {
        *out = kc->info;
        return CLX_OK;
    }
    clx_settings_sha256(secret, len, h);
    int rc = CLX_EUNAUTH;
    clx_settings_read_begin(s);
    const clx_apikey_t *k = clx_map_get(s->key_by_hash, h, 32);
    if (k != NULL && k->revoked_at_ms == 0) {
        const clx_workspace_t *w = clx_map_get(s->ws_by_slug, k->workspace, strlen(k->workspace));
        memcpy(out->key_id, k->id, sizeof(out->key_id));
        memcpy(out->workspace, k->workspace, sizeof(out->workspace));
        memcpy(out->default_project, k->default_project, sizeof(out->default_project));
        memcpy(out->default_environment, k->default_environment, sizeof(out->default_environment));
        memcpy(out->locked_environment, k->locked_environment, sizeof(out->locked_environment));
        out->strict_mode = w != NULL && w->strict_mode;
        out->window_back_ms = w != NULL && w->window_back_ms > 0 ? w->window_back_ms : CLX_WINDOW_BACK_DEFAULT_MS;
        out->window_forward_ms =
            w != NULL && w->window_forward_ms > 0 ? w->window_forward_ms : CLX_WINDOW_FORWARD_DEFAULT_MS;
        out->generation = gen;
        rc = CLX_OK;
        if (len <= sizeof(kc->secret)) {
            kc->settings = s;
            kc->generation = gen;
            kc->len = len;
            memcpy(kc->secret, secret, len);
            kc->info = *out;
        }
    }
    clx_settings_read_end(s);
    return rc;
}

int clx_settings_recheck_key(clx_settings_t *s, const char *secret, size_t len, clx_key_info_t *info)
{
    /* a change takes the write lock and bumps the generation before it touches any record, so
     * an unchanged generation means the key found valid then is still valid now */
    if (atomic_load(&s->generation) == info->generation)
        return CLX_OK;
    clx_key_info_t fresh;
    int rc = clx_settings_auth_key(s, secret, len, &fresh);
    if (rc == CLX_OK)
        *info = fresh;
    return rc;
}
