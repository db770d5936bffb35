/*
 * Every default limit in twc, one commented line each. Modules take these as
 * defaults in their limits structs; nothing else hard-codes a size.
 */
#ifndef TWC_LIB_LIMITS_H
#define TWC_LIB_LIMITS_H

/* Reactor and transports */
#define TWC_READ_CHUNK (64 * 1024)         /* bytes per read(2); one shared buffer per reactor */
#define TWC_READS_PER_WAKEUP 32            /* reads per fd per wakeup before yielding (libuv) */
#define TWC_WRITE_HIGH_WATER (1024 * 1024) /* buffered output that pauses the producer */
#define TWC_WRITE_LOW_WATER (64 * 1024)    /* buffered output that resumes it */
#define TWC_SENDFILE_CHUNK (256 * 1024)   /* sendfile(2) bytes per connection per wakeup */
#define TWC_SENDFILE_NOTSENT_LOWAT (32 * 1024) /* TCP_NOTSENT_LOWAT once a file is sent */
#define TWC_LISTEN_BACKLOG 511             /* listen(2) backlog, as nginx */
#define TWC_ACCEPTS_PER_WAKEUP 64          /* accept(2) calls per listener wakeup */
#define TWC_EMFILE_BACKOFF_MS 100          /* listener pause after EMFILE/ENFILE */
#define TWC_CONNECT_TIMEOUT_MS 30000       /* default client connect timeout */
#define TWC_HAPPY_EYEBALLS_DELAY_MS 250   /* RFC 8305 §5 connection attempt delay */
#define TWC_UDP_MAX_DATAGRAM 65535         /* largest datagram we receive */
#define TWC_EPOLL_EVENTS 256               /* events fetched per epoll_wait */
#define TWC_SHUTDOWN_GRACE_MS 10000        /* SIGTERM: time for requests to finish (CLI.md) */
#define TWC_SHUTDOWN_LINGER_MS 1000        /* then: for closes still queued on the loop */

/* Thread pool */
#define TWC_POOL_THREADS 4 /* default pool size, as libuv */

/* Child processes */
#define TWC_PROCESS_STDIN_MAX (16 * 1024 * 1024) /* stdin bytes queued for a child */

/* Reconnecting client factory (jittered exponential backoff) */
#define TWC_RECONNECT_INITIAL_MS 1000 /* first retry delay */
#define TWC_RECONNECT_MAX_MS 60000    /* retry delay cap */
#define TWC_RECONNECT_FACTOR 2.718    /* growth per failure, as Twisted's ReconnectingClientFactory */
#define TWC_RECONNECT_JITTER 0.12     /* +/- fraction of random jitter, as Twisted */

/* Framing */
#define TWC_LINE_MAX 16384              /* line receiver default maximum line length */
#define TWC_NETSTRING_MAX (1024 * 1024) /* largest netstring payload */
#define TWC_LENGTH_PREFIX_MAX (1024 * 1024) /* largest length-prefixed frame (32-bit form) */

/* TLS */
#define TWC_TLS_HANDSHAKE_TIMEOUT_MS 30000 /* a peer must finish the handshake by then (slowloris) */

