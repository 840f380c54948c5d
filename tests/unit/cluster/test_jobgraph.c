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
    uint32_t *rel = rn_malloc((g->n + 1) * sizeof(uint32_t)); /* >= fan-in */
    size_t runs = 0, n, n_rel;
    while ((n = rn_jobgraph_ready(g, want, ready, g->n)) > 0)
        for (size_t i = 0; i < n; i++) {
            rn_jobgraph_assign(g, ready[i], worker);
            rn_jobgraph_done(g, ready[i], 10, 1, rel, &n_rel);
            runs++;
        }
    rn_free(want);
    rn_free(ready);
    rn_free(rel);
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

/* ---- graphs of several pipelines (rn_jobgraph_build_dag) ------------- */

static const int T_NONE[] = {RN_TERM_NONE};
static const int T_FOLD[] = {RN_TERM_FOLD};

/* A dataset read by two others is computed once; a concat of a source,
 * a node and the source again numbers its tasks across its inputs; two
 * outputs of one node list its results twice but make one final. */
static void test_dag_shared_and_concat(void **state)
{
    /* node 0: 3 splits, map only; node 1: from 0, fold;
     * node 2: concat [source of 2 splits, node 0, node 1] */
    rn_jg_input in0[] = {{RN_JG_SOURCE, 3, 0}};
    rn_jg_input in1[] = {{0, 0, 0}};
    rn_jg_input in2[] = {{RN_JG_SOURCE, 2, 3}, {0, 0, 0}, {1, 0, 0}};
    rn_jg_node nodes[] = {
        {0, T_NONE, NULL, 1, in0, 1},
        {0, T_FOLD, NULL, 1, in1, 1},
        {0, T_NONE, NULL, 1, in2, 3},
    };
    uint32_t outputs[] = {2, 0, 0};
    rn_errbuf err;
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build_dag(nodes, 3, outputs, 3, 8, &g, &err), 0);
    /* 3 sources; 3 chains + finish; 2 sources + 3 chains + 1 chain */
    assert_int_equal(g->n, 3 + 4 + 6);
    for (uint32_t t = 0; t < 3; t++) {
        assert_int_equal(g->tasks[t].kind, RN_GT_SOURCE);
        assert_int_equal(g->tasks[t].split, t);
        assert_int_equal(g->tasks[t].node, 0);
        /* read by node 1's chain and node 2's: once */
        assert_int_equal(g->tasks[t].n_consumers, 2);
    }
    assert_int_equal(g->tasks[6].kind, RN_GT_FINISH);
    assert_int_equal(g->tasks[6].gstage, 1);
    /* node 2: its tasks numbered across its inputs, in order */
    for (uint32_t k = 0; k < 6; k++) {
        const rn_gtask *t = &g->tasks[7 + k];
        assert_int_equal(t->node, 2);
        assert_int_equal(t->partition, k);
        assert_int_equal(t->gstage, 2);
        assert_int_equal(t->input, k < 2 ? 0 : k < 5 ? 1 : 2);
        assert_int_equal(t->kind, k < 2 ? RN_GT_SOURCE : RN_GT_CHAIN);
    }
    assert_int_equal(g->tasks[7].split, 3);
    assert_int_equal(g->tasks[8].split, 4);
    assert_int_equal(g->tasks[9].inputs[0], 0);
    assert_int_equal(g->tasks[12].inputs[0], 6);
    /* outputs: node 2's 6 results, then node 0's 3, twice */
    assert_int_equal(g->n_outputs, 3);
    assert_int_equal(g->out_off[1], 6);
    assert_int_equal(g->out_off[3], 12);
    assert_int_equal(g->out_tasks[6], 0);
    assert_int_equal(g->out_tasks[9], 0);
    assert_int_equal(g->n_finals, 9);
    /* node 0's results are final: never released */
    assert_int_equal(run_all(g, 1), 13);
    assert_true(rn_jobgraph_complete(g));
    check_counters(g);
    rn_jobgraph_free(g);
}

/* A zip pairs partition p of every input; a join-like node reads a
 * source and a node into a shuffled fold whose reducers read every task
 * of the stage; losing a worker recomputes across nodes. */
