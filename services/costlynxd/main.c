/*
 * main.c — costlynxd: reads the configuration table once, then builds the house in order:
 * the store, the settings, the group-commit writer, the pipeline (with its catalog), the
 * query service, and the doors (REST and gRPC; the OTLP door answers on both ports). Waits for SIGTERM/SIGINT (SIGHUP
 * reloads the catalog), lets both doors drain at once, and takes everything down in reverse.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clx_clickhouse.h"
#include "clx_error.h"
#include "clx_events.h"
#include "clx_exporter.h"
#include "clx_govern.h"
#include "clx_grpc.h"
#include "clx_http.h"
#include "clx_log.h"
#include "clx_maintenance.h"
#include "clx_otlp_door.h"
#include "clx_pipeline.h"
#include "clx_query.h"
#include "clx_rest.h"
#include "clx_settings.h"
#include "clx_store.h"
#include "clx_writer.h"
#include "costlynxd.h"

/* ---- the configuration table -------------------------------------------------------------- */

static int valid_addr(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon[1] == '\0')
        return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && port >= 0 && port <= 65535;
}

static int valid_count(const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);
    return *v != '\0' && *end == '\0' && n >= 0 && n <= 100000000;
}

static int valid_nonempty(const char *v)
{
    return v[0] != '\0';
}

/*
 * A byte size: digits, then optionally a unit — B, KiB/K/KB, MiB/M/MB, GiB/G/GB, TiB/T/TB
 * (all powers of 1024). Returns 0 with *out set, or -1.
 */
static int parse_size(const char *v, uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
                 {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40}};
    char *end;
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (n > (UINT64_MAX >> units[i].shift))
            return -1;
        *out = (uint64_t)n << units[i].shift;
        return 0;
    }
    return -1;
}

static int valid_size(const char *v)
{
    uint64_t n;
    return parse_size(v, &n) == 0;
}

static int valid_positive(const char *v)
{
    return valid_count(v) && atol(v) > 0;
}

static int valid_cell(const char *v)
{
    return v[0] == '\0' || clx_cell_id_valid(v);
}

