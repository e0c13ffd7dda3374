/*
 * test_otlp.c — the OTLP module: protobuf and JSON decoding of trace exports (hand-built
 * payloads for the edge cases, hostile bodies that must never crash), gzip with a bounded
 * output, the span -> usage mapping of each attribute convention, and the answer bodies.
 */
#include "clx_test.h"

#include <zlib.h>

#include "clx_error.h"
#include "clx_otlp.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans scope_spans_t;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans resource_spans_t;

const char *clx_otlp_attr_key(size_t i); /* otlp_map.c, for the order check */

/* ==== building requests =========================================================================== */

/* One attribute: type 's' string, 'i' int, 'd' double, 'b' bool, 'a' array of one string. */
typedef struct attr {
    const char *key;
    char type;
    const char *s;
    int64_t i;
    double d;
} attr_t;
#define S(k, v) {k, 's', v, 0, 0}
#define I(k, v) {k, 'i', NULL, v, 0}
#define D(k, v) {k, 'd', NULL, 0, v}
#define B(k, v) {k, 'b', NULL, v, 0}
#define A(k, v) {k, 'a', v, 0, 0}
#define END {NULL, 0, NULL, 0, 0}

static ProtobufCBinaryData text(const char *s)
{
    ProtobufCBinaryData b = {strlen(s), (uint8_t *)s};
    return b;
}

static kv_t **make_attrs(clx_arena_t *a, const attr_t *attrs, size_t *n)
{
    size_t count = 0;
    while (attrs != NULL && attrs[count].key != NULL)
        count++;
    kv_t **kvs = clx_arena_alloc(a, (count + 1) * sizeof(*kvs));
    for (size_t i = 0; i < count; i++) {
        kv_t *kv = clx_arena_alloc(a, sizeof(*kv));
        any_t *v = clx_arena_alloc(a, sizeof(*v));
        opentelemetry__proto__common__v1__key_value__init(kv);
        opentelemetry__proto__common__v1__any_value__init(v);
        kv->key = text(attrs[i].key);
        kv->value = v;
        switch (attrs[i].type) {
        case 's':
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            v->string_value = text(attrs[i].s);
            break;
        case 'i':
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            v->int_value = attrs[i].i;
            break;
        case 'd':
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            v->double_value = attrs[i].d;
            break;
        case 'b':
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
            v->bool_value = attrs[i].i != 0;
            break;
        case 'a': {
            Opentelemetry__Proto__Common__V1__ArrayValue *arr = clx_arena_alloc(a, sizeof(*arr));
            any_t *el = clx_arena_alloc(a, sizeof(*el));
            opentelemetry__proto__common__v1__array_value__init(arr);
            opentelemetry__proto__common__v1__any_value__init(el);
            el->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            el->string_value = text(attrs[i].s);
            arr->n_values = 1;
            arr->values = clx_arena_alloc(a, sizeof(any_t *));
            arr->values[0] = el;
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
            v->array_value = arr;
            break;
        }
        }
        kvs[i] = kv;
    }
    *n = count;
    return kvs;
}

static span_t *make_span(clx_arena_t *a, unsigned seq, const attr_t *attrs)
{
    span_t *sp = clx_arena_alloc(a, sizeof(*sp));
    opentelemetry__proto__trace__v1__span__init(sp);
    uint8_t *tid = clx_arena_zalloc(a, 16), *sid = clx_arena_zalloc(a, 8);
    tid[0] = 0xab;
    tid[15] = (uint8_t)seq;
    sid[0] = 0xcd;
    sid[6] = (uint8_t)(seq >> 8);
    sid[7] = (uint8_t)seq;
    sp->trace_id.data = tid;
    sp->trace_id.len = 16;
    sp->span_id.data = sid;
    sp->span_id.len = 8;
    sp->name = "chat";
    sp->start_time_unix_nano = 1700000000000000000ull + seq;
    sp->end_time_unix_nano = 1700000001000000000ull + seq;
    sp->attributes = make_attrs(a, attrs, &sp->n_attributes);
    return sp;
}

/* A request of one resource (attributes res) and one scope named scope holding spans. */
static clx_otlp_request_t *make_request(clx_arena_t *a, const attr_t *res, const char *scope, span_t **spans,
                                        size_t n)
{
    clx_otlp_request_t *req = clx_arena_alloc(a, sizeof(*req));
    resource_spans_t *rs = clx_arena_alloc(a, sizeof(*rs));
    scope_spans_t *ss = clx_arena_alloc(a, sizeof(*ss));
    Opentelemetry__Proto__Resource__V1__Resource *r = clx_arena_alloc(a, sizeof(*r));
    Opentelemetry__Proto__Common__V1__InstrumentationScope *sc = clx_arena_alloc(a, sizeof(*sc));
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    opentelemetry__proto__resource__v1__resource__init(r);
    opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
    r->attributes = make_attrs(a, res, &r->n_attributes);
    sc->name = (char *)(scope != NULL ? scope : "");
    ss->scope = sc;
    ss->spans = spans;
    ss->n_spans = n;
    rs->resource = r;
    rs->scope_spans = clx_arena_alloc(a, sizeof(scope_spans_t *));
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    req->resource_spans = clx_arena_alloc(a, sizeof(resource_spans_t *));
    req->resource_spans[0] = rs;
    req->n_resource_spans = 1;
    return req;
}

static uint8_t *pack(clx_arena_t *a, const clx_otlp_request_t *req, size_t *len)
{
    *len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(req);
    uint8_t *buf = clx_arena_alloc(a, *len + 1);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, buf);
    return buf;
}

/* The two mappings of one body (the door's decode and the whole one) say the same, field by field. */
static void assert_same_batch(const clx_otlp_batch_t *x, const clx_otlp_batch_t *y)
{
    assert_int_equal(x->spans, y->spans);
    assert_int_equal(x->nrecords, y->nrecords);
    assert_int_equal(x->ignored, y->ignored);
    assert_int_equal(x->rejected, y->rejected);
    assert_int_equal(x->nrejects, y->nrejects);
    for (size_t i = 0; i < x->nrecords; i++) {
        const clx_otlp_usage_t *a = &x->records[i], *b = &y->records[i];
        assert_int_equal(a->span_index, b->span_index);
        assert_string_equal(a->provider, b->provider);
        assert_string_equal(a->model, b->model);
        assert_int_equal(a->input_tokens, b->input_tokens);
        assert_int_equal(a->output_tokens, b->output_tokens);
        assert_int_equal(a->cached_tokens, b->cached_tokens);
        assert_int_equal(a->cache_write_tokens, b->cache_write_tokens);
        assert_int_equal(a->reasoning_tokens, b->reasoning_tokens);
        assert_int_equal(a->audio_input_tokens, b->audio_input_tokens);
        assert_int_equal(a->audio_output_tokens, b->audio_output_tokens);
        assert_string_equal(a->request_id, b->request_id);
        assert_int_equal(a->request_id_from_span, b->request_id_from_span);
        assert_int_equal(a->timestamp_unix_nano, b->timestamp_unix_nano);
        assert_string_equal(a->project, b->project);
        assert_string_equal(a->environment, b->environment);
        assert_string_equal(a->feature, b->feature);
        assert_string_equal(a->user_id, b->user_id);
        assert_string_equal(a->service_tier, b->service_tier);
        assert_string_equal(a->scope, b->scope);
        assert_int_equal(a->ntags, b->ntags);
        for (size_t t = 0; t < a->ntags; t++) {
            assert_string_equal(a->tags[t].key, b->tags[t].key);
            assert_string_equal(a->tags[t].value, b->tags[t].value);
        }
    }
    for (size_t i = 0; i < x->nrejects; i++) {
        assert_int_equal(x->rejects[i].span_index, y->rejects[i].span_index);
        assert_int_equal(x->rejects[i].code, y->rejects[i].code);
        assert_string_equal(x->rejects[i].attribute, y->rejects[i].attribute);
        assert_string_equal(x->rejects[i].message, y->rejects[i].message);
    }
}

/*
 * Decodes a protobuf body whole into *b, and as the door does (only what the mapping reads):
 * both must be accepted and map alike. Returns the whole decode's request.
 */
static clx_otlp_request_t *decode_both(clx_arena_t *a, const uint8_t *body, size_t len, clx_otlp_batch_t *b)
{
    clx_otlp_limits_t lean = clx_otlp_default_limits;
    clx_otlp_request_t *req, *lreq;
    clx_otlp_error_t err;
    clx_otlp_batch_t lb;
    lean.usage_only = 1;
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, &lean, a, &lreq, &err), CLX_OK);
    clx_otlp_map(req, NULL, a, b);
    clx_otlp_map(lreq, &lean, a, &lb);
    assert_same_batch(b, &lb);
    return req;
}

