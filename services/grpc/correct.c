/*
 * correct.c — costlynx.v1.UsageIngestion/Void and /Amend on the gRPC door: decoding, the wire
 * check of their strings, statuses; the corrections themselves are the door API's
 * (clx_ingest_begin_void / clx_ingest_begin_amend), as for the REST door. Ingestion key only.
 */
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "clx_ingest.h"
#include "clx_text.h"
#include "clx_utf8.h"
#include "costlynx/store/v1/records.pb-c.h"
#include "grpc_internal.h"

#define MAX_REASON 1024 /* bytes of a correction's reason (as REST) */

/* A top-level string field of a request, by number, and how errors name it. */
struct str_field {
    uint32_t number;
    const char *name;
};

/*
 * Checks the strings of an encoded request: each field in fields must pass the shared text rule
 * on its wire bytes (a NUL would be cut by protobuf-c's C strings: a different id), and the
 * UsageEvent in field event_field (0: none) its own strings. 0, or -1 with *problem.
 */
static int check_wire(const uint8_t *p, const uint8_t *end, const struct str_field *fields, size_t n,
                      uint32_t event_field, clx_problem_t *problem)
{
    while (p < end) {
        uint64_t tag, len;
        if (clx_grpc_wire_varint(&p, end, &tag) != 0)
            return 0; /* protobuf-c decoded it: a malformed tail only ends the scan */
        if ((tag & 7) != 2) {
            if (clx_grpc_wire_skip(&p, end, (unsigned)(tag & 7)) != 0)
                return 0;
            continue;
        }
        if (clx_grpc_wire_varint(&p, end, &len) != 0 || len > (uint64_t)(end - p))
            return 0;
        uint32_t num = (uint32_t)(tag >> 3);
        if (event_field != 0 && num == event_field) {
            clx_grpc_scan_event(p, p + len, problem);
            if (problem->field != NULL) {
                problem->field = problem->field[0] != '\0' ? problem->field : "set";
                return -1;
            }
        }
        for (size_t k = 0; k < n; k++)
            if (fields[k].number == num &&
                clx_validate_text(fields[k].name, (const char *)p, (size_t)len, problem) != CLX_OK)
                return -1;
        p += len;
    }
    return 0;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m, clx_arena_t *arena)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = clx_arena_alloc(arena, len ? len : 1);
    protobuf_c_message_pack(m, buf);
    return clx_grpc_buffer(buf, len);
}

/* Writer thread (or this thread when the answer was ready at once): answer the call. */
static void done(clx_ingest_t *ing, void *data)
{
    clx_grpc_call_t *c = data;
    char msg[700];
    int status = clx_ingest_status(ing);
    if (status != CLX_OK) {
        snprintf(msg, sizeof(msg), "%s: nothing changed; send it again", clx_strerror(status));
        clx_grpc_fail(c, status, msg);
        return;
    }
    clx_correction_result_t res;
    clx_ingest_correction(ing, &res);
    if (c->method == M_VOID) {
        Costlynx__V1__VoidResponse r = COSTLYNX__V1__VOID_RESPONSE__INIT;
        r.ok = 1;
        r.voided = res.voided;
        r.already_voided = res.already_voided;
        r.not_found = res.not_found;
        clx_grpc_finish(c, GRPC_STATUS_OK, "", pack(&r.base, c->arena));
        return;
    }
    Costlynx__V1__IngestResponse *ir = clx_ingest_response(ing);
    switch (res.amend) {
    case CLX_OK: {
        Costlynx__V1__AmendResponse r = COSTLYNX__V1__AMEND_RESPONSE__INIT;
        const Costlynx__Store__V1__StoredEvent *ev = res.event;
        r.ok = 1;
        r.version = ev->version;
        r.cost_nanos = ev->cost_nanos;
        r.price_id = (char *)clx_utf8_sanitize(c->arena, ev->price_id);
        r.provider = (char *)clx_utf8_sanitize(c->arena, ev->provider);
        r.model = (char *)clx_utf8_sanitize(c->arena, ev->model);
        r.project = (char *)clx_utf8_sanitize(c->arena, ev->project);
        r.environment = (char *)clx_utf8_sanitize(c->arena, ev->environment);
        for (size_t i = 0; i < ir->n_warnings; i++) {
            ir->warnings[i]->request_id = (char *)clx_utf8_sanitize(c->arena, ir->warnings[i]->request_id);
            ir->warnings[i]->message = (char *)clx_utf8_sanitize(c->arena, ir->warnings[i]->message);
        }
        r.n_warnings = ir->n_warnings;
        r.warnings = ir->warnings;
        clx_grpc_finish(c, GRPC_STATUS_OK, "", pack(&r.base, c->arena));
        return;
    }
    case CLX_ENOTFOUND:
        clx_grpc_fail(c, CLX_ENOTFOUND, "request_id: no stored event has this request_id");
        return;
    case CLX_EINVAL: {
        const Costlynx__V1__EventError *e = ir->n_errors > 0 ? ir->errors[0] : NULL;
        snprintf(msg, sizeof(msg), "%s%s: %s", e != NULL && strncmp(e->field, "set", 3) != 0 ? "set." : "",
                 e != NULL ? e->field : "set", e != NULL ? e->message : "the amended event is not valid");
        clx_grpc_fail(c, CLX_EINVAL, clx_utf8_sanitize(c->arena, msg));
        return;
    }
    default:
        /* a voided event: the precondition fails; a lost race: the client sends it again */
        clx_grpc_finish(c,
                        res.amend_code == CLX_CODE_EVENT_VOIDED ? GRPC_STATUS_FAILED_PRECONDITION : GRPC_STATUS_ABORTED,
                        res.amend_code == CLX_CODE_EVENT_VOIDED
                            ? "event_voided: the event is voided: a voided event cannot be amended"
                            : "version_conflict: the event was corrected by another request meanwhile; nothing "
                              "changed, send the amend again",
                        NULL);
        return;
    }
}

