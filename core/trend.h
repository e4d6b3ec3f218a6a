/* trend: how competence moves over months. A snapshot stores the roll-ups (coverage, gap sum and
 * the other counts of gap.h's roll-up rows) of the whole organisation and of every department,
 * system and profile at one moment; one is taken each month by the schedule (job "snapshot") and
 * on demand. A series is one entity's figures over time, one point per month (that month's newest
 * snapshot), which pages and reports draw as a line chart made here, in SVG. Loop thread only.
 */
#ifndef EVNE_TREND_H
#define EVNE_TREND_H

#include <jansson.h>
#include <stdint.h>

struct app;
struct sched_job;

/* The schedule's job "snapshot": takes the month's snapshot (kind "monthly"). */
extern const struct sched_job trend_job;

/* Takes a snapshot now (kind "monthly" or "manual") in one transaction. 0 and *id, or -1 and
 * *err (owned). */
int trend_snapshot(struct app *a, const char *kind, int64_t now, int64_t *id, char **err);

/* The series of one entity: dimension "organisation" (entity_id ignored), "department" (the
 * department with its subtree), "system" or "profile"; months with a snapshot from `since` (unix
 * seconds; 0: all) on. An array, oldest first, of {period: "2026-11", taken_at (ISO),
 * employees, employees_with_gaps, demanded, open_gaps, unassessed, gap_sum, coverage}. Owned;
 * an empty array when there is nothing. */
json_t *trend_series(struct app *a, const char *dimension, int64_t entity_id, int64_t since);

/* A line chart as an SVG element (owned string), readable without colour: each line has its own
 * marker shape and dash pattern and is labelled at its end, axes are labelled, and a <title> and
 * <desc> say what it shows for screen readers. lines is [{name, points: [{period, value}]}];
 * metric is "coverage" (drawn 0-100 %) or "gap_sum" (0 to the largest value); title and the
 * axis words come in lang ("nb" or "en"). Pure: no database. */
char *trend_svg(const json_t *lines, const char *metric, const char *title, const char *lang);

#endif
