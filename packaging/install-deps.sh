#!/bin/sh
# Install twc's build and test dependencies.
#
#   packaging/install-deps.sh               install everything (apt-get, Debian/Ubuntu)
#   packaging/install-deps.sh --if-missing  check quickly; run apt-get only when
#                                           something is missing, and say what
#   packaging/install-deps.sh --list        print the package list and exit
#
# Client-side tools only: nothing here starts a daemon (dnsmasq-base, not
# dnsmasq; dnsutils and knot-dnsutils, not bind9 or knot). On systems without
# apt-get the script prints the Debian package names instead (and, with
# --if-missing, exits 1 when something is missing), so another package manager
# can be fed the equivalent list by hand.
set -eu

PACKAGES="build-essential pkg-config libssl-dev libcjson-dev libc-ares-dev libedit-dev \
libcmocka-dev clang libclang-rt-14-dev valgrind bats socat ncat jq python3 python3-twisted \
python3-dnspython curl wget dnsutils knot-dnsutils dnsmasq-base util-linux procps iproute2 tmux"

# pkg-config modules and commands that must be present after installation.
MODULES="libcjson libcares openssl libedit cmocka"
COMMANDS="cc make pkg-config bats socat ncat jq python3 curl wget dig kdig setpriv clang valgrind timeout ip ps tmux"

usage() {
    echo "usage: $0 [--if-missing | --list]" >&2
    exit 64
}

# The Python that has Debian's python3-* modules. A pyenv or virtualenv python3
# earlier in PATH does not see them, so prefer the system one.
system_python() {
    if [ -x /usr/bin/python3 ]; then
        echo /usr/bin/python3
    else
        command -v python3 2>/dev/null || true
    fi
}

# Print what is missing, one item per line; print nothing when all is there.
missing() {
    if ! command -v pkg-config >/dev/null 2>&1; then
        echo "pkg-config"
    else
        for m in $MODULES; do
            pkg-config --exists "$m" 2>/dev/null || echo "pkg-config module $m"
        done
    fi
    for c in $COMMANDS; do
        command -v "$c" >/dev/null 2>&1 || echo "command $c"
    done
    py=$(system_python)
    if [ -z "$py" ]; then
        : # already reported as "command python3"
    else
        "$py" -c 'import twisted' 2>/dev/null || echo "python module twisted ($py)"
        "$py" -c 'import dns.message' 2>/dev/null || echo "python module dns ($py)"
    fi
    # clang -fsanitize=fuzzer,address needs compiler-rt's ASan runtime
    # (libclang-rt-14-dev on Debian 12; older clang packages ship it inside clang).
    if command -v clang >/dev/null 2>&1; then
        rt=$(clang -print-file-name=libclang_rt.asan-x86_64.a 2>/dev/null || true)
        case "$(uname -m)" in
        x86_64)
            [ -f "$rt" ] || echo "clang ASan runtime (libclang_rt.asan-x86_64.a)"
            ;;
        esac
    fi
}

install_apt() {
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: not root and no sudo; install as root:" >&2
        echo "  apt-get install -y $PACKAGES" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Update the package lists once when they were never fetched (fresh
    # containers ship without them) or when an install fails because they are
    # stale; otherwise skip the network round trip.
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
        $SUDO apt-get update -q
        updated=1
    else
        updated=0
    fi
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    if ! $SUDO apt-get install -y -q --no-install-recommends $PACKAGES; then
        if [ "$updated" -eq 1 ]; then
            exit 1
        fi
        $SUDO apt-get update -q
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -q --no-install-recommends $PACKAGES
    fi
}

mode=install
case "${1:-}" in
"") ;;
--if-missing) mode=if-missing ;;
--list) mode=list ;;
-h | --help) usage ;;
*) usage ;;
esac
[ $# -le 1 ] || usage

if [ "$mode" = list ]; then
    echo "$PACKAGES"
    exit 0
fi

if [ "$mode" = if-missing ]; then
    what=$(missing)
    if [ -z "$what" ]; then
        exit 0
    fi
    echo "install-deps: missing:" >&2
    echo "$what" | sed 's/^/  /' >&2
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get here; install the equivalents of these Debian packages:" >&2
    echo "  $PACKAGES" >&2
    [ "$mode" = install ] && exit 0
    exit 1
fi

install_apt

if [ "$mode" = if-missing ]; then
    what=$(missing)
    if [ -n "$what" ]; then
        echo "install-deps: still missing after installation:" >&2
        echo "$what" | sed 's/^/  /' >&2
        exit 1
    fi
fi
exit 0
