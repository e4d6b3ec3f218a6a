#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "app.h"
#include "audit.h"
#include "db.h"
#include "gap.h"
#include "lua_host.h"
#include "util.h"

#define DEBOUNCE_MS 200

struct classes {
    int64_t requirement_id;
    uint8_t cls[5][5];
};

/* The subfolders of the rules folder that hold rules: report layouts and libraries. */
static const char *const SUBFOLDERS[] = {"reports", "lib"};
#define NSUB (sizeof SUBFOLDERS / sizeof *SUBFOLDERS)

struct rules_watch {
    uv_fs_event_t dir, sub[NSUB];
    uv_timer_t debounce;
    struct app *app;
    int open_handles;
    void (*on_closed)(void *);
    void *arg;
};

struct rules_state {
    int64_t loaded_at, attempt_at;
    int attempt_ok;
    char *attempt_reason;
    char *attempt_error;
    unsigned reloads;
    struct rules_watch *watch;
};

static struct rules_state *state_of(struct app *a)
{
    if (!a->rules_state)
        a->rules_state = xcalloc(1, sizeof(struct rules_state));
    return a->rules_state;
}

/* Classifies every requirement with h; *out (owned) gets the tables. -1 and *err on the first
 * failure. */
static int tabulate(struct app *a, struct lh *h, struct classes **out, size_t *n, char **err)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT r.id, r.system_id, s.name, r.text FROM requirement r "
                                      "JOIN system s ON s.id = r.system_id ORDER BY r.id");
    size_t cap = 64, len = 0;
    struct classes *c = xmalloc(cap * sizeof *c);
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (len == cap)
            c = xrealloc(c, (cap *= 2) * sizeof *c);
        struct lh_requirement req = {
            .requirement_id = sqlite3_column_int64(st, 0),
            .system_id = sqlite3_column_int64(st, 1),
            .system = db_text(st, 2),
            .requirement = db_text(st, 3),
        };
        c[len].requirement_id = req.requirement_id;
        rc = lh_tabulate(h, &req, c[len].cls, err);
        len++;
    }
    sqlite3_reset(st);
    if (rc) {
        free(c);
        return -1;
    }
    *out = c;
    *n = len;
    return 0;
}

/* What a rule is told about one requirement (lh_requirement). */
static const char SQL_REQUIREMENT[] = "SELECT r.system_id, s.name, r.text FROM requirement r "
                                      "JOIN system s ON s.id = r.system_id WHERE r.id = ?";

void rules_classify(struct app *a, int64_t requirement_id)
{
    sqlite3_stmt *st = db_stmt(a->db, SQL_REQUIREMENT);
    sqlite3_bind_int64(st, 1, requirement_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        struct lh_requirement req = {
            .requirement_id = requirement_id,
            .system_id = sqlite3_column_int64(st, 0),
            .system = db_text(st, 1),
            .requirement = db_text(st, 2),
        };
        uint8_t cls[5][5];
        char *err = NULL;
        if (lh_tabulate(a->rules, &req, cls, &err)) {
            /* The gaps still show, without a class from the broken rule. */
            fprintf(stderr, "evne: rules: %s\n", err);
            free(err);
            a->rules_broken = 1;
        }
        gap_set_classes(a->gap, requirement_id, cls);
    }
    sqlite3_reset(st);
}

/* The first failing example, as "rules/x.lua example 2: why". */
struct first_failure {
    char *msg;
};

static void on_example(void *ctx, const char *file, int index, int passed, const char *detail)
{
    struct first_failure *f = ctx;
    if (!passed && !f->msg)
        f->msg = xasprintf("%s example %d failed: %s", file, index, detail ? detail : "");
}

/* Loads and checks a rules folder the way every swap needs it: the policies load, every
 * requirement is classified, and every example the policies declare passes. */
