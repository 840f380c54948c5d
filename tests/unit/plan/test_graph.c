/* The graph of a manifest with datasets: names resolved (and the errors
 * when they are not, with "did you mean"), duplicates after ${VAR}
 * substitution, cycles, unused datasets as warnings, nodes cut at joins,
 * `from:` fused, narrow sources absorbed into a join, a dataset read by
 * several computed once, the run order, and a small graph run end to
 * end. */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "exec/local.h"
#include "manifest/manifest.h"
#include "plan/graph.h"
#include "plugin/registry.h"
#include "value/value.h"

static rn_registry *reg;

static int setup(void **state)
{
    rn_errbuf err = {0};
    (void)state;
    setenv("RUNNEL_PLUGIN_PATH", RN_TEST_BUILD_DIR "/plugins", 0);
    if (!(reg = rn_registry_new()))
        return -1;
    rn_registry_add_shipped(reg, &err);
    return rn_registry_by_name(reg, "agg") ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rn_registry_free(reg);
    return 0;
}

typedef struct built {
    rn_manifest *m;
    rn_pgraph *g;
} built;

static built build_ok(const char *text)
{
    built b = {0};
    rn_errbuf err = {0};
    if (rn_manifest_parse("g.yaml", text, strlen(text), &b.m, &err) ||
        rn_pgraph_build(b.m, reg, &b.g, &err))
        fail_msg("unexpected error: %s", err.msg);
    return b;
}

static void built_free(built *b)
{
    rn_pgraph_free(b->g);
    rn_manifest_free(b->m);
}

static void build_err(const char *text, const char *msg)
{
    rn_manifest *m = NULL;
    rn_pgraph *g = NULL;
    rn_errbuf err = {0};
    int rc = rn_manifest_parse("g.yaml", text, strlen(text), &m, &err);
    if (rc == 0)
        rc = rn_pgraph_build(m, reg, &g, &err);
    assert_null(g);
    rn_manifest_free(m);
    if (rc == 0 || strcmp(err.msg, msg) != 0)
        fail_msg("got %d '%s'\nwant '%s'", rc, err.msg, msg);
}

static uint32_t node_named(const rn_pgraph *g, const char *name)
{
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    fail_msg("no node '%s'", name);
    return UINT32_MAX;
}

static void test_errors(void **state)
{
    (void)state;
    build_err("datasets:\n  logs: {source: {range: {n: 1}}}\n"
              "  a: {from: lgos}\noutputs: [a]\n",
              "g.yaml:3:13: unknown dataset 'lgos' (did you mean 'logs'?)");
    build_err("datasets:\n  logs: {source: {range: {n: 1}}}\n"
              "  a: {concat: [logs, zzzzzz]}\noutputs: [a]\n",
              "g.yaml:3:22: unknown dataset 'zzzzzz' (the datasets are "
              "logs, a)");
    build_err("datasets:\n  a: {source: {range: {n: 1}}}\noutputs: [b]\n",
              "g.yaml:3:11: outputs: unknown dataset 'b' (the datasets are "
              "a)");
    build_err("datasets:\n  a: {from: b}\n  b: {zip: [a, c]}\n"
              "  c: {source: {range: {n: 1}}}\noutputs: [c]\n",
              "g.yaml:3:13: datasets read each other in a cycle: a -> b -> a "
              "(each reads the next)");
    build_err("datasets:\n  a:\n    source: {range: {n: 1}}\n    steps:\n"
              "      - join: {with: a, key: 0}\noutputs: [a]\n",
              "g.yaml:5:22: datasets read each other in a cycle: a -> a "
              "(each reads the next)");
    build_err("datasets:\n  a:\n    source: {range: {n: 1}}\n    steps:\n"
              "      - join\noutputs: [a]\n",
              "g.yaml:5:9: join: missing required parameter 'with' (the "
              "dataset to join with)");
    build_err("datasets:\n  a:\n    source: {range: {n: 1}}\n    steps:\n"
              "      - join: {with: [b], key: 0}\noutputs: [a]\n",
              "g.yaml:5:22: join: with: expected a dataset name, got a list");
    build_err("datasets:\n  a:\n    source: {range: {n: 1}}\n    steps:\n"
              "      - join: {with: a2, key: 0, how: right}\n"
              "  a2: {source: {range: {n: 1}}}\noutputs: [a]\n",
              "g.yaml:5:39: join: how: 'right' is not one of: inner, left");
    build_err("datasets:\n  a:\n    source: {range: {n: 1}}\n    steps:\n"
              "      - join: {with: a2}\n"
              "  a2: {source: {range: {n: 1}}}\noutputs: [a]\n",
              "g.yaml:5:15: join: missing required parameter 'key'");
    build_err("datasets:\n  a: {source: {range: {n: 1}}, steps: [nosuch]}\n"
              "outputs: [a]\n",
              "g.yaml:2:40: unknown operator 'nosuch'");
}

