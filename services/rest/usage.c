/*
 * usage.c — the dashboard's reads over REST: overview (totals, series, recent events),
 * costs grouped by any dimension, and warnings; all answered from write-time rollups.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_money.h"
#include "clx_query.h"
#include "clx_settings.h"
#include "rest_internal.h"

static const char *const dim_names[CLX_NDIMS] = {"project", "environment", "feature", "provider", "model"};

/*
 * Parses a time parameter: "YYYY-MM-DD" (UTC midnight), "YYYY-MM-DDTHH:MM:SSZ", or Unix
 * milliseconds. Returns 0 or -1.
 */
static int parse_time(const char *s, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    char *end;
    if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) {
        *ms = strtoll(s, &end, 10);
        return 0;
    }
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL)
        return -1;
    if (*end == 'T') {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (end == NULL || strcmp(end, "Z") != 0)
            return -1;
    } else if (*end != '\0') {
        return -1;
    }
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* Reads the from/to parameters that are present into *from / *to. 0, or -1 after a 400. */
static int read_times(clx_rest_call_t *call, int64_t *from, int64_t *to)
{
    const char *names[2] = {"from", "to"};
    int64_t *slots[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        char *v = clx_rest_query(call->req, names[i]);
        if (v != NULL && parse_time(v, slots[i]) != 0) {
            clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, names[i],
                                "%s must be YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or Unix milliseconds", names[i]);
            return -1;
        }
    }
    return 0;
}

/* Reads from/to (defaults: the last 30 whole UTC days up to the end of today). 0, or -1 after a 400. */
static int time_range(clx_rest_call_t *call, int64_t *from, int64_t *to)
{
    int64_t today = clx_now_ms() / CLX_MS_PER_DAY * CLX_MS_PER_DAY;
    *to = today + CLX_MS_PER_DAY;
    *from = *to - 30 * CLX_MS_PER_DAY;
    if (read_times(call, from, to) != 0)
        return -1;
    if (*to <= *from) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "to", "to must be after from");
        return -1;
    }
    return 0;
}

static void jw_time(clx_jw_t *w, const char *key, int64_t ms)
{
    char buf[40];
    clx_rest_iso_time(ms, buf, sizeof(buf));
    clx_jw_str(w, key, buf);
}

/* A 128-bit sum as an exact JSON integer (JSON numbers have no size limit). */
static void jw_i128(clx_jw_t *w, const char *key, clx_i128_t v)
{
    char num[CLX_I128_BUF];
    size_t n = clx_i128_format(v, num);
    clx_jw_key(w, key);
    clx_jw_raw(w, num, n);
}

static void jw_sum(clx_jw_t *w, const clx_usage_row_t *row)
{
    const clx_rollup_t *r = &row->sum;
    char cost[CLX_I128_BUF];
    jw_i128(w, "events", r->events);
    jw_i128(w, "inputTokens", r->input_tokens);
    jw_i128(w, "outputTokens", r->output_tokens);
    jw_i128(w, "cachedTokens", r->cached_tokens);
    jw_i128(w, "cacheWriteTokens", r->cache_write_tokens);
    clx_money_format_usd_wide(r->cost_nanos, cost); /* an exact decimal string */
    clx_jw_str(w, "costUsd", cost);
    jw_i128(w, "unpricedEvents", row->unpriced_events); /* in events, not in costUsd */
}

static int workspace_ok(clx_rest_call_t *call, const char *ws)
{
    if (clx_settings_get_workspace(call->srv->cfg.settings, ws, NULL) == CLX_OK)
        return 1;
    clx_rest_send_error(call->req, CLX_ENOTFOUND, CLX_CODE_NONE, "workspace", "workspace '%s' does not exist", ws);
    return 0;
}

/* Every usage route starts alike: the workspace exists and the range parses. 0, or -1 answered. */
static int begin(clx_rest_call_t *call, char **ws, int64_t *from, int64_t *to)
{
    *ws = clx_rest_param(call, 0);
    if (!workspace_ok(call, *ws) || time_range(call, from, to) != 0)
        return -1;
    return 0;
}

