#!/usr/bin/env bats
# Interop: `twc client http` and `twc client wait http://` against a real
# third-party server (python3 -m http.server), and against `twc web`, including
# its reverse proxy (--proxy) in front of the Python server. All on 127.0.0.1.

load helpers

setup() {
    interop_setup
    need python3 jq cmp
    PY_PID=
    mkdir -p "$WORK/www/sub/dir"
    printf 'hello from python\n' >"$WORK/www/sub/hello.txt"
    printf 'index\n' >"$WORK/www/sub/dir/index.html"
    head -c 3000000 /dev/urandom >"$WORK/www/sub/big.bin"
}

teardown() {
    if [ -n "$PY_PID" ]; then
        kill "$PY_PID" 2>/dev/null || true
        wait "$PY_PID" 2>/dev/null || true
    fi
    interop_teardown
}

# start_python_http: python3 -m http.server on 127.0.0.1, port 0, serving
# $WORK/www; sets PYPORT from its startup line.
start_python_http() {
    local i
    (cd "$WORK/www" && exec timeout 60 python3 -u -m http.server 0 --bind 127.0.0.1 \
        >"$WORK/py.out" 2>&1 3>&-) &
    PY_PID=$!
    for ((i = 0; i < 100; i++)); do
        PYPORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$WORK/py.out")
        [ -n "$PYPORT" ] && return 0
        sleep 0.1
    done
    echo "python3 -m http.server did not start:" >&2
    cat "$WORK/py.out" >&2
    return 1
}

@test "client http vs python3 -m http.server: a 3 MB body arrives intact" {
    start_python_http
    run timeout 20 "$TWC" client http -o "$WORK/got.bin" "http://127.0.0.1:$PYPORT/sub/big.bin"
    [ "$status" -eq 0 ]
    cmp "$WORK/got.bin" "$WORK/www/sub/big.bin"
    # Through a slow pipe too: flow control towards stdout.
    timeout 20 "$TWC" client http "http://127.0.0.1:$PYPORT/sub/big.bin" |
        (sleep 0.5; cat) >"$WORK/got2.bin"
    cmp "$WORK/got2.bin" "$WORK/www/sub/big.bin"
}

@test "client http vs python3 -m http.server: -L follows the directory redirect, -I" {
    start_python_http
    run timeout 10 "$TWC" client http "http://127.0.0.1:$PYPORT/sub/dir"
    [ "$status" -eq 0 ]
    [ "$output" = "" ] # the 301 itself
    run timeout 10 "$TWC" client http -L "http://127.0.0.1:$PYPORT/sub/dir"
    [ "$status" -eq 0 ]
    [ "$output" = "index" ]
    run timeout 10 "$TWC" client http -I "http://127.0.0.1:$PYPORT/sub/hello.txt"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "HTTP/1.0 200 OK"* ]]
    [[ "$output" == *"Content-Length: 18"* ]]
    run timeout 10 "$TWC" client http -f "http://127.0.0.1:$PYPORT/nothing"
    [ "$status" -eq 22 ]
}

@test "client wait http:// vs python3 -m http.server" {
    start_python_http
    run timeout 10 "$TWC" client wait -t 5 "http://127.0.0.1:$PYPORT/" -- echo ready
    [ "$status" -eq 0 ]
    [ "$output" = "ready" ]
}

@test "client http vs twc web: file, keep-alive server, range" {
    start_server web --listen tcp:0:interface=127.0.0.1 --path "$WORK/www"
    local port
    port=$(port_of tcp)
    run timeout 10 "$TWC" client http "http://127.0.0.1:$port/sub/hello.txt"
    [ "$status" -eq 0 ]
    [ "$output" = "hello from python" ]
    run timeout 10 "$TWC" client http -i -H "Range: bytes=0-4" "http://127.0.0.1:$port/sub/hello.txt"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "HTTP/1.1 206"* ]]
    [[ "$output" == *"hello" ]]
    run timeout 20 "$TWC" client http -o "$WORK/got.bin" "http://127.0.0.1:$port/sub/big.bin"
    [ "$status" -eq 0 ]
    cmp "$WORK/got.bin" "$WORK/www/sub/big.bin"
    run timeout 10 "$TWC" client http -f "http://127.0.0.1:$port/missing"
    [ "$status" -eq 22 ]
    run timeout 10 "$TWC" client wait -t 5 "http://127.0.0.1:$port/"
    [ "$status" -eq 0 ]
}

