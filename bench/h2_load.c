/*
 * h2_load.c — an HTTP/2 cleartext (prior knowledge) load generator whose every request has a
 * body of its own: h2load sends one fixed body (-d), so against POST /api/v1/usage/ingest all
 * but its first request would be duplicates the server answers "skipped" without storing.
 * Here each request is a single usage event with a fresh requestId, and an answer counts as
 * done only when it is 200 with "inserted":1 (anything else is an error, so a run cannot pass
 * off skipped duplicates as ingestion). --mode ceiling sends a body of the same size to
 * /healthz, which answers without work: the same generator's ceiling, same run.
 *
 * Threads (--threads) each run their own epoll loop over their share of the connections;
 * each connection keeps --streams requests in flight (nghttp2 client sessions).
 * Prints one RESULT line with the same fields as bench/ingest.lua.
 * Usage: h2_load --addr 127.0.0.1:PORT [--key KEY] [--mode ingest|ceiling] [--connections 64]
 *                [--streams 1] [--threads 2] [--seconds 10] [--run-id STR] [--id-len 33]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MODE_INGEST, MODE_CEILING };

static struct {
    const char *addr, *key, *run_id;
    int mode, connections, streams, threads, seconds, id_len;
} cfg = {NULL, "", NULL, MODE_INGEST, 64, 1, 2, 10, 0};

static struct sockaddr_in peer;
static char authority[64];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct stream {
    char body[512];
    size_t len, off;
    uint64_t start_ns;
    int status;
    char answer[128]; /* the start of the answer's body */
    size_t alen;
} stream_t;

struct worker;

typedef struct conn {
    struct worker *w;
    int fd, id;
    nghttp2_session *session;
    uint64_t n;   /* requests made on this connection: part of every requestId */
    int inflight; /* requests submitted and not yet closed */
    uint8_t *out; /* frames nghttp2 made, sent with one send() per turn */
    size_t olen, ooff, ocap;
} conn_t;

typedef struct worker {
    int id, nconns;
    conn_t *conns;
    uint64_t deadline_ns;
    uint64_t done, errors;
    uint64_t *lat_us; /* latency of every completed request */
    size_t nlat, cap;
    int epfd;
    unsigned seed; /* rand_r: the ids' random letters */
    pthread_t tid;
} worker_t;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *user_data)
{
    (void)session, (void)stream_id, (void)user_data;
    stream_t *s = source->ptr;
    size_t n = s->len - s->off < length ? s->len - s->off : length;
    memcpy(buf, s->body + s->off, n);
    s->off += n;
    if (s->off == s->len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int submit_one(conn_t *c)
{
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        die("calloc");
    if (cfg.mode == MODE_INGEST) {
        char id[160];
        int len = snprintf(id, sizeof(id), "%s-%d-%d-%llu", cfg.run_id, c->w->id, c->id, (unsigned long long)c->n++);
        /* random letters after the unique part (which ends in a digit, so ids stay unique) */
        while (len < cfg.id_len && len < (int)sizeof(id) - 1)
            id[len++] = (char)('a' + rand_r(&c->w->seed) % 26);
        id[len] = '\0';
        s->len =
            (size_t)snprintf(s->body, sizeof(s->body),
                             "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"inputTokens\":850,"
                             "\"outputTokens\":320,\"cachedTokens\":100,\"requestId\":\"%s\",\"project\":\"bench\","
                             "\"environment\":\"prod\",\"feature\":\"load-test\"}",
                             id);
    } else { /* as bench/ceiling.lua: 230 bytes to /healthz */
        memset(s->body, 'x', 230);
        s->len = 230;
    }
    char clen[16];
    snprintf(clen, sizeof(clen), "%zu", s->len);
    const char *path = cfg.mode == MODE_INGEST ? "/api/v1/usage/ingest" : "/healthz";
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv hdrs[] = {NV(":method", "POST"),
                         NV(":scheme", "http"),
                         NV(":authority", authority),
                         NV(":path", path),
                         NV("content-type", "application/json"),
                         NV("content-length", clen),
                         NV("x-api-key", cfg.key)};
#undef NV
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_body};
    s->start_ns = now_ns();
    c->inflight++;
    int32_t sid =
        nghttp2_submit_request(c->session, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]) - (cfg.key[0] ? 0 : 1), &prd, s);
    if (sid < 0) {
        fprintf(stderr, "h2_load: submit: %s\n", nghttp2_strerror(sid));
        exit(1);
    }
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)flags, (void)user_data, (void)valuelen;
    if (frame->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0)
        return 0;
    stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s != NULL)
        s->status = atoi((const char *)value);
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                   void *user_data)
{
    (void)flags, (void)user_data;
    stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s != NULL && s->alen < sizeof(s->answer) - 1) {
        size_t n = sizeof(s->answer) - 1 - s->alen < len ? sizeof(s->answer) - 1 - s->alen : len;
        memcpy(s->answer + s->alen, data, n);
        s->alen += n;
        s->answer[s->alen] = '\0';
    }
    return 0;
}

