#!/usr/bin/env bats
# `twc dns` against real third-party DNS clients: dig (BIND), kdig (Knot),
# Python's dnspython and Twisted's twisted.names client. Every type of
# tests/data/dns/server-test.zone, UDP and TCP, EDNS sizes with truncation and
# TCP retry, AXFR, and hosts-file reverse lookups; and `twc dns -r -c` in front
# of dnsmasq. Only 127.0.0.1 and ports from `listening` events, and the
# forwarder reads its own resolv.conf file: never the machine's.

load helpers

DATA="$BATS_TEST_DIRNAME/../data/dns"

setup() {
    DNSMASQ_PID=
    interop_setup
    need jq
}

teardown() {
    if [ -n "${DNSMASQ_PID:-}" ]; then
        kill -TERM "$DNSMASQ_PID" 2>/dev/null || true
        wait "$DNSMASQ_PID" 2>/dev/null || true
    fi
    interop_teardown
}

start_dns() {
    start_server dns -p 0 -i 127.0.0.1 --bindzone "$DATA/server-test.zone" \
        --hosts-file "$DATA/server-hosts"
    PORT=$(port_of udp)
    [ "$(port_of tcp)" = "$PORT" ]
}

# Expected short answers, one "NAME TYPE|ANSWER" per line.
EXPECT='www.twc.test A|192.0.2.80
www.twc.test AAAA|2001:db8::80
twc.test NS|ns1.twc.test.
twc.test SOA|ns1.twc.test. hostmaster.twc.test. 2026112401 3600 600 86400 60
alias.twc.test CNAME|www.twc.test.
rev.twc.test PTR|www.twc.test.
twc.test MX|10 mail.twc.test.
twc.test TXT|"first string" "second string" "third"
_sip._tcp.twc.test SRV|10 60 5060 sip.twc.test.
twc.test CAA|0 issue "letsencrypt.org"
opaque.twc.test TYPE65280|\# 4 0A000001
a.wild.twc.test A|192.0.2.99'

# check_types CLIENT [ARGS...]: every EXPECT line through CLIENT (dig or kdig).
check_types() {
    local client=$1 line q want got
    shift
    while IFS= read -r line; do
        q=${line%%|*}
        want=${line#*|}
        # shellcheck disable=SC2086 # q is "NAME TYPE"
        got=$(timeout 10 "$client" @127.0.0.1 -p "$PORT" $q +short +time=2 "$@")
        # kdig prints unknown types' hex in lower case, and a CAA with a
        # trailing space.
        got=${got% }
        if [ "${got^^}" != "${want^^}" ]; then
            echo "$client $q $*: got '$got', want '$want'" >&2
            return 1
        fi
    done <<<"$EXPECT"
}

@test "dig: every record type over UDP and over TCP" {
    need dig
    start_dns
    check_types dig +notcp +tries=1
    check_types dig +tcp +tries=1
}

@test "kdig: every record type over UDP and over TCP" {
    need kdig
    start_dns
    check_types kdig +notcp +retry=0
    check_types kdig +tcp +retry=0
}

@test "dig: authoritative flags, NXDOMAIN with SOA, NODATA, OPT echoed" {
    need dig
    start_dns
    run dig @127.0.0.1 -p "$PORT" www.twc.test +time=2 +tries=1
    [[ "$output" == *"flags: qr aa rd;"* ]]
    [[ "$output" == *"EDNS: version: 0"* ]]
    run dig @127.0.0.1 -p "$PORT" nothere.twc.test +time=2 +tries=1
    [[ "$output" == *"status: NXDOMAIN"* ]]
    [[ "$output" == *"AUTHORITY: 1"* ]]
    run dig @127.0.0.1 -p "$PORT" www.twc.test MX +time=2 +tries=1
    [[ "$output" == *"status: NOERROR"* ]]
    [[ "$output" == *"ANSWER: 0, AUTHORITY: 1"* ]]
}

@test "dig +bufsize: 1232 fits, 512 truncates (TC) and dig retries over TCP" {
    need dig
    start_dns
    run dig @127.0.0.1 -p "$PORT" big.twc.test +bufsize=1232 +time=2 +tries=1
    [[ "$output" == *"ANSWER: 50"* ]]
    [[ "$output" != *" tc"* ]]
    [[ "$output" == *"(UDP)"* ]]
    run dig @127.0.0.1 -p "$PORT" big.twc.test +bufsize=512 +ignore +time=2 +tries=1
    [[ "$output" == *"flags: qr aa tc rd"* ]]
    [[ "$output" == *"udp: 1232"* ]]
    run dig @127.0.0.1 -p "$PORT" big.twc.test +bufsize=512 +time=2 +tries=1
    [[ "$output" == *"Truncated, retrying in TCP mode"* ]]
    [[ "$output" == *"ANSWER: 50"* ]]
    [[ "$output" == *"(TCP)"* ]]
    # No EDNS at all: 512 bytes.
    run dig @127.0.0.1 -p "$PORT" big.twc.test +noedns +ignore +time=2 +tries=1
    [[ "$output" == *" tc"* ]]
}

@test "kdig +bufsize=512 truncates, +tcp gets everything" {
    need kdig
    start_dns
    run kdig @127.0.0.1 -p "$PORT" big.twc.test +bufsize=512 +ignoretc +time=2 +retry=0
    [[ "$output" == *"TC"* ]]
    run kdig @127.0.0.1 -p "$PORT" big.twc.test +tcp +short +time=2 +retry=0
    [ "${#lines[@]}" -eq 50 ]
}

# zone_records: the records of server-test.zone as AXFR counts them (SOA twice).
zone_records() {
    echo $(($(grep -cE '^[^;$ (]|^[[:space:]]+IN' "$DATA/server-test.zone") + 1))
}

@test "dig AXFR: the whole zone, SOA first and last" {
    need dig
    start_dns
    run dig @127.0.0.1 -p "$PORT" twc.test AXFR +time=5 +tries=1
    [ "$status" -eq 0 ]
    local records
    records=$(printf '%s\n' "$output" | grep -vE '^(;|$)')
    [ "$(printf '%s\n' "$records" | head -1 | awk '{print $4}')" = "SOA" ]
    [ "$(printf '%s\n' "$records" | tail -1 | awk '{print $4}')" = "SOA" ]
    [ "$(printf '%s\n' "$records" | grep -c $'\tA\t198.51.100.')" -eq 50 ]
    [[ "$output" == *"XFR size: $(zone_records) records"* ]]
    # Not a zone we serve: no transfer.
    run dig @127.0.0.1 -p "$PORT" example.org AXFR +time=5 +tries=1
    [[ "$output" == *"Transfer failed"* ]]
}

@test "kdig AXFR: the whole zone; AXFR over UDP is refused with FORMERR" {
    need kdig
    start_dns
    run kdig @127.0.0.1 -p "$PORT" twc.test AXFR +time=5
    [ "$status" -eq 0 ]
    [[ "$output" == *"Received "*" records"* ]]
    local n
    n=$(printf '%s\n' "$output" | grep -cE '^[a-z0-9_*].*[[:space:]]IN[[:space:]]')
    [ "$n" -eq "$(zone_records)" ]
    run kdig @127.0.0.1 -p "$PORT" twc.test AXFR +notcp +time=2 +retry=0
    [[ "$output" == *"FORMERR"* ]]
}

@test "hosts file: forward and reverse (PTR) lookups, IPv4 and IPv6" {
    need dig
    start_dns
    run dig @127.0.0.1 -p "$PORT" -x 192.0.2.10 +short +time=2 +tries=1
    [ "$output" = "host1.hosts.test." ]
    run dig @127.0.0.1 -p "$PORT" -x 2001:db8::11 +short +time=2 +tries=1
    [ "$output" = "host2.hosts.test." ]
    run dig @127.0.0.1 -p "$PORT" host1-alias.hosts.test +short +time=2 +tries=1
    [ "$output" = "192.0.2.10" ]
    run dig @127.0.0.1 -p "$PORT" host2.hosts.test AAAA +short +time=2 +tries=1
    [ "$output" = "2001:db8::11" ]
    # Names in no data at all: NXDOMAIN (a hosts file is served).
    run dig @127.0.0.1 -p "$PORT" unknown.example +time=2 +tries=1
    [[ "$output" == *"status: NXDOMAIN"* ]]
}

@test "dnspython: every type over UDP and TCP, truncation, AXFR" {
    need_python dns.message dns.query dns.zone
    start_dns
    run timeout 60 "$PYTHON" "$BATS_TEST_DIRNAME/dns_dnspython.py" "$PORT"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "ok" ]
}

