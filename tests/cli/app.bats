#!/usr/bin/env bats
# The application layer (cmd/server.c, daemon.c, workers.c, completion.c):
# global process options (--daemon, --pidfile, --uid/--gid, --chroot, --umask,
# --rundir, --workers), signals, NOTIFY_SOCKET, exit codes, and that the
# completions and man pages follow the option tables.

load helpers

setup() {
    require jq
    # Every test's own processes, killed in teardown (daemons are not our children).
    PIDS_TO_KILL=()
}

app_teardown_extra() {
    local p
    for p in "${PIDS_TO_KILL[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    for p in "${PIDS_TO_KILL[@]}"; do
        wait "$p" 2>/dev/null
    done
    return 0
}

teardown() {
    app_teardown_extra
    local name pid
    for name in "${TWC_SERVERS[@]}"; do
        [ -f "$BATS_TEST_TMPDIR/$name.pid" ] || continue
        pid=$(cat "$BATS_TEST_TMPDIR/$name.pid")
        # A supervisor's workers go with it.
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$BATS_TEST_TMPDIR/$name.pid"
    done
    TWC_SERVERS=()
    return 0
}

# wait_gone PID: 0 once PID (not necessarily our child) no longer exists.
wait_gone() {
    local i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

# wait_file PATH: 0 once PATH exists and is not empty.
wait_file() {
    local i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# echo_ok PORT: a TCP round trip through twc echo on 127.0.0.1:PORT.
echo_ok() {
    [ "$(echo "ping $1" | timeout 5 "$TWC" client tcp "127.0.0.1:$1")" = "ping $1" ]
}

# ---- completions and man pages follow the tables ---------------------------------

@test "completions: the committed files are what the option tables generate" {
    local shell file
    for pair in bash:twc.bash zsh:_twc fish:twc.fish; do
        shell=${pair%%:*} file=${pair#*:}
        run "$TWC" --gen-completion "$shell"
        [ "$status" -eq 0 ]
        diff -u "$TWC_SRCDIR/completions/$file" <(printf '%s\n' "$output") ||
            { echo "completions/$file is stale: run sh completions/update.sh build/DIR/twc"; false; }
    done
    bash -n "$TWC_SRCDIR/completions/twc.bash"
    run "$TWC" --gen-completion tcsh
    [ "$status" -eq 64 ]
}

@test "bash completion: option values follow their kind, after the command too" {
    run bash -c "
        twc() { :; }
        source '$TWC_SRCDIR/completions/twc.bash'
        COMP_WORDS=(twc echo --workers 2 --li); COMP_CWORD=4; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc ser); COMP_CWORD=1; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc serve --eph); COMP_CWORD=2; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc echo --listen ''); COMP_CWORD=3; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc --log-level=w); COMP_CWORD=1; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc-echo --da); COMP_CWORD=1; _twc; echo \"\${COMPREPLY[*]}\"
    "
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "--listen" ]
    [ "${lines[1]}" = "serve" ]
    [ "${lines[2]}" = "--ephemeral" ]
    [ "${lines[3]}" = "tcp: udp: ssl: unix: systemd:" ]
    [ "${lines[4]}" = "--log-level=warn" ]
    [ "${lines[5]}" = "--daemon" ]
}

# The long options listed in section SECTION of man page PAGE (one per .TP).
man_options() {
    sed 's/\\//g' "$1" | awk -v sec="$2" '
        /^\.SH / { cur = $0; sub(/^\.SH "?/, "", cur); sub(/"$/, "", cur); tp = 0; next }
        cur != sec { next }
        /^\.TP/ { tp = 1; next }
        tp { if (match($0, /--[a-z0-9-]+/)) print substr($0, RSTART + 2, RLENGTH - 2); tp = 0 }
    ' | sort -u
}

# The visible long options of a table (jq path into --dump-options), plus help.
table_options() {
    { jq -r "$1 | .options[] | select(.hidden | not) | .long" <<<"$DUMP"; echo help; } | sort -u
}

@test "man pages: each OPTIONS section lists exactly its table's options" {
    DUMP=$("$TWC" --dump-options)
    diff -u <(table_options .twc) <(man_options "$TWC_SRCDIR/man/twc.1" OPTIONS)
    diff -u <(jq -r '.global.options[] | select(.hidden | not) | .long' <<<"$DUMP" | sort -u) \
        <(man_options "$TWC_SRCDIR/man/twc.1" "GLOBAL OPTIONS")
    local cmd checked=0
    for cmd in $(jq -r '.commands[] | select(.subcommands == []) | .name' <<<"$DUMP"); do
        [ -f "$TWC_SRCDIR/man/twc-$cmd.1" ] || continue
        echo "checking man/twc-$cmd.1"
        diff -u <(table_options ".commands[] | select(.name == \"$cmd\")") \
            <(man_options "$TWC_SRCDIR/man/twc-$cmd.1" OPTIONS)
        checked=$((checked + 1))
    done
    [ "$checked" -ge 2 ] # echo and serve at least
}

