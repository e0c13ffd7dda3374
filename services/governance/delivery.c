/*
 * delivery.c — the alert delivery thread: drains due outbox items over HTTP, settles each
 * attempt durably, sleeps until the next due time or a wake.
 */
#include "clx_delivery.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_map.h"
#include "clx_mem.h"

#define IDLE_WAIT_MS 60000
#define DEFAULT_BATCH 32

struct clx_delivery {
    clx_delivery_config_t cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int woken, stopping;
    atomic_uint_fast64_t attempts, delivered, retried, failed;
};

clx_send_verdict_t clx_delivery_attempt(const clx_channel_t *ch, const char *alert_id, const void *payload,
                                        size_t payload_len, unsigned allow, long connect_timeout_ms, long timeout_ms,
                                        int64_t now_s, clx_http_result_t *res)
{
    char idh[64 + CLX_OUTBOX_ID_MAX], tsh[64], sigh[40 + CLX_WEBHOOK_SIGNATURE_LEN], sig[CLX_WEBHOOK_SIGNATURE_LEN + 1];
    const char *headers[4];
    size_t nh = 0;

    headers[nh++] = "Content-Type: application/json";
    snprintf(idh, sizeof(idh), CLX_ALERT_ID_HEADER ": %s", alert_id);
    headers[nh++] = idh;
    if (ch->kind == CLX_CHANNEL_WEBHOOK) {
        clx_webhook_sign(ch->secret, ch->secret_len, now_s, payload, payload_len, sig);
        snprintf(tsh, sizeof(tsh), CLX_WEBHOOK_TIMESTAMP_HEADER ": %lld", (long long)now_s);
        snprintf(sigh, sizeof(sigh), CLX_WEBHOOK_SIGNATURE_HEADER ": %s", sig);
        headers[nh++] = tsh;
        headers[nh++] = sigh;
    }
    clx_http_post_t req = {.url = ch->url,
                           .headers = headers,
                           .nheaders = nh,
                           .body = payload,
                           .body_len = payload_len,
                           .allow = allow,
                           .connect_timeout_ms = connect_timeout_ms,
                           .timeout_ms = timeout_ms};
    int rc = clx_http_post(&req, res);
    return clx_send_verdict(rc, res->status);
}

/* One attempt for one due item, settled in the outbox. */
static void deliver_one(clx_delivery_t *d, clx_outbox_item_t *it)
{
    clx_channel_t ch;
    clx_http_result_t res;
    clx_send_verdict_t v;
    int64_t now = clx_now_ms();
    int rc;

    memset(&ch, 0, sizeof(ch));
    memset(&res, 0, sizeof(res));
    rc = d->cfg.lookup(d->cfg.lookup_ctx, it->workspace, it->channel_id, &ch);
    if (rc == CLX_ENOTFOUND) {
        v = CLX_SEND_GIVE_UP;
        snprintf(res.error, sizeof(res.error), "channel %s no longer exists", it->channel_id);
    } else if (rc != CLX_OK) {
        v = CLX_SEND_RETRY;
        snprintf(res.error, sizeof(res.error), "channel %s could not be read: %s", it->channel_id, clx_strerror(rc));
    } else {
        atomic_fetch_add(&d->attempts, 1);
        v = clx_delivery_attempt(&ch, it->alert_id, it->payload, it->payload_len, d->cfg.allow,
                                 d->cfg.connect_timeout_ms, d->cfg.timeout_ms, now / 1000, &res);
        now = clx_now_ms();
    }
    if (v == CLX_SEND_RETRY) {
        uint64_t seed = clx_fnv1a64(CLX_FNV1A64_INIT, it->alert_id, strlen(it->alert_id));
        seed = clx_fnv1a64(seed, it->channel_id, strlen(it->channel_id));
        int64_t next = clx_backoff_next(&d->cfg.backoff, it->attempts + 1, it->created_ms, now, seed);
        if (next < 0) {
            char why[CLX_OUTBOX_ERROR_MAX];
            snprintf(why, sizeof(why), "gave up after %u attempts: %s", it->attempts + 1, res.error);
            rc = clx_outbox_mark_failed(d->cfg.outbox, it, why, now);
            atomic_fetch_add(&d->failed, 1);
        } else {
            rc = clx_outbox_mark_retry(d->cfg.outbox, it, res.error, next, now);
            atomic_fetch_add(&d->retried, 1);
        }
    } else if (v == CLX_SEND_GIVE_UP) {
        rc = clx_outbox_mark_failed(d->cfg.outbox, it, res.error, now);
        atomic_fetch_add(&d->failed, 1);
    } else {
        rc = clx_outbox_mark_delivered(d->cfg.outbox, it, now);
        atomic_fetch_add(&d->delivered, 1);
    }
    if (rc != CLX_OK) /* the attempt stays pending and is made again: at-least-once */
        clx_log(CLX_LOG_WARN, "alerts", "could not record the attempt for alert %s: %s", it->alert_id,
                clx_strerror(rc));
    else if (v != CLX_SEND_DONE)
        clx_log(CLX_LOG_INFO, "alerts", "alert %s to channel %s: %s (%s)", it->alert_id, it->channel_id,
                res.error, it->state == CLX_OUTBOX_FAILED ? "failed" : "will retry");
}

