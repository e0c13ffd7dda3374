/*
 * otlp_json.c — OTLP/JSON read by yajl's event parser straight into the protobuf-c structs
 * the protobuf path produces, guided by the generated descriptors: no document tree.
 */
#include "otlp_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "clx_error.h"
#include "clx_text.h"

/*
 * Where OTLP/JSON departs from the proto3 JSON mapping: trace and span ids are hex, not
 * base64. And the two fields our proto declares bytes for exactness (see common.proto) are
 * plain strings in JSON. Every other bytes field is base64.
 */
enum bytes_text { AS_BASE64, AS_HEX, AS_TEXT };

static const struct bytes_field {
    const ProtobufCMessageDescriptor *msg;
    const char *name;
    enum bytes_text as;
} bytes_fields[] = {
    {&opentelemetry__proto__trace__v1__span__descriptor, "trace_id", AS_HEX},
    {&opentelemetry__proto__trace__v1__span__descriptor, "span_id", AS_HEX},
    {&opentelemetry__proto__trace__v1__span__descriptor, "parent_span_id", AS_HEX},
    {&opentelemetry__proto__common__v1__key_value__descriptor, "key", AS_TEXT},
    {&opentelemetry__proto__common__v1__any_value__descriptor, "string_value", AS_TEXT},
};

static enum bytes_text bytes_text_of(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < sizeof(bytes_fields) / sizeof(bytes_fields[0]); i++)
        if (bytes_fields[i].msg == d && strcmp(bytes_fields[i].name, f->name) == 0)
            return bytes_fields[i].as;
    return AS_BASE64;
}

/* One open JSON object: the message it fills, and the field whose value comes next. */
struct frame {
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *msg;
    const ProtobufCFieldDescriptor *field; /* NULL after an unknown key: its value is skipped */
    int in_array;                          /* field is repeated and its array is open */
    size_t cap;                            /* capacity of that repeated field's array */
};

struct reader {
    const clx_otlp_limits_t *lim;
    clx_arena_t *arena;
    clx_otlp_error_t *err;
    yajl_handle h;
    int rc;              /* first error; the parse is cancelled when set */
    size_t skip;         /* > 0: inside a skipped value, its nesting depth */
    int started, done;
    size_t messages, spans;
    struct frame *stack; /* max_depth + 1 frames */
    unsigned depth;      /* frames in use */
    clx_otlp_request_t *root;
};

static int stop(struct reader *r, int rc, clx_code_t code, const char *what, const char *field)
{
    if (r->rc == CLX_OK) {
        size_t at = r->h != NULL ? yajl_get_bytes_consumed(r->h) : 0;
        if (field != NULL)
            clx_otlp_fail(r->err, rc, code, "OTLP/JSON near byte %zu: %s %s", at, field, what);
        else
            clx_otlp_fail(r->err, rc, code, "OTLP/JSON near byte %zu: %s", at, what);
        r->rc = rc;
    }
    return 0; /* cancels the parse */
}

