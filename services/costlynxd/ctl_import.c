/*
 * ctl_import.c — "costlynxd ctl import FILE": a bulk NDJSON backfill sent to
 * POST /api/v1/usage/import in parts of at most --chunk-bytes (each naming the file line it starts
 * at), over a few kept-alive connections, with progress on stderr and the summed answer on stdout.
 *
 * The server takes one request body whole (h2o 2.2.5 does not stream request bodies), so a file
 * of any size is sent in parts; every line goes through the server's dedup, so a part that failed
 * (a 503, a dropped connection) is simply sent again, and so is a whole interrupted import.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>
#include <zlib.h>

#include "clx_mem.h"
#include "costlynxd.h"

#define MAX_ERRORS 1000          /* listed in the summary, as the server lists them */
#define DEFAULT_CHUNK (8u << 20) /* half the server's default --import-max-body-bytes */
#define MAX_PARALLEL 16
#define RETRIES 8 /* per part, on 503 or a lost connection, with a growing pause */

struct error {
    uint64_t line;
    char *request_id, *field, *code, *message;
};

struct job {
    /* the reader (under mu) */
    pthread_mutex_t mu;
    gzFile in;
    char *carry; /* read but not yet sent: the start of the next part */
    size_t carry_len, carry_cap;
    int eof, failed;
    uint64_t next_line;
    size_t chunk;
    /* where */
    char host[256], port[16], path[128];
    const char *key, *token;
    /* the summed answer (under mu) */
    long long inserted, skipped, rejected, warnings, lines;
    struct error errors[MAX_ERRORS];
    size_t nerrors;
    uint64_t total_lines;
    double started;
    double last_progress;
    int tty;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Lines in the file (for done/total); reads it once through zlib (plain or gzip alike). */
static uint64_t count_lines(const char *file)
{
    gzFile f = gzopen(file, "rb");
    if (f == NULL)
        return 0;
    static char buf[1 << 16];
    uint64_t n = 0;
    int r, last = '\n';
    while ((r = gzread(f, buf, sizeof(buf))) > 0) {
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + r - p))) != NULL; p++)
            n++;
        last = buf[r - 1];
    }
    gzclose(f);
    return n + (last != '\n');
}

/* Appends s as a JSON string literal to f. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/*
 * The next part: whole lines, at most job->chunk bytes (a longer line is sent alone, and the
 * server reports it). Returns a malloc'd buffer (*len bytes) and its first line, or NULL at the end.
 */
static char *next_part(struct job *j, size_t *len, uint64_t *first_line, uint64_t *nlines)
{
    char *buf = NULL;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (j->failed)
            break;
        /* fill the carry to chunk bytes */
        while (!j->eof && j->carry_len < j->chunk) {
            if (j->carry_cap < j->chunk) {
                j->carry_cap = j->chunk;
                j->carry = clx_xrealloc(j->carry, j->carry_cap);
            }
            int r = gzread(j->in, j->carry + j->carry_len, (unsigned)(j->chunk - j->carry_len));
            if (r < 0) {
                int zerr;
                fprintf(stderr, "costlynxd ctl import: cannot read the file: %s\n", gzerror(j->in, &zerr));
                j->failed = 1;
                break;
            }
            if (r == 0)
                j->eof = 1;
            j->carry_len += (size_t)r;
        }
        if (j->failed || j->carry_len == 0)
            break;
        /* cut after the last newline inside the part; a line longer than a part goes alone */
        size_t cut = j->carry_len;
        if (!j->eof || cut > j->chunk) {
            char *nl = NULL;
            for (size_t i = (cut < j->chunk ? cut : j->chunk); i > 0; i--)
                if (j->carry[i - 1] == '\n') {
                    nl = j->carry + i - 1;
                    break;
                }
            if (nl != NULL) {
                cut = (size_t)(nl - j->carry) + 1;
            } else {
                /* one line longer than a part: read on to its end and send it alone */
                char *end = NULL;
                while ((end = memchr(j->carry, '\n', j->carry_len)) == NULL && !j->eof) {
                    j->carry_cap *= 2;
                    j->carry = clx_xrealloc(j->carry, j->carry_cap);
                    int r = gzread(j->in, j->carry + j->carry_len, (unsigned)(j->carry_cap - j->carry_len));
                    if (r <= 0)
                        j->eof = 1;
                    else
                        j->carry_len += (size_t)r;
                }
                cut = end != NULL ? (size_t)(end - j->carry) + 1 : j->carry_len;
            }
        }
        buf = clx_xmalloc(cut);
        memcpy(buf, j->carry, cut);
        memmove(j->carry, j->carry + cut, j->carry_len - cut);
        j->carry_len -= cut;
        uint64_t n = 0;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + cut - p))) != NULL; p++)
            n++;
        if (buf[cut - 1] != '\n')
            n++;
        *len = cut;
        *first_line = j->next_line;
        *nlines = n;
        j->next_line += n;
        break;
    }
    pthread_mutex_unlock(&j->mu);
    return buf;
}

