/*
 * HTTP/1.1 protocol layer (RFC 9110 semantics, RFC 9112 message syntax): pure
 * parsers and serializers, no sockets, no reactor, no logging (STYLE.md §8).
 *
 * One parser type serves both directions:
 *   - a request parser (servers): twc_http_request_parser_init();
 *   - a response parser (clients): twc_http_response_parser_init(), told the
 *     method of the request each response answers (HEAD and CONNECT change
 *     the framing, RFC 9112 §6.3).
 *
 * Feeding. twc_http_parser_feed() consumes a prefix of the input and reports at
 * most one event. Call it again with the rest until everything is consumed:
 *
 *     while (off < len) {
 *         ssize_t n = twc_http_parser_feed(&p, data + off, len - off, &ev);
 *         if (n < 0) { send ev.status (requests) and close; break; }
 *         off += (size_t)n;
 *         handle(&ev);   // HEAD, BODY, END, or NONE (more input needed)
 *     }
 *
 * Any split of the input gives the same events (body bytes may arrive in
 * differently sized BODY pieces). Events of one message:
 *   HEAD                the head is complete: ev.head. ev.complete when the
 *                       message has no body (GET, Content-Length: 0, 204...).
 *   BODY (0 or more)    ev.body is a piece of the decoded body (never empty);
 *                       ev.complete on the last piece of a Content-Length body.
 *   END                 chunked body done (ev.trailers), or a read-until-close
 *                       response ended by twc_http_parser_eof(); ev.complete.
 * After a complete event the parser is ready for the next message on the same
 * connection (pipelining: several messages in one buffer parse in order).
 *
 * Lifetimes. Every slice in an event (head fields, header names and values,
 * body, trailers) is borrowed: it points into the data passed to that feed call
 * or into the parser's own buffer, and stays valid until the next call to
 * feed, eof, reset or cleanup. Copy what must live longer.
 *
 * Strictness (request smuggling, RFC 9112 §11.2, is impossible through a proxy
 * that parses differently because every ambiguity is refused):
 *   - lines end with CRLF; a bare LF or a bare CR anywhere in the head is 400;
 *   - obs-fold (a line starting with SP/HTAB), whitespace before the colon,
 *     non-token name bytes, NUL and other controls in values are 400;
 *   - Content-Length must be digits only; a second Content-Length field line is
 *     400 even when identical (RFC 9110 §8.6 lets a recipient merge identical
 *     values; we take the strict option), and so is a list value ("5, 5");
 *   - Content-Length with Transfer-Encoding is 400 (requests); a transfer coding
 *     other than chunked is 501; chunked not last or repeated is 400;
 *     Transfer-Encoding in an HTTP/1.0 request is 400 (RFC 9112 §6.1);
 *   - HTTP/1.1 requests need exactly one Host field (RFC 9112 §3.2), else 400;
 *   - chunk framing is CRLF-exact; chunk sizes are checked for overflow.
 * Errors make feed return a negative TWC_E* code (TWC_EPROTO for malformed
 * input, TWC_ETOOBIG for a limit, TWC_ENOMEM) and set ev.status to the status
 * a server must answer with (a response parser always says 502, what a proxy
 * would answer) and ev.why to a short static description; the parser then
 * stays failed (every feed repeats the error) until twc_http_parser_reset().
 * Limits are checked before content and each line is judged when its CRLF
 * arrives, so the error, too, is the same for every split of the input.
 *
 * Memory: the parser allocates its head buffer and header table lazily, keeps
 * them across messages (no allocation per request), and never holds more than
 * the limits allow. twc_http_parser_shrink() gives it back on idle connections.
 */
#ifndef TWC_PROTO_HTTP_HTTP_H
#define TWC_PROTO_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

/* Limits; a zero field selects the default from lib/limits.h. */
struct twc_http_limits {
    size_t max_start_line;   /* request-line (414) or status-line, CRLF excluded; also the
                                bytes of empty lines allowed before it (400) */
    size_t max_header_bytes; /* header section after the start line, final CRLF included
                                (431); the same bound applies to a trailer section */
    size_t max_headers;      /* field lines in a header or trailer section (431) */
    uint64_t max_body;       /* decoded body bytes (413; responses 502); UINT64_MAX: none */
    size_t max_chunk_line;   /* chunk-size line with extensions, CRLF excluded (400) */
};

/* A field line: name and value with the surrounding whitespace stripped. */
typedef struct twc_http_header {
    twc_slice name;
    twc_slice value;
} twc_http_header;

