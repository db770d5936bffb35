# Helpers for the interop tests: twc servers against real third-party clients.
#
# Servers listen on port 0 and log JSON (shared/CLI.md); the helpers read the
# real ports from the `listening` events with jq. Every wait is bounded, and
# teardown stops the server it started, by pid, and checks that it stopped
# cleanly (SIGTERM: exit status 0 and a `stopped` event), which also catches
# leaks when twc is built with ASan/LSan.
#
# Environment: TWC is the twc binary (tests/run.sh exports an absolute path).

TWC=${TWC:-$BATS_TEST_DIRNAME/../../build/release/twc}

# How long to wait for a server to be ready, and to stop, in tenths of a second.
READY_TENTHS=${READY_TENTHS:-100}
STOP_TENTHS=${STOP_TENTHS:-100}

SERVER_PID=
SERVER_LOG=

# Make a short private folder (UNIX socket paths must fit in 108 bytes).
interop_setup() {
    WORK=$(mktemp -d /tmp/twc-interop.XXXXXX)
    SERVER_PID=
    SERVER_LOG="$WORK/server.log"
}

# Stop the server, then remove the folder. On a failed test, show the server's log.
interop_teardown() {
    local rc=0
    if [ -n "$SERVER_PID" ]; then
        stop_server || rc=$?
    fi
    if [ "${BATS_TEST_COMPLETED:-}" != 1 ] && [ -s "$SERVER_LOG" ]; then
        echo "--- server log ($SERVER_LOG) ---" >&2
        tail -n 50 "$SERVER_LOG" >&2
    fi
    [ -z "${WORK:-}" ] || rm -rf "$WORK"
    return "$rc"
}

# need COMMAND...: skip the test when a tool is missing (install-deps.sh installs
# every one, so on CI nothing skips).
need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            skip "$c is not installed (run packaging/install-deps.sh)"
    done
}

# The Python that has Debian's python3-twisted: /usr/bin/python3 first, since a
# pyenv or virtualenv python3 earlier in PATH does not see Debian's modules.
# Sets PYTHON; skips when no python3 can import every module named.
need_python() {
    local py m ok
    for py in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
        if [ -z "$py" ] || [ ! -x "$py" ]; then
            continue
        fi
        ok=1
        for m in "$@"; do
            "$py" -c "import $m" 2>/dev/null || {
                ok=0
                break
            }
        done
        if [ "$ok" = 1 ]; then
            PYTHON=$py
            return 0
        fi
    done
    skip "no python3 with module(s) $* (run packaging/install-deps.sh)"
}

# start_server ARGS...: run `twc --log-format=json ARGS...` in the background and
# wait until it logs `ready`. Fails (with the log) if it exits or is not ready in time.
start_server() {
    [ -x "$TWC" ] || {
        echo "twc binary not found: $TWC (run make)" >&2
        return 1
    }
    "$TWC" --log-format=json "$@" </dev/null >"$WORK/server.out" 2>"$SERVER_LOG" &
    SERVER_PID=$!
    wait_event ready
}

# wait_event EVENT: wait (bounded) until the server's log holds an EVENT event.
wait_event() {
    local ev=$1 i
    for ((i = 0; i < READY_TENTHS; i++)); do
        if [ -n "$(events "$ev")" ]; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            local st=0
            wait "$SERVER_PID" || st=$?
            SERVER_PID=
            echo "server exited with status $st before logging $ev" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "server did not log $ev within $((READY_TENTHS / 10))s" >&2
    return 1
}

# events EVENT: the server's JSON log lines whose "event" is EVENT, compact, one
# per line. Lines that are not JSON are ignored here (they fail other checks).
events() {
    jq -R -c --arg ev "$1" 'fromjson? | select(type == "object" and .event == $ev)' \
        "$SERVER_LOG" 2>/dev/null
}

# port_of PROTO [N]: the port of the Nth (default 1st) `listening` event for PROTO
# (tcp, udp). Fails when there is none.
port_of() {
    local proto=$1 n=${2:-1} port
    port=$(events listening | jq -r --arg p "$proto" 'select(.proto == $p) | .port' |
        sed -n "${n}p")
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -eq 0 ]; then
        echo "no listening event with a port for $proto (#$n)" >&2
        return 1
    fi
    echo "$port"
}

# stop_server: SIGTERM, then wait (bounded) for exit status 0 and a `stopped` event.
stop_server() {
    local pid=$SERVER_PID i st=0
    SERVER_PID=
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TENTHS; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "server (pid $pid) ignored SIGTERM for $((STOP_TENTHS / 10))s; killed" >&2
        return 1
    fi
    wait "$pid" || st=$?
    if [ "$st" -ne 0 ]; then
        echo "server exited with status $st after SIGTERM (expected 0)" >&2
        return 1
    fi
    if [ -z "$(events stopped)" ]; then
        echo "server exited without logging a stopped event" >&2
        return 1
    fi
}

# random_file PATH BYTES: BYTES random bytes in PATH.
random_file() {
    head -c "$2" /dev/urandom >"$1"
}

# same_file A B: compare two files, with a readable message when they differ.
same_file() {
    if ! cmp -s "$1" "$2"; then
        echo "$1 ($(wc -c <"$1") bytes) and $2 ($(wc -c <"$2") bytes) differ:" >&2
        cmp "$1" "$2" >&2 || true
        return 1
    fi
}
