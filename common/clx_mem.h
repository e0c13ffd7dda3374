/*
 * clx_mem.h — allocation helpers and the per-request arena.
 *
 * Out of memory is not a recoverable condition in costlynxd: clx_xmalloc and friends
 * log and abort() instead of returning NULL, so callers never check.
 *
 * An arena hands out memory from growing chunks and frees all of it at once. Each
 * request owns one; protobuf-c unpacking and packing allocate from it through
 * clx_arena_allocator(), and nothing allocated from it is freed individually.
 */
#ifndef CLX_MEM_H
#define CLX_MEM_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

void *clx_xmalloc(size_t sz);
void *clx_xcalloc(size_t n, size_t sz);
void *clx_xrealloc(void *p, size_t sz);
char *clx_xstrdup(const char *s);
char *clx_xstrndup(const char *s, size_t n);

typedef struct clx_arena clx_arena_t;

/* Creates an empty arena whose first chunk holds at least first_chunk bytes. */
clx_arena_t *clx_arena_create(size_t first_chunk);
/* Frees the arena and everything allocated from it. NULL is a no-op. */
void clx_arena_destroy(clx_arena_t *a);
/* Frees everything allocated from the arena but keeps its first chunk for reuse. */
void clx_arena_reset(clx_arena_t *a);
/* Returns sz bytes aligned to 16, valid until the arena is reset or destroyed. */
void *clx_arena_alloc(clx_arena_t *a, size_t sz);
/* Zeroed variant of clx_arena_alloc. */
void *clx_arena_zalloc(clx_arena_t *a, size_t sz);
/* Copies n bytes of s into the arena and NUL-terminates the copy. */
char *clx_arena_strndup(clx_arena_t *a, const char *s, size_t n);
/* printf into arena memory. */
char *clx_arena_printf(clx_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fills *out with a protobuf-c allocator drawing from a; its free() is a no-op. */
void clx_arena_allocator(clx_arena_t *a, ProtobufCAllocator *out);

#endif