/* Two keys that differ as written but are equal once substituted: the
 * manifest refuses them (the graph would too). */
static void test_duplicate_after_substitution(void **state)
{
    (void)state;
    setenv("RN_TG_A", "same", 1);
    setenv("RN_TG_B", "same", 1);
    build_err("datasets:\n  ${RN_TG_A}: {source: {range: {n: 1}}}\n"
              "  ${RN_TG_B}: {source: {range: {n: 1}}}\noutputs: [same]\n",
              "g.yaml:3:3: duplicate key '${RN_TG_B}' (first at 2:3)");
}

static void test_nodes(void **state)
{
    built b;
    const rn_pgraph *g;
    uint32_t logs, joined, both;
    (void)state;
    b = build_ok("name: report\n"
                 "datasets:\n"
                 "  logs: {source: {range: {n: 9, npartitions: 3}}}\n"
                 "  users: {source: {range: {n: 4}}, steps: [json_dump]}\n"
                 "  alias: {from: logs}\n"
                 "  n: {from: alias, steps: [count]}\n"
                 "  both: {concat: [logs, users]}\n"
                 "  unused: {from: users}\n"
                 "  joined:\n"
                 "    from: logs\n"
                 "    steps:\n"
                 "      - json_dump\n"
                 "      - join: {with: users, key: x, npartitions: 4}\n"
                 "      - count\n"
                 "outputs:\n"
                 "  - joined\n"
                 "  - both\n"
                 "  - {dataset: n, sink: {to_textfiles: {path: /tmp/x}}}\n");
    g = b.g;
    assert_string_equal(g->display_name, "report");
    assert_int_equal(g->n_warnings, 1);
    assert_non_null(strstr(g->warnings[0], "g.yaml:8:3: warning: dataset "
                                           "'unused' is never used"));
    /* logs (read by the join's left part, both and n), users (read by
     * the join and both), the left part of joined (json_dump, absorbed?
     * no: it reads logs, which is read thrice), the join, both, n with
     * its sink fused */
    logs = node_named(g, "logs");
    assert_int_equal(g->nodes[logs].kind, RN_PN_SOURCE);
    assert_int_equal(g->nodes[logs].n_uses, 3);
    assert_int_equal(g->nodes[node_named(g, "users")].n_uses, 2);
    joined = node_named(g, "joined (join 1, with users)");
    assert_int_equal(g->nodes[joined].n_inputs, 2);
    /* the left part (json_dump after logs) is absorbed into the join */
    assert_int_equal(g->nodes[joined].inputs[0].node, logs);
    assert_int_equal(g->nodes[joined].inputs[0].side, 0);
    assert_int_equal(g->nodes[joined].inputs[0].first.n_narrow, 2);
    assert_string_equal(g->nodes[joined].inputs[0].first.narrow[0]->label,
                        "json.json_dump");
    assert_int_equal(g->nodes[joined].inputs[1].side, 1);
    assert_int_equal(g->nodes[joined].inputs[1].first.n_narrow, 1);
    assert_int_equal(g->nodes[joined].plan->n_stages, 2);
    assert_int_equal(g->nodes[joined].plan->stages[0].nparts, 4);
    both = node_named(g, "both");
    assert_int_equal(g->nodes[both].n_inputs, 2);
    assert_int_equal(g->nodes[both].inputs[0].node, logs);
    /* `alias` is logs itself; n and its sink are one pipeline */
    assert_int_equal(g->nodes[node_named(g, "n -> to_textfiles")].n_inputs,
                     1);
    assert_int_equal(g->n_nodes, 5);
    /* in order: every node after what it reads, outputs in their order */
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            assert_true(g->nodes[i].inputs[k].node < i);
    assert_int_equal(g->outputs[0].node, joined);
    assert_int_equal(g->outputs[1].node, both);
    assert_true(joined < both);
    assert_string_equal(g->outputs[2].label, "n -> to_textfiles");
    assert_true(g->outputs[2].has_sink);
    built_free(&b);
}

/* A join of two sources with narrow steps reads them in its own tasks;
 * a chain of from: is one pipeline. */
