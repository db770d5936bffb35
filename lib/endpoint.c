/*
 * Endpoint strings (see endpoint.h): the parser and formatter here, listening
 * and connecting in the second half of the file.
 *
 * Parsing is Twisted's strports: split on colons that are neither escaped nor
 * inside [...], unescape, then read each field as a positional value or a
 * key=value parameter of the endpoint's kind, from a small table per kind.
 */
#define _GNU_SOURCE
#include "endpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "connect.h"
#include "limits.h"

#define MAX_FIELDS 16

/* ---- Keys ---------------------------------------------------------------------- */

/* Every key any kind accepts; a kind's table lists the ones it takes. */
enum key {
    K_PORT,
    K_HOST,
    K_PATH,
    K_INTERFACE,
    K_BACKLOG,
    K_MODE,
    K_LOCKFILE,
    K_TIMEOUT,
    K_PRIVATE_KEY,
    K_CERT_KEY,
    K_EXTRA_CHAIN,
    K_SNI_CERTS,
    K_CA_CERTS,
    K_DOMAIN,
    K_INDEX,
    K_COUNT
};

static const char *const key_names[K_COUNT] = {
    "port",           "host",     "path",    "interface",  "backlog",
    "mode",           "lockfile", "timeout", "privateKey", "certKey",
    "extraCertChain", "sniCerts", "caCerts", "domain",     "index",
};

/* What one kind takes: positional fields in order, then the named keys (the
 * positional ones may be named too). */
struct kind_spec {
    const char *name;
    twc_endpoint_kind kind;
    int client;
    enum key pos[2];
    int npos;
    unsigned keys; /* bit per enum key */
    const char *usage;
};

#define B(k) (1u << (k))

static const struct kind_spec specs[] = {
    {"tcp",
     TWC_EP_TCP,
     0,
     {K_PORT},
     1,
     B(K_PORT) | B(K_INTERFACE) | B(K_BACKLOG),
     "tcp:PORT[:interface=ADDR][:backlog=N]"},
    {"udp", TWC_EP_UDP, 0, {K_PORT}, 1, B(K_PORT) | B(K_INTERFACE), "udp:PORT[:interface=ADDR]"},
    {"ssl",
     TWC_EP_SSL,
     0,
     {K_PORT},
     1,
     B(K_PORT) | B(K_INTERFACE) | B(K_BACKLOG) | B(K_PRIVATE_KEY) | B(K_CERT_KEY) |
         B(K_EXTRA_CHAIN) | B(K_SNI_CERTS),
     "ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:extraCertChain=PEM][:sniCerts=DIR]"
     "[:interface=ADDR]"},
    {"unix",
     TWC_EP_UNIX,
     0,
     {K_PATH},
     1,
     B(K_PATH) | B(K_MODE) | B(K_LOCKFILE) | B(K_BACKLOG),
     "unix:PATH[:mode=0660][:lockfile=1]"},
    {"systemd",
     TWC_EP_SYSTEMD,
     0,
     {K_PORT},
     0,
     B(K_DOMAIN) | B(K_INDEX),
     "systemd:domain=INET:index=N"},
    {"tcp",
     TWC_EP_TCP,
     1,
     {K_HOST, K_PORT},
     2,
     B(K_HOST) | B(K_PORT) | B(K_TIMEOUT),
     "tcp:HOST:PORT[:timeout=S]"},
    {"tls",
     TWC_EP_TLS,
     1,
     {K_HOST, K_PORT},
     2,
     B(K_HOST) | B(K_PORT) | B(K_TIMEOUT) | B(K_CA_CERTS),
     "tls:HOST:PORT[:timeout=S][:caCerts=PEM]"},
    {"unix", TWC_EP_UNIX, 1, {K_PATH}, 1, B(K_PATH) | B(K_TIMEOUT), "unix:PATH[:timeout=S]"},
};

