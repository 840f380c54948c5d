/*
 * pageviews: the Avro example's plugin, over the records read_avro makes
 * of pageviews.avro ({user: {name, country}, url, status, bytes, ...}).
 *
 *   pageviews.path        map     the url without its query string
 *   pageviews.user_bytes  foldby  per user.name, the sum of bytes
 */
#include <string.h>

#include <runnel/runnel.h>

static int path_map(void *state, rn_ctx *ctx, const rn_value *in,
                    rn_value *out)
{
    const rn_value *url = rn_record_get(in, "url");
    const char *q;
    (void)state;
    if (!url || url->kind != RN_STRING)
        return rn_error(ctx, RN_ETYPE, "expected a record with a string url");
    q = memchr(url->u.s, '?', url->len);
    /* a view into the input: no copy */
    *out = rn_string(url->u.s, q ? (size_t)(q - url->u.s) : url->len);
    return 0;
}

static int ub_key(void *state, rn_ctx *ctx, const rn_value *in,
                  rn_value *key)
{
    const rn_value *name = rn_record_get(rn_record_get(in, "user"), "name");
    (void)state;
    if (!name || name->kind != RN_STRING)
        return rn_error(ctx, RN_ETYPE, "expected user.name, a string");
    *key = *name;
    return 0;
}

static int ub_zero(void *state, rn_ctx *ctx, rn_value *acc)
{
    (void)state;
    (void)ctx;
    *acc = rn_int(0);
    return 0;
}

static int ub_step(void *state, rn_ctx *ctx, rn_value *acc,
                   const rn_value *in)
{
    const rn_value *b = rn_record_get(in, "bytes");
    (void)state;
    if (!b || b->kind != RN_INT)
        return rn_error(ctx, RN_ETYPE, "expected bytes, an int");
    acc->u.i += b->u.i;
    return 0;
}

static int ub_combine(void *state, rn_ctx *ctx, rn_value *acc,
                      const rn_value *other)
{
    (void)state;
    (void)ctx;
    acc->u.i += other->u.i;
    return 0;
}

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_MAP, "path", "the url field without its query"),
     .map = path_map},
    {RN_OP_HEAD(RN_OP_FOLDBY, "user_bytes",
                "[user.name, sum of bytes] per user"),
     .flags = RN_OPF_COMMUTATIVE, .key = ub_key, .fold_init = ub_zero,
     .step = ub_step, .combine = ub_combine},
};

RN_PLUGIN_DEFINE("pageviews", "1.0.0", "Avro example operators", ops)
