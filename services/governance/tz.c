/*
 * tz.c — TZif reader and civil-time arithmetic for budget periods in a workspace's zone.
 * No global state: a zone is an immutable table of transitions plus its POSIX footer rule.
 */
#include "clx_tz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clx_error.h"
#include "clx_mem.h"

#define TZ_FILE_MAX (256 * 1024) /* the largest zone in tzdata is ~10 KB */
#define TZ_OFFSET_LIMIT 93600    /* RFC 8536: |utoff| < 26 h */
#define SECS_PER_DAY 86400

/* One date of a POSIX TZ rule: Jn (1..365, no Feb 29), n (0..365), or Mm.w.d. */
typedef struct rule_date {
    char kind; /* 'J', 'n', 'M' */
    int n, m, w, d;
    int32_t time; /* local seconds after midnight, may be negative or > 24 h (TZif v3) */
} rule_date_t;

/* The footer: standard offset, and when has_dst the daylight offset and its two dates. */
typedef struct rule {
    int present;
    int has_dst;
    int32_t std_off; /* seconds east of UTC (POSIX strings write the opposite sign) */
    int32_t dst_off;
    rule_date_t start, end;
} rule_t;

struct clx_tz {
    char name[CLX_TZ_NAME_MAX + 1];
    size_t n;        /* transitions */
    int64_t *times;  /* ascending Unix times */
    int32_t *offs;   /* offset in force from times[i] on */
    int32_t off0;    /* before times[0]: time type 0 (RFC 8536 3.2) */
    rule_t rule;     /* after times[n-1], or always when n == 0 */
};

static const clx_tz_t utc_zone = {.name = "UTC", .rule = {.present = 1}};

/* ---- civil calendar (proleptic Gregorian, days since 1970-01-01) ------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Eras of 400 years make leap-year arithmetic exact without tables. */
int64_t clx_days_from_civil(int64_t year, int month, int day)
{
    int64_t m0 = (int64_t)month - 1;
    year += floor_div(m0, 12);
    int64_t m = m0 - floor_div(m0, 12) * 12 + 1; /* 1..12 */
    int64_t y = year - (m <= 2);
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5; /* day of the 1st, March-based */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 + (int64_t)day - 1;
}

void clx_civil_from_days(int64_t days, int *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = m;
    *year = (int)(yoe + era * 400 + (m <= 2));
}

static int weekday_of_days(int64_t days)
{
    return (int)(days - floor_div(days + 4, 7) * 7 + 4); /* 1970-01-01 was a Thursday (4) */
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* ---- POSIX TZ footer ------------------------------------------------------------------- */

/* Parses a zone abbreviation: <...> quoted, or letters. Advances *p. */
static bool parse_abbr(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        s++;
        while (*s != '\0' && *s != '>')
            s++;
        if (*s != '>')
            return false;
        *p = s + 1;
        return true;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++;
    if (s - *p < 3)
        return false;
    *p = s;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh <= max_hours; seconds into *out. */
static bool parse_hms(const char **p, int max_hours, int32_t *out)
{
    const char *s = *p;
    int sign = 1, part[3] = {0, 0, 0};

    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*s != ':')
                break;
            s++;
        }
        if (*s < '0' || *s > '9')
            return false;
        int v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 3) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        part[i] = v;
    }
    if (part[0] > max_hours || part[1] > 59 || part[2] > 59)
        return false;
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    *p = s;
    return true;
}

static bool parse_int(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    int v = 0;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9' && v <= hi)
        v = v * 10 + (*s++ - '0');
    if (v < lo || v > hi)
        return false;
    *out = v;
    *p = s;
    return true;
}

