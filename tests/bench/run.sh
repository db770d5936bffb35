#!/bin/sh
# The echo benchmark of issue 3, run by `make bench` (see tests/bench/README.md).
#
# Starts three echo servers on loopback, each on port 0 and pinned to one CPU:
# the hand-written epoll floor (tests/bench/ref/echo_epoll), `twc echo`, and
# Twisted's documented echo server (tests/bench/twisted_echo.py). The load client
# (tests/bench/loadgen), pinned to another CPU, measures for each:
#   idle      server RSS growth per idle connection (10,000 connections)
#   pingpong  64-byte round trips per second over 50 connections (best of rounds)
#   bulk      MiB/s echoed through one connection (1 GiB, every byte checked)
# Servers take turns within each round, so slow drift of the machine hits all
# of them alike. Prints a table, then the ratios against the goals of issue 3.
#
# Environment (defaults in brackets): BUILD [build/release], BENCH_ROUNDS [5],
# BENCH_CONNS [50], BENCH_WARMUP [1], BENCH_DURATION [5] (seconds),
# BENCH_BULK_BYTES [1073741824], BENCH_IDLE_CONNS [10000], BENCH_SERVER_CPU [0],
# BENCH_LOAD_CPU [1], BENCH_SERVERS ["ref twc twisted"], BENCH_STRICT [0]: when 1,
# a missed goal makes the exit status 1 (errors always do).
set -u

BUILD=${BUILD:-build/release}
TWC=$BUILD/twc
LOADGEN=$BUILD/tests/bench/loadgen
REF=$BUILD/tests/bench/ref/echo_epoll
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

ROUNDS=${BENCH_ROUNDS:-5}
CONNS=${BENCH_CONNS:-50}
WARMUP=${BENCH_WARMUP:-1}
DURATION=${BENCH_DURATION:-5}
BULK_BYTES=${BENCH_BULK_BYTES:-1073741824}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
SERVERS=${BENCH_SERVERS:-ref twc twisted}
STRICT=${BENCH_STRICT:-0}
NOFILE=$((IDLE_CONNS + 1024))
ADDR=127.0.0.1

status=0
contended=0
pids=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twc-bench.XXXXXX") || exit 1

say() { printf 'bench: %s\n' "$*"; }
fail() { printf 'bench: error: %s\n' "$*" >&2; status=1; }

