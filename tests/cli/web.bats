#!/usr/bin/env bats
# twc web: static files, listings, safety, headers, access log, exit codes and
# the lifecycle (shared/CLI.md "web"), driven with curl.

load helpers

setup() {
    require jq curl
    SITE="$BATS_TEST_TMPDIR/site"
    mkdir -p "$SITE/sub" "$SITE/list"
    printf 'hello world\n' >"$SITE/a.txt"
    printf '<p>home</p>' >"$SITE/index.html"
    printf 'sub' >"$SITE/sub/index.htm"
    printf 'x' >"$SITE/list/<script>.txt"
    ln -s /etc/passwd "$SITE/out"
}

url() {
    echo "http://127.0.0.1:$(server_port w tcp)$1"
}

@test "web serves files, index and 404 on an ephemeral port; stops with exit 0" {
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE"
    run jq -r 'select(.event == "listening") | "\(.system) \(.proto)"' "$(server_log w)"
    [ "$output" = "web tcp" ]
    run curl -sS "$(url /a.txt)"
    [ "$output" = "hello world" ]
    run curl -sS "$(url /)"
    [ "$output" = "<p>home</p>" ]
    run curl -sS "$(url /sub/)"
    [ "$output" = "sub" ]
    run curl -s -o /dev/null -w '%{http_code}' "$(url /missing)"
    [ "$output" = "404" ]
    stop_server w
    [ "$status" -eq 0 ]
    jq -s -e 'any(.[]; .event == "stopped")' "$(server_log w)"
}

@test "web -p 0 gives a tcp listener" {
    start_server w web -p 0 --path "$SITE"
    [ "$(server_port w tcp)" -gt 0 ]
    run curl -sS "http://127.0.0.1:$(server_port w tcp)/a.txt"
    [ "$output" = "hello world" ]
}

@test "web redirects folders, lists them escaped, and --no-listing forbids" {
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE"
    run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$(url /sub)"
    [ "$output" = "301 $(url /sub/)" ]
    run curl -sS "$(url /list/)"
    [[ "$output" == *'href="%3Cscript%3E.txt">&lt;script&gt;.txt</a>'* ]]
    [[ "$output" != *"<script>"* ]]
    stop_server w
    start_server w2 web --listen tcp:0:interface=127.0.0.1 --path "$SITE" --no-listing
    run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(server_port w2 tcp)/list/"
    [ "$output" = "403" ]
}

@test "web never serves outside --path" {
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE"
    local p
    for p in /../../etc/passwd /%2e%2e/%2e%2e/etc/passwd /..%2f..%2fetc/passwd /out /a.txt%00 //etc/passwd; do
        run curl -s --path-as-is -o /dev/null -w '%{http_code}' "$(url "$p")"
        [[ "$output" == 40[34] ]] || { echo "$p gave $output"; false; }
    done
}

@test "web ranges, conditional requests, HEAD and 405" {
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE"
    run curl -sS -r 0-4 "$(url /a.txt)"
    [ "$output" = "hello" ]
    run curl -s -o /dev/null -w '%{http_code}' -r 50-60 "$(url /a.txt)"
    [ "$output" = "416" ]
    local etag
    etag=$(curl -sSI "$(url /a.txt)" | tr -d '\r' | sed -n 's/^ETag: //p')
    [ -n "$etag" ]
    run curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$(url /a.txt)"
    [ "$output" = "304" ]
    run curl -s -o /dev/null -w '%{http_code} %{size_download}' -I "$(url /a.txt)"
    [ "$output" = "200 0" ]
    run curl -s -D - -o /dev/null -X DELETE "$(url /a.txt)"
    [[ "$output" == *"405"* ]]
    [[ "$output" == *"Allow: GET, HEAD, OPTIONS"* ]]
}

@test "web --add-header, --mime-type and a single-file --path" {
    printf 'raw' >"$SITE/blob.zzz"
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE" \
        --add-header "X-Frame-Options: DENY" -m application/x-demo
    run curl -sSI "$(url /blob.zzz)"
    [[ "$output" == *"X-Frame-Options: DENY"* ]]
    [[ "$output" == *"Content-Type: application/x-demo"* ]]
    stop_server w
    start_server f web --listen tcp:0:interface=127.0.0.1 --path "$SITE/a.txt"
    run curl -sS "http://127.0.0.1:$(server_port f tcp)/"
    [ "$output" = "hello world" ]
}

