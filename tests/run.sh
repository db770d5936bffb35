#!/usr/bin/env bash
# Run twc's test suites and sum their results.
#
#   tests/run.sh [SUITE...]      SUITE: unit cli interop fuzz-replay (default: these four)
#                                or style (tests/style.sh as one test; `make check` adds it)
#
# Environment:
#   BUILD=build/release  where `make` put the binaries (relative to the source root or absolute)
#   VALGRIND=1           run unit test programs under valgrind (leaks are errors)
#   V=1                  print every program's full output, not only failures
#   TEST_TIMEOUT=300     seconds each test program may run (600 under valgrind)
#
# Every test program speaks TAP: cmocka programs through CMOCKA_MESSAGE_OUTPUT=TAP,
# bats files through `bats --tap`. A program counts its "ok" lines as passed,
# "not ok" as failed and TAP skip directives as skipped; cmocka 1.1.5 writes a skip
# as "not ok N # SKIP name" and bats as "ok N name # skip reason". A program that
# exits non-zero without reporting a failure (a crash, a sanitizer report, a
# valgrind error, a timeout), or that reports fewer tests than its plan announced,
# counts as one more failure under its own name. A program with no TAP output at
# all (the fuzz corpus replays) is one test: its exit status decides.
#
# Output: one line per program that failed, with its diagnostics, one line per
# suite, the names of all failures, and last, always, exactly one line
#   N passed, N failed, N skipped
# The exit status is 1 when anything failed, 64 on a usage error.
set -u

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRCDIR" || exit 70

