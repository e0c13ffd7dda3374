/*
 * clx_utf8.c — making echoed caller text valid UTF-8 (the checks themselves are inline in
 * clx_utf8.h).
 */
#include "clx_utf8.h"

#include <string.h>

const char *clx_utf8_sanitize(clx_arena_t *arena, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, bad = 0;
    for (i = 0; i < len;) {
        size_t n = clx_utf8_seq(u + i, len - i);
        bad += n == 0;
        i += n ? n : 1;
    }
    if (bad == 0)
        return s;
    char *out = clx_arena_alloc(arena, len + 2 * bad + 1), *o = out; /* 1 byte becomes 3 */
    for (i = 0; i < len;) {
        size_t n = clx_utf8_seq(u + i, len - i);
        if (n == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        }
    }
    *o = '\0';
    return out;
}
