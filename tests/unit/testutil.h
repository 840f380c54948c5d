/* Small helpers shared by the unit tests. */
#ifndef RN_TESTUTIL_H
#define RN_TESTUTIL_H

#include <stddef.h>

/* A fresh empty directory under $TMPDIR (or /tmp); caller frees the path
 * with free() and may remove the tree with rn_test_rmtree. */
char *rn_test_tmpdir(const char *tag);
int rn_test_rmtree(const char *path);
/* Writes len bytes to path; 0 on success. */
int rn_test_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file (malloc'd, NUL-terminated); NULL on error. */
char *rn_test_read_file(const char *path, size_t *len);

/* A test cluster's certificates under dir (EC keys: ~50 ms in all):
 * dir/ca (the CA), and issued by it dir/scheduler, dir/w1, dir/w2
 * (workers), dir/alice, dir/bob (clients), dir/root (an admin); and
 * dir/other-ca with dir/mallory, a client of that other CA. 0 on
 * success. */
int rn_test_pki(const char *dir);

#endif
