/*
 * Task contexts: the engine's side of rn_ctx. Every plugin callback gets
 * one; it says where emitted values go, which arenas back rn_alloc and
 * rn_alloc_keep, where errors are recorded, and which I/O handles the
 * callback opened (closed by the engine if the plugin forgets, or fails).
 *
 * A context is used by one thread at a time.
 */
#ifndef RN_CORE_CTX_H
#define RN_CORE_CTX_H

#include <stdatomic.h>
#include <stdint.h>

#include <runnel/host.h>

#include "base/arena.h"
#include "base/error.h"

typedef struct rn_task_ctx rn_task_ctx;
typedef int (*rn_emit_fn)(rn_task_ctx *c, const rn_value *v);
typedef int (*rn_flush_fn)(rn_task_ctx *c);

/* I/O handles opened through a context, closed at rn_task_ctx_release. */
typedef struct rn_io_track {
    void **streams;
    size_t n_streams, cap_streams;
    void **writers;
    size_t n_writers, cap_writers;
} rn_io_track;

struct rn_task_ctx {
    rn_ctx pub;           /* must be first: plugins see only this */
    rn_emit_fn emit;      /* where rn_emit goes (NULL: emitting is an error) */
    rn_flush_fn flush;    /* rn_flush (NULL: no-op) */
    void *target;         /* the emit/flush functions' object */
    rn_arena *scratch;    /* rn_alloc */
    rn_arena *keep;       /* rn_alloc_keep */
    rn_errbuf *err;       /* plugin errors land here */
    uint32_t partition;   /* rn_partition_index */
    atomic_uint_fast64_t *bytes_read; /* progress counter, may be NULL */
    const char *label;    /* "plugin.op" for logs */
    rn_io_track io;
    uint64_t key_hash;    /* rn_acc_finish: the hash of the key emitting */
};

/* The host function table given to every plugin. */
extern const rn_host rn__host;

/* Sets up c with the given arenas and error buffer; everything else zero. */
void rn_task_ctx_init(rn_task_ctx *c, rn_arena *scratch, rn_arena *keep,
                      rn_errbuf *err);
/* Closes streams and aborts writers the plugin left open. */
void rn_task_ctx_release(rn_task_ctx *c);

/* An emit function that deep-copies into the partition in ctx->target. */
int rn__emit_to_partition(rn_task_ctx *ctx, const rn_value *v);

/* Log level threshold for plugin and engine logs (default WARN), and the
 * engine's own logger (stderr). */
void rn_log_set_level(int level);
int rn_log_get_level(void);
void rn_logf(int level, const char *fmt, ...) RN_FMT(2, 3);

#endif
