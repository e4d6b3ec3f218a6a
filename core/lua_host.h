/* lua_host: the policy engine: sandboxed Lua states for the advisers' rules.
 *
 * lh_load() builds a fresh state from a rules folder: allow-listed libraries only (base without
 * dofile, loadfile, collectgarbage and bytecode loading; string, table, math, utf8; os.time,
 * os.date, os.clock), every rule file in its own environment over a frozen shared one, a memory
 * cap for the whole state, and an instruction watchdog per call that pcall inside a script cannot
 * catch. Into that one state it loads every policy of the folder:
 *   thresholds.lua       required  classify(required, actual, ctx) -> class name
 *   effective_level.lua  optional  effective(assessments, ctx) -> level 0-4 | nil
 *   matching.lua         optional  match(employee, gaps, courses) -> { proposal, ... }
 *   reminders.lua        optional  due(employee, facts, now) -> nil | reminder
 *   reports/NAME.lua     optional  {name, title, params, formats, render(data, out)}
 *   lib/NAME.lua         optional  a library: what it returns, for require("NAME")
 * Each policy returns a table whose shape is checked at load; any other .lua file directly in
 * the folder is refused (a misspelt policy would otherwise be ignored without a word). A file
 * may declare `examples`, which lh_examples() and lh_check() run.
 *
 * Libraries: require("NAME") in any rule file (NAME: a-z, 0-9 and _, starting with a letter)
 * runs lib/NAME.lua once per state, in an environment of its own like every rule file, and
 * hands every caller the same answer, frozen: the table and every table in it are read-only
 * proxies, so one rule cannot change what another gets. The first require loads it; lh_load
 * then loads the libraries nobody required, so that a broken one fails the load. A missing
 * library, a bad name and a cycle (a requires b requires a) are errors naming the files. docs/rules.md documents every table
 * handed to a policy and every answer it may give; the functions below validate the answers.
 *
 * Every call into Lua goes through one protected-call helper that adds a traceback and arms the
 * watchdog. A policy that loops, exhausts memory, raises an error or answers with a wrong shape
 * fails that one call with a message, and the state stays usable for the next.
 * A state is used by one thread at a time (the loop thread for the live rules).
 *
 * Error messages (the *err strings, owned by the caller) name the file first and the reason after
 * it; the first line is the whole reason, further lines (if any) are a Lua stack traceback. A
 * wrong answer names the policy, the line of the return, the function and the field, e.g.
 * "rules/matching.lua:40: match returned [2].course = 99, which is not one of the courses given".
 */
#ifndef EVNE_LUA_HOST_H
#define EVNE_LUA_HOST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LH_MEMORY_LIMIT (64u * 1024 * 1024)
#define LH_INSTRUCTION_LIMIT 10000000L   /* per call into a policy */
#define LH_MAX_CLASSES 32
#define LH_MAX_CLASS_NAME 32             /* bytes */
#define LH_CLASS_NONE 0xff               /* no class: the rule failed for this cell */
#define LH_REPORT_MAX_BYTES (32u * 1024 * 1024) /* what one render may write */

struct lh;
struct buf;

/* What classify's ctx holds for one requirement. All borrowed. */
struct lh_requirement {
    int64_t requirement_id;
    int64_t system_id;
    const char *system;       /* the system's name; NULL gives nil */
    const char *requirement;  /* the requirement's text; NULL gives nil */
};

/* Loads the rules in dir (borrowed). 0 and *out (owned) on success; otherwise -1 and *err (owned),
 * e.g. "rules/thresholds.lua:12: attempt to compare nil with number" or "rules/matching.lua: must
 * return a table with a function 'match' (got nil)". Nothing is kept from a failed load.
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

/* --- what was loaded ---------------------------------------------------------------------- */

struct lh_policy {
    const char *file;     /* "rules/matching.lua": dir as given + name, as in messages; borrowed */
    const char *name;     /* "matching.lua", "reports/gaps.lua", "lib/report_format.lua":
                           * within the folder; borrowed */
    char sha256[65];      /* of the file's bytes as read, lowercase hex */
};

