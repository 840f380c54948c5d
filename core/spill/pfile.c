/* A partition's wire encoding written to a file as it is made. */
#define _GNU_SOURCE
#include "spill/pfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "value/codec.h"

/* Encoded values are written once this many are buffered. */
#define FLUSH_AT ((size_t)1 << 20)
/* Room before the values: the header and the longest varint count. */
#define LEAD (RN_CODEC_HEADER_SIZE + 10)

static atomic_uint_fast64_t seq;

static int write_all(int fd, const void *p, size_t n, uint64_t at)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        b += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return 0;
}

static int fail(rn_pfile *w, int code, const char *what, rn_errbuf *err)
{
    int e = errno;
    rn_error_set(err, code, "cannot write a partition to %s: %s",
                 w->path ? w->path : "the spill directory",
                 code == RN_EIO ? strerror(e) : what);
    rn_pfile_abort(w);
    return code;
}

int rn_pfile_begin(rn_pfile *w, const char *dir, rn_errbuf *err)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    rn_buf_init(&w->buf, 0);
    if (!dir)
        return rn_error_set(err, RN_EINVAL, "no spill directory to write a "
                                            "partition to");
    size_t cap = strlen(dir) + 64;
    if (!(w->path = rn_malloc(cap)))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    snprintf(w->path, cap, "%s/out-%ld-%llu.rnp", dir, (long)getpid(),
            (unsigned long long)atomic_fetch_add(&seq, 1));
    if ((w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
                                   O_NOFOLLOW, 0600)) < 0) {
        int e = errno;
        rn_error_set(err, RN_EIO, "cannot write a partition to %s: %s",
                     w->path, strerror(e));
        rn_free(w->path);
        w->path = NULL;
        return RN_EIO;
    }
    return 0;
}

static int flush(rn_pfile *w, rn_errbuf *err)
{
    if (!w->buf.len)
        return 0;
    if (write_all(w->fd, w->buf.ptr, w->buf.len, LEAD + w->vbytes - w->buf.len))
        return fail(w, RN_EIO, NULL, err);
    rn_buf_reset(&w->buf);
    return 0;
}

int rn_pfile_push(rn_pfile *w, const rn_value *items, size_t n, rn_errbuf *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t before = w->buf.len;
        int rc = rn_codec_value_encode(&w->buf, &items[i]);
        if (rc)
            return fail(w, rc, rc == RN_ENOMEM ? "out of memory"
                                                : "a value cannot be encoded",
                        err);
        w->crc = rn_codec_crc32c(w->crc, w->buf.ptr + before,
                                 w->buf.len - before);
        w->vbytes += w->buf.len - before;
        w->count++;
        if (w->buf.len >= FLUSH_AT && flush(w, err))
            return err->code;
    }
    return 0;
}

int rn_pfile_end(rn_pfile *w, char **path, uint64_t *off, uint64_t *size,
                 rn_errbuf *err)
{
    uint8_t head[LEAD], tail[RN_CODEC_TRAILER_SIZE];
    uint8_t cnt[10];
    size_t clen = 0;
    uint64_t c = w->count, body;
    uint32_t crc;

    if (flush(w, err))
        return err->code;
    do {
        cnt[clen++] = (uint8_t)((c & 0x7f) | (c > 0x7f ? 0x80 : 0));
        c >>= 7;
    } while (c);
    body = clen + w->vbytes;
    /* header then count, ending where the values start */
    uint8_t *h = head + LEAD - clen - RN_CODEC_HEADER_SIZE;
    memcpy(h, "\x89RNP", 4);
    h[4] = RN_CODEC_MAJOR;
    h[5] = RN_CODEC_MINOR;
    h[6] = h[7] = 0;
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(body >> (8 * i));
    memcpy(h + RN_CODEC_HEADER_SIZE, cnt, clen);
    crc = rn_codec_crc32c(0, h, RN_CODEC_HEADER_SIZE + clen);
    crc = rn_codec_crc32c_combine(crc, w->crc, w->vbytes);
    for (int i = 0; i < 4; i++)
        tail[i] = (uint8_t)(crc >> (8 * i));
    if (write_all(w->fd, h, RN_CODEC_HEADER_SIZE + clen,
                  (uint64_t)(h - head)) ||
        write_all(w->fd, tail, sizeof(tail), LEAD + w->vbytes))
        return fail(w, RN_EIO, NULL, err);
    if (close(w->fd) != 0) {
        w->fd = -1;
        return fail(w, RN_EIO, NULL, err);
    }
    w->fd = -1;
    *off = (uint64_t)(h - head);
    *size = RN_CODEC_HEADER_SIZE + body + RN_CODEC_TRAILER_SIZE;
    *path = w->path;
    w->path = NULL;
    rn_buf_release(&w->buf);
    return 0;
}

void rn_pfile_abort(rn_pfile *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->path) {
        unlink(w->path);
        rn_free(w->path);
        w->path = NULL;
    }
    rn_buf_release(&w->buf);
}
