/*
 * otlp_map.c — GenAI spans to usage records: which attributes are read (a table), how the
 * conventions' token counts become costlynx's (cache and reasoning tokens are parts of the
 * input and output totals), and why a span is ignored or rejected.
 */
#include "otlp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;

/* ==== what is read ============================================================================ */

enum slot {
    S_PROVIDER,
    S_MODEL,         /* the model that answered */
    S_REQUEST_MODEL, /* the model asked for: used when the answer does not say */
    S_INPUT,
    S_OUTPUT,
    S_TOTAL,
    S_CACHE_READ,
    S_CACHE_WRITE,
    S_REASONING,
    S_AUDIO_IN,
    S_AUDIO_OUT,
    S_RESPONSE_ID,
    S_PROJECT,
    S_ENVIRONMENT,
    S_FEATURE,
    S_USER,
    S_SERVICE_TIER,
    S_NSLOTS
};

enum kind { K_STRING, K_TOKENS };

static const struct slot_def {
    enum kind kind;
    int from_resource; /* may also come from the resource (the span's own attribute wins) */
} slot_defs[S_NSLOTS] = {
    [S_PROVIDER] = {K_STRING, 0},    [S_MODEL] = {K_STRING, 0},       [S_REQUEST_MODEL] = {K_STRING, 0},
    [S_INPUT] = {K_TOKENS, 0},       [S_OUTPUT] = {K_TOKENS, 0},      [S_TOTAL] = {K_TOKENS, 0},
    [S_CACHE_READ] = {K_TOKENS, 0},  [S_CACHE_WRITE] = {K_TOKENS, 0}, [S_REASONING] = {K_TOKENS, 0},
    [S_AUDIO_IN] = {K_TOKENS, 0},    [S_AUDIO_OUT] = {K_TOKENS, 0},   [S_RESPONSE_ID] = {K_STRING, 0},
    [S_PROJECT] = {K_STRING, 1},     [S_ENVIRONMENT] = {K_STRING, 1}, [S_FEATURE] = {K_STRING, 1},
    [S_USER] = {K_STRING, 1},        [S_SERVICE_TIER] = {K_STRING, 0},
};

/*
 * Every attribute read, sorted by key length, then key bytes (binary search in which most
 * comparisons are one of lengths; test_otlp checks the order). Where
 * several names fill one slot, the lowest rank present wins: the current GenAI semantic
 * conventions (rank 0), then their deprecated names and OpenLLMetry's (1, 2), then
 * OpenInference's (3). docs/otlp.md has this table with who emits what.
 */
