/*
 * import.c — POST /api/v1/usage/import: a bulk NDJSON backfill (one UsageEvent per line, gzip
 * accepted) fed through the door API in requests of CLX_MAX_BATCH with a bounded number in flight.
 *
 * h2o 2.2.5 cannot stream a request body to a handler (it buffers the entity whole, up to
 * max_request_entity_size; proceed_req/write_req came in 2.3), so one request carries at most
 * --import-max-body-bytes as sent, and a larger file is sent as several requests, each naming the
 * file line its body starts at (?firstLine=N): `costlynxd ctl import` does that. Within one
 * request the server's memory stays bounded whatever the body inflates to: lines are read one at
 * a time (a gzip body is inflated through a window of one line limit plus 64 KiB), and at most
 * IMPORT_SLOTS requests of CLX_MAX_BATCH events exist at once, each in an arena reused per chunk.
 *
 * Each slot has a session of its own: a session's key re-check (clx_ingest_begin) may refresh
 * what the writer reads for that session's requests, so a slot begins its next request only once
 * its previous one was answered. Answers come back from the writer through the loop's
 * import_receiver; a queue that is full is waited out (the chunk is decoded again and resubmitted
 * after a short timer), never answered as a lost line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "clx_error.h"
#include "clx_ingest.h"
#include "rest_internal.h"

/*
 * Requests of CLX_MAX_BATCH in flight per import: 8 x 100 events lets one group commit take
 * 800 lines of an import (an fsync amortised over them) while a slot's memory (one chunk's
 * decoded events, ~100 KiB) stays small; more slots did not raise the rate on this 2-core
 * machine because the loop thread decoding the lines is the bound.
 */
#define IMPORT_SLOTS 8
#define IMPORT_MAX_ERRORS 1000 /* errors listed in the answer (the counts stay exact) */
#define IMPORT_RETRY_MS 20     /* a full writer queue: the chunk is submitted again after this */
#define GZ_SLACK (64 * 1024)   /* the inflate window beyond one line */
/* A gzip body may inflate to at most this many times the body limit (--import-max-body-bytes,
 * 512 MiB at the default 16 MiB). Memory is bounded anyway (one line at a time); this bounds the
 * CPU one request can cost: 2 MB of gzip'd newlines inflate to 2 GB and took 26 s of a core.
 * NDJSON usage events compress 10-20x, so a real body stays far below it. */
#define GZ_MAX_RATIO 32
#define SLOT_ARENA (128 * 1024)
/*
 * Imports under way at once, server-wide: each holds its body (up to --import-max-body-bytes)
 * and its slots, so this bounds what imports hold together (8 x 16 MiB by default); one more is
 * answered 503 with Retry-After, which costlynxd ctl import waits out and sends again.
 */
#define IMPORTS_AT_ONCE 8

struct import_error {
    uint64_t line;
    const char *request_id, *field, *code, *message;
};

struct slot {
    h2o_multithread_message_t msg; /* first: the queue hands back this pointer */
    struct import *imp;
    clx_ingest_session_t *session; /* this slot's own (see the top of the file) */
    clx_arena_t *arena;            /* decoded events and the request; reset per chunk */
    clx_arena_t *text;             /* a gzip body's lines, copied out of the inflate window */
    clx_ingest_t *ing;
    const char *line[CLX_MAX_BATCH]; /* the chunk's lines, kept to decode again after a full queue */
    size_t len[CLX_MAX_BATCH];
    uint64_t lineno[CLX_MAX_BATCH]; /* file line of each event */
    uint8_t too_long[CLX_MAX_BATCH];
    size_t n;
    int busy; /* submitted; the writer's answer is due */
    int held; /* built but refused by a full queue: submitted again */
};

