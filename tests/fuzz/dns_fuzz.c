/*
 * libFuzzer target for proto/dns (and the corpus replay in plain CI).
 *
 * Input: a DNS message. Invariants checked (abort on violation):
 *   - the query parser and the full parser never read out of bounds and return
 *     only their documented codes;
 *   - a message the full parser accepts is rewritten record by record with the
 *     compressing writer, and the result parses back to the same header, the
 *     same questions and the same records (names compared case-insensitively,
 *     rdata byte for byte): serialize(parse(x)) re-parses the same;
 *   - every record's rdata formats to text without failing for known shapes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/dns.h"
#include "tests/fuzz/fuzz_check.h"

static void check_query(const uint8_t *data, size_t size)
{
    twc_dns_query q;
    int rc = twc_dns_query_parse(&q, data, size);

    CHECK(rc == 0 || rc == TWC_EPROTO || rc == TWC_EOF);
    CHECK(rc != TWC_EOF || size < TWC_DNS_HEADER_LEN);
    if (rc == 0) {
        CHECK(q.qdcount == 1);
        CHECK(q.question_end <= size);
        CHECK(q.q.name.len >= 1 && q.q.name.wire[q.q.name.len - 1] == 0);
    }
}

static void rewrite_and_compare(const twc_dns_msg *m)
{
    static uint8_t out[TWC_DNS_TCP_MAX];
    twc_dns_writer w;
    twc_dns_msg back;
    twc_err err;
    size_t i, total, len;
    unsigned s, k = 0;
    char text[4096];

    twc_dns_writer_init(&w, out, sizeof(out), sizeof(out));
    CHECK(twc_dns_write_header(&w, m->id, m->flags) == 0);
    for (i = 0; i < m->count[TWC_DNS_QD]; i++)
        if (twc_dns_write_question(&w, &m->qd[i].name, m->qd[i].qtype, m->qd[i].qclass) < 0)
            return; /* expanded names can outgrow 64 KiB: not comparable */
    for (s = 1; s < 4; s++) {
        for (i = 0; i < m->count[s]; i++, k++) {
            const twc_dns_rr *rr = &m->rr[k];
            int rc = twc_dns_write_rr(&w, (enum twc_dns_section)s, rr);

            if (rc == TWC_ETOOBIG)
                return;
            CHECK(rc == 0);
            rc = twc_dns_rdata_format(rr->type, rr->rdata, rr->rdlen, text, sizeof(text));
            CHECK(rc >= 0 || rc == TWC_ETOOBIG);
        }
    }
    len = twc_dns_writer_finish(&w);
    CHECK(twc_dns_msg_parse(&back, out, len, &err) == 0);
    CHECK(back.id == m->id);
    CHECK((back.flags & ~TWC_DNS_F_TC) == (m->flags & ~TWC_DNS_F_TC));
    for (s = 0; s < 4; s++)
        CHECK(back.count[s] == m->count[s]);
    for (i = 0; i < m->count[TWC_DNS_QD]; i++) {
        CHECK(twc_dns_name_equal(&back.qd[i].name, &m->qd[i].name));
        CHECK(back.qd[i].qtype == m->qd[i].qtype && back.qd[i].qclass == m->qd[i].qclass);
    }
    total = (size_t)m->count[1] + m->count[2] + m->count[3];
    for (i = 0; i < total; i++) {
        CHECK(twc_dns_name_equal(&back.rr[i].name, &m->rr[i].name));
        CHECK(back.rr[i].type == m->rr[i].type && back.rr[i].rclass == m->rr[i].rclass);
        CHECK(back.rr[i].ttl == m->rr[i].ttl && back.rr[i].rdlen == m->rr[i].rdlen);
        CHECK(memcmp(back.rr[i].rdata, m->rr[i].rdata, m->rr[i].rdlen) == 0);
    }
    twc_dns_msg_cleanup(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    twc_dns_msg m;
    twc_err err;
    int rc;

    check_query(data, size);
    rc = twc_dns_msg_parse(&m, data, size, &err);
    CHECK(rc == 0 || rc == TWC_EPROTO || rc == TWC_ETOOBIG);
    if (rc == 0) {
        rewrite_and_compare(&m);
        twc_dns_msg_cleanup(&m);
    }
    return 0;
}
