/*
 * Line framing: the line parser (a resumable state machine) and the line
 * receiver (the feed loop with callbacks) declared in line.h.
 *
 * The parser copies nothing while whole lines arrive inside one feed: lines
 * are slices of the caller's data. Only a line split across feeds is gathered
 * in the internal twc_buf, together with any trailing bytes that may be the
 * start of a delimiter ("\r" waiting for its "\n"). The buffer never holds more
 * than one line, so a mode switch after a line event has nothing to hand over.
 */
#include "line.h"

#include <string.h>

#include "err.h"
#include "limits.h"

static const char *const state_names[] = {
    [TWC_LINE_S_LINE] = "line",   [TWC_LINE_S_DISCARD] = "discard", [TWC_LINE_S_RAW] = "raw",
    [TWC_LINE_S_RAW_N] = "raw_n", [TWC_LINE_S_FAILED] = "failed",
};

const char *twc_line_state_name(enum twc_line_state st)
{
    if ((size_t)st < sizeof(state_names) / sizeof(state_names[0]))
        return state_names[st];
    return "unknown";
}

static void set_state(twc_line_parser *lp, enum twc_line_state st)
{
    if (lp->trace != NULL && st != lp->state)
        lp->trace(lp->trace_arg, "line", twc_line_state_name(lp->state), twc_line_state_name(st));
    lp->state = st;
}

/* Forget the line returned by the previous feed (it lived in buf). */
static void drop_delivered(twc_line_parser *lp)
{
    if (lp->delivered) {
        twc_buf_consume(&lp->buf, twc_buf_len(&lp->buf));
        lp->delivered = false;
    }
}

/* Bytes of an unfinished line sitting in buf. */
static size_t pending(const twc_line_parser *lp)
{
    return lp->delivered ? 0 : twc_buf_len(&lp->buf);
}

void twc_line_parser_init(twc_line_parser *lp, const struct twc_line_limits *lim)
{
    memset(lp, 0, sizeof(*lp));
    lp->state = TWC_LINE_S_LINE;
    lp->overflow = TWC_LINE_OVERFLOW_FAIL;
    lp->max_line = lim != NULL && lim->max_line > 0 ? lim->max_line : TWC_LINE_MAX;
    if (lp->max_line > SIZE_MAX - TWC_LINE_DELIM_MAX)
        lp->max_line = SIZE_MAX - TWC_LINE_DELIM_MAX;
    memcpy(lp->delim, "\r\n", 2);
    lp->dlen = 2;
    /* Room for a full line plus a partial delimiter of the longest kind, so that a
     * later set_delimiter never needs to touch the buffer. The exact limit is
     * enforced by the parser itself, with the delimiter in use. */
    twc_buf_init(&lp->buf, lp->max_line + TWC_LINE_DELIM_MAX - 1);
}

void twc_line_parser_cleanup(twc_line_parser *lp)
{
    twc_buf_cleanup(&lp->buf);
    lp->delivered = false;
}

void twc_line_parser_reset(twc_line_parser *lp)
{
    twc_buf_cleanup(&lp->buf);
    lp->delivered = false;
    lp->tail_len = 0;
    lp->raw_left = 0;
    set_state(lp, TWC_LINE_S_LINE);
}

int twc_line_parser_set_delimiter(twc_line_parser *lp, const void *delim, size_t len)
{
    if (delim == NULL || len == 0 || len > TWC_LINE_DELIM_MAX || pending(lp) > 0)
        return TWC_EINVAL;
    memcpy(lp->delim, delim, len);
    lp->dlen = len;
    /* A partial old delimiter remembered while discarding means nothing now. */
    lp->tail_len = 0;
    return 0;
}

void twc_line_parser_set_overflow(twc_line_parser *lp, enum twc_line_overflow mode)
{
    lp->overflow = mode;
}

void twc_line_parser_set_trace(twc_line_parser *lp, twc_framing_trace_fn fn, void *arg)
{
    lp->trace = fn;
    lp->trace_arg = arg;
}

static int can_switch_to_raw(const twc_line_parser *lp)
{
    if (lp->state == TWC_LINE_S_FAILED || lp->state == TWC_LINE_S_DISCARD || pending(lp) > 0)
        return TWC_EINVAL;
    return 0;
}

int twc_line_parser_set_raw(twc_line_parser *lp)
{
    int rc = can_switch_to_raw(lp);

    if (rc != 0)
        return rc;
    lp->raw_left = 0;
    set_state(lp, TWC_LINE_S_RAW);
    return 0;
}

int twc_line_parser_set_raw_count(twc_line_parser *lp, uint64_t n)
{
    int rc = can_switch_to_raw(lp);

    if (rc != 0)
        return rc;
    if (n == 0)
        return 0;
    lp->raw_left = n;
    set_state(lp, TWC_LINE_S_RAW_N);
    return 0;
}

