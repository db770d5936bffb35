/*
 * A scripted HTTP server for the client and proxy tests (included by test
 * files; not part of libtwc): it collects each request's bytes in `log` and
 * answers the Nth request it sees, over all connections, with steps[N].
 */
#ifndef TWC_TESTS_HTTP_SCRIPT_SERVER_H
#define TWC_TESTS_HTTP_SCRIPT_SERVER_H

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "protocol.h"
#include "stream.h"


#define MAX_STEPS 8

/* What the server does for the Nth request it sees (over all connections). */
struct step {
    const char *reply; /* bytes to send; NULL: send nothing */
    int close;         /* close after replying (1: lose, 2: abort without reply) */
};

struct server {
    twc_factory base;
    twc_listener *l;
    uint16_t port;
    struct step steps[MAX_STEPS];
    size_t nsteps, nreq;
    int accepted, open;
    twc_buf log; /* every request's bytes, in order */
};

struct sconn {
    twc_protocol p;
    struct server *s;
    twc_buf in;
};

/* A request is complete when its head ended and its body (Content-Length or
 * chunked, ended by "0\r\n\r\n") is in. */
static size_t request_len(const uint8_t *d, size_t n)
{
    const char *end = n > 0 ? memmem(d, n, "\r\n\r\n", 4) : NULL;
    const char *cl;
    size_t head;

    if (end == NULL)
        return 0;
    head = (size_t)(end - (const char *)d) + 4;
    cl = memmem(d, head, "Content-Length: ", 16);
    if (cl != NULL) {
        size_t len = (size_t)strtoul(cl + 16, NULL, 10);

        return n >= head + len ? head + len : 0;
    }
    if (memmem(d, head, "chunked", 7) != NULL) {
        const char *z = memmem(d + head, n - head, "0\r\n\r\n", 5);

        return z != NULL ? (size_t)(z - (const char *)d) + 5 : 0;
    }
    return head;
}

static void s_made(twc_protocol *p)
{
    struct sconn *c = (struct sconn *)p;

    c->s->accepted++;
    c->s->open++;
}

static void s_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct sconn *c = (struct sconn *)p;
    struct server *s = c->s;
    size_t n;

    assert_int_equal(twc_buf_append(&c->in, data, len), 0);
    while ((n = request_len(twc_buf_data(&c->in), twc_buf_len(&c->in))) > 0) {
        struct step st = {NULL, 0};

        assert_int_equal(twc_buf_append(&s->log, twc_buf_data(&c->in), n), 0);
        twc_buf_consume(&c->in, n);
        if (s->nreq < s->nsteps)
            st = s->steps[s->nreq];
        s->nreq++;
        if (st.close == 2) {
            twc_transport_abort(p->transport);
            return;
        }
        if (st.reply != NULL)
            twc_transport_write(p->transport, st.reply, strlen(st.reply));
        if (st.close == 1) {
            twc_transport_lose_connection(p->transport);
            return;
        }
    }
}

static void s_lost(twc_protocol *p, const twc_err *why)
{
    struct sconn *c = (struct sconn *)p;

    (void)why;
    c->s->open--;
    twc_buf_cleanup(&c->in);
    free(c);
}

static const struct twc_protocol_ops s_ops = {
    .name = "script",
    .connection_made = s_made,
    .data_received = s_data,
    .connection_lost = s_lost,
};

static twc_protocol *s_build(twc_factory *f, const twc_addr *peer)
{
    struct sconn *c = calloc(1, sizeof(*c));

    (void)peer;
    assert_non_null(c);
    c->p.ops = &s_ops;
    c->s = (struct server *)f;
    twc_buf_init(&c->in, 1 << 20);
    return &c->p;
}

static const struct twc_factory_ops s_factory_ops = {.build = s_build};

#endif
