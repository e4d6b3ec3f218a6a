#include "remind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "db.h"
#include "lua_host.h"
#include "mail.h"
#include "mailtext.h"
#include "oslo.h"
#include "util.h"

#define POLICY_FAILS_IN_A_ROW 20   /* the run stops after this many failures in a row */
#define DAY 86400
#define LOGGED_ERRORS 100          /* errors logged one by one; the rest are counted */
#define MAX_DEPTH 64               /* as course.c's manager_of: a tree deeper than this is broken */

struct person {
    int64_t id;
    char *name, *email;
    char lang[3];
};

struct dept {
    int64_t id, parent_id;
    int64_t manager_id;            /* an active manager, or 0 */
};

struct approval {
    int64_t approver, enrolment_id, employee_id, requested_at;
};

/* One employee of the chunk in hand. */
struct emp {
    struct person p;
    int64_t department_id;
    int skip;                      /* reminded in this slot already */
    json_t *profiles;              /* owned array */
    json_t *facts;                 /* owned object */
};

struct run {
    int64_t slot;
    int policy;                    /* reminders.lua was there at the start */
    struct dept *depts;            /* by id */
    size_t ndepts;
    struct person *managers;       /* active employees who manage a department, by id */
    size_t nmanagers;
    struct approval *approvals;    /* by approver, then oldest first */
    size_t napprovals;
    /* the chunk in hand */
    struct emp *chunk;
    size_t nchunk, next;
    int64_t after;                 /* the last employee id read */
    int64_t now;                   /* when the chunk was read: the policy's now */
    int exhausted;
    int64_t commit_us;             /* what a commit takes, recently: the step works for less */
    int loaded;                    /* 0, 1 the tree, 2 and the approvals: the chunks can come */
    /* where the time of the longest steps goes, for the summary (the bench reads them); start_us
     * is the longest of the start and the two steps that read the tree and the approvals */
    int64_t start_us, longest_load_us, longest_commit_us, longest_step_cpu_us;
    /* what the run did */
    int64_t employees, reminders, to_managers, errors, skipped;
    char *first_error;
    int in_a_row;                  /* the policy's failures since its last answer */
};

static char *dup_col(sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    return xstrdup(s ? s : "");
}

static void person_read(sqlite3_stmt *st, int col, struct person *p)
{
    p->id = sqlite3_column_int64(st, col);
    p->name = util_utf8_clean(dup_col(st, col + 1));
    p->email = dup_col(st, col + 2);
    const char *lang = db_text(st, col + 3);
    snprintf(p->lang, sizeof p->lang, "%s", lang && !strcmp(lang, "en") ? "en" : "nb");
}

static void person_free(struct person *p)
{
    free(p->name);
    free(p->email);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every struct above starts with its id. */
#define FIND(arr, n, id) bsearch(&(int64_t){id}, arr, n, sizeof *(arr), cmp_id)

static int cmp_approval(const void *a, const void *b)
{
    const struct approval *x = a, *y = b;
    if (x->approver != y->approver)
        return x->approver < y->approver ? -1 : 1;
    if (x->requested_at != y->requested_at)
        return x->requested_at < y->requested_at ? -1 : 1;
    return x->enrolment_id < y->enrolment_id ? -1 : x->enrolment_id > y->enrolment_id;
}

/* The employee's manager: of the nearest department up the tree whose manager is active and not
 * the employee (course.c's manager_of, on the tree read at the start). NULL when none. */
static const struct person *manager_of(const struct run *r, int64_t employee_id,
                                       int64_t department_id)
{
    int64_t d = department_id;
    for (int depth = 0; d && depth <= MAX_DEPTH; depth++) {
        const struct dept *dp = FIND(r->depts, r->ndepts, d);
        if (!dp)
            return NULL;
        if (dp->manager_id && dp->manager_id != employee_id)
            return FIND(r->managers, r->nmanagers, dp->manager_id);
        d = dp->parent_id;
    }
    return NULL;
}

static void chunk_free(struct run *r)
{
    for (size_t i = 0; i < r->nchunk; i++) {
        person_free(&r->chunk[i].p);
        json_decref(r->chunk[i].profiles);
        json_decref(r->chunk[i].facts);
    }
    free(r->chunk);
    r->chunk = NULL;
    r->nchunk = r->next = 0;
}

static void run_free(struct run *r)
{
    chunk_free(r);
    free(r->depts);
    for (size_t i = 0; i < r->nmanagers; i++)
        person_free(&r->managers[i]);
    free(r->managers);
    free(r->approvals);
    free(r->first_error);
    free(r);
}

/* --- the start: the department tree, the managers, the approvals waiting -------------------- */

static int load_tree(struct app *a, struct run *r)
{
    size_t cap = 0;
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT d.id, coalesce(d.parent_id, 0), "
               "CASE WHEN m.archived = 0 THEN m.id ELSE 0 END FROM department d "
               "LEFT JOIN employee m ON m.id = d.manager_id ORDER BY d.id");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->ndepts == cap)
            r->depts = xrealloc(r->depts, (cap = cap ? 2 * cap : 256) * sizeof *r->depts);
        r->depts[r->ndepts++] = (struct dept){sqlite3_column_int64(st, 0),
                                              sqlite3_column_int64(st, 1),
                                              sqlite3_column_int64(st, 2)};
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    cap = 0;
    st = db_stmt(a->db, "SELECT id, name, email, lang FROM employee WHERE archived = 0 AND id IN "
                        "(SELECT manager_id FROM department) ORDER BY id");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->nmanagers == cap)
            r->managers = xrealloc(r->managers, (cap = cap ? 2 * cap : 64) * sizeof *r->managers);
        person_read(st, 0, &r->managers[r->nmanagers++]);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);
    return 0;
