/*
 * URLs for the HTTP client (client.h): splitting an absolute http(s) URL and
 * resolving a Location reference against the URL it answered (RFC 3986).
 * Pure string code: no allocation beyond a scratch buffer, no I/O.
 */
#include "client.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

static bool url_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

int twc_http_url_parse(struct twc_http_url *u, const char *s, twc_err *err)
{
    const char *p, *auth, *auth_end, *host, *host_end, *port = NULL;
    size_t i, len = strlen(s), hlen, tlen;

    memset(u, 0, sizeof(*u));
    if (len > TWC_HTTP_URL_MAX)
        return twc_err_set(err, TWC_EINVAL, "url longer than %d bytes", TWC_HTTP_URL_MAX);
    for (i = 0; i < len; i++)
        if (!url_char_ok((unsigned char)s[i]))
            return twc_err_set(err, TWC_EINVAL, "url '%s' contains a space or control byte", s);
    if (strncasecmp(s, "http://", 7) == 0) {
        auth = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        auth = s + 8;
        u->tls = true;
    } else {
        return twc_err_set(err, TWC_EINVAL, "url '%s': scheme is not http:// or https://", s);
    }
    auth_end = auth + strcspn(auth, "/?#");
    /* userinfo@ is dropped: credentials go in an Authorization header. */
    host = auth;
    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            host = p + 1;
    if (host < auth_end && *host == '[') {
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (host_end == NULL)
            return twc_err_set(err, TWC_EINVAL, "url '%s': unterminated [ in host", s);
        p = host_end + 1;
        host++;
        if (p < auth_end) {
            if (*p != ':')
                return twc_err_set(err, TWC_EINVAL, "url '%s': junk after ]", s);
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
        return twc_err_set(err, TWC_EINVAL, "url '%s': empty or too long host", s);
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    u->port = u->tls ? 443 : 80;
    u->default_port = true;
    if (port != NULL && port < auth_end) {
        uint64_t v;

        if (twc_parse_u64(port, (size_t)(auth_end - port), 1, 65535, &v) < 0)
            return twc_err_set(err, TWC_EINVAL, "url '%s': port is not a number 1-65535", s);
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
