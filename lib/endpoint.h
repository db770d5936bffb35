/*
 * Endpoint strings (shared/CLI.md "Endpoints", Twisted's strports): parse,
 * format, listen on and connect to them.
 *
 *   server: tcp:PORT[:interface=ADDR][:backlog=N]     (a bare PORT is tcp:PORT)
 *           udp:PORT[:interface=ADDR]
 *           ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:extraCertChain=PEM]
 *               [:sniCerts=DIR][:interface=ADDR][:backlog=N]
 *           unix:PATH[:mode=0660][:lockfile=0|1]
 *           systemd:domain=INET|INET6|UNIX:index=N    (socket activation)
 *   client: tcp:HOST:PORT[:timeout=S]
 *           tls:HOST:PORT[:timeout=S][:caCerts=PEM]
 *           unix:PATH[:timeout=S]
 *
 * Fields are separated by ':'. As in Twisted, a backslash makes the next
 * character literal ("\:" is a colon inside a value, "\\" a backslash); an
 * IPv6 address may instead be put in brackets: tcp:8080:interface=[::1],
 * tcp:[::1]:8080, tcp:\:\:1:8080. Positional fields may also be given by name
 * (tcp:port=80, tcp:host=H:port=P, unix:path=P).
 *
 * ssl: certKey defaults to privateKey (one PEM holding both); privateKey may
 * be left out only when sniCerts is given (then a client whose SNI name has no
 * certificate fails the handshake). unix: lockfile is accepted for twistd
 * compatibility; the listener already refuses a path someone listens on and
 * replaces a stale one. systemd: the socket is fd 3 + index, passed by the
 * service manager with LISTEN_FDS and LISTEN_PID (sd_listen_fds(3)); it must be
 * a listening stream socket of the named family.
 *
 * Errors name the input and the part that is wrong, and say what was
 * expected: "ssl:8443: missing privateKey= (or sniCerts=)",
 * "tcp:abc: port 'abc' is not a number 0-65535",
 * "unix:/x:mode=999: mode '999' is not octal (e.g. 0660)".
 */
#ifndef TWC_LIB_ENDPOINT_H
#define TWC_LIB_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "addr.h"
#include "deferred.h"
#include "err.h"
#include "protocol.h"
#include "reactor.h"
#include "resolver.h"
#include "stream.h"
#include "tls.h"
#include "udp.h"

/* Longest file name an ssl:/tls: option may hold, NUL included. */
#define TWC_ENDPOINT_FILE_MAX 1024

typedef enum twc_endpoint_kind {
    TWC_EP_TCP,     /* server and client */
    TWC_EP_UDP,     /* server only */
    TWC_EP_UNIX,    /* server and client */
    TWC_EP_SSL,     /* server: TLS over TCP */
    TWC_EP_TLS,     /* client: TLS over TCP */
    TWC_EP_SYSTEMD, /* server: an inherited listening socket */
} twc_endpoint_kind;

/* A parsed endpoint: plain data, caller-owned, copyable. */
struct twc_endpoint {
    twc_endpoint_kind kind;
    int client;          /* parsed as a client endpoint */
    char host[256];      /* server: interface ("" = all); client: host, no brackets */
    uint16_t port;       /* tcp/udp/ssl/tls */
    int backlog;         /* tcp/ssl server; 0 = TWC_LISTEN_BACKLOG */
    unsigned mode;       /* unix server: file mode; 0 = 0666 & ~umask */
    int lockfile;        /* unix server: accepted, see above */
    unsigned timeout_ms; /* client: connect timeout; 0 = TWC_CONNECT_TIMEOUT_MS */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix */
    /* ssl server ("" = not given) */
    char private_key[TWC_ENDPOINT_FILE_MAX];
    char cert_key[TWC_ENDPOINT_FILE_MAX];
    char extra_cert_chain[TWC_ENDPOINT_FILE_MAX];
    char sni_dir[TWC_ENDPOINT_FILE_MAX];
    /* tls client: trusted CAs ("" = the system store) */
    char ca_certs[TWC_ENDPOINT_FILE_MAX];
    /* systemd */
    int sd_family;     /* AF_INET, AF_INET6 or AF_UNIX */
    unsigned sd_index; /* fd 3 + sd_index */
};

/* Parse a server endpoint (tcp, udp, ssl, unix, systemd, bare port). s is
 * borrowed. Returns 0, or TWC_EINVAL with *err saying which part of s is wrong
 * and what was expected (ep is then zeroed). */
int twc_endpoint_parse_server(struct twc_endpoint *ep, const char *s, twc_err *err);
/* Parse a client endpoint (tcp, tls, unix). Same returns. */
int twc_endpoint_parse_client(struct twc_endpoint *ep, const char *s, twc_err *err);

/* The canonical string of what ep listens on or connects to, with ep->port
 * (pass the real one once bound), for `listening` log events: the kind and the
 * address only, without options (file names, mode, backlog, timeout):
 * "tcp:8080", "tcp:8080:interface=127.0.0.1", "udp:53:interface=[::1]",
 * "ssl:8443", "unix:/run/x.sock", "systemd:domain=INET:index=0",
 * "tcp:example.com:80", "tls:[::1]:443". IPv6 addresses go in brackets; ':',
 * '\', '[' and ']' in other values are escaped, so tcp, udp, unix and client
 * forms parse back to the same address. client selects the client form (as
 * the old cmd/ parser did; ep->client and the tls kind select it too).
 * Returns buf (always NUL-terminated, truncated if short). */
