/*
 * Line framing: Twisted's LineReceiver as a pure parser plus a thin receiver.
 *
 * twc_line_parser splits a byte stream into lines ended by a 1-4 byte delimiter
 * ("\r\n" by default), bounded by a maximum line length, with a raw mode that
 * passes bytes through untouched, either until the caller switches back or for
 * exactly N bytes (IMAP literals, SMTP BDAT, FTP-style transfers; Twisted's
 * setRawMode/setLineMode).
 *
 * Overflow (a line longer than max_line, delimiter excluded) makes feed return
 * TWC_ETOOBIG as soon as the bytes seen prove the line too long. What happens
 * next is the caller's choice, set with twc_line_parser_set_overflow():
 *   - TWC_LINE_OVERFLOW_FAIL (default): the parser is failed; every later feed
 *     returns TWC_ETOOBIG until twc_line_parser_reset(). Close the connection.
 *   - TWC_LINE_OVERFLOW_RESYNC: the parser resynchronises. The failing call
 *     consumed nothing; feed the same bytes again and the parser silently
 *     discards everything up to and including the next delimiter, then parses
 *     lines again. An SMTP/IRC server replies "500 line too long" and goes on.
 *     Exactly one TWC_ETOOBIG is returned per overlong line.
 *
 * twc_line_receiver wraps a parser for protocols: call twc_line_receiver_feed()
 * from data_received and get one callback per line (or raw chunk).
 */
#ifndef TWC_PROTO_FRAMING_LINE_H
#define TWC_PROTO_FRAMING_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "framing.h"

#define TWC_LINE_DELIM_MAX 4 /* longest delimiter accepted by set_delimiter */

struct twc_line_limits {
    size_t max_line; /* longest line, delimiter excluded; 0 selects TWC_LINE_MAX */
};

enum twc_line_state {
    TWC_LINE_S_LINE,    /* collecting a line */
    TWC_LINE_S_DISCARD, /* resync: dropping an overlong line up to its delimiter */
    TWC_LINE_S_RAW,     /* raw: every byte passes through until set_line_mode */
    TWC_LINE_S_RAW_N,   /* raw for raw_left more bytes, then back to LINE */
    TWC_LINE_S_FAILED,  /* overflow in FAIL mode: feed returns TWC_ETOOBIG */
};

enum twc_line_overflow {
    TWC_LINE_OVERFLOW_FAIL,   /* default: overflow is final until reset */
    TWC_LINE_OVERFLOW_RESYNC, /* discard the overlong line and continue */
};

enum twc_line_event_type {
    TWC_LINE_EV_NONE, /* bytes consumed, nothing complete yet */
    TWC_LINE_EV_LINE, /* ev->line is one line, delimiter stripped */
    TWC_LINE_EV_RAW,  /* ev->line is a chunk of raw bytes (len > 0) */
};

struct twc_line_event {
    enum twc_line_event_type type;
    /* LINE: the line without its delimiter (may be empty). RAW: the raw bytes.
     * Borrowed: points into the data passed to feed when the whole line was in it,
     * else into the parser's buffer; valid until the next feed, reset or cleanup
     * (mode switches from the event leave it intact). */
    twc_slice line;
    /* RAW only: true on the last chunk of a counted raw run (set_raw_count); the
     * parser is back in line mode when feed returns. */
    bool raw_done;
};

/* Caller-owned storage (embed it); the fields are private: use the functions. */
typedef struct twc_line_parser {
    enum twc_line_state state;
    enum twc_line_overflow overflow;
    size_t max_line;
    uint64_t raw_left; /* RAW_N: bytes still to pass through */
    uint8_t delim[TWC_LINE_DELIM_MAX];
    size_t dlen;
    uint8_t tail[TWC_LINE_DELIM_MAX]; /* DISCARD: last bytes seen, maybe a partial delimiter */
    size_t tail_len;
    bool delivered; /* buf holds the line just returned; drop it next call */
    twc_buf buf;    /* partial line (plus partial delimiter) across feeds */
    twc_framing_trace_fn trace;
    void *trace_arg;
} twc_line_parser;

/* Initialise in line mode with delimiter "\r\n" and overflow mode FAIL. lim may be
 * NULL (defaults). Allocates nothing until a line is split across feeds. */
void twc_line_parser_init(twc_line_parser *lp, const struct twc_line_limits *lim);
/* Free the internal buffer. The parser may be re-initialised afterwards. */
void twc_line_parser_cleanup(twc_line_parser *lp);
/* Drop any partial line, clear a failure, go back to line mode. Keeps the
 * delimiter, limits, overflow mode and trace hook. */
void twc_line_parser_reset(twc_line_parser *lp);

/* Use delim[0..len) (copied; 1 <= len <= TWC_LINE_DELIM_MAX) as the line
 * delimiter for bytes fed from now on. Returns 0, or TWC_EINVAL for a bad length
 * or when part of a line is buffered (switch between lines, e.g. from a line event). */
