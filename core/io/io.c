/*
 * The I/O layer's front: picks the back-end by URL scheme, and stacks
 * decompression (reading) and compression (writing) on top of it.
 */
#define _GNU_SOURCE
#include "io/io.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "io/backend.h"

/* Schemes runnel knows. A NULL back-end is a scheme that is planned but not
 * built yet: it gets a clear error instead of "no such file". */
static const struct {
    const char *scheme; /* without "://" */
    const rn__io_backend *be;
} schemes[] = {
    {"file", &rn__io_file},
    {"http", &rn__io_http},
    {"https", &rn__io_http},
    {"s3", &rn__io_s3},
};

/* The back-end for url: a scheme is [A-Za-z][A-Za-z0-9+.-]* before "://";
 * anything else is a local path. */
static int pick(const char *url, const rn__io_backend **out, rn_errbuf *err)
{
    const char *p = url;
    size_t n;

    *out = NULL;
    if (!url)
        return rn_error_set(err, RN_EINVAL, "no URL given");
    if (isalpha((unsigned char)*p)) {
        while (isalnum((unsigned char)*p) || *p == '+' || *p == '.' ||
               *p == '-')
            p++;
    }
    if (p == url || strncmp(p, "://", 3) != 0) {
        *out = &rn__io_file;
        return 0;
    }
    n = (size_t)(p - url);
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (strlen(schemes[i].scheme) == n &&
            strncasecmp(schemes[i].scheme, url, n) == 0) {
            if (!schemes[i].be)
                return rn_error_set(err, RN_EINVAL,
                                    "%s: the %s:// scheme is not supported "
                                    "yet",
                                    url, schemes[i].scheme);
            *out = schemes[i].be;
            return 0;
        }
    }
    return rn_error_set(err, RN_EINVAL, "%s: unknown URL scheme '%.*s'", url,
                        (int)n, url);
}

int rn_io_list_urls(rn_arena *a, const char *pattern, rn_io_entry **out,
                    size_t *n, rn_errbuf *err)
{
    const rn__io_backend *be;
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = pick(pattern, &be, err)))
        return rc;
    return be->list(a, pattern, out, n, err);
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */

struct rn_stream {
    const rn__io_backend *be;
    void *h;
    char *url;
    rn__io_decoder *dec;  /* NULL: bytes pass through */
    /* Bytes read to sniff the magic, not yet handed out. */
    unsigned char head[RN_IO_MAGIC_MAX];
    size_t head_pos, head_len;
    int failed;
    rn_errbuf err;        /* the sticky error once failed */
};

/* Raw bytes: the sniffed head first, then the back-end. */
static int64_t raw_read(void *ud, void *buf, size_t cap, rn_errbuf *err)
{
    struct rn_stream *s = ud;
    if (s->head_pos < s->head_len) {
        size_t k = s->head_len - s->head_pos;
        if (k > cap)
            k = cap;
        memcpy(buf, s->head + s->head_pos, k);
        s->head_pos += k;
        return (int64_t)k;
    }
    return s->be->read(s->h, buf, cap, err);
}

/* Reads the first bytes (all of them, or up to the end) and picks the
 * decoder. */
static int sniff(struct rn_stream *s, rn_errbuf *err)
{
    rn_io_codec by_magic, by_name;
    while (s->head_len < sizeof(s->head)) {
        int64_t n = s->be->read(s->h, s->head + s->head_len,
                                sizeof(s->head) - s->head_len, err);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        s->head_len += (size_t)n;
    }
    by_magic = rn_io_codec_from_magic(s->head, s->head_len);
    by_name = rn_io_codec_from_name(s->url);
    if (by_magic == RN_CODEC_NONE) {
        /* An empty object decodes to nothing, whatever its name. */
        if (by_name != RN_CODEC_NONE && s->head_len > 0)
            return rn_error_set(err, RN_EFORMAT,
                                "%s: not %s data (the name says it is "
                                "compressed, the first bytes do not)",
                                s->url, rn_io_codec_name(by_name));
        return 0;
    }
    return rn__io_decoder_new(by_magic, s->url, raw_read, s, &s->dec, err);
}

