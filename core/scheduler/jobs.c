/* The scheduler's jobs: records, ownership, their end, their JobInfo. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cluster/ident.h"
#include "cluster/jobspec.h"
#include "exec/ctx.h"
#include "manifest/manifest.h"
#include "scheduler/sched.h"
#include "transport/methods.h"
#include "value/codec.h"


rn__sjob *rn__sched_job_by_id(rn_scheduler *s, const char *id)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (strcmp(s->jobs[i]->id, id) == 0)
            return s->jobs[i];
    return NULL;
}

int rn__sched_job_access(rn_scheduler *s, const rn_identity *who,
                         const char *id, rn__sjob **out, rn_errbuf *err)
{
    rn__sjob *j = rn__sched_job_by_id(s, id);
    *out = NULL;
    if (!j)
        return rn_error_set(err, RN_ENOTFOUND, "unknown job '%.80s'", id);
    if (!rn__sched_owns(s, who, j->owner))
        return rn_error_set(err, RN_EPERM,
                            "job %s belongs to another identity than '%s'",
                            j->id, who->name);
    *out = j;
    return 0;
}

/* Drops what a job holds (graph, splits, manifest); the record stays. */
static void job_drop_data(rn__sjob *j)
{
    rn_jobgraph_free(j->g);
    j->g = NULL;
    rn_partition_unref(j->splits);
    j->splits = NULL;
    rn_free(j->manifest);
    j->manifest = NULL;
    for (size_t i = 0; i < j->n_stages; i++) {
        for (size_t k = 0; k < j->stages[i].n_ops; k++)
            rn_free(j->stages[i].ops[k]);
        rn_free(j->stages[i].ops);
        rn_free(j->stages[i].user);
    }
    rn_free(j->stages);
    j->stages = NULL;
    j->n_stages = 0;
    for (size_t i = 0; j->where && i < j->n_nodes; i++)
        rn_free(j->where[i]);
    rn_free(j->where);
    j->where = NULL;
    j->n_nodes = 0;
}

void rn__sched_job_free(rn__sjob *j)
{
    if (!j)
        return;
    job_drop_data(j);
    rn_free(j->name);
    rn_free(j->client);
    rn_free(j->error);
    rn_free(j);
}

/* A copy of a client's string, cut at 200 bytes. */
static char *dup_short(const char *s)
{
    return rn_strndup(s, strnlen(s, 200));
}

/* Checks a submitted manifest: parses, every plugin is an id we store. */
static int check_manifest(rn_scheduler *s, const char *text, size_t len,
                          rn_errbuf *err)
{
    rn_manifest *m = NULL;
    char path[4096];
    int rc;
    if ((rc = rn_manifest_parse_job("submitted manifest", text, len, &m, err)))
        return rc;
    for (size_t i = 0; i < m->n_plugins; i++) {
        const char *p = m->plugins[i];
        if (strncmp(p, "sha256:", 7) != 0) {
            rc = rn_error_set(err, RN_EINVAL,
                              "plugin '%.200s' is named by path: on a cluster "
                              "push it and name it sha256:<id> (runnel run and "
                              "submit do that)",
                              p);
            break;
        }
        if (rn_plugstore_path(s->store, p + 7, path, sizeof(path)) != 0) {
            rc = rn_error_set(err, RN_ENOTFOUND,
                              "plugin %.80s is not in the scheduler's store: "
                              "push it first (runnel plugin push)",
                              p);
            break;
        }
    }
    rn_manifest_free(m);
    return rc;
}

