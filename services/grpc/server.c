/*
 * server.c — the gRPC door's plumbing on the grpc C core: registered methods, one
 * completion queue per thread with several request slots posted, and ordered shutdown.
 */
#include "grpc_internal.h"

#include <grpc/grpc_security.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_otlp_door.h"

#define SLOTS_BUSY 8  /* outstanding request_registered_call per queue for an ingestion method */
#define SLOTS_QUIET 2 /* ... for the others (health, reflection, unknown methods) */

static const struct {
    const char *path;
    grpc_server_register_method_payload_handling payload;
    int slots;
} method_table[M_COUNT_] = {
    [M_INGEST] = {"/costlynx.v1.UsageIngestion/Ingest", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_BUSY},
    [M_INGEST_STREAM] = {"/costlynx.v1.UsageIngestion/IngestStream", GRPC_SRM_PAYLOAD_NONE, SLOTS_BUSY},
    [M_HEALTH_CHECK] = {"/grpc.health.v1.Health/Check", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_QUIET},
    [M_HEALTH_WATCH] = {"/grpc.health.v1.Health/Watch", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_QUIET},
    [M_REFLECTION_V1ALPHA] = {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", GRPC_SRM_PAYLOAD_NONE,
                              SLOTS_QUIET},
    [M_REFLECTION_V1] = {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", GRPC_SRM_PAYLOAD_NONE,
                         SLOTS_QUIET},
    [M_OTLP_EXPORT] = {"/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                       GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_BUSY},
    [M_VOID] = {"/costlynx.v1.UsageIngestion/Void", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_QUIET},
    [M_AMEND] = {"/costlynx.v1.UsageIngestion/Amend", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_QUIET},
    [M_CHECK_BUDGET] = {"/costlynx.v1.Budgets/CheckBudget", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, SLOTS_BUSY},
};

/* ---- helpers shared by the method files ------------------------------------------------- */

grpc_byte_buffer *clx_grpc_buffer(const void *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

size_t clx_grpc_read_payload(grpc_byte_buffer *bb, clx_arena_t *arena, uint8_t **data)
{
    grpc_byte_buffer_reader reader;
    if (bb == NULL || !grpc_byte_buffer_reader_init(&reader, bb)) {
        *data = clx_arena_alloc(arena, 1);
        return 0;
    }
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    size_t len = GRPC_SLICE_LENGTH(all);
    *data = clx_arena_alloc(arena, len ? len : 1);
    memcpy(*data, GRPC_SLICE_START_PTR(all), len);
    grpc_slice_unref(all);
    return len;
}

const grpc_slice *clx_grpc_metadata(const grpc_metadata_array *md, const char *key)
{
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0)
            return &md->metadata[i].value;
    return NULL;
}

void clx_grpc_start_batch(clx_grpc_call_t *c, grpc_op *ops, size_t n)
{
    atomic_fetch_add(&c->pending, 1);
    grpc_call_error err = grpc_call_start_batch(c->call, ops, n, c, NULL);
    if (err != GRPC_CALL_OK) { /* a programming error: the op sequence is ours */
        atomic_fetch_sub(&c->pending, 1);
        clx_log(CLX_LOG_ERROR, "grpc", "start_batch failed (%d) in state %d", (int)err, (int)c->state);
    }
}

void clx_grpc_set_trailer(clx_grpc_call_t *c, const char *key, const void *value, size_t len)
{
    if (c->trailer_set)
        grpc_slice_unref(c->trailer.value);
    memset(&c->trailer, 0, sizeof(c->trailer));
    c->trailer.key = grpc_slice_from_static_string(key);
    c->trailer.value = grpc_slice_from_copied_buffer(value, len);
    c->trailer_set = 1;
}

void clx_grpc_finish(clx_grpc_call_t *c, grpc_status_code code, const char *details, grpc_byte_buffer *msg)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->sent_initial_md) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n++].data.send_initial_metadata.count = 0;
        c->sent_initial_md = 1;
    }
    if (msg != NULL) {
        c->out = msg;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
    }
    c->details = grpc_slice_from_copied_string(details != NULL ? details : "");
    c->details_set = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.trailing_metadata_count = c->trailer_set ? 1 : 0;
    ops[n].data.send_status_from_server.trailing_metadata = c->trailer_set ? &c->trailer : NULL;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details = &c->details;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    pthread_mutex_lock(&c->mu); /* state changes under mu: the expiry scan reads it */
    c->state = S_FINISHING;
    clx_grpc_start_batch(c, ops, n);
    pthread_mutex_unlock(&c->mu);
}

