/*
 * Static files (see static.h).
 *
 * The request path becomes a path relative to the root folder with
 * twc_http_path_normalize (percent-decoding, no "%2F" or NUL, dot segments
 * removed), and is opened with openat2(2) and RESOLVE_BENEATH on the root, so
 * the kernel refuses any resolution, symlinks included, that leaves it.
 *
 * Small files (up to TWC_HTTP_FILE_CACHE_ENTRY) are kept in memory with their
 * ready-made header lines, keyed by path and re-checked on disk (openat2 +
 * fstat: same inode, size and mtime) once TWC_HTTP_FILE_CACHE_VALID_MS has
 * passed, so the steady state of a hot small file is one writev and no other
 * system call. Larger files go out with sendfile(2).
 */
#define _GNU_SOURCE
#include "proto/http/static.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/limits.h"
#include "proto/http/server_int.h"

#define CACHE_BUCKETS 1024

struct mime {
    char *ext; /* lower case, no dot */
    char *type;
};

struct centry {
    struct centry *next;
    char *path; /* normalized, NUL-terminated */
    uint64_t hash;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint64_t checked; /* reactor ms of the last check on disk */
    uint8_t *data;
    char *hdrs; /* "Content-Type: T\r\n" (ct_len bytes), then Last-Modified, ETag,
                   Accept-Ranges lines */
    size_t hdrs_len, ct_len;
    char lastmod[TWC_HTTP_DATE_LEN + 1];
    char etag[64];
    const char *type;
};

struct file_info {
    struct stat st;
    const char *type;
    char etag[64];
    char lastmod[TWC_HTTP_DATE_LEN + 1];
};

typedef struct static_res {
    twc_http_resource base; /* first */
    twc_reactor *reactor;
    int rootfd;  /* O_PATH folder, or the folder holding a single-file root */
    char *file;  /* single-file root: its name in rootfd; else NULL */
    char **index;
    size_t nindex;
    bool no_listing;
    char *default_type;
    struct mime *mimes;
    size_t nmimes;
    struct centry *buckets[CACHE_BUCKETS];
    size_t cache_bytes;
} static_res;

/* ---- Content types ------------------------------------------------------------ */

static const struct {
    const char *ext, *type;
} builtin_types[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},   {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},   {"xml", "application/xml"},
    {"svg", "image/svg+xml"},             {"png", "image/png"},
    {"jpg", "image/jpeg"},                {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},                 {"webp", "image/webp"},
    {"avif", "image/avif"},               {"ico", "image/vnd.microsoft.icon"},
    {"bmp", "image/bmp"},                 {"woff", "font/woff"},
    {"woff2", "font/woff2"},              {"ttf", "font/ttf"},
    {"otf", "font/otf"},                  {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},           {"zip", "application/zip"},
    {"gz", "application/gzip"},           {"tgz", "application/gzip"},
    {"tar", "application/x-tar"},         {"xz", "application/x-xz"},
    {"bz2", "application/x-bzip2"},       {"zst", "application/zstd"},
    {"mp3", "audio/mpeg"},                {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},                 {"flac", "audio/flac"},
    {"mp4", "video/mp4"},                 {"webm", "video/webm"},
    {"mkv", "video/x-matroska"},          {"c", "text/plain; charset=utf-8"},
    {"h", "text/plain; charset=utf-8"},   {"sh", "text/plain; charset=utf-8"},
    {"py", "text/plain; charset=utf-8"},  {"wasm", "application/wasm"},
};

static int load_mime_types(static_res *s, const char *path)
{
    FILE *f = fopen(path, "re");
    char line[1024];

    if (f == NULL)
        return 0; /* optional */
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *type, *ext;

        if (line[0] == '#')
            continue;
        type = strtok_r(line, " \t\r\n", &save);
        if (type == NULL)
            continue;
        while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            struct mime *n;
            char *p;

            if (s->nmimes % 64 == 0) {
                n = realloc(s->mimes, (s->nmimes + 64) * sizeof(*n));
                if (n == NULL)
                    goto out;
                s->mimes = n;
            }
            s->mimes[s->nmimes].ext = strdup(ext);
            s->mimes[s->nmimes].type = strdup(type);
            if (s->mimes[s->nmimes].ext == NULL || s->mimes[s->nmimes].type == NULL) {
                free(s->mimes[s->nmimes].ext);
                free(s->mimes[s->nmimes].type);
                goto out;
            }
            for (p = s->mimes[s->nmimes].ext; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            s->nmimes++;
        }
    }