/* Packs a one-span request, decodes it as an exporter would send it (both ways), and maps it. */
static void map_one(clx_arena_t *a, const attr_t *res, const char *scope, const attr_t *attrs, clx_otlp_batch_t *b)
{
    span_t *sp = make_span(a, 1, attrs);
    size_t len;
    uint8_t *body = pack(a, make_request(a, res, scope, &sp, 1), &len);
    decode_both(a, body, len, b);
    assert_int_equal(b->spans, 1);
}

static const clx_otlp_usage_t *one_record(const clx_otlp_batch_t *b)
{
    if (b->nrecords != 1 && b->nrejects > 0)
        fail_msg("expected one record, got a reject: %s", b->rejects[0].message);
    assert_int_equal(b->nrecords, 1);
    return &b->records[0];
}

static void assert_rejected(const clx_otlp_batch_t *b, const char *attribute, clx_code_t code)
{
    assert_int_equal(b->nrecords, 0);
    assert_int_equal(b->rejected, 1);
    assert_int_equal(b->nrejects, 1);
    assert_string_equal(b->rejects[0].attribute, attribute);
    assert_int_equal(b->rejects[0].code, code);
    assert_non_null(strstr(b->rejects[0].message, attribute)); /* the message names it too */
}

/* A refusal in the project's vocabulary: the code, and the name callers read. */
static void assert_refused(const clx_otlp_error_t *err, clx_code_t code, const char *name)
{
    assert_int_equal(err->code, code);
    assert_string_equal(err->name, name);
}

static int decode_json(clx_arena_t *a, const char *json, clx_otlp_request_t **req, clx_otlp_error_t *err)
{
    return clx_otlp_decode(json, strlen(json), CLX_OTLP_JSON, NULL, a, req, err);
}

/* Prepends a length-delimited field header (tag, then the length of buf[*start, end)) to it:
 * builds nested protobuf from the inside out. */
static void prepend(uint8_t *buf, size_t *start, size_t end, uint8_t tag)
{
    size_t v = end - *start, h = 0;
    uint8_t var[10];
    while (v >= 0x80) {
        var[h++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    var[h++] = (uint8_t)v;
    *start -= h;
    memcpy(buf + *start, var, h);
    buf[--*start] = tag;
}

/* ==== the attribute table ========================================================================= */

static void test_attribute_table_is_sorted(void **state)
{
    size_t n = 0;
    for (; clx_otlp_attr_key(n + 1) != NULL; n++) { /* by length, then bytes */
        const char *a = clx_otlp_attr_key(n), *b = clx_otlp_attr_key(n + 1);
        if (strlen(a) > strlen(b) || (strlen(a) == strlen(b) && strcmp(a, b) >= 0))
            fail_msg("attr_defs out of order at '%s'", b);
    }
    assert_true(n > 30);
}

/* ==== media types, encodings ====================================================================== */

static void test_media_types(void **state)
{
    clx_otlp_format_t f;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_media_type("application/x-protobuf", 22, &f, &err), CLX_OK);
    assert_int_equal(f, CLX_OTLP_PROTOBUF);
    const char *j = " Application/JSON ; charset=utf-8";
    assert_int_equal(clx_otlp_media_type(j, strlen(j), &f, &err), CLX_OK);
    assert_int_equal(f, CLX_OTLP_JSON);
    assert_int_equal(clx_otlp_media_type("text/plain", 10, &f, &err), CLX_EMEDIA);
    assert_refused(&err, CLX_CODE_NONE, "unsupported_media_type");
    assert_non_null(strstr(err.message, "text/plain"));
    assert_int_equal(clx_otlp_media_type(NULL, 0, &f, &err), CLX_EMEDIA);

    clx_arena_t *a = clx_arena_create(4096);
    clx_otlp_request_t *req;
    assert_int_equal(clx_otlp_decode_http("{}", 2, "application/json", 16, "br", 2, NULL, a, &f, &req, &err),
                     CLX_EMEDIA);
    assert_refused(&err, CLX_CODE_UNSUPPORTED_ENCODING, "unsupported_encoding");
    assert_int_equal(f, CLX_OTLP_JSON); /* known before the refusal: the answer can be JSON */
    assert_int_equal(clx_otlp_decode_http("{}", 2, "application/json", 16, "identity", 8, NULL, a, &f, &req, &err),
                     CLX_OK);
    assert_int_equal(req->n_resource_spans, 0);
    clx_arena_destroy(a);
}

/* ==== protobuf: the mapping end to end ============================================================= */

static void test_semconv_span(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    static const attr_t res[] = {S("service.name", "api"), S("costlynx.project", "checkout"),
                                 S("deployment.environment.name", "prod"), S("costlynx.tags.team", "growth"), END};
    static const attr_t attrs[] = {S("gen_ai.provider.name", "openai"),
                                   S("gen_ai.request.model", "gpt-4o-mini"),
                                   S("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                                   S("gen_ai.response.id", "chatcmpl-abc"),
                                   I("gen_ai.usage.input_tokens", 1200),
                                   I("gen_ai.usage.output_tokens", 300),
                                   I("gen_ai.usage.cache_read.input_tokens", 1000),
                                   I("gen_ai.usage.reasoning.output_tokens", 100),
                                   S("costlynx.feature", "summaries"),
                                   S("costlynx.environment", "staging"),
                                   S("enduser.id", "u-1"),
                                   S("openai.response.service_tier", "flex"),
                                   S("costlynx.tags.team", "search"),
                                   S("costlynx.tags.ticket", "T-9"),
                                   A("gen_ai.response.finish_reasons", "stop"),
                                   END};
    map_one(a, res, "manual", attrs, &b);
    const clx_otlp_usage_t *u = one_record(&b);
    assert_string_equal(u->provider, "openai");
    assert_string_equal(u->model, "gpt-4o-mini-2024-07-18"); /* the answering model wins */
    assert_int_equal(u->input_tokens, 1200); /* semantic conventions: cache reads are part of input */
    assert_int_equal(u->cached_tokens, 1000);
    assert_int_equal(u->output_tokens, 300);
    assert_int_equal(u->reasoning_tokens, 100);
    assert_string_equal(u->request_id, "chatcmpl-abc");
    assert_int_equal(u->request_id_from_span, 0);
    assert_true(u->timestamp_unix_nano == 1700000001000000001ull); /* the end time */
    assert_string_equal(u->project, "checkout");    /* resource */
    assert_string_equal(u->environment, "staging"); /* span beats resource */
    assert_string_equal(u->feature, "summaries");
    assert_string_equal(u->user_id, "u-1");
    assert_string_equal(u->service_tier, "flex");
    assert_string_equal(u->scope, "manual");
    assert_int_equal(u->ntags, 2);
    assert_string_equal(u->tags[0].key, "team");
    assert_string_equal(u->tags[0].value, "search"); /* the span's value replaces the resource's */
    assert_string_equal(u->tags[1].key, "ticket");
    assert_string_equal(u->tags[1].value, "T-9");

    Costlynx__V1__UsageEvent ev;
    clx_otlp_usage_to_event(u, a, &ev);
    assert_string_equal(ev.provider, "openai");
    assert_string_equal(ev.model, "gpt-4o-mini-2024-07-18");
    assert_int_equal(ev.input_tokens, 1200);
    assert_int_equal(ev.output_tokens, 300);
    assert_int_equal(ev.cached_tokens, 1000);
    assert_int_equal(ev.cache_write_tokens, 0);
    assert_string_equal(ev.request_id, "chatcmpl-abc");
    assert_string_equal(ev.project, "checkout");
    assert_string_equal(ev.environment, "staging");
    assert_string_equal(ev.feature, "summaries");
    assert_int_equal(ev.reasoning_tokens, 100);
    assert_string_equal(ev.user_id, "u-1");
    assert_string_equal(ev.service_tier, "flex");
    assert_non_null(ev.timestamp); /* the span's end, to the nanosecond */
    assert_int_equal(ev.timestamp->seconds, 1700000001);
    assert_int_equal(ev.timestamp->nanos, 1);
    assert_int_equal(ev.n_tags, 2);
    assert_string_equal(ev.tags[0]->key, "team");
    assert_string_equal(ev.tags[0]->value, "search");
    assert_string_equal(ev.tags[1]->key, "ticket");
    assert_string_equal(ev.tags[1]->value, "T-9");
    assert_int_equal(ev.estimated_cost_case, COSTLYNX__V1__USAGE_EVENT__ESTIMATED_COST__NOT_SET);
    clx_arena_destroy(a);
}

static void test_non_genai_spans_are_ignored(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    static const attr_t http[] = {S("http.request.method", "GET"), I("http.response.status_code", 200), END};
    static const attr_t model_only[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "m"), END};
    static const attr_t usage[] = {S("gen_ai.system", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                   I("gen_ai.usage.prompt_tokens", 10), I("gen_ai.usage.completion_tokens", 5), END};
    span_t *spans[] = {make_span(a, 1, http), make_span(a, 2, model_only), make_span(a, 3, usage),
                       make_span(a, 4, NULL)};
    clx_otlp_batch_t b;
    clx_otlp_map(make_request(a, NULL, NULL, spans, 4), NULL, a, &b);
    assert_int_equal(b.spans, 4);
    assert_int_equal(b.ignored, 3);
    assert_int_equal(b.rejected, 0);
    assert_int_equal(b.nrecords, 1);
    assert_int_equal(b.records[0].span_index, 2);
    assert_int_equal(b.records[0].input_tokens, 10); /* the deprecated names still count */
    assert_int_equal(b.records[0].output_tokens, 5);
    /* no gen_ai.response.id: the trace and span ids, in hex */
    assert_string_equal(b.records[0].request_id, "ab000000000000000000000000000003-cd00000000000003");
    assert_int_equal(b.records[0].request_id_from_span, 1);
    clx_arena_destroy(a);
}

static void test_missing_model_and_provider(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    static const attr_t no_model[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.response.id", "r1"),
                                      I("gen_ai.usage.input_tokens", 10), END};
    static const attr_t no_provider[] = {S("gen_ai.request.model", "gpt-4o"), I("gen_ai.usage.output_tokens", 1),
                                         END};
    static const attr_t empty_model[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.response.model", ""),
                                         S("gen_ai.request.model", "gpt-4o"), I("gen_ai.usage.input_tokens", 3),
                                         END};
    static const attr_t ok[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                I("gen_ai.usage.input_tokens", 7), END};
    span_t *spans[] = {make_span(a, 1, no_model), make_span(a, 2, no_provider), make_span(a, 3, empty_model),
                       make_span(a, 4, ok)};
    clx_otlp_batch_t b;
    clx_otlp_map(make_request(a, NULL, NULL, spans, 4), NULL, a, &b);
    assert_int_equal(b.rejected, 2);
    assert_int_equal(b.nrejects, 2);
    assert_int_equal(b.rejects[0].span_index, 0);
    assert_string_equal(b.rejects[0].attribute, "gen_ai.response.model");
    assert_int_equal(b.rejects[0].code, CLX_CODE_MISSING_FIELD);
    assert_string_equal(b.rejects[0].request_id, "r1");
    assert_non_null(strstr(b.rejects[0].message, "gen_ai.request.model"));
    assert_int_equal(b.rejects[1].span_index, 1);
    assert_string_equal(b.rejects[1].attribute, "gen_ai.provider.name");
    /* an empty answering model falls back to the requested one; the valid neighbours stay */
    assert_int_equal(b.nrecords, 2);
    assert_string_equal(b.records[0].model, "gpt-4o");
    assert_int_equal(b.records[1].input_tokens, 7);
    clx_arena_destroy(a);
}

static void test_duplicate_spans_keep_one_request_id(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    static const attr_t attrs[] = {S("gen_ai.provider.name", "anthropic"), S("gen_ai.request.model", "claude"),
                                   I("gen_ai.usage.input_tokens", 10), I("gen_ai.usage.output_tokens", 2), END};
    span_t *sp = make_span(a, 9, attrs);
    span_t *spans[] = {sp, sp};
    size_t len;
    uint8_t *body = pack(a, make_request(a, NULL, NULL, spans, 2), &len);
    clx_otlp_request_t *req, *again;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);
    clx_otlp_batch_t b, b2;
    clx_otlp_map(req, NULL, a, &b);
    /* both become records with one request id: the pipeline stores one, skips the other */
    assert_int_equal(b.nrecords, 2);
    assert_string_equal(b.records[0].request_id, b.records[1].request_id);
    /* a re-export of the same body maps to the same ids (dedup across retries) */
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &again, &err), CLX_OK);
    clx_otlp_map(again, NULL, a, &b2);
    assert_string_equal(b2.records[0].request_id, b.records[0].request_id);
    clx_arena_destroy(a);
}