enum twc_http_framing {
    TWC_HTTP_BODY_NONE,    /* no body (or Content-Length: 0) */
    TWC_HTTP_BODY_LENGTH,  /* content_length bytes */
    TWC_HTTP_BODY_CHUNKED, /* chunked transfer coding, maybe with trailers */
    TWC_HTTP_BODY_CLOSE,   /* responses: everything until the connection closes */
};

/* RFC 9112 §3.2: the four forms of request-target. */
enum twc_http_target_form {
    TWC_HTTP_TARGET_ORIGIN,    /* "/path?query" */
    TWC_HTTP_TARGET_ABSOLUTE,  /* "http://host/path" (to proxies, or any server) */
    TWC_HTTP_TARGET_AUTHORITY, /* "host:port", CONNECT only */
    TWC_HTTP_TARGET_ASTERISK,  /* "*", OPTIONS only */
};

/* What the method of the request means for the response's framing. */
enum twc_http_method_kind {
    TWC_HTTP_METHOD_OTHER,
    TWC_HTTP_METHOD_HEAD,    /* response never has a body (RFC 9110 §9.3.2) */
    TWC_HTTP_METHOD_CONNECT, /* a 2xx response starts a tunnel (RFC 9110 §9.3.6) */
};

/* A parsed message head. Slices are borrowed (see Lifetimes above). */
struct twc_http_head {
    /* Requests. */
    twc_slice method; /* a token; case-sensitive (RFC 9110 §9.1) */
    twc_slice target; /* request-target as received */
    enum twc_http_target_form target_form;
    /* Responses. */
    int status;       /* 100..999 */
    twc_slice reason; /* reason-phrase, possibly empty */
    /* Both. */
    int version_minor; /* 0 or 1 (HTTP/1.x, x > 1, is treated as 1.1, RFC 9110 §2.5) */
    const twc_http_header *headers; /* in arrival order */
    size_t nheaders;
    twc_slice host; /* requests: the Host value (empty slice when absent) */
    enum twc_http_framing framing;
    uint64_t content_length; /* LENGTH: the body size; else 0 */
    bool keep_alive;         /* the connection may carry another message after this one */
    bool expect_continue;    /* requests: HTTP/1.1 "Expect: 100-continue" */
    bool upgrade;            /* "Connection: upgrade" with an Upgrade field */
};

enum twc_http_event_type {
    TWC_HTTP_EV_NONE, /* input consumed, nothing complete yet */
    TWC_HTTP_EV_HEAD, /* ev->head */
    TWC_HTTP_EV_BODY, /* ev->body: a non-empty piece of the decoded body */
    TWC_HTTP_EV_END,  /* end of a chunked or read-until-close body: ev->trailers */
};

struct twc_http_event {
    enum twc_http_event_type type;
    bool complete;                    /* this event ends the message */
    const struct twc_http_head *head; /* HEAD only (NULL otherwise): copy what you keep */
    twc_slice body;                   /* BODY */
    const twc_http_header *trailers;  /* END after a chunked body; else NULL */
    size_t ntrailers;
    int status;      /* on error: the HTTP status to answer (400, 413, 414, 417, 431, 501, 505) */
    const char *why; /* on error: static description, e.g. "obs-fold in header section" */
};

/* Header offsets kept while a head is incomplete (private). */
struct twc__http_hoff {
    uint32_t name, name_len, value, value_len;
};

/* Caller-owned storage (embed it); the fields are private: use the functions. */
typedef struct twc_http_parser {
    struct twc_http_limits lim;
    bool response;   /* a response parser */
    int state;       /* private enum in parse.c */
    int method_kind; /* responses: enum twc_http_method_kind of the request */
    /* Head or trailer section being collected: offsets are relative to its start,
     * in the caller's data (fast path) or in buf once a feed ended inside it. */
    uint8_t *buf;
    size_t buf_len, buf_cap, buf_max;
    size_t scan;       /* bytes already scanned for line ends */
    size_t line_start; /* offset of the current line */
    size_t lead;       /* leading empty-line bytes before the start line */
    size_t sect_start; /* offset where the field section starts */
    struct twc__http_hoff *hoff;
    twc_http_header *hdrs;
    size_t nhdr, hdr_cap;
    /* Start line, as offsets. */
    uint32_t m_off, m_len, t_off, t_len, r_off, r_len;
    /* Framing facts gathered from the fields. */
    unsigned flags;
    uint64_t cl;
    size_t host_off, host_len;
    /* Body. */
    uint64_t remaining; /* LENGTH: body bytes left; CHUNKED: bytes left in this chunk */
    uint64_t body_total;
    size_t chunk_line; /* bytes of the current chunk-size line */
    int chunk_digits;
    struct twc_http_head head;
    /* Failure. */
    int err_code, err_status;
    const char *err_why;
} twc_http_parser;

