/*
 * The task graph of one cluster job, as the scheduler keeps it: which
 * tasks exist, what each reads, where its output lives, and which tasks
 * can run now. Pure bookkeeping: no I/O, no threads, no clock.
 *
 * Shape (the same stages as core/exec/local.c, docs/CLUSTER.md):
 *   - stage 0: one SOURCE task per split; a later stage: one CHAIN task
 *     per output partition of the stage before;
 *   - a fold stage: those tasks make partial accumulators; COMBINE tasks
 *     merge runs of `split_every` consecutive partials (partition order,
 *     so order-sensitive folds stay right) until at most split_every
 *     remain; one FINISH task merges them and finishes: the stage's one
 *     output partition;
 *   - a keyed stage cut into N partitions (npartitions, the hash
 *     shuffle): its tasks save their partial tables as N buckets each
 *     (by key hash); N REDUCE tasks, one per bucket, each read that
 *     bucket of every task of the stage (InputRef.bucket) and finish:
 *     the stage's N output partitions, in bucket order; past
 *     RN_JOBGRAPH_FAN_IN tasks in the stage, COMBINE tasks first merge
 *     bucket b of runs of at most that many (the stage's only combines),
 *     and reducer b reads their partials: no task reads more inputs;
 *   - the last stage's outputs are the job's results, in order.
 * Task ids are indices; every input has a smaller id than its consumer.
 *
 * Lineage: an output that is lost (its worker died) or was released
 * (every consumer had finished) is simply "not done" again; the tasks
 * that must run are computed from what the job still wants, so lost
 * partitions are recomputed from their inputs, recursively.
 *
 * Ready tasks: the graph keeps them in a heap (merging tasks first, then
 * the lowest id), updated as tasks finish (a finished task's consumers
 * whose inputs are now all done join it), so a scheduling round costs
 * O(log n) per task instead of a scan of the whole job. Events off the normal path (a lost or retired
 * worker, a task handed back, an output forgotten) mark the graph dirty:
 * the next rn_jobgraph_peek recomputes what is wanted and ready from
 * scratch, once.
 *
 * Ownership: the graph owns its arrays. One thread at a time (the
 * scheduler's lock).
 */
#ifndef RN_CLUSTER_JOBGRAPH_H
#define RN_CLUSTER_JOBGRAPH_H

#include <stddef.h>
#include <stdint.h>

/* Values of runnel.v1.TaskKind. */
enum {
    RN_GT_SOURCE = 1,
    RN_GT_CHAIN = 2,
    RN_GT_COMBINE = 3,
    RN_GT_FINISH = 4,
    RN_GT_REDUCE = 5
};
/* Values of runnel.v1.Terminal. */
enum { RN_TERM_NONE = 0, RN_TERM_FOLD = 1, RN_TERM_SINK = 2 };

typedef enum {
    RN_TS_WAITING = 0, /* not done (never run, lost or released) */
    RN_TS_RUNNING = 1, /* assigned to `worker` */
    RN_TS_DONE = 2     /* output held by `worker` */
} rn_task_state;

/* A task is lost with its worker this many times: the job fails. */
#define RN_JOBGRAPH_MAX_STRIKES 3

typedef struct rn_gtask {
    uint32_t id;
    int kind;            /* RN_GT_* */
    uint32_t stage;
    uint32_t partition;  /* SOURCE/CHAIN: input index; else its index
                            among the stage's combine tasks */
    uint32_t *inputs;    /* task ids, in fold order */
    uint32_t bucket;     /* the bucket it reads of each input: a reducer's
                            or a wide shuffle's first combines'; else 0,
                            an output that is not cut */
    uint32_t n_inputs;
    uint32_t *consumers;
    uint32_t n_consumers;
    int final;           /* one of the job's results */
    int state;           /* rn_task_state */
    uint32_t worker;     /* RUNNING: runs there; DONE: held there */
    uint32_t attempt;    /* bumped at every assignment */
    uint32_t strikes;    /* workers lost while it ran there */
    uint32_t runs;       /* completed runs (> 1: recomputed) */
    uint64_t bytes;      /* DONE: encoded output size */
    uint64_t items;
    int released;        /* computed, then dropped: counts as progress */
    uint32_t lost_workers[RN_JOBGRAPH_MAX_STRIKES];
} rn_gtask;