static void test_request_id_needs_an_id(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    static const attr_t attrs[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                   I("gen_ai.usage.input_tokens", 1), END};
    span_t *sp = make_span(a, 1, attrs);
    memset(sp->trace_id.data, 0, 16); /* all-zero trace id: invalid */
    clx_otlp_batch_t b;
    clx_otlp_map(make_request(a, NULL, NULL, &sp, 1), NULL, a, &b);
    assert_rejected(&b, "gen_ai.response.id", CLX_CODE_MISSING_FIELD);
    sp->trace_id.len = 15; /* wrong length: invalid too */
    sp->trace_id.data[0] = 1;
    clx_otlp_map(make_request(a, NULL, NULL, &sp, 1), NULL, a, &b);
    assert_rejected(&b, "gen_ai.response.id", CLX_CODE_MISSING_FIELD);
    clx_arena_destroy(a);
}

static void test_timestamp_falls_back_to_start(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    static const attr_t attrs[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                   I("gen_ai.usage.input_tokens", 1), END};
    span_t *sp = make_span(a, 1, attrs);
    sp->end_time_unix_nano = 0;
    clx_otlp_batch_t b;
    clx_otlp_map(make_request(a, NULL, NULL, &sp, 1), NULL, a, &b);
    assert_true(one_record(&b)->timestamp_unix_nano == 1700000000000000001ull);
    clx_arena_destroy(a);
}

/* ==== the conventions: cache and reasoning tokens are parts of the totals ========================== */

static void test_anthropic_counts_cache_beside_input(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    /* Anthropic's own numbers, copied as they come: cache larger than input says "beside" */
    static const attr_t raw[] = {S("gen_ai.provider.name", "anthropic"), S("gen_ai.request.model", "claude"),
                                 I("gen_ai.usage.input_tokens", 30), I("gen_ai.usage.cache_read.input_tokens", 1800),
                                 I("gen_ai.usage.cache_creation.input_tokens", 200), I("gen_ai.usage.output_tokens", 5),
                                 END};
    map_one(a, NULL, NULL, raw, &b);
    const clx_otlp_usage_t *u = one_record(&b);
    assert_int_equal(u->input_tokens, 2030);
    assert_int_equal(u->cached_tokens, 1800);
    assert_int_equal(u->cache_write_tokens, 200);

    /* an instrumentation following the conventions (input includes the cache) is left alone */
    static const attr_t conv[] = {S("gen_ai.provider.name", "anthropic"), S("gen_ai.request.model", "claude"),
                                  I("gen_ai.usage.input_tokens", 2030), I("gen_ai.usage.cache_read.input_tokens", 1800),
                                  I("gen_ai.usage.cache_creation.input_tokens", 200), END};
    map_one(a, NULL, NULL, conv, &b);
    assert_int_equal(one_record(&b)->input_tokens, 2030);

    /* OpenLLMetry's JS instrumentation always copies Anthropic's input_tokens: even a cache
     * smaller than the input is beside it (known by the instrumentation scope) */
    static const attr_t small[] = {S("gen_ai.provider.name", "anthropic"), S("gen_ai.request.model", "claude"),
                                   I("gen_ai.usage.input_tokens", 500), I("gen_ai.usage.cache_read.input_tokens", 100),
                                   I("gen_ai.usage.output_tokens", 5), I("gen_ai.usage.total_tokens", 505), END};
    map_one(a, NULL, "@traceloop/instrumentation-anthropic", small, &b);
    assert_int_equal(one_record(&b)->input_tokens, 600);
    assert_int_equal(one_record(&b)->cached_tokens, 100);
    map_one(a, NULL, "some-other-instrumentation", small, &b);
    assert_int_equal(one_record(&b)->input_tokens, 500); /* the total agrees with "inside" */
    clx_arena_destroy(a);
}

