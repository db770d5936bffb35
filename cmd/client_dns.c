/*
 * twc client dns: a dig-like DNS lookup.
 *
 *   twc client dns [@SERVER[:PORT]] {NAME [TYPE] | -x ADDR} [+tcp] [+short] [+time=S]
 *                  [+tries=N] [--json]
 *
 * One query through the forwarder (proto/dns/forward.h) to one server: our
 * codec, a random ID and source port, TCP when the UDP answer is truncated
 * (as dig does), or TCP from the start with +tcp. Without @SERVER the first
 * nameserver of $TWC_RESOLV_CONF, else /etc/resolv.conf, is asked.
 *
 * Output follows dig: the header (opcode, status, id, flags, counts), the
 * OPT pseudosection, the sections with records in zone-file form, the query
 * time and the server. +short prints the answer's rdata alone; --json one
 * object. Exit 0 when a reply came (whatever its rcode), 9 when none did
 * (dig's code), 64 for usage errors.
 *
 * TYPE AXFR is a zone transfer instead (RFC 5936): cmd/client_axfr.c.
 * -x ADDR asks PTR for the reverse name of ADDR (RFC 1035 §3.5, RFC 3596
 * §2.5), as dig -x.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cmd/client.h"
#include "cmd/client_dns.h"
#include "cmd/common.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/deferred.h"
#include "lib/limits.h"
#include "lib/resolvconf.h"
#include "proto/dns/dns.h"
#include "proto/dns/forward.h"
#include "proto/dns/hosts.h"

#define DEFAULT_TIMEOUT_S 5 /* dig +time */
#define DEFAULT_TRIES     3 /* dig +tries */

/* Registered in cmd/client.c's subcommand table. */
extern const struct twc_optset twc_client_dns_set;
int twc_client_dns(int argc, char **argv);

static const struct twc_option dns_opts[] = {
    {"json", 0, TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0, "print the reply as one JSON object"},
    {"reverse", 'x', TWC_OPT_STRING, 0, "ADDR", NULL, NULL, 0, 0,
     "reverse lookup: ask the PTR record of an IPv4 or IPv6 address, as dig -x"},
};

const struct twc_optset twc_client_dns_set = {
    "client dns",
    "[@SERVER[:PORT]] {NAME [TYPE] | -x ADDR} [+tcp] [+short] [+time=S] [+tries=N] [--json]",
    "look NAME up (type A by default) and print the reply as dig does",
    dns_opts,
    sizeof(dns_opts) / sizeof(dns_opts[0]),
    0,
    NULL,
    "Without @SERVER the first nameserver of $TWC_RESOLV_CONF, else\n"
    "/etc/resolv.conf, is asked. A truncated UDP reply is asked again over TCP.\n"
    "+time=S waits S seconds per try (default 5), +tries=N tries N times (3).\n"
    "TYPE AXFR transfers the zone NAME over TCP and prints every record, the\n"
    "SOA first and last; a refused transfer prints \"; Transfer failed.\".\n"
    "-x ADDR asks the PTR record of ADDR's in-addr.arpa or ip6.arpa name.\n"
    "Exits 0 when a reply came, whatever its status; 9 when none did.",
};

double twc__dig_elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static const char *class_name(uint16_t c, char *buf, size_t len)
{
    if (c == TWC_DNS_CLASS_IN)
        return "IN";
    if (c == TWC_DNS_CLASS_CH)
        return "CH";
    if (c == TWC_DNS_CLASS_ANY)
        return "ANY";
    snprintf(buf, len, "CLASS%u", (unsigned)c);
    return buf;
}

static const char *opcode_name(unsigned op)
{
    static const char *const names[] = {"QUERY",     "IQUERY", "STATUS",
                                        "RESERVED3", "NOTIFY", "UPDATE"};

    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "RESERVED";
}

/* "qr aa rd ra", in dig's order. */
static void flags_text(uint16_t flags, char *buf, size_t len)
{
    static const struct {
        uint16_t bit;
        const char *name;
    } bits[] = {{TWC_DNS_F_QR, "qr"}, {TWC_DNS_F_AA, "aa"}, {TWC_DNS_F_TC, "tc"},
                {TWC_DNS_F_RD, "rd"}, {TWC_DNS_F_RA, "ra"}, {TWC_DNS_F_AD, "ad"},
                {TWC_DNS_F_CD, "cd"}};
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if ((flags & bits[i].bit) && off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off > 0 ? " " : "", bits[i].name);
}

