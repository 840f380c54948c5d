/*
 * The Lua sandbox of the "lua" plugin: one LuaJIT state per thread and
 * operator, with a memory cap, an instruction budget per call, and only
 * the libraries that cannot reach outside the process.
 *
 * What a script can use: the base library without dofile, loadfile, load,
 * loadstring, require, module, getfenv, setfenv, collectgarbage, print and
 * newproxy; string (without string.dump), table, math (math.random is
 * seeded the same in every state), os.time and os.clock; `null`, the
 * value of a runnel null. Not io, os otherwise, ffi, debug, jit, package
 * or bytecode. LuaJIT's JIT is off in these states: its compiled traces
 * do not run the instruction hook that enforces the budget, so the
 * interpreter (LuaJIT's own, still fast) runs every script.
 *
 * Limits: `memory` bytes of Lua heap per state (the allocator refuses
 * past it: the call fails with "not enough memory"), `instructions` VM
 * instructions per call (checked every 1,000: the call fails). Work done
 * inside one C function of the string library (a pattern match over a
 * long subject) is bounded by the memory cap only.
 *
 * Threading: a rn_luabox is shared by the threads of a job; each thread
 * gets its own state on first use (rn_luabox_state), kept until
 * rn_luabox_free. Ownership: the box owns its states and its copy of the
 * code.
 */
#ifndef RN_PLUGINS_LUABOX_H
#define RN_PLUGINS_LUABOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include <runnel/runnel.h>

typedef struct rn_luabox rn_luabox;

/* What the box compiles in each state: `n_fns` chunks, each evaluating to
 * a function (or, for an `expr`/`where` chunk, an expression over the
 * element: see rn_luabox_new). */
typedef struct rn_luafn {
    const char *name; /* "step", "where": named in errors */
    const char *code; /* Lua source; NULL: absent */
    int expr;         /* 1: an expression over the element `x`, whose
                         fields read as names (`status >= 500`) */
} rn_luafn;

#define RN_LUABOX_MAX_FNS 4

/* Makes a box for the operator `label`, checking that every chunk
 * compiles (errors through ctx, with the chunk's line). */
int rn_luabox_new(rn_ctx *ctx, const char *label, const rn_luafn *fns,
                  size_t n_fns, size_t memory, int64_t instructions,
                  rn_luabox **out);
void rn_luabox_free(rn_luabox *b); /* NULL ok */

/* The calling thread's state, made on first use. NULL after an error
 * (said through ctx). */
lua_State *rn_luabox_state(rn_luabox *b, rn_ctx *ctx);

/* Whether function i was given (its code is not NULL). */
int rn_luabox_has(const rn_luabox *b, size_t i);

/* Calls the function i with the `nargs` values on top of L's stack,
 * leaving one result; for an expression, the one argument is the element
 * whose fields read as names. The budget starts afresh. Errors through
 * ctx name the operator, the function and the Lua line. */
int rn_luabox_call(rn_luabox *b, lua_State *L, rn_ctx *ctx, size_t i,
                   int nargs);

#endif
