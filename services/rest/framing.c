/*
 * framing.c — the REST door's defences below the routes, where h2o 2.2.5 decides alone:
 * ambiguous HTTP/1.1 framing (two Content-Lengths, Content-Length with Transfer-Encoding),
 * h2o's own plain-text error pages made JSON, and an over-limit HTTP/2 body answered 413
 * instead of h2o's REFUSED_STREAM (which clients retry). Routes never see any of this.
 */
#include "rest_internal.h"

#include <h2o/http1.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clx_error.h"
#include "clx_log.h"

/* ==== HTTP/1.1: one framing or none ===================================================== */

/*
 * h2o keeps Content-Length and Transfer-Encoding out of req->headers and settles conflicts
 * its own way (the first Content-Length wins; Transfer-Encoding beats Content-Length), so a
 * proxy in front that settles them differently sees another request boundary: request
 * smuggling. The raw header block is still at the start of the socket's input while the
 * request is handled (h2o consumes it after the response), so it is read again here.
 */
int clx_rest_framing_refused(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return 0;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL)
        return 0;
    const char *p = sock->input->bytes, *end = p + sock->input->size;
    /* defensive: only when the buffer visibly starts with this request's request line */
    if ((size_t)(end - p) < req->input.method.len || memcmp(p, req->input.method.base, req->input.method.len) != 0)
        return 0;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    unsigned cl = 0, te = 0;
    while (eol != NULL) {
        p = eol + 1;
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL || eol == p || (eol == p + 1 && *p == '\r'))
            break; /* the blank line that ends the headers */
        size_t n = (size_t)(eol - p);
        if (n >= 15 && strncasecmp(p, "content-length:", 15) == 0)
            cl++;
        else if (n >= 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
            te++;
    }
    if (cl <= 1 && te <= 1 && !(cl && te))
        return 0;
    req->http1_is_persistent = 0; /* what follows on this connection cannot be trusted */
    const char *why = cl && te ? "both Content-Length and Transfer-Encoding"
                      : cl > 1 ? "more than one Content-Length header"
                               : "more than one Transfer-Encoding header";
    clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_REQUEST, te && !cl ? "Transfer-Encoding" : "Content-Length",
                        "the request's length is ambiguous (%s): refused, and the connection is closed", why);
    return 1;
}

/* ==== h2o's own error pages, as JSON ======================================================= */

/*
 * Errors h2o sends before any route runs (a body over its hard limit, broken chunked
 * encoding, an unknown Transfer-Encoding or Expect, invalid HTTP/2 headers) go through the
 * host's fallback path. This filter there rewrites their text/plain body into the error
 * shape every answer has; the status and the connection handling stay h2o's.
 */
struct json_error_filter {
    h2o_filter_t super;
    clx_rest_t *srv;
};

struct json_error_ostream {
    h2o_ostream_t super;
    struct json_error_filter *filter;
    int status;
};

