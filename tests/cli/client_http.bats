#!/usr/bin/env bats
# twc client http: the curl-like client against a small Python HTTP/1.1 server
# (plain and TLS) on 127.0.0.1 port 0: output, -i, -o, -f, -L, -d, -H, -k,
# --cacert, --max-time, and curl's exit codes. Host names go through a
# resolv.conf of our own (TWC_RESOLV_CONF), never the machine's.

load helpers

setup() {
    require python3
    export TWC_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf"
    # A nameserver nobody listens on: lookups fail fast (ICMP unreachable).
    printf 'nameserver 127.0.0.1:1\noptions timeout:1 attempts:1\n' >"$TWC_RESOLV_CONF"
}

# start_py_http [CERT KEY]: a threaded HTTP/1.1 server; sets HPORT.
start_py_http() {
    local d=$BATS_TEST_TMPDIR i
    cat >"$d/srv.py" <<'EOF'
import os, socket, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", extra=()):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p == "/hello":
            self.reply(200, b"hello\n", [("Content-Type", "text/plain"), ("X-Test", "yes")])
        elif p == "/redir":
            self.reply(302, b"moved\n", [("Location", "/hello")])
        elif p == "/loop":
            self.reply(301, b"", [("Location", "/loop")])
        elif p == "/headers":
            body = "".join("%s: %s\n" % (k, v) for k, v in self.headers.items())
            self.reply(200, body.encode())
        elif p == "/slow":
            time.sleep(5)
            self.reply(200, b"late\n")
        elif p == "/close":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.reply(404, b"not here\n")

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        ctype = self.headers.get("Content-Type", "-")
        self.reply(200, ("%s %s %s\n" % (self.command, ctype, len(data))).encode() + data)

    do_PUT = do_POST

s = ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
d = os.environ["PORTDIR"]
with open(d + "/port.tmp", "w") as f:
    f.write(str(s.socket.getsockname()[1]))
os.rename(d + "/port.tmp", d + "/port")
s.timeout = 1
deadline = time.time() + 30
while time.time() < deadline:
    s.handle_request()
EOF
    rm -f "$d/port"
    PORTDIR=$d timeout 35 python3 "$d/srv.py" "$@" 3>&- &
    echo $! >"$d/py.pid"
    for ((i = 0; i < 100; i++)); do
        [ -s "$d/port" ] && break
        sleep 0.05
    done
    HPORT=$(cat "$d/port")
    [ -n "$HPORT" ]
}

teardown() {
    local f=$BATS_TEST_TMPDIR/py.pid
    if [ -f "$f" ]; then
        kill "$(cat "$f")" 2>/dev/null || true
        wait "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    fi
}

make_certs() {
    local d=$BATS_TEST_TMPDIR
    require openssl
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=twc test ca" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$d/key.pem" -out "$d/req.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/cert.pem" 2>/dev/null
}

# A port nobody listens on (bound, then closed).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

@test "client http: body to stdout, exit 0" {
    start_py_http
    run timeout 10 "$TWC" client http "http://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [ "$output" = "hello" ]
}

@test "client http -i: status line and headers before the body" {
    start_py_http
    run timeout 10 "$TWC" client http -i "http://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "HTTP/1.1 200 OK"* ]]
    [[ "$output" == *"X-Test: yes"* ]]
    [[ "$output" == *"hello" ]]
}

@test "client http -I: HEAD, head only" {
    start_py_http
    run timeout 10 "$TWC" client http -I "http://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "HTTP/1.1 200 OK"* ]]
    [[ "$output" == *"Content-Length: 6"* ]]
    [[ "$output" != *"hello"* ]]
}

@test "client http -o FILE writes the body there" {
    start_py_http
    run timeout 10 "$TWC" client http -o "$BATS_TEST_TMPDIR/out" "http://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    [ "$(cat "$BATS_TEST_TMPDIR/out")" = "hello" ]
}

@test "client http -f: exit 22 on 404 without the body; 0 without -f" {
    start_py_http
    run timeout 10 "$TWC" client http -f "http://127.0.0.1:$HPORT/nope"
    [ "$status" -eq 22 ]
    [[ "$output" == *"returned error: 404"* ]]
    [[ "$output" != *"not here"* ]]
    run timeout 10 "$TWC" client http "http://127.0.0.1:$HPORT/nope"
    [ "$status" -eq 0 ]
    [ "$output" = "not here" ]
}

