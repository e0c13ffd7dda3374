/*
 * test_outbox.c — services/governance/outbox.c on a real RocksDB in a temp directory:
 * idempotent enqueue, due order, retry / delivered / failed, per-workspace listing, and
 * everything still there after the store is closed and reopened.
 */
#include "clx_test.h"

#include "clx_error.h"
#include "clx_outbox.h"
#include "clx_store.h"

typedef struct fx {
    char *dir;
    clx_store_t *s;
    clx_outbox_t *ob;
} fx_t;

static void fx_open(fx_t *f)
{
    char *err = NULL;
    assert_int_equal(clx_store_open(f->dir, &f->s, &err), CLX_OK);
    f->ob = clx_outbox_create(f->s);
}

static void fx_close(fx_t *f)
{
    clx_outbox_destroy(f->ob);
    clx_store_close(f->s);
    f->ob = NULL;
    f->s = NULL;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->dir = clx_test_tmpdir();
    fx_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    fx_close(f);
    clx_test_rmdir(f->dir);
    free(f);
    return 0;
}

static void test_enqueue_once(void **state)
{
    fx_t *f = *state;
    clx_outbox_item_t it;

    assert_int_equal(clx_outbox_enqueue(f->ob, "acme", "budget:a:2026-03:8000", "ops", "{\"x\":1}", 7, 1000, 900),
                     CLX_OK);
    /* the same alert for the same channel: once, whatever the payload */
    assert_int_equal(clx_outbox_enqueue(f->ob, "acme", "budget:a:2026-03:8000", "ops", "{}", 2, 5, 900), CLX_EEXIST);
    /* another channel, or another workspace: separate items */
    assert_int_equal(clx_outbox_enqueue(f->ob, "acme", "budget:a:2026-03:8000", "slack", "{}", 2, 1000, 900), CLX_OK);
    assert_int_equal(clx_outbox_enqueue(f->ob, "acme2", "budget:a:2026-03:8000", "ops", "{}", 2, 1000, 900), CLX_OK);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "budget:a:2026-03:8000", "ops", &it), CLX_OK);
    assert_string_equal(it.payload, "{\"x\":1}");
    assert_int_equal(it.payload_len, 7);
    assert_int_equal(it.state, CLX_OUTBOX_PENDING);
    assert_int_equal(it.attempts, 0);
    assert_int_equal(it.created_ms, 900);
    assert_int_equal(it.due_ms, 1000);
    assert_string_equal(it.last_error, "");
    clx_outbox_item_dispose(&it);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "nope", "ops", &it), CLX_ENOTFOUND);

    /* bad ids and payloads are refused, nothing stored */
    char big[CLX_OUTBOX_ID_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(clx_outbox_enqueue(f->ob, "", "a", "c", "", 0, 0, 0), CLX_EINVAL);
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", big, "c", "", 0, 0, 0), CLX_EINVAL);
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", "a", NULL, "", 0, 0, 0), CLX_EINVAL);
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", "a", "c", NULL, CLX_OUTBOX_PAYLOAD_MAX + 1, 0, 0), CLX_EINVAL);
}

