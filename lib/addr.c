/*
 * Socket addresses: numeric parsing and formatting of IPv4, IPv6 and UNIX
 * addresses. Nothing here resolves names or touches the network, so it is safe
 * on the loop (host names go through the resolver).
 *
 * IPv6 hosts take an optional zone ("fe80::1%lo" or "fe80::1%2", RFC 4007
 * section 11); in HOST:PORT strings they are written "[::1]:80" (RFC 3986
 * section 3.2.2) or, as in Twisted's endpoint strings, with escaped colons
 * ("\:\:1:80").
 */
#include "addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "buf.h"

/* INET6_ADDRSTRLEN plus "%" and an interface name. */
#define HOST_MAX (INET6_ADDRSTRLEN + 1 + IF_NAMESIZE)

void twc_addr_set(twc_addr *a, const struct sockaddr *sa, socklen_t len)
{
    memset(a, 0, sizeof(*a));
    if (sa == NULL || len == 0)
        return;
    if (len > (socklen_t)sizeof(a->ss))
        len = (socklen_t)sizeof(a->ss);
    memcpy(&a->ss, sa, len);
    a->len = len;
}

/* The zone of "fe80::1%lo": an interface name or index. Returns 0 on failure. */
static uint32_t parse_zone(const char *zone)
{
    uint64_t idx;
    unsigned named;

    if (*zone == '\0')
        return 0;
    if (twc_parse_u64(zone, strlen(zone), 1, UINT32_MAX, &idx) == 0)
        return (uint32_t)idx;
    named = if_nametoindex(zone);
    return (uint32_t)named;
}

int twc_addr_from_ip(twc_addr *a, const char *host, uint16_t port, twc_err *err)
{
    char tmp[HOST_MAX];
    size_t n;
    char *zone;
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&a->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&a->ss;

    memset(a, 0, sizeof(*a));
    if (host == NULL || *host == '\0') {
        /* The wildcard: callers wanting "::" ask for it by name (the TCP
         * listener does, for dual-stack). */
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        a->len = sizeof(*sin);
        return 0;
    }
    n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(tmp))
        goto bad;
    memcpy(tmp, host, n);
    tmp[n] = '\0';

    if (inet_pton(AF_INET, tmp, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        a->len = sizeof(*sin);
        return 0;
    }
    zone = strchr(tmp, '%');
    if (zone != NULL)
        *zone++ = '\0';
    if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) != 1)
        goto bad;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (zone != NULL) {
        sin6->sin6_scope_id = parse_zone(zone);
        if (sin6->sin6_scope_id == 0) {
            memset(a, 0, sizeof(*a));
            return twc_err_set(err, TWC_EINVAL, "unknown ipv6 zone \"%s\"", zone);
        }
    }
    a->len = sizeof(*sin6);
    return 0;

bad:
    memset(a, 0, sizeof(*a));
    return twc_err_set(err, TWC_EINVAL, "not a numeric ip address: \"%.100s\"", host);
}

int twc_addr_parse_hostport(twc_addr *a, const char *s, twc_err *err)
{
    char host[HOST_MAX];
    size_t hn = 0, i, colon = SIZE_MAX, n;
    int colons = 0, bracket = 0;
    uint64_t port;
    const char *p;

    memset(a, 0, sizeof(*a));
    if (s == NULL)
        return twc_err_set(err, TWC_EINVAL, "missing address");
    n = strlen(s);
    /* The port follows the last colon that is neither escaped nor inside brackets. */
    for (i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (s[i] == '[')
            bracket++;
        else if (s[i] == ']')
            bracket--;
        else if (s[i] == ':' && bracket == 0) {
            colon = i;
            colons++;
        }
    }
    if (colon == SIZE_MAX)
        return twc_err_set(err, TWC_EINVAL, "missing port in \"%.100s\"", s);
    if (colons > 1)
        return twc_err_set(err, TWC_EINVAL,
                           "ambiguous address \"%.100s\": write ipv6 as [host]:port", s);
    p = s + colon + 1;
    if (twc_parse_u64(p, strlen(p), 0, 65535, &port) != 0)
        return twc_err_set(err, TWC_EINVAL, "bad port \"%.40s\" (0-65535)", p);

    /* Copy the host part, unescaping "\x" to "x". */
    for (i = 0; i < colon; i++) {
        if (s[i] == '\\' && i + 1 < colon)
            i++;
        if (hn + 1 >= sizeof(host))
            return twc_err_set(err, TWC_EINVAL, "host too long in \"%.100s\"", s);
        host[hn++] = s[i];
    }
    host[hn] = '\0';
    if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']' && strchr(host, ':') == NULL)
        return twc_err_set(err, TWC_EINVAL, "brackets around a non-ipv6 host in \"%.100s\"", s);
    return twc_addr_from_ip(a, host, (uint16_t)port, err);
}