int rn_io_open_url(const char *url, uint64_t offset, uint64_t length,
                   uint32_t flags, struct rn_stream **out, rn_errbuf *err)
{
    struct rn_stream *s = NULL;
    const rn__io_backend *be;
    int rc;

    *out = NULL;
    if ((rc = pick(url, &be, err)))
        return rc;
    if (flags & ~RN_IO_DECOMPRESS)
        return rn_error_set(err, RN_EINVAL, "%s: unknown open flags 0x%x", url,
                            (unsigned)flags);
    if ((flags & RN_IO_DECOMPRESS) && offset != 0)
        return rn_error_set(err, RN_EINVAL,
                            "%s: a compressed object is read whole (offset "
                            "must be 0, got %llu)",
                            url, (unsigned long long)offset);
    s = rn_calloc(1, sizeof(*s));
    if (!s || !(s->url = rn_strdup(url))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    s->be = be;
    if ((rc = be->open(url, offset, length, &s->h, err)))
        goto done;
    if ((flags & RN_IO_DECOMPRESS) && (rc = sniff(s, err)))
        goto done;
    *out = s;
    s = NULL;
done:
    rn_io_stream_close(s);
    return rc;
}

int64_t rn_io_stream_read(struct rn_stream *s, void *buf, size_t cap,
                          rn_errbuf *err)
{
    int64_t n;
    if (s->failed)
        return rn_error_set(err, s->err.code, "%s", s->err.msg);
    if (cap > INT64_MAX)
        cap = INT64_MAX;
    n = s->dec ? rn__io_decoder_read(s->dec, buf, cap, &s->err)
               : raw_read(s, buf, cap, &s->err);
    if (n < 0) {
        s->failed = 1;
        s->err.code = (int)n;
        return rn_error_set(err, (int)n, "%s", s->err.msg);
    }
    return n;
}

void rn_io_stream_close(struct rn_stream *s)
{
    if (!s)
        return;
    rn__io_decoder_free(s->dec);
    if (s->h)
        s->be->close(s->h);
    rn_free(s->url);
    rn_free(s);
}

/* ------------------------------------------------------------------ */
/* Writers                                                             */

struct rn_writer {
    const rn__io_backend *be;
    void *h;
    char *url;
    rn__io_encoder *enc; /* NULL: bytes go to the back-end as they are */
    int failed;          /* a write failed: commit refuses */
};

static int raw_write(void *ud, const void *p, size_t n, rn_errbuf *err)
{
    struct rn_writer *w = ud;
    return w->be->write(w->h, p, n, err);
}

int rn_io_create_url(const char *url, struct rn_writer **out, rn_errbuf *err)
{
    struct rn_writer *w = NULL;
    const rn__io_backend *be;
    rn_io_codec codec;
    int rc;

    *out = NULL;
    if ((rc = pick(url, &be, err)))
        return rc;
    w = rn_calloc(1, sizeof(*w));
    if (!w || !(w->url = rn_strdup(url))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    w->be = be;
    if ((rc = be->create(url, &w->h, err)))
        goto done;
    codec = rn_io_codec_from_name(url);
    if (codec != RN_CODEC_NONE &&
        (rc = rn__io_encoder_new(codec, w->url, raw_write, w, &w->enc, err)))
        goto done;
    *out = w;
    w = NULL;
done:
    rn_io_writer_abort(w);
    return rc;
}

int rn_io_writer_write(struct rn_writer *w, const void *p, size_t n,
                       rn_errbuf *err)
{
    int rc;
    if (w->failed)
        return rn_error_set(err, RN_EIO, "%s: an earlier write failed",
                            w->url);
    if (n == 0)
        return 0;
    rc = w->enc ? rn__io_encoder_write(w->enc, p, n, err)
                : w->be->write(w->h, p, n, err);
    if (rc)
        w->failed = 1;
    return rc;
}

int rn_io_writer_commit(struct rn_writer *w, rn_errbuf *err)
{
    int rc = 0;
    if (w->failed) {
        rc = rn_error_set(err, RN_EIO,
                          "%s: not published: an earlier write failed",
                          w->url);
        goto fail;
    }
    if (w->enc && (rc = rn__io_encoder_finish(w->enc, err)))
        goto fail;
    rn__io_encoder_free(w->enc);
    w->enc = NULL;
    rc = w->be->commit(w->h, err); /* frees h, published or not */
    w->h = NULL;
    rn_free(w->url);
    rn_free(w);
    return rc;
fail:
    rn_io_writer_abort(w);
    return rc;
}

void rn_io_writer_abort(struct rn_writer *w)
{
    if (!w)
        return;
    rn__io_encoder_free(w->enc);
    if (w->h)
        w->be->abort(w->h);
    rn_free(w->url);
    rn_free(w);
}
