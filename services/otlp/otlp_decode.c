/*
 * otlp_decode.c — OTLP bodies to ExportTraceServiceRequest: media types, gzip with a bounded
 * output, a bounds-checking pass over protobuf before protobuf-c unpacks it, and the answer.
 */
#include "otlp_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "clx_error.h"
#include "clx_utf8.h"

const clx_otlp_limits_t clx_otlp_default_limits = {
    .max_body = 16u << 20,
    .max_spans = 10000,
    .max_messages = 500000,
    .max_depth = 32,
    .max_value_len = 1024,
    .max_tags = 32,
};

int clx_otlp_fail(clx_otlp_error_t *err, int rc, clx_code_t code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        err->name = code != CLX_CODE_NONE ? clx_code_name(code) : clx_err_name(rc);
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ==== media types ============================================================================ */

static const struct media_type {
    const char *name;
    clx_otlp_format_t fmt;
} media_types[] = {
    {"application/x-protobuf", CLX_OTLP_PROTOBUF},
    {"application/protobuf", CLX_OTLP_PROTOBUF},
    {"application/json", CLX_OTLP_JSON},
};

/* Trims spaces and tabs on both sides of [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

int clx_otlp_media_type(const char *value, size_t len, clx_otlp_format_t *fmt, clx_otlp_error_t *err)
{
    const char *semi = value != NULL ? memchr(value, ';', len) : NULL;
    size_t n = semi != NULL ? (size_t)(semi - value) : len;
    const char *s = value;

    if (s != NULL)
        trim(&s, &n);
    for (size_t i = 0; s != NULL && i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        if (strlen(media_types[i].name) == n && strncasecmp(media_types[i].name, s, n) == 0) {
            *fmt = media_types[i].fmt;
            return CLX_OK;
        }
    }
    return clx_otlp_fail(err, CLX_EMEDIA, CLX_CODE_NONE,
                         "Content-Type must be application/x-protobuf or application/json, got '%.*s'",
                         (int)(n > 80 ? 80 : n), s != NULL ? s : "");
}

/* ==== gzip =================================================================================== */

int clx_otlp_gunzip(const void *in, size_t len, size_t max_out, clx_arena_t *arena, const void **out,
                    size_t *out_len, clx_otlp_error_t *err)
{
    z_stream z;
    int rc = CLX_OK;
    /* Output is capped at max_out + 1 bytes: reaching the extra byte proves "too big" without
     * inflating any further. The first guess fits typical OTLP ratios; it grows by doubling. */
    if (max_out > SIZE_MAX / 4)
        max_out = SIZE_MAX / 4; /* keeps max_out + 1 and the doubling below from wrapping */
    size_t limit = max_out + 1;
    size_t cap = len < limit / 8 ? len * 8 + 4096 : limit;
    size_t used = 0, in_left = len;
    unsigned char *buf;

    *out = NULL;
    *out_len = 0;
    if (cap > limit)
        cap = limit;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) /* 15 + 16: zlib's window, gzip framing only */
        return clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_GZIP, "could not start gzip decompression");
    buf = clx_arena_alloc(arena, cap);
    z.next_in = (Bytef *)in;
    for (;;) {
        /* zlib counts in uInt: feed and drain in pieces of at most 1 GiB */
        if (z.avail_in == 0 && in_left > 0) {
            z.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            in_left -= z.avail_in;
        }
        if (used == cap) {
            if (cap == limit)
                break; /* full at max_out + 1: reported below */
            size_t fresh_cap = cap > limit / 2 ? limit : cap * 2;
            unsigned char *fresh = clx_arena_alloc(arena, fresh_cap);
            memcpy(fresh, buf, used);
            buf = fresh;
            cap = fresh_cap;
        }
        z.next_out = buf + used;
        z.avail_out = cap - used > (1u << 30) ? (1u << 30) : (uInt)(cap - used);
        int zrc = inflate(&z, Z_NO_FLUSH);
        used = (size_t)(z.next_out - buf);
        if (zrc == Z_STREAM_END) {
            if (z.avail_in == 0 && in_left == 0)
                break;
            /* another gzip member follows: concatenated members are one gzip body */
            if (inflateReset(&z) != Z_OK) {
                rc = clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_GZIP, "corrupt gzip body");
                goto done;
            }
        } else if (zrc == Z_BUF_ERROR) {
            /* no progress: either the output is full (grown above) or the input ran out */
            if (z.avail_in == 0 && in_left == 0 && used < cap) {
                rc = clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_GZIP, "the gzip body is truncated");
                goto done;
            }
        } else if (zrc != Z_OK) {
            rc = clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_GZIP, "the body is not valid gzip (%s)",
                               z.msg != NULL ? z.msg : "corrupt data");
            goto done;
        }
    }
    if (used > max_out) {
        rc = clx_otlp_fail(err, CLX_ETOOBIG, CLX_CODE_NONE, "the gzip body inflates to more than %zu bytes",
                           max_out);
        goto done;
    }
    *out = buf;
    *out_len = used;
