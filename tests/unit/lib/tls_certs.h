/*
 * Throwaway certificates for the TLS tests, made at run time with OpenSSL's C
 * API in a mkdtemp folder (no private key is ever committed). EC P-256 keys keep
 * generation fast. The folder holds:
 *
 *   ca.pem           a CA certificate ("twc test ca")
 *   server.pem       localhost certificate (SAN DNS:localhost, IP:127.0.0.1)
 *                    signed by the CA, followed by its key
 *   server.crt/.key  the same certificate and key, in two files
 *   other.key        an unrelated key (mismatch tests)
 *   expired.pem      localhost certificate that expired yesterday, + key
 *   garbage.pem      not PEM at all
 *   sni/alpha.example.pem, sni/beta.example.pem   certificate + key each
 */
#ifndef TWC_TESTS_TLS_CERTS_H
#define TWC_TESTS_TLS_CERTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct tls_certs {
    char dir[64];
    char path[16][128]; /* see certs_path */
};

enum {
    CERT_CA,
    CERT_SERVER,
    CERT_SERVER_CRT,
    CERT_SERVER_KEY,
    CERT_OTHER_KEY,
    CERT_EXPIRED,
    CERT_GARBAGE,
    CERT_SNI_DIR,
    CERT_SNI_ALPHA,
    CERT_SNI_BETA,
    CERT_COUNT
};

static const char *const cert_names[CERT_COUNT] = {
    "ca.pem",
    "server.pem",
    "server.crt",
    "server.key",
    "other.key",
    "expired.pem",
    "garbage.pem",
    "sni",
    "sni/alpha.example.pem",
    "sni/beta.example.pem",
};

static EVP_PKEY *certs_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    if (k == NULL)
        abort();
    return k;
}

static void certs_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
        abort();
    X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, valid from now+from_s to now+to_s seconds,
 * signed by (issuer, issuer_key), or self-signed when issuer is NULL (a CA). */
static X509 *certs_make(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
                        EVP_PKEY *issuer_key, long from_s, long to_s)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name;

    if (x == NULL)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
    if (issuer == NULL) {
        certs_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        certs_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
        certs_ext(x, x, NID_subject_key_identifier, "hash");
    } else {
        certs_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        certs_ext(x, issuer, NID_authority_key_identifier, "keyid");
        if (san != NULL)
            certs_ext(x, issuer, NID_subject_alt_name, san);
    }
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) == 0)
        abort();
    return x;
}

static void certs_write(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        abort();
    if (x != NULL && PEM_write_X509(f, x) != 1)
        abort();
    if (k != NULL && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
        abort();
    fclose(f);
}

static const char *certs_path(const struct tls_certs *c, int which)
{
    return c->path[which];
}

static void certs_create(struct tls_certs *c)
{
    EVP_PKEY *cak = certs_key(), *sk = certs_key(), *ok = certs_key(), *ek = certs_key();
    EVP_PKEY *ak = certs_key(), *bk = certs_key();
    X509 *ca, *srv, *exp, *a, *b;
    FILE *f;
    int i;

    snprintf(c->dir, sizeof(c->dir), "/tmp/twc-tls-test-XXXXXX");
    if (mkdtemp(c->dir) == NULL)
        abort();
    for (i = 0; i < CERT_COUNT; i++)
        snprintf(c->path[i], sizeof(c->path[i]), "%s/%s", c->dir, cert_names[i]);
    if (mkdir(c->path[CERT_SNI_DIR], 0700) != 0)
        abort();
    ca = certs_make(cak, "twc test ca", NULL, NULL, NULL, -3600, 86400);
    srv = certs_make(sk, "localhost", "DNS:localhost,IP:127.0.0.1", ca, cak, -3600, 86400);
    exp = certs_make(ek, "localhost", "DNS:localhost,IP:127.0.0.1", ca, cak, -2 * 86400, -86400);
    a = certs_make(ak, "alpha.example", "DNS:alpha.example", ca, cak, -3600, 86400);
    b = certs_make(bk, "beta.example", "DNS:beta.example", ca, cak, -3600, 86400);
    certs_write(c->path[CERT_CA], ca, NULL);
    certs_write(c->path[CERT_SERVER], srv, sk);
    certs_write(c->path[CERT_SERVER_CRT], srv, NULL);
    certs_write(c->path[CERT_SERVER_KEY], NULL, sk);
    certs_write(c->path[CERT_OTHER_KEY], NULL, ok);
    certs_write(c->path[CERT_EXPIRED], exp, ek);
    certs_write(c->path[CERT_SNI_ALPHA], a, ak);
    certs_write(c->path[CERT_SNI_BETA], b, bk);
    f = fopen(c->path[CERT_GARBAGE], "w");
    if (f == NULL)
        abort();
    fputs("this is not a certificate\n", f);
    fclose(f);
    X509_free(ca);
    X509_free(srv);
    X509_free(exp);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ok);
    EVP_PKEY_free(ek);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(bk);
}

static void certs_remove(struct tls_certs *c)
{
    int i;

    for (i = CERT_COUNT - 1; i >= 0; i--) {
        if (i == CERT_SNI_DIR)
            rmdir(c->path[i]);
        else
            unlink(c->path[i]);
    }
    rmdir(c->path[CERT_SNI_DIR]);
    rmdir(c->dir);
}

#endif
