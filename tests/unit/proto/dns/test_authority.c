/* Unit tests for proto/dns/authority.c: answers from zones and from the
 * hosts/--record table, checked on the wire (parsed back with the codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/authority.h"
#include "proto/dns/hosts.h"

#define OUT_MAX (16 * 1024)

static const char zone_text[] = "$ORIGIN example.com.\n"
                                "$TTL 3600\n"
                                "@ SOA ns1 host 1 7200 900 1209600 300\n"
                                "@ NS ns1\n"
                                "@ NS ns2.example.com.\n"
                                "@ MX 10 mail\n"
                                "@ MX 20 mail.other.org.\n"
                                "ns1 A 192.0.2.1\n"
                                "ns2 A 192.0.2.2\n"
                                "ns2 AAAA 2001:db8::2\n"
                                "mail A 192.0.2.25\n"
                                "mail AAAA 2001:db8::25\n"
                                "www CNAME web\n"
                                "web 60 A 192.0.2.80\n"
                                "alias CNAME www\n"
                                "out CNAME www.other.org.\n"
                                "loop1 CNAME loop2\n"
                                "loop2 CNAME loop1\n"
                                "dangling CNAME nothere\n"
                                "*.wild A 192.0.2.99\n"
                                "*.wild TXT \"wild\"\n"
                                "a.b.c A 192.0.2.3\n"
                                "*.c A 192.0.2.4\n"
                                "_sip._tcp SRV 10 60 5060 sip\n"
                                "sip A 192.0.2.5\n"
                                "sub NS ns.sub\n"
                                "sub NS ns.elsewhere.org.\n"
                                "ns.sub A 192.0.2.53\n"
                                "dup A 192.0.2.7\n"
                                "dup 10 A 192.0.2.7\n"
                                "dup A 192.0.2.8\n";

struct fixture {
    twc_dns_auth *a;
};

static twc_dns_name name_of(const char *s)
{
    twc_dns_name n;
    twc_err err;

    if (twc_dns_name_parse(&n, s, strlen(s), NULL, &err) < 0)
        fail_msg("name %s: %s", s, err.msg);
    return n;
}

static twc_dns_zone *zone_from(const char *text)
{
    twc_dns_zone *z = twc_dns_zone_new(NULL);
    twc_err err;

    assert_non_null(z);
    if (twc_dns_zone_parse_buf(z, "t.zone", NULL, text, strlen(text), NULL, &err) < 0)
        fail_msg("%s", err.msg);
    return z;
}

static void add_many(twc_dns_zone *z)
{
    twc_dns_rr rr;
    uint8_t ip[4] = {10, 0, 0, 0};
    twc_err err;
    int i;

    rr.name = name_of("many.example.com.");
    rr.type = TWC_DNS_A;
    rr.rclass = TWC_DNS_CLASS_IN;
    rr.ttl = 1;
    rr.rdlen = 4;
    rr.rdata = ip;
    for (i = 1; i <= 40; i++) {
        ip[3] = (uint8_t)i;
        assert_int_equal(twc_dns_zone_add(z, &rr, &err), 0);
    }
}

static int setup(void **state)
{
    static const char hosts[] = "192.0.2.10 host1.test\n192.0.2.10 host1.test\n"
                                "2001:db8::10 v6.test\n";
    static const char *const records[] = {"*.wild.test 60 A 127.0.0.1",
                                          "extra.example.com A 192.0.2.111",
                                          "cn.test CNAME host1.test", "mx.test MX 5 host1.test"};
    struct fixture *f = calloc(1, sizeof(*f));
    twc_dns_zone *z, *t;
    twc_err err;
    size_t i;

    assert_non_null(f);
    f->a = twc_dns_auth_new();
    z = zone_from(zone_text);
    add_many(z);
    assert_int_equal(twc_dns_auth_add_zone(f->a, z, &err), 0);
    t = twc_dns_zone_new(NULL);
    assert_int_equal(twc_dns_hosts_parse(t, "hosts", hosts, strlen(hosts), 60, &err), 0);
    for (i = 0; i < sizeof(records) / sizeof(records[0]); i++)
        assert_int_equal(twc_dns_zone_parse_record(t, records[i], strlen(records[i]), &err), 0);
    assert_int_equal(twc_dns_auth_add_records(f->a, t, &err), 0);
    if (twc_dns_auth_finish(f->a, &err) < 0)
        fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    twc_dns_auth_free(f->a);
    free(f);
    return 0;
}

struct qopts {
    uint16_t flags;   /* default RD */
    uint16_t qclass;  /* default IN */
    int edns;         /* add an OPT */
    uint16_t bufsize; /* its size */
    uint8_t version;
    uint16_t eflags;
    int tcp;
};

