/*
 * clx_writer.h — the group-commit writer: the one thread that makes events durable.
 *
 * Doors hand a clx_write_req (a request's events, already validated, attributed and
 * priced) to clx_writer_submit and return to their loops. The writer thread takes
 * everything queued since its last write, decides dedup for every item (one MultiGet on
 * CF_DEDUP plus a set of ids seen earlier in the same group), puts each new event, its
 * dedup record, its event-time index entry and its rollups into ONE WriteBatch, writes it
 * with sync=true, and only then calls every request's done callback. A lone request is
 * written at once; under load the group grows by itself, so one fsync covers many requests.
 * The events' dims deltas are held in memory and flushed every few seconds instead
 * (clx_dims_acc_t in clx_dims.h: a crash loses none of them).
 *
 * Dedup is per (workspace, requestId): the dedup key. A repeat is "skipped"; if its
 * fingerprint differs from the stored one it is "conflict" (still skipped, not stored).
 */
#ifndef CLX_WRITER_H
#define CLX_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "clx_events.h" /* the keys it writes; and the reads of what it wrote */
#include "clx_rollup.h" /* the rollups it merges (clx_rollup_ref_t) */
#include "clx_store.h"

typedef enum clx_write_outcome {
    CLX_WRITE_INSERTED = 1,
    CLX_WRITE_SKIPPED = 2,  /* same requestId stored before, same fingerprint */
    CLX_WRITE_CONFLICT = 3, /* same requestId stored before, different fingerprint; not stored */
    /* corrections */
    CLX_WRITE_CORRECTED = 4,      /* the void / amend was applied: a new version is stored */
    CLX_WRITE_NOT_FOUND = 5,      /* no stored event has the requestId */
    CLX_WRITE_ALREADY_VOIDED = 6, /* the event is voided: a void changes nothing, an amend is refused */
    CLX_WRITE_STALE = 7,          /* amend: the stored version is not base_version any more */
} clx_write_outcome_t;

/*
 * What an item asks the writer to do. Corrections are ordered with ingestion by the same
 * thread: a request of corrections (clx_write_req_t.corrections) is committed as a group of its
 * own, between the insert groups queued before and after it, so a void racing an ingest or an
 * amend of the same id has one outcome. A correction keeps the version it replaces in the
 * history family, rewrites the event under its seq, and moves the rollups (the old version's
 * deltas out, the new one's in) — all in one synced batch, with a correction-log record under
 * a seq of its own (the next number of the same counter as the events': clx_corrlog_put), so
 * the exporters see every new version in seq order (clx_events_read_after).
 */
typedef enum clx_write_op {
    CLX_WRITE_OP_INSERT = 0, /* store the event unless (workspace, requestId) was stored before */
    CLX_WRITE_OP_VOID,       /* mark the stored event voided (by, reason, at_ms); its deltas leave */
    CLX_WRITE_OP_AMEND,      /* replace the stored event (version base_version) by value, whose
                                version is base_version + 1, and its deltas by rollups */
} clx_write_op_t;

/* One event to store. Inputs are owned by the submitter and must stay valid until done. */
typedef struct clx_write_item {
    clx_write_op_t op;
    const char *workspace; /* NUL-terminated, no '\0' inside */
    const char *request_id;
    size_t request_id_len;
    const void *value; /* serialized StoredEvent */
    size_t value_len;
    uint64_t fingerprint;
    int64_t event_time_ms; /* its event time (clx_event_time_ms): the event-time index entry */
    /* rollups to merge in the same batch when (and only when) the event is inserted; the
     * writer adds up a group's deltas per key first, so a busy group writes few merges */
    const clx_rollup_ref_t *rollups;
    size_t nrollups;
    /* corrections: who, why, when (recorded in a void's new version), and an amend's base */
    const char *by;
    const char *reason;
    int64_t at_ms;
    uint32_t base_version;
    /* set by the writer before done() */
    clx_write_outcome_t outcome;
    uint64_t seq;     /* event sequence number (key in CF_EVENTS) when inserted; else the stored one's */
    int voided;       /* an insert skipped or in conflict: the stored event is voided */
    uint32_t version; /* a correction applied: the new version */
} clx_write_item_t;

typedef struct clx_write_req clx_write_req_t;
typedef void (*clx_write_done_cb)(clx_write_req_t *req);

struct clx_write_req {
    clx_write_item_t *items;
    size_t nitems;
    /* counters merged whatever the items' outcomes (e.g. rejections worth reporting); a
     * request may carry these and no items */
    const clx_rollup_ref_t *extra_rollups;
    size_t nextra_rollups;
    int corrections;        /* items are corrections (VOID / AMEND), committed as a group of their own */
    clx_write_done_cb done; /* called once, on the writer thread */
    void *data;             /* the submitter's */
    int status;             /* set before done(): CLX_OK, or CLX_EIO / CLX_ENOSPC (disk below its
                               reserve) / CLX_ESHUTDOWN — then nothing of the group was stored */
    clx_write_req_t *next_; /* writer's queue link */
};

typedef struct clx_writer clx_writer_t;

/*
 * Starts the writer thread over store s. max_queued_items bounds the events waiting for
 * the writer (back-pressure). Returns CLX_OK; *out is owned by the caller. CLX_EIO when the
 * stored "seq" cannot be read or the thread cannot start, CLX_ECORRUPT when "seq" is malformed.
 */
int clx_writer_create(clx_store_t *s, size_t max_queued_items, clx_writer_t **out);
/*
 * Queues req. CLX_OK: done() will be called exactly once. CLX_EBUSY: the queue is full,
 * CLX_ESHUTDOWN: the writer is stopping; in both cases done() is NOT called and nothing
 * is stored, so the caller answers "retry" (503 / UNAVAILABLE).
 */
int clx_writer_submit(clx_writer_t *w, clx_write_req_t *req);
/*
 * Stops accepting, writes everything already queued, joins the thread, frees. NULL is a no-op.
 * Never from a done() callback (it runs on the thread being joined).
 */
void clx_writer_destroy(clx_writer_t *w);

/* The store the writer writes (for reads of what it wrote, e.g. an amend's current version). */
clx_store_t *clx_writer_store(clx_writer_t *w);

/*
 * The dims sums the writer holds in memory until its next flush (clx_dims.h), for the queries
 * to add to what they read; owned by the writer, valid until clx_writer_destroy.
 */
typedef struct clx_dims_acc clx_dims_acc_t;
clx_dims_acc_t *clx_writer_dims(clx_writer_t *w);

/* Counters for /metrics and benchmarks (approximate, lock-free reads). */
typedef struct clx_writer_stats {
    uint64_t groups;   /* synced writes */
    uint64_t requests; /* requests completed */
    uint64_t items;    /* events decided */
    uint64_t inserted;
} clx_writer_stats_t;
void clx_writer_stats(clx_writer_t *w, clx_writer_stats_t *out);

/* Metadata entry holding the last sequence number taken, by an event or a correction (8 bytes BE). */
#define CLX_WRITER_META_SEQ "seq"

#endif
