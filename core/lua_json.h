/* lua_json: jansson trees to plain Lua tables and back, for the view and the policy host.
 *
 * JSON to Lua (lj_push): an object becomes a table with string keys, an array a list (1-based),
 * a string a string, an integer a Lua integer, a real a float, true and false themselves. JSON
 * null becomes false by default, which is what the view's templates want (they test it, and an
 * unknown name stays an error there); with LJ_NULL_ABSENT an object's null member is left out,
 * so a policy sees nil, and a null inside an array (which cannot hold nil) becomes false.
 *
 * Lua to JSON (lj_to_json): nil becomes null; true, false, integers, finite floats and strings
 * (valid UTF-8) become themselves; a table whose keys are exactly 1..n becomes an array, an empty
 * table an empty array, a table with string keys only an object (keys sorted, so that the same
 * table always gives the same text). Anything else (functions, NaN, a list with holes, a table
 * mixing both kinds of key, nesting deeper than LJ_MAX_DEPTH, which catches a table containing
 * itself) is refused with a message naming where it is, e.g. "[2].reason: a function".
 *
 * Neither direction runs Lua code: tables are read raw, metatables are ignored. Borrowing: the
 * json_t given to lj_push is only read; what lj_to_json returns is owned by the caller.
 */
#ifndef EVNE_LUA_JSON_H
#define EVNE_LUA_JSON_H

#include <jansson.h>
#include <lua.h>

#define LJ_MAX_DEPTH 64

enum lj_nulls {
    LJ_NULL_FALSE,   /* null -> false */
    LJ_NULL_ABSENT,  /* an object's null member -> left out (nil); a null in an array -> false */
};

/* Pushes j (borrowed) as a Lua value, null as false. It allocates in L and raises a Lua error
 * (it does not return) when memory runs out or j nests deeper than LJ_MAX_DEPTH: call it inside a
 * protected call unless the state has no memory cap and the data a known, shallow shape. */
void lj_push(lua_State *L, const json_t *j);
void lj_push_as(lua_State *L, const json_t *j, enum lj_nulls nulls);

/* Converts the value at idx. 0 and *out (owned), or -1 and *err (owned), the reason after the
 * place, e.g. "[3].priority: a number that is not finite (nan)". Never raises and never runs Lua
 * code, so it is safe outside a protected call. */
int lj_to_json(lua_State *L, int idx, json_t **out, char **err);

#endif
