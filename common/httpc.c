/*
 * httpc.c — the one libcurl client of costlynxd: a kept-alive handle per client, POST with
 * timeouts, optional basic auth and address pinning, and errors kept as text.
 */
#include "clx_httpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clx_error.h"
#include "clx_mem.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS 15000

struct clx_httpc {
    CURL *h;
    char *user_agent;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void clx_http_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

clx_httpc_t *clx_httpc_create(const char *user_agent)
{
    clx_http_global_init();
    CURL *h = curl_easy_init();
    if (h == NULL)
        return NULL;
    clx_httpc_t *c = clx_xcalloc(1, sizeof(*c));
    c->h = h;
    c->user_agent = clx_xstrdup(user_agent != NULL ? user_agent : "costlynx");
    return c;
}

void clx_httpc_destroy(clx_httpc_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->h);
    free(c->user_agent);
    free(c);
}

typedef struct send_ctx {
    const clx_httpc_req_t *req;
    clx_httpc_result_t *res;
    int refused; /* allow_connect said no */
    size_t head;
} send_ctx_t;

/* libcurl asks for a socket to the address it is about to connect to */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    send_ctx_t *c = clientp;
    if (purpose != CURLSOCKTYPE_IPCXN || !c->req->allow_connect(c->req->allow_arg, &address->addr)) {
        c->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    send_ctx_t *c = clientp;
    return c->req->cancelled(c->req->cancel_arg) ? 1 : 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    send_ctx_t *c = userp;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n && c->head + 1 < sizeof(c->res->body_head); i++) {
        unsigned char ch = (unsigned char)data[i];
        c->res->body_head[c->head++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    c->res->body_head[c->head] = '\0';
    return n; /* the rest is read and dropped; the total timeout bounds a never-ending answer */
}

int clx_httpc_post(clx_httpc_t *c, const clx_httpc_req_t *req, clx_httpc_result_t *res)
{
    send_ctx_t ctx;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL, *resolve = NULL;
    CURL *h = c->h;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&ctx, 0, sizeof(ctx));
    ctx.req = req;
    ctx.res = res;
    /* options start afresh for every request; the connection cache survives the reset */
    curl_easy_reset(h);
    if (req->resolve != NULL) {
        resolve = curl_slist_append(NULL, req->resolve);
        curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    }
    if (req->allow_connect != NULL) {
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &ctx);
    }
    if (req->cancelled != NULL) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);
    }
    for (size_t i = 0; i < req->nheaders; i++)
        hdrs = curl_slist_append(hdrs, req->headers[i]);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (req->user != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, req->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
    }
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never through a proxy from the environment */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (ctx.refused)
            snprintf(res->error, sizeof(res->error), "refused to connect to that address");
        else
            snprintf(res->error, sizeof(res->error), "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
        rc = ctx.refused ? CLX_EFORBIDDEN : CLX_EIO;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
        if (res->status < 200 || res->status > 299)
            snprintf(res->error, sizeof(res->error), "HTTP %ld%s%s", res->status, res->body_head[0] ? ": " : "",
                     res->body_head);
        rc = CLX_OK;
    }
    /* the handle keeps pointers to these until the next reset: clear them first */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_RESOLVE, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    return rc;
}
