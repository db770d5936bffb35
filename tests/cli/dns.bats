#!/usr/bin/env bats
# twc dns: flags, listeners (-p 0 gives one port for UDP and TCP), exit codes of
# shared/CLI.md, answers per CLI.md's rules, SIGHUP reload (success and failure)
# and SIGTERM. Queries use dig against 127.0.0.1 with the port from `listening`.

load helpers

DATA="$TWC_SRCDIR/tests/data/dns"

setup() {
    require jq dig
}

# q NAME PORT [DIG ARGS...]: one dig query with bounded time, no recursion asked.
q() {
    local name=$1 port=$2
    shift 2
    dig +time=2 +tries=1 @127.0.0.1 -p "$port" "$name" "$@"
}

@test "dns --help lists every option of the CLI contract" {
    run "$TWC" dns --help
    [ "$status" -eq 0 ]
    local o
    for o in --port --interface --hosts-file --bindzone --record --cache --recursive \
        --resolv-conf --secondary; do
        [[ "$output" == *"$o"* ]]
    done
}

@test "dns: usage errors exit 64 with one line" {
    run "$TWC" dns --no-such-option
    [ "$status" -eq 64 ]
    run "$TWC" dns -p 70000
    [ "$status" -eq 64 ]
    run "$TWC" dns extra-argument
    [ "$status" -eq 64 ]
    [[ "$output" == "twc dns: unexpected argument 'extra-argument'"* ]]
    run "$TWC" dns -p 0 --record "bad.test. 60 A not-an-address"
    [ "$status" -eq 64 ]
    [[ "$output" == "twc dns: --record"* ]]
    [ "${#lines[@]}" -eq 1 ]
}

@test "dns: a malformed zone file exits 65 naming FILE:LINE" {
    run "$TWC" dns -p 0 --bindzone "$DATA/server-bad.zone"
    [ "$status" -eq 65 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "twc dns: $DATA/server-bad.zone:5: "* ]]
}

@test "dns: a malformed hosts file exits 65 naming FILE:LINE" {
    printf '192.0.2.1 ok.test\n300.1.2.3 bad.test\n' >"$BATS_TEST_TMPDIR/hosts"
    run "$TWC" dns -p 0 --hosts-file "$BATS_TEST_TMPDIR/hosts"
    [ "$status" -eq 65 ]
    [[ "$output" == "twc dns: $BATS_TEST_TMPDIR/hosts:2: "* ]]
}

@test "dns: a missing input file exits 66" {
    run "$TWC" dns -p 0 --hosts-file "$BATS_TEST_TMPDIR/none"
    [ "$status" -eq 66 ]
    [[ "$output" == "twc dns: "*"$BATS_TEST_TMPDIR/none"* ]]
    run "$TWC" dns -p 0 --bindzone "$BATS_TEST_TMPDIR/none.zone"
    [ "$status" -eq 66 ]
}

@test "dns: port in use exits 69, absent interface exits 69" {
    start_server d dns -p 0 -i 127.0.0.1 --hosts-file "$DATA/server-hosts"
    local port
    port=$(server_port d udp)
    run "$TWC" dns -p "$port" -i 127.0.0.1 --hosts-file "$DATA/server-hosts" --log-format=json
    [ "$status" -eq 69 ]
    [[ "${lines[-1]}" == "twc dns: "* ]]
    run "$TWC" dns -p 0 -i 192.0.2.77 --hosts-file "$DATA/server-hosts" --log-format=json
    [ "$status" -eq 69 ]
}

@test "dns: a privileged port without the capability exits 77" {
    require setpriv
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
    run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        "$TWC" dns -p 53 -i 127.0.0.1 --hosts-file "$DATA/server-hosts" --log-format=json
    [ "$status" -eq 77 ]
    [[ "${lines[-1]}" == "twc dns: "* ]]
}

