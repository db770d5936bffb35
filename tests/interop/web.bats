#!/usr/bin/env bats
# `twc web` against real HTTP clients: curl (ranges, conditional requests,
# keep-alive reuse, HTTP/1.0, HTTPS), wget -r mirroring, Python's http.client
# and raw-socket pipelining, and Twisted's Agent.

load helpers

setup() {
    interop_setup
    need jq curl
    SITE=$WORK/site
    mkdir -p "$SITE/docs/deep" "$SITE/img"
    printf '<a href="docs/">docs</a> <a href="img/">img</a>\n' >"$SITE/index.html"
    printf 'doc one\n' >"$SITE/docs/one.txt"
    printf 'deep\n' >"$SITE/docs/deep/two.txt"
    head -c 300000 /dev/urandom >"$SITE/img/big.bin"
    head -c 1024 /dev/urandom >"$SITE/small.bin"
}

teardown() {
    interop_teardown
}

start_web() {
    start_server web --listen tcp:0:interface=127.0.0.1 --path "$SITE" "$@"
    PORT=$(port_of tcp)
    BASE=http://127.0.0.1:$PORT
}

@test "curl: a 300 KB file intact, HEAD, HTTP/1.0" {
    start_web
    curl -sS -o "$WORK/got" "$BASE/img/big.bin"
    cmp "$WORK/got" "$SITE/img/big.bin"
    run curl -sS -I "$BASE/img/big.bin"
    [[ "$output" == *"Content-Length: 300000"* ]]
    run curl -sS -0 -D - -o /dev/null "$BASE/small.bin"
    [[ "$output" == *"HTTP/1.1 200 OK"* ]]
    [[ "$output" == *"Connection: close"* ]]
    stop_server
}

@test "curl: single and multiple ranges, 416, If-Range" {
    start_web
    curl -sS -r 100-199 -o "$WORK/part" "$BASE/img/big.bin"
    cmp "$WORK/part" <(tail -c +101 "$SITE/img/big.bin" | head -c 100)
    run curl -sS -r 0-1,10-11 -D - -o /dev/null "$BASE/small.bin"
    [[ "$output" == *"206 Partial Content"* ]]
    [[ "$output" == *"multipart/byteranges"* ]]
    # Several ranges of a file too big for the memory cache (read from disk).
    run curl -sS -r 0-9,1000-1009,299990- -o "$WORK/mp" -w '%{http_code} %{size_download}' \
        "$BASE/img/big.bin"
    [ "$output" = "206 $(stat -c %s "$WORK/mp")" ]
    [ "$(grep -c -a 'Content-Range: bytes' "$WORK/mp")" -eq 3 ]
    run curl -s -o /dev/null -w '%{http_code}' -r 999999- "$BASE/small.bin"
    [ "$output" = "416" ]
    run curl -s -o /dev/null -w '%{http_code}' -r 0-9 -H 'If-Range: "stale"' "$BASE/small.bin"
    [ "$output" = "200" ]
    stop_server
}

@test "curl: conditional requests give 304 with ETag and with Last-Modified" {
    start_web
    local h etag lm
    h=$(curl -sSI "$BASE/docs/one.txt" | tr -d '\r')
    etag=$(sed -n 's/^ETag: //p' <<<"$h")
    lm=$(sed -n 's/^Last-Modified: //p' <<<"$h")
    run curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/docs/one.txt"
    [ "$output" = "304" ]
    run curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$BASE/docs/one.txt"
    [ "$output" = "304" ]
    # curl's own -z (time condition) agrees.
    run curl -s -o /dev/null -w '%{http_code}' -z "$lm" "$BASE/docs/one.txt"
    [ "$output" = "304" ]
    stop_server
}

