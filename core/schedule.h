/* schedule: the jobs that run by themselves (reminders, monthly reports, the trend's snapshots,
 * backups), on a schedule that is configuration, with their next run times in the database.
 *
 * The schedule is a text file (docs/operations.md; the built-in default is SCHED_DEFAULT), one
 * line per job, and one line of quiet hours:
 *     reminders  daily 08:00
 *     reports    monthly workday 1 07:00      (the first working day of the month)
 *     snapshot   monthly 1 00:30
 *     backup     daily 02:30
 *     quiet      21:00-07:00
 * A time is Norwegian time (Europe/Oslo). A job that sends mail to people ("mails" below) never
 * starts on a Saturday, a Sunday or a Norwegian public holiday, nor in the quiet hours: a run
 * due then is held until the next working day's end of quiet hours (07:00 by the line above).
 * "off" instead of a time turns a job off.
 *
 * Each job has a row in `job` with next_run_at. At start-up, and whenever the timer fires, a job
 * whose next_run_at has passed runs once (a server that was down for three days catches up with
 * one run, trigger 'catch-up' when it was due more than a minute before), and next_run_at moves to
 * the first due time after now, in the same transaction that records the run as started. So a
 * restart never skips a run (next_run_at stays in the past until a run was recorded) and never
 * repeats one: a run that a crash or stop cut short is marked 'interrupted' at the next start and
 * run again for the same slot; the jobs record per item what they did in a slot (the reminder and
 * report_sent tables) and skip it the second time. A run that fails (a step answers -1, or the
 * job cannot start) is run again for the same slot 15 minutes later, three times in all, and
 * at the next start if its tries were not used up; a run by hand is not retried.
 *
 * A run does its work in steps on the loop thread, each given SCHED_STEP_US of time, with a turn
 * of the loop between steps, so that requests are served while a job runs; one job runs at a time
 * and the others wait their turn.
 *
 * A step's commits do not wait for their fsync (PRAGMA synchronous = NORMAL while the step runs),
 * which would hold the loop for milliseconds per step: a power cut may take back a run's last
 * steps whole, and the run, still 'running' (its end is committed with the fsync), is run again
 * for its slot and redoes them. Nothing a step wrote can have left the house meanwhile: the mail
 * worker claims a mail in a commit with synchronous = FULL, whose fsync of the WAL covers
 * everything written before it. A crash of the process alone loses nothing. Requests between the
 * steps write with synchronous = FULL as always. Loop thread only.
 */
#ifndef EVNE_SCHEDULE_H
#define EVNE_SCHEDULE_H

#include <jansson.h>
#include <stdint.h>

struct app;

#define SCHED_STEP_US 5000          /* the work done between two turns of the loop */

#define SCHED_DEFAULT                         \
    "reminders  daily 08:00\n"                \
    "reports    monthly workday 1 07:00\n"    \
    "snapshot   monthly 1 00:30\n"            \
    "backup     off\n"                        \
    "outbox     daily 03:15\n"                \
    "quiet      21:00-07:00\n"

/* What a step knows about the run it belongs to. */
struct sched_run {
    int64_t id;                 /* the job_run row */
    int64_t slot;               /* the due time this run is for (unix seconds) */
    int64_t now;                /* util_now() when the run started */
    const char *trigger;        /* "schedule", "catch-up" or "manual" */
    int64_t by;                 /* who asked for a manual run; 0 for the schedule */
};

/* A job. The scheduler calls start once, then step until it answers 0 (done) or -1 (failed),
 * then finish. A job that fails for one person logs it, counts it in its summary and goes on;
 * -1 is for a failure of the whole run (the database, a missing policy). */
struct sched_job {
    const char *name;           /* as in the schedule file: "reminders", "reports" ... */
    int mails;                  /* sends mail to people: held to working days, out of quiet hours */
    /* The job's state for one run (owned by the job), or NULL and *err (owned). */
    void *(*start)(struct app *a, const struct sched_run *run, char **err);
    /* Does work for about budget_us microseconds: 1 when more remains, 0 when done, -1 and
     * *err (owned) when the run failed, SCHED_WAIT when it waits for work of its own off the
     * loop and will call sched_resume when that is done. Each step commits what it did before
     * it returns. */
    int (*step)(struct app *a, void *state, const struct sched_run *run, int64_t budget_us,
                char **err);
    /* Frees the state and answers what the run did (owned JSON object, e.g. {"employees": 3300,
     * "reminders": 120, "errors": 0}), which goes into job_run.summary. Also called after a
     * failed step. */
    json_t *(*finish)(struct app *a, void *state);
};

/* Parses a schedule's text. 0 and *out (owned), or -1 and *err (owned) naming the line and what
 * is wrong ("schedule line 2: 'dayly' is not daily, weekly, monthly or off"). */
struct sched_config;
int sched_config_parse(const char *text, struct sched_config **out, char **err);
void sched_config_free(struct sched_config *c);

/* Adds a job the scheduler knows (before sched_start; borrowed, lives as long as the app). A job
 * the schedule does not mention is off. */
void sched_add(struct app *a, const struct sched_job *job);

/* Starts the scheduler on a->loop with config (consumed): marks runs left 'running' as
 * 'interrupted' (their slots run again), creates job rows, runs what is due. -1 and *err. */
int sched_start(struct app *a, struct sched_config *config, char **err);
#define SCHED_WAIT 2

/* Steps the run in progress again after its step answered SCHED_WAIT. Loop thread only. */
void sched_resume(struct app *a);

/* Looks again at what is due, at once (after the test clock moved). No-op without a scheduler. */
void sched_kick(struct app *a);
/* Stops: a run in progress stops between two steps and stays 'running' in the database, to be
 * marked 'interrupted' and run again at the next start. on_stopped(arg) runs when done. */
void sched_stop(struct app *a, void (*on_stopped)(void *arg), void *arg);

/* Starts job `name` now, by hand, for the slot `now`. 0 and *run_id; -1 and *err (owned) with
 * *status 404 (no such job), 409 (this job or another is running; says which) or 503 (the
 * server is stopping). A run by hand starts at once, quiet hours or not. A manual run
 * does not move next_run_at. */
int sched_run_now(struct app *a, const char *name, int64_t by, int64_t *run_id, int *status,
                  char **err);

/* For the admin page and GET /api/v1/admin/jobs: {jobs: [{name, schedule (the line's text),
 * mails, next_run_at (ISO or null when off), running (bool)}], runs: [{id, job, slot, trigger,
 * started_at, finished_at, state, summary (object), error, by}] (newest first, at most limit)}.
 * Owned. */
json_t *sched_status(struct app *a, int limit);

/* One run, as in sched_status's runs; NULL when there is none. Owned. */
json_t *sched_run_get(struct app *a, int64_t run_id);

/* --- reachable from the unit tests -------------------------------------------------------- */

/* The first due time of config's job `name` strictly after t, held out of quiet hours and off
 * working days when mails is set; INT64_MAX when the job is off or unknown. */
int64_t sched_next(const struct sched_config *c, const char *name, int mails, int64_t t);

#endif
