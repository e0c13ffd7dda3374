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
    .max_tags = 16, /* the event model's own limit (UsageEvent.tags) */
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
        rc = clx_otlp_fail(err, CLX_ETOOBIG, CLX_CODE_NONE, "the gzip body inflates to more than %zu bytes", max_out);
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
 * a ~100-byte struct: the bytes alone bound neither its stack nor its memory. So one walk over
 * the wire format, guided by the same descriptors, checks framing, nesting depth, the counts of
 * messages and spans, and that every known field comes in its type's wire type (what protobuf-c
 * would refuse), before anything is unpacked.
 *
 * The same walk can build while it checks (limits.usage_only, the door's way): a visitor is told
 * each field of a message and builds only what clx_otlp_map reads — resources, scopes (their
 * name), spans (ids and times) and the attributes whose keys the mapping knows
 * (clx_otlp_attr_used), bytes pointing into the body. Every other attribute, its value (a
 * prompt, a completion) and every other field is checked and skipped, in one pass. A body in
 * which protobuf would merge two occurrences of one singular message (no exporter sends one) is
 * unpacked by protobuf-c instead, so both decodes map alike (tests/fuzz/fuzz_otlp.c checks it).
 */
struct scan {
    const clx_otlp_limits_t *lim;
    const uint8_t *base;
    size_t messages, spans;
    int merges; /* a singular message field given twice in one message (protobuf merges them) */
    clx_otlp_error_t *err;
    clx_arena_t *arena; /* the visitors build here */
};

/* One field as the walk met it. */
struct field {
    uint32_t number;
    unsigned type;       /* wire type */
    uint64_t value;      /* varint, or the 64-bit little-endian value */
    const uint8_t *data; /* length-delimited */
    size_t len;
    const ProtobufCFieldDescriptor *fd; /* NULL: unknown to the descriptor */
};

/*
 * A visitor: called for every field of one message, after the field was checked. For a message
 * field it may walk the sub-message itself (with walk(), and a visitor of its own) and return 1;
 * 0 lets the walk check it alone. Negative: an error (err filled), which ends the walk.
 */
typedef int (*visit_fn)(struct scan *s, void *obj, const struct field *f, unsigned depth);

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

/*
 * The descriptor of field number in d, or NULL: protobuf_c_message_descriptor_get_field, inline.
 * field_ranges (protobuf-c.h) are runs of consecutive field numbers, with a dummy entry after the
 * last whose orig_index ends it; OTLP's messages have one or two runs.
 */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d, uint64_t number)
{
    for (unsigned i = 0; i < d->n_field_ranges; i++) {
        const ProtobufCIntRange *r = &d->field_ranges[i];
        uint64_t start = (uint64_t)r->start_value, count = r[1].orig_index - r->orig_index;
        if (number >= start && number - start < count)
            return &d->fields[r->orig_index + (number - start)];
    }
    return NULL;
}

/* The wire type a known field's values come in (protobuf-c refuses any other). */
static unsigned wire_type_of(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default:
        return 0;
    }
}

