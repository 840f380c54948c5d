/*
 * runnel values in and out of Lua, for the "lua" plugin.
 *
 * Into Lua: null -> `null` (a light userdata, so it can stand in a
 * table), bool -> boolean, int and double -> number (an int past 2^53
 * loses its low bits: LuaJIT's numbers are doubles), string and bytes ->
 * string (copied: LuaJIT interns strings), list -> table 1..n, record ->
 * table keyed by field name.
 *
 * Out of Lua: nil and `null` -> null, boolean -> bool, number -> int when
 * it is a whole number within +-2^53 (not -0), else double; string ->
 * string; a table -> a list when its keys are exactly 1..n (an empty
 * table too), a record when they are all strings: the fields of the
 * record `like` (the element the function was given) first, in its order,
 * then the others sorted by name; anything else (a function, a table
 * with other keys, nesting past 64 levels, a cycle) is an error.
 */
#ifndef RN_PLUGINS_LUAVAL_H
#define RN_PLUGINS_LUAVAL_H

#include <lua.h>

#include <runnel/runnel.h>

#define RN_LUAVAL_MAX_DEPTH 64

/* Pushes v; 0, or an error through ctx (too deep). */
int rn_luaval_push(lua_State *L, rn_ctx *ctx, const rn_value *v);

/* Converts the Lua value at idx into *out, in rn_alloc memory (keep: in
 * rn_alloc_keep memory); `like`: the record whose order a table that is
 * the pushed element keeps (NULL: none), with `like_idx` the stack index
 * of that element's table (0: none). 0, or an error through ctx naming
 * `what`. */
int rn_luaval_to(lua_State *L, rn_ctx *ctx, int idx, int keep,
                 const rn_value *like, int like_idx, const char *what,
                 rn_value *out);

#endif
