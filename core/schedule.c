#include "schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app.h"
#include "db.h"
#include "oslo.h"
#include "util.h"

#define MAX_JOBS 16
#define MAX_PENDING 16
#define CATCH_UP_AFTER 60          /* seconds late before a run counts as a catch-up */
#define LOOK_AGAIN_MS 60000        /* the longest the timer sleeps: clocks and DST move */
#define RETRIES 3                  /* a failed run of a slot is tried this many times in all */
#define RETRY_AFTER 900            /* seconds between them */
#define RETRY_WITHIN 172800        /* failed runs older than this are not tried again at start */

/* --- the schedule file ------------------------------------------------------------------ */

enum every { EVERY_OFF, EVERY_DAY, EVERY_WEEK, EVERY_MONTH_DAY, EVERY_MONTH_WORKDAY };

struct entry {
    char name[32];
    char line[96];                 /* the spec as written, for the admin */
    enum every every;
    int n;                         /* weekday 0-6, day of month 1-31, or the nth working day */
    int minute;                    /* of the day, Norwegian time */
};

struct sched_config {
    struct entry entries[MAX_JOBS];
    int count;
    int quiet_from, quiet_to;      /* minutes of the day; equal: no quiet hours */
};

static const char *const weekdays[7] = {"monday", "tuesday", "wednesday", "thursday", "friday",
                                        "saturday", "sunday"};

