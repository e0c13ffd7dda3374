/*
 * clx_grpc.h — the gRPC door: costlynx.v1.UsageIngestion (Ingest, IngestStream) on the
 * grpc C core, plus grpc.health.v1.Health and server reflection (v1alpha and v1), and the OTLP
 * door's gRPC transport (opentelemetry.proto.collector.trace.v1.TraceService/Export).
 * It calls exactly the pipeline entry point the REST door calls.
 */
#ifndef CLX_GRPC_H
#define CLX_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "clx_door.h"
#include "clx_ingest.h"

typedef struct clx_otlp_door clx_otlp_door_t;

#define CLX_GRPC_MAX_MESSAGE (4u << 20) /* costlynx.v1 messages, when max_message is 0 */

typedef struct clx_grpc_config {
    const char *addr;        /* "host:port"; port 0 picks a free one */
    size_t threads;          /* completion queues, each polled by its own thread */
    size_t max_message;      /* largest costlynx.v1 message in bytes (RESOURCE_EXHAUSTED above); the
                                port takes the larger of it and the OTLP door's body limit */
    /* IngestStream bounds (0: none). Past them the stream ends with DEADLINE_EXCEEDED
     * (idle, duration) or RESOURCE_EXHAUSTED (messages) and the summary so far (docs/grpc.md). */
    unsigned stream_idle_ms;     /* longest wait for the next message */
    unsigned stream_max_ms;      /* longest stream */
    unsigned stream_max_messages;
    clx_pipeline_t *pipeline;
    clx_otlp_door_t *otlp; /* TraceService/Export */
} clx_grpc_config_t;

/*
 * Binds, starts the server and its queue threads: *out is the started door (clx_door.h).
 * Quiescing answers new calls UNAVAILABLE, turns health NOT_SERVING and ends open health
 * Watch streams while the calls in flight go on; stopping waits for those, cancels what is
 * left, drains the queues and joins the threads. CLX_OK; CLX_EIO when the address cannot be
 * bound (*errmsg, malloc'd, says so).
 */
int clx_grpc_start(const clx_grpc_config_t *cfg, clx_door_t *out, char **errmsg);

#endif
