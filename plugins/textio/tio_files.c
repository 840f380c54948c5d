/*
 * Files in and out for the text-format plugins (tio_files.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tio_files.h"

#define SNIFF_BYTES 8
#define OUT_BUF ((size_t)256 << 10)

/* Codec names as in the compression parameter; index = codec number. */
static const char *const codec_names[] = {"none", "gzip", "bz2", "xz",
                                          "zstd", "lz4"};
#define N_CODECS ((int)(sizeof(codec_names) / sizeof(codec_names[0])))

const char *const rn_tio_compression_choices[] = {
    "infer", "none", "gzip", "bz2", "xz", "zstd", "lz4", NULL};

int rn_tio_comp_parse(rn_str s)
{
    for (int c = 0; c < N_CODECS; c++)
        if (rn_str_eq(s, codec_names[c]))
            return c;
    return RN_TIO_COMP_INFER;
}

int rn_tio_urls_check(rn_ctx *ctx, const rn_value *urls)
{
    if (!urls || urls->kind != RN_LIST || urls->len == 0)
        return rn_error(ctx, RN_EINVAL, "urls: give at least one path");
    for (uint32_t i = 0; i < urls->len; i++) {
        const rn_value *u = &urls->u.items[i];
        if (u->kind != RN_STRING || u->len == 0 ||
            memchr(u->u.s, '\0', u->len))
            return rn_error(ctx, RN_EINVAL,
                            "urls[%u]: expected a non-empty string", i);
    }
    return 0;
}

/* The codec the first bytes announce (the same magic numbers as the
 * engine's), RN_TIO_COMP_NONE if none. */
