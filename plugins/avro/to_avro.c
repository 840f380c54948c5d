/*
 * to_avro: one Avro object container file per partition (Dask's
 * bag.to_avro). Every '*' in `path` becomes the partition number; a path
 * without '*' is a directory, written as <path>/<n>.avro. The file is
 * written aside and published on commit by the host's I/O layer, so a
 * failed or retried task never leaves a partial file. Commit emits the
 * path written.
 *
 * `schema` is the writer schema, inline JSON (it starts with '{', '[' or
 * '"') or the path or URL of a .avsc file. Values are encoded as
 * rn_avro_encode says; one that does not fit fails the task naming the
 * field. Blocks are closed at `block_size` bytes (before compression).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_block.h"
#include "avro_plugin.h"

#define MAX_SCHEMA ((size_t)4 << 20)

static const char *const codec_choices[] = {
    "null", "deflate", "snappy", "xz", "lzma", "bzip2", NULL};

const rn_param_spec rn_avro_to_avro_params[4] = {
    {.name = "path",
     .type = RN_PT_STRING,
     .flags = RN_PF_REQUIRED,
     .help = "file to write per partition, '*' replaced by the partition "
             "number (out/part-*.avro); without '*', a directory"},
    {.name = "schema",
     .type = RN_PT_STRING,
     .flags = RN_PF_REQUIRED,
     .help = "the writer schema: inline JSON, or the path of an .avsc file"},
    {.name = "codec",
     .type = RN_PT_STRING,
     .def = "deflate",
     .choices = codec_choices,
     .help = "block compression (lzma is avro-c's raw LZMA2; other "
             "implementations read xz)"},
    {.name = "block_size",
     .type = RN_PT_SIZE,
     .def = "64KiB",
     .min = 1,
     .max = 268435456.0,
     .help = "bytes of encoded records per block (before compression)"},
};

typedef struct ta_state {
    char *path;
    char *schema_json;
    size_t schema_len;
    rn_avro_schema *schema;
    int codec;
    size_t block_size;
} ta_state;

typedef struct ta_out {
    rn_writer *w;
    char *path;
    size_t path_len;
    uint8_t sync[RN_AVRO_SYNC_LEN];
    rn_avro_buf block; /* encoded records of the open block */
    rn_avro_buf z;     /* the block compressed; the header at first */
    int64_t count;     /* records in the open block */
    int64_t written;   /* records so far */
    char err[512];
} ta_out;

void rn_avro_to_avro_destroy(void *state)
{
    ta_state *st = state;
    if (!st)
        return;
    free(st->path);
    free(st->schema_json);
    rn_avro_schema_free(st->schema);
    free(st);
}

