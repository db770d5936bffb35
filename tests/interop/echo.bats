#!/usr/bin/env bats
# `twc echo` (RFC 862) against real third-party clients: socat, ncat, Python's
# socket module and Twisted's own client. twc's servers listen on port 0 of a
# loopback address and report their ports in `listening` events.

load helpers

setup() {
    interop_setup
    need jq
}

teardown() {
    interop_teardown
}

# Listen on TCP and UDP, both on 127.0.0.1, and set TCP_PORT and UDP_PORT.
start_echo_v4() {
    start_server echo --listen tcp:0:interface=127.0.0.1 --listen udp:0:interface=127.0.0.1
    TCP_PORT=$(port_of tcp)
    UDP_PORT=$(port_of udp)
}

# Send stdin as one UDP exchange with ncat and keep ncat's stdin open (bounded)
# until the echo arrived: ncat -u stops at stdin EOF, without waiting for replies.
ncat_udp() {
    local host=$1 port=$2 msg=$3 out=$4
    {
        printf '%s' "$msg"
        for ((i = 0; i < 50; i++)); do
            [ -s "$out" ] && break
            sleep 0.1
        done
    } | timeout 10 ncat -u "$host" "$port" >"$out"
}

@test "echo -p 0: one port for TCP and UDP, echoed to socat" {
    need socat
    start_server echo -p 0
    tcp=$(port_of tcp)
    udp=$(port_of udp)
    [ "$tcp" = "$udp" ]

    run timeout 10 socat -t 5 - "TCP:127.0.0.1:$tcp" <<<"one port"
    [ "$status" -eq 0 ]
    [ "$output" = "one port" ]

    run timeout 10 socat -t 2 - "UDP:127.0.0.1:$udp" <<<"same port"
    [ "$status" -eq 0 ]
    [ "$output" = "same port" ]
}

@test "socat TCP: text lines and 256 KiB of random bytes come back intact" {
    need socat
    start_echo_v4

    printf 'line one\r\nline two\n\nlast line without newline' >"$WORK/text"
    timeout 10 socat -t 5 - "TCP:127.0.0.1:$TCP_PORT" <"$WORK/text" >"$WORK/text.out"
    same_file "$WORK/text" "$WORK/text.out"

    random_file "$WORK/bin" $((256 * 1024))
    timeout 20 socat -t 5 - "TCP:127.0.0.1:$TCP_PORT" <"$WORK/bin" >"$WORK/bin.out"
    same_file "$WORK/bin" "$WORK/bin.out"
}

@test "socat UDP: a datagram comes back to its sender" {
    need socat
    start_echo_v4

    run timeout 10 socat -t 2 - "UDP:127.0.0.1:$UDP_PORT" <<<"datagram from socat"
    [ "$status" -eq 0 ]
    [ "$output" = "datagram from socat" ]
}

@test "socat UNIX: echo over a UNIX socket with the mode asked for" {
    need socat
    sock="$WORK/echo.sock"
    start_server echo --listen "unix:$sock:mode=0600"
    [ -S "$sock" ]
    [ "$(stat -c %a "$sock")" = 600 ]
    [ "$(events listening | jq -r .proto)" = unix ]

    run timeout 10 socat -t 5 - "UNIX-CONNECT:$sock" <<<"over a unix socket"
    [ "$status" -eq 0 ]
    [ "$output" = "over a unix socket" ]

    random_file "$WORK/bin" 100000
    timeout 20 socat -t 5 - "UNIX-CONNECT:$sock" <"$WORK/bin" >"$WORK/bin.out"
    same_file "$WORK/bin" "$WORK/bin.out"
}

@test "ncat TCP: half-close at stdin EOF, the echo still arrives" {
    need ncat
    start_echo_v4

    run timeout 10 ncat 127.0.0.1 "$TCP_PORT" <<<"hello from ncat"
    [ "$status" -eq 0 ]
    [ "$output" = "hello from ncat" ]
}

@test "ncat UDP: a datagram comes back" {
    need ncat
    start_echo_v4

    ncat_udp 127.0.0.1 "$UDP_PORT" "ncat datagram" "$WORK/udp.out"
    [ "$(cat "$WORK/udp.out")" = "ncat datagram" ]
}

