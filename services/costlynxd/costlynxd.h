/*
 * costlynxd.h — what the daemon's files share: the configuration table, the ctl CLI and
 * the catalog compiled into the binary.
 */
#ifndef CLX_COSTLYNXD_H
#define CLX_COSTLYNXD_H

#include <stddef.h>

typedef struct clx_option {
    const char *name; /* flag, without "--" */
    const char *env;  /* environment variable */
    const char *def;
    const char *help;
    int (*valid)(const char *value); /* NULL: any string */
} clx_option_t;

extern const clx_option_t clx_options[];

/* Resolves all options into values[] (flag > environment > default); exits 2 on bad input. */
int clx_config_parse(int argc, char **argv, const char **values);
const char *clx_config_get(const char **values, const char *name);

/* ctl.c: "costlynxd ctl ..." — calls the settings API of a running costlynxd. */
int clx_ctl_main(int argc, char **argv);
/* ctl_import.c: "costlynxd ctl [--url URL] import FILE ..." (every argument after "ctl"); url and
 * token as the ctl resolved them from the environment. */
int clx_ctl_import(int argc, char **argv, const char *url, const char *token);
/* ctl_clickhouse.c: "costlynxd ctl clickhouse-schema [--cluster NAME] ..." (args after the command). */
int clx_ctl_clickhouse_schema(int argc, char **argv);

/* builtin_catalog.c (generated at build time from pricing/catalog/prices.csv) */
extern const char clx_builtin_catalog[];
extern const size_t clx_builtin_catalog_len;

#endif
