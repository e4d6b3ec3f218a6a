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
BUILD=${BUILD:-build}
OUT=$BUILD/bench
N=${BENCH_REMINDERS_SIZE:-50000}
INVITED=${BENCH_REMINDERS_INVITED:-2000}
SRC=$OUT/$N.db
DB=$OUT/reminders-$N.db
LOG=$OUT/reminders-$N.log
SCHEDULE=$OUT/reminders-schedule.txt
CLOCK=1796279400      # Thursday 3 December 2026 07:30 in Oslo: the invitations are made
WEEK_ON=1796884260    # Thursday 10 December 07:31: they have waited a week
DAY_ON=1796970600     # Friday 11 December 07:30: everybody was reminded yesterday

for tool in curl sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$BUILD/evne" ] || { echo "bench: $BUILD/evne is missing (make all builds it)" >&2; exit 1; }
[ -f "$SRC" ] || { echo "bench: $SRC is missing (bench/run.sh makes it)" >&2; exit 1; }

evne_pid=""
ping_pid=""
cleanup() {
  if [ -n "$ping_pid" ]; then
    kill "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    ping_pid=""
  fi
  if [ -n "$evne_pid" ]; then
    kill "$evne_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$evne_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$evne_pid" 2>/dev/null || true
    evne_pid=""
  fi
  rm -f "$DB" "$DB-wal" "$DB-shm" "$SCHEDULE"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 1' INT TERM

# A copy, so that the invitations and mails made here never reach the database the others use.
rm -f "$DB" "$DB-wal" "$DB-shm"
sqlite3 "$SRC" ".backup '$DB'" || { echo "bench: cannot copy $SRC" >&2; exit 1; }
# Nothing runs by itself: the runs measured are the ones asked for.
printf 'reminders off\nreports off\nsnapshot off\nbackup off\nquiet 21:00-07:00\n' >"$SCHEDULE"

rules_arg=()
[ -d rules ] && rules_arg=(--rules rules)
"$BUILD/evne" serve --db "$DB" --host 127.0.0.1 --port 0 --clock "$CLOCK" \
  --schedule "$SCHEDULE" "${rules_arg[@]}" >"$LOG" 2>&1 &
evne_pid=$!
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's|.*on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$evne_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$port" ] || { echo "bench: evne serve named no port (see $LOG)" >&2; exit 1; }
BASE=http://127.0.0.1:$port
URL=$BASE/api/v1

login() {
  token=$(curl -s -m 30 -X POST -H 'Content-Type: application/json' \
    -d '{"login":"bench","password":"bench"}' "$URL/session" |
    sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "bench: login as bench failed (see $LOG)" >&2; exit 1; }
  AUTH="Authorization: Bearer $token"
}
login

set_clock() {
  local iso
  iso=$(date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ)
  curl -s -m 30 -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"now\":\"$iso\"}" "$URL/admin/clock"
  login   # a session from a week ago has expired
}

# Two sessions in January, each with up to 1,000 invitations (the API's most at once).
system=$(sqlite3 -readonly "$SRC" "SELECT system_id FROM requirement WHERE archived = 0
  GROUP BY system_id ORDER BY count(*) DESC, system_id LIMIT 1")
reqs=$(sqlite3 -readonly "$SRC" "SELECT group_concat('{\"requirement_id\":' || id ||
  ',\"target_level\":3}', ',') FROM requirement WHERE system_id = $system AND archived = 0")
course=$(curl -s -m 30 -X POST -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"title\":\"Bench: grunnkurs\",\"system_id\":$system,\"requirements\":[$reqs]}" \
  "$URL/courses" | sed -n 's/^{"id":\([0-9]*\),.*/\1/p')
[ -n "$course" ] || { echo "bench: could not create the course (see $LOG)" >&2; exit 1; }
invited=0
for k in 0 1; do
  want=$(( INVITED - k * 1000 ))
  [ "$want" -gt 1000 ] && want=1000
  [ "$want" -le 0 ] && break
  session=$(curl -s -m 30 -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"starts_at\":\"2027-01-1${k}T08:00:00Z\",\"ends_at\":\"2027-01-1${k}T11:00:00Z\",\"capacity\":20}" \
    "$URL/courses/$course/sessions" | sed -n 's/^{"id":\([0-9]*\),.*/\1/p')
  [ -n "$session" ] || { echo "bench: could not create a session (see $LOG)" >&2; exit 1; }
  ids=$(sqlite3 -readonly "$DB" "SELECT group_concat(id, ',') FROM (SELECT id FROM employee
    WHERE archived = 0 AND id > 1 ORDER BY id LIMIT $want OFFSET $((k * 1000 + 7)))")
  code=$(curl -s -m 120 -o "$OUT/reminders-invite.json" -w '%{http_code}' -X POST -H "$AUTH" \
    -H 'Content-Type: application/json' -d "{\"employee_ids\":[$ids]}" \
    "$URL/sessions/$session/invitations")
  [ "$code" = 201 ] || { echo "bench: invitations answered $code: $(head -c 300 \
    "$OUT/reminders-invite.json")" >&2; exit 1; }
  invited=$((invited + want))
done
rm -f "$OUT/reminders-invite.json"

employees=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM employee WHERE archived = 0")
echo "bench: the daily reminders, $N employees ($employees active, $invited invited to a course" \
  "a week before)"

# One run by hand, with GET /healthz asked in a loop while it lasts; prints the figures.
run_once() {
  local what=$1 pings=$OUT/reminders-$N-healthz-$2.txt
  : >"$pings"
  (
    while :; do
      curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' "$BASE/healthz" >>"$pings"
      sleep 0.01
    done
  ) &
  ping_pid=$!
  local t0 t1 run id state got
  t0=$(date +%s.%N)
  run=$(curl -s -m 30 -X POST -H "$AUTH" "$URL/admin/jobs/reminders/run")
  id=$(printf '%s' "$run" | sed -n 's/.*"id" *: *\([0-9]*\).*/\1/p' | head -n 1)
  [ -n "$id" ] || { echo "bench: the run did not start: $run" >&2; exit 1; }
  state=running
  for _ in $(seq 1 3000); do
    got=$(curl -s -m 60 -H "$AUTH" "$URL/admin/jobs/runs/$id")
    state=$(printf '%s' "$got" | sed -n 's/.*"state" *: *"\([a-z]*\)".*/\1/p')
    [ -n "$state" ] && [ "$state" != running ] && break
    sleep 0.2
  done
  t1=$(date +%s.%N)
  kill "$ping_pid" 2>/dev/null
  wait "$ping_pid" 2>/dev/null
  ping_pid=""
  if [ "$state" != ok ]; then
    echo "bench: the run ended $state: $got" >&2
    exit 1
  fi
  local summary wall pings_n median worst bad load
  summary=$(printf '%s' "$got" | sed -n 's/.*"summary" *: *\({[^}]*}\).*/\1/p')
  field() { printf '%s' "$summary" | sed -n "s/.*\"$1\" *: *\([0-9]*\).*/\1/p"; }
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  pings_n=$(wc -l <"$pings")
  median=$(awk '{ print $2 * 1000 }' "$pings" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "%.2f", a[int((NR + 1) / 2)]; else print "-" }')
  worst=$(awk '{ printf "%.2f\n", $2 * 1000 }' "$pings" | sort -n | tail -n 1)
  bad=$(awk '$1 != 200' "$pings" | wc -l)
  load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
  echo "  $what"
  echo "    run: $(field duration_ms) ms in $(field steps) steps (start to seen done: $wall s);" \
    "target: under 10 s"
  echo "    employees: $(field employees), reminders: $(field reminders) (to managers:" \
    "$(field to_managers)), errors: $(field errors), skipped: $(field skipped)"
  echo "    longest step (the loop busy at one time): $(field longest_step_us) us; target: 10 ms"
  echo "      of it: the start $(field start_us) us; the longest chunk read" \
    "$(field longest_load_us) us, commit $(field longest_commit_us) us; the longest step on the" \
    "CPU $(field longest_step_cpu_us) us (more on the clock: waiting for a core or the disk)"
  echo "    GET /healthz during the run: $pings_n answers ($bad not 200), median ${median} ms," \
    "slowest ${worst:-?} ms (load average $load)"
}

set_clock "$WEEK_ON"
run_once "a week after the invitations: everybody is due" due
by_template=$(sqlite3 -readonly "$DB" "SELECT group_concat(template || ' ' || n, ', ') FROM
  (SELECT template, count(*) AS n FROM reminder GROUP BY template ORDER BY template)")
echo "    reminders by template: $by_template"
set_clock "$DAY_ON"
run_once "a day later: every employee asked, the week's pause holds them back" pause
