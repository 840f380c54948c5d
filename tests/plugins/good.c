/* A minimal valid plugin: what the SDK promises fits in a screenful. */
#include <string.h>

#include <runnel/runnel.h>

/* upper: ASCII upper-case of a string (other kinds pass through). */
static int upper_map(void *st, rn_ctx *ctx, const rn_value *in, rn_value *out)
{
    char *p;
    (void)st;
    if (in->kind != RN_STRING) {
        *out = *in;
        return 0;
    }
    if (!(p = rn_alloc(ctx, in->len ? in->len : 1)))
        return RN_ENOMEM;
    for (uint32_t i = 0; i < in->len; i++) {
        char c = in->u.s[i];
        p[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    *out = rn_string(p, in->len);
    return 0;
}

/* fail_on: fails the task when it meets the string `bad`. */
static const rn_param_spec fail_params[] = {
    {.name = "bad", .type = RN_PT_STRING, .def = "boom", .help = "the value that fails"},
};

static int fail_filter(void *st, rn_ctx *ctx, const rn_value *in)
{
    (void)st;
    if (in->kind == RN_STRING && in->len == 4 && memcmp(in->u.s, "boom", 4) == 0)
        return rn_error(ctx, RN_EINVAL, "met the bad value 'boom'");
    return 1;
}

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_MAP, "upper", "upper-case ASCII letters"), .map = upper_map},
    {RN_OP_HEAD(RN_OP_FILTER, "fail_on", "fail on a given value"),
     RN_OP_PARAMS(fail_params), .filter = fail_filter},
};

RN_PLUGIN_DEFINE("good", "1.2.3", "a minimal test plugin", ops)
