/*
 * governance.c — the REST routes of issue 12: budgets and their state, alert channels (with
 * a test message), the alerts list (admin token), and the budget check (ingestion key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "clx_error.h"
#include "clx_anomaly.h"
#include "clx_govern.h"
#include "clx_http.h"
#include "clx_labels.h"
#include "clx_log.h" /* CLX_MS_PER_DAY */
#include "clx_map.h"
#include "clx_money.h"
#include "clx_query.h"
#include "clx_settings.h"
#include "rest_internal.h"

static const char *const scope_names[] = {"workspace", "project", "environment", "feature", "key", "user", "tag"};

static int send_w(clx_rest_call_t *call, int status, clx_jw_t *w)
{
    return clx_rest_send_json(call->req, status, w->buf, w->len);
}

static void jw_usd(clx_jw_t *w, const char *key, int64_t nanos)
{
    char buf[32];
    clx_money_format_usd(nanos, buf);
    clx_jw_str(w, key, buf);
}

/* Basis points as a percentage number: 8000 -> 80, 8050 -> 80.5, 1 -> 0.01. */
static void jw_pct(clx_jw_t *w, const char *key, int64_t bp)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)(bp / 100));
    if (bp % 100 != 0) {
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ".%02lld", (long long)(bp % 100));
        if (buf[n - 1] == '0')
            buf[--n] = '\0';
    }
    clx_jw_key(w, key); /* NULL: an array element (the comma only) */
    clx_jw_raw(w, buf, (size_t)n);
}

static int settings_error(clx_rest_call_t *call, int rc, const clx_settings_problem_t *p)
{
    if (rc == CLX_EIO || rc == CLX_ENOSPC)
        return clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s: the settings could not be saved; retry",
                                   clx_strerror(rc));
    clx_code_t code = rc == CLX_EEXIST || rc == CLX_ENOTFOUND ? CLX_CODE_NONE : CLX_CODE_INVALID_VALUE;
    return clx_rest_send_error(call->req, rc, code, p->field, "%s", p->message);
}

static int no_workspace(clx_rest_call_t *call, const char *ws)
{
    return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "workspace", "workspace '%s' does not exist",
                               ws);
}

static int bad(clx_rest_call_t *call, const char *field, const char *msg)
{
    return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, field, "%s", msg);
}

/* ---- budgets ----------------------------------------------------------------------------------- */

static void render_budget(clx_rest_call_t *call, clx_jw_t *w, const clx_budget_def_t *b)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "id", b->id);
    clx_jw_str(w, "name", b->name);
    clx_jw_obj_open(w, "scope");
    clx_jw_str(w, "type", scope_names[b->scope]);
    if (b->project[0])
        clx_jw_str(w, "project", b->project);
    if (b->environment[0])
        clx_jw_str(w, "environment", b->environment);
    if (b->feature[0])
        clx_jw_str(w, "feature", b->feature);
    if (b->key_id[0])
        clx_jw_str(w, "key", b->key_id);
    if (b->user_id[0])
        clx_jw_str(w, "user", b->user_id);
    if (b->tag_key[0]) {
        clx_jw_str(w, "tag", b->tag_key);
        clx_jw_str(w, "value", b->tag_value);
    }
    clx_jw_obj_end(w);
    clx_jw_str(w, "period", clx_period_name((clx_period_t)b->period));
    jw_usd(w, "amountUsd", b->amount_nanos);
    clx_jw_arr_begin(w, "channels");
    for (size_t i = 0; i < b->nchannels; i++)
        clx_jw_str(w, NULL, b->channel_ids[i]);
    clx_jw_arr_end(w);
    clx_jw_arr_begin(w, "thresholds");
    for (size_t i = 0; i < b->nthresholds; i++)
        jw_pct(w, NULL, b->thresholds_bp[i]);
    clx_jw_arr_end(w);
    clx_rest_jw_time(w, "createdAt", b->created_at_ms);
    clx_rest_jw_time(w, "updatedAt", b->updated_at_ms);
    clx_budget_state_t st;
    if (call->srv->cfg.govern != NULL &&
        clx_govern_budget_state(call->srv->cfg.govern, b->workspace, b->id, &st) == CLX_OK) {
        clx_jw_obj_open(w, "state");
        clx_jw_str(w, "timeZone", st.zone);
        clx_rest_jw_time(w, "periodStart", st.period.start_ms);
        clx_rest_jw_time(w, "periodEnd", st.period.end_ms);
        jw_usd(w, "spentUsd", st.spent_nanos);
        jw_usd(w, "remainingUsd", st.spent_nanos >= b->amount_nanos ? 0 : b->amount_nanos - st.spent_nanos);
        jw_pct(w, "percent", st.percent_bp);
        jw_usd(w, "forecastUsd", st.forecast_nanos);
        clx_jw_bool(w, "exceeded", st.spent_nanos >= b->amount_nanos);
        clx_jw_arr_begin(w, "fired");
        for (size_t i = 0; i < b->nthresholds; i++)
            if (st.fired & (1u << i))
                jw_pct(w, NULL, b->thresholds_bp[i]);
        clx_jw_arr_end(w);
        clx_jw_obj_end(w);
    }
    clx_jw_obj_end(w);
}

