# Shared helpers for the twc CLI tests (bats). Load with `load helpers`.
#
# Servers always listen on port 0; tests read the real port from the server's
# `listening` events (shared/CLI.md "JSON log lines"). Every wait is bounded,
# and teardown kills, by pid, every process start_server started.
#
#   start_server NAME ARGS...   run `twc ARGS --log-format=json` in the background,
#                               logging to $BATS_TEST_TMPDIR/NAME.log; wait for `ready`
#   server_port NAME PROTO      the port of NAME's first PROTO (tcp/udp) listener
#   stop_server NAME            SIGTERM, wait (bounded) and set $status to its exit code
#   wait_for_event LOG EVENT    wait until LOG has an EVENT line (bounded)

TWC_SRCDIR=${TWC_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
TWC=${TWC:-$TWC_SRCDIR/build/release/twc}
export TWC TWC_SRCDIR

# Seconds any single wait may take before the test fails.
WAIT_LIMIT=${WAIT_LIMIT:-10}

# Names of started servers, for teardown.
TWC_SERVERS=()

require() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
    done
}

# wait_for_event LOG EVENT [SECONDS]: 0 once LOG holds a JSON line with that event.
wait_for_event() {
    local log=$1 event=$2 limit=${3:-$WAIT_LIMIT} i
    for ((i = 0; i < limit * 20; i++)); do
        if [ -s "$log" ] && jq -s -e --arg e "$event" 'any(.[]; .event == $e)' "$log" >/dev/null 2>&1
        then
            return 0
        fi
        sleep 0.05
    done
    echo "no '$event' event in $log after ${limit}s; log:" >&2
    cat "$log" >&2 2>/dev/null
    return 1
}

start_server() {
    local name=$1
    shift
    local log="$BATS_TEST_TMPDIR/$name.log"
    : >"$log"
    "$TWC" "$@" --log-format=json </dev/null >/dev/null 2>"$log" 3>&- &
    local pid=$!
    echo "$pid" >"$BATS_TEST_TMPDIR/$name.pid"
    TWC_SERVERS+=("$name")
    local i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        if jq -s -e 'any(.[]; .event == "ready")' "$log" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "server $name exited before ready; log:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "server $name not ready after ${WAIT_LIMIT}s; log:" >&2
    cat "$log" >&2
    return 1
}

server_pid() {
    cat "$BATS_TEST_TMPDIR/$1.pid"
}

server_log() {
    echo "$BATS_TEST_TMPDIR/$1.log"
}

server_port() {
    jq -r --arg p "$2" 'select(.event == "listening" and .proto == $p) | .port' \
        "$BATS_TEST_TMPDIR/$1.log" | head -n 1
}

# wait_pid PID [SECONDS]: wait for PID (a child of this shell) to exit; $? is its
# status, or 124 if it did not exit in time (it is then killed).
wait_pid() {
    local pid=$1 limit=${2:-$WAIT_LIMIT} i
    for ((i = 0; i < limit * 20; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            return $?
        fi
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

stop_server() {
    local pid
    pid=$(server_pid "$1")
    kill -TERM "$pid" 2>/dev/null
    wait_pid "$pid"
    # shellcheck disable=SC2034 # read by the calling test
    status=$?
    rm -f "$BATS_TEST_TMPDIR/$1.pid"
    return 0
}

teardown() {
    local name pid
    for name in "${TWC_SERVERS[@]}"; do
        [ -f "$BATS_TEST_TMPDIR/$name.pid" ] || continue
        pid=$(cat "$BATS_TEST_TMPDIR/$name.pid")
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$BATS_TEST_TMPDIR/$name.pid"
    done
    TWC_SERVERS=()
    return 0
}
