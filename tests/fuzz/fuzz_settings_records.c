/*
 * fuzz_settings_records.c — libFuzzer harness for the settings records loader: what
 * clx_settings_open does with each record of the store's settings column family at start
 * (services/admin: clx_settings_load_record). The bytes are a list of records, each
 *     [key length: 1 byte][key][value length: 2 bytes little-endian][value]
 * (a short tail is one last record cut where the input ends), loaded in order into one
 * settings object as a start would, stopping at the first unreadable one. The read paths the
 * daemon then serves from the loaded records run over them: key authentication, the ingest
 * lookups, overrides, deployments and every listing.
 *
 * Seed making (tests/fuzz/make_seeds.py): with CLX_FUZZ_PACK_STORE=<data dir> and
 * CLX_FUZZ_PACK_OUT=<file> in the environment the binary packs that store's settings records
 * in this format into the file and exits instead of fuzzing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_settings.h"
#include "clx_store.h"
#include "settings_internal.h"

static void on_ws(void *arg, const clx_workspace_t *w)
{
    (*(size_t *)arg) += strlen(w->name) + (size_t)w->strict_mode;
}

static void count(void *arg, const void *rec)
{
    (*(size_t *)arg)++;
}

static void on_budget(void *arg, const clx_budget_def_t *b)
{
    (*(size_t *)arg) += strlen(b->name) + strlen(b->feature) + b->nthresholds;
}

static void on_channel(void *arg, const clx_channel_def_t *c)
{
    (*(size_t *)arg) += strlen(c->name) + strlen(c->url) + strlen(c->secret);
}

static void on_alias(void *arg, const clx_alias_def_t *a)
{
    (*(size_t *)arg) += strlen(a->alias) + strlen(a->canonical);
}

static void on_key(void *arg, const clx_apikey_t *k)
{
    (*(size_t *)arg) += strlen(k->name) + strlen(k->prefix);
}

/* Everything the daemon reads from loaded settings, for workspace ws and project proj. */
static void read_back(clx_settings_t *s, const char *ws, const char *proj)
{
    size_t n = 0;
    clx_key_info_t info;
    clx_workspace_t w;
    clx_project_t p;
    clx_settings_list_workspaces(s, on_ws, &n);
    (void)clx_settings_get_workspace(s, ws, &w);
    (void)clx_settings_get_project(s, ws, proj, &p);
    clx_settings_list_projects(s, ws, (clx_project_fn)count, &n);
    clx_settings_list_environments(s, ws, proj, (clx_env_fn)count, &n);
    clx_settings_list_keys(s, ws, on_key, &n);
    clx_settings_list_overrides(s, ws, (clx_override_fn)count, &n);
    clx_settings_list_deployments(s, ws, (clx_deployment_fn)count, &n);
    /* issue 12: budgets, alert channels, feature aliases */
    clx_settings_list_budgets(s, NULL, on_budget, &n);
    clx_settings_list_channels(s, ws, on_channel, &n);
    clx_settings_list_aliases(s, ws, NULL, on_alias, &n);
    (void)clx_settings_auth_key(s, proj, strlen(proj), &info);
    (void)clx_settings_auth_key(s, "clx_0000000000000000000000000000000000000000", 44, &info);
    clx_settings_read_begin(s);
    (void)clx_settings_has_project_locked(s, ws, proj, strlen(proj));
    (void)clx_settings_has_environment_locked(s, ws, proj, "prod", 4);
    (void)clx_settings_override_locked(s, ws, "openai", proj);
    (void)clx_settings_deployment_locked(s, ws, proj);
    clx_settings_read_end(s);
    (void)clx_settings_admin_check(s, "token", 5);
}

/* CLX_FUZZ_PACK_STORE mode: a real store's settings records, packed as seeds. Exits. */
static void pack_store(const char *dir, const char *path)
{
    clx_store_t *store = NULL;
    char *err = NULL;
    FILE *f = fopen(path, "wb");
    if (f == NULL || clx_store_open(dir, &store, &err) != CLX_OK) {
        fprintf(stderr, "cannot open %s / %s: %s\n", dir, path, err != NULL ? err : "");
        exit(1);
    }
    clx_iter_t *it = clx_iter_create(store, CLX_CF_SETTINGS, NULL, 0);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *k = clx_iter_key(it, &klen);
        const char *v = clx_iter_value(it, &vlen);
        if (klen > 255 || vlen > 65535) {
            fprintf(stderr, "record too long for the seed format\n");
            exit(1);
        }
        unsigned char kl = (unsigned char)klen, vl[2] = {(unsigned char)(vlen & 0xff), (unsigned char)(vlen >> 8)};
        fwrite(&kl, 1, 1, f);
        fwrite(k, 1, klen, f);
        fwrite(vl, 1, 2, f);
        fwrite(v, 1, vlen, f);
    }
    clx_iter_destroy(it);
    clx_store_close(store);
    exit(fclose(f) == 0 ? 0 : 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (getenv("CLX_FUZZ_PACK_STORE") != NULL && getenv("CLX_FUZZ_PACK_OUT") != NULL)
        pack_store(getenv("CLX_FUZZ_PACK_STORE"), getenv("CLX_FUZZ_PACK_OUT"));
    clx_log_set_level(CLX_LOG_ERROR - 1); /* quiet: unreadable records are logged, by design */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clx_settings_t *s = clx_settings_create_detached(NULL);
    /* names seen in keys, to read back with: the last workspace / project-like key suffixes */
    char ws[65] = "default", proj[65] = "app";
    size_t at = 0;
    while (at < size) {
        size_t klen = data[at++];
        if (klen > size - at)
            klen = size - at;
        const char *key = (const char *)data + at;
        at += klen;
        size_t vlen = 0;
        if (size - at >= 2) {
            vlen = (size_t)data[at] | (size_t)data[at + 1] << 8;
            at += 2;
        } else {
            at = size;
        }
        if (vlen > size - at)
            vlen = size - at;
        const uint8_t *val = data + at;
        at += vlen;
        if (klen > 3 && klen - 3 < sizeof(ws) && memcmp(key, "ws/", 3) == 0) {
            memcpy(ws, key + 3, klen - 3);
            ws[klen - 3] = '\0';
        } else if (klen > 5 && memcmp(key, "proj/", 5) == 0) {
            const char *slash = memchr(key + 5, '/', klen - 5);
            size_t pl = slash != NULL ? (size_t)(key + klen - slash - 1) : 0;
            if (pl > 0 && pl < sizeof(proj)) {
                memcpy(proj, slash + 1, pl);
                proj[pl] = '\0';
            }
        }
        if (clx_settings_load_record(s, key, klen, val, vlen) != CLX_OK)
            break; /* clx_settings_open stops at the first unreadable record */
    }
    read_back(s, ws, proj);
    clx_settings_destroy(s);
    return 0;
}
