/*
 * Shipped plugin "lua": operators written in Lua, run by LuaJIT in a
 * sandbox (luabox.h), one state per thread.
 *
 *   map       expr (an expression over the element x, whose fields read
 *             as names: `bytes / 1024`) or code (a function(x));
 *   filter    where (an expression: `status >= 500 and url:find('/api')`)
 *             or code (a function(x)); kept when the result is neither
 *             nil, false nor null;
 *   flat_map  code: a function(x) returning a list of values (or nil);
 *   fold      init (an expression: the starting accumulator), step
 *             (function(acc, x)), combine (function(a, b): a and b merged,
 *             in order), finish (optional function(acc): the result).
 * Every operator takes `instructions` (the budget of one call) and
 * `memory` (the cap of each Lua state's heap). Values cross as
 * luaval.h says.
 */
#include <stdlib.h>
#include <string.h>

#include <runnel/runnel.h>

#include "luabox.h"
#include "luaval.h"

#define LIMIT_PARAMS                                                         \
    {.name = "instructions", .type = RN_PT_INT, .def = "10000000",           \
     .min = 1000, .max = 1e15,                                                \
     .help = "Lua VM instructions one call may run before it fails"},         \
    {.name = "memory", .type = RN_PT_SIZE, .def = "64MiB", .min = 1 << 20,    \
     .max = 68719476736.0,                                                    \
     .help = "cap of each Lua state's heap (garbage included)"}

static const rn_param_spec map_params[] = {
    {.name = "expr", .type = RN_PT_STRING,
     .help = "an expression over the element x (its fields read as names)"},
    {.name = "code", .type = RN_PT_STRING,
     .help = "a Lua function(x) returning the new element"},
    LIMIT_PARAMS,
};

static const rn_param_spec filter_params[] = {
    {.name = "where", .type = RN_PT_STRING,
     .help = "an expression over the element x (its fields read as names): "
             "kept when true"},
    {.name = "code", .type = RN_PT_STRING,
     .help = "a Lua function(x) returning true to keep x"},
    LIMIT_PARAMS,
};

static const rn_param_spec flat_map_params[] = {
    {.name = "code", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "a Lua function(x) returning a list of elements (or nil)"},
    LIMIT_PARAMS,
};

static const rn_param_spec fold_params[] = {
    {.name = "init", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "a Lua expression: the starting accumulator (`0`, `{}`)"},
    {.name = "step", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "function(acc, x): the accumulator with x added"},
    {.name = "combine", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "function(a, b): two accumulators merged (a's elements came "
             "first)"},
    {.name = "finish", .type = RN_PT_STRING,
     .help = "function(acc): the result (default: the accumulator)"},
    LIMIT_PARAMS,
};

/* Functions of a box, by operator. */
enum { FN_MAIN = 0, FN_INIT = 0, FN_STEP = 1, FN_COMBINE = 2, FN_FINISH = 3 };

static const char *str_param(const rn_value *params, const char *name,
                             char **owned)
{
    const rn_value *v = rn_record_get(params, name);
    *owned = NULL;
    if (!v || v->kind != RN_STRING)
        return NULL;
    if (!(*owned = malloc((size_t)v->len + 1)))
        return NULL;
    memcpy(*owned, v->u.s, v->len);
    (*owned)[v->len] = '\0';
    return *owned;
}

static int limits(const rn_value *params, size_t *memory, int64_t *instr)
{
    const rn_value *m = rn_record_get(params, "memory");
    const rn_value *i = rn_record_get(params, "instructions");
    *memory = m && m->kind == RN_INT ? (size_t)m->u.i : (size_t)64 << 20;
    *instr = i && i->kind == RN_INT ? i->u.i : 10000000;
    return 0;
}

