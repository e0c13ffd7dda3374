/*
 * clx_door.h — a door's lifecycle as costlynxd drives it. Each door has its own start
 * function (clx_rest_start, clx_grpc_start: their configurations differ); a started door is
 * a clx_door_t, and main stops every door the same way, all at once: quiesce each (stop
 * taking work, return at once), then stop each against one shared deadline, then destroy.
 */
#ifndef CLX_DOOR_H
#define CLX_DOOR_H

#include <stdint.h>

typedef struct clx_door_ops {
    const char *name; /* for logs: "rest", "grpc" */
    /* The port actually bound (useful with port 0). */
    int (*port)(void *impl);
    /* Stops taking new work (new requests are answered "retry later") and returns at once. */
    void (*quiesce)(void *impl);
    /* Waits for the work in flight until deadline_ns (clx_mono_ns clock), ends what is left,
     * joins the door's threads. Quiesces first when that was not done. */
    void (*stop)(void *impl, uint64_t deadline_ns);
    /* Frees a stopped door. */
    void (*destroy)(void *impl);
} clx_door_ops_t;

/* A started door; a zeroed one (ops NULL) is "not started" and every call below is a no-op. */
typedef struct clx_door {
    const clx_door_ops_t *ops;
    void *impl;
} clx_door_t;

static inline int clx_door_port(const clx_door_t *d)
{
    return d->ops != NULL ? d->ops->port(d->impl) : 0;
}

static inline void clx_door_quiesce(clx_door_t *d)
{
    if (d->ops != NULL)
        d->ops->quiesce(d->impl);
}

static inline void clx_door_stop(clx_door_t *d, uint64_t deadline_ns)
{
    if (d->ops != NULL)
        d->ops->stop(d->impl, deadline_ns);
}

/* Frees the door (stopped, or never started) and zeroes *d. */
static inline void clx_door_destroy(clx_door_t *d)
{
    if (d->ops != NULL)
        d->ops->destroy(d->impl);
    d->ops = NULL;
    d->impl = NULL;
}

#endif