/* A connected socket to the server, or -1. */
static int dial(const struct job *j)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(j->host, j->port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Sends one part over *fd (dialled when -1; closed on any failure) and reads the answer.
 * Returns the HTTP status (the malloc'd body in *out) or -1 when the connection failed.
 */
static int post_part(struct job *j, int *fd, const char *body, size_t len, uint64_t first_line, char **out)
{
    *out = NULL;
    if (*fd < 0 && (*fd = dial(j)) < 0)
        return -1;
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "POST %s%sfirstLine=%llu HTTP/1.1\r\nHost: %s:%s\r\nX-API-Key: %s\r\n%s%s%s"
                     "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
                     j->path, strchr(j->path, '?') != NULL ? "&" : "?", (unsigned long long)first_line, j->host,
                     j->port, j->key, j->token != NULL ? "Authorization: Bearer " : "",
                     j->token != NULL ? j->token : "", j->token != NULL ? "\r\n" : "", len);
    if (n <= 0 || (size_t)n >= sizeof(head) || write_all(*fd, head, (size_t)n) != 0 || write_all(*fd, body, len) != 0)
        goto lost;
    size_t cap = 1 << 16, got = 0;
    char *resp = clx_xmalloc(cap);
    char *sep = NULL;
    long clen = -1;
    for (;;) {
        if (sep != NULL && clen >= 0 && got >= (size_t)(sep + 4 - resp) + (size_t)clen)
            break;
        if (got + 1 >= cap)
            resp = clx_xrealloc(resp, cap *= 2);
        ssize_t r = read(*fd, resp + got, cap - got - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(resp);
            goto lost;
        }
        got += (size_t)r;
        resp[got] = '\0';
        if (sep == NULL && (sep = strstr(resp, "\r\n\r\n")) != NULL) {
            for (char *h = resp; h < sep; h = strstr(h, "\r\n") + 2)
                if (strncasecmp(h, "content-length:", 15) == 0)
                    clen = strtol(h + 15, NULL, 10);
            if (clen < 0) {
                free(resp);
                goto lost; /* the server always sends a length */
            }
        }
    }
    int status = -1;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    size_t off = (size_t)(sep + 4 - resp);
    *out = clx_xstrndup(resp + off, (size_t)clen);
    if (strcasestr(resp, "\r\nconnection: close") != NULL && strcasestr(resp, "\r\nconnection: close") < sep) {
        close(*fd);
        *fd = -1;
    }
    free(resp);
    return status;
lost:
    close(*fd);
    *fd = -1;
    return -1;
}

static const char *str_of(yajl_val obj, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    return v != NULL ? YAJL_GET_STRING(v) : "";
}

static long long num_of(yajl_val obj, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
    return v != NULL && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

static int by_line(const void *a, const void *b)
{
    const struct error *x = a, *y = b;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void free_error(struct error *e)
{
    free(e->request_id);
    free(e->field);
    free(e->code);
    free(e->message);
}

/* Adds one part's answer (caller holds mu); keeps the first MAX_ERRORS errors by line. */
static void add_answer(struct job *j, yajl_val js)
{
    j->inserted += num_of(js, "inserted");
    j->skipped += num_of(js, "skipped");
    j->rejected += num_of(js, "rejected");
    j->warnings += num_of(js, "warnings");
    j->lines += num_of(js, "lines");
    const char *ep[] = {"errors", NULL};
    yajl_val errs = yajl_tree_get(js, ep, yajl_t_array);
    for (size_t i = 0; errs != NULL && i < errs->u.array.len; i++) {
        yajl_val e = errs->u.array.values[i];
        struct error x = {.line = (uint64_t)num_of(e, "line"),
                          .request_id = clx_xstrdup(str_of(e, "requestId")),
                          .field = clx_xstrdup(str_of(e, "field")),
                          .code = clx_xstrdup(str_of(e, "code")),
                          .message = clx_xstrdup(str_of(e, "message"))};
        if (j->nerrors < MAX_ERRORS) {
            j->errors[j->nerrors++] = x;
            continue;
        }
        /* full: keep the lowest lines (parts finish out of order) */
        size_t worst = 0;
        for (size_t k = 1; k < j->nerrors; k++)
            if (j->errors[k].line > j->errors[worst].line)
                worst = k;
        if (x.line < j->errors[worst].line) {
            free_error(&j->errors[worst]);
            j->errors[worst] = x;
        } else {
            free_error(&x);
        }
    }
}

static void progress(struct job *j, int final)
{
    double t = now_s();
    if (!final && t - j->last_progress < (j->tty ? 0.2 : 1.0))
        return;
    j->last_progress = t;
    double dt = t - j->started;
    long long done = j->lines;
    double rate = dt > 0 ? (double)(j->inserted + j->skipped + j->rejected) / dt : 0;
    int pct = j->total_lines > 0 ? (int)(100.0 * (double)done / (double)j->total_lines) : 100;
    fprintf(stderr, "%simported %lld/%llu lines (%d%%), %.0f events/s%s", j->tty ? "\r" : "", done,
            (unsigned long long)j->total_lines, pct, rate, j->tty && !final ? "" : "\n");
}

static void *sender(void *arg)
{
    struct job *j = arg;
    int fd = -1;
    for (;;) {
        size_t len;
        uint64_t first, nlines;
        char *part = next_part(j, &len, &first, &nlines);
        if (part == NULL)
            break;
        int ok = 0;
        for (int attempt = 0; attempt < RETRIES && !ok; attempt++) {
            if (attempt > 0)
                usleep((useconds_t)(100000u << (attempt < 5 ? attempt : 5))); /* 0.2 s .. 3.2 s */
            char *body = NULL;
            int status = post_part(j, &fd, part, len, first, &body);
            char err[256] = "";
            yajl_val js = body != NULL ? yajl_tree_parse(body, err, sizeof(err)) : NULL;
            if (status == 200 && js != NULL) {
                pthread_mutex_lock(&j->mu);
                add_answer(j, js);
                progress(j, 0);
                pthread_mutex_unlock(&j->mu);
                ok = 1;
            } else if (status == -1 || status == 503) {
                fprintf(stderr, "\ncostlynxd ctl import: lines %llu-%llu: %s; sending them again\n",
                        (unsigned long long)first, (unsigned long long)(first + nlines - 1),
                        status == -1 ? "the connection failed" : "the server asks to retry later");
            } else {
                /* retrying cannot help (a wrong key, a part over the server's limit, ...) */
                fprintf(stderr, "\ncostlynxd ctl import: lines %llu-%llu: HTTP %d %s\n", (unsigned long long)first,
                        (unsigned long long)(first + nlines - 1), status, body != NULL ? body : "");
                yajl_tree_free(js);
                free(body);
                break;
            }
            yajl_tree_free(js);
            free(body);
        }
        free(part);
        if (!ok) {
            pthread_mutex_lock(&j->mu);
            j->failed = 1;
            pthread_mutex_unlock(&j->mu);
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: costlynxd ctl import FILE [--url URL] [--key KEY] [--allow-old] [--parallel N]\n"
                    "                                 [--chunk-bytes N]\n"
                    "  FILE: NDJSON, one UsageEvent per line (gzip files are read as such); KEY defaults to\n"
                    "  $COSTLYNX_API_KEY; --allow-old also needs the admin token ($COSTLYNX_ADMIN_TOKEN / --token)\n");
    return 2;
}

int clx_ctl_import(int argc, char **argv, const char *url, const char *token)
{
    const char *file = NULL, *key = getenv("COSTLYNX_API_KEY"), *par = "2", *chunk = NULL;
    int allow_old = 0, seen_command = 0;
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--url") == 0           ? &url
                            : strcmp(argv[i], "--key") == 0         ? &key
                            : strcmp(argv[i], "--token") == 0       ? &token
                            : strcmp(argv[i], "--parallel") == 0    ? &par
                            : strcmp(argv[i], "--chunk-bytes") == 0 ? &chunk
                                                                    : NULL;
        if (slot != NULL) {
            if (i + 1 == argc)
                return usage();
            *slot = argv[++i];
        } else if (strcmp(argv[i], "--allow-old") == 0) {
            allow_old = 1;
        } else if (strcmp(argv[i], "import") == 0 && !seen_command) {
            seen_command = 1;
        } else if (argv[i][0] == '-' || file != NULL) {
            fprintf(stderr, "costlynxd ctl import: unexpected argument '%s'\n", argv[i]);
            return usage();
        } else {
            file = argv[i];
        }
    }
    if (file == NULL)
        return usage();
    if (key == NULL || key[0] == '\0') {
        fprintf(stderr, "costlynxd ctl import: pass --key or set COSTLYNX_API_KEY (an ingestion key)\n");
        return 2;
    }
    if (allow_old && (token == NULL || token[0] == '\0')) {
        fprintf(stderr, "costlynxd ctl import: --allow-old needs the admin token (COSTLYNX_ADMIN_TOKEN or --token)\n");
        return 2;
    }
    int nthreads = atoi(par);
    if (nthreads < 1 || nthreads > MAX_PARALLEL) {
        fprintf(stderr, "costlynxd ctl import: --parallel must be 1 to %d\n", MAX_PARALLEL);
        return 2;
    }
    struct job *j = clx_xcalloc(1, sizeof(*j));
    j->chunk = chunk != NULL ? (size_t)strtoull(chunk, NULL, 10) : DEFAULT_CHUNK;
    if (j->chunk < 4096) {
        fprintf(stderr, "costlynxd ctl import: --chunk-bytes must be at least 4096\n");
        free(j);
        return 2;
    }
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    const char *slash = strchr(p, '/');
    size_t hl = slash != NULL ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof(j->host)) {
        fprintf(stderr, "costlynxd ctl: bad URL %s\n", url);
        free(j);
        return 2;
    }
    memcpy(j->host, p, hl);
    snprintf(j->port, sizeof(j->port), "80");
    char *colon = strrchr(j->host, ':');
    if (colon != NULL && strchr(colon, ']') == NULL) {
        snprintf(j->port, sizeof(j->port), "%s", colon + 1);
        *colon = '\0';
    }
    if (j->host[0] == '[') {
        memmove(j->host, j->host + 1, strlen(j->host));
        j->host[strlen(j->host) - 1] = '\0';
    }
    snprintf(j->path, sizeof(j->path), "/api/v1/usage/import%s", allow_old ? "?allowOld=true" : "");
    j->key = key;
    j->token = allow_old ? token : NULL;
    j->tty = isatty(2);
    j->next_line = 1;
    pthread_mutex_init(&j->mu, NULL);
    j->total_lines = count_lines(file);
    j->in = gzopen(file, "rb");
    if (j->in == NULL) {
        fprintf(stderr, "costlynxd ctl import: cannot open %s: %s\n", file, strerror(errno));
        free(j);
        return 1;
    }
    gzbuffer(j->in, 1 << 17);
    j->started = now_s();
    pthread_t tid[MAX_PARALLEL];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&tid[i], NULL, sender, j);
    for (int i = 0; i < nthreads; i++)
        pthread_join(tid[i], NULL);
    gzclose(j->in);
    progress(j, 1);

    qsort(j->errors, j->nerrors, sizeof(j->errors[0]), by_line);
    printf("{\"ok\":%s,\"inserted\":%lld,\"skipped\":%lld,\"rejected\":%lld,\"lines\":%lld,\"warnings\":%lld,"
           "\"errors\":[",
           j->failed ? "false" : "true", j->inserted, j->skipped, j->rejected, j->lines, j->warnings);
    for (size_t i = 0; i < j->nerrors; i++) {
        struct error *e = &j->errors[i];
        printf("%s{\"line\":%llu,\"requestId\":", i ? "," : "", (unsigned long long)e->line);
        json_str(stdout, e->request_id);
        printf(",\"field\":");
        json_str(stdout, e->field);
        printf(",\"code\":");
        json_str(stdout, e->code);
        printf(",\"message\":");
        json_str(stdout, e->message);
        printf("}");
        free_error(e);
    }
    printf("]}\n");
    int failed = j->failed;
    if (failed)
        fprintf(stderr, "costlynxd ctl import: not every part was imported (the summary counts those that were); "
                        "send the file again: stored lines are skipped\n");
    free(j->carry);
    pthread_mutex_destroy(&j->mu);
    free(j);
    return failed ? 1 : 0;
}
