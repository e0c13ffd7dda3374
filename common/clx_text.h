/*
 * clx_text.h — byte-level text helpers shared by every module: ASCII case folding (names
 * are compared case-insensitively in ASCII only, never by locale), hexadecimal digits, and
 * the Bearer credential of an Authorization header.
 */
#ifndef CLX_TEXT_H
#define CLX_TEXT_H

#include <stddef.h>

/* c lower-cased when it is an ASCII capital; every other byte (UTF-8 included) as is. */
static inline char clx_ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The value of hexadecimal digit c (either case), or -1 when c is not one. */
static inline int clx_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes len bytes of s lower-cased (ASCII) into out, then a NUL; out may be s. Cannot fail. */
static inline void clx_ascii_lower_copy(char *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = clx_ascii_lower(s[i]);
    out[len] = '\0';
}

/*
 * The token of an Authorization header value "Bearer <token>" (the scheme in any case, one
 * space). Returns 1 with *token / *token_len pointing into value, or 0 when value (len bytes,
 * NULL allowed) is absent, another scheme, or carries no token.
 */
static inline int clx_bearer_token(const char *value, size_t len, const char **token, size_t *token_len)
{
    static const char scheme[] = "bearer ";
    const size_t n = sizeof(scheme) - 1;
    if (value == NULL || len <= n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (clx_ascii_lower(value[i]) != scheme[i])
            return 0;
    *token = value + n;
    *token_len = len - n;
    return 1;
}

#endif
