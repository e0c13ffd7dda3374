/*
 * rest_json.c — JSON writer, and a yajl event-driven reader that turns an ingest body
 * straight into UsageEvents: no DOM, numbers kept as text so money stays exact.
 */
#define _GNU_SOURCE /* memmem */
#include "rest_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_text.h"
#include "clx_utf8.h"

/* ==== writer ================================================================================ */

void clx_jw_init(clx_jw_t *w, clx_arena_t *arena, size_t initial)
{
    w->arena = arena;
    w->cap = initial < 64 ? 64 : initial;
    w->buf = clx_arena_alloc(arena, w->cap);
    w->len = 0;
    w->need_comma = 0;
}

static void reserve(clx_jw_t *w, size_t more)
{
    if (w->len + more <= w->cap)
        return;
    size_t cap = w->cap * 2;
    while (cap < w->len + more)
        cap *= 2;
    char *fresh = clx_arena_alloc(w->arena, cap);
    memcpy(fresh, w->buf, w->len);
    w->buf = fresh;
    w->cap = cap;
}

void clx_jw_raw(clx_jw_t *w, const char *s, size_t len)
{
    reserve(w, len);
    memcpy(w->buf + w->len, s, len);
    w->len += len;
}

static void put_char(clx_jw_t *w, char c)
{
    reserve(w, 1);
    w->buf[w->len++] = c;
}

/*
 * Writes s as a JSON string. Callers' text is echoed in messages, sometimes cut short or not
 * UTF-8 at all: every byte that does not start a well-formed sequence becomes U+FFFD, so
 * the answer is always valid JSON.
 */
static void put_escaped(clx_jw_t *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    reserve(w, len + 2);
    put_char(w, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            clx_jw_raw(w, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            clx_jw_raw(w, esc, 6);
            i++;
        } else if (c < 0x80) {
            put_char(w, (char)c);
            i++;
        } else {
            size_t n = clx_utf8_seq(u + i, len - i);
            if (n == 0) {
                clx_jw_raw(w, "\\ufffd", 6);
                i++;
            } else {
                clx_jw_raw(w, s + i, n);
                i += n;
            }
        }
    }
    put_char(w, '"');
}

void clx_jw_key(clx_jw_t *w, const char *key)
{
    if (w->need_comma)
        put_char(w, ',');
    if (key != NULL) {
        put_escaped(w, key, strlen(key));
        put_char(w, ':');
    }
    w->need_comma = 1;
}

void clx_jw_obj_begin(clx_jw_t *w)
{
    put_char(w, '{');
    w->need_comma = 0;
}

void clx_jw_obj_open(clx_jw_t *w, const char *key)
{
    clx_jw_key(w, key);
    clx_jw_obj_begin(w);
}

void clx_jw_obj_end(clx_jw_t *w)
{
    put_char(w, '}');
    w->need_comma = 1;
}

void clx_jw_arr_begin(clx_jw_t *w, const char *key)
{
    clx_jw_key(w, key);
    put_char(w, '[');
    w->need_comma = 0;
}

void clx_jw_arr_end(clx_jw_t *w)
{
    put_char(w, ']');
    w->need_comma = 1;
}

void clx_jw_strn(clx_jw_t *w, const char *key, const char *val, size_t len)
{
    clx_jw_key(w, key);
    put_escaped(w, val, len);
}

void clx_jw_str(clx_jw_t *w, const char *key, const char *val)
{
    clx_jw_strn(w, key, val != NULL ? val : "", val != NULL ? strlen(val) : 0);
}

void clx_jw_int(clx_jw_t *w, const char *key, int64_t val)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)val);
    clx_jw_key(w, key);
    clx_jw_raw(w, num, (size_t)n);
}

void clx_jw_bool(clx_jw_t *w, const char *key, int val)
{
    clx_jw_key(w, key);
    clx_jw_raw(w, val ? "true" : "false", val ? 4 : 5);
}

void clx_jw_price(clx_jw_t *w, const char *key, int64_t pico_per_token)
{
    char buf[32];
    if (pico_per_token < 0) {
        clx_jw_null(w, key);
        return;
    }
    clx_money_format_per_mtok(pico_per_token, buf);
    clx_jw_str(w, key, buf);
}

void clx_jw_null(clx_jw_t *w, const char *key)
{
    clx_jw_key(w, key);
    clx_jw_raw(w, "null", 4);
}

/* ==== ingest reader ========================================================================= */

enum field_kind { F_STRING, F_TOKENS, F_COST_USD, F_COST_NANOS, F_BOOL, F_TIMESTAMP, F_TAGS };

struct field_def {
    const char *json;  /* lowerCamel (what callers write) */
    const char *proto; /* original proto name, also accepted as proto3 JSON parsers do */
    enum field_kind kind;
    size_t offset;
};

