#include "exec/chain.h"

#include <string.h>

#include "base/alloc.h"
#include "value/value.h"

enum { TERM_COLLECT, TERM_FOLD, TERM_SINK };

/* The output batches of a chain's operators take at most this much
 * together: a chain of thousands of steps gets smaller batches (down to
 * CHAIN_MIN_BATCH values) instead of 8 KiB per step and per task. */
#define CHAIN_BUF_BYTES ((size_t)2 << 20)
#define CHAIN_MIN_BATCH 16

typedef struct rn_node {
    rn_chain *chain;
    int idx;                  /* -1: the input feeder (source) */
    const rn_opinst *oi;      /* NULL for the feeder */
    rn_task_ctx ctx;
    rn_value *buf;            /* lent to ctx.pub: emit_buf, emit_n, _cap */
    rn_arena scratch;
    rn_partition *collect;    /* PARTITION operators: their whole input */
} rn_node;

struct rn_chain {
    const rn_stage *stage;
    rn_node feeder;
    rn_node *nodes;
    size_t n_nodes;
    rn_value *bufs; /* every node's batch, one allocation */
    int term;
    const rn_opinst *toi;
    rn_task_ctx tctx;
    rn_arena tscratch;
    rn_arena task;  /* rn_alloc_keep of every operator but the fold */
    rn_partition *out;
    rn_acc *acc;
    void *sink_w;
    int sink_open;
    rn_errbuf *err;
    uint32_t partition;
    atomic_bool *cancel;
    int failed; /* the error is recorded and attributed already */
};

/* Records the failure of a callback of `oi`, naming operator and
 * partition; returns a negative code. */
static int fail(rn_chain *c, const rn_opinst *oi, int rc, const char *what)
{
    if (rc > 0)
        rc = RN_EPLUGIN;
    if (c->failed) /* a downstream operator failed inside this callback */
        return c->err->code ? c->err->code : rc;
    c->failed = 1;
    if (c->err->code == 0 || c->err->msg[0] == '\0')
        rn_error_set(c->err, rc, "%s failed (%s) without a message", what,
                     rn_err_name(rc));
    /* where the manifest wrote the step, then which partition */
    if (oi->pos.line)
        rn_error_prefix(c->err, "%s:%u:%u: %s (partition %u): ",
                        oi->pos.file ? oi->pos.file : "<manifest>",
                        oi->pos.line, oi->pos.col, oi->label, c->partition);
    else
        rn_error_prefix(c->err, "%s (partition %u): ", oi->label, c->partition);
    return rc;
}

static int deliver(rn_chain *c, size_t i, const rn_value *vals, size_t n);

static int flush_node(rn_node *nd)
{
    size_t n = nd->ctx.pub.emit_n;
    if (!n)
        return 0;
    nd->ctx.pub.emit_n = 0;
    return deliver(nd->chain, (size_t)(nd->idx + 1), nd->buf, n);
}

static int node_emit(rn_task_ctx *ctx, const rn_value *v)
{
    rn_node *nd = ctx->target;
    if (nd->ctx.pub.emit_n == nd->ctx.pub.emit_cap) {
        int rc = flush_node(nd);
        if (rc)
            return rc;
    }
    /* Field by field: the emitter usually just built *v on its stack with
     * narrower stores, and one 16-byte load of it would stall on store
     * forwarding. */
    rn_value *d = &nd->buf[nd->ctx.pub.emit_n++];
    d->kind = v->kind;
    d->len = v->len;
    d->u = v->u;
    return 0;
}

/* rn_flush from a source: push everything downstream, then its scratch
 * memory may go. */
static int feeder_flush(rn_task_ctx *ctx)
{
    rn_node *nd = ctx->target;
    int rc = flush_node(nd);
    rn_arena_reset(&nd->scratch);
    return rc;
}

static int terminal(rn_chain *c, const rn_value *vals, size_t n)
{
    int rc = 0;
    switch (c->term) {
    case TERM_COLLECT:
        for (size_t k = 0; k < n; k++)
            if ((rc = rn_partition_push(c->out, &vals[k]))) {
                c->failed = 1;
                return rn_error_set(c->err, rc,
                                    "partition %u: cannot store value: %s",
                                    c->partition, rn_err_name(rc));
            }
        return 0;
    case TERM_FOLD:
        rc = rn_acc_step(c->acc, &c->tctx, vals, n);
        rn_arena_reset(&c->tscratch);
        return rc ? fail(c, c->toi, rc, "fold") : 0;
    default: {
        const rn_op_desc *op = c->toi->op;
        for (size_t k = 0; k < n; k++)
            if ((rc = op->sink_write(c->toi->state, &c->tctx.pub, c->sink_w,
                                     &vals[k])))
                return fail(c, c->toi, rc, "sink_write");
        rn_arena_reset(&c->tscratch);
        return 0;
    }
    }
}

