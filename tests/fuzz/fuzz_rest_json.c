/*
 * fuzz_rest_json.c — libFuzzer harness for the REST door's ingest body decoder
 * (services/rest/rest_json.c, clx_rest_decode_ingest): the bytes are a request body. What it
 * decodes is then checked the way the door uses it: every decoded event is a complete
 * UsageEvent the validator can read, at most CLX_MAX_BATCH of them, every note names an event
 * that exists, and a refused body says why; tags and timestamps (issue 10) are whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_mem.h"
#include "clx_pipeline.h"
#include "rest_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    clx_log_set_level(CLX_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clx_arena_t *arena = clx_arena_create(32 * 1024);
    clx_ingest_body_t *body = clx_arena_zalloc(arena, sizeof(*body));
    int rc = clx_rest_decode_ingest((const char *)data, size, arena, body);
    if (rc != CLX_OK) {
        if (body->code == NULL || body->message[0] == '\0')
            abort(); /* a refused body must say why */
        goto done;
    }
    if (body->nevents > CLX_MAX_BATCH)
        abort();
    for (size_t i = 0; i < body->nnotes; i++)
        if (body->notes[i].index >= body->nevents || body->notes[i].code == NULL)
            abort();
    for (size_t i = 0; i < body->nevents; i++) {
        clx_problem_t problem;
        const Costlynx__V1__UsageEvent *ev = body->events[i];
        if (ev == NULL)
            continue;
        /* issue 10: at most one tag more than allowed is kept, every one whole; a decoded
         * timestamp is a real instant */
        if (ev->n_tags > CLX_MAX_TAGS + 1)
            abort();
        for (size_t t = 0; t < ev->n_tags; t++)
            if (ev->tags[t] == NULL || ev->tags[t]->key == NULL || ev->tags[t]->value == NULL)
                abort();
        if (ev->timestamp != NULL && (ev->timestamp->nanos < 0 || ev->timestamp->nanos > 999999999))
            abort();
        if (clx_validate_event(ev, &problem) == CLX_OK) {
            int64_t at;
            (void)clx_validate_event_time(ev, 1796000000000LL, 35LL * 86400000LL, 300000LL, &at, &problem);
        }
    }
done:
    clx_arena_destroy(arena);
    return 0;
}
