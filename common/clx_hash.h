/*
 * clx_hash.h — FNV-1a 64, the one non-cryptographic hash of costlynx: hash maps, the
 * catalog index, the writer's in-group set, event fingerprints and the catalog version.
 * Stable across versions (fingerprints are persisted): never change it.
 */
#ifndef CLX_HASH_H
#define CLX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CLX_FNV1A64_INIT 0xcbf29ce484222325ULL

/* Continues the hash h over len bytes of data; start with CLX_FNV1A64_INIT. Cannot fail. */
static inline uint64_t clx_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
