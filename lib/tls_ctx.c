/*
 * TLS contexts: loading certificates and keys (with errors that name the
 * file), SNI certificate folders, ALPN, safe protocol defaults, and the
 * client's saved sessions. The filter transport itself is lib/tls.c.
 *
 * Every SSL_CTX of one twc_tls_ctx (the default and one per SNI name) gets the
 * same configuration from configure(), because after the servername callback
 * switches a connection to an SNI context, OpenSSL reads the ALPN callback and
 * options from that context (RFC 6066 §3 processing happens before ALPN).
 */
#include "tls_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Session ID context for the server cache: any fixed value, the same in every
 * SSL_CTX of a twc_tls_ctx so that SNI switching keeps sessions valid. */
static const unsigned char sid_ctx[] = "twc";

/* The first error queued is the root cause ("no start line"); later ones
 * are the callers' summaries ("PEM lib"). */
const char *twc__tls_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    snprintf(buf, len, "%s", r != NULL ? r : "unknown error");
    return buf;
}

/* Map 0 / TWC_TLS_1_x to OpenSSL versions; below TLS 1.2 is refused. */
static int version_of(int v, int dflt, int *out, twc_err *err)
{
    if (v == 0) {
        *out = dflt;
        return 0;
    }
    if (v != TWC_TLS_1_2 && v != TWC_TLS_1_3)
        return twc_err_set(err, TWC_EINVAL, "tls version 0x%04x not allowed (1.2 or 1.3 only)",
                           (unsigned)v);
    *out = v == TWC_TLS_1_2 ? TLS1_2_VERSION : TLS1_3_VERSION;
    return 0;
}

