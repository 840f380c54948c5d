/*
 * The embedded local cluster: runs a plan's stages on a pool of threads in
 * this process, one task per split or partition, folds per thread (when
 * the fold is commutative) or per partition, and combines.
 *
 * Ownership: the result's partitions belong to the caller
 * (rn_run_result_release). The plan must stay alive during the run; its
 * operators are initialised here if they were not.
 */
#ifndef RN_CORE_LOCAL_H
#define RN_CORE_LOCAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "plan/graph.h"
#include "plan/plan.h"
#include "value/partition.h"

/* Receives one value of the result (see rn_run_opts.result_fn): a view,
 * valid during the call. 0, or an error that stops the run. */
typedef int (*rn_run_value_fn)(void *ud, const rn_value *v);

typedef struct rn_run_opts {
    int threads;  /* 0: one per online CPU */
    int progress; /* draw a progress bar on stderr */
    /* When the last stage ends in a fold, its result is handed to
     * result_fn value by value as the fold finishes, instead of being
     * collected in memory (a result larger than the memory limit, such
     * as frequencies over more keys than fit): res->parts stays empty.
     * NULL: collected. */
    rn_run_value_fn result_fn;
    void *result_ud;
} rn_run_opts;

typedef struct rn_run_result {
    rn_partition **parts; /* the final stage's output, in partition order */
    size_t n_parts;
    uint64_t bytes_read;
    uint64_t tasks;       /* tasks run, all stages */
    double seconds;
} rn_run_result;

int rn_local_run(rn_plan *plan, const rn_run_opts *opts, rn_run_result *res,
                 rn_errbuf *err);
void rn_run_result_release(rn_run_result *res);

/* ---- a manifest with datasets (plan/graph.h) ------------------------- */

/* Receives a graph's outputs in the order of g->outputs: begin, each
 * value (a view, valid during the call), end with the partitions it
 * came in. A nonzero return stops the run. */
typedef struct rn_graph_out {
    int (*begin)(void *ud, size_t output);
    rn_run_value_fn value;
    int (*end)(void *ud, size_t output, uint64_t partitions);
    void *ud;
} rn_graph_out;

/* Runs g's pipelines in order on the same thread pool (opts: threads,
 * progress; result_fn is ignored), each node's result held as partitions
 * until its last reader ran (or streamed to `out` when its one reader is
 * the output printed next and it ends in a fold), and hands the outputs
 * to `out` as they become due. res gets the totals (tasks, bytes read,
 * seconds); its parts stay empty. */
int rn_local_run_graph(rn_pgraph *g, const rn_run_opts *opts,
                       const rn_graph_out *out, rn_run_result *res,
                       rn_errbuf *err);

/* One input of a pipeline's stage 0: partitions (references the run
 * takes over: the array's slots are NULL afterwards), or a source read
 * by the stage's own tasks (one per split), and the stage its tasks
 * run. */
typedef struct rn_run_input {
    rn_partition **parts;
    size_t n_parts;
    const rn_opinst *source; /* non-NULL: read here (parts unused) */
    const rn_stage *first;
    const char *label; /* the dataset, for zip's errors */
} rn_run_input;

typedef struct rn_run_inputs {
    rn_run_input *in;
    size_t n;
    int zip;           /* task p zips partition p of every input */
    const char *where; /* "file:line:col: zip", for its errors */
} rn_run_inputs;

/* rn_local_run with stage 0 reading `in` instead of the plan's source:
 * one task per partition, input after input, or zipped. */
int rn__local_run_inputs(rn_plan *plan, const rn_run_inputs *in,
                         const rn_run_opts *opts, rn_run_result *res,
                         rn_errbuf *err);

/* CPUs available to this process. */
int rn_cpu_count(void);

#endif
