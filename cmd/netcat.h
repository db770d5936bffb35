/*
 * The netcat core shared by `twc client tcp|unix|tls`: one connection whose
 * bytes go to stdout, stdin going to the connection, flow control both ways,
 * half-close at stdin EOF, and exit codes for failures.
 *
 * A client embeds struct twc_netcat, fills app (twc_app_parse/_start), target
 * and the optional hooks, then calls twc_netcat_start with the factory to
 * connect with: twc_netcat_factory(nc) itself, or a wrapper of it (TLS).
 */
#ifndef TWC_CMD_NETCAT_H
#define TWC_CMD_NETCAT_H

#include <stdint.h>

#include "cmd/common.h"
#include "cmd/stdstream.h"
#include "lib/addr.h"
#include "lib/deferred.h"
#include "lib/protocol.h"
#include "lib/resolver.h"
#include "lib/stream.h"

struct twc_netcat {
    struct twc_app app;
    twc_factory factory;      /* builds `proto`; set up by twc_netcat_init */
    twc_protocol proto;       /* our one connection */
    twc_connector *connector; /* numeric targets */
    twc_resolver *resolver;   /* host names: connect by name */
    twc_deferred *by_name;    /* our reference to the connect-by-name deferred */
    struct twc_stdio io;
    char target[TWC_ADDR_STRLEN + 256]; /* for messages: "host:port" or a path */
    int connected;
    int lost;
    int exit_code;
    /* Optional: exit code for a failed connection (default: 69, or 128+SIGTERM
     * when cancelled). */
    int (*failure_exit)(int code);
    /* Optional: the debug line once connected (default "connected to TARGET"). */
    void (*log_connected)(struct twc_netcat *nc);
};

/* Zero nc and set up its factory. */
void twc_netcat_init(struct twc_netcat *nc);
twc_factory *twc_netcat_factory(struct twc_netcat *nc);

/* After twc_app_start: set up stdin/stdout (line editing on a tty) and start
 * connecting with f to `to` (numeric or UNIX), or, when to is NULL, to
 * host:port by name (c-ares and Happy Eyeballs, resolv.conf from
 * $TWC_RESOLV_CONF or /etc/resolv.conf). Returns 0, or an exit code after
 * printing the error. */
int twc_netcat_start(struct twc_netcat *nc, twc_factory *f, const twc_addr *to, const char *host,
                     uint16_t port);

/* Run until the connection ends (SIGINT/SIGTERM abort it). Returns the exit code. */
int twc_netcat_run(struct twc_netcat *nc);

/* Free what start made (not the app: twc_app_cleanup does that). */
void twc_netcat_cleanup(struct twc_netcat *nc);

#endif
