/*
 * http.c — the outgoing side of alerts: URL and address checks against SSRF, and one POST
 * (common/clx_httpc.h) pinned to the checked address.
 */
#define _GNU_SOURCE /* strncasecmp, getaddrinfo under -std=c11 */
#include "clx_http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clx_error.h"

static const char *const class_names[CLX_ADDR_CLASS_COUNT_] = {
    [CLX_ADDR_PUBLIC] = "public",           [CLX_ADDR_LOOPBACK] = "loopback",
    [CLX_ADDR_PRIVATE] = "private",         [CLX_ADDR_LINK_LOCAL] = "link-local",
    [CLX_ADDR_UNSPECIFIED] = "unspecified", [CLX_ADDR_RESERVED] = "reserved",
};

const char *clx_addr_class_name(clx_addr_class_t c)
{
    return (unsigned)c < CLX_ADDR_CLASS_COUNT_ ? class_names[c] : "?";
}

/* IPv4 ranges that are not public, most specific first where they nest. */
static const struct v4_range {
    uint32_t net;
    int bits;
    clx_addr_class_t cls;
} v4_ranges[] = {
    {0x00000000, 8, CLX_ADDR_UNSPECIFIED}, /* 0/8: "this network"; 0.0.0.0 reaches this host */
    {0x0a000000, 8, CLX_ADDR_PRIVATE},     {0x64400000, 10, CLX_ADDR_PRIVATE}, /* 100.64/10 shared */
    {0x7f000000, 8, CLX_ADDR_LOOPBACK},    {0xa9fe0000, 16, CLX_ADDR_LINK_LOCAL},
    {0xac100000, 12, CLX_ADDR_PRIVATE},    {0xc0000000, 24, CLX_ADDR_RESERVED}, /* 192.0.0/24 */
    {0xc0000200, 24, CLX_ADDR_RESERVED},   /* TEST-NET-1 */
    {0xc0586300, 24, CLX_ADDR_RESERVED},   /* 6to4 relay */
    {0xc0a80000, 16, CLX_ADDR_PRIVATE},    {0xc6120000, 15, CLX_ADDR_RESERVED}, /* benchmarking */
    {0xc6336400, 24, CLX_ADDR_RESERVED},   /* TEST-NET-2 */
    {0xcb007100, 24, CLX_ADDR_RESERVED},   /* TEST-NET-3 */
    {0xe0000000, 4, CLX_ADDR_RESERVED},    /* multicast */
    {0xf0000000, 4, CLX_ADDR_RESERVED},    /* 240/4 and the broadcast address */
};

static clx_addr_class_t classify_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
        uint32_t mask = v4_ranges[i].bits == 0 ? 0 : 0xffffffffu << (32 - v4_ranges[i].bits);
        if ((a & mask) == v4_ranges[i].net)
            return v4_ranges[i].cls;
    }
    return CLX_ADDR_PUBLIC;
}

static uint32_t v4_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static clx_addr_class_t classify_v6(const unsigned char *a)
{
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

    if (memcmp(a, zero, 16) == 0)
        return CLX_ADDR_UNSPECIFIED;
    if (memcmp(a, zero, 15) == 0 && a[15] == 1)
        return CLX_ADDR_LOOPBACK;
    /* addresses that carry an IPv4 address are what that address is */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return classify_v4(v4_at(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 */
        return classify_v4(v4_at(a + 2));
    if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)) /* ULA, old site-local */
        return CLX_ADDR_PRIVATE;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return CLX_ADDR_LINK_LOCAL;
    if (a[0] == 0xff)
        return CLX_ADDR_RESERVED; /* multicast */
    if (a[0] == 0x20 && a[1] == 0x01 && ((a[2] == 0x0d && a[3] == 0xb8) || (a[2] == 0 && a[3] == 0)))
        return CLX_ADDR_RESERVED; /* documentation, Teredo (carries a hidden IPv4 address) */
    if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0)
        return CLX_ADDR_RESERVED; /* 100::/64 discard */
    return CLX_ADDR_PUBLIC;
}

clx_addr_class_t clx_addr_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return classify_v4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return classify_v6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return CLX_ADDR_RESERVED;
}

