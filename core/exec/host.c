/* The host API table: how plugins reach engine services. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "exec/ctx.h"
#include "io/io.h"
#include "value/jsondec.h"
#include "value/partition.h"
#include "value/value.h"

static atomic_int log_level = RN_LOG_WARN;

void rn_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int rn_log_get_level(void)
{
    return atomic_load(&log_level);
}

static void vlog(int level, const char *label, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    int n;
    if (level > atomic_load(&log_level) || level < 0)
        return;
    n = snprintf(line, sizeof(line), "runnel: %s: %s%s", names[level > 3 ? 3 : level],
                 label ? label : "", label ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void rn_logf(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

#define TC(ctx) ((rn_task_ctx *)(ctx))

static void *h_alloc(rn_ctx *ctx, size_t n)
{
    rn_task_ctx *c = TC(ctx);
    void *p = c->scratch ? rn_arena_alloc_fast(c->scratch, n) : NULL;
    if (!p)
        rn_error_set(c->err, RN_ENOMEM, "out of memory (scratch, %zu bytes)", n);
    return p;
}

static void *h_alloc_keep(rn_ctx *ctx, size_t n)
{
    rn_task_ctx *c = TC(ctx);
    void *p = c->keep ? rn_arena_alloc_fast(c->keep, n) : NULL;
    if (!p)
        rn_error_set(c->err, RN_ENOMEM, "out of memory (task, %zu bytes)", n);
    return p;
}

static int h_copy(rn_ctx *ctx, int keep, const rn_value *in, rn_value *out)
{
    rn_task_ctx *c = TC(ctx);
    rn_arena *a = keep ? c->keep : c->scratch;
    int rc;
    if (!a)
        return rn_error_set(c->err, RN_EINVAL, "no memory for a copy here");
    rc = rn_value_copy(a, in, out);
    if (rc)
        rn_error_set(c->err, rc, "cannot copy value: %s", rn_err_name(rc));
    return rc;
}

static int h_error(rn_ctx *ctx, int code, const char *fmt, va_list ap)
{
    rn_task_ctx *c = TC(ctx);
    if (code >= 0)
        code = RN_EPLUGIN;
    return rn_error_setv(c->err, code, fmt, ap);
}

static void h_log(rn_ctx *ctx, int level, const char *fmt, va_list ap)
{
    vlog(level, TC(ctx)->label, fmt, ap);
}

static int h_emit(rn_ctx *ctx, const rn_value *v)
{
    rn_task_ctx *c = TC(ctx);
    if (!c->emit)
        return rn_error_set(c->err, RN_EPLUGIN,
                            "rn_emit called where this operator cannot emit");
    if (v->kind > RN_KIND_MAX)
        return rn_error_set(c->err, RN_EPLUGIN, "emitted a value of unknown kind %u",
                            v->kind);
    return c->emit(c, v);
}

static int h_flush(rn_ctx *ctx)
{
    rn_task_ctx *c = TC(ctx);
    return c->flush ? c->flush(c) : 0;
}

static uint64_t h_hash(const rn_value *v)
{
    return rn_value_hash(v);
}

static int h_compare(const rn_value *a, const rn_value *b)
{
    return rn_value_compare(a, b);
}

static int h_to_json(rn_ctx *ctx, const rn_value *v, rn_str *out)
{
    rn_task_ctx *c = TC(ctx);
    rn_buf b;
    int rc;
    char *p;
    rn_buf_init(&b, (size_t)1 << 31);
    rc = rn_value_to_json(&b, v);
    if (rc) {
        rn_buf_release(&b);
        return rn_error_set(c->err, rc, "cannot write value as JSON: %s",
                            rn_err_name(rc));
    }
    p = h_alloc(ctx, b.len + 1);
    if (!p) {
        rn_buf_release(&b);
        return RN_ENOMEM;
    }
    memcpy(p, b.ptr ? b.ptr : "", b.len);
    p[b.len] = '\0';
    out->ptr = p;
    out->len = b.len;
    rn_buf_release(&b);
    return 0;
}

static uint32_t h_partition_index(rn_ctx *ctx)
{
    return TC(ctx)->partition;
}

static void h_add_bytes_read(rn_ctx *ctx, uint64_t n)
{
    rn_task_ctx *c = TC(ctx);
    if (c->bytes_read)
        atomic_fetch_add_explicit(c->bytes_read, n, memory_order_relaxed);
}

/* ---- I/O, with tracking of open handles ---------------------------- */