static void test_dag_zip_and_shuffle(void **state)
{
    uint32_t np[] = {2};
    rn_jg_input in0[] = {{RN_JG_SOURCE, 4, 0}};
    rn_jg_input in1[] = {{0, 0, 0}};
    rn_jg_input in2[] = {{0, 0, 0}, {1, 0, 0}};
    rn_jg_input in3[] = {{RN_JG_SOURCE, 1, 4}, {2, 0, 0}};
    rn_jg_node nodes[] = {
        {0, T_NONE, NULL, 1, in0, 1}, /* 4 partitions */
        {0, T_NONE, NULL, 1, in1, 1}, /* from 0: 4 */
        {1, T_NONE, NULL, 1, in2, 2}, /* zip [0, 1]: 4 */
        {0, T_FOLD, np, 1, in3, 2},   /* join of a source and the zip */
    };
    uint32_t outputs[] = {3};
    uint8_t want[64];
    uint32_t ready[64], rel[64];
    size_t n_rel, lost;
    rn_errbuf err;
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build_dag(nodes, 4, outputs, 1, 8, &g, &err), 0);
    assert_int_equal(g->n, 4 + 4 + 4 + 5 + 2);
    for (uint32_t p = 0; p < 4; p++) {
        const rn_gtask *z = &g->tasks[8 + p];
        assert_int_equal(z->kind, RN_GT_ZIP);
        assert_int_equal(z->partition, p);
        assert_int_equal(z->n_inputs, 2);
        assert_int_equal(z->inputs[0], p);
        assert_int_equal(z->inputs[1], 4 + p);
    }
    assert_int_equal(g->tasks[12].kind, RN_GT_SOURCE);
    assert_int_equal(g->tasks[12].split, 4);
    for (uint32_t b = 0; b < 2; b++) {
        const rn_gtask *r = &g->tasks[17 + b];
        assert_int_equal(r->kind, RN_GT_REDUCE);
        assert_int_equal(r->partition, b);
        assert_int_equal(r->n_inputs, 5);
        assert_int_equal(r->inputs[0], 12);
        assert_int_equal(r->inputs[4], 16);
    }
    assert_int_equal(g->n_finals, 2);
    /* run everything on worker 1 but node 0's tasks, on worker 2 */
    while (rn_jobgraph_ready(g, want, ready, 64)) {
        size_t n = rn_jobgraph_ready(g, want, ready, 64);
        for (size_t i = 0; i < n; i++) {
            if (ready[i] >= 17)
                continue; /* the reducers wait */
            rn_jobgraph_assign(g, ready[i], ready[i] < 4 ? 2 : 1);
            rn_jobgraph_done(g, ready[i], 1, 1, rel, &n_rel);
            for (size_t k = 0; k < n_rel; k++)
                rn_jobgraph_release(g, rel[k]);
        }
        if (g->tasks[16].state == RN_TS_DONE)
            break;
    }
    /* node 0's outputs were read by both their consumers: released */
    assert_true(g->tasks[0].released);
    /* worker 1 dies with the join's 5 map outputs (the zips' and node
     * 1's were read and released): the whole lineage back to node 0,
     * released, runs again */
    assert_int_equal(rn_jobgraph_worker_lost(g, 1, &lost), UINT32_MAX);
    assert_int_equal(lost, 5);
    assert_int_equal(run_all(g, 3), 4 + 4 + 4 + 5 + 2);
    assert_true(rn_jobgraph_complete(g));
    check_counters(g);
    rn_jobgraph_free(g);
}

/* Nodes may come in any order: tasks follow the order of what reads
 * what; gstage counts node by node in the nodes' own order. */
static void test_dag_order(void **state)
{
    rn_jg_input in0[] = {{1, 0, 0}};
    rn_jg_input in1[] = {{RN_JG_SOURCE, 2, 0}};
    int t2[] = {RN_TERM_FOLD, RN_TERM_NONE};
    rn_jg_node nodes[] = {
        {0, T_NONE, NULL, 1, in0, 1},
        {0, t2, NULL, 2, in1, 1},
    };
    uint32_t outputs[] = {0};
    rn_errbuf err;
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build_dag(nodes, 2, outputs, 1, 8, &g, &err), 0);
    assert_int_equal(g->n, 2 + 1 + 1 + 1);
    assert_int_equal(g->tasks[0].node, 1);
    assert_int_equal(g->tasks[0].gstage, 1);
    assert_int_equal(g->tasks[3].node, 1);
    assert_int_equal(g->tasks[3].gstage, 2);
    assert_int_equal(g->tasks[4].node, 0);
    assert_int_equal(g->tasks[4].gstage, 0);
    assert_int_equal(g->tasks[4].inputs[0], 3);
    rn_jobgraph_free(g);
}

