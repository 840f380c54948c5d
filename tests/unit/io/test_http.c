/*
 * The libcurl layer without a server: percent-encoding (what SigV4 signs),
 * empty ranges that need no request, and the errors of a refused
 * connection and of s3:// without credentials; and, against a minimal
 * ranged HTTP server in a thread, the read-ahead a bounded stream leaves
 * for the stream opened at its end; and a worker's block_link_local
 * policy: link-local and metadata addresses refused at once (also behind
 * a name, a redirect or a proxy), loopback still served. Everything else
 * that needs a server is in tests/integration/test_s3.sh.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "io/http.h"
#include "io/io.h"

static void test_encode(void **state)
{
    rn_buf b;
    const char *s = "a b+c/d=e~f_g.h-i%\xc3\xa9";
    (void)state;
    rn_buf_init(&b, 1024);
    assert_int_equal(rn__http_encode(&b, s, strlen(s), 0), 0);
    assert_string_equal(b.ptr,
                        "a%20b%2Bc%2Fd%3De~f_g.h-i%25%C3%A9");
    rn_buf_reset(&b);
    assert_int_equal(rn__http_encode(&b, s, strlen(s), 1), 0);
    assert_string_equal(b.ptr, "a%20b%2Bc/d%3De~f_g.h-i%25%C3%A9");
    rn_buf_release(&b);
}

static void test_empty_range_sends_nothing(void **state)
{
    rn__http_stream *s = NULL;
    rn_errbuf err = {0};
    char buf[16];
    (void)state;
    /* port 1 refuses: an empty range must not even try */
    assert_int_equal(rn__http_stream_open("http://127.0.0.1:1/x",
                                          "http://127.0.0.1:1/x", NULL, 10,
                                          0, &s, &err),
                     0);
    assert_int_equal(rn__http_stream_read(s, buf, sizeof(buf), &err), 0);
    rn__http_stream_free(s);
    rn__http_stream_free(NULL);
}

static void test_refused(void **state)
{
    struct rn_stream *s = NULL;
    rn_errbuf err = {0};
    rn_arena a;
    rn_io_entry *e;
    size_t n;
    char buf[16];
    (void)state;
    setenv("RUNNEL_HTTP_RETRIES", "1", 1);
    setenv("RUNNEL_HTTP_RETRY_MS", "1", 1);
    rn_arena_init(&a, 0);
    assert_int_equal(rn_io_list_urls(&a, "http://127.0.0.1:1/x.txt", &e, &n,
                                     &err),
                     RN_EIO);
    assert_non_null(strstr(err.msg, "http://127.0.0.1:1/x.txt: "));
    assert_non_null(strstr(err.msg, "(after 2 tries)"));
    assert_int_equal(rn_io_open_url("http://127.0.0.1:1/x.txt", 5, 100, 0,
                                    &s, &err),
                     0);
    assert_int_equal(rn_io_stream_read(s, buf, sizeof(buf), &err), RN_EIO);
    assert_non_null(strstr(err.msg, "http://127.0.0.1:1/x.txt: "));
    /* sticky */
    assert_int_equal(rn_io_stream_read(s, buf, sizeof(buf), &err), RN_EIO);
    rn_io_stream_close(s);
    rn_arena_release(&a);
}

static void test_s3_needs_credentials(void **state)
{
    struct rn_stream *s = NULL;
    struct rn_writer *w = NULL;
    rn_errbuf err = {0};
    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "do-not-print-me", 1);
    assert_int_equal(rn_io_open_url("s3://b/k.txt", 0, UINT64_MAX, 0, &s,
                                    &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "s3://b/k.txt: no S3 credentials"));
    assert_null(strstr(err.msg, "do-not-print-me"));
    assert_int_equal(rn_io_create_url("s3://b/", &w, &err), RN_EINVAL);
    setenv("AWS_ACCESS_KEY_ID", "k", 1);
    assert_int_equal(rn_io_create_url("s3://b/", &w, &err), RN_EINVAL);
    assert_non_null(strstr(err.msg, "not an object name"));
    assert_int_equal(rn_io_open_url("s3:///k", 0, UINT64_MAX, 0, &s, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "s3://bucket/key"));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

