/*
 * rest_internal.h — what the REST door's files share: threads, routing, reply helpers.
 */
#ifndef CLX_REST_INTERNAL_H
#define CLX_REST_INTERNAL_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#include "clx_rest.h"
#include "rest_json.h"

typedef struct clx_rest clx_rest_t;
#define CLX_REST_JOBS 32     /* reprice jobs kept (the oldest finished one makes room) */
#define CLX_REST_WS_MAX 64   /* a workspace slug's bytes, as a job records it */
typedef struct clx_rest_thread clx_rest_thread_t;

struct clx_rest_thread {
    clx_rest_t *server;
    size_t id;
    pthread_t tid;
    int fd;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    h2o_socket_t *listener;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t done_receiver;   /* answers from the writer (pending.c) */
    h2o_multithread_receiver_t backup_receiver; /* backup completions (admin.c) */
    h2o_multithread_receiver_t import_receiver; /* an import's chunks answered (import.c) */
    clx_arena_t **free_arenas;                 /* reusable request arenas (this thread only) */
    size_t nfree_arenas;
};

struct clx_rest {
    clx_rest_config_t cfg;
    h2o_globalconf_t globalconf;
    clx_rest_thread_t *threads;
    size_t nthreads;
    int port;
    atomic_int stopping;
    uint64_t quiesced_at_ns; /* when stopping was set */
    atomic_int loops_exit;
    atomic_long inflight; /* ingest requests handed to the pipeline, not yet answered */
    atomic_int backups;   /* backups running on their own thread (they use the store) */
    atomic_int workers;   /* reprices running on their own thread (they use the writer) */
    atomic_int imports;   /* bulk imports under way (import.c bounds them) */
    pthread_mutex_t jobs_mu;
    pthread_mutex_t journal_mu; /* orders saves of the reprice journal (correct.c) */
    struct clx_rest_job *jobs[CLX_REST_JOBS]; /* the last reprice jobs, for GET .../jobs/{id} (correct.c) */
    unsigned long long next_job;
    pthread_mutex_t start_mu;
    pthread_cond_t start_cv;
    size_t started; /* loops set up on their own threads */
};

/* One routed request. */
typedef struct clx_rest_call {
    h2o_req_t *req;
    clx_rest_t *srv;
    clx_rest_thread_t *thread;
    h2o_iovec_t params[4]; /* the {} segments of the route, in order */
    size_t nparams;
} clx_rest_call_t;

typedef int (*clx_route_fn)(clx_rest_call_t *call);

/* Sends body (len bytes, copied) with status and content_type. Returns 0 for h2o. */
int clx_rest_send(h2o_req_t *req, int status, const char *content_type, const void *body, size_t len);
/* Sends body (copied) as application/json with status. Returns 0 for h2o. */
int clx_rest_send_json(h2o_req_t *req, int status, const char *body, size_t len);
/*
 * Answers an error through the error table: the HTTP status of err (a clx_err_t), and
 * {"ok":false,"error":{"code","field"?,"message"}} where code is clx_code_name(code), or
 * err's own name for CLX_CODE_NONE. field may be NULL. A 503 carries Retry-After. Returns 0.
 */
