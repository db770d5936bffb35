#!/usr/bin/env bats
# twc client tcp|udp|unix (netcat-like) and twc client wait.

load helpers

setup() {
    require jq python3
}

# A python3 TCP or UNIX server for one connection, run in the background.
# Its script reads the connection as `c`; it writes its port (or "ready") to
# $BATS_TEST_TMPDIR/NAME.port once listening.
start_py_server() {
    local name=$1 family=$2 script=$3
    python3 -c "
import os, socket, sys, time
name = '$BATS_TEST_TMPDIR/$name'
if '$family' == 'unix':
    l = socket.socket(socket.AF_UNIX)
    l.bind(name + '.sock')
    port = 'ready'
else:
    l = socket.socket()
    l.bind(('127.0.0.1', 0))
    port = str(l.getsockname()[1])
l.listen(5)
l.settimeout(15)
with open(name + '.port.tmp', 'w') as f:
    f.write(port)
os.rename(name + '.port.tmp', name + '.port')
c, _ = l.accept()
c.settimeout(15)
$script
" </dev/null >"$BATS_TEST_TMPDIR/$name.out" 2>&1 3>&- &
    echo $! >"$BATS_TEST_TMPDIR/$name.pid"
    TWC_SERVERS+=("$name")
    local i
    for ((i = 0; i < 200; i++)); do
        [ -f "$BATS_TEST_TMPDIR/$name.port" ] && return 0
        sleep 0.05
    done
    return 1
}

py_port() {
    cat "$BATS_TEST_TMPDIR/$1.port"
}

@test "tcp: half-closes at stdin EOF and prints what the peer sends after" {
    # The peer reads to EOF, then answers with the byte count: only a half-close
    # lets that answer arrive.
    start_py_server hc tcp "
data = b''
while True:
    b = c.recv(65536)
    if not b:
        break
    data += b
c.sendall(b'got %d bytes\n' % len(data))
c.close()
"
    run bash -c "printf 'abcdef' | timeout 10 '$TWC' client tcp 127.0.0.1:$(py_port hc)"
    [ "$status" -eq 0 ]
    [ "$output" = "got 6 bytes" ]
}

@test "unix: half-close works over UNIX sockets too" {
    start_py_server hu unix "
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
c.sendall(b'unix got %d\n' % n)
c.close()
"
    run bash -c "printf 'hello' | timeout 10 '$TWC' client unix '$BATS_TEST_TMPDIR/hu.sock'"
    [ "$status" -eq 0 ]
    [ "$output" = "unix got 5" ]
}

@test "tcp: exits 0 as soon as the peer closes, even with stdin still open" {
    start_py_server banner tcp "
c.sendall(b'banner\n')
c.close()
"
    # stdin: a FIFO whose writer stays open (and silent) for 8 s.
    mkfifo "$BATS_TEST_TMPDIR/in"
    sleep 8 >"$BATS_TEST_TMPDIR/in" 3>&- &
    local writer=$! start=$SECONDS
    run timeout 10 "$TWC" client tcp "127.0.0.1:$(py_port banner)" <"$BATS_TEST_TMPDIR/in"
    kill $writer
    wait $writer || true
    [ "$status" -eq 0 ]
    [ "$output" = "banner" ]
    [ $((SECONDS - start)) -lt 5 ]
}

@test "tcp: a slow stdout reader still gets every byte (flow control to the peer)" {
    local data="$BATS_TEST_TMPDIR/data"
    head -c 4194304 /dev/urandom >"$data"
    start_py_server bulk tcp "
c.sendall(open('$data', 'rb').read())
c.close()
"
    timeout 20 "$TWC" client tcp "127.0.0.1:$(py_port bulk)" </dev/null |
        (sleep 1; cat) >"$BATS_TEST_TMPDIR/out"
    cmp "$data" "$BATS_TEST_TMPDIR/out"
}

