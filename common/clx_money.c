/*
 * clx_money.c — exact decimal money: parses and formats US dollars as integer nano-dollars
 * and prices as pico-dollars per token, digit by digit, with no floating point.
 */
#include "clx_money.h"

#include <stdbool.h>
#include <string.h>

#include "clx_error.h"

/* Largest amount clx_money_parse_usd accepts: 9,000,000,000 USD in nanos. */
#define CLX_MONEY_MAX_NANOS 9000000000000000000LL
/* Largest price clx_money_parse_per_mtok accepts: 1,000,000 USD per Mtok in pico/token. */
#define CLX_MONEY_MAX_PICO 1000000000000LL
/* Exponent magnitudes beyond this are clamped; the value is then 0 or too large anyway. */
#define CLX_MONEY_EXP_CLAMP 100000

/* The digits of a syntactically valid JSON number, split around the decimal point. */
typedef struct dec {
    const char *ip; /* integer part digits */
    size_t il;
    const char *fp; /* fraction digits (il + fl >= 1) */
    size_t fl;
    int64_t exp; /* decimal exponent, clamped to +-CLX_MONEY_EXP_CLAMP */
} dec_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Splits s into a dec_t if it is a non-negative JSON number: 0 | [1-9][0-9]*, then an
 * optional fraction .[0-9]+, then an optional exponent [eE][+-]?[0-9]+. Returns false on
 * anything else (sign, leading '+', "01", ".5", "1.", whitespace, empty, "NaN").
 */
static bool dec_split(const char *s, size_t len, dec_t *d)
{
    size_t i = 0;

    memset(d, 0, sizeof(*d));
    if (s == NULL || len == 0 || !is_digit(s[0]))
        return false;
    d->ip = s;
    if (s[0] == '0') {
        i = 1;
    } else {
        while (i < len && is_digit(s[i]))
            i++;
    }
    d->il = i;
    if (i < len && s[i] == '.') {
        i++;
        d->fp = s + i;
        while (i < len && is_digit(s[i]))
            i++;
        d->fl = (size_t)(s + i - d->fp);
        if (d->fl == 0)
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        bool neg = false;
        size_t start;

        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            neg = s[i] == '-';
            i++;
        }
        start = i;
        while (i < len && is_digit(s[i])) {
            if (d->exp < CLX_MONEY_EXP_CLAMP)
                d->exp = d->exp * 10 + (s[i] - '0');
            i++;
        }
        if (i == start)
            return false;
        if (d->exp > CLX_MONEY_EXP_CLAMP)
            d->exp = CLX_MONEY_EXP_CLAMP;
        if (neg)
            d->exp = -d->exp;
    }
    return i == len;
}

/* The k-th digit (0-based) of the integer digits followed by the fraction digits. */
static int dec_digit(const dec_t *d, size_t k)
{
    return k < d->il ? d->ip[k] - '0' : d->fp[k - d->il] - '0';
}

/*
 * Scales the number by 10^scale and converts it to an integer. With exact, any non-zero
 * digit below the unit makes it fail; otherwise the value is rounded half up. Fails when
 * the result would exceed max.
 */
static int dec_to_int(const dec_t *d, int scale, bool exact, int64_t max, int64_t *out)
{
    size_t total = d->il + d->fl;
    size_t z = 0;
    size_t n;
    int64_t m; /* digits of the scaled value left of its decimal point */
    uint64_t v = 0;
    size_t k;

    while (z < total && dec_digit(d, z) == 0)
        z++;
    if (z == total) { /* zero, whatever the exponent */
        *out = 0;
        return CLX_OK;
    }
    n = total - z;
    /* value = D x 10^(exp - fl), D the n significant digits; scaled by 10^scale */
    m = (int64_t)n + d->exp - (int64_t)d->fl + scale;
    if (m > 19)
        return CLX_EINVAL;
    if (m <= 0) {
        if (exact)
            return CLX_EINVAL;
        /* only m == 0 can reach one unit: 0.d1d2... rounds to 1 when d1 >= 5 */
        *out = (m == 0 && dec_digit(d, z) >= 5) ? 1 : 0;
        return CLX_OK;
    }
    for (k = 0; k < (size_t)m; k++) {
        int dig = k < n ? dec_digit(d, z + k) : 0;
        v = v * 10 + (uint64_t)dig; /* at most 19 digits: fits in uint64 */
    }
    if ((size_t)m < n) {
        if (exact) {
            for (k = (size_t)m; k < n; k++)
                if (dec_digit(d, z + k) != 0)
                    return CLX_EINVAL;
        } else if (dec_digit(d, z + (size_t)m) >= 5) {
            v++;
        }
    }
    if (v > (uint64_t)max)
        return CLX_EINVAL;
    *out = (int64_t)v;
    return CLX_OK;
}

