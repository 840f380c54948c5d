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
 * A job of several datasets (rn_jobgraph_build_dag) is a graph of such
 * pipelines, "nodes" (plan/graph.h): a node's stage 0 reads sources (a
 * SOURCE task per split) or other nodes' result partitions (a CHAIN task
 * each, input after input: a concat), or zips them (a ZIP task per
 * partition p reading partition p of every input); its later stages are
 * a pipeline's. A node's tasks come after those of the nodes it reads,
 * which exist once however many nodes read them; the job's results are
 * those of the nodes its outputs name, output after output.
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

#include "base/error.h"

/* Values of runnel.v1.TaskKind. */
enum {
    RN_GT_SOURCE = 1,
    RN_GT_CHAIN = 2,
    RN_GT_COMBINE = 3,
    RN_GT_FINISH = 4,
    RN_GT_REDUCE = 5,
    RN_GT_ZIP = 6
};
/* A task kind that merges partials (COMBINE, FINISH, REDUCE): scheduled
 * before the others, timed apart from them. */
int rn_jobgraph_merging(int kind);
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
    uint32_t stage;      /* within its node */
    uint32_t partition;  /* SOURCE/CHAIN/ZIP: its index among the stage's
                            tasks; REDUCE: its bucket; else its index
                            among the stage's combine tasks */
    uint32_t node;       /* its node (0 in a job of one pipeline) */
    uint32_t gstage;     /* its stage among all the job's (node by node) */
    uint32_t input;      /* stage 0: the node's input it reads */
    uint32_t split;      /* SOURCE: the job's split it reads */
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
    uint32_t *finals;    /* result task ids, each once */
    size_t n_finals;
    /* the results of output o: out_tasks[out_off[o] .. out_off[o + 1]),
     * in order (a task is listed once per output that names its node) */
    uint32_t *out_tasks;
    size_t *out_off;
    size_t n_outputs;
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

/* The most tasks, and task inputs, one job may have: a concat of
 * concats multiplies partitions, and a graph is refused before it is
 * made, not built until memory runs out (a task costs about 120 bytes
 * and 8 per input: a job's graph stays within some hundreds of MB; a
 * pipeline of 1 000 000 splits, the most a job has, makes about 1.2 M
 * tasks). */
#define RN_JOBGRAPH_MAX_TASKS ((size_t)1 << 21)
#define RN_JOBGRAPH_MAX_EDGES ((size_t)1 << 25)

/* Builds the graph: terminals[s] is RN_TERM_* of stage s, nparts[s] its
 * output partitions (a keyed fold's npartitions; NULL: 1 for every
 * stage), n_splits the number of source splits, split_every >= 2.
 * RN_ELIMIT: a shuffle past RN_JOBGRAPH_MAX_SHUFFLE_EDGES, or a graph
 * past the bounds above. */
int rn_jobgraph_build(const int *terminals, const uint32_t *nparts,
                      size_t n_stages, size_t n_splits, uint32_t split_every,
                      rn_jobgraph **out);

/* ---- a job of several datasets ---------------------------------------- */

/* One input of a node: another node's result, or a source. */
#define RN_JG_SOURCE UINT32_MAX
typedef struct rn_jg_input {
    uint32_t node;     /* the node read, or RN_JG_SOURCE */
    uint32_t n_splits; /* RN_JG_SOURCE: one SOURCE task per split, */
    uint32_t split0;   /* reading the job's splits split0 .. + n_splits */
} rn_jg_input;

typedef struct rn_jg_node {
    int zip;                /* ZIP task p reads partition p of each input */
    const int *terminals;   /* RN_TERM_* per stage (n_stages >= 1) */
    const uint32_t *nparts; /* per stage, or NULL */
    size_t n_stages;
    const rn_jg_input *inputs; /* in order (n_inputs >= 1) */
    size_t n_inputs;
} rn_jg_node;

/* Builds the graph of n nodes, whose results outputs[0..n_outputs) are
 * the job's results, with every node's tasks after those of the nodes it
 * reads (nodes may come in any order). A node's stage-0 tasks are
 * numbered (partition) across its inputs, in order, as the local
 * executor numbers them. Checked first, errors in err (RN_EINVAL): node
 * ids out of range, cycles ("node 2 -> node 5 -> node 2"), a node reading
 * nothing, a zip of a source or of inputs with different partition
 * counts, no output; RN_ELIMIT past RN_JOBGRAPH_MAX_TASKS, _MAX_EDGES or
 * _MAX_SHUFFLE_EDGES; RN_ENOMEM. err may be NULL. */
int rn_jobgraph_build_dag(const rn_jg_node *nodes, size_t n,
                          const uint32_t *outputs, size_t n_outputs,
                          uint32_t split_every, rn_jobgraph **out,
                          rn_errbuf *err);
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