static void json_error_send(h2o_ostream_t *self_, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t st)
{
    struct json_error_ostream *self = (struct json_error_ostream *)self_;
    if (st == H2O_SEND_STATE_IN_PROGRESS) /* h2o_send_inline sends its one buffer as final */
        return;
    char text[200];
    size_t tl = 0;
    for (size_t i = 0; i < n && tl < sizeof(text) - 1; i++) {
        size_t k = bufs[i].len < sizeof(text) - 1 - tl ? bufs[i].len : sizeof(text) - 1 - tl;
        memcpy(text + tl, bufs[i].base, k);
        tl += k;
    }
    while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
        tl--;
    text[tl] = '\0';
    /* h2o's status named through the error table; anything else is a request h2o could not read */
    static const int named[] = {CLX_ETOOBIG, CLX_ENOTFOUND, CLX_EEXPECT, CLX_EBUSY};
    const char *code = clx_code_name(CLX_CODE_INVALID_REQUEST);
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (clx_err_http_status(named[i]) == self->status)
            code = clx_err_name(named[i]);
    clx_arena_t *a = clx_arena_create(512);
    clx_jw_t w;
    clx_jw_init(&w, a, 256);
    clx_jw_obj_begin(&w);
    clx_jw_bool(&w, "ok", 0);
    clx_jw_obj_open(&w, "error");
    clx_jw_str(&w, "code", code);
    static const struct {
        const char *h2o_text, *field;
    } fields[] = {
        {"unknown transfer-encoding", "Transfer-Encoding"},
        {"broken chunked-encoding", "Transfer-Encoding"},
        {"broken content-length header", "Content-Length"},
        {"unknown expectation", "Expect"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(text, fields[i].h2o_text) == 0)
            clx_jw_str(&w, "field", fields[i].field);
    if (self->status == 413) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the body is larger than the limit of %zu bytes",
                 clx_rest_body_limit(self->filter->srv, req->input.path));
        clx_jw_str(&w, "message", msg);
    } else {
        clx_jw_str(&w, "message", tl > 0 ? text : "the request is not valid HTTP");
    }
    clx_jw_obj_end(&w);
    clx_jw_obj_end(&w);
    h2o_iovec_t out = h2o_strdup(&req->pool, w.buf, w.len);
    clx_arena_destroy(a);
    req->res.content_length = out.len; /* headers are written by the next stream, after this */
    h2o_ostream_send_next(&self->super, req, &out, 1, st);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (req->res.status >= 400 && ct >= 0 &&
        h2o_memis(req->res.headers.entries[ct].value.base, req->res.headers.entries[ct].value.len,
                  H2O_STRLIT("text/plain; charset=utf-8"))) {
        req->res.headers.entries[ct].value = h2o_iovec_init(H2O_STRLIT("application/json"));
        struct json_error_ostream *os =
            (struct json_error_ostream *)h2o_add_ostream(req, sizeof(*os), slot);
        os->super.do_send = json_error_send;
        os->filter = (struct json_error_filter *)self;
        os->status = req->res.status;
        slot = &os->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

void clx_rest_framing_config(clx_rest_t *srv, h2o_hostconf_t *host)
{
    struct json_error_filter *f = (struct json_error_filter *)h2o_create_filter(&host->fallback_path, sizeof(*f));
    f->super.on_setup_ostream = json_error_setup;
    f->srv = srv;
    /* cleartext HTTP/2 is served with prior knowledge only (clx_rest_accept routes it through
     * the body check below); an "Upgrade: h2c" request stays HTTP/1.1 */
    srv->globalconf.http1.upgrade_to_http2 = 0;
    /* h2o's own hard limit sits just above the largest of ours (--max-body-bytes, and for OTLP
     * exports --otlp-max-body-bytes) plus one HTTP/2 frame, so bodies over a route's limit reach
     * the route (which answers a 413 of its own) rather than h2o */
    srv->globalconf.max_request_entity_size = clx_rest_body_limit_max(srv) + CLX_H2_OVERSHOOT;
}

/* ==== HTTP/2: a body over the limit gets a 413, not REFUSED_STREAM ========================= */

/*
 * h2o 2.2.5 buffers an HTTP/2 request body whole before any handler runs, and resets the
 * stream with REFUSED_STREAM (which clients retry, up to five times) when the body passes
 * its hard limit. So the frames are looked at before h2o parses them: when a stream's body
 * passes --max-body-bytes, the DATA frame that passes it is marked END_STREAM (the route
 * then sees a body over the limit and answers 413), and the stream's later DATA frames are
 * dropped, with the connection's flow-control window credited for them as h2o would have.
 * This reads h2o's connection and stream structs (Debian's <h2o/http2_internal.h>, 2.2.5).
 */
#define FRAME_HEADER 9
#define BODIES_MAX 128 /* bodies being received per connection (h2o allows 100 open streams) */
#define CUT_MAX 16     /* streams cut per connection that may still send DATA */

struct body_count {
    uint32_t id; /* 0: free */
    size_t bytes;
    size_t limit; /* its route's limit, once the body passed --max-body-bytes (0: not looked up) */
};

struct h2_shim {
    h2o_socket_cb h2o_on_read;
    void (*prev_close_cb)(void *);
    void *prev_close_data;
    clx_rest_t *srv;
    h2o_socket_t *sock;
    int in_read, closed;
    struct body_count bodies[BODIES_MAX];
    size_t next_evict;
    uint32_t cut[CUT_MAX];
    size_t ncut;
};

static int is_cut(const struct h2_shim *s, uint32_t id)
{
    for (size_t i = 0; i < s->ncut && i < CUT_MAX; i++)
        if (s->cut[i] == id)
            return 1;
    return 0;
}

/* The running body size of stream id (a new entry, evicting the oldest slot, if none). */
static struct body_count *body_of(struct h2_shim *s, uint32_t id)
{
    struct body_count *free_slot = NULL;
    for (size_t i = 0; i < BODIES_MAX; i++) {
        if (s->bodies[i].id == id)
            return &s->bodies[i];
        if (s->bodies[i].id == 0 && free_slot == NULL)
            free_slot = &s->bodies[i];
    }
    if (free_slot == NULL) /* streams h2o reset on its own leave entries: recycle the oldest */
        free_slot = &s->bodies[s->next_evict++ % BODIES_MAX];
    free_slot->id = id;
    free_slot->bytes = 0;
    free_slot->limit = 0;
    return free_slot;
}

static void body_done(struct h2_shim *s, uint32_t id)
{
    for (size_t i = 0; i < BODIES_MAX; i++)
        if (s->bodies[i].id == id)
            s->bodies[i].id = 0;
}

static void shim_on_close(void *data)
{
    struct h2_shim *s = data;
    if (s->prev_close_cb != NULL)
        s->prev_close_cb(s->prev_close_data);
    if (s->in_read)
        s->closed = 1; /* freed when the read callback unwinds */
    else
        free(s);
}

/* Calls h2o's reader; 0, or -1 when it closed the socket (s is then freed). */
static int h2o_read(struct h2_shim *s, const char *err)
{
    s->in_read = 1;
    s->h2o_on_read(s->sock, err);
    s->in_read = 0;
    if (s->closed) {
        free(s);
        return -1;
    }
    return 0;
}

static uint32_t frame_len(const uint8_t *f)
{
    return (uint32_t)f[0] << 16 | (uint32_t)f[1] << 8 | f[2];
}

static uint32_t frame_stream(const uint8_t *f)
{
    return ((uint32_t)f[5] << 24 | (uint32_t)f[6] << 16 | (uint32_t)f[7] << 8 | f[8]) & 0x7fffffff;
}

struct find_stream {
    h2o_conn_t *conn;
    uint32_t id;
    h2o_http2_stream_t *found;
};

static int find_stream_cb(h2o_req_t *req, void *arg)
{
    struct find_stream *fs = arg;
    if (req->conn != fs->conn)
        return 0;
    h2o_http2_stream_t *st = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, req, req);
    if (st->stream_id != fs->id)
        return 0;
    fs->found = st;
    return 1;
}