fail:
    db_log_error(a->db, st);
    sqlite3_reset(st);
    return -1;
}

/* What can still be approved (accepted, in a coming session that is not cancelled) by whom: the
 * nearest manager of the employee, as course_approvals and the approval_needed mail have it. */
static int load_approvals(struct app *a, struct run *r, int64_t now)
{
    size_t cap = 0;
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT en.id, en.employee_id, e.department_id, en.updated_at FROM enrolment en "
               "JOIN session s ON s.id = en.session_id JOIN employee e ON e.id = en.employee_id "
               "WHERE en.state = 'accepted' AND s.cancelled = 0 AND s.starts_at > ? AND "
               "e.archived = 0");
    sqlite3_bind_int64(st, 1, now);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t employee = sqlite3_column_int64(st, 1);
        const struct person *m = manager_of(r, employee, sqlite3_column_int64(st, 2));
        if (!m)
            continue;
        if (r->napprovals == cap)
            r->approvals = xrealloc(r->approvals, (cap = cap ? 2 * cap : 64) * sizeof *r->approvals);
        r->approvals[r->napprovals++] = (struct approval){m->id, sqlite3_column_int64(st, 0),
                                                          employee, sqlite3_column_int64(st, 3)};
    }
    if (rc != SQLITE_DONE) {
        db_log_error(a->db, st);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    if (r->napprovals)
        util_sort(r->approvals, r->napprovals, sizeof *r->approvals, cmp_approval);
    return 0;
}

/* CPU time of this thread, in microseconds: a step that took long on the clock but not on the
 * CPU waited for a core or the disk. */
static int64_t thread_cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void *remind_start(struct app *a, const struct sched_run *run, char **err)
{
    (void)err;                     /* the reading that can fail is in the first steps */
    int64_t t0 = util_monotonic_us();
    struct run *r = xcalloc(1, sizeof *r);
    r->slot = run->slot;
    r->commit_us = 2000;
    r->policy = a->rules && lh_has_reminders(a->rules);
    if (!r->policy) {
        fprintf(stderr, "evne: reminders: the rules have no reminders.lua: nothing is due\n");
        r->exhausted = 1;
        return r;
    }
    r->start_us = util_monotonic_us() - t0;
    return r;
}

/* --- a chunk of employees and their facts --------------------------------------------------- */

/* The chunk's employee with this id, or NULL. */
static struct emp *emp_of(struct run *r, int64_t id)
{
    return FIND(r->chunk, r->nchunk, id);
}

/* Appends obj (consumed) to facts[list] of the row's employee. */
static void add_fact(struct run *r, sqlite3_stmt *st, const char *list, json_t *obj)
{
    struct emp *e = emp_of(r, sqlite3_column_int64(st, 0));
    if (e)
        json_array_append_new(json_object_get(e->facts, list), obj);
    else
        json_decref(obj);
}

