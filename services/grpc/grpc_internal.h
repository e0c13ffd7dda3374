/*
 * grpc_internal.h — what the gRPC door's files share: the call object that travels as the
 * completion-queue tag, queue threads, and the finish helpers.
 */
#ifndef CLX_GRPC_INTERNAL_H
#define CLX_GRPC_INTERNAL_H

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "clx_error.h"
#include "clx_grpc.h"

enum clx_grpc_method {
    M_INGEST = 0,
    M_INGEST_STREAM,
    M_HEALTH_CHECK,
    M_HEALTH_WATCH,
    M_REFLECTION_V1ALPHA,
    M_REFLECTION_V1,
    M_OTLP_EXPORT,  /* opentelemetry.proto.collector.trace.v1.TraceService/Export */
    M_VOID,         /* costlynx.v1.UsageIngestion/Void (correct.c) */
    M_AMEND,        /* costlynx.v1.UsageIngestion/Amend (correct.c) */
    M_CHECK_BUDGET, /* costlynx.v1.Budgets/CheckBudget (issue 12) */
    M_COUNT_,
    M_UNKNOWN = M_COUNT_ /* any other method: answered UNIMPLEMENTED */
};

enum clx_grpc_state {
    S_REQUESTED = 0, /* waiting for a client to call */
    S_RECEIVING,     /* a RECV_MESSAGE is in flight */
    S_WORKING,       /* a received message (or the end of the stream) is being handled */
    S_SENDING,       /* a SEND_MESSAGE (streaming answer) is in flight */
    S_WAITING,       /* Watch: waiting for the client to go away */
    S_FINISHING,     /* status sent; the completion frees the call */
};

typedef struct clx_grpc clx_grpc_t;
typedef struct clx_grpc_queue clx_grpc_queue_t;

typedef struct clx_grpc_call {
    clx_grpc_t *server;
    clx_grpc_queue_t *queue;
    enum clx_grpc_method method;
    enum clx_grpc_state state;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details_in; /* M_UNKNOWN: the method the client asked for */
    grpc_byte_buffer *payload;    /* the request (unary) or the last received message */
    grpc_byte_buffer *out;        /* the message being sent */
    grpc_slice details;
    int details_set;
    int sent_initial_md;
    int cancelled;
    grpc_metadata trailer; /* sent with the status when trailer_set */
    int trailer_set;
    /*
     * Batches in flight: the call is freed when the last one completes in S_FINISHING. Two
     * are in flight only when an IngestStream is ended (expiry scan) while it waits for a
     * message. mu orders that scan against the threads that start and finish the receive.
     */
    atomic_int pending;
    pthread_mutex_t mu;
    clx_arena_t *arena; /* the call's memory (a stream's summary lives here) */
    /* ingestion */
    clx_ingest_session_t *session; /* the authenticated key, in arena */
    clx_ingest_t *ing;             /* the request in flight */
    size_t ing_events;             /* its number of events */
    clx_arena_t *batch_arena;      /* IngestStream: one message's memory, reset per message */
    const uint8_t *wire;           /* the message being ingested, as received (in its arena) */
    size_t wire_len;
    clx_ingest_summary_t summary; /* IngestStream: the running summary */
    uint32_t events_seen;
    uint32_t messages_seen;    /* IngestStream: messages processed */
    uint64_t started_ns;       /* IngestStream: when it was authenticated (clx_mono_ns) */
    uint64_t waiting_since_ns; /* when the last RECV_MESSAGE was started */
    /* open IngestStreams of one queue, for the expiry scan (touched by that queue's thread only) */
    struct clx_grpc_call *stream_prev, *stream_next;
    int in_streams;
    /* Watch calls stay open until the client leaves: listed so shutdown can end them */
    struct clx_grpc_call *watch_prev, *watch_next;
    int watching;
    int active; /* counted in clx_grpc_t.active */
} clx_grpc_call_t;

struct clx_grpc_queue {
    clx_grpc_t *server;
    grpc_completion_queue *cq;
    pthread_t tid;
    clx_grpc_call_t *streams; /* open IngestStreams (queue thread only) */
    uint64_t next_scan_ns;
};

struct clx_grpc {
    clx_grpc_config_t cfg;
    grpc_server *server;
    void *methods[M_COUNT_];
    clx_grpc_queue_t *queues;
    size_t nqueues;
    int port;
    atomic_int stopping;  /* quiesced: new calls are answered UNAVAILABLE */
    atomic_int shut_down; /* the core server is shutting down: no more request slots */
    atomic_long calls;    /* live call objects (requested slots included) */
    atomic_long active;   /* calls a client has made that are not finished */
    pthread_mutex_t watch_mu;
    clx_grpc_call_t *watches; /* open health Watch calls */
};

