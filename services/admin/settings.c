/*
 * settings.c — workspace settings: persisted records in CF_SETTINGS mirrored in memory,
 * secret generation and hashing for ingestion keys and the admin token.
 */
#include "clx_settings.h"
#include "clx_utf8.h"
#include "settings_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_map.h"
#include "clx_mem.h"
#include "clx_money.h"
#include "clx_pricing.h"
#include "costlynx/store/v1/records.pb-c.h"

#define ADMIN_TOKEN_KEY "admin/token"

/* growable array of record pointers, in creation order */
struct vec {
    void **items;
    size_t n, cap;
};

static void vec_push(struct vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->items = clx_xrealloc(v->items, v->cap * sizeof(void *));
    }
    v->items[v->n++] = p;
}

struct clx_settings {
    clx_store_t *store;
    pthread_rwlock_t lock;
    struct vec workspaces, projects, environments, keys, overrides, deployments;
    clx_map_t *ws_by_slug;   /* slug -> clx_workspace_t* */
    clx_map_t *proj_by_slug; /* ws '\0' project -> clx_project_t* */
    clx_map_t *env_by_slug;  /* ws '\0' project '\0' env -> clx_environment_t* */
    clx_map_t *key_by_hash;  /* sha256(secret) -> clx_apikey_t* */
    clx_map_t *key_by_id;    /* ws '\0' id -> clx_apikey_t* */
    clx_map_t *override_by_name;   /* ws '\0' provider '\0' model -> clx_price_override_t* */
    clx_map_t *deployment_by_name; /* ws '\0' deployment -> clx_deployment_t* */
    unsigned char admin_sha256[32];
    int admin_set;
    atomic_uint_fast64_t generation; /* bumped by every change: invalidates the key caches */
};

/* Takes the write lock for a change; cached key lookups made before it are void. */
static void write_lock(clx_settings_t *s)
{
    pthread_rwlock_wrlock(&s->lock);
    atomic_fetch_add(&s->generation, 1);
}

static const char *const default_envs[] = {"prod", "staging", "dev"};

int clx_slug_valid(const char *s, size_t len)
{
    if (len == 0 || len > CLX_SLUG_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));
        if (!ok)
            return 0;
    }
    return 1;
}

/* Composes "a\0b\0c" map keys; returns the length. buf must hold 3 slugs. */
static size_t compose(char *buf, const char *a, const char *b, const char *c)
{
    size_t n = strlen(a);
    memcpy(buf, a, n);
    if (b != NULL) {
        buf[n++] = '\0';
        size_t bl = strlen(b);
        memcpy(buf + n, b, bl);
        n += bl;
    }
    if (c != NULL) {
        buf[n++] = '\0';
        size_t cl = strlen(c);
        memcpy(buf + n, c, cl);
        n += cl;
    }
    return n;
}

#define MAPKEY_MAX (3 * (CLX_SLUG_MAX + 1) + 260)