static void invalid(clx_grpc_call_t *c, const char *fmt, const char *field, size_t num)
{
    char msg[300];
    snprintf(msg, sizeof(msg), fmt, field, num);
    clx_grpc_fail(c, CLX_EINVAL, msg);
}

static void void_start(clx_grpc_call_t *c, const uint8_t *data, size_t len, ProtobufCAllocator *alloc)
{
    static const struct str_field strs[] = {{1, "request_ids"}, {2, "reason"}};
    Costlynx__V1__VoidRequest *r = costlynx__v1__void_request__unpack(alloc, len, data);
    clx_problem_t problem;
    if (r == NULL) {
        clx_grpc_fail(c, CLX_EINVAL, "the request is not a valid costlynx.v1.VoidRequest");
        return;
    }
    if (check_wire(data, data + len, strs, 2, 0, &problem) != 0) {
        invalid(c, "%s: must be text without NUL or control characters%.0zu", problem.field, 0);
        return;
    }
    if (r->n_request_ids == 0 || r->n_request_ids > CLX_MAX_VOID) {
        invalid(c, "%s: 1 to %zu request ids", "request_ids", CLX_MAX_VOID);
        return;
    }
    for (size_t i = 0; i < r->n_request_ids; i++) {
        size_t n = strlen(r->request_ids[i]);
        if (n == 0 || n > CLX_MAX_REQUEST_ID) {
            invalid(c, "%s[%zu]: a request id has 1 to 256 bytes", "request_ids", i);
            return;
        }
    }
    if (strlen(r->reason) > MAX_REASON) {
        invalid(c, "%s: at most %zu bytes", "reason", MAX_REASON);
        return;
    }
    if (clx_ingest_begin_void(c->session, c->arena, r->request_ids, r->n_request_ids, r->reason, &c->ing) != CLX_OK) {
        clx_grpc_fail(c, CLX_EUNAUTH, "unknown or revoked ingestion key");
        return;
    }
    if (clx_ingest_submit(c->ing, done, c))
        done(c->ing, c);
}