@test "twisted.names client: lookups of every kind against twc dns" {
    need_python twisted.names.client
    start_dns
    run timeout 60 "$PYTHON" "$BATS_TEST_DIRNAME/dns_twisted_client.py" "$PORT"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "ok" ]
}

@test "twc dns -r -c in front of dnsmasq: forwarded answers, RA, cached TTLs count down" {
    need dig
    [ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null 2>&1 || skip "dnsmasq is not installed"
    local dnsmasq port
    dnsmasq=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
    # A port free for UDP and TCP on 127.0.0.1 for dnsmasq (it cannot report one).
    port=$(python3 -c '
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p); break')
    printf '192.0.2.150 up.dnsmasq.test\n' >"$WORK/up.hosts"
    "$dnsmasq" --no-daemon --no-resolv --no-hosts --addn-hosts="$WORK/up.hosts" --port="$port" \
        --listen-address=127.0.0.1 --bind-interfaces --pid-file="$WORK/dnsmasq.pid" \
        --user="$(id -un)" --local-ttl=300 >"$WORK/dnsmasq.log" 2>&1 &
    DNSMASQ_PID=$!
    local i
    for ((i = 0; i < 50; i++)); do
        dig @127.0.0.1 -p "$port" up.dnsmasq.test +short +time=1 +tries=1 2>/dev/null |
            grep -q 192.0.2.150 && break
        sleep 0.1
    done
    printf 'nameserver 127.0.0.1:%s\noptions timeout:2 attempts:1\n' "$port" >"$WORK/resolv.conf"
    start_server dns -p 0 -i 127.0.0.1 -r -c --resolv-conf "$WORK/resolv.conf" \
        --hosts-file "$DATA/server-hosts"
    PORT=$(port_of udp)
    run dig @127.0.0.1 -p "$PORT" up.dnsmasq.test +time=3 +tries=1
    [[ "$output" == *" ra"* ]]
    [[ "$output" =~ up\.dnsmasq\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.150 ]]
    # Our own data is still answered by us.
    run dig @127.0.0.1 -p "$PORT" host1.hosts.test +short +time=3 +tries=1
    [ "$output" = "192.0.2.10" ]
    # From the cache once dnsmasq is gone, TTL lower.
    kill -TERM "$DNSMASQ_PID"
    wait "$DNSMASQ_PID" || true
    DNSMASQ_PID=
    sleep 1.1
    run dig @127.0.0.1 -p "$PORT" up.dnsmasq.test +noall +answer +time=3 +tries=1
    [[ "$output" =~ up\.dnsmasq\.test\.[[:space:]]+29[0-9][[:space:]]+IN[[:space:]]+A ]]
    run dig @127.0.0.1 -p "$PORT" up.dnsmasq.test +tcp +short +time=3 +tries=1
    [ "$output" = "192.0.2.150" ]
}