/* "80", "80.5", "0.01" percent -> basis points; -1 when not such a number. */
static int64_t parse_pct(const char *s)
{
    int64_t v = 0;
    size_t i = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > 1000000)
            return -1;
    }
    v *= 100;
    if (s[i] == '.') {
        i++;
        int scale = 10;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        for (; s[i] >= '0' && s[i] <= '9'; i++) {
            if (scale == 0 && s[i] != '0')
                return -1; /* finer than 0.01 % */
            v += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    return s[i] == '\0' ? v : -1;
}

static yajl_val member(yajl_val obj, const char *name)
{
    const char *path[] = {name, NULL};
    return yajl_tree_get(obj, path, yajl_t_any);
}

/* A string member into dst (cap bytes): 0, absent (1, dst untouched), or -1 after a 400. */
static int str_member(clx_rest_call_t *call, yajl_val obj, const char *name, const char *field, char *dst, size_t cap)
{
    yajl_val v = member(obj, name);
    if (v == NULL || YAJL_IS_NULL(v))
        return 1;
    if (!YAJL_IS_STRING(v)) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_TYPE, field, "%s must be a string", field);
        return -1;
    }
    const char *s = YAJL_GET_STRING(v);
    if (strlen(s) >= cap) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, field, "%s is too long (at most %zu bytes)",
                            field, cap - 1);
        return -1;
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

/*
 * Reads a budget body into *b (create: every field; update: only those present). Returns 0,
 * or -1 after answering 400. name is pointed into body (valid while body lives).
 */
static int read_budget(clx_rest_call_t *call, yajl_val body, clx_budget_def_t *b, int create)
{
    yajl_val v;
    if ((v = member(body, "name")) != NULL && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_STRING(v))
            return bad(call, "name", "name must be a string"), -1;
        b->name = YAJL_GET_STRING(v);
    }
    if ((v = member(body, "scope")) != NULL && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_OBJECT(v))
            return bad(call, "scope", "scope must be an object such as {\"type\":\"project\",\"project\":\"web\"}"), -1;
        char type[32] = "";
        if (str_member(call, v, "type", "scope.type", type, sizeof(type)) < 0)
            return -1;
        int scope = -1;
        for (int i = 0; i < CLX_BUDGET_SCOPE_COUNT_; i++)
            if (strcmp(type, scope_names[i]) == 0)
                scope = i;
        if (scope < 0)
            return bad(call, "scope.type",
                       "scope.type must be workspace, project, environment, feature, key, user or tag"),
                   -1;
        b->scope = (clx_budget_scope_t)scope;
        b->project[0] = b->environment[0] = b->feature[0] = b->key_id[0] = '\0';
        b->user_id[0] = b->tag_key[0] = b->tag_value[0] = '\0';
        if (str_member(call, v, "project", "scope.project", b->project, sizeof(b->project)) < 0 ||
            str_member(call, v, "environment", "scope.environment", b->environment, sizeof(b->environment)) < 0 ||
            str_member(call, v, "feature", "scope.feature", b->feature, sizeof(b->feature)) < 0 ||
            str_member(call, v, "key", "scope.key", b->key_id, sizeof(b->key_id)) < 0 ||
            str_member(call, v, "user", "scope.user", b->user_id, sizeof(b->user_id)) < 0 ||
            str_member(call, v, "tag", "scope.tag", b->tag_key, sizeof(b->tag_key)) < 0 ||
            str_member(call, v, "value", "scope.value", b->tag_value, sizeof(b->tag_value)) < 0)
            return -1;
    } else if (create) {
        b->scope = CLX_BUDGET_SCOPE_WORKSPACE;
    }
    if ((v = member(body, "period")) != NULL && !YAJL_IS_NULL(v)) {
        clx_period_t p;
        if (!YAJL_IS_STRING(v) || clx_period_parse(YAJL_GET_STRING(v), &p) != CLX_OK)
            return bad(call, "period", "period must be day, week (ISO, from Monday) or month"), -1;
        b->period = (int)p;
    } else if (create) {
        b->period = CLX_PERIOD_MONTH;
    }
    if ((v = member(body, "amountUsd")) != NULL && !YAJL_IS_NULL(v)) {
        const char *text = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : YAJL_IS_NUMBER(v) ? YAJL_GET_NUMBER(v) : NULL;
        int64_t nanos;
        if (text == NULL || clx_money_parse_usd(text, strlen(text), &nanos) != CLX_OK || nanos <= 0)
            return bad(call, "amountUsd", "amountUsd must be a positive decimal number of US dollars, e.g. \"250.00\""),
                   -1;
        b->amount_nanos = nanos;
    } else if (create) {
        return bad(call, "amountUsd", "amountUsd is required (US dollars, a decimal string such as \"250.00\")"), -1;
    }
    if ((v = member(body, "thresholds")) != NULL && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0 || v->u.array.len > CLX_BUDGET_MAX_THRESHOLDS)
            return bad(call, "thresholds", "thresholds must be an array of 1 to 16 percentages, e.g. [50, 80, 100]"),
                   -1;
        uint32_t bp[CLX_BUDGET_MAX_THRESHOLDS];
        for (size_t i = 0; i < v->u.array.len; i++) {
            yajl_val e = v->u.array.values[i];
            int64_t x = YAJL_IS_NUMBER(e) ? parse_pct(YAJL_GET_NUMBER(e)) : -1;
            if (x < 1 || x > CLX_BUDGET_MAX_THRESHOLD_BP)
                return bad(call, "thresholds",
                           "each threshold must be a percentage from 0.01 to 1000 with at most two decimals"),
                       -1;
            bp[i] = (uint32_t)x;
        }
        if (clx_budget_thresholds_valid(bp, v->u.array.len) != CLX_OK)
            return bad(call, "thresholds", "thresholds must be in ascending order without repeats"), -1;
        memcpy(b->thresholds_bp, bp, v->u.array.len * sizeof(bp[0]));
        b->nthresholds = v->u.array.len;
    } else if (create) {
        uint32_t def[] = CLX_BUDGET_DEFAULT_THRESHOLDS;
        memcpy(b->thresholds_bp, def, sizeof(def));
        b->nthresholds = sizeof(def) / sizeof(def[0]);
    }
    if ((v = member(body, "channels")) != NULL && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_ARRAY(v) || v->u.array.len > CLX_BUDGET_CHANNELS_MAX)
            return bad(call, "channels", "channels must be an array of at most 8 channel ids ([]: every channel)"), -1;
        for (size_t i = 0; i < v->u.array.len; i++) {
            yajl_val e = v->u.array.values[i];
            const char *id = YAJL_IS_STRING(e) ? YAJL_GET_STRING(e) : NULL;
            if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(b->channel_ids[0]))
                return bad(call, "channels", "channels must hold channel ids such as ch_0a1b2c3d4e5f"), -1;
            memcpy(b->channel_ids[i], id, strlen(id) + 1);
        }
        b->nchannels = v->u.array.len;
    }
    return 0;
}

