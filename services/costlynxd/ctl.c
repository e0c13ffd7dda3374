/*
 * ctl.c — "costlynxd ctl": a small command line for the settings API of a running server,
 * over a plain HTTP/1.1 connection (loopback or any reachable host).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "clx_mem.h"
#include "costlynxd.h"

static void help(FILE *f)
{
    fprintf(f, "usage: costlynxd ctl [--url URL] [--token TOKEN] [--workspace WS] <command> [args]\n"
               "  URL defaults to $COSTLYNX_URL, else http://$COSTLYNX_HTTP_ADDR (127.0.0.1:8080);\n"
               "  TOKEN to $COSTLYNX_ADMIN_TOKEN; WS to \"default\".\n\n"
               "commands:\n"
               "  workspaces                              list workspaces\n"
               "  workspace-create <slug> [name]          create a workspace\n"
               "  strict on|off                           set strict mode of the workspace\n"
               "  event-window <back-s> <forward-s>|default  the accepted event-time window in seconds\n"
               "                                          (default: 35 days back, 5 minutes ahead)\n"
               "  tag-dimensions [key...]                 the tag keys rolled up for group-bys (at most 5;\n"
               "                                          none: no tag dimensions); later events only\n"
               "  projects                                list projects\n"
               "  project-create <slug> [name]            create a project (with prod, staging, dev)\n"
               "  environments <project>                  list a project's environments\n"
               "  environment-create <project> <slug>     add an environment\n"
               "  keys                                    list ingestion keys (never their secrets)\n"
               "  key-create <name> [--default-project P] [--default-environment E] [--environment LOCK]\n"
               "                                          create a key; prints the secret once\n"
               "  key-revoke <id>                         revoke a key\n"
               "  event <requestId>                       show the stored event of a requestId\n"
               "  events [limit]                          newest stored events\n"
               "  import FILE [--key KEY] [--allow-old] [--parallel N] [--chunk-bytes N]\n"
               "                                          bulk-import an NDJSON file (one event per line, gzip\n"
               "                                          read as such) with an ingestion key ($COSTLYNX_API_KEY)\n"
               "  backup [DIR]                            make a backup in the server's --backup-dir; with DIR\n"
               "                                          (new or empty, on this machine) also copy it there.\n"
               "                                          Restore: costlynxd --data-dir DIR\n"
               "  clickhouse-schema [--cluster NAME] [--database DB] [--table T] [--upgrade]\n"
               "                                          print the ClickHouse DDL of the export (no server)\n");
}

/* Appends s to buf as a JSON string literal. */
static void json_str(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    if (n + 2 >= cap)
        return;
    buf[n++] = '"';
    for (; *s != '\0' && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
}

static void json_member(char *buf, size_t cap, const char *key, const char *val)
{
    if (val == NULL)
        return;
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", n > 1 ? "," : "");
    json_str(buf, cap, key);
    n = strlen(buf);
    snprintf(buf + n, cap - n, ":");
    json_str(buf, cap, val);
}

/* "key":123 when val is 1-15 digits, else "key":"val" (the server refuses it, naming key). */
static void json_number_member(char *buf, size_t cap, const char *key, const char *val)
{
    size_t n = strlen(buf), len = strlen(val);
    snprintf(buf + n, cap - n, "%s", buf[n - 1] == '{' ? "" : ",");
    json_str(buf, cap, key);
    n = strlen(buf);
    if (len > 0 && len <= 15 && strspn(val, "0123456789") == len)
        snprintf(buf + n, cap - n, ":%s", val);
    else {
        snprintf(buf + n, cap - n, ":");
        json_str(buf, cap, val);
    }
}

static void url_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s != '\0' && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

/*
 * Sends one request; prints the body; returns the HTTP status or -1 when unreachable.
 * When empty_fails is set, a 200 answer with an empty "events" list counts as 404. When
 * body_out is not NULL it receives a malloc'd copy of the answer's body (NULL if none).
 */
static int http(const char *url, const char *token, const char *method, const char *path, const char *body,
                int empty_fails, char **body_out)
{
    if (body_out != NULL)
        *body_out = NULL;
    char host[256], port[16] = "80";
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    const char *slash = strchr(p, '/');
    size_t hl = slash != NULL ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof(host)) {
        fprintf(stderr, "costlynxd ctl: bad URL %s\n", url);
        return -1;
    }
    memcpy(host, p, hl);
    host[hl] = '\0';
    char *colon = strrchr(host, ':');
    if (colon != NULL && strchr(colon, ']') == NULL) {
        snprintf(port, sizeof(port), "%s", colon + 1);
        *colon = '\0';
    }
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(h, port, &hints, &res) != 0) {
        fprintf(stderr, "costlynxd ctl: cannot resolve %s\n", h);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        fprintf(stderr, "costlynxd ctl: cannot connect to %s (is costlynxd running?)\n", url);
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    size_t blen = body != NULL ? strlen(body) : 0;
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, h, port, token, blen);
    if (write(fd, head, (size_t)n) != n || (blen && write(fd, body, blen) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *resp = clx_xmalloc(cap);
    ssize_t r;
    while ((r = read(fd, resp + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap)
            resp = clx_xrealloc(resp, cap *= 2);
    }
    close(fd);
    resp[len] = '\0';
    int status = -1;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    char *sep = strstr(resp, "\r\n\r\n");
    if (sep != NULL)
        printf("%s\n", sep + 4);
    if (sep != NULL && body_out != NULL)
        *body_out = clx_xstrdup(sep + 4);
    if (empty_fails && status == 200 && sep != NULL && strstr(sep, "\"events\":[]") != NULL) {
        fprintf(stderr, "costlynxd ctl: no stored event has that requestId\n");
        status = 404;
    }
    free(resp);
    return status;
}

/* Copies one file, fsynced. 0, or -1 with errno set. */
static int copy_file(const char *from, const char *to, off_t *size)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1, saved = 0;
    char buf[1 << 16];
    *size = 0;
    if (in < 0 || (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        goto done;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0)
            goto done;
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0)
                goto done;
            off += w;
        }
        *size += n;
    }
    if (fsync(out) != 0)
        goto done;
    rc = 0;
