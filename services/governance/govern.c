/*
 * govern.c — the governance service wired into the daemon: budgets tracked in memory from
 * the rollups plus every written event, the budget check, threshold alerts written once per
 * period to the outbox, and the delivery thread (clx_govern.h has the contract).
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "clx_govern.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_delivery.h"
#include "clx_error.h"
#include "clx_events.h" /* clx_event_time_ms */
#include "clx_hash.h"
#include "clx_map.h"
#include "clx_log.h"
#include "clx_query.h"
#include "clx_rollup.h"
#include "clx_watch.h"
#include "clx_writer.h" /* CLX_WRITER_META_SEQ */

#define F_UNKNOWN_PROJECT COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT
#define F_UNKNOWN_ENVIRONMENT COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_ENVIRONMENT

/* One budget as tracked: its definition (a copy), zone, current period and spend. */
struct tracked {
    clx_budget_def_t def; /* name is our own copy */
    clx_tz_t *tz;         /* owned (clx_tz_utc() is static) */
    char zone[64];
    clx_span_t period;
    int64_t spent;        /* nanos, saturating */
    uint64_t applied_seq; /* events with seq <= this are in spent already */
    uint32_t fired;       /* thresholds whose alert is written this period */
    uint32_t pending;     /* crossed, alert not written yet (the governance thread's job) */
    int keep;             /* sync's mark */
    int dirty;            /* corrections changed its events: spend to be read again */
    /* while its spend is read from the store (without the mutex: a month of a key's events
     * can take a while), the hook keeps the deltas of the events it sees here instead */
    int loading;
    struct delta {
        uint64_t seq;
        int64_t cost;
    } * buf;
    size_t nbuf, capbuf;
};

struct clx_govern {
    clx_govern_config_t cfg;
    clx_outbox_t *outbox;
    clx_delivery_t *delivery;

    pthread_mutex_t mu; /* budgets, gen, stopping */
    pthread_cond_t cv;
    struct tracked **budgets;
    size_t n, cap;
    uint64_t gen; /* settings generation last synced */
    int stopping;
    int kicked;              /* work for the thread (a crossing) */
    pthread_mutex_t sync_mu; /* one sync at a time */
    pthread_t thread;

    /* the event rules (a new model, unpriced events, lock refusals): under mu */
    clx_map_t *models;         /* ws '\0' provider '\0' model -> (void *)1: seen in the workspace */
    clx_map_t *raised;         /* ws '\0' alert id -> (void *)1: queued once by this process */
    clx_map_t *counts;         /* ws '\0' rule '\0' UTC date -> alerts raised (under_cap) */
    struct event_alert *queue; /* alerts to write, for the thread */
    size_t nqueue, capqueue;

    /* budgets sorted by workspace, and each workspace's range of them (rebuilt by sync): the
     * writer's hook and the check look at their workspace's budgets only */
    clx_map_t *by_ws; /* ws -> index + 1 into ranges */
    struct ws_range {
        size_t start, n;
    } * ranges;
    size_t nranges;

    clx_watch_t *watch; /* hourly anomalies (the governance thread runs it) */
    int64_t last_prune_ms;
    int watch_sent; /* alerts written by the last watch run */
};

/* An alert raised by one event (not a budget): written by the governance thread. */
struct event_alert {
    char ws[CLX_SLUG_MAX + 1];
    char id[CLX_OUTBOX_ID_MAX + 1];
    const char *kind; /* static */
    char title[400];
    char text[800];
    char f_name[3][24];
    char f_value[3][300];
    size_t nfields;
    int64_t at_ms;
};

struct chans {
    clx_channel_def_t *items;
    size_t n, cap;
};

static void chan_cb(void *arg, const clx_channel_def_t *c)
{
    struct chans *cs = arg;
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 8;
        cs->items = clx_xrealloc(cs->items, cs->cap * sizeof(*cs->items));
    }
    cs->items[cs->n++] = *c;
}

struct clx_govern;
static int fire_message(struct clx_govern *g, const clx_alert_msg_t *m, const struct chans *cs, int64_t now);