void twc_line_parser_set_line_mode(twc_line_parser *lp)
{
    if (lp->state != TWC_LINE_S_RAW && lp->state != TWC_LINE_S_RAW_N)
        return;
    lp->raw_left = 0;
    set_state(lp, TWC_LINE_S_LINE);
}

enum twc_line_state twc_line_parser_state(const twc_line_parser *lp)
{
    return lp->state;
}

bool twc_line_parser_idle(const twc_line_parser *lp)
{
    return lp->state == TWC_LINE_S_LINE && pending(lp) == 0;
}

/*
 * Find the first delimiter in the stream prev[0..plen) + data[0..len), where
 * prev (at most dlen - 1 bytes, so it cannot hold a whole delimiter) is what
 * came just before data. Returns how many bytes of data run up to the end of
 * that delimiter, or 0 when there is none yet. A delimiter always ends in data.
 */
static size_t find_delim(const twc_line_parser *lp, const uint8_t *prev, size_t plen,
                         const uint8_t *data, size_t len)
{
    const uint8_t *d = lp->delim;
    size_t dl = lp->dlen;
    const uint8_t *p, *last;
    size_t i;

    /* A delimiter split across feeds: "\r" | "\n". Earlier starts first. */
    for (i = 0; i < plen; i++) {
        size_t in_prev = plen - i;
        size_t in_data = dl - in_prev;

        if (in_data <= len && memcmp(prev + i, d, in_prev) == 0 &&
            memcmp(data, d + in_prev, in_data) == 0)
            return in_data;
    }
    if (len < dl)
        return 0;
    p = data;
    last = data + (len - dl); /* last position where a delimiter can start */
    while (p <= last) {
        p = memchr(p, d[0], (size_t)(last - p) + 1);
        if (p == NULL)
            return 0;
        if (memcmp(p, d, dl) == 0)
            return (size_t)(p - data) + dl;
        p++;
    }
    return 0;
}

/* Copy the last min(want, plen + len) bytes of prev + data into t; returns the count. */
static size_t stream_tail(const uint8_t *prev, size_t plen, const uint8_t *data, size_t len,
                          size_t want, uint8_t *t)
{
    size_t from_prev;

    if (len >= want) {
        if (want > 0)
            memcpy(t, data + len - want, want);
        return want;
    }
    from_prev = want - len < plen ? want - len : plen;
    if (from_prev > 0)
        memcpy(t, prev + plen - from_prev, from_prev);
    if (len > 0)
        memcpy(t + from_prev, data, len);
    return from_prev + len;
}

/* Length of the longest suffix of t[0..tlen) that is a proper prefix of the
 * delimiter: bytes that may yet turn out to end the line rather than be in it. */
static size_t partial_delim(const twc_line_parser *lp, const uint8_t *t, size_t tlen)
{
    size_t k = tlen < lp->dlen - 1 ? tlen : lp->dlen - 1;

    for (; k > 0; k--) {
        if (memcmp(t + tlen - k, lp->delim, k) == 0)
            return k;
    }
    return 0;
}

/* The current line is over the limit. Nothing of this feed's data is consumed:
 * in RESYNC mode the caller feeds it again and the parser discards it. */
static ssize_t overflow(twc_line_parser *lp)
{
    size_t old = twc_buf_len(&lp->buf);

    /* Keep the stream's last bytes: the discarded line's delimiter may start there. */
    lp->tail_len = stream_tail(twc_buf_data(&lp->buf), old, NULL, 0, lp->dlen - 1, lp->tail);
    twc_buf_cleanup(&lp->buf);
    if (lp->overflow == TWC_LINE_OVERFLOW_RESYNC)
        set_state(lp, TWC_LINE_S_DISCARD);
    else
        set_state(lp, TWC_LINE_S_FAILED);
    return TWC_ETOOBIG;
}

static ssize_t feed_line(twc_line_parser *lp, const uint8_t *data, size_t len,
                         struct twc_line_event *ev)
{
    size_t old = twc_buf_len(&lp->buf);
    size_t plen = old < lp->dlen - 1 ? old : lp->dlen - 1;
    const uint8_t *prev = plen > 0 ? twc_buf_data(&lp->buf) + (old - plen) : NULL;
    size_t at, line_len, k, tlen;
    uint8_t t[TWC_LINE_DELIM_MAX];
    int rc;

    at = find_delim(lp, prev, plen, data, len);
    if (at > 0) {
        line_len = old + at - lp->dlen;
        if (line_len > lp->max_line)
            return overflow(lp);
        ev->type = TWC_LINE_EV_LINE;
        if (old == 0) {
            /* The common case: the whole line is in data, no copy. */
            ev->line.p = data;
            ev->line.len = line_len;
            return (ssize_t)at;
        }
        if (at > lp->dlen) {
            rc = twc_buf_append(&lp->buf, data, at - lp->dlen);
            if (rc != 0)
                return rc;
        }
        /* buf may end with delimiter bytes (a straddling "\r"): line_len excludes them. */
        ev->line.p = twc_buf_data(&lp->buf);
        ev->line.len = line_len;
        lp->delivered = true;
        return (ssize_t)at;
    }

