/*
 * What a job is on the wire, built by the client from a manifest it has
 * validated (docs/CLUSTER.md, "What a client sends"):
 *
 *   - the manifest re-emitted with ${VAR} already substituted (the
 *     client's environment decides, not each worker's) and every plugin
 *     path replaced by the `sha256:<id>` of the pushed file, so every
 *     worker builds the same plan from the same text;
 *   - the source's splits, planned once on the client (like Dask's
 *     client-side globbing), as one encoded partition;
 *   - per stage, the shape the scheduler needs (terminal kind,
 *     commutativity, the operators' labels for error messages) without
 *     loading any plugin itself.
 *
 * A manifest with datasets (plan/graph.h) is sent as its graph of
 * pipelines instead of one pipeline's stages (rn_jobspec_graph), which
 * the scheduler checks and turns into tasks (rn_jobspec_read).
 *
 * Thread-safety: reentrant.
 */
#ifndef RN_CLUSTER_JOBSPEC_H
#define RN_CLUSTER_JOBSPEC_H

#include "base/buf.h"
#include "base/error.h"
#include "cluster/jobgraph.h"
#include "manifest/manifest.h"
#include "plan/graph.h"
#include "plan/plan.h"
#include "value/partition.h"

#include "runnel_scheduler.pb-c.h"

/* Appends to out a YAML document that parses (rn_manifest_parse_job, or
 * rn_manifest_parse) into the same pipeline as m: scalars as substituted,
 * `name` always present, plugins[i] replaced by refs[i] when refs and
 * refs[i] are not NULL. A literal "${" in a value is written "$${".
 *
 * Scalars keep their YAML type: a plain scalar stays plain (strings are
 * written quoted), a quoted one stays a string, except that a quoted
 * scalar which held a ${VAR} and reads as a number or bool is written
 * plain (so `k: "${K}"` still binds an int parameter; the one difference
 * is an ANY parameter, which then sees the number, not the text).
 *
 * Every scalar that ${VAR} substitution made (keys and `name` too; a
 * plugin path only when no ref replaces it) is written with the local
 * tag `!var` (RN_MTAG_VAR) in front: `k: !var 10`, `urls: !var "s3://b/x"`.
 * The tag changes nothing of the value or its type (the style after it
 * decides, as above); it marks the value as one never to show, so a
 * scheduler's or worker's message about it says "${...}" (manifest.h).
 * The raw text ("${K}") is not sent: it is the client's.
 *
 * RN_ELIMIT when the text would be larger than RN_MANIFEST_MAX_BYTES
 * (values can be longer than the references they replace). Both forms
 * of a manifest are written out: one pipeline, or datasets and outputs
 * (the same keys; plan/graph.c makes the same graph of it wherever it is
 * parsed). */
int rn_jobspec_manifest(const rn_manifest *m, const char *const *refs,
                        rn_buf *out, rn_errbuf *err);

/* The stages of plan as StageSpecs: *out is an array of n pointers to
 * specs allocated with rn_malloc (strings inside view the plan);
 * user_plugin(p) says whether an operator's plugin was pushed by the
 * client. Free with rn_jobspec_stages_free. */
int rn_jobspec_stages(const rn_plan *plan,
                      int (*user_plugin)(const rn_plugin *p, void *ud),
                      void *ud, Runnel__V1__StageSpec ***out, size_t *n,
                      rn_errbuf *err);
void rn_jobspec_stages_free(Runnel__V1__StageSpec **specs, size_t n);

/* ---- a manifest with datasets (plan/graph.h) -------------------------- */

/* The graph of pipelines g as GraphNodes (the client's side): per node
 * its kind, its plan's StageSpecs (rn_jobspec_stages), its inputs (the
 * nodes read, or a source with its splits planned here and encoded) and,
 * for a zip, where the manifest writes it; and the node of every output.
 * g's operators must be initialised (rn_pgraph_init_ops: sources plan
 * their splits). A zip of inputs with different partition counts is
 * refused here with the local run's message. Everything is allocated
 * with rn_malloc (strings view g); free with rn_jobspec_graph_free. */
typedef struct rn_jobspec_graph_out {
    Runnel__V1__GraphNode **nodes;
    size_t n_nodes;
    uint32_t *outputs;
    size_t n_outputs;
    size_t n_splits; /* planned, every source's */
} rn_jobspec_graph_out;
int rn_jobspec_graph(const rn_pgraph *g,
                     int (*user_plugin)(const rn_plugin *p, void *ud),
                     void *ud, rn_jobspec_graph_out *out, rn_errbuf *err);
void rn_jobspec_graph_free(rn_jobspec_graph_out *out); /* zeroes it */

/* ---- the scheduler's side --------------------------------------------- */

/* Bounds of a job the scheduler takes (beyond the wire's, pbbounds.h). */
#define RN_JOBSPEC_MAX_SPLITS 1000000
#define RN_JOBSPEC_MAX_SPLIT_EVERY 64
#define RN_JOBSPEC_MAX_STAGES 1024       /* of one pipeline */
#define RN_JOBSPEC_MAX_GRAPH_STAGES 32768 /* of all a job's pipelines */

/* A submitted job decoded and checked, all but its manifest (which needs
 * the scheduler's plugin store): every field a client controls is
 * hostile until here. A job of one pipeline is a graph of one node. */
typedef struct rn_jobspec_job {
    rn_partition *splits; /* every source's splits, in the graph's order */
    /* the stage shapes, node after node (rn_gtask.gstage indexes them),
     * viewing the request */
    const Runnel__V1__StageSpec **stages;
    size_t n_stages;
    /* per node: GraphNode.where ("" when none), viewing the request */
    const char **where;
    size_t n_nodes;
    uint32_t split_every; /* 2 to RN_JOBSPEC_MAX_SPLIT_EVERY */
    rn_jobgraph *g;
} rn_jobspec_job;
/* Checks req (protocol, stages, splits, the graph: node ids, cycles,
 * inputs, outputs, zips) and builds its task graph. Errors are for the
 * client: RN_EABI (another protocol), RN_EINVAL, RN_ELIMIT, RN_ENOMEM.
 * out views req: it must outlive out's use. */
int rn_jobspec_read(const Runnel__V1__SubmitJobRequest *req,
                    rn_jobspec_job *out, rn_errbuf *err);
void rn_jobspec_job_release(rn_jobspec_job *j); /* zeroes it; NULL ok */

#endif