/* Build a query, parse it, answer it. Returns the result; out gets the
 * response text (see describe). */
static enum twc_dns_auth_result ask_opts(const twc_dns_auth *a, const char *qname, uint16_t qtype,
                                         const struct qopts *o, char *out, size_t outlen);

/* The response as text: "RCODE flags\n" then one line per record with its
 * section, and "OPT size do" when there is one. */
static void describe(const uint8_t *msg, size_t len, char *out, size_t outlen)
{
    static const char *const sect[] = {"QD", "AN", "NS", "AR"};
    twc_dns_msg m;
    twc_err err;
    size_t o = 0, n, i;
    unsigned s;

    if (twc_dns_msg_parse(&m, msg, len, &err) < 0)
        fail_msg("response does not parse: %s", err.msg);
    o += (size_t)snprintf(
        out + o, outlen - o, "%s%s%s%s%s\n", twc_dns_rcode_name(twc_dns_msg_rcode(&m)),
        m.flags & TWC_DNS_F_AA ? " aa" : "", m.flags & TWC_DNS_F_TC ? " tc" : "",
        m.flags & TWC_DNS_F_RD ? " rd" : "", m.flags & TWC_DNS_F_QR ? "" : " !qr");
    for (i = 0; i < m.count[TWC_DNS_QD]; i++) {
        char name[TWC_DNS_NAME_TEXT_MAX], type[16];

        twc_dns_name_format(&m.qd[i].name, name, sizeof(name));
        o += (size_t)snprintf(out + o, outlen - o, "QD %s %s\n", name,
                              twc_dns_type_name(m.qd[i].qtype, type, sizeof(type)));
    }
    for (s = TWC_DNS_AN; s <= TWC_DNS_AR; s++) {
        const twc_dns_rr *rr = twc_dns_msg_section(&m, (enum twc_dns_section)s, &n);

        for (i = 0; i < n; i++) {
            char name[TWC_DNS_NAME_TEXT_MAX], type[16], rdata[1024];

            twc_dns_name_format(&rr[i].name, name, sizeof(name));
            assert_true(twc_dns_rdata_format(rr[i].type, rr[i].rdata, rr[i].rdlen, rdata,
                                             sizeof(rdata)) >= 0);
            o += (size_t)snprintf(out + o, outlen - o, "%s %s %u %s %s\n", sect[s], name, rr[i].ttl,
                                  twc_dns_type_name(rr[i].type, type, sizeof(type)), rdata);
        }
    }
    if (m.edns.present)
        o += (size_t)snprintf(out + o, outlen - o, "OPT %u%s\n", m.edns.udp_size,
                              m.edns.flags & 0x8000 ? " do" : "");
    assert_true(o < outlen);
    twc_dns_msg_cleanup(&m);
}

