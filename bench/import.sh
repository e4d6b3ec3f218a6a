#!/usr/bin/env bash
# The HR import and the export at 50,000 employees (issue 7).
#
# Import: a departments file (2,000 departments, three levels) and an employees file (50,000, with
# æøå, quoted names holding commas and semicolons, a BOM, CRLF) are generated here with awk, then
#   1. `evne import` into a new database (every row added)      target: under 5 s
#   2. `evne import` of the same files again (nothing changes)
#   3. `evne import` of next month's file: 1,000 moved, 500 new e-mail addresses, 500 gone
#      (deactivated), 500 new people
#   4. POST /api/v1/admin/import of 50,000 into a running server's new database, dry run and
#      commit: the server's time for the request (the check runs in a worker; the commit and
#      the gap index's update run on the loop)
# Each CLI run's wall time and peak resident memory (/usr/bin/time).
# Export: `evne serve` on a copy of build/bench/50000.db (made by bench/run.sh: 50,000 employees,
# 1.1 million assessments), then GET /api/v1/admin/export as JSON and as each CSV table: the time,
# the bytes, and the server's peak resident memory (VmHWM) before and after, which tells whether
# the export was held in memory; and `evne export` to a file with its peak memory.
#
#   bench/import.sh        (BENCH_IMPORT_SIZE=50000, BUILD=build)
# Prints the figures; asserts nothing but that each step worked (a benchmark measures).
set -u

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
. bench/lib.sh
N=${BENCH_IMPORT_SIZE:-50000}
SRC=$OUT/50000.db
mkdir -p "$OUT"
W=$(mktemp -d "$OUT/import.XXXXXX")
EVNE=$BUILD/evne
BENCH_FILES+=("$W")
bench_traps

bench_need curl sqlite3 awk /usr/bin/time
bench_need_built evne

# --- the files ------------------------------------------------------------------------------
# gen MONTH FILE_D FILE_E: month 0 is the first file; month 1 moves, changes, drops and adds.
gen() {
  awk -v N="$N" -v month="$1" -v D="$2" -v E="$3" 'BEGIN {
    ndept = int(N / 25); if (ndept < 10) ndept = 10
    printf "\xef\xbb\xbfavdelingskode;navn;overordnet;leder\r\n" > D
    printf "K;Eksempel kommune;;\r\n" > D
    for (i = 1; i <= ndept; i++) {
      parent = i <= 8 ? "K" : (i <= 200 ? sprintf("A%04d", (i % 8) + 1) : sprintf("A%04d", (i % 192) + 9))
      printf "A%04d;\"Avdeling %d, Æsøy; område %d\";%s;%d\r\n", i, i, i % 7, parent, 100000 + i * 25 > D
    }
    printf "\xef\xbb\xbfansattnummer;navn;epost;avdelingskode;stilling;roller;aktiv\r\n" > E
    for (i = 1; i <= N; i++) {
      if (month && i % 100 == 3) continue                      # 500 gone (no managers)
      dept = ((i - 1) % ndept) + 1
      if (month && i % 50 == 1) dept = (dept % ndept) + 1       # 1,000 moved
      mail = sprintf("ansatt%d@kommune.no", i)
      if (month && i % 100 == 7) mail = sprintf("a%d@ny.kommune.no", i)   # 500 new addresses
      printf "%d;\"Nordmann, Åse Ø. %d\";%s;A%04d;\"Helsefagarbeider; %d %%\";%s;ja\r\n",
        100000 + i, i, mail, dept, 50 + i % 50, (i % 25 == 0) ? "leder" : "" > E
    }
    if (month) for (i = 1; i <= 500; i++)
      printf "%d;Ny Ansatt %d;ny%d@kommune.no;A%04d;Lærling;;ja\r\n", 900000 + i, i, i, (i % ndept) + 1 > E
  }'
}
gen 0 "$W/avdelinger.csv" "$W/ansatte.csv"
gen 1 "$W/avdelinger-2.csv" "$W/ansatte-2.csv"
echo "== HR import: $N employees, $(wc -c <"$W/ansatte.csv") bytes of employees, $(wc -l <"$W/avdelinger.csv") lines of departments =="

"$EVNE" init --db "$W/cli.db" --admin-login admin --admin-password bench-admin >/dev/null ||
  bench_die "evne init failed"