static const char *const scope_names[] = {"workspace", "project", "environment", "feature", "key", "user", "tag"};

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* The instant an event counts at: the start of its rollup hour (the rollups' event time). */
static int64_t event_hour_ms(const Costlynx__Store__V1__StoredEvent *rec)
{
    int64_t t = clx_event_time_ms(rec);
    return (t >= 0 ? t / CLX_MS_PER_HOUR : (t - CLX_MS_PER_HOUR + 1) / CLX_MS_PER_HOUR) * CLX_MS_PER_HOUR;
}

/* What a budget is matched against: one event's (or one checked call's) attribution. */
struct attrs {
    const char *project, *environment; /* attributed; "" when none */
    const char *feature, *key_id, *user_id;
    Costlynx__Store__V1__Tag **tags; /* an event's, or NULL */
    size_t ntags;
    const char *const *tag_keys, *const *tag_values; /* a check's, or NULL */
    size_t ncheck_tags;
};

static int has_tag(const struct attrs *a, const char *key, const char *value)
{
    for (size_t i = 0; i < a->ntags; i++)
        if (strcmp(a->tags[i]->key, key) == 0 && strcmp(a->tags[i]->value, value) == 0)
            return 1;
    for (size_t i = 0; i < a->ncheck_tags; i++)
        if (strcmp(a->tag_keys[i], key) == 0 && strcmp(a->tag_values[i], value) == 0)
            return 1;
    return 0;
}

/* Does budget d charge a? */
static int scope_matches(const clx_budget_def_t *d, const struct attrs *a)
{
    switch (d->scope) {
    case CLX_BUDGET_SCOPE_WORKSPACE:
        return 1;
    case CLX_BUDGET_SCOPE_PROJECT:
        return strcmp(d->project, a->project) == 0;
    case CLX_BUDGET_SCOPE_ENVIRONMENT:
        return strcmp(d->project, a->project) == 0 && strcmp(d->environment, a->environment) == 0;
    case CLX_BUDGET_SCOPE_FEATURE:
        return strcmp(d->feature, a->feature) == 0 && (d->project[0] == '\0' || strcmp(d->project, a->project) == 0);
    case CLX_BUDGET_SCOPE_KEY:
        return strcmp(d->key_id, a->key_id) == 0;
    case CLX_BUDGET_SCOPE_USER:
        return a->user_id != NULL && strcmp(d->user_id, a->user_id) == 0;
    case CLX_BUDGET_SCOPE_TAG:
        return has_tag(a, d->tag_key, d->tag_value);
    default:
        return 0;
    }
}

static void event_attrs(const Costlynx__Store__V1__StoredEvent *rec, struct attrs *a)
{
    memset(a, 0, sizeof(*a));
    a->project = rec->project;
    a->environment = rec->environment;
    a->feature = rec->feature;
    a->key_id = rec->key_id;
    a->user_id = rec->user_id;
    a->tags = rec->tags;
    a->ntags = rec->n_tags;
}

/* Budgets the rollups cannot answer (they carry no key, user or tag): read from the events. */
static int by_events(const clx_budget_def_t *d)
{
    return d->scope == CLX_BUDGET_SCOPE_KEY || d->scope == CLX_BUDGET_SCOPE_USER || d->scope == CLX_BUDGET_SCOPE_TAG;
}

/* ---- loading a budget's spend ------------------------------------------------------------------ */

struct key_scan {
    const clx_budget_def_t *def;
    clx_span_t period;
    int64_t spent;
    uint64_t max_seq;
};

static int key_scan_cb(void *arg, uint64_t seq, const Costlynx__Store__V1__StoredEvent *ev)
{
    struct key_scan *ks = arg;
    int64_t t = event_hour_ms(ev);
    struct attrs a;
    event_attrs(ev, &a);
    if (ev->voided || !scope_matches(ks->def, &a) || t < ks->period.start_ms || t >= ks->period.end_ms)
        return 0;
    ks->spent = sat_add(ks->spent, ev->cost_nanos);
    if (seq > ks->max_seq)
        ks->max_seq = seq;
    return 0;
}

/*
 * Sums budget d's spend over period into *spent, and into *seq the sequence number the sum is
 * exact up to (see the header). Reads the store only: needs no lock. CLX_OK, CLX_EIO or
 * CLX_ECORRUPT.
 */
static int load_spend(clx_govern_t *g, const clx_budget_def_t *d, clx_span_t period, int64_t *spent, uint64_t *seq_out)
{
    *spent = 0;
    *seq_out = 0;
    if (by_events(d)) {
        /* the events of the period, newest first (the listing filters users and tags itself) */
        struct key_scan ks = {.def = d, .period = period};
        clx_event_filter_t f = {.from_ms = period.start_ms, .to_ms = period.end_ms};
        if (d->scope == CLX_BUDGET_SCOPE_USER)
            f.user_id = d->user_id;
        if (d->scope == CLX_BUDGET_SCOPE_TAG) {
            f.tag_key[0] = d->tag_key;
            f.tag_value[0] = d->tag_value;
            f.ntags = 1;
        }
        clx_event_cursor_t before = {0, 0}, next = {0, 0};
        do {
            int rc = clx_query_list_events(g->cfg.query, d->workspace, &before, SIZE_MAX, &f, key_scan_cb, &ks, &next);
            if (rc != CLX_OK)
                return rc;
            before = next;
        } while (next.seq != 0 || next.time_ms != 0);
        *spent = ks.spent;
        *seq_out = ks.max_seq;
        return CLX_OK;
    }

    const char *ws = d->workspace;
    size_t wl = strlen(ws);
    char prefix[CLX_ROLLUP_PREFIX_LEN(CLX_SLUG_MAX)], start[CLX_ROLLUP_PREFIX_LEN(CLX_SLUG_MAX)];
    size_t plen = clx_rollup_key_prefix(prefix, CLX_ROLLUP_HOUR, ws, 0, 0);
    int64_t from = (period.start_ms + CLX_MS_PER_HOUR - 1) / CLX_MS_PER_HOUR; /* hours starting inside */
    int64_t to = (period.end_ms + CLX_MS_PER_HOUR - 1) / CLX_MS_PER_HOUR;
    size_t slen = clx_rollup_key_prefix(start, CLX_ROLLUP_HOUR, ws, (uint32_t)from, 1);
    (void)wl;
    int rc = CLX_OK;
    char *scratch = NULL;
    size_t scap = 0;
    clx_i128_t sum = 0;
    clx_iter_t *it = clx_iter_create_pinned(g->cfg.store, CLX_CF_ROLLUPS, prefix, plen);
    char *seqv = NULL;
    size_t seql = 0;
    uint64_t seq = 0;
    rc = clx_iter_meta_get(it, CLX_WRITER_META_SEQ, &seqv, &seql);
    if (rc == CLX_OK && seql == 8)
        seq = clx_be64_get((const unsigned char *)seqv);
    else if (rc == CLX_OK || rc == CLX_ENOTFOUND)
        rc = CLX_OK; /* nothing written yet */
    free(seqv);
    for (clx_iter_seek(it, start, slen); rc == CLX_OK && clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen, vlen;
        const char *key = clx_iter_key(it, &klen);
        if (klen + 1 > scap) {
            scap = klen + 256;
            free(scratch);
            scratch = clx_xmalloc(scap);
        }
        uint32_t bucket;
        clx_rollup_dims_t dm;
        if (clx_rollup_key_decode(key, klen, plen, scratch, &bucket, &dm) != 0) {
            rc = CLX_ECORRUPT;
            break;
        }
        if ((int64_t)bucket >= to)
            break;
        const char *project = (dm.flags & F_UNKNOWN_PROJECT) ? "" : dm.project;
        const char *env = (dm.flags & (F_UNKNOWN_PROJECT | F_UNKNOWN_ENVIRONMENT)) ? "" : dm.environment;
        struct attrs a = {.project = project, .environment = env, .feature = dm.feature, .key_id = ""};
        if (!scope_matches(d, &a))
            continue;
        clx_rollup_t r;
        const char *val = clx_iter_value(it, &vlen);
        if (clx_rollup_unpack(val, vlen, &r) != CLX_OK) {
            rc = CLX_ECORRUPT;
            break;
        }
        sum += r.cost_nanos;
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    free(scratch);
    if (rc != CLX_OK)
        return rc;
    *spent = sum > INT64_MAX ? INT64_MAX : sum < INT64_MIN ? INT64_MIN : (int64_t)sum;
    *seq_out = seq;
    return CLX_OK;
}

/* Starts period p at now for t: spend summed, crossings flagged for the thread. g->mu held. */
static int start_period(clx_govern_t *g, struct tracked *t, int64_t now)
{
    clx_period_bounds(t->tz, (clx_period_t)t->def.period, now, &t->period);
    t->fired = 0;
    int rc = load_spend(g, &t->def, t->period, &t->spent, &t->applied_seq);
    t->pending =
        clx_budget_crossed(t->spent, t->def.amount_nanos, t->def.thresholds_bp, t->def.nthresholds) & ~t->fired;
    if (t->pending)
        g->kicked = 1;
    return rc;
}

/*
 * Reading a budget's spend without holding g->mu: begin (mu held) sets the period at now and
 * makes the hook buffer its deltas; the caller then reads the store (load_spend, no lock) and
 * finishes (mu held): the sum, plus every buffered event the read did not see (seq above the
 * read's), is exact — seqs are given in commit order and a snapshot holds every commit before
 * it. Thresholds already fired stay fired. The caller holds sync_mu so t is not freed meanwhile.
 */
static void begin_load(struct tracked *t, int64_t now)
{
    int64_t start = t->period.start_ms;
    clx_period_bounds(t->tz, (clx_period_t)t->def.period, now, &t->period);
    if (t->period.start_ms != start)
        t->spent = 0; /* a new period (or a new budget); else the figure before stands meanwhile */
    t->loading = 1;
    t->nbuf = 0;
    t->pending = 0;
}

static void finish_load(clx_govern_t *g, struct tracked *t, int rc, int64_t spent, uint64_t seq)
{
    if (rc != CLX_OK)
        clx_log(CLX_LOG_ERROR, "governance", "budget %s: cannot read its spend: %s", t->def.id, clx_strerror(rc));
    uint64_t applied = seq;
    for (size_t i = 0; i < t->nbuf; i++) {
        if (t->buf[i].seq <= seq)
            continue; /* in the read already */
        spent = sat_add(spent, t->buf[i].cost);
        if (t->buf[i].seq > applied)
            applied = t->buf[i].seq;
    }
    t->nbuf = 0;
    t->spent = spent;
    t->applied_seq = applied;
    t->loading = 0;
    t->pending =
        clx_budget_crossed(t->spent, t->def.amount_nanos, t->def.thresholds_bp, t->def.nthresholds) & ~t->fired;
    if (t->pending)
        g->kicked = 1;
}

/* Loads the budgets of list (each begun) one by one, the mutex held only to finish each. */
static void load_list(clx_govern_t *g, struct tracked **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t spent;
        uint64_t seq;
        int rc = load_spend(g, &list[i]->def, list[i]->period, &spent, &seq);
        pthread_mutex_lock(&g->mu);
        finish_load(g, list[i], rc, spent, seq);
        if (g->kicked)
            pthread_cond_signal(&g->cv);
        pthread_mutex_unlock(&g->mu);
    }
}

static void tracked_free(struct tracked *t)
{
    if (t == NULL)
        return;
    free(t->buf);
    free(t->def.name);
    clx_tz_destroy(t->tz);
    free(t);
}

static int by_workspace(const void *x, const void *y)
{
    const struct tracked *a = *(const struct tracked *const *)x, *b = *(const struct tracked *const *)y;
    return strcmp(a->def.workspace, b->def.workspace);
}

/* Sorts the budgets by workspace and indexes each workspace's range. g->mu held. */
static void index_budgets(clx_govern_t *g)
{
    if (g->n > 1)
        qsort(g->budgets, g->n, sizeof(*g->budgets), by_workspace);
    clx_map_destroy(g->by_ws);
    g->by_ws = clx_map_create();
    free(g->ranges);
    g->ranges = clx_xcalloc(g->n ? g->n : 1, sizeof(*g->ranges));
    g->nranges = 0;
    for (size_t i = 0; i < g->n; i++) {
        const char *ws = g->budgets[i]->def.workspace;
        if (i == 0 || strcmp(ws, g->budgets[i - 1]->def.workspace) != 0) {
            g->ranges[g->nranges] = (struct ws_range){i, 0};
            clx_map_put(g->by_ws, ws, strlen(ws), (void *)(uintptr_t)(++g->nranges));
        }
        g->ranges[g->nranges - 1].n++;
    }
}

/* ws's budgets: [*start, *start + return). g->mu held. */
static size_t ws_budgets(clx_govern_t *g, const char *ws, size_t *start)
{
    size_t idx = g->by_ws != NULL ? (size_t)(uintptr_t)clx_map_get(g->by_ws, ws, strlen(ws)) : 0;
    *start = idx ? g->ranges[idx - 1].start : 0;
    return idx ? g->ranges[idx - 1].n : 0;
}

/* ---- syncing with the settings --------------------------------------------------------------- */

struct defs {
    clx_budget_def_t *items;
    size_t n, cap;
};

static void collect_cb(void *arg, const clx_budget_def_t *b)
{
    struct defs *d = arg;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = clx_xrealloc(d->items, d->cap * sizeof(*d->items));
    }
    d->items[d->n] = *b;
    d->items[d->n].name = clx_xstrdup(b->name);
    d->n++;
}

