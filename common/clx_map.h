/*
 * clx_map.h — a small open-addressing hash map from byte-string keys to pointers.
 *
 * Keys are copied into the map; values are the caller's. Not thread-safe: callers lock.
 */
#ifndef CLX_MAP_H
#define CLX_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "clx_hash.h" /* keys are hashed with clx_fnv1a64 */

typedef struct clx_map clx_map_t;

clx_map_t *clx_map_create(void);
/* Frees the map and its key copies (not the values). NULL is a no-op. */
void clx_map_destroy(clx_map_t *m);
/* Value stored under key, or NULL. */
void *clx_map_get(const clx_map_t *m, const void *key, size_t klen);
/* Stores value under key, replacing any previous value, which is returned (or NULL). */
void *clx_map_put(clx_map_t *m, const void *key, size_t klen, void *value);
/* Removes key; returns its value or NULL. */
void *clx_map_remove(clx_map_t *m, const void *key, size_t klen);
size_t clx_map_size(const clx_map_t *m);

#endif
