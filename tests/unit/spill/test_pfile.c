/* A partition written to a file as it is made (core/spill/pfile.c): the
 * file holds, at the offset it names, exactly rn_codec_encode's bytes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "spill/pfile.h"
#include "value/codec.h"
#include "testutil.h"

/* Value i of a test partition: ints, strings of growing length, a list. */
static rn_value item(size_t i, char *sbuf)
{
    switch (i % 3) {
    case 0:
        return rn_int((int64_t)i * 7919 - 100000);
    case 1: {
        size_t n = i % 300;
        memset(sbuf, 'a' + (int)(i % 26), n);
        return rn_string(sbuf, n);
    }
    default:
        return rn_double((double)i / 3.0);
    }
}

/* Writes n values in batches of `batch`, compares the file's bytes with
 * rn_codec_encode of the same values, and decodes them back. */
static void roundtrip(size_t n, size_t batch)
{
    char *dir = rn_test_tmpdir("pfile");
    rn_value *v = calloc(n ? n : 1, sizeof(*v));
    char *strs = malloc(n * 300 + 1);
    rn_pfile w;
    rn_errbuf err;
    rn_buf want;
    char *path = NULL, *file;
    uint64_t off = 0, size = 0;
    size_t flen;
    rn_partition *p;

    assert_non_null(dir);
    for (size_t i = 0; i < n; i++)
        v[i] = item(i, strs + i * 300);
    rn_buf_init(&want, 0);
    assert_int_equal(rn_codec_encode(&want, v, n), 0);

    assert_int_equal(rn_pfile_begin(&w, dir, &err), 0);
    for (size_t i = 0; i < n; i += batch)
        assert_int_equal(rn_pfile_push(&w, v + i, n - i < batch ? n - i : batch,
                                       &err), 0);
    assert_int_equal(rn_pfile_end(&w, &path, &off, &size, &err), 0);
    assert_non_null(path);
    assert_int_equal(size, want.len);
    file = rn_test_read_file(path, &flen);
    assert_non_null(file);
    assert_int_equal(flen, off + size);
    assert_memory_equal(file + off, want.ptr, want.len);

    p = rn_partition_new();
    assert_int_equal(rn_codec_decode(file + off, size, p, &err), 0);
    assert_int_equal(p->n, n);
    rn_partition_unref(p);

    unlink(path);
    rn_free(path);
    free(file);
    rn_buf_release(&want);
    free(strs);
    free(v);
    rn_test_rmtree(dir);
    free(dir);
}

static void test_empty(void **state)
{
    (void)state;
    roundtrip(0, 1);
}

/* 127 and 128 values: the count's varint goes from one byte to two, so
 * the encoding starts one byte earlier in the file. */
static void test_count_lengths(void **state)
{
    (void)state;
    roundtrip(1, 1);
    roundtrip(127, 10);
    roundtrip(128, 10);
    roundtrip(16384, 1000);
}

/* Past the writer's 1 MiB buffer: several writes, the CRC combined. */
static void test_large(void **state)
{
    (void)state;
    roundtrip(30000, 4096);
    roundtrip(30000, 1);
}

/* abort removes the file; a missing directory is a clear error. */
static void test_abort_and_errors(void **state)
{
    char *dir = rn_test_tmpdir("pfile-abort");
    rn_pfile w;
    rn_errbuf err;
    rn_value one = rn_int(1);
    struct stat st;
    char *path;
    (void)state;

    assert_int_equal(rn_pfile_begin(&w, dir, &err), 0);
    assert_int_equal(rn_pfile_push(&w, &one, 1, &err), 0);
    path = strdup(w.path);
    assert_int_equal(stat(path, &st), 0);
    rn_pfile_abort(&w);
    rn_pfile_abort(&w); /* twice is fine */
    assert_int_not_equal(stat(path, &st), 0);
    free(path);

    assert_int_equal(rn_pfile_begin(&w, "/nonexistent/runnel-dir", &err), RN_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/runnel-dir"));
    assert_int_equal(rn_pfile_begin(&w, NULL, &err), RN_EINVAL);
    rn_test_rmtree(dir);
    free(dir);
}

/* A full disk while writing: an error, and no file left (/dev/full
 * stands in: every write fails with ENOSPC). */
static void test_full_disk(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char *dir = rn_test_tmpdir("pfile-full");
    char link[4096];
    rn_pfile w;
    rn_errbuf err;
    rn_value one = rn_int(1);
    char *path = NULL;
    uint64_t off, size;
    assert_int_equal(rn_pfile_begin(&w, dir, &err), 0);
    /* swap the file for /dev/full under the same descriptor's name */
    snprintf(link, sizeof(link), "%s", w.path);
    close(w.fd);
    w.fd = open("/dev/full", O_WRONLY);
    assert_true(w.fd >= 0);
    assert_int_equal(rn_pfile_push(&w, &one, 1, &err), 0);
    assert_int_not_equal(rn_pfile_end(&w, &path, &off, &size, &err), 0);
    assert_null(path);
    assert_non_null(strstr(err.msg, "No space left"));
    assert_int_not_equal(access(link, F_OK), 0);
    rn_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_count_lengths),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_abort_and_errors),
        cmocka_unit_test(test_full_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
