/*
 * twc dns: an authoritative DNS server (twistd dns / twisted.names in C).
 *
 * Data comes from a hosts file, BIND zone files and --record lines, loaded
 * into one authority (proto/dns/authority.h) served over UDP and TCP on the
 * same port (proto/dns/server.h). SIGHUP loads every file again into a new
 * authority and swaps it in only when the whole load succeeded; a failure is
 * logged with its file and line and the old data stays (shared/CLI.md).
 *
 * Like every server command this file is a builder (cmd/server.h): it adds a
 * "dns" service to a parent, so `twc serve` can run it beside others. The
 * standalone `twc dns` first loads the data once to report a bad file with the
 * exit codes of shared/CLI.md (65 malformed, 66 missing), which the generic
 * runtime cannot tell apart from usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/server.h"
#include "cmd/servers.h"
#include "lib/addr.h"
#include "lib/deferred.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/protocol.h"
#include "lib/resolvconf.h"
#include "lib/service.h"
#include "proto/dns/authority.h"
#include "proto/dns/cache.h"
#include "proto/dns/forward.h"
#include "proto/dns/hosts.h"
#include "proto/dns/secondary.h"
#include "proto/dns/server.h"
#include "proto/dns/zone.h"

#define SYSTEM          "dns"
#define DEFAULT_PORT    "53"
/* With -p 0 the kernel picks a free UDP port that TCP may still hold: retry. */
#define PICK_PORT_TRIES 20

static const struct twc_option dns_opts[] = {
    {"port", 'p', TWC_OPT_PORT, 0, NULL, DEFAULT_PORT, NULL, 0, 0,
     "UDP and TCP port (0: pick a free one, the same for both)"},
    {"interface", 'i', TWC_OPT_STRING, 0, "ADDR", NULL, NULL, 0, 0,
     "listen on this numeric address only (default: all)"},
    {"hosts-file", 0, TWC_OPT_PATH, 0, "FILE", NULL, NULL, 0, 0,
     "serve A, AAAA and PTR records from a hosts(5) file"},
    {"bindzone", 0, TWC_OPT_PATH, TWC_OPT_REPEAT, "FILE", NULL, NULL, 0, 0,
     "serve a zone from a BIND master file"},
    {"record", 0, TWC_OPT_STRING, TWC_OPT_REPEAT, "\"NAME [TTL] TYPE DATA\"", NULL, NULL, 0, 0,
     "serve one record given as a zone-file line (absolute name)"},
    {"cache", 'c', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "cache forwarded answers for their TTL"},
    {"recursive", 'r', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "forward other names to the nameservers of --resolv-conf"},
    {"resolv-conf", 0, TWC_OPT_PATH, 0, "FILE", "/etc/resolv.conf", NULL, 0, 0,
     "nameservers for -r (resolv.conf syntax; `nameserver IP:PORT` allowed)"},
    {"secondary", 0, TWC_OPT_STRING, TWC_OPT_REPEAT, "IP[:PORT]/DOMAIN", NULL, NULL, 0, 0,
     "serve DOMAIN as a secondary, transferred (AXFR) from the primary at IP"},
    {"verbose", 'v', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0, "log every query"},
};

const struct twc_optset twc_optset_dns = {
    "dns",
    "[-p PORT] [-i ADDR] [--hosts-file FILE] [--bindzone FILE]... [--record LINE]... [-c] [-r] "
    "[--resolv-conf FILE] [--secondary IP/DOMAIN]... [-v]",
    "DNS server: hosts file, zone files, records, AXFR",
    dns_opts,
    sizeof(dns_opts) / sizeof(dns_opts[0]),
    0,
    NULL,
    "Answers over UDP and TCP on one port (default 53). Names outside the served\n"
    "data get NXDOMAIN when a hosts file or --record is served, else REFUSED.\n"
    "SIGHUP reloads the files (the old data stays if the new data is bad).",
};

/* What the files and --record lines hold, parsed and checked. */
struct dns_data {
    twc_dns_zone **zones;    /* --bindzone, in order */
    const char **zone_paths; /* borrowed from the options, for messages */
    size_t nzones;
    twc_dns_zone *table; /* hosts file and --record entries, or NULL */
    int nxdomain;        /* a hosts file or --record given (shared/CLI.md) */
};