struct list_ctx {
    clx_rest_call_t *call;
    clx_jw_t *w;
};

static void list_budget_cb(void *arg, const clx_budget_def_t *b)
{
    struct list_ctx *c = arg;
    render_budget(c->call, c->w, b);
}

int clx_rest_budgets_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    if (call->srv->cfg.govern != NULL)
        clx_govern_refresh(call->srv->cfg.govern);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "budgets");
    struct list_ctx c = {call, w};
    if (clx_settings_list_budgets(call->srv->cfg.settings, ws, list_budget_cb, &c) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

int clx_rest_budgets_create(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    yajl_val body = clx_rest_admin_body(call);
    if (body == NULL)
        return 0;
    clx_budget_def_t in, out;
    memset(&in, 0, sizeof(in));
    snprintf(in.workspace, sizeof(in.workspace), "%s", ws);
    if (read_budget(call, body, &in, 1) == 0) {
        clx_settings_problem_t problem = {0};
        int rc = clx_settings_create_budget(call->srv->cfg.settings, &in, &out, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            if (call->srv->cfg.govern != NULL)
                clx_govern_refresh(call->srv->cfg.govern);
            render_budget(call, w, &out);
            send_w(call, 201, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

int clx_rest_budget_get(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *id = clx_rest_param(call, 1);
    clx_budget_def_t b;
    if (clx_settings_get_budget(call->srv->cfg.settings, ws, id, &b) != CLX_OK)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "id", "budget '%s' does not exist", id);
    if (call->srv->cfg.govern != NULL)
        clx_govern_refresh(call->srv->cfg.govern);
    render_budget(call, w, &b);
    return send_w(call, 200, w);
}

int clx_rest_budget_update(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *id = clx_rest_param(call, 1);
    clx_budget_def_t b, out;
    if (clx_settings_get_budget(call->srv->cfg.settings, ws, id, &b) != CLX_OK)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "id", "budget '%s' does not exist", id);
    yajl_val body = clx_rest_admin_body(call);
    if (body == NULL)
        return 0;
    if (read_budget(call, body, &b, 0) == 0) {
        clx_settings_problem_t problem = {0};
        int rc = clx_settings_update_budget(call->srv->cfg.settings, &b, &out, &problem);
        if (rc != CLX_OK) {
            settings_error(call, rc, &problem);
        } else {
            if (call->srv->cfg.govern != NULL)
                clx_govern_refresh(call->srv->cfg.govern);
            render_budget(call, w, &out);
            send_w(call, 200, w);
        }
    }
    yajl_tree_free(body);
    return 0;
}

int clx_rest_budget_delete(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *id = clx_rest_param(call, 1);
    int rc = clx_settings_delete_budget(call->srv->cfg.settings, ws, id);
    if (rc == CLX_ENOTFOUND)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "id", "budget '%s' does not exist", id);
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s: nothing changed, retry", clx_strerror(rc));
    if (call->srv->cfg.govern != NULL)
        clx_govern_refresh(call->srv->cfg.govern);
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

/* ---- channels ---------------------------------------------------------------------------------- */

static void render_channel(clx_jw_t *w, const clx_channel_def_t *c, int with_secret)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "id", c->id);
    clx_jw_str(w, "name", c->name);
    clx_jw_str(w, "type", c->kind == 1 ? "slack" : "webhook");
    if (c->kind == 1 && !with_secret) {
        /* a Slack webhook URL is its own secret: only its host is shown after creation */
        const char *host = strstr(c->url, "://");
        host = host != NULL ? host + 3 : c->url;
        size_t hl = strcspn(host, "/");
        char buf[300];
        snprintf(buf, sizeof(buf), "%.*s%.*s/…", (int)(host - c->url), c->url, (int)(hl > 200 ? 200 : hl), host);
        clx_jw_str(w, "url", buf);
    } else {
        clx_jw_str(w, "url", c->url);
    }
    if (with_secret && c->kind == 0)
        clx_jw_str(w, "secret", c->secret);
    clx_rest_jw_time(w, "createdAt", c->created_at_ms);
    clx_jw_obj_end(w);
}

static void list_channel_cb(void *arg, const clx_channel_def_t *c)
{
    render_channel(arg, c, 0);
}

int clx_rest_channels_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "channels");
    if (clx_settings_list_channels(call->srv->cfg.settings, ws, list_channel_cb, w) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

int clx_rest_channels_create(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    if (call->srv->cfg.govern == NULL)
        return clx_rest_send_error(call->req, CLX_EBUSY, CLX_CODE_NONE, NULL, "alert delivery is not running");
    yajl_val body = clx_rest_admin_body(call);
    if (body == NULL)
        return 0;
    char name[CLX_NAME_MAX + 1] = "", type[16] = "webhook", url[CLX_CHANNEL_URL_MAX + 1] = "";
    if (str_member(call, body, "name", "name", name, sizeof(name)) < 0 ||
        str_member(call, body, "type", "type", type, sizeof(type)) < 0 ||
        str_member(call, body, "url", "url", url, sizeof(url)) < 0)
        goto done;
    int kind = strcmp(type, "webhook") == 0 ? 0 : strcmp(type, "slack") == 0 ? 1 : -1;
    if (kind < 0) {
        bad(call, "type", "type must be webhook or slack");
        goto done;
    }
    if (url[0] == '\0') {
        bad(call, "url", "url is required (http:// or https://)");
        goto done;
    }
    /* the SSRF guard, now (the delivery thread checks again at every attempt: DNS changes) */
    clx_url_target_t target;
    char err[300];
    int rc = clx_url_check(url, clx_govern_allow(call->srv->cfg.govern), &target, err, sizeof(err));
    if (rc != CLX_OK && rc != CLX_ENOTFOUND) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "url", "%s", err);
        goto done;
    }
    clx_channel_def_t out;
    clx_settings_problem_t problem = {0};
    rc = clx_settings_create_channel(call->srv->cfg.settings, ws, name, kind, url, &out, &problem);
    if (rc != CLX_OK) {
        settings_error(call, rc, &problem);
        goto done;
    }
    render_channel(w, &out, 1);
    send_w(call, 201, w);