static void expect_refused(const rn_jg_node *nodes, size_t n,
                           const uint32_t *outputs, size_t n_out, int code,
                           const char *needle)
{
    rn_jobgraph *g = (rn_jobgraph *)1;
    rn_errbuf err;
    rn_error_clear(&err);
    assert_int_equal(rn_jobgraph_build_dag(nodes, n, outputs, n_out, 8, &g, &err),
                     code);
    assert_null(g);
    if (!strstr(err.msg, needle))
        fail_msg("expected '%s' in '%s'", needle, err.msg);
}

/* A graph from a client is checked before anything is built. */
static void test_dag_refused(void **state)
{
    rn_jg_input src[] = {{RN_JG_SOURCE, 3, 0}};
    rn_jg_input bad_id[] = {{9, 0, 0}};
    rn_jg_input of0[] = {{0, 0, 0}}, of1[] = {{1, 0, 0}}, of2[] = {{2, 0, 0}};
    rn_jg_input zip_src[] = {{0, 0, 0}, {RN_JG_SOURCE, 3, 0}};
    rn_jg_input zip01[] = {{0, 0, 0}, {1, 0, 0}};
    uint32_t out0[] = {0}, out5[] = {5};
    (void)state;
    {
        rn_jg_node nodes[] = {{0, T_NONE, NULL, 1, bad_id, 1}};
        expect_refused(nodes, 1, out0, 1, RN_EINVAL,
                       "node 0, input 0 reads node 9: the job has 1 nodes");
        expect_refused(nodes, 1, out5, 1, RN_EINVAL,
                       "output 0 reads node 5: the job has 1 nodes");
        expect_refused(nodes, 1, out0, 0, RN_EINVAL, "needs nodes and outputs");
        expect_refused(nodes, 0, out0, 1, RN_EINVAL, "needs nodes and outputs");
    }
    {
        /* 0 reads 2, 2 reads 1, 1 reads 0 */
        rn_jg_node nodes[] = {{0, T_NONE, NULL, 1, of2, 1},
                              {0, T_NONE, NULL, 1, of0, 1},
                              {0, T_NONE, NULL, 1, of1, 1}};
        expect_refused(nodes, 3, out0, 1, RN_EINVAL,
                       "cycle: node 0 -> node 2 -> node 1 -> node 0");
        nodes[0].inputs = of0; /* reads itself */
        expect_refused(nodes, 1, out0, 1, RN_EINVAL, "cycle: node 0 -> node 0");
    }
    {
        rn_jg_node nodes[] = {{0, T_NONE, NULL, 1, src, 1},
                              {1, T_NONE, NULL, 1, zip_src, 2}};
        uint32_t out1[] = {1};
        expect_refused(nodes, 2, out1, 1, RN_EINVAL, "a zip reads other nodes");
        nodes[1].n_inputs = 0;
        expect_refused(nodes, 2, out1, 1, RN_EINVAL, "node 1 reads nothing");
        nodes[1].n_inputs = 1;
        nodes[1].n_stages = 0;
        expect_refused(nodes, 2, out1, 1, RN_EINVAL, "node 1 has no stage");
    }
    {
        /* node 1 folds node 0's 3 partitions into 1: zip 3 with 1 */
        rn_jg_node nodes[] = {{0, T_NONE, NULL, 1, src, 1},
                              {0, T_FOLD, NULL, 1, of0, 1},
                              {1, T_NONE, NULL, 1, zip01, 2}};
        uint32_t out2[] = {2};
        expect_refused(nodes, 3, out2, 1, RN_EINVAL,
                       "node 2 zips node 0, of 3 partitions, with node 1, of 1");
    }
    {
        /* concats of concats: 256^4 partitions are refused, not built */
        rn_jg_input wide[5][256];
        rn_jg_node nodes[5];
        uint32_t out4[] = {4};
        wide[0][0] = (rn_jg_input){RN_JG_SOURCE, 256, 0};
        nodes[0] = (rn_jg_node){0, T_NONE, NULL, 1, wide[0], 1};
        for (int d = 1; d < 5; d++) {
            for (int k = 0; k < 256; k++)
                wide[d][k] = (rn_jg_input){(uint32_t)d - 1, 0, 0};
            nodes[d] = (rn_jg_node){0, T_NONE, NULL, 1, wide[d], 256};
        }
        expect_refused(nodes, 5, out4, 1, RN_ELIMIT, "tasks and");
    }
}

