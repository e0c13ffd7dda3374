/*
 * clx_error.c — the error table: one row per clx_err_t, shared by the REST and gRPC doors.
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
    [6] = {"too_large", "request too large", 413, 8},
    [7] = {"unsupported_media_type", "unsupported content type", 415, 3},
    [8] = {"unavailable", "overloaded, retry later", 503, 14},
    [9] = {"shutting_down", "shutting down, retry later", 503, 14},
    [10] = {"storage_unavailable", "storage write failed, retry later", 503, 14},
    [11] = {"internal", "stored data is unreadable", 500, 13},
    [12] = {"method_not_allowed", "method not allowed", 405, 12},
    /* the same public code as CLX_EIO: callers retry both alike; the message says why */
    [13] = {"storage_unavailable", "disk full: the data folder's free space is below its reserve", 503, 14},
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