@test "client http -L follows redirects; without -L the 3xx is the answer" {
    start_py_http
    run timeout 10 "$TWC" client http -L "http://127.0.0.1:$HPORT/redir"
    [ "$status" -eq 0 ]
    [ "$output" = "hello" ]
    run timeout 10 "$TWC" client http "http://127.0.0.1:$HPORT/redir"
    [ "$status" -eq 0 ]
    [ "$output" = "moved" ]
}

@test "client http -L: exit 47 after --max-redirs" {
    start_py_http
    run timeout 10 "$TWC" client http -L --max-redirs 3 "http://127.0.0.1:$HPORT/loop"
    [ "$status" -eq 47 ]
}

@test "client http -d: POST form data; -X PUT keeps the body" {
    start_py_http
    run timeout 10 "$TWC" client http -d a=1 -d b=2 "http://127.0.0.1:$HPORT/post"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "POST application/x-www-form-urlencoded 7" ]
    [ "${lines[1]}" = "a=1&b=2" ]
    run timeout 10 "$TWC" client http -X PUT -H "Content-Type: text/plain" -d x \
        "http://127.0.0.1:$HPORT/post"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "PUT text/plain 1" ]
}

@test "client http -d @FILE strips newlines, --data-binary keeps them, missing is 66" {
    start_py_http
    printf 'one\ntwo\n' >"$BATS_TEST_TMPDIR/data"
    run timeout 10 "$TWC" client http -d "@$BATS_TEST_TMPDIR/data" "http://127.0.0.1:$HPORT/post"
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = "onetwo" ]
    run timeout 10 "$TWC" client http --data-binary "@$BATS_TEST_TMPDIR/data" \
        "http://127.0.0.1:$HPORT/post"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *" 8" ]]
    run timeout 10 "$TWC" client http -d "@$BATS_TEST_TMPDIR/missing" "http://127.0.0.1:$HPORT/post"
    [ "$status" -eq 66 ]
    [[ "$output" == *"missing"* ]]
}

@test "client http -H: extra headers reach the server and replace ours" {
    start_py_http
    run timeout 10 "$TWC" client http -H "X-One: 1" -H "User-Agent: tester" \
        "http://127.0.0.1:$HPORT/headers"
    [ "$status" -eq 0 ]
    [[ "$output" == *"X-One: 1"* ]]
    [[ "$output" == *"User-Agent: tester"* ]]
    [[ "$output" == *"Host: 127.0.0.1:$HPORT"* ]]
    [ "$(grep -c User-Agent <<<"$output")" -eq 1 ]
}

@test "client http: exit 7 when nothing listens" {
    local port
    port=$(free_port)
    run timeout 10 "$TWC" client http "http://127.0.0.1:$port/"
    [ "$status" -eq 7 ]
    [[ "$output" == *"refused"* ]]
}

@test "client http: exit 6 when the name cannot be resolved" {
    run timeout 20 "$TWC" client http "http://no-such-host.invalid/"
    [ "$status" -eq 6 ]
}

@test "client http: localhost from /etc/hosts" {
    grep -qE '^127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts || skip "no localhost in /etc/hosts"
    start_py_http
    run timeout 10 "$TWC" client http "http://localhost:$HPORT/hello"
    [ "$status" -eq 0 ]
    [ "$output" = "hello" ]
}

@test "client http --max-time: exit 28" {
    start_py_http
    run timeout 10 "$TWC" client http --max-time 0.5 "http://127.0.0.1:$HPORT/slow"
    [ "$status" -eq 28 ]
}

@test "client http: exit 52 on an empty reply" {
    start_py_http
    run timeout 10 "$TWC" client http "http://127.0.0.1:$HPORT/close"
    [ "$status" -eq 52 ]
}

@test "client http: bad URLs are 3, other schemes 1, no URL 64" {
    run timeout 10 "$TWC" client http "http://"
    [ "$status" -eq 3 ]
    run timeout 10 "$TWC" client http "ftp://127.0.0.1/"
    [ "$status" -eq 1 ]
    run timeout 10 "$TWC" client http
    [ "$status" -eq 64 ]
}

