/*
 * pending.c — requests answered later, from another thread (the writer's completion of an
 * ingest or an OTLP export): they wait on the loop that owns the connection, counted in flight,
 * and come back to it through the loop's multithread queue. A client gone meanwhile is noticed
 * through the request pool's dispose hook: its answer is dropped, its arena released.
 */
#include "rest_internal.h"

static void on_pool_dispose(void *p)
{
    clx_rest_pending_t **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

clx_rest_pending_t *clx_rest_pending_new(clx_rest_call_t *call, clx_arena_t *arena, size_t size,
                                         clx_rest_respond_fn respond)
{
    clx_rest_pending_t *p = clx_arena_zalloc(arena, size);
    p->thread = call->thread;
    p->arena = arena;
    p->respond = respond;
    return p;
}

void clx_rest_pending_wait(clx_rest_pending_t *p, h2o_req_t *req)
{
    atomic_fetch_add(&p->thread->server->inflight, 1);
    p->req = req;
    p->backref = h2o_mem_alloc_shared(&req->pool, sizeof(*p->backref), on_pool_dispose);
    *p->backref = p;
}

void clx_rest_pending_post(clx_rest_pending_t *p)
{
    h2o_multithread_send_message(&p->thread->done_receiver, &p->msg);
}

void clx_rest_on_pending_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        clx_rest_pending_t *p = (clx_rest_pending_t *)m;
        clx_rest_t *srv = p->thread->server;
        if (p->req != NULL) {
            *p->backref = NULL;
            p->respond(p, p->req);
        }
        atomic_fetch_sub(&srv->inflight, 1);
        clx_rest_arena_put(p->thread, p->arena);
    }
}
