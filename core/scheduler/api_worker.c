/* The methods workers call: register, the command stream, heartbeats,
 * task outcomes, plugin files, retiring. The frame (frame.c) has checked
 * that the caller is a worker; these check that it is *this* worker. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cluster/ident.h"
#include "exec/ctx.h"
#include "scheduler/sched.h"
#include "transport/methods.h"

/* Commands packed into one stream message (WorkerCommand.more), bytes. */
#define MAX_BURST_BYTES ((size_t)1 << 20)

int rn__sched_register(rn__sreq *r, const void *reqp, rn_buf *reply,
                       rn_errbuf *err)
{
    const Runnel__V1__RegisterRequest *req = reqp;
    Runnel__V1__RegisterReply rep = RUNNEL__V1__REGISTER_REPLY__INIT;
    rn_scheduler *s = r->s;
    const char *scheme = s->tls ? "tls://" : "tcp://";
    rn__sworker *w = NULL;
    char id[24];
    int rc;

    if (req->protocol != RN_PROTOCOL_VERSION)
        return rn_error_set(err, RN_EABI,
                            "protocol version %u is not supported (this "
                            "scheduler speaks %d)",
                            req->protocol, RN_PROTOCOL_VERSION);
    if (strncmp(req->address, scheme, 6) != 0 || req->nthreads == 0 ||
        req->nthreads > 4096 || !req->instance[0])
        return rn_error_set(err, RN_EINVAL,
                            "bad registration: need address %sHOST:PORT, "
                            "nthreads 1..4096 and an instance (got '%.100s', "
                            "%u)%s",
                            scheme, req->address, req->nthreads,
                            s->tls ? " (this cluster speaks TLS: start the "
                                     "worker with --tls DIR)"
                                   : "");
    if (req->n_plugins > RN_SCHED_MAX_WORKER_PLUGINS)
        return rn_error_set(err, RN_ELIMIT, "a worker lists at most %d plugins",
                            RN_SCHED_MAX_WORKER_PLUGINS);
    pthread_mutex_lock(&s->lock);
    if (req->worker_id[0])
        w = rn__sched_worker_by_id(s, req->worker_id);
    if (!w)
        w = rn__sched_worker_by_address(s, req->address);
    if (w && (strcmp(w->instance, req->instance) != 0 ||
              strcmp(w->owner, r->who.name) != 0)) {
        rc = rn_error_set(err, RN_EEXIST,
                          "a worker is already registered at %s (name %s, id "
                          "%s, last seen %.1f s ago): a second one cannot "
                          "register there until the first leaves or is "
                          "declared lost",
                          w->address, w->name, w->id,
                          (double)(rn_rpc_now_ms() - w->last_seen_ms) / 1000.0);
        pthread_mutex_unlock(&s->lock);
        return rc;
    }
    if (w) {
        /* the same process again (its stream broke): it keeps what it
         * holds, but commands in flight may be lost, so what it was
         * running is assigned afresh */
        for (size_t i = 0; i < s->n_jobs; i++) {
            rn__sjob *j = s->jobs[i];
            if (!j->g)
                continue;
            for (size_t t = 0; t < j->g->n; t++)
                if (j->g->tasks[t].state == RN_TS_RUNNING &&
                    j->g->tasks[t].worker == w->wid)
                    rn_jobgraph_unassign(j->g, (uint32_t)t);
        }
        w->assigned = 0;
        rn__sched_outbox_clear(w);
        rep.reattached = 1;
        rn_logf(RN_LOG_INFO, "worker %s (%s) re-attached", w->address, w->name);
    } else {
        if (s->n_workers >= RN_SCHED_MAX_WORKERS) {
            pthread_mutex_unlock(&s->lock);
            return rn_error_set(err, RN_ELIMIT,
                                "%d workers are registered: no more", RN_SCHED_MAX_WORKERS);
        }
        if (s->n_workers == s->cap_workers) {
            size_t cap = s->cap_workers ? s->cap_workers * 2 : 16;
            rn__sworker **nw = rn_realloc(s->workers, cap * sizeof(*nw));
            if (!nw) {
                pthread_mutex_unlock(&s->lock);
                return rn_error_set(err, RN_ENOMEM, "out of memory");
            }
            s->workers = nw;
            s->cap_workers = cap;
        }
        w = rn_calloc(1, sizeof(*w));
        if (w) {
            w->address = rn_strndup(req->address, strnlen(req->address, 159));
            const char *name = req->name[0] ? req->name : req->address;
            w->name = rn_strndup(name, strnlen(name, 128));
            w->instance = rn_strndup(req->instance, strnlen(req->instance, 64));
        }
        if (!w || !w->address || !w->name || !w->instance) {
            rn__sched_worker_free(w);
            pthread_mutex_unlock(&s->lock);
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        }
        snprintf(w->owner, sizeof(w->owner), "%s", r->who.name);
        w->wid = ++s->next_wid;
        rn_ident_random_hex(id, 8);
        snprintf(w->id, sizeof(w->id), "w-%.8s", id);
        w->disconnected_ms = rn_rpc_now_ms();
        s->workers[s->n_workers++] = w;
        rn_logf(RN_LOG_INFO, "worker %s (%s%s%s) registered: %u threads, memory "
                             "limit %llu",
                w->address, w->name, w->owner[0] ? ", certificate " : "",
                w->owner, req->nthreads, (unsigned long long)req->memory_limit);
    }
    w->nthreads = req->nthreads;
    w->minor = req->minor;
    w->memory_limit = req->memory_limit;
    w->pid = req->pid;
    w->last_seen_ms = rn_rpc_now_ms();
    w->last_seen_unix = rn__sched_unix_now();
    snprintf(id, sizeof(id), "%s", w->id);
    rep.worker_id = id;
    rep.scheduler_id = s->id;
    rep.heartbeat_ms = (uint32_t)s->hb_interval_ms;
    rep.minor = RN_PROTOCOL_MINOR;
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);
    return rn__sched_pack(&rep, reply, err);
}

