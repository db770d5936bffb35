#!/usr/bin/env bash
# HTTP benchmark (issue 7): `twc web` side by side with nginx (worker_processes
# 1, sendfile on, access_log off), h2o (one thread), lighttpd and `twistd3 web
# --path`, all serving the same folder on high loopback ports, measured with wrk
# on loopback (server pinned to CPU 0, wrk to CPU 1):
#   - requests/s and p99 latency for a 1 KiB file, keep-alive (wrk -t1 -c50);
#   - MiB/s for a 1 MiB file (wrk -t1 -c50);
#   - RSS per idle keep-alive connection (500 idle connections opened by python).
#
#   tests/bench/web_bench.sh        (TWC=path/to/twc, default build/release/twc)
#   WEB_BENCH_SECONDS=5 (per measurement)  WEB_BENCH_SERVERS="twc nginx h2o lighttpd twistd"
#   WEB_BENCH_ROUNDS=3 (round-robin rounds; each figure is the median)
#
# Prints one line per server and measurement, then the ratios of twc to each.
# Standalone (tests/bench/run.sh may call it); takes about 3-4 minutes.
# nginx, h2o, lighttpd, wrk and python3-twisted are installed with apt if
# missing; /usr/sbin/policy-rc.d forbids their daemons from starting during the
# install, and any that runs anyway is stopped. Every server here is started
# by this script, in the foreground, and killed by pid at exit.
set -euo pipefail

SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
TWC=${TWC:-$SRCDIR/build/release/twc}
SECS=${WEB_BENCH_SECONDS:-5}
SERVERS=${WEB_BENCH_SERVERS:-"twc nginx h2o lighttpd twistd"}
SCPU=${WEB_BENCH_SERVER_CPU:-0}
CCPU=${WEB_BENCH_CLIENT_CPU:-1}
IDLE_CONNS=${WEB_BENCH_IDLE_CONNS:-500}
ROUNDS=${WEB_BENCH_ROUNDS:-3}

die() { echo "web_bench: $*" >&2; exit 1; }
[ -x "$TWC" ] || die "twc binary not found: $TWC (run make)"

install_missing() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v h2o >/dev/null 2>&1 || missing+=(h2o)
    [ -x /usr/sbin/lighttpd ] || missing+=(lighttpd)
    command -v twistd3 >/dev/null 2>&1 || missing+=(python3-twisted)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || return 0
    echo "web_bench: installing ${missing[*]} with apt" >&2
    local sudo="" policy=/usr/sbin/policy-rc.d made_policy=0
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" &&
            made_policy=1
    fi
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >&2 ||
        echo "web_bench: apt-get install ${missing[*]} failed" >&2
    [ "$made_policy" = 1 ] && $sudo rm -f "$policy"
    local svc
    for svc in nginx h2o lighttpd; do
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
            $sudo systemctl stop "$svc" || true
        fi
        pkill_pidfile "/run/$svc.pid"
    done
    return 0
}
# A daemon started anyway (no systemd here) is stopped through its pid file.
pkill_pidfile() {
    [ -s "$1" ] || return 0
    local p
    p=$(cat "$1")
    kill -TERM "$p" 2>/dev/null || true
}
install_missing

WORK=$(mktemp -d /tmp/twc-webbench.XXXXXX)
PIDS=()
cleanup() {
    local p
    # PID holds the servers themselves (twistd runs below a subshell).
    for p in "${PIDS[@]}" ${PID[@]+"${PID[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/www" "$WORK/tmp"
chmod 755 "$WORK" # h2o run as root serves as nobody
head -c 1024 /dev/urandom >"$WORK/www/1k.bin"
head -c 1048576 /dev/urandom >"$WORK/www/1m.bin"

PORT_BASE=$((20000 + RANDOM % 20000))

wait_port() {
    local port=$1 i
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null "http://127.0.0.1:$port/1k.bin" && return 0
        sleep 0.1
    done
    return 1
}

start() { # name port -> pid in SPID
    local name=$1 port=$2
    case $name in
    twc)
        taskset -c "$SCPU" "$TWC" web --listen "tcp:$port:interface=127.0.0.1" --path "$WORK/www" \
            --log-level=error >"$WORK/twc.log" 2>&1 &
        ;;
    nginx)
        cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
error_log $WORK/nginx.err;
pid $WORK/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
    types { application/octet-stream bin; }
    server { listen 127.0.0.1:$port; root $WORK/www; }
}
EOF
        taskset -c "$SCPU" /usr/sbin/nginx -c "$WORK/nginx.conf" -e "$WORK/nginx.err" >/dev/null 2>&1 &
        ;;
    h2o)
        cat >"$WORK/h2o.conf" <<EOF
num-threads: 1
listen:
  host: 127.0.0.1
  port: $port
access-log: /dev/null
hosts:
  default:
    paths:
      /:
        file.dir: $WORK/www
EOF
        taskset -c "$SCPU" h2o -c "$WORK/h2o.conf" >"$WORK/h2o.log" 2>&1 &
        ;;
    lighttpd)
        cat >"$WORK/lighttpd.conf" <<EOF
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $port
server.max-keep-alive-requests = 100000000
server.max-connections = 4096
server.pid-file = "$WORK/lighttpd.pid"
EOF
        taskset -c "$SCPU" /usr/sbin/lighttpd -D -f "$WORK/lighttpd.conf" >"$WORK/lighttpd.log" 2>&1 &
        ;;
    twistd)
        (cd "$WORK" && taskset -c "$SCPU" twistd3 -n --pidfile= web --listen "tcp:$port:interface=127.0.0.1" \
            --path "$WORK/www" >"$WORK/twistd.log" 2>&1) &
        ;;
    esac
    SPID=$!
    PIDS+=("$SPID")
}

