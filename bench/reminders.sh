#!/usr/bin/env bash
# The daily reminders for a whole organisation (issue 6: under 10 s at 50,000 employees, without
# blocking the loop for more than 10 ms at a time). Starts `evne serve` on a copy of
# build/bench/N.db (made by bench/run.sh) with a test clock and a schedule that runs nothing by
# itself, invites BENCH_REMINDERS_INVITED employees to two course sessions through the API, moves
# the clock a week on (their invitations are then due), and runs the job "reminders" by hand
# (POST /api/v1/admin/jobs/reminders/run) while GET /healthz is asked in a loop. Then it runs the
# job again a day later, when the week's pause holds everybody back: every employee is asked, and
# nothing is sent. No SMTP server is configured: the mails wait in the outbox, where the job's
# work ends. Prints the figures; asserts nothing (a benchmark measures, tests decide).
#
#   bench/reminders.sh                          # 50,000 employees
#   BENCH_REMINDERS_SIZE=3300 bench/reminders.sh
#
# Settings (environment): BENCH_REMINDERS_SIZE (50000), BENCH_REMINDERS_INVITED (2000, at most
# 2000), BUILD (build). The figures, for each run:
#   - its duration and what it did, from the run's summary (duration_ms, steps, employees,
#     reminders, errors);
#   - the longest step, as the scheduler measured it (longest_step_us): the longest the loop was
#     busy with the job at one time, the start's reading of the organisation included;
#   - GET /healthz during the run, measured from outside by curl (time_total, connection
#     included): how many answered, the median and the slowest: what a request waiting behind a
#     step feels. The machine's load average is printed beside them: on a busy machine the loop
#     also waits for a core, which no step can help.
# The server listens on 127.0.0.1 only and is stopped on exit, however the script exits.
set -u

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
. bench/lib.sh
N=${BENCH_REMINDERS_SIZE:-50000}
INVITED=${BENCH_REMINDERS_INVITED:-2000}
SRC=$OUT/$N.db
DB=$OUT/reminders-$N.db
LOG=$OUT/reminders-$N.log
SCHEDULE=$OUT/reminders-schedule.txt
CLOCK=1796279400      # Thursday 3 December 2026 07:30 in Oslo: the invitations are made
WEEK_ON=1796884260    # Thursday 10 December 07:31: they have waited a week
DAY_ON=1796970600     # Friday 11 December 07:30: everybody was reminded yesterday

# A copy, so that the invitations and mails made here never reach the database the others use.
bench_prepare "$SRC" "$DB"
# Nothing runs by itself: the runs measured are the ones asked for.
bench_schedule_off "$SCHEDULE"

bench_serve_or_die "$LOG" --db "$DB" --clock "$CLOCK" --schedule "$SCHEDULE"
bench_auth bench bench

set_clock() {
  local iso
  iso=$(date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ)
  curl -s -m 30 -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"now\":\"$iso\"}" "$URL/admin/clock"
  bench_auth bench bench   # a session from a week ago has expired
}

# Two sessions in January, each with up to 1,000 invitations (the API's most at once).
system=$(sqlite3 -readonly "$SRC" "SELECT system_id FROM requirement WHERE archived = 0
  GROUP BY system_id ORDER BY count(*) DESC, system_id LIMIT 1")
course=$(bench_course "$SRC" "$system" 3 "Bench: grunnkurs")
[ -n "$course" ] || bench_die "could not create the course (see $LOG)"
invited=0
for k in 0 1; do
  want=$(( INVITED - k * 1000 ))
  [ "$want" -gt 1000 ] && want=1000
  [ "$want" -le 0 ] && break
  session=$(bench_session "$course" "2027-01-1${k}T08:00:00Z" "2027-01-1${k}T11:00:00Z" 20)
  [ -n "$session" ] || bench_die "could not create a session (see $LOG)"
  ids=$(sqlite3 -readonly "$DB" "SELECT group_concat(id, ',') FROM (SELECT id FROM employee
    WHERE archived = 0 AND id > 1 ORDER BY id LIMIT $want OFFSET $((k * 1000 + 7)))")
  code=$(curl -s -m 120 -o "$OUT/reminders-invite.json" -w '%{http_code}' -X POST -H "$AUTH" \
    -H 'Content-Type: application/json' -d "{\"employee_ids\":[$ids]}" \
    "$URL/sessions/$session/invitations")
  [ "$code" = 201 ] ||
    bench_die "invitations answered $code: $(head -c 300 "$OUT/reminders-invite.json")"
  invited=$((invited + want))
done
rm -f "$OUT/reminders-invite.json"

employees=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM employee WHERE archived = 0")
echo "bench: the daily reminders, $N employees ($employees active, $invited invited to a course" \
  "a week before)"

# One run by hand, with GET /healthz asked in a loop while it lasts; prints the figures.
run_once() {
  local what=$1 pings=$OUT/reminders-$N-healthz-$2.txt
  bench_ping_start "$pings"
  bench_run_job reminders
  bench_ping_stop
  [ "$JOB_STATE" = ok ] || bench_die "the run ended $JOB_STATE: $JOB_RUN"
  echo "  $what"
  echo "    run: $(bench_field duration_ms) ms in $(bench_field steps) steps (start to seen" \
    "done: $JOB_WALL s); target: under 10 s"
  echo "    employees: $(bench_field employees), reminders: $(bench_field reminders) (to" \
    "managers: $(bench_field to_managers)), errors: $(bench_field errors), skipped:" \
    "$(bench_field skipped)"
  echo "    longest step (the loop busy at one time): $(bench_field longest_step_us) us;" \
    "target: 10 ms"
  echo "      of it: the start $(bench_field start_us) us; the longest chunk read" \
    "$(bench_field longest_load_us) us, commit $(bench_field longest_commit_us) us; the" \
    "longest step on the CPU $(bench_field longest_step_cpu_us) us (more on the clock:" \
    "waiting for a core or the disk)"
  echo "    GET /healthz during the run: $(bench_ping_figures "$pings") (load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
}

set_clock "$WEEK_ON"
run_once "a week after the invitations: everybody is due" due
by_template=$(sqlite3 -readonly "$DB" "SELECT group_concat(template || ' ' || n, ', ') FROM
  (SELECT template, count(*) AS n FROM reminder GROUP BY template ORDER BY template)")
echo "    reminders by template: $by_template"
set_clock "$DAY_ON"
run_once "a day later: every employee asked, the week's pause holds them back" pause