/* The field's name in OTLP/JSON spelling, for messages (into buf). */
static const char *json_name(const ProtobufCFieldDescriptor *f, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *s = f->name; *s != '\0' && n + 1 < size; s++) {
        if (*s == '_' && s[1] != '\0') {
            s++;
            buf[n++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
        } else {
            buf[n++] = *s;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* key (len bytes) names f: its lowerCamelCase JSON name, or its proto name. */
static int key_names(const char *key, size_t len, const ProtobufCFieldDescriptor *f)
{
    const char *s = f->name;
    size_t i = 0;

    if (strlen(s) == len && memcmp(s, key, len) == 0)
        return 1;
    for (; *s != '\0'; s++, i++) {
        char want = *s;
        if (*s == '_' && s[1] != '\0') {
            s++;
            want = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
        }
        if (i >= len || key[i] != want)
            return 0;
    }
    return i == len;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct reader *r = ctx;
    if (r->skip)
        return 1;
    struct frame *fr = &r->stack[r->depth - 1];
    fr->field = NULL;
    fr->in_array = 0;
    for (unsigned i = 0; i < fr->desc->n_fields; i++) {
        if (key_names((const char *)key, len, &fr->desc->fields[i])) {
            fr->field = &fr->desc->fields[i];
            break;
        }
    }
    return 1;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* 32-bit numbers, enums, bool (protobuf_c_boolean is an int) */
    }
}

/* Where the next value of the frame's field goes: a fresh slot of a repeated field, or the
 * field itself (marking its oneof case / presence). */
static void *slot(struct reader *r, struct frame *fr)
{
    const ProtobufCFieldDescriptor *f = fr->field;
    char *base = (char *)fr->msg;

    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *n = (size_t *)(base + f->quantifier_offset);
        void **arr = (void **)(base + f->offset);
        size_t es = elem_size(f->type);
        if (*n == fr->cap) {
            size_t cap = fr->cap < 4 ? 8 : fr->cap * 2;
            void *fresh = clx_arena_alloc(r->arena, cap * es);
            if (*n > 0)
                memcpy(fresh, *arr, *n * es);
            *arr = fresh;
            fr->cap = cap;
        }
        return (char *)*arr + (*n)++ * es;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)(base + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    return base + f->offset;
}

/* A value is arriving for the top frame's field: 1 to handle it, 0 to skip it. */
static int value_begins(struct reader *r, struct frame **frp)
{
    if (r->skip || r->depth == 0)
        return 0;
    *frp = &r->stack[r->depth - 1];
    return (*frp)->field != NULL;
}

/* The value for a non-repeated field is complete: the next one needs a key first. */
static void value_ends(struct frame *fr)
{
    if (!fr->in_array)
        fr->field = NULL;
}

static int cb_start_map(void *ctx)
{
    struct reader *r = ctx;
    struct frame *fr = NULL;
    const ProtobufCMessageDescriptor *d;
    ProtobufCMessage *m;

    if (r->skip) {
        r->skip++;
        return 1;
    }
    if (!r->started) {
        r->started = 1;
        d = &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
        m = clx_arena_alloc(r->arena, d->sizeof_message);
        d->message_init(m);
        r->root = (clx_otlp_request_t *)m;
    } else {
        if (r->done)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "the body holds more than one JSON value", NULL);
        if (!value_begins(r, &fr)) {
            r->skip = 1;
            return 1;
        }
        char name[64];
        if (fr->field->type != PROTOBUF_C_TYPE_MESSAGE)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must not be an object",
                        json_name(fr->field, name, sizeof(name)));
        if (fr->field->label == PROTOBUF_C_LABEL_REPEATED && !fr->in_array)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be an array",
                        json_name(fr->field, name, sizeof(name)));
        if (r->depth > r->lim->max_depth) /* the root is level 0, as in the protobuf check */
            return stop(r, CLX_EINVAL, CLX_CODE_TOO_DEEP, "messages are nested too deep", NULL);
        d = fr->field->descriptor;
        if (++r->messages > r->lim->max_messages) {
            clx_otlp_fail(r->err, CLX_ETOOBIG, CLX_CODE_TOO_MANY_MESSAGES,
                          "the request holds more than %zu attributes, values and spans", r->lim->max_messages);
            r->rc = CLX_ETOOBIG;
            return 0;
        }
        if (d == &opentelemetry__proto__trace__v1__span__descriptor && ++r->spans > r->lim->max_spans) {
            clx_otlp_fail(r->err, CLX_ETOOBIG, CLX_CODE_TOO_MANY_SPANS,
                          "the request holds more than %zu spans; export smaller batches", r->lim->max_spans);
            r->rc = CLX_ETOOBIG;
            return 0;
        }
        m = clx_arena_alloc(r->arena, d->sizeof_message);
        d->message_init(m);
        *(ProtobufCMessage **)slot(r, fr) = m;
    }
    struct frame *top = &r->stack[r->depth++];
    memset(top, 0, sizeof(*top));
    top->desc = d;
    top->msg = m;
    return 1;
}

static int cb_end_map(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip) {
        r->skip--;
        if (r->skip == 0 && r->depth > 0)
            value_ends(&r->stack[r->depth - 1]);
        return 1;
    }
    r->depth--;
    if (r->depth == 0)
        r->done = 1;
    else
        value_ends(&r->stack[r->depth - 1]);
    return 1;
}

static int cb_start_array(void *ctx)
{
    struct reader *r = ctx;
    struct frame *fr = NULL;

    if (r->skip) {
        r->skip++;
        return 1;
    }
    if (!r->started)
        return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "the body must be a JSON object (ExportTraceServiceRequest)",
                    NULL);
    if (!value_begins(r, &fr)) {
        r->skip = 1;
        return 1;
    }
    char name[64];
    if (fr->field->label != PROTOBUF_C_LABEL_REPEATED || fr->in_array)
        return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must not be an array",
                    json_name(fr->field, name, sizeof(name)));
    fr->in_array = 1;
    fr->cap = *(size_t *)((char *)fr->msg + fr->field->quantifier_offset); /* a repeated key appends */
    return 1;
}