/* Walks the message [p, end) of type d at depth, telling visit (may be NULL) each field. */
static int walk(struct scan *s, const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                unsigned depth, visit_fn visit, void *obj)
{
    uint64_t seen = 0; /* the singular message fields met so far (OTLP's field numbers are small) */
    while (p < end) {
        const uint8_t *at = p;
        struct field f;
        uint64_t key;
        if (!read_varint(&p, end, &key))
            return scan_fail(s, at, "a truncated field key");
        /* protobuf-c reads a key in at most 5 bytes and refuses a longer (over-long) one: so must
         * the walk, or the door's decode (the walk alone) would take what the whole decode refuses */
        if (p - at > 5)
            return scan_fail(s, at, "a field key longer than 5 bytes");
        if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
            return scan_fail(s, at, "an invalid field number");
        f.number = (uint32_t)(key >> 3);
        f.type = (unsigned)(key & 7);
        f.fd = field_of(d, f.number);
        /* a known field in another wire type than its type's (packed repeated numbers aside) is what
         * protobuf-c would refuse: refused here, so no decoder ever meets it */
        if (f.fd != NULL && f.type != wire_type_of(f.fd) &&
            !(f.type == 2 && f.fd->label == PROTOBUF_C_LABEL_REPEATED && wire_type_of(f.fd) != 2))
            return scan_fail(s, at, "a field with the wrong wire type");
        if (f.fd != NULL && f.fd->type == PROTOBUF_C_TYPE_MESSAGE && f.fd->label != PROTOBUF_C_LABEL_REPEATED) {
            uint64_t bit = f.number < 64 ? 1ull << f.number : 0;
            if ((seen & bit) != 0)
                s->merges = 1;
            seen |= bit;
        }
        switch (f.type) {
        case 0: /* varint */
            if (!read_varint(&p, end, &f.value))
                return scan_fail(s, at, "a truncated number");
            break;
        case 1: /* 64-bit, little-endian */
            if (end - p < 8)
                return scan_fail(s, at, "a truncated 64-bit field");
            f.value = 0;
            for (int i = 7; i >= 0; i--)
                f.value = f.value << 8 | p[i];
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return scan_fail(s, at, "a truncated 32-bit field");
            p += 4;
            break;
        case 2: { /* length-delimited: bytes, strings, packed numbers, messages */
            uint64_t n;
            if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return scan_fail(s, at, "a length running past the end");
            f.data = p;
            f.len = (size_t)n;
            p += n;
            if (f.fd != NULL && f.fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessageDescriptor *sub = f.fd->descriptor;
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
                int rc = visit != NULL ? visit(s, obj, &f, depth + 1) : 0;
                if (rc == 0)
                    rc = walk(s, sub, f.data, f.data + f.len, depth + 1, NULL, NULL);
                if (rc < 0)
                    return rc;
                continue;
            }
            break;
        }
        default: /* groups (3, 4) are not used by OTLP; 6 and 7 do not exist */
            return scan_fail(s, at, "an unsupported wire type");
        }
        if (visit != NULL) {
            int rc = visit(s, obj, &f, depth);
            if (rc < 0)
                return rc;
        }
    }
    return CLX_OK;
}

/* ---- the visitors of the door's decode (limits.usage_only) ---------------------------------- */

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans scope_spans_t;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans resource_spans_t;

/* A growing array of pointers in the arena (its room doubles: no pass to count first). */
struct list {
    void **v;
    size_t n, cap;
};

static void push(clx_arena_t *a, struct list *l, void *item)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void **v = clx_arena_alloc(a, cap * sizeof(*v));
        if (l->n > 0)
            memcpy(v, l->v, l->n * sizeof(*v));
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = item;
}

/* An attribute's value: the last member of the oneof given wins, as in protobuf. */
static any_t *value_of(clx_arena_t *a, const uint8_t *p, size_t len)
{
    static Opentelemetry__Proto__Common__V1__ArrayValue empty_array =
        OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    static Opentelemetry__Proto__Common__V1__KeyValueList empty_list =
        OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    any_t *v = clx_arena_alloc(a, sizeof(*v));
    const uint8_t *end = p + len;
    opentelemetry__proto__common__v1__any_value__init(v);
    while (p < end) { /* walked (checked) already: the framing is sound */
        uint64_t key = 0, n = 0;
        const uint8_t *data = NULL;
        if (!read_varint(&p, end, &key))
            break;
        switch (key & 7) {
        case 0:
            read_varint(&p, end, &n);
            break;
        case 1:
            for (int i = 7; i >= 0; i--)
                n = n << 8 | p[i];
            p += 8;
            break;
        case 5:
            p += 4;
            break;
        default: /* 2 */
            read_varint(&p, end, &n);
            data = p;
            p += n;
            break;
        }
        switch (key >> 3) {
        case 1:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            v->string_value = (ProtobufCBinaryData){(size_t)n, (uint8_t *)data};
            break;
        case 2:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
            v->bool_value = n != 0;
            break;
        case 3:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            v->int_value = (int64_t)n;
            break;
        case 4:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            memcpy(&v->double_value, &n, sizeof(v->double_value));
            break;
        case 5: /* the mapping reads only that it is one (a type error), never what it holds */
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
            v->array_value = &empty_array;
            break;
        case 6:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
            v->kvlist_value = &empty_list;
            break;
        case 7:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
            v->bytes_value = (ProtobufCBinaryData){(size_t)n, (uint8_t *)data};
            break;
        default:
            break;
        }
    }
    return v;
}

