/* Placement of ready tasks on workers, and task outcomes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "exec/ctx.h"
#include "scheduler/sched.h"
#include "transport/pbbounds.h"
#include "value/codec.h"

/* Queueing ahead (see worker_cap): a worker that speaks minor 1 holds as
 * many tasks beyond its threads as its threads run in QUEUE_AHEAD_S at
 * the recent run time of tasks like the one placed (same stage, same
 * kind: chain or merge), at most MAX_QUEUE_AHEAD, once MIN_TIMED_TASKS
 * of those have reported their time. */
#define QUEUE_AHEAD_S 0.005
#define MAX_QUEUE_AHEAD 64
#define MIN_TIMED_TASKS 4

/* How many tasks a worker may hold (running there or queued there) when
 * it is given task t of job j. A worker with only as many tasks as
 * threads idles for a round trip after each one (its report reaches us,
 * we assign the next, the command reaches it): nothing next to tasks of
 * seconds, most of the time next to tasks of 100 us. So a worker that
 * speaks minor 1 also queues what its threads run in QUEUE_AHEAD_S at the
 * recent run time of tasks like t. Long tasks get no queue: a queued task
 * would wait while another worker idles, and every task assigned to a
 * worker that is lost counts that loss (a strike), queued or running,
 * finished or not when its outcome had not reached us. */
static uint32_t worker_cap(const rn__sworker *w, const rn__sjob *j, const rn_gtask *t)
{
    const rn__sstage *st = &j->stages[t->gstage];
    int k = rn_jobgraph_merging(t->kind);
    double per, extra;
    /* a task that was on a worker when it was lost may be what kills
     * workers: it only goes to a free thread, as every task did before
     * queueing ahead, so it is not queued (and its outcome not reported
     * late) next to others, which would share its strikes */
    if (w->minor < 1 || t->strikes > 0 || st->n_timed[k] < MIN_TIMED_TASKS)
        return w->nthreads;
    per = st->avg_s[k] > 1e-6 ? st->avg_s[k] : 1e-6;
    extra = QUEUE_AHEAD_S / per * (double)w->nthreads;
    if (extra > MAX_QUEUE_AHEAD)
        extra = MAX_QUEUE_AHEAD;
    return w->nthreads + (uint32_t)extra;
}

/* Siblings of t on worker w: the other inputs of t's consumer that run
 * or are held there. Tasks whose outputs meet in one consumer (the
 * partials one combine task merges) are best run on one worker: the
 * consumer then reads them all locally. */
static uint32_t siblings_on(const rn__sjob *j, const rn_gtask *t, uint32_t wid)
{
    const rn_gtask *c;
    uint32_t n = 0;
    if (t->n_consumers != 1)
        return 0;
    c = &j->g->tasks[t->consumers[0]];
    for (uint32_t i = 0; i < c->n_inputs; i++) {
        const rn_gtask *x = &j->g->tasks[c->inputs[i]];
        if (x != t && x->worker == wid &&
            (x->state == RN_TS_RUNNING || x->state == RN_TS_DONE))
            n++;
    }
    return n;
}

/* The worker for t among those with room: the one holding most of its
 * input bytes, then (short tasks) most of its siblings, then the least
 * loaded. */
static rn__sworker *pick_worker(rn_scheduler *s, const rn__sjob *j, const rn_gtask *t)
{
    rn__sworker *best = NULL;
    uint64_t best_local = 0;
    uint32_t best_sib = 0;
    double best_load = 0;
    for (size_t k = 0; k < s->n_workers; k++) {
        rn__sworker *w = s->workers[(s->rr + k) % s->n_workers];
        uint64_t local = 0;
        uint32_t sib, cap = worker_cap(w, j, t);
        double load;
        if (!w->connected)
            continue;
        /* siblings count for short tasks only: long ones go where a
         * thread is free, spread over the workers as before */
        sib = cap > w->nthreads ? siblings_on(j, t, w->wid) : 0;
        for (uint32_t i = 0; i < t->n_inputs; i++) {
            const rn_gtask *in = &j->g->tasks[t->inputs[i]];
            if (in->worker == w->wid)
                local += in->bytes + 1;
        }
        /* a worker queueing short tasks ahead may go past its cap (by a
         * combine's fan-in at most) for a task whose inputs or siblings
         * it holds: else a group of siblings is cut, or its consumer
         * sent away, wherever that queue happened to be full, and the
         * inputs cross between workers */
        if (w->assigned >= cap &&
            !(cap > w->nthreads && (sib || local) &&
              w->assigned < cap + j->split_every))
            continue;
        load = (double)w->assigned / (double)w->nthreads;
        if (!best || local > best_local ||
            (local == best_local &&
             (sib > best_sib || (sib == best_sib && load < best_load)))) {
            best = w;
            best_local = local;
            best_sib = sib;
            best_load = load;
        }
    }
    if (best)
        s->rr++;
    return best;
}