static int same_def(const clx_budget_def_t *a, const clx_budget_def_t *b)
{
    return strcmp(a->workspace, b->workspace) == 0 && strcmp(a->id, b->id) == 0 && a->updated_at_ms == b->updated_at_ms;
}

/* Brings the tracked budgets in line with the settings (new, changed, deleted; a zone change). */
static void sync_budgets(clx_govern_t *g, int force)
{
    pthread_mutex_lock(&g->sync_mu);
    uint64_t gen = clx_settings_generation(g->cfg.settings);
    pthread_mutex_lock(&g->mu);
    int fresh = g->gen == gen && !force;
    pthread_mutex_unlock(&g->mu);
    if (fresh) {
        pthread_mutex_unlock(&g->sync_mu);
        return;
    }
    struct defs defs = {0};
    clx_settings_list_budgets(g->cfg.settings, NULL, collect_cb, &defs);
    /* the zones, read outside the lock (files) */
    clx_tz_t **zones = clx_xcalloc(defs.n ? defs.n : 1, sizeof(*zones));
    char(*zone_names)[64] = clx_xcalloc(defs.n ? defs.n : 1, sizeof(*zone_names));
    for (size_t i = 0; i < defs.n; i++) {
        clx_workspace_t w;
        const char *zn = "UTC";
        if (clx_settings_get_workspace(g->cfg.settings, defs.items[i].workspace, &w) == CLX_OK &&
            w.time_zone[0] != '\0')
            zn = w.time_zone;
        snprintf(zone_names[i], sizeof(zone_names[i]), "%s", zn);
        if (strcmp(zn, "UTC") == 0 || clx_tz_load(zn, &zones[i]) != CLX_OK) {
            if (strcmp(zn, "UTC") != 0)
                clx_log(CLX_LOG_WARN, "governance", "time zone %s of workspace %s cannot be loaded; budgets use UTC",
                        zn, defs.items[i].workspace);
            zones[i] = (clx_tz_t *)clx_tz_utc();
            snprintf(zone_names[i], sizeof(zone_names[i]), "UTC");
        }
    }

    int64_t now = clx_now_ms();
    struct tracked **to_load = clx_xcalloc(defs.n ? defs.n : 1, sizeof(*to_load));
    size_t nload = 0;
    pthread_mutex_lock(&g->mu);
    for (size_t j = 0; j < g->n; j++)
        g->budgets[j]->keep = 0;
    for (size_t i = 0; i < defs.n; i++) {
        struct tracked *t = NULL;
        for (size_t j = 0; j < g->n && t == NULL; j++)
            if (same_def(&g->budgets[j]->def, &defs.items[i]) && strcmp(g->budgets[j]->zone, zone_names[i]) == 0)
                t = g->budgets[j];
        if (t != NULL) {
            t->keep = 1;
            free(defs.items[i].name);
            clx_tz_destroy(zones[i]);
            continue;
        }
        /* new or changed: replaces any tracked one of its id */
        for (size_t j = 0; j < g->n; j++)
            if (strcmp(g->budgets[j]->def.id, defs.items[i].id) == 0 &&
                strcmp(g->budgets[j]->def.workspace, defs.items[i].workspace) == 0)
                g->budgets[j]->keep = 0;
        t = clx_xcalloc(1, sizeof(*t));
        t->def = defs.items[i];
        t->tz = zones[i];
        snprintf(t->zone, sizeof(t->zone), "%s", zone_names[i]);
        t->keep = 2; /* added below */
        begin_load(t, now);
        to_load[nload++] = t;
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 16;
            g->budgets = clx_xrealloc(g->budgets, g->cap * sizeof(*g->budgets));
        }
        g->budgets[g->n++] = t;
    }
    size_t k = 0;
    for (size_t j = 0; j < g->n; j++) {
        if (g->budgets[j]->keep)
            g->budgets[k++] = g->budgets[j];
        else
            tracked_free(g->budgets[j]);
    }
    g->n = k;
    index_budgets(g);
    g->gen = gen;
    if (g->kicked)
        pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    load_list(g, to_load, nload); /* the new and changed budgets' spend, the mutex free meanwhile */
    free(to_load);
    free(defs.items);
    free(zones);
    free(zone_names);
    pthread_mutex_unlock(&g->sync_mu);
}