# ---- --daemon and --pidfile -------------------------------------------------------

@test "--daemon --pidfile: parent exits 0 when ready, SIGTERM stops it and removes the pid file" {
    local pidf="$BATS_TEST_TMPDIR/echo.pid" log="$BATS_TEST_TMPDIR/daemon.log"
    # Output to a file, not a pipe: a daemon that kept the pipe open would hang `run`.
    local st=0
    timeout 20 "$TWC" --daemon echo --listen tcp:0:interface=127.0.0.1 --pidfile "$pidf" \
        --log-file "$log" --log-format=json >"$BATS_TEST_TMPDIR/out" 2>&1 || st=$?
    [ "$st" -eq 0 ]
    [ ! -s "$BATS_TEST_TMPDIR/out" ]
    [ -s "$pidf" ]
    local pid
    pid=$(cat "$pidf")
    PIDS_TO_KILL+=("$pid")
    kill -0 "$pid"
    # A daemon: its own session, no terminal, stdio on /dev/null.
    [ "$(ps -o sid= -p "$pid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
    [ "$(ps -o tty= -p "$pid" | tr -d ' ')" = "?" ]
    [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != "$$" ]
    [ "$(readlink /proc/"$pid"/fd/0)" = /dev/null ]
    [ "$(readlink /proc/"$pid"/fd/2)" = /dev/null ]
    # Every line of the log is JSON; listening and ready are there.
    jq -e -s 'map(.event) | index("listening") < index("ready")' "$log"
    echo_ok "$(jq -r 'select(.event == "listening") | .port' "$log")"
    kill -TERM "$pid"
    wait_gone "$pid"
    [ ! -e "$pidf" ]
    jq -e -s '.[-1].event == "stopped"' "$log"
}

@test "--daemon --workers=2: the supervisor detaches, owns the pid file, stops its workers" {
    local pidf="$BATS_TEST_TMPDIR/sup.pid" log="$BATS_TEST_TMPDIR/sup.log"
    local st=0
    timeout 20 "$TWC" --daemon --workers=2 --reactor=poll --pidfile "$pidf" \
        --log-file "$log" echo --listen tcp:0:interface=127.0.0.1 >"$BATS_TEST_TMPDIR/out" 2>&1 ||
        st=$?
    [ "$st" -eq 0 ]
    local pid workers
    pid=$(cat "$pidf")
    PIDS_TO_KILL+=("$pid")
    workers=$(pgrep -P "$pid")
    [ "$(wc -l <<<"$workers")" -eq 2 ]
    PIDS_TO_KILL+=($workers)
    echo_ok "$(jq -r 'select(.event == "listening") | .port' "$log")"
    kill -TERM "$pid"
    wait_gone "$pid"
    for p in $workers; do wait_gone "$p"; done
    [ ! -e "$pidf" ]
    jq -e -s '.[-1].event == "stopped"' "$log"
}

@test "--daemon: a startup error after detaching reaches the parent with its exit code" {
    require setpriv
    # Unprivileged, --uid=0 fails after binding and detaching: exit 77, one line.
    local st=0 output
    timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$TWC" echo --listen tcp:0:interface=127.0.0.1 --daemon --uid=0 --log-format=json \
        >"$BATS_TEST_TMPDIR/out" 2>&1 || st=$?
    output=$(cat "$BATS_TEST_TMPDIR/out")
    echo "$output"
    [ "$st" -eq 77 ]
    [[ "$output" == *"twc echo: --gid: cannot"* || "$output" == *"twc echo: --uid: cannot"* ]]
    # The listening line was logged before detaching; ready never was.
    [[ "$output" == *'"event":"listening"'* ]]
    [[ "$output" != *'"event":"ready"'* ]]
}

@test "--pidfile: a live process refuses with 75, a stale file is replaced" {
    local pidf="$BATS_TEST_TMPDIR/p.pid"
    start_server a echo --listen tcp:0:interface=127.0.0.1 --pidfile "$pidf"
    [ "$(cat "$pidf")" = "$(server_pid a)" ]
    run "$TWC" echo --listen tcp:0:interface=127.0.0.1 --pidfile "$pidf"
    [ "$status" -eq 75 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "twc echo: --pidfile $pidf: process $(server_pid a) is running" ]]
    stop_server a
    [ "$status" -eq 0 ]
    [ ! -e "$pidf" ]
    # Not locked but naming a live process (ours): refused too.
    echo $$ >"$pidf"
    run "$TWC" echo --listen tcp:0:interface=127.0.0.1 --pidfile "$pidf"
    [ "$status" -eq 75 ]
    # A dead pid: replaced, then removed at exit.
    sleep 0 & local dead=$!
    wait $dead
    echo "$dead" >"$pidf"
    start_server b echo --listen tcp:0:interface=127.0.0.1 --pidfile "$pidf"
    [ "$(cat "$pidf")" = "$(server_pid b)" ]
    stop_server b
    [ "$status" -eq 0 ]
    [ ! -e "$pidf" ]
    run "$TWC" echo --pidfile "$BATS_TEST_TMPDIR/missing/x.pid"
    [ "$status" -eq 66 ]
}