static int run_query(clx_rest_call_t *call, const clx_usage_query_t *q, clx_arena_t *arena, clx_usage_row_t **rows,
                     size_t *n, clx_usage_row_t *total)
{
    int rc = clx_query_usage(call->srv->cfg.query, q, arena, rows, n, total);
    if (rc != CLX_OK) {
        clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "usage could not be read: %s", clx_strerror(rc));
        return -1;
    }
    return 0;
}

static void jw_head(clx_jw_t *w, const char *ws, int64_t from, int64_t to)
{
    clx_jw_obj_begin(w);
    clx_jw_str(w, "workspace", ws);
    jw_time(w, "from", from);
    jw_time(w, "to", to);
}

int clx_rest_event_filter(clx_rest_call_t *call, clx_event_filter_t *f)
{
    memset(f, 0, sizeof(*f));
    if (read_times(call, &f->from_ms, &f->to_ms) != 0)
        return -1;
    const char **dims[CLX_NDIMS] = {&f->project, &f->environment, &f->feature, &f->provider, &f->model};
    for (int i = 0; i < CLX_NDIMS; i++)
        *dims[i] = clx_rest_query(call->req, dim_names[i]);
    f->user_id = clx_rest_query(call->req, "userId");
    /* tag.KEY=VALUE, any tag (declared or not): checked on each event the scan reads */
    char *keys[CLX_FILTER_TAGS], *values[CLX_FILTER_TAGS];
    size_t n = clx_rest_query_prefixed(call->req, "tag.", keys, values, CLX_FILTER_TAGS);
    if (n > CLX_FILTER_TAGS) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "tag", "at most %d tag.KEY filters",
                            CLX_FILTER_TAGS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (keys[i][0] == '\0') {
            clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "tag", "a tag filter is tag.KEY=VALUE");
            return -1;
        }
        f->tag_key[i] = keys[i];
        f->tag_value[i] = values[i];
    }
    f->ntags = n;
    return 0;
}

/* ---- overview ------------------------------------------------------------------------------ */

static int recent_cb(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev)
{
    clx_rest_render_event(arg, ev);
    return 0;
}

int clx_rest_usage_overview(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws;
    int64_t from, to;
    if (begin(call, &ws, &from, &to) != 0)
        return 0;
    char *bucket = clx_rest_query(call->req, "bucket");
    int hourly = bucket != NULL ? strcmp(bucket, "hour") == 0 : to - from <= 2 * CLX_MS_PER_DAY;
    if (bucket != NULL && !hourly && strcmp(bucket, "day") != 0)
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "bucket",
                                   "bucket must be hour or day");
    clx_usage_query_t q = {.workspace = ws, .from_ms = from, .to_ms = to,
                           .group_by = hourly ? CLX_DIM_HOUR : CLX_DIM_DAY};
    clx_usage_row_t *rows;
    size_t n;
    clx_usage_row_t total;
    if (run_query(call, &q, w->arena, &rows, &n, &total) != 0)
        return 0;
    jw_head(w, ws, from, to);
    clx_jw_str(w, "bucket", hourly ? "hour" : "day");
    clx_jw_obj_open(w, "totals");
    jw_sum(w, &total);
    clx_jw_obj_end(w);
    clx_jw_arr_begin(w, "series");
    for (size_t i = 0; i < n; i++) {
        clx_jw_obj_open(w, NULL);
        jw_time(w, "start", rows[i].bucket_ms);
        jw_sum(w, &rows[i]);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_arr_begin(w, "recent");
    clx_event_cursor_t next;
    clx_event_filter_t range = {.from_ms = from, .to_ms = to};
    if (clx_query_list_events(call->srv->cfg.query, ws, NULL, 10, &range, recent_cb, w, &next) != CLX_OK)
        return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "recent events could not be read");
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}

/* ---- costs --------------------------------------------------------------------------------- */

/* Reads limit (1..1000) into *limit when present. 0, or -1 after a 400. */
static int read_limit(clx_rest_call_t *call, size_t *limit)
{
    char *v = clx_rest_query(call->req, "limit");
    if (v == NULL)
        return 0;
    if (*v == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 4 || atoi(v) < 1 || atoi(v) > 1000) {
        clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "limit", "limit must be 1 to 1000");
        return -1;
    }
    *limit = (size_t)atoi(v);
    return 0;
}

