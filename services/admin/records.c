/*
 * records.c — the settings column family: one record per setting, keyed "<kind>/<ids...>"
 * with a protobuf value (proto/costlynx/store/v1/records.proto). The only code that knows
 * those keys: it writes records into batches and loads them back into the indexes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_mem.h"
#include "costlynx/store/v1/records.pb-c.h"
#include "settings_internal.h"

#define ADMIN_TOKEN_KEY "admin/token"
#define RECORD_KEY_MAX (CLX_SETTINGS_MAPKEY_MAX + 16)

/* "<kind>/a/b/c" (b, c may be NULL) into buf (RECORD_KEY_MAX bytes). */
static const char *record_key(char *buf, const char *kind, const char *a, const char *b, const char *c)
{
    snprintf(buf, RECORD_KEY_MAX, "%s/%s%s%s%s%s", kind, a, b != NULL ? "/" : "", b != NULL ? b : "",
             c != NULL ? "/" : "", c != NULL ? c : "");
    return buf;
}

static void put_message(clx_settings_t *s, clx_batch_t *b, const char *key, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = clx_xmalloc(len ? len : 1);
    protobuf_c_message_pack(m, buf);
    clx_batch_put(b, s->store, CLX_CF_SETTINGS, key, strlen(key), buf, len);
    free(buf);
}

/* ---- writing --------------------------------------------------------------------------------- */

void clx_settings_put_workspace(clx_settings_t *s, clx_batch_t *b, const clx_workspace_t *w)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__Workspace m = COSTLYNX__STORE__V1__WORKSPACE__INIT;
    m.slug = (char *)w->slug;
    m.name = w->name;
    m.strict_mode = w->strict_mode;
    m.created_at_ms = w->created_at_ms;
    m.window_back_ms = w->window_back_ms;
    m.window_forward_ms = w->window_forward_ms;
    char *dims[CLX_TAG_DIMENSIONS_MAX];
    for (size_t i = 0; i < w->ntag_dimensions && i < CLX_TAG_DIMENSIONS_MAX; i++)
        dims[i] = (char *)w->tag_dimensions[i];
    m.n_tag_dimensions = w->ntag_dimensions;
    m.tag_dimensions = dims;
    m.time_zone = (char *)w->time_zone;
    m.anomaly_sensitivity = (char *)w->anomaly_sensitivity;
    put_message(s, b, record_key(key, "ws", w->slug, NULL, NULL), &m.base);
}

void clx_settings_put_project(clx_settings_t *s, clx_batch_t *b, const clx_project_t *p)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__Project m = COSTLYNX__STORE__V1__PROJECT__INIT;
    m.workspace = (char *)p->workspace;
    m.slug = (char *)p->slug;
    m.name = p->name;
    m.created_at_ms = p->created_at_ms;
    put_message(s, b, record_key(key, "proj", p->workspace, p->slug, NULL), &m.base);
}

void clx_settings_put_environment(clx_settings_t *s, clx_batch_t *b, const clx_environment_t *e)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__Environment m = COSTLYNX__STORE__V1__ENVIRONMENT__INIT;
    m.workspace = (char *)e->workspace;
    m.project = (char *)e->project;
    m.slug = (char *)e->slug;
    m.created_at_ms = e->created_at_ms;
    put_message(s, b, record_key(key, "env", e->workspace, e->project, e->slug), &m.base);
}

void clx_settings_put_key(clx_settings_t *s, clx_batch_t *b, const clx_apikey_t *k)
{
    char key[RECORD_KEY_MAX];
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
    put_message(s, b, record_key(key, "key", k->workspace, k->id, NULL), &m.base);
}