static int build(struct app *a, struct lh **out, struct classes **c, size_t *n, char **err)
{
    struct lh *h;
    if (lh_load(a->rules_dir, &h, err))
        return -1;
    struct first_failure f = {0};
    if (lh_examples(h, on_example, &f) > 0) {
        *err = f.msg ? f.msg : xstrdup("an example failed");
        lh_free(h);
        return -1;
    }
    if (tabulate(a, h, c, n, err)) {
        lh_free(h);
        return -1;
    }
    *out = h;
    return 0;
}

/* --- the effective level ------------------------------------------------------------------- */

/* gap_effective_fn over an effective_level.lua: the running rules' (ctx = the app) or a
 * candidate's (effective_with). */
struct effective_ctx {
    struct app *app;
    struct lh *rules;
};

static int effective_with(void *ctx, int64_t e, int64_t r, const struct gap_assessment *history,
                          size_t n, int *level);

static int effective(void *ctx, int64_t e, int64_t r, const struct gap_assessment *history,
                     size_t n, int *level)
{
    struct app *a = ctx;
    struct effective_ctx with = {.app = a, .rules = a->rules};
    return effective_with(&with, e, r, history, n, level);
}

static int effective_with(void *ctx, int64_t e, int64_t r, const struct gap_assessment *history,
                          size_t n, int *level)
{
    struct effective_ctx *x = ctx;
    struct app *a = x->app;
    struct lh_assessment stack[16], *list = n <= 16 ? stack : xmalloc(n * sizeof *list);
    for (size_t i = 0; i < n; i++)
        list[i] = (struct lh_assessment){.level = history[i].level, .source = history[i].source,
                                         .recorded_at = history[i].recorded_at,
                                         .recorded_by = history[i].recorded_by};
    sqlite3_stmt *st = db_stmt(a->db, SQL_REQUIREMENT);
    sqlite3_bind_int64(st, 1, r);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        struct lh_requirement req = {.requirement_id = r,
                                     .system_id = sqlite3_column_int64(st, 0),
                                     .system = db_text(st, 1),
                                     .requirement = db_text(st, 2)};
        char *err = NULL;
        rc = lh_effective_level(x->rules, list, n, &req, e, util_now(), level, &err);
        if (rc) {
            /* the newest counts for this pair; the log says why */
            fprintf(stderr, "evne: rules: employee %lld requirement %lld: %s\n", (long long)e,
                    (long long)r, err);
            free(err);
        }
    }
    sqlite3_reset(st);
    if (list != stack)
        free(list);
    return rc;
}

/* After a swap: the gap index follows the effective-level policy that now runs, or goes back
 * to "the newest counts" when the policy was removed. */
static void apply_effective(struct app *a, int had_policy)
{
    if (lh_has_effective_level(a->rules))
        gap_recompute_actuals(a->gap, a->db, effective, a);
    else if (had_policy)
        gap_recompute_actuals(a->gap, a->db, NULL, NULL);
}

void rules_assessed(struct app *a, int64_t employee_id, int64_t requirement_id, int level,
                    int64_t recorded_at)
{
    if (!lh_has_effective_level(a->rules)) {
        gap_assess(a->gap, employee_id, requirement_id, level, recorded_at);
        return;
    }
    sqlite3_stmt *st = db_stmt(a->db, "SELECT level, source, recorded_at, coalesce(recorded_by, 0) "
                                      "FROM assessment WHERE employee_id = ? AND requirement_id = ? "
                                      "ORDER BY recorded_at, id");
    sqlite3_bind_int64(st, 1, employee_id);
    sqlite3_bind_int64(st, 2, requirement_id);
    size_t n = 0, cap = 8;
    struct gap_assessment *h = xmalloc(cap * sizeof *h);
    char **sources = xmalloc(cap * sizeof *sources);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            h = xrealloc(h, cap * sizeof *h);
            sources = xrealloc(sources, cap * sizeof *sources);
        }
        sources[n] = xstrdup(db_text(st, 1) ? db_text(st, 1) : "");
        h[n] = (struct gap_assessment){.level = sqlite3_column_int(st, 0), .source = sources[n],
                                       .recorded_at = sqlite3_column_int64(st, 2),
                                       .recorded_by = sqlite3_column_int64(st, 3)};
        n++;
    }
    sqlite3_reset(st);
    int decided = -1;
    if (n && effective(a, employee_id, requirement_id, h, n, &decided) == 0)
        gap_set_actual(a->gap, employee_id, requirement_id, decided, h[n - 1].recorded_at);
    else
        gap_assess(a->gap, employee_id, requirement_id, level, recorded_at);
    for (size_t i = 0; i < n; i++)
        free(sources[i]);
    free(sources);
    free(h);
}