/*
 * groupBy=user, key or tag:KEY: the top values from the dims family (clx_query_top). It
 * answers one such dimension over whole UTC days of event time, and nothing else: another
 * groupBy, an attribution filter or a range not on day boundaries is refused by name.
 */
static int costs_top(clx_rest_call_t *call, clx_jw_t *w, const char *ws, int64_t from, int64_t to, const char *group)
{
    clx_top_query_t q = {.workspace = ws, .from_ms = from, .to_ms = to, .limit = 50};
    if (strchr(group, ',') != NULL)
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                   "groupBy user, key or tag:KEY takes no other dimension (got '%.80s')", group);
    if (strcmp(group, "user") == 0) {
        q.kind = CLX_TOP_USER;
    } else if (strcmp(group, "key") == 0) {
        q.kind = CLX_TOP_KEY;
    } else {
        q.kind = CLX_TOP_TAG;
        q.tag_key = group + 4;
        clx_workspace_t wsrec;
        int declared = 0;
        if (clx_settings_get_workspace(call->srv->cfg.settings, ws, &wsrec) == CLX_OK)
            for (size_t i = 0; i < wsrec.ntag_dimensions; i++)
                declared |= strcmp(wsrec.tag_dimensions[i], q.tag_key) == 0;
        if (!declared)
            return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                       "tag '%.64s' is not one of the workspace's tagDimensions: only declared tags "
                                       "are rolled up (the event list filters on any tag: tag.KEY=VALUE)",
                                       q.tag_key);
    }
    for (int i = 0; i < CLX_NDIMS; i++)
        if (clx_rest_query(call->req, dim_names[i]) != NULL)
            return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, dim_names[i],
                                       "groupBy=%s cannot be filtered by %s: its counters are per %s and day only",
                                       group, dim_names[i], group);
    if (from % CLX_MS_PER_DAY != 0 || to % CLX_MS_PER_DAY != 0)
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE,
                                   from % CLX_MS_PER_DAY != 0 ? "from" : "to",
                                   "groupBy=%s needs whole UTC days: from and to at midnight UTC", group);
    if (read_limit(call, &q.limit) != 0)
        return 0;
    clx_top_row_t *rows, total;
    size_t n, nvalues;
    int rc = clx_query_top(call->srv->cfg.query, &q, w->arena, &rows, &n, &total, &nvalues);
    if (rc != CLX_OK)
        return clx_rest_send_error(call->req, CLX_EIO, CLX_CODE_NONE, NULL, "usage could not be read: %s",
                                   clx_strerror(rc));
    jw_head(w, ws, from, to);
    clx_jw_arr_begin(w, "groupBy");
    clx_jw_str(w, NULL, group);
    clx_jw_arr_end(w);
    clx_jw_obj_open(w, "total"); /* every value's, not only the rows shown */
    clx_usage_row_t t = {.sum = total.sum, .unpriced_events = total.unpriced_events};
    jw_sum(w, &t);
    clx_jw_obj_end(w);
    clx_jw_int(w, "groups", (int64_t)nvalues);
    clx_jw_int(w, "limit", (int64_t)q.limit);
    clx_jw_arr_begin(w, "rows");
    for (size_t i = 0; i < n; i++) {
        clx_jw_obj_open(w, NULL);
        clx_jw_str(w, group, rows[i].value);
        clx_usage_row_t r = {.sum = rows[i].sum, .unpriced_events = rows[i].unpriced_events};
        jw_sum(w, &r);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}

/* Is tok (len bytes) one of the dims family's group-bys: user, key, tag:KEY? */
static int top_group(const char *tok, size_t len)
{
    return (len == 4 && strncmp(tok, "user", 4) == 0) || (len == 3 && strncmp(tok, "key", 3) == 0) ||
           (len > 4 && strncmp(tok, "tag:", 4) == 0);
}

