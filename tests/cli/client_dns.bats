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
    # A port free for UDP may be taken for TCP (another test's connection):
    # dnsmasq then exits at once, and we try another port.
    local port pid attempt
    for attempt in 1 2 3 4 5; do
        start_silent
        stop_silent
        port=$SILENT_PORT
        dnsmasq --no-daemon --no-resolv --no-hosts --addn-hosts="$BATS_TEST_TMPDIR/hosts" \
            --port="$port" --listen-address=127.0.0.1 --bind-interfaces --pid-file= \
            --local-ttl=120 2>"$BATS_TEST_TMPDIR/dnsmasq.log" &
        pid=$!
        run "$TWC" client wait --timeout 5 "tcp:127.0.0.1:$port"
        kill -0 "$pid" 2>/dev/null && break
        wait "$pid" 2>/dev/null || true
        echo "# dnsmasq could not use port $port: $(cat "$BATS_TEST_TMPDIR/dnsmasq.log")" >&3
    done
    kill -0 "$pid"
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

# A server for the zone of tests/data/dns/server-test.zone; sets PORT.
start_zone() {
    start_server zone dns -p 0 -i 127.0.0.1 --bindzone "$TWC_SRCDIR/tests/data/dns/server-test.zone"
    PORT=$(server_port zone tcp)
    [ -n "$PORT" ]
}

# The records of a dig-style AXFR listing, one per line, fields single-spaced;
# RFC 3597 hex is case-insensitive, so it is lowered.
axfr_records() {
    grep -vE '^(;|$)' | tr -s '\t ' '  ' | sed 's/\\# \([0-9]*\) \([0-9A-Fa-f]*\)$/\\# \1 \L\2/'
}

@test "client dns AXFR: the same records as dig, SOA first and last" {
    require dig
    start_zone
    run "$TWC" client dns "@127.0.0.1:$PORT" twc.test AXFR
    [ "$status" -eq 0 ]
    local ours theirs
    ours=$(printf '%s\n' "$output" | axfr_records)
    theirs=$(dig @127.0.0.1 -p "$PORT" twc.test AXFR +time=5 +tries=1 | axfr_records)
    [ "$(printf '%s\n' "$theirs" | wc -l)" -eq 66 ]
    [ "$ours" = "$theirs" ]
    [ "$(printf '%s\n' "$ours" | head -1 | cut -d' ' -f4)" = "SOA" ]
    [ "$(printf '%s\n' "$ours" | tail -1 | cut -d' ' -f4)" = "SOA" ]
    [[ "$output" == *";; SERVER: 127.0.0.1#$PORT(127.0.0.1) (TCP)"* ]]
    [[ "$output" == *";; XFR size: 66 records (messages 1, bytes "* ]]
}

@test "client dns AXFR +short and --json" {
    require dig
    start_zone
    run "$TWC" client dns "@127.0.0.1:$PORT" twc.test AXFR +short
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 66 ]
    [ "${lines[0]}" = "ns1.twc.test. hostmaster.twc.test. 2026112401 3600 600 86400 60" ]
    [ "${lines[65]}" = "${lines[0]}" ]
    local theirs
    theirs=$(dig @127.0.0.1 -p "$PORT" twc.test AXFR +short +time=5 +tries=1 |
        sed 's/\\# \([0-9]*\) \([0-9A-Fa-f]*\)$/\\# \1 \L\2/')
    [ "$output" = "$theirs" ]
    run "$TWC" client dns "@127.0.0.1:$PORT" twc.test AXFR --json
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    echo "$output" | jq -e '.status == "NOERROR" and .rcode == 0 and .protocol == "tcp"'
    echo "$output" | jq -e '.question == [{"name":"twc.test.","type":"AXFR","class":"IN"}]'
    echo "$output" | jq -e '(.answer | length) == 66 and .records == 66 and .messages == 1'
    echo "$output" | jq -e '.answer[0].type == "SOA" and .answer[65].type == "SOA"'
    echo "$output" | jq -e '.answer[5] == {"name":"ns1.twc.test.","ttl":300,"class":"IN","type":"A","data":"192.0.2.1"}'
    echo "$output" | jq -e --argjson p "$PORT" '.server == "127.0.0.1" and .port == $p'
}

