/*
 * foldby and groupby (plugins/agg/keyed.c) the ways the engine combines
 * partials, beyond the in-order combine of the data-driven tests
 * (tests/data/ops/keyed.test): per-partition tables absorbed in reverse
 * (the larger table taking the smaller), partials saved, encoded and
 * loaded in a shuffled order, "per-thread" tables holding several
 * partitions each, and tables spilled in the middle of a partition (the
 * merge of the runs hands combine plain copies of accumulators). Every
 * way must give the same output as one table fed in input order, and
 * collect / first / last must match an independent computation of input
 * order.
 */
#define _POSIX_C_SOURCE 200809L /* strndup */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/budget.h"
#include "base/buf.h"
#include "exec/acc.h"
#include "exec/ctx.h"
#include "manifest/manifest.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "testutil.h"
#include "value/codec.h"
#include "value/partition.h"
#include "value/value.h"

#define NPARTS 7
#define NVALS 3000
#define NKEYS 13

typedef struct fixture {
    rn_registry *reg;
    rn_plan *plan;
    rn_arena arena;
    rn_errbuf err;
    const rn_opinst *oi;
    rn_value in[NVALS];
    size_t lo[NPARTS + 1]; /* partition p is in[lo[p] .. lo[p + 1]) */
} fixture;

/* A task context with its own scratch arena and error buffer. */
typedef struct tctx {
    rn_arena scratch;
    rn_errbuf err;
    rn_task_ctx ctx;
} tctx;

static void tctx_init(tctx *t, const char *label)
{
    memset(t, 0, sizeof(*t));
    rn_arena_init(&t->scratch, 0);
    rn_task_ctx_init(&t->ctx, &t->scratch, &t->scratch, &t->err);
    t->ctx.label = label;
}

static void tctx_release(tctx *t)
{
    rn_task_ctx_release(&t->ctx);
    rn_arena_release(&t->scratch);
}

static void key_name(char *buf, size_t cap, size_t i)
{
    snprintf(buf, cap, "k%zu", (i * 7) % NKEYS);
}

/* Elements {"k": "kN", "v": V}: V a string "vI" (strings: the kept
 * copies matter) or, numeric, I or I + 0.5 (sum turns double). */
static void make_input(fixture *f, int numeric)
{
    for (size_t i = 0; i < NVALS; i++) {
        char k[16], v[16];
        rn_field *fl = rn_arena_alloc(&f->arena, 2 * sizeof(*fl));
        int nk, nv;
        assert_non_null(fl);
        key_name(k, sizeof(k), i);
        nk = (int)strlen(k);
        nv = snprintf(v, sizeof(v), "v%zu", i);
        fl[0].name = (rn_str){"k", 1};
        fl[0].value = rn_string(rn_arena_memdup(&f->arena, k, (size_t)nk),
                                (size_t)nk);
        fl[1].name = (rn_str){"v", 1};
        if (!numeric)
            fl[1].value = rn_string(
                rn_arena_memdup(&f->arena, v, (size_t)nv), (size_t)nv);
        else if (i % 3 == 0)
            fl[1].value = rn_double((double)i + 0.5);
        else
            fl[1].value = rn_int((int64_t)i);
        f->in[i] = rn_record(fl, 2);
    }
    /* uneven partitions, one empty */
    {
        static const size_t cut[NPARTS + 1] = {0,    100,  1100, 1100,
                                               1500, 2900, 2950, NVALS};
        memcpy(f->lo, cut, sizeof(cut));
    }
}

static fixture *fixture_new(const char *op, const char *params, int numeric)
{
    fixture *f = calloc(1, sizeof(*f));
    char path[4096];
    rn_plugin *pl = NULL;
    const rn_op_desc *od = NULL;
    rn_mnode *pn = NULL;
    rn_value bound;
    rn_mpos where = {"<test>", 1, 1};

    assert_non_null(f);
    rn_arena_init(&f->arena, 0);
    f->reg = rn_registry_new();
    assert_non_null(f->reg);
    snprintf(path, sizeof(path), "%s/plugins/libagg.so", RN_TEST_BUILD_DIR);
    if (rn_registry_add_file(f->reg, path, &pl, &f->err) ||
        rn_registry_find_op(f->reg, op, &pl, &od, &f->err) ||
        rn_mnode_parse(&f->arena, "<params>", params, strlen(params), &pn,
                       &f->err) ||
        rn_params_bind(&f->arena, od, NULL, pn, where, &bound, &f->err) ||
        rn_plan_single(pl, od, &bound, &f->plan, &f->err) ||
        rn_plan_init_ops(f->plan, &f->err))
        fail_msg("%s %s: %s", op, params, f->err.msg);
    f->oi = f->plan->stages[0].terminal;
    assert_non_null(f->oi);
    make_input(f, numeric);
    return f;
}

