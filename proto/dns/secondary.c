/*
 * Secondary zones: the AXFR client (RFC 5936 §2.2, over RFC 1035 §4.2.2
 * framing) and the REFRESH / RETRY / EXPIRE timers of RFC 1035 §3.3.13.
 *
 * This file owns one transfer at a time per secondary (struct xfr), the copy
 * being built, and the copy in service. A transfer owns itself the same way a
 * forwarder's TCP try does (proto/dns/forward.c): one reference for the
 * connector (released by the factory's stop) and one for the connection
 * (released by client_connection_lost), so cutting it loose from the
 * secondary at any point is safe.
 */
#define _GNU_SOURCE
#include "proto/dns/secondary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "limits.h"
#include "log.h"
#include "proto/dns/axfr.h"
#include "proto/dns/forward.h"
#include "proto/framing/lenprefix.h"
#include "protocol.h"
#include "stream.h"

struct xfr;

struct twc_dns_secondary {
    twc_reactor *r;
    twc_addr primary;
    twc_dns_name zone;
    struct twc_dns_zone_limits lim;
    unsigned xfr_timeout_ms;
    uint32_t first_retry_s;
    twc_dns_secondary_fn on_change;
    void *arg;
    twc_timer *next;    /* REFRESH or RETRY: start the next transfer */
    twc_timer *expire;  /* EXPIRE: drop the copy */
    twc_timer *timeout; /* the running transfer's deadline */
    struct xfr *xfr;    /* the running transfer, or NULL */
    twc_dns_zone *copy; /* in service, or NULL */
    uint32_t serial;
    uint32_t refresh, retry, expire_s; /* from copy's SOA */
    unsigned attempts, failures;
};