/* DNS (RFC 1035 §2.3.4, RFC 6891, RFC 7766) */
#define TWC_DNS_UDP_MAX 512            /* UDP payload without EDNS0 */
#define TWC_DNS_EDNS_MAX 1232          /* our advertised/accepted EDNS0 payload (DNS flag day 2020) */
#define TWC_DNS_TCP_MAX 65535          /* a message over TCP */
#define TWC_DNS_MAX_RRS 4096           /* resource records parsed from one message */
#define TWC_DNS_COMPRESS_MAX 128       /* names remembered for compression in one message */
#define TWC_DNS_POINTER_HOPS 64        /* compression pointers followed in one name */
#define TWC_DNS_FORWARD_INFLIGHT 1024  /* forwarded queries awaiting an answer (-r) */
#define TWC_DNS_CACHE_ENTRIES 10000    /* answers kept by the cache (-c), LRU-evicted */
#define TWC_DNS_CACHE_BYTES (16 * 1024 * 1024) /* message bytes kept by the cache */
#define TWC_DNS_CACHE_TTL_MAX 86400    /* longest time an answer is cached, seconds (as Unbound) */
#define TWC_DNS_NEG_TTL_MAX 10800      /* longest negative caching, seconds (RFC 2308 §5) */
#define TWC_DNS_XFR_TIMEOUT_MS 60000   /* a whole zone transfer (AXFR) as a secondary */
#define TWC_DNS_XFR_MESSAGES_MAX (4 * 1024 * 1024) /* messages in one AXFR (one RR each at worst) */
#define TWC_DNS_XFR_RECORDS_MAX (4 * 1024 * 1024 + 1) /* records in one AXFR: a zone plus its closing SOA */
#define TWC_DNS_XFR_BYTES_MAX (1024 * 1024 * 1024) /* message bytes in one AXFR */
#define TWC_DNS_SECONDARY_RETRY_S 60   /* retry after a failed first transfer (no SOA yet) */
#define TWC_DNS_SECONDARY_REFRESH_MIN_S 1 /* floor for SOA refresh/retry timers */
#define TWC_DNS_ZONE_ENTRY_MAX (128 * 1024) /* bytes in one zone-file entry, parentheses included */
#define TWC_DNS_ZONE_FIELDS_MAX 1024       /* fields in one zone-file entry */
#define TWC_DNS_ZONE_RECORDS_MAX (4 * 1024 * 1024) /* records in one zone, $INCLUDEs counted */
#define TWC_DNS_ZONE_INCLUDE_DEPTH 8       /* nested $INCLUDE files */
#define TWC_DNS_ZONE_FILE_MAX (256 * 1024 * 1024) /* bytes in one zone or hosts file */
#define TWC_DNS_RECORD_TTL 3600            /* --record TTL when the line has none */
#define TWC_DNS_HOSTS_TTL 3600             /* TTL of records from a hosts file */
#define TWC_DNS_TCP_IDLE_MS 10000      /* TCP connection without a query closes (RFC 7766 §6.2.3) */
#define TWC_DNS_UDP_SOCKBUF (4 * 1024 * 1024) /* server UDP SO_RCVBUF/SO_SNDBUF: absorbs bursts */

/* Logging */
#define TWC_LOG_LINE_MAX 8192 /* longest log message before truncation */

/* HTTP/1.1 (RFC 9110, RFC 9112) */
#define TWC_HTTP_START_LINE_MAX 8192          /* request-line (414) or status-line, CRLF excluded */
#define TWC_HTTP_HEADER_BYTES_MAX 16384       /* header or trailer section bytes (431) */
#define TWC_HTTP_HEADERS_MAX 100              /* header or trailer field lines (431) */
#define TWC_HTTP_BODY_MAX (1024ULL * 1024 * 1024) /* decoded request body bytes (413) */
#define TWC_HTTP_CHUNK_LINE_MAX 4096          /* chunk-size line with its extensions (400) */
#define TWC_HTTP_RANGES_MAX 64                /* ranges honoured in one Range header (RFC 9110 §14.2) */
#define TWC_HTTP_HEAD_TIMEOUT_MS 30000     /* server: whole request head must arrive (slowloris) */
#define TWC_HTTP_BODY_TIMEOUT_MS 60000     /* server: longest pause inside a request body */
#define TWC_HTTP_IDLE_TIMEOUT_MS 60000     /* server: idle keep-alive connection closes */
#define TWC_HTTP_SEND_TIMEOUT_MS 60000     /* server: client stopped reading our output */
#define TWC_HTTP_SPARE_EXCHANGES 16         /* server: request states kept for reuse when idle */
#define TWC_HTTP_SPARE_PARSER_BUF 4096      /* server: larger head buffers are freed, not kept */
#define TWC_HTTP_FILE_CACHE_ENTRY (64 * 1024) /* static files up to this size are cached in memory */
#define TWC_HTTP_FILE_CACHE_BYTES (16 * 1024 * 1024) /* memory for cached static files */
#define TWC_HTTP_FILE_CACHE_VALID_MS 1000  /* a cached file is re-checked on disk after this */
#define TWC_HTTP_CLIENT_CONNECT_MS 30000     /* client: lookup + connect + TLS handshake */
#define TWC_HTTP_CLIENT_HEAD_MS 60000        /* client: request sent -> response head */
#define TWC_HTTP_CLIENT_BODY_IDLE_MS 60000   /* client: no response body byte for this long */
#define TWC_HTTP_CLIENT_IDLE_MS 60000        /* client: pooled keep-alive connection lifetime */
#define TWC_HTTP_CLIENT_POOL_PER_HOST 8      /* client: idle connections kept per scheme://host:port */
#define TWC_HTTP_CLIENT_PREBUF (64 * 1024)   /* client: streamed body buffered before connecting */
#define TWC_HTTP_USERINFO_MAX 1024           /* client: "user:password@" of a URL, as written */

#endif