static void fixture_free(fixture *f)
{
    rn_plan_free(f->plan);
    rn_registry_free(f->reg);
    rn_arena_release(&f->arena);
    free(f);
}

/* Steps partition p into a, in batches of 512 as the chain does;
 * spill_every > 0 spills the table every that many elements. */
static void step_part(fixture *f, rn_acc *a, tctx *t, size_t p,
                      size_t spill_every)
{
    t->ctx.partition = (uint32_t)p;
    for (size_t i = f->lo[p]; i < f->lo[p + 1];) {
        size_t m = f->lo[p + 1] - i;
        if (m > 512)
            m = 512;
        if (spill_every && m > spill_every)
            m = spill_every;
        if (rn_acc_step(a, &t->ctx, f->in + i, m))
            fail_msg("step: %s", t->err.msg);
        i += m;
        if (spill_every && rn_acc_spill(a, &t->ctx))
            fail_msg("spill: %s", t->err.msg);
    }
}

static void acc_new(fixture *f, rn_acc *a, tctx *t)
{
    if (rn_acc_init(a, f->oi, &t->ctx))
        fail_msg("init: %s", t->err.msg);
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The output as sorted JSON lines (malloc'd). */
static char *finish_json(rn_acc *a, tctx *t)
{
    rn_partition *out = rn_partition_new();
    char **lines;
    rn_buf b, all;
    char *s;

    assert_non_null(out);
    t->ctx.emit = rn__emit_to_partition;
    t->ctx.target = out;
    if (rn_acc_finish(a, &t->ctx))
        fail_msg("finish: %s", t->err.msg);
    t->ctx.emit = NULL;
    t->ctx.target = NULL;
    lines = calloc(out->n + 1, sizeof(*lines));
    assert_non_null(lines);
    for (size_t i = 0; i < out->n; i++) {
        rn_buf_init(&b, 0);
        assert_int_equal(rn_value_to_json(&b, &out->items[i]), 0);
        lines[i] = strndup(b.ptr, b.len);
        rn_buf_release(&b);
    }
    qsort(lines, out->n, sizeof(*lines), cmp_lines);
    rn_buf_init(&all, 0);
    for (size_t i = 0; i < out->n; i++) {
        assert_int_equal(rn_buf_append(&all, lines[i], strlen(lines[i])), 0);
        assert_int_equal(rn_buf_append(&all, "\n", 1), 0);
        free(lines[i]);
    }
    free(lines);
    s = strndup(all.ptr ? all.ptr : "", all.len);
    rn_buf_release(&all);
    rn_partition_unref(out);
    return s;
}

/* ---- the ways of combining -------------------------------------------- */

/* One table fed every partition in input order: the reference. */
static char *way_sequential(fixture *f)
{
    tctx t;
    rn_acc a;
    char *out;
    tctx_init(&t, f->oi->label);
    acc_new(f, &a, &t);
    for (size_t p = 0; p < NPARTS; p++)
        step_part(f, &a, &t, p, 0);
    out = finish_json(&a, &t);
    rn_acc_release(&a);
    tctx_release(&t);
    return out;
}

/* A table per partition, absorbed last first (a commutative fold lets
 * the larger table take the smaller: the structs swap). */
static char *way_reverse_absorb(fixture *f)
{
    tctx t;
    rn_acc a[NPARTS];
    char *out;
    tctx_init(&t, f->oi->label);
    for (size_t p = 0; p < NPARTS; p++) {
        acc_new(f, &a[p], &t);
        step_part(f, &a[p], &t, p, 0);
    }
    for (size_t p = NPARTS - 1; p-- > 0;)
        if (rn_acc_absorb(&a[NPARTS - 1], &t.ctx, &a[p]))
            fail_msg("absorb: %s", t.err.msg);
    out = finish_json(&a[NPARTS - 1], &t);
    rn_acc_release(&a[NPARTS - 1]);
    tctx_release(&t);
    return out;
}

/* Partials saved, encoded, decoded and loaded in a shuffled order (as
 * partitions arrive from workers). */
static char *way_shuffled_wire(fixture *f)
{
    static const size_t order[NPARTS] = {3, 0, 6, 2, 5, 1, 4};
    tctx t;
    rn_acc root;
    rn_buf wire;
    char *out;
    tctx_init(&t, f->oi->label);
    rn_buf_init(&wire, 0);
    acc_new(f, &root, &t);
    for (size_t k = 0; k < NPARTS; k++) {
        rn_partition *part = rn_partition_new(), *back = rn_partition_new();
        rn_acc a;
        assert_non_null(part);
        assert_non_null(back);
        acc_new(f, &a, &t);
        step_part(f, &a, &t, order[k], 0);
        rn_buf_reset(&wire);
        if (rn_acc_save(&a, &t.ctx, part) ||
            rn_codec_encode(&wire, part->items, part->n) ||
            rn_codec_decode(wire.ptr, wire.len, back, &t.err) ||
            rn_acc_load(&root, &t.ctx, back))
            fail_msg("partial %zu: %s", order[k], t.err.msg);
        rn_acc_release(&a);
        rn_partition_unref(part);
        rn_partition_unref(back);
    }
    out = finish_json(&root, &t);
    rn_acc_release(&root);
    rn_buf_release(&wire);
    tctx_release(&t);
    return out;
}

/* Two "threads": one table takes the even partitions, one the odd ones;
 * the odd table absorbs the even one. */
static char *way_threads(fixture *f)
{
    tctx t;
    rn_acc even, odd;
    char *out;
    tctx_init(&t, f->oi->label);
    acc_new(f, &even, &t);
    acc_new(f, &odd, &t);
    for (size_t p = 0; p < NPARTS; p++)
        step_part(f, p % 2 ? &odd : &even, &t, p, 0);
    if (rn_acc_absorb(&odd, &t.ctx, &even))
        fail_msg("absorb: %s", t.err.msg);
    out = finish_json(&odd, &t);
    rn_acc_release(&odd);
    tctx_release(&t);
    return out;
}

/* One table spilled every 97 elements (runs cut partitions in the
 * middle), finished by merging the runs; and the same saved (the merge
 * into a partition) and loaded into a second spilled table. */
static char *way_spilled(fixture *f, int via_save)
{
    tctx t;
    rn_acc a, b;
    char *out;
    tctx_init(&t, f->oi->label);
    acc_new(f, &a, &t);
    for (size_t p = 0; p < NPARTS; p++)
        step_part(f, &a, &t, p, 97);
    assert_true(a.nruns > 0);
    if (!via_save) {
        out = finish_json(&a, &t);
        rn_acc_release(&a);
        tctx_release(&t);
        return out;
    }
    {
        rn_partition *part = rn_partition_new();
        assert_non_null(part);
        if (rn_acc_save(&a, &t.ctx, part))
            fail_msg("save: %s", t.err.msg);
        rn_acc_release(&a);
        acc_new(f, &b, &t);
        if (rn_acc_load(&b, &t.ctx, part) || rn_acc_spill(&b, &t.ctx))
            fail_msg("load: %s", t.err.msg);
        rn_partition_unref(part);
    }
    out = finish_json(&b, &t);
    rn_acc_release(&b);
    tctx_release(&t);
    return out;
}

/* Every way gives the reference's output; returns the reference. */
static char *check_ways(fixture *f)
{
    char *ref = way_sequential(f);
    char *got[5];
    static const char *const names[5] = {"reverse absorb", "shuffled wire",
                                         "threads", "spilled",
                                         "spilled, saved and loaded"};
    got[0] = way_reverse_absorb(f);
    got[1] = way_shuffled_wire(f);
    got[2] = way_threads(f);
    got[3] = way_spilled(f, 0);
    got[4] = way_spilled(f, 1);
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(ref, got[i]) != 0)
            fail_msg("%s: %s differs from the sequential output\n"
                     "--- sequential:\n%.2000s\n--- %s:\n%.2000s",
                     f->oi->label, names[i], ref, names[i], got[i]);
        free(got[i]);
    }
    assert_true(strlen(ref) > 0);
    return ref;
}