# Running and not a zombie (a dead child stays visible to kill -0 until reaped).
alive() {
    st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

# Stop one process we started: TERM, up to 5 s, then KILL; reap it.
stop_pid() {
    if alive "$1"; then
        kill -TERM "$1" 2>/dev/null
        _si=0
        while alive "$1" && [ $_si -lt 50 ]; do
            sleep 0.1
            _si=$((_si + 1))
        done
        alive "$1" && kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
    forget_pid "$1"
}

# Drop a reaped pid from the list that cleanup stops.
forget_pid() {
    npids=""
    for _fp in $pids; do
        [ "$_fp" = "$1" ] || npids="$npids $_fp"
    done
    pids=$npids
}

cleanup() {
    for _cp in $pids; do
        stop_pid "$_cp"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# VmRSS of a process, in KiB.
rss_kib() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB.*/\1/p' "/proc/$1/status" 2>/dev/null
}

# Value of KEY in loadgen's "key=value ..." output line in FILE.
field() {
    tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | head -n 1
}

# Largest / smallest of the numbers on standard input (one per line); empty if none.
# Other load on the machine only ever slows a round down, so the best round is
# the least disturbed one.
best_max() {
    sort -g | tail -n 1
}
best_min() {
    sort -g | head -n 1
}

# Pin to a CPU when taskset is there and the CPU exists.
PIN_OK=0
if command -v taskset >/dev/null 2>&1 && taskset -c "$SERVER_CPU,$LOAD_CPU" true 2>/dev/null; then
    PIN_OK=1
else
    say "warning: cannot pin to CPUs $SERVER_CPU and $LOAD_CPU (taskset missing or too few CPUs): unpinned, numbers are noisier"
fi
pin() {
    cpu=$1
    shift
    if [ $PIN_OK = 1 ]; then
        exec taskset -c "$cpu" "$@"
    fi
    exec "$@"
}

# start_server NAME COMMAND...: start it in the background with room for the idle
# connections, and read its port from its `listening` JSON line. Sets pid_NAME
# and port_NAME; returns non-zero if it did not come up within 10 s.
start_server() {
    name=$1
    shift
    log=$tmp/$name.log
    (
        ulimit -n "$NOFILE" 2>/dev/null ||
            echo "bench: cannot raise the fd limit to $NOFILE; idle test may fail" >&2
        pin "$SERVER_CPU" "$@"
    ) >"$log" 2>&1 &
    spid=$!
    pids="$pids $spid"
    i=0
    while :; do
        sport=$(grep '"listening"' "$log" 2>/dev/null | head -n 1 |
            sed -n 's/.*"port":[[:space:]]*\([0-9][0-9]*\).*/\1/p')
        if [ -n "$sport" ]; then
            eval "pid_$name=$spid port_$name=$sport"
            say "$name: pid $spid listening on $ADDR:$sport"
            return 0
        fi
        if ! alive "$spid"; then
            fail "$name exited at startup; its output:"
            sed 's/^/    /' "$log" >&2
            stop_pid "$spid"
            return 1
        fi
        i=$((i + 1))
        if [ $i -ge 100 ]; then
            fail "$name: no listening event within 10 s"
            stop_pid "$spid"
            return 1
        fi
        sleep 0.1
    done
}

server_alive() {
    eval "p=\$pid_$1"
    if ! alive "$p"; then
        fail "$1 server (pid $p) died; last output:"
        tail -n 20 "$tmp/$1.log" | sed 's/^/    /' >&2
        return 1
    fi
}

# idle NAME: RSS growth per verified idle connection, in KiB; sets idle_NAME.
measure_idle() {
    eval "p=\$pid_$1 port=\$port_$1"
    out=$tmp/$1.idle.out
    rss0=$(rss_kib "$p")
    (pin "$LOAD_CPU" "$LOADGEN" idle -c "$IDLE_CONNS" -H 120 "$ADDR" "$port") \
        >"$out" 2>"$out.err" &
    lpid=$!
    pids="$pids $lpid"
    i=0
    while ! grep -q '^ready' "$out" 2>/dev/null; do
        if ! alive "$lpid" || [ $i -ge 900 ]; then
            fail "$1 idle: loadgen gave no ready line after $((i / 10)) s: $(cat "$out.err")"
            stop_pid "$lpid"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    rss1=$(rss_kib "$p")
    kill -USR1 "$lpid"
    wait "$lpid"
    rc=$?
    forget_pid "$lpid"
    if [ $rc != 0 ]; then
        fail "$1 idle: loadgen exit $rc: $(cat "$out.err")"
        return 1
    fi
    server_alive "$1" || return 1
    v=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE_CONNS" 'BEGIN { printf "%.3f", (b - a) / n }')
    eval "idle_$1=$v"
    say "$1 idle: $IDLE_CONNS connections, RSS $rss0 -> $rss1 KiB, $v KiB/conn"
}

# pingpong NAME ROUND: appends rate and server ns/msg to per-server files.
measure_pingpong() {
    eval "p=\$pid_$1 port=\$port_$1"
    out=$tmp/$1.pp.$2
    if ! (pin "$LOAD_CPU" "$LOADGEN" pingpong -c "$CONNS" -w "$WARMUP" -d "$DURATION" \
        -P "$p" "$ADDR" "$port") >"$out" 2>"$out.err"; then
        fail "$1 pingpong: $(cat "$out.err")"
        return 1
    fi
    server_alive "$1" || return 1
    field "$out" rate >>"$tmp/$1.pp.rate"
    field "$out" server_ns_per_msg >>"$tmp/$1.pp.ns"
    # On a quiet machine one side of a pingpong is always the bottleneck, busy
    # all the time; if neither is, something else took the CPUs.
    if awk -v c="$(field "$out" client_cpu)" -v s="$(field "$out" server_cpu)" \
        'BEGIN { exit !(c < 0.9 && s < 0.9) }'; then
        contended=$((contended + 1))
    fi
    say "$1 pingpong round $2: $(cat "$out")"
}

# bulk NAME ROUND: appends MiB/s to a per-server file.
measure_bulk() {
    eval "p=\$pid_$1 port=\$port_$1"
    out=$tmp/$1.bulk.$2
    if ! (pin "$LOAD_CPU" "$LOADGEN" bulk -b "$BULK_BYTES" -T 60 -P "$p" "$ADDR" "$port") \
        >"$out" 2>"$out.err"; then
        fail "$1 bulk: $(cat "$out.err")"
        return 1
    fi
    server_alive "$1" || return 1
    field "$out" rate_mib >>"$tmp/$1.bulk.rate"
    field "$out" server_ms_per_gib >>"$tmp/$1.bulk.ms"
    say "$1 bulk round $2: $(cat "$out")"
}

# ---- prerequisites ----------------------------------------------------------

for f in "$LOADGEN" "$REF"; do
    if [ ! -x "$f" ]; then
        echo "bench: $f missing: run 'make bench'" >&2
        exit 1
    fi
done

find_python() {
    for py in /usr/bin/python3 python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import twisted' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

active=""
for s in $SERVERS; do
    case $s in
    ref) active="$active ref" ;;
    twc)
        if [ -x "$TWC" ]; then
            active="$active twc"
        else
            fail "twc: $TWC missing; skipping it"
        fi
        ;;
    twisted)
        PY=$(find_python)
        if [ -z "$PY" ] && [ -f "$ROOT/packaging/install-deps.sh" ]; then
            say "python3-twisted missing: running packaging/install-deps.sh"
            sh "$ROOT/packaging/install-deps.sh" >&2
            PY=$(find_python)
        fi
        if [ -n "$PY" ]; then
            active="$active twisted"
        else
            say "twisted: skipped (python3-twisted is not installed)"
        fi
        ;;
    *) fail "unknown server '$s' in BENCH_SERVERS" ;;
    esac
