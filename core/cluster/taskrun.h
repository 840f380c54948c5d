/*
 * Running cluster tasks in a worker: a job's plan, built once per job in
 * this process from the manifest text the scheduler sends, and the four
 * kinds of task (jobgraph.h) on top of core/exec's chain and
 * accumulators (and REDUCE, the hash shuffle's). The results equal the local executor's: the same chain
 * per partition, the same fold calls, partials merged in partition order.
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
#include "plan/plan.h"
#include "plugin/registry.h"
#include "value/partition.h"

typedef struct rn_jobrun {
    char *job_id;
    rn_manifest *m;
    rn_plan *plan;
    atomic_bool cancel; /* set by the scheduler's CancelJob */
    atomic_int refs;
    int64_t first_seen_ms;
    /* the job's capability (RunTask.capability): peers and the client
     * must show it to fetch the job's partitions */
    char cap[65];
} rn_jobrun;

/* Parses manifest text and builds + inits the plan. Its plugins must be
 * in reg already (fetched by id): a missing one is RN_ENOTFOUND. */
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

/* Runs one task. kind is RN_GT_* (jobgraph.h); split is the source split
 * (SOURCE), input(ud, i, in, err) gives input i (0, or an error with err
 * set), asked for when the task needs it and released once consumed, so
 * a combine holds one input at a time (CHAIN: one; COMBINE, FINISH:
 * partials in fold order; REDUCE: bucket `partition` of every task of
 * the stage, in task order). *out gets what the task made (released by
 * the caller); nothing on error. Errors name operator and partition, as
 * locally; a task kind that does not fit the stage (a reduce task of a
 * stage that is not cut, a combine of one that is) is RN_EINVAL. */
typedef int (*rn_taskrun_input_fn)(void *ud, size_t i, rn_taskrun_in *in,
                                   rn_errbuf *err);
int rn_taskrun(rn_jobrun *jr, int kind, uint32_t stage, uint32_t partition,
               const rn_value *split, rn_taskrun_input_fn input, void *ud,
               size_t n_inputs, rn_taskrun_out *out, uint64_t *bytes_read,
               rn_errbuf *err);

#endif