void clx_grpc_end_cancelled(clx_grpc_call_t *c)
{
    clx_grpc_finish(c, GRPC_STATUS_CANCELLED, "cancelled", NULL);
}

void clx_grpc_fail(clx_grpc_call_t *c, int err, const char *details)
{
    clx_grpc_finish(c, (grpc_status_code)clx_err_grpc_status(err), details, NULL);
}

void clx_grpc_send(clx_grpc_call_t *c, grpc_byte_buffer *msg)
{
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->sent_initial_md) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n++].data.send_initial_metadata.count = 0;
        c->sent_initial_md = 1;
    }
    if (c->out != NULL)
        grpc_byte_buffer_destroy(c->out);
    c->out = msg;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = msg;
    pthread_mutex_lock(&c->mu);
    c->state = S_SENDING;
    clx_grpc_start_batch(c, ops, n);
    pthread_mutex_unlock(&c->mu);
}

void clx_grpc_receive(clx_grpc_call_t *c)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    if (c->payload != NULL) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->payload;
    /* under mu: from here on the expiry scan may end the call (IngestStream) */
    pthread_mutex_lock(&c->mu);
    c->state = S_RECEIVING;
    c->waiting_since_ns = clx_mono_ns();
    clx_grpc_start_batch(c, &op, 1);
    pthread_mutex_unlock(&c->mu);
}

/* ---- call lifecycle ----------------------------------------------------------------------- */

/* Ends an open Watch because the server stops (watch_mu held). */
static void end_watch(clx_grpc_call_t *c)
{
    grpc_call_cancel_with_status(c->call, (grpc_status_code)clx_err_grpc_status(CLX_ESHUTDOWN),
                                 "costlynxd is shutting down", NULL);
}

void clx_grpc_watch_add(clx_grpc_call_t *c)
{
    clx_grpc_t *g = c->server;
    pthread_mutex_lock(&g->watch_mu);
    c->watch_prev = NULL;
    c->watch_next = g->watches;
    if (g->watches != NULL)
        g->watches->watch_prev = c;
    g->watches = c;
    c->watching = 1;
    /* a Watch that starts while the server drains would hold the drain up: end it at once */
    if (atomic_load(&g->stopping))
        end_watch(c);
    pthread_mutex_unlock(&g->watch_mu);
}

void clx_grpc_watch_remove(clx_grpc_call_t *c)
{
    clx_grpc_t *g = c->server;
    pthread_mutex_lock(&g->watch_mu);
    if (c->watching) {
        if (c->watch_prev != NULL)
            c->watch_prev->watch_next = c->watch_next;
        else
            g->watches = c->watch_next;
        if (c->watch_next != NULL)
            c->watch_next->watch_prev = c->watch_prev;
        c->watching = 0;
    }
    pthread_mutex_unlock(&g->watch_mu);
}

void clx_grpc_stream_add(clx_grpc_call_t *c)
{
    clx_grpc_queue_t *q = c->queue;
    c->stream_prev = NULL;
    c->stream_next = q->streams;
    if (q->streams != NULL)
        q->streams->stream_prev = c;
    q->streams = c;
    c->in_streams = 1;
}

void clx_grpc_stream_remove(clx_grpc_call_t *c)
{
    if (!c->in_streams)
        return;
    if (c->stream_prev != NULL)
        c->stream_prev->stream_next = c->stream_next;
    else
        c->queue->streams = c->stream_next;
    if (c->stream_next != NULL)
        c->stream_next->stream_prev = c->stream_prev;
    c->in_streams = 0;
}

