#!/usr/bin/env bash
# DNS benchmark (issue 8): `twc dns` side by side with NSD (the same data as a
# zone), dnsmasq (the same hosts file) and `twistd3 dns` (the same hosts file),
# measured with dnsperf on loopback: A lookups over 1,000 names, DNS_BENCH_SECONDS
# (default 10) per server, each server pinned to CPU 0 and dnsperf to CPU 1.
#
#   tests/bench/dns_bench.sh            (TWC=path/to/twc, default build/release/twc)
#
# Prints queries/s, average latency, lost queries and the server's CPU time per
# query for each server (best of DNS_BENCH_ROUNDS rounds, default 2), then the
# ratios of twc to the others. Standalone: tests/bench/run.sh may call it.
#
# nsd and dnsperf are installed with apt here if missing (nothing else installs
# them). The nsd package must never run a system daemon on port 53: policy-rc.d
# forbids starting services during the install, and our nsd runs in the
# foreground (-d) with its own config on a high loopback port.
set -euo pipefail

SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
TWC=${TWC:-$SRCDIR/build/release/twc}
SECONDS_PER=${DNS_BENCH_SECONDS:-10}
NAMES=${DNS_BENCH_NAMES:-1000}
SERVER_CPU=${DNS_BENCH_SERVER_CPU:-0}
CLIENT_CPU=${DNS_BENCH_CLIENT_CPU:-1}
CLIENTS=${DNS_BENCH_CLIENTS:-20} # dnsperf's simulated clients (sockets)
ROUNDS=${DNS_BENCH_ROUNDS:-2}    # servers take turns; the best round of each counts

die() {
    echo "dns_bench: $*" >&2
    exit 1
}

[ -x "$TWC" ] || die "twc binary not found: $TWC (run make)"

# ---- Tools -------------------------------------------------------------------

install_missing() {
    local missing=()
    command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf)
    [ -x /usr/sbin/nsd ] || missing+=(nsd)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || return 0
    echo "dns_bench: installing ${missing[*]} with apt" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    # Forbid service starts during the install (invoke-rc.d honours
    # policy-rc.d; exit 101 = action forbidden), unless one exists already.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" &&
            made_policy=1
    fi
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >&2 ||
        echo "dns_bench: apt-get install ${missing[*]} failed" >&2
    [ "$made_policy" = 1 ] && $sudo rm -f "$policy"
    # A daemon the package started anyway (no policy-rc.d support) is stopped.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nsd 2>/dev/null; then
        $sudo systemctl stop nsd || true
    fi
    return 0
}
install_missing

