/*
 * logs: the JSON-logs example's plugin.
 *
 *   logs.field_at_least  filter  keep records whose numeric `field` >= min
 *   logs.sum_by          foldby  per value of `key`, the sum of `field`
 *                                (Dask's foldby(key, binop=add, 0))
 *
 * Both take records as json_parse makes them.
 */
#include <string.h>

#include <runnel/runnel.h>

typedef struct ge_state {
    const char *field;
    double min;
} ge_state;

static const rn_param_spec ge_params[] = {
    {.name = "field", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "record field holding a number"},
    {.name = "min", .type = RN_PT_DOUBLE, .flags = RN_PF_REQUIRED,
     .help = "keep records whose field is at least this"},
};

static int ge_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    ge_state *st = rn_alloc_keep(ctx, sizeof(*st));
    rn_str f = rn_param_str(params, "field", NULL);
    char *name;
    if (!st || !(name = rn_alloc_keep(ctx, f.len + 1)))
        return RN_ENOMEM;
    memcpy(name, f.ptr, f.len);
    name[f.len] = '\0';
    st->field = name;
    st->min = rn_param_double(params, "min", 0);
    *state = st;
    return 0;
}

static int ge_filter(void *state, rn_ctx *ctx, const rn_value *in)
{
    const ge_state *st = state;
    const rn_value *v = rn_record_get(in, st->field);
    int ok;
    double d;
    (void)ctx;
    if (!v)
        return 0; /* records without the field are dropped */
    d = rn_value_as_double(v, &ok);
    return ok && d >= st->min;
}

typedef struct sum_state {
    const char *key;
    const char *field;
} sum_state;

static const rn_param_spec sum_params[] = {
    {.name = "key", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "record field to group by"},
    {.name = "field", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "record field to add up"},
};

static char *keep_str(rn_ctx *ctx, rn_str s)
{
    char *p = rn_alloc_keep(ctx, s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

static int sum_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    sum_state *st = rn_alloc_keep(ctx, sizeof(*st));
    if (!st)
        return RN_ENOMEM;
    st->key = keep_str(ctx, rn_param_str(params, "key", NULL));
    st->field = keep_str(ctx, rn_param_str(params, "field", NULL));
    if (!st->key || !st->field)
        return RN_ENOMEM;
    *state = st;
    return 0;
}

static int sum_key(void *state, rn_ctx *ctx, const rn_value *in, rn_value *key)
{
    const sum_state *st = state;
    const rn_value *k = rn_record_get(in, st->key);
    (void)ctx;
    *key = k ? *k : rn_null(); /* records without the key group under null */
    return 0;
}

static int sum_zero(void *state, rn_ctx *ctx, rn_value *acc)
{
    (void)state;
    (void)ctx;
    *acc = rn_int(0);
    return 0;
}

static void add(rn_value *acc, const rn_value *x)
{
    if (acc->kind == RN_INT && x->kind == RN_INT)
        acc->u.i += x->u.i;
    else if (x->kind == RN_INT || x->kind == RN_DOUBLE)
        *acc = rn_double(rn_value_as_double(acc, NULL) +
                         rn_value_as_double(x, NULL));
}

static int sum_step(void *state, rn_ctx *ctx, rn_value *acc, const rn_value *in)
{
    const sum_state *st = state;
    const rn_value *v = rn_record_get(in, st->field);
    (void)ctx;
    if (v)
        add(acc, v);
    return 0;
}

static int sum_combine(void *state, rn_ctx *ctx, rn_value *acc,
                       const rn_value *other)
{
    (void)state;
    (void)ctx;
    add(acc, other);
    return 0;
}

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_FILTER, "field_at_least",
                "keep records whose numeric field is at least min"),
     RN_OP_PARAMS(ge_params), .init = ge_init, .filter = ge_filter},
    {RN_OP_HEAD(RN_OP_FOLDBY, "sum_by", "[key, sum of field] per key"),
     RN_OP_PARAMS(sum_params), .flags = RN_OPF_COMMUTATIVE, .init = sum_init,
     .key = sum_key, .fold_init = sum_zero, .step = sum_step,
     .combine = sum_combine},
};

RN_PLUGIN_DEFINE("logs", "1.0.0", "JSON-logs example operators", ops)