int rn__sched_job_new(rn_scheduler *s, const rn_identity *who,
                      const Runnel__V1__SubmitJobRequest *req, rn__sjob **out,
                      rn_errbuf *err)
{
    rn__sjob *j = NULL;
    rn_jobspec_job spec;
    char hex[72];
    int rc = 0;

    *out = NULL;
    memset(&spec, 0, sizeof(spec));
    /* the shape first (cheap, and the graph is bounded before it is
     * built), then the manifest against the plugin store */
    if ((rc = rn_jobspec_read(req, &spec, err)) ||
        (rc = check_manifest(s, req->manifest, strlen(req->manifest), err)))
        goto done;
    if (!(j = rn_calloc(1, sizeof(*j))) ||
        !(j->stages = rn_calloc(spec.n_stages, sizeof(rn__sstage))) ||
        !(j->where = rn_calloc(spec.n_nodes, sizeof(char *)))) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    j->n_nodes = spec.n_nodes;
    for (size_t i = 0; i < spec.n_nodes; i++)
        if (spec.where[i][0] && !(j->where[i] = rn_strdup(spec.where[i]))) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
    j->n_stages = spec.n_stages;
    for (size_t i = 0; i < spec.n_stages; i++) {
        const Runnel__V1__StageSpec *sp = spec.stages[i];
        rn__sstage *st = &j->stages[i];
        st->nparts = sp->npartitions > 1 ? sp->npartitions : 1;
        st->terminal = (int)sp->terminal;
        st->commutative = sp->commutative;
        st->ops = rn_calloc(sp->n_ops + 1, sizeof(char *));
        st->user = rn_calloc(sp->n_ops + 1, sizeof(int));
        if (!st->ops || !st->user) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t k = 0; k < sp->n_ops; k++) {
            if (!(st->ops[k] = dup_short(sp->ops[k]))) {
                rc = rn_error_set(err, RN_ENOMEM, "out of memory");
                goto done;
            }
            st->user[k] = k < sp->n_user_ops && sp->user_ops[k];
            st->n_ops++;
        }
    }
    j->split_every = spec.split_every;
    j->splits = spec.splits;
    spec.splits = NULL;
    j->g = spec.g;
    spec.g = NULL;
    if (!(j->manifest = rn_strdup(req->manifest)) ||
        !(j->name = dup_short(req->name[0] ? req->name : "job")) ||
        !(j->client = dup_short(req->client))) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(j->owner, sizeof(j->owner), "%s", who->name);
    j->detached = req->detached;
    j->state = JOB_QUEUED;
    j->submitted_unix = rn__sched_unix_now();
    j->submitted_ms = rn_rpc_now_ms();
    j->n_tasks = (uint32_t)j->g->n;
    rn_ident_random_hex(hex, 10);
    snprintf(j->id, sizeof(j->id), "j-%.10s", hex);
    /* 256 random bits: whoever reads a partition of the job must have
     * been told them by us */
    rn_ident_random_hex(j->cap, 64);
    *out = j;
    j = NULL;
done:
    rn__sched_job_free(j);
    rn_jobspec_job_release(&spec);
    return rc;
}

int rn__sched_job_add(rn_scheduler *s, rn__sjob *j, rn_errbuf *err)
{
    size_t mine = 0, all = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const rn__sjob *o = s->jobs[i];
        if (rn__sched_is_final(o->state))
            continue;
        all++;
        mine += strcmp(o->owner, j->owner) == 0;
    }
    if (mine >= RN_SCHED_MAX_ACTIVE_JOBS_PER_OWNER)
        return rn_error_set(err, RN_ELIMIT,
                            "%s%s%s has %zu jobs queued or running: at most %d "
                            "(wait for some, or cancel them)",
                            j->owner[0] ? "'" : "", j->owner[0] ? j->owner : "this cluster",
                            j->owner[0] ? "'" : "", mine,
                            RN_SCHED_MAX_ACTIVE_JOBS_PER_OWNER);
    if (all >= RN_SCHED_MAX_ACTIVE_JOBS)
        return rn_error_set(err, RN_ELIMIT,
                            "the scheduler has %zu jobs queued or running: at "
                            "most %d",
                            all, RN_SCHED_MAX_ACTIVE_JOBS);
    if (s->n_jobs == s->cap_jobs) {
        size_t cap = s->cap_jobs ? s->cap_jobs * 2 : 16;
        rn__sjob **nj = rn_realloc(s->jobs, cap * sizeof(*nj));
        if (!nj)
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        s->jobs = nj;
        s->cap_jobs = cap;
    }
    s->jobs[s->n_jobs++] = j;
    return 0;
}