static int cb_end_array(void *ctx)
{
    struct reader *r = ctx;
    if (r->skip) {
        r->skip--;
        if (r->skip == 0 && r->depth > 0)
            value_ends(&r->stack[r->depth - 1]);
        return 1;
    }
    struct frame *fr = &r->stack[r->depth - 1];
    fr->in_array = 0;
    fr->field = NULL;
    return 1;
}

/* ---- scalars ---------------------------------------------------------------------------- */

/* Decimal integer text: 0 ok, -1 not an integer, -2 out of range for [min, max]. */
static int parse_int(const char *s, size_t len, int64_t min, uint64_t max, int64_t *sv, uint64_t *uv)
{
    int neg = 0;
    size_t i = 0;
    uint64_t v = 0;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    if (neg) {
        if (min >= 0 && v != 0)
            return -2;
        if (v > (uint64_t)INT64_MAX + 1 || -(int64_t)(v - 1) - 1 < min)
            return -2;
        *sv = v == 0 ? 0 : -(int64_t)(v - 1) - 1;
        *uv = 0;
        return 0;
    }
    if (v > max)
        return -2;
    *uv = v;
    *sv = (int64_t)v;
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes bytes text into out (arena): 0 ok, -1 malformed. */
static int decode_bytes(struct reader *r, enum bytes_text as, const unsigned char *s, size_t len,
                        ProtobufCBinaryData *out)
{
    uint8_t *buf = clx_arena_alloc(r->arena, len + 1);
    size_t n = 0;

    if (as == AS_TEXT) {
        memcpy(buf, s, len);
        n = len;
    } else if (as == AS_HEX) {
        if (len % 2 != 0)
            return -1;
        for (size_t i = 0; i < len; i += 2) {
            int hi = clx_hex_value((char)s[i]), lo = clx_hex_value((char)s[i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            buf[n++] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        /* standard or URL-safe alphabet, padding optional */
        while (len > 0 && s[len - 1] == '=')
            len--;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < len; i++) {
            int v = b64val(s[i]);
            if (v < 0)
                return -1;
            acc = acc << 6 | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                buf[n++] = (uint8_t)(acc >> bits);
            }
        }
        if (bits >= 6)
            return -1; /* a lone trailing character cannot encode a byte */
    }
    buf[n] = 0;
    out->data = buf;
    out->len = n;
    return 0;
}

/* Stores one JSON scalar (text, len bytes) into the top frame's field. */
static int scalar(struct reader *r, const char *text, size_t len, int is_string, int is_number, int is_bool)
{
    struct frame *fr = NULL;
    char name[64];

    if (!r->started)
        return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "the body must be a JSON object (ExportTraceServiceRequest)",
                    NULL);
    if (!value_begins(r, &fr))
        return 1;
    const ProtobufCFieldDescriptor *f = fr->field;
    const char *fname = json_name(f, name, sizeof(name));
    if (f->label == PROTOBUF_C_LABEL_REPEATED && !fr->in_array)
        return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be an array", fname);

    int64_t sv = 0;
    uint64_t uv = 0;
    int rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        int wide = f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_SINT64 ||
                   f->type == PROTOBUF_C_TYPE_SFIXED64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
                   f->type == PROTOBUF_C_TYPE_FIXED64;
        int is_unsigned = f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32 ||
                          f->type == PROTOBUF_C_TYPE_UINT64 || f->type == PROTOBUF_C_TYPE_FIXED64;
        int64_t min = is_unsigned ? 0 : wide ? INT64_MIN : INT32_MIN;
        uint64_t max = is_unsigned ? (wide ? UINT64_MAX : UINT32_MAX) : (wide ? INT64_MAX : INT32_MAX);
        if (!is_number && !is_string)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be an integer (a number or a decimal string)",
                        fname);
        rc = parse_int(text, len, min, max, &sv, &uv);
        if (rc == -1)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be a whole number", fname);
        if (rc == -2)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "is out of range", fname);
        void *dst = slot(r, fr);
        if (!wide)
            *(int32_t *)dst = (int32_t)sv;
        else if (is_unsigned)
            *(uint64_t *)dst = uv;
        else
            *(int64_t *)dst = sv;
        break;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FLOAT: {
        char buf[64];
        double d;
        if (is_string && len == 3 && memcmp(text, "NaN", 3) == 0) {
            d = NAN;
        } else if (is_string && len == 8 && memcmp(text, "Infinity", 8) == 0) {
            d = INFINITY;
        } else if (is_string && len == 9 && memcmp(text, "-Infinity", 9) == 0) {
            d = -INFINITY;
        } else if ((is_number || is_string) && len > 0 && len < sizeof(buf)) {
            char *end;
            memcpy(buf, text, len);
            buf[len] = '\0';
            errno = 0;
            d = strtod(buf, &end);
            if (end != buf + len || buf[0] == ' ' || (errno == ERANGE && isinf(d)))
                return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be a number", fname);
        } else {
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be a number", fname);
        }
        void *dst = slot(r, fr);
        if (f->type == PROTOBUF_C_TYPE_DOUBLE)
            *(double *)dst = d;
        else
            *(float *)dst = (float)d;
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!is_bool)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be true or false", fname);
        *(protobuf_c_boolean *)slot(r, fr) = text[0] == 't';
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        /* OTLP/JSON writes enums as integers; names are accepted as proto3 JSON allows */
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        int32_t v;
        if (is_number) {
            rc = parse_int(text, len, INT32_MIN, INT32_MAX, &sv, &uv);
            if (rc != 0)
                return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be an enum number or name", fname);
            v = (int32_t)sv;
        } else if (is_string) {
            char buf[64];
            if (len >= sizeof(buf))
                return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "is not a known enum name", fname);
            memcpy(buf, text, len);
            buf[len] = '\0';
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, buf);
            if (ev == NULL)
                return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "is not a known enum name", fname);
            v = ev->value;
        } else {
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be an enum number or name", fname);
        }
        *(int32_t *)slot(r, fr) = v;
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        if (!is_string)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be a string", fname);
        /* only names and messages use string fields here; a NUL would cut them, so refuse it */
        if (memchr(text, '\0', len) != NULL)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must not contain a NUL character", fname);
        *(char **)slot(r, fr) = clx_arena_strndup(r->arena, text, len);
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        enum bytes_text as = bytes_text_of(fr->desc, f);
        if (!is_string)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be a string", fname);
        ProtobufCBinaryData bin;
        if (decode_bytes(r, as, (const unsigned char *)text, len, &bin) != 0)
            return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, as == AS_HEX ? "must be a hex string" : "must be base64",
                        fname);
        *(ProtobufCBinaryData *)slot(r, fr) = bin;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "must be an object", fname);
    }
    value_ends(fr);
    return 1;
}