done:
    yajl_tree_free(body);
    return 0;
}

int clx_rest_channel_delete(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *id = clx_rest_param(call, 1);
    int rc = clx_settings_delete_channel(call->srv->cfg.settings, ws, id);
    if (rc == CLX_ENOTFOUND)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "id", "channel '%s' does not exist", id);
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s: nothing changed, retry", clx_strerror(rc));
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

int clx_rest_channel_test(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0), *id = clx_rest_param(call, 1);
    if (call->srv->cfg.govern == NULL)
        return clx_rest_send_error(call->req, CLX_EBUSY, CLX_CODE_NONE, NULL, "alert delivery is not running");
    char alert[CLX_OUTBOX_ID_MAX + 1];
    int rc = clx_govern_test_channel(call->srv->cfg.govern, ws, id, alert);
    if (rc == CLX_ENOTFOUND)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "id", "channel '%s' does not exist", id);
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "%s: the test was not queued, retry",
                                   clx_strerror(rc));
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_str(w, "alertId", alert);
    clx_jw_str(w, "state", "pending");
    clx_jw_obj_end(w);
    return send_w(call, 202, w);
}

/* ---- alerts ------------------------------------------------------------------------------------ */

/* A delivery as listed: copies in the request's arena. */
struct alert_row {
    const char *id, *channel, *last_error;
    clx_outbox_state_t state;
    uint32_t attempts;
    int64_t created_ms, updated_ms, due_ms;
};

struct alert_rows {
    clx_arena_t *arena;
    struct alert_row *items;
    size_t n, cap, total;
    int state; /* -1: any */
};

static int alert_cb(void *ctx, const clx_outbox_item_t *it)
{
    struct alert_rows *r = ctx;
    if (r->state >= 0 && (int)it->state != r->state)
        return 0;
    r->total++;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct alert_row *fresh = clx_arena_alloc(r->arena, cap * sizeof(*fresh));
        if (r->n)
            memcpy(fresh, r->items, r->n * sizeof(*fresh));
        r->items = fresh;
        r->cap = cap;
    }
    struct alert_row *a = &r->items[r->n++];
    a->id = clx_arena_strndup(r->arena, it->alert_id, strlen(it->alert_id));
    a->channel = clx_arena_strndup(r->arena, it->channel_id, strlen(it->channel_id));
    a->last_error = clx_arena_strndup(r->arena, it->last_error, strlen(it->last_error));
    a->state = it->state;
    a->attempts = it->attempts;
    a->created_ms = it->created_ms;
    a->updated_ms = it->updated_ms;
    a->due_ms = it->due_ms;
    return 0;
}

static int newest_alert_first(const void *x, const void *y)
{
    const struct alert_row *a = x, *b = y;
    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms ? 1 : -1;
    int c = strcmp(a->id, b->id);
    return c != 0 ? c : strcmp(a->channel, b->channel);
}