typedef struct rn_jobgraph {
    rn_gtask *tasks;
    size_t n;
    uint32_t *finals;    /* result task ids, in result order */
    size_t n_finals;
    size_t finals_done;  /* finals DONE now */
    size_t n_progress;   /* tasks DONE or released (rn_jobgraph_count_done) */
    /* the ready heap: candidates, checked again when they reach the top */
    uint32_t *heap;
    size_t n_heap;
    uint8_t *inheap;     /* per task: in heap */
    uint8_t *want;       /* per task: must run (valid while !dirty) */
    int dirty;           /* recompute want and the heap at the next peek */
} rn_jobgraph;

/* The most inputs of one task (RunTask.inputs, RN_PB_FAN_IN_MAX). */
#define RN_JOBGRAPH_FAN_IN 1024u

/* The most task inputs a shuffle may have (tasks of the stage times its
 * npartitions), so one job's graph stays within a few hundred MB. */
#define RN_JOBGRAPH_MAX_SHUFFLE_EDGES ((size_t)1 << 24)

/* Builds the graph: terminals[s] is RN_TERM_* of stage s, nparts[s] its
 * output partitions (a keyed fold's npartitions; NULL: 1 for every
 * stage), n_splits the number of source splits, split_every >= 2.
 * RN_ELIMIT: a shuffle past RN_JOBGRAPH_MAX_SHUFFLE_EDGES. */
int rn_jobgraph_build(const int *terminals, const uint32_t *nparts,
                      size_t n_stages, size_t n_splits, uint32_t split_every,
                      rn_jobgraph **out);
void rn_jobgraph_free(rn_jobgraph *g); /* NULL ok */

/* Tasks to run now (wanted, WAITING, every input DONE), lowest id first;
 * at most max written; returns how many. `want` is scratch of g->n. */
size_t rn_jobgraph_ready(const rn_jobgraph *g, uint8_t *want, uint32_t *out,
                         size_t max);

/* The first ready task (wanted, WAITING, every input DONE: COMBINE and
 * FINISH tasks first, then the lowest id) without taking it, or
 * UINT32_MAX when none is. Amortized O(log n). */
uint32_t rn_jobgraph_peek(rn_jobgraph *g);

/* Marks t RUNNING on worker; returns the new attempt number. */
uint32_t rn_jobgraph_assign(rn_jobgraph *g, uint32_t t, uint32_t worker);
/* t's attempt finished with an output of bytes/items. Returns the ids of
 * inputs whose every consumer is now done (releasable, not final) in
 * rel (at most t's n_inputs) and their count in *n_rel. */
void rn_jobgraph_done(rn_jobgraph *g, uint32_t t, uint64_t bytes,
                      uint64_t items, uint32_t *rel, size_t *n_rel);
/* Marks a released (dropped) output as not done. */
void rn_jobgraph_release(rn_jobgraph *g, uint32_t t);
/* Puts a RUNNING task back to WAITING without a strike (handed back). */
void rn_jobgraph_unassign(rn_jobgraph *g, uint32_t t);
/* An output is gone (fetch failed): not done any more. */
void rn_jobgraph_forget_output(rn_jobgraph *g, uint32_t t);

/* A worker is lost: its RUNNING tasks go back to WAITING with a strike,
 * its DONE outputs become not done. Returns the id of a task that has
 * now reached RN_JOBGRAPH_MAX_STRIKES, or UINT32_MAX. Counts the outputs
 * lost in *n_lost_outputs (may be NULL). */
uint32_t rn_jobgraph_worker_lost(rn_jobgraph *g, uint32_t worker,
                                 size_t *n_lost_outputs);
/* A worker left on purpose: like lost, without strikes. */
void rn_jobgraph_worker_left(rn_jobgraph *g, uint32_t worker);

/* 1 when every result is DONE. */
int rn_jobgraph_complete(const rn_jobgraph *g);
/* Tasks DONE (a released output counts: it was computed). */
size_t rn_jobgraph_count_done(const rn_jobgraph *g);

#endif