static const struct attr_def {
    const char *key;
    size_t len; /* strlen(key), kept so that a lookup measures nothing */
    enum slot slot;
    unsigned rank;
} attr_defs[] = {
#define ATTR(key, slot, rank)                                                                                          \
    {                                                                                                                  \
        key, sizeof(key) - 1, slot, rank                                                                               \
    }
    ATTR("user.id", S_USER, 0),
    ATTR("enduser.id", S_USER, 1),
    ATTR("llm.system", S_PROVIDER, 4),
    ATTR("llm.provider", S_PROVIDER, 3),
    ATTR("gen_ai.system", S_PROVIDER, 1),
    ATTR("llm.model_name", S_MODEL, 3),
    ATTR("costlynx.feature", S_FEATURE, 0),
    ATTR("costlynx.project", S_PROJECT, 0),
    ATTR("gen_ai.response.id", S_RESPONSE_ID, 0),
    ATTR("costlynx.environment", S_ENVIRONMENT, 0),
    ATTR("gen_ai.provider.name", S_PROVIDER, 0),
    ATTR("gen_ai.request.model", S_REQUEST_MODEL, 0),
    ATTR("gen_ai.response.model", S_MODEL, 0),
    ATTR("llm.token_count.total", S_TOTAL, 3),
    ATTR("deployment.environment", S_ENVIRONMENT, 2),
    ATTR("llm.token_count.prompt", S_INPUT, 3),
    ATTR("llm.usage.total_tokens", S_TOTAL, 2),
    ATTR("llm.usage.prompt_tokens", S_INPUT, 2),
    ATTR("gen_ai.usage.input_tokens", S_INPUT, 0),
    ATTR("gen_ai.usage.total_tokens", S_TOTAL, 0),
    ATTR("gen_ai.usage.output_tokens", S_OUTPUT, 0),
    ATTR("gen_ai.usage.prompt_tokens", S_INPUT, 1),
    ATTR("llm.token_count.completion", S_OUTPUT, 3),
    ATTR("deployment.environment.name", S_ENVIRONMENT, 1),
    ATTR("llm.usage.completion_tokens", S_OUTPUT, 2),
    ATTR("openai.response.service_tier", S_SERVICE_TIER, 0),
    ATTR("gen_ai.usage.reasoning_tokens", S_REASONING, 1),
    ATTR("gen_ai.usage.completion_tokens", S_OUTPUT, 1),
    ATTR("gen_ai.openai.response.service_tier", S_SERVICE_TIER, 1),
    ATTR("gen_ai.usage.cache_read.input_tokens", S_CACHE_READ, 0),
    ATTR("gen_ai.usage.cache_read_input_tokens", S_CACHE_READ, 1),
    ATTR("gen_ai.usage.reasoning.output_tokens", S_REASONING, 0),
    ATTR("llm.token_count.prompt_details.audio", S_AUDIO_IN, 3),
    ATTR("gen_ai.usage.cache_creation.input_tokens", S_CACHE_WRITE, 0),
    ATTR("gen_ai.usage.cache_creation_input_tokens", S_CACHE_WRITE, 1),
    ATTR("llm.token_count.completion_details.audio", S_AUDIO_OUT, 3),
    ATTR("llm.token_count.prompt_details.cache_read", S_CACHE_READ, 3),
    ATTR("llm.token_count.prompt_details.cache_write", S_CACHE_WRITE, 3),
    ATTR("llm.token_count.completion_details.reasoning", S_REASONING, 3),
#undef ATTR
};
#define NATTRS (sizeof(attr_defs) / sizeof(attr_defs[0]))

static const char tag_prefix[] = "costlynx.tags.";
#define TAG_PREFIX_LEN (sizeof(tag_prefix) - 1)

/* Exposed for the unit test: the table's keys in order (NULL past the end). */
const char *clx_otlp_attr_key(size_t i);
const char *clx_otlp_attr_key(size_t i)
{
    return i < NATTRS ? attr_defs[i].key : NULL;
}

/* The table's order: by length, then bytes (most keys differ in length: no memcmp for them). */
static int key_cmp(const char *key, size_t len, const struct attr_def *def)
{
    if (len != def->len)
        return len < def->len ? -1 : 1;
    return len == 0 ? 0 : memcmp(key, def->key, len); /* an empty key's data may be NULL */
}

