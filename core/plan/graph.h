/*
 * The plan of a manifest with datasets (manifest.h): a graph of
 * pipelines, one rn_plan each, with explicit inputs. rn_plan (plan.h)
 * stays the plan of one linear pipeline (a plain manifest); a graph runs
 * locally by rn_local_run_graph (exec/local.h), or on a cluster as one
 * job of several pipelines (cluster/jobspec.h, cluster/jobgraph.h).
 *
 * Nodes. A dataset is cut at its `join` steps: its first node reads its
 * source, or the results of the datasets it names (`from`, `concat`: one
 * task per partition of each, in order; `zip`: task p pairs up partition
 * p of each); a `join` starts a node reading the part before it (left,
 * tagged [0, v]) and the `with` dataset (right, [1, v]) into the engine's
 * join fold (exec/join.h), the steps after it follow in the same node.
 * An output with a sink is a node of its own (from the dataset, the sink
 * as its terminal); a printed output prints a node's result.
 *
 * Fusion. A node reading one other node's result whole (`from`, a sink
 * output) is merged into that node when it is its only reader: its steps
 * (and sink) go on in the same rn_plan, so `from: a` plus steps costs
 * what the same steps written in `a` cost (a fold's result streams into
 * the next stage instead of being held). A node read by several is
 * computed once and its result held until its last reader ran.
 *
 * Order. nodes[] is the order to run them in: every node after the nodes
 * it reads, found depth-first from the outputs in the order they are
 * listed (an output's node comes right before the nodes only later
 * outputs need, so outputs can be printed in their order as they come).
 * Datasets no output reads, directly or not, are not planned (a
 * warning).
 *
 * Checks, each "file:line:col: message" at the name concerned: unknown
 * dataset names (with "did you mean"), a dataset defined twice (after
 * ${VAR} substitution), cycles ("a -> b -> a"), a `join` without `with`,
 * then every pipeline as rn_plan_build checks it (operators, parameters,
 * shape; a scalar fold must be the last step of its dataset).
 *
 * Ownership: the graph owns its arena and its plans (and their operator
 * states); plugins are borrowed from the registry, which must outlive the
 * graph. Read-only after rn_pgraph_init_ops.
 */
#ifndef RN_CORE_GRAPH_H
#define RN_CORE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/error.h"
#include "manifest/manifest.h"
#include "plan/plan.h"
#include "plugin/registry.h"

/* What a node's first stage reads. */
typedef enum {
    RN_PN_SOURCE = 1, /* its plan's source: one task per split */
    RN_PN_PARTS,      /* its inputs' partitions, input after input */
    RN_PN_ZIP         /* partition p of every input zipped: one task each */
} rn_pn_kind;

typedef struct rn_pinput {
    uint32_t node;     /* the node whose result is read (index in nodes),
                          or UINT32_MAX when `source` is set */
    /* A source the node's own tasks read, one task per split: a dataset
     * of a source and narrow steps (map, filter...) that only this node
     * reads is absorbed into it, its steps in front of `first` (a join
     * or concat of sources never holds its inputs). */
    const rn_opinst *source;
    int side;          /* a join's side (0 left, 1 right), else -1 */
    /* Stage 0 of the reading node as tasks of this input run it: the
     * plan's stage 0, behind the join's tag for a join input, behind the
     * narrow operators of what was absorbed. */
    rn_stage first;
    const char *label; /* the dataset as the manifest names it here */
} rn_pinput;

typedef struct rn_pnode {
    const char *name; /* what it computes: "logs", "logs, big" (fused),
                         "joined (join 1)", "both -> to_textfiles" */
    rn_mpos pos;      /* the dataset's name, or the zip's `zip` */
    int kind;         /* rn_pn_kind */
    rn_pinput *inputs;
    size_t n_inputs;
    rn_plan *plan;    /* stages; source when kind is RN_PN_SOURCE */
    /* Readers of its result: inputs of later nodes and printed outputs
     * (one per reference). The result is dropped after the last. */
    uint32_t n_uses;
} rn_pnode;

typedef struct rn_poutput {
    uint32_t node;     /* its result is printed: the dataset's elements,
                          or, for a sink, what the sink says it wrote */
    const char *label; /* "joined", "both -> to_textfiles" */
    int has_sink;
    rn_mpos pos;
} rn_poutput;

typedef struct rn_pgraph {
    rn_arena arena;
    const char *name;          /* the manifest's name (its value) */
    const char *display_name;  /* as plan.h: never a substituted value */
    rn_pnode *nodes;           /* in the order to run */
    size_t n_nodes;
    rn_poutput *outputs;       /* in the manifest's order */
    size_t n_outputs;
    /* every pipeline (nodes' and absorbed ones, whose operators the
     * nodes run): owned, initialised and freed here */
    rn_plan **plans;
    size_t n_plans;
    /* "file:line:col: dataset 'x' is never used ...": not errors */
    const char **warnings;
    size_t n_warnings;
} rn_pgraph;

/* Checks m's graph (m must have datasets) and builds every pipeline
 * (loading the manifest's plugins into reg); no plugin code but the
 * descriptors runs: what `runnel lint` does. */
int rn_pgraph_build(const rn_manifest *m, rn_registry *reg, rn_pgraph **out,
                    rn_errbuf *err);
/* Runs every operator's init (rn_plan_init_ops of each plan). */
int rn_pgraph_init_ops(rn_pgraph *g, rn_errbuf *err);
/* Frees the plans and the graph. NULL is a no-op. */
void rn_pgraph_free(rn_pgraph *g);
/* rn_plan_redact for messages written while the graph ran. */
void rn_pgraph_redact(const rn_pgraph *g, rn_errbuf *err);
/* "FILE:LINE:COL: zip": where the manifest writes a zip node, which
 * starts its errors (exec/chain.h). */
void rn_pgraph_zip_where(const rn_pnode *nd, char *out, size_t cap);
/* The nodes, their inputs and stages, and the outputs, for lint. */
int rn_pgraph_describe(const rn_pgraph *g, rn_buf *out);

#endif