static enum twc_dns_auth_result ask_opts(const twc_dns_auth *a, const char *qname, uint16_t qtype,
                                         const struct qopts *o, char *out, size_t outlen)
{
    uint8_t qbuf[512], rbuf[65535];
    twc_dns_writer w;
    twc_dns_query q;
    twc_dns_name n = name_of(qname);
    size_t qlen;
    int rc;
    enum twc_dns_auth_result res;

    twc_dns_writer_init(&w, qbuf, sizeof(qbuf), sizeof(qbuf));
    assert_int_equal(twc_dns_write_header(&w, 0x1234, o->flags), 0);
    assert_int_equal(twc_dns_write_question(&w, &n, qtype, o->qclass ? o->qclass : 1), 0);
    if (o->edns) {
        assert_int_equal(twc_dns_write_opt(&w, o->bufsize, 0, o->eflags), 0);
        qbuf[w.len - 11 + 6] = o->version;
    }
    qlen = twc_dns_writer_finish(&w);
    rc = twc_dns_query_parse(&q, qbuf, qlen);
    assert_int_equal(rc, 0);
    twc_dns_writer_init(&w, rbuf, sizeof(rbuf), twc_dns_response_limit(&q, o->tcp));
    res = twc_dns_auth_answer(a, &q, rc, &w);
    out[0] = '\0';
    if (res == TWC_DNS_AUTH_ANSWERED) {
        size_t len = w.len;

        assert_true(len <= twc_dns_response_limit(&q, o->tcp));
        assert_int_equal(rbuf[0], 0x12);
        assert_int_equal(rbuf[1], 0x34);
        describe(rbuf, len, out, outlen);
    } else {
        assert_int_equal(w.len, 0);
    }
    return res;
}

static void expect(const twc_dns_auth *a, const char *qname, uint16_t qtype, const char *want)
{
    struct qopts o = {.flags = TWC_DNS_F_RD};
    char out[OUT_MAX];

    assert_int_equal(ask_opts(a, qname, qtype, &o, out, sizeof(out)), TWC_DNS_AUTH_ANSWERED);
    assert_string_equal(out, want);
}

static void test_authority_a_and_aaaa(void **state)
{
    struct fixture *f = *state;

    expect(f->a, "ns1.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD ns1.example.com. A\nAN ns1.example.com. 3600 A 192.0.2.1\n");
    expect(f->a, "ns2.example.com.", TWC_DNS_AAAA,
           "NOERROR aa rd\nQD ns2.example.com. AAAA\nAN ns2.example.com. 3600 AAAA 2001:db8::2\n");
    /* Duplicates are dropped and the RRset takes the lowest TTL (RFC 2181 §5). */
    expect(f->a, "dup.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD dup.example.com. A\nAN dup.example.com. 10 A 192.0.2.7\n"
           "AN dup.example.com. 10 A 192.0.2.8\n");
}

static void test_authority_case_insensitive(void **state)
{
    struct fixture *f = *state;

    /* The question keeps the query's case (RFC 4343 §4.1). */
    expect(f->a, "NS1.ExAmPlE.cOm.", TWC_DNS_A,
           "NOERROR aa rd\nQD NS1.ExAmPlE.cOm. A\nAN NS1.ExAmPlE.cOm. 3600 A 192.0.2.1\n");
    expect(f->a, "HOST1.Test.", TWC_DNS_A,
           "NOERROR aa rd\nQD HOST1.Test. A\nAN HOST1.Test. 60 A 192.0.2.10\n");
}

