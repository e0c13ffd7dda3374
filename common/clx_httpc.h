/*
 * clx_httpc.h — outgoing HTTP POSTs over libcurl: one client is one libcurl handle, so the
 * connection to a server is kept alive from one request to the next.
 *
 * Two users: alert webhooks (services/governance/clx_http.h puts an SSRF guard in front and
 * pins the checked address through `resolve` and `allow_connect`) and the ClickHouse
 * exporter (an operator-configured URL: no guard; basic auth, a kept-alive connection and
 * the server's error text). A client is used by one thread at a time; different clients
 * may run on different threads at once.
 */
#ifndef CLX_HTTPC_H
#define CLX_HTTPC_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Initialises libcurl for the process, once (later calls do nothing). Call it from main()
 * before starting threads: libcurl's global setup is not thread-safe on every build.
 * clx_httpc_create also calls it, for programs (tests) that did not.
 */
void clx_http_global_init(void);

typedef struct clx_httpc clx_httpc_t;

/*
 * A client whose requests send user_agent (copied). Cannot fail except when libcurl cannot
 * make a handle: then NULL.
 */
clx_httpc_t *clx_httpc_create(const char *user_agent);
/* Closes the kept connection and frees. NULL is a no-op. */
void clx_httpc_destroy(clx_httpc_t *c);

/* One POST. Every pointer is the caller's and only read during clx_httpc_post. */
typedef struct clx_httpc_req {
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *user; /* HTTP basic auth when not NULL (password may then be NULL: empty) */
    const char *password;
    long connect_timeout_ms; /* 0: 5 s */
    long timeout_ms;         /* 0: 15 s, for the whole exchange */
    /* "host:port:address" (libcurl's CURLOPT_RESOLVE): the host resolves to address only */
    const char *resolve;
    /* asked before every connection with the address about to be connected to: 0 refuses it
     * (the request then fails with CLX_EFORBIDDEN); NULL allows any */
    int (*allow_connect)(void *arg, const struct sockaddr *addr);
    void *allow_arg;
    /* polled while the request runs (a few times a second): non-zero aborts it with CLX_EIO
     * (e.g. a shutdown); NULL: never */
    int (*cancelled)(void *arg);
    void *cancel_arg;
} clx_httpc_req_t;

typedef struct clx_httpc_result {
    long status;         /* HTTP status, 0 when no answer */
    char error[256];     /* why it failed, in words; "" on a 2xx */
    char body_head[200]; /* the start of the answer's body (printable ASCII), for error reports */
} clx_httpc_result_t;

/*
 * Sends req and reads the whole answer (only its start is kept). Returns CLX_OK when the
 * server answered, whatever the status (for a non-2xx, res->error is "HTTP <status>: <body
 * start>"); CLX_EIO when the transfer failed (refused, reset, timed out, TLS), with
 * libcurl's words in res->error; CLX_EFORBIDDEN when allow_connect refused the address.
 * Redirects are not followed and no proxy is used (not even one named by the environment).
 * Blocks up to timeout_ms.
 */
int clx_httpc_post(clx_httpc_t *c, const clx_httpc_req_t *req, clx_httpc_result_t *res);

#endif