BUILD=${BUILD:-build/release}
case "$BUILD" in
/*) ;;
*) BUILD="$SRCDIR/$BUILD" ;;
esac
export TWC_BUILD="$BUILD"
export TWC_SRCDIR="$SRCDIR"
export TWC="$BUILD/twc"
export CMOCKA_MESSAGE_OUTPUT=TAP

VALGRIND=${VALGRIND:-0}
if [ "$VALGRIND" = 1 ]; then
    TEST_TIMEOUT=${TEST_TIMEOUT:-600}
else
    TEST_TIMEOUT=${TEST_TIMEOUT:-300}
fi
LOGDIR="$BUILD/test-logs"

DEFAULT_SUITES="unit cli interop fuzz-replay"
if [ $# -eq 0 ]; then
    # shellcheck disable=SC2086 # split the list on purpose
    set -- $DEFAULT_SUITES
fi
for s in "$@"; do
    case " style $DEFAULT_SUITES " in
    *" $s "*) ;;
    *)
        echo "usage: tests/run.sh [style|unit|cli|interop|fuzz-replay]..." >&2
        echo "0 passed, 1 failed, 0 skipped"
        exit 64
        ;;
    esac
done

total_pass=0
total_fail=0
total_skip=0
failures=()

# Results of the last run_program call.
p_pass=0
p_fail=0
p_skip=0

# Classify TAP on stdin; prints "pass fail skip plan tapped" and, on fd 3, the name
# of each failed test.
tap_count() {
    awk '
        /^1\.\.[0-9]+/ { sub(/^1\.\./, ""); plan += $0 + 0; next }
        /^not ok/ {
            if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) { skip++; next }
            fail++
            name = $0
            sub(/^not ok[ \t]*[0-9]*[ \t]*(-[ \t]+)?/, "", name)
            sub(/[ \t]+#[ \t]*[Tt][Oo][Dd][Oo].*$/, "", name)
            print name > "/dev/fd/3"
            next
        }
        /^ok/ {
            if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) skip++
            else pass++
            next
        }
        END { printf "%d %d %d %d %d\n", pass, fail, skip, plan, pass + fail + skip }
    '
}

# Print each failed test line of a TAP file with the "#" diagnostics after it.
tap_failures() {
    awk '
        /^not ok/ && $0 !~ /#[ \t]*[Ss][Kk][Ii][Pp]/ { show = 1; print "    " $0; next }
        /^(ok|not ok|1\.\.)/ { show = 0; next }
        show && /^#/ { print "    " $0 }
    ' "$1" | head -n 200
}

# run_program SUITE NAME COMMAND... : run one test program, count its results.
run_program() {
    local suite=$1 name=$2
    shift 2
    local base="$LOGDIR/$suite/${name//\//_}"
    mkdir -p "$LOGDIR/$suite"
    local out="$base.out" err="$base.err" names="$base.failed"

    local rc=0
    if [ "${V:-0}" = 1 ]; then
        echo "--- $suite/$name"
        timeout -k 10 "$TEST_TIMEOUT" "$@" </dev/null 2>"$err" | tee "$out"
        rc=${PIPESTATUS[0]}
    else
        timeout -k 10 "$TEST_TIMEOUT" "$@" </dev/null >"$out" 2>"$err" || rc=$?
    fi

    local counts
    counts=$(tap_count <"$out" 3>"$names")
    local pass fail skip plan tapped
    read -r pass fail skip plan tapped <<<"$counts"

    local extra=""
    if [ "$rc" -eq 124 ]; then
        extra="timed out after ${TEST_TIMEOUT}s"
    elif [ "$rc" -eq 137 ]; then
        extra="killed (SIGKILL: out of memory, or it ignored the timeout's SIGTERM)"
    elif [ "$tapped" -eq 0 ] && [ "$plan" -eq 0 ]; then
        # Not a TAP program: its exit status is the result.
        if [ "$rc" -eq 0 ]; then
            pass=1
        else
            extra="exit status $rc"
        fi
    elif [ "$tapped" -lt "$plan" ]; then
        extra="only $tapped of $plan tests reported (exit status $rc)"
    elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        extra="exit status $rc with no failed test (crash, sanitizer or valgrind report?)"
    fi

    if [ -n "$extra" ]; then
        fail=$((fail + 1))
        echo "$extra" >>"$names"
    fi

    if [ "$fail" -gt 0 ]; then
        echo "FAIL $suite/$name: $fail failed (logs: ${base#"$SRCDIR"/}.{out,err})"
        tap_failures "$out"
        [ -z "$extra" ] || echo "    $extra"
        if [ "$tapped" -eq 0 ] && [ -s "$out" ]; then
            echo "    --- output (last 40 lines) ---"
            tail -n 40 "$out" | sed 's/^/    /'
        fi
        if [ -s "$err" ] && { [ -n "$extra" ] || [ "${V:-0}" = 1 ]; }; then
            echo "    --- stderr (last 40 lines) ---"
            tail -n 40 "$err" | sed 's/^/    /'
        fi
        local line
        while IFS= read -r line; do
            failures+=("$suite/$name: $line")
        done <"$names"
    fi
    p_pass=$pass
    p_fail=$fail
    p_skip=$skip
}

# not_built SUITE NAME BIN: a test program that should exist but was not built.
not_built() {
    echo "FAIL $1/$2: $3 was not built (run make tests-build)"
    failures+=("$1/$2: not built")
    p_pass=0
    p_fail=1
    p_skip=0
}

# Suite bookkeeping.
s_pass=0
s_fail=0
s_skip=0
s_progs=0
suite_begin() {
    s_pass=0
    s_fail=0
    s_skip=0
    s_progs=0
    s_start=$(date +%s)
}
suite_add() {
    s_pass=$((s_pass + p_pass))
    s_fail=$((s_fail + p_fail))
    s_skip=$((s_skip + p_skip))
    s_progs=$((s_progs + 1))
}
suite_end() {
    local suite=$1
    local secs=$(($(date +%s) - s_start))
    if [ "$s_progs" -eq 0 ]; then
        echo "$suite: no test programs"
    else
        echo "$suite: $s_pass passed, $s_fail failed, $s_skip skipped" \
            "($s_progs programs, ${secs}s)"
    fi
    total_pass=$((total_pass + s_pass))
    total_fail=$((total_fail + s_fail))
    total_skip=$((total_skip + s_skip))
}

suite_unit() {
    suite_begin
    local wrap=()
    if [ "$VALGRIND" = 1 ]; then
        if ! command -v valgrind >/dev/null 2>&1; then
            echo "unit: valgrind not installed (packaging/install-deps.sh installs it)"
            failures+=("unit: valgrind missing")
            total_fail=$((total_fail + 1))
            return
        fi
        wrap=(valgrind -q --error-exitcode=1 --leak-check=full --num-callers=30)
    fi
    # One program per tests/unit/**/test_*.c: a stale binary whose source is gone
    # does not run, and a missing one is a failure.
    local src
    while IFS= read -r src; do
        [ -n "$src" ] || continue
        local name=${src#tests/unit/}
        name=${name%.c}
        local bin="$BUILD/tests/unit/$name"
        if [ ! -x "$bin" ]; then
            not_built unit "$name" "$bin"
        else
            run_program unit "$name" "${wrap[@]}" "$bin"
        fi
        suite_add
    done < <(find tests/unit -name 'test_*.c' -type f 2>/dev/null | LC_ALL=C sort)
    suite_end unit
}

