/* The methods clients call: cluster info, plugins, jobs. The frame
 * (frame.c) has checked that the caller is a client or an admin; a job
 * is only shown to, and acted on by, its owner or an admin. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "exec/ctx.h"
#include "scheduler/sched.h"
#include "transport/methods.h"

int rn__sched_info(rn__sreq *r, const void *reqp, rn_buf *reply,
                   rn_errbuf *err)
{
    rn_scheduler *s = r->s;
    Runnel__V1__InfoReply rep = RUNNEL__V1__INFO_REPLY__INIT;
    Runnel__V1__Service svc = RUNNEL__V1__SERVICE__INIT, *psvc = &svc;
    Runnel__V1__WorkerInfo *wi = NULL, **pwi = NULL;
    Runnel__V1__TaskCounts *tc = NULL;
    Runnel__V1__PluginRef *refs = NULL, **prefs = NULL;
    size_t n, np = 0, at = 0;
    int rc;
    (void)reqp;

    /* packed under the lock: the reply views the registry */
    pthread_mutex_lock(&s->lock);
    n = s->n_workers;
    for (size_t i = 0; i < n; i++)
        np += s->workers[i]->n_plugins;
    wi = rn_calloc(n + 1, sizeof(*wi));
    pwi = rn_calloc(n + 1, sizeof(*pwi));
    tc = rn_calloc(n + 1, sizeof(*tc));
    refs = rn_calloc(np + 1, sizeof(*refs));
    prefs = rn_calloc(np + 1, sizeof(*prefs));
    if (!wi || !pwi || !tc || !refs || !prefs) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const rn__sworker *w = s->workers[i];
        runnel__v1__worker_info__init(&wi[i]);
        runnel__v1__task_counts__init(&tc[i]);
        wi[i].address = w->address;
        wi[i].id = (char *)w->id;
        wi[i].name = w->name;
        wi[i].nthreads = w->nthreads;
        wi[i].memory_limit = w->memory_limit;
        wi[i].memory = w->memory;
        wi[i].rss = w->rss;
        wi[i].memory_peak = w->memory_peak;
        wi[i].spilled_bytes = w->spilled_bytes;
        wi[i].spilled_files = w->spilled_files;
        tc[i].running = w->assigned;
        tc[i].done = w->tasks_done;
        tc[i].failed = w->tasks_failed;
        wi[i].tasks = &tc[i];
        wi[i].partitions = w->partitions;
        wi[i].partition_bytes = w->partition_bytes;
        wi[i].last_seen = w->last_seen_unix;
        wi[i].status = (char *)(w->connected ? "running" : "connecting");
        wi[i].identity = (char *)w->owner;
        wi[i].plugins = &prefs[at];
        wi[i].n_plugins = w->n_plugins;
        for (size_t k = 0; k < w->n_plugins; k++, at++) {
            const rn_plugentry *e = &w->plugins[k];
            runnel__v1__plugin_ref__init(&refs[at]);
            refs[at].id = (char *)e->id;
            refs[at].name = (char *)e->name;
            refs[at].version = (char *)e->version;
            refs[at].size = e->size;
            prefs[at] = &refs[at];
        }
        pwi[i] = &wi[i];
    }
    rep.n_workers = n;
    rep.workers = pwi;
    for (size_t i = 0; i < s->n_jobs; i++) {
        rep.jobs_running += s->jobs[i]->state == JOB_RUNNING;
        rep.jobs_queued += s->jobs[i]->state == JOB_QUEUED;
    }
    rep.type = (char *)"Scheduler";
    rep.id = s->id;
    rep.address = s->address;
    svc.name = (char *)"grpc";
    svc.port = (uint32_t)s->port;
    rep.services = &psvc;
    rep.n_services = 1;
    rep.started = s->started_unix;
    rep.security = (char *)s->security;
    rc = rn__sched_pack(&rep, reply, err);
done:
    pthread_mutex_unlock(&s->lock);
    rn_free(wi);
    rn_free(pwi);
    rn_free(tc);
    rn_free(refs);
    rn_free(prefs);
    return rc;
}

