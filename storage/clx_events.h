/*
 * clx_events.h — the events and dedup column families: the only code that knows their keys
 * and values. The writer writes them and the queries read them through these functions.
 *
 *   CLX_CF_EVENTS  key: workspace '\0' seq (8 bytes big-endian)   value: StoredEvent (protobuf)
 *   CLX_CF_DEDUP   key: workspace '\0' requestId                    value: seq (8 bytes BE)
 *                                                                          fingerprint (8 bytes BE)
 *   CLX_CF_EVTIME  key: workspace '\0' event time (8 bytes BE, Unix ms) seq (8 bytes BE)
 *                  value: none — the events in event-time order (clx_event_time_ms), written
 *                  in the same batch as the event; built once for older data folders
 *                  (clx_events_index_upgrade)
 *                                                                          [flags (1 byte)]
 *   CLX_CF_HISTORY key: workspace '\0' requestId '\0' version (4 B BE) value: StoredEvent (protobuf)
 *   CLX_CF_CORRLOG key: seq (8 B BE)            value: event seq (8 B BE) workspace
 *                  one per applied correction (void, amend, reprice), under a seq of its own from
 *                  the writer's counter, written in the correction's batch: the log's corrections
 *
 * A workspace's events sort by sequence number, i.e. in arrival order; the dedup record of
 * (workspace, requestId) names the seq of the stored event and the fingerprint of what the
 * caller sent, and is written in the same batch as the event.
 *
 * Corrections (void, amend) rewrite the event under its seq (the current version) and keep the
 * version it replaces in CLX_CF_HISTORY, in the same batch. A dedup value of a voided event has
 * a 17th byte, CLX_DEDUP_VOIDED, so a re-ingest is told without reading the event (values of
 * 16 bytes, as every one written before, have no flags).
 */
#ifndef CLX_EVENTS_H
#define CLX_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "clx_store.h"
#include "costlynx/store/v1/records.pb-c.h"

/*
 * The time an event happened, Unix ms: the caller's timestamp (event_time_ms), or, for
 * events without one (stored before it existed, or sent without it), its arrival.
 */
static inline int64_t clx_event_time_ms(const Costlynx__Store__V1__StoredEvent *rec)
{
    return rec->event_time_ms > 0 ? rec->event_time_ms : rec->received_at_ms;
}

/* ---- keys and values ------------------------------------------------------------------------ */

/* Bytes of the event key of a workspace of wslen bytes. */
#define CLX_EVENT_KEY_LEN(wslen) ((wslen) + 9)
/* Dedup value layout: seq (8 bytes BE) then fingerprint (8 bytes BE). */
#define CLX_DEDUP_VALUE_LEN 16

/* Writes the event key of (workspace, seq) into buf (CLX_EVENT_KEY_LEN(wslen) bytes); returns its length. */
size_t clx_event_key_encode(char *buf, const char *workspace, size_t wslen, uint64_t seq);
/* Same, for a NUL-terminated workspace. Cannot fail. */
size_t clx_event_key(char *buf, const char *workspace, uint64_t seq);
/* The seq of an event key of a workspace of wslen bytes: CLX_OK, or CLX_ECORRUPT when it is not one. */
int clx_event_key_decode(const char *key, size_t klen, size_t wslen, uint64_t *seq);

/* Bytes of the dedup key of (workspace, requestId). */
#define CLX_DEDUP_KEY_LEN(wslen, ridlen) ((wslen) + 1 + (ridlen))
/* Writes the dedup key into buf (CLX_DEDUP_KEY_LEN bytes); returns its length. Cannot fail. */
size_t clx_dedup_key_encode(char *buf, const char *workspace, size_t wslen, const char *request_id, size_t ridlen);

/* Writes the dedup value of (seq, fingerprint) into out. Cannot fail. */
void clx_dedup_value_encode(unsigned char out[CLX_DEDUP_VALUE_LEN], uint64_t seq, uint64_t fingerprint);
/* Reads a dedup value (16 or 17 bytes): CLX_OK, or CLX_ECORRUPT when it has another length. */
int clx_dedup_value_decode(const void *val, size_t len, uint64_t *seq, uint64_t *fingerprint);

/* Bytes of the event-time key of a workspace of wslen bytes. */
#define CLX_EVTIME_KEY_LEN(wslen) ((wslen) + 17)
/* Writes the event-time key of (workspace, time_ms (< 0 is 0), seq); returns its length. Cannot fail. */
size_t clx_evtime_key_encode(char *buf, const char *workspace, size_t wslen, int64_t time_ms, uint64_t seq);
/* Reads one: CLX_OK, or CLX_ECORRUPT when it is not an event-time key of a workspace of wslen bytes. */
int clx_evtime_key_decode(const char *key, size_t klen, size_t wslen, int64_t *time_ms, uint64_t *seq);

