/*
 * var, std, any, all: one value for the whole bag, as Dask's bag methods.
 *
 * var and std: numbers (ints, doubles, bools as 0/1; anything else fails
 * the task as sum does). The variance is sum((x - mean)^2) / (n - ddof):
 * ddof 0 (the default, as Dask's bag.var and numpy) the population
 * variance, 1 the sample variance; std is its square root. Null when
 * n - ddof <= 0 (an empty bag too).
 *
 * Numerically stable and combinable: each partial is (n, mean, m2), m2
 * the sum of squared deviations from its mean, updated per element with
 * Welford's recurrence and merged with Chan et al.'s pairwise formula
 *   d = mean_b - mean_a, n = n_a + n_b,
 *   mean = mean_a + d * n_b / n, m2 = m2_a + m2_b + d^2 * n_a * n_b / n,
 * so no sum of squares is formed (Dask's bag.var sums x^2 and loses all
 * precision on values like 1e9 + small). The last bits of the result may
 * depend on how the engine splits and merges partials, like any
 * floating-point sum.
 *
 * any / all: is some / every element truthy? Truthiness as Python's:
 * null, false, 0, 0.0, "" (and empty bytes), [] and {} are false,
 * everything else true (NaN too). An empty bag: any false, all true.
 *
 * Accumulators (they cross the wire, so combine checks `other`):
 *   var, std  [n (int), mean (double), m2 (double)]
 *   any, all  a bool
 */
#include <math.h>
#include <string.h>

#include "accum.h"
#include "stats.h"

typedef struct var_state {
    int64_t ddof;
} var_state;

const rn_param_spec rn__agg_var_params[RN__AGG_VAR_NPARAMS] = {
    {.name = "ddof", .type = RN_PT_INT, .def = "0", .min = 0,
     .max = 4294967295.0,
     .help = "delta degrees of freedom: divide by n - ddof (0: population, "
             "as Dask and numpy; 1: sample)"},
};

int rn__agg_var_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    /* the state is one number: keep it in the pointer, nothing to free */
    *state = (void *)(uintptr_t)rn_param_int(params, "ddof", 0);
    return 0;
}

int rn__agg_var_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    rn_value *items = rn_alloc_keep(ctx, 3 * sizeof *items);
    if (!items)
        return RN_ENOMEM;
    items[0] = rn_int(0);
    items[1] = rn_double(0);
    items[2] = rn_double(0);
    *acc = rn_list(items, 3);
    return 0;
}

int rn__agg_var_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in)
{
    rn_value *m = (rn_value *)(void *)acc->u.items;
    double x, d;
    int64_t n;

    if (in->kind == RN_DOUBLE)
        x = in->u.d;
    else if (in->kind == RN_INT || in->kind == RN_BOOL)
        x = (double)in->u.i;
    else
        return rn_error(ctx, RN_ETYPE, "expected a number, got %s",
                        rn_kind_name(in->kind));
    n = ++m[0].u.i;
    d = x - m[1].u.d;
    m[1].u.d += d / (double)n;
    m[2].u.d += d * (x - m[1].u.d);
    return 0;
}

int rn__agg_var_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    rn_value *a = (rn_value *)(void *)acc->u.items;
    const rn_value *b = other->u.items;
    double na, nb, n, d;

    if (other->kind != RN_LIST || other->len != 3 || b[0].kind != RN_INT ||
        b[0].u.i < 0 || b[1].kind != RN_DOUBLE || b[2].kind != RN_DOUBLE)
        return rn__agg_malformed(ctx, "expected [n, mean, m2]");
    if (b[0].u.i == 0)
        return 0;
    if (a[0].u.i == 0) {
        a[0] = b[0];
        a[1] = b[1];
        a[2] = b[2];
        return 0;
    }
    na = (double)a[0].u.i;
    nb = (double)b[0].u.i;
    n = na + nb;
    d = b[1].u.d - a[1].u.d;
    a[1].u.d += d * nb / n;
    a[2].u.d += b[2].u.d + d * d * na * nb / n;
    a[0].u.i += b[0].u.i;
    return 0;
}

/* The variance, or null. */
static rn_value variance(const void *state, const rn_value *acc)
{
    int64_t ddof = (int64_t)(uintptr_t)state;
    const rn_value *m = acc->u.items;
    if (acc->kind != RN_LIST || acc->len != 3 || m[0].u.i - ddof <= 0)
        return rn_null();
    return rn_double(m[2].u.d / (double)(m[0].u.i - ddof));
}

int rn__agg_var_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc)
{
    rn_value v = variance(state, acc);
    return rn_emit(ctx, &v);
}

int rn__agg_std_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc)
{
    rn_value v = variance(state, acc);
    if (v.kind == RN_DOUBLE)
        v.u.d = sqrt(v.u.d);
    return rn_emit(ctx, &v);
}

/* ---- any / all --------------------------------------------------------- */

static int truthy(const rn_value *v)
{
    switch (v->kind) {
    case RN_NULL:
        return 0;
    case RN_BOOL:
    case RN_INT:
        return v->u.i != 0;
    case RN_DOUBLE:
        return v->u.d != 0.0; /* NaN is true, as in Python */
    default: /* strings, bytes, lists, records: non-empty */
        return v->len != 0;
    }
}

int rn__agg_any_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    *acc = rn_bool(0);
    return 0;
}

int rn__agg_all_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    *acc = rn_bool(1);
    return 0;
}

int rn__agg_any_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in)
{
    acc->u.i |= truthy(in);
    return 0;
}

int rn__agg_all_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in)
{
    acc->u.i &= truthy(in);
    return 0;
}

int rn__agg_any_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    if (other->kind != RN_BOOL)
        return rn__agg_malformed(ctx, "expected a bool");
    acc->u.i |= other->u.i != 0;
    return 0;
}

int rn__agg_all_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    if (other->kind != RN_BOOL)
        return rn__agg_malformed(ctx, "expected a bool");
    acc->u.i &= other->u.i != 0;
    return 0;
}
