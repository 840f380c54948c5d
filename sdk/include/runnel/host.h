/*
 * runnel SDK — services the engine offers to plugins.
 *
 * Every callback receives an rn_ctx. Its only public member is the host
 * function table; the inline wrappers below are how a plugin calls it. A
 * plugin links nothing from the engine: it reaches memory, errors, output,
 * hashing and I/O only through this table, which only grows at its end
 * (check rn_host.size before using a member added after ABI 1.0).
 *
 * Threading: host functions may be called concurrently from different
 * threads, each with its own ctx; one ctx is never used by two threads at
 * once. Streams and writers belong to the ctx that opened them.
 */
#ifndef RUNNEL_HOST_H
#define RUNNEL_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "runnel/plugin.h"
#include "runnel/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RN_PRINTF(a, b)
#endif

typedef enum rn_log_level {
    RN_LOG_ERROR = 0,
    RN_LOG_WARN = 1,
    RN_LOG_INFO = 2,
    RN_LOG_DEBUG = 3
} rn_log_level;

/* One object found by rn_io_list. Strings live in scratch memory. */
typedef struct rn_io_entry {
    const char *url;   /* NUL-terminated, as it must be passed to rn_io_open */
    uint64_t size;     /* bytes; UINT64_MAX when unknown */
    uint32_t compressed; /* 1 when the name says gz/bz2/xz/zst/lz4 */
    uint32_t ranged;   /* 1 when byte ranges can be read */
} rn_io_entry;

typedef struct rn_stream rn_stream; /* an open input */
typedef struct rn_writer rn_writer; /* an output being written aside */

/* rn_io_open flags */
#define RN_IO_DECOMPRESS 0x1u /* decode gz/bz2/xz/zst/lz4 found by name or
                                 magic bytes (whole object only) */

typedef struct rn_host {
    uint32_t size;      /* sizeof(rn_host) of the engine */
    uint32_t abi_minor; /* RN_ABI_MINOR of the engine */

    /* Memory (see rn_op_desc for lifetimes). NULL when out of memory, after
     * the error was recorded. */
    void *(*alloc)(rn_ctx *ctx, size_t n);
    void *(*alloc_keep)(rn_ctx *ctx, size_t n);
    /* Deep-copies `in` (strings, items, fields) into scratch (keep = 0) or
     * task memory (keep = 1). */
    int (*copy)(rn_ctx *ctx, int keep, const rn_value *in, rn_value *out);

    /* Errors and logs. error records the message and returns `code`. */
    int (*error)(rn_ctx *ctx, int code, const char *fmt, va_list ap);
    void (*log)(rn_ctx *ctx, int level, const char *fmt, va_list ap);

    /* Output: hand one value downstream. The value must stay valid until
     * rn_flush (sources) or the callback's return (everyone else). */
    int (*emit)(rn_ctx *ctx, const rn_value *v);
    /* Sources: push what was emitted through the rest of the pipeline now;
     * afterwards buffers those values viewed may be reused and scratch
     * memory is reset. */
    int (*flush)(rn_ctx *ctx);

    /* Values: the engine's stable hash (same on every machine) and total
     * order (null < bool < numbers < string < bytes < list < record; ints
     * and doubles compare by numeric value). */
    uint64_t (*hash)(const rn_value *v);
    int (*compare)(const rn_value *a, const rn_value *b);
    /* Writes v as JSON (one line, no newline) into scratch memory. */
    int (*to_json)(rn_ctx *ctx, const rn_value *v, rn_str *out);

    /* Task facts. */
    uint32_t (*partition_index)(rn_ctx *ctx);
    void (*add_bytes_read)(rn_ctx *ctx, uint64_t n);

    /* I/O through the engine's layer (local files, file://, and the remote
     * back-ends the engine has). list expands a path, URL or glob into
     * objects (sorted by URL); *out is scratch memory. An empty match is
     * RN_ENOTFOUND. */
    int (*io_list)(rn_ctx *ctx, const char *pattern, rn_io_entry **out,
                   size_t *n);
    /* Opens bytes [offset, offset + length) of url (length UINT64_MAX: to
     * the end). With RN_IO_DECOMPRESS, offset must be 0 and the decoded
     * bytes are returned. Close every stream you open. */
    int (*io_open)(rn_ctx *ctx, const char *url, uint64_t offset,
                   uint64_t length, uint32_t flags, rn_stream **out);
    /* Reads up to cap bytes: returns the count, 0 at the end, or a negative
     * rn_err (the error is recorded). */
    int64_t (*io_read)(rn_ctx *ctx, rn_stream *s, void *buf, size_t cap);
    void (*io_close)(rn_ctx *ctx, rn_stream *s);
    /* Creates url for writing, aside (a temporary name) until commit
     * publishes it atomically; compresses when the name ends in .gz, .bz2,
     * .xz, .zst or .lz4. abort (or a failed commit) leaves nothing. */
    int (*io_create)(rn_ctx *ctx, const char *url, rn_writer **out);
    int (*io_write)(rn_ctx *ctx, rn_writer *w, const void *p, size_t n);
    int (*io_commit)(rn_ctx *ctx, rn_writer *w);
    void (*io_abort)(rn_ctx *ctx, rn_writer *w);

    /* ABI 1.2. Parses one JSON text (RFC 8259) into a value in scratch
     * memory: objects become records (keys in document order; a repeated
     * key keeps its first place and its last value), arrays lists,
     * integers that fit int64 ints, other numbers doubles (as strtod
     * rounds them). Refuses (RN_EFORMAT, the error recorded with the
     * byte offset) text outside the grammar, trailing text, invalid
     * UTF-8 in strings, lone surrogates, U+0000 in keys and numbers
     * beyond a double's range; nesting deeper than 64 levels is
     * RN_ELIMIT. flags: RN_JSON_*. text may be NULL when len is 0. */
    int (*from_json)(rn_ctx *ctx, const char *text, size_t len,
                     uint32_t flags, rn_value *out);
} rn_host;

