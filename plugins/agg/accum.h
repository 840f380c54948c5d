/*
 * Building blocks shared by the agg plugin's accumulators (agg.c: the
 * folds; keyed.c: foldby and groupby).
 *
 * All memory comes from rn_alloc_keep: the accumulator's task memory.
 */
#ifndef RN_AGG_ACCUM_H
#define RN_AGG_ACCUM_H

#include <stddef.h>

#include <runnel/runnel.h>

/* Records that a partial accumulator (perhaps decoded from another
 * machine) does not have the shape this plugin gives its accumulators;
 * returns RN_EPLUGIN. */
int rn__agg_malformed(rn_ctx *ctx, const char *what);

/* A box: deep copies of one value at a time into a buffer that is
 * reused, so replacing a kept value (the largest so far, the last seen)
 * does not pile up one copy per element. Zero-initialised = empty. */
typedef struct rn__agg_box {
    char *buf;
    size_t cap;
} rn__agg_box;

/* *out = a deep copy of in, in b's buffer, which is grown when too small
 * (the old buffer stays in task memory; at most doubling what the box
 * holds). What *out viewed before is overwritten. */
int rn__agg_box_set(rn_ctx *ctx, rn__agg_box *b, const rn_value *in,
                    rn_value *out);

/* *acc (RN_INT or RN_DOUBLE) += *in. Ints and bools add as int64; a sum
 * that would overflow int64 goes on as a double (never wraps); a double
 * makes the sum a double. Anything else: RN_ETYPE, "expected a number,
 * got KIND". */
int rn__agg_num_add(rn_ctx *ctx, rn_value *acc, const rn_value *in);

/* rn_compare made a total order: values it finds equal but that differ
 * (1 and 1.0, 0.0 and -0.0, [1] and [1.0]) are ordered int before double,
 * then by the bits of their doubles (-0.0 first). The smallest or
 * largest of a set is then one value whatever order the set came in, so
 * min and max may combine partials in any order. */
int rn__agg_total_cmp(rn_ctx *ctx, const rn_value *a, const rn_value *b);

#endif
