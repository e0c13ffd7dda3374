/*
 * settings_internal.h — the settings record loader on its own, for the fuzz harness
 * (tests/fuzz/fuzz_settings_records.c) and tests: what clx_settings_open does for each record
 * it reads from the store's settings column family, without a store.
 */
#ifndef CLX_SETTINGS_INTERNAL_H
#define CLX_SETTINGS_INTERNAL_H

#include <stddef.h>

#include "clx_settings.h"

/*
 * An empty settings object over store, nothing loaded. store may be NULL: then only loading
 * and the read paths (auth, lookups, listings) may be used — any change would write to it.
 * Free with clx_settings_destroy().
 */
clx_settings_t *clx_settings_create_detached(clx_store_t *store);

/*
 * Loads one settings record (key and value as stored) into s, as clx_settings_open does.
 * CLX_OK (unknown kinds are skipped) or CLX_ECORRUPT for a value that does not decode; s stays
 * usable and destroyable either way.
 */
int clx_settings_load_record(clx_settings_t *s, const char *key, size_t klen, const void *val, size_t vlen);

#endif
