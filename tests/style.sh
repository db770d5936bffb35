#!/bin/sh
# The small style check that `make check` runs (shared/STYLE.md §12, after curl's
# checksrc). It enforces only what a formatter cannot:
#
#   - no call to sprintf, vsprintf, strcpy, strcat, gets, atoi or strtok in lib/,
#     proto/ or cmd/ (use snprintf, twc_buf, memcpy with a length, twc_parse_u64,
#     strtok_r or a real parser); comments and string literals are ignored;
#   - no tab in indentation and no trailing whitespace in any .c or .h file
#     under lib/, proto/, cmd/ and tests/.
#
# Prints each offending line as FILE:LINE: problem: text, and exits 1 if any.
# Usage: tests/style.sh [FILE...]   (default: every file above)
set -eu

cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
    files=$(printf '%s\n' "$@")
else
    files=$(find lib proto cmd tests \( -name '*.c' -o -name '*.h' \) -type f 2>/dev/null |
        LC_ALL=C sort)
fi
[ -n "$files" ] || exit 0

status=0
if printf '%s\n' "$files" | grep -q '[[:space:]]'; then
    echo "style: file names with spaces are not allowed:" >&2
    printf '%s\n' "$files" | grep '[[:space:]]' >&2
    exit 1
fi

# Banned functions, in the sources the library and binary are built from.
# The awk strips /* */ comments (across lines), // comments, and string and
# character literals before looking, so a log message may name a function.
banned_files=$(printf '%s\n' "$files" | grep -E '^(lib|proto|cmd)/' || true)
if [ -n "$banned_files" ]; then
    # shellcheck disable=SC2086
    if ! awk '
        FNR == 1 { incomment = 0 }
        {
            line = $0
            out = ""
            n = length(line)
            i = 1
            while (i <= n) {
                if (incomment) {
                    j = index(substr(line, i), "*/")
                    if (j == 0) { i = n + 1; break }
                    i += j + 1
                    incomment = 0
                    out = out " "
                    continue
                }
                c = substr(line, i, 1)
                two = substr(line, i, 2)
                if (two == "/*") { incomment = 1; i += 2; continue }
                if (two == "//") break
                if (c == "\"" || c == "\047") {
                    q = c
                    i++
                    while (i <= n) {
                        d = substr(line, i, 1)
                        if (d == "\\") { i += 2; continue }
                        i++
                        if (d == q) break
                    }
                    out = out q q
                    continue
                }
                out = out c
                i++
            }
            rest = out
            while (match(rest, /(^|[^A-Za-z0-9_])(v?sprintf|strcpy|strcat|gets|atoi|strtok)([^A-Za-z0-9_]|$)/)) {
                hit = substr(rest, RSTART, RLENGTH)
                gsub(/[^A-Za-z0-9_]/, "", hit)
                printf "%s:%d: banned function %s (see shared/STYLE.md): %s\n", FILENAME, FNR, hit, $0
                bad = 1
                rest = substr(rest, RSTART + RLENGTH)
            }
        }
        END { exit bad }
    ' $banned_files; then
        status=1
    fi
fi

# Whitespace, in every C file.
# shellcheck disable=SC2086
if ! awk '
    /^ *\t/ { printf "%s:%d: tab in indentation: %s\n", FILENAME, FNR, $0; bad = 1 }
    /[ \t]$/ { printf "%s:%d: trailing whitespace: %s\n", FILENAME, FNR, $0; bad = 1 }
    END { exit bad }
' $files; then
    status=1
fi

if [ "$status" -ne 0 ]; then
    echo "style: violations found (tests/style.sh)" >&2
fi
exit "$status"
