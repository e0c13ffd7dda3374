/*
 * exporter.c — the ClickHouse export thread: batches from the event log after a durable
 * cursor, RowBinary INSERTs over HTTP, retries with backoff, counters for /metrics.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "clx_exporter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clx_clickhouse.h"
#include "clx_error.h"
#include "clx_export.h"
#include "clx_httpc.h"
#include "clx_log.h"
#include "clx_mem.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define DEFAULT_TIMEOUT_MS 60000
#define FAILURE_LOG_EVERY_MS 60000

/* One INSERT's worth of rows: (after, end_seq], encoded. */
typedef struct batch {
    clx_bytes_t body;
    size_t nrows;
    uint64_t first_seq, end_seq;
    /* the POST, run on a helper thread while the next batch is built */
    pthread_t sender;
    int rc;
    char why[600];
    uint64_t sent_ns;
} batch_t;

struct clx_exporter {
    clx_store_t *store;
    char *url;      /* the INSERT's URL: the base, plus the query */
    char *base_url; /* as configured: other statements go there as the POST's body */
    int columns_ok; /* the table has every column of ours (checked before the first INSERT, and
                       again after a failed one); the thread's own */
    char *cursor;   /* the cursor's name */
    char *user, *password, *cell;
    clx_ch_target_t target;
    char *database, *table;
    size_t batch_rows;
    unsigned interval_ms;
    long timeout_ms;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;            /* under mu; also read unlocked by the cancel poll */
    clx_exporter_stats_t st; /* under mu */

    /* the thread's own: the batch being sent and the next one, built meanwhile */
    clx_export_cursor_t cur;
    clx_httpc_t *http;
    batch_t batches[2];
    batch_t *building; /* add_row's target */
    clx_arena_t *arena;
};

/* ---- configuration ---------------------------------------------------------------------------- */

/* Percent-encodes s for a URL query value. */
static void url_escape(clx_bytes_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            clx_bytes_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            clx_bytes_append(b, e, 3);
        }
    }
}

/*
 * The destination's identity for the cursor name: scheme://host[:port]/path of the URL
 * without user:password@ and without the query, then "/database.table".
 */
static char *destination_name(const char *url, const char *db, const char *table)
{
    clx_bytes_t b = {0};
    const char *p = strstr(url, "://");
    const char *auth = p != NULL ? p + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    clx_bytes_append(&b, url, (size_t)(auth - url));
    const char *host = at != NULL ? at + 1 : auth;
    size_t rest = strcspn(host, "?#");
    while (rest > 0 && host[rest - 1] == '/')
        rest--;
    clx_bytes_append(&b, host, rest);
    clx_bytes_printf(&b, "/%s.%s", db, table);
    char *out = clx_xstrndup((const char *)b.p, b.len);
    free(b.p);
    return out;
}

static int fail_with(char **errmsg, int rc, const char *fmt, const char *what)
{
    if (errmsg != NULL) {
        size_t n = strlen(fmt) + strlen(what) + 1;
        *errmsg = clx_xmalloc(n);
        snprintf(*errmsg, n, fmt, what);
    }
    return rc;
}

/* ---- the thread --------------------------------------------------------------------------- */

static int stop_requested(void *arg)
{
    clx_exporter_t *e = arg;
    return __atomic_load_n(&e->stopping, __ATOMIC_RELAXED);
}

/* Waits up to ms or until stop; returns 1 when stopping. */
static int wait_ms(clx_exporter_t *e, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        if (pthread_cond_timedwait(&e->cv, &e->mu, &until) != 0)
            break;
    }
    int stopping = e->stopping;
    pthread_mutex_unlock(&e->mu);
    return stopping;
}

