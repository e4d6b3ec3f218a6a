#!/usr/bin/env bash
# Page rendering: each main page fetched N times from a running `evne serve` on the 3,300-employee
# organisation (build/bench/3300.db, made by bench/run.sh) and on the demo, with the server's own
# duration per request (its log line, in microseconds) and the page's size.
# Targets (issue 3): every page under 60 KB of HTML for the demo organisation, rendered in under
# 2 ms on the server at 3,300 employees.
#   bench/pages.sh [DB] [LOGIN] [PASSWORD]
set -u
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
. bench/lib.sh
N=${BENCH_PAGE_RUNS:-30}
mkdir -p "$OUT"
bench_need curl sqlite3
bench_need_built evne
bench_traps

run_pages() {
  local db=$1 login=$2 password=$3 label=$4
  local log="$OUT/pages-$label.log" jar="$OUT/pages-$label.cookies"
  if ! bench_serve "$log" --db "$db"; then
    echo "pages: evne did not start (see $log)" >&2
    bench_stop_servers
    return 1
  fi
  curl -s -o /dev/null -c "$jar" --data-urlencode "login=$login" --data-urlencode "password=$password" \
    "$BASE/login"
  local gerica team_dept
  gerica=$(sqlite3 -readonly "$db" "SELECT id FROM system WHERE archived = 0 ORDER BY id LIMIT 1")
  team_dept=$(sqlite3 -readonly "$db" "SELECT d.id FROM department d JOIN employee e ON e.id = d.manager_id
    WHERE e.login = '$login' ORDER BY d.id DESC LIMIT 1")
  local pages=(/me /me/assessment "/team?department_id=$team_dept" "/team/gaps?department_id=$team_dept"
    /systems "/systems/$gerica" "/systems/$gerica/matrix" "/reports?by=department"
    "/reports?by=system" "/reports?by=requirement" "/reports?by=employee" /search
    "/search?system_id=$gerica&level=2" /admin/users /admin/departments /admin/rules)
  printf '\n== pages: %s (%s), %d requests each ==\n' "$label" "$db" "$N"
  printf '  %-40s %8s %10s %10s %8s\n' page status bytes "median us" "max us"
  for p in "${pages[@]}"; do
    local code bytes
    : >"$OUT/pages-one.log"
    code=$(curl -s -b "$jar" -o "$OUT/pages-body.html" -w '%{http_code}' "$BASE$p")
    bytes=$(wc -c <"$OUT/pages-body.html")
    local before after
    before=$(wc -l <"$log")
    for _ in $(seq 1 "$N"); do curl -s -b "$jar" -o /dev/null "$BASE$p"; done
    after=$(wc -l <"$log")
    local path=${p%%\?*}
    tail -n $((after - before)) "$log" | awk -v path="$path" '$2 == path { sub("us", "", $4); print $4 }' |
      sort -n | awk -v p="$p" -v code="$code" -v bytes="$bytes" '
        { v[NR] = $1 } END { if (NR == 0) { printf "  %-40s %8s %10s %10s %8s\n", p, code, bytes, "-", "-"; exit }
          printf "  %-40s %8s %10d %10d %8d\n", p, code, bytes, v[int((NR + 1) / 2)], v[NR] }'
  done
  bench_stop_servers
}

db=${1:-$OUT/3300.db}
if [ ! -f "$db" ]; then
  echo "pages: $db is missing; run bench/run.sh first (it makes build/bench/3300.db)" >&2
  exit 1
fi
run_pages "$db" "${2:-bench}" "${3:-bench}" 3300
demo="$OUT/pages-demo.db"
rm -f "$demo" "$demo-wal" "$demo-shm"
"$BUILD/evne" demo --db "$demo" >/dev/null && run_pages "$demo" radgiver demo demo-adviser
run_pages "$demo" leder demo demo-manager
run_pages "$demo" admin demo demo-admin
