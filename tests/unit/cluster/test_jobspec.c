#define _GNU_SOURCE
/* A job as the client sends it (core/cluster/jobspec.c): the manifest
 * re-emitted (variables substituted where the client runs, plugin paths
 * replaced by ids, every scalar keeping its YAML type and its exact
 * text), a manifest with datasets as its graph of pipelines, which the
 * scheduler reads back (rn_jobspec_read) into the same tasks, and
 * refuses in words when a client sends a malformed one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <runnel/params.h>

#include "base/buf.h"
#include "cluster/jobspec.h"
#include "manifest/manifest.h"
#include "plugin/registry.h"
#include "transport/methods.h"
#include "transport/rpc.h"
#include "value/codec.h"
#include "value/value.h"

static const rn_mnode *get(const rn_mnode *map, const char *key)
{
    for (size_t i = 0; map && map->type == RN_MN_MAP && i < map->n; i++)
        if (map->keys[i]->len == strlen(key) &&
            memcmp(map->keys[i]->text, key, map->keys[i]->len) == 0)
            return map->items[i];
    return NULL;
}

static void test_roundtrip(void **state)
{
    static const char text[] =
        "name: t\n"
        "plugins:\n"
        "  - ${RNT_LIBDIR}/libx.so\n"
        "source:\n"
        "  range:\n"
        "    n: ${RNT_N}\n"
        "    npartitions: \"${RNT_P}\"\n"
        "steps:\n"
        "  - grep: {pattern: \"a${RNT_X}b $${HOME} 100$ \\\"q\\\" \\t\"}\n"
        "  - topk: {k: 3, key: 1, flag: true, none: ~, s: '007'}\n";
    static const char *const refs[] = {
        "sha256:00ab000000000000000000000000000000000000000000000000000000000000"};
    rn_manifest *m = NULL, *m2 = NULL;
    const rn_mnode *src, *grep, *topk;
    rn_errbuf err;
    rn_buf out;
    (void)state;
    setenv("RNT_LIBDIR", "/opt/x", 1);
    setenv("RNT_N", "10", 1);
    setenv("RNT_P", "3", 1);
    setenv("RNT_X", " {y}: ", 1);
    if (rn_manifest_parse("t.yaml", text, sizeof(text) - 1, &m, &err))
        fail_msg("%s", err.msg);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_jobspec_manifest(m, refs, &out, &err), 0);
    /* where it is parsed again, the environment differs */
    unsetenv("RNT_LIBDIR");
    unsetenv("RNT_N");
    unsetenv("RNT_P");
    unsetenv("RNT_X");
    setenv("HOME", "/somewhere/else", 1);
    if (rn_manifest_parse("again", out.ptr, out.len, &m2, &err))
        fail_msg("%s\n%s", err.msg, out.ptr);
    assert_string_equal(m2->name, "t");
    assert_int_equal(m2->n_plugins, 1);
    assert_string_equal(m2->plugins[0], refs[0]);
    src = get(m2->source.params, "n");
    assert_non_null(src);
    assert_string_equal(src->text, "10");
    assert_true(src->plain);
    src = get(m2->source.params, "npartitions");
    assert_string_equal(src->text, "3");
    assert_true(src->plain); /* "${P}" bound as a number: still does */
    assert_int_equal(m2->n_steps, 2);
    grep = get(m2->steps[0].params, "pattern");
    assert_string_equal(grep->text, "a {y}: b ${HOME} 100$ \"q\" \t");
    assert_false(grep->plain);
    topk = m2->steps[1].params;
    assert_true(get(topk, "k")->plain);
    assert_string_equal(get(topk, "flag")->text, "true");
    assert_true(rn_mnode_is_null(get(topk, "none")));
    assert_false(get(topk, "s")->plain);
    assert_string_equal(get(topk, "s")->text, "007");
    rn_manifest_free(m);
    rn_manifest_free(m2);
    rn_buf_release(&out);
}

#define SECRET "s3cr3t-Marker-7f1e"

static const rn_param_spec k_params[] = {
    {.name = "k", .type = RN_PT_INT, .min = 1, .max = 1000},
    {.name = "s", .type = RN_PT_STRING},
};
static const rn_op_desc k_op = {RN_OP_HEAD(RN_OP_MAP, "kop", "test"),
                                RN_OP_PARAMS(k_params)};

/* Substituted scalars travel tagged `!var`; where the text is parsed
 * again they bind to the same values, and nothing shows them. */
