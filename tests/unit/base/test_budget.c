/* The memory budget (core/base/budget.c) and the limit it puts on task
 * threads' allocations (core/base/alloc.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/budget.h"

#define MIB ((uint64_t)1 << 20)

static void test_machine(void **state)
{
    (void)state;
    /* a sensible default: at least 64 MiB, never more than the machine */
    assert_true(rn_budget_default() >= 64 * MIB);
    assert_true(rn_budget_default() < (uint64_t)1 << 50);
    /* our own resident memory is known and plausible */
    assert_true(rn_budget_rss() > MIB);
    assert_true(rn_budget_rss() < (uint64_t)1 << 40);
}

static void test_task_threads_stop_at_the_limit(void **state)
{
    void *p, *q;
    (void)state;
    rn_budget_set_limit(rn_alloc_in_use() + 4 * MIB);
    /* a thread that is not a task thread is not held back */
    p = rn_malloc(8 * MIB);
    assert_non_null(p);
    rn_free(p);
    rn_budget_task_thread(1);
    p = rn_malloc(2 * MIB);
    assert_non_null(p);
    assert_null(rn_malloc(3 * MIB));          /* past the limit */
    assert_null(rn_realloc(p, 7 * MIB));      /* growing past it */
    assert_null(rn_malloc_large(3 * MIB));
    q = rn_realloc(p, MIB);                   /* shrinking is fine */
    assert_non_null(q);
    rn_free(q);
    rn_budget_set_limit(0);                   /* no limit: anything */
    p = rn_malloc(8 * MIB);
    assert_non_null(p);
    rn_free(p);
    rn_budget_task_thread(0);
}

static void test_shares_and_pressure(void **state)
{
    void *p;
    (void)state;
    rn_budget_set_limit(0);
    assert_int_equal(rn_budget_table_share(), UINT64_MAX);
    assert_int_equal(rn_budget_parts_share(), UINT64_MAX);
    assert_int_equal(rn_budget_high(), 0);
    rn_budget_set_limit(400 * MIB);
    rn_budget_table_begin();
    rn_budget_table_begin();
    /* the tables' half, split between the two alive */
    assert_int_equal(rn_budget_table_share(), 400 * MIB / 100 * 50 / 2);
    rn_budget_table_end();
    assert_int_equal(rn_budget_table_share(), 400 * MIB / 100 * 50);
    rn_budget_table_end();
    assert_int_equal(rn_budget_parts_share(), 400 * MIB / 100 * 25);
    /* high water: 85% of the limit */
    rn_budget_set_limit(rn_alloc_in_use() + 10 * MIB);
    assert_int_equal(rn_budget_high(), 0);
    p = rn_malloc(9 * MIB);
    assert_int_equal(rn_budget_high(), 1);
    rn_free(p);
    assert_int_equal(rn_budget_high(), 0);
    rn_budget_set_limit(0);
}

static void test_spill_stats(void **state)
{
    uint64_t b, f;
    (void)state;
    rn_budget_spill_stats(&b, &f);
    rn_budget_spilled(1000, 1);
    rn_budget_spilled(24, 2);
    {
        uint64_t b2, f2;
        rn_budget_spill_stats(&b2, &f2);
        assert_int_equal(b2 - b, 1024);
        assert_int_equal(f2 - f, 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_machine),
        cmocka_unit_test(test_task_threads_stop_at_the_limit),
        cmocka_unit_test(test_shares_and_pressure),
        cmocka_unit_test(test_spill_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
