/*
 * governance.c — the settings records of issue 12: budgets, alert channels and a workspace's
 * time zone and anomaly sensitivity. Persisted like every setting (records.c), mirrored in
 * memory; what they mean (periods, spend, delivery) is services/governance's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "settings_internal.h"

static void vec_push(struct clx_settings_vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->items = clx_xrealloc(v->items, v->cap * sizeof(void *));
    }
    v->items[v->n++] = p;
}

uint64_t clx_settings_generation(clx_settings_t *s)
{
    return atomic_load(&s->generation);
}

/* ---- indexes --------------------------------------------------------------------------------- */

static clx_budget_def_t *find_budget(clx_settings_t *s, const char *ws, const char *id)
{
    for (size_t i = 0; i < s->budgets.n; i++) {
        clx_budget_def_t *b = s->budgets.items[i];
        if (!b->deleted && strcmp(b->workspace, ws) == 0 && strcmp(b->id, id) == 0)
            return b;
    }
    return NULL;
}

static clx_channel_def_t *find_channel(clx_settings_t *s, const char *ws, const char *id)
{
    for (size_t i = 0; i < s->channels.n; i++) {
        clx_channel_def_t *c = s->channels.items[i];
        if (!c->deleted && strcmp(c->workspace, ws) == 0 && strcmp(c->id, id) == 0)
            return c;
    }
    return NULL;
}

void clx_settings_index_budget(clx_settings_t *s, clx_budget_def_t *b)
{
    clx_budget_def_t *old = find_budget(s, b->workspace, b->id);
    if (old != NULL)
        old->deleted = 1; /* replaced; stays allocated: copies handed out keep their name */
    vec_push(&s->budgets, b);
}

void clx_settings_index_channel(clx_settings_t *s, clx_channel_def_t *c)
{
    clx_channel_def_t *old = find_channel(s, c->workspace, c->id);
    if (old != NULL)
        old->deleted = 1;
    vec_push(&s->channels, c);
}

static void free_aliases(clx_settings_t *s);

void clx_settings_free_governance(clx_settings_t *s)
{
    for (size_t i = 0; i < s->budgets.n; i++) {
        clx_budget_def_t *b = s->budgets.items[i];
        free(b->name);
        free(b);
    }
    for (size_t i = 0; i < s->channels.n; i++) {
        clx_channel_def_t *c = s->channels.items[i];
        free(c->name);
        free(c->url);
        free(c);
    }
    free(s->budgets.items);
    free(s->channels.items);
    free_aliases(s);
}

/* ---- workspace settings ---------------------------------------------------------------------- */

int clx_settings_set_governance(clx_settings_t *s, const char *ws, const char *time_zone, const char *sensitivity,
                                clx_workspace_t *out)
{
    int rc = CLX_OK;
    if (strlen(ws) > CLX_SLUG_MAX)
        return CLX_ENOTFOUND;
    clx_settings_write_lock(s);
    clx_workspace_t *w = clx_map_get(s->ws_by_slug, ws, strlen(ws));
    if (w == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    clx_workspace_t updated = *w;
    if (time_zone != NULL)
        snprintf(updated.time_zone, sizeof(updated.time_zone), "%s", time_zone);
    if (sensitivity != NULL)
        snprintf(updated.anomaly_sensitivity, sizeof(updated.anomaly_sensitivity), "%s", sensitivity);
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_workspace(s, b, &updated);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK)
        goto done;
    memcpy(w->time_zone, updated.time_zone, sizeof(w->time_zone));
    memcpy(w->anomaly_sensitivity, updated.anomaly_sensitivity, sizeof(w->anomaly_sensitivity));
    if (out != NULL)
        *out = *w;
done:
    clx_settings_unlock(s);
    return rc;
}

/* ---- budgets --------------------------------------------------------------------------------- */

