/*
 * server.c — the REST door's h2o plumbing: one event loop and context per thread, all
 * accepting from one listening socket, the top-level router, and the JSON reply helpers.
 */
#include "rest_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_settings.h"
#include "clx_maintenance.h"
#include "clx_otlp_door.h"
#include "clx_text.h"

#define MAX_FREE_ARENAS 64
#define ARENA_FIRST_CHUNK (32 * 1024)

/* ---- reply helpers ------------------------------------------------------------------------ */

int clx_rest_send(h2o_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : status == 201 ? "Created" : "Error";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_iovec_t buf = h2o_strdup(&req->pool, body, len);
    req->res.content_length = len;
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

int clx_rest_send_json(h2o_req_t *req, int status, const char *body, size_t len)
{
    return clx_rest_send(req, status, "application/json", body, len);
}

int clx_rest_send_error(h2o_req_t *req, int err, clx_code_t code, const char *field, const char *fmt, ...)
{
    int status = clx_err_http_status(err);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clx_arena_t *a = clx_arena_create(1024);
    clx_jw_t w;
    clx_jw_init(&w, a, 512);
    clx_jw_obj_begin(&w);
    clx_jw_bool(&w, "ok", 0);
    clx_jw_obj_open(&w, "error");
    clx_jw_str(&w, "code", code != CLX_CODE_NONE ? clx_code_name(code) : clx_err_name(err));
    if (field != NULL)
        clx_jw_str(&w, "field", field);
    clx_jw_str(&w, "message", msg);
    clx_jw_obj_end(&w);
    clx_jw_obj_end(&w);
    if (status == 503)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    clx_rest_send_json(req, status, w.buf, w.len);
    clx_arena_destroy(a);
    return 0;
}

h2o_iovec_t clx_rest_header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return h2o_iovec_init(NULL, 0);
    return req->headers.entries[i].value;
}

int clx_rest_admin_auth(clx_rest_call_t *call)
{
    h2o_iovec_t auth = clx_rest_header(call->req, "authorization");
    const char *token;
    size_t len;
    if (!clx_bearer_token(auth.base, auth.len, &token, &len))
        return CLX_EINVAL;
    return clx_settings_admin_check(call->srv->cfg.settings, token, len);
}

/* Percent-decodes s once; '+' is a space only in query components (form encoding). */
static char *decode_component(h2o_mem_pool_t *pool, const char *s, size_t len, int plus_is_space)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && clx_hex_value(s[i + 1]) >= 0 && clx_hex_value(s[i + 2]) >= 0) {
            out[n++] = (char)(clx_hex_value(s[i + 1]) * 16 + clx_hex_value(s[i + 2]));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[n++] = ' ';
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}

char *clx_rest_query(h2o_req_t *req, const char *name)
{
    if (req->query_at == SIZE_MAX)
        return NULL;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nl = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *kend = eq != NULL ? eq : stop;
        if ((size_t)(kend - q) == nl && memcmp(q, name, nl) == 0)
            return eq != NULL ? decode_component(&req->pool, eq + 1, (size_t)(stop - eq - 1), 1)
                              : decode_component(&req->pool, "", 0, 1);
        q = stop + 1;
    }
    return NULL;
}

size_t clx_rest_query_prefixed(h2o_req_t *req, const char *prefix, char **names, char **values, size_t max)
{
    size_t n = 0, pl = strlen(prefix);
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *kend = eq != NULL ? eq : stop;
        char *name = decode_component(&req->pool, q, (size_t)(kend - q), 1);
        if (strncmp(name, prefix, pl) == 0) {
            if (n < max) {
                names[n] = name + pl;
                values[n] = eq != NULL ? decode_component(&req->pool, eq + 1, (size_t)(stop - eq - 1), 1)
                                       : decode_component(&req->pool, "", 0, 1);
            }
            n++;
        }
        q = stop + 1;
    }
    return n;
}