const char *twc_endpoint_kind_name(twc_endpoint_kind kind)
{
    static const char *const names[] = {"tcp", "udp", "unix", "ssl", "tls", "systemd"};

    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

int twc_endpoint_is_stream(const struct twc_endpoint *ep)
{
    return ep->kind != TWC_EP_UDP;
}

/* ---- Splitting ----------------------------------------------------------------- */

struct fields {
    char *buf; /* owned: the unescaped fields, NUL-separated */
    char *v[MAX_FIELDS];
    int n;
};

/* Split s on ':' that is neither escaped ("\:") nor inside [...], removing the
 * escapes ("\x" is x). Returns 0, or TWC_EINVAL/TWC_ENOMEM with a reason. */
static int split(const char *s, struct fields *f, twc_err *err)
{
    size_t at = 0;
    int depth = 0;

    f->n = 0;
    f->buf = malloc(strlen(s) + 1);
    if (f->buf == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    f->v[f->n++] = f->buf;
    for (; *s != '\0'; s++) {
        char c = *s;

        if (c == '\\') {
            if (s[1] == '\0')
                return twc_err_set(err, TWC_EINVAL, "a '\\' ends the string (escape what?)");
            c = *++s;
        } else if (c == '[') {
            depth++;
        } else if (c == ']') {
            if (depth == 0)
                return twc_err_set(err, TWC_EINVAL, "']' without '['");
            depth--;
        } else if (c == ':' && depth == 0) {
            if (f->n == MAX_FIELDS)
                return twc_err_set(err, TWC_EINVAL, "more than %d ':'-separated fields",
                                   MAX_FIELDS);
            f->buf[at++] = '\0';
            f->v[f->n++] = f->buf + at;
            continue;
        }
        f->buf[at++] = c;
    }
    f->buf[at] = '\0';
    if (depth != 0)
        return twc_err_set(err, TWC_EINVAL, "'[' without ']'");
    return 0;
}

/* "[::1]" -> "::1", in place. */
static void strip_brackets(char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

/* A field is key=value when the text before '=' is a plain word; otherwise it
 * is positional (a unix path may hold '='). */
static int is_param(const char *field, size_t *keylen)
{
    const char *eq = strchr(field, '=');
    const char *p;

    if (eq == NULL || eq == field)
        return 0;
    for (p = field; p < eq; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    }
    *keylen = (size_t)(eq - field);
    return 1;
}

/* ---- Values -------------------------------------------------------------------- */

static int copy_value(char *dst, size_t dlen, const char *v, const char *what, twc_err *err)
{
    size_t n = strlen(v);

    if (n == 0)
        return twc_err_set(err, TWC_EINVAL, "%s is empty", what);
    if (n >= dlen)
        return twc_err_set(err, TWC_EINVAL, "%s is longer than %zu bytes", what, dlen - 1);
    memcpy(dst, v, n + 1);
    return 0;
}

static int parse_port(const char *v, int client, uint16_t *port, twc_err *err)
{
    uint64_t n;

    if (twc_parse_u64(v, strlen(v), client ? 1 : 0, 65535, &n) < 0)
        return twc_err_set(err, TWC_EINVAL, "port '%s' is not a number %d-65535", v,
                           client ? 1 : 0);
    *port = (uint16_t)n;
    return 0;
}

/* Seconds with up to three decimals -> ms (1 ms .. 1 day). */
static int parse_timeout(const char *s, unsigned *ms, twc_err *err)
{
    const char *dot = strchr(s, '.');
    size_t ilen = dot != NULL ? (size_t)(dot - s) : strlen(s);
    uint64_t whole = 0, frac = 0;
    size_t flen, i;

    if ((ilen > 0 && twc_parse_u64(s, ilen, 0, 86400, &whole) < 0) || (ilen == 0 && dot == NULL))
        goto bad;
    if (dot != NULL) {
        flen = strlen(dot + 1);
        if (flen == 0 || flen > 3 || twc_parse_u64(dot + 1, flen, 0, 999, &frac) < 0)
            goto bad;
        for (i = flen; i < 3; i++)
            frac *= 10;
    }
    if (whole * 1000 + frac == 0)
        goto bad;
    *ms = (unsigned)(whole * 1000 + frac);
    return 0;
bad:
    return twc_err_set(err, TWC_EINVAL,
                       "timeout '%s' is not a number of seconds (e.g. 5 or 0.5, at most 86400)", s);
}

/* An empty host is most often an IPv6 address split on its colons. */
#define V6_HINT "an IPv6 address goes in brackets, [::1], or escapes its colons, \\:\\:1"

static int set_key(struct twc_endpoint *ep, enum key k, char *v, twc_err *err)
{
    uint64_t n;
    twc_addr a;
    size_t i;

    switch (k) {
    case K_PORT:
        return parse_port(v, ep->client, &ep->port, err);
    case K_HOST:
        strip_brackets(v);
        if (v[0] == '\0')
            return twc_err_set(err, TWC_EINVAL, "host is empty (%s)", V6_HINT);
        return copy_value(ep->host, sizeof(ep->host), v, "host", err);
    case K_PATH:
        return copy_value(ep->path, sizeof(ep->path), v, "path", err);
    case K_INTERFACE:
        strip_brackets(v);
        if (v[0] == '\0')
            return twc_err_set(err, TWC_EINVAL, "interface is empty (%s)", V6_HINT);
        if (copy_value(ep->host, sizeof(ep->host), v, "interface", err) < 0)
            return TWC_EINVAL;
        if (twc_addr_from_ip(&a, v, 0, NULL) < 0)
            return twc_err_set(err, TWC_EINVAL,
                               "interface '%s' is not a numeric IPv4 or IPv6 address", v);
        return 0;
    case K_BACKLOG:
        if (twc_parse_u64(v, strlen(v), 1, 65535, &n) < 0)
            return twc_err_set(err, TWC_EINVAL, "backlog '%s' is not a number 1-65535", v);
        ep->backlog = (int)n;
        return 0;
    case K_MODE:
        /* Octal as chmod(1): digits 0-7 only, at most 07777. */
        n = 0;
        for (i = 0; v[i] >= '0' && v[i] <= '7' && i < 5; i++)
            n = n * 8 + (uint64_t)(v[i] - '0');
        if (i == 0 || v[i] != '\0' || n > 07777)
            return twc_err_set(err, TWC_EINVAL, "mode '%s' is not octal (e.g. 0660)", v);
        ep->mode = (unsigned)n;
        return 0;
    case K_LOCKFILE:
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            return twc_err_set(err, TWC_EINVAL, "lockfile '%s' is not 0 or 1", v);
        ep->lockfile = v[0] == '1';
        return 0;
    case K_TIMEOUT:
        return parse_timeout(v, &ep->timeout_ms, err);
    case K_PRIVATE_KEY:
        return copy_value(ep->private_key, sizeof(ep->private_key), v, "privateKey", err);
    case K_CERT_KEY:
        return copy_value(ep->cert_key, sizeof(ep->cert_key), v, "certKey", err);
    case K_EXTRA_CHAIN:
        return copy_value(ep->extra_cert_chain, sizeof(ep->extra_cert_chain), v, "extraCertChain",
                          err);
    case K_SNI_CERTS:
        return copy_value(ep->sni_dir, sizeof(ep->sni_dir), v, "sniCerts", err);
    case K_CA_CERTS:
        return copy_value(ep->ca_certs, sizeof(ep->ca_certs), v, "caCerts", err);
    case K_DOMAIN:
        if (strcmp(v, "INET") == 0)
            ep->sd_family = AF_INET;
        else if (strcmp(v, "INET6") == 0)
            ep->sd_family = AF_INET6;
        else if (strcmp(v, "UNIX") == 0)
            ep->sd_family = AF_UNIX;
        else
            return twc_err_set(err, TWC_EINVAL, "domain '%s' is not INET, INET6 or UNIX", v);
        return 0;
    case K_INDEX:
        /* fd 3 + index must be an int. */
        if (twc_parse_u64(v, strlen(v), 0, 65535, &n) < 0)
            return twc_err_set(err, TWC_EINVAL, "index '%s' is not a number 0-65535", v);
        ep->sd_index = (unsigned)n;
        return 0;
    case K_COUNT:
        break;
    }
    return twc_err_set(err, TWC_EINTERNAL, "bad key");
}

/* "privateKey, certKey, ..." for an error message. */
static void list_keys(unsigned keys, char *buf, size_t len)
{
    size_t at = 0;
    int k, n;

    buf[0] = '\0';
    for (k = 0; k < K_COUNT; k++) {
        if (!(keys & B(k)))
            continue;
        n = snprintf(buf + at, len - at, "%s%s", at > 0 ? ", " : "", key_names[k]);
        if (n < 0 || (size_t)n >= len - at)
            return;
        at += (size_t)n;
    }
}

/* ---- Parsing ------------------------------------------------------------------- */

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

static const struct kind_spec *find_spec(const char *word, int client)
{
    size_t i;

    for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (specs[i].client == client && strcmp(specs[i].name, word) == 0)
            return &specs[i];
    }
    return NULL;
}

/* Parse into ep, putting the bare reason (without the input) into *e. */
static int parse_fields(struct twc_endpoint *ep, struct fields *f, int client, twc_err *e)
{
    const struct kind_spec *spec;
    unsigned seen = 0;
    int i, first, npos = 0;
    char keys[200];

    if (f->n == 1 && f->v[0][0] == '\0')
        return twc_err_set(e, TWC_EINVAL, "empty endpoint (expected e.g. %s)",
                           client ? "tcp:HOST:PORT" : "tcp:8080");
    if (!client && all_digits(f->v[0])) {
        /* A bare number means tcp:NUMBER. */
        spec = find_spec("tcp", 0);
        first = 0;
    } else {
        spec = find_spec(f->v[0], client);
        if (spec == NULL) {
            if (!client && strcmp(f->v[0], "tls") == 0)
                return twc_err_set(e, TWC_EINVAL,
                                   "tls is a client endpoint; a TLS server is ssl:PORT:...");
            if (client && strcmp(f->v[0], "ssl") == 0)
                return twc_err_set(e, TWC_EINVAL,
                                   "ssl is a server endpoint; a TLS client is tls:HOST:PORT");
            if (client && (strcmp(f->v[0], "udp") == 0 || strcmp(f->v[0], "systemd") == 0))
                return twc_err_set(e, TWC_EINVAL,
                                   "%s is not a client endpoint (expected tcp, "
                                   "tls or unix)",
                                   f->v[0]);
            return twc_err_set(e, TWC_EINVAL, "unknown endpoint type '%s' (expected %s)", f->v[0],
                               client ? "tcp, tls or unix"
                                      : "tcp, udp, ssl, unix, systemd or a port number");
        }
        first = 1;
    }
    ep->kind = spec->kind;
    ep->client = client;
    for (i = first; i < f->n; i++) {
        char *field = f->v[i];
        size_t klen;
        int k;

        if (!is_param(field, &klen)) {
            if (npos == spec->npos) {
                if (spec->npos == 0)
                    return twc_err_set(e, TWC_EINVAL, "'%s' is not key=value (expected %s)", field,
                                       spec->usage);
                return twc_err_set(e, TWC_EINVAL, "unexpected field '%s' (expected %s)", field,
                                   spec->usage);
            }
            k = (int)spec->pos[npos++];
            if (seen & B(k))
                return twc_err_set(e, TWC_EINVAL, "%s given twice", key_names[k]);
            seen |= B(k);
            if (set_key(ep, (enum key)k, field, e) < 0)
                return TWC_EINVAL;
            continue;
        }
        for (k = 0; k < K_COUNT; k++) {
            if (strlen(key_names[k]) == klen && strncmp(field, key_names[k], klen) == 0)
                break;
        }
        if (k == K_COUNT || !(spec->keys & B(k))) {
            list_keys(spec->keys, keys, sizeof(keys));
            return twc_err_set(e, TWC_EINVAL, "unknown parameter '%.*s' (%s takes %s)", (int)klen,
                               field, spec->name, keys);
        }
        if (seen & B(k))
            return twc_err_set(e, TWC_EINVAL, "%s given twice", key_names[k]);
        seen |= B(k);
        if (set_key(ep, (enum key)k, field + klen + 1, e) < 0)
            return TWC_EINVAL;
    }
    /* What each kind cannot do without. */
    switch (ep->kind) {
    case TWC_EP_TCP:
    case TWC_EP_TLS:
        if (client && !(seen & B(K_HOST)))
            return twc_err_set(e, TWC_EINVAL, "missing host (expected %s)", spec->usage);
        if (!(seen & B(K_PORT)))
            return twc_err_set(e, TWC_EINVAL, "missing port (expected %s)", spec->usage);
        break;
    case TWC_EP_UDP:
        if (!(seen & B(K_PORT)))
            return twc_err_set(e, TWC_EINVAL, "missing port (expected %s)", spec->usage);
        break;
    case TWC_EP_SSL:
        if (!(seen & B(K_PORT)))
            return twc_err_set(e, TWC_EINVAL, "missing port (expected %s)", spec->usage);
        if ((seen & B(K_CERT_KEY)) && !(seen & B(K_PRIVATE_KEY)))
            return twc_err_set(e, TWC_EINVAL, "certKey= needs privateKey=");
        if (!(seen & (B(K_PRIVATE_KEY) | B(K_SNI_CERTS))))
            return twc_err_set(e, TWC_EINVAL, "missing privateKey= (or sniCerts=)");
        break;
    case TWC_EP_UNIX:
        if (!(seen & B(K_PATH)))
            return twc_err_set(e, TWC_EINVAL, "missing path (expected %s)", spec->usage);
        break;
    case TWC_EP_SYSTEMD:
        if (!(seen & B(K_DOMAIN)))
            return twc_err_set(e, TWC_EINVAL, "missing domain= (INET, INET6 or UNIX)");
        if (!(seen & B(K_INDEX)))
            return twc_err_set(e, TWC_EINVAL, "missing index= (the socket's position, from 0)");
        break;
    }
    return 0;
}

static int parse(struct twc_endpoint *ep, const char *s, int client, twc_err *err)
{
    struct fields f;
    twc_err e;
    int rc;

    memset(ep, 0, sizeof(*ep));
    twc_err_clear(&e);
    rc = split(s, &f, &e);
    if (rc == 0)
        rc = parse_fields(ep, &f, client, &e);
    free(f.buf);
    if (rc == 0)
        return 0;
    memset(ep, 0, sizeof(*ep));
    /* Quote at most 60 bytes of the input so the reason still fits. */
    return twc_err_set(err, e.code, "%.60s%s: %s", s, strlen(s) > 60 ? "..." : "", e.msg);
}

int twc_endpoint_parse_server(struct twc_endpoint *ep, const char *s, twc_err *err)
{
    return parse(ep, s, 0, err);
}

int twc_endpoint_parse_client(struct twc_endpoint *ep, const char *s, twc_err *err)
{
    return parse(ep, s, 1, err);
}

/* ---- Formatting ---------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, at;
};

static void put(struct out *o, const char *s, int escape)
{
    for (; *s != '\0'; s++) {
        if (escape && strchr(":\\[]", *s) != NULL && o->at + 1 < o->len)
            o->buf[o->at++] = '\\';
        if (o->at + 1 < o->len)
            o->buf[o->at++] = *s;
    }
    o->buf[o->at] = '\0';
}

/* prefix, then v in decimal. */
static void putn(struct out *o, const char *prefix, unsigned v)
{
    char tmp[16];

    snprintf(tmp, sizeof(tmp), "%u", v);
    put(o, prefix, 0);
    put(o, tmp, 0);
}

/* A host or interface: IPv6 in brackets, anything else escaped. */
static void put_host(struct out *o, const char *h)
{
    if (strchr(h, ':') != NULL) {
        put(o, "[", 0);
        put(o, h, 0);
        put(o, "]", 0);
    } else {
        put(o, h, 1);
    }
}

const char *twc_endpoint_format(const struct twc_endpoint *ep, int client, char *buf, size_t len)
{
    struct out o = {buf, len, 0};

    if (len == 0)
        return buf;
    buf[0] = '\0';
    client = client || ep->client || ep->kind == TWC_EP_TLS;
    put(&o, twc_endpoint_kind_name(ep->kind), 0);
    put(&o, ":", 0);
    switch (ep->kind) {
    case TWC_EP_UNIX:
        put(&o, ep->path, 1);
        break;
    case TWC_EP_SYSTEMD:
        put(&o,
            ep->sd_family == AF_INET6  ? "domain=INET6"
            : ep->sd_family == AF_UNIX ? "domain=UNIX"
                                       : "domain=INET",
            0);
        putn(&o, ":index=", ep->sd_index);
        break;
    default:
        if (client) {
            put_host(&o, ep->host);
            putn(&o, ":", ep->port);
        } else {
            putn(&o, "", ep->port);
            if (ep->host[0] != '\0') {
                put(&o, ":interface=", 0);
                put_host(&o, ep->host);
            }
        }
        break;
    }
    return buf;
}

/* ---- Listening ----------------------------------------------------------------- */

struct twc_endpoint_listener {
    struct twc_endpoint ep; /* with the real port */
    twc_listener *l;
    twc_tls_ctx *ctx;    /* ssl */
    twc_tls_factory *tf; /* ssl */
    const char *proto;
};

static const char *family_name(int family)
{
    return family == AF_INET6 ? "INET6" : family == AF_UNIX ? "UNIX" : "INET";
}

/* Socket activation (sd_listen_fds(3)): the service manager passes listening
 * sockets as fds 3, 4, ... and says how many in LISTEN_FDS, for the process
 * LISTEN_PID. Returns a duplicate of fd 3 + index (the inherited fd stays open,
 * so the endpoint can be listened on again, e.g. after a reload), or a negative
 * code with *err. */
static int systemd_fd(const struct twc_endpoint *ep, twc_err *err)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int fd = 3 + (int)ep->sd_index, v = 0, copy;
    socklen_t vl = sizeof(v);
    uint64_t n;

    if (pid == NULL || fds == NULL)
        return twc_err_set(err, TWC_EINVAL,
                           "systemd:index=%u: no sockets were passed (LISTEN_FDS and LISTEN_PID "
                           "are not set)",
                           ep->sd_index);
    if (twc_parse_u64(pid, strlen(pid), 1, INT32_MAX, &n) < 0 || (pid_t)n != getpid())
        return twc_err_set(err, TWC_EINVAL,
                           "systemd:index=%u: LISTEN_PID=%.20s is not this process (%ld)",
                           ep->sd_index, pid, (long)getpid());
    if (twc_parse_u64(fds, strlen(fds), 0, 65536, &n) < 0 || ep->sd_index >= n)
        return twc_err_set(err, TWC_EINVAL,
                           "systemd:index=%u: LISTEN_FDS=%.20s passes no socket at that index",
                           ep->sd_index, fds);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) < 0)
        return twc_err_sys(err, errno, "systemd:index=%u: fd %d", ep->sd_index, fd);
    if (v != SOCK_STREAM)
        return twc_err_set(err, TWC_EINVAL, "systemd:index=%u: fd %d is not a stream socket",
                           ep->sd_index, fd);
    vl = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl) < 0)
        return twc_err_sys(err, errno, "systemd:index=%u: fd %d", ep->sd_index, fd);
    if (v != ep->sd_family)
        return twc_err_set(err, TWC_EINVAL, "systemd:index=%u: fd %d is not an %s socket",
                           ep->sd_index, fd, family_name(ep->sd_family));
    vl = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0)
        return twc_err_sys(err, errno, "systemd:index=%u: fd %d", ep->sd_index, fd);
    if (!v)
        return twc_err_set(err, TWC_EINVAL, "systemd:index=%u: fd %d is not listening",
                           ep->sd_index, fd);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* as sd_listen_fds does */
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
        return twc_err_sys(err, errno, "systemd:index=%u: cannot duplicate fd %d", ep->sd_index,
                           fd);
    return copy;
}