/* The scope's fields: required ones present and valid, the others empty. Lock not needed. */
static int check_budget_shape(const clx_budget_def_t *in, clx_settings_problem_t *problem)
{
    int rc;
    if (in->name == NULL || in->name[0] == '\0')
        return clx_settings_bad(problem, "name", "%s is required: it is shown in alerts and the dashboard", "name");
    if ((rc = clx_settings_check_text(in->name, CLX_NAME_MAX, "name", problem)) != CLX_OK)
        return rc;
    if (in->amount_nanos <= 0)
        return clx_settings_bad(problem, "amountUsd", "%s must be a positive decimal number of US dollars",
                                "amountUsd");
    if (in->period < 0 || in->period > 2)
        return clx_settings_bad(problem, "period", "%s must be day, week or month", "period");
    if (in->nthresholds == 0 || in->nthresholds > CLX_BUDGET_THRESHOLDS_MAX)
        return clx_settings_bad(problem, "thresholds", "%s must list 1 to 16 percentages", "thresholds");
    int need_project = in->scope == CLX_BUDGET_SCOPE_PROJECT || in->scope == CLX_BUDGET_SCOPE_ENVIRONMENT;
    int need_env = in->scope == CLX_BUDGET_SCOPE_ENVIRONMENT;
    int need_feature = in->scope == CLX_BUDGET_SCOPE_FEATURE;
    int need_key = in->scope == CLX_BUDGET_SCOPE_KEY;
    int may_project = need_project || in->scope == CLX_BUDGET_SCOPE_FEATURE;
    if (need_project && (rc = clx_settings_check_slug(in->project, "scope.project", problem)) != CLX_OK)
        return rc;
    if (!may_project && in->project[0] != '\0')
        return clx_settings_bad(problem, "scope.project", "%s does not belong to this scope type", "scope.project");
    if (may_project && !need_project && in->project[0] != '\0' &&
        (rc = clx_settings_check_slug(in->project, "scope.project", problem)) != CLX_OK)
        return rc;
    if (need_env && (rc = clx_settings_check_slug(in->environment, "scope.environment", problem)) != CLX_OK)
        return rc;
    if (!need_env && in->environment[0] != '\0')
        return clx_settings_bad(problem, "scope.environment", "%s does not belong to this scope type",
                                "scope.environment");
    if (need_feature &&
        (rc = clx_settings_check_text(in->feature, CLX_SETTINGS_FEATURE_MAX, "scope.feature", problem)) != CLX_OK)
        return rc;
    if (!need_feature && in->feature[0] != '\0')
        return clx_settings_bad(problem, "scope.feature", "%s does not belong to this scope type", "scope.feature");
    if (need_key && in->key_id[0] == '\0')
        return clx_settings_bad(problem, "scope.key", "%s is required (a key id such as key_3f9a0c1d2e4b)",
                                "scope.key");
    if (!need_key && in->key_id[0] != '\0')
        return clx_settings_bad(problem, "scope.key", "%s does not belong to this scope type", "scope.key");
    int need_user = in->scope == CLX_BUDGET_SCOPE_USER, need_tag = in->scope == CLX_BUDGET_SCOPE_TAG;
    if (need_user && (rc = clx_settings_check_text(in->user_id, 256, "scope.user", problem)) != CLX_OK)
        return rc;
    if (!need_user && in->user_id[0] != '\0')
        return clx_settings_bad(problem, "scope.user", "%s does not belong to this scope type", "scope.user");
    if (need_tag && !clx_tag_key_valid(in->tag_key, strlen(in->tag_key)))
        return clx_settings_bad(problem, "scope.tag",
                                "%s must be a tag key: 1-64 of lowercase letters, digits, '_', '.', '-'", "scope.tag");
    if (need_tag && (rc = clx_settings_check_text(in->tag_value, 256, "scope.value", problem)) != CLX_OK)
        return rc;
    if (!need_tag && (in->tag_key[0] != '\0' || in->tag_value[0] != '\0'))
        return clx_settings_bad(problem, "scope.tag", "%s does not belong to this scope type", "scope.tag");
    return CLX_OK;
}

