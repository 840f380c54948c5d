/*
 * A keyed accumulator past its share of the memory budget: its table is
 * written as a sorted run (spill/run.h: [key, acc] records in ascending
 * hash order, zstd blocks) and starts again empty; at the end the runs
 * are merged k-way (spill/merge.h), each key's partial accumulators
 * combined with the operator's combine in the order they were spilled,
 * and finished (or saved as [key, acc] pairs), one key at a time: the
 * merge holds one block per run, not the keys.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/budget.h"
#include "exec/acc.h"
#include "exec/acc_spill.h"
#include "spill/merge.h"
#include "spill/run.h"
#include "value/value.h"

/* Calls a fold callback with ctx->keep pointing at arena. */
#define WITH_KEEP_ARENA(arena, ctx, call)                                    \
    do {                                                                     \
        rn_arena *saved_ = (ctx)->keep;                                      \
        (ctx)->keep = (arena);                                               \
        rc = (call);                                                         \
        (ctx)->keep = saved_;                                                \
    } while (0)

static int plugin_rc(rn_task_ctx *ctx, int rc, const char *what)
{
    if (rc > 0 || ctx->err->code == 0)
        return rn_error_set(ctx->err, rc > 0 ? RN_EPLUGIN : rc,
                            "%s failed (%s) without a message", what,
                            rn_err_name(rc > 0 ? RN_EPLUGIN : rc));
    return rc;
}

static int runs_push(rn_acc *a, char *path)
{
    if (a->nruns == a->runs_cap) {
        size_t cap = a->runs_cap ? a->runs_cap * 2 : 8;
        char **nr = rn_realloc(a->runs, cap * sizeof(*nr));
        if (!nr)
            return RN_ENOMEM;
        a->runs = nr;
        a->runs_cap = cap;
    }
    a->runs[a->nruns++] = path;
    return 0;
}

void rn__acc_runs_free(rn_acc *a)
{
    for (size_t i = 0; i < a->nruns; i++) {
        unlink(a->runs[i]);
        rn_free(a->runs[i]);
    }
    rn_free(a->runs);
    a->runs = NULL;
    a->nruns = a->runs_cap = 0;
}

int rn__acc_runs_take(rn_acc *a, rn_acc *other)
{
    for (size_t i = 0; i < other->nruns; i++) {
        if (runs_push(a, other->runs[i]))
            return RN_ENOMEM; /* the rest stays other's, removed with it */
        other->runs[i] = NULL;
    }
    rn_free(other->runs);
    other->runs = NULL;
    other->nruns = other->runs_cap = 0;
    return 0;
}

typedef struct spill_st {
    rn_run_writer *w;
    rn_errbuf *err;
} spill_st;

static int spill_one(void *ud, uint64_t hash, const rn_value *key,
                     const rn_value *acc)
{
    spill_st *s = ud;
    rn_value rec[2] = {*key, *acc};
    return rn_run_writer_add(s->w, hash, rec, s->err);
}

int rn_acc_spill(rn_acc *a, rn_task_ctx *ctx)
{
    const char *dir = rn_budget_spill_dir();
    rn_run_info info;
    spill_st s;
    int rc;
    if (!a->keyed || !a->n)
        return 0;
    if (!dir)
        return rn_error_set(ctx->err, RN_ENOMEM,
                            "out of memory (keyed table of %zu keys; no "
                            "spill directory)",
                            a->n);
    memset(&info, 0, sizeof(info));
    s.err = ctx->err;
    if ((rc = rn_run_writer_open(&s.w, dir, 2, NULL, ctx->err)))
        return rc;
    if ((rc = rn_acc_sorted_each(a, spill_one, &s))) {
        rn_run_writer_abort(s.w);
        return rc;
    }
    if ((rc = rn_run_writer_finish(s.w, &info, ctx->err)))
        return rc;
    if ((rc = runs_push(a, info.path))) {
        unlink(info.path);
        rn_run_info_release(&info);
        return rn_error_set(ctx->err, rc, "out of memory");
    }
    rn_budget_spilled(info.file_bytes, 1);
    info.path = NULL; /* the accumulator's now */
    rn_run_info_release(&info);
    rn_acc_clear(a);
    return 0;
}

int rn_acc_maybe_spill(rn_acc *a, rn_task_ctx *ctx)
{
    uint64_t bytes = rn_acc_bytes(a), growth = 0;
    if (!a->keyed || !a->n || !rn_budget_spill_dir())
        return 0;
    /* the index doubles when the keys pass 3/4 of its slots, and the new
     * one is allocated beside the old: a table near that point counts it
     * now (more keys than an eighth of the slots are rarely added
     * between two checks), so the growth never takes the table past its
     * share */
    if (a->nslots && a->n + a->nslots / 8 >= a->grow_at)
        growth = 2 * a->nslots * sizeof(uint64_t);
    /* past its share; or, being more than a sliver (1 MiB), when the
     * process is past the high-water mark: what else it holds (the input
     * a combine is folding in, partitions, other tasks) leaves less room
     * than the shares assume, and the table is what can move to disk */
    if (bytes + growth <= rn_budget_table_share() &&
        (bytes < ((uint64_t)1 << 20) || !rn_budget_high_with(growth)))
        return 0;
    return rn_acc_spill(a, ctx);
}

/* ---- merging the runs back ------------------------------------------ */

typedef struct combine_st {
    rn_acc *a;
    rn_task_ctx *ctx;
} combine_st;

/* One key's partial accumulators, combined in the order they were
 * spilled, into *acc (memory from scratch). */