static int valid_http_url(const char *v)
{
    return v[0] == '\0' || strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

static int valid_webhook_allow(const char *v)
{
    unsigned mask;
    return clx_net_allow_parse(v, &mask) == CLX_OK;
}

static int valid_level(const char *v)
{
    return strcmp(v, "error") == 0 || strcmp(v, "warn") == 0 || strcmp(v, "info") == 0 || strcmp(v, "debug") == 0;
}

const clx_option_t clx_options[] = {
    {"data-dir", "COSTLYNX_DATA_DIR", "./data", "folder of the embedded RocksDB store", valid_nonempty},
    {"http-addr", "COSTLYNX_HTTP_ADDR", "127.0.0.1:8080", "REST listen address host:port (port 0: any free)",
     valid_addr},
    {"grpc-addr", "COSTLYNX_GRPC_ADDR", "127.0.0.1:50051", "gRPC listen address host:port (port 0: any free)",
     valid_addr},
    {"grpc-max-message-bytes", "COSTLYNX_GRPC_MAX_MESSAGE_BYTES", "4194304",
     "largest gRPC request message (RESOURCE_EXHAUSTED above)", valid_count},
    {"grpc-stream-idle-ms", "COSTLYNX_GRPC_STREAM_IDLE_MS", "60000",
     "longest wait for an IngestStream's next message (DEADLINE_EXCEEDED after; 0: no limit)", valid_count},
    {"grpc-stream-max-ms", "COSTLYNX_GRPC_STREAM_MAX_MS", "3600000",
     "longest IngestStream (DEADLINE_EXCEEDED after; 0: no limit)", valid_count},
    {"grpc-stream-max-messages", "COSTLYNX_GRPC_STREAM_MAX_MESSAGES", "0",
     "most messages in one IngestStream (RESOURCE_EXHAUSTED after; 0: no limit)", valid_count},
    {"admin-token", "COSTLYNX_ADMIN_TOKEN", "", "admin token for /api/v1/admin (generated at first start when empty)",
     NULL},
    {"catalog", "COSTLYNX_CATALOG", "", "price catalog CSV (empty: the catalog built into the binary)", NULL},
    {"http-threads", "COSTLYNX_HTTP_THREADS", "0", "REST event loops (0: one per CPU)", valid_count},
    {"max-queued-events", "COSTLYNX_MAX_QUEUED_EVENTS", "200000",
     "events waiting for the writer before ingest answers 503", valid_count},
    {"max-body-bytes", "COSTLYNX_MAX_BODY_BYTES", "1048576", "largest ingest body (413 above)", valid_count},
    {"import-max-body-bytes", "COSTLYNX_IMPORT_MAX_BODY_BYTES", "16777216",
     "largest body of one bulk import request, as sent (413 above; costlynxd ctl import sends larger files in parts)",
     valid_count},
    {"otlp-max-body-bytes", "COSTLYNX_OTLP_MAX_BODY_BYTES", "16777216",
     "largest OTLP trace export, on either port, as sent and after decompression (413 / RESOURCE_EXHAUSTED above)",
     valid_count},
    {"shutdown-grace-ms", "COSTLYNX_SHUTDOWN_GRACE_MS", "10000", "time to answer in-flight requests on SIGTERM",
     valid_count},
    {"log-level", "COSTLYNX_LOG_LEVEL", "info", "error, warn, info or debug", valid_level},
    {"backup-dir", "COSTLYNX_BACKUP_DIR", "",
     "folder for POST /api/v1/admin/backup and 'ctl backup' (outside the data folder; empty: backups off)", NULL},
    {"backup-keep", "COSTLYNX_BACKUP_KEEP", "0", "backups kept in --backup-dir, oldest deleted first (0: all)",
     valid_count},
    {"disk-reserve", "COSTLYNX_DISK_RESERVE", "1GiB",
     "free space kept on the data folder's disk: ingest and settings writes answer 503 below it (e.g. 512MiB)",
     valid_size},
    {"memtable-budget", "COSTLYNX_MEMTABLE_BUDGET", "0",
     "memory RocksDB's memtables may hold together before the oldest is flushed, e.g. 40MiB (bounds peak RSS; "
     "0: each column family's own buffers only)",
     valid_size},
    /* cells and the ClickHouse export (docs/scale-out.md, docs/clickhouse.md) */
    {"cell-id", "COSTLYNX_CELL_ID", "", "this cell's id ([a-z][a-z0-9]*, <= 16): new keys carry it (empty: no cells)",
     valid_cell},
    {"clickhouse-url", "COSTLYNX_CLICKHOUSE_URL", "",
     "ClickHouse HTTP interface, e.g. http://clickhouse:8123 (empty: no export)", valid_http_url},
    {"clickhouse-database", "COSTLYNX_CLICKHOUSE_DATABASE", CLX_CH_DEFAULT_DATABASE, "ClickHouse database",
     clx_ch_ident_valid},
    {"clickhouse-table", "COSTLYNX_CLICKHOUSE_TABLE", CLX_CH_DEFAULT_TABLE,
     "ClickHouse table the rows go to (the Distributed one on a cluster)", clx_ch_ident_valid},
    {"clickhouse-user", "COSTLYNX_CLICKHOUSE_USER", "", "ClickHouse user (empty: the server's default user)", NULL},
    {"clickhouse-password", "COSTLYNX_CLICKHOUSE_PASSWORD", "", "ClickHouse password (set it in the environment)",
     NULL},
    {"clickhouse-batch-rows", "COSTLYNX_CLICKHOUSE_BATCH_ROWS", "50000", "most rows per ClickHouse INSERT",
     valid_positive},
    {"clickhouse-interval-ms", "COSTLYNX_CLICKHOUSE_INTERVAL_MS", "1000",
     "when the export has caught up, the wait before looking for new events", valid_count},
    /* governance (docs/governance.md) */
    {"webhook-allow", "COSTLYNX_WEBHOOK_ALLOW", "",
     "address classes alert webhooks may reach besides public ones: loopback,private,link-local (empty: none; "
     "a webhook URL is an SSRF vector)",
     valid_webhook_allow},
    {"webhook-timeout-ms", "COSTLYNX_WEBHOOK_TIMEOUT_MS", "15000", "longest alert delivery attempt", valid_positive},
    {"alert-retention-days", "COSTLYNX_ALERT_RETENTION_DAYS", "90",
     "delivered and failed alert deliveries kept this long (0: forever; an alert is never sent twice either way)",
     valid_count},
    {"webhook-retry-ms", "COSTLYNX_WEBHOOK_RETRY_MS", "30000",
     "wait after a failed alert delivery, doubled per failure up to an hour, for at most 24 h", valid_positive},
    {NULL, NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: costlynxd [serve] [--flag value ...]\n"
               "       costlynxd ctl <command> ...   (see 'costlynxd ctl help')\n\n"
               "flags (each also read from its environment variable; flags win):\n");
    for (const clx_option_t *o = clx_options; o->name != NULL; o++)
        fprintf(f, "  --%-20s %-28s %s (default \"%s\")\n", o->name, o->env, o->help, o->def);
}

/*
 * Resolves every option: flag, else environment, else default. Exits with status 2 and a
 * message naming the option on an unknown flag or an invalid value.
 */
int clx_config_parse(int argc, char **argv, const char **values)
{
    size_t n = 0;
    while (clx_options[n].name != NULL)
        n++;
    for (size_t i = 0; i < n; i++) {
        const char *env = getenv(clx_options[i].env);
        values[i] = env != NULL ? env : clx_options[i].def;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "costlynxd: unexpected argument '%s'\n", arg);
            exit(2);
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nl = eq != NULL ? (size_t)(eq - name) : strlen(name);
        size_t i;
        for (i = 0; i < n; i++)
            if (strlen(clx_options[i].name) == nl && strncmp(clx_options[i].name, name, nl) == 0)
                break;
        if (i == n) {
            fprintf(stderr, "costlynxd: unknown flag '--%.*s' (try --help)\n", (int)nl, name);
            exit(2);
        }
        if (eq != NULL) {
            values[i] = eq + 1;
        } else if (a + 1 < argc) {
            values[i] = argv[++a];
        } else {
            fprintf(stderr, "costlynxd: --%s needs a value\n", clx_options[i].name);
            exit(2);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (clx_options[i].valid != NULL && !clx_options[i].valid(values[i])) {
            fprintf(stderr, "costlynxd: invalid value '%s' for --%s (%s): %s\n", values[i], clx_options[i].name,
                    clx_options[i].env, clx_options[i].help);
            exit(2);
        }
    }
    return 0;
}

const char *clx_config_get(const char **values, const char *name)
{
    for (size_t i = 0; clx_options[i].name != NULL; i++)
        if (strcmp(clx_options[i].name, name) == 0)
            return values[i];
    return NULL;
}

/* ---- serve ----------------------------------------------------------------------------------- */

/*
 * A secret given on the command line is readable by every local user in /proc/PID/cmdline
 * and `ps`: the value is copied and the argument's bytes are overwritten at once (which
 * leaves a window between exec and here), and a warning says to use the environment.
 * Returns the copy (to free), or NULL when value is not inside argv.
 */
static char *scrub_secret_arg(int argc, char **argv, const char *value, const char *flag, const char *env)
{
    for (int a = 0; a < argc; a++) {
        size_t len = strlen(argv[a]);
        if (value >= argv[a] && value < argv[a] + len + 1 && value[0] != '\0') {
            char *copy = clx_xstrdup(value);
            memset((char *)value, 'x', strlen(value));
            clx_log(CLX_LOG_WARN, "main",
                    "%s on the command line can be read by other users of this machine (ps, /proc) until it is "
                    "scrubbed; set %s in the environment instead",
                    flag, env);
            return copy;
        }
    }
    return NULL;
}

/* The pipeline's hooks, handed to the governance service. */
static void hook_stored(void *arg, const char *ws, const Costlynx__Store__V1__StoredEvent *rec, uint64_t seq)
{
    clx_govern_on_event(arg, ws, rec, seq);
}

static void hook_check_budget(void *arg, const char *ws, const char *key_id, const clx_budget_call_t *call,
                              clx_arena_t *arena, Costlynx__V1__CheckBudgetResponse *out)
{
    clx_govern_call_t c = {call->project,  call->environment, call->feature, call->user_id,
                           call->tag_keys, call->tag_values,  call->ntags};
    clx_govern_check(arg, ws, key_id, &c, arena, out);
}

static void hook_lock_refused(void *arg, const char *ws, const char *key_id, const char *locked, const char *named,
                              size_t n)
{
    clx_govern_on_lock_refusals(arg, ws, key_id, locked, named, n);
}

static void hook_corrected(void *arg, const char *ws)
{
    clx_govern_on_corrected(arg, ws);
}

static int serve(int argc, char **argv)
{
    const char *values[sizeof(clx_options) / sizeof(clx_options[0])]; /* one per option (the last is NULL) */
    clx_config_parse(argc, argv, values);
    const char *level = clx_config_get(values, "log-level");
    clx_log_set_level(strcmp(level, "error") == 0   ? CLX_LOG_ERROR
                      : strcmp(level, "warn") == 0  ? CLX_LOG_WARN
                      : strcmp(level, "debug") == 0 ? CLX_LOG_DEBUG
                                                    : CLX_LOG_INFO);
    char *admin_token = scrub_secret_arg(argc, argv, clx_config_get(values, "admin-token"), "--admin-token",
                                         "COSTLYNX_ADMIN_TOKEN");
    char *ch_password = scrub_secret_arg(argc, argv, clx_config_get(values, "clickhouse-password"),
                                         "--clickhouse-password", "COSTLYNX_CLICKHOUSE_PASSWORD");

    /* signals are taken by sigwait below, so every thread started from here blocks them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    clx_http_global_init(); /* alert delivery's libcurl, before any thread starts */

    int status = 1;
    clx_store_t *store = NULL;
    clx_settings_t *settings = NULL;
    clx_writer_t *writer = NULL;
    clx_pipeline_t *pipeline = NULL;
    clx_query_t *query = NULL;
    clx_maintenance_t *maintenance = NULL;
    clx_otlp_door_t *otlp = NULL;
    enum { DOOR_REST, DOOR_GRPC, NDOORS };
    clx_door_t doors[NDOORS] = {{0}};
    clx_exporter_t *exporter = NULL;
    clx_govern_t *govern = NULL;
    char *err = NULL;

    const char *dir = clx_config_get(values, "data-dir");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "costlynxd: cannot create data folder %s: %s\n", dir, strerror(errno));
        goto done;
    }
    clx_store_config_t scfg = {0};
    parse_size(clx_config_get(values, "disk-reserve"), &scfg.reserve_bytes);
    parse_size(clx_config_get(values, "memtable-budget"), &scfg.memtable_budget);
    if (clx_store_open_with(dir, &scfg, &store, &err) != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot open the store in %s: %s\n", dir, err != NULL ? err : "unknown error");
        goto done;
    }
    clx_store_space_t space;
    clx_store_space(store, &space);
    if (!space.writable) {
        char why[400];
        clx_store_space_reason(&space, why, sizeof(why));
        /* on stderr for the person or supervisor that started us; /readyz says the same */
        fprintf(stderr, "costlynxd: %s\n", why);
    }
    /* once per data folder written before the event-time index: index its events (before
     * the writer starts, so nothing is written meanwhile) */
    int urc = clx_events_index_upgrade(store, NULL);
    if (urc == CLX_ENOSPC) {
        fprintf(stderr, "costlynxd: no room to index the stored events by event time; older events stay out of "
                        "the event list until a start with free space\n");
    } else if (urc != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot index the stored events by event time: %s\n", clx_strerror(urc));
        goto done;
    }
    int src = clx_settings_open(store, &settings);
    if (src != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot load settings from %s: %s\n", dir, clx_strerror(src));
        goto done;
    }
    char *generated = NULL;
    int admin_rc = clx_settings_admin_init(settings, admin_token != NULL ? admin_token : clx_config_get(values, "admin-token"),
                                           &generated);
    if (admin_token != NULL) {
        memset(admin_token, 0, strlen(admin_token));
        free(admin_token);
        admin_token = NULL;
    }
    if (admin_rc != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot store the generated admin token: %s%s\n", clx_strerror(admin_rc),
                admin_rc == CLX_ENOSPC ? " (set COSTLYNX_ADMIN_TOKEN, which needs no write, or free some space)" : "");
        goto done;
    }
    const char *cell = clx_config_get(values, "cell-id");
    clx_settings_set_cell(settings, cell); /* validated with the options */
    const char *catalog_path = clx_config_get(values, "catalog");
    clx_catalog_source_t source = {catalog_path, clx_builtin_catalog, clx_builtin_catalog_len};
    int rc = clx_writer_create(store, (size_t)atol(clx_config_get(values, "max-queued-events")), &writer);
    if (rc != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot start the writer over %s: %s%s\n", dir, clx_strerror(rc),
                rc == CLX_ECORRUPT ? " (the stored event sequence number is malformed; see the log)" : "");
        goto done;
    }
    rc = clx_pipeline_create(settings, writer, &source, &pipeline, &err);
    if (rc != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot load the price catalog %s: %s\n",
                catalog_path[0] ? catalog_path : "(built in)", err != NULL ? err : clx_strerror(rc));
        goto done;
    }
    const clx_catalog_t *catalog = clx_pipeline_catalog(pipeline);
    clx_log(CLX_LOG_INFO, "pricing", "catalog %s: %zu prices (%s)", catalog_path[0] ? catalog_path : "built in",
            clx_catalog_count(catalog), clx_catalog_version(catalog));

    /* the backup folder: made now (so a mistake shows at start), absolute in answers, and never
     * inside the data folder (RocksDB's folder is its own) */
    char backup_dir[PATH_MAX] = "";
    const char *bdir = clx_config_get(values, "backup-dir");
    if (bdir[0] != '\0') {
        char data_real[PATH_MAX];
        size_t dl;
        if ((mkdir(bdir, 0700) != 0 && errno != EEXIST) || realpath(bdir, backup_dir) == NULL) {
            fprintf(stderr, "costlynxd: cannot use the backup folder %s (--backup-dir): %s\n", bdir, strerror(errno));
            goto done;
        }
        if (realpath(dir, data_real) != NULL && (dl = strlen(data_real), strncmp(backup_dir, data_real, dl) == 0) &&
            (backup_dir[dl] == '\0' || backup_dir[dl] == '/')) {
            fprintf(stderr, "costlynxd: the backup folder %s (--backup-dir) must be outside the data folder %s\n",
                    backup_dir, data_real);
            goto done;
        }
    }

    long threads = atol(clx_config_get(values, "http-threads"));
    if (threads <= 0)
        threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    query = clx_query_create(store);
    clx_query_set_dims(query, clx_writer_dims(writer));
    maintenance = clx_maintenance_create(store, backup_dir, (unsigned)atol(clx_config_get(values, "backup-keep")));
    /* the OTLP door: one state (limits, counters) behind POST /v1/traces and TraceService/Export */
    clx_otlp_door_config_t ocfg = {
        .pipeline = pipeline,
        .max_body = (size_t)atol(clx_config_get(values, "otlp-max-body-bytes")),
    };
    clx_otlp_door_create(&ocfg, &otlp);
    /* governance: budgets in memory (fed by the writer through the pipeline's hook), the alert
     * outbox and its delivery thread; never on the fsync path */
    clx_govern_config_t gvcfg = {
        .store = store,
        .settings = settings,
        .query = query,
        .timeout_ms = atol(clx_config_get(values, "webhook-timeout-ms")),
        .backoff = {atol(clx_config_get(values, "webhook-retry-ms")), 3600000, 86400000},
        .retention_days = atoi(clx_config_get(values, "alert-retention-days")),
    };
    clx_net_allow_parse(clx_config_get(values, "webhook-allow"), &gvcfg.allow); /* validated with the options */
    if (clx_govern_start(&gvcfg, &govern) != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot start budgets and alert delivery (see the log)\n");
        goto done;
    }
    clx_pipeline_hooks_t hooks = {
        .stored = hook_stored,
        .check_budget = hook_check_budget,
        .lock_refused = hook_lock_refused,
        .corrected = hook_corrected,
        .arg = govern,
    };
    clx_pipeline_set_hooks(pipeline, &hooks);
    clx_rest_config_t rcfg = {
        .addr = clx_config_get(values, "http-addr"),
        .threads = (size_t)threads,
        .max_body = (size_t)atol(clx_config_get(values, "max-body-bytes")),
        .import_max_body = (size_t)atol(clx_config_get(values, "import-max-body-bytes")),
        .pipeline = pipeline,
        .settings = settings,
        .query = query,
        .maintenance = maintenance,
        .otlp = otlp,
        .govern = govern,
    };
    free(err);
    err = NULL;
    const char *ch_url = clx_config_get(values, "clickhouse-url");
    if (ch_url[0] != '\0') {
        /* off the ingest path: it only reads committed events; ingestion never waits for it */
        clx_exporter_config_t xcfg = {
            .store = store,
            .url = ch_url,
            .database = clx_config_get(values, "clickhouse-database"),
            .table = clx_config_get(values, "clickhouse-table"),
            .user = clx_config_get(values, "clickhouse-user"),
            .password = ch_password != NULL ? ch_password : clx_config_get(values, "clickhouse-password"),
            .cell = cell,
            .batch_rows = (size_t)atol(clx_config_get(values, "clickhouse-batch-rows")),
            .interval_ms = (unsigned)atol(clx_config_get(values, "clickhouse-interval-ms")),
        };
        if (clx_exporter_start(&xcfg, &exporter, &err) != CLX_OK) {
            fprintf(stderr, "costlynxd: cannot start the ClickHouse export: %s\n", err != NULL ? err : "unknown error");
            goto done;
        }
        rcfg.metrics_extra = clx_exporter_metrics;
        rcfg.metrics_arg = exporter;
    }
    if (clx_rest_start(&rcfg, &doors[DOOR_REST], &err) != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot serve HTTP on %s: %s\n", rcfg.addr, err != NULL ? err : "unknown error");
        goto done;
    }
    clx_grpc_config_t gcfg = {
        .addr = clx_config_get(values, "grpc-addr"),
        .threads = (size_t)threads,
        .max_message = (size_t)atol(clx_config_get(values, "grpc-max-message-bytes")),
        .stream_idle_ms = (unsigned)atol(clx_config_get(values, "grpc-stream-idle-ms")),
        .stream_max_ms = (unsigned)atol(clx_config_get(values, "grpc-stream-max-ms")),
        .stream_max_messages = (unsigned)atol(clx_config_get(values, "grpc-stream-max-messages")),
        .pipeline = pipeline,
        .otlp = otlp,
    };
    if (clx_grpc_start(&gcfg, &doors[DOOR_GRPC], &err) != CLX_OK) {
        fprintf(stderr, "costlynxd: cannot serve gRPC on %s: %s\n", gcfg.addr, err != NULL ? err : "unknown error");
        goto done;
    }
    /* the first lines on stdout are for people and scripts: where to send, how to log in */
    printf("costlynxd ready: http://%.*s:%d\n", (int)(strrchr(rcfg.addr, ':') - rcfg.addr), rcfg.addr,
           doors[DOOR_REST].port);
    printf("costlynxd grpc ready: %.*s:%d\n", (int)(strrchr(gcfg.addr, ':') - gcfg.addr), gcfg.addr,
           doors[DOOR_GRPC].port);
    if (cell[0] != '\0')
        printf("costlynxd cell: %s (new ingestion keys start with clx_%s_)\n", cell, cell);
    if (generated != NULL) {
        printf("admin token (shown once; set COSTLYNX_ADMIN_TOKEN to choose your own): %s\n", generated);
        free(generated);
    }
    fflush(stdout);

    for (;;) {
        int sig = 0;
        sigwait(&sigs, &sig);
        if (sig == SIGHUP) {
            char *reload_err = NULL;
            if (clx_pipeline_reload_catalog(pipeline, &reload_err) != CLX_OK)
                clx_log(CLX_LOG_ERROR, "pricing", "SIGHUP: catalog not reloaded, the running one stays: %s",
                        reload_err != NULL ? reload_err : "unknown error");
            free(reload_err);
            continue;
        }
        clx_log(CLX_LOG_INFO, "main", "signal %d: stopping (finishing in-flight requests)", sig);
        break;
    }
    /* both doors stop taking work and drain what they hold at once, within one grace period;
     * the writer is still running and completes everything handed to it */
    uint64_t deadline = clx_mono_ns() + (uint64_t)atoll(clx_config_get(values, "shutdown-grace-ms")) * 1000000u;
    for (int d = 0; d < NDOORS; d++)
        clx_door_quiesce(&doors[d]);
    for (int d = 0; d < NDOORS; d++)
        clx_door_stop(&doors[d], deadline);
    clx_writer_stats_t st;
    clx_writer_stats(writer, &st);
    clx_log(CLX_LOG_INFO, "main", "writer: %llu synced writes for %llu requests, %llu events (%llu inserted)",
            (unsigned long long)st.groups, (unsigned long long)st.requests, (unsigned long long)st.items,
            (unsigned long long)st.inserted);
    status = 0;

done:
    if (admin_token != NULL) {
        memset(admin_token, 0, strlen(admin_token));
        free(admin_token);
    }
    if (ch_password != NULL) {
        memset(ch_password, 0, strlen(ch_password));
        free(ch_password);
    }
    free(err);
    /* order matters: no door may call the pipeline once the writer is gone */
    for (int d = NDOORS; d-- > 0;)
        clx_door_destroy(&doors[d], clx_mono_ns()); /* a door not stopped yet (a failed start) stops at once */
    clx_exporter_stop(exporter); /* after the doors (/metrics reads it), before the store closes */
    clx_writer_destroy(writer);  /* writes everything still queued (its hook feeds the budgets) */
    clx_govern_stop(govern);     /* after the writer's last hook; pending deliveries stay in the outbox */
    clx_otlp_door_destroy(otlp);
    clx_query_destroy(query);
    clx_maintenance_destroy(maintenance);
    clx_pipeline_destroy(pipeline);
    clx_settings_destroy(settings);
    clx_store_close(store);
    if (status == 0)
        clx_log(CLX_LOG_INFO, "main", "stopped cleanly");
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return clx_ctl_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 2, argv + 2);
    return serve(argc - 1, argv + 1);
}
