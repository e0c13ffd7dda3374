/*
 * static.c — the dashboard (web/) and /openapi.json, compiled into the binary; GET
 * /api/v1/routes rendered from the route tables (the OpenAPI document is checked against
 * it); GET /metrics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "clx_assets.h"
#include "clx_ingest.h"
#include "clx_maintenance.h"
#include "clx_otlp_door.h"
#include "rest_internal.h"

static const clx_asset_t *find(const char *path, size_t len)
{
    for (const clx_asset_t *a = clx_web_assets; a->path != NULL; a++)
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
            return a;
    return NULL;
}

int clx_rest_static(h2o_req_t *req, h2o_iovec_t path)
{
    static h2o_generator_t generator = {NULL, NULL};
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return -1;
    const clx_asset_t *a = path.len == 1 ? find("/index.html", 11) : find(path.base, path.len);
    if (a == NULL)
        return -1;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->content_type,
                   strlen(a->content_type));
    /* the page holds no secrets; the admin token stays in the browser's session storage */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    req->res.content_length = a->len;
    h2o_iovec_t body = h2o_iovec_init(a->data, head ? 0 : a->len);
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void add_route(void *arg, const char *method, const char *path)
{
    clx_jw_t *w = arg;
    clx_jw_obj_open(w, NULL);
    clx_jw_str(w, "method", method);
    clx_jw_str(w, "path", path);
    clx_jw_obj_end(w);
}

/* Admin patterns are relative and capture segments with "{}". */
static void add_admin_route(void *arg, const char *method, const char *pattern)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/admin/%s", pattern);
    add_route(arg, method, path);
}

/* The OTLP door's counters, per transport: what its exports carried and how they were answered. */
static const char *const otlp_transports[CLX_OTLP_TRANSPORTS] = {[CLX_OTLP_HTTP] = "http", [CLX_OTLP_GRPC] = "grpc"};

static const struct otlp_span_outcome {
    const char *name;
    size_t offset; /* in clx_otlp_metrics_t */
} otlp_span_outcomes[] = {
    {"inserted", offsetof(clx_otlp_metrics_t, inserted)},
    {"skipped", offsetof(clx_otlp_metrics_t, skipped)},
    {"rejected", offsetof(clx_otlp_metrics_t, rejected)},
    {"ignored", offsetof(clx_otlp_metrics_t, ignored)},
};

/* The OTLP door's counters with no label but the transport. */
static const struct otlp_counter {
    const char *name, *help;
    size_t offset; /* in clx_otlp_metrics_t */
} otlp_counters[] = {
    {"costlynx_otlp_spans_received_total", "Spans in decoded OTLP exports.", offsetof(clx_otlp_metrics_t, spans)},
    {"costlynx_otlp_events_total", "Spans with GenAI usage made into usage events for the pipeline.",
     offsetof(clx_otlp_metrics_t, events)},
    {"costlynx_otlp_warnings_total", "Warnings about stored OTLP events (also in costlynx_warnings_total).",
     offsetof(clx_otlp_metrics_t, warnings)},
};

static size_t append(char *buf, size_t cap, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t cap, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (n >= cap)
        return n;
    va_start(ap, fmt);
    int k = vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
    return k < 0 ? n : n + (size_t)k;
}

static size_t otlp_metrics(const clx_otlp_door_t *door, char *buf, size_t cap, size_t n)
{
    clx_otlp_metrics_t m[CLX_OTLP_TRANSPORTS];
    for (int t = 0; t < CLX_OTLP_TRANSPORTS; t++)
        clx_otlp_door_metrics(door, (clx_otlp_transport_t)t, &m[t]);
    n = append(buf, cap, n,
               "# HELP costlynx_otlp_requests_total OTLP trace exports by transport and answer (success, "
               "partial_success: some spans rejected, refused: 4xx / not retried, retry_later: 503 / UNAVAILABLE).\n"
               "# TYPE costlynx_otlp_requests_total counter\n");
    for (int t = 0; t < CLX_OTLP_TRANSPORTS; t++)
        for (int r = 0; r < CLX_OTLP_RESULTS; r++)
            n = append(buf, cap, n, "costlynx_otlp_requests_total{transport=\"%s\",result=\"%s\"} %llu\n",
                       otlp_transports[t], clx_otlp_result_name((clx_otlp_result_t)r),
                       (unsigned long long)m[t].requests[r]);
    n = append(buf, cap, n,
               "# HELP costlynx_otlp_spans_total OTLP spans by outcome: inserted / skipped (a duplicate) as usage "
               "events, rejected (by the mapping or the pipeline), ignored (no GenAI usage).\n"
               "# TYPE costlynx_otlp_spans_total counter\n");
    for (int t = 0; t < CLX_OTLP_TRANSPORTS; t++)
        for (size_t o = 0; o < sizeof(otlp_span_outcomes) / sizeof(otlp_span_outcomes[0]); o++)
            n = append(buf, cap, n, "costlynx_otlp_spans_total{transport=\"%s\",outcome=\"%s\"} %llu\n",
                       otlp_transports[t], otlp_span_outcomes[o].name,
                       (unsigned long long)*(const uint64_t *)((const char *)&m[t] + otlp_span_outcomes[o].offset));
    for (size_t c = 0; c < sizeof(otlp_counters) / sizeof(otlp_counters[0]); c++) {
        n = append(buf, cap, n, "# HELP %s %s\n# TYPE %s counter\n", otlp_counters[c].name, otlp_counters[c].help,
                   otlp_counters[c].name);
        for (int t = 0; t < CLX_OTLP_TRANSPORTS; t++)
            n = append(buf, cap, n, "%s{transport=\"%s\"} %llu\n", otlp_counters[c].name, otlp_transports[t],
                       (unsigned long long)*(const uint64_t *)((const char *)&m[t] + otlp_counters[c].offset));
    }
    return n;
}