static void test_total_tokens_settle_the_convention(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    /* input + cache + output == total: the cache was beside the input */
    static const attr_t beside[] = {S("gen_ai.system", "aws.bedrock"), S("gen_ai.request.model", "anthropic.claude"),
                                    I("gen_ai.usage.input_tokens", 100), I("gen_ai.usage.cache_read_input_tokens", 50),
                                    I("gen_ai.usage.output_tokens", 10), I("gen_ai.usage.total_tokens", 160), END};
    map_one(a, NULL, NULL, beside, &b);
    assert_string_equal(one_record(&b)->provider, "bedrock");
    assert_int_equal(one_record(&b)->input_tokens, 150);
    assert_int_equal(one_record(&b)->cached_tokens, 50);
    /* Gemini's thoughts beside candidates: prompt + candidates + thoughts == total */
    static const attr_t gemini[] = {S("gen_ai.provider.name", "gcp.gemini"), S("gen_ai.response.model", "gemini-2.5-pro"),
                                    I("gen_ai.usage.input_tokens", 100), I("gen_ai.usage.output_tokens", 50),
                                    I("gen_ai.usage.reasoning_tokens", 30), I("gen_ai.usage.total_tokens", 180), END};
    map_one(a, NULL, NULL, gemini, &b);
    assert_string_equal(one_record(&b)->provider, "google");
    assert_int_equal(one_record(&b)->output_tokens, 80);
    assert_int_equal(one_record(&b)->reasoning_tokens, 30);
    /* OpenAI: reasoning inside completion tokens, total says so */
    static const attr_t o1[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.response.model", "o3"),
                                I("gen_ai.usage.input_tokens", 100), I("gen_ai.usage.output_tokens", 50),
                                I("gen_ai.usage.reasoning.output_tokens", 30), I("gen_ai.usage.total_tokens", 150), END};
    map_one(a, NULL, NULL, o1, &b);
    assert_int_equal(one_record(&b)->output_tokens, 50);
    clx_arena_destroy(a);
}

static void test_parts_larger_than_totals_are_rejected(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    /* OpenAI never reports cached tokens beside prompt tokens: more cache than input is wrong */
    static const attr_t cache[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                   I("gen_ai.usage.input_tokens", 100), I("gen_ai.usage.cache_read.input_tokens", 500),
                                   END};
    map_one(a, NULL, NULL, cache, &b);
    assert_rejected(&b, "gen_ai.usage.cache_read.input_tokens", CLX_CODE_INVALID_VALUE);
    assert_non_null(strstr(b.rejects[0].message, "gen_ai.usage.input_tokens (100)"));
    static const attr_t reasoning[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "o3"),
                                       I("gen_ai.usage.output_tokens", 10),
                                       I("gen_ai.usage.reasoning.output_tokens", 50), END};
    map_one(a, NULL, NULL, reasoning, &b);
    assert_rejected(&b, "gen_ai.usage.reasoning.output_tokens", CLX_CODE_INVALID_VALUE);
    static const attr_t only_total[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                        I("llm.usage.total_tokens", 10), END};
    map_one(a, NULL, NULL, only_total, &b);
    assert_rejected(&b, "gen_ai.usage.input_tokens", CLX_CODE_MISSING_FIELD);
    assert_non_null(strstr(b.rejects[0].message, "llm.usage.total_tokens"));
    static const attr_t overflow[] = {S("gen_ai.provider.name", "anthropic"), S("gen_ai.request.model", "claude"),
                                      I("gen_ai.usage.input_tokens", 1), I("gen_ai.usage.cache_read.input_tokens", INT64_MAX),
                                      END};
    map_one(a, NULL, NULL, overflow, &b);
    assert_rejected(&b, "gen_ai.usage.input_tokens", CLX_CODE_INVALID_VALUE);
    clx_arena_destroy(a);
}

static void test_other_conventions(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    /* OpenInference: llm.* names, prompt includes the cache details */
    static const attr_t oi[] = {S("llm.provider", "azure"), S("llm.model_name", "my-gpt4o-deployment"),
                                I("llm.token_count.prompt", 900), I("llm.token_count.completion", 100),
                                I("llm.token_count.total", 1000), I("llm.token_count.prompt_details.cache_read", 600),
                                I("llm.token_count.prompt_details.audio", 20),
                                I("llm.token_count.completion_details.reasoning", 40), S("user.id", "u-7"), END};
    map_one(a, NULL, NULL, oi, &b);
    const clx_otlp_usage_t *u = one_record(&b);
    assert_string_equal(u->provider, "azure_openai");
    assert_string_equal(u->model, "my-gpt4o-deployment");
    assert_int_equal(u->input_tokens, 900);
    assert_int_equal(u->cached_tokens, 600);
    assert_int_equal(u->audio_input_tokens, 20);
    assert_int_equal(u->reasoning_tokens, 40);
    assert_string_equal(u->user_id, "u-7");
    /* older OpenLLMetry: llm.usage.*; the current name wins where both are present */
    static const attr_t old[] = {S("gen_ai.system", "OpenAI"), S("gen_ai.request.model", "gpt-4"),
                                 I("llm.usage.prompt_tokens", 11), I("gen_ai.usage.input_tokens", 12),
                                 I("llm.usage.completion_tokens", 3), END};
    map_one(a, NULL, NULL, old, &b);
    assert_string_equal(one_record(&b)->provider, "openai"); /* names match without regard to case */
    assert_int_equal(one_record(&b)->input_tokens, 12);
    assert_int_equal(one_record(&b)->output_tokens, 3);

    /* provider names: OTel values, old gen_ai.system values, Vercel AI SDK's "x.y" names */
    static const struct {
        const char *sent, *ours;
    } providers[] = {
        {"gcp.vertex_ai", "google"}, {"Google", "google"},         {"azure.ai.openai", "azure_openai"},
        {"az.ai.openai", "azure_openai"}, {"openai.chat", "openai"}, {"anthropic.messages", "anthropic"},
        {"google.generative-ai", "google"}, {"mistral_ai", "mistral"}, {"x_ai", "xai"},
        {"groq", "groq"},             {"ibm.watsonx.ai", "ibm.watsonx.ai"}, {"azure.ai.inference", "azure.ai.inference"},
    };
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
        attr_t attrs[] = {S("gen_ai.provider.name", providers[i].sent), S("gen_ai.request.model", "m"),
                          I("gen_ai.usage.input_tokens", 1), END};
        map_one(a, NULL, NULL, attrs, &b);
        if (strcmp(one_record(&b)->provider, providers[i].ours) != 0)
            fail_msg("provider '%s' mapped to '%s', want '%s'", providers[i].sent, one_record(&b)->provider,
                     providers[i].ours);
    }
    clx_arena_destroy(a);
}

static void test_wrong_types_in_attributes(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    static const struct {
        attr_t bad;
        clx_code_t code;
    } cases[] = {
        {B("gen_ai.usage.input_tokens", 1), CLX_CODE_INVALID_TYPE},
        {A("gen_ai.usage.input_tokens", "12"), CLX_CODE_INVALID_TYPE},
        {S("gen_ai.usage.input_tokens", "12a"), CLX_CODE_INVALID_VALUE},
        {S("gen_ai.usage.input_tokens", "99999999999999999999"), CLX_CODE_INVALID_VALUE},
        {I("gen_ai.usage.input_tokens", -5), CLX_CODE_INVALID_VALUE},
        {D("gen_ai.usage.input_tokens", 12.5), CLX_CODE_INVALID_VALUE},
        {D("gen_ai.usage.input_tokens", 1e300), CLX_CODE_INVALID_VALUE},
        {I("gen_ai.request.model", 4), CLX_CODE_INVALID_TYPE},
        {B("costlynx.project", 1), CLX_CODE_INVALID_TYPE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        attr_t attrs[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.response.model", "gpt-4o"),
                          I("gen_ai.usage.output_tokens", 1), cases[i].bad, END};
        map_one(a, NULL, NULL, attrs, &b);
        if (b.nrejects != 1 || b.rejects[0].code != cases[i].code ||
            strcmp(b.rejects[0].attribute, cases[i].bad.key) != 0)
            fail_msg("case %zu: want %s on %s, got %zu rejects (%s)", i, clx_code_name(cases[i].code), cases[i].bad.key,
                     b.nrejects, b.nrejects ? b.rejects[0].message : "-");
    }
    /* whole numbers written as doubles (JavaScript) and digit strings are token counts */
    static const attr_t lenient[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                     D("gen_ai.usage.input_tokens", 12.0), S("gen_ai.usage.output_tokens", "7"), END};
    map_one(a, NULL, NULL, lenient, &b);
    assert_int_equal(one_record(&b)->input_tokens, 12);
    assert_int_equal(one_record(&b)->output_tokens, 7);
    clx_arena_destroy(a);
}

static void test_kept_strings_are_bounded_and_exact(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_batch_t b;
    char *long_model = clx_arena_alloc(a, 2000);
    memset(long_model, 'm', 1999);
    long_model[1999] = '\0';
    attr_t too_long[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", long_model),
                         I("gen_ai.usage.input_tokens", 1), END};
    map_one(a, NULL, NULL, too_long, &b);
    assert_rejected(&b, "gen_ai.request.model", CLX_CODE_TOO_LONG);

    /* a NUL inside an id would cut it short (and merge two ids): refused, not truncated */
    static const attr_t attrs[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o"),
                                   S("gen_ai.response.id", "chatcmpl-XY"), I("gen_ai.usage.input_tokens", 1), END};
    span_t *sp = make_span(a, 1, attrs);
    uint8_t *nul_id = clx_arena_alloc(a, 11);
    memcpy(nul_id, "chatcmpl\0XY", 11);
    sp->attributes[2]->value->string_value.data = nul_id;
    sp->attributes[2]->value->string_value.len = 11;
    size_t len;
    uint8_t *body = pack(a, make_request(a, NULL, NULL, &sp, 1), &len);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);
    clx_otlp_map(req, NULL, a, &b);
    assert_rejected(&b, "gen_ai.response.id", CLX_CODE_INVALID_VALUE);

    /* more tags than an event may carry (16): rejected, not silently cut */
    attr_t many[40];
    size_t n = 0;
    many[n++] = (attr_t)S("gen_ai.provider.name", "openai");
    many[n++] = (attr_t)S("gen_ai.request.model", "gpt-4o");
    many[n++] = (attr_t)I("gen_ai.usage.input_tokens", 1);
    for (int i = 0; i < 17; i++)
        many[n++] = (attr_t)S(clx_arena_printf(a, "costlynx.tags.t%d", i), "v");
    many[n] = (attr_t)END;
    map_one(a, NULL, NULL, many, &b);
    assert_rejected(&b, "costlynx.tags.*", CLX_CODE_INVALID_VALUE);
    clx_arena_destroy(a);
}

