/*
 * test_delivery.c — services/governance delivery.c + http.c + outbox.c against a real HTTP
 * receiver (tests/blackbox/webhook_receiver.py, started here on a free loopback port) that
 * records requests and verifies signatures independently (Python's hmac): delivery with the
 * receiver down then up, retries after 500s, giving up on 410, a client timeout, Slack
 * (unsigned), a wrong secret, the SSRF guard refusing loopback and link-local, a deleted
 * channel, and items enqueued before a restart delivered after it.
 */
#include "clx_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clx_delivery.h"
#include "clx_error.h"
#include "clx_log.h"
#include "clx_outbox.h"
#include "clx_store.h"

#define SECRET "whsec_0123456789"
#define WAIT_LIMIT_MS 30000 /* a hang guard, not a speed assertion */

typedef struct receiver {
    pid_t pid;
    int port;
    char log[256];
} receiver_t;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts the Python receiver on port (0: any); extra is NULL or e.g. "--fail", "2". */
static void receiver_start(receiver_t *r, const char *dir, int port, const char *secret, const char *opt,
                           const char *val)
{
    int fds[2];
    char portbuf[16];

    snprintf(r->log, sizeof(r->log), "%s/receiver-%d.jsonl", dir, port);
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    assert_int_equal(pipe(fds), 0);
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[16];
        int n = 0;
        argv[n++] = "/usr/bin/python3";
        argv[n++] = CLX_SOURCE_DIR "/tests/blackbox/webhook_receiver.py";
        argv[n++] = "--port";
        argv[n++] = portbuf;
        argv[n++] = "--log";
        argv[n++] = r->log;
        if (secret != NULL) {
            argv[n++] = "--secret";
            argv[n++] = secret;
        }
        if (opt != NULL) {
            argv[n++] = opt;
            argv[n++] = val;
        }
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    if (fgets(line, sizeof(line), f) == NULL || sscanf(line, "listening %d", &r->port) != 1)
        fail_msg("the receiver did not start: \"%s\"", line);
    fclose(f);
}

static void receiver_stop(receiver_t *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* The receiver's log: every request as one JSON line. Returns the line count; *text the whole. */
static int receiver_log(const receiver_t *r, char *text, size_t cap)
{
    FILE *f = fopen(r->log, "r");
    int lines = 0;
    size_t n = 0;
    text[0] = '\0';
    if (f == NULL)
        return 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (n + 1 < cap)
            text[n++] = (char)c;
        lines += c == '\n';
    }
    text[n] = '\0';
    fclose(f);
    return lines;
}

/* ---- channels the delivery thread looks up ----------------------------------------------- */

#define NCH 4
typedef struct channels {
    char id[NCH][32];
    clx_channel_t ch[NCH];
    int n;
} channels_t;

static void add_channel(channels_t *c, const char *id, clx_channel_kind_t kind, const char *url, const char *secret)
{
    assert_true(c->n < NCH);
    snprintf(c->id[c->n], sizeof(c->id[0]), "%s", id);
    c->ch[c->n].kind = kind;
    snprintf(c->ch[c->n].url, sizeof(c->ch[0].url), "%s", url);
    c->ch[c->n].secret_len = secret != NULL ? strlen(secret) : 0;
    if (secret != NULL)
        memcpy(c->ch[c->n].secret, secret, strlen(secret));
    c->n++;
}

static int lookup(void *ctx, const char *workspace, const char *channel_id, clx_channel_t *out)
{
    channels_t *c = ctx;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->id[i], channel_id) == 0) {
            *out = c->ch[i];
            return CLX_OK;
        }
    return CLX_ENOTFOUND;
}

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    char *dir;
    clx_store_t *s;
    clx_outbox_t *ob;
    clx_delivery_t *d;
    channels_t ch;
    receiver_t rx;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    char *err = NULL;
    f->dir = clx_test_tmpdir();
    if (clx_store_open(f->dir, &f->s, &err) != CLX_OK)
        return -1;
    f->ob = clx_outbox_create(f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    clx_delivery_stop(f->d);
    receiver_stop(&f->rx);
    clx_outbox_destroy(f->ob);
    clx_store_close(f->s);
    clx_test_rmdir(f->dir);
    free(f);
    return 0;
}