/* Reads the next REMIND_CHUNK active employees and their facts: one query for each kind of
 * fact over the chunk's id range. 0 (r->nchunk 0 when none are left), or -1 (logged). */
static int load_chunk(struct app *a, struct run *r)
{
    chunk_free(r);
    r->now = util_now();
    size_t cap = 0;
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id, name, email, lang, department_id FROM employee "
                                      "WHERE id > ? AND archived = 0 ORDER BY id LIMIT ?");
    sqlite3_bind_int64(st, 1, r->after);
    sqlite3_bind_int(st, 2, REMIND_CHUNK);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->nchunk == cap)
            r->chunk = xrealloc(r->chunk, (cap = cap ? 2 * cap : REMIND_CHUNK) * sizeof *r->chunk);
        struct emp *e = &r->chunk[r->nchunk++];
        *e = (struct emp){0};
        person_read(st, 0, &e->p);
        e->department_id = sqlite3_column_int64(st, 4);
        e->profiles = json_array();
        e->facts = json_pack("{s:[], s:[], s:[], s:[], s:b}", "open_invitations",
                             "missing_evaluations", "pending_approvals", "reminders",
                             "has_manager", manager_of(r, e->p.id, e->department_id) != NULL);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);
    if (!r->nchunk)
        return 0;
    int64_t lo = r->chunk[0].p.id, hi = r->chunk[r->nchunk - 1].p.id;
    r->after = hi;

    st = db_stmt(a->db, "SELECT employee_id FROM reminder WHERE employee_id BETWEEN ? AND ? AND "
                        "slot = ?");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int64(st, 3, r->slot);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct emp *e = emp_of(r, sqlite3_column_int64(st, 0));
        if (e)
            e->skip = 1;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    st = db_stmt(a->db, "SELECT employee_id, profile_id FROM assignment WHERE employee_id "
                        "BETWEEN ? AND ? ORDER BY employee_id, profile_id");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct emp *e = emp_of(r, sqlite3_column_int64(st, 0));
        if (e)
            json_array_append_new(e->profiles, json_integer(sqlite3_column_int64(st, 1)));
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    st = db_stmt(a->db, "SELECT employee_id, max(recorded_at) FROM assessment WHERE employee_id "
                        "BETWEEN ? AND ? AND source = 'self' GROUP BY employee_id");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct emp *e = emp_of(r, sqlite3_column_int64(st, 0));
        if (e)
            json_object_set_new(e->facts, "last_self_assessment",
                                json_integer(sqlite3_column_int64(st, 1)));
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    /* invited: updated_at is when the invitation (the last transition) was made */
    st = db_stmt(a->db, "SELECT en.employee_id, en.id, en.updated_at FROM enrolment en "
                        "JOIN session s ON s.id = en.session_id WHERE en.employee_id BETWEEN ? "
                        "AND ? AND en.state = 'invited' AND s.cancelled = 0 AND s.starts_at > ? "
                        "ORDER BY en.employee_id, en.id");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int64(st, 3, r->now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        add_fact(r, st, "open_invitations",
                 json_pack("{s:I, s:I}", "enrolment_id", (json_int_t)sqlite3_column_int64(st, 1),
                           "invited_at", (json_int_t)sqlite3_column_int64(st, 2)));
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    st = db_stmt(a->db, "SELECT en.employee_id, en.id, s.ends_at FROM enrolment en "
                        "JOIN session s ON s.id = en.session_id WHERE en.employee_id BETWEEN ? "
                        "AND ? AND en.state = 'attended' AND NOT EXISTS (SELECT 1 FROM "
                        "evaluation_answer ea WHERE ea.enrolment_id = en.id) "
                        "ORDER BY en.employee_id, en.id");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        add_fact(r, st, "missing_evaluations",
                 json_pack("{s:I, s:I}", "enrolment_id", (json_int_t)sqlite3_column_int64(st, 1),
                           "course_ended_at", (json_int_t)sqlite3_column_int64(st, 2)));
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    st = db_stmt(a->db, "SELECT employee_id, sent_at, template, recipient, enrolment_id "
                        "FROM reminder WHERE employee_id BETWEEN ? AND ? AND sent_at >= ? "
                        "ORDER BY employee_id, sent_at DESC, id DESC");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int64(st, 3, r->now - (int64_t)REMIND_HISTORY_DAYS * DAY);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *sent = json_pack("{s:I, s:s, s:s}", "sent_at",
                                 (json_int_t)sqlite3_column_int64(st, 1), "template",
                                 db_text(st, 2) ? db_text(st, 2) : "", "to",
                                 db_text(st, 3) ? db_text(st, 3) : "");
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            json_object_set_new(sent, "enrolment_id", json_integer(sqlite3_column_int64(st, 4)));
        add_fact(r, st, "reminders", sent);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(st);

    /* the approvals waiting for the managers of the chunk, read at the start */
    for (size_t i = 0; i < r->nchunk; i++) {
        struct emp *e = &r->chunk[i];
        struct approval key = {.approver = e->p.id, .requested_at = INT64_MIN};
        size_t k = 0, n = r->napprovals;
        while (k < n) {            /* the first of this approver's */
            size_t mid = k + (n - k) / 2;
            if (cmp_approval(&r->approvals[mid], &key) < 0)
                k = mid + 1;
            else
                n = mid;
        }
        json_t *list = json_object_get(e->facts, "pending_approvals");
        for (; k < r->napprovals && r->approvals[k].approver == e->p.id; k++)
            json_array_append_new(list, json_pack("{s:I, s:I, s:I}", "enrolment_id",
                                                  (json_int_t)r->approvals[k].enrolment_id,
                                                  "employee_id",
                                                  (json_int_t)r->approvals[k].employee_id,
                                                  "requested_at",
                                                  (json_int_t)r->approvals[k].requested_at));
    }
    return 0;
fail:
    db_log_error(a->db, st);
    sqlite3_reset(st);
    return -1;
}