out:
    fclose(f);
    return 0;
}

const char *twc_http_static_type(twc_http_resource *res, const char *name)
{
    static_res *s = (static_res *)res;
    const char *dot = strrchr(name, '.');
    char ext[32];
    size_t i;

    if (dot == NULL || strchr(dot, '/') != NULL || strlen(dot + 1) >= sizeof(ext) || !dot[1])
        return s->default_type;
    for (i = 0; dot[1 + i]; i++)
        ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    ext[i] = '\0';
    for (i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]); i++)
        if (strcmp(builtin_types[i].ext, ext) == 0)
            return builtin_types[i].type;
    for (i = 0; i < s->nmimes; i++)
        if (strcmp(s->mimes[i].ext, ext) == 0)
            return s->mimes[i].type;
    return s->default_type;
}

/* ---- Opening beneath the root ----------------------------------------------------- */

/* openat2 with RESOLVE_BENEATH: "..", absolute paths and symlinks leaving dirfd
 * fail with EXDEV (Linux 5.6). Returns the fd or -errno. */
static int open_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how;
    long fd;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    if (fd < 0)
        return -errno;
    return (int)fd;
}

static int errno_status(int code)
{
    if (code == -EACCES || code == -EPERM || code == -EXDEV || code == -ELOOP)
        return 403;
    return 404;
}

static void make_etag(const struct stat *st, char *out, size_t len)
{
    /* nginx's form plus nanoseconds: "<mtime>-<size>" in hex. */
    snprintf(out, len, "\"%llx.%lx-%llx\"", (unsigned long long)st->st_mtim.tv_sec,
             (unsigned long)st->st_mtim.tv_nsec, (unsigned long long)st->st_size);
}

/* ---- Cache -------------------------------------------------------------------------- */