/* ==== JSON ======================================================================================== */

static const char json_request[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"costlynx.project\",\"value\":{\"stringValue\":\"checkout\"}},"
    "{\"key\":\"deployment.environment\",\"value\":{\"stringValue\":\"dev\"}}],\"droppedAttributesCount\":0},"
    "\"schemaUrl\":\"https://example.com/schema\",\"somethingNew\":{\"nested\":[1,{\"a\":[]}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"my.lib\",\"version\":\"1.0\"},\"spans\":["
    /* span 0: ints as strings and numbers, uppercase hex ids, enum by name */
    "{\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\",\"parentSpanId\":\"\","
    "\"name\":\"chat\",\"kind\":\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":\"1700000000000000000\","
    "\"endTimeUnixNano\":1700000000500000000,\"attributes\":["
    "{\"key\":\"gen_ai.provider.name\",\"value\":{\"stringValue\":\"openai\"}},"
    "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o-mini\"}},"
    "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"1200\"}},"
    "{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":300}},"
    "{\"key\":\"gen_ai.usage.cache_read.input_tokens\",\"value\":{\"doubleValue\":1000}},"
    "{\"key\":\"tags\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"kvlistValue\":{\"values\":"
    "[{\"key\":\"k\",\"value\":{\"boolValue\":true}}]}}]}}},"
    "{\"key\":\"blob\",\"value\":{\"bytesValue\":\"aGVsbG8=\"}},"
    "{\"key\":\"nothing\",\"value\":{}},"
    "{\"key\":\"nulled\",\"value\":null}],"
    "\"events\":[{\"name\":\"e\",\"attributes\":[]}],\"status\":{\"code\":2,\"message\":\"boom\"},\"flags\":257},"
    /* span 1: proto field names, as proto3 JSON parsers accept */
    "{\"trace_id\":\"5b8efff798038103d269b633813fc60c\",\"span_id\":\"eee19b7ec3c1b175\",\"name\":\"http\","
    "\"end_time_unix_nano\":\"1\",\"attributes\":[{\"key\":\"http.method\",\"value\":{\"string_value\":\"GET\"}}]}"
    "]}]}]}";

static void test_json_request(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    assert_int_equal(decode_json(a, json_request, &req, &err), CLX_OK);
    assert_int_equal(req->n_resource_spans, 1);
    const scope_spans_t *ss = req->resource_spans[0]->scope_spans[0];
    assert_string_equal(ss->scope->name, "my.lib");
    assert_int_equal(ss->n_spans, 2);
    const span_t *sp = ss->spans[0];
    assert_int_equal(sp->trace_id.len, 16);
    assert_int_equal(sp->trace_id.data[0], 0x5b);
    assert_int_equal(sp->span_id.len, 8);
    assert_int_equal(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
    assert_true(sp->start_time_unix_nano == 1700000000000000000ull);
    assert_true(sp->end_time_unix_nano == 1700000000500000000ull);
    assert_int_equal(sp->status->code, 2);
    assert_int_equal(sp->n_attributes, 9);
    const any_t *arr = sp->attributes[5]->value;
    assert_int_equal(arr->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    assert_int_equal(arr->array_value->n_values, 2);
    assert_int_equal(arr->array_value->values[1]->kvlist_value->values[0]->value->bool_value, 1);
    assert_int_equal(sp->attributes[6]->value->bytes_value.len, 5);
    assert_memory_equal(sp->attributes[6]->value->bytes_value.data, "hello", 5);
    assert_true(ss->spans[1]->end_time_unix_nano == 1);

    clx_otlp_batch_t b;
    clx_otlp_map(req, NULL, a, &b);
    assert_int_equal(b.ignored, 1);
    const clx_otlp_usage_t *u = one_record(&b);
    assert_int_equal(u->input_tokens, 1200);
    assert_int_equal(u->output_tokens, 300);
    assert_int_equal(u->cached_tokens, 1000);
    assert_string_equal(u->request_id, "5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174");
    assert_string_equal(u->project, "checkout");
    assert_string_equal(u->environment, "dev"); /* deployment.environment, the oldest name */
    clx_arena_destroy(a);
}

static void test_json_errors(void **state)
{
    static const struct {
        const char *body;
        int rc;
        clx_code_t code;
        const char *says;
    } cases[] = {
        {"", CLX_EINVAL, CLX_CODE_INVALID_JSON, "not valid JSON"},
        {"{\"resourceSpans\":[", CLX_EINVAL, CLX_CODE_INVALID_JSON, "not valid JSON"},
        {"[]", CLX_EINVAL, CLX_CODE_INVALID_JSON, "JSON object"},
        {"42", CLX_EINVAL, CLX_CODE_INVALID_JSON, "JSON object"},
        {"{} {}", CLX_EINVAL, CLX_CODE_INVALID_JSON, "JSON"},
        {"{\"resourceSpans\":{}}", CLX_EINVAL, CLX_CODE_INVALID_JSON, "resourceSpans must be an array"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"xyz\"}]}]}]}", CLX_EINVAL,
         CLX_CODE_INVALID_JSON, "traceId must be a hex string"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"99999999999999999999\"}]}]}]}",
         CLX_EINVAL, CLX_CODE_INVALID_JSON, "startTimeUnixNano is out of range"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":-1}]}]}]}", CLX_EINVAL,
         CLX_CODE_INVALID_JSON, "out of range"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":"
         "\"1e3\"}}]}]}]}]}",
         CLX_EINVAL, CLX_CODE_INVALID_JSON, "intValue must be a whole number"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":"
         "9223372036854775808}}]}]}]}]}",
         CLX_EINVAL, CLX_CODE_INVALID_JSON, "out of range"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":7}]}]}]}", CLX_EINVAL, CLX_CODE_INVALID_JSON,
         "name must be a string"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"SPAN_KIND_NOPE\"}]}]}]}", CLX_EINVAL,
         CLX_CODE_INVALID_JSON, "kind is not a known enum name"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":"
         "\"!!\"}}]}]}]}]}",
         CLX_EINVAL, CLX_CODE_INVALID_JSON, "bytesValue must be base64"},
        {"{\"resourceSpans\":[[]]}", CLX_EINVAL, CLX_CODE_INVALID_JSON, "must not be an array"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"a\\u0000b\"}]}]}]}", CLX_EINVAL,
         CLX_CODE_INVALID_JSON, "NUL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clx_arena_t *a = clx_arena_create(4096);
        clx_otlp_request_t *req = (clx_otlp_request_t *)1;
        clx_otlp_error_t err = {0};
        int rc = decode_json(a, cases[i].body, &req, &err);
        if (rc != cases[i].rc || err.code != cases[i].code || err.name == NULL ||
            strcmp(err.name, "invalid_json") != 0 || strstr(err.message, cases[i].says) == NULL)
            fail_msg("case %zu (%s): rc %d code %s message '%s'", i, cases[i].body, rc, err.name ? err.name : "-",
                     err.message);
        assert_null(req);
        clx_arena_destroy(a);
    }
}

/* ==== limits: spans, messages, depth, body ========================================================= */

static void test_ten_thousand_spans(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 20);
    static const attr_t attrs[] = {S("gen_ai.provider.name", "openai"), S("gen_ai.request.model", "gpt-4o-mini"),
                                   I("gen_ai.usage.input_tokens", 10), I("gen_ai.usage.output_tokens", 2), END};
    size_t n = clx_otlp_default_limits.max_spans;
    span_t **spans = clx_arena_alloc(a, (n + 1) * sizeof(*spans));
    for (size_t i = 0; i <= n; i++)
        spans[i] = make_span(a, (unsigned)i, attrs);
    size_t len;
    uint8_t *body = pack(a, make_request(a, NULL, NULL, spans, n), &len);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);
    clx_otlp_batch_t b;
    clx_otlp_map(req, NULL, a, &b);
    assert_int_equal(b.nrecords, n);
    assert_int_equal(b.records[n - 1].span_index, n - 1);

    body = pack(a, make_request(a, NULL, NULL, spans, n + 1), &len);
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_ETOOBIG);
    assert_refused(&err, CLX_CODE_TOO_MANY_SPANS, "too_many_spans");
    assert_null(req);

    /* the same in JSON */
    size_t cap = (n + 2) * 64 + 128, used = 0;
    char *json = clx_arena_alloc(a, cap);
    used += (size_t)sprintf(json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
    for (size_t i = 0; i <= n; i++)
        used += (size_t)sprintf(json + used, "%s{\"name\":\"s\",\"attributes\":[]}", i ? "," : "");
    strcpy(json + used, "]}]}]}");
    assert_int_equal(decode_json(a, json, &req, &err), CLX_ETOOBIG);
    assert_refused(&err, CLX_CODE_TOO_MANY_SPANS, "too_many_spans");
    clx_arena_destroy(a);
}

static void test_too_many_messages(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 20);
    /* a span of 600,000 empty attributes: 2 bytes each on the wire, ~100 bytes each unpacked */
    size_t n = 600000, cap = 2 * n + 64, start = cap - 2 * n;
    uint8_t *buf = clx_arena_alloc(a, cap);
    for (size_t i = 0; i < n; i++) {
        buf[start + 2 * i] = 0x4a; /* Span.attributes (9), length-delimited */
        buf[start + 2 * i + 1] = 0x00;
    }
    prepend(buf, &start, cap, 0x12); /* ScopeSpans.spans */
    prepend(buf, &start, cap, 0x12); /* ResourceSpans.scope_spans */
    prepend(buf, &start, cap, 0x0a); /* ExportTraceServiceRequest.resource_spans */
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_decode(buf + start, cap - start, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_ETOOBIG);
    assert_refused(&err, CLX_CODE_TOO_MANY_MESSAGES, "too_many_messages");
    /* within a raised limit the same body decodes */
    clx_otlp_limits_t lim = clx_otlp_default_limits;
    lim.max_messages = 1000000;
    assert_int_equal(clx_otlp_decode(buf + start, cap - start, CLX_OTLP_PROTOBUF, &lim, a, &req, &err), CLX_OK);
    assert_int_equal(req->resource_spans[0]->scope_spans[0]->spans[0]->n_attributes, n);
    clx_arena_destroy(a);
}