static void test_authority_cname_chain(void **state)
{
    struct fixture *f = *state;
    struct qopts o = {.flags = TWC_DNS_F_RD};
    char out[OUT_MAX];

    expect(f->a, "alias.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD alias.example.com. A\n"
           "AN alias.example.com. 3600 CNAME www.example.com.\n"
           "AN www.example.com. 3600 CNAME web.example.com.\n"
           "AN web.example.com. 60 A 192.0.2.80\n");
    /* Asking for the CNAME itself does not follow it. */
    expect(f->a, "www.example.com.", TWC_DNS_CNAME,
           "NOERROR aa rd\nQD www.example.com. CNAME\n"
           "AN www.example.com. 3600 CNAME web.example.com.\n");
    /* Out of the zone: the chain stops, the client follows it. */
    expect(f->a, "out.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD out.example.com. A\n"
           "AN out.example.com. 3600 CNAME www.other.org.\n");
    /* To a missing name: NXDOMAIN (RFC 6604) with the SOA. */
    expect(f->a, "dangling.example.com.", TWC_DNS_A,
           "NXDOMAIN aa rd\nQD dangling.example.com. A\n"
           "AN dangling.example.com. 3600 CNAME nothere.example.com.\n"
           "NS example.com. 300 SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300\n");
    /* To a name without the type: NODATA with the SOA. */
    expect(f->a, "www.example.com.", TWC_DNS_MX,
           "NOERROR aa rd\nQD www.example.com. MX\n"
           "AN www.example.com. 3600 CNAME web.example.com.\n"
           "NS example.com. 300 SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300\n");
    /* A loop ends after TWC_DNS_CNAME_HOPS CNAMEs. */
    assert_int_equal(ask_opts(f->a, "loop1.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    {
        size_t n = 0;
        const char *p = out;

        while ((p = strstr(p, " CNAME ")) != NULL) {
            n++;
            p++;
        }
        assert_int_equal(n, TWC_DNS_CNAME_HOPS);
    }
    /* In the table too. */
    expect(f->a, "cn.test.", TWC_DNS_A,
           "NOERROR aa rd\nQD cn.test. A\nAN cn.test. 3600 CNAME host1.test.\n"
           "AN host1.test. 60 A 192.0.2.10\n");
}

static void test_authority_wildcard(void **state)
{
    struct fixture *f = *state;

    expect(f->a, "Foo.wild.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD Foo.wild.example.com. A\nAN Foo.wild.example.com. 3600 A "
           "192.0.2.99\n");
    /* Several labels below the closest encloser still match (RFC 4592 §3.3.1). */
    expect(f->a, "x.y.wild.example.com.", TWC_DNS_TXT,
           "NOERROR aa rd\nQD x.y.wild.example.com. TXT\nAN x.y.wild.example.com. 3600 TXT "
           "\"wild\"\n");
    expect(f->a, "foo.wild.example.com.", TWC_DNS_MX,
           "NOERROR aa rd\nQD foo.wild.example.com. MX\n"
           "NS example.com. 300 SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300\n");
    /* The wildcard owner itself is an ordinary name. */
    expect(f->a, "*.wild.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD *.wild.example.com. A\nAN *.wild.example.com. 3600 A 192.0.2.99\n");
    /* Table wildcards (--record "*.wild.test ..."). */
    expect(f->a, "a.wild.test.", TWC_DNS_A,
           "NOERROR aa rd\nQD a.wild.test. A\nAN a.wild.test. 60 A 127.0.0.1\n");
}

static void test_authority_empty_non_terminal(void **state)
{
    struct fixture *f = *state;
    static const char soa[] =
        "NS example.com. 300 SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300\n";
    char want[1024];

    /* b.c exists (a.b.c is below it): NODATA, and *.c does not apply. */
    snprintf(want, sizeof(want), "NOERROR aa rd\nQD b.c.example.com. A\n%s", soa);
    expect(f->a, "b.c.example.com.", TWC_DNS_A, want);
    /* Below the empty non-terminal there is no wildcard: NXDOMAIN. */
    snprintf(want, sizeof(want), "NXDOMAIN aa rd\nQD x.b.c.example.com. A\n%s", soa);
    expect(f->a, "x.b.c.example.com.", TWC_DNS_A, want);
    /* Beside it the wildcard *.c applies. */
    expect(f->a, "z.c.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD z.c.example.com. A\nAN z.c.example.com. 3600 A 192.0.2.4\n");
}

static void test_authority_delegation(void **state)
{
    struct fixture *f = *state;
    static const char want[] = "NOERROR rd\nQD %s A\n"
                               "NS sub.example.com. 3600 NS ns.sub.example.com.\n"
                               "NS sub.example.com. 3600 NS ns.elsewhere.org.\n"
                               "AR ns.sub.example.com. 3600 A 192.0.2.53\n";
    char buf[1024];

    snprintf(buf, sizeof(buf), want, "www.sub.example.com.");
    expect(f->a, "www.sub.example.com.", TWC_DNS_A, buf);
    snprintf(buf, sizeof(buf), want, "sub.example.com.");
    expect(f->a, "sub.example.com.", TWC_DNS_A, buf);
    /* Glue below the cut is not authoritative data either. */
    snprintf(buf, sizeof(buf), want, "ns.sub.example.com.");
    expect(f->a, "ns.sub.example.com.", TWC_DNS_A, buf);
}

static void test_authority_nxdomain_nodata(void **state)
{
    struct fixture *f = *state;

    /* RFC 2308 §3: the SOA's TTL is min(SOA TTL, MINIMUM). */
    expect(f->a, "nope.example.com.", TWC_DNS_A,
           "NXDOMAIN aa rd\nQD nope.example.com. A\n"
           "NS example.com. 300 SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300\n");
    expect(f->a, "ns1.example.com.", TWC_DNS_TXT,
           "NOERROR aa rd\nQD ns1.example.com. TXT\n"
           "NS example.com. 300 SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300\n");
    /* Table names: NODATA without SOA. */
    expect(f->a, "host1.test.", TWC_DNS_AAAA, "NOERROR aa rd\nQD host1.test. AAAA\n");
}

static void test_authority_additional(void **state)
{
    struct fixture *f = *state;

    expect(f->a, "example.com.", TWC_DNS_MX,
           "NOERROR aa rd\nQD example.com. MX\n"
           "AN example.com. 3600 MX 10 mail.example.com.\n"
           "AN example.com. 3600 MX 20 mail.other.org.\n"
           "AR mail.example.com. 3600 A 192.0.2.25\n"
           "AR mail.example.com. 3600 AAAA 2001:db8::25\n");
    expect(f->a, "example.com.", TWC_DNS_NS,
           "NOERROR aa rd\nQD example.com. NS\n"
           "AN example.com. 3600 NS ns1.example.com.\n"
           "AN example.com. 3600 NS ns2.example.com.\n"
           "AR ns1.example.com. 3600 A 192.0.2.1\n"
           "AR ns2.example.com. 3600 A 192.0.2.2\n"
           "AR ns2.example.com. 3600 AAAA 2001:db8::2\n");
    expect(f->a, "_sip._tcp.example.com.", TWC_DNS_SRV,
           "NOERROR aa rd\nQD _sip._tcp.example.com. SRV\n"
           "AN _sip._tcp.example.com. 3600 SRV 10 60 5060 sip.example.com.\n"
           "AR sip.example.com. 3600 A 192.0.2.5\n");
    /* Targets in the table count too. */
    expect(f->a, "mx.test.", TWC_DNS_MX,
           "NOERROR aa rd\nQD mx.test. MX\nAN mx.test. 3600 MX 5 host1.test.\n"
           "AR host1.test. 60 A 192.0.2.10\n");
}

static void test_authority_any_is_minimal(void **state)
{
    struct fixture *f = *state;

    /* RFC 8482: one RRset, the lowest type (NS at the apex). */
    expect(f->a, "example.com.", TWC_DNS_ANY,
           "NOERROR aa rd\nQD example.com. ANY\n"
           "AN example.com. 3600 NS ns1.example.com.\n"
           "AN example.com. 3600 NS ns2.example.com.\n"
           "AR ns1.example.com. 3600 A 192.0.2.1\n"
           "AR ns2.example.com. 3600 A 192.0.2.2\n"
           "AR ns2.example.com. 3600 AAAA 2001:db8::2\n");
    expect(f->a, "ns2.example.com.", TWC_DNS_ANY,
           "NOERROR aa rd\nQD ns2.example.com. ANY\nAN ns2.example.com. 3600 A 192.0.2.2\n");
}

static size_t count_lines(const char *out, const char *prefix)
{
    size_t n = 0;
    const char *p = out;

    while ((p = strstr(p, prefix)) != NULL) {
        n++;
        p += strlen(prefix);
    }
    return n;
}

static void test_authority_truncation(void **state)
{
    struct fixture *f = *state;
    struct qopts o = {.flags = TWC_DNS_F_RD};
    char out[OUT_MAX];

    /* 40 A records: 12 + 21 (question) + 2 + 40 * 16 = 675 bytes. */
    assert_int_equal(ask_opts(f->a, "many.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_memory_equal(out, "NOERROR aa tc rd\n", 17);
    assert_int_equal(count_lines(out, "\nAN "), (512 - 12 - 22) / 16);
    /* EDNS 4096 from the client: our limit is 1232, everything fits. */
    o.edns = 1;
    o.bufsize = 4096;
    assert_int_equal(ask_opts(f->a, "many.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_memory_equal(out, "NOERROR aa rd\n", 14);
    assert_int_equal(count_lines(out, "\nAN "), 40);
    assert_non_null(strstr(out, "OPT 1232\n"));
    /* EDNS 512: the OPT still fits (room kept for it). */
    o.bufsize = 512;
    assert_int_equal(ask_opts(f->a, "many.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_memory_equal(out, "NOERROR aa tc rd\n", 17);
    assert_int_equal(count_lines(out, "\nAN "), (512 - 12 - 22 - 11) / 16);
    assert_non_null(strstr(out, "OPT 1232\n"));
    /* TCP: no limit that matters. */
    o.edns = 0;
    o.tcp = 1;
    assert_int_equal(ask_opts(f->a, "many.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_int_equal(count_lines(out, "\nAN "), 40);
}

static void test_authority_edns(void **state)
{
    struct fixture *f = *state;
    struct qopts o = {.flags = TWC_DNS_F_RD, .edns = 1, .bufsize = 1400, .eflags = 0x8000};
    char out[OUT_MAX];

    /* OPT echoed with our size, DO copied (RFC 3225 §3). */
    assert_int_equal(ask_opts(f->a, "ns1.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_string_equal(out, "NOERROR aa rd\nQD ns1.example.com. A\n"
                             "AN ns1.example.com. 3600 A 192.0.2.1\nOPT 1232 do\n");
    /* RFC 6891 §6.1.3: an unknown version gets BADVERS, no data. */
    o.version = 1;
    o.eflags = 0;
    assert_int_equal(ask_opts(f->a, "ns1.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_string_equal(out, "BADVERS rd\nQD ns1.example.com. A\nOPT 1232\n");
}

static void test_authority_errors(void **state)
{
    struct fixture *f = *state;
    struct qopts o = {.flags = TWC_DNS_F_RD};
    uint8_t q[64], r[512];
    char out[OUT_MAX];
    twc_dns_writer w;
    twc_dns_query pq;
    int rc;

    /* Opcode STATUS (2): NOTIMP. */
    o.flags = TWC_DNS_F_RD | 2 << 11;
    assert_int_equal(ask_opts(f->a, "ns1.example.com.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_string_equal(out, "NOTIMP rd\nQD ns1.example.com. A\n");
    /* Class CH: REFUSED. */
    o.flags = 0;
    o.qclass = TWC_DNS_CLASS_CH;
    assert_int_equal(ask_opts(f->a, "version.bind.", TWC_DNS_TXT, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_string_equal(out, "REFUSED\nQD version.bind. TXT\n");
    /* AXFR over this path: NOTIMP (the server sends AXFR over TCP itself). */
    o.qclass = 0;
    assert_int_equal(ask_opts(f->a, "example.com.", TWC_DNS_AXFR, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_ANSWERED);
    assert_string_equal(out, "NOTIMP\nQD example.com. AXFR\n");

    /* No question: FORMERR with the id and no question. */
    memset(q, 0, sizeof(q));
    q[0] = 0xab;
    q[1] = 0xcd;
    q[2] = 0x01; /* RD */
    rc = twc_dns_query_parse(&pq, q, 12);
    assert_int_equal(rc, TWC_EPROTO);
    twc_dns_writer_init(&w, r, sizeof(r), 512);
    assert_int_equal(twc_dns_auth_answer(f->a, &pq, rc, &w), TWC_DNS_AUTH_ANSWERED);
    describe(r, w.len, out, sizeof(out));
    assert_string_equal(out, "FORMERR rd\n");
    assert_int_equal(r[0], 0xab);
    /* A question cut short: FORMERR. */
    q[5] = 1;
    memcpy(q + 12, "\x03www", 4);
    rc = twc_dns_query_parse(&pq, q, 16);
    assert_int_equal(rc, TWC_EPROTO);
    twc_dns_writer_init(&w, r, sizeof(r), 512);
    assert_int_equal(twc_dns_auth_answer(f->a, &pq, rc, &w), TWC_DNS_AUTH_ANSWERED);
    describe(r, w.len, out, sizeof(out));
    assert_string_equal(out, "FORMERR rd\n");
    /* Not even a header: drop. */
    rc = twc_dns_query_parse(&pq, q, 11);
    assert_int_equal(rc, TWC_EOF);
    twc_dns_writer_init(&w, r, sizeof(r), 512);
    assert_int_equal(twc_dns_auth_answer(f->a, &pq, rc, &w), TWC_DNS_AUTH_DROP);
    assert_int_equal(w.len, 0);
}

static void test_authority_not_authoritative(void **state)
{
    struct fixture *f = *state;
    struct qopts o = {.flags = TWC_DNS_F_RD, .edns = 1, .bufsize = 1232};
    uint8_t qbuf[512], rbuf[512];
    char out[OUT_MAX];
    twc_dns_writer w;
    twc_dns_query q;
    twc_dns_name n = name_of("example.org.");

    assert_int_equal(ask_opts(f->a, "example.org.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_NOT_AUTHORITATIVE);
    /* An empty non-terminal of the table is no entry either, nor is a name
     * below an entry without a wildcard. */
    assert_int_equal(ask_opts(f->a, "test.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_NOT_AUTHORITATIVE);
    assert_int_equal(ask_opts(f->a, "x.host1.test.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_NOT_AUTHORITATIVE);
    assert_int_equal(ask_opts(f->a, ".", TWC_DNS_NS, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_NOT_AUTHORITATIVE);
    /* The server then answers itself, e.g. NXDOMAIN or REFUSED. */
    twc_dns_writer_init(&w, qbuf, sizeof(qbuf), sizeof(qbuf));
    twc_dns_write_header(&w, 7, TWC_DNS_F_RD);
    twc_dns_write_question(&w, &n, TWC_DNS_A, TWC_DNS_CLASS_IN);
    twc_dns_write_opt(&w, 1232, 0, 0);
    assert_int_equal(twc_dns_query_parse(&q, qbuf, twc_dns_writer_finish(&w)), 0);
    twc_dns_writer_init(&w, rbuf, sizeof(rbuf), twc_dns_response_limit(&q, 0));
    twc_dns_reply_rcode(&q, TWC_DNS_REFUSED, &w);
    describe(rbuf, w.len, out, sizeof(out));
    assert_string_equal(out, "REFUSED rd\nQD example.org. A\nOPT 1232\n");
}

static void test_authority_table(void **state)
{
    struct fixture *f = *state;

    expect(f->a, "host1.test.", TWC_DNS_A,
           "NOERROR aa rd\nQD host1.test. A\nAN host1.test. 60 A 192.0.2.10\n");
    expect(f->a, "v6.test.", TWC_DNS_AAAA,
           "NOERROR aa rd\nQD v6.test. AAAA\nAN v6.test. 60 AAAA 2001:db8::10\n");
    expect(f->a, "10.2.0.192.in-addr.arpa.", TWC_DNS_PTR,
           "NOERROR aa rd\nQD 10.2.0.192.in-addr.arpa. PTR\n"
           "AN 10.2.0.192.in-addr.arpa. 60 PTR host1.test.\n");
    /* A --record under a served zone is answered as zone data. */
    expect(f->a, "extra.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD extra.example.com. A\nAN extra.example.com. 3600 A 192.0.2.111\n");
    assert_int_equal(twc_dns_auth_zone_count(f->a), 1);
    assert_int_equal(twc_dns_auth_record_count(f->a), 10);
}

static void test_authority_child_zone(void **state)
{
    twc_dns_auth *a = twc_dns_auth_new();
    twc_err err;

    (void)state;
    assert_int_equal(twc_dns_auth_add_zone(a, zone_from(zone_text), &err), 0);
    assert_int_equal(
        twc_dns_auth_add_zone(a,
                              zone_from("$ORIGIN sub.example.com.\n$TTL 5\n"
                                        "@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n"
                                        "www A 192.0.2.54\n"),
                              &err),
        0);
    /* The same origin twice is refused (and the zone freed). */
    assert_int_equal(twc_dns_auth_add_zone(a, zone_from(zone_text), &err), TWC_EINVAL);
    assert_string_equal(err.msg, "zone example.com. is loaded twice");
    /* A zone without SOA is refused with the checker's message. */
    assert_int_equal(
        twc_dns_auth_add_zone(a, zone_from("$ORIGIN x.\n$TTL 1\na A 192.0.2.1\n"), &err),
        TWC_EINVAL);
    assert_string_equal(err.msg, "t.zone: no SOA record for zone x.");
    assert_int_equal(twc_dns_auth_finish(a, &err), 0);
    /* Served from the child, authoritatively (RFC 1034 §4.3.2 step 2). */
    expect(a, "www.sub.example.com.", TWC_DNS_A,
           "NOERROR aa rd\nQD www.sub.example.com. A\nAN www.sub.example.com. 5 A 192.0.2.54\n");
    expect(a, "nope.sub.example.com.", TWC_DNS_A,
           "NXDOMAIN aa rd\nQD nope.sub.example.com. A\n"
           "NS sub.example.com. 5 SOA ns.sub.example.com. h.sub.example.com. 1 2 3 4 5\n");
    twc_dns_auth_free(a);
}

static void test_authority_axfr_order(void **state)
{
    struct fixture *f = *state;
    twc_dns_name apex = name_of("EXAMPLE.com.");
    twc_dns_axfr it;
    twc_dns_rr rr;
    size_t n = 0, soa = 0;

    assert_int_equal(twc_dns_auth_axfr_start(f->a, &apex, &it), 0);
    while (twc_dns_axfr_next(&it, &rr) == 1) {
        if (n == 0)
            assert_int_equal(rr.type, TWC_DNS_SOA);
        soa += rr.type == TWC_DNS_SOA;
        n++;
    }
    assert_int_equal(rr.type, TWC_DNS_SOA); /* the last one */
    assert_int_equal(soa, 2);
    /* 29 records from the text and 40 "many": the SOA counted twice. */
    assert_int_equal(n, 29 + 40 + 1);
    assert_int_equal(twc_dns_axfr_next(&it, &rr), 0);
    apex = name_of("sub.example.com.");
    assert_int_equal(twc_dns_auth_axfr_start(f->a, &apex, &it), TWC_EDNS_NOTFOUND);
}

static void test_authority_response_limit(void **state)
{
    twc_dns_query q;

    (void)state;
    memset(&q, 0, sizeof(q));
    assert_int_equal(twc_dns_response_limit(&q, 0), 512);
    assert_int_equal(twc_dns_response_limit(&q, 1), 65535);
    q.edns.present = 1;
    q.edns.udp_size = 100; /* RFC 6891 §6.2.5: below 512 reads as 512 */
    assert_int_equal(twc_dns_response_limit(&q, 0), 512);
    q.edns.udp_size = 1000;
    assert_int_equal(twc_dns_response_limit(&q, 0), 1000);
    q.edns.udp_size = 65000;
    assert_int_equal(twc_dns_response_limit(&q, 0), TWC_DNS_EDNS_MAX);
    assert_int_equal(twc_dns_response_limit(&q, 1), 65535);
}

static void test_authority_empty(void **state)
{
    twc_dns_auth *a = twc_dns_auth_new();
    struct qopts o = {.flags = 0};
    char out[OUT_MAX];
    twc_err err;

    (void)state;
    assert_int_equal(twc_dns_auth_finish(a, &err), 0);
    assert_int_equal(twc_dns_auth_finish(a, &err), TWC_EINVAL);
    assert_int_equal(ask_opts(a, "a.b.", TWC_DNS_A, &o, out, sizeof(out)),
                     TWC_DNS_AUTH_NOT_AUTHORITATIVE);
    twc_dns_auth_free(a);
    twc_dns_auth_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_authority_a_and_aaaa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_cname_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_empty_non_terminal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_delegation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_nxdomain_nodata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_additional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_any_is_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_edns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_not_authoritative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_table, setup, teardown),
        cmocka_unit_test(test_authority_child_zone),
        cmocka_unit_test_setup_teardown(test_authority_axfr_order, setup, teardown),
        cmocka_unit_test(test_authority_response_limit),
        cmocka_unit_test(test_authority_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
