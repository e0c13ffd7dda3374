/*
 * writer_bench.c — events/s through the group-commit writer: N submitter threads, each with
 * K requests of 100 ~200-byte events in flight, sync on, fresh store in a temp dir.
 *
 * Not built by CMake. From the repository root:
 *   gcc -O2 -std=gnu11 -Icommon -Istorage bench/writer_bench.c storage/store.c storage/writer.c \
 *       common/clx_log.c common/clx_mem.c common/clx_error.c -lrocksdb -lprotobuf-c -lpthread \
 *       -o /tmp/writer_bench
 *   /tmp/writer_bench [threads=8] [seconds=10] [inflight_per_thread=1] [dir_parent=/tmp]
 * KEEP=1 in the environment keeps the store directory (to read RocksDB's LOG).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_store.h"
#include "clx_writer.h"

#define ITEMS_PER_REQ 100
#define VALUE_LEN 200

typedef struct slot {
    clx_write_req_t req;
    double submitted;
    clx_write_item_t items[ITEMS_PER_REQ];
    char ids[ITEMS_PER_REQ][40];
    char vals[ITEMS_PER_REQ][VALUE_LEN];
} slot_t;

typedef struct worker {
    clx_writer_t *w;
    int t;
    int inflight;
    sem_t free_slots;
    slot_t *slots;
    pthread_t th;
    uint64_t busy;
} worker_t;

static atomic_int stop_flag;
static atomic_uint_fast64_t done_events;
/* request latency histogram (written by the writer thread only): bucket i = [2^i, 2^(i+1)) us */
static uint64_t lat_hist[32];
static double lat_max;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void);

static void on_done(clx_write_req_t *req)
{
    worker_t *wk = req->data;
    slot_t *sl = (slot_t *)((char *)req - offsetof(slot_t, req));
    double lat = now_s() - sl->submitted;
    int b = 0;
    for (double us = lat * 1e6; us >= 2 && b < 31; us /= 2)
        b++;
    lat_hist[b]++;
    if (lat > lat_max)
        lat_max = lat;
    if (req->status == CLX_OK)
        atomic_fetch_add_explicit(&done_events, req->nitems, memory_order_relaxed);
    else
        fprintf(stderr, "request failed: %s\n", clx_strerror(req->status));
    sem_post(&wk->free_slots);
}