static void amend_start(clx_grpc_call_t *c, const uint8_t *data, size_t len, ProtobufCAllocator *alloc)
{
    static const struct str_field strs[] = {{1, "request_id"}, {3, "fields"}, {4, "reason"}};
    Costlynx__V1__AmendRequest *r = costlynx__v1__amend_request__unpack(alloc, len, data);
    clx_problem_t problem;
    char msg[700];
    if (r == NULL) {
        clx_grpc_fail(c, CLX_EINVAL, "the request is not a valid costlynx.v1.AmendRequest");
        return;
    }
    if (check_wire(data, data + len, strs, 3, 2, &problem) != 0) {
        snprintf(msg, sizeof(msg), "%s: %s", problem.field, problem.message);
        clx_grpc_fail(c, CLX_EINVAL, msg);
        return;
    }
    size_t rid = strlen(r->request_id);
    if (rid == 0 || rid > CLX_MAX_REQUEST_ID) {
        clx_grpc_fail(c, CLX_EINVAL, "request_id: a request id has 1 to 256 bytes");
        return;
    }
    if (r->n_fields == 0) {
        clx_grpc_fail(c, CLX_EINVAL, "fields: name at least one field of set to change");
        return;
    }
    for (size_t i = 0; i < r->n_fields; i++) {
        if (!clx_ingest_amendable(r->fields[i])) {
            snprintf(msg, sizeof(msg),
                     "set.%.64s: cannot be amended (amendable, by their JSON names: the token fields, model, "
                     "provider, timestamp, project, environment, feature, userId, tags, estimatedCostUsd)",
                     r->fields[i]);
            clx_grpc_fail(c, CLX_EINVAL, clx_utf8_sanitize(c->arena, msg));
            return;
        }
    }
    if (strlen(r->reason) > MAX_REASON) {
        clx_grpc_fail(c, CLX_EINVAL, "reason: at most 1024 bytes");
        return;
    }
    Costlynx__V1__UsageEvent *set = r->set;
    if (set == NULL) { /* every field named is cleared */
        set = clx_arena_alloc(c->arena, sizeof(*set));
        costlynx__v1__usage_event__init(set);
    }
    if (clx_ingest_begin_amend(c->session, c->arena, r->request_id, set, r->fields, r->n_fields, r->reason, &c->ing) !=
        CLX_OK) {
        clx_grpc_fail(c, CLX_EUNAUTH, "unknown or revoked ingestion key");
        return;
    }
    if (clx_ingest_submit(c->ing, done, c))
        done(c->ing, c);
}

/*
 * The call's session: the ingestion key (x-api-key), or the admin token (authorization: Bearer)
 * naming the workspace in costlynx-workspace. 0 after answering UNAUTHENTICATED / INVALID_ARGUMENT
 * / NOT_FOUND.
 */
static int session_of(clx_grpc_call_t *c)
{
    const grpc_slice *auth = clx_grpc_metadata(&c->md, "authorization");
    if (clx_grpc_metadata(&c->md, "x-api-key") != NULL || auth == NULL)
        return clx_grpc_authenticate(c);
    const char *token;
    size_t len;
    if (!clx_bearer_token((const char *)GRPC_SLICE_START_PTR(*auth), GRPC_SLICE_LENGTH(*auth), &token, &len)) {
        clx_grpc_fail(c, CLX_EUNAUTH, "authorization must be 'Bearer <admin token>'");
        return 0;
    }
    const grpc_slice *ws = clx_grpc_metadata(&c->md, "costlynx-workspace");
    if (ws == NULL || GRPC_SLICE_LENGTH(*ws) == 0 || GRPC_SLICE_LENGTH(*ws) > 64) {
        clx_grpc_fail(c, CLX_EINVAL, "costlynx-workspace: with the admin token, name the workspace to correct");
        return 0;
    }
    char *slug = clx_arena_strndup(c->arena, (const char *)GRPC_SLICE_START_PTR(*ws), GRPC_SLICE_LENGTH(*ws));
    int rc = clx_ingest_admin_authenticate(c->server->cfg.pipeline, token, len, slug, c->arena, &c->session);
    if (rc == CLX_EUNAUTH)
        clx_grpc_fail(c, CLX_EUNAUTH, "the admin token is not valid");
    else if (rc != CLX_OK)
        clx_grpc_fail(c, CLX_ENOTFOUND, "costlynx-workspace: no such workspace");
    return rc == CLX_OK;
}

void clx_grpc_correct_start(clx_grpc_call_t *c)
{
    if (!session_of(c))
        return;
    size_t limit = c->server->cfg.max_message ? c->server->cfg.max_message : CLX_GRPC_MAX_MESSAGE;
    if (c->payload != NULL && grpc_byte_buffer_length(c->payload) > limit) {
        clx_grpc_fail(c, CLX_ETOOBIG, "the message is larger than --grpc-max-message-bytes");
        return;
    }
    uint8_t *data = NULL;
    size_t len = c->payload != NULL ? clx_grpc_read_payload(c->payload, c->arena, &data) : 0;
    ProtobufCAllocator alloc;
    clx_arena_allocator(c->arena, &alloc);
    static const uint8_t empty[1];
    if (data == NULL)
        data = (uint8_t *)empty;
    if (c->method == M_VOID)
        void_start(c, data, len, &alloc);
    else
        amend_start(c, data, len, &alloc);
}

void clx_grpc_correct_event(clx_grpc_call_t *c, int ok)
{
    (void)c;
    (void)ok; /* unary: the only later completion is the status batch's, which server.c handles */
}
