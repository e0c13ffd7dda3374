/*
 * alert.c — alert documents (webhook JSON, Slack blocks), HMAC signatures over timestamp
 * and body, and the jittered exponential retry schedule.
 */
#include "clx_alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clx_error.h"
#include "clx_mem.h"
#include "clx_tz.h"
#include "clx_utf8.h"

#define SLACK_HEADER_MAX 150
#define SLACK_TEXT_MAX 3000
#define SLACK_FIELD_MAX 2000
#define SLACK_FIELDS_MAX 10

/* ---- signatures ------------------------------------------------------------------------ */

void clx_webhook_sign(const void *secret, size_t secret_len, int64_t timestamp, const void *body, size_t body_len,
                      char out[CLX_WEBHOOK_SIGNATURE_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    unsigned int maclen = 0;
    char ts[24];
    int tslen = snprintf(ts, sizeof(ts), "%lld.", (long long)timestamp);
    /* the signed message is "<timestamp>.<body>"; one-shot HMAC() needs it in one piece */
    unsigned char *msg = clx_xmalloc((size_t)tslen + body_len + 1);

    memcpy(msg, ts, (size_t)tslen);
    if (body_len > 0)
        memcpy(msg + tslen, body, body_len);
    if (HMAC(EVP_sha256(), secret, (int)secret_len, msg, (size_t)tslen + body_len, mac, &maclen) == NULL ||
        maclen != 32)
        abort(); /* only out of memory gets here */
    free(msg);
    memcpy(out, "sha256=", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[CLX_WEBHOOK_SIGNATURE_LEN] = '\0';
}

int clx_webhook_verify(const void *secret, size_t secret_len, const char *timestamp, const void *body,
                       size_t body_len, const char *signature, int64_t now_s, int64_t tolerance_s)
{
    char want[CLX_WEBHOOK_SIGNATURE_LEN + 1];
    char *end = NULL;

    if (timestamp == NULL || signature == NULL || timestamp[0] < '0' || timestamp[0] > '9')
        return CLX_EINVAL;
    long long ts = strtoll(timestamp, &end, 10);
    if (*end != '\0' || ts - now_s > tolerance_s || now_s - ts > tolerance_s)
        return CLX_EINVAL;
    clx_webhook_sign(secret, secret_len, ts, body, body_len, want);
    if (strlen(signature) != CLX_WEBHOOK_SIGNATURE_LEN || CRYPTO_memcmp(want, signature, CLX_WEBHOOK_SIGNATURE_LEN))
        return CLX_EUNAUTH;
    return CLX_OK;
}

/* ---- JSON text ------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        while (b->n + len + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 512;
        b->p = clx_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/*
 * Appends s as a JSON string (quotes included), at most max characters (code points; 0 =
 * no limit; a cut ends in "…"). mrkdwn additionally escapes &, <, > as Slack asks.
 * Ill-formed UTF-8 becomes U+FFFD.
 */
static void sb_json(sbuf_t *b, const char *s, size_t max, int mrkdwn)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    size_t len = strlen((const char *)p), chars = 0;

    sb_add(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        if (max != 0 && chars == max - 1 && i < len) {
            /* one place left: the ellipsis, unless exactly one character remains */
            size_t k = clx_utf8_seq(p + i, len - i);
            if (i + (k ? k : 1) < len) {
                sb_str(b, "\xe2\x80\xa6");
                break;
            }
        }
        unsigned char c = p[i];
        size_t k = clx_utf8_seq(p + i, len - i);
        chars++;
        if (k == 0) {
            sb_str(b, "\xef\xbf\xbd");
            i++;
            continue;
        }
        if (k > 1) {
            sb_add(b, (const char *)p + i, k);
            i += k;
            continue;
        }
        i++;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_add(b, e, 2);
        } else if (c == '\n') {
            sb_str(b, "\\n");
        } else if (c < 0x20 || c == 0x7f) {
            char e[8];
            snprintf(e, sizeof(e), "\\u%04x", c);
            sb_str(b, e);
        } else if (mrkdwn && c == '&') {
            sb_str(b, "&amp;");
        } else if (mrkdwn && c == '<') {
            sb_str(b, "&lt;");
        } else if (mrkdwn && c == '>') {
            sb_str(b, "&gt;");
        } else {
            sb_add(b, (const char *)&c, 1);
        }
    }
    sb_add(b, "\"", 1);
}

void clx_alert_iso(int64_t ms, char out[32])
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    clx_civil_t c;
    clx_tz_civil(clx_tz_utc(), s, &c);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day, c.hour, c.minute, c.second,
             (int)(ms - s * 1000));
}

