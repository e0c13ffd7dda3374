/*
 * pricing.c — the price catalog: parses and validates the CSV, indexes entries by
 * (provider, name) in an open-addressing hash, and prices events exactly.
 */
#include "clx_pricing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_hash.h"
#include "clx_mem.h"
#include "clx_money.h"
#include "clx_text.h"

/* Schema 1: the 11 base columns. */
#define CLX_CATALOG_HEADER_V1                                                                                          \
    "id,provider,model,aliases,effective_from,input_per_mtok,output_per_mtok,cached_input_per_mtok,"                   \
    "cache_write_per_mtok,source,checked"
/* Schema 2: the base columns, then the long-context tier and the batch discount. */
#define CLX_CATALOG_HEADER                                                                                             \
    CLX_CATALOG_HEADER_V1 ",input_above_200k_per_mtok,output_above_200k_per_mtok,cached_input_above_200k_per_mtok,"    \
                          "cache_write_above_200k_per_mtok,batch_discount_pct"
/* Schema 3: schema 2, then 1-hour cache writes, service tiers, audio, reasoning, per-call fees. */
#define CLX_CATALOG_HEADER_V3                                                                                          \
    CLX_CATALOG_HEADER ",cache_write_1h_per_mtok,cache_write_1h_above_200k_per_mtok,priority_input_per_mtok,"          \
                       "priority_output_per_mtok,priority_cached_input_per_mtok,flex_input_per_mtok,"                \
                       "flex_output_per_mtok,flex_cached_input_per_mtok,audio_input_per_mtok,"                       \
                       "cached_audio_input_per_mtok,audio_output_per_mtok,reasoning_output_per_mtok,"                \
                       "web_search_per_1k_calls"
#define CLX_CATALOG_BASE_FIELDS 11
/* Under the schema-2 header a row has the 11 base fields or all 16 (11 = new columns empty). */
#define CLX_CATALOG_FIELDS 16
/* Under the schema-3 header a row has 11, 16 or all 29 fields (fewer = later columns empty). */
#define CLX_CATALOG_FIELDS_V3 29
#define CLX_CATALOG_MAX_BYTES (64u << 20)
#define CLX_PROVIDER_MAX 64

/* One lookup key: a (provider, name) pair and the entries carrying it, newest first. */
typedef struct cat_key {
    uint64_t hash;
    const char *provider; /* NUL-terminated, points into the catalog text */
    size_t provider_len;
    const char *name; /* not NUL-terminated (aliases share one field) */
    size_t name_len;
    uint32_t first; /* index into order[] */
    uint32_t count;
} cat_key_t;

struct clx_catalog {
    char *text; /* owned copy of the CSV; fields NUL-terminated in place */
    clx_price_t *entries;
    clx_price_ext_t *exts; /* per entry, its schema-3 columns (entries[i].ext points here when set) */
    const char **aliases;  /* per entry, the raw aliases field */
    uint32_t *lines;      /* per entry, its 1-based line number */
    size_t count;
    cat_key_t *keys;
    size_t nkeys;
    uint32_t *order; /* entry indices grouped by key, newest effective_from first */
    uint32_t *slots; /* hash slots: key index + 1, 0 = empty */
    size_t mask;
    char version[40];
};

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t key_hash(const char *provider, size_t plen, const char *name, size_t nlen)
{
    uint64_t h = CLX_FNV1A64_INIT;
    const char sep = '\0';

    h = clx_fnv1a64(h, provider, plen);
    h = clx_fnv1a64(h, &sep, 1);
    return clx_fnv1a64(h, name, nlen);
}

