/* The partition wire encoding (core/value/codec.c, docs/ENCODING.md). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "value/codec.h"
#include "value/partition.h"
#include "value/value.h"

/* ---- helpers -------------------------------------------------------- */

/* The streaming encoder must give rn_codec_encode's bytes, whatever the
 * piece size. */
static void stream_encode_same(const rn_value *items, size_t n,
                               const rn_buf *want)
{
    static const size_t caps[] = {RN_CODEC_PIECE_MIN, 97, 4096, (size_t)1 << 20};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        rn_codec_enc e;
        rn_buf got;
        size_t len;
        rn_buf_init(&got, 0);
        assert_int_equal(rn_codec_enc_begin(&e, items, n), 0);
        assert_int_equal(rn_codec_enc_total(&e), want->len);
        do {
            assert_int_equal(rn_buf_reserve(&got, caps[c]), 0);
            assert_int_equal(rn_codec_enc_next(&e, got.ptr + got.len, caps[c], &len), 0);
            assert_true(len <= caps[c]);
            got.len += len;
        } while (len);
        rn_codec_enc_release(&e);
        assert_int_equal(got.len, want->len);
        assert_memory_equal(got.ptr, want->ptr, want->len);
        rn_buf_release(&got);
    }
    /* long strings given as views into the values, between pieces */
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        rn_codec_enc e;
        rn_buf got;
        size_t len, vlen;
        const void *view;
        rn_buf_init(&got, 0);
        assert_int_equal(rn_codec_enc_begin(&e, items, n), 0);
        e.view_min = 100;
        do {
            assert_int_equal(rn_buf_reserve(&got, caps[c]), 0);
            assert_int_equal(rn_codec_enc_next(&e, got.ptr + got.len, caps[c], &len), 0);
            got.len += len;
            rn_codec_enc_view(&e, caps[c] - len, &view, &vlen);
            assert_true(vlen == 0 || vlen >= 1);
            if (vlen) {
                assert_true(vlen <= caps[c] - len);
                assert_int_equal(rn_buf_append(&got, view, vlen), 0);
            }
        } while (len || vlen);
        rn_codec_enc_release(&e);
        assert_int_equal(got.len, want->len);
        assert_memory_equal(got.ptr, want->ptr, want->len);
        rn_buf_release(&got);
    }
}

/* Decodes data[0..len) with the streaming decoder, fed `step` bytes at a
 * time (step + 1 every other time, so pieces do not line up). */
static int stream_decode(const void *data, size_t len, size_t step,
                         rn_partition *into, rn_errbuf *err)
{
    rn_codec_dec d;
    const uint8_t *b = data;
    size_t off = 0, k;
    int rc = 0, odd = 0;
    rn_codec_dec_begin(&d, into);
    while (rc == 0 && off < len) {
        k = step + (size_t)odd;
        odd = !odd;
        if (k > len - off)
            k = len - off;
        rc = rn_codec_dec_feed(&d, b + off, k, err);
        off += k;
    }
    if (rc == 0)
        rc = rn_codec_dec_end(&d, err);
    rn_codec_dec_release(&d);
    return rc;
}

static const size_t dec_steps[] = {1, 3, 64, 4093, (size_t)1 << 20};

/* Encodes items, decodes them into a fresh partition, checks every value
 * came back bit for bit, and that re-encoding gives the same bytes. */
static void roundtrip(const rn_value *items, size_t n)
{
    rn_buf b, b2;
    rn_errbuf err = {0};
    rn_partition *p = rn_partition_new();
    assert_non_null(p);
    rn_buf_init(&b, 0);
    rn_buf_init(&b2, 0);

    assert_int_equal(rn_codec_encode(&b, items, n), 0);
    assert_true(b.len >= RN_CODEC_HEADER_SIZE + 1 + RN_CODEC_TRAILER_SIZE);
    assert_int_equal(rn_codec_decode(b.ptr, b.len, p, &err), 0);
    assert_int_equal(p->n, n);
    for (size_t i = 0; i < n; i++)
        if (!rn_value_identical(&items[i], &p->items[i]))
            fail_msg("element %zu differs after the round trip", i);

    assert_int_equal(rn_codec_encode(&b2, p->items, p->n), 0);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.ptr, b.ptr, b.len);

    stream_encode_same(items, n, &b);
    for (size_t s = 0; s < sizeof(dec_steps) / sizeof(dec_steps[0]); s++) {
        rn_partition *q = rn_partition_new();
        assert_non_null(q);
        assert_int_equal(stream_decode(b.ptr, b.len, dec_steps[s], q, &err), 0);
        assert_int_equal(q->n, n);
        for (size_t i = 0; i < n; i++)
            if (!rn_value_identical(&items[i], &q->items[i]))
                fail_msg("element %zu differs after the streaming round trip "
                         "(step %zu)", i, dec_steps[s]);
        rn_partition_unref(q);
    }

    rn_buf_release(&b);
    rn_buf_release(&b2);
    rn_partition_unref(p);
}

