/*
 * Socket addresses: a sockaddr with its length, plus parsing and formatting.
 * Parsing here is numeric only; host names go through the resolver.
 */
#ifndef TWC_LIB_ADDR_H
#define TWC_LIB_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

typedef struct twc_addr {
    struct sockaddr_storage ss;
    socklen_t len; /* 0: no address */
} twc_addr;

/* Longest string twc_addr_format writes, NUL included. */
#define TWC_ADDR_STRLEN 128

/* Numeric IPv4 or IPv6 host ("127.0.0.1", "::1", "[::1]", "fe80::1%lo"; NULL or ""
 * means the wildcard of family AF_INET6 when want_v6, else AF_INET) and a port.
 * Returns 0 or TWC_EINVAL with *err filled. */
int twc_addr_from_ip(twc_addr *a, const char *host, uint16_t port, twc_err *err);
/* "HOST:PORT", "[V6]:PORT" or "V6\:ESCAPED:PORT". Returns 0 or TWC_EINVAL. */
int twc_addr_parse_hostport(twc_addr *a, const char *s, twc_err *err);
/* AF_UNIX path (must fit sun_path). Returns 0 or TWC_EINVAL. */
int twc_addr_from_path(twc_addr *a, const char *path, twc_err *err);
/* Copy a raw sockaddr. */
void twc_addr_set(twc_addr *a, const struct sockaddr *sa, socklen_t len);

int twc_addr_family(const twc_addr *a);
uint16_t twc_addr_port(const twc_addr *a); /* 0 for non-IP */
/* Host part only: "127.0.0.1", "::1", or the UNIX path. Returns buf. */
const char *twc_addr_host(const twc_addr *a, char *buf, size_t len);
/* "127.0.0.1:80", "[::1]:80", "unix:/path". Returns buf (always NUL-terminated). */
const char *twc_addr_format(const twc_addr *a, char *buf, size_t len);
int twc_addr_equal(const twc_addr *a, const twc_addr *b);

#endif
