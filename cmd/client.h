/*
 * Pieces of `twc client` shared between its files (client.c, wait.c).
 */
#ifndef TWC_CMD_CLIENT_H
#define TWC_CMD_CLIENT_H

#include <stdint.h>

#include "cmd/options.h"
#include "lib/addr.h"
#include "lib/err.h"

/* Numeric address or host name -> address (getaddrinfo, before the reactor runs;
 * socktype SOCK_STREAM or SOCK_DGRAM). Returns 0 or TWC_EDNS with *err. */
int twc_client_resolve(const char *host, uint16_t port, int socktype, twc_addr *out, twc_err *err);

/* `twc client wait`; argv[0] is "wait". Returns the exit code (or does not
 * return: it execs COMMAND). */
int twc_client_wait(const struct twc_optset *set, int argc, char **argv);

#endif