/* References exist in the workspace; under the lock. */
static int check_budget_refs(clx_settings_t *s, const clx_budget_def_t *in, clx_settings_problem_t *problem)
{
    char k[CLX_SETTINGS_MAPKEY_MAX];
    const char *ws = in->workspace;
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
    if (in->project[0] != '\0' &&
        clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, in->project, NULL)) == NULL)
        return clx_settings_missing(problem, "scope.project", "project '%s' does not exist", in->project);
    if (in->environment[0] != '\0' &&
        clx_map_get(s->env_by_slug, k, clx_settings_mapkey(k, ws, in->project, in->environment)) == NULL)
        return clx_settings_missing(problem, "scope.environment", "environment '%s' does not exist in the project",
                                    in->environment);
    if (in->key_id[0] != '\0' && clx_map_get(s->key_by_id, k, clx_settings_mapkey(k, ws, in->key_id, NULL)) == NULL)
        return clx_settings_missing(problem, "scope.key", "key '%s' does not exist in the workspace", in->key_id);
    for (size_t i = 0; i < in->nchannels; i++)
        if (find_channel(s, ws, in->channel_ids[i]) == NULL)
            return clx_settings_missing(problem, "channels", "channel '%s' does not exist in the workspace",
                                        in->channel_ids[i]);
    return CLX_OK;
}

static int save_budget(clx_settings_t *s, clx_budget_def_t *fresh, clx_budget_def_t *out)
{
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_budget(s, b, fresh);
    int rc = clx_settings_commit(s, b);
    if (rc != CLX_OK) {
        free(fresh->name);
        free(fresh);
        return rc;
    }
    clx_settings_index_budget(s, fresh);
    if (out != NULL)
        *out = *fresh;
    return CLX_OK;
}

