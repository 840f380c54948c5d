/*
 * libFuzzer target for the partition decoder (core/value/codec.c).
 *
 * Each input is decoded twice: as given (magic, version, flags, length and
 * checksum checks), and with its header and CRC trailer rewritten to be
 * valid, so that mutations inside the body reach the value parser instead
 * of stopping at the checksum.
 *
 * Beyond "no crash", a decoded partition must
 *  - re-encode to exactly the input bytes (the format has one encoding per
 *    partition: minimal varints, bool 0/1, no flags);
 *  - have cost at most a small multiple of the input in memory;
 *  - survive hash, compare, deep copy and JSON output, which must agree
 *    with each other (copy compares and hashes equal to the original);
 *  - decode to the same values, or fail with the same error, when
 *    decoded streaming or in batches.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "value/codec.h"
#include "value/partition.h"
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

static void exercise_values(const rn_partition *p)
{
    rn_arena a;
    rn_buf json;
    rn_arena_init(&a, 0);
    rn_buf_init(&json, 0);
    for (size_t i = 0; i < p->n; i++) {
        const rn_value *v = &p->items[i];
        rn_value copy;
        CHECK(rn_value_compare(v, v) == 0);
        CHECK(rn_value_equal(v, v));
        CHECK(rn_value_copy(&a, v, &copy) == 0);
        CHECK(rn_value_compare(v, &copy) == 0);
        CHECK(rn_value_hash(v) == rn_value_hash(&copy));
        if (i > 0) {
            const rn_value *u = &p->items[i - 1];
            int c1 = rn_value_compare(u, v), c2 = rn_value_compare(v, u);
            CHECK((c1 > 0) == (c2 < 0) && (c1 == 0) == (c2 == 0));
            if (c1 == 0)
                CHECK(rn_value_hash(u) == rn_value_hash(v));
        }
        rn_buf_reset(&json);
        CHECK(rn_value_to_json(&json, v) == 0);
        (void)rn_value_deep_size(v);
    }
    rn_buf_release(&json);
    rn_arena_release(&a);
}

/* Decodes data; when it decodes, checks the properties above. `exact`:
 * the input is expected to be the one encoding of what it decodes to. */
static void decode_one(const uint8_t *data, size_t size, int exact)
{
    rn_partition *p = rn_partition_new();
    rn_errbuf err;
    size_t before;
    int rc;

    CHECK(p != NULL);
    before = rn_alloc_in_use();
    rc = rn_codec_decode(data, size, p, &err);
    /* 16 bytes per value or 32 per field, each needing 1 or 2 input
     * bytes; strings packed; plus arena chunk slack */
    CHECK(rn_alloc_in_use() - before <= 20 * size + ((size_t)1 << 20));
    if (rc != 0) {
        CHECK(rc == RN_EFORMAT || rc == RN_ELIMIT);
        CHECK(err.code == rc);
        CHECK(strstr(err.msg, "byte offset ") != NULL);
        CHECK(p->n == 0);
    } else {
        rn_buf out;
        rn_buf_init(&out, 0);
        CHECK(rn_codec_encode(&out, p->items, p->n) == 0);
        if (exact) {
            CHECK(out.len == size);
            CHECK(memcmp(out.ptr, data, size) == 0);
        }
        rn_buf_release(&out);
        exercise_values(p);
    }
    rn_partition_unref(p);

    /* the streaming decoder, fed in pieces: the same answer, word for word */
    {
        rn_partition *q = rn_partition_new();
        rn_codec_dec d;
        rn_errbuf serr;
        size_t step = 1 + (size > 0 ? data[size - 1] % 61 : 0), off = 0;
        int src = 0;
        CHECK(q != NULL);
        rn_codec_dec_begin(&d, q);
        while (src == 0 && off < size) {
            size_t k = step < size - off ? step : size - off;
            src = rn_codec_dec_feed(&d, data + off, k, &serr);
            off += k;
        }
        if (src == 0)
            src = rn_codec_dec_end(&d, &serr);
        rn_codec_dec_release(&d);
        CHECK(src == rc);
        if (rc)
            CHECK(strcmp(serr.msg, err.msg) == 0 && q->n == 0);
        rn_partition_unref(q);
    }

    /* in batches (what a combine folding in a fetched input uses): the
     * same values, or the same error, word for word */
    {
        rn_partition *whole = rn_partition_new(), *batch = rn_partition_new();
        rn_codec_batches r;
        rn_errbuf berr;
        size_t max = 1 + (size > 1 ? data[size - 2] % 17 : 0), got = 0;
        int brc;
        CHECK(whole && batch);
        CHECK(rn_codec_decode(data, size, whole, &err) == rc);
        brc = rn_codec_batches_open(&r, data, size, &berr);
        while (brc == 0 &&
               (brc = rn_codec_batches_next(&r, batch, max, &berr)) == 0 &&
               batch->n) {
            CHECK(batch->n <= max);
            for (size_t i = 0; rc == 0 && i < batch->n; i++) {
                CHECK(got + i < whole->n);
                CHECK(rn_value_compare(&batch->items[i], &whole->items[got + i]) == 0);
            }
            got += batch->n;
        }
        CHECK(brc == rc);
        if (rc)
            CHECK(strcmp(berr.msg, err.msg) == 0);
        else
            CHECK(got == whole->n);
        rn_partition_unref(whole);
        rn_partition_unref(batch);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t head[8] = {0x89, 'R', 'N', 'P', 1, 0, 0, 0};
    uint8_t *fixed;
    uint64_t body;
    uint32_t crc;

    decode_one(data, size, size > 5 && data[5] == 0);

    if (size < RN_CODEC_HEADER_SIZE + 1 + RN_CODEC_TRAILER_SIZE)
        return 0;
    fixed = malloc(size);
    CHECK(fixed != NULL);
    memcpy(fixed, data, size);
    memcpy(fixed, head, sizeof(head));
    body = size - RN_CODEC_HEADER_SIZE - RN_CODEC_TRAILER_SIZE;
    for (int i = 0; i < 8; i++)
        fixed[8 + i] = (uint8_t)(body >> (8 * i));
    crc = rn_codec_crc32c(0, fixed, size - RN_CODEC_TRAILER_SIZE);
    for (int i = 0; i < 4; i++)
        fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    decode_one(fixed, size, 1);
    free(fixed);
    return 0;
}