@test "curl: keep-alive reuses one connection for several requests" {
    start_web
    run curl -sv -o /dev/null -o /dev/null -o /dev/null "$BASE/small.bin" "$BASE/docs/one.txt" "$BASE/"
    [[ "$output" == *"Re-using existing connection"* ]]
    [ "$(grep -c 'Connected to' <<<"$output")" -eq 1 ]
    stop_server
}

@test "wget -r mirrors the tree" {
    need wget
    start_web
    (cd "$WORK" && wget -q -r -np -nH -P mirror "$BASE/")
    cmp "$WORK/mirror/docs/one.txt" "$SITE/docs/one.txt"
    cmp "$WORK/mirror/docs/deep/two.txt" "$SITE/docs/deep/two.txt"
    cmp "$WORK/mirror/img/big.bin" "$SITE/img/big.bin"
    stop_server
}

@test "python http.client keep-alive and raw-socket pipelining" {
    need_python http.client
    start_web
    run timeout 20 "$PYTHON" - "$PORT" <<'PY'
import http.client, socket, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
for path in ["/small.bin", "/docs/one.txt", "/docs/one.txt"]:
    c.request("GET", path)
    r = c.getresponse()
    assert r.status == 200, r.status
    r.read()
sock = c.sock
assert sock is not None  # still the same connection
# Pipelining: five requests in one write, answers in order.
s = socket.create_connection(("127.0.0.1", port), timeout=5)
paths = ["/docs/one.txt", "/nope", "/docs/deep/two.txt", "/docs", "/docs/one.txt"]
s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
f = s.makefile("rb")
class Keep:  # one buffered reader shared by the responses; close() keeps it
    def __getattr__(self, n):
        return getattr(f, n)
    def close(self):
        pass
class Sock:
    def makefile(self, *a, **k):
        return Keep()
codes = []
for p in paths:
    r = http.client.HTTPResponse(Sock())
    r.begin()
    r.read()
    codes.append(r.status)
print(codes)
PY
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "[200, 404, 200, 301, 200]" ]
    stop_server
}

@test "Twisted's Agent fetches over a persistent connection" {
    need_python twisted
    start_web
    run timeout 30 "$PYTHON" "$BATS_TEST_DIRNAME/web_twisted_agent.py" "$BASE/img/big.bin" \
        "$SITE/img/big.bin"
    [ "$status" -eq 0 ]
    stop_server
}

@test "HTTPS with curl -k on an ssl: listener" {
    need openssl
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=localhost" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
    start_server web --listen "ssl:0:privateKey=$WORK/key.pem:certKey=$WORK/cert.pem:interface=127.0.0.1" \
        --path "$SITE"
    local port
    port=$(port_of tls 2>/dev/null || port_of ssl 2>/dev/null || port_of tcp)
    curl -sS -k -o "$WORK/got" "https://127.0.0.1:$port/img/big.bin"
    cmp "$WORK/got" "$SITE/img/big.bin"
    run curl -sS -k -v -o /dev/null "https://127.0.0.1:$port/small.bin" "https://127.0.0.1:$port/docs/one.txt"
    [[ "$output" == *"ALPN"*"http/1.1"* ]]
    [[ "$output" == *"Re-using existing connection"* ]]
    stop_server
}

@test "--proxy forwards a prefix to python3 -m http.server" {
    need_python http.server
    mkdir -p "$WORK/up/v1"
    printf 'upstream\n' >"$WORK/up/v1/x.txt"
    local up
    up=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    (cd "$WORK/up" && exec "$PYTHON" -m http.server --bind 127.0.0.1 "$up" >/dev/null 2>&1) &
    local upid=$!
    local i
    for ((i = 0; i < 50; i++)); do curl -s -o /dev/null "http://127.0.0.1:$up/" && break; sleep 0.1; done
    start_web --proxy "/api=http://127.0.0.1:$up/v1"
    run curl -sS "$BASE/api/x.txt"
    kill "$upid"
    wait "$upid" 2>/dev/null || true
    [ "$output" = "upstream" ]
    stop_server
}
