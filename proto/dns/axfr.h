/*
 * The receiving side of a zone transfer (AXFR, RFC 5936), shared by the
 * secondary (proto/dns/secondary.c) and `twc client dns NAME AXFR`.
 *
 * Pure: no sockets, no reactor, no logging. A reader checks the sequence of
 * response messages that answers one AXFR query over TCP: every message
 * carries the query's ID, QR and NOERROR (RFC 5936 §2.2.1), echoes the
 * question in the first message at least, and the answer records open with
 * the zone's SOA and end with that SOA again (RFC 5936 §2.2). Records after
 * the closing SOA are ignored. Messages, records and bytes are bounded
 * (struct twc_dns_axfr_limits, defaults TWC_DNS_XFR_* in lib/limits.h).
 *
 * It can be fed whole messages (twc_dns_axfr_reader_message, for callers that
 * frame TCP themselves) or the raw TCP byte stream in any split
 * (twc_dns_axfr_reader_feed, RFC 1035 §4.2.2 two-byte length prefixes).
 */
#ifndef TWC_PROTO_DNS_AXFR_H
#define TWC_PROTO_DNS_AXFR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proto/dns/dns.h"
#include "proto/framing/lenprefix.h"

/* Room for any query twc_dns_xfr_query_encode writes: prefix, header, one
 * question. */
#define TWC_DNS_XFR_QUERY_MAX (2 + TWC_DNS_HEADER_LEN + TWC_DNS_NAME_MAX + 4)

/* Write a length-prefixed (RFC 1035 §4.2.2) query for zone's qtype (SOA or
 * AXFR), class IN, with id and no flags (RFC 5936 §2.1: one question; RD
 * means nothing to a primary). buf (borrowed) needs TWC_DNS_XFR_QUERY_MAX
 * bytes. Returns the bytes written, prefix included, or 0 when cap is short. */
/* A fresh query ID for a transfer or its SOA probe, from getrandom(2) (RFC
 * 5452's spirit; over TCP forgery is hard already), else from the clock. */
uint16_t twc_dns_xfr_random_id(void);

size_t twc_dns_xfr_query_encode(uint8_t *buf, size_t cap, uint16_t id, const twc_dns_name *zone,
                                uint16_t qtype);

struct twc_dns_axfr_limits {
    size_t max_messages; /* 0: TWC_DNS_XFR_MESSAGES_MAX */
    size_t max_records;  /* answer records, both SOAs included; 0: TWC_DNS_XFR_RECORDS_MAX */
    size_t max_bytes;    /* message bytes, prefixes excluded; 0: TWC_DNS_XFR_BYTES_MAX */
};

enum twc_dns_axfr_state {
    TWC_DNS_AXFR_S_OPENING, /* waiting for the opening SOA */
    TWC_DNS_AXFR_S_RECORDS, /* opening SOA seen, waiting for the closing one */
    TWC_DNS_AXFR_S_DONE,    /* the closing SOA arrived */
    TWC_DNS_AXFR_S_FAILED,  /* sticky: every later call returns the same code */
};

enum twc_dns_axfr_event_type {
    TWC_DNS_AXFR_EV_NONE,    /* bytes consumed, no complete message yet */
    TWC_DNS_AXFR_EV_MESSAGE, /* one checked message; its transfer records in rr */
};

struct twc_dns_axfr_event {
    enum twc_dns_axfr_event_type type;
    /* MESSAGE: the parsed message and the slice of its answer records that
     * belong to the transfer (the closing SOA included, anything after it
     * left out). Borrowed from the reader: valid until its next call. */
    const twc_dns_msg *msg;
    const twc_dns_rr *rr;
    size_t nrr;
    int done; /* rr ends with the closing SOA: the transfer is complete */
};

struct twc_dns_axfr_stats {
    size_t messages;
    size_t records; /* transfer records, both SOAs included */
    size_t bytes;   /* message bytes, prefixes excluded */
};

/* Caller-owned storage (embed it); fields private. */
typedef struct twc_dns_axfr_reader {
    enum twc_dns_axfr_state state;
    struct twc_dns_axfr_limits lim;
    uint16_t id;
    twc_dns_name zone;
    unsigned rcode; /* a failing message's rcode, else 0 */
    int err;        /* FAILED: the code every call returns */
    int have_msg;
    twc_dns_msg msg; /* the message last returned, freed on the next call */
    struct twc_dns_axfr_stats stats;
    twc_lenprefix_parser lp; /* feed's framing */
} twc_dns_axfr_reader;

/* A reader for the answer to AXFR query id for zone (copied). lim may be NULL
 * (defaults); zero fields take their defaults. Allocates nothing. */
void twc_dns_axfr_reader_init(twc_dns_axfr_reader *r, uint16_t id, const twc_dns_name *zone,
                              const struct twc_dns_axfr_limits *lim);
void twc_dns_axfr_reader_cleanup(twc_dns_axfr_reader *r);

/* Check one whole message data[0..len) (borrowed) and fill *ev (always a
 * MESSAGE event on success). Returns 0, or (sticky, *err saying why):
 *   TWC_EPROTO        malformed, another ID, no QR, another question, a
 *                     first message without the question, records before
 *                     the opening SOA
 *   TWC_EDNS_SERVFAIL the server answered with an rcode other than NOERROR
 *                     (REFUSED, NOTAUTH, ...): twc_dns_axfr_reader_rcode
 *   TWC_ETOOBIG       a limit of struct twc_dns_axfr_limits was passed
 *   TWC_ENOMEM
 * Once the transfer is done, further messages are ignored (0, NONE event). */
int twc_dns_axfr_reader_message(twc_dns_axfr_reader *r, const uint8_t *data, size_t len,
                                struct twc_dns_axfr_event *ev, twc_err *err);

/* Parse the TCP byte stream data[0..len) (borrowed), split anywhere. Returns
 * the bytes consumed (0 < n <= len when len > 0) and sets *ev; at most one
 * MESSAGE event per call, the rest of data is then unconsumed: loop. Errors
 * as twc_dns_axfr_reader_message, plus TWC_ETOOBIG for a message longer than
 * TWC_DNS_TCP_MAX. After the closing SOA, bytes are consumed and ignored. */
ssize_t twc_dns_axfr_reader_feed(twc_dns_axfr_reader *r, const uint8_t *data, size_t len,
                                 struct twc_dns_axfr_event *ev, twc_err *err);

enum twc_dns_axfr_state twc_dns_axfr_reader_state(const twc_dns_axfr_reader *r);
/* True once the closing SOA arrived. */
int twc_dns_axfr_reader_done(const twc_dns_axfr_reader *r);
/* The rcode of the message that failed the transfer, else 0 (NOERROR). */
unsigned twc_dns_axfr_reader_rcode(const twc_dns_axfr_reader *r);
/* Counters so far (borrowed). */
const struct twc_dns_axfr_stats *twc_dns_axfr_reader_stats(const twc_dns_axfr_reader *r);
/* Static name of a state ("opening", "records", "done", "failed"). */
const char *twc_dns_axfr_state_name(enum twc_dns_axfr_state st);

#endif
