/*
 * Writes the seed corpus of fuzz_jobspec: SubmitJobRequests as runnel's
 * client makes them (core/cluster/client.c: the manifest re-emitted, a
 * pipeline's stages and splits, or a graph of datasets from
 * rn_jobspec_graph) and malformed graphs a hostile client could send.
 * The output is checked in under tests/fuzz/corpus/jobspec/; rerun after
 * a change of the messages (the shipped plugins must be found:
 * RUNNEL_PLUGIN_PATH=build/plugins):
 *
 *   build-fuzz/fuzz/gen_jobspec_corpus tests/fuzz/corpus/jobspec
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cluster/jobspec.h"
#include "exec/chain.h"
#include "manifest/manifest.h"
#include "plan/graph.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "transport/methods.h"
#include "value/codec.h"

#include "runnel_scheduler.pb-c.h"

static int write_req(const char *dir, const char *name,
                     Runnel__V1__SubmitJobRequest *req)
{
    char path[4096];
    size_t n = runnel__v1__submit_job_request__get_packed_size(req);
    uint8_t *b = malloc(n + 1);
    FILE *f;
    int ok;
    if (!b)
        return 1;
    runnel__v1__submit_job_request__pack(req, b);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "wb"))) {
        perror(path);
        free(b);
        return 1;
    }
    ok = fwrite(b, 1, n, f) == n;
    ok &= fclose(f) == 0;
    free(b);
    return !ok;
}

/* A manifest with datasets as the client sends it. */
static int graph_seed(const char *dir, const char *name, rn_registry *reg,
                      const char *text)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    rn_manifest *m = NULL;
    rn_pgraph *g = NULL;
    rn_jobspec_graph_out gw;
    rn_errbuf err = {0};
    rn_buf man;
    int rc = 1;

    memset(&gw, 0, sizeof(gw));
    rn_buf_init(&man, 0);
    if (rn_manifest_parse(name, text, strlen(text), &m, &err) ||
        rn_pgraph_build(m, reg, &g, &err) || rn_pgraph_init_ops(g, &err) ||
        rn_jobspec_graph(g, NULL, NULL, &gw, &err) ||
        rn_jobspec_manifest(m, NULL, &man, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        goto done;
    }
    req.protocol = RN_PROTOCOL_VERSION;
    req.name = (char *)g->display_name;
    req.manifest = man.ptr;
    req.nodes = gw.nodes;
    req.n_nodes = gw.n_nodes;
    req.outputs = gw.outputs;
    req.n_outputs = gw.n_outputs;
    req.split_every = 8;
    req.client = "fuzz@seed";
    rc = write_req(dir, name, &req);
done:
    rn_jobspec_graph_free(&gw);
    rn_pgraph_free(g);
    rn_manifest_free(m);
    rn_buf_release(&man);
    return rc;
}

/* A manifest of one pipeline as the client sends it. */
static int plain_seed(const char *dir, const char *name, rn_registry *reg,
                      const char *text)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec **stages = NULL;
    size_t n_stages = 0;
    rn_manifest *m = NULL;
    rn_plan *plan = NULL;
    rn_partition *splits = rn_partition_new();
    rn_errbuf err = {0};
    rn_buf man, enc;
    int rc = 1;

    rn_buf_init(&man, 0);
    rn_buf_init(&enc, 0);
    if (!splits || rn_manifest_parse(name, text, strlen(text), &m, &err) ||
        rn_plan_build(m, reg, &plan, &err) || rn_plan_init_ops(plan, &err) ||
        rn_source_plan(plan->source, splits, &err) ||
        rn_codec_encode(&enc, splits->items, splits->n) ||
        rn_jobspec_stages(plan, NULL, NULL, &stages, &n_stages, &err) ||
        rn_jobspec_manifest(m, NULL, &man, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        goto done;
    }
    req.protocol = RN_PROTOCOL_VERSION;
    req.name = (char *)plan->display_name;
    req.manifest = man.ptr;
    req.stages = stages;
    req.n_stages = n_stages;
    req.split_every = (uint32_t)plan->split_every;
    req.splits.data = (uint8_t *)enc.ptr;
    req.splits.len = enc.len;
    rc = write_req(dir, name, &req);
done:
    rn_jobspec_stages_free(stages, n_stages);
    rn_plan_free(plan);
    rn_manifest_free(m);
    rn_partition_unref(splits);
    rn_buf_release(&man);
    rn_buf_release(&enc);
    return rc;
}

/* Graphs no runnel client sends: node i reads the nodes reads[i][..]
 * (-1 ends a list; -2 a source of 3 splits), kind zip when zips[i]. */