/* One record's fields as text. rdata that does not format (malformed) is shown
 * in the RFC 3597 generic form. */
struct rr_text {
    char name[TWC_DNS_NAME_TEXT_MAX];
    char type[16];
    char cls[16];
    char *data; /* owned */
};

static int rr_format(const twc_dns_rr *rr, struct rr_text *t)
{
    size_t cap = (size_t)rr->rdlen * 4 + 64;

    if (twc_dns_name_format(&rr->name, t->name, sizeof(t->name)) < 0)
        snprintf(t->name, sizeof(t->name), "?");
    twc_dns_type_name(rr->type, t->type, sizeof(t->type));
    {
        char tmp[16];

        snprintf(t->cls, sizeof(t->cls), "%s", class_name(rr->rclass, tmp, sizeof(tmp)));
    }
    t->data = malloc(cap);
    if (t->data == NULL)
        return TWC_ENOMEM;
    if (twc_dns_rdata_format(rr->type, rr->rdata, rr->rdlen, t->data, cap) < 0) {
        size_t off = (size_t)snprintf(t->data, cap, "\\# %u", (unsigned)rr->rdlen);

        if (rr->rdlen > 0)
            off += (size_t)snprintf(t->data + off, cap - off, " ");
        for (size_t i = 0; i < rr->rdlen && off + 3 <= cap; i++)
            off += (size_t)snprintf(t->data + off, cap - off, "%02x", rr->rdata[i]);
    }
    return 0;
}

/* One record in zone-file form, as dig prints it. */
void twc__dig_print_rr(const twc_dns_rr *rr)
{
    struct rr_text t;

    if (rr_format(rr, &t) < 0)
        return;
    printf("%s\t%u\t%s\t%s\t%s\n", t.name, (unsigned)rr->ttl, t.cls, t.type, t.data);
    free(t.data);
}

/* Its rdata alone (+short). */
void twc__dig_print_rdata(const twc_dns_rr *rr)
{
    struct rr_text t;

    if (rr_format(rr, &t) < 0)
        return;
    printf("%s\n", t.data);
    free(t.data);
}

static void print_section(const twc_dns_msg *m, enum twc_dns_section s, const char *title)
{
    size_t n;
    const twc_dns_rr *rr = twc_dns_msg_section(m, s, &n);

    if (n == 0)
        return;
    printf(";; %s SECTION:\n", title);
    for (size_t i = 0; i < n; i++)
        twc__dig_print_rr(&rr[i]);
    printf("\n");
}

/* dig's first line: what was asked, and of whom. */
void twc__dig_print_banner(const struct lookup *l)
{
    char type[16];

    printf("\n; <<>> twc client dns <<>> %s%s %s %s\n", l->server_arg != NULL ? "@" : "",
           l->server_arg != NULL ? l->server_arg : "", l->name_arg,
           twc_dns_type_name(l->q.qtype, type, sizeof(type)));
}

/* dig's closing lines after the sections: time, server, date. */
void twc__dig_print_trailer(const twc_addr *server, int tcp, double ms)
{
    char host[TWC_ADDR_STRLEN], when[64];
    time_t now = time(NULL);
    struct tm tm;

    twc_addr_host(server, host, sizeof(host));
    printf(";; Query time: %.0f msec\n", ms);
    printf(";; SERVER: %s#%u(%s) (%s)\n", host, (unsigned)twc_addr_port(server), host,
           tcp ? "TCP" : "UDP");
    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Z %Y", &tm);
    printf(";; WHEN: %s\n", when);
}

