/*
 * The http:// and https:// back-end, and the libcurl layer it shares with
 * s3.c (http.h).
 *
 * Listing a URL is one HEAD: its Content-Length and whether the server
 * says "Accept-Ranges: bytes". read_text cuts a ranged object into
 * blocks, each read with a ranged GET; anything else is read whole as one
 * split. Globs are not expanded over HTTP (there is no listing).
 *
 * Tuning by environment (mainly for tests): RUNNEL_HTTP_RETRIES (default
 * 4 retries after the first try), RUNNEL_HTTP_RETRY_MS (first backoff,
 * default 200, doubling, plus up to as much again of jitter),
 * RUNNEL_HTTP_CONNECT_TIMEOUT and RUNNEL_HTTP_LOW_SPEED_TIME (seconds,
 * default 10 and 30: a transfer slower than 1 byte/s that long fails and
 * is retried).
 *
 * Under a worker's policy with block_link_local (io.h), every connection
 * goes through guard_open (CURLOPT_OPENSOCKETFUNCTION: the address curl
 * resolved and is about to connect to, for the first request, a redirect
 * or a proxy) and every request through guard_prereq
 * (CURLOPT_PREREQFUNCTION: the peer of a new or reused connection, and the
 * request URL's host when it is an address, which a proxy would connect
 * to for us). Both exist in Debian 12's libcurl 7.88.
 */
#define _GNU_SOURCE
#include "io/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "base/alloc.h"
#include "io/backend.h"

/* A stream's buffer, and the most curl hands its write callback at once
 * (CURLOPT_BUFFERSIZE; its default, 16 KiB, costs one recv and one
 * callback per 16 KiB, where the curl tool uses 100 KiB). */
#define STREAM_BUF ((size_t)512 << 10)
#define ERRBODY_MAX ((size_t)16 << 10)
#define MAX_REDIRS 10L
/* Read-ahead of a bounded stream past its end, kept for the next stream
 * the same thread opens there (see "Read-ahead" below). */
#define AHEAD_MAX ((size_t)64 << 10)
#define AHEAD_TTL_NS 2000000000LL

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t ahead_key;
static int ahead_ok; /* the key exists */
static void ahead_drop(void *p);
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    ahead_ok = pthread_key_create(&ahead_key, ahead_drop) == 0;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
    const char *v = getenv(name);
    char *end;
    long x;
    if (!v || !*v)
        return dflt;
    x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi)
        return dflt;
    return x;
}

/* Sleeps before retry number `attempt` (1, 2, ...): base * 2^(attempt-1)
 * plus a random jitter of up to as much again, so clients retrying
 * together spread out. */
static void backoff(int attempt)
{
    long base = env_long("RUNNEL_HTTP_RETRY_MS", 200, 0, 60000);
    uint64_t ms = (uint64_t)base << (attempt - 1 < 10 ? attempt - 1 : 10);
    uint32_t r = 0;
    struct timespec ts;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)rand();
    if (ms > 30000)
        ms = 30000;
    ms += ms ? r % (ms + 1) : 0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int max_retries(void)
{
    return (int)env_long("RUNNEL_HTTP_RETRIES", 4, 0, 100);
}

/* Transport failures worth another try. */
static int retryable_curl(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

int rn__http_encode(rn_buf *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                   (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                   c == '.' || c == '~' || (keep_slash && c == '/');
        int rc;
        if (keep)
            rc = rn_buf_putc(b, (char)c);
        else
            rc = rn_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc)
            return rc;
    }
    return 0;
}

/* "HTTP 404 NoSuchKey": the status and, when the body is an S3 error
 * document, its <Code>. */
static int status_error(rn_errbuf *err, const char *shown, long status,
                        const char *body, size_t blen)
{
    const char *code = NULL;
    int clen = 0;
    int rc = status == 404 ? RN_ENOTFOUND : RN_EIO;
    if (body && blen) {
        const char *p = memmem(body, blen, "<Code>", 6);
        const char *q = p ? memmem(p, blen - (size_t)(p - body), "</Code>", 7)
                          : NULL;
        if (p && q && q - p - 6 < 64) {
            code = p + 6;
            clen = (int)(q - code);
        }
    }
    if (code)
        return rn_error_set(err, rc, "%s: HTTP %ld %.*s", shown, status, clen,
                            code);
    return rn_error_set(err, rc, "%s: HTTP %ld", shown, status);
}

