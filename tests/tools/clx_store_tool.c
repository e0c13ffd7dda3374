/*
 * clx_store_tool.c — puts one metadata record into a stopped costlynxd data folder, so the
 * black-box tests can damage a store on purpose (through our store code, on real RocksDB).
 *
 *   clx_store_tool DIR meta-put NAME VALUE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_store.h"

int main(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[2], "meta-put") != 0) {
        fprintf(stderr, "usage: clx_store_tool DIR meta-put NAME VALUE\n");
        return 2;
    }
    clx_store_t *s = NULL;
    char *err = NULL;
    if (clx_store_open(argv[1], &s, &err) != CLX_OK) {
        fprintf(stderr, "clx_store_tool: cannot open %s: %s\n", argv[1], err != NULL ? err : "unknown error");
        free(err);
        return 1;
    }
    int rc = clx_store_meta_put(s, argv[3], argv[4], strlen(argv[4]));
    clx_store_close(s);
    return rc == CLX_OK ? 0 : 1;
}
