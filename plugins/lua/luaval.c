/* runnel values in and out of Lua. */
#include "luaval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int push_at(lua_State *L, rn_ctx *ctx, const rn_value *v, int depth)
{
    if (depth > RN_LUAVAL_MAX_DEPTH || !lua_checkstack(L, 4))
        return rn_error(ctx, RN_ELIMIT, "a value nested more than %d levels "
                                        "deep cannot go into Lua",
                        RN_LUAVAL_MAX_DEPTH);
    switch (v->kind) {
    case RN_NULL:
        lua_pushlightuserdata(L, NULL);
        return 0;
    case RN_BOOL:
        lua_pushboolean(L, v->u.i != 0);
        return 0;
    case RN_INT:
        lua_pushnumber(L, (lua_Number)v->u.i);
        return 0;
    case RN_DOUBLE:
        lua_pushnumber(L, v->u.d);
        return 0;
    case RN_STRING:
        lua_pushlstring(L, v->u.s ? v->u.s : "", v->len);
        return 0;
    case RN_BYTES:
        lua_pushlstring(L, v->u.bytes ? (const char *)v->u.bytes : "", v->len);
        return 0;
    case RN_LIST:
        lua_createtable(L, (int)v->len, 0);
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = push_at(L, ctx, &v->u.items[i], depth + 1);
            if (rc)
                return rc;
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 0;
    case RN_RECORD:
        lua_createtable(L, 0, (int)v->len);
        for (uint32_t i = 0; i < v->len; i++) {
            const rn_field *f = &v->u.fields[i];
            int rc;
            lua_pushlstring(L, f->name.ptr ? f->name.ptr : "", f->name.len);
            if ((rc = push_at(L, ctx, &f->value, depth + 1)))
                return rc;
            lua_rawset(L, -3);
        }
        return 0;
    default:
        return rn_error(ctx, RN_ETYPE, "a value of unknown kind %u",
                        (unsigned)v->kind);
    }
}

int rn_luaval_push(lua_State *L, rn_ctx *ctx, const rn_value *v)
{
    int top = lua_gettop(L);
    int rc = push_at(L, ctx, v, 0);
    if (rc)
        lua_settop(L, top);
    return rc;
}

/* ---- out of Lua ----------------------------------------------------- */

typedef struct conv {
    lua_State *L;
    rn_ctx *ctx;
    int keep;
    const char *what;
} conv;

static void *mem(conv *c, size_t n)
{
    return c->keep ? rn_alloc_keep(c->ctx, n ? n : 1)
                   : rn_alloc(c->ctx, n ? n : 1);
}

static int oom(conv *c)
{
    return rn_error(c->ctx, RN_ENOMEM, "out of memory");
}

static int to_at(conv *c, int idx, const rn_value *like, int like_idx,
                 int depth, rn_value *out);

typedef struct skey {
    const char *p;
    size_t n;
} skey;

static int skey_cmp(const void *a, const void *b)
{
    const skey *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int d = memcmp(x->p, y->p, n);
    return d ? d : (x->n > y->n) - (x->n < y->n);
}

static int in_like(const rn_value *like, const skey *k)
{
    for (uint32_t i = 0; like && i < like->len; i++)
        if (like->u.fields[i].name.len == k->n &&
            memcmp(like->u.fields[i].name.ptr, k->p, k->n) == 0)
            return 1;
    return 0;
}

/* One field: the value of key k (on no stack) of the table at t. */
static int field(conv *c, int t, const char *p, size_t n, int depth,
                 rn_field *f)
{
    char *name = mem(c, n);
    int rc;
    if (!name)
        return oom(c);
    memcpy(name, p, n);
    f->name.ptr = name;
    f->name.len = n;
    lua_pushlstring(c->L, p, n);
    lua_rawget(c->L, t);
    rc = to_at(c, lua_gettop(c->L), NULL, 0, depth + 1, &f->value);
    lua_pop(c->L, 1);
    return rc;
}

