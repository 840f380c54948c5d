/* The engine's join (core/exec/join.c) on the keyed table: left and right
 * elements tagged by the join's tags, per-partition order kept however
 * partial tables combine (either way round, through a spill, through a
 * plain copy of a partial), the cross product left-major, how: left,
 * right_key, and bad partials refused. */
#define _GNU_SOURCE /* mkdtemp */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/budget.h"
#include "exec/acc.h"
#include "exec/join.h"
#include "value/partition.h"
#include "value/value.h"

typedef struct fixture {
    rn_arena plan; /* the operator's params and state */
    rn_errbuf err;
    rn_task_ctx ctx;
    rn_arena scratch;
    rn_opinst oi;
} fixture;

/* The join with key `key` (a field), right_key `rkey` (NULL: key) and
 * how. */
static void fx_init(fixture *f, const char *key, const char *rkey,
                    const char *how)
{
    rn_field *p;
    memset(f, 0, sizeof(*f));
    rn_arena_init(&f->plan, 0);
    rn_arena_init(&f->scratch, 0);
    rn_task_ctx_init(&f->ctx, &f->scratch, &f->plan, &f->err);
    p = rn_arena_alloc(&f->plan, 4 * sizeof(*p));
    p[0] = (rn_field){{"with", 4}, rn_string("r", 1)};
    p[1] = (rn_field){{"key", 3}, rn_string(key, strlen(key))};
    p[2] = (rn_field){{"right_key", 9},
                      rkey ? rn_string(rkey, strlen(rkey)) : rn_null()};
    p[3] = (rn_field){{"how", 3}, rn_string(how, strlen(how))};
    f->oi.op = &rn_join_op;
    f->oi.params = rn_record(p, 4);
    f->oi.label = "join";
    f->oi.nparts = 1;
    assert_int_equal(rn_join_op.init(&f->ctx.pub, &f->oi.params, &f->oi.state),
                     0);
    f->oi.inited = 1;
}

static void fx_release(fixture *f)
{
    rn_task_ctx_release(&f->ctx);
    rn_arena_release(&f->scratch);
    rn_arena_release(&f->plan);
}

/* Adds [side, {k: key, v: tag}] elements read from partition part. */
static void add(fixture *f, rn_acc *a, uint32_t part, int side,
                const char *key, const char *tag)
{
    rn_field *fl = rn_arena_alloc(&f->scratch, 2 * sizeof(*fl));
    rn_value *t = rn_arena_alloc(&f->scratch, 2 * sizeof(*t));
    rn_value in;
    fl[0] = (rn_field){{"k", 1}, rn_string(key, strlen(key))};
    fl[1] = (rn_field){{"v", 1}, rn_string(tag, strlen(tag))};
    t[0] = rn_int(side);
    t[1] = rn_record(fl, 2);
    in = rn_list(t, 2);
    f->ctx.partition = part;
    assert_int_equal(rn_acc_step(a, &f->ctx, &in, 1), 0);
}

/* "l1-r1 l1-r2 ..." : the tags of each pair finish emits, in order. */
static const char *finish_tags(fixture *f, rn_acc *a, rn_buf *b)
{
    rn_partition *out = rn_partition_new();
    f->ctx.emit = rn__emit_to_partition;
    f->ctx.target = out;
    assert_int_equal(rn_acc_finish(a, &f->ctx), 0);
    rn_buf_reset(b);
    for (size_t i = 0; i < out->n; i++) {
        const rn_value *p = &out->items[i];
        assert_int_equal(p->kind, RN_LIST);
        assert_int_equal(p->len, 2);
        for (int s = 0; s < 2; s++) {
            const rn_value *e = &p->u.items[s];
            if (e->kind == RN_NULL)
                rn_buf_puts(b, "null");
            else
                rn_buf_printf(b, "%.*s",
                              (int)e->u.fields[e->len - 1].value.len,
                              e->u.fields[e->len - 1].value.u.s);
            rn_buf_puts(b, s ? " " : "-");
        }
    }
    rn_partition_unref(out);
    return b->ptr ? b->ptr : "";
}

/* Three partitions' tables combined either way round: the same pairs in
 * the same order, each side in partition order. */
static void test_order_whatever_the_combine(void **state)
{
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    for (int way = 0; way < 3; way++) {
        fixture f;
        rn_acc t[3];
        fx_init(&f, "k", NULL, "inner");
        for (int i = 0; i < 3; i++)
            assert_int_equal(rn_acc_init(&t[i], &f.oi, &f.ctx), 0);
        /* a partition is read by one task, so it is in one table; a
         * table gets its partitions in any order (table 2: partition 3,
         * then 2) */
        add(&f, &t[0], 0, 0, "x", "l1");
        add(&f, &t[0], 0, 0, "x", "l2");
        add(&f, &t[1], 1, 1, "x", "r1");
        add(&f, &t[2], 3, 1, "x", "r2");
        add(&f, &t[2], 3, 0, "x", "l4");
        add(&f, &t[2], 2, 0, "x", "l3");
        add(&f, &t[0], 4, 0, "x", "l5");
        add(&f, &t[1], 1, 0, "y", "ly"); /* no right side: dropped */
        if (way == 0) {
            assert_int_equal(rn_acc_absorb(&t[0], &f.ctx, &t[1]), 0);
            assert_int_equal(rn_acc_absorb(&t[0], &f.ctx, &t[2]), 0);
        } else if (way == 1) {
            assert_int_equal(rn_acc_absorb(&t[2], &f.ctx, &t[1]), 0);
            assert_int_equal(rn_acc_absorb(&t[2], &f.ctx, &t[0]), 0);
            t[0] = t[2];
        } else {
            assert_int_equal(rn_acc_absorb(&t[1], &f.ctx, &t[2]), 0);
            assert_int_equal(rn_acc_absorb(&t[1], &f.ctx, &t[0]), 0);
            t[0] = t[1];
        }
        assert_string_equal(finish_tags(&f, &t[0], &b),
                            "l1-r1 l1-r2 l2-r1 l2-r2 l3-r1 l3-r2 l4-r1 "
                            "l4-r2 l5-r1 l5-r2 ");
        rn_acc_release(&t[0]);
        fx_release(&f);
    }
    rn_buf_release(&b);
}

