/*
 * Internals shared by cmd/client_dns.c (twc client dns) and cmd/client_axfr.c
 * (its TYPE AXFR zone transfer): the parsed command line, and dig-style
 * output helpers.
 */
#ifndef TWC_CMD_CLIENT_DNS_H
#define TWC_CMD_CLIENT_DNS_H

#include <cjson/cJSON.h>
#include <time.h>

#include "cmd/common.h"
#include "lib/addr.h"
#include "proto/dns/dns.h"

#define EXIT_NO_REPLY 9 /* dig: "no reply from server" */

struct lookup {
    struct twc_app app;
    twc_dns_question q;
    twc_addr server;
    int tcp;
    int short_form;
    int json;
    unsigned timeout_ms;
    unsigned tries;
    const char *name_arg;
    const char *type_arg;
    const char *server_arg;
    int axfr;                                 /* TYPE AXFR: a zone transfer */
    char reverse_name[TWC_DNS_NAME_TEXT_MAX]; /* -x: the name asked */
};

/* dig-style output (client_dns.c). */
double twc__dig_elapsed_ms(const struct timespec *a, const struct timespec *b);
void twc__dig_print_rr(const twc_dns_rr *rr);    /* one record, zone-file form */
void twc__dig_print_rdata(const twc_dns_rr *rr); /* +short: the rdata alone */
void twc__dig_print_banner(const struct lookup *l);
void twc__dig_print_trailer(const twc_addr *server, int tcp, double ms);
void twc__dig_json_add_rr(cJSON *a, const twc_dns_rr *rr); /* appends to array a */
int twc__dig_json_print(cJSON *o);                          /* prints and frees o */

/* TYPE AXFR: the transfer, printed as dig does; returns the exit code, or -1
 * for 0 (client_axfr.c). */
int twc__client_dns_axfr(struct lookup *l);

#endif
