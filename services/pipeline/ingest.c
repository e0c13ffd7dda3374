/*
 * ingest.c — the door API (clx_ingest.h): sessions, requests and their notes, and the
 * IngestResponse every door renders. The stages themselves run in pipeline.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "pipeline_internal.h"

/* A warning of the answer, with what decides whether it is shown. */
struct clx_ingest_note {
    size_t index;
    size_t seq;      /* insertion order, for a stable sort */
    int stored_only; /* dropped when the event is not stored (skipped or rejected) */
    Costlynx__V1__Warning w;
};

/* ---- sessions and requests ------------------------------------------------------------------ */

int clx_ingest_authenticate(clx_pipeline_t *p, const char *key, size_t len, clx_arena_t *arena,
                            clx_ingest_session_t **out)
{
    clx_ingest_session_t *s = clx_arena_alloc(arena, sizeof(*s));
    int rc = clx_pipeline_auth(p, key, len, &s->key);
    if (rc != CLX_OK)
        return rc;
    s->pipeline = p;
    s->admin = 0;
    s->allow_old = 0;
    s->secret = clx_arena_strndup(arena, key, len);
    s->secret_len = len;
    *out = s;
    return CLX_OK;
}

void clx_ingest_session_allow_old(clx_ingest_session_t *s)
{
    s->allow_old = 1;
}

int clx_ingest_session_check(clx_ingest_session_t *s)
{
    return clx_pipeline_recheck(s->pipeline, s);
}

int clx_ingest_begin(clx_ingest_session_t *s, clx_arena_t *arena, Costlynx__V1__UsageEvent **events, size_t n,
                     clx_ingest_t **out)
{
    int rc = clx_pipeline_recheck(s->pipeline, s);
    if (rc != CLX_OK)
        return rc;
    clx_ingest_t *ing = clx_arena_zalloc(arena, sizeof(*ing));
    ing->session = s;
    ing->arena = arena;
    ing->events = events;
    ing->nevents = n;
    ing->slots = clx_arena_zalloc(arena, (n ? n : 1) * sizeof(*ing->slots));
    costlynx__v1__ingest_response__init(&ing->response);
    *out = ing;
    return CLX_OK;
}

int clx_ingest_submit(clx_ingest_t *ing, clx_ingest_done_fn done, void *data)
{
    ing->done = done;
    ing->data = data;
    if (ing->correction != NULL)
        return clx_correct_run(ing->session->pipeline, ing);
    return clx_pipeline_run(ing->session->pipeline, ing);
}

int clx_ingest_status(const clx_ingest_t *ing)
{
    return ing->status;
}

Costlynx__V1__IngestResponse *clx_ingest_response(clx_ingest_t *ing)
{
    return &ing->response;
}

/* ---- notes ------------------------------------------------------------------------------------ */

/* Grows an arena-backed pointer array. */
static void *grow(clx_arena_t *a, void *arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 4;
    void **fresh = clx_arena_alloc(a, ncap * sizeof(void *));
    if (n)
        memcpy(fresh, arr, n * sizeof(void *));
    *cap = ncap;
    return fresh;
}

static const char *request_id_of(const clx_ingest_t *ing, size_t index)
{
    if (index < ing->nevents && ing->events[index] != NULL && ing->events[index]->request_id != NULL)
        return ing->events[index]->request_id;
    return "";
}

void clx_ingest_add_error(clx_ingest_t *ing, size_t index, const clx_problem_t *why)
{
    if (index < ing->nevents) {
        if (ing->slots[index].state == SLOT_REJECTED)
            return; /* one error per event: the first problem found */
        ing->slots[index].state = SLOT_REJECTED;
    }
    Costlynx__V1__EventError *e = clx_arena_alloc(ing->arena, sizeof(*e));
    costlynx__v1__event_error__init(e);
    e->index = (uint32_t)index;
    e->request_id = (char *)request_id_of(ing, index);
    e->field = (char *)why->field;
    e->code = (char *)clx_code_name(why->code_id);
    e->message = clx_arena_strndup(ing->arena, why->message, strlen(why->message));
    ing->errors = grow(ing->arena, ing->errors, ing->nerrors, &ing->cap_errors);
    ing->errors[ing->nerrors++] = e;
}

static void add_note(clx_ingest_t *ing, size_t index, int stored_only, clx_code_t code, const char *message)
{
    struct clx_ingest_note *n = clx_arena_alloc(ing->arena, sizeof(*n));
    n->index = index;
    n->seq = ing->nnotes;
    n->stored_only = stored_only;
    costlynx__v1__warning__init(&n->w);
    n->w.index = (uint32_t)index;
    n->w.request_id = (char *)request_id_of(ing, index);
    n->w.code = (char *)clx_code_name(code);
    n->w.message = clx_arena_strndup(ing->arena, message, strlen(message));
    ing->notes = grow(ing->arena, ing->notes, ing->nnotes, &ing->cap_notes);
    ing->notes[ing->nnotes++] = n;
}

void clx_ingest_add_lock_refusal(clx_ingest_t *ing, const char *environment)
{
    ing->locks = grow(ing->arena, ing->locks, ing->nlocks, &ing->cap_locks);
    ing->locks[ing->nlocks++] = environment;
}

void clx_ingest_add_stored_warning(clx_ingest_t *ing, size_t index, const clx_problem_t *why)
{
    add_note(ing, index, 1, why->code_id, why->message);
}

void clx_ingest_reject(clx_ingest_t *ing, size_t index, const char *field, clx_code_t code, const char *fmt, ...)
{
    clx_problem_t why;
    va_list ap;
    why.field = field;
    why.code_id = code;
    why.code = clx_code_name(code);
    va_start(ap, fmt);
    vsnprintf(why.message, sizeof(why.message), fmt, ap);
    va_end(ap);
    clx_ingest_add_error(ing, index, &why);
}

