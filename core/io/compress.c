/*
 * Compression: codec detection by name and magic bytes, and streaming
 * decode / encode with libarchive (raw format: a bare compressed stream,
 * no archive around it).
 *
 * gzip is the exception: it is decoded with zlib, because libarchive 3.6.2
 * does not check the gzip trailer (CRC-32 and length): a flipped bit
 * silently gives wrong data. zlib checks both, member by member.
 *
 * Why one filter and not archive_read_support_filter_all: the codec is
 * already known from the magic bytes, and after decoding libarchive bids
 * its filters again on the decoded bytes; filter_all would let the uu and
 * rpm bidders re-interpret text that merely looks like them. Formats are
 * raw (the data) and empty (a stream that decodes to nothing) only:
 * format_all includes mtree, which claims one-token-per-line text and
 * returns 0-byte entries without an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "base/alloc.h"
#include "io/backend.h"

static const struct {
    const char *ext;
    rn_io_codec codec;
} exts[] = {
    {".gz", RN_CODEC_GZIP}, {".bz2", RN_CODEC_BZIP2}, {".xz", RN_CODEC_XZ},
    {".zst", RN_CODEC_ZSTD}, {".lz4", RN_CODEC_LZ4},
};

rn_io_codec rn_io_codec_from_name(const char *name)
{
    size_t n = strlen(name);
    /* A URL's query string is no part of the name. */
    const char *q = strchr(name, '?');
    if (q && strstr(name, "://"))
        n = (size_t)(q - name);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t m = strlen(exts[i].ext);
        if (n > m && strncasecmp(name + n - m, exts[i].ext, m) == 0)
            return exts[i].codec;
    }
    return RN_CODEC_NONE;
}