#define CLX_DEDUP_VOIDED 1u /* flags: the stored event is voided */
#define CLX_DEDUP_VALUE_FLAGS_LEN (CLX_DEDUP_VALUE_LEN + 1)
/* The value with a flags byte (CLX_DEDUP_VALUE_FLAGS_LEN bytes into out). Cannot fail. */
void clx_dedup_value_encode_flags(unsigned char out[CLX_DEDUP_VALUE_FLAGS_LEN], uint64_t seq, uint64_t fingerprint,
                                  unsigned flags);
/* The flags of a dedup value (0 for a 16-byte one). */
unsigned clx_dedup_value_flags(const void *val, size_t len);

/* Bytes of the history key of (workspace, requestId, version). */
#define CLX_HISTORY_KEY_LEN(wslen, ridlen) ((wslen) + 1 + (ridlen) + 1 + 4)
/* Writes the history key into buf (CLX_HISTORY_KEY_LEN bytes); returns its length. Cannot fail. */
size_t clx_history_key_encode(char *buf, const char *workspace, size_t wslen, const char *request_id, size_t ridlen,
                              uint32_t version);

/*
 * Puts the correction-log record of a correction (seq: its own, fresh from the writer's counter)
 * of the event (workspace, event_seq) into b. Cannot fail.
 */
void clx_corrlog_put(clx_batch_t *b, clx_store_t *s, uint64_t seq, const char *workspace, size_t wslen,
                     uint64_t event_seq);

/* ---- reads ---------------------------------------------------------------------------------- */

/* The stored event (workspace, seq): CLX_OK with *val (malloc'd, caller frees), CLX_ENOTFOUND, CLX_EIO. */
int clx_store_event_get(clx_store_t *s, const char *workspace, uint64_t seq, char **val, size_t *vlen);

/*
 * Looks up the stored event of (workspace, request_id): CLX_OK with *val (malloc'd
 * StoredEvent bytes, caller frees) and *seq (may be NULL); CLX_ENOTFOUND; CLX_EIO;
 * CLX_ECORRUPT when the dedup record is malformed or points at a missing event.
 */
int clx_store_find_event(clx_store_t *s, const char *workspace, const char *request_id, size_t request_id_len,
                         char **val, size_t *vlen, uint64_t *seq);

/*
 * The earlier versions of (workspace, request_id), oldest first, on a consistent snapshot: fn
 * gets each version's number and its StoredEvent bytes (valid during the call); a non-zero
 * return stops and is returned. CLX_OK (also when there are none), or CLX_EIO.
 */
typedef int (*clx_history_fn)(void *arg, uint32_t version, const void *val, size_t vlen);
int clx_store_event_history(clx_store_t *s, const char *workspace, const char *request_id, size_t request_id_len,
                            clx_history_fn fn, void *arg);

/*
 * A workspace's events, newest first, on a consistent snapshot. Position with
 * clx_event_iter_seek_before, then read while clx_event_iter_valid and step with
 * clx_event_iter_prev. Keys that are not event keys of the workspace are passed over.
 */
typedef struct clx_event_iter clx_event_iter_t;

/* Cannot fail (aborts on OOM); storage errors surface through clx_event_iter_status. */
clx_event_iter_t *clx_event_iter_create(clx_store_t *s, const char *workspace);
/* NULL is a no-op. */
void clx_event_iter_destroy(clx_event_iter_t *it);
/* Positions on the newest event with a seq below before_seq (0: the newest of all). */
void clx_event_iter_seek_before(clx_event_iter_t *it, uint64_t before_seq);
/* True while positioned on an event. */
int clx_event_iter_valid(clx_event_iter_t *it);
/* Steps to the next older event. Only while valid. */
void clx_event_iter_prev(clx_event_iter_t *it);
/* The event's seq and its StoredEvent bytes (valid until the next move). Only while valid. */
uint64_t clx_event_iter_seq(clx_event_iter_t *it);
const char *clx_event_iter_value(clx_event_iter_t *it, size_t *vlen);
/* CLX_OK, or CLX_EIO when iteration stopped on a storage error. */
int clx_event_iter_status(clx_event_iter_t *it);

