/*
 * The reconnecting client (Twisted's ReconnectingClientFactory): one
 * connector, retried after every failure and every lost connection.
 *
 * The n-th retry in a row waits min(MAX, INITIAL * FACTOR^n), moved by a
 * uniform random +/- JITTER fraction so that many clients cut off together
 * (a server restart) do not all come back in the same millisecond. A made
 * connection resets n to 0. Randomness comes from a per-object xorshift
 * generator (no global rand() state), seeded from the clock and the address.
 */
#include "stream_int.h"

#include <stdlib.h>

#include "limits.h"

struct twc_reconnect {
    struct twc__connector_hook chook; /* outcomes of our connector */
    struct twc__stream_hook shook;    /* the end of an established connection */
    twc_reactor *r;
    twc_connector *c;
    twc_timer *timer;   /* the next retry */
    twc_transport *conn; /* established connection, or NULL */
    uint64_t rng;
    unsigned retries;    /* failures in a row since the last made connection */
    uint64_t next_ms;    /* delay the next retry will use */
};

/* xorshift64* (Vigna): plenty for jitter, and reproducible per seed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void compute_next(twc_reconnect *rc)
{
    double d = TWC_RECONNECT_INITIAL_MS, u;
    unsigned i;

    for (i = 0; i < rc->retries && d < TWC_RECONNECT_MAX_MS; i++)
        d *= TWC_RECONNECT_FACTOR;
    if (d > TWC_RECONNECT_MAX_MS)
        d = TWC_RECONNECT_MAX_MS;
    /* u uniform in [-1, 1): 53 random bits, as a double holds. */
    u = (double)(rng_next(&rc->rng) >> 11) / (double)(1ULL << 53) * 2.0 - 1.0;
    d += d * TWC_RECONNECT_JITTER * u;
    /* Mirror what jitter pushed past the cap back below it: clamping would
     * put half of all capped clients on exactly MAX, in step again. */
    if (d > TWC_RECONNECT_MAX_MS)
        d = 2.0 * TWC_RECONNECT_MAX_MS - d;
    if (d < 1)
        d = 1;
    rc->next_ms = (uint64_t)d;
}

static void schedule(twc_reconnect *rc)
{
    twc_timer_start(rc->timer, rc->next_ms, 0);
    if (rc->retries < 64)
        rc->retries++;
    compute_next(rc);
}

static void on_retry(twc_timer *t, void *arg)
{
    twc_reconnect *rc = arg;

    (void)t;
    /* Fails while an attempt is pending (its outcome schedules the next
     * retry anyway), or out of memory: then try again later. */
    if (twc_connector_connect(rc->c, NULL) == TWC_ENOMEM)
        schedule(rc);
}

static void on_made(struct twc__connector_hook *h, twc_transport *t)
{
    twc_reconnect *rc = container_of(h, twc_reconnect, chook);

    rc->retries = 0;
    compute_next(rc);
    rc->conn = t;
    twc__stream_set_hook(t, &rc->shook);
}

static void on_failed(struct twc__connector_hook *h, const twc_err *why)
{
    (void)why;
    schedule(container_of(h, twc_reconnect, chook));
}

static void on_lost(struct twc__stream_hook *h, const twc_err *why)
{
    twc_reconnect *rc = container_of(h, twc_reconnect, shook);

    (void)why;
    rc->conn = NULL;
    schedule(rc);
}

twc_reconnect *twc_reconnect_new(twc_reactor *r, const twc_addr *to, twc_factory *inner,
                                 twc_err *err)
{
    twc_reconnect *rc = calloc(1, sizeof(*rc));
    const unsigned char *p;
    size_t i;

    if (rc == NULL)
        goto nomem;
    rc->timer = twc_timer_new(r, on_retry, rc);
    if (rc->timer == NULL)
        goto nomem;
    rc->r = r;
    rc->chook.made = on_made;
    rc->chook.failed = on_failed;
    rc->shook.lost = on_lost;
    /* Seed: time, our address and the target, mixed by FNV-1a. Zero would
     * stick xorshift at zero. */
    rc->rng = 0xcbf29ce484222325ULL ^ twc_reactor_now(r) ^ (uint64_t)(uintptr_t)rc;
    p = (const unsigned char *)&to->ss;
    for (i = 0; i < to->len; i++)
        rc->rng = (rc->rng ^ p[i]) * 0x100000001b3ULL;
    if (rc->rng == 0)
        rc->rng = 1;
    compute_next(rc);
    /* Outcomes come from the loop, so the hook is in place before any. */
    rc->c = twc_connector_new(r, to, 0, inner, err);
    if (rc->c == NULL) {
        twc_timer_free(rc->timer);
        free(rc);
        return NULL;
    }
    twc__connector_set_hook(rc->c, &rc->chook);
    return rc;

nomem:
    free(rc);
    twc_err_set(err, TWC_ENOMEM, "out of memory for a reconnecting client");
    return NULL;
}

uint64_t twc_reconnect_next_delay(const twc_reconnect *rc)
{
    return rc->next_ms;
}

void twc_reconnect_free(twc_reconnect *rc)
{
    if (rc == NULL)
        return;
    twc_timer_free(rc->timer);
    if (rc->conn != NULL)
        twc__stream_set_hook(rc->conn, NULL);
    twc__connector_set_hook(rc->c, NULL);
    twc_connector_free(rc->c);
    free(rc);
}