/* The ssl: TLS context and factory wrapper around f. */
static int ssl_wrap(twc_endpoint_listener *el, twc_factory *f, const char *alpn, twc_err *err)
{
    const struct twc_endpoint *ep = &el->ep;
    struct twc_tls_server_opts so = {
        .private_key = ep->private_key[0] != '\0' ? ep->private_key : NULL,
        .cert_key = ep->cert_key[0] != '\0' ? ep->cert_key : NULL,
        .extra_cert_chain = ep->extra_cert_chain[0] != '\0' ? ep->extra_cert_chain : NULL,
        .sni_dir = ep->sni_dir[0] != '\0' ? ep->sni_dir : NULL,
        .alpn = alpn,
    };

    el->ctx = twc_tls_ctx_new_server(&so, err);
    if (el->ctx == NULL)
        return err != NULL ? err->code : TWC_ETLS_CONFIG;
    el->tf = twc_tls_factory_new(el->ctx, f, 1, NULL, err);
    if (el->tf == NULL)
        return TWC_ENOMEM;
    return 0;
}

twc_endpoint_listener *twc_endpoint_listen(twc_reactor *r, const struct twc_endpoint *ep,
                                           twc_factory *f, const struct twc_endpoint_listen_opts *o,
                                           twc_err *err)
{
    static const struct twc_endpoint_listen_opts defaults;
    twc_endpoint_listener *el;
    struct twc_tcp_listen_opts to;
    twc_addr a;
    int fd;

    if (o == NULL)
        o = &defaults;
    if (ep->client || ep->kind == TWC_EP_UDP || ep->kind == TWC_EP_TLS) {
        twc_err_set(err, TWC_EINVAL, "cannot listen on a %s%s endpoint",
                    ep->client ? "client " : "", twc_endpoint_kind_name(ep->kind));
        return NULL;
    }
    el = calloc(1, sizeof(*el));
    if (el == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory for a listener");
        return NULL;
    }
    el->ep = *ep;
    switch (ep->kind) {
    case TWC_EP_SSL: /* TLS over TCP */
    case TWC_EP_TCP:
        el->proto = "tcp";
        if (ep->kind == TWC_EP_SSL) {
            if (ssl_wrap(el, f, o->alpn, err) < 0)
                goto fail;
            f = twc_tls_factory_base(el->tf);
            el->proto = "tls";
        }
        memset(&to, 0, sizeof(to));
        to.interface = ep->host;
        to.port = ep->port;
        to.backlog = ep->backlog;
        to.reuseport = o->reuseport;
        el->l = twc_tcp_listen(r, &to, f, err);
        break;
    case TWC_EP_UNIX:
        el->l = twc_unix_listen(r, ep->path, ep->mode, f, err);
        el->proto = "unix";
        break;
    case TWC_EP_SYSTEMD:
        fd = systemd_fd(ep, err);
        if (fd < 0)
            goto fail;
        el->l = twc_listener_adopt(r, fd, f, err); /* takes fd */
        el->proto = ep->sd_family == AF_UNIX ? "unix" : "tcp";
        break;
    default:
        break;
    }
    if (el->l == NULL)
        goto fail;
    if (twc_listener_addr(el->l, &a) == 0)
        el->ep.port = twc_addr_port(&a);
    return el;
fail:
    twc_endpoint_listener_free(el);
    return NULL;
}