int clx_rest_usage_costs(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws;
    int64_t from, to;
    if (begin(call, &ws, &from, &to) != 0)
        return 0;
    clx_usage_query_t q = {.workspace = ws, .from_ms = from, .to_ms = to};
    char *group = clx_rest_query(call->req, "groupBy");
    if (group == NULL)
        group = "project";
    /* voided=true: the spend of the events voided (issue 11), which no other total counts */
    char *voided = clx_rest_query(call->req, "voided");
    if (voided != NULL && strcmp(voided, "true") != 0 && strcmp(voided, "false") != 0)
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "voided", "voided must be true or false");
    q.voided = voided != NULL && strcmp(voided, "true") == 0;
    size_t limit = 0;
    for (char *tok = group, *comma; *tok != '\0'; tok = comma != NULL ? comma + 1 : tok + strlen(tok)) {
        comma = strchr(tok, ',');
        size_t len = comma != NULL ? (size_t)(comma - tok) : strlen(tok);
        if (top_group(tok, len)) {
            if (q.voided)
                return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                           "voided spend groups by project, environment, feature, provider, model "
                                           "or day");
            if (tok != group)
                return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                           "groupBy %.*s takes no other dimension", (int)(len > 70 ? 70 : len), tok);
            if (len == strlen(group) && strncmp(group, "tag:", 4) == 0 &&
                !clx_tag_key_valid(group + 4, strlen(group + 4)))
                return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                           "tag:KEY takes a tag key: 1 to 64 of a-z 0-9 _ . -");
            return costs_top(call, w, ws, from, to, group);
        }
        unsigned bit = 0;
        for (int i = 0; i < CLX_NDIMS; i++)
            if (strlen(dim_names[i]) == len && strncmp(tok, dim_names[i], len) == 0)
                bit = 1u << i;
        if (len == 3 && strncmp(tok, "day", 3) == 0)
            bit = CLX_DIM_DAY;
        if (len == 4 && strncmp(tok, "hour", 4) == 0)
            bit = CLX_DIM_HOUR;
        if (bit == 0 && len > 0)
            return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                       "groupBy takes project, environment, feature, provider, model, day or hour, "
                                       "or one of user, key, tag:KEY; got '%.*s'",
                                       (int)(len > 40 ? 40 : len), tok);
        q.group_by |= bit;
    }
    if (q.voided && (q.group_by & CLX_DIM_HOUR))
        return clx_rest_send_error(call->req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "groupBy",
                                   "voided spend is kept per day: group by day, not hour");
    if (read_limit(call, &limit) != 0)
        return 0;
    for (int i = 0; i < CLX_NDIMS; i++)
        q.filter[i] = clx_rest_query(call->req, dim_names[i]);
    clx_usage_row_t *rows;
    size_t n;
    clx_usage_row_t total;
    struct clx_rest_fold *fold = clx_rest_fold_attach(call, ws, &q); /* feature aliases (issue 12) */
    int failed = run_query(call, &q, w->arena, &rows, &n, &total);
    clx_rest_fold_free(fold); /* the rows' labels are arena copies */
    if (failed != 0)
        return 0;
    jw_head(w, ws, from, to);
    clx_jw_arr_begin(w, "groupBy");
    for (int i = 0; i < CLX_NDIMS; i++)
        if (q.group_by & (1u << i))
            clx_jw_str(w, NULL, dim_names[i]);
    if (q.group_by & CLX_DIM_DAY)
        clx_jw_str(w, NULL, "day");
    if (q.group_by & CLX_DIM_HOUR)
        clx_jw_str(w, NULL, "hour");
    clx_jw_arr_end(w);
    if (q.voided)
        clx_jw_bool(w, "voided", 1);
    clx_jw_obj_open(w, "total");
    jw_sum(w, &total);
    clx_jw_obj_end(w);
    clx_jw_arr_begin(w, "rows");
    if (limit != 0 && n > limit) /* rows are by cost (or time): the first limit of them */
        n = limit;
    for (size_t i = 0; i < n; i++) {
        clx_jw_obj_open(w, NULL);
        for (int k = 0; k < CLX_NDIMS; k++) {
            if (rows[i].dims[k] == NULL)
                continue;
            if (rows[i].dims[k][0] == '\0')
                clx_jw_null(w, dim_names[k]); /* unattributed */
            else
                clx_jw_str(w, dim_names[k], rows[i].dims[k]);
        }
        if (q.group_by & (CLX_DIM_DAY | CLX_DIM_HOUR))
            jw_time(w, (q.group_by & CLX_DIM_HOUR) ? "hour" : "day", rows[i].bucket_ms);
        jw_sum(w, &rows[i]);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}

