/*
 * ctl_clickhouse.c — "costlynxd ctl clickhouse-schema": prints the DDL of the export table
 * (services/export/clx_clickhouse.h), single-node or for a cluster; with --upgrade, the
 * ALTER TABLE ... ADD COLUMN statements a table of an older costlynxd needs. Talks to no server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_clickhouse.h"
#include "costlynxd.h"

int clx_ctl_clickhouse_schema(int argc, char **argv)
{
    const char *db = getenv("COSTLYNX_CLICKHOUSE_DATABASE"), *table = getenv("COSTLYNX_CLICKHOUSE_TABLE");
    const char *cluster = NULL;
    clx_bytes_t out = {0};
    int upgrade = 0;

    if (db == NULL || db[0] == '\0')
        db = CLX_CH_DEFAULT_DATABASE;
    if (table == NULL || table[0] == '\0')
        table = CLX_CH_DEFAULT_TABLE;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--upgrade") == 0) {
            upgrade = 1;
            continue;
        }
        const char **slot = strcmp(argv[i], "--cluster") == 0    ? &cluster
                            : strcmp(argv[i], "--database") == 0 ? &db
                            : strcmp(argv[i], "--table") == 0    ? &table
                                                                 : NULL;
        if (slot == NULL || i + 1 == argc) {
            fprintf(stderr,
                    slot == NULL ? "costlynxd ctl clickhouse-schema: unexpected argument '%s'\n"
                                 : "costlynxd ctl clickhouse-schema: %s needs a value\n",
                    argv[i]);
            fprintf(stderr, "usage: costlynxd ctl clickhouse-schema [--cluster NAME] [--database DB] [--table T] "
                            "[--upgrade]\n");
            return 2;
        }
        *slot = argv[++i];
    }
    const char *bad = !clx_ch_ident_valid(db)                           ? db
                      : !clx_ch_ident_valid(table)                      ? table
                      : cluster != NULL && !clx_ch_ident_valid(cluster) ? cluster
                                                                        : NULL;
    if (bad != NULL) {
        fprintf(stderr, "costlynxd ctl clickhouse-schema: '%s' is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)\n",
                bad);
        return 2;
    }
    clx_ch_target_t t = {.database = db, .table = table, .cluster = cluster};
    if (upgrade)
        clx_ch_upgrade(&out, &t);
    else
        clx_ch_schema(&out, &t);
    fwrite(out.p, 1, out.len, stdout);
    free(out.p);
    return fflush(stdout) == 0 ? 0 : 1;
}