/* Event log callback: one StoredEvent -> one RowBinary row of the batch being built. */
static int add_row(void *arg, const clx_logged_event_t *lev)
{
    clx_exporter_t *e = arg;
    batch_t *b = e->building;
    ProtobufCAllocator alloc;

    clx_arena_reset(e->arena);
    clx_arena_allocator(e->arena, &alloc);
    Costlynx__Store__V1__StoredEvent *ev =
        costlynx__store__v1__stored_event__unpack(&alloc, lev->vlen, (const uint8_t *)lev->value);
    if (ev == NULL) {
        clx_log(CLX_LOG_ERROR, "export", "event %llu of workspace %s is unreadable; the export waits here",
                (unsigned long long)lev->seq, lev->workspace);
        return CLX_ECORRUPT;
    }
    /* an event's current version at the event's seq, and again at each correction's seq: the
     * highest version in ClickHouse is the newest (ReplacingMergeTree(version)) */
    clx_ch_row_t row = {
        .workspace = lev->workspace, .cell = e->cell, .version = lev->seq, .voided = ev->voided, .ev = ev};
    clx_ch_encode_row(&b->body, &row);
    if (b->nrows == 0)
        b->first_seq = lev->seq;
    b->end_seq = lev->seq;
    b->nrows++;
    return 0;
}

/*
 * Reads the events (after, up_to] — at most max — into b. CLX_OK (b->nrows may be 0), or
 * the event log's error (b is then empty).
 */
static int build_batch(clx_exporter_t *e, batch_t *b, uint64_t after, uint64_t up_to, size_t max)
{
    b->body.len = 0;
    b->nrows = 0;
    b->end_seq = 0;
    e->building = b;
    int rc = clx_events_read_after(e->store, after, up_to, max, add_row, e, NULL);
    if (rc != CLX_OK) {
        b->body.len = 0;
        b->nrows = 0;
    }
    return rc;
}

static void note_failure(clx_exporter_t *e, const char *what, int64_t *last_log_ms, uint64_t *failures)
{
    int64_t now = clx_now_ms();
    pthread_mutex_lock(&e->mu);
    e->st.errors++;
    e->st.failing = 1;
    pthread_mutex_unlock(&e->mu);
    (*failures)++;
    if (*failures == 1 || now - *last_log_ms >= FAILURE_LOG_EVERY_MS) {
        clx_log(CLX_LOG_WARN, "export", "%s (attempt %llu; retrying with backoff, nothing is dropped)", what,
                (unsigned long long)*failures);
        *last_log_ms = now;
    }
}

typedef struct send_job {
    clx_exporter_t *e;
    batch_t *b;
} send_job_t;

/* The helper thread of one POST: CLX_OK only for HTTP 200; else b->why says what happened. */
static void *send_main(void *arg)
{
    static const char *const headers[] = {"Content-Type: application/octet-stream"};
    send_job_t *job = arg;
    clx_exporter_t *e = job->e;
    batch_t *b = job->b;
    clx_httpc_req_t req = {
        .url = e->url,
        .headers = headers,
        .nheaders = 1,
        .body = b->body.p,
        .body_len = b->body.len,
        .user = e->user,
        .password = e->password,
        .timeout_ms = e->timeout_ms,
        .cancelled = stop_requested,
        .cancel_arg = e,
    };
    clx_httpc_result_t res;
    int rc = clx_httpc_post(e->http, &req, &res);
    if (rc == CLX_OK && res.status != 200)
        rc = CLX_EIO;
    if (rc != CLX_OK)
        snprintf(b->why, sizeof(b->why), "INSERT of %zu rows (seq %llu..%llu) failed: %s", b->nrows,
                 (unsigned long long)b->first_seq, (unsigned long long)b->end_seq, res.error);
    b->rc = rc;
    free(job);
    return NULL;
}

/* Starts the POST of b on a helper thread (or, when no thread can start, runs it here). */
static void send_start(clx_exporter_t *e, batch_t *b)
{
    send_job_t *job = clx_xmalloc(sizeof(*job));
    job->e = e;
    job->b = b;
    b->sent_ns = clx_mono_ns();
    if (pthread_create(&b->sender, NULL, send_main, job) != 0) {
        b->sender = pthread_self();
        send_main(job);
    }
}