/* h2o's stream id on conn, or NULL (h2o's own lookup is inline over a table we cannot see). */
static h2o_http2_stream_t *find_stream(h2o_http2_conn_t *conn, uint32_t id)
{
    struct find_stream fs = {&conn->super, id, NULL};
    H2O_HTTP2_CALLBACKS.foreach_request(conn->super.ctx, find_stream_cb, &fs);
    return fs.found;
}

/*
 * Lets h2o read the first off bytes of the input now (frames up to one whose stream h2o has
 * not opened yet), keeping the rest for after. 0, or -1 when the connection went.
 */
static int read_prefix(struct h2_shim *s, size_t off)
{
    h2o_socket_t *sock = s->sock;
    h2o_http2_conn_t *conn = sock->data;
    size_t rest = sock->input->size - off;
    char *tail = clx_xmalloc(rest ? rest : 1);
    memcpy(tail, sock->input->bytes + off, rest);
    sock->input->size = off;
    int rc = h2o_read(s, NULL);
    if (rc == 0 && conn->state < H2O_HTTP2_CONN_STATE_IS_CLOSING) {
        h2o_iovec_t room = h2o_buffer_reserve(&sock->input, rest);
        memcpy(room.base, tail, rest);
        sock->input->size += rest;
    } else {
        rc = -1;
    }
    free(tail);
    return rc;
}