static void test_fusion(void **state)
{
    built b;
    rn_buf d;
    (void)state;
    b = build_ok("datasets:\n"
                 "  l: {source: {range: {n: 9}}, steps: [json_dump]}\n"
                 "  r: {source: {range: {n: 4}}}\n"
                 "  j: {from: l, steps: [{join: {with: r, key: x}}]}\n"
                 "outputs: [j]\n");
    assert_int_equal(b.g->n_nodes, 1);
    assert_int_equal(b.g->nodes[0].n_inputs, 2);
    assert_non_null(b.g->nodes[0].inputs[0].source);
    assert_non_null(b.g->nodes[0].inputs[1].source);
    assert_int_equal(b.g->n_plans, 3);
    rn_buf_init(&d, 0);
    rn_pgraph_describe(b.g, &d);
    assert_non_null(strstr(d.ptr, "its source sources.range read here, "
                                  "left side"));
    rn_buf_release(&d);
    built_free(&b);

    b = build_ok("datasets:\n"
                 "  a: {source: {range: {n: 9}}}\n"
                 "  b: {from: a, steps: [frequencies]}\n"
                 "  c: {from: b, steps: [count]}\n"
                 "outputs: [c]\n");
    assert_int_equal(b.g->n_nodes, 1);
    assert_string_equal(b.g->nodes[0].name, "a, b, c");
    assert_int_equal(b.g->nodes[0].plan->n_stages, 2);
    built_free(&b);
}

/* Depth-first from the outputs: the second output's own nodes come
 * after the first output's node. */
static void test_order(void **state)
{
    built b;
    (void)state;
    b = build_ok("datasets:\n"
                 "  a: {source: {range: {n: 9}}, steps: [count]}\n"
                 "  b: {source: {range: {n: 9}}, steps: [sum]}\n"
                 "outputs: [b, a]\n");
    assert_int_equal(b.g->n_nodes, 2);
    assert_string_equal(b.g->nodes[0].name, "b");
    assert_string_equal(b.g->nodes[1].name, "a");
    built_free(&b);
}

/* ---- a run, collected through rn_graph_out ---------------------------- */

typedef struct collect {
    rn_buf b;
    size_t begun, ended;
} collect;

static int c_begin(void *ud, size_t k)
{
    collect *c = ud;
    c->begun++;
    return rn_buf_printf(&c->b, "#%zu", k);
}

static int c_value(void *ud, const rn_value *v)
{
    collect *c = ud;
    rn_buf_putc(&c->b, ' ');
    return rn_value_to_json(&c->b, v);
}

static int c_end(void *ud, size_t k, uint64_t parts)
{
    collect *c = ud;
    (void)k;
    c->ended++;
    return rn_buf_printf(&c->b, " (%llu)\n", (unsigned long long)parts);
}

static void test_run(void **state)
{
    built b;
    collect c;
    rn_graph_out out = {c_begin, c_value, c_end, &c};
    rn_run_opts opts = {0};
    rn_run_result res;
    rn_errbuf err = {0};
    (void)state;
    memset(&c, 0, sizeof(c));
    rn_buf_init(&c.b, 0);
    b = build_ok("datasets:\n"
                 "  l: {source: {from_sequence: {items: [[1, a], [2, b], "
                 "[1, c], [3, d]], npartitions: 2}}}\n"
                 "  r: {source: {from_sequence: {items: [[1, x], [1, y], "
                 "[2, z]]}}}\n"
                 "  j: {from: l, steps: [{join: {with: r, key: 0, how: "
                 "left}}]}\n"
                 "  n: {concat: [l, r], steps: [count]}\n"
                 "  z: {zip: [l, l]}\n"
                 "outputs: [n, j, z]\n");
    opts.threads = 2;
    if (rn_local_run_graph(b.g, &opts, &out, &res, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(c.begun, 3);
    assert_int_equal(c.ended, 3);
    /* keys in hash order: check each key's pairs, left-major, and the
     * whole as a set through the sorted text of the three lines */
    assert_non_null(strstr(c.b.ptr, "#0 7 (1)\n"));
    assert_non_null(strstr(c.b.ptr, "[[1, \"a\"], [1, \"x\"]] [[1, \"a\"], "
                                    "[1, \"y\"]] [[1, \"c\"], [1, \"x\"]] "
                                    "[[1, \"c\"], [1, \"y\"]]"));
    assert_non_null(strstr(c.b.ptr, "[[2, \"b\"], [2, \"z\"]]"));
    assert_non_null(strstr(c.b.ptr, "[[3, \"d\"], null]"));
    assert_non_null(strstr(c.b.ptr, "#2 [[1, \"a\"], [1, \"a\"]] [[2, "
                                    "\"b\"], [2, \"b\"]] [[1, \"c\"], [1, "
                                    "\"c\"]] [[3, \"d\"], [3, \"d\"]] (2)\n"));
    rn_buf_release(&c.b);
    built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_duplicate_after_substitution),
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_fusion),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
