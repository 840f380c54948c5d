#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include "spill/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ZSTD_customMem and the _advanced constructors (exported by libzstd):
 * zstd's contexts are allocated through rn_malloc like everything else. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "value/codec.h"

/* Byte layout and rules: docs/SPILL.md. Keep the two in step. */

static const uint8_t file_magic[5] = {'R', 'N', 'R', 'U', 'N'};
static const uint8_t end_magic[4] = {'R', 'N', 'R', 'E'};

#define RUN_MAJOR 1
#define RUN_MINOR 0

#define HEAD RN_RUN_HEADER_SIZE
#define BHEAD RN_RUN_BLOCK_HEADER_SIZE
#define FFIXED RN_RUN_FOOTER_FIXED
#define IENTRY RN_RUN_INDEX_ENTRY_SIZE
#define TRAILER RN_RUN_TRAILER_SIZE

/* Hashes a block's record count can need, before the first growth. */
#define HASHES_MIN 4096

/* A reader's value arena: reset for every record; large enough that the
 * codec's 64 KiB string pool is carved from its chunk, not malloc'd. */
#define VALS_CHUNK ((size_t)256 * 1024)

/* ---- little-endian helpers ----------------------------------------- */

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

/* ---- zstd through the engine's allocator ----------------------------- */

static void *z_alloc(void *opaque, size_t n)
{
    (void)opaque;
    return rn_malloc(n);
}

static void z_free(void *opaque, void *p)
{
    (void)opaque;
    rn_free(p);
}

static const ZSTD_customMem z_mem = {z_alloc, z_free, NULL};

void rn_run_info_release(rn_run_info *info)
{
    if (!info)
        return;
    rn_free(info->path);
    info->path = NULL;
}

/* ---- writer --------------------------------------------------------- */

struct rn_run_writer {
    char *dir;          /* as given, for messages and the final path */
    int dirfd;
    int fd;             /* the temporary file; -1 once closed */
    char tmp[64];       /* its name in dir */
    unsigned long seq;  /* the number in that name */
    unsigned nvals;
    int codec, level;
    size_t block_size;
    ZSTD_CCtx *cctx;

    /* the block being filled: its hash column and encoded values */
    uint64_t *hashes;
    size_t nh, hcap;
    rn_buf vals;

    uint8_t *raw;       /* the block assembled, before compression */
    size_t raw_cap;
    uint8_t *out;       /* block header + compressed bytes */
    size_t out_cap;
    rn_buf index;       /* the footer's entries, IENTRY bytes each */

    uint64_t off;       /* bytes written */
    uint64_t records, raw_bytes, blocks;
    uint64_t first_hash, last_hash;

    int rc;             /* after a disk error: every call fails so */
    rn_errbuf fail;
};

/* Names of run files: run-<pid>-<n>.tmp while written, .run once
 * finished; n from a process-wide counter. */
static atomic_ulong run_seq;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 1;
    void *q;
    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if (!(q = rn_realloc(*p, c * elem)))
        return RN_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* A failed write: the file goes at once (nothing is left behind), and
 * the writer fails every later call with the same message. */
static int disk_fail(rn_run_writer *w, rn_errbuf *err, int e)
{
    rn_error_set(&w->fail, RN_EIO, "spill to %s: %s", w->dir, strerror(e));
    w->rc = RN_EIO;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlinkat(w->dirfd, w->tmp, 0);
    }
    if (err)
        *err = w->fail;
    return RN_EIO;
}