/* rn_from_json flags. */
/* Strings without escapes view `text` instead of being copied: `text`
 * must then live as long as the value (a map's input does: its output
 * may view it). */
#define RN_JSON_VIEW 0x1u
/* An integer beyond int64 makes every integer of the text a double
 * (json_parse's rule); without it only that integer is one. */
#define RN_JSON_DOC_REAL 0x2u

/* The public head of every context. The engine's context extends it.
 *
 * ABI 1.1: where the engine batches a callback's output, it lends the
 * batch's free space here and rn_emit stores into it without a call; when
 * it is full (or emit_cap is 0) rn_emit calls host->emit, which passes the
 * batch on and may lend new space. Engine-owned: a plugin never writes
 * these fields except through rn_emit. */
struct rn_ctx {
    const rn_host *host;
    rn_value *emit_buf;
    uint32_t emit_n;   /* values stored in emit_buf */
    uint32_t emit_cap; /* its capacity (0: always call host->emit) */
};

static inline void *rn_alloc(rn_ctx *ctx, size_t n)
{
    return ctx->host->alloc(ctx, n);
}

static inline void *rn_alloc_keep(rn_ctx *ctx, size_t n)
{
    return ctx->host->alloc_keep(ctx, n);
}

static inline int rn_copy(rn_ctx *ctx, int keep, const rn_value *in,
                          rn_value *out)
{
    return ctx->host->copy(ctx, keep, in, out);
}

static inline int rn_error(rn_ctx *ctx, int code, const char *fmt, ...)
    RN_PRINTF(3, 4);
static inline int rn_error(rn_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = ctx->host->error(ctx, code, fmt, ap);
    va_end(ap);
    return rc;
}

static inline void rn_log(rn_ctx *ctx, int level, const char *fmt, ...)
    RN_PRINTF(3, 4);
static inline void rn_log(rn_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx->host->log(ctx, level, fmt, ap);
    va_end(ap);
}

static inline int rn_emit(rn_ctx *ctx, const rn_value *v)
{
    if (ctx->emit_n < ctx->emit_cap && v->kind <= RN_KIND_MAX) {
        /* field by field: *v was usually just built with narrower stores,
         * and one 16-byte load of it would stall on store forwarding */
        rn_value *d = &ctx->emit_buf[ctx->emit_n++];
        d->kind = v->kind;
        d->len = v->len;
        d->u = v->u;
        return 0;
    }
    return ctx->host->emit(ctx, v);
}

static inline int rn_flush(rn_ctx *ctx)
{
    return ctx->host->flush(ctx);
}

static inline uint64_t rn_hash(rn_ctx *ctx, const rn_value *v)
{
    return ctx->host->hash(v);
}

static inline int rn_compare(rn_ctx *ctx, const rn_value *a,
                             const rn_value *b)
{
    return ctx->host->compare(a, b);
}

static inline int rn_to_json(rn_ctx *ctx, const rn_value *v, rn_str *out)
{
    return ctx->host->to_json(ctx, v, out);
}

static inline uint32_t rn_partition_index(rn_ctx *ctx)
{
    return ctx->host->partition_index(ctx);
}

static inline void rn_add_bytes_read(rn_ctx *ctx, uint64_t n)
{
    ctx->host->add_bytes_read(ctx, n);
}

static inline int rn_io_list(rn_ctx *ctx, const char *pattern,
                             rn_io_entry **out, size_t *n)
{
    return ctx->host->io_list(ctx, pattern, out, n);
}

static inline int rn_io_open(rn_ctx *ctx, const char *url, uint64_t offset,
                             uint64_t length, uint32_t flags, rn_stream **out)
{
    return ctx->host->io_open(ctx, url, offset, length, flags, out);
}

static inline int64_t rn_io_read(rn_ctx *ctx, rn_stream *s, void *buf,
                                 size_t cap)
{
    return ctx->host->io_read(ctx, s, buf, cap);
}

static inline void rn_io_close(rn_ctx *ctx, rn_stream *s)
{
    ctx->host->io_close(ctx, s);
}

static inline int rn_io_create(rn_ctx *ctx, const char *url, rn_writer **out)
{
    return ctx->host->io_create(ctx, url, out);
}

static inline int rn_io_write(rn_ctx *ctx, rn_writer *w, const void *p,
                              size_t n)
{
    return ctx->host->io_write(ctx, w, p, n);
}

static inline int rn_io_commit(rn_ctx *ctx, rn_writer *w)
{
    return ctx->host->io_commit(ctx, w);
}

static inline void rn_io_abort(rn_ctx *ctx, rn_writer *w)
{
    ctx->host->io_abort(ctx, w);
}

/* RN_EABI (recorded) on an engine older than ABI 1.2. */
static inline int rn_from_json(rn_ctx *ctx, const char *text, size_t len,
                               uint32_t flags, rn_value *out)
{
    if (ctx->host->size < offsetof(rn_host, from_json) +
                              sizeof(ctx->host->from_json))
        return rn_error(ctx, RN_EABI,
                        "this runnel has no JSON decoder for plugins "
                        "(ABI 1.2 needed)");
    return ctx->host->from_json(ctx, text, len, flags, out);
}

#ifdef __cplusplus
}
#endif

#endif /* RUNNEL_HOST_H */
