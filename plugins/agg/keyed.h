/*
 * The agg plugin's keyed operators, foldby and groupby (keyed.c): their
 * parameter tables and callbacks, for the descriptor in agg.c.
 */
#ifndef RN_AGG_KEYED_H
#define RN_AGG_KEYED_H

#include <runnel/runnel.h>

#define RN__AGG_FOLDBY_NPARAMS 5
#define RN__AGG_GROUPBY_NPARAMS 3

extern const rn_param_spec rn__agg_foldby_params[RN__AGG_FOLDBY_NPARAMS];
extern const rn_param_spec rn__agg_groupby_params[RN__AGG_GROUPBY_NPARAMS];

/* init: the state lives in init's keep memory (as long as the plan);
 * there is no destroy. */
int rn__agg_foldby_init(rn_ctx *ctx, const rn_value *params, void **state);
int rn__agg_groupby_init(rn_ctx *ctx, const rn_value *params, void **state);

/* Shared by both operators: the state says which aggregation. */
int rn__agg_keyed_key(void *state, rn_ctx *ctx, const rn_value *in,
                      rn_value *key);
int rn__agg_keyed_fold_init(void *state, rn_ctx *ctx, rn_value *acc);
int rn__agg_keyed_step(void *state, rn_ctx *ctx, rn_value *acc,
                       const rn_value *in);
int rn__agg_keyed_combine(void *state, rn_ctx *ctx, rn_value *acc,
                          const rn_value *other);
int rn__agg_keyed_finish(void *state, rn_ctx *ctx, const rn_value *key,
                         const rn_value *acc);

/* frequencies and distinct with an optional `key` (a key path; absent:
 * the element itself). frequencies counts per key ([key, count]);
 * distinct keeps each key's first element in input order (the element,
 * not the key). Without a key they are as before. */
#define RN__AGG_BYKEY_NPARAMS 1
extern const rn_param_spec rn__agg_bykey_params[RN__AGG_BYKEY_NPARAMS];
int rn__agg_frequencies_init(rn_ctx *ctx, const rn_value *params,
                             void **state);
int rn__agg_distinct_init(rn_ctx *ctx, const rn_value *params, void **state);
int rn__agg_distinct_fold_init(void *state, rn_ctx *ctx, rn_value *acc);
int rn__agg_distinct_step(void *state, rn_ctx *ctx, rn_value *acc,
                          const rn_value *in);
int rn__agg_distinct_combine(void *state, rn_ctx *ctx, rn_value *acc,
                             const rn_value *other);
int rn__agg_distinct_finish(void *state, rn_ctx *ctx, const rn_value *key,
                            const rn_value *acc);

#endif