struct import {
    clx_rest_thread_t *thread;
    h2o_req_t *req; /* NULL once the client has gone */
    struct import **backref;
    clx_arena_t *arena; /* the import's own: sessions, listed errors */
    struct slot slots[IMPORT_SLOTS];
    size_t inflight;
    int stop; /* read no more lines */
    /* the body as lines */
    const char *body;
    size_t body_len, pos;
    int gzip, z_open, z_end, discarding;
    z_stream z;
    char *gbuf;
    size_t gcap, gstart, gend, gscan;
    size_t max_line;
    uint64_t inflated, max_inflated; /* a gzip body's bytes inflated so far, and the bound */
    uint64_t next_line;              /* file line number of the next line read */
    int eof;
    /* a failure that ended the import early */
    int fail;
    clx_code_t fail_code;
    const char *fail_field;
    char fail_msg[256];
    /* the answer */
    int64_t inserted, skipped, rejected, warnings;
    uint64_t lines;
    struct import_error *errors;
    size_t nerrors;
    h2o_timeout_t timeout;
    h2o_timeout_entry_t retry;
};

static void step(struct import *imp);

/* ---- the body as lines ------------------------------------------------------------------ */

enum { LINE_EOF = 0, LINE_OK = 1, LINE_TOO_LONG = 2, LINE_FAIL = -1 };

static void fail_import(struct import *imp, int err, clx_code_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail_import(struct import *imp, int err, clx_code_t code, const char *field, const char *fmt, ...)
{
    if (imp->fail != 0)
        return; /* the first reason stands */
    imp->fail = err;
    imp->fail_code = code;
    imp->fail_field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(imp->fail_msg, sizeof(imp->fail_msg), fmt, ap);
    va_end(ap);
    imp->stop = 1;
}

/* The next line of a plain body (without its "\n" or "\r\n"). */
static int next_plain(struct import *imp, const char **line, size_t *len)
{
    if (imp->pos >= imp->body_len)
        return LINE_EOF;
    const char *start = imp->body + imp->pos;
    size_t left = imp->body_len - imp->pos;
    const char *nl = memchr(start, '\n', left);
    size_t n = nl != NULL ? (size_t)(nl - start) : left;
    imp->pos += n + (nl != NULL);
    if (n > imp->max_line)
        return LINE_TOO_LONG;
    *line = start;
    *len = n;
    return LINE_OK;
}

/*
 * The next line of a gzip body: inflated into a window of max_line + GZ_SLACK bytes, so a body
 * that inflates to any size needs no more; a line longer than max_line is skipped to its end and
 * reported. Concatenated gzip members are one stream (as gzip(1) reads them).
 */
static int next_gzip(struct import *imp, const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(imp->gbuf + imp->gscan, '\n', imp->gend - imp->gscan);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (imp->gbuf + imp->gstart));
            *line = imp->gbuf + imp->gstart;
            *len = n;
            imp->gstart = imp->gscan = (size_t)(nl - imp->gbuf) + 1;
            if (imp->discarding || n > imp->max_line) {
                imp->discarding = 0;
                return LINE_TOO_LONG;
            }
            return LINE_OK;
        }
        imp->gscan = imp->gend;
        if (imp->z_end) {
            if (imp->gstart == imp->gend && !imp->discarding)
                return LINE_EOF;
            *line = imp->gbuf + imp->gstart;
            *len = imp->gend - imp->gstart;
            int too_long = imp->discarding || *len > imp->max_line;
            imp->gstart = imp->gscan = imp->gend;
            imp->discarding = 0;
            return too_long ? LINE_TOO_LONG : LINE_OK;
        }
        if (imp->gend - imp->gstart > imp->max_line) {
            imp->discarding = 1; /* keep reading to the line's end, keeping none of it */
            imp->gstart = imp->gscan = imp->gend;
        }
        if (imp->gstart > 0) { /* slide the unread part to the front */
            memmove(imp->gbuf, imp->gbuf + imp->gstart, imp->gend - imp->gstart);
            imp->gend -= imp->gstart;
            imp->gscan -= imp->gstart;
            imp->gstart = 0;
        }
        if (imp->gend == imp->gcap) { /* only while discarding: drop what was read */
            imp->gend = imp->gscan = 0;
        }
        imp->z.next_out = (Bytef *)imp->gbuf + imp->gend;
        imp->z.avail_out = (uInt)(imp->gcap - imp->gend);
        size_t before = imp->z.avail_out;
        int zrc = inflate(&imp->z, Z_NO_FLUSH);
        imp->gend += before - imp->z.avail_out;
        imp->inflated += before - imp->z.avail_out;
        if (imp->inflated > imp->max_inflated) {
            fail_import(imp, CLX_ETOOBIG, CLX_CODE_NONE, "Content-Encoding",
                        "the gzip body inflates to more than %llu bytes (%d times the body limit) at line %llu; "
                        "the lines before it were imported: send the file in parts (costlynxd ctl import does)",
                        (unsigned long long)imp->max_inflated, GZ_MAX_RATIO, (unsigned long long)imp->next_line);
            return LINE_FAIL;
        }
        if (zrc == Z_STREAM_END) {
            if (imp->z.avail_in > 0) {
                if (inflateReset(&imp->z) != Z_OK)
                    goto corrupt;
            } else {
                imp->z_end = 1;
            }
        } else if (zrc == Z_OK || zrc == Z_BUF_ERROR) {
            if (before == imp->z.avail_out && imp->z.avail_in == 0)
                goto truncated;
        } else {
            goto corrupt;
        }
    }