int clx_net_allow_parse(const char *s, unsigned *mask)
{
    unsigned m = 0;
    const char *p = s != NULL ? s : "";

    if (strcmp(p, "none") == 0)
        p = "";
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        int found = 0;
        for (int c = CLX_ADDR_LOOPBACK; c <= CLX_ADDR_LINK_LOCAL; c++)
            if (strlen(class_names[c]) == len && strncmp(p, class_names[c], len) == 0) {
                m |= 1u << c;
                found = 1;
            }
        if (!found)
            return CLX_EINVAL;
        p += len + (end != NULL);
    }
    *mask = m;
    return CLX_OK;
}

/* ---- URL ----------------------------------------------------------------------------- */

static int url_fail(char *err, size_t errlen, int rc, const char *url, const char *why)
{
    if (errlen > 0)
        snprintf(err, errlen, "%.100s: %s", url, why);
    return rc;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int url_parse(const char *url, clx_url_target_t *t, char *err, size_t errlen)
{
    size_t len = strlen(url);
    const char *p;

    memset(t, 0, sizeof(*t));
    if (len == 0 || len > CLX_URL_MAX)
        return url_fail(err, errlen, CLX_EINVAL, url, "URL empty or too long");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f || url[i] == '\\')
            return url_fail(err, errlen, CLX_EINVAL, url, "spaces, control characters or '\\' in the URL");
    if (strncasecmp(url, "https://", 8) == 0) {
        t->https = 1;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        return url_fail(err, errlen, CLX_EINVAL, url, "only http:// and https:// URLs are accepted");
    }
    size_t alen = strcspn(p, "/?#");
    if (memchr(p, '@', alen) != NULL)
        return url_fail(err, errlen, CLX_EINVAL, url, "credentials (user@) in the URL are not accepted");
    const char *port = NULL;
    if (p[0] == '[') { /* an IPv6 literal */
        const char *close = memchr(p, ']', alen);
        struct in6_addr a6;
        if (close == NULL || (size_t)(close - p - 1) >= sizeof(t->host))
            return url_fail(err, errlen, CLX_EINVAL, url, "bad IPv6 address");
        memcpy(t->host, p + 1, (size_t)(close - p - 1));
        if (inet_pton(AF_INET6, t->host, &a6) != 1)
            return url_fail(err, errlen, CLX_EINVAL, url, "bad IPv6 address");
        if (close + 1 < p + alen) {
            if (close[1] != ':')
                return url_fail(err, errlen, CLX_EINVAL, url, "bad authority");
            port = close + 2;
        }
    } else {
        size_t hlen = 0;
        while (hlen < alen && p[hlen] != ':')
            hlen++;
        if (hlen == 0 || hlen >= sizeof(t->host) - 2)
            return url_fail(err, errlen, CLX_EINVAL, url, "no host, or a host name too long");
        for (size_t i = 0; i < hlen; i++)
            if (!host_char(p[i]))
                return url_fail(err, errlen, CLX_EINVAL, url, "bad character in the host name");
        memcpy(t->host, p, hlen);
        if (hlen < alen)
            port = p + hlen + 1;
    }
    t->port = t->https ? 443 : 80;
    if (port != NULL) {
        unsigned v = 0;
        const char *q = port;
        while (q < p + alen && *q >= '0' && *q <= '9' && v <= 65535)
            v = v * 10 + (unsigned)(*q++ - '0');
        if (q == port || q != p + alen || v == 0 || v > 65535)
            return url_fail(err, errlen, CLX_EINVAL, url, "bad port");
        t->port = v;
    }
    return CLX_OK;
}