struct xfr {
    twc_factory factory;
    twc_protocol proto;
    twc_dns_secondary *s; /* NULL once cut loose */
    twc_connector *conn;
    twc_lenprefix_parser lp;
    int refs;
    uint16_t id;
    twc_dns_zone *z;        /* being built */
    int soa_phase;          /* asking the SOA first (a copy is held): no AXFR sent yet */
    twc_dns_axfr_reader rd; /* checks the AXFR answer (set up when it is sent) */
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void start_transfer(twc_dns_secondary *s);

/* RFC 1982 §3.2: serial a is greater than serial b. */
static int serial_gt(uint32_t a, uint32_t b)
{
    return (a < b && b - a > 0x80000000u) || (a > b && a - b < 0x80000000u);
}

/* ---- Spec ------------------------------------------------------------------ */

int twc_dns_secondary_parse(const char *spec, twc_addr *primary, twc_dns_name *zone, twc_err *err)
{
    const char *slash = strrchr(spec, '/');
    char host[TWC_ADDR_STRLEN];
    size_t hlen;
    twc_err e;

    if (slash == NULL || slash == spec || slash[1] == '\0')
        return twc_err_set(err, TWC_EINVAL, "'%s' is not IP[:PORT]/DOMAIN", spec);
    hlen = (size_t)(slash - spec);
    if (hlen >= sizeof(host))
        return twc_err_set(err, TWC_EINVAL, "'%s': address too long", spec);
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    /* A bare address (IPv4 or IPv6) is port 53; else HOST:PORT / [V6]:PORT. */
    if (twc_addr_from_ip(primary, host, 53, NULL) < 0 &&
        (twc_addr_parse_hostport(primary, host, NULL) < 0 || twc_addr_port(primary) == 0))
        return twc_err_set(err, TWC_EINVAL, "'%s': '%s' is not a numeric IP[:PORT]", spec, host);
    /* The domain is absolute, trailing dot or not (CLI.md). */
    if (twc_dns_name_parse(zone, slash + 1, strlen(slash + 1), NULL, &e) < 0)
        return twc_err_set(err, TWC_EINVAL, "'%s': %s", spec, e.msg);
    return 0;
}

/* ---- The copy in service ------------------------------------------------------ */

/* The SOA of a zone built by a transfer: always record 0. */
static int soa_fields(const twc_dns_zone *z, uint32_t f[5])
{
    twc_dns_rr rr;

    if (z == NULL || twc_dns_zone_count(z) == 0)
        return -1;
    twc_dns_zone_get(z, 0, &rr);
    if (rr.type != TWC_DNS_SOA || rr.rdlen < 20)
        return -1;
    for (int i = 0; i < 5; i++)
        f[i] = get32(rr.rdata + rr.rdlen - 20 + 4 * i);
    return 0;
}

static uint64_t clamp_ms(uint32_t secs)
{
    /* RFC 2181 §8 limits these to 2^31 - 1; never spin on 0. */
    if (secs < TWC_DNS_SECONDARY_REFRESH_MIN_S)
        secs = TWC_DNS_SECONDARY_REFRESH_MIN_S;
    if (secs > 0x7fffffffu)
        secs = 0x7fffffffu;
    return (uint64_t)secs * 1000;
}

static void notify(twc_dns_secondary *s)
{
    if (s->on_change != NULL)
        s->on_change(s->arg, s);
}

static void on_expire(twc_timer *t, void *arg)
{
    twc_dns_secondary *s = arg;
    char zone[TWC_DNS_NAME_TEXT_MAX];

    (void)t;
    twc_dns_name_format(&s->zone, zone, sizeof(zone));
    twc_log_warnx(s->r, "dns", "secondary %s: no transfer for %u s (SOA expire): zone dropped",
                  zone, (unsigned)s->expire_s);
    twc_dns_zone_free(s->copy);
    s->copy = NULL;
    s->serial = 0;
    notify(s);
}

/* A transfer ended: schedule the next one (REFRESH after success, RETRY after
 * failure, RFC 1035 §3.3.13). */
static void schedule(twc_dns_secondary *s, int ok)
{
    uint64_t ms;

    if (ok)
        ms = clamp_ms(s->refresh);
    else if (s->copy != NULL)
        ms = clamp_ms(s->retry);
    else
        ms = clamp_ms(s->first_retry_s);
    twc_timer_start(s->next, ms, 0);
}

/* A complete, checked transfer. Takes z. */
static void install(twc_dns_secondary *s, twc_dns_zone *z)
{
    uint32_t f[5];
    char zone[TWC_DNS_NAME_TEXT_MAX];
    int changed;

    soa_fields(z, f); /* checked by the caller */
    twc_dns_name_format(&s->zone, zone, sizeof(zone));
    /* Only a newer serial replaces the copy (RFC 1982 arithmetic). */
    changed = s->copy == NULL || serial_gt(f[0], s->serial);
    if (changed) {
        twc_dns_zone_free(s->copy);
        s->copy = z;
        s->serial = f[0];
        twc_log_info(s->r, "dns", "secondary %s: serial %u transferred, %zu records", zone,
                     (unsigned)f[0], twc_dns_zone_count(z));
    } else {
        twc_dns_zone_free(z);
        twc_log_debug(s->r, "dns", "secondary %s: serial %u unchanged", zone, (unsigned)f[0]);
    }
    s->refresh = f[1];
    s->retry = f[2];
    s->expire_s = f[3];
    twc_timer_start(s->expire, clamp_ms(s->expire_s), 0);
    schedule(s, 1);
    if (changed)
        notify(s);
}

/* ---- Transfers --------------------------------------------------------------- */

static void xfr_release(struct xfr *x)
{
    if (--x->refs > 0)
        return;
    twc_lenprefix_parser_cleanup(&x->lp);
    twc_dns_axfr_reader_cleanup(&x->rd);
    twc_dns_zone_free(x->z);
    free(x);
}

/* Cut the running transfer loose; it closes and frees itself later. */
static void xfr_detach(twc_dns_secondary *s)
{
    struct xfr *x = s->xfr;

    if (x == NULL)
        return;
    s->xfr = NULL;
    twc_timer_stop(s->timeout);
    x->s = NULL;
    if (x->proto.transport != NULL)
        twc_transport_lose_connection(x->proto.transport);
    twc_connector_free(x->conn);
    x->conn = NULL;
}

static void xfr_failed(twc_dns_secondary *s, const char *why)
{
    char zone[TWC_DNS_NAME_TEXT_MAX], who[TWC_ADDR_STRLEN];

    xfr_detach(s);
    s->failures++;
    twc_dns_name_format(&s->zone, zone, sizeof(zone));
    twc_addr_format(&s->primary, who, sizeof(who));
    twc_log_warnx(s->r, "dns", "secondary %s: transfer from %s failed: %s%s", zone, who, why,
                  s->copy != NULL ? " (serving the previous copy)" : "");
    schedule(s, 0);
}

/* Send a query for the zone's qtype (SOA or AXFR; RFC 5936 §2.1: one
 * question, no RD) with a fresh ID. */
static void send_query(struct xfr *x, uint16_t qtype)
{
    uint8_t buf[TWC_DNS_XFR_QUERY_MAX];
    size_t n;

    x->id = twc_dns_xfr_random_id();
    n = twc_dns_xfr_query_encode(buf, sizeof(buf), x->id, &x->s->zone, qtype);
    if (qtype == TWC_DNS_AXFR) {
        twc_dns_axfr_reader_cleanup(&x->rd);
        twc_dns_axfr_reader_init(&x->rd, x->id, &x->s->zone, NULL);
    }
    twc_transport_write(x->proto.transport, buf, n);
}

static void xfr_connection_made(twc_protocol *p)
{
    struct xfr *x = container_of(p, struct xfr, proto);

    if (x->s == NULL) {
        twc_transport_abort(p->transport);
        return;
    }
    /* RFC 1034 §4.3.5: with a copy in hand, compare serials before pulling
     * the whole zone; the SOA query shares the connection (RFC 7766 §6.2.1). */
    x->soa_phase = x->s->copy != NULL;
    send_query(x, x->soa_phase ? TWC_DNS_SOA : TWC_DNS_AXFR);
}

/* The answer to our SOA query. Returns 1 when the primary's serial is newer
 * (transfer), 0 when ours is current, or -1 with *why set. */
static int soa_message(struct xfr *x, const uint8_t *data, size_t len, const char **why)
{
    twc_dns_secondary *s = x->s;
    twc_dns_question q = {s->zone, TWC_DNS_SOA, TWC_DNS_CLASS_IN};
    twc_dns_msg m;
    size_t n;
    const twc_dns_rr *rr;
    int rc = -1;

    *why = "no SOA in the primary's answer";
    if (!twc_dns_reply_matches(data, len, x->id, &q)) {
        *why = "reply to another question";
        return -1;
    }
    if (twc_dns_msg_parse(&m, data, len, NULL) < 0) {
        *why = "malformed message";
        return -1;
    }
    if (twc_dns_msg_rcode(&m) != TWC_DNS_NOERROR) {
        *why = "primary refused the SOA query";
        goto out;
    }
    rr = twc_dns_msg_section(&m, TWC_DNS_AN, &n);
    for (size_t i = 0; i < n; i++) {
        if (rr[i].type == TWC_DNS_SOA && rr[i].rdlen >= 20 &&
            twc_dns_name_equal(&rr[i].name, &s->zone)) {
            rc = serial_gt(get32(rr[i].rdata + rr[i].rdlen - 20), s->serial);
            break;
        }
    }
out:
    twc_dns_msg_cleanup(&m);
    return rc;
}

/* The zone is current: the check counts as a refresh (RFC 1034 §4.3.5). */
static void current(twc_dns_secondary *s)
{
    char zone[TWC_DNS_NAME_TEXT_MAX];

    xfr_detach(s);
    twc_dns_name_format(&s->zone, zone, sizeof(zone));
    twc_log_debug(s->r, "dns", "secondary %s: serial %u is current", zone, (unsigned)s->serial);
    twc_timer_start(s->expire, clamp_ms(s->expire_s), 0);
    schedule(s, 1);
}

/* One message of the transfer, checked by the AXFR reader (RFC 5936 §2.2).
 * Returns 1 when the closing SOA arrived, 0 to read on, or -1 with *err set. */
static int xfr_message(struct xfr *x, const uint8_t *data, size_t len, twc_err *err)
{
    struct twc_dns_axfr_event ev;
    size_t keep;

    if (twc_dns_axfr_reader_message(&x->rd, data, len, &ev, err) < 0)
        return -1;
    /* The copy holds the opening SOA, not the closing one. */
    keep = ev.done ? ev.nrr - 1 : ev.nrr;
    for (size_t i = 0; i < keep; i++) {
        if (twc_dns_zone_add(x->z, &ev.rr[i], err) < 0)
            return -1;
    }
    return ev.done;
}

static void xfr_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct xfr *x = container_of(p, struct xfr, proto);
    struct twc_lenprefix_event ev;