static int send_wait(batch_t *b)
{
    if (!pthread_equal(b->sender, pthread_self()))
        pthread_join(b->sender, NULL);
    return b->rc;
}

/* Runs one statement (the POST's body): CLX_OK for HTTP 200 (its answer's start in res->body_head). */
static int ch_query(clx_exporter_t *e, const char *sql, clx_httpc_result_t *res)
{
    static const char *const headers[] = {"Content-Type: text/plain"};
    clx_httpc_req_t req = {
        .url = e->base_url,
        .headers = headers,
        .nheaders = 1,
        .body = sql,
        .body_len = strlen(sql),
        .user = e->user,
        .password = e->password,
        .timeout_ms = e->timeout_ms,
        .cancelled = stop_requested,
        .cancel_arg = e,
    };
    int rc = clx_httpc_post(e->http, &req, res);
    return rc == CLX_OK && res->status != 200 ? CLX_EIO : rc;
}

/*
 * Gives a table made by an older costlynxd the columns added since (clx_ch_column_added):
 * ALTER TABLE ... ADD COLUMN, each with the DEFAULT its older rows read. A Distributed table
 * (a cluster) is not altered here — its local tables on every node need ON CLUSTER — so the
 * export waits with a message naming the command that prints the statements. A missing table is
 * left to the INSERT's own error. CLX_OK, or CLX_EIO with why set.
 */
static int ensure_columns(clx_exporter_t *e, char *why, size_t whylen)
{
    clx_httpc_result_t res;
    clx_bytes_t q = {0}, names = {0};
    char engine[64];
    int rc;

    clx_bytes_printf(&q, "SELECT engine FROM system.tables WHERE database = '%s' AND name = '%s'", e->database,
                     e->table);
    rc = ch_query(e, clx_bytes_cstr(&q), &res);
    if (rc != CLX_OK) {
        snprintf(why, whylen, "looking up table %s.%s failed: %s", e->database, e->table, res.error);
        goto done;
    }
    snprintf(engine, sizeof(engine), "%.*s", (int)strcspn(res.body_head, " "), res.body_head);
    if (engine[0] == '\0')
        goto done; /* no table (yet): the INSERT says so, and this runs again after it */

    size_t n = clx_ch_ncolumns(), nadded = 0;
    for (size_t i = 0; i < n; i++)
        if (clx_ch_column_added(i))
            clx_bytes_printf(&names, "%s'%s'", nadded++ > 0 ? "," : "[", clx_ch_column_name(i));
    clx_bytes_printf(&names, "]");
    q.len = 0;
    clx_bytes_printf(&q,
                     "SELECT arrayStringConcat(groupArray(toString(indexOf(%s, name))), ',') FROM system.columns "
                     "WHERE database = '%s' AND table = '%s' AND indexOf(%s, name) > 0",
                     clx_bytes_cstr(&names), e->database, e->table, clx_bytes_cstr(&names));
    rc = ch_query(e, clx_bytes_cstr(&q), &res);
    if (rc != CLX_OK) {
        snprintf(why, whylen, "reading the columns of %s.%s failed: %s", e->database, e->table, res.error);
        goto done;
    }
    /* res.body_head: the 1-based positions (in names) of the added columns the table has */
    unsigned char have[64] = {0};
    for (const char *p = res.body_head; *p != '\0';) {
        char *end;
        unsigned long k = strtoul(p, &end, 10);
        if (end == p)
            break;
        if (k >= 1 && k <= sizeof(have))
            have[k - 1] = 1;
        p = *end == ',' ? end + 1 : end;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!clx_ch_column_added(i) || have[k++])
            continue;
        if (strcmp(engine, "Distributed") == 0) {
            snprintf(why, whylen,
                     "the Distributed table %s.%s lacks column %s (and maybe more) of this costlynxd: add them on the "
                     "cluster with the statements of `costlynxd ctl clickhouse-schema --cluster NAME --upgrade` "
                     "(docs/clickhouse.md); the export waits meanwhile",
                     e->database, e->table, clx_ch_column_name(i));
            rc = CLX_EIO;
            goto done;
        }
        q.len = 0;
        clx_ch_add_column(&q, e->database, e->table, NULL, i);
        rc = ch_query(e, clx_bytes_cstr(&q), &res);
        if (rc != CLX_OK) {
            snprintf(why, whylen,
                     "adding column %s to %s.%s failed (a user without ALTER rights: run the statements of "
                     "`costlynxd ctl clickhouse-schema --upgrade` as one with them): %s",
                     clx_ch_column_name(i), e->database, e->table, res.error);
            goto done;
        }
        clx_log(CLX_LOG_INFO, "export", "added column %s to %s.%s (a table of an older costlynxd)",
                clx_ch_column_name(i), e->database, e->table);
    }
    e->columns_ok = 1;
    rc = CLX_OK;
