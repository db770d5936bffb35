/*
 * loadgen: the load client of the echo benchmark (tests/bench/run.sh).
 *
 *   loadgen pingpong [-c CONNS] [-s SIZE] [-w WARMUP_S] [-d DURATION_S] [-P PID] ADDR PORT
 *   loadgen bulk [-b BYTES] [-T TIMEOUT_S] [-P PID] ADDR PORT
 *   loadgen idle [-c CONNS] [-W WINDOW] [-H HOLD_S] ADDR PORT
 *
 * One process, one thread, non-blocking sockets on epoll (run.sh pins it to its
 * own CPU with taskset). Every message that comes back is checked byte for byte;
 * any mismatch, socket error or stall ends the run with exit status 1, so a fast
 * but wrong server can never post a number. Results go to stdout as one line of
 * key=value pairs; errors go to stderr prefixed "loadgen:".
 *
 * pingpong: CONNS connections each send a SIZE-byte message and wait for the full
 *   echo before sending the next. After WARMUP_S seconds the completed round trips
 *   of the next DURATION_S seconds are counted. Every connection must complete at
 *   least one round trip in that window.
 * bulk: one connection sends BYTES of a deterministic pattern while reading the
 *   echo concurrently; the rate is bytes / (time from first write to last byte
 *   verified). The transfer fails if it takes longer than TIMEOUT_S (default 60).
 * idle: CONNS connections are opened (at most WINDOW unverified at a time, so a
 *   small listen backlog never overflows) and each is proven established by a
 *   one-byte echo. Then "ready" is printed and the connections sit idle until
 *   SIGUSR1/SIGTERM/SIGINT (run.sh reads the server's RSS meanwhile), or fail
 *   after HOLD_S seconds. Any event on an idle connection is an error.
 *
 * With -P PID, pingpong and bulk also report the CPU the server process used in
 * the measured window (/proc/PID/stat), as a fraction of one CPU and per unit of
 * work (ns per pingpong message, ms per GiB echoed): figures that stay
 * meaningful when the load client, or other load, is the bottleneck.
 *
 * Only loopback addresses are accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX     4096           /* largest pingpong message: fits any send buffer */
#define STALL_MS    5000           /* no progress for this long is an error */
#define CONNECT_MS  30000          /* bound on the whole connect phase */
#define BULK_CHUNK  (256u * 1024u) /* bytes per write()/read() in bulk mode */
#define BULK_PERIOD 65521u         /* pattern period: prime, so it never lines up with chunks */
#define EVENTS_MAX  512

enum mode {
    MODE_PINGPONG,
    MODE_BULK,
    MODE_IDLE
};

struct opts {
    enum mode mode;
    unsigned conns;
    size_t size;
    double warmup_s;
    double duration_s;
    uint64_t bulk_bytes;
    double bulk_timeout_s;
    unsigned window;
    double hold_s;
    long server_pid; /* 0: not given */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("loadgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t self_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* utime + stime of a process, in ns (clock-tick resolution: 10 ms on most
 * kernels, fine over a window of seconds). 0 when the file cannot be read. */
static uint64_t proc_cpu_ns(long pid)
{
    char path[64], buf[1024];
    unsigned long long ut = 0, st = 0;
    const char *p;
    ssize_t n;
    int fd, field;
    long hz = sysconf(_SC_CLK_TCK);

    if (pid <= 0 || hz <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: start after
     * the last ')'. Field 3 (state) follows; utime and stime are fields 14, 15. */
    p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    for (field = 2; field < 14 && *p != '\0'; p++) {
        if (*p == ' ')
            field++;
    }
    if (sscanf(p, "%llu %llu", &ut, &st) != 2)
        return 0;
    return (uint64_t)((ut + st) * (1000000000ull / (unsigned long long)hz));
}

static uint64_t parse_u64(const char *s, const char *what, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
        die("%s: expected an integer in [%" PRIu64 ", %" PRIu64 "], got \"%s\"", what, min, max, s);
    return (uint64_t)v;
}

static double parse_secs(const char *s, const char *what)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 3600.0))
        die("%s: expected seconds in [0, 3600], got \"%s\"", what, s);
    return v;
}

