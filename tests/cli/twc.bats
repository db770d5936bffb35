#!/usr/bin/env bats
# The twc binary itself: dispatch, help, version, exit codes, --install and
# busybox-style names, global options, and that man pages and completions
# list every option of every table (twc --dump-options).

load helpers

@test "twc --help lists every command of commands.def, one line each" {
    run "$TWC" --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "usage: twc "* ]]
    local names
    names=$(sed -n 's/^TWC_CMD(\([a-z0-9_]*\),.*/\1/p' "$TWC_SRCDIR/cmd/commands.def")
    [ -n "$names" ]
    for n in $names; do
        grep -qE "^  $n +[a-zA-Z]" <<<"$output"
    done
    run "$TWC" -h
    [ "$status" -eq 0 ]
    [[ "$output" == *"commands:"* ]]
}

@test "twc with no command prints usage on stderr and exits 64" {
    run "$TWC"
    [ "$status" -eq 64 ]
    [[ "$output" == *"usage: twc"* ]]
}

@test "twc --version prints twc and library versions" {
    run "$TWC" --version
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^twc\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    [[ "$output" == *"OpenSSL "* ]]
    [[ "$output" =~ c-ares\ [0-9]+\.[0-9]+ ]]
    [[ "$output" =~ cJSON\ [0-9]+\.[0-9]+ ]]
    [[ "$output" =~ libedit\ [0-9]+\.[0-9]+ ]]
    run "$TWC" -V
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == twc\ * ]]
}

@test "twc help COMMAND is twc COMMAND --help" {
    run "$TWC" help echo
    [ "$status" -eq 0 ]
    local via_help=$output
    run "$TWC" echo --help
    [ "$status" -eq 0 ]
    [ "$output" = "$via_help" ]
    [[ "${lines[0]}" == "usage: twc echo "* ]]
    [[ "$output" == *"--listen ENDPOINT"* ]]
    run "$TWC" help client
    [ "$status" -eq 0 ]
    [[ "$output" == *"wait"* ]]
}

@test "unknown command exits 64 with one line on stderr" {
    run "$TWC" frobnicate
    [ "$status" -eq 64 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"unknown command 'frobnicate'"* ]]
    run "$TWC" help frobnicate
    [ "$status" -eq 64 ]
}

@test "bad options and values exit 64 with one line naming the option" {
    run "$TWC" echo --no-such-option
    [ "$status" -eq 64 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "twc echo: unknown option --no-such-option"* ]]
    run "$TWC" echo -p 70000
    [ "$status" -eq 64 ]
    [[ "$output" == *"--port"*"70000"* ]]
    run "$TWC" echo --port
    [ "$status" -eq 64 ]
    [[ "$output" == *"needs a value"* ]]
    run "$TWC" echo --listen bogus:1
    [ "$status" -eq 64 ]
    [[ "$output" == *"bogus"* ]]
    run "$TWC" --log-format=xml echo
    [ "$status" -eq 64 ]
    run "$TWC" echo --log-level=loud
    [ "$status" -eq 64 ]
    run "$TWC" client tcp
    [ "$status" -eq 64 ]
    run "$TWC" client nosuch 1.2.3.4:5
    [ "$status" -eq 64 ]
    run "$TWC" client wait -t abc tcp:127.0.0.1:1
    [ "$status" -eq 64 ]
    run "$TWC" --no-such-global
    [ "$status" -eq 64 ]
}

@test "--install DIR creates twc-COMMAND links that dispatch by argv[0]" {
    local dir="$BATS_TEST_TMPDIR/bin"
    mkdir -p "$dir"
    run "$TWC" --install "$dir"
    [ "$status" -eq 0 ]
    for n in $(sed -n 's/^TWC_CMD(\([a-z0-9_]*\),.*/\1/p' "$TWC_SRCDIR/cmd/commands.def"); do
        [ -L "$dir/twc-$n" ]
        [ "$(readlink -f "$dir/twc-$n")" = "$(readlink -f "$TWC")" ]
    done
    run "$dir/twc-echo" --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "usage: twc echo "* ]]
    # Installing again replaces the links.
    run "$TWC" --install "$dir"
    [ "$status" -eq 0 ]
    # An unknown twc-NAME is an unknown command.
    ln -s "$TWC" "$dir/twc-nosuch"
    run "$dir/twc-nosuch"
    [ "$status" -eq 64 ]
    run "$TWC" --install "$BATS_TEST_TMPDIR/missing"
    [ "$status" -eq 66 ]
}