static void test_nesting_bombs(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 20);
    /* ArrayValue.values (1) > AnyValue.array_value (5) > ArrayValue ... 200,000 deep, built
     * from the inside out: protobuf-c alone would recurse until the stack ran out */
    size_t depth = 200000, cap = depth * 12 + 64, start = cap;
    uint8_t *buf = clx_arena_alloc(a, cap);
    for (size_t i = 0; i < depth; i++)
        prepend(buf, &start, cap, i % 2 == 0 ? 0x0a : 0x2a);
    /* the chain is an AnyValue: under KeyValue.value, Span.attributes, ScopeSpans.spans,
     * ResourceSpans.scope_spans, ExportTraceServiceRequest.resource_spans */
    static const uint8_t wrap[] = {0x12, 0x4a, 0x12, 0x12, 0x0a};
    for (size_t k = 0; k < sizeof(wrap); k++)
        prepend(buf, &start, cap, wrap[k]);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_decode(buf + start, cap - start, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_EINVAL);
    assert_refused(&err, CLX_CODE_TOO_DEEP, "too_deep");
    /* a shallow attribute array (depth 10) is fine */
    start = cap;
    for (size_t i = 0; i < 8; i++)
        prepend(buf, &start, cap, i % 2 == 0 ? 0x0a : 0x2a);
    for (size_t k = 0; k < sizeof(wrap); k++)
        prepend(buf, &start, cap, wrap[k]);
    assert_int_equal(clx_otlp_decode(buf + start, cap - start, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);

    /* JSON: 100 nested arrayValues */
    char *json = clx_arena_alloc(a, 100 * 64 + 256);
    size_t n = (size_t)sprintf(json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":"
                                     "\"k\",\"value\":");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(json + n, "{\"arrayValue\":{\"values\":[");
    n += (size_t)sprintf(json + n, "{}");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(json + n, "]}}");
    strcpy(json + n, "}]}]}]}]}");
    assert_int_equal(decode_json(a, json, &req, &err), CLX_EINVAL);
    assert_refused(&err, CLX_CODE_TOO_DEEP, "too_deep");
    /* deep JSON inside an unknown field is skipped by a counter, not a frame per level */
    n = (size_t)sprintf(json, "{\"unknown\":");
    for (int i = 0; i < 100; i++)
        json[n++] = '[';
    for (int i = 0; i < 100; i++)
        json[n++] = ']';
    strcpy(json + n, ",\"resourceSpans\":[]}");
    assert_int_equal(decode_json(a, json, &req, &err), CLX_OK);
    clx_arena_destroy(a);
}

static void test_body_limit(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    clx_otlp_limits_t lim = clx_otlp_default_limits;
    lim.max_body = 10;
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    assert_int_equal(clx_otlp_decode("{\"resourceSpans\":[]}", 20, CLX_OTLP_JSON, &lim, a, &req, &err),
                     CLX_ETOOBIG);
    assert_refused(&err, CLX_CODE_NONE, "payload_too_large");
    assert_int_equal(clx_err_http_status(CLX_ETOOBIG), 413);
    clx_arena_destroy(a);
}

/* ==== garbage and truncation ======================================================================== */

static uint8_t *valid_body(clx_arena_t *a, size_t *len)
{
    static const attr_t res[] = {S("costlynx.project", "p"), END};
    static const attr_t attrs[] = {S("gen_ai.provider.name", "anthropic"), S("gen_ai.request.model", "claude"),
                                   S("gen_ai.response.id", "msg_1"), I("gen_ai.usage.input_tokens", 30),
                                   I("gen_ai.usage.cache_read.input_tokens", 1800), D("gen_ai.usage.output_tokens", 5),
                                   A("gen_ai.response.finish_reasons", "stop"), END};
    span_t *spans[] = {make_span(a, 1, attrs), make_span(a, 2, attrs)};
    return pack(a, make_request(a, res, "scope", spans, 2), len);
}

static void test_garbage_bytes(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    static const char *const garbage[] = {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "\x0b", "\x0a\x05\x01",
                                          "GET / HTTP/1.1\r\n", "\x0f\x00"};
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        size_t len = strlen(garbage[i]) + (garbage[i][0] == '\x0f');
        assert_int_equal(clx_otlp_decode(garbage[i], len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_EINVAL);
        assert_refused(&err, CLX_CODE_INVALID_PROTOBUF, "invalid_protobuf");
        assert_non_null(strstr(err.message, "at byte"));
        assert_null(req);
    }
    /* an empty body is an empty request: nothing to do, which is success */
    assert_int_equal(clx_otlp_decode("", 0, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);
    assert_int_equal(req->n_resource_spans, 0);

    /* random bytes, and every single-bit flip of a valid body: an answer each time, no crash */
    srand(7);
    uint8_t buf[600];
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rand();
        clx_arena_reset(a);
        if (clx_otlp_decode(buf, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err) == CLX_OK) {
            clx_otlp_batch_t b;
            clx_otlp_map(req, NULL, a, &b);
            assert_int_equal(b.nrecords + b.ignored + b.rejected, b.spans);
        }
        if (clx_otlp_decode(buf, len, CLX_OTLP_JSON, NULL, a, &req, &err) == CLX_OK)
            assert_non_null(req);
    }
    clx_arena_t *keep = clx_arena_create(1 << 16);
    size_t len;
    uint8_t *body = valid_body(keep, &len);
    uint8_t *copy = clx_arena_alloc(keep, len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(copy, body, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        clx_arena_reset(a);
        if (clx_otlp_decode(copy, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err) == CLX_OK) {
            clx_otlp_batch_t b;
            clx_otlp_map(req, NULL, a, &b);
            assert_int_equal(b.nrecords + b.ignored + b.rejected, b.spans);
        } else {
            assert_non_null(err.name);
        }
    }
    clx_arena_destroy(keep);
    clx_arena_destroy(a);
}

static void test_truncated_protobuf(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_arena_t *keep = clx_arena_create(1 << 16);
    size_t len;
    uint8_t *body = valid_body(keep, &len);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    size_t refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        clx_arena_reset(a);
        /* a copy of exactly cut bytes, so that reading past it is an ASan error */
        uint8_t *prefix = clx_xmalloc(cut + 1);
        memcpy(prefix, body, cut);
        int rc = clx_otlp_decode(prefix, cut, CLX_OTLP_PROTOBUF, NULL, a, &req, &err);
        free(prefix);
        if (rc != CLX_OK) {
            assert_int_equal(rc, CLX_EINVAL);
            assert_refused(&err, CLX_CODE_INVALID_PROTOBUF, "invalid_protobuf");
            refused++;
        }
    }
    assert_true(refused > len / 2); /* most cuts land inside a field: refused */
    /* cut inside the first span's attribute: a length running past the end */
    assert_int_equal(clx_otlp_decode(body, len - 3, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_EINVAL);
    assert_non_null(strstr(err.message, "past the end"));
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_OK);
    clx_arena_destroy(keep);
    clx_arena_destroy(a);
}