static void *run(void *arg)
{
    clx_delivery_t *d = arg;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        d->woken = 0;
        pthread_mutex_unlock(&d->lock);

        clx_outbox_item_t *items = NULL;
        size_t n = 0;
        int rc = clx_outbox_take_due(d->cfg.outbox, clx_now_ms(), d->cfg.batch, &items, &n);
        for (size_t i = 0; i < n; i++) {
            deliver_one(d, &items[i]);
            pthread_mutex_lock(&d->lock);
            int stop = d->stopping;
            pthread_mutex_unlock(&d->lock);
            if (stop)
                break;
        }
        clx_outbox_items_free(items, n);
        int64_t next = INT64_MAX;
        if (rc == CLX_OK && n < d->cfg.batch && clx_outbox_next_due(d->cfg.outbox, &next) != CLX_OK)
            next = INT64_MAX;
        if (rc != CLX_OK)
            clx_log(CLX_LOG_WARN, "alerts", "reading the outbox failed: %s", clx_strerror(rc));

        pthread_mutex_lock(&d->lock);
        if (rc == CLX_OK && n == d->cfg.batch)
            continue; /* a full batch: more may be due right away */
        int64_t now = clx_now_ms();
        int64_t until = next < now + IDLE_WAIT_MS ? next : now + IDLE_WAIT_MS;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts); /* due times are wall-clock ms */
        int64_t wait = until - now;
        if (wait > 0 && !d->woken && !d->stopping) {
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            while (!d->woken && !d->stopping && pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT)
                ;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int clx_delivery_start(const clx_delivery_config_t *cfg, clx_delivery_t **out)
{
    static const clx_backoff_t def = CLX_BACKOFF_DEFAULT;
    clx_delivery_t *d = clx_xcalloc(1, sizeof(*d));

    *out = NULL;
    d->cfg = *cfg;
    if (d->cfg.backoff.base_ms <= 0 || d->cfg.backoff.max_delay_ms <= 0 || d->cfg.backoff.horizon_ms <= 0)
        d->cfg.backoff = def;
    if (d->cfg.batch == 0)
        d->cfg.batch = DEFAULT_BATCH;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return CLX_EIO;
    }
    *out = d;
    return CLX_OK;
}

void clx_delivery_wake(clx_delivery_t *d)
{
    pthread_mutex_lock(&d->lock); /* held by the thread only between rounds, never during I/O */
    d->woken = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void clx_delivery_stop(clx_delivery_t *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void clx_delivery_stats(clx_delivery_t *d, clx_delivery_stats_t *out)
{
    out->attempts = atomic_load(&d->attempts);
    out->delivered = atomic_load(&d->delivered);
    out->retried = atomic_load(&d->retried);
    out->failed = atomic_load(&d->failed);
}