/* Lists / unlists an open Watch call (health.c; call_free unlists). */
void clx_grpc_watch_add(clx_grpc_call_t *c);
void clx_grpc_watch_remove(clx_grpc_call_t *c);

/* Lists / unlists an open IngestStream on its queue (queue thread only; call_free unlists). */
void clx_grpc_stream_add(clx_grpc_call_t *c);
void clx_grpc_stream_remove(clx_grpc_call_t *c);

/* Posts a fresh request slot for method on q (a new call object). */
void clx_grpc_request(clx_grpc_t *g, clx_grpc_queue_t *q, enum clx_grpc_method method);
/*
 * Ends the call: initial metadata (if not sent yet), the optional message (ownership
 * passes to the call), the status with details, and RECV_CLOSE. The completion frees it.
 */
void clx_grpc_finish(clx_grpc_call_t *c, grpc_status_code code, const char *details, grpc_byte_buffer *msg);
/* One trailing metadata entry (key: a static string ending in "-bin" for bytes) for finish. */
void clx_grpc_set_trailer(clx_grpc_call_t *c, const char *key, const void *value, size_t len);
/* Starts a batch of ops on c (counted in c->pending); a failure to start is logged. */
void clx_grpc_start_batch(clx_grpc_call_t *c, grpc_op *ops, size_t n);
/* Ends a call the client cancelled or that broke (nobody reads the status). */
void clx_grpc_end_cancelled(clx_grpc_call_t *c);
/* Ends the call with the gRPC status of err (a clx_err_t, through the error table) and details. */
void clx_grpc_fail(clx_grpc_call_t *c, int err, const char *details);
/* Sends one message on a streaming call; state becomes S_SENDING. */
void clx_grpc_send(clx_grpc_call_t *c, grpc_byte_buffer *msg);
/* Starts receiving the next message; state becomes S_RECEIVING. */
void clx_grpc_receive(clx_grpc_call_t *c);
/* Copies the received message into arena memory; returns its length. */
size_t clx_grpc_read_payload(grpc_byte_buffer *bb, clx_arena_t *arena, uint8_t **data);
/* A byte buffer holding len bytes of data (copied). */
grpc_byte_buffer *clx_grpc_buffer(const void *data, size_t len);
/* The x-api-key metadata value, or NULL. */
const grpc_slice *clx_grpc_metadata(const grpc_metadata_array *md, const char *key);

/* ingest.c */
/*
 * Rejects (clx_ingest_reject) each event of ing whose string fields hold a NUL in the encoded
 * IngestBatch data[0..len) that b (ing's events) was unpacked from: protobuf-c's C strings
 * would cut them. Also called by the fuzz harness tests/fuzz/fuzz_grpc_batch.c.
 */
void clx_grpc_refuse_cut_strings(clx_ingest_t *ing, Costlynx__V1__IngestBatch *b, const uint8_t *data, size_t len);
void clx_grpc_ingest_start(clx_grpc_call_t *c);
void clx_grpc_ingest_event(clx_grpc_call_t *c, int ok);
/* Ends the open IngestStreams of q that waited or lasted past their limits (queue thread). */
void clx_grpc_ingest_expire(clx_grpc_queue_t *q, uint64_t now_ns);
/* ingest.c, shared with correct.c: the call's session from x-api-key (0 after answering
 * UNAUTHENTICATED); the wire readers; the NUL check of one encoded UsageEvent's strings
 * (problem->field set when one holds a NUL, which protobuf-c's C strings would cut) */
int clx_grpc_authenticate(clx_grpc_call_t *c);
int clx_grpc_wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);
int clx_grpc_wire_skip(const uint8_t **p, const uint8_t *end, unsigned wt);
void clx_grpc_scan_event(const uint8_t *p, const uint8_t *end, clx_problem_t *problem);
/* correct.c: Void and Amend */
void clx_grpc_correct_start(clx_grpc_call_t *c);
void clx_grpc_correct_event(clx_grpc_call_t *c, int ok);
/* otlp.c: TraceService/Export (OTLP/gRPC) */
void clx_grpc_otlp_start(clx_grpc_call_t *c);
void clx_grpc_otlp_event(clx_grpc_call_t *c, int ok);
/* health.c */
/* budgets.c: costlynx.v1.Budgets/CheckBudget */
void clx_grpc_budgets_start(clx_grpc_call_t *c);
void clx_grpc_budgets_event(clx_grpc_call_t *c, int ok);
void clx_grpc_health_start(clx_grpc_call_t *c);
void clx_grpc_health_event(clx_grpc_call_t *c, int ok);
/* reflection.c */
int clx_grpc_reflection_init(void);
void clx_grpc_reflection_start(clx_grpc_call_t *c);
void clx_grpc_reflection_event(clx_grpc_call_t *c, int ok);

#endif