static void copy_slug(char *dst, const char *src)
{
    snprintf(dst, CLX_SLUG_MAX + 1, "%s", src != NULL ? src : "");
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

/* Fills buf[0..n) with base62 characters from the kernel's CSPRNG. */
static void random_base62(char *buf, size_t n)
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

static void random_hex(char *buf, size_t n)
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

/* ---- persistence ------------------------------------------------------------------ */

static int put_message(clx_settings_t *s, clx_batch_t *b, const char *key, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = clx_xmalloc(len);
    protobuf_c_message_pack(m, buf);
    clx_batch_put(b, s->store, CLX_CF_SETTINGS, key, strlen(key), buf, len);
    free(buf);
    return CLX_OK;
}

static void batch_workspace(clx_settings_t *s, clx_batch_t *b, const clx_workspace_t *w)
{
    Costlynx__Store__V1__Workspace m = COSTLYNX__STORE__V1__WORKSPACE__INIT;
    m.slug = (char *)w->slug;
    m.name = w->name;
    m.strict_mode = w->strict_mode;
    m.created_at_ms = w->created_at_ms;
    char key[8 + CLX_SLUG_MAX];
    snprintf(key, sizeof(key), "ws/%s", w->slug);
    put_message(s, b, key, &m.base);
}

static void batch_project(clx_settings_t *s, clx_batch_t *b, const clx_project_t *p)
{
    Costlynx__Store__V1__Project m = COSTLYNX__STORE__V1__PROJECT__INIT;
    m.workspace = (char *)p->workspace;
    m.slug = (char *)p->slug;
    m.name = p->name;
    m.created_at_ms = p->created_at_ms;
    char key[16 + 2 * CLX_SLUG_MAX];
    snprintf(key, sizeof(key), "proj/%s/%s", p->workspace, p->slug);
    put_message(s, b, key, &m.base);
}

static void batch_environment(clx_settings_t *s, clx_batch_t *b, const clx_environment_t *e)
{
    Costlynx__Store__V1__Environment m = COSTLYNX__STORE__V1__ENVIRONMENT__INIT;
    m.workspace = (char *)e->workspace;
    m.project = (char *)e->project;
    m.slug = (char *)e->slug;
    m.created_at_ms = e->created_at_ms;
    char key[16 + 3 * CLX_SLUG_MAX];
    snprintf(key, sizeof(key), "env/%s/%s/%s", e->workspace, e->project, e->slug);
    put_message(s, b, key, &m.base);
}

static void batch_key(clx_settings_t *s, clx_batch_t *b, const clx_apikey_t *k)
{
    Costlynx__Store__V1__ApiKey m = COSTLYNX__STORE__V1__API_KEY__INIT;
    m.id = (char *)k->id;
    m.workspace = (char *)k->workspace;
    m.name = k->name;
    m.secret_sha256.data = (uint8_t *)k->secret_sha256;
    m.secret_sha256.len = 32;
    m.prefix = (char *)k->prefix;
    m.default_project = (char *)k->default_project;
    m.default_environment = (char *)k->default_environment;
    m.locked_environment = (char *)k->locked_environment;
    m.created_at_ms = k->created_at_ms;
    m.revoked_at_ms = k->revoked_at_ms;
    char key[16 + CLX_SLUG_MAX + CLX_KEY_ID_LEN];
    snprintf(key, sizeof(key), "key/%s/%s", k->workspace, k->id);
    put_message(s, b, key, &m.base);
}

static int commit(clx_settings_t *s, clx_batch_t *b)
{
    int rc = clx_store_write(s->store, b, 1);
    clx_batch_destroy(b);
    return rc;
}

/* ---- in-memory indexes (caller holds the write lock, or is opening) ----------------- */

static void index_workspace(clx_settings_t *s, clx_workspace_t *w)
{
    vec_push(&s->workspaces, w);
    clx_map_put(s->ws_by_slug, w->slug, strlen(w->slug), w);
}

static void index_project(clx_settings_t *s, clx_project_t *p)
{
    char k[MAPKEY_MAX];
    vec_push(&s->projects, p);
    clx_map_put(s->proj_by_slug, k, compose(k, p->workspace, p->slug, NULL), p);
}

static void index_environment(clx_settings_t *s, clx_environment_t *e)
{
    char k[MAPKEY_MAX];
    vec_push(&s->environments, e);
    clx_map_put(s->env_by_slug, k, compose(k, e->workspace, e->project, e->slug), e);
}

static void index_key(clx_settings_t *s, clx_apikey_t *k)
{
    char mk[MAPKEY_MAX];
    vec_push(&s->keys, k);
    clx_map_put(s->key_by_id, mk, compose(mk, k->workspace, k->id, NULL), k);
    if (k->revoked_at_ms == 0)
        clx_map_put(s->key_by_hash, k->secret_sha256, 32, k);
}

static void override_id(clx_price_override_t *o)
{
    char day[16];
    time_t t = (time_t)(o->created_at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(o->id, sizeof(o->id), "override:%s/%s/%s@%s", o->workspace, o->provider, o->model, day);
}

/* Replaces (or adds) an override in the indexes; the replaced one is kept until destroy. */
static void index_override(clx_settings_t *s, clx_price_override_t *o)
{
    char k[MAPKEY_MAX];
    override_id(o);
    vec_push(&s->overrides, o);
    clx_map_put(s->override_by_name, k, compose(k, o->workspace, o->provider, o->model), o);
}

static void index_deployment(clx_settings_t *s, clx_deployment_t *d)
{
    char k[MAPKEY_MAX];
    vec_push(&s->deployments, d);
    clx_map_put(s->deployment_by_name, k, compose(k, d->workspace, d->deployment, NULL), d);
}

static int load_record(clx_settings_t *s, const char *key, size_t klen, const char *val, size_t vlen)
{
    const uint8_t *v = (const uint8_t *)val;
    if (klen > 3 && memcmp(key, "ws/", 3) == 0) {
        Costlynx__Store__V1__Workspace *m = costlynx__store__v1__workspace__unpack(NULL, vlen, v);
        if (m == NULL)
            return CLX_ECORRUPT;
        clx_workspace_t *w = clx_xcalloc(1, sizeof(*w));
        copy_slug(w->slug, m->slug);
        w->name = clx_xstrdup(m->name);
        w->strict_mode = m->strict_mode;
        w->created_at_ms = m->created_at_ms;
        costlynx__store__v1__workspace__free_unpacked(m, NULL);
        index_workspace(s, w);
    } else if (klen > 5 && memcmp(key, "proj/", 5) == 0) {
        Costlynx__Store__V1__Project *m = costlynx__store__v1__project__unpack(NULL, vlen, v);
        if (m == NULL)
            return CLX_ECORRUPT;
        clx_project_t *p = clx_xcalloc(1, sizeof(*p));
        copy_slug(p->workspace, m->workspace);
        copy_slug(p->slug, m->slug);
        p->name = clx_xstrdup(m->name);
        p->created_at_ms = m->created_at_ms;
        costlynx__store__v1__project__free_unpacked(m, NULL);
        index_project(s, p);
    } else if (klen > 4 && memcmp(key, "env/", 4) == 0) {
        Costlynx__Store__V1__Environment *m = costlynx__store__v1__environment__unpack(NULL, vlen, v);
        if (m == NULL)
            return CLX_ECORRUPT;
        clx_environment_t *e = clx_xcalloc(1, sizeof(*e));
        copy_slug(e->workspace, m->workspace);
        copy_slug(e->project, m->project);
        copy_slug(e->slug, m->slug);
        e->created_at_ms = m->created_at_ms;
        costlynx__store__v1__environment__free_unpacked(m, NULL);
        index_environment(s, e);
    } else if (klen > 4 && memcmp(key, "key/", 4) == 0) {
        Costlynx__Store__V1__ApiKey *m = costlynx__store__v1__api_key__unpack(NULL, vlen, v);
        if (m == NULL || m->secret_sha256.len != 32) {
            if (m != NULL)
                costlynx__store__v1__api_key__free_unpacked(m, NULL);
            return CLX_ECORRUPT;
        }
        clx_apikey_t *k = clx_xcalloc(1, sizeof(*k));
        snprintf(k->id, sizeof(k->id), "%s", m->id);
        copy_slug(k->workspace, m->workspace);
        k->name = clx_xstrdup(m->name);
        memcpy(k->secret_sha256, m->secret_sha256.data, 32);
        snprintf(k->prefix, sizeof(k->prefix), "%s", m->prefix);
        copy_slug(k->default_project, m->default_project);
        copy_slug(k->default_environment, m->default_environment);
        copy_slug(k->locked_environment, m->locked_environment);
        k->created_at_ms = m->created_at_ms;
        k->revoked_at_ms = m->revoked_at_ms;
        costlynx__store__v1__api_key__free_unpacked(m, NULL);
        index_key(s, k);
    } else if (klen > 4 && memcmp(key, "ovr/", 4) == 0) {
        Costlynx__Store__V1__PriceOverride *m = costlynx__store__v1__price_override__unpack(NULL, vlen, v);
        if (m == NULL)
            return CLX_ECORRUPT;
        clx_price_override_t *o = clx_xcalloc(1, sizeof(*o));
        copy_slug(o->workspace, m->workspace);
        copy_slug(o->provider, m->provider);
        snprintf(o->model, sizeof(o->model), "%s", m->model);
        o->input_pico = m->input_pico;
        o->output_pico = m->output_pico;
        o->cached_input_pico = m->cached_input_pico;
        o->cache_write_pico = m->cache_write_pico;
        o->created_at_ms = m->created_at_ms;
        o->note = clx_xstrdup(m->note);
        costlynx__store__v1__price_override__free_unpacked(m, NULL);
        index_override(s, o);
    } else if (klen > 4 && memcmp(key, "dep/", 4) == 0) {
        Costlynx__Store__V1__DeploymentMapping *m = costlynx__store__v1__deployment_mapping__unpack(NULL, vlen, v);
        if (m == NULL)
            return CLX_ECORRUPT;
        clx_deployment_t *d = clx_xcalloc(1, sizeof(*d));
        copy_slug(d->workspace, m->workspace);
        snprintf(d->deployment, sizeof(d->deployment), "%s", m->deployment);
        snprintf(d->model, sizeof(d->model), "%s", m->model);
        d->created_at_ms = m->created_at_ms;
        costlynx__store__v1__deployment_mapping__free_unpacked(m, NULL);
        index_deployment(s, d);
    } else if (klen == strlen(ADMIN_TOKEN_KEY) && memcmp(key, ADMIN_TOKEN_KEY, klen) == 0) {
        if (vlen != 32)
            return CLX_ECORRUPT;
        memcpy(s->admin_sha256, val, 32);
        s->admin_set = 1;
    }
    /* unknown kinds are skipped: a newer version may have written them */
    return CLX_OK;
}

clx_settings_t *clx_settings_create_detached(clx_store_t *store)
{
    clx_settings_t *s = clx_xcalloc(1, sizeof(*s));
    s->store = store;
    pthread_rwlock_init(&s->lock, NULL);
    s->ws_by_slug = clx_map_create();
    s->proj_by_slug = clx_map_create();
    s->env_by_slug = clx_map_create();
    s->key_by_hash = clx_map_create();
    s->key_by_id = clx_map_create();
    s->override_by_name = clx_map_create();
    s->deployment_by_name = clx_map_create();
    return s;
}

int clx_settings_load_record(clx_settings_t *s, const char *key, size_t klen, const void *val, size_t vlen)
{
    return load_record(s, key, klen, val, vlen);
}

int clx_settings_open(clx_store_t *store, clx_settings_t **out)
{
    int rc = CLX_OK;
    clx_settings_t *s = clx_settings_create_detached(store);

    clx_iter_t *it = clx_iter_create(store, CLX_CF_SETTINGS, NULL, 0);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        const char *v = clx_iter_value(it, &vlen);
        if ((rc = load_record(s, k, klen, v, vlen)) != CLX_OK) {
            clx_log(CLX_LOG_ERROR, "settings", "unreadable settings record %.*s", (int)(klen > 80 ? 80 : klen), k);
            break;
        }
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    if (rc != CLX_OK)
        goto fail;

    if (clx_map_get(s->ws_by_slug, "default", 7) == NULL) {
        clx_settings_problem_t problem;
        rc = clx_settings_create_workspace(s, "default", "Default workspace", NULL, &problem);
        if (rc != CLX_OK)
            goto fail;
    }
    *out = s;
    return CLX_OK;

fail:
    clx_settings_destroy(s);
    return rc;
}

void clx_settings_destroy(clx_settings_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->workspaces.n; i++) {
        clx_workspace_t *w = s->workspaces.items[i];
        free(w->name);
        free(w);
    }
    for (size_t i = 0; i < s->projects.n; i++) {
        clx_project_t *p = s->projects.items[i];
        free(p->name);
        free(p);
    }
    for (size_t i = 0; i < s->environments.n; i++)
        free(s->environments.items[i]);
    for (size_t i = 0; i < s->keys.n; i++) {
        clx_apikey_t *k = s->keys.items[i];
        free(k->name);
        free(k);
    }
    for (size_t i = 0; i < s->overrides.n; i++) {
        clx_price_override_t *o = s->overrides.items[i];
        free(o->note);
        free(o);
    }
    for (size_t i = 0; i < s->deployments.n; i++)
        free(s->deployments.items[i]);
    free(s->overrides.items);
    free(s->deployments.items);
    clx_map_destroy(s->override_by_name);
    clx_map_destroy(s->deployment_by_name);
    free(s->workspaces.items);
    free(s->projects.items);
    free(s->environments.items);
    free(s->keys.items);
    clx_map_destroy(s->ws_by_slug);
    clx_map_destroy(s->proj_by_slug);
    clx_map_destroy(s->env_by_slug);
    clx_map_destroy(s->key_by_hash);
    clx_map_destroy(s->key_by_id);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

/* ---- admin token --------------------------------------------------------------------- */

int clx_settings_admin_init(clx_settings_t *s, const char *configured, char **generated)
{
    *generated = NULL;
    if (configured != NULL && configured[0] != '\0') {
        sha256(configured, strlen(configured), s->admin_sha256);
        s->admin_set = 1;
        return CLX_OK;
    }
    if (s->admin_set)
        return CLX_OK;
    char token[41] = "clxadm_";
    random_base62(token + 7, 33);
    token[40] = '\0';
    sha256(token, strlen(token), s->admin_sha256);
    int rc = clx_store_put(s->store, CLX_CF_SETTINGS, ADMIN_TOKEN_KEY, strlen(ADMIN_TOKEN_KEY), s->admin_sha256, 32);
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
    sha256(token, len, h);
    return CRYPTO_memcmp(h, s->admin_sha256, 32) == 0 ? CLX_OK : CLX_EUNAUTH;
}

/* ---- ingest-path lookups --------------------------------------------------------------- */

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
    sha256(secret, len, h);
    int rc = CLX_EUNAUTH;
    pthread_rwlock_rdlock(&s->lock);
    const clx_apikey_t *k = clx_map_get(s->key_by_hash, h, 32);
    if (k != NULL && k->revoked_at_ms == 0) {
        const clx_workspace_t *w = clx_map_get(s->ws_by_slug, k->workspace, strlen(k->workspace));
        memcpy(out->key_id, k->id, sizeof(out->key_id));
        memcpy(out->workspace, k->workspace, sizeof(out->workspace));
        memcpy(out->default_project, k->default_project, sizeof(out->default_project));
        memcpy(out->default_environment, k->default_environment, sizeof(out->default_environment));
        memcpy(out->locked_environment, k->locked_environment, sizeof(out->locked_environment));
        out->strict_mode = w != NULL && w->strict_mode;
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
    pthread_rwlock_unlock(&s->lock);
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

void clx_settings_read_begin(clx_settings_t *s)
{
    pthread_rwlock_rdlock(&s->lock);
}

void clx_settings_read_end(clx_settings_t *s)
{
    pthread_rwlock_unlock(&s->lock);
}

int clx_settings_has_project_locked(clx_settings_t *s, const char *ws, const char *project, size_t plen)
{
    char k[MAPKEY_MAX];
    size_t wl = strlen(ws);
    if (plen > CLX_SLUG_MAX || wl > CLX_SLUG_MAX)
        return 0;
    memcpy(k, ws, wl);
    k[wl] = '\0';
    memcpy(k + wl + 1, project, plen);
    return clx_map_get(s->proj_by_slug, k, wl + 1 + plen) != NULL;
}

int clx_settings_has_environment_locked(clx_settings_t *s, const char *ws, const char *project, const char *env,
                                        size_t elen)
{
    char k[MAPKEY_MAX];
    if (elen > CLX_SLUG_MAX || strlen(ws) > CLX_SLUG_MAX || strlen(project) > CLX_SLUG_MAX)
        return 0;
    size_t n = compose(k, ws, project, NULL);
    k[n++] = '\0';
    memcpy(k + n, env, elen);
    return clx_map_get(s->env_by_slug, k, n + elen) != NULL;
}

/* ---- admin operations ------------------------------------------------------------------ */

static int bad(clx_settings_problem_t *problem, const char *field, const char *fmt, const char *arg)
{
    if (problem != NULL) {
        problem->field = field;
        snprintf(problem->message, sizeof(problem->message), fmt, arg);
    }
    return CLX_EINVAL;
}

static int missing(clx_settings_problem_t *problem, const char *field, const char *fmt, const char *arg)
{
    bad(problem, field, fmt, arg);
    return CLX_ENOTFOUND;
}

static int check_slug(const char *slug, const char *field, clx_settings_problem_t *problem)
{
    if (slug == NULL || slug[0] == '\0')
        return bad(problem, field, "%s is required", field);
    if (!clx_slug_valid(slug, strlen(slug)))
        return bad(problem, field,
                   "%s must be 1-64 characters of lowercase letters, digits, '-' or '_', starting with a letter or "
                   "digit",
                   field);
    return CLX_OK;
}

static int check_name(const char *name, clx_settings_problem_t *problem)
{
    if (name != NULL && strlen(name) > CLX_NAME_MAX)
        return bad(problem, "name", "%s must be at most 200 bytes", "name");
    return CLX_OK;
}

int clx_settings_create_workspace(clx_settings_t *s, const char *slug, const char *name, clx_workspace_t *out,
                                  clx_settings_problem_t *problem)
{
    int rc;
    if ((rc = check_slug(slug, "slug", problem)) != CLX_OK || (rc = check_name(name, problem)) != CLX_OK)
        return rc;
    write_lock(s);
    if (clx_map_get(s->ws_by_slug, slug, strlen(slug)) != NULL) {
        bad(problem, "slug", "workspace '%s' already exists", slug);
        rc = CLX_EEXIST;
        goto done;
    }
    clx_workspace_t *w = clx_xcalloc(1, sizeof(*w));
    copy_slug(w->slug, slug);
    w->name = clx_xstrdup(name != NULL && name[0] != '\0' ? name : slug);
    w->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    batch_workspace(s, b, w);
    if ((rc = commit(s, b)) != CLX_OK) {
        free(w->name);
        free(w);
        goto done;
    }
    index_workspace(s, w);
    if (out != NULL)
        *out = *w;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_get_workspace(clx_settings_t *s, const char *slug, clx_workspace_t *out)
{
    pthread_rwlock_rdlock(&s->lock);
    const clx_workspace_t *w = clx_map_get(s->ws_by_slug, slug, strlen(slug));
    if (w != NULL && out != NULL)
        *out = *w;
    pthread_rwlock_unlock(&s->lock);
    return w != NULL ? CLX_OK : CLX_ENOTFOUND;
}

int clx_settings_set_strict_mode(clx_settings_t *s, const char *ws, int strict, clx_workspace_t *out)
{
    int rc = CLX_OK;
    write_lock(s);
    clx_workspace_t *w = clx_map_get(s->ws_by_slug, ws, strlen(ws));
    if (w == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    clx_workspace_t updated = *w;
    updated.strict_mode = strict != 0;
    clx_batch_t *b = clx_batch_create();
    batch_workspace(s, b, &updated);
    if ((rc = commit(s, b)) != CLX_OK)
        goto done;
    w->strict_mode = updated.strict_mode;
    if (out != NULL)
        *out = *w;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_create_project(clx_settings_t *s, const char *ws, const char *slug, const char *name,
                                clx_project_t *out, clx_settings_problem_t *problem)
{
    int rc;
    char k[MAPKEY_MAX];
    if ((rc = check_slug(slug, "slug", problem)) != CLX_OK || (rc = check_name(name, problem)) != CLX_OK)
        return rc;
    write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    if (clx_map_get(s->proj_by_slug, k, compose(k, ws, slug, NULL)) != NULL) {
        bad(problem, "slug", "project '%s' already exists", slug);
        rc = CLX_EEXIST;
        goto done;
    }
    int64_t now = clx_now_ms();
    clx_project_t *p = clx_xcalloc(1, sizeof(*p));
    copy_slug(p->workspace, ws);
    copy_slug(p->slug, slug);
    p->name = clx_xstrdup(name != NULL && name[0] != '\0' ? name : slug);
    p->created_at_ms = now;
    /* the guide's standard environments come with every project */
    clx_environment_t *envs[3];
    clx_batch_t *b = clx_batch_create();
    batch_project(s, b, p);
    for (size_t i = 0; i < 3; i++) {
        envs[i] = clx_xcalloc(1, sizeof(clx_environment_t));
        copy_slug(envs[i]->workspace, ws);
        copy_slug(envs[i]->project, slug);
        copy_slug(envs[i]->slug, default_envs[i]);
        envs[i]->created_at_ms = now;
        batch_environment(s, b, envs[i]);
    }
    if ((rc = commit(s, b)) != CLX_OK) {
        for (size_t i = 0; i < 3; i++)
            free(envs[i]);
        free(p->name);
        free(p);
        goto done;
    }
    index_project(s, p);
    for (size_t i = 0; i < 3; i++)
        index_environment(s, envs[i]);
    if (out != NULL)
        *out = *p;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_get_project(clx_settings_t *s, const char *ws, const char *slug, clx_project_t *out)
{
    char k[MAPKEY_MAX];
    if (strlen(ws) > CLX_SLUG_MAX || strlen(slug) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    pthread_rwlock_rdlock(&s->lock);
    const clx_project_t *p = clx_map_get(s->proj_by_slug, k, compose(k, ws, slug, NULL));
    if (p != NULL && out != NULL)
        *out = *p;
    pthread_rwlock_unlock(&s->lock);
    return p != NULL ? CLX_OK : CLX_ENOTFOUND;
}

int clx_settings_create_environment(clx_settings_t *s, const char *ws, const char *project, const char *slug,
                                    clx_environment_t *out, clx_settings_problem_t *problem)
{
    int rc;
    char k[MAPKEY_MAX];
    if ((rc = check_slug(slug, "slug", problem)) != CLX_OK)
        return rc;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(project) > CLX_SLUG_MAX)
        return missing(problem, "project", "project '%s' does not exist", project);
    write_lock(s);
    if (clx_map_get(s->proj_by_slug, k, compose(k, ws, project, NULL)) == NULL) {
        rc = missing(problem, "project", "project '%s' does not exist", project);
        goto done;
    }
    if (clx_map_get(s->env_by_slug, k, compose(k, ws, project, slug)) != NULL) {
        bad(problem, "slug", "environment '%s' already exists", slug);
        rc = CLX_EEXIST;
        goto done;
    }
    clx_environment_t *e = clx_xcalloc(1, sizeof(*e));
    copy_slug(e->workspace, ws);
    copy_slug(e->project, project);
    copy_slug(e->slug, slug);
    e->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    batch_environment(s, b, e);
    if ((rc = commit(s, b)) != CLX_OK) {
        free(e);
        goto done;
    }
    index_environment(s, e);
    if (out != NULL)
        *out = *e;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static int empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

int clx_settings_create_key(clx_settings_t *s, const char *ws, const char *name, const char *default_project,
                            const char *default_environment, const char *locked_environment, clx_apikey_t *out,
                            char *secret, clx_settings_problem_t *problem)
{
    int rc;
    char k[MAPKEY_MAX];
    if (empty(name))
        return bad(problem, "name", "%s is required: it is shown in the dashboard", "name");
    if ((rc = check_name(name, problem)) != CLX_OK)
        return rc;
    if (!empty(default_project) && (rc = check_slug(default_project, "defaultProject", problem)) != CLX_OK)
        return rc;
    if (!empty(default_environment) &&
        (rc = check_slug(default_environment, "defaultEnvironment", problem)) != CLX_OK)
        return rc;
    if (!empty(locked_environment) && (rc = check_slug(locked_environment, "environment", problem)) != CLX_OK)
        return rc;
    if (!empty(default_environment) && empty(default_project))
        return bad(problem, "defaultEnvironment", "%s needs a defaultProject: environments belong to a project",
                   "defaultEnvironment");
    if (!empty(locked_environment) && !empty(default_environment) &&
        strcmp(locked_environment, default_environment) != 0)
        return bad(problem, "defaultEnvironment", "%s must equal the locked environment when both are set",
                   "defaultEnvironment");
    if (empty(default_environment))
        default_environment = locked_environment;
    if (strlen(ws) > CLX_SLUG_MAX)
        return missing(problem, "workspace", "workspace '%s' does not exist", ws);

    write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    if (!empty(default_project) && clx_map_get(s->proj_by_slug, k, compose(k, ws, default_project, NULL)) == NULL) {
        rc = missing(problem, "defaultProject", "project '%s' does not exist", default_project);
        goto done;
    }
    if (!empty(default_project) && !empty(default_environment) &&
        clx_map_get(s->env_by_slug, k, compose(k, ws, default_project, default_environment)) == NULL) {
        rc = missing(problem, "defaultEnvironment", "environment '%s' does not exist in the default project",
                     default_environment);
        goto done;
    }
    clx_apikey_t *key = clx_xcalloc(1, sizeof(*key));
    memcpy(key->id, "key_", 4);
    random_hex(key->id + 4, 12);
    memcpy(secret, "clx_", 4);
    random_base62(secret + 4, CLX_KEY_SECRET_LEN - 4);
    secret[CLX_KEY_SECRET_LEN] = '\0';
    sha256(secret, CLX_KEY_SECRET_LEN, key->secret_sha256);
    memcpy(key->prefix, secret, 8);
    copy_slug(key->workspace, ws);
    key->name = clx_xstrdup(name);
    copy_slug(key->default_project, default_project);
    copy_slug(key->default_environment, default_environment);
    copy_slug(key->locked_environment, locked_environment);
    key->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    batch_key(s, b, key);
    if ((rc = commit(s, b)) != CLX_OK) {
        free(key->name);
        free(key);
        memset(secret, 0, CLX_KEY_SECRET_LEN);
        goto done;
    }
    index_key(s, key);
    if (out != NULL)
        *out = *key;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_revoke_key(clx_settings_t *s, const char *ws, const char *id)
{
    int rc = CLX_OK;
    char k[MAPKEY_MAX];
    if (strlen(ws) > CLX_SLUG_MAX || strlen(id) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    write_lock(s);
    clx_apikey_t *key = clx_map_get(s->key_by_id, k, compose(k, ws, id, NULL));
    if (key == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if (key->revoked_at_ms != 0)
        goto done; /* revoking twice is harmless */
    clx_apikey_t updated = *key;
    updated.revoked_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    batch_key(s, b, &updated);
    if ((rc = commit(s, b)) != CLX_OK)
        goto done;
    key->revoked_at_ms = updated.revoked_at_ms;
    clx_map_remove(s->key_by_hash, key->secret_sha256, 32);
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- listing ----------------------------------------------------------------------------- */

int clx_settings_list_workspaces(clx_settings_t *s, clx_ws_fn fn, void *arg)
{
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->workspaces.n; i++)
        fn(arg, s->workspaces.items[i]);
    pthread_rwlock_unlock(&s->lock);
    return CLX_OK;
}

int clx_settings_list_projects(clx_settings_t *s, const char *ws, clx_project_fn fn, void *arg)
{
    int rc = CLX_OK;
    pthread_rwlock_rdlock(&s->lock);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->projects.n; i++) {
        const clx_project_t *p = s->projects.items[i];
        if (strcmp(p->workspace, ws) == 0)
            fn(arg, p);
    }
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_list_environments(clx_settings_t *s, const char *ws, const char *project, clx_env_fn fn,
                                   void *arg)
{
    int rc = CLX_OK;
    char k[MAPKEY_MAX];
    if (strlen(ws) > CLX_SLUG_MAX || strlen(project) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    pthread_rwlock_rdlock(&s->lock);
    if (clx_map_get(s->proj_by_slug, k, compose(k, ws, project, NULL)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->environments.n; i++) {
        const clx_environment_t *e = s->environments.items[i];
        if (strcmp(e->workspace, ws) == 0 && strcmp(e->project, project) == 0)
            fn(arg, e);
    }
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_list_keys(clx_settings_t *s, const char *ws, clx_key_fn fn, void *arg)
{
    int rc = CLX_OK;
    pthread_rwlock_rdlock(&s->lock);
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
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- pricing overrides and deployment mappings ---------------------------------------------- */

static int check_name_part(const char *v, size_t max, const char *field, clx_settings_problem_t *problem)
{
    size_t len = v != NULL ? strlen(v) : 0;
    if (len == 0)
        return bad(problem, field, "%s is required", field);
    if (len > max)
        return bad(problem, field, "%s is too long", field);
    if (clx_text_check((const unsigned char *)v, len) != CLX_TEXT_OK) /* the shared rule: DEL too */
        return bad(problem, field, "%s must be text without control characters", field);
    return CLX_OK;
}

static int parse_price(const char *text, const char *field, int required, int64_t *pico,
                       clx_settings_problem_t *problem)
{
    if (text == NULL || text[0] == '\0') {
        if (required)
            return bad(problem, field, "%s is required (US dollars per million tokens)", field);
        *pico = -1;
        return CLX_OK;
    }
    if (clx_money_parse_per_mtok(text, strlen(text), pico) != CLX_OK)
        return bad(problem, field, "%s must be a non-negative decimal number of US dollars per million tokens", field);
    return CLX_OK;
}

int clx_settings_set_override(clx_settings_t *s, const clx_override_input_t *req, clx_price_override_t *out,
                              clx_settings_problem_t *problem)
{
    int rc;
    clx_price_override_t parsed = {0}, *in = &parsed;
    if ((rc = check_name_part(req->provider, CLX_SLUG_MAX, "provider", problem)) != CLX_OK ||
        (rc = check_name_part(req->model, 256, "model", problem)) != CLX_OK)
        return rc;
    if (strlen(req->workspace) > CLX_SLUG_MAX)
        return missing(problem, "workspace", "workspace '%s' does not exist", req->workspace);
    if ((rc = parse_price(req->input, "inputPerMtok", 1, &in->input_pico, problem)) != CLX_OK ||
        (rc = parse_price(req->output, "outputPerMtok", 1, &in->output_pico, problem)) != CLX_OK ||
        (rc = parse_price(req->cached_input, "cachedInputPerMtok", 0, &in->cached_input_pico, problem)) != CLX_OK ||
        (rc = parse_price(req->cache_write, "cacheWritePerMtok", 0, &in->cache_write_pico, problem)) != CLX_OK)
        return rc;
    char pbuf[CLX_SLUG_MAX + 1], mbuf[257];
    copy_slug(in->workspace, req->workspace);
    copy_slug(in->provider, clx_pricing_normalize_provider(req->provider, strlen(req->provider), pbuf));
    clx_pricing_normalize_model(req->model, strlen(req->model), mbuf);
    snprintf(in->model, sizeof(in->model), "%s", mbuf);
    in->note = (char *)(req->note != NULL ? req->note : "");
    write_lock(s);
    if (clx_map_get(s->ws_by_slug, in->workspace, strlen(in->workspace)) == NULL) {
        rc = missing(problem, "workspace", "workspace '%s' does not exist", in->workspace);
        goto done;
    }
    clx_price_override_t *o = clx_xcalloc(1, sizeof(*o));
    *o = *in;
    o->note = clx_xstrdup(in->note != NULL ? in->note : "");
    o->created_at_ms = clx_now_ms();
    Costlynx__Store__V1__PriceOverride m = COSTLYNX__STORE__V1__PRICE_OVERRIDE__INIT;
    m.workspace = o->workspace;
    m.provider = o->provider;
    m.model = o->model;
    m.input_pico = o->input_pico;
    m.output_pico = o->output_pico;
    m.cached_input_pico = o->cached_input_pico;
    m.cache_write_pico = o->cache_write_pico;
    m.created_at_ms = o->created_at_ms;
    m.note = o->note;
    char key[MAPKEY_MAX + 16];
    snprintf(key, sizeof(key), "ovr/%s/%s/%s", o->workspace, o->provider, o->model);
    clx_batch_t *b = clx_batch_create();
    put_message(s, b, key, &m.base);
    if ((rc = commit(s, b)) != CLX_OK) {
        free(o->note);
        free(o);
        goto done;
    }
    index_override(s, o);
    if (out != NULL)
        *out = *o;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_delete_override(clx_settings_t *s, const char *ws, const char *provider, const char *model)
{
    char k[MAPKEY_MAX], key[MAPKEY_MAX + 16];
    int rc = CLX_OK;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(provider) > CLX_SLUG_MAX || strlen(model) > 256)
        return CLX_ENOTFOUND;
    write_lock(s);
    size_t kl = compose(k, ws, provider, model);
    if (clx_map_get(s->override_by_name, k, kl) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    snprintf(key, sizeof(key), "ovr/%s/%s/%s", ws, provider, model);
    if ((rc = clx_store_delete(s->store, CLX_CF_SETTINGS, key, strlen(key))) == CLX_OK)
        clx_map_remove(s->override_by_name, k, kl); /* the record itself stays until destroy */
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_set_deployment(clx_settings_t *s, const char *ws, const char *deployment, const char *model,
                                clx_deployment_t *out, clx_settings_problem_t *problem)
{
    int rc;
    if ((rc = check_name_part(deployment, 256, "deployment", problem)) != CLX_OK ||
        (rc = check_name_part(model, 256, "model", problem)) != CLX_OK)
        return rc;
    if (strlen(ws) > CLX_SLUG_MAX)
        return missing(problem, "workspace", "workspace '%s' does not exist", ws);
    write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    clx_deployment_t *d = clx_xcalloc(1, sizeof(*d));
    copy_slug(d->workspace, ws);
    snprintf(d->deployment, sizeof(d->deployment), "%s", deployment);
    for (char *c = d->deployment; *c != '\0'; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    snprintf(d->model, sizeof(d->model), "%s", model);
    d->created_at_ms = clx_now_ms();
    Costlynx__Store__V1__DeploymentMapping m = COSTLYNX__STORE__V1__DEPLOYMENT_MAPPING__INIT;
    m.workspace = d->workspace;
    m.deployment = d->deployment;
    m.model = d->model;
    m.created_at_ms = d->created_at_ms;
    char key[MAPKEY_MAX + 16];
    snprintf(key, sizeof(key), "dep/%s/%s", ws, d->deployment);
    clx_batch_t *b = clx_batch_create();
    put_message(s, b, key, &m.base);
    if ((rc = commit(s, b)) != CLX_OK) {
        free(d);
        goto done;
    }
    index_deployment(s, d);
    if (out != NULL)
        *out = *d;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_delete_deployment(clx_settings_t *s, const char *ws, const char *deployment)
{
    char k[MAPKEY_MAX], key[MAPKEY_MAX + 16];
    int rc = CLX_OK;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(deployment) > 256)
        return CLX_ENOTFOUND;
    write_lock(s);
    size_t kl = compose(k, ws, deployment, NULL);
    if (clx_map_get(s->deployment_by_name, k, kl) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    snprintf(key, sizeof(key), "dep/%s/%s", ws, deployment);
    if ((rc = clx_store_delete(s->store, CLX_CF_SETTINGS, key, strlen(key))) == CLX_OK)
        clx_map_remove(s->deployment_by_name, k, kl);
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

const clx_price_override_t *clx_settings_override_locked(clx_settings_t *s, const char *ws, const char *provider,
                                                         const char *model)
{
    char k[MAPKEY_MAX];
    if (s->override_by_name == NULL || clx_map_size(s->override_by_name) == 0)
        return NULL;
    if (strlen(ws) > CLX_SLUG_MAX || strlen(provider) > CLX_SLUG_MAX || strlen(model) > 256)
        return NULL;
    return clx_map_get(s->override_by_name, k, compose(k, ws, provider, model));
}

const char *clx_settings_deployment_locked(clx_settings_t *s, const char *ws, const char *deployment)
{
    char k[MAPKEY_MAX];
    if (clx_map_size(s->deployment_by_name) == 0 || strlen(ws) > CLX_SLUG_MAX || strlen(deployment) > 256)
        return NULL;
    const clx_deployment_t *d = clx_map_get(s->deployment_by_name, k, compose(k, ws, deployment, NULL));
    return d != NULL ? d->model : NULL;
}

int clx_settings_list_overrides(clx_settings_t *s, const char *ws, clx_override_fn fn, void *arg)
{
    char k[MAPKEY_MAX];
    pthread_rwlock_rdlock(&s->lock);
    int rc = clx_map_get(s->ws_by_slug, ws, strlen(ws)) != NULL ? CLX_OK : CLX_ENOTFOUND;
    for (size_t i = 0; rc == CLX_OK && i < s->overrides.n; i++) {
        const clx_price_override_t *o = s->overrides.items[i];
        /* only the current one of each name (replaced and deleted ones stay in the vector) */
        if (strcmp(o->workspace, ws) == 0 &&
            clx_map_get(s->override_by_name, k, compose(k, o->workspace, o->provider, o->model)) == o)
            fn(arg, o);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int clx_settings_list_deployments(clx_settings_t *s, const char *ws, clx_deployment_fn fn, void *arg)
{
    char k[MAPKEY_MAX];
    pthread_rwlock_rdlock(&s->lock);
    int rc = clx_map_get(s->ws_by_slug, ws, strlen(ws)) != NULL ? CLX_OK : CLX_ENOTFOUND;
    for (size_t i = 0; rc == CLX_OK && i < s->deployments.n; i++) {
        const clx_deployment_t *d = s->deployments.items[i];
        if (strcmp(d->workspace, ws) == 0 &&
            clx_map_get(s->deployment_by_name, k, compose(k, d->workspace, d->deployment, NULL)) == d)
            fn(arg, d);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}