static void test_due_order_and_marks(void **state)
{
    fx_t *f = *state;
    clx_outbox_item_t *items = NULL, it;
    size_t n = 0;
    int64_t next;

    assert_int_equal(clx_outbox_next_due(f->ob, &next), CLX_OK);
    assert_int_equal(next, INT64_MAX);
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", "late", "c", "L", 1, 3000, 0), CLX_OK);
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", "early", "c", "E", 1, 1000, 0), CLX_OK);
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", "mid", "c", "M", 1, 2000, 0), CLX_OK);
    assert_int_equal(clx_outbox_next_due(f->ob, &next), CLX_OK);
    assert_int_equal(next, 1000);

    assert_int_equal(clx_outbox_take_due(f->ob, 999, 10, &items, &n), CLX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(clx_outbox_take_due(f->ob, 2000, 10, &items, &n), CLX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].alert_id, "early");
    assert_string_equal(items[1].alert_id, "mid");
    /* early failed once: retry at 5000, with the error kept */
    assert_int_equal(clx_outbox_mark_retry(f->ob, &items[0], "HTTP 503: busy", 5000, 1500), CLX_OK);
    assert_int_equal(items[0].attempts, 1);
    assert_int_equal(items[0].due_ms, 5000);
    /* mid delivered */
    assert_int_equal(clx_outbox_mark_delivered(f->ob, &items[1], 1600), CLX_OK);
    /* settling it again is refused: it is no longer pending */
    assert_int_equal(clx_outbox_mark_failed(f->ob, &items[1], "x", 1700), CLX_ENOTFOUND);
    clx_outbox_items_free(items, n);

    assert_int_equal(clx_outbox_take_due(f->ob, 4000, 10, &items, &n), CLX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].alert_id, "late");
    assert_int_equal(clx_outbox_mark_failed(f->ob, &items[0], "HTTP 410: gone", 4000), CLX_OK);
    clx_outbox_items_free(items, n);
    assert_int_equal(clx_outbox_next_due(f->ob, &next), CLX_OK);
    assert_int_equal(next, 5000);

    /* max bounds a batch */
    assert_int_equal(clx_outbox_take_due(f->ob, 9999, 1, &items, &n), CLX_OK);
    assert_int_equal(n, 1);
    clx_outbox_items_free(items, n);

    /* states survive a restart; the pending one is still due */
    fx_close(f);
    fx_open(f);
    assert_int_equal(clx_outbox_get(f->ob, "w", "early", "c", &it), CLX_OK);
    assert_int_equal(it.state, CLX_OUTBOX_PENDING);
    assert_int_equal(it.attempts, 1);
    assert_string_equal(it.last_error, "HTTP 503: busy");
    clx_outbox_item_dispose(&it);
    assert_int_equal(clx_outbox_get(f->ob, "w", "mid", "c", &it), CLX_OK);
    assert_int_equal(it.state, CLX_OUTBOX_DELIVERED);
    assert_int_equal(it.updated_ms, 1600);
    clx_outbox_item_dispose(&it);
    assert_int_equal(clx_outbox_get(f->ob, "w", "late", "c", &it), CLX_OK);
    assert_int_equal(it.state, CLX_OUTBOX_FAILED);
    assert_string_equal(it.last_error, "HTTP 410: gone");
    clx_outbox_item_dispose(&it);
    assert_int_equal(clx_outbox_take_due(f->ob, 5000, 10, &items, &n), CLX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].alert_id, "early");
    clx_outbox_items_free(items, n);
    /* and an alert once delivered is never enqueued again */
    assert_int_equal(clx_outbox_enqueue(f->ob, "w", "mid", "c", "M", 1, 0, 0), CLX_EEXIST);
}

struct seen {
    char ids[256];
    int n;
};

static int collect(void *ctx, const clx_outbox_item_t *it)
{
    struct seen *s = ctx;
    strcat(s->ids, it->alert_id);
    strcat(s->ids, "/");
    strcat(s->ids, clx_outbox_state_name(it->state));
    strcat(s->ids, ";");
    return ++s->n >= 3;
}

