/*
 * grpc_load.c — gRPC load generator for costlynx.v1.UsageIngestion and the OTLP door's
 * TraceService/Export (grpc C core client).
 *
 *   grpc_load --addr 127.0.0.1:PORT --key KEY [--mode unary|stream|otlp] [--batch 100]
 *             [--concurrency 32] [--seconds 10] [--messages-per-stream 50] [--run-id STR]
 *             [--prompts 0|1]
 *   grpc_load --mode otlp [--batch 100] [--prompts 0|1] --write-request FILE
 *             (writes the export it would send, for bench/otlp_bench, and exits)
 *
 * One channel, one completion queue polled by the main thread, `concurrency` calls in flight.
 * unary:  each slot runs Ingest calls back to back (all six ops in one batch).
 * stream: each slot runs IngestStream calls back to back: `messages-per-stream` batches, each
 *         written after the previous write completed, then half-close and read the summary.
 * otlp:   each slot runs TraceService/Export calls back to back, `batch` spans per request, as
 *         OpenLLMetry's OpenAI instrumentation makes them (the attributes of a chat span and its
 *         resource and scope); --prompts 1 adds the prompt and completion attributes it records
 *         by default (gen_ai.input.messages ~2 KB, gen_ai.output.messages ~0.5 KB). Every span
 *         has a fresh gen_ai.response.id (the events' requestId): patched into a packed template.
 * New calls start until --seconds have passed; calls in flight then finish (deadline
 * seconds+30 s). One RESULT line on stdout at the end; exit status 1 when any call failed.
 */
#define _GNU_SOURCE
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "costlynx/v1/usage.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define MAX_BATCH 10000
#define ID_LEN 192
#define DRAIN_GRACE_S 30

enum { MODE_UNARY, MODE_STREAM, MODE_OTLP };
static const char *const mode_names[] = {"unary", "stream", "otlp"};
enum { TAG_SEND, TAG_RECV };

typedef struct slot slot;
typedef struct {
  slot *s;
  int kind;
} tagrec;

typedef struct {
  uint64_t *v;
  size_t n, cap;
} lat_vec;

struct slot {
  int id;
  grpc_call *call;
  uint64_t n; /* per-slot message counter: part of every request_id */
  uint64_t t_call, t_msg;
  int msgs_sent;  /* stream: messages whose write completed */
  bool closing;   /* stream: SEND_CLOSE_FROM_CLIENT posted */
  bool send_done; /* stream: no more send batches outstanding */
  bool recv_done;
  grpc_metadata_array init_md, trail_md;
  grpc_byte_buffer *send_bb, *recv_bb;
  grpc_status_code status;
  grpc_slice details;
  tagrec tsend, trecv;
  Costlynx__V1__UsageEvent *ev;
  Costlynx__V1__UsageEvent **evp;
  char (*ids)[ID_LEN];
  uint8_t *pack;
  size_t pack_cap;
  bool active;
};

static struct {
  const char *addr, *key, *run_id, *write_request;
  int mode, batch, concurrency, seconds, msgs_per_stream, prompts, id_len;
} cfg = {NULL, NULL, NULL, NULL, MODE_UNARY, 100, 32, 10, 50, 0, 0};

static struct {
  uint64_t calls, events, messages, inserted, skipped, rejected, errors;
  lat_vec lat_call, lat_msg;
  int shown_errors, shown_rejects;
} st;

static grpc_channel *g_chan;
static grpc_completion_queue *g_cq;
static void *g_method; /* registered call handle */
static grpc_metadata g_md;
static uint64_t g_t_end_ns;
static gpr_timespec g_call_deadline;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void lat_push(lat_vec *l, uint64_t v) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 4096;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) {
      perror("realloc");
      exit(2);
    }
  }
  l->v[l->n++] = v;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* nearest-rank percentile in milliseconds of a sorted vector */
static double pct_ms(const lat_vec *l, double p) {
  if (l->n == 0) return 0.0;
  size_t rank = (size_t)(p * (double)l->n + 0.999999999);
  if (rank < 1) rank = 1;
  if (rank > l->n) rank = l->n;
  return (double)l->v[rank - 1] / 1e6;
}