static bool parse_rule_date(const char **p, rule_date_t *rd)
{
    const char *s = *p;

    memset(rd, 0, sizeof(*rd));
    rd->time = 2 * 3600;
    if (*s == 'J') {
        s++;
        rd->kind = 'J';
        if (!parse_int(&s, 1, 365, &rd->n))
            return false;
    } else if (*s == 'M') {
        s++;
        rd->kind = 'M';
        if (!parse_int(&s, 1, 12, &rd->m) || *s++ != '.' || !parse_int(&s, 1, 5, &rd->w) || *s++ != '.' ||
            !parse_int(&s, 0, 6, &rd->d))
            return false;
    } else {
        rd->kind = 'n';
        if (!parse_int(&s, 0, 365, &rd->n))
            return false;
    }
    if (*s == '/') {
        s++;
        if (!parse_hms(&s, 167, &rd->time))
            return false;
    }
    *p = s;
    return true;
}

/* "std offset [dst [offset] [,start[/time],end[/time]]]"; "" means no rule. */
static bool parse_rule(const char *s, rule_t *r)
{
    int32_t v;

    memset(r, 0, sizeof(*r));
    if (*s == '\0')
        return true;
    if (!parse_abbr(&s) || !parse_hms(&s, 24, &v))
        return false;
    r->present = 1;
    r->std_off = -v;
    if (*s == '\0')
        return true;
    if (!parse_abbr(&s))
        return false;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!parse_hms(&s, 24, &v))
            return false;
        r->dst_off = -v;
    }
    if (*s == '\0') { /* no dates: the traditional US rule */
        const char *def = "M3.2.0,M11.1.0";
        return parse_rule_date(&def, &r->start) && *def++ == ',' && parse_rule_date(&def, &r->end);
    }
    if (*s++ != ',' || !parse_rule_date(&s, &r->start) || *s++ != ',' || !parse_rule_date(&s, &r->end))
        return false;
    return *s == '\0';
}

/* Unix time at which rule date rd happens in year y, the clock showing offset off_before. */
static int64_t rule_time(const rule_date_t *rd, int64_t y, int32_t off_before)
{
    int64_t days;

    if (rd->kind == 'J') {
        days = clx_days_from_civil(y, 1, 1) + rd->n - 1 + (is_leap(y) && rd->n >= 60);
    } else if (rd->kind == 'n') {
        days = clx_days_from_civil(y, 1, 1) + rd->n;
    } else {
        int64_t first = clx_days_from_civil(y, rd->m, 1);
        int64_t next_month = clx_days_from_civil(y, rd->m + 1, 1);
        days = first + (rd->d - weekday_of_days(first) + 7) % 7 + (int64_t)(rd->w - 1) * 7;
        while (days >= next_month) /* w == 5: the last such weekday */
            days -= 7;
    }
    return days * SECS_PER_DAY + rd->time - off_before;
}

/* Offset in force at t under rule r, and the next change after t (INT64_MAX: none). */
static void rule_lookup(const rule_t *r, int64_t t, int32_t *off, int64_t *next)
{
    if (!r->has_dst) {
        *off = r->std_off;
        *next = INT64_MAX;
        return;
    }
    int year, month, day;
    clx_civil_from_days(floor_div(t + r->std_off, SECS_PER_DAY), &year, &month, &day);
    /* the transitions of the years around t, in time order: the last one <= t rules */
    int64_t at[6];
    int32_t to[6];
    int k = 0;
    for (int64_t y = year - 1; y <= year + 1; y++) {
        int64_t a = rule_time(&r->start, y, r->std_off), b = rule_time(&r->end, y, r->dst_off);
        at[k] = a, to[k++] = r->dst_off;
        at[k] = b, to[k++] = r->std_off;
    }
    for (int i = 1; i < 6; i++) /* insertion sort of six */
        for (int j = i; j > 0 && at[j - 1] > at[j]; j--) {
            int64_t ta = at[j];
            int32_t tt = to[j];
            at[j] = at[j - 1], to[j] = to[j - 1];
            at[j - 1] = ta, to[j - 1] = tt;
        }
    *off = r->std_off;
    *next = INT64_MAX;
    for (int i = 0; i < 6; i++) {
        if (at[i] <= t) {
            *off = to[i];
        } else {
            *next = at[i];
            break;
        }
    }
}