# ---- privileges, chroot, umask, rundir ----------------------------------------------

@test "--uid/--gid switch user after binding a privileged port" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1] % 900 + 100)')
    start_server u echo --listen "tcp:$port:interface=127.0.0.1" --uid=65534 --gid=65534 ||
        skip "port $port busy"
    local pid
    pid=$(server_pid u)
    [ "$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/"$pid"/status)" = "65534 65534 65534 65534" ]
    [ "$(awk '/^Gid:/ {print $2, $3, $4, $5}' /proc/"$pid"/status)" = "65534 65534 65534 65534" ]
    [ "$(awk '/^Groups:/ {print $2}' /proc/"$pid"/status)" = "" ] ||
        [ "$(awk '/^Groups:/ {print $2}' /proc/"$pid"/status)" = 65534 ]
    echo_ok "$port"
    stop_server u
    [ "$status" -eq 0 ]
    # By name.
    start_server n echo --listen tcp:0:interface=127.0.0.1 --uid=nobody
    [ "$(awk '/^Uid:/ {print $2}' /proc/"$(server_pid n)"/status)" = "$(id -u nobody)" ]
    stop_server n
    run "$TWC" echo --uid=no-such-user-here
    [ "$status" -eq 64 ]
    [[ "$output" == "twc echo: --uid: unknown user 'no-such-user-here'" ]]
    run "$TWC" echo --gid=no-such-group-here
    [ "$status" -eq 64 ]
}

@test "exit 77: unprivileged, a port below 1024 or --uid=0" {
    require setpriv
    run setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$TWC" echo --listen tcp:80:interface=127.0.0.1
    [ "$status" -eq 77 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "twc echo: "* ]]
    run setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$TWC" echo --listen tcp:0:interface=127.0.0.1 --uid=0 --log-level=error
    [ "$status" -eq 77 ]
    run setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$TWC" serve -c /root/no-such-config.json
    [ "$status" -eq 66 ]
}

@test "--chroot changes the root after binding" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    local root="$BATS_TEST_TMPDIR/jail"
    mkdir -p "$root"
    # LeakSanitizer needs /proc at exit, which the jail lacks (sanitizer builds).
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        start_server c echo --listen tcp:0:interface=127.0.0.1 --chroot "$root"
    [ "$(readlink /proc/"$(server_pid c)"/root)" = "$root" ]
    echo_ok "$(server_port c tcp)"
    stop_server c
    [ "$status" -eq 0 ]
    run "$TWC" echo --chroot "$BATS_TEST_TMPDIR/nope"
    [ "$status" -eq 66 ]
}

@test "--umask and --rundir: where and with which mode files are made" {
    local run="$BATS_TEST_TMPDIR/run"
    mkdir -p "$run"
    start_server m echo --rundir "$run" --umask 077 --listen unix:rel.sock
    [ -S "$run/rel.sock" ]
    [ "$(stat -c %a "$run/rel.sock")" = 600 ]
    [ "$(readlink /proc/"$(server_pid m)"/cwd)" = "$run" ]
    stop_server m
    start_server m2 echo --rundir "$run" --umask=022 --listen unix:rel2.sock
    [ "$(stat -c %a "$run/rel2.sock")" = 644 ]
    stop_server m2
    run "$TWC" echo --rundir "$BATS_TEST_TMPDIR/missing"
    [ "$status" -eq 66 ]
    run "$TWC" echo --umask 8
    [ "$status" -eq 64 ]
    [[ "$output" == *"--umask"* ]]
}

# ---- signals ---------------------------------------------------------------------