/* A ranged HTTP server on 127.0.0.1 serving BODY_LEN bytes, one request
 * per connection, counting requests. */
#define BODY_LEN 200000
static char body[BODY_LEN];
static int srv_fd = -1;
static int srv_port;
static atomic_int srv_requests;
static atomic_int srv_stop;
static pthread_t srv_thread;
static char srv_zero_url[64]; /* http://0.0.0.0:PORT/x */

static void srv_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the client closed: fine */
        p += k;
        n -= (size_t)k;
    }
}

static void *srv_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv_stop)) {
        struct pollfd pf = {.fd = srv_fd, .events = POLLIN};
        char req[4096], hdr[256];
        size_t len = 0;
        unsigned long long a = 0, b = BODY_LEN - 1;
        const char *r;
        int c;
        if (poll(&pf, 1, 50) <= 0)
            continue;
        if ((c = accept(srv_fd, NULL, NULL)) < 0)
            continue;
        while (len < sizeof(req) - 1) {
            ssize_t k = recv(c, req + len, sizeof(req) - 1 - len, 0);
            if (k <= 0)
                break;
            len += (size_t)k;
            req[len] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[len] = '\0';
        atomic_fetch_add(&srv_requests, 1);
        if (strstr(req, " /redir-") != NULL) {
            /* /redir-zero: to 0.0.0.0 (this host); /redir-meta: to the
             * metadata address */
            snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     strstr(req, " /redir-zero")
                         ? srv_zero_url
                         : "http://169.254.169.254/latest/meta-data/");
            srv_send(c, hdr, strlen(hdr));
            close(c);
            continue;
        }
        if ((r = strstr(req, "Range: bytes=")) != NULL &&
            sscanf(r + 13, "%llu-%llu", &a, &b) < 1)
            a = 0;
        if (b >= BODY_LEN)
            b = BODY_LEN - 1;
        if (a >= BODY_LEN) {
            snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 416 Range Not Satisfiable\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
            srv_send(c, hdr, strlen(hdr));
        } else {
            snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 206 Partial Content\r\n"
                     "Content-Range: bytes %llu-%llu/%d\r\n"
                     "Content-Length: %llu\r\nConnection: close\r\n\r\n",
                     a, b, BODY_LEN, b - a + 1);
            srv_send(c, hdr, strlen(hdr));
            srv_send(c, body + a, (size_t)(b - a + 1));
        }
        close(c);
    }
    return NULL;
}

