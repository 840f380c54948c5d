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
    if ((rc = rn_manifest_parse_job(label, manifest, len, &jr->m, err)) == 0)
        rc = jr->m->n_datasets
                 ? (rn_pgraph_build(jr->m, reg, &jr->graph, err) ||
                    rn_pgraph_init_ops(jr->graph, err))
                 : (rn_plan_build(jr->m, reg, &jr->plan, err) ||
                    rn_plan_init_ops(jr->plan, err));
    if (rc) {
        rc = err->code ? err->code : RN_EINVAL;
        rn_jobrun_unref(jr);
        return rc;
    }
    /* the text was generated: its positions are not the user's file's */
    for (size_t i = 0; jr->graph && i < jr->graph->n_plans; i++)
        rn_plan_forget_positions(jr->graph->plans[i]);
    if (jr->plan)
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
    rn_pgraph_free(jr->graph);
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

/* A zip node and its place in the client's manifest. */
typedef struct zip_src {
    const rn_pnode *nd;
    const char *where;
} zip_src;

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

/* ZIP: partition `partition` of every input of the node, read in step,
 * a batch of each at a time (decoded ones as they are), paired up into
 * [a, b, ...] and pushed through c. Inputs of different lengths fail,
 * naming both, as locally (exec/chain.h). */
static int push_zip_inputs(rn_chain *c, const zip_src *z, uint32_t partition,
                           rn_taskrun_input_fn input, void *ud,
                           size_t n_inputs, rn_errbuf *err)
{
    const rn_pnode *nd = z->nd;
    rn_taskrun_in *ins = NULL;
    rn_codec_batches *rd = NULL;
    rn_partition **batch = NULL;
    const rn_value **cols = NULL;
    uint64_t *count = NULL;
    size_t got = 0;
    int rc = 0;

    if (n_inputs != nd->n_inputs || n_inputs == 0)
        return rn_error_set(err, RN_EINVAL, "a zip task of '%s' reads %zu "
                                            "inputs, got %zu",
                            nd->name, nd->n_inputs, n_inputs);
    ins = rn_calloc(n_inputs, sizeof(*ins));
    rd = rn_calloc(n_inputs, sizeof(*rd));
    batch = rn_calloc(n_inputs, sizeof(*batch));
    cols = rn_calloc(n_inputs, sizeof(*cols));
    count = rn_calloc(n_inputs, sizeof(*count));
    if (!ins || !rd || !batch || !cols || !count) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (; got < n_inputs; got++) {
        rn_taskrun_in *in = &ins[got];
        if ((rc = input(ud, got, in, err)))
            goto done;
        if (in->p) {
            count[got] = in->p->n;
            continue;
        }
        if (!(batch[got] = rn_partition_new())) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            got++;
            goto done;
        }
        if ((rc = rn_codec_batches_open(&rd[got], in->data, in->len, err))) {
            rn_error_prefix(err, "input %zu: ", got);
            got++;
            goto done;
        }
        count[got] = rd[got].count;
    }
    for (size_t q = 1; q < n_inputs; q++)
        if (count[q] != count[0]) {
            char where[4096];
            if (!z->where || !z->where[0])
                rn_pgraph_zip_where(nd, where, sizeof(where));
            rc = rn_chain_zip_len_error(err,
                                        z->where && z->where[0] ? z->where
                                                                : where,
                                        partition, nd->inputs[0].label,
                                        (size_t)count[0], nd->inputs[q].label,
                                        (size_t)count[q]);
            goto done;
        }
    for (uint64_t at = 0; at < count[0] && rc == 0;) {
        size_t m = count[0] - at < INPUT_BATCH ? (size_t)(count[0] - at)
                                               : INPUT_BATCH;
        for (size_t q = 0; q < n_inputs && rc == 0; q++) {
            if (ins[q].p) {
                cols[q] = ins[q].p->items + at;
                continue;
            }
            if ((rc = rn_codec_batches_next(&rd[q], batch[q], m, err)) == 0 &&
                batch[q]->n != m)
                rc = rn_error_set(err, RN_EFORMAT, "ended early");
            if (rc)
                rn_error_prefix(err, "input %zu: ", q);
            cols[q] = batch[q]->items;
        }
        if (rc == 0)
            rc = rn_chain_push_zip(c, cols, n_inputs, m);
        at += m;
    }
    /* every encoding read to its end: nothing left over */
    for (size_t q = 0; q < n_inputs && rc == 0; q++)
        if (!ins[q].p &&
            (rc = rn_codec_batches_next(&rd[q], batch[q], 1, err)) == 0 &&
            batch[q]->n)
            rc = rn_error_set(err, RN_EFORMAT, "input %zu: values past its "
                                               "count", q);
done:
    for (size_t q = 0; ins && q < got; q++) {
        rn_partition_unref(ins[q].p);
        rn_partition_unref(batch[q]);
        if (ins[q].release)
            ins[q].release(ins[q].owner);
    }
    rn_free(ins);
    rn_free(rd);
    rn_free(batch);
    rn_free(cols);
    rn_free(count);
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