/* One attribute as it is walked: its key (the last given wins) and its value's bytes. */
struct attribute {
    const uint8_t *key, *value;
    size_t key_len, value_len;
    int has_value;
};

static int visit_attribute(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    struct attribute *at = obj;
    if (f->number == 1) {
        at->key = f->data;
        at->key_len = f->len;
    } else if (f->number == 2) { /* the value: checked by the walk, read once the key is known */
        at->value = f->data;
        at->value_len = f->len;
        at->has_value = 1;
    }
    return 0;
}

/* Walks an attribute and adds it to list when the mapping reads its key. */
static int attribute(struct scan *s, struct list *list, const struct field *f, unsigned depth)
{
    struct attribute at = {0};
    int rc = walk(s, f->fd->descriptor, f->data, f->data + f->len, depth, visit_attribute, &at);
    if (rc < 0 || !clx_otlp_attr_used(at.key, at.key_len))
        return rc < 0 ? rc : 1;
    kv_t *kv = clx_arena_alloc(s->arena, sizeof(*kv));
    opentelemetry__proto__common__v1__key_value__init(kv);
    kv->key = (ProtobufCBinaryData){at.key_len, (uint8_t *)at.key};
    kv->value = at.has_value ? value_of(s->arena, at.value, at.value_len) : NULL;
    push(s->arena, list, kv);
    return 1;
}

struct span_build {
    span_t *sp;
    struct list attrs;
};

static int visit_span(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    struct span_build *b = obj;
    switch (f->number) {
    case 1:
        b->sp->trace_id = (ProtobufCBinaryData){f->len, (uint8_t *)f->data};
        return 0;
    case 2:
        b->sp->span_id = (ProtobufCBinaryData){f->len, (uint8_t *)f->data};
        return 0;
    case 7:
        b->sp->start_time_unix_nano = f->value;
        return 0;
    case 8:
        b->sp->end_time_unix_nano = f->value;
        return 0;
    case 9:
        return attribute(s, &b->attrs, f, depth);
    default:
        return 0;
    }
}

static int visit_scope(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    Opentelemetry__Proto__Common__V1__InstrumentationScope *sc = obj;
    if (f->number == 1) /* a string: a C string, as protobuf-c makes it (the last given wins) */
        sc->name = clx_arena_strndup(s->arena, (const char *)f->data, f->len);
    return 0;
}

struct scope_spans_build {
    scope_spans_t *ss;
    struct list spans;
};

static int visit_scope_spans(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    struct scope_spans_build *b = obj;
    if (f->number == 2) {
        struct span_build sb = {.sp = clx_arena_alloc(s->arena, sizeof(span_t))};
        opentelemetry__proto__trace__v1__span__init(sb.sp);
        int rc = walk(s, f->fd->descriptor, f->data, f->data + f->len, depth, visit_span, &sb);
        sb.sp->attributes = (kv_t **)sb.attrs.v;
        sb.sp->n_attributes = sb.attrs.n;
        push(s->arena, &b->spans, sb.sp);
        return rc < 0 ? rc : 1;
    }
    if (f->number == 1) {
        Opentelemetry__Proto__Common__V1__InstrumentationScope *sc = clx_arena_alloc(s->arena, sizeof(*sc));
        opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
        b->ss->scope = sc;
        int rc = walk(s, f->fd->descriptor, f->data, f->data + f->len, depth, visit_scope, sc);
        return rc < 0 ? rc : 1;
    }
    return 0;
}

