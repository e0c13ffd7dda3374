/*
 * clx_error.c — the error tables: one row per clx_err_t (name, message, HTTP and gRPC
 * status) and one name per clx_code_t, shared by every door.
 */
#include "clx_error.h"

#include <stddef.h>

struct err_row {
    const char *name;
    const char *message;
    int http;
    int grpc; /* grpc_status_code values, spelled out so this module needs no grpc header */
};

static const struct err_row rows[] = {
    [0] = {"ok", "success", 200, 0},
    [1] = {"invalid_argument", "invalid argument", 400, 3},
    [2] = {"not_found", "not found", 404, 5},
    [3] = {"already_exists", "already exists", 409, 6},
    [4] = {"unauthenticated", "missing, unknown or revoked credential", 401, 16},
    [5] = {"permission_denied", "not allowed", 403, 7},
    [6] = {"payload_too_large", "request too large", 413, 8},
    [7] = {"unsupported_media_type", "unsupported content type", 415, 3},
    [8] = {"unavailable", "overloaded, retry later", 503, 14},
    [9] = {"shutting_down", "shutting down, retry later", 503, 14},
    [10] = {"storage_unavailable", "storage write failed, retry later", 503, 14},
    [11] = {"internal", "stored data is unreadable", 500, 13},
    [12] = {"method_not_allowed", "method not allowed", 405, 12},
    /* the same public code as CLX_EIO: callers retry both alike; the message says why */
    [13] = {"storage_unavailable", "disk full: the data folder's free space is below its reserve", 503, 14},
    [14] = {"expectation_failed", "expectation not met", 417, 3},
    [15] = {"deadline_exceeded", "time limit reached", 408, 4},
};

_Static_assert(sizeof(rows) / sizeof(rows[0]) == -CLX_ERR_MIN_, "one row per clx_err_t");

static const struct err_row *row_of(int err)
{
    if (err > 0 || err <= CLX_ERR_MIN_)
        return NULL;
    return &rows[-err];
}

const char *clx_strerror(int err)
{
    const struct err_row *r = row_of(err);
    return r != NULL ? r->message : "unknown error";
}

const char *clx_err_name(int err)
{
    const struct err_row *r = row_of(err);
    return r != NULL ? r->name : "unknown";
}

int clx_err_http_status(int err)
{
    const struct err_row *r = row_of(err);
    return r != NULL ? r->http : 500;
}

int clx_err_grpc_status(int err)
{
    const struct err_row *r = row_of(err);
    return r != NULL ? r->grpc : 2; /* UNKNOWN */
}

static const char *const code_names[CLX_CODE_COUNT_] = {
    [CLX_CODE_NONE] = "",
    [CLX_CODE_MISSING_FIELD] = "missing_field",
    [CLX_CODE_INVALID_TYPE] = "invalid_type",
    [CLX_CODE_INVALID_VALUE] = "invalid_value",
    [CLX_CODE_TOO_LONG] = "too_long",
    [CLX_CODE_UNKNOWN_PROJECT] = "unknown_project",
    [CLX_CODE_UNKNOWN_ENVIRONMENT] = "unknown_environment",
    [CLX_CODE_ENVIRONMENT_NOT_ALLOWED] = "environment_not_allowed",
    [CLX_CODE_TOO_MANY_EVENTS] = "too_many_events",
    [CLX_CODE_TIMESTAMP_OUT_OF_RANGE] = "timestamp_out_of_range",
    [CLX_CODE_UNPRICED_MODEL] = "unpriced_model",
    [CLX_CODE_NO_ATTRIBUTION] = "no_attribution",
    [CLX_CODE_UNKNOWN_FIELD] = "unknown_field",
    [CLX_CODE_REQUEST_ID_CONFLICT] = "requestId_conflict",
    [CLX_CODE_TIER_UNPRICED] = "tier_unpriced",
    [CLX_CODE_INVALID_JSON] = "invalid_json",
    [CLX_CODE_INVALID_BODY] = "invalid_body",
    [CLX_CODE_EMPTY_BATCH] = "empty_batch",
    [CLX_CODE_CATALOG_INVALID] = "catalog_invalid",
    [CLX_CODE_BACKUP_NOT_CONFIGURED] = "backup_not_configured",
    [CLX_CODE_INVALID_REQUEST] = "invalid_request",
    [CLX_CODE_INVALID_PROTOBUF] = "invalid_protobuf",
    [CLX_CODE_INVALID_GZIP] = "invalid_gzip",
    [CLX_CODE_UNSUPPORTED_ENCODING] = "unsupported_encoding",
    [CLX_CODE_TOO_MANY_SPANS] = "too_many_spans",
    [CLX_CODE_TOO_MANY_MESSAGES] = "too_many_messages",
    [CLX_CODE_TOO_DEEP] = "too_deep",
    [CLX_CODE_REQUEST_ID_VOIDED] = "requestId_voided",
    [CLX_CODE_EVENT_VOIDED] = "event_voided",
    [CLX_CODE_VERSION_CONFLICT] = "version_conflict",
};

const char *clx_code_name(clx_code_t code)
{
    if ((int)code < 0 || code >= CLX_CODE_COUNT_ || code_names[code] == NULL)
        return "";
    return code_names[code];
}
