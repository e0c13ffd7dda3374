/*
 * otlp.c — opentelemetry.proto.collector.trace.v1.TraceService/Export: OTLP/gRPC on the gRPC
 * door's port. gRPC only: the metadata and the message go to the OTLP door
 * (services/otlp/clx_otlp_door.h), which answers through the pipeline; this file sends its
 * reply — the ExportTraceServiceResponse, or the status through the error table with a
 * google.rpc.Status (ErrorInfo, RetryInfo) in grpc-status-details-bin.
 */
#include "clx_otlp_door.h"
#include "grpc_internal.h"

#define STATUS_DETAILS "grpc-status-details-bin"

static void reply(clx_grpc_call_t *c, clx_otlp_export_t *x)
{
    clx_otlp_reply_t r;
    clx_otlp_export_reply(x, &r);
    if (r.status == CLX_OK) {
        clx_grpc_finish(c, GRPC_STATUS_OK, "", clx_grpc_buffer(r.body, r.len));
        return;
    }
    clx_grpc_set_trailer(c, STATUS_DETAILS, r.details, r.details_len);
    clx_grpc_fail(c, r.status, r.message);
}

/* Writer thread: every request of the export was answered. */
static void on_export_done(clx_otlp_export_t *x, void *data)
{
    reply(data, x);
}

/* The value of metadata entry key, or NULL / 0. */
static const char *entry(const clx_grpc_call_t *c, const char *key, size_t *len)
{
    const grpc_slice *v = clx_grpc_metadata(&c->md, key);
    *len = v != NULL ? GRPC_SLICE_LENGTH(*v) : 0;
    return v != NULL ? (const char *)GRPC_SLICE_START_PTR(*v) : NULL;
}

void clx_grpc_otlp_start(clx_grpc_call_t *c)
{
    clx_otlp_export_t *x = clx_otlp_export_init(c->server->cfg.otlp, CLX_OTLP_GRPC, c->arena);
    size_t key_len, auth_len;
    const char *key = entry(c, "x-api-key", &key_len), *auth = entry(c, "authorization", &auth_len);
    if (atomic_load(&c->server->stopping)) {
        clx_otlp_export_fail(x, CLX_ESHUTDOWN, CLX_CODE_NONE, "costlynxd is shutting down; retry the export");
    } else if (clx_otlp_export_auth(x, key, key_len, auth, auth_len) == CLX_OK) {
        /* the message as grpc holds it (one slice: no copy), kept only while it is decoded: the
         * export keeps nothing of the body once its spans are mapped */
        grpc_byte_buffer_reader reader;
        grpc_slice body = grpc_empty_slice();
        if (c->payload != NULL && grpc_byte_buffer_reader_init(&reader, c->payload)) {
            body = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
        }
        int rc = clx_otlp_export_decode(x, GRPC_SLICE_START_PTR(body), GRPC_SLICE_LENGTH(body), NULL, 0);
        grpc_slice_unref(body);
        if (rc == CLX_OK && clx_otlp_export_submit(x, on_export_done, c) == 0)
            return; /* the writer answers through on_export_done */
    }
    reply(c, x);
}

void clx_grpc_otlp_event(clx_grpc_call_t *c, int ok)
{
    /* a unary call has no later events but its end, which server.c takes care of */
    (void)ok;
    clx_grpc_end_cancelled(c);
}