static int bad_seed(const char *dir, const char *name, size_t n,
                    const int reads[][4], const int *zips,
                    const uint32_t *outputs, size_t n_outputs)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec st = RUNNEL__V1__STAGE_SPEC__INIT, *pst = &st;
    Runnel__V1__GraphNode nodes[16], *pn[16];
    Runnel__V1__GraphInput ins[16][4], *pin[16][4];
    rn_value v[3] = {rn_int(1), rn_int(2), rn_int(3)};
    rn_buf splits;
    char *ops[] = {"agg.count"};
    int rc;

    rn_buf_init(&splits, 0);
    if (rn_codec_encode(&splits, v, 3))
        return 1;
    st.ops = ops;
    st.n_ops = 1;
    for (size_t i = 0; i < n; i++) {
        runnel__v1__graph_node__init(&nodes[i]);
        nodes[i].kind = zips[i] ? RUNNEL__V1__NODE_KIND__NODE_ZIP
                                : RUNNEL__V1__NODE_KIND__NODE_PARTS;
        nodes[i].stages = &pst;
        nodes[i].n_stages = 1;
        nodes[i].inputs = pin[i];
        for (size_t q = 0; q < 4 && reads[i][q] != -1; q++) {
            runnel__v1__graph_input__init(&ins[i][q]);
            if (reads[i][q] == -2) {
                ins[i][q].source = 1;
                ins[i][q].splits.data = (uint8_t *)splits.ptr;
                ins[i][q].splits.len = splits.len;
            } else {
                ins[i][q].node = (uint32_t)reads[i][q];
            }
            pin[i][q] = &ins[i][q];
            nodes[i].n_inputs++;
        }
        pn[i] = &nodes[i];
    }
    req.protocol = RN_PROTOCOL_VERSION;
    req.manifest = "name: bad\n";
    req.nodes = pn;
    req.n_nodes = n;
    req.outputs = (uint32_t *)outputs;
    req.n_outputs = n_outputs;
    rc = write_req(dir, name, &req);
    rn_buf_release(&splits);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    rn_registry *reg = rn_registry_new();
    rn_errbuf err = {0};
    int rc = 0;

    if (!reg || rn_registry_add_shipped(reg, &err)) {
        fprintf(stderr, "no shipped plugins: %s\n", err.msg);
        return 1;
    }
    rc |= plain_seed(dir, "plain-fold", reg,
                     "name: p\nsource: {range: {n: 100, npartitions: 5}}\n"
                     "steps: [{frequencies: {npartitions: 3}}, count]\n");
    rc |= graph_seed(dir, "concat-zip", reg,
                     "name: cz\ndatasets:\n"
                     "  a: {source: {range: {n: 40, npartitions: 4}}}\n"
                     "  b: {source: {range: {n: 10, npartitions: 2}}}\n"
                     "  both: {concat: [a, b, a], steps: [count]}\n"
                     "  s: {from: a, steps: [json_dump]}\n"
                     "  z: {zip: [a, s]}\n"
                     "outputs: [both, z, z]\n");
    rc |= graph_seed(dir, "join", reg,
                     "name: j\ndatasets:\n"
                     "  l: {source: {from_sequence: {items: [{k: 1}, {k: 2}], npartitions: 2}}}\n"
                     "  r: {source: {from_sequence: {items: [{k: 2}], npartitions: 1}}}\n"
                     "  j: {from: l, steps: [{join: {with: r, key: k, npartitions: 2}}]}\n"
                     "  n: {from: j, steps: [count]}\n"
                     "outputs: [j, n, {dataset: l, sink: {to_textfiles: {path: /tmp/x-*.txt}}}]\n");
    {
        static const int reads[][4] = {{1, -1}, {2, -1}, {0, -1}};
        static const int zips[] = {0, 0, 0};
        static const uint32_t out[] = {0};
        rc |= bad_seed(dir, "cycle", 3, reads, zips, out, 1);
    }
    {
        static const int reads[][4] = {{-2, -1}, {0, 5, -1}};
        static const int zips[] = {0, 0};
        static const uint32_t out[] = {1};
        rc |= bad_seed(dir, "unknown-node", 2, reads, zips, out, 1);
    }
    {
        /* node 1 folds into 1 partition; zipped with node 0's 3 */
        static const int reads[][4] = {{-2, -1}, {0, -1}, {0, 1, -1}};
        static const int zips[] = {0, 0, 1};
        static const uint32_t out[] = {2, 9};
        rc |= bad_seed(dir, "zip-parts", 3, reads, zips, out, 1);
        rc |= bad_seed(dir, "output-out-of-range", 3, reads, zips, out, 2);
    }
    {
        /* concats of concats: 3 * 4^13 partitions, past the bound */
        int reads[14][4];
        static const int zips[14] = {0};
        static const uint32_t out[] = {13};
        reads[0][0] = -2;
        reads[0][1] = -1;
        for (int i = 1; i < 14; i++)
            for (int q = 0; q < 4; q++)
                reads[i][q] = i - 1;
        rc |= bad_seed(dir, "concat-of-concats", 14,
                       (const int(*)[4])reads, zips, out, 1);
    }
    rn_registry_free(reg);
    return rc;
}