static const struct attr_def *find_attr(const uint8_t *key, size_t len)
{
    size_t lo = 0, hi = NATTRS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp((const char *)key, len, &attr_defs[mid]);
        if (c == 0)
            return &attr_defs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int clx_otlp_attr_used(const uint8_t *key, size_t len)
{
    return find_attr(key, len) != NULL || (len > TAG_PREFIX_LEN && memcmp(key, tag_prefix, TAG_PREFIX_LEN) == 0);
}

/* ==== providers and instrumentations =========================================================== */

enum {
    /* the provider's API reports cache reads and writes beside its input tokens (not in them) */
    CACHE_BESIDE_INPUT = 1,
    /* the provider's API reports reasoning tokens beside its output tokens */
    REASONING_BESIDE_OUTPUT = 2,
};

/*
 * OpenTelemetry provider names (gen_ai.provider.name, the older gen_ai.system values,
 * OpenInference's llm.provider / llm.system, the Vercel AI SDK's "openai.chat"-style names)
 * to costlynx's. Matched without regard to case: the whole value first, else the part before
 * the first dot ("openai.responses" -> openai). Anything else is kept as sent.
 */
static const struct provider_def {
    const char *otel;
    const char *ours;
    unsigned flags;
} provider_defs[] = {
    {"openai", "openai", 0},
    {"anthropic", "anthropic", CACHE_BESIDE_INPUT},
    {"gcp.gemini", "google", REASONING_BESIDE_OUTPUT},
    {"gcp.vertex_ai", "google", REASONING_BESIDE_OUTPUT},
    {"gcp.gen_ai", "google", REASONING_BESIDE_OUTPUT},
    {"gcp", "google", REASONING_BESIDE_OUTPUT},
    {"google", "google", REASONING_BESIDE_OUTPUT},
    {"gemini", "google", REASONING_BESIDE_OUTPUT},
    {"vertex_ai", "google", REASONING_BESIDE_OUTPUT},
    {"vertexai", "google", REASONING_BESIDE_OUTPUT},
    {"azure.ai.openai", "azure_openai", 0},
    {"az.ai.openai", "azure_openai", 0},
    {"azure_openai", "azure_openai", 0},
    {"azure-openai", "azure_openai", 0},
    {"azure", "azure_openai", 0},
    {"azure.ai.inference", "azure.ai.inference", 0}, /* any model of Azure AI Foundry: kept */
    {"az.ai.inference", "azure.ai.inference", 0},
    {"aws.bedrock", "bedrock", CACHE_BESIDE_INPUT},
    {"aws", "bedrock", CACHE_BESIDE_INPUT},
    {"bedrock", "bedrock", CACHE_BESIDE_INPUT},
    {"amazon-bedrock", "bedrock", CACHE_BESIDE_INPUT},
    {"mistral_ai", "mistral", 0},
    {"mistralai", "mistral", 0},
    {"mistral", "mistral", 0},
    {"x_ai", "xai", 0},
    {"xai", "xai", 0},
    {"deepseek", "deepseek", 0},
    {"cohere", "cohere", 0},
};

static const struct provider_def *find_provider(const char *s, size_t len)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof(provider_defs) / sizeof(provider_defs[0]); i++)
            if (strlen(provider_defs[i].otel) == len && strncasecmp(provider_defs[i].otel, s, len) == 0)
                return &provider_defs[i];
        const char *dot = memchr(s, '.', len);
        if (dot == NULL)
            break;
        len = (size_t)(dot - s);
    }
    return NULL;
}

/*
 * Instrumentations known to copy a provider's counts as they come, so their "input" or
 * "output" tokens leave the parts out whatever the numbers look like (checked on
 * the @traceloop instrumentations 0.27.0: the Anthropic one sets gen_ai.usage.input_tokens to Anthropic's
 * input_tokens; the Gemini one sets output_tokens to candidatesTokenCount).
 */
static const struct scope_rule {
    const char *scope;
    unsigned flags;
} scope_rules[] = {
    {"@traceloop/instrumentation-anthropic", CACHE_BESIDE_INPUT},
    {"@traceloop/instrumentation-google-generativeai", REASONING_BESIDE_OUTPUT},
};

static unsigned scope_flags(const char *scope)
{
    for (size_t i = 0; scope != NULL && i < sizeof(scope_rules) / sizeof(scope_rules[0]); i++)
        if (strcmp(scope_rules[i].scope, scope) == 0)
            return scope_rules[i].flags;
    return 0;
}

/* ==== per span ================================================================================= */

struct found {
    const any_t *v;
    const char *key; /* the attribute's name (static, from attr_defs) */
    unsigned rank;
};

/* costlynx.tags.* gathered for one span: the resource's first, the span's replacing them. */
struct tags {
    clx_otlp_tag_t *v;   /* keys set; values filled by resolve_tags */
    const kv_t **kv;     /* the attribute behind each tag */
    size_t n, cap;
    int overflow;        /* more distinct tags than cap */
};

struct mapper {
    const clx_otlp_limits_t *lim;
    clx_arena_t *arena;
    clx_otlp_batch_t *out;
    uint32_t index;
};

static int empty_string(const any_t *v)
{
    return v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
           v->string_value.len == 0;
}

