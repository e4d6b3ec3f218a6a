# shellcheck shell=bash
# What the benchmark scripts share: checks of what they need, a copy of a bench database,
# `evne serve` on a port the kernel picks and its stopping however a script ends, logging in,
# a job run by hand, and GET /healthz asked in a loop while something runs.
#
# Sourced by bench/*.sh once they have changed to the root of the tree:
#   cd "$(dirname "$0")/.." || exit 1
#   . bench/lib.sh
# It sets BUILD (from the environment, default build) and OUT ($BUILD/bench), defines functions
# (bench_*) and runs nothing else. The variables it sets for the scripts are in capitals: EVNE_PID,
# PORT, BASE, URL, AUTH, JOB_*.

# They are used by the scripts, not here (SC2034: "appears unused").
# shellcheck disable=SC2034

BUILD=${BUILD:-build}
OUT=$BUILD/bench
BENCH_PIDS=()       # the processes bench_stop_servers stops (bench_serve adds its server)
BENCH_FILES=()      # what bench_cleanup removes on exit (bench_copy_db adds its copy)
BENCH_PING_PID=""   # the loop of bench_ping_start, while it runs
BENCH_LOG=""        # the log of the server bench_serve started last, for messages

# bench_die MESSAGE...: "bench: MESSAGE" on stderr, and exit 1.
bench_die() {
  echo "bench: $*" >&2
  exit 1
}

# bench_need TOOL...: exits unless every TOOL can be run (a name on the PATH or in /usr/sbin, or
# a path).
bench_need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
      bench_die "$tool is missing (scripts/deps.sh bench installs it)"
  done
}

# bench_need_built BINARY...: exits unless every $BUILD/BINARY is built.
bench_need_built() {
  local bin
  for bin in "$@"; do
    [ -x "$BUILD/$bin" ] || bench_die "$BUILD/$bin is missing (make bench builds it)"
  done
}

# bench_need_db FILE: exits unless the generated database FILE is there.
bench_need_db() {
  [ -f "$1" ] || bench_die "$1 is missing (bench/run.sh makes it)"
}

# bench_stop PID...: stops processes: TERM to each, then at most 5 s for each to exit, then KILL
# (a process that ignores TERM never holds the script up for long).
bench_stop() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$p" 2>/dev/null || true
  done
}