/* Offset in force at t, and the time of the next change after t (INT64_MAX: none known). */
static void tz_lookup(const clx_tz_t *tz, int64_t t, int32_t *off, int64_t *next)
{
    if (tz->n == 0 || t >= tz->times[tz->n - 1]) {
        if (tz->rule.present) {
            rule_lookup(&tz->rule, t, off, next);
            return;
        }
        *off = tz->n == 0 ? tz->off0 : tz->offs[tz->n - 1];
        *next = INT64_MAX;
        return;
    }
    if (t < tz->times[0]) {
        *off = tz->off0;
        *next = tz->times[0];
        return;
    }
    size_t lo = 0, hi = tz->n - 1; /* times[lo] <= t < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    *off = tz->offs[lo];
    *next = tz->times[hi];
}

/* ---- TZif ------------------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64s(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chr;
} tzif_counts_t;

/* Reads a 44-byte header at p; false when the magic is wrong. */
static bool tzif_header(const unsigned char *p, size_t avail, tzif_counts_t *c, char *version)
{
    if (avail < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chr = be32(p + 40);
    /* RFC 8536 bounds; also keeps the size arithmetic below far from overflow */
    return c->type >= 1 && c->type <= 256 && c->chr >= 1 && c->time <= 100000 && c->leap <= 100000 &&
           (c->isut == 0 || c->isut == c->type) && (c->isstd == 0 || c->isstd == c->type);
}

static size_t tzif_block_len(const tzif_counts_t *c, int tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chr + (size_t)c->leap * (tsize + 4) +
           c->isstd + c->isut;
}

int clx_tz_parse(const char *name, const void *data, size_t len, clx_tz_t **out)
{
    const unsigned char *p = data;
    tzif_counts_t c;
    char version;
    int tsize = 4;
    clx_tz_t *tz = NULL;
    int rc = CLX_ECORRUPT;

    *out = NULL;
    if (name == NULL || strlen(name) > CLX_TZ_NAME_MAX)
        return CLX_EINVAL;
    if (!tzif_header(p, len, &c, &version))
        return CLX_ECORRUPT;
    size_t at = 44;
    if (version >= '2') { /* skip the 32-bit block: the 64-bit one follows with its own header */
        at += tzif_block_len(&c, 4);
        if (at > len || !tzif_header(p + at, len - at, &c, &version))
            return CLX_ECORRUPT;
        at += 44;
        tsize = 8;
    }
    if (len - at < tzif_block_len(&c, tsize))
        return CLX_ECORRUPT;
    if (c.leap != 0)
        return CLX_EINVAL; /* "right/" zones count leap seconds in their times; we use POSIX time */

    tz = clx_xcalloc(1, sizeof(*tz));
    snprintf(tz->name, sizeof(tz->name), "%s", name);
    tz->n = c.time;
    tz->times = clx_xcalloc(c.time + 1, sizeof(*tz->times));
    tz->offs = clx_xcalloc(c.time + 1, sizeof(*tz->offs));
    const unsigned char *times = p + at;
    const unsigned char *idx = times + (size_t)c.time * tsize;
    const unsigned char *types = idx + c.time;
    for (uint32_t i = 0; i < c.type; i++) {
        int32_t off = (int32_t)be32(types + 6 * i);
        if (off <= -TZ_OFFSET_LIMIT || off >= TZ_OFFSET_LIMIT || types[6 * i + 4] > 1 || types[6 * i + 5] >= c.chr)
            goto fail;
    }
    tz->off0 = (int32_t)be32(types);
    for (uint32_t i = 0; i < c.time; i++) {
        tz->times[i] = tsize == 8 ? be64s(times + 8 * i) : (int64_t)(int32_t)be32(times + 4 * i);
        if (i > 0 && tz->times[i] <= tz->times[i - 1])
            goto fail;
        if (idx[i] >= c.type)
            goto fail;
        tz->offs[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    at += tzif_block_len(&c, tsize);
    if (tsize == 8) { /* footer: '\n' POSIX-TZ '\n' */
        if (at >= len || p[at] != '\n')
            goto fail;
        const unsigned char *nl = memchr(p + at + 1, '\n', len - at - 1);
        if (nl == NULL || (size_t)(nl - (p + at + 1)) > 255)
            goto fail;
        char footer[256];
        size_t flen = (size_t)(nl - (p + at + 1));
        memcpy(footer, p + at + 1, flen);
        footer[flen] = '\0';
        if (!parse_rule(footer, &tz->rule))
            goto fail;
    }
    *out = tz;
    return CLX_OK;

fail:
    clx_tz_destroy(tz);
    return rc;
}

/* Zone names are paths under the zone directory: keep them from leaving it. */
static bool valid_name(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len > CLX_TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '/' ||
                  ch == '_' || ch == '-' || ch == '+';
        if (!ok)
            return false;
        if (ch == '/' && name[i + 1] == '/')
            return false;
    }
    return true; /* no '.' at all, so no ".." and no hidden files */
}

int clx_tz_load_dir(const char *dir, const char *name, clx_tz_t **out)
{
    char path[4096];
    unsigned char *buf = NULL;
    int fd = -1, rc;
    struct stat st;

    *out = NULL;
    if (!valid_name(name))
        return CLX_EINVAL;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        *out = (clx_tz_t *)&utc_zone;
        return CLX_OK;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return CLX_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT || errno == ENOTDIR ? CLX_ENOTFOUND : CLX_EIO;
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = CLX_ENOTFOUND; /* a directory such as "Europe" is not a zone */
        goto done;
    }
    if (st.st_size > TZ_FILE_MAX) {
        rc = CLX_ECORRUPT;
        goto done;
    }
    buf = clx_xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = CLX_EIO;
            goto done;
        }
        got += (size_t)r;
    }
    rc = clx_tz_parse(name, buf, got, out);
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int clx_tz_load(const char *name, clx_tz_t **out)
{
    return clx_tz_load_dir(CLX_TZ_DEFAULT_DIR, name, out);
}

const clx_tz_t *clx_tz_utc(void)
{
    return &utc_zone;
}

void clx_tz_destroy(clx_tz_t *tz)
{
    if (tz == NULL || tz == &utc_zone)
        return;
    free(tz->times);
    free(tz->offs);
    free(tz);
}

const char *clx_tz_name(const clx_tz_t *tz)
{
    return tz->name;
}

int32_t clx_tz_offset(const clx_tz_t *tz, int64_t t)
{
    int32_t off;
    int64_t next;
    tz_lookup(tz, t, &off, &next);
    return off;
}

void clx_tz_civil(const clx_tz_t *tz, int64_t t, clx_civil_t *out)
{
    int32_t off = clx_tz_offset(tz, t);
    int64_t local = t + off;
    int64_t days = floor_div(local, SECS_PER_DAY);
    int64_t sec = local - days * SECS_PER_DAY;

    clx_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(sec / 3600);
    out->minute = (int)(sec / 60 % 60);
    out->second = (int)(sec % 60);
    out->weekday = weekday_of_days(days);
    out->offset = off;
}

/*
 * The wall clock w(t) = t + offset(t) rises with slope 1 between transitions and jumps at
 * them. Walk the segments from 26 h before the target (no offset reaches that far) and
 * return, in the first segment that gets there, the earliest t with w(t) >= target.
 */
int64_t clx_tz_from_local(const clx_tz_t *tz, int year, int month, int day, int hour, int minute, int second)
{
    int64_t target = clx_days_from_civil(year, month, day) * SECS_PER_DAY + (int64_t)hour * 3600 +
                     (int64_t)minute * 60 + second;
    int64_t t = target - TZ_OFFSET_LIMIT;

    for (int guard = 0; guard < 64; guard++) {
        int32_t off;
        int64_t next;
        tz_lookup(tz, t, &off, &next);
        int64_t cand = target - off > t ? target - off : t;
        if (cand < next)
            return cand;
        t = next;
    }
    return target - clx_tz_offset(tz, target); /* unreachable with real zones */
}