/* Records the attributes of kvs that fill slots (resource: only the slots a resource may fill). */
static void collect(kv_t *const *kvs, size_t n, struct found *f, int resource)
{
    for (size_t i = 0; i < n; i++) {
        const kv_t *kv = kvs[i];
        if (kv == NULL || kv->value == NULL || empty_string(kv->value))
            continue; /* no value, or "": as if absent */
        const struct attr_def *d = find_attr(kv->key.data, kv->key.len);
        if (d == NULL || (resource && !slot_defs[d->slot].from_resource))
            continue;
        if (f[d->slot].v == NULL || d->rank < f[d->slot].rank) {
            f[d->slot].v = kv->value;
            f[d->slot].key = d->key;
            f[d->slot].rank = d->rank;
        }
    }
}

static void reject(struct mapper *m, const char *request_id, const char *attribute, clx_code_t code, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static void reject(struct mapper *m, const char *request_id, const char *attribute, clx_code_t code, const char *fmt,
                   ...)
{
    clx_otlp_batch_t *o = m->out;
    o->rejected++;
    if (o->nrejects >= CLX_OTLP_MAX_REJECTS)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clx_otlp_reject_t *r = &o->rejects[o->nrejects++];
    r->span_index = m->index;
    r->request_id = request_id;
    r->attribute = attribute;
    r->code = code;
    r->message = clx_arena_printf(m->arena, "span %u: %s", (unsigned)m->index, msg);
}

static const char *type_name(const any_t *v)
{
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return "a string";
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return "a boolean";
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return "an integer";
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        return "a floating-point number";
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        return "an array";
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        return "a key/value list";
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        return "bytes";
    default:
        return "empty";
    }
}

/*
 * A token count: an integer, a floating-point number with no fraction (JavaScript exporters
 * send whole numbers either way), or a string of digits. 0 ok; otherwise the span is rejected.
 */
static int get_tokens(struct mapper *m, const struct found *f, const char *rid, int64_t *out)
{
    const any_t *v = f->v;
    *out = 0;
    if (v == NULL)
        return 0;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        *out = v->int_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        /* within (-2^63, 2^63) the conversion cannot overflow (and NaN fails the range test);
         * a whole number survives the round trip through int64 */
        if (!(v->double_value > -9223372036854775808.0 && v->double_value < 9223372036854775808.0) ||
            (double)(int64_t)v->double_value != v->double_value) {
            reject(m, rid, f->key, CLX_CODE_INVALID_VALUE, "%s must be a whole number of tokens, got %g", f->key,
                   v->double_value);
            return -1;
        }
        *out = (int64_t)v->double_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE: {
        const uint8_t *s = v->string_value.data;
        size_t len = v->string_value.len;
        int64_t n = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || n > (INT64_MAX - (s[i] - '0')) / 10) {
                reject(m, rid, f->key, CLX_CODE_INVALID_VALUE, "%s must be a whole number of tokens, got '%.*s'",
                       f->key, (int)(len > 40 ? 40 : len), (const char *)s);
                return -1;
            }
            n = n * 10 + (s[i] - '0');
        }
        *out = n;
        break;
    }
    default:
        reject(m, rid, f->key, CLX_CODE_INVALID_TYPE, "%s must be a number of tokens, got %s", f->key, type_name(v));
        return -1;
    }
    if (*out < 0) {
        reject(m, rid, f->key, CLX_CODE_INVALID_VALUE, "%s must not be negative, got %lld", f->key, (long long)*out);
        return -1;
    }
    return 0;
}

/* A string the record keeps: copied into the arena, "" when absent. 0 ok, -1 rejected. */
static int get_string(struct mapper *m, const struct found *f, const char *rid, const char **out)
{
    const any_t *v = f->v;
    *out = "";
    if (v == NULL)
        return 0;
    if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
        reject(m, rid, f->key, CLX_CODE_INVALID_TYPE, "%s must be a string, got %s", f->key, type_name(v));
        return -1;
    }
    const char *s = (const char *)v->string_value.data;
    size_t len = v->string_value.len;
    if (len == 0) /* data may be NULL */
        return 0;
    if (len > m->lim->max_value_len) {
        reject(m, rid, f->key, CLX_CODE_TOO_LONG, "%s is longer than %zu bytes (%zu)", f->key, m->lim->max_value_len,
               len);
        return -1;
    }
    if (memchr(s, '\0', len) != NULL) {
        reject(m, rid, f->key, CLX_CODE_INVALID_VALUE, "%s must not contain a NUL character", f->key);
        return -1;
    }
    *out = clx_arena_strndup(m->arena, s, len);
    return 0;
}