/* Pushes vals through operators i.. down to the terminal. The batch an
 * operator produced is handed on in this loop, not by a call, so the
 * stack does not grow with the number of steps; only an operator whose
 * batch fills while it still runs (a flat_map) hands it on from inside
 * (node_emit), one level deeper. Each operator's scratch memory is reset
 * once what came of its batch has reached the end. */
static int deliver(rn_chain *c, size_t i, const rn_value *vals, size_t n)
{
    const size_t first = i;
    int rc = 0;

    for (; i < c->n_nodes; i++) {
        rn_node *nd = &c->nodes[i];
        const rn_op_desc *op = nd->oi->op;
        void *st = nd->oi->state;

        if (c->cancel &&
            atomic_load_explicit(c->cancel, memory_order_relaxed)) {
            c->failed = 1;
            return rn_error_set(c->err, RN_ECANCELED, "cancelled");
        }
        switch (op->kind) {
        case RN_OP_MAP:
            for (size_t k = 0; k < n; k++) {
                rn_value out;
                if ((rc = op->map(st, &nd->ctx.pub, &vals[k], &out)))
                    return fail(c, nd->oi, rc, "map");
                if (out.kind > RN_KIND_MAX) {
                    rn_error_set(c->err, RN_EPLUGIN,
                                 "map returned a value of unknown kind %u",
                                 out.kind);
                    return fail(c, nd->oi, RN_EPLUGIN, "map");
                }
                if ((rc = node_emit(&nd->ctx, &out)))
                    return rc;
            }
            break;
        case RN_OP_FILTER:
            for (size_t k = 0; k < n; k++) {
                int keep = op->filter(st, &nd->ctx.pub, &vals[k]);
                if (keep < 0)
                    return fail(c, nd->oi, keep, "filter");
                if (keep && (rc = node_emit(&nd->ctx, &vals[k])))
                    return rc;
            }
            break;
        case RN_OP_FLAT_MAP:
            for (size_t k = 0; k < n; k++) {
                if ((rc = op->flat_map(st, &nd->ctx.pub, &vals[k])))
                    return fail(c, nd->oi, rc, "flat_map");
            }
            break;
        case RN_OP_PARTITION:
            for (size_t k = 0; k < n; k++)
                if ((rc = rn_partition_push(nd->collect, &vals[k]))) {
                    c->failed = 1;
                    return rn_error_set(c->err, rc, "%s (partition %u): %s",
                                        nd->oi->label, c->partition,
                                        rn_err_name(rc));
                }
            goto reset; /* it emits at the end of the task (drain) */
        default:
            return rn_error_set(c->err, RN_EINTERNAL,
                                "operator kind %u in a chain", op->kind);
        }
        /* hand the batch on */
        n = nd->ctx.pub.emit_n;
        nd->ctx.pub.emit_n = 0;
        vals = nd->buf;
        if (n == 0) {
            i++;
            goto reset;
        }
    }
    if (c->cancel && atomic_load_explicit(c->cancel, memory_order_relaxed)) {
        c->failed = 1;
        return rn_error_set(c->err, RN_ECANCELED, "cancelled");
    }
    rc = terminal(c, vals, n);
reset:
    for (size_t k = first; k < i; k++)
        rn_arena_reset(&c->nodes[k].scratch);
    return rc;
}

static void node_init(rn_chain *c, rn_node *nd, int idx, const rn_opinst *oi,
                      rn_value *buf, size_t batch,
                      atomic_uint_fast64_t *bytes_read)
{
    nd->chain = c;
    nd->idx = idx;
    nd->oi = oi;
    nd->buf = buf;
    rn_arena_init(&nd->scratch, 64 * 1024);
    rn_task_ctx_init(&nd->ctx, &nd->scratch, &c->task, c->err);
    nd->ctx.pub.emit_buf = nd->buf; /* rn_emit stores without a call */
    nd->ctx.pub.emit_cap = (uint32_t)batch;
    nd->ctx.emit = node_emit;
    nd->ctx.target = nd;
    nd->ctx.partition = c->partition;
    nd->ctx.bytes_read = bytes_read;
    nd->ctx.label = oi ? oi->label : NULL;
}

