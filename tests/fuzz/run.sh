#!/bin/sh
# Build each libFuzzer target in tests/fuzz and fuzz it for a bounded time.
#
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS] [TARGET...]
#
#   BUILD_DIR  where the fuzz build lives (default build/fuzz). libtwc.a there is
#              (re)built with `make` using clang and -fsanitize=fuzzer-no-link,
#              address,undefined (what `make fuzz` does); the targets link it.
#   SECONDS    libFuzzer -max_total_time per target (default 20). The total is
#              bounded by SECONDS x targets, plus build time.
#   TARGET     names such as `line` or `netstring` (tests/fuzz/<name>_fuzz.c);
#              default: every tests/fuzz/*_fuzz.c.
#
# Each target runs on a scratch copy of tests/fuzz/corpus/<name>/ (the committed
# corpus is never modified) and is killed if it overruns its time by a minute.
# On a crash, leak, timeout or failed invariant the scratch folder is kept (it
# holds the log and the crash-* reproducer; replay it with the target binary or
# with $BUILD_DIR/tests/fuzz/<name>_fuzz_replay) and the script exits 1.
# Environment: CC (default clang), FUZZ_FLAGS (extra libFuzzer options),
# TMPDIR (where scratch folders go).
set -eu

cd "$(dirname "$0")/../.."

BUILD=${1:-build/fuzz}
SECS=${2:-20}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
FUZZ_CC=${CC:-clang}
case "$FUZZ_CC" in
cc | gcc | */gcc) FUZZ_CC=clang ;; # libFuzzer needs clang
esac

case "$SECS" in
'' | *[!0-9]*)
    echo "usage: tests/fuzz/run.sh [BUILD_DIR] [SECONDS] [TARGET...]" >&2
    exit 64
    ;;
esac

if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    echo "fuzz: $FUZZ_CC not found (install clang and libclang-rt-dev)" >&2
    exit 69
fi

SAN='-fsanitize=fuzzer-no-link,address,undefined'
LIB="$BUILD/libtwc.a"
make --no-print-directory BUILD="$BUILD" CC="$FUZZ_CC" SANFLAGS="$SAN" "$LIB" >&2

CFLAGS_FUZZ="-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
-fno-sanitize-recover=all -I. -Ilib -D_POSIX_C_SOURCE=200809L"
PKG_LIBS=$(pkg-config --libs libcjson libcares openssl libedit 2>/dev/null || true)

if [ $# -eq 0 ]; then
    set --
    for f in tests/fuzz/*_fuzz.c; do
        [ -f "$f" ] || continue
        n=$(basename "$f" _fuzz.c)
        set -- "$@" "$n"
    done
fi
if [ $# -eq 0 ]; then
    echo "fuzz: no targets in tests/fuzz" >&2
    exit 0
fi

mkdir -p "$BUILD/tests/fuzz"
status=0
passed=0
failed=0
for name in "$@"; do
    src="tests/fuzz/${name}_fuzz.c"
    bin="$BUILD/tests/fuzz/${name}_fuzz"
    if [ ! -f "$src" ]; then
        echo "FAIL fuzz/$name: no $src"
        status=1
        failed=$((failed + 1))
        continue
    fi
    # shellcheck disable=SC2086 # flag lists split on purpose
    if ! $FUZZ_CC $CFLAGS_FUZZ -o "$bin" "$src" "$LIB" $PKG_LIBS -lpthread; then
        echo "FAIL fuzz/$name: build failed"
        status=1
        failed=$((failed + 1))
        continue
    fi

    scratch=$(mktemp -d "${TMPDIR:-/tmp}/twc-fuzz-$name.XXXXXX")
    mkdir "$scratch/corpus"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        find "tests/fuzz/corpus/$name" -maxdepth 1 -type f ! -name '.*' \
            -exec cp {} "$scratch/corpus/" \;
    fi

    rc=0
    # shellcheck disable=SC2086
    timeout -k 10 $((SECS + 60)) "$bin" -max_total_time="$SECS" -timeout=10 \
        -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$scratch/" ${FUZZ_FLAGS:-} "$scratch/corpus" \
        >"$scratch/log" 2>&1 || rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        files=$(find "$scratch/corpus" -type f | wc -l)
        echo "ok fuzz/$name: ${runs:-?} runs in ${SECS}s, corpus grew to $files files"
        passed=$((passed + 1))
        rm -rf "$scratch"
    else
        echo "FAIL fuzz/$name: exit status $rc; log and reproducer kept in $scratch"
        grep -E 'ERROR|SUMMARY|invariant failed|Test unit written' "$scratch/log" | head -n 20 |
            sed 's/^/    /'
        status=1
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, 0 skipped"
exit "$status"