int clx_url_check(const char *url, unsigned allow, clx_url_target_t *out, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char why[400];
    int rc;

    if (errlen > 0)
        err[0] = '\0';
    if (url == NULL)
        return url_fail(err, errlen, CLX_EINVAL, "(null)", "no URL");
    rc = url_parse(url, out, err, errlen);
    if (rc != CLX_OK)
        return rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(out->host, NULL, &hints, &res);
    if (g != 0 || res == NULL) {
        snprintf(why, sizeof(why), "host %.255s does not resolve (%.80s)", out->host, gai_strerror(g));
        return url_fail(err, errlen, CLX_ENOTFOUND, url, why);
    }
    rc = CLX_OK;
    int chosen = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        char text[INET6_ADDRSTRLEN];
        const void *bytes = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                     : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, bytes, text, sizeof(text));
        clx_addr_class_t c = clx_addr_classify(ai->ai_addr);
        bool allowed = c == CLX_ADDR_PUBLIC ||
                       (c <= CLX_ADDR_LINK_LOCAL && (allow & (1u << c)) != 0); /* never unspecified/reserved */
        if (!allowed) {
            snprintf(why, sizeof(why), "%s is a%s %s address (refused%s)", text,
                     c == CLX_ADDR_UNSPECIFIED ? "n" : "", class_names[c],
                     c <= CLX_ADDR_LINK_LOCAL ? "; an operator can allow such webhook targets" : "");
            rc = url_fail(err, errlen, CLX_EFORBIDDEN, url, why);
            break;
        }
        if (!chosen) { /* the first acceptable address is the one we will connect to */
            memcpy(&out->addr, ai->ai_addr, ai->ai_addrlen);
            out->addrlen = ai->ai_addrlen;
            snprintf(out->addr_text, sizeof(out->addr_text), "%s", text);
            chosen = 1;
        }
    }
    freeaddrinfo(res);
    if (rc == CLX_OK && !chosen)
        rc = url_fail(err, errlen, CLX_ENOTFOUND, url, "no IPv4 or IPv6 address for the host");
    if (rc == CLX_OK) {
        if (out->addr.ss_family == AF_INET)
            ((struct sockaddr_in *)&out->addr)->sin_port = htons((uint16_t)out->port);
        else
            ((struct sockaddr_in6 *)&out->addr)->sin6_port = htons((uint16_t)out->port);
    }
    return rc;
}

/* ---- sending ------------------------------------------------------------------------- */

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 && x->sin6_port == y->sin6_port;
}

/* the client asks before connecting: only the checked address */
static int only_checked(void *arg, const struct sockaddr *addr)
{
    const clx_url_target_t *target = arg;
    return same_addr(addr, (const struct sockaddr *)&target->addr);
}

int clx_http_post(const clx_http_post_t *req, clx_http_result_t *res)
{
    clx_url_target_t target;
    char pin[400];
    int rc;

    memset(res, 0, sizeof(*res));
    rc = clx_url_check(req->url, req->allow, &target, res->error, sizeof(res->error));
    if (rc != CLX_OK)
        return rc;
    clx_httpc_t *c = clx_httpc_create("costlynx-alerts/1");
    if (c == NULL) {
        snprintf(res->error, sizeof(res->error), "cannot create an HTTP client");
        return CLX_EIO;
    }
    /* the host name resolves to the checked address, and nothing else may be connected to. An
       IPv6 literal ("[fd00::2]") is not resolved by libcurl, and its CURLOPT_RESOLVE entry cannot
       be parsed (7.88 refuses "fd00::2:443:[fd00::2]" and "[fd00::2]:443:..."): no pin then, the
       open-socket callback alone holds the connection to the checked address */
    snprintf(pin, sizeof(pin), target.addr.ss_family == AF_INET6 ? "%s:%u:[%s]" : "%s:%u:%s", target.host,
             target.port, target.addr_text);
    int literal6 = strchr(target.host, ':') != NULL;
    clx_httpc_req_t hr = {
        .url = req->url,
        .headers = req->headers,
        .nheaders = req->nheaders,
        .body = req->body,
        .body_len = req->body_len,
        .connect_timeout_ms = req->connect_timeout_ms,
        .timeout_ms = req->timeout_ms,
        .resolve = literal6 ? NULL : pin,
        .allow_connect = only_checked,
        .allow_arg = &target,
    };
    rc = clx_httpc_post(c, &hr, res);
    if (rc == CLX_EFORBIDDEN)
        snprintf(res->error, sizeof(res->error), "refused to connect to an address other than the checked %s",
                 target.addr_text);
    clx_httpc_destroy(c);
    return rc;
}

/* statuses after which a retry cannot help: the receiver said the request itself is wrong */
static const long give_up_statuses[] = {400, 401, 403, 404, 405, 410, 413, 422};

clx_send_verdict_t clx_send_verdict(int rc, long status)
{
    if (rc == CLX_EINVAL || rc == CLX_EFORBIDDEN)
        return CLX_SEND_GIVE_UP;
    if (rc != CLX_OK)
        return CLX_SEND_RETRY; /* DNS, refused, reset, timeout, TLS */
    if (status >= 200 && status <= 299)
        return CLX_SEND_DONE;
    for (size_t i = 0; i < sizeof(give_up_statuses) / sizeof(give_up_statuses[0]); i++)
        if (status == give_up_statuses[i])
            return CLX_SEND_GIVE_UP;
    return CLX_SEND_RETRY;
}
