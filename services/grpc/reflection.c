/*
 * reflection.c — gRPC server reflection (grpc.reflection.v1alpha and v1, which share their
 * messages field for field), answered from the descriptor set compiled into the binary, so
 * grpcurl and similar tools list and call costlynx without the .proto files.
 */
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "grpc_internal.h"

/* build/gen/descriptors.c: a FileDescriptorSet of our public protos */
extern const char clx_descriptor_set[];
extern const size_t clx_descriptor_set_len;

#define MAX_FILES 16
#define MAX_SYMBOLS 256

struct file {
    const uint8_t *data; /* one serialized FileDescriptorProto */
    size_t len;
    char name[256];
    char package[128];
};

static struct file files[MAX_FILES];
static size_t nfiles;
static char symbols[MAX_SYMBOLS][384]; /* fully qualified: package.Message, package.Service.Method */
static size_t symbol_file[MAX_SYMBOLS];
static size_t nsymbols;
static char services[8][384];
static size_t nservices;

/* ---- a minimal protobuf wire reader: enough to walk descriptors ------------------------------ */

struct wire {
    const uint8_t *p, *end;
};

static int varint(struct wire *w, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
        uint8_t b = *w->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 1;
    }
    return 0;
}

/* Next field: returns 1 with its number and, for length-delimited ones, the bytes. */
static int field(struct wire *w, uint32_t *num, const uint8_t **data, size_t *len)
{
    uint64_t key, v;
    if (w->p >= w->end || !varint(w, &key))
        return 0;
    *num = (uint32_t)(key >> 3);
    *data = NULL;
    *len = 0;
    switch (key & 7) {
    case 0:
        return varint(w, &v);
    case 1:
        w->p += 8;
        return w->p <= w->end;
    case 5:
        w->p += 4;
        return w->p <= w->end;
    case 2:
        if (!varint(w, &v) || v > (uint64_t)(w->end - w->p))
            return 0;
        *data = w->p;
        *len = (size_t)v;
        w->p += v;
        return 1;
    default:
        return 0;
    }
}

/* The string field 1 (name) of a message. */
static void name_of(const uint8_t *data, size_t len, char *out, size_t cap)
{
    struct wire w = {data, data + len};
    uint32_t num;
    const uint8_t *d;
    size_t l;
    out[0] = '\0';
    while (field(&w, &num, &d, &l))
        if (num == 1 && d != NULL) {
            snprintf(out, cap, "%.*s", (int)l, (const char *)d);
            return;
        }
}

static void add_symbol(const char *pkg, const char *a, const char *b, size_t file_index)
{
    if (nsymbols == MAX_SYMBOLS)
        return;
    if (b != NULL)
        snprintf(symbols[nsymbols], sizeof(symbols[0]), "%s.%s.%s", pkg, a, b);
    else
        snprintf(symbols[nsymbols], sizeof(symbols[0]), "%s.%s", pkg, a);
    symbol_file[nsymbols++] = file_index;
}

int clx_grpc_reflection_init(void)
{
    struct wire set = {(const uint8_t *)clx_descriptor_set, (const uint8_t *)clx_descriptor_set + clx_descriptor_set_len};
    uint32_t num;
    const uint8_t *d;
    size_t l;
    nfiles = nsymbols = nservices = 0;
    while (field(&set, &num, &d, &l)) {
        if (num != 1 || d == NULL || nfiles == MAX_FILES)
            continue;
        struct file *f = &files[nfiles];
        f->data = d;
        f->len = l;
        f->name[0] = f->package[0] = '\0';
        struct wire fw = {d, d + l};
        uint32_t fnum;
        const uint8_t *fd;
        size_t fl;
        while (field(&fw, &fnum, &fd, &fl)) {
            if (fd == NULL)
                continue;
            if (fnum == 1)
                snprintf(f->name, sizeof(f->name), "%.*s", (int)fl, (const char *)fd);
            else if (fnum == 2)
                snprintf(f->package, sizeof(f->package), "%.*s", (int)fl, (const char *)fd);
        }
        /* second pass: the package is known now */
        fw.p = d;
        while (field(&fw, &fnum, &fd, &fl)) {
            char name[128];
            if (fd == NULL || (fnum != 4 && fnum != 5 && fnum != 6))
                continue;
            name_of(fd, fl, name, sizeof(name));
            add_symbol(f->package, name, NULL, nfiles);
            if (fnum != 6)
                continue;
            if (nservices < 8)
                snprintf(services[nservices++], sizeof(services[0]), "%s.%s", f->package, name);
            struct wire sw = {fd, fd + fl};
            uint32_t snum;
            const uint8_t *sd;
            size_t sl;
            while (field(&sw, &snum, &sd, &sl)) {
                char method[96];
                if (snum == 2 && sd != NULL) {
                    name_of(sd, sl, method, sizeof(method));
                    add_symbol(f->package, name, method, nfiles);
                }
            }
        }
        nfiles++;
    }
    return nfiles > 0 ? CLX_OK : CLX_ECORRUPT;
}