static void roundtrip1(rn_value v)
{
    roundtrip(&v, 1);
}

/* Wraps an arbitrary body in a valid header and trailer, so tests can
 * reach the body parser with hostile bytes (the CRC would stop them
 * otherwise). */
static size_t frame(uint8_t *out, const void *body, size_t n)
{
    static const uint8_t head[8] = {0x89, 'R', 'N', 'P', 1, 0, 0, 0};
    uint32_t crc;
    memcpy(out, head, 8);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(out + 16, body, n);
    crc = rn_codec_crc32c(0, out, 16 + n);
    for (int i = 0; i < 4; i++)
        out[16 + n + i] = (uint8_t)(crc >> (8 * i));
    return 16 + n + 4;
}

/* Recomputes the trailer of an encoding edited in place. */
static void reseal(uint8_t *data, size_t len)
{
    uint32_t crc = rn_codec_crc32c(0, data, len - 4);
    for (int i = 0; i < 4; i++)
        data[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* Decodes data into a fresh partition expecting failure with `code`;
 * checks nothing was appended and the message names a byte offset (and
 * contains `needle` when given). */
static void expect_error(const void *data, size_t len, int code,
                         const char *needle)
{
    rn_errbuf err = {0};
    rn_partition *p = rn_partition_new();
    int rc;
    assert_non_null(p);
    rc = rn_codec_decode(data, len, p, &err);
    if (rc != code)
        fail_msg("expected %s, got %s (%s)", rn_err_name(code),
                 rn_err_name(rc), err.msg);
    assert_int_equal(err.code, code);
    assert_int_equal(p->n, 0);
    assert_non_null(strstr(err.msg, "byte offset "));
    if (needle && !strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    rn_partition_unref(p);
    /* the streaming decoder: the same code and the same message */
    for (size_t s = 0; s < sizeof(dec_steps) / sizeof(dec_steps[0]); s++) {
        rn_errbuf serr = {0};
        assert_non_null(p = rn_partition_new());
        rc = stream_decode(data, len, dec_steps[s], p, &serr);
        if (rc != code || strcmp(serr.msg, err.msg) != 0)
            fail_msg("streaming (step %zu): %s \"%s\", expected %s \"%s\"",
                     dec_steps[s], rn_err_name(rc), serr.msg, rn_err_name(code),
                     err.msg);
        assert_int_equal(p->n, 0);
        rn_partition_unref(p);
    }
}

/* ---- the checksum --------------------------------------------------- */

static void test_crc32c_known_values(void **state)
{
    (void)state;
    static const uint8_t zeros[32] = {0};
    uint8_t ones[32], big[1000];
    uint32_t whole, parts;
    memset(ones, 0xff, sizeof(ones));
    /* RFC 3720 (iSCSI) B.4 test vectors, and the common check value */
    assert_int_equal(rn_codec_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(rn_codec_crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(rn_codec_crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(rn_codec_crc32c(0, "", 0), 0);
    /* continuing over pieces, at every alignment, equals one pass */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 131 + 7);
    whole = rn_codec_crc32c(0, big, sizeof(big));
    for (size_t cut = 0; cut <= 17; cut++) {
        parts = rn_codec_crc32c(0, big, cut);
        parts = rn_codec_crc32c(parts, big + cut, sizeof(big) - cut);
        assert_int_equal(parts, whole);
    }
    /* the table-driven path agrees with the one in use (the CPU's
     * instruction on most machines), at every length and alignment */
    assert_int_equal(rn__codec_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(rn__codec_crc32c_sw(0, ones, 32), 0x62A8AB43u);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= 100; n++)
            assert_int_equal(rn__codec_crc32c_sw(0x1234, big + off, n),
                             rn_codec_crc32c(0x1234, big + off, n));
    /* long buffers (three interleaved chains, combined), odd lengths and
     * alignments */
    {
        size_t len = 300001;
        uint8_t *l = malloc(len);
        assert_non_null(l);
        for (size_t i = 0; i < len; i++)
            l[i] = (uint8_t)(i * 2654435761u >> 11);
        for (size_t off = 0; off < 9; off++)
            for (size_t n = len - off - 40; n <= len - off; n += 13)
                assert_int_equal(rn__codec_crc32c_sw(0x1234, l + off, n),
                                 rn_codec_crc32c(0x1234, l + off, n));
        for (size_t n = 16 * 1024 - 9; n < 16 * 1024 + 40; n++)
            assert_int_equal(rn__codec_crc32c_sw(7, l + 3, n),
                             rn_codec_crc32c(7, l + 3, n));
        free(l);
    }
}

/* ---- round trips ---------------------------------------------------- */

static void test_roundtrip_scalars(void **state)
{
    (void)state;
    static const uint8_t raw[] = {0, 1, 0xff, 0x80, 0};
    roundtrip1(rn_null());
    roundtrip1(rn_bool(0));
    roundtrip1(rn_bool(1));
    roundtrip1(rn_int(0));
    roundtrip1(rn_int(1));
    roundtrip1(rn_int(-1));
    roundtrip1(rn_int(63));
    roundtrip1(rn_int(-64));
    roundtrip1(rn_int(64));
    roundtrip1(rn_int(4171178));
    roundtrip1(rn_int(INT64_MAX));
    roundtrip1(rn_int(INT64_MIN));
    roundtrip1(rn_int(INT64_MIN + 1));
    roundtrip1(rn_double(0.0));
    roundtrip1(rn_double(-0.0));
    roundtrip1(rn_double(0.1));
    roundtrip1(rn_double(-1e308));
    roundtrip1(rn_double(5e-324));
    roundtrip1(rn_double(INFINITY));
    roundtrip1(rn_double(-INFINITY));
    roundtrip1(rn_double(NAN));
    roundtrip1(rn_string("", 0));
    roundtrip1(rn_string(NULL, 0));
    roundtrip1(rn_string("the", 3));
    roundtrip1(rn_string("with\0nul", 8));
    roundtrip1(rn_bytes("", 0));
    roundtrip1(rn_bytes(raw, sizeof(raw)));
}

static void test_roundtrip_special_doubles_keep_bits(void **state)
{
    (void)state;
    uint64_t payload = 0x7FF80000DEADBEEFull, back;
    double nan_payload, d;
    rn_value v[2];
    rn_buf b;
    rn_partition *p = rn_partition_new();
    rn_errbuf err = {0};
    memcpy(&nan_payload, &payload, 8);
    v[0] = rn_double(-0.0);
    v[1] = rn_double(nan_payload);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_codec_encode(&b, v, 2), 0);
    assert_int_equal(rn_codec_decode(b.ptr, b.len, p, &err), 0);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->items[0].kind, RN_DOUBLE);
    assert_true(p->items[0].u.d == 0.0 && signbit(p->items[0].u.d));
    d = p->items[1].u.d;
    assert_true(isnan(d));
    memcpy(&back, &d, 8);
    assert_int_equal(back, payload);
    rn_buf_release(&b);
    rn_partition_unref(p);
}

static void test_roundtrip_containers(void **state)
{
    (void)state;
    rn_value empty_list = rn_list(NULL, 0);
    rn_value empty_rec = rn_record(NULL, 0);
    /* [ {"a": [1, [], {}], "": "x", "b": {"c": [null, true]}}, [] ] */
    rn_value inner_c[2] = {rn_null(), rn_bool(1)};
    rn_field b_fields[1] = {{{"c", 1}, rn_list(inner_c, 2)}};
    rn_value a_items[3] = {rn_int(1), rn_list(NULL, 0), rn_record(NULL, 0)};
    rn_field rec[3] = {{{"a", 1}, rn_list(a_items, 3)},
                       {{"", 0}, rn_string("x", 1)},
                       {{"b", 1}, rn_record(b_fields, 1)}};
    rn_value outer[2] = {rn_record(rec, 3), rn_list(NULL, 0)};
    rn_value top[4] = {rn_list(outer, 2), empty_list, empty_rec,
                       rn_record(rec, 3)};
    roundtrip1(empty_list);
    roundtrip1(empty_rec);
    roundtrip(top, 4);
}

static void test_roundtrip_large_string(void **state)
{
    (void)state;
    size_t n = (size_t)1 << 20;
    char *s = malloc(n);
    rn_value v[3];
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(i * 2654435761u >> 13);
    v[0] = rn_string(s, n);
    v[1] = rn_bytes(s, n - 1);
    v[2] = rn_string(s + 5, 4095); /* just under the pool's big size */
    roundtrip(v, 3);
    free(s);
}

static void test_roundtrip_zero_elements(void **state)
{
    (void)state;
    rn_buf b;
    rn_partition *p = rn_partition_new();
    rn_errbuf err = {0};
    rn_buf_init(&b, 0);
    assert_int_equal(rn_codec_encode(&b, NULL, 0), 0);
    assert_int_equal(b.len, 21); /* header, count 0, trailer */
    assert_int_equal(rn_codec_decode(b.ptr, b.len, p, &err), 0);
    assert_int_equal(p->n, 0);
    rn_buf_release(&b);
    rn_partition_unref(p);
}

static void test_roundtrip_100k_elements(void **state)
{
    (void)state;
    size_t n = 100000;
    rn_value *v = calloc(n, sizeof(rn_value));
    char(*words)[16] = calloc(n, 16);
    rn_value pair[2];
    rn_buf b;
    rn_partition *p = rn_partition_new();
    rn_errbuf err = {0};
    assert_non_null(v);
    assert_non_null(words);
    pair[0] = rn_string("the", 3);
    pair[1] = rn_int(4171178);
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(words[i], 16, "w%zu", i * 7919);
        switch (i % 5) {
        case 0:
            v[i] = rn_string(words[i], (size_t)len);
            break;
        case 1:
            v[i] = rn_int((int64_t)(i * 0x9E3779B97F4A7C15ull));
            break;
        case 2:
            v[i] = rn_double((double)i / 7);
            break;
        case 3:
            v[i] = rn_list(pair, 2);
            break;
        default:
            v[i] = rn_null();
        }
    }
    roundtrip(v, n);

    /* memory of the decoded partition stays a small multiple of the input */
    rn_buf_init(&b, 0);
    assert_int_equal(rn_codec_encode(&b, v, n), 0);
    assert_int_equal(rn_codec_decode(b.ptr, b.len, p, &err), 0);
    assert_true(rn_partition_bytes(p) < 16 * b.len + 512 * 1024);
    rn_buf_release(&b);
    rn_partition_unref(p);
    free(words);
    free(v);
}

static void test_encode_appends_and_decode_appends(void **state)
{
    (void)state;
    rn_value a[2] = {rn_int(1), rn_string("one", 3)};
    rn_value c[1] = {rn_string("two", 3)};
    rn_buf b;
    rn_partition *p = rn_partition_new();
    rn_errbuf err = {0};
    size_t first;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_buf_append(&b, "prefix", 6), 0);
    assert_int_equal(rn_codec_encode(&b, a, 2), 0);
    first = b.len;
    assert_int_equal(rn_codec_encode(&b, c, 1), 0);
    assert_memory_equal(b.ptr, "prefix", 6);

    assert_int_equal(rn_codec_decode(b.ptr + 6, first - 6, p, &err), 0);
    assert_int_equal(rn_codec_decode(b.ptr + first, b.len - first, p, &err),
                     0);
    assert_int_equal(p->n, 3);
    assert_true(rn_value_identical(&p->items[0], &a[0]));
    assert_true(rn_value_identical(&p->items[1], &a[1]));
    assert_true(rn_value_identical(&p->items[2], &c[0]));
    rn_buf_release(&b);
    rn_partition_unref(p);
}

/* The exact bytes of a small partition: the format is a contract between
 * workers of different builds, so any change must be deliberate. */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x89, 'R', 'N', 'P', 0x01, 0x00, 0x00, 0x00, /* magic 1.0 flags */
        0x22, 0, 0, 0, 0, 0, 0, 0,                   /* body: 34 bytes */
        0x04,                                        /* 4 elements */
        0x06, 0x02, 0x04, 0x03, 't', 'h', 'e',       /* ["the", */
        0x02, 0xd4, 0x96, 0xfd, 0x03,                /*  4171178] */
        0x07, 0x01, 0x04, 'u', 's', 'e', 'r',        /* {"user": */
        0x04, 0x01, 'x',                             /*  "x"} */
        0x02, 0x01,                                  /* -1 */
        0x03, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,          /* 1.0 */
        0xf2, 0xdb, 0xc5, 0x61,                      /* CRC32C */
    };
    rn_value pair[2] = {rn_string("the", 3), rn_int(4171178)};
    rn_field user[1] = {{{"user", 4}, rn_string("x", 1)}};
    rn_value v[4] = {rn_list(pair, 2), rn_record(user, 1), rn_int(-1),
                     rn_double(1.0)};
    rn_buf b;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_codec_encode(&b, v, 4), 0);
    if (b.len != sizeof(want) || memcmp(b.ptr, want, b.len)) {
        for (size_t i = 0; i < b.len; i++)
            fprintf(stderr, "%02x%s", (uint8_t)b.ptr[i],
                    i + 1 < b.len ? " " : "\n");
    }
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.ptr, want, sizeof(want));
    rn_buf_release(&b);
}

