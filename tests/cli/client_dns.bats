#!/usr/bin/env bats
# twc client dns: dig-like output, +short, --json (checked with jq), +tcp, TC
# over UDP retried over TCP, the resolv.conf fallback, and exit 9 when no
# reply comes. The server is `twc dns` on 127.0.0.1 (port 0, read from its
# `listening` event), and dnsmasq when it is installed. Nothing leaves the
# machine and the machine's resolv.conf is never read.

load helpers

setup() {
    require jq
}

# A server with a few records; sets PORT.
start_records() {
    local big=() i txt
    txt=$(printf 'x%.0s' $(seq 1 200))
    for i in $(seq 1 10); do
        big+=(--record "big.example.test 60 TXT \"$i$txt\"")
    done
    start_server dns dns -p 0 -i 127.0.0.1 \
        --record "www.example.test 300 A 192.0.2.7" \
        --record "www.example.test 300 A 192.0.2.8" \
        --record "www.example.test 300 AAAA 2001:db8::7" \
        --record "mail.example.test 3600 MX 10 mx.example.test" \
        --record "txt.example.test 60 TXT \"hello world\" \"two\"" \
        "${big[@]}"
    PORT=$(server_port dns udp)
    [ -n "$PORT" ]
}

# A UDP port where something is bound but never answers; sets SILENT_PORT.
start_silent() {
    require python3
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(30)
' >"$BATS_TEST_TMPDIR/silent.port" &
    SILENT_PID=$!
    local i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        [ -s "$BATS_TEST_TMPDIR/silent.port" ] && break
        sleep 0.05
    done
    SILENT_PORT=$(cat "$BATS_TEST_TMPDIR/silent.port")
    [ -n "$SILENT_PORT" ]
}

stop_silent() {
    kill "$SILENT_PID" 2>/dev/null
    wait "$SILENT_PID" 2>/dev/null || true
}

@test "client dns --help shows the usage" {
    run "$TWC" client dns --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"@SERVER[:PORT]"*"+short"*"--json"* ]]
}

@test "client dns: usage errors exit 64" {
    run "$TWC" client dns
    [ "$status" -eq 64 ]
    run "$TWC" client dns @127.0.0.1 www.example.test NOTATYPE
    [ "$status" -eq 64 ]
    [[ "$output" == *"'NOTATYPE' is not a record type"* ]]
    run "$TWC" client dns @127.0.0.1 www.example.test +bogus
    [ "$status" -eq 64 ]
    run "$TWC" client dns @127.0.0.1:99999 www.example.test
    [ "$status" -eq 64 ]
}

@test "client dns: dig-like output" {
    start_records
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test
    [ "$status" -eq 0 ]
    [[ "$output" == *";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: "* ]]
    [[ "$output" == *";; flags: qr aa rd; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1"* ]]
    [[ "$output" == *";; QUESTION SECTION:"*";www.example.test."$'\t\t'"IN"$'\t'"A"* ]]
    [[ "$output" == *";; ANSWER SECTION:"* ]]
    [[ "$output" == *"www.example.test."$'\t'"300"$'\t'"IN"$'\t'"A"$'\t'"192.0.2.7"* ]]
    [[ "$output" == *"www.example.test."$'\t'"300"$'\t'"IN"$'\t'"A"$'\t'"192.0.2.8"* ]]
    [[ "$output" == *";; Query time: "*" msec"* ]]
    [[ "$output" == *";; SERVER: 127.0.0.1#$PORT(127.0.0.1) (UDP)"* ]]
    [[ "$output" != *"AUTHORITY SECTION"* ]]
}

@test "client dns: status of a negative answer, exit 0" {
    start_records
    run "$TWC" client dns "@127.0.0.1:$PORT" nothere.example.test
    [ "$status" -eq 0 ]
    [[ "$output" == *"status: NXDOMAIN"* ]]
    [[ "$output" != *"ANSWER SECTION"* ]]
}

@test "client dns +short prints rdata only" {
    start_records
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test +short
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ " ${lines[*]} " == *" 192.0.2.7 "* ]]
    [[ " ${lines[*]} " == *" 192.0.2.8 "* ]]
    run "$TWC" client dns "@127.0.0.1:$PORT" mail.example.test mx +short
    [ "$status" -eq 0 ]
    [ "$output" = "10 mx.example.test." ]
    run "$TWC" client dns "@127.0.0.1:$PORT" txt.example.test TXT +short
    [ "$output" = '"hello world" "two"' ]
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test AAAA +short
    [ "$output" = "2001:db8::7" ]
}

