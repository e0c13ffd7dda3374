/*
 * clx_alert.h — what an alert says and how it travels: the webhook body and its signature,
 * the Slack incoming-webhook message, and the retry schedule.
 *
 * Webhook requests carry (receivers verify; docs/governance.md has a Python snippet):
 *   X-Costlynx-Alert-Id:   the alert id, stable across retries (dedup on it: delivery is
 *                          at-least-once)
 *   X-Costlynx-Timestamp:  Unix seconds when this attempt was signed
 *   X-Costlynx-Signature:  "sha256=" + hex(HMAC-SHA256(channel secret, timestamp "." body))
 * Signing the timestamp with the body lets a receiver refuse replays: a captured request
 * cannot be re-sent later with a fresh timestamp without the secret.
 *
 * JSON is written here with a small escaper rather than yajl: these are outgoing documents
 * of fixed shape, and the REST door keeps the only JSON parser.
 */
#ifndef CLX_ALERT_H
#define CLX_ALERT_H

#include <stddef.h>
#include <stdint.h>

#define CLX_ALERT_ID_HEADER "X-Costlynx-Alert-Id"
#define CLX_WEBHOOK_TIMESTAMP_HEADER "X-Costlynx-Timestamp"
#define CLX_WEBHOOK_SIGNATURE_HEADER "X-Costlynx-Signature"
#define CLX_WEBHOOK_SIGNATURE_LEN 71 /* "sha256=" + 64 hex digits */
#define CLX_WEBHOOK_TOLERANCE_S 300  /* a receiver's suggested window for timestamps */

/*
 * Writes the signature header value for (timestamp, body) under secret into out
 * (CLX_WEBHOOK_SIGNATURE_LEN + 1 bytes, NUL-terminated). Cannot fail.
 */
void clx_webhook_sign(const void *secret, size_t secret_len, int64_t timestamp, const void *body, size_t body_len,
                      char out[CLX_WEBHOOK_SIGNATURE_LEN + 1]);
/*
 * Checks a received request as a receiver would: timestamp is the header text, signature
 * the header value. CLX_OK; CLX_EINVAL when the timestamp is not a number or is more than
 * tolerance_s away from now_s (a replay or a skewed clock); CLX_EUNAUTH when the signature
 * does not match (compared in constant time).
 */
int clx_webhook_verify(const void *secret, size_t secret_len, const char *timestamp, const void *body,
                       size_t body_len, const char *signature, int64_t now_s, int64_t tolerance_s);

/* A name/value line of an alert ("Budget", "Team A monthly"). */
typedef struct clx_alert_field {
    const char *name;
    const char *value;
} clx_alert_field_t;

/* What an alert says; strings are UTF-8 (ill-formed bytes are replaced by U+FFFD). */
typedef struct clx_alert_msg {
    const char *id;        /* stable alert id, e.g. "budget:team-a:2026-03:8000" */
    const char *kind;      /* "budget_threshold", "anomaly", "new_model", … */
    const char *workspace;
    const char *title;     /* one line */
    const char *text;      /* a few sentences */
    const clx_alert_field_t *fields;
    size_t nfields;
    int64_t at_ms;         /* when the condition was detected */
    const char *link;      /* dashboard URL, or NULL */
} clx_alert_msg_t;

/* ms as RFC 3339 UTC with milliseconds ("2026-03-01T00:00:00.000Z") into out. Cannot fail. */
void clx_alert_iso(int64_t ms, char out[32]);

/*
 * The webhook JSON body: {"id","kind","workspace","title","text","at" (RFC 3339 UTC, ms),
 * "fields":{name: value…},"link"}. Returns a malloc'd NUL-terminated string (caller
 * frees) and its length in *len. NULL strings are written as "".
 */
char *clx_alert_webhook_json(const clx_alert_msg_t *m, size_t *len);
/*
 * A Slack incoming-webhook message: "text" (the notification fallback) and "blocks": a
 * header (title, cut at 150 characters), a mrkdwn section (text, cut at 3000), up to 10
 * fields, and a context line with the workspace and the alert id. User text is escaped for
 * mrkdwn (&, <, >) so it cannot mention @channel or forge links. Returns malloc'd JSON.
 */
char *clx_alert_slack_json(const clx_alert_msg_t *m, size_t *len);

/* Retry schedule: exponential from base, each delay capped, all attempts within horizon. */
typedef struct clx_backoff {
    int64_t base_ms;      /* delay after the first failure */
    int64_t max_delay_ms; /* cap of one delay */
    int64_t horizon_ms;   /* no attempt later than first attempt + horizon */
} clx_backoff_t;
#define CLX_BACKOFF_DEFAULT {30000, 3600000, 86400000}

/*
 * When to try again after `failures` failed attempts (>= 1) of an item first tried at
 * first_ms, now being now_ms: now + d, with d = min(base x 2^(failures-1), max_delay)
 * scaled by a jitter factor in [0.5, 1.0] drawn from seed and failures (deterministic, so
 * a schedule can be tested; different items spread out). When that passes the horizon the
 * last attempt is placed at the horizon itself; once now has reached the horizon, returns
 * -1: give up.
 */
int64_t clx_backoff_next(const clx_backoff_t *b, uint32_t failures, int64_t first_ms, int64_t now_ms, uint64_t seed);

#endif