static void note_attempt(struct rules_state *s, const char *why, const char *error)
{
    s->attempt_at = util_now();
    s->attempt_ok = error == NULL;
    free(s->attempt_reason);
    free(s->attempt_error);
    s->attempt_reason = xstrdup(why);
    s->attempt_error = error ? xstrdup(error) : NULL;
}

void rules_apply_all(struct app *a)
{
    struct classes *c;
    size_t n;
    char *err = NULL;
    if (tabulate(a, a->rules, &c, &n, &err)) {
        /* the rules classified these requirements before; now one fails: say so */
        fprintf(stderr, "evne: rules: %s\n", err);
        free(err);
        a->rules_broken = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        gap_set_classes(a->gap, c[i].requirement_id, c[i].cls);
    free(c);
    apply_effective(a, 0);
}

int rules_open(struct app *a, char **err)
{
    struct lh *h;
    struct classes *c;
    size_t n;
    if (build(a, &h, &c, &n, err))
        return -1;
    for (size_t i = 0; i < n; i++)
        gap_set_classes(a->gap, c[i].requirement_id, c[i].cls);
    free(c);
    a->rules = h;
    a->rules_broken = 0;
    apply_effective(a, 0);
    struct rules_state *s = state_of(a);
    s->loaded_at = util_now();
    note_attempt(s, "start", NULL);
    return 0;
}

/* A reload is in the audit trail: by whom (an admin, or the system when the folder changed),
 * why, whether it took, and which policy files (by hash) are now in force. */
static void audit_reload(struct app *a, const char *why, const char *error)
{
    json_t *o = json_pack("{s:s, s:b}", "reason", why, "ok", error == NULL);
    if (error) {
        json_object_set_new(o, "error", json_string(error));
    } else {
        struct lh_policy p[64];
        int np = lh_policies(a->rules, p, 64);
        json_t *files = json_array();
        for (int i = 0; i < np && i < 64; i++)
            json_array_append_new(files, json_pack("{s:s, s:s}", "file", p[i].file, "sha256",
                                                   p[i].sha256));
        json_object_set_new(o, "policies", files);
    }
    char *detail = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    audit_note(a->db, error ? "reload_failed" : "reload", "rules", 0, 0, detail);
    free(detail);
}

int rules_reload(struct app *a, const char *why, char **err)
{
    struct rules_state *s = state_of(a);
    int64_t t0 = util_monotonic_us();
    struct lh *h;
    struct classes *c = NULL;
    size_t n = 0;
    if (build(a, &h, &c, &n, err))
        goto failed;
    /* All good: swap. */
    int had_policy = lh_has_effective_level(a->rules);
    lh_free(a->rules);
    a->rules = h;
    a->rules_broken = 0;
    for (size_t i = 0; i < n; i++)
        gap_set_classes(a->gap, c[i].requirement_id, c[i].cls);
    free(c);
    apply_effective(a, had_policy);
    s->loaded_at = util_now();
    s->reloads++;
    note_attempt(s, why, NULL);
    audit_reload(a, why, NULL);
    fprintf(stderr, "evne: rules: reloaded (%s) in %lld us\n", why,
            (long long)(util_monotonic_us() - t0));
    return 0;
failed:
    note_attempt(s, why, *err);
    audit_reload(a, why, *err);
    fprintf(stderr, "evne: rules: reload (%s) failed, the running rules stay: %s\n", why, *err);
    return -1;
}

json_t *rules_status(struct app *a)
{
    struct rules_state *s = state_of(a);
    char loaded[21], at[21];
    util_iso8601(s->loaded_at, loaded);
    util_iso8601(s->attempt_at, at);
    json_t *attempt = json_pack("{s:s, s:b, s:s}", "at", at, "ok", s->attempt_ok, "reason",
                                s->attempt_reason ? s->attempt_reason : "");
    if (s->attempt_error)
        json_object_set_new(attempt, "error", json_string(s->attempt_error));
    json_t *policies = json_array();
    struct lh_policy p[64];
    int np = a->rules ? lh_policies(a->rules, p, 64) : 0;
    for (int i = 0; i < np && i < 64; i++)
        json_array_append_new(policies, json_pack("{s:s, s:s, s:s}", "file", p[i].file, "name",
                                                  p[i].name, "sha256", p[i].sha256));
    return json_pack("{s:s, s:s, s:I, s:b, s:o, s:o}", "dir", a->rules_dir, "loaded_at", loaded,
                     "reloads", (json_int_t)s->reloads, "watching", s->watch != NULL,
                     "policies", policies, "last_attempt", attempt);
}

/* --- watching the folder ------------------------------------------------------------------ */

static void on_debounced(uv_timer_t *t)
{
    struct rules_watch *w = t->data;
    char *err = NULL;
    if (rules_reload(w->app, "the rules folder changed", &err))
        free(err);
}

static void on_change(uv_fs_event_t *h, const char *name, int events, int status);

/* Watches the subfolders that exist and are not watched yet: at the start, and when one
 * appears in the folder later. */
static void watch_subfolders(struct rules_watch *w)
{
    for (size_t k = 0; k < NSUB; k++) {
        if (uv_is_active((uv_handle_t *)&w->sub[k]))
            continue;
        char *path = xasprintf("%s/%s", w->app->rules_dir, SUBFOLDERS[k]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            uv_fs_event_start(&w->sub[k], on_change, path, 0);
        free(path);
    }
}

static void on_change(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)events;
    struct rules_watch *w = h->data;
    if (status < 0)
        return;
    /* A subfolder made, moved in or replaced after the start is watched (again) from now on,
     * and a reload reads what it holds, or that it is gone. */
    if (h == &w->dir && name)
        for (size_t k = 0; k < NSUB; k++)
            if (!strcmp(name, SUBFOLDERS[k])) {
                uv_fs_event_stop(&w->sub[k]);
                watch_subfolders(w);
                name = NULL;
            }
    /* Editors write a temporary file and rename it over the old one; several events come in a
     * burst, so wait until they settle. Only Lua files matter (and the folder itself). */
    if (name && !strstr(name, ".lua"))
        return;
    uv_timer_start(&w->debounce, on_debounced, DEBOUNCE_MS, 0);
}

void rules_watch(struct app *a)
{
    struct rules_state *s = state_of(a);
    if (!a->loop || s->watch)
        return;
    struct rules_watch *w = xcalloc(1, sizeof *w);
    w->app = a;
    uv_timer_init(a->loop, &w->debounce);
    w->debounce.data = w;
    w->open_handles = 1;
    uv_fs_event_init(a->loop, &w->dir);
    w->dir.data = w;
    w->open_handles++;
    if (uv_fs_event_start(&w->dir, on_change, a->rules_dir, 0) != 0)
        fprintf(stderr, "evne: rules: cannot watch %s; reload by hand\n", a->rules_dir);
    for (size_t k = 0; k < NSUB; k++) {
        uv_fs_event_init(a->loop, &w->sub[k]);
        w->sub[k].data = w;
        w->open_handles++;
    }
    watch_subfolders(w);
    s->watch = w;
}

static void on_watch_closed(uv_handle_t *h)
{
    struct rules_watch *w = h->data;
    if (--w->open_handles == 0) {
        if (w->on_closed)
            w->on_closed(w->arg);
        free(w);
    }
}

void rules_unwatch(struct app *a, void (*on_closed)(void *arg), void *arg)
{
    struct rules_state *s = state_of(a);
    struct rules_watch *w = s->watch;
    if (!w) {
        if (on_closed)
            on_closed(arg);
        return;
    }
    s->watch = NULL;
    w->on_closed = on_closed;
    w->arg = arg;
    uv_handle_t *hs[2 + NSUB] = {(uv_handle_t *)&w->debounce, (uv_handle_t *)&w->dir};
    for (size_t k = 0; k < NSUB; k++)
        hs[2 + k] = (uv_handle_t *)&w->sub[k];
    for (size_t i = 0; i < 2 + NSUB; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_watch_closed);
}

void rules_close(struct app *a)
{
    struct rules_state *s = a->rules_state;
    if (!s)
        return;
    free(s->attempt_reason);
    free(s->attempt_error);
    free(s);
    a->rules_state = NULL;
}

/* --- preview -------------------------------------------------------------------------------- */

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[8192];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

/* A copy of the rules folder's Lua files (and those of reports/ and lib/) in a new temporary
 * folder, with `file` replaced by `source`. Returns the folder (owned) or NULL. */
static char *candidate_folder(struct app *a, const char *file, const char *source)
{
    char tmpl[] = "/tmp/evne-preview-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    char *dir = xstrdup(tmpl);
    for (size_t k = 0; k <= NSUB; k++) {
        const char *sub = k ? SUBFOLDERS[k - 1] : "";
        char *from = xasprintf("%s%s%s", a->rules_dir, k ? "/" : "", sub);
        char *to = xasprintf("%s%s%s", dir, k ? "/" : "", sub);
        DIR *d = opendir(from);
        if (d && k)
            mkdir(to, 0700);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 5 || strcmp(de->d_name + n - 4, ".lua"))
                continue;
            char *f = xasprintf("%s/%s", from, de->d_name), *t = xasprintf("%s/%s", to, de->d_name);
            copy_file(f, t);
            free(f);
            free(t);
        }
        if (d)
            closedir(d);
        free(from);
        free(to);
    }
    char *target = xasprintf("%s/%s", dir, file);
    FILE *out = fopen(target, "wb");
    int ok = out && fwrite(source, 1, strlen(source), out) == strlen(source);
    if (out && fclose(out))
        ok = 0;
    free(target);
    if (!ok) {
        free(dir);
        return NULL;
    }
    return dir;
}

