/* Sorted runs (core/spill/run.c, docs/SPILL.md): round trips, hash
 * ranges, order, corruption, a full disk; and the per-value encoding
 * they use (core/value/codec.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "spill/run.h"
#include "testutil.h"
#include "value/codec.h"
#include "value/partition.h"
#include "value/value.h"

/* ---- helpers -------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A value of kind i % 9 (9: nested), its content from i. */
static rn_value make_value(rn_arena *a, uint64_t i)
{
    char buf[64];
    int n;
    switch (i % 9) {
    case 0:
        return rn_null();
    case 1:
        return rn_bool(i & 16);
    case 2:
        return rn_int((int64_t)(i * 0x9E3779B97F4A7C15ull));
    case 3:
        return rn_double((double)i / 7.0 - 1e6);
    case 4:
        n = snprintf(buf, sizeof(buf), "key-%llu", (unsigned long long)i);
        return rn_string(rn_arena_memdup(a, buf, (size_t)n), (size_t)n);
    case 5: {
        size_t len = i % 23;
        char *p = rn_arena_alloc(a, len + 1);
        for (size_t k = 0; k < len; k++)
            p[k] = (char)(i >> (k % 8));
        return rn_bytes(p, len);
    }
    case 6: {
        rn_value *items = rn_arena_alloc(a, 3 * sizeof(rn_value));
        items[0] = rn_int((int64_t)i);
        items[1] = rn_string("x", 1);
        items[2] = rn_null();
        return rn_list(items, 3);
    }
    case 7: {
        rn_field *f = rn_arena_alloc(a, 2 * sizeof(rn_field));
        f[0].name.ptr = "user";
        f[0].name.len = 4;
        f[0].value = rn_int((int64_t)i);
        f[1].name.ptr = "";
        f[1].name.len = 0;
        f[1].value = rn_double(0.5);
        return rn_record(f, 2);
    }
    default: {
        rn_value *inner = rn_arena_alloc(a, sizeof(rn_value));
        rn_value *outer = rn_arena_alloc(a, sizeof(rn_value));
        *inner = rn_list(NULL, 0);
        *outer = rn_list(inner, 1);
        return rn_list(outer, 1);
    }
    }
}

typedef struct rec {
    uint64_t hash;
    rn_value v[RN_RUN_MAX_VALUES];
} rec;

static int by_hash(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* n records of nvals values each, sorted by the hash of values[0]. */
static rec *make_records(rn_arena *a, size_t n, unsigned nvals)
{
    rec *r = calloc(n, sizeof(rec));
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        for (unsigned k = 0; k < nvals; k++)
            r[i].v[k] = make_value(a, i * 7 + k * 3);
        r[i].hash = rn_value_hash(&r[i].v[0]);
    }
    qsort(r, n, sizeof(rec), by_hash);
    return r;
}

