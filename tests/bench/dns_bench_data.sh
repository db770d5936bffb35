#!/usr/bin/env bash
# Data for tests/bench/dns_bench.sh: the same N names as a hosts file (twc
# dns --hosts-file, dnsmasq, twistd) and as a zone (twc dns --bindzone, NSD),
# and dnsperf's query file (one "NAME A" per line, every name once).
#
#   dns_bench_data.sh DIR [N]     writes DIR/hosts, DIR/bench.zone, DIR/queries.txt
set -euo pipefail

dir=$1
n=${2:-1000}
[ -d "$dir" ] || mkdir -p "$dir"

awk -v n="$n" -v dir="$dir" 'BEGIN {
    hosts = dir "/hosts"; zone = dir "/bench.zone"; q = dir "/queries.txt"
    print "# " n " names for the DNS benchmark" > hosts
    print "$ORIGIN bench.test." > zone
    print "$TTL 3600" > zone
    print "@ IN SOA ns1 hostmaster 1 3600 600 86400 300" > zone
    print "@ IN NS ns1" > zone
    print "ns1 IN A 10.255.255.254" > zone
    for (i = 0; i < n; i++) {
        b = int(i / 250)
        addr = sprintf("10.%d.%d.%d", int(b / 256) % 256, b % 256, i % 250 + 1)
        printf "%s host%d.bench.test\n", addr, i > hosts
        printf "host%d IN A %s\n", i, addr > zone
        printf "host%d.bench.test A\n", i > q
    }
}'