char *clx_rest_param(clx_rest_call_t *call, size_t i)
{
    /* params are segments of the raw path (see on_req): decoded here, once */
    return decode_component(&call->req->pool, call->params[i].base, call->params[i].len, 0);
}

clx_arena_t *clx_rest_arena_get(clx_rest_thread_t *t)
{
    if (t->nfree_arenas > 0)
        return t->free_arenas[--t->nfree_arenas];
    return clx_arena_create(ARENA_FIRST_CHUNK);
}

void clx_rest_arena_put(clx_rest_thread_t *t, clx_arena_t *a)
{
    if (t->nfree_arenas == MAX_FREE_ARENAS) {
        clx_arena_destroy(a);
        return;
    }
    clx_arena_reset(a);
    t->free_arenas[t->nfree_arenas++] = a;
}

/* ---- routing -------------------------------------------------------------------------------- */

struct route_handler {
    h2o_handler_t super;
    clx_rest_t *srv;
};

static clx_rest_thread_t *thread_of(clx_rest_t *srv, h2o_context_t *ctx)
{
    for (size_t i = 0; i < srv->nthreads; i++)
        if (&srv->threads[i].ctx == ctx)
            return &srv->threads[i];
    return NULL;
}

static int path_is(h2o_iovec_t path, const char *lit)
{
    size_t n = strlen(lit);
    return path.len == n && memcmp(path.base, lit, n) == 0;
}

/*
 * The offset of the first "%00" in the request target, or SIZE_MAX: decoded, it would be a
 * NUL, and C strings cut there ("acme%00x" naming the workspace "acme").
 */
static size_t encoded_nul_at(h2o_iovec_t target)
{
    for (size_t i = 0; i + 2 < target.len; i++)
        if (target.base[i] == '%' && target.base[i + 1] == '0' && target.base[i + 2] == '0')
            return i;
    return SIZE_MAX;
}

static int healthz(clx_rest_call_t *call)
{
    return clx_rest_send_json(call->req, 200, H2O_STRLIT("{\"ok\":true}"));
}

static int readyz(clx_rest_call_t *call)
{
    if (atomic_load(&call->srv->stopping))
        return clx_rest_send_error(call->req, CLX_ESHUTDOWN, CLX_CODE_NONE, NULL, "shutting down");
    clx_disk_state_t disk; /* ready = accepting writes: a full disk is not ready, reads still work */
    clx_maintenance_disk(call->srv->cfg.maintenance, &disk);
    if (!disk.writable)
        return clx_rest_send_error(call->req, CLX_ENOSPC, CLX_CODE_NONE, NULL, "%s", disk.why);
    return clx_rest_send_json(call->req, 200, H2O_STRLIT("{\"ok\":true,\"ready\":true}"));
}

/*
 * The routes outside /api/v1/admin/ (those are admin.c's table): the router below and
 * GET /api/v1/routes both read this one list. only_method: other methods get 405 here;
 * otherwise the handler decides. fn NULL: served from the compiled-in files (static.c).
 */
static const struct top_route {
    const char *method;
    const char *path;
    int only_method;
    int (*fn)(clx_rest_call_t *call);
} top_routes[] = {
    {"GET", "/healthz", 0, healthz},
    {"GET", "/readyz", 0, readyz},
    {"POST", "/api/v1/usage/ingest", 1, clx_rest_ingest},
    {"POST", "/api/v1/usage/import", 1, clx_rest_import},
    {"POST", "/api/v1/usage/void", 1, clx_rest_void},
    {"POST", "/api/v1/usage/amend", 1, clx_rest_amend},
    {"POST", "/v1/traces", 1, clx_rest_otlp_traces}, /* OTLP/HTTP */
    {"GET", "/api/v1/pricing/models", 0, clx_rest_pricing_models},
    {"GET", "/api/v1/routes", 0, clx_rest_routes},
    {"GET", "/openapi.json", 0, NULL},
    {"GET", "/metrics", 0, clx_rest_metrics},
    {"GET", "/api/v1/budgets/check", 1, clx_rest_budget_check}, /* ingestion key (issue 12) */
};

