/*
 * A tiny DNS responder for resolver tests (included by test files; not part
 * of libtwc). Answers from a small table on 127.0.0.1, port picked by the
 * kernel, and nothing else: RFC 1035 §4.1 layout, one question, no EDNS.
 */
#ifndef TWC_TESTS_DNS_RESPONDER_H
#define TWC_TESTS_DNS_RESPONDER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h"

struct dns_entry {
    const char *name; /* absolute, with the trailing dot */
    const char *v4;   /* NULL: no A record */
    const char *v6;   /* NULL: no AAAA record */
};

struct responder {
    int fd;
    twc_io *io;
    uint16_t port;
    int silent; /* never answer: exercises timeouts */
    int queries;
    const struct dns_entry *table; /* NULL-name terminated */
};

static size_t responder_answer(struct responder *rs, const uint8_t *q, size_t n, uint8_t *a)
{
    const struct dns_entry *e;
    char name[256];
    size_t i = 12, nl = 0, alen;
    uint16_t qtype;
    uint8_t rdata[16];
    int rdlen = 0;

    while (i < n && q[i] != 0 && q[i] < 64 && nl + q[i] + 1 < sizeof(name)) {
        if (i + 1 + q[i] > n)
            return 0;
        memcpy(name + nl, q + i + 1, q[i]);
        nl += q[i];
        name[nl++] = '.';
        i += (size_t)q[i] + 1;
    }
    name[nl] = '\0';
    if (i + 5 > n)
        return 0;
    qtype = (uint16_t)(q[i + 1] << 8 | q[i + 2]);
    alen = i + 5;
    memcpy(a, q, alen);
    a[2] = (uint8_t)(0x84 | (q[2] & 0x01)); /* QR, AA, RD copied */
    a[3] = 0x80;                            /* RA, NOERROR */
    memset(a + 6, 0, 6);
    for (e = rs->table; e != NULL && e->name != NULL; e++)
        if (strcasecmp(e->name, name) == 0)
            break;
    if (e == NULL || e->name == NULL) {
        a[3] = 0x83; /* NXDOMAIN */
        return alen;
    }
    if (qtype == 1 && e->v4 != NULL && inet_pton(AF_INET, e->v4, rdata) == 1)
        rdlen = 4;
    if (qtype == 28 && e->v6 != NULL && inet_pton(AF_INET6, e->v6, rdata) == 1)
        rdlen = 16;
    if (rdlen == 0)
        return alen; /* NODATA */
    a[7] = 1;
    const uint8_t rr[12] = {0xc0, 12, 0, (uint8_t)qtype, 0, 1, 0, 0, 0, 60, 0, (uint8_t)rdlen};
    memcpy(a + alen, rr, sizeof(rr));
    alen += sizeof(rr);
    memcpy(a + alen, rdata, (size_t)rdlen);
    return alen + (size_t)rdlen;
}

static void responder_on_query(twc_io *io, unsigned events, void *arg)
{
    struct responder *rs = arg;
    uint8_t q[512], a[600];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n;
    size_t alen;

    (void)io;
    (void)events;
    n = recvfrom(rs->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
    if (n < 12)
        return;
    rs->queries++;
    if (rs->silent)
        return;
    alen = responder_answer(rs, q, (size_t)n, a);
    if (alen > 0)
        sendto(rs->fd, a, alen, 0, (struct sockaddr *)&from, flen);
}

static int responder_start(twc_reactor *r, struct responder *rs, const struct dns_entry *table)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    memset(rs, 0, sizeof(*rs));
    rs->table = table;
    rs->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rs->fd < 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(rs->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(rs->fd, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    rs->port = ntohs(sin.sin_port);
    rs->io = twc_io_new(r, rs->fd, responder_on_query, rs);
    return twc_io_set(rs->io, TWC_IO_READ);
}

static void responder_stop(struct responder *rs)
{
    twc_io_free(rs->io);
    close(rs->fd);
}

/* Write a resolv.conf naming only the responder into path (a mkstemp template
 * buffer of len bytes). Returns 0 or -1. */
static int responder_write_conf(const struct responder *rs, char *path, size_t len)
{
    FILE *f;
    int fd;

    snprintf(path, len, "/tmp/twc-resolv-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    f = fdopen(fd, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "# test resolver\nnameserver 127.0.0.1:%u\noptions ndots:1\n", rs->port);
    return fclose(f);
}

#endif
