/* lua_host: sandboxed Lua states for the advisers' rules (the policy engine's base).
 *
 * lh_load() builds a fresh state from a rules folder: allow-listed libraries only (base without
 * dofile, loadfile, collectgarbage and bytecode loading; string, table, math, utf8; os.time,
 * os.date, os.clock), every rule file in its own environment over a frozen shared one, a memory
 * cap, and an instruction watchdog per call that pcall inside a script cannot catch. It loads
 * thresholds.lua and checks that it returns a table with classify(required, actual, ctx).
 * Every call into Lua goes through one protected-call helper that adds a traceback.
 * A state is used from the loop thread only.
 *
 * Error messages (the *err strings, owned by the caller) name the file first and the reason after
 * it; the first line is the whole reason, further lines (if any) are a Lua stack traceback.
 */
#ifndef EVNE_LUA_HOST_H
#define EVNE_LUA_HOST_H

#include <stddef.h>
#include <stdint.h>

#define LH_MEMORY_LIMIT (64u * 1024 * 1024)
#define LH_INSTRUCTION_LIMIT 10000000L   /* per call into a policy */
#define LH_MAX_CLASSES 32
#define LH_MAX_CLASS_NAME 32             /* bytes */
#define LH_CLASS_NONE 0xff               /* no class: the rule failed for this cell */

struct lh;

/* What classify's ctx holds for one requirement. All borrowed. */
struct lh_requirement {
    int64_t requirement_id;
    int64_t system_id;
    const char *system;       /* the system's name; NULL gives nil */
    const char *requirement;  /* the requirement's text; NULL gives nil */
};

/* Loads the rules in dir (borrowed). 0 and *out (owned) on success; otherwise -1 and *err (owned),
 * e.g. "rules/thresholds.lua:12: attempt to compare nil with number".
 * If thresholds.lua's table has a `classes` list, its names become class ids 0, 1, ... in that
 * (display) order, and classify may return only those names. */
int lh_load(const char *dir, struct lh **out, char **err);
void lh_free(struct lh *h);

/* Tabulates classify for one requirement: out[required][actual] for levels 0-4 gets a class id
 * (see lh_class_name). -1 and *err (owned) when a call fails or returns anything but a non-empty
 * string of at most LH_MAX_CLASS_NAME bytes (or, with a `classes` list, a name not in it, or
 * beyond LH_MAX_CLASSES distinct names); the cells are then LH_CLASS_NONE. */
int lh_tabulate(struct lh *h, const struct lh_requirement *r, uint8_t out[5][5], char **err);

/* How many class ids exist so far: those of `classes`, then any new ones lh_tabulate met. */
int lh_class_count(const struct lh *h);

/* The name of a class id from lh_tabulate; borrowed, lives as long as h. NULL for LH_CLASS_NONE
 * (or any id not below lh_class_count). */
const char *lh_class_name(const struct lh *h, uint8_t id);

/* Loads dir and tabulates a sample requirement; what `evne check-rules` runs. */
int lh_check(const char *dir, char **err);

#endif
