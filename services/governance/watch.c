/*
 * watch.c — the hourly anomaly watch: series per scope from the hourly rollups, each complete
 * hour judged by clx_anomaly_check, episodes alerted once, flagged hours listed (clx_watch.h).
 */
#include "clx_watch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_map.h"
#include "clx_mem.h"
#include "clx_money.h"
#include "clx_outbox.h" /* CLX_OUTBOX_ID_MAX */
#include "clx_rollup.h"
#include "clx_tz.h"

#define F_UNKNOWN_PROJECT COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT

#define HOUR CLX_MS_PER_HOUR
#define GRACE_MS (5 * 60 * 1000) /* an hour is judged 5 minutes after its end */
#define HISTORY_HOURS (28 * 24)  /* the rule looks back 28 days */
#define REJUDGE_HOURS 2          /* late events: the hours before are judged again */
#define FIRST_RUN_HOURS 48       /* at start */
#define KEEP_MS (7 * CLX_MS_PER_DAY)
#define EPISODE_GAP_HOURS 3

struct item {
    char ws[CLX_SLUG_MAX + 1];
    const char *scope_type; /* static */
    char *scope;
    int64_t hour;    /* hours since the epoch */
    int64_t episode; /* its episode's first hour */
    clx_anomaly_t a;
    char alert_id[CLX_OUTBOX_ID_MAX + 1];
    int alerted;
};

struct clx_watch {
    clx_store_t *store;
    clx_settings_t *settings;
    int64_t last_hour;  /* the last hour judged; 0 before the first run */
    pthread_mutex_t mu; /* items */
    struct item *items;
    size_t n, cap;
};

clx_watch_t *clx_watch_create(clx_store_t *store, clx_settings_t *settings)
{
    clx_watch_t *w = clx_xcalloc(1, sizeof(*w));
    w->store = store;
    w->settings = settings;
    pthread_mutex_init(&w->mu, NULL);
    return w;
}

void clx_watch_destroy(clx_watch_t *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->items[i].scope);
    free(w->items);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ---- series from the rollups ------------------------------------------------------------------- */

struct scope {
    const char *type; /* static */
    char *name;
    int64_t *cost, *events;
};

/* Scopes judged per workspace (each holds 29 days of hours, ~11 KiB): a workspace with more
 * features and models than this has the first ones met in key order judged, the rest not. */
#define SCOPES_MAX 2000

struct scopes {
    struct scope *items;
    size_t n, cap, slots, dropped;
    clx_map_t *index; /* type '\0' name -> index + 1 */
};

static struct scope *scope_get(struct scopes *ss, const char *type, const char *name)
{
    char k[1200];
    int kl = snprintf(k, sizeof(k), "%s%c%s", type, 0, name);
    if (kl <= 0 || (size_t)kl >= sizeof(k))
        return NULL;
    size_t idx = (size_t)(uintptr_t)clx_map_get(ss->index, k, (size_t)kl);
    if (idx != 0)
        return &ss->items[idx - 1];
    if (ss->n == SCOPES_MAX) { /* callers choose feature and model names: the memory stays bounded */
        ss->dropped++;
        return NULL;
    }
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? ss->cap * 2 : 32;
        ss->items = clx_xrealloc(ss->items, ss->cap * sizeof(*ss->items));
    }
    struct scope *s = &ss->items[ss->n++];
    s->type = type;
    s->name = clx_xstrdup(name);
    s->cost = clx_xcalloc(ss->slots, sizeof(int64_t));
    s->events = clx_xcalloc(ss->slots, sizeof(int64_t));
    clx_map_put(ss->index, k, (size_t)kl, (void *)(uintptr_t)ss->n);
    return s;
}

static int64_t clamp64(clx_i128_t v)
{
    return v > INT64_MAX ? INT64_MAX : v < 0 ? 0 : (int64_t)v;
}

static void add(struct scope *s, size_t slot, const clx_rollup_t *r)
{
    if (s == NULL)
        return;
    int64_t c = clamp64(r->cost_nanos), e = clamp64(r->events);
    s->cost[slot] = s->cost[slot] > INT64_MAX - c ? INT64_MAX : s->cost[slot] + c;
    s->events[slot] = s->events[slot] > INT64_MAX - e ? INT64_MAX : s->events[slot] + e;
}