/* ------------------------------------------------------------------ */
/* The link-local guard                                                */

/* What the guard of one easy handle refused, if anything. */
typedef struct net_guard {
    CURL *e;
    int refused;
    char addr[INET6_ADDRSTRLEN];
} net_guard;

/* 169.254.0.0/16 (link-local: the cloud metadata service) and 0.0.0.0/8
 * (0.0.0.0 reaches this host's own services). */
static int v4_blocked(const unsigned char a[4])
{
    return (a[0] == 169 && a[1] == 254) || a[0] == 0;
}

/* fe80::/10, fd00:ec2::254 (EC2's metadata over IPv6), :: and the IPv4
 * blocked above when mapped (::ffff:0:0/96) or NAT64'd (64:ff9b::/96). */
static int v6_blocked(const unsigned char a[16])
{
    static const unsigned char ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 2,
                                          0x54};
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0,
                                            0, 0,    0,    0,    0, 0};
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return 1;
    if (memcmp(a, ec2, 16) == 0 || memcmp(a, zero, 16) == 0)
        return 1;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_blocked(a + 12);
    return 0;
}

/* An address in text (a URL's host, curl's peer): blocked or not. Host
 * names are not addresses: 0. IPv4 is read as inet_aton(3) and curl read
 * it (169.254.43518, 0xa9fea9fe...). */
static int text_blocked(const char *s)
{
    char buf[INET6_ADDRSTRLEN + 8];
    unsigned char a6[16];
    struct in_addr a4;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    buf[strcspn(buf, "%")] = '\0'; /* a zone: fe80::1%eth0 */
    if (inet_pton(AF_INET6, buf, a6) == 1)
        return v6_blocked(a6);
    if (inet_aton(buf, &a4))
        return v4_blocked((const unsigned char *)&a4.s_addr);
    return 0;
}

static void guard_refuse(net_guard *g, const char *addr)
{
    g->refused = 1;
    snprintf(g->addr, sizeof(g->addr), "%s", addr);
}

