/*
 * The libcurl layer without a server: percent-encoding (what SigV4 signs),
 * empty ranges that need no request, and the errors of a refused
 * connection and of s3:// without credentials. Everything that needs a
 * server is in tests/integration/test_s3.sh.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_empty_range_sends_nothing),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_s3_needs_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
