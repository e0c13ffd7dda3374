/*
 * otlp_bench.c — the OTLP door's CPU cost per span, single-threaded, without I/O: decode
 * (clx_otlp_decode), map (clx_otlp_map) and make the UsageEvents (clx_otlp_usage_to_event) of one
 * export body, again and again in one reused arena, as a queue thread does per request.
 *
 *   otlp_bench [--json] [--whole] [--seconds 3 | --requests N] FILE...
 *
 * FILE: an ExportTraceServiceRequest in protobuf (or OTLP/JSON with --json), e.g. written by
 * `grpc_load --mode otlp --prompts 1 --write-request FILE`, or tests/otlp/vectors/01-http.pb.
 * Decodes as the door does (limits.usage_only: only what the mapping reads); --whole decodes
 * every field (the default limits), to compare. Prints one RESULT line per file: spans/s,
 * records/s, MB/s, µs per request. --requests N decodes exactly N requests per file instead of
 * running for a time: for instruction counts that a busy machine does not blur
 * (valgrind --tool=callgrind bench/otlp_bench --requests 200 FILE: Ir / 200 per request).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_otlp.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    clx_otlp_format_t fmt = CLX_OTLP_PROTOBUF;
    double seconds = 3;
    uint64_t exact = 0;
    clx_otlp_limits_t lim = clx_otlp_default_limits;
    lim.usage_only = 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            fmt = CLX_OTLP_JSON;
            continue;
        }
        if (strcmp(argv[i], "--whole") == 0) {
            lim.usage_only = 0;
            continue;
        }
        if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
            exact = strtoull(argv[++i], NULL, 10);
            continue;
        }
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
            continue;
        }
        size_t len;
        char *body = slurp(argv[i], &len);
        if (body == NULL) {
            perror(argv[i]);
            return 2;
        }
        clx_arena_t *arena = clx_arena_create(1 << 20);
        uint64_t requests = 0, spans = 0, records = 0;
        double t0 = now_s(), t = t0;
        while (exact ? requests < exact : t - t0 < seconds) {
            for (int k = 0; k < 16 && (!exact || requests < exact); k++) {
                clx_otlp_request_t *req;
                clx_otlp_error_t err;
                clx_otlp_batch_t b;
                clx_arena_reset(arena);
                if (clx_otlp_decode(body, len, fmt, &lim, arena, &req, &err) != CLX_OK) {
                    fprintf(stderr, "%s: %s: %s\n", argv[i], err.name, err.message);
                    return 1;
                }
                clx_otlp_map(req, &lim, arena, &b);
                Costlynx__V1__UsageEvent *evs = clx_arena_alloc(arena, (b.nrecords ? b.nrecords : 1) * sizeof(*evs));
                for (size_t r = 0; r < b.nrecords; r++)
                    clx_otlp_usage_to_event(&b.records[r], arena, &evs[r]);
                requests++;
                spans += b.spans;
                records += b.nrecords;
            }
            t = now_s();
        }
        double d = t - t0;
        printf("RESULT decode=%s file=%s bytes=%zu spans_per_request=%" PRIu64 " requests_per_s=%.0f spans_per_s=%.0f "
               "records_per_s=%.0f MB_per_s=%.1f us_per_request=%.1f\n",
               lim.usage_only ? "usage_only" : "whole", argv[i], len, requests ? spans / requests : 0,
               (double)requests / d, (double)spans / d, (double)records / d, (double)requests * (double)len / d / 1e6,
               d / (double)requests * 1e6);
        clx_arena_destroy(arena);
        free(body);
    }
    return rc;
}
