/*
 * clx_export.h — the durable cursors of the event log's readers (exporters). The log itself
 * — committed events in global seq order after N — is clx_events_read_after (clx_events.h).
 *
 * Every inserted event gets the next number of ONE global sequence from the single writer,
 * and a write group (events, dedup records, the "seq" metadata) commits atomically. So
 * "every event with seq <= N" is a well-defined, gapless prefix of the history, and a reader
 * that remembers N durably can resume exactly where it stopped.
 */
#ifndef CLX_EXPORT_H
#define CLX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "clx_events.h" /* the log: clx_events_read_after */
#include "clx_store.h"

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
