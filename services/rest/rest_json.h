/*
 * rest_json.h — JSON for the REST door: a small writer, and the streaming reader that maps
 * an ingest body onto protobuf-c UsageEvents (proto3 JSON names).
 */
#ifndef CLX_REST_JSON_H
#define CLX_REST_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "clx_error.h"
#include "clx_ingest.h"
#include "clx_mem.h"

/* ---- writer: appends to an arena-backed growable buffer --------------------------------- */
typedef struct clx_jw {
    clx_arena_t *arena;
    char *buf;
    size_t len, cap;
    int need_comma; /* inside an object/array, after a member */
} clx_jw_t;

void clx_jw_init(clx_jw_t *w, clx_arena_t *arena, size_t initial);
void clx_jw_raw(clx_jw_t *w, const char *s, size_t len);
void clx_jw_obj_begin(clx_jw_t *w);
void clx_jw_obj_end(clx_jw_t *w);
void clx_jw_arr_begin(clx_jw_t *w, const char *key);
void clx_jw_arr_end(clx_jw_t *w);
/* Starts an object member (key may be NULL inside arrays). */
void clx_jw_key(clx_jw_t *w, const char *key);
void clx_jw_str(clx_jw_t *w, const char *key, const char *val);
void clx_jw_strn(clx_jw_t *w, const char *key, const char *val, size_t len);
void clx_jw_int(clx_jw_t *w, const char *key, int64_t val);
void clx_jw_bool(clx_jw_t *w, const char *key, int val);
void clx_jw_null(clx_jw_t *w, const char *key);
/* A price in pico-dollars per token, written as US dollars per million tokens ("2.5");
 * null for a negative (absent) price. */
void clx_jw_price(clx_jw_t *w, const char *key, int64_t pico_per_token);
/* Begins an object as a member/element. */
void clx_jw_obj_open(clx_jw_t *w, const char *key);

/* ---- ingest body reader ------------------------------------------------------------------- */

/* A problem with one event found while decoding (handed to the door API). */
typedef struct clx_decode_note {
    size_t index;
    int is_error; /* 1: reject the event; 0: warning */
    const char *field;
    clx_code_t code_id;
    const char *code; /* clx_code_name(code_id), for messages and tests */
    char *message;
} clx_decode_note_t;

typedef struct clx_ingest_body {
    int batch; /* 1 for {"events":[...]} */
    Costlynx__V1__UsageEvent *events[CLX_MAX_BATCH];
    size_t nevents;
    clx_decode_note_t *notes;
    size_t nnotes;
    /* on failure of the whole body (answered 400) */
    const char *field;
    clx_code_t code_id;
    const char *code; /* clx_code_name(code_id) */
    char message[256];
} clx_ingest_body_t;

/*
 * Decodes an ingest body (len bytes, not NUL-terminated) into out, allocating in arena.
 * CLX_OK: out->events / notes are set (some events may carry error notes). CLX_EINVAL:
 * the envelope is unusable (malformed JSON, not an object, empty or over-long batch, ...)
 * and out->code / field / message say why.
 */
int clx_rest_decode_ingest(const char *body, size_t len, clx_arena_t *arena, clx_ingest_body_t *out);

/*
 * Parses an RFC 3339 date-time as proto3 JSON writes a google.protobuf.Timestamp
 * ("2026-11-30T14:03:07.120Z", "2026-11-30T15:03:07+01:00"; 1-9 fraction digits; years
 * 0001-9999; no leap second). 0 with *sec (Unix seconds, UTC) and *nanos, or -1.
 */
int clx_rest_parse_rfc3339(const char *s, size_t len, int64_t *sec, int32_t *nanos);

/*
 * Checks every string of a JSON body (a settings request) by the shared text rule
 * (clx_validate_text), and refuses lone surrogate escapes yajl would alter: CLX_OK, or
 * CLX_EINVAL with problem naming the top-level member that holds the bad string (its name
 * copied into field_buf). A body that is not JSON is CLX_OK here: its parser reports that.
 */
int clx_rest_json_check_text(const char *body, size_t len, clx_problem_t *problem, char *field_buf, size_t field_cap);

#endif