@test "SIGTERM: idle connections close at once; a stuck one is aborted after the grace" {
    require python3
    TWC_SHUTDOWN_GRACE_MS=700 start_server g echo --listen tcp:0:interface=127.0.0.1
    local port
    port=$(server_port g tcp)
    # One client writes a lot and never reads: its echoes cannot drain.
    python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(0.2)
chunk = b'x' * 65536
end = time.time() + 15
while time.time() < end:
    try:
        s.send(chunk)
    except socket.timeout:
        pass
    except OSError:
        break
" 3>&- &
    PIDS_TO_KILL+=($!)
    sleep 0.5
    local t0=$SECONDS
    stop_server g
    [ "$status" -eq 0 ]
    [ $((SECONDS - t0)) -le 5 ]
    jq -e -s 'any(.[]; .msg | test("aborting 1 connections"))' "$(server_log g)"
    jq -e -s '.[-1].event == "stopped"' "$(server_log g)"
}

@test "NOTIFY_SOCKET receives READY=1 and STOPPING=1" {
    require python3
    local sock="$BATS_TEST_TMPDIR/notify.sock"
    python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('$sock')
s.settimeout(15)
print('bound', flush=True)
for _ in range(2):
    print(s.recv(256).decode(), flush=True)
" >"$BATS_TEST_TMPDIR/notify.out" 3>&- &
    local py=$!
    PIDS_TO_KILL+=($py)
    wait_file "$BATS_TEST_TMPDIR/notify.out"
    NOTIFY_SOCKET=$sock start_server s echo --listen tcp:0:interface=127.0.0.1
    stop_server s
    [ "$status" -eq 0 ]
    wait_pid $py
    [ "$(sed -n 2,3p "$BATS_TEST_TMPDIR/notify.out")" = "$(printf 'READY=1\nSTOPPING=1')" ]
}

@test "SIGHUP reopens the log after rotation (JSON lines)" {
    local log="$BATS_TEST_TMPDIR/hup.log"
    "$TWC" echo --listen tcp:0:interface=127.0.0.1 --log-file "$log" --log-level=debug 3>&- &
    local pid=$!
    PIDS_TO_KILL+=($pid)
    wait_for_event "$log" ready
    mv "$log" "$log.1"
    kill -HUP $pid
    wait_file "$log"
    kill -TERM $pid
    wait_pid $pid
    jq -e -s 'map(.event) | index("listening") != null' "$log.1"
    jq -e -s 'any(.[]; .msg == "log reopened") and .[-1].event == "stopped"' "$log"
    ! jq -e -s 'any(.[]; .event == "stopped")' "$log.1"
}

# ---- workers ----------------------------------------------------------------------

# worker_pids NAME: the supervisor's children, one per line.
worker_pids() {
    pgrep -P "$(server_pid "$1")" | sort
}

@test "--workers=2: connections spread over two pids; a killed worker is restarted" {
    require ss python3
    start_server w --workers=2 echo --listen tcp:0:interface=127.0.0.1
    local log port
    log=$(server_log w)
    port=$(server_port w tcp)
    # Only the supervisor logs listening and ready, once.
    [ "$(jq -s '[.[] | select(.event == "listening")] | length' "$log")" -eq 1 ]
    [ "$(jq -s '[.[] | select(.event == "ready")] | length' "$log")" -eq 1 ]
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(worker_pids w | wc -l)" -eq 2 ] && break
        sleep 0.05
    done
    [ "$(worker_pids w | wc -l)" -eq 2 ]
    # 40 connections held open at once; which process owns each server side?
    python3 -c "
import socket, time
socks = [socket.create_connection(('127.0.0.1', $port), timeout=5) for _ in range(40)]
for s in socks:
    s.sendall(b'x'); assert s.recv(1) == b'x'
print('up', flush=True)
time.sleep(3)
" >"$BATS_TEST_TMPDIR/conns.out" 3>&- &
    PIDS_TO_KILL+=($!)
    for ((i = 0; i < 200; i++)); do
        grep -q up "$BATS_TEST_TMPDIR/conns.out" && break
        sleep 0.05
    done
    local owners
    owners=$(ss -tnpH state established "( sport = :$port )" | grep -o 'pid=[0-9]*' | sort -u)
    echo "owners: $owners; workers: $(worker_pids w | tr '\n' ' ')"
    [ "$(wc -l <<<"$owners")" -eq 2 ]
    for p in $(worker_pids w); do
        grep -qx "pid=$p" <<<"$owners"
    done
    # kill -9 one worker: the supervisor starts another, service goes on.
    local victim
    victim=$(worker_pids w | head -n 1)
    kill -KILL "$victim"
    for ((i = 0; i < 200; i++)); do
        [ "$(worker_pids w | wc -l)" -eq 2 ] && ! worker_pids w | grep -qx "$victim" && break
        sleep 0.05
    done
    [ "$(worker_pids w | wc -l)" -eq 2 ]
    ! worker_pids w | grep -qx "$victim"
    jq -e -s 'any(.[]; .msg | test("worker [01] killed by signal 9"))' "$log"
    for ((i = 0; i < 10; i++)); do echo_ok "$port"; done
    # SIGTERM: forwarded; everything exits 0, the supervisor logs stopped.
    local workers
    workers=$(worker_pids w)
    stop_server w
    [ "$status" -eq 0 ]
    for p in $workers; do wait_gone "$p"; done
    jq -e -s '.[-1].event == "stopped"' "$log"
}

