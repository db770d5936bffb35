#!/bin/sh
# Regenerate the completion scripts from the option tables in cmd/.
#   sh completions/update.sh [TWC]     TWC: the binary (default build/release/twc)
# tests/cli/app.bats fails while a committed file differs from this output.
set -eu
cd "$(dirname "$0")"
twc=${1:-../build/release/twc}
"$twc" --gen-completion bash >twc.bash
"$twc" --gen-completion zsh >_twc
"$twc" --gen-completion fish >twc.fish
