#!/usr/bin/env bash
# The monthly reports for a whole organisation (issue 6: under 30 s at 50,000 employees, without
# blocking the loop for more than 10 ms at a time). Starts `evne serve` on a copy of
# build/bench/N.db (made by bench/run.sh) with a test clock, creates through the API a few
# courses with a coming session each (so that the matching policy has something to propose),
# then runs the job "reports" by hand (POST /api/v1/admin/jobs/reports/run) and meanwhile asks
# GET /healthz in a loop. No SMTP server is configured: the mails wait in the outbox, which is
# where the job's work ends. Prints the figures; asserts nothing (a benchmark measures, tests
# decide).
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
BUILD=${BUILD:-build}
OUT=$BUILD/bench
N=${BENCH_REPORTS_SIZE:-50000}
COURSES=${BENCH_REPORTS_COURSES:-5}
SRC=$OUT/$N.db
DB=$OUT/reports-$N.db
LOG=$OUT/reports-$N.log
PINGS=$OUT/reports-$N-healthz.txt
CLOCK=1796112000   # Tuesday 1 December 2026 09:00 in Oslo: a working day, out of quiet hours

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
  rm -f "$DB" "$DB-wal" "$DB-shm"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 1' INT TERM

# A copy, so that the courses and mails made here never reach the database the others use.
rm -f "$DB" "$DB-wal" "$DB-shm"
sqlite3 "$SRC" ".backup '$DB'" || { echo "bench: cannot copy $SRC" >&2; exit 1; }

rules_arg=()
[ -d rules ] && rules_arg=(--rules rules)
"$BUILD/evne" serve --db "$DB" --host 127.0.0.1 --port 0 --clock "$CLOCK" "${rules_arg[@]}" \
  >"$LOG" 2>&1 &
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

token=$(curl -s -m 30 -X POST -H 'Content-Type: application/json' \
  -d '{"login":"bench","password":"bench"}' "$URL/session" |
  sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "bench: login as bench failed (see $LOG)" >&2; exit 1; }
AUTH="Authorization: Bearer $token"

# Courses over every requirement of the systems with the most requirements, target level 3.
made=0
for system in $(sqlite3 -readonly "$SRC" "SELECT system_id FROM requirement WHERE archived = 0
    GROUP BY system_id ORDER BY count(*) DESC, system_id LIMIT $COURSES"); do
  reqs=$(sqlite3 -readonly "$SRC" "SELECT group_concat('{\"requirement_id\":' || id ||
    ',\"target_level\":3}', ',') FROM requirement WHERE system_id = $system AND archived = 0")
  course=$(curl -s -m 30 -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"title\":\"Bench course $system\",\"system_id\":$system,\"requirements\":[$reqs]}" \
    "$URL/courses" | sed -n 's/^{"id":\([0-9]*\),.*/\1/p')
  [ -n "$course" ] || { echo "bench: could not create a course (see $LOG)" >&2; exit 1; }
  curl -s -m 30 -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d '{"starts_at":"2027-01-12T08:00:00Z","ends_at":"2027-01-12T11:00:00Z","capacity":12}' \
    "$URL/courses/$course/sessions"
  made=$((made + 1))
done

employees=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM employee WHERE archived = 0")
managers=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM department d JOIN employee e
  ON e.id = d.manager_id AND e.archived = 0")
echo "bench: the monthly reports, $N employees ($employees active, $managers departments with a" \
  "manager, $made courses)"

# GET /healthz in a loop while the run lasts: one line per answer, "code seconds".
: >"$PINGS"
(
  while :; do
    curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' "$BASE/healthz" >>"$PINGS"
    sleep 0.01
  done
) &
ping_pid=$!

t0=$(date +%s.%N)
run=$(curl -s -m 30 -X POST -H "$AUTH" "$URL/admin/jobs/reports/run")
id=$(printf '%s' "$run" | sed -n 's/.*"id" *: *\([0-9]*\).*/\1/p' | head -n 1)
[ -n "$id" ] || { echo "bench: the run did not start: $run" >&2; exit 1; }
state=running
for _ in $(seq 1 3000); do
  got=$(curl -s -m 60 -H "$AUTH" "$URL/admin/jobs/runs/$id")
  state=$(printf '%s' "$got" | sed -n 's/.*"state" *: *"\([a-z]*\)".*/\1/p')
  # no answer in time (the loop busy) counts as still running
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
summary=$(printf '%s' "$got" | sed -n 's/.*"summary" *: *\({[^}]*}\).*/\1/p')
field() { printf '%s' "$summary" | sed -n "s/.*\"$1\" *: *\([0-9]*\).*/\1/p"; }
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
queued=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM outbox WHERE kind = 'report'")
pings=$(wc -l <"$PINGS")
median=$(awk '{ print $2 * 1000 }' "$PINGS" | sort -n |
  awk '{ a[NR] = $1 } END { if (NR) printf "%.2f", a[int((NR + 1) / 2)]; else print "-" }')
worst=$(awk '{ print $2 * 1000 }' "$PINGS" | sort -n | tail -n 1)
bad=$(awk '$1 != 200' "$PINGS" | wc -l)

echo "  summary: $summary"
echo "  run: $(field duration_ms) ms in $(field steps) steps (wall clock, start to seen done:" \
  "$wall s); target: under 30 s"
echo "  mails queued: $(field mails) ($queued report rows in the outbox: $(field employees)" \
  "employees, $(field departments) departments, $(field advisers) advisers), errors:" \
  "$(field errors), skipped: $(field skipped)"
echo "  longest step (the loop busy at one time): $(field longest_step_us) us; target: 10 ms"
echo "  GET /healthz during the run: $pings answers ($bad not 200), median ${median} ms," \
  "slowest ${worst:-?} ms"
