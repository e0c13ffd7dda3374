/*
 * ingest.c — costlynx.v1.UsageIngestion on the gRPC door: Ingest (one IngestBatch) and
 * IngestStream (many, one summary). Decoding, the stream's limits and status codes here;
 * everything else is the door API (clx_ingest.h).
 */
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "clx_ingest.h"
#include "clx_log.h"
#include "clx_utf8.h"
#include "grpc_internal.h"

#define STREAM_NOTES_MAX 1000 /* errors / warnings kept in a stream's summary (counts stay exact) */
/*
 * A stream ended early carries its summary so far in this trailer (a packed IngestResponse).
 * Clients refuse trailers past about 8 KiB, so the counts are always whole and the error and
 * warning lists are cut to fit SUMMARY_TRAILER_MAX bytes (base64 on the wire: a third more).
 */
#define SUMMARY_TRAILER "costlynx-summary-bin"
#define SUMMARY_TRAILER_MAX 4096

/*
 * Packs an answer. Every string in it that echoes caller text (request_id, messages quoting
 * a model or an id) is made valid UTF-8 first (bad bytes become U+FFFD): a proto3 client
 * refuses a whole message holding one invalid string, and would never learn that its other
 * events were stored.
 */
static grpc_byte_buffer *pack_response(Costlynx__V1__IngestResponse *r, clx_arena_t *arena)
{
    for (size_t i = 0; i < r->n_errors; i++) {
        Costlynx__V1__EventError *e = r->errors[i];
        e->request_id = (char *)clx_utf8_sanitize(arena, e->request_id);
        e->field = (char *)clx_utf8_sanitize(arena, e->field);
        e->message = (char *)clx_utf8_sanitize(arena, e->message);
    }
    for (size_t i = 0; i < r->n_warnings; i++) {
        Costlynx__V1__Warning *w = r->warnings[i];
        w->request_id = (char *)clx_utf8_sanitize(arena, w->request_id);
        w->message = (char *)clx_utf8_sanitize(arena, w->message);
    }
    size_t len = costlynx__v1__ingest_response__get_packed_size(r);
    uint8_t *buf = clx_arena_alloc(arena, len ? len : 1);
    costlynx__v1__ingest_response__pack(r, buf);
    return clx_grpc_buffer(buf, len);
}

/* ---- strings as sent: what protobuf-c's C strings cannot show ------------------------------ */

/*
 * protobuf-c hands string fields over as C strings, so "a\0x" and "a\0y" would both arrive
 * as "a" — two ids colliding as one. The wire bytes of every UsageEvent string field are
 * therefore checked here, with their true length, by the shared text rule; an event with a
 * NUL in one is refused by the door (the same answer REST gives), never cut.
 */
struct wire_field {
    uint32_t number;
    const char *json; /* proto3 JSON name, as errors name fields */
};

static const struct wire_field wire_strings[] = {
    {6, "requestId"},   {1, "provider"}, {2, "model"},   {7, "project"},
    {8, "environment"}, {9, "feature"},  {15, "userId"}, {21, "serviceTier"},
};
#define TAGS_FIELD 16 /* map<string,string> tags: entries of key = 1, value = 2 */
#define NWIRE (sizeof(wire_strings) / sizeof(wire_strings[0]))

/* Reads a varint at *p (< end): 0, or -1 when malformed. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0)
            return 0;
    }
    return -1;
}

/* Skips a field's value of wire type wt: 0, or -1 when it cannot be skipped. */
static int skip_value(const uint8_t **p, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0:
        return varint(p, end, &v);
    case 1:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 0;
    case 2:
        if (varint(p, end, &v) != 0 || v > (uint64_t)(end - *p))
            return -1;
        *p += v;
        return 0;
    case 5:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 0;
    default:
        return -1;
    }
}

/*
 * One encoded tags entry: -1 with *problem (field "tags") when its key or value holds a NUL
 * (protobuf-c's C string would cut it: two different tags stored as one), else 0.
 */