@test "client dns AXFR of a zone the server does not serve: Transfer failed, as dig" {
    require dig
    start_zone
    run dig @127.0.0.1 -p "$PORT" example.org AXFR +time=5 +tries=1
    local dig_status=$status
    [[ "$output" == *"; Transfer failed."* ]]
    run "$TWC" client dns "@127.0.0.1:$PORT" example.org AXFR
    [ "$status" -eq "$dig_status" ]
    [ "${lines[-1]}" = "; Transfer failed." ]
    run "$TWC" client dns "@127.0.0.1:$PORT" example.org AXFR +short
    [ "$status" -eq "$dig_status" ]
    [ "$output" = "; Transfer failed." ]
    run "$TWC" client dns "@127.0.0.1:$PORT" example.org AXFR --json
    [ "$status" -eq "$dig_status" ]
    # twc dns answers NOTAUTH for a zone it does not serve (RFC 5936 §2.2.1).
    echo "$output" | jq -e '.status == "NOTAUTH" and .rcode == 9 and .answer == []'
}

@test "client dns AXFR exits 9 when the server closes early or does not listen" {
    require python3
    # Accepts, reads the query, answers nothing and closes.
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(10)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.recv(512)
c.close()
' >"$BATS_TEST_TMPDIR/closer.port" &
    local pid=$! i
    for ((i = 0; i < WAIT_LIMIT * 20; i++)); do
        [ -s "$BATS_TEST_TMPDIR/closer.port" ] && break
        sleep 0.05
    done
    local port
    port=$(cat "$BATS_TEST_TMPDIR/closer.port")
    run "$TWC" client dns "@127.0.0.1:$port" twc.test AXFR +time=2
    wait "$pid" 2>/dev/null || true
    [ "$status" -eq 9 ]
    [[ "$output" == *"closed before the closing SOA"* ]]
    # Nothing listens there any more.
    run "$TWC" client dns "@127.0.0.1:$port" twc.test AXFR +time=2
    [ "$status" -eq 9 ]
}

@test "client dns -x: reverse lookups, IPv4 and IPv6, as dig -x" {
    require dig
    start_server rev dns -p 0 -i 127.0.0.1 \
        --record "1.0.0.127.in-addr.arpa PTR localhost." \
        --record "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa PTR ip6-localhost."
    PORT=$(server_port rev udp)
    run "$TWC" client dns "@127.0.0.1:$PORT" -x 127.0.0.1 +short
    [ "$status" -eq 0 ]
    [ "$output" = "localhost." ]
    [ "$output" = "$(dig @127.0.0.1 -p "$PORT" -x 127.0.0.1 +short +time=2 +tries=1)" ]
    run "$TWC" client dns -x ::1 "@127.0.0.1:$PORT" +short
    [ "$status" -eq 0 ]
    [ "$output" = "ip6-localhost." ]
    [ "$output" = "$(dig @127.0.0.1 -p "$PORT" -x ::1 +short +time=2 +tries=1)" ]
    run "$TWC" client dns "@127.0.0.1:$PORT" -x 127.0.0.1
    [[ "$output" == *";1.0.0.127.in-addr.arpa."$'\t\t'"IN"$'\t'"PTR"* ]]
    [[ "$output" == *"1.0.0.127.in-addr.arpa."$'\t'"3600"$'\t'"IN"$'\t'"PTR"$'\t'"localhost."* ]]
    run "$TWC" client dns "@127.0.0.1:$PORT" --reverse=::1 --json
    echo "$output" | jq -e '.question[0].type == "PTR" and .answer[0].data == "ip6-localhost."'
    echo "$output" | jq -e '.question[0].name | endswith(".ip6.arpa.")'
}

@test "client dns -x: a bad address is a usage error" {
    local a
    for a in bogus 1.2.3 1.2.3.256 2001:db8::g ""; do
        run "$TWC" client dns @127.0.0.1:9 -x "$a"
        [ "$status" -eq 64 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == "twc client dns: -x: '$a' is not an IPv4 or IPv6 address"* ]]
    done
    run "$TWC" client dns @127.0.0.1:9 -x 127.0.0.1 example.test
    [ "$status" -eq 64 ]
    run "$TWC" client dns @127.0.0.1:9 -x
    [ "$status" -eq 64 ]
}