/* Reads ws's hour rollups of [first, last] into per-scope series. CLX_OK or an error. */
static int read_series(clx_watch_t *w, const char *ws, int64_t first, int64_t last, struct scopes *ss)
{
    char prefix[CLX_ROLLUP_PREFIX_LEN(CLX_SLUG_MAX)], start[CLX_ROLLUP_PREFIX_LEN(CLX_SLUG_MAX)];
    size_t plen = clx_rollup_key_prefix(prefix, CLX_ROLLUP_HOUR, ws, 0, 0);
    size_t slen = clx_rollup_key_prefix(start, CLX_ROLLUP_HOUR, ws, (uint32_t)(first > 0 ? first : 0), 1);
    int rc = CLX_OK;
    char *scratch = NULL, model[700];
    size_t scap = 0;
    clx_iter_t *it = clx_iter_create(w->store, CLX_CF_ROLLUPS, prefix, plen);
    for (clx_iter_seek(it, start, slen); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *key = clx_iter_key(it, &klen);
        if (klen + 1 > scap) {
            scap = klen + 256;
            free(scratch);
            scratch = clx_xmalloc(scap);
        }
        uint32_t bucket;
        clx_rollup_dims_t d;
        if (clx_rollup_key_decode(key, klen, plen, scratch, &bucket, &d) != 0) {
            rc = CLX_ECORRUPT;
            break;
        }
        if ((int64_t)bucket > last)
            break;
        if ((int64_t)bucket < first)
            continue;
        clx_rollup_t r;
        const char *val = clx_iter_value(it, &vlen);
        if (clx_rollup_unpack(val, vlen, &r) != CLX_OK) {
            rc = CLX_ECORRUPT;
            break;
        }
        size_t slot = (size_t)((int64_t)bucket - first);
        add(scope_get(ss, "workspace", ws), slot, &r);
        if (!(d.flags & F_UNKNOWN_PROJECT) && d.project[0] != '\0')
            add(scope_get(ss, "project", d.project), slot, &r);
        if (d.feature[0] != '\0')
            add(scope_get(ss, "feature", d.feature), slot, &r);
        snprintf(model, sizeof(model), "%s/%s", d.provider, d.model);
        add(scope_get(ss, "model", model), slot, &r);
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    free(scratch);
    return rc;
}

static void scopes_free(struct scopes *ss)
{
    for (size_t i = 0; i < ss->n; i++) {
        free(ss->items[i].name);
        free(ss->items[i].cost);
        free(ss->items[i].events);
    }
    free(ss->items);
    clx_map_destroy(ss->index);
}

/* ---- the flagged hours ------------------------------------------------------------------------- */

/* The item of (ws, type, scope, hour), or NULL. w->mu held. */
static struct item *find(clx_watch_t *w, const char *ws, const char *type, const char *scope, int64_t hour)
{
    for (size_t i = 0; i < w->n; i++) {
        struct item *it = &w->items[i];
        if (it->hour == hour && strcmp(it->scope_type, type) == 0 && strcmp(it->ws, ws) == 0 &&
            strcmp(it->scope, scope) == 0)
            return it;
    }
    return NULL;
}

static void remove_at(clx_watch_t *w, size_t i)
{
    free(w->items[i].scope);
    w->items[i] = w->items[--w->n];
}

static void hour_text(int64_t hour, char out[32])
{
    char iso[32];
    clx_alert_iso(hour * HOUR, iso);
    snprintf(out, 32, "%.13s", iso); /* 2026-03-01T14 */
}

/* Records verdict a of (ws, scope, hour): an anomaly is added (its episode found), a normal
 * hour drops an earlier flag. Returns the item to alert, or NULL. w->mu held. */
static struct item *record(clx_watch_t *w, const char *ws, const struct scope *s, int64_t hour, const clx_anomaly_t *a)
{
    struct item *old = find(w, ws, s->type, s->name, hour);
    if (a->verdict != CLX_VERDICT_ANOMALY) {
        if (old != NULL)
            remove_at(w, (size_t)(old - w->items));
        return NULL;
    }
    if (old != NULL) {
        old->a = *a;
        return old->alerted || old->episode != hour ? NULL : old;
    }
    int64_t episode = hour;
    for (int64_t h = hour - 1; h >= hour - EPISODE_GAP_HOURS; h--) {
        struct item *prev = find(w, ws, s->type, s->name, h);
        if (prev != NULL) {
            episode = prev->episode;
            break;
        }
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 32;
        w->items = clx_xrealloc(w->items, w->cap * sizeof(*w->items));
    }
    struct item *it = &w->items[w->n++];
    memset(it, 0, sizeof(*it));
    snprintf(it->ws, sizeof(it->ws), "%s", ws);
    it->scope_type = s->type;
    it->scope = clx_xstrdup(s->name);
    it->hour = hour;
    it->episode = episode;
    it->a = *a;
    char start[32];
    hour_text(episode, start);
    snprintf(it->alert_id, sizeof(it->alert_id), "anomaly:%s:%.120s:%s", s->type, s->name, start);
    return episode == hour ? it : NULL;
}

/* Writes the alert of a new episode's first hour through fire. w->mu held. */
static void alert(struct item *it, clx_watch_fire_fn fire, void *ctx)
{
    char title[400], observed[32], baseline[32], score[32], ratio[32], start[32];
    clx_money_format_usd(it->a.observed_nanos, observed);
    clx_money_format_usd(it->a.baseline_nanos, baseline);
    snprintf(score, sizeof(score), "%.1f", it->a.score);
    snprintf(ratio, sizeof(ratio), "%.1fx", it->a.ratio);
    hour_text(it->hour, start);
    snprintf(title, sizeof(title), "Spend anomaly: %s %s, $%s in the hour (usually $%s)", it->scope_type, it->scope,
             observed, baseline);
    clx_alert_field_t fields[] = {
        {"scopeType", it->scope_type}, {"scope", it->scope}, {"hour", start},  {"observedUsd", observed},
        {"baselineUsd", baseline},     {"ratio", ratio},     {"score", score},
    };
    clx_alert_msg_t m = {.id = it->alert_id,
                         .kind = "anomaly",
                         .workspace = it->ws,
                         .title = title,
                         .text = it->a.reason,
                         .fields = fields,
                         .nfields = sizeof(fields) / sizeof(fields[0]),
                         .at_ms = clx_now_ms()};
    int rc = fire(ctx, &m);
    it->alerted = rc == CLX_OK || rc == CLX_EEXIST;
}

/* ---- the run ------------------------------------------------------------------------------------ */

struct ws_list {
    char (*slugs)[CLX_SLUG_MAX + 1];
    char (*sens)[8];
    char (*zones)[64];
    size_t n, cap;
};

static void ws_cb(void *arg, const clx_workspace_t *ws)
{
    struct ws_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->slugs = clx_xrealloc(l->slugs, l->cap * sizeof(*l->slugs));
        l->sens = clx_xrealloc(l->sens, l->cap * sizeof(*l->sens));
        l->zones = clx_xrealloc(l->zones, l->cap * sizeof(*l->zones));
    }
    memcpy(l->slugs[l->n], ws->slug, sizeof(l->slugs[0]));
    memcpy(l->sens[l->n], ws->anomaly_sensitivity, sizeof(l->sens[0]));
    memcpy(l->zones[l->n], ws->time_zone, sizeof(l->zones[0]));
    l->n++;
}

