/*
 * libFuzzer target for proto/dns/zone.c, rdata_text.c and authority.c (and
 * the corpus replay in plain CI).
 *
 * The input is zone-file text, parsed with the origin "fuzz.example." and
 * $INCLUDE refused. The first line is also tried as a --record line. When the
 * text parses, its records are served (as a zone when it passes
 * twc_dns_zone_check, else as hosts/--record entries) and a few queries are
 * answered: fixed names, the records' owners, names below them, with several
 * types, at 512 bytes, with EDNS and over TCP.
 *
 * Invariants checked (abort on violation):
 *   - a failed parse says "t.zone:LINE: ..." (or "--record: ...");
 *   - every record's rdata, formatted as text, parses back to the same bytes;
 *   - every answer is a message the codec parses, with our id, QR set, at most
 *     the size limit, and the question echoed; NOT_AUTHORITATIVE leaves the
 *     writer empty;
 *   - AXFR yields the SOA first and last and every other record once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/authority.h"
#include "proto/dns/dns.h"
#include "proto/dns/zone.h"
#include "tests/fuzz/fuzz_check.h"

#define MAX_OWNERS 8


static const struct twc_dns_zone_limits lim = {
    .max_entry = 4096, .max_records = 2000, .include_depth = -1};

static void check_roundtrip(const twc_dns_zone *z)
{
    size_t i;

    for (i = 0; i < twc_dns_zone_count(z); i++) {
        static uint8_t back[65535];
        static char text[4 * 65535 + 64];
        twc_dns_rr rr;
        twc_err err;
        int n, m;

        twc_dns_zone_get(z, i, &rr);
        n = twc_dns_rdata_format(rr.type, rr.rdata, rr.rdlen, text, sizeof(text));
        CHECK(n >= 0);
        m = twc_dns_rdata_parse_text(rr.type, text, (size_t)n, NULL, back, sizeof(back), &err);
        if (m != (int)rr.rdlen || memcmp(back, rr.rdata, rr.rdlen) != 0) {
            fprintf(stderr, "rdata round trip: \"%s\" -> %d (%s)\n", text, m,
                    m < 0 ? err.msg : "differs");
            CHECK(0);
        }
    }
}

static void ask(const twc_dns_auth *a, const twc_dns_name *qname, uint16_t qtype, int mode)
{
    static uint8_t rbuf[65535];
    uint8_t qbuf[512];
    twc_dns_writer w;
    twc_dns_query q;
    twc_dns_msg m;
    enum twc_dns_auth_result res;
    size_t qlen, limit;
    int rc;

    twc_dns_writer_init(&w, qbuf, sizeof(qbuf), sizeof(qbuf));
    CHECK(twc_dns_write_header(&w, 0x5a5a, TWC_DNS_F_RD) == 0);
    if (twc_dns_write_question(&w, qname, qtype, TWC_DNS_CLASS_IN) < 0)
        return;
    if (mode == 1 && twc_dns_write_opt(&w, 4096, 0, 0x8000) < 0)
        return;
    qlen = twc_dns_writer_finish(&w);
    rc = twc_dns_query_parse(&q, qbuf, qlen);
    CHECK(rc == 0);
    limit = twc_dns_response_limit(&q, mode == 2);
    twc_dns_writer_init(&w, rbuf, sizeof(rbuf), limit);
    res = twc_dns_auth_answer(a, &q, rc, &w);
    if (res != TWC_DNS_AUTH_ANSWERED) {
        CHECK(res == TWC_DNS_AUTH_NOT_AUTHORITATIVE);
        CHECK(w.len == 0);
        return;
    }
    CHECK(w.len >= TWC_DNS_HEADER_LEN && w.len <= limit);
    CHECK(twc_dns_msg_parse(&m, rbuf, w.len, NULL) == 0);
    CHECK(m.id == 0x5a5a);
    CHECK((m.flags & TWC_DNS_F_QR) != 0);
    CHECK(m.count[TWC_DNS_QD] == 1 && twc_dns_name_equal(&m.qd[0].name, qname));
    CHECK(m.edns.present == (mode == 1));
    twc_dns_msg_cleanup(&m);
}

static void ask_all(const twc_dns_auth *a, const twc_dns_zone *z)
{
    static const char *const fixed[] = {"fuzz.example.",   "www.fuzz.example.",
                                        "*.fuzz.example.", "a.b.c.fuzz.example.",
                                        "other.org.",      "."};
    static const uint16_t types[] = {TWC_DNS_A,   TWC_DNS_AAAA,  TWC_DNS_MX,  TWC_DNS_NS,
                                     TWC_DNS_ANY, TWC_DNS_CNAME, TWC_DNS_TXT, TWC_DNS_SOA};
    twc_dns_name names[2 * MAX_OWNERS + 8];
    size_t nn = 0, i, t;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        CHECK(twc_dns_name_parse(&names[nn++], fixed[i], strlen(fixed[i]), NULL, NULL) == 0);
    for (i = 0; i < twc_dns_zone_count(z) && i < MAX_OWNERS; i++) {
        twc_dns_rr rr;
        twc_dns_name below;

        twc_dns_zone_get(z, i, &rr);
        names[nn++] = rr.name;
        /* A name below the owner: wildcards, NXDOMAIN, referrals. */
        if (twc_dns_name_parse(&below, "Zz", 2, &rr.name, NULL) == 0)
            names[nn++] = below;
    }
    for (i = 0; i < nn; i++)
        for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
            ask(a, &names[i], types[t], (int)((i + t) % 3));
}

