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
# shellcheck source=bench/lib.sh
. bench/lib.sh
N=${BENCH_TREND_SIZE:-50000}
RUNS=${BENCH_TREND_RUNS:-5}
SRC=$OUT/$N.db
DB=$OUT/trend-$N.db
LOG=$OUT/trend-$N.log

# A copy, so that the snapshots made here never reach the database the other benchmarks use.
bench_prepare "$SRC" "$DB"
bench_serve_or_die "$LOG" --db "$DB"
bench_auth bench bench

employees=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM employee WHERE archived = 0")
echo "bench: trend snapshots at $employees active employees ($N generated)"

# The job first (the month has no monthly snapshot yet, so it takes one).
bench_run_job snapshot
echo "  job snapshot: $JOB_STATE in $(bench_field duration_ms) ms, $(bench_field steps) steps;" \
  "longest step (the loop held) $(bench_field longest_step_us) us (target: under 10000 us)"

rows=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM snapshot_row WHERE snapshot_id =
  (SELECT max(id) FROM snapshot)")
pages_before=$(sqlite3 -readonly "$DB" "PRAGMA page_count")

times=()
served=()
for i in $(seq 1 "$RUNS"); do
  out=$(curl -s -m 60 -o "$OUT/trend-$N.json" -w '%{http_code} %{time_total}' -X POST \
    -H "$AUTH" "$URL/admin/snapshots")
  code=${out% *}
  [ "$code" = 201 ] ||
    bench_die "POST /admin/snapshots answered $code: $(head -c 300 "$OUT/trend-$N.json")"
  ms=$(awk -v s="${out#* }" 'BEGIN { printf "%.1f", s * 1000 }')
  us=$(bench_served_us "$LOG" "POST /api/v1/admin/snapshots 201")
  times+=("$ms")
  served+=("$us")
  echo "  snapshot by hand $i: $ms ms (server: $us us)"
done
pages_after=$(sqlite3 -readonly "$DB" "PRAGMA page_count")
page_size=$(sqlite3 -readonly "$DB" "PRAGMA page_size")
per_snapshot=$(( (pages_after - pages_before) * page_size / RUNS ))
echo "  POST /admin/snapshots: median $(printf '%s\n' "${times[@]}" | bench_median) ms over $RUNS" \
  "(server: median $(printf '%s\n' "${served[@]}" | bench_median) us; the loop is held that long)"
echo "  one snapshot: $rows rows, about $per_snapshot bytes"

dept=$(sqlite3 -readonly "$DB" "SELECT id FROM department WHERE parent_id IS NULL LIMIT 1")
for q in "dimension=organisation" "dimension=department&id=$dept"; do
  reads=()
  for _ in 1 2 3 4 5; do
    curl -s -m 30 -o /dev/null -H "$AUTH" "$URL/trend?$q"
    reads+=("$(bench_served_us "$LOG" "GET /api/v1/trend 200")")
  done
  echo "  GET /trend?$q: median $(printf '%s\n' "${reads[@]}" | bench_median) us (server)"
done
