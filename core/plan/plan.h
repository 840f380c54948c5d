/*
 * The planner: manifest -> logical plan -> physical stages.
 *
 * Logical: source, steps, optional sink, each resolved to a plugin operator
 * with parameters bound and validated against the operator's table.
 * Physical: the steps are cut into stages. A stage is a fused chain of
 * narrow operators (map, flat_map, filter, partition) ending in a
 * boundary: a fold (per-partition accumulate, then a combine tree with
 * fan-in `split_every`), a sink, or nothing (the partitions are the
 * output). Stage 0 reads the source's splits, one task per split; a later
 * stage reads the previous stage's output partitions, one task per
 * partition. A task is: (plan, stage, one input) -> one output partition;
 * it is the unit the cluster ships.
 *
 * Building is linear in the number of steps (time and memory): the
 * stages' chains are slices of one array, nothing is copied per step.
 *
 * Values substituted from ${VAR} are never shown (manifest.h): errors
 * quote manifest scalars through rn_mnode_display, `display_name` is the
 * name to list, log or send as the job's name, and rn_plan_redact cleans
 * messages that plugins wrote (init errors are cleaned here already).
 *
 * Ownership: the plan owns its arena (bound params, labels, a copy of the
 * manifest's substituted values) and the
 * operator states made by rn_plan_init_ops. Plugins are borrowed from the
 * registry, which must outlive the plan. Read-only after init: tasks on
 * many threads share one plan.
 */
#ifndef RN_CORE_PLAN_H
#define RN_CORE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/plugin.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/error.h"
#include "manifest/manifest.h"
#include "plugin/registry.h"

typedef struct rn_opinst {
    rn_plugin *plugin;
    const rn_op_desc *op;
    rn_value params;    /* RN_RECORD, bound and validated */
    void *state;        /* from op->init; NULL before rn_plan_init_ops */
    int inited;
    const char *label;  /* "plugin.op" */
    rn_mpos pos;        /* where the manifest named it */
    /* FOLDBY: how many partitions the keyed result is cut into by key
     * hash (the step's `npartitions`, a parameter the engine takes for
     * every keyed fold, never passed to the plugin); 1 otherwise. */
    uint32_t nparts;
} rn_opinst;

/* The most partitions a keyed fold may be cut into. */
#define RN_PLAN_MAX_NPARTS 4096

typedef struct rn_stage {
    rn_opinst **narrow; /* fused chain */
    size_t n_narrow;
    rn_opinst *terminal; /* FOLD, FOLDBY, SINK, or NULL */
    /* Output partitions of a keyed stage: terminal->nparts (1 for any
     * other stage). With N > 1 the keyed result is cut by key hash
     * (rn_acc_bucket: ranges of the hash, so the N partitions in order
     * hold the keys in the same order as one would), the hash shuffle:
     * on a cluster every task saves its partial table as N partitions
     * and N reduce tasks each merge one of them from every task. */
    uint32_t nparts;
} rn_stage;

typedef struct rn_plan {
    rn_arena arena;
    const char *name;         /* the manifest's name: its value */
    /* The name to show: in lists of jobs, logs, `runnel lint`, the job
     * name a client sends. The manifest's display_name: `name` as written
     * when ${VAR} substitution made it ("nightly-${DATE}"), "${...}" when
     * it came from a job spec's `!var`, else the name itself. Never holds
     * a substituted value. */
    const char *display_name;
    const rn_msecret *secrets; /* the manifest's, copied (rn_plan_redact) */
    size_t n_secrets;
    rn_opinst *source;
    rn_opinst *ops;      /* all operators: source first, then steps, sink */
    size_t n_ops;
    rn_stage *stages;
    size_t n_stages;
    int split_every;     /* combine fan-in (>= 2) */
} rn_plan;

/* The position of the one operator labelled `label` in plans[0..n) (a
 * plan, or a graph's: plan/graph.h), or NULL when none or several are (a
 * client placing a worker's error). */
const rn_mpos *rn_plan_position_of(rn_plan *const *plans, size_t n,
                                   const char *label, size_t label_len);

/* Forgets where the operators were written: a worker's plan comes from
 * the text a client generated, whose lines are not the user's file's
 * (errors then leave them out; the client adds the user's). */
void rn_plan_forget_positions(rn_plan *p);

/* Resolves every operator (loading the manifest's plugins into reg),
 * binds and validates parameters, checks the shape (a source first, a
 * scalar fold last, a sink only at the end) and cuts stages. No plugin
 * code other than the descriptors runs: this is what `runnel lint` does.
 * Errors read "file:line:col: message". */
int rn_plan_build(const rn_manifest *m, rn_registry *reg, rn_plan **out,
                  rn_errbuf *err);
/* A one-operator plan (the test harness; `op` with params already
 * bound). */
int rn_plan_single(rn_plugin *p, const rn_op_desc *op, const rn_value *params,
                   rn_plan **out, rn_errbuf *err);
/* Runs every operator's init (once per process per job). */
int rn_plan_init_ops(rn_plan *plan, rn_errbuf *err);
/* Destroys operator states and frees the plan. NULL is a no-op. */
void rn_plan_free(rn_plan *plan);

/* Replaces, in err's message, every value ${VAR} substitution put into
 * the plan's manifest by "${VAR}" (rn_msecrets_redact): for messages
 * plugins wrote while the plan ran. plan and err may be NULL. */
void rn_plan_redact(const rn_plan *plan, rn_errbuf *err);

/* Human-readable plan (stages and operators) for `runnel lint`; names the
 * pipeline by display_name. */
int rn_plan_describe(const rn_plan *plan, rn_buf *out);
/* The stages alone (rn_plan_describe without its first line), each line
 * started with `indent`. */
int rn_plan_describe_stages(const rn_plan *plan, const char *indent,
                            rn_buf *out);

/* ---- for plan/graph.c: one pipeline of a graph ------------------------ */

/* One step of a pipeline being built: a manifest step resolved in the
 * registry, or (engine_op set) an operator of the engine's own bound
 * against its table from the step's parameters (the join's cogroup). */
typedef struct rn__pstep {
    const rn_mstep *step;
    const rn_op_desc *engine_op;
    /* 1 when a dataset starts here: it may follow a scalar fold (the
     * rule that one must be last holds within a dataset's steps) */
    int starts_dataset;
} rn__pstep;

/* The plugin that owns the engine's own operators ("runnel"). */
extern rn_plugin rn__engine_plugin;

/* Loads the plugins a manifest lists into reg. */
int rn__plan_load_plugins(const rn_manifest *m, rn_registry *reg,
                          rn_errbuf *err);
/* Builds one pipeline of m (its name, display name and secrets are the
 * manifest's): source (NULL: stage 0 reads partitions it is given, one
 * task per partition), the steps, and an optional sink, with the checks
 * of rn_plan_build. The manifest's plugins must be loaded already. */
int rn__plan_build_steps(const rn_manifest *m, rn_registry *reg,
                         const rn_mstep *source, const rn__pstep *steps,
                         size_t n_steps, const rn_mstep *sink, rn_plan **out,
                         rn_errbuf *err);

#endif
