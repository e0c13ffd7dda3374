/*
 * clx_delivery.h — the one thread that sends alerts: it takes due items from the outbox,
 * looks up their channel, POSTs (signed for webhooks), and settles each attempt in the
 * outbox (delivered; retry on the backoff schedule; failed with the last error).
 *
 * Callers never wait on the network: they enqueue (one synced RocksDB write) and call
 * clx_delivery_wake, which only signals. The thread sleeps until the earliest due item,
 * a wake, or at most a minute. Channels are looked up at each attempt, so a rotated secret
 * or a corrected URL applies to pending retries. An item whose channel is gone fails.
 */
#ifndef CLX_DELIVERY_H
#define CLX_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "clx_alert.h"
#include "clx_http.h"
#include "clx_outbox.h"

typedef enum clx_channel_kind {
    CLX_CHANNEL_WEBHOOK = 0, /* our JSON, signed */
    CLX_CHANNEL_SLACK,       /* a Slack incoming webhook: the payload is Slack's JSON, unsigned */
} clx_channel_kind_t;

/* A channel as the delivery thread needs it. */
typedef struct clx_channel {
    clx_channel_kind_t kind;
    char url[CLX_URL_MAX + 1];
    unsigned char secret[128]; /* webhook signing secret */
    size_t secret_len;
} clx_channel_t;

/*
 * Fills *out for (workspace, channel_id). Returns CLX_OK, CLX_ENOTFOUND (the channel was
 * deleted: the item fails), or another code (treated as transient: retried). Called on the
 * delivery thread.
 */
typedef int (*clx_channel_lookup_fn)(void *ctx, const char *workspace, const char *channel_id, clx_channel_t *out);

typedef struct clx_delivery_config {
    clx_outbox_t *outbox;
    clx_channel_lookup_fn lookup;
    void *lookup_ctx;
    unsigned allow;           /* CLX_NET_ALLOW_* (the operator's flag) */
    long connect_timeout_ms;  /* 0: 5 s */
    long timeout_ms;          /* 0: 15 s */
    clx_backoff_t backoff;    /* all zero: CLX_BACKOFF_DEFAULT */
    size_t batch;             /* items taken per round; 0: 32 */
} clx_delivery_config_t;

typedef struct clx_delivery clx_delivery_t;

/* Starts the thread. CLX_OK with *out, or CLX_EIO when the thread cannot start. */
int clx_delivery_start(const clx_delivery_config_t *cfg, clx_delivery_t **out);
/* Asks the thread to look for due items now. Never blocks on I/O; callable from any thread. */
void clx_delivery_wake(clx_delivery_t *d);
/*
 * Stops the thread after its current attempt (bounded by the timeouts) and frees d.
 * Pending items stay in the outbox for the next start. NULL is a no-op.
 */
void clx_delivery_stop(clx_delivery_t *d);

typedef struct clx_delivery_stats {
    uint64_t attempts, delivered, retried, failed;
} clx_delivery_stats_t;
void clx_delivery_stats(clx_delivery_t *d, clx_delivery_stats_t *out);

/*
 * One attempt for item it over channel ch, as the thread makes it (exposed for a "send a
 * test message" button and for tests): builds the headers, signs webhooks at now_s, POSTs.
 * Returns the verdict and fills *res.
 */
clx_send_verdict_t clx_delivery_attempt(const clx_channel_t *ch, const char *alert_id, const void *payload,
                                        size_t payload_len, unsigned allow, long connect_timeout_ms, long timeout_ms,
                                        int64_t now_s, clx_http_result_t *res);

#endif