void clx_settings_put_override(clx_settings_t *s, clx_batch_t *b, const clx_price_override_t *o)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__PriceOverride m = COSTLYNX__STORE__V1__PRICE_OVERRIDE__INIT;
    m.workspace = (char *)o->workspace;
    m.provider = (char *)o->provider;
    m.model = (char *)o->model;
    m.input_pico = o->input_pico;
    m.output_pico = o->output_pico;
    m.cached_input_pico = o->cached_input_pico;
    m.cache_write_pico = o->cache_write_pico;
    m.created_at_ms = o->created_at_ms;
    m.note = o->note;
    put_message(s, b, record_key(key, "ovr", o->workspace, o->provider, o->model), &m.base);
}

void clx_settings_put_deployment(clx_settings_t *s, clx_batch_t *b, const clx_deployment_t *d)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__DeploymentMapping m = COSTLYNX__STORE__V1__DEPLOYMENT_MAPPING__INIT;
    m.workspace = (char *)d->workspace;
    m.deployment = (char *)d->deployment;
    m.model = (char *)d->model;
    m.created_at_ms = d->created_at_ms;
    put_message(s, b, record_key(key, "dep", d->workspace, d->deployment, NULL), &m.base);
}

void clx_settings_put_budget(clx_settings_t *s, clx_batch_t *b, const clx_budget_def_t *d)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__Budget m = COSTLYNX__STORE__V1__BUDGET__INIT;
    m.workspace = (char *)d->workspace;
    m.id = (char *)d->id;
    m.name = d->name;
    m.scope = (uint32_t)d->scope;
    m.project = (char *)d->project;
    m.environment = (char *)d->environment;
    m.feature = (char *)d->feature;
    m.key_id = (char *)d->key_id;
    m.user_id = (char *)d->user_id;
    m.tag_key = (char *)d->tag_key;
    m.tag_value = (char *)d->tag_value;
    char *chans[CLX_BUDGET_CHANNELS_MAX];
    for (size_t i = 0; i < d->nchannels && i < CLX_BUDGET_CHANNELS_MAX; i++)
        chans[i] = (char *)d->channel_ids[i];
    m.channel_ids = chans;
    m.n_channel_ids = d->nchannels;
    m.period = (uint32_t)d->period;
    m.amount_nanos = d->amount_nanos;
    m.thresholds_bp = (uint32_t *)d->thresholds_bp;
    m.n_thresholds_bp = d->nthresholds;
    m.created_at_ms = d->created_at_ms;
    m.updated_at_ms = d->updated_at_ms;
    put_message(s, b, record_key(key, "budget", d->workspace, d->id, NULL), &m.base);
}

void clx_settings_put_channel(clx_settings_t *s, clx_batch_t *b, const clx_channel_def_t *c)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__AlertChannel m = COSTLYNX__STORE__V1__ALERT_CHANNEL__INIT;
    m.workspace = (char *)c->workspace;
    m.id = (char *)c->id;
    m.name = c->name;
    m.kind = (uint32_t)c->kind;
    m.url = c->url;
    m.secret.data = (uint8_t *)c->secret;
    m.secret.len = strlen(c->secret);
    m.created_at_ms = c->created_at_ms;
    put_message(s, b, record_key(key, "chan", c->workspace, c->id, NULL), &m.base);
}

void clx_settings_put_alias(clx_settings_t *s, clx_batch_t *b, const clx_alias_def_t *a)
{
    char key[RECORD_KEY_MAX];
    Costlynx__Store__V1__LabelAlias m = COSTLYNX__STORE__V1__LABEL_ALIAS__INIT;
    m.workspace = (char *)a->workspace;
    m.project = (char *)a->project;
    m.alias = a->alias;
    m.canonical = a->canonical;
    m.created_at_ms = a->created_at_ms;
    put_message(s, b, record_key(key, "alias", a->workspace, a->project, a->alias), &m.base);
}

int clx_settings_delete_alias_record(clx_settings_t *s, const char *ws, const char *project, const char *alias)
{
    char key[RECORD_KEY_MAX];
    record_key(key, "alias", ws, project, alias);
    return clx_store_delete(s->store, CLX_CF_SETTINGS, key, strlen(key));
}