static int codec_from_magic(const unsigned char *b, size_t n)
{
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return 1;
    if (n >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' &&
        b[3] <= '9')
        return 2;
    if (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
        return 3;
    if (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0)
        return 4;
    if (n >= 4 && (memcmp(b, "\x04\x22\x4d\x18", 4) == 0 ||
                   memcmp(b, "\x02\x21\x4c\x18", 4) == 0))
        return 5;
    return RN_TIO_COMP_NONE;
}

static int sniff(rn_ctx *ctx, const char *url, int *codec)
{
    unsigned char b[SNIFF_BYTES];
    size_t have = 0;
    rn_stream *s = NULL;
    int rc = rn_io_open(ctx, url, 0, sizeof(b), 0, &s);
    while (rc == 0 && have < sizeof(b)) {
        int64_t n = rn_io_read(ctx, s, b + have, sizeof(b) - have);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            break;
        else
            have += (size_t)n;
    }
    if (s)
        rn_io_close(ctx, s);
    *codec = codec_from_magic(b, have);
    return rc;
}

int rn_tio_emit_split(rn_ctx *ctx, const char *url, uint64_t start,
                      uint64_t end, int whole)
{
    rn_field *f = rn_alloc(ctx, 4 * sizeof(*f));
    rn_value v;
    if (!f)
        return RN_ENOMEM;
    f[0].name = (rn_str){"url", 3};
    f[0].value = rn_string(url, strlen(url));
    f[1].name = (rn_str){"start", 5};
    f[1].value = rn_int((int64_t)start);
    f[2].name = (rn_str){"end", 3};
    f[2].value = rn_int((int64_t)end);
    f[3].name = (rn_str){"whole", 5};
    f[3].value = rn_bool(whole);
    v = rn_record(f, 4);
    return rn_emit(ctx, &v);
}

static int plan_entry(rn_ctx *ctx, int comp, const rn_io_entry *e,
                      rn_tio_entry_fn fn, void *arg)
{
    int whole = !e->ranged || e->size == UINT64_MAX || e->size == 0;
    int rc;

    if (!whole && comp != RN_TIO_COMP_NONE) {
        int magic = RN_TIO_COMP_NONE;
        whole = e->compressed || comp != RN_TIO_COMP_INFER;
        if (!e->compressed || comp != RN_TIO_COMP_INFER) {
            if ((rc = sniff(ctx, e->url, &magic)))
                return rc;
            if (magic != RN_TIO_COMP_NONE)
                whole = 1;
        }
        if (comp > RN_TIO_COMP_NONE && magic != comp)
            return rn_error(ctx, RN_EFORMAT,
                            "%s: compression is '%s' but the data does not "
                            "start like %s",
                            e->url, codec_names[comp], codec_names[comp]);
    }
    return fn(arg, ctx, e, whole);
}

int rn_tio_plan(rn_ctx *ctx, const rn_value *urls, int comp,
                rn_tio_entry_fn fn, void *arg)
{
    int rc;

    for (uint32_t i = 0; i < urls->len; i++) {
        const rn_value *u = &urls->u.items[i];
        char *pattern = rn_alloc(ctx, (size_t)u->len + 1);
        rn_io_entry *ents;
        size_t n;
        if (!pattern)
            return RN_ENOMEM;
        memcpy(pattern, u->u.s, u->len);
        pattern[u->len] = '\0';
        if ((rc = rn_io_list(ctx, pattern, &ents, &n)))
            return rc;
        for (size_t k = 0; k < n; k++)
            if ((rc = plan_entry(ctx, comp, &ents[k], fn, arg)))
                return rc;
    }
    return 0;
}

int rn_tio_emit_blocks(rn_ctx *ctx, const rn_io_entry *e, int whole,
                       uint64_t blocksize)
{
    int rc;
    if (whole)
        return rn_tio_emit_split(ctx, e->url, 0,
                                 e->size == UINT64_MAX ? 0 : e->size, 1);
    for (uint64_t s = 0; s < e->size; s += blocksize) {
        uint64_t end = e->size - s > blocksize ? s + blocksize : e->size;
        if ((rc = rn_tio_emit_split(ctx, e->url, s, end, 0)))
            return rc;
    }
    return 0;
}

int rn_tio_split_get(rn_ctx *ctx, const rn_value *split, rn_tio_split *out)
{
    const rn_value *u = rn_record_get(split, "url");
    const rn_value *s = rn_record_get(split, "start");
    const rn_value *e = rn_record_get(split, "end");
    const rn_value *w = rn_record_get(split, "whole");
    char *url;

    if (!u || u->kind != RN_STRING || u->len == 0 ||
        memchr(u->u.s, '\0', u->len) || !s || s->kind != RN_INT || !e ||
        e->kind != RN_INT || !w || w->kind != RN_BOOL || s->u.i < 0 ||
        (!w->u.i && e->u.i < s->u.i))
        return rn_error(ctx, RN_EINVAL,
                        "malformed split: expected {url, start, end, whole}");
    if (!(url = rn_alloc_keep(ctx, (size_t)u->len + 1)))
        return RN_ENOMEM;
    memcpy(url, u->u.s, u->len);
    url[u->len] = '\0';
    out->url = url;
    out->url_len = u->len;
    out->start = (uint64_t)s->u.i;
    out->end = (uint64_t)e->u.i;
    out->whole = (int)w->u.i;
    return 0;
}

int rn_tio_open_whole(rn_ctx *ctx, const char *url, int comp,
                      rn_stream **out)
{
    return rn_io_open(ctx, url, 0, UINT64_MAX,
                      comp == RN_TIO_COMP_NONE ? 0 : RN_IO_DECOMPRESS, out);
}

/* ---- sinks ------------------------------------------------------------ */

struct rn_tio_out {
    rn_writer *w;
    char *path;
    size_t path_len;
    char *buf; /* bytes gathered here: one host call per OUT_BUF */
    size_t len;
};

int rn_tio_path_copy(rn_ctx *ctx, const rn_value *params, char **out)
{
    rn_str p = rn_param_str(params, "path", NULL);
    char *path;
    *out = NULL;
    if (!p.ptr || p.len == 0 || memchr(p.ptr, '\0', p.len))
        return rn_error(ctx, RN_EINVAL, "path: expected a non-empty string");
    if (!(path = malloc(p.len + 1)))
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    memcpy(path, p.ptr, p.len);
    path[p.len] = '\0';
    *out = path;
    return 0;
}

/* The path for partition `part`, in task memory. */
static char *part_path(rn_ctx *ctx, const char *tmpl, const char *suffix,
                       uint32_t part, size_t *len)
{
    char num[16];
    size_t nlen = (size_t)snprintf(num, sizeof(num), "%u", part);
    size_t stars = 0, tl = strlen(tmpl), sl = strlen(suffix), n;
    char *out, *o;

    for (const char *c = tmpl; *c; c++)
        stars += *c == '*';
    if (stars == 0) {
        /* a directory: <dir>/<n><suffix> */
        while (tl > 1 && tmpl[tl - 1] == '/')
            tl--;
        n = tl + 1 + nlen + sl;
    } else {
        n = tl - stars + stars * nlen;
    }
    out = rn_alloc_keep(ctx, n + 1);
    if (!out)
        return NULL;
    o = out;
    if (stars == 0) {
        memcpy(o, tmpl, tl);
        o += tl;
        *o++ = '/';
        memcpy(o, num, nlen);
        o += nlen;
        memcpy(o, suffix, sl);
        o += sl;
    } else {
        for (const char *c = tmpl; *c; c++) {
            if (*c == '*') {
                memcpy(o, num, nlen);
                o += nlen;
            } else {
                *o++ = *c;
            }
        }
    }
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

int rn_tio_out_open(rn_ctx *ctx, const char *tmpl, const char *dir_suffix,
                    rn_tio_out **out)
{
    rn_tio_out *t = rn_alloc_keep(ctx, sizeof(*t));
    int rc;

    *out = NULL;
    if (!t)
        return RN_ENOMEM;
    memset(t, 0, sizeof(*t));
    t->path = part_path(ctx, tmpl, dir_suffix, rn_partition_index(ctx),
                        &t->path_len);
    t->buf = rn_alloc_keep(ctx, OUT_BUF);
    if (!t->path || !t->buf)
        return RN_ENOMEM;
    if ((rc = rn_io_create(ctx, t->path, &t->w)))
        return rc;
    *out = t;
    return 0;
}

static int out_flush(rn_ctx *ctx, rn_tio_out *t)
{
    int rc = 0;
    if (t->len)
        rc = rn_io_write(ctx, t->w, t->buf, t->len);
    t->len = 0;
    return rc;
}

int rn_tio_out_put(rn_ctx *ctx, rn_tio_out *t, const void *p, size_t n)
{
    int rc;
    if (n > OUT_BUF - t->len) {
        if ((rc = out_flush(ctx, t)))
            return rc;
        if (n >= OUT_BUF)
            return rn_io_write(ctx, t->w, p, n);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    return 0;
}

int rn_tio_out_commit(rn_ctx *ctx, rn_tio_out *t)
{
    rn_writer *wr = t->w;
    rn_value v;
    int rc = out_flush(ctx, t);

    /* Commit frees the writer, published or not: forget it before, so a
     * later abort cannot touch it twice. */
    t->w = NULL;
    if (rc) {
        rn_io_abort(ctx, wr);
        return rc;
    }
    if ((rc = rn_io_commit(ctx, wr)))
        return rc;
    v = rn_string(t->path, t->path_len);
    return rn_emit(ctx, &v);
}

void rn_tio_out_abort(rn_ctx *ctx, rn_tio_out *t)
{
    if (t && t->w) {
        rn_io_abort(ctx, t->w);
        t->w = NULL;
    }
}
