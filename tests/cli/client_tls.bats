#!/usr/bin/env bats
# twc client tls: the netcat-like TLS client, against openssl s_server, a
# Python ssl server and `twc echo --listen ssl:...`. Certificates are made in
# each test with the openssl CLI (a CA, a localhost certificate signed by it).

load helpers

setup() {
    require jq openssl python3
    make_certs
}

# make_certs: $BATS_TEST_TMPDIR/{ca.pem, key.pem, cert.pem}: an EC P-256 CA and
# a certificate for localhost and 127.0.0.1 signed by it.
make_certs() {
    local d=$BATS_TEST_TMPDIR
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=twc test ca" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$d/key.pem" -out "$d/req.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/cert.pem" 2>/dev/null
}

# start_s_server NAME [ARGS...]: openssl s_server for one connection, its stdin
# held open (bounded) by a sleep; sets SPORT. Output goes to NAME.out.
start_s_server() {
    local name=$1 i
    shift
    local out="$BATS_TEST_TMPDIR/$name.out"
    (sleep 20 | timeout 25 openssl s_server -accept 127.0.0.1:0 -naccept 1 \
        -cert "$BATS_TEST_TMPDIR/cert.pem" -key "$BATS_TEST_TMPDIR/key.pem" "$@" \
        >"$out" 2>&1) 3>&- &
    echo $! >"$BATS_TEST_TMPDIR/$name.spid"
    for ((i = 0; i < 100; i++)); do
        SPORT=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$out" 2>/dev/null) || true
        [ -n "$SPORT" ] && return 0
        sleep 0.05
    done
    echo "s_server did not start:" >&2
    cat "$out" >&2
    return 1
}

# A Python ssl echo server for one connection: echoes until the client's
# close_notify, then sends its own (unwrap) and closes. Sets PPORT.
start_py_tls_echo() {
    local d=$BATS_TEST_TMPDIR i
    python3 -c "
import os, socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain('$d/cert.pem', '$d/key.pem')
l = socket.socket()
l.bind(('127.0.0.1', 0))
l.listen(1)
l.settimeout(15)
with open('$d/py.port.tmp', 'w') as f:
    f.write(str(l.getsockname()[1]))
os.rename('$d/py.port.tmp', '$d/py.port')
c, _ = l.accept()
c.settimeout(15)
s = ctx.wrap_socket(c, server_side=True)
while True:
    b = s.recv(65536)
    if not b:
        break
    s.sendall(b)
s.unwrap().close()
" 3>&- &
    echo $! >"$d/py.pid"
    for ((i = 0; i < 200; i++)); do
        [ -s "$d/py.port" ] && PPORT=$(cat "$d/py.port") && return 0
        sleep 0.05
    done
    echo "python server did not start" >&2
    return 1
}