/* ---- warnings ------------------------------------------------------------------------------- */

/* One warnings section: rows of a flag, grouped by dims, with counts and first/last seen. */
static int section(clx_rest_call_t *call, clx_jw_t *w, const char *name, const char *ws, int64_t from, int64_t to,
                   uint32_t flag, unsigned group_by)
{
    clx_usage_query_t q = {.workspace = ws, .from_ms = from, .to_ms = to, .group_by = group_by,
                           .require_flags = flag, .as_sent = 1};
    clx_usage_row_t *rows;
    size_t n;
    clx_usage_row_t total;
    if (run_query(call, &q, w->arena, &rows, &n, &total) != 0)
        return -1;
    clx_jw_obj_open(w, name);
    jw_i128(w, "events", total.sum.events);
    clx_jw_arr_begin(w, "items");
    for (size_t i = 0; i < n; i++) {
        clx_jw_obj_open(w, NULL);
        for (int k = 0; k < CLX_NDIMS; k++)
            if (rows[i].dims[k] != NULL)
                clx_jw_str(w, dim_names[k], rows[i].dims[k]);
        jw_i128(w, "events", rows[i].sum.events);
        jw_time(w, "firstSeen", rows[i].sum.first_ms);
        jw_time(w, "lastSeen", rows[i].sum.last_ms);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return 0;
}

/* Events refused because a key is locked to another environment, per key. */
static int lock_section(clx_rest_call_t *call, clx_jw_t *w, const char *ws, int64_t from, int64_t to)
{
    clx_usage_query_t q = {.workspace = ws, .from_ms = from, .to_ms = to, .lock_refusals = 1,
                           .group_by = CLX_DIM_PROJECT | CLX_DIM_ENVIRONMENT | CLX_DIM_FEATURE};
    clx_usage_row_t *rows;
    size_t n;
    clx_usage_row_t total;
    if (run_query(call, &q, w->arena, &rows, &n, &total) != 0)
        return -1;
    clx_jw_obj_open(w, "lockedEnvironment");
    jw_i128(w, "events", total.sum.events);
    clx_jw_arr_begin(w, "items");
    for (size_t i = 0; i < n; i++) {
        clx_jw_obj_open(w, NULL);
        clx_jw_str(w, "keyId", rows[i].dims[0]);
        clx_jw_str(w, "environment", rows[i].dims[1]);
        clx_jw_str(w, "lockedTo", rows[i].dims[2]);
        jw_i128(w, "events", rows[i].sum.events);
        jw_time(w, "firstSeen", rows[i].sum.first_ms);
        jw_time(w, "lastSeen", rows[i].sum.last_ms);
        clx_jw_obj_end(w);
    }
    clx_jw_arr_end(w);
    clx_jw_obj_end(w);
    return 0;
}

int clx_rest_usage_warnings(clx_rest_call_t *call, clx_jw_t *w)
{
    char *ws;
    int64_t from, to;
    if (begin(call, &ws, &from, &to) != 0)
        return 0;
    jw_head(w, ws, from, to);
    if (section(call, w, "unpriced", ws, from, to, COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED,
                CLX_DIM_PROVIDER | CLX_DIM_MODEL) != 0 ||
        section(call, w, "unknownProjects", ws, from, to, COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT,
                CLX_DIM_PROJECT) != 0 ||
        section(call, w, "unknownEnvironments", ws, from, to,
                COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_ENVIRONMENT,
                CLX_DIM_PROJECT | CLX_DIM_ENVIRONMENT) != 0 ||
        section(call, w, "unattributed", ws, from, to, COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_NO_ATTRIBUTION,
                CLX_DIM_PROVIDER | CLX_DIM_MODEL) != 0 ||
        lock_section(call, w, ws, from, to) != 0 || clx_rest_spellings_section(call, w, ws, from, to) != 0)
        return 0;
    clx_jw_obj_end(w);
    return clx_rest_send_json(call->req, 200, w->buf, w->len);
}

int clx_rest_parse_time(const char *s, int64_t *ms)
{
    return parse_time(s, ms);
}