@test "client http https: --cacert verifies, unknown CA is 60, -k skips the check" {
    make_certs
    start_py_http "$BATS_TEST_TMPDIR/cert.pem" "$BATS_TEST_TMPDIR/key.pem"
    run timeout 10 "$TWC" client http --cacert "$BATS_TEST_TMPDIR/ca.pem" \
        "https://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [ "$output" = "hello" ]
    run timeout 10 "$TWC" client http "https://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 60 ]
    run timeout 10 "$TWC" client http -k "https://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [ "$output" = "hello" ]
}

@test "client http https: 35 when the server does not speak TLS" {
    start_py_http
    run timeout 10 "$TWC" client http -k "https://127.0.0.1:$HPORT/hello"
    [ "$status" -eq 35 ]
}

@test "client wait http://: 0 once it answers 2xx/3xx, 69 on 404 at the timeout" {
    start_py_http
    run timeout 10 "$TWC" client wait -t 5 "http://127.0.0.1:$HPORT/redir" -- echo up
    [ "$status" -eq 0 ]
    [ "$output" = "up" ]
    run timeout 10 "$TWC" client wait -t 0.5 "http://127.0.0.1:$HPORT/nope"
    [ "$status" -eq 69 ]
    [[ "$output" == *"status 404"* ]]
}

@test "client wait http://: waits for a server that starts later" {
    local port
    port=$(free_port)
    "$TWC" client wait -t 8 "http://127.0.0.1:$port/" -- true &
    local wpid=$!
    sleep 0.5
    (cd "$BATS_TEST_TMPDIR" && exec timeout 15 python3 -m http.server "$port" --bind 127.0.0.1 \
        >/dev/null 2>&1 3>&-) &
    echo $! >"$BATS_TEST_TMPDIR/py.pid"
    local st=0
    wait_pid "$wpid" 10 || st=$?
    [ "$st" -eq 0 ]
}

@test "client http: URL credentials go in Authorization as Basic, not in the target or Host" {
    start_py_http
    run timeout 10 "$TWC" client http "http://us%65r:p%40ss@127.0.0.1:$HPORT/headers"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Authorization: Basic dXNlcjpwQHNz"* ]] # base64("user:p@ss")
    [[ "$output" == *"Host: 127.0.0.1:$HPORT"* ]]
    # No password: an empty one, as curl.
    run timeout 10 "$TWC" client http "http://user@127.0.0.1:$HPORT/headers"
    [[ "$output" == *"Authorization: Basic dXNlcjo="* ]]
    # -H Authorization wins over the URL's.
    run timeout 10 "$TWC" client http -H "Authorization: Bearer t" \
        "http://user:pw@127.0.0.1:$HPORT/headers"
    [[ "$output" == *"Authorization: Bearer t"* ]]
    [ "$(grep -c Authorization <<<"$output")" -eq 1 ]
}

@test "client http: URL credentials never appear in messages or logs" {
    local port
    run timeout 10 "$TWC" client http "http://u:sec@ret@127.0.0.1/"
    [ "$status" -eq 3 ]
    [[ "$output" == *"http://127.0.0.1/"* ]]
    [[ "$output" != *sec* ]]
    run timeout 10 "$TWC" client http "http://u:secret%zz@127.0.0.1/"
    [ "$status" -eq 3 ]
    [[ "$output" != *secret* ]]
    run timeout 10 "$TWC" client http "http://u:secret%0a@127.0.0.1/"
    [ "$status" -eq 3 ]
    [[ "$output" != *secret* ]]
    run timeout 10 "$TWC" client http "http://u:secret@127.0.0.1:0/"
    [ "$status" -eq 3 ]
    [[ "$output" != *secret* ]]
    port=$(free_port)
    run timeout 10 "$TWC" --log-level=debug client http "http://u:secret@127.0.0.1:$port/"
    [ "$status" -eq 7 ]
    [[ "$output" != *secret* ]]
    start_py_http
    run timeout 10 "$TWC" --log-level=debug client http "http://u:secret@127.0.0.1:$HPORT/hello"
    [ "$status" -eq 0 ]
    [[ "$output" != *secret* ]]
    run timeout 10 "$TWC" --log-level=debug client wait -t 0.5 \
        "http://u:secret@127.0.0.1:$HPORT/nope"
    [ "$status" -eq 69 ]
    [[ "$output" == *"http://127.0.0.1:$HPORT/nope"* ]]
    [[ "$output" != *secret* ]]
}