@test "web -l writes Combined Log Format and reopens it on SIGHUP" {
    local log="$BATS_TEST_TMPDIR/access.log"
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE" -l "$log"
    curl -sS -A 'agent "q"' -e http://ref/ "$(url /a.txt)" >/dev/null
    local i
    for ((i = 0; i < 40; i++)); do [ -s "$log" ] && break; sleep 0.05; done
    run cat "$log"
    [[ "$output" =~ ^127\.0\.0\.1\ -\ -\ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8}\ \+0000\]\ \"GET\ /a.txt\ HTTP/1.1\"\ 200\ 12\ \"http://ref/\"\ \"agent\ \\\"q\\\"\"$ ]]
    mv "$log" "$log.1"
    kill -HUP "$(server_pid w)"
    sleep 0.3
    curl -sS "$(url /missing)" >/dev/null
    for ((i = 0; i < 40; i++)); do [ -s "$log" ] && break; sleep 0.05; done
    run cat "$log"
    [[ "$output" == *'"GET /missing HTTP/1.1" 404'* ]]
}

@test "web usage and startup errors exit with the documented codes" {
    run "$TWC" web --bogus
    [ "$status" -eq 64 ]
    run "$TWC" web --listen udp:0 --path "$SITE"
    [ "$status" -eq 64 ]
    run "$TWC" web --listen tcp:0 --add-header "no colon" --path "$SITE"
    [ "$status" -eq 64 ]
    run "$TWC" web --listen tcp:0 --path "$BATS_TEST_TMPDIR/none"
    [ "$status" -eq 66 ]
    [[ "$output" == "twc web: "* ]]
    run "$TWC" web --listen tcp:0 --proxy "nonsense"
    [ "$status" -eq 64 ]
}

@test "web keeps connections alive and answers pipelined requests in order" {
    require python3
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE"
    run python3 - "$(server_port w tcp)" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.count(b"HTTP/1.1 200 OK"), data.endswith(b"sub"))
PY
    [ "$output" = "4 True" ]
}

# An upstream for the proxy test: answers /ok (keep-alive), never answers
# /hang; writes its port to $1, then one line per request head to $2; exits
# by itself after 30 s.
hanging_upstream() {
    python3 - "$1" "$2" <<'PY'
import socket, sys, threading, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(30)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % s.getsockname()[1])
def serve(c):
    buf = b""
    while True:
        try:
            d = c.recv(4096)
        except OSError:
            return
        if not d:
            return
        buf += d
        while b"\r\n\r\n" in buf:
            head, buf = buf.split(b"\r\n\r\n", 1)
            line = head.split(b"\r\n")[0].decode()
            with open(sys.argv[2], "a") as f:
                f.write(line + "\n")
            if " /hang " not in line:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
end = time.time() + 30
conns = []
while time.time() < end:
    try:
        c, _ = s.accept()
    except OSError:
        break
    conns.append(c)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
}

@test "web stops in bounded time with a proxied request hanging upstream (exit 0, no leak)" {
    require python3
    export TWC_SHUTDOWN_GRACE_MS=300
    local portf="$BATS_TEST_TMPDIR/up.port" seen="$BATS_TEST_TMPDIR/up.seen" i
    hanging_upstream "$portf" "$seen" 3>&- &
    local up=$!
    for ((i = 0; i < 200; i++)); do [ -s "$portf" ] && break; sleep 0.05; done
    start_server w web --listen tcp:0:interface=127.0.0.1 --path "$SITE" \
        --proxy "/api=http://127.0.0.1:$(cat "$portf")"
    curl -s -m 10 -o /dev/null -w '%{http_code}' "$(url /api/hang)" >"$BATS_TEST_TMPDIR/curl.out" 3>&- &
    local client=$!
    for ((i = 0; i < 200; i++)); do grep -q ' /hang ' "$seen" 2>/dev/null && break; sleep 0.05; done
    grep -q ' /hang ' "$seen"
    # A second upstream connection, answered: it stays pooled (keep-alive)
    # until exit.
    run curl -sS -m 5 "$(url /api/ok)"
    [ "$output" = "ok" ]
    local t0=$SECONDS
    stop_server w
    local rc=$status
    wait_pid "$client" || true # curl: 52, empty reply
    kill "$up" 2>/dev/null
    wait "$up" 2>/dev/null || true
    [ "$rc" -eq 0 ]
    [ $((SECONDS - t0)) -le 3 ]
    [ "$(cat "$BATS_TEST_TMPDIR/curl.out")" = "000" ] # cut off, no response
    jq -s -e 'any(.[]; .event == "stopped")' "$(server_log w)"
    # No sanitizer report (ASan builds), no handle left at exit.
    ! grep -E 'Sanitizer|runtime error|live handles|still open' "$(server_log w)"
}
