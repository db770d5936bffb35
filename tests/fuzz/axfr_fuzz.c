/*
 * libFuzzer target for proto/dns/axfr.c (and the corpus replay in plain CI).
 *
 * Input: two bytes of query ID, then the TCP byte stream that answers an AXFR
 * of "twc.test." (two-byte length prefixes, RFC 1035 §4.2.2). Invariants
 * checked (abort on violation):
 *   - feed consumes 0 < n <= len and returns only documented codes;
 *   - the whole stream, one byte at a time, and a split at a position taken
 *     from the input give the same events, records, end state and code;
 *   - the counters never pass the limits, and a finished transfer's last
 *     record is the zone's SOA.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/axfr.h"
#include "tests/fuzz/fuzz_check.h"

/* What a run saw: a running hash of every event and record, and the end. */
struct outcome {
    uint64_t hash;
    size_t events;
    int code;
    enum twc_dns_axfr_state state;
    struct twc_dns_axfr_stats stats;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
}

static void see(struct outcome *o, const struct twc_dns_axfr_event *ev, const twc_dns_name *zone)
{
    if (ev->type != TWC_DNS_AXFR_EV_MESSAGE)
        return;
    o->events++;
    mix(&o->hash, &ev->nrr, sizeof(ev->nrr));
    mix(&o->hash, &ev->done, sizeof(ev->done));
    for (size_t i = 0; i < ev->nrr; i++) {
        mix(&o->hash, ev->rr[i].name.wire, ev->rr[i].name.len);
        mix(&o->hash, &ev->rr[i].type, sizeof(ev->rr[i].type));
        mix(&o->hash, ev->rr[i].rdata, ev->rr[i].rdlen);
    }
    if (ev->done)
        CHECK(ev->nrr > 0 && ev->rr[ev->nrr - 1].type == TWC_DNS_SOA &&
              twc_dns_name_equal(&ev->rr[ev->nrr - 1].name, zone));
}

/* Feed data in chunks of at most step bytes (each an exact heap copy). */
static void run(const uint8_t *data, size_t len, uint16_t id, size_t step, struct outcome *o)
{
    static const struct twc_dns_axfr_limits lim = {64, 256, 16384};
    twc_dns_name zone;
    twc_dns_axfr_reader r;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    CHECK(twc_dns_name_parse(&zone, "twc.test.", 9, NULL, NULL) == 0);
    twc_dns_axfr_reader_init(&r, id, &zone, &lim);
    while (off < len && o->code == 0) {
        size_t n = len - off < step ? len - off : step, done = 0;
        uint8_t *copy = malloc(n);

        CHECK(copy != NULL);
        memcpy(copy, data + off, n);
        while (done < n) {
            struct twc_dns_axfr_event ev;
            twc_err err;
            ssize_t k = twc_dns_axfr_reader_feed(&r, copy + done, n - done, &ev, &err);

            if (k < 0) {
                CHECK(k == TWC_EPROTO || k == TWC_EDNS_SERVFAIL || k == TWC_ETOOBIG ||
                      k == TWC_ENOMEM);
                o->code = (int)k;
                break;
            }
            CHECK(k > 0 && (size_t)k <= n - done);
            see(o, &ev, &zone);
            done += (size_t)k;
        }
        free(copy);
        off += n;
    }
    o->state = twc_dns_axfr_reader_state(&r);
    o->stats = *twc_dns_axfr_reader_stats(&r);
    CHECK(o->stats.messages <= lim.max_messages && o->stats.records <= lim.max_records &&
          o->stats.bytes <= lim.max_bytes);
    twc_dns_axfr_reader_cleanup(&r);
}

static void same(const struct outcome *a, const struct outcome *b)
{
    CHECK(a->hash == b->hash && a->events == b->events && a->code == b->code &&
          a->state == b->state && a->stats.messages == b->stats.messages &&
          a->stats.records == b->stats.records && a->stats.bytes == b->stats.bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole, bytes, split;
    uint16_t id;

    if (size < 2)
        return 0;
    id = (uint16_t)(data[0] << 8 | data[1]);
    data += 2;
    size -= 2;
    run(data, size, id, size > 0 ? size : 1, &whole);
    run(data, size, id, 1, &bytes);
    run(data, size, id, size > 0 ? 1 + (size_t)id % size : 1, &split);
    same(&whole, &bytes);
    same(&whole, &split);
    return 0;
}
