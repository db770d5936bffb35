/*
 * URLs for the HTTP client (client.h): splitting an absolute http(s) URL,
 * its credentials (userinfo) and the Basic field made of them, and resolving
 * a Location reference against the URL it answered (RFC 3986).
 * Pure string code: no allocation beyond a scratch buffer, no I/O.
 */
#include "client.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "proto/http/http_int.h"

#define SHOWN_MAX 120 /* URL bytes quoted in an error message */

static bool url_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

size_t twc_http_url_redact(const char *s, char *out, size_t outlen)
{
    const char *sep = strstr(s, "://"), *auth, *end, *at = NULL, *p;
    size_t head, tail, n;

    if (outlen == 0)
        return 0;
    auth = sep != NULL && (size_t)(sep - s) < strcspn(s, "/?#") ? sep + 3 : s;
    end = auth + strcspn(auth, "/?#");
    /* The last '@' ends the userinfo (browsers and curl agree on that much);
     * dropping through it leaves nothing of a password with a raw '@'. */
    for (p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    head = (size_t)(auth - s);
    tail = at != NULL ? strlen(at + 1) : strlen(auth);
    n = head < outlen - 1 ? head : outlen - 1;
    memmove(out, s, n);
    if (n + tail > outlen - 1)
        tail = outlen - 1 - n;
    memmove(out + n, at != NULL ? at + 1 : auth, tail);
    out[n + tail] = '\0';
    return n + tail;
}

/* RFC 3986 §3.2.1: userinfo = *( unreserved / pct-encoded / sub-delims / ":" ).
 * A raw '@' (or '/', '[', ...) is refused rather than guessed at. */
static bool userinfo_char_ok(char c)
{
    return c != '\0' && (isalnum((unsigned char)c) || strchr("-._~%!$&'()*+,;=:", c) != NULL);
}

/* Percent-decode in[0..len) onto the end of out (at *o). RFC 7617 §2: the
 * user-id and password hold no control characters, and a user-id no ':'.
 * Returns NULL or the reason it is refused. */
static const char *decode_part(const char *in, size_t len, char *out, size_t *o, bool user)
{
    size_t i;

    for (i = 0; i < len; i++) {
        int c = (unsigned char)in[i];

        if (!userinfo_char_ok(in[i]))
            return "has a character that must be percent-encoded";
        if (c == '%') {
            int hi = i + 2 < len ? twc__http_hexval((uint8_t)in[i + 1]) : -1;
            int lo = i + 2 < len ? twc__http_hexval((uint8_t)in[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return "has a bad percent-encoding";
            c = hi * 16 + lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return "has a control character";
        if (user && c == ':')
            return "has ':' in the user name";
        out[(*o)++] = (char)c;
    }
    return NULL;
}

/* Split ui[0..len) ("user[:password]") into u->credentials. Even an empty
 * one ("http://@host/") gives credentials, ":" (curl sends "Basic Og=="). */
static int parse_userinfo(struct twc_http_url *u, const char *ui, size_t len, const char *shown,
                          twc_err *err)
{
    const char *colon = memchr(ui, ':', len), *why;
    size_t ulen = colon != NULL ? (size_t)(colon - ui) : len, o = 0;

    if (len > TWC_HTTP_USERINFO_MAX)
        return twc_err_set(err, TWC_EINVAL, "url '%s': user name and password exceed %d bytes",
                           shown, TWC_HTTP_USERINFO_MAX);
    why = decode_part(ui, ulen, u->credentials, &o, true);
    u->credentials[o++] = ':';
    if (why == NULL && colon != NULL)
        why = decode_part(colon + 1, len - ulen - 1, u->credentials, &o, false);
    u->credentials[o] = '\0';
    if (why != NULL) {
        memset(u->credentials, 0, sizeof(u->credentials));
        return twc_err_set(err, TWC_EINVAL, "url '%s': the user name or password %s", shown,
                           why);
    }
    u->has_credentials = true;
    return 0;
}

int twc_http_url_basic_auth(const struct twc_http_url *u, char *out, size_t outlen)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = (const unsigned char *)u->credentials;
    size_t len = strlen(u->credentials), i, o = 6;

    if (!u->has_credentials)
        return TWC_EINVAL;
    if (outlen < 6 + (len + 2) / 3 * 4 + 1)
        return TWC_ETOOBIG;
    memcpy(out, "Basic ", 6);
    /* RFC 4648 §4 base64 with padding, as RFC 7617 §2 asks. */
    for (i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;

        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int url_parse(struct twc_http_url *u, const char *s, twc_err *err)
{
    const char *p, *auth, *auth_end, *host, *host_end, *port = NULL;
    size_t i, len = strlen(s), hlen, tlen;
    char shown[SHOWN_MAX + 1];
    int rc;

    memset(u, 0, sizeof(*u));
    if (len > TWC_HTTP_URL_MAX)
        return twc_err_set(err, TWC_EINVAL, "url longer than %d bytes", TWC_HTTP_URL_MAX);
    /* Messages quote the URL without its credentials. */
    twc_http_url_redact(s, shown, sizeof(shown));
    for (i = 0; i < len; i++)
        if (!url_char_ok((unsigned char)s[i]))
            return twc_err_set(err, TWC_EINVAL, "url '%s' contains a space or control byte",
                               shown);
    if (strncasecmp(s, "http://", 7) == 0) {
        auth = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        auth = s + 8;
        u->tls = true;
    } else {
        return twc_err_set(err, TWC_EINVAL, "url '%s': scheme is not http:// or https://", shown);
    }
    auth_end = auth + strcspn(auth, "/?#");
    /* userinfo@ never goes in the request line or Host: the client sends it
     * as an Authorization field (RFC 9110 §4.2.4 deprecates it in URLs, but
     * curl and scripts still use it). */
    host = auth;
    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            host = p + 1;
    if (host != auth) {
        rc = parse_userinfo(u, auth, (size_t)(host - 1 - auth), shown, err);
        if (rc < 0)
            return rc;
    }
    if (host < auth_end && *host == '[') {
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (host_end == NULL)
            return twc_err_set(err, TWC_EINVAL, "url '%s': unterminated [ in host", shown);
        p = host_end + 1;
        host++;
        if (p < auth_end) {
            if (*p != ':')
                return twc_err_set(err, TWC_EINVAL, "url '%s': junk after ]", shown);
            port = p + 1;
        }
    } else {
        host_end = memchr(host, ':', (size_t)(auth_end - host));
        if (host_end != NULL)
            port = host_end + 1;
        else
            host_end = auth_end;
    }
    hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(u->host))
        return twc_err_set(err, TWC_EINVAL, "url '%s': empty or too long host", shown);
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    u->port = u->tls ? 443 : 80;
    u->default_port = true;
    if (port != NULL && port < auth_end) {
        uint64_t v;

        if (twc_parse_u64(port, (size_t)(auth_end - port), 1, 65535, &v) < 0)
            return twc_err_set(err, TWC_EINVAL, "url '%s': port is not a number 1-65535", shown);
        u->port = (uint16_t)v;
        u->default_port = u->port == (u->tls ? 443 : 80);
    }
    /* The target: path and query; the fragment never leaves the client. */
    p = auth_end;
    tlen = strcspn(p, "#");
    if (tlen == 0 || *p != '/') {
        u->target[0] = '/';
        memcpy(u->target + 1, p, tlen);
        u->target[tlen + 1] = '\0';
    } else {
        memcpy(u->target, p, tlen);
        u->target[tlen] = '\0';
    }
    return 0;
}

int twc_http_url_parse(struct twc_http_url *u, const char *s, twc_err *err)
{
    int rc = url_parse(u, s, err);

    if (rc < 0) {
        memset(u->credentials, 0, sizeof(u->credentials)); /* no secret left behind */
        u->has_credentials = false;
    }
    return rc;
}

/* RFC 3986 §5.2.4: remove "." and ".." segments from path[0..len) in place;
 * returns the new length. */
static size_t remove_dots(char *path, size_t len)
{
    char *out = path;
    size_t i = 0, o = 0;

    while (i < len) {
        if (len - i >= 3 && memcmp(path + i, "/./", 3) == 0) {
            i += 2;
        } else if (len - i == 2 && memcmp(path + i, "/.", 2) == 0) {
            path[i + 1] = '/';
            i += 1;
        } else if ((len - i >= 4 && memcmp(path + i, "/../", 4) == 0) ||
                   (len - i == 3 && memcmp(path + i, "/..", 3) == 0)) {
            /* Replace "/../" (or a final "/..") with "/" in the input. */
            i += 3;
            if (i == len)
                path[--i] = '/';
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            do {
                out[o++] = path[i++];
            } while (i < len && path[i] != '/');
        }
    }
    return o;
}

int twc_http_url_resolve(const char *base, const char *ref, size_t reflen, char *out, size_t outlen)
{
    twc_buf b;
    const char *auth, *path_start, *q;
    size_t plen, n, i;
    char *path;
    int rc;

    for (i = 0; i < reflen; i++)
        if (!url_char_ok((unsigned char)ref[i]))
            return TWC_EINVAL;
    /* An absolute reference (has a scheme) replaces the base. */
    for (i = 0; i < reflen && (isalnum((unsigned char)ref[i]) || strchr("+-.", ref[i])); i++)
        ;
    if (i > 0 && i < reflen && ref[i] == ':' && isalpha((unsigned char)ref[0])) {
        if (reflen + 1 > outlen)
            return TWC_ETOOBIG;
        memcpy(out, ref, reflen);
        out[reflen] = '\0';
        return 0;
    }
    auth = strstr(base, "://");
    if (auth == NULL)
        return TWC_EINVAL;
    auth += 3;
    path_start = auth + strcspn(auth, "/?#");
    twc_buf_init(&b, outlen);
    if (reflen >= 2 && ref[0] == '/' && ref[1] == '/') {
        /* Network-path reference: keep the scheme only. */
        rc = twc_buf_append(&b, base, (size_t)(auth - 2 - base));
        if (rc == 0)
            rc = twc_buf_append(&b, ref, reflen);
        goto done;
    }
    rc = twc_buf_append(&b, base, (size_t)(path_start - base));
    if (rc < 0)
        goto done;
    if (reflen == 0 || ref[0] == '?' || ref[0] == '#') {
        plen = strcspn(path_start, reflen == 0 || ref[0] == '#' ? "#" : "?#");
        rc = twc_buf_append(&b, path_start, plen);
        if (rc == 0)
            rc = twc_buf_append(&b, ref, reflen);
        goto done;
    }
    /* A path: absolute, or merged with the base's folder (§5.2.3). */
    q = ref + strcspn(ref, "?#");
    if ((size_t)(q - ref) > reflen)
        q = ref + reflen;
    path = malloc(strlen(path_start) + reflen + 2);
    if (path == NULL) {
        rc = TWC_ENOMEM;
        goto done;
    }
    if (ref[0] == '/') {
        n = 0;
    } else {
        const char *bend = path_start + strcspn(path_start, "?#");
        const char *slash = bend;

        while (slash > path_start && slash[-1] != '/')
            slash--;
        n = (size_t)(slash - path_start);
        if (n == 0) {
            path[0] = '/';
            n = 1;
        } else {
            memcpy(path, path_start, n);
        }
    }
    memcpy(path + n, ref, (size_t)(q - ref));
    n = remove_dots(path, n + (size_t)(q - ref));
    rc = twc_buf_append(&b, path, n);
    free(path);
    if (rc == 0)
        rc = twc_buf_append(&b, q, reflen - (size_t)(q - ref));
done:
    if (rc == 0 && twc_buf_len(&b) + 1 > outlen)
        rc = TWC_ETOOBIG;
    if (rc == 0) {
        memcpy(out, twc_buf_data(&b), twc_buf_len(&b));
        out[twc_buf_len(&b)] = '\0';
    }
    twc_buf_cleanup(&b);
    return rc < 0 ? rc : 0;
}