/* CURLOPT_OPENSOCKETFUNCTION: refuses before a packet is sent. */
static curl_socket_t guard_open(void *ud, curlsocktype purpose,
                                struct curl_sockaddr *sa)
{
    net_guard *g = ud;
    struct sockaddr_storage ss;
    char text[INET6_ADDRSTRLEN] = "?";
    int blocked = 0;
    (void)purpose;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &sa->addr,
           sa->addrlen < sizeof(ss) ? sa->addrlen : sizeof(ss));
    if (sa->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        blocked = v4_blocked((const unsigned char *)&in->sin_addr.s_addr);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    } else if (sa->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        blocked = v6_blocked(in6->sin6_addr.s6_addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    }
    if (blocked) {
        guard_refuse(g, text);
        return CURL_SOCKET_BAD; /* curl tries the next address, if any */
    }
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* CURLOPT_PREREQFUNCTION: before each request is sent. */
static int guard_prereq(void *ud, char *peer, char *local, int peer_port,
                        int local_port)
{
    net_guard *g = ud;
    char *url = NULL, *host = NULL;
    CURLU *u;
    int blocked = 0;
    (void)local;
    (void)peer_port;
    (void)local_port;
    if (peer && text_blocked(peer)) {
        guard_refuse(g, peer);
        return CURL_PREREQFUNC_ABORT;
    }
    /* The URL of this request (after a redirect, the new one). */
    if (curl_easy_getinfo(g->e, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK ||
        !url)
        return CURL_PREREQFUNC_OK;
    if ((u = curl_url()) != NULL &&
        curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host &&
        text_blocked(host)) {
        guard_refuse(g, host);
        blocked = 1;
    }
    curl_free(host);
    curl_url_cleanup(u);
    return blocked ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/* The error of a transfer the guard stopped: RN_EPERM, never retried. */
static int guard_error(rn_errbuf *err, const char *shown, const net_guard *g)
{
    return rn_error_set(err, RN_EPERM,
                        "%s: connecting to %s is not allowed on this worker "
                        "(a link-local or cloud metadata address)",
                        shown, g->addr);
}

/* The options every request gets. guard records what the worker's policy
 * refused on this handle (reset here). */
static int setup_easy(CURL *e, const char *url, const rn__http_auth *auth,
                      const void *body, size_t blen, struct curl_slist **hdrs,
                      char *errbuf, net_guard *guard)
{
    struct curl_slist *h = NULL, *t;
    guard->e = e;
    guard->refused = 0;
    guard->addr[0] = '\0';
    if (rn__io_policy_blocks_link_local()) {
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, guard_open);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, guard);
        curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, guard_prereq);
        curl_easy_setopt(e, CURLOPT_PREREQDATA, guard);
    }
    if (rn__io_policy_active()) {
        /* Not curl's other protocols (ftp, ...), redirects included. */
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
                     env_long("RUNNEL_HTTP_CONNECT_TIMEOUT", 10, 1, 3600));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     env_long("RUNNEL_HTTP_LOW_SPEED_TIME", 30, 1, 3600));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "runnel");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    errbuf[0] = '\0';
    if (auth && auth->sigv4) {
        /* curl 7.88 does not add x-amz-content-sha256, and S3 refuses a
         * request without it: the hex SHA-256 of the body. */
        unsigned char md[SHA256_DIGEST_LENGTH];
        char line[64 + 32];
        size_t k = (size_t)snprintf(line, sizeof(line),
                                    "x-amz-content-sha256: ");
        SHA256(body ? body : (const void *)"", blen, md);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            k += (size_t)snprintf(line + k, sizeof(line) - k, "%02x", md[i]);
        if (!(t = curl_slist_append(h, line)))
            goto oom;
        h = t;
        if (auth->token) {
            rn_buf tb;
            rn_buf_init(&tb, 8192);
            if (rn_buf_printf(&tb, "x-amz-security-token: %s", auth->token) ||
                !(t = curl_slist_append(h, tb.ptr))) {
                rn_buf_release(&tb);
                goto oom;
            }
            rn_buf_release(&tb);
            h = t;
        }
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, auth->sigv4);
        curl_easy_setopt(e, CURLOPT_USERNAME, auth->key);
        curl_easy_setopt(e, CURLOPT_PASSWORD, auth->secret);
    }
    if (body) {
        /* No "Expect:" to turn 100-continue off: curl 7.88 would sign
         * the empty header it never sends. */
        if (!(t = curl_slist_append(h,
                                    "Content-Type: application/octet-stream")))
            goto oom;
        h = t;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    *hdrs = h;
    return 0;
oom:
    curl_slist_free_all(h);
    *hdrs = NULL;
    return RN_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Read-ahead                                                          */

/*
 * read_text reads a block [s, e) with one stream, then the end of its
 * last line with a second stream opened at e. That second request costs
 * a round trip and, on a small S3 server, more CPU than the bytes it
 * returns (@20minutes/s3rver: ~4 ms of CPU per request; docs/BENCHMARKS.md).
 * So a bounded stream asks for AHEAD_MAX bytes more than its range, and
 * when it is freed, the bytes it got past its end wait in a one-slot
 * cache of its thread. The next stream opened on that thread for the same
 * URL, credentials and offset starts with them and sends a request only
 * if it needs more; any other open empties the slot, and the bytes expire
 * after AHEAD_TTL_NS, so they are never older than the read that fetched
 * them by more than that.
 */
typedef struct ahead {
    char *url, *key;   /* request URL, access key id ("" without auth) */
    uint64_t off;      /* offset of buf[0] in the object */
    unsigned char *buf;
    size_t len;
    int64_t at_ns;     /* CLOCK_MONOTONIC when stored */
} ahead;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void ahead_drop(void *p)
{
    ahead *a = p;
    if (!a)
        return;
    rn_free(a->url);
    rn_free(a->key);
    rn_free(a->buf);
    rn_free(a);
}

/* Takes this thread's read-ahead (NULL if none); the slot is empty after. */
static ahead *ahead_take(void)
{
    ahead *a;
    if (!ahead_ok || !(a = pthread_getspecific(ahead_key)))
        return NULL;
    pthread_setspecific(ahead_key, NULL);
    return a;
}

/* ------------------------------------------------------------------ */
/* Streaming reads                                                     */

struct rn__http_stream {
    char *shown, *url;
    rn__http_auth auth; /* owned copies */
    CURLM *m;
    CURL *e;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    uint64_t pos;       /* absolute offset of the next byte to receive */
    uint64_t end;       /* UINT64_MAX: to the end of the object */
    uint64_t req_end;   /* end + read-ahead: what the Range asks for */
    unsigned char *xbuf; /* received past end: [end, end + xlen) */
    size_t xlen;
    uint64_t req_pos;   /* pos when the current request was sent */
    uint64_t skip;      /* bytes to drop: the server ignored our Range */
    unsigned char *buf; /* received, not yet read: buf[lo, hi) */
    size_t cap, lo, hi;
    long status;        /* of the current response, 0 before it */
    int attached;       /* e is in m */
    int paused, eof, enough, tries;
    rn_buf errbody;
    net_guard guard;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    rn__http_stream *s = ud;
    size_t n = sz * nm, off, take;
    if (s->status == 0) {
        curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &s->status);
        if (s->status == 200)
            s->skip = s->req_pos; /* the whole object came: drop the head */
    }
    if (s->status != 200 && s->status != 206) {
        /* An error document: keep its start for the message. */
        size_t room = s->errbody.max - s->errbody.len;
        rn_buf_append(&s->errbody, p, n < room ? n : room);
        return n;
    }
    off = s->skip < n ? (size_t)s->skip : n;
    take = n - off;
    if (s->end != UINT64_MAX && take > s->end - s->pos)
        take = (size_t)(s->end - s->pos);
    if (take > s->cap - s->hi && s->lo > 0) {
        memmove(s->buf, s->buf + s->lo, s->hi - s->lo);
        s->hi -= s->lo;
        s->lo = 0;
    }
    if (take > s->cap - s->hi) {
        if (s->hi > s->lo) {
            /* Full: curl keeps this chunk and hands it again on resume. */
            s->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        unsigned char *nb = rn_realloc(s->buf, take);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = take;
    }
    s->skip -= off;
    memcpy(s->buf + s->hi, p + off, take);
    s->hi += take;
    s->pos += take;
    if (s->end != UINT64_MAX && s->pos >= s->end) {
        /* Past the end: read-ahead, up to req_end. */
        size_t rest = n - off - take;
        size_t room = (size_t)(s->req_end - s->end) - s->xlen;
        size_t keep = rest < room ? rest : room;
        s->enough = 1;
        if (keep && !s->xbuf && !(s->xbuf = rn_malloc(AHEAD_MAX)))
            keep = 0; /* only an optimisation */
        if (keep) {
            memcpy(s->xbuf + s->xlen, p + off + take, keep);
            s->xlen += keep;
        }
        return keep == rest ? n : 0; /* 0 stops a server sending more */
    }
    return n;
}

static void stream_detach(rn__http_stream *s)
{
    if (s->attached) {
        curl_multi_remove_handle(s->m, s->e);
        s->attached = 0;
    }
}

static int stream_start(rn__http_stream *s, rn_errbuf *err)
{
    char range[64];
    curl_easy_reset(s->e);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    if (setup_easy(s->e, s->url, s->auth.sigv4 ? &s->auth : NULL, NULL, 0,
                   &s->hdrs, s->errbuf, &s->guard))
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", s->shown);
    curl_easy_setopt(s->e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(s->e, CURLOPT_BUFFERSIZE, (long)STREAM_BUF);
    curl_easy_setopt(s->e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->e, CURLOPT_WRITEDATA, s);
    if (s->end != UINT64_MAX)
        snprintf(range, sizeof(range), "%llu-%llu",
                 (unsigned long long)s->pos,
                 (unsigned long long)s->req_end - 1);
    else
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)s->pos);
    if (s->pos > 0 || s->end != UINT64_MAX)
        curl_easy_setopt(s->e, CURLOPT_RANGE, range);
    s->req_pos = s->pos;
    s->skip = 0;
    s->status = 0;
    s->paused = 0;
    rn_buf_reset(&s->errbody);
    if (curl_multi_add_handle(s->m, s->e) != CURLM_OK)
        return rn_error_set(err, RN_EIO, "%s: cannot start the transfer",
                            s->shown);
    s->attached = 1;
    return 0;
}

