/*
 * clx_error.h — the one error vocabulary of costlynx and its mapping to protocols.
 *
 * Every function that can fail returns CLX_OK (0) or a negative clx_err_t. The table in
 * clx_error.c maps each code to a stable name, a message, an HTTP status and a gRPC
 * status code, so both doors answer the same fault the same way: a door never writes a
 * status number of its own for an error.
 *
 * Finer than clx_err_t are the problem codes (clx_code_t): the machine-readable "code" a
 * caller reads in a whole-request error, a per-event error or a warning ("missing_field",
 * "unpriced_model", "invalid_json"). Code decides with these enum values and never compares
 * their names; the names exist only to be shown.
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
    CLX_EEXPECT = -14,   /* an HTTP Expect the server does not meet (417 / INVALID_ARGUMENT) */
    CLX_ETIMEDOUT = -15, /* a call or stream ran past its time limit (408 / DEADLINE_EXCEEDED) */
    CLX_ERR_MIN_ = -16
} clx_err_t;

/* Human-readable message for err ("unknown error" for codes outside the table). Static. */
const char *clx_strerror(int err);
/* Stable snake_case name for err, e.g. "unauthenticated"; callers see it as an error code. Static. */
const char *clx_err_name(int err);
/* HTTP status a REST answer uses for err (200 for CLX_OK). */
int clx_err_http_status(int err);
/* gRPC status code (grpc_status_code numbering) for err (0 for CLX_OK). */
int clx_err_grpc_status(int err);

typedef enum clx_code {
    CLX_CODE_NONE = 0, /* no finer code: the clx_err_t's own name stands */
    /* per-event errors (EventError.code); the strict-mode slug codes double as warnings */
    CLX_CODE_MISSING_FIELD,
    CLX_CODE_INVALID_TYPE,
    CLX_CODE_INVALID_VALUE,
    CLX_CODE_TOO_LONG,
    CLX_CODE_UNKNOWN_PROJECT,
    CLX_CODE_UNKNOWN_ENVIRONMENT,
    CLX_CODE_ENVIRONMENT_NOT_ALLOWED,
    CLX_CODE_TOO_MANY_EVENTS,
    /* warnings (Warning.code) */
    CLX_CODE_UNPRICED_MODEL,
    CLX_CODE_NO_ATTRIBUTION,
    CLX_CODE_UNKNOWN_FIELD,
    CLX_CODE_REQUEST_ID_CONFLICT,
    /* whole-request errors (error.code) */
    CLX_CODE_INVALID_JSON,
    CLX_CODE_INVALID_BODY,
    CLX_CODE_EMPTY_BATCH,
    CLX_CODE_CATALOG_INVALID,
    CLX_CODE_BACKUP_NOT_CONFIGURED, /* with CLX_EEXIST: 409, the server's configuration conflicts */
    CLX_CODE_INVALID_REQUEST,       /* not valid HTTP (framing, headers) */
    /* whole-request errors of the OTLP door (an export body it cannot read) */
    CLX_CODE_INVALID_PROTOBUF,     /* not a valid protobuf message of the expected type */
    CLX_CODE_INVALID_GZIP,         /* Content-Encoding: gzip, but not (whole) gzip */
    CLX_CODE_UNSUPPORTED_ENCODING, /* a Content-Encoding other than gzip / identity (415) */
    CLX_CODE_TOO_MANY_SPANS,       /* more spans in one export than the door takes (413) */
    CLX_CODE_TOO_MANY_MESSAGES,    /* more decoded messages (attributes, values...) than allowed (413) */
    CLX_CODE_TOO_DEEP,             /* messages nested deeper than allowed (400) */
    /* issue 10 (appended: the values of the codes above stay as they were) */
    CLX_CODE_TIMESTAMP_OUT_OF_RANGE, /* per-event error: the timestamp is outside the workspace's window */
    CLX_CODE_TIER_UNPRICED,          /* warning: the service tier has no price for the model, priced standard */
    /* corrections (issue 11) */
    CLX_CODE_REQUEST_ID_VOIDED, /* warning: a re-ingest of a voided event's requestId (skipped) */
    CLX_CODE_EVENT_VOIDED,      /* an amend of a voided event (409) */
    CLX_CODE_VERSION_CONFLICT,  /* an amend raced another correction of the event (409, send it again) */
    CLX_CODE_COUNT_
} clx_code_t;

/* The name callers see for code, e.g. "missing_field"; "" for CLX_CODE_NONE or out of range. Static. */
const char *clx_code_name(clx_code_t code);

#endif