int clx_rest_send_error(h2o_req_t *req, int err, clx_code_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/*
 * The admin credential of the request ("Authorization: Bearer <admin token>"): CLX_OK;
 * CLX_EINVAL when the header carries no Bearer token; CLX_EUNAUTH for a wrong token.
 */
int clx_rest_admin_auth(clx_rest_call_t *call);
/* Header value by lowercase name, or {NULL,0}. */
h2o_iovec_t clx_rest_header(h2o_req_t *req, const char *name);
/* Query parameter value (percent-decoded into pool memory) or NULL. */
char *clx_rest_query(h2o_req_t *req, const char *name);
/*
 * The query parameters whose decoded name starts with prefix (e.g. "tag."): up to max of them
 * into names (the rest of the name) and values, in the pool. Returns how many there are (more
 * than max when some were left out).
 */
size_t clx_rest_query_prefixed(h2o_req_t *req, const char *prefix, char **names, char **values, size_t max);
/* A NUL-terminated copy of a route parameter in the request's pool. */
char *clx_rest_param(clx_rest_call_t *call, size_t i);
/* Arena for a request, reused per thread. */
clx_arena_t *clx_rest_arena_get(clx_rest_thread_t *t);
void clx_rest_arena_put(clx_rest_thread_t *t, clx_arena_t *a);

/*
 * The body limit of the route a request target (raw, query allowed) names: --otlp-max-body-bytes
 * for /v1/traces, --import-max-body-bytes for /api/v1/usage/import, else --max-body-bytes; and
 * the largest of them (h2o's own limit sits above it).
 */
size_t clx_rest_body_limit(const clx_rest_t *srv, h2o_iovec_t target);
size_t clx_rest_body_limit_max(const clx_rest_t *srv);

/* framing.c: below the routes */
#define CLX_H2_OVERSHOOT (64 * 1024) /* h2o's hard body limit above --max-body-bytes (> one h2 frame) */
/* Refuses (400 JSON, connection closed) an HTTP/1.1 request with ambiguous framing: 1 if so. */
int clx_rest_framing_refused(h2o_req_t *req);
/* Installs the JSON error filter and the body limits on the host (at start). */
void clx_rest_framing_config(clx_rest_t *srv, h2o_hostconf_t *host);
/* Takes an accepted connection: HTTP/2 prior knowledge or HTTP/1.1, by its first bytes. */
void clx_rest_accept(clx_rest_thread_t *t, h2o_socket_t *sock);

/*
 * pending.c: a request answered later from another thread (the writer). Embed it first in the
 * route's own record, allocated by clx_rest_pending_new in the request's arena; call
 * clx_rest_pending_wait once the work is handed off, and clx_rest_pending_post (from any thread)
 * when the answer is ready: respond then runs on the loop thread — unless the client left — and
 * the arena goes back to the loop.
 */
typedef struct clx_rest_pending clx_rest_pending_t;
typedef void (*clx_rest_respond_fn)(clx_rest_pending_t *p, h2o_req_t *req);
struct clx_rest_pending {
    h2o_multithread_message_t msg; /* first: the queue hands back this pointer */
    clx_rest_thread_t *thread;
    h2o_req_t *req;               /* NULL once the client has gone */
    clx_rest_pending_t **backref; /* in req->pool; cleared by the pool's dispose */
    clx_arena_t *arena;
    clx_rest_respond_fn respond;
};
/* A zeroed record of size bytes (>= sizeof(clx_rest_pending_t), which it starts with) in arena. */
clx_rest_pending_t *clx_rest_pending_new(clx_rest_call_t *call, clx_arena_t *arena, size_t size,
                                         clx_rest_respond_fn respond);
void clx_rest_pending_wait(clx_rest_pending_t *p, h2o_req_t *req);
void clx_rest_pending_post(clx_rest_pending_t *p);
/* The loop's receiver of posted answers (server.c registers it). */
void clx_rest_on_pending_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

/* ingest.c */
int clx_rest_ingest(clx_rest_call_t *call);
/* correct.c: POST /api/v1/usage/void and /amend (corrections), an event's history and a reprice (admin) */
int clx_rest_void(clx_rest_call_t *call);
int clx_rest_amend(clx_rest_call_t *call);
int clx_rest_event_history(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_reprice(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_reprice_job(clx_rest_call_t *call, clx_jw_t *w);
/* correct.c: frees the jobs kept (at destroy: no reprice thread runs any more) */
void clx_rest_jobs_free(clx_rest_t *srv);
/* correct.c: at start, the reprices the journal says were running, kept as failed (interrupted) */
void clx_rest_jobs_restore(clx_rest_t *srv);
/* usage.c: a time as the queries take it ("YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ", Unix ms): 0 or -1 */
int clx_rest_parse_time(const char *s, int64_t *ms);
/*
 * admin.c: the request body as a JSON object (yajl tree; the caller frees it): NULL after
 * answering 400 / 413 itself (over limit bytes, not JSON, not an object, a string breaking the
 * shared text rule). An empty body is {}.
 */
#include <yajl/yajl_tree.h>
yajl_val clx_rest_body_object(clx_rest_call_t *call, size_t limit);
/* import.c: POST /api/v1/usage/import (NDJSON backfill), and its chunks' answers from the writer */
int clx_rest_import(clx_rest_call_t *call);
void clx_rest_on_import_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/* otlp.c: POST /v1/traces (OTLP/HTTP) */
int clx_rest_otlp_traces(clx_rest_call_t *call);
/* admin.c helpers shared with usage.c */
struct Costlynx__Store__V1__StoredEvent;
void clx_rest_render_event(clx_jw_t *w, const struct Costlynx__Store__V1__StoredEvent *ev);
void clx_rest_iso_time(int64_t ms, char *buf, size_t len);
/* key: that time as clx_rest_iso_time writes it, or null when ms is 0 (not set). */
void clx_rest_jw_time(clx_jw_t *w, const char *key, int64_t ms);
/* usage.c: dashboard reads from the rollups */
int clx_rest_usage_overview(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_usage_costs(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_usage_warnings(clx_rest_call_t *call, clx_jw_t *w);
/* Reads from/to/project/environment/feature/provider/model query parameters into f; 0, or
 * -1 after answering 400. Absent from/to leave the range open. */
struct clx_event_filter;
int clx_rest_event_filter(clx_rest_call_t *call, struct clx_event_filter *f);
/* static.c: compiled-in files (GET/HEAD); -1 when there is none for path */
int clx_rest_static(h2o_req_t *req, h2o_iovec_t path);
/* GET /api/v1/routes: every route the server registers (for the OpenAPI check) */
int clx_rest_routes(clx_rest_call_t *call);
/* GET /metrics (Prometheus text) */
int clx_rest_metrics(clx_rest_call_t *call);
/* The route tables, for clx_rest_routes: server.c's top-level one, admin.c's (patterns relative
 * to /api/v1/admin/, "{}" capturing a segment) */
typedef void (*clx_route_visit_fn)(void *arg, const char *method, const char *pattern);
void clx_rest_top_routes(clx_route_visit_fn fn, void *arg);
void clx_rest_admin_routes(clx_route_visit_fn fn, void *arg);
/* pricing.c */
int clx_rest_pricing_models(clx_rest_call_t *call);
int clx_rest_pricing_reload(clx_rest_call_t *call, clx_jw_t *w);
/* admin.c: a backup's completion, on the loop thread that took the request */
void clx_rest_on_backup_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/* admin.c: the request body as a JSON object (NULL after answering 400/413), for governance.c */
#include <yajl/yajl_tree.h>
yajl_val clx_rest_admin_body(clx_rest_call_t *call);
/* governance.c (issue 12): budgets, channels, alerts (admin routes) and the budget check */
int clx_rest_budgets_list(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_budgets_create(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_budget_get(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_budget_update(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_budget_delete(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_channels_list(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_channels_create(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_channel_delete(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_channel_test(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_alerts_list(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_anomalies_list(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_aliases_list(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_aliases_set(clx_rest_call_t *call, clx_jw_t *w);
int clx_rest_aliases_delete(clx_rest_call_t *call, clx_jw_t *w);
/* governance.c: feature aliases folded into a usage query (the tables live until freed; NULL:
 * the workspace has none), and the warnings' spelling groups (0, or -1 after answering) */
struct clx_usage_query;
struct clx_rest_fold;
struct clx_rest_fold *clx_rest_fold_attach(clx_rest_call_t *call, const char *ws, struct clx_usage_query *q);
void clx_rest_fold_free(struct clx_rest_fold *f);
int clx_rest_spellings_section(clx_rest_call_t *call, clx_jw_t *w, const char *ws, int64_t from, int64_t to);
int clx_rest_budget_check(clx_rest_call_t *call);
/* governance.c: a workspace's governance settings in its JSON (timeZone, anomalySensitivity) and
 * PATCH of them: 0, 1 when the body names none, -1 after answering 400 */
struct clx_workspace;
void clx_rest_render_ws_governance(clx_jw_t *w, const struct clx_workspace *ws);
int clx_rest_patch_ws_governance(clx_rest_call_t *call, yajl_val body, const char *slug, struct clx_workspace *out);
/* admin.c: settings API and read-back, Bearer admin token */
int clx_rest_admin_route(clx_rest_call_t *call, const char *path, size_t len);

#endif