static uint64_t hash_path(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct centry *cache_find(static_res *s, const char *path, size_t len, uint64_t h)
{
    struct centry *e;

    for (e = s->buckets[h % CACHE_BUCKETS]; e != NULL; e = e->next)
        if (e->hash == h && strncmp(e->path, path, len) == 0 && e->path[len] == '\0')
            return e;
    return NULL;
}

static void centry_free(struct centry *e)
{
    free(e->path);
    free(e->data);
    free(e->hdrs);
    free(e);
}

static void cache_remove(static_res *s, struct centry *e)
{
    struct centry **pp = &s->buckets[e->hash % CACHE_BUCKETS];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    s->cache_bytes -= (size_t)e->size;
    centry_free(e);
}

/* "Content-Type: T\r\n" then the validators; *ctlen is the first line's length. */
static int build_hdrs(const struct file_info *fi, char **out, size_t *outlen, size_t *ctlen)
{
    char buf[512];
    int c = snprintf(buf, sizeof(buf), "Content-Type: %s\r\n", fi->type);
    int n;

    if (c < 0 || (size_t)c >= sizeof(buf))
        return TWC_EINVAL;
    n = snprintf(buf + c, sizeof(buf) - (size_t)c,
                 "Last-Modified: %s\r\nETag: %s\r\nAccept-Ranges: bytes\r\n", fi->lastmod,
                 fi->etag);
    if (n < 0 || (size_t)n >= sizeof(buf) - (size_t)c)
        return TWC_EINVAL;
    n += c;
    *ctlen = (size_t)c;
    *out = malloc((size_t)n);
    if (*out == NULL)
        return TWC_ENOMEM;
    memcpy(*out, buf, (size_t)n);
    *outlen = (size_t)n;
    return 0;
}

/* Cache a small regular file (read from fd). Returns the entry or NULL. */
static struct centry *cache_add(static_res *s, const char *path, size_t len, uint64_t h, int fd,
                                const struct file_info *fi)
{
    struct centry *e;
    size_t got = 0;

    if (s->cache_bytes + (size_t)fi->st.st_size > TWC_HTTP_FILE_CACHE_BYTES)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->path = strndup(path, len);
    e->data = malloc(fi->st.st_size > 0 ? (size_t)fi->st.st_size : 1);
    if (e->path == NULL || e->data == NULL || build_hdrs(fi, &e->hdrs, &e->hdrs_len, &e->ct_len) < 0)
        goto fail;
    while (got < (size_t)fi->st.st_size) {
        ssize_t n = pread(fd, e->data + got, (size_t)fi->st.st_size - got, (off_t)got);

        if (n <= 0)
            goto fail;
        got += (size_t)n;
    }
    e->hash = h;
    e->dev = fi->st.st_dev;
    e->ino = fi->st.st_ino;
    e->size = fi->st.st_size;
    e->mtime = fi->st.st_mtim;
    e->checked = twc_reactor_now(s->reactor);
    memcpy(e->etag, fi->etag, sizeof(e->etag));
    memcpy(e->lastmod, fi->lastmod, sizeof(e->lastmod));
    e->type = fi->type;
    e->next = s->buckets[h % CACHE_BUCKETS];
    s->buckets[h % CACHE_BUCKETS] = e;
    s->cache_bytes += (size_t)e->size;
    return e;
fail:
    centry_free(e);
    return NULL;
}

/* ---- Conditional requests and ranges (RFC 9110 §13, §14) ------------------------ */

/* Evaluate the preconditions in the order of RFC 9110 §13.2.2. Returns 0 to
 * go on, or the status to answer (304, 412). */
static int preconditions(twc_http_request *req, const char *etag, time_t mtime)
{
    twc_slice v;
    time_t t;
    int m;

    if (twc_http_request_header(req, "If-Match", &v)) {
        m = twc_http_etag_match((const char *)v.p, v.len, etag, strlen(etag), false);
        if (m == 0)
            return 412;
    } else if (twc_http_request_header(req, "If-Unmodified-Since", &v) &&
               twc_http_date_parse((const char *)v.p, v.len, time(NULL), &t) == 0 && mtime > t) {
        return 412;
    }
    if (twc_http_request_header(req, "If-None-Match", &v)) {
        m = twc_http_etag_match((const char *)v.p, v.len, etag, strlen(etag), true);
        if (m == 1)
            return 304;
    } else if (twc_http_request_header(req, "If-Modified-Since", &v) &&
               twc_http_date_parse((const char *)v.p, v.len, time(NULL), &t) == 0 && mtime <= t) {
        return 304;
    }
    return 0;
}

/* If-Range (RFC 9110 §13.1.5): may the Range be honoured? */
static bool if_range_ok(twc_http_request *req, const char *etag, const char *lastmod)
{
    twc_slice v;

    if (!twc_http_request_header(req, "If-Range", &v))
        return true;
    if (v.len > 0 && (v.p[0] == '"' || v.p[0] == 'W')) {
        /* Strong comparison: a weak tag never matches. */
        return v.len == strlen(etag) && memcmp(v.p, etag, v.len) == 0;
    }
    return v.len == TWC_HTTP_DATE_LEN && memcmp(v.p, lastmod, v.len) == 0;
}

/* ---- Responses ------------------------------------------------------------------------- */

static void send_status(twc_http_request *req, int status, const char *etag, const char *lastmod)
{
    if (status == 304) {
        /* RFC 9110 §15.4.5: the validators a 200 would have carried. */
        twc_http_response_add_header(req, "ETag", etag);
        twc_http_response_add_header(req, "Last-Modified", lastmod);
        twc_http_response_set_status(req, 304, NULL);
        twc_http_response_finish(req);
        return;
    }
    twc_http_response_error(req, status);
}

/* Write bytes [first, last] of the body: from memory, or the file fd (not taken). */
static int write_part(twc_http_request *req, const uint8_t *mem, int fd, uint64_t first,
                      uint64_t last)
{
    uint8_t buf[16384];
    uint64_t off = first;
    int rc = 0;

    if (mem != NULL)
        return twc_http_response_write(req, mem + first, (size_t)(last - first + 1));
    while (off <= last && rc == 0) {
        size_t want = last - off + 1 < sizeof(buf) ? (size_t)(last - off + 1) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)off);

        if (n <= 0)
            return TWC_EOF;
        rc = twc_http_response_write(req, buf, (size_t)n);
        off += (uint64_t)n;
    }
    return rc;
}

#define BOUNDARY "twc-byteranges-3d6b6a416f9d5c"

/* Answer with the file: whole, one range, or several (multipart/byteranges).
 * mem: the cached contents or NULL; fd: the open file or -1 (taken). hdrs:
 * the Last-Modified/ETag/Accept-Ranges lines; ctline the Content-Type line. */