/* The loaded policy files, thresholds.lua first, then effective_level, matching, reminders when
 * present, then the reports in name order, then the libraries in name order ("lib/NAME.lua").
 * Fills at most max entries of out (borrowed from h, valid as long as h) and returns how many
 * files there are. */
int lh_policies(const struct lh *h, struct lh_policy *out, int max);

/* --- effective_level.lua: which assessment counts ----------------------------------------- */

/* One assessment of one requirement by one employee. Borrowed. */
struct lh_assessment {
    int level;               /* 0-4 */
    const char *source;      /* "self", "course", "appraisal" or "test" */
    int64_t recorded_at;     /* unix seconds */
    int64_t recorded_by;     /* the user who recorded it */
};

/* Whether effective_level.lua was loaded. Without it "the newest assessment counts", which the
 * gap index implements natively; lh_effective_level then answers the same. */
int lh_has_effective_level(const struct lh *h);

/* The level that counts, from list[0..n) (oldest first) for requirement ctx of employee_id at
 * time now: 0 and *level 0-4, or *level -1 when no level counts (the pair is unassessed).
 * -1 and *err (owned) when the policy fails or answers anything but an integer 0-4 or nil, e.g.
 * "rules/effective_level.lua:14: effective returned 7, expected a level 0-4 or nil". */
int lh_effective_level(struct lh *h, const struct lh_assessment *list, size_t n,
                       const struct lh_requirement *ctx, int64_t employee_id, int64_t now,
                       int *level, char **err);

/* --- matching.lua: courses for an employee's open gaps ------------------------------------ */

/* Whether matching.lua was loaded; without it there are no proposals (lh_match answers []). */
int lh_has_matching(const struct lh *h);

/* Proposes courses. Inputs are borrowed, shaped as docs/rules.md says:
 *   employee  {id, name, department_id, profiles = [profile ids]}
 *   gaps      [{requirement_id, system_id, requirement?, system?, required, actual, gap, class}]
 *   courses   [{id, title, system_id, series?, series_order?, prerequisites = [course ids],
 *               completed, requirements = [{requirement_id, target_level}],
 *               sessions = [{id, starts_at, capacity, free}]}]
 * (null members reach the policy as nil). 0 and *proposals (owned): an array of
 * {course, session (null when none), reason, priority}, in the policy's order, each course one
 * of the given ids at most once and each session one of that course's. -1 and *err (owned) when
 * the policy fails or answers wrongly, or when courses lacks integer ids. */
int lh_match(struct lh *h, const json_t *employee, const json_t *gaps, const json_t *courses,
             json_t **proposals, char **err);

/* The courses reach match read-only: a policy that assigns to them (or to anything in them)
 * fails with "...: the courses are read-only ...". They are the same for every employee of a
 * course's matches, and lh_match_many hands the same tables to each call. */

/* One open gap, as match gets it in gaps. Strings borrowed; NULL gives nil. */
struct lh_gap {
    int64_t requirement_id, system_id;
    const char *requirement, *system;
    int required, actual, gap;
    int class_id;             /* its class (lh_class_name), or LH_CLASS_NONE: nil */
};

/* One employee for lh_match_many: match's employee and gaps, and which of the courses they
 * completed. All borrowed, until the next call of next or the end of lh_match_many. */
struct lh_match_employee {
    int64_t id, department_id;
    const char *name;
    const int64_t *profiles;
    size_t nprofiles;
    const struct lh_gap *gaps;
    size_t ngaps;
    const unsigned char *completed;   /* [i] for courses[i]; NULL: none completed */
};

/* Where lh_match_many takes its employees from and gives its answers to. next fills *e and
 * returns 1, or returns 0 when there is nobody left; done gets the proposals (borrowed, as
 * lh_match's) of the employee next gave last. Both run inside the call into Lua: they may not
 * call into this struct lh. */
struct lh_match_feed {
    int (*next)(void *arg, struct lh_match_employee *e);
    void (*done)(void *arg, const struct lh_match_employee *e, const json_t *proposals);
    void *arg;
};

