/*
 * clx_log.h — module-tagged log lines on stderr: "2026-11-27T08:00:00Z [store] msg".
 * Never pass secrets (ingestion keys, admin tokens) to these functions.
 */
#ifndef CLX_LOG_H
#define CLX_LOG_H

#include <stdint.h>

enum { CLX_LOG_ERROR = 0, CLX_LOG_WARN = 1, CLX_LOG_INFO = 2, CLX_LOG_DEBUG = 3 };

/* Lines above this level are dropped. Default CLX_LOG_INFO. */
void clx_log_set_level(int level);
void clx_log(int level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define CLX_MS_PER_HOUR 3600000LL
#define CLX_MS_PER_DAY 86400000LL

/* Wall-clock Unix time in milliseconds. */
int64_t clx_now_ms(void);
/* Monotonic time in nanoseconds. */
uint64_t clx_mono_ns(void);

#endif