int clx_rest_alerts_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_workspace_t wsr;
    if (clx_settings_get_workspace(call->srv->cfg.settings, ws, &wsr) != CLX_OK)
        return no_workspace(call, ws);
    size_t limit = 500;
    char *lim = clx_rest_query(call->req, "limit"), *st = clx_rest_query(call->req, "state");
    if (lim != NULL) {
        char *end;
        unsigned long v = strtoul(lim, &end, 10);
        if (lim[0] < '0' || lim[0] > '9' || *end != '\0' || v < 1 || v > 5000)
            return bad(call, "limit", "limit must be 1 to 5000");
        limit = v;
    }
    struct alert_rows rows = {.arena = w->arena, .state = -1};
    if (st != NULL) {
        for (int k = CLX_OUTBOX_PENDING; k <= CLX_OUTBOX_FAILED; k++)
            if (strcmp(st, clx_outbox_state_name((clx_outbox_state_t)k)) == 0)
                rows.state = k;
        if (rows.state < 0)
            return bad(call, "state", "state must be pending, delivered or failed");
    }
    if (call->srv->cfg.govern != NULL) {
        int rc = clx_outbox_each(clx_govern_outbox(call->srv->cfg.govern), ws, alert_cb, &rows);
        if (rc != CLX_OK)
            return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "the alerts cannot be read: %s",
                                       clx_strerror(rc));
    }
    if (rows.n > 1)
        qsort(rows.items, rows.n, sizeof(*rows.items), newest_alert_first);
    clx_jw_obj_begin(w);
    clx_jw_int(w, "total", (int64_t)rows.total);
    clx_jw_arr_begin(w, "alerts");
    for (size_t i = 0; i < rows.n && i < limit; i++) {
        const struct alert_row *a = &rows.items[i];
        clx_jw_obj_open(w, NULL);
        clx_jw_str(w, "id", a->id);
        clx_jw_strn(w, "kind", a->id, strcspn(a->id, ":"));
        clx_jw_str(w, "channel", a->channel);
        clx_jw_str(w, "state", clx_outbox_state_name(a->state));
        clx_jw_int(w, "attempts", a->attempts);
        clx_rest_jw_time(w, "createdAt", a->created_ms);
        clx_rest_jw_time(w, "updatedAt", a->updated_ms);
        if (a->state == CLX_OUTBOX_PENDING)
            clx_rest_jw_time(w, "nextAttemptAt", a->due_ms);
        else
            clx_jw_null(w, "nextAttemptAt");
        if (a->last_error[0])
            clx_jw_str(w, "lastError", a->last_error);
        else
            clx_jw_null(w, "lastError");
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

/* ---- the budget check (ingestion key) ---------------------------------------------------------- */

void clx_rest_render_budget_check(clx_jw_t *w, const Costlynx__V1__CheckBudgetResponse *r)
{
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "allowed", r->allowed);
    clx_jw_arr_begin(w, "budgets");
    for (size_t i = 0; i < r->n_budgets; i++) {
        const Costlynx__V1__BudgetStatus *b = r->budgets[i];
        clx_jw_obj_open(w, NULL);
        clx_jw_str(w, "id", b->id);
        clx_jw_str(w, "name", b->name);
        clx_jw_str(w, "scope", b->scope);
        clx_jw_str(w, "period", b->period);
        clx_rest_jw_time(w, "periodStart", b->period_start_ms);
        clx_rest_jw_time(w, "periodEnd", b->period_end_ms);
        clx_jw_str(w, "amountUsd", b->amount_usd);
        clx_jw_str(w, "spentUsd", b->spent_usd);
        clx_jw_str(w, "remainingUsd", b->remaining_usd);
        jw_pct(w, "percent", b->percent_bp);
        clx_jw_bool(w, "exceeded", b->exceeded);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
}

int clx_rest_budget_check(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    h2o_iovec_t key = clx_rest_header(req, "x-api-key");
    if (key.base == NULL || key.len == 0)
        return clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "the X-API-Key header is missing");
    clx_arena_t *arena = clx_rest_arena_get(call->thread);
    clx_ingest_session_t *session;
    Costlynx__V1__CheckBudgetResponse resp;
    const char *names[] = {"project", "environment", "feature", "user", "tag"};
    char *vals[5];
    if (clx_ingest_authenticate(call->srv->cfg.pipeline, key.base, key.len, arena, &session) != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
        goto done;
    }
    for (size_t i = 0; i < 5; i++)
        vals[i] = clx_rest_query(req, names[i]);
    /* tag=key:value (one tag; gRPC takes a map) */
    const char *tk[1], *tv[1];
    size_t ntags = 0;
    if (vals[4] != NULL) {
        char *colon = strchr(vals[4], ':');
        if (colon == NULL) {
            clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "tag", "tag must be key:value");
            goto done;
        }
        *colon = '\0';
        tk[0] = vals[4];
        tv[0] = colon + 1;
        ntags = 1;
    }
    clx_budget_call_t bc = {vals[0], vals[1], vals[2], vals[3], tk, tv, ntags};
    clx_problem_t why;
    int rc = clx_ingest_check_budget(session, &bc, arena, &resp, &why);
    if (rc == CLX_EINVAL) {
        clx_rest_send_error(req, CLX_EINVAL, why.code_id, why.field, "%s", why.message);
        goto done;
    }
    if (rc != CLX_OK) {
        clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
        goto done;
    }
    clx_jw_t w;
    clx_jw_init(&w, arena, 512);
    clx_rest_render_budget_check(&w, &resp);
    clx_rest_send_json(req, 200, w.buf, w.len);
done:
    clx_rest_arena_put(call->thread, arena);
    return 0;
}

/* ---- workspace settings: timeZone, anomalySensitivity ---------------------------------------- */

void clx_rest_render_ws_governance(clx_jw_t *w, const clx_workspace_t *ws)
{
    clx_jw_str(w, "timeZone", ws->time_zone[0] ? ws->time_zone : "UTC");
    clx_jw_str(w, "anomalySensitivity", ws->anomaly_sensitivity[0] ? ws->anomaly_sensitivity : "medium");
}