done

say "$(nproc 2>/dev/null || echo '?') CPUs; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU;" \
    "$ROUNDS round(s) of pingpong (${CONNS} conns, ${WARMUP}s warmup + ${DURATION}s)" \
    "and bulk ($BULK_BYTES bytes); idle $IDLE_CONNS conns"

# ---- start the servers ------------------------------------------------------

started=""
for s in $active; do
    case $s in
    ref) start_server ref "$REF" -a "$ADDR" -p 0 && started="$started ref" ;;
    twc)
        start_server twc "$TWC" echo --log-format=json --log-level=warn \
            --listen "tcp:0:interface=$ADDR" && started="$started twc"
        ;;
    twisted) start_server twisted "$PY" "$HERE/twisted_echo.py" 0 && started="$started twisted" ;;
    esac
done

# ---- measure ----------------------------------------------------------------

# Idle first, on fresh servers: memory freed by the other tests would otherwise
# be reused for idle connections and hide their cost.
ok=""
for s in $started; do
    measure_idle "$s" && ok="$ok $s"
done
started=$ok

r=1
while [ $r -le "$ROUNDS" ]; do
    ok=""
    for s in $started; do
        measure_pingpong "$s" $r && measure_bulk "$s" $r && ok="$ok $s"
    done
    started=$ok
    r=$((r + 1))
done

for s in $active; do
    eval "p=\${pid_$s:-}"
    [ -n "$p" ] && stop_pid "$p"
done

# ---- report -----------------------------------------------------------------

label() {
    case $1 in
    ref) echo "ref epoll" ;;
    twc) echo "twc echo" ;;
    twisted) echo "Twisted" ;;
    esac
}

echo
printf '%-10s %14s %11s %11s %12s %14s\n' server "pingpong msg/s" "srv ns/msg" "bulk MiB/s" \
    "srv ms/GiB" "idle KiB/conn"
