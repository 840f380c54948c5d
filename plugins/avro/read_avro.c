/*
 * read_avro: the records of Avro object container files, one runnel value
 * per datum (record -> record, array -> list, map -> record, union -> its
 * branch, enum -> string, fixed -> bytes, logical types as their base
 * type, float -> double).
 *
 * Plan: every pattern in `urls` is listed through the host; an object
 * that can be read by ranges and has a known size is cut into splits of
 * `blocksize` bytes, any other is one split. A split is the record
 * {url, start, end}, end -1 meaning "to the end".
 *
 * Block rule: a block belongs to the split holding the sync marker in
 * front of it (the header's marker for the first block). Split [s, e)
 * reads the header (the writer schema and codec, and the marker), scans
 * from s for the first marker at p >= s, then reads block after block
 * while the marker before the block lies before e; the last block may end
 * after e. So every record is read exactly once whatever the blocksize.
 *
 * Memory: one malloc'd input buffer and one decompression buffer per
 * task, each at most RN_AVRO_MAX_BLOCK plus a little; decoded strings
 * view them, and rn_flush runs after each block before they are reused.
 */
#include <stdlib.h>
#include <string.h>

#include "avro_block.h"
#include "avro_plugin.h"

#define CHUNK ((size_t)64 << 10)

const rn_param_spec rn_avro_read_params[2] = {
    {.name = "urls",
     .type = RN_PT_STRING_LIST,
     .flags = RN_PF_REQUIRED,
     .help = "paths, globs, directories or URLs (file://, http(s)://, "
             "s3://) of Avro object container files"},
    {.name = "blocksize",
     .type = RN_PT_SIZE,
     .def = "64MiB",
     .min = 1,
     .max = 4611686018427387904.0,
     .help = "bytes per split (splits fall on Avro block boundaries)"},
};

typedef struct ra_state {
    const rn_value *urls;
    uint64_t blocksize;
} ra_state;

int rn_avro_read_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    const rn_value *urls = rn_record_get(params, "urls");
    int64_t bs = rn_param_int(params, "blocksize", (int64_t)64 << 20);
    ra_state *st;

    if (!urls || urls->kind != RN_LIST || urls->len == 0)
        return rn_error(ctx, RN_EINVAL, "urls: give at least one path");
    for (uint32_t i = 0; i < urls->len; i++) {
        const rn_value *u = &urls->u.items[i];
        if (u->kind != RN_STRING || u->len == 0 ||
            memchr(u->u.s, '\0', u->len))
            return rn_error(ctx, RN_EINVAL,
                            "urls[%u]: expected a non-empty string", i);
    }
    if (bs < 1)
        return rn_error(ctx, RN_EINVAL, "blocksize: must be at least 1");
    if (!(st = calloc(1, sizeof(*st))))
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    st->urls = urls;
    st->blocksize = (uint64_t)bs;
    *state = st;
    return 0;
}

void rn_avro_read_destroy(void *state)
{
    free(state);
}

static int emit_split(rn_ctx *ctx, const char *url, uint64_t start,
                      int64_t end)
{
    rn_field *f = rn_alloc(ctx, 3 * sizeof(*f));
    rn_value v;
    if (!f)
        return RN_ENOMEM;
    f[0].name = (rn_str){"url", 3};
    f[0].value = rn_string(url, strlen(url));
    f[1].name = (rn_str){"start", 5};
    f[1].value = rn_int((int64_t)start);
    f[2].name = (rn_str){"end", 3};
    f[2].value = rn_int(end);
    v = rn_record(f, 3);
    return rn_emit(ctx, &v);
}

