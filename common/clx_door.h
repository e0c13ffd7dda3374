/*
 * clx_door.h — a door's lifecycle as costlynxd drives it. Each door has its own start
 * function (clx_rest_start, clx_grpc_start: their configurations differ); a started door is
 * a clx_door_t, and main stops every door the same way, all at once: quiesce each (stop
 * taking work, return at once), then stop each against one shared deadline, then destroy.
 * The order and the at-most-once rule are kept here, not in each door.
 */
#ifndef CLX_DOOR_H
#define CLX_DOOR_H

#include <stdint.h>

/* What a door does at each step; called through the functions below, each at most once. */
typedef struct clx_door_ops {
    const char *name; /* for logs: "rest", "grpc" */
    /* Stops taking new work (new requests are answered "retry later") and returns at once. */
    void (*quiesce)(void *impl);
    /* Waits for the work in flight until deadline_ns (clx_mono_ns clock), ends what is left,
     * joins the door's threads. Called after quiesce. */
    void (*stop)(void *impl, uint64_t deadline_ns);
    /* Frees a stopped door. */
    void (*destroy)(void *impl);
} clx_door_ops_t;

/* A door; a zeroed one (ops NULL) is "not started" and every call below is a no-op. */
typedef struct clx_door {
    const clx_door_ops_t *ops;
    void *impl;
    int port; /* the port actually bound (useful with port 0) */
    int quiesced, stopped;
} clx_door_t;

static inline void clx_door_quiesce(clx_door_t *d)
{
    if (d->ops != NULL && !d->quiesced) {
        d->quiesced = 1;
        d->ops->quiesce(d->impl);
    }
}

/* Quiesces first when that was not done. */
static inline void clx_door_stop(clx_door_t *d, uint64_t deadline_ns)
{
    clx_door_quiesce(d);
    if (d->ops != NULL && !d->stopped) {
        d->stopped = 1;
        d->ops->stop(d->impl, deadline_ns);
    }
}

/* Stops the door at once when that was not done, frees it, and zeroes *d. */
static inline void clx_door_destroy(clx_door_t *d, uint64_t now_ns)
{
    clx_door_stop(d, now_ns);
    if (d->ops != NULL)
        d->ops->destroy(d->impl);
    *d = (clx_door_t){0};
}

#endif