/* Watchers are woken at most this often for progress (state changes at
 * once); they send at most one update per 200 ms anyway. */
#define WATCH_WAKE_MS 50

void rn__sched_job_changed(rn_scheduler *s, rn__sjob *j)
{
    int64_t now = rn_rpc_now_ms();
    j->version++;
    /* a job of many small tasks changes thousands of times a second:
     * waking every watcher each time only costs context switches */
    if (j->state != j->notified_state || now - j->notified_ms >= WATCH_WAKE_MS) {
        j->notified_state = j->state;
        j->notified_ms = now;
        pthread_cond_broadcast(&s->jobcond);
    }
}

void rn__sched_job_end(rn_scheduler *s, rn__sjob *j, int state, const char *fmt,
                       ...)
{
    char msg[1024];
    va_list ap;
    if (rn__sched_is_final(j->state) && j->state != JOB_DONE)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    j->state = state;
    rn_free(j->error);
    j->error = rn_strdup(msg);
    j->finished_ms = rn_rpc_now_ms();
    if (j->g) {
        /* what its workers count as running is theirs again */
        for (size_t t = 0; t < j->g->n; t++)
            if (j->g->tasks[t].state == RN_TS_RUNNING) {
                rn__sworker *w = rn__sched_worker_by_wid(s, j->g->tasks[t].worker);
                if (w && w->assigned)
                    w->assigned--;
            }
        j->n_done = (uint32_t)rn_jobgraph_count_done(j->g);
    }
    rn__sched_broadcast_job_cmd(s, 0, j->id);
    rn__sched_broadcast_job_cmd(s, 1, j->id);
    job_drop_data(j);
    j->forgotten = 1;
    rn_logf(state == JOB_FAILED ? RN_LOG_WARN : RN_LOG_INFO, "job %s (%s) %s: %s",
            j->id, j->name, rn__sched_state_name(state), msg);
    rn__sched_job_changed(s, j);
}

void rn__sched_job_forget(rn_scheduler *s, rn__sjob *j)
{
    if (j->forgotten)
        return;
    if (j->g)
        j->n_done = (uint32_t)rn_jobgraph_count_done(j->g);
    rn__sched_broadcast_job_cmd(s, 1, j->id);
    job_drop_data(j);
    j->forgotten = 1;
    rn__sched_job_changed(s, j);
}

void rn__sched_check_complete(rn_scheduler *s, rn__sjob *j)
{
    if (j->g && (j->state == JOB_RUNNING || j->state == JOB_QUEUED) &&
        rn_jobgraph_complete(j->g)) {
        j->state = JOB_DONE;
        j->finished_ms = rn_rpc_now_ms();
        j->n_done = (uint32_t)rn_jobgraph_count_done(j->g);
        rn_logf(RN_LOG_INFO, "job %s (%s) done: %zu tasks, %u recomputed, %.2f s",
                j->id, j->name, j->g->n, j->recomputed,
                (double)(j->finished_ms - j->submitted_ms) / 1000.0);
        if (j->detached)
            j->unwatched_ms = j->finished_ms;
        rn__sched_job_changed(s, j);
    }
}

/* "plugin words, operator words.split, partition 3" for a task: the
 * operator of a pushed (user) plugin in the task's chain when there is
 * one (shipped operators are the less likely culprits), else the fold
 * for a combine task, else the chain's first operator. */