WORK=$(mktemp -d /tmp/twc-dnsbench.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- Data --------------------------------------------------------------------

"$SRCDIR/tests/bench/dns_bench_data.sh" "$WORK" "$NAMES"

# free_port: a port free for both UDP and TCP on 127.0.0.1.
free_port() {
    python3 - <<'EOF'
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
EOF
}

# wait_answer PORT: until the server answers one query (bounded, 10 s).
wait_answer() {
    local i
    for ((i = 0; i < 100; i++)); do
        if dig +time=1 +tries=1 +short @127.0.0.1 -p "$1" host0.bench.test A 2>/dev/null |
            grep -q '^10\.'; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# ---- Load --------------------------------------------------------------------

# cpu_ticks PID: user+system clock ticks of PID and all its descendants (NSD
# serves from a grandchild process).
cpu_ticks() {
    local p total=0
    for p in $(ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            for (p in parent) {
                q = p
                while (q != "" && q != root && q in parent && q != parent[q]) q = parent[q]
                if (q == root) print p
            }
        }'); do
        [ -r "/proc/$p/stat" ] || continue
        # utime + stime, counted after "(comm)", which may hold spaces ("nsd: main").
        total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo "$total"
}

# measure NAME PORT PID: run the load; print "NAME qps latency_ms lost sent cpu".
RESULTS=()
measure() {
    local name=$1 port=$2 pid=$3 out cpu0 cpu1 ticks
    ticks=$(getconf CLK_TCK)
    cpu0=$(cpu_ticks "$pid")
    out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries.txt" \
        -l "$SECONDS_PER" -c "$CLIENTS" -q 2000 -t 2 2>&1) || true
    cpu1=$(cpu_ticks "$pid")
    local qps lat lost sent
    qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
    lat=$(awk '/Average Latency \(s\):/ {printf "%.3f", $4 * 1000}' <<<"$out")
    lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
    sent=$(awk '/Queries sent:/ {print $3}' <<<"$out")
    [ -n "$qps" ] || {
        echo "$out" >&2
        die "dnsperf failed against $name"
    }
    local cpu us
    cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" -v s="$SECONDS_PER" \
        'BEGIN {printf "%.0f", (b - a) / t / s * 100}')
    # Server CPU per answered query: meaningful even when dnsperf, not the
    # server, is the bottleneck (2 CPUs: one each).
    us=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" -v q="$qps" -v s="$SECONDS_PER" \
        'BEGIN {printf("%.2f", q > 0 ? (b - a) / t / (q * s) * 1e6 : 0)}')
    RESULTS+=("$name|$qps|$lat|$lost|$sent|$cpu|$us")
    printf '  %-22s %12.0f q/s  %8s ms avg  lost %s of %s  server CPU %s%% (%s us/query)\n' \
        "$name" "$qps" "$lat" "$lost" "$sent" "$cpu" "$us" >&2
}

command -v dnsperf >/dev/null 2>&1 || die "dnsperf is not installed (apt-get install dnsperf)"
command -v dig >/dev/null 2>&1 || die "dig is not installed (apt-get install bind9-dnsutils)"

# start NAME PORT CMD...: run a server pinned to SERVER_CPU; sets SPID.
start() {
    local name=$1 port=$2
    shift 2
    taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    if ! wait_answer "$port"; then
        cat "$WORK/$name.log" >&2
        die "$name does not answer on port $port"
    fi
}

stop() {
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
}

echo "dns_bench: $NAMES names, ${SECONDS_PER}s per server, $ROUNDS rounds, server on CPU" \
    "$SERVER_CPU, load on CPU $CLIENT_CPU" >&2

run_twc() {
    local label=$1
    shift
    local port
    port=$(free_port)
    start "$label" "$port" "$TWC" dns -p "$port" -i 127.0.0.1 --log-format=json \
        --log-level=warn "$@"
    measure "$label" "$port" "$SPID"
    stop
}

# write_nsd_conf PORT: NSD on 127.0.0.1:PORT, one server process, everything
# in WORK (no system paths, no daemon user, no remote control).
write_nsd_conf() {
    cat >"$WORK/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $1
    server-count: 1
    username: ""
    zonesdir: "$WORK"
    database: ""
    zonelistfile: "$WORK/zone.list"
    pidfile: "$WORK/nsd.pid"
    xfrdfile: "$WORK/xfrd.state"
    xfrdir: "$WORK"
    logfile: "$WORK/nsd.log"
    hide-version: yes
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: bench.test
    zonefile: "$WORK/bench.zone"
EOF
}

for ((round = 1; round <= ROUNDS; round++)); do
    echo "dns_bench: round $round of $ROUNDS" >&2
    run_twc "twc dns (hosts)" --hosts-file "$WORK/hosts"
    run_twc "twc dns (zone)" --bindzone "$WORK/bench.zone"

    if [ -x /usr/sbin/nsd ]; then
        port=$(free_port)
        write_nsd_conf "$port"
        start "NSD" "$port" /usr/sbin/nsd -d -c "$WORK/nsd.conf"
        measure "NSD" "$port" "$SPID"
        stop
    else
        echo "dns_bench: nsd not available; skipped" >&2
    fi

    DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
    if [ -x "$DNSMASQ" ]; then
        port=$(free_port)
        start "dnsmasq" "$port" "$DNSMASQ" --no-daemon --no-resolv --no-hosts \
            --addn-hosts="$WORK/hosts" --port="$port" --listen-address=127.0.0.1 \
            --bind-interfaces --pid-file="$WORK/dnsmasq.pid" --user="$(id -un)" --cache-size=10000
        measure "dnsmasq" "$port" "$SPID"
        stop
    else
        echo "dns_bench: dnsmasq not available; skipped" >&2
    fi

    if command -v twistd3 >/dev/null 2>&1; then
        port=$(free_port)
        start "twistd dns" "$port" twistd3 --nodaemon --pidfile= --logfile=- dns \
            --interface=127.0.0.1 -p "$port" --hosts-file="$WORK/hosts"
        measure "twistd dns" "$port" "$SPID"
        stop
    else
        echo "dns_bench: twistd3 not available; skipped" >&2
    fi
done

# ---- Report ------------------------------------------------------------------

# best NAME: NAME's round with the most queries/s (other load on the machine
# only ever slows a round down).
best() {
    local r
    for r in "${RESULTS[@]}"; do
        if [ "${r%%|*}" = "$1" ]; then
            echo "$r"
        fi
    done | sort -t'|' -k2,2 -g -r | head -n 1
}

# field_of NAME N: field N of NAME's best round (2 queries/s, 7 us/query).
field_of() {
    best "$1" | cut -d'|' -f"$2"
}

NAMES_RUN=()
for r in "${RESULTS[@]}"; do
    n=${r%%|*}
    [[ " ${NAMES_RUN[*]-} " == *" $n "* ]] || NAMES_RUN+=("$n")
done

echo
printf '%-22s %12s %10s %16s %8s %12s\n' "server" "queries/s" "avg ms" "lost/sent" "srv CPU" \
    "srv us/query"
for name in "${NAMES_RUN[@]}"; do
    IFS='|' read -r n q l lo se c u <<<"$(best "$name")"
    printf '%-22s %12.0f %10s %16s %7s%% %12s\n' "$n" "$q" "$l" "$lo/$se" "$c" "$u"
done
echo
echo "ratios (queries/s: higher is better for twc; CPU per query: base / twc)"
for base in "NSD" "dnsmasq" "twistd dns"; do
    b=$(field_of "$base" 2)
    [ -n "$b" ] || continue
    for t in "twc dns (hosts)" "twc dns (zone)"; do
        awk -v t="$t" -v b="$base" -v q="$(field_of "$t" 2)" -v bq="$b" \
            -v u="$(field_of "$t" 7)" -v bu="$(field_of "$base" 7)" \
            'BEGIN {printf("%-16s vs %-11s  queries/s %.2f   cpu/query %.2f\n", t, b, q / bq,
                    (u > 0 ? bu / u : 0))}'
    done
done