/* A transfer ended with result c: the end, a retry, or an error. */
static int stream_done(rn__http_stream *s, CURLcode c, rn_errbuf *err)
{
    long status = s->status;
    int again;
    if (status == 0)
        curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &status);
    stream_detach(s);
    if (s->enough || (c == CURLE_OK && (status == 200 || status == 206 ||
                                        status == 416))) {
        s->eof = 1; /* 416: the range starts past the end: empty */
        return 0;
    }
    if (c != CURLE_OK && s->guard.refused)
        return guard_error(err, s->shown, &s->guard);
    if (c == CURLE_OK || c == CURLE_HTTP_RETURNED_ERROR)
        again = status >= 500;
    else
        again = retryable_curl(c);
    if (s->pos > s->req_pos)
        s->tries = 0; /* it made progress: only failures in a row count */
    if (again && s->tries < max_retries()) {
        s->tries++;
        backoff(s->tries);
        return stream_start(s, err);
    }
    if (c == CURLE_OK)
        return status_error(err, s->shown, status, s->errbody.ptr,
                            s->errbody.len);
    return rn_error_set(err, RN_EIO, "%s: %s (after %d tries)", s->shown,
                        s->errbuf[0] ? s->errbuf : curl_easy_strerror(c),
                        s->tries + 1);
}