static void test_var_tags(void **state)
{
    static const char text[] =
        "name: nightly-${RNT_DATE}\n"
        "plugins:\n"
        "  - ${RNT_LIBDIR}/libx.so\n"
        "  - ${RNT_LIBDIR}/liby.so\n"
        "source:\n"
        "  range:\n"
        "    n: ${RNT_N}\n"
        "    npartitions: \"${RNT_P}\"\n"
        "    plain: 7\n"
        "steps:\n"
        "  - kop: {k: \"${RNT_K}\", s: \"x-${RNT_S}\"}\n"
        "  - kop: {\"${RNT_KEY}\": 5}\n";
    static const char *const refs[] = {
        "sha256:00ab000000000000000000000000000000000000000000000000000000000000",
        NULL};
    rn_manifest *m = NULL, *m2 = NULL;
    const rn_mnode *n;
    rn_errbuf err;
    rn_buf out;
    rn_arena a;
    rn_value v;
    (void)state;

    setenv("RNT_DATE", SECRET, 1);
    setenv("RNT_LIBDIR", "/opt/" SECRET, 1);
    setenv("RNT_N", "10", 1);
    setenv("RNT_P", "3", 1);
    setenv("RNT_K", "4", 1);
    setenv("RNT_S", SECRET, 1);
    setenv("RNT_KEY", "k", 1);
    if (rn_manifest_parse("t.yaml", text, sizeof(text) - 1, &m, &err))
        fail_msg("%s", err.msg);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_jobspec_manifest(m, refs, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "\nname: !var \"nightly-" SECRET "\"\n"));
    assert_non_null(strstr(out.ptr, "\n  - \"sha256:00ab"));
    assert_non_null(strstr(out.ptr, "\n  - !var \"/opt/" SECRET
                                    "/liby.so\"\n"));
    assert_non_null(strstr(out.ptr, "\"n\": !var 10, "));
    assert_non_null(strstr(out.ptr, "\"npartitions\": !var 3, "));
    assert_non_null(strstr(out.ptr, "\"plain\": 7}"));
    assert_non_null(strstr(out.ptr, "{\"k\": !var 4, \"s\": !var \"x-" SECRET
                                    "\"}"));
    assert_non_null(strstr(out.ptr, "{!var \"k\": 5}"));

    /* where it runs: no environment, the same values */
    unsetenv("RNT_DATE");
    unsetenv("RNT_LIBDIR");
    unsetenv("RNT_N");
    unsetenv("RNT_P");
    unsetenv("RNT_K");
    unsetenv("RNT_S");
    unsetenv("RNT_KEY");
    if (rn_manifest_parse_job("job 1", out.ptr, out.len, &m2, &err))
        fail_msg("%s\n%s", err.msg, out.ptr);
    assert_string_equal(m2->name, "nightly-" SECRET);
    assert_string_equal(m2->display_name, "${...}");
    assert_string_equal(m2->plugins[1], "/opt/" SECRET "/liby.so");
    assert_string_equal(rn_mnode_display(m2->plugin_nodes[1], NULL), "${...}");
    assert_false(m2->plugin_nodes[0]->subst);
    n = get(m2->source.params, "n");
    assert_true(n->plain && n->subst);
    assert_null(n->raw);
    assert_string_equal(n->text, "10");
    assert_true(get(m2->source.params, "npartitions")->plain);
    assert_false(get(m2->source.params, "plain")->subst);
    rn_arena_init(&a, 0);
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m2->steps[0].params,
                                    m2->steps[0].pos, &v, &err),
                     0);
    assert_int_equal(rn_record_get(&v, "k")->u.i, 4);
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m2->steps[1].params,
                                    m2->steps[1].pos, &v, &err),
                     0);
    assert_int_equal(rn_record_get(&v, "k")->u.i, 5);
    rn_manifest_free(m2);

    /* a bad value: the worker's message does not repeat it either */
    rn_buf_reset(&out);
    setenv("RNT_K", "99999", 1);
    rn_manifest_free(m);
    {
        const char *t = "source: {kop: {k: \"${RNT_K}\"}}\n";
        assert_int_equal(rn_manifest_parse("t.yaml", t, strlen(t), &m, &err),
                         0);
    }
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m->source.params,
                                    m->source.pos, &v, &err),
                     RN_ERANGE);
    assert_string_equal(err.msg, "t.yaml:1:19: kop: k: ${RNT_K} is out of "
                                 "range (min 1, max 1000)");
    assert_int_equal(rn_jobspec_manifest(m, NULL, &out, &err), 0);
    unsetenv("RNT_K");
    assert_int_equal(rn_manifest_parse_job("job 2", out.ptr, out.len, &m2,
                                           &err),
                     0);
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m2->source.params,
                                    m2->source.pos, &v, &err),
                     RN_ERANGE);
    assert_null(strstr(err.msg, "99999"));
    assert_non_null(strstr(err.msg, ": kop: k: ${...} is out of range"));
    rn_arena_release(&a);
    rn_manifest_free(m);
    rn_manifest_free(m2);
    rn_buf_release(&out);
}

