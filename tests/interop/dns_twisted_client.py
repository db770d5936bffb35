#!/usr/bin/env python3
"""Twisted's twisted.names client against `twc dns` (tests/interop/dns.bats).

Usage: dns_twisted_client.py PORT
Uses client.Resolver with an explicit server list (never resolv.conf), over
UDP, and a TCP query through queryTCP. Prints one line per lookup, then "ok".
"""
import sys

from twisted.internet import defer, reactor, task
from twisted.names import client, dns, error

PORT = int(sys.argv[1])


@defer.inlineCallbacks
def run(_reactor):
    r = client.Resolver(servers=[("127.0.0.1", PORT)], timeout=(2, 4))
    ans, _, _ = yield r.lookupAddress("www.twc.test")
    assert [a.payload.dottedQuad() for a in ans if a.type == dns.A] == ["192.0.2.80"], ans
    ans, _, _ = yield r.lookupIPV6Address("www.twc.test")
    assert ans[0].payload._address == "2001:db8::80", ans
    ans, _, _ = yield r.lookupMailExchange("twc.test")
    assert (ans[0].payload.preference, ans[0].payload.name.name) == (10, b"mail.twc.test"), ans
    ans, _, _ = yield r.lookupText("twc.test")
    assert ans[0].payload.data == [b"first string", b"second string", b"third"], ans
    ans, _, _ = yield r.lookupService("_sip._tcp.twc.test")
    p = ans[0].payload
    assert (p.priority, p.weight, p.port, p.target.name) == (10, 60, 5060, b"sip.twc.test"), p
    ans, _, _ = yield r.lookupNameservers("twc.test")
    assert ans[0].payload.name.name == b"ns1.twc.test", ans
    ans, _, _ = yield r.lookupAuthority("twc.test")
    assert ans[0].payload.serial == 2026112401, ans
    ans, _, _ = yield r.lookupPointer("rev.twc.test")
    assert ans[0].payload.name.name == b"www.twc.test", ans
    ans, _, _ = yield r.lookupCanonicalName("alias.twc.test")
    assert ans[0].payload.name.name == b"www.twc.test", ans
    # Hosts-file reverse lookup (PTR in in-addr.arpa).
    ans, _, _ = yield r.lookupPointer("10.2.0.192.in-addr.arpa")
    assert ans[0].payload.name.name == b"host1.hosts.test", ans
    try:
        yield r.lookupAddress("nothere.twc.test")
        raise AssertionError("no NXDOMAIN")
    except error.DNSNameError:
        pass
    # The big RRset over TCP (Twisted's client asks TCP itself on TC too).
    msg = yield r.queryTCP([dns.Query(b"big.twc.test", dns.A)])
    assert len(msg.answers) == 50, len(msg.answers)
    print("ok")


task.react(run)
