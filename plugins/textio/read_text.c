/*
 * read_text: the lines of text objects, like Dask's bag.read_text, except
 * that lines come WITHOUT their terminator ("\n" or "\r\n"; a lone "\r" is
 * kept). A last line without a newline is still a line; an empty object
 * has no lines.
 *
 * Plan: every pattern in `urls` is listed through the host. An object is
 * read whole (one split, decoded) when it is compressed — by its name, or,
 * with compression=infer, by its first bytes — when compression names a
 * codec, when its size is unknown or when it cannot be read by ranges.
 * Otherwise it is cut into splits of `blocksize` bytes. An empty object
 * gets one (whole) split that yields nothing, so every object is one
 * partition at least.
 *
 * A split is the record {url, start, end, whole}: self-contained, since it
 * travels between machines.
 *
 * Block rule: a line belongs to the block in which it starts. Block
 * [s, e) with s > 0 skips up to and including the first '\n' at or after
 * byte s - 1 (so when byte s - 1 is '\n' the line at s is its own), then
 * emits every line starting before e, reading past e to finish the last
 * one. Every line is thus emitted exactly once over all blocks, in order.
 *
 * Memory: one buffer per task (4 KiB .. 1 MiB: no point reading 1 MiB
 * for a tiny block); lines are views into it (zero copy) and rn_flush
 * runs before it is reused. A line longer than the buffer grows it,
 * doubling, up to MAX_LINE; a longer line is an error.
 */
#include <stdlib.h>
#include <string.h>

#include "textio.h"
#include "tio_files.h"

#define BUF_MIN ((size_t)4 << 10)
#define BUF_MAX ((size_t)1 << 20)
#define MAX_LINE ((size_t)1 << 30)

const rn_param_spec rn_textio_read_text_params[4] = {
    {.name = "urls",
     .type = RN_PT_STRING_LIST,
     .flags = RN_PF_REQUIRED,
     .help = "paths, globs, directories or URLs (file://, http(s)://, "
             "s3://) to read"},
    {.name = "blocksize",
     .type = RN_PT_SIZE,
     .def = "64MiB",
     .min = 1,
     .max = 4611686018427387904.0,
     .help = "bytes per split of an uncompressed object (splits fall on "
             "line boundaries)"},
    {.name = "compression",
     .type = RN_PT_STRING,
     .def = "infer",
     .choices = rn_tio_compression_choices,
     .help = "infer (from the name or the first bytes), none (read bytes "
             "as they are), or the codec of every object"},
    {.name = "include_path",
     .type = RN_PT_BOOL,
     .def = "false",
     .help = "emit [line, url] instead of line"},
};

typedef struct rt_state {
    const rn_value *urls; /* list of strings; params live until destroy */
    uint64_t blocksize;
    int comp;             /* COMP_INFER, RN_TIO_COMP_NONE or a codec number */
    int include_path;
} rt_state;

int rn_textio_read_text_init(rn_ctx *ctx, const rn_value *params,
                             void **state)
{
    const rn_value *urls = rn_record_get(params, "urls");
    rn_str comp = rn_param_str(params, "compression", "infer");
    int64_t bs = rn_param_int(params, "blocksize", (int64_t)64 << 20);
    rt_state *st;
    int rc = rn_tio_urls_check(ctx, urls);

    if (rc)
        return rc;
    if (bs < 1)
        return rn_error(ctx, RN_EINVAL, "blocksize: must be at least 1");
    st = calloc(1, sizeof(*st));
    if (!st)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    st->urls = urls;
    st->blocksize = (uint64_t)bs;
    st->include_path = rn_param_bool(params, "include_path", 0);
    st->comp = rn_tio_comp_parse(comp);
    *state = st;
    return 0;
}

void rn_textio_read_text_destroy(void *state)
{
    free(state);
}

static int plan_entry(void *arg, rn_ctx *ctx, const rn_io_entry *e,
                      int whole)
{
    const rt_state *st = arg;
    return rn_tio_emit_blocks(ctx, e, whole, st->blocksize);
}

int rn_textio_read_text_plan(void *state, rn_ctx *ctx)
{
    const rt_state *st = state;
    return rn_tio_plan(ctx, st->urls, st->comp, plan_entry, (void *)st);
}

/* ------------------------------------------------------------------ */
/* Reading one split                                                   */

typedef struct reader {
    rn_ctx *ctx;
    const rt_state *st;
    const char *url; /* NUL-terminated, task memory */
    size_t url_len;
    rn_stream *s;
    int whole;
    int tail;        /* reading past the block end to finish a line */
    size_t tail_chunk; /* read size past the end: small, doubling */
    uint64_t end;    /* block end (object offset) */
    char *buf;
    size_t cap;
    size_t lo, hi;   /* unconsumed bytes: buf[lo, hi) */
    size_t scan;     /* buf[lo, scan) holds no '\n' */
    uint64_t base;   /* object offset of buf[0] (block splits) */
} reader;

/* Makes room and reads more after buf[lo, hi): 0 at the end of the data,
 * else the bytes added. */