@test "dns -p 0: one port for UDP and TCP, listening twice then ready, clean stop" {
    start_server d dns -p 0 -i 127.0.0.1 --hosts-file "$DATA/server-hosts"
    local log port
    log=$(server_log d)
    port=$(server_port d udp)
    [ "$port" -gt 0 ]
    [ "$(server_port d tcp)" = "$port" ]
    run jq -r 'select(.event == "listening") | "\(.system) \(.proto) \(.address) \(.endpoint)"' "$log"
    [ "${lines[0]}" = "dns udp 127.0.0.1 udp:$port:interface=127.0.0.1" ]
    [ "${lines[1]}" = "dns tcp 127.0.0.1 tcp:$port:interface=127.0.0.1" ]
    run jq -s -r 'map(.event // "") | map(select(. != "")) | join(",")' "$log"
    [ "$output" = "listening,listening,ready" ]
    # Both transports answer on that one port.
    run q host1.hosts.test "$port" +short +notcp
    [ "$output" = "192.0.2.10" ]
    run q host1.hosts.test "$port" +short +tcp
    [ "$output" = "192.0.2.10" ]
    stop_server d
    [ "$status" -eq 0 ]
    run jq -s -r '.[-1].event' "$log"
    [ "$output" = "stopped" ]
}

@test "dns: hosts and --record names: answers, NODATA, NXDOMAIN, reverse" {
    start_server d dns -p 0 -i 127.0.0.1 --hosts-file "$DATA/server-hosts" \
        --record "extra.test 120 TXT \"hello world\"" --record "*.wild.test. 60 A 127.0.0.2"
    local port
    port=$(server_port d udp)
    run q host2.hosts.test "$port" AAAA +short
    [ "$output" = "2001:db8::11" ]
    run q host1-alias.hosts.test "$port" +short
    [ "$output" = "192.0.2.10" ]
    run q extra.test "$port" TXT +short
    [ "$output" = '"hello world"' ]
    run q any.thing.wild.test "$port" +short
    [ "$output" = "127.0.0.2" ]
    run dig +time=2 +tries=1 @127.0.0.1 -p "$port" -x 192.0.2.11 +short
    [ "$output" = "host2.hosts.test." ]
    # A known name without the asked type: NOERROR with no answer (NODATA), AA.
    run q host1.hosts.test "$port" MX
    [[ "$output" == *"status: NOERROR"* ]]
    [[ "$output" == *"flags: qr aa"* ]]
    [[ "$output" == *"ANSWER: 0"* ]]
    # An unknown name: NXDOMAIN.
    run q nothere.example "$port" A
    [[ "$output" == *"status: NXDOMAIN"* ]]
}

@test "dns: zone files only: REFUSED outside the zones, NXDOMAIN with SOA inside" {
    start_server d dns -p 0 -i 127.0.0.1 --bindzone "$DATA/server-test.zone"
    local port
    port=$(server_port d udp)
    run q www.twc.test "$port" +short
    [ "$output" = "192.0.2.80" ]
    run q elsewhere.example "$port"
    [[ "$output" == *"status: REFUSED"* ]]
    run q missing.twc.test "$port"
    [[ "$output" == *"status: NXDOMAIN"* ]]
    [[ "$output" == *"AUTHORITY: 1"* ]]
    [[ "$output" == *"IN	SOA	ns1.twc.test. hostmaster.twc.test."* ]]
}

@test "dns --secondary: transfers the zone from a primary twc dns and serves it" {
    run "$TWC" dns -p 0 --secondary not-an-ip/example.com
    [ "$status" -eq 64 ]
    [[ "$output" == "twc dns: --secondary: "* ]]
    start_server pri dns -p 0 -i 127.0.0.1 --bindzone "$DATA/server-test.zone"
    start_server sec dns -p 0 -i 127.0.0.1 --secondary "127.0.0.1:$(server_port pri tcp)/twc.test" \
        --record "own.other.test 60 A 127.0.0.9"
    local port log i
    port=$(server_port sec udp)
    log=$(server_log sec)
    for ((i = 0; i < 100; i++)); do
        jq -e 'select(.msg | test("serving 1 zones"))' "$log" >/dev/null 2>&1 && break
        sleep 0.05
    done
    run q www.twc.test "$port" +short
    [ "$output" = "192.0.2.80" ]
    run q own.other.test "$port" +short
    [ "$output" = "127.0.0.9" ]
    # The copy is served in full, AXFR included.
    run q twc.test "$port" AXFR
    [[ "$output" == *"XFR size: "*" records"* ]]
    stop_server sec
    [ "$status" -eq 0 ]
}