int clx_rest_patch_ws_governance(clx_rest_call_t *call, yajl_val body, const char *slug, clx_workspace_t *out)
{
    char tz[CLX_TZ_NAME_MAX + 1], sens[16];
    int has_tz = str_member(call, body, "timeZone", "timeZone", tz, sizeof(tz));
    if (has_tz < 0)
        return -1;
    int has_sens = str_member(call, body, "anomalySensitivity", "anomalySensitivity", sens, sizeof(sens));
    if (has_sens < 0)
        return -1;
    if (has_tz == 1 && has_sens == 1)
        return 1;
    if (has_tz == 0) {
        clx_tz_t *zone = NULL;
        int rc = strcmp(tz, "UTC") == 0 ? CLX_OK : clx_tz_load(tz, &zone);
        clx_tz_destroy(zone);
        if (rc != CLX_OK) {
            bad(call, "timeZone", "timeZone must be an IANA time zone name such as Europe/Berlin, or UTC");
            return -1;
        }
        if (strcmp(tz, "UTC") == 0)
            tz[0] = '\0';
    }
    if (has_sens == 0) {
        clx_sensitivity_t s;
        if (clx_sensitivity_parse(sens, &s) != CLX_OK) {
            bad(call, "anomalySensitivity", "anomalySensitivity must be low, medium or high");
            return -1;
        }
    }
    int rc = clx_settings_set_governance(call->srv->cfg.settings, slug, has_tz == 0 ? tz : NULL,
                                         has_sens == 0 ? sens : NULL, out);
    if (rc != CLX_OK) {
        clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s: nothing changed, retry", clx_strerror(rc));
        return -1;
    }
    if (call->srv->cfg.govern != NULL)
        clx_govern_refresh(call->srv->cfg.govern); /* budget periods follow the zone */
    return 0;
}

/* ---- anomalies --------------------------------------------------------------------------------- */

static void anomaly_cb(void *arg, const clx_watch_item_t *it)
{
    clx_jw_t *w = arg;
    char buf[32];
    clx_jw_obj_open(w, NULL);
    clx_jw_obj_open(w, "scope");
    clx_jw_str(w, "type", it->scope_type);
    clx_jw_str(w, "name", it->scope);
    clx_jw_obj_end(w);
    clx_rest_jw_time(w, "hour", it->hour_ms);
    clx_rest_jw_time(w, "episodeStart", it->episode_ms);
    jw_usd(w, "observedUsd", it->a.observed_nanos);
    jw_usd(w, "baselineUsd", it->a.baseline_nanos);
    clx_jw_int(w, "observedEvents", it->a.observed_events);
    clx_jw_int(w, "baselineEvents", it->a.baseline_events);
    int n = snprintf(buf, sizeof(buf), "%.2f", it->a.ratio);
    clx_jw_key(w, "ratio");
    clx_jw_raw(w, buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "%.2f", it->a.score);
    clx_jw_key(w, "score");
    clx_jw_raw(w, buf, (size_t)n);
    clx_jw_str(w, "reason", it->a.reason);
    clx_jw_str(w, "alertId", it->alert_id);
    clx_jw_obj_end(w);
}

int clx_rest_anomalies_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_workspace_t wsr;
    if (clx_settings_get_workspace(call->srv->cfg.settings, ws, &wsr) != CLX_OK)
        return no_workspace(call, ws);
    clx_event_filter_t f = {0};
    if (clx_rest_event_filter(call, &f) != 0)
        return 0;
    clx_jw_obj_begin(w);
    clx_jw_str(w, "sensitivity", wsr.anomaly_sensitivity[0] ? wsr.anomaly_sensitivity : "medium");
    clx_jw_arr_begin(w, "anomalies");
    if (call->srv->cfg.govern != NULL)
        clx_govern_anomalies(call->srv->cfg.govern, ws, f.from_ms, f.to_ms, anomaly_cb, w);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

/* ---- feature aliases and spellings ------------------------------------------------------------ */

struct alias_defs {
    clx_alias_def_t *items;
    size_t n, cap;
};

static void alias_collect(void *arg, const clx_alias_def_t *a)
{
    struct alias_defs *d = arg;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = clx_xrealloc(d->items, d->cap * sizeof(*d->items));
    }
    d->items[d->n] = *a;
    d->items[d->n].alias = clx_xstrdup(a->alias);
    d->items[d->n].canonical = clx_xstrdup(a->canonical);
    d->n++;
}

static void alias_defs_free(struct alias_defs *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].alias);
        free(d->items[i].canonical);
    }
    free(d->items);
}

/* The alias tables of a workspace, one per project. */
struct clx_rest_fold {
    clx_map_t *tables; /* project -> clx_alias_table_t * */
    clx_alias_table_t **all;
    size_t n;
};

static clx_alias_table_t *fold_table(const struct clx_rest_fold *f, const char *project)
{
    return f != NULL ? clx_map_get(f->tables, project, strlen(project)) : NULL;
}

static const char *fold_feature(void *ctx, const char *project, const char *feature)
{
    clx_alias_table_t *t = fold_table(ctx, project);
    return t != NULL ? clx_alias_fold(t, feature) : feature;
}

/* ws's aliases as tables (project NULL: every project); NULL when there are none. */
static struct clx_rest_fold *fold_load(clx_rest_call_t *call, const char *ws, const char *project)
{
    struct alias_defs d = {0};
    clx_settings_list_aliases(call->srv->cfg.settings, ws, project, alias_collect, &d);
    if (d.n == 0 && project == NULL) {
        alias_defs_free(&d);
        return NULL;
    }
    struct clx_rest_fold *f = clx_xcalloc(1, sizeof(*f));
    f->tables = clx_map_create();
    f->all = clx_xcalloc(d.n ? d.n : 1, sizeof(*f->all));
    for (size_t i = 0; i < d.n; i++) {
        clx_alias_table_t *t = fold_table(f, d.items[i].project);
        if (t == NULL) {
            t = clx_alias_create();
            f->all[f->n++] = t;
            clx_map_put(f->tables, d.items[i].project, strlen(d.items[i].project), t);
        }
        clx_alias_set(t, d.items[i].alias, d.items[i].canonical); /* checked when declared */
    }
    alias_defs_free(&d);
    return f;
}