static void print_dig(const struct lookup *l, const twc_dns_msg *m, const twc_dns_forward_reply *rp,
                      double ms)
{
    char flags[64], name[TWC_DNS_NAME_TEXT_MAX], type[16], cls[16];
    unsigned rcode = twc_dns_msg_rcode(m);

    flags_text(m->flags, flags, sizeof(flags));
    twc__dig_print_banner(l);
    printf(";; Got answer:\n");
    printf(";; ->>HEADER<<- opcode: %s, status: %s, id: %u\n",
           opcode_name(TWC_DNS_OPCODE(m->flags)), twc_dns_rcode_name(rcode), (unsigned)m->id);
    printf(";; flags: %s; QUERY: %u, ANSWER: %u, AUTHORITY: %u, ADDITIONAL: %u\n\n", flags,
           (unsigned)m->count[TWC_DNS_QD], (unsigned)m->count[TWC_DNS_AN],
           (unsigned)m->count[TWC_DNS_NS_SECT],
           (unsigned)m->count[TWC_DNS_AR] + (m->edns.present ? 1u : 0u));
    if (m->edns.present) {
        printf(";; OPT PSEUDOSECTION:\n");
        printf("; EDNS: version: %u, flags:%s; udp: %u\n", (unsigned)m->edns.version,
               (m->edns.flags & 0x8000) ? " do" : "", (unsigned)m->edns.udp_size);
    }
    printf(";; QUESTION SECTION:\n");
    for (size_t i = 0; i < m->count[TWC_DNS_QD]; i++) {
        if (twc_dns_name_format(&m->qd[i].name, name, sizeof(name)) < 0)
            snprintf(name, sizeof(name), "?");
        printf(";%s\t\t%s\t%s\n", name, class_name(m->qd[i].qclass, cls, sizeof(cls)),
               twc_dns_type_name(m->qd[i].qtype, type, sizeof(type)));
    }
    printf("\n");
    print_section(m, TWC_DNS_AN, "ANSWER");
    print_section(m, TWC_DNS_NS_SECT, "AUTHORITY");
    print_section(m, TWC_DNS_AR, "ADDITIONAL");
    twc__dig_print_trailer(&rp->server, rp->tcp, ms);
    printf(";; MSG SIZE  rcvd: %zu\n\n", rp->len);
}

static void print_short(const twc_dns_msg *m)
{
    size_t n;
    const twc_dns_rr *rr = twc_dns_msg_section(m, TWC_DNS_AN, &n);

    for (size_t i = 0; i < n; i++)
        twc__dig_print_rdata(&rr[i]);
}

/* Append rr to the JSON array a as {"name","ttl","class","type","data"}. */
void twc__dig_json_add_rr(cJSON *a, const twc_dns_rr *rr)
{
    struct rr_text t;
    cJSON *o;

    if (a == NULL || rr_format(rr, &t) < 0)
        return;
    o = cJSON_CreateObject();
    if (o != NULL) {
        cJSON_AddStringToObject(o, "name", t.name);
        cJSON_AddNumberToObject(o, "ttl", rr->ttl);
        cJSON_AddStringToObject(o, "class", t.cls);
        cJSON_AddStringToObject(o, "type", t.type);
        cJSON_AddStringToObject(o, "data", t.data);
        cJSON_AddItemToArray(a, o);
    }
    free(t.data);
}

static cJSON *json_section(const twc_dns_msg *m, enum twc_dns_section s)
{
    size_t n;
    const twc_dns_rr *rr = twc_dns_msg_section(m, s, &n);
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a != NULL && i < n; i++)
        twc__dig_json_add_rr(a, &rr[i]);
    return a;
}

/* Print o on one line and free it. */
int twc__dig_json_print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);

    cJSON_Delete(o);
    if (s == NULL)
        return TWC_ENOMEM;
    printf("%s\n", s);
    cJSON_free(s);
    return 0;
}