static int scan_tag(const uint8_t *p, const uint8_t *end, clx_problem_t *problem)
{
    while (p < end) {
        uint64_t tag, n;
        if (varint(&p, end, &tag) != 0)
            return 0;
        if ((tag & 7) != 2) {
            if (skip_value(&p, end, (unsigned)(tag & 7)) != 0)
                return 0;
            continue;
        }
        if (varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
            return 0;
        if (((tag >> 3) == 1 || (tag >> 3) == 2) && memchr(p, '\0', (size_t)n) != NULL) {
            clx_problem_set(problem, "tags", CLX_CODE_INVALID_VALUE, "tags must not contain NUL characters");
            return -1;
        }
        p += n;
    }
    return 0;
}

/*
 * The refusal for one encoded UsageEvent: problem->field set when one of its string fields
 * (the last occurrence of each, as protobuf keeps) holds a NUL. The message was already
 * decoded by protobuf-c, so malformed bytes here only end the scan.
 */
static void scan_event(const uint8_t *p, const uint8_t *end, clx_problem_t *problem)
{
    const uint8_t *val[NWIRE] = {0};
    size_t len[NWIRE] = {0};
    problem->field = NULL;
    while (p < end) {
        uint64_t tag;
        if (varint(&p, end, &tag) != 0)
            return;
        unsigned wt = (unsigned)(tag & 7);
        size_t k = NWIRE;
        if (wt == 2)
            for (k = 0; k < NWIRE && wire_strings[k].number != (tag >> 3); k++)
                ;
        if (wt == 2 && (tag >> 3) == TAGS_FIELD) {
            uint64_t n;
            if (varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
                return;
            if (scan_tag(p, p + n, problem) != 0)
                return;
            p += n;
        } else if (k < NWIRE) {
            uint64_t n;
            if (varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
                return;
            val[k] = p;
            len[k] = (size_t)n;
            p += n;
        } else if (skip_value(&p, end, wt) != 0) {
            return;
        }
    }
    for (size_t k = 0; k < NWIRE; k++)
        if (val[k] != NULL && memchr(val[k], '\0', len[k]) != NULL &&
            clx_validate_text(wire_strings[k].json, (const char *)val[k], len[k], problem) != CLX_OK)
            return;
}

/*
 * Refuses every event of the encoded IngestBatch data[0..len) (n events, in order) whose
 * strings cannot be stored as sent. A refused requestId is not echoed (its C string would
 * be a different id).
 */
void clx_grpc_refuse_cut_strings(clx_ingest_t *ing, Costlynx__V1__IngestBatch *b, const uint8_t *data, size_t len)
{
    const uint8_t *p = data, *end = data + len;
    size_t index = 0;
    while (p < end && index < b->n_events) {
        uint64_t tag;
        if (varint(&p, end, &tag) != 0)
            return;
        if (tag != ((1u << 3) | 2)) { /* not an events entry */
            if (skip_value(&p, end, (unsigned)(tag & 7)) != 0)
                return;
            continue;
        }
        uint64_t n;
        if (varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
            return;
        clx_problem_t problem;
        scan_event(p, p + n, &problem);
        if (problem.field != NULL) {
            if (strcmp(problem.field, "requestId") == 0)
                b->events[index]->request_id = (char *)"";
            clx_ingest_reject(ing, index, problem.field, problem.code_id, "%s", problem.message);
        }
        p += n;
        index++;
    }
}

/* Opens the call's session from x-api-key; on failure answers UNAUTHENTICATED and returns 0. */
static int authenticate(clx_grpc_call_t *c)
{
    const grpc_slice *key = clx_grpc_metadata(&c->md, "x-api-key");
    if (key == NULL || GRPC_SLICE_LENGTH(*key) == 0) {
        clx_grpc_fail(c, CLX_EUNAUTH, "the x-api-key metadata entry is missing");
        return 0;
    }
    if (clx_ingest_authenticate(c->server->cfg.pipeline, (const char *)GRPC_SLICE_START_PTR(*key),
                                GRPC_SLICE_LENGTH(*key), c->arena, &c->session) != CLX_OK) {
        clx_grpc_fail(c, CLX_EUNAUTH, "unknown or revoked ingestion key");
        return 0;
    }
    return 1;
}

/*
 * Decodes one IngestBatch from the received payload into arena (its bytes stay there, in
 * c->wire, for clx_grpc_refuse_cut_strings). NULL after answering INVALID_ARGUMENT (undecodable, or
 * the wrong number of events for unary Ingest).
 */
static void stream_end(clx_grpc_call_t *c, int err, const char *why);

static Costlynx__V1__IngestBatch *decode(clx_grpc_call_t *c, clx_arena_t *arena, int check_count)
{
    char msg[200];
    /* the port takes larger messages for OTLP exports (server.c): this method's limit is checked here */
    size_t limit = c->server->cfg.max_message ? c->server->cfg.max_message : CLX_GRPC_MAX_MESSAGE;
    size_t wire = c->payload != NULL ? grpc_byte_buffer_length(c->payload) : 0;
    if (wire > limit) {
        if (check_count) {
            snprintf(msg, sizeof(msg),
                     "the message has %zu bytes, more than the %zu allowed (--grpc-max-message-bytes)", wire, limit);
            clx_grpc_fail(c, CLX_ETOOBIG, msg);
        } else {
            snprintf(msg, sizeof(msg), "message %u has %zu bytes, more than the %zu allowed (--grpc-max-message-bytes)",
                     c->messages_seen + 1, wire, limit);
            stream_end(c, CLX_ETOOBIG, msg);
        }
        return NULL;
    }
    uint8_t *data;
    size_t len = clx_grpc_read_payload(c->payload, arena, &data);
    c->wire = data;
    c->wire_len = len;
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    Costlynx__V1__IngestBatch *b = costlynx__v1__ingest_batch__unpack(&alloc, len, data);
    if (b == NULL) {
        if (check_count) {
            clx_grpc_fail(c, CLX_EINVAL, "the request is not a valid costlynx.v1.IngestBatch");
        } else {
            snprintf(msg, sizeof(msg), "message %u is not a valid costlynx.v1.IngestBatch", c->messages_seen + 1);
            stream_end(c, CLX_EINVAL, msg);
        }
        return NULL;
    }
    if (check_count && (b->n_events == 0 || b->n_events > CLX_MAX_BATCH)) {
        snprintf(msg, sizeof(msg), "an IngestBatch holds 1 to %d events; this one has %zu: nothing was stored",
                 CLX_MAX_BATCH, b->n_events);
        clx_grpc_fail(c, CLX_EINVAL, msg);
        return NULL;
    }
    return b;
}

/*
 * Starts a request of b's events under the call's session (the wire check refusing what
 * protobuf-c's C strings would cut) and submits it: done() answers, now or from the writer.
 * 0 when the session's key was revoked since the call began (nothing is started).
 */
static int run(clx_grpc_call_t *c, clx_arena_t *arena, Costlynx__V1__IngestBatch *b, clx_ingest_done_fn done)
{
    if (clx_ingest_begin(c->session, arena, b->events, b->n_events, &c->ing) != CLX_OK)
        return 0;
    c->ing_events = b->n_events;
    clx_grpc_refuse_cut_strings(c->ing, b, c->wire, c->wire_len);
    if (clx_ingest_submit(c->ing, done, c))
        done(c->ing, c);
    return 1;
}

/* ---- Ingest ------------------------------------------------------------------------------- */

/* Writer thread (or this thread when the answer was ready at once): answer the call. */
static void unary_done(clx_ingest_t *ing, void *data)
{
    clx_grpc_call_t *c = data;
    int status = clx_ingest_status(ing);
    if (status != CLX_OK) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: nothing was stored by this message; retry with the same request_id",
                 clx_strerror(status));
        clx_grpc_fail(c, status, msg);
        return;
    }
    clx_grpc_finish(c, GRPC_STATUS_OK, "", pack_response(clx_ingest_response(ing), c->arena));
}

static void unary_start(clx_grpc_call_t *c)
{
    if (!authenticate(c))
        return;
    Costlynx__V1__IngestBatch *b = decode(c, c->arena, 1);
    if (b != NULL && !run(c, c->arena, b, unary_done))
        clx_grpc_fail(c, CLX_EUNAUTH, "unknown or revoked ingestion key");
}

/* ---- IngestStream --------------------------------------------------------------------------- */

/*
 * Ends a stream before the client closed it, with code and why (a sentence on what ended it);
 * the details add what the stream stored so far, and the summary trailer carries it whole.
 */
static void stream_end(clx_grpc_call_t *c, int err, const char *why)
{
    Costlynx__V1__IngestResponse r = c->summary.response;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "%s; the %u message(s) before were processed (%u events: %u inserted, %u skipped, %u rejected; "
             "the summary is in the " SUMMARY_TRAILER " trailer)",
             why, c->messages_seen, c->events_seen, r.inserted, r.skipped, r.rejected);
    size_t len;
    while ((len = costlynx__v1__ingest_response__get_packed_size(&r)) > SUMMARY_TRAILER_MAX) {
        if (r.n_errors >= r.n_warnings) /* keep the first notes: halve the longer list */
            r.n_errors /= 2;
        else
            r.n_warnings /= 2;
    }
    uint8_t *buf = clx_arena_alloc(c->arena, len ? len : 1);
    costlynx__v1__ingest_response__pack(&r, buf);
    clx_grpc_set_trailer(c, SUMMARY_TRAILER, buf, len);
    clx_grpc_fail(c, err, msg);
}

static void stream_done(clx_ingest_t *ing, void *data)
{
    clx_grpc_call_t *c = data;
    int status = clx_ingest_status(ing);
    if (status != CLX_OK) {
        char why[200];
        snprintf(why, sizeof(why), "%s: nothing of message %u was stored; retry it with the same request_ids",
                 clx_strerror(status), c->messages_seen + 1);
        stream_end(c, status, why);
        return;
    }
    clx_ingest_summary_add(&c->summary, c->arena, clx_ingest_response(ing), c->events_seen);
    c->events_seen += (uint32_t)c->ing_events;
    c->messages_seen++;
    clx_grpc_receive(c);
}

/*
 * Checks made when a stream message arrives, before anything of it is decoded or stored: the
 * key is still valid (one atomic load while no setting changed), and the stream is within its
 * limits. 1 to go on; 0 after ending the stream.
 */
/* The session's key was revoked while the stream was open: the stream ends there. */
static void revoked(clx_grpc_call_t *c)
{
    char why[200];
    snprintf(why, sizeof(why), "the ingestion key was revoked; message %u was not stored", c->messages_seen + 1);
    stream_end(c, CLX_EUNAUTH, why);
}

static int stream_admit(clx_grpc_call_t *c)
{
    const clx_grpc_config_t *cfg = &c->server->cfg;
    char why[200];
    unsigned next = c->messages_seen + 1;
    if (clx_ingest_session_check(c->session) != CLX_OK) {
        revoked(c);
        return 0;
    }
    if (cfg->stream_max_messages != 0 && c->messages_seen >= cfg->stream_max_messages) {
        snprintf(why, sizeof(why),
                 "a stream holds at most %u messages (--grpc-stream-max-messages); message %u was not stored: "
                 "send it and the rest on a new stream",
                 cfg->stream_max_messages, next);
        stream_end(c, CLX_ETOOBIG, why);
        return 0;
    }
    if (cfg->stream_max_ms != 0 && clx_mono_ns() - c->started_ns > cfg->stream_max_ms * 1000000ull) {
        snprintf(why, sizeof(why),
                 "a stream lasts at most %u ms (--grpc-stream-max-ms); message %u was not stored: "
                 "send it and the rest on a new stream",
                 cfg->stream_max_ms, next);
        stream_end(c, CLX_ETIMEDOUT, why);
        return 0;
    }
    return 1;
}

static void stream_message(clx_grpc_call_t *c)
{
    if (c->payload == NULL) { /* the client half-closed: answer the summary */
        clx_grpc_finish(c, GRPC_STATUS_OK, "", pack_response(&c->summary.response, c->arena));
        return;
    }
    if (!stream_admit(c))
        return;
    if (c->batch_arena == NULL)
        c->batch_arena = clx_arena_create(32 * 1024);
    clx_arena_reset(c->batch_arena);
    Costlynx__V1__IngestBatch *b = decode(c, c->batch_arena, 0);
    if (b == NULL)
        return;
    if (b->n_events > CLX_MAX_BATCH || b->n_events == 0) { /* each is reported, the stream goes on */
        clx_ingest_summary_reject(
            &c->summary, c->arena, b->events, b->n_events, c->events_seen, "events", CLX_CODE_TOO_MANY_EVENTS,
            "a message holds at most %d events; this one has %zu: none of them was stored", CLX_MAX_BATCH, b->n_events);
        c->events_seen += (uint32_t)b->n_events;
        c->messages_seen++;
        clx_grpc_receive(c);
        return;
    }
    if (!run(c, c->batch_arena, b, stream_done))
        revoked(c);
}

/* Time from since to now on the monotonic clock; 0 when since is later (never wraps). */
static uint64_t elapsed_ns(uint64_t now, uint64_t since)
{
    return now > since ? now - since : 0;
}

void clx_grpc_ingest_expire(clx_grpc_queue_t *q, uint64_t now_ns)
{
    const clx_grpc_config_t *cfg = &q->server->cfg;
    for (clx_grpc_call_t *c = q->streams, *next; c != NULL; c = next) {
        next = c->stream_next;
        char why[200] = "";
        pthread_mutex_lock(&c->mu);
        if (c->state == S_RECEIVING) { /* only a stream waiting for its next message */
            /* now_ns was read before this loop: a busy stream may have re-armed its receive
             * (on the writer thread) since, so "since" can be later than "now" */
            if (cfg->stream_idle_ms != 0 && elapsed_ns(now_ns, c->waiting_since_ns) > cfg->stream_idle_ms * 1000000ull)
                snprintf(why, sizeof(why), "no message for %u ms (--grpc-stream-idle-ms): the stream was ended",
                         cfg->stream_idle_ms);
            else if (cfg->stream_max_ms != 0 && elapsed_ns(now_ns, c->started_ns) > cfg->stream_max_ms * 1000000ull)
                snprintf(why, sizeof(why), "a stream lasts at most %u ms (--grpc-stream-max-ms): it was ended",
                         cfg->stream_max_ms);
            if (why[0] != '\0')
                c->state = S_WORKING; /* claimed: its pending receive completes into S_FINISHING */
        }
        pthread_mutex_unlock(&c->mu);
        if (why[0] != '\0')
            stream_end(c, CLX_ETIMEDOUT, why);
    }
}

/* ---- dispatch ----------------------------------------------------------------------------- */

void clx_grpc_ingest_start(clx_grpc_call_t *c)
{
    if (c->method == M_INGEST) {
        unary_start(c);
        return;
    }
    if (!authenticate(c))
        return;
    clx_ingest_summary_init(&c->summary, STREAM_NOTES_MAX);
    c->started_ns = clx_mono_ns();
    clx_grpc_stream_add(c);
    clx_grpc_receive(c);
}

void clx_grpc_ingest_event(clx_grpc_call_t *c, int ok)
{
    if (c->state != S_WORKING)
        return;
    if (!ok) { /* the call was cancelled or broke: nothing to answer */
        clx_grpc_end_cancelled(c);
        return;
    }
    stream_message(c);
}

/* ---- shared with correct.c ------------------------------------------------------------------ */

int clx_grpc_authenticate(clx_grpc_call_t *c)
{
    return authenticate(c);
}

int clx_grpc_wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    return varint(p, end, v);
}

int clx_grpc_wire_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
    return skip_value(p, end, wt);
}

void clx_grpc_scan_event(const uint8_t *p, const uint8_t *end, clx_problem_t *problem)
{
    scan_event(p, end, problem);
}