done:
    inflateEnd(&z);
    return rc;
}

/* ==== protobuf ================================================================================ */

/*
 * protobuf-c unpacks recursively without a depth limit, and a 2-byte nested message costs it
 * a ~100-byte struct: the bytes alone bound neither its stack nor its memory. One pass over
 * the wire format, guided by the same descriptors, checks framing, nesting depth and the
 * counts of messages and spans first; only a request within the limits is unpacked.
 */
struct scan {
    const clx_otlp_limits_t *lim;
    const uint8_t *base;
    size_t messages, spans;
    clx_otlp_error_t *err;
};

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

static int scan_fail(struct scan *s, const uint8_t *at, const char *what)
{
    return clx_otlp_fail(s->err, CLX_EINVAL, CLX_CODE_INVALID_PROTOBUF,
                         "the body is not a valid ExportTraceServiceRequest: %s at byte %zu", what,
                         (size_t)(at - s->base));
}

static int scan_message(struct scan *s, const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                        unsigned depth)
{
    while (p < end) {
        const uint8_t *at = p;
        uint64_t key, n;
        if (!read_varint(&p, end, &key))
            return scan_fail(s, at, "a truncated field key");
        if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
            return scan_fail(s, at, "an invalid field number");
        switch (key & 7) {
        case 0: /* varint */
            if (!read_varint(&p, end, &n))
                return scan_fail(s, at, "a truncated number");
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return scan_fail(s, at, "a truncated 64-bit field");
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return scan_fail(s, at, "a truncated 32-bit field");
            p += 4;
            break;
        case 2: { /* length-delimited: bytes, strings, packed numbers, messages */
            if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return scan_fail(s, at, "a length running past the end");
            const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessageDescriptor *sub = f->descriptor;
                if (depth + 1 > s->lim->max_depth)
                    return clx_otlp_fail(s->err, CLX_EINVAL, CLX_CODE_TOO_DEEP,
                                         "messages are nested more than %u deep (at byte %zu)", s->lim->max_depth,
                                         (size_t)(at - s->base));
                if (++s->messages > s->lim->max_messages)
                    return clx_otlp_fail(s->err, CLX_ETOOBIG, CLX_CODE_TOO_MANY_MESSAGES,
                                         "the request holds more than %zu attributes, values and spans",
                                         s->lim->max_messages);
                if (sub == &opentelemetry__proto__trace__v1__span__descriptor && ++s->spans > s->lim->max_spans)
                    return clx_otlp_fail(s->err, CLX_ETOOBIG, CLX_CODE_TOO_MANY_SPANS,
                                         "the request holds more than %zu spans; export smaller batches",
                                         s->lim->max_spans);
                int rc = scan_message(s, sub, p, p + n, depth + 1);
                if (rc != CLX_OK)
                    return rc;
            }
            p += n;
            break;
        }
        default: /* groups (3, 4) are not used by OTLP; 6 and 7 do not exist */
            return scan_fail(s, at, "an unsupported wire type");
        }
    }
    return CLX_OK;
}

static int decode_protobuf(const void *body, size_t len, const clx_otlp_limits_t *lim, clx_arena_t *arena,
                           clx_otlp_request_t **out, clx_otlp_error_t *err)
{
    struct scan s = {.lim = lim, .base = body, .err = err};
    ProtobufCAllocator alloc;
    int rc = scan_message(&s, &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
                          body, (const uint8_t *)body + len, 0);

    if (rc != CLX_OK)
        return rc;
    clx_arena_allocator(arena, &alloc);
    *out = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(&alloc, len, body);
    if (*out == NULL) /* framing is sound, so a field holds a value of the wrong kind */
        return clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_PROTOBUF,
                             "the body is not a valid ExportTraceServiceRequest: a field has the wrong wire type");
    return CLX_OK;
}

