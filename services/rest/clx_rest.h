/*
 * clx_rest.h — the JSON REST door: an h2o server (HTTP/1.1 and cleartext HTTP/2) with one
 * event loop per thread, serving ingestion, the settings API, read-back and health.
 */
#ifndef CLX_REST_H
#define CLX_REST_H

#include <stddef.h>
#include <stdint.h>

#include "clx_door.h"
#include "clx_ingest.h"

/* The services the REST door calls, declared only (their headers are included where used). */
typedef struct clx_settings clx_settings_t;
typedef struct clx_query clx_query_t;
typedef struct clx_maintenance clx_maintenance_t;
typedef struct clx_otlp_door clx_otlp_door_t;
typedef struct clx_govern clx_govern_t;

typedef struct clx_rest_config {
    const char *addr;       /* "host:port"; port 0 picks a free one */
    size_t threads;         /* event loops, all accepting from one listening socket */
    size_t max_body;        /* ingest body limit in bytes (413 above); also an import's line limit */
    size_t import_max_body; /* POST /api/v1/usage/import: one request's body as sent (413 above) */
    clx_pipeline_t *pipeline;
    clx_settings_t *settings;
    clx_query_t *query;
    clx_maintenance_t *maintenance; /* disk state and backups */
    /* appends more Prometheus text to GET /metrics at buf + *len (e.g. the exporter's); NULL: none */
    void (*metrics_extra)(void *arg, char *buf, size_t cap, size_t *len);
    void *metrics_arg;
    clx_otlp_door_t *otlp; /* POST /v1/traces (its body limit: clx_otlp_door_max_body) */
    clx_govern_t *govern;  /* budgets, alerts (issue 12); NULL: those routes answer without state */
} clx_rest_config_t;

/*
 * Binds the listener (so a bad address fails before anything starts) and starts the loop
 * threads: *out is the started door (clx_door.h). Quiescing closes the listener and answers
 * 503 to new requests on open connections while the ingest requests in flight are answered;
 * stopping waits for those (and, past the deadline, for a running backup: a checkpoint cannot
 * be cut short), then stops the loops. CLX_OK; CLX_EINVAL for an unparsable
 * address; CLX_EIO when binding fails (*errmsg, malloc'd, says why).
 */
int clx_rest_start(const clx_rest_config_t *cfg, clx_door_t *out, char **errmsg);

#endif
