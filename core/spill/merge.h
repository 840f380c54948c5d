/*
 * The k-way merge of sorted runs (spill/run.h): what turns the runs a
 * keyed fold spilled, and the runs a shuffle fetched, back into one
 * result with each key once.
 *
 * Inputs are sources of records in non-decreasing hash order: run
 * readers (rn_run_reader_input), or any other source with the same two
 * calls (the integrator's sorted in-memory table, say). The merge yields
 * the *distinct keys* in ascending hash order; for each key, the records
 * of every input that holds it. Keys are values[0] of a record; records
 * of equal hash are told apart with rn_value_equal on the key, since
 * distinct keys may share a hash (within one input too, in any order).
 *
 * Fan-in: at most RN_MERGE_MAX_FANIN inputs; the caller merges more in
 * passes (rn_merge_to_run writes a pass's result as a new run).
 *
 * Memory: nothing per input beyond what the inputs hold (a run reader:
 * one decompressed block, docs/SPILL.md), plus the records of one hash:
 * when an input has several records of one hash (colliding keys), all
 * but its last are deep-copied into the merge's arena. At most
 * RN_MERGE_MAX_SAME_HASH records may share a hash (RN_ELIMIT beyond: it
 * takes a hostile or broken input, since a fold's run holds a key once).
 *
 * Ownership: the merge does not own its inputs; they must outlive it and
 * not be read by anyone else meanwhile. One thread at a time.
 */
#ifndef RN_SPILL_MERGE_H
#define RN_SPILL_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/value.h>

#include "base/arena.h"
#include "base/error.h"
#include "spill/run.h"

#define RN_MERGE_MAX_FANIN 64
#define RN_MERGE_MAX_SAME_HASH 4096

/* A source of records in non-decreasing hash order. */
typedef struct rn_merge_input {
    void *self;
    unsigned nvals; /* values per record, 1..RN_RUN_MAX_VALUES */
    /* The next record's hash without consuming it: 1, 0 at the end, or
     * a negative code. Must not invalidate the values `next` returned. */
    int (*peek)(void *self, uint64_t *hash, rn_errbuf *err);
    /* The next record: 1, 0 at the end, or a negative code. Its values
     * stay valid until the following call of `next`. */
    int (*next)(void *self, uint64_t *hash, const rn_value **values,
                rn_errbuf *err);
} rn_merge_input;

/* A run reader as a merge input (the reader stays the caller's). */
rn_merge_input rn_run_reader_input(rn_run_reader *r);

/* One distinct key and its records. */
typedef struct rn_merge_group {
    uint64_t hash;
    const rn_value *key;           /* values[0][0] */
    size_t n;                      /* records holding the key */
    const uint32_t *input;         /* input[i]: the input record i came
                                    * from; ascending (an input's records
                                    * in its order) */
    const rn_value *const *values; /* values[i]: record i's nvals values */
} rn_merge_group;

typedef struct rn_merge rn_merge;

/* k: 0..RN_MERGE_MAX_FANIN inputs, all with the same nvals (the array is
 * copied; the inputs are not). RN_ELIMIT past the fan-in, RN_EINVAL for
 * mismatched inputs, RN_ENOMEM. */
int rn_merge_open(rn_merge **out, const rn_merge_input *inputs, size_t k,
                  rn_errbuf *err);

/* The next key: 1 with *g (valid until the next call), 0 at the end, or
 * a negative code: an input's error (RN_EFORMAT, RN_EIO...), RN_EFORMAT
 * for an input out of hash order, RN_ELIMIT, RN_ENOMEM; every later call
 * fails the same way. Keys come in ascending hash order; keys of one
 * hash in the order their first record was met. */
int rn_merge_next(rn_merge *m, rn_merge_group *g, rn_errbuf *err);

void rn_merge_free(rn_merge *m); /* NULL is a no-op */

/* Combines the records of one key into out[0..nvals): out[0] must be the
 * key (the output record keeps the group's hash). Memory for the result
 * may come from `scratch`, which is reset after the record is written.
 * Returns 0 or a negative code (with err set), which stops the merge. */
typedef int (*rn_merge_combine_fn)(void *arg, const rn_merge_group *g,
                                   rn_value *out, rn_arena *scratch,
                                   rn_errbuf *err);

/* Merges the inputs into a new run in `dir` (a pass of a multi-pass
 * merge): each key once, its records combined by `combine` (not called
 * for a key held by one record, which is copied as it is). *info as
 * rn_run_writer_finish. On error no file is left behind. */
int rn_merge_to_run(const rn_merge_input *inputs, size_t k, const char *dir,
                    const rn_run_write_opts *opts, rn_merge_combine_fn combine,
                    void *arg, rn_run_info *info, rn_errbuf *err);

#endif