static int on_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    conn_t *c = user_data;
    worker_t *w = c->w;
    stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s == NULL)
        return 0;
    uint64_t t = now_ns();
    c->inflight--;
    int ok = error_code == 0 && s->status == 200 &&
             (cfg.mode == MODE_CEILING || strstr(s->answer, "\"inserted\":1") != NULL);
    if (ok) {
        w->done++;
        if (w->nlat == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 65536;
            w->lat_us = realloc(w->lat_us, w->cap * sizeof(*w->lat_us));
            if (w->lat_us == NULL)
                die("realloc");
        }
        w->lat_us[w->nlat++] = (t - s->start_ns) / 1000;
    } else {
        if (w->errors++ == 0)
            fprintf(stderr, "h2_load: a request failed: status %d, stream error %u, answer %.100s\n", s->status,
                    error_code, s->answer);
    }
    free(s);
    if (t < w->deadline_ns)
        submit_one(c);
    return 0;
}

static void conn_open(worker_t *w, conn_t *c, int id)
{
    c->w = w;
    c->id = id;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int on = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (connect(c->fd, (struct sockaddr *)&peer, sizeof(peer)) != 0)
        die("connect");
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_client_new(&c->session, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

/* Reads what there is and sends what nghttp2 wants to; 0, or -1 when the connection is over. */
static int conn_pump(conn_t *c)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0)
            return -1;
    }
    /* every frame made this turn (HEADERS and DATA of many streams) goes out in one send() */
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (c->olen + (size_t)n > c->ocap) {
            c->ocap = (c->olen + (size_t)n) * 2;
            if ((c->out = realloc(c->out, c->ocap)) == NULL)
                die("realloc");
        }
        memcpy(c->out + c->olen, data, (size_t)n);
        c->olen += (size_t)n;
    }
    while (c->ooff < c->olen) {
        ssize_t n = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0; /* the rest goes at the next EPOLLOUT */
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->ooff += (size_t)n;
    }
    c->ooff = c->olen = 0;
    return nghttp2_session_want_read(c->session) || nghttp2_session_want_write(c->session) ? 0 : -1;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < w->nconns; i++) {
        conn_open(w, &w->conns[i], i);
        for (int k = 0; k < cfg.streams; k++)
            submit_one(&w->conns[i]);
        conn_pump(&w->conns[i]);
    }
    int live = w->nconns;
    struct epoll_event evs[256];
    while (live > 0) {
        int n = epoll_wait(w->epfd, evs, 256, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->session == NULL)
                continue;
            int over = conn_pump(c) != 0;
            /* done: the deadline passed and this connection has nothing in flight or unsent */
            if (!over && c->inflight == 0 && c->olen == 0 && now_ns() >= w->deadline_ns)
                over = 1;
            if (over) {
                nghttp2_session_del(c->session);
                c->session = NULL;
                free(c->out);
                close(c->fd);
                live--;
            }
        }
        if (n == 0 && now_ns() > w->deadline_ns + 30ull * 1000000000u) {
            fprintf(stderr, "h2_load: %d connections still busy 30 s after the end\n", live);
            break;
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: h2_load --addr 127.0.0.1:PORT [--key KEY] [--mode ingest|ceiling] [--connections 64]\n"
                    "               [--streams 1] [--threads 2] [--seconds 10] [--run-id STR] [--id-len 33]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--addr"))
            cfg.addr = v;
        else if (!strcmp(a, "--key"))
            cfg.key = v;
        else if (!strcmp(a, "--run-id"))
            cfg.run_id = v;
        else if (!strcmp(a, "--mode"))
            cfg.mode = !strcmp(v, "ceiling") ? MODE_CEILING : !strcmp(v, "ingest") ? MODE_INGEST : (usage(), 0);
        else if (!strcmp(a, "--connections"))
            cfg.connections = atoi(v);
        else if (!strcmp(a, "--streams"))
            cfg.streams = atoi(v);
        else if (!strcmp(a, "--threads"))
            cfg.threads = atoi(v);
        else if (!strcmp(a, "--seconds"))
            cfg.seconds = atoi(v);
        else if (!strcmp(a, "--id-len"))
            cfg.id_len = atoi(v);
        else
            usage();
    }
    if (cfg.addr == NULL || cfg.connections < 1 || cfg.streams < 1 || cfg.streams > 100 || cfg.threads < 1 ||
        cfg.seconds < 1 || cfg.id_len < 0 || cfg.id_len > 128 || (cfg.mode == MODE_INGEST && !cfg.key[0]))
        usage();
    if (cfg.threads > cfg.connections)
        cfg.threads = cfg.connections;
    static char rid[32];
    if (cfg.run_id == NULL) {
        snprintf(rid, sizeof(rid), "h%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
        cfg.run_id = rid;
    }
    const char *colon = strrchr(cfg.addr, ':');
    if (colon == NULL)
        usage();
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg.addr), cfg.addr);
    peer.sin_family = AF_INET;
    peer.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &peer.sin_addr) != 1)
        usage();
    snprintf(authority, sizeof(authority), "%s", cfg.addr);

    worker_t *ws = calloc((size_t)cfg.threads, sizeof(*ws));
    uint64_t t0 = now_ns();
    for (int t = 0; t < cfg.threads; t++) {
        ws[t].id = t;
        ws[t].seed = (unsigned)(t0 >> 10) + (unsigned)t;
        ws[t].nconns = cfg.connections / cfg.threads + (t < cfg.connections % cfg.threads);
        ws[t].conns = calloc((size_t)ws[t].nconns, sizeof(conn_t));
        ws[t].deadline_ns = t0 + (uint64_t)cfg.seconds * 1000000000u;
        pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]);
    }
    uint64_t done = 0, errors = 0;
    size_t nlat = 0;
    for (int t = 0; t < cfg.threads; t++) {
        pthread_join(ws[t].tid, NULL);
        done += ws[t].done;
        errors += ws[t].errors;
        nlat += ws[t].nlat;
    }
    double dur = (double)(now_ns() - t0) / 1e9;
    uint64_t *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
    size_t k = 0;
    for (int t = 0; t < cfg.threads; t++) {
        memcpy(lat + k, ws[t].lat_us, ws[t].nlat * sizeof(*lat));
        k += ws[t].nlat;
    }
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    double p50 = nlat ? lat[nlat / 2] / 1000.0 : 0, p99 = nlat ? lat[(nlat * 99) / 100] / 1000.0 : 0;
    printf(
        "RESULT requests=%llu duration_s=%.2f req_per_s=%.0f events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%llu\n",
        (unsigned long long)done, dur, done / dur, done / dur, p50, p99, (unsigned long long)errors);
    return errors != 0 || done == 0;
}