/* A shuffle of more tasks than one task may read (RN_JOBGRAPH_FAN_IN):
 * combines merge bucket b of runs of them, twice past FAN_IN^2, and the
 * reducer reads whole partials; no task reads more than FAN_IN. */
static void test_wide_shuffle(void **state)
{
    int term[] = {RN_TERM_FOLD};
    uint32_t np[] = {2};
    size_t maps = 3 * RN_JOBGRAPH_FAN_IN + 7, combines = 0;
    rn_jobgraph *g;
    (void)state;
    assert_int_equal(rn_jobgraph_build(term, np, 1, maps, 8, &g), 0);
    for (size_t t = 0; t < g->n; t++) {
        const rn_gtask *k = &g->tasks[t];
        assert_true(k->n_inputs <= RN_JOBGRAPH_FAN_IN);
        if (k->kind == RN_GT_COMBINE) {
            combines++;
            /* the first combines read a bucket of maps, evenly cut */
            assert_true(k->inputs[0] < maps);
            assert_true(k->n_inputs >= maps / 4);
            assert_int_equal(k->bucket, combines <= 4 ? 0 : 1);
        } else if (k->kind == RN_GT_REDUCE) {
            assert_int_equal(k->n_inputs, 4);
            assert_int_equal(k->bucket, 0); /* whole partials */
            for (uint32_t i = 0; i < 4; i++)
                assert_int_equal(g->tasks[k->inputs[i]].kind, RN_GT_COMBINE);
        }
    }
    assert_int_equal(combines, 2 * 4);
    assert_int_equal(g->n_finals, 2);
    assert_int_equal(run_all(g, 1), maps + 8 + 2);
    assert_true(rn_jobgraph_complete(g));
    rn_jobgraph_free(g);

    /* at FAN_IN tasks exactly: no combines, reducers read their bucket */
    assert_int_equal(rn_jobgraph_build(term, np, 1, RN_JOBGRAPH_FAN_IN, 8, &g), 0);
    assert_int_equal(g->n, RN_JOBGRAPH_FAN_IN + 2);
    assert_int_equal(g->tasks[RN_JOBGRAPH_FAN_IN + 1].bucket, 1);
    rn_jobgraph_free(g);

    /* past FAN_IN^2: two levels, the second reading whole partials */
    maps = (size_t)RN_JOBGRAPH_FAN_IN * RN_JOBGRAPH_FAN_IN + 1;
    np[0] = 1 + 1; /* still within the shuffle's edge bound */
    assert_int_equal(rn_jobgraph_build(term, np, 1, maps, 8, &g), 0);
    size_t lvl2 = 0;
    for (size_t t = maps; t < g->n; t++) {
        const rn_gtask *k = &g->tasks[t];
        assert_true(k->n_inputs <= RN_JOBGRAPH_FAN_IN);
        if (k->kind == RN_GT_COMBINE && k->inputs[0] >= maps) {
            lvl2++;
            assert_int_equal(k->bucket, 0);
        }
    }
    assert_int_equal(lvl2, 2 * 2);
    rn_jobgraph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_tree),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_wide_shuffle),
        cmocka_unit_test(test_two_stages),
        cmocka_unit_test(test_map_only),
        cmocka_unit_test(test_lost_worker_recompute),
        cmocka_unit_test(test_release_and_lineage),
        cmocka_unit_test(test_strikes),
        cmocka_unit_test(test_peek_matches_scan),
        cmocka_unit_test(test_peek_merges_first),
        cmocka_unit_test(test_dag_shared_and_concat),
        cmocka_unit_test(test_dag_zip_and_shuffle),
        cmocka_unit_test(test_dag_order),
        cmocka_unit_test(test_dag_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
