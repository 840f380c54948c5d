/*
 * Writes the seed corpus of fuzz_spill_run: small runs (blocks of a few
 * hundred bytes, so several fit in a seed) stored and zstd-compressed,
 * 1 to 4 values a record of every kind, colliding hashes, an empty run.
 * The output is checked in under tests/fuzz/corpus/spill_run/; rerun
 * after a format change:
 *
 *   build-fuzz/fuzz/gen_spill_corpus tests/fuzz/corpus/spill_run
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "spill/run.h"
#include "value/value.h"

static rn_value value_of(unsigned i, rn_value *items, rn_field *fields)
{
    switch (i % 8) {
    case 0:
        return rn_null();
    case 1:
        return rn_bool(i & 8);
    case 2:
        return rn_int((int64_t)i * -977);
    case 3:
        return rn_double(i / 3.0);
    case 4:
        return rn_string("alpha", 1 + i % 5);
    case 5:
        return rn_bytes("\x00\x01\x80\xff", i % 5);
    case 6:
        items[0] = rn_int(i);
        items[1] = rn_string("x", 1);
        return rn_list(items, 2);
    default:
        fields[0].name.ptr = "n";
        fields[0].name.len = 1;
        fields[0].value = rn_int(i);
        return rn_record(fields, 1);
    }
}

/* n records of nvals values; hashes rn_value_hash(values[0]), sorted, or
 * with `collide` a handful of shared ones. Renames the run to dir/name. */
static int seed(const char *dir, const char *name, int codec, unsigned nvals,
                unsigned n, int collide, size_t block)
{
    rn_run_write_opts o = {codec, 0, block};
    rn_run_writer *w;
    rn_run_info info;
    rn_errbuf err;
    char path[4096];
    uint64_t *h = calloc(n ? n : 1, sizeof(uint64_t));
    unsigned *order = calloc(n ? n : 1, sizeof(unsigned));
    rn_value items[2];
    rn_field fields[1];

    for (unsigned i = 0; i < n; i++) {
        rn_value k = value_of(i, items, fields);
        h[i] = collide ? (uint64_t)(i % 3) << 40 : rn_value_hash(&k);
        order[i] = i;
    }
    /* insertion sort: seeds are small */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && h[order[j]] < h[order[j - 1]]; j--) {
            unsigned t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (rn_run_writer_open(&w, dir, nvals, &o, &err))
        goto fail;
    for (unsigned r = 0; r < n; r++) {
        unsigned i = order[r];
        rn_value v[RN_RUN_MAX_VALUES], it[RN_RUN_MAX_VALUES][2];
        rn_field f[RN_RUN_MAX_VALUES][1];
        for (unsigned k = 0; k < nvals; k++)
            v[k] = value_of(i + k * 5, it[k], f[k]);
        if (rn_run_writer_add(w, h[i], v, &err))
            goto fail;
    }
    if (rn_run_writer_finish(w, &info, &err))
        goto fail;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (rename(info.path, path)) {
        perror(path);
        return 1;
    }
    rn_run_info_release(&info);
    free(h);
    free(order);
    return 0;
fail:
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 1;
}

int main(int argc, char **argv)
{
    int bad = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: gen_spill_corpus DIR\n");
        return 2;
    }
    bad |= seed(argv[1], "stored_kv", RN_RUN_STORED, 2, 40, 0, 128);
    bad |= seed(argv[1], "zstd_kv", RN_RUN_ZSTD, 2, 60, 0, 256);
    bad |= seed(argv[1], "stored_one_value", RN_RUN_STORED, 1, 16, 0, 64);
    bad |= seed(argv[1], "stored_four_values", RN_RUN_STORED, 4, 12, 0, 200);
    bad |= seed(argv[1], "stored_collide", RN_RUN_STORED, 2, 24, 1, 96);
    bad |= seed(argv[1], "zstd_collide", RN_RUN_ZSTD, 2, 30, 1, 128);
    bad |= seed(argv[1], "zstd_one_block", RN_RUN_ZSTD, 3, 20, 0, 0);
    bad |= seed(argv[1], "empty", RN_RUN_ZSTD, 2, 0, 0, 0);
    return bad;
}