truncated:
    fail_import(imp, CLX_EINVAL, CLX_CODE_INVALID_GZIP, "Content-Encoding",
                "the gzip body ends before its end (truncated) at line %llu; the lines before it were imported",
                (unsigned long long)imp->next_line);
    return LINE_FAIL;
corrupt:
    fail_import(imp, CLX_EINVAL, CLX_CODE_INVALID_GZIP, "Content-Encoding",
                "the gzip body is corrupt at line %llu; the lines before it were imported",
                (unsigned long long)imp->next_line);
    return LINE_FAIL;
}

/* Reads up to CLX_MAX_BATCH non-blank lines into slot s (its texts stay valid for the chunk). */
static void fill(struct import *imp, struct slot *s)
{
    s->n = 0;
    clx_arena_reset(s->text);
    while (s->n < CLX_MAX_BATCH && !imp->eof && !imp->stop) {
        const char *line = NULL;
        size_t len = 0;
        int rc = imp->gzip ? next_gzip(imp, &line, &len) : next_plain(imp, &line, &len);
        if (rc == LINE_EOF) {
            imp->eof = 1;
            break;
        }
        if (rc == LINE_FAIL)
            break;
        uint64_t no = imp->next_line++;
        imp->lines++;
        if (rc == LINE_OK) {
            if (len > 0 && line[len - 1] == '\r')
                len--;
            if (imp->lines == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
                line += 3; /* a UTF-8 byte order mark (Windows tools write one) starts the body */
                len -= 3;
            }
            size_t i = 0;
            while (i < len && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i == len)
                continue; /* blank lines are allowed and ignored */
            if (imp->gzip)
                line = clx_arena_strndup(s->text, line, len); /* the window moves on */
        }
        s->line[s->n] = line;
        s->len[s->n] = len;
        s->too_long[s->n] = rc == LINE_TOO_LONG;
        s->lineno[s->n] = no;
        s->n++;
    }
}

/* ---- one chunk through the door API ------------------------------------------------------ */

