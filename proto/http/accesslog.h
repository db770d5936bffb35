/*
 * Access log in the Combined Log Format (Apache's, as twistd web -l writes):
 *   127.0.0.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"
 * Lines are buffered and written once per loop iteration (one write(2) for
 * many requests); quotes, backslashes and control bytes in the request line,
 * Referer and User-Agent are escaped (\" \\ \xHH) so a line cannot be forged.
 */
#ifndef TWC_PROTO_HTTP_ACCESSLOG_H
#define TWC_PROTO_HTTP_ACCESSLOG_H

#include "lib/err.h"
#include "lib/reactor.h"
#include "proto/http/resource.h"

typedef struct twc_http_accesslog twc_http_accesslog;

/* Open path for appending ("-": standard output). Returns owned, or NULL with
 * *err naming the path. */
twc_http_accesslog *twc_http_accesslog_new(twc_reactor *r, const char *path, twc_err *err);
/* Reopen the file (SIGHUP, after log rotation). On failure the old file stays. */
int twc_http_accesslog_reopen(twc_http_accesslog *l, twc_err *err);
/* Record req (a twc_http_access_fn: pass l as its arg). */
void twc_http_accesslog_record(void *l, twc_http_request *req);
/* Format one line for req into b (exposed for tests). */
int twc_http_accesslog_format(twc_buf *b, twc_http_request *req);
/* Flush and close. NULL no-op. */
void twc_http_accesslog_free(twc_http_accesslog *l);

#endif
