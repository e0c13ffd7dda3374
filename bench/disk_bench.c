/*
 * disk_bench.c — disk per stored event after compaction, for a data folder costlynxd has
 * left (stop the server first: RocksDB allows one process per folder).
 * Opens the store, flushes and fully compacts every family (so every table file is at the
 * bottom level, with its bottommost compression), counts the events (the events family's
 * keys) and prints the table-file bytes of each family and of all of them per event.
 * Usage: disk_bench DIR   (prints one RESULT line; exit 1 on a failure or an empty store)
 */
#include <stdio.h>
#include <stdlib.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_store.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: disk_bench DIR\n");
        return 2;
    }
    clx_log_set_level(CLX_LOG_WARN);
    clx_store_t *store = NULL;
    char *err = NULL;
    if (clx_store_open(argv[1], &store, &err) != CLX_OK) {
        fprintf(stderr, "open %s: %s\n", argv[1], err != NULL ? err : "failed");
        free(err);
        return 1;
    }
    int rc = 0;
    for (int cf = 0; cf < CLX_CF_COUNT_; cf++) {
        if (clx_store_compact(store, (clx_cf_t)cf) != CLX_OK) {
            fprintf(stderr, "compacting %s failed\n", clx_store_cf_name((clx_cf_t)cf));
            rc = 1;
        }
    }
    unsigned long long events = 0;
    clx_iter_t *it = clx_iter_create(store, CLX_CF_EVENTS, NULL, 0);
    for (clx_iter_first(it); clx_iter_valid(it); clx_iter_next(it))
        events++;
    if (clx_iter_status(it) != CLX_OK)
        rc = 1;
    clx_iter_destroy(it);
    uint64_t bytes[CLX_CF_COUNT_], total = 0;
    for (int cf = 0; cf < CLX_CF_COUNT_; cf++)
        total += bytes[cf] = clx_store_sst_bytes(store, (clx_cf_t)cf);
    printf("RESULT disk events=%llu sst_bytes=%llu bytes_per_event=%.1f", events, (unsigned long long)total,
           events > 0 ? (double)total / (double)events : 0.0);
    for (int cf = 0; cf < CLX_CF_COUNT_; cf++)
        printf(" %s_per_event=%.1f", clx_store_cf_name((clx_cf_t)cf),
               events > 0 ? (double)bytes[cf] / (double)events : 0.0);
    printf("\n");
    clx_store_close(store);
    return rc != 0 || events == 0;
}
