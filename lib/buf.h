/*
 * Growable byte buffer with a mandatory maximum (curl's dynbuf).
 *
 * Caller-owned storage: twc_buf_init/twc_buf_cleanup. The struct is public
 * only so it can be embedded; touch it through the functions. Consumed bytes
 * at the front are reclaimed lazily, when an append would otherwise grow.
 */
#ifndef TWC_LIB_BUF_H
#define TWC_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct twc_buf {
    uint8_t *mem; /* allocation, or NULL while empty */
    size_t off;   /* start of unconsumed data in mem */
    size_t len;   /* unconsumed bytes */
    size_t cap;   /* allocated bytes */
    size_t max;   /* growth limit for len */
} twc_buf;

/* A view into someone else's bytes; valid until that owner changes them. */
typedef struct twc_slice {
    const uint8_t *p;
    size_t len;
} twc_slice;

/* Initialise an empty buffer that may hold at most max bytes. Allocates nothing. */
void twc_buf_init(twc_buf *b, size_t max);
/* Free the memory; the buffer is empty (and reusable) afterwards. */
void twc_buf_cleanup(twc_buf *b);

/* Append len bytes (copied). Returns 0, TWC_ETOOBIG past max, or TWC_ENOMEM. */
int twc_buf_append(twc_buf *b, const void *data, size_t len);
/* Append formatted text (no NUL kept). Same returns as twc_buf_append. */
int twc_buf_printf(twc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Make room for n more bytes and return where to write them (e.g. for read(2)),
 * or NULL with *rc set to TWC_ETOOBIG / TWC_ENOMEM. Follow with twc_buf_commit. */
uint8_t *twc_buf_reserve(twc_buf *b, size_t n, int *rc);
/* Count n bytes written into the space twc_buf_reserve returned. */
void twc_buf_commit(twc_buf *b, size_t n);

const uint8_t *twc_buf_data(const twc_buf *b); /* borrowed; NULL when empty */
size_t twc_buf_len(const twc_buf *b);
/* Drop n bytes from the front (n <= len). Frees the memory when it empties. */
void twc_buf_consume(twc_buf *b, size_t n);
void twc_buf_reset(twc_buf *b); /* drop everything, keep the allocation */

/* Parse an unsigned decimal from s[0..len) with no sign, no spaces and no
 * leading '+'; the value must be in [min, max]. Returns 0 or TWC_EINVAL. */
int twc_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out);

#endif