static void start_delivery(fx_t *f, unsigned allow, long timeout_ms)
{
    clx_delivery_config_t cfg = {.outbox = f->ob,
                                 .lookup = lookup,
                                 .lookup_ctx = &f->ch,
                                 .allow = allow,
                                 .connect_timeout_ms = 2000,
                                 .timeout_ms = timeout_ms,
                                 .backoff = {100, 400, 600000}};
    assert_int_equal(clx_delivery_start(&cfg, &f->d), CLX_OK);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until the item reaches state with at least min_attempts; returns it (dispose it). */
static clx_outbox_item_t wait_item(fx_t *f, const char *alert, const char *channel, clx_outbox_state_t state,
                                   uint32_t min_attempts)
{
    clx_outbox_item_t it;
    for (int waited = 0;; waited += 20) {
        assert_int_equal(clx_outbox_get(f->ob, "acme", alert, channel, &it), CLX_OK);
        if (it.state == state && it.attempts >= min_attempts)
            return it;
        if (waited > WAIT_LIMIT_MS)
            fail_msg("%s: still %s after %u attempts (%s)", alert, clx_outbox_state_name(it.state), it.attempts,
                     it.last_error);
        clx_outbox_item_dispose(&it);
        sleep_ms(20);
    }
}

static void enqueue(fx_t *f, const char *alert, const char *channel, const char *payload)
{
    int64_t now = clx_now_ms();
    assert_int_equal(clx_outbox_enqueue(f->ob, "acme", alert, channel, payload, strlen(payload), now, now), CLX_OK);
    if (f->d != NULL)
        clx_delivery_wake(f->d);
}

static char url_buf[128];
static const char *hook_url(int port)
{
    snprintf(url_buf, sizeof(url_buf), "http://127.0.0.1:%d/hook", port);
    return url_buf;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_receiver_down_then_up(void **state)
{
    fx_t *f = *state;
    char log[8192];
    int port = free_port();

    add_channel(&f->ch, "ops", CLX_CHANNEL_WEBHOOK, hook_url(port), SECRET);
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 5000);
    enqueue(f, "budget:a:2026-03:8000", "ops", "{\"id\":\"budget:a:2026-03:8000\",\"kind\":\"budget_threshold\"}");
    /* nobody listens: attempts fail and are retried, the error kept in words */
    clx_outbox_item_t it = wait_item(f, "budget:a:2026-03:8000", "ops", CLX_OUTBOX_PENDING, 2);
    assert_non_null(strstr(it.last_error, "connect"));
    clx_outbox_item_dispose(&it);
    /* the receiver comes up on that port: the next retry delivers */
    receiver_start(&f->rx, f->dir, port, SECRET, NULL, NULL);
    it = wait_item(f, "budget:a:2026-03:8000", "ops", CLX_OUTBOX_DELIVERED, 3);
    assert_string_equal(it.last_error, "");
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 1);
    assert_non_null(strstr(log, "\"verified\": true"));
    assert_non_null(strstr(log, "\"X-Costlynx-Alert-Id\": \"budget:a:2026-03:8000\""));
    assert_non_null(strstr(log, "\"body\": \"{\\\"id\\\":\\\"budget:a:2026-03:8000\\\""));
    assert_non_null(strstr(log, "\"Content-Type\": \"application/json\""));
    clx_delivery_stats_t st;
    clx_delivery_stats(f->d, &st);
    assert_int_equal(st.delivered, 1);
    assert_true(st.retried >= 2);
}

static void test_retries_after_500(void **state)
{
    fx_t *f = *state;
    char log[8192];

    receiver_start(&f->rx, f->dir, 0, SECRET, "--fail", "2");
    add_channel(&f->ch, "ops", CLX_CHANNEL_WEBHOOK, hook_url(f->rx.port), SECRET);
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 5000);
    enqueue(f, "anomaly:acme:p1:492000", "ops", "{\"n\":1}");
    clx_outbox_item_t it = wait_item(f, "anomaly:acme:p1:492000", "ops", CLX_OUTBOX_DELIVERED, 1);
    assert_int_equal(it.attempts, 3);
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 3);
    /* every attempt is signed afresh and verifies; the alert id is the same each time */
    const char *p = log;
    int verified = 0;
    while ((p = strstr(p, "\"verified\": true")) != NULL)
        verified++, p++;
    assert_int_equal(verified, 3);
}

static void test_gives_up_on_410_and_on_wrong_secret(void **state)
{
    fx_t *f = *state;
    char log[8192];

    receiver_start(&f->rx, f->dir, 0, SECRET, "--status", "410");
    add_channel(&f->ch, "gone", CLX_CHANNEL_WEBHOOK, hook_url(f->rx.port), SECRET);
    add_channel(&f->ch, "badkey", CLX_CHANNEL_WEBHOOK, hook_url(f->rx.port), "not-the-secret");
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 5000);
    enqueue(f, "a1", "gone", "{}");
    clx_outbox_item_t it = wait_item(f, "a1", "gone", CLX_OUTBOX_FAILED, 1);
    assert_int_equal(it.attempts, 1);
    assert_non_null(strstr(it.last_error, "HTTP 410: {\"error\":\"test receiver says 410\"}"));
    clx_outbox_item_dispose(&it);
    /* the receiver checks the signature itself and refuses: 401, a permanent failure */
    enqueue(f, "a2", "badkey", "{}");
    it = wait_item(f, "a2", "badkey", CLX_OUTBOX_FAILED, 1);
    assert_non_null(strstr(it.last_error, "HTTP 401"));
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 2);
    assert_non_null(strstr(log, "\"verified\": false"));
}