static int sticky(int rc, const rn_errbuf *saved, rn_errbuf *err)
{
    if (err && err != saved)
        *err = *saved;
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (k == 0)
            return EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int rn_run_writer_open(rn_run_writer **out, const char *dir, unsigned nvals,
                       const rn_run_write_opts *opts, rn_errbuf *err)
{
    rn_run_writer *w = NULL;
    int rc = 0;

    *out = NULL;
    if (nvals < 1 || nvals > RN_RUN_MAX_VALUES)
        return rn_error_set(err, RN_EINVAL,
                            "a run holds 1 to %d values per record, not %u",
                            RN_RUN_MAX_VALUES, nvals);
    if (opts && opts->codec != RN_RUN_ZSTD && opts->codec != RN_RUN_STORED)
        return rn_error_set(err, RN_EINVAL, "unknown run codec %d",
                            opts->codec);
    if (opts && opts->block_size &&
        (opts->block_size < 64 || opts->block_size > RN_RUN_BLOCK_MAX))
        return rn_error_set(err, RN_EINVAL,
                            "run block size %zu is not in 64..%zu",
                            opts->block_size, RN_RUN_BLOCK_MAX);
    if (opts && opts->level &&
        (opts->level < ZSTD_minCLevel() || opts->level > ZSTD_maxCLevel()))
        return rn_error_set(err, RN_EINVAL, "zstd level %d is not in %d..%d",
                            opts->level, ZSTD_minCLevel(), ZSTD_maxCLevel());

    if (!(w = rn_calloc(1, sizeof(*w))))
        goto nomem;
    w->dirfd = w->fd = -1;
    w->nvals = nvals;
    w->codec = opts ? opts->codec : RN_RUN_ZSTD;
    w->level = opts && opts->level ? opts->level : 1;
    w->block_size = opts && opts->block_size ? opts->block_size
                                             : RN_RUN_BLOCK_SIZE;
    rn_buf_init(&w->vals, RN_RUN_BLOCK_MAX);
    rn_buf_init(&w->index, 0);
    if (!(w->dir = rn_strdup(dir)))
        goto nomem;
    if (w->codec == RN_RUN_ZSTD) {
        if (!(w->cctx = ZSTD_createCCtx_advanced(z_mem)))
            goto nomem;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(
                w->cctx, ZSTD_c_compressionLevel, w->level))) {
            rc = rn_error_set(err, RN_EINVAL, "zstd refuses level %d",
                              w->level);
            goto done;
        }
    }

    w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) {
        rc = rn_error_set(err, RN_EIO, "spill to %s: %s", dir,
                          strerror(errno));
        goto done;
    }
    /* O_EXCL: a name another process (say, a dead one with our pid) left
     * behind is skipped, never reused */
    for (int tries = 0; tries < 1000; tries++) {
        w->seq = atomic_fetch_add(&run_seq, 1);
        snprintf(w->tmp, sizeof(w->tmp), "run-%ld-%lu.tmp", (long)getpid(),
                 w->seq);
        w->fd = openat(w->dirfd, w->tmp,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
        if (w->fd >= 0 || errno != EEXIST)
            break;
    }
    if (w->fd < 0) {
        rc = rn_error_set(err, RN_EIO, "spill to %s: cannot create a run: %s",
                          dir, strerror(errno));
        goto done;
    }

    {
        uint8_t h[HEAD];
        int e;
        memcpy(h, file_magic, 5);
        h[5] = RUN_MAJOR;
        h[6] = RUN_MINOR;
        h[7] = (uint8_t)nvals;
        h[8] = (uint8_t)w->codec;
        h[9] = RN_CODEC_MAJOR;
        h[10] = h[11] = 0; /* flags: none defined */
        put_le32(h + 12, rn_codec_crc32c(0, h, 12));
        if ((e = write_all(w->fd, h, HEAD))) {
            rc = disk_fail(w, err, e);
            goto done;
        }
        w->off = HEAD;
    }
    *out = w;
    w = NULL;
    goto done;
nomem:
    rc = rn_error_set(err, RN_ENOMEM, "out of memory for a run writer");
done:
    rn_run_writer_abort(w);
    return rc;
}

/* Compresses and writes the block being filled, and indexes it. */
static int flush_block(rn_run_writer *w, rn_errbuf *err)
{
    size_t n = w->nh, hbytes = 8 * n, rawlen = hbytes + w->vals.len, clen;
    uint8_t *h, ie[IENTRY];
    int e;

    if (!n)
        return 0;
    /* hashes then values: a column of sorted hashes compresses better
     * than hashes scattered between values */
    if (grow((void **)&w->raw, &w->raw_cap, rawlen, 1))
        goto nomem;
    for (size_t i = 0; i < n; i++)
        put_le64(w->raw + 8 * i, w->hashes[i]);
    if (w->vals.len)
        memcpy(w->raw + hbytes, w->vals.ptr, w->vals.len);

    if (w->codec == RN_RUN_ZSTD) {
        size_t bound = ZSTD_compressBound(rawlen);
        if (grow((void **)&w->out, &w->out_cap, BHEAD + bound, 1))
            goto nomem;
        clen = ZSTD_compress2(w->cctx, w->out + BHEAD, bound, w->raw, rawlen);
        if (ZSTD_isError(clen))
            return rn_error_set(err, RN_ENOMEM, "spill to %s: zstd: %s",
                                w->dir, ZSTD_getErrorName(clen));
    } else {
        if (grow((void **)&w->out, &w->out_cap, BHEAD + rawlen, 1))
            goto nomem;
        memcpy(w->out + BHEAD, w->raw, rawlen);
        clen = rawlen;
    }

    h = w->out;
    put_le32(h, (uint32_t)clen);
    put_le32(h + 4, (uint32_t)rawlen);
    put_le32(h + 8, (uint32_t)n);
    put_le32(h + 12, rn_codec_crc32c(0, h + BHEAD, clen));
    put_le64(h + 16, w->hashes[0]);
    put_le64(h + 24, w->hashes[n - 1]);
    put_le32(h + 32, rn_codec_crc32c(0, h, 32));

    put_le64(ie, w->off);
    put_le64(ie + 8, w->hashes[0]);
    put_le64(ie + 16, w->hashes[n - 1]);
    put_le32(ie + 24, (uint32_t)n);
    put_le32(ie + 28, (uint32_t)clen);
    if (rn_buf_append(&w->index, ie, IENTRY))
        goto nomem;

    if ((e = write_all(w->fd, h, BHEAD + clen)))
        return disk_fail(w, err, e);
    w->off += BHEAD + clen;
    w->blocks++;
    w->nh = 0;
    rn_buf_reset(&w->vals);
    return 0;
nomem:
    return rn_error_set(err, RN_ENOMEM, "out of memory for a spill block");
}

