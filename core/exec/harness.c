/*
 * The SDK's test harness (sdk/include/runnel/harness.h), built on the real
 * engine: the same parameter binding, chain, accumulators and wire
 * encoding a job uses. Folds are exercised the way a cluster runs them:
 * the pushed inputs are cut into up to three partitions, each folded into
 * its own accumulator, the partials encoded, decoded and combined.
 */
#include <runnel/harness.h>

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "exec/acc.h"
#include "exec/chain.h"
#include "exec/ctx.h"
#include "manifest/manifest.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "value/codec.h"
#include "value/value.h"

#define HARNESS_PARTS 3

struct rn_harness {
    rn_registry *reg;
    rn_plan *plan;
    rn_arena arena;
    rn_partition *in;
    rn_partition *out;
    rn_buf json;
    rn_errbuf err;
    int finished;
};

rn_harness *rn_harness_new(const char *plugin_path, const char *op,
                           const char *params_yaml, char *errmsg,
                           size_t errlen)
{
    rn_harness *h = rn_calloc(1, sizeof(*h));
    rn_plugin *pl = NULL;
    const rn_op_desc *od = NULL;
    rn_mnode *params = NULL;
    rn_value bound;
    rn_mpos where = {"<harness>", 1, 1};
    char full[2 * RN_MAX_NAME + 2];
    int rc;

    if (!h) {
        snprintf(errmsg, errlen, "out of memory");
        return NULL;
    }
    rn_arena_init(&h->arena, 16 * 1024);
    rn_buf_init(&h->json, 0);
    h->reg = rn_registry_new();
    h->in = rn_partition_new();
    h->out = rn_partition_new();
    if (!h->reg || !h->in || !h->out) {
        rc = rn_error_set(&h->err, RN_ENOMEM, "out of memory");
        goto fail;
    }
    if (plugin_path) {
        if ((rc = rn_registry_add_file(h->reg, plugin_path, &pl, &h->err)))
            goto fail;
        if (!strchr(op, '.')) {
            snprintf(full, sizeof(full), "%s.%s", pl->desc->name, op);
            op = full;
        }
    } else if ((rc = rn_registry_add_shipped(h->reg, &h->err))) {
        goto fail;
    }
    if ((rc = rn_registry_find_op(h->reg, op, &pl, &od, &h->err)))
        goto fail;
    if (params_yaml &&
        (rc = rn_mnode_parse(&h->arena, "<params>", params_yaml,
                             strlen(params_yaml), &params, &h->err)))
        goto fail;
    if (params && rn_mnode_is_null(params))
        params = NULL;
    if ((rc = rn_params_bind(&h->arena, od, NULL, params, where, &bound,
                             &h->err)))
        goto fail;
    if ((rc = rn_plan_single(pl, od, &bound, &h->plan, &h->err)))
        goto fail;
    if ((rc = rn_plan_init_ops(h->plan, &h->err)))
        goto fail;
    return h;
fail:
    snprintf(errmsg, errlen, "%s", h->err.msg);
    rn_harness_free(h);
    return NULL;
}

int rn_harness_push(rn_harness *h, const rn_value *v)
{
    int rc = rn_partition_push(h->in, v);
    if (rc)
        return rn_error_set(&h->err, rc, "cannot store input: %s",
                            rn_err_name(rc));
    return 0;
}

int rn_harness_push_json(rn_harness *h, const char *json)
{
    rn_arena tmp;
    rn_value v;
    int rc;
    rn_arena_init(&tmp, 4096);
    rc = rn_value_from_json(&tmp, json, strlen(json), &v, &h->err);
    if (rc == 0)
        rc = rn_harness_push(h, &v);
    rn_arena_release(&tmp);
    return rc;
}

/* A chain over one slice of the input (or one split of a source). */
static int run_chain(rn_harness *h, uint32_t part, rn_acc *acc,
                     const rn_value *vals, size_t n, const rn_value *split)
{
    const rn_stage *st = &h->plan->stages[0];
    rn_chain *c = NULL;
    int rc, rc2;
    rc = rn_chain_open(&c, st, part, acc, h->out, NULL, NULL, &h->err);
    if (rc)
        return rc;
    rc = split ? rn_chain_run_source(c, h->plan->source, split)
               : rn_chain_push(c, vals, n);
    rc2 = rn_chain_close(c, rc == 0);
    return rc ? rc : rc2;
}

