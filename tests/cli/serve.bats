#!/usr/bin/env bats
# twc serve: several services from one JSON config; the demo config; config
# errors (65, 66, 78) naming the service index and key; keys from the tables.

load helpers

setup() {
    require jq
}

# conf NAME JSON: write $BATS_TEST_TMPDIR/NAME.json.
conf() {
    printf '%s\n' "$2" >"$BATS_TEST_TMPDIR/$1.json"
    echo "$BATS_TEST_TMPDIR/$1.json"
}

@test "serve: a two-service config runs both in one process" {
    local c
    c=$(conf two '{"services": [
        {"command": "echo", "listen": ["tcp:0:interface=127.0.0.1"]},
        {"command": "echo", "port": "0"}
    ]}')
    start_server s serve -c "$c"
    local log
    log=$(server_log s)
    # Three listeners in one process: the first service's, and UDP+TCP of the second.
    run jq -r 'select(.event == "listening") | "\(.system) \(.proto)"' "$log"
    [ "$output" = "$(printf 'echo tcp\necho-2 udp\necho-2 tcp')" ]
    local p1 p2
    p1=$(jq -r 'select(.event == "listening" and .system == "echo") | .port' "$log")
    p2=$(jq -r 'select(.event == "listening" and .system == "echo-2" and .proto == "tcp") | .port' "$log")
    [ "$p1" != "$p2" ]
    [ "$(echo one | timeout 5 "$TWC" client tcp "127.0.0.1:$p1")" = one ]
    [ "$(echo two | timeout 5 "$TWC" client tcp "127.0.0.1:$p2")" = two ]
    [ "$(echo three | timeout 5 "$TWC" client udp "127.0.0.1:$p2" -q 1)" = three ]
    stop_server s
    [ "$status" -eq 0 ]
    jq -e -s '.[-1].event == "stopped"' "$log"
}

@test "serve: the demo config answers on every port it advertises" {
    local out="$BATS_TEST_TMPDIR/demo.out"
    "$TWC" serve --ephemeral --log-format=json >"$out" 2>"$BATS_TEST_TMPDIR/demo.log" 3>&- &
    local pid=$!
    echo "$pid" >"$BATS_TEST_TMPDIR/demo.pid"
    TWC_SERVERS+=(demo)
    wait_for_event "$BATS_TEST_TMPDIR/demo.log" ready
    cat "$out"
    # One line per listener: "SYSTEM: PROTO HOST:PORT  ->  how to reach it".
    [ "$(wc -l <"$out")" -eq "$(jq -s '[.[] | select(.event == "listening")] | length' \
        "$BATS_TEST_TMPDIR/demo.log")" ]
    [ "$(wc -l <"$out")" -ge 2 ]
    local system proto where arrow hint n=0
    while read -r system proto where arrow hint; do
        [ "$arrow" = "->" ]
        [[ "$where" == 127.0.0.1:* ]]
        case "$system $proto" in
        "echo: tcp") [ "$(echo hi | timeout 5 "$TWC" client tcp "$where")" = hi ] ;;
        "echo: udp") [ "$(echo hi | timeout 5 "$TWC" client udp "$where" -q 1)" = hi ] ;;
        *)
            # A later server's demo entry: at least it accepts connections.
            [ "$proto" = udp ] || timeout 5 "$TWC" client wait -t 5 "tcp:$where"
            ;;
        esac
        n=$((n + 1))
    done <"$out"
    [ "$n" -ge 2 ]
    stop_server demo
    [ "$status" -eq 0 ]
}

@test "serve: every visible option of a server's table is a config key" {
    # From --dump-options, a config using each echo option once.
    local keys
    keys=$("$TWC" --dump-options | jq -c '.commands[] | select(.name == "echo") | [.options[]
        | select(.hidden | not) | .long]')
    [ "$keys" = '["port","listen"]' ]
    local c
    c=$(conf keys '{"services":[{"command":"echo","port":0,"listen":["tcp:0:interface=127.0.0.1"]}]}')
    start_server k serve -c "$c"
    stop_server k
    [ "$status" -eq 0 ]
}

