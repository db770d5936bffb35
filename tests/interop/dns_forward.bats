#!/usr/bin/env bats
# `twc dns -r [-c]` forwarding to dnsmasq on loopback through a test
# resolv.conf (never the machine's), queried with dig and `twc client dns`:
# answers pass through, TCP works, the cache answers without asking upstream
# again and its TTLs count down (with DO and CD answers kept apart), and a dead
# upstream gives SERVFAIL. Also a secondary (`twc dns --secondary`)
# transferring from a `twc dns` primary.

load helpers

UP_PID=
PRIMARY_PID=

setup() {
    interop_setup
    need jq dig dnsmasq python3
    printf '192.0.2.10 www.example.test\n2001:db8::10 www.example.test\n192.0.2.11 other.example.test\n' \
        >"$WORK/hosts"
}

teardown() {
    if [ -n "$PRIMARY_PID" ]; then
        kill "$PRIMARY_PID" 2>/dev/null || true
        wait "$PRIMARY_PID" 2>/dev/null || true
    fi
    if [ -n "$UP_PID" ]; then
        kill "$UP_PID" 2>/dev/null || true
        wait "$UP_PID" 2>/dev/null || true
    fi
    interop_teardown
}

# A free UDP+TCP port on 127.0.0.1 (bound, then released, for dnsmasq).
free_port() {
    python3 -c '
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        t.close()
        u.close()
    print(p)
    break
'
}

# dnsmasq serving $WORK/hosts with a fixed TTL of 300, logging its queries.
start_upstream() {
    UP_PORT=$(free_port)
    [ -n "$UP_PORT" ]
    dnsmasq --no-daemon --no-resolv --no-hosts --addn-hosts="$WORK/hosts" \
        --port="$UP_PORT" --listen-address=127.0.0.1 --bind-interfaces --pid-file= \
        --local-ttl=300 --log-queries --log-facility="$WORK/dnsmasq.log" 2>"$WORK/dnsmasq.err" &
    UP_PID=$!
    "$TWC" client wait --timeout 5 "tcp:127.0.0.1:$UP_PORT"
    printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:2\n' "$UP_PORT" \
        >"$WORK/resolv.conf"
}

# upstream_queries NAME: how many queries for NAME dnsmasq has logged.
upstream_queries() {
    grep -c "query\[[A-Z]*\] $1 from" "$WORK/dnsmasq.log" || true
}

# ttl_of OUTPUT: the TTL of the first answer line of a dig output.
ttl_of() {
    awk '/^;; ANSWER SECTION:/ { getline; print $2; exit }' <<<"$1"
}

q() {
    dig +time=3 +tries=1 @127.0.0.1 -p "$PORT" "$@"
}

@test "forwarder: answers from dnsmasq, over UDP and TCP" {
    start_upstream
    start_server dns -p 0 -i 127.0.0.1 -r --resolv-conf "$WORK/resolv.conf"
    PORT=$(port_of udp)
    run q www.example.test +short
    [ "$status" -eq 0 ]
    [ "$output" = "192.0.2.10" ]
    run q www.example.test AAAA +short
    [ "$output" = "2001:db8::10" ]
    run q other.example.test +tcp +short
    [ "$output" = "192.0.2.11" ]
    run q www.example.test
    [[ "$output" == *"status: NOERROR"* ]]
    [[ "$output" == *" ra"* ]] || [[ "$output" == *"ra;"* ]]
}

@test "forwarder: twc client dns through twc dns -r" {
    start_upstream
    start_server dns -p 0 -i 127.0.0.1 -r --resolv-conf "$WORK/resolv.conf"
    PORT=$(port_of udp)
    run "$TWC" client dns "@127.0.0.1:$PORT" www.example.test --json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.status == "NOERROR" and .answer[0].data == "192.0.2.10"'
}

@test "forwarder without cache asks upstream every time" {
    start_upstream
    start_server dns -p 0 -i 127.0.0.1 -r --resolv-conf "$WORK/resolv.conf"
    PORT=$(port_of udp)
    run q www.example.test
    [ "$(ttl_of "$output")" -eq 300 ]
    run q www.example.test
    [ "$(ttl_of "$output")" -eq 300 ]
    [ "$(upstream_queries www.example.test)" -eq 2 ]
}

