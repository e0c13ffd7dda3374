/*
 * otlp_internal.h — what the OTLP module's files share: the error helper and the JSON reader.
 */
#ifndef CLX_OTLP_INTERNAL_H
#define CLX_OTLP_INTERNAL_H

#include "clx_otlp.h"

/* Fills err (code, its name — or rc's where code is CLX_CODE_NONE —, printf-style message) and
 * returns rc. err may be NULL. */
int clx_otlp_fail(clx_otlp_error_t *err, int rc, clx_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Writes s as a JSON string (quotes included) at dst and returns the bytes written: at most
 * 6 * strlen(s) + 2. s must be valid UTF-8 (clx_utf8_sanitize): only '"', '\\' and control
 * characters are escaped.
 */
size_t clx_otlp_json_quote(char *dst, const char *s);

/* otlp_map.c: 1 when the mapping reads the attribute key (len bytes; NULL when len is 0), else 0. */
int clx_otlp_attr_used(const uint8_t *key, size_t len);

/* otlp_json.c: OTLP/JSON -> request; the contract of clx_otlp_decode for CLX_OTLP_JSON. */
int clx_otlp_json_decode(const char *body, size_t len, const clx_otlp_limits_t *lim, clx_arena_t *arena,
                         clx_otlp_request_t **out, clx_otlp_error_t *err);

#endif
