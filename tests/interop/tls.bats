#!/usr/bin/env bats
# `twc echo --listen ssl:...` against real TLS clients: openssl s_client,
# Python's ssl module and `twc client tls`. Certificates are made in each test
# with the openssl CLI into $BATS_TEST_TMPDIR: a CA, a localhost certificate
# signed by it, and two SNI certificates (alpha.example, beta.example).

load helpers

setup() {
    interop_setup
    need jq openssl
    make_certs
}

teardown() {
    local f
    for f in "$BATS_TEST_TMPDIR"/*.spid; do
        [ -f "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        wait "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    interop_teardown
}

# new_cert NAME CN SAN: NAME.key and NAME.crt signed by the test CA.
new_cert() {
    local d=$BATS_TEST_TMPDIR
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
        -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
    printf 'subjectAltName=%s\n' "$3" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
}

make_certs() {
    local d=$BATS_TEST_TMPDIR
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=twc test ca" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    new_cert server localhost "DNS:localhost,IP:127.0.0.1"
    mkdir -p "$d/sni"
    for n in alpha beta; do
        new_cert "$n" "$n.example" "DNS:$n.example"
        cat "$d/$n.crt" "$d/$n.key" >"$d/sni/$n.example.pem"
    done
}

# start_ssl_echo [EXTRA]: twc echo on ssl:0 on 127.0.0.1 (EXTRA: more endpoint
# parameters); sets PORT.
start_ssl_echo() {
    local d=$BATS_TEST_TMPDIR
    start_server echo \
        --listen "ssl:0:privateKey=$d/server.key:certKey=$d/server.crt:interface=127.0.0.1${1:-}"
    PORT=$(events listening | jq -r '.port' | head -n 1)
    [[ "$PORT" =~ ^[1-9][0-9]*$ ]]
}

# py_client HOST SERVERNAME [BYTES]: a Python ssl client verifying against the
# test CA: sends BYTES (default a short line) while reading the echo, checks
# every byte, then exchanges close_notify (unwrap). Prints the TLS version and
# the peer certificate's CN.
py_client() {
    timeout 60 python3 - "$PORT" "$1" "$2" "${3:-0}" "$BATS_TEST_TMPDIR/ca.pem" <<'EOF'
import hashlib, select, socket, ssl, sys, time
port, host, name, size, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
raw = socket.create_connection((host, port), timeout=30)
s = ctx.wrap_socket(raw, server_hostname=name)
data = (b"tls echo line\n" if size == 0 else
        b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(size // 32 + 1))[:size])
# Write and read at once from one thread (an SSL object is not thread-safe).
s.setblocking(False)
view, sent, got = memoryview(data), 0, bytearray()
deadline = time.monotonic() + 50
while len(got) < len(data):
    if time.monotonic() > deadline:
        sys.exit("stalled: sent %d, got %d of %d bytes" % (sent, len(got), len(data)))
    r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 1)
    if w:
        try:
            sent += s.send(view[sent:sent + 262144])
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
    if r or s.pending():
        try:
            while True:
                b = s.recv(262144)
                if not b:
                    sys.exit("connection closed after %d of %d bytes" % (len(got), len(data)))
                got += b
                if not s.pending():
                    break
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
if bytes(got) != data:
    sys.exit("echo differs")
s.setblocking(True)
cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
print(s.version(), cn)
s.unwrap().close()
EOF
}

@test "openssl s_client: TLS 1.3 by default, certificate verified, bytes echoed" {
    start_ssl_echo
    run timeout 15 sh -c "{ printf 'hello tls\n'; sleep 1; } | openssl s_client -brief \
        -connect 127.0.0.1:$PORT -servername localhost -verify_hostname localhost \
        -CAfile '$BATS_TEST_TMPDIR/ca.pem' -verify_return_error 2>&1"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Protocol version: TLSv1.3"* ]]
    [[ "$output" == *"Verification: OK"* ]]
    [[ "$output" == *"hello tls"* ]]
}

@test "TLS 1.1 is refused by twc, while the same client completes TLS 1.1 with s_server" {
    start_ssl_echo
    # Against twc: the server answers with a protocol_version alert.
    run timeout 15 sh -c "echo | openssl s_client -tls1_1 -cipher DEFAULT@SECLEVEL=0 -brief \
        -connect 127.0.0.1:$PORT 2>&1"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" != *"Protocol version: TLSv1.1"* ]]
    [[ "$output" == *"alert protocol version"* ]]
    run timeout 15 sh -c "echo | openssl s_client -tls1 -cipher DEFAULT@SECLEVEL=0 -brief \
        -connect 127.0.0.1:$PORT 2>&1"
    [ "$status" -ne 0 ]
    [[ "$output" != *"CONNECTION ESTABLISHED"* ]]
    # The same client and options against openssl's own server: TLS 1.1 works,
    # so the refusal above is twc's doing.
    local d=$BATS_TEST_TMPDIR sport i
    (sleep 10 | timeout 15 openssl s_server -tls1_1 -cipher DEFAULT@SECLEVEL=0 \
        -accept 127.0.0.1:0 -naccept 1 -cert "$d/server.crt" -key "$d/server.key" \
        >"$d/s11.out" 2>&1) 3>&- &
    echo $! >"$d/s11.spid"
    for ((i = 0; i < 100; i++)); do
        sport=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$d/s11.out" 2>/dev/null) || true
        [ -n "$sport" ] && break
        sleep 0.05
    done
    [ -n "$sport" ]
    run timeout 15 sh -c "echo | openssl s_client -tls1_1 -cipher DEFAULT@SECLEVEL=0 -brief \
        -connect 127.0.0.1:$sport 2>&1"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Protocol version: TLSv1.1"* ]]
}

@test "Python ssl: verified TLS 1.3 echo and close_notify both ways" {
    need python3
    start_ssl_echo
    run py_client 127.0.0.1 localhost
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "TLSv1.3 localhost" ]
}

@test "twc client tls with -k and with --ca FILE" {
    start_ssl_echo
    run timeout 15 sh -c "printf 'insecure\n' | '$TWC' client tls -k 127.0.0.1:$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = "insecure" ]
    run timeout 15 sh -c "printf 'verified\n' |
        '$TWC' client tls --ca '$BATS_TEST_TMPDIR/ca.pem' localhost:$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = "verified" ]
    # Without the CA the system store rejects the certificate: curl's 60.
    run timeout 15 "$TWC" client tls "127.0.0.1:$PORT" </dev/null
    [ "$status" -eq 60 ]
}

@test "large transfers both ways: 32 MiB with Python ssl and with twc client tls" {
    need python3
    start_ssl_echo
    run py_client 127.0.0.1 localhost 33554432
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "TLSv1.3 localhost" ]
    head -c 33554432 /dev/urandom >"$WORK/big"
    run timeout 60 sh -c "'$TWC' client tls --ca '$BATS_TEST_TMPDIR/ca.pem' \
        127.0.0.1:$PORT <'$WORK/big' >'$WORK/back'"
    [ "$status" -eq 0 ]
    cmp "$WORK/big" "$WORK/back"
}

@test "SNI: sniCerts picks the certificate by the name the client sends" {
    need python3
    start_ssl_echo ":sniCerts=$BATS_TEST_TMPDIR/sni"
    run py_client 127.0.0.1 alpha.example
    [ "$status" -eq 0 ]
    [ "$output" = "TLSv1.3 alpha.example" ]
    run py_client 127.0.0.1 beta.example
    [ "$status" -eq 0 ]
    [ "$output" = "TLSv1.3 beta.example" ]
    # An unknown name gets the default certificate.
    run timeout 15 sh -c "echo | openssl s_client -brief -connect 127.0.0.1:$PORT \
        -servername other.example 2>&1"
    [[ "$output" == *"Peer certificate: CN = localhost"* ]]
    run timeout 15 sh -c "printf 'sni\n' | '$TWC' client tls --ca '$BATS_TEST_TMPDIR/ca.pem' \
        --servername beta.example 127.0.0.1:$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = "sni" ]
}

@test "hostname mismatch: Python and twc client tls refuse the certificate" {
    need python3
    start_ssl_echo
    run py_client 127.0.0.1 wrong.example
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"CERTIFICATE_VERIFY_FAILED"* ]]
    [[ "$output" == *"wrong.example"* || "$output" == *"Hostname mismatch"* ]]
    run timeout 15 "$TWC" client tls --ca "$BATS_TEST_TMPDIR/ca.pem" \
        --servername wrong.example "127.0.0.1:$PORT" </dev/null
    [ "$status" -eq 60 ]
    [[ "$output" == *"hostname mismatch"* ]]
}