/* lh_match for many employees with the same courses, in one call into Lua: match is called for
 * each as lh_match would call it, with the watchdog armed per employee, and its answer checked
 * the same way. 0 when every employee was answered. -1 and *err (owned, the message lh_match
 * would give) at the first that failed, whose id goes into *failed; nobody after them is asked.
 * Without matching.lua, every employee is taken from next and none given to done. */
int lh_match_many(struct lh *h, const json_t *courses, const struct lh_match_feed *feed,
                  int64_t *failed, char **err);

/* --- reminders.lua: who is reminded of what ----------------------------------------------- */

/* Whether reminders.lua was loaded; without it nothing is ever due. */
int lh_has_reminders(const struct lh *h);

/* Asks whether a reminder is due for one employee at time now (unix seconds). Inputs borrowed:
 *   employee  as for lh_match
 *   facts     {last_self_assessment?, open_invitations = [{enrolment_id, invited_at}],
 *              missing_evaluations = [{enrolment_id, course_ended_at}],
 *              pending_approvals = [{enrolment_id, employee_id, requested_at}] (a manager's),
 *              reminders = [{sent_at, template, to, enrolment_id?}] (newest first),
 *              has_manager}
 * 0 and *reminder NULL when nothing is due, else an object (owned) {to = "employee"|"manager",
 * template, ...more fields of the policy's}; `to` is "manager" only when facts.has_manager, an
 * enrolment_id is one of the facts' (an invitation, an evaluation or an approval). -1 and *err
 * (owned) on a failure or a wrong answer. */
int lh_reminder(struct lh *h, const json_t *employee, const json_t *facts, int64_t now,
                json_t **reminder, char **err);

/* --- reports/NAME.lua: report layouts ---------------------------------------------------- */

/* The report layouts: *list (owned) is an array of {name, title, params, formats, file}. */
int lh_reports(const struct lh *h, json_t **list);

/* Renders report `name` in `format` ("html" or "csv", one of its formats) with data (borrowed)
 * and appends the text to out. A CSV starts with a UTF-8 byte order mark, so that Excel reads
 * æøå. -1 and *err (owned) when there is no such report or format, the render fails or writes
 * more than LH_REPORT_MAX_BYTES; out is then left as it was. */
int lh_report_render(struct lh *h, const char *name, const char *format, const json_t *data,
                     struct buf *out, char **err);

/* --- examples, checks, and one call by hand ----------------------------------------------- */

/* Called once per example: file as in messages, index from 1. On a pass, detail is the example's
 * `name` or NULL; on a failure it says what went wrong ("expected ..., got ..." or the error's
 * first line), after the example's name if it has one. All borrowed for the call. */
typedef void (*lh_example_fn)(void *ctx, const char *file, int index, int passed,
                              const char *detail);

/* Runs every example the loaded files declare, through the same calls and checks as the server
 * uses; each (may be NULL) hears of every one. Returns how many failed. */
int lh_examples(struct lh *h, lh_example_fn each, void *ctx);

/* Calls one policy by hand, as the server would: file is its name within the folder
 * ("matching.lua", "reports/gaps.lua") or its path as in messages, function its function's name
 * (NULL: whichever the file has), args (borrowed) a JSON array of the arguments:
 *   thresholds.lua       [required, actual, ctx?]           -> the class name
 *   effective_level.lua  [[assessment, ...], ctx]           -> a level or null
 *                        (ctx: {employee_id, requirement_id, system_id, system, requirement, now})
 *   matching.lua         [employee, gaps, courses]          -> the proposals
 *   reminders.lua        [employee, facts, now]             -> a reminder or null
 *   reports/NAME.lua     [data, format?]                    -> the text written (a string)
 * 0 and *result (owned), or -1 and *err (owned). What `evne rules-eval` and the examples run. */
int lh_eval(struct lh *h, const char *file, const char *function, const json_t *args,
            json_t **result, char **err);

/* Loads dir, tabulates a sample requirement and runs every example; what `evne check-rules`
 * runs. 0 when all is well; otherwise -1 and *err (owned): the load's error, or how many
 * examples failed and the first failure. */
int lh_check(const char *dir, char **err);

/* lh_check, telling each (may be NULL) about every example as it runs. */
int lh_check_verbose(const char *dir, lh_example_fn each, void *ctx, char **err);

#endif