/* ---- hostile input -------------------------------------------------- */

/* A small encoding that uses every kind. */
static size_t small_encoding(rn_buf *b)
{
    rn_value pair[2] = {rn_string("the", 3), rn_int(-300)};
    rn_field f[2] = {{{"k", 1}, rn_list(pair, 2)},
                     {{"d", 1}, rn_double(2.5)}};
    rn_value v[6] = {rn_record(f, 2), rn_bool(1), rn_null(),
                     rn_bytes("\x01\x02", 2), rn_list(NULL, 0),
                     rn_record(NULL, 0)};
    rn_buf_init(b, 0);
    assert_int_equal(rn_codec_encode(b, v, 6), 0);
    return b->len;
}

static void test_truncation_at_every_length(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    for (size_t cut = 0; cut < len; cut++) {
        /* a fresh copy of exactly `cut` bytes, so ASan sees over-reads */
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, b.ptr, cut);
        expect_error(copy, cut, RN_EFORMAT, NULL);
        free(copy);
    }
    rn_buf_release(&b);
}

static void test_flipped_bytes(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    for (size_t i = 0; i < len; i++) {
        static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
        for (size_t m = 0; m < sizeof(masks); m++) {
            memcpy(copy, b.ptr, len);
            copy[i] ^= masks[m];
            expect_error(copy, len, RN_EFORMAT, NULL);
        }
    }
    free(copy);
    rn_buf_release(&b);
}

