/*
 * reprice.c — a workspace's stored events priced again after a price change (a catalog reload,
 * a workspace override or deployment mapping): a scan that prices each eligible event as the
 * price stage would now, at the event's time, and — unless it is a dry run — hands the writer
 * the changed ones as new versions (an amend of the cost, built on the version read).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clx_error.h"
#include "clx_log.h"
#include "clx_rollup.h"
#include "pipeline_internal.h"

#define APPLY_BATCH 1000 /* new versions per writer request */
#define CHUNK_ARENA (256 * 1024)

/* One writer request of new versions, awaited on the scanning thread. */
struct apply {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    clx_write_req_t req;
    clx_write_item_t items[APPLY_BATCH];
    size_t n;
};

static void on_applied(clx_write_req_t *req)
{
    struct apply *a = req->data;
    pthread_mutex_lock(&a->mu);
    a->done = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Writes the batch's new versions and waits: CLX_OK, or the writer's refusal / failure. */
static int flush(clx_pipeline_t *p, struct apply *a, clx_reprice_result_t *out)
{
    if (a->n == 0)
        return CLX_OK;
    memset(&a->req, 0, sizeof(a->req));
    a->req.items = a->items;
    a->req.nitems = a->n;
    a->req.corrections = 1;
    a->req.done = on_applied;
    a->req.data = a;
    a->done = 0;
    int rc;
    for (int tries = 0;; tries++) {
        rc = clx_writer_submit(clx_pipeline_writer(p), &a->req);
        if (rc != CLX_EBUSY || tries == 500)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000}; /* a full queue: ingestion first, then us */
        nanosleep(&ts, NULL);
    }
    if (rc != CLX_OK)
        return rc;
    pthread_mutex_lock(&a->mu);
    while (!a->done)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    if (a->req.status != CLX_OK)
        return a->req.status;
    clx_pipeline_note_corrected(p, a->items[0].workspace); /* budgets read their spend again */
    for (size_t i = 0; i < a->n; i++) {
        if (a->items[i].outcome == CLX_WRITE_CORRECTED)
            out->applied++;
        else
            out->conflicts++; /* amended, voided or repriced by another request meanwhile */
    }
    a->n = 0;
    return CLX_OK;
}

static int flush_report(clx_pipeline_t *p, struct apply *a, const clx_reprice_query_t *q, clx_reprice_result_t *out)
{
    int rc = flush(p, a, out);
    if (q->progress != NULL && q->progress(q->progress_arg, out) != 0 && rc == CLX_OK)
        rc = CLX_ESHUTDOWN;
    return rc;
}

/* The result's row of (provider, model), added when there is room (else the "*" row). */
static clx_reprice_model_t *model_row(clx_arena_t *arena, clx_reprice_result_t *out, const char *provider,
                                      const char *model)
{
    for (size_t i = 0; i < out->nmodels; i++)
        if (strcmp(out->models[i].provider, provider) == 0 && strcmp(out->models[i].model, model) == 0)
            return &out->models[i];
    if (out->nmodels == CLX_REPRICE_MODELS - 1) {
        provider = model = "*";
        for (size_t i = 0; i < out->nmodels; i++)
            if (strcmp(out->models[i].model, "*") == 0)
                return &out->models[i];
    }
    clx_reprice_model_t *m = &out->models[out->nmodels++];
    memset(m, 0, sizeof(*m));
    m->provider = clx_arena_strndup(arena, provider, strlen(provider));
    m->model = clx_arena_strndup(arena, model, strlen(model));
    return m;
}

