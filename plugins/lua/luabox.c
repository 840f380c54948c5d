/* The Lua sandbox: states, their allocator, budget and libraries. */
#define _GNU_SOURCE /* strdup */
#include "luabox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>

/* One state: its allocator's account and its budget. */
typedef struct lstate {
    lua_State *L;
    size_t used, cap;   /* Lua heap bytes, and the cap */
    int64_t spent, budget; /* instructions of the current call */
    int refs[RN_LUABOX_MAX_FNS];
    int cur_ref;        /* registry slot: the element an expression reads */
    pthread_t owner;    /* the thread that uses it */
} lstate;

struct rn_luabox {
    char label[96];
    rn_luafn fns[RN_LUABOX_MAX_FNS]; /* codes owned (strdup) */
    size_t n_fns;
    size_t memory;
    int64_t instructions;
    uint64_t id;
    pthread_mutex_t lock;
    lstate **states; /* every thread's */
    size_t n_states, cap_states;
};

/* Ids tell a thread's cached state of a box from that of a freed one
 * whose memory was reused: never reused themselves. */
static atomic_uint_fast64_t next_id = 1;

#define TLS_SLOTS 8
static _Thread_local struct {
    uint64_t id;
    lstate *ls;
} tls[TLS_SLOTS];

#define HOOK_EVERY 1000

static void *cap_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    lstate *ls = ud;
    size_t old = p ? osize : 0;
    if (nsize == 0) {
        free(p);
        ls->used -= old;
        return NULL;
    }
    if (nsize > old && ls->used - old + nsize > ls->cap)
        return NULL; /* Lua raises "not enough memory" */
    void *q = realloc(p, nsize);
    if (q)
        ls->used = ls->used - old + nsize;
    return q;
}

static lstate *lstate_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    lstate *ls = lstate_of(L);
    (void)ar;
    ls->spent += HOOK_EVERY;
    if (ls->spent > ls->budget) {
        char msg[160]; /* luaL_error knows no %lld */
        snprintf(msg, sizeof(msg), "the instruction budget of %lld per call "
                                   "was spent (an endless loop? raise "
                                   "`instructions`)",
                 (long long)ls->budget);
        lua_pushstring(L, msg);
        lua_error(L);
    }
}

/* __index of an expression's environment: the current element's field,
 * else the sandbox's global. Upvalue 1: the globals. */
static int expr_index(lua_State *L)
{
    lstate *ls = lstate_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->cur_ref);
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        if (!lua_isnil(L, -1))
            return 1;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int expr_newindex(lua_State *L)
{
    return luaL_error(L, "an expression cannot set names");
}

static void open_lib(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static void drop_global(lua_State *L, const char *name)
{
    lua_pushnil(L);
    lua_setglobal(L, name);
}

/* The sandbox's libraries, in L's globals. */
static void open_sandbox(lua_State *L)
{
    static const char *const unsafe[] = {
        "dofile", "loadfile", "load", "loadstring", "require", "module",
        "getfenv", "setfenv", "collectgarbage", "print", "newproxy",
        "gcinfo", "package", "jit", "io", "debug", "ffi", "bit"};
    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, luaopen_os, LUA_OSLIBNAME);
    /* os: the clock only */
    lua_getglobal(L, "os");
    lua_createtable(L, 0, 2);
    lua_getfield(L, -2, "time");
    lua_setfield(L, -2, "time");
    lua_getfield(L, -2, "clock");
    lua_setfield(L, -2, "clock");
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    /* no bytecode out of functions */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
        drop_global(L, unsafe[i]);
    lua_pushlightuserdata(L, NULL);
    lua_setglobal(L, "null");
}

/* Compiles fn in L (globals = the sandbox; an expression's environment
 * reads the element's fields first) and leaves the function on the
 * stack; 0, or an error through ctx. */