    while (len > 0 && x->s != NULL) {
        twc_dns_secondary *s = x->s;
        ssize_t n = twc_lenprefix_parser_feed(&x->lp, data, len, &ev);
        const char *why = NULL;
        twc_err err;
        int rc;

        if (n < 0) {
            xfr_failed(s, twc_strerror((int)n));
            return;
        }
        data += n;
        len -= (size_t)n;
        if (ev.type != TWC_LENPREFIX_EV_FRAME)
            continue;
        if (x->soa_phase) {
            rc = soa_message(x, ev.payload.p, ev.payload.len, &why);
            if (rc < 0) {
                xfr_failed(s, why);
                return;
            }
            if (rc == 0) {
                current(s);
                return;
            }
            x->soa_phase = 0;
            send_query(x, TWC_DNS_AXFR);
            continue;
        }
        rc = xfr_message(x, ev.payload.p, ev.payload.len, &err);
        if (rc < 0) {
            xfr_failed(s, err.msg);
            return;
        }
        if (rc == 1) {
            twc_dns_zone *z = x->z;

            x->z = NULL;
            xfr_detach(s);
            if (twc_dns_zone_check(z, &err) < 0) {
                twc_dns_zone_free(z);
                xfr_failed(s, err.msg);
                return;
            }
            install(s, z);
            return;
        }
    }
}