static void check_axfr(const twc_dns_auth *a, const twc_dns_zone *z)
{
    twc_dns_axfr it;
    twc_dns_rr rr;
    size_t n = 0;

    CHECK(twc_dns_auth_axfr_start(a, twc_dns_zone_origin(z), &it) == 0);
    while (twc_dns_axfr_next(&it, &rr) == 1) {
        CHECK(n > 0 || rr.type == TWC_DNS_SOA);
        n++;
    }
    CHECK(rr.type == TWC_DNS_SOA);
    CHECK(n == twc_dns_zone_count(z) + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(data, '\n', size);
    twc_dns_name origin;
    twc_dns_zone *z, *rec;
    twc_dns_auth *a;
    twc_err err;
    int rc, as_zone;

    CHECK(twc_dns_name_parse(&origin, "fuzz.example.", 13, NULL, NULL) == 0);

    /* The first line as a --record. */
    rec = twc_dns_zone_new(&lim);
    CHECK(rec != NULL);
    rc = twc_dns_zone_parse_record(rec, text, nl != NULL ? (size_t)(nl - text) : size, &err);
    CHECK(rc == 0 || strncmp(err.msg, "--record: ", 10) == 0);
    CHECK(twc_dns_zone_count(rec) == (rc == 0 ? 1u : 0u));
    check_roundtrip(rec);

    z = twc_dns_zone_new(&lim);
    CHECK(z != NULL);
    rc = twc_dns_zone_parse_buf(z, "t.zone", NULL, text, size, &origin, &err);
    if (rc < 0) {
        CHECK(strncmp(err.msg, "t.zone:", 7) == 0);
        twc_dns_zone_free(z);
        twc_dns_zone_free(rec);
        return 0;
    }
    check_roundtrip(z);

    a = twc_dns_auth_new();
    CHECK(a != NULL);
    as_zone = twc_dns_zone_check(z, &err) == 0;
    if (as_zone)
        CHECK(twc_dns_auth_add_zone(a, z, &err) == 0);
    else
        CHECK(twc_dns_auth_add_records(a, z, &err) == 0);
    CHECK(twc_dns_auth_add_records(a, rec, &err) == 0);
    CHECK(twc_dns_auth_finish(a, &err) == 0);
    ask_all(a, z);
    if (as_zone)
        check_axfr(a, z);
    twc_dns_auth_free(a); /* frees z and rec */
    return 0;
}