    /* No delimiter yet. Fail as soon as the line is certainly too long, whatever
     * follows: the bytes that could begin a delimiter do not count yet, so every
     * split of the input fails on the same line. */
    tlen = stream_tail(prev, plen, data, len, lp->dlen - 1, t);
    k = partial_delim(lp, t, tlen);
    if (len > SIZE_MAX - old || old + len - k > lp->max_line)
        return overflow(lp);
    rc = twc_buf_append(&lp->buf, data, len);
    if (rc != 0)
        return rc;
    return (ssize_t)len;
}

static ssize_t feed_discard(twc_line_parser *lp, const uint8_t *data, size_t len)
{
    uint8_t t[TWC_LINE_DELIM_MAX];
    size_t at = find_delim(lp, lp->tail, lp->tail_len, data, len);

    if (at > 0) {
        lp->tail_len = 0;
        set_state(lp, TWC_LINE_S_LINE);
        return (ssize_t)at;
    }
    lp->tail_len = stream_tail(lp->tail, lp->tail_len, data, len, lp->dlen - 1, t);
    memcpy(lp->tail, t, lp->tail_len);
    return (ssize_t)len;
}

ssize_t twc_line_parser_feed(twc_line_parser *lp, const uint8_t *data, size_t len,
                             struct twc_line_event *ev)
{
    size_t n;

    ev->type = TWC_LINE_EV_NONE;
    ev->line.p = NULL;
    ev->line.len = 0;
    ev->raw_done = false;
    drop_delivered(lp);
    if (lp->state == TWC_LINE_S_FAILED)
        return TWC_ETOOBIG;
    if (len == 0)
        return 0;

    switch (lp->state) {
    case TWC_LINE_S_LINE:
        return feed_line(lp, data, len, ev);
    case TWC_LINE_S_DISCARD:
        return feed_discard(lp, data, len);
    case TWC_LINE_S_RAW:
        ev->type = TWC_LINE_EV_RAW;
        ev->line.p = data;
        ev->line.len = len;
        return (ssize_t)len;
    case TWC_LINE_S_RAW_N:
        n = lp->raw_left < len ? (size_t)lp->raw_left : len;
        lp->raw_left -= n;
        ev->type = TWC_LINE_EV_RAW;
        ev->line.p = data;
        ev->line.len = n;
        if (lp->raw_left == 0) {
            ev->raw_done = true;
            set_state(lp, TWC_LINE_S_LINE);
        }
        return (ssize_t)n;
    case TWC_LINE_S_FAILED:
        break;
    }
    return TWC_EINTERNAL;
}

/* Line receiver. */

void twc_line_receiver_init(twc_line_receiver *lr, const struct twc_line_limits *lim,
                            const struct twc_line_receiver_ops *ops, void *arg)
{
    twc_line_parser_init(&lr->parser, lim);
    lr->ops = ops;
    lr->arg = arg;
    lr->stop = false;
}

void twc_line_receiver_cleanup(twc_line_receiver *lr)
{
    twc_line_parser_cleanup(&lr->parser);
}

twc_line_parser *twc_line_receiver_parser(twc_line_receiver *lr)
{
    return &lr->parser;
}

void twc_line_receiver_stop(twc_line_receiver *lr)
{
    lr->stop = true;
}

ssize_t twc_line_receiver_feed(twc_line_receiver *lr, const uint8_t *data, size_t len)
{
    struct twc_line_event ev;
    size_t off = 0;
    ssize_t n;

    lr->stop = false;
    /* Already failed: the overflow was reported when it happened. */
    if (lr->parser.state == TWC_LINE_S_FAILED)
        return TWC_ETOOBIG;
    while (off < len) {
        n = twc_line_parser_feed(&lr->parser, data + off, len - off, &ev);
        if (n == TWC_ETOOBIG) {
            if (lr->ops->line_too_long != NULL)
                lr->ops->line_too_long(lr->arg, lr->parser.max_line);
            if (lr->parser.state == TWC_LINE_S_FAILED)
                return TWC_ETOOBIG;
            /* RESYNC: the parser now discards; the same bytes go in again. */
            if (lr->stop)
                break;
            continue;
        }
        if (n < 0)
            return n;
        off += (size_t)n;
        if (ev.type == TWC_LINE_EV_LINE) {
            lr->ops->line_received(lr->arg, ev.line.p, ev.line.len);
        } else if (ev.type == TWC_LINE_EV_RAW) {
            if (lr->ops->raw_received == NULL)
                return TWC_EINVAL;
            lr->ops->raw_received(lr->arg, ev.line.p, ev.line.len, ev.raw_done);
        }
        if (lr->stop)
            break;
    }
    lr->stop = false;
    return (ssize_t)off;
}
