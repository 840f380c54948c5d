/* The scheduler's task graph (core/cluster/jobgraph.c): shapes, readiness,
 * recomputation from lineage, strikes, the incremental ready heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/error.h"
#include "cluster/jobgraph.h"

/* Runs every ready task on `worker` until nothing is ready. */
static size_t run_all(rn_jobgraph *g, uint32_t worker)
{
    uint8_t *want = rn_malloc(g->n + 1);
    uint32_t *ready = rn_malloc((g->n + 1) * sizeof(uint32_t));
    uint32_t rel[64];
    size_t runs = 0, n, n_rel;
    while ((n = rn_jobgraph_ready(g, want, ready, g->n)) > 0)
        for (size_t i = 0; i < n; i++) {
            rn_jobgraph_assign(g, ready[i], worker);
            rn_jobgraph_done(g, ready[i], 10, 1, rel, &n_rel);
            runs++;
        }
    rn_free(want);
    rn_free(ready);
    return runs;
}

static void test_fold_tree(void **state)
{
    int term[] = {RN_TERM_FOLD};
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 20, 8, &g), 0);
    /* 20 partials, combines of 8, 8, 4, then one finish over 3 */
    assert_int_equal(g->n, 24);
    assert_int_equal(g->tasks[20].kind, RN_GT_COMBINE);
    assert_int_equal(g->tasks[20].n_inputs, 8);
    assert_int_equal(g->tasks[22].n_inputs, 4);
    assert_int_equal(g->tasks[22].inputs[0], 16);
    assert_int_equal(g->tasks[23].kind, RN_GT_FINISH);
    assert_int_equal(g->tasks[23].n_inputs, 3);
    assert_int_equal(g->n_finals, 1);
    assert_int_equal(g->finals[0], 23);
    assert_int_equal(run_all(g, 1), 24);
    assert_true(rn_jobgraph_complete(g));
    rn_jobgraph_free(g);
}

static void test_two_stages(void **state)
{
    int term[] = {RN_TERM_FOLD, RN_TERM_FOLD};
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, NULL, 2, 3, 8, &g), 0);
    /* 3 sources + finish, then one chain + finish */
    assert_int_equal(g->n, 6);
    assert_int_equal(g->tasks[4].kind, RN_GT_CHAIN);
    assert_int_equal(g->tasks[4].inputs[0], 3);
    assert_int_equal(g->tasks[5].kind, RN_GT_FINISH);
    assert_int_equal(g->finals[0], 5);
    rn_jobgraph_free(g);
    /* no splits: the fold of nothing still finishes */
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 0, 8, &g), 0);
    assert_int_equal(g->n, 1);
    assert_int_equal(run_all(g, 1), 1);
    rn_jobgraph_free(g);
}

static void test_map_only(void **state)
{
    int term[] = {RN_TERM_NONE};
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 5, 8, &g), 0);
    assert_int_equal(g->n, 5);
    assert_int_equal(g->n_finals, 5);
    assert_int_equal(run_all(g, 1), 5);
    rn_jobgraph_free(g);
}

static void test_lost_worker_recompute(void **state)
{
    int term[] = {RN_TERM_FOLD};
    uint8_t want[32];
    uint32_t ready[32], rel[32];
    size_t n, n_rel, lost;
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 4, 8, &g), 0); /* 4 + finish */
    n = rn_jobgraph_ready(g, want, ready, 32);
    assert_int_equal(n, 4);
    /* tasks 0, 1 done on worker 7; 2 done on 8; 3 running on 7 */
    for (uint32_t t = 0; t < 4; t++)
        rn_jobgraph_assign(g, t, t == 2 ? 8 : 7);
    rn_jobgraph_done(g, 0, 1, 1, rel, &n_rel);
    rn_jobgraph_done(g, 1, 1, 1, rel, &n_rel);
    rn_jobgraph_done(g, 2, 1, 1, rel, &n_rel);
    assert_int_equal(rn_jobgraph_worker_lost(g, 7, &lost), UINT32_MAX);
    assert_int_equal(lost, 2);
    assert_int_equal(g->tasks[3].strikes, 1);
    n = rn_jobgraph_ready(g, want, ready, 32);
    assert_int_equal(n, 3); /* 0, 1 recomputed, 3 again; 2 kept */
    assert_int_equal(ready[0], 0);
    assert_int_equal(ready[2], 3);
    assert_int_equal(run_all(g, 8), 4);
    assert_true(rn_jobgraph_complete(g));
    rn_jobgraph_free(g);
}

