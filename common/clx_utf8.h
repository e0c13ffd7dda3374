/*
 * clx_utf8.h — UTF-8 well-formedness, shared by validation (reject) and JSON output
 * (replace): no overlong forms, no surrogates, nothing past U+10FFFF. Also the one rule
 * for caller text that names things (ids, labels): clx_text_check.
 */
#ifndef CLX_UTF8_H
#define CLX_UTF8_H

#include <stddef.h>

#include "clx_mem.h"

/*
 * Length (1-4) of the well-formed UTF-8 sequence at s[0..len), or 0 when the bytes there
 * are not one (a stray continuation byte, a truncated or overlong sequence, a surrogate).
 * len must be at least 1.
 */
static inline size_t clx_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned int cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* What clx_text_check found wrong with a piece of caller text. */
typedef enum clx_text_verdict {
    CLX_TEXT_OK = 0,
    CLX_TEXT_NUL,      /* a U+0000 (C strings would silently cut the text there) */
    CLX_TEXT_CONTROL,  /* a control character: U+0001-U+001F but tab, U+007F (DEL), U+0080-U+009F */
    CLX_TEXT_BAD_UTF8, /* not well-formed UTF-8 (stray, truncated or overlong bytes, surrogates) */
} clx_text_verdict_t;

/*
 * The one definition of valid id / label text, for every door: well-formed UTF-8 with no
 * NUL and no control character other than tab. len is the text's true length (a door
 * that saw the bytes on the wire passes that, so an embedded NUL is seen).
 */
static inline clx_text_verdict_t clx_text_check(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c == 0)
            return CLX_TEXT_NUL;
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return CLX_TEXT_CONTROL;
        size_t n = clx_utf8_seq(s + i, len - i);
        if (n == 0)
            return CLX_TEXT_BAD_UTF8;
        if (n == 2 && c == 0xC2 && s[i + 1] < 0xA0) /* U+0080-U+009F, the C1 controls */
            return CLX_TEXT_CONTROL;
        i += n;
    }
    return CLX_TEXT_OK;
}

/*
 * s itself when it is well-formed UTF-8, else a copy in arena with every byte that does not
 * start a well-formed sequence replaced by U+FFFD: for caller text echoed in answers, which
 * strict clients (proto3 parsers) refuse to read otherwise. Never NULL for a non-NULL s.
 */
const char *clx_utf8_sanitize(clx_arena_t *arena, const char *s);

#endif