/* Initialise a request (server side) or response (client side) parser.
 * lim may be NULL for the defaults; it is copied. Allocates nothing. */
void twc_http_request_parser_init(twc_http_parser *p, const struct twc_http_limits *lim);
void twc_http_response_parser_init(twc_http_parser *p, const struct twc_http_limits *lim);
/* Free the buffers. The parser can be initialised again. */
void twc_http_parser_cleanup(twc_http_parser *p);
/* Forget any partial message and any failure; keep the allocations. */
void twc_http_parser_reset(twc_http_parser *p);
/* Free the buffers if no message is in progress (an idle keep-alive connection). */
void twc_http_parser_shrink(twc_http_parser *p);

/* Responses: the method of the request the next response answers. Stays in
 * force until changed (a 1xx response is followed by the final one for the same
 * request). Default: TWC_HTTP_METHOD_OTHER. */
void twc_http_response_parser_set_method(twc_http_parser *p, enum twc_http_method_kind kind);
/* Map a method name to its kind ("HEAD", "CONNECT", anything else). Borrows. */
enum twc_http_method_kind twc_http_method_kind_of(const char *method, size_t len);

/* Consume a prefix of data[0..len) and fill *ev (always). Returns the bytes
 * consumed (0 < n <= len when len > 0; 0 for len == 0), or a negative TWC_E*
 * code with ev->status and ev->why set: TWC_ETOOBIG for a limit (413, 414, 431),
 * TWC_EPROTO for malformed input. data is borrowed for the call; the event's
 * slices stay valid until the next feed/eof/reset/cleanup. After a response
 * with status 101, or a 2xx answer to CONNECT, the bytes that follow belong to
 * another protocol: stop feeding (the parser returns TWC_EPROTO if fed). */
ssize_t twc_http_parser_feed(twc_http_parser *p, const uint8_t *data, size_t len,
                             struct twc_http_event *ev);

/* The peer closed the connection. Fills *ev and returns: 0 with an END event
 * (complete) when that ends a read-until-close response body; 0 with a NONE
 * event when the parser was between messages; TWC_EOF when a message was cut
 * short (ev->status 400); the stored error when the parser had failed. */
int twc_http_parser_eof(twc_http_parser *p, struct twc_http_event *ev);

/* True between messages with no byte of the next one seen (safe to close). */
bool twc_http_parser_idle(const twc_http_parser *p);

/* Find the first field named name (case-insensitive) in h; returns its value
 * slice (borrowed, like h) and true, or false. */
bool twc_http_head_get(const struct twc_http_head *h, const char *name, twc_slice *value);

/* ---- Serializers (serialize.c). All append to a twc_buf and return 0, or the
 * buffer's TWC_ETOOBIG / TWC_ENOMEM, or TWC_EINVAL for bytes that would break
 * the framing (CR, LF or NUL in a name or value, a non-token name). ---- */

/* "HTTP/1.<minor> <status> <reason>\r\n"; reason NULL selects
 * twc_http_reason(status). status must be 100..999. */
int twc_http_write_status_line(twc_buf *b, int minor, int status, const char *reason);
/* "<method> <target> HTTP/1.<minor>\r\n". */
int twc_http_write_request_line(twc_buf *b, const char *method, size_t mlen, const char *target,
                                size_t tlen, int minor);
/* "<name>: <value>\r\n". */
int twc_http_write_header(twc_buf *b, const char *name, size_t nlen, const char *value,
                          size_t vlen);
/* The same with NUL-terminated strings. */
int twc_http_write_header_str(twc_buf *b, const char *name, const char *value);
/* The empty line that ends a header (or trailer) section. */
int twc_http_write_end_of_head(twc_buf *b);
/* A whole head: start line, h's fields, empty line (used to re-serialize a
 * parsed head; requests when h->method is set, else responses). */
int twc_http_write_head(twc_buf *b, const struct twc_http_head *h);
/* One chunk of the chunked coding: "<hex len>\r\n<data>\r\n". len 0 writes
 * nothing (an empty chunk would end the body). */
int twc_http_write_chunk(twc_buf *b, const void *data, size_t len);
/* Just "<hex len>\r\n" for a chunk whose data is written separately (zero
 * copy), to be followed by the data and twc_http_write_chunk_end(). len > 0. */