static void xfr_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct xfr *x = container_of(p, struct xfr, proto);
    twc_dns_secondary *s = x->s;

    if (s != NULL) {
        /* Closed before the closing SOA. The transport is going away: cut the
         * transfer loose by hand rather than through lose_connection. */
        s->xfr = NULL;
        x->s = NULL;
        twc_timer_stop(s->timeout);
        twc_connector_free(x->conn);
        x->conn = NULL;
        s->failures++;
        {
            char zone[TWC_DNS_NAME_TEXT_MAX];

            twc_dns_name_format(&s->zone, zone, sizeof(zone));
            twc_log_warnx(s->r, "dns", "secondary %s: primary closed the transfer early%s%s", zone,
                          why != NULL && why->code != 0 ? ": " : "",
                          why != NULL && why->code != 0 ? why->msg : "");
        }
        schedule(s, 0);
    }
}

static void xfr_client_connection_lost(twc_factory *f, const twc_err *why)
{
    (void)why;
    xfr_release(container_of(f, struct xfr, factory));
}

static const struct twc_protocol_ops xfr_ops = {
    .name = "dns-axfr",
    .connection_made = xfr_connection_made,
    .data_received = xfr_data_received,
    .connection_lost = xfr_connection_lost,
};

static twc_protocol *xfr_build(twc_factory *f, const twc_addr *peer)
{
    struct xfr *x = container_of(f, struct xfr, factory);

    (void)peer;
    if (x->s == NULL)
        return NULL;
    x->refs++;
    x->proto.ops = &xfr_ops;
    return &x->proto;
}

static void xfr_connection_failed(twc_factory *f, const twc_err *why)
{
    struct xfr *x = container_of(f, struct xfr, factory);

    if (x->s != NULL)
        xfr_failed(x->s, why->msg);
}

static void xfr_stop(twc_factory *f)
{
    xfr_release(container_of(f, struct xfr, factory));
}

static const struct twc_factory_ops xfr_factory_ops = {
    .build = xfr_build,
    .connection_failed = xfr_connection_failed,
    .client_connection_lost = xfr_client_connection_lost,
    .stop = xfr_stop,
};

static void on_timeout(twc_timer *t, void *arg)
{
    twc_dns_secondary *s = arg;
    char msg[64];

    (void)t;
    snprintf(msg, sizeof(msg), "timed out after %u ms", s->xfr_timeout_ms);
    xfr_failed(s, msg);
}

static void start_transfer(twc_dns_secondary *s)
{
    struct xfr *x;
    struct twc_lenprefix_limits lim = {.max_len = TWC_DNS_TCP_MAX};
    twc_err err;

    if (s->xfr != NULL)
        return;
    s->attempts++;
    twc_timer_stop(s->next);
    x = calloc(1, sizeof(*x));
    if (x == NULL || (x->z = twc_dns_zone_new(&s->lim)) == NULL) {
        free(x);
        s->failures++;
        schedule(s, 0);
        return;
    }
    x->factory.ops = &xfr_factory_ops;
    x->s = s;
    x->refs = 1;
    twc_lenprefix_parser_init(&x->lp, 2, &lim);
    twc_dns_axfr_reader_init(&x->rd, 0, &s->zone, NULL);
    s->xfr = x;
    twc_timer_start(s->timeout, s->xfr_timeout_ms, 0);
    x->conn = twc_connector_new(s->r, &s->primary, s->xfr_timeout_ms, &x->factory, &err);
    if (x->conn == NULL) {
        /* Refused before the factory was used: no stop will come. */
        s->xfr = NULL;
        x->s = NULL;
        xfr_release(x);
        twc_timer_stop(s->timeout);
        s->failures++;
        twc_log_warnx(s->r, "dns", "secondary: %s", err.msg);
        schedule(s, 0);
    }
}