@test "busybox argv[0] twc-echo runs a server" {
    require jq
    ln -s "$TWC" "$BATS_TEST_TMPDIR/twc-echo"
    TWC="$BATS_TEST_TMPDIR/twc-echo" start_server e --listen tcp:0:interface=127.0.0.1
    port=$(server_port e tcp)
    [ "$port" -gt 0 ]
    stop_server e
    [ "$status" -eq 0 ]
}

@test "global options are accepted before and after the command" {
    require jq
    start_server before --log-level=warn echo --listen tcp:0:interface=127.0.0.1
    start_server after echo --listen tcp:0:interface=127.0.0.1 --log-level warn
    stop_server before
    [ "$status" -eq 0 ]
    stop_server after
    [ "$status" -eq 0 ]
    # --log-level=warn drops the info line about the signal but keeps the lifecycle events.
    for s in before after; do
        run jq -r '.event // .msg' "$(server_log $s)"
        [ "$output" = "$(printf 'listening\nready\nstopped')" ]
    done
}

@test "log format: json when stderr is not a terminal, text on request" {
    require jq
    start_server j echo --listen tcp:0:interface=127.0.0.1
    stop_server j
    run jq -e -s 'all(.[]; (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and .level and .system == "echo" and .msg)' "$(server_log j)"
    [ "$status" -eq 0 ]
    # Without --log-format, stderr a file: JSON.
    "$TWC" echo --listen tcp:0:interface=127.0.0.1 2>"$BATS_TEST_TMPDIR/default.log" &
    local pid=$!
    wait_for_event "$BATS_TEST_TMPDIR/default.log" ready
    kill -TERM $pid
    wait_pid $pid
    jq -s -e 'any(.[]; .event == "stopped")' "$BATS_TEST_TMPDIR/default.log"
    # --log-format=text
    "$TWC" echo --listen tcp:0:interface=127.0.0.1 --log-format=text 2>"$BATS_TEST_TMPDIR/text.log" &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        grep -q 'info: ready$' "$BATS_TEST_TMPDIR/text.log" && break
        sleep 0.05
    done
    kill -TERM $pid
    wait_pid $pid
    run cat "$BATS_TEST_TMPDIR/text.log"
    [[ "${lines[0]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z\ \[echo\]\ info:\ listening\ on\ tcp:[0-9]+:interface=127.0.0.1$ ]]
    [[ "$output" == *"[echo] info: stopped"* ]]
}

@test "--log-file writes there and is reopened on SIGHUP" {
    require jq
    local log="$BATS_TEST_TMPDIR/twc.log"
    "$TWC" echo --listen tcp:0:interface=127.0.0.1 --log-file "$log" --log-level debug \
        2>"$BATS_TEST_TMPDIR/stderr" &
    local pid=$!
    wait_for_event "$log" ready
    mv "$log" "$log.1"
    kill -HUP $pid
    for ((i = 0; i < 200; i++)); do
        [ -s "$log" ] && break
        sleep 0.05
    done
    kill -TERM $pid
    wait_pid $pid
    jq -s -e 'any(.[]; .event == "listening")' "$log.1"
    jq -s -e 'any(.[]; .event == "stopped")' "$log"
    [ ! -s "$BATS_TEST_TMPDIR/stderr" ]
    # A log file that cannot be opened is a startup error.
    run "$TWC" echo --log-file /nonexistent/dir/x.log
    [ "$status" -eq 66 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "twc echo: "* ]]
}

@test "--reactor poll and TWC_REACTOR select the backend" {
    require jq
    start_server p --reactor=poll echo --listen tcp:0:interface=127.0.0.1
    port=$(server_port p tcp)
    run bash -c "echo hi | '$TWC' client tcp 127.0.0.1:$port --reactor poll"
    [ "$status" -eq 0 ]
    [ "$output" = "hi" ]
    stop_server p
    [ "$status" -eq 0 ]
    run "$TWC" --reactor=kqueue echo
    [ "$status" -eq 64 ]
}

# Every long option of every table (twc --dump-options) must be documented in
# the command's man page and offered by the bash, zsh and fish completions.
@test "man pages and completions cover every option table" {
    require jq
    run "$TWC" --dump-options
    [ "$status" -eq 0 ]
    local dump=$output
    local missing=""
    # "command<TAB>subcommand<TAB>long" for every visible option.
    while IFS=$'\t' read -r cmd opt; do
        local page="$TWC_SRCDIR/man/twc-$cmd.1"
        [ "$cmd" = "-" ] && page="$TWC_SRCDIR/man/twc.1"
        # roff writes "--" as "\-\-": compare without the backslashes.
        sed 's/\\//g' "$page" | grep -q -- "--$opt\b" || missing+=" man:$cmd:--$opt"
        for c in completions/twc.bash completions/_twc completions/twc.fish; do
            grep -q -- "$opt" "$TWC_SRCDIR/$c" || missing+=" $c:$cmd:--$opt"
        done
    done < <(jq -r '
        (.twc.options[], .global.options[] | select(.hidden | not) | "-\t\(.long)"),
        (.commands[] | .name as $c | (.options[], .subcommands[].options[])
            | select(.hidden | not) | "\($c)\t\(.long)")' <<<"$dump")
    # Every command and subcommand name appears in every completion.
    while read -r word; do
        for c in completions/twc.bash completions/_twc completions/twc.fish; do
            grep -qw -- "$word" "$TWC_SRCDIR/$c" || missing+=" $c:$word"
        done
        [ -f "$TWC_SRCDIR/man/twc-$word.1" ] || grep -qw "$word" "$TWC_SRCDIR/man/twc.1" ||
            missing+=" man:$word"
    done < <(jq -r '.commands[] | .name, (.subcommands[].name | split(" ") | last)' <<<"$dump")
    echo "missing:$missing"
    [ -z "$missing" ]
}

@test "--dump-options is valid JSON with kinds, defaults and choices" {
    require jq
    run "$TWC" --dump-options
    [ "$status" -eq 0 ]
    run jq -r '.commands[] | select(.name == "echo") | .options[] | select(.long == "port") | "\(.short) \(.kind) \(.default)"' <<<"$output"
    [ "$output" = "p port 8000" ]
    run bash -c "'$TWC' --dump-options | jq -r '.global.options[] | select(.long == \"log-format\") | .choices | join(\",\")'"
    [ "$output" = "text,json" ]
}

@test "bash completion completes commands and options" {
    require bash
    run bash -c "
        twc() { :; }
        source '$TWC_SRCDIR/completions/twc.bash'
        COMP_WORDS=(twc ec); COMP_CWORD=1; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc echo --li); COMP_CWORD=2; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc client w); COMP_CWORD=2; _twc; echo \"\${COMPREPLY[*]}\"
        COMP_WORDS=(twc --log-format ''); COMP_CWORD=2; _twc; echo \"\${COMPREPLY[*]}\"
    "
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "echo" ]
    [ "${lines[1]}" = "--listen" ]
    [ "${lines[2]}" = "wait" ]
    [ "${lines[3]}" = "text json" ]
}

@test "each command's --help summary matches its twc --help line" {
    for n in $(sed -n 's/^TWC_CMD(\([a-z0-9_]*\),.*/\1/p' "$TWC_SRCDIR/cmd/commands.def"); do
        local summary
        summary=$("$TWC" --help | sed -n "s/^  $n  *//p")
        run "$TWC" "$n" --help
        [ "$status" -eq 0 ]
        # The summary follows the usage, which may go on over indented lines.
        local i=1
        while [[ "${lines[i]}" == " "* ]]; do i=$((i + 1)); done
        echo "$n: '${lines[i]}' vs '$summary'"
        [ "${lines[i]}" = "$summary" ]
    done
}
