/*
 * clx_error.h — the one error enum of costlynx and its mapping to protocols.
 *
 * Every function that can fail returns CLX_OK (0) or a negative clx_err_t. The table in
 * clx_error.c maps each code to a stable name, a message, an HTTP status and a gRPC
 * status code, so both doors answer the same fault the same way.
 */
#ifndef CLX_ERROR_H
#define CLX_ERROR_H

typedef enum clx_err {
    CLX_OK = 0,
    CLX_EINVAL = -1,     /* the input is wrong; retrying cannot help (400 / INVALID_ARGUMENT) */
    CLX_ENOTFOUND = -2,  /* no such record (404 / NOT_FOUND) */
    CLX_EEXIST = -3,     /* a record with that identity exists (409 / ALREADY_EXISTS) */
    CLX_EUNAUTH = -4,    /* missing, unknown or revoked credential (401 / UNAUTHENTICATED) */
    CLX_EFORBIDDEN = -5, /* credential valid but not allowed (403 / PERMISSION_DENIED) */
    CLX_ETOOBIG = -6,    /* body or message over the size limit (413 / RESOURCE_EXHAUSTED) */
    CLX_EMEDIA = -7,     /* unsupported content type (415 / INVALID_ARGUMENT) */
    CLX_EBUSY = -8,      /* overloaded, retry later with the same ids (503 / UNAVAILABLE) */
    CLX_ESHUTDOWN = -9,  /* shutting down, retry elsewhere or later (503 / UNAVAILABLE) */
    CLX_EIO = -10,       /* storage failed; nothing was acknowledged (503 / UNAVAILABLE) */
    CLX_ECORRUPT = -11,  /* stored data unreadable (500 / INTERNAL) */
    CLX_EMETHOD = -12,   /* HTTP method not allowed on the route (405 / UNIMPLEMENTED) */
    CLX_ENOSPC = -13,    /* the data folder's disk is below its free-space reserve; nothing was
                            written, retry later (503 storage_unavailable / UNAVAILABLE) */
    CLX_ERR_MIN_ = -14
} clx_err_t;

/* Human-readable message for err ("unknown error" for codes outside the table). Static. */
const char *clx_strerror(int err);
/* Stable snake_case name for err, e.g. "unauthenticated". Static. */
const char *clx_err_name(int err);
/* HTTP status a REST answer uses for err (200 for CLX_OK). */
int clx_err_http_status(int err);
/* gRPC status code (grpc_status_code numbering) for err (0 for CLX_OK). */
int clx_err_grpc_status(int err);

#endif