int twc_endpoint_listener_addr(const twc_endpoint_listener *l, twc_addr *out)
{
    return twc_listener_addr(l->l, out);
}

uint16_t twc_endpoint_listener_port(const twc_endpoint_listener *l)
{
    return l->ep.port;
}

const struct twc_endpoint *twc_endpoint_listener_endpoint(const twc_endpoint_listener *l)
{
    return &l->ep;
}

const char *twc_endpoint_listener_proto(const twc_endpoint_listener *l)
{
    return l->proto;
}

twc_listener *twc_endpoint_listener_base(twc_endpoint_listener *l)
{
    return l->l;
}

void twc_endpoint_listener_free(twc_endpoint_listener *l)
{
    if (l == NULL)
        return;
    twc_listener_free(l->l);
    twc_tls_factory_free(l->tf);
    twc_tls_ctx_free(l->ctx);
    free(l);
}

twc_udp *twc_endpoint_udp_listen(twc_reactor *r, const struct twc_endpoint *ep,
                                 twc_datagram_protocol *p, twc_err *err)
{
    if (ep->kind != TWC_EP_UDP || ep->client) {
        twc_err_set(err, TWC_EINVAL, "%s is not a udp endpoint", twc_endpoint_kind_name(ep->kind));
        return NULL;
    }
    return twc_udp_listen(r, ep->host, ep->port, p, err);
}

