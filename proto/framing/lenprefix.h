/*
 * Length-prefixed framing: each frame is an unsigned big-endian length of 1, 2
 * or 4 bytes followed by that many bytes. Twisted's Int8StringReceiver,
 * Int16StringReceiver and Int32StringReceiver (also DNS over TCP, RFC 1035
 * §4.2.2, with a 2-byte prefix).
 *
 * A declared length above max_len fails the parser for good (TWC_ETOOBIG, before
 * any payload byte is buffered): every later feed returns it until
 * twc_lenprefix_parser_reset(). Empty frames are valid.
 */
#ifndef TWC_PROTO_FRAMING_LENPREFIX_H
#define TWC_PROTO_FRAMING_LENPREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "framing.h"

struct twc_lenprefix_limits {
    size_t max_len; /* largest payload; 0 selects TWC_LENGTH_PREFIX_MAX */
};

enum twc_lenprefix_state {
    TWC_LENPREFIX_S_PREFIX,  /* reading the length prefix */
    TWC_LENPREFIX_S_PAYLOAD, /* reading the payload */
    TWC_LENPREFIX_S_FAILED,  /* length over the limit: sticky */
};

enum twc_lenprefix_event_type {
    TWC_LENPREFIX_EV_NONE,  /* bytes consumed, no complete frame yet */
    TWC_LENPREFIX_EV_FRAME, /* ev->payload is one complete payload */
};

struct twc_lenprefix_event {
    enum twc_lenprefix_event_type type;
    /* FRAME: the payload (may be empty). Borrowed: into the data passed to feed when
     * the whole frame was in it, else into the parser's buffer; valid until the
     * next call on the parser. */
    twc_slice payload;
};

/* Caller-owned storage (embed it); fields private. */
typedef struct twc_lenprefix_parser {
    enum twc_lenprefix_state state;
    unsigned width; /* prefix bytes: 1, 2 or 4 */
    size_t max_len;
    uint32_t len;   /* PREFIX: value so far; PAYLOAD: declared length */
    unsigned have;  /* PREFIX: prefix bytes seen */
    int err;        /* FAILED: the code every feed returns */
    bool delivered; /* buf holds the payload just returned; drop it next call */
    twc_buf buf;    /* payload split across feeds */
    twc_framing_trace_fn trace;
    void *trace_arg;
} twc_lenprefix_parser;

/* width is the prefix size in bytes: 1, 2 or 4. lim may be NULL (defaults).
 * Returns 0, or TWC_EINVAL for another width. Allocates nothing. */
int twc_lenprefix_parser_init(twc_lenprefix_parser *lp, unsigned width,
                              const struct twc_lenprefix_limits *lim);
void twc_lenprefix_parser_cleanup(twc_lenprefix_parser *lp);
/* Drop any partial frame and clear a failure; keeps width, limits and trace hook. */
void twc_lenprefix_parser_reset(twc_lenprefix_parser *lp);
/* Install (or clear, with NULL) the state-transition hook; arg is borrowed. */
void twc_lenprefix_parser_set_trace(twc_lenprefix_parser *lp, twc_framing_trace_fn fn, void *arg);

/*
 * Parse data[0..len) (borrowed). Returns the bytes consumed (0 < n <= len when
 * len > 0) and sets *ev; at most one FRAME event per call, the rest of data is
 * then unconsumed: loop. Errors (sticky):
 *   TWC_ETOOBIG  a declared length exceeds max_len
 *   TWC_ENOMEM   no memory for a payload split across feeds
 */
ssize_t twc_lenprefix_parser_feed(twc_lenprefix_parser *lp, const uint8_t *data, size_t len,
                                  struct twc_lenprefix_event *ev);

enum twc_lenprefix_state twc_lenprefix_parser_state(const twc_lenprefix_parser *lp);
/* True between frames (a clean EOF), false inside one or once failed. */
bool twc_lenprefix_parser_idle(const twc_lenprefix_parser *lp);
/* Static name of a state ("prefix", "payload", "failed"). */
const char *twc_lenprefix_state_name(enum twc_lenprefix_state st);

/* Append a frame of data[0..len) (borrowed) with a width-byte big-endian prefix to
 * out: all of it or nothing. Returns 0, TWC_EINVAL for a bad width, TWC_ETOOBIG
 * when len does not fit the prefix or out's maximum, or TWC_ENOMEM. */
int twc_lenprefix_encode(twc_buf *out, unsigned width, const void *data, size_t len);

#endif
