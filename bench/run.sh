#!/usr/bin/env bash
# The benchmarks (`make bench`). For each size: generate build/bench/N.db once, run evne-bench
# (the index against SQL, checked row by row), then load the gaps endpoint of a running
# `evne serve` with wrk and compare it with nginx serving the same bytes as a static file.
#
#   BENCH_SIZES="3300 50000 500000" bench/run.sh
#
# Settings (environment): BENCH_SIZES (default "3300 50000"), BENCH_DURATION seconds of each wrk
# run (10), BENCH_CONNECTIONS (4), BENCH_THREADS wrk threads (1 on a machine of 1-2 cores, else 2),
# BUILD (build). Everything listens on 127.0.0.1 only and is stopped on exit, however it exits.
# Exit status: 0, or 1 when evne-bench found a mismatch or a step failed.
set -u

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
. bench/lib.sh
SIZES=${BENCH_SIZES:-"3300 50000"}
DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-4}
if [ -z "${BENCH_THREADS:-}" ]; then
  if [ "$(nproc 2>/dev/null || echo 1)" -le 2 ]; then BENCH_THREADS=1; else BENCH_THREADS=2; fi
fi

mkdir -p "$OUT"
ABS_OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
status=0
bench_traps

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
fail() { echo "bench: $*" >&2; say "FAILED: $*"; status=1; }

bench_need wrk nginx curl sqlite3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
bench_need_built evne evne-gen evne-bench

# A loopback port nobody listens on, from a range that changes per call.
free_port() {
  local p tries=0
  p=$((20000 + (RANDOM * 7 + $$) % 40000))
  while [ $tries -lt 200 ]; do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
    p=$((p + 1)); tries=$((tries + 1))
  done
  return 1
}

