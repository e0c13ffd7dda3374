/*
 * clx_utf8.h — UTF-8 well-formedness, shared by validation (reject) and JSON output
 * (replace): no overlong forms, no surrogates, nothing past U+10FFFF.
 */
#ifndef CLX_UTF8_H
#define CLX_UTF8_H

#include <stddef.h>

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

#endif
