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

/* CPUs available to this process. */
int rn_cpu_count(void);

#endif