/* GET /metrics: Prometheus text exposition of the pipeline's and the writer's counters. */
int clx_rest_metrics(clx_rest_call_t *call)
{
    static h2o_generator_t generator = {NULL, NULL};
    clx_ingest_metrics_t m;
    clx_ingest_metrics(call->srv->cfg.pipeline, &m);
    char buf[16384];
    int n = snprintf(
        buf, sizeof(buf),
        "# HELP costlynx_ingest_requests_total Ingest requests that reached the pipeline (every door; an OTLP export "
        "counts one per 100 events).\n"
        "# TYPE costlynx_ingest_requests_total counter\n"
        "costlynx_ingest_requests_total %llu\n"
        "# HELP costlynx_ingest_refused_total Requests answered retry-later (writer queue full, shutting down).\n"
        "# TYPE costlynx_ingest_refused_total counter\n"
        "costlynx_ingest_refused_total %llu\n"
        "# HELP costlynx_ingest_failed_total Requests whose storage write failed (answered 503 / UNAVAILABLE).\n"
        "# TYPE costlynx_ingest_failed_total counter\n"
        "costlynx_ingest_failed_total %llu\n"
        "# HELP costlynx_events_total Events by outcome.\n"
        "# TYPE costlynx_events_total counter\n"
        "costlynx_events_total{outcome=\"inserted\"} %llu\n"
        "costlynx_events_total{outcome=\"skipped\"} %llu\n"
        "costlynx_events_total{outcome=\"rejected\"} %llu\n"
        "# HELP costlynx_warnings_total Warnings returned to callers.\n"
        "# TYPE costlynx_warnings_total counter\n"
        "costlynx_warnings_total %llu\n"
        "# HELP costlynx_writer_synced_writes_total Synced RocksDB writes (group commits).\n"
        "# TYPE costlynx_writer_synced_writes_total counter\n"
        "costlynx_writer_synced_writes_total %llu\n"
        "# HELP costlynx_writer_requests_total Requests completed by the writer.\n"
        "# TYPE costlynx_writer_requests_total counter\n"
        "costlynx_writer_requests_total %llu\n"
        "# HELP costlynx_http_inflight_ingest Ingest requests waiting for their durable write.\n"
        "# TYPE costlynx_http_inflight_ingest gauge\n"
        "costlynx_http_inflight_ingest %ld\n"
        "# HELP costlynx_catalog_prices Price entries in the running catalog.\n"
        "# TYPE costlynx_catalog_prices gauge\n"
        "costlynx_catalog_prices{version=\"%s\"} %zu\n",
        (unsigned long long)m.requests, (unsigned long long)m.refused, (unsigned long long)m.failed,
        (unsigned long long)m.inserted, (unsigned long long)m.skipped, (unsigned long long)m.rejected,
        (unsigned long long)m.warnings, (unsigned long long)m.synced_writes, (unsigned long long)m.writer_requests,
        (long)atomic_load(&call->srv->inflight), m.catalog_version, m.catalog_prices);
    clx_disk_state_t sp;
    clx_maintenance_disk(call->srv->cfg.maintenance, &sp);
    if (n > 0 && (size_t)n < sizeof(buf))
        n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                      "# HELP costlynx_store_free_bytes Free space on the data folder's disk.\n"
                      "# TYPE costlynx_store_free_bytes gauge\n"
                      "costlynx_store_free_bytes %llu\n"
                      "# HELP costlynx_store_reserve_bytes Free space writes keep (--disk-reserve).\n"
                      "# TYPE costlynx_store_reserve_bytes gauge\n"
                      "costlynx_store_reserve_bytes %llu\n"
                      "# HELP costlynx_store_writable 1 while the store accepts writes, 0 while the disk is full.\n"
                      "# TYPE costlynx_store_writable gauge\n"
                      "costlynx_store_writable %d\n"
                      "# HELP costlynx_store_read_only 1 when the store was opened read-only for lack of space.\n"
                      "# TYPE costlynx_store_read_only gauge\n"
                      "costlynx_store_read_only %d\n",
                      (unsigned long long)sp.free_bytes, (unsigned long long)sp.reserve_bytes, sp.writable,
                      sp.read_only);
    if (n < 0 || (size_t)n >= sizeof(buf))
        n = (int)strlen(buf);
    if (call->srv->cfg.metrics_extra != NULL && n > 0 && (size_t)n < sizeof(buf)) {
        size_t len = (size_t)n;
        call->srv->cfg.metrics_extra(call->srv->cfg.metrics_arg, buf, sizeof(buf), &len);
        n = (int)len;
    }
    if (call->srv->cfg.otlp != NULL)
        n = (int)otlp_metrics(call->srv->cfg.otlp, buf, sizeof(buf), (size_t)n);
    if ((size_t)n >= sizeof(buf))
        n = (int)strlen(buf);
    h2o_req_t *req = call->req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
    h2o_iovec_t body = h2o_strdup(&req->pool, buf, (size_t)n);
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

int clx_rest_routes(clx_rest_call_t *call)
{
    clx_arena_t *arena = clx_rest_arena_get(call->thread);
    clx_jw_t w;
    clx_jw_init(&w, arena, 4096);
    clx_jw_obj_begin(&w);
    clx_jw_arr_begin(&w, "routes");
    clx_rest_top_routes(add_route, &w);
    clx_rest_admin_routes(add_admin_route, &w);
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    clx_rest_send_json(call->req, 200, w.buf, w.len);
    clx_rest_arena_put(call->thread, arena);
    return 0;
}