static int compile(rn_luabox *b, lua_State *L, rn_ctx *ctx, const rn_luafn *fn)
{
    char name[128];
    const char *src = fn->code;
    size_t n;
    char *buf = NULL;
    int rc;

    snprintf(name, sizeof(name), "=%s", fn->name);
    /* an expression -> return function(x) return (expr) end; a chunk that
     * returns a function (a .lua file: `return function(r) ... end`) as
     * it is; else a function's text -> return <text> */
    rc = fn->expr ? LUA_ERRSYNTAX : luaL_loadbuffer(L, src, strlen(src), name);
    if (rc == LUA_ERRSYNTAX) {
        const char *pre = fn->expr ? "return function(x) return (" : "return ";
        const char *post = fn->expr ? ") end" : "\n";
        if (!fn->expr)
            lua_pop(L, 1); /* the chunk's own error: the function's is told */
        n = strlen(pre) + strlen(src) + strlen(post) + 1;
        if (!(buf = malloc(n)))
            return rn_error(ctx, RN_ENOMEM, "out of memory");
        snprintf(buf, n, "%s%s%s", pre, src, post);
        rc = luaL_loadbuffer(L, buf, strlen(buf), name);
        free(buf);
    }
    if (rc == 0 && fn->expr) {
        lua_newtable(L); /* the environment */
        lua_newtable(L); /* its metatable */
        lua_pushvalue(L, LUA_GLOBALSINDEX);
        lua_pushcclosure(L, expr_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, expr_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_setmetatable(L, -2);
        lua_setfenv(L, -2);
    }
    if (rc == 0) {
        lstate *ls = lstate_of(L);
        ls->spent = 0;
        rc = lua_pcall(L, 0, 1, 0);
        if (rc == 0 && !lua_isfunction(L, -1)) {
            lua_pop(L, 1);
            return rn_error(ctx, RN_EINVAL, "`%s` must be a function "
                                            "(write `function(x) ... end`)",
                            fn->name);
        }
    }
    if (rc) {
        rn_error(ctx, RN_EINVAL, "`%s` does not compile: %s", fn->name,
                 lua_tostring(L, -1));
        lua_pop(L, 1);
        return RN_EINVAL;
    }
    return 0;
}

static void lstate_free(lstate *ls)
{
    if (!ls)
        return;
    if (ls->L)
        lua_close(ls->L);
    free(ls);
}

static int lstate_new(rn_luabox *b, rn_ctx *ctx, lstate **out)
{
    lstate *ls = calloc(1, sizeof(*ls));
    int rc = RN_ENOMEM;

    *out = NULL;
    if (!ls)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    ls->cap = b->memory;
    ls->budget = b->instructions;
    if (!(ls->L = lua_newstate(cap_alloc, ls))) {
        rn_error(ctx, RN_ENOMEM, "%s: cannot make a Lua state", b->label);
        goto done;
    }
    /* compiled traces skip the hook: the interpreter runs everything */
    luaJIT_setmode(ls->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    open_sandbox(ls->L);
    lua_sethook(ls->L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
    lua_pushnil(ls->L);
    ls->cur_ref = luaL_ref(ls->L, LUA_REGISTRYINDEX);
    for (size_t i = 0; i < b->n_fns; i++) {
        ls->refs[i] = LUA_NOREF;
        if (!b->fns[i].code)
            continue;
        if ((rc = compile(b, ls->L, ctx, &b->fns[i])))
            goto done;
        ls->refs[i] = luaL_ref(ls->L, LUA_REGISTRYINDEX);
    }
    *out = ls;
    ls = NULL;
    rc = 0;
done:
    lstate_free(ls);
    return rc;
}

int rn_luabox_new(rn_ctx *ctx, const char *label, const rn_luafn *fns,
                  size_t n_fns, size_t memory, int64_t instructions,
                  rn_luabox **out)
{
    rn_luabox *b;
    lstate *probe = NULL;
    int rc = RN_ENOMEM;

    *out = NULL;
    if (n_fns > RN_LUABOX_MAX_FNS)
        return rn_error(ctx, RN_EINVAL, "too many Lua functions");
    if (!(b = calloc(1, sizeof(*b))))
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    snprintf(b->label, sizeof(b->label), "%s", label);
    pthread_mutex_init(&b->lock, NULL);
    b->memory = memory;
    b->instructions = instructions;
    b->id = atomic_fetch_add(&next_id, 1);
    b->n_fns = n_fns;
    for (size_t i = 0; i < n_fns; i++) {
        b->fns[i] = fns[i];
        if (fns[i].code && !(b->fns[i].code = strdup(fns[i].code))) {
            rn_error(ctx, RN_ENOMEM, "out of memory");
            goto done;
        }
    }
    /* compile once now: errors at plan time, not in the first task */
    if ((rc = lstate_new(b, ctx, &probe)))
        goto done;
    lstate_free(probe);
    *out = b;
    b = NULL;
    rc = 0;
done:
    rn_luabox_free(b);
    return rc;
}

void rn_luabox_free(rn_luabox *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_states; i++)
        lstate_free(b->states[i]);
    free(b->states);
    for (size_t i = 0; i < b->n_fns; i++)
        free((char *)b->fns[i].code);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static lstate *thread_state(rn_luabox *b, rn_ctx *ctx)
{
    size_t slot = (size_t)(b->id % TLS_SLOTS);
    lstate *ls;

    if (tls[slot].id == b->id)
        return tls[slot].ls;
    /* the thread's state made earlier, whose slot another box took */
    pthread_mutex_lock(&b->lock);
    ls = NULL;
    for (size_t i = 0; i < b->n_states && !ls; i++)
        if (pthread_equal(b->states[i]->owner, pthread_self()))
            ls = b->states[i];
    pthread_mutex_unlock(&b->lock);
    if (!ls) { /* first use in this thread */
        if (lstate_new(b, ctx, &ls))
            return NULL;
        ls->owner = pthread_self();
        pthread_mutex_lock(&b->lock);
        if (b->n_states == b->cap_states) {
            size_t cap = b->cap_states ? 2 * b->cap_states : 8;
            lstate **nv = realloc(b->states, cap * sizeof(*nv));
            if (!nv) {
                pthread_mutex_unlock(&b->lock);
                lstate_free(ls);
                rn_error(ctx, RN_ENOMEM, "out of memory");
                return NULL;
            }
            b->states = nv;
            b->cap_states = cap;
        }
        b->states[b->n_states++] = ls;
        pthread_mutex_unlock(&b->lock);
    }
    tls[slot].id = b->id;
    tls[slot].ls = ls;
    return ls;
}

lua_State *rn_luabox_state(rn_luabox *b, rn_ctx *ctx)
{
    lstate *ls = thread_state(b, ctx);
    return ls ? ls->L : NULL;
}

int rn_luabox_call(rn_luabox *b, lua_State *L, rn_ctx *ctx, size_t i,
                   int nargs)
{
    lstate *ls = lstate_of(L);
    int rc;

    if (i >= b->n_fns || ls->refs[i] == LUA_NOREF)
        return rn_error(ctx, RN_EINTERNAL, "%s: no function `%s`", b->label,
                        i < b->n_fns ? b->fns[i].name : "?");
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->refs[i]);
    lua_insert(L, -(nargs + 1));
    if (b->fns[i].expr && nargs == 1) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, LUA_REGISTRYINDEX, ls->cur_ref);
    }
    ls->spent = 0;
    rc = lua_pcall(L, nargs, 1, 0);
    if (b->fns[i].expr) { /* the element is not kept alive */
        lua_pushnil(L);
        lua_rawseti(L, LUA_REGISTRYINDEX, ls->cur_ref);
    }
    if (rc) {
        const char *msg = lua_tostring(L, -1);
        rn_error(ctx, rc == LUA_ERRMEM ? RN_ELIMIT : RN_EINVAL,
                 "%s%s", msg ? msg : "a Lua error that is not a string",
                 rc == LUA_ERRMEM ? " (the Lua state's memory cap was reached: "
                                    "raise `memory`)"
                                  : "");
        lua_pop(L, 1);
        return rc == LUA_ERRMEM ? RN_ELIMIT : RN_EINVAL;
    }
    return 0;
}

int rn_luabox_has(const rn_luabox *b, size_t i)
{
    return i < b->n_fns && b->fns[i].code != NULL;
}
