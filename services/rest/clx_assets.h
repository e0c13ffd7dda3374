/*
 * clx_assets.h — static files compiled into costlynxd (the dashboard under web/, the
 * OpenAPI document): a NULL-terminated table generated at build time.
 */
#ifndef CLX_ASSETS_H
#define CLX_ASSETS_H

#include <stddef.h>

typedef struct clx_asset {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} clx_asset_t;

extern const clx_asset_t clx_web_assets[];

#endif