/* Appends the header of one WorkerCommand.more element (field 6,
 * length-delimited) holding len bytes; returns its size (at most 11). A
 * packed WorkerCommand followed by such elements is one WorkerCommand
 * (protobuf merges concatenated messages): a burst of commands goes out
 * as one stream message without unpacking them again. */
static size_t more_header(uint8_t *p, size_t len)
{
    size_t n = 0;
    p[n++] = (6 << 3) | 2;
    while (len >= 0x80) {
        p[n++] = (uint8_t)(len | 0x80);
        len >>= 7;
    }
    p[n++] = (uint8_t)len;
    return n;
}

/* Sends a list of queued commands (freed here): one by one to a worker of
 * minor 0, packed into bursts of up to MAX_BURST_BYTES otherwise. Returns
 * non-zero once a send failed (the rest is dropped). */
static int send_batch(rn_rpc_call *c, rn__outmsg *batch, uint32_t minor)
{
    rn_buf burst;
    int failed = 0;
    rn_buf_init(&burst, 0);
    while (batch) {
        rn__outmsg *next = batch->next;
        uint8_t hdr[16];
        size_t h = burst.len ? more_header(hdr, batch->len) : 0;
        if (failed) {
            /* dropped: the worker registers again, its tasks are reset */
        } else if (minor < 1) {
            failed = rn_rpc_send(c, batch->data, batch->len,
                                 RN_SCHED_SEND_TIMEOUT_MS);
        } else if ((h && rn_buf_append(&burst, hdr, h)) ||
                   rn_buf_append(&burst, batch->data, batch->len)) {
            failed = 1; /* out of memory: as a broken stream */
        } else if (!next || burst.len + next->len + 16 > MAX_BURST_BYTES) {
            failed = rn_rpc_send(c, burst.ptr, burst.len, RN_SCHED_SEND_TIMEOUT_MS);
            burst.len = 0;
        }
        rn_free(batch->data);
        rn_free(batch);
        batch = next;
    }
    rn_buf_release(&burst);
    return failed;
}

static int send_ping(rn_rpc_call *c)
{
    Runnel__V1__WorkerCommand ping = RUNNEL__V1__WORKER_COMMAND__INIT;
    ping.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_PING;
    ping.ping = 1;
    return rn_rpc_send_pb(c, &ping, RN_SCHED_SEND_TIMEOUT_MS);
}