static int print_json(const twc_dns_msg *m, const twc_dns_forward_reply *rp, double ms)
{
    cJSON *o = cJSON_CreateObject(), *flags, *qs;
    char buf[64], name[TWC_DNS_NAME_TEXT_MAX], host[TWC_ADDR_STRLEN];
    unsigned rcode = twc_dns_msg_rcode(m);

    if (o == NULL)
        return TWC_ENOMEM;
    cJSON_AddNumberToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "opcode", opcode_name(TWC_DNS_OPCODE(m->flags)));
    cJSON_AddStringToObject(o, "status", twc_dns_rcode_name(rcode));
    cJSON_AddNumberToObject(o, "rcode", rcode);
    flags = cJSON_AddArrayToObject(o, "flags");
    flags_text(m->flags, buf, sizeof(buf));
    for (char *p = buf; flags != NULL && *p != '\0';) {
        char *sp = strchr(p, ' ');

        if (sp != NULL)
            *sp = '\0';
        cJSON_AddItemToArray(flags, cJSON_CreateString(p));
        p = sp != NULL ? sp + 1 : p + strlen(p);
    }
    qs = cJSON_AddArrayToObject(o, "question");
    for (size_t i = 0; qs != NULL && i < m->count[TWC_DNS_QD]; i++) {
        cJSON *q = cJSON_CreateObject();

        if (q == NULL)
            break;
        if (twc_dns_name_format(&m->qd[i].name, name, sizeof(name)) < 0)
            snprintf(name, sizeof(name), "?");
        cJSON_AddStringToObject(q, "name", name);
        cJSON_AddStringToObject(q, "type", twc_dns_type_name(m->qd[i].qtype, buf, sizeof(buf)));
        cJSON_AddStringToObject(q, "class", class_name(m->qd[i].qclass, buf, sizeof(buf)));
        cJSON_AddItemToArray(qs, q);
    }
    cJSON_AddItemToObject(o, "answer", json_section(m, TWC_DNS_AN));
    cJSON_AddItemToObject(o, "authority", json_section(m, TWC_DNS_NS_SECT));
    cJSON_AddItemToObject(o, "additional", json_section(m, TWC_DNS_AR));
    if (m->edns.present) {
        cJSON *e = cJSON_AddObjectToObject(o, "edns");

        if (e != NULL) {
            cJSON_AddNumberToObject(e, "version", m->edns.version);
            cJSON_AddNumberToObject(e, "udp", m->edns.udp_size);
            cJSON_AddBoolToObject(e, "do", (m->edns.flags & 0x8000) != 0);
        }
    }
    twc_addr_host(&rp->server, host, sizeof(host));
    cJSON_AddStringToObject(o, "server", host);
    cJSON_AddNumberToObject(o, "port", twc_addr_port(&rp->server));
    cJSON_AddStringToObject(o, "protocol", rp->tcp ? "tcp" : "udp");
    cJSON_AddNumberToObject(o, "query_time_ms", ms);
    cJSON_AddNumberToObject(o, "size", (double)rp->len);
    return twc__dig_json_print(o);
}

/* ---- Arguments ---------------------------------------------------------------- */