int rn_avro_read_plan(void *state, rn_ctx *ctx)
{
    const ra_state *st = state;
    int rc;

    for (uint32_t i = 0; i < st->urls->len; i++) {
        const rn_value *u = &st->urls->u.items[i];
        char *pattern = rn_alloc(ctx, (size_t)u->len + 1);
        rn_io_entry *ents;
        size_t n;
        if (!pattern)
            return RN_ENOMEM;
        memcpy(pattern, u->u.s, u->len);
        pattern[u->len] = '\0';
        if ((rc = rn_io_list(ctx, pattern, &ents, &n)))
            return rc;
        for (size_t k = 0; k < n; k++) {
            const rn_io_entry *e = &ents[k];
            if (!e->ranged || e->size == UINT64_MAX || e->size == 0) {
                if ((rc = emit_split(ctx, e->url, 0, -1)))
                    return rc;
                continue;
            }
            for (uint64_t s = 0; s < e->size; s += st->blocksize) {
                uint64_t end = e->size - s > st->blocksize ? s + st->blocksize
                                                           : e->size;
                if ((rc = emit_split(ctx, e->url, s, (int64_t)end)))
                    return rc;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading one split                                                   */

typedef struct reader {
    rn_ctx *ctx;
    const char *url;
    rn_stream *s;
    uint8_t *buf;     /* input: buf[lo, hi) unconsumed */
    size_t cap, lo, hi;
    uint64_t base;    /* file offset of buf[0] */
    int eof;
    uint8_t *zbuf;    /* decompressed block */
    size_t zcap;
    char err[256];
} reader;

static int open_at(reader *r, uint64_t off)
{
    if (r->s)
        rn_io_close(r->ctx, r->s);
    r->s = NULL;
    r->lo = r->hi = 0;
    r->base = off;
    r->eof = 0;
    return rn_io_open(r->ctx, r->url, off, UINT64_MAX, 0, &r->s);
}

/* Makes buf[lo, hi) hold at least `need` bytes unless the data ends
 * first (then it holds what is left). Only between blocks: moving bytes
 * would break the values that view them, so callers flush first. */
static int fill(reader *r, size_t need)
{
    if (r->lo > 0 && r->cap - r->lo < need + CHUNK) {
        memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
        r->base += r->lo;
        r->hi -= r->lo;
        r->lo = 0;
    }
    while (!r->eof && r->hi - r->lo < need) {
        int64_t n;
        if (r->cap - r->hi < CHUNK) {
            size_t cap = r->cap ? r->cap : CHUNK * 2;
            uint8_t *nb;
            while (cap - r->hi < CHUNK || cap - r->lo < need)
                cap *= 2;
            if (!(nb = realloc(r->buf, cap)))
                return rn_error(r->ctx, RN_ENOMEM, "out of memory");
            r->buf = nb;
            r->cap = cap;
        }
        n = rn_io_read(r->ctx, r->s, r->buf + r->hi, r->cap - r->hi);
        if (n < 0)
            return (int)n;
        if (n == 0)
            r->eof = 1;
        r->hi += (size_t)n;
        rn_add_bytes_read(r->ctx, (uint64_t)n);
    }
    return 0;
}

static unsigned long long at(const reader *r, size_t i)
{
    return (unsigned long long)(r->base + i);
}

static int read_header(reader *r, rn_avro_header *h)
{
    size_t need = 4096;
    int rc;
    for (;;) {
        if ((rc = fill(r, need)))
            return rc;
        rc = rn_avro_header_parse(r->buf + r->lo, r->hi - r->lo, h, r->err,
                                  sizeof(r->err));
        if (rc <= 0)
            break;
        if (r->eof)
            return rn_error(r->ctx, RN_EFORMAT,
                            "%s: byte %llu: truncated Avro header", r->url,
                            at(r, r->hi));
        if (need >= RN_AVRO_MAX_HEADER)
            return rn_error(r->ctx, RN_ELIMIT,
                            "%s: an Avro header larger than %zu MiB", r->url,
                            RN_AVRO_MAX_HEADER >> 20);
        need *= 2;
    }
    if (rc)
        return rn_error(r->ctx, rc, "%s: %s", r->url, r->err);
    return 0;
}

/* Positions buf[lo] just after the first sync marker that starts at an
 * offset in [start, end); *none when there is none. */
static int seek_marker(reader *r, const rn_avro_header *h, uint64_t start,
                       uint64_t end, int *none)
{
    int rc;
    *none = 0;
    if ((rc = open_at(r, start)))
        return rc;
    for (;;) {
        const uint8_t *p = r->buf + r->lo;
        size_t n = r->hi - r->lo;
        for (size_t i = 0; i + RN_AVRO_SYNC_LEN <= n; i++) {
            if (r->base + r->lo + i >= end) {
                *none = 1;
                return 0;
            }
            if (p[i] == h->sync[0] &&
                !memcmp(p + i, h->sync, RN_AVRO_SYNC_LEN)) {
                r->lo += i + RN_AVRO_SYNC_LEN;
                return 0;
            }
        }
        if (r->eof || r->base + r->hi >= end + RN_AVRO_SYNC_LEN) {
            *none = 1;
            return 0;
        }
        if (n >= RN_AVRO_SYNC_LEN)
            r->lo += n - (RN_AVRO_SYNC_LEN - 1);
        if ((rc = fill(r, CHUNK)))
            return rc;
    }
}

static void *arena_fn(void *ud, size_t n)
{
    return rn_alloc((rn_ctx *)ud, n);
}

static int emit_fn(void *ud, const rn_value *v)
{
    return rn_emit((rn_ctx *)ud, v);
}

/* Reads, decodes and emits the block at buf[lo]; *last when the file
 * ends there or the marker after the block is at or after end. */
static int read_block(reader *r, const rn_avro_header *h, uint64_t end,
                      int *last)
{
    rn_avro_alloc a = {arena_fn, r->ctx};
    size_t pos = 0, bad = 0;
    const uint8_t *data;
    size_t dlen;
    int64_t count, size;
    unsigned long long off = at(r, r->lo);
    int rc;

    *last = 0;
    if ((rc = fill(r, 20)))
        return rc;
    if (r->hi == r->lo) { /* the end of the file */
        *last = 1;
        return 0;
    }
    rc = rn_avro_read_long(r->buf + r->lo, r->hi - r->lo, &pos, &count);
    if (rc == 0)
        rc = rn_avro_read_long(r->buf + r->lo, r->hi - r->lo, &pos, &size);
    if (rc == 1)
        return rn_error(r->ctx, RN_EFORMAT,
                        "%s: byte %llu: truncated block header", r->url,
                        off);
    if (rc || count < 0 || size < 0 ||
        (uint64_t)size > RN_AVRO_MAX_BLOCK)
        return rn_error(r->ctx, RN_EFORMAT,
                        "%s: byte %llu: bad block header (count %lld, "
                        "size %lld)",
                        r->url, off, (long long)count, (long long)size);
    if ((rc = fill(r, pos + (size_t)size + RN_AVRO_SYNC_LEN)))
        return rc;
    if (r->hi - r->lo < pos + (size_t)size + RN_AVRO_SYNC_LEN)
        return rn_error(r->ctx, RN_EFORMAT,
                        "%s: byte %llu: truncated block (it says %lld "
                        "bytes, the file has %llu more)",
                        r->url, off, (long long)size,
                        (unsigned long long)(r->hi - r->lo - pos));
    if (memcmp(r->buf + r->lo + pos + (size_t)size, h->sync,
               RN_AVRO_SYNC_LEN))
        return rn_error(r->ctx, RN_EFORMAT,
                        "%s: byte %llu: no sync marker after the block "
                        "(corrupt block or wrong size %lld)",
                        r->url, off, (long long)size);
    rc = rn_avro_block_decompress(h->codec, r->buf + r->lo + pos,
                                  (size_t)size, &r->zbuf, &r->zcap, &data,
                                  &dlen, r->err, sizeof(r->err));
    if (rc)
        return rn_error(r->ctx, rc, "%s: byte %llu: block: %s", r->url, off,
                        r->err);
    rc = rn_avro_block_decode(h->schema, data, dlen, count, &a, emit_fn,
                              r->ctx, r->err, sizeof(r->err), &bad);
    if (rc == RN_EFORMAT || rc == RN_ENOMEM) {
        if (h->codec == RN_AVRO_CODEC_NULL)
            return rn_error(r->ctx, rc, "%s: byte %llu: %s", r->url,
                            off + pos + bad, r->err);
        return rn_error(r->ctx, rc,
                        "%s: byte %llu: block: %s (at byte %zu of the "
                        "decompressed data)",
                        r->url, off, r->err, bad);
    }
    if (rc)
        return rc;
    if ((rc = rn_flush(r->ctx)))
        return rc;
    r->lo += pos + (size_t)size;
    *last = r->base + r->lo >= end;
    r->lo += RN_AVRO_SYNC_LEN;
    return 0;
}

static int bad_split(rn_ctx *ctx)
{
    return rn_error(ctx, RN_EINVAL,
                    "malformed split: expected {url, start, end}");
}

int rn_avro_read_read(void *state, rn_ctx *ctx, const rn_value *split)
{
    const rn_value *u = rn_record_get(split, "url");
    const rn_value *s = rn_record_get(split, "start");
    const rn_value *e = rn_record_get(split, "end");
    rn_avro_header h;
    reader r;
    uint64_t start, end;
    char *url;
    int rc, last = 0, none = 0;

    (void)state;
    memset(&h, 0, sizeof(h));
    if (!u || u->kind != RN_STRING || !s || s->kind != RN_INT || !e ||
        e->kind != RN_INT || s->u.i < 0 || e->u.i < -1 ||
        (e->u.i >= 0 && e->u.i < s->u.i))
        return bad_split(ctx);
    start = (uint64_t)s->u.i;
    end = e->u.i < 0 ? UINT64_MAX : (uint64_t)e->u.i;
    if (start == end)
        return 0;
    if (!(url = rn_alloc_keep(ctx, (size_t)u->len + 1)))
        return RN_ENOMEM;
    memcpy(url, u->u.s, u->len);
    url[u->len] = '\0';
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.url = url;

    if ((rc = open_at(&r, 0)) || (rc = read_header(&r, &h)))
        goto done;
    if (h.len - RN_AVRO_SYNC_LEN >= end) {
        goto done; /* only header bytes: no marker starts here */
    } else if (start + RN_AVRO_SYNC_LEN <= h.len) {
        /* the header's marker is ours: the first block follows it */
        r.lo += h.len;
    } else if ((rc = seek_marker(&r, &h, start, end, &none)) || none) {
        goto done;
    }
    while (!last)
        if ((rc = read_block(&r, &h, end, &last)))
            goto done;
done:
    if (r.s)
        rn_io_close(ctx, r.s);
    /* values emitted view buf and the schema: let them go first */
    if (rc == 0)
        rc = rn_flush(ctx);
    free(r.buf);
    free(r.zbuf);
    rn_avro_schema_free(h.schema);
    return rc;
}