static void test_release_and_lineage(void **state)
{
    int term[] = {RN_TERM_FOLD, RN_TERM_NONE};
    uint8_t want[32];
    uint32_t ready[32], rel[32];
    size_t n, n_rel;
    rn_jobgraph *g;
    (void)state;
    /* 2 sources, finish (2), chain (3) = the result */
    assert_int_equal(rn_jobgraph_build(term, NULL, 2, 2, 8, &g), 0);
    assert_int_equal(g->n, 4);
    rn_jobgraph_assign(g, 0, 1);
    rn_jobgraph_done(g, 0, 1, 1, rel, &n_rel);
    rn_jobgraph_assign(g, 1, 1);
    rn_jobgraph_done(g, 1, 1, 1, rel, &n_rel);
    rn_jobgraph_assign(g, 2, 2);
    rn_jobgraph_done(g, 2, 1, 1, rel, &n_rel);
    assert_int_equal(n_rel, 2); /* both partials may go */
    rn_jobgraph_release(g, rel[0]);
    rn_jobgraph_release(g, rel[1]);
    assert_int_equal(rn_jobgraph_count_done(g), 3);
    /* the finish output dies before the chain ran: recompute the whole
     * lineage: both sources, then the finish */
    rn_jobgraph_worker_lost(g, 2, NULL);
    n = rn_jobgraph_ready(g, want, ready, 32);
    assert_int_equal(n, 2);
    assert_int_equal(ready[0], 0);
    assert_int_equal(ready[1], 1);
    assert_int_equal(run_all(g, 3), 4);
    assert_true(rn_jobgraph_complete(g));
    rn_jobgraph_free(g);
}

static void test_strikes(void **state)
{
    int term[] = {RN_TERM_NONE};
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 1, 8, &g), 0);
    for (uint32_t w = 1; w <= 3; w++) {
        rn_jobgraph_assign(g, 0, w);
        assert_int_equal(rn_jobgraph_worker_lost(g, w, NULL),
                         w < 3 ? UINT32_MAX : 0);
    }
    assert_int_equal(g->tasks[0].lost_workers[2], 3);
    /* leaving on purpose is no strike */
    rn_jobgraph_free(g);
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 1, 8, &g), 0);
    rn_jobgraph_assign(g, 0, 4);
    rn_jobgraph_worker_left(g, 4);
    assert_int_equal(g->tasks[0].strikes, 0);
    assert_int_equal(g->tasks[0].state, RN_TS_WAITING);
    rn_jobgraph_free(g);
}


/* What rn_jobgraph_peek must answer, from the full scan: the ready task
 * that is a COMBINE/FINISH with the lowest id, else the lowest id. */
static uint32_t expected_peek(rn_jobgraph *g, uint8_t *want, uint32_t *ready)
{
    size_t n = rn_jobgraph_ready(g, want, ready, g->n); /* ascending */
    for (size_t i = 0; i < n; i++)
        if (rn_jobgraph_merging(g->tasks[ready[i]].kind))
            return ready[i];
    return n ? ready[0] : UINT32_MAX;
}

static void check_counters(const rn_jobgraph *g)
{
    size_t done = 0, finals = 0;
    for (size_t i = 0; i < g->n; i++) {
        done += g->tasks[i].state == RN_TS_DONE || g->tasks[i].released;
        finals += g->tasks[i].final && g->tasks[i].state == RN_TS_DONE;
    }
    assert_int_equal(rn_jobgraph_count_done(g), done);
    assert_int_equal(rn_jobgraph_complete(g), finals == g->n_finals);
}

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 8;
}

/* Random runs with failures: the heap always agrees with the scan. */
static void test_peek_matches_scan(void **state)
{
    int term2[] = {RN_TERM_FOLD, RN_TERM_NONE};
    int term1[] = {RN_TERM_FOLD};
    (void)state;
    for (uint32_t seed = 1; seed <= 40; seed++) {
        rn_jobgraph *g;
        uint32_t x = seed, rel[64];
        size_t n_rel, steps = 0;
        int two = seed % 2;
        assert_int_equal(rn_jobgraph_build(two ? term2 : term1, NULL, two ? 2 : 1,
                                           5 + seed * 3, 2 + seed % 7, &g), 0);
        uint8_t *want = rn_malloc(g->n + 1);
        uint32_t *ready = rn_malloc((g->n + 1) * sizeof(uint32_t));
        while (!rn_jobgraph_complete(g) && steps++ < 20000) {
            uint32_t r = lcg(&x) % 100, t = rn_jobgraph_peek(g);
            assert_int_equal(t, expected_peek(g, want, ready));
            check_counters(g);
            if (r < 48 && t != UINT32_MAX) {
                rn_jobgraph_assign(g, t, 1 + lcg(&x) % 3);
            } else if (r < 96 || steps > 3000) { /* a running task ends */
                for (size_t i = 0; i < g->n; i++) {
                    if (g->tasks[i].state != RN_TS_RUNNING || lcg(&x) % 2)
                        continue;
                    rn_jobgraph_done(g, (uint32_t)i, 1, 1, rel, &n_rel);
                    for (size_t k = 0; k < n_rel; k++)
                        rn_jobgraph_release(g, rel[k]);
                    break;
                }
            } else if (r == 96) {
                rn_jobgraph_worker_lost(g, 1 + lcg(&x) % 3, NULL);
            } else if (r == 97) {
                rn_jobgraph_worker_left(g, 1 + lcg(&x) % 3);
            } else if (r == 98) {
                rn_jobgraph_forget_output(g, lcg(&x) % (uint32_t)g->n);
            } else {
                rn_jobgraph_unassign(g, lcg(&x) % (uint32_t)g->n);
            }
        }
        assert_true(rn_jobgraph_complete(g));
        check_counters(g);
        assert_int_equal(rn_jobgraph_peek(g), UINT32_MAX);
        rn_free(want);
        rn_free(ready);
        rn_jobgraph_free(g);
    }
}

