#!/usr/bin/env bats
# twc echo (RFC 862) over TCP, UDP and UNIX sockets, with third-party clients
# (socat, ncat, python3) and with twc client; lifecycle log events; exit codes.

load helpers

setup() {
    require jq
}

@test "echo -p 0: one port for UDP and TCP, listening/ready events, stopped on SIGTERM" {
    start_server e echo -p 0
    local log
    log=$(server_log e)
    run jq -r 'select(.event == "listening") | "\(.proto) \(.port) \(.endpoint) \(.system)"' "$log"
    [ "${#lines[@]}" -eq 2 ]
    local port
    port=$(server_port e tcp)
    [ "$port" -gt 0 ]
    [ "$(server_port e udp)" = "$port" ]
    [[ "$output" == *"udp $port udp:$port echo"* ]]
    [[ "$output" == *"tcp $port tcp:$port echo"* ]]
    # ready comes after every listening event.
    run jq -s -r 'map(.event // "") | map(select(. != "")) | join(",")' "$log"
    [ "$output" = "listening,listening,ready" ]
    stop_server e
    [ "$status" -eq 0 ]
    run jq -s -r '.[-1] | "\(.event) \(.level) \(.system)"' "$log"
    [ "$output" = "stopped info echo" ]
}

@test "SIGINT also stops cleanly with exit 0" {
    start_server e echo --listen tcp:0:interface=127.0.0.1
    kill -INT "$(server_pid e)"
    wait_pid "$(server_pid e)"
    [ $? -eq 0 ]
    rm -f "$BATS_TEST_TMPDIR/e.pid"
    jq -s -e 'any(.[]; .event == "stopped")' "$(server_log e)"
}

@test "SIGTERM closes open connections at once and exits 0" {
    require python3
    start_server e echo --listen tcp:0:interface=127.0.0.1
    # Three idle clients; each reports when the server closes it.
    python3 -c "
import socket, sys
socks = [socket.create_connection(('127.0.0.1', $(server_port e tcp)), timeout=10) for _ in range(3)]
for s in socks:
    s.sendall(b'x')
    assert s.recv(1) == b'x'
print('connected', flush=True)
for s in socks:
    assert s.recv(1) == b''
print('closed by server', flush=True)
" >"$BATS_TEST_TMPDIR/py.out" 2>&1 3>&- &
    local py=$! i
    for ((i = 0; i < 200; i++)); do
        grep -q connected "$BATS_TEST_TMPDIR/py.out" && break
        sleep 0.05
    done
    local start=$SECONDS
    stop_server e
    [ "$status" -eq 0 ]
    wait_pid $py
    [ $? -eq 0 ]
    [ "$(cat "$BATS_TEST_TMPDIR/py.out")" = "$(printf 'connected\nclosed by server')" ]
    [ $((SECONDS - start)) -lt 5 ]
    jq -s -e 'any(.[]; .event == "stopped")' "$(server_log e)"
}

@test "TCP echo with socat, ncat and python3" {
    require socat ncat python3
    start_server e echo --listen tcp:0:interface=127.0.0.1
    local port
    port=$(server_port e tcp)
    run bash -c "printf 'hello socat\n' | timeout 10 socat -t 5 - TCP:127.0.0.1:$port"
    [ "$status" -eq 0 ]
    [ "$output" = "hello socat" ]
    run bash -c "printf 'hello ncat\n' | timeout 10 ncat 127.0.0.1 $port"
    [ "$status" -eq 0 ]
    [ "$output" = "hello ncat" ]
    run timeout 10 python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $port), timeout=5)
s.sendall(b'hello python')
s.shutdown(socket.SHUT_WR)
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode())
"
    [ "$status" -eq 0 ]
    [ "$output" = "hello python" ]
}

@test "UDP echo with socat and python3" {
    require socat python3
    start_server e echo --listen udp:0:interface=127.0.0.1
    local port
    port=$(server_port e udp)
    [ "$port" -gt 0 ]
    run bash -c "printf 'dgram' | timeout 10 socat -T 2 - UDP:127.0.0.1:$port"
    [ "$status" -eq 0 ]
    [ "$output" = "dgram" ]
    run timeout 10 python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for msg in (b'one', b'two', b'x' * 60000):
    s.sendto(msg, ('127.0.0.1', $port))
    data, peer = s.recvfrom(65536)
    assert data == msg, (len(data), len(msg))
    assert peer[1] == $port
print('ok')
"
    [ "$status" -eq 0 ]
    [ "$output" = "ok" ]
}