static int64_t refill(reader *r)
{
    size_t keep = r->hi - r->lo;
    int64_t n;
    int rc;

    /* Emitted lines view buf: let them go before moving bytes. */
    if ((rc = rn_flush(r->ctx)))
        return rc;
    if (r->lo > 0) {
        memmove(r->buf, r->buf + r->lo, keep);
        r->base += r->lo;
        r->scan -= r->lo;
        r->hi = keep;
        r->lo = 0;
    }
    if (r->hi == r->cap) {
        size_t cap = r->cap * 2;
        char *nb;
        if (r->cap >= MAX_LINE)
            return rn_error(r->ctx, RN_ELIMIT,
                            "%s: a line longer than %zu MiB", r->url,
                            MAX_LINE >> 20);
        if (cap > MAX_LINE)
            cap = MAX_LINE;
        /* Task memory: the old buffer is only dropped with the task; a
         * rare long line costs at most twice its size. */
        nb = rn_alloc_keep(r->ctx, cap);
        if (!nb)
            return RN_ENOMEM;
        memcpy(nb, r->buf, r->hi);
        r->buf = nb;
        r->cap = cap;
    }
    for (;;) {
        size_t want = r->cap - r->hi;
        /* Past the block end only the rest of one line is needed: read a
         * little at a time instead of a whole buffer of the next block. */
        if (r->tail) {
            if (want > r->tail_chunk)
                want = r->tail_chunk;
            if (r->tail_chunk < ((size_t)1 << 20))
                r->tail_chunk *= 2;
        }
        n = rn_io_read(r->ctx, r->s, r->buf + r->hi, want);
        if (n != 0) {
            if (n > 0) {
                r->hi += (size_t)n;
                rn_add_bytes_read(r->ctx, (uint64_t)n);
            }
            return n;
        }
        if (r->whole || r->tail)
            return 0;
        /* The block is read; its last line goes on after it. */
        rn_io_close(r->ctx, r->s);
        r->s = NULL;
        r->tail = 1;
        r->tail_chunk = 4096;
        if ((rc = rn_io_open(r->ctx, r->url, r->base + r->hi, UINT64_MAX, 0,
                             &r->s)))
            return rc;
    }
}

static int emit_line(reader *r, const char *p, size_t n)
{
    rn_value v = rn_string(p, n);
    if (r->st->include_path) {
        rn_value *items = rn_alloc(r->ctx, 2 * sizeof(*items));
        if (!items)
            return RN_ENOMEM;
        items[0] = v;
        items[1] = rn_string(r->url, r->url_len);
        v = rn_list(items, 2);
    }
    return rn_emit(r->ctx, &v);
}

/* Block splits starting after 0: drop bytes up to and including the first
 * '\n' at offset p in [s - 1, e - 1); a line starting at p + 1 < e is the
 * first of ours. Sets *none when no line starts in the block. */
static int skip_partial(reader *r, int *none)
{
    *none = 0;
    for (;;) {
        /* offsets below end - 1 only; base <= end - 1 always holds */
        uint64_t room = r->end - 1 - r->base;
        size_t lim = room < r->hi ? (size_t)room : r->hi;
        char *q = lim > r->lo ? memchr(r->buf + r->lo, '\n', lim - r->lo)
                              : NULL;
        int64_t n;
        if (q) {
            r->lo = r->scan = (size_t)(q - r->buf) + 1;
            return 0;
        }
        if (lim < r->hi) {
            *none = 1;
            return 0;
        }
        r->lo = r->scan = r->hi;
        n = refill(r);
        if (n <= 0) {
            *none = 1;
            return (int)n;
        }
    }
}

static int read_lines(reader *r)
{
    int rc;
    for (;;) {
        char *q;
        int64_t n;
        if (!r->whole && r->base + r->lo >= r->end)
            return 0; /* the next line is the next block's */
        q = r->hi > r->scan ? memchr(r->buf + r->scan, '\n', r->hi - r->scan)
                            : NULL;
        if (q) {
            size_t len = (size_t)(q - (r->buf + r->lo));
            if (len > 0 && q[-1] == '\r')
                len--;
            if ((rc = emit_line(r, r->buf + r->lo, len)))
                return rc;
            r->lo = r->scan = (size_t)(q - r->buf) + 1;
            continue;
        }
        r->scan = r->hi;
        n = refill(r);
        if (n < 0)
            return (int)n;
        if (n == 0) /* the last line has no newline */
            return r->hi > r->lo ? emit_line(r, r->buf + r->lo,
                                             r->hi - r->lo)
                                 : 0;
    }
}

int rn_textio_read_text_read(void *state, rn_ctx *ctx, const rn_value *split)
{
    const rt_state *st = state;
    rn_tio_split sp;
    reader r;
    uint64_t from;
    int rc, none = 0;

    if ((rc = rn_tio_split_get(ctx, split, &sp)))
        return rc;
    if (!sp.whole && sp.end == sp.start)
        return 0; /* an empty block */
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.st = st;
    r.whole = sp.whole;
    r.end = sp.end;
    r.url = sp.url;
    r.url_len = sp.url_len;

    if (r.whole) {
        r.cap = BUF_MAX;
        rc = rn_tio_open_whole(ctx, sp.url, st->comp, &r.s);
    } else {
        from = sp.start > 0 ? sp.start - 1 : 0;
        r.base = from;
        r.cap = r.end - from + 1 < BUF_MIN   ? BUF_MIN
                : r.end - from + 1 > BUF_MAX ? BUF_MAX
                                             : (size_t)(r.end - from + 1);
        rc = rn_io_open(ctx, sp.url, from, r.end - from, 0, &r.s);
    }
    if (rc)
        goto done;
    r.buf = rn_alloc_keep(ctx, r.cap);
    if (!r.buf) {
        rc = RN_ENOMEM;
        goto done;
    }
    if (!r.whole && sp.start > 0 && ((rc = skip_partial(&r, &none)) || none))
        goto done;
    rc = read_lines(&r);
done:
    if (r.s)
        rn_io_close(ctx, r.s);
    return rc;
}