# run_import LABEL ARGS...: wall seconds and peak memory of one `evne import`.
run_import() {
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$W/time" "$EVNE" import --db "$W/cli.db" "$@" >"$W/out" 2>"$W/err"
  local rc=$?
  read -r secs kb <"$W/time"
  local changes
  changes=$(sed -n 's/^evne import: \([0-9]*\) changes written$/\1/p; s/^evne import: dry run: \([0-9]*\) changes would be made.*/\1/p' "$W/err")
  if [ "$rc" != 0 ] || [ -z "$changes" ]; then
    echo "bench: $label failed (exit $rc): $(tail -n 5 "$W/err" "$W/out")" >&2
    exit 1
  fi
  local verdict=""
  [ "$label" = "first import" ] &&
    verdict=$(awk -v s="$secs" 'BEGIN { print (s < 5 ? "ok (target: under 5 s)" : "MISSED (target: under 5 s)") }')
  printf '  %-34s %6s s  %7d KB peak  %6s changes  %s\n' "$label" "$secs" "$kb" "$changes" "$verdict"
}
run_import "first import" "$W/avdelinger.csv" "$W/ansatte.csv"
run_import "the same files again" "$W/avdelinger.csv" "$W/ansatte.csv"
grep -E '^employees:' "$W/out" | sed 's/^/    /'
run_import "next month (moves, leavers, new)" "$W/avdelinger-2.csv" "$W/ansatte-2.csv"
grep -E '^employees:' "$W/out" | sed 's/^/    /'
run_import "dry run of the first files" --dry-run "$W/avdelinger.csv" "$W/ansatte.csv"

# --- through the API ------------------------------------------------------------------------
hwm_kb() { sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
rss_kb() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }

"$EVNE" init --db "$W/api.db" --admin-login admin --admin-password bench-admin >/dev/null
bench_serve_or_die "$W/api.log" --db "$W/api.db" --request-timeout 120
bench_auth admin bench-admin
echo "== POST /api/v1/admin/import of $N employees into a running server =="
for q in "?dry_run=true" ""; do
  out=$(curl -s -m 300 -o "$W/api.json" -w '%{http_code} %{time_total}' -X POST \
    -H "$AUTH" -H 'Content-Type: multipart/form-data' \
    -F "departments=@$W/avdelinger.csv;type=text/csv" -F "employees=@$W/ansatte.csv;type=text/csv" \
    "$URL/admin/import$q")
  code=${out% *}
  [ "$code" = 200 ] || bench_die "POST /admin/import$q answered $code: $(head -c 300 "$W/api.json")"
  printf '  %-34s %6.2f s (server: %s us), %d bytes answered\n' "${q:-commit}" "${out#* }" \
    "$(bench_served_us "$W/api.log" "POST /api/v1/admin/import 200")" "$(wc -c <"$W/api.json")"
done
t0=$(date +%s%N)
curl -s -m 30 -o /dev/null -H "$AUTH" "$URL/gaps?by=department"
echo "  the roll-up by department right after: $(( ($(date +%s%N) - t0) / 1000000 )) ms;" \
  "resident $(rss_kb "$EVNE_PID") KB, peak $(hwm_kb "$EVNE_PID") KB"

# --- the export -----------------------------------------------------------------------------
if [ ! -f "$SRC" ]; then
  echo "bench: $SRC is missing (bench/run.sh makes it); the export is not measured" >&2
  exit 0
fi
bench_copy_db "$SRC" "$W/export.db"
bench_serve_or_die "$W/export.log" --db "$W/export.db" --request-timeout 120
bench_auth bench bench
employees=$(sqlite3 -readonly "$W/export.db" "SELECT count(*) FROM employee")
assessments=$(sqlite3 -readonly "$W/export.db" "SELECT count(*) FROM assessment")
echo "== GET /api/v1/admin/export: $employees employees, $assessments assessments (from $SRC) =="
echo "  server after start-up: resident $(rss_kb "$EVNE_PID") KB, peak $(hwm_kb "$EVNE_PID") KB"
for q in "format=json" "format=csv&table=employees" "format=csv&table=assessments" \
         "format=csv&table=gaps" "format=csv&table=rollups"; do
  before=$(hwm_kb "$EVNE_PID")
  out=$(curl -s -m 600 -o "$W/export.out" -w '%{http_code} %{time_total}' -H "$AUTH" \
    "$URL/admin/export?$q")
  [ "${out% *}" = 200 ] || bench_die "export $q answered ${out% *}"
  printf '  %-30s %6.2f s  %11d bytes  peak before %7s KB, after %7s KB\n' "$q" "${out#* }" \
    "$(wc -c <"$W/export.out")" "$before" "$(hwm_kb "$EVNE_PID")"
done
if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/export.out" 2>/dev/null; then
  : # the last one is CSV; the JSON is checked below
fi
curl -s -m 600 -o "$W/export.json" -H "$AUTH" "$URL/admin/export?format=json"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print("  the JSON parses:", len(d["employees"]), "employees")' \
  "$W/export.json" || echo "bench: the JSON export does not parse" >&2
for q in "--format json" "--format csv --table gaps"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f '%e %M' -o "$W/time" "$EVNE" export --db "$W/export.db" $q >"$W/cli.out" 2>"$W/err" ||
    bench_die "evne export $q failed: $(tail -n 3 "$W/err")"
  read -r secs kb <"$W/time"
  printf '  evne export %-24s %6s s  %11d bytes  %7d KB peak (gap index included)\n' "$q" "$secs" \
    "$(wc -c <"$W/cli.out")" "$kb"
done