static void send_file(twc_http_request *req, const uint8_t *mem, int fd, uint64_t size,
                      const char *type, const char *etag, const char *lastmod, time_t mtime,
                      const char *hdrs, size_t hdrs_len, const char *ctline, size_t ctline_len)
{
    struct twc_http_range ranges[TWC_HTTP_RANGES_MAX];
    enum twc_http_range_result rr = TWC_HTTP_RANGE_IGNORE;
    size_t n = 0, i;
    twc_slice v;
    int status = preconditions(req, etag, mtime);
    char cr[96];

    if (status != 0) {
        if (fd >= 0)
            close(fd);
        send_status(req, status, etag, lastmod);
        return;
    }
    twc__http_response_add_raw(req, hdrs, hdrs_len);
    if (!twc_http_request_is_head(req) && twc_http_request_header(req, "Range", &v) &&
        if_range_ok(req, etag, lastmod))
        rr = twc_http_range_parse((const char *)v.p, v.len, size, ranges, TWC_HTTP_RANGES_MAX, &n);
    if (rr == TWC_HTTP_RANGE_UNSATISFIABLE) {
        /* RFC 9110 §15.5.17: tell the current length. */
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
        twc_http_response_add_header(req, "Content-Range", cr);
        if (fd >= 0)
            close(fd);
        twc_http_response_error(req, 416);
        return;
    }
    if (rr == TWC_HTTP_RANGE_OK && n > 1 && mem == NULL) {
        /* Copied parts are queued whole: keep that bounded (else send 200). */
        uint64_t sum = 0;

        for (i = 0; i < n; i++)
            sum += ranges[i].last - ranges[i].first + 1;
        if (sum > TWC_HTTP_FILE_CACHE_BYTES)
            rr = TWC_HTTP_RANGE_IGNORE;
    }
    if (rr == TWC_HTTP_RANGE_OK && n == 1) {
        twc__http_response_add_raw(req, ctline, ctline_len);
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)ranges[0].first,
                 (unsigned long long)ranges[0].last, (unsigned long long)size);
        twc_http_response_add_header(req, "Content-Range", cr);
        twc_http_response_set_status(req, 206, NULL);
        twc_http_response_set_length(req, ranges[0].last - ranges[0].first + 1);
        if (mem != NULL)
            twc_http_response_write(req, mem + ranges[0].first,
                                    (size_t)(ranges[0].last - ranges[0].first + 1));
        else
            twc_http_response_sendfile(req, fd, ranges[0].first,
                                       ranges[0].last - ranges[0].first + 1);
        twc_http_response_finish(req);
        return;
    }
    if (rr == TWC_HTTP_RANGE_OK && n > 1) {
        /* RFC 9110 §14.6: multipart/byteranges, each part with its range. */
        char part[256];
        uint64_t total = 0;
        int plen;

        for (i = 0; i < n; i++) {
            plen = snprintf(part, sizeof(part),
                            "\r\n--" BOUNDARY "\r\nContent-Type: %s\r\nContent-Range: bytes "
                            "%llu-%llu/%llu\r\n\r\n",
                            type, (unsigned long long)ranges[i].first,
                            (unsigned long long)ranges[i].last, (unsigned long long)size);
            total += (uint64_t)plen + ranges[i].last - ranges[i].first + 1;
        }
        total += sizeof("\r\n--" BOUNDARY "--\r\n") - 1;
        twc_http_response_add_header(req, "Content-Type",
                                     "multipart/byteranges; boundary=" BOUNDARY);
        twc_http_response_set_status(req, 206, NULL);
        twc_http_response_set_length(req, total);
        for (i = 0; i < n; i++) {
            plen = snprintf(part, sizeof(part),
                            "\r\n--" BOUNDARY "\r\nContent-Type: %s\r\nContent-Range: bytes "
                            "%llu-%llu/%llu\r\n\r\n",
                            type, (unsigned long long)ranges[i].first,
                            (unsigned long long)ranges[i].last, (unsigned long long)size);
            twc_http_response_write(req, part, (size_t)plen);
            if (write_part(req, mem, fd, ranges[i].first, ranges[i].last) < 0) {
                twc_http_request_abort(req);
                break;
            }
        }
        twc_http_response_write(req, "\r\n--" BOUNDARY "--\r\n",
                                sizeof("\r\n--" BOUNDARY "--\r\n") - 1);
        if (fd >= 0)
            close(fd);
        twc_http_response_finish(req);
        return;
    }
    twc__http_response_add_raw(req, ctline, ctline_len);
    twc_http_response_set_length(req, size);
    if (mem != NULL)
        twc_http_response_write(req, mem, (size_t)size);
    else
        twc_http_response_sendfile(req, fd, 0, size);
    twc_http_response_finish(req);
}

