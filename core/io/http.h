/*
 * Inside the I/O module: the libcurl layer the http(s):// back-end (http.c)
 * and the s3:// back-end (s3.c) share.
 *
 * Reads stream: a curl multi handle runs one transfer and its write
 * callback fills a bounded buffer, pausing the transfer when it is full,
 * so rn__http_stream_read pulls bytes as the caller asks for them and no
 * object is ever held whole. A bounded stream also fetches up to 64 KiB
 * past its end and leaves them, for 2 s, to the next stream its thread
 * opens at that offset of the same URL (read_text's reads of the end of a
 * block's last line): one request per block instead of two.
 * Connection errors, 5xx (503 SlowDown too) and timeouts are retried with
 * exponential backoff and jitter, resuming at the first byte not yet
 * received; 4xx never is.
 *
 * Errors name the URL the user wrote (`shown`, never the signed request's
 * URL) and the HTTP status, plus the S3 error code when the body carries
 * one ("HTTP 404 NoSuchKey"). Credentials never appear in messages.
 */
#ifndef RN_CORE_IO_HTTP_H
#define RN_CORE_IO_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"

/* How a request authenticates: all NULL for plain HTTP. */
typedef struct rn__http_auth {
    const char *sigv4;   /* CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3" */
    const char *key;     /* access key id */
    const char *secret;  /* secret access key */
    const char *token;   /* session token, or NULL */
} rn__http_auth;

typedef struct rn__http_stream rn__http_stream;

/* Opens bytes [offset, offset + length) of url (length UINT64_MAX: to the
 * end). Nothing is sent until the first read. A range past the end reads
 * as empty. */
int rn__http_stream_open(const char *shown, const char *url,
                         const rn__http_auth *auth, uint64_t offset,
                         uint64_t length, rn__http_stream **out,
                         rn_errbuf *err);
int64_t rn__http_stream_read(rn__http_stream *s, void *buf, size_t cap,
                             rn_errbuf *err);
void rn__http_stream_free(rn__http_stream *s); /* NULL ok */

/* One buffered request with retries. method: "GET", "HEAD", "PUT",
 * "POST", "DELETE"; body may be NULL. The response body (up to resp->max)
 * goes to resp when given. *status is the final HTTP status. A status
 * >= 400 is an error (naming shown), except 404 when ok404 is set.
 * For HEAD, *size gets Content-Length (UINT64_MAX when absent) and
 * *ranged 1 when the server says Accept-Ranges: bytes. */
typedef struct rn__http_req {
    const char *method;
    const char *shown;
    const char *url;
    const rn__http_auth *auth;
    const void *body;
    size_t body_len;
    int ok404;
    /* out */
    long status;
    uint64_t size;
    int ranged;
    char etag[160]; /* the ETag response header as sent, "" if none */
} rn__http_req;

int rn__http_request(rn__http_req *r, rn_buf *resp, rn_errbuf *err);

/* Appends s percent-encoded (RFC 3986 unreserved kept, uppercase hex);
 * '/' is kept when keep_slash. */
int rn__http_encode(rn_buf *b, const char *s, size_t n, int keep_slash);

#endif
