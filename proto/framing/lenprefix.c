/*
 * Length-prefixed framing (lenprefix.h): Twisted's Int8/Int16/Int32StringReceiver.
 *
 * The prefix is read one byte at a time, so a prefix split across feeds needs
 * no buffer, and an oversized length fails before any payload is stored. A
 * frame that arrives whole is returned as a slice of the caller's data.
 */
#include "lenprefix.h"

#include <string.h>

#include "err.h"
#include "limits.h"

static const char *const state_names[] = {
    [TWC_LENPREFIX_S_PREFIX] = "prefix",
    [TWC_LENPREFIX_S_PAYLOAD] = "payload",
    [TWC_LENPREFIX_S_FAILED] = "failed",
};

const char *twc_lenprefix_state_name(enum twc_lenprefix_state st)
{
    if ((size_t)st < sizeof(state_names) / sizeof(state_names[0]))
        return state_names[st];
    return "unknown";
}

static void set_state(twc_lenprefix_parser *lp, enum twc_lenprefix_state st)
{
    if (lp->trace != NULL && st != lp->state)
        lp->trace(lp->trace_arg, "lenprefix", twc_lenprefix_state_name(lp->state),
                  twc_lenprefix_state_name(st));
    lp->state = st;
}

/* Largest length a width-byte prefix can carry. */
static uint64_t width_max(unsigned width)
{
    return width == 4 ? UINT32_MAX : width == 2 ? UINT16_MAX : UINT8_MAX;
}

static bool width_ok(unsigned width)
{
    return width == 1 || width == 2 || width == 4;
}

int twc_lenprefix_parser_init(twc_lenprefix_parser *lp, unsigned width,
                              const struct twc_lenprefix_limits *lim)
{
    memset(lp, 0, sizeof(*lp));
    if (!width_ok(width))
        return TWC_EINVAL;
    lp->state = TWC_LENPREFIX_S_PREFIX;
    lp->width = width;
    lp->max_len = lim != NULL && lim->max_len > 0 ? lim->max_len : TWC_LENGTH_PREFIX_MAX;
    twc_buf_init(&lp->buf, lp->max_len);
    return 0;
}

void twc_lenprefix_parser_cleanup(twc_lenprefix_parser *lp)
{
    twc_buf_cleanup(&lp->buf);
    lp->delivered = false;
}

static void start_next(twc_lenprefix_parser *lp)
{
    lp->len = 0;
    lp->have = 0;
    set_state(lp, TWC_LENPREFIX_S_PREFIX);
}

void twc_lenprefix_parser_reset(twc_lenprefix_parser *lp)
{
    twc_buf_cleanup(&lp->buf);
    lp->delivered = false;
    lp->err = 0;
    start_next(lp);
}

/* The stream is out of step (or we are out of memory): the failure sticks. */
static ssize_t fail(twc_lenprefix_parser *lp, int code)
{
    twc_buf_cleanup(&lp->buf);
    lp->err = code;
    set_state(lp, TWC_LENPREFIX_S_FAILED);
    return code;
}

void twc_lenprefix_parser_set_trace(twc_lenprefix_parser *lp, twc_framing_trace_fn fn, void *arg)
{
    lp->trace = fn;
    lp->trace_arg = arg;
}

enum twc_lenprefix_state twc_lenprefix_parser_state(const twc_lenprefix_parser *lp)
{
    return lp->state;
}

bool twc_lenprefix_parser_idle(const twc_lenprefix_parser *lp)
{
    return lp->state == TWC_LENPREFIX_S_PREFIX && lp->have == 0;
}

ssize_t twc_lenprefix_parser_feed(twc_lenprefix_parser *lp, const uint8_t *data, size_t len,
                                  struct twc_lenprefix_event *ev)
{
    size_t i = 0;

    ev->type = TWC_LENPREFIX_EV_NONE;
    ev->payload.p = NULL;
    ev->payload.len = 0;
    if (lp->delivered) {
        twc_buf_consume(&lp->buf, twc_buf_len(&lp->buf));
        lp->delivered = false;
    }
    if (lp->state == TWC_LENPREFIX_S_FAILED)
        return lp->err;

    while (i < len) {
        size_t have, need, avail, take;
        int rc;

        switch (lp->state) {
        case TWC_LENPREFIX_S_PREFIX:
            lp->len = (lp->len << 8) | data[i++]; /* network byte order */
            if (++lp->have < lp->width)
                break;
            if (lp->len > lp->max_len)
                return fail(lp, TWC_ETOOBIG);
            if (lp->len == 0) {
                ev->type = TWC_LENPREFIX_EV_FRAME;
                ev->payload.p = data + i; /* empty, but never NULL */
                start_next(lp);
                return (ssize_t)i;
            }
            set_state(lp, TWC_LENPREFIX_S_PAYLOAD);
            break;
        case TWC_LENPREFIX_S_PAYLOAD:
            have = twc_buf_len(&lp->buf);
            need = (size_t)lp->len - have;
            avail = len - i;
            if (have == 0 && avail >= need) {
                ev->type = TWC_LENPREFIX_EV_FRAME;
                ev->payload.p = data + i;
                ev->payload.len = need;
                start_next(lp);
                return (ssize_t)(i + need);
            }
            take = avail < need ? avail : need;
            rc = twc_buf_append(&lp->buf, data + i, take);
            if (rc != 0)
                return fail(lp, rc);
            i += take;
            if (take == need) {
                ev->type = TWC_LENPREFIX_EV_FRAME;
                ev->payload.p = twc_buf_data(&lp->buf);
                ev->payload.len = twc_buf_len(&lp->buf);
                lp->delivered = true;
                start_next(lp);
                return (ssize_t)i;
            }
            break;
        case TWC_LENPREFIX_S_FAILED:
            return lp->err;
        }
    }
    return (ssize_t)i;
}

int twc_lenprefix_encode(twc_buf *out, unsigned width, const void *data, size_t len)
{
    uint8_t *dst;
    unsigned i;
    int rc;

    if (!width_ok(width))
        return TWC_EINVAL;
    if ((uint64_t)len > width_max(width))
        return TWC_ETOOBIG;
    dst = twc_buf_reserve(out, width + len, &rc);
    if (dst == NULL)
        return rc;
    for (i = 0; i < width; i++)
        dst[i] = (uint8_t)(len >> (8 * (width - 1 - i)));
    if (len > 0)
        memcpy(dst + width, data, len);
    twc_buf_commit(out, width + len);
    return 0;
}