static int track_add(void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        void **na = rn_realloc(*arr, nc * sizeof(void *));
        if (!na)
            return RN_ENOMEM;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static int track_del(void **arr, size_t *n, void *p)
{
    for (size_t i = 0; i < *n; i++)
        if (arr[i] == p) {
            arr[i] = arr[--*n];
            return 1;
        }
    return 0;
}

static int h_io_list(rn_ctx *ctx, const char *pattern, rn_io_entry **out,
                     size_t *n)
{
    rn_task_ctx *c = TC(ctx);
    if (!c->scratch)
        return rn_error_set(c->err, RN_EINVAL, "no memory for a listing here");
    return rn_io_list_urls(c->scratch, pattern, out, n, c->err);
}

static int h_io_open(rn_ctx *ctx, const char *url, uint64_t offset,
                     uint64_t length, uint32_t flags, rn_stream **out)
{
    rn_task_ctx *c = TC(ctx);
    struct rn_stream *s = NULL;
    int rc = rn_io_open_url(url, offset, length, flags, &s, c->err);
    if (rc)
        return rc;
    if (track_add(&c->io.streams, &c->io.n_streams, &c->io.cap_streams, s)) {
        rn_io_stream_close(s);
        return rn_error_set(c->err, RN_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

static int64_t h_io_read(rn_ctx *ctx, rn_stream *s, void *buf, size_t cap)
{
    return rn_io_stream_read(s, buf, cap, TC(ctx)->err);
}

static void h_io_close(rn_ctx *ctx, rn_stream *s)
{
    rn_task_ctx *c = TC(ctx);
    if (s && track_del(c->io.streams, &c->io.n_streams, s))
        rn_io_stream_close(s);
}

static int h_io_create(rn_ctx *ctx, const char *url, rn_writer **out)
{
    rn_task_ctx *c = TC(ctx);
    struct rn_writer *w = NULL;
    int rc = rn_io_create_url(url, &w, c->err);
    if (rc)
        return rc;
    if (track_add(&c->io.writers, &c->io.n_writers, &c->io.cap_writers, w)) {
        rn_io_writer_abort(w);
        return rn_error_set(c->err, RN_ENOMEM, "out of memory");
    }
    *out = w;
    return 0;
}

static int h_io_write(rn_ctx *ctx, rn_writer *w, const void *p, size_t n)
{
    return rn_io_writer_write(w, p, n, TC(ctx)->err);
}

static int h_io_commit(rn_ctx *ctx, rn_writer *w)
{
    rn_task_ctx *c = TC(ctx);
    if (!track_del(c->io.writers, &c->io.n_writers, w))
        return rn_error_set(c->err, RN_EINVAL, "commit of an unknown writer");
    return rn_io_writer_commit(w, c->err);
}

static void h_io_abort(rn_ctx *ctx, rn_writer *w)
{
    rn_task_ctx *c = TC(ctx);
    if (w && track_del(c->io.writers, &c->io.n_writers, w))
        rn_io_writer_abort(w);
}

_Static_assert(RN_JSON_VIEW == RN_JSONDEC_VIEW &&
                   RN_JSON_DOC_REAL == RN_JSONDEC_DOC_REAL,
               "the host's JSON flags are the decoder's");

static int h_from_json(rn_ctx *ctx, const char *text, size_t len,
                       uint32_t flags, rn_value *out)
{
    rn_task_ctx *c = TC(ctx);
    if (!c->scratch)
        return rn_error_set(c->err, RN_EINVAL, "no memory for a value here");
    return rn_jsondec_parse(c->scratch, text, len, flags, out, c->err);
}

const rn_host rn__host = {
    .size = sizeof(rn_host),
    .abi_minor = RN_ABI_MINOR,
    .alloc = h_alloc,
    .alloc_keep = h_alloc_keep,
    .copy = h_copy,
    .error = h_error,
    .log = h_log,
    .emit = h_emit,
    .flush = h_flush,
    .hash = h_hash,
    .compare = h_compare,
    .to_json = h_to_json,
    .partition_index = h_partition_index,
    .add_bytes_read = h_add_bytes_read,
    .io_list = h_io_list,
    .io_open = h_io_open,
    .io_read = h_io_read,
    .io_close = h_io_close,
    .io_create = h_io_create,
    .io_write = h_io_write,
    .io_commit = h_io_commit,
    .io_abort = h_io_abort,
    .from_json = h_from_json,
};

void rn_task_ctx_init(rn_task_ctx *c, rn_arena *scratch, rn_arena *keep,
                      rn_errbuf *err)
{
    memset(c, 0, sizeof(*c));
    c->pub.host = &rn__host;
    c->scratch = scratch;
    c->keep = keep;
    c->err = err;
}

void rn_task_ctx_release(rn_task_ctx *c)
{
    for (size_t i = 0; i < c->io.n_streams; i++)
        rn_io_stream_close(c->io.streams[i]);
    for (size_t i = 0; i < c->io.n_writers; i++)
        rn_io_writer_abort(c->io.writers[i]);
    rn_free(c->io.streams);
    rn_free(c->io.writers);
    memset(&c->io, 0, sizeof(c->io));
}

int rn__emit_to_partition(rn_task_ctx *ctx, const rn_value *v)
{
    int rc = rn_partition_push((rn_partition *)ctx->target, v);
    if (rc)
        return rn_error_set(ctx->err, rc, "cannot store value: %s",
                            rn_err_name(rc));
    return 0;
}