size_t clx_rest_body_limit(const clx_rest_t *srv, h2o_iovec_t target)
{
    static const char traces[] = "/v1/traces";           /* OTLP exports: --otlp-max-body-bytes */
    static const char import[] = "/api/v1/usage/import"; /* NDJSON backfill: --import-max-body-bytes */
    const char *q = target.base != NULL ? memchr(target.base, '?', target.len) : NULL;
    size_t n = q != NULL ? (size_t)(q - target.base) : target.len;
    if (srv->cfg.otlp != NULL && n == sizeof(traces) - 1 && memcmp(target.base, traces, n) == 0)
        return clx_otlp_door_max_body(srv->cfg.otlp);
    if (srv->cfg.import_max_body != 0 && n == sizeof(import) - 1 && memcmp(target.base, import, n) == 0)
        return srv->cfg.import_max_body;
    return srv->cfg.max_body;
}

size_t clx_rest_body_limit_max(const clx_rest_t *srv)
{
    size_t otlp = srv->cfg.otlp != NULL ? clx_otlp_door_max_body(srv->cfg.otlp) : 0;
    size_t max = otlp > srv->cfg.max_body ? otlp : srv->cfg.max_body;
    return srv->cfg.import_max_body > max ? srv->cfg.import_max_body : max;
}

void clx_rest_top_routes(clx_route_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < sizeof(top_routes) / sizeof(top_routes[0]); i++)
        fn(arg, top_routes[i].method, top_routes[i].path);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct route_handler *h = (struct route_handler *)self;
    clx_rest_call_t call = {.req = req, .srv = h->srv, .thread = thread_of(h->srv, req->conn->ctx)};
    h2o_iovec_t path = req->path_normalized;

    if (clx_rest_framing_refused(req))
        return 0;
    size_t nul = encoded_nul_at(req->path);
    if (nul != SIZE_MAX)
        return clx_rest_send_error(req, CLX_EINVAL, CLX_CODE_INVALID_VALUE, nul > req->query_at ? "query" : "path",
                                   "the request target must not contain %%00 (a NUL character)");

    for (size_t i = 0; i < sizeof(top_routes) / sizeof(top_routes[0]); i++) {
        const struct top_route *r = &top_routes[i];
        if (r->fn == NULL || !path_is(path, r->path))
            continue;
        if (r->only_method && !h2o_memis(req->method.base, req->method.len, r->method, strlen(r->method))) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, r->method, strlen(r->method));
            return clx_rest_send_error(req, CLX_EMETHOD, CLX_CODE_NONE, NULL, "use %s for %s", r->method, r->path);
        }
        return r->fn(&call);
    }
    static const char admin[] = "/api/v1/admin/";
    if (path.len >= sizeof(admin) - 1 && memcmp(path.base, admin, sizeof(admin) - 1) == 0) {
        /* routed on the raw path, so each segment is percent-decoded exactly once (h2o's
         * normalised path is decoded already: "%2500" would become a NUL the second time) */
        h2o_iovec_t raw = h2o_iovec_init(req->path.base, req->query_at != SIZE_MAX ? req->query_at : req->path.len);
        if (raw.len < sizeof(admin) - 1 || memcmp(raw.base, admin, sizeof(admin) - 1) != 0)
            return clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, NULL, "no route for %.*s",
                                       (int)(raw.len > 200 ? 200 : raw.len), raw.base);
        return clx_rest_admin_route(&call, raw.base + sizeof(admin) - 1, raw.len - (sizeof(admin) - 1));
    }
    if (path.len < 5 || memcmp(path.base, "/api/", 5) != 0) { /* the dashboard and /openapi.json */
        if (clx_rest_static(req, path) == 0)
            return 0;
    }
    return clx_rest_send_error(req, CLX_ENOTFOUND, CLX_CODE_NONE, NULL, "no route for %.*s",
                               (int)(path.len > 200 ? 200 : path.len), path.base);
}