static void test_checksum_mismatch(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    b.ptr[20] ^= 0x40;
    expect_error(b.ptr, len, RN_EFORMAT, "checksum mismatch");
    rn_buf_release(&b);
}

static void test_wrong_magic(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    b.ptr[1] = 'X';
    expect_error(b.ptr, len, RN_EFORMAT, "byte offset 1: not an encoded");
    expect_error("{\"json\": 1}", 11, RN_EFORMAT, "byte offset 0:");
    rn_buf_release(&b);
}

static void test_future_version(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    b.ptr[4] = 2;
    reseal((uint8_t *)b.ptr, len);
    expect_error(b.ptr, len, RN_EFORMAT,
                 "byte offset 4: expected encoding version 1, got 2");
    b.ptr[4] = 0;
    expect_error(b.ptr, len, RN_EFORMAT, "expected encoding version 1, got 0");
    /* a 5-byte prefix is enough to say which version it is */
    b.ptr[4] = 9;
    expect_error(b.ptr, 5, RN_EFORMAT, "expected encoding version 1, got 9");
    rn_buf_release(&b);
}

static void test_newer_minor_version_is_read(void **state)
{
    (void)state;
    rn_buf b;
    rn_errbuf err = {0};
    rn_partition *p = rn_partition_new();
    size_t len = small_encoding(&b);
    b.ptr[5] = 7;
    reseal((uint8_t *)b.ptr, len);
    assert_int_equal(rn_codec_decode(b.ptr, len, p, &err), 0);
    assert_int_equal(p->n, 6);
    rn_partition_unref(p);
    rn_buf_release(&b);
}

