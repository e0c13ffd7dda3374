/*
 * clx_govern.h — the governance service as the daemon runs it: budgets tracked in memory
 * (spend this period per budget, exact), the budget check, threshold alerts written to the
 * outbox exactly once per period, and the delivery thread that sends them.
 *
 * Spend: when a budget is (re)loaded, its period-to-date spend is summed from the hourly
 * rollups (or, for a key's, user's or tag value's budget, from the events) on one snapshot,
 * together with the writer's "seq" of that snapshot; from then on every written event with
 * a higher sequence number is added by clx_govern_on_event (the writer thread, after the
 * group's synced write). The read runs without the mutex; meanwhile the hook keeps the
 * budget's deltas aside and those above the read's seq are added when it ends. So the
 * in-memory figure is exact: no event is counted twice or missed, whatever the order of
 * loading and writing. An event counts in the period holding
 * the start of its hour (the rollups' bucket), in the workspace's zone.
 *
 * Threshold alerts: the writer thread only flags a crossing and signals; the governance
 * thread writes the fired mark and one outbox item per channel in one synced batch
 * (clx_outbox_fire) with the alert id budget:<id>:<local date of the period start>:<bp>,
 * then wakes the delivery thread. On start every budget's crossings are flagged again: a
 * crossing whose alert was written before a crash finds its mark (nothing is sent twice);
 * one that was not (kill -9 between the event's write and the alert's) is written now.
 *
 * Event rules (written the same way, alert id in brackets): the first event of a (provider,
 * model) in a workspace [model:<provider>/<model>] — the models in use are read from the day
 * rollups at start; the first unpriced event of a model per UTC day
 * [unpriced:<date>:<provider>/<model>]; the first lock refusal of a key per UTC day
 * [lock:<date>:<key id>]. Raised on the writer thread, written by the governance thread; an
 * event rule's alert is lost if the process dies in between (budgets are recomputed at start,
 * these are not).
 *
 * Thread-safety: every function may be called from any thread. on_event and check take one
 * mutex for a hash lookup and a few comparisons per budget of the workspace; only the read of
 * a new period's spend at its first event holds it (a new period's spend is small).
 */
#ifndef CLX_GOVERN_H
#define CLX_GOVERN_H

#include <stddef.h>
#include <stdint.h>

#include "clx_alert.h"
#include "clx_budget.h"
#include "clx_mem.h"
#include "clx_outbox.h"
#include "clx_settings.h"
#include "clx_watch.h"
#include "costlynx/store/v1/records.pb-c.h"
#include "costlynx/v1/usage.pb-c.h"

typedef struct clx_query clx_query_t;
typedef struct clx_govern clx_govern_t;

typedef struct clx_govern_config {
    clx_store_t *store;
    clx_settings_t *settings;
    clx_query_t *query;      /* reads a key's events for its budget's spend */
    unsigned allow;          /* CLX_NET_ALLOW_* for webhook targets (--webhook-allow) */
    long connect_timeout_ms; /* 0: 5 s */
    long timeout_ms;         /* 0: 15 s */
    clx_backoff_t backoff;   /* all zero: CLX_BACKOFF_DEFAULT */
    int64_t tick_ms;         /* the governance thread's period (new periods, settings); 0: 10 s */
    int retention_days;      /* delivered / failed deliveries kept this long (checked hourly; 0: forever) */
} clx_govern_config_t;

/*
 * Loads every budget's spend, starts the governance and delivery threads. CLX_OK with *out;
 * CLX_EIO when a thread cannot start or the store cannot be read.
 */
int clx_govern_start(const clx_govern_config_t *cfg, clx_govern_t **out);
/* Stops both threads (pending deliveries stay in the outbox) and frees g. NULL is a no-op. */
void clx_govern_stop(clx_govern_t *g);

/*
 * The writer thread, after the synced write: event rec of workspace ws was stored with
 * sequence number seq. Adds its cost to the budgets it is charged to; flags crossings.
 */
void clx_govern_on_event(clx_govern_t *g, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, uint64_t seq);

/*
 * Corrections (void, amend, reprice) changed ws's events: its budgets read their spend again
 * on the governance thread (within milliseconds; until then the check shows the spend before
 * the correction). Any thread.
 */
void clx_govern_on_corrected(clx_govern_t *g, const char *ws);

/*
 * The writer thread: a request of key key_id (locked to environment locked) had n events
 * refused by the lock, the first naming environment named. Raises the day's lock alert.
 */
void clx_govern_on_lock_refusals(clx_govern_t *g, const char *ws, const char *key_id, const char *locked,
                                 const char *named, size_t n);

/* Re-reads the budgets from the settings now (after an admin change). Cannot fail. */
void clx_govern_refresh(clx_govern_t *g);

/*
 * The budgets a call by key key_id of ws would be charged to (project and environment as
 * attributed, defaults applied by the caller; "" when none), and whether any is spent
 * (allowed = none has spent >= amount). Strings of *out live in arena. Cannot fail.
 */
typedef struct clx_govern_call {
    const char *project, *environment, *feature, *user_id;
    const char *const *tag_keys, *const *tag_values;
    size_t ntags;
} clx_govern_call_t;
void clx_govern_check(clx_govern_t *g, const char *ws, const char *key_id, const clx_govern_call_t *call,
                      clx_arena_t *arena, Costlynx__V1__CheckBudgetResponse *out);

/* A budget's state for the admin API. */
typedef struct clx_budget_state {
    clx_span_t period;
    int64_t spent_nanos;
    int64_t forecast_nanos;
    int64_t percent_bp;
    uint32_t fired; /* bit i: thresholds_bp[i] has fired this period (its alert is written) */
    int tracked;    /* 0: not loaded yet (the figures are 0) */
    char zone[64];  /* the zone of the period */
} clx_budget_state_t;
/* State of budget id of ws into *out. CLX_OK or CLX_ENOTFOUND. */
int clx_govern_budget_state(clx_govern_t *g, const char *ws, const char *id, clx_budget_state_t *out);

/* The flagged hours of ws in [from_ms, to_ms) (0: open), newest first (clx_watch.h). */
void clx_govern_anomalies(clx_govern_t *g, const char *ws, int64_t from_ms, int64_t to_ms, clx_watch_fn fn, void *arg);

/* The outbox (the alerts list reads it) and the URL guard's mask. */
clx_outbox_t *clx_govern_outbox(clx_govern_t *g);
unsigned clx_govern_allow(clx_govern_t *g);

/*
 * Queues a test alert for channel id of ws (alert id "test:<channel>:<ms>", into *alert_id
 * of CLX_OUTBOX_ID_MAX + 1 bytes) and wakes the delivery thread. CLX_OK, CLX_ENOTFOUND (no
 * such channel), CLX_EIO.
 */
int clx_govern_test_channel(clx_govern_t *g, const char *ws, const char *channel_id, char *alert_id);

#endif