static void call_free(clx_grpc_call_t *c)
{
    clx_grpc_watch_remove(c);
    clx_grpc_stream_remove(c);
    if (c->call != NULL)
        grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md);
    if (c->method == M_UNKNOWN)
        grpc_call_details_destroy(&c->details_in);
    if (c->payload != NULL)
        grpc_byte_buffer_destroy(c->payload);
    if (c->out != NULL)
        grpc_byte_buffer_destroy(c->out);
    if (c->details_set)
        grpc_slice_unref(c->details);
    if (c->trailer_set)
        grpc_slice_unref(c->trailer.value);
    pthread_mutex_destroy(&c->mu);
    clx_arena_destroy(c->batch_arena);
    clx_arena_destroy(c->arena);
    if (c->active)
        atomic_fetch_sub(&c->server->active, 1);
    atomic_fetch_sub(&c->server->calls, 1);
    free(c);
}

void clx_grpc_request(clx_grpc_t *g, clx_grpc_queue_t *q, enum clx_grpc_method method)
{
    clx_grpc_call_t *c = clx_xcalloc(1, sizeof(*c));
    c->server = g;
    c->queue = q;
    c->method = method;
    c->state = S_REQUESTED;
    pthread_mutex_init(&c->mu, NULL);
    grpc_metadata_array_init(&c->md);
    atomic_fetch_add(&g->calls, 1);
    if (method == M_UNKNOWN) {
        grpc_call_details_init(&c->details_in);
        grpc_call_error err = grpc_server_request_call(g->server, &c->call, &c->details_in, &c->md, q->cq, q->cq, c);
        if (err != GRPC_CALL_OK) {
            clx_log(CLX_LOG_ERROR, "grpc", "request_call failed (%d)", (int)err);
            call_free(c);
        }
        return;
    }
    grpc_call_error err = grpc_server_request_registered_call(
        g->server, g->methods[method], &c->call, &c->deadline, &c->md,
        method_table[method].payload == GRPC_SRM_PAYLOAD_NONE ? NULL : &c->payload, q->cq, q->cq, c);
    if (err != GRPC_CALL_OK) {
        clx_log(CLX_LOG_ERROR, "grpc", "request_registered_call failed (%d)", (int)err);
        call_free(c);
    }
}

/* What each registered method does when a call arrives, and on its later completions. */
static const struct method_handlers {
    void (*start)(clx_grpc_call_t *c);
    void (*event)(clx_grpc_call_t *c, int ok);
} handlers[M_COUNT_] = {
    [M_INGEST] = {clx_grpc_ingest_start, clx_grpc_ingest_event},
    [M_INGEST_STREAM] = {clx_grpc_ingest_start, clx_grpc_ingest_event},
    [M_HEALTH_CHECK] = {clx_grpc_health_start, clx_grpc_health_event},
    [M_HEALTH_WATCH] = {clx_grpc_health_start, clx_grpc_health_event},
    [M_REFLECTION_V1ALPHA] = {clx_grpc_reflection_start, clx_grpc_reflection_event},
    [M_REFLECTION_V1] = {clx_grpc_reflection_start, clx_grpc_reflection_event},
    [M_OTLP_EXPORT] = {clx_grpc_otlp_start, clx_grpc_otlp_event},
    [M_VOID] = {clx_grpc_correct_start, clx_grpc_correct_event},
    [M_AMEND] = {clx_grpc_correct_start, clx_grpc_correct_event},
    [M_CHECK_BUDGET] = {clx_grpc_budgets_start, clx_grpc_budgets_event},
};