@test "serve: relative paths are relative to the config's folder" {
    mkdir -p "$BATS_TEST_TMPDIR/site"
    local c
    c=$(conf site/rel '{"services":[{"command":"echo","listen":["unix:echo.sock"]}]}')
    cd /
    start_server r serve -c "$c"
    [ -S "$BATS_TEST_TMPDIR/site/echo.sock" ]
    stop_server r
    [ "$status" -eq 0 ]
}

@test "serve: bad configs exit 78 naming the service index and key" {
    local c
    c=$(conf k '{"services":[{"command":"echo","listen":["tcp:0"]},{"command":"echo","bogus":1}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [ "$output" = "twc serve: $c: services[1].bogus: unknown key for echo" ]
    c=$(conf cmd '{"services":[{"command":"frobnicate"}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [[ "$output" == *"services[0].command: unknown server command 'frobnicate'" ]]
    # A client command is not a server.
    c=$(conf cl '{"services":[{"command":"client"}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    c=$(conf t1 '{"services":[{"command":"echo","listen":"tcp:0"}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [[ "$output" == *"services[0].listen: must be an array" ]]
    c=$(conf t2 '{"services":[{"command":"echo","port":true}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [[ "$output" == *"services[0].port: must be a number" ]]
    c=$(conf t3 '{"services":[{"command":"echo","port":1.5}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    c=$(conf t4 '{"services":[{"command":"echo","listen":[{"a":1}]}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    c=$(conf v1 '{"services":[{"command":"echo","port":70000}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [[ "$output" == *"services[0]: --port: '70000' is not a port number"* ]]
    c=$(conf v2 '{"services":[{"command":"echo","listen":["bogus:1"]}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [[ "$output" == *"services[0] (echo): --listen: "*bogus* ]]
    c=$(conf s1 '{"services":{}}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    c=$(conf s2 '{"services":[], "extra": 1}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    c=$(conf s3 '{"services":[]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    c=$(conf s4 '{"services":["echo"]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 78 ]
    [ "${#lines[@]}" -eq 1 ]
}

@test "serve: malformed JSON exits 65 with FILE:LINE; a missing file 66; arguments 64" {
    local c
    c=$(conf m '{"services": [
  {"command": "echo"}
  {"command": "echo"}
]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 65 ]
    [ "$output" = "twc serve: $c:3: malformed JSON" ]
    run "$TWC" serve --config "$BATS_TEST_TMPDIR/missing.json"
    [ "$status" -eq 66 ]
    [ "$output" = "twc serve: $BATS_TEST_TMPDIR/missing.json: No such file or directory" ]
    run "$TWC" serve -c "$BATS_TEST_TMPDIR"
    [ "$status" -eq 66 ]
    # A file a service names is checked as on the command line, relative to the config.
    c=$(conf tls '{"services":[{"command":"echo","listen":["ssl:0:privateKey=nokey.pem"]}]}')
    run "$TWC" serve -c "$c"
    [ "$status" -eq 66 ]
    [[ "$output" == *"$BATS_TEST_TMPDIR/nokey.pem"* ]]
    run "$TWC" serve extra-argument
    [ "$status" -eq 64 ]
}

@test "serve: a port in use exits 69 and nothing keeps running" {
    start_server busy echo --listen tcp:0:interface=127.0.0.1
    local port c
    port=$(server_port busy tcp)
    c=$(conf busy "{\"services\":[{\"command\":\"echo\",\"listen\":[\"tcp:0:interface=127.0.0.1\"]},
        {\"command\":\"echo\",\"listen\":[\"tcp:$port:interface=127.0.0.1\"]}]}")
    run "$TWC" serve -c "$c" --log-format=json
    [ "$status" -eq 69 ]
    [[ "${lines[-1]}" == "twc serve: "* ]]
}

@test "serve: an ssl endpoint's key files are relative to the config's folder" {
    require openssl
    local d="$BATS_TEST_TMPDIR/site"
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=localhost" -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
    local c
    c=$(conf site/tls '{"services":[{"command":"echo",
        "listen":["ssl:0:privateKey=key.pem:certKey=cert.pem:interface=127.0.0.1"]}]}')
    cd /
    start_server t serve -c "$c"
    local port
    port=$(server_port t tls)
    [ "$port" -gt 0 ]
    [ "$(echo secret | timeout 5 "$TWC" client tls -k "127.0.0.1:$port")" = secret ]
    stop_server t
    [ "$status" -eq 0 ]
}