/* ---- Connecting ---------------------------------------------------------------- */

/*
 * One connect. Two factories stand between the transports and the user's:
 * `lower` is handed to the connector (or to connect-by-name) and `upper`, for
 * tls:, to the TLS wrapper as its user factory:
 *
 *   tcp/unix:  connector -> lower -> user
 *   tls:       connector -> lower -> TLS wrapper -> (handshake) -> upper -> user
 *
 * They see every outcome, so the deferred fires exactly once, and the op lives
 * until the last event of the attempt: a failure, or the TCP connection's
 * client_connection_lost (the TLS one comes before it). It is freed from the
 * loop, so nothing runs on freed memory when a transport still returns into us.
 */
struct conn_op {
    twc_reactor *r;
    twc_factory *user;
    twc_factory lower;
    twc_factory upper;
    twc_deferred *d;       /* producer's reference; NULL once fired or cancelled */
    twc_deferred *by_name; /* connect-by-name: our reference */
    twc_resolver *own_resolver;
    twc_connector *connector;
    twc_tls_ctx *ctx; /* ours, when the caller gave none */
    twc_tls_factory *tf;
    twc_protocol *lower_proto; /* tls: the TLS layer on the TCP connection */
    twc_protocol *proto;       /* the user's */
    int tls;
    int refused; /* the user's factory refused the connection */
    int ended;   /* the last event came; freeing is queued */
};