rn_io_codec rn_io_codec_from_magic(const void *p, size_t n)
{
    const unsigned char *b = p;
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return RN_CODEC_GZIP;
    if (n >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' &&
        b[3] <= '9')
        return RN_CODEC_BZIP2;
    if (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
        return RN_CODEC_XZ;
    if (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0)
        return RN_CODEC_ZSTD;
    /* lz4 frame format, and the legacy format lz4 -l writes */
    if (n >= 4 && (memcmp(b, "\x04\x22\x4d\x18", 4) == 0 ||
                   memcmp(b, "\x02\x21\x4c\x18", 4) == 0))
        return RN_CODEC_LZ4;
    return RN_CODEC_NONE;
}

const char *rn_io_codec_name(rn_io_codec c)
{
    switch (c) {
    case RN_CODEC_GZIP:
        return "gzip";
    case RN_CODEC_BZIP2:
        return "bz2";
    case RN_CODEC_XZ:
        return "xz";
    case RN_CODEC_ZSTD:
        return "zstd";
    case RN_CODEC_LZ4:
        return "lz4";
    case RN_CODEC_NONE:
        break;
    }
    return "none";
}

/* libarchive message, or a fallback when it has none. */
static const char *ar_msg(struct archive *ar)
{
    const char *m = ar ? archive_error_string(ar) : NULL;
    return m && *m ? m : "unknown libarchive error";
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

struct rn__io_decoder {
    struct archive *ar; /* every codec but gzip */
    z_stream *z;        /* gzip */
    rn__io_pull_fn pull;
    void *ud;
    const char *url;
    unsigned char *in;  /* raw bytes read from below */
    int pull_failed;    /* the error came from below, not from the codec */
    rn_errbuf pull_err;
    int eof;
    /* gzip */
    int in_eof;         /* nothing more below */
    int between;        /* a member ended; another, zeros or the end next */
    int zeros;          /* zero padding seen after a member */
    uint64_t members;   /* members decoded */
};

/* zlib allocates through the engine's wrapper, so it is counted. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    return rn_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    rn_free(p);
}

static int gz_new(rn__io_decoder *d, rn_errbuf *err)
{
    int r;
    d->z = rn_calloc(1, sizeof(*d->z));
    if (!d->z)
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", d->url);
    d->z->zalloc = z_alloc;
    d->z->zfree = z_free;
    r = inflateInit2(d->z, 16 + MAX_WBITS); /* gzip framing only */
    if (r != Z_OK) {
        rn_free(d->z);
        d->z = NULL;
        return rn_error_set(err, r == Z_MEM_ERROR ? RN_ENOMEM : RN_EINTERNAL,
                            "%s: cannot start zlib (%d)", d->url, r);
    }
    return 0;
}

/* gzip, member after member (gzip -d accepts concatenated members and
 * zero padding after the last one; anything else after a member is an
 * error here, since it may be a member whose header was damaged). */
static int64_t gz_read(rn__io_decoder *d, void *buf, size_t cap,
                       rn_errbuf *err)
{
    z_stream *z = d->z;
    int r;

    if (cap > UINT_MAX)
        cap = UINT_MAX;
    z->next_out = buf;
    z->avail_out = (uInt)cap;
    while (z->avail_out > 0) {
        if (z->avail_in == 0) {
            /* hand back what is decoded rather than wait for more */
            if (z->avail_out < cap)
                break;
            if (!d->in_eof) {
                int64_t n = d->pull(d->ud, d->in, RN_IO_BUFSIZE, &d->pull_err);
                if (n < 0) {
                    d->pull_failed = 1;
                    return rn_error_set(err, d->pull_err.code, "%s",
                                        d->pull_err.msg);
                }
                if (n == 0)
                    d->in_eof = 1;
                z->next_in = d->in;
                z->avail_in = (uInt)n;
                continue;
            }
            if (d->between) {
                d->eof = 1;
                break;
            }
            return rn_error_set(err, RN_EFORMAT, "%s: truncated gzip input",
                                d->url);
        }
        if (d->between) {
            while (z->avail_in > 0 && z->next_in[0] == 0) {
                z->next_in++;
                z->avail_in--;
                d->zeros = 1;
            }
            if (z->avail_in == 0)
                continue;
            if (d->zeros)
                return rn_error_set(err, RN_EFORMAT,
                                    "%s: trailing garbage after gzip data",
                                    d->url);
            inflateReset(z);
            d->between = 0;
        }
        r = inflate(z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) {
            d->between = 1;
            d->members++;
        } else if (r == Z_DATA_ERROR && d->members > 0 && z->total_out == 0) {
            return rn_error_set(err, RN_EFORMAT,
                                "%s: trailing garbage after gzip data",
                                d->url);
        } else if (r == Z_MEM_ERROR) {
            return rn_error_set(err, RN_ENOMEM, "%s: out of memory", d->url);
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            return rn_error_set(err, RN_EFORMAT, "%s: corrupt gzip data (%s)",
                                d->url, z->msg ? z->msg : "zlib error");
        }
    }
    return (int64_t)(cap - z->avail_out);
}

static la_ssize_t dec_read_cb(struct archive *ar, void *ud, const void **out)
{
    rn__io_decoder *d = ud;
    int64_t n = d->pull(d->ud, d->in, RN_IO_BUFSIZE, &d->pull_err);
    if (n < 0) {
        d->pull_failed = 1;
        archive_set_error(ar, EIO, "%s", d->pull_err.msg);
        return -1;
    }
    *out = d->in;
    return (la_ssize_t)n;
}

static int dec_support(struct archive *ar, rn_io_codec codec)
{
    int r;
    switch (codec) {
    case RN_CODEC_GZIP:
        r = archive_read_support_filter_gzip(ar);
        break;
    case RN_CODEC_BZIP2:
        r = archive_read_support_filter_bzip2(ar);
        break;
    case RN_CODEC_XZ:
        r = archive_read_support_filter_xz(ar);
        break;
    case RN_CODEC_ZSTD:
        r = archive_read_support_filter_zstd(ar);
        break;
    case RN_CODEC_LZ4:
        r = archive_read_support_filter_lz4(ar);
        break;
    default:
        return ARCHIVE_FATAL;
    }
    /* ARCHIVE_WARN: libarchive will run the external program instead of
     * its built-in library; slower, still correct. */
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return r;
    if (archive_read_support_format_raw(ar) != ARCHIVE_OK ||
        archive_read_support_format_empty(ar) != ARCHIVE_OK)
        return ARCHIVE_FATAL;
    return ARCHIVE_OK;
}

/* Error after a failed libarchive call: the back-end's own message when the
 * bytes could not be fetched, else the codec's, naming the URL. */
static int dec_fail(rn__io_decoder *d, rn_errbuf *err)
{
    if (d->pull_failed)
        return rn_error_set(err, d->pull_err.code ? d->pull_err.code : RN_EIO,
                            "%s", d->pull_err.msg);
    return rn_error_set(err, RN_EFORMAT, "%s: %s", d->url, ar_msg(d->ar));
}

int rn__io_decoder_new(rn_io_codec codec, const char *url, rn__io_pull_fn pull,
                       void *ud, rn__io_decoder **out, rn_errbuf *err)
{
    rn__io_decoder *d = NULL;
    struct archive_entry *entry;
    int rc = 0, r;

    *out = NULL;
    d = rn_calloc(1, sizeof(*d));
    if (!d || !(d->in = rn_malloc(RN_IO_BUFSIZE))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    d->pull = pull;
    d->ud = ud;
    d->url = url;
    if (codec == RN_CODEC_GZIP) {
        rc = gz_new(d, err);
        goto done;
    }
    if (!(d->ar = archive_read_new())) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    if (dec_support(d->ar, codec) != ARCHIVE_OK) {
        rc = rn_error_set(err, RN_EINTERNAL,
                          "%s: libarchive cannot decode %s: %s", url,
                          rn_io_codec_name(codec), ar_msg(d->ar));
        goto done;
    }
    if (archive_read_open(d->ar, d, NULL, dec_read_cb, NULL) != ARCHIVE_OK) {
        rc = dec_fail(d, err);
        goto done;
    }
    r = archive_read_next_header(d->ar, &entry);
    if (r == ARCHIVE_EOF) {
        d->eof = 1; /* decodes to nothing: the empty format took it */
    } else if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        rc = dec_fail(d, err);
        goto done;
    }
done:
    if (rc == 0) {
        *out = d;
        d = NULL;
    }
    rn__io_decoder_free(d);
    return rc;
}

int64_t rn__io_decoder_read(rn__io_decoder *d, void *buf, size_t cap,
                            rn_errbuf *err)
{
    la_ssize_t n;
    if (d->eof || cap == 0)
        return 0;
    if (d->z)
        return gz_read(d, buf, cap, err);
    n = archive_read_data(d->ar, buf, cap);
    if (n < 0)
        return dec_fail(d, err);
    if (n == 0)
        d->eof = 1;
    return (int64_t)n;
}

void rn__io_decoder_free(rn__io_decoder *d)
{
    if (!d)
        return;
    if (d->ar)
        archive_read_free(d->ar);
    if (d->z) {
        inflateEnd(d->z);
        rn_free(d->z);
    }
    rn_free(d->in);
    rn_free(d);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

struct rn__io_encoder {
    struct archive *aw;
    struct archive_entry *entry;
    rn__io_push_fn push;
    void *ud;
    const char *url;
    int push_failed;
    int discard;         /* being freed: encoded bytes go nowhere */
    rn_errbuf push_err;
};

static la_ssize_t enc_write_cb(struct archive *aw, void *ud, const void *p,
                               size_t n)
{
    rn__io_encoder *e = ud;
    if (e->discard)
        return (la_ssize_t)n;
    if (e->push(e->ud, p, n, &e->push_err) < 0) {
        e->push_failed = 1;
        archive_set_error(aw, EIO, "%s", e->push_err.msg);
        return -1;
    }
    return (la_ssize_t)n;
}

static int enc_filter(struct archive *aw, rn_io_codec codec)
{
    switch (codec) {
    case RN_CODEC_GZIP:
        return archive_write_add_filter_gzip(aw);
    case RN_CODEC_BZIP2:
        return archive_write_add_filter_bzip2(aw);
    case RN_CODEC_XZ:
        return archive_write_add_filter_xz(aw);
    case RN_CODEC_ZSTD:
        return archive_write_add_filter_zstd(aw);
    case RN_CODEC_LZ4:
        return archive_write_add_filter_lz4(aw);
    default:
        return ARCHIVE_FATAL;
    }
}

static int enc_fail(rn__io_encoder *e, rn_errbuf *err)
{
    if (e->push_failed)
        return rn_error_set(err, e->push_err.code ? e->push_err.code : RN_EIO,
                            "%s", e->push_err.msg);
    return rn_error_set(err, RN_EIO, "%s: %s", e->url, ar_msg(e->aw));
}

int rn__io_encoder_new(rn_io_codec codec, const char *url, rn__io_push_fn push,
                       void *ud, rn__io_encoder **out, rn_errbuf *err)
{
    rn__io_encoder *e = NULL;
    int rc = 0, r;

    *out = NULL;
    e = rn_calloc(1, sizeof(*e));
    if (!e || !(e->aw = archive_write_new()) ||
        !(e->entry = archive_entry_new())) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    e->push = push;
    e->ud = ud;
    e->url = url;
    r = enc_filter(e->aw, codec);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        rc = rn_error_set(err, RN_EINTERNAL,
                          "%s: libarchive cannot write %s: %s", url,
                          rn_io_codec_name(codec), ar_msg(e->aw));
        goto done;
    }
    /* Same input, same bytes: a retried task writes an identical file. */
    if (codec == RN_CODEC_GZIP)
        archive_write_set_filter_option(e->aw, "gzip", "timestamp", NULL);
    /* No block padding after the compressed stream (the back-end
     * buffers). */
    archive_write_set_bytes_per_block(e->aw, 0);
    if (archive_write_set_format_raw(e->aw) != ARCHIVE_OK ||
        archive_write_open(e->aw, e, NULL, enc_write_cb, NULL) != ARCHIVE_OK) {
        rc = enc_fail(e, err);
        goto done;
    }
    archive_entry_set_pathname(e->entry, "data");
    archive_entry_set_filetype(e->entry, AE_IFREG);
    archive_entry_set_perm(e->entry, 0644);
    if (archive_write_header(e->aw, e->entry) != ARCHIVE_OK) {
        rc = enc_fail(e, err);
        goto done;
    }
    *out = e;
    e = NULL;
done:
    rn__io_encoder_free(e);
    return rc;
}

int rn__io_encoder_write(rn__io_encoder *e, const void *p, size_t n,
                         rn_errbuf *err)
{
    const char *c = p;
    while (n > 0) {
        la_ssize_t w = archive_write_data(e->aw, c, n);
        if (w <= 0)
            return enc_fail(e, err);
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int rn__io_encoder_finish(rn__io_encoder *e, rn_errbuf *err)
{
    if (archive_write_close(e->aw) != ARCHIVE_OK)
        return enc_fail(e, err);
    return 0;
}

void rn__io_encoder_free(rn__io_encoder *e)
{
    if (!e)
        return;
    if (e->aw) {
        /* Closing flushes the codec's tail: drop it. (archive_write_fail
         * would skip the filters' close, where libarchive ends the codec's
         * own state, and leak it.) */
        e->discard = 1;
        archive_write_free(e->aw);
    }
    if (e->entry)
        archive_entry_free(e->entry);
    rn_free(e);
}
