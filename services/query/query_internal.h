/*
 * query_internal.h — the query service's state, shared by its files.
 */
#ifndef CLX_QUERY_INTERNAL_H
#define CLX_QUERY_INTERNAL_H

#include "clx_query.h"
#include "clx_rollup.h"
#include "clx_store.h"

struct clx_query {
    clx_store_t *store;
    clx_dims_acc_t *dims; /* the writer's held dims sums, or NULL */
};

#endif
