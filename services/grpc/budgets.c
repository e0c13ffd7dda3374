/*
 * budgets.c — costlynx.v1.Budgets/CheckBudget: the budget check of issue 12 on the gRPC port
 * (x-api-key), answered from memory through the door API, as GET /api/v1/budgets/check.
 */
#include <string.h>

#include "clx_error.h"
#include "grpc_internal.h"

/*
 * protobuf-c hands strings over as C strings: "a\0b" would arrive as "a" and check project
 * "a"'s budgets. The wire bytes of project (1), environment (2), feature (3), user_id (4) and
 * each tags (5) key and value are therefore searched for a NUL first. NULL, or the message.
 */
static const char *nul_in(const uint8_t *p, const uint8_t *end, int in_tags)
{
    static const char *const names[] = {
        NULL, "project must not contain NUL characters", "environment must not contain NUL characters",
        "feature must not contain NUL characters", "userId must not contain NUL characters"};
    while (p < end) {
        uint64_t tag, len;
        if (clx_grpc_wire_varint(&p, end, &tag) != 0)
            return NULL; /* protobuf-c decoded it: a malformed tail only ends the scan */
        if ((tag & 7) != 2) {
            if (clx_grpc_wire_skip(&p, end, (unsigned)(tag & 7)) != 0)
                return NULL;
            continue;
        }
        if (clx_grpc_wire_varint(&p, end, &len) != 0 || len > (uint64_t)(end - p))
            return NULL;
        uint64_t num = tag >> 3;
        const char *why = NULL;
        if (in_tags && (num == 1 || num == 2) && memchr(p, '\0', (size_t)len) != NULL)
            why = "tags must not contain NUL characters";
        else if (!in_tags && num >= 1 && num <= 4 && memchr(p, '\0', (size_t)len) != NULL)
            why = names[num];
        else if (!in_tags && num == 5)
            why = nul_in(p, p + len, 1);
        if (why != NULL)
            return why;
        p += len;
    }
    return NULL;
}

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
    const char *nul = nul_in(data, data + len, 0);
    if (nul != NULL) {
        clx_grpc_fail(c, CLX_EINVAL, nul);
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
