/*
 * clx_outbox.h — durable alert deliveries in the store's outbox column family.
 *
 * An item is one alert for one channel: (workspace, alert id, channel id) is its identity,
 * so enqueueing the same alert for the same channel twice stores it once (CLX_EEXIST) —
 * also across restarts, which is what makes "a threshold fires once per period" hold
 * end to end when the alert id names the budget, period and threshold. Every change is
 * one synced RocksDB write: an acknowledged enqueue survives kill -9, and a delivery in
 * flight at a crash is simply still pending afterwards (at-least-once; receivers dedup on
 * the alert id).
 *
 * Keys (CLX_CF_OUTBOX):
 *   'f' workspace '\0' alert                          -> fired at (8 bytes BE ms): clx_outbox_fire
 *   'i' workspace '\0' alert '\0' channel             -> the item record (below)
 *   'd' due_ms (8 bytes BE) workspace '\0' alert '\0' channel -> "" (pending items by due time)
 * Record: version (1 byte, = 1), state (1), attempts (4 BE), created_ms, due_ms,
 * updated_ms (8 BE each), payload length (4 BE) + bytes, last error length (2 BE) + bytes.
 *
 * One consumer (the delivery thread) takes due items and marks them; producers enqueue
 * from any thread. Workspace, alert and channel ids are NUL-free strings of at most 200
 * bytes; a payload is at most 1 MiB.
 */
#ifndef CLX_OUTBOX_H
#define CLX_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "clx_store.h"

#define CLX_OUTBOX_ID_MAX 200
#define CLX_OUTBOX_PAYLOAD_MAX (1u << 20)
#define CLX_OUTBOX_ERROR_MAX 500

typedef enum clx_outbox_state {
    CLX_OUTBOX_PENDING = 0,
    CLX_OUTBOX_DELIVERED = 1,
    CLX_OUTBOX_FAILED = 2, /* given up: a permanent error, or 24 h of retries */
} clx_outbox_state_t;

/* "pending", "delivered", "failed". Static. */
const char *clx_outbox_state_name(clx_outbox_state_t s);

/* A copy of one item; free its strings with clx_outbox_item_dispose. */
typedef struct clx_outbox_item {
    char *workspace;
    char *alert_id;
    char *channel_id;
    char *payload; /* NUL-terminated for convenience; payload_len bytes */
    size_t payload_len;
    clx_outbox_state_t state;
    uint32_t attempts;
    int64_t created_ms;
    int64_t due_ms; /* next attempt (pending); when it was settled otherwise */
    int64_t updated_ms;
    char *last_error; /* "" when none */
} clx_outbox_item_t;

void clx_outbox_item_dispose(clx_outbox_item_t *it);
/* Disposes n items and frees the array. */
void clx_outbox_items_free(clx_outbox_item_t *items, size_t n);

typedef struct clx_outbox clx_outbox_t;

/* An outbox over an open store (which must outlive it). Cannot fail. */
clx_outbox_t *clx_outbox_create(clx_store_t *s);
void clx_outbox_destroy(clx_outbox_t *ob); /* NULL is a no-op */

/*
 * Stores a pending item due at due_ms, created now_ms, atomically (item and due index in
 * one synced batch). CLX_OK; CLX_EEXIST when (workspace, alert, channel) is already there
 * (whatever its state: an alert is delivered at most once per channel by enqueueing);
 * CLX_EINVAL for empty, too long or NUL-containing ids or a payload over the limit;
 * CLX_EIO when the store failed (nothing stored).
 */
int clx_outbox_enqueue(clx_outbox_t *ob, const char *workspace, const char *alert_id, const char *channel_id,
                       const void *payload, size_t payload_len, int64_t due_ms, int64_t now_ms);

/*
 * An alert that must happen once: its fired mark ('f' workspace '\0' alert -> the time) and
 * one pending item per channel (items[i], due at due_ms) in ONE synced batch, so the mark
 * never exists without its deliveries nor the reverse — even across kill -9. CLX_OK;
 * CLX_EEXIST when the alert was fired before (nothing written); CLX_EINVAL; CLX_EIO.
 * n may be 0 (no channel yet: the alert is only marked as fired).
 */
typedef struct clx_outbox_new {
    const char *channel_id;
    const void *payload;
    size_t payload_len;
    int64_t due_ms;
} clx_outbox_new_t;
int clx_outbox_fire(clx_outbox_t *ob, const char *workspace, const char *alert_id, const clx_outbox_new_t *items,
                    size_t n, int64_t now_ms);
/* CLX_OK when alert_id was fired (clx_outbox_fire), CLX_ENOTFOUND when not, CLX_EINVAL, CLX_EIO. */
int clx_outbox_fired(clx_outbox_t *ob, const char *workspace, const char *alert_id);

/*
 * Up to max pending items with due_ms <= now_ms, earliest first, as copies in *items
 * (malloc'd array; free with clx_outbox_items_free) and their count in *n.
 * CLX_OK, CLX_EIO, or CLX_ECORRUPT when an index entry points at a bad record.
 */
int clx_outbox_take_due(clx_outbox_t *ob, int64_t now_ms, size_t max, clx_outbox_item_t **items, size_t *n);
/* The earliest due_ms of a pending item into *due_ms, or INT64_MAX when none. CLX_OK / CLX_EIO. */
int clx_outbox_next_due(clx_outbox_t *ob, int64_t *due_ms);

/*
 * Settles an attempt on item it (a copy from take_due; it is updated to match what was
 * stored): delivered; retry at next_due_ms with the error; or failed for good with the
 * error. Each counts one attempt. CLX_OK, CLX_ENOTFOUND (no such item, or it is no longer
 * pending), CLX_EIO.
 */
int clx_outbox_mark_delivered(clx_outbox_t *ob, clx_outbox_item_t *it, int64_t now_ms);
int clx_outbox_mark_retry(clx_outbox_t *ob, clx_outbox_item_t *it, const char *error, int64_t next_due_ms,
                          int64_t now_ms);
int clx_outbox_mark_failed(clx_outbox_t *ob, clx_outbox_item_t *it, const char *error, int64_t now_ms);

/* One item by identity into *out (dispose it). CLX_OK, CLX_ENOTFOUND, CLX_EIO, CLX_ECORRUPT. */
int clx_outbox_get(clx_outbox_t *ob, const char *workspace, const char *alert_id, const char *channel_id,
                   clx_outbox_item_t *out);
/*
 * Calls fn for every item of workspace (ordered by alert id, then channel); the item is
 * valid during the call only. fn returning non-zero stops the walk. CLX_OK, CLX_EIO, CLX_ECORRUPT.
 */
int clx_outbox_each(clx_outbox_t *ob, const char *workspace, int (*fn)(void *ctx, const clx_outbox_item_t *it),
                    void *ctx);

/*
 * Retention: deletes the delivered and failed items last changed before before_ms, in one
 * synced batch (pending items stay whatever their age; fired marks stay, so an alert is never
 * sent twice). *removed (may be NULL) gets the count. CLX_OK, CLX_EIO, CLX_ECORRUPT.
 */
int clx_outbox_prune(clx_outbox_t *ob, int64_t before_ms, size_t *removed);

#endif