static void remove_folder(const char *dir)
{
    for (size_t k = 0; k <= NSUB; k++) {
        char *d = k < NSUB ? xasprintf("%s/%s", dir, SUBFOLDERS[k]) : xstrdup(dir);
        DIR *dd = opendir(d);
        struct dirent *de;
        while (dd && (de = readdir(dd))) {
            if (de->d_name[0] == '.')
                continue;
            char *f = xasprintf("%s/%s", d, de->d_name);
            unlink(f);
            free(f);
        }
        if (dd)
            closedir(dd);
        rmdir(d);
        free(d);
    }
}

/* The number of demanded cells per class name over every active employee, with the classes of
 * `tables` (NULL: the running ones). */
static json_t *count_classes(struct app *a, struct lh *h, const struct classes *tables, size_t n)
{
    json_t *counts = json_object();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id FROM employee WHERE archived = 0");
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct gap_cell *cells;
        size_t nc;
        if (gap_employee(a->gap, sqlite3_column_int64(st, 0), &cells, &nc, NULL))
            continue;
        for (size_t i = 0; i < nc; i++) {
            uint8_t id = cells[i].class_id;
            if (tables) {
                /* tables are sorted by requirement id */
                size_t lo = 0, hi = n;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (tables[mid].requirement_id < cells[i].requirement_id)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                id = lo < n && tables[lo].requirement_id == cells[i].requirement_id
                         ? tables[lo].cls[cells[i].required][cells[i].actual]
                         : LH_CLASS_NONE;
            }
            const char *name = lh_class_name(h, id);
            const char *key = name ? name : "(none)";
            json_object_set_new(counts, key,
                                json_integer(json_integer_value(json_object_get(counts, key)) + 1));
        }
        free(cells);
    }
    sqlite3_reset(st);
    return counts;
}

