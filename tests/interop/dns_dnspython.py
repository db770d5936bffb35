#!/usr/bin/env python3
"""dnspython against `twc dns` (tests/interop/dns.bats).

Usage: dns_dnspython.py PORT
Asks every record type of tests/data/dns/server-test.zone over UDP and TCP,
checks truncation with a 512-byte EDNS size, and transfers the zone (AXFR).
Talks only to 127.0.0.1:PORT (never the machine's resolv.conf). Prints "ok".
"""
import sys

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

PORT = int(sys.argv[1])
HOST = "127.0.0.1"

EXPECT = {
    ("www.twc.test.", "A"): {"192.0.2.80"},
    ("www.twc.test.", "AAAA"): {"2001:db8::80"},
    ("twc.test.", "NS"): {"ns1.twc.test."},
    ("twc.test.", "MX"): {"10 mail.twc.test."},
    ("twc.test.", "TXT"): {'"first string" "second string" "third"'},
    ("twc.test.", "CAA"): {'0 issue "letsencrypt.org"'},
    ("_sip._tcp.twc.test.", "SRV"): {"10 60 5060 sip.twc.test."},
    ("rev.twc.test.", "PTR"): {"www.twc.test."},
    ("opaque.twc.test.", "TYPE65280"): {"\\# 4 0a000001"},
    ("x.wild.twc.test.", "A"): {"192.0.2.99"},
}


def answers(resp, name, rtype):
    out = set()
    for rrset in resp.answer:
        if rrset.name.to_text() == name and rrset.rdtype == dns.rdatatype.from_text(rtype):
            out |= {rd.to_text() for rd in rrset}
    return out


def main():
    for proto in ("udp", "tcp"):
        send = dns.query.udp if proto == "udp" else dns.query.tcp
        for (name, rtype), want in EXPECT.items():
            q = dns.message.make_query(name, rtype)
            r = send(q, HOST, port=PORT, timeout=3)
            assert r.rcode() == dns.rcode.NOERROR, (proto, name, rtype, r)
            assert r.flags & dns.flags.AA, (proto, name, rtype)
            got = answers(r, name, rtype)
            assert got == want, (proto, name, rtype, got, want)
        # The SOA, and a CNAME followed inside the zone.
        r = send(dns.message.make_query("twc.test.", "SOA"), HOST, port=PORT, timeout=3)
        soa = list(r.answer[0])[0]
        assert soa.serial == 2026112401 and soa.minimum == 60, soa
        r = send(dns.message.make_query("alias.twc.test.", "A"), HOST, port=PORT, timeout=3)
        assert answers(r, "alias.twc.test.", "CNAME") == {"www.twc.test."}, r
        assert answers(r, "www.twc.test.", "A") == {"192.0.2.80"}, r
        # NXDOMAIN with the SOA in authority (RFC 2308).
        r = send(dns.message.make_query("nope.twc.test.", "A"), HOST, port=PORT, timeout=3)
        assert r.rcode() == dns.rcode.NXDOMAIN and r.authority, r

    # EDNS 512: truncated over UDP, complete over TCP; 1232 fits.
    q = dns.message.make_query("big.twc.test.", "A", use_edns=0, payload=512)
    r = dns.query.udp(q, HOST, port=PORT, timeout=3)
    assert r.flags & dns.flags.TC, r
    assert r.edns == 0, "OPT not echoed"
    r = dns.query.tcp(q, HOST, port=PORT, timeout=3)
    assert len(answers(r, "big.twc.test.", "A")) == 50
    q = dns.message.make_query("big.twc.test.", "A", use_edns=0, payload=1232)
    r = dns.query.udp(q, HOST, port=PORT, timeout=3)
    assert not r.flags & dns.flags.TC and len(answers(r, "big.twc.test.", "A")) == 50

    # AXFR: the whole zone, SOA first and last.
    msgs = list(dns.query.xfr(HOST, "twc.test.", port=PORT, timeout=5))
    rrs = [rrset for m in msgs for rrset in m.answer]
    assert rrs[0].rdtype == dns.rdatatype.SOA and rrs[-1].rdtype == dns.rdatatype.SOA
    z = dns.zone.from_xfr(dns.query.xfr(HOST, "twc.test.", port=PORT, timeout=5))
    assert z.find_rdataset("big", "A").__len__() == 50
    assert z.find_rdataset("www", "AAAA").__len__() == 1
    print("ok")


main()