static char *write_run(const char *dir, const rec *r, size_t n,
                       unsigned nvals, const rn_run_write_opts *opts,
                       rn_run_info *info)
{
    rn_run_writer *w;
    rn_errbuf err;
    rn_run_info tmp;
    char *path;
    assert_int_equal(rn_run_writer_open(&w, dir, nvals, opts, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rn_run_writer_add(w, r[i].hash, r[i].v, &err), 0);
    assert_int_equal(rn_run_writer_records(w), n);
    assert_int_equal(rn_run_writer_finish(w, info ? info : &tmp, &err), 0);
    path = strdup((info ? info : &tmp)->path);
    if (!info)
        rn_run_info_release(&tmp);
    return path;
}

/* Reads the whole run and compares it with r[0..n). */
static void check_run(rn_run_reader *rd, const rec *r, size_t n,
                      unsigned nvals)
{
    rn_errbuf err;
    const rn_value *v;
    uint64_t h;
    size_t i = 0;
    int rc;
    while ((rc = rn_run_reader_next(rd, &h, &v, &err)) == 1) {
        assert_true(i < n);
        assert_int_equal(h, r[i].hash);
        for (unsigned k = 0; k < nvals; k++)
            assert_true(rn_value_identical(&v[k], &r[i].v[k]));
        i++;
    }
    if (rc)
        fail_msg("read failed: %s", err.msg);
    assert_int_equal(i, n);
    assert_int_equal(rn_run_reader_next(rd, &h, &v, &err), 0);
}

static size_t count_entries(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        if (e->d_name[0] != '.' &&
            (!*suffix || (l > s && !strcmp(e->d_name + l - s, suffix))))
            n++;
    }
    closedir(d);
    return n;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The block index, parsed from the bytes as docs/SPILL.md lays it out. */
typedef struct blk {
    uint64_t off, first, last;
    uint32_t count, csize;
} blk;

static size_t parse_index(const uint8_t *f, size_t len, blk *out, size_t cap,
                          uint64_t *foot_off)
{
    const uint8_t *t = f + len - RN_RUN_TRAILER_SIZE;
    uint64_t fo = le64(t), nb = le64(f + fo);
    assert_true(nb <= cap);
    for (uint64_t i = 0; i < nb; i++) {
        const uint8_t *e = f + fo + RN_RUN_FOOTER_FIXED +
                           i * RN_RUN_INDEX_ENTRY_SIZE;
        out[i].off = le64(e);
        out[i].first = le64(e + 8);
        out[i].last = le64(e + 16);
        out[i].count = le32(e + 24);
        out[i].csize = le32(e + 28);
    }
    if (foot_off)
        *foot_off = fo;
    return (size_t)nb;
}

/* ---- the per-value encoding ----------------------------------------- */

/* A value's encoding is exactly its bytes in a partition's body, and the
 * value reader gives the values back, with errors naming the bytes. */
static void test_value_codec(void **state)
{
    rn_arena a;
    rn_buf one, part;
    rn_value vals[18];
    rn_codec_vdec d;
    rn_errbuf err;
    (void)state;
    rn_arena_init(&a, 0);
    rn_buf_init(&one, 0);
    rn_buf_init(&part, 0);
    for (int i = 0; i < 18; i++)
        vals[i] = make_value(&a, (uint64_t)i * 5 + 1);
    for (int i = 0; i < 18; i++)
        assert_int_equal(rn_codec_value_encode(&one, &vals[i]), 0);
    assert_int_equal(rn_codec_encode(&part, vals, 18), 0);
    /* header (16), count 18 (1 byte), body, CRC (4) */
    assert_int_equal(part.len, RN_CODEC_HEADER_SIZE + 1 + one.len + 4);
    assert_memory_equal(part.ptr + RN_CODEC_HEADER_SIZE + 1, one.ptr,
                        one.len);

    rn_codec_vdec_init(&d, one.ptr, one.len, 100, &a, "test values");
    for (int i = 0; i < 18; i++) {
        rn_value v;
        assert_int_equal(rn_codec_vdec_next(&d, &v, &err), 0);
        assert_true(rn_value_identical(&v, &vals[i]));
    }
    assert_int_equal(rn_codec_vdec_left(&d), 0);
    {
        rn_value v;
        assert_int_equal(rn_codec_vdec_next(&d, &v, &err), RN_EFORMAT);
        assert_non_null(strstr(err.msg, "bad test values at byte offset"));
    }
    /* a bad tag, named at its offset (base 100) */
    {
        static const uint8_t junk[] = {0x02, 0x04, 0x0b};
        rn_value v;
        rn_codec_vdec_init(&d, junk, sizeof(junk), 100, &a, "junk");
        assert_int_equal(rn_codec_vdec_next(&d, &v, &err), 0);
        assert_int_equal(v.u.i, 2);
        assert_int_equal(rn_codec_vdec_next(&d, &v, &err), RN_EFORMAT);
        assert_string_equal(err.msg, "bad junk at byte offset 102: unknown "
                                     "value tag 0x0b");
    }
    /* an unknown kind is refused, the buffer unchanged */
    {
        rn_value bad = rn_null();
        size_t len = one.len;
        bad.kind = 42;
        assert_int_equal(rn_codec_value_encode(&one, &bad), RN_ETYPE);
        assert_int_equal(one.len, len);
    }
    rn_buf_release(&one);
    rn_buf_release(&part);
    rn_arena_release(&a);
}

/* ---- round trips ---------------------------------------------------- */

/* Hundreds of thousands of records of every kind, over many blocks, with
 * the default options (zstd) and stored blocks. */
static void test_round_trip(void **state)
{
    const size_t n = 300000;
    char *dir = rn_test_tmpdir("spill-rt");
    rn_arena a;
    rec *r;
    (void)state;
    rn_arena_init(&a, 0);
    r = make_records(&a, n, 2);
    for (int codec = 0; codec < 2; codec++) {
        rn_run_write_opts o = {codec ? RN_RUN_STORED : RN_RUN_ZSTD, 0, 0};
        rn_run_info info;
        rn_run_reader *rd;
        rn_errbuf err;
        struct stat st;
        uint64_t blocks, bytes;
        char *path = write_run(dir, r, n, 2, &o, &info);

        assert_int_equal(info.records, n);
        assert_true(info.blocks > 4);
        assert_int_equal(info.min_hash, r[0].hash);
        assert_int_equal(info.max_hash, r[n - 1].hash);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(info.file_bytes, (uint64_t)st.st_size);
        assert_int_equal(st.st_mode & 0777, 0600);
        if (codec == 0)
            assert_true(info.file_bytes < info.raw_bytes);
        assert_non_null(strstr(path, ".run"));
        assert_int_equal(count_entries(dir, ".tmp"), 0);

        assert_int_equal(rn_run_reader_open(&rd, path, &err), 0);
        assert_int_equal(rn_run_reader_info(rd)->records, n);
        assert_int_equal(rn_run_reader_info(rd)->nvals, 2);
        assert_int_equal(rn_run_reader_info(rd)->raw_bytes, info.raw_bytes);
        check_run(rd, r, n, 2);
        rn_run_reader_stats(rd, &blocks, &bytes);
        assert_int_equal(blocks, info.blocks);
        assert_int_equal(bytes, info.file_bytes);
        rn_run_reader_free(rd);
        rn_run_info_release(&info);
        unlink(path);
        free(path);
    }
    free(r);
    rn_arena_release(&a);
    rn_test_rmtree(dir);
    free(dir);
}

/* 1, 3 and 4 values a record; an empty run; peek does not consume. */
static void test_round_trip_shapes(void **state)
{
    char *dir = rn_test_tmpdir("spill-shapes");
    rn_arena a;
    rn_errbuf err;
    (void)state;
    rn_arena_init(&a, 0);
    for (unsigned nv = 1; nv <= RN_RUN_MAX_VALUES; nv++) {
        rn_run_write_opts o = {RN_RUN_ZSTD, 3, 256};
        rec *r = make_records(&a, 2000, nv);
        char *path = write_run(dir, r, 2000, nv, &o, NULL);
        rn_run_reader *rd;
        uint64_t h;
        assert_int_equal(rn_run_reader_open(&rd, path, &err), 0);
        assert_int_equal(rn_run_reader_info(rd)->nvals, nv);
        assert_int_equal(rn_run_reader_peek(rd, &h, &err), 1);
        assert_int_equal(h, r[0].hash);
        assert_int_equal(rn_run_reader_peek(rd, &h, &err), 1);
        check_run(rd, r, 2000, nv);
        assert_int_equal(rn_run_reader_peek(rd, &h, &err), 0);
        rn_run_reader_free(rd);
        free(path);
        free(r);
    }
    {
        rn_run_info info;
        rn_run_reader *rd;
        char *path = write_run(dir, NULL, 0, 2, NULL, &info);
        uint64_t h;
        const rn_value *v;
        assert_int_equal(info.records, 0);
        assert_int_equal(info.blocks, 0);
        assert_int_equal(info.file_bytes, RN_RUN_MIN_SIZE);
        assert_int_equal(rn_run_reader_open(&rd, path, &err), 0);
        assert_int_equal(rn_run_reader_next(rd, &h, &v, &err), 0);
        rn_run_reader_free(rd);
        rn_run_info_release(&info);
        free(path);
    }
    {
        rn_run_writer *w;
        rn_run_write_opts bad = {RN_RUN_ZSTD, 0, 10};
        assert_int_equal(rn_run_writer_open(&w, dir, 0, NULL, &err),
                         RN_EINVAL);
        assert_int_equal(rn_run_writer_open(&w, dir, 5, NULL, &err),
                         RN_EINVAL);
        assert_int_equal(rn_run_writer_open(&w, dir, 2, &bad, &err),
                         RN_EINVAL);
    }
    {
        rn_run_reader *rd;
        assert_int_equal(rn_run_reader_open(&rd, "/nonexistent/x.run", &err),
                         RN_ENOTFOUND);
    }
    rn_arena_release(&a);
    rn_test_rmtree(dir);
    free(dir);
}

/* Records must come in hash order; a refused one leaves the run usable.
 * A record too large for a block is refused too. */
static void test_order_and_limits(void **state)
{
    char *dir = rn_test_tmpdir("spill-order");
    rn_run_writer *w;
    rn_run_info info;
    rn_run_reader *rd;
    rn_errbuf err;
    rn_value v[2] = {rn_string("a", 1), rn_int(1)};
    uint64_t h;
    const rn_value *out;
    (void)state;
    assert_int_equal(rn_run_writer_open(&w, dir, 2, NULL, &err), 0);
    assert_int_equal(rn_run_writer_add(w, 10, v, &err), 0);
    assert_int_equal(rn_run_writer_add(w, 10, v, &err), 0); /* equal: ok */
    assert_int_equal(rn_run_writer_add(w, 9, v, &err), RN_EINVAL);
    assert_non_null(strstr(err.msg, "non-decreasing hash order"));
    assert_int_equal(count_entries(dir, ".tmp"), 1); /* still being written */
    assert_int_equal(count_entries(dir, ".run"), 0);
    {
        /* 65 MiB: larger than any block */
        size_t big = RN_RUN_BLOCK_MAX + (1 << 20);
        char *s = calloc(1, big);
        rn_value bv[2] = {rn_string("b", 1), rn_bytes(s, big)};
        assert_int_equal(rn_run_writer_add(w, 11, bv, &err), RN_ELIMIT);
        free(s);
    }
    v[1] = rn_int(2);
    assert_int_equal(rn_run_writer_add(w, 12, v, &err), 0);
    assert_int_equal(rn_run_writer_finish(w, &info, &err), 0);
    assert_int_equal(info.records, 3);
    assert_int_equal(rn_run_reader_open(&rd, info.path, &err), 0);
    assert_int_equal(rn_run_reader_next(rd, &h, &out, &err), 1);
    assert_int_equal(h, 10);
    assert_int_equal(rn_run_reader_next(rd, &h, &out, &err), 1);
    assert_int_equal(rn_run_reader_next(rd, &h, &out, &err), 1);
    assert_int_equal(h, 12);
    assert_int_equal(out[1].u.i, 2);
    assert_int_equal(rn_run_reader_next(rd, &h, &out, &err), 0);
    rn_run_reader_free(rd);
    rn_run_info_release(&info);

    /* abort leaves nothing */
    assert_int_equal(rn_run_writer_open(&w, dir, 1, NULL, &err), 0);
    assert_int_equal(rn_run_writer_add(w, 1, v, &err), 0);
    rn_run_writer_abort(w);
    assert_int_equal(count_entries(dir, ".tmp"), 0);
    assert_int_equal(count_entries(dir, ""), 1); /* the run above */
    rn_test_rmtree(dir);
    free(dir);
}

/* ---- hash ranges ---------------------------------------------------- */

static void test_ranges(void **state)
{
    const size_t n = 20000;
    char *dir = rn_test_tmpdir("spill-range");
    rn_arena a;
    rec *r;
    rn_run_write_opts o = {RN_RUN_ZSTD, 0, 4096};
    rn_run_info info;
    char *path;
    uint8_t *file;
    size_t flen, nb;
    blk idx[1024];
    (void)state;
    rn_arena_init(&a, 0);
    r = make_records(&a, n, 2);
    /* spread hashes with runs of equal ones, to cut blocks mid-hash */
    for (size_t i = 0; i < n; i++)
        r[i].hash = (uint64_t)(i / 3) * 0x0000100000000001ull;
    path = write_run(dir, r, n, 2, &o, &info);
    file = (uint8_t *)rn_test_read_file(path, &flen);
    nb = parse_index(file, flen, idx, 1024, NULL);
    assert_int_equal(nb, info.blocks);
    assert_true(nb > 20);

    for (int t = 0; t < 300; t++) {
        uint64_t lo, hi, exp_blocks = 0, blocks, h;
        size_t i0 = 0, got = 0;
        rn_run_reader *rd;
        rn_errbuf err;
        const rn_value *v;
        int rc;
        if (t == 0) {
            lo = 0, hi = UINT64_MAX;
        } else if (t == 1) {
            lo = r[n - 1].hash + 1, hi = UINT64_MAX; /* past the end */
        } else if (t == 2) {
            lo = hi = r[5000].hash; /* one hash, held by 3 records */
        } else if (t == 3) {
            lo = r[7].hash + 1, hi = r[9].hash - 1; /* between two hashes */
        } else {
            uint64_t x = r[next_rand() % n].hash, y = r[next_rand() % n].hash;
            lo = x < y ? x : y;
            hi = x < y ? y : x;
            if (t % 3 == 0)
                lo += next_rand() % 5; /* not on a record's hash */
        }
        for (size_t b = 0; b < nb; b++)
            if (idx[b].first <= hi && idx[b].last >= lo)
                exp_blocks++;
        assert_int_equal(rn_run_reader_open(&rd, path, &err), 0);
        rn_run_reader_set_range(rd, lo, hi);
        while (i0 < n && r[i0].hash < lo)
            i0++;
        while ((rc = rn_run_reader_next(rd, &h, &v, &err)) == 1) {
            assert_true(h >= lo && h <= hi);
            assert_int_equal(h, r[i0 + got].hash);
            assert_true(rn_value_identical(&v[0], &r[i0 + got].v[0]));
            assert_true(rn_value_identical(&v[1], &r[i0 + got].v[1]));
            got++;
        }
        assert_int_equal(rc, 0);
        assert_true(i0 + got == n || r[i0 + got].hash > hi);
        rn_run_reader_stats(rd, &blocks, NULL);
        assert_int_equal(blocks, exp_blocks);
        if (t == 1 || t == 3)
            assert_int_equal(got, 0);
        if (t == 2)
            assert_int_equal(got, 3);
        rn_run_reader_free(rd);
    }
    free(file);
    free(path);
    rn_run_info_release(&info);
    free(r);
    rn_arena_release(&a);
    rn_test_rmtree(dir);
    free(dir);
}

/* ---- corruption ----------------------------------------------------- */

/* Opens and reads bytes to the end: 0 when all is well, else the error
 * (which must name the run). */
static int read_all(const uint8_t *p, size_t len, size_t *records,
                    rn_errbuf *err)
{
    rn_run_reader *rd;
    const rn_value *v;
    uint64_t h;
    size_t n = 0;
    int rc = rn_run_reader_open_mem(&rd, p, len, "corrupt.run", err);
    if (rc)
        return rc;
    while ((rc = rn_run_reader_next(rd, &h, &v, err)) == 1)
        n++;
    if (rc) {
        /* sticky: the same failure again */
        rn_errbuf again;
        assert_int_equal(rn_run_reader_next(rd, &h, &v, &again), rc);
        assert_string_equal(again.msg, err->msg);
    }
    rn_run_reader_free(rd);
    if (records)
        *records = n;
    return rc;
}

static void expect_format_error(const uint8_t *p, size_t len, const char *what,
                                size_t pos)
{
    rn_errbuf err;
    int rc = read_all(p, len, NULL, &err);
    if (rc != RN_EFORMAT)
        fail_msg("%s at %zu: expected RN_EFORMAT, got %d (%s)", what, pos, rc,
                 rc ? err.msg : "no error");
    if (!strstr(err.msg, "corrupt.run"))
        fail_msg("%s at %zu: the message does not name the run: %s", what,
                 pos, err.msg);
}

/* Truncation at every block boundary and many other points; a flipped
 * bit anywhere (headers, blocks, index, trailer); a wrong version. */
static void test_corruption(void **state)
{
    char *dir = rn_test_tmpdir("spill-corrupt");
    rn_arena a;
    rec *r;
    (void)state;
    rn_arena_init(&a, 0);
    r = make_records(&a, 600, 2);
    for (int codec = 0; codec < 2; codec++) {
        rn_run_write_opts o = {codec ? RN_RUN_STORED : RN_RUN_ZSTD, 0, 512};
        char *path = write_run(dir, r, 600, 2, &o, NULL);
        size_t len, nb, rn;
        uint8_t *file = (uint8_t *)rn_test_read_file(path, &len), *copy;
        blk idx[512];
        uint64_t foot;
        rn_errbuf err;

        nb = parse_index(file, len, idx, 512, &foot);
        assert_true(nb > 8);
        assert_int_equal(read_all(file, len, &rn, &err), 0);
        assert_int_equal(rn, 600);
        copy = malloc(len);

        /* truncated at each block's start and end, and in its header */
        for (size_t b = 0; b < nb; b++) {
            size_t cuts[3] = {(size_t)idx[b].off,
                              (size_t)idx[b].off + RN_RUN_BLOCK_HEADER_SIZE,
                              (size_t)idx[b].off + RN_RUN_BLOCK_HEADER_SIZE +
                                  idx[b].csize};
            for (int c = 0; c < 3; c++)
                expect_format_error(file, cuts[c], "truncated", cuts[c]);
        }
        /* every length in the footer and trailer, then random ones */
        for (size_t cut = (size_t)foot; cut < len; cut++)
            expect_format_error(file, cut, "truncated", cut);
        for (int t = 0; t < 300; t++) {
            size_t cut = next_rand() % len;
            expect_format_error(file, cut, "truncated", cut);
        }
        /* a truncated file on disk, through the path */
        {
            char tpath[4096];
            rn_run_reader *rd;
            snprintf(tpath, sizeof(tpath), "%s/cut.run", dir);
            assert_int_equal(rn_test_write_file(tpath, file, len / 2), 0);
            assert_int_equal(rn_run_reader_open(&rd, tpath, &err),
                             RN_EFORMAT);
            assert_non_null(strstr(err.msg, tpath));
            assert_non_null(strstr(err.msg, "trailer"));
            unlink(tpath);
        }

        /* one flipped bit at every byte */
        for (size_t pos = 0; pos < len; pos++) {
            memcpy(copy, file, len);
            copy[pos] ^= (uint8_t)(1u << (pos % 8));
            expect_format_error(copy, len, "flipped bit", pos);
        }
        /* blocks swapped in place (each block intact, the order wrong) */
        if (nb >= 3 && idx[1].csize == idx[2].csize) {
            size_t bl = RN_RUN_BLOCK_HEADER_SIZE + idx[1].csize;
            memcpy(copy, file, len);
            memcpy(copy + idx[1].off, file + idx[2].off, bl);
            memcpy(copy + idx[2].off, file + idx[1].off, bl);
            expect_format_error(copy, len, "swapped blocks", 1);
        }
        /* another version: named as such */
        memcpy(copy, file, len);
        copy[5] = 2;
        assert_int_equal(read_all(copy, len, NULL, &err), RN_EFORMAT);
        assert_non_null(strstr(err.msg, "expected run format version 1, "
                                        "got 2"));
        /* not a run at all */
        assert_int_equal(read_all((const uint8_t *)"hello", 5, NULL, &err),
                         RN_EFORMAT);
        assert_non_null(strstr(err.msg, "not a spill run"));
        assert_int_equal(read_all(NULL, 0, NULL, &err), RN_EFORMAT);
        assert_non_null(strstr(err.msg, "truncated"));
        free(copy);
        free(file);
        free(path);
    }
    free(r);
    rn_arena_release(&a);
    rn_test_rmtree(dir);
    free(dir);
}

/* ---- a full disk ---------------------------------------------------- */

/* Writes until the disk refuses; returns what finish said. */
static int fill(const char *dir, rn_errbuf *err)
{
    rn_run_writer *w;
    rn_run_info info;
    rn_arena a;
    int rc = 0;
    /* stored: every record reaches the disk */
    rn_run_write_opts o = {RN_RUN_STORED, 0, 4096};
    rn_arena_init(&a, 0);
    if ((rc = rn_run_writer_open(&w, dir, 2, &o, err)))
        return rc;
    for (uint64_t i = 0; i < 200000 && !rc; i++) {
        rn_value v[2] = {make_value(&a, i * 9 + 4), rn_int((int64_t)i)};
        rc = rn_run_writer_add(w, i, v, err);
    }
    if (rc) {
        /* every later call fails the same way */
        rn_errbuf again;
        rn_value v[2] = {rn_null(), rn_null()};
        if (rn_run_writer_add(w, 1u << 30, v, &again) != rc ||
            strcmp(again.msg, err->msg))
            rc = RN_EINTERNAL;
        rn_run_writer_abort(w);
    } else {
        rc = rn_run_writer_finish(w, &info, err);
        if (!rc)
            rn_run_info_release(&info);
    }
    rn_arena_release(&a);
    return rc;
}

/* The child's verdict: 0 pass, 77 skip, else fail (message on stderr). */
static int disk_full_child(const char *dir, int use_tmpfs)
{
    rn_errbuf err;
    int rc;
    if (use_tmpfs) {
        /* a private mount namespace: the tmpfs dies with the child */
        if (unshare(CLONE_NEWNS) != 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") != 0)
            return 77;
    } else {
        struct rlimit rl = {128 * 1024, 128 * 1024};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            return 77;
    }
    rc = fill(dir, &err);
    if (rc != RN_EIO) {
        fprintf(stderr, "expected RN_EIO, got %d: %s\n", rc, err.msg);
        return 1;
    }
    if (!strstr(err.msg, "spill to ") || !strstr(err.msg, dir) ||
        !strstr(err.msg, use_tmpfs ? "No space left on device"
                                   : "File too large")) {
        fprintf(stderr, "unexpected message: %s\n", err.msg);
        return 1;
    }
    if (count_entries(dir, "")) {
        fprintf(stderr, "files left behind in %s\n", dir);
        return 1;
    }
    return 0;
}

static void test_disk_full(void **state)
{
    int ran = 0;
    (void)state;
    for (int use_tmpfs = 0; use_tmpfs < 2; use_tmpfs++) {
        char *dir = rn_test_tmpdir("spill-full");
        pid_t pid = fork();
        int status;
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(disk_full_child(dir, use_tmpfs));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 77) {
            assert_int_equal(WEXITSTATUS(status), 0);
            ran++;
        } else {
            print_message("disk full via %s: not possible here, skipped\n",
                          use_tmpfs ? "a tmpfs" : "RLIMIT_FSIZE");
        }
        assert_int_equal(count_entries(dir, ""), 0);
        rn_test_rmtree(dir);
        free(dir);
    }
    assert_true(ran >= 1);
    /* a directory that does not exist: RN_EIO naming it */
    {
        rn_run_writer *w;
        rn_errbuf err;
        assert_int_equal(rn_run_writer_open(&w, "/nonexistent/spill", 2,
                                            NULL, &err),
                         RN_EIO);
        assert_non_null(strstr(err.msg, "spill to /nonexistent/spill"));
    }
}

/* ---- memory --------------------------------------------------------- */

/* Allocation failures at every step: an error, never a crash or a leak
 * (ASan checks the leaks); and what a reader holds is about one block. */
static void test_memory(void **state)
{
    char *dir = rn_test_tmpdir("spill-mem");
    rn_arena a;
    rec *r;
    char *path;
    size_t before;
    (void)state;
    rn_arena_init(&a, 0);
    r = make_records(&a, 3000, 2);
    path = write_run(dir, r, 3000, 2, NULL, NULL);
    for (uint64_t k = 1; k < 200; k++) {
        rn_run_reader *rd = NULL;
        rn_run_writer *w = NULL;
        rn_errbuf err;
        const rn_value *v;
        uint64_t h;
        int rc;
        before = rn_alloc_in_use();
        rn_alloc_fail_after(k);
        rc = rn_run_reader_open(&rd, path, &err);
        while (!rc && (rc = rn_run_reader_next(rd, &h, &v, &err)) == 1)
            ;
        rn_run_reader_free(rd);
        rc = rn_run_writer_open(&w, dir, 2, NULL, &err);
        for (size_t i = 0; !rc && i < 3000; i++)
            rc = rn_run_writer_add(w, r[i].hash, r[i].v, &err);
        if (!rc) {
            rn_run_info info;
            if (!rn_run_writer_finish(w, &info, &err)) {
                unlink(info.path);
                rn_run_info_release(&info);
            }
        } else {
            rn_run_writer_abort(w);
        }
        rn_alloc_fail_after(0);
        assert_int_equal(rn_alloc_in_use(), before);
    }
    assert_int_equal(count_entries(dir, ""), 1);
    {
        /* a reader of a 300k-record run holds about one block */
        rec *big = make_records(&a, 300000, 2);
        char *bp = write_run(dir, big, 300000, 2, NULL, NULL);
        rn_run_reader *rd;
        rn_errbuf err;
        const rn_value *v;
        uint64_t h;
        before = rn_alloc_in_use();
        rn_alloc_peak_reset();
        assert_int_equal(rn_run_reader_open(&rd, bp, &err), 0);
        while (rn_run_reader_next(rd, &h, &v, &err) == 1)
            ;
        print_message("reader peak: %zu bytes\n", rn_alloc_peak() - before);
        assert_true(rn_alloc_peak() - before < 2 * 1024 * 1024);
        rn_run_reader_free(rd);
        free(bp);
        free(big);
    }
    free(path);
    free(r);
    rn_arena_release(&a);
    rn_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_codec),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_shapes),
        cmocka_unit_test(test_order_and_limits),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
