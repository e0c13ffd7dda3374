/*
 * clx_log.c — stderr logging with UTC timestamps and module tags; clocks.
 */
#include "clx_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_level = CLX_LOG_INFO;

void clx_log_set_level(int level)
{
    log_level = level;
}

void clx_log(int level, const char *module, const char *fmt, ...)
{
    if (level > log_level)
        return;
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[1024], ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof(line), "%s %s [%s] ", ts, names[level & 3], module);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* one fputs per line keeps lines from different threads whole */
    fprintf(stderr, "%s\n", line);
}

int64_t clx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clx_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