struct dns_service {
    twc_service base; /* first: the service tree hands us &base */
    struct twc_server *srv;
    const struct twc_opts *opts;
    twc_dns_server *dns;
    twc_dns_forwarder *fwd;   /* -r */
    twc_dns_cache *cache;     /* -c */
    twc_dns_secondary **secs; /* --secondary */
    size_t nsecs;
    struct dns_data data;   /* kept only with secondaries: rebuilt on their changes */
    twc_deferred *stopping; /* the stop deferred while draining */
};

/* ---- Loading data ------------------------------------------------------------ */

/* Put "what: " in front of err->msg (truncated to fit). */
static void prefix_msg(twc_err *err, const char *what)
{
    char msg[sizeof(err->msg)];
    size_t n = strlen(what), m = strlen(err->msg);

    if (n + 2 >= sizeof(msg))
        return;
    memcpy(msg, what, n);
    memcpy(msg + n, ": ", 2);
    if (m > sizeof(msg) - n - 3)
        m = sizeof(msg) - n - 3;
    memcpy(msg + n + 2, err->msg, m);
    msg[n + 2 + m] = '\0';
    memcpy(err->msg, msg, sizeof(msg));
}

static void data_cleanup(struct dns_data *dd)
{
    size_t i;

    for (i = 0; i < dd->nzones; i++)
        twc_dns_zone_free(dd->zones[i]);
    free(dd->zones);
    free(dd->zone_paths);
    twc_dns_zone_free(dd->table);
    memset(dd, 0, sizeof(*dd));
}

/* Read every file and --record line of o into dd (zeroed by the caller).
 * Returns 0, or a negative code with *err: -errno when a file could not be
 * read, TWC_EINVAL / TWC_ETOOBIG for bad data ("FILE:LINE: what is wrong"),
 * TWC_ENOMEM; dd is then cleaned up. *bad_option is set when a --record value
 * was the culprit (a usage error, not a bad file). */
static int load_data(const struct twc_opts *o, struct dns_data *dd, int *bad_option, twc_err *err)
{
    const struct twc_optval *zones = twc_opts_get(o, "bindzone");
    const struct twc_optval *recs = twc_opts_get(o, "record");
    const char *hosts = twc_opts_str(o, "hosts-file");
    twc_dns_zone *z;
    size_t i;
    int rc;

    *bad_option = 0;
    if (zones->nlist > 0) {
        dd->zones = calloc(zones->nlist, sizeof(*dd->zones));
        dd->zone_paths = calloc(zones->nlist, sizeof(*dd->zone_paths));
        if (dd->zones == NULL || dd->zone_paths == NULL)
            goto nomem;
    }
    for (i = 0; i < zones->nlist; i++) {
        z = twc_dns_zone_new(NULL);
        if (z == NULL)
            goto nomem;
        dd->zones[dd->nzones] = z;
        dd->zone_paths[dd->nzones++] = zones->list[i];
        rc = twc_dns_zone_load(z, zones->list[i], err);
        if (rc < 0)
            goto fail;
    }
    if (hosts != NULL || recs->nlist > 0) {
        dd->nxdomain = 1;
        dd->table = twc_dns_zone_new(NULL);
        if (dd->table == NULL)
            goto nomem;
    }
    if (hosts != NULL) {
        rc = twc_dns_hosts_load(dd->table, hosts, TWC_DNS_HOSTS_TTL, err);
        if (rc < 0)
            goto fail;
    }
    for (i = 0; i < recs->nlist; i++) {
        rc = twc_dns_zone_parse_record(dd->table, recs->list[i], strlen(recs->list[i]), err);
        if (rc < 0) {
            *bad_option = 1;
            goto fail;
        }
    }
    return 0;
nomem:
    rc = twc_err_set(err, TWC_ENOMEM, "out of memory");
fail:
    data_cleanup(dd);
    return rc;
}

/* A copy of z's records (the copy's origin is its SOA owner, which
 * twc_dns_zone_check made equal to z's). Returns owned, or NULL. */