/* SOURCE and CHAIN: the fused chain over one split (of source src) or
 * partition; ZIP: over the tuples of the node's inputs. */
static int run_chain(rn_jobrun *jr, const rn_stage *st, int kind,
                     uint32_t partition, const rn_opinst *src,
                     const rn_value *split, const zip_src *zip,
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
            rc = rn_chain_run_source(c, src, split);
        else if (kind == RN_GT_ZIP)
            rc = push_zip_inputs(c, zip, partition, input, ud, n_inputs, err);
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

/* The stage task t runs, and what it reads besides its inputs: the
 * plan's stage, or at a graph node's stage 0 the stage as input
 * t->input reads it (and that input's source); RN_EINVAL when t does
 * not fit the job's plan. */
static int resolve(const rn_jobrun *jr, const rn_taskrun_task *t,
                   const rn_stage **st, const rn_opinst **src, zip_src *zip,
                   rn_errbuf *err)
{
    const rn_plan *plan = jr->plan;
    const rn_pnode *nd = NULL;
    int map_side = t->kind == RN_GT_SOURCE || t->kind == RN_GT_CHAIN ||
                   t->kind == RN_GT_ZIP;

    *src = NULL;
    memset(zip, 0, sizeof(*zip));
    if (jr->graph) {
        if (t->node >= jr->graph->n_nodes)
            return rn_error_set(err, RN_EINVAL, "job %s has %zu pipelines, "
                                                "no pipeline %u",
                                jr->job_id, jr->graph->n_nodes, t->node);
        nd = &jr->graph->nodes[t->node];
        plan = nd->plan;
    } else if (t->node || t->input) {
        return rn_error_set(err, RN_EINVAL, "job %s is one pipeline: no "
                                            "pipeline %u, input %u",
                            jr->job_id, t->node, t->input);
    }
    if (t->stage >= plan->n_stages)
        return rn_error_set(err, RN_EINVAL, "job %s has %zu stages, no stage %u",
                            jr->job_id, plan->n_stages, t->stage);
    *st = &plan->stages[t->stage];
    if (t->stage == 0 && map_side) {
        *src = plan->source;
        if (nd && nd->kind != RN_PN_SOURCE) {
            if (t->input >= nd->n_inputs)
                return rn_error_set(err, RN_EINVAL,
                                    "pipeline '%s' reads %zu inputs, no "
                                    "input %u",
                                    nd->name, nd->n_inputs, t->input);
            *st = &nd->inputs[t->input].first;
            *src = nd->inputs[t->input].source;
        } else if (t->input) {
            return rn_error_set(err, RN_EINVAL, "a source pipeline has one "
                                                "input, no input %u",
                                t->input);
        }
    }
    if ((t->kind == RN_GT_ZIP) != (nd && nd->kind == RN_PN_ZIP && t->stage == 0 &&
                                   map_side))
        return rn_error_set(err, RN_EINVAL, "a %s task of stage %u of "
                                            "pipeline %u, which %s",
                            t->kind == RN_GT_ZIP ? "zip" : "non-zip",
                            t->stage, t->node,
                            nd && nd->kind == RN_PN_ZIP ? "zips"
                                                        : "does not zip");
    if (t->kind == RN_GT_ZIP) {
        zip->nd = nd;
        zip->where = t->where;
    }
    if (t->kind == RN_GT_SOURCE && (t->stage != 0 || !t->split || !*src))
        return rn_error_set(err, RN_EINVAL, "a source task without a split "
                                            "or a source");
    if (t->kind == RN_GT_CHAIN && t->stage == 0 && *src)
        return rn_error_set(err, RN_EINVAL, "a chain task of an input that "
                                            "is a source");
    return 0;
}

int rn_taskrun(rn_jobrun *jr, const rn_taskrun_task *t,
               rn_taskrun_input_fn input, void *ud, size_t n_inputs,
               rn_taskrun_out *out, uint64_t *bytes_read, rn_errbuf *err)
{
    atomic_uint_fast64_t bytes;
    const rn_stage *st = NULL;
    const rn_opinst *src = NULL;
    zip_src zip;
    uint32_t nout = 1, stage = t->stage, partition = t->partition;
    int kind = t->kind, rc;

    memset(out, 0, sizeof(*out));
    atomic_init(&bytes, 0);
    if ((rc = resolve(jr, t, &st, &src, &zip, err)))
        return rc;
    /* the tasks of a shuffled stage save one partition per bucket; its
     * merging tasks are reducers, and in a wide shuffle combines that
     * merge one bucket of many tasks (the scheduler says which) */
    if (st->nparts > 1) {
        if (kind == RN_GT_SOURCE || kind == RN_GT_CHAIN || kind == RN_GT_ZIP)
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
    case RN_GT_ZIP:
        rc = run_chain(jr, st, kind, partition, src, t->split, &zip, input, ud,
                       n_inputs, out, &bytes, err);
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
        if (jr->graph)
            rn_pgraph_redact(jr->graph, err);
        else
            rn_plan_redact(jr->plan, err);
        rn_taskrun_out_release(out);
        return rc;
    }
    return 0;
}
