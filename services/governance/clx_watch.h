/*
 * clx_watch.h — spend anomalies in the daemon: each complete hour of each workspace is judged
 * by clx_anomaly_check for the workspace, every project, every feature and every model, with
 * series built from the hourly rollups (the judged hour plus the 28 days before it).
 *
 * Episodes: consecutive flagged hours of one scope with gaps under 3 hours are one episode,
 * alerted once (alert id anomaly:<scope type>:<scope>:<UTC start hour of the episode>, written
 * through the caller's fire callback, i.e. the outbox's once-only mark). The list of flagged
 * hours is kept in memory for the last 7 days: at start the last 48 complete hours are judged
 * again from the rollups (so the list and any unwritten alert come back after a restart);
 * afterwards each hour is judged once it is complete (5 minutes past its end), together with
 * the two hours before it (events with late timestamps still count).
 *
 * Hours are UTC; the baseline's weekday/weekend split uses the workspace's time zone (its
 * offset at the judged hours). One thread (the governance thread) runs it; list may be called
 * from any thread.
 */
#ifndef CLX_WATCH_H
#define CLX_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "clx_alert.h"
#include "clx_anomaly.h"
#include "clx_settings.h"
#include "clx_store.h"

typedef struct clx_watch clx_watch_t;

/* A watcher over the store's rollups and the settings' workspaces. Cannot fail. */
clx_watch_t *clx_watch_create(clx_store_t *store, clx_settings_t *settings);
/* NULL is a no-op. */
void clx_watch_destroy(clx_watch_t *w);

/*
 * Judges the hours that became complete since the last run (the last 48 at the first run).
 * For the first hour of each new episode calls fire(ctx, alert); fire returns CLX_OK or
 * CLX_EEXIST when the alert is written (or was), anything else to have it offered again next
 * run. Returns the number of anomalous hours found. Cheap when no hour completed.
 */
typedef int (*clx_watch_fire_fn)(void *ctx, const clx_alert_msg_t *alert);
size_t clx_watch_run(clx_watch_t *w, int64_t now_ms, clx_watch_fire_fn fire, void *ctx);

/* One flagged hour, as listed. */
typedef struct clx_watch_item {
    const char *scope_type; /* "workspace", "project", "feature", "model" */
    const char *scope;      /* the project / feature / "provider/model"; the workspace slug */
    int64_t hour_ms;        /* start of the hour (UTC) */
    int64_t episode_ms;     /* start of its episode */
    clx_anomaly_t a;        /* observed, baseline, score, ratio, reason… */
    const char *alert_id;
} clx_watch_item_t;

/* Calls fn for ws's flagged hours in [from_ms, to_ms) (0: open), newest first. Cannot fail. */
typedef void (*clx_watch_fn)(void *arg, const clx_watch_item_t *it);
void clx_watch_list(clx_watch_t *w, const char *ws, int64_t from_ms, int64_t to_ms, clx_watch_fn fn, void *arg);

#endif