done:
    saved = errno;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    errno = saved;
    return rc;
}

/*
 * Copies the backup folder src (flat: a checkpoint has no sub-folders) into dst, which must
 * not exist or be empty. Returns 0, or 1 after printing why.
 */
static int copy_backup(const char *src, const char *dst, unsigned long long want_files)
{
    if (mkdir(dst, 0700) != 0) {
        DIR *d = errno == EEXIST ? opendir(dst) : NULL;
        int empty = d != NULL;
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                empty = 0;
        if (d != NULL)
            closedir(d);
        if (!empty) {
            fprintf(stderr, "costlynxd ctl: %s must be a new or empty folder\n", dst);
            return 1;
        }
    }
    DIR *d = opendir(src);
    if (d == NULL) {
        fprintf(stderr,
                "costlynxd ctl: the backup was made on the server at %s, which this machine cannot read (%s); "
                "run ctl on the server's machine, or copy that folder yourself\n",
                src, strerror(errno));
        return 1;
    }
    unsigned long long files = 0, bytes = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char from[4096], to[4096];
        struct stat st;
        snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
        if (stat(from, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        off_t size;
        if (copy_file(from, to, &size) != 0) {
            fprintf(stderr, "costlynxd ctl: cannot copy %s to %s: %s\n", from, to, strerror(errno));
            rc = 1;
            break;
        }
        files++;
        bytes += (unsigned long long)size;
    }
    closedir(d);
    if (rc == 0 && files != want_files) {
        fprintf(stderr, "costlynxd ctl: copied %llu files, the backup has %llu\n", files, want_files);
        rc = 1;
    }
    int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the names too */
        close(dfd);
    }
    if (rc == 0)
        printf("copied %llu files (%llu bytes) to %s\nrestore: costlynxd --data-dir %s\n", files, bytes, dst, dst);
    return rc;
}