/* Appends the record's values to the block; on failure the block is as
 * it was. */
static int encode_record(rn_run_writer *w, const rn_value *values)
{
    size_t start = w->vals.len;
    int rc;
    for (unsigned i = 0; i < w->nvals; i++) {
        if ((rc = rn_codec_value_encode(&w->vals, &values[i]))) {
            w->vals.len = start;
            if (w->vals.ptr)
                w->vals.ptr[start] = '\0';
            return rc;
        }
    }
    /* the hash column counts too */
    if (8 * (w->nh + 1) + w->vals.len > RN_RUN_BLOCK_MAX) {
        w->vals.len = start;
        w->vals.ptr[start] = '\0';
        return RN_ELIMIT;
    }
    return 0;
}

int rn_run_writer_add(rn_run_writer *w, uint64_t hash, const rn_value *values,
                      rn_errbuf *err)
{
    size_t before;
    int rc;

    if (w->rc)
        return sticky(w->rc, &w->fail, err);
    if (w->records && hash < w->last_hash)
        return rn_error_set(err, RN_EINVAL,
                            "spill run: record hash 0x%016llx after "
                            "0x%016llx: records must come in non-decreasing "
                            "hash order",
                            (unsigned long long)hash,
                            (unsigned long long)w->last_hash);
    if (w->nh == w->hcap &&
        grow((void **)&w->hashes, &w->hcap,
             w->hcap ? w->hcap + 1 : HASHES_MIN, sizeof(uint64_t)))
        return rn_error_set(err, RN_ENOMEM, "out of memory for a spill block");
    before = w->vals.len;
    rc = encode_record(w, values);
    if (rc == RN_ELIMIT && w->nh) {
        /* too big for what is left of this block: in a block of its own */
        if ((rc = flush_block(w, err)))
            return rc;
        before = 0;
        rc = encode_record(w, values);
    }
    if (rc == RN_ELIMIT)
        return rn_error_set(err, RN_ELIMIT,
                            "spill run: a record of more than %zu bytes "
                            "(encoded) cannot be spilled",
                            RN_RUN_BLOCK_MAX);
    if (rc == RN_ETYPE)
        return rn_error_set(err, RN_ETYPE,
                            "spill run: a value of unknown kind");
    if (rc)
        return rn_error_set(err, rc, "out of memory for a spill block");

    w->hashes[w->nh++] = hash;
    if (!w->records)
        w->first_hash = hash;
    w->records++;
    w->last_hash = hash;
    w->raw_bytes += 8 + (w->vals.len - before);
    if (8 * w->nh + w->vals.len >= w->block_size)
        return flush_block(w, err);
    return 0;
}

uint64_t rn_run_writer_records(const rn_run_writer *w)
{
    return w->records;
}

uint64_t rn_run_writer_raw_bytes(const rn_run_writer *w)
{
    return w->raw_bytes;
}

/* Publishes the temporary file under a new name without ever replacing
 * a file (RENAME_NOREPLACE); *name gets it. */