int clx_settings_delete_gov_record(clx_settings_t *s, const char *kind, const char *ws, const char *id)
{
    char key[RECORD_KEY_MAX];
    record_key(key, kind, ws, id, NULL);
    return clx_store_delete(s->store, CLX_CF_SETTINGS, key, strlen(key));
}

int clx_settings_delete_override_record(clx_settings_t *s, const char *ws, const char *provider, const char *model)
{
    char key[RECORD_KEY_MAX];
    record_key(key, "ovr", ws, provider, model);
    return clx_store_delete(s->store, CLX_CF_SETTINGS, key, strlen(key));
}

int clx_settings_delete_deployment_record(clx_settings_t *s, const char *ws, const char *deployment)
{
    char key[RECORD_KEY_MAX];
    record_key(key, "dep", ws, deployment, NULL);
    return clx_store_delete(s->store, CLX_CF_SETTINGS, key, strlen(key));
}

int clx_settings_put_admin_hash(clx_settings_t *s, const unsigned char sha256[32])
{
    return clx_store_put(s->store, CLX_CF_SETTINGS, ADMIN_TOKEN_KEY, strlen(ADMIN_TOKEN_KEY), sha256, 32);
}

int clx_settings_commit(clx_settings_t *s, clx_batch_t *b)
{
    int rc = clx_store_write(s->store, b, 1);
    clx_batch_destroy(b);
    return rc;
}

/* ---- loading: one loader per kind of record ------------------------------------------------ */

static int load_workspace(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__Workspace *m = (const Costlynx__Store__V1__Workspace *)msg;
    clx_workspace_t *w = clx_xcalloc(1, sizeof(*w));
    clx_settings_copy_slug(w->slug, m->slug);
    w->name = clx_xstrdup(m->name);
    w->strict_mode = m->strict_mode;
    w->created_at_ms = m->created_at_ms;
    w->window_back_ms = m->window_back_ms > 0 ? m->window_back_ms : 0;
    w->window_forward_ms = m->window_forward_ms > 0 ? m->window_forward_ms : 0;
    for (size_t i = 0; i < m->n_tag_dimensions && w->ntag_dimensions < CLX_TAG_DIMENSIONS_MAX; i++) {
        const char *d = m->tag_dimensions[i];
        if (d != NULL && clx_tag_key_valid(d, strlen(d)))
            memcpy(w->tag_dimensions[w->ntag_dimensions++], d, strlen(d) + 1);
    }
    snprintf(w->time_zone, sizeof(w->time_zone), "%s", m->time_zone);
    snprintf(w->anomaly_sensitivity, sizeof(w->anomaly_sensitivity), "%s", m->anomaly_sensitivity);
    clx_settings_index_workspace(s, w);
    return CLX_OK;
}

static int load_project(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__Project *m = (const Costlynx__Store__V1__Project *)msg;
    clx_project_t *p = clx_xcalloc(1, sizeof(*p));
    clx_settings_copy_slug(p->workspace, m->workspace);
    clx_settings_copy_slug(p->slug, m->slug);
    p->name = clx_xstrdup(m->name);
    p->created_at_ms = m->created_at_ms;
    clx_settings_index_project(s, p);
    return CLX_OK;
}

static int load_environment(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__Environment *m = (const Costlynx__Store__V1__Environment *)msg;
    clx_environment_t *e = clx_xcalloc(1, sizeof(*e));
    clx_settings_copy_slug(e->workspace, m->workspace);
    clx_settings_copy_slug(e->project, m->project);
    clx_settings_copy_slug(e->slug, m->slug);
    e->created_at_ms = m->created_at_ms;
    clx_settings_index_environment(s, e);
    return CLX_OK;
}