static void test_unknown_flags(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    b.ptr[7] = 0x01;
    reseal((uint8_t *)b.ptr, len);
    expect_error(b.ptr, len, RN_EFORMAT, "byte offset 6: unknown flags 0x0100");
    rn_buf_release(&b);
}

static void test_body_length_mismatch(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    uint8_t *longer = calloc(1, len + 3);
    assert_non_null(longer);
    memcpy(longer, b.ptr, len);
    expect_error(longer, len + 3, RN_EFORMAT, "3 bytes of trailing data");
    b.ptr[8]++;
    expect_error(b.ptr, len, RN_EFORMAT, "truncated");
    free(longer);
    rn_buf_release(&b);
}

/* Huge claimed counts and lengths are refused before anything is
 * allocated for them. */
static void test_huge_counts_allocate_nothing(void **state)
{
    (void)state;
    static const struct {
        uint8_t body[16];
        size_t n;
        const char *needle;
    } cases[] = {
        /* element count 2^62 */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00}, 10,
         "byte offset 16: element count of 4611686018427387904"},
        /* one list claiming 2^35 items */
        {{0x01, 0x06, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 8,
         "byte offset 18: list length of 34359738368"},
        /* one record claiming 3 fields in 4 bytes (2 bytes each at least) */
        {{0x01, 0x07, 0x03, 0x00, 0x00, 0x00, 0x00}, 7,
         "byte offset 18: record length of 3"},
        /* one string claiming 2^63 - 1 bytes */
        {{0x01, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
         11, "byte offset 18: string of 9223372036854775807 bytes"},
        /* one field name claiming 100 bytes */
        {{0x01, 0x07, 0x01, 0x64, 0x00}, 5,
         "byte offset 19: field name of 100 bytes"},
    };
    uint8_t data[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rn_partition *p = rn_partition_new();
        rn_errbuf err = {0};
        size_t len = frame(data, cases[i].body, cases[i].n), before;
        assert_non_null(p);
        before = rn_alloc_in_use();
        assert_int_equal(rn_codec_decode(data, len, p, &err), RN_EFORMAT);
        /* nothing at all for the top-level count; for nested ones, the
         * items array of one element and the first arena chunk at most */
        assert_true(rn_alloc_in_use() - before <= 512 * 1024);
        assert_true(rn_alloc_peak() - before < (size_t)1 << 30);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                     cases[i].needle);
        assert_int_equal(p->n, 0);
        rn_partition_unref(p);
    }
}