void rn__sched_push_plugin(rn__sreq *r, const void *unused)
{
    rn_scheduler *s = r->s;
    rn_rpc_call *c = r->c;
    Runnel__V1__PushPluginRequest *req = NULL;
    Runnel__V1__PushPluginReply rep = RUNNEL__V1__PUSH_PLUGIN_REPLY__INIT;
    rn_plugput *pp = NULL;
    rn_errbuf err;
    char id[65] = "", name[64] = "";
    uint64_t got = 0;
    int exists = 0, rc;
    (void)unused;

    rn_error_clear(&err);
    /* an upload that stalls gives its slot back soon */
    rc = rn_rpc_recv_pb(c, &runnel__v1__push_plugin_request__descriptor,
                        (void **)&req, 10000);
    if (rc != 1) {
        if (rc == 0)
            rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT, "empty plugin push");
        return;
    }
    if (!req->plugin) {
        rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT,
                      "plugin push: the first message must name the plugin");
        goto done;
    }
    snprintf(id, sizeof(id), "%s", req->plugin->id);
    snprintf(name, sizeof(name), "%s", req->plugin->name);
    if (rn_plugstore_begin(s->store, req->plugin->id, req->plugin->name,
                           req->plugin->version, req->plugin->size, &pp,
                           &exists, &err)) {
        rn_rpc_finish_err(c, &err);
        goto done;
    }
    for (;;) {
        if (req->chunk) {
            if (req->chunk->offset != got) {
                rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT,
                              "plugin push: chunk at offset %llu, expected %llu",
                              (unsigned long long)req->chunk->offset,
                              (unsigned long long)got);
                goto done;
            }
            got += req->chunk->data.len;
            if (pp && rn_plugput_write(pp, req->chunk->data.data,
                                       req->chunk->data.len, &err)) {
                rn_rpc_finish_err(c, &err);
                goto done;
            }
        }
        rn_pb_free(req);
        req = NULL;
        rc = rn_rpc_recv_pb(c, &runnel__v1__push_plugin_request__descriptor,
                            (void **)&req, 10000);
        if (rc == 0)
            break;
        if (rc < 0) {
            /* broken, malformed or refused (answered); or idle too long */
            rn_rpc_finish(c, RN_RPC_DEADLINE_EXCEEDED,
                          "plugin push: nothing received for 10 s");
            goto done;
        }
    }
    if (pp) {
        rc = rn_plugput_commit(pp, &err);
        pp = NULL;
        if (rc) {
            rn_logf(RN_LOG_WARN, "scheduler: plugin push refused: %s", err.msg);
            rn_rpc_finish_err(c, &err);
            goto done;
        }
        rn_logf(RN_LOG_INFO, "plugin %s stored as sha256:%s (%llu bytes%s%s)",
                name, id, (unsigned long long)got,
                r->who.role ? ", pushed by " : "", r->who.name);
    }
    rep.id = id;
    rep.existed = exists;
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    rn_plugput_abort(pp);
    rn_pb_free(req);
}

int rn__sched_list_plugins(rn__sreq *r, const void *reqp, rn_buf *reply,
                           rn_errbuf *err)
{
    Runnel__V1__ListPluginsReply rep = RUNNEL__V1__LIST_PLUGINS_REPLY__INIT;
    Runnel__V1__PluginRef *refs = NULL, **ptrs = NULL;
    rn_plugentry *ents = NULL;
    size_t n = 0;
    int rc;
    (void)reqp;

    if (rn_plugstore_list(r->s->store, &ents, &n) ||
        !(refs = rn_calloc(n + 1, sizeof(*refs))) ||
        !(ptrs = rn_calloc(n + 1, sizeof(*ptrs)))) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        runnel__v1__plugin_ref__init(&refs[i]);
        refs[i].id = ents[i].id;
        refs[i].name = ents[i].name;
        refs[i].version = ents[i].version;
        refs[i].size = ents[i].size;
        ptrs[i] = &refs[i];
    }
    rep.plugins = ptrs;
    rep.n_plugins = n;
    rc = rn__sched_pack(&rep, reply, err);