void clx_govern_refresh(clx_govern_t *g)
{
    sync_budgets(g, 0);
}

/* ---- the event rules: a new model, unpriced events, lock refusals ------------------------------ */

/* Records every (provider, model) a workspace has used, from the day rollups. Start only. */
static int load_models(clx_govern_t *g)
{
    clx_iter_t *it = clx_iter_create(g->cfg.store, CLX_CF_ROLLUPS, "d", 1);
    char *scratch = NULL;
    size_t scap = 0;
    int rc = CLX_OK;
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it)) {
        size_t klen;
        const char *key = clx_iter_key(it, &klen);
        const char *nul = memchr(key, '\0', klen);
        if (nul == NULL) {
            rc = CLX_ECORRUPT;
            break;
        }
        size_t plen = (size_t)(nul - key) + 1; /* 'd' ws '\0' */
        if (klen + 1 > scap) {
            scap = klen + 256;
            free(scratch);
            scratch = clx_xmalloc(scap);
        }
        uint32_t bucket;
        clx_rollup_dims_t dm;
        if (clx_rollup_key_decode(key, klen, plen, scratch, &bucket, &dm) != 0) {
            rc = CLX_ECORRUPT;
            break;
        }
        char mk[CLX_SLUG_MAX + 700];
        int n = snprintf(mk, sizeof(mk), "%.*s%c%s%c%s", (int)(plen - 2), key + 1, 0, dm.provider, 0, dm.model);
        if (n > 0 && (size_t)n < sizeof(mk) && clx_map_get(g->models, mk, (size_t)n) == NULL)
            clx_map_put(g->models, mk, (size_t)n, (void *)1);
    }
    if (rc == CLX_OK)
        rc = clx_iter_status(it);
    clx_iter_destroy(it);
    free(scratch);
    return rc;
}

/* "provider/model", cut with a hash when the id would be too long. */
static void model_label(char *buf, size_t len, const char *provider, const char *model)
{
    size_t pl = strlen(provider), ml = strlen(model);
    if (pl + ml + 2 <= len && pl + ml + 1 < 150) {
        memcpy(buf, provider, pl);
        buf[pl] = '/';
        memcpy(buf + pl + 1, model, ml + 1);
        return;
    }
    uint64_t h = clx_fnv1a64(clx_fnv1a64(CLX_FNV1A64_INIT, provider, strlen(provider) + 1), model, strlen(model));
    snprintf(buf, len, "%.40s/%.80s~%016llx", provider, model, (unsigned long long)h);
}

/* Queues an alert unless this process queued the same id before. g->mu held. */
static struct event_alert *queue_alert(clx_govern_t *g, const char *ws, const char *id, const char *kind, int64_t now);
static void utc_date(int64_t ms, char out[16]);

/*
 * An ingestion key can make any number of distinct model names (each a "new model", each
 * unpriced): each rule alerts at most EVENT_ALERTS_PER_DAY times per workspace and UTC day,
 * then once more to say so, then not until the next day. Returns 1 when id may be raised.
 * g->mu held.
 */
#define EVENT_ALERTS_PER_DAY 20
static int under_cap(clx_govern_t *g, const char *ws, const char *kind, int64_t now)
{
    char date[16], k[CLX_SLUG_MAX + 64], id[CLX_OUTBOX_ID_MAX + 1];
    utc_date(now, date);
    int n = snprintf(k, sizeof(k), "%s%c%s%c%s", ws, 0, kind, 0, date);
    if (n <= 0 || (size_t)n >= sizeof(k))
        return 0;
    uintptr_t count = (uintptr_t)clx_map_get(g->counts, k, (size_t)n);
    clx_map_put(g->counts, k, (size_t)n, (void *)(count + 1));
    if (count < EVENT_ALERTS_PER_DAY)
        return 1;
    if (count == EVENT_ALERTS_PER_DAY) {
        snprintf(id, sizeof(id), "%s:%s:more", kind, date);
        struct event_alert *a = queue_alert(g, ws, id, kind, now);
        if (a != NULL) {
            snprintf(a->title, sizeof(a->title), "More than %d %s alerts in workspace %s today", EVENT_ALERTS_PER_DAY,
                     kind, ws);
            snprintf(a->text, sizeof(a->text),
                     "Further %s alerts are not sent until tomorrow (UTC); the Warnings page lists every model. "
                     "Many distinct model names in one day usually mean a caller sends something else as the model.",
                     kind);
        }
    }
    return 0;
}

static struct event_alert *raise_alert(clx_govern_t *g, const char *ws, const char *id, const char *kind, int64_t now)
{
    char k[CLX_SLUG_MAX + CLX_OUTBOX_ID_MAX + 2];
    int n = snprintf(k, sizeof(k), "%s%c%s", ws, 0, id);
    if (n <= 0 || (size_t)n >= sizeof(k) || clx_map_get(g->raised, k, (size_t)n) != NULL)
        return NULL;
    if (!under_cap(g, ws, kind, now))
        return NULL;
    return queue_alert(g, ws, id, kind, now);
}

/* Queues id unless this process queued it before. g->mu held. */
static struct event_alert *queue_alert(clx_govern_t *g, const char *ws, const char *id, const char *kind, int64_t now)
{
    char k[CLX_SLUG_MAX + CLX_OUTBOX_ID_MAX + 2];
    int n = snprintf(k, sizeof(k), "%s%c%s", ws, 0, id);
    if (n <= 0 || (size_t)n >= sizeof(k) || clx_map_get(g->raised, k, (size_t)n) != NULL)
        return NULL;
    if (clx_map_size(g->raised) > 100000) { /* a day of distinct alerts, bounded: the outbox marks stay */
        clx_map_destroy(g->raised);
        g->raised = clx_map_create();
        clx_map_destroy(g->counts);
        g->counts = clx_map_create();
    }
    clx_map_put(g->raised, k, (size_t)n, (void *)1);
    if (g->nqueue == g->capqueue) {
        g->capqueue = g->capqueue ? g->capqueue * 2 : 16;
        g->queue = clx_xrealloc(g->queue, g->capqueue * sizeof(*g->queue));
    }
    struct event_alert *a = &g->queue[g->nqueue++];
    memset(a, 0, sizeof(*a));
    snprintf(a->ws, sizeof(a->ws), "%s", ws);
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->kind = kind;
    a->at_ms = now;
    g->kicked = 1;
    return a;
}