/* {employees, demanded, open_gaps, unassessed, gap_sum, coverage} over the whole organisation,
 * from the employee roll-up of x. */
static json_t *totals_of(struct gap_index *x)
{
    struct gap_row *rows;
    size_t n;
    gap_rollup(x, GAP_BY_EMPLOYEE, NULL, &rows, &n);
    int64_t demanded = 0, open = 0, unassessed = 0, sum = 0, with_gaps = 0;
    for (size_t i = 0; i < n; i++) {
        demanded += rows[i].demanded;
        open += rows[i].open_gaps;
        unassessed += rows[i].unassessed;
        sum += rows[i].gap_sum;
        with_gaps += rows[i].employees_with_gaps;
    }
    free(rows);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "employees", (json_int_t)n,
                     "employees_with_gaps", (json_int_t)with_gaps, "demanded",
                     (json_int_t)demanded, "open_gaps", (json_int_t)open, "unassessed",
                     (json_int_t)unassessed, "gap_sum", (json_int_t)sum, "coverage",
                     demanded ? 1.0 - (double)open / (double)demanded : 1.0);
}

/* effective_level.lua: the gap totals now and with the candidate, computed on an index of its
 * own so that the running one is not touched. */
static int preview_effective(struct app *a, struct lh *h, json_t **out, char **err)
{
    if (!lh_has_effective_level(h)) {
        *err = xstrdup("the candidate effective_level.lua has no function 'effective'");
        return -1;
    }
    struct gap_index *x;
    if (gap_build(a->db, &x, err))
        return -1;
    struct effective_ctx with = {.app = a, .rules = h};
    int rc = gap_recompute_actuals(x, a->db, effective_with, &with);
    if (!rc)
        *out = json_pack("{s:s, s:o, s:o}", "file", "effective_level.lua", "before",
                         totals_of(a->gap), "after", totals_of(x));
    else
        *err = xstrdup("reading the assessments failed; see the server log");
    gap_free(x);
    return rc;
}