@test "tcp: stdin from /dev/null sends nothing and exits 0" {
    start_py_server null tcp "
n = len(c.recv(100))
c.sendall(b'peer saw %d bytes then EOF\n' % n)
c.close()
"
    run timeout 10 "$TWC" client tcp "127.0.0.1:$(py_port null)" </dev/null
    [ "$status" -eq 0 ]
    [ "$output" = "peer saw 0 bytes then EOF" ]
}

@test "tcp: host names and IPv6 brackets are accepted" {
    start_server e echo --listen tcp:0:interface=127.0.0.1
    run bash -c "echo by-name | timeout 10 '$TWC' client tcp localhost:$(server_port e tcp)"
    [ "$status" -eq 0 ]
    [ "$output" = "by-name" ]
    # An unknown name: the lookup goes to a loopback port nothing listens on
    # (TWC_RESOLV_CONF), never to this machine's nameservers.
    printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' \
        "$(python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")" \
        >"$BATS_TEST_TMPDIR/resolv.conf"
    TWC_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf" run timeout 10 "$TWC" client tcp no-such-host.invalid:80 </dev/null
    [ "$status" -eq 69 ]
    [[ "$output" == *"cannot resolve 'no-such-host.invalid'"* ]]
    run "$TWC" client tcp '[::1' </dev/null
    [ "$status" -eq 64 ]
}

@test "connection refused exits 69 with one line on stderr" {
    local port
    port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    run timeout 10 "$TWC" client tcp "127.0.0.1:$port" </dev/null
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "twc client tcp: "*"efused"* ]]
    run timeout 10 "$TWC" client unix "$BATS_TEST_TMPDIR/nothing.sock" </dev/null
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "twc client unix: "* ]]
}

@test "usage errors exit 64" {
    run "$TWC" client
    [ "$status" -eq 64 ]
    run "$TWC" client tcp
    [ "$status" -eq 64 ]
    run "$TWC" client tcp 127.0.0.1
    [ "$status" -eq 64 ]
    run "$TWC" client tcp 127.0.0.1:99999
    [ "$status" -eq 64 ]
    run "$TWC" client udp a b
    [ "$status" -eq 64 ]
    run "$TWC" client tcp -w nope 127.0.0.1:1
    [ "$status" -eq 64 ]
    run "$TWC" client tcp --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "usage: twc client tcp "* ]]
}

@test "udp: one datagram per write, replies printed, exit after the quiet period" {
    start_py_server u tcp "pass"
    # A python UDP echo that prefixes replies, to see each datagram separately.
    python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
open('$BATS_TEST_TMPDIR/udp.port', 'w').write(str(s.getsockname()[1]))
s.settimeout(10)
for i in range(2):
    data, peer = s.recvfrom(65536)
    s.sendto(b'[' + data + b']', peer)
" </dev/null 3>&- &
    local py=$!
    for ((i = 0; i < 200; i++)); do
        [ -s "$BATS_TEST_TMPDIR/udp.port" ] && break
        sleep 0.05
    done
    local start=$SECONDS
    run bash -c "(printf one; sleep 0.3; printf two) | timeout 10 '$TWC' client udp -q 0.5 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/udp.port")"
    wait_pid $py
    [ "$status" -eq 0 ]
    [ "$output" = "[one][two]" ]
    [ $((SECONDS - start)) -lt 5 ]
}