@test "forwarder with cache: TTLs count down and upstream is asked once" {
    start_upstream
    start_server dns -p 0 -i 127.0.0.1 -r -c --resolv-conf "$WORK/resolv.conf"
    PORT=$(port_of udp)
    run q www.example.test
    [ "$status" -eq 0 ]
    local first
    first=$(ttl_of "$output")
    [ "$first" -le 300 ] && [ "$first" -ge 299 ]
    sleep 2.2
    run q www.example.test
    [ "$status" -eq 0 ]
    local second
    second=$(ttl_of "$output")
    [[ "$output" == *"192.0.2.10"* ]]
    # Two seconds or more went by: the TTL went down by at least 2.
    [ "$second" -le $((first - 2)) ]
    [ "$second" -ge $((first - 4)) ]
    # A client without EDNS gets the cached answer without an OPT record.
    run q www.example.test +noedns
    [[ "$output" != *"OPT PSEUDOSECTION"* ]]
    [[ "$output" == *"192.0.2.10"* ]]
    [ "$(upstream_queries www.example.test)" -eq 1 ]
}

@test "forwarder with cache: DO and CD answers are cached apart (RFC 3225, RFC 4035)" {
    start_upstream
    start_server dns -p 0 -i 127.0.0.1 -r -c --resolv-conf "$WORK/resolv.conf"
    PORT=$(port_of udp)
    run q other.example.test +short
    [ "$output" = "192.0.2.11" ]
    [ "$(upstream_queries other.example.test)" -eq 1 ]
    # DO=1 and CD=1 are other answers: each goes upstream once.
    run q other.example.test +dnssec
    [[ "$output" == *"192.0.2.11"* ]]
    [[ "$output" == *"flags: do;"* ]]
    [ "$(upstream_queries other.example.test)" -eq 2 ]
    run q other.example.test +cdflag +short
    [ "$output" = "192.0.2.11" ]
    [ "$(upstream_queries other.example.test)" -eq 3 ]
    # Asked again the same ways (and without EDNS, DO=0 too): all from the cache.
    run q other.example.test +dnssec +short
    [ "$output" = "192.0.2.11" ]
    run q other.example.test +cdflag +short
    [ "$output" = "192.0.2.11" ]
    run q other.example.test +noedns +short
    [ "$output" = "192.0.2.11" ]
    [ "$(upstream_queries other.example.test)" -eq 3 ]
}

@test "forwarder: a dead upstream gives SERVFAIL" {
    UP_PORT=$(free_port)
    printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' "$UP_PORT" \
        >"$WORK/resolv.conf"
    start_server dns -p 0 -i 127.0.0.1 -r --resolv-conf "$WORK/resolv.conf"
    PORT=$(port_of udp)
    run q www.example.test
    [ "$status" -eq 0 ]
    [[ "$output" == *"status: SERVFAIL"* ]]
}

@test "secondary: transfers from a twc dns primary and follows its SOA refresh" {
    cat >"$WORK/ex.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 300
@ SOA ns host 7 1 1 600 60
@ NS ns
ns A 192.0.2.53
www A 192.0.2.80
ZONE
    "$TWC" --log-format=json dns -p 0 -i 127.0.0.1 --bindzone "$WORK/ex.zone" \
        </dev/null 2>"$WORK/primary.log" &
    PRIMARY_PID=$!
    local i pport=
    for ((i = 0; i < 100; i++)); do
        pport=$(jq -r 'select(.event == "listening" and .proto == "tcp") | .port' \
            "$WORK/primary.log" 2>/dev/null | head -n 1)
        [ -n "$pport" ] && break
        sleep 0.1
    done
    [ -n "$pport" ]
    start_server dns -p 0 -i 127.0.0.1 --secondary "127.0.0.1:$pport/example.test"
    PORT=$(port_of udp)
    local out=
    for ((i = 0; i < 50; i++)); do
        out=$(q www.example.test +short)
        [ "$out" = "192.0.2.80" ] && break
        sleep 0.1
    done
    [ "$out" = "192.0.2.80" ]
    run q example.test SOA +short
    [ "$output" = "ns.example.test. host.example.test. 7 1 1 600 60" ]
    # A new serial on the primary reaches the secondary within REFRESH (1 s).
    sed -i 's/ 7 1 1 600 60/ 8 1 1 600 60/; s/192.0.2.80/192.0.2.81/' "$WORK/ex.zone"
    kill -HUP "$PRIMARY_PID"
    for ((i = 0; i < 50; i++)); do
        out=$(q www.example.test +short)
        [ "$out" = "192.0.2.81" ] && break
        sleep 0.1
    done
    [ "$out" = "192.0.2.81" ]
    # The primary gone: the secondary keeps serving its copy (EXPIRE is 600 s).
    kill "$PRIMARY_PID"
    wait "$PRIMARY_PID" 2>/dev/null || true
    PRIMARY_PID=
    sleep 1.5
    run q www.example.test +short
    [ "$output" = "192.0.2.81" ]
}