@test "twc web --proxy in front of python3 -m http.server: prefix replaced, body streamed" {
    start_python_http
    start_server web --listen tcp:0:interface=127.0.0.1 --path "$WORK/www" \
        --proxy "/api=http://127.0.0.1:$PYPORT/sub"
    local port
    port=$(port_of tcp)
    run timeout 10 "$TWC" client http "http://127.0.0.1:$port/api/hello.txt"
    [ "$status" -eq 0 ]
    [ "$output" = "hello from python" ]
    run timeout 20 "$TWC" client http -o "$WORK/got.bin" "http://127.0.0.1:$port/api/big.bin"
    [ "$status" -eq 0 ]
    cmp "$WORK/got.bin" "$WORK/www/sub/big.bin"
    # python's directory redirect comes back through the proxy untouched.
    run timeout 10 "$TWC" client http -i "http://127.0.0.1:$port/api/dir"
    [[ "${lines[0]}" == "HTTP/1.1 301"* ]]
    kill "$PY_PID"
    wait "$PY_PID" 2>/dev/null || true
    PY_PID=
    run timeout 10 "$TWC" client http -i "http://127.0.0.1:$port/api/hello.txt"
    [[ "${lines[0]}" == "HTTP/1.1 502"* ]]
}

# A Python POST echo server (http.server has no POST): replies with the body.
start_python_echo() {
    local i
    cat >"$WORK/echo.py" <<'PY'
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Seen-Host", self.headers.get("Host", "-"))
        self.send_header("X-Seen-XFF", self.headers.get("X-Forwarded-For", "-"))
        self.send_header("X-Seen-Path", self.path)
        self.end_headers()
        self.wfile.write(data)

s = ThreadingHTTPServer(("127.0.0.1", 0), H)
d = sys.argv[1]
with open(d + "/echo.port.tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(d + "/echo.port.tmp", d + "/echo.port")
s.serve_forever()
PY
    timeout 60 python3 "$WORK/echo.py" "$WORK" >/dev/null 2>&1 3>&- &
    PY_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$WORK/echo.port" ] && break
        sleep 0.1
    done
    ECHOPORT=$(cat "$WORK/echo.port")
    [ -n "$ECHOPORT" ]
}

@test "curl -> twc web --proxy -> python: a 3 MB request body streams up and back" {
    need curl
    start_python_echo
    start_server web --listen tcp:0:interface=127.0.0.1 --path "$WORK/www" \
        --proxy "/api=http://127.0.0.1:$ECHOPORT/v1"
    local port
    port=$(port_of tcp)
    run timeout 30 curl -sS -D "$WORK/head.txt" -o "$WORK/back.bin" \
        --data-binary "@$WORK/www/sub/big.bin" "http://127.0.0.1:$port/api/echo?x=1"
    [ "$status" -eq 0 ]
    cmp "$WORK/back.bin" "$WORK/www/sub/big.bin"
    grep -qi "^X-Seen-Path: /v1/echo?x=1" "$WORK/head.txt"
    grep -qi "^X-Seen-Host: 127.0.0.1:$port" "$WORK/head.txt"
    grep -qi "^X-Seen-XFF: 127.0.0.1" "$WORK/head.txt"
    # And with twc's own client.
    run timeout 30 "$TWC" client http --data-binary "@$WORK/www/sub/big.bin" \
        -o "$WORK/back2.bin" "http://127.0.0.1:$port/api/echo"
    [ "$status" -eq 0 ]
    cmp "$WORK/back2.bin" "$WORK/www/sub/big.bin"
}

# A Python server that wants HTTP Basic credentials (RFC 7617): 401 unless the
# Authorization field is exactly "Basic base64(user:p@ss w)"; /go redirects
# to $2 (a URL). Each request's target, Host and Authorization go to
# $WORK/auth.log. Sets AUTHPORT.
start_python_auth() {
    local i
    cat >"$WORK/auth.py" <<'PY'
import base64, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WANT = "Basic " + base64.b64encode(b"user:p@ss w").decode()
d = sys.argv[1]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        got = self.headers.get("Authorization", "-")
        with open(d + "/auth.log", "a") as f:
            f.write("%s %s %s\n" % (self.path, self.headers.get("Host", "-"), got))
        if self.path == "/go":
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", sys.argv[2].replace("PORT", str(port)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if got != WANT:
            body = b"who are you?\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="twc"')
        else:
            body = b"welcome\n"
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

s = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(d + "/auth.port.tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(d + "/auth.port.tmp", d + "/auth.port")
s.serve_forever()
PY
    timeout 60 python3 "$WORK/auth.py" "$WORK" "$1" >/dev/null 2>&1 3>&- &
    PY_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$WORK/auth.port" ] && break
        sleep 0.1
    done
    AUTHPORT=$(cat "$WORK/auth.port")
    [ -n "$AUTHPORT" ]
}

@test "client http vs a python Basic-auth server: credentials in the URL" {
    start_python_auth "http://127.0.0.1:PORT/secret"
    local base="127.0.0.1:$AUTHPORT"
    run timeout 10 "$TWC" client http -f "http://user:p%40ss%20w@$base/secret"
    [ "$status" -eq 0 ]
    [ "$output" = "welcome" ]
    # The userinfo goes in Authorization only: not in the target nor in Host.
    grep -qx "/secret $base Basic dXNlcjpwQHNzIHc=" "$WORK/auth.log"
    [ "$(grep -c user "$WORK/auth.log")" = 0 ]
    run timeout 10 "$TWC" client http -f "http://$base/secret"
    [ "$status" -eq 22 ]
    run timeout 10 "$TWC" client http -f "http://user:wrong@$base/secret"
    [ "$status" -eq 22 ]
    [[ "$output" != *wrong* ]]
    # A -H Authorization wins over the URL's.
    run timeout 10 "$TWC" client http -f -H "Authorization: Basic dXNlcjpwQHNzIHc=" \
        "http://user:wrong@$base/secret"
    [ "$status" -eq 0 ]
    [ "$output" = "welcome" ]
    # -L on the same origin keeps them.
    run timeout 10 "$TWC" client http -f -L "http://user:p%40ss%20w@$base/go"
    [ "$status" -eq 0 ]
    [ "$output" = "welcome" ]
    # twc web --proxy sends an upstream URL's credentials too.
    start_server web --listen tcp:0:interface=127.0.0.1 --path "$WORK/www" \
        --proxy "/up=http://user:p%40ss%20w@$base/"
    local port
    port=$(port_of tcp)
    run timeout 10 "$TWC" client http -f "http://127.0.0.1:$port/up/secret"
    [ "$status" -eq 0 ]
    [ "$output" = "welcome" ]
}

@test "client http vs a python Basic-auth server: -L to another host drops URL credentials" {
    need getent
    getent hosts localhost | grep -q '^127\.0\.0\.1' || skip "localhost is not 127.0.0.1 here"
    # Same server, but "localhost" is another host name: another origin.
    start_python_auth "http://localhost:PORT/secret"
    run timeout 10 "$TWC" client http -f -L "http://user:p%40ss%20w@127.0.0.1:$AUTHPORT/go"
    [ "$status" -eq 22 ]
    grep -qx "/go 127.0.0.1:$AUTHPORT Basic dXNlcjpwQHNzIHc=" "$WORK/auth.log"
    grep -qx "/secret localhost:$AUTHPORT -" "$WORK/auth.log"
}