#define EV(m) offsetof(Costlynx__V1__UsageEvent, m)

static const struct field_def fields[] = {
    {"provider", "provider", F_STRING, EV(provider)},
    {"model", "model", F_STRING, EV(model)},
    {"inputTokens", "input_tokens", F_TOKENS, EV(input_tokens)},
    {"outputTokens", "output_tokens", F_TOKENS, EV(output_tokens)},
    {"cachedTokens", "cached_tokens", F_TOKENS, EV(cached_tokens)},
    {"cacheWriteTokens", "cache_write_tokens", F_TOKENS, EV(cache_write_tokens)},
    {"requestId", "request_id", F_STRING, EV(request_id)},
    {"project", "project", F_STRING, EV(project)},
    {"environment", "environment", F_STRING, EV(environment)},
    {"feature", "feature", F_STRING, EV(feature)},
    {"estimatedCostUsd", "estimated_cost_usd", F_COST_USD, 0},
    {"estimatedCostNanos", "estimated_cost_nanos", F_COST_NANOS, 0},
    {"batch", "batch", F_BOOL, EV(batch)},
    /* issue 10 */
    {"timestamp", "timestamp", F_TIMESTAMP, 0},
    {"userId", "user_id", F_STRING, EV(user_id)},
    {"tags", "tags", F_TAGS, 0},
    {"reasoningTokens", "reasoning_tokens", F_TOKENS, EV(reasoning_tokens)},
    {"cacheWrite1hTokens", "cache_write_1h_tokens", F_TOKENS, EV(cache_write_1h_tokens)},
    {"audioInputTokens", "audio_input_tokens", F_TOKENS, EV(audio_input_tokens)},
    {"audioOutputTokens", "audio_output_tokens", F_TOKENS, EV(audio_output_tokens)},
    {"serviceTier", "service_tier", F_STRING, EV(service_tier)},
    {"webSearchCalls", "web_search_calls", F_TOKENS, EV(web_search_calls)},
    {"cachedAudioTokens", "cached_audio_tokens", F_TOKENS, EV(cached_audio_tokens)},
};
_Static_assert(sizeof(fields) / sizeof(fields[0]) <= 32, "seen_fields is a 32-bit mask");
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

enum where {
    AT_START,  /* before the top-level value */
    AT_TOP,    /* inside the top-level object */
    AT_EVENTS, /* inside the events array */
    AT_EVENT,  /* inside an event object (top-level or in the array) */
    AT_TAGS,   /* inside an event's "tags" object */
    AT_DONE,
};

struct reader {
    yajl_handle h;
    const char *body; /* the raw text, for what yajl's decoded strings hide (escapes) */
    size_t body_len;
    int has_u_escape; /* the body holds a \u escape somewhere: strings need the raw check */
    clx_arena_t *arena;
    clx_ingest_body_t *out;
    enum where where;
    int in_batch_event;      /* the current event is an element of events[] */
    int top_has_fields;      /* the top-level object carried event fields */
    int seen_events_key;
    int expect_events_array; /* the next value is the "events" value */
    const struct field_def *field; /* field of the next value; NULL = unknown */
    const char *unknown_key;
    size_t skip;             /* > 0: inside a value being skipped, its nesting depth */
    Costlynx__V1__UsageEvent *ev;
    unsigned seen_fields; /* bit i: fields[i] already given in the current event */
    /* the current event's tags: at most CLX_MAX_TAGS + 1 kept (one more says "too many"),
     * all counted; the key of the next value */
    size_t ntags_seen;
    const char *tag_key;
    size_t tag_key_len;
    int tags_bad; /* a note was already made for this tags object */
    size_t index;
    size_t cap_notes;
    int overflow;
#define TOP_UNKNOWN_MAX 16
    const char *top_unknown[TOP_UNKNOWN_MAX];
    size_t ntop_unknown;
};

