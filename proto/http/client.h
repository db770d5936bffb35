/*
 * HTTP/1.1 client: Twisted's Agent in C.
 *
 * An agent sends requests and keeps connections for reuse:
 *   - a pool of idle keep-alive connections per scheme://host:port, at most
 *     max_idle_per_host each, closed after idle_ms without use;
 *   - host names through the c-ares resolver and Happy Eyeballs
 *     (lib/connect.h); numeric addresses need no lookup;
 *   - https:// through lib/tls.h: the peer certificate is verified against the
 *     system CAs (or ca_certs) and the URL's host (SNI + host check) unless
 *     `insecure`;
 *   - redirects (301, 302, 303, 307, 308) followed up to max_redirects when
 *     asked, with the method rewritten as RFC 9110 §15.4 allows and browsers
 *     and curl do: 303 turns anything but HEAD into GET, 301/302 turn POST into
 *     GET, 307/308 keep the method and the body (a streamed body cannot be sent
 *     twice, so its 307/308 responses are returned, not followed);
 *   - timeouts: connect (lookup, TCP and TLS handshake), response head (from
 *     the end of the request head to the response head), and idle body (no
 *     response byte for that long while the consumer is not paused).
 *
 * One request, as seen by its user:
 *
 *     req = twc_http_client_request_new(agent, &opts, &err);
 *     d = twc_http_client_request_head(req);   // fires with the twc_http_response
 *     ... opts.on_body(arg, data, len) for each piece of the decoded body
 *     ... opts.on_end(arg, &err)         // exactly once, last; free req here
 *
 * on_end runs exactly once per request, after the head deferred fired (with
 * the same error when the request failed before a head arrived; code 0 when
 * the body ended completely). The head deferred's value is the response,
 * borrowed from the request (valid until twc_http_client_request_free).
 *
 * Flow control, both ways: a consumer that cannot take more body calls
 * twc_http_client_request_pause (the connection stops reading) and resume later; a
 * streaming request body is written with twc_http_client_request_write, which returns
 * 1 when the caller should stop until on_drain runs.
 *
 * Errors: the resolver's TWC_EDNS* (cannot resolve), the connect errors
 * (-ECONNREFUSED...), TWC_ETIMEDOUT (any of the timeouts; the message says
 * which), TWC_ETLS_VERIFY / TWC_ETLS_HANDSHAKE, TWC_EPROTO (malformed
 * response, or too many redirects: message says so), TWC_EOF (the server
 * closed before a complete response), TWC_ECANCELED (twc_http_client_request_free or
 * twc_http_agent_free before the end).
 */
#ifndef TWC_PROTO_HTTP_CLIENT_H
#define TWC_PROTO_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deferred.h"
#include "err.h"
#include "http.h"
#include "limits.h"
#include "reactor.h"
#include "resolver.h"

/* ---- URLs ------------------------------------------------------------------ */

#define TWC_HTTP_URL_MAX 8192 /* a URL we send or follow, NUL excluded */

/* An absolute http(s) URL split into parts (caller-owned storage). */
struct twc_http_url {
    bool tls;                          /* https */
    char host[256];                    /* without brackets; lower case as given */
    uint16_t port;                     /* explicit, else 80 / 443 */
    bool default_port;                 /* port is the scheme's default (Host then omits it) */
    char target[TWC_HTTP_URL_MAX + 1]; /* origin-form: "/path?query", fragment dropped */
    /* "user:password" percent-decoded from the URL's userinfo (":" added when
     * the URL has no password: an empty one, as curl); "" when there is none. */
    bool has_credentials;
    char credentials[TWC_HTTP_USERINFO_MAX + 2];
};

/* Parse "http[s]://[user[:password]@]host[:port][/path][?query][#fragment]".
 * s is borrowed. Returns 0, or TWC_EINVAL with *err naming the problem (an
 * unknown scheme, a bad port, an empty host, spaces or controls, too long, a
 * userinfo that is malformed or longer than TWC_HTTP_USERINFO_MAX). Messages
 * never quote the userinfo. */
int twc_http_url_parse(struct twc_http_url *u, const char *s, twc_err *err);

/* Copy the URL s to out (outlen bytes, NUL-terminated, truncated to fit)
 * without its "userinfo@", for logs and messages. s may equal out (in place);
 * any string is accepted (no "://": the text before the first '/', '?' or '#'
 * is taken as the authority). Returns the length written. */
size_t twc_http_url_redact(const char *s, char *out, size_t outlen);

/* The Authorization field value for u's credentials (RFC 7617 §2):
 * "Basic " + base64("user:password"), NUL-terminated in out (outlen bytes).
 * Returns its length, or TWC_EINVAL (no credentials) / TWC_ETOOBIG. */
int twc_http_url_basic_auth(const struct twc_http_url *u, char *out, size_t outlen);

/* Resolve the reference ref (a Location value: absolute, "//host/p", "/p",
 * "p", "?q") against the absolute URL base (RFC 3986 §5.2, dot segments
 * removed). Writes a NUL-terminated absolute URL to out (outlen bytes).
 * Returns 0, or TWC_EINVAL / TWC_ETOOBIG. */
int twc_http_url_resolve(const char *base, const char *ref, size_t reflen, char *out,
                         size_t outlen);

/* ---- Agent ----------------------------------------------------------------- */

typedef struct twc_http_agent twc_http_agent;
typedef struct twc_http_client_request twc_http_client_request;