int clx_settings_create_budget(clx_settings_t *s, const clx_budget_def_t *in, clx_budget_def_t *out,
                               clx_settings_problem_t *problem)
{
    int rc;
    if (strlen(in->workspace) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", in->workspace);
    if ((rc = check_budget_shape(in, problem)) != CLX_OK)
        return rc;
    clx_settings_write_lock(s);
    if ((rc = check_budget_refs(s, in, problem)) != CLX_OK)
        goto done;
    clx_budget_def_t *fresh = clx_xcalloc(1, sizeof(*fresh));
    *fresh = *in;
    fresh->name = clx_xstrdup(in->name);
    memcpy(fresh->id, "bud_", 4);
    clx_settings_random_hex(fresh->id + 4, 12);
    fresh->created_at_ms = fresh->updated_at_ms = clx_now_ms();
    fresh->deleted = 0;
    rc = save_budget(s, fresh, out);
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_update_budget(clx_settings_t *s, const clx_budget_def_t *in, clx_budget_def_t *out,
                               clx_settings_problem_t *problem)
{
    int rc;
    if (strlen(in->workspace) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", in->workspace);
    if ((rc = check_budget_shape(in, problem)) != CLX_OK)
        return rc;
    clx_settings_write_lock(s);
    clx_budget_def_t *old = find_budget(s, in->workspace, in->id);
    if (old == NULL) {
        rc = clx_settings_missing(problem, "id", "budget '%s' does not exist", in->id);
        goto done;
    }
    if ((rc = check_budget_refs(s, in, problem)) != CLX_OK)
        goto done;
    clx_budget_def_t *fresh = clx_xcalloc(1, sizeof(*fresh));
    *fresh = *in;
    fresh->name = clx_xstrdup(in->name);
    fresh->created_at_ms = old->created_at_ms;
    fresh->updated_at_ms = clx_now_ms();
    fresh->deleted = 0;
    rc = save_budget(s, fresh, out);
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_delete_budget(clx_settings_t *s, const char *ws, const char *id)
{
    int rc;
    clx_settings_write_lock(s);
    clx_budget_def_t *b = find_budget(s, ws, id);
    if (b == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if ((rc = clx_settings_delete_gov_record(s, "budget", ws, id)) == CLX_OK)
        b->deleted = 1;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_get_budget(clx_settings_t *s, const char *ws, const char *id, clx_budget_def_t *out)
{
    clx_settings_read_begin(s);
    const clx_budget_def_t *b = find_budget(s, ws, id);
    if (b != NULL)
        *out = *b;
    clx_settings_read_end(s);
    return b != NULL ? CLX_OK : CLX_ENOTFOUND;
}

int clx_settings_list_budgets(clx_settings_t *s, const char *ws, clx_budget_fn fn, void *arg)
{
    int rc = CLX_OK;
    clx_settings_read_begin(s);
    if (ws != NULL && clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->budgets.n; i++) {
        const clx_budget_def_t *b = s->budgets.items[i];
        if (!b->deleted && (ws == NULL || strcmp(b->workspace, ws) == 0))
            fn(arg, b);
    }
done:
    clx_settings_read_end(s);
    return rc;
}

/* ---- channels -------------------------------------------------------------------------------- */

int clx_settings_create_channel(clx_settings_t *s, const char *ws, const char *name, int kind, const char *url,
                                clx_channel_def_t *out, clx_settings_problem_t *problem)
{
    int rc;
    if (clx_settings_empty(name))
        return clx_settings_bad(problem, "name", "%s is required", "name");
    if ((rc = clx_settings_check_text(name, CLX_NAME_MAX, "name", problem)) != CLX_OK ||
        (rc = clx_settings_check_text(url, CLX_CHANNEL_URL_MAX, "url", problem)) != CLX_OK)
        return rc;
    if (kind != 0 && kind != 1)
        return clx_settings_bad(problem, "type", "%s must be webhook or slack", "type");
    if (strlen(ws) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    clx_channel_def_t *c = clx_xcalloc(1, sizeof(*c));
    clx_settings_copy_slug(c->workspace, ws);
    memcpy(c->id, "ch_", 3);
    clx_settings_random_hex(c->id + 3, 12);
    c->name = clx_xstrdup(name);
    c->kind = kind;
    c->url = clx_xstrdup(url);
    if (kind == 0) {
        memcpy(c->secret, "whsec_", 6);
        clx_settings_random_base62(c->secret + 6, CLX_CHANNEL_SECRET_LEN - 6);
        c->secret[CLX_CHANNEL_SECRET_LEN] = '\0';
    }
    c->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_channel(s, b, c);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(c->name);
        free(c->url);
        free(c);
        goto done;
    }
    clx_settings_index_channel(s, c);
    if (out != NULL)
        *out = *c;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_delete_channel(clx_settings_t *s, const char *ws, const char *id)
{
    int rc;
    clx_settings_write_lock(s);
    clx_channel_def_t *c = find_channel(s, ws, id);
    if (c == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if ((rc = clx_settings_delete_gov_record(s, "chan", ws, id)) == CLX_OK)
        c->deleted = 1;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_get_channel(clx_settings_t *s, const char *ws, const char *id, clx_channel_def_t *out)
{
    clx_settings_read_begin(s);
    const clx_channel_def_t *c = find_channel(s, ws, id);
    if (c != NULL)
        *out = *c;
    clx_settings_read_end(s);
    return c != NULL ? CLX_OK : CLX_ENOTFOUND;
}

int clx_settings_list_channels(clx_settings_t *s, const char *ws, clx_channel_fn fn, void *arg)
{
    int rc = CLX_OK;
    clx_settings_read_begin(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->channels.n; i++) {
        const clx_channel_def_t *c = s->channels.items[i];
        if (!c->deleted && strcmp(c->workspace, ws) == 0)
            fn(arg, c);
    }
done:
    clx_settings_read_end(s);
    return rc;
}

/* ---- feature aliases --------------------------------------------------------------------------- */

#define ALIAS_MAX 200 /* the alias table's limit (clx_labels.h) */

static clx_alias_def_t *find_alias(clx_settings_t *s, const char *ws, const char *project, const char *alias)
{
    for (size_t i = 0; i < s->aliases.n; i++) {
        clx_alias_def_t *a = s->aliases.items[i];
        if (!a->deleted && strcmp(a->workspace, ws) == 0 && strcmp(a->project, project) == 0 &&
            strcmp(a->alias, alias) == 0)
            return a;
    }
    return NULL;
}

void clx_settings_index_alias(clx_settings_t *s, clx_alias_def_t *a)
{
    clx_alias_def_t *old = find_alias(s, a->workspace, a->project, a->alias);
    if (old != NULL)
        old->deleted = 1;
    vec_push(&s->aliases, a);
}

static void free_aliases(clx_settings_t *s)
{
    for (size_t i = 0; i < s->aliases.n; i++) {
        clx_alias_def_t *a = s->aliases.items[i];
        free(a->alias);
        free(a->canonical);
        free(a);
    }
    free(s->aliases.items);
}

int clx_settings_set_alias(clx_settings_t *s, const char *ws, const char *project, const char *alias,
                           const char *canonical, clx_alias_def_t *out, clx_settings_problem_t *problem)
{
    int rc;
    char k[CLX_SETTINGS_MAPKEY_MAX];
    if ((rc = clx_settings_check_slug(project, "project", problem)) != CLX_OK ||
        (rc = clx_settings_check_text(alias, ALIAS_MAX, "alias", problem)) != CLX_OK ||
        (rc = clx_settings_check_text(canonical, ALIAS_MAX, "canonical", problem)) != CLX_OK)
        return rc;
    if (strcmp(alias, canonical) == 0)
        return clx_settings_bad(problem, "canonical", "%s must differ from the alias", "canonical");
    if (strlen(ws) > CLX_SLUG_MAX)
        return clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
    clx_settings_write_lock(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = clx_settings_missing(problem, "workspace", "workspace '%s' does not exist", ws);
        goto done;
    }
    if (clx_map_get(s->proj_by_slug, k, clx_settings_mapkey(k, ws, project, NULL)) == NULL) {
        rc = clx_settings_missing(problem, "project", "project '%s' does not exist", project);
        goto done;
    }
    clx_alias_def_t *a = clx_xcalloc(1, sizeof(*a));
    clx_settings_copy_slug(a->workspace, ws);
    clx_settings_copy_slug(a->project, project);
    a->alias = clx_xstrdup(alias);
    a->canonical = clx_xstrdup(canonical);
    a->created_at_ms = clx_now_ms();
    clx_batch_t *b = clx_batch_create();
    clx_settings_put_alias(s, b, a);
    if ((rc = clx_settings_commit(s, b)) != CLX_OK) {
        free(a->alias);
        free(a->canonical);
        free(a);
        goto done;
    }
    clx_settings_index_alias(s, a);
    if (out != NULL)
        *out = *a;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_delete_alias(clx_settings_t *s, const char *ws, const char *project, const char *alias)
{
    int rc;
    clx_settings_write_lock(s);
    clx_alias_def_t *a = find_alias(s, ws, project, alias);
    if (a == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    if ((rc = clx_settings_delete_alias_record(s, ws, project, alias)) == CLX_OK)
        a->deleted = 1;
done:
    clx_settings_unlock(s);
    return rc;
}

int clx_settings_list_aliases(clx_settings_t *s, const char *ws, const char *project, clx_alias_fn fn, void *arg)
{
    int rc = CLX_OK;
    clx_settings_read_begin(s);
    if (clx_map_get(s->ws_by_slug, ws, strlen(ws)) == NULL) {
        rc = CLX_ENOTFOUND;
        goto done;
    }
    for (size_t i = 0; i < s->aliases.n; i++) {
        const clx_alias_def_t *a = s->aliases.items[i];
        if (!a->deleted && strcmp(a->workspace, ws) == 0 && (project == NULL || strcmp(a->project, project) == 0))
            fn(arg, a);
    }
done:
    clx_settings_read_end(s);
    return rc;
}