/* Decodes the slot's lines into events and begins its request: CLX_OK or CLX_EUNAUTH. */
static int build(struct import *imp, struct slot *s)
{
    clx_arena_reset(s->arena);
    Costlynx__V1__UsageEvent **events = clx_arena_zalloc(s->arena, s->n * sizeof(*events));
    clx_ingest_body_t *body = clx_arena_alloc(s->arena, s->n * sizeof(*body));
    for (size_t i = 0; i < s->n; i++) {
        if (s->too_long[i])
            continue;
        if (clx_rest_decode_ingest(s->line[i], s->len[i], s->arena, &body[i]) != CLX_OK)
            continue; /* rejected below with the decoder's reason */
        if (!body[i].batch && body[i].nevents == 1)
            events[i] = body[i].events[0];
    }
    int rc = clx_ingest_begin(s->session, s->arena, events, s->n, &s->ing);
    if (rc != CLX_OK)
        return rc;
    for (size_t i = 0; i < s->n; i++) {
        const clx_ingest_body_t *b = &body[i];
        if (s->too_long[i]) {
            clx_ingest_reject(s->ing, i, "", CLX_CODE_TOO_LONG, "the line is longer than the limit of %zu bytes",
                              imp->max_line);
        } else if (events[i] == NULL && b->code != NULL) {
            clx_ingest_reject(s->ing, i, b->field != NULL ? b->field : "", b->code_id, "%s", b->message);
        } else if (events[i] == NULL) {
            clx_ingest_reject(s->ing, i, "", CLX_CODE_INVALID_BODY,
                              "a line holds one event object, not {\"events\":[...]}");
        } else {
            for (size_t k = 0; k < b->nnotes; k++) {
                const clx_decode_note_t *note = &b->notes[k];
                if (note->is_error)
                    clx_ingest_reject(s->ing, i, note->field, note->code_id, "%s", note->message);
                else
                    clx_ingest_warn(s->ing, i, note->code_id, "%s", note->message);
            }
        }
    }
    return CLX_OK;
}

/* Adds a request's answer to the import's (listed errors carry file lines). */
static void account(struct import *imp, struct slot *s)
{
    const Costlynx__V1__IngestResponse *r = clx_ingest_response(s->ing);
    imp->inserted += r->inserted;
    imp->skipped += r->skipped;
    imp->rejected += r->rejected;
    imp->warnings += (int64_t)r->n_warnings;
    for (size_t i = 0; i < r->n_errors && imp->nerrors < IMPORT_MAX_ERRORS; i++) {
        const Costlynx__V1__EventError *e = r->errors[i];
        struct import_error *x = &imp->errors[imp->nerrors++];
        x->line = e->index < s->n ? s->lineno[e->index] : 0;
        x->request_id = clx_arena_strndup(imp->arena, e->request_id, strlen(e->request_id));
        x->field = clx_arena_strndup(imp->arena, e->field, strlen(e->field));
        x->code = clx_arena_strndup(imp->arena, e->code, strlen(e->code));
        x->message = clx_arena_strndup(imp->arena, e->message, strlen(e->message));
    }
}

/* Writer thread: back to the loop that owns the import. */
static void on_chunk_done(clx_ingest_t *ing, void *data)
{
    (void)ing;
    struct slot *s = data;
    h2o_multithread_send_message(&s->imp->thread->import_receiver, &s->msg);
}

/* Hands slot s's built request to the pipeline and deals with an answer that is ready at once. */
static void submit(struct import *imp, struct slot *s)
{
    s->held = 0;
    if (clx_ingest_submit(s->ing, on_chunk_done, s) == 0) {
        s->busy = 1;
        imp->inflight++;
        return;
    }
    int status = clx_ingest_status(s->ing);
    if (status == CLX_OK) {
        account(imp, s); /* nothing needed writing (every line rejected) */
        s->n = 0;
    } else if (status == CLX_EBUSY) {
        s->held = 1; /* the writer's queue is full: decoded again and resubmitted later */
    } else {
        fail_import(imp, status, CLX_CODE_NONE, NULL, "%s at line %llu: the lines before it were imported",
                    clx_strerror(status), (unsigned long long)s->lineno[0]);
        s->n = 0;
    }
}

/* ---- the answer ------------------------------------------------------------------------- */