/*
 * Found by fuzz/otlp: an unknown field whose key is spelled in 6 bytes (an over-long varint). The
 * walk took it and the door's decode (the walk alone) stored nothing wrong, but protobuf-c reads
 * a key in at most 5 bytes, so the whole decode refused the same body: both now refuse it, and a
 * 5-byte key of an unknown field is still skipped by both.
 */
static void test_overlong_field_key(void **state)
{
    (void)state;
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_limits_t lean = clx_otlp_default_limits;
    lean.usage_only = 1;
    const clx_otlp_limits_t *modes[] = {&clx_otlp_default_limits, &lean};
    /* field 33554424, varint 0x18c: key 0xc0 0xff 0xff 0xff 0x80 0x00 (6 bytes) */
    static const uint8_t six[] = {0xc0, 0xff, 0xff, 0xff, 0x80, 0x00, 0x8c, 0x03};
    /* the same field, its key in 4 bytes */
    static const uint8_t four[] = {0xc0, 0xff, 0xff, 0x7f, 0x8c, 0x03};
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    for (size_t m = 0; m < 2; m++) {
        clx_arena_reset(a);
        assert_int_equal(clx_otlp_decode(six, sizeof(six), CLX_OTLP_PROTOBUF, modes[m], a, &req, &err), CLX_EINVAL);
        assert_refused(&err, CLX_CODE_INVALID_PROTOBUF, "invalid_protobuf");
        assert_non_null(strstr(err.message, "a field key longer than 5 bytes at byte 0"));
        clx_arena_reset(a);
        assert_int_equal(clx_otlp_decode(four, sizeof(four), CLX_OTLP_PROTOBUF, modes[m], a, &req, &err), CLX_OK);
    }
    clx_arena_destroy(a);
}

static void test_truncated_json(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    size_t len = strlen(json_request);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    for (size_t cut = 0; cut < len; cut++) {
        clx_arena_reset(a);
        char *prefix = clx_xmalloc(cut + 1);
        memcpy(prefix, json_request, cut);
        assert_int_equal(clx_otlp_decode(prefix, cut, CLX_OTLP_JSON, NULL, a, &req, &err), CLX_EINVAL);
        assert_refused(&err, CLX_CODE_INVALID_JSON, "invalid_json");
        free(prefix);
    }
    clx_arena_destroy(a);
}

/* ==== gzip ========================================================================================== */

static uint8_t *gzip(clx_arena_t *a, const void *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 64;
    uint8_t *buf = clx_arena_alloc(a, cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return buf;
}

static void test_gzip_bodies(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    size_t plain_len, gz_len;
    uint8_t *plain = valid_body(a, &plain_len);
    uint8_t *gz = gzip(a, plain, plain_len, &gz_len);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    clx_otlp_format_t f;
    assert_int_equal(clx_otlp_decode_http(gz, gz_len, "application/x-protobuf", 22, "gzip", 4, NULL, a, &f, &req, &err),
                     CLX_OK);
    clx_otlp_batch_t b;
    clx_otlp_map(req, NULL, a, &b);
    assert_int_equal(b.nrecords, 2);
    assert_int_equal(b.records[0].input_tokens, 1830);

    /* two gzip members one after the other are one body */
    uint8_t *two = clx_arena_alloc(a, 2 * gz_len);
    memcpy(two, gz, gz_len);
    memcpy(two + gz_len, gz, gz_len);
    const void *out;
    size_t out_len;
    assert_int_equal(clx_otlp_gunzip(two, 2 * gz_len, 1 << 20, a, &out, &out_len, &err), CLX_OK);
    assert_int_equal(out_len, 2 * plain_len);

    /* truncated, corrupt, or not gzip at all */
    assert_int_equal(clx_otlp_gunzip(gz, gz_len - 5, 1 << 20, a, &out, &out_len, &err), CLX_EINVAL);
    assert_refused(&err, CLX_CODE_INVALID_GZIP, "invalid_gzip");
    assert_non_null(strstr(err.message, "truncated"));
    assert_int_equal(clx_otlp_gunzip(plain, plain_len, 1 << 20, a, &out, &out_len, &err), CLX_EINVAL);
    assert_refused(&err, CLX_CODE_INVALID_GZIP, "invalid_gzip");
    uint8_t *bad = clx_arena_alloc(a, gz_len);
    memcpy(bad, gz, gz_len);
    bad[gz_len / 2] ^= 0xff;
    assert_int_equal(clx_otlp_gunzip(bad, gz_len, 1 << 20, a, &out, &out_len, &err), CLX_EINVAL);
    assert_int_equal(clx_otlp_gunzip("", 0, 1 << 20, a, &out, &out_len, &err), CLX_EINVAL);

    /* exactly at the limit is fine; one byte over is not */
    assert_int_equal(clx_otlp_gunzip(gz, gz_len, plain_len, a, &out, &out_len, &err), CLX_OK);
    assert_int_equal(out_len, plain_len);
    assert_int_equal(clx_otlp_gunzip(gz, gz_len, plain_len - 1, a, &out, &out_len, &err), CLX_ETOOBIG);
    assert_refused(&err, CLX_CODE_NONE, "payload_too_large");
    clx_arena_destroy(a);
}

static void test_gzip_bomb(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    /* 64 MiB of zeros compress to ~64 KB: it must stop at the limit, not inflate it all */
    size_t chunk = 1 << 20, total = 64u << 20;
    uint8_t *zeros = calloc(1, chunk);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = 1 << 20, used = 0;
    uint8_t *gz = malloc(cap);
    for (size_t fed = 0; fed < total; fed += chunk) {
        z.next_in = zeros;
        z.avail_in = (uInt)chunk;
        int flush = fed + chunk >= total ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = gz + used;
            z.avail_out = (uInt)(cap - used);
            deflate(&z, flush);
            used = z.total_out;
        } while (z.avail_in > 0 || (flush == Z_FINISH && z.avail_out == 0));
    }
    deflateEnd(&z);
    assert_true(used < 1 << 20);
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    clx_otlp_format_t f;
    assert_int_equal(clx_otlp_decode_http(gz, used, "application/x-protobuf", 22, "GZIP", 4, NULL, a, &f, &req, &err),
                     CLX_ETOOBIG);
    assert_refused(&err, CLX_CODE_NONE, "payload_too_large");
    assert_non_null(strstr(err.message, "inflates to more than 16777216 bytes"));
    free(gz);
    free(zeros);
    clx_arena_destroy(a);
}

/* ==== the answer ===================================================================================== */

static void test_answers(void **state)
{
    clx_arena_t *a = clx_arena_create(4096);
    const void *out;
    size_t len;
    clx_otlp_answer(CLX_OTLP_PROTOBUF, 0, NULL, a, &out, &len);
    assert_int_equal(len, 0);
    clx_otlp_answer(CLX_OTLP_JSON, 0, NULL, a, &out, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "{}", 2);

    clx_otlp_answer(CLX_OTLP_PROTOBUF, 3, "span 2: no model", a, &out, &len);
    ProtobufCAllocator alloc;
    clx_arena_allocator(a, &alloc);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *resp =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(&alloc, len, out);
    assert_non_null(resp);
    assert_non_null(resp->partial_success);
    assert_int_equal(resp->partial_success->rejected_spans, 3);
    assert_string_equal(resp->partial_success->error_message, "span 2: no model");

    clx_otlp_answer(CLX_OTLP_JSON, 2, "bad \"model\"\n", a, &out, &len);
    const char want[] = "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"bad \\\"model\\\"\\u000a\"}}";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    /* and our own JSON reader takes it back (the same shape exporters parse) */
    clx_arena_destroy(a);
}