/* a task's inputs fit in one RunTask message */
_Static_assert(RN_JOBGRAPH_FAN_IN <= RN_PB_FAN_IN_MAX, "fan-in bounds differ");

static int assign(rn_scheduler *s, rn__sjob *j, uint32_t tid, rn__sworker *w)
{
    rn_gtask *t = &j->g->tasks[tid];
    Runnel__V1__WorkerCommand c = RUNNEL__V1__WORKER_COMMAND__INIT;
    Runnel__V1__RunTask rt = RUNNEL__V1__RUN_TASK__INIT;
    Runnel__V1__InputRef *refs = NULL, **prefs = NULL;
    rn_buf split;
    int rc = 0;

    rn_buf_init(&split, 0);
    if (t->n_inputs) {
        refs = rn_calloc(t->n_inputs, sizeof(*refs));
        prefs = rn_calloc(t->n_inputs, sizeof(*prefs));
        if (!refs || !prefs) {
            rc = RN_ENOMEM;
            goto done;
        }
    }
    for (uint32_t i = 0; i < t->n_inputs; i++) {
        const rn_gtask *in = &j->g->tasks[t->inputs[i]];
        rn__sworker *h = rn__sched_worker_by_wid(s, in->worker);
        runnel__v1__input_ref__init(&refs[i]);
        refs[i].task_id = in->id;
        refs[i].address = h ? h->address : (char *)"";
        refs[i].bytes = in->bytes;
        refs[i].bucket = t->bucket; /* a reducer's, or 0: the whole */
        prefs[i] = &refs[i];
    }
    if (t->kind == RN_GT_SOURCE &&
        (rc = rn_codec_encode(&split, &j->splits->items[t->split], 1)))
        goto done;
    rt.job_id = j->id;
    rt.task_id = tid;
    rt.attempt = rn_jobgraph_assign(j->g, tid, w->wid);
    rt.kind = (Runnel__V1__TaskKind)t->kind;
    rt.stage = t->stage;
    rt.partition = t->partition;
    rt.node = t->node;
    rt.input = t->input;
    if (t->kind == RN_GT_ZIP && t->node < j->n_nodes && j->where[t->node])
        rt.where = j->where[t->node];
    rt.n_inputs = t->n_inputs;
    rt.inputs = prefs;
    rt.split.data = (uint8_t *)split.ptr;
    rt.split.len = split.len;
    rt.manifest = j->manifest;
    rt.capability = j->cap;
    c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RUN;
    c.run = &rt;
    rn__sched_send_cmd(s, w, &c);
    w->assigned++;
    if (j->state == JOB_QUEUED) {
        j->state = JOB_RUNNING;
        j->started_ms = rn_rpc_now_ms();
        rn_logf(RN_LOG_INFO, "job %s (%s) running: %zu tasks", j->id, j->name,
                j->g->n);
    }
done:
    rn_buf_release(&split);
    rn_free(refs);
    rn_free(prefs);
    return rc;
}