/* Merging tasks go first: a combine runs as soon as its partials exist. */
static void test_peek_merges_first(void **state)
{
    int term[] = {RN_TERM_FOLD};
    rn_jobgraph *g;
    uint32_t rel[64];
    size_t n_rel;
    (void)state;
    /* 20 sources, split_every 4: combines 20..24, then 25, then finish */
    assert_int_equal(rn_jobgraph_build(term, NULL, 1, 20, 4, &g), 0);
    for (uint32_t t = 0; t < 4; t++) {
        assert_int_equal(rn_jobgraph_peek(g), t);
        rn_jobgraph_assign(g, t, 1);
        rn_jobgraph_done(g, t, 1, 1, rel, &n_rel);
    }
    assert_int_equal(g->tasks[20].kind, RN_GT_COMBINE);
    assert_int_equal(rn_jobgraph_peek(g), 20);
    rn_jobgraph_assign(g, 20, 1);
    assert_int_equal(rn_jobgraph_peek(g), 4);
    rn_jobgraph_free(g);
}

/* A keyed stage with npartitions 3 over 4 splits, then a chain stage:
 * 4 map tasks, 3 reducers each reading all 4, 3 chains; a map task lost
 * after one reducer finished is recomputed for the others only. */
static void test_shuffle(void **state)
{
    int term[] = {RN_TERM_FOLD, RN_TERM_NONE};
    uint32_t np[] = {3, 1};
    uint8_t want[32];
    uint32_t ready[32], rel[32];
    size_t n, n_rel, lost;
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, np, 2, 4, 8, &g), 0);
    assert_int_equal(g->n, 4 + 3 + 3);
    for (uint32_t b = 0; b < 3; b++) {
        const rn_gtask *r = &g->tasks[4 + b];
        assert_int_equal(r->kind, RN_GT_REDUCE);
        assert_int_equal(r->partition, b);
        assert_int_equal(r->n_inputs, 4);
        for (uint32_t i = 0; i < 4; i++)
            assert_int_equal(r->inputs[i], i);
        assert_int_equal(g->tasks[7 + b].kind, RN_GT_CHAIN);
        assert_int_equal(g->tasks[7 + b].n_inputs, 1);
        assert_int_equal(g->tasks[7 + b].inputs[0], 4 + b);
    }
    assert_int_equal(g->n_finals, 3);
    assert_int_equal(g->finals[0], 7);
    /* maps 0-2 on worker 1, map 3 on worker 2 */
    for (uint32_t t = 0; t < 4; t++) {
        rn_jobgraph_assign(g, t, t == 3 ? 2 : 1);
        rn_jobgraph_done(g, t, 1, 1, rel, &n_rel);
        assert_int_equal(n_rel, 0);
    }
    n = rn_jobgraph_ready(g, want, ready, 32);
    assert_int_equal(n, 3); /* the reducers, together */
    rn_jobgraph_assign(g, 4, 2);
    rn_jobgraph_done(g, 4, 1, 1, rel, &n_rel);
    assert_int_equal(n_rel, 0); /* the maps still feed reducers 1, 2 */
    /* worker 1 dies: maps 0-2 are recomputed, reducer 0's output stays */
    assert_int_equal(rn_jobgraph_worker_lost(g, 1, &lost), UINT32_MAX);
    assert_int_equal(lost, 3);
    n = rn_jobgraph_ready(g, want, ready, 32);
    assert_int_equal(n, 4); /* maps 0-2 and chain 7 (after reducer 0) */
    assert_int_equal(run_all(g, 2), 3 + 1 + 2 + 2);
    assert_true(rn_jobgraph_complete(g));
    assert_int_equal(g->tasks[4].runs, 1);
    rn_jobgraph_free(g);

    /* past the bound of the graph: refused, not allocated */
    np[0] = 4096;
    assert_int_equal(rn_jobgraph_build(term, np, 2, 5000, 8, &g), RN_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_tree),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_two_stages),
        cmocka_unit_test(test_map_only),
        cmocka_unit_test(test_lost_worker_recompute),
        cmocka_unit_test(test_release_and_lineage),
        cmocka_unit_test(test_strikes),
        cmocka_unit_test(test_peek_matches_scan),
        cmocka_unit_test(test_peek_merges_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