int rn__http_stream_open(const char *shown, const char *url,
                         const rn__http_auth *auth, uint64_t offset,
                         uint64_t length, rn__http_stream **out,
                         rn_errbuf *err)
{
    rn__http_stream *s = NULL;
    ahead *a;
    int rc = 0;
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    s = rn_calloc(1, sizeof(*s));
    if (!s)
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", shown);
    rn_buf_init(&s->errbody, ERRBODY_MAX);
    if (!(s->shown = rn_strdup(shown)) || !(s->url = rn_strdup(url)) ||
        !(s->buf = rn_malloc(STREAM_BUF)) || !(s->m = curl_multi_init()) ||
        !(s->e = curl_easy_init())) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", shown);
        goto done;
    }
    if (auth && auth->sigv4 &&
        (!(s->auth.sigv4 = rn_strdup(auth->sigv4)) ||
         !(s->auth.key = rn_strdup(auth->key)) ||
         !(s->auth.secret = rn_strdup(auth->secret)) ||
         (auth->token && !(s->auth.token = rn_strdup(auth->token))))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", shown);
        goto done;
    }
    s->cap = STREAM_BUF;
    s->pos = offset;
    s->end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
    s->req_end = s->end > UINT64_MAX - 1 - AHEAD_MAX ? s->end
                                                      : s->end + AHEAD_MAX;
    if (s->pos >= s->end)
        s->eof = 1;
    else if ((a = ahead_take()) != NULL) {
        /* The bytes a stream that ended here fetched ahead. */
        if (a->off == offset && strcmp(a->url, url) == 0 &&
            strcmp(a->key, auth && auth->sigv4 ? auth->key : "") == 0 &&
            now_ns() - a->at_ns < AHEAD_TTL_NS) {
            size_t k = a->len;
            if (k > s->end - s->pos)
                k = (size_t)(s->end - s->pos);
            memcpy(s->buf, a->buf, k); /* k <= AHEAD_MAX < STREAM_BUF */
            s->hi = k;
            s->pos += k;
            if (s->pos >= s->end)
                s->eof = 1;
        }
        ahead_drop(a);
    }
    *out = s;
    s = NULL;
done:
    rn__http_stream_free(s);
    return rc;
}