/* Sets *errmsg (when errmsg is not NULL) to "line N: ..." and returns CLX_EINVAL. */
static int line_error(char **errmsg, size_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int line_error(char **errmsg, size_t line, const char *fmt, ...)
{
    char msg[1024]; /* room for the schema-3 header in "header must be ..." */
    char *out;
    va_list ap;
    int n;

    if (errmsg == NULL || *errmsg != NULL)
        return CLX_EINVAL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n = snprintf(NULL, 0, "line %zu: %s", line, msg);
    out = clx_xmalloc((size_t)n + 1);
    snprintf(out, (size_t)n + 1, "line %zu: %s", line, msg);
    *errmsg = out;
    return CLX_EINVAL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * Parses exactly "YYYY-MM-DD" (years 1970-9999, a real calendar day) into Unix ms of
 * UTC midnight. Returns false on any other text.
 */
static bool parse_date(const char *s, int64_t *ms)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 0, m, d, i;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    for (i = 0; i < 4; i++)
        y = y * 10 + (s[i] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    *ms = days_from_civil(y, m, d) * 86400000LL;
    return true;
}

/* A name byte allowed in catalog models and aliases: lowercase ASCII and a few marks. */
static bool name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("._-:@/+", ch) != NULL;
}

/* Checks a model or alias name; returns a static reason, or NULL when it is fine. */
static const char *check_name(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return "is empty";
    if (len > CLX_PRICING_MODEL_MAX)
        return "is longer than 256 bytes";
    for (i = 0; i < len; i++)
        if (s[i] == '\0' || !name_char_ok(s[i]))
            return "has a character other than a-z 0-9 . _ - : @ / +";
    return NULL;
}

/* ---- names -------------------------------------------------------------------------- */

typedef struct provider_alias {
    const char *from;
    const char *to;
} provider_alias_t;

static const provider_alias_t provider_table[] = {
    {"openai", "openai"},
    {"anthropic", "anthropic"},
    {"google", "google"},
    {"gemini", "google"},
    {"vertex_ai", "google"},
    {"google_ai", "google"},
    {"vertex", "google"},
    {"azure", "azure"},
    {"azure_openai", "azure"},
    {"mistral", "mistral"},
    {"mistralai", "mistral"},
    {"deepseek", "deepseek"},
    {"cohere", "cohere"},
    {"cohere_chat", "cohere"},
    {"bedrock", "bedrock"},
    {"aws_bedrock", "bedrock"},
    {"bedrock_converse", "bedrock"},
    {"xai", "xai"},
};

/* Unknown providers are lowercased into buf; never fails. */
const char *clx_pricing_normalize_provider(const char *name, size_t len, char *buf)
{
    size_t i, j;

    for (i = 0; i < sizeof(provider_table) / sizeof(provider_table[0]); i++) {
        const char *from = provider_table[i].from;

        /* a mismatch stops at from's NUL at the latest, as name[j] is never NUL here */
        for (j = 0; j < len && name[j] != '\0'; j++)
            if (clx_ascii_lower(name[j]) != from[j])
                break;
        if (j == len && from[len] == '\0')
            return provider_table[i].to;
    }
    clx_ascii_lower_copy(buf, name, len);
    return buf;
}

static bool all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* True when the 8 bytes at s read as a plausible date YYYYMMDD in 2000-2099. */
static bool is_yyyymmdd(const char *y, const char *m, const char *d)
{
    int mm, dd;

    if (!all_digits(y, 4) || !all_digits(m, 2) || !all_digits(d, 2) || y[0] != '2' || y[1] != '0')
        return false;
    mm = (m[0] - '0') * 10 + (m[1] - '0');
    dd = (d[0] - '0') * 10 + (d[1] - '0');
    return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31;
}

/* Length of name without a trailing date version, or n when it has none. */
static size_t strip_date(const char *s, size_t n)
{
    const char *t;

    if (n > 11) { /* -YYYY-MM-DD */
        t = s + n - 11;
        if (t[0] == '-' && t[5] == '-' && t[8] == '-' && is_yyyymmdd(t + 1, t + 6, t + 9))
            return n - 11;
    }
    if (n > 9) { /* -YYYYMMDD or @YYYYMMDD */
        t = s + n - 9;
        if ((t[0] == '-' || t[0] == '@') && is_yyyymmdd(t + 1, t + 5, t + 7))
            return n - 9;
    }
    return n;
}

/* Never fails; a name that is nothing but a prefix or a suffix is kept as it is. */
size_t clx_pricing_normalize_model(const char *model, size_t len, char *buf)
{
    size_t start = 0, n, i;
    static const char latest[] = "-latest";
    const size_t llen = sizeof(latest) - 1;

    /* "models/x", "openai/x", "openrouter/openai/x": keep what follows the last '/' */
    for (i = len; i > 0; i--) {
        if (model[i - 1] == '/') {
            if (i < len)
                start = i;
            break;
        }
    }
    n = len - start;
    clx_ascii_lower_copy(buf, model + start, n);
    if (n > llen + 7 && strncmp(buf, "claude-", 7) == 0 && memcmp(buf + n - llen, latest, llen) == 0)
        n -= llen;
    n = strip_date(buf, n);
    buf[n] = '\0';
    return n;
}

/* ---- lookup ------------------------------------------------------------------------- */

static const clx_price_t *find(const clx_catalog_t *c, const char *prov, size_t plen, const char *name, size_t nlen,
                               int64_t at_ms)
{
    uint64_t h = key_hash(prov, plen, name, nlen);
    size_t i = (size_t)h & c->mask;
    uint32_t j;

    for (;;) {
        uint32_t s = c->slots[i];
        const cat_key_t *k;

        if (s == 0)
            return NULL;
        k = &c->keys[s - 1];
        if (k->hash == h && k->name_len == nlen && k->provider_len == plen && memcmp(k->name, name, nlen) == 0 &&
            memcmp(k->provider, prov, plen) == 0) {
            for (j = 0; j < k->count; j++) {
                const clx_price_t *p = &c->entries[c->order[k->first + j]];

                if (p->effective_from_ms <= at_ms)
                    return p;
            }
            return NULL;
        }
        i = (i + 1) & c->mask;
    }
}

/* Exact lowercased name first, then the normalised one (computed once, on first need). */
static const clx_price_t *find_name(const clx_catalog_t *c, const char *prov, const char *lower, size_t len,
                                    const char *model, char *norm, size_t *nlen, int64_t at_ms)
{
    size_t plen = strlen(prov);
    const clx_price_t *p = find(c, prov, plen, lower, len, at_ms);

    if (p != NULL)
        return p;
    if (*nlen == SIZE_MAX)
        *nlen = clx_pricing_normalize_model(model, len, norm);
    if (*nlen == len && memcmp(norm, lower, len) == 0)
        return NULL;
    return find(c, prov, plen, norm, *nlen, at_ms);
}

/* NULL when nothing matches, or for NULL arguments and names over CLX_PRICING_MODEL_MAX. */
const clx_price_t *clx_catalog_lookup(const clx_catalog_t *c, const char *provider, const char *model, size_t model_len,
                                      int64_t at_ms)
{
    char pbuf[CLX_PROVIDER_MAX + 1];
    char lower[CLX_PRICING_MODEL_MAX + 1];
    char norm[CLX_PRICING_MODEL_MAX + 1];
    const char *prov;
    const clx_price_t *p;
    size_t plen, nlen = SIZE_MAX;

    if (c == NULL || provider == NULL || model == NULL || model_len == 0 || model_len > CLX_PRICING_MODEL_MAX)
        return NULL;
    plen = strlen(provider);
    if (plen == 0 || plen > CLX_PROVIDER_MAX)
        return NULL;
    prov = clx_pricing_normalize_provider(provider, plen, pbuf);
    clx_ascii_lower_copy(lower, model, model_len);
    p = find_name(c, prov, lower, model_len, model, norm, &nlen, at_ms);
    if (p == NULL && strcmp(prov, "azure") == 0)
        p = find_name(c, "openai", lower, model_len, model, norm, &nlen, at_ms);
    return p;
}

/* ---- loading ------------------------------------------------------------------------ */

/* A (provider, name) occurrence while building the index. */
typedef struct name_ref {
    const char *provider;
    const char *name;
    size_t name_len;
    int64_t effective_from_ms;
    uint32_t entry;
} name_ref_t;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref_t *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int r = strcmp(x->provider, y->provider);

    if (r != 0)
        return r;
    r = memcmp(x->name, y->name, n);
    if (r != 0)
        return r;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    if (x->effective_from_ms != y->effective_from_ms) /* newest first */
        return x->effective_from_ms > y->effective_from_ms ? -1 : 1;
    return x->entry < y->entry ? -1 : (x->entry > y->entry);
}