/* The payload of a DATA frame without its padding (what h2o buffers), or -1 if malformed. */
static ssize_t data_payload(const uint8_t *f, size_t flen)
{
    if ((f[4] & 0x8) == 0) /* not PADDED */
        return (ssize_t)flen;
    if (flen < 1 || (size_t)f[FRAME_HEADER] + 1 > flen)
        return -1;
    return (ssize_t)(flen - 1 - f[FRAME_HEADER]);
}

static void shim_on_read(h2o_socket_t *sock, const char *err)
{
    struct h2_shim *s = sock->on_close.data;
    h2o_http2_conn_t *conn = sock->data;
    size_t dropped = 0, off = 0, limit = s->srv->cfg.max_body;
    if (err != NULL || conn->state >= H2O_HTTP2_CONN_STATE_IS_CLOSING) {
        h2o_read(s, err);
        return;
    }
    while (sock->input->size - off >= FRAME_HEADER) {
        uint8_t *f = (uint8_t *)sock->input->bytes + off;
        size_t flen = frame_len(f), total = FRAME_HEADER + flen;
        if (sock->input->size - off < total)
            break; /* incomplete: h2o waits for the rest, and so do we */
        uint32_t id = frame_stream(f);
        if (f[3] == 3 /* RST_STREAM */) {
            body_done(s, id);
            off += total;
            continue;
        }
        ssize_t payload = f[3] == 0 /* DATA */ && id != 0 ? data_payload(f, flen) : -1;
        if (payload < 0) { /* not a body frame (or a malformed one, h2o's to refuse) */
            off += total;
            continue;
        }
        if (is_cut(s, id)) { /* the rest of a cut body: dropped, its window credited below */
            memmove(f, f + total, sock->input->size - off - total);
            sock->input->size -= total;
            dropped += flen;
            continue;
        }
        if ((f[4] & H2O_HTTP2_FRAME_FLAG_END_STREAM) != 0) { /* the body is complete */
            body_done(s, id);
            off += total;
            continue;
        }
        struct body_count *b = body_of(s, id);
        if (b->bytes + (size_t)payload <= (b->limit != 0 ? b->limit : limit)) {
            b->bytes += (size_t)payload;
            off += total;
            continue;
        }
        /* this frame takes the body over the limit */
        h2o_http2_stream_t *stream = find_stream(conn, id);
        if (stream == NULL && off > 0) { /* its HEADERS came in this read: h2o reads them first */
            if (read_prefix(s, off) != 0)
                return;
            off = 0;
            continue;
        }
        if (stream != NULL && b->limit == 0) { /* a route may take more (OTLP exports): look once */
            b->limit = clx_rest_body_limit(s->srv, stream->req.input.path);
            if (b->limit > limit)
                continue; /* the same frame again, against the route's limit */
        }
        b->bytes += (size_t)payload;
        off += total;
        if (stream == NULL || stream->state != H2O_HTTP2_STREAM_STATE_RECV_BODY)
            continue; /* not a body h2o is receiving: h2o answers the frame as it sees fit */
        /* the body ends here, on purpose: the route sees more than --max-body-bytes (413) */
        stream->_expected_content_length = SIZE_MAX;
        f[4] |= H2O_HTTP2_FRAME_FLAG_END_STREAM;
        s->cut[s->ncut++ % CUT_MAX] = id;
        body_done(s, id);
    }
    if (h2o_read(s, NULL) != 0)
        return;
    if (dropped > 0 && conn->state < H2O_HTTP2_CONN_STATE_IS_CLOSING) {
        h2o_http2_encode_window_update_frame(&conn->_write.buf, 0, (int32_t)dropped);
        h2o_http2_conn_request_write(conn);
    }
}