void clx_ingest_warn(clx_ingest_t *ing, size_t index, clx_code_t code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_note(ing, index, 0, code, msg);
}

/* ---- the answer ----------------------------------------------------------------------------- */

static int note_by_index(const void *a, const void *b)
{
    const struct clx_ingest_note *x = *(const struct clx_ingest_note *const *)a;
    const struct clx_ingest_note *y = *(const struct clx_ingest_note *const *)b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int error_by_index(const void *a, const void *b)
{
    const Costlynx__V1__EventError *x = *(Costlynx__V1__EventError *const *)a;
    const Costlynx__V1__EventError *y = *(Costlynx__V1__EventError *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

void clx_ingest_finish(clx_ingest_t *ing)
{
    Costlynx__V1__IngestResponse *r = &ing->response;
    r->ok = 1;
    r->inserted = r->skipped = 0;
    for (size_t i = 0; i < ing->wreq.nitems; i++) {
        const clx_write_item_t *it = &ing->items[i];
        size_t idx = ing->item_slot[i];
        if (it->outcome == CLX_WRITE_INSERTED) {
            r->inserted++;
            continue;
        }
        r->skipped++;
        ing->slots[idx].state = SLOT_OPEN; /* not stored: its stored-only notes go */
        if (it->voided)
            clx_ingest_warn(ing, idx, CLX_CODE_REQUEST_ID_VOIDED,
                            "requestId '%s' belongs to a voided event: this event was skipped, the void stands",
                            request_id_of(ing, idx));
        else if (it->outcome == CLX_WRITE_CONFLICT)
            clx_ingest_warn(ing, idx, CLX_CODE_REQUEST_ID_CONFLICT,
                            "requestId '%s' was already stored with a different payload: this event was skipped, "
                            "the stored one stands",
                            request_id_of(ing, idx));
    }
    r->rejected = (uint32_t)ing->nerrors;
    if (ing->nerrors > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(ing->errors, ing->nerrors, sizeof(*ing->errors), error_by_index);
    r->n_errors = ing->nerrors;
    r->errors = ing->errors;

    if (ing->nnotes > 1)
        qsort(ing->notes, ing->nnotes, sizeof(*ing->notes), note_by_index);
    r->warnings = clx_arena_alloc(ing->arena, (ing->nnotes ? ing->nnotes : 1) * sizeof(*r->warnings));
    r->n_warnings = 0;
    for (size_t i = 0; i < ing->nnotes; i++) {
        struct clx_ingest_note *n = ing->notes[i];
        if (n->stored_only && (n->index >= ing->nevents || ing->slots[n->index].state != SLOT_READY))
            continue;
        r->warnings[r->n_warnings++] = &n->w;
    }
}

/* ---- summaries over many requests ------------------------------------------------------------ */

void clx_ingest_summary_init(clx_ingest_summary_t *s, size_t max_notes)
{
    memset(s, 0, sizeof(*s));
    costlynx__v1__ingest_response__init(&s->response);
    s->response.ok = 1;
    s->max_notes = max_notes;
}

static char *copy(clx_arena_t *a, const char *s)
{
    return clx_arena_strndup(a, s, strlen(s));
}

/* Appends one error (copied into arena); the caller checks the cap. */
static void summary_error(clx_ingest_summary_t *s, clx_arena_t *arena, uint32_t index, const char *request_id,
                          const char *field, const char *code, const char *message)
{
    Costlynx__V1__IngestResponse *t = &s->response;
    Costlynx__V1__EventError *e = clx_arena_alloc(arena, sizeof(*e));
    costlynx__v1__event_error__init(e);
    e->index = index;
    e->request_id = copy(arena, request_id);
    e->field = copy(arena, field);
    e->code = copy(arena, code);
    e->message = copy(arena, message);
    t->errors = grow(arena, t->errors, t->n_errors, &s->cap_errors);
    t->errors[t->n_errors++] = e;
}

void clx_ingest_summary_add(clx_ingest_summary_t *s, clx_arena_t *arena, const Costlynx__V1__IngestResponse *src,
                            uint32_t offset)
{
    Costlynx__V1__IngestResponse *t = &s->response;
    t->inserted += src->inserted;
    t->skipped += src->skipped;
    t->rejected += src->rejected;
    for (size_t i = 0; i < src->n_errors && t->n_errors < s->max_notes; i++) {
        const Costlynx__V1__EventError *from = src->errors[i];
        summary_error(s, arena, from->index + offset, from->request_id, from->field, from->code, from->message);
    }
    for (size_t i = 0; i < src->n_warnings && t->n_warnings < s->max_notes; i++) {
        const Costlynx__V1__Warning *from = src->warnings[i];
        Costlynx__V1__Warning *w = clx_arena_alloc(arena, sizeof(*w));
        costlynx__v1__warning__init(w);
        w->index = from->index + offset;
        w->request_id = copy(arena, from->request_id);
        w->code = copy(arena, from->code);
        w->message = copy(arena, from->message);
        t->warnings = grow(arena, t->warnings, t->n_warnings, &s->cap_warnings);
        t->warnings[t->n_warnings++] = w;
    }
}

void clx_ingest_summary_reject(clx_ingest_summary_t *s, clx_arena_t *arena, Costlynx__V1__UsageEvent *const *events,
                               size_t n, uint32_t offset, const char *field, clx_code_t code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->response.rejected += (uint32_t)n;
    for (size_t i = 0; i < n && s->response.n_errors < s->max_notes; i++) {
        const char *rid = events[i] != NULL && events[i]->request_id != NULL ? events[i]->request_id : "";
        summary_error(s, arena, offset + (uint32_t)i, rid, field, clx_code_name(code), msg);
    }
}
