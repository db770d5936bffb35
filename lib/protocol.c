/*
 * The transport-independent half of lib/protocol.h: the public twc_transport_*
 * commands dispatch through each transport's ops, and the helpers of
 * lib/transport_int.h apply the rules every transport shares (attach,
 * flow-control water marks, the single connection_lost). Factory users are
 * counted here too.
 */
#include "protocol.h"

#include <stdio.h>

#include "limits.h"
#include "transport_int.h"

/* ---- Factories ------------------------------------------------------------ */

void twc_factory_do_start(twc_factory *f)
{
    if (f == NULL)
        return;
    if (f->users++ == 0 && f->ops->start != NULL)
        f->ops->start(f);
}

void twc_factory_do_stop(twc_factory *f)
{
    if (f == NULL || f->users == 0)
        return;
    if (--f->users == 0 && f->ops->stop != NULL)
        f->ops->stop(f);
}

/* ---- Public transport commands -------------------------------------------- */

int twc_transport_write(twc_transport *t, const void *data, size_t len)
{
    struct iovec iov;

    iov.iov_base = (void *)(uintptr_t)data;
    iov.iov_len = len;
    return t->ops->writev(t, &iov, 1);
}

int twc_transport_writev(twc_transport *t, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0)
        return TWC_EINVAL;
    return t->ops->writev(t, iov, iovcnt);
}

void twc_transport_lose_connection(twc_transport *t)
{
    t->ops->lose_connection(t);
}

void twc_transport_abort(twc_transport *t)
{
    t->ops->abort(t);
}

int twc_transport_shutdown_write(twc_transport *t)
{
    if (t->ops->shutdown_write == NULL)
        return TWC_EINVAL;
    return t->ops->shutdown_write(t);
}

/*
 * Reading can be paused for two independent reasons: the protocol asked, or
 * our own output backed up (twc__transport_buffered_changed). Reading resumes
 * only when neither holds, so draining output never overrides a protocol that
 * paused on purpose, and vice versa.
 */
void twc_transport_pause_reading(twc_transport *t)
{
    t->reading_paused_by_user = 1;
    if (t->ops->pause_reading != NULL)
        t->ops->pause_reading(t);
}

void twc_transport_resume_reading(twc_transport *t)
{
    t->reading_paused_by_user = 0;
    if (!t->reading_paused_by_flow && t->ops->resume_reading != NULL)
        t->ops->resume_reading(t);
}

size_t twc_transport_buffered(const twc_transport *t)
{
    return t->ops->buffered != NULL ? t->ops->buffered(t) : 0;
}

int twc_transport_peer(const twc_transport *t, twc_addr *out)
{
    if (t->ops->peer == NULL)
        return TWC_EINVAL;
    return t->ops->peer(t, out);
}

int twc_transport_host(const twc_transport *t, twc_addr *out)
{
    if (t->ops->host == NULL)
        return TWC_EINVAL;
    return t->ops->host(t, out);
}

twc_reactor *twc_transport_reactor(const twc_transport *t)
{
    return t->reactor;
}

int twc_transport_fd(const twc_transport *t)
{
    return t->ops->fd != NULL ? t->ops->fd(t) : -1;
}

const char *twc_transport_describe(const twc_transport *t, char *buf, size_t len)
{
    char host[TWC_ADDR_STRLEN], peer[TWC_ADDR_STRLEN];
    twc_addr a;

    if (len == 0)
        return buf;
    if (twc_transport_host(t, &a) == 0)
        twc_addr_format(&a, host, sizeof(host));
    else
        snprintf(host, sizeof(host), "-");
    if (twc_transport_peer(t, &a) == 0)
        twc_addr_format(&a, peer, sizeof(peer));
    else
        snprintf(peer, sizeof(peer), "-");
    snprintf(buf, len, "%s %s -> %s fd %d", t->ops->kind, host, peer, twc_transport_fd(t));
    return buf;
}

/* ---- Helpers for transport implementations -------------------------------- */

void twc__transport_init(twc_transport *t, const struct twc_transport_ops *ops, twc_reactor *r)
{
    t->ops = ops;
    t->reactor = r;
    t->proto = NULL;
    t->high_water = TWC_WRITE_HIGH_WATER;
    t->low_water = TWC_WRITE_LOW_WATER;
    t->producer_paused = 0;
    t->reading_paused_by_flow = 0;
    t->reading_paused_by_user = 0;
}

void twc__transport_attach(twc_transport *t, twc_protocol *proto, twc_factory *f)
{
    t->proto = proto;
    proto->transport = t;
    proto->factory = f;
    proto->ops->connection_made(proto);
}

/*
 * Twisted's producer/consumer pairing: above high water the producer (the
 * protocol, or when it has no pause_producing op the peer, by way of our
 * reading) is paused; once the queue is down to low water it resumes. The gap
 * between the marks keeps this from flapping on every write.
 */
void twc__transport_buffered_changed(twc_transport *t)
{
    twc_protocol *p = t->proto;
    size_t n;

    if (p == NULL)
        return;
    n = t->ops->buffered(t);
    if (!t->producer_paused && n > t->high_water) {
        t->producer_paused = 1;
        if (p->ops->pause_producing != NULL) {
            p->ops->pause_producing(p);
        } else {
            t->reading_paused_by_flow = 1;
            if (t->ops->pause_reading != NULL)
                t->ops->pause_reading(t);
        }
    } else if (t->producer_paused && n <= t->low_water) {
        t->producer_paused = 0;
        if (t->reading_paused_by_flow) {
            t->reading_paused_by_flow = 0;
            if (!t->reading_paused_by_user && t->ops->resume_reading != NULL)
                t->ops->resume_reading(t);
        }
        if (p->ops->write_drained != NULL)
            p->ops->write_drained(p);
    }
}

void twc__transport_lost(twc_transport *t, const twc_err *why, int client_side)
{
    twc_protocol *p = t->proto;
    twc_factory *f;
    twc_err clean;

    if (p == NULL)
        return;
    if (why == NULL) {
        twc_err_clear(&clean);
        why = &clean;
    }
    /* Detach first: connection_lost usually frees p, so nothing may touch it
     * afterwards, and the factory pointer must be read now. */
    f = p->factory;
    t->proto = NULL;
    p->transport = NULL;
    p->ops->connection_lost(p, why);
    if (client_side && f != NULL && f->ops->client_connection_lost != NULL)
        f->ops->client_connection_lost(f, why);
}

twc_protocol *twc__transport_swap_protocol(twc_transport *t, twc_protocol *p)
{
    twc_protocol *old = t->proto;

    t->proto = p;
    p->transport = t;
    p->factory = old != NULL ? old->factory : NULL;
    return old;
}
