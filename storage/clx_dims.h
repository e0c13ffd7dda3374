/*
 * clx_dims.h — the dims column family, whole: usage counters per end user, per ingestion key
 * and per declared tag value, by event day, for "top N users (keys, tag values) by cost".
 * The attribution rollups (clx_rollup.h) stay as they were: a user dimension there would
 * multiply their keys by the number of users and slow every dashboard query; here each
 * kind of dimension is its own key range, read only by the group-bys that ask for it.
 *
 *   the keys     kind ('u' user, 'k' ingestion key id, 't' tag) | workspace | '\0' | space
 *                (the tag key for tags, else empty) | '\0' | level (1 byte) | bucket (4 bytes
 *                BE: the first day of the bucket, days since the Unix epoch, UTC) | flags
 *                (1 byte: EVENT_FLAG_UNPRICED or 0) | value (the user id, key id or tag
 *                value, to the end of the key). One (kind, workspace, space, level, bucket)
 *                is one contiguous range: a query seeks once per bucket;
 *   the levels   a bucket of level L spans clx_dims_span(L) days and starts on a multiple of
 *                it (1, 4 and 16 days): an event adds to one bucket per level, and a range
 *                of days is read as the fewest aligned buckets that tile it, so "the last 30
 *                days" reads about 7 buckets instead of 30 (docs/design.md, Rollups);
 *   the records  clx_rollup_t packed as the rollups family packs it (clx_rollup_pack), and
 *                merged by the same merge operator (store.c wires it for both families).
 *
 * The deltas come from clx_rollup_event_refs (the deltas of a stored event are one function,
 * storage/rollup.c), which calls clx_dims_event_refs; the queries call clx_dims_sum.
 */
#ifndef CLX_DIMS_H
#define CLX_DIMS_H

#include <stddef.h>
#include <stdint.h>

#include "clx_mem.h"
#include "clx_rollup.h"
#include "clx_store.h"
#include "costlynx/store/v1/records.pb-c.h"

#define CLX_DIM_KIND_USER 'u'
#define CLX_DIM_KIND_KEY 'k'
#define CLX_DIM_KIND_TAG 't'

#define CLX_DIMS_LEVELS 3
#define CLX_DIMS_MAX_TAGS 5 /* declared tag dimensions per workspace (Workspace.tag_dimensions) */
/* refs one event adds at most: (user, key and up to 5 declared tags) x the levels */
#define CLX_DIMS_PER_EVENT ((2 + CLX_DIMS_MAX_TAGS) * CLX_DIMS_LEVELS)

/* Days a bucket of level (0 .. CLX_DIMS_LEVELS-1) spans. */
uint32_t clx_dims_span(int level);

/* Bytes of a dims key for these parts (space: the tag key, "" for users and keys). */
size_t clx_dims_key_size(const char *ws, const char *space, const char *value);
/*
 * Writes the key of (kind, ws, space, level, first day of the bucket, flags, value) into buf
 * (clx_dims_key_size bytes); returns its length. Cannot fail.
 */
size_t clx_dims_key_encode(char *buf, char kind, const char *ws, const char *space, int level, uint32_t bucket,
                           uint8_t flags, const char *value);
/*
 * Decodes a dims key: *kind, *level, *bucket, *flags, and *value / *vlen pointing into key;
 * *space / *slen likewise. Returns 0, or -1 for a malformed key.
 */
int clx_dims_key_decode(const char *key, size_t klen, char *kind, const char **space, size_t *slen, int *level,
                        uint32_t *bucket, uint8_t *flags, const char **value, size_t *vlen);
/*
 * The buckets that tile the days [from_day, to_day): the coarsest aligned bucket that fits at
 * each step. Writes up to max (level, first day) pairs; returns how many are needed (when more
 * than max, only max were written).
 */
size_t clx_dims_tile(int64_t from_day, int64_t to_day, int *levels, uint32_t *buckets, size_t max);

/*
 * The rolled_tags bits of rec (StoredEvent.rolled_tags): bit i when tags[i]'s key is one of
 * the ndeclared keys (the workspace's tag_dimensions when the event is written). Tags past
 * the 32nd are never rolled up (at most 16 are accepted). Cannot fail.
 */
uint32_t clx_dims_rolled_tags(const Costlynx__Store__V1__StoredEvent *rec, char *const *declared, size_t ndeclared);

/*
 * The dims deltas of a stored event: its user (when it has one), its key and every tag whose
 * rolled_tags bit is set, in each level's bucket of its event day; delta is the counters
 * (already signed) and keys go into arena. Writes at most CLX_DIMS_PER_EVENT refs into refs
 * and returns how many. Cannot fail.
 */
size_t clx_dims_event_refs(clx_arena_t *arena, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, int64_t day,
                           const clx_rollup_t *delta, clx_rollup_ref_t *refs);