/* --- one employee ----------------------------------------------------------------------------- */

/* "2026-12-03T09:00" in Norwegian time. */
static json_t *local_json(int64_t t)
{
    char s[17];
    oslo_wall(t, s);
    return json_string(s);
}

static void note_error(struct run *r, const struct emp *e, const char *what)
{
    r->errors++;
    if (r->errors <= LOGGED_ERRORS)
        fprintf(stderr, "evne: reminders: employee %lld (%s): %s\n", (long long)e->p.id,
                e->p.name, what);
    if (!r->first_error)   /* its first line: a policy's traceback stays in the log */
        r->first_error = xasprintf("employee %lld: %.*s", (long long)e->p.id,
                                   (int)strcspn(what, "\n"), what);
}

/* What the mail's template gets about the enrolment a reminder is about; NULL when it is gone. */
static json_t *enrolment_vars(struct app *a, int64_t enrolment_id)
{
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT c.title, s.starts_at, s.ends_at, s.place, e.name, en.updated_at "
               "FROM enrolment en JOIN session s ON s.id = en.session_id "
               "JOIN course c ON c.id = s.course_id JOIN employee e ON e.id = en.employee_id "
               "WHERE en.id = ?");
    sqlite3_bind_int64(st, 1, enrolment_id);
    json_t *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = json_pack("{s:s, s:o, s:o, s:s, s:s, s:o}", "course", db_text(st, 0),
                      "starts", local_json(sqlite3_column_int64(st, 1)), "ends",
                      local_json(sqlite3_column_int64(st, 2)), "place",
                      db_text(st, 3) ? db_text(st, 3) : "", "participant", db_text(st, 4),
                      "since", local_json(sqlite3_column_int64(st, 5)));
    sqlite3_reset(st);
    return v;
}

/* Queues the mail of reminder rem (borrowed) about e and records it, inside the step's
 * transaction. 0; 1 when this employee's reminder could not be made (noted); -1 on a database
 * error (logged). */