/* "HH:MM" -> minutes of the day, or -1. */
static int parse_hhmm(const char *s)
{
    if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static int parse_small(const char *s, int lo, int hi)
{
    int64_t v;
    return util_parse_i64(s, &v) || v < lo || v > hi ? -1 : (int)v;
}

static const char NOT_A_SPEC[] = "is not daily, weekly, monthly or off";

/* One line's words after the name into e; NULL, or what is wrong. */
static const char *parse_spec(char **w, int nw, struct entry *e)
{
    const char *when = nw ? w[0] : "";
    if (!strcmp(when, "off"))
        return nw == 1 ? (e->every = EVERY_OFF, NULL) : "'off' takes nothing after it";
    if (!strcmp(when, "daily")) {
        e->every = EVERY_DAY;
        if (nw != 2 || (e->minute = parse_hhmm(w[1])) < 0)
            return "daily takes a time, e.g. 'daily 08:00'";
        return NULL;
    }
    if (!strcmp(when, "weekly")) {
        e->every = EVERY_WEEK;
        e->n = -1;
        for (int i = 0; nw == 3 && i < 7; i++)
            if (!strcmp(w[1], weekdays[i]))
                e->n = i;
        if (e->n < 0 || (e->minute = parse_hhmm(w[2])) < 0)
            return "weekly takes a day and a time, e.g. 'weekly monday 08:00'";
        return NULL;
    }
    if (!strcmp(when, "monthly")) {
        if (nw == 4 && !strcmp(w[1], "workday")) {
            e->every = EVERY_MONTH_WORKDAY;
            if ((e->n = parse_small(w[2], 1, 15)) < 0 || (e->minute = parse_hhmm(w[3])) < 0)
                return "'monthly workday N HH:MM' takes N from 1 to 15 and a time";
            return NULL;
        }
        e->every = EVERY_MONTH_DAY;
        if (nw != 3 || (e->n = parse_small(w[1], 1, 28)) < 0 || (e->minute = parse_hhmm(w[2])) < 0)
            return "monthly takes a day from 1 to 28 and a time ('monthly 1 00:30'), or "
                   "'monthly workday N HH:MM'";
        return NULL;
    }
    return NOT_A_SPEC;
}

int sched_config_parse(const char *text, struct sched_config **out, char **err)
{
    struct sched_config *c = xcalloc(1, sizeof *c);
    char *copy = xstrdup(text), *save;
    int lineno = 0;
    *err = NULL;
    /* strtok_r would skip empty lines and so miscount them: split by hand. */
    for (char *line = copy; line && !*err; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *w[8];
        int nw = 0;
        for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r"))
            if (nw < 8)
                w[nw++] = tok;
            else
                nw = 9;
        if (nw == 0)
            continue;
        if (nw > 8) {
            *err = xasprintf("schedule line %d: too many words", lineno);
            break;
        }
        if (!strcmp(w[0], "quiet")) {
            char *dash = nw == 2 ? strchr(w[1], '-') : NULL;
            if (dash)
                *dash = '\0';
            if (!dash || (c->quiet_from = parse_hhmm(w[1])) < 0 ||
                (c->quiet_to = parse_hhmm(dash + 1)) < 0)
                *err = xasprintf("schedule line %d: quiet takes a span of time, e.g. "
                                 "'quiet 21:00-07:00'", lineno);
            continue;
        }
        if (strlen(w[0]) >= sizeof c->entries[0].name) {
            *err = xasprintf("schedule line %d: '%s' is too long for a job's name", lineno, w[0]);
            break;
        }
        for (int i = 0; i < c->count; i++)
            if (!strcmp(c->entries[i].name, w[0]))
                *err = xasprintf("schedule line %d: job '%s' is already scheduled", lineno, w[0]);
        if (*err)
            break;
        if (c->count == MAX_JOBS) {
            *err = xasprintf("schedule line %d: more than %d jobs", lineno, MAX_JOBS);
            break;
        }
        struct entry *e = &c->entries[c->count];
        snprintf(e->name, sizeof e->name, "%s", w[0]);
        const char *why = parse_spec(w + 1, nw - 1, e);
        if (why) {
            if (why == NOT_A_SPEC)
                *err = xasprintf("schedule line %d: '%s' %s", lineno, nw > 1 ? w[1] : "", why);
            else
                *err = xasprintf("schedule line %d: %s", lineno, why);
            break;
        }
        size_t len = 0;
        for (int i = 1; i < nw && len < sizeof e->line; i++)
            len += (size_t)snprintf(e->line + len, sizeof e->line - len, "%s%s", i > 1 ? " " : "",
                                    w[i]);
        c->count++;
    }
    free(copy);
    if (*err) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void sched_config_free(struct sched_config *c) { free(c); }

static const struct entry *entry_of(const struct sched_config *c, const char *name)
{
    for (int i = 0; c && i < c->count; i++)
        if (!strcmp(c->entries[i].name, name))
            return &c->entries[i];
    return NULL;
}

/* --- when --------------------------------------------------------------------------------- */

static int in_quiet(const struct sched_config *c, int minute)
{
    if (c->quiet_from == c->quiet_to)
        return 0;
    if (c->quiet_from < c->quiet_to)
        return minute >= c->quiet_from && minute < c->quiet_to;
    return minute >= c->quiet_from || minute < c->quiet_to;
}

static int64_t next_day_start(const struct oslo_time *lt)
{
    int y, m, d;
    oslo_civil_from_days(oslo_days_from_civil(lt->year, lt->month, lt->day) + 1, &y, &m, &d);
    return oslo_from_local(y, m, d, 0, 0);
}

/* The first moment at or after t on a working day outside the quiet hours. */
static int64_t next_allowed(const struct sched_config *c, int64_t t)
{
    for (int i = 0; i < 64; i++) {
        struct oslo_time lt = oslo_local(t);
        int minute = lt.hour * 60 + lt.minute;
        if (!oslo_is_workday(lt.year, lt.month, lt.day)) {
            t = next_day_start(&lt);
        } else if (!in_quiet(c, minute)) {
            return t;
        } else if (c->quiet_to > minute) {
            t = oslo_from_local(lt.year, lt.month, lt.day, c->quiet_to / 60, c->quiet_to % 60);
        } else {
            t = next_day_start(&lt);
        }
    }
    return t;
}

/* A due time of a job that mails, held: on a day off it moves to the next working day at the
 * same time, so that Saturday's and Sunday's daily runs become Monday's one run; in the quiet
 * hours it moves to their end. */
static int64_t hold(const struct sched_config *c, int64_t t)
{
    struct oslo_time lt = oslo_local(t);
    int64_t day = oslo_days_from_civil(lt.year, lt.month, lt.day);
    int y = lt.year, m = lt.month, d = lt.day;
    for (int i = 0; i < 30 && !oslo_is_workday(y, m, d); i++)
        oslo_civil_from_days(++day, &y, &m, &d);
    return next_allowed(c, oslo_from_local(y, m, d, lt.hour, lt.minute));
}

/* Whether date y-m-d is one of e's days. */
static int is_day_of(const struct entry *e, int y, int m, int d)
{
    switch (e->every) {
    case EVERY_DAY: return 1;
    case EVERY_WEEK: return oslo_local(oslo_from_local(y, m, d, 12, 0)).weekday == e->n;
    case EVERY_MONTH_DAY: return d == e->n;
    case EVERY_MONTH_WORKDAY: {
        if (!oslo_is_workday(y, m, d))
            return 0;
        int nth = 0;
        for (int i = 1; i <= d; i++)
            nth += oslo_is_workday(y, m, i);
        return nth == e->n;
    }
    case EVERY_OFF: break;
    }
    return 0;
}

int64_t sched_next(const struct sched_config *c, const char *name, int mails, int64_t t)
{
    const struct entry *e = entry_of(c, name);
    if (!e || e->every == EVERY_OFF)
        return INT64_MAX;
    struct oslo_time lt = oslo_local(t);
    int64_t day = oslo_days_from_civil(lt.year, lt.month, lt.day);
    for (int i = 0; i < 800; i++, day++) {
        int y, m, d;
        oslo_civil_from_days(day, &y, &m, &d);
        if (!is_day_of(e, y, m, d))
            continue;
        int64_t at = oslo_from_local(y, m, d, e->minute / 60, e->minute % 60);
        if (at > t)
            return mails ? hold(c, at) : at;
    }
    return INT64_MAX;
}

/* --- running ------------------------------------------------------------------------------ */

struct pending {
    const struct sched_job *job;
    int64_t slot, by;
    const char *trigger;
    int64_t not_before;           /* a retry waits; 0: at once */
};

struct sched {
    struct app *app;
    struct sched_config *config;
    const struct sched_job *jobs[MAX_JOBS];
    int njobs;
    uv_timer_t timer;             /* wakes the scheduler when something is next due */
    uv_idle_t idle;               /* one step of the run in progress per turn of the loop */
    int open_handles;
    int started, stopping;
    void (*on_stopped)(void *arg);
    void *stop_arg;
    /* runs waiting their turn: slots that a crash cut short or that failed (a retry) */
    struct pending pending[MAX_PENDING];
    int npending;
    /* the run in progress */
    const struct sched_job *job;
    void *state;
    struct sched_run run;
    int64_t run_started_us, longest_step_us, steps;
};

static struct sched *sched_of(struct app *a)
{
    if (!a->sched) {
        a->sched = xcalloc(1, sizeof *a->sched);
        a->sched->app = a;
    }
    return a->sched;
}

void sched_add(struct app *a, const struct sched_job *job)
{
    struct sched *s = sched_of(a);
    UTIL_ASSERT(s->njobs < MAX_JOBS && !s->started);
    s->jobs[s->njobs++] = job;
}

static const struct sched_job *job_named(struct sched *s, const char *name)
{
    for (int i = 0; i < s->njobs; i++)
        if (!strcmp(s->jobs[i]->name, name))
            return s->jobs[i];
    return NULL;
}

static void look(struct sched *s);

static void on_timer(uv_timer_t *t)
{
    struct sched *s = t->data;
    look(s);
}

static const char *const triggers[] = {"schedule", "catch-up", "manual"};

/* The static trigger string for a stored one. */
static const char *trigger_of(const char *stored)
{
    for (int i = 0; i < 3; i++)
        if (stored && !strcmp(triggers[i], stored))
            return triggers[i];
    return triggers[0];
}

/* After a failed run of a slot: the slot is run again RETRY_AFTER seconds later, RETRIES times
 * in all, so that one failure (the database busy, a disk full for a moment) does not skip it.
 * The jobs record per person what they did in a slot, so a retry picks up where it failed. A run
 * by hand is not retried: the admin sees it failed. */
static void retry_later(struct sched *s, const struct sched_job *job, int64_t slot,
                        const char *trigger, int64_t by)
{
    if (!strcmp(trigger, "manual"))
        return;
    sqlite3_stmt *st = db_stmt(s->app->db, "SELECT count(*) FROM job_run WHERE job = ? AND "
                                           "slot = ? AND state = 'failed'");
    sqlite3_bind_text(st, 1, job->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, slot);
    int failed = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : RETRIES;
    sqlite3_reset(st);
    if (failed >= RETRIES || s->npending == MAX_PENDING) {
        fprintf(stderr, "evne: job %s: the slot failed %d times; it is not tried again\n",
                job->name, failed);
        return;
    }
    s->pending[s->npending++] = (struct pending){.job = job, .slot = slot, .by = by,
                                                 .trigger = trigger,
                                                 .not_before = util_now() + RETRY_AFTER};
    fprintf(stderr, "evne: job %s: runs again for the same slot in %d minutes\n", job->name,
            RETRY_AFTER / 60);
}

/* Records the end of the run in progress and looks for the next. */
static void end_run(struct sched *s, int ok, const char *error)
{
    struct app *a = s->app;
    json_t *summary = s->job->finish(a, s->state);
    if (!json_is_object(summary)) {
        json_decref(summary);
        summary = json_object();
    }
    json_object_set_new(summary, "steps", json_integer(s->steps));
    json_object_set_new(summary, "longest_step_us", json_integer(s->longest_step_us));
    json_object_set_new(summary, "duration_ms",
                        json_integer((util_monotonic_us() - s->run_started_us) / 1000));
    char *text = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_stmt *st = db_stmt(a->db, "UPDATE job_run SET state = ?, finished_at = ?, summary = ?, "
                                      "error = ? WHERE id = ?");
    sqlite3_bind_text(st, 1, ok ? "ok" : "failed", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, util_now());
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    if (error)
        sqlite3_bind_text(st, 4, error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, s->run.id);
    db_exec_stmt(a->db, st);
    fprintf(stderr, "evne: job %s (run %lld, %s): %s %s%s\n", s->job->name, (long long)s->run.id,
            s->run.trigger, ok ? "done" : "FAILED", ok ? text : "", ok ? "" : error);
    free(text);
    json_decref(summary);
    if (!ok)
        retry_later(s, s->job, s->run.slot, s->run.trigger, s->run.by);
    s->job = NULL;
    s->state = NULL;
}

static void step(struct sched *s)
{
    char *err = NULL;
    int64_t t0 = util_monotonic_us();
    db_exec(s->app->db, "PRAGMA synchronous = NORMAL");
    int rc = s->job->step(s->app, s->state, &s->run, SCHED_STEP_US, &err);
    db_exec(s->app->db, "PRAGMA synchronous = FULL");
    int64_t dt = util_monotonic_us() - t0;
    s->steps++;
    if (dt > s->longest_step_us)
        s->longest_step_us = dt;
    if (rc == 1)
        return;   /* the idle handle brings the next step after the loop's next poll */
    if (rc == SCHED_WAIT) {
        uv_idle_stop(&s->idle);   /* until the job's own work calls sched_resume */
        return;
    }
    uv_idle_stop(&s->idle);
    end_run(s, rc == 0, rc == 0 ? NULL : err ? err : "the job failed without saying why");
    free(err);
    if (!s->stopping)
        look(s);
}

/* An idle handle, not a timer of 0 ms: libuv runs a timer restarted from its own callback again
 * in the same pass, before any I/O, whereas while an idle handle is active each turn of the loop
 * polls for I/O (without blocking) and then runs one step. */
static void on_idle(uv_idle_t *h)
{
    struct sched *s = h->data;
    if (s->job && !s->stopping)
        step(s);
    else
        uv_idle_stop(h);
}

/* Starts a run of job for slot: recorded as running (and, for a scheduled run, the job's next
 * due time moved) in one transaction, then the job's start. 0 and s->run.id, or -1 and *err. */
static int begin_run(struct sched *s, const struct sched_job *job, int64_t slot,
                     const char *trigger, int64_t by, int64_t next, char **err)
{
    struct app *a = s->app;
    int64_t now = util_now();
    if (db_begin(a->db)) {
        *err = xstrdup("the database is busy");
        return -1;
    }
    sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO job_run (job, slot, trigger, started_at, state, "
                                      "by) VALUES (?, ?, ?, ?, 'running', ?)");
    sqlite3_bind_text(st, 1, job->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, slot);
    sqlite3_bind_text(st, 3, trigger, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    if (by)
        sqlite3_bind_int64(st, 5, by);
    int ok = db_exec_stmt(a->db, st) == 0;
    int64_t id = sqlite3_last_insert_rowid(db_handle(a->db));
    if (ok && next) {
        st = db_stmt(a->db, "UPDATE job SET next_run_at = ? WHERE name = ?");
        sqlite3_bind_int64(st, 1, next);
        sqlite3_bind_text(st, 2, job->name, -1, SQLITE_STATIC);
        ok = db_exec_stmt(a->db, st) == 0;
    }
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        *err = xstrdup("the run could not be recorded");
        return -1;
    }
    s->job = job;
    s->run = (struct sched_run){.id = id, .slot = slot, .now = now, .trigger = trigger, .by = by};
    s->run_started_us = util_monotonic_us();
    s->longest_step_us = s->steps = 0;
    fprintf(stderr, "evne: job %s (run %lld, %s) started\n", job->name, (long long)id, trigger);
    char *why = NULL;
    int64_t t0 = util_monotonic_us();
    s->state = job->start(a, &s->run, &why);
    s->longest_step_us = util_monotonic_us() - t0;
    if (!s->state) {
        /* finish is not called without a state: record the failure here. */
        st = db_stmt(a->db, "UPDATE job_run SET state = 'failed', finished_at = ?, error = ? "
                            "WHERE id = ?");
        sqlite3_bind_int64(st, 1, util_now());
        sqlite3_bind_text(st, 2, why ? why : "the job could not start", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
        db_exec_stmt(a->db, st);
        fprintf(stderr, "evne: job %s (run %lld) could not start: %s\n", job->name,
                (long long)id, why ? why : "no reason given");
        free(why);
        s->job = NULL;
        retry_later(s, job, slot, trigger, by);
        return 0;
    }
    uv_idle_start(&s->idle, on_idle);
    return 0;
}

/* What is due now: a waiting run first, then the schedule's jobs in the file's order. Starts one
 * run, or arms the timer for the next due time. */
static void look(struct sched *s)
{
    struct app *a = s->app;
    if (!s->started || s->stopping || s->job)
        return;
    int64_t now = util_now();
    char *err = NULL;
    int64_t wake = now + LOOK_AGAIN_MS / 1000;
    /* Runs waiting their turn first; those that mail keep to working days and quiet hours too. */
    for (int k = 0; k < s->npending; k++) {
        struct pending p = s->pending[k];
        int64_t at = p.not_before > now ? p.not_before : now;
        if (p.job->mails)
            at = next_allowed(s->config, at);
        if (at > now) {
            if (at < wake)
                wake = at;
            continue;
        }
        memmove(s->pending + k, s->pending + k + 1,
                sizeof s->pending[0] * (size_t)(s->npending - k - 1));
        s->npending--;
        if (begin_run(s, p.job, p.slot, p.trigger, p.by, 0, &err)) {
            fprintf(stderr, "evne: job %s: %s\n", p.job->name, err);
            free(err);
            err = NULL;
        }
        if (s->job)
            return;
        k = -1;
    }
    for (int i = 0; i < s->njobs; i++) {
        const struct sched_job *job = s->jobs[i];
        const struct entry *e = entry_of(s->config, job->name);
        if (!e || e->every == EVERY_OFF)
            continue;
        sqlite3_stmt *st = db_stmt(a->db, "SELECT next_run_at FROM job WHERE name = ?");
        sqlite3_bind_text(st, 1, job->name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW)
            continue;
        int64_t due = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        int64_t at = due > now ? due : job->mails ? next_allowed(s->config, now) : now;
        if (at > now) {
            if (at < wake)
                wake = at;
            continue;
        }
        const char *trigger = now - due > CATCH_UP_AFTER ? "catch-up" : "schedule";
        int64_t next = sched_next(s->config, job->name, job->mails, now);
        if (begin_run(s, job, due, trigger, 0, next, &err)) {
            fprintf(stderr, "evne: job %s: %s\n", job->name, err);
            free(err);
            break;
        }
        if (s->job)
            return;
        i = -1;   /* it failed at once: look again from the top (its next due time moved) */
    }
    uv_timer_start(&s->timer, on_timer, (uint64_t)(wake - now) * 1000, 0);
}

int sched_start(struct app *a, struct sched_config *config, char **err)
{
    struct sched *s = sched_of(a);
    s->config = config;
    int64_t now = util_now();
    /* Runs a crash or a stop cut short: interrupted, and run again for the same slot. */
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id, job, slot, trigger, by FROM job_run "
                                      "WHERE state = 'running' ORDER BY id");
    while (sqlite3_step(st) == SQLITE_ROW && s->npending < MAX_PENDING) {
        const struct sched_job *job = job_named(s, (const char *)sqlite3_column_text(st, 1));
        if (!job)
            continue;
        const char *trigger = trigger_of((const char *)sqlite3_column_text(st, 3));
        s->pending[s->npending++] = (struct pending){
            .job = job, .slot = sqlite3_column_int64(st, 2), .by = sqlite3_column_int64(st, 4),
            .trigger = trigger};
    }
    sqlite3_reset(st);
    /* Slots that failed lately and have tries left (their retry was waiting when the server
     * stopped): tried again now. */
    st = db_stmt(a->db, "SELECT job, slot, trigger, by FROM job_run r WHERE state = 'failed' AND "
                        "trigger != 'manual' AND started_at > ? GROUP BY job, slot "
                        "HAVING count(*) < ? AND NOT EXISTS (SELECT 1 FROM job_run o WHERE "
                        "o.job = r.job AND o.slot = r.slot AND o.state IN ('ok', 'running'))");
    sqlite3_bind_int64(st, 1, now - RETRY_WITHIN);
    sqlite3_bind_int(st, 2, RETRIES);
    while (sqlite3_step(st) == SQLITE_ROW && s->npending < MAX_PENDING) {
        const struct sched_job *job = job_named(s, (const char *)sqlite3_column_text(st, 0));
        if (job)
            s->pending[s->npending++] = (struct pending){
                .job = job, .slot = sqlite3_column_int64(st, 1),
                .trigger = trigger_of((const char *)sqlite3_column_text(st, 2)),
                .by = sqlite3_column_int64(st, 3)};
    }
    sqlite3_reset(st);
    if (db_begin(a->db)) {
        *err = xstrdup("schedule: the database is busy");
        return -1;
    }
    st = db_stmt(a->db, "UPDATE job_run SET state = 'interrupted', finished_at = ? "
                        "WHERE state = 'running'");
    sqlite3_bind_int64(st, 1, now);
    int ok = db_exec_stmt(a->db, st) == 0;
    for (int i = 0; ok && i < s->njobs; i++) {
        /* A job not yet known starts at its next due time; a due time still ahead follows a
         * changed schedule; one already passed stays, to catch up. */
        int64_t next = sched_next(config, s->jobs[i]->name, s->jobs[i]->mails, now);
        st = db_stmt(a->db, "INSERT INTO job (name, next_run_at) VALUES (?1, ?2) "
                            "ON CONFLICT (name) DO UPDATE SET next_run_at = ?2 "
                            "WHERE next_run_at > ?3");
        sqlite3_bind_text(st, 1, s->jobs[i]->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, next);
        sqlite3_bind_int64(st, 3, now);
        ok = db_exec_stmt(a->db, st) == 0;
    }
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        *err = xstrdup("schedule: the jobs could not be recorded");
        return -1;
    }
    for (int i = 0; i < config->count; i++)
        if (config->entries[i].every != EVERY_OFF && !job_named(s, config->entries[i].name))
            fprintf(stderr, "evne: schedule: no job is called '%s'; the line is ignored\n",
                    config->entries[i].name);
    uv_timer_init(a->loop, &s->timer);
    uv_idle_init(a->loop, &s->idle);
    s->timer.data = s->idle.data = s;
    s->open_handles = 2;
    s->started = 1;
    uv_timer_start(&s->timer, on_timer, 0, 0);
    return 0;
}

void sched_resume(struct app *a)
{
    struct sched *s = a->sched;
    if (s && s->started && !s->stopping && s->job)
        uv_idle_start(&s->idle, on_idle);
}

void sched_kick(struct app *a)
{
    struct sched *s = a->sched;
    if (s && s->started && !s->stopping && !s->job)
        uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void on_closed(uv_handle_t *h)
{
    struct sched *s = h->data;
    if (--s->open_handles)
        return;
    void (*cb)(void *) = s->on_stopped;
    void *arg = s->stop_arg;
    s->app->sched = NULL;
    sched_config_free(s->config);
    free(s);
    if (cb)
        cb(arg);
}

void sched_stop(struct app *a, void (*on_stopped)(void *arg), void *arg)
{
    struct sched *s = a->sched;
    if (!s || !s->started) {
        if (s) {
            a->sched = NULL;
            sched_config_free(s->config);
            free(s);
        }
        if (on_stopped)
            on_stopped(arg);
        return;
    }
    s->stopping = 1;
    s->on_stopped = on_stopped;
    s->stop_arg = arg;
    if (s->job) {
        /* Between two steps: the run stays 'running', to be run again at the next start. */
        fprintf(stderr, "evne: job %s (run %lld) stopped between two steps; it runs again at the "
                        "next start\n", s->job->name, (long long)s->run.id);
        json_decref(s->job->finish(a, s->state));
        s->job = NULL;
        s->state = NULL;
    }
    uv_timer_stop(&s->timer);
    uv_idle_stop(&s->idle);
    uv_close((uv_handle_t *)&s->timer, on_closed);
    uv_close((uv_handle_t *)&s->idle, on_closed);
}

int sched_run_now(struct app *a, const char *name, int64_t by, int64_t *run_id, int *status,
                  char **err)
{
    struct sched *s = a->sched;
    const struct sched_job *job = s && s->started ? job_named(s, name) : NULL;
    if (!job) {
        *status = 404;
        *err = xasprintf("there is no job called '%s'", name);
        return -1;
    }
    if (s->stopping) {
        *status = 503;
        *err = xstrdup("the server is stopping");
        return -1;
    }
    /* A run by hand is the admin's decision: it starts at once, quiet hours or not. */
    if (s->job) {
        *status = 409;
        *err = xasprintf("job %s is running (run %lld); try again when it is done",
                         s->job->name, (long long)s->run.id);
        return -1;
    }
    if (begin_run(s, job, util_now(), "manual", by, 0, err)) {
        *status = 503;
        return -1;
    }
    *run_id = s->run.id;
    if (!s->job)
        uv_timer_start(&s->timer, on_timer, 0, 0);
    return 0;
}

/* --- what admins see ----------------------------------------------------------------------- */

static json_t *iso_or_null(int64_t t)
{
    if (t <= 0 || t == INT64_MAX)
        return json_null();
    char at[21];
    util_iso8601(t, at);
    return json_string(at);
}

static json_t *run_json(sqlite3_stmt *st)
{
    json_t *summary = NULL;
    const char *text = db_text(st, 7);
    if (text && *text)
        summary = json_loads(text, 0, NULL);
    return json_pack("{s:I, s:s, s:o, s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "job", db_text(st, 1), "slot",
                     iso_or_null(sqlite3_column_int64(st, 2)), "trigger", db_text(st, 3),
                     "started_at", iso_or_null(sqlite3_column_int64(st, 4)), "finished_at",
                     iso_or_null(sqlite3_column_int64(st, 5)), "state", db_text(st, 6),
                     "summary", summary ? summary : json_object(), "error",
                     db_text(st, 8) ? json_string(db_text(st, 8)) : json_null(), "by",
                     sqlite3_column_type(st, 9) == SQLITE_NULL
                         ? json_null()
                         : json_integer(sqlite3_column_int64(st, 9)));
}

#define RUN_COLUMNS "id, job, slot, trigger, started_at, finished_at, state, summary, error, by"

json_t *sched_status(struct app *a, int limit)
{
    struct sched *s = a->sched;
    json_t *jobs = json_array();
    for (int i = 0; s && i < s->njobs; i++) {
        const struct sched_job *job = s->jobs[i];
        const struct entry *e = entry_of(s->config, job->name);
        int64_t next = INT64_MAX;
        if (e && e->every != EVERY_OFF) {
            sqlite3_stmt *st = db_stmt(a->db, "SELECT next_run_at FROM job WHERE name = ?");
            sqlite3_bind_text(st, 1, job->name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                next = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
        }
        json_array_append_new(
            jobs, json_pack("{s:s, s:s, s:b, s:o, s:b}", "name", job->name, "schedule",
                            e ? e->line : "off", "mails", job->mails, "next_run_at",
                            iso_or_null(next), "running", s->job == job));
    }
    json_t *runs = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT " RUN_COLUMNS " FROM job_run ORDER BY id DESC "
                                      "LIMIT ?");
    sqlite3_bind_int(st, 1, limit);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(runs, run_json(st));
    sqlite3_reset(st);
    return json_pack("{s:o, s:o}", "jobs", jobs, "runs", runs);
}

json_t *sched_run_get(struct app *a, int64_t run_id)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT " RUN_COLUMNS " FROM job_run WHERE id = ?");
    sqlite3_bind_int64(st, 1, run_id);
    json_t *run = sqlite3_step(st) == SQLITE_ROW ? run_json(st) : NULL;
    sqlite3_reset(st);
    return run;
}
