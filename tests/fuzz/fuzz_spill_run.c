/*
 * libFuzzer target for the spill run reader (core/spill/run.c,
 * docs/SPILL.md) and the merge over it (core/spill/merge.c).
 *
 * Each input is a run file, read from memory twice: as given (every
 * check, checksums first), and with its checksums rewritten valid
 * wherever the layout lets them be found (file header, each block's
 * header and bytes, footer, trailer), so that mutations reach the index,
 * zstd and the value decoder instead of stopping at a CRC. Each time it
 * is read whole, then restricted to a hash range taken from the input,
 * then merged with itself (two readers of the same bytes).
 *
 * Beyond "no crash, no read outside the input" (ASan), it checks that
 *  - hashes come in non-decreasing order, a range read's within it;
 *  - a read that succeeds returns the footer's record count, and a range
 *    read the records of the full read that fall in the range;
 *  - a self-merge gives every key an even number of records, half from
 *    each reader.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "spill/merge.h"
#include "spill/run.h"
#include "value/codec.h"
#include "value/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Hashes of a full read kept for comparison with range reads. */
#define KEEP_MAX 100000

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

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites every checksum the layout lets us find. */
static void fix_crcs(uint8_t *f, size_t len)
{
    uint64_t foot, flen, off;
    if (len >= RN_RUN_HEADER_SIZE)
        put32(f + 12, rn_codec_crc32c(0, f, 12));
    if (len < RN_RUN_MIN_SIZE)
        return;
    foot = le64(f + len - RN_RUN_TRAILER_SIZE);
    flen = le64(f + len - RN_RUN_TRAILER_SIZE + 8);
    /* the blocks, walked by their own headers */
    for (off = RN_RUN_HEADER_SIZE;
         off + RN_RUN_BLOCK_HEADER_SIZE <= len - RN_RUN_TRAILER_SIZE;) {
        uint8_t *b = f + off;
        uint32_t c = le32(b);
        if (c > len - RN_RUN_TRAILER_SIZE - off - RN_RUN_BLOCK_HEADER_SIZE)
            break;
        put32(b + 12, rn_codec_crc32c(0, b + RN_RUN_BLOCK_HEADER_SIZE, c));
        put32(b + 32, rn_codec_crc32c(0, b, 32));
        off += RN_RUN_BLOCK_HEADER_SIZE + (uint64_t)c;
        if (off >= foot)
            break;
    }
    if (foot <= len - RN_RUN_TRAILER_SIZE && flen >= 4 &&
        flen <= len - RN_RUN_TRAILER_SIZE - foot)
        put32(f + foot + flen - 4,
              rn_codec_crc32c(0, f + foot, (size_t)(flen - 4)));
    put32(f + len - 8, rn_codec_crc32c(0, f + len - RN_RUN_TRAILER_SIZE, 16));
}

/* Touches every value (hash, JSON), as a caller would. */
static void use_values(const rn_value *v, unsigned n, rn_buf *json)
{
    for (unsigned i = 0; i < n; i++) {
        CHECK(rn_value_equal(&v[i], &v[i])); /* NaNs too */
        (void)rn_value_hash(&v[i]);
        rn_buf_reset(json);
        (void)rn_value_to_json(json, &v[i]);
    }
}

/* Reads [lo, hi]; keeps the hashes in keep (when not NULL). Returns the
 * reader's last code; *count gets the records read. */
static int read_range(const uint8_t *f, size_t len, uint64_t lo, uint64_t hi,
                      uint64_t *keep, size_t *count, uint64_t *expect_total)
{
    rn_run_reader *r;
    rn_errbuf err;
    rn_buf json;
    const rn_value *v;
    uint64_t h, prev = 0;
    size_t n = 0;
    int rc = rn_run_reader_open_mem(&r, f, len, "fuzz.run", &err);
    *count = 0;
    if (rc)
        return rc;
    rn_buf_init(&json, 1 << 20);
    if (expect_total)
        *expect_total = rn_run_reader_info(r)->records;
    rn_run_reader_set_range(r, lo, hi);
    while ((rc = rn_run_reader_next(r, &h, &v, &err)) == 1) {
        CHECK(h >= lo && h <= hi);
        CHECK(n == 0 || h >= prev);
        prev = h;
        if (keep && n < KEEP_MAX)
            keep[n] = h;
        use_values(v, rn_run_reader_info(r)->nvals, &json);
        n++;
    }
    CHECK(rc <= 0);
    if (rc)
        CHECK(strstr(err.msg, "fuzz.run") != NULL || rc == RN_ENOMEM);
    rn_buf_release(&json);
    rn_run_reader_free(r);
    *count = n;
    return rc;
}

static void self_merge(const uint8_t *f, size_t len)
{
    rn_run_reader *r[2] = {NULL, NULL};
    rn_merge_input in[2];
    rn_merge *m = NULL;
    rn_merge_group g;
    rn_errbuf err;
    int rc;
    for (int i = 0; i < 2; i++) {
        if (rn_run_reader_open_mem(&r[i], f, len, "fuzz.run", &err))
            goto done;
        in[i] = rn_run_reader_input(r[i]);
    }
    if (rn_merge_open(&m, in, 2, &err))
        goto done;
    while ((rc = rn_merge_next(m, &g, &err)) == 1) {
        size_t from0 = 0;
        CHECK(g.n % 2 == 0);
        for (size_t i = 0; i < g.n; i++) {
            CHECK(rn_value_equal(&g.values[i][0], g.key));
            from0 += g.input[i] == 0;
            CHECK(i == 0 || g.input[i] >= g.input[i - 1]);
        }
        CHECK(from0 * 2 == g.n);
    }
done:
    rn_merge_free(m);
    rn_run_reader_free(r[0]);
    rn_run_reader_free(r[1]);
}

static void one(const uint8_t *f, size_t len)
{
    static uint64_t keep[KEEP_MAX];
    uint64_t total = 0, lo, hi, seed;
    size_t n = 0, nr = 0, in_range = 0;
    int rc, rc2;

    rc = read_range(f, len, 0, UINT64_MAX, keep, &n, &total);
    if (rc == 0)
        CHECK(n == total);
    /* a range from the input's own bytes */
    seed = rn_codec_crc32c(0, f, len) * 0x9E3779B97F4A7C15ull;
    if (n) {
        size_t a = (size_t)(seed % (n < KEEP_MAX ? n : KEEP_MAX));
        size_t b = (size_t)((seed >> 32) % (n < KEEP_MAX ? n : KEEP_MAX));
        lo = keep[a < b ? a : b] + (seed >> 60 & 1);
        hi = keep[a < b ? b : a];
    } else {
        lo = seed;
        hi = seed | (seed >> 3);
    }
    rc2 = read_range(f, len, lo, hi, NULL, &nr, NULL);
    if (rc == 0 && rc2 == 0 && n <= KEEP_MAX) {
        for (size_t i = 0; i < n; i++)
            in_range += keep[i] >= lo && keep[i] <= hi;
        CHECK(nr == in_range);
    }
    self_merge(f, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    one(data, size);
    if (!(copy = malloc(size ? size : 1)))
        return 0;
    if (size)
        memcpy(copy, data, size);
    fix_crcs(copy, size);
    one(copy, size);
    free(copy);
    return 0;
}
