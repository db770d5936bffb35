#!/bin/sh
# TLS echo benchmark (issue 5): `twc echo --listen ssl:0:...` beside C
# references, on loopback, each server pinned to one CPU and the client to
# another with taskset. Standalone; prints its own table and ratio lines.
#
#   handshakes/s  full handshakes (no resumption, TLS 1.3, P-256 ECDSA
#                 certificate) per second, measured by `openssl s_time -new`
#                 for TLS_BENCH_SECONDS against
#                   twc echo          and
#                   openssl s_server  (the reference: OpenSSL's own server,
#                                      same library, same certificate)
#   bulk MiB/s    TLS_BENCH_BULK_BYTES echoed through one TLS connection (the
#                 client writes and reads concurrently, in one thread, and
#                 counts the bytes;
#                 MiB/s from first write to last byte) against
#                   twc echo          and
#                   socat OPENSSL-LISTEN ... PIPE  (the reference: s_server has
#                                      no echo mode; socat's PIPE address echoes
#                                      every byte back, a plain C select() loop
#                                      over the same OpenSSL, with a 64 KiB
#                                      buffer). The client is Python's ssl
#                                      module (C OpenSSL underneath), the same
#                                      for both servers.
# Bulk runs TLS_BENCH_ROUNDS times per server, servers taking turns; the
# median is shown. The whole run takes well under a minute.
#
# Environment (defaults in brackets): BUILD [build/release], TWC [$BUILD/twc],
# TLS_BENCH_SECONDS [5], TLS_BENCH_BULK_BYTES [268435456], TLS_BENCH_ROUNDS [3],
# BENCH_SERVER_CPU [0], BENCH_LOAD_CPU [1].
# Exit status: 0, or 1 when a measurement failed (the error is printed).
set -u

BUILD=${BUILD:-build/release}
TWC=${TWC:-$BUILD/twc}
SECONDS_HS=${TLS_BENCH_SECONDS:-5}
BULK_BYTES=${TLS_BENCH_BULK_BYTES:-268435456}
ROUNDS=${TLS_BENCH_ROUNDS:-3}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}

status=0
pids=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twc-tls-bench.XXXXXX") || exit 1

say() { printf 'tls-bench: %s\n' "$*"; }
fail() { printf 'tls-bench: error: %s\n' "$*" >&2; status=1; }

# Stop one process we started (TERM, up to 5 s, then KILL), by pid.
stop_pid() {
    if kill -0 "$1" 2>/dev/null; then
        kill -TERM "$1" 2>/dev/null
        i=0
        while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
}

cleanup() {
    for p in $pids; do
        stop_pid "$p"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

for tool in openssl python3 taskset socat; do
    command -v "$tool" >/dev/null 2>&1 || {
        say "skipped: $tool is not installed"
        exit 0
    }
done
[ -x "$TWC" ] || {
    fail "no twc binary at $TWC (make first)"
    exit 1
}
cpus=$(nproc)
if [ "$cpus" -le "$SERVER_CPU" ] || [ "$cpus" -le "$LOAD_CPU" ]; then
    SERVER_CPU=0
    LOAD_CPU=0
    say "only $cpus CPU(s): server and client share CPU 0"
fi

# A CA-less self-signed P-256 certificate for 127.0.0.1 (the clients do not
# verify: the handshake cost is the same).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || {
    fail "cannot make a certificate with openssl"
    exit 1
}

# free_port: a loopback port nothing listens on right now (for socat, which
# cannot report the port the kernel picked).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (at most 5 s).
wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 5
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# ---- servers: each sets PORT and SPID ------------------------------------------

start_twc() {
    taskset -c "$SERVER_CPU" "$TWC" echo --log-format=json --log-level=info \
        --listen "ssl:0:privateKey=$tmp/key.pem:certKey=$tmp/cert.pem:interface=127.0.0.1" \
        </dev/null >/dev/null 2>"$tmp/twc.log" &
    SPID=$!
    pids="$pids $SPID"
    i=0
    PORT=""
    while [ -z "$PORT" ] && [ $i -lt 100 ]; do
        PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/twc.log" \
            2>/dev/null | head -n 1)
        kill -0 "$SPID" 2>/dev/null || break
        [ -n "$PORT" ] || sleep 0.05
        i=$((i + 1))
    done
    if [ -z "$PORT" ]; then
        fail "twc echo did not listen on ssl: ($(head -c 300 "$tmp/twc.log"))"
        return 1
    fi
}

start_s_server() {
    # s_server serves one connection at a time, which is what s_time needs.
    # It quits at EOF on stdin: give it a FIFO opened read-write, which never
    # ends (and no extra process to clean up).
    PORT=$(free_port)
    [ -p "$tmp/hold" ] || mkfifo "$tmp/hold"
    taskset -c "$SERVER_CPU" openssl s_server -accept "127.0.0.1:$PORT" \
        -cert "$tmp/cert.pem" -key "$tmp/key.pem" -quiet -naccept 1000000 \
        <>"$tmp/hold" >"$tmp/s_server.out" 2>&1 &
    SPID=$!
    pids="$pids $SPID"
    wait_port "$PORT" || {
        fail "openssl s_server did not listen on $PORT"
        return 1
    }
}