static int srv_start(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    (void)state;
    atomic_store(&srv_stop, 0); /* a second test starts it again */
    for (size_t i = 0; i < BODY_LEN; i++)
        body[i] = i % 61 == 60 ? '\n' : (char)('a' + (i * 7 + i / 61) % 26);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((srv_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(srv_fd, 16) != 0 ||
        getsockname(srv_fd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    srv_port = ntohs(sa.sin_port);
    snprintf(srv_zero_url, sizeof(srv_zero_url), "http://0.0.0.0:%d/x",
             srv_port);
    return pthread_create(&srv_thread, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static int srv_end(void **state)
{
    (void)state;
    atomic_store(&srv_stop, 1);
    pthread_join(srv_thread, NULL);
    close(srv_fd);
    return 0;
}

/* Reads [off, off + len) (len UINT64_MAX: to the end), at most stop_after
 * bytes, checking them against body; returns how many came. */
static size_t read_range(const char *url, uint64_t off, uint64_t len,
                         size_t stop_after)
{
    rn__http_stream *s = NULL;
    rn_errbuf err = {0};
    char buf[7000];
    size_t got = 0;
    int64_t n;
    assert_int_equal(rn__http_stream_open(url, url, NULL, off, len, &s, &err),
                     0);
    while (got < stop_after &&
           (n = rn__http_stream_read(s, buf,
                                     stop_after - got < sizeof(buf)
                                         ? stop_after - got
                                         : sizeof(buf),
                                     &err)) > 0) {
        assert_true(off + got + (size_t)n <= BODY_LEN);
        assert_memory_equal(buf, body + off + got, (size_t)n);
        got += (size_t)n;
    }
    rn__http_stream_free(s);
    return got;
}

static void test_read_ahead(void **state)
{
    char url[64];
    int before;
    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv_port);

    /* a block, then the start of the next line: one request */
    before = atomic_load(&srv_requests);
    assert_int_equal(read_range(url, 1000, 49000, SIZE_MAX), 49000);
    assert_int_equal(read_range(url, 50000, UINT64_MAX, 4096), 4096);
    assert_int_equal(atomic_load(&srv_requests) - before, 1);

    /* a tail longer than the read-ahead: the rest is a second request */
    before = atomic_load(&srv_requests);
    assert_int_equal(read_range(url, 1000, 49000, SIZE_MAX), 49000);
    assert_int_equal(read_range(url, 50000, UINT64_MAX, SIZE_MAX),
                     BODY_LEN - 50000);
    assert_int_equal(atomic_load(&srv_requests) - before, 2);

    /* a bounded stream inside the read-ahead needs no request at all */
    before = atomic_load(&srv_requests);
    assert_int_equal(read_range(url, 0, 10000, SIZE_MAX), 10000);
    assert_int_equal(read_range(url, 10000, 5000, SIZE_MAX), 5000);
    assert_int_equal(atomic_load(&srv_requests) - before, 1);

    /* another offset or URL does not use it, and it is used once */
    before = atomic_load(&srv_requests);
    assert_int_equal(read_range(url, 0, 10000, SIZE_MAX), 10000);
    assert_int_equal(read_range(url, 10001, 100, SIZE_MAX), 100);
    assert_int_equal(read_range(url, 0, 10000, SIZE_MAX), 10000);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/y", srv_port);
    assert_int_equal(read_range(url, 10000, 100, SIZE_MAX), 100);
    assert_int_equal(read_range(url, 10100, 100, SIZE_MAX), 100);
    assert_int_equal(read_range(url, 10100, 100, SIZE_MAX), 100);
    assert_int_equal(atomic_load(&srv_requests) - before, 5);

    /* the end of the object: nothing ahead, an empty tail */
    assert_int_equal(read_range(url, BODY_LEN - 100, 100, SIZE_MAX), 100);
    assert_int_equal(read_range(url, BODY_LEN, UINT64_MAX, SIZE_MAX), 0);
}

/* ------------------------------------------------------------------ */
/* A worker's policy: block_link_local                                 */

static void set_block(int on)
{
    rn_io_policy p = {.block_link_local = on};
    rn_errbuf err = {0};
    assert_int_equal(rn_io_policy_set(on >= 0 ? &p : NULL, &err), 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads url whole: the rn_err and, in *got, the bytes read. */
static int read_all(const char *url, size_t *got, rn_errbuf *err)
{
    struct rn_stream *s = NULL;
    char buf[8192];
    int64_t n;
    int rc = rn_io_open_url(url, 0, UINT64_MAX, 0, &s, err);
    *got = 0;
    while (rc == 0 && (n = rn_io_stream_read(s, buf, sizeof(buf), err)) != 0) {
        if (n < 0)
            rc = (int)n;
        else
            *got += (size_t)n;
    }
    rn_io_stream_close(s);
    return rc;
}

/* Listing (one HEAD) and reading url are both refused at once, naming
 * the URL. */
static void expect_refused(const char *url, const char *addr)
{
    rn_arena a;
    rn_io_entry *e;
    rn_errbuf err = {0};
    size_t n;
    double t0 = now_s();
    rn_arena_init(&a, 0);
    assert_int_equal(rn_io_list_urls(&a, url, &e, &n, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, url));
    assert_non_null(strstr(err.msg, "is not allowed on this worker"));
    if (addr)
        assert_non_null(strstr(err.msg, addr));
    assert_int_equal(read_all(url, &n, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, url));
    assert_int_equal(n, 0);
    /* no connect timeout, no retry with backoff */
    assert_true(now_s() - t0 < 2.0);
    rn_arena_release(&a);
}

static void test_link_local_refused(void **state)
{
    struct rn_stream *s = NULL;
    rn_errbuf err = {0};
    char buf[16];
    (void)state;
    /* if the guard failed, fail by error rather than after minutes */
    setenv("RUNNEL_HTTP_RETRIES", "1", 1);
    setenv("RUNNEL_HTTP_RETRY_MS", "1", 1);
    setenv("RUNNEL_HTTP_CONNECT_TIMEOUT", "3", 1);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    set_block(1);
    expect_refused("http://169.254.169.254/latest/meta-data/",
                   "169.254.169.254");
    expect_refused("https://169.254.169.254/", "169.254.169.254");
    expect_refused("http://169.254.1.2:8080/x", "169.254.1.2");
    expect_refused("http://0xa9fea9fe/", "169.254.169.254");
    expect_refused("http://[::ffff:169.254.169.254]/", NULL);
    expect_refused("http://[fe80::1]/", "fe80::1");
    expect_refused("http://[fd00:ec2::254]/", "fd00:ec2::254");
    expect_refused("http://0.0.0.0:1/", "0.0.0.0");

    /* S3 with its endpoint there (the stream is lazy: refused on read) */
    setenv("AWS_ACCESS_KEY_ID", "k", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
    setenv("AWS_ENDPOINT_URL", "http://169.254.169.254", 1);
    assert_int_equal(rn_io_open_url("s3://b/k.txt", 0, 100, 0, &s, &err), 0);
    assert_int_equal(rn_io_stream_read(s, buf, sizeof(buf), &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "s3://b/k.txt: connecting to "
                                    "169.254.169.254 is not allowed"));
    rn_io_stream_close(s);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* loopback stays allowed: refused as before, by the port */
    assert_int_equal(rn_io_open_url("http://127.0.0.1:1/x.txt", 0, 100, 0, &s,
                                    &err),
                     0);
    assert_int_equal(rn_io_stream_read(s, buf, sizeof(buf), &err), RN_EIO);
    rn_io_stream_close(s);
    set_block(-1);
}

static void test_link_local_with_server(void **state)
{
    char url[128], proxy[64];
    rn_errbuf err = {0};
    size_t got;
    (void)state;
    setenv("RUNNEL_HTTP_RETRIES", "1", 1);
    setenv("RUNNEL_HTTP_RETRY_MS", "1", 1);
    setenv("RUNNEL_HTTP_CONNECT_TIMEOUT", "3", 1);
    unsetenv("http_proxy");
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");

    /* no policy: 0.0.0.0 reaches this host's server, directly or by a
     * redirect (what the guard is for) */
    assert_int_equal(read_all(srv_zero_url, &got, &err), 0);
    assert_int_equal(got, BODY_LEN);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/redir-zero", srv_port);
    assert_int_equal(read_all(url, &got, &err), 0);
    assert_int_equal(got, BODY_LEN);

    set_block(1);
    /* loopback is still served under the policy */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv_port);
    assert_int_equal(read_all(url, &got, &err), 0);
    assert_int_equal(got, BODY_LEN);
    expect_refused(srv_zero_url, "0.0.0.0");
    /* redirects are checked where they lead */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/redir-zero", srv_port);
    expect_refused(url, "0.0.0.0");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/redir-meta", srv_port);
    expect_refused(url, "169.254.169.254");

    /* through a proxy (our server answers anything): the proxy would
     * connect, so the URL's host is checked */
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", srv_port);
    setenv("http_proxy", proxy, 1);
    set_block(-1);
    assert_int_equal(read_all("http://169.254.169.254/latest", &got, &err),
                     0);
    assert_int_equal(got, BODY_LEN); /* the proxy served it */
    set_block(1);
    expect_refused("http://169.254.169.254/latest", "169.254.169.254");
    expect_refused("http://[fe80::a9fe:a9fe]/latest", NULL);
    /* a name the proxy resolves is served: documented, not checkable */
    assert_int_equal(read_all("http://localhost.invalid/x", &got, &err), 0);
    unsetenv("http_proxy");
    set_block(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_empty_range_sends_nothing),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_s3_needs_credentials),
        cmocka_unit_test_setup_teardown(test_read_ahead, srv_start, srv_end),
        cmocka_unit_test(test_link_local_refused),
        cmocka_unit_test_setup_teardown(test_link_local_with_server,
                                        srv_start, srv_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
