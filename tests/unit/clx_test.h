/*
 * clx_test.h — shared helpers for the cmocka unit tests: temp folders on a real
 * filesystem (RocksDB is never mocked) and small assertion shorthands.
 */
#ifndef CLX_TEST_H
#define CLX_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Creates a fresh temp directory; the caller frees the path after clx_test_rmdir. */
static inline char *clx_test_tmpdir(void)
{
    char *dir = strdup("/tmp/clx-unit-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    return dir;
}

static inline void clx_test_rmdir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(dir);
}

#endif