static int file_info(static_res *s, int fd, const char *name, struct file_info *fi)
{
    if (fstat(fd, &fi->st) < 0)
        return -errno;
    fi->type = twc_http_static_type(&s->base, name);
    make_etag(&fi->st, fi->etag, sizeof(fi->etag));
    if (twc_http_date_format(fi->st.st_mtim.tv_sec, fi->lastmod) < 0)
        snprintf(fi->lastmod, sizeof(fi->lastmod), "Thu, 01 Jan 1970 00:00:00 GMT");
    return 0;
}

/* Serve the open regular file fd (taken) named name (for its type). */
static void serve_fd(static_res *s, twc_http_request *req, int fd, const char *name,
                     const char *key, size_t keylen, uint64_t h, struct file_info *fi)
{
    char *hdrs = NULL;
    size_t hlen = 0, ctlen = 0;
    struct centry *e = NULL;

    if (key != NULL && fi->st.st_size <= TWC_HTTP_FILE_CACHE_ENTRY)
        e = cache_add(s, key, keylen, h, fd, fi);
    (void)name;
    if (e != NULL) {
        close(fd);
        send_file(req, e->data, -1, (uint64_t)e->size, e->type, e->etag, e->lastmod,
                  e->mtime.tv_sec, e->hdrs + e->ct_len, e->hdrs_len - e->ct_len, e->hdrs,
                  e->ct_len);
        return;
    }
    if (build_hdrs(fi, &hdrs, &hlen, &ctlen) < 0) {
        close(fd);
        twc_http_response_error(req, 500);
        return;
    }
    send_file(req, NULL, fd, (uint64_t)fi->st.st_size, fi->type, fi->etag, fi->lastmod,
              fi->st.st_mtim.tv_sec, hdrs + ctlen, hlen - ctlen, hdrs, ctlen);
    free(hdrs);
}

/* ---- Listings ------------------------------------------------------------------------- */

static void html_escape(twc_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': twc_buf_append(b, "&amp;", 5); break;
        case '<': twc_buf_append(b, "&lt;", 4); break;
        case '>': twc_buf_append(b, "&gt;", 4); break;
        case '"': twc_buf_append(b, "&quot;", 6); break;
        case '\'': twc_buf_append(b, "&#39;", 5); break;
        default: twc_buf_append(b, s, 1); break;
        }
    }
}