static int envelope(struct reader *r, const char *field, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int envelope(struct reader *r, const char *field, clx_code_t code, const char *fmt, ...)
{
    va_list ap;
    r->out->field = field;
    r->out->code_id = code;
    r->out->code = clx_code_name(code);
    va_start(ap, fmt);
    vsnprintf(r->out->message, sizeof(r->out->message), fmt, ap);
    va_end(ap);
    return 0; /* cancels the parse */
}

/* The body is not the object the guide describes. */
static int not_an_object(struct reader *r)
{
    return envelope(r, NULL, CLX_CODE_INVALID_BODY,
                    "the body must be a JSON object: one event, or {\"events\":[...]} with 1 to %d events",
                    CLX_MAX_BATCH);
}

static void note(struct reader *r, int is_error, const char *field, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void note(struct reader *r, int is_error, const char *field, clx_code_t code, const char *fmt, ...)
{
    clx_ingest_body_t *o = r->out;
    if (o->nnotes == r->cap_notes) {
        size_t cap = r->cap_notes ? r->cap_notes * 2 : 8;
        clx_decode_note_t *fresh = clx_arena_alloc(r->arena, cap * sizeof(*fresh));
        if (o->nnotes)
            memcpy(fresh, o->notes, o->nnotes * sizeof(*fresh));
        o->notes = fresh;
        r->cap_notes = cap;
    }
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clx_decode_note_t *n = &o->notes[o->nnotes++];
    n->index = r->index;
    n->is_error = is_error;
    n->field = field;
    n->code_id = code;
    n->code = clx_code_name(code);
    n->message = clx_arena_strndup(r->arena, msg, strlen(msg));
}

static Costlynx__V1__UsageEvent *new_event(struct reader *r)
{
    Costlynx__V1__UsageEvent *ev = clx_arena_alloc(r->arena, sizeof(*ev));
    costlynx__v1__usage_event__init(ev);
    return ev;
}

/* A value arrived for an event field (or the field is unknown, or the value is the wrong type). */
static const char *type_name(enum field_kind k)
{
    switch (k) {
    case F_STRING:
        return "a string";
    case F_TOKENS:
        return "a whole number";
    case F_BOOL:
        return "true or false";
    case F_TIMESTAMP:
        return "an RFC 3339 time string";
    case F_TAGS:
        return "an object of strings";
    default:
        return "a number";
    }
}

static void wrong_type(struct reader *r, const char *got)
{
    note(r, 1, r->field->json, CLX_CODE_INVALID_TYPE, "%s must be %s, got %s", r->field->json,
         type_name(r->field->kind), got);
}

/* The length of the prefix of s[0..len) made only of bytes in set. */
static size_t strspn_n(const char *s, size_t len, const char *set)
{
    size_t i = 0;
    while (i < len && s[i] != '\0' && strchr(set, s[i]) != NULL)
        i++;
    return i;
}

/* Parses optionally negative decimal integer text: 0 ok, -1 bad syntax, -2 outside int64. */
static int parse_int(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    int neg = 0;
    size_t i = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *out = neg ? -v : v;
    return 0;
}

/*
 * Stores an integer field. Only what a UsageEvent cannot hold is refused here; ranges (no
 * negatives, at most CLX_MAX_TOKENS tokens) are the pipeline's, so both doors word them alike.
 */
static void set_integer(struct reader *r, const char *s, size_t len, int64_t *dst)
{
    int64_t v;
    int rc = parse_int(s, len, &v);
    if (rc == 0 && v == 0 && s[0] == '-')
        note(r, 1, r->field->json, CLX_CODE_INVALID_VALUE, "%s must not be negative, got '-0'", r->field->json);
    else if (rc == -1)
        note(r, 1, r->field->json, CLX_CODE_INVALID_VALUE, "%s must be a whole number, got '%.*s'", r->field->json,
             (int)(len > 40 ? 40 : len), s);
    else if (rc == -2)
        note(r, 1, r->field->json, CLX_CODE_INVALID_VALUE, "%s is out of range, got '%.*s'", r->field->json,
             (int)(len > 40 ? 40 : len), s);
    else
        *dst = v;
}

static void set_tokens(struct reader *r, const char *s, size_t len)
{
    set_integer(r, s, len, (int64_t *)((char *)r->ev + r->field->offset));
}

static void set_cost(struct reader *r, const char *s, size_t len)
{
    if (r->field->kind == F_COST_USD) {
        int64_t nanos;
        if (clx_money_parse_usd(s, len, &nanos) != CLX_OK || nanos > CLX_MAX_COST_NANOS) {
            note(r, 1, r->field->json, CLX_CODE_INVALID_VALUE,
                 "%s must be from 0 to %lld US dollars (the per-event limit), got '%.*s'", r->field->json,
                 (long long)CLX_MAX_COST_USD, (int)(len > 40 ? 40 : len), s);
            return;
        }
        /* the exact decimal goes in the exact oneof arm; the double arm is for gRPC callers */
        r->ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
        r->ev->estimated_cost_nanos = nanos;
        return;
    }
    size_t before = r->out->nnotes;
    int64_t v = 0;
    set_integer(r, s, len, &v);
    if (r->out->nnotes == before) {
        r->ev->estimated_cost_case = COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST_ESTIMATED_COST_NANOS;
        r->ev->estimated_cost_nanos = v;
    }
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * Parses an RFC 3339 date-time as proto3 JSON writes a Timestamp: "YYYY-MM-DDTHH:MM:SS",
 * optionally "." and 1 to 9 fraction digits, then "Z" or "+HH:MM" / "-HH:MM" ("T" and "Z"
 * also lower case, as RFC 3339 allows). Years 0001-9999, real calendar days, no leap second
 * (proto3's Timestamp has none). 0 with *sec / *nanos (UTC), or -1.
 */
int clx_rest_parse_rfc3339(const char *s, size_t len, int64_t *sec, int32_t *nanos)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, se, frac = 0;
    if (len < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    size_t i = 19;
    if (i < len && s[i] == '.') {
        size_t n = 0;
        i++;
        while (i + n < len && s[i + n] >= '0' && s[i + n] <= '9')
            n++;
        if (n < 1 || n > 9 || digits(s + i, n, &frac))
            return -1;
        for (size_t k = n; k < 9; k++)
            frac *= 10;
        i += n;
    }
    int64_t offset = 0;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        offset = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    } else {
        return -1;
    }
    *sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    *nanos = (int32_t)frac;
    return 0;
}

static void set_timestamp(struct reader *r, const char *s, size_t len)
{
    int64_t sec;
    int32_t nanos;
    if (clx_rest_parse_rfc3339(s, len, &sec, &nanos) != 0) {
        note(r, 1, "timestamp", CLX_CODE_INVALID_VALUE,
             "timestamp must be an RFC 3339 time such as \"2026-11-30T14:03:07.120Z\" (Z or an offset "
             "like +01:00, up to 9 fraction digits), got '%.*s'",
             (int)(len > 40 ? 40 : len), s);
        return;
    }
    Google__Protobuf__Timestamp *ts = clx_arena_alloc(r->arena, sizeof(*ts));
    google__protobuf__timestamp__init(ts);
    ts->seconds = sec;
    ts->nanos = nanos;
    r->ev->timestamp = ts;
}

/* A problem with the current tags object: the first one is noted, the rest are the same event's. */
static void tags_problem(struct reader *r, clx_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void tags_problem(struct reader *r, clx_code_t code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    if (r->tags_bad)
        return;
    r->tags_bad = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    note(r, 1, "tags", code, "%s", msg);
}

static int raw_string(const struct reader *r, const char **raw, size_t *len);
static unsigned lone_surrogate(const char *raw, size_t len);

/* One tag's string value (the key is r->tag_key): kept while the event holds few enough. */
static void add_tag(struct reader *r, const char *s, size_t len)
{
    Costlynx__V1__UsageEvent *ev = r->ev;
    const char *raw;
    size_t rawlen;
    r->ntags_seen++;
    if (ev->n_tags > CLX_MAX_TAGS || r->tags_bad)
        return; /* the count is reported when the object ends */
    if (memchr(s, '\0', len) != NULL || memchr(r->tag_key, '\0', r->tag_key_len) != NULL) {
        tags_problem(r, CLX_CODE_INVALID_VALUE, "tags must not contain NUL characters");
        return;
    }
    if (r->has_u_escape && raw_string(r, &raw, &rawlen) == 0 && lone_surrogate(raw, rawlen) != 0) {
        tags_problem(r, CLX_CODE_INVALID_VALUE,
                     "tags: the value of '%.*s' must be UTF-8 text: it holds half of a surrogate pair",
                     (int)(r->tag_key_len > 64 ? 64 : r->tag_key_len), r->tag_key);
        return;
    }
    if (ev->n_tags == 0)
        ev->tags = clx_arena_alloc(r->arena, (CLX_MAX_TAGS + 1) * sizeof(*ev->tags));
    Costlynx__V1__UsageEvent__TagsEntry *e = clx_arena_alloc(r->arena, sizeof(*e));
    costlynx__v1__usage_event__tags_entry__init(e);
    e->key = clx_arena_strndup(r->arena, r->tag_key, r->tag_key_len);
    e->value = clx_arena_strndup(r->arena, s, len);
    ev->tags[ev->n_tags++] = e;
}

/* Starting a value inside an event: returns 1 when the value is handled by the caller. */
static int event_value_begin(struct reader *r)
{
    if (r->field == NULL && r->unknown_key != NULL) {
        note(r, 0, r->unknown_key, CLX_CODE_UNKNOWN_FIELD, "unknown field '%s' was ignored", r->unknown_key);
        r->unknown_key = NULL;
    }
    return r->field != NULL;
}

/*
 * Claims the next slot of events[] for an element that is not an event object: it is
 * reported by index (invalid_type) and counts towards the batch limit like any element.
 * 0 (cancels the parse) past the limit.
 */
static int non_object_element(struct reader *r, const char *what)
{
    if (r->index >= CLX_MAX_BATCH) {
        r->overflow = 1;
        return envelope(r, "events", CLX_CODE_TOO_MANY_EVENTS, "a batch holds at most %d events", CLX_MAX_BATCH);
    }
    r->ev = new_event(r);
    r->out->events[r->index] = r->ev;
    if (what != NULL)
        note(r, 1, "events", CLX_CODE_INVALID_TYPE, "events[%zu] must be an event object, got %s", r->index, what);
    else
        note(r, 1, "events", CLX_CODE_INVALID_TYPE, "events[%zu] must be an event object", r->index);
    r->out->nevents = ++r->index;
    return 1;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = clx_hex_value(s[i]);
        if (d < 0)
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

/*
 * The first lone surrogate escape in the raw text of a JSON string (between its quotes),
 * or 0. yajl decodes "\ud800" to '?' and "\ud800\u0041" to an unrelated character, so a
 * surrogate escape not followed by its other half would store text other than what was
 * sent; a lone low half becomes bytes that are not UTF-8. Both are refused alike.
 */
static unsigned lone_surrogate(const char *raw, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (raw[i] != '\\')
            continue;
        unsigned v, w;
        if (raw[i + 1] != 'u' || i + 6 > len || hex4(raw + i + 2, &v) != 0) {
            i++; /* a one-character escape, skipped whole */
            continue;
        }
        if (v >= 0xDC00 && v <= 0xDFFF)
            return v;
        if (v >= 0xD800 && v <= 0xDBFF) {
            if (i + 12 > len || raw[i + 6] != '\\' || raw[i + 7] != 'u' || hex4(raw + i + 8, &w) != 0 || w < 0xDC00 ||
                w > 0xDFFF)
                return v;
            i += 6; /* the pair: skip its first half here, the loop's i++ and the next round the second */
        }
        i += 5;
    }
    return 0;
}

/*
 * The raw text of the string token yajl has just delivered: it ends right before
 * yajl_get_bytes_consumed() (the closing quote), and starts after the last quote before
 * it that is not escaped. Sets *raw / *len; 0, or -1 when the token cannot be found.
 */
static int raw_string(const struct reader *r, const char **raw, size_t *len)
{
    size_t end = yajl_get_bytes_consumed(r->h);
    if (end == 0 || end > r->body_len || r->body[end - 1] != '"')
        return -1;
    for (size_t i = end - 1; i-- > 0;) {
        if (r->body[i] != '"')
            continue;
        size_t bs = 0;
        while (bs < i && r->body[i - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0) {
            *raw = r->body + i + 1;
            *len = end - 1 - (i + 1);
            return 0;
        }
    }
    return -1;
}

/* Stores a string field's value, or notes why it cannot be stored as sent. */
static void set_string(struct reader *r, const char *s, size_t len)
{
    const char *raw;
    size_t rawlen;
    if (r->has_u_escape && raw_string(r, &raw, &rawlen) == 0) {
        unsigned cp = lone_surrogate(raw, rawlen);
        if (cp != 0) {
            note(r, 1, r->field->json, CLX_CODE_INVALID_VALUE,
                 "%s must be UTF-8 text: the escape \\u%04x is half of a surrogate pair, not a character",
                 r->field->json, cp);
            return;
        }
    }
    clx_problem_t p;
    if (memchr(s, '\0', len) != NULL && clx_validate_text(r->field->json, s, len, &p) != CLX_OK) {
        note(r, 1, p.field, p.code_id, "%s", p.message);
        return;
    }
    *(char **)((char *)r->ev + r->field->offset) = clx_arena_strndup(r->arena, s, len);
}

static int scalar(struct reader *r, const char *what, const char *s, size_t len, int is_string, int is_number);

static int cb_null(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip)
        return 1;
    switch (r->where) {
    case AT_EVENT:
        event_value_begin(r); /* null = absent */
        r->field = NULL;
        return 1;
    case AT_TAGS:
        return scalar(r, "null", "null", 4, 0, 0);
    case AT_TOP:
        if (r->expect_events_array)
            return envelope(r, "events", CLX_CODE_INVALID_BODY, "events must be an array of event objects");
        return 1;
    case AT_EVENTS:
        return non_object_element(r, NULL);
    default:
        return not_an_object(r);
    }
}

static int scalar(struct reader *r, const char *what, const char *s, size_t len, int is_string, int is_number)
{
    if (r->skip)
        return 1;
    switch (r->where) {
    case AT_EVENT:
        if (!event_value_begin(r))
            return 1;
        if (r->field->kind == F_BOOL || r->field->kind == F_TAGS) {
            wrong_type(r, what);
        } else if (r->field->kind == F_TIMESTAMP) {
            if (!is_string)
                wrong_type(r, what);
            else
                set_timestamp(r, s, len);
        } else if (r->field->kind == F_STRING) {
            if (!is_string)
                wrong_type(r, what);
            else
                set_string(r, s, len);
        } else if (is_number || (is_string && len > 0)) {
            if (r->field->kind == F_TOKENS)
                set_tokens(r, s, len);
            else
                set_cost(r, s, len);
        } else {
            wrong_type(r, what);
        }
        r->field = NULL;
        return 1;
    case AT_TAGS:
        if (is_string)
            add_tag(r, s, len);
        else
            tags_problem(r, CLX_CODE_INVALID_TYPE, "tags values must be strings: '%.*s' is %s",
                         (int)(r->tag_key_len > 64 ? 64 : r->tag_key_len), r->tag_key, what);
        return 1;
    case AT_TOP:
        if (r->expect_events_array)
            return envelope(r, "events", CLX_CODE_INVALID_BODY, "events must be an array of event objects");
        return 1;
    case AT_EVENTS:
        return non_object_element(r, what);
    default:
        return not_an_object(r);
    }
}

static int cb_boolean(void *ctx, int b)
{
    struct reader *r = ctx;
    if (!r->skip && r->where == AT_EVENT && r->field != NULL && r->field->kind == F_BOOL) {
        *(protobuf_c_boolean *)((char *)r->ev + r->field->offset) = b != 0;
        r->field = NULL;
        return 1;
    }
    return scalar(ctx, "a boolean", b ? "true" : "false", b ? 4 : 5, 0, 0);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    return scalar(ctx, "a number", s, len, 0, 1);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return scalar(ctx, "a string", (const char *)s, len, 1, 0);
}

static int begin_event(struct reader *r)
{
    if (r->index >= CLX_MAX_BATCH) {
        r->overflow = 1;
        return envelope(r, "events", CLX_CODE_TOO_MANY_EVENTS, "a batch holds at most %d events", CLX_MAX_BATCH);
    }
    r->ev = new_event(r);
    r->out->events[r->index] = r->ev;
    r->out->nevents = r->index + 1;
    r->seen_fields = 0;
    r->where = AT_EVENT;
    r->field = NULL;
    r->unknown_key = NULL;
    return 1;
}

static int cb_start_map(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip) {
        r->skip++;
        return 1;
    }
    switch (r->where) {
    case AT_START:
        r->where = AT_TOP;
        return 1;
    case AT_TOP:
        if (r->expect_events_array)
            return envelope(r, "events", CLX_CODE_INVALID_BODY, "events must be an array of event objects");
        r->skip = 1; /* an unknown top-level member's object */
        return 1;
    case AT_EVENTS:
        r->in_batch_event = 1;
        return begin_event(r);
    case AT_EVENT:
        if (event_value_begin(r)) {
            if (r->field->kind == F_TAGS) {
                r->where = AT_TAGS;
                r->ntags_seen = 0;
                r->tags_bad = 0;
                r->tag_key = NULL;
                r->tag_key_len = 0;
                return 1;
            }
            wrong_type(r, "an object");
            r->field = NULL;
        }
        r->skip = 1;
        return 1;
    case AT_TAGS:
        tags_problem(r, CLX_CODE_INVALID_TYPE, "tags values must be strings: '%.*s' is an object",
                     (int)(r->tag_key_len > 64 ? 64 : r->tag_key_len), r->tag_key);
        r->skip = 1;
        return 1;
    default:
        return 0;
    }
}

static int is_field(const char *k, size_t len)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if ((strlen(fields[i].json) == len && memcmp(fields[i].json, k, len) == 0) ||
            (strlen(fields[i].proto) == len && memcmp(fields[i].proto, k, len) == 0))
            return 1;
    return 0;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct reader *r = ctx;
    if (r->skip)
        return 1;
    const char *k = (const char *)key;
    if (r->where == AT_TAGS) {
        r->tag_key = clx_arena_strndup(r->arena, k, len);
        r->tag_key_len = len;
        return 1;
    }
    if (r->where == AT_EVENT && !r->in_batch_event && len == 6 && memcmp(k, "events", 6) == 0)
        return envelope(r, "events", CLX_CODE_INVALID_BODY,
                        "the body mixes a batch (\"events\") with event fields: send one event, or "
                        "{\"events\":[...]}");
    if (r->where == AT_TOP && len == 6 && memcmp(k, "events", 6) == 0) {
        if (r->seen_events_key)
            return envelope(r, "events", CLX_CODE_INVALID_BODY, "events appears twice");
        r->seen_events_key = 1;
        r->expect_events_array = 1;
        return 1;
    }
    if (r->where == AT_TOP && !is_field(k, len)) {
        /* an unknown top-level member: ignored (its value is skipped at AT_TOP); reported
         * at the end when the body turns out to be a single event */
        if (r->ntop_unknown < TOP_UNKNOWN_MAX)
            r->top_unknown[r->ntop_unknown++] = clx_arena_strndup(r->arena, k, len > 64 ? 64 : len);
        return 1;
    }
    if (r->where == AT_TOP) {
        /* the top-level object is itself the event */
        if (!r->top_has_fields) {
            r->top_has_fields = 1;
            r->index = 0;
            r->ev = new_event(r);
            r->out->events[0] = r->ev;
            r->out->nevents = 1;
            r->seen_fields = 0;
        }
        r->where = AT_EVENT;
    }
    r->field = NULL;
    r->unknown_key = NULL;
    for (size_t i = 0; i < NFIELDS; i++) {
        if ((strlen(fields[i].json) == len && memcmp(fields[i].json, k, len) == 0) ||
            (strlen(fields[i].proto) == len && memcmp(fields[i].proto, k, len) == 0)) {
            r->field = &fields[i];
            if (r->seen_fields & (1u << i)) {
                /* parsers disagree on which of two values counts (a proxy may read the first,
                 * we would keep the last): the event is refused rather than guessed */
                note(r, 1, fields[i].json, CLX_CODE_INVALID_VALUE, "%s appears more than once in the event",
                     fields[i].json);
                r->field = NULL;
                r->unknown_key = NULL;
            }
            r->seen_fields |= 1u << i;
            return 1;
        }
    }
    r->unknown_key = clx_arena_strndup(r->arena, k, len > 64 ? 64 : len);
    return 1;
}

static int cb_end_map(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip) {
        r->skip--;
        if (r->skip == 0 && r->where == AT_EVENT)
            r->field = NULL;
        return 1;
    }
    switch (r->where) {
    case AT_TAGS:
        if (r->ntags_seen > CLX_MAX_TAGS)
            tags_problem(r, CLX_CODE_INVALID_VALUE, "tags has %zu entries; an event carries at most %d", r->ntags_seen,
                         CLX_MAX_TAGS);
        r->where = AT_EVENT;
        r->field = NULL;
        return 1;
    case AT_EVENT:
        if (r->in_batch_event) {
            r->in_batch_event = 0;
            r->index++;
            r->where = AT_EVENTS;
            return 1;
        }
        r->where = AT_DONE; /* a single event's closing brace ends the body */
        return 1;
    case AT_TOP:
        r->where = AT_DONE;
        return 1;
    default:
        return 0;
    }
}

static int cb_start_array(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip) {
        r->skip++;
        return 1;
    }
    switch (r->where) {
    case AT_TOP:
        if (r->expect_events_array) {
            r->expect_events_array = 0;
            r->where = AT_EVENTS;
            r->index = 0;
            return 1;
        }
        r->skip = 1;
        return 1;
    case AT_EVENT:
        if (event_value_begin(r)) {
            wrong_type(r, "an array");
            r->field = NULL;
        }
        r->skip = 1;
        return 1;
    case AT_TAGS:
        tags_problem(r, CLX_CODE_INVALID_TYPE, "tags values must be strings: '%.*s' is an array",
                     (int)(r->tag_key_len > 64 ? 64 : r->tag_key_len), r->tag_key);
        r->skip = 1;
        return 1;
    case AT_EVENTS:
        r->skip = 1;
        return non_object_element(r, "an array");
    default:
        return not_an_object(r);
    }
}