static void test_top_level_count_allocates_nothing(void **state)
{
    (void)state;
    static const uint8_t body[] = {0xff, 0xff, 0x03, 0x00};
    uint8_t data[32];
    size_t len = frame(data, body, sizeof(body)), before;
    rn_partition *p = rn_partition_new();
    rn_errbuf err = {0};
    before = rn_alloc_in_use();
    assert_int_equal(rn_codec_decode(data, len, p, &err), RN_EFORMAT);
    assert_int_equal(rn_alloc_in_use(), before);
    assert_null(p->items);
    rn_partition_unref(p);
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    static const struct {
        uint8_t body[16];
        size_t n;
        int code;
        const char *needle;
    } cases[] = {
        {{0x01, 0x08}, 2, RN_EFORMAT, "byte offset 17: unknown value tag 0x08"},
        {{0x01, 0xff}, 2, RN_EFORMAT, "unknown value tag 0xff"},
        {{0x01, 0x01, 0x02}, 3, RN_EFORMAT,
         "byte offset 18: bool must be 0 or 1, got 2"},
        {{0x01, 0x01}, 2, RN_EFORMAT, "truncated bool"},
        {{0x01, 0x02, 0x80}, 3, RN_EFORMAT,
         "byte offset 18: truncated integer"},
        {{0x01, 0x02, 0x80, 0x00}, 4, RN_EFORMAT, "not minimally encoded"},
        {{0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x03},
         12, RN_EFORMAT, "integer overflows 64 bits"},
        {{0x01, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x02},
         12, RN_EFORMAT, "integer overflows 64 bits"},
        {{0x01, 0x03, 0, 0, 0, 0}, 6, RN_EFORMAT, "truncated double: 4 of 8"},
        {{0x02, 0x04, 0x01, 'x'}, 4, RN_EFORMAT,
         "byte offset 20: truncated: expected a value"},
        {{0x02, 0x00}, 2, RN_EFORMAT,
         "byte offset 16: element count of 2 but only 1 bytes are left"},
        {{0x01, 0x00, 0x00}, 3, RN_EFORMAT,
         "byte offset 18: 1 bytes left over after the last element"},
        {{0x00}, 0, RN_EFORMAT, "byte offset 16: truncated element count"},
        {{0x01, 0x06, 0x02, 0x00}, 4, RN_EFORMAT, "list length of 2"},
    };
    uint8_t data[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = frame(data, cases[i].body, cases[i].n);
        expect_error(data, len, cases[i].code, cases[i].needle);
    }
}

/* Lists nested `depth` deep around a null, as raw body bytes. */
static size_t nested_lists(uint8_t *body, int depth)
{
    size_t n = 0;
    body[n++] = 0x01;
    for (int i = 0; i < depth; i++) {
        body[n++] = RN_LIST;
        body[n++] = 0x01;
    }
    body[n++] = RN_NULL;
    return n;
}

static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t body[512], data[600];
    rn_value chain[RN_VALUE_MAX_DEPTH + 2];
    rn_errbuf err = {0};
    rn_partition *p;
    rn_buf b;
    size_t len;

    /* RN_VALUE_MAX_DEPTH lists around a null: the null is at depth 64, the
     * deepest rn_value_copy accepts */
    len = frame(data, body, nested_lists(body, RN_VALUE_MAX_DEPTH));
    p = rn_partition_new();
    assert_int_equal(rn_codec_decode(data, len, p, &err), 0);
    assert_int_equal(p->n, 1);
    rn_partition_unref(p);

    len = frame(data, body, nested_lists(body, RN_VALUE_MAX_DEPTH + 1));
    expect_error(data, len, RN_ELIMIT, "nested deeper than 64");
    len = frame(data, body, nested_lists(body, 200));
    expect_error(data, len, RN_ELIMIT, "nested deeper than 64");

    /* the encoder draws the line at the same depth */
    chain[RN_VALUE_MAX_DEPTH + 1] = rn_null();
    for (int i = RN_VALUE_MAX_DEPTH; i >= 0; i--)
        chain[i] = rn_list(&chain[i + 1], 1);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_codec_encode(&b, &chain[1], 1), 0);
    len = b.len;
    assert_int_equal(rn_codec_encode(&b, &chain[0], 1), RN_ELIMIT);
    assert_int_equal(b.len, len); /* nothing appended on error */
    rn_buf_release(&b);
}