done:
    free(q.p);
    free(names.p);
    return rc;
}

/* Stores the cursor (synced); a failure is logged: the next start re-sends a confirmed batch at worst. */
static int save_cursor(clx_exporter_t *e)
{
    int rc = clx_export_cursor_save(e->store, e->cursor, &e->cur);
    if (rc != CLX_OK)
        clx_log(CLX_LOG_WARN, "export", "storing the export cursor failed (%s)", clx_strerror(rc));
    return rc;
}

/*
 * The loop, a two-stage pipeline: while batch `cur` (done, pending] is being inserted, the
 * next one (pending, ...] is read and encoded. When cur is confirmed, ONE synced cursor write
 * records both facts: done = cur's end, pending = next's end (or 0). The cursor's promise
 * holds at every moment: every seq <= done is in ClickHouse, and after a crash exactly
 * (done, pending] is sent first.
 */
static void *exporter_main(void *arg)
{
    clx_exporter_t *e = arg;
    unsigned backoff = 0;
    int64_t last_log_ms = 0;
    uint64_t failures = 0;
    batch_t *cur = &e->batches[0], *next = &e->batches[1];
    int have_cur = 0;
    int rc;

    pthread_setname_np(pthread_self(), "clx-export");
    while (!stop_requested(e)) {
        if (!e->columns_ok && ensure_columns(e, cur->why, sizeof(cur->why)) != CLX_OK) {
            if (stop_requested(e))
                break;
            goto failed;
        }
        if (!have_cur) {
            /* a batch to send: the unconfirmed one of the last run, else new events */
            rc = e->cur.pending != 0 ? build_batch(e, cur, e->cur.done, e->cur.pending, SIZE_MAX)
                                     : build_batch(e, cur, e->cur.done, UINT64_MAX, e->batch_rows);
            if (rc != CLX_OK) {
                snprintf(cur->why, sizeof(cur->why), "reading the events after seq %llu failed: %s",
                         (unsigned long long)e->cur.done, clx_strerror(rc));
                goto failed;
            }
            if (cur->nrows == 0) {
                if (e->cur.pending != 0) { /* cannot happen: the log is append-only */
                    clx_log(CLX_LOG_ERROR, "export", "pending batch (%llu, %llu] has no events; moving on",
                            (unsigned long long)e->cur.done, (unsigned long long)e->cur.pending);
                    e->cur.done = e->cur.pending;
                    e->cur.pending = 0;
                    save_cursor(e);
                    continue;
                }
                wait_ms(e, e->interval_ms);
                continue;
            }
            if (e->cur.pending == 0) {
                e->cur.pending = cur->end_seq;
                if (save_cursor(e) != CLX_OK) {
                    e->cur.pending = 0;
                    snprintf(cur->why, sizeof(cur->why), "the export cursor cannot be stored");
                    goto failed;
                }
            }
            have_cur = 1;
        }

        send_start(e, cur);
        /* meanwhile: the next batch, when cur was full (more events are likely waiting) */
        next->nrows = 0;
        int next_rc = CLX_OK;
        if (cur->nrows >= e->batch_rows)
            next_rc = build_batch(e, next, cur->end_seq, UINT64_MAX, e->batch_rows);
        rc = send_wait(cur);
        if (rc != CLX_OK) {
            if (stop_requested(e))
                break;         /* abandoned for shutdown, not a ClickHouse failure */
            e->columns_ok = 0; /* the table may be new, or another one: its columns are checked again */
            goto failed;       /* cur is sent again; next is rebuilt after it */
        }
        clx_log(CLX_LOG_DEBUG, "export", "%zu rows (seq %llu..%llu, %zu bytes) inserted in %.1f ms", cur->nrows,
                (unsigned long long)cur->first_seq, (unsigned long long)cur->end_seq, cur->body.len,
                (double)(clx_mono_ns() - cur->sent_ns) / 1e6);
        if (failures != 0)
            clx_log(CLX_LOG_INFO, "export", "ClickHouse accepts inserts again after %llu failed attempts",
                    (unsigned long long)failures);
        failures = 0;
        backoff = 0;
        e->cur.done = cur->end_seq;
        e->cur.pending = next_rc == CLX_OK && next->nrows > 0 ? next->end_seq : 0;
        if (save_cursor(e) != CLX_OK && e->cur.pending != 0) {
            e->cur.pending = 0; /* the next batch is rebuilt and its end stored again */
            next->nrows = 0;
        }
        pthread_mutex_lock(&e->mu);
        e->st.done = e->cur.done;
        e->st.rows += cur->nrows;
        e->st.batches++;
        e->st.failing = 0;
        e->st.last_success_ms = clx_now_ms();
        pthread_mutex_unlock(&e->mu);
        if (e->cur.pending != 0) {
            batch_t *t = cur;
            cur = next;
            next = t;
            have_cur = 1;
            continue;
        }
        have_cur = 0;
        if (cur->nrows < e->batch_rows)
            wait_ms(e, e->interval_ms); /* caught up */
        continue;

    failed:
        note_failure(e, cur->why, &last_log_ms, &failures);
        backoff = backoff == 0 ? BACKOFF_FIRST_MS : backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        if (wait_ms(e, backoff))
            break;
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int clx_exporter_start(const clx_exporter_config_t *cfg, clx_exporter_t **out, char **errmsg)
{
    clx_exporter_t *e = NULL;
    clx_bytes_t b = {0};
    int rc;

    if (errmsg != NULL)
        *errmsg = NULL;
    if (cfg->url == NULL || (strncasecmp(cfg->url, "http://", 7) != 0 && strncasecmp(cfg->url, "https://", 8) != 0))
        return fail_with(errmsg, CLX_EINVAL, "the ClickHouse URL must start with http:// or https:// (got '%s')",
                         cfg->url != NULL ? cfg->url : "");
    if (!clx_ch_ident_valid(cfg->database))
        return fail_with(errmsg, CLX_EINVAL,
                         "the ClickHouse database '%s' is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)",
                         cfg->database != NULL ? cfg->database : "");
    if (!clx_ch_ident_valid(cfg->table))
        return fail_with(errmsg, CLX_EINVAL,
                         "the ClickHouse table '%s' is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)",
                         cfg->table != NULL ? cfg->table : "");
    if (cfg->batch_rows == 0)
        return fail_with(errmsg, CLX_EINVAL, "the ClickHouse batch size must be at least 1%s", "");

    e = clx_xcalloc(1, sizeof(*e));
    e->store = cfg->store;
    e->database = clx_xstrdup(cfg->database);
    e->table = clx_xstrdup(cfg->table);
    e->target.database = e->database;
    e->target.table = e->table;
    e->user = cfg->user != NULL && cfg->user[0] != '\0' ? clx_xstrdup(cfg->user) : NULL;
    e->password = e->user != NULL && cfg->password != NULL ? clx_xstrdup(cfg->password) : NULL;
    e->cell = clx_xstrdup(cfg->cell != NULL ? cfg->cell : "");
    e->batch_rows = cfg->batch_rows;
    e->interval_ms = cfg->interval_ms;
    e->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    e->cursor = destination_name(cfg->url, cfg->database, cfg->table);
    if (strlen(e->cursor) > CLX_EXPORT_NAME_MAX) {
        rc = fail_with(errmsg, CLX_EINVAL, "the ClickHouse URL is too long (%s)", "at most 300 bytes");
        goto fail;
    }
    /* the INSERT rides in the query string; ClickHouse answers only once it is done */
    clx_bytes_printf(&b, "%s%squery=", cfg->url, strchr(cfg->url, '?') != NULL ? "&" : "?");
    clx_bytes_t q = {0};
    clx_ch_insert_query(&q, &e->target);
    url_escape(&b, clx_bytes_cstr(&q));
    free(q.p);
    clx_bytes_printf(&b, "&wait_end_of_query=1");
    e->url = clx_xstrdup(clx_bytes_cstr(&b));
    e->base_url = clx_xstrdup(cfg->url);
    free(b.p);

    rc = clx_export_cursor_load(e->store, e->cursor, &e->cur);
    if (rc == CLX_ECORRUPT) {
        clx_log(CLX_LOG_ERROR, "export",
                "the export cursor of %s is unreadable: exporting from the beginning (rows replace themselves)",
                e->cursor);
        e->cur.done = e->cur.pending = 0;
    } else if (rc != CLX_OK) {
        rc = fail_with(errmsg, rc, "cannot read the export cursor of %s", e->cursor);
        goto fail;
    }
    e->http = clx_httpc_create("costlynx-export/1");
    e->arena = clx_arena_create(16384);
    if (e->http == NULL) {
        rc = fail_with(errmsg, CLX_EIO, "cannot create an HTTP client%s", "");
        goto fail;
    }
    e->st.done = e->cur.done;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, exporter_main, e) != 0) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
        rc = fail_with(errmsg, CLX_EIO, "cannot start the export thread%s", "");
        goto fail;
    }
    clx_log(CLX_LOG_INFO, "export", "exporting to %s from seq %llu%s", e->cursor, (unsigned long long)e->cur.done,
            e->cur.pending != 0 ? " (re-sending the unconfirmed batch first)" : "");
    *out = e;
    return CLX_OK;

