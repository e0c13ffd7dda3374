/*
 * clx_http.h — outgoing webhook requests: a URL guard against SSRF in front of the libcurl
 * client of common/clx_httpc.h.
 *
 * A webhook URL is chosen by a workspace admin, and costlynxd runs next to things an admin
 * of one workspace must not reach: its own admin API on loopback, a cloud metadata service
 * on 169.254.169.254, the operator's private network. So before any request:
 *   - the URL must be http:// or https://, with a host, no user:password@, no whitespace;
 *   - the host is resolved here, and EVERY address it resolves to must be in an allowed
 *     class (a name that resolves to one public and one private address is refused);
 *   - the request then goes to the address that was checked (CURLOPT_RESOLVE pins it, and
 *     an open-socket callback refuses any other), never to a second lookup's answer, so DNS
 *     rebinding cannot swap the address; redirects are not followed; proxies are not used.
 * Address classes (IPv4, IPv6, and IPv4 inside IPv6: v4-mapped, v4-compatible, NAT64
 * 64:ff9b::/96, 6to4 2002::/16 are judged by the IPv4 address they carry):
 *   loopback     127/8, ::1
 *   private      10/8, 172.16/12, 192.168/16, 100.64/10 (shared/CGNAT), fc00::/7
 *   link-local   169.254/16 (cloud metadata), fe80::/10
 *   unspecified  0/8, :: (connecting to 0.0.0.0 reaches this host)       — never allowed
 *   reserved     multicast, 240/4, broadcast, 192.0.0/24, documentation,
 *                benchmarking ranges, ff00::/8, 2001:db8::/32             — never allowed
 *   public       everything else
 * Refused by default: all but public. An operator flag (later --webhook-allow=private,
 * loopback, link-local) adds classes; unspecified and reserved cannot be allowed.
 */
#ifndef CLX_HTTP_H
#define CLX_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "clx_httpc.h" /* the libcurl client these requests go through; clx_http_global_init */

typedef enum clx_addr_class {
    CLX_ADDR_PUBLIC = 0,
    CLX_ADDR_LOOPBACK,
    CLX_ADDR_PRIVATE,
    CLX_ADDR_LINK_LOCAL,
    CLX_ADDR_UNSPECIFIED,
    CLX_ADDR_RESERVED,
    CLX_ADDR_CLASS_COUNT_
} clx_addr_class_t;

/* Bits for the allow mask. */
#define CLX_NET_ALLOW_LOOPBACK (1u << CLX_ADDR_LOOPBACK)
#define CLX_NET_ALLOW_PRIVATE (1u << CLX_ADDR_PRIVATE)
#define CLX_NET_ALLOW_LINK_LOCAL (1u << CLX_ADDR_LINK_LOCAL)

/* "public", "loopback", "private", "link-local", "unspecified", "reserved". Static. */
const char *clx_addr_class_name(clx_addr_class_t c);
/* The class of an AF_INET or AF_INET6 address (other families: reserved). */
clx_addr_class_t clx_addr_classify(const struct sockaddr *sa);
/*
 * Parses "private,loopback,link-local" (any order, "" or "none" = nothing) into an allow
 * mask. CLX_OK or CLX_EINVAL (an unknown or never-allowed class).
 */
int clx_net_allow_parse(const char *s, unsigned *mask);

#define CLX_URL_MAX 2048

/* A checked target: where to connect. */
typedef struct clx_url_target {
    int https;
    char host[256];             /* as in the URL, without brackets */
    unsigned port;
    struct sockaddr_storage addr; /* the address to connect to */
    socklen_t addrlen;
    char addr_text[64];         /* numeric form, e.g. "203.0.113.9" or "2001:db8::1" */
} clx_url_target_t;

/*
 * Parses url, resolves its host and checks every address against allow. CLX_OK with *out;
 * CLX_EINVAL for a URL that is not acceptable; CLX_ENOTFOUND when the host does not resolve
 * (may be transient: DNS); CLX_EFORBIDDEN when an address is in a refused class. On failure
 * err (errlen bytes) says why in words, e.g. "http://10.0.0.7/x: 10.0.0.7 is a private
 * address (refused; an operator can allow private targets)".
 */
int clx_url_check(const char *url, unsigned allow, clx_url_target_t *out, char *err, size_t errlen);

/* One POST. Header lines are "Name: value". Timeouts in ms (0 = the defaults: 5 s, 15 s). */
typedef struct clx_http_post {
    const char *url;
    const char *const *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    unsigned allow;
    long connect_timeout_ms;
    long timeout_ms;
} clx_http_post_t;

/* The answer: status, error text and the body's start (clx_httpc.h). */
typedef clx_httpc_result_t clx_http_result_t;

/*
 * Sends req. Returns CLX_OK when the server answered (any status: see res->status; for a
 * non-2xx res->error says "HTTP 503: <body start>"), CLX_EINVAL / CLX_ENOTFOUND /
 * CLX_EFORBIDDEN from the URL guard (nothing was sent), CLX_EIO when the transfer failed
 * (refused, reset, timed out, TLS), with res->error from libcurl. Blocks up to timeout_ms;
 * safe from any thread (each call has its own handle).
 */
int clx_http_post(const clx_http_post_t *req, clx_http_result_t *res);

/* What a delivery does after an attempt. */
typedef enum clx_send_verdict {
    CLX_SEND_DONE = 0,  /* 2xx */
    CLX_SEND_RETRY,     /* transport failure, 408, 425, 429, 5xx, other statuses, DNS failure */
    CLX_SEND_GIVE_UP,   /* retrying cannot help: a refused URL, or 400/401/403/404/405/410/413/422 */
} clx_send_verdict_t;
/* The verdict for clx_http_post's return code and status (table in http.c). */
clx_send_verdict_t clx_send_verdict(int rc, long status);

#endif
