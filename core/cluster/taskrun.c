/* Cluster tasks on top of the local chain and accumulators. */
#include "cluster/taskrun.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cluster/jobgraph.h"
#include "exec/acc.h"
#include "exec/chain.h"
#include "exec/ctx.h"

int rn_jobrun_new(const char *job_id, const char *manifest, size_t len,
                  rn_registry *reg, rn_jobrun **out, rn_errbuf *err)
{
    rn_jobrun *jr = rn_calloc(1, sizeof(*jr));
    char label[128];
    int rc;

    *out = NULL;
    if (!jr || !(jr->job_id = rn_strdup(job_id))) {
        rn_free(jr);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    atomic_init(&jr->refs, 1);
    atomic_init(&jr->cancel, false);
    snprintf(label, sizeof(label), "job %s", job_id);
    if ((rc = rn_manifest_parse_job(label, manifest, len, &jr->m, err)) ||
        (rc = rn_plan_build(jr->m, reg, &jr->plan, err)) ||
        (rc = rn_plan_init_ops(jr->plan, err))) {
        rn_jobrun_unref(jr);
        return rc;
    }
    *out = jr;
    return 0;
}

void rn_jobrun_ref(rn_jobrun *jr)
{
    atomic_fetch_add(&jr->refs, 1);
}

void rn_jobrun_unref(rn_jobrun *jr)
{
    if (!jr || atomic_fetch_sub(&jr->refs, 1) != 1)
        return;
    rn_plan_free(jr->plan);
    rn_manifest_free(jr->m);
    rn_free(jr->job_id);
    rn_free(jr);
}

/* An empty accumulator of the stage's fold (as the local executor's). */
static int acc_start(const rn_opinst *toi, rn_acc *acc, rn_errbuf *err)
{
    rn_task_ctx ctx;
    int rc;
    rn_task_ctx_init(&ctx, NULL, NULL, err);
    ctx.label = toi->label;
    rc = rn_acc_init(acc, toi, &ctx);
    rn_task_ctx_release(&ctx);
    if (rc)
        rn_error_prefix(err, "%s: ", toi->label);
    return rc;
}

/* The partial accumulator as n partitions cut by key hash (merged back
 * from disk when it spilled). */
static int acc_save(const rn_opinst *toi, rn_acc *acc, rn_partition **out,
                    uint32_t n, rn_errbuf *err)
{
    rn_arena scratch;
    rn_task_ctx ctx;
    int rc;
    rn_arena_init(&scratch, 64 * 1024);
    rn_task_ctx_init(&ctx, &scratch, &scratch, err);
    ctx.label = toi->label;
    rc = rn_acc_save_split(acc, &ctx, out, n);
    rn_task_ctx_release(&ctx);
    rn_arena_release(&scratch);
    return rc;
}

/* SOURCE and CHAIN: the fused chain over one split or partition. */
static int run_chain(rn_jobrun *jr, const rn_stage *st, int kind,
                     uint32_t partition, const rn_value *split,
                     rn_taskrun_input_fn input, void *ud, size_t n_inputs,
                     rn_taskrun_out *out, atomic_uint_fast64_t *bytes,
                     rn_errbuf *err)
{
    int fold = st->terminal && st->terminal->op->kind != RN_OP_SINK;
    rn_chain *c = NULL;
    rn_acc acc;
    int rc, acc_ready = 0;

    if (fold) {
        if ((rc = acc_start(st->terminal, &acc, err)))
            return rc;
        acc_ready = 1;
    }
    rc = rn_chain_open(&c, st, partition, fold ? &acc : NULL,
                       fold ? NULL : out->parts[0], bytes, &jr->cancel, err);
    if (rc == 0) {
        if (kind == RN_GT_SOURCE)
            rc = rn_chain_run_source(c, jr->plan->source, split);
        else if (n_inputs == 1) {
            rn_partition *in = input(ud, 0, err);
            rc = in ? rn_chain_push(c, in->items, in->n) : (err->code ? err->code : RN_EIO);
            rn_partition_unref(in);
        }
        else
            rc = rn_error_set(err, RN_EINVAL, "a chain task needs one input, "
                                              "got %zu", n_inputs);
        int rc2 = rn_chain_close(c, rc == 0);
        if (rc == 0)
            rc = rc2;
    }
    if (rc == 0 && fold &&
        (rc = acc_save(st->terminal, &acc, out->parts, out->n, err)))
        rn_error_prefix(err, "%s (partition %u): cannot save the partial "
                             "result: ",
                        st->terminal->label, partition);
    if (acc_ready)
        rn_acc_release(&acc);
    return rc;
}

/* Ends run_fold early: an input could not be had (its error stays). */
static int acc_fail(rn_acc *acc, rn_task_ctx *ctx, rn_arena *scratch, int rc)
{
    rn_task_ctx_release(ctx);
    rn_arena_release(scratch);
    rn_acc_release(acc);
    return rc;
}

/* COMBINE, FINISH and REDUCE: partials merged in order, saved or
 * finished (a reducer's inputs are one bucket of every task of the
 * stage: the caller's input function fetches that bucket). */
static int run_fold(const rn_stage *st, int kind, rn_taskrun_input_fn input,
                    void *ud, size_t n_inputs, rn_partition *out, rn_errbuf *err)
{
    const rn_opinst *toi = st->terminal;
    rn_arena scratch;
    rn_task_ctx ctx;
    rn_acc acc;
    int rc;

    if (!toi || toi->op->kind == RN_OP_SINK)
        return rn_error_set(err, RN_EINVAL, "a combine task in a stage "
                                            "without a fold");
    if ((rc = acc_start(toi, &acc, err)))
        return rc;
    rn_arena_init(&scratch, 64 * 1024);
    rn_task_ctx_init(&ctx, &scratch, &scratch, err);
    ctx.label = toi->label;
    /* one input at a time: each is folded in (spilling past the budget)
     * and dropped before the next is fetched */
    for (size_t i = 0; rc == 0 && i < n_inputs; i++) {
        rn_partition *in = input(ud, i, err);
        if (!in)
            return acc_fail(&acc, &ctx, &scratch, err->code ? err->code : RN_EIO);
        rc = rn_acc_load(&acc, &ctx, in);
        rn_partition_unref(in);
    }
    if (rc == 0) {
        if (kind == RN_GT_COMBINE) { /* FINISH, REDUCE: finished */
            if ((rc = rn_acc_save(&acc, &ctx, out)))
                rn_error_prefix(err, "cannot save the partial result: ");
        } else {
            ctx.emit = rn__emit_to_partition; /* finish emits the result */
            ctx.target = out;
            rc = rn_acc_finish(&acc, &ctx);
        }
    }
    if (rc && !strstr(err->msg, toi->label))
        rn_error_prefix(err, "%s (combine): ", toi->label);
    rn_task_ctx_release(&ctx);
    rn_arena_release(&scratch);
    rn_acc_release(&acc);
    return rc;
}

void rn_taskrun_out_release(rn_taskrun_out *o)
{
    if (!o)
        return;
    for (uint32_t b = 0; b < o->n; b++)
        rn_partition_unref(o->parts[b]);
    rn_free(o->parts);
    o->parts = NULL;
    o->n = 0;
}

int rn_taskrun(rn_jobrun *jr, int kind, uint32_t stage, uint32_t partition,
               const rn_value *split, rn_taskrun_input_fn input, void *ud,
               size_t n_inputs, rn_taskrun_out *out, uint64_t *bytes_read,
               rn_errbuf *err)
{
    atomic_uint_fast64_t bytes;
    const rn_stage *st;
    uint32_t nout = 1;
    int rc;

    memset(out, 0, sizeof(*out));
    atomic_init(&bytes, 0);
    if (stage >= jr->plan->n_stages)
        return rn_error_set(err, RN_EINVAL, "job %s has %zu stages, no stage %u",
                            jr->job_id, jr->plan->n_stages, stage);
    if (kind == RN_GT_SOURCE && (stage != 0 || !split))
        return rn_error_set(err, RN_EINVAL, "a source task without a split");
    st = &jr->plan->stages[stage];
    /* the tasks of a shuffled stage save one partition per bucket; its
     * reducers are the only merging tasks it has */
    if (st->nparts > 1) {
        if (kind == RN_GT_SOURCE || kind == RN_GT_CHAIN)
            nout = st->nparts;
        else if (kind != RN_GT_REDUCE || partition >= st->nparts)
            return rn_error_set(err, RN_EINVAL,
                                "stage %u is cut into %u partitions: no %s "
                                "task %u",
                                stage, (unsigned)st->nparts,
                                kind == RN_GT_REDUCE ? "reduce" : "combine",
                                partition);
    } else if (kind == RN_GT_REDUCE) {
        return rn_error_set(err, RN_EINVAL,
                            "stage %u is not cut into partitions: no reduce "
                            "task", stage);
    }
    if (!(out->parts = rn_calloc(nout, sizeof(*out->parts))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    out->n = nout;
    for (uint32_t b = 0; b < nout; b++)
        if (!(out->parts[b] = rn_partition_new())) {
            rn_taskrun_out_release(out);
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        }
    switch (kind) {
    case RN_GT_SOURCE:
    case RN_GT_CHAIN:
        rc = run_chain(jr, st, kind, partition, split, input, ud, n_inputs, out,
                       &bytes, err);
        break;
    case RN_GT_COMBINE:
    case RN_GT_FINISH:
    case RN_GT_REDUCE:
        rc = run_fold(st, kind, input, ud, n_inputs, out->parts[0], err);
        break;
    default:
        rc = rn_error_set(err, RN_EINVAL, "unknown task kind %d", kind);
    }
    if (bytes_read)
        *bytes_read = atomic_load(&bytes);
    if (rc == 0 && atomic_load(&jr->cancel))
        rc = rn_error_set(err, RN_ECANCELED, "job %s was cancelled", jr->job_id);
    if (rc) {
        /* a plugin's message may quote a ${VAR} value: never shown */
        rn_plan_redact(jr->plan, err);
        rn_taskrun_out_release(out);
        return rc;
    }
    return 0;
}