/* Splits line (NUL-terminated, modified in place) at commas. Returns the field count. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        char *comma = strchr(p, ',');

        if (n < max)
            fields[n] = p;
        n++;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* Parses a price field; empty is allowed only when optional (then -1). */
static bool parse_price(const char *s, bool optional, int64_t *out)
{
    if (s[0] == '\0') {
        *out = -1;
        return optional;
    }
    return clx_money_parse_per_mtok(s, strlen(s), out) == CLX_OK;
}

/* Validates the fields of one entry line and fills e; on failure sets errmsg. */
static int parse_entry(char **f, size_t line, clx_price_t *e, char **errmsg)
{
    static const char *const price_names[4] = {"input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                                               "cache_write_per_mtok"};
    int64_t *prices[4] = {&e->input_pico, &e->output_pico, &e->cached_input_pico, &e->cache_write_pico};
    char pbuf[CLX_PROVIDER_MAX + 1];
    const char *why;
    size_t plen = strlen(f[1]), mlen = strlen(f[2]), i;
    int64_t checked_ms;

    if (plen == 0 || plen > CLX_PROVIDER_MAX || strspn(f[1], "abcdefghijklmnopqrstuvwxyz0123456789_-") != plen)
        return line_error(errmsg, line, "bad provider \"%.64s\" (want a-z 0-9 _ -)", f[1]);
    if (strcmp(clx_pricing_normalize_provider(f[1], plen, pbuf), f[1]) != 0)
        return line_error(errmsg, line, "provider \"%s\" is not normalised (use \"%s\")", f[1],
                          clx_pricing_normalize_provider(f[1], plen, pbuf));
    if ((why = check_name(f[2], mlen)) != NULL)
        return line_error(errmsg, line, "model \"%.64s\" %s", f[2], why);
    if (!parse_date(f[4], &e->effective_from_ms))
        return line_error(errmsg, line, "bad effective_from \"%.32s\" (want YYYY-MM-DD)", f[4]);
    if (strlen(f[0]) != plen + 1 + mlen + 1 + 10 || strncmp(f[0], f[1], plen) != 0 || f[0][plen] != '/' ||
        strncmp(f[0] + plen + 1, f[2], mlen) != 0 || f[0][plen + 1 + mlen] != '@' ||
        strcmp(f[0] + plen + 1 + mlen + 1, f[4]) != 0)
        return line_error(errmsg, line, "id \"%.300s\" is not provider/model@effective_from", f[0]);
    for (i = 0; i < 4; i++)
        if (!parse_price(f[5 + i], i >= 2, prices[i]))
            return line_error(errmsg, line, "bad %s \"%.40s\" (want USD per Mtok, at most 6 decimals)", price_names[i],
                              f[5 + i]);
    if (strncmp(f[9], "https://", 8) != 0 || f[9][8] == '\0' || strpbrk(f[9], " \t") != NULL)
        return line_error(errmsg, line, "source must be an https:// URL");
    if (!parse_date(f[10], &checked_ms))
        return line_error(errmsg, line, "bad checked \"%.32s\" (want YYYY-MM-DD)", f[10]);
    e->id = f[0];
    e->provider = f[1];
    e->model = f[2];
    e->source = f[9];
    e->checked = f[10];
    return CLX_OK;
}

/* Parses "0".."100" (digits only, no sign, no leading zeros) into *pct. */
static bool parse_pct(const char *s, int32_t *pct)
{
    size_t n = strlen(s), i;
    int32_t v = 0;

    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 100)
        return false;
    *pct = v;
    return true;
}

