#!/usr/bin/env bash
# The trend's snapshot at 50,000 employees (issue 6): how long one takes, by hand
# (POST /api/v1/admin/snapshots) and as the scheduled job "snapshot" (which writes in steps; its
# longest step is the longest the loop is held, against the issue's 10 ms), how many rows and bytes
# it adds, and how long a series takes to read (GET /api/v1/trend). Starts `evne serve` on a copy
# of build/bench/N.db (made by bench/run.sh). Prints the figures; asserts nothing (a benchmark measures, tests decide).
#
#   bench/trend.sh
#   BENCH_TREND_SIZE=500000 BENCH_TREND_RUNS=3 bench/trend.sh
#
# Settings (environment): BENCH_TREND_SIZE (50000), BENCH_TREND_RUNS snapshots by hand (5),
# BUILD (build). The server listens on 127.0.0.1 only and is stopped on exit, however the script
# exits.
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
OUT=$BUILD/bench
N=${BENCH_TREND_SIZE:-50000}
RUNS=${BENCH_TREND_RUNS:-5}
SRC=$OUT/$N.db
DB=$OUT/trend-$N.db
LOG=$OUT/trend-$N.log

for tool in curl sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$BUILD/evne" ] || { echo "bench: $BUILD/evne is missing (make all builds it)" >&2; exit 1; }
[ -f "$SRC" ] || { echo "bench: $SRC is missing (bench/run.sh makes it)" >&2; exit 1; }

evne_pid=""
cleanup() {
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

# A copy, so that the snapshots made here never reach the database the other benchmarks use.
rm -f "$DB" "$DB-wal" "$DB-shm"
sqlite3 "$SRC" ".backup '$DB'" || { echo "bench: cannot copy $SRC" >&2; exit 1; }

rules_arg=()
[ -d rules ] && rules_arg=(--rules rules)
"$BUILD/evne" serve --db "$DB" --host 127.0.0.1 --port 0 "${rules_arg[@]}" >"$LOG" 2>&1 &
evne_pid=$!
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's|.*on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$evne_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$port" ] || { echo "bench: evne serve named no port (see $LOG)" >&2; exit 1; }
URL=http://127.0.0.1:$port/api/v1

token=$(curl -s -m 30 -X POST -H 'Content-Type: application/json' \
  -d '{"login":"bench","password":"bench"}' "$URL/session" |
  sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "bench: login as bench failed (see $LOG)" >&2; exit 1; }
AUTH="Authorization: Bearer $token"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# The server's own time for the last request matching $1 in its log (microseconds).
served_us() { grep "$1" "$LOG" | tail -n 1 | sed -n 's/.* \([0-9]*\)us$/\1/p'; }

employees=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM employee WHERE archived = 0")
echo "bench: trend snapshots at $employees active employees ($N generated)"

# The job first (the month has no monthly snapshot yet, so it takes one).
run=$(curl -s -m 30 -X POST -H "$AUTH" "$URL/admin/jobs/snapshot/run" |
  sed -n 's/^{"id":\([0-9]*\),.*/\1/p')
[ -n "$run" ] || { echo "bench: could not start the job snapshot (see $LOG)" >&2; exit 1; }
summary=""
for _ in $(seq 1 300); do
  body=$(curl -s -m 30 -H "$AUTH" "$URL/admin/jobs/runs/$run")
  case $body in *'"state":"running"'*) sleep 0.1 ;; *) summary=$body; break ;; esac
done
longest=$(printf '%s' "$summary" | sed -n 's/.*"longest_step_us":\([0-9]*\).*/\1/p')
duration=$(printf '%s' "$summary" | sed -n 's/.*"duration_ms":\([0-9]*\).*/\1/p')
state=$(printf '%s' "$summary" | sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p')
steps=$(printf '%s' "$summary" | sed -n 's/.*"steps":\([0-9]*\).*/\1/p')
echo "  job snapshot: $state in ${duration:-?} ms, ${steps:-?} steps; longest step (the loop" \
  "held) ${longest:-?} us (target: under 10000 us)"

rows=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM snapshot_row WHERE snapshot_id =
  (SELECT max(id) FROM snapshot)")
pages_before=$(sqlite3 -readonly "$DB" "PRAGMA page_count")

times=()
served=()
for i in $(seq 1 "$RUNS"); do
  out=$(curl -s -m 60 -o "$OUT/trend-$N.json" -w '%{http_code} %{time_total}' -X POST \
    -H "$AUTH" "$URL/admin/snapshots")
  code=${out% *}
  if [ "$code" != 201 ]; then
    echo "bench: POST /admin/snapshots answered $code: $(head -c 300 "$OUT/trend-$N.json")" >&2
    exit 1
  fi
  ms=$(awk -v s="${out#* }" 'BEGIN { printf "%.1f", s * 1000 }')
  us=$(served_us "POST /api/v1/admin/snapshots 201")
  times+=("$ms")
  served+=("$us")
  echo "  snapshot by hand $i: $ms ms (server: $us us)"
done
pages_after=$(sqlite3 -readonly "$DB" "PRAGMA page_count")
page_size=$(sqlite3 -readonly "$DB" "PRAGMA page_size")
per_snapshot=$(( (pages_after - pages_before) * page_size / RUNS ))
echo "  POST /admin/snapshots: median $(printf '%s\n' "${times[@]}" | median) ms over $RUNS" \
  "(server: median $(printf '%s\n' "${served[@]}" | median) us; the loop is held that long)"
echo "  one snapshot: $rows rows, about $per_snapshot bytes"

dept=$(sqlite3 -readonly "$DB" "SELECT id FROM department WHERE parent_id IS NULL LIMIT 1")
for q in "dimension=organisation" "dimension=department&id=$dept"; do
  reads=()
  for _ in 1 2 3 4 5; do
    curl -s -m 30 -o /dev/null -H "$AUTH" "$URL/trend?$q"
    reads+=("$(served_us "GET /api/v1/trend 200")")
  done
  echo "  GET /trend?$q: median $(printf '%s\n' "${reads[@]}" | median) us (server)"
done