/* ---- independent expectations ------------------------------------------ */

/* The JSON lines collect (whole = 0) or groupby (whole = 1) must give,
 * computed from the input directly; or first / last (pick = 1, 2). */
static char *expected(fixture *f, int whole, int pick)
{
    char *lines[NKEYS];
    char *all;
    size_t n = 0, used = 0;
    rn_buf b;

    for (size_t k = 0; k < NKEYS; k++) {
        char key[16];
        int first = 1;
        snprintf(key, sizeof(key), "k%zu", k);
        rn_buf_init(&b, 0);
        assert_int_equal(rn_buf_printf(&b, "[\"%s\", ", key), 0);
        if (!pick)
            assert_int_equal(rn_buf_putc(&b, '['), 0);
        for (size_t i = 0; i < NVALS; i++) {
            char ki[16];
            size_t j = i;
            key_name(ki, sizeof(ki), i);
            if (strcmp(ki, key) != 0)
                continue;
            if (pick == 2) { /* last: find the last one */
                for (size_t m = i + 1; m < NVALS; m++) {
                    key_name(ki, sizeof(ki), m);
                    if (strcmp(ki, key) == 0)
                        j = m;
                }
            }
            if (!first)
                assert_int_equal(rn_buf_puts(&b, ", "), 0);
            first = 0;
            assert_int_equal(
                rn_value_to_json(&b, whole ? &f->in[j]
                                           : &f->in[j].u.fields[1].value),
                0);
            if (pick)
                break;
        }
        if (first) { /* no such key */
            rn_buf_release(&b);
            continue;
        }
        assert_int_equal(rn_buf_puts(&b, pick ? "]" : "]]"), 0);
        lines[n++] = strndup(b.ptr, b.len);
        rn_buf_release(&b);
    }
    qsort(lines, n, sizeof(*lines), cmp_lines);
    for (size_t i = 0; i < n; i++)
        used += strlen(lines[i]) + 1;
    all = malloc(used + 1);
    assert_non_null(all);
    used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(lines[i]);
        memcpy(all + used, lines[i], m);
        all[used + m] = '\n';
        used += m + 1;
        free(lines[i]);
    }
    all[used] = '\0';
    return all;
}