char *clx_alert_webhook_json(const clx_alert_msg_t *m, size_t *len)
{
    sbuf_t b = {0};
    char at[32];

    clx_alert_iso(m->at_ms, at);
    sb_str(&b, "{\"id\":");
    sb_json(&b, m->id, 0, 0);
    sb_str(&b, ",\"kind\":");
    sb_json(&b, m->kind, 0, 0);
    sb_str(&b, ",\"workspace\":");
    sb_json(&b, m->workspace, 0, 0);
    sb_str(&b, ",\"title\":");
    sb_json(&b, m->title, 0, 0);
    sb_str(&b, ",\"text\":");
    sb_json(&b, m->text, 0, 0);
    sb_str(&b, ",\"at\":");
    sb_json(&b, at, 0, 0);
    sb_str(&b, ",\"fields\":{");
    for (size_t i = 0; i < m->nfields; i++) {
        if (i > 0)
            sb_str(&b, ",");
        sb_json(&b, m->fields[i].name, 0, 0);
        sb_str(&b, ":");
        sb_json(&b, m->fields[i].value, 0, 0);
    }
    sb_str(&b, "},\"link\":");
    if (m->link != NULL)
        sb_json(&b, m->link, 0, 0);
    else
        sb_str(&b, "null");
    sb_str(&b, "}");
    *len = b.n;
    return b.p;
}

char *clx_alert_slack_json(const clx_alert_msg_t *m, size_t *len)
{
    sbuf_t b = {0};
    sbuf_t fb = {0}, tmp = {0};

    /* the notification text: title, then the text (both plain: Slack shows it in pop-ups) */
    sb_str(&fb, m->title != NULL ? m->title : "");
    if (m->text != NULL && m->text[0] != '\0') {
        sb_str(&fb, ": ");
        sb_str(&fb, m->text);
    }
    sb_str(&b, "{\"text\":");
    sb_json(&b, fb.p, SLACK_TEXT_MAX, 1);
    sb_str(&b, ",\"blocks\":[{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":");
    sb_json(&b, m->title, SLACK_HEADER_MAX, 0);
    sb_str(&b, ",\"emoji\":false}},{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":");
    sb_json(&b, m->text != NULL && m->text[0] != '\0' ? m->text : " ", SLACK_TEXT_MAX, 1);
    sb_str(&b, "}}");
    if (m->nfields > 0) {
        sb_str(&b, ",{\"type\":\"section\",\"fields\":[");
        for (size_t i = 0; i < m->nfields && i < SLACK_FIELDS_MAX; i++) {
            /* "*name*\nvalue": the name bold; both escaped for mrkdwn (the asterisks are ours) */
            tmp.n = 0;
            sb_str(&tmp, "*");
            sb_str(&tmp, m->fields[i].name != NULL ? m->fields[i].name : "");
            sb_str(&tmp, "*\n");
            sb_str(&tmp, m->fields[i].value != NULL ? m->fields[i].value : "");
            sb_str(&b, i > 0 ? ",{\"type\":\"mrkdwn\",\"text\":" : "{\"type\":\"mrkdwn\",\"text\":");
            sb_json(&b, tmp.p, SLACK_FIELD_MAX, 1);
            sb_str(&b, "}");
        }
        sb_str(&b, "]}");
    }
    tmp.n = 0;
    sb_str(&tmp, "costlynx \xc2\xb7 workspace ");
    sb_str(&tmp, m->workspace != NULL ? m->workspace : "");
    sb_str(&tmp, " \xc2\xb7 alert ");
    sb_str(&tmp, m->id != NULL ? m->id : "");
    sb_str(&b, ",{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":");
    sb_json(&b, tmp.p, SLACK_TEXT_MAX, 1);
    sb_str(&b, "}]}");
    if (m->link != NULL && (strncmp(m->link, "https://", 8) == 0 || strncmp(m->link, "http://", 7) == 0)) {
        sb_str(&b, ",{\"type\":\"actions\",\"elements\":[{\"type\":\"button\",\"text\":{\"type\":\"plain_text\","
                   "\"text\":\"Open in costlynx\"},\"url\":");
        sb_json(&b, m->link, SLACK_TEXT_MAX, 0);
        sb_str(&b, "}]}");
    }
    sb_str(&b, "]}");
    free(fb.p);
    free(tmp.p);
    *len = b.n;
    return b.p;
}

/* ---- backoff ----------------------------------------------------------------------------- */

int64_t clx_backoff_next(const clx_backoff_t *b, uint32_t failures, int64_t first_ms, int64_t now_ms, uint64_t seed)
{
    int64_t deadline = first_ms + b->horizon_ms;
    int64_t d = b->base_ms;

    if (now_ms >= deadline)
        return -1;
    for (uint32_t i = 1; i < failures && d < b->max_delay_ms; i++)
        d *= 2;
    if (d > b->max_delay_ms)
        d = b->max_delay_ms;
    /* splitmix64 of (seed, failures): a jitter that differs per item and per attempt */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (failures + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    int64_t half = d / 2;
    d = half + (half > 0 ? (int64_t)(z % (uint64_t)(half + 1)) : 0); /* [d/2, d] */
    int64_t next = now_ms + (d > 0 ? d : 1);
    return next < deadline ? next : deadline;
}