static void add_field(struct event_alert *a, const char *name, const char *value)
{
    if (a->nfields < 3) {
        snprintf(a->f_name[a->nfields], sizeof(a->f_name[0]), "%s", name);
        snprintf(a->f_value[a->nfields], sizeof(a->f_value[0]), "%s", value);
        a->nfields++;
    }
}

static void utc_date(int64_t ms, char out[16])
{
    clx_civil_t c;
    clx_tz_civil(clx_tz_utc(), ms / 1000, &c);
    snprintf(out, 16, "%04d-%02d-%02d", c.year, c.month, c.day);
}

#define MODELS_MAX 1000000 /* models remembered (all workspaces); beyond, no more new-model alerts */

/* The event rules for one written event. g->mu held. */
static void event_rules(clx_govern_t *g, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, int64_t now)
{
    char mk[CLX_SLUG_MAX + 700], label[200], id[CLX_OUTBOX_ID_MAX + 1], date[16];
    int n = snprintf(mk, sizeof(mk), "%s%c%s%c%s", ws, 0, rec->provider, 0, rec->model);
    model_label(label, sizeof(label), rec->provider, rec->model);
    if (n > 0 && (size_t)n < sizeof(mk) && clx_map_size(g->models) < MODELS_MAX &&
        clx_map_get(g->models, mk, (size_t)n) == NULL) {
        clx_map_put(g->models, mk, (size_t)n, (void *)1);
        snprintf(id, sizeof(id), "model:%.180s", label);
        struct event_alert *a = raise_alert(g, ws, id, "new_model", now);
        if (a != NULL) {
            snprintf(a->title, sizeof(a->title), "New model in workspace %s: %s", ws, label);
            snprintf(a->text, sizeof(a->text),
                     "The first event of %s in this workspace was written (project %s, feature %s). Its spend "
                     "counts from now; check that the model is expected and priced.",
                     label, rec->project[0] ? rec->project : "(none)", rec->feature[0] ? rec->feature : "(none)");
            add_field(a, "model", label);
            add_field(a, "project", rec->project);
            add_field(a, "requestId", rec->request_id);
        }
    }
    if (rec->flags & COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED) {
        utc_date(now, date);
        snprintf(id, sizeof(id), "unpriced:%.10s:%.170s", date, label);
        struct event_alert *a = raise_alert(g, ws, id, "unpriced_events", now);
        if (a != NULL) {
            snprintf(a->title, sizeof(a->title), "Unpriced events: %s", label);
            snprintf(a->text, sizeof(a->text),
                     "Events of %s are stored without a cost on %s (UTC): the catalog has no price and the caller "
                     "sent none. Their spend is missing from budgets until a price override or deployment mapping "
                     "is set.",
                     label, date);
            add_field(a, "model", label);
            add_field(a, "date", date);
            add_field(a, "requestId", rec->request_id);
        }
    }
}