/* Loopback only: the benchmark must never load a real network. */
static void parse_addr(struct opts *o, const char *host, const char *port)
{
    uint16_t p = (uint16_t)parse_u64(port, "port", 1, 65535);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&o->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->addr;

    memset(&o->addr, 0, sizeof o->addr);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
            die("%s is not a loopback address", host);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(p);
        o->addrlen = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
            die("%s is not a loopback address", host);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(p);
        o->addrlen = sizeof *s6;
    } else {
        die("%s: not a numeric IPv4 or IPv6 address", host);
    }
}

/* Each connection needs a descriptor; raise the soft limit (and the hard one
 * when privileged) to fit. */
static void raise_nofile(rlim_t need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur >= need)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        rl.rlim_max = need;
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("cannot raise RLIMIT_NOFILE to %llu: %s (raise it with ulimit -n)",
            (unsigned long long)need, strerror(errno));
}

static int connect_nb(const struct opts *o)
{
    int one = 1;
    int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    /* Small messages must leave at once: Nagle would serialise the pingpong. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die("setsockopt TCP_NODELAY: %s", strerror(errno));
    if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    return fd;
}

/* After a non-blocking connect reports writable: did it succeed? */
static void check_connected(int fd, unsigned id)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        die("connection %u: getsockopt SO_ERROR: %s", id, strerror(errno));
    if (soerr != 0)
        die("connection %u: connect: %s", id, strerror(soerr));
}