void rn__sched_connect(rn__sreq *r, const void *reqp)
{
    const Runnel__V1__ConnectRequest *req = reqp;
    rn_scheduler *s = r->s;
    rn_rpc_call *c = r->c;
    rn__sworker *w;
    rn_errbuf err;
    uint32_t gen;
    char wid[24];
    int64_t last_send;
    int ended = 0;

    snprintf(wid, sizeof(wid), "%s", req->worker_id);
    pthread_mutex_lock(&s->lock);
    if (!(w = rn__sched_seen_worker(s, &r->who, wid, &err))) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish_err(c, &err);
        return;
    }
    gen = ++w->stream_gen;
    w->connected = 1;
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);

    /* a first message at once: the worker knows the stream is up */
    if (send_ping(c))
        ended = 1;
    last_send = rn_rpc_now_ms();
    while (!ended) {
        rn__outmsg *batch = NULL;
        uint32_t minor;
        struct timespec ts;
        if (rn_rpc_should_stop(c))
            break;
        pthread_mutex_lock(&s->lock);
        w = rn__sched_worker_by_id(s, wid);
        if (!w || w->stream_gen != gen || s->stopping) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        if (!w->out_head) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 250 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cond, &s->lock, &ts);
            w = rn__sched_worker_by_id(s, wid);
            if (!w || w->stream_gen != gen) {
                pthread_mutex_unlock(&s->lock);
                break;
            }
        }
        batch = w->out_head;
        w->out_head = w->out_tail = NULL;
        minor = w->minor;
        pthread_mutex_unlock(&s->lock);
        if (batch) {
            if (send_batch(c, batch, minor))
                ended = 1; /* the worker re-registers; its tasks are reset */
            last_send = rn_rpc_now_ms();
        }
        if (!ended && rn_rpc_now_ms() - last_send > 5000) {
            if (send_ping(c))
                ended = 1;
            last_send = rn_rpc_now_ms();
        }
    }
    pthread_mutex_lock(&s->lock);
    w = rn__sched_worker_by_id(s, wid);
    if (w && w->stream_gen == gen) {
        w->connected = 0;
        w->disconnected_ms = rn_rpc_now_ms();
    }
    pthread_mutex_unlock(&s->lock);
    if (!w)
        rn_rpc_finish(c, RN_RPC_NOT_FOUND, "worker %s is no longer registered",
                      wid);
    else
        rn_rpc_finish_ok(c);
}

int rn__sched_heartbeat(rn__sreq *r, const void *reqp, rn_buf *reply,
                        rn_errbuf *err)
{
    const Runnel__V1__HeartbeatRequest *req = reqp;
    Runnel__V1__HeartbeatReply rep = RUNNEL__V1__HEARTBEAT_REPLY__INIT;
    rn_scheduler *s = r->s;
    rn__sworker *w;
    int rc;

    if (req->n_plugins > RN_SCHED_MAX_WORKER_PLUGINS)
        return rn_error_set(err, RN_ELIMIT,
                            "a heartbeat lists at most %d plugins (got %zu)",
                            RN_SCHED_MAX_WORKER_PLUGINS, req->n_plugins);
    pthread_mutex_lock(&s->lock);
    if (!(w = rn__sched_seen_worker(s, &r->who, req->worker_id, err))) {
        rc = err->code;
        goto done;
    }
    w->memory = req->memory;
    w->rss = req->rss;
    w->memory_peak = req->memory_peak;
    w->spilled_bytes = req->spilled_bytes;
    w->spilled_files = req->spilled_files;
    w->partitions = req->partitions;
    w->partition_bytes = req->partition_bytes;
    if (req->n_plugins != w->n_plugins) {
        rn_free(w->plugins);
        w->plugins = rn_calloc(req->n_plugins ? req->n_plugins : 1,
                               sizeof(rn_plugentry));
        w->n_plugins = w->plugins ? req->n_plugins : 0;
    }
    for (size_t i = 0; i < w->n_plugins; i++) {
        rn_plugentry *e = &w->plugins[i];
        snprintf(e->id, sizeof(e->id), "%s", req->plugins[i]->id);
        snprintf(e->name, sizeof(e->name), "%s", req->plugins[i]->name);
        snprintf(e->version, sizeof(e->version), "%s", req->plugins[i]->version);
        e->size = req->plugins[i]->size;
    }
    /* the jobs it may keep: views of the records, packed under the lock */
    if (!(rep.jobs = rn_calloc(s->n_jobs + 1, sizeof(char *)))) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!s->jobs[i]->forgotten)
            rep.jobs[rep.n_jobs++] = s->jobs[i]->id;
    rep.scheduler_time = rn__sched_unix_now();
    rc = rn__sched_pack(&rep, reply, err);
done:
    pthread_mutex_unlock(&s->lock);
    rn_free(rep.jobs);
    return rc;
}

int rn__sched_task_done_1(rn__sreq *r, const void *reqp, rn_buf *reply,
                          rn_errbuf *err)
{
    const Runnel__V1__TaskDoneRequest *req = reqp;
    Runnel__V1__TaskDoneReply rep = RUNNEL__V1__TASK_DONE_REPLY__INIT;
    rn_scheduler *s = r->s;
    rn__sworker *w;
    int rc;

    pthread_mutex_lock(&s->lock);
    if (!(w = rn__sched_seen_worker(s, &r->who, req->worker_id, err))) {
        pthread_mutex_unlock(&s->lock);
        return err->code;
    }
    if ((rc = rn__sched_task_done(s, w, req)) < 0) {
        pthread_mutex_unlock(&s->lock);
        return rn_error_set(err, RN_EINVAL, "job %.40s has no task %u",
                            req->job_id, req->task_id);
    }
    rep.accepted = rc == 1;
    rn__sched_schedule(s); /* here, not in the loop: no hand-over between threads */
    pthread_mutex_unlock(&s->lock);
    return rn__sched_pack(&rep, reply, err);
}