/* On CLX_EINVAL *nanos is left untouched. */
int clx_money_parse_usd(const char *s, size_t len, int64_t *nanos)
{
    dec_t d;

    if (!dec_split(s, len, &d))
        return CLX_EINVAL;
    return dec_to_int(&d, 9, false, CLX_MONEY_MAX_NANOS, nanos);
}

/*
 * Dollars per million tokens carry 6 decimals to the pico-dollar per token. Returns
 * CLX_EINVAL for bad syntax, a negative value, a non-zero 7th decimal or beyond, or more
 * than 1,000,000 USD per Mtok; *pico_per_token is then left untouched.
 */
int clx_money_parse_per_mtok(const char *s, size_t len, int64_t *pico_per_token)
{
    dec_t d;

    if (!dec_split(s, len, &d))
        return CLX_EINVAL;
    return dec_to_int(&d, 6, true, CLX_MONEY_MAX_PICO, pico_per_token);
}

/*
 * Writes v / 10^decimals with trailing fraction zeros dropped. Exact for every 128-bit value
 * (the magnitude is taken unsigned, so the most negative one too). Cannot fail.
 */
static size_t format_fixed(clx_i128_t v, int decimals, char *buf)
{
    unsigned __int128 mag = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    unsigned __int128 unit = 1;
    unsigned __int128 ipart, fpart;
    char tmp[CLX_I128_BUF];
    size_t n = 0, t = 0;
    int i;

    for (i = 0; i < decimals; i++)
        unit *= 10;
    ipart = mag / unit;
    fpart = mag % unit;
    if (v < 0)
        buf[n++] = '-';
    do {
        tmp[t++] = (char)('0' + ipart % 10);
        ipart /= 10;
    } while (ipart != 0);
    while (t > 0)
        buf[n++] = tmp[--t];
    if (fpart != 0) {
        int last = decimals;

        buf[n++] = '.';
        for (i = decimals - 1; i >= 0; i--) {
            tmp[i] = (char)('0' + fpart % 10);
            fpart /= 10;
        }
        while (last > 0 && tmp[last - 1] == '0')
            last--;
        memcpy(buf + n, tmp, (size_t)last);
        n += (size_t)last;
    }
    buf[n] = '\0';
    return n;
}

size_t clx_money_format_usd(int64_t nanos, char *buf)
{
    return format_fixed(nanos, 9, buf);
}

size_t clx_money_format_usd_wide(clx_i128_t nanos, char *buf)
{
    return format_fixed(nanos, 9, buf);
}

size_t clx_i128_format(clx_i128_t v, char *buf)
{
    return format_fixed(v, 0, buf);
}

size_t clx_money_format_per_mtok(int64_t pico_per_token, char *buf)
{
    return format_fixed(pico_per_token, 6, buf);
}

/*
 * Rounds a pico-dollar amount half up to nano-dollars (floor((p + 500) / 1000)) and
 * saturates to the int64 range.
 */
int64_t clx_money_pico_to_nanos(__int128 pico)
{
    __int128 q = (pico + 500) / 1000;

    if ((pico + 500) % 1000 < 0) /* C division truncates; floor for negatives */
        q--;
    if (q > INT64_MAX)
        return INT64_MAX;
    if (q < INT64_MIN)
        return INT64_MIN;
    return (int64_t)q;
}

int64_t clx_money_pico_pct_to_nanos(__int128 pico, int pct)
{
    __int128 a, b, q;

    if (pct < 0)
        pct = 0;
    if (pct > 100)
        pct = 100;
    /*
     * pico = a x 100,000 + b with 0 <= b < 100,000 (floor division), so
     * floor((pico x pct + 50,000) / 100,000) = a x pct + floor((b x pct + 50,000) / 100,000)
     * and no intermediate value can overflow, whatever pico is.
     */
    a = pico / 100000;
    b = pico % 100000;
    if (b < 0) {
        a--;
        b += 100000;
    }
    q = a * pct + (b * pct + 50000) / 100000;
    if (q > INT64_MAX)
        return INT64_MAX;
    if (q < INT64_MIN)
        return INT64_MIN;
    return (int64_t)q;
}

int64_t clx_money_cost_nanos(int64_t tokens, int64_t pico_per_token)
{
    return clx_money_pico_to_nanos((__int128)tokens * pico_per_token);
}