done:
    rn_free(refs);
    rn_free(ptrs);
    rn_free(ents);
    return rc;
}

int rn__sched_submit(rn__sreq *r, const void *reqp, rn_buf *reply,
                     rn_errbuf *err)
{
    const Runnel__V1__SubmitJobRequest *req = reqp;
    Runnel__V1__SubmitJobReply rep = RUNNEL__V1__SUBMIT_JOB_REPLY__INIT;
    rn_scheduler *s = r->s;
    rn__sjob *j = NULL;
    char id[16];
    int rc;

    if ((rc = rn__sched_job_new(s, &r->who, req, &j, err)))
        return rc;
    pthread_mutex_lock(&s->lock);
    if ((rc = rn__sched_job_add(s, j, err))) {
        pthread_mutex_unlock(&s->lock);
        rn__sched_job_free(j);
        return rc;
    }
    rn_logf(RN_LOG_INFO, "job %s (%s) submitted by %s%s%s: %zu splits, %zu "
                         "stages, %zu tasks",
            j->id, j->name, j->owner[0] ? j->owner : "",
            j->owner[0] ? " from " : "", j->client[0] ? j->client : "?",
            j->splits->n, j->n_stages, j->g->n);
    snprintf(id, sizeof(id), "%s", j->id);
    rn__sched_check_complete(s, j); /* a job with no task at all */
    rn__sched_schedule(s);
    pthread_mutex_unlock(&s->lock);
    rep.job_id = id;
    return rn__sched_pack(&rep, reply, err);
}

int rn__sched_get_job(rn__sreq *r, const void *reqp, rn_buf *reply,
                      rn_errbuf *err)
{
    const Runnel__V1__JobRequest *req = reqp;
    rn__sjob *j;
    int rc;
    pthread_mutex_lock(&r->s->lock);
    if ((rc = rn__sched_job_access(r->s, &r->who, req->job_id, &j, err)) == 0)
        rc = rn__sched_pack_job(r->s, j, 1, reply);
    pthread_mutex_unlock(&r->s->lock);
    return rc == RN_ENOMEM ? rn_error_set(err, rc, "out of memory") : rc;
}

/* Waits on the jobs' condition until abs_ms (monotonic) at most. */
static void wait_jobs(rn_scheduler *s, int wait_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)wait_ms * 1000 * 1000;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->jobcond, &s->lock, &ts);
}

void rn__sched_watch_job(rn__sreq *r, const void *reqp)
{
    const Runnel__V1__JobRequest *req = reqp;
    rn_scheduler *s = r->s;
    rn_rpc_call *c = r->c;
    uint64_t seen = (uint64_t)-1;
    int final = 0, vanished = 0;
    int64_t last = 0;
    char id[16];
    rn_errbuf err;
    rn_buf buf;
    rn__sjob *j;

    rn_error_clear(&err);
    pthread_mutex_lock(&s->lock);
    if (rn__sched_job_access(s, &r->who, req->job_id, &j, &err)) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish_err(c, &err);
        return;
    }
    snprintf(id, sizeof(id), "%s", j->id);
    j->watchers++;
    pthread_mutex_unlock(&s->lock);
    rn_buf_init(&buf, 0);
    for (;;) {
        int64_t now = rn_rpc_now_ms(), wait_ms = 250;
        int rc = 0, send = 0;
        pthread_mutex_lock(&s->lock);
        j = rn__sched_job_by_id(s, id);
        /* at most one update every 200 ms, the final one at once */
        if (j && j->version != seen &&
            (now - last >= 200 || rn__sched_is_final(j->state))) {
            rc = rn__sched_pack_job(s, j, 1, &buf);
            final = rn__sched_is_final(j->state);
            seen = j->version;
            send = rc == 0;
        } else if (j && j->version != seen) {
            wait_ms = 200 - (now - last);
        }
        pthread_mutex_unlock(&s->lock);
        if (!j || rc)
            break;
        if (send) {
            if (rn_rpc_send(c, buf.ptr, buf.len, 30000)) {
                vanished = 1;
                break;
            }
            last = now;
            if (final)
                break;
            continue;
        }
        if (rn_rpc_should_stop(c)) {
            vanished = 1;
            break;
        }
        pthread_mutex_lock(&s->lock);
        j = rn__sched_job_by_id(s, id);
        if (j && (j->version == seen || wait_ms < 250))
            wait_jobs(s, (int)wait_ms);
        pthread_mutex_unlock(&s->lock);
    }
    rn_buf_release(&buf);
    pthread_mutex_lock(&s->lock);
    if ((j = rn__sched_job_by_id(s, id))) {
        j->watchers--;
        if (vanished && !j->detached && !rn__sched_is_final(j->state) &&
            j->watchers == 0)
            rn__sched_job_end(s, j, JOB_CANCELLED, "the client went away");
        else if (j->state == JOB_DONE && j->watchers == 0 && !j->unwatched_ms)
            j->unwatched_ms = rn_rpc_now_ms();
    }
    pthread_mutex_unlock(&s->lock);
    if (!vanished)
        rn_rpc_finish_ok(c);
}