/* Outcomes, a batch per message, on one call that lasts as long as the
 * worker's connection (minor 1): no call - and no thread - per task. A
 * batch is one scheduling round. An unknown worker (lost, or we
 * restarted) gets nothing accepted; its heartbeat tells it to register
 * again. Another identity's worker id gets the call refused. */
void rn__sched_tasks_done(rn__sreq *r, const void *unused)
{
    rn_scheduler *s = r->s;
    rn_rpc_call *c = r->c;
    rn_errbuf err;
    (void)unused;
    for (;;) {
        Runnel__V1__TasksDoneRequest *req = NULL;
        Runnel__V1__TasksDoneReply rep = RUNNEL__V1__TASKS_DONE_REPLY__INIT;
        protobuf_c_boolean *acc;
        rn__sworker *w;
        int rc = rn_rpc_recv_pb(c, &runnel__v1__tasks_done_request__descriptor,
                                (void **)&req, -1);
        if (rc == 0)
            break; /* the worker closed its side */
        if (rc < 0)
            return; /* broken, or malformed or refused (answered) */
        if (!(acc = rn_calloc(req->n_tasks + 1, sizeof(*acc)))) {
            rn_pb_free(req);
            rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        rn_error_clear(&err);
        pthread_mutex_lock(&s->lock);
        if ((w = rn__sched_seen_worker(s, &r->who, req->worker_id, &err))) {
            for (size_t i = 0; i < req->n_tasks; i++)
                /* a task the job lacks is refused alone, not the batch */
                acc[i] = rn__sched_task_done(s, w, req->tasks[i]) == 1;
            rn__sched_schedule(s);
        }
        pthread_mutex_unlock(&s->lock);
        if (err.code == RN_EPERM) {
            rn_free(acc);
            rn_pb_free(req);
            rn_rpc_finish_err(c, &err);
            return;
        }
        rep.accepted = acc;
        rep.n_accepted = req->n_tasks;
        rc = rn_rpc_send_pb(c, &rep, 10000);
        rn_free(acc);
        rn_pb_free(req);
        if (rc)
            return;
    }
    rn_rpc_finish_ok(c);
}

void rn__sched_fetch_plugin(rn__sreq *r, const void *reqp)
{
    const Runnel__V1__FetchPluginRequest *req = reqp;
    rn_rpc_call *c = r->c;
    char path[4096];
    uint8_t *buf = NULL;
    int fd = -1;
    uint64_t size = 0;

    if (rn_plugstore_path(r->s->store, req->id, path, sizeof(path)) != 0) {
        rn_rpc_finish(c, RN_RPC_NOT_FOUND,
                      "plugin sha256:%.64s is not in the scheduler's store "
                      "(push it with runnel plugin push)",
                      req->id);
        goto done;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
        !(buf = rn_malloc(RN_RPC_CHUNK))) {
        rn_rpc_finish(c, RN_RPC_INTERNAL, "cannot read %s: %s", path,
                      strerror(errno));
        goto done;
    }
    size = (uint64_t)lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    {
        Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
        uint64_t off = 0;
        ch.total = size;
        do {
            ssize_t n = read(fd, buf, RN_RPC_CHUNK);
            if (n < 0) {
                rn_rpc_finish(c, RN_RPC_INTERNAL, "cannot read %s: %s", path,
                              strerror(errno));
                goto done;
            }
            ch.offset = off;
            ch.data.data = buf;
            ch.data.len = (size_t)n;
            if (rn_rpc_send_pb(c, &ch, 30000))
                goto done;
            off += (uint64_t)n;
            if (n == 0)
                break;
        } while (off < size);
    }
    rn_rpc_finish_ok(c);
done:
    if (fd >= 0)
        close(fd);
    rn_free(buf);
}

int rn__sched_retire(rn__sreq *r, const void *reqp, rn_buf *reply,
                     rn_errbuf *err)
{
    const Runnel__V1__RetireRequest *req = reqp;
    Runnel__V1__RetireReply rep = RUNNEL__V1__RETIRE_REPLY__INIT;
    rn_scheduler *s = r->s;
    rn__sworker *w;

    pthread_mutex_lock(&s->lock);
    if (!(w = rn__sched_seen_worker(s, &r->who, req->worker_id, err))) {
        pthread_mutex_unlock(&s->lock);
        return err->code;
    }
    rep.tasks_handed_back = w->assigned;
    rn__sched_worker_gone(s, w, 0, "retired (SIGTERM)");
    rn__sched_worker_remove(s, w);
    pthread_mutex_unlock(&s->lock);
    return rn__sched_pack(&rep, reply, err);
}