/* Values longer than their references can make the text too long for
 * the side that parses it: refused where it is written. */
static void test_too_large(void **state)
{
    static char big[1 << 20];
    rn_manifest *m = NULL;
    rn_errbuf err;
    rn_buf text, out;
    (void)state;
    memset(big, 'b', sizeof(big) - 1);
    setenv("RNT_BIG", big, 1);
    rn_buf_init(&text, 0);
    rn_buf_puts(&text, "source: {r: {a: [");
    for (int i = 0; i < 17; i++)
        rn_buf_puts(&text, "\"${RNT_BIG}\", ");
    rn_buf_puts(&text, "]}}\n");
    assert_int_equal(rn_manifest_parse("big.yaml", text.ptr, text.len, &m,
                                       &err),
                     0);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_jobspec_manifest(m, NULL, &out, &err), RN_ELIMIT);
    assert_string_equal(err.msg, "big.yaml: with its variables substituted "
                                 "the manifest is larger than 16777216 "
                                 "bytes (the limit a job's manifest has)");
    rn_buf_release(&out);
    rn_buf_release(&text);
    rn_manifest_free(m);
    unsetenv("RNT_BIG");
}

/* ---- a manifest with datasets ----------------------------------------- */

static const char graph_text[] =
    "name: g\n"
    "datasets:\n"
    "  a: {source: {from_sequence: {items: [{k: 1}, {k: 2}, {k: 3}, {k: 4}], npartitions: 4}}}\n"
    "  b: {source: {from_sequence: {items: [{k: 1}, {k: 5}], npartitions: 2}}, steps: [json_dump]}\n"
    "  both: {concat: [a, b]}\n"
    "  odd: {from: a, steps: [json_dump, {grep: {pattern: \"3\"}}]}\n"
    "  j: {from: a, steps: [{join: {with: b2, key: k, npartitions: 3}}]}\n"
    "  b2: {source: {from_sequence: {items: [{k: 1}, {k: 5}], npartitions: 2}}}\n"
    "  z: {zip: [a, sq]}\n"
    "  sq: {from: a, steps: [json_dump]}\n"
    "outputs: [both, z, j, {dataset: odd, sink: {to_textfiles: {path: \"/tmp/x-*.txt\"}}}, z]\n";

static rn_registry *graph_registry(void)
{
    rn_errbuf err = {0};
    rn_registry *reg;
    setenv("RUNNEL_PLUGIN_PATH", RN_TEST_BUILD_DIR "/plugins", 0);
    reg = rn_registry_new();
    assert_non_null(reg);
    rn_registry_add_shipped(reg, &err);
    return reg;
}

/* The client's graph packed as it travels and read back by the
 * scheduler's side: nodes, outputs and splits agree; the re-emitted
 * manifest plans into the same graph wherever it is parsed. */