static int send_reminder(struct app *a, struct run *r, const struct emp *e, const json_t *rem)
{
    const char *to = json_string_value(json_object_get(rem, "to"));
    const char *template = json_string_value(json_object_get(rem, "template"));
    const json_t *enrolment = json_object_get(rem, "enrolment_id");
    int to_manager = !strcmp(to, "manager");
    const struct person *recipient = to_manager ? manager_of(r, e->p.id, e->department_id)
                                                : &e->p;
    if (!recipient) {              /* lh_reminder checked has_manager: cannot happen */
        note_error(r, e, "a reminder to the manager, but there is none");
        return 1;
    }
    json_t *last = json_object_get(e->facts, "last_self_assessment");
    json_t *vars = json_pack("{s:s, s:{s:s}, s:{s:s}, s:O, s:o, s:o, s:I}", "to", to,
                             "recipient", "name", recipient->name, "employee", "name", e->p.name,
                             "reminder", rem, "last_self_assessment",
                             last ? local_json(json_integer_value(last)) : json_null(),
                             "enrolment", json_null(), "pending_approvals",
                             (json_int_t)json_array_size(
                                 json_object_get(e->facts, "pending_approvals")));
    if (enrolment) {
        json_t *en = enrolment_vars(a, json_integer_value(enrolment));
        if (!en) {
            json_decref(vars);
            note_error(r, e, "the reminder's enrolment is gone");
            return 1;
        }
        json_object_set_new(vars, "enrolment", en);
    }
    char *name = xasprintf("reminder_%s", template), *why = NULL;
    struct mail_text text;
    int rc = mail_text_render(a, name, recipient->lang, vars, &text, &why);
    json_decref(vars);
    free(name);
    if (rc) {
        note_error(r, e, why);
        free(why);
        return 1;
    }
    struct mail m = {.kind = "reminder", .to = recipient->email, .subject = text.subject,
                     .body = text.text, .html = text.html};
    rc = mail_queue(a->db, &m);
    mail_text_free(&text);
    if (rc)
        return -1;
    int64_t outbox_id = sqlite3_last_insert_rowid(db_handle(a->db));
    sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO reminder (employee_id, slot, sent_at, "
                                      "template, recipient, enrolment_id, outbox_id) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_int64(st, 1, e->p.id);
    sqlite3_bind_int64(st, 2, r->slot);
    sqlite3_bind_int64(st, 3, util_now());
    sqlite3_bind_text(st, 4, template, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, to, -1, SQLITE_STATIC);
    if (enrolment)
        sqlite3_bind_int64(st, 6, json_integer_value(enrolment));
    sqlite3_bind_int64(st, 7, outbox_id);
    if (db_exec_stmt(a->db, st))
        return -1;
    r->reminders++;
    r->to_managers += to_manager;
    return 0;
}

/* Asks the policy about e and sends what it answers. 1 when a mail was queued, 0 when not, -1
 * on a database error. */
static int remind_one(struct app *a, struct run *r, const struct emp *e)
{
    r->employees++;
    if (e->skip) {
        r->skipped++;
        return 0;
    }
    json_t *employee = json_pack("{s:I, s:s, s:I, s:O}", "id", (json_int_t)e->p.id, "name",
                                 e->p.name, "department_id", (json_int_t)e->department_id,
                                 "profiles", e->profiles);
    json_t *rem = NULL;
    char *why = NULL;
    int rc = 0;
    if (!a->rules) {
        /* no rules at all (cannot happen in a server): nothing is due */
    } else if (lh_reminder(a->rules, employee, e->facts, r->now, &rem, &why)) {
        note_error(r, e, why ? why : "the reminders policy failed");
        free(why);
        r->in_a_row++;
    } else {
        r->in_a_row = 0;
        if (rem) {
            rc = send_reminder(a, r, e, rem);
            rc = rc < 0 ? -1 : rc == 0;
        }
    }
    json_decref(rem);
    json_decref(employee);
    return rc;
}

/* --- the job ---------------------------------------------------------------------------------- */

static int remind_step(struct app *a, void *state, const struct sched_run *run, int64_t budget_us,
                       char **err)
{
    (void)run;
    struct run *r = state;
    if (r->in_a_row >= POLICY_FAILS_IN_A_ROW) {
        /* a policy that fails for everyone (an endless loop stopped by the watchdog each time)
         * would hold every step to its limit: the run stops, and is tried again later */
        *err = xasprintf("reminders: the policy failed for %d employees in a row (%s); the run "
                         "stops", r->in_a_row, r->first_error ? r->first_error : "");
        return -1;
    }
    int64_t t0 = util_monotonic_us(), cpu0 = thread_cpu_us();
    if (r->exhausted && r->next == r->nchunk)
        return 0;
    /* The first two steps read the department tree with the managers, then the approvals
     * waiting (a few milliseconds each at 50,000 employees). */
    if (r->loaded < 2) {
        if (r->loaded == 0 ? load_tree(a, r) : load_approvals(a, r, util_now())) {
            *err = xstrdup("reminders: the database could not be read (see the log)");
            return -1;
        }
        r->loaded++;
        int64_t took = util_monotonic_us() - t0;
        if (took > r->start_us)
            r->start_us = took;
        return 1;
    }
    /* The step's commit does not wait for its fsync: the scheduler's steps run with
     * synchronous=NORMAL (schedule.h says why nothing that matters is lost). */
    if (db_begin(a->db)) {
        *err = xstrdup("reminders: the database is busy");
        return -1;
    }
    int queued = 0, rc = 0;
    struct run before = *r;        /* the counts, for a step that is rolled back */
    /* The budget covers the commit too, so the work stops early by what commits took lately;
     * at least half the budget is work. */
    int64_t work_us = budget_us - (r->commit_us < budget_us / 2 ? r->commit_us : budget_us / 2);
    /* at least one employee per step, however small the budget: the run always moves on */
    for (int first = 1; first || util_monotonic_us() - t0 < work_us; first = 0) {
        if (r->next == r->nchunk) {
            int64_t l0 = util_monotonic_us();
            if (load_chunk(a, r)) {
                rc = -1;
                break;
            }
            if (util_monotonic_us() - l0 > r->longest_load_us)
                r->longest_load_us = util_monotonic_us() - l0;
            if (!r->nchunk) {
                r->exhausted = 1;
                break;
            }
        }
        int sent = remind_one(a, r, &r->chunk[r->next]);
        if (sent < 0) {
            rc = -1;
            break;
        }
        r->next++;
        queued |= sent;
    }
    int64_t c0 = util_monotonic_us();
    int failed = rc || db_commit(a->db);
    if (failed)
        db_rollback(a->db);
    if (failed) {
        r->employees = before.employees;
        r->reminders = before.reminders;
        r->to_managers = before.to_managers;
        r->skipped = before.skipped;
        *err = xstrdup("reminders: a database error (see the log); this step's reminders were "
                       "not sent");
        return -1;
    }
    int64_t commit = util_monotonic_us() - c0, cpu = thread_cpu_us() - cpu0;
    r->commit_us = (3 * r->commit_us + commit) / 4;
    if (commit > r->longest_commit_us)
        r->longest_commit_us = commit;
    if (cpu > r->longest_step_cpu_us)
        r->longest_step_cpu_us = cpu;
    if (queued)
        mail_kick(a);
    return r->exhausted && r->next == r->nchunk ? 0 : 1;
}

static json_t *remind_finish(struct app *a, void *state)
{
    (void)a;
    struct run *r = state;
    json_t *summary = json_pack("{s:I, s:I, s:I, s:I, s:I}", "employees", (json_int_t)r->employees,
                                "reminders", (json_int_t)r->reminders, "to_managers",
                                (json_int_t)r->to_managers, "errors", (json_int_t)r->errors,
                                "skipped", (json_int_t)r->skipped);
    if (r->first_error)
        json_object_set_new(summary, "first_error", json_string(r->first_error));
    json_t *timing = json_pack("{s:I, s:I, s:I, s:I}", "start_us", (json_int_t)r->start_us,
                               "longest_load_us", (json_int_t)r->longest_load_us,
                               "longest_commit_us", (json_int_t)r->longest_commit_us,
                               "longest_step_cpu_us", (json_int_t)r->longest_step_cpu_us);
    json_object_update(summary, timing);
    json_decref(timing);
    if (!r->policy)
        json_object_set_new(summary, "policy", json_false());
    if (r->errors > LOGGED_ERRORS)
        fprintf(stderr, "evne: reminders: %lld more errors were not logged one by one\n",
                (long long)(r->errors - LOGGED_ERRORS));
    run_free(r);
    return summary;
}

const struct sched_job remind_job = {
    .name = "reminders",
    .mails = 1,
    .start = remind_start,
    .step = remind_step,
    .finish = remind_finish,
};