void rn__sched_schedule(rn_scheduler *s)
{
    for (size_t i = 0; i < s->n_jobs; i++) {
        rn__sjob *j = s->jobs[i];
        uint32_t t;
        int changed = 0;
        if (!j->g || rn__sched_is_final(j->state))
            continue;
        while ((t = rn_jobgraph_peek(j->g)) != UINT32_MAX) {
            rn__sworker *w = pick_worker(s, j, &j->g->tasks[t]);
            if (!w) {
                if (changed)
                    rn__sched_job_changed(s, j);
                return; /* every worker is busy */
            }
            if (assign(s, j, t, w)) {
                rn__sched_job_end(s, j, JOB_FAILED, "out of memory assigning tasks");
                break;
            }
            changed = 1;
        }
        if (changed)
            rn__sched_job_changed(s, j);
        rn__sched_check_complete(s, j);
    }
}

int rn__sched_task_done(rn_scheduler *s, rn__sworker *w,
                        const Runnel__V1__TaskDoneRequest *req)
{
    rn__sjob *j = rn__sched_job_by_id(s, req->job_id);
    rn_gtask *t;
    int accepted = 0;

    if (!j || !j->g || (rn__sched_is_final(j->state) && j->state != JOB_DONE))
        return 0; /* gone: the worker drops the output */
    if (req->task_id >= j->g->n)
        return RN_EINVAL;
    t = &j->g->tasks[req->task_id];
    if (t->state != RN_TS_RUNNING || t->worker != w->wid ||
        t->attempt != req->attempt)
        return 0; /* a stale attempt */
    if (w->assigned)
        w->assigned--;
    switch (req->outcome) {
    case RUNNEL__V1__TASK_OUTCOME__TASK_OK: {
        uint32_t rel[64];
        size_t n_rel = 0;
        uint32_t *relp = t->n_inputs <= 64 ? rel : rn_malloc(t->n_inputs * sizeof(uint32_t));
        if (!relp) {
            rn_jobgraph_unassign(j->g, t->id);
            break;
        }
        rn_jobgraph_done(j->g, t->id, req->bytes, req->items, relp, &n_rel);
        if (t->runs > 1)
            j->recomputed++;
        j->bytes_read += req->bytes_read;
        w->tasks_done++;
        if (req->seconds >= 0 && t->gstage < j->n_stages) {
            rn__sstage *st = &j->stages[t->gstage];
            int k = rn_jobgraph_merging(t->kind);
            st->avg_s[k] = st->n_timed[k] ? 0.8 * st->avg_s[k] + 0.2 * req->seconds
                                          : req->seconds;
            st->n_timed[k]++;
        }
        for (size_t k = 0; k < n_rel; k++) {
            const rn_gtask *in = &j->g->tasks[relp[k]];
            rn__sworker *h = rn__sched_worker_by_wid(s, in->worker);
            if (h) {
                Runnel__V1__WorkerCommand cmd = RUNNEL__V1__WORKER_COMMAND__INIT;
                Runnel__V1__PartitionRef pr = RUNNEL__V1__PARTITION_REF__INIT;
                pr.job_id = j->id;
                pr.task_id = in->id;
                cmd.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RELEASE;
                cmd.release = &pr;
                rn__sched_send_cmd(s, h, &cmd);
            }
            rn_jobgraph_release(j->g, relp[k]);
        }
        if (relp != rel)
            rn_free(relp);
        accepted = 1;
        rn__sched_check_complete(s, j);
        break;
    }
    case RUNNEL__V1__TASK_OUTCOME__TASK_INPUT_MISSING:
        rn_jobgraph_unassign(j->g, t->id);
        if (req->missing_task < j->g->n) {
            rn_logf(RN_LOG_WARN, "job %s: task %u could not read task %u's "
                                 "output (%s): recomputing it",
                    j->id, t->id, req->missing_task, req->error);
            rn_jobgraph_forget_output(j->g, req->missing_task);
        }
        break;
    case RUNNEL__V1__TASK_OUTCOME__TASK_CANCELLED:
        rn_jobgraph_unassign(j->g, t->id);
        break;
    default:
        w->tasks_failed++;
        rn_jobgraph_unassign(j->g, t->id);
        rn__sched_job_end(s, j, JOB_FAILED, "%s", req->error[0] ? req->error : "a task failed");
        break;
    }
    rn__sched_job_changed(s, j);
    return accepted;
}