@test "python3 TCP over IPv4: 1 MiB sent while reading comes back intact" {
    need_python socket
    start_echo_v4

    run timeout 30 "$PYTHON" - 127.0.0.1 "$TCP_PORT" $((1024 * 1024)) <<'EOF'
import os, socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(n)
s = socket.create_connection((host, port), timeout=20)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
t.join()
s.close()
if bytes(got) != data:
    sys.exit("sent %d bytes, got %d back%s" % (n, len(got), " (different)" if len(got) == n else ""))
print("ok %d" % len(got))
EOF
    [ "$status" -eq 0 ]
    [ "$output" = "ok $((1024 * 1024))" ]
}

@test "python3 TCP over IPv6: echo on ::1" {
    need_python socket
    "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' ||
        skip "no IPv6 loopback on this machine"
    start_server echo --listen 'tcp:0:interface=\:\:1' --listen 'udp:0:interface=\:\:1'
    port=$(port_of tcp)
    [ "$(events listening | jq -r 'select(.proto == "tcp") | .address')" = "::1" ]

    run timeout 20 "$PYTHON" - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=10)
msgs = [b"first\n", b"second\n", bytes(range(256)) * 64]
for m in msgs:
    s.sendall(m)
    got = b""
    while len(got) < len(m):
        b = s.recv(65536)
        if not b:
            sys.exit("connection closed after %d of %d bytes" % (len(got), len(m)))
        got += b
    if got != m:
        sys.exit("echo differs for a %d-byte message" % len(m))
s.shutdown(socket.SHUT_WR)
if s.recv(1) != b"":
    sys.exit("expected EOF after half-close")
print("ok")
EOF
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
}

@test "python3 UDP over IPv4 and IPv6: datagrams from 1 byte to the largest, echoed whole" {
    need_python socket
    start_echo_v4
    v4=$UDP_PORT
    v6=
    if "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0))' 2>/dev/null; then
        stop_server
        start_server echo --listen udp:0:interface=127.0.0.1 --listen 'udp:0:interface=\:\:1'
        v4=$(port_of udp 1)
        v6=$(port_of udp 2)
    fi

    run timeout 20 "$PYTHON" - "$v4" "$v6" <<'EOF'
import os, socket, sys
targets = [(socket.AF_INET, "127.0.0.1", int(sys.argv[1]), 65507)]
if len(sys.argv) > 2 and sys.argv[2]:
    targets.append((socket.AF_INET6, "::1", int(sys.argv[2]), 65527))
for fam, host, port, largest in targets:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(5)
    for size in (1, 512, 1472, 9000, largest):
        msg = os.urandom(size)
        s.sendto(msg, (host, port))
        got, peer = s.recvfrom(70000)
        if got != msg:
            sys.exit("%s: sent %d bytes, got %d back" % (host, size, len(got)))
        if peer[1] != port:
            sys.exit("%s: reply came from port %d, not %d" % (host, peer[1], port))
    s.close()
print("ok %d" % len(targets))
EOF
    [ "$status" -eq 0 ]
    [[ "$output" = "ok "* ]]
}

@test "Twisted's TCP client: 256 KiB echoed through twc" {
    need_python twisted
    start_echo_v4

    run timeout 30 "$PYTHON" "$BATS_TEST_DIRNAME/twisted_echo_client.py" tcp 127.0.0.1 \
        "$TCP_PORT" $((256 * 1024))
    [ "$status" -eq 0 ]
}

@test "Twisted's UDP client: datagrams echoed through twc" {
    need_python twisted
    start_echo_v4

    run timeout 30 "$PYTHON" "$BATS_TEST_DIRNAME/twisted_echo_client.py" udp 127.0.0.1 \
        "$UDP_PORT"
    [ "$status" -eq 0 ]
}

@test "JSON log lines: every line parses, listening events name endpoint, proto and port" {
    start_echo_v4
    # Every line of the log is one JSON object with time, level, system and msg.
    run jq -e -s 'all(.[]; type == "object" and has("time") and has("level")
                          and has("system") and has("msg"))' "$SERVER_LOG"
    [ "$status" -eq 0 ]
    # One event per listener; the endpoint names its kind, and the port is the real
    # one (also in the endpoint string, when it shows the number rather than 0).
    [ "$(events listening | jq -r .proto | sort | tr '\n' ' ')" = "tcp udp " ]
    run jq -e -s 'all(.[]; . as $e | ($e.port | type == "number") and $e.port > 0
                           and ($e.endpoint | startswith("\($e.proto):"))
                           and ($e.endpoint | test("^[a-z]+:(0|\($e.port))(:|$)")))' \
        <<<"$(events listening)"
    [ "$status" -eq 0 ]
    [ "$(events listening | jq -r 'select(.proto == "tcp") | .address')" = 127.0.0.1 ]
    [ "$(events ready | wc -l)" -eq 1 ]
}