/* One completion for call c. */
static void on_event(clx_grpc_call_t *c, int ok)
{
    if (c->state == S_REQUESTED) {
        if (!ok) { /* the server is shutting down: the slot is returned unused */
            call_free(c);
            return;
        }
        c->active = 1;
        atomic_fetch_add(&c->server->active, 1);
        if (!atomic_load(&c->server->shut_down))
            clx_grpc_request(c->server, c->queue, c->method); /* keep the slot count, draining too */
        c->arena = clx_arena_create(4096);
        /* health answers NOT_SERVING, and the OTLP door its own retry-later reply (a google.rpc.Status) */
        if (atomic_load(&c->server->stopping) && c->method != M_HEALTH_CHECK && c->method != M_HEALTH_WATCH &&
            c->method != M_OTLP_EXPORT) {
            clx_grpc_fail(c, CLX_ESHUTDOWN, "costlynxd is shutting down; retry with the same request_id");
            return;
        }
    } else {
        pthread_mutex_lock(&c->mu);
        int left = atomic_fetch_sub(&c->pending, 1) - 1;
        enum clx_grpc_state st = c->state;
        if (st == S_RECEIVING)
            c->state = S_WORKING; /* the expiry scan leaves a call alone while its message is handled */
        pthread_mutex_unlock(&c->mu);
        if (st == S_FINISHING) {
            if (left == 0) /* an ended stream's pending receive completes too */
                call_free(c);
            return;
        }
    }
    switch (c->method) {
    case M_UNKNOWN: {
        char msg[300];
        snprintf(msg, sizeof(msg), "unknown method %.*s", (int)GRPC_SLICE_LENGTH(c->details_in.method),
                 (const char *)GRPC_SLICE_START_PTR(c->details_in.method));
        clx_grpc_fail(c, CLX_EMETHOD, msg);
        break;
    }
    default: {
        const struct method_handlers *h = &handlers[c->method];
        if (c->state == S_REQUESTED)
            h->start(c);
        else
            h->event(c, ok);
        break;
    }
    }
}

#define EXPIRY_SCAN_MS 100 /* how often a queue with open streams looks for expired ones */

static void *queue_main(void *arg)
{
    clx_grpc_queue_t *q = arg;
    const clx_grpc_config_t *cfg = &q->server->cfg;
    int limits = cfg->stream_idle_ms != 0 || cfg->stream_max_ms != 0;
    for (;;) {
        /* with open streams and limits to enforce, wake at least every EXPIRY_SCAN_MS */
        gpr_timespec until =
            limits && q->streams != NULL
                ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(EXPIRY_SCAN_MS, GPR_TIMESPAN))
                : gpr_inf_future(GPR_CLOCK_REALTIME);
        grpc_event ev = grpc_completion_queue_next(q->cq, until, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag != NULL)
            on_event(ev.tag, ev.success);
        if (limits && q->streams != NULL) {
            uint64_t now = clx_mono_ns();
            if (now >= q->next_scan_ns) {
                clx_grpc_ingest_expire(q, now);
                q->next_scan_ns = now + EXPIRY_SCAN_MS * 1000000ull;
            }
        }
    }
    return NULL;
}

/* ---- start / stop ------------------------------------------------------------------------- */

static const clx_door_ops_t grpc_ops;

