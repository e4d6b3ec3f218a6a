/* remind: the daily reminders, a job of the scheduler (schedule.h).
 *
 * A run asks the reminders policy (rules/reminders.lua, lh_reminder) about every active employee
 * with the facts it needs: the newest self-assessment, open invitations, missing course
 * evaluations, for a manager the enrolments waiting for their approval, the reminders of the last
 * REMIND_HISTORY_DAYS (newest first), and whether they have a manager. What the policy answers
 * becomes, in one transaction, a mail in the outbox (web/templates/mail/reminder_TEMPLATE.txt in
 * the recipient's language, mailtext.h) to the employee or to their manager (the nearest one up
 * the department tree), and a row in `reminder` for the run's slot. An employee who has a row for
 * the slot already is skipped, so that a run cut short and run again never mails anyone twice.
 *
 * The facts are read in bulk, REMIND_CHUNK employees at a time (a few queries per chunk, never
 * per employee); the departments, managers and pending approvals once at the start. A step works
 * for about its budget, commits without waiting for the fsync (the mail worker's next claim
 * syncs it before any mail leaves); the WAL's checkpoints are made off the loop (checkpoint.h).
 * A policy error (or a template the policy names that does not
 * exist) for one employee is logged on stderr with the employee's id and counted, and the run
 * goes on. The summary is {employees (active employees gone through), reminders (mails queued),
 * to_managers (of which to a manager), errors, skipped (reminded in this slot before)}, plus
 * first_error when there was one. Loop thread only.
 */
#ifndef EVNE_REMIND_H
#define EVNE_REMIND_H

#include "schedule.h"

#define REMIND_CHUNK 128           /* employees whose facts are read together */
#define REMIND_HISTORY_DAYS 365    /* how far back the facts' earlier reminders go */

/* The job "reminders" (mails = 1: held to working days, out of quiet hours). */
extern const struct sched_job remind_job;

#endif