@test "UDP and TCP echo on IPv6 loopback" {
    require python3
    python3 -c "import socket; s=socket.socket(socket.AF_INET6); s.bind(('::1', 0))" ||
        skip "no IPv6 loopback"
    start_server e echo --listen 'tcp:0:interface=[::1]' --listen 'udp:0:interface=\:\:1'
    run jq -r 'select(.event == "listening") | .address' "$(server_log e)"
    [ "$output" = "$(printf '::1\n::1')" ]
    run bash -c "echo six | timeout 10 '$TWC' client tcp '[::1]:$(server_port e tcp)'"
    [ "$status" -eq 0 ]
    [ "$output" = "six" ]
    run bash -c "echo six-udp | timeout 10 '$TWC' client udp -q 0.3 '[::1]:$(server_port e udp)'"
    [ "$status" -eq 0 ]
    [ "$output" = "six-udp" ]
}

@test "UNIX echo with socat and python3; mode honoured; socket removed at stop" {
    require socat python3
    local sock="$BATS_TEST_TMPDIR/echo.sock"
    start_server e echo --listen "unix:$sock:mode=0600"
    [ -S "$sock" ]
    [ "$(stat -c %a "$sock")" = "600" ]
    run jq -r 'select(.event == "listening") | "\(.proto) \(.endpoint) \(.address)"' "$(server_log e)"
    [ "$output" = "unix unix:$sock $sock" ]
    run bash -c "printf 'over unix' | timeout 10 socat -t 5 - UNIX-CONNECT:$sock"
    [ "$status" -eq 0 ]
    [ "$output" = "over unix" ]
    run timeout 10 python3 -c "
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect('$sock')
s.sendall(b'py unix')
print(s.recv(100).decode())
"
    [ "$output" = "py unix" ]
    stop_server e
    [ "$status" -eq 0 ]
    [ ! -e "$sock" ]
}

@test "echo with twc client over TCP, UDP and UNIX" {
    local sock="$BATS_TEST_TMPDIR/e.sock"
    start_server e echo -p 0 --listen tcp:0:interface=127.0.0.1 \
        --listen udp:0:interface=127.0.0.1 --listen "unix:$sock"
    run bash -c "printf 'tcp line\n' | timeout 10 '$TWC' client tcp 127.0.0.1:$(server_port e tcp)"
    [ "$status" -eq 0 ]
    [ "$output" = "tcp line" ]
    run bash -c "printf 'udp line\n' | timeout 10 '$TWC' client udp -q 0.3 127.0.0.1:$(server_port e udp)"
    [ "$status" -eq 0 ]
    [ "$output" = "udp line" ]
    run bash -c "printf 'unix line\n' | timeout 10 '$TWC' client unix '$sock'"
    [ "$status" -eq 0 ]
    [ "$output" = "unix line" ]
}

@test "1 MiB of random bytes is echoed intact over TCP and UNIX" {
    require socat
    local sock="$BATS_TEST_TMPDIR/big.sock" data="$BATS_TEST_TMPDIR/data"
    head -c 1048576 /dev/urandom >"$data"
    start_server e echo --listen tcp:0:interface=127.0.0.1 --listen "unix:$sock"
    local port
    port=$(server_port e tcp)
    # twc client, stdin a regular file.
    timeout 20 "$TWC" client tcp "127.0.0.1:$port" <"$data" >"$BATS_TEST_TMPDIR/out1"
    cmp "$data" "$BATS_TEST_TMPDIR/out1"
    # twc client, stdin and stdout pipes.
    cat "$data" | timeout 20 "$TWC" client unix "$sock" | cat >"$BATS_TEST_TMPDIR/out2"
    cmp "$data" "$BATS_TEST_TMPDIR/out2"
    # socat.
    timeout 20 socat -t 10 - "TCP:127.0.0.1:$port" <"$data" >"$BATS_TEST_TMPDIR/out3"
    cmp "$data" "$BATS_TEST_TMPDIR/out3"
}

@test "a client that does not read is throttled, then gets every byte back" {
    require python3
    start_server e echo --listen tcp:0:interface=127.0.0.1
    run timeout 30 python3 -c "
import os, socket, time
data = os.urandom(16 * 1024 * 1024)
s = socket.create_connection(('127.0.0.1', $(server_port e tcp)), timeout=10)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.setblocking(False)
sent = 0
# Write without reading until the server stops taking data (flow control).
deadline = time.time() + 5
while sent < len(data) and time.time() < deadline:
    try:
        sent += s.send(data[sent:sent + 65536])
    except BlockingIOError:
        time.sleep(0.05)
        try:
            sent += s.send(data[sent:sent + 1])
        except BlockingIOError:
            break
assert sent < len(data), 'server buffered 16 MiB without throttling'
s.setblocking(True)
s.settimeout(10)
# Now read everything back while sending the rest.
import threading
def writer():
    s.sendall(data[sent:])
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=writer).start()
got = bytearray()
while True:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += chunk
assert bytes(got) == data, (len(got), len(data))
print('ok', sent < len(data))
"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "ok True" ]
}