int clx_otlp_decode(const void *body, size_t len, clx_otlp_format_t fmt, const clx_otlp_limits_t *lim,
                    clx_arena_t *arena, clx_otlp_request_t **out, clx_otlp_error_t *err)
{
    int rc;

    if (lim == NULL)
        lim = &clx_otlp_default_limits;
    *out = NULL;
    if (len > lim->max_body)
        return clx_otlp_fail(err, CLX_ETOOBIG, CLX_CODE_NONE, "the body has %zu bytes, more than the %zu allowed",
                             len, lim->max_body);
    if (fmt == CLX_OTLP_JSON)
        rc = clx_otlp_json_decode(body, len, lim, arena, out, err);
    else
        rc = decode_protobuf(body, len, lim, arena, out, err);
    if (rc != CLX_OK)
        *out = NULL;
    return rc;
}

int clx_otlp_decode_http(const void *body, size_t len, const char *content_type, size_t ctype_len,
                         const char *content_encoding, size_t cenc_len, const clx_otlp_limits_t *lim,
                         clx_arena_t *arena, clx_otlp_format_t *fmt, clx_otlp_request_t **out,
                         clx_otlp_error_t *err)
{
    clx_otlp_format_t f;
    const char *enc = content_encoding;
    size_t enc_len = cenc_len;
    int rc;

    if (lim == NULL)
        lim = &clx_otlp_default_limits;
    *out = NULL;
    rc = clx_otlp_media_type(content_type, ctype_len, &f, err);
    if (rc != CLX_OK)
        return rc;
    if (fmt != NULL)
        *fmt = f;
    if (len > lim->max_body)
        return clx_otlp_fail(err, CLX_ETOOBIG, CLX_CODE_NONE, "the body has %zu bytes, more than the %zu allowed",
                             len, lim->max_body);
    if (enc != NULL)
        trim(&enc, &enc_len);
    if (enc != NULL && enc_len == 4 && strncasecmp(enc, "gzip", 4) == 0) {
        const void *plain;
        size_t plain_len;
        rc = clx_otlp_gunzip(body, len, lim->max_body, arena, &plain, &plain_len, err);
        if (rc != CLX_OK)
            return rc;
        body = plain;
        len = plain_len;
    } else if (enc != NULL && enc_len > 0 && !(enc_len == 8 && strncasecmp(enc, "identity", 8) == 0)) {
        return clx_otlp_fail(err, CLX_EMEDIA, CLX_CODE_UNSUPPORTED_ENCODING,
                             "Content-Encoding must be gzip or identity, got '%.*s'", (int)(enc_len > 40 ? 40 : enc_len),
                             enc);
    }
    return clx_otlp_decode(body, len, f, lim, arena, out, err);
}

/* ==== the answer ============================================================================== */

size_t clx_otlp_json_quote(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    dst[n++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            memcpy(dst + n, "\\u00", 4);
            dst[n + 4] = hex[c >> 4];
            dst[n + 5] = hex[c & 15];
            n += 6;
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n++] = '"';
    return n;
}

void clx_otlp_answer(clx_otlp_format_t fmt, int64_t rejected, const char *message, clx_arena_t *arena,
                     const void **out, size_t *len)
{
    /* the message quotes span attributes: made valid UTF-8, which strict proto3 readers require */
    message = message != NULL ? clx_utf8_sanitize(arena, message) : "";
    if (rejected < 0)
        rejected = 0;
    int partial = rejected > 0 || message[0] != '\0';
    if (fmt == CLX_OTLP_JSON) {
        if (!partial) {
            *out = "{}";
            *len = 2;
            return;
        }
        /* every byte of message becomes at most 6 */
        char *buf = clx_arena_alloc(arena, 96 + 6 * strlen(message));
        size_t n = (size_t)sprintf(buf, "{\"partialSuccess\":{\"rejectedSpans\":\"%lld\",\"errorMessage\":",
                                   (long long)rejected);
        n += clx_otlp_json_quote(buf + n, message);
        memcpy(buf + n, "}}", 3);
        *out = buf;
        *len = n + 2;
        return;
    }
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess part;
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&resp);
    if (partial) {
        opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&part);
        part.rejected_spans = rejected;
        part.error_message = (char *)message;
        resp.partial_success = &part;
    }
    size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__get_packed_size(&resp);
    uint8_t *buf = clx_arena_alloc(arena, n + 1);
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp, buf);
    *out = buf;
    *len = n;
}