static void test_listing(void **state)
{
    fx_t *f = *state;
    struct seen s = {"", 0};
    clx_outbox_item_t *items;
    size_t n;

    assert_int_equal(clx_outbox_enqueue(f->ob, "a", "x2", "c", "", 0, 10, 0), CLX_OK);
    assert_int_equal(clx_outbox_enqueue(f->ob, "a", "x1", "c", "", 0, 10, 0), CLX_OK);
    assert_int_equal(clx_outbox_enqueue(f->ob, "ab", "y", "c", "", 0, 10, 0), CLX_OK); /* "a" must not list it */
    assert_int_equal(clx_outbox_take_due(f->ob, 10, 10, &items, &n), CLX_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].alert_id, "x1") == 0)
            assert_int_equal(clx_outbox_mark_delivered(f->ob, &items[i], 11), CLX_OK);
    clx_outbox_items_free(items, n);
    assert_int_equal(clx_outbox_each(f->ob, "a", collect, &s), CLX_OK);
    assert_string_equal(s.ids, "x1/delivered;x2/pending;");
    memset(&s, 0, sizeof(s));
    assert_int_equal(clx_outbox_each(f->ob, "zzz", collect, &s), CLX_OK);
    assert_int_equal(s.n, 0);
    /* the walk stops when asked */
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof(id), "m%d", i);
        assert_int_equal(clx_outbox_enqueue(f->ob, "many", id, "c", "", 0, 10, 0), CLX_OK);
    }
    memset(&s, 0, sizeof(s));
    assert_int_equal(clx_outbox_each(f->ob, "many", collect, &s), CLX_OK);
    assert_int_equal(s.n, 3);
}

/* clx_outbox_fire: the mark and every channel's item at once, never twice; prune keeps marks and pending items */
static void test_fire_once_and_prune(void **state)
{
    fx_t *f = *state;
    clx_outbox_item_t it;
    clx_outbox_new_t items[2] = {{"ops", "{\"a\":1}", 7, 100}, {"slack", "{}", 2, 100}};

    assert_int_equal(clx_outbox_fired(f->ob, "acme", "budget:b:2026-03-01:5000"), CLX_ENOTFOUND);
    assert_int_equal(clx_outbox_fire(f->ob, "acme", "budget:b:2026-03-01:5000", items, 2, 50), CLX_OK);
    assert_int_equal(clx_outbox_fired(f->ob, "acme", "budget:b:2026-03-01:5000"), CLX_OK);
    /* a second fire writes nothing, even with other channels */
    clx_outbox_new_t other = {"pager", "{}", 2, 100};
    assert_int_equal(clx_outbox_fire(f->ob, "acme", "budget:b:2026-03-01:5000", &other, 1, 60), CLX_EEXIST);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "budget:b:2026-03-01:5000", "pager", &it), CLX_ENOTFOUND);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "budget:b:2026-03-01:5000", "ops", &it), CLX_OK);
    assert_int_equal(it.payload_len, 7);
    clx_outbox_item_dispose(&it);
    /* no channel: only the mark */
    assert_int_equal(clx_outbox_fire(f->ob, "acme", "model:openai/x", NULL, 0, 50), CLX_OK);
    assert_int_equal(clx_outbox_fired(f->ob, "acme", "model:openai/x"), CLX_OK);
    /* the ops item delivered at 200, the slack one still pending */
    clx_outbox_item_t *due;
    size_t n;
    assert_int_equal(clx_outbox_take_due(f->ob, 100, 10, &due, &n), CLX_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        if (strcmp(due[i].channel_id, "ops") == 0)
            assert_int_equal(clx_outbox_mark_delivered(f->ob, &due[i], 200), CLX_OK);
    clx_outbox_items_free(due, n);
    size_t removed = 99;
    assert_int_equal(clx_outbox_prune(f->ob, 200, &removed), CLX_OK); /* settled at 200: not before 200 */
    assert_int_equal(removed, 0);
    assert_int_equal(clx_outbox_prune(f->ob, 201, &removed), CLX_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "budget:b:2026-03-01:5000", "ops", &it), CLX_ENOTFOUND);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "budget:b:2026-03-01:5000", "slack", &it), CLX_OK);
    clx_outbox_item_dispose(&it);
    /* the mark outlives the pruned item, and a restart */
    fx_close(f);
    fx_open(f);
    assert_int_equal(clx_outbox_fire(f->ob, "acme", "budget:b:2026-03-01:5000", items, 2, 300), CLX_EEXIST);
    assert_int_equal(clx_outbox_get(f->ob, "acme", "budget:b:2026-03-01:5000", "ops", &it), CLX_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enqueue_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_order_and_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fire_once_and_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