/* map and filter: exactly one of an expression parameter and code. */
static int one_fn_init(rn_ctx *ctx, const rn_value *params, void **state,
                       const char *label, const char *expr_name)
{
    char *expr, *code;
    rn_luafn fn = {0};
    size_t memory;
    int64_t instr;
    int rc;

    str_param(params, expr_name, &expr);
    str_param(params, "code", &code);
    if (!expr == !code) {
        rc = rn_error(ctx, RN_EINVAL, "give one of `%s` and `code`",
                      expr_name);
        goto done;
    }
    fn.name = expr ? expr_name : "code";
    fn.code = expr ? expr : code;
    fn.expr = expr != NULL;
    limits(params, &memory, &instr);
    rc = rn_luabox_new(ctx, label, &fn, 1, memory, instr,
                       (rn_luabox **)state);
done:
    free(expr);
    free(code);
    return rc;
}

static int map_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    return one_fn_init(ctx, params, state, "lua.map", "expr");
}

static int filter_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    return one_fn_init(ctx, params, state, "lua.filter", "where");
}

static int flat_map_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    char *code;
    rn_luafn fn = {.name = "code"};
    size_t memory;
    int64_t instr;
    int rc;

    if (!(fn.code = str_param(params, "code", &code)))
        return rn_error(ctx, RN_EINVAL, "`code` is required");
    limits(params, &memory, &instr);
    rc = rn_luabox_new(ctx, "lua.flat_map", &fn, 1, memory, instr,
                       (rn_luabox **)state);
    free(code);
    return rc;
}

static int fold_init_op(rn_ctx *ctx, const rn_value *params, void **state)
{
    static const char *const names[] = {"init", "step", "combine", "finish"};
    char *owned[4] = {0};
    rn_luafn fns[4] = {{0}};
    size_t memory;
    int64_t instr;
    int rc;

    for (size_t i = 0; i < 4; i++) {
        fns[i].name = names[i];
        fns[i].code = str_param(params, names[i], &owned[i]);
    }
    /* init is an expression of nothing: a function returning it */
    fns[FN_INIT].expr = 1;
    limits(params, &memory, &instr);
    rc = rn_luabox_new(ctx, "lua.fold", fns, 4, memory, instr,
                       (rn_luabox **)state);
    for (size_t i = 0; i < 4; i++)
        free(owned[i]);
    return rc;
}

static void box_destroy(void *state)
{
    rn_luabox_free(state);
}

/* Calls function i on `in` in the calling thread's state; the result is
 * left on the stack (one value above *top). */
static int call1(rn_luabox *b, rn_ctx *ctx, size_t i, const rn_value *in,
                 lua_State **Lp, int *top)
{
    lua_State *L = rn_luabox_state(b, ctx);
    int rc;
    if (!L)
        return RN_ENOMEM;
    *Lp = L;
    *top = lua_gettop(L);
    if ((rc = rn_luaval_push(L, ctx, in)))
        return rc;
    lua_pushvalue(L, -1); /* the element stays below the result */
    if ((rc = rn_luabox_call(b, L, ctx, i, 1))) {
        lua_settop(L, *top);
        return rc;
    }
    return 0;
}

static int lua_map(void *state, rn_ctx *ctx, const rn_value *in,
                   rn_value *out)
{
    lua_State *L;
    int top, rc;
    if ((rc = call1(state, ctx, FN_MAIN, in, &L, &top)))
        return rc;
    rc = rn_luaval_to(L, ctx, -1, 0, in, -2, "the result", out);
    lua_settop(L, top);
    return rc;
}

static int lua_filter(void *state, rn_ctx *ctx, const rn_value *in)
{
    lua_State *L;
    int top, rc, keep;
    if ((rc = call1(state, ctx, FN_MAIN, in, &L, &top)))
        return rc;
    keep = lua_toboolean(L, -1) &&
           !(lua_type(L, -1) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, -1));
    lua_settop(L, top);
    return keep;
}

static int lua_flat_map(void *state, rn_ctx *ctx, const rn_value *in)
{
    lua_State *L;
    rn_value v;
    int top, rc;
    if ((rc = call1(state, ctx, FN_MAIN, in, &L, &top)))
        return rc;
    if (lua_isnil(L, -1)) {
        lua_settop(L, top);
        return 0;
    }
    rc = rn_luaval_to(L, ctx, -1, 0, NULL, 0, "the result", &v);
    lua_settop(L, top);
    if (rc)
        return rc;
    if (v.kind != RN_LIST)
        return rn_error(ctx, RN_ETYPE, "code must return a list of elements "
                                       "(or nil), not a %s",
                        rn_kind_name(v.kind));
    for (uint32_t i = 0; i < v.len; i++)
        if ((rc = rn_emit(ctx, &v.u.items[i])))
            return rc;
    return 0;
}

