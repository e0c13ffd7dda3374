/*
 * clx_mem.c — abort-on-OOM allocation wrappers and the bump-pointer request arena.
 */
#include "clx_mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t sz)
{
    fprintf(stderr, "[costlynx] out of memory allocating %zu bytes\n", sz);
    abort();
}

void *clx_xmalloc(size_t sz)
{
    void *p = malloc(sz != 0 ? sz : 1);
    if (p == NULL)
        oom(sz);
    return p;
}

void *clx_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n != 0 ? n : 1, sz != 0 ? sz : 1);
    if (p == NULL)
        oom(n * sz);
    return p;
}

void *clx_xrealloc(void *p, size_t sz)
{
    void *q = realloc(p, sz != 0 ? sz : 1);
    if (q == NULL)
        oom(sz);
    return q;
}

char *clx_xstrndup(const char *s, size_t n)
{
    char *p = clx_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *clx_xstrdup(const char *s)
{
    return clx_xstrndup(s, strlen(s));
}

struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct clx_arena {
    struct chunk *head;  /* current chunk, allocation happens here */
    struct chunk *first; /* kept across resets */
};

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = clx_xmalloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

clx_arena_t *clx_arena_create(size_t first_chunk)
{
    clx_arena_t *a = clx_xmalloc(sizeof(*a));
    a->first = a->head = chunk_new(first_chunk < 256 ? 256 : first_chunk);
    return a;
}

void clx_arena_reset(clx_arena_t *a)
{
    struct chunk *c = a->head;
    while (c != a->first) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = a->first;
    a->first->used = 0;
}

void clx_arena_destroy(clx_arena_t *a)
{
    if (a == NULL)
        return;
    clx_arena_reset(a);
    free(a->first);
    free(a);
}

void *clx_arena_alloc(clx_arena_t *a, size_t sz)
{
    size_t need = (sz + 15) & ~(size_t)15;
    struct chunk *c = a->head;
    if (c->size - c->used < need) {
        size_t size = c->size * 2;
        while (size < need)
            size *= 2;
        c = chunk_new(size);
        /* chunks form a stack ending at first, so reset can free all but first */
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

void *clx_arena_zalloc(clx_arena_t *a, size_t sz)
{
    void *p = clx_arena_alloc(a, sz);
    memset(p, 0, sz);
    return p;
}

char *clx_arena_strndup(clx_arena_t *a, const char *s, size_t n)
{
    char *p = clx_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *clx_arena_printf(clx_arena_t *a, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = clx_arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof(small)) {
        memcpy(p, small, (size_t)n + 1);
        return p;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static void *pb_alloc(void *data, size_t sz)
{
    return clx_arena_alloc(data, sz);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

void clx_arena_allocator(clx_arena_t *a, ProtobufCAllocator *out)
{
    out->alloc = pb_alloc;
    out->free = pb_free;
    out->allocator_data = a;
}