int twc_addr_from_path(twc_addr *a, const char *path, twc_err *err)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)(void *)&a->ss;
    size_t n;

    memset(a, 0, sizeof(*a));
    if (path == NULL || *path == '\0')
        return twc_err_set(err, TWC_EINVAL, "empty unix socket path");
    n = strlen(path);
    if (n >= sizeof(sun->sun_path))
        return twc_err_set(err, TWC_EINVAL, "unix socket path longer than %zu bytes: %.60s...",
                           sizeof(sun->sun_path) - 1, path);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int twc_addr_family(const twc_addr *a)
{
    if (a == NULL || a->len == 0)
        return AF_UNSPEC;
    return a->ss.ss_family;
}

uint16_t twc_addr_port(const twc_addr *a)
{
    switch (twc_addr_family(a)) {
    case AF_INET:
        return ntohs(((const struct sockaddr_in *)(const void *)&a->ss)->sin_port);
    case AF_INET6:
        return ntohs(((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_port);
    default:
        return 0;
    }
}

/* The path of a UNIX address; unnamed sockets (an accepted peer) give "". The
 * kernel may omit the NUL when the path fills sun_path, hence the bound. */
static size_t unix_path(const twc_addr *a, const char **path)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)&a->ss;
    size_t max;

    *path = sun->sun_path;
    if (a->len <= offsetof(struct sockaddr_un, sun_path))
        return 0;
    max = a->len - offsetof(struct sockaddr_un, sun_path);
    if (max > sizeof(sun->sun_path))
        max = sizeof(sun->sun_path);
    return strnlen(sun->sun_path, max);
}

const char *twc_addr_host(const twc_addr *a, char *buf, size_t len)
{
    const struct sockaddr_in6 *sin6;
    char ip[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];
    const char *path;
    size_t n;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    switch (twc_addr_family(a)) {
    case AF_INET:
        if (inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)&a->ss)->sin_addr,
                      ip, sizeof(ip)) != NULL)
            snprintf(buf, len, "%s", ip);
        break;
    case AF_INET6:
        sin6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)) == NULL)
            break;
        if (sin6->sin6_scope_id == 0)
            snprintf(buf, len, "%s", ip);
        else if (if_indextoname(sin6->sin6_scope_id, ifname) != NULL)
            snprintf(buf, len, "%s%%%s", ip, ifname);
        else
            snprintf(buf, len, "%s%%%u", ip, (unsigned)sin6->sin6_scope_id);
        break;
    case AF_UNIX:
        n = unix_path(a, &path);
        snprintf(buf, len, "%.*s", (int)n, path);
        break;
    default:
        break;
    }
    return buf;
}

const char *twc_addr_format(const twc_addr *a, char *buf, size_t len)
{
    char host[HOST_MAX + 108];

    if (len == 0)
        return buf;
    twc_addr_host(a, host, sizeof(host));
    switch (twc_addr_family(a)) {
    case AF_INET:
        snprintf(buf, len, "%s:%u", host, (unsigned)twc_addr_port(a));
        break;
    case AF_INET6:
        snprintf(buf, len, "[%s]:%u", host, (unsigned)twc_addr_port(a));
        break;
    case AF_UNIX:
        snprintf(buf, len, "unix:%s", host);
        break;
    default:
        snprintf(buf, len, "-");
        break;
    }
    return buf;
}

int twc_addr_equal(const twc_addr *a, const twc_addr *b)
{
    const struct sockaddr_in *a4, *b4;
    const struct sockaddr_in6 *a6, *b6;
    const char *pa, *pb;
    size_t na, nb;
    int fam = twc_addr_family(a);

    if (fam != twc_addr_family(b))
        return 0;
    switch (fam) {
    case AF_UNSPEC:
        return 1;
    case AF_INET:
        a4 = (const struct sockaddr_in *)(const void *)&a->ss;
        b4 = (const struct sockaddr_in *)(const void *)&b->ss;
        return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
    case AF_INET6:
        a6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
        b6 = (const struct sockaddr_in6 *)(const void *)&b->ss;
        return a6->sin6_port == b6->sin6_port && a6->sin6_scope_id == b6->sin6_scope_id &&
               memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
    case AF_UNIX:
        na = unix_path(a, &pa);
        nb = unix_path(b, &pb);
        return na == nb && memcmp(pa, pb, na) == 0;
    default:
        return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
    }
}