/* ---- listeners and loops ------------------------------------------------------------------- */

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
        return CLX_EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *h = host;
    if (h[0] == '[') { /* [::1]:8080 */
        h++;
        size_t hl = strlen(h);
        if (hl == 0 || h[hl - 1] != ']')
            return CLX_EINVAL;
        h[hl - 1] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    if (getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &res) != 0)
        return CLX_EINVAL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return CLX_OK;
}

static int open_listener(struct sockaddr_storage *ss, socklen_t sl, char **errmsg)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0)
        goto fail;
    /* no SO_REUSEPORT: a second costlynxd on the same port must fail, not split traffic */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)ss, sl) != 0 || listen(fd, 1024) != 0)
        goto fail;
    return fd;
fail:
    if (errmsg != NULL) {
        char buf[160];
        snprintf(buf, sizeof(buf), "cannot listen: %s", strerror(errno));
        *errmsg = clx_xstrdup(buf);
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    clx_rest_thread_t *t = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL)
        return;
    clx_rest_accept(t, sock);
}

/*
 * Everything h2o owns for a loop is created here, on the loop's own thread: h2o keeps
 * per-thread buffer pools (h2o_socket_buffer_prototype is __thread), so a socket made on
 * another thread would recycle its buffers into that thread's pool, racing with it.
 */
static void loop_setup(clx_rest_thread_t *t)
{
    clx_rest_t *srv = t->server;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &srv->globalconf);
    t->accept.ctx = &t->ctx;
    t->accept.hosts = srv->globalconf.hosts;
    t->queue = h2o_multithread_create_queue(t->ctx.loop);
    h2o_multithread_register_receiver(t->queue, &t->done_receiver, clx_rest_on_pending_done);
    h2o_multithread_register_receiver(t->queue, &t->backup_receiver, clx_rest_on_backup_done);
    h2o_multithread_register_receiver(t->queue, &t->import_receiver, clx_rest_on_import_done);
    t->listener = h2o_evloop_socket_create(t->ctx.loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
}

static void *loop_main(void *arg)
{
    clx_rest_thread_t *t = arg;
    clx_rest_t *srv = t->server;
    int closed = 0;
    loop_setup(t);
    pthread_mutex_lock(&srv->start_mu);
    srv->started++;
    pthread_cond_broadcast(&srv->start_cv);
    pthread_mutex_unlock(&srv->start_mu);
    while (!atomic_load(&srv->loops_exit)) {
        h2o_evloop_run(t->ctx.loop, 50);
        if (!closed && atomic_load(&srv->stopping)) {
            /* stop taking connections; keep serving the open ones until loops_exit */
            h2o_socket_read_stop(t->listener);
            h2o_socket_close(t->listener);
            t->listener = NULL;
            h2o_context_request_shutdown(&t->ctx);
            closed = 1;
        }
    }
    return NULL;
}

static const clx_door_ops_t rest_ops;

