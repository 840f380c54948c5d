/* The scheduler's workers: lookup, command outboxes, loss and removal. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "exec/ctx.h"
#include "scheduler/sched.h"

rn__sworker *rn__sched_worker_by_id(rn_scheduler *s, const char *id)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (strcmp(s->workers[i]->id, id) == 0)
            return s->workers[i];
    return NULL;
}

rn__sworker *rn__sched_worker_by_wid(rn_scheduler *s, uint32_t wid)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i]->wid == wid)
            return s->workers[i];
    return NULL;
}

rn__sworker *rn__sched_worker_by_address(rn_scheduler *s, const char *a)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (strcmp(s->workers[i]->address, a) == 0)
            return s->workers[i];
    return NULL;
}

const char *rn__sched_wid_address(rn_scheduler *s, uint32_t wid)
{
    rn__sworker *w = rn__sched_worker_by_wid(s, wid);
    if (w)
        return w->address;
    for (size_t i = 0; i < s->n_ghosts && i < 64; i++)
        if (s->ghosts[i].wid == wid)
            return s->ghosts[i].address;
    return "?";
}

void rn__sched_outbox_clear(rn__sworker *w)
{
    rn__outmsg *m = w->out_head;
    while (m) {
        rn__outmsg *next = m->next;
        rn_free(m->data);
        rn_free(m);
        m = next;
    }
    w->out_head = w->out_tail = NULL;
}

void rn__sched_worker_free(rn__sworker *w)
{
    if (!w)
        return;
    rn__sched_outbox_clear(w);
    rn_free(w->address);
    rn_free(w->name);
    rn_free(w->instance);
    rn_free(w->plugins);
    rn_free(w);
}

void rn__sched_send_cmd(rn_scheduler *s, rn__sworker *w,
                        const Runnel__V1__WorkerCommand *c)
{
    rn__outmsg *m = rn_calloc(1, sizeof(*m));
    size_t n = runnel__v1__worker_command__get_packed_size(c);
    if (!m || !(m->data = rn_malloc(n ? n : 1))) {
        rn_free(m);
        rn_logf(RN_LOG_ERROR, "scheduler: out of memory queueing a command");
        return;
    }
    m->len = runnel__v1__worker_command__pack(c, m->data);
    if (w->out_tail)
        w->out_tail->next = m;
    else
        w->out_head = m;
    w->out_tail = m;
    pthread_cond_broadcast(&s->cond);
}

void rn__sched_broadcast_job_cmd(rn_scheduler *s, int forget, const char *job)
{
    for (size_t i = 0; i < s->n_workers; i++) {
        Runnel__V1__WorkerCommand c = RUNNEL__V1__WORKER_COMMAND__INIT;
        if (forget) {
            c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_FORGET_JOB;
            c.forget_job = (char *)job;
        } else {
            c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_CANCEL_JOB;
            c.cancel_job = (char *)job;
        }
        rn__sched_send_cmd(s, s->workers[i], &c);
    }
}

void rn__sched_worker_gone(rn_scheduler *s, rn__sworker *w, int lost,
                           const char *why)
{
    size_t running = w->assigned, outputs = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        rn__sjob *j = s->jobs[i];
        size_t n_lost = 0;
        uint32_t failed;
        if (!j->g)
            continue;
        if (!lost) {
            rn_jobgraph_worker_left(j->g, w->wid);
            rn__sched_unassign_orphans(s, j);
            rn__sched_job_changed(s, j);
            continue;
        }
        failed = rn_jobgraph_worker_lost(j->g, w->wid, &n_lost);
        outputs += n_lost;
        if (failed != UINT32_MAX && !rn__sched_is_final(j->state)) {
            const rn_gtask *t = &j->g->tasks[failed];
            char what[512], addrs[512];
            size_t n = 0;
            addrs[0] = '\0';
            for (uint32_t k = 0; k < RN_JOBGRAPH_MAX_STRIKES && n < sizeof(addrs); k++)
                n += (size_t)snprintf(addrs + n, sizeof(addrs) - n, "%s%s",
                                      k ? ", " : "",
                                      rn__sched_wid_address(s, t->lost_workers[k]));
            rn__sched_describe_task(j, t, what, sizeof(what));
            rn__sched_job_end(s, j, JOB_FAILED,
                              "%s: the task was running on %d workers that "
                              "were lost (%s); giving up (does the operator "
                              "crash its worker?)",
                              what, RN_JOBGRAPH_MAX_STRIKES, addrs);
            continue;
        }
        if (j->state == JOB_DONE && !rn_jobgraph_complete(j->g))
            j->state = JOB_RUNNING; /* results lost before they were fetched */
        rn__sched_unassign_orphans(s, j);
        rn__sched_job_changed(s, j);
    }
    rn_logf(lost ? RN_LOG_WARN : RN_LOG_INFO,
            "worker %s (%s) %s: %s; %zu running task(s) and %zu partition(s) "
            "to redo elsewhere",
            w->address, w->name, lost ? "lost" : "retired", why, running, outputs);
    w->assigned = 0;
}

void rn__sched_worker_remove(rn_scheduler *s, rn__sworker *w)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i] == w) {
            s->workers[i] = s->workers[--s->n_workers];
            break;
        }
    /* strike records name workers by handle: remember the address */
    s->ghosts[s->n_ghosts % 64].wid = w->wid;
    snprintf(s->ghosts[s->n_ghosts % 64].address, sizeof(s->ghosts[0].address),
             "%s", w->address);
    s->n_ghosts++;
    rn__sched_worker_free(w);
    pthread_cond_broadcast(&s->cond);
    pthread_cond_signal(&s->tick);
}

rn__sworker *rn__sched_seen_worker(rn_scheduler *s, const rn_identity *who,
                                   const char *id, rn_errbuf *err)
{
    rn__sworker *w = rn__sched_worker_by_id(s, id);
    if (!w) {
        rn_error_set(err, RN_ENOTFOUND,
                     "unknown worker id '%.40s' (declared lost?): register "
                     "again",
                     id);
        return NULL;
    }
    /* a worker's calls come from the identity that registered it: no
     * other certificate can report for it or read its commands */
    if (s->tls && strcmp(w->owner, who->name) != 0) {
        rn_error_set(err, RN_EPERM,
                     "worker id %s was registered by another identity than "
                     "'%s'",
                     w->id, who->name);
        return NULL;
    }
    w->last_seen_ms = rn_rpc_now_ms();
    w->last_seen_unix = rn__sched_unix_now();
    return w;
}