struct twc_http_agent_opts {
    twc_resolver *resolver;      /* borrowed; NULL: numeric hosts only (names fail) */
    const char *ca_certs;        /* PEM file of trusted CAs; NULL: the system store */
    bool insecure;               /* do not verify certificates or host names (-k) */
    unsigned connect_timeout_ms; /* 0: TWC_HTTP_CLIENT_CONNECT_MS */
    unsigned head_timeout_ms;    /* 0: TWC_HTTP_CLIENT_HEAD_MS */
    unsigned body_idle_ms;       /* 0: TWC_HTTP_CLIENT_BODY_IDLE_MS */
    unsigned idle_ms;            /* pooled connection lifetime; 0: TWC_HTTP_CLIENT_IDLE_MS */
    size_t max_idle_per_host;    /* 0: TWC_HTTP_CLIENT_POOL_PER_HOST */
    const struct twc_http_limits *limits; /* response limits; NULL: defaults, no body max */
};

/* A new agent on r. o may be NULL (defaults; no resolver). Strings in o are
 * copied, the resolver borrowed. Returns owned, or NULL with *err
 * (TWC_ETLS_CONFIG for an unreadable ca_certs file, TWC_ENOMEM). */
twc_http_agent *twc_http_agent_new(twc_reactor *r, const struct twc_http_agent_opts *o,
                                   twc_err *err);
/* Close every pooled connection and fail requests still running with
 * TWC_ECANCELED (their on_end runs inside this call; they must still be freed
 * with twc_http_client_request_free). NULL no-op. */
void twc_http_agent_free(twc_http_agent *a);
/* Idle pooled connections (all hosts), for tests. */
size_t twc_http_agent_idle(const twc_http_agent *a);

struct twc_http_client_response;

/* A request header given by the caller (strings borrowed for the call). */
struct twc_http_field {
    const char *name;
    const char *value;
};

/* Streamed request body: Content-Length when known, else chunked. */
#define TWC_HTTP_LENGTH_UNKNOWN UINT64_MAX

struct twc_http_client_request_opts {
    const char *method; /* NULL: "GET" (or "POST" with a body) */
    const char *url;    /* absolute http:// or https:// URL */
    /* Extra fields, sent as given. A Host, User-Agent or Accept here replaces
     * ours; Content-Length, Transfer-Encoding and Connection are ours alone
     * (given ones are dropped), except "Connection: close", which is honoured. */
    const struct twc_http_field *headers;
    size_t nheaders;
    /* Body, either a buffer (copied at once; sent with Content-Length) ... */
    const void *body;
    size_t body_len;
    bool has_body; /* send the buffer even when empty (Content-Length: 0) */
    /* ... or streamed with twc_http_client_request_write/_end (body must be NULL). */
    bool stream_body;
    uint64_t stream_length; /* TWC_HTTP_LENGTH_UNKNOWN: chunked */
    /* Redirects: follow at most max_redirects (0: none are followed). */
    unsigned max_redirects;
    /* Callbacks, all with arg. on_body borrows data for the call (never empty).
     * on_drain: a streamed body may be written again. on_end: see the top. */
    void (*on_body)(void *arg, const uint8_t *data, size_t len);
    void (*on_drain)(void *arg);
    void (*on_end)(void *arg, const twc_err *err);
    /* Optional: a redirect about to be followed (resp borrowed for the call;
     * its body is skipped). Lets `client http -i -L` print every head. */
    void (*on_redirect)(void *arg, const struct twc_http_client_response *resp);
    void *arg;
};

/* A response head, owned by its request. */
struct twc_http_client_response {
    int status;
    int version_minor;
    const char *reason;             /* NUL-terminated */
    const twc_http_header *headers; /* copies, in arrival order */
    size_t nheaders;
    const char *url;    /* the URL that answered (after redirects) */
    unsigned redirects; /* redirects followed to get here */
    enum twc_http_framing framing;
    uint64_t content_length; /* framing LENGTH: the body size */
};

/* Start a request. o is borrowed for the call (strings copied). Returns owned
 * (free with twc_http_client_request_free, usually from on_end), or NULL with *err:
 * TWC_EINVAL for a bad URL or method or header, TWC_ENOMEM. No callback runs
 * inside this call. */
twc_http_client_request *twc_http_client_request_new(twc_http_agent *a,
                                                     const struct twc_http_client_request_opts *o,
                                                     twc_err *err);
/* The head deferred: fires with the final response (struct twc_http_client_response *,
 * borrowed) or fails. Returns a new consumer reference (unref it). Optional:
 * a request whose head deferred nobody took reports failures through on_end
 * only (nothing is logged as an unhandled error). */
twc_deferred *twc_http_client_request_head(twc_http_client_request *req);
/* The response once the head arrived, else NULL. Borrowed. */
const struct twc_http_client_response *
twc_http_client_request_response(const twc_http_client_request *req);
/* First field named name in a response (case-insensitive): its value slice, or
 * false. */
bool twc_http_client_response_get(const struct twc_http_client_response *resp, const char *name,
                                  twc_slice *value);
/* Streamed body: append len bytes (copied). Returns 0, 1 when the caller should
 * stop writing until on_drain, or TWC_EINVAL (not streaming, already ended,
 * more than stream_length) / TWC_ECLOSED (the request ended). */
int twc_http_client_request_write(twc_http_client_request *req, const void *data, size_t len);
/* End of a streamed body. Returns 0, or TWC_EINVAL (fewer bytes than
 * stream_length, or not streaming) / TWC_ECLOSED. */
int twc_http_client_request_end(twc_http_client_request *req);
/* Stop / restart delivering on_body (the connection stops reading). */
void twc_http_client_request_pause(twc_http_client_request *req);
void twc_http_client_request_resume(twc_http_client_request *req);
/* Free. A request still running is cancelled first: its on_end runs with
 * TWC_ECANCELED (and its deferred fails if the head had not come), and its
 * connection is closed. NULL no-op. Safe from inside any of its callbacks
 * (the memory goes when the callback returns). */
void twc_http_client_request_free(twc_http_client_request *req);

#endif