int twc_line_parser_set_delimiter(twc_line_parser *lp, const void *delim, size_t len);
/* Choose what follows an overflow (see the top of this file). */
void twc_line_parser_set_overflow(twc_line_parser *lp, enum twc_line_overflow mode);
/* Install (or clear, with NULL) the state-transition hook; arg is borrowed. */
void twc_line_parser_set_trace(twc_line_parser *lp, twc_framing_trace_fn fn, void *arg);

/* Raw mode: every byte fed from now on comes back as RAW events until
 * twc_line_parser_set_line_mode(). Returns 0, or TWC_EINVAL when part of a line
 * is buffered or the parser failed (switch from a line event, between feeds). */
int twc_line_parser_set_raw(twc_line_parser *lp);
/* Raw mode for exactly n bytes, then line mode again on its own; the RAW event
 * with the last of them has raw_done set. n == 0 leaves line mode unchanged.
 * Same returns as twc_line_parser_set_raw. */
int twc_line_parser_set_raw_count(twc_line_parser *lp, uint64_t n);
/* Back to line mode (from either raw mode); bytes fed next are parsed as lines.
 * No effect in line mode, while discarding, or once failed. */
void twc_line_parser_set_line_mode(twc_line_parser *lp);

/*
 * Parse data[0..len) (borrowed). Returns the bytes consumed (0 < n <= len when
 * len > 0; 0 when len == 0), and sets *ev: at most one LINE or RAW event per call,
 * after which the rest of data is unconsumed. Callers loop until everything is
 * consumed, switching modes between calls as the events demand. Errors:
 *   TWC_ETOOBIG  a line exceeds max_line (see overflow modes above); nothing of
 *                data was consumed by this call.
 *   TWC_ENOMEM   no memory to gather a line split across feeds; nothing consumed
 *                and the parser unchanged, so feeding the same bytes retries.
 */
ssize_t twc_line_parser_feed(twc_line_parser *lp, const uint8_t *data, size_t len,
                             struct twc_line_event *ev);

enum twc_line_state twc_line_parser_state(const twc_line_parser *lp);
/* True between lines: line mode with no partial line held. False in the middle of
 * a line (or of a discarded one), in raw mode, or once failed. Lets a protocol tell
 * a clean EOF from one in the middle of a line. */
bool twc_line_parser_idle(const twc_line_parser *lp);
/* Static name of a state ("line", "discard", "raw", "raw_n", "failed"). */
const char *twc_line_state_name(enum twc_line_state st);

/*
 * Line receiver: a parser plus the feed loop, for protocols.
 *
 * Callbacks run from inside twc_line_receiver_feed, in stream order. From a
 * callback a protocol may switch modes on the parser (twc_line_receiver_parser),
 * change the delimiter, or call twc_line_receiver_stop(); it must not clean up
 * or free the receiver (do that after feed returns, e.g. in connection_lost).
 */
struct twc_line_receiver_ops {
    /* Required. One line, delimiter stripped; line borrowed for the call. */
    void (*line_received)(void *arg, const uint8_t *line, size_t len);
    /* Required if raw mode is used. Raw bytes (borrowed, len > 0); done is true on
     * the last chunk of a counted run (the receiver is back in line mode). */
    void (*raw_received)(void *arg, const uint8_t *data, size_t len, bool done);
    /* Optional. A line exceeded max_line (once per overlong line). In RESYNC mode the
     * receiver then discards it and continues; in FAIL mode feed returns TWC_ETOOBIG. */
    void (*line_too_long)(void *arg, size_t max_line);
};

/* Caller-owned storage; fields private. */
typedef struct twc_line_receiver {
    twc_line_parser parser;
    const struct twc_line_receiver_ops *ops;
    void *arg;
    bool stop; /* set by twc_line_receiver_stop during a callback */
} twc_line_receiver;

/* ops and arg are borrowed for the receiver's lifetime; lim may be NULL. */
void twc_line_receiver_init(twc_line_receiver *lr, const struct twc_line_limits *lim,
                            const struct twc_line_receiver_ops *ops, void *arg);
void twc_line_receiver_cleanup(twc_line_receiver *lr);
/* The owned parser, for set_delimiter/set_overflow/set_raw... (borrowed). */
twc_line_parser *twc_line_receiver_parser(twc_line_receiver *lr);

/*
 * Deliver data[0..len) (borrowed) through the callbacks. Returns the bytes
 * consumed: len, or fewer when a callback called twc_line_receiver_stop() (the
 * bytes after the stopping event are untouched: hand them to whoever takes over
 * the connection, e.g. after STARTTLS or an upgrade). Errors: TWC_ETOOBIG on an
 * overflow in FAIL mode (after line_too_long), TWC_EINVAL for raw bytes with no
 * raw_received callback, TWC_ENOMEM as for the parser.
 */
ssize_t twc_line_receiver_feed(twc_line_receiver *lr, const uint8_t *data, size_t len);
/* From a callback: make the current feed return right after this callback.
 * Affects only that call; the next feed delivers again. */
void twc_line_receiver_stop(twc_line_receiver *lr);

#endif
