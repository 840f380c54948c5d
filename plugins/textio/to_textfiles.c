/*
 * to_textfiles: one file per partition, one line per value (Dask's
 * bag.to_textfiles). Strings are written as they are, everything else as
 * one line of JSON. Every '*' in `path` becomes the partition number; a
 * path without '*' is a directory, written as <path>/<n>.part (as Dask
 * does). The file is compressed when its name ends in .gz, .bz2, .xz, .zst
 * or .lz4, written aside and published on commit by the host's I/O layer,
 * so a failed or retried task never leaves a partial file. Commit emits the
 * path written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textio.h"

#define OUT_BUF ((size_t)256 << 10)

const rn_param_spec rn_textio_to_textfiles_params[1] = {
    {.name = "path",
     .type = RN_PT_STRING,
     .flags = RN_PF_REQUIRED,
     .help = "file to write per partition, '*' replaced by the partition "
             "number (out/part-*.txt.gz); without '*', a directory"},
};

typedef struct tt_state {
    char *path; /* NUL-terminated copy */
} tt_state;

typedef struct tt_out {
    rn_writer *w;
    char *path;
    size_t path_len;
    char *buf; /* lines are gathered here: one host call per OUT_BUF */
    size_t len;
} tt_out;

int rn_textio_to_textfiles_init(rn_ctx *ctx, const rn_value *params,
                                void **state)
{
    rn_str p = rn_param_str(params, "path", NULL);
    tt_state *st;
    if (!p.ptr || p.len == 0 || memchr(p.ptr, '\0', p.len))
        return rn_error(ctx, RN_EINVAL, "path: expected a non-empty string");
    st = calloc(1, sizeof(*st));
    if (!st || !(st->path = malloc(p.len + 1))) {
        free(st);
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    }
    memcpy(st->path, p.ptr, p.len);
    st->path[p.len] = '\0';
    *state = st;
    return 0;
}

void rn_textio_to_textfiles_destroy(void *state)
{
    tt_state *st = state;
    if (!st)
        return;
    free(st->path);
    free(st);
}

/* The path for partition `part`, in task memory. */
static char *part_path(rn_ctx *ctx, const char *tmpl, uint32_t part,
                       size_t *len)
{
    char num[16];
    size_t nlen = (size_t)snprintf(num, sizeof(num), "%u", part);
    size_t stars = 0, tl = strlen(tmpl), n;
    const char *suffix = "";
    char *out, *o;

    for (const char *c = tmpl; *c; c++)
        stars += *c == '*';
    if (stars == 0) {
        /* a directory: <dir>/<n>.part */
        while (tl > 1 && tmpl[tl - 1] == '/')
            tl--;
        suffix = ".part";
        n = tl + 1 + nlen + strlen(suffix);
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
        memcpy(o, suffix, strlen(suffix));
        o += strlen(suffix);
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

int rn_textio_to_textfiles_open(void *state, rn_ctx *ctx, void **w)
{
    const tt_state *st = state;
    tt_out *t = rn_alloc_keep(ctx, sizeof(*t));
    int rc;

    *w = NULL;
    if (!t)
        return RN_ENOMEM;
    memset(t, 0, sizeof(*t));
    t->path = part_path(ctx, st->path, rn_partition_index(ctx), &t->path_len);
    t->buf = rn_alloc_keep(ctx, OUT_BUF);
    if (!t->path || !t->buf)
        return RN_ENOMEM;
    if ((rc = rn_io_create(ctx, t->path, &t->w)))
        return rc;
    *w = t;
    return 0;
}

static int out_flush(rn_ctx *ctx, tt_out *t)
{
    int rc = 0;
    if (t->len)
        rc = rn_io_write(ctx, t->w, t->buf, t->len);
    t->len = 0;
    return rc;
}

static int out_put(rn_ctx *ctx, tt_out *t, const char *p, size_t n)
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

int rn_textio_to_textfiles_write(void *state, rn_ctx *ctx, void *w,
                                 const rn_value *v)
{
    tt_out *t = w;
    rn_str s;
    int rc;

    if (v->kind == RN_STRING) {
        s = rn_value_str(v);
    } else if ((rc = rn_to_json(ctx, v, &s))) {
        return rc;
    }
    if ((rc = out_put(ctx, t, s.ptr, s.len)))
        return rc;
    return out_put(ctx, t, "\n", 1);
}

int rn_textio_to_textfiles_commit(void *state, rn_ctx *ctx, void *w)
{
    tt_out *t = w;
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

void rn_textio_to_textfiles_abort(void *state, rn_ctx *ctx, void *w)
{
    tt_out *t = w;
    if (t && t->w) {
        rn_io_abort(ctx, t->w);
        t->w = NULL;
    }
}