start_socat() {
    PORT=$(free_port)
    taskset -c "$SERVER_CPU" socat -b 65536 \
        "OPENSSL-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0" \
        PIPE 2>"$tmp/socat.log" &
    SPID=$!
    pids="$pids $SPID"
    wait_port "$PORT" || {
        fail "socat did not listen on $PORT"
        return 1
    }
}

stop_server() {
    stop_pid "$SPID"
    pids=$(printf '%s\n' $pids | grep -vx "$SPID" | tr '\n' ' ')
}

# ---- measurements -------------------------------------------------------------

# handshakes PORT: full handshakes per second, from s_time's "N connections in
# T real seconds".
handshakes() {
    out=$(taskset -c "$LOAD_CPU" timeout $((SECONDS_HS + 10)) openssl s_time \
        -connect "127.0.0.1:$1" -new -time "$SECONDS_HS" 2>&1)
    echo "$out" | awk '/connections in [0-9.]+ real seconds/ {
        for (i = 1; i <= NF; i++) if ($i == "connections") n = $(i - 1);
        for (i = 1; i <= NF; i++) if ($i == "real") t = $(i - 1);
        if (t > 0) { printf "%.0f\n", n / t; exit } }'
}

# bulk PORT: MiB/s of BULK_BYTES echoed through one connection.
bulk() {
    # One thread, non-blocking: an SSL object must not be read and written
    # from two threads at once.
    taskset -c "$LOAD_CPU" timeout 30 python3 - "$1" "$BULK_BYTES" <<'EOF'
import select, socket, ssl, sys, time
port, total = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
s.setblocking(False)
chunk = memoryview(bytes(range(256)) * 1024)  # 256 KiB
sent = got = 0
start = time.monotonic()
deadline = start + 25
while got < total:
    if time.monotonic() > deadline:
        sys.exit("stalled: sent %d, got %d of %d bytes" % (sent, got, total))
    r, w, _ = select.select([s], [s] if sent < total else [], [], 1)
    if w:
        try:
            sent += s.send(chunk[:min(len(chunk), total - sent)])
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
    if r or s.pending():
        try:
            while True:
                b = s.recv(262144)
                if not b:
                    sys.exit("closed after %d of %d bytes" % (got, total))
                got += len(b)
                if not s.pending():
                    break
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
elapsed = time.monotonic() - start
s.close()
print("%.1f" % (total / 1048576 / elapsed))
EOF
}

# cpu_ticks PID: the process's user + system CPU time, in clock ticks.
cpu_ticks() {
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

say "twc: $TWC; server CPU $SERVER_CPU, client CPU $LOAD_CPU; $SECONDS_HS s of handshakes," \
    "$((BULK_BYTES / 1048576)) MiB bulk x $ROUNDS"

hs_twc=""
hs_ref=""
us_twc=""
us_ref=""
TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# measure_hs VAR_RATE VAR_COST NAME: handshakes per second against the server
# just started, and its CPU microseconds per handshake (meaningful even when
# s_time, not the server, is the bottleneck).
measure_hs() {
    c0=$(cpu_ticks "$SPID")
    rate=$(handshakes "$PORT")
    c1=$(cpu_ticks "$SPID")
    if [ -z "$rate" ] || [ -z "$c0" ] || [ -z "$c1" ]; then
        fail "s_time against $3 gave no figure"
        return
    fi
    eval "$1=\$rate"
    eval "$2=\$(awk -v a=\"\$c0\" -v b=\"\$c1\" -v r=\"\$rate\" -v s=\"\$SECONDS_HS\" -v t=\"\$TICK\" \
        'BEGIN { printf \"%.0f\", (b - a) / t * 1e6 / (r * s) }')"
}

if start_twc; then
    measure_hs hs_twc us_twc "twc echo"
    stop_server
fi
if start_s_server; then
    measure_hs hs_ref us_ref "openssl s_server"
    stop_server
fi

bt=""
br=""
r=0
while [ $r -lt "$ROUNDS" ]; do
    if start_twc; then
        v=$(bulk "$PORT") && bt="$bt $v" || fail "bulk against twc echo: $v"
        stop_server
    fi
    if start_socat; then
        v=$(bulk "$PORT") && br="$br $v" || fail "bulk against socat: $v"
        stop_server
    fi
    r=$((r + 1))
done
bulk_twc=$(median $bt)
bulk_ref=$(median $br)

printf '%-22s %14s %16s %12s\n' server "handshakes/s" "srv us/handshake" "bulk MiB/s"
printf '%-22s %14s %16s %12s\n' "twc echo" "${hs_twc:-n/a}" "${us_twc:-n/a}" "${bulk_twc:-n/a}"
printf '%-22s %14s %16s %12s\n' "openssl s_server" "${hs_ref:-n/a}" "${us_ref:-n/a}" "-"
printf '%-22s %14s %16s %12s\n' "socat PIPE" "-" "-" "${bulk_ref:-n/a}"

ratio() {
    if [ -z "$2" ] || [ -z "$3" ]; then
        printf '%-40s %8s\n' "$1" "n/a"
        return
    fi
    printf '%-40s %s\n' "$1" "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%8.3f", a / b }')"
}
ratio "twc/s_server handshakes per s" "$hs_twc" "$hs_ref"
ratio "s_server/twc server CPU per handshake" "${us_ref:-}" "${us_twc:-}"
ratio "twc/socat bulk MiB/s" "$bulk_twc" "$bulk_ref"
exit $status
