#!/usr/bin/env bats
# twc client tcp with a terminal on stdin: line editing and history (libedit),
# driven as a person would, through a tmux terminal. The piped (non-terminal)
# path is tests/cli/client.bats.

load helpers

# Keep helpers' teardown (it stops the servers) and add the terminal's.
eval "helpers_$(declare -f teardown)"

setup() {
    require jq tmux python3 ps
    SOCK=$BATS_TEST_TMPDIR/tmux.sock
}

teardown() {
    local pid
    pid=$(client_pid 2>/dev/null) && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    tmux -S "$SOCK" kill-server 2>/dev/null
    if [ -f "$BATS_TEST_TMPDIR/peer.pid" ]; then
        pid=$(cat "$BATS_TEST_TMPDIR/peer.pid")
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    helpers_teardown
}

# tty_start ARGS...: run `twc ARGS` on a new 80x24 terminal. Around it, a shell
# records `stty -g` before and after, and the exit status in $d/rc. Returns once
# the client has the terminal in raw mode (connected, editing).
tty_start() {
    local d=$BATS_TEST_TMPDIR i tty
    cat >"$d/run.sh" <<EOF
#!/bin/bash
stty -g >"$d/stty.before"
"$TWC" "\$@"
rc=\$?
stty -g >"$d/stty.after"
echo \$rc >"$d/rc"
exec sleep 60
EOF
    chmod +x "$d/run.sh"
    # No user configuration: tmux's or libedit's (~/.editrc).
    HOME=$d tmux -S "$SOCK" -f /dev/null new-session -d -s t -x 80 -y 24 "$d/run.sh $*"
    tty=$(tmux -S "$SOCK" display-message -p -t t '#{pane_tty}')
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        if stty -F "$tty" -a 2>/dev/null | grep -q -- '-icanon'; then
            return 0
        fi
        sleep 0.05
    done
    echo "the client never took the terminal; screen:" >&2
    screen >&2
    return 1
}

client_pid() {
    local sh
    sh=$(tmux -S "$SOCK" display-message -p -t t '#{pane_pid}' 2>/dev/null) || return 1
    ps -o pid= --ppid "$sh" | grep -v "^ *$" | head -n 1 | tr -d ' '
}

keys() {
    tmux -S "$SOCK" send-keys -t t "$@"
}

screen() {
    tmux -S "$SOCK" capture-pane -p -t t
}

# wait_screen N LINE: wait until the screen has at least N lines equal to LINE.
wait_screen() {
    local n=$1 line=$2 i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        if [ "$(screen | grep -c -x -F -- "$line")" -ge "$n" ]; then
            return 0
        fi
        sleep 0.05
    done
    echo "screen does not show '$line' $n time(s):" >&2
    screen >&2
    return 1
}

# wait_exit: wait for the client to exit; sets $rc.
wait_exit() {
    local i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        if [ -s "$BATS_TEST_TMPDIR/rc" ]; then
            rc=$(cat "$BATS_TEST_TMPDIR/rc")
            return 0
        fi
        sleep 0.05
    done
    echo "client still running; screen:" >&2
    screen >&2
    return 1
}

terminal_restored() {
    [ -s "$BATS_TEST_TMPDIR/stty.after" ]
    [ "$(cat "$BATS_TEST_TMPDIR/stty.before")" = "$(cat "$BATS_TEST_TMPDIR/stty.after")" ]
}

start_echo() {
    start_server echo echo --listen tcp:0:interface=127.0.0.1
    port=$(server_port echo tcp)
}

@test "tty: an entered line goes to the peer; the reply prints below it" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "hello world" Enter
    # Once as typed, once as echoed by the peer.
    wait_screen 2 "hello world"
    keys "again" Enter
    wait_screen 2 "again"
}

@test "tty: Left arrow moves the cursor to fix a typo inside the line" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "helo" Left Left "l" Enter
    wait_screen 2 "hello"
    run screen
    [[ "$output" != *helo$'\n'* ]]
    [[ "$output" != *helol* ]]
}

@test "tty: Up arrow recalls earlier lines (history)" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "first line" Enter
    wait_screen 2 "first line"
    keys "second line" Enter
    wait_screen 2 "second line"
    keys Up Up Enter
    wait_screen 4 "first line"
    keys Up Enter
    wait_screen 4 "first line"
    [ "$(screen | grep -c -x -F "second line")" -eq 2 ]
}

@test "tty: Ctrl-D on an empty line ends stdin: half-close, exit 0, terminal restored" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "bye" Enter
    wait_screen 2 "bye"
    # Ctrl-D inside a line edits (deletes); it is not the end of input.
    keys "xy" Left C-d
    sleep 0.2
    [ ! -s "$BATS_TEST_TMPDIR/rc" ]
    keys C-u C-d
    wait_exit
    [ "$rc" -eq 0 ]
    terminal_restored
    run screen
    [[ "$output" != *"^D"* ]]
}

@test "tty: Ctrl-C exits 130 and restores the terminal" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "unsent"
    sleep 0.2
    keys C-c
    wait_exit
    [ "$rc" -eq 130 ]
    terminal_restored
}

@test "tty: SIGTERM exits 143 and restores the terminal" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "half typed"
    sleep 0.2
    kill -TERM "$(client_pid)"
    wait_exit
    [ "$rc" -eq 143 ]
    terminal_restored
}

@test "tty: the peer closing ends the client with the terminal restored" {
    start_echo
    tty_start client tcp "127.0.0.1:$port"
    keys "typing"
    sleep 0.2
    stop_server echo
    wait_exit
    [ "$rc" -eq 0 ]
    terminal_restored
}

@test "tty: peer output while typing scrolls above the line; a partial line is the prompt" {
    local d=$BATS_TEST_TMPDIR
    # A peer that speaks first when told to (file $d/go), then answers lines.
    python3 -c "
import os, socket, time
l = socket.socket()
l.bind(('127.0.0.1', 0))
l.listen(1)
l.settimeout(15)
open('$d/peer.port.tmp', 'w').write(str(l.getsockname()[1]))
os.rename('$d/peer.port.tmp', '$d/peer.port')
c, _ = l.accept()
for _ in range(300):
    if os.path.exists('$d/go'):
        break
    time.sleep(0.05)
c.sendall(b'from the peer\nPassword: ')
c.settimeout(15)
f = c.makefile('rb')
for line in f:
    c.sendall(b'got ' + line)
" </dev/null >"$d/peer.out" 2>&1 3>&- &
    echo $! >"$d/peer.pid"
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        [ -f "$d/peer.port" ] && break
        sleep 0.05
    done
    tty_start client tcp "127.0.0.1:$(cat "$d/peer.port")"
    keys "abc"
    wait_screen 1 "abc"
    touch "$d/go"
    # The peer's line lands above; the typed text moves after its prompt.
    wait_screen 1 "Password: abc"
    run screen
    [ "${lines[0]}" = "from the peer" ]
    [ "${lines[1]}" = "Password: abc" ]
    keys "d" Enter
    wait_screen 1 "got abcd"
    wait_screen 1 "Password: abcd"
}
