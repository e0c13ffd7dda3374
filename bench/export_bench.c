/*
 * export_bench.c — the exporter's own cost per row, without ClickHouse: read the event log
 * in seq order (clx_events_read_after), decode each StoredEvent and encode its RowBinary
 * row, over a store filled by the real writer.
 *
 *   export_bench [events=1000000] [workspaces=1] [batch=50000]
 *
 * Prints one RESULT line: rows/s and ns per row for read+decode+encode, and bytes per row.
 */
#define _GNU_SOURCE
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clx_clickhouse.h"
#include "clx_error.h"
#include "clx_export.h"
#include "clx_mem.h"
#include "clx_store.h"
#include "clx_writer.h"
#include "costlynx/store/v1/records.pb-c.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void done_post(clx_write_req_t *req)
{
    sem_post(req->data);
}

typedef struct enc {
    clx_bytes_t body;
    clx_arena_t *arena;
    size_t rows;
} enc_t;

static int add_row(void *arg, const clx_logged_event_t *lev)
{
    enc_t *e = arg;
    ProtobufCAllocator alloc;
    clx_arena_reset(e->arena);
    clx_arena_allocator(e->arena, &alloc);
    Costlynx__Store__V1__StoredEvent *ev =
        costlynx__store__v1__stored_event__unpack(&alloc, lev->vlen, (const uint8_t *)lev->value);
    if (ev == NULL)
        return CLX_ECORRUPT;
    clx_ch_row_t row = {.workspace = lev->workspace, .cell = "c1", .version = lev->seq, .ev = ev};
    clx_ch_encode_row(&e->body, &row);
    e->rows++;
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t nws = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 50000;
    char dir[] = "/tmp/clx-export-bench-XXXXXX";
    clx_store_t *s = NULL;
    clx_writer_t *w = NULL;

    if (mkdtemp(dir) == NULL || clx_store_open(dir, &s, NULL) != CLX_OK || clx_writer_create(s, 1u << 22, &w) != CLX_OK)
        return 1;
    /* fill: requests of 100 events, workspaces round-robin, realistic records */
    const size_t per = 100;
    clx_write_item_t items[100];
    char ids[100][48];
    uint8_t *vals[100];
    size_t vlens[100];
    char wsname[32];
    sem_t sem;
    sem_init(&sem, 0, 0);
    double t0 = now_s();
    for (size_t r = 0; r * per < n; r++) {
        snprintf(wsname, sizeof(wsname), "ws%zu", r % nws);
        for (size_t i = 0; i < per; i++) {
            Costlynx__Store__V1__StoredEvent ev = COSTLYNX__STORE__V1__STORED_EVENT__INIT;
            snprintf(ids[i], sizeof(ids[i]), "chatcmpl-%zu-%zu-%08zx", r, i, r * 7919 + i);
            ev.request_id = ids[i];
            ev.provider = ev.provider_as_sent = "openai";
            ev.model = ev.model_normalized = "gpt-4o-mini";
            ev.price_id = "openai/gpt-4o-mini@2024-07-18";
            ev.cost_nanos = 180000 + (int64_t)i;
            ev.cost_source = COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CATALOG;
            ev.input_tokens = 1000 + (int64_t)i;
            ev.output_tokens = 50;
            ev.project = ev.project_as_sent = "support";
            ev.environment = ev.environment_as_sent = "prod";
            ev.feature = "ticket-classifier";
            ev.key_id = "key_0123456789ab";
            ev.received_at_ms = 1700000000000 + (int64_t)r;
            ev.fingerprint = r * 100 + i;
            vlens[i] = costlynx__store__v1__stored_event__get_packed_size(&ev);
            vals[i] = malloc(vlens[i]);
            costlynx__store__v1__stored_event__pack(&ev, vals[i]);
            items[i] = (clx_write_item_t){.workspace = wsname,
                                          .request_id = ids[i],
                                          .request_id_len = strlen(ids[i]),
                                          .value = vals[i],
                                          .value_len = vlens[i],
                                          .fingerprint = 1};
        }
        clx_write_req_t req = {.items = items, .nitems = per, .done = done_post, .data = &sem};
        if (clx_writer_submit(w, &req) != CLX_OK)
            return 1;
        sem_wait(&sem);
        for (size_t i = 0; i < per; i++)
            free(vals[i]);
    }
    double t1 = now_s();
    fprintf(stderr, "filled %zu events in %zu workspaces in %.1f s\n", n, nws, t1 - t0);

    enc_t e = {.arena = clx_arena_create(16384)};
    uint64_t cursor = 0, last = 0;
    size_t bytes = 0;
    t0 = now_s();
    for (;;) {
        e.body.len = 0;
        size_t before = e.rows;
        if (clx_events_read_after(s, cursor, UINT64_MAX, batch, add_row, &e, &last) != CLX_OK)
            return 1;
        if (e.rows == before)
            break;
        cursor += e.rows - before;
        bytes += e.body.len;
    }
    t1 = now_s();
    printf("RESULT events=%zu workspaces=%zu batch=%zu rows=%zu seconds=%.3f rows_per_s=%.0f ns_per_row=%.0f "
           "bytes_per_row=%.1f\n",
           n, nws, batch, e.rows, t1 - t0, (double)e.rows / (t1 - t0), (t1 - t0) * 1e9 / (double)e.rows,
           (double)bytes / (double)e.rows);
    free(e.body.p);
    clx_arena_destroy(e.arena);
    clx_writer_destroy(w);
    clx_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