static void op_free(void *arg)
{
    struct conn_op *op = arg;

    twc_deferred_unref(op->by_name);
    twc_connector_free(op->connector);
    twc_tls_factory_free(op->tf);
    twc_tls_ctx_free(op->ctx);
    twc_resolver_free(op->own_resolver);
    free(op);
}

static void op_reject(struct conn_op *op, const twc_err *why)
{
    twc_deferred *d = op->d;

    if (d == NULL)
        return;
    op->d = NULL;
    twc_deferred_reject_err(d, why);
}

/* The attempt is over: fail the deferred if it has not fired, free from the loop. */
static void op_end(struct conn_op *op, const twc_err *why)
{
    twc_err e;

    if (op->ended)
        return;
    op->ended = 1;
    if (op->d != NULL) {
        if (op->refused)
            twc_err_set(&e, TWC_EPROTO, "connect: the factory refused the connection");
        else if (why != NULL && why->code != 0)
            e = *why;
        else
            twc_err_set(&e, TWC_ECLOSED, "connection closed before it was established");
        op_reject(op, &e);
    }
    /* Without memory to queue the free, leaking the op is the safe choice:
     * the transports may still return into it. */
    (void)twc_reactor_call_soon(op->r, op_free, op);
}

/* Queued from build: connection_made has run by now. */
static void op_made(void *arg)
{
    struct conn_op *op = arg;
    twc_deferred *d = op->d;

    if (d == NULL)
        return; /* cancelled in between */
    op->d = NULL;
    twc_deferred_resolve(d, op->proto, NULL);
}

