/*
 * AXFR response sequences (RFC 5936 §2.2): the query a transfer starts with,
 * and the incremental, bounded reader of the messages that answer it.
 */
#include "proto/dns/axfr.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "limits.h"

size_t twc_dns_xfr_query_encode(uint8_t *buf, size_t cap, uint16_t id, const twc_dns_name *zone,
                                uint16_t qtype)
{
    twc_dns_writer w;
    size_t n;

    if (cap < TWC_DNS_XFR_QUERY_MAX)
        return 0;
    twc_dns_writer_init(&w, buf + 2, cap - 2, cap - 2);
    twc_dns_write_header(&w, id, 0);
    if (twc_dns_write_question(&w, zone, qtype, TWC_DNS_CLASS_IN) < 0)
        return 0;
    n = twc_dns_writer_finish(&w);
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    return n + 2;
}

const char *twc_dns_axfr_state_name(enum twc_dns_axfr_state st)
{
    static const char *const names[] = {"opening", "records", "done", "failed"};

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

void twc_dns_axfr_reader_init(twc_dns_axfr_reader *r, uint16_t id, const twc_dns_name *zone,
                              const struct twc_dns_axfr_limits *lim)
{
    struct twc_lenprefix_limits lp_lim = {.max_len = TWC_DNS_TCP_MAX};

    memset(r, 0, sizeof(*r));
    r->state = TWC_DNS_AXFR_S_OPENING;
    r->id = id;
    r->zone = *zone;
    if (lim != NULL)
        r->lim = *lim;
    if (r->lim.max_messages == 0)
        r->lim.max_messages = TWC_DNS_XFR_MESSAGES_MAX;
    if (r->lim.max_records == 0)
        r->lim.max_records = TWC_DNS_XFR_RECORDS_MAX;
    if (r->lim.max_bytes == 0)
        r->lim.max_bytes = TWC_DNS_XFR_BYTES_MAX;
    twc_lenprefix_parser_init(&r->lp, 2, &lp_lim);
}

static void drop_msg(twc_dns_axfr_reader *r)
{
    if (r->have_msg)
        twc_dns_msg_cleanup(&r->msg);
    r->have_msg = 0;
}

void twc_dns_axfr_reader_cleanup(twc_dns_axfr_reader *r)
{
    drop_msg(r);
    twc_lenprefix_parser_cleanup(&r->lp);
}

/* Every error is sticky: the transfer cannot resume after a bad message. */
static int fail(twc_dns_axfr_reader *r, int code)
{
    drop_msg(r);
    r->state = TWC_DNS_AXFR_S_FAILED;
    r->err = code;
    return code;
}

/* The header and question rules of RFC 5936 §2.2.1. */
static int check_header(twc_dns_axfr_reader *r, const twc_dns_msg *m, twc_err *err)
{
    unsigned rcode = twc_dns_msg_rcode(m);

    if (m->id != r->id || !(m->flags & TWC_DNS_F_QR))
        return twc_err_set(err, TWC_EPROTO, "reply with another id");
    if (rcode != TWC_DNS_NOERROR) {
        r->rcode = rcode;
        return twc_err_set(err, TWC_EDNS_SERVFAIL, "server refused the transfer: %s",
                           twc_dns_rcode_name(rcode));
    }
    if (m->count[TWC_DNS_QD] > 1 ||
        (m->count[TWC_DNS_QD] == 1 &&
         (m->qd[0].qtype != TWC_DNS_AXFR || !twc_dns_name_equal(&m->qd[0].name, &r->zone))))
        return twc_err_set(err, TWC_EPROTO, "reply to another question");
    if (r->stats.messages == 1 && m->count[TWC_DNS_QD] != 1)
        return twc_err_set(err, TWC_EPROTO, "first message without the question");
    return 0;
}

/* How many of the answer records belong to the transfer; moves the state on. */
static int scan_records(twc_dns_axfr_reader *r, const twc_dns_rr *rr, size_t n, size_t *keep,
                        twc_err *err)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int is_soa = rr[i].type == TWC_DNS_SOA && twc_dns_name_equal(&rr[i].name, &r->zone);

        if (r->state == TWC_DNS_AXFR_S_OPENING) {
            if (!is_soa)
                return twc_err_set(err, TWC_EPROTO, "transfer does not start with the zone's SOA");
            r->state = TWC_DNS_AXFR_S_RECORDS;
        } else if (is_soa) {
            r->state = TWC_DNS_AXFR_S_DONE; /* the closing SOA */
            i++;
            break;
        }
    }
    *keep = i;
    if (i > r->lim.max_records - r->stats.records)
        return twc_err_set(err, TWC_ETOOBIG, "transfer exceeds %zu records", r->lim.max_records);
    r->stats.records += i;
    return 0;
}