/* "h2,http/1.1" -> wire format (RFC 7301 §3.1: 8-bit length-prefixed names). */
static int parse_alpn(twc_tls_ctx *ctx, const char *list, twc_err *err)
{
    size_t n = strlen(list), i, start = 0, out = 0;
    unsigned char *w;

    if (n == 0)
        return 0;
    w = malloc(n + 1);
    if (w == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory for alpn list");
    for (i = 0; i <= n; i++) {
        if (i < n && list[i] != ',')
            continue;
        if (i == start || i - start > 255) {
            free(w);
            return twc_err_set(err, TWC_EINVAL, "bad alpn list \"%s\": empty or long name", list);
        }
        w[out++] = (unsigned char)(i - start);
        memcpy(w + out, list + start, i - start);
        out += i - start;
        start = i + 1;
    }
    ctx->alpn = w;
    ctx->alpn_len = (unsigned)out;
    return 0;
}

/* Server: pick the first of our protocols the client offers (our preference,
 * RFC 7301 §3.2). No overlap: carry on without ALPN rather than failing. */
static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned inlen, void *arg)
{
    twc_tls_ctx *ctx = arg;
    unsigned i, j;

    (void)ssl;
    for (i = 0; i < ctx->alpn_len; i += 1u + ctx->alpn[i]) {
        for (j = 0; j < inlen; j += 1u + in[j]) {
            if (in[j] == ctx->alpn[i] && j + 1u + in[j] <= inlen &&
                memcmp(in + j + 1, ctx->alpn + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* SNI (RFC 6066 §3): switch to the certificate named like the host; keep the
 * default one otherwise. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    twc_tls_ctx *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    size_t i;

    (void)alert;
    if (name == NULL)
        return SSL_TLSEXT_ERR_OK;
    for (i = 0; i < ctx->nsni; i++) {
        if (strcasecmp(ctx->sni[i].name, name) == 0) {
            if (SSL_set_SSL_CTX(ssl, ctx->sni[i].ssl) == NULL)
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *new_ssl_ctx(twc_tls_ctx *ctx, int minv, int maxv, twc_err *err)
{
    SSL_CTX *s = SSL_CTX_new(ctx->server ? TLS_server_method() : TLS_client_method());
    char why[128];

    if (s == NULL) {
        twc_err_set(err, TWC_ENOMEM, "cannot create tls context: %s",
                    twc__tls_reason(why, sizeof(why)));
        return NULL;
    }
    /* TLS 1.2 minimum: 1.0/1.1 are deprecated (RFC 8996). OpenSSL's default
     * cipher lists are kept: they are the secure ones for each version. */
    if (!SSL_CTX_set_min_proto_version(s, minv) || !SSL_CTX_set_max_proto_version(s, maxv)) {
        SSL_CTX_free(s);
        twc_err_set(err, TWC_EINVAL, "cannot set tls versions: %s",
                    twc__tls_reason(why, sizeof(why)));
        return NULL;
    }
    /* No compression (CRIME), no renegotiation (RFC 5746 troubles, DoS). */
    SSL_CTX_set_options(s, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Writes from our queue may move between retries; release idle buffers
     * (an idle connection then costs a few hundred bytes, not 34 KiB). */
    SSL_CTX_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    if (ctx->server) {
        SSL_CTX_set_session_id_context(s, sid_ctx, sizeof(sid_ctx) - 1);
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
        if (ctx->alpn != NULL)
            SSL_CTX_set_alpn_select_cb(s, on_alpn_select, ctx);
        SSL_CTX_set_tlsext_servername_callback(s, on_servername);
        SSL_CTX_set_tlsext_servername_arg(s, ctx);
    } else {
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_CLIENT);
        /* SSL_CTX_set_alpn_protos returns 0 on success (the odd one out). */
        if (ctx->alpn != NULL && SSL_CTX_set_alpn_protos(s, ctx->alpn, ctx->alpn_len) != 0) {
            SSL_CTX_free(s);
            twc_err_set(err, TWC_ENOMEM, "cannot set alpn protocols");
            return NULL;
        }
        SSL_CTX_set_verify(s, ctx->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    }
    return s;
}

/* Fail early with errno when a file cannot be opened at all: OpenSSL's own
 * message ("system lib") would not say why. */
static int check_readable(const char *path, const char *what, twc_err *err)
{
    FILE *f = fopen(path, "r");
    int e;

    if (f != NULL) {
        fclose(f);
        return 0;
    }
    e = errno;
    twc_err_set(err, TWC_ETLS_CONFIG, "cannot open %s file %s: %s", what, path, strerror(e));
    if (err != NULL)
        err->sys_errno = e;
    return TWC_ETLS_CONFIG;
}

/* Load a certificate chain and its key into s, checking that they match. */
static int load_pair(SSL_CTX *s, const char *key, const char *cert, twc_err *err)
{
    char why[128];
    int rc;

    rc = check_readable(key, "private key", err);
    if (rc < 0)
        return rc;
    if (strcmp(key, cert) != 0) {
        rc = check_readable(cert, "certificate", err);
        if (rc < 0)
            return rc;
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(s, cert) != 1) {
        twc__tls_reason(why, sizeof(why));
        if (strcmp(why, "no start line") == 0)
            return twc_err_set(err, TWC_ETLS_CONFIG, "no PEM certificate found in %s", cert);
        return twc_err_set(err, TWC_ETLS_CONFIG, "bad certificate in %s: %s", cert, why);
    }
    if (SSL_CTX_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1) {
        /* A key of another type than the certificate fails here already. */
        twc__tls_reason(why, sizeof(why));
        if (strstr(why, "values mismatch") != NULL || strstr(why, "type mismatch") != NULL)
            return twc_err_set(err, TWC_ETLS_CONFIG,
                               "private key in %s does not match the certificate in %s", key, cert);
        /* The PEM decoders report a missing key as "unsupported" or "no start
         * line": neither helps the reader. */
        return twc_err_set(err, TWC_ETLS_CONFIG, "no usable PEM private key found in %s", key);
    }
    if (SSL_CTX_check_private_key(s) != 1) {
        ERR_clear_error();
        return twc_err_set(err, TWC_ETLS_CONFIG,
                           "private key in %s does not match the certificate in %s", key, cert);
    }
    return 0;
}

/* Intermediates sent after the leaf (extraCertChain). */
static int load_extra_chain(SSL_CTX *s, const char *path, twc_err *err)
{
    BIO *b;
    X509 *x;
    int rc, n = 0;

    rc = check_readable(path, "certificate chain", err);
    if (rc < 0)
        return rc;
    b = BIO_new_file(path, "r");
    if (b == NULL)
        return twc_err_set(err, TWC_ETLS_CONFIG, "cannot read certificate chain file %s", path);
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(s, x) != 1) {
            X509_free(x);
            BIO_free(b);
            return twc_err_set(err, TWC_ENOMEM, "cannot add chain certificate from %s", path);
        }
        n++;
    }
    BIO_free(b);
    ERR_clear_error(); /* the loop ends on "no start line" */
    if (n == 0)
        return twc_err_set(err, TWC_ETLS_CONFIG, "no certificate in chain file %s", path);
    return 0;
}

/* Load every HOSTNAME.pem of dir into its own SSL_CTX (RFC 6066 §3 names). */
static int load_sni_dir(twc_tls_ctx *ctx, const char *dir, int minv, int maxv, twc_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct twc__tls_sni *grown;
    char path[4096];
    size_t len, i;
    int e, rc = 0;

    if (d == NULL) {
        e = errno;
        twc_err_set(err, TWC_ETLS_CONFIG, "cannot open sniCerts folder %s: %s", dir, strerror(e));
        if (err != NULL)
            err->sys_errno = e;
        return TWC_ETLS_CONFIG;
    }
    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);
        if (len <= 4 || strcmp(de->d_name + len - 4, ".pem") != 0 || de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
            rc = twc_err_set(err, TWC_ETLS_CONFIG, "path too long in sniCerts folder %s", dir);
            break;
        }
        grown = realloc(ctx->sni, (ctx->nsni + 1) * sizeof(*grown));
        if (grown == NULL) {
            rc = twc_err_set(err, TWC_ENOMEM, "out of memory for sniCerts");
            break;
        }
        ctx->sni = grown;
        grown[ctx->nsni].name = strndup(de->d_name, len - 4);
        grown[ctx->nsni].ssl = new_ssl_ctx(ctx, minv, maxv, err);
        ctx->nsni++;
        if (grown[ctx->nsni - 1].name == NULL || grown[ctx->nsni - 1].ssl == NULL) {
            rc = twc_err_set(err, TWC_ENOMEM, "out of memory for sniCerts");
            break;
        }
        for (i = 0; grown[ctx->nsni - 1].name[i] != '\0'; i++)
            grown[ctx->nsni - 1].name[i] =
                (char)tolower((unsigned char)grown[ctx->nsni - 1].name[i]);
        rc = load_pair(grown[ctx->nsni - 1].ssl, path, path, err);
        if (rc < 0)
            break;
    }
    closedir(d);
    return rc;
}

static twc_tls_ctx *ctx_alloc(int server, const char *alpn, twc_err *err)
{
    twc_tls_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory for a tls context");
        return NULL;
    }
    ctx->refs = 1;
    ctx->server = server;
    if (parse_alpn(ctx, alpn != NULL ? alpn : "http/1.1", err) < 0) {
        free(ctx);
        return NULL;
    }
    return ctx;
}

static void ctx_destroy(twc_tls_ctx *ctx)
{
    size_t i;

    for (i = 0; i < ctx->nsni; i++) {
        free(ctx->sni[i].name);
        SSL_CTX_free(ctx->sni[i].ssl);
    }
    for (i = 0; i < TWC__TLS_CLIENT_SESSIONS; i++) {
        free(ctx->sessions[i].name);
        SSL_SESSION_free(ctx->sessions[i].sess);
    }
    free(ctx->sni);
    SSL_CTX_free(ctx->ssl);
    free(ctx->alpn);
    free(ctx);
}

twc_tls_ctx *twc_tls_ctx_new_server(const struct twc_tls_server_opts *o, twc_err *err)
{
    twc_tls_ctx *ctx;
    int minv = 0, maxv = 0;

    if (o == NULL || (o->private_key == NULL && o->sni_dir == NULL)) {
        twc_err_set(err, TWC_EINVAL, "tls server needs privateKey or sniCerts");
        return NULL;
    }
    if (version_of(o->min_version, TLS1_2_VERSION, &minv, err) < 0 ||
        version_of(o->max_version, 0, &maxv, err) < 0)
        return NULL;
    ctx = ctx_alloc(1, o->alpn, err);
    if (ctx == NULL)
        return NULL;
    ctx->ssl = new_ssl_ctx(ctx, minv, maxv, err);
    if (ctx->ssl == NULL)
        goto fail;
    if (o->private_key != NULL &&
        load_pair(ctx->ssl, o->private_key, o->cert_key != NULL ? o->cert_key : o->private_key,
                  err) < 0)
        goto fail;
    if (o->extra_cert_chain != NULL && load_extra_chain(ctx->ssl, o->extra_cert_chain, err) < 0)
        goto fail;
    if (o->sni_dir != NULL && load_sni_dir(ctx, o->sni_dir, minv, maxv, err) < 0)
        goto fail;
    return ctx;

fail:
    ctx_destroy(ctx);
    return NULL;
}

twc_tls_ctx *twc_tls_ctx_new_client(const struct twc_tls_client_opts *o, twc_err *err)
{
    static const struct twc_tls_client_opts dflt;
    twc_tls_ctx *ctx;
    char why[128];
    int minv = 0, maxv = 0;

    if (o == NULL)
        o = &dflt;
    if (version_of(o->min_version, TLS1_2_VERSION, &minv, err) < 0 ||
        version_of(o->max_version, 0, &maxv, err) < 0)
        return NULL;
    ctx = ctx_alloc(0, o->alpn, err);
    if (ctx == NULL)
        return NULL;
    ctx->insecure = o->insecure ? 1 : 0;
    ctx->ssl = new_ssl_ctx(ctx, minv, maxv, err);
    if (ctx->ssl == NULL)
        goto fail;
    if (o->ca_certs != NULL) {
        if (check_readable(o->ca_certs, "ca certificates", err) < 0)
            goto fail;
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(ctx->ssl, o->ca_certs, NULL) != 1) {
            twc__tls_reason(why, sizeof(why));
            twc_err_set(err, TWC_ETLS_CONFIG, "no usable ca certificate in %s%s%s", o->ca_certs,
                        strcmp(why, "no start line") == 0 ? "" : ": ",
                        strcmp(why, "no start line") == 0 ? "" : why);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx->ssl) != 1) {
        twc_err_set(err, TWC_ETLS_CONFIG, "cannot load the system ca store: %s",
                    twc__tls_reason(why, sizeof(why)));
        goto fail;
    }
    return ctx;

fail:
    ctx_destroy(ctx);
    return NULL;
}

void twc__tls_ctx_ref(twc_tls_ctx *ctx)
{
    ctx->refs++;
}

void twc_tls_ctx_free(twc_tls_ctx *ctx)
{
    if (ctx == NULL || --ctx->refs > 0)
        return;
    ctx_destroy(ctx);
}

SSL_CTX *twc__tls_ctx_ssl(twc_tls_ctx *ctx)
{
    return ctx->ssl;
}

static struct twc__tls_session *find_session(twc_tls_ctx *ctx, const char *name)
{
    size_t i;

    for (i = 0; i < TWC__TLS_CLIENT_SESSIONS; i++)
        if (ctx->sessions[i].name != NULL && strcmp(ctx->sessions[i].name, name) == 0)
            return &ctx->sessions[i];
    return NULL;
}

void twc__tls_ctx_save_session(twc_tls_ctx *ctx, const char *server_name, SSL *ssl)
{
    const char *name = server_name != NULL ? server_name : "";
    struct twc__tls_session *slot;
    SSL_SESSION *sess;
    char *copy;

    if (ctx->server)
        return;
    sess = SSL_get1_session(ssl);
    if (sess == NULL)
        return;
    if (!SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION_free(sess);
        return;
    }
    slot = find_session(ctx, name);
    if (slot == NULL) {
        copy = strdup(name);
        if (copy == NULL) {
            SSL_SESSION_free(sess);
            return;
        }
        slot = &ctx->sessions[ctx->next_session];
        ctx->next_session = (ctx->next_session + 1) % TWC__TLS_CLIENT_SESSIONS;
        free(slot->name);
        slot->name = copy;
    }
    SSL_SESSION_free(slot->sess);
    slot->sess = sess;
}

SSL *twc__tls_ctx_new_ssl(twc_tls_ctx *ctx, const char *server_name, void *app, twc_err *err)
{
    struct twc__tls_session *saved;
    unsigned char ip[16];
    char why[128];
    int is_ip;
    SSL *ssl;

    ERR_clear_error();
    ssl = SSL_new(ctx->ssl);
    if (ssl == NULL) {
        twc_err_set(err, TWC_ENOMEM, "cannot create tls connection: %s",
                    twc__tls_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_set_app_data(ssl, app);
    if (ctx->server) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    if (server_name != NULL && server_name[0] != '\0') {
        is_ip =
            inet_pton(AF_INET, server_name, ip) == 1 || inet_pton(AF_INET6, server_name, ip) == 1;
        /* RFC 6066 §3: literal IP addresses are not sent as SNI. */
        if (!is_ip && SSL_set_tlsext_host_name(ssl, server_name) != 1)
            goto fail;
        if (!ctx->insecure) {
            if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name) != 1
                      : SSL_set1_host(ssl, server_name) != 1)
                goto fail;
        }
    }
    saved = find_session(ctx, server_name != NULL ? server_name : "");
    if (saved != NULL && saved->sess != NULL)
        SSL_set_session(ssl, saved->sess);
    return ssl;

fail:
    SSL_free(ssl);
    twc_err_set(err, TWC_EINVAL, "bad tls server name \"%s\": %s", server_name,
                twc__tls_reason(why, sizeof(why)));
    return NULL;
}