@test "client dns --json is one object jq can read" {
    start_records
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test --json
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    echo "$output" | jq -e '.status == "NOERROR" and .rcode == 0'
    echo "$output" | jq -e '.flags | index("qr") != null and index("aa") != null'
    echo "$output" | jq -e '.question == [{"name":"www.example.test.","type":"A","class":"IN"}]'
    echo "$output" | jq -e '[.answer[].data] | sort == ["192.0.2.7","192.0.2.8"]'
    echo "$output" | jq -e '.answer[0] | .ttl == 300 and .type == "A" and .class == "IN"'
    echo "$output" | jq -e '.authority == [] and .additional == []'
    echo "$output" | jq -e '(.id | type) == "number" and .protocol == "udp"'
    echo "$output" | jq -e --argjson p "$PORT" '.server == "127.0.0.1" and .port == $p'
}

@test "client dns +tcp asks over TCP" {
    start_records
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test +tcp
    [ "$status" -eq 0 ]
    [[ "$output" == *";; SERVER: 127.0.0.1#$PORT(127.0.0.1) (TCP)"* ]]
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test +tcp --json
    echo "$output" | jq -e '.protocol == "tcp" and (.answer | length) == 2'
}

@test "client dns: a truncated UDP reply is asked again over TCP" {
    start_records
    run "$TWC" client dns "@127.0.0.1:$PORT" big.example.test TXT --json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.protocol == "tcp" and (.answer | length) == 10'
    echo "$output" | jq -e '.flags | index("tc") == null'
}

@test "client dns without @SERVER uses \$TWC_RESOLV_CONF" {
    start_records
    printf 'nameserver 127.0.0.1:%s\n' "$PORT" >"$BATS_TEST_TMPDIR/resolv.conf"
    TWC_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf" run "$TWC" client dns www.example.test +short
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    printf '# nothing\n' >"$BATS_TEST_TMPDIR/empty.conf"
    TWC_RESOLV_CONF="$BATS_TEST_TMPDIR/empty.conf" run "$TWC" client dns www.example.test
    [ "$status" -eq 1 ]
    [[ "$output" == *"no nameserver"* ]]
}

@test "client dns exits 9 when no reply comes" {
    start_silent
    local t0=$SECONDS
    run "$TWC" client dns "@127.0.0.1:$SILENT_PORT" www.example.test +time=1 +tries=2
    stop_silent
    [ "$status" -eq 9 ]
    [[ "$output" == "twc client dns: no reply from 127.0.0.1:$SILENT_PORT"* ]]
    [ $((SECONDS - t0)) -le 5 ]
}

@test "client dns exits 9 when the port is closed" {
    start_silent
    stop_silent # the port is free again: ICMP port unreachable
    run "$TWC" client dns "@127.0.0.1:$SILENT_PORT" www.example.test +time=2 +tries=1
    [ "$status" -eq 9 ]
}

@test "client dns against dnsmasq" {
    require dnsmasq
    printf '192.0.2.10 host.example.test\n2001:db8::10 host.example.test\n' \
        >"$BATS_TEST_TMPDIR/hosts"
    start_silent
    stop_silent
    local port=$SILENT_PORT
    dnsmasq --no-daemon --no-resolv --no-hosts --addn-hosts="$BATS_TEST_TMPDIR/hosts" \
        --port="$port" --listen-address=127.0.0.1 --bind-interfaces --pid-file= \
        --local-ttl=120 2>"$BATS_TEST_TMPDIR/dnsmasq.log" &
    local pid=$!
    run "$TWC" client wait --timeout 5 "tcp:127.0.0.1:$port"
    run "$TWC" client dns "@127.0.0.1:$port" host.example.test +short
    local short=$output st=$status
    run "$TWC" client dns "@127.0.0.1:$port" host.example.test AAAA --json
    local json=$output
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    [ "$st" -eq 0 ]
    [ "$short" = "192.0.2.10" ]
    echo "$json" | jq -e '.answer == [{"name":"host.example.test.","ttl":120,"class":"IN","type":"AAAA","data":"2001:db8::10"}]'
}