static int publish(rn_run_writer *w, char *name, size_t cap)
{
    long pid = (long)getpid();
    for (int tries = 0; tries < 1000; tries++) {
        /* the temporary name's number first, another if it is taken */
        unsigned long n = tries == 0 ? w->seq : atomic_fetch_add(&run_seq, 1);
        snprintf(name, cap, "run-%ld-%lu.run", pid, n);
        if (renameat2(w->dirfd, w->tmp, w->dirfd, name, RENAME_NOREPLACE) ==
            0)
            return 0;
        if (errno == EINVAL || errno == ENOSYS) {
            /* a file system without the flag: the names are this
             * process's own, so a plain rename is safe in practice */
            struct stat st;
            if (fstatat(w->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                continue;
            return renameat(w->dirfd, w->tmp, w->dirfd, name) ? errno : 0;
        }
        if (errno != EEXIST)
            return errno;
    }
    return EEXIST;
}

int rn_run_writer_finish(rn_run_writer *w, rn_run_info *info,
                         rn_errbuf *err)
{
    rn_buf tail;
    char name[64];
    size_t nb;
    uint64_t foot_off;
    int rc, e;

    rn_buf_init(&tail, 0);
    if (info)
        memset(info, 0, sizeof(*info));
    if (w->rc) {
        rc = sticky(w->rc, &w->fail, err);
        goto done;
    }
    if ((rc = flush_block(w, err)))
        goto done;

    /* footer: totals, the index, its CRC; then the trailer */
    nb = w->index.len / IENTRY;
    foot_off = w->off;
    {
        uint8_t f[FFIXED], t[TRAILER];
        put_le64(f, nb);
        put_le64(f + 8, w->records);
        put_le64(f + 16, w->raw_bytes);
        put_le64(f + 24, w->records ? w->first_hash : 0);
        put_le64(f + 32, w->records ? w->last_hash : 0);
        if (rn_buf_append(&tail, f, FFIXED) ||
            rn_buf_append(&tail, w->index.ptr, w->index.len))
            goto nomem;
        put_le32(t, rn_codec_crc32c(0, tail.ptr, tail.len));
        if (rn_buf_append(&tail, t, 4))
            goto nomem;
        put_le64(t, foot_off);
        put_le64(t + 8, tail.len);
        put_le32(t + 16, rn_codec_crc32c(0, t, 16));
        memcpy(t + 20, end_magic, 4);
        if (rn_buf_append(&tail, t, TRAILER))
            goto nomem;
    }
    if ((e = write_all(w->fd, (const uint8_t *)tail.ptr, tail.len))) {
        rc = disk_fail(w, err, e);
        goto done;
    }
    w->off += tail.len;
    /* close reports the errors of writes the kernel deferred (NFS...) */
    e = close(w->fd) ? errno : 0;
    w->fd = -1;
    if (e) {
        unlinkat(w->dirfd, w->tmp, 0);
        rc = disk_fail(w, err, e);
        goto done;
    }
    if ((e = publish(w, name, sizeof(name)))) {
        rc = disk_fail(w, err, e);
        unlinkat(w->dirfd, w->tmp, 0);
        goto done;
    }
    if (info) {
        rn_buf path;
        rn_buf_init(&path, 0);
        if (rn_buf_printf(&path, "%s/%s", w->dir, name)) {
            rn_buf_release(&path);
            unlinkat(w->dirfd, name, 0);
            goto nomem;
        }
        info->path = rn_buf_detach(&path, NULL);
        info->nvals = w->nvals;
        info->codec = w->codec;
        info->records = w->records;
        info->blocks = nb;
        info->raw_bytes = w->raw_bytes;
        info->file_bytes = w->off;
        info->min_hash = w->records ? w->first_hash : 0;
        info->max_hash = w->records ? w->last_hash : 0;
    }
    rc = 0;
    goto done;
nomem:
    rc = rn_error_set(err, RN_ENOMEM, "out of memory for a run's index");
done:
    rn_buf_release(&tail);
    rn_run_writer_abort(w); /* the file was renamed away on success */
    return rc;
}

void rn_run_writer_abort(rn_run_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        unlinkat(w->dirfd, w->tmp, 0);
    }
    if (w->dirfd >= 0)
        close(w->dirfd);
    ZSTD_freeCCtx(w->cctx);
    rn_free(w->dir);
    rn_free(w->hashes);
    rn_buf_release(&w->vals);
    rn_free(w->raw);
    rn_free(w->out);
    rn_buf_release(&w->index);
    rn_free(w);
}

/* ---- reader --------------------------------------------------------- */

typedef struct bentry {
    uint64_t off, first, last;
    uint32_t count, csize;
} bentry;

struct rn_run_reader {
    char *name;
    int fd;               /* -1: reading mem */
    const uint8_t *mem;
    uint64_t size;
    rn_run_info info;
    uint64_t raw_total;   /* the footer's */
    bentry *index;
    size_t nblocks;

    uint64_t lo, hi;
    int ranged, started, done;
    size_t bi;            /* next block to load */

    /* the block loaded */
    int loaded;
    size_t cur;
    uint8_t *comp;        /* its bytes as read (file readers) */
    size_t comp_cap;
    uint8_t *raw;         /* decompressed */
    size_t raw_cap;
    const uint8_t *hashes;
    uint32_t n, ri;       /* records in it, next record */
    rn_codec_vdec vd;
    char *what;           /* names the block in value errors */
    size_t what_cap;
    ZSTD_DCtx *dctx;

    rn_arena vals_arena;  /* the values of the record last returned */
    rn_value vals[RN_RUN_MAX_VALUES];
    uint64_t returned;    /* records returned */

    uint64_t blocks_read, bytes_read, raw_read;
    int rc;               /* sticky failure */
    rn_errbuf fail;
};

RN_FMT(4, 5)
static int bad(rn_run_reader *r, rn_errbuf *err, uint64_t off,
               const char *fmt, ...)
{
    char msg[RN_ERRBUF_SIZE / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rn_error_set(err, RN_EFORMAT,
                        "bad spill run %s at byte offset %llu: %s", r->name,
                        (unsigned long long)off, msg);
}

/* n bytes at off: a pointer into mem, or read into buf (grown). The
 * range was checked against the size before; a file that shrank since is
 * truncated. */
static int src_get(rn_run_reader *r, uint64_t off, size_t n, uint8_t **buf,
                   size_t *cap, const uint8_t **p, rn_errbuf *err)
{
    size_t got = 0;
    if (off > r->size || n > r->size - off)
        return bad(r, err, off, "truncated: %zu bytes needed, the run has "
                   "%llu", n, (unsigned long long)r->size);
    r->bytes_read += n;
    if (r->fd < 0) {
        *p = r->mem + off;
        return 0;
    }
    if (grow((void **)buf, cap, n ? n : 1, 1))
        return rn_error_set(err, RN_ENOMEM,
                            "out of memory reading spill run %s", r->name);
    while (got < n) {
        ssize_t k = pread(r->fd, *buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return rn_error_set(err, RN_EIO, "cannot read spill run %s: %s",
                                r->name, strerror(errno));
        if (k == 0)
            return bad(r, err, off + got,
                       "truncated: the file ends %zu bytes early", n - got);
        got += (size_t)k;
    }
    *p = *buf;
    return 0;
}

/* Header, trailer and index. */
static int load_meta(rn_run_reader *r, rn_errbuf *err)
{
    uint8_t *tmp = NULL;
    size_t tmp_cap = 0;
    const uint8_t *h, *t, *f;
    uint64_t foot_off, foot_len, nb, pos, records = 0;
    size_t have = r->size < HEAD ? (size_t)r->size : HEAD;
    uint32_t stored, computed;
    int rc;

    /* header: magic and version first, as far as the bytes go, so that
     * "not a run" and "another version" win over "truncated" */
    if ((rc = src_get(r, 0, have, &tmp, &tmp_cap, &h, err)))
        goto done;
    for (size_t i = 0; i < 5 && i < have; i++)
        if (h[i] != file_magic[i]) {
            rc = bad(r, err, i, "not a spill run (bad magic byte 0x%02x, "
                     "expected 0x%02x)", h[i], file_magic[i]);
            goto done;
        }
    if (have > 5 && h[5] != RUN_MAJOR) {
        rc = bad(r, err, 5, "expected run format version %d, got %u",
                 RUN_MAJOR, h[5]);
        goto done;
    }
    if (r->size < RN_RUN_MIN_SIZE) {
        rc = bad(r, err, r->size, "truncated: %llu bytes, a run has at "
                 "least %d", (unsigned long long)r->size, RN_RUN_MIN_SIZE);
        goto done;
    }
    stored = get_le32(h + 12);
    computed = rn_codec_crc32c(0, h, 12);
    if (stored != computed) {
        rc = bad(r, err, 12, "header checksum mismatch (stored 0x%08x, "
                 "computed 0x%08x)", stored, computed);
        goto done;
    }
    if (h[7] < 1 || h[7] > RN_RUN_MAX_VALUES) {
        rc = bad(r, err, 7, "%u values per record (1 to %d)", h[7],
                 RN_RUN_MAX_VALUES);
        goto done;
    }
    if (h[8] != RN_RUN_STORED && h[8] != RN_RUN_ZSTD) {
        rc = bad(r, err, 8, "unknown codec %u", h[8]);
        goto done;
    }
    if (h[9] != RN_CODEC_MAJOR) {
        rc = bad(r, err, 9, "values in encoding version %u, expected %d",
                 h[9], RN_CODEC_MAJOR);
        goto done;
    }
    if (h[10] || h[11]) {
        rc = bad(r, err, 10, "unknown flags 0x%02x%02x", h[11], h[10]);
        goto done;
    }
    r->info.nvals = h[7];
    r->info.codec = h[8];

    /* trailer */
    pos = r->size - TRAILER;
    if ((rc = src_get(r, pos, TRAILER, &tmp, &tmp_cap, &t, err)))
        goto done;
    if (memcmp(t + 20, end_magic, 4)) {
        rc = bad(r, err, pos + 20, "no run trailer: the file is truncated "
                 "or was never finished");
        goto done;
    }
    stored = get_le32(t + 16);
    computed = rn_codec_crc32c(0, t, 16);
    if (stored != computed) {
        rc = bad(r, err, pos + 16, "trailer checksum mismatch (stored "
                 "0x%08x, computed 0x%08x)", stored, computed);
        goto done;
    }
    foot_off = get_le64(t);
    foot_len = get_le64(t + 8);
    if (foot_off < HEAD || foot_off > pos || foot_len != pos - foot_off ||
        foot_len < FFIXED + 4 || (foot_len - FFIXED - 4) % IENTRY) {
        rc = bad(r, err, pos, "the trailer puts the footer at %llu, %llu "
                 "bytes long, in a file of %llu bytes",
                 (unsigned long long)foot_off, (unsigned long long)foot_len,
                 (unsigned long long)r->size);
        goto done;
    }

    /* footer */
    if ((rc = src_get(r, foot_off, (size_t)foot_len, &tmp, &tmp_cap, &f,
                      err)))
        goto done;
    stored = get_le32(f + foot_len - 4);
    computed = rn_codec_crc32c(0, f, (size_t)foot_len - 4);
    if (stored != computed) {
        rc = bad(r, err, foot_off + foot_len - 4, "footer checksum mismatch "
                 "(stored 0x%08x, computed 0x%08x)", stored, computed);
        goto done;
    }
    nb = get_le64(f);
    if (nb != (foot_len - FFIXED - 4) / IENTRY) {
        rc = bad(r, err, foot_off, "the footer counts %llu blocks but "
                 "indexes %llu", (unsigned long long)nb,
                 (unsigned long long)((foot_len - FFIXED - 4) / IENTRY));
        goto done;
    }
    r->info.records = get_le64(f + 8);
    r->raw_total = get_le64(f + 16);
    r->info.min_hash = get_le64(f + 24);
    r->info.max_hash = get_le64(f + 32);
    /* nb * IENTRY < the size: the index fits in memory as it fits in the
     * file */
    if (nb && !(r->index = rn_calloc((size_t)nb, sizeof(bentry)))) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory for the index of "
                          "spill run %s", r->name);
        goto done;
    }
    pos = HEAD;
    for (uint64_t i = 0; i < nb; i++) {
        const uint8_t *e = f + FFIXED + i * IENTRY;
        uint64_t at = foot_off + FFIXED + i * IENTRY;
        bentry *b = &r->index[i];
        b->off = get_le64(e);
        b->first = get_le64(e + 8);
        b->last = get_le64(e + 16);
        b->count = get_le32(e + 24);
        b->csize = get_le32(e + 28);
        if (b->off != pos) {
            rc = bad(r, err, at, "block %llu at offset %llu, expected %llu",
                     (unsigned long long)i, (unsigned long long)b->off,
                     (unsigned long long)pos);
            goto done;
        }
        if (!b->count || !b->csize || pos + BHEAD > foot_off ||
            b->csize > foot_off - pos - BHEAD) {
            rc = bad(r, err, at, "block %llu: %u records in %u bytes at "
                     "offset %llu does not fit before the footer at %llu",
                     (unsigned long long)i, b->count, b->csize,
                     (unsigned long long)b->off,
                     (unsigned long long)foot_off);
            goto done;
        }
        if (b->first > b->last || (i && b->first < r->index[i - 1].last)) {
            rc = bad(r, err, at, "block %llu: hashes 0x%016llx..0x%016llx "
                     "out of order", (unsigned long long)i,
                     (unsigned long long)b->first,
                     (unsigned long long)b->last);
            goto done;
        }
        pos += BHEAD + b->csize;
        records += b->count;
    }
    if (pos != foot_off) {
        rc = bad(r, err, foot_off, "the blocks end at %llu, the footer "
                 "starts at %llu", (unsigned long long)pos,
                 (unsigned long long)foot_off);
        goto done;
    }
    if (records != r->info.records ||
        r->info.min_hash != (nb ? r->index[0].first : 0) ||
        r->info.max_hash != (nb ? r->index[nb - 1].last : 0)) {
        rc = bad(r, err, foot_off, "the footer's totals (%llu records, "
                 "hashes 0x%016llx..0x%016llx) disagree with its index",
                 (unsigned long long)r->info.records,
                 (unsigned long long)r->info.min_hash,
                 (unsigned long long)r->info.max_hash);
        goto done;
    }
    r->nblocks = (size_t)nb;
    r->info.blocks = nb;
    r->info.raw_bytes = r->raw_total;
    r->info.file_bytes = r->size;
    rc = 0;
done:
    rn_free(tmp);
    return rc;
}

static int reader_new(rn_run_reader **out, const char *name, rn_errbuf *err)
{
    rn_run_reader *r = rn_calloc(1, sizeof(*r));
    if (!r || !(r->name = rn_strdup(name))) {
        rn_free(r);
        return rn_error_set(err, RN_ENOMEM, "out of memory for a run reader");
    }
    r->fd = -1;
    r->lo = 0;
    r->hi = UINT64_MAX;
    r->info.path = r->name;
    rn_arena_init(&r->vals_arena, VALS_CHUNK);
    *out = r;
    return 0;
}

int rn_run_reader_open(rn_run_reader **out, const char *path, rn_errbuf *err)
{
    rn_run_reader *r = NULL;
    struct stat st;
    int rc;

    *out = NULL;
    if ((rc = reader_new(&r, path, err)))
        return rc;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = rn_error_set(err, errno == ENOENT ? RN_ENOTFOUND : RN_EIO,
                          "cannot open spill run %s: %s", path,
                          strerror(errno));
        goto done;
    }
    if (fstat(r->fd, &st)) {
        rc = rn_error_set(err, RN_EIO, "cannot read spill run %s: %s", path,
                          strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = rn_error_set(err, RN_EIO, "spill run %s is not a regular file",
                          path);
        goto done;
    }
    r->size = (uint64_t)st.st_size;
    if ((rc = load_meta(r, err)))
        goto done;
    *out = r;
    r = NULL;
done:
    rn_run_reader_free(r);
    return rc;
}

int rn_run_reader_open_mem(rn_run_reader **out, const void *data, size_t len,
                           const char *name, rn_errbuf *err)
{
    static const uint8_t none[1];
    rn_run_reader *r = NULL;
    int rc;

    *out = NULL;
    if ((rc = reader_new(&r, name ? name : "(memory)", err)))
        return rc;
    r->mem = data ? data : none;
    r->size = data ? len : 0;
    if ((rc = load_meta(r, err))) {
        rn_run_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void rn_run_reader_set_range(rn_run_reader *r, uint64_t lo, uint64_t hi)
{
    r->lo = lo;
    r->hi = hi;
    r->ranged = lo != 0 || hi != UINT64_MAX;
}

const rn_run_info *rn_run_reader_info(const rn_run_reader *r)
{
    return &r->info;
}

void rn_run_reader_stats(const rn_run_reader *r, uint64_t *blocks,
                         uint64_t *bytes)
{
    if (blocks)
        *blocks = r->blocks_read;
    if (bytes)
        *bytes = r->bytes_read;
}

/* Reads, checks and decompresses block b; its values are decoded one
 * record at a time by rn_run_reader_next. */
static int load_block(rn_run_reader *r, size_t b, rn_errbuf *err)
{
    const bentry *e = &r->index[b];
    const uint8_t *p, *data;
    uint32_t clen, rawlen, n, stored, computed;
    uint64_t first, last, prev;
    size_t need;
    int rc;

    r->loaded = 0;
    if ((rc = src_get(r, e->off, BHEAD + (size_t)e->csize, &r->comp,
                      &r->comp_cap, &p, err)))
        return rc;
    r->blocks_read++;
    stored = get_le32(p + 32);
    computed = rn_codec_crc32c(0, p, 32);
    if (stored != computed)
        return bad(r, err, e->off + 32, "block %zu: header checksum "
                   "mismatch (stored 0x%08x, computed 0x%08x)", b, stored,
                   computed);
    clen = get_le32(p);
    rawlen = get_le32(p + 4);
    n = get_le32(p + 8);
    first = get_le64(p + 16);
    last = get_le64(p + 24);
    if (clen != e->csize || n != e->count || first != e->first ||
        last != e->last)
        return bad(r, err, e->off, "block %zu: its header (%u bytes, %u "
                   "records, 0x%016llx..0x%016llx) disagrees with the index "
                   "(%u bytes, %u records, 0x%016llx..0x%016llx)", b, clen, n,
                   (unsigned long long)first, (unsigned long long)last,
                   e->csize, e->count, (unsigned long long)e->first,
                   (unsigned long long)e->last);
    if (rawlen > RN_RUN_BLOCK_MAX)
        return bad(r, err, e->off + 4, "block %zu: %u bytes decompressed, "
                   "more than the limit of %zu", b, rawlen, RN_RUN_BLOCK_MAX);
    /* each record: its hash and at least one byte per value */
    if ((uint64_t)n * (8 + r->info.nvals) > rawlen)
        return bad(r, err, e->off + 4, "block %zu: %u bytes cannot hold %u "
                   "records", b, rawlen, n);
    if (r->info.codec == RN_RUN_STORED && clen != rawlen)
        return bad(r, err, e->off, "block %zu: stored, but %u bytes hold %u",
                   b, clen, rawlen);
    data = p + BHEAD;
    stored = get_le32(p + 12);
    computed = rn_codec_crc32c(0, data, clen);
    if (stored != computed)
        return bad(r, err, e->off + 12, "block %zu: checksum mismatch "
                   "(stored 0x%08x, computed 0x%08x): the data is corrupted",
                   b, stored, computed);

    if (r->info.codec == RN_RUN_ZSTD) {
        size_t got;
        if (!r->dctx && !(r->dctx = ZSTD_createDCtx_advanced(z_mem)))
            return rn_error_set(err, RN_ENOMEM, "out of memory reading "
                                "spill run %s", r->name);
        if (grow((void **)&r->raw, &r->raw_cap, rawlen ? rawlen : 1, 1))
            return rn_error_set(err, RN_ENOMEM, "out of memory reading "
                                "spill run %s", r->name);
        got = ZSTD_decompressDCtx(r->dctx, r->raw, rawlen, data, clen);
        if (ZSTD_isError(got))
            return bad(r, err, e->off + BHEAD, "block %zu: zstd: %s", b,
                       ZSTD_getErrorName(got));
        if (got != rawlen)
            return bad(r, err, e->off + BHEAD, "block %zu: decompressed to "
                       "%zu bytes, its header says %u", b, got, rawlen);
        r->hashes = r->raw;
    } else {
        r->hashes = data; /* in comp or mem, valid until the next block */
    }

    /* the hash column: in order, and the header's first and last */
    prev = first;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = get_le64(r->hashes + 8 * (size_t)i);
        if (h < prev || (i == 0 && h != first))
            return bad(r, err, e->off, "block %zu: record %u has hash "
                       "0x%016llx, out of order", b, i,
                       (unsigned long long)h);
        prev = h;
    }
    if (prev != last)
        return bad(r, err, e->off, "block %zu: its last hash is 0x%016llx, "
                   "its header says 0x%016llx", b, (unsigned long long)prev,
                   (unsigned long long)last);

    need = strlen(r->name) + 64;
    if (grow((void **)&r->what, &r->what_cap, need, 1))
        return rn_error_set(err, RN_ENOMEM, "out of memory reading spill "
                            "run %s", r->name);
    snprintf(r->what, r->what_cap, "spill run %s, block %zu (decompressed)",
             r->name, b);
    rn_codec_vdec_init(&r->vd, r->hashes + 8 * (size_t)n,
                       rawlen - 8 * (size_t)n, 8 * (size_t)n, &r->vals_arena,
                       r->what);
    r->cur = b;
    r->n = n;
    r->ri = 0;
    r->raw_read += rawlen;
    r->loaded = 1;
    return 0;
}

/* Decodes the values of record r->ri into r->vals. */
static int decode_record(rn_run_reader *r, rn_errbuf *err)
{
    int rc;
    rn_arena_reset(&r->vals_arena);
    rn_codec_vdec_forget_pool(&r->vd);
    for (unsigned i = 0; i < r->info.nvals; i++) {
        if ((rc = rn_codec_vdec_next(&r->vd, &r->vals[i], err))) {
            /* a writer never makes values past the limits: corruption */
            if (rc == RN_ELIMIT)
                err->code = RN_EFORMAT;
            return rc == RN_ELIMIT ? RN_EFORMAT : rc;
        }
    }
    if (++r->ri == r->n && rn_codec_vdec_left(&r->vd))
        return bad(r, err, r->index[r->cur].off, "block %zu: %zu bytes left "
                   "over after the last record", r->cur,
                   rn_codec_vdec_left(&r->vd));
    return 0;
}

/* The first block that may hold hashes >= lo. */
static size_t first_block(const rn_run_reader *r)
{
    size_t a = 0, b = r->nblocks;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (r->index[m].last < r->lo)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

static int failed(rn_run_reader *r, int rc, rn_errbuf *err)
{
    /* keep the message: every later call repeats it */
    r->rc = rc;
    if (err != &r->fail)
        r->fail = *err;
    return rc;
}

/* Positions the reader on the next record in range: 1, 0 at the end. */
static int advance(rn_run_reader *r, rn_errbuf *err)
{
    int rc;
    if (r->rc)
        return sticky(r->rc, &r->fail, err);
    if (r->done)
        return 0;
    if (!r->started) {
        r->bi = first_block(r);
        r->started = 1;
    }
    for (;;) {
        if (r->loaded && r->ri < r->n) {
            uint64_t h = get_le64(r->hashes + 8 * (size_t)r->ri);
            if (h > r->hi)
                break;
            if (h >= r->lo)
                return 1;
            /* before the range: only at the start of the first block
             * read, before any record was returned, so the values arena
             * holds nothing the caller still sees */
            if ((rc = decode_record(r, err)))
                return failed(r, rc, err);
            continue;
        }
        if (r->bi >= r->nblocks || r->index[r->bi].first > r->hi)
            break;
        if ((rc = load_block(r, r->bi, err)))
            return failed(r, rc, err);
        r->bi++;
    }
    r->done = 1;
    if (!r->ranged && r->bi == r->nblocks && r->raw_read != r->raw_total)
        return failed(r, bad(r, err, r->size - TRAILER, "the footer counts "
                             "%llu bytes of records, the blocks hold %llu",
                             (unsigned long long)r->raw_total,
                             (unsigned long long)r->raw_read),
                      err);
    return 0;
}

int rn_run_reader_peek(rn_run_reader *r, uint64_t *hash, rn_errbuf *err)
{
    int rc = advance(r, err ? err : &r->fail);
    if (rc == 1)
        *hash = get_le64(r->hashes + 8 * (size_t)r->ri);
    return rc;
}

int rn_run_reader_next(rn_run_reader *r, uint64_t *hash,
                       const rn_value **values, rn_errbuf *err)
{
    uint64_t h;
    int rc;
    if (!err)
        err = &r->fail; /* messages are kept either way */
    if ((rc = advance(r, err)) != 1)
        return rc;
    h = get_le64(r->hashes + 8 * (size_t)r->ri);
    if ((rc = decode_record(r, err)))
        return failed(r, rc, err);
    r->returned++;
    *hash = h;
    *values = r->vals;
    return 1;
}

void rn_run_reader_free(rn_run_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    rn_arena_release(&r->vals_arena);
    rn_free(r->index);
    rn_free(r->comp);
    rn_free(r->raw);
    rn_free(r->what);
    rn_free(r->name);
    rn_free(r);
}