for s in $active; do
    pp=$(cat "$tmp/$s.pp.rate" 2>/dev/null | best_max)
    ns=$(cat "$tmp/$s.pp.ns" 2>/dev/null | best_min)
    bk=$(cat "$tmp/$s.bulk.rate" 2>/dev/null | best_max)
    bms=$(cat "$tmp/$s.bulk.ms" 2>/dev/null | best_min)
    eval "id=\${idle_$s:-}"
    eval "pp_$s=\${pp:-} ns_$s=\${ns:-} bulk_$s=\${bk:-}"
    printf '%-10s %14s %11s %11s %12s %14s\n' "$(label "$s")" "${pp:-n/a}" "${ns:-n/a}" \
        "${bk:-n/a}" "${bms:-n/a}" "${id:-n/a}"
done
echo "(best of $ROUNDS round(s); srv ns/msg and ms/GiB: server CPU time per round trip and per GiB echoed)"
if [ "$contended" -gt 0 ]; then
    echo "warning: in $contended pingpong round(s) neither the server nor the load client had" \
        "90% of its CPU: other load on the machine; rates are unreliable, ns/msg less so"
fi
echo

missed=0
# ratio LABEL A B OP GOAL: print A/B against a goal (op ge or gt).
ratio() {
    if [ -z "$2" ] || [ -z "$3" ]; then
        printf '%-30s %8s\n' "$1" "n/a"
        return
    fi
    line=$(awk -v a="$2" -v b="$3" -v op="$4" -v g="$5" 'BEGIN {
        r = (b > 0) ? a / b : 0
        met = (op == "ge") ? (r >= g) : (r > g)
        printf "%8.3f   goal %s %s: %s", r, (op == "ge") ? ">=" : ">", g, met ? "met" : "MISSED"
    }')
    printf '%-30s %s\n' "$1" "$line"
    case $line in *MISSED) missed=1 ;; esac
}

ratio "twc/ref pingpong" "${pp_twc:-}" "${pp_ref:-}" ge 0.95
ratio "twc/ref bulk" "${bulk_twc:-}" "${bulk_ref:-}" ge 0.95
ratio "twc/Twisted pingpong" "${pp_twc:-}" "${pp_twisted:-}" gt 3
# Context for the line above: the floor's own lead over Twisted on this machine.
if [ -n "${pp_ref:-}" ] && [ -n "${pp_twisted:-}" ]; then
    printf '%-30s %s\n' "ref/Twisted pingpong" \
        "$(awk -v a="$pp_ref" -v b="$pp_twisted" 'BEGIN { printf "%8.3f   (the floor itself, for scale)", a / b }')"
fi
if [ -n "${ns_twc:-}" ] && [ -n "${ns_ref:-}" ]; then
    printf '%-30s %s\n' "ref/twc server CPU per msg" \
        "$(awk -v a="$ns_ref" -v b="$ns_twc" 'BEGIN { printf "%8.3f   (1.0 = twc costs what the floor costs)", a / b }')"
fi
if [ -n "${ns_twc:-}" ] && [ -n "${ns_twisted:-}" ]; then
    printf '%-30s %s\n' "Twisted/twc server CPU per msg" \
        "$(awk -v a="$ns_twisted" -v b="$ns_twc" 'BEGIN { printf "%8.3f", a / b }')"
fi
if [ -n "${idle_twc:-}" ]; then
    printf '%-30s %s\n' "twc idle KiB/conn" \
        "$(awk -v v="$idle_twc" 'BEGIN { printf "%8.3f   goal <= 0.5: %s", v, (v <= 0.5) ? "met" : "MISSED" }')"
    awk -v v="$idle_twc" 'BEGIN { exit !(v > 0.5) }' && missed=1
else
    printf '%-30s %8s\n' "twc idle KiB/conn" "n/a"
fi

# The other servers' benchmarks (TLS echo, DNS, web) are standalone scripts that
# print their own ratios; run each that exists, in this same run.
for extra in tls dns web; do
    script="$HERE/${extra}_bench.sh"
    [ -f "$script" ] || continue
    echo
    echo "=== bench: $extra ($script)"
    BUILD="$BUILD" bash "$script" || status=1
done

if [ $status != 0 ]; then
    echo "bench: FAILED (see errors above)"
elif [ $missed = 1 ] && [ "$STRICT" = 1 ]; then
    echo "bench: goals missed (BENCH_STRICT=1)"
    status=1
fi
exit $status
