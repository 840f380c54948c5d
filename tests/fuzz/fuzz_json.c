/*
 * libFuzzer target for rn_value_from_json (core/value/value.c).
 *
 * Arbitrary bytes must give a value or an error, never a crash. When they
 * give a value, runnel's own JSON output of it must parse back to an equal
 * value whose output is the same text (JSON out is what `runnel run`
 * prints, and other tools read it back), and the value must survive the
 * wire encoding unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rn_arena a;
    rn_value v, w;
    rn_errbuf err;
    rn_buf out, again, wire;
    rn_partition *p;
    int rc;

    rn_arena_init(&a, 0);
    rc = rn_value_from_json(&a, (const char *)data, size, &v, &err);
    if (rc) {
        CHECK(rc == RN_EFORMAT || rc == RN_ELIMIT);
        rn_arena_release(&a);
        return 0;
    }
    rn_buf_init(&out, 0);
    rn_buf_init(&again, 0);
    rn_buf_init(&wire, 0);

    CHECK(rn_value_to_json(&out, &v) == 0);
    rc = rn_value_from_json(&a, out.ptr, out.len, &w, &err);
    if (rc) {
        fprintf(stderr, "own output does not parse: %s\n%s\n", err.msg,
                out.ptr);
        abort();
    }
    CHECK(rn_value_compare(&v, &w) == 0);
    CHECK(rn_value_hash(&v) == rn_value_hash(&w));
    CHECK(rn_value_to_json(&again, &w) == 0);
    CHECK(again.len == out.len && memcmp(again.ptr, out.ptr, out.len) == 0);

    p = rn_partition_new();
    CHECK(p != NULL);
    CHECK(rn_codec_encode(&wire, &v, 1) == 0);
    CHECK(rn_codec_decode(wire.ptr, wire.len, p, &err) == 0);
    CHECK(p->n == 1 && rn_value_compare(&v, &p->items[0]) == 0);
    rn_partition_unref(p);

    rn_buf_release(&wire);
    rn_buf_release(&again);
    rn_buf_release(&out);
    rn_arena_release(&a);
    return 0;
}