int rules_preview(struct app *a, const char *file, const char *source, json_t **out, char **err)
{
    int thresholds = !strcmp(file, "thresholds.lua");
    if (!thresholds && strcmp(file, "effective_level.lua") != 0) {
        *err = xasprintf("preview of %s is not supported; thresholds.lua and effective_level.lua are",
                         file);
        return -1;
    }
    char *dir = candidate_folder(a, file, source);
    if (!dir) {
        *err = xstrdup("cannot write the candidate rules to a temporary folder");
        return -1;
    }
    struct lh *h = NULL;
    struct classes *c = NULL;
    size_t n = 0;
    int rc = lh_load(dir, &h, err);
    /* (examples are the adviser's own checks; a preview shows what would happen regardless) */
    if (!rc && !thresholds)
        rc = preview_effective(a, h, out, err);
    else if (!rc)
        rc = tabulate(a, h, &c, &n, err);
    if (!rc && thresholds) {
        json_t *before = count_classes(a, a->rules, NULL, 0);
        json_t *after = count_classes(a, h, c, n);
        *out = json_pack("{s:s, s:o, s:o}", "file", file, "before", before, "after", after);
    }
    if (rc && *err) {
        /* name the file as the admin knows it, not the temporary copy, wherever it appears */
        struct buf b = {0};
        size_t dl = strlen(dir);
        for (const char *e = *err, *hit; *e; e = hit + dl) {
            hit = strstr(e, dir);
            if (!hit) {
                buf_puts(&b, e);
                break;
            }
            buf_append(&b, e, (size_t)(hit - e));
            buf_puts(&b, a->rules_dir);
        }
        free(*err);
        *err = buf_steal(&b);
    }
    free(c);
    lh_free(h);
    remove_folder(dir);
    free(dir);
    return rc;
}