int clx_grpc_start(const clx_grpc_config_t *cfg, clx_door_t *out, char **errmsg)
{
    if (errmsg != NULL)
        *errmsg = NULL;
    grpc_init();
    if (clx_grpc_reflection_init() != CLX_OK)
        clx_log(CLX_LOG_WARN, "grpc", "reflection descriptors unreadable: reflection answers NOT_FOUND");
    clx_grpc_t *g = clx_xcalloc(1, sizeof(*g));
    g->cfg = *cfg;
    g->nqueues = cfg->threads ? cfg->threads : 1;
    pthread_mutex_init(&g->watch_mu, NULL);

    grpc_arg args[3];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    /* the port takes the largest message any method takes: OTLP exports may be larger than
     * costlynx.v1 messages, whose own limit ingest.c checks */
    size_t max_in = cfg->max_message ? cfg->max_message : CLX_GRPC_MAX_MESSAGE;
    if (cfg->otlp != NULL && clx_otlp_door_max_body(cfg->otlp) > max_in)
        max_in = clx_otlp_door_max_body(cfg->otlp);
    args[0].value.integer = max_in > INT_MAX ? INT_MAX : (int)max_in;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = 64 << 20;
    /* a second costlynxd on the same port must fail to start, not take half the calls */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
    args[2].value.integer = 0;
    grpc_channel_args chargs = {3, args};
    g->server = grpc_server_create(&chargs, NULL);
    for (int m = 0; m < M_COUNT_; m++)
        g->methods[m] = grpc_server_register_method(g->server, method_table[m].path, NULL, method_table[m].payload, 0);
    g->queues = clx_xcalloc(g->nqueues, sizeof(*g->queues));
    for (size_t i = 0; i < g->nqueues; i++) {
        g->queues[i].server = g;
        g->queues[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(g->server, g->queues[i].cq, NULL);
    }
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    g->port = grpc_server_add_http2_port(g->server, cfg->addr, creds);
    grpc_server_credentials_release(creds);
    if (g->port == 0) {
        if (errmsg != NULL) {
            char buf[300];
            snprintf(buf, sizeof(buf), "cannot listen on %s (in use, or not host:port)", cfg->addr);
            *errmsg = clx_xstrdup(buf);
        }
        grpc_server_destroy(g->server);
        for (size_t i = 0; i < g->nqueues; i++) {
            grpc_completion_queue_shutdown(g->queues[i].cq);
            while (grpc_completion_queue_next(g->queues[i].cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
                   GRPC_QUEUE_SHUTDOWN)
                ;
            grpc_completion_queue_destroy(g->queues[i].cq);
        }
        free(g->queues);
        free(g);
        grpc_shutdown();
        return CLX_EIO;
    }
    grpc_server_start(g->server);
    for (size_t i = 0; i < g->nqueues; i++) {
        for (int m = 0; m <= M_UNKNOWN; m++)
            for (int k = 0; k < (m < M_COUNT_ ? method_table[m].slots : SLOTS_QUIET); k++)
                clx_grpc_request(g, &g->queues[i], (enum clx_grpc_method)m);
        pthread_create(&g->queues[i].tid, NULL, queue_main, &g->queues[i]);
    }
    clx_log(CLX_LOG_INFO, "grpc", "listening on %s (port %d, %zu queues)", cfg->addr, g->port, g->nqueues);
    *out = (clx_door_t){.ops = &grpc_ops, .impl = g, .port = g->port};
    return CLX_OK;
}

static void grpc_quiesce(void *impl)
{
    clx_grpc_t *g = impl;
    /* from now on every new call is answered UNAVAILABLE by on_event (health answers
     * NOT_SERVING), so callers retry elsewhere, as the REST door answers 503 */
    atomic_store(&g->stopping, 1);
    /* health Watch streams never end by themselves: end them now (clients reconnect elsewhere) */
    pthread_mutex_lock(&g->watch_mu);
    for (clx_grpc_call_t *c = g->watches; c != NULL; c = c->watch_next)
        end_watch(c);
    pthread_mutex_unlock(&g->watch_mu);
}

static void grpc_stop(void *impl, uint64_t deadline_ns)
{
    clx_grpc_t *g = impl;
    while (atomic_load(&g->active) != 0 && clx_mono_ns() < deadline_ns)
        usleep(10 * 1000);
    if (atomic_load(&g->active) != 0)
        clx_log(CLX_LOG_WARN, "grpc", "calls still open at the end of the grace period: cancelling them");
    /*
     * shutdown_and_notify closes the listener and stops matching calls; its tag arrives once
     * every call has ended AND every client connection has closed. Clients keep idle channels
     * open, so what is left is cancelled, which closes the connections too.
     */
    atomic_store(&g->shut_down, 1);
    grpc_completion_queue *done = grpc_completion_queue_create_for_pluck(NULL);
    grpc_server_shutdown_and_notify(g->server, done, g);
    grpc_server_cancel_all_calls(g->server);
    grpc_completion_queue_pluck(done, g, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_shutdown(done);
    grpc_completion_queue_destroy(done);
    for (size_t i = 0; i < g->nqueues; i++)
        grpc_completion_queue_shutdown(g->queues[i].cq);
    for (size_t i = 0; i < g->nqueues; i++)
        pthread_join(g->queues[i].tid, NULL);
}

static void grpc_destroy(void *impl)
{
    clx_grpc_t *g = impl;
    grpc_server_destroy(g->server);
    for (size_t i = 0; i < g->nqueues; i++)
        grpc_completion_queue_destroy(g->queues[i].cq);
    free(g->queues);
    pthread_mutex_destroy(&g->watch_mu);
    free(g);
    grpc_shutdown();
}

static const clx_door_ops_t grpc_ops = {
    .name = "grpc",
    .quiesce = grpc_quiesce,
    .stop = grpc_stop,
    .destroy = grpc_destroy,
};