static int cb_null(void *ctx)
{
    struct reader *r = ctx;
    struct frame *fr = NULL;

    if (!r->started)
        return stop(r, CLX_EINVAL, CLX_CODE_INVALID_JSON, "the body must be a JSON object (ExportTraceServiceRequest)",
                    NULL);
    if (value_begins(r, &fr))
        value_ends(fr); /* null is the default value: nothing to store */
    return 1;
}

static int cb_boolean(void *ctx, int b)
{
    return scalar(ctx, b ? "true" : "false", b ? 4 : 5, 0, 0, 1);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    return scalar(ctx, s, len, 0, 1, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return scalar(ctx, (const char *)s, len, 1, 0, 0);
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

int clx_otlp_json_decode(const char *body, size_t len, const clx_otlp_limits_t *lim, clx_arena_t *arena,
                         clx_otlp_request_t **out, clx_otlp_error_t *err)
{
    struct reader r = {.lim = lim, .arena = arena, .err = err, .rc = CLX_OK};
    yajl_status st;

    *out = NULL;
    r.stack = clx_arena_alloc(arena, (lim->max_depth + 1) * sizeof(struct frame));
    r.h = yajl_alloc(&callbacks, NULL, &r);
    if (r.h == NULL)
        return clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_JSON, "could not start the JSON parser");
    st = yajl_parse(r.h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(r.h);
    if (r.rc != CLX_OK) {
        /* a callback refused a value; its message is in err */
    } else if (st != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(r.h, 0, (const unsigned char *)body, len);
        size_t n = msg != NULL ? strlen((const char *)msg) : 0;
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_JSON, "the body is not valid JSON (%.*s) near byte %zu", (int)n,
                      msg != NULL ? (const char *)msg : "", yajl_get_bytes_consumed(r.h));
        if (msg != NULL)
            yajl_free_error(r.h, msg);
        r.rc = CLX_EINVAL;
    } else if (!r.done) {
        clx_otlp_fail(err, CLX_EINVAL, CLX_CODE_INVALID_JSON,
                      "the body must be a JSON object (ExportTraceServiceRequest)");
        r.rc = CLX_EINVAL;
    }
    yajl_free(r.h);
    if (r.rc == CLX_OK)
        *out = r.root;
    return r.rc;
}
