/*
 * twc_buf: a growable byte buffer bounded by a maximum fixed at init.
 *
 * Growth doubles the capacity (capped at max) so appends are amortised O(1);
 * consumed bytes at the front are moved down only when an append needs room,
 * and the memory is released whenever the buffer empties, so idle
 * connections hold no buffer memory at all.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define BUF_MIN_ALLOC 256

void twc_buf_init(twc_buf *b, size_t max)
{
    b->mem = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void twc_buf_cleanup(twc_buf *b)
{
    free(b->mem);
    b->mem = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = 0;
}

uint8_t *twc_buf_reserve(twc_buf *b, size_t n, int *rc)
{
    size_t need, cap;
    uint8_t *mem;

    if (n > b->max || b->len > b->max - n) {
        *rc = TWC_ETOOBIG;
        return NULL;
    }
    need = b->len + n;
    if (b->off + need <= b->cap) {
        *rc = 0;
        return b->mem + b->off + b->len;
    }
    if (need <= b->cap) {
        /* Enough room once the consumed prefix is reclaimed. */
        memmove(b->mem, b->mem + b->off, b->len);
        b->off = 0;
        *rc = 0;
        return b->mem + b->len;
    }
    cap = b->cap < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max && need <= b->max)
        cap = b->max < BUF_MIN_ALLOC ? need : b->max;
    if (b->off > 0) {
        memmove(b->mem, b->mem + b->off, b->len);
        b->off = 0;
    }
    mem = realloc(b->mem, cap);
    if (mem == NULL) {
        *rc = TWC_ENOMEM;
        return NULL;
    }
    b->mem = mem;
    b->cap = cap;
    *rc = 0;
    return b->mem + b->len;
}

void twc_buf_commit(twc_buf *b, size_t n)
{
    b->len += n;
}

int twc_buf_append(twc_buf *b, const void *data, size_t len)
{
    uint8_t *dst;
    int rc;

    if (len == 0)
        return 0;
    dst = twc_buf_reserve(b, len, &rc);
    if (dst == NULL)
        return rc;
    memcpy(dst, data, len);
    b->len += len;
    return 0;
}

int twc_buf_printf(twc_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    uint8_t *dst;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return TWC_EINVAL;
    if ((size_t)n < sizeof(small))
        return twc_buf_append(b, small, (size_t)n);
    /* Reserve n + 1 for vsnprintf's NUL, but count only n bytes. */
    dst = twc_buf_reserve(b, (size_t)n + 1, &rc);
    if (dst == NULL)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const uint8_t *twc_buf_data(const twc_buf *b)
{
    return b->len ? b->mem + b->off : NULL;
}

size_t twc_buf_len(const twc_buf *b)
{
    return b->len;
}

void twc_buf_consume(twc_buf *b, size_t n)
{
    if (n >= b->len) {
        /* Empty: give the memory back so idle holders cost nothing. */
        twc_buf_cleanup(b);
        return;
    }
    b->off += n;
    b->len -= n;
}

void twc_buf_reset(twc_buf *b)
{
    b->off = 0;
    b->len = 0;
}

int twc_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 20)
        return TWC_EINVAL;
    for (i = 0; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return TWC_EINVAL;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return TWC_EINVAL;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return TWC_EINVAL;
    *out = v;
    return 0;
}