/* "backup [DIR]": asks the server for a backup, then copies it into DIR when given. */
static int ctl_backup(const char *url, const char *token, const char *dst)
{
    char *body = NULL;
    int status = http(url, token, "POST", "/api/v1/admin/backup", "{}", 0, &body);
    if (status != 201 || dst == NULL) {
        free(body);
        return status == 201 ? 0 : 1;
    }
    char err[128];
    yajl_val js = body != NULL ? yajl_tree_parse(body, err, sizeof(err)) : NULL;
    const char *pp[] = {"path", NULL}, *fp[] = {"files", NULL};
    yajl_val path = js != NULL ? yajl_tree_get(js, pp, yajl_t_string) : NULL;
    yajl_val files = js != NULL ? yajl_tree_get(js, fp, yajl_t_number) : NULL;
    int rc = 1;
    if (path == NULL || files == NULL || !YAJL_IS_INTEGER(files))
        fprintf(stderr, "costlynxd ctl: the server's answer names no backup path\n");
    else
        rc = copy_backup(YAJL_GET_STRING(path), dst, (unsigned long long)YAJL_GET_INTEGER(files));
    yajl_tree_free(js);
    free(body);
    return rc;
}

int clx_ctl_main(int argc, char **argv)
{
    const char *url = getenv("COSTLYNX_URL"), *token = getenv("COSTLYNX_ADMIN_TOKEN"), *ws = "default";
    const char *dp = NULL, *de = NULL, *lock = NULL;
    char default_url[300];
    if (url == NULL) {
        const char *addr = getenv("COSTLYNX_HTTP_ADDR");
        snprintf(default_url, sizeof(default_url), "http://%s", addr != NULL ? addr : "127.0.0.1:8080");
        url = default_url;
    }
    if (argc > 0 && strcmp(argv[0], "clickhouse-schema") == 0)
        return clx_ctl_clickhouse_schema(argc - 1, argv + 1);
    for (int i = 0; i < argc; i++) { /* import takes flags of its own and needs no admin token */
        if (strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--token") == 0 || strcmp(argv[i], "--workspace") == 0) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "import") == 0)
            return clx_ctl_import(argc, argv, url, token);
        break;
    }
    const char *pos[4] = {0};
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--url") == 0                   ? &url
                            : strcmp(argv[i], "--token") == 0               ? &token
                            : strcmp(argv[i], "--workspace") == 0           ? &ws
                            : strcmp(argv[i], "--default-project") == 0     ? &dp
                            : strcmp(argv[i], "--default-environment") == 0 ? &de
                            : strcmp(argv[i], "--environment") == 0         ? &lock
                                                                            : NULL;
        if (slot != NULL) {
            if (i + 1 == argc) {
                fprintf(stderr, "costlynxd ctl: %s needs a value\n", argv[i]);
                return 2;
            }
            *slot = argv[++i];
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        }
    }
    if (npos == 0 || strcmp(pos[0], "help") == 0) {
        help(npos == 0 ? stderr : stdout);
        return npos == 0 ? 2 : 0;
    }
    if (token == NULL || token[0] == '\0') {
        fprintf(stderr, "costlynxd ctl: set COSTLYNX_ADMIN_TOKEN or pass --token\n");
        return 2;
    }
    char token_copy[512];
    for (int i = 0; i < argc; i++) {
        if (token == argv[i] && strlen(token) < sizeof(token_copy)) {
            /* out of ps and /proc/PID/cmdline as soon as possible; the environment is better */
            snprintf(token_copy, sizeof(token_copy), "%s", token);
            memset(argv[i], 'x', strlen(argv[i]));
            token = token_copy;
        }
    }
    if (strcmp(pos[0], "backup") == 0)
        return ctl_backup(url, token, npos >= 2 ? pos[1] : NULL);
    char wse[200], a1[800], a2[200], path[1400], body[2048] = "{";
    url_escape(wse, sizeof(wse), ws);
    const char *cmd = pos[0], *method = "GET";
    int need = 0;
    if (strcmp(cmd, "workspaces") == 0) {
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces");
    } else if (strcmp(cmd, "workspace-create") == 0 && (need = 2, npos >= 2)) {
        method = "POST";
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces");
        json_member(body, sizeof(body), "slug", pos[1]);
        json_member(body, sizeof(body), "name", pos[2]);
    } else if (strcmp(cmd, "strict") == 0 && (need = 2, npos >= 2)) {
        method = "PATCH";
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s", wse);
        snprintf(body, sizeof(body), "{\"strictMode\":%s", strcmp(pos[1], "on") == 0 ? "true" : "false");
    } else if (strcmp(cmd, "event-window") == 0 && (need = 2, npos >= 2) &&
               (strcmp(pos[1], "default") == 0 || (need = 3, npos >= 3))) {
        method = "PATCH";
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s", wse);
        if (strcmp(pos[1], "default") == 0) {
            snprintf(body, sizeof(body), "{\"eventWindow\":null");
        } else {
            /* digits go as numbers; anything else as text, so the server names the field it refuses */
            snprintf(body, sizeof(body), "{\"eventWindow\":{");
            json_number_member(body, sizeof(body), "backSeconds", pos[1]);
            json_number_member(body, sizeof(body), "forwardSeconds", pos[2]);
            snprintf(body + strlen(body), sizeof(body) - strlen(body), "}");
        }
    } else if (strcmp(cmd, "tag-dimensions") == 0) {
        method = "PATCH";
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s", wse);
        snprintf(body, sizeof(body), "{\"tagDimensions\":[");
        for (int i = 1; i < npos; i++) {
            if (i > 1)
                snprintf(body + strlen(body), sizeof(body) - strlen(body), ",");
            json_str(body, sizeof(body), pos[i]);
        }
        snprintf(body + strlen(body), sizeof(body) - strlen(body), "]");
    } else if (strcmp(cmd, "projects") == 0) {
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/projects", wse);
    } else if (strcmp(cmd, "project-create") == 0 && (need = 2, npos >= 2)) {
        method = "POST";
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/projects", wse);
        json_member(body, sizeof(body), "slug", pos[1]);
        json_member(body, sizeof(body), "name", pos[2]);
    } else if (strcmp(cmd, "environments") == 0 && (need = 2, npos >= 2)) {
        url_escape(a1, sizeof(a1), pos[1]);
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/projects/%s/environments", wse, a1);
    } else if (strcmp(cmd, "environment-create") == 0 && (need = 3, npos >= 3)) {
        method = "POST";
        url_escape(a1, sizeof(a1), pos[1]);
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/projects/%s/environments", wse, a1);
        json_member(body, sizeof(body), "slug", pos[2]);
    } else if (strcmp(cmd, "keys") == 0) {
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/keys", wse);
    } else if (strcmp(cmd, "key-create") == 0 && (need = 2, npos >= 2)) {
        method = "POST";
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/keys", wse);
        json_member(body, sizeof(body), "name", pos[1]);
        json_member(body, sizeof(body), "defaultProject", dp);
        json_member(body, sizeof(body), "defaultEnvironment", de);
        json_member(body, sizeof(body), "environment", lock);
    } else if (strcmp(cmd, "key-revoke") == 0 && (need = 2, npos >= 2)) {
        method = "DELETE";
        url_escape(a1, sizeof(a1), pos[1]);
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/keys/%s", wse, a1);
    } else if (strcmp(cmd, "event") == 0 && (need = 2, npos >= 2)) {
        url_escape(a1, sizeof(a1), pos[1]);
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/usage/events?requestId=%s", wse, a1);
    } else if (strcmp(cmd, "events") == 0) {
        url_escape(a2, sizeof(a2), npos >= 2 ? pos[1] : "20");
        snprintf(path, sizeof(path), "/api/v1/admin/workspaces/%s/usage/events?limit=%s", wse, a2);
    } else {
        if (need > 0)
            fprintf(stderr, "costlynxd ctl: '%s' needs %d argument(s)\n", cmd, need - 1);
        else
            fprintf(stderr, "costlynxd ctl: unknown command '%s'\n", cmd);
        help(stderr);
        return 2;
    }
    size_t bl = strlen(body);
    snprintf(body + bl, sizeof(body) - bl, "}");
    int status =
        http(url, token, method, path, strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0 ? NULL : body,
             strcmp(cmd, "event") == 0, NULL);
    return status >= 200 && status < 300 ? 0 : 1;
}
