/*
 * pipeline_internal.h — what the pipeline's files share: the request and session
 * records behind the door API, and the stages' contract. Not for doors.
 *
 * A stage looks at one event and returns a verdict; it never reports or counts anything
 * itself. The orchestrator (pipeline.c) decides what a verdict means for the request:
 * an error in the answer, a warning that holds only once the event is stored, a lock
 * refusal counted in the rollups.
 */
#ifndef CLX_PIPELINE_INTERNAL_H
#define CLX_PIPELINE_INTERNAL_H

#include "clx_pipeline.h"
#include "clx_settings.h"
#include "clx_writer.h"
#include "costlynx/store/v1/records.pb-c.h"

typedef enum clx_verdict {
    CLX_VERDICT_PASS = 0, /* the event goes on */
    CLX_VERDICT_WARN,     /* the event goes on; *why is a warning that holds only if it is stored */
    CLX_VERDICT_REJECT,   /* the event stops here; *why says why */
} clx_verdict_t;

/*
 * attribute.c: the project and environment an event is charged to (key defaults, the key's
 * environment lock, slugs of the key's workspace). Inside a settings read section.
 */
clx_verdict_t clx_attribute_event(clx_settings_t *settings, const clx_key_info_t *key,
                                  const Costlynx__V1__UsageEvent *ev, Costlynx__Store__V1__StoredEvent *rec,
                                  clx_problem_t *why);

/*
 * price.c: normalised provider and model, and the cost fields of rec (the caller's cost, else
 * the workspace's terms, else the catalog at at_ms). Names live in arena. Inside a settings
 * read section.
 */
clx_verdict_t clx_price_event(const clx_catalog_t *catalog, clx_settings_t *settings, const char *workspace,
                              clx_arena_t *arena, const Costlynx__V1__UsageEvent *ev,
                              Costlynx__Store__V1__StoredEvent *rec, int64_t at_ms, clx_problem_t *why);

/* validate.c: a tag key by the tag rule (clx_tag_key_valid), refused as invalid_value on field. */
int clx_validate_tag_key(const char *field, const char *k, size_t len, clx_problem_t *p);

/* validate.c: the event's token counts and tier as pricing reads them (batch: true is the batch tier). */
void clx_usage_of_event(const Costlynx__V1__UsageEvent *ev, clx_usage_t *u);

/*
 * pipeline.c: StoredEvent.rolled_tags for rec as workspace ws declares its tagDimensions now —
 * for every write of an event (ingestion, an amend's new version). Takes the settings' read lock.
 */
uint32_t clx_pipeline_rolled_tags(clx_pipeline_t *p, const char *ws, const Costlynx__Store__V1__StoredEvent *rec);

/* A session: the authenticated key, kept for the requests made under it. */
struct clx_ingest_session {
    clx_pipeline_t *pipeline;
    clx_key_info_t key;
    const char *secret; /* the key as sent (arena copy), to re-check it */
    size_t secret_len;
    int admin;     /* the admin token acting on key.workspace (corrections): nothing to re-check */
    int allow_old; /* the workspace's event-time window does not bound timestamps in the past */
};

enum slot_state {
    SLOT_OPEN = 0,     /* decoded, not yet through the stages (or not stored) */
    SLOT_REJECTED = 1, /* an error was reported; never written */
    SLOT_READY = 2,    /* passed every stage; handed to the writer */
};

struct clx_ingest_slot {
    enum slot_state state;
    Costlynx__Store__V1__StoredEvent rec;
};

struct clx_ingest_note; /* ingest.c */

/* One request (door API), in its arena. */
struct clx_ingest {
    clx_ingest_session_t *session;
    clx_arena_t *arena;
    Costlynx__V1__UsageEvent **events;
    size_t nevents;
    struct clx_ingest_slot *slots;
    Costlynx__V1__EventError **errors;
    size_t nerrors, cap_errors;
    struct clx_ingest_note **notes;
    size_t nnotes, cap_notes;
    const char **locks; /* environments named by events the key's lock refused */
    size_t nlocks, cap_locks;
    clx_write_req_t wreq;
    clx_write_item_t *items;
    size_t *item_slot; /* items[i] is event item_slot[i] */
    clx_ingest_done_fn done;
    void *data;
    int status;
    Costlynx__V1__IngestResponse response;
    struct clx_correction *correction; /* a void or an amend (correct.c); NULL for ingestion */
};

/* ingest.c: the record of a rejection / a stored-only warning (the stages' verdicts). */
void clx_ingest_add_error(clx_ingest_t *ing, size_t index, const clx_problem_t *why);
void clx_ingest_add_stored_warning(clx_ingest_t *ing, size_t index, const clx_problem_t *why);
/* ingest.c: an event refused by the key's environment lock, naming environment (counted per key). */
void clx_ingest_add_lock_refusal(clx_ingest_t *ing, const char *environment);
/* ingest.c: builds ing->response from the slots' outcomes, errors and notes. */
void clx_ingest_finish(clx_ingest_t *ing);

/*
 * pipeline.c: everything a request needs on the door's thread — the stages over every event
 * (accepted at now), the packed records and their rollup deltas in ing's write request.
 * Returns the number of events ready to write. Also driven alone by the gRPC fuzz harness.
 */
size_t clx_pipeline_prepare(clx_pipeline_t *p, clx_ingest_t *ing, int64_t now);
/* pipeline.c: clx_ingest_submit's work: prepare, then hand the write request to the writer. */
int clx_pipeline_run(clx_pipeline_t *p, clx_ingest_t *ing);
/*
 * pipeline.c: the stages over event i of ing alone, accepted (and priced) at now, inside one
 * catalog and settings read section. 1 when the event passed (slot i READY, rec filled).
 */
int clx_pipeline_stages_one(clx_pipeline_t *p, clx_ingest_t *ing, size_t i, int64_t now);
/* pipeline.c: the writer (corrections submit their own requests) and the settings */
clx_writer_t *clx_pipeline_writer(clx_pipeline_t *p);
/* pipeline.c: writer thread, after a correction group (void, amend, reprice) of ws was written:
 * tells the governance hook (budgets read their spend again). */
void clx_pipeline_note_corrected(clx_pipeline_t *p, const char *ws);
clx_settings_t *clx_pipeline_settings(clx_pipeline_t *p);
/* correct.c: the event as the caller sent it, from its stored version (key defaults included), in a. */
Costlynx__V1__UsageEvent *clx_correct_rebuild(clx_arena_t *a, const Costlynx__Store__V1__StoredEvent *rec);
/* correct.c: clx_ingest_submit's work for a void or an amend (same contract). */
int clx_correct_run(clx_pipeline_t *p, clx_ingest_t *ing);
/* pipeline.c: the key behind a session is still valid (one atomic load while nothing changed). */
int clx_pipeline_recheck(clx_pipeline_t *p, clx_ingest_session_t *s);
/* pipeline.c: authenticates a key for a session. */
int clx_pipeline_auth(clx_pipeline_t *p, const char *key, size_t len, clx_key_info_t *out);

#endif
