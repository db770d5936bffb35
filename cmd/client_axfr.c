/*
 * twc client dns NAME AXFR: a zone transfer printed as dig prints one.
 *
 * One AXFR over its own TCP connection (RFC 5936 §4.2: never UDP), every
 * message read until the closing SOA by proto/dns/axfr.h, each record
 * printed as it comes, then dig's "XFR size" line. A refusal (REFUSED,
 * NOTAUTH) prints "; Transfer failed." and exits 0, as dig 9.18 does.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/client_dns.h"
#include "cmd/common.h"
#include "lib/addr.h"
#include "lib/limits.h"
#include "lib/protocol.h"
#include "lib/stream.h"
#include "proto/dns/axfr.h"
#include "proto/dns/dns.h"

/*
 * One AXFR over its own TCP connection (RFC 5936 §4.2: never UDP), read by
 * the shared reader (proto/dns/axfr.h) until the closing SOA. Records are
 * printed as they arrive, as dig does. The session is on the heap and
 * counted like the secondary's transfer: one reference for the command, one
 * for the connector (dropped by the factory's stop), one for the connection
 * (dropped by client_connection_lost), so the loop may deliver those late.
 */
struct xfer {
    twc_factory factory;
    twc_protocol proto;
    const struct lookup *l;
    twc_connector *conn;
    twc_timer *idle;     /* +time: the longest silence from the server */
    twc_timer *deadline; /* TWC_DNS_XFR_TIMEOUT_MS: the whole transfer */
    twc_dns_axfr_reader rd;
    cJSON *answer; /* --json: the records so far */
    int refs;
    int ended;   /* the connection closed, or was never made */
    int banner;  /* the dig banner is out */
    twc_err err; /* why the transfer failed; code 0: it did not */
};

static void xfer_release(struct xfer *x)
{
    if (--x->refs > 0)
        return;
    twc_timer_free(x->idle);
    twc_timer_free(x->deadline);
    twc_dns_axfr_reader_cleanup(&x->rd);
    cJSON_Delete(x->answer);
    free(x);
}

/* Stop reading: the transfer is complete or failed (first reason kept). */
static void xfer_stop(struct xfer *x, const twc_err *why)
{
    if (why != NULL && x->err.code == 0)
        x->err = *why;
    twc_timer_stop(x->idle);
    twc_timer_stop(x->deadline);
    if (x->proto.transport != NULL)
        twc_transport_lose_connection(x->proto.transport);
    else if (x->conn != NULL)
        twc_connector_stop(x->conn); /* connection_failed follows from the loop */
}

static void xfer_records(struct xfer *x, const struct twc_dns_axfr_event *ev)
{
    if (!x->l->json && !x->l->short_form && !x->banner) {
        twc__dig_print_banner(x->l);
        x->banner = 1;
    }
    for (size_t i = 0; i < ev->nrr; i++) {
        if (x->l->json)
            twc__dig_json_add_rr(x->answer, &ev->rr[i]);
        else if (x->l->short_form)
            twc__dig_print_rdata(&ev->rr[i]);
        else
            twc__dig_print_rr(&ev->rr[i]);
    }
}

static void xfer_connection_made(twc_protocol *p)
{
    struct xfer *x = container_of(p, struct xfer, proto);
    uint8_t q[TWC_DNS_XFR_QUERY_MAX];
    size_t n = twc_dns_xfr_query_encode(q, sizeof(q), x->rd.id, &x->l->q.name, TWC_DNS_AXFR);

    twc_transport_write(p->transport, q, n);
}

static void xfer_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct xfer *x = container_of(p, struct xfer, proto);

    if (x->err.code == 0 && !twc_dns_axfr_reader_done(&x->rd))
        twc_timer_start(x->idle, x->l->timeout_ms, 0);
    while (len > 0 && x->err.code == 0 && !twc_dns_axfr_reader_done(&x->rd)) {
        struct twc_dns_axfr_event ev;
        twc_err err;
        ssize_t n = twc_dns_axfr_reader_feed(&x->rd, data, len, &ev, &err);

        if (n < 0) {
            xfer_stop(x, &err);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (ev.type == TWC_DNS_AXFR_EV_MESSAGE)
            xfer_records(x, &ev);
        if (ev.done)
            xfer_stop(x, NULL);
    }
}

