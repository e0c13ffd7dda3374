/*
 * clx_test.h — shared helpers for the cmocka unit tests: temp folders on a real
 * filesystem (RocksDB is never mocked) and small assertion shorthands.
 */
#ifndef CLX_TEST_H
#define CLX_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, mkdtemp */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_store.h" /* every test may open a real store in a temp folder */

/* Creates a fresh temp directory; the caller frees the path after clx_test_rmdir. */
static inline char *clx_test_tmpdir(void)
{
    char *dir = strdup("/tmp/clx-unit-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    return dir;
}

static inline int clx_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it (no shell, no symlink following). */
static inline void clx_test_rm_tree(const char *dir)
{
    if (nftw(dir, clx_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static inline void clx_test_rmdir(char *dir)
{
    clx_test_rm_tree(dir);
    free(dir);
}

#endif