suite_bats() {
    local suite=$1
    suite_begin
    local files=()
    local f
    for f in "tests/$suite"/*.bats; do
        [ -f "$f" ] && files+=("$f")
    done
    if [ "${#files[@]}" -gt 0 ]; then
        if ! command -v bats >/dev/null 2>&1; then
            echo "$suite: bats not installed (packaging/install-deps.sh installs it)"
            failures+=("$suite: bats missing")
            total_fail=$((total_fail + 1))
            return
        fi
        if [ ! -x "$TWC" ]; then
            echo "$suite: $TWC is not built (run make first)"
            failures+=("$suite: twc binary missing")
            total_fail=$((total_fail + 1))
            return
        fi
    fi
    for f in "${files[@]}"; do
        run_program "$suite" "$(basename "$f" .bats)" bats --tap "$f"
        suite_add
    done
    suite_end "$suite"
}

suite_fuzz_replay() {
    suite_begin
    # One replay program per tests/fuzz/NAME_fuzz.c, run on tests/fuzz/corpus/NAME/.
    local src
    while IFS= read -r src; do
        [ -n "$src" ] || continue
        local base name
        base=$(basename "$src" .c)
        name=${base%_fuzz}
        local bin="$BUILD/tests/fuzz/${base}_replay"
        local corpus="tests/fuzz/corpus/$name"
        if [ ! -x "$bin" ]; then
            not_built fuzz-replay "$name" "$bin"
        elif [ ! -d "$corpus" ]; then
            echo "FAIL fuzz-replay/$name: no corpus folder $corpus"
            failures+=("fuzz-replay/$name: no corpus folder $corpus")
            p_pass=0
            p_fail=1
            p_skip=0
        else
            run_program fuzz-replay "$name" "$bin" "$corpus"
        fi
        suite_add
    done < <(find tests/fuzz -maxdepth 1 -name '*_fuzz.c' -type f 2>/dev/null | LC_ALL=C sort)
    suite_end fuzz-replay
}

# The style check as one test, so a violation is counted (and shown) but the
# test suites still run.
suite_style() {
    suite_begin
    run_program style style.sh sh tests/style.sh
    suite_add
    suite_end style
}

for s in "$@"; do
    case "$s" in
    style) suite_style ;;
    unit) suite_unit ;;
    cli) suite_bats cli ;;
    interop) suite_bats interop ;;
    fuzz-replay) suite_fuzz_replay ;;
    esac
done

if [ "${#failures[@]}" -gt 0 ]; then
    echo "failed:"
    for f in "${failures[@]}"; do
        echo "  $f"
    done
fi
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