static void test_timeout_then_delivered(void **state)
{
    fx_t *f = *state;
    char log[8192];

    receiver_start(&f->rx, f->dir, 0, SECRET, "--hang", "1");
    add_channel(&f->ch, "ops", CLX_CHANNEL_WEBHOOK, hook_url(f->rx.port), SECRET);
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 500);
    enqueue(f, "slow", "ops", "{}");
    clx_outbox_item_t it = wait_item(f, "slow", "ops", CLX_OUTBOX_DELIVERED, 2);
    assert_int_equal(it.attempts, 2);
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 2);
}

static void test_slack_is_unsigned(void **state)
{
    fx_t *f = *state;
    char log[8192];

    receiver_start(&f->rx, f->dir, 0, NULL, NULL, NULL);
    add_channel(&f->ch, "slack", CLX_CHANNEL_SLACK, hook_url(f->rx.port), NULL);
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 5000);
    enqueue(f, "s1", "slack", "{\"text\":\"hello\",\"blocks\":[]}");
    clx_outbox_item_t it = wait_item(f, "s1", "slack", CLX_OUTBOX_DELIVERED, 1);
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 1);
    assert_null(strstr(log, "X-Costlynx-Signature"));
    assert_non_null(strstr(log, "\"body\": \"{\\\"text\\\":\\\"hello\\\""));
}

static void test_ssrf_guard_and_deleted_channel(void **state)
{
    fx_t *f = *state;
    char log[8192];

    receiver_start(&f->rx, f->dir, 0, SECRET, NULL, NULL);
    add_channel(&f->ch, "admin", CLX_CHANNEL_WEBHOOK, hook_url(f->rx.port), SECRET);
    add_channel(&f->ch, "metadata", CLX_CHANNEL_WEBHOOK, "http://169.254.169.254/latest/meta-data/", SECRET);
    start_delivery(f, 0, 5000); /* the default: public targets only */
    enqueue(f, "x1", "admin", "{}");
    enqueue(f, "x2", "metadata", "{}");
    enqueue(f, "x3", "deleted", "{}");
    clx_outbox_item_t it = wait_item(f, "x1", "admin", CLX_OUTBOX_FAILED, 1);
    assert_non_null(strstr(it.last_error, "127.0.0.1 is a loopback address (refused"));
    assert_int_equal(it.attempts, 1);
    clx_outbox_item_dispose(&it);
    it = wait_item(f, "x2", "metadata", CLX_OUTBOX_FAILED, 1);
    assert_non_null(strstr(it.last_error, "169.254.169.254 is a link-local address"));
    clx_outbox_item_dispose(&it);
    it = wait_item(f, "x3", "deleted", CLX_OUTBOX_FAILED, 1);
    assert_string_equal(it.last_error, "channel deleted no longer exists");
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 0); /* nothing reached the loopback server */
}

static void test_pending_survives_restart(void **state)
{
    fx_t *f = *state;
    char log[8192], *err = NULL;

    receiver_start(&f->rx, f->dir, 0, SECRET, NULL, NULL);
    add_channel(&f->ch, "ops", CLX_CHANNEL_WEBHOOK, hook_url(f->rx.port), SECRET);
    enqueue(f, "r1", "ops", "{\"r\":1}");
    enqueue(f, "r2", "ops", "{\"r\":2}");
    /* the process goes away before any delivery */
    clx_outbox_destroy(f->ob);
    clx_store_close(f->s);
    assert_int_equal(clx_store_open(f->dir, &f->s, &err), CLX_OK);
    f->ob = clx_outbox_create(f->s);
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 5000);
    clx_outbox_item_t it = wait_item(f, "r1", "ops", CLX_OUTBOX_DELIVERED, 1);
    clx_outbox_item_dispose(&it);
    it = wait_item(f, "r2", "ops", CLX_OUTBOX_DELIVERED, 1);
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 2);
    /* stop/start again: nothing is sent twice */
    clx_delivery_stop(f->d);
    f->d = NULL;
    start_delivery(f, CLX_NET_ALLOW_LOOPBACK, 5000);
    clx_delivery_wake(f->d);
    enqueue(f, "r3", "ops", "{\"r\":3}");
    it = wait_item(f, "r3", "ops", CLX_OUTBOX_DELIVERED, 1);
    clx_outbox_item_dispose(&it);
    assert_int_equal(receiver_log(&f->rx, log, sizeof(log)), 3);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receiver_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_after_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gives_up_on_410_and_on_wrong_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_then_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slack_is_unsigned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ssrf_guard_and_deleted_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_survives_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