@test "udp: a closed port (ICMP unreachable) exits 69" {
    local port
    port=$(python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    run bash -c "echo x | timeout 10 '$TWC' client udp -q 2 127.0.0.1:$port"
    [ "$status" -eq 69 ]
    [[ "$output" == "twc client udp: "* ]]
}

@test "wait: succeeds for a server that starts late, then runs COMMAND with its status" {
    local sock="$BATS_TEST_TMPDIR/late.sock"
    local port
    port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    (sleep 0.7; exec "$TWC" echo --listen "unix:$sock" --listen "tcp:$port:interface=127.0.0.1" \
        --log-format=json 2>"$BATS_TEST_TMPDIR/late.log" </dev/null >/dev/null 3>&-) &
    echo $! >"$BATS_TEST_TMPDIR/late.pid"
    TWC_SERVERS+=(late)
    local start=$SECONDS
    run timeout 15 "$TWC" client wait --timeout 10 "unix:$sock" "tcp:127.0.0.1:$port" -- \
        sh -c 'echo "command ran"; exit 7'
    [ "$status" -eq 7 ]
    [ "$output" = "command ran" ]
    [ $((SECONDS - start)) -lt 8 ]
    # Without a command: exit 0 at once now that the server is up.
    run timeout 10 "$TWC" client wait -t 5 "tcp:localhost:$port"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "wait: times out with 69, naming the endpoint" {
    local port
    port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    local start=$SECONDS
    run timeout 10 "$TWC" client wait -t 0.5 "tcp:127.0.0.1:$port" -- echo never
    [ "$status" -eq 69 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "twc client wait: timed out after 0.5 s waiting for tcp:127.0.0.1:$port"* ]]
    [ $((SECONDS - start)) -lt 4 ]
}

@test "wait: bad endpoints, no endpoint, missing command" {
    run "$TWC" client wait
    [ "$status" -eq 64 ]
    run "$TWC" client wait udp:127.0.0.1:53
    [ "$status" -eq 64 ]
    run "$TWC" client wait tcp:127.0.0.1
    [ "$status" -eq 64 ]
    run "$TWC" client wait tcp:127.0.0.1:1 --
    [ "$status" -eq 64 ]
    start_server e echo --listen tcp:0:interface=127.0.0.1
    status=0
    "$TWC" client wait "tcp:127.0.0.1:$(server_port e tcp)" -- /no/such/command 2>/dev/null ||
        status=$?
    [ "$status" -eq 127 ]
}

@test "wait: COMMAND gets default signal dispositions (SIGPIPE not ignored)" {
    start_server e echo --listen tcp:0:interface=127.0.0.1
    run "$TWC" client wait "tcp:127.0.0.1:$(server_port e tcp)" -- \
        sh -c 'grep -E "^(SigIgn|SigBlk)" /proc/self/status'
    [ "$status" -eq 0 ]
    # twc ignores SIGPIPE (bit 13 -> 0x1000); the command must not inherit that.
    # Only that bit is checked: GNU make leaves glibc's reserved signals 32 and 33
    # ignored, and no program can change those.
    ign=$(printf '%s\n' "$output" | awk '/^SigIgn:/ {print $2}')
    [ -n "$ign" ]
    [ $((0x$ign & 0x1000)) -eq 0 ]
    [[ "$output" == *"SigBlk:	0000000000000000"* ]]
}

@test "tcp: a peer that does not read pauses stdin (flow control to stdin)" {
    run timeout 30 python3 -c "
import fcntl, os, socket, subprocess, threading, time
total = 32 * 1024 * 1024
data = os.urandom(total)
l = socket.socket()
l.bind(('127.0.0.1', 0))
l.listen(1)
p = subprocess.Popen(['$TWC', 'client', 'tcp', '127.0.0.1:%d' % l.getsockname()[1]],
                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
c, _ = l.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
# Feed stdin without blocking while the peer reads nothing, for one second.
fd = p.stdin.fileno()
fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
sent = 0
end = time.time() + 1
while time.time() < end and sent < total:
    try:
        sent += os.write(fd, data[sent:sent + 65536])
    except BlockingIOError:
        time.sleep(0.01)
assert sent < total // 2, 'client read %d bytes of stdin with no reader' % sent
fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
def feed():
    p.stdin.write(data[sent:])
    p.stdin.close()
threading.Thread(target=feed).start()
got = bytearray()
c.settimeout(20)
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    got += b
c.close()
assert bytes(got) == data, (len(got), total)
print('ok', p.wait(timeout=10))
"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "ok 0" ]
}