int clx_rest_start(const clx_rest_config_t *cfg, clx_door_t *out, char **errmsg)
{
    int rc = CLX_OK;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (errmsg != NULL)
        *errmsg = NULL;
    if (parse_addr(cfg->addr, &ss, &sl) != CLX_OK) {
        if (errmsg != NULL)
            *errmsg = clx_xstrdup("address must be host:port, e.g. 127.0.0.1:8080");
        return CLX_EINVAL;
    }
    clx_rest_t *srv = clx_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    srv->nthreads = cfg->threads ? cfg->threads : 1;
    srv->threads = clx_xcalloc(srv->nthreads, sizeof(*srv->threads));
    for (size_t i = 0; i < srv->nthreads; i++)
        srv->threads[i].fd = -1;

    h2o_config_init(&srv->globalconf);
    h2o_hostconf_t *host = h2o_config_register_host(&srv->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    struct route_handler *h = (struct route_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->srv = srv;
    clx_rest_framing_config(srv, host);

    /* one listening socket; every loop accepts from its own dup of it */
    if ((srv->threads[0].fd = open_listener(&ss, sl, errmsg)) < 0) {
        rc = CLX_EIO;
        goto fail;
    }
    for (size_t i = 1; i < srv->nthreads; i++)
        srv->threads[i].fd = fcntl(srv->threads[0].fd, F_DUPFD_CLOEXEC, 0);
    {
        struct sockaddr_storage bound;
        socklen_t bl = sizeof(bound);
        getsockname(srv->threads[0].fd, (struct sockaddr *)&bound, &bl);
        srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
    }
    pthread_mutex_init(&srv->start_mu, NULL);
    pthread_mutex_init(&srv->jobs_mu, NULL);
    pthread_mutex_init(&srv->journal_mu, NULL);
    clx_rest_jobs_restore(srv);
    pthread_cond_init(&srv->start_cv, NULL);
    for (size_t i = 0; i < srv->nthreads; i++) {
        clx_rest_thread_t *t = &srv->threads[i];
        t->server = srv;
        t->id = i;
        t->free_arenas = clx_xcalloc(MAX_FREE_ARENAS, sizeof(*t->free_arenas));
        pthread_create(&t->tid, NULL, loop_main, t);
    }
    /* answer nothing before every loop is accepting */
    pthread_mutex_lock(&srv->start_mu);
    while (srv->started < srv->nthreads)
        pthread_cond_wait(&srv->start_cv, &srv->start_mu);
    pthread_mutex_unlock(&srv->start_mu);
    clx_log(CLX_LOG_INFO, "rest", "listening on %s (port %d, %zu loops)", cfg->addr, srv->port, srv->nthreads);
    *out = (clx_door_t){.ops = &rest_ops, .impl = srv, .port = srv->port};
    return CLX_OK;

fail:
    for (size_t i = 0; i < srv->nthreads; i++)
        if (srv->threads[i].fd >= 0)
            close(srv->threads[i].fd);
    h2o_config_dispose(&srv->globalconf);
    free(srv->threads);
    free(srv);
    return rc;
}

static void rest_quiesce(void *impl)
{
    clx_rest_t *r = impl;
    r->quiesced_at_ns = clx_mono_ns();
    atomic_store(&r->stopping, 1);
}

/* Every loop sees 'stopping' within one poll (50 ms) and closes its listener. */
#define LISTENERS_CLOSED_NS (100u * 1000000u)

static void rest_stop(void *impl, uint64_t deadline_ns)
{
    clx_rest_t *r = impl;
    for (uint64_t now = clx_mono_ns(); now < deadline_ns; now = clx_mono_ns()) {
        if (atomic_load(&r->inflight) == 0 && atomic_load(&r->backups) == 0 &&
            now - r->quiesced_at_ns >= LISTENERS_CLOSED_NS)
            break;
        usleep(10 * 1000);
    }
    while (atomic_load(&r->workers) != 0) /* a reprice writes through the writer, stopped after us */
        usleep(10 * 1000);
    if (atomic_load(&r->backups) != 0) {
        /* the store closes after us: a checkpoint still copying must finish first */
        clx_log(CLX_LOG_WARN, "rest", "waiting for the running backup to finish before stopping");
        while (atomic_load(&r->backups) != 0)
            usleep(50 * 1000);
    }
    atomic_store(&r->loops_exit, 1);
    for (size_t i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i].tid, NULL);
}

static void rest_destroy(void *impl)
{
    clx_rest_t *r = impl;
    clx_rest_jobs_free(r);
    /* contexts and loops are left to process exit: h2o 2.2 cannot dispose a loop with open
     * connections, and costlynxd destroys the server only on its way out */
    for (size_t i = 0; i < r->nthreads; i++) {
        clx_rest_thread_t *t = &r->threads[i];
        for (size_t k = 0; k < t->nfree_arenas; k++)
            clx_arena_destroy(t->free_arenas[k]);
        free(t->free_arenas);
    }
    free(r->threads);
    free(r);
}

static const clx_door_ops_t rest_ops = {
    .name = "rest",
    .quiesce = rest_quiesce,
    .stop = rest_stop,
    .destroy = rest_destroy,
};