int clx_ingest_reprice(clx_ingest_session_t *s, clx_arena_t *arena, const clx_reprice_query_t *q,
                       clx_reprice_result_t *out)
{
    clx_pipeline_t *p = s->pipeline;
    const char *ws = s->key.workspace;
    const char *by = s->admin ? "admin" : clx_arena_printf(arena, "key:%s", s->key.key_id);
    clx_settings_t *settings = clx_pipeline_settings(p);
    const clx_catalog_t *catalog = clx_pipeline_catalog(p); /* one catalog for the whole run */
    memset(out, 0, sizeof(*out));
    out->models = clx_arena_alloc(arena, CLX_REPRICE_MODELS * sizeof(*out->models));

    struct apply *a = clx_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    clx_arena_t *chunk = clx_arena_create(CHUNK_ARENA); /* the events read and the versions of one batch */
    ProtobufCAllocator alloc;
    clx_arena_allocator(chunk, &alloc);
    int64_t now = clx_now_ms();
    int rc = CLX_OK;

    clx_event_iter_t *it = clx_event_iter_create(clx_writer_store(clx_pipeline_writer(p)), ws);
    for (clx_event_iter_seek_before(it, 0); clx_event_iter_valid(it); clx_event_iter_prev(it)) {
        size_t vlen;
        if (a->n == 0)
            clx_arena_reset(chunk); /* nothing pending refers to it: memory stays one batch's */
        const char *val = clx_event_iter_value(it, &vlen);
        if (++out->scanned % CLX_REPRICE_PROGRESS == 0 && q->progress != NULL &&
            q->progress(q->progress_arg, out) != 0) {
            rc = CLX_ESHUTDOWN;
            break;
        }
        Costlynx__Store__V1__StoredEvent *old =
            costlynx__store__v1__stored_event__unpack(&alloc, vlen, (const uint8_t *)val);
        if (old == NULL || old->voided || old->cost_source == COSTLYNX__STORE__V1__COST_SOURCE__COST_SOURCE_CALLER)
            continue; /* never a caller's cost; an unreadable record is the read-back's to report */
        int64_t t = clx_event_time_ms(old);
        if ((q->from_ms != 0 && t < q->from_ms) || (q->to_ms != 0 && t >= q->to_ms) ||
            (q->provider != NULL && strcmp(q->provider, old->provider) != 0) ||
            (q->model != NULL && strcmp(q->model, old->model) != 0))
            continue;
        out->eligible++;

        /* the price stage as ingestion runs it, on the event as sent, at its time */
        Costlynx__V1__UsageEvent *ev = clx_correct_rebuild(chunk, old);
        Costlynx__Store__V1__StoredEvent *rec = clx_arena_alloc(chunk, sizeof(*rec));
        *rec = *old;
        rec->flags &= ~(uint32_t)COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNPRICED;
        rec->cost_detail = NULL;
        clx_problem_t why;
        clx_settings_read_begin(settings);
        clx_price_event(catalog, settings, ws, chunk, ev, rec, t, &why);
        clx_settings_read_end(settings);
        if (rec->cost_nanos == old->cost_nanos && rec->cost_source == old->cost_source &&
            strcmp(rec->price_id, old->price_id) == 0)
            continue;
        out->changed++;
        out->old_nanos += old->cost_nanos;
        out->new_nanos += rec->cost_nanos;
        clx_reprice_model_t *m = model_row(arena, out, old->provider, old->model);
        m->events++;
        m->old_nanos += old->cost_nanos;
        m->new_nanos += rec->cost_nanos;
        if (q->dry_run)
            continue;

        uint32_t version = old->version != 0 ? old->version : 1;
        rec->version = version + 1;
        rec->change = COSTLYNX__STORE__V1__CHANGE_KIND__CHANGE_KIND_REPRICE;
        rec->changed_at_ms = now;
        rec->changed_by = (char *)by;
        rec->change_reason = (char *)"reprice";
        size_t len = costlynx__store__v1__stored_event__get_packed_size(rec);
        uint8_t *buf = clx_arena_alloc(chunk, len ? len : 1);
        costlynx__store__v1__stored_event__pack(rec, buf);
        clx_rollup_ref_t *refs = clx_arena_alloc(chunk, CLX_ROLLUP_PER_EVENT * sizeof(*refs));
        clx_write_item_t *item = &a->items[a->n++];
        memset(item, 0, sizeof(*item));
        item->op = CLX_WRITE_OP_AMEND;
        item->workspace = ws;
        item->request_id = rec->request_id;
        item->request_id_len = strlen(rec->request_id);
        item->value = buf;
        item->value_len = len;
        item->fingerprint = rec->fingerprint;
        item->event_time_ms = t;
        item->rollups = refs;
        item->nrollups = clx_rollup_event_refs(chunk, ws, rec, 1, refs);
        item->base_version = version;
        if (a->n == APPLY_BATCH) {
            if ((rc = flush_report(p, a, q, out)) != CLX_OK)
                break;
        }
    }
    if (rc == CLX_OK && clx_event_iter_status(it) != CLX_OK)
        rc = CLX_EIO;
    clx_event_iter_destroy(it);
    if (rc == CLX_OK || (rc == CLX_ESHUTDOWN && a->n > 0)) { /* what was read is still written */
        int frc = flush_report(p, a, q, out);
        if (rc == CLX_OK)
            rc = frc;
    }
    if (rc != CLX_OK)
        clx_log(CLX_LOG_WARN, "pipeline", "reprice of workspace %s stopped: %s (%lld applied)", ws, clx_strerror(rc),
                (long long)out->applied);
    clx_arena_destroy(chunk);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return rc;
}

#define JOBS_META "jobs/reprice" /* the door's note of its running reprices (store metadata) */

int clx_ingest_jobs_save(clx_pipeline_t *p, const char *text, size_t len)
{
    return clx_store_meta_put(clx_writer_store(clx_pipeline_writer(p)), JOBS_META, text, len);
}

int clx_ingest_jobs_load(clx_pipeline_t *p, char **text)
{
    char *val = NULL;
    size_t len = 0;
    *text = NULL;
    int rc = clx_store_meta_get(clx_writer_store(clx_pipeline_writer(p)), JOBS_META, &val, &len);
    if (rc == CLX_ENOTFOUND)
        return CLX_OK;
    if (rc != CLX_OK)
        return rc;
    *text = clx_xstrndup(val, len);
    free(val);
    return CLX_OK;
}