int twc_dns_axfr_reader_message(twc_dns_axfr_reader *r, const uint8_t *data, size_t len,
                                struct twc_dns_axfr_event *ev, twc_err *err)
{
    const twc_dns_rr *rr;
    size_t n, keep = 0;
    int code;

    memset(ev, 0, sizeof(*ev));
    if (r->state == TWC_DNS_AXFR_S_FAILED)
        return twc_err_set(err, r->err, "transfer already failed");
    drop_msg(r);
    if (r->state == TWC_DNS_AXFR_S_DONE)
        return 0;
    if (r->stats.messages >= r->lim.max_messages)
        return fail(
            r, twc_err_set(err, TWC_ETOOBIG, "transfer exceeds %zu messages", r->lim.max_messages));
    if (len > r->lim.max_bytes - r->stats.bytes)
        return fail(r,
                    twc_err_set(err, TWC_ETOOBIG, "transfer exceeds %zu bytes", r->lim.max_bytes));
    r->stats.messages++;
    r->stats.bytes += len;
    code = twc_dns_msg_parse(&r->msg, data, len, err);
    if (code < 0)
        return fail(r, code == TWC_ENOMEM ? code : TWC_EPROTO);
    r->have_msg = 1;
    code = check_header(r, &r->msg, err);
    if (code < 0)
        return fail(r, code);
    rr = twc_dns_msg_section(&r->msg, TWC_DNS_AN, &n);
    code = scan_records(r, rr, n, &keep, err);
    if (code < 0)
        return fail(r, code);
    ev->type = TWC_DNS_AXFR_EV_MESSAGE;
    ev->msg = &r->msg;
    ev->rr = rr;
    ev->nrr = keep;
    ev->done = r->state == TWC_DNS_AXFR_S_DONE;
    return 0;
}

ssize_t twc_dns_axfr_reader_feed(twc_dns_axfr_reader *r, const uint8_t *data, size_t len,
                                 struct twc_dns_axfr_event *ev, twc_err *err)
{
    struct twc_lenprefix_event lev;
    ssize_t n;
    int code;

    memset(ev, 0, sizeof(*ev));
    if (r->state == TWC_DNS_AXFR_S_FAILED)
        return twc_err_set(err, r->err, "transfer already failed");
    drop_msg(r);
    if (r->state == TWC_DNS_AXFR_S_DONE)
        return (ssize_t)len;
    n = twc_lenprefix_parser_feed(&r->lp, data, len, &lev);
    if (n < 0) {
        if (n == TWC_ETOOBIG)
            twc_err_set(err, TWC_ETOOBIG, "message exceeds %d bytes", TWC_DNS_TCP_MAX);
        else
            twc_err_set(err, (int)n, "%s", twc_strerror((int)n));
        return fail(r, (int)n);
    }
    if (lev.type == TWC_LENPREFIX_EV_FRAME) {
        code = twc_dns_axfr_reader_message(r, lev.payload.p, lev.payload.len, ev, err);
        if (code < 0)
            return code;
    }
    return n;
}

enum twc_dns_axfr_state twc_dns_axfr_reader_state(const twc_dns_axfr_reader *r)
{
    return r->state;
}

int twc_dns_axfr_reader_done(const twc_dns_axfr_reader *r)
{
    return r->state == TWC_DNS_AXFR_S_DONE;
}

unsigned twc_dns_axfr_reader_rcode(const twc_dns_axfr_reader *r)
{
    return r->rcode;
}

const struct twc_dns_axfr_stats *twc_dns_axfr_reader_stats(const twc_dns_axfr_reader *r)
{
    return &r->stats;
}

uint16_t twc_dns_xfr_random_id(void)
{
    uint8_t id[2] = {0, 0};

    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        id[0] = (uint8_t)ts.tv_nsec;
        id[1] = (uint8_t)(ts.tv_nsec >> 8);
    }
    return (uint16_t)(id[0] << 8 | id[1]);
}
