/*
 * clx_pipeline.h — building the pipeline (for main and tests) and its catalog; doors do
 * not include this header: they talk to the pipeline through clx_ingest.h.
 *
 * The pipeline validates, attributes, prices and fingerprints every event of a request on
 * the caller's thread (CPU only, no I/O), hands the survivors to the group-commit writer,
 * and builds the IngestResponse both doors render.
 */
#ifndef CLX_PIPELINE_H
#define CLX_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "clx_error.h"
#include "clx_ingest.h"
#include "clx_pricing.h"
#include "costlynx/store/v1/records.pb-c.h"
#include "costlynx/v1/usage.pb-c.h"

/* Collaborators, declared only: the pipeline's users never need their insides. */
typedef struct clx_settings clx_settings_t;
typedef struct clx_writer clx_writer_t;

/* Where the price catalog comes from: a CSV file, or a buffer (the one built in). */
typedef struct clx_catalog_source {
    const char *path; /* when not NULL/empty */
    const char *data;
    size_t len;
} clx_catalog_source_t;

/*
 * Creates the pipeline over its collaborators (all must outlive it) and loads the catalog
 * from source. CLX_OK; otherwise the catalog's error (CLX_ENOTFOUND, CLX_EINVAL with
 * *errmsg naming the line, CLX_EIO) and *out is NULL.
 */
int clx_pipeline_create(clx_settings_t *settings, clx_writer_t *writer, const clx_catalog_source_t *source,
                        clx_pipeline_t **out, char **errmsg);
/* Frees the pipeline and every catalog it has used. NULL is a no-op. No request may be in flight. */
void clx_pipeline_destroy(clx_pipeline_t *p);
/*
 * The catalog in use. It stays valid until the pipeline is destroyed, even after a reload
 * (replaced catalogs are retired, not freed: requests may still be pricing with them).
 */
const clx_catalog_t *clx_pipeline_catalog(clx_pipeline_t *p);
/*
 * Loads the catalog source again and swaps it in atomically for new requests; stored costs
 * never change. On failure the running catalog stays and *errmsg (malloc'd) says why.
 */
int clx_pipeline_reload_catalog(clx_pipeline_t *p, char **errmsg);

/*
 * What the governance service (issue 12) hangs on the pipeline; main sets it before serving.
 * stored: on the writer thread after the group's synced write, once per inserted event (in
 * sequence order); it must be quick and never block on I/O. check_budget: answers
 * clx_ingest_check_budget on the door's thread (project / environment already defaulted).
 */
typedef struct clx_pipeline_hooks {
    void (*stored)(void *arg, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, uint64_t seq);
    void (*check_budget)(void *arg, const char *ws, const char *key_id, const clx_budget_call_t *call,
                         clx_arena_t *arena, Costlynx__V1__CheckBudgetResponse *out);
    /* writer thread, after the write: n events of a request were refused by the key's lock
     * to environment locked (the first named environment named) */
    void (*lock_refused)(void *arg, const char *ws, const char *key_id, const char *locked, const char *named,
                         size_t n);
    /* writer thread, after the write: corrections (void, amend, reprice) changed ws's events */
    void (*corrected)(void *arg, const char *ws);
    void *arg;
} clx_pipeline_hooks_t;
/* Sets the hooks (copied); before any request. */
void clx_pipeline_set_hooks(clx_pipeline_t *p, const clx_pipeline_hooks_t *hooks);

/*
 * The first stage, exposed for tests and fuzzing: required fields, lengths, UTF-8, token
 * ranges and token semantics. CLX_OK, or CLX_EINVAL with *problem filled.
 */
int clx_validate_event(const Costlynx__V1__UsageEvent *ev, clx_problem_t *problem);

/*
 * The stage's window check (after clx_validate_event, so the timestamp is in range): the
 * event's time in Unix ms into *event_ms (its timestamp to the millisecond, else now_ms), or
 * CLX_EINVAL with *problem (field timestamp, code timestamp_out_of_range, naming the window)
 * when the timestamp lies more than back_ms before or forward_ms after now_ms. Both edges are
 * accepted.
 */
int clx_validate_event_time(const Costlynx__V1__UsageEvent *ev, int64_t now_ms, int64_t back_ms, int64_t forward_ms,
                            int64_t *event_ms, clx_problem_t *problem);

#endif