/* "@1.2.3.4", "@1.2.3.4:53", "@::1", "@[::1]:53", "@name", "@name:53". */
static int parse_server(const char *s, twc_addr *out, twc_err *err)
{
    const char *colon = strrchr(s, ':');
    char host[256];
    uint64_t port = 53;
    size_t hlen = strlen(s);

    if (twc_addr_from_ip(out, s, 53, NULL) == 0)
        return 0; /* a bare IPv4 or IPv6 address */
    if (twc_addr_parse_hostport(out, s, NULL) == 0 && twc_addr_port(out) != 0)
        return 0;
    if (colon != NULL && strchr(s, ':') == colon) { /* name:port */
        if (twc_parse_u64(colon + 1, strlen(colon + 1), 1, 65535, &port) < 0)
            return twc_err_set(err, TWC_EINVAL, "'@%s': '%s' is not a port number (1-65535)", s,
                               colon + 1);
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return twc_err_set(err, TWC_EINVAL, "'@%s' is not a server", s);
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    return twc_client_resolve(host, (uint16_t)port, SOCK_DGRAM, out, err);
}

/* NAME [TYPE], or with -x ADDR just [TYPE]: the reverse name (RFC 1035 §3.5,
 * RFC 3596 §2.5) asked for PTR, as dig -x. */
static int parse_question(struct lookup *l, const char *const *pos, int npos, twc_err *err)
{
    const char *addr = twc_opts_str(&l->app.opts, "reverse");
    int reverse = twc_opts_given(&l->app.opts, "reverse");

    l->q.qtype = reverse ? TWC_DNS_PTR : TWC_DNS_A;
    l->q.qclass = TWC_DNS_CLASS_IN;
    if (reverse) {
        if (npos > 1)
            return twc_err_set(err, TWC_EINVAL, "unexpected argument '%s' after -x", pos[1]);
        l->type_arg = npos > 0 ? pos[0] : NULL;
        if (twc_dns_reverse_name_text(&l->q.name, addr, strlen(addr)) < 0)
            return twc_err_set(err, TWC_EINVAL, "-x: '%s' is not an IPv4 or IPv6 address", addr);
        twc_dns_name_format(&l->q.name, l->reverse_name, sizeof(l->reverse_name));
        l->name_arg = l->reverse_name;
    } else {
        if (npos == 0)
            return twc_err_set(err, TWC_EINVAL, "expected a NAME");
        l->name_arg = pos[0];
        l->type_arg = npos > 1 ? pos[1] : NULL;
        /* Every name is absolute here: dig does not apply search lists either. */
        if (twc_dns_name_parse(&l->q.name, l->name_arg, strlen(l->name_arg), NULL, err) < 0)
            return TWC_EINVAL;
    }
    if (l->type_arg != NULL &&
        twc_dns_type_parse(l->type_arg, strlen(l->type_arg), &l->q.qtype) < 0)
        return twc_err_set(err, TWC_EINVAL, "'%s' is not a record type", l->type_arg);
    /* AXFR has its own exchange over TCP (RFC 5936 §4.2); IXFR is not done. */
    l->axfr = l->q.qtype == TWC_DNS_AXFR;
    if (l->q.qtype == TWC_DNS_IXFR || l->q.qtype == TWC_DNS_OPT)
        return twc_err_set(err, TWC_EINVAL, "type %s cannot be asked with a plain query",
                           l->type_arg);
    return 0;
}

static int parse_args(struct lookup *l, twc_err *err)
{
    const char *pos[2];
    int npos = 0;
    uint64_t v;

    for (int i = 0; i < l->app.args.n; i++) {
        const char *a = l->app.args.v[i];

        if (a[0] == '@') {
            l->server_arg = a + 1;
        } else if (strcmp(a, "+tcp") == 0 || strcmp(a, "+vc") == 0) {
            l->tcp = 1;
        } else if (strcmp(a, "+notcp") == 0) {
            l->tcp = 0;
        } else if (strcmp(a, "+short") == 0) {
            l->short_form = 1;
        } else if (strcmp(a, "+noshort") == 0) {
            l->short_form = 0;
        } else if (strncmp(a, "+time=", 6) == 0) {
            if (twc_parse_u64(a + 6, strlen(a + 6), 1, 300, &v) < 0)
                return twc_err_set(err, TWC_EINVAL, "'%s': seconds must be 1-300", a);
            l->timeout_ms = (unsigned)v * 1000u;
        } else if (strncmp(a, "+tries=", 7) == 0) {
            if (twc_parse_u64(a + 7, strlen(a + 7), 1, 10, &v) < 0)
                return twc_err_set(err, TWC_EINVAL, "'%s': tries must be 1-10", a);
            l->tries = (unsigned)v;
        } else if (a[0] == '+') {
            return twc_err_set(err, TWC_EINVAL, "unknown query option '%s'", a);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return twc_err_set(err, TWC_EINVAL, "unexpected argument '%s'", a);
        }
    }
    return parse_question(l, pos, npos, err);
}

/* The server: @SERVER, else the first nameserver of the resolv.conf in use. */
static int pick_server(struct lookup *l, twc_err *err)
{
    struct twc_resolv_conf rc;
    const char *path = getenv("TWC_RESOLV_CONF");
    int code;

    if (l->server_arg != NULL)
        return parse_server(l->server_arg, &l->server, err);
    if (path == NULL || path[0] == '\0')
        path = "/etc/resolv.conf";
    twc_resolv_conf_init(&rc);
    code = twc_resolv_conf_load(&rc, path, err);
    if (code < 0)
        return code;
    if (rc.nservers == 0)
        return twc_err_set(err, TWC_EINVAL, "%s: no nameserver", path);
    l->server = rc.servers[0];
    return 0;
}

/* ---- The query ------------------------------------------------------------------ */

struct outcome {
    int fired;
    twc_dns_forward_reply *reply;
    twc_err err;
};

static void on_reply(void *arg, twc_result *r)
{
    struct outcome *o = arg;

    o->fired = 1;
    if (twc_result_ok(r)) {
        o->reply = twc_result_take(r);
    } else {
        o->err = *twc_result_err(r);
        twc_result_set(r, NULL, NULL); /* handled */
    }
}

/* One query through the forwarder; returns the exit code. */
static int run_query(struct lookup *l)
{
    struct twc_resolv_conf rc;
    struct twc_dns_forward_opts fo;
    struct outcome o;
    struct timespec t0, t1;
    twc_dns_forwarder *f;
    twc_deferred *d;
    twc_dns_msg m;
    twc_err err;
    char where[TWC_ADDR_STRLEN];
    int rc_code = -1;

    memset(&o, 0, sizeof(o));
    twc_resolv_conf_init(&rc);
    rc.servers[0] = l->server;
    rc.nservers = 1;
    memset(&fo, 0, sizeof(fo));
    fo.timeout_ms = l->timeout_ms;
    fo.attempts = l->tries;
    fo.tcp = l->tcp;
    f = twc_dns_forwarder_new(l->app.reactor, &rc, &fo, &err);
    if (f == NULL)
        return twc_fail_err(l->app.name, &err, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* RD, as dig; EDNS with our payload size, as dig (which says 1232 too). */
    d = twc_dns_forward_query(f, &l->q, TWC_DNS_F_RD, 1, 0);
    twc_deferred_add_both(d, on_reply, &o);
    twc_deferred_unref(d);
    while (!o.fired && twc_reactor_run_once(l->app.reactor, -1) > 0)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    twc_addr_format(&l->server, where, sizeof(where));
    if (o.reply == NULL) {
        /* dig: ";; connection timed out; no servers could be reached", exit 9. */
        rc_code = twc_fail(l->app.name, EXIT_NO_REPLY, "no reply from %s: %s", where,
                           o.fired ? o.err.msg : "nothing to wait for");
        goto out;
    }
    if (twc_dns_msg_parse(&m, o.reply->data, o.reply->len, &err) < 0) {
        rc_code =
            twc_fail(l->app.name, EXIT_NO_REPLY, "malformed reply from %s: %s", where, err.msg);
        goto out;
    }
    if (l->json)
        rc_code = print_json(&m, o.reply, twc__dig_elapsed_ms(&t0, &t1)) < 0 ? TWC_EXIT_SOFTWARE : -1;
    else if (l->short_form)
        print_short(&m);
    else
        print_dig(l, &m, o.reply, twc__dig_elapsed_ms(&t0, &t1));
    twc_dns_msg_cleanup(&m);
out:
    twc_dns_forward_reply_free(o.reply);
    twc_dns_forwarder_free(f);
    return rc_code;
}

int twc_client_dns(int argc, char **argv)
{
    struct lookup l;
    twc_err err;
    int rc_code;

    memset(&l, 0, sizeof(l));
    l.app.log_system = "client";
    l.timeout_ms = DEFAULT_TIMEOUT_S * 1000u;
    l.tries = DEFAULT_TRIES;
    rc_code = twc_app_parse(&l.app, &twc_client_dns_set, argc, argv);
    if (rc_code >= 0)
        goto out;
    l.json = twc_opts_given(&l.app.opts, "json");
    twc_err_clear(&err);
    if (parse_args(&l, &err) < 0) {
        rc_code = twc_fail(l.app.name, TWC_EXIT_USAGE, "%s (see twc client dns --help)", err.msg);
        goto out;
    }
    if (pick_server(&l, &err) < 0) {
        /* A bad @SERVER is a usage error; an unusable resolv.conf is a failure
         * (66 when missing or unreadable, as for any input file). */
        if (l.server_arg != NULL)
            rc_code = twc_fail(l.app.name, TWC_EXIT_USAGE, "%s", err.msg);
        else if (err.code == TWC_EINVAL)
            rc_code = twc_fail(l.app.name, TWC_EXIT_FAILURE, "%s", err.msg);
        else
            rc_code = twc_fail_err(l.app.name, &err, 1);
        goto out;
    }
    rc_code = twc_app_start(&l.app);
    if (rc_code >= 0)
        goto out;
    rc_code = l.axfr ? twc__client_dns_axfr(&l) : run_query(&l);
    if (fflush(stdout) != 0)
        rc_code = TWC_EXIT_FAILURE;
    else if (rc_code < 0)
        rc_code = TWC_EXIT_OK;
out:
    twc_app_cleanup(&l.app);
    return rc_code;
}