int64_t rn__http_stream_read(rn__http_stream *s, void *buf, size_t cap,
                             rn_errbuf *err)
{
    int rc;
    for (;;) {
        if (s->hi > s->lo) {
            size_t k = s->hi - s->lo;
            if (k > cap)
                k = cap;
            memcpy(buf, s->buf + s->lo, k);
            s->lo += k;
            if (s->lo == s->hi)
                s->lo = s->hi = 0;
            return (int64_t)k;
        }
        if (s->eof)
            return 0;
        if (!s->attached) {
            if ((rc = stream_start(s, err)))
                return rc;
        } else if (s->paused) {
            s->paused = 0;
            curl_easy_pause(s->e, CURLPAUSE_CONT); /* may call on_data */
            continue;
        }
        int running = 0, left;
        CURLMsg *msg;
        if (curl_multi_perform(s->m, &running) != CURLM_OK)
            return rn_error_set(err, RN_EIO, "%s: transfer failed",
                                s->shown);
        while ((msg = curl_multi_info_read(s->m, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE &&
                (rc = stream_done(s, msg->data.result, err)))
                return rc;
        }
        if (s->hi == s->lo && !s->eof && s->attached && !s->paused)
            curl_multi_poll(s->m, NULL, 0, 1000, NULL);
    }
}

/* Leaves what s fetched past its end for the next stream of this thread. */
static void ahead_keep(rn__http_stream *s)
{
    ahead *a;
    if (!ahead_ok || s->xlen == 0)
        return;
    ahead_drop(ahead_take());
    if (!(a = rn_calloc(1, sizeof(*a))) || !(a->url = rn_strdup(s->url)) ||
        !(a->key = rn_strdup(s->auth.sigv4 ? s->auth.key : ""))) {
        ahead_drop(a);
        return;
    }
    a->off = s->end;
    a->buf = s->xbuf;
    a->len = s->xlen;
    a->at_ns = now_ns();
    s->xbuf = NULL;
    if (pthread_setspecific(ahead_key, a) != 0) {
        s->xbuf = a->buf;
        a->buf = NULL;
        ahead_drop(a);
    }
}

void rn__http_stream_free(rn__http_stream *s)
{
    if (!s)
        return;
    ahead_keep(s);
    if (s->m) {
        stream_detach(s);
        curl_multi_cleanup(s->m);
    }
    if (s->e)
        curl_easy_cleanup(s->e);
    curl_slist_free_all(s->hdrs);
    rn_buf_release(&s->errbody);
    rn_free(s->buf);
    rn_free(s->xbuf);
    rn_free(s->shown);
    rn_free(s->url);
    rn_free((char *)s->auth.sigv4);
    rn_free((char *)s->auth.key);
    if (s->auth.secret) {
        /* do not leave the secret in freed memory */
        volatile char *p = (volatile char *)s->auth.secret;
        while (*p)
            *p++ = 0;
    }
    rn_free((char *)s->auth.secret);
    rn_free((char *)s->auth.token);
    rn_free(s);
}

/* ------------------------------------------------------------------ */
/* Buffered requests                                                   */

typedef struct req_ctx {
    rn__http_req *r;
    rn_buf *resp;
    rn_buf scratch; /* the body when the caller wants none: errors */
    net_guard guard;
    int ranged;
    int overflow;
} req_ctx;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    req_ctx *c = ud;
    size_t n = sz * nm;
    rn_buf *b = c->resp ? c->resp : &c->scratch;
    if (rn_buf_append(b, p, n)) {
        if (!c->resp) /* error body: its start is enough */
            return n;
        c->overflow = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    req_ctx *c = ud;
    size_t n = sz * nm;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
        c->ranged = 0; /* a new response (after a redirect) */
    else if (n > 14 && strncasecmp(p, "accept-ranges:", 14) == 0) {
        const char *v = p + 14;
        while (v < p + n && (*v == ' ' || *v == '\t'))
            v++;
        if ((size_t)(p + n - v) >= 5 && strncasecmp(v, "bytes", 5) == 0)
            c->ranged = 1;
    } else if (n > 5 && strncasecmp(p, "etag:", 5) == 0) {
        const char *v = p + 5, *e = p + n;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
            e--;
        if ((size_t)(e - v) < sizeof(c->r->etag)) {
            memcpy(c->r->etag, v, (size_t)(e - v));
            c->r->etag[e - v] = '\0';
        }
    }
    return n;
}

int rn__http_request(rn__http_req *r, rn_buf *resp, rn_errbuf *err)
{
    CURL *e = NULL;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    req_ctx c = {0};
    int rc = 0, is_head = strcmp(r->method, "HEAD") == 0;

    pthread_once(&curl_once, curl_init_once);
    rn_buf_init(&c.scratch, ERRBODY_MAX);
    c.resp = resp;
    c.r = r;
    r->etag[0] = '\0';
    r->status = 0;
    r->size = UINT64_MAX;
    r->ranged = 0;
    if (!(e = curl_easy_init())) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", r->shown);
        goto done;
    }
    for (int tries = 0;; tries++) {
        CURLcode cc;
        curl_easy_reset(e);
        curl_slist_free_all(hdrs);
        if (setup_easy(e, r->url, r->auth, r->body, r->body_len, &hdrs,
                       errbuf, &c.guard)) {
            rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", r->shown);
            goto done;
        }
        if (is_head)
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else if (strcmp(r->method, "GET") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)r->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        }
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &c);
        if (resp)
            rn_buf_reset(resp);
        rn_buf_reset(&c.scratch);
        c.overflow = 0;
        cc = curl_easy_perform(e);
        r->status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        if (cc != CURLE_OK && c.guard.refused) {
            rc = guard_error(err, r->shown, &c.guard);
            goto done;
        }
        if (c.overflow) {
            rc = rn_error_set(err, RN_ELIMIT,
                              "%s: response larger than %zu bytes", r->shown,
                              resp->max);
            goto done;
        }
        if (cc == CURLE_OK && r->status < 500)
            break;
        if (tries < max_retries() &&
            (cc == CURLE_OK ? r->status >= 500 : retryable_curl(cc))) {
            backoff(tries + 1);
            continue;
        }
        if (cc == CURLE_OK)
            break;
        rc = rn_error_set(err, RN_EIO, "%s: %s (after %d tries)", r->shown,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc),
                          tries + 1);
        goto done;
    }
    if (is_head && r->status >= 400 && r->status != 404) {
        /* A HEAD answer has no body, so no S3 error code: ask again with
         * a one-byte GET for the error document (403 SignatureDoesNotMatch
         * rather than a bare 403). */
        long head_status = r->status;
        curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_RANGE, "0-0");
        rn_buf_reset(&c.scratch);
        c.resp = NULL;
        if (curl_easy_perform(e) != CURLE_OK)
            rn_buf_reset(&c.scratch);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->status != head_status)
            rn_buf_reset(&c.scratch);
        r->status = head_status;
    }
    if (r->status >= 400 && !(r->status == 404 && r->ok404)) {
        rn_buf *b = resp ? resp : &c.scratch;
        rc = status_error(err, r->shown, r->status, b->ptr, b->len);
        goto done;
    }
    if (is_head) {
        curl_off_t len = -1;
        curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        r->size = len >= 0 ? (uint64_t)len : UINT64_MAX;
        r->ranged = c.ranged;
    }