static int combine_group(rn_acc *a, rn_task_ctx *ctx, const rn_merge_group *g,
                         rn_arena *scratch, rn_value *acc)
{
    const rn_op_desc *op = a->oi->op;
    int rc = 0;
    /* combine may change its first argument in place: a copy of ours */
    if (rn_value_copy(scratch, &g->values[0][1], acc))
        return rn_error_set(ctx->err, RN_ENOMEM, "out of memory");
    for (size_t i = 1; i < g->n && rc == 0; i++) {
        WITH_KEEP_ARENA(scratch, ctx,
                        op->combine(a->oi->state, &ctx->pub, acc, &g->values[i][1]));
        if (rc)
            rc = plugin_rc(ctx, rc, "combine");
    }
    return rc;
}

static int combine_cb(void *arg, const rn_merge_group *g, rn_value *out,
                      rn_arena *scratch, rn_errbuf *err)
{
    combine_st *c = arg;
    int rc;
    (void)err;
    out[0] = *g->key;
    rc = combine_group(c->a, c->ctx, g, scratch, &out[1]);
    if (rc && err != c->ctx->err && c->ctx->err)
        *err = *c->ctx->err;
    return rc;
}

/* Opens readers for runs[first..first+k) as merge inputs. */
static int open_inputs(rn_acc *a, size_t first, size_t k, rn_run_reader **rd,
                       rn_merge_input *in, rn_errbuf *err)
{
    int rc;
    for (size_t i = 0; i < k; i++) {
        if ((rc = rn_run_reader_open(&rd[i], a->runs[first + i], err)))
            return rc;
        in[i] = rn_run_reader_input(rd[i]);
    }
    return 0;
}

static void close_inputs(rn_run_reader **rd, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        rn_run_reader_free(rd[i]);
        rd[i] = NULL;
    }
}

/* Merges runs in passes until at most RN_MERGE_MAX_FANIN are left: the
 * first FANIN runs (the oldest) become one, which takes their place. */
static int reduce_runs(rn_acc *a, rn_task_ctx *ctx)
{
    rn_run_reader *rd[RN_MERGE_MAX_FANIN] = {0};
    rn_merge_input in[RN_MERGE_MAX_FANIN];
    combine_st cs = {a, ctx};
    int rc = 0;
    while (a->nruns > RN_MERGE_MAX_FANIN) {
        size_t k = RN_MERGE_MAX_FANIN;
        rn_run_info info;
        memset(&info, 0, sizeof(info));
        if ((rc = open_inputs(a, 0, k, rd, in, ctx->err)) == 0)
            rc = rn_merge_to_run(in, k, rn_budget_spill_dir(), NULL, combine_cb, &cs,
                                 &info, ctx->err);
        close_inputs(rd, k);
        if (rc)
            return rc;
        rn_budget_spilled(info.file_bytes, 1);
        for (size_t i = 0; i < k; i++) {
            unlink(a->runs[i]);
            rn_free(a->runs[i]);
        }
        a->runs[0] = info.path;
        info.path = NULL;
        rn_run_info_release(&info);
        memmove(&a->runs[1], &a->runs[k], (a->nruns - k) * sizeof(char *));
        a->nruns -= k - 1;
    }
    return 0;
}

int rn__acc_drain(rn_acc *a, rn_task_ctx *ctx, rn_partition **out,
                  uint32_t n_out)
{
    const rn_op_desc *op = a->oi->op;
    rn_run_reader *rd[RN_MERGE_MAX_FANIN] = {0};
    rn_merge_input in[RN_MERGE_MAX_FANIN];
    rn_merge *m = NULL;
    rn_merge_group g;
    rn_arena scratch;
    size_t k = 0;
    int rc;

    rn_arena_init(&scratch, 64 * 1024);
    /* the table's rest is the newest run */
    if ((rc = rn_acc_spill(a, ctx)) || (rc = reduce_runs(a, ctx)))
        goto done;
    k = a->nruns;
    if ((rc = open_inputs(a, 0, k, rd, in, ctx->err)) ||
        (rc = rn_merge_open(&m, in, k, ctx->err)))
        goto done;
    while ((rc = rn_merge_next(m, &g, ctx->err)) == 1) {
        rn_value acc;
        if ((rc = combine_group(a, ctx, &g, &scratch, &acc)))
            goto done;
        ctx->key_hash = g.hash;
        if (out) {
            rn_value pair[2] = {*g.key, acc};
            rn_value l = rn_list(pair, 2);
            uint32_t b = n_out > 1 ? rn_acc_bucket(g.hash, n_out) : 0;
            if ((rc = rn_partition_push(out[b], &l))) {
                rn_error_set(ctx->err, rc, "out of memory");
                goto done;
            }
        } else if (op->finish) {
            rn_value key = *g.key;
            WITH_KEEP_ARENA(&scratch, ctx, op->finish(a->oi->state, &ctx->pub, &key, &acc));
            if (rc) {
                rc = plugin_rc(ctx, rc, "finish");
                goto done;
            }
        } else {
            rn_value pair[2] = {*g.key, acc};
            rn_value l = rn_list(pair, 2);
            if ((rc = rn_emit(&ctx->pub, &l))) {
                rc = plugin_rc(ctx, rc, "finish");
                goto done;
            }
        }
        rn_arena_reset(&scratch);
    }
done:
    rn_merge_free(m);
    close_inputs(rd, k);
    rn__acc_runs_free(a);
    rn_arena_release(&scratch);
    return rc;
}
