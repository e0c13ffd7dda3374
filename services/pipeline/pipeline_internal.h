/*
 * pipeline_internal.h — what the stages of the pipeline share; not for doors.
 */
#ifndef CLX_PIPELINE_INTERNAL_H
#define CLX_PIPELINE_INTERNAL_H

#include "clx_pipeline.h"
#include "costlynx/store/v1/records.pb-c.h"

enum slot_state {
    SLOT_OPEN = 0,     /* decoded, not yet through the stages */
    SLOT_REJECTED = 1, /* an error was reported; never written */
    SLOT_READY = 2,    /* passed every stage; handed to the writer */
};

struct clx_ingest_slot {
    enum slot_state state;
    Costlynx__Store__V1__StoredEvent rec;
};

/* attribute.c: applies key defaults and slug checks; inside a settings read section. */
int clx_attribute_event(clx_settings_t *settings, clx_ingest_t *ing, size_t index,
                        const Costlynx__V1__UsageEvent *ev, Costlynx__Store__V1__StoredEvent *rec);

/* price.c: normalises provider/model and fills the cost fields of rec; inside a settings
 * read section (workspace overrides and deployment mappings come first). */
void clx_price_event(const clx_catalog_t *catalog, clx_settings_t *settings, clx_ingest_t *ing, size_t index,
                     const Costlynx__V1__UsageEvent *ev, Costlynx__Store__V1__StoredEvent *rec, int64_t at_ms);

/* Warnings added by stages that only hold for an event that ends up stored. */
void clx_ingest_warn_if_stored(clx_ingest_t *ing, size_t index, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
