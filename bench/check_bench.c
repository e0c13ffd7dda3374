/*
 * check_bench.c — open-loop load on GET /api/v1/budgets/check: requests are scheduled at a
 * fixed rate over keep-alive HTTP/1.1 connections, and each one's latency is measured from
 * its scheduled time (so a slow answer delays the next ones and is counted: no coordinated
 * omission). Prints the achieved rate and p50 / p90 / p99 / p99.9 / max in microseconds.
 *
 * Usage: check_bench HOST PORT KEY [rate=10000] [seconds=10] [connections=32] [query]
 * bench/check_run.sh starts a costlynxd with budgets and drives this.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    int busy;
    uint64_t sched_ns; /* the scheduled time of the request in flight */
    char buf[256 * 1024];
    size_t len;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* A complete response in c->buf: its length, else 0. Fails the run on a non-200. */
static size_t response_len(struct conn *c)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    if (c->len < 12 || memcmp(c->buf + 9, "200", 3) != 0) {
        fprintf(stderr, "check_bench: answer %.*s\n", (int)(c->len > 300 ? 300 : c->len), c->buf);
        exit(1);
    }
    char *cl = memmem(c->buf, (size_t)(end - c->buf), "content-length:", 15);
    if (cl == NULL)
        cl = memmem(c->buf, (size_t)(end - c->buf), "Content-Length:", 15);
    size_t body = cl != NULL ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    size_t total = (size_t)(end - c->buf) + 4 + body;
    return c->len >= total ? total : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: check_bench HOST PORT KEY [rate] [seconds] [connections] [query]\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    const char *key = argv[3];
    double rate = argc > 4 ? atof(argv[4]) : 10000;
    double seconds = argc > 5 ? atof(argv[5]) : 10;
    int nconn = argc > 6 ? atoi(argv[6]) : 32;
    const char *query = argc > 7 ? argv[7] : "";
    char req[1024];
    int reqlen =
        snprintf(req, sizeof(req), "GET /api/v1/budgets/check%s%s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\n\r\n",
                 query[0] ? "?" : "", query, host, key);

    struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
    struct pollfd *pf = calloc((size_t)nconn, sizeof(*pf));
    for (int i = 0; i < nconn; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, host, &sa.sin_addr);
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(cs[i].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            perror("check_bench: connect");
            return 1;
        }
    }
    size_t total = (size_t)(rate * seconds);
    uint64_t *lat = calloc(total ? total : 1, sizeof(*lat));
    uint64_t interval = (uint64_t)(1e9 / rate);
    uint64_t start = now_ns();
    size_t sent = 0, done = 0;
    while (done < total) {
        uint64_t t = now_ns();
        /* every request due by now goes to an idle connection (waiting ones keep their time) */
        while (sent < total && start + sent * interval <= t) {
            int k = -1;
            for (int i = 0; i < nconn && k < 0; i++)
                if (!cs[i].busy)
                    k = i;
            if (k < 0)
                break;
            cs[k].busy = 1;
            cs[k].sched_ns = start + sent * interval;
            cs[k].len = 0;
            if (write(cs[k].fd, req, (size_t)reqlen) != reqlen) {
                perror("check_bench: write");
                return 1;
            }
            sent++;
        }
        for (int i = 0; i < nconn; i++) {
            pf[i].fd = cs[i].fd;
            pf[i].events = cs[i].busy ? POLLIN : 0;
        }
        uint64_t next = sent < total ? start + sent * interval : t + 1000000;
        int wait_ms = next > t ? (int)((next - t) / 1000000) : 0;
        if (poll(pf, (nfds_t)nconn, wait_ms) < 0 && errno != EINTR) {
            perror("check_bench: poll");
            return 1;
        }
        for (int i = 0; i < nconn; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(cs[i].fd, cs[i].buf + cs[i].len, sizeof(cs[i].buf) - cs[i].len);
            if (n <= 0) {
                fprintf(stderr, "check_bench: connection closed after %zu bytes: %.*s\n", cs[i].len,
                        (int)(cs[i].len > 300 ? 300 : cs[i].len), cs[i].buf);
                return 1;
            }
            cs[i].len += (size_t)n;
            if (response_len(&cs[i]) != 0) {
                lat[done++] = now_ns() - cs[i].sched_ns;
                cs[i].busy = 0;
            }
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(lat, total, sizeof(*lat), cmp_u64);
#define PCT(p) (lat[(size_t)((double)(total - 1) * (p))] / 1000)
    printf("requests %zu in %.2f s (%.0f/s, target %.0f/s) over %d connections\n", total, elapsed,
           (double)total / elapsed, rate, nconn);
    printf("latency us: p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n", (unsigned long long)PCT(0.50),
           (unsigned long long)PCT(0.90), (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
           (unsigned long long)(lat[total - 1] / 1000));
    return 0;
}