fail:
    clx_httpc_destroy(e->http);
    clx_arena_destroy(e->arena);
    free(e->url);
    free(e->base_url);
    free(e->cursor);
    free(e->user);
    free(e->password);
    free(e->cell);
    free(e->database);
    free(e->table);
    free(e);
    return rc;
}

void clx_exporter_stop(clx_exporter_t *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    __atomic_store_n(&e->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    clx_httpc_destroy(e->http);
    clx_arena_destroy(e->arena);
    free(e->batches[0].body.p);
    free(e->batches[1].body.p);
    free(e->url);
    free(e->base_url);
    free(e->cursor);
    if (e->password != NULL)
        memset(e->password, 0, strlen(e->password));
    free(e->user);
    free(e->password);
    free(e->cell);
    free(e->database);
    free(e->table);
    free(e);
}

/*
 * Event log callback of the lag: when the first entry after the cursor was committed — an
 * event's arrival, a correction's time (its version's changed_at_ms, or a later one's: the
 * current version is what the log hands out, so at worst the lag reads younger).
 */
static int first_received(void *arg, const clx_logged_event_t *lev)
{
    Costlynx__Store__V1__StoredEvent *ev =
        costlynx__store__v1__stored_event__unpack(NULL, lev->vlen, (const uint8_t *)lev->value);
    if (ev != NULL) {
        *(int64_t *)arg = lev->seq != lev->event_seq && ev->changed_at_ms > 0 ? ev->changed_at_ms : ev->received_at_ms;
        costlynx__store__v1__stored_event__free_unpacked(ev, NULL);
    }
    return 0;
}

void clx_exporter_stats(clx_exporter_t *e, clx_exporter_stats_t *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->st;
    pthread_mutex_unlock(&e->mu);
    /* the lag as of now, not as of the thread's last look: the log's end and its first
     * unexported event, read from one snapshot */
    uint64_t last = out->done;
    int64_t oldest = 0;
    if (clx_events_read_after(e->store, out->done, UINT64_MAX, 1, first_received, &oldest, &last) == CLX_OK) {
        out->last_seq = last > out->done ? last : out->done;
        out->oldest_pending_ms = last > out->done ? oldest : 0;
    } else {
        out->last_seq = out->done;
        out->oldest_pending_ms = 0;
    }
}

void clx_exporter_metrics(void *exporter, char *buf, size_t cap, size_t *len)
{
    clx_exporter_stats_t st;
    clx_exporter_stats(exporter, &st);
    uint64_t lag = st.last_seq > st.done ? st.last_seq - st.done : 0;
    int64_t now = clx_now_ms();
    double lag_s = lag > 0 && st.oldest_pending_ms > 0 && now > st.oldest_pending_ms
                       ? (double)(now - st.oldest_pending_ms) / 1000.0
                       : 0.0;
    if (*len >= cap)
        return;
    int n = snprintf(
        buf + *len, cap - *len,
        "# HELP costlynx_export_lag_events Committed events and corrections not yet confirmed by ClickHouse.\n"
        "# TYPE costlynx_export_lag_events gauge\n"
        "costlynx_export_lag_events{destination=\"clickhouse\"} %llu\n"
        "# HELP costlynx_export_lag_seconds Age of the oldest committed event not yet confirmed by ClickHouse (0 "
        "when caught up).\n"
        "# TYPE costlynx_export_lag_seconds gauge\n"
        "costlynx_export_lag_seconds{destination=\"clickhouse\"} %.3f\n"
        "# HELP costlynx_export_cursor Every event and correction with a sequence number up to this one is in "
        "ClickHouse.\n"
        "# TYPE costlynx_export_cursor gauge\n"
        "costlynx_export_cursor{destination=\"clickhouse\"} %llu\n"
        "# HELP costlynx_export_rows_total Rows ClickHouse confirmed since start.\n"
        "# TYPE costlynx_export_rows_total counter\n"
        "costlynx_export_rows_total{destination=\"clickhouse\"} %llu\n"
        "# HELP costlynx_export_batches_total INSERTs ClickHouse confirmed since start.\n"
        "# TYPE costlynx_export_batches_total counter\n"
        "costlynx_export_batches_total{destination=\"clickhouse\"} %llu\n"
        "# HELP costlynx_export_errors_total Failed export attempts since start (each is retried).\n"
        "# TYPE costlynx_export_errors_total counter\n"
        "costlynx_export_errors_total{destination=\"clickhouse\"} %llu\n"
        "# HELP costlynx_export_failing 1 while the last export attempt failed.\n"
        "# TYPE costlynx_export_failing gauge\n"
        "costlynx_export_failing{destination=\"clickhouse\"} %d\n"
        "# HELP costlynx_export_last_success_timestamp_seconds Unix time of the last confirmed INSERT (0: none "
        "since start).\n"
        "# TYPE costlynx_export_last_success_timestamp_seconds gauge\n"
        "costlynx_export_last_success_timestamp_seconds{destination=\"clickhouse\"} %.3f\n",
        (unsigned long long)lag, lag_s, (unsigned long long)st.done, (unsigned long long)st.rows,
        (unsigned long long)st.batches, (unsigned long long)st.errors, st.failing, (double)st.last_success_ms / 1000.0);
    if (n < 0)
        return;
    if ((size_t)n >= cap - *len) {
        /* cut at the last whole line that fit */
        size_t end = cap - *len - 1;
        while (end > 0 && buf[*len + end - 1] != '\n')
            end--;
        buf[*len + end] = '\0';
        *len += end;
        return;
    }
    *len += (size_t)n;
}