/* ==== the checked-in vectors, without Node ========================================================= */

static void test_checked_in_vectors(void **state)
{
    static const struct {
        const char *file, *ctype, *cenc;
    } vectors[] = {
        {"01-http.pb", "application/x-protobuf", NULL},
        {"02-http.json.gz", "application/json", "gzip"},
        {"03-grpc.pb", "application/x-protobuf", NULL},
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/otlp/vectors/%s", CLX_SOURCE_DIR, vectors[i].file);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static uint8_t body[1 << 16];
        size_t len = fread(body, 1, sizeof(body), f);
        fclose(f);
        clx_arena_t *a = clx_arena_create(1 << 16);
        clx_otlp_request_t *req;
        clx_otlp_error_t err;
        assert_int_equal(clx_otlp_decode_http(body, len, vectors[i].ctype, strlen(vectors[i].ctype), vectors[i].cenc,
                                              vectors[i].cenc ? strlen(vectors[i].cenc) : 0, NULL, a, NULL, &req, &err),
                         CLX_OK);
        clx_otlp_batch_t b;
        clx_otlp_map(req, NULL, a, &b);
        if (vectors[i].cenc == NULL) { /* the door's decode maps the same */
            clx_otlp_batch_t whole;
            decode_both(a, body, len, &whole);
            assert_same_batch(&b, &whole);
        }
        assert_int_equal(b.spans, 4);
        assert_int_equal(b.ignored, 1);
        assert_int_equal(b.nrecords, 3);
        /* the fake provider's answers (tests/otlp/node/capture.mjs) */
        assert_string_equal(b.records[0].request_id, "chatcmpl-CLXotlp0001chat");
        assert_int_equal(b.records[0].input_tokens, 1200);
        assert_int_equal(b.records[0].output_tokens, 80);
        assert_string_equal(b.records[1].model, "o4-mini-2025-04-16");
        assert_string_equal(b.records[2].provider, "anthropic");
        assert_int_equal(b.records[2].input_tokens, 30 + 1800 + 200);
        assert_int_equal(b.records[2].cached_tokens, 1800);
        assert_int_equal(b.records[2].cache_write_tokens, 200);
        clx_arena_destroy(a);
    }
}

/* ==== the door's decode: only what the mapping reads =================================================== */

/* Appends a length-delimited field (number, bytes) to buf at *n. */
static void put_bytes(uint8_t *buf, size_t *n, unsigned number, const void *data, size_t len)
{
    size_t v = len;
    buf[(*n)++] = (uint8_t)(number << 3 | 2);
    do {
        buf[(*n)++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    memcpy(buf + *n, data, len);
    *n += len;
}

static void test_usage_only_decode(void **state)
{
    clx_arena_t *a = clx_arena_create(1 << 16);
    clx_otlp_limits_t lean = clx_otlp_default_limits;
    clx_otlp_request_t *req;
    clx_otlp_error_t err;
    clx_otlp_batch_t b;
    lean.usage_only = 1;

    /* prompts and every key the mapping does not read are left out; what is kept points into the body */
    char prompt[3000];
    memset(prompt, 'p', sizeof(prompt) - 1);
    prompt[sizeof(prompt) - 1] = '\0';
    attr_t attrs[] = {S("gen_ai.provider.name", "openai"),
                      S("gen_ai.input.messages", prompt),
                      S("gen_ai.response.model", "gpt-4o"),
                      I("gen_ai.usage.input_tokens", 7),
                      I("gen_ai.usage.output_tokens", 3),
                      S("costlynx.tags.team", "a"),
                      S("http.method", "GET"),
                      END};
    span_t *sp = make_span(a, 1, attrs);
    size_t len;
    uint8_t *body = pack(a, make_request(a, NULL, "scope-x", &sp, 1), &len);
    decode_both(a, body, len, &b);
    assert_int_equal(clx_otlp_decode(body, len, CLX_OTLP_PROTOBUF, &lean, a, &req, &err), CLX_OK);
    const span_t *got = req->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(got->n_attributes, 5);
    for (size_t i = 0; i < got->n_attributes; i++) {
        assert_true(got->attributes[i]->key.data >= body && got->attributes[i]->key.data < body + len);
        assert_true(got->attributes[i]->key.len < 30); /* the prompt's key and value are not there */
    }
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->scope->name, "scope-x");

    /* protobuf merges a singular message given twice (two resources: their attributes add up): the
     * door's decode hands such a body to protobuf-c, and both map alike */
    uint8_t val[32], kv1[64], kv2[64], res1[80], res2[80];
    size_t nv = 0, n1 = 0, n2 = 0, nr1 = 0, nr2 = 0;
    put_bytes(val, &nv, 1, "checkout", 8);
    put_bytes(kv1, &n1, 1, "costlynx.project", 16);
    put_bytes(kv1, &n1, 2, val, nv);
    nv = 0;
    put_bytes(val, &nv, 1, "prod", 4);
    put_bytes(kv2, &n2, 1, "costlynx.environment", 20);
    put_bytes(kv2, &n2, 2, val, nv);
    put_bytes(res1, &nr1, 1, kv1, n1);
    put_bytes(res2, &nr2, 1, kv2, n2);
    size_t nspan = opentelemetry__proto__trace__v1__span__get_packed_size(sp), nss = 0, nrs = 0, nbody = 0;
    uint8_t *span_bytes = clx_arena_alloc(a, nspan);
    opentelemetry__proto__trace__v1__span__pack(sp, span_bytes);
    uint8_t *ss = clx_arena_alloc(a, nspan + 16), *rs = clx_arena_alloc(a, nspan + 200);
    uint8_t *merged = clx_arena_alloc(a, nspan + 220);
    put_bytes(ss, &nss, 2, span_bytes, nspan);
    put_bytes(rs, &nrs, 1, res1, nr1); /* the resource */
    put_bytes(rs, &nrs, 2, ss, nss);   /* its scope and span */
    put_bytes(rs, &nrs, 1, res2, nr2); /* the resource again: merged into the first */
    put_bytes(merged, &nbody, 1, rs, nrs);
    decode_both(a, merged, nbody, &b);
    assert_int_equal(b.nrecords, 1);
    assert_string_equal(b.records[0].project, "checkout");
    assert_string_equal(b.records[0].environment, "prod");

    /* a known field in the wrong wire type (a span's name as a number) is refused by both decodes */
    uint8_t bad_span[8] = {5 << 3 | 0, 7}, bad[32];
    size_t nb = 0, nbs = 0, nbr = 0;
    uint8_t ss2[16], rs2[24];
    put_bytes(ss2, &nbs, 2, bad_span, 2);
    put_bytes(rs2, &nbr, 2, ss2, nbs);
    put_bytes(bad, &nb, 1, rs2, nbr);
    assert_int_equal(clx_otlp_decode(bad, nb, CLX_OTLP_PROTOBUF, NULL, a, &req, &err), CLX_EINVAL);
    assert_refused(&err, CLX_CODE_INVALID_PROTOBUF, "invalid_protobuf");
    assert_non_null(strstr(err.message, "wrong wire type"));
    assert_int_equal(clx_otlp_decode(bad, nb, CLX_OTLP_PROTOBUF, &lean, a, &req, &err), CLX_EINVAL);
    assert_non_null(strstr(err.message, "wrong wire type"));
    clx_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attribute_table_is_sorted),
        cmocka_unit_test(test_media_types),
        cmocka_unit_test(test_semconv_span),
        cmocka_unit_test(test_non_genai_spans_are_ignored),
        cmocka_unit_test(test_missing_model_and_provider),
        cmocka_unit_test(test_duplicate_spans_keep_one_request_id),
        cmocka_unit_test(test_request_id_needs_an_id),
        cmocka_unit_test(test_timestamp_falls_back_to_start),
        cmocka_unit_test(test_anthropic_counts_cache_beside_input),
        cmocka_unit_test(test_total_tokens_settle_the_convention),
        cmocka_unit_test(test_parts_larger_than_totals_are_rejected),
        cmocka_unit_test(test_other_conventions),
        cmocka_unit_test(test_wrong_types_in_attributes),
        cmocka_unit_test(test_kept_strings_are_bounded_and_exact),
        cmocka_unit_test(test_json_request),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_ten_thousand_spans),
        cmocka_unit_test(test_too_many_messages),
        cmocka_unit_test(test_nesting_bombs),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_garbage_bytes),
        cmocka_unit_test(test_truncated_protobuf),
        cmocka_unit_test(test_overlong_field_key),
        cmocka_unit_test(test_truncated_json),
        cmocka_unit_test(test_gzip_bodies),
        cmocka_unit_test(test_gzip_bomb),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_checked_in_vectors),
        cmocka_unit_test(test_usage_only_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