teardown() {
    local f
    for f in "$BATS_TEST_TMPDIR"/*.spid "$BATS_TEST_TMPDIR"/py.pid; do
        [ -f "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null
        wait "$(cat "$f")" 2>/dev/null
        rm -f "$f"
    done
    local name pid
    for name in "${TWC_SERVERS[@]}"; do
        [ -f "$BATS_TEST_TMPDIR/$name.pid" ] || continue
        pid=$(cat "$BATS_TEST_TMPDIR/$name.pid")
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$BATS_TEST_TMPDIR/$name.pid"
    done
    TWC_SERVERS=()
    return 0
}

# start_ssl_echo NAME: `twc echo` on an ssl: endpoint; sets EPORT.
start_ssl_echo() {
    local d=$BATS_TEST_TMPDIR
    start_server "$1" echo \
        --listen "ssl:0:privateKey=$d/key.pem:certKey=$d/cert.pem:interface=127.0.0.1"
    EPORT=$(jq -r 'select(.event == "listening") | .port' "$BATS_TEST_TMPDIR/$1.log" | head -n 1)
    [[ "$EPORT" =~ ^[1-9][0-9]*$ ]]
}

@test "client tls --ca: verified exchange with openssl s_server, exit 0 after close_notify" {
    start_s_server s
    run timeout 15 sh -c "printf 'hello over tls\n' |
        '$TWC' client tls --ca '$BATS_TEST_TMPDIR/ca.pem' 127.0.0.1:$SPORT"
    [ "$status" -eq 0 ]
    # s_server printed what we sent, then saw our close_notify and closed.
    for ((i = 0; i < 40; i++)); do
        grep -q "CONNECTION CLOSED" "$BATS_TEST_TMPDIR/s.out" && break
        sleep 0.05
    done
    grep -q "hello over tls" "$BATS_TEST_TMPDIR/s.out"
    grep -q "CONNECTION CLOSED" "$BATS_TEST_TMPDIR/s.out"
}

@test "client tls: the name localhost resolves and verifies; data from the server reaches stdout" {
    # s_server sends what it reads on stdin to the client.
    local d=$BATS_TEST_TMPDIR
    (printf 'from the server\n'; sleep 20) | timeout 25 openssl s_server -accept 127.0.0.1:0 \
        -naccept 1 -cert "$d/cert.pem" -key "$d/key.pem" >"$d/s2.out" 2>&1 3>&- &
    echo $! >"$d/s2.spid"
    for ((i = 0; i < 100; i++)); do
        SPORT=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$d/s2.out" 2>/dev/null) || true
        [ -n "$SPORT" ] && break
        sleep 0.05
    done
    [ -n "$SPORT" ]
    # stdin stays open until the greeting arrived (bounded), then ends.
    run timeout 15 sh -c "sleep 1 | '$TWC' client tls --ca '$d/ca.pem' localhost:$SPORT"
    [ "$status" -eq 0 ]
    [ "$output" = "from the server" ]
}

@test "client tls: unknown CA exits 60; -k accepts it" {
    start_s_server s
    run timeout 15 "$TWC" client tls "127.0.0.1:$SPORT" </dev/null
    [ "$status" -eq 60 ]
    [[ "$output" == *"certificate verify failed for 127.0.0.1"* ]]
    start_s_server s2
    run timeout 15 sh -c "printf 'insecure ok\n' | '$TWC' client tls -k 127.0.0.1:$SPORT"
    [ "$status" -eq 0 ]
    for ((i = 0; i < 40; i++)); do
        grep -q "insecure ok" "$BATS_TEST_TMPDIR/s2.out" && break
        sleep 0.05
    done
    grep -q "insecure ok" "$BATS_TEST_TMPDIR/s2.out"
}

@test "client tls: host name mismatch exits 60 naming the host" {
    start_s_server s
    run timeout 15 "$TWC" client tls --ca "$BATS_TEST_TMPDIR/ca.pem" \
        --servername wrong.example "127.0.0.1:$SPORT" </dev/null
    [ "$status" -eq 60 ]
    [[ "$output" == *"wrong.example"* ]]
    [[ "$output" == *"hostname mismatch"* ]]
}

@test "client tls: a server that only speaks TLS 1.1 fails the handshake with 35" {
    start_s_server s -tls1_1 -cipher DEFAULT@SECLEVEL=0
    run timeout 15 "$TWC" client tls -k "127.0.0.1:$SPORT" </dev/null
    [ "$status" -eq 35 ]
    [[ "$output" == *"tls handshake"* ]]
}

@test "client tls: refused 69, bad --ca 66, usage 64" {
    run timeout 15 "$TWC" client tls -k 127.0.0.1:1 </dev/null
    [ "$status" -eq 69 ]
    [[ "$output" == *"refused"* ]]
    run timeout 15 "$TWC" client tls --ca "$BATS_TEST_TMPDIR/nope.pem" 127.0.0.1:1 </dev/null
    [ "$status" -eq 66 ]
    [[ "$output" == *"nope.pem"* ]]
    run "$TWC" client tls 127.0.0.1
    [ "$status" -eq 64 ]
    run "$TWC" client tls
    [ "$status" -eq 64 ]
    run "$TWC" client tls --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--servername"* ]]
}

@test "client tls: 8 MiB both ways through a Python ssl echo server" {
    local d=$BATS_TEST_TMPDIR
    head -c 8388608 /dev/urandom >"$d/big"
    start_py_tls_echo
    run timeout 30 sh -c "'$TWC' client tls --ca '$d/ca.pem' 127.0.0.1:$PPORT <'$d/big' >'$d/back'"
    [ "$status" -eq 0 ]
    cmp "$d/big" "$d/back"
}

@test "client tls -k and --ca against twc echo --listen ssl:" {
    start_ssl_echo e
    run timeout 15 sh -c "printf 'round trip\n' | '$TWC' client tls -k 127.0.0.1:$EPORT"
    [ "$status" -eq 0 ]
    [ "$output" = "round trip" ]
    run timeout 15 sh -c "printf 'verified\n' |
        '$TWC' client tls --ca '$BATS_TEST_TMPDIR/ca.pem' localhost:$EPORT"
    [ "$status" -eq 0 ]
    [ "$output" = "verified" ]
    stop_server e
    [ "$status" -eq 0 ]
}
