# fish completion for twc. Keep in step with the option tables in cmd/
# (`twc --dump-options`; tests/cli/twc.bats checks every option is here).
# Install: copy to ~/.config/fish/completions/twc.fish.

set -l twc_commands client echo help
set -l twc_client_subs tcp udp unix wait

function __twc_client_sub
    set -l words (commandline -opc)
    contains -- client $words; or return 1
    for w in $words
        if contains -- $w tcp udp unix wait
            echo $w
            return 0
        end
    end
    return 1
end

# Global options (any position).
complete -c twc -l log-format -x -a 'text json' -d 'log line format'
complete -c twc -l log-file -r -F -d 'log to this file instead of stderr'
complete -c twc -l log-level -x -a 'debug info warn error' -d 'lowest level logged'
complete -c twc -l reactor -x -a 'epoll poll' -d 'event backend'
complete -c twc -s h -l help -d 'show help'

# twc itself.
complete -c twc -n "not __fish_seen_subcommand_from $twc_commands" -s V -l version -d 'print versions'
complete -c twc -n "not __fish_seen_subcommand_from $twc_commands" -l install -x -a '(__fish_complete_directories)' -d 'create twc-COMMAND links in DIR'
complete -c twc -f -n "not __fish_seen_subcommand_from $twc_commands" -a client -d 'scripted protocol clients: tcp, udp, unix, wait'
complete -c twc -f -n "not __fish_seen_subcommand_from $twc_commands" -a echo -d 'echo server (RFC 862)'
complete -c twc -f -n "not __fish_seen_subcommand_from $twc_commands" -a help -d 'help for a command'
complete -c twc -f -n "__fish_seen_subcommand_from help" -a 'client echo'

# twc echo
complete -c twc -n "__fish_seen_subcommand_from echo" -s p -l port -x -d 'TCP and UDP port of the default listeners'
complete -c twc -n "__fish_seen_subcommand_from echo" -l listen -x -a 'tcp: udp: unix:' -d 'listen on ENDPOINT (repeatable)'

# twc client
complete -c twc -f -n "__fish_seen_subcommand_from client; and not __fish_seen_subcommand_from $twc_client_subs" -a tcp -d 'TCP: stdin to the peer, the peer to stdout'
complete -c twc -f -n "__fish_seen_subcommand_from client; and not __fish_seen_subcommand_from $twc_client_subs" -a udp -d 'UDP datagrams from stdin, replies to stdout'
complete -c twc -f -n "__fish_seen_subcommand_from client; and not __fish_seen_subcommand_from $twc_client_subs" -a unix -d 'UNIX socket: stdin to the peer, the peer to stdout'
complete -c twc -f -n "__fish_seen_subcommand_from client; and not __fish_seen_subcommand_from $twc_client_subs" -a wait -d 'wait until endpoints accept, then run a command'
complete -c twc -n "test (__twc_client_sub) = tcp; or test (__twc_client_sub) = unix" -s w -l timeout -x -d 'give up connecting after SECONDS'
complete -c twc -n "test (__twc_client_sub) = udp" -s q -l quit-after -x -d 'after stdin ends, exit once no reply came for SECONDS'
complete -c twc -n "test (__twc_client_sub) = wait" -s t -l timeout -x -d 'exit 69 unless all endpoints accept within SECONDS'
complete -c twc -f -n "test (__twc_client_sub) = wait" -a 'tcp: unix:' -d 'endpoint'

# The busybox-style links.
complete -c twc-echo -w 'twc echo'
complete -c twc-client -w 'twc client'
