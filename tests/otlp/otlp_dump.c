/*
 * otlp_dump.c — a test tool: decodes one OTLP body file with the OTLP module and prints the
 * mapped usage records as one JSON object, so tests in any language can check them.
 *
 *   clx_otlp_dump --content-type TYPE [--content-encoding ENC] FILE
 *
 * Prints {"ok":true,"spans":..,"ignored":..,"rejected":..,"records":[..],"rejects":[..],
 * "events":[..]} (events: the UsageEvents made from the records), or {"ok":false,"code":..,
 * "message":..} when the body is refused. Exit 0 when decoded, 1 when refused, 2 on usage or
 * I/O errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_otlp.h"

static void put_str(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void put_kv_str(const char *key, const char *val, int comma)
{
    printf("%s\"%s\":", comma ? "," : "", key);
    put_str(val);
}

static void put_kv_int(const char *key, int64_t val)
{
    printf(",\"%s\":%" PRId64, key, val);
}

static void put_record(const clx_otlp_usage_t *u)
{
    printf("{\"spanIndex\":%u", (unsigned)u->span_index);
    put_kv_str("provider", u->provider, 1);
    put_kv_str("model", u->model, 1);
    put_kv_int("inputTokens", u->input_tokens);
    put_kv_int("outputTokens", u->output_tokens);
    put_kv_int("cachedTokens", u->cached_tokens);
    put_kv_int("cacheWriteTokens", u->cache_write_tokens);
    put_kv_int("reasoningTokens", u->reasoning_tokens);
    put_kv_int("audioInputTokens", u->audio_input_tokens);
    put_kv_int("audioOutputTokens", u->audio_output_tokens);
    put_kv_str("requestId", u->request_id, 1);
    printf(",\"requestIdFromSpan\":%s", u->request_id_from_span ? "true" : "false");
    printf(",\"timestampUnixNano\":\"%" PRIu64 "\"", u->timestamp_unix_nano);
    put_kv_str("project", u->project, 1);
    put_kv_str("environment", u->environment, 1);
    put_kv_str("feature", u->feature, 1);
    put_kv_str("userId", u->user_id, 1);
    put_kv_str("serviceTier", u->service_tier, 1);
    put_kv_str("scope", u->scope, 1);
    printf(",\"tags\":{");
    for (size_t i = 0; i < u->ntags; i++)
        put_kv_str(u->tags[i].key, u->tags[i].value, i > 0);
    printf("}}");
}

static void put_event(const Costlynx__V1__UsageEvent *ev)
{
    putchar('{');
    put_kv_str("provider", ev->provider, 0);
    put_kv_str("model", ev->model, 1);
    put_kv_int("inputTokens", ev->input_tokens);
    put_kv_int("outputTokens", ev->output_tokens);
    put_kv_int("cachedTokens", ev->cached_tokens);
    put_kv_int("cacheWriteTokens", ev->cache_write_tokens);
    put_kv_str("requestId", ev->request_id, 1);
    put_kv_str("project", ev->project, 1);
    put_kv_str("environment", ev->environment, 1);
    put_kv_str("feature", ev->feature, 1);
    put_kv_int("reasoningTokens", ev->reasoning_tokens);
    put_kv_int("audioInputTokens", ev->audio_input_tokens);
    put_kv_int("audioOutputTokens", ev->audio_output_tokens);
    put_kv_str("userId", ev->user_id, 1);
    put_kv_str("serviceTier", ev->service_tier, 1);
    /* the same unit as the record's, so the two compare as strings */
    uint64_t ns = ev->timestamp != NULL
                      ? (uint64_t)ev->timestamp->seconds * 1000000000u + (uint64_t)ev->timestamp->nanos
                      : 0;
    printf(",\"timestampUnixNano\":\"%" PRIu64 "\"", ns);
    printf(",\"tags\":{");
    for (size_t i = 0; i < ev->n_tags; i++)
        put_kv_str(ev->tags[i]->key, ev->tags[i]->value, i > 0);
    printf("}}");
}

int main(int argc, char **argv)
{
    const char *ctype = NULL, *cenc = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--content-type") == 0 && i + 1 < argc)
            ctype = argv[++i];
        else if (strcmp(argv[i], "--content-encoding") == 0 && i + 1 < argc)
            cenc = argv[++i];
        else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else
            path = NULL, i = argc;
    }
    if (ctype == NULL || path == NULL) {
        fprintf(stderr, "usage: clx_otlp_dump --content-type TYPE [--content-encoding ENC] FILE\n");
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *body = malloc(cap);
    while (body != NULL && (n = fread(body + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            body = realloc(body, cap *= 2);
    }
    fclose(f);
    if (body == NULL)
        return 2;

    clx_arena_t *arena = clx_arena_create(1 << 16);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    int rc = clx_otlp_decode_http(body, len, ctype, strlen(ctype), cenc, cenc != NULL ? strlen(cenc) : 0, NULL,
                                  arena, NULL, &req, &err);
    if (rc != CLX_OK) {
        printf("{\"ok\":false,\"status\":%d", clx_err_http_status(rc));
        put_kv_str("code", err.name, 1);
        put_kv_str("message", err.message, 1);
        printf("}\n");
        free(body);
        clx_arena_destroy(arena);
        return 1;
    }
    clx_otlp_batch_t b;
    clx_otlp_map(req, NULL, arena, &b);
    printf("{\"ok\":true,\"spans\":%zu,\"ignored\":%zu,\"rejected\":%zu,\"records\":[", b.spans, b.ignored,
           b.rejected);
    for (size_t i = 0; i < b.nrecords; i++) {
        if (i > 0)
            putchar(',');
        put_record(&b.records[i]);
    }
    printf("],\"rejects\":[");
    for (size_t i = 0; i < b.nrejects; i++) {
        printf("%s{\"spanIndex\":%u", i > 0 ? "," : "", (unsigned)b.rejects[i].span_index);
        put_kv_str("requestId", b.rejects[i].request_id, 1);
        put_kv_str("attribute", b.rejects[i].attribute, 1);
        put_kv_str("code", clx_code_name(b.rejects[i].code), 1);
        put_kv_str("message", b.rejects[i].message, 1);
        putchar('}');
    }
    printf("],\"events\":[");
    for (size_t i = 0; i < b.nrecords; i++) {
        Costlynx__V1__UsageEvent ev;
        clx_otlp_usage_to_event(&b.records[i], arena, &ev);
        if (i > 0)
            putchar(',');
        put_event(&ev);
    }
    printf("]}\n");
    free(body);
    clx_arena_destroy(arena);
    return 0;
}
