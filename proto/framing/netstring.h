/*
 * Netstrings (D. J. Bernstein, http://cr.yp.to/proto/netstrings.txt): a decimal
 * length, ':', that many bytes, ','. "12:hello world!," carries "hello world!"
 * and "0:," the empty string. Twisted's NetstringReceiver.
 *
 * The parser is strict, as djb asks: the length has no sign, no spaces and no
 * leading zero (except the single digit of "0:"), must not exceed max_len, and
 * the payload must be followed by ','. Any violation fails the parser for good
 * (the stream cannot be resynchronised): every later feed returns the same code
 * until twc_netstring_parser_reset().
 */
#ifndef TWC_PROTO_FRAMING_NETSTRING_H
#define TWC_PROTO_FRAMING_NETSTRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "framing.h"

struct twc_netstring_limits {
    size_t max_len; /* largest payload; 0 selects TWC_NETSTRING_MAX */
};

enum twc_netstring_state {
    TWC_NETSTRING_S_LENGTH,  /* reading the decimal length up to ':' */
    TWC_NETSTRING_S_PAYLOAD, /* reading the payload */
    TWC_NETSTRING_S_COMMA,   /* payload complete, expecting ',' */
    TWC_NETSTRING_S_FAILED,  /* malformed or too long: sticky */
};

enum twc_netstring_event_type {
    TWC_NETSTRING_EV_NONE,   /* bytes consumed, no complete netstring yet */
    TWC_NETSTRING_EV_STRING, /* ev->payload is one complete payload */
};

struct twc_netstring_event {
    enum twc_netstring_event_type type;
    /* STRING: the payload (may be empty). Borrowed: into the data passed to feed
     * when the whole netstring was in it, else into the parser's buffer; valid
     * until the next call on the parser. */
    twc_slice payload;
};

/* Caller-owned storage (embed it); fields private. */
typedef struct twc_netstring_parser {
    enum twc_netstring_state state;
    size_t max_len;
    uint64_t len;   /* LENGTH: value so far; later: declared payload length */
    size_t ndigits; /* LENGTH: digits seen */
    int err;        /* FAILED: the code every feed returns */
    bool delivered; /* buf holds the payload just returned; drop it next call */
    twc_buf buf;    /* payload split across feeds */
    twc_framing_trace_fn trace;
    void *trace_arg;
} twc_netstring_parser;

/* lim may be NULL (defaults). Allocates nothing until a payload is split. */
void twc_netstring_parser_init(twc_netstring_parser *np, const struct twc_netstring_limits *lim);
void twc_netstring_parser_cleanup(twc_netstring_parser *np);
/* Drop any partial netstring and clear a failure; keeps limits and trace hook. */
void twc_netstring_parser_reset(twc_netstring_parser *np);
/* Install (or clear, with NULL) the state-transition hook; arg is borrowed. */
void twc_netstring_parser_set_trace(twc_netstring_parser *np, twc_framing_trace_fn fn, void *arg);

/*
 * Parse data[0..len) (borrowed). Returns the bytes consumed (0 < n <= len when
 * len > 0) and sets *ev; at most one STRING event per call, the rest of data is
 * then unconsumed: loop. Errors (sticky):
 *   TWC_ETOOBIG  the declared length exceeds max_len (detected from its digits)
 *   TWC_EPROTO   a non-digit in the length, a leading zero, an empty length,
 *                or a byte other than ',' after the payload
 *   TWC_ENOMEM   no memory for a payload split across feeds
 */
ssize_t twc_netstring_parser_feed(twc_netstring_parser *np, const uint8_t *data, size_t len,
                                  struct twc_netstring_event *ev);

enum twc_netstring_state twc_netstring_parser_state(const twc_netstring_parser *np);
/* True between netstrings (a clean EOF), false inside one or once failed. */
bool twc_netstring_parser_idle(const twc_netstring_parser *np);
/* Static name of a state ("length", "payload", "comma", "failed"). */
const char *twc_netstring_state_name(enum twc_netstring_state st);

/* Append the netstring of data[0..len) (borrowed) to out: all of it or nothing.
 * Returns 0, TWC_ETOOBIG past out's maximum, or TWC_ENOMEM. */
int twc_netstring_encode(twc_buf *out, const void *data, size_t len);

#endif
