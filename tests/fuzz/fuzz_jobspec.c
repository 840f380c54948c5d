/*
 * libFuzzer target for the scheduler's reading of a submitted job
 * (core/cluster/jobspec.c rn_jobspec_read): the bytes of a
 * SubmitJobRequest as a client sends them, unpacked as the scheduler's
 * frame does (rn_pb_unpack_checked: runnel's wire bounds, then
 * protobuf-c), then decoded and checked: stages, every source's splits,
 * the graph of nodes (ids, cycles, zips, bounds on its size) and the
 * task graph built from it (cluster/jobgraph.c rn_jobgraph_build_dag).
 * Beyond "no crash, no leak":
 *   - a refusal always says why;
 *   - an accepted job's graph is well formed: every task's inputs have
 *     smaller ids (what the scheduler's lineage relies on), a SOURCE
 *     task names a split the job has, a task's stage is one of the job's,
 *     every output lists tasks of the job, and the job runs to its end
 *     when every ready task is done (small graphs only).
 *
 * Seeds (corpus/jobspec/) are requests as runnel's client sends them,
 * of one pipeline and of datasets (concat, zip, join, two outputs of one
 * dataset), and malformed graphs (a cycle, an unknown node, a zip of
 * different partitions, a concat of concats too large to build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/error.h"
#include "cluster/jobgraph.h"
#include "cluster/jobspec.h"
#include "transport/rpc.h"

#include "runnel_scheduler.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Runs every task that is ready until the job is complete. */
static void run_to_end(rn_jobgraph *g)
{
    uint8_t *want = rn_malloc(g->n + 1);
    uint32_t *ready = rn_malloc((g->n + 1) * sizeof(uint32_t));
    uint32_t *rel = rn_malloc((g->n + 1) * sizeof(uint32_t));
    size_t n, n_rel, rounds = 0;
    CHECK(want && ready && rel);
    while ((n = rn_jobgraph_ready(g, want, ready, g->n)) > 0) {
        for (size_t i = 0; i < n; i++) {
            rn_jobgraph_assign(g, ready[i], 1);
            rn_jobgraph_done(g, ready[i], 1, 1, rel, &n_rel);
            for (size_t k = 0; k < n_rel; k++)
                rn_jobgraph_release(g, rel[k]);
        }
        CHECK(++rounds <= g->n);
    }
    CHECK(rn_jobgraph_complete(g));
    rn_free(want);
    rn_free(ready);
    rn_free(rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Runnel__V1__SubmitJobRequest *req;
    rn_jobspec_job job;
    rn_errbuf err;
    int rc;

    rn_error_clear(&err);
    req = rn_pb_unpack_checked(&runnel__v1__submit_job_request__descriptor,
                               size ? data : (const uint8_t *)"", size, &err);
    if (!req) {
        CHECK(err.msg[0] != '\0');
        return 0;
    }
    rn_error_clear(&err);
    rc = rn_jobspec_read(req, &job, &err);
    if (rc) {
        CHECK(rc == RN_EINVAL || rc == RN_ELIMIT || rc == RN_EABI ||
              rc == RN_ENOMEM);
        CHECK(err.msg[0] != '\0');
        CHECK(job.g == NULL && job.splits == NULL);
        rn_pb_free(req);
        return 0;
    }
    CHECK(job.g && job.splits && job.n_nodes >= 1);
    CHECK(job.split_every >= 2 && job.split_every <= RN_JOBSPEC_MAX_SPLIT_EVERY);
    for (size_t i = 0; i < job.g->n; i++) {
        const rn_gtask *t = &job.g->tasks[i];
        CHECK(t->id == i);
        CHECK(t->node < job.n_nodes);
        CHECK(t->gstage < job.n_stages);
        for (uint32_t k = 0; k < t->n_inputs; k++)
            CHECK(t->inputs[k] < t->id);
        if (t->kind == RN_GT_SOURCE)
            CHECK(t->split < job.splits->n && t->n_inputs == 0);
        else if (t->kind == RN_GT_CHAIN)
            CHECK(t->n_inputs == 1);
    }
    CHECK(job.g->n_outputs == (req->n_nodes ? req->n_outputs : 1));
    for (size_t k = 0; k < job.g->out_off[job.g->n_outputs]; k++)
        CHECK(job.g->out_tasks[k] < job.g->n &&
              job.g->tasks[job.g->out_tasks[k]].final);
    if (job.g->n <= 4096)
        run_to_end(job.g);
    rn_jobspec_job_release(&job);
    rn_pb_free(req);
    return 0;
}