rss_of() { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# Runs wrk on a URL; prints "requests/s" (empty on failure); wrk's report goes to file $2.
run_wrk() {
  local url=$1 report=$2
  timeout $((DURATION + 30)) wrk -t"$BENCH_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$ABS_OUT/auth.lua" "$url" >"$report" 2>&1 || { echo ""; return; }
  if grep -q "Non-2xx or 3xx responses" "$report"; then
    echo "bench: $(grep 'Non-2xx' "$report") from $url (see $report)" >&2
    echo ""
    return
  fi
  awk '/^Requests\/sec:/ { print $2 }' "$report"
}

http_bench() {
  local n=$1 db=$2
  local port nport id token code evne_pid nginx_pid rps_evne rps_nginx
  # an employee from the middle holding two profiles or more: a page of typical size
  id=$(sqlite3 -readonly "$db" "SELECT e.id FROM employee e WHERE e.archived = 0 AND e.id >= $n / 2
    AND (SELECT COUNT(*) FROM assignment a WHERE a.employee_id = e.id) >= 2 ORDER BY e.id LIMIT 1") ||
    { fail "$n: cannot read an employee id from $db"; return; }
  [ -n "$id" ] || { fail "$n: no active employee with two profiles in $db"; return; }

  # port 0: the kernel picks a free port, which evne names in its first log line
  if ! bench_serve "$OUT/evne-$n.log" --db "$db"; then
    fail "$n: evne serve named no port (see $OUT/evne-$n.log)"
    bench_stop_servers; return
  fi
  evne_pid=$EVNE_PID
  port=$PORT
  if ! bench_wait_http "http://127.0.0.1:$port/healthz" "$evne_pid" 120; then
    fail "$n: evne serve did not answer /healthz within 120 s (see $OUT/evne-$n.log)"
    bench_stop_servers; return
  fi
  local rss_start; rss_start=$(rss_of "$evne_pid")

  if ! token=$(bench_login bench bench); then
    fail "$n: login as bench failed (see $OUT/evne-$n.log)"
    bench_stop_servers; return
  fi
  printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$ABS_OUT/auth.lua"

  local path="/api/v1/employees/$id/gaps"
  mkdir -p "$ABS_OUT/www$(dirname "$path")"
  code=$(curl -s -m 30 -o "$ABS_OUT/www$path" -w '%{http_code}' \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path")
  if [ "$code" != 200 ]; then
    fail "$n: GET $path answered $code: $(head -c 300 "$ABS_OUT/www$path")"
    bench_stop_servers; return
  fi
  local bytes; bytes=$(wc -c <"$ABS_OUT/www$path")

  echo "bench: $n: wrk on evne $path (${DURATION} s, $CONNECTIONS connections)" >&2
  rps_evne=$(run_wrk "http://127.0.0.1:$port$path" "$OUT/wrk-evne-$n.txt")
  local rss_end; rss_end=$(rss_of "$evne_pid")
  bench_stop_servers

  nport=$(free_port) || { fail "no free loopback port"; return; }
  mkdir -p "$ABS_OUT/nginx-tmp"
  local user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
  cat >"$ABS_OUT/nginx.conf" <<EOF
# Written by bench/run.sh: nginx serving the bytes of one gaps answer as a static file, as the
# yardstick for the gaps endpoint. One worker, as evne has one event loop; an access log line per
# request, as evne writes one (nginx's default, unbuffered).
$user_line
daemon off;
worker_processes 1;
pid $ABS_OUT/nginx.pid;
error_log $ABS_OUT/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $ABS_OUT/nginx-access.log;
  client_body_temp_path $ABS_OUT/nginx-tmp/body;
  proxy_temp_path $ABS_OUT/nginx-tmp/proxy;
  fastcgi_temp_path $ABS_OUT/nginx-tmp/fastcgi;
  uwsgi_temp_path $ABS_OUT/nginx-tmp/uwsgi;
  scgi_temp_path $ABS_OUT/nginx-tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport;
    root $ABS_OUT/www;
    default_type application/json;
  }
}
EOF
  "$NGINX" -p "$ABS_OUT/" -c "$ABS_OUT/nginx.conf" -e "$ABS_OUT/nginx-error.log" \
    >"$OUT/nginx-$n.log" 2>&1 &
  nginx_pid=$!
  BENCH_PIDS+=("$nginx_pid")
  if ! bench_wait_http "http://127.0.0.1:$nport$path" "$nginx_pid" 20; then
    fail "$n: nginx did not start (see $OUT/nginx-$n.log and $OUT/nginx-error.log)"
    bench_stop_servers; return
  fi
  echo "bench: $n: wrk on nginx, the same bytes as a static file" >&2
  rps_nginx=$(run_wrk "http://127.0.0.1:$nport$path" "$OUT/wrk-nginx-$n.txt")
  bench_stop_servers

  if [ -z "$rps_evne" ] || [ -z "$rps_nginx" ]; then
    fail "$n: a wrk run failed (see $OUT/wrk-evne-$n.txt, $OUT/wrk-nginx-$n.txt)"
    return
  fi
  local lat_evne lat_nginx
  lat_evne=$(awk '/^ +50%/ { print $2 }' "$OUT/wrk-evne-$n.txt")
  lat_nginx=$(awk '/^ +50%/ { print $2 }' "$OUT/wrk-nginx-$n.txt")
  say ""
  say "== HTTP: GET $path ($bytes bytes), wrk -t$BENCH_THREADS -c$CONNECTIONS -d${DURATION}s, $n employees =="
  say "$(printf '  %-34s %12s req/s   median latency %s' "evne serve (one event loop)" "$rps_evne" "$lat_evne")"
  say "$(printf '  %-34s %12s req/s   median latency %s' "nginx, static file (one worker)" "$rps_nginx" "$lat_nginx")"
  say "$(awk -v a="$rps_evne" -v b="$rps_nginx" 'BEGIN {
    r = a / b; printf "  evne / nginx                       %12.2f         target >= 0.90 %s", r, (r >= 0.9 ? "ok" : "MISSED") }')"
  say "  evne resident: $rss_start after start-up, $rss_end after the run"
}

for n in $SIZES; do
  case $n in *[!0-9]*|"") echo "bench: not a size: $n" >&2; exit 1 ;; esac
  db=$OUT/$n.db
  if [ ! -f "$db" ]; then
    echo "bench: generating $db" >&2
    rm -f "$db.tmp" "$db.tmp-wal" "$db.tmp-shm"
    # into a temporary name, so that an interrupted run is never taken for a finished one
    if ! timeout 1800 "$BUILD/evne-gen" --employees "$n" --db "$db.tmp"; then
      fail "$n: evne-gen failed"
      continue
    fi
    mv "$db.tmp" "$db"
  fi
  echo "bench: evne-bench --db $db" >&2
  timeout 3600 "$BUILD/evne-bench" --db "$db" >"$OUT/bench-$n.txt"
  rc=$?
  cat "$OUT/bench-$n.txt"
  cat "$OUT/bench-$n.txt" >>"$SUMMARY"
  if [ $rc -ne 0 ]; then
    fail "$n: evne-bench exited $rc (1 = MISMATCH between the index and SQL)"
  fi
  http_bench "$n" "$db"
done

echo
echo "bench: summary of this run in $SUMMARY"
exit $status