/* ---- the writer's sums not yet in the store ------------------------------------------------- */

/*
 * Most dims keys are distinct per event (an end user's buckets), and merging each into the
 * memtable on the writer thread cost two thirds of ingest (docs/BENCHMARKS.md). So the writer
 * adds an inserted event's dims deltas to this accumulator — a hash table of key -> sums in
 * memory, where a user's many events collapse — and flushes it as one merge per key every few
 * seconds on a thread of its own (clx_dims_acc_flush_async), with the metadata entry CLX_DIMS_META_THROUGH = the last seq
 * whose deltas are in the store, in the same batch. Nothing is lost in a crash: the events
 * are durable, and at open (clx_dims_acc_recover) the deltas of the events after "through"
 * are computed again from the stored events. Queries add the accumulator to what they read
 * from the store, under its lock, so they see every acknowledged event.
 *
 * The writer thread alone adds and hands over; the flusher writes; queries read (clx_dims_sum).
 */
typedef struct clx_dims_acc clx_dims_acc_t;
#define CLX_DIMS_META_THROUGH "dims.through"

/* Cannot fail (aborts on OOM). */
clx_dims_acc_t *clx_dims_acc_create(void);
/* NULL is a no-op. */
void clx_dims_acc_destroy(clx_dims_acc_t *a);
/* Adds the dims refs (dims != 0) among refs[0..n) to the sums. Cannot fail. */
void clx_dims_acc_add(clx_dims_acc_t *a, const clx_rollup_ref_t *const *refs, size_t n);
/* Number of distinct keys held. */
size_t clx_dims_acc_size(clx_dims_acc_t *a);
/*
 * Starts the flusher thread over s (after clx_dims_acc_recover). CLX_OK, or CLX_EIO when the
 * thread cannot start (then only clx_dims_acc_flush writes).
 */
int clx_dims_acc_start(clx_dims_acc_t *a, clx_store_t *s);
/*
 * Hands the held sums (with through, the last seq they count) to the flusher thread and goes
 * on with an empty table: the writer is not held up while they are written. Returns 1 when
 * handed over, 0 when nothing is held, no flusher runs, or a flush is still under way (then
 * the sums wait for the next call).
 */
int clx_dims_acc_flush_async(clx_dims_acc_t *a, uint64_t through);
/* Merges the flusher wrote since the last call (for the rollups upkeep). */
size_t clx_dims_acc_flushed(clx_dims_acc_t *a);
/*
 * Writes every held sum (a flush under way first) as one merge per key into the dims family,
 * with through (seq, 8 bytes BE) as CLX_DIMS_META_THROUGH, in unsynced batches through b, and
 * empties the tables — holding the query lock meanwhile, so a query sees each sum once, in
 * the store or held. For corrections and the writer's stop. *merges (may be NULL) receives the
 * merges written. CLX_OK, or CLX_ENOSPC / CLX_EIO (then the sums stay held).
 */
int clx_dims_acc_flush(clx_dims_acc_t *a, clx_store_t *s, clx_batch_t *b, uint64_t through, size_t *merges);
/*
 * At open, before the writer takes events: reads CLX_DIMS_META_THROUGH and adds the deltas of
 * every stored event after it (their current versions; voided ones add nothing) to a. A store
 * without the entry gets through = last_seq written (its events' dims, if any, were written
 * with them by an earlier version, or they predate the dims). CLX_OK, CLX_EIO, CLX_ENOSPC,
 * CLX_ECORRUPT.
 */
int clx_dims_acc_recover(clx_dims_acc_t *a, clx_store_t *s, uint64_t last_seq, uint64_t *replayed);

/* One value's sum over a range (clx_dims_sum). */
typedef struct clx_dims_row {
    const char *value; /* the user id, key id or tag value (in the caller's arena) */
    clx_rollup_t sum;
    clx_i128_t unpriced_events;
} clx_dims_row_t;

/*
 * Adds up the counters of kind (for CLX_DIM_KIND_TAG: of tag key tag_key) of workspace ws
 * over the days [from_day, to_day) per value, on the tiles clx_dims_tile gives, merging the
 * tiles' sorted key ranges (no hash table) and what acc (may be NULL) holds for them. Rows go into arena, sorted by value; a value
 * whose sums were taken back to nothing has no row; *total sums them all. CLX_OK, CLX_EIO,
 * or CLX_ECORRUPT for an unreadable record.
 */
int clx_dims_sum(clx_store_t *s, clx_dims_acc_t *acc, char kind, const char *ws, const char *tag_key, int64_t from_day,
                 int64_t to_day, clx_arena_t *arena, clx_dims_row_t **rows, size_t *nrows, clx_dims_row_t *total);

#endif
