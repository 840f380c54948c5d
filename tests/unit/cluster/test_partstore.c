/* A worker's partition store (core/cluster/partstore.c): partitions past
 * a budget move to disk least recently used first, come back decoded and
 * equal, are served as their files, and leave nothing behind when
 * dropped or when the disk refuses. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "cluster/partstore.h"
#include "spill/pfile.h"
#include "testutil.h"
#include "value/codec.h"
#include "value/value.h"

/* n strings "v<seed>-<i>" padded to make the partition big. */
static rn_partition *make(int seed, size_t n)
{
    rn_partition *p = rn_partition_new();
    char buf[128];
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof(buf), "v%d-%zu-%s", seed, i,
                           "..............................................");
        rn_value v = rn_string(buf, (uint32_t)len);
        assert_int_equal(rn_partition_push(p, &v), 0);
    }
    return p;
}

static size_t files_in(const char *dir)
{
    size_t n = 0;
    struct dirent *d;
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    while ((d = readdir(dh)))
        n += d->d_name[0] != '.';
    closedir(dh);
    return n;
}

static void expect_equal(const rn_partition *a, const rn_partition *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_true(rn_value_equal(&a->items[i], &b->items[i]));
}

static void test_spill_and_back(void **state)
{
    char *dir = rn_test_tmpdir("parts");
    rn_partstore *ps = rn_partstore_new();
    rn_partstore_stats_t st;
    rn_partition *want[4], *got;
    uint64_t moved, one, size;
    rn_errbuf err;
    int fd;
    (void)state;
    assert_int_equal(rn_partstore_set_spill_dir(ps, dir), 0);
    for (int k = 0; k < 4; k++) {
        want[k] = make(k, 20000);
        rn_partition_ref(want[k]);
        assert_int_equal(rn_partstore_put(ps, "j-1", (uint32_t)k, 0, 1, want[k]), 0);
    }
    rn_partstore_stats_ex(ps, &st);
    one = st.bytes / 4;
    assert_int_equal(st.count, 4);
    assert_int_equal(st.spilled, 0);
    /* task 0 was used last: it stays; 1, 2 and 3... go, oldest first */
    got = rn_partstore_get(ps, "j-1", 0);
    rn_partition_unref(got);
    assert_int_equal(rn_partstore_spill(ps, one + one / 2, &moved, &err), 0);
    rn_partstore_stats_ex(ps, &st);
    assert_int_equal(st.spilled, 3);
    assert_true(st.bytes <= one + one / 2);
    assert_true(moved > 0 && moved == st.spilled_bytes);
    assert_int_equal(files_in(dir), 3);
    /* served as its file: exactly the encoding of the partition */
    assert_int_equal(rn_partstore_open(ps, "j-1", 2, 0, &got, &fd, &size, &err), 0);
    assert_null(got);
    assert_true(fd >= 0);
    {
        rn_buf enc, file;
        rn_buf_init(&enc, 0);
        rn_buf_init(&file, 0);
        assert_int_equal(rn_codec_encode(&enc, want[2]->items, want[2]->n), 0);
        assert_int_equal(rn_buf_reserve(&file, (size_t)size), 0);
        assert_int_equal(read(fd, file.ptr, (size_t)size), (ssize_t)size);
        assert_int_equal(size, enc.len);
        assert_memory_equal(file.ptr, enc.ptr, enc.len);
        rn_buf_release(&enc);
        rn_buf_release(&file);
        close(fd);
    }
    /* read back by a task: its own decoded copy, equal; the store keeps
     * the file and holds no more memory than before */
    got = rn_partstore_get(ps, "j-1", 3);
    assert_non_null(got);
    expect_equal(got, want[3]);
    rn_partition_unref(got);
    assert_int_equal(rn_partstore_open(ps, "j-1", 3, 0, &got, &fd, &size, &err), 0);
    assert_null(got);
    assert_true(fd >= 0);
    close(fd);
    rn_partstore_stats_ex(ps, &st);
    assert_int_equal(st.spilled, 3);
    assert_true(st.bytes <= one + one / 2);
    /* dropping removes the files */
    rn_partstore_drop(ps, "j-1", 1);
    assert_int_equal(files_in(dir), 2);
    rn_partstore_drop_job(ps, "j-1");
    assert_int_equal(files_in(dir), 0);
    assert_int_equal(rn_partstore_open(ps, "j-1", 2, 0, &got, &fd, &size, &err),
                     RN_ENOTFOUND);
    for (int k = 0; k < 4; k++)
        rn_partition_unref(want[k]);
    rn_partstore_free(ps);
    rn_test_rmtree(dir);
    free(dir);
}