/* Reads a schema file through the host (local or remote). */
static int read_schema_file(rn_ctx *ctx, const char *url, ta_state *st)
{
    rn_stream *s = NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc;

    if (!buf)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    if ((rc = rn_io_open(ctx, url, 0, UINT64_MAX, 0, &s)))
        goto done;
    for (;;) {
        int64_t n;
        if (len == cap) {
            char *nb;
            if (cap >= MAX_SCHEMA) {
                rc = rn_error(ctx, RN_ELIMIT,
                              "schema: %s is larger than %zu MiB", url,
                              MAX_SCHEMA >> 20);
                goto done;
            }
            if (!(nb = realloc(buf, cap * 2))) {
                rc = rn_error(ctx, RN_ENOMEM, "out of memory");
                goto done;
            }
            buf = nb;
            cap *= 2;
        }
        n = rn_io_read(ctx, s, buf + len, cap - len);
        if (n < 0) {
            rc = (int)n;
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    st->schema_json = buf;
    st->schema_len = len;
    buf = NULL;
done:
    if (s)
        rn_io_close(ctx, s);
    free(buf);
    return rc;
}

int rn_avro_to_avro_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    rn_str p = rn_param_str(params, "path", NULL);
    rn_str sc = rn_param_str(params, "schema", NULL);
    rn_str codec = rn_param_str(params, "codec", "deflate");
    ta_state *st = NULL;
    char err[512];
    size_t i = 0;
    int rc;

    if (!p.ptr || p.len == 0 || memchr(p.ptr, '\0', p.len))
        return rn_error(ctx, RN_EINVAL, "path: expected a non-empty string");
    if (!sc.ptr || sc.len == 0 || memchr(sc.ptr, '\0', sc.len))
        return rn_error(ctx, RN_EINVAL,
                        "schema: expected JSON or the path of a schema");
    if (!(st = calloc(1, sizeof(*st))) || !(st->path = malloc(p.len + 1))) {
        rc = rn_error(ctx, RN_ENOMEM, "out of memory");
        goto fail;
    }
    memcpy(st->path, p.ptr, p.len);
    st->path[p.len] = '\0';
    st->codec = rn_avro_codec_from_name(codec.ptr, codec.len);
    if (st->codec < 0) {
        rc = rn_error(ctx, RN_EINVAL, "codec: '%.*s' is not built in",
                      (int)codec.len, codec.ptr);
        goto fail;
    }
    st->block_size = (size_t)rn_param_int(params, "block_size", 64 << 10);
    while (i < sc.len && (sc.ptr[i] == ' ' || sc.ptr[i] == '\n' ||
                          sc.ptr[i] == '\t' || sc.ptr[i] == '\r'))
        i++;
    if (i < sc.len && (sc.ptr[i] == '{' || sc.ptr[i] == '[' ||
                       sc.ptr[i] == '"')) {
        if (!(st->schema_json = malloc(sc.len))) {
            rc = rn_error(ctx, RN_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(st->schema_json, sc.ptr, sc.len);
        st->schema_len = sc.len;
    } else {
        char *url = malloc(sc.len + 1);
        if (!url) {
            rc = rn_error(ctx, RN_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(url, sc.ptr, sc.len);
        url[sc.len] = '\0';
        rc = read_schema_file(ctx, url, st);
        free(url);
        if (rc)
            goto fail;
    }
    if ((rc = rn_avro_schema_parse(st->schema_json, st->schema_len,
                                   &st->schema, err, sizeof(err)))) {
        rc = rn_error(ctx, RN_EINVAL, "%s", err);
        goto fail;
    }
    *state = st;
    return 0;
fail:
    rn_avro_to_avro_destroy(st);
    return rc;
}

/* The path for partition `part`, in task memory. */
static char *part_path(rn_ctx *ctx, const char *tmpl, uint32_t part,
                       size_t *len)
{
    char num[16];
    size_t nlen = (size_t)snprintf(num, sizeof(num), "%u", part);
    size_t stars = 0, tl = strlen(tmpl), n;
    char *out, *o;

    for (const char *c = tmpl; *c; c++)
        stars += *c == '*';
    if (stars == 0) {
        while (tl > 1 && tmpl[tl - 1] == '/')
            tl--;
        n = tl + 1 + nlen + 5;
    } else {
        n = tl - stars + stars * nlen;
    }
    if (!(out = rn_alloc_keep(ctx, n + 1)))
        return NULL;
    o = out;
    if (stars == 0) {
        memcpy(o, tmpl, tl);
        o += tl;
        *o++ = '/';
        memcpy(o, num, nlen);
        o += nlen;
        memcpy(o, ".avro", 5);
        o += 5;
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

/* A sync marker unlikely to occur in the data: splitmix64 over the time,
 * the partition and an address (no I/O needed). */
static void make_sync(uint8_t sync[RN_AVRO_SYNC_LEN], uint32_t part,
                      const void *addr)
{
    struct timespec ts;
    uint64_t x;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        ts.tv_sec = ts.tv_nsec = 0;
    x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
        (uint64_t)part << 40 ^ (uint64_t)(uintptr_t)addr;
    for (int i = 0; i < RN_AVRO_SYNC_LEN; i++) {
        uint64_t z;
        if (i % 8 == 0) {
            x += 0x9e3779b97f4a7c15ull;
            z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            memcpy(sync + i, &z, 8);
        }
    }
}

static void out_free(ta_out *t)
{
    rn_avro_buf_release(&t->block);
    rn_avro_buf_release(&t->z);
}

int rn_avro_to_avro_open(void *state, rn_ctx *ctx, void **w)
{
    const ta_state *st = state;
    ta_out *t = rn_alloc_keep(ctx, sizeof(*t));
    uint32_t part = rn_partition_index(ctx);
    int rc;

    *w = NULL;
    if (!t)
        return RN_ENOMEM;
    memset(t, 0, sizeof(*t));
    if (!(t->path = part_path(ctx, st->path, part, &t->path_len)))
        return RN_ENOMEM;
    make_sync(t->sync, part, t);
    if ((rc = rn_avro_header_write(&t->z, st->schema_json, st->schema_len,
                                   st->codec, t->sync))) {
        out_free(t);
        return rn_error(ctx, rc, "%s: writing the header failed", t->path);
    }
    if ((rc = rn_io_create(ctx, t->path, &t->w))) {
        out_free(t);
        return rc;
    }
    *w = t;
    rc = rn_io_write(ctx, t->w, t->z.p, t->z.len);
    t->z.len = 0;
    return rc;
}

static int write_block(const ta_state *st, rn_ctx *ctx, ta_out *t)
{
    rn_avro_buf head = {NULL, 0, 0};
    int rc;
    if (t->count == 0)
        return 0;
    if ((rc = rn_avro_block_compress(st->codec, t->block.p, t->block.len,
                                     &t->z, t->err, sizeof(t->err))))
        return rn_error(ctx, rc, "%s: %s", t->path, t->err);
    if ((rc = rn_avro_put_long(&head, t->count)) ||
        (rc = rn_avro_put_long(&head, (int64_t)t->z.len))) {
        rn_avro_buf_release(&head);
        return rn_error(ctx, rc, "out of memory");
    }
    rc = rn_io_write(ctx, t->w, head.p, head.len);
    rn_avro_buf_release(&head);
    if (rc || (rc = rn_io_write(ctx, t->w, t->z.p, t->z.len)) ||
        (rc = rn_io_write(ctx, t->w, t->sync, RN_AVRO_SYNC_LEN)))
        return rc;
    t->block.len = 0;
    t->count = 0;
    return 0;
}

int rn_avro_to_avro_write(void *state, rn_ctx *ctx, void *w,
                          const rn_value *v)
{
    const ta_state *st = state;
    ta_out *t = w;
    int rc = rn_avro_encode(st->schema, v, &t->block, t->err,
                            sizeof(t->err));
    if (rc)
        return rn_error(ctx, rc, "%s: value %lld: %s", t->path,
                        (long long)t->written, t->err);
    t->count++;
    t->written++;
    if (t->block.len >= st->block_size)
        return write_block(st, ctx, t);
    return 0;
}

int rn_avro_to_avro_commit(void *state, rn_ctx *ctx, void *w)
{
    ta_out *t = w;
    rn_writer *wr = t->w;
    rn_value v;
    int rc = write_block(state, ctx, t);

    out_free(t);
    /* Commit frees the writer, published or not: forget it first. */
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

void rn_avro_to_avro_abort(void *state, rn_ctx *ctx, void *w)
{
    ta_out *t = w;
    (void)state;
    if (!t)
        return;
    out_free(t);
    if (t->w) {
        rn_io_abort(ctx, t->w);
        t->w = NULL;
    }
}