static void *run(void *p)
{
    worker_t *wk = p;
    uint64_t n = 0;
    int next = 0;
    const char *wss[] = {"acme", "globex", "initech", "umbrella"};

    /* slot i is reused only after its done(); the semaphore counts free slots, used round-robin */
    while (!atomic_load(&stop_flag)) {
        sem_wait(&wk->free_slots);
        slot_t *s = &wk->slots[next];
        next = (next + 1) % wk->inflight;
        for (int i = 0; i < ITEMS_PER_REQ; i++, n++) {
            clx_write_item_t *it = &s->items[i];
            int l = snprintf(s->ids[i], sizeof(s->ids[i]), "req-%08x-%02d-%012llx", (unsigned)(n * 2654435761u), wk->t,
                             (unsigned long long)n);
            memset(s->vals[i], 'a' + (int)(n % 26), VALUE_LEN);
            memcpy(s->vals[i], s->ids[i], (size_t)l);
            it->workspace = wss[n % 4];
            it->request_id = s->ids[i];
            it->request_id_len = (size_t)l;
            it->value = s->vals[i];
            it->value_len = VALUE_LEN;
            it->fingerprint = n * 0x9E3779B97F4A7C15ull + (uint64_t)wk->t;
        }
        s->req = (clx_write_req_t){.items = s->items, .nitems = ITEMS_PER_REQ, .done = on_done, .data = wk};
        s->submitted = now_s();
        int rc;
        while ((rc = clx_writer_submit(wk->w, &s->req)) == CLX_EBUSY) {
            wk->busy++;
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        if (rc != CLX_OK) {
            sem_post(&wk->free_slots);
            break;
        }
    }
    for (int i = 0; i < wk->inflight; i++) /* wait for our requests in flight */
        sem_wait(&wk->free_slots);
    return NULL;
}

/*
 * On-CPU nanoseconds of this process's thread named name (from schedstat), 0 if not found;
 * *runq gets the time it waited for a CPU while runnable.
 */
static uint64_t thread_cpu_ns(const char *name, uint64_t *runq)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    uint64_t ns = 0;

    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[300], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof(comm), f) != NULL)
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        if (strcmp(comm, name) != 0)
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
        f = fopen(path, "r");
        if (f != NULL) {
            unsigned long long v = 0, q = 0;
            if (fscanf(f, "%llu %llu", &v, &q) == 2) {
                ns = v;
                *runq = q;
            }
            fclose(f);
        }
    }
    if (d != NULL)
        closedir(d);
    return ns;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    int nthreads = argc > 1 ? atoi(argv[1]) : 8;
    double seconds = argc > 2 ? atof(argv[2]) : 10;
    int inflight = argc > 3 ? atoi(argv[3]) : 1;
    const char *parent = argc > 4 ? argv[4] : "/tmp";
    char dir[512];
    clx_store_t *s = NULL;
    clx_writer_t *w = NULL;
    char *err = NULL;

    snprintf(dir, sizeof(dir), "%s/clx_writer_bench_XXXXXX", parent);
    if (mkdtemp(dir) == NULL || clx_store_open(dir, &s, &err) != CLX_OK) {
        fprintf(stderr, "cannot open store in %s: %s\n", dir, err ? err : "mkdtemp failed");
        return 1;
    }
    if (clx_writer_create(s, 1u << 20, &w) != CLX_OK)
        return 1;

    worker_t *wk = calloc((size_t)nthreads, sizeof(*wk));
    double t0 = now_s();
    for (int t = 0; t < nthreads; t++) {
        wk[t].w = w;
        wk[t].t = t;
        wk[t].inflight = inflight;
        wk[t].slots = calloc((size_t)inflight, sizeof(slot_t));
        sem_init(&wk[t].free_slots, 0, (unsigned)inflight);
        pthread_create(&wk[t].th, NULL, run, &wk[t]);
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop_flag, 1);
    uint64_t busy = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(wk[t].th, NULL);
        busy += wk[t].busy;
    }
    double el = now_s() - t0;
    uint64_t wrunq = 0;
    uint64_t wcpu = thread_cpu_ns("clx-writer", &wrunq);

    clx_writer_stats_t st;
    clx_writer_stats(w, &st);
    uint64_t ev = atomic_load(&done_events);
    printf("threads=%d inflight/thread=%d items/request=%d value=%dB sync=1\n", nthreads, inflight, ITEMS_PER_REQ,
           VALUE_LEN);
    printf("events=%llu in %.2fs: %.0f events/s, %.0f requests/s\n", (unsigned long long)ev, el, (double)ev / el,
           (double)st.requests / el);
    printf("groups=%llu (%.1f requests/group, %.0f fsyncs/s), inserted=%llu, ebusy=%llu\n",
           (unsigned long long)st.groups, st.groups ? (double)st.requests / (double)st.groups : 0.0,
           (double)st.groups / el, (unsigned long long)st.inserted, (unsigned long long)busy);
    printf("writer thread on CPU %.2fs of %.2fs (%.0f%%), %.2f us CPU/event, waited %.2fs for a CPU\n",
           (double)wcpu / 1e9, el, 100.0 * (double)wcpu / 1e9 / el, ev ? (double)wcpu / 1e3 / (double)ev : 0.0,
           (double)wrunq / 1e9);

    uint64_t total = 0, acc = 0;
    for (int b = 0; b < 32; b++)
        total += lat_hist[b];
    printf("request latency:");
    for (int b = 0, p50 = 0, p99 = 0; b < 32; b++) {
        acc += lat_hist[b];
        if (!p50 && acc * 2 >= total) {
            printf(" p50 < %u us", 2u << b);
            p50 = 1;
        }
        if (!p99 && acc * 100 >= total * 99) {
            printf(", p99 < %u us", 2u << b);
            p99 = 1;
        }
    }
    printf(", max %.1f ms\n", lat_max * 1e3);

    clx_writer_destroy(w);
    clx_store_close(s);
    for (int t = 0; t < nthreads; t++) {
        sem_destroy(&wk[t].free_slots);
        free(wk[t].slots);
    }
    free(wk);
    if (getenv("KEEP") == NULL)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("store kept in %s\n", dir);
    return 0;
}