static void ep_ctl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    if (epoll_ctl(ep, op, fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* A read returned 0 or failed with something other than EAGAIN. */
static void die_read(unsigned id, ssize_t n)
{
    if (n == 0)
        die("connection %u: closed by the server", id);
    die("connection %u: read: %s", id, strerror(errno));
}

/* ---- pingpong -------------------------------------------------------------- */

struct pconn {
    int fd;
    bool connected;
    uint64_t seq;  /* number of the message in flight (= echoes completed) */
    uint64_t seq0; /* seq when the measured window opened */
    size_t got;    /* bytes of its echo received so far */
    uint8_t *sent; /* the message in flight (size bytes) */
    uint8_t *rbuf; /* its echo so far */
};

/* Message `seq` of connection `id`: a xorshift stream seeded by both, so a
 * reply that is stale, from another connection, or corrupted never matches. */
static void fill_msg(uint8_t *p, size_t n, unsigned id, uint64_t seq)
{
    uint64_t x = ((uint64_t)id << 40) ^ seq ^ 0x9e3779b97f4a7c15ull;
    size_t i;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

static void send_msg(struct pconn *c, unsigned id, size_t size)
{
    ssize_t n;

    fill_msg(c->sent, size, id, c->seq);
    c->got = 0;
    /* The previous message was fully echoed, so the send buffer is empty and
     * takes MSG_MAX bytes (a quarter of the default 16 KiB tcp_wmem) at once; a short
     * write would mean the server broke the pingpong. */
    n = write(c->fd, c->sent, size);
    if (n < 0)
        die("connection %u: write: %s", id, strerror(errno));
    if ((size_t)n != size)
        die("connection %u: short write (%zd of %zu bytes)", id, n, size);
}

static void run_pingpong(const struct opts *o)
{
    struct epoll_event evs[EVENTS_MAX];
    struct pconn *cs = calloc(o->conns, sizeof *cs);
    uint8_t *mem = malloc((size_t)o->conns * o->size * 2);
    uint64_t msgs = 0, msgs_start = 0, msgs_end = 0;
    uint64_t t_start = 0, t_end = 0, t_now, t_last_progress, deadline;
    uint64_t cpu_self0 = 0, cpu_srv0 = 0, cpu_self1, cpu_srv1;
    unsigned i, connected = 0;
    bool measuring = false;
    int ep = epoll_create1(EPOLL_CLOEXEC);

    if (cs == NULL || mem == NULL || ep < 0)
        die("out of memory or epoll_create1 failed");
    raise_nofile((rlim_t)o->conns + 64);
    for (i = 0; i < o->conns; i++) {
        cs[i].sent = mem + (size_t)i * o->size * 2;
        cs[i].rbuf = cs[i].sent + o->size;
        cs[i].fd = connect_nb(o);
        ep_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, EPOLLOUT, i);
    }

    t_now = now_ns();
    t_last_progress = t_now;
    deadline = t_now + (uint64_t)CONNECT_MS * 1000000u;
    for (;;) {
        int n, k, timeout_ms;
        uint64_t wake;

        /* Wake at the next phase boundary, or when a stall is declared. */
        wake = t_last_progress + (uint64_t)STALL_MS * 1000000u;
        if (connected < o->conns && deadline < wake)
            wake = deadline;
        if (connected == o->conns && !measuring && t_start < wake)
            wake = t_start;
        if (measuring && t_end < wake)
            wake = t_end;
        timeout_ms = wake > t_now ? (int)((wake - t_now + 999999u) / 1000000u) : 0;

        n = epoll_wait(ep, evs, EVENTS_MAX, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (k = 0; k < n; k++) {
            unsigned id = (unsigned)evs[k].data.u64;
            struct pconn *c = &cs[id];
            ssize_t r;

            if (!c->connected) {
                check_connected(c->fd, id);
                c->connected = true;
                ep_ctl(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, id);
                send_msg(c, id, o->size);
                if (++connected == o->conns) {
                    t_start = now_ns() + (uint64_t)(o->warmup_s * 1e9);
                    t_end = t_start + (uint64_t)(o->duration_s * 1e9);
                }
                continue;
            }
            /* Read no more than the rest of this echo: surplus bytes stay queued
             * and, read as the next echo, fail the comparison. */
            r = read(c->fd, c->rbuf + c->got, o->size - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                die_read(id, r);
            c->got += (size_t)r;
            if (c->got < o->size)
                continue;
            if (memcmp(c->rbuf, c->sent, o->size) != 0)
                die("connection %u: echo of message %" PRIu64 " differs from what was sent", id,
                    c->seq);
            msgs++;
            c->seq++;
            send_msg(c, id, o->size);
        }
        t_now = now_ns();
        if (n > 0)
            t_last_progress = t_now;
        if (connected < o->conns && t_now >= deadline)
            die("only %u of %u connections established after %d ms", connected, o->conns,
                CONNECT_MS);
        if (t_now - t_last_progress >= (uint64_t)STALL_MS * 1000000u)
            die("no echo for %d ms (%" PRIu64 " messages done)", STALL_MS, msgs);
        if (connected == o->conns && !measuring && t_now >= t_start) {
            measuring = true;
            t_start = t_now;
            t_end = t_now + (uint64_t)(o->duration_s * 1e9);
            msgs_start = msgs;
            for (i = 0; i < o->conns; i++)
                cs[i].seq0 = cs[i].seq;
            cpu_self0 = self_cpu_ns();
            cpu_srv0 = proc_cpu_ns(o->server_pid);
        } else if (measuring && t_now >= t_end) {
            t_end = t_now;
            msgs_end = msgs;
            break;
        }
    }
    cpu_self1 = self_cpu_ns();
    cpu_srv1 = proc_cpu_ns(o->server_pid);
    /* A server that starves a connection for the whole window is broken, even
     * if the others kept the total up. */
    for (i = 0; i < o->conns; i++) {
        if (cs[i].seq == cs[i].seq0)
            die("connection %u: no echo completed in the measured %.3f s", i,
                (double)(t_end - t_start) / 1e9);
    }

    {
        double secs = (double)(t_end - t_start) / 1e9;
        uint64_t done = msgs_end - msgs_start;

        printf("pingpong conns=%u size=%zu seconds=%.3f msgs=%" PRIu64 " rate=%.0f"
               " client_cpu=%.3f",
               o->conns, o->size, secs, done, (double)done / secs,
               (double)(cpu_self1 - cpu_self0) / 1e9 / secs);
        if (o->server_pid > 0 && cpu_srv0 > 0)
            printf(" server_cpu=%.3f server_ns_per_msg=%.0f",
                   (double)(cpu_srv1 - cpu_srv0) / 1e9 / secs,
                   done > 0 ? (double)(cpu_srv1 - cpu_srv0) / (double)done : 0.0);
        printf("\n");
    }
    for (i = 0; i < o->conns; i++)
        close(cs[i].fd);
    close(ep);
    free(mem);
    free(cs);
}

/* ---- bulk ------------------------------------------------------------------ */

static void run_bulk(const struct opts *o)
{
    /* The stream's byte at offset i is table[i % BULK_PERIOD]; the table repeats
     * its head so that any chunk starting at any offset is one contiguous slice. */
    uint8_t *table = malloc(BULK_PERIOD + BULK_CHUNK);
    uint8_t *rbuf = malloc(BULK_CHUNK);
    uint64_t sent = 0, recvd = 0, t0, t1, t_last_progress, cpu_self0, cpu_srv0;
    uint64_t cpu_self1, cpu_srv1, x = 0x2545f4914f6cdd1dull;
    struct pollfd pfd;
    size_t i;
    int fd;

    if (table == NULL || rbuf == NULL)
        die("out of memory");
    for (i = 0; i < BULK_PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        table[i] = (uint8_t)(x >> 32);
    }
    for (i = 0; i < BULK_CHUNK; i++)
        table[BULK_PERIOD + i] = table[i % BULK_PERIOD];

    fd = connect_nb(o);
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, CONNECT_MS) != 1)
        die("connect: no answer within %d ms", CONNECT_MS);
    check_connected(fd, 0);

    t0 = now_ns();
    t_last_progress = t0;
    cpu_self0 = self_cpu_ns();
    cpu_srv0 = proc_cpu_ns(o->server_pid);
    while (recvd < o->bulk_bytes) {
        bool progress = false;
        int n;

        pfd.events = (short)(POLLIN | (sent < o->bulk_bytes ? POLLOUT : 0));
        n = poll(&pfd, 1, 1000);
        if (n < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (n > 0 && (pfd.revents & POLLOUT) && sent < o->bulk_bytes) {
            uint64_t left = o->bulk_bytes - sent;
            size_t len = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
            ssize_t w = write(fd, table + sent % BULK_PERIOD, len);

            if (w < 0 && errno != EAGAIN && errno != EINTR)
                die("write at offset %" PRIu64 ": %s", sent, strerror(errno));
            if (w > 0) {
                sent += (uint64_t)w;
                progress = true;
            }
        }
        if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP))) {
            uint64_t left = o->bulk_bytes - recvd;
            size_t len = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
            ssize_t r = read(fd, rbuf, len);

            if (r < 0 && errno != EAGAIN && errno != EINTR)
                die("read at offset %" PRIu64 ": %s", recvd, strerror(errno));
            if (r == 0)
                die("server closed after echoing %" PRIu64 " of %" PRIu64 " bytes", recvd,
                    o->bulk_bytes);
            if (r > 0) {
                if (recvd + (uint64_t)r > sent)
                    die("received %" PRIu64 " bytes but sent only %" PRIu64, recvd + (uint64_t)r,
                        sent);
                if (memcmp(rbuf, table + recvd % BULK_PERIOD, (size_t)r) != 0) {
                    size_t j = 0;

                    while (rbuf[j] == table[(recvd + j) % BULK_PERIOD])
                        j++;
                    die("echo differs at byte offset %" PRIu64, recvd + j);
                }
                recvd += (uint64_t)r;
                progress = true;
            }
        }
        if (progress) {
            t_last_progress = now_ns();
            if (t_last_progress - t0 >= (uint64_t)(o->bulk_timeout_s * 1e9))
                die("not done after %.0f s: echoed %" PRIu64 " of %" PRIu64 " bytes",
                    o->bulk_timeout_s, recvd, o->bulk_bytes);
        } else if (now_ns() - t_last_progress >= (uint64_t)STALL_MS * 1000000u) {
            die("stalled for %d ms: sent %" PRIu64 ", echoed %" PRIu64 " of %" PRIu64 " bytes",
                STALL_MS, sent, recvd, o->bulk_bytes);
        }
    }
    t1 = now_ns();
    cpu_self1 = self_cpu_ns();
    cpu_srv1 = proc_cpu_ns(o->server_pid);

    /* Everything came back; anything more would be an echo bug (duplication). */
    pfd.events = POLLIN;
    if (poll(&pfd, 1, 100) > 0) {
        ssize_t r = read(fd, rbuf, 1);

        if (r > 0)
            die("server sent more than the %" PRIu64 " bytes it was given", o->bulk_bytes);
    }
    close(fd);

    {
        double secs = (double)(t1 - t0) / 1e9;

        printf("bulk bytes=%" PRIu64 " seconds=%.3f rate_mib=%.1f client_cpu=%.3f", o->bulk_bytes,
               secs, (double)o->bulk_bytes / 1048576.0 / secs,
               (double)(cpu_self1 - cpu_self0) / 1e9 / secs);
        if (o->server_pid > 0 && cpu_srv0 > 0)
            printf(" server_cpu=%.3f server_ms_per_gib=%.0f",
                   (double)(cpu_srv1 - cpu_srv0) / 1e9 / secs,
                   (double)(cpu_srv1 - cpu_srv0) / 1e6 /
                       ((double)o->bulk_bytes / (1024.0 * 1024.0 * 1024.0)));
        printf("\n");
    }
    free(rbuf);
    free(table);
}