void rn__sched_describe_task(const rn__sjob *j, const rn_gtask *t, char *out,
                             size_t cap)
{
    const rn__sstage *st = &j->stages[t->gstage];
    const char *op = NULL, *dot;
    size_t n;
    int combine = rn_jobgraph_merging(t->kind);
    for (size_t k = 0; k < st->n_ops && !op && !combine; k++)
        if (st->user[k])
            op = st->ops[k];
    if (!op && st->n_ops)
        op = combine ? st->ops[st->n_ops - 1] : st->ops[0];
    if (!op)
        op = "?";
    dot = strchr(op, '.');
    n = (size_t)snprintf(out, cap, "plugin %.*s, operator %s, partition %u",
                         dot ? (int)(dot - op) : (int)strlen(op), op, op,
                         t->partition);
    if (n < cap && st->n_ops > 1) {
        n += (size_t)snprintf(out + n, cap - n, " (stage %u:", t->stage);
        for (size_t k = 0; k < st->n_ops && n < cap; k++)
            n += (size_t)snprintf(out + n, cap - n, "%s %s", k ? " ->" : "",
                                  st->ops[k]);
        if (n < cap)
            snprintf(out + n, cap - n, ")");
    }
}

/* A running task whose input is gone cannot finish (it may be stuck
 * fetching from a stopped peer): it is assigned afresh once the input is
 * recomputed; its current attempt's report will be refused. */
void rn__sched_unassign_orphans(rn_scheduler *s, rn__sjob *j)
{
    for (size_t i = 0; i < j->g->n; i++) {
        rn_gtask *t = &j->g->tasks[i];
        int orphan = 0;
        if (t->state != RN_TS_RUNNING)
            continue;
        for (uint32_t k = 0; k < t->n_inputs && !orphan; k++)
            orphan = j->g->tasks[t->inputs[k]].state != RN_TS_DONE;
        if (orphan) {
            rn__sworker *w = rn__sched_worker_by_wid(s, t->worker);
            if (w && w->assigned)
                w->assigned--;
            rn_jobgraph_unassign(j->g, t->id);
        }
    }
}

/* Fills ji from j; strings point into j or static storage, results into
 * res/pres/addrs (one per output partition) when given. */
static void job_info(rn_scheduler *s, const rn__sjob *j, Runnel__V1__JobInfo *ji,
                     Runnel__V1__ResultRef *res, Runnel__V1__ResultRef **pres,
                     char (*addrs)[160])
{
    runnel__v1__job_info__init(ji);
    ji->job_id = (char *)j->id;
    ji->name = j->name;
    ji->state = (Runnel__V1__JobState)j->state;
    ji->tasks_total = j->g ? (uint32_t)j->g->n : j->n_tasks;
    ji->tasks_done = j->g ? (uint32_t)rn_jobgraph_count_done(j->g) : j->n_done;
    ji->bytes_read = j->bytes_read;
    ji->error = j->error ? j->error : (char *)"";
    ji->submitted = j->submitted_unix;
    ji->seconds = (double)((rn__sched_is_final(j->state) ? j->finished_ms
                                                         : rn_rpc_now_ms()) -
                           j->submitted_ms) /
                  1000.0;
    ji->tasks_recomputed = j->recomputed;
    ji->client = j->client ? j->client : (char *)"";
    ji->owner = (char *)j->owner;
    if (j->state == JOB_DONE && j->g && res) {
        /* output after output: a task is listed once per output */
        size_t i = 0;
        for (size_t o = 0; o < j->g->n_outputs; o++)
            for (size_t k = j->g->out_off[o]; k < j->g->out_off[o + 1]; k++, i++) {
                const rn_gtask *t = &j->g->tasks[j->g->out_tasks[k]];
                rn__sworker *w = rn__sched_worker_by_wid(s, t->worker);
                runnel__v1__result_ref__init(&res[i]);
                res[i].task_id = t->id;
                snprintf(addrs[i], sizeof(addrs[i]), "%s", w ? w->address : "");
                res[i].address = addrs[i];
                res[i].bytes = t->bytes;
                res[i].items = t->items;
                res[i].output = (uint32_t)o;
                pres[i] = &res[i];
            }
        ji->results = pres;
        ji->n_results = i;
        ji->capability = (char *)j->cap;
    }
}

