/*
 * Internals shared by the files of proto/http (parse.c, response_parse.c,
 * util.c, serialize.c) and their tests. Not part of the public API.
 */
#ifndef TWC_PROTO_HTTP_HTTP_INT_H
#define TWC_PROTO_HTTP_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http/http.h"

/* Byte classes (RFC 9110 §5.6.2 tchar, §5.5 field-vchar). */
enum {
    TWC__HTTP_C_TCHAR = 1,  /* token character */
    TWC__HTTP_C_FIELD = 2,  /* allowed inside a field value: HTAB, SP, VCHAR, obs-text */
    TWC__HTTP_C_HEX = 4,    /* hex digit */
    TWC__HTTP_C_TARGET = 8, /* allowed in a request-target: VCHAR (0x21-0x7e) */
    TWC__HTTP_C_HOST = 16,  /* allowed in a Host value (RFC 3986 §3.2.2, §3.2.3) */
};
extern const uint8_t twc__http_ctype[256];

/* Facts gathered from the fields of a head (twc_http_parser.flags). */
enum {
    TWC__HTTP_F_START_DONE = 1u << 0,    /* start line parsed; collecting fields */
    TWC__HTTP_F_CL = 1u << 1,            /* Content-Length seen */
    TWC__HTTP_F_TE = 1u << 2,            /* Transfer-Encoding seen */
    TWC__HTTP_F_TE_CHUNKED = 1u << 3,    /* "chunked" among the codings */
    TWC__HTTP_F_TE_LAST = 1u << 4,       /* ... and it is the last one so far */
    TWC__HTTP_F_TE_REPEAT = 1u << 5,     /* "chunked" more than once */
    TWC__HTTP_F_TE_UNKNOWN = 1u << 6,    /* a coding other than chunked */
    TWC__HTTP_F_HOST = 1u << 7,          /* Host seen */
    TWC__HTTP_F_CONN_CLOSE = 1u << 8,    /* Connection: close */
    TWC__HTTP_F_CONN_KEEP = 1u << 9,     /* Connection: keep-alive */
    TWC__HTTP_F_CONN_UPGRADE = 1u << 10, /* Connection: upgrade */
    TWC__HTTP_F_UPGRADE = 1u << 11,      /* an Upgrade field */
    TWC__HTTP_F_EXPECT_CONT = 1u << 12,  /* Expect: 100-continue */
    TWC__HTTP_F_EXPECT_OTHER = 1u << 13, /* another expectation */
    TWC__HTTP_F_TRAILERS = 1u << 14,     /* the section being collected is a trailer section */
};

/* Parser states (twc_http_parser.state). */
enum {
    TWC__HTTP_S_HEAD,          /* start line and header section */
    TWC__HTTP_S_BODY_LENGTH,   /* Content-Length body */
    TWC__HTTP_S_BODY_CLOSE,    /* response body until the connection closes */
    TWC__HTTP_S_CHUNK_SIZE,    /* hex digits of a chunk-size */
    TWC__HTTP_S_CHUNK_EXT,     /* chunk extensions, ignored up to CR */
    TWC__HTTP_S_CHUNK_SIZE_LF, /* LF after the chunk-size line */
    TWC__HTTP_S_CHUNK_DATA,    /* chunk data */
    TWC__HTTP_S_CHUNK_DATA_CR, /* CR after chunk data */
    TWC__HTTP_S_CHUNK_DATA_LF, /* LF after chunk data */
    TWC__HTTP_S_TRAILERS,      /* trailer section after the last chunk */
    TWC__HTTP_S_NEXT,          /* message done; the next feed starts a new one */
    TWC__HTTP_S_UPGRADED,      /* the connection switched protocols (101, CONNECT 2xx) */
    TWC__HTTP_S_FAILED,        /* error stored; feed repeats it */
};

/* Record a failure (state FAILED) and return code. */
int twc__http_fail(twc_http_parser *p, int code, int status, const char *why);
/* Common initialisation for both directions. */
void twc__http_parser_init(twc_http_parser *p, const struct twc_http_limits *lim, bool response);

/* response_parse.c: parse a status-line l[0..n) found at offset off of the head. */
int twc__http_parse_status_line(twc_http_parser *p, const uint8_t *l, size_t n, size_t off);
/* response_parse.c: decide the framing of a complete response head (RFC 9112 §6.3);
 * sets p->head fields and returns 0, or fails. */
int twc__http_response_framing(twc_http_parser *p);

/* Case-insensitive comparison of n bytes with a lower-case literal. */
static inline bool twc__http_lc_eq(const uint8_t *a, const char *lit, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint8_t c = a[i];

        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)lit[i])
            return false;
    }
    return true;
}

/* A hex digit's value (either case), or -1. */
int twc__http_hexval(uint8_t c);

#endif