/* ---- idle ------------------------------------------------------------------ */

enum istate {
    I_UNUSED,
    I_CONNECTING,
    I_WAITING,
    I_IDLE
};

struct iconn {
    int fd;
    uint8_t state;
};

/* The byte that proves connection id is established. */
static uint8_t idle_byte(unsigned id)
{
    return (uint8_t)('a' + id % 26);
}

static void run_idle(const struct opts *o)
{
    struct epoll_event evs[EVENTS_MAX];
    struct iconn *cs = calloc(o->conns, sizeof *cs);
    unsigned next = 0, pending = 0, established = 0, i;
    uint64_t t_now, deadline, t_last_progress;
    sigset_t sigs;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int sfd;
    const uint64_t SIG_TAG = UINT64_MAX;

    if (cs == NULL || ep < 0)
        die("out of memory or epoll_create1 failed");
    raise_nofile((rlim_t)o->conns + 64);

    /* Block the release signals before saying "ready", so none can be lost. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0)
        die("sigprocmask: %s", strerror(errno));
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        die("signalfd: %s", strerror(errno));
    ep_ctl(ep, EPOLL_CTL_ADD, sfd, EPOLLIN, SIG_TAG);

    t_now = now_ns();
    t_last_progress = t_now;
    deadline = t_now + (uint64_t)CONNECT_MS * 1000000u * 2;
    while (established < o->conns) {
        int n, k;

        while (pending < o->window && next < o->conns) {
            cs[next].fd = connect_nb(o);
            cs[next].state = I_CONNECTING;
            ep_ctl(ep, EPOLL_CTL_ADD, cs[next].fd, EPOLLOUT, next);
            next++;
            pending++;
        }
        n = epoll_wait(ep, evs, EVENTS_MAX, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (k = 0; k < n; k++) {
            uint64_t tag = evs[k].data.u64;
            struct iconn *c;
            uint8_t b;
            ssize_t r;
            unsigned id;

            if (tag == SIG_TAG)
                die("interrupted with %u of %u connections established", established, o->conns);
            id = (unsigned)tag;
            c = &cs[id];
            switch (c->state) {
            case I_CONNECTING:
                check_connected(c->fd, id);
                b = idle_byte(id);
                if (write(c->fd, &b, 1) != 1)
                    die("connection %u: write: %s", id, strerror(errno));
                c->state = I_WAITING;
                ep_ctl(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, id);
                break;
            case I_WAITING:
                r = read(c->fd, &b, 1);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                if (r <= 0)
                    die_read(id, r);
                if (b != idle_byte(id))
                    die("connection %u: echoed 0x%02x, sent 0x%02x", id, b, idle_byte(id));
                c->state = I_IDLE;
                pending--;
                established++;
                t_last_progress = now_ns();
                break;
            default:
                die("connection %u: unexpected %s while idle", id,
                    (evs[k].events & EPOLLIN) ? "data or close" : "event");
            }
        }
        t_now = now_ns();
        if (t_now >= deadline)
            die("only %u of %u connections established after %d ms", established, o->conns,
                CONNECT_MS * 2);
        if (t_now - t_last_progress >= (uint64_t)STALL_MS * 2 * 1000000u)
            die("no connection established for %d ms (%u of %u)", STALL_MS * 2, established,
                o->conns);
    }

    printf("ready conns=%u\n", established);
    fflush(stdout);

    /* Hold until released; a server that drops or writes to an idle connection fails. */
    deadline = now_ns() + (uint64_t)(o->hold_s * 1e9);
    for (;;) {
        int n, k;

        t_now = now_ns();
        if (t_now >= deadline)
            die("not released within %.0f s of ready", o->hold_s);
        n = epoll_wait(ep, evs, EVENTS_MAX, (int)((deadline - t_now) / 1000000u) + 1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (k = 0; k < n; k++) {
            if (evs[k].data.u64 == SIG_TAG)
                goto released;
            die("connection %u: unexpected %s while idle", (unsigned)evs[k].data.u64,
                (evs[k].events & EPOLLIN) ? "data or close" : "event");
        }
    }
released:
    for (i = 0; i < o->conns; i++)
        close(cs[i].fd);
    printf("released conns=%u\n", o->conns);
    close(sfd);
    close(ep);
    free(cs);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
    fputs("usage: loadgen pingpong [-c CONNS] [-s SIZE] [-w WARMUP_S] [-d DURATION_S]"
          " [-P PID] ADDR PORT\n"
          "       loadgen bulk [-b BYTES] [-T TIMEOUT_S] [-P PID] ADDR PORT\n"
          "       loadgen idle [-c CONNS] [-W WINDOW] [-H HOLD_S] ADDR PORT\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o;
    const char *m;
    int ch;

    memset(&o, 0, sizeof o);
    o.conns = 50;
    o.size = 64;
    o.warmup_s = 1.0;
    o.duration_s = 5.0;
    o.bulk_bytes = 1024ull * 1024 * 1024;
    o.bulk_timeout_s = 60.0;
    o.window = 32;
    o.hold_s = 120.0;

    if (argc < 2)
        usage();
    m = argv[1];
    if (strcmp(m, "pingpong") == 0) {
        o.mode = MODE_PINGPONG;
    } else if (strcmp(m, "bulk") == 0) {
        o.mode = MODE_BULK;
    } else if (strcmp(m, "idle") == 0) {
        o.mode = MODE_IDLE;
        o.conns = 10000;
    } else {
        usage();
    }
    argc--;
    argv++;
    while ((ch = getopt(argc, argv, "c:s:w:d:b:T:W:H:P:")) != -1) {
        switch (ch) {
        case 'c':
            o.conns = (unsigned)parse_u64(optarg, "-c", 1, 1000000);
            break;
        case 's':
            o.size = (size_t)parse_u64(optarg, "-s", 1, MSG_MAX);
            break;
        case 'w':
            o.warmup_s = parse_secs(optarg, "-w");
            break;
        case 'd':
            o.duration_s = parse_secs(optarg, "-d");
            break;
        case 'b':
            o.bulk_bytes = parse_u64(optarg, "-b", 1, UINT64_MAX / 2);
            break;
        case 'T':
            o.bulk_timeout_s = parse_secs(optarg, "-T");
            break;
        case 'W':
            o.window = (unsigned)parse_u64(optarg, "-W", 1, 100000);
            break;
        case 'H':
            o.hold_s = parse_secs(optarg, "-H");
            break;
        case 'P':
            o.server_pid = (long)parse_u64(optarg, "-P", 1, 1u << 30);
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2)
        usage();
    if (o.mode == MODE_PINGPONG && o.duration_s <= 0.0)
        die("-d: the measured duration must be positive");
    parse_addr(&o, argv[optind], argv[optind + 1]);
    signal(SIGPIPE, SIG_IGN);

    switch (o.mode) {
    case MODE_PINGPONG:
        run_pingpong(&o);
        break;
    case MODE_BULK:
        run_bulk(&o);
        break;
    case MODE_IDLE:
        run_idle(&o);
        break;
    }
    return 0;
}