/* ---- tests ------------------------------------------------------------ */

static void run_foldby(const char *agg, int numeric, int pick)
{
    char params[128];
    fixture *f;
    char *ref;
    snprintf(params, sizeof(params), "{key: k, value: v, agg: %s}", agg);
    f = fixture_new("agg.foldby", params, numeric);
    ref = check_ways(f);
    if (pick >= 0) {
        char *want = expected(f, 0, pick);
        if (strcmp(ref, want) != 0)
            fail_msg("foldby %s: expected\n%.2000s\ngot\n%.2000s", agg,
                     want, ref);
        free(want);
    }
    free(ref);
    fixture_free(f);
}

static void test_collect(void **state)
{
    (void)state;
    run_foldby("collect", 0, 0);
    run_foldby("collect", 1, 0);
}

static void test_first_last(void **state)
{
    (void)state;
    run_foldby("first", 0, 1);
    run_foldby("last", 0, 2);
    run_foldby("first", 1, 1);
    run_foldby("last", 1, 2);
}

static void test_commutative_aggs(void **state)
{
    (void)state;
    /* no independent expectation here (keyed.test has them): the point
     * is that the ways agree */
    run_foldby("sum", 1, -1);
    run_foldby("count", 1, -1);
    run_foldby("mean", 1, -1);
    run_foldby("min", 0, -1);
    run_foldby("max", 0, -1);
    run_foldby("min", 1, -1);
    run_foldby("max", 1, -1);
}

static void test_groupby(void **state)
{
    fixture *f = fixture_new("agg.groupby", "{key: k}", 0);
    char *ref = check_ways(f), *want = expected(f, 1, 0);
    (void)state;
    if (strcmp(ref, want) != 0)
        fail_msg("groupby: expected\n%.2000s\ngot\n%.2000s", want, ref);
    free(ref);
    free(want);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collect),
        cmocka_unit_test(test_first_last),
        cmocka_unit_test(test_commutative_aggs),
        cmocka_unit_test(test_groupby),
    };
    char *dir = rn_test_tmpdir("keyed");
    int rc;
    if (!dir || rn_budget_set_spill_dir(dir)) {
        fprintf(stderr, "cannot make a spill directory\n");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rn_test_rmtree(dir);
    free(dir);
    return rc;
}
