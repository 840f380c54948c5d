/* Cluster tasks on top of the local chain and accumulators. */
#include "cluster/taskrun.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/budget.h"
#include "cluster/jobgraph.h"
#include "exec/acc.h"
#include "exec/chain.h"
#include "exec/ctx.h"
#include "spill/pfile.h"
#include "value/codec.h"

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
    rn_plan_forget_positions(jr->plan);
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

/* Values of an input given to a consumer a batch at a time. */
#define INPUT_BATCH 4096
typedef int (*consume_fn)(void *cud, const rn_partition *values);

/* Gets input i and gives its values to fn: all at once when the caller
 * has them decoded, else decoded a batch at a time from its encoding. */
static int consume_input(rn_taskrun_input_fn input, void *ud, size_t i,
                         consume_fn fn, void *cud, rn_errbuf *err)
{
    rn_taskrun_in in = {0};
    rn_codec_batches r;
    rn_partition *batch;
    int rc;

    if ((rc = input(ud, i, &in, err)))
        return rc;
    if (in.p) {
        rc = fn(cud, in.p);
        rn_partition_unref(in.p);
        return rc;
    }
    if (!(batch = rn_partition_new()))
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
    else if ((rc = rn_codec_batches_open(&r, in.data, in.len, err)) == 0)
        while ((rc = rn_codec_batches_next(&r, batch, INPUT_BATCH, err)) == 0 &&
               batch->n && (rc = fn(cud, batch)) == 0)
            ;
    if (rc && err->code == RN_EFORMAT)
        rn_error_prefix(err, "input %zu: ", i);
    rn_partition_unref(batch);
    if (in.release)
        in.release(in.owner);
    return rc;
}

static int push_to_chain(void *cud, const rn_partition *values)
{
    return rn_chain_push(cud, values->items, values->n);
}

typedef struct load_st {
    rn_acc *acc;
    rn_task_ctx *ctx;
} load_st;

static int load_into_acc(void *cud, const rn_partition *values)
{
    load_st *l = cud;
    return rn_acc_load(l->acc, l->ctx, values);
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
        else if (n_inputs == 1)
            rc = consume_input(input, ud, 0, push_to_chain, c, err);
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

/* Where a finish emits: the output partition, which past its limit is
 * written to a file in the spill directory (spill/pfile.h) a batch at a
 * time, so a result larger than the worker's budget is made without
 * being held. */
typedef struct result_out {
    rn_partition *p;
    rn_taskrun_file *file;
    uint64_t limit; /* bytes held before a batch goes to the file */
    rn_pfile w;
    int writing;
} result_out;

/* The result partition a finish may hold: a quarter of the partitions'
 * share of the budget (a few tasks finish at once), at least 4 MiB;
 * without a limit or a spill directory it is held whole. */
static uint64_t result_limit(void)
{
    uint64_t share = rn_budget_parts_share();
    if (share == UINT64_MAX || !rn_budget_spill_dir())
        return UINT64_MAX;
    share /= 4;
    return share < ((uint64_t)4 << 20) ? (uint64_t)4 << 20 : share;
}

/* The partition's values go to the file; it is emptied. */
static int result_move(result_out *r, rn_errbuf *err)
{
    int rc;
    if (!r->writing) {
        if ((rc = rn_pfile_begin(&r->w, rn_budget_spill_dir(), err)))
            return rc;
        r->writing = 1;
    }
    if ((rc = rn_pfile_push(&r->w, r->p->items, r->p->n, err))) {
        r->writing = 0; /* the writer removed its file */
        return rc;
    }
    rn_partition_clear(r->p);
    return 0;
}

static int emit_result(rn_task_ctx *ctx, const rn_value *v)
{
    result_out *r = ctx->target;
    int rc = rn_partition_push(r->p, v);
    if (rc)
        return rn_error_set(ctx->err, rc, "cannot store value: %s",
                            rn_err_name(rc));
    /* the values held (the items array stays allocated once cleared) */
    if (r->p->arena.total + r->p->n * sizeof(rn_value) >= r->limit &&
        (rc = result_move(r, ctx->err)))
        rn_error_prefix(ctx->err, "cannot write the result to disk: ");
    return rc;
}

/* Ends the result: when part of it went to a file, the rest follows and
 * the file is the output (r->file); otherwise the partition is. */
static int result_end(result_out *r, int ok, rn_errbuf *err)
{
    int rc;
    if (!r->writing)
        return 0;
    r->writing = 0;
    if (!ok) {
        rn_pfile_abort(&r->w);
        return 0;
    }
    if ((rc = rn_pfile_push(&r->w, r->p->items, r->p->n, err)) ||
        (rc = rn_pfile_end(&r->w, &r->file->path, &r->file->off,
                           &r->file->size, err))) {
        rn_error_prefix(err, "cannot write the result to disk: ");
        return rc;
    }
    r->file->items = r->w.count;
    rn_partition_clear(r->p);
    return 0;
}

/* COMBINE, FINISH and REDUCE: partials merged in order, saved or
 * finished (a reducer's inputs are one bucket of every task of the
 * stage: the caller's input function fetches that bucket). */
static int run_fold(const rn_stage *st, int kind, rn_taskrun_input_fn input,
                    void *ud, size_t n_inputs, rn_partition *out,
                    rn_taskrun_file *file, rn_errbuf *err)
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
        load_st l = {&acc, &ctx};
        rc = consume_input(input, ud, i, load_into_acc, &l, err);
    }
    if (rc == 0) {
        if (kind == RN_GT_COMBINE) { /* FINISH, REDUCE: finished */
            if ((rc = rn_acc_save(&acc, &ctx, out)))
                rn_error_prefix(err, "cannot save the partial result: ");
        } else { /* finish emits the result */
            result_out r = {.p = out, .file = file, .limit = result_limit()};
            ctx.emit = emit_result;
            ctx.target = &r;
            rc = rn_acc_finish(&acc, &ctx);
            int rc2 = result_end(&r, rc == 0, err);
            if (rc == 0)
                rc = rc2;
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
    for (uint32_t b = 0; b < o->n; b++) {
        rn_partition_unref(o->parts[b]);
        if (o->files && o->files[b].path) { /* not handed over */
            unlink(o->files[b].path);
            rn_free(o->files[b].path);
        }
    }
    rn_free(o->parts);
    rn_free(o->files);
    o->parts = NULL;
    o->files = NULL;
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
     * merging tasks are reducers, and in a wide shuffle combines that
     * merge one bucket of many tasks (the scheduler says which) */
    if (st->nparts > 1) {
        if (kind == RN_GT_SOURCE || kind == RN_GT_CHAIN)
            nout = st->nparts;
        else if (kind == RN_GT_FINISH ||
                 (kind == RN_GT_REDUCE && partition >= st->nparts))
            return rn_error_set(err, RN_EINVAL,
                                "stage %u is cut into %u partitions: no %s "
                                "task %u",
                                stage, (unsigned)st->nparts,
                                kind == RN_GT_REDUCE ? "reduce" : "finish",
                                partition);
    } else if (kind == RN_GT_REDUCE) {
        return rn_error_set(err, RN_EINVAL,
                            "stage %u is not cut into partitions: no reduce "
                            "task", stage);
    }
    if (!(out->parts = rn_calloc(nout, sizeof(*out->parts))) ||
        !(out->files = rn_calloc(nout, sizeof(*out->files)))) {
        rn_free(out->parts);
        out->parts = NULL;
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
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
        rc = run_fold(st, kind, input, ud, n_inputs, out->parts[0],
                      &out->files[0], err);
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