static int by_line(const void *a, const void *b)
{
    const struct import_error *x = a, *y = b;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void respond(struct import *imp)
{
    h2o_req_t *req = imp->req;
    clx_arena_t *a = imp->arena;
    clx_jw_t w;
    clx_jw_init(&w, a, 512 + 256 * imp->nerrors);
    clx_jw_obj_begin(&w);
    clx_jw_bool(&w, "ok", imp->fail == 0);
    if (imp->fail != 0) {
        clx_jw_obj_open(&w, "error");
        clx_jw_str(&w, "code",
                   imp->fail_code != CLX_CODE_NONE ? clx_code_name(imp->fail_code) : clx_err_name(imp->fail));
        if (imp->fail_field != NULL)
            clx_jw_str(&w, "field", imp->fail_field);
        clx_jw_str(&w, "message", imp->fail_msg);
        clx_jw_obj_end(&w);
    }
    clx_jw_int(&w, "inserted", imp->inserted);
    clx_jw_int(&w, "skipped", imp->skipped);
    clx_jw_int(&w, "rejected", imp->rejected);
    clx_jw_int(&w, "lines", (int64_t)imp->lines);
    clx_jw_int(&w, "warnings", imp->warnings);
    qsort(imp->errors, imp->nerrors, sizeof(*imp->errors), by_line);
    clx_jw_arr_begin(&w, "errors");
    for (size_t i = 0; i < imp->nerrors; i++) {
        const struct import_error *e = &imp->errors[i];
        clx_jw_obj_open(&w, NULL);
        clx_jw_int(&w, "line", (int64_t)e->line);
        clx_jw_str(&w, "requestId", e->request_id);
        clx_jw_str(&w, "field", e->field);
        clx_jw_str(&w, "code", e->code);
        clx_jw_str(&w, "message", e->message);
        clx_jw_obj_end(&w);
    }
    clx_jw_arr_end(&w);
    clx_jw_obj_end(&w);
    int status = imp->fail != 0 ? clx_err_http_status(imp->fail) : 200;
    if (status == 503)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    clx_rest_send_json(req, status, w.buf, w.len);
}

static void import_free(struct import *imp)
{
    clx_rest_thread_t *t = imp->thread;
    if (imp->req != NULL)
        *imp->backref = NULL;
    if (h2o_timeout_is_linked(&imp->retry))
        h2o_timeout_unlink(&imp->retry);
    h2o_timeout_dispose(t->ctx.loop, &imp->timeout);
    if (imp->z_open)
        inflateEnd(&imp->z);
    free(imp->gbuf);
    for (size_t i = 0; i < IMPORT_SLOTS; i++) {
        clx_arena_destroy(imp->slots[i].arena);
        clx_arena_destroy(imp->slots[i].text);
    }
    clx_arena_t *a = imp->arena;
    free(imp->errors);
    free(imp);
    clx_rest_arena_put(t, a);
    atomic_fetch_sub(&t->server->imports, 1);
    atomic_fetch_sub(&t->server->inflight, 1);
}

static void on_retry(h2o_timeout_entry_t *entry)
{
    struct import *imp = H2O_STRUCT_FROM_MEMBER(struct import, retry, entry);
    step(imp);
}

/* Loop thread: moves the import on after any change; answers and frees it once all is done. */
static void step(struct import *imp)
{
    if (imp->req == NULL || atomic_load(&imp->thread->server->stopping)) {
        if (imp->req != NULL)
            fail_import(imp, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL,
                        "the server is shutting down at line %llu: the lines before it were imported; send the "
                        "rest again (lines already stored are skipped)",
                        (unsigned long long)imp->next_line);
        imp->stop = 1;
    }
    int waiting;
    struct slot *s = NULL;
again:
    waiting = 0;
    for (size_t i = 0; i < IMPORT_SLOTS; i++) {
        s = &imp->slots[i];
        if (s->busy)
            continue;
        if (s->held) {
            if (imp->stop) {
                s->held = 0;
                s->n = 0;
                continue;
            }
            if (build(imp, s) != CLX_OK)
                goto revoked;
            submit(imp, s);
            if (s->held) {
                waiting = 1;
                break; /* the queue is still full */
            }
            continue;
        }
        if (imp->stop || imp->eof)
            continue;
        fill(imp, s);
        if (s->n == 0)
            continue;
        if (build(imp, s) != CLX_OK)
            goto revoked;
        submit(imp, s);
        if (s->held) {
            waiting = 1;
            break;
        }
    }
    if (waiting && imp->inflight == 0 && !h2o_timeout_is_linked(&imp->retry)) {
        /* nothing in flight will call us back */
        h2o_timeout_link(imp->thread->ctx.loop, &imp->timeout, &imp->retry);
    }
    if (imp->inflight > 0 || waiting)
        return;
    for (size_t i = 0; i < IMPORT_SLOTS; i++)
        if (imp->slots[i].held)
            return;
    if (!imp->eof && !imp->stop)
        goto again; /* every slot was answered at once (all its lines rejected): nothing in flight
                       will call back, so read on here (this hung for good once 8 chunks in a row,
                       800 lines, were all rejected) */
    if (imp->req != NULL)
        respond(imp);
    import_free(imp);
    return;

revoked:
    fail_import(imp, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key",
                "the ingestion key was revoked during the import, at line %llu; the lines before it were imported",
                (unsigned long long)imp->next_line);
    s->n = 0;
    s->held = 0;
    step(imp);
}

void clx_rest_on_import_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct slot *s = (struct slot *)m;
        struct import *imp = s->imp;
        s->busy = 0;
        imp->inflight--;
        int status = clx_ingest_status(s->ing);
        if (status == CLX_OK)
            account(imp, s);
        else if (status == CLX_EBUSY)
            s->held = 1;
        else
            fail_import(imp, status, CLX_CODE_NONE, NULL, "%s at line %llu: the lines before it were imported",
                        clx_strerror(status), (unsigned long long)s->lineno[0]);
        if (!s->held)
            s->n = 0;
        if (h2o_timeout_is_linked(&imp->retry))
            h2o_timeout_unlink(&imp->retry);
        step(imp);
    }
}