static void test_encode_errors_leave_buffer(void **state)
{
    (void)state;
    rn_value bad = rn_null();
    rn_value v[2];
    char big[1000];
    rn_buf b;
    bad.kind = 42;
    v[0] = rn_int(1);
    v[1] = bad;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_buf_append(&b, "keep", 4), 0);
    assert_int_equal(rn_codec_encode(&b, v, 2), RN_ETYPE);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.ptr, "keep");
    rn_buf_release(&b);

    /* a buffer whose maximum is too small */
    memset(big, 'x', sizeof(big));
    v[0] = rn_string(big, sizeof(big));
    rn_buf_init(&b, 200);
    assert_int_equal(rn_codec_encode(&b, v, 1), RN_ELIMIT);
    assert_int_equal(b.len, 0);
    rn_buf_release(&b);
    /* ...and one just big enough (1000 + 3 + 21 framing bytes) */
    rn_buf_init(&b, 1024);
    assert_int_equal(rn_codec_encode(&b, v, 1), 0);
    assert_int_equal(b.len, 1024);
    rn_buf_release(&b);
}

/* Every allocation failing in turn: an error (ENOMEM), never a crash or a
 * half-appended partition. */
static void test_decode_out_of_memory(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    int ok = 0;
    for (uint64_t k = 1; k < 50 && !ok; k++) {
        rn_partition *p = rn_partition_new();
        rn_errbuf err = {0};
        int rc;
        assert_non_null(p);
        rn_alloc_fail_after(k);
        rc = rn_codec_decode(b.ptr, len, p, &err);
        rn_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(p->n, 6);
            ok = 1;
        } else {
            assert_int_equal(rc, RN_ENOMEM);
            assert_int_equal(p->n, 0);
        }
        rn_partition_unref(p);
    }
    assert_true(ok);
    rn_buf_release(&b);
}

/* Elements larger than a piece (a record of a list of 3000 strings, a
 * 300 KB string), between small ones, appended after what a partition
 * already holds. */
static void test_streaming_large_elements(void **state)
{
    (void)state;
    size_t nitems = 3000;
    rn_value *items = calloc(nitems, sizeof(rn_value));
    char *big = malloc(300000);
    rn_value top[4], inner;
    rn_field f[2];
    rn_buf b;
    rn_errbuf err = {0};
    rn_partition *p = rn_partition_new();
    rn_value one = rn_int(-7);
    assert_non_null(items);
    assert_non_null(big);
    for (size_t i = 0; i < 300000; i++)
        big[i] = (char)('a' + i % 23);
    for (size_t i = 0; i < nitems; i++)
        items[i] = rn_string(big + i, (uint32_t)(i % 200));
    inner = rn_list(items, nitems);
    f[0].name = (rn_str){"list", 4};
    f[0].value = inner;
    f[1].name = (rn_str){"", 0};
    f[1].value = rn_double(-0.0);
    top[0] = rn_bool(1);
    top[1] = rn_record(f, 2);
    top[2] = rn_bytes(big, 300000);
    top[3] = rn_null();
    roundtrip(top, 4);

    /* appending: what was there stays, the new values follow */
    rn_buf_init(&b, 0);
    assert_int_equal(rn_codec_encode(&b, top, 4), 0);
    assert_non_null(p);
    assert_int_equal(rn_partition_push(p, &one), 0);
    assert_int_equal(stream_decode(b.ptr, b.len, 1000, p, &err), 0);
    assert_int_equal(p->n, 5);
    assert_true(rn_value_identical(&p->items[0], &one));
    for (size_t i = 0; i < 4; i++)
        assert_true(rn_value_identical(&p->items[1 + i], &top[i]));
    /* and a failure appends nothing */
    b.ptr[b.len - 1] ^= 1;
    assert_int_equal(stream_decode(b.ptr, b.len, 1000, p, &err), RN_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    assert_int_equal(p->n, 5);
    rn_buf_release(&b);
    rn_partition_unref(p);
    free(items);
    free(big);
}

/* Every allocation failing in turn while streaming: ENOMEM or success,
 * never a crash or a half-appended partition. */
static void test_stream_decode_out_of_memory(void **state)
{
    (void)state;
    rn_buf b;
    size_t len = small_encoding(&b);
    int ok = 0;
    for (uint64_t k = 1; k < 50 && !ok; k++) {
        rn_partition *p = rn_partition_new();
        rn_errbuf err = {0};
        int rc;
        assert_non_null(p);
        rn_alloc_fail_after(k);
        rc = stream_decode(b.ptr, len, 5, p, &err);
        rn_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(p->n, 6);
            ok = 1;
        } else {
            assert_int_equal(rc, RN_ENOMEM);
            assert_int_equal(p->n, 0);
        }
        rn_partition_unref(p);
    }
    assert_true(ok);
    rn_buf_release(&b);
}