int rn__sched_pack_job(rn_scheduler *s, const rn__sjob *j, int with_results,
                       rn_buf *out)
{
    Runnel__V1__JobInfo ji;
    Runnel__V1__ResultRef *res = NULL, **pres = NULL;
    char(*addrs)[160] = NULL;
    size_t nf = with_results && j->g ? j->g->out_off[j->g->n_outputs] : 0;
    int rc = RN_ENOMEM;

    res = rn_calloc(nf + 1, sizeof(*res));
    pres = rn_calloc(nf + 1, sizeof(*pres));
    addrs = rn_calloc(nf + 1, sizeof(*addrs));
    if (res && pres && addrs) {
        job_info(s, j, &ji, with_results ? res : NULL, pres, addrs);
        rn_buf_reset(out);
        if ((rc = rn_buf_reserve(out, runnel__v1__job_info__get_packed_size(&ji) + 1)) == 0)
            out->len = runnel__v1__job_info__pack(&ji, (uint8_t *)out->ptr);
    }
    rn_free(res);
    rn_free(pres);
    rn_free(addrs);
    return rc;
}

int rn__sched_list_jobs(rn__sreq *r, const void *reqp, rn_buf *reply,
                        rn_errbuf *err)
{
    rn_scheduler *s = r->s;
    Runnel__V1__ListJobsReply rep = RUNNEL__V1__LIST_JOBS_REPLY__INIT;
    Runnel__V1__JobInfo *infos = NULL, **pinfos = NULL;
    int rc;
    (void)reqp;

    pthread_mutex_lock(&s->lock);
    infos = rn_calloc(s->n_jobs + 1, sizeof(*infos));
    pinfos = rn_calloc(s->n_jobs + 1, sizeof(*pinfos));
    if (infos && pinfos) {
        /* everyone sees their own jobs, admins every job */
        for (size_t i = 0; i < s->n_jobs; i++) {
            if (!rn__sched_owns(s, &r->who, s->jobs[i]->owner))
                continue;
            job_info(s, s->jobs[i], &infos[rep.n_jobs], NULL, NULL, NULL);
            pinfos[rep.n_jobs] = &infos[rep.n_jobs];
            rep.n_jobs++;
        }
        rep.jobs = pinfos;
        rc = rn__sched_pack(&rep, reply, err);
    } else {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&s->lock);
    rn_free(infos);
    rn_free(pinfos);
    return rc;
}

void rn__sched_trim_jobs(rn_scheduler *s, int64_t now)
{
    size_t finished = 0;
    /* forget finished jobs nobody will fetch, trim old records */
    for (size_t i = 0; i < s->n_jobs; i++) {
        rn__sjob *j = s->jobs[i];
        if (rn__sched_is_final(j->state))
            finished++;
        if (j->state == JOB_DONE && !j->forgotten && j->watchers == 0 &&
            j->unwatched_ms &&
            now - j->unwatched_ms > (j->detached ? RN_SCHED_DETACHED_KEEP_MS
                                                 : RN_SCHED_UNWATCHED_KEEP_MS))
            rn__sched_job_forget(s, j);
    }
    for (size_t i = 0; i < s->n_jobs && finished > RN_SCHED_MAX_JOB_RECORDS;) {
        rn__sjob *j = s->jobs[i];
        if (rn__sched_is_final(j->state) && j->forgotten && j->watchers == 0) {
            memmove(&s->jobs[i], &s->jobs[i + 1],
                    (s->n_jobs - i - 1) * sizeof(rn__sjob *));
            s->n_jobs--;
            rn__sched_job_free(j);
            finished--;
        } else {
            i++;
        }
    }
}