static int visit_resource(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    return f->number == 1 ? attribute(s, obj, f, depth) : 0;
}

struct resource_spans_build {
    resource_spans_t *rs;
    struct list scope_spans;
};

static int visit_resource_spans(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    struct resource_spans_build *b = obj;
    int rc;
    if (f->number == 2) {
        struct scope_spans_build sb = {.ss = clx_arena_alloc(s->arena, sizeof(scope_spans_t))};
        opentelemetry__proto__trace__v1__scope_spans__init(sb.ss);
        rc = walk(s, f->fd->descriptor, f->data, f->data + f->len, depth, visit_scope_spans, &sb);
        sb.ss->spans = (span_t **)sb.spans.v;
        sb.ss->n_spans = sb.spans.n;
        push(s->arena, &b->scope_spans, sb.ss);
        return rc < 0 ? rc : 1;
    }
    if (f->number == 1) {
        Opentelemetry__Proto__Resource__V1__Resource *r = clx_arena_alloc(s->arena, sizeof(*r));
        struct list attrs = {0};
        opentelemetry__proto__resource__v1__resource__init(r);
        rc = walk(s, f->fd->descriptor, f->data, f->data + f->len, depth, visit_resource, &attrs);
        r->attributes = (kv_t **)attrs.v;
        r->n_attributes = attrs.n;
        b->rs->resource = r;
        return rc < 0 ? rc : 1;
    }
    return 0;
}

static int visit_request(struct scan *s, void *obj, const struct field *f, unsigned depth)
{
    struct list *resource_spans = obj;
    if (f->number != 1)
        return 0;
    struct resource_spans_build b = {.rs = clx_arena_alloc(s->arena, sizeof(resource_spans_t))};
    opentelemetry__proto__trace__v1__resource_spans__init(b.rs);
    int rc = walk(s, f->fd->descriptor, f->data, f->data + f->len, depth, visit_resource_spans, &b);
    b.rs->scope_spans = (scope_spans_t **)b.scope_spans.v;
    b.rs->n_scope_spans = b.scope_spans.n;
    push(s->arena, resource_spans, b.rs);
    return rc < 0 ? rc : 1;
}

static int decode_protobuf(const void *body, size_t len, const clx_otlp_limits_t *lim, clx_arena_t *arena,
                           clx_otlp_request_t **out, clx_otlp_error_t *err)
{
    const ProtobufCMessageDescriptor *d =
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    struct scan s = {.lim = lim, .base = body, .err = err, .arena = arena};
    struct list resource_spans = {0};
    int rc = walk(&s, d, body, (const uint8_t *)body + len, 0, lim->usage_only ? visit_request : NULL, &resource_spans);

    if (rc != CLX_OK)
        return rc;
    if (lim->usage_only && !s.merges) { /* built as it was walked */
        clx_otlp_request_t *req = clx_arena_alloc(arena, sizeof(*req));
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
        req->resource_spans = (resource_spans_t **)resource_spans.v;
        req->n_resource_spans = resource_spans.n;
        *out = req;
        return CLX_OK;
    }
    ProtobufCAllocator alloc;
    clx_arena_allocator(arena, &alloc);
    *out = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(&alloc, len, body);
    if (*out == NULL) /* the walk refuses what protobuf-c would: not expected */
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
        return clx_otlp_fail(err, CLX_ETOOBIG, CLX_CODE_NONE, "the body has %zu bytes, more than the %zu allowed", len,
                             lim->max_body);
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
        return clx_otlp_fail(err, CLX_ETOOBIG, CLX_CODE_NONE, "the body has %zu bytes, more than the %zu allowed", len,
                             lim->max_body);
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
                             "Content-Encoding must be gzip or identity, got '%.*s'",
                             (int)(enc_len > 40 ? 40 : enc_len), enc);
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
