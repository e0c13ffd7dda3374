/*
 * budgets.c — costlynx.v1.Budgets/CheckBudget: the budget check of issue 12 on the gRPC port
 * (x-api-key), answered from memory through the door API, as GET /api/v1/budgets/check.
 */
#include <string.h>

#include "clx_error.h"
#include "grpc_internal.h"

void clx_grpc_budgets_start(clx_grpc_call_t *c)
{
    const grpc_slice *key = clx_grpc_metadata(&c->md, "x-api-key");
    if (key == NULL || GRPC_SLICE_LENGTH(*key) == 0) {
        clx_grpc_fail(c, CLX_EUNAUTH, "the x-api-key metadata entry is missing");
        return;
    }
    if (clx_ingest_authenticate(c->server->cfg.pipeline, (const char *)GRPC_SLICE_START_PTR(*key),
                                GRPC_SLICE_LENGTH(*key), c->arena, &c->session) != CLX_OK) {
        clx_grpc_fail(c, CLX_EUNAUTH, "unknown or revoked ingestion key");
        return;
    }
    uint8_t *data;
    size_t len = clx_grpc_read_payload(c->payload, c->arena, &data);
    ProtobufCAllocator alloc;
    clx_arena_allocator(c->arena, &alloc);
    Costlynx__V1__CheckBudgetRequest *req = costlynx__v1__check_budget_request__unpack(&alloc, len, data);
    if (req == NULL) {
        clx_grpc_fail(c, CLX_EINVAL, "not a costlynx.v1.CheckBudgetRequest");
        return;
    }
    Costlynx__V1__CheckBudgetResponse resp;
    clx_problem_t why;
    const char **keys = clx_arena_alloc(c->arena, (req->n_tags ? req->n_tags : 1) * sizeof(char *));
    const char **values = clx_arena_alloc(c->arena, (req->n_tags ? req->n_tags : 1) * sizeof(char *));
    for (size_t i = 0; i < req->n_tags; i++) {
        keys[i] = req->tags[i]->key;
        values[i] = req->tags[i]->value;
    }
    clx_budget_call_t call = {req->project, req->environment, req->feature, req->user_id, keys, values, req->n_tags};
    int rc = clx_ingest_check_budget(c->session, &call, c->arena, &resp, &why);
    if (rc == CLX_EINVAL) {
        clx_grpc_fail(c, CLX_EINVAL, why.message);
        return;
    }
    if (rc != CLX_OK) {
        clx_grpc_fail(c, CLX_EUNAUTH, "unknown or revoked ingestion key");
        return;
    }
    size_t n = costlynx__v1__check_budget_response__get_packed_size(&resp);
    uint8_t *buf = clx_arena_alloc(c->arena, n ? n : 1);
    costlynx__v1__check_budget_response__pack(&resp, buf);
    clx_grpc_finish(c, GRPC_STATUS_OK, "", clx_grpc_buffer(buf, n));
}

void clx_grpc_budgets_event(clx_grpc_call_t *c, int ok)
{
    (void)ok; /* a unary call has no later events but its end */
    clx_grpc_end_cancelled(c);
}