/* The user's protocol for the connection (after the handshake for tls:). */
static twc_protocol *op_build_user(struct conn_op *op, const twc_addr *peer)
{
    twc_protocol *p = op->user->ops->build(op->user, peer);

    if (p == NULL) {
        op->refused = 1;
        return NULL;
    }
    op->proto = p;
    if (twc_reactor_call_soon(op->r, op_made, op) < 0) {
        /* The protocol gets its connection anyway; the caller hears the error. */
        twc_err e;

        twc_err_set(&e, TWC_ENOMEM, "out of memory");
        op_reject(op, &e);
    }
    return p;
}

static twc_protocol *on_lower_build(twc_factory *f, const twc_addr *peer)
{
    struct conn_op *op = container_of(f, struct conn_op, lower);
    twc_factory *tls_base;

    if (!op->tls)
        return op_build_user(op, peer);
    tls_base = twc_tls_factory_base(op->tf);
    op->lower_proto = tls_base->ops->build(tls_base, peer);
    return op->lower_proto;
}

static void on_lower_start(twc_factory *f)
{
    twc_factory_do_start(container_of(f, struct conn_op, lower)->user);
}

static void on_lower_stop(twc_factory *f)
{
    twc_factory_do_stop(container_of(f, struct conn_op, lower)->user);
}

/* The connector's attempt failed (never reached connection_made). */
static void on_lower_failed(twc_factory *f, const twc_err *why)
{
    op_end(container_of(f, struct conn_op, lower), why);
}

/* The TCP (or unix) connection ended: the last event of the attempt. */
static void on_lower_lost(twc_factory *f, const twc_err *why)
{
    struct conn_op *op = container_of(f, struct conn_op, lower);

    if (!op->tls && op->proto != NULL && op->user->ops->client_connection_lost != NULL)
        op->user->ops->client_connection_lost(op->user, why);
    op_end(op, why);
}

static const struct twc_factory_ops lower_ops = {
    .build = on_lower_build,
    .start = on_lower_start,
    .stop = on_lower_stop,
    .connection_failed = on_lower_failed,
    .client_connection_lost = on_lower_lost,
};

static twc_protocol *on_upper_build(twc_factory *f, const twc_addr *peer)
{
    return op_build_user(container_of(f, struct conn_op, upper), peer);
}

/* The TLS handshake failed (the TCP connection's end follows). */
static void on_upper_failed(twc_factory *f, const twc_err *why)
{
    op_reject(container_of(f, struct conn_op, upper), why);
}