static void test_left_and_right_key(void **state)
{
    fixture f;
    rn_acc a;
    rn_buf b;
    rn_field *fl;
    rn_value t[2], in;
    (void)state;
    rn_buf_init(&b, 0);
    fx_init(&f, "k", "v", "left");
    assert_int_equal(rn_acc_init(&a, &f.oi, &f.ctx), 0);
    add(&f, &a, 0, 0, "x", "l1");
    add(&f, &a, 0, 0, "z", "l2");
    /* a right element keyed by its v field: "x" */
    fl = rn_arena_alloc(&f.scratch, sizeof(*fl));
    fl[0] = (rn_field){{"v", 1}, rn_string("x", 1)};
    t[0] = rn_int(1);
    t[1] = rn_record(fl, 1);
    in = rn_list(t, 2);
    assert_int_equal(rn_acc_step(&a, &f.ctx, &in, 1), 0);
    finish_tags(&f, &a, &b);
    /* key hash order decides which key comes first: both are there */
    assert_non_null(strstr(b.ptr, "l1-x "));
    assert_non_null(strstr(b.ptr, "l2-null "));
    rn_acc_release(&a);
    /* a right element without its right_key fails, naming it */
    assert_int_equal(rn_acc_init(&a, &f.oi, &f.ctx), 0);
    t[1] = rn_record(NULL, 0);
    assert_int_not_equal(rn_acc_step(&a, &f.ctx, &in, 1), 0);
    assert_non_null(strstr(f.err.msg, "right element: key \"v\""));
    rn_acc_release(&a);
    fx_release(&f);
    rn_buf_release(&b);
}

/* combine handed a plain copy of a partial (as the merge of spilled runs
 * does), and partials that are not the join's refused. */
static void test_combine_plain_copy(void **state)
{
    fixture f;
    rn_acc a;
    rn_arena ar;
    rn_partition *saved = rn_partition_new();
    rn_value copy, bad;
    (void)state;
    fx_init(&f, "k", NULL, "inner");
    rn_arena_init(&ar, 0);
    assert_int_equal(rn_acc_init(&a, &f.oi, &f.ctx), 0);
    add(&f, &a, 3, 0, "x", "l3");
    add(&f, &a, 1, 1, "x", "r1");
    assert_int_equal(rn_acc_save(&a, &f.ctx, saved), 0);
    assert_int_equal(saved->n, 1);
    /* [key, acc]: the acc copied exactly (no room), combined with itself */
    assert_int_equal(rn_value_copy(&ar, &saved->items[0].u.items[1], &copy), 0);
    f.ctx.keep = &ar;
    assert_int_equal(rn_join_op.combine(f.oi.state, &f.ctx.pub, &copy,
                                        &saved->items[0].u.items[1]),
                     0);
    /* lefts: two segments of partition 3, rights: two of partition 1 */
    assert_int_equal(copy.u.items[0].len, 2);
    assert_int_equal(copy.u.items[0].u.items[1].u.items[0].u.i, 3);
    assert_int_equal(copy.u.items[1].len, 2);
    bad = rn_list(NULL, 0);
    assert_int_equal(rn_join_op.combine(f.oi.state, &f.ctx.pub, &copy, &bad),
                     RN_EPLUGIN);
    f.ctx.keep = &f.plan;
    rn_partition_unref(saved);
    rn_acc_release(&a);
    rn_arena_release(&ar);
    fx_release(&f);
}

/* A table spilled between two partitions' elements: the same pairs. */
static void test_spilled(void **state)
{
    fixture f;
    rn_acc a;
    rn_buf b;
    char dir[] = "/tmp/rn-join-XXXXXX";
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(rn_budget_set_spill_dir(dir), 0);
    rn_buf_init(&b, 0);
    fx_init(&f, "k", NULL, "inner");
    assert_int_equal(rn_acc_init(&a, &f.oi, &f.ctx), 0);
    add(&f, &a, 0, 0, "x", "l1");
    add(&f, &a, 0, 1, "x", "r1");
    assert_int_equal(rn_acc_spill(&a, &f.ctx), 0);
    add(&f, &a, 0, 0, "x", "l2");
    add(&f, &a, 1, 1, "x", "r2");
    assert_int_equal(rn_acc_spill(&a, &f.ctx), 0);
    add(&f, &a, 2, 0, "x", "l3");
    assert_string_equal(finish_tags(&f, &a, &b),
                        "l1-r1 l1-r2 l2-r1 l2-r2 l3-r1 l3-r2 ");
    rn_acc_release(&a);
    fx_release(&f);
    rn_buf_release(&b);
    rn_budget_set_spill_dir(NULL);
    assert_int_equal(rmdir(dir), 0); /* the runs went with the table */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_whatever_the_combine),
        cmocka_unit_test(test_left_and_right_key),
        cmocka_unit_test(test_combine_plain_copy),
        cmocka_unit_test(test_spilled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