static int table_to(conv *c, int t, const rn_value *like, int depth,
                    rn_value *out)
{
    lua_State *L = c->L;
    size_t n = 0, n_str = 0, n_seq = 0;
    skey *keys = NULL;
    int rc = 0;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        n++;
        if (lua_type(L, -2) == LUA_TSTRING) {
            n_str++;
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -2);
            if (k >= 1 && k == floor(k) && k <= (lua_Number)UINT32_MAX)
                n_seq++;
        }
        lua_pop(L, 1);
    }
    if (n_seq == n && (size_t)lua_objlen(L, t) == n &&
        !(n == 0 && like && like->kind == RN_RECORD)) {
        rn_value *items = mem(c, n * sizeof(rn_value));
        if (!items)
            return oom(c);
        for (size_t i = 0; i < n && !rc; i++) {
            lua_rawgeti(L, t, (int)i + 1);
            rc = to_at(c, lua_gettop(L), NULL, 0, depth + 1, &items[i]);
            lua_pop(L, 1);
        }
        *out = rn_list(items, n);
        return rc;
    }
    if (n_str != n)
        return rn_error(c->ctx, RN_ETYPE,
                        "%s: a table must have the keys 1..n (a list) or "
                        "only string keys (a record)",
                        c->what);
    rn_field *fields = mem(c, n * sizeof(rn_field));
    size_t nf = 0, nk = 0;
    if (!fields || !(keys = malloc((n ? n : 1) * sizeof(skey))))
        return oom(c);
    /* the element's own fields first, in its order */
    for (uint32_t i = 0; like && i < like->len && nf < n && !rc; i++) {
        const rn_str *nm = &like->u.fields[i].name;
        lua_pushlstring(L, nm->ptr ? nm->ptr : "", nm->len);
        lua_rawget(L, t);
        int present = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (present)
            rc = field(c, t, nm->ptr ? nm->ptr : "", nm->len, depth,
                       &fields[nf++]);
    }
    /* then the new ones, by name */
    lua_pushnil(L);
    while (!rc && lua_next(L, t)) {
        skey k;
        k.p = lua_tolstring(L, -2, &k.n); /* a string key: no conversion */
        if (!in_like(like, &k) && nf + nk < n)
            keys[nk++] = k;
        lua_pop(L, 1);
    }
    qsort(keys, nk, sizeof(skey), skey_cmp);
    for (size_t i = 0; i < nk && !rc; i++)
        rc = field(c, t, keys[i].p, keys[i].n, depth, &fields[nf++]);
    free(keys);
    *out = rn_record(fields, nf);
    return rc;
}

static int to_at(conv *c, int idx, const rn_value *like, int like_idx,
                 int depth, rn_value *out)
{
    lua_State *L = c->L;
    if (depth > RN_LUAVAL_MAX_DEPTH || !lua_checkstack(L, 4))
        return rn_error(c->ctx, RN_ELIMIT,
                        "%s: a value nested more than %d levels deep (a "
                        "table that holds itself?)",
                        c->what, RN_LUAVAL_MAX_DEPTH);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        *out = rn_null();
        return 0;
    case LUA_TBOOLEAN:
        *out = rn_bool(lua_toboolean(L, idx));
        return 0;
    case LUA_TNUMBER: {
        lua_Number d = lua_tonumber(L, idx);
        if (d == floor(d) && fabs(d) <= 9007199254740992.0 &&
            !(d == 0 && signbit(d)))
            *out = rn_int((int64_t)d);
        else
            *out = rn_double(d);
        return 0;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        char *p = mem(c, n);
        if (!p)
            return oom(c);
        memcpy(p, s, n);
        *out = rn_string(p, n);
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            *out = rn_null();
            return 0;
        }
        break;
    case LUA_TTABLE:
        if (!(like_idx && like && like->kind == RN_RECORD &&
              lua_rawequal(L, idx, like_idx)))
            like = NULL;
        return table_to(c, idx, like, depth, out);
    default:
        break;
    }
    return rn_error(c->ctx, RN_ETYPE, "%s: a Lua %s is not a value runnel "
                                      "can hold",
                    c->what, lua_typename(L, lua_type(L, idx)));
}

int rn_luaval_to(lua_State *L, rn_ctx *ctx, int idx, int keep,
                 const rn_value *like, int like_idx, const char *what,
                 rn_value *out)
{
    conv c = {L, ctx, keep, what};
    int top = lua_gettop(L);
    int rc;
    if (idx < 0)
        idx = top + idx + 1;
    if (like_idx < 0)
        like_idx = top + like_idx + 1;
    rc = to_at(&c, idx, like, like_idx, 0, out);
    lua_settop(L, top);
    return rc;
}
