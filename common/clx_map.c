/*
 * clx_map.c — linear-probing hash map with tombstones, grown at 70% load.
 */
#include "clx_map.h"

#include <stdlib.h>
#include <string.h>

#include "clx_mem.h"

struct slot {
    char *key; /* NULL: empty; TOMB: deleted */
    size_t klen;
    uint64_t hash;
    void *value;
};

static char tomb_;
#define TOMB (&tomb_)

struct clx_map {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
};

clx_map_t *clx_map_create(void)
{
    clx_map_t *m = clx_xcalloc(1, sizeof(*m));
    m->cap = 16;
    m->slots = clx_xcalloc(m->cap, sizeof(struct slot));
    return m;
}

void clx_map_destroy(clx_map_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL && m->slots[i].key != TOMB)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static struct slot *find(const clx_map_t *m, const void *key, size_t klen, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMB && s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

void *clx_map_get(const clx_map_t *m, const void *key, size_t klen)
{
    struct slot *s = find(m, key, klen, clx_fnv1a64(CLX_FNV1A64_INIT, key, klen));
    return s != NULL ? s->value : NULL;
}

static void grow(clx_map_t *m)
{
    struct slot *old = m->slots;
    size_t oldcap = m->cap;
    m->cap = m->live * 4 > oldcap ? oldcap * 2 : oldcap; /* rehash in place of tombstones */
    m->slots = clx_xcalloc(m->cap, sizeof(struct slot));
    m->used = m->live;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key == NULL || old[i].key == TOMB)
            continue;
        size_t j = old[i].hash & (m->cap - 1);
        while (m->slots[j].key != NULL)
            j = (j + 1) & (m->cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void *clx_map_put(clx_map_t *m, const void *key, size_t klen, void *value)
{
    uint64_t h = clx_fnv1a64(CLX_FNV1A64_INIT, key, klen);
    struct slot *s = find(m, key, klen, h);
    if (s != NULL) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((m->used + 1) * 10 > m->cap * 7)
        grow(m);
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key != NULL && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = clx_xstrndup(key, klen);
    m->slots[i].klen = klen;
    m->slots[i].hash = h;
    m->slots[i].value = value;
    m->live++;
    return NULL;
}

void *clx_map_remove(clx_map_t *m, const void *key, size_t klen)
{
    struct slot *s = find(m, key, klen, clx_fnv1a64(CLX_FNV1A64_INIT, key, klen));
    if (s == NULL)
        return NULL;
    void *prev = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->live--;
    return prev;
}

size_t clx_map_size(const clx_map_t *m)
{
    return m->live;
}