void clx_govern_on_corrected(clx_govern_t *g, const char *ws)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->budgets[i]->def.workspace, ws) == 0) {
            g->budgets[i]->dirty = 1;
            g->kicked = 1;
        }
    if (g->kicked)
        pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void clx_govern_on_lock_refusals(clx_govern_t *g, const char *ws, const char *key_id, const char *locked,
                                 const char *named, size_t n)
{
    if (g == NULL || n == 0)
        return;
    char id[CLX_OUTBOX_ID_MAX + 1], date[16], count[24];
    int64_t now = clx_now_ms();
    utc_date(now, date);
    snprintf(id, sizeof(id), "lock:%s:%s", date, key_id);
    pthread_mutex_lock(&g->mu);
    struct event_alert *a = raise_alert(g, ws, id, "lock_refusals", now);
    if (a != NULL) {
        snprintf(count, sizeof(count), "%zu", n);
        snprintf(a->title, sizeof(a->title), "Events refused by the environment lock of key %s", key_id);
        snprintf(a->text, sizeof(a->text),
                 "Key %s is locked to environment %s and was sent events naming %s: they were refused, not "
                 "stored (first refusal today, UTC; the Warnings page counts them all).",
                 key_id, locked, named);
        add_field(a, "key", key_id);
        add_field(a, "lockedEnvironment", locked);
        add_field(a, "refusedInRequest", count);
        pthread_cond_signal(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Writes the queued event alerts (mark + one item per channel). Governance thread. */
static int fire_events(clx_govern_t *g)
{
    pthread_mutex_lock(&g->mu);
    struct event_alert *q = g->queue;
    size_t n = g->nqueue;
    g->queue = NULL;
    g->nqueue = g->capqueue = 0;
    pthread_mutex_unlock(&g->mu);
    int sent = 0;
    for (size_t i = 0; i < n; i++) {
        struct event_alert *a = &q[i];
        struct chans cs = {0};
        clx_settings_list_channels(g->cfg.settings, a->ws, chan_cb, &cs);
        clx_alert_field_t fields[3];
        for (size_t f = 0; f < a->nfields; f++)
            fields[f] = (clx_alert_field_t){a->f_name[f], a->f_value[f]};
        clx_alert_msg_t m = {.id = a->id,
                             .kind = a->kind,
                             .workspace = a->ws,
                             .title = a->title,
                             .text = a->text,
                             .fields = fields,
                             .nfields = a->nfields,
                             .at_ms = a->at_ms};
        int rc = fire_message(g, &m, &cs, a->at_ms);
        if (rc == CLX_OK)
            sent += cs.n > 0;
        else if (rc != CLX_EEXIST)
            clx_log(CLX_LOG_ERROR, "governance", "alert %s: cannot be written: %s (not retried)", a->id,
                    clx_strerror(rc));
        free(cs.items);
    }
    free(q);
    return sent;
}

/* ---- the hot paths ----------------------------------------------------------------------------- */

/* A period over: the next one starts (spend from the store). g->mu held. */
static void roll_if_over(clx_govern_t *g, struct tracked *t, int64_t at)
{
    if (at < t->period.end_ms || t->loading)
        return;
    if (start_period(g, t, at) != CLX_OK)
        clx_log(CLX_LOG_ERROR, "governance", "budget %s: cannot read the new period's spend", t->def.id);
}

void clx_govern_on_event(clx_govern_t *g, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, uint64_t seq)
{
    if (g == NULL)
        return;
    int64_t at = event_hour_ms(rec), now = clx_now_ms();
    int kick = 0;
    struct attrs a;
    event_attrs(rec, &a);
    pthread_mutex_lock(&g->mu);
    event_rules(g, ws, rec, now);
    kick = g->kicked;
    size_t first, nb = ws_budgets(g, ws, &first);
    for (size_t i = first; i < first + nb; i++) {
        struct tracked *t = g->budgets[i];
        if (!scope_matches(&t->def, &a))
            continue;
        /* by the clock, not the event's time (a timestamp a few minutes ahead must not end the
         * period early); a new period's spend is read from the store, this event included */
        roll_if_over(g, t, now);
        if (at < t->period.start_ms || at >= t->period.end_ms)
            continue;
        if (t->loading) { /* its spend is being read: keep the delta for finish_load */
            if (t->nbuf == t->capbuf) {
                t->capbuf = t->capbuf ? t->capbuf * 2 : 64;
                t->buf = clx_xrealloc(t->buf, t->capbuf * sizeof(*t->buf));
            }
            t->buf[t->nbuf++] = (struct delta){seq, rec->cost_nanos};
            t->spent = sat_add(t->spent, rec->cost_nanos); /* provisional, for the check meanwhile */
            continue;
        }
        if (seq <= t->applied_seq)
            continue;
        t->applied_seq = seq;
        t->spent = sat_add(t->spent, rec->cost_nanos);
        uint32_t crossed = clx_budget_crossed(t->spent, t->def.amount_nanos, t->def.thresholds_bp, t->def.nthresholds);
        if (crossed & ~(t->fired | t->pending)) {
            t->pending |= crossed & ~t->fired;
            kick = 1;
        }
    }
    if (kick) {
        g->kicked = 1;
        pthread_cond_signal(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
}

static char *arena_usd(clx_arena_t *arena, int64_t nanos)
{
    char buf[32];
    size_t n = clx_money_format_usd(nanos, buf);
    return clx_arena_strndup(arena, buf, n);
}

void clx_govern_check(clx_govern_t *g, const char *ws, const char *key_id, const clx_govern_call_t *call,
                      clx_arena_t *arena, Costlynx__V1__CheckBudgetResponse *out)
{
    costlynx__v1__check_budget_response__init(out);
    out->allowed = 1;
    if (g == NULL)
        return;
    int64_t now = clx_now_ms();
    struct attrs a = {.project = call->project,
                      .environment = call->environment,
                      .feature = call->feature,
                      .key_id = key_id,
                      .user_id = call->user_id,
                      .tag_keys = call->tag_keys,
                      .tag_values = call->tag_values,
                      .ncheck_tags = call->ntags};
    pthread_mutex_lock(&g->mu);
    size_t first, cnt = ws_budgets(g, ws, &first);
    out->budgets = clx_arena_alloc(arena, (cnt ? cnt : 1) * sizeof(*out->budgets));
    for (size_t i = first; i < first + cnt; i++) {
        struct tracked *t = g->budgets[i];
        if (!scope_matches(&t->def, &a))
            continue;
        int64_t spent = t->spent;
        clx_span_t period = t->period;
        if (now >= period.end_ms) { /* a new period that saw no event yet: nothing spent in it */
            clx_period_bounds(t->tz, (clx_period_t)t->def.period, now, &period);
            spent = 0;
        }
        Costlynx__V1__BudgetStatus *st = clx_arena_alloc(arena, sizeof(*st));
        costlynx__v1__budget_status__init(st);
        st->id = clx_arena_strndup(arena, t->def.id, strlen(t->def.id));
        st->name = clx_arena_strndup(arena, t->def.name, strlen(t->def.name));
        st->scope = (char *)scope_names[t->def.scope];
        st->period = (char *)clx_period_name((clx_period_t)t->def.period);
        st->period_start_ms = period.start_ms;
        st->period_end_ms = period.end_ms;
        st->amount_nanos = t->def.amount_nanos;
        st->spent_nanos = spent;
        st->amount_usd = arena_usd(arena, t->def.amount_nanos);
        st->spent_usd = arena_usd(arena, spent);
        st->remaining_usd = arena_usd(arena, spent >= t->def.amount_nanos ? 0 : t->def.amount_nanos - spent);
        int64_t pct = clx_budget_percent_bp(spent, t->def.amount_nanos);
        st->percent_bp = pct > UINT32_MAX ? UINT32_MAX : (uint32_t)pct;
        st->exceeded = spent >= t->def.amount_nanos;
        if (st->exceeded)
            out->allowed = 0;
        out->budgets[out->n_budgets++] = st;
    }
    pthread_mutex_unlock(&g->mu);
}

int clx_govern_budget_state(clx_govern_t *g, const char *ws, const char *id, clx_budget_state_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = CLX_ENOTFOUND;
    int64_t now = clx_now_ms();
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n; i++) {
        struct tracked *t = g->budgets[i];
        if (strcmp(t->def.workspace, ws) != 0 || strcmp(t->def.id, id) != 0)
            continue;
        out->tracked = 1;
        out->period = t->period;
        out->spent_nanos = t->spent;
        out->fired = t->fired;
        if (now >= t->period.end_ms) {
            clx_period_bounds(t->tz, (clx_period_t)t->def.period, now, &out->period);
            out->spent_nanos = 0;
            out->fired = 0;
        }
        out->forecast_nanos = clx_budget_forecast(out->spent_nanos, &out->period, now);
        out->percent_bp = clx_budget_percent_bp(out->spent_nanos, t->def.amount_nanos);
        snprintf(out->zone, sizeof(out->zone), "%s", t->zone);
        rc = CLX_OK;
        break;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* ---- alerts ------------------------------------------------------------------------------------ */

/* A crossing to write: copied out of the lock. */
struct firing {
    clx_budget_def_t def; /* name borrowed from the copy below */
    char *name;
    char zone[64];
    clx_span_t period;
    int64_t spent;
    uint32_t bits;
    char date[16]; /* local date of the period start */
};

static void scope_text(const clx_budget_def_t *d, char *buf, size_t len)
{
    switch (d->scope) {
    case CLX_BUDGET_SCOPE_PROJECT:
        snprintf(buf, len, "project %s", d->project);
        break;
    case CLX_BUDGET_SCOPE_ENVIRONMENT:
        snprintf(buf, len, "project %s, environment %s", d->project, d->environment);
        break;
    case CLX_BUDGET_SCOPE_FEATURE:
        snprintf(buf, len, "feature %s%s%s", d->feature, d->project[0] ? " in project " : "", d->project);
        break;
    case CLX_BUDGET_SCOPE_KEY:
        snprintf(buf, len, "ingestion key %s", d->key_id);
        break;
    case CLX_BUDGET_SCOPE_USER:
        snprintf(buf, len, "user %s", d->user_id);
        break;
    case CLX_BUDGET_SCOPE_TAG:
        snprintf(buf, len, "tag %s=%s", d->tag_key, d->tag_value);
        break;
    default:
        snprintf(buf, len, "workspace %s", d->workspace);
    }
}

/* Writes the alert of threshold i of f (mark + one item per channel). CLX_OK / CLX_EEXIST / error. */
static int fire_threshold(clx_govern_t *g, const struct firing *f, size_t i, const struct chans *cs, int64_t now)
{
    const clx_budget_def_t *d = &f->def;
    uint32_t bp = d->thresholds_bp[i];
    char id[CLX_OUTBOX_ID_MAX + 1], title[400], text[800], scope[400];
    char amount[32], spent[32], forecast[32], pct[32], thr[32], start[32], end[32];
    snprintf(id, sizeof(id), "budget:%s:%s:%u", d->id, f->date, bp);
    clx_money_format_usd(d->amount_nanos, amount);
    clx_money_format_usd(f->spent, spent);
    clx_money_format_usd(clx_budget_forecast(f->spent, &f->period, now), forecast);
    int64_t p = clx_budget_percent_bp(f->spent, d->amount_nanos);
    snprintf(pct, sizeof(pct), "%lld.%02lld %%", (long long)(p / 100), (long long)(p % 100));
    snprintf(thr, sizeof(thr), "%u.%02u %%", bp / 100, bp % 100);
    clx_alert_iso(f->period.start_ms, start);
    clx_alert_iso(f->period.end_ms, end);
    scope_text(d, scope, sizeof(scope));
    snprintf(title, sizeof(title), "Budget '%s' reached %s: $%s of $%s", f->name, thr, spent, amount);
    snprintf(text, sizeof(text),
             "Spend of %s this %s is $%s of the $%s budget (%s). At the period-to-date rate the %s ends at "
             "$%s.",
             scope, clx_period_name((clx_period_t)d->period), spent, amount, pct,
             clx_period_name((clx_period_t)d->period), forecast);
    clx_alert_field_t fields[] = {
        {"budget", f->name},       {"budgetId", d->id},
        {"scope", scope},          {"period", clx_period_name((clx_period_t)d->period)},
        {"periodStart", start},    {"periodEnd", end},
        {"timeZone", f->zone},     {"threshold", thr},
        {"spentUsd", spent},       {"amountUsd", amount},
        {"forecastUsd", forecast},
    };
    clx_alert_msg_t m = {
        .id = id,
        .kind = "budget_threshold",
        .workspace = d->workspace,
        .title = title,
        .text = text,
        .fields = fields,
        .nfields = sizeof(fields) / sizeof(fields[0]),
        .at_ms = now,
    };
    return fire_message(g, &m, cs, now);
}

/* One alert to every channel of its workspace, once (clx_outbox_fire). CLX_OK, CLX_EEXIST or an error. */
static int fire_message(clx_govern_t *g, const clx_alert_msg_t *m, const struct chans *cs, int64_t now)
{
    clx_outbox_new_t *items = clx_xcalloc(cs->n ? cs->n : 1, sizeof(*items));
    char **bodies = clx_xcalloc(cs->n ? cs->n : 1, sizeof(*bodies));
    for (size_t c = 0; c < cs->n; c++) {
        size_t len;
        bodies[c] =
            cs->items[c].kind == CLX_CHANNEL_SLACK ? clx_alert_slack_json(m, &len) : clx_alert_webhook_json(m, &len);
        items[c].channel_id = cs->items[c].id;
        items[c].payload = bodies[c];
        items[c].payload_len = len;
        items[c].due_ms = now;
    }
    int rc = clx_outbox_fire(g->outbox, m->workspace, m->id, items, cs->n, now);
    if (rc == CLX_OK)
        clx_log(CLX_LOG_INFO, "governance", "alert %s (%s) for %zu channels", m->id, m->workspace, cs->n);
    for (size_t c = 0; c < cs->n; c++)
        free(bodies[c]);
    free(bodies);
    free(items);
    return rc;
}

/* Writes every flagged crossing; marks what was written as fired. Governance thread. */
static int fire_pending(clx_govern_t *g)
{
    struct firing *fs = NULL;
    size_t nf = 0;
    pthread_mutex_lock(&g->mu);
    g->kicked = 0;
    fs = clx_xcalloc(g->n ? g->n : 1, sizeof(*fs));
    for (size_t i = 0; i < g->n; i++) {
        struct tracked *t = g->budgets[i];
        if (t->pending == 0)
            continue;
        struct firing *f = &fs[nf++];
        f->def = t->def;
        f->name = clx_xstrdup(t->def.name);
        f->def.name = f->name;
        snprintf(f->zone, sizeof(f->zone), "%s", t->zone);
        f->period = t->period;
        f->spent = t->spent;
        f->bits = t->pending;
        clx_civil_t c;
        clx_tz_civil(t->tz, t->period.start_ms / 1000, &c);
        snprintf(f->date, sizeof(f->date), "%04d-%02d-%02d", c.year, c.month, c.day);
    }
    pthread_mutex_unlock(&g->mu);

    int sent = 0;
    int64_t now = clx_now_ms();
    for (size_t k = 0; k < nf; k++) {
        struct firing *f = &fs[k];
        struct chans cs = {0};
        clx_settings_list_channels(g->cfg.settings, f->def.workspace, chan_cb, &cs);
        if (f->def.nchannels > 0) { /* the budget names its channels */
            size_t kept = 0;
            for (size_t c = 0; c < cs.n; c++)
                for (size_t j = 0; j < f->def.nchannels; j++)
                    if (strcmp(cs.items[c].id, f->def.channel_ids[j]) == 0) {
                        cs.items[kept++] = cs.items[c];
                        break;
                    }
            cs.n = kept;
        }
        uint32_t done = 0;
        for (size_t i = 0; i < f->def.nthresholds; i++) {
            if (!(f->bits & (1u << i)))
                continue;
            int rc = fire_threshold(g, f, i, &cs, now);
            if (rc == CLX_OK || rc == CLX_EEXIST) {
                done |= 1u << i;
                sent += rc == CLX_OK && cs.n > 0;
            } else {
                clx_log(CLX_LOG_ERROR, "governance", "budget %s: cannot write its alert: %s (retried)", f->def.id,
                        clx_strerror(rc));
            }
        }
        free(cs.items);
        pthread_mutex_lock(&g->mu);
        for (size_t i = 0; i < g->n; i++) {
            struct tracked *t = g->budgets[i];
            if (strcmp(t->def.id, f->def.id) == 0 && strcmp(t->def.workspace, f->def.workspace) == 0 &&
                t->period.start_ms == f->period.start_ms) {
                t->fired |= done;
                t->pending &= ~done;
            }
        }
        pthread_mutex_unlock(&g->mu);
        free(f->name);
    }
    free(fs);
    if (sent)
        clx_delivery_wake(g->delivery);
    return sent;
}

/* The anomaly watch's alerts: every channel of the workspace, once. */
static int watch_fire(void *ctx, const clx_alert_msg_t *m)
{
    clx_govern_t *g = ctx;
    struct chans cs = {0};
    clx_settings_list_channels(g->cfg.settings, m->workspace, chan_cb, &cs);
    int rc = fire_message(g, m, &cs, clx_now_ms());
    g->watch_sent += rc == CLX_OK && cs.n > 0;
    free(cs.items);
    return rc;
}

void clx_govern_anomalies(clx_govern_t *g, const char *ws, int64_t from_ms, int64_t to_ms, clx_watch_fn fn, void *arg)
{
    clx_watch_list(g->watch, ws, from_ms, to_ms, fn, arg);
}

/* Retention: settled deliveries older than the configured days go, once an hour. */
static void prune(clx_govern_t *g)
{
    int64_t now = clx_now_ms();
    if (g->cfg.retention_days <= 0 || now - g->last_prune_ms < CLX_MS_PER_HOUR)
        return;
    g->last_prune_ms = now;
    size_t n = 0;
    int rc = clx_outbox_prune(g->outbox, now - (int64_t)g->cfg.retention_days * CLX_MS_PER_DAY, &n);
    if (rc != CLX_OK)
        clx_log(CLX_LOG_WARN, "governance", "old deliveries not removed: %s", clx_strerror(rc));
    else if (n > 0)
        clx_log(CLX_LOG_INFO, "governance", "removed %zu deliveries settled more than %d days ago", n,
                g->cfg.retention_days);
}

/* Budgets whose events corrections changed read their spend again (alerts written stay written). */
static void reload_dirty(clx_govern_t *g)
{
    pthread_mutex_lock(&g->sync_mu); /* no sync frees them meanwhile */
    pthread_mutex_lock(&g->mu);
    struct tracked **list = clx_xcalloc(g->n ? g->n : 1, sizeof(*list));
    size_t n = 0;
    int64_t now = clx_now_ms();
    for (size_t i = 0; i < g->n; i++) {
        struct tracked *t = g->budgets[i];
        if (!t->dirty || t->loading)
            continue;
        t->dirty = 0;
        int64_t start = t->period.start_ms;
        begin_load(t, now);
        if (t->period.start_ms != start)
            t->fired = 0; /* a new period meanwhile */
        list[n++] = t;
    }
    pthread_mutex_unlock(&g->mu);
    load_list(g, list, n);
    free(list);
    pthread_mutex_unlock(&g->sync_mu);
}

static void *govern_main(void *arg)
{
    clx_govern_t *g = arg;
    pthread_setname_np(pthread_self(), "clx-govern");
    int64_t tick = g->cfg.tick_ms > 0 ? g->cfg.tick_ms : 10000;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        if (!g->kicked && !g->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += tick / 1000;
            ts.tv_nsec += (tick % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        }
        int stop = g->stopping;
        /* periods that ended without an event: start the next; corrected ones: read again */
        int64_t now = clx_now_ms();
        for (size_t i = 0; i < g->n && !stop; i++)
            if (!g->budgets[i]->dirty)
                roll_if_over(g, g->budgets[i], now);
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        reload_dirty(g);
        sync_budgets(g, 0);
        fire_pending(g);
        if (fire_events(g))
            clx_delivery_wake(g->delivery);
        g->watch_sent = 0;
        clx_watch_run(g->watch, clx_now_ms(), watch_fire, g);
        prune(g);
        if (g->watch_sent)
            clx_delivery_wake(g->delivery);
    }
    return NULL;
}

/* ---- channels for the delivery thread ---------------------------------------------------------- */

static int lookup_channel(void *ctx, const char *ws, const char *channel_id, clx_channel_t *out)
{
    clx_govern_t *g = ctx;
    clx_channel_def_t c;
    if (clx_settings_get_channel(g->cfg.settings, ws, channel_id, &c) != CLX_OK)
        return CLX_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    out->kind = c.kind == 1 ? CLX_CHANNEL_SLACK : CLX_CHANNEL_WEBHOOK;
    snprintf(out->url, sizeof(out->url), "%s", c.url);
    out->secret_len = strlen(c.secret);
    memcpy(out->secret, c.secret, out->secret_len);
    return CLX_OK;
}

int clx_govern_test_channel(clx_govern_t *g, const char *ws, const char *channel_id, char *alert_id)
{
    clx_channel_def_t c;
    if (clx_settings_get_channel(g->cfg.settings, ws, channel_id, &c) != CLX_OK)
        return CLX_ENOTFOUND;
    int64_t now = clx_now_ms();
    snprintf(alert_id, CLX_OUTBOX_ID_MAX + 1, "test:%s:%lld", channel_id, (long long)now);
    clx_alert_field_t fields[] = {{"channel", c.name}};
    clx_alert_msg_t m = {
        .id = alert_id,
        .kind = "test",
        .workspace = ws,
        .title = "Test message from costlynx",
        .text = "This channel receives costlynx alerts.",
        .fields = fields,
        .nfields = 1,
        .at_ms = now,
    };
    size_t len;
    char *body = c.kind == 1 ? clx_alert_slack_json(&m, &len) : clx_alert_webhook_json(&m, &len);
    int rc = clx_outbox_enqueue(g->outbox, ws, alert_id, channel_id, body, len, now, now);
    free(body);
    if (rc == CLX_OK)
        clx_delivery_wake(g->delivery);
    return rc == CLX_EEXIST ? CLX_OK : rc;
}

clx_outbox_t *clx_govern_outbox(clx_govern_t *g)
{
    return g->outbox;
}

unsigned clx_govern_allow(clx_govern_t *g)
{
    return g->cfg.allow;
}

/* ---- lifecycle --------------------------------------------------------------------------------- */

int clx_govern_start(const clx_govern_config_t *cfg, clx_govern_t **out)
{
    clx_govern_t *g = clx_xcalloc(1, sizeof(*g));
    g->cfg = *cfg;
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->sync_mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->outbox = clx_outbox_create(cfg->store);
    g->models = clx_map_create();
    g->raised = clx_map_create();
    g->counts = clx_map_create();
    g->watch = clx_watch_create(cfg->store, cfg->settings);
    int rc = load_models(g);
    if (rc != CLX_OK)
        clx_log(CLX_LOG_ERROR, "governance", "cannot read the models in use: %s (new-model alerts may repeat)",
                clx_strerror(rc));
    g->gen = UINT64_MAX;
    g->kicked = 1; /* the first round at once: crossings to re-flag, the anomaly watch's first run */
    sync_budgets(g, 1);
    clx_delivery_config_t dcfg = {
        .outbox = g->outbox,
        .lookup = lookup_channel,
        .lookup_ctx = g,
        .allow = cfg->allow,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .timeout_ms = cfg->timeout_ms,
        .backoff = cfg->backoff,
    };
    if (clx_delivery_start(&dcfg, &g->delivery) != CLX_OK)
        goto fail;
    if (pthread_create(&g->thread, NULL, govern_main, g) != 0) {
        clx_delivery_stop(g->delivery);
        goto fail;
    }
    *out = g;
    return CLX_OK;
fail:
    for (size_t i = 0; i < g->n; i++)
        tracked_free(g->budgets[i]);
    free(g->budgets);
    clx_map_destroy(g->models);
    clx_map_destroy(g->raised);
    clx_map_destroy(g->counts);
    clx_map_destroy(g->by_ws);
    free(g->ranges);
    clx_watch_destroy(g->watch);
    clx_outbox_destroy(g->outbox);
    free(g);
    return CLX_EIO;
}

void clx_govern_stop(clx_govern_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    fire_events(g); /* what the last events raised */
    clx_delivery_stop(g->delivery);
    for (size_t i = 0; i < g->n; i++)
        tracked_free(g->budgets[i]);
    free(g->budgets);
    clx_map_destroy(g->models);
    clx_map_destroy(g->raised);
    clx_map_destroy(g->counts);
    clx_map_destroy(g->by_ws);
    free(g->ranges);
    clx_watch_destroy(g->watch);
    free(g->queue);
    clx_outbox_destroy(g->outbox);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->sync_mu);
    free(g);
}
