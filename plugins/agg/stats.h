/*
 * The agg plugin's statistical reductions and truth tests (stats.c) and
 * its sampling filter (sample.c): parameter tables and callbacks for the
 * descriptor in agg.c.
 */
#ifndef RN_AGG_STATS_H
#define RN_AGG_STATS_H

#include <runnel/runnel.h>

/* var, std: ddof as numpy / Dask (default 0: population). */
#define RN__AGG_VAR_NPARAMS 1
extern const rn_param_spec rn__agg_var_params[RN__AGG_VAR_NPARAMS];
int rn__agg_var_init(rn_ctx *ctx, const rn_value *params, void **state);
int rn__agg_var_fold_init(void *state, rn_ctx *ctx, rn_value *acc);
int rn__agg_var_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in);
int rn__agg_var_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other);
int rn__agg_var_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc);
int rn__agg_std_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc);

/* any, all */
int rn__agg_any_init(void *state, rn_ctx *ctx, rn_value *acc);
int rn__agg_all_init(void *state, rn_ctx *ctx, rn_value *acc);
int rn__agg_any_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in);
int rn__agg_all_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in);
int rn__agg_any_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other);
int rn__agg_all_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other);

/* random_sample (sample.c) */
#define RN__AGG_SAMPLE_NPARAMS 2
extern const rn_param_spec rn__agg_sample_params[RN__AGG_SAMPLE_NPARAMS];
int rn__agg_sample_init(rn_ctx *ctx, const rn_value *params, void **state);
int rn__agg_sample_filter(void *state, rn_ctx *ctx, const rn_value *in);

#endif
