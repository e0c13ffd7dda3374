/*
 * health.c — grpc.health.v1.Health: Check and Watch, so Kubernetes gRPC probes and
 * grpc_health_probe work. SERVING while the server accepts, NOT_SERVING once it stops.
 */
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "grpc_internal.h"

static int known_service(const char *name)
{
    static const char *const served[] = {"", "costlynx.v1.UsageIngestion", "costlynx.v1.Budgets",
                                         "opentelemetry.proto.collector.trace.v1.TraceService"};
    for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        if (strcmp(name, served[i]) == 0)
            return 1;
    return 0;
}

static grpc_byte_buffer *status_message(clx_grpc_call_t *c)
{
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = atomic_load(&c->server->stopping) ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                                                 : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    uint8_t buf[16];
    size_t len = grpc__health__v1__health_check_response__pack(&r, buf);
    return clx_grpc_buffer(buf, len);
}

void clx_grpc_health_start(clx_grpc_call_t *c)
{
    uint8_t *data;
    size_t len = clx_grpc_read_payload(c->payload, c->arena, &data);
    ProtobufCAllocator alloc;
    clx_arena_allocator(c->arena, &alloc);
    Grpc__Health__V1__HealthCheckRequest *req = grpc__health__v1__health_check_request__unpack(&alloc, len, data);
    if (req == NULL) {
        clx_grpc_fail(c, CLX_EINVAL, "not a grpc.health.v1.HealthCheckRequest");
        return;
    }
    if (!known_service(req->service)) {
        clx_grpc_fail(c, CLX_ENOTFOUND, "unknown service");
        return;
    }
    if (c->method == M_HEALTH_CHECK) {
        clx_grpc_finish(c, GRPC_STATUS_OK, "", status_message(c));
        return;
    }
    clx_grpc_send(c, status_message(c)); /* Watch: the current status, then wait */
}

void clx_grpc_health_event(clx_grpc_call_t *c, int ok)
{
    if (c->state == S_SENDING && ok) {
        /* the status does not change while the process serves: wait for the client (or the
         * server's shutdown, which cancels the call) */
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->cancelled;
        c->state = S_FINISHING;
        clx_grpc_watch_add(c);
        clx_grpc_start_batch(c, &op, 1);
        return;
    }
    clx_grpc_end_cancelled(c);
}