/*
 * Validates the schema-2 columns of one entry (f[11..15]; NULL f = an 11-field row, all
 * empty) and fills e's tier prices and batch discount; on failure sets errmsg. A tier has
 * both input and output prices; its cached / cache-write price is given exactly when the
 * entry's base cached / cache-write price is (so a tier never silently bills cache reads
 * at the full tier input price).
 */
static int parse_extended(char **f, size_t line, clx_price_t *e, char **errmsg)
{
    static const char *const names[4] = {"input_above_200k_per_mtok", "output_above_200k_per_mtok",
                                         "cached_input_above_200k_per_mtok", "cache_write_above_200k_per_mtok"};
    int64_t *prices[4] = {&e->input_above_200k_pico, &e->output_above_200k_pico, &e->cached_input_above_200k_pico,
                          &e->cache_write_above_200k_pico};
    size_t i;

    e->batch_discount_pct = 0;
    for (i = 0; i < 4; i++)
        *prices[i] = -1;
    if (f == NULL)
        return CLX_OK;
    for (i = 0; i < 4; i++)
        if (!parse_price(f[11 + i], true, prices[i]))
            return line_error(errmsg, line, "bad %s \"%.40s\" (want USD per Mtok, at most 6 decimals)", names[i],
                              f[11 + i]);
    if ((e->input_above_200k_pico < 0) != (e->output_above_200k_pico < 0))
        return line_error(errmsg, line,
                          "input_above_200k_per_mtok and output_above_200k_per_mtok must be both set or "
                          "both empty");
    if (e->input_above_200k_pico < 0) {
        if (e->cached_input_above_200k_pico >= 0 || e->cache_write_above_200k_pico >= 0)
            return line_error(errmsg, line, "cached/cache-write tier price without input_above_200k_per_mtok");
    } else {
        if ((e->cached_input_above_200k_pico >= 0) != (e->cached_input_pico >= 0))
            return line_error(errmsg, line,
                              "cached_input_above_200k_per_mtok must be set exactly when cached_input_per_mtok is");
        if ((e->cache_write_above_200k_pico >= 0) != (e->cache_write_pico >= 0))
            return line_error(errmsg, line,
                              "cache_write_above_200k_per_mtok must be set exactly when cache_write_per_mtok is");
    }
    if (f[15][0] != '\0' && !parse_pct(f[15], &e->batch_discount_pct))
        return line_error(errmsg, line, "bad batch_discount_pct \"%.16s\" (want an integer 0-100, or empty)", f[15]);
    return CLX_OK;
}

/* ---- schema 3 ----------------------------------------------------------------------- */

/* How a schema-3 column's decimal text becomes pico-dollars. */
enum ext_unit {
    EXT_PER_MTOK,     /* USD per million tokens -> pico per token (x 10^6) */
    EXT_PER_1K_CALLS, /* USD per 1,000 calls -> pico per call (x 10^9) */
};

typedef struct ext_column {
    const char *name;
    size_t offset; /* of the int64_t in clx_price_ext_t */
    enum ext_unit unit;
} ext_column_t;

#define EXT_OFF(m) offsetof(clx_price_ext_t, m)

/* The schema-3 columns in header order: column i is field CLX_CATALOG_FIELDS + i. */
static const ext_column_t ext_columns[] = {
    {"cache_write_1h_per_mtok", EXT_OFF(cache_write_1h_pico), EXT_PER_MTOK},
    {"cache_write_1h_above_200k_per_mtok", EXT_OFF(cache_write_1h_above_200k_pico), EXT_PER_MTOK},
    {"priority_input_per_mtok", EXT_OFF(priority.input_pico), EXT_PER_MTOK},
    {"priority_output_per_mtok", EXT_OFF(priority.output_pico), EXT_PER_MTOK},
    {"priority_cached_input_per_mtok", EXT_OFF(priority.cached_input_pico), EXT_PER_MTOK},
    {"flex_input_per_mtok", EXT_OFF(flex.input_pico), EXT_PER_MTOK},
    {"flex_output_per_mtok", EXT_OFF(flex.output_pico), EXT_PER_MTOK},
    {"flex_cached_input_per_mtok", EXT_OFF(flex.cached_input_pico), EXT_PER_MTOK},
    {"audio_input_per_mtok", EXT_OFF(audio_input_pico), EXT_PER_MTOK},
    {"cached_audio_input_per_mtok", EXT_OFF(cached_audio_input_pico), EXT_PER_MTOK},
    {"audio_output_per_mtok", EXT_OFF(audio_output_pico), EXT_PER_MTOK},
    {"reasoning_output_per_mtok", EXT_OFF(reasoning_output_pico), EXT_PER_MTOK},
    {"web_search_per_1k_calls", EXT_OFF(web_search_call_pico), EXT_PER_1K_CALLS},
};
#define EXT_COLUMNS (sizeof(ext_columns) / sizeof(ext_columns[0]))
_Static_assert(EXT_COLUMNS == CLX_CATALOG_FIELDS_V3 - CLX_CATALOG_FIELDS, "one table row per schema-3 column");