void clx_rest_fold_free(struct clx_rest_fold *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        clx_alias_destroy(f->all[i]);
    free(f->all);
    clx_map_destroy(f->tables);
    free(f);
}

struct clx_rest_fold *clx_rest_fold_attach(clx_rest_call_t *call, const char *ws, clx_usage_query_t *q)
{
    struct clx_rest_fold *f = fold_load(call, ws, NULL);
    if (f != NULL) {
        q->fold_feature = fold_feature;
        q->fold_ctx = f;
    }
    return f;
}

static void render_alias(clx_jw_t *w, const clx_alias_def_t *a)
{
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "project", a->project);
    clx_jw_str(w, "alias", a->alias);
    clx_jw_str(w, "canonical", a->canonical);
    clx_rest_jw_time(w, "createdAt", a->created_at_ms);
    clx_jw_obj_end(w);
}

static void list_alias_cb(void *arg, const clx_alias_def_t *a)
{
    render_alias(arg, a);
}

int clx_rest_aliases_list(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    clx_jw_obj_begin(w);
    clx_jw_arr_begin(w, "aliases");
    if (clx_settings_list_aliases(call->srv->cfg.settings, ws, clx_rest_query(call->req, "project"), list_alias_cb,
                                  w) != CLX_OK)
        return no_workspace(call, ws);
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

int clx_rest_aliases_set(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    yajl_val body = clx_rest_admin_body(call);
    if (body == NULL)
        return 0;
    char project[CLX_SLUG_MAX + 1] = "", kind[16] = "feature", alias[CLX_MAX_FEATURE + 1] = "",
                                canonical[CLX_MAX_FEATURE + 1] = "";
    struct clx_rest_fold *f = NULL;
    if (str_member(call, body, "project", "project", project, sizeof(project)) < 0 ||
        str_member(call, body, "kind", "kind", kind, sizeof(kind)) < 0 ||
        str_member(call, body, "alias", "alias", alias, sizeof(alias)) < 0 ||
        str_member(call, body, "canonical", "canonical", canonical, sizeof(canonical)) < 0)
        goto done;
    if (strcmp(kind, "feature") != 0) {
        bad(call, "kind", "kind must be feature (tag value aliases are not available yet)");
        goto done;
    }
    /* chains and cycles, against the project's aliases as they stand */
    f = fold_load(call, ws, project[0] ? project : "-");
    clx_alias_table_t *t = f != NULL ? fold_table(f, project) : NULL;
    clx_alias_table_t *tmp = t == NULL ? clx_alias_create() : NULL;
    int rc = alias[0] && canonical[0] && strlen(alias) <= 200 && strlen(canonical) <= 200
                 ? clx_alias_set(t != NULL ? t : tmp, alias, canonical)
                 : CLX_OK; /* the settings name the missing or long field */
    clx_alias_destroy(tmp);
    if (rc != CLX_OK) {
        bad(call, "canonical",
            strcmp(alias, canonical) == 0 ? "canonical must differ from the alias"
                                          : "canonical folds back to the alias: the aliases would form a cycle");
        goto done;
    }
    clx_alias_def_t out;
    clx_settings_problem_t problem = {0};
    rc = clx_settings_set_alias(call->srv->cfg.settings, ws, project, alias, canonical, &out, &problem);
    if (rc != CLX_OK) {
        settings_error(call, rc, &problem);
        goto done;
    }
    render_alias(w, &out);
    send_w(call, 201, w);
done:
    clx_rest_fold_free(f);
    yajl_tree_free(body);
    return 0;
}

int clx_rest_aliases_delete(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws = clx_rest_param(call, 0);
    char *project = clx_rest_query(call->req, "project"), *alias = clx_rest_query(call->req, "alias");
    if (project == NULL || alias == NULL)
        return bad(call, project == NULL ? "project" : "alias", "project and alias are required query parameters");
    int rc = clx_settings_delete_alias(call->srv->cfg.settings, ws, project, alias);
    if (rc == CLX_ENOTFOUND)
        return clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "alias", "no alias '%.200s' in %s/%s",
                                   alias, ws, project);
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, rc, CLX_CODE_NONE, NULL, "%s: nothing changed, retry", clx_strerror(rc));
    clx_jw_obj_begin(w);
    clx_jw_bool(w, "ok", 1);
    clx_jw_obj_end(w);
    return send_w(call, 200, w);
}