static void on_upper_lost(twc_factory *f, const twc_err *why)
{
    struct conn_op *op = container_of(f, struct conn_op, upper);

    if (op->user->ops->client_connection_lost != NULL)
        op->user->ops->client_connection_lost(op->user, why);
}

static const struct twc_factory_ops upper_ops = {
    .build = on_upper_build,
    .connection_failed = on_upper_failed,
    .client_connection_lost = on_upper_lost,
};

/* Connect-by-name failed: lookup, every attempt, timeout, or cancel. */
static void on_by_name_failed(void *arg, twc_result *res)
{
    struct conn_op *op = arg;

    op_end(op, twc_result_err(res));
    twc_result_set(res, NULL, NULL); /* handled */
}

/* twc_deferred_cancel before the deferred fired: stop whatever is under way.
 * The deferred is then rejected with TWC_ECANCELED (by us or by cancel). */
static void on_cancel(void *arg, twc_deferred *d)
{
    struct conn_op *op = arg;

    (void)d;
    if (op->proto != NULL && op->proto->transport != NULL)
        twc_transport_abort(op->proto->transport); /* connected, not yet reported */
    else if (op->lower_proto != NULL && op->lower_proto->transport != NULL)
        twc_transport_abort(op->lower_proto->transport); /* mid-handshake */
    else if (op->by_name != NULL)
        twc_deferred_cancel(op->by_name); /* on_by_name_failed runs now */
    else if (op->connector != NULL)
        twc_connector_stop(op->connector); /* on_lower_failed follows */
    op->d = NULL;                          /* cancel consumes the producer's reference */
}

static twc_deferred *connect_fail(struct conn_op *op, const twc_err *err)
{
    twc_deferred *d = twc_deferred_fail_err(err);

    twc_deferred_set_reactor(d, op->r);
    op_free(op);
    return d;
}

twc_deferred *twc_endpoint_connect(twc_reactor *r, const struct twc_endpoint *ep, twc_factory *f,
                                   const struct twc_endpoint_connect_opts *o)
{
    static const struct twc_endpoint_connect_opts defaults;
    struct conn_op *op;
    twc_deferred *d;
    twc_addr to;
    twc_err err;

    if (o == NULL)
        o = &defaults;
    twc_err_clear(&err);
    op = calloc(1, sizeof(*op));
    if (op == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a connect");
    op->r = r;
    op->user = f;
    op->lower.ops = &lower_ops;
    op->upper.ops = &upper_ops;
    if (!ep->client ||
        (ep->kind != TWC_EP_TCP && ep->kind != TWC_EP_TLS && ep->kind != TWC_EP_UNIX)) {
        twc_err_set(&err, TWC_EINVAL, "cannot connect to a %s%s endpoint",
                    ep->client ? "" : "server ", twc_endpoint_kind_name(ep->kind));
        return connect_fail(op, &err);
    }
    if (ep->kind == TWC_EP_TLS) {
        struct twc_tls_client_opts co = {
            .ca_certs = ep->ca_certs[0] != '\0' ? ep->ca_certs : NULL,
            .alpn = o->alpn,
            .insecure = o->insecure,
        };

        op->tls = 1;
        /* The wrapper takes its own reference to the context. */
        if (o->tls_ctx == NULL) {
            op->ctx = twc_tls_ctx_new_client(&co, &err);
            if (op->ctx == NULL)
                return connect_fail(op, &err);
        }
        op->tf = twc_tls_factory_new(o->tls_ctx != NULL ? o->tls_ctx : op->ctx, &op->upper, 0,
                                     o->server_name != NULL ? o->server_name : ep->host, &err);
        if (op->tf == NULL)
            return connect_fail(op, &err);
    }
    if (ep->kind == TWC_EP_UNIX) {
        if (twc_addr_from_path(&to, ep->path, &err) < 0)
            return connect_fail(op, &err);
    } else if (twc_addr_from_ip(&to, ep->host, ep->port, NULL) < 0) {
        /* A host name: c-ares and Happy Eyeballs (lib/connect.h). */
        twc_resolver *res = o->resolver;

        if (res == NULL) {
            struct twc_resolver_opts ro = {.resolv_conf = o->resolv_conf};

            res = op->own_resolver = twc_resolver_new(r, &ro, &err);
            if (res == NULL)
                return connect_fail(op, &err);
        }
        d = twc_deferred_new(on_cancel, op);
        twc_deferred_set_reactor(d, r);
        op->d = d;
        op->by_name = twc_connect_host(r, res, ep->host, ep->port, ep->timeout_ms, &op->lower);
        twc_deferred_add_errback(op->by_name, on_by_name_failed, op);
        return d;
    }
    op->connector = twc_connector_new(r, &to, ep->timeout_ms, &op->lower, &err);
    if (op->connector == NULL)
        return connect_fail(op, &err);
    d = twc_deferred_new(on_cancel, op);
    twc_deferred_set_reactor(d, r);
    op->d = d;
    return d;
}