/* A valid OTLP id: the right length and not all zero. */
static int valid_id(const ProtobufCBinaryData *id, size_t want)
{
    if (id->len != want)
        return 0;
    for (size_t i = 0; i < want; i++)
        if (id->data[i] != 0)
            return 1;
    return 0;
}

static void hex(char *dst, const ProtobufCBinaryData *id)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < id->len; i++) {
        dst[2 * i] = digits[id->data[i] >> 4];
        dst[2 * i + 1] = digits[id->data[i] & 15];
    }
}

enum verdict { INCLUDED, EXCLUDED, CONTRADICTS };

/*
 * Are parts (cache tokens; reasoning tokens) counted inside whole (input; output), or beside
 * it? Asked only when there are parts:
 *   1. an instrumentation known to report them beside (scope rule): beside;
 *   2. a reported total settles it: whole + other == total says inside, whole + parts + other
 *      == total says beside;
 *   3. parts larger than whole cannot be inside: beside where the provider's own API reports
 *      them so (Anthropic and Bedrock cache tokens, Gemini's thoughts), else a contradiction;
 *   4. otherwise inside, as the GenAI semantic conventions require.
 */
static enum verdict parts_inside(int64_t whole, int64_t parts, int64_t other, const int64_t *total, int scope_beside,
                                 int provider_beside)
{
    int64_t a, b;
    if (parts == 0)
        return INCLUDED;
    if (scope_beside)
        return EXCLUDED;
    if (total != NULL && !__builtin_add_overflow(whole, other, &a) && !__builtin_add_overflow(a, parts, &b)) {
        if (a == *total && parts <= whole)
            return INCLUDED;
        if (b == *total)
            return EXCLUDED;
    }
    if (parts > whole)
        return provider_beside ? EXCLUDED : CONTRADICTS;
    return INCLUDED;
}

static void add_tag(struct mapper *m, struct tags *t, const kv_t *kv)
{
    const char *key = (const char *)kv->key.data + TAG_PREFIX_LEN;
    size_t klen = kv->key.len - TAG_PREFIX_LEN;
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(t->v[i].key) == klen && memcmp(t->v[i].key, key, klen) == 0) {
            t->kv[i] = kv;
            return;
        }
    }
    if (t->n == t->cap) {
        t->overflow = 1;
        return;
    }
    t->v[t->n].key = clx_arena_strndup(m->arena, key, klen);
    t->v[t->n].value = "";
    t->kv[t->n] = kv;
    t->n++;
}

/* Gathers the costlynx.tags.* attributes of kvs into t. */
static void collect_tags(struct mapper *m, kv_t *const *kvs, size_t n, struct tags *t)
{
    for (size_t i = 0; i < n; i++) {
        const kv_t *kv = kvs[i];
        if (kv == NULL || kv->value == NULL || kv->key.len <= TAG_PREFIX_LEN ||
            memcmp(kv->key.data, tag_prefix, TAG_PREFIX_LEN) != 0)
            continue;
        add_tag(m, t, kv);
    }
}

/* Reads the gathered tags' values. 0 ok, -1 rejected. */
static int resolve_tags(struct mapper *m, struct tags *t, const char *rid)
{
    if (t->overflow) {
        reject(m, rid, "costlynx.tags.*", CLX_CODE_INVALID_VALUE, "more than %zu costlynx.tags.* attributes",
               m->lim->max_tags);
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        struct found f = {.v = t->kv[i]->value, .key = clx_arena_printf(m->arena, "%s%s", tag_prefix, t->v[i].key)};
        if (strlen(t->v[i].key) > m->lim->max_value_len) {
            reject(m, rid, "costlynx.tags.*", CLX_CODE_TOO_LONG, "a costlynx.tags.* name is longer than %zu bytes",
                   m->lim->max_value_len);
            return -1;
        }
        if (memchr(t->kv[i]->key.data, '\0', t->kv[i]->key.len) != NULL) {
            reject(m, rid, "costlynx.tags.*", CLX_CODE_INVALID_VALUE,
                   "a costlynx.tags.* name contains a NUL character");
            return -1;
        }
        if (get_string(m, &f, rid, &t->v[i].value) != 0)
            return -1;
    }
    return 0;
}

