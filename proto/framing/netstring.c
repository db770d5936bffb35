/*
 * Netstring parser and encoder (netstring.h), after djb's netstrings.txt.
 *
 * The length digits are checked one at a time, so an oversized or malformed
 * length fails at the same byte whatever the split. A payload that arrives
 * whole is returned as a slice of the caller's data; only a payload split
 * across feeds is gathered in the parser's buffer, which max_len bounds.
 */
#include "netstring.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "limits.h"

static const char *const state_names[] = {
    [TWC_NETSTRING_S_LENGTH] = "length",
    [TWC_NETSTRING_S_PAYLOAD] = "payload",
    [TWC_NETSTRING_S_COMMA] = "comma",
    [TWC_NETSTRING_S_FAILED] = "failed",
};

const char *twc_netstring_state_name(enum twc_netstring_state st)
{
    if ((size_t)st < sizeof(state_names) / sizeof(state_names[0]))
        return state_names[st];
    return "unknown";
}

static void set_state(twc_netstring_parser *np, enum twc_netstring_state st)
{
    if (np->trace != NULL && st != np->state)
        np->trace(np->trace_arg, "netstring", twc_netstring_state_name(np->state),
                  twc_netstring_state_name(st));
    np->state = st;
}

void twc_netstring_parser_init(twc_netstring_parser *np, const struct twc_netstring_limits *lim)
{
    memset(np, 0, sizeof(*np));
    np->state = TWC_NETSTRING_S_LENGTH;
    np->max_len = lim != NULL && lim->max_len > 0 ? lim->max_len : TWC_NETSTRING_MAX;
    twc_buf_init(&np->buf, np->max_len);
}

void twc_netstring_parser_cleanup(twc_netstring_parser *np)
{
    twc_buf_cleanup(&np->buf);
    np->delivered = false;
}

/* Ready for the next netstring's length. */
static void start_next(twc_netstring_parser *np)
{
    np->len = 0;
    np->ndigits = 0;
    set_state(np, TWC_NETSTRING_S_LENGTH);
}

void twc_netstring_parser_reset(twc_netstring_parser *np)
{
    twc_buf_cleanup(&np->buf);
    np->delivered = false;
    np->err = 0;
    start_next(np);
}

void twc_netstring_parser_set_trace(twc_netstring_parser *np, twc_framing_trace_fn fn, void *arg)
{
    np->trace = fn;
    np->trace_arg = arg;
}

enum twc_netstring_state twc_netstring_parser_state(const twc_netstring_parser *np)
{
    return np->state;
}

bool twc_netstring_parser_idle(const twc_netstring_parser *np)
{
    return np->state == TWC_NETSTRING_S_LENGTH && np->ndigits == 0;
}

/* Malformed input: the stream cannot be trusted any more, so the failure sticks. */
static ssize_t fail(twc_netstring_parser *np, int code)
{
    twc_buf_cleanup(&np->buf);
    np->err = code;
    set_state(np, TWC_NETSTRING_S_FAILED);
    return code;
}

/* One byte of the length field. Returns 0 or a negative code. */
static int length_byte(twc_netstring_parser *np, uint8_t c)
{
    uint64_t v = np->len;
    unsigned d;

    if (c == ':') {
        if (np->ndigits == 0)
            return TWC_EPROTO; /* ":" alone: no length */
        set_state(np, np->len > 0 ? TWC_NETSTRING_S_PAYLOAD : TWC_NETSTRING_S_COMMA);
        return 0;
    }
    if (c < '0' || c > '9')
        return TWC_EPROTO;
    /* djb: "leading zeros are prohibited" ("0:" itself is the empty string). */
    if (np->ndigits > 0 && v == 0)
        return TWC_EPROTO;
    d = (unsigned)(c - '0');
    if (v > (UINT64_MAX - d) / 10 || v * 10 + d > np->max_len)
        return TWC_ETOOBIG;
    np->len = v * 10 + d;
    np->ndigits++;
    return 0;
}

ssize_t twc_netstring_parser_feed(twc_netstring_parser *np, const uint8_t *data, size_t len,
                                  struct twc_netstring_event *ev)
{
    size_t i = 0;
    int rc;

    ev->type = TWC_NETSTRING_EV_NONE;
    ev->payload.p = NULL;
    ev->payload.len = 0;
    if (np->delivered) {
        twc_buf_consume(&np->buf, twc_buf_len(&np->buf));
        np->delivered = false;
    }
    if (np->state == TWC_NETSTRING_S_FAILED)
        return np->err;

    while (i < len) {
        size_t have, need, avail, take;

        switch (np->state) {
        case TWC_NETSTRING_S_LENGTH:
            rc = length_byte(np, data[i]);
            if (rc != 0)
                return fail(np, rc);
            i++;
            break;
        case TWC_NETSTRING_S_PAYLOAD:
            have = twc_buf_len(&np->buf);
            need = (size_t)np->len - have;
            avail = len - i;
            if (have == 0 && avail > need) {
                /* Payload and comma both here: hand out a slice of data. */
                if (data[i + need] != ',')
                    return fail(np, TWC_EPROTO);
                ev->type = TWC_NETSTRING_EV_STRING;
                ev->payload.p = data + i;
                ev->payload.len = need;
                start_next(np);
                return (ssize_t)(i + need + 1);
            }
            take = avail < need ? avail : need;
            rc = twc_buf_append(&np->buf, data + i, take);
            if (rc != 0)
                return fail(np, rc);
            i += take;
            if (take == need)
                set_state(np, TWC_NETSTRING_S_COMMA);
            break;
        case TWC_NETSTRING_S_COMMA:
            if (data[i] != ',')
                return fail(np, TWC_EPROTO);
            ev->type = TWC_NETSTRING_EV_STRING;
            if (twc_buf_len(&np->buf) > 0) {
                ev->payload.p = twc_buf_data(&np->buf);
                ev->payload.len = twc_buf_len(&np->buf);
                np->delivered = true;
            } else {
                ev->payload.p = data + i; /* "0:,": empty, but never NULL */
            }
            start_next(np);
            return (ssize_t)(i + 1);
        case TWC_NETSTRING_S_FAILED:
            return np->err;
        }
    }
    return (ssize_t)i;
}

int twc_netstring_encode(twc_buf *out, const void *data, size_t len)
{
    char hdr[32];
    uint8_t *dst;
    int n, rc;

    n = snprintf(hdr, sizeof(hdr), "%zu:", len);
    if (n < 0 || (size_t)n >= sizeof(hdr))
        return TWC_EINTERNAL;
    if (len > SIZE_MAX - sizeof(hdr) - 1)
        return TWC_ETOOBIG;
    /* Reserve the whole netstring first, so a failure appends nothing. */
    dst = twc_buf_reserve(out, (size_t)n + len + 1, &rc);
    if (dst == NULL)
        return rc;
    memcpy(dst, hdr, (size_t)n);
    if (len > 0)
        memcpy(dst + n, data, len);
    dst[(size_t)n + len] = ',';
    twc_buf_commit(out, (size_t)n + len + 1);
    return 0;
}
