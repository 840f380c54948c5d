/*
 * Writes the seed corpus of fuzz_codec: small encoded partitions that
 * between them use every kind, empty and nested containers, the varint
 * edge cases and the depth limit. The output is checked in under
 * tests/fuzz/corpus/codec/; rerun after a format change:
 *
 *   build-fuzz/fuzz/gen_codec_corpus tests/fuzz/corpus/codec
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "value/codec.h"
#include "value/value.h"

static int write_seed(const char *dir, const char *name, const rn_value *v,
                      size_t n)
{
    char path[4096];
    rn_buf b;
    FILE *f;
    int ok;
    rn_buf_init(&b, 0);
    if (rn_codec_encode(&b, v, n)) {
        fprintf(stderr, "%s: encoding failed\n", name);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        rn_buf_release(&b);
        return 1;
    }
    ok = fwrite(b.ptr, 1, b.len, f) == b.len;
    ok = (fclose(f) == 0) && ok;
    rn_buf_release(&b);
    if (!ok)
        fprintf(stderr, "%s: write failed\n", path);
    return !ok;
}

int main(int argc, char **argv)
{
    static const uint8_t raw[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    rn_value scalars[] = {
        rn_null(),           rn_bool(0),          rn_bool(1),
        rn_int(0),           rn_int(-1),          rn_int(63),
        rn_int(-64),         rn_int(8191),        rn_int(INT64_MAX),
        rn_int(INT64_MIN),   rn_double(0.1),      rn_double(-0.0),
        rn_double(NAN),      rn_double(INFINITY), rn_string("", 0),
        rn_string("the", 3), rn_bytes(raw, sizeof(raw)),
    };
    rn_value pair[2] = {rn_string("the", 3), rn_int(4171178)};
    rn_field user[2] = {{{"user", 4}, rn_string("x", 1)},
                        {{"", 0}, rn_list(pair, 2)}};
    rn_value mid[3] = {rn_record(user, 2), rn_list(NULL, 0),
                       rn_record(NULL, 0)};
    rn_field outer[1] = {{{"items", 5}, rn_list(mid, 3)}};
    rn_value nested[2] = {rn_list(mid, 3), rn_record(outer, 1)};
    rn_value chain[RN_VALUE_MAX_DEPTH + 1];
    rn_value words[200];
    char text[200][8];
    char long_str[300];
    rn_value longs[1];
    const char *dir;
    int bad = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];

    chain[RN_VALUE_MAX_DEPTH] = rn_null();
    for (int i = RN_VALUE_MAX_DEPTH - 1; i >= 0; i--)
        chain[i] = rn_list(&chain[i + 1], 1);
    for (int i = 0; i < 200; i++) {
        int len = snprintf(text[i], sizeof(text[i]), "w%d", i * 37);
        words[i] = i % 3 ? rn_string(text[i], (size_t)len) : rn_int(i * 1000);
    }
    memset(long_str, 'a', sizeof(long_str));
    longs[0] = rn_string(long_str, sizeof(long_str));

    bad |= write_seed(dir, "empty", NULL, 0);
    bad |= write_seed(dir, "scalars", scalars,
                      sizeof(scalars) / sizeof(scalars[0]));
    bad |= write_seed(dir, "nested", nested, 2);
    bad |= write_seed(dir, "depth64", chain, 1);
    bad |= write_seed(dir, "words", words, 200);
    bad |= write_seed(dir, "long_string", longs, 1);
    bad |= write_seed(dir, "one_int", &scalars[7], 1);
    return bad;
}
