/*
 * Endpoint strings (shared/CLI.md "Endpoints", Twisted's strports), the subset
 * the foundation needs:
 *
 *   server: tcp:PORT[:interface=ADDR][:backlog=N]   (a bare PORT means tcp:PORT)
 *           udp:PORT[:interface=ADDR]
 *           unix:PATH[:mode=0660][:lockfile=0|1]
 *   client: tcp:HOST:PORT[:timeout=S]   (also tcp:host=HOST:port=PORT)
 *           unix:PATH[:timeout=S]
 *
 * Fields are separated by ':'. A ':' inside a value is written "\:" (and a
 * backslash "\\"), or, for IPv6 addresses, the address is put in brackets:
 * tcp:8080:interface=[::1], tcp:[::1]:8080, tcp:\:\:1:8080.
 *
 * XXX: the TLS issue moves this parser into lib/ and adds ssl:/tls:/systemd:.
 */
#ifndef TWC_CMD_ENDPOINT_H
#define TWC_CMD_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "lib/err.h"

typedef enum twc_endpoint_kind {
    TWC_EP_TCP,
    TWC_EP_UDP,
    TWC_EP_UNIX,
} twc_endpoint_kind;

struct twc_endpoint {
    twc_endpoint_kind kind;
    char host[256];      /* server: interface ("" = all); client: host */
    uint16_t port;       /* tcp/udp */
    int backlog;         /* server tcp; 0 = default */
    unsigned mode;       /* server unix: file mode; 0 = default */
    int lockfile;        /* server unix: accepted for twistd compatibility */
    unsigned timeout_ms; /* client: connect timeout; 0 = default */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix */
};

/* Parse a server endpoint. Returns 0 or TWC_EINVAL with *err naming the problem
 * ("unknown endpoint type 'ssl' in 'ssl:443'"). */
int twc_endpoint_parse_server(struct twc_endpoint *ep, const char *s, twc_err *err);
/* Parse a client endpoint (tcp:HOST:PORT or unix:PATH). Same returns. */
int twc_endpoint_parse_client(struct twc_endpoint *ep, const char *s, twc_err *err);

/* The canonical string of ep with port (the real one once bound), e.g.
 * "tcp:8080", "udp:53:interface=[::1]", "unix:/run/x.sock", "tcp:127.0.0.1:80".
 * client selects the client form. Returns buf (always NUL-terminated). */
const char *twc_endpoint_format(const struct twc_endpoint *ep, int client, char *buf, size_t len);

/* "tcp", "udp" or "unix". */
const char *twc_endpoint_kind_name(twc_endpoint_kind kind);

#endif