static int cb_end_array(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip) {
        r->skip--;
        if (r->skip == 0 && r->where == AT_EVENT)
            r->field = NULL;
        return 1;
    }
    if (r->where == AT_EVENTS) {
        r->where = AT_TOP;
        return 1;
    }
    return 0;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/*
 * The top-level object switches between AT_TOP and AT_EVENT as keys arrive, so a single
 * event's members after "events" would look like a second event: handled by marking
 * top_has_fields and refusing the mix at the end.
 */
int clx_rest_decode_ingest(const char *body, size_t len, clx_arena_t *arena, clx_ingest_body_t *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r = {.arena = arena, .out = out, .where = AT_START, .body = body, .body_len = len};
    if (strspn_n(body, len, " \t\r\n") == len) {
        envelope(&r, NULL, CLX_CODE_INVALID_JSON, "the body is empty");
        return CLX_EINVAL;
    }
    r.has_u_escape = memmem(body, len, "\\u", 2) != NULL;
    yajl_handle h = yajl_alloc(&callbacks, NULL, &r);
    r.h = h;
    /* UTF-8 is checked per field by the pipeline, so one bad string rejects one event,
     * not the whole batch */
    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    int rc = CLX_OK;
    if (st == yajl_status_client_canceled) {
        rc = CLX_EINVAL; /* out->code etc. set by envelope() */
        if (out->code == NULL)
            not_an_object(&r);
    } else if (st != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
        size_t at = yajl_get_bytes_consumed(h), n = strlen((const char *)msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--; /* yajl ends its message with a newline */
        envelope(&r, NULL, CLX_CODE_INVALID_JSON, "the body is not valid JSON: %.*s (near byte %zu)", (int)n,
                 (const char *)msg, at);
        yajl_free_error(h, msg);
        rc = CLX_EINVAL;
    } else if (r.where == AT_START) {
        envelope(&r, NULL, CLX_CODE_INVALID_JSON, "the body is empty");
        rc = CLX_EINVAL;
    } else if (r.seen_events_key && r.top_has_fields) {
        envelope(&r, "events", CLX_CODE_INVALID_BODY,
                 "the body mixes a batch (\"events\") with event fields: send one event, or {\"events\":[...]}");
        rc = CLX_EINVAL;
    } else if (r.seen_events_key) {
        out->batch = 1;
        if (out->nevents == 0) {
            envelope(&r, "events", CLX_CODE_EMPTY_BATCH, "events must hold 1 to %d events; it is empty", CLX_MAX_BATCH);
            rc = CLX_EINVAL;
        }
    } else if (!r.top_has_fields) {
        envelope(&r, NULL, CLX_CODE_INVALID_BODY,
                 "the body has no event fields: send one event, or {\"events\":[...]}");
        rc = CLX_EINVAL;
    } else {
        r.index = 0;
        for (size_t i = 0; i < r.ntop_unknown; i++)
            note(&r, 0, r.top_unknown[i], CLX_CODE_UNKNOWN_FIELD, "unknown field '%s' was ignored", r.top_unknown[i]);
    }
    yajl_free(h);
    return rc;
}

/* ==== text check of a settings body ============================================================ */

struct text_check {
    yajl_handle h;
    const char *body;
    size_t body_len;
    int has_u_escape;
    int depth;
    char member[65]; /* the top-level member being read */
    char seen[32][65]; /* top-level members so far: a second one is refused */
    size_t nseen;
    clx_problem_t *problem;
};

static int tc_depth_in(void *ctx)
{
    ((struct text_check *)ctx)->depth++;
    return 1;
}

static int tc_depth_out(void *ctx)
{
    ((struct text_check *)ctx)->depth--;
    return 1;
}

static int tc_key(void *ctx, const unsigned char *key, size_t len)
{
    struct text_check *t = ctx;
    if (t->depth == 1) {
        size_t n = len < sizeof(t->member) - 1 ? len : sizeof(t->member) - 1;
        memcpy(t->member, key, n);
        t->member[n] = '\0';
        for (size_t i = 0; i < t->nseen; i++) {
            if (strcmp(t->seen[i], t->member) == 0) {
                clx_problem_set(t->problem, t->member, CLX_CODE_INVALID_VALUE, "%s appears more than once in the body",
                                t->member);
                return 0;
            }
        }
        if (t->nseen < sizeof(t->seen) / sizeof(t->seen[0]))
            memcpy(t->seen[t->nseen++], t->member, n + 1);
    }
    return 1;
}

static int tc_string(void *ctx, const unsigned char *s, size_t len)
{
    struct text_check *t = ctx;
    const char *field = t->depth >= 1 && t->member[0] != '\0' ? t->member : "body";
    const char *raw;
    size_t rawlen;
    /* the same reader state layout as the ingest reader's raw_string() needs */
    struct reader r = {.h = t->h, .body = t->body, .body_len = t->body_len};
    if (t->has_u_escape && raw_string(&r, &raw, &rawlen) == 0) {
        unsigned cp = lone_surrogate(raw, rawlen);
        if (cp != 0) {
            clx_problem_set(t->problem, field, CLX_CODE_INVALID_VALUE,
                            "%s must be UTF-8 text: the escape \\u%04x is half of a surrogate pair, not a character",
                            field, cp);
            return 0;
        }
    }
    if (clx_validate_text(field, (const char *)s, len, t->problem) != CLX_OK)
        return 0;
    return 1;
}

int clx_rest_json_check_text(const char *body, size_t len, clx_problem_t *problem, char *field_buf, size_t field_cap)
{
    static const yajl_callbacks cbs = {
        .yajl_string = tc_string,
        .yajl_start_map = tc_depth_in,
        .yajl_map_key = tc_key,
        .yajl_end_map = tc_depth_out,
        .yajl_start_array = tc_depth_in,
        .yajl_end_array = tc_depth_out,
    };
    struct text_check t = {.body = body, .body_len = len, .problem = problem};
    problem->field = NULL;
    t.has_u_escape = memmem(body, len, "\\u", 2) != NULL;
    t.h = yajl_alloc(&cbs, NULL, &t);
    yajl_config(t.h, yajl_dont_validate_strings, 1); /* bad bytes are the text rule's to name */
    yajl_status st = yajl_parse(t.h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(t.h);
    yajl_free(t.h);
    if (st != yajl_status_client_canceled || problem->field == NULL)
        return CLX_OK; /* clean text (or not JSON at all: the caller's parser says so) */
    snprintf(field_buf, field_cap, "%s", problem->field);
    problem->field = field_buf;
    return CLX_EINVAL;
}