@test "200 concurrent clients are all echoed" {
    require python3
    start_server e echo --listen tcp:0:interface=127.0.0.1
    run timeout 30 python3 -c "
import asyncio
async def one(i):
    r, w = await asyncio.open_connection('127.0.0.1', $(server_port e tcp))
    msgs = [('client %d message %d\n' % (i, k)).encode() for k in range(5)]
    got = b''
    for m in msgs:
        w.write(m)
        await w.drain()
        got += await r.readexactly(len(m))
    w.write_eof()
    rest = await r.read()
    w.close()
    return got + rest == b''.join(msgs)
async def main():
    # Open all 200 before any finishes: they are concurrent on the server.
    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 20)
    print(sum(results))
asyncio.run(main())
"
    [ "$status" -eq 0 ]
    [ "$output" = "200" ]
    # The server is still fine afterwards.
    run bash -c "echo after | timeout 10 '$TWC' client tcp 127.0.0.1:$(server_port e tcp)"
    [ "$output" = "after" ]
}

@test "address in use exits 69 with one line on stderr" {
    start_server e echo -p 0
    local port
    port=$(server_port e tcp)
    run "$TWC" echo --listen "tcp:$port"
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "twc echo: "*"in use"* ]]
    run "$TWC" echo -p "$port"
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    local sock="$BATS_TEST_TMPDIR/busy.sock"
    start_server u echo --listen "unix:$sock"
    run "$TWC" echo --listen "unix:$sock"
    [ "$status" -eq 69 ]
}

@test "a missing interface exits 69" {
    run "$TWC" echo --listen tcp:0:interface=192.0.2.1
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "twc echo: "* ]]
}

@test "permission denied on port 80 as nobody exits 77" {
    require setpriv
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$TWC" echo -p 80
    [ "$status" -eq 77 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "twc echo: "*"ermission denied"* ]]
}

@test "without options echo listens on TCP and UDP port 8000" {
    local log="$BATS_TEST_TMPDIR/default.log"
    "$TWC" echo --log-format=json 2>"$log" &
    local pid=$!
    local i
    for ((i = 0; i < 200; i++)); do
        jq -s -e 'any(.[]; .event == "ready")' "$log" >/dev/null 2>&1 && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 $pid 2>/dev/null; then
        kill -TERM $pid
        wait_pid $pid
        run jq -r 'select(.event == "listening") | "\(.proto):\(.port)"' "$log"
        [ "$output" = "$(printf 'udp:8000\ntcp:8000')" ]
    else
        # Port 8000 taken on this machine: the error must say so, with 69.
        wait $pid || status=$?
        [ "$status" -eq 69 ]
        grep -q 8000 "$log"
    fi
}

@test "bad endpoints and stray arguments exit 64" {
    run "$TWC" echo --listen gopher:70
    [ "$status" -eq 64 ]
    [[ "$output" == *"unknown endpoint type 'gopher'"* ]]
    run "$TWC" echo --listen ssl:443
    [ "$status" -eq 64 ]
    [[ "$output" == *"privateKey"* ]]
    run "$TWC" echo --listen tcp:80:color=blue
    [ "$status" -eq 64 ]
    [[ "$output" == *"color"* ]]
    run "$TWC" echo --listen tcp:notaport
    [ "$status" -eq 64 ]
    run "$TWC" echo --listen unix:
    [ "$status" -eq 64 ]
    run "$TWC" echo --listen unix:/tmp/x:mode=999
    [ "$status" -eq 64 ]
    run "$TWC" echo extra
    [ "$status" -eq 64 ]
    [[ "$output" == *"unexpected argument 'extra'"* ]]
}

@test "ready also notifies systemd through NOTIFY_SOCKET" {
    require python3
    local ns="$BATS_TEST_TMPDIR/notify.sock"
    python3 -c "
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('$ns')
open('$ns.bound', 'w').close()
s.settimeout(10)
print(s.recv(100).decode())
" >"$BATS_TEST_TMPDIR/notify.out" 2>&1 3>&- &
    local py=$! i
    for ((i = 0; i < 200; i++)); do
        [ -e "$ns.bound" ] && break
        sleep 0.05
    done
    NOTIFY_SOCKET=$ns start_server e echo --listen tcp:0:interface=127.0.0.1
    wait_pid $py
    [ "$(cat "$BATS_TEST_TMPDIR/notify.out")" = "READY=1" ]
}