/* A result written to disk as it was made (spill/pfile.h) is stored as
 * a file whose encoding starts past its first bytes: served from there
 * and read back from there. */
static void test_put_file(void **state)
{
    char *dir = rn_test_tmpdir("parts-file");
    rn_partstore *ps = rn_partstore_new();
    rn_partition *want = make(7, 3000), *got;
    rn_partstore_stats_t st;
    rn_pfile w;
    rn_errbuf err;
    rn_buf enc, file;
    char *path;
    uint64_t off, size, fsize;
    int fd;
    (void)state;
    assert_int_equal(rn_partstore_set_spill_dir(ps, dir), 0);
    assert_int_equal(rn_pfile_begin(&w, dir, &err), 0);
    assert_int_equal(rn_pfile_push(&w, want->items, want->n, &err), 0);
    assert_int_equal(rn_pfile_end(&w, &path, &off, &size, &err), 0);
    assert_true(off > 0); /* 3000 values: a two-byte count */
    assert_int_equal(rn_partstore_put_file(ps, "j-2", 5, 1, 1, path, off, size), 0);
    rn_partstore_stats_ex(ps, &st);
    assert_int_equal(st.count, 1);
    assert_int_equal(st.spilled, 1);
    assert_int_equal(st.spilled_bytes, size);

    assert_int_equal(rn_partstore_open(ps, "j-2", 5, 1, &got, &fd, &fsize, &err), 0);
    assert_null(got);
    assert_int_equal(fsize, size);
    rn_buf_init(&enc, 0);
    rn_buf_init(&file, 0);
    assert_int_equal(rn_codec_encode(&enc, want->items, want->n), 0);
    assert_int_equal(rn_buf_reserve(&file, (size_t)size), 0);
    assert_int_equal(read(fd, file.ptr, (size_t)size), (ssize_t)size);
    assert_memory_equal(file.ptr, enc.ptr, enc.len);
    close(fd);
    rn_buf_release(&enc);
    rn_buf_release(&file);

    got = rn_partstore_get_err(ps, "j-2", 5, 1, &err);
    assert_non_null(got);
    expect_equal(got, want);
    rn_partition_unref(got);
    rn_partstore_drop(ps, "j-2", 5);
    assert_int_equal(files_in(dir), 0);
    rn_partition_unref(want);
    rn_partstore_free(ps);
    rn_test_rmtree(dir);
    free(dir);
}

static void test_no_dir_no_spill_and_bad_disk(void **state)
{
    char *dir = rn_test_tmpdir("parts-bad");
    char gone[4096];
    rn_partstore *ps = rn_partstore_new();
    rn_partstore_stats_t st;
    rn_partition *got;
    uint64_t moved;
    rn_errbuf err;
    (void)state;
    assert_int_equal(rn_partstore_put(ps, "j-2", 0, 0, 1, make(7, 1000)), 0);
    /* without a directory nothing moves */
    assert_int_equal(rn_partstore_spill(ps, 0, &moved, &err), 0);
    assert_int_equal(moved, 0);
    /* a directory that refuses: a clear error, the partition stays whole */
    snprintf(gone, sizeof(gone), "%s/does-not-exist", dir);
    assert_int_equal(rn_partstore_set_spill_dir(ps, gone), 0);
    rn_error_clear(&err);
    assert_int_equal(rn_partstore_spill(ps, 0, &moved, &err), RN_EIO);
    assert_non_null(strstr(err.msg, "cannot spill to"));
    rn_partstore_stats_ex(ps, &st);
    assert_int_equal(st.spilled, 0);
    got = rn_partstore_get(ps, "j-2", 0);
    assert_non_null(got);
    assert_int_equal(got->n, 1000);
    rn_partition_unref(got);
    rn_partstore_free(ps);
    rn_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_and_back),
        cmocka_unit_test(test_no_dir_no_spill_and_bad_disk),
        cmocka_unit_test(test_put_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