static int64_t events_of(clx_i128_t v)
{
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Each project's feature spellings that no alias has folded together yet. */
int clx_rest_spellings_section(clx_rest_call_t *call, clx_jw_t *w, const char *ws, int64_t from, int64_t to)
{
    clx_usage_query_t q = {
        .workspace = ws, .from_ms = from, .to_ms = to, .group_by = CLX_DIM_PROJECT | CLX_DIM_FEATURE};
    clx_usage_row_t *rows, total;
    size_t n;
    int rc = clx_query_usage(call->srv->cfg.query, &q, w->arena, &rows, &n, &total);
    if (rc != CLX_OK) {
        clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "usage could not be read: %s", clx_strerror(rc));
        return -1;
    }
    struct clx_rest_fold *f = fold_load(call, ws, NULL);
    clx_label_count_t *labels = clx_xcalloc(n ? n : 1, sizeof(*labels));
    char **done_projects = clx_xcalloc(n ? n : 1, sizeof(*done_projects));
    size_t ndone = 0, ngroups = 0;
    clx_jw_obj_open(w, "spellings");
    clx_jw_arr_begin(w, "groups");
    for (size_t i = 0; i < n; i++) {
        const char *project = rows[i].dims[0];
        int seen = 0;
        for (size_t k = 0; k < ndone && !seen; k++)
            seen = strcmp(done_projects[k], project) == 0;
        if (seen)
            continue;
        done_projects[ndone++] = (char *)project;
        size_t nl = 0;
        for (size_t j = i; j < n && nl < CLX_LABELS_MAX; j++)
            if (strcmp(rows[j].dims[0], project) == 0 && rows[j].dims[2][0] != '\0')
                labels[nl++] = (clx_label_count_t){rows[j].dims[2], events_of(rows[j].sum.events)};
        clx_label_report_t *rep;
        if (nl < 2 || clx_labels_group(labels, nl, &rep) != CLX_OK)
            continue;
        clx_alias_table_t *t = fold_table(f, project);
        for (size_t gi = 0; gi < clx_label_report_count(rep); gi++) {
            const clx_label_group_t *g = clx_label_report_group(rep, gi);
            int folded = t != NULL;
            for (size_t m = 1; m < g->n && folded; m++)
                folded = strcmp(clx_alias_fold(t, g->members[m].label), clx_alias_fold(t, g->members[0].label)) == 0;
            if (folded)
                continue; /* an alias makes them one already */
            char line[1024];
            clx_label_warning(g, "feature", line, sizeof(line));
            clx_jw_obj_open(w, NULL);
            if (project[0])
                clx_jw_str(w, "project", project);
            else
                clx_jw_null(w, "project");
            clx_jw_str(w, "kind", "feature");
            clx_jw_arr_begin(w, "labels");
            for (size_t m = 0; m < g->n; m++) {
                clx_jw_obj_open(w, NULL);
                clx_jw_str(w, "label", g->members[m].label);
                clx_jw_int(w, "events", g->members[m].events);
                clx_jw_obj_end(w);
            }
            clx_jw_arr_end(w);
            clx_jw_int(w, "events", g->total_events);
            clx_jw_str(w, "suggested", g->canonical);
            clx_jw_str(w, "warning", line);
            clx_jw_obj_end(w);
            ngroups++;
        }
        clx_label_report_destroy(rep);
    }
    /* the values of each declared tag key, workspace-wide (the dims family: whole UTC days) */
    clx_workspace_t wsr;
    if (clx_settings_get_workspace(call->srv->cfg.settings, ws, &wsr) == CLX_OK) {
        int64_t day = CLX_MS_PER_DAY;
        for (size_t d = 0; d < wsr.ntag_dimensions; d++) {
            clx_top_query_t tq = {.workspace = ws,
                                  .kind = CLX_TOP_TAG,
                                  .tag_key = wsr.tag_dimensions[d],
                                  .from_ms = from > 0 ? from / day * day : 0,
                                  .to_ms = (to + day - 1) / day * day};
            clx_top_row_t *trows, ttotal;
            size_t tn, nvalues;
            if (clx_query_top(call->srv->cfg.query, &tq, w->arena, &trows, &tn, &ttotal, &nvalues) != CLX_OK)
                continue; /* the feature groups stand on their own */
            clx_label_count_t *tl = clx_xcalloc(tn ? tn : 1, sizeof(*tl));
            size_t nl = 0;
            for (size_t i = 0; i < tn && nl < CLX_LABELS_MAX; i++)
                if (trows[i].value[0] != '\0')
                    tl[nl++] = (clx_label_count_t){trows[i].value, events_of(trows[i].sum.events)};
            clx_label_report_t *rep;
            if (nl >= 2 && clx_labels_group(tl, nl, &rep) == CLX_OK) {
                for (size_t gi = 0; gi < clx_label_report_count(rep); gi++) {
                    const clx_label_group_t *g = clx_label_report_group(rep, gi);
                    char line[1024];
                    clx_label_warning(g, "tag value", line, sizeof(line));
                    clx_jw_obj_open(w, NULL);
                    clx_jw_null(w, "project");
                    clx_jw_str(w, "kind", "tag value");
                    clx_jw_str(w, "tag", wsr.tag_dimensions[d]);
                    clx_jw_arr_begin(w, "labels");
                    for (size_t m = 0; m < g->n; m++) {
                        clx_jw_obj_open(w, NULL);
                        clx_jw_str(w, "label", g->members[m].label);
                        clx_jw_int(w, "events", g->members[m].events);
                        clx_jw_obj_end(w);
                    }
                    clx_jw_arr_end(w);
                    clx_jw_int(w, "events", g->total_events);
                    clx_jw_str(w, "suggested", g->canonical);
                    clx_jw_str(w, "warning", line);
                    clx_jw_obj_end(w);
                    ngroups++;
                }
                clx_label_report_destroy(rep);
            }
            free(tl);
        }
    }
    clx_jw_arr_end(w);
    clx_jw_int(w, "count", (int64_t)ngroups);
    clx_jw_obj_end(w);
    free(labels);
    free(done_projects);
    clx_rest_fold_free(f);
    return 0;
}