static void on_next(twc_timer *t, void *arg)
{
    (void)t;
    start_transfer(arg);
}

/* ---- Public ---------------------------------------------------------------- */

twc_dns_secondary *twc_dns_secondary_new(twc_reactor *r, const twc_addr *primary,
                                         const twc_dns_name *zone,
                                         const struct twc_dns_secondary_opts *opts,
                                         twc_dns_secondary_fn on_change, void *arg, twc_err *err)
{
    twc_dns_secondary *s = calloc(1, sizeof(*s));

    if (s == NULL)
        goto nomem;
    s->r = r;
    s->primary = *primary;
    s->zone = *zone;
    s->on_change = on_change;
    s->arg = arg;
    if (opts != NULL && opts->zone_limits != NULL)
        s->lim = *opts->zone_limits;
    s->lim.include_depth = -1; /* transfers have no files to include */
    s->xfr_timeout_ms =
        opts != NULL && opts->xfr_timeout_ms != 0 ? opts->xfr_timeout_ms : TWC_DNS_XFR_TIMEOUT_MS;
    s->first_retry_s =
        opts != NULL && opts->first_retry_s != 0 ? opts->first_retry_s : TWC_DNS_SECONDARY_RETRY_S;
    s->next = twc_timer_new(r, on_next, s);
    s->expire = twc_timer_new(r, on_expire, s);
    s->timeout = twc_timer_new(r, on_timeout, s);
    if (s->next == NULL || s->expire == NULL || s->timeout == NULL)
        goto nomem;
    twc_timer_start(s->next, 0, 0); /* the first transfer, from the loop */
    return s;
nomem:
    twc_dns_secondary_free(s);
    twc_err_set(err, TWC_ENOMEM, "out of memory for a secondary zone");
    return NULL;
}

void twc_dns_secondary_free(twc_dns_secondary *s)
{
    if (s == NULL)
        return;
    xfr_detach(s);
    twc_timer_free(s->next);
    twc_timer_free(s->expire);
    twc_timer_free(s->timeout);
    twc_dns_zone_free(s->copy);
    free(s);
}

const twc_dns_zone *twc_dns_secondary_zone(const twc_dns_secondary *s)
{
    return s->copy;
}

twc_dns_zone *twc_dns_secondary_zone_copy(const twc_dns_secondary *s, twc_err *err)
{
    twc_dns_zone *z;

    if (s->copy == NULL) {
        twc_err_set(err, TWC_EDNS_NOTFOUND, "no copy of the zone yet");
        return NULL;
    }
    z = twc_dns_zone_new(&s->lim);
    if (z == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory copying a zone");
        return NULL;
    }
    for (size_t i = 0; i < twc_dns_zone_count(s->copy); i++) {
        twc_dns_rr rr;

        twc_dns_zone_get(s->copy, i, &rr);
        if (twc_dns_zone_add(z, &rr, err) < 0) {
            twc_dns_zone_free(z);
            return NULL;
        }
    }
    return z;
}

uint32_t twc_dns_secondary_serial(const twc_dns_secondary *s)
{
    return s->copy != NULL ? s->serial : 0;
}

const twc_dns_name *twc_dns_secondary_origin(const twc_dns_secondary *s)
{
    return &s->zone;
}

const twc_addr *twc_dns_secondary_primary(const twc_dns_secondary *s)
{
    return &s->primary;
}

unsigned twc_dns_secondary_attempts(const twc_dns_secondary *s)
{
    return s->attempts;
}

unsigned twc_dns_secondary_failures(const twc_dns_secondary *s)
{
    return s->failures;
}

uint64_t twc_dns_secondary_next_due(const twc_dns_secondary *s)
{
    return s->xfr != NULL ? 0 : twc_timer_due(s->next);
}

void twc_dns_secondary_refresh(twc_dns_secondary *s)
{
    if (s->xfr == NULL)
        twc_timer_start(s->next, 0, 0);
}