static twc_dns_zone *copy_zone(const twc_dns_zone *z, twc_err *err)
{
    twc_dns_zone *c = twc_dns_zone_new(NULL);
    twc_dns_rr rr;
    size_t i, n = twc_dns_zone_count(z);

    if (c == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    for (i = 0; i < n; i++) {
        twc_dns_zone_get(z, i, &rr);
        if (twc_dns_zone_add(c, &rr, err) < 0) {
            twc_dns_zone_free(c);
            return NULL;
        }
    }
    return c;
}

/* A finished authority from dd and the copies the secondaries hold. take:
 * move dd's zones into it (dd is emptied) instead of copying them, when dd is
 * not needed again. Returns 0 with *out, or a negative code with *err. */
static int build_authority(struct dns_data *dd, int take, twc_dns_secondary **secs, size_t nsecs,
                           twc_dns_auth **out, twc_err *err)
{
    twc_dns_auth *a = twc_dns_auth_new();
    twc_dns_zone *z;
    size_t i;
    int rc;

    if (a == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    for (i = 0; i < dd->nzones; i++) {
        z = take ? dd->zones[i] : copy_zone(dd->zones[i], err);
        if (take)
            dd->zones[i] = NULL;
        if (z == NULL)
            goto fail;
        rc = twc_dns_auth_add_zone(a, z, err); /* takes z */
        if (rc < 0) {
            /* Two files for one origin: say which file came second. */
            prefix_msg(err, dd->zone_paths[i]);
            goto fail;
        }
    }
    if (dd->table != NULL) {
        z = take ? dd->table : copy_zone(dd->table, err);
        if (take)
            dd->table = NULL;
        if (z == NULL || twc_dns_auth_add_records(a, z, err) < 0)
            goto fail;
    }
    for (i = 0; i < nsecs; i++) {
        if (twc_dns_secondary_zone(secs[i]) == NULL)
            continue; /* no copy yet, or expired: not served */
        z = twc_dns_secondary_zone_copy(secs[i], err);
        if (z == NULL || twc_dns_auth_add_zone(a, z, err) < 0)
            goto fail;
    }
    if (twc_dns_auth_finish(a, err) < 0)
        goto fail;
    *out = a;
    return 0;
fail:
    twc_dns_auth_free(a);
    return err->code != 0 ? err->code : TWC_ENOMEM;
}

/* The exit code of a load failure (shared/CLI.md): unreadable input 66,
 * malformed input 65. */
static int load_exit_code(int code)
{
    if (code == TWC_ENOMEM)
        return TWC_EXIT_SOFTWARE;
    if (code == TWC_EINVAL || code == TWC_ETOOBIG || code == TWC_EPROTO)
        return TWC_EXIT_DATAERR;
    return TWC_EXIT_NOINPUT; /* -errno: missing, unreadable, not a regular file */
}

/* Check every --secondary value. Returns 0 or TWC_EINVAL with *err. */
static int check_secondaries(const struct twc_opts *o, twc_err *err)
{
    const struct twc_optval *v = twc_opts_get(o, "secondary");
    twc_dns_name zone;
    twc_addr primary;
    size_t i;

    for (i = 0; i < v->nlist; i++) {
        if (twc_dns_secondary_parse(v->list[i], &primary, &zone, err) < 0) {
            prefix_msg(err, "--secondary");
            return TWC_EINVAL;
        }
    }
    return 0;
}

/* -r: the nameservers of --resolv-conf. Returns 0 or a negative code with *err
 * (-errno: unreadable file; TWC_EINVAL: "FILE:LINE: what is wrong", or no
 * nameserver in it). */
static int load_resolv_conf(const struct twc_opts *o, struct twc_resolv_conf *rc, twc_err *err)
{
    const char *path = twc_opts_str(o, "resolv-conf");
    int code;

    twc_resolv_conf_init(rc);
    code = twc_resolv_conf_load(rc, path, err);
    if (code < 0)
        return code;
    if (rc->nservers == 0)
        return twc_err_set(err, TWC_EINVAL, "%s: no nameserver line", path);
    return 0;
}

/* ---- Service ----------------------------------------------------------------- */

static void log_listening(struct dns_service *d, const char *proto, const twc_addr *a)
{
    const char *iface = twc_opts_str(d->opts, "interface");
    char host[TWC_ADDR_STRLEN], ep[TWC_ADDR_STRLEN + 64];
    unsigned port = twc_addr_port(a);

    if (d->srv->quiet)
        return;
    if (iface != NULL && strchr(iface, ':') != NULL) /* IPv6: bracketed (shared/CLI.md) */
        snprintf(ep, sizeof(ep), "%s:%u:interface=[%s]", proto, port, iface);
    else if (iface != NULL && iface[0] != '\0')
        snprintf(ep, sizeof(ep), "%s:%u:interface=%s", proto, port, iface);
    else
        snprintf(ep, sizeof(ep), "%s:%u", proto, port);
    twc_log_listening(d->base.reactor, SYSTEM, ep, proto, twc_addr_host(a, host, sizeof(host)),
                      port);
}

/* UDP first, then TCP on the port UDP got (shared/CLI.md), so `-p 0` gives
 * one port for both. Under --workers the port plan replays the supervisor's
 * ports. */
static int dns_bind(twc_service *svc, twc_err *err)
{
    struct dns_service *d = container_of(svc, struct dns_service, base);
    const char *iface = twc_opts_str(d->opts, "interface");
    uint16_t want = (uint16_t)twc_opts_num(d->opts, "port");
    uint16_t uport, tport;
    twc_addr ua, ta;
    int tries, rc = 0;

    if (iface != NULL && iface[0] == '\0')
        iface = NULL;
    for (tries = 0; tries < PICK_PORT_TRIES; tries++) {
        uport = twc_server_plan_port(d->srv, want);
        rc = twc_dns_server_listen_udp(d->dns, iface, uport, d->srv->reuseport, &ua, err);
        if (rc < 0)
            return rc;
        tport = twc_server_plan_port(d->srv, twc_addr_port(&ua));
        rc = twc_dns_server_listen_tcp(d->dns, iface, tport, d->srv->reuseport, &ta, err);
        if (rc == 0)
            break;
        if (want != 0 || rc != -EADDRINUSE || d->srv->replay)
            return rc;
        twc_dns_server_drop_last_udp(d->dns); /* the kernel's UDP pick is taken for TCP */
    }
    if (rc < 0)
        return rc;
    if (twc_server_bound(d->srv, twc_addr_port(&ua)) < 0 ||
        twc_server_bound(d->srv, twc_addr_port(&ta)) < 0)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    if (d->srv->on_bound != NULL) {
        d->srv->on_bound(d->srv->on_bound_arg, SYSTEM, "udp", &ua, NULL);
        d->srv->on_bound(d->srv->on_bound_arg, SYSTEM, "tcp", &ta, NULL);
    }
    log_listening(d, "udp", &ua);
    log_listening(d, "tcp", &ta);
    /* Hold the ports without serving until start (a --workers supervisor
     * binds but never serves; cmd/listen.h does the same). */
    twc_dns_server_pause_listening(d->dns);
    return 0;
}

static int dns_start(twc_service *svc, twc_err *err)
{
    struct dns_service *d = container_of(svc, struct dns_service, base);

    (void)err;
    twc_dns_server_resume_listening(d->dns);
    return 0;
}

static void on_drained(void *arg)
{
    struct dns_service *d = arg;
    twc_deferred *dd = d->stopping;

    if (dd == NULL)
        return; /* cancelled: the deferred already failed */
    d->stopping = NULL;
    twc_deferred_resolve(dd, NULL, NULL);
}

/* The grace period ran out: drop what is still open. */
static void on_stop_cancel(void *arg, twc_deferred *dd)
{
    struct dns_service *d = arg;

    (void)dd;
    d->stopping = NULL;
    twc_dns_server_abort_connections(d->dns);
}

static twc_deferred *dns_stop(twc_service *svc)
{
    struct dns_service *d = container_of(svc, struct dns_service, base);

    if (twc_dns_server_connection_count(d->dns) == 0) {
        twc_dns_server_shutdown(d->dns, NULL, NULL);
        return NULL;
    }
    d->stopping = twc_deferred_new(on_stop_cancel, d);
    twc_dns_server_shutdown(d->dns, on_drained, d);
    return d->stopping;
}

/* Serve dd (taken when d keeps no data) plus the secondaries' copies. */
static int install(struct dns_service *d, struct dns_data *dd, twc_err *err)
{
    twc_dns_auth *a;
    int keep = d->nsecs > 0;
    int rc;

    rc = build_authority(dd, !keep, d->secs, d->nsecs, &a, err);
    if (rc < 0)
        return rc;
    twc_dns_server_set_authority(d->dns, a,
                                 dd->nxdomain ? TWC_DNS_MISS_NXDOMAIN : TWC_DNS_MISS_REFUSED);
    twc_log_info(d->base.reactor, SYSTEM, "serving %zu zones and %zu other records",
                 twc_dns_auth_zone_count(a), twc_dns_auth_record_count(a));
    if (keep) {
        if (dd != &d->data) {
            data_cleanup(&d->data);
            d->data = *dd;
            memset(dd, 0, sizeof(*dd));
        }
    } else {
        data_cleanup(dd);
    }
    return 0;
}

/* SIGHUP: read every file again into a new authority, swapped in only when
 * all of it loaded; ask the secondaries' primaries again too. */
static int dns_reload(twc_service *svc, twc_err *err)
{
    struct dns_service *d = container_of(svc, struct dns_service, base);
    struct dns_data dd;
    size_t i;
    int rc, bad_option;

    for (i = 0; i < d->nsecs; i++)
        twc_dns_secondary_refresh(d->secs[i]);
    memset(&dd, 0, sizeof(dd));
    rc = load_data(d->opts, &dd, &bad_option, err);
    if (rc < 0)
        return rc; /* logged by the service tree; the old authority stays */
    rc = install(d, &dd, err);
    data_cleanup(&dd);
    return rc;
}

/* A secondary got a new copy, or its copy expired: serve the new set. */
static void on_secondary_change(void *arg, twc_dns_secondary *sec)
{
    struct dns_service *d = arg;
    char name[TWC_DNS_NAME_TEXT_MAX];
    twc_err err;

    twc_dns_name_format(twc_dns_secondary_origin(sec), name, sizeof(name));
    if (twc_dns_secondary_zone(sec) != NULL)
        twc_log_info(d->base.reactor, SYSTEM, "secondary %s: serial %u transferred", name,
                     (unsigned)twc_dns_secondary_serial(sec));
    else
        twc_log_warnx(d->base.reactor, SYSTEM, "secondary %s: expired, no longer served", name);
    twc_err_clear(&err);
    if (install(d, &d->data, &err) < 0)
        twc_log_errorx(d->base.reactor, SYSTEM, "secondary %s: not served: %s", name, err.msg);
}

/* Start the --secondary transfers. Returns 0 or a negative code with *err. */
static int start_secondaries(struct dns_service *d, twc_err *err)
{
    const struct twc_optval *v = twc_opts_get(d->opts, "secondary");
    twc_dns_name zone;
    twc_addr primary;
    size_t i;

    if (v->nlist == 0)
        return 0;
    d->secs = calloc(v->nlist, sizeof(*d->secs));
    if (d->secs == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    for (i = 0; i < v->nlist; i++) {
        if (twc_dns_secondary_parse(v->list[i], &primary, &zone, err) < 0)
            return TWC_EINVAL;
        d->secs[i] = twc_dns_secondary_new(d->base.reactor, &primary, &zone, NULL,
                                           on_secondary_change, d, err);
        if (d->secs[i] == NULL)
            return err->code;
        d->nsecs++;
    }
    return 0;
}

static void dns_free(twc_service *svc)
{
    struct dns_service *d = container_of(svc, struct dns_service, base);
    size_t i;

    /* The server first: it cancels its queries still at the forwarder. */
    twc_dns_server_free(d->dns);
    twc_dns_forwarder_free(d->fwd);
    twc_dns_cache_free(d->cache);
    for (i = 0; i < d->nsecs; i++)
        twc_dns_secondary_free(d->secs[i]);
    free(d->secs);
    data_cleanup(&d->data);
    free(d);
}

static const struct twc_service_ops dns_service_ops = {
    .kind = "dns",
    .bind = dns_bind,
    .start = dns_start,
    .stop = dns_stop,
    .reload = dns_reload,
    .free = dns_free,
};

/* The builder (cmd/server.h, cmd/servers.def): one "dns" service under parent. */
int twc_build_dns(struct twc_server *srv, const struct twc_opts *opts, twc_service *parent,
                  twc_err *err)
{
    twc_reactor *r = srv->app->reactor;
    struct dns_service *d;
    struct dns_data dd;
    int rc, bad_option;

    if ((rc = check_secondaries(opts, err)) < 0)
        return rc;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    twc_service_init(&d->base, &dns_service_ops, r, SYSTEM);
    d->srv = srv;
    d->opts = opts;
    d->dns = twc_dns_server_new(r, err);
    if (d->dns == NULL) {
        free(d);
        return err->code;
    }
    twc_dns_server_set_verbose(d->dns, twc_opts_given(opts, "verbose"));
    memset(&dd, 0, sizeof(dd));
    rc = start_secondaries(d, err);
    if (rc == 0)
        rc = load_data(opts, &dd, &bad_option, err);
    if (rc == 0)
        rc = install(d, &dd, err);
    data_cleanup(&dd);
    if (rc < 0) {
        dns_free(&d->base);
        return rc;
    }
    if (twc_opts_given(opts, "recursive")) {
        struct twc_resolv_conf rcf;

        rc = load_resolv_conf(opts, &rcf, err);
        if (rc == 0) {
            d->fwd = twc_dns_forwarder_new(r, &rcf, NULL, err);
            rc = d->fwd == NULL ? err->code : 0;
        }
        if (rc == 0 && twc_opts_given(opts, "cache")) {
            d->cache = twc_dns_cache_new(r, NULL);
            if (d->cache == NULL)
                rc = twc_err_set(err, TWC_ENOMEM, "out of memory");
        }
        if (rc < 0) {
            dns_free(&d->base);
            return rc;
        }
        twc_dns_server_set_forwarder(d->dns, d->fwd, d->cache);
    } else if (twc_opts_given(opts, "cache")) {
        twc_log_warnx(r, SYSTEM, "--cache has no effect without -r (nothing is forwarded)");
    }
    rc = twc_service_add(parent, &d->base, err);
    if (rc < 0)
        dns_free(&d->base);
    return rc;
}

int twc_cmd_dns(int argc, char **argv)
{
    struct twc_app app;
    struct twc_server_spec spec;
    struct dns_data dd;
    twc_dns_auth *a;
    twc_err err;
    int rc, bad_option;

    memset(&app, 0, sizeof(app));
    rc = twc_app_parse(&app, &twc_optset_dns, argc, argv);
    if (rc >= 0)
        goto out;
    if (app.args.n > 0) {
        rc = twc_fail(app.name, TWC_EXIT_USAGE, "unexpected argument '%s' (see twc dns --help)",
                      app.args.v[0]);
        goto out;
    }
    twc_err_clear(&err);
    if (check_secondaries(&app.opts, &err) < 0) {
        rc = twc_fail(app.name, TWC_EXIT_USAGE, "%s", err.msg);
        goto out;
    }
    /* Check the data here, where a bad file can still get its own exit code. */
    memset(&dd, 0, sizeof(dd));
    if (load_data(&app.opts, &dd, &bad_option, &err) < 0) {
        rc = twc_fail(app.name, bad_option ? TWC_EXIT_USAGE : load_exit_code(err.code), "%s",
                      err.msg);
        goto out;
    }
    rc = build_authority(&dd, 1, NULL, 0, &a, &err);
    data_cleanup(&dd);
    if (rc < 0) {
        rc = twc_fail(app.name, load_exit_code(err.code), "%s", err.msg);
        goto out;
    }
    twc_dns_auth_free(a);
    if (twc_opts_given(&app.opts, "recursive")) {
        struct twc_resolv_conf rcf;

        if (load_resolv_conf(&app.opts, &rcf, &err) < 0) {
            rc = twc_fail(app.name, load_exit_code(err.code), "%s", err.msg);
            goto out;
        }
    }
    spec.command = SYSTEM;
    spec.build = twc_build_dns;
    spec.opts = &app.opts;
    rc = twc_server_main(&app, &spec, 1);
out:
    twc_app_cleanup(&app);
    return rc;
}
