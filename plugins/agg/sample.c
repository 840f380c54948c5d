/*
 * random_sample {prob, seed}: keeps each element with probability prob
 * (Dask's bag.random_sample), a filter.
 *
 * Reproducible across runs, machines and clusters: whether an element is
 * kept depends only on the seed and the element's content, through the
 * engine's stable hash (rn_hash: the same on every machine, no per-
 * process seed). The decision is
 *     keep  <=>  mix(hash(element) ^ mix(seed)) < prob * 2^64
 * with mix the SplitMix64 finalizer (a bijection that spreads every input
 * bit over the output), so for distinct elements the decisions behave as
 * independent draws of probability prob.
 *
 * Why content and not (partition, position)? A filter sees neither its
 * element's position nor anything per task, and partitions change with
 * blocksize, npartitions and the files listed; a content hash makes the
 * sample the same whatever the partitioning, the number of threads or
 * workers, and the order tasks run in — and a sample of a subset is the
 * subset of the sample. The price: equal elements are kept or dropped
 * together (duplicates are not sampled independently); give elements
 * something that tells them apart (an id, a line number) when that
 * matters. Another seed gives another, independent sample.
 */
#include <stdint.h>

#include "stats.h"

const rn_param_spec rn__agg_sample_params[RN__AGG_SAMPLE_NPARAMS] = {
    {.name = "prob", .type = RN_PT_DOUBLE, .flags = RN_PF_REQUIRED,
     .min = 0, .max = 1,
     .help = "the probability that an element is kept, 0 to 1"},
    {.name = "seed", .type = RN_PT_INT, .def = "0",
     .min = -9223372036854775808.0, .max = 9223372036854775807.0,
     .help = "another seed, another sample; the same seed, the same "
             "sample on every run and cluster"},
};

typedef struct sample_state {
    uint64_t seed_mix;
    uint64_t threshold; /* keep when mix < threshold */
    int all;            /* prob 1: keep everything */
} sample_state;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int rn__agg_sample_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    double prob = rn_param_double(params, "prob", 0);
    int64_t seed = rn_param_int(params, "seed", 0);
    sample_state *st;

    if (!(prob >= 0 && prob <= 1))
        return rn_error(ctx, RN_EINVAL, "prob: expected 0 to 1");
    /* memory of init lives as long as the plan: nothing to destroy */
    if (!(st = rn_alloc_keep(ctx, sizeof *st)))
        return RN_ENOMEM;
    st->seed_mix = mix((uint64_t)seed + 0x9e3779b97f4a7c15ULL);
    st->all = prob >= 1;
    /* prob < 1: prob * 2^64 < 2^64, exact enough and in range */
    st->threshold = st->all ? 0 : (uint64_t)(prob * 18446744073709551616.0);
    *state = st;
    return 0;
}

int rn__agg_sample_filter(void *state, rn_ctx *ctx, const rn_value *in)
{
    const sample_state *st = state;
    if (st->all)
        return 1;
    return mix(rn_hash(ctx, in) ^ st->seed_mix) < st->threshold;
}