int rn_chain_open(rn_chain **out_chain, const rn_stage *stage,
                  uint32_t partition, rn_acc *acc, rn_partition *out,
                  atomic_uint_fast64_t *bytes_read, atomic_bool *cancel,
                  rn_errbuf *err)
{
    rn_chain *c;
    size_t batch = RN_CHAIN_BATCH;
    int rc;

    *out_chain = NULL;
    c = rn_calloc(1, sizeof(*c));
    if (!c)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    c->stage = stage;
    c->err = err;
    c->partition = partition;
    c->cancel = cancel;
    c->out = out;
    c->acc = acc;
    rn_arena_init(&c->task, 16 * 1024);
    c->n_nodes = stage->n_narrow;
    if (c->n_nodes &&
        CHAIN_BUF_BYTES / c->n_nodes / sizeof(rn_value) < RN_CHAIN_BATCH) {
        batch = CHAIN_BUF_BYTES / c->n_nodes / sizeof(rn_value);
        if (batch < CHAIN_MIN_BATCH)
            batch = CHAIN_MIN_BATCH;
    }
    if ((c->n_nodes && !(c->nodes = rn_calloc(c->n_nodes, sizeof(rn_node)))) ||
        !(c->bufs = rn_malloc((RN_CHAIN_BATCH + c->n_nodes * batch) *
                              sizeof(rn_value)))) {
        rn_free(c->nodes);
        rn_arena_release(&c->task);
        rn_free(c);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    /* the source keeps full batches: it reads in big pieces */
    node_init(c, &c->feeder, -1, NULL, c->bufs, RN_CHAIN_BATCH, bytes_read);
    c->feeder.ctx.flush = feeder_flush;
    for (size_t i = 0; i < c->n_nodes; i++) {
        node_init(c, &c->nodes[i], (int)i, stage->narrow[i],
                  c->bufs + RN_CHAIN_BATCH + i * batch, batch, bytes_read);
        if (stage->narrow[i]->op->kind == RN_OP_PARTITION &&
            !(c->nodes[i].collect = rn_partition_new())) {
            rn_chain_close(c, 0);
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        }
    }
    c->toi = stage->terminal;
    rn_arena_init(&c->tscratch, 64 * 1024);
    rn_task_ctx_init(&c->tctx, &c->tscratch, &c->task, err);
    c->tctx.partition = partition;
    c->tctx.bytes_read = bytes_read;
    c->tctx.emit = rn__emit_to_partition; /* sink commit results */
    c->tctx.target = out;
    c->tctx.label = c->toi ? c->toi->label : NULL;
    if (!c->toi)
        c->term = TERM_COLLECT;
    else if (c->toi->op->kind == RN_OP_SINK)
        c->term = TERM_SINK;
    else
        c->term = TERM_FOLD;
    if (c->term == TERM_FOLD && !acc) {
        rn_chain_close(c, 0);
        return rn_error_set(err, RN_EINTERNAL, "fold task without accumulator");
    }
    if (c->term == TERM_SINK) {
        rc = c->toi->op->sink_open(c->toi->state, &c->tctx.pub, &c->sink_w);
        if (rc) {
            fail(c, c->toi, rc, "sink_open");
            rn_chain_close(c, 0);
            return rc < 0 ? rc : RN_EPLUGIN;
        }
        c->sink_open = 1;
    }
    *out_chain = c;
    return 0;
}

int rn_chain_run_source(rn_chain *c, const rn_opinst *src,
                        const rn_value *split)
{
    int rc;
    c->feeder.ctx.label = src->label;
    rc = src->op->read(src->state, &c->feeder.ctx.pub, split);
    if (rc)
        return fail(c, src, rc, "read");
    rc = flush_node(&c->feeder);
    rn_arena_reset(&c->feeder.scratch);
    return rc;
}

int rn_chain_push(rn_chain *c, const rn_value *vals, size_t n)
{
    for (size_t k = 0; k < n; k += RN_CHAIN_BATCH) {
        size_t m = n - k < RN_CHAIN_BATCH ? n - k : RN_CHAIN_BATCH;
        int rc = deliver(c, 0, vals + k, m);
        if (rc)
            return rc;
    }
    return 0;
}

static int drain(rn_chain *c)
{
    int rc;
    if ((rc = flush_node(&c->feeder)))
        return rc;
    for (size_t i = 0; i < c->n_nodes; i++) {
        rn_node *nd = &c->nodes[i];
        if (nd->oi->op->kind == RN_OP_PARTITION) {
            rc = nd->oi->op->partition(nd->oi->state, &nd->ctx.pub,
                                       nd->collect->items, nd->collect->n);
            if (rc)
                return fail(c, nd->oi, rc, "partition");
        }
        if ((rc = flush_node(nd)))
            return rc;
        rn_arena_reset(&nd->scratch);
    }
    return 0;
}

int rn_chain_close(rn_chain *c, int ok)
{
    int rc = 0;
    if (!c)
        return 0;
    if (ok)
        rc = drain(c);
    if (c->sink_open) {
        if (ok && rc == 0) {
            rc = c->toi->op->sink_commit(c->toi->state, &c->tctx.pub,
                                         c->sink_w);
            if (rc)
                rc = fail(c, c->toi, rc, "sink_commit");
        } else {
            c->toi->op->sink_abort(c->toi->state, &c->tctx.pub, c->sink_w);
        }
    }
    rn_task_ctx_release(&c->feeder.ctx);
    rn_arena_release(&c->feeder.scratch);
    for (size_t i = 0; i < c->n_nodes; i++) {
        rn_task_ctx_release(&c->nodes[i].ctx);
        rn_arena_release(&c->nodes[i].scratch);
        rn_partition_unref(c->nodes[i].collect);
    }
    rn_task_ctx_release(&c->tctx);
    rn_arena_release(&c->tscratch);
    rn_arena_release(&c->task);
    rn_free(c->nodes);
    rn_free(c->bufs);
    rn_free(c);
    return rc;
}

/* ---- zip ------------------------------------------------------------ */

int rn_chain_push_zip(rn_chain *c, const rn_value *const *cols, size_t k,
                      size_t n)
{
    rn_value *tuples = NULL, *batch = NULL;
    int rc = 0;

    if (!n)
        return 0;
    tuples = rn_malloc(RN_CHAIN_BATCH * k * sizeof(*tuples));
    batch = rn_malloc(RN_CHAIN_BATCH * sizeof(*batch));
    if (!tuples || !batch) {
        rc = rn_error_set(c->err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && rc == 0; i += RN_CHAIN_BATCH) {
        size_t m = n - i < RN_CHAIN_BATCH ? n - i : RN_CHAIN_BATCH;
        for (size_t j = 0; j < m; j++) {
            for (size_t q = 0; q < k; q++)
                tuples[j * k + q] = cols[q][i + j];
            batch[j] = rn_list(&tuples[j * k], k);
        }
        rc = rn_chain_push(c, batch, m);
    }
done:
    rn_free(tuples);
    rn_free(batch);
    return rc;
}

/* What both zip errors end with. */
#define ZIP_WHY                                                                \
    "(zip pairs up elements of the same place: the datasets need the same "   \
    "number of partitions and of elements in each)"

int rn_chain_zip_parts_error(rn_errbuf *err, const char *where,
                             const char *label0, size_t n0,
                             const char *label, size_t n)
{
    return rn_error_set(err, RN_EINVAL,
                        "%s: '%s' has %zu partitions but '%s' %zu " ZIP_WHY,
                        where, label0, n0, label, n);
}

int rn_chain_zip_len_error(rn_errbuf *err, const char *where, size_t p,
                           const char *label0, size_t n0, const char *label,
                           size_t n)
{
    return rn_error_set(err, RN_EINVAL,
                        "%s: partition %zu of '%s' has %zu elements but that "
                        "of '%s' %zu " ZIP_WHY,
                        where, p, label0, n0, label, n);
}

/* ---- planning splits ------------------------------------------------ */

int rn_source_plan(const rn_opinst *src, rn_partition *out, rn_errbuf *err)
{
    rn_arena scratch;
    rn_task_ctx ctx;
    int rc;

    rn_arena_init(&scratch, 64 * 1024);
    rn_task_ctx_init(&ctx, &scratch, &scratch, err);
    ctx.emit = rn__emit_to_partition;
    ctx.target = out;
    ctx.label = src->label;
    rc = src->op->plan(src->state, &ctx.pub);
    if (rc) {
        if (rc > 0)
            rc = RN_EPLUGIN;
        if (err->msg[0] == '\0')
            rn_error_set(err, rc, "plan failed (%s) without a message",
                         rn_err_name(rc));
        rn_error_prefix(err, "%s (planning): ", src->label);
    }
    rn_task_ctx_release(&ctx);
    rn_arena_release(&scratch);
    return rc;
}