static int load_key(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__ApiKey *m = (const Costlynx__Store__V1__ApiKey *)msg;
    if (m->secret_sha256.len != 32)
        return CLX_ECORRUPT;
    clx_apikey_t *k = clx_xcalloc(1, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", m->id);
    clx_settings_copy_slug(k->workspace, m->workspace);
    k->name = clx_xstrdup(m->name);
    memcpy(k->secret_sha256, m->secret_sha256.data, 32);
    snprintf(k->prefix, sizeof(k->prefix), "%s", m->prefix);
    clx_settings_copy_slug(k->default_project, m->default_project);
    clx_settings_copy_slug(k->default_environment, m->default_environment);
    clx_settings_copy_slug(k->locked_environment, m->locked_environment);
    k->created_at_ms = m->created_at_ms;
    k->revoked_at_ms = m->revoked_at_ms;
    clx_settings_index_key(s, k);
    return CLX_OK;
}

static int load_override(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__PriceOverride *m = (const Costlynx__Store__V1__PriceOverride *)msg;
    clx_price_override_t *o = clx_xcalloc(1, sizeof(*o));
    clx_settings_copy_slug(o->workspace, m->workspace);
    clx_settings_copy_slug(o->provider, m->provider);
    snprintf(o->model, sizeof(o->model), "%s", m->model);
    o->input_pico = m->input_pico;
    o->output_pico = m->output_pico;
    o->cached_input_pico = m->cached_input_pico;
    o->cache_write_pico = m->cache_write_pico;
    o->created_at_ms = m->created_at_ms;
    o->note = clx_xstrdup(m->note);
    clx_settings_index_override(s, o);
    return CLX_OK;
}

static int load_deployment(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__DeploymentMapping *m = (const Costlynx__Store__V1__DeploymentMapping *)msg;
    clx_deployment_t *d = clx_xcalloc(1, sizeof(*d));
    clx_settings_copy_slug(d->workspace, m->workspace);
    snprintf(d->deployment, sizeof(d->deployment), "%s", m->deployment);
    snprintf(d->model, sizeof(d->model), "%s", m->model);
    d->created_at_ms = m->created_at_ms;
    clx_settings_index_deployment(s, d);
    return CLX_OK;
}

static int load_budget(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__Budget *m = (const Costlynx__Store__V1__Budget *)msg;
    if (m->scope >= CLX_BUDGET_SCOPE_COUNT_ || m->period > 2 || m->n_thresholds_bp > CLX_BUDGET_THRESHOLDS_MAX ||
        strlen(m->id) > CLX_BUDGET_ID_LEN)
        return CLX_ECORRUPT;
    clx_budget_def_t *d = clx_xcalloc(1, sizeof(*d));
    clx_settings_copy_slug(d->workspace, m->workspace);
    snprintf(d->id, sizeof(d->id), "%s", m->id);
    d->name = clx_xstrdup(m->name);
    d->scope = (clx_budget_scope_t)m->scope;
    clx_settings_copy_slug(d->project, m->project);
    clx_settings_copy_slug(d->environment, m->environment);
    snprintf(d->feature, sizeof(d->feature), "%s", m->feature);
    snprintf(d->key_id, sizeof(d->key_id), "%s", m->key_id);
    snprintf(d->user_id, sizeof(d->user_id), "%s", m->user_id);
    snprintf(d->tag_key, sizeof(d->tag_key), "%s", m->tag_key);
    snprintf(d->tag_value, sizeof(d->tag_value), "%s", m->tag_value);
    for (size_t i = 0; i < m->n_channel_ids && d->nchannels < CLX_BUDGET_CHANNELS_MAX; i++)
        snprintf(d->channel_ids[d->nchannels++], sizeof(d->channel_ids[0]), "%s", m->channel_ids[i]);
    d->period = (int)m->period;
    d->amount_nanos = m->amount_nanos;
    for (size_t i = 0; i < m->n_thresholds_bp; i++)
        d->thresholds_bp[i] = m->thresholds_bp[i];
    d->nthresholds = m->n_thresholds_bp;
    d->created_at_ms = m->created_at_ms;
    d->updated_at_ms = m->updated_at_ms;
    clx_settings_index_budget(s, d);
    return CLX_OK;
}

static int load_channel(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__AlertChannel *m = (const Costlynx__Store__V1__AlertChannel *)msg;
    if (m->secret.len > CLX_CHANNEL_SECRET_LEN || strlen(m->id) > CLX_CHANNEL_ID_LEN || m->kind > 1)
        return CLX_ECORRUPT;
    clx_channel_def_t *c = clx_xcalloc(1, sizeof(*c));
    clx_settings_copy_slug(c->workspace, m->workspace);
    snprintf(c->id, sizeof(c->id), "%s", m->id);
    c->name = clx_xstrdup(m->name);
    c->kind = (int)m->kind;
    c->url = clx_xstrdup(m->url);
    if (m->secret.len > 0)
        memcpy(c->secret, m->secret.data, m->secret.len);
    c->created_at_ms = m->created_at_ms;
    clx_settings_index_channel(s, c);
    return CLX_OK;
}

static int load_alias(clx_settings_t *s, const ProtobufCMessage *msg)
{
    const Costlynx__Store__V1__LabelAlias *m = (const Costlynx__Store__V1__LabelAlias *)msg;
    if (m->alias[0] == '\0' || m->canonical[0] == '\0')
        return CLX_ECORRUPT;
    clx_alias_def_t *a = clx_xcalloc(1, sizeof(*a));
    clx_settings_copy_slug(a->workspace, m->workspace);
    clx_settings_copy_slug(a->project, m->project);
    a->alias = clx_xstrdup(m->alias);
    a->canonical = clx_xstrdup(m->canonical);
    a->created_at_ms = m->created_at_ms;
    clx_settings_index_alias(s, a);
    return CLX_OK;
}

/* The record kinds: a key prefix and the message its value holds. */
static const struct record_kind {
    const char *prefix;
    const ProtobufCMessageDescriptor *descriptor;
    int (*load)(clx_settings_t *s, const ProtobufCMessage *m);
} kinds[] = {
    {"ws/", &costlynx__store__v1__workspace__descriptor, load_workspace},
    {"proj/", &costlynx__store__v1__project__descriptor, load_project},
    {"env/", &costlynx__store__v1__environment__descriptor, load_environment},
    {"key/", &costlynx__store__v1__api_key__descriptor, load_key},
    {"ovr/", &costlynx__store__v1__price_override__descriptor, load_override},
    {"dep/", &costlynx__store__v1__deployment_mapping__descriptor, load_deployment},
    {"budget/", &costlynx__store__v1__budget__descriptor, load_budget},
    {"chan/", &costlynx__store__v1__alert_channel__descriptor, load_channel},
    {"alias/", &costlynx__store__v1__label_alias__descriptor, load_alias},
};

int clx_settings_load_record(clx_settings_t *s, const char *key, size_t klen, const void *val, size_t vlen)
{
    if (klen == strlen(ADMIN_TOKEN_KEY) && memcmp(key, ADMIN_TOKEN_KEY, klen) == 0) {
        if (vlen != 32)
            return CLX_ECORRUPT;
        memcpy(s->admin_sha256, val, 32);
        s->admin_set = 1;
        return CLX_OK;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t pl = strlen(kinds[i].prefix);
        if (klen <= pl || memcmp(key, kinds[i].prefix, pl) != 0)
            continue;
        ProtobufCMessage *m = protobuf_c_message_unpack(kinds[i].descriptor, NULL, vlen, val);
        if (m == NULL)
            return CLX_ECORRUPT;
        int rc = kinds[i].load(s, m);
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    /* unknown kinds are skipped: a newer version may have written them */
    return CLX_OK;
}