static int64_t *ext_at(clx_price_ext_t *x, size_t i)
{
    return (int64_t *)(void *)((char *)x + ext_columns[i].offset);
}

/* True when any schema-3 column of x is set. */
static bool ext_used(clx_price_ext_t *x)
{
    size_t i;

    for (i = 0; i < EXT_COLUMNS; i++)
        if (*ext_at(x, i) >= 0)
            return true;
    return false;
}

/*
 * A price whose tier (long-context or service) has no column for it. These combinations
 * are not published by any provider we price, and the loader refuses them so the cost of
 * such an event is never a guess: an audio token in the >200k tier, or a cache write at
 * priority, would otherwise fall back to a rate nobody published.
 */
typedef struct ext_exclusive {
    const char *name;
    bool set;
} ext_exclusive_t;

/* Checks one service tier (priority or flex) of an entry; on failure sets errmsg. */
static int check_service_tier(const clx_price_t *e, const clx_price_ext_t *x, const clx_tier_price_t *t,
                              const char *tier, size_t line, char **errmsg)
{
    const ext_exclusive_t excl[] = {
        {"cache_write_per_mtok", e->cache_write_pico >= 0},
        {"input_above_200k_per_mtok (a long-context tier)", e->input_above_200k_pico >= 0},
        {"audio_input_per_mtok", x->audio_input_pico >= 0},
        {"cached_audio_input_per_mtok", x->cached_audio_input_pico >= 0},
        {"audio_output_per_mtok", x->audio_output_pico >= 0},
        {"reasoning_output_per_mtok", x->reasoning_output_pico >= 0},
    };
    size_t i;

    if ((t->input_pico < 0) != (t->output_pico < 0))
        return line_error(errmsg, line, "%s_input_per_mtok and %s_output_per_mtok must be both set or both empty",
                          tier, tier);
    if (t->input_pico < 0) {
        if (t->cached_input_pico >= 0)
            return line_error(errmsg, line, "%s_cached_input_per_mtok without %s_input_per_mtok", tier, tier);
        return CLX_OK;
    }
    if ((t->cached_input_pico >= 0) != (e->cached_input_pico >= 0))
        return line_error(errmsg, line, "%s_cached_input_per_mtok must be set exactly when cached_input_per_mtok is",
                          tier);
    for (i = 0; i < sizeof(excl) / sizeof(excl[0]); i++)
        if (excl[i].set)
            return line_error(errmsg, line, "a %s tier cannot be combined with %s (no %s price for it)", tier,
                              excl[i].name, tier);
    return CLX_OK;
}

/*
 * Parses and checks the schema-3 columns of one entry into *x (f NULL: a shorter row, all
 * empty = -1); on failure sets errmsg. (e->ext is pointed at x once loading is done and the
 * arrays stop moving.) Rules: a
 * 1-hour cache-write price needs the 5-minute one and, on a row with a long-context tier,
 * its own tier price; cached audio needs audio input; a service tier has input and output
 * (and cached exactly when the base row has cached); no audio or reasoning price on a row
 * with a long-context tier; no service tier together with cache-write, long-context, audio
 * or reasoning prices (see ext_exclusive_t).
 */