struct context {
    struct found res[S_NSLOTS]; /* the resource's attributes */
    kv_t *const *res_kvs;
    size_t nres_kvs;
    const char *scope;
    unsigned scope_flags;
};

static void map_span(struct mapper *m, const struct context *c, const span_t *sp)
{
    struct found f[S_NSLOTS];
    int64_t tok[S_NSLOTS];
    const char *str[S_NSLOTS];
    const char *rid = "";
    int rid_from_span = 0;
    int has_usage = 0;

    memset(f, 0, sizeof(f));
    collect(sp->attributes, sp->n_attributes, f, 0);
    for (int s = S_INPUT; s <= S_AUDIO_OUT; s++)
        has_usage |= f[s].v != NULL;
    if (!has_usage) {
        m->out->ignored++;
        return;
    }
    for (int s = 0; s < S_NSLOTS; s++)
        if (f[s].v == NULL && slot_defs[s].from_resource)
            f[s] = c->res[s];

    /* the id first, so that every rejection can name it */
    if (f[S_RESPONSE_ID].v != NULL) {
        if (get_string(m, &f[S_RESPONSE_ID], "", &rid) != 0)
            return;
    } else if (valid_id(&sp->trace_id, 16) && valid_id(&sp->span_id, 8)) {
        char *id = clx_arena_alloc(m->arena, 32 + 1 + 16 + 1);
        hex(id, &sp->trace_id);
        id[32] = '-';
        hex(id + 33, &sp->span_id);
        id[49] = '\0';
        rid = id;
        rid_from_span = 1;
    }

    for (int s = 0; s < S_NSLOTS; s++) {
        tok[s] = 0;
        str[s] = "";
        if (slot_defs[s].kind == K_TOKENS) {
            if (get_tokens(m, &f[s], rid, &tok[s]) != 0)
                return;
        } else if (s != S_RESPONSE_ID && get_string(m, &f[s], rid, &str[s]) != 0) {
            return;
        }
    }
    if (f[S_INPUT].v == NULL && f[S_OUTPUT].v == NULL) {
        const char *seen = "";
        for (int s = S_INPUT; s <= S_AUDIO_OUT && seen[0] == '\0'; s++)
            if (f[s].v != NULL)
                seen = f[s].key;
        reject(m, rid, "gen_ai.usage.input_tokens", CLX_CODE_MISSING_FIELD,
               "%s is set but neither gen_ai.usage.input_tokens nor gen_ai.usage.output_tokens is", seen);
        return;
    }
    const char *model = str[S_MODEL][0] != '\0' ? str[S_MODEL] : str[S_REQUEST_MODEL];
    if (model[0] == '\0') {
        reject(m, rid, "gen_ai.response.model", CLX_CODE_MISSING_FIELD,
               "no model: neither gen_ai.response.model nor gen_ai.request.model is set");
        return;
    }
    if (str[S_PROVIDER][0] == '\0') {
        reject(m, rid, "gen_ai.provider.name", CLX_CODE_MISSING_FIELD,
               "no provider: neither gen_ai.provider.name nor gen_ai.system is set");
        return;
    }
    if (rid[0] == '\0') {
        reject(m, rid, "gen_ai.response.id", CLX_CODE_MISSING_FIELD,
               "no request id: gen_ai.response.id is not set and the span has no valid trace and span ids");
        return;
    }
    const struct provider_def *pd = find_provider(str[S_PROVIDER], strlen(str[S_PROVIDER]));
    unsigned pflags = pd != NULL ? pd->flags : 0;

    /* input: cache reads and writes are parts of it */
    int64_t in = tok[S_INPUT], out = tok[S_OUTPUT], rd = tok[S_CACHE_READ], wr = tok[S_CACHE_WRITE];
    int64_t rs = tok[S_REASONING], cache;
    const int64_t *total = f[S_TOTAL].v != NULL ? &tok[S_TOTAL] : NULL;
    const char *in_key = f[S_INPUT].v != NULL ? f[S_INPUT].key : "gen_ai.usage.input_tokens";
    const char *out_key = f[S_OUTPUT].v != NULL ? f[S_OUTPUT].key : "gen_ai.usage.output_tokens";
    if (__builtin_add_overflow(rd, wr, &cache)) {
        reject(m, rid, f[S_CACHE_READ].key, CLX_CODE_INVALID_VALUE, "cache token counts are out of range");
        return;
    }
    switch (parts_inside(in, cache, out, total, (c->scope_flags & CACHE_BESIDE_INPUT) != 0,
                         (pflags & CACHE_BESIDE_INPUT) != 0)) {
    case INCLUDED:
        break;
    case EXCLUDED:
        if (__builtin_add_overflow(in, cache, &in)) {
            reject(m, rid, in_key, CLX_CODE_INVALID_VALUE, "%s plus cache tokens is out of range", in_key);
            return;
        }
        break;
    case CONTRADICTS: {
        const char *part_key = f[S_CACHE_READ].v != NULL ? f[S_CACHE_READ].key : f[S_CACHE_WRITE].key;
        reject(m, rid, part_key, CLX_CODE_INVALID_VALUE,
               "cache tokens (%s %lld, %s %lld) exceed %s (%lld): they must be part of the input tokens",
               f[S_CACHE_READ].v != NULL ? f[S_CACHE_READ].key : "cache read", (long long)rd,
               f[S_CACHE_WRITE].v != NULL ? f[S_CACHE_WRITE].key : "cache write", (long long)wr, in_key, (long long)in);
        return;
    }
    }
    /* output: reasoning tokens are part of it */
    switch (parts_inside(out, rs, in, total, (c->scope_flags & REASONING_BESIDE_OUTPUT) != 0,
                         (pflags & REASONING_BESIDE_OUTPUT) != 0)) {
    case INCLUDED:
        break;
    case EXCLUDED:
        if (__builtin_add_overflow(out, rs, &out)) {
            reject(m, rid, out_key, CLX_CODE_INVALID_VALUE, "%s plus reasoning tokens is out of range", out_key);
            return;
        }
        break;
    case CONTRADICTS:
        reject(m, rid, f[S_REASONING].key, CLX_CODE_INVALID_VALUE,
               "%s (%lld) exceeds %s (%lld): reasoning tokens must be part of the output tokens", f[S_REASONING].key,
               (long long)rs, out_key, (long long)out);
        return;
    }
    if (tok[S_AUDIO_IN] > in || tok[S_AUDIO_OUT] > out) {
        int input_side = tok[S_AUDIO_IN] > in;
        reject(m, rid, input_side ? f[S_AUDIO_IN].key : f[S_AUDIO_OUT].key, CLX_CODE_INVALID_VALUE,
               "%s exceeds %s: audio tokens must be part of them", input_side ? f[S_AUDIO_IN].key : f[S_AUDIO_OUT].key,
               input_side ? in_key : out_key);
        return;
    }

    struct tags t = {.cap = m->lim->max_tags};
    t.v = clx_arena_alloc(m->arena, (t.cap ? t.cap : 1) * sizeof(*t.v));
    t.kv = clx_arena_alloc(m->arena, (t.cap ? t.cap : 1) * sizeof(*t.kv));
    collect_tags(m, c->res_kvs, c->nres_kvs, &t);
    collect_tags(m, sp->attributes, sp->n_attributes, &t);
    if (resolve_tags(m, &t, rid) != 0)
        return;

    clx_otlp_usage_t *u = &m->out->records[m->out->nrecords++];
    memset(u, 0, sizeof(*u));
    u->span_index = m->index;
    u->provider = pd != NULL ? pd->ours : str[S_PROVIDER];
    u->model = model;
    u->input_tokens = in;
    u->output_tokens = out;
    u->cached_tokens = rd;
    u->cache_write_tokens = wr;
    u->reasoning_tokens = rs;
    u->audio_input_tokens = tok[S_AUDIO_IN];
    u->audio_output_tokens = tok[S_AUDIO_OUT];
    u->request_id = rid;
    u->request_id_from_span = rid_from_span;
    u->timestamp_unix_nano = sp->end_time_unix_nano != 0 ? sp->end_time_unix_nano : sp->start_time_unix_nano;
    u->project = str[S_PROJECT];
    u->environment = str[S_ENVIRONMENT];
    u->feature = str[S_FEATURE];
    u->user_id = str[S_USER];
    u->service_tier = str[S_SERVICE_TIER];
    u->tags = t.v;
    u->ntags = t.n;
    u->scope = c->scope;
}