static void xfer_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct xfer *x = container_of(p, struct xfer, proto);
    twc_err e;

    if (!twc_dns_axfr_reader_done(&x->rd)) {
        twc_err_set(&e, TWC_ECLOSED, "connection closed before the closing SOA%s%s",
                    why != NULL && why->code != 0 ? ": " : "",
                    why != NULL && why->code != 0 ? why->msg : "");
        xfer_stop(x, &e);
    }
    x->ended = 1;
}

static const struct twc_protocol_ops xfer_ops = {
    .name = "dns-axfr-client",
    .connection_made = xfer_connection_made,
    .data_received = xfer_data_received,
    .connection_lost = xfer_connection_lost,
};

static twc_protocol *xfer_build(twc_factory *f, const twc_addr *peer)
{
    struct xfer *x = container_of(f, struct xfer, factory);

    (void)peer;
    if (x->err.code != 0)
        return NULL;
    x->refs++;
    x->proto.ops = &xfer_ops;
    return &x->proto;
}

static void xfer_connection_failed(twc_factory *f, const twc_err *why)
{
    struct xfer *x = container_of(f, struct xfer, factory);

    xfer_stop(x, why);
    x->ended = 1;
}

static void xfer_client_connection_lost(twc_factory *f, const twc_err *why)
{
    (void)why;
    xfer_release(container_of(f, struct xfer, factory));
}

static void xfer_factory_stop(twc_factory *f)
{
    xfer_release(container_of(f, struct xfer, factory));
}

static const struct twc_factory_ops xfer_factory_ops = {
    .build = xfer_build,
    .connection_failed = xfer_connection_failed,
    .client_connection_lost = xfer_client_connection_lost,
    .stop = xfer_factory_stop,
};

static void on_xfer_timeout(twc_timer *t, void *arg)
{
    struct xfer *x = arg;
    twc_err e;

    twc_err_set(&e, TWC_ETIMEDOUT, "%s after %u ms",
                t == x->idle ? "no data from the server" : "transfer not complete",
                t == x->idle ? x->l->timeout_ms : (unsigned)TWC_DNS_XFR_TIMEOUT_MS);
    xfer_stop(x, &e);
}

static struct xfer *xfer_new(const struct lookup *l)
{
    struct xfer *x = calloc(1, sizeof(*x));

    if (x == NULL)
        return NULL;
    x->refs = 1;
    x->l = l;
    x->factory.ops = &xfer_factory_ops;
    twc_dns_axfr_reader_init(&x->rd, twc_dns_xfr_random_id(), &l->q.name, NULL);
    x->idle = twc_timer_new(l->app.reactor, on_xfer_timeout, x);
    x->deadline = twc_timer_new(l->app.reactor, on_xfer_timeout, x);
    x->answer = l->json ? cJSON_CreateArray() : NULL;
    if (x->idle == NULL || x->deadline == NULL || (l->json && x->answer == NULL)) {
        xfer_release(x);
        return NULL;
    }
    return x;
}

