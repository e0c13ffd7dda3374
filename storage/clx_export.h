/*
 * clx_export.h — the events family read as a log (the outbox of exporters): committed events
 * in global sequence order after a cursor, and the durable cursors of the log's readers.
 *
 * Every inserted event gets the next number of ONE global sequence from the single writer,
 * and a write group (events, dedup records, the "seq" metadata) commits atomically. So
 * "every event with seq <= N" is a well-defined, gapless prefix of the history, and a reader
 * that remembers N durably can resume exactly where it stopped.
 *
 * Layout today: an event key is workspace '\0' seq (8 bytes big-endian), so a workspace's
 * events are in seq order but the family as a whole is not: reading after N is a merge over
 * the workspaces (one seek per workspace, then one seek per run of consecutive seqs of one
 * workspace). Storage v2 keys events by seq alone; then clx_events_read_after becomes one
 * seek and a forward scan, and its callers do not change.
 */
#ifndef CLX_EXPORT_H
#define CLX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "clx_store.h"

/* One committed event as the log hands it out. Pointers are valid only during the callback. */
typedef struct clx_logged_event {
    uint64_t seq;
    const char *workspace; /* NUL-terminated */
    const void *value;     /* the StoredEvent record */
    size_t vlen;
} clx_logged_event_t;

/* Called once per event, in ascending seq. Non-zero stops the read and is returned by it. */
typedef int (*clx_event_log_fn)(void *arg, const clx_logged_event_t *ev);

/*
 * Calls fn for the committed events with after_seq < seq <= up_to_seq, in ascending seq
 * order, at most max of them, all read from ONE consistent snapshot of the store (a write
 * group is seen whole or not at all). When last_seq is not NULL, *last_seq receives the
 * highest seq in that snapshot (0 when there are no events): the lag is *last_seq minus the
 * reader's cursor, exactly, because the sequence has no gaps.
 * Returns CLX_OK; fn's non-zero return; CLX_EIO on a storage error; CLX_ECORRUPT when a key
 * in the events family is not an event key (logged). Safe from any thread.
 */
int clx_events_read_after(clx_store_t *s, uint64_t after_seq, uint64_t up_to_seq, size_t max, clx_event_log_fn fn,
                          void *arg, uint64_t *last_seq);

/*
 * A reader's durable position in the log. done: every event with seq <= done reached the
 * destination and was confirmed. pending (> done, or 0): a batch (done, pending] may have
 * been sent without a confirmation; after a restart the reader sends exactly that batch
 * again, so a destination that de-duplicates identical batches sees the same bytes.
 */
typedef struct clx_export_cursor {
    uint64_t done;
    uint64_t pending;
} clx_export_cursor_t;

/* Longest reader name (the metadata key is "export/<name>"). */
#define CLX_EXPORT_NAME_MAX 400

/*
 * Reads the cursor of reader name (at most CLX_EXPORT_NAME_MAX bytes) from the store's
 * metadata: CLX_OK (an absent cursor reads as {0, 0}: nothing exported yet), CLX_EIO,
 * CLX_ECORRUPT (malformed record; logged), CLX_EINVAL (name too long).
 */
int clx_export_cursor_load(clx_store_t *s, const char *name, clx_export_cursor_t *out);
/* Stores it with a synced write: CLX_OK, CLX_EIO, CLX_EINVAL (name too long, or pending <= done but not 0). */
int clx_export_cursor_save(clx_store_t *s, const char *name, const clx_export_cursor_t *c);

#endif
