/*
 * clx_tz.h — IANA time zones without the C library's global TZ state.
 *
 * localtime_r() follows the process-wide TZ variable; switching it per workspace with
 * setenv("TZ") + tzset() is not thread-safe. This module reads the compiled TZif files
 * (RFC 8536, versions 1-4) under /usr/share/zoneinfo itself (Debian's tzdata package; the
 * container image installs it) into an immutable clx_tz_t, and answers offsets and civil
 * times from it. A loaded zone is read-only: any number of threads may use it at once.
 *
 * Times past the file's last transition follow its footer rule (a POSIX TZ string such as
 * "CET-1CEST,M3.5.0,M10.5.0/3"), so "slim" files and dates after 2037 are handled too.
 * Leap seconds are ignored (POSIX time), as everywhere else in costlynx.
 */
#ifndef CLX_TZ_H
#define CLX_TZ_H

#include <stddef.h>
#include <stdint.h>

#define CLX_TZ_NAME_MAX 64
#define CLX_TZ_DEFAULT_DIR "/usr/share/zoneinfo"

typedef struct clx_tz clx_tz_t;

/* A local (wall-clock) date and time. */
typedef struct clx_civil {
    int year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int hour, minute, second;
    int weekday;    /* 0 = Sunday .. 6 = Saturday */
    int32_t offset; /* seconds east of UTC in force */
} clx_civil_t;

/*
 * Loads zone name ("UTC", "Europe/Berlin", …) from CLX_TZ_DEFAULT_DIR. "UTC" (and "Etc/UTC")
 * never needs a file. Returns CLX_OK with *out (caller destroys); CLX_EINVAL for a name that
 * is not a zone name (empty, over CLX_TZ_NAME_MAX, "..", a leading '/', characters other
 * than letters, digits, '/', '_', '-', '+'); CLX_ENOTFOUND when no such file exists (or
 * tzdata is not installed); CLX_ECORRUPT when the file is not valid TZif.
 */
int clx_tz_load(const char *name, clx_tz_t **out);
/* As clx_tz_load, reading from directory dir instead (tests, other layouts). */
int clx_tz_load_dir(const char *dir, const char *name, clx_tz_t **out);
/*
 * Builds a zone from TZif bytes (data, len) and records name as its name. Same results as
 * clx_tz_load minus CLX_ENOTFOUND. The bytes are not kept.
 */
int clx_tz_parse(const char *name, const void *data, size_t len, clx_tz_t **out);
/* The UTC zone: static, shared, never destroyed (clx_tz_destroy ignores it). */
const clx_tz_t *clx_tz_utc(void);
/* Frees a loaded zone. NULL and clx_tz_utc() are no-ops. */
void clx_tz_destroy(clx_tz_t *tz);

/* The name the zone was loaded under. Valid while tz lives. */
const char *clx_tz_name(const clx_tz_t *tz);
/* Offset from UTC (seconds east) in force at Unix time t (seconds). */
int32_t clx_tz_offset(const clx_tz_t *tz, int64_t t);
/* The local civil time at Unix time t (seconds). */
void clx_tz_civil(const clx_tz_t *tz, int64_t t, clx_civil_t *out);
/*
 * The earliest Unix time whose local wall clock reads at least the given local time
 * (year, month, day, hour, minute, second; the month and day may overflow: day 32 of
 * January is February 1st). Inside a spring-forward gap that is the instant the gap ends;
 * inside a fall-back overlap it is the first of the two instants. Fields beyond a
 * plausible range (year outside -100000..100000) are clamped by the caller's contract:
 * clx_tz_from_local asserts nothing and never fails.
 */
int64_t clx_tz_from_local(const clx_tz_t *tz, int year, int month, int day, int hour, int minute, int second);

/* Days since 1970-01-01 of a proleptic Gregorian date (month and day may overflow). */
int64_t clx_days_from_civil(int64_t year, int month, int day);
/* The date of days since 1970-01-01. */
void clx_civil_from_days(int64_t days, int *year, int *month, int *day);

#endif
