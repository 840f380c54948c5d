/*
 * Running cluster tasks in a worker: a job's plan, built once per job in
 * this process from the manifest text the scheduler sends (a manifest
 * with datasets: its graph of pipelines, plan/graph.h, the same as the
 * client's), and the kinds of task (jobgraph.h) on top of core/exec's
 * chain and accumulators (REDUCE, the hash shuffle's; ZIP, a zip's).
 * The results equal the local executor's: the same chain per partition,
 * the same fold calls, partials merged in partition order.
 *
 * Ownership: a jobrun is reference-counted (every running task holds
 * one); the last unref destroys the operators' states and the plan. The
 * registry must outlive every jobrun. Thread-safety: tasks of one jobrun
 * may run on many threads at once (the plan is read-only after init).
 */
#ifndef RN_CLUSTER_TASKRUN_H
#define RN_CLUSTER_TASKRUN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "manifest/manifest.h"
#include "plan/graph.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "value/partition.h"

typedef struct rn_jobrun {
    char *job_id;
    rn_manifest *m;
    rn_plan *plan;      /* a manifest of one pipeline, or */
    rn_pgraph *graph;   /* one with datasets (plan is then NULL) */
    atomic_bool cancel; /* set by the scheduler's CancelJob */
    atomic_int refs;
    int64_t first_seen_ms;
    /* the job's capability (RunTask.capability): peers and the client
     * must show it to fetch the job's partitions */
    char cap[65];
} rn_jobrun;

/* Parses manifest text and builds + inits the plan (or the graph). Its
 * plugins must be in reg already (fetched by id): a missing one is
 * RN_ENOTFOUND. */
int rn_jobrun_new(const char *job_id, const char *manifest, size_t len,
                  rn_registry *reg, rn_jobrun **out, rn_errbuf *err);
void rn_jobrun_ref(rn_jobrun *jr);
void rn_jobrun_unref(rn_jobrun *jr); /* NULL ok */

/* What a task made: one partition (the output, the partial accumulator
 * of a fold stage, or a sink's commit results), or, for a SOURCE or
 * CHAIN task of a keyed stage cut into nparts N > 1 (the hash shuffle),
 * N: its partial table cut by key hash (rn_acc_bucket), bucket b in
 * parts[b]. The struct owns the array and a reference to each. */
typedef struct rn_taskrun_file {
    char *path;       /* rn_malloc'd; NULL: the output is in parts[b] */
    uint64_t off, size; /* where its encoding lies in the file */
    uint64_t items;   /* values in it */
} rn_taskrun_file;
typedef struct rn_taskrun_out {
    rn_partition **parts;
    /* [n]: a FINISH or REDUCE result past its share of the budget is
     * written to the spill directory as it is made (spill/pfile.h):
     * files[b].path is then set and parts[b] is empty. Whoever takes a
     * file clears its path; release removes the files left. */
    rn_taskrun_file *files;
    uint32_t n;
} rn_taskrun_out;
void rn_taskrun_out_release(rn_taskrun_out *o); /* NULL ok; zeroes it */

/* One input of a task, as the caller has it: decoded values, or the
 * encoded partition (value/codec.h) it fetched or keeps on disk. The task
 * folds or pushes encoded input a batch at a time (rn_codec_batches), so
 * it holds the compact bytes and one batch, never every value decoded.
 * release(owner), when set, is called once data is no longer read. */
typedef struct rn_taskrun_in {
    rn_partition *p;       /* a reference the task drops, or NULL: */
    const void *data;      /* data[0..len) */
    size_t len;
    void (*release)(void *owner);
    void *owner;
} rn_taskrun_in;

/* Which task to run (RunTask's fields). */
typedef struct rn_taskrun_task {
    int kind;              /* RN_GT_* (jobgraph.h) */
    uint32_t node;         /* a graph job's pipeline (0 for a plain job) */
    uint32_t input;        /* at the node's stage 0: the input it reads */
    uint32_t stage;        /* within the node */
    uint32_t partition;
    const rn_value *split; /* SOURCE: the split */
    const char *where;     /* ZIP: "FILE:LINE:COL: zip" for its errors
                              (NULL or "": the job manifest's place) */
} rn_taskrun_task;

/* Runs one task. input(ud, i, in, err) gives input i (0, or an error
 * with err set), asked for when the task needs it and released once
 * consumed, so a combine holds one input at a time (CHAIN: one; COMBINE,
 * FINISH: partials in fold order; REDUCE: bucket `partition` of every
 * task of the stage, in task order; ZIP: partition `partition` of every
 * input of the node, all at once, read a batch of each at a time). A
 * task of a node's stage 0 runs the stage as its input reads it (behind
 * a join's tag, behind what was absorbed: rn_pinput.first), a SOURCE
 * task the split of that input's source. *out gets what the task made
 * (released by the caller); nothing on error. Errors name operator and
 * partition, as locally; a task that does not fit the plan (no such node,
 * stage or input, a reduce task of a stage that is not cut, a combine of
 * one that is, a zip of a node that does not zip) is RN_EINVAL. */
typedef int (*rn_taskrun_input_fn)(void *ud, size_t i, rn_taskrun_in *in,
                                   rn_errbuf *err);
int rn_taskrun(rn_jobrun *jr, const rn_taskrun_task *t,
               rn_taskrun_input_fn input, void *ud, size_t n_inputs,
               rn_taskrun_out *out, uint64_t *bytes_read, rn_errbuf *err);

#endif
