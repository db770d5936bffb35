# bash completion for twc.                                  -*- shell-script -*-
#
# Keep in step with the option tables in cmd/ (`twc --dump-options` prints
# them; tests/cli/twc.bats checks that every option appears here).
# Install: source this file, or copy it to /usr/share/bash-completion/completions/twc.
#
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)) is the completion idiom

_twc_global_opts='--log-format --log-file --log-level --reactor'
_twc_commands='client echo'
_twc_client_subs='tcp udp unix wait'

# Long and short options of each command (and client subcommand).
_twc_opts_of() {
    case $1 in
    twc) echo '--help -h --version -V --install' ;;
    echo) echo '--port -p --listen --help -h' ;;
    client) echo '--help -h' ;;
    'client tcp' | 'client unix') echo '--timeout -w --help -h' ;;
    'client udp') echo '--quit-after -q --help -h' ;;
    'client wait') echo '--timeout -t --help -h' ;;
    esac
}

_twc() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # Values of options.
    case $prev in
    --log-format) COMPREPLY=($(compgen -W 'text json' -- "$cur")); return ;;
    --log-level) COMPREPLY=($(compgen -W 'debug info warn error' -- "$cur")); return ;;
    --reactor) COMPREPLY=($(compgen -W 'epoll poll' -- "$cur")); return ;;
    --log-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --install) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --listen)
        COMPREPLY=($(compgen -W 'tcp: udp: unix:' -- "$cur"))
        compopt -o nospace 2>/dev/null
        return
        ;;
    --port | -p | --timeout | -t | -w | --quit-after | -q) return ;;
    esac
    case $cur in
    --*=*)
        # --opt=value: complete the value.
        local opt=${cur%%=*} val=${cur#*=} words=''
        case $opt in
        --log-format) words='text json' ;;
        --log-level) words='debug info warn error' ;;
        --reactor) words='epoll poll' ;;
        esac
        COMPREPLY=($(compgen -P "$opt=" -W "$words" -- "$val"))
        return
        ;;
    esac

    # Which command (and client subcommand) is on the line so far?
    local cmd='' sub='' i w base=${COMP_WORDS[0]##*/}
    case $base in
    twc-*) cmd=${base#twc-} ;; # a busybox-style link: twc-echo
    esac
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --log-format | --log-file | --log-level | --reactor | --install | --listen | --port | \
            -p | --timeout | -t | -w | --quit-after | -q)
            ((i++))
            continue
            ;;
        -*) continue ;;
        esac
        if [ -z "$cmd" ]; then
            [ "$w" = help ] && { COMPREPLY=($(compgen -W "$_twc_commands" -- "$cur")); return; }
            cmd=$w
        elif [ "$cmd" = client ] && [ -z "$sub" ]; then
            sub=$w
        fi
    done

    if [[ $cur == -* ]]; then
        local table=twc
        [ -n "$cmd" ] && table=$cmd
        [ -n "$sub" ] && table="$cmd $sub"
        COMPREPLY=($(compgen -W "$(_twc_opts_of "$table") $_twc_global_opts" -- "$cur"))
        return
    fi
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "$_twc_commands help" -- "$cur"))
    elif [ "$cmd" = client ] && [ -z "$sub" ]; then
        COMPREPLY=($(compgen -W "$_twc_client_subs" -- "$cur"))
    elif [ "$cmd $sub" = "client unix" ]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [ "$cmd $sub" = "client wait" ]; then
        COMPREPLY=($(compgen -W 'tcp: unix:' -- "$cur"))
        compopt -o nospace 2>/dev/null
    fi
}

complete -F _twc twc twc-echo twc-client