const char *twc_endpoint_format(const struct twc_endpoint *ep, int client, char *buf, size_t len);

/* "tcp", "udp", "unix", "ssl", "tls", "systemd". Static string. */
const char *twc_endpoint_kind_name(twc_endpoint_kind kind);

/* Nonzero for endpoints carried by a stream listener/connector (all but udp). */
int twc_endpoint_is_stream(const struct twc_endpoint *ep);

/* ---- Listening ------------------------------------------------------------- */

typedef struct twc_endpoint_listener twc_endpoint_listener;

struct twc_endpoint_listen_opts {
    int reuseport;    /* tcp/ssl: SO_REUSEPORT (workers) */
    const char *alpn; /* ssl: ALPN list as in twc_tls_server_opts; NULL: "http/1.1" */
};

/* Listen on a server endpoint of any stream kind (tcp, ssl, unix, systemd).
 * Each accepted connection gets a protocol from f (borrowed: keep it alive
 * until the listener is freed and its connections are gone); for ssl, the
 * protocol is built once the TLS handshake is done (lib/tls.h), and the
 * listener owns the TLS context and factory wrapper. ep and o (may be NULL) are
 * borrowed. Returns owned, or NULL with *err: TWC_EINVAL (udp, a client
 * endpoint, systemd without a matching socket), TWC_ETLS_CONFIG naming the
 * file, -EADDRINUSE, -EACCES, -EADDRNOTAVAIL, ... */
twc_endpoint_listener *twc_endpoint_listen(twc_reactor *r, const struct twc_endpoint *ep,
                                           twc_factory *f, const struct twc_endpoint_listen_opts *o,
                                           twc_err *err);
/* The bound address (the real port when 0 was asked for). Returns 0 or code. */
int twc_endpoint_listener_addr(const twc_endpoint_listener *l, twc_addr *out);
/* The real port (0 for unix sockets). */
uint16_t twc_endpoint_listener_port(const twc_endpoint_listener *l);
/* The endpoint as listened on, with the real port (borrowed from l). */
const struct twc_endpoint *twc_endpoint_listener_endpoint(const twc_endpoint_listener *l);
/* "tcp", "unix" or "tls": the transport accepted connections get (a systemd
 * socket reports its real family). Static string. */
const char *twc_endpoint_listener_proto(const twc_endpoint_listener *l);
/* The stream listener inside (borrowed): pause/resume, fd. */
twc_listener *twc_endpoint_listener_base(twc_endpoint_listener *l);
/* Stop listening and free (established connections live on). NULL no-op. */
void twc_endpoint_listener_free(twc_endpoint_listener *l);

/* udp:PORT[:interface=ADDR]: bind it for p (twc_udp_listen with the
 * endpoint's interface and port). Returns owned, or NULL with *err
 * (TWC_EINVAL when ep is not udp). */
twc_udp *twc_endpoint_udp_listen(twc_reactor *r, const struct twc_endpoint *ep,
                                 twc_datagram_protocol *p, twc_err *err);

/* ---- Connecting ------------------------------------------------------------ */

struct twc_endpoint_connect_opts {
    /* Resolver for host names (borrowed until the deferred fires). NULL: one is
     * made for the call from resolv_conf (NULL: /etc/resolv.conf). Numeric
     * hosts and unix paths need none. */
    twc_resolver *resolver;
    const char *resolv_conf;
    /* tls: name sent in SNI and checked against the certificate; NULL: the
     * endpoint's host. */
    const char *server_name;
    /* tls: nonzero skips certificate and host name verification (`-k`). */
    int insecure;
    /* tls: ALPN offered, as in twc_tls_client_opts; NULL: "http/1.1". */
    const char *alpn;
    /* tls: a client context to use (borrowed) instead of one built from
     * caCerts, insecure and alpn; lets callers share session resumption. */
    twc_tls_ctx *tls_ctx;
};

/* Connect to a client endpoint and build the protocol with f (borrowed until
 * the connection ends). Host names go through the resolver and Happy Eyeballs
 * (lib/connect.h); numeric addresses and unix paths through a plain connector.
 * tls: wraps f with twc_tls_factory_new, so f builds its protocol only after
 * the handshake (the protocol's transport is then the TLS transport).
 *
 * Returns the consumer's reference to a deferred that fires, after the
 * protocol's connection_made, with the protocol (borrowed: it belongs to its
 * transport), or fails with: TWC_EINVAL (a server endpoint), the resolver's
 * error, the connect error (-ECONNREFUSED...), TWC_ETIMEDOUT after
 * ep->timeout_ms (resolution and TCP connect; the TLS handshake has its own
 * TWC_TLS_HANDSHAKE_TIMEOUT_MS), TWC_ETLS_CONFIG (caCerts), TWC_ETLS_HANDSHAKE
 * or TWC_ETLS_VERIFY (naming the host), TWC_EPROTO when f refused to build a
 * protocol, TWC_ECANCELED after twc_deferred_cancel. A failure is reported only
 * through the deferred (f->connection_failed is not called, as with Twisted's
 * endpoints); once connected, f->client_connection_lost runs when the
 * connection ends. Note that p->factory is then an internal wrapper, not f:
 * recover your state from the protocol or from the arg of f's own build. */
twc_deferred *twc_endpoint_connect(twc_reactor *r, const struct twc_endpoint *ep, twc_factory *f,
                                   const struct twc_endpoint_connect_opts *o);

#endif