/* ---- the stream ------------------------------------------------------------------------------ */

static grpc_byte_buffer *answer(clx_grpc_call_t *c, Grpc__Reflection__V1alpha__ServerReflectionRequest *req)
{
    Grpc__Reflection__V1alpha__ServerReflectionResponse r = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__FileDescriptorResponse fdr = GRPC__REFLECTION__V1ALPHA__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__ListServiceResponse lsr = GRPC__REFLECTION__V1ALPHA__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__ErrorResponse err = GRPC__REFLECTION__V1ALPHA__ERROR_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__ServiceResponse svc[12];
    Grpc__Reflection__V1alpha__ServiceResponse *svcp[12];
    ProtobufCBinaryData blob;
    r.valid_host = req->host;
    r.original_request = req;
    long found = -1;

    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES: {
        static const char *extra[] = {"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"};
        size_t n = 0;
        for (size_t i = 0; i < nservices; i++, n++) {
            grpc__reflection__v1alpha__service_response__init(&svc[n]);
            svc[n].name = services[i];
            svcp[n] = &svc[n];
        }
        for (size_t i = 0; i < 2; i++, n++) {
            grpc__reflection__v1alpha__service_response__init(&svc[n]);
            svc[n].name = (char *)extra[i];
            svcp[n] = &svc[n];
        }
        lsr.n_service = n;
        lsr.service = svcp;
        r.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        r.list_services_response = &lsr;
        goto pack;
    }
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        for (size_t i = 0; i < nfiles && found < 0; i++)
            if (strcmp(files[i].name, req->file_by_filename) == 0)
                found = (long)i;
        break;
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        for (size_t i = 0; i < nsymbols && found < 0; i++)
            if (strcmp(symbols[i], req->file_containing_symbol) == 0)
                found = (long)symbol_file[i];
        break;
    default:
        break;
    }
    if (found >= 0) {
        blob.data = (uint8_t *)files[found].data;
        blob.len = files[found].len;
        fdr.n_file_descriptor_proto = 1;
        fdr.file_descriptor_proto = &blob;
        r.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        r.file_descriptor_response = &fdr;
    } else {
        err.error_code = 5; /* NOT_FOUND */
        err.error_message = req->message_request_case ==
                                    GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION ||
                                    req->message_request_case ==
                                        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE
                                ? (char *)"extensions are not used by these services"
                                : (char *)"not found";
        r.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        r.error_response = &err;
    }
pack:;
    size_t len = grpc__reflection__v1alpha__server_reflection_response__get_packed_size(&r);
    uint8_t *buf = clx_arena_alloc(c->arena, len ? len : 1);
    grpc__reflection__v1alpha__server_reflection_response__pack(&r, buf);
    return clx_grpc_buffer(buf, len);
}

void clx_grpc_reflection_start(clx_grpc_call_t *c)
{
    clx_grpc_receive(c);
}

void clx_grpc_reflection_event(clx_grpc_call_t *c, int ok)
{
    if (!ok) {
        clx_grpc_end_cancelled(c);
        return;
    }
    if (c->state == S_SENDING) {
        clx_grpc_receive(c);
        return;
    }
    if (c->payload == NULL) { /* the client is done */
        clx_grpc_finish(c, GRPC_STATUS_OK, "", NULL);
        return;
    }
    clx_arena_reset(c->arena);
    uint8_t *data;
    size_t len = clx_grpc_read_payload(c->payload, c->arena, &data);
    ProtobufCAllocator alloc;
    clx_arena_allocator(c->arena, &alloc);
    Grpc__Reflection__V1alpha__ServerReflectionRequest *req =
        grpc__reflection__v1alpha__server_reflection_request__unpack(&alloc, len, data);
    if (req == NULL) {
        clx_grpc_fail(c, CLX_EINVAL, "not a ServerReflectionRequest");
        return;
    }
    clx_grpc_send(c, answer(c, req));
}