/* Judges hours [from, to] of ws. Returns the anomalous hours found. */
static size_t judge_ws(clx_watch_t *w, const char *ws, const char *sensitivity, const char *zone, int64_t from,
                       int64_t to, clx_watch_fire_fn fire, void *ctx)
{
    /* weekdays and weekends are the workspace's: the series' hours are shifted by the zone's
     * offset at the judged hours (whole hours; a DST change inside the 28 days moves the older
     * days by an hour, which the rule's +-2 h envelope absorbs) */
    int64_t shift = 0;
    clx_tz_t *tz = NULL;
    if (zone[0] != '\0' && clx_tz_load(zone, &tz) == CLX_OK) {
        int32_t off = clx_tz_offset(tz, to * 3600);
        shift = off >= 0 ? off / 3600 : -((-off + 3599) / 3600);
    }
    clx_tz_destroy(tz);
    clx_sensitivity_t sv = CLX_SENSITIVITY_MEDIUM;
    if (sensitivity[0] != '\0')
        clx_sensitivity_parse(sensitivity, &sv);
    clx_anomaly_params_t p;
    clx_anomaly_params_for(sv, &p);
    int64_t first = from - HISTORY_HOURS;
    struct scopes ss = {.slots = (size_t)(to - first + 1), .index = clx_map_create()};
    int rc = read_series(w, ws, first, to, &ss);
    if (rc != CLX_OK) {
        clx_log(CLX_LOG_ERROR, "governance", "anomalies of %s: cannot read the rollups: %s", ws, clx_strerror(rc));
        scopes_free(&ss);
        return 0;
    }
    if (ss.dropped > 0)
        clx_log(CLX_LOG_WARN, "governance", "anomalies of %s: more than %d features and models; %zu rollups not judged",
                ws, SCOPES_MAX, ss.dropped);
    size_t found = 0;
    pthread_mutex_lock(&w->mu);
    for (int64_t h = from; h <= to; h++) {
        for (size_t i = 0; i < ss.n; i++) {
            const struct scope *s = &ss.items[i];
            clx_series_t series = {
                .first_hour = first + shift, .n = ss.slots, .cost_nanos = s->cost, .events = s->events};
            clx_anomaly_t a;
            if (clx_anomaly_check(&series, (size_t)(h - first), &p, &a) != CLX_OK)
                continue;
            struct item *it = record(w, ws, s, h, &a);
            found += a.verdict == CLX_VERDICT_ANOMALY;
            if (it != NULL)
                alert(it, fire, ctx);
        }
    }
    pthread_mutex_unlock(&w->mu);
    scopes_free(&ss);
    return found;
}