static void usage(void) {
  fprintf(stderr,
          "usage: grpc_load --addr HOST:PORT --key KEY [--mode unary|stream|otlp] [--batch 100]\n"
          "                 [--concurrency 32] [--seconds 10] [--messages-per-stream 50] [--run-id STR]\n"
          "                 [--prompts 0|1] [--id-len N]\n"
          "       grpc_load --mode otlp [--batch 100] [--prompts 0|1] --write-request FILE\n");
  exit(2);
}

static int parse_int(const char *name, const char *v, int lo, int hi) {
  char *end;
  long x = strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
    fprintf(stderr, "grpc_load: %s must be an integer in [%d, %d]\n", name, lo, hi);
    exit(2);
  }
  return (int)x;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--addr")) cfg.addr = v;
    else if (!strcmp(a, "--key")) cfg.key = v;
    else if (!strcmp(a, "--run-id")) cfg.run_id = v;
    else if (!strcmp(a, "--mode")) {
      if (!strcmp(v, "unary")) cfg.mode = MODE_UNARY;
      else if (!strcmp(v, "stream")) cfg.mode = MODE_STREAM;
      else if (!strcmp(v, "otlp")) cfg.mode = MODE_OTLP;
      else usage();
    } else if (!strcmp(a, "--batch")) cfg.batch = parse_int(a, v, 1, MAX_BATCH);
    else if (!strcmp(a, "--concurrency")) cfg.concurrency = parse_int(a, v, 1, 100000);
    else if (!strcmp(a, "--seconds")) cfg.seconds = parse_int(a, v, 1, 86400);
    else if (!strcmp(a, "--messages-per-stream")) cfg.msgs_per_stream = parse_int(a, v, 1, 1000000);
    else if (!strcmp(a, "--prompts")) cfg.prompts = parse_int(a, v, 0, 1);
    else if (!strcmp(a, "--write-request")) cfg.write_request = v;
    else if (!strcmp(a, "--id-len")) cfg.id_len = parse_int(a, v, 0, 128);
    else usage();
  }
  if (cfg.write_request) { /* --mode otlp --write-request FILE: the export template, for bench/otlp_bench */
    if (cfg.mode != MODE_OTLP) usage();
    return;
  }
  if (!cfg.addr || !cfg.key) usage();
  if (cfg.run_id && strlen(cfg.run_id) > 64) {
    fprintf(stderr, "grpc_load: --run-id at most 64 characters\n");
    exit(2);
  }
}

/* ---- OTLP: a packed ExportTraceServiceRequest template, ids patched per call ------------ */

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

static struct {
  uint8_t *pack; /* the template, with the ids of slot 0, call 0 */
  size_t len;
  size_t *id_at; /* where span i's gen_ai.response.id starts */
  size_t id_len;
} g_otlp;

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) {
    perror("calloc");
    exit(2);
  }
  return p;
}

static ProtobufCBinaryData bin(const char *s) {
  return (ProtobufCBinaryData){strlen(s), (uint8_t *)s};
}

static kv_t *kv(const char *key, any_t *v) {
  kv_t *k = xcalloc(1, sizeof *k);
  opentelemetry__proto__common__v1__key_value__init(k);
  k->key = bin(key);
  k->value = v;
  return k;
}

static any_t *any(void) {
  any_t *v = xcalloc(1, sizeof *v);
  opentelemetry__proto__common__v1__any_value__init(v);
  return v;
}

static kv_t *kv_str(const char *key, const char *s) {
  any_t *v = any();
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = bin(s);
  return kv(key, v);
}

static kv_t *kv_int(const char *key, int64_t i) {
  any_t *v = any();
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
  v->int_value = i;
  return kv(key, v);
}

static kv_t *kv_double(const char *key, double d) {
  any_t *v = any();
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
  v->double_value = d;
  return kv(key, v);
}

static kv_t *kv_strings(const char *key, const char *s) {
  any_t *v = any(), **elems = xcalloc(1, sizeof *elems);
  Opentelemetry__Proto__Common__V1__ArrayValue *arr = xcalloc(1, sizeof *arr);
  opentelemetry__proto__common__v1__array_value__init(arr);
  elems[0] = any();
  elems[0]->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  elems[0]->string_value = bin(s);
  arr->n_values = 1;
  arr->values = elems;
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  v->array_value = arr;
  return kv(key, v);
}