static int parse_schema3(char **f, size_t line, const clx_price_t *e, clx_price_ext_t *x, char **errmsg)
{
    bool tier200k = e->input_above_200k_pico >= 0;
    size_t i;
    int rc;

    for (i = 0; i < EXT_COLUMNS; i++) {
        const char *v = f != NULL ? f[CLX_CATALOG_FIELDS + i] : "";
        int64_t *out = ext_at(x, i);

        if (!parse_price(v, true, out) || (ext_columns[i].unit == EXT_PER_1K_CALLS && *out > INT64_MAX / 1000))
            return line_error(errmsg, line, "bad %s \"%.40s\" (want USD per %s, at most 6 decimals)",
                              ext_columns[i].name, v,
                              ext_columns[i].unit == EXT_PER_MTOK ? "Mtok" : "1,000 calls");
        if (ext_columns[i].unit == EXT_PER_1K_CALLS && *out >= 0)
            *out *= 1000; /* USD/1k calls x 10^6 (as parsed) x 10^3 = pico per call */
    }
    if (x->cache_write_1h_pico >= 0 && e->cache_write_pico < 0)
        return line_error(errmsg, line, "cache_write_1h_per_mtok needs cache_write_per_mtok (the 5-minute price)");
    if ((x->cache_write_1h_above_200k_pico >= 0) != (tier200k && x->cache_write_1h_pico >= 0))
        return line_error(errmsg, line,
                          "cache_write_1h_above_200k_per_mtok must be set exactly when input_above_200k_per_mtok "
                          "and cache_write_1h_per_mtok are");
    if (x->cached_audio_input_pico >= 0 && x->audio_input_pico < 0)
        return line_error(errmsg, line, "cached_audio_input_per_mtok needs audio_input_per_mtok");
    if (tier200k) {
        const ext_exclusive_t excl[] = {
            {"audio_input_per_mtok", x->audio_input_pico >= 0},
            {"cached_audio_input_per_mtok", x->cached_audio_input_pico >= 0},
            {"audio_output_per_mtok", x->audio_output_pico >= 0},
            {"reasoning_output_per_mtok", x->reasoning_output_pico >= 0},
        };

        for (i = 0; i < sizeof(excl) / sizeof(excl[0]); i++)
            if (excl[i].set)
                return line_error(errmsg, line,
                                  "%s cannot be combined with a long-context tier (no >200k price for it)",
                                  excl[i].name);
    }
    rc = check_service_tier(e, x, &x->priority, "priority", line, errmsg);
    if (rc == CLX_OK)
        rc = check_service_tier(e, x, &x->flex, "flex", line, errmsg);
    return rc;
}

/* Checks the '|'-separated aliases of one entry; on failure sets errmsg. */
static int check_aliases(const char *aliases, const char *model, size_t line, char **errmsg)
{
    const char *p = aliases, *q, *r;
    const char *why;

    if (*p == '\0')
        return CLX_OK;
    for (;;) {
        size_t n;

        q = strchr(p, '|');
        n = q != NULL ? (size_t)(q - p) : strlen(p);
        if ((why = check_name(p, n)) != NULL)
            return line_error(errmsg, line, "alias \"%.*s\" %s", (int)(n < 64 ? n : 64), p, why);
        if (n == strlen(model) && memcmp(p, model, n) == 0)
            return line_error(errmsg, line, "alias \"%.*s\" repeats the model name", (int)n, p);
        for (r = aliases; r < p;) { /* an earlier alias of the same entry */
            const char *rq = strchr(r, '|');

            if ((size_t)(rq - r) == n && memcmp(r, p, n) == 0)
                return line_error(errmsg, line, "alias \"%.*s\" listed twice", (int)n, p);
            r = rq + 1;
        }
        if (q == NULL)
            return CLX_OK;
        p = q + 1;
    }
}

typedef struct id_ref {
    const char *id;
    uint32_t entry;
} id_ref_t;

static int cmp_id(const void *a, const void *b)
{
    const id_ref_t *x = a, *y = b;
    int r = strcmp(x->id, y->id);

    return r != 0 ? r : (x->entry < y->entry ? -1 : (x->entry > y->entry));
}

/* Checks id uniqueness; on a repeat sets errmsg naming the later line. */
static int check_ids(clx_catalog_t *c, char **errmsg)
{
    id_ref_t *ids = clx_xmalloc((c->count + 1) * sizeof(*ids));
    int rc = CLX_OK;
    size_t i;

    for (i = 0; i < c->count; i++) {
        ids[i].id = c->entries[i].id;
        ids[i].entry = (uint32_t)i;
    }
    qsort(ids, c->count, sizeof(*ids), cmp_id);
    for (i = 1; i < c->count; i++) {
        if (strcmp(ids[i - 1].id, ids[i].id) == 0) {
            rc = line_error(errmsg, c->lines[ids[i].entry], "duplicate id \"%s\" (first on line %u)", ids[i].id,
                            (unsigned)c->lines[ids[i - 1].entry]);
            break;
        }
    }
    free(ids);
    return rc;
}