static void test_graph_roundtrip(void **state)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__SubmitJobRequest *back = NULL;
    rn_registry *reg = graph_registry();
    rn_manifest *m = NULL, *m2 = NULL;
    rn_pgraph *g = NULL, *g2 = NULL;
    rn_jobspec_graph_out gw;
    rn_jobspec_job job;
    rn_errbuf err = {0};
    rn_buf text;
    uint8_t *packed;
    size_t len;
    (void)state;

    rn_buf_init(&text, 0);
    if (rn_manifest_parse("g.yaml", graph_text, sizeof(graph_text) - 1, &m, &err) ||
        rn_pgraph_build(m, reg, &g, &err) || rn_pgraph_init_ops(g, &err) ||
        rn_jobspec_graph(g, NULL, NULL, &gw, &err) ||
        rn_jobspec_manifest(m, NULL, &text, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(gw.n_nodes, g->n_nodes);
    assert_int_equal(gw.n_outputs, 5);
    assert_int_equal(gw.outputs[1], gw.outputs[4]); /* z twice */
    assert_int_equal(gw.n_splits, 4 + 2 + 2); /* a; b (concat); b2 (join) */
    for (size_t i = 0; i < g->n_nodes; i++) {
        assert_int_equal((int)gw.nodes[i]->kind, g->nodes[i].kind);
        assert_int_equal(gw.nodes[i]->n_stages, g->nodes[i].plan->n_stages);
        assert_string_equal(gw.nodes[i]->name, g->nodes[i].name);
        if (g->nodes[i].kind == RN_PN_ZIP)
            assert_non_null(strstr(gw.nodes[i]->where, "g.yaml:9:"));
    }
    /* as the scheduler receives it */
    req.protocol = RN_PROTOCOL_VERSION;
    req.manifest = text.ptr;
    req.nodes = gw.nodes;
    req.n_nodes = gw.n_nodes;
    req.outputs = gw.outputs;
    req.n_outputs = gw.n_outputs;
    len = runnel__v1__submit_job_request__get_packed_size(&req);
    packed = malloc(len + 1);
    runnel__v1__submit_job_request__pack(&req, packed);
    back = rn_pb_unpack_checked(&runnel__v1__submit_job_request__descriptor,
                                packed, len, &err);
    if (!back)
        fail_msg("%s", err.msg);
    if (rn_jobspec_read(back, &job, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(job.n_nodes, g->n_nodes);
    assert_int_equal(job.splits->n, gw.n_splits);
    assert_int_equal(job.g->n_outputs, 5);
    /* z listed twice: the same tasks, one final each */
    assert_int_equal(job.g->out_off[2] - job.g->out_off[1], 4);
    assert_int_equal(job.g->out_off[5] - job.g->out_off[4], 4);
    assert_int_equal(job.g->out_tasks[job.g->out_off[1]],
                     job.g->out_tasks[job.g->out_off[4]]);
    /* j: 3 reducers */
    assert_int_equal(job.g->out_off[3] - job.g->out_off[2], 3);
    rn_jobspec_job_release(&job);
    /* the manifest as workers parse it: the same pipelines */
    if (rn_manifest_parse_job("job", text.ptr, text.len, &m2, &err) ||
        rn_pgraph_build(m2, reg, &g2, &err))
        fail_msg("%s\n%s", err.msg, text.ptr);
    assert_int_equal(g2->n_nodes, g->n_nodes);
    for (size_t i = 0; i < g->n_nodes; i++) {
        assert_string_equal(g2->nodes[i].name, g->nodes[i].name);
        assert_int_equal(g2->nodes[i].n_inputs, g->nodes[i].n_inputs);
        assert_int_equal(g2->nodes[i].plan->n_stages, g->nodes[i].plan->n_stages);
    }
    rn_pb_free(back);
    free(packed);
    rn_jobspec_graph_free(&gw);
    rn_pgraph_free(g);
    rn_pgraph_free(g2);
    rn_manifest_free(m);
    rn_manifest_free(m2);
    rn_registry_free(reg);
    rn_buf_release(&text);
}

/* A zip of inputs of different partition counts is refused before it is
 * sent, as the local run refuses it. */
static void test_graph_zip_parts(void **state)
{
    static const char text[] =
        "datasets:\n"
        "  a: {source: {range: {n: 10, npartitions: 3}}}\n"
        "  b: {source: {range: {n: 10, npartitions: 2}}}\n"
        "  z: {zip: [a, b]}\n"
        "outputs: [z]\n";
    rn_registry *reg = graph_registry();
    rn_manifest *m = NULL;
    rn_pgraph *g = NULL;
    rn_jobspec_graph_out gw;
    rn_errbuf err = {0};
    (void)state;
    if (rn_manifest_parse("z.yaml", text, sizeof(text) - 1, &m, &err) ||
        rn_pgraph_build(m, reg, &g, &err) || rn_pgraph_init_ops(g, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(rn_jobspec_graph(g, NULL, NULL, &gw, &err), RN_EINVAL);
    if (!strstr(err.msg, "z.yaml:4:7: zip: 'a' has 3 partitions but 'b' 2"))
        fail_msg("%s", err.msg);
    assert_null(gw.nodes);
    rn_pgraph_free(g);
    rn_manifest_free(m);
    rn_registry_free(reg);
}

/* What a hostile client may send: refused in words, nothing built. */
static void expect_read_error(Runnel__V1__SubmitJobRequest *req, int code,
                              const char *needle)
{
    rn_jobspec_job job;
    rn_errbuf err = {0};
    assert_int_equal(rn_jobspec_read(req, &job, &err), code);
    assert_null(job.g);
    assert_null(job.splits);
    if (!strstr(err.msg, needle))
        fail_msg("expected '%s' in '%s'", needle, err.msg);
}

static void test_graph_refused(void **state)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec st = RUNNEL__V1__STAGE_SPEC__INIT, st_fold = st;
    Runnel__V1__StageSpec *stages[] = {&st}, *two[] = {&st, &st_fold};
    Runnel__V1__GraphInput in_src = RUNNEL__V1__GRAPH_INPUT__INIT;
    Runnel__V1__GraphInput in0 = RUNNEL__V1__GRAPH_INPUT__INIT, in1 = in0;
    Runnel__V1__GraphInput *src_in[] = {&in_src}, *of0[] = {&in0},
                           *of1[] = {&in1}, *zip[] = {&in0, &in_src};
    Runnel__V1__GraphNode n0 = RUNNEL__V1__GRAPH_NODE__INIT, n1 = n0;
    Runnel__V1__GraphNode *nodes[] = {&n0, &n1};
    uint32_t out0[] = {0}, out1[] = {1};
    rn_buf splits;
    rn_value v = rn_int(1);
    (void)state;

    rn_buf_init(&splits, 0);
    assert_int_equal(rn_codec_encode(&splits, &v, 1), 0);
    in_src.source = 1;
    in_src.splits.data = (uint8_t *)splits.ptr;
    in_src.splits.len = splits.len;
    in1.node = 1;
    n0.kind = RUNNEL__V1__NODE_KIND__NODE_SOURCE;
    n0.stages = stages;
    n0.n_stages = 1;
    n0.inputs = src_in;
    n0.n_inputs = 1;
    n1.kind = RUNNEL__V1__NODE_KIND__NODE_PARTS;
    n1.stages = stages;
    n1.n_stages = 1;
    n1.inputs = of0;
    n1.n_inputs = 1;
    req.protocol = RN_PROTOCOL_VERSION;
    req.manifest = "name: x";
    req.nodes = nodes;
    req.n_nodes = 2;
    req.outputs = out1;
    req.n_outputs = 1;
    {
        rn_jobspec_job job;
        rn_errbuf err = {0};
        if (rn_jobspec_read(&req, &job, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(job.g->n, 2);
        assert_int_equal(job.splits->n, 1);
        rn_jobspec_job_release(&job);
    }
    req.protocol = 2;
    expect_read_error(&req, RN_EABI, "protocol version 2 is not supported");
    req.protocol = RN_PROTOCOL_VERSION;
    req.n_outputs = 0;
    expect_read_error(&req, RN_EINVAL, "needs outputs");
    req.n_outputs = 1;
    req.outputs = out0;
    out0[0] = 2;
    expect_read_error(&req, RN_EINVAL, "output 0 reads node 2: the job has 2 nodes");
    out0[0] = 0;
    n1.inputs = of1; /* reads itself */
    expect_read_error(&req, RN_EINVAL, "cycle: node 1 -> node 1");
    in1.node = 7;
    expect_read_error(&req, RN_EINVAL, "node 1, input 0 reads node 7");
    in1.node = UINT32_MAX; /* the builder's "source" */
    expect_read_error(&req, RN_EINVAL, "reads node 4294967294");
    n1.inputs = zip;
    n1.n_inputs = 2;
    n1.kind = RUNNEL__V1__NODE_KIND__NODE_ZIP;
    expect_read_error(&req, RN_EINVAL, "a zip reads other nodes");
    n1.kind = (Runnel__V1__NodeKind)9;
    expect_read_error(&req, RN_EINVAL, "node 1: unknown kind 9");
    n1.kind = RUNNEL__V1__NODE_KIND__NODE_PARTS;
    n1.n_inputs = 0;
    expect_read_error(&req, RN_EINVAL, "node 1: reads nothing");
    n1.inputs = of0;
    n1.n_inputs = 1;
    n0.inputs = of0; /* a source node that reads a node */
    expect_read_error(&req, RN_EINVAL, "node 0: a source node reads one source");
    n0.inputs = src_in;
    st_fold.terminal = RUNNEL__V1__TERMINAL__TERMINAL_FOLD;
    st_fold.npartitions = 5000;
    n1.stages = two;
    n1.n_stages = 2;
    expect_read_error(&req, RN_EINVAL, "node 1: stage 0: only the last stage");
    two[0] = &st_fold;
    expect_read_error(&req, RN_EINVAL, "node 1: stage 0: npartitions 5000");
    n1.n_stages = 0;
    expect_read_error(&req, RN_EINVAL, "node 1: a pipeline has 1 to");
    n1.stages = stages;
    n1.n_stages = 1;
    in_src.splits.len = 3;
    expect_read_error(&req, RN_EINVAL, "node 0, malformed splits");
    in_src.splits.len = splits.len;
    req.stages = stages;
    req.n_stages = 1;
    expect_read_error(&req, RN_EINVAL, "either stages and splits");
    rn_buf_release(&splits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_var_tags),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_graph_roundtrip),
        cmocka_unit_test(test_graph_zip_parts),
        cmocka_unit_test(test_graph_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
