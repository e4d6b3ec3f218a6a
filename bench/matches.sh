#!/usr/bin/env bash
# The time to compute matches for one course across a whole organisation (issue 5: under 200 ms
# at 50,000 employees). Starts `evne serve` on a copy of build/bench/N.db (made by bench/run.sh),
# creates through the API one course over every requirement of one system (target level 4, so
# that every open gap there is one it closes) and one coming session, then times
# POST /api/v1/courses/{id}/matches with curl. Prints the figures; asserts nothing (a benchmark
# measures, tests decide).
#
#   bench/matches.sh                  # 50,000 employees, the system with the most open gaps
#   BENCH_MATCH_SIZE=500000 BENCH_MATCH_RUNS=3 bench/matches.sh
#
# Settings (environment): BENCH_MATCH_SIZE (50000), BENCH_MATCH_RUNS timed requests (5),
# BENCH_MATCH_SYSTEM a system id (default: the one with the most open gaps), BUILD (build).
# The server listens on 127.0.0.1 only and is stopped on exit, however the script exits.
set -u

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
. bench/lib.sh
N=${BENCH_MATCH_SIZE:-50000}
RUNS=${BENCH_MATCH_RUNS:-5}
SRC=$OUT/$N.db
DB=$OUT/matches-$N.db
LOG=$OUT/matches-$N.log

# A copy, so that the course made here never reaches the database the other benchmarks use.
bench_prepare "$SRC" "$DB"

# The system with the most employees with an open gap (required above the latest level).
SYSTEM=${BENCH_MATCH_SYSTEM:-$(sqlite3 -readonly "$SRC" "
  WITH req AS (SELECT a.employee_id, pl.requirement_id, r.system_id, max(pl.level) AS required
               FROM assignment a JOIN profile p ON p.id = a.profile_id AND p.archived = 0
               JOIN profile_level pl ON pl.profile_id = a.profile_id
               JOIN requirement r ON r.id = pl.requirement_id AND r.archived = 0
               WHERE pl.level > 0 GROUP BY 1, 2)
  SELECT system_id FROM req WHERE required > coalesce((SELECT level FROM assessment s
    WHERE s.employee_id = req.employee_id AND s.requirement_id = req.requirement_id
    ORDER BY recorded_at DESC, id DESC LIMIT 1), 0)
  GROUP BY system_id ORDER BY count(DISTINCT employee_id) DESC LIMIT 1")}
[ -n "$SYSTEM" ] || bench_die "no system with open gaps in $SRC"
NREQS=$(sqlite3 -readonly "$SRC" "SELECT count(*) FROM requirement WHERE system_id = $SYSTEM
  AND archived = 0")
SYSNAME=$(sqlite3 -readonly "$SRC" "SELECT name FROM system WHERE id = $SYSTEM")

bench_serve_or_die "$LOG" --db "$DB"
bench_auth bench bench

course=$(bench_course "$SRC" "$SYSTEM" 4 "Bench: $SYSNAME")
[ -n "$course" ] || bench_die "could not create the course (see $LOG)"
session=$(bench_session "$course" "$(date -u -d '+30 days' +%Y-%m-%dT08:00:00Z)" \
  "$(date -u -d '+30 days' +%Y-%m-%dT11:00:00Z)" 12)
[ -n "$session" ] || bench_die "could not create the session (see $LOG)"

echo "bench: matches for course $course ($NREQS requirements of $SYSNAME, target 4), $N employees"
# The server's own CPU time (user + system, from /proc) over the timed runs: on a machine that
# others share, wall-clock times wander with their load, the CPU time a request costs much less.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$EVNE_PID/stat" 2>/dev/null || echo 0; }
cpu_before=$(cpu_ticks)
times=()
for i in $(seq 1 "$RUNS"); do
  out=$(curl -s -m 120 -o "$OUT/matches-$N.json" -w '%{http_code} %{time_total}' -X POST \
    -H "$AUTH" -H 'Content-Type: application/json' -d '{}' "$URL/courses/$course/matches")
  code=${out% *}
  secs=${out#* }
  [ "$code" = 200 ] || bench_die "POST matches answered $code: $(head -c 300 "$OUT/matches-$N.json")"
  ms=$(awk -v s="$secs" 'BEGIN { printf "%.1f", s * 1000 }')
  times+=("$ms")
  echo "  run $i: $ms ms"
done
cpu_after=$(cpu_ticks)
cpu_ms=$(awk -v a="$cpu_before" -v b="$cpu_after" -v hz="$(getconf CLK_TCK)" -v n="$RUNS" \
  'BEGIN { printf "%.1f", (b - a) * 1000 / hz / n }')
proposed=$(grep -o '"reason":' "$OUT/matches-$N.json" | wc -l)
lacking=$(sed -n 's/.*"lacking_prerequisite":\[\(.*\)\],"enrolled".*/\1/p' "$OUT/matches-$N.json" |
  grep -o '"employee_id":' | wc -l)
median=$(printf '%s\n' "${times[@]}" | bench_median)
best=$(printf '%s\n' "${times[@]}" | sort -n | head -n 1)
echo "  proposed: $proposed employees, lacking a prerequisite: $lacking"
echo "  POST /courses/$course/matches: median $median ms, best $best ms over $RUNS runs (target: under 200 ms)"
echo "  server CPU time per request: $cpu_ms ms (user + system, averaged over the $RUNS runs)"