size_t clx_watch_run(clx_watch_t *w, int64_t now_ms, clx_watch_fire_fn fire, void *ctx)
{
    int64_t last = (now_ms - GRACE_MS) / HOUR - 1; /* the newest complete hour */
    int64_t from;
    if (w->last_hour == 0)
        from = last - FIRST_RUN_HOURS + 1;
    else if (last > w->last_hour)
        from = w->last_hour + 1 - REJUDGE_HOURS;
    else
        from = last + 1; /* nothing new to judge */
    size_t found = 0;
    if (from <= last) {
        struct ws_list l = {0};
        clx_settings_list_workspaces(w->settings, ws_cb, &l);
        for (size_t i = 0; i < l.n; i++)
            found += judge_ws(w, l.slugs[i], l.sens[i], l.zones[i], from, last, fire, ctx);
        free(l.slugs);
        free(l.sens);
        free(l.zones);
        w->last_hour = last;
    }
    /* alerts not written yet are offered again; old hours are forgotten */
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n;) {
        struct item *it = &w->items[i];
        if (it->hour * HOUR < now_ms - KEEP_MS) {
            remove_at(w, i);
            continue;
        }
        if (!it->alerted && it->episode == it->hour)
            alert(it, fire, ctx);
        i++;
    }
    pthread_mutex_unlock(&w->mu);
    return found;
}

static int newest_first(const void *a, const void *b)
{
    const struct item *x = *(const struct item *const *)a, *y = *(const struct item *const *)b;
    return (x->hour < y->hour) - (x->hour > y->hour);
}

void clx_watch_list(clx_watch_t *w, const char *ws, int64_t from_ms, int64_t to_ms, clx_watch_fn fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    const struct item **sel = clx_xcalloc(w->n ? w->n : 1, sizeof(*sel));
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        const struct item *it = &w->items[i];
        int64_t t = it->hour * HOUR;
        if (strcmp(it->ws, ws) == 0 && (from_ms == 0 || t >= from_ms) && (to_ms == 0 || t < to_ms))
            sel[k++] = it;
    }
    qsort(sel, k, sizeof(*sel), newest_first);
    for (size_t i = 0; i < k; i++) {
        clx_watch_item_t out = {
            .scope_type = sel[i]->scope_type,
            .scope = sel[i]->scope,
            .hour_ms = sel[i]->hour * HOUR,
            .episode_ms = sel[i]->episode * HOUR,
            .a = sel[i]->a,
            .alert_id = sel[i]->alert_id,
        };
        fn(arg, &out);
    }
    free(sel);
    pthread_mutex_unlock(&w->mu);
}