done:
    curl_slist_free_all(hdrs);
    if (e)
        curl_easy_cleanup(e);
    rn_buf_release(&c.scratch);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The http(s):// back-end                                             */

static int http_list(rn_arena *a, const char *pattern, rn_io_entry **out,
                     size_t *n, rn_errbuf *err)
{
    rn__http_req r = {.method = "HEAD", .shown = pattern, .url = pattern};
    rn_io_entry *e;
    rn_errbuf head_err;
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = rn__http_request(&r, NULL, &head_err))) {
        /* A server that refuses HEAD may still GET: read it whole. */
        if (r.status != 405 && r.status != 501)
            return rn_error_set(err, rc, "%s", head_err.msg);
        r.size = UINT64_MAX;
        r.ranged = 0;
    }
    if (!(e = rn_arena_alloc(a, sizeof(*e))) ||
        !(e->url = rn_arena_strndup(a, pattern, strlen(pattern))))
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", pattern);
    e->size = r.size;
    e->compressed = rn_io_codec_from_name(pattern) != RN_CODEC_NONE;
    e->ranged = r.ranged && r.size != UINT64_MAX;
    *out = e;
    *n = 1;
    return 0;
}

static int http_open(const char *url, uint64_t offset, uint64_t length,
                     void **h, rn_errbuf *err)
{
    return rn__http_stream_open(url, url, NULL, offset, length,
                                (rn__http_stream **)h, err);
}

static int64_t http_read(void *h, void *buf, size_t cap, rn_errbuf *err)
{
    return rn__http_stream_read(h, buf, cap, err);
}

static void http_close(void *h) { rn__http_stream_free(h); }

static int http_create(const char *url, void **h, rn_errbuf *err)
{
    *h = NULL;
    return rn_error_set(err, RN_EINVAL,
                        "%s: writing over http(s):// is not supported (use "
                        "s3:// or a local path)",
                        url);
}

static int http_write(void *h, const void *p, size_t n, rn_errbuf *err)
{
    (void)h;
    (void)p;
    (void)n;
    return rn_error_set(err, RN_EINVAL, "http(s):// cannot be written");
}

static int http_commit(void *h, rn_errbuf *err)
{
    (void)h;
    return rn_error_set(err, RN_EINVAL, "http(s):// cannot be written");
}

static void http_abort(void *h) { (void)h; }

const rn__io_backend rn__io_http = {
    .name = "http",
    .list = http_list,
    .open = http_open,
    .read = http_read,
    .close = http_close,
    .create = http_create,
    .write = http_write,
    .commit = http_commit,
    .abort = http_abort,
};