static void test_frame_size(void **state)
{
    (void)state;
    rn_buf b;
    rn_errbuf err = {0};
    uint64_t total = 0;
    size_t len = small_encoding(&b);
    assert_int_equal(rn_codec_frame_size(b.ptr, RN_CODEC_HEADER_SIZE, &total,
                                         &err),
                     0);
    assert_int_equal(total, len);
    assert_int_equal(rn_codec_frame_size(b.ptr, 10, &total, &err),
                     RN_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated header"));
    rn_buf_release(&b);
}

/* Decoding a batch at a time gives the values rn_codec_decode gives, and
 * refuses what it refuses: a bad checksum at open, bytes left over after
 * the count's last value at the end. */
static void test_batches(void **state)
{
    rn_partition *src = rn_partition_new(), *whole = rn_partition_new();
    rn_partition *batch = rn_partition_new();
    rn_codec_batches r;
    rn_errbuf err;
    rn_buf enc;
    size_t got = 0;
    char s[64];
    (void)state;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(s, sizeof(s), "value-%d", i);
        rn_value items[2] = {rn_int(i), rn_string(s, (size_t)n)};
        rn_value v = i % 2 ? rn_list(items, 2) : items[1];
        assert_int_equal(rn_partition_push(src, &v), 0);
    }
    rn_buf_init(&enc, 0);
    assert_int_equal(rn_codec_encode(&enc, src->items, src->n), 0);
    assert_int_equal(rn_codec_decode(enc.ptr, enc.len, whole, &err), 0);
    assert_int_equal(rn_codec_batches_open(&r, enc.ptr, enc.len, &err), 0);
    for (;;) {
        assert_int_equal(rn_codec_batches_next(&r, batch, 7, &err), 0);
        if (!batch->n)
            break;
        assert_true(batch->n <= 7);
        for (size_t i = 0; i < batch->n; i++)
            assert_true(rn_value_equal(&batch->items[i], &whole->items[got + i]));
        got += batch->n;
    }
    assert_int_equal(got, 1000);

    /* one flipped bit: refused at open, as by rn_codec_decode */
    enc.ptr[40] ^= 1;
    assert_int_equal(rn_codec_batches_open(&r, enc.ptr, enc.len, &err), RN_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    enc.ptr[40] ^= 1;

    /* a count one short (checksum made right): left over at the end */
    {
        size_t tl = enc.len - RN_CODEC_TRAILER_SIZE;
        uint32_t crc;
        assert_int_equal((uint8_t)enc.ptr[16], 0xe8); /* 1000: e8 07 */
        enc.ptr[16] = (char)0xe7;
        crc = rn_codec_crc32c(0, enc.ptr, tl);
        for (int k = 0; k < 4; k++)
            enc.ptr[tl + (size_t)k] = (char)(crc >> (8 * k));
        assert_int_equal(rn_codec_decode(enc.ptr, enc.len, whole, &err), RN_EFORMAT);
        assert_non_null(strstr(err.msg, "left over"));
        assert_int_equal(rn_codec_batches_open(&r, enc.ptr, enc.len, &err), 0);
        got = 0;
        int rc;
        while ((rc = rn_codec_batches_next(&r, batch, 100, &err)) == 0 && batch->n)
            got += batch->n;
        assert_int_equal(rc, RN_EFORMAT);
        assert_int_equal(got, 999);
        assert_non_null(strstr(err.msg, "left over"));
    }
    rn_buf_release(&enc);
    rn_partition_unref(src);
    rn_partition_unref(whole);
    rn_partition_unref(batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_values),
        cmocka_unit_test(test_roundtrip_scalars),
        cmocka_unit_test(test_roundtrip_special_doubles_keep_bits),
        cmocka_unit_test(test_roundtrip_containers),
        cmocka_unit_test(test_roundtrip_large_string),
        cmocka_unit_test(test_roundtrip_zero_elements),
        cmocka_unit_test(test_roundtrip_100k_elements),
        cmocka_unit_test(test_encode_appends_and_decode_appends),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_truncation_at_every_length),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_checksum_mismatch),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_future_version),
        cmocka_unit_test(test_newer_minor_version_is_read),
        cmocka_unit_test(test_unknown_flags),
        cmocka_unit_test(test_body_length_mismatch),
        cmocka_unit_test(test_huge_counts_allocate_nothing),
        cmocka_unit_test(test_top_level_count_allocates_nothing),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_encode_errors_leave_buffer),
        cmocka_unit_test(test_decode_out_of_memory),
        cmocka_unit_test(test_frame_size),
        cmocka_unit_test(test_streaming_large_elements),
        cmocka_unit_test(test_stream_decode_out_of_memory),
        cmocka_unit_test(test_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