static int run_fold(rn_harness *h)
{
    const rn_opinst *oi = h->plan->stages[0].terminal;
    rn_acc accs[HARNESS_PARTS], root;
    int ready[HARNESS_PARTS] = {0}, root_ready = 0;
    rn_arena scratch;
    rn_task_ctx ctx;
    rn_buf wire;
    size_t n = h->in->n, per = (n + HARNESS_PARTS - 1) / HARNESS_PARTS;
    int rc = 0;

    rn_arena_init(&scratch, 16 * 1024);
    rn_buf_init(&wire, 0);
    rn_task_ctx_init(&ctx, &scratch, &scratch, &h->err);
    ctx.label = oi->label;
    /* per-partition accumulators over contiguous slices */
    for (size_t p = 0; p < HARNESS_PARTS; p++) {
        size_t lo = p * per, hi = lo + per > n ? n : lo + per;
        if (p > 0 && lo >= n)
            break;
        if ((rc = rn_acc_init(&accs[p], oi, &ctx)))
            goto done;
        ready[p] = 1;
        if ((rc = run_chain(h, (uint32_t)p, &accs[p], h->in->items + lo,
                            hi > lo ? hi - lo : 0, NULL)))
            goto done;
    }
    /* partials cross the wire encoding, then combine in order */
    if ((rc = rn_acc_init(&root, oi, &ctx)))
        goto done;
    root_ready = 1;
    for (size_t p = 0; p < HARNESS_PARTS && ready[p]; p++) {
        rn_partition *part = rn_partition_new(), *back = rn_partition_new();
        if (!part || !back) {
            rn_partition_unref(part);
            rn_partition_unref(back);
            rc = rn_error_set(&h->err, RN_ENOMEM, "out of memory");
            goto done;
        }
        rn_buf_reset(&wire);
        rc = rn_acc_save(&accs[p], &ctx, part);
        if (!rc)
            rc = rn_codec_encode(&wire, part->items, part->n);
        if (!rc)
            rc = rn_codec_decode(wire.ptr, wire.len, back, &h->err);
        if (!rc)
            rc = rn_acc_load(&root, &ctx, back);
        rn_partition_unref(part);
        rn_partition_unref(back);
        if (rc)
            goto done;
    }
    ctx.emit = rn__emit_to_partition;
    ctx.target = h->out;
    rc = rn_acc_finish(&root, &ctx);
done:
    if (rc && !strstr(h->err.msg, oi->label))
        rn_error_prefix(&h->err, "%s: ", oi->label);
    for (size_t p = 0; p < HARNESS_PARTS; p++)
        if (ready[p])
            rn_acc_release(&accs[p]);
    if (root_ready)
        rn_acc_release(&root);
    rn_task_ctx_release(&ctx);
    rn_arena_release(&scratch);
    rn_buf_release(&wire);
    return rc;
}

int rn_harness_finish(rn_harness *h)
{
    const rn_stage *st = &h->plan->stages[0];
    int rc = 0;

    if (h->finished)
        return rn_error_set(&h->err, RN_EINVAL, "rn_harness_finish called twice");
    h->finished = 1;
    if (h->plan->source) {
        rn_partition *splits = rn_partition_new();
        if (!splits)
            return rn_error_set(&h->err, RN_ENOMEM, "out of memory");
        rc = rn_source_plan(h->plan->source, splits, &h->err);
        for (size_t i = 0; rc == 0 && i < splits->n; i++)
            rc = run_chain(h, (uint32_t)i, NULL, NULL, 0, &splits->items[i]);
        rn_partition_unref(splits);
        return rc;
    }
    if (st->terminal && st->terminal->op->kind != RN_OP_SINK)
        return run_fold(h);
    return run_chain(h, 0, NULL, h->in->items, h->in->n, NULL);
}

size_t rn_harness_count(const rn_harness *h)
{
    return h->out->n;
}

const rn_value *rn_harness_output(const rn_harness *h, size_t i)
{
    return i < h->out->n ? &h->out->items[i] : NULL;
}

const char *rn_harness_output_json(rn_harness *h)
{
    rn_buf_reset(&h->json);
    for (size_t i = 0; i < h->out->n; i++) {
        rn_value_to_json(&h->json, &h->out->items[i]);
        rn_buf_putc(&h->json, '\n');
    }
    return h->json.ptr ? h->json.ptr : "";
}

const char *rn_harness_error(const rn_harness *h)
{
    return h->err.msg;
}

void rn_harness_free(rn_harness *h)
{
    if (!h)
        return;
    rn_plan_free(h->plan);
    rn_registry_free(h->reg);
    rn_partition_unref(h->in);
    rn_partition_unref(h->out);
    rn_buf_release(&h->json);
    rn_arena_release(&h->arena);
    rn_free(h);
}