/* --json: one object, as for a query, with the transfer's records as "answer". */
static int xfer_json(struct xfer *x, const char *status, unsigned rcode, double ms)
{
    const struct twc_dns_axfr_stats *st = twc_dns_axfr_reader_stats(&x->rd);
    cJSON *o = cJSON_CreateObject(), *qs, *q;
    char host[TWC_ADDR_STRLEN], name[TWC_DNS_NAME_TEXT_MAX];

    if (o == NULL)
        return TWC_ENOMEM;
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddNumberToObject(o, "rcode", rcode);
    qs = cJSON_AddArrayToObject(o, "question");
    q = cJSON_CreateObject();
    if (qs != NULL && q != NULL) {
        if (twc_dns_name_format(&x->l->q.name, name, sizeof(name)) < 0)
            snprintf(name, sizeof(name), "?");
        cJSON_AddStringToObject(q, "name", name);
        cJSON_AddStringToObject(q, "type", "AXFR");
        cJSON_AddStringToObject(q, "class", "IN");
        cJSON_AddItemToArray(qs, q);
    } else {
        cJSON_Delete(q);
    }
    cJSON_AddItemToObject(o, "answer", x->answer);
    x->answer = NULL;
    twc_addr_host(&x->l->server, host, sizeof(host));
    cJSON_AddStringToObject(o, "server", host);
    cJSON_AddNumberToObject(o, "port", twc_addr_port(&x->l->server));
    cJSON_AddStringToObject(o, "protocol", "tcp");
    cJSON_AddNumberToObject(o, "query_time_ms", ms);
    cJSON_AddNumberToObject(o, "messages", (double)st->messages);
    cJSON_AddNumberToObject(o, "records", (double)st->records);
    cJSON_AddNumberToObject(o, "size", (double)st->bytes);
    return twc__dig_json_print(o);
}

/* The transfer ended; print what dig prints after the records. Returns the
 * exit code. */
static int xfer_report(struct xfer *x, double ms)
{
    const struct lookup *l = x->l;
    const struct twc_dns_axfr_stats *st = twc_dns_axfr_reader_stats(&x->rd);
    unsigned rcode = twc_dns_axfr_reader_rcode(&x->rd);
    char where[TWC_ADDR_STRLEN];

    if (rcode != TWC_DNS_NOERROR) {
        /* An answer, but no transfer (REFUSED, NOTAUTH): dig prints this on
         * stdout and exits 0, whatever the format. */
        if (l->json)
            return xfer_json(x, twc_dns_rcode_name(rcode), rcode, ms) < 0 ? TWC_EXIT_SOFTWARE : -1;
        if (!l->short_form && !x->banner)
            twc__dig_print_banner(l);
        printf("; Transfer failed.\n");
        return -1;
    }
    if (x->err.code != 0) {
        twc_addr_format(&l->server, where, sizeof(where));
        if (x->err.code == TWC_ETOOBIG || x->err.code == TWC_ENOMEM)
            return twc_fail(l->app.name, TWC_EXIT_FAILURE, "transfer from %s: %s", where,
                            x->err.msg);
        /* No (complete) reply: dig's code. */
        return twc_fail(l->app.name, EXIT_NO_REPLY, "transfer from %s failed: %s", where,
                        x->err.msg);
    }
    if (l->json)
        return xfer_json(x, "NOERROR", 0, ms) < 0 ? TWC_EXIT_SOFTWARE : -1;
    if (l->short_form)
        return -1;
    twc__dig_print_trailer(&l->server, 1, ms);
    printf(";; XFR size: %zu records (messages %zu, bytes %zu)\n\n", st->records, st->messages,
           st->bytes);
    return -1;
}

/* TYPE AXFR: returns the exit code. */
int twc__client_dns_axfr(struct lookup *l)
{
    struct timespec t0, t1;
    struct xfer *x = xfer_new(l);
    twc_err err;
    int rc_code;

    if (x == NULL)
        return twc_fail(l->app.name, TWC_EXIT_FAILURE, "out of memory");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    twc_timer_start(x->idle, l->timeout_ms, 0);
    twc_timer_start(x->deadline, TWC_DNS_XFR_TIMEOUT_MS, 0);
    x->conn = twc_connector_new(l->app.reactor, &l->server, l->timeout_ms, &x->factory, &err);
    if (x->conn == NULL) {
        xfer_release(x);
        return twc_fail(l->app.name, EXIT_NO_REPLY, "%s", err.msg);
    }
    x->refs++; /* the connector's, dropped by the factory's stop */
    while (!x->ended && twc_reactor_run_once(l->app.reactor, -1) > 0)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    twc_connector_free(x->conn);
    x->conn = NULL;
    rc_code = xfer_report(x, twc__dig_elapsed_ms(&t0, &t1));
    /* Let the loop deliver the last release (connection or connector). */
    while (x->refs > 1 && twc_reactor_run_once(l->app.reactor, -1) > 0)
        ;
    xfer_release(x);
    return rc_code;
}