/* Builds keys, order and the hash slots; fails on two entries for one name and date. */
static int build_index(clx_catalog_t *c, char **errmsg)
{
    name_ref_t *refs = NULL;
    size_t nrefs = 0, cap = c->count * 2 + 1, i, nslots;
    int rc = CLX_OK;

    refs = clx_xmalloc(cap * sizeof(*refs));
    for (i = 0; i < c->count; i++) {
        const clx_price_t *e = &c->entries[i];
        const char *p = e->model;
        size_t n = strlen(p);
        const char *a = c->aliases[i];

        for (;;) {
            if (nrefs == cap) {
                cap *= 2;
                refs = clx_xrealloc(refs, cap * sizeof(*refs));
            }
            refs[nrefs].provider = e->provider;
            refs[nrefs].name = p;
            refs[nrefs].name_len = n;
            refs[nrefs].effective_from_ms = e->effective_from_ms;
            refs[nrefs].entry = (uint32_t)i;
            nrefs++;
            if (a == NULL || *a == '\0')
                break;
            p = a;
            a = strchr(a, '|');
            n = a != NULL ? (size_t)(a - p) : strlen(p);
            if (a != NULL)
                a++;
        }
    }
    qsort(refs, nrefs, sizeof(*refs), cmp_name_ref);

    c->order = clx_xmalloc((nrefs + 1) * sizeof(*c->order));
    c->keys = clx_xmalloc((nrefs + 1) * sizeof(*c->keys));
    c->nkeys = 0;
    for (i = 0; i < nrefs; i++) {
        const name_ref_t *r = &refs[i];
        bool same = i > 0 && strcmp(refs[i - 1].provider, r->provider) == 0 && refs[i - 1].name_len == r->name_len &&
                    memcmp(refs[i - 1].name, r->name, r->name_len) == 0;

        if (same && refs[i - 1].effective_from_ms == r->effective_from_ms) {
            uint32_t a = refs[i - 1].entry, b = r->entry;

            rc = line_error(errmsg, c->lines[b], "ambiguous: %s/%.*s effective %s is also priced on line %u",
                            r->provider, (int)r->name_len, r->name, c->entries[b].id + strlen(c->entries[b].id) - 10,
                            (unsigned)c->lines[a]);
            goto fail;
        }
        if (!same) {
            cat_key_t *k = &c->keys[c->nkeys++];

            k->provider = r->provider;
            k->provider_len = strlen(r->provider);
            k->name = r->name;
            k->name_len = r->name_len;
            k->hash = key_hash(k->provider, k->provider_len, k->name, k->name_len);
            k->first = (uint32_t)i;
            k->count = 0;
        }
        c->order[i] = r->entry;
        c->keys[c->nkeys - 1].count++;
    }

    for (nslots = 16; nslots < c->nkeys * 2; nslots *= 2)
        ;
    c->slots = clx_xcalloc(nslots, sizeof(*c->slots));
    c->mask = nslots - 1;
    for (i = 0; i < c->nkeys; i++) {
        size_t s = (size_t)c->keys[i].hash & c->mask;

        while (c->slots[s] != 0)
            s = (s + 1) & c->mask;
        c->slots[s] = (uint32_t)i + 1;
    }
fail:
    free(refs);
    return rc;
}

/* Parses every line of c->text; on failure sets errmsg and returns CLX_EINVAL. */
static int parse_text(clx_catalog_t *c, size_t len, char **errmsg)
{
    char *p = c->text, *end = c->text + len;
    size_t line = 0, cap = 64;
    size_t max_fields = 0; /* set by the header: 11 (schema 1), 16 (schema 2) or 29 (schema 3) */

    c->entries = clx_xmalloc(cap * sizeof(*c->entries));
    c->exts = clx_xmalloc(cap * sizeof(*c->exts));
    c->aliases = clx_xmalloc(cap * sizeof(*c->aliases));
    c->lines = clx_xmalloc(cap * sizeof(*c->lines));
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl != NULL ? nl : end;
        char *f[CLX_CATALOG_FIELDS_V3];
        size_t nf, i;
        clx_price_t *e;
        int rc;

        line++;
        if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
            return line_error(errmsg, line, "NUL byte");
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        *eol = '\0';
        if (*p == '#' || strspn(p, " \t") == strlen(p)) {
            p = eol + 1;
            continue;
        }
        if (max_fields == 0) {
            if (strcmp(p, CLX_CATALOG_HEADER_V3) == 0)
                max_fields = CLX_CATALOG_FIELDS_V3;
            else if (strcmp(p, CLX_CATALOG_HEADER) == 0)
                max_fields = CLX_CATALOG_FIELDS;
            else if (strcmp(p, CLX_CATALOG_HEADER_V1) == 0)
                max_fields = CLX_CATALOG_BASE_FIELDS;
            else
                return line_error(errmsg, line, "header must be \"%s\" (or its first 11 or 16 columns)",
                                  CLX_CATALOG_HEADER_V3);
            p = eol + 1;
            continue;
        }
        if (line > UINT32_MAX || c->count >= UINT32_MAX / 4)
            return line_error(errmsg, line, "too many lines");
        nf = split_fields(p, f, CLX_CATALOG_FIELDS_V3);
        if (max_fields == CLX_CATALOG_BASE_FIELDS && nf != CLX_CATALOG_BASE_FIELDS)
            return line_error(errmsg, line, "expected %d comma-separated fields, found %zu", CLX_CATALOG_BASE_FIELDS,
                              nf);
        if (max_fields == CLX_CATALOG_FIELDS && nf != CLX_CATALOG_BASE_FIELDS && nf != CLX_CATALOG_FIELDS)
            return line_error(errmsg, line, "expected %d or %d comma-separated fields, found %zu",
                              CLX_CATALOG_BASE_FIELDS, CLX_CATALOG_FIELDS, nf);
        if (nf != CLX_CATALOG_BASE_FIELDS && nf != CLX_CATALOG_FIELDS && nf != CLX_CATALOG_FIELDS_V3)
            return line_error(errmsg, line, "expected %d, %d or %d comma-separated fields, found %zu",
                              CLX_CATALOG_BASE_FIELDS, CLX_CATALOG_FIELDS, CLX_CATALOG_FIELDS_V3, nf);
        for (i = 0; i < nf; i++)
            if (strpbrk(f[i], "\"") != NULL || (f[i][0] == ' ' || f[i][0] == '\t'))
                return line_error(errmsg, line, "field %zu has quotes or leading blanks", i + 1);
        if (c->count == cap) {
            cap *= 2;
            c->entries = clx_xrealloc(c->entries, cap * sizeof(*c->entries));
            c->exts = clx_xrealloc(c->exts, cap * sizeof(*c->exts));
            c->aliases = clx_xrealloc(c->aliases, cap * sizeof(*c->aliases));
            c->lines = clx_xrealloc(c->lines, cap * sizeof(*c->lines));
        }
        e = &c->entries[c->count];
        memset(e, 0, sizeof(*e));
        rc = parse_entry(f, line, e, errmsg);
        if (rc != CLX_OK)
            return rc;
        rc = parse_extended(nf >= CLX_CATALOG_FIELDS ? f : NULL, line, e, errmsg);
        if (rc != CLX_OK)
            return rc;
        rc = parse_schema3(nf == CLX_CATALOG_FIELDS_V3 ? f : NULL, line, e, &c->exts[c->count], errmsg);
        if (rc != CLX_OK)
            return rc;
        rc = check_aliases(f[3], e->model, line, errmsg);
        if (rc != CLX_OK)
            return rc;
        c->aliases[c->count] = f[3];
        c->lines[c->count] = (uint32_t)line;
        c->count++;
        p = eol + 1;
    }
    if (max_fields == 0)
        return line_error(errmsg, line + 1, "missing header \"%s\"", CLX_CATALOG_HEADER_V3);
    for (size_t i = 0; i < c->count; i++) /* the arrays no longer move */
        c->entries[i].ext = ext_used(&c->exts[i]) ? &c->exts[i] : NULL;
    return CLX_OK;
}