/* The response id of span i of call n of slot sid: fixed width, so it can be patched in place. */
static void otlp_id(char *out, int sid, uint64_t n, int i) {
  snprintf(out, ID_LEN, "chatcmpl-%s-%06d-%012" PRIu64 "-%05d", cfg.run_id, sid, n, i);
}

/* Builds the template: cfg.batch chat spans of one resource and scope (what OpenLLMetry JS sends). */
static void otlp_template(void) {
  static char prompt[2200], completion[600];
  if (cfg.prompts) {
    /* OpenLLMetry records the messages as JSON; a system prompt and a question, and the answer */
    int n = snprintf(prompt, sizeof prompt, "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\",\"content\":\"");
    while (n < 1900) n += snprintf(prompt + n, sizeof prompt - (size_t)n, "You are a helpful support agent. ");
    snprintf(prompt + n, sizeof prompt - (size_t)n,
             "\"}]},{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Where is my order?\"}]}]");
    n = snprintf(completion, sizeof completion,
                 "[{\"role\":\"assistant\",\"finish_reason\":\"stop\",\"parts\":[{\"type\":\"text\",\"content\":\"");
    while (n < 450) n += snprintf(completion + n, sizeof completion - (size_t)n, "Your order ships tomorrow. ");
    snprintf(completion + n, sizeof completion - (size_t)n, "\"}]}]");
  }
  size_t b = (size_t)cfg.batch;
  char (*ids)[ID_LEN] = xcalloc(b, sizeof *ids);
  Opentelemetry__Proto__Trace__V1__Span *spans = xcalloc(b, sizeof *spans), **spanp = xcalloc(b, sizeof *spanp);
  static uint8_t trace_id[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
  static uint8_t parent_id[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73};
  uint8_t(*span_ids)[8] = xcalloc(b, sizeof *span_ids);
  uint64_t now_ns = (uint64_t)time(NULL) * 1000000000ull;
  for (size_t i = 0; i < b; i++) {
    Opentelemetry__Proto__Trace__V1__Span *sp = &spans[i];
    opentelemetry__proto__trace__v1__span__init(sp);
    otlp_id(ids[i], 0, 0, (int)i);
    memcpy(span_ids[i], parent_id, 8);
    span_ids[i][6] = (uint8_t)(i >> 8);
    span_ids[i][7] = (uint8_t)i;
    sp->trace_id = (ProtobufCBinaryData){16, trace_id};
    sp->span_id = (ProtobufCBinaryData){8, span_ids[i]};
    sp->parent_span_id = (ProtobufCBinaryData){8, parent_id};
    sp->name = "chat gpt-4o-mini";
    sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
    /* a minute ago: a span's end is its event's time, which must lie in the workspace's window */
    sp->start_time_unix_nano = now_ns - 60000000000ull + i * 1000000ull;
    sp->end_time_unix_nano = sp->start_time_unix_nano + 850000000ull;
    kv_t *attrs[] = {
        kv_str("gen_ai.provider.name", "openai"), kv_str("gen_ai.operation.name", "chat"),
        kv_str("gen_ai.request.model", "gpt-4o-mini"), kv_int("gen_ai.request.max_tokens", 1024),
        kv_double("gen_ai.request.temperature", 0.7), kv_str("llm.request.type", "chat"),
        kv_str("traceloop.workflow.name", "support_reply"), kv_str("costlynx.feature", "load-test"),
        kv_str("user.id", "user-42"), kv_str("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        kv_str("gen_ai.response.id", ids[i]), kv_int("gen_ai.usage.input_tokens", 850),
        kv_int("gen_ai.usage.output_tokens", 320), kv_int("gen_ai.usage.total_tokens", 1170),
        kv_int("gen_ai.usage.cache_read.input_tokens", 100), kv_strings("gen_ai.response.finish_reasons", "stop"),
        cfg.prompts ? kv_str("gen_ai.input.messages", prompt) : NULL,
        cfg.prompts ? kv_str("gen_ai.output.messages", completion) : NULL,
    };
    size_t na = sizeof attrs / sizeof attrs[0] - (cfg.prompts ? 0 : 2);
    sp->attributes = xcalloc(na, sizeof *sp->attributes);
    memcpy(sp->attributes, attrs, na * sizeof *attrs);
    sp->n_attributes = na;
    spanp[i] = sp;
  }
  kv_t *res_attrs[] = {kv_str("service.name", "support-api"), kv_str("costlynx.project", "bench"),
                       kv_str("deployment.environment.name", "prod"), kv_str("telemetry.sdk.language", "nodejs"),
                       kv_str("telemetry.sdk.name", "opentelemetry"), kv_str("telemetry.sdk.version", "2.0.1")};
  Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
  res.attributes = res_attrs;
  res.n_attributes = sizeof res_attrs / sizeof res_attrs[0];
  Opentelemetry__Proto__Common__V1__InstrumentationScope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
  scope.name = "@traceloop/instrumentation-openai";
  scope.version = "0.27.0";
  Opentelemetry__Proto__Trace__V1__ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT, *ssp = &ss;
  ss.scope = &scope;
  ss.spans = spanp;
  ss.n_spans = b;
  Opentelemetry__Proto__Trace__V1__ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT, *rsp = &rs;
  rs.resource = &res;
  rs.scope_spans = &ssp;
  rs.n_scope_spans = 1;
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.resource_spans = &rsp;
  req.n_resource_spans = 1;
  g_otlp.len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
  g_otlp.pack = xcalloc(g_otlp.len, 1);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, g_otlp.pack);
  g_otlp.id_len = strlen(ids[0]);
  g_otlp.id_at = xcalloc(b, sizeof *g_otlp.id_at);
  for (size_t i = 0; i < b; i++) {
    uint8_t *at = memmem(g_otlp.pack, g_otlp.len, ids[i], g_otlp.id_len);
    if (!at) {
      fprintf(stderr, "grpc_load: the template lost span %zu's id\n", i);
      exit(2);
    }
    g_otlp.id_at[i] = (size_t)(at - g_otlp.pack);
  }
  /* the template's structs are kept for the process (a load generator builds it once) */
}

/* A fresh export: the template with this call's response ids. */
static grpc_byte_buffer *next_otlp(slot *s) {
  uint64_t n = s->n++;
  char id[ID_LEN];
  if (s->pack_cap < g_otlp.len) {
    free(s->pack);
    s->pack = malloc(g_otlp.len);
    s->pack_cap = g_otlp.len;
    if (!s->pack) {
      perror("malloc");
      exit(2);
    }
    memcpy(s->pack, g_otlp.pack, g_otlp.len);
  }
  for (int i = 0; i < cfg.batch; i++) {
    otlp_id(id, s->id, n, i);
    memcpy(s->pack + g_otlp.id_at[i], id, g_otlp.id_len);
  }
  grpc_slice sl = grpc_slice_from_copied_buffer((const char *)s->pack, g_otlp.len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
  grpc_slice_unref(sl);
  return bb;
}

static void slot_init(slot *s, int id) {
  memset(s, 0, sizeof *s);
  s->id = id;
  s->tsend = (tagrec){s, TAG_SEND};
  s->trecv = (tagrec){s, TAG_RECV};
  size_t b = (size_t)cfg.batch;
  s->ev = calloc(b, sizeof *s->ev);
  s->evp = calloc(b, sizeof *s->evp);
  s->ids = calloc(b, sizeof *s->ids);
  if (!s->ev || !s->evp || !s->ids) {
    perror("calloc");
    exit(2);
  }
  for (size_t i = 0; i < b; i++) {
    Costlynx__V1__UsageEvent *e = &s->ev[i];
    costlynx__v1__usage_event__init(e);
    e->provider = "openai";
    e->model = "gpt-4o-mini";
    e->input_tokens = 850;
    e->output_tokens = 320;
    e->cached_tokens = 100;
    e->request_id = s->ids[i];
    e->project = "bench";
    e->environment = "prod";
    e->feature = "load-test";
    s->evp[i] = e;
  }
}

/* A fresh IngestBatch with unique request_ids "<run>-<slot>-<n>-<i>", as a byte buffer. */
static grpc_byte_buffer *next_message(slot *s) {
  if (cfg.mode == MODE_OTLP) return next_otlp(s);
  uint64_t n = s->n++;
  for (int i = 0; i < cfg.batch; i++) {
    int len = snprintf(s->ids[i], ID_LEN, "%s-%d-%" PRIu64 "-%d", cfg.run_id, s->id, n, i);
    /* --id-len: random letters after the unique part (which ends in a digit, so ids stay
     * unique), as incompressible as real provider ids; e.g. 33 for the disk figure */
    while (len < cfg.id_len) s->ids[i][len++] = (char)('a' + rand() % 26);
    s->ids[i][len] = '\0';
  }
  Costlynx__V1__IngestBatch msg = COSTLYNX__V1__INGEST_BATCH__INIT;
  msg.n_events = (size_t)cfg.batch;
  msg.events = s->evp;
  size_t len = costlynx__v1__ingest_batch__get_packed_size(&msg);
  if (len > s->pack_cap) {
    free(s->pack);
    s->pack_cap = len;
    s->pack = malloc(len);
    if (!s->pack) {
      perror("malloc");
      exit(2);
    }
  }
  costlynx__v1__ingest_batch__pack(&msg, s->pack);
  grpc_slice sl = grpc_slice_from_copied_buffer((const char *)s->pack, len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
  grpc_slice_unref(sl);
  return bb;
}

static void check_batch(grpc_call_error e, const char *what) {
  if (e != GRPC_CALL_OK) {
    fprintf(stderr, "grpc_load: grpc_call_start_batch(%s) failed: %d\n", what, (int)e);
    exit(2);
  }
}

/* Fills ops[] with the receive side: initial metadata, the response, the status. */
static size_t recv_ops(slot *s, grpc_op *ops) {
  ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[0].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &s->recv_bb;
  ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[2].data.recv_status_on_client.trailing_metadata = &s->trail_md;
  ops[2].data.recv_status_on_client.status = &s->status;
  ops[2].data.recv_status_on_client.status_details = &s->details;
  return 3;
}

static void start_call(slot *s) {
  s->call = grpc_channel_create_registered_call(g_chan, NULL, GRPC_PROPAGATE_DEFAULTS, g_cq, g_method,
                                                g_call_deadline, NULL);
  if (!s->call) {
    fprintf(stderr, "grpc_load: grpc_channel_create_registered_call failed\n");
    exit(2);
  }
  grpc_metadata_array_init(&s->init_md);
  grpc_metadata_array_init(&s->trail_md);
  s->recv_bb = NULL;
  s->status = GRPC_STATUS_UNKNOWN;
  s->details = grpc_empty_slice();
  s->msgs_sent = 0;
  s->closing = false;
  s->send_done = false;
  s->recv_done = false;
  s->active = true;
  s->t_call = now_ns();

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  s->send_bb = next_message(s);
  if (cfg.mode != MODE_STREAM) {
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &g_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    size_t n = 3 + recv_ops(s, ops + 3);
    check_batch(grpc_call_start_batch(s->call, ops, n, &s->trecv, NULL), "unary");
    return;
  }
  /* stream: the receive side waits for the summary; the send side goes message by message */
  size_t n = recv_ops(s, ops);
  check_batch(grpc_call_start_batch(s->call, ops, n, &s->trecv, NULL), "stream recv");
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 1;
  ops[0].data.send_initial_metadata.metadata = &g_md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = s->send_bb;
  s->t_msg = now_ns();
  check_batch(grpc_call_start_batch(s->call, ops, 2, &s->tsend, NULL), "stream first send");
}

static void note_error(slot *s) {
  st.errors++;
  if (st.shown_errors++ < 5) {
    char *d = grpc_slice_to_c_string(s->details);
    fprintf(stderr, "grpc_load: slot %d: status %d: %s\n", s->id, (int)s->status, d);
    gpr_free(d);
  }
}

static void decode_response(slot *s) {
  if (!s->recv_bb) {
    st.errors++;
    if (st.shown_errors++ < 5) fprintf(stderr, "grpc_load: status OK without a response message\n");
    return;
  }
  grpc_byte_buffer_reader rd;
  if (!grpc_byte_buffer_reader_init(&rd, s->recv_bb)) {
    st.errors++;
    return;
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
  grpc_byte_buffer_reader_destroy(&rd);
  if (cfg.mode == MODE_OTLP) {
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *o =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
            NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    if (!o) {
      st.errors++;
      return;
    }
    int64_t rej = o->partial_success ? o->partial_success->rejected_spans : 0;
    st.rejected += (uint64_t)rej;
    st.inserted += (uint64_t)(cfg.batch - rej); /* stored or warned about (OTLP says no more) */
    if (o->partial_success && o->partial_success->error_message[0] && st.shown_rejects++ < 3)
      fprintf(stderr, "grpc_load: partial_success %" PRId64 ": %s\n", rej, o->partial_success->error_message);
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(o, NULL);
    return;
  }
  Costlynx__V1__IngestResponse *r =
      costlynx__v1__ingest_response__unpack(NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  if (!r) {
    st.errors++;
    if (st.shown_errors++ < 5) fprintf(stderr, "grpc_load: undecodable IngestResponse\n");
    return;
  }
  st.inserted += r->inserted;
  st.skipped += r->skipped;
  st.rejected += r->rejected;
  if (r->n_errors > 0 && st.shown_rejects++ < 3)
    fprintf(stderr, "grpc_load: rejected %s: %s %s %s\n", r->errors[0]->request_id, r->errors[0]->field,
            r->errors[0]->code, r->errors[0]->message);
  costlynx__v1__ingest_response__free_unpacked(r, NULL);
}

/* Both sides of the call are over: account for it and start the next one while time remains. */
static void finish_call(slot *s, uint64_t t) {
  lat_push(&st.lat_call, t - s->t_call);
  st.calls++;
  int msgs = cfg.mode != MODE_STREAM ? 1 : s->msgs_sent;
  st.messages += (uint64_t)msgs;
  st.events += (uint64_t)msgs * (uint64_t)cfg.batch;
  if (s->status == GRPC_STATUS_OK) decode_response(s);
  else note_error(s);
  if (s->recv_bb) grpc_byte_buffer_destroy(s->recv_bb);
  s->recv_bb = NULL;
  grpc_slice_unref(s->details);
  grpc_metadata_array_destroy(&s->init_md);
  grpc_metadata_array_destroy(&s->trail_md);
  grpc_call_unref(s->call);
  s->call = NULL;
  s->active = false;
  if (t < g_t_end_ns) start_call(s);
}

static void on_send(slot *s, bool ok, uint64_t t) {
  if (s->send_bb) {
    grpc_byte_buffer_destroy(s->send_bb);
    s->send_bb = NULL;
  }
  if (s->closing || !ok || s->recv_done) {
    /* close completed, or the call is over / failing: no more writes */
    if (!s->closing && ok) s->msgs_sent++, lat_push(&st.lat_msg, t - s->t_msg);
    s->send_done = true;
    if (s->recv_done) finish_call(s, t);
    return;
  }
  s->msgs_sent++;
  lat_push(&st.lat_msg, t - s->t_msg);
  grpc_op op;
  memset(&op, 0, sizeof op);
  if (s->msgs_sent < cfg.msgs_per_stream) {
    s->send_bb = next_message(s);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = s->send_bb;
    s->t_msg = now_ns();
  } else {
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    s->closing = true;
  }
  check_batch(grpc_call_start_batch(s->call, &op, 1, &s->tsend, NULL), "stream send");
}

static void on_recv(slot *s, uint64_t t) {
  s->recv_done = true;
  if (cfg.mode != MODE_STREAM) {
    grpc_byte_buffer_destroy(s->send_bb);
    s->send_bb = NULL;
    finish_call(s, t);
  } else if (s->send_done) {
    finish_call(s, t);
  }
  /* else: the pending send completes next (fails fast if the server ended the call) */
}

static void wait_ready(void) {
  static int conn_tag;
  gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(10, GPR_TIMESPAN));
  grpc_connectivity_state s = grpc_channel_check_connectivity_state(g_chan, 1);
  while (s != GRPC_CHANNEL_READY) {
    grpc_channel_watch_connectivity_state(g_chan, s, dl, g_cq, &conn_tag);
    grpc_event ev = grpc_completion_queue_next(g_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE || ev.tag != &conn_tag || !ev.success) {
      fprintf(stderr, "grpc_load: channel to %s not ready after 10 s (state %d)\n", cfg.addr, (int)s);
      exit(1);
    }
    s = grpc_channel_check_connectivity_state(g_chan, 1);
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  char rid[64];
  if (!cfg.run_id) {
    snprintf(rid, sizeof rid, "r%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
    cfg.run_id = rid;
  }
  if (cfg.write_request) {
    otlp_template();
    FILE *f = fopen(cfg.write_request, "wb");
    if (!f || fwrite(g_otlp.pack, 1, g_otlp.len, f) != g_otlp.len || fclose(f) != 0) {
      perror(cfg.write_request);
      return 2;
    }
    return 0;
  }
  grpc_init();
  grpc_arg args[] = {
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_RETRIES, .value.integer = 0},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = 64 << 20},
  };
  grpc_channel_args cargs = {.num_args = sizeof args / sizeof args[0], .args = args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  g_chan = grpc_channel_create(cfg.addr, creds, &cargs);
  grpc_channel_credentials_release(creds);
  g_cq = grpc_completion_queue_create_for_next(NULL);
  static const char *const paths[] = {"/costlynx.v1.UsageIngestion/Ingest", "/costlynx.v1.UsageIngestion/IngestStream",
                                      "/opentelemetry.proto.collector.trace.v1.TraceService/Export"};
  g_method = grpc_channel_register_call(g_chan, paths[cfg.mode], NULL, NULL);
  if (cfg.mode == MODE_OTLP) otlp_template();
  g_md.key = grpc_slice_from_static_string("x-api-key");
  g_md.value = grpc_slice_from_copied_string(cfg.key);

  wait_ready();

  slot *slots = calloc((size_t)cfg.concurrency, sizeof *slots);
  if (!slots) {
    perror("calloc");
    return 2;
  }
  for (int i = 0; i < cfg.concurrency; i++) slot_init(&slots[i], i);

  uint64_t t0 = now_ns(), t_last = t0;
  g_t_end_ns = t0 + (uint64_t)cfg.seconds * 1000000000ull;
  g_call_deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                 gpr_time_from_seconds(cfg.seconds + DRAIN_GRACE_S, GPR_TIMESPAN));
  for (int i = 0; i < cfg.concurrency; i++) start_call(&slots[i]);

  int active = cfg.concurrency;
  while (active > 0) {
    grpc_event ev = grpc_completion_queue_next(g_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
      fprintf(stderr, "grpc_load: unexpected completion queue event %d\n", (int)ev.type);
      return 2;
    }
    tagrec *tr = ev.tag;
    slot *s = tr->s;
    uint64_t t = now_ns();
    if (tr->kind == TAG_RECV) on_recv(s, t);
    else on_send(s, ev.success != 0, t);
    if (!s->active) active--, t_last = t;
  }

  double dur = (double)(t_last - t0) / 1e9;
  qsort(st.lat_call.v, st.lat_call.n, sizeof(uint64_t), cmp_u64);
  qsort(st.lat_msg.v, st.lat_msg.n, sizeof(uint64_t), cmp_u64);
  printf("RESULT mode=%s batch=%d concurrency=%d calls=%" PRIu64 " events=%" PRIu64
         " duration_s=%.3f calls_per_s=%.1f events_per_s=%.1f p50_ms=%.3f p99_ms=%.3f",
         mode_names[cfg.mode], cfg.batch, cfg.concurrency, st.calls, st.events, dur,
         (double)st.calls / dur, (double)st.events / dur, pct_ms(&st.lat_call, 0.50), pct_ms(&st.lat_call, 0.99));
  if (cfg.mode == MODE_OTLP) printf(" prompts=%d request_bytes=%zu", cfg.prompts, g_otlp.len);
  if (cfg.mode == MODE_STREAM)
    printf(" messages=%" PRIu64 " msgs_per_s=%.1f msg_p50_ms=%.3f msg_p99_ms=%.3f", st.messages,
           (double)st.messages / dur, pct_ms(&st.lat_msg, 0.50), pct_ms(&st.lat_msg, 0.99));
  printf(" inserted=%" PRIu64 " skipped=%" PRIu64 " rejected=%" PRIu64 " errors=%" PRIu64 "\n", st.inserted,
         st.skipped, st.rejected, st.errors);
  fflush(stdout);

  for (int i = 0; i < cfg.concurrency; i++) {
    free(slots[i].ev);
    free(slots[i].evp);
    free(slots[i].ids);
    free(slots[i].pack);
  }
  free(slots);
  free(st.lat_call.v);
  free(st.lat_msg.v);
  grpc_slice_unref(g_md.key);
  grpc_slice_unref(g_md.value);
  grpc_channel_destroy(g_chan);
  grpc_completion_queue_shutdown(g_cq);
  while (grpc_completion_queue_next(g_cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(g_cq);
  grpc_shutdown();
  return st.errors ? 1 : 0;
}