static void on_pool_dispose(void *p)
{
    struct import **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

/* ---- the route -------------------------------------------------------------------------- */

static int is_ndjson(h2o_iovec_t ct)
{
    static const char *const want[] = {"application/x-ndjson", "application/jsonl"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t n = strlen(want[i]);
        if (ct.len >= n && strncasecmp(ct.base, want[i], n) == 0 &&
            (ct.len == n || ct.base[n] == ';' || ct.base[n] == ' '))
            return 1;
    }
    return 0;
}

int clx_rest_import(clx_rest_call_t *call)
{
    h2o_req_t *req = call->req;
    clx_rest_t *srv = call->srv;
    clx_rest_thread_t *t = call->thread;

    if (atomic_load(&srv->stopping))
        return clx_rest_send_error(req, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL,
                                   "the server is shutting down; send the file again later");
    h2o_iovec_t key = clx_rest_header(req, "x-api-key");
    if (key.base == NULL || key.len == 0)
        return clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "the X-API-Key header is missing");
    if (!is_ndjson(clx_rest_header(req, "content-type")))
        return clx_rest_send_error(req, CLX_EMEDIA, CLX_CODE_NONE, "Content-Type",
                                   "Content-Type must be application/x-ndjson (one event per line)");
    h2o_iovec_t enc = clx_rest_header(req, "content-encoding");
    int gzip = 0;
    if (enc.len == 4 && strncasecmp(enc.base, "gzip", 4) == 0)
        gzip = 1;
    else if (enc.len != 0 && !(enc.len == 8 && strncasecmp(enc.base, "identity", 8) == 0))
        return clx_rest_send_error(req, CLX_EMEDIA, CLX_CODE_UNSUPPORTED_ENCODING, "Content-Encoding",
                                   "Content-Encoding must be gzip or identity");
    size_t limit = srv->cfg.import_max_body;
    if (limit > UINT32_MAX) /* zlib's avail_in is 32 bits */
        limit = UINT32_MAX;
    if (req->entity.len > limit)
        return clx_rest_send_error(req, CLX_ETOOBIG, CLX_CODE_NONE, NULL,
                                   "the body is larger than the limit of %zu bytes; send the file in parts, "
                                   "each with ?firstLine= (costlynxd ctl import does)",
                                   limit);
    uint64_t first_line = 1;
    const char *fl = clx_rest_query(req, "firstLine");
    if (fl != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(fl, &end, 10);
        if (fl[0] < '0' || fl[0] > '9' || *end != '\0' || v == 0 || v > (1ULL << 53))
            return clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "firstLine",
                                       "firstLine must be a line number from 1");
        first_line = v;
    }
    int allow = 0;
    const char *allow_old = clx_rest_query(req, "allowOld");
    if (allow_old != NULL && strcmp(allow_old, "false") != 0) {
        if (strcmp(allow_old, "true") != 0)
            return clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, "allowOld",
                                       "allowOld must be true or false");
        /* lifting the event-time window is the admin's call, on top of the key */
        if (clx_rest_admin_auth(call) != CLX_OK)
            return clx_rest_send_error(req, CLX_EFORBIDDEN, CLX_CODE_NONE, "Authorization",
                                       "allowOld=true needs the admin token (Authorization: Bearer) as well as the "
                                       "ingestion key");
        allow = 1;
    }

    if (atomic_fetch_add(&srv->imports, 1) >= IMPORTS_AT_ONCE) {
        atomic_fetch_sub(&srv->imports, 1);
        return clx_rest_send_error(req, CLX_EBUSY, CLX_CODE_NONE, NULL,
                                   "%d imports are under way; send this part again shortly (stored lines are skipped)",
                                   IMPORTS_AT_ONCE);
    }
    clx_arena_t *arena = clx_rest_arena_get(t);
    struct import *imp = clx_xcalloc(1, sizeof(*imp));
    imp->thread = t;
    imp->arena = arena;
    imp->body = req->entity.base;
    imp->body_len = req->entity.len;
    imp->max_line = srv->cfg.max_body;
    imp->max_inflated = (uint64_t)limit * GZ_MAX_RATIO;
    imp->next_line = first_line;
    imp->gzip = gzip;
    imp->errors = clx_xcalloc(IMPORT_MAX_ERRORS, sizeof(*imp->errors));
    h2o_timeout_init(t->ctx.loop, &imp->timeout, IMPORT_RETRY_MS);
    imp->retry.cb = on_retry;
    for (size_t i = 0; i < IMPORT_SLOTS; i++) {
        struct slot *s = &imp->slots[i];
        s->imp = imp;
        if (clx_ingest_authenticate(srv->cfg.pipeline, key.base, key.len, arena, &s->session) != CLX_OK) {
            clx_rest_send_error(req, CLX_EUNAUTH, CLX_CODE_NONE, "X-API-Key", "unknown or revoked ingestion key");
            goto fail;
        }
        if (allow)
            clx_ingest_session_allow_old(s->session);
        s->arena = clx_arena_create(SLOT_ARENA);
        s->text = clx_arena_create(gzip ? SLOT_ARENA : 64);
    }
    if (gzip) {
        imp->gcap = imp->max_line + GZ_SLACK;
        imp->gbuf = clx_xmalloc(imp->gcap);
        if (inflateInit2(&imp->z, 15 + 16) != Z_OK) { /* 15 + 16: zlib's window, gzip framing only */
            clx_rest_send_error(req, CLX_EIO, CLX_CODE_NONE, NULL, "cannot start inflating the body");
            goto fail;
        }
        imp->z_open = 1;
        imp->z.next_in = (Bytef *)req->entity.base;
        imp->z.avail_in = (uInt)req->entity.len;
    }
    atomic_fetch_add(&srv->inflight, 1);
    imp->req = req;
    imp->backref = h2o_mem_alloc_shared(&req->pool, sizeof(*imp->backref), on_pool_dispose);
    *imp->backref = imp;
    step(imp); /* answers at once when nothing needed the writer */
    return 0;

fail:
    atomic_fetch_add(&srv->inflight, 1); /* import_free takes it back */
    imp->req = NULL;
    import_free(imp);
    return 0;
}