@test "dns -r: bad or missing --resolv-conf exits 65 / 66" {
    run "$TWC" dns -p 0 -r --resolv-conf "$BATS_TEST_TMPDIR/none.conf"
    [ "$status" -eq 66 ]
    printf 'nameserver not-an-address\n' >"$BATS_TEST_TMPDIR/bad.conf"
    run "$TWC" dns -p 0 -r --resolv-conf "$BATS_TEST_TMPDIR/bad.conf"
    [ "$status" -eq 65 ]
    [[ "$output" == "twc dns: $BATS_TEST_TMPDIR/bad.conf:1"* ]]
}

@test "dns -r -c: forwards to a second twc dns on loopback; cached TTLs count down" {
    start_server up dns -p 0 -i 127.0.0.1 --bindzone "$DATA/server-test.zone"
    printf 'nameserver 127.0.0.1:%s\noptions timeout:2 attempts:1\n' "$(server_port up udp)" \
        >"$BATS_TEST_TMPDIR/resolv.conf"
    start_server fw dns -p 0 -i 127.0.0.1 -r -c --resolv-conf "$BATS_TEST_TMPDIR/resolv.conf" \
        --hosts-file "$DATA/server-hosts"
    local port
    port=$(server_port fw udp)
    # Own data first, then the upstream's, with RA set.
    run q host1.hosts.test "$port" +short
    [ "$output" = "192.0.2.10" ]
    run q www.twc.test "$port"
    [[ "$output" == *"flags: qr aa rd ra"* ]]
    [[ "$output" == *$'www.twc.test.\t\t300\tIN\tA\t192.0.2.80'* ]]
    # The upstream goes away: the cache still answers, with a lower TTL.
    stop_server up
    sleep 1.1
    run q www.twc.test "$port" +noall +answer
    [[ "$output" =~ www\.twc\.test\.[[:space:]]+29[0-9][[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.80 ]]
    # Too big for 512 bytes: TC over UDP, the whole answer over TCP.
    start_server up2 dns -p "$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/resolv.conf" | head -1)" \
        -i 127.0.0.1 --bindzone "$DATA/server-test.zone"
    run q big.twc.test "$port" +bufsize=512 +ignore +notcp
    [[ "$output" == *" tc"* ]]
    run q big.twc.test "$port" +tcp +short
    [ "${#lines[@]}" -eq 50 ]
    # No upstream for this one: SERVFAIL after the timeout, never a crash.
    stop_server up2
    run q nothere.twc.test "$port" +time=5
    [[ "$output" == *"status: SERVFAIL"* ]]
    stop_server fw
    [ "$status" -eq 0 ]
}

@test "dns: SIGHUP reloads the hosts file and zones" {
    cp "$DATA/server-hosts" "$BATS_TEST_TMPDIR/hosts"
    start_server d dns -p 0 -i 127.0.0.1 --hosts-file "$BATS_TEST_TMPDIR/hosts"
    local port log i
    port=$(server_port d udp)
    log=$(server_log d)
    run q host1.hosts.test "$port" +short
    [ "$output" = "192.0.2.10" ]
    printf '192.0.2.200 host1.hosts.test\n192.0.2.201 new.hosts.test\n' >"$BATS_TEST_TMPDIR/hosts"
    kill -HUP "$(server_pid d)"
    for ((i = 0; i < 100; i++)); do
        grep -q '"msg":"reloaded' "$log" && break
        sleep 0.05
    done
    run q host1.hosts.test "$port" +short
    [ "$output" = "192.0.2.200" ]
    run q new.hosts.test "$port" +short
    [ "$output" = "192.0.2.201" ]
    stop_server d
    [ "$status" -eq 0 ]
}

@test "dns: a failed SIGHUP reload logs FILE:LINE and keeps the old data" {
    cp "$DATA/server-test.zone" "$BATS_TEST_TMPDIR/t.zone"
    start_server d dns -p 0 -i 127.0.0.1 --bindzone "$BATS_TEST_TMPDIR/t.zone"
    local port log i
    port=$(server_port d udp)
    log=$(server_log d)
    printf 'broken IN A 999.1.1.1\n' >>"$BATS_TEST_TMPDIR/t.zone"
    local line
    line=$(wc -l <"$BATS_TEST_TMPDIR/t.zone")
    kill -HUP "$(server_pid d)"
    for ((i = 0; i < 100; i++)); do
        jq -e 'select(.level == "error")' "$log" >/dev/null 2>&1 && break
        sleep 0.05
    done
    run jq -r 'select(.level == "error") | .msg' "$log"
    [[ "$output" == *"$BATS_TEST_TMPDIR/t.zone:$line:"* ]]
    # Still serving, from the old data.
    run q www.twc.test "$port" +short
    [ "$output" = "192.0.2.80" ]
    run q broken.twc.test "$port"
    [[ "$output" == *"status: NXDOMAIN"* ]]
    kill -0 "$(server_pid d)"
    stop_server d
    [ "$status" -eq 0 ]
}

@test "dns: garbage datagrams are dropped or FORMERR'd and the server keeps answering" {
    require python3
    start_server d dns -p 0 -i 127.0.0.1 --hosts-file "$DATA/server-hosts"
    local port
    port=$(server_port d udp)
    run python3 - "$port" <<'EOF'
import socket, sys, struct
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
# Too short for a header: no answer.
s.sendto(b'\x12\x34\x01', ('127.0.0.1', port))
try:
    s.recv(512)
    print('answered a 3-byte datagram'); sys.exit(1)
except socket.timeout:
    pass
# A header whose question runs past the end: FORMERR with our id.
s.sendto(struct.pack('>HHHHHH', 0xbeef, 0x0100, 1, 0, 0, 0) + b'\x05ab', ('127.0.0.1', port))
r = s.recv(512)
assert r[:2] == b'\xbe\xef', r
assert r[3] & 0x0f == 1, r
# A compression loop in the question: FORMERR too.
s.sendto(struct.pack('>HHHHHH', 0xbef0, 0, 1, 0, 0, 0) + b'\xc0\x0c\x00\x01\x00\x01', ('127.0.0.1', port))
r = s.recv(512)
assert r[3] & 0x0f == 1, r
print('ok')
EOF
    [ "$status" -eq 0 ]
    [ "$output" = "ok" ]
    run q host1.hosts.test "$port" +short
    [ "$output" = "192.0.2.10" ]
}

@test "dns: several queries on one TCP connection are answered in order; idle ones close" {
    require python3
    start_server d dns -p 0 -i 127.0.0.1 --hosts-file "$DATA/server-hosts"
    local port
    port=$(server_port d tcp)
    run python3 - "$port" <<'EOF'
import socket, sys, struct
port = int(sys.argv[1])
def query(qid, name):
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\x00\x00\x01\x00\x01'
    return struct.pack('>H', len(q)) + q
c = socket.create_connection(('127.0.0.1', port), timeout=5)
# Three queries in one write, the third split across two writes.
names = ['host1.hosts.test', 'host2.hosts.test', 'nothere.test']
data = b''.join(query(i + 1, n) for i, n in enumerate(names))
c.sendall(data[:-5]); c.sendall(data[-5:])
buf = b''
def recv_msg():
    global buf
    while len(buf) < 2 or len(buf) < 2 + struct.unpack('>H', buf[:2])[0]:
        chunk = c.recv(4096)
        assert chunk, 'closed early'
        buf += chunk
    n = struct.unpack('>H', buf[:2])[0]
    m, buf = buf[2:2 + n], buf[2 + n:]
    return m
ids = [struct.unpack('>H', recv_msg()[:2])[0] for _ in names]
assert ids == [1, 2, 3], ids
print('ok')
EOF
    [ "$status" -eq 0 ]
    [ "$output" = "ok" ]
}