# bench_stop_servers: stops every process in BENCH_PIDS (the servers started so far).
bench_stop_servers() {
  [ ${#BENCH_PIDS[@]} -eq 0 ] || bench_stop "${BENCH_PIDS[@]}"
  BENCH_PIDS=()
}

# bench_cleanup: stops the /healthz loop and the servers, and removes BENCH_FILES.
bench_cleanup() {
  bench_ping_stop
  bench_stop_servers
  [ ${#BENCH_FILES[@]} -eq 0 ] || rm -rf "${BENCH_FILES[@]}"
}

# bench_traps: bench_cleanup on exit, whichever way the script exits; INT and TERM exit 1.
bench_traps() {
  trap bench_cleanup EXIT
  trap 'echo "bench: interrupted" >&2; exit 1' INT TERM
}

# bench_copy_db SRC DB: DB becomes a copy of the database SRC (sqlite3 .backup, consistent even
# while another reads SRC), so that what a benchmark writes never reaches the database the others
# use; bench_cleanup removes it.
bench_copy_db() {
  local src=$1 db=$2
  rm -f "$db" "$db-wal" "$db-shm"
  BENCH_FILES+=("$db" "$db-wal" "$db-shm")
  sqlite3 "$src" ".backup '$db'" || bench_die "cannot copy $src"
}

# bench_prepare SRC DB: the start of a benchmark on a copy of a generated database: exits unless
# curl, sqlite3, $BUILD/evne and SRC are there; sets the traps (bench_traps); makes DB a copy of
# SRC (bench_copy_db).
bench_prepare() {
  bench_need curl sqlite3
  bench_need_built evne
  bench_need_db "$1"
  bench_traps
  bench_copy_db "$1" "$2"
}

# bench_schedule_off FILE: writes to FILE (for `evne serve --schedule`) the default schedule with
# every job off, so that the only runs are the ones a benchmark asks for: a copy of a database
# that a server without --clock has served holds due times that a later --clock may have passed,
# and the catch-up runs would take the job (409) and the loop. bench_cleanup removes FILE.
bench_schedule_off() {
  BENCH_FILES+=("$1")
  printf 'reminders off\nreports off\nsnapshot off\nbackup off\nquiet 21:00-07:00\n' >"$1"
}

# bench_serve LOG ARG...: starts `$BUILD/evne serve --host 127.0.0.1 --port 0 ARG...` (with
# --rules rules when the tree has them) in the background, its output in LOG, and waits until
# LOG names the port the kernel picked. Sets EVNE_PID (added to BENCH_PIDS), PORT, BASE
# (http://127.0.0.1:PORT), URL ($BASE/api/v1) and BENCH_LOG. Returns 1 when the server named no
# port within 120 s or died first.
bench_serve() {
  local log=$1 rules_arg=()
  shift
  [ -d rules ] && rules_arg=(--rules rules)
  BENCH_LOG=$log
  "$BUILD/evne" serve --host 127.0.0.1 --port 0 "$@" "${rules_arg[@]}" >"$log" 2>&1 &
  EVNE_PID=$!
  BENCH_PIDS+=("$EVNE_PID")
  PORT=""
  for _ in $(seq 1 600); do
    PORT=$(sed -n 's|.*on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 "$EVNE_PID" 2>/dev/null || break
    sleep 0.2
  done
  [ -n "$PORT" ] || return 1
  BASE=http://127.0.0.1:$PORT
  URL=$BASE/api/v1
}

# bench_serve_or_die LOG ARG...: bench_serve, exiting with a word when the server did not start.
bench_serve_or_die() {
  bench_serve "$@" || bench_die "evne serve named no port (see $1)"
}

# bench_wait_http URL PID SECONDS: waits until URL answers 200; returns 1 when the process PID
# dies or SECONDS pass first.
bench_wait_http() {
  local url=$1 pid=$2 limit=$3 i=0
  while [ $i -lt $((limit * 5)) ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] && return 0
    sleep 0.2
    i=$((i + 1))
  done
  return 1
}

# bench_login LOGIN PASSWORD: logs in at $URL/session and prints the API token; returns 1,
# printing nothing, when none came.
bench_login() {
  local token
  token=$(curl -s -m 30 -X POST -H 'Content-Type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"$2\"}" "$URL/session" |
    sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || return 1
  printf '%s\n' "$token"
}

# bench_auth LOGIN PASSWORD: logs in and sets AUTH to the header "Authorization: Bearer TOKEN";
# exits when the login fails.
bench_auth() {
  local token
  token=$(bench_login "$1" "$2") || bench_die "login as $1 failed (see $BENCH_LOG)"
  AUTH="Authorization: Bearer $token"
}

# bench_course DB SYSTEM LEVEL TITLE: creates through the API a course over every active
# requirement of SYSTEM (read from the database DB), each with the target LEVEL; prints its id,
# nothing when it was refused.
bench_course() {
  local db=$1 system=$2 level=$3 title=$4 reqs
  reqs=$(sqlite3 -readonly "$db" "SELECT group_concat('{\"requirement_id\":' || id ||
    ',\"target_level\":$level}', ',') FROM requirement WHERE system_id = $system AND archived = 0")
  curl -s -m 30 -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"title\":\"$title\",\"system_id\":$system,\"requirements\":[$reqs]}" \
    "$URL/courses" | sed -n 's/^{"id":\([0-9]*\),.*/\1/p'
}

# bench_session COURSE STARTS ENDS CAPACITY: creates a session of COURSE (times in ISO UTC);
# prints its id, nothing when it was refused.
bench_session() {
  curl -s -m 30 -X POST -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"starts_at\":\"$2\",\"ends_at\":\"$3\",\"capacity\":$4}" \
    "$URL/courses/$1/sessions" | sed -n 's/^{"id":\([0-9]*\),.*/\1/p'
}

# bench_run_job NAME: runs the job NAME by hand (POST $URL/admin/jobs/NAME/run) and asks for the
# run every 0.2 s (for 10 minutes at the most) until it has ended. Sets JOB_RUN (the run as last
# answered), JOB_STATE (ok, failed, ...; running when it never ended), JOB_SUMMARY (the run's
# summary object) and JOB_WALL (seconds from the start to the end seen, one decimal). Exits when
# the run did not start.
bench_run_job() {
  local answer id t0 t1
  t0=$(date +%s.%N)
  answer=$(curl -s -m 30 -X POST -H "$AUTH" "$URL/admin/jobs/$1/run")
  id=$(printf '%s' "$answer" | sed -n 's/.*"id" *: *\([0-9]*\).*/\1/p' | head -n 1)
  [ -n "$id" ] || bench_die "the run of $1 did not start: $answer"
  JOB_RUN=""
  JOB_STATE=running
  for _ in $(seq 1 3000); do
    JOB_RUN=$(curl -s -m 60 -H "$AUTH" "$URL/admin/jobs/runs/$id")
    JOB_STATE=$(printf '%s' "$JOB_RUN" | sed -n 's/.*"state" *: *"\([a-z-]*\)".*/\1/p')
    # no answer in time (the loop busy) counts as still running
    [ -n "$JOB_STATE" ] && [ "$JOB_STATE" != running ] && break
    JOB_STATE=running
    sleep 0.2
  done
  t1=$(date +%s.%N)
  JOB_SUMMARY=$(printf '%s' "$JOB_RUN" | sed -n 's/.*"summary" *: *\({[^}]*}\).*/\1/p')
  JOB_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

# bench_field NAME: the number NAME in JOB_SUMMARY, nothing when it has none.
bench_field() {
  printf '%s' "$JOB_SUMMARY" | sed -n "s/.*\"$1\" *: *\([0-9]*\).*/\1/p"
}

# bench_ping_start FILE: asks GET $BASE/healthz in a loop in the background until
# bench_ping_stop, 10 ms after each answer, and writes a line per answer to FILE: the status and
# curl's time_total in seconds (the connection included): what a request waiting behind the
# loop's work feels.
bench_ping_start() {
  local file=$1
  : >"$file"
  (
    while :; do
      curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' "$BASE/healthz" >>"$file"
      sleep 0.01
    done
  ) &
  BENCH_PING_PID=$!
}

# bench_ping_stop: stops the loop of bench_ping_start, if it runs.
bench_ping_stop() {
  [ -n "$BENCH_PING_PID" ] || return 0
  kill "$BENCH_PING_PID" 2>/dev/null || true
  wait "$BENCH_PING_PID" 2>/dev/null || true
  BENCH_PING_PID=""
}

# bench_ping_figures FILE: the answers of bench_ping_start in FILE, in words: how many (how many
# not 200), their median and the slowest, in milliseconds.
bench_ping_figures() {
  awk '{ print ($1 != 200), $2 * 1000 }' "$1" | sort -k2,2n | awk '
    { bad += $1; ms[NR] = $2 }
    END {
      if (NR) printf "%d answers (%d not 200), median %.2f ms, slowest %.2f ms\n", NR, bad,
        ms[int((NR + 1) / 2)], ms[NR]
      else print "0 answers (0 not 200), median - ms, slowest ? ms"
    }'
}

# bench_median: the median of the numbers on stdin, one a line (the lower of the two middle ones
# of an even count).
bench_median() {
  sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# bench_served_us LOG PATTERN: the server's own time, in microseconds, for the last request in
# its LOG whose line matches PATTERN (grep).
bench_served_us() {
  grep "$2" "$1" | tail -n 1 | sed -n 's/.* \([0-9]*\)us$/\1/p'
}