void clx_otlp_map(const clx_otlp_request_t *req, const clx_otlp_limits_t *lim, clx_arena_t *arena,
                  clx_otlp_batch_t *out)
{
    struct mapper m = {.lim = lim != NULL ? lim : &clx_otlp_default_limits, .arena = arena, .out = out};
    size_t spans = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < req->n_resource_spans; i++)
        for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
            spans += req->resource_spans[i]->scope_spans[j]->n_spans;
    out->spans = spans;
    out->records = clx_arena_alloc(arena, (spans ? spans : 1) * sizeof(*out->records));
    out->rejects = clx_arena_alloc(arena, CLX_OTLP_MAX_REJECTS * sizeof(*out->rejects));

    for (size_t i = 0; i < req->n_resource_spans; i++) {
        const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[i];
        struct context c;
        memset(&c, 0, sizeof(c));
        if (rs->resource != NULL) {
            c.res_kvs = rs->resource->attributes;
            c.nres_kvs = rs->resource->n_attributes;
            collect(c.res_kvs, c.nres_kvs, c.res, 1);
        }
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[j];
            c.scope = ss->scope != NULL && ss->scope->name != NULL ? ss->scope->name : "";
            c.scope_flags = scope_flags(c.scope);
            for (size_t k = 0; k < ss->n_spans; k++, m.index++)
                map_span(&m, &c, ss->spans[k]);
        }
    }
}