/* fold: the accumulator lives in task memory between calls */
static int lua_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    lua_State *L = rn_luabox_state(state, ctx);
    int top, rc;
    if (!L)
        return RN_ENOMEM;
    top = lua_gettop(L);
    lua_pushnil(L); /* the expression's x */
    if ((rc = rn_luabox_call(state, L, ctx, FN_INIT, 1)) == 0)
        rc = rn_luaval_to(L, ctx, -1, 1, NULL, 0, "init", acc);
    lua_settop(L, top);
    return rc;
}

static int acc_call(rn_luabox *b, rn_ctx *ctx, size_t fn, rn_value *acc,
                    const rn_value *x, const char *what)
{
    lua_State *L = rn_luabox_state(b, ctx);
    int top, rc;
    if (!L)
        return RN_ENOMEM;
    top = lua_gettop(L);
    if ((rc = rn_luaval_push(L, ctx, acc)) == 0 &&
        (rc = rn_luaval_push(L, ctx, x)) == 0 &&
        (rc = rn_luabox_call(b, L, ctx, fn, 2)) == 0)
        rc = rn_luaval_to(L, ctx, -1, 1, NULL, 0, what, acc);
    lua_settop(L, top);
    return rc;
}

static int lua_fold_step(void *state, rn_ctx *ctx, rn_value *acc,
                         const rn_value *in)
{
    return acc_call(state, ctx, FN_STEP, acc, in, "step");
}

static int lua_fold_combine(void *state, rn_ctx *ctx, rn_value *acc,
                            const rn_value *other)
{
    return acc_call(state, ctx, FN_COMBINE, acc, other, "combine");
}

static int lua_fold_finish(void *state, rn_ctx *ctx, const rn_value *key,
                           const rn_value *acc)
{
    lua_State *L;
    rn_value out;
    int top, rc;
    (void)key;
    if (!(L = rn_luabox_state(state, ctx)))
        return RN_ENOMEM;
    if (!rn_luabox_has(state, FN_FINISH))
        return rn_emit(ctx, acc);
    top = lua_gettop(L);
    if ((rc = rn_luaval_push(L, ctx, acc)) == 0 &&
        (rc = rn_luabox_call(state, L, ctx, FN_FINISH, 1)) == 0)
        rc = rn_luaval_to(L, ctx, -1, 0, NULL, 0, "finish", &out);
    lua_settop(L, top);
    if (rc == 0)
        rc = rn_emit(ctx, &out);
    return rc;
}

static const rn_op_desc lua_ops[] = {
    {RN_OP_HEAD(RN_OP_MAP, "map",
                "a Lua expression (expr) or function (code) of each element"),
     RN_OP_PARAMS(map_params), .init = map_init, .destroy = box_destroy,
     .map = lua_map},
    {RN_OP_HEAD(RN_OP_FILTER, "filter",
                "keeps the elements a Lua expression (where) or function "
                "(code) is true of"),
     RN_OP_PARAMS(filter_params), .init = filter_init, .destroy = box_destroy,
     .filter = lua_filter},
    {RN_OP_HEAD(RN_OP_FLAT_MAP, "flat_map",
                "the elements of the list a Lua function returns"),
     RN_OP_PARAMS(flat_map_params), .init = flat_map_init,
     .destroy = box_destroy, .flat_map = lua_flat_map},
    {RN_OP_HEAD(RN_OP_FOLD, "fold",
                "a fold written in Lua: init, step, combine, finish"),
     RN_OP_PARAMS(fold_params), .init = fold_init_op, .destroy = box_destroy,
     .fold_init = lua_fold_init, .step = lua_fold_step,
     .combine = lua_fold_combine, .finish = lua_fold_finish},
};

RN_PLUGIN_DEFINE("lua", "1.0.0",
                 "operators written in Lua (LuaJIT, sandboxed): map, filter, "
                 "flat_map, fold",
                 lua_ops)