int rn__sched_cancel_job(rn__sreq *r, const void *reqp, rn_buf *reply,
                         rn_errbuf *err)
{
    const Runnel__V1__JobRequest *req = reqp;
    rn__sjob *j;
    int rc;
    pthread_mutex_lock(&r->s->lock);
    if ((rc = rn__sched_job_access(r->s, &r->who, req->job_id, &j, err)) == 0) {
        if (!rn__sched_is_final(j->state))
            rn__sched_job_end(r->s, j, JOB_CANCELLED, "cancelled by %s%s%s (%s)",
                              r->who.role ? rn_role_name(r->who.role) : "a client",
                              r->who.role ? " " : "", r->who.name,
                              rn_rpc_peer(r->c));
        rc = rn__sched_pack_job(r->s, j, 1, reply);
    }
    pthread_mutex_unlock(&r->s->lock);
    return rc == RN_ENOMEM ? rn_error_set(err, rc, "out of memory") : rc;
}

int rn__sched_release_job(rn__sreq *r, const void *reqp, rn_buf *reply,
                          rn_errbuf *err)
{
    const Runnel__V1__JobRequest *req = reqp;
    rn__sjob *j;
    int rc;
    pthread_mutex_lock(&r->s->lock);
    if ((rc = rn__sched_job_access(r->s, &r->who, req->job_id, &j, err)) == 0) {
        if (j->state == JOB_DONE)
            rn__sched_job_forget(r->s, j);
        j->released = 1;
        rc = rn__sched_pack_job(r->s, j, 1, reply);
    }
    pthread_mutex_unlock(&r->s->lock);
    return rc == RN_ENOMEM ? rn_error_set(err, rc, "out of memory") : rc;
}

int rn__sched_report_missing(rn__sreq *r, const void *reqp, rn_buf *reply,
                             rn_errbuf *err)
{
    const Runnel__V1__ReportMissingRequest *req = reqp;
    rn_scheduler *s = r->s;
    rn__sjob *j;
    int rc;
    pthread_mutex_lock(&s->lock);
    if ((rc = rn__sched_job_access(s, &r->who, req->job_id, &j, err)))
        goto done;
    if (j->g && req->task_id < j->g->n &&
        j->g->tasks[req->task_id].state == RN_TS_DONE) {
        rn__sworker *w = rn__sched_worker_by_wid(s, j->g->tasks[req->task_id].worker);
        if (!w || strcmp(w->address, req->address) == 0) {
            rn_logf(RN_LOG_WARN, "job %s: result %u could not be fetched from "
                                 "%.160s: recomputing it",
                    j->id, req->task_id, req->address);
            rn_jobgraph_forget_output(j->g, req->task_id);
            if (j->state == JOB_DONE)
                j->state = JOB_RUNNING;
            rn__sched_job_changed(s, j);
            pthread_cond_signal(&s->tick);
        }
    }
    rc = rn__sched_pack_job(s, j, 1, reply);
done:
    pthread_mutex_unlock(&s->lock);
    return rc == RN_ENOMEM ? rn_error_set(err, rc, "out of memory") : rc;
}