/* RFC 3986 §2.3: keep unreserved bytes, escape the rest. */
static void url_encode(twc_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
            (keep_slash && ch == '/')) {
            twc_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

            twc_buf_append(b, e, 3);
        }
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void send_listing(twc_http_request *req, int dfd, const char *path)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    twc_buf b;

    if (d == NULL) {
        close(dfd);
        twc_http_response_error(req, 403);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap ? cap * 2 : 64) * sizeof(*nn));

            if (nn == NULL)
                break;
            names = nn;
            cap = cap ? cap * 2 : 64;
        }
        if ((names[n] = strdup(de->d_name)) == NULL)
            break;
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    twc_buf_init(&b, SIZE_MAX);
    twc_buf_printf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    html_escape(&b, path);
    twc_buf_printf(&b, "</title></head>\n<body><h1>Index of ");
    html_escape(&b, path);
    twc_buf_printf(&b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n");
    if (strcmp(path, "/") != 0)
        twc_buf_printf(&b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    for (i = 0; i < n; i++) {
        struct stat st;
        char date[TWC_HTTP_DATE_LEN + 1] = "-";
        bool ok = fstatat(dfd, names[i], &st, 0) == 0;
        bool dir = ok && S_ISDIR(st.st_mode);

        if (ok)
            twc_http_date_format(st.st_mtim.tv_sec, date);
        twc_buf_append(&b, "<tr><td><a href=\"", 17);
        url_encode(&b, names[i], false);
        if (dir)
            twc_buf_append(&b, "/", 1);
        twc_buf_append(&b, "\">", 2);
        html_escape(&b, names[i]);
        if (dir)
            twc_buf_append(&b, "/", 1);
        if (ok && !dir)
            twc_buf_printf(&b, "</a></td><td>%llu</td><td>%s</td></tr>\n",
                           (unsigned long long)st.st_size, date);
        else
            twc_buf_printf(&b, "</a></td><td>-</td><td>%s</td></tr>\n", date);
        free(names[i]);
    }
    free(names);
    closedir(d);
    twc_buf_printf(&b, "</table>\n</body></html>\n");
    twc_http_response_send(req, 200, "text/html; charset=utf-8", twc_buf_data(&b),
                           twc_buf_len(&b));
    twc_buf_cleanup(&b);
}

/* ---- Render ----------------------------------------------------------------------------- */

static void redirect_slash(twc_http_request *req, const char *path)
{
    twc_slice pre = twc_http_request_prepath(req), q = twc_http_request_query(req);
    twc_buf b;

    /* Built from the normalized path (never "//host": no open redirect). */
    twc_buf_init(&b, 16384);
    twc_buf_append(&b, pre.p, pre.len);
    url_encode(&b, path, true);
    twc_buf_append(&b, "/", 1);
    if (q.len > 0) {
        twc_buf_append(&b, "?", 1);
        twc_buf_append(&b, q.p, q.len);
    }
    twc_buf_append(&b, "", 1);
    twc_http_response_add_header(req, "Location", (const char *)twc_buf_data(&b));
    twc_http_response_error(req, 301);
    twc_buf_cleanup(&b);
}

static void static_render(twc_http_resource *r, twc_http_request *req)
{
    static_res *s = (static_res *)r;
    twc_slice m = twc_http_request_method(req), post = twc_http_request_postpath(req);
    char path[8192];
    const char *rel;
    size_t plen, i;
    struct file_info fi;
    struct centry *e;
    uint64_t h;
    int fd;

    if (!(m.len == 3 && memcmp(m.p, "GET", 3) == 0) && !twc_http_request_is_head(req)) {
        twc_http_response_add_header(req, "Allow", "GET, HEAD, OPTIONS");
        if (m.len == 7 && memcmp(m.p, "OPTIONS", 7) == 0)
            twc_http_response_send(req, 200, NULL, NULL, 0);
        else
            twc_http_response_error(req, 405);
        return;
    }
    if (post.len == 0) {
        post.p = (const uint8_t *)"/";
        post.len = 1;
    }
    if (post.len >= sizeof(path) ||
        twc_http_path_normalize((const char *)post.p, post.len, path, &plen) < 0) {
        twc_http_response_error(req, 404);
        return;
    }
    if (s->file != NULL) {
        /* A single-file root answers only for "/". */
        if (strcmp(path, "/") != 0) {
            twc_http_response_error(req, 404);
            return;
        }
        rel = s->file;
    } else {
        /* Empty segments ("//etc") name nothing above the root either. */
        for (rel = path; *rel == '/'; rel++)
            ;
        if (*rel == '\0')
            rel = ".";
    }
    /* Hot path: a cached small file checked on disk less than a second ago. */
    h = hash_path(path, plen);
    e = cache_find(s, path, plen, h);
    if (e != NULL) {
        uint64_t now = twc_reactor_now(s->reactor);

        if (now - e->checked < TWC_HTTP_FILE_CACHE_VALID_MS) {
            send_file(req, e->data, -1, (uint64_t)e->size, e->type, e->etag, e->lastmod,
                      e->mtime.tv_sec, e->hdrs + e->ct_len, e->hdrs_len - e->ct_len, e->hdrs,
                      e->ct_len);
            return;
        }
    }
    fd = open_beneath(s->rootfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (e != NULL)
            cache_remove(s, e);
        twc_http_response_error(req, errno_status(fd));
        return;
    }
    if (file_info(s, fd, rel, &fi) < 0) {
        close(fd);
        twc_http_response_error(req, 403);
        return;
    }
    if (e != NULL) {
        if (S_ISREG(fi.st.st_mode) && fi.st.st_ino == e->ino && fi.st.st_dev == e->dev &&
            fi.st.st_size == e->size && fi.st.st_mtim.tv_sec == e->mtime.tv_sec &&
            fi.st.st_mtim.tv_nsec == e->mtime.tv_nsec) {
            e->checked = twc_reactor_now(s->reactor);
            close(fd);
            send_file(req, e->data, -1, (uint64_t)e->size, e->type, e->etag, e->lastmod,
                      e->mtime.tv_sec, e->hdrs + e->ct_len, e->hdrs_len - e->ct_len, e->hdrs,
                      e->ct_len);
            return;
        }
        cache_remove(s, e);
    }
    if (S_ISREG(fi.st.st_mode)) {
        if (path[plen - 1] == '/' && s->file == NULL) {
            close(fd);
            twc_http_response_error(req, 404); /* "file.txt/" names no folder */
            return;
        }
        serve_fd(s, req, fd, rel, path, plen, h, &fi);
        return;
    }
    if (!S_ISDIR(fi.st.st_mode)) {
        close(fd);
        twc_http_response_error(req, 403);
        return;
    }
    if (path[plen - 1] != '/') {
        close(fd);
        redirect_slash(req, path);
        return;
    }
    for (i = 0; i < s->nindex; i++) {
        int ifd = open_beneath(fd, s->index[i], O_RDONLY | O_NOCTTY | O_NONBLOCK);
        struct file_info ifi;

        if (ifd < 0)
            continue;
        if (file_info(s, ifd, s->index[i], &ifi) == 0 && S_ISREG(ifi.st.st_mode)) {
            close(fd);
            serve_fd(s, req, ifd, s->index[i], NULL, 0, 0, &ifi);
            return;
        }
        close(ifd);
    }
    if (s->no_listing) {
        close(fd);
        twc_http_response_error(req, 403);
        return;
    }
    send_listing(req, fd, path);
}

static void static_free(twc_http_resource *r)
{
    static_res *s = (static_res *)r;
    size_t i;

    for (i = 0; i < CACHE_BUCKETS; i++) {
        while (s->buckets[i] != NULL) {
            struct centry *e = s->buckets[i];

            s->buckets[i] = e->next;
            centry_free(e);
        }
    }
    for (i = 0; i < s->nindex; i++)
        free(s->index[i]);
    free(s->index);
    for (i = 0; i < s->nmimes; i++) {
        free(s->mimes[i].ext);
        free(s->mimes[i].type);
    }
    free(s->mimes);
    free(s->default_type);
    free(s->file);
    if (s->rootfd >= 0)
        close(s->rootfd);
    free(s);
}

static const struct twc_http_resource_ops static_ops = {
    .render = static_render,
    .free = static_free,
};

twc_http_resource *twc_http_static_new(twc_reactor *r, const struct twc_http_static_opts *o,
                                       twc_err *err)
{
    static const char *const def_index[] = {"index.html", "index.htm"};
    const char *const *idx = o->index != NULL ? o->index : def_index;
    size_t nidx = o->index != NULL ? o->nindex : 2, i;
    static_res *s = calloc(1, sizeof(*s));
    struct stat st;

    if (s == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    twc_http_resource_init(&s->base, &static_ops, false);
    s->reactor = r;
    s->rootfd = -1;
    s->no_listing = o->no_listing;
    s->default_type = strdup(o->default_type != NULL ? o->default_type
                                                      : "application/octet-stream");
    s->index = calloc(nidx ? nidx : 1, sizeof(*s->index));
    if (s->default_type == NULL || s->index == NULL)
        goto nomem;
    for (i = 0; i < nidx; i++) {
        if (strchr(idx[i], '/') != NULL) {
            twc_err_set(err, TWC_EINVAL, "index name '%s' must not contain '/'", idx[i]);
            goto fail;
        }
        if ((s->index[i] = strdup(idx[i])) == NULL)
            goto nomem;
        s->nindex++;
    }
    if (stat(o->root, &st) < 0) {
        twc_err_sys(err, errno, "%s", o->root);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        s->rootfd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else {
        const char *slash = strrchr(o->root, '/');
        char *dir = slash != NULL ? strndup(o->root, (size_t)(slash - o->root + 1)) : strdup(".");

        s->file = strdup(slash != NULL ? slash + 1 : o->root);
        if (dir == NULL || s->file == NULL) {
            free(dir);
            goto nomem;
        }
        s->rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        free(dir);
    }
    if (s->rootfd < 0) {
        twc_err_sys(err, errno, "%s", o->root);
        goto fail;
    }
    load_mime_types(s, o->mime_types != NULL ? o->mime_types : "/etc/mime.types");
    return &s->base;

nomem:
    twc_err_set(err, TWC_ENOMEM, "out of memory");
fail:
    static_free(&s->base);
    return NULL;
}