# The server's pid to read RSS from (twistd runs below a subshell).
server_pid() {
    local port=$1
    ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

wrk_run() { # port path -> "req/s p99_ms MiB/s"
    local out
    out=$(taskset -c "$CCPU" wrk -t1 -c50 -d"${SECS}s" --latency "http://127.0.0.1:$1$2" 2>&1)
    local rps p99 tr
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
    tr=$(awk '/^Transfer\/sec:/ {v=$2; if (v ~ /GB$/) {sub(/GB/,"",v); v=v*1024} else if (v ~ /MB$/) {sub(/MB/,"",v)} else if (v ~ /KB$/) {sub(/KB/,"",v); v=v/1024}; print v}' <<<"$out")
    echo "${rps:-0} ${p99:-0} ${tr:-0}"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

idle_rss() { # port pid -> KiB per idle connection
    local port=$1 pid=$2 before after
    before=$(rss_kib "$pid")
    python3 - "$port" "$IDLE_CONNS" "$pid" <<'PY' >"$WORK/idle.out"
import socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
for s in socks:
    s.settimeout(5)
    got = b""
    while b"\r\n\r\n" not in got or len(got) < 1024:
        got += s.recv(65536)
time.sleep(1.5)  # idle connections settle (twc gives buffers back after 1 s idle)
with open("/proc/%s/status" % pid) as f:
    for line in f:
        if line.startswith("VmRSS:"):
            print(line.split()[1])
PY
    after=$(cat "$WORK/idle.out")
    awk -v a="${after:-0}" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN {printf "%.1f", (a - b) / n}'
}

# All servers run at once (pinned to the same CPU; an idle one costs nothing),
# and the measurements go round-robin, ROUNDS times, each figure being the
# median of its rounds: a neighbour's load on a shared machine then hits every
# server alike instead of whichever ran at the time.
declare -A PORT PID RPS P99 MIBS RSS
declare -a UP=()
i=0
for s in $SERVERS; do
    case $s in
    nginx) [ -x /usr/sbin/nginx ] || { echo "web_bench: no nginx, skipped" >&2; continue; } ;;
    h2o) command -v h2o >/dev/null || { echo "web_bench: no h2o, skipped" >&2; continue; } ;;
    lighttpd) [ -x /usr/sbin/lighttpd ] || { echo "web_bench: no lighttpd, skipped" >&2; continue; } ;;
    twistd) command -v twistd3 >/dev/null || { echo "web_bench: no twistd3, skipped" >&2; continue; } ;;
    esac
    port=$((PORT_BASE + i))
    i=$((i + 1))
    start "$s" "$port"
    if ! wait_port "$port"; then
        echo "web_bench: $s did not start" >&2
        kill -TERM "$SPID" 2>/dev/null || true
        continue
    fi
    pid=$(server_pid "$port")
    PORT[$s]=$port PID[$s]=${pid:-$SPID}
    UP+=("$s")
    taskset -c "$CCPU" wrk -t1 -c50 -d1s "http://127.0.0.1:$port/1k.bin" >/dev/null 2>&1 || true # warm up
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

declare -A R_RPS R_P99 R_MIB
for ((round = 1; round <= ROUNDS; round++)); do
    for s in "${UP[@]}"; do
        read -r rps p99 _ < <(wrk_run "${PORT[$s]}" /1k.bin)
        read -r _ _ mib < <(wrk_run "${PORT[$s]}" /1m.bin)
        R_RPS[$s]+="$rps " R_P99[$s]+="$p99 " R_MIB[$s]+="$mib "
    done
done
for s in "${UP[@]}"; do
    RPS[$s]=$(tr ' ' '\n' <<<"${R_RPS[$s]}" | grep . | median)
    P99[$s]=$(tr ' ' '\n' <<<"${R_P99[$s]}" | grep . | median)
    MIBS[$s]=$(tr ' ' '\n' <<<"${R_MIB[$s]}" | grep . | median)
    RSS[$s]=$(idle_rss "${PORT[$s]}" "${PID[$s]}")
    printf '%-9s 1KiB: %10.0f req/s  p99 %7.2f ms   1MiB: %8.0f MiB/s   idle conn: %6s KiB\n' \
        "$s" "${RPS[$s]}" "${P99[$s]}" "${MIBS[$s]}" "${RSS[$s]}"
    echo "          rounds: req/s ${R_RPS[$s]}| MiB/s ${R_MIB[$s]}"
done

[ -n "${RPS[twc]:-}" ] || exit 0
echo
echo "ratios (twc / other; latency and RSS: other / twc, so > 1 means twc is better):"
for s in $SERVERS; do
    [ "$s" = twc ] && continue
    [ -n "${RPS[$s]:-}" ] || continue
    awk -v s="$s" -v r="${RPS[twc]}" -v ro="${RPS[$s]}" -v p="${P99[twc]}" -v po="${P99[$s]}" \
        -v m="${MIBS[twc]}" -v mo="${MIBS[$s]}" -v k="${RSS[twc]}" -v ko="${RSS[$s]}" 'BEGIN {
        printf "  vs %-9s 1KiB req/s x%.2f   p99 x%.2f   1MiB MiB/s x%.2f   idle RSS x%.2f\n", s,
            (ro > 0 ? r / ro : 0), (p > 0 ? po / p : 0), (mo > 0 ? m / mo : 0), (k > 0 ? ko / k : 0) }'
done