/*
 * A workspace's events by event time, newest first (ties: the later seq first), on one
 * snapshot: the listing's order. Position with clx_evtime_iter_seek_before, read while valid,
 * step with clx_evtime_iter_prev. Each position names an event (time, seq); its record is
 * clx_evtime_iter_value (a seek in the events family, whose iterator is made right after the
 * index's, so it holds every event the index names).
 */
typedef struct clx_evtime_iter clx_evtime_iter_t;
/* Cannot fail (aborts on OOM); storage errors surface through clx_evtime_iter_status. */
clx_evtime_iter_t *clx_evtime_iter_create(clx_store_t *s, const char *workspace);
/* NULL is a no-op. */
void clx_evtime_iter_destroy(clx_evtime_iter_t *it);
/* Positions on the newest event before (time_ms, seq) in (time, seq) order. */
void clx_evtime_iter_seek_before(clx_evtime_iter_t *it, int64_t time_ms, uint64_t seq);
int clx_evtime_iter_valid(clx_evtime_iter_t *it);
void clx_evtime_iter_prev(clx_evtime_iter_t *it);
int64_t clx_evtime_iter_time(clx_evtime_iter_t *it);
uint64_t clx_evtime_iter_seq(clx_evtime_iter_t *it);
/*
 * The current event's StoredEvent bytes, valid until the next move: CLX_OK, CLX_ENOTFOUND
 * (an index entry without its event: corrupt, logged), or CLX_EIO.
 */
int clx_evtime_iter_value(clx_evtime_iter_t *it, const char **val, size_t *vlen);
/* CLX_OK, or CLX_EIO when iteration stopped on a storage error. */
int clx_evtime_iter_status(clx_evtime_iter_t *it);

/*
 * Builds the event-time index of the events stored before it existed, once: when the
 * metadata marker CLX_EVTIME_MARKER is absent, reads every event (in batches of unsynced
 * puts; entries are idempotent) and writes the marker last, synced — a crash meanwhile
 * leaves no marker and the next open builds it again. Call at open, before the writer
 * starts. *indexed (may be NULL) receives the number of events indexed (0 when the marker
 * was there). CLX_OK, CLX_EIO, CLX_ENOSPC, or CLX_ECORRUPT for an unreadable event.
 */
#define CLX_EVTIME_MARKER "evtime.v1"
int clx_events_index_upgrade(clx_store_t *s, uint64_t *indexed);

/* ---- the log: every workspace's events and corrections in global seq order ------------------ */

/*
 * Every inserted event has the next number of one global sequence, and so has every applied
 * correction (void, amend, reprice: its record in CLX_CF_CORRLOG); a write group commits
 * atomically. So "the entries after N" — events and corrections, merged by seq — is well defined
 * and gapless: the outbox of exporters. An exporter sends an event's current version at the
 * event's seq and again at each of its corrections' seqs: the last one it sends is the newest.
 * With today's keys (workspace '\0' seq) the events family is in seq order per workspace only,
 * so reading after N is a merge over the workspaces (one seek per workspace, then one per run
 * of consecutive seqs of one workspace) and the correction log. Storage v2 keys events by seq
 * alone: this becomes one seek and a forward scan, and its callers do not change.
 * Corrections applied before the correction log existed have no record (no seq of their own).
 */

/* One log entry as the log hands it out. Pointers are valid only during the callback. */
typedef struct clx_logged_event {
    uint64_t seq;          /* the entry's: the event's own, or the correction's */
    uint64_t event_seq;    /* the event's own seq (== seq for an event; < seq for a correction) */
    const char *workspace; /* NUL-terminated */
    const void *value;     /* the event's StoredEvent record: its current version */
    size_t vlen;
} clx_logged_event_t;

/* Called once per entry, in ascending seq. Non-zero stops the read and is returned by it. */
typedef int (*clx_event_log_fn)(void *arg, const clx_logged_event_t *ev);

/*
 * Calls fn for the log entries with after_seq < seq <= up_to_seq, in ascending seq order, at
 * most max of them, all read from ONE consistent snapshot of the store (a write group is seen
 * whole or not at all). When last_seq is not NULL, *last_seq receives the highest seq in that
 * snapshot (0 when there are none): the lag is *last_seq minus the reader's cursor, exactly,
 * because the sequence has no gaps.
 * Returns CLX_OK; fn's non-zero return; CLX_EIO on a storage error; CLX_ECORRUPT when a key
 * in the events family is not an event key, or a correction record is malformed or names a
 * missing event (logged). Safe from any thread.
 */
int clx_events_read_after(clx_store_t *s, uint64_t after_seq, uint64_t up_to_seq, size_t max, clx_event_log_fn fn,
                          void *arg, uint64_t *last_seq);

#endif