/*
 * Hands a connection whose first bytes are the HTTP/2 preface to h2o's HTTP/2 side, with
 * the body check in front of h2o's frame reader. Only the preface is given to h2o during
 * the hand-over (h2o reads what it is given at once); the rest goes through the check.
 */
static void accept_h2(clx_rest_thread_t *t, h2o_socket_t *sock, struct timeval connected_at)
{
    static const size_t preface = 24;
    size_t rest = sock->input->size - preface;
    char *tail = clx_xmalloc(rest ? rest : 1);
    memcpy(tail, sock->input->bytes + preface, rest);
    sock->input->size = preface;
    struct h2_shim *s = clx_xcalloc(1, sizeof(*s));
    s->srv = t->server;
    s->sock = sock;
    s->prev_close_cb = sock->on_close.cb;
    s->prev_close_data = sock->on_close.data;
    sock->on_close.cb = shim_on_close;
    sock->on_close.data = s;
    s->in_read = 1;
    h2o_http2_accept(&t->accept, sock, connected_at);
    s->in_read = 0;
    if (s->closed) {
        free(s);
        free(tail);
        return;
    }
    s->h2o_on_read = sock->_cb.read;
    sock->_cb.read = shim_on_read;
    if (rest > 0) {
        h2o_iovec_t room = h2o_buffer_reserve(&sock->input, rest);
        memcpy(room.base, tail, rest);
        sock->input->size += rest;
        shim_on_read(sock, NULL);
    }
    free(tail);
}

/* ==== accepting: which protocol ============================================================= */

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct first_read {
    clx_rest_thread_t *thread;
    struct timeval connected_at;
    h2o_timeout_entry_t timeout;
    h2o_socket_t *sock;
};

static void first_read_timeout(h2o_timeout_entry_t *entry)
{
    struct first_read *fr = H2O_STRUCT_FROM_MEMBER(struct first_read, timeout, entry);
    h2o_socket_close(fr->sock);
    free(fr);
}

static void on_first_bytes(h2o_socket_t *sock, const char *err)
{
    struct first_read *fr = sock->data;
    size_t have = sock->input->size, want = sizeof(H2_PREFACE) - 1;
    size_t cmp = have < want ? have : want;
    if (err == NULL && memcmp(sock->input->bytes, H2_PREFACE, cmp) == 0 && have < want)
        return; /* could still be HTTP/2: wait for the whole preface */
    h2o_timeout_unlink(&fr->timeout);
    clx_rest_thread_t *t = fr->thread;
    struct timeval at = fr->connected_at;
    free(fr);
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    h2o_socket_read_stop(sock);
    sock->data = NULL;
    if (have >= want && memcmp(sock->input->bytes, H2_PREFACE, want) == 0)
        accept_h2(t, sock, at);
    else
        h2o_http1_accept(&t->accept, sock, at); /* reads what is buffered at once */
}

void clx_rest_accept(clx_rest_thread_t *t, h2o_socket_t *sock)
{
    struct first_read *fr = clx_xcalloc(1, sizeof(*fr));
    fr->thread = t;
    fr->sock = sock;
    fr->connected_at = *h2o_get_timestamp(&t->ctx, NULL, NULL);
    fr->timeout.cb = first_read_timeout;
    h2o_timeout_link(t->ctx.loop, &t->ctx.http1.req_timeout, &fr->timeout);
    sock->data = fr;
    h2o_socket_read_start(sock, on_first_bytes);
}
