#!/usr/bin/env bash
# The monthly reports for a whole organisation (issue 6: under 30 s at 50,000 employees, without
# blocking the loop for more than 10 ms at a time). Starts `evne serve` on a copy of
# build/bench/N.db (made by bench/run.sh) with a test clock and a schedule that runs nothing by
# itself, creates through the API a few courses with a coming session each (so that the matching
# policy has something to propose), then runs the job "reports" by hand
# (POST /api/v1/admin/jobs/reports/run) and meanwhile asks GET /healthz in a loop. No SMTP server
# is configured: the mails wait in the outbox, which is where the job's work ends. Prints the
# figures; asserts nothing (a benchmark measures, tests decide).
#
#   bench/reports.sh                          # 50,000 employees
#   BENCH_REPORTS_SIZE=3300 bench/reports.sh
#
# Settings (environment): BENCH_REPORTS_SIZE (50000), BENCH_REPORTS_COURSES (5), BUILD (build).
# The figures:
#   - the run's duration and its mails, from the run's summary (duration_ms, mails, errors);
#   - the longest step, as the scheduler measured it (longest_step_us): the longest the loop
#     was busy with the job at one time;
#   - GET /healthz during the run: how many answered, their median and the slowest, measured by
#     curl (time_total, connection included): what a request waiting behind a step feels.
# The server listens on 127.0.0.1 only and is stopped on exit, however the script exits.
set -u

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
. bench/lib.sh
N=${BENCH_REPORTS_SIZE:-50000}
COURSES=${BENCH_REPORTS_COURSES:-5}
SRC=$OUT/$N.db
DB=$OUT/reports-$N.db
LOG=$OUT/reports-$N.log
PINGS=$OUT/reports-$N-healthz.txt
SCHEDULE=$OUT/reports-schedule.txt
CLOCK=1796112000   # Tuesday 1 December 2026 09:00 in Oslo: a working day, out of quiet hours

# A copy, so that the courses and mails made here never reach the database the others use.
bench_prepare "$SRC" "$DB"
# Nothing runs by itself: the run measured is the one asked for.
bench_schedule_off "$SCHEDULE"
bench_serve_or_die "$LOG" --db "$DB" --clock "$CLOCK" --schedule "$SCHEDULE"
bench_auth bench bench

# Courses over every requirement of the systems with the most requirements, target level 3.
made=0
for system in $(sqlite3 -readonly "$SRC" "SELECT system_id FROM requirement WHERE archived = 0
    GROUP BY system_id ORDER BY count(*) DESC, system_id LIMIT $COURSES"); do
  course=$(bench_course "$SRC" "$system" 3 "Bench course $system")
  [ -n "$course" ] || bench_die "could not create a course (see $LOG)"
  bench_session "$course" 2027-01-12T08:00:00Z 2027-01-12T11:00:00Z 12 >/dev/null
  made=$((made + 1))
done

employees=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM employee WHERE archived = 0")
managers=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM department d JOIN employee e
  ON e.id = d.manager_id AND e.archived = 0")
echo "bench: the monthly reports, $N employees ($employees active, $managers departments with a" \
  "manager, $made courses)"

# The run, with GET /healthz asked in a loop while it lasts.
bench_ping_start "$PINGS"
bench_run_job reports
bench_ping_stop
[ "$JOB_STATE" = ok ] || bench_die "the run ended $JOB_STATE: $JOB_RUN"
queued=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM outbox WHERE kind = 'report'")

echo "  summary: $JOB_SUMMARY"
echo "  run: $(bench_field duration_ms) ms in $(bench_field steps) steps (wall clock, start to" \
  "seen done: $JOB_WALL s); target: under 30 s"
echo "  mails queued: $(bench_field mails) ($queued report rows in the outbox:" \
  "$(bench_field employees) employees, $(bench_field departments) departments," \
  "$(bench_field advisers) advisers), errors: $(bench_field errors), skipped:" \
  "$(bench_field skipped)"
echo "  longest step (the loop busy at one time): $(bench_field longest_step_us) us; target: 10 ms"
echo "  GET /healthz during the run: $(bench_ping_figures "$PINGS")"