int twc_http_write_chunk_header(twc_buf *b, uint64_t len);
int twc_http_write_chunk_end(twc_buf *b);
/* The last chunk "0\r\n", trailer fields (may be NULL/0), and the final CRLF. */
int twc_http_write_last_chunk(twc_buf *b, const twc_http_header *trailers, size_t n);

/* Reason phrase of a status (RFC 9110 §15), "Unknown" for others. Static. */
const char *twc_http_reason(int status);

#define TWC_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
/* Format t as an IMF-fixdate (RFC 9110 §5.6.7) into out (TWC_HTTP_DATE_LEN
 * bytes plus a NUL). Returns TWC_HTTP_DATE_LEN, or TWC_EINVAL for a year
 * outside 0..9999. */
int twc_http_date_format(time_t t, char out[TWC_HTTP_DATE_LEN + 1]);

/* ---- Helpers (util.c). ---- */

/* Parse an HTTP-date in any of the three formats of RFC 9110 §5.6.7
 * (IMF-fixdate, obsolete RFC 850 with a two-digit year read per §5.6.7, and
 * asctime). Returns 0 with *out, or TWC_EINVAL. now is used only for the RFC
 * 850 year rule (pass time(NULL); tests pass a fixed value). */
int twc_http_date_parse(const char *s, size_t len, time_t now, time_t *out);

/* Percent-decode s[0..len) into out (room for len bytes; the output is never
 * longer). Returns 0 with *outlen, or TWC_EINVAL for a malformed escape, or
 * when refuse_slash_nul is set for an escaped '/' ("%2F") or any NUL, raw or
 * escaped. '+' is left alone (that is form encoding, not URI). */
int twc_http_pct_decode(const char *s, size_t len, char *out, size_t *outlen,
                        bool refuse_slash_nul);

/* Turn the path of an origin-form target into a safe file path: stop at '?' or
 * '#', percent-decode (refusing "%2F", NUL and bad escapes), and remove dot
 * segments (RFC 3986 §5.2.4) so the result never climbs above "/". The result
 * starts with '/' and keeps a trailing '/'. out needs room for len + 1 bytes
 * (NUL-terminated). Returns 0 with *outlen, or TWC_EINVAL (not starting with
 * '/', or refused as above). */
int twc_http_path_normalize(const char *target, size_t len, char *out, size_t *outlen);

/* Iterate over a comma-separated list value (RFC 9110 §5.6.1): sets *elem to
 * the next non-empty element with OWS trimmed and advances *pos. Returns false
 * at the end. Quoted strings are kept whole (commas inside them do not split). */
bool twc_http_list_next(const uint8_t *v, size_t len, size_t *pos, twc_slice *elem);
/* True when the list value contains token (case-insensitive), e.g. "close" in
 * a Connection value. Only the part of an element before ';' is compared. */
bool twc_http_list_has(const uint8_t *v, size_t len, const char *token);
/* Case-insensitive ASCII comparison of a slice with a NUL-terminated string. */
bool twc_http_slice_eq(twc_slice s, const char *lit);

/* A byte range, inclusive, resolved against a representation's size. */
struct twc_http_range {
    uint64_t first, last;
};
enum twc_http_range_result {
    TWC_HTTP_RANGE_IGNORE,        /* malformed, other unit, or too many ranges: send 200 */
    TWC_HTTP_RANGE_OK,            /* *n satisfiable ranges, in request order: send 206 */
    TWC_HTTP_RANGE_UNSATISFIABLE, /* valid but no range overlaps the file: send 416 */
};
/* Parse a Range value (RFC 9110 §14.1.2, §14.2) for a representation of size
 * bytes: "bytes=0-499", "bytes=-500" (suffix), "bytes=9500-", and lists of
 * them. Ranges past the end are clamped; unsatisfiable ones are dropped from a
 * list that has satisfiable ones. At most max ranges (else IGNORE); out has room
 * for max. */
enum twc_http_range_result twc_http_range_parse(const char *v, size_t len, uint64_t size,
                                                struct twc_http_range *out, size_t max, size_t *n);

/* Does the entity-tag list in an If-None-Match (weak comparison, RFC 9110
 * §13.1.2) or If-Match (strong, §13.1.1) value match etag (a full entity-tag
 * such as "\"abc\"" or "W/\"abc\"")? "*" matches any. Returns 1, 0, or
 * TWC_EINVAL for a malformed list (RFC 9110 §13.1: then ignore the field). */
int twc_http_etag_match(const char *list, size_t len, const char *etag, size_t etag_len, bool weak);

#endif