void clx_otlp_usage_to_event(const clx_otlp_usage_t *u, clx_arena_t *arena, Costlynx__V1__UsageEvent *ev)
{
    costlynx__v1__usage_event__init(ev);
    ev->provider = (char *)u->provider;
    ev->model = (char *)u->model;
    ev->input_tokens = u->input_tokens;
    ev->output_tokens = u->output_tokens;
    ev->cached_tokens = u->cached_tokens;
    ev->cache_write_tokens = u->cache_write_tokens;
    ev->reasoning_tokens = u->reasoning_tokens;
    ev->audio_input_tokens = u->audio_input_tokens;
    ev->audio_output_tokens = u->audio_output_tokens;
    ev->request_id = (char *)u->request_id;
    ev->project = (char *)u->project;
    ev->environment = (char *)u->environment;
    ev->feature = (char *)u->feature;
    ev->user_id = (char *)u->user_id;
    ev->service_tier = (char *)u->service_tier;
    if (u->timestamp_unix_nano != 0) {
        /* the span's end: when the provider answered, as the REST door's timestamp means */
        Google__Protobuf__Timestamp *ts = clx_arena_alloc(arena, sizeof(*ts));
        google__protobuf__timestamp__init(ts);
        ts->seconds = (int64_t)(u->timestamp_unix_nano / 1000000000u);
        ts->nanos = (int32_t)(u->timestamp_unix_nano % 1000000000u);
        ev->timestamp = ts;
    }
    if (u->ntags > 0) {
        Costlynx__V1__UsageEvent__TagsEntry *e = clx_arena_alloc(arena, u->ntags * sizeof(*e));
        ev->tags = clx_arena_alloc(arena, u->ntags * sizeof(*ev->tags));
        for (size_t i = 0; i < u->ntags; i++) {
            costlynx__v1__usage_event__tags_entry__init(&e[i]);
            e[i].key = (char *)u->tags[i].key;
            e[i].value = (char *)u->tags[i].value;
            ev->tags[i] = &e[i];
        }
        ev->n_tags = u->ntags;
    }
}