/* On failure nothing is kept: *out stays NULL and, for CLX_EINVAL, *errmsg is set. */
int clx_catalog_load_buffer(const char *data, size_t len, clx_catalog_t **out, char **errmsg)
{
    clx_catalog_t *c = NULL;
    int rc;

    if (errmsg != NULL)
        *errmsg = NULL;
    if (out == NULL)
        return CLX_EINVAL;
    *out = NULL;
    if (data == NULL && len != 0)
        return CLX_EINVAL;
    if (len > CLX_CATALOG_MAX_BYTES)
        return line_error(errmsg, 0, "catalog larger than %u bytes", CLX_CATALOG_MAX_BYTES);
    c = clx_xcalloc(1, sizeof(*c));
    c->text = clx_xmalloc(len + 1);
    if (len != 0)
        memcpy(c->text, data, len);
    c->text[len] = '\0';
    snprintf(c->version, sizeof(c->version), "fnv1a64:%016llx",
             (unsigned long long)clx_fnv1a64(CLX_FNV1A64_INIT, data, len));
    rc = parse_text(c, len, errmsg);
    if (rc != CLX_OK)
        goto fail;
    rc = check_ids(c, errmsg);
    if (rc != CLX_OK)
        goto fail;
    rc = build_index(c, errmsg);
    if (rc != CLX_OK)
        goto fail;
    *out = c;
    return CLX_OK;
fail:
    clx_catalog_destroy(c);
    return rc;
}

/*
 * CLX_ENOTFOUND when path does not exist, CLX_EIO when it cannot be read, CLX_EINVAL
 * (with *errmsg) when it is too large or malformed. Nothing is kept on failure.
 */
int clx_catalog_load(const char *path, clx_catalog_t **out, char **errmsg)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd = -1;
    int rc;

    if (errmsg != NULL)
        *errmsg = NULL;
    if (out == NULL || path == NULL)
        return CLX_EINVAL;
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = (errno == ENOENT || errno == ENOTDIR) ? CLX_ENOTFOUND : CLX_EIO;
        goto fail;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = CLX_EIO;
        goto fail;
    }
    if ((uint64_t)st.st_size > CLX_CATALOG_MAX_BYTES) {
        rc = line_error(errmsg, 0, "catalog %s larger than %u bytes", path, CLX_CATALOG_MAX_BYTES);
        goto fail;
    }
    buf = clx_xmalloc((size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = CLX_EIO;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    rc = clx_catalog_load_buffer(buf, len, out, errmsg);
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* NULL is a no-op. */
void clx_catalog_destroy(clx_catalog_t *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c->keys);
    free(c->order);
    free(c->lines);
    free(c->aliases);
    free(c->entries);
    free(c->exts);
    free(c->text);
    free(c);
}

size_t clx_catalog_count(const clx_catalog_t *c)
{
    return c != NULL ? c->count : 0;
}

/* NULL when i is out of range. */
const clx_price_t *clx_catalog_entry(const clx_catalog_t *c, size_t i)
{
    return (c != NULL && i < c->count) ? &c->entries[i] : NULL;
}

/* NULL when i is out of range. */
const char *clx_catalog_aliases(const clx_catalog_t *c, size_t i)
{
    return (c != NULL && i < c->count) ? c->aliases[i] : NULL;
}

const char *clx_catalog_version(const clx_catalog_t *c)
{
    return c != NULL ? c->version : "";
}
