/*
 * khash.h — a stand-in so that Debian's <h2o/http2_internal.h> (h2o 2.2.5) compiles: that
 * header includes "khash.h", which the package does not ship. framing.c needs only the
 * connection and stream struct layouts from it; the stream table (a khash map) stays
 * opaque here, and the header's inline lookup that would use it must never be called.
 */
#ifndef CLX_H2O_COMPAT_KHASH_H
#define CLX_H2O_COMPAT_KHASH_H

typedef unsigned int khint_t;
typedef khint_t khiter_t;

#define KHASH_MAP_INIT_INT64(name, khval_t) typedef struct kh_##name##_s kh_##name##_t;
#define khash_t(name) kh_##name##_t
/* compile-only: h2o_http2_conn_get_stream() is not usable without the real table */
#define kh_get(name, h, key) ((void)(h), (void)(key), (khiter_t)0)
#define kh_end(h) ((void)(h), (khiter_t)0)
#define kh_val(h, x) ((void)(h), (void)(x), (void *)0)

#endif
