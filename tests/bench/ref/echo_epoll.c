/*
 * echo_epoll: the floor of the echo benchmark. A minimal, hand-written, correct
 * epoll echo server (RFC 862 over TCP) that any framework adds overhead to.
 *
 *   echo_epoll [-p PORT] [-a ADDR]      (defaults: port 0, 127.0.0.1)
 *
 * Prints {"event":"listening","address":ADDR,"port":N} on stdout once bound,
 * like `twc echo --log-format=json`, so tests/bench/run.sh finds every server's
 * port the same way. Runs until killed.
 *
 * Level-triggered epoll, one shared 64 KiB read buffer. Data read is written
 * back at once; whatever the socket does not take is copied to a per-connection
 * buffer, and the connection stops reading (EPOLLOUT only) until that is
 * flushed, so a client that does not read cannot grow the server. A read
 * shorter than the buffer means the socket is drained, so we go back to
 * epoll_wait without the extra read that would only return EAGAIN (libuv does
 * the same).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE     65536
#define EVENTS_MAX   256
#define LISTENER_TAG NULL /* epoll data of the listening socket */

struct conn {
    int fd;
    uint8_t *pend; /* unwritten echo, or NULL */
    size_t pend_len;
    size_t pend_off;
};

static uint8_t rbuf[BUF_SIZE];

static void fatal(const char *what)
{
    fprintf(stderr, "echo_epoll: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pend);
    free(c);
}

static int set_events(int ep, struct conn *c, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writable while holding a remainder: push it out; once empty, read again.
 * Returns -1 when the connection is dead. */
static int on_writable(int ep, struct conn *c)
{
    while (c->pend_off < c->pend_len) {
        ssize_t n = write(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -1;
        }
        c->pend_off += (size_t)n;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    return set_events(ep, c, EPOLLIN);
}

/* Readable: echo what arrived. Returns -1 at EOF or on error. */
static int on_readable(int ep, struct conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, rbuf, sizeof rbuf);
        ssize_t w;

        if (n < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        if (n == 0)
            return -1;
        w = write(c->fd, rbuf, (size_t)n);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return -1;
            w = 0;
        }
        if (w < n) {
            /* Keep the rest and stop reading until the peer takes it. */
            c->pend_len = (size_t)(n - w);
            c->pend_off = 0;
            c->pend = malloc(c->pend_len);
            if (c->pend == NULL)
                return -1;
            memcpy(c->pend, rbuf + w, c->pend_len);
            return set_events(ep, c, EPOLLOUT);
        }
        if ((size_t)n < sizeof rbuf)
            return 0; /* drained */
    }
}

static void on_accept(int ep, int lfd)
{
    for (;;) {
        struct epoll_event ev;
        struct conn *c;
        int one = 1;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            /* EMFILE and friends: report and let level-triggered epoll retry. */
            perror("echo_epoll: accept4");
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    struct epoll_event evs[EVENTS_MAX];
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    const char *addr = "127.0.0.1";
    char *end;
    long port = 0;
    int one = 1, ep, lfd, ch;

    while ((ch = getopt(argc, argv, "p:a:")) != -1) {
        switch (ch) {
        case 'p':
            port = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || port < 0 || port > 65535) {
                fprintf(stderr, "echo_epoll: bad port \"%s\"\n", optarg);
                return 64;
            }
            break;
        case 'a':
            addr = optarg;
            break;
        default:
            fprintf(stderr, "usage: echo_epoll [-p PORT] [-a IPV4ADDR]\n");
            return 64;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "echo_epoll: bad IPv4 address \"%s\"\n", addr);
        return 64;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        fatal("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fatal("bind");
    if (listen(lfd, 511) != 0)
        fatal("listen");
    if (getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
        fatal("getsockname");
    printf("{\"event\":\"listening\",\"address\":\"%s\",\"port\":%u}\n", addr,
           (unsigned)ntohs(sa.sin_port));
    fflush(stdout);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fatal("epoll_create1");
    {
        struct epoll_event ev;

        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = LISTENER_TAG;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
            fatal("epoll_ctl");
    }

    for (;;) {
        int n = epoll_wait(ep, evs, EVENTS_MAX, -1);
        int i;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatal("epoll_wait");
        }
        for (i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int rc;

            if (c == LISTENER_TAG) {
                on_accept(ep, lfd);
                continue;
            }
            if (c->pend != NULL)
                rc = on_writable(ep, c);
            else
                rc = on_readable(ep, c);
            if (rc != 0)
                conn_close(ep, c);
        }
    }
}