@test "--workers with UDP and one port for both (-p 0), SIGHUP forwarded" {
    local log="$BATS_TEST_TMPDIR/wlog"
    "$TWC" --workers=2 echo -p 0 --log-file "$log" --log-level=debug 3>&- &
    local pid=$!
    PIDS_TO_KILL+=($pid)
    wait_for_event "$log" ready
    local port
    port=$(jq -r 'select(.event == "listening" and .proto == "udp") | .port' "$log")
    [ "$(jq -r 'select(.event == "listening" and .proto == "tcp") | .port' "$log")" = "$port" ]
    run bash -c "echo dgram | timeout 5 '$TWC' client udp 127.0.0.1:$port -q 1"
    [ "$output" = dgram ]
    echo_ok "$port"
    mv "$log" "$log.1"
    kill -HUP $pid
    # Supervisor and both workers reopen: three lines in the new file.
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(jq -s '[.[] | select(.msg == "log reopened")] | length' "$log" 2>/dev/null)" = 3 ] &&
            break
        sleep 0.05
    done
    [ "$(jq -s '[.[] | select(.msg == "log reopened")] | length' "$log")" = 3 ]
    kill -TERM $pid
    wait_pid $pid
    [ $? -eq 0 ]
    run "$TWC" --workers=2 echo --listen unix:"$BATS_TEST_TMPDIR/x.sock"
    [ "$status" -eq 64 ]
    run "$TWC" --workers=0 echo
    [ "$status" -eq 64 ]
}

@test "--workers: a worker that cannot start gives one error line and its exit code" {
    require setpriv
    run timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$TWC" --workers=3 echo --listen tcp:0:interface=127.0.0.1 --uid=0 --log-format=json
    echo "$output"
    [ "$status" -eq 77 ]
    [ "$(grep -c '^twc echo: ' <<<"$output")" -eq 1 ]
    [[ "$output" != *'"event":"ready"'* ]]
}

# ---- exit codes -------------------------------------------------------------------

@test "exit codes: one line on stderr for 64, 65, 66, 69, 78" {
    run "$TWC" echo --workers=x
    [ "$status" -eq 64 ]
    [ "${#lines[@]}" -eq 1 ]
    printf '{"services": [\n  {"command": "echo",]}\n' >"$BATS_TEST_TMPDIR/bad.json"
    run "$TWC" serve -c "$BATS_TEST_TMPDIR/bad.json"
    [ "$status" -eq 65 ]
    [ "$output" = "twc serve: $BATS_TEST_TMPDIR/bad.json:2: malformed JSON" ]
    run "$TWC" serve -c "$BATS_TEST_TMPDIR/none.json"
    [ "$status" -eq 66 ]
    [ "${#lines[@]}" -eq 1 ]
    start_server busy echo --listen tcp:0:interface=127.0.0.1
    run "$TWC" echo --listen "tcp:$(server_port busy tcp):interface=127.0.0.1"
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "twc echo: "* ]]
    run "$TWC" echo --listen tcp:0:interface=192.0.2.1
    [ "$status" -eq 69 ]
    # A file an endpoint names: missing 66, malformed 65.
    run "$TWC" echo --listen "ssl:0:privateKey=$BATS_TEST_TMPDIR/none.pem"
    [ "$status" -eq 66 ]
    [ "${#lines[@]}" -eq 1 ]
    echo "not a key" >"$BATS_TEST_TMPDIR/junk.pem"
    run "$TWC" echo --listen "ssl:0:privateKey=$BATS_TEST_TMPDIR/junk.pem"
    [ "$status" -eq 65 ]
    [ "${#lines[@]}" -eq 1 ]
    echo '{"services":[{"command":"nope"}]}' >"$BATS_TEST_TMPDIR/c.json"
    run "$TWC" serve -c "$BATS_TEST_TMPDIR/c.json"
    [ "$status" -eq 78 ]
    [ "${#lines[@]}" -eq 1 ]
}
