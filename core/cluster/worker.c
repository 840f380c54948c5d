/* The worker daemon. */
#define _GNU_SOURCE
#include "cluster/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/alloc.h"
#include "base/budget.h"
#include "cluster/ident.h"
#include "cluster/jobgraph.h"
#include "cluster/partstore.h"
#include "cluster/plugfetch.h"
#include "cluster/plugstore.h"
#include "cluster/taskrun.h"
#include "exec/ctx.h"
#include "exec/local.h"
#include "io/io.h"
#include "security/identity.h"
#include "spill/dir.h"
#include "transport/chunk.h"
#include "transport/methods.h"
#include "transport/pbbounds.h"
#include "transport/rpc.h"
#include "value/codec.h"

#include "runnel_scheduler.pb-c.h"
#include "runnel_worker.pb-c.h"

/* A peer that sends nothing for this long while we fetch from it is
 * treated as gone (the scheduler will have it recomputed). */
#define FETCH_TIMEOUT_MS 20000
#define REPORT_TRIES 6
/* Outcomes sent in one TasksDone call at most. */
#define MAX_REPORT_BATCH 1024

/* A task's outcome waiting for the reporter thread. */
typedef struct taskout {
    struct taskout *next;
    char *job_id, *error;
    uint32_t task_id, attempt, missing;
    int outcome;
    uint64_t bytes, items, bytes_read;
    double seconds;
} taskout;

typedef struct qtask {
    struct qtask *next;
    Runnel__V1__RunTask *rt;
    uint64_t gen;
} qtask;

typedef struct peer {
    char *address;
    rn_rpc_channel *ch;
} peer;

struct rn_worker {
    char *sched_url, *name, *listen;
    const rn_rpc_tls *tls;       /* the caller's, outlives the worker */
    char target[256];
    char address[160];
    char instance[40];
    int nthreads;
    uint64_t memory_limit;
    rn_registry *reg;
    rn_plugstore *cache;
    rn_partstore *parts;
    rn_spill_dir *spill;         /* where partitions past the budget go */
    rn_rpc_server *srv;
    int port;
    rn_rpc_channel *sched;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_mutex_t create_lock; /* one job's plan (and plugins) at a time */
    rn_rpc_stream *stream;       /* the command stream, while open */
    char worker_id[24];
    int hb_ms;
    int registered;
    uint64_t gen;                /* bumped at every registration */
    qtask *q_head, *q_tail;
    rn_jobrun **jobs;
    size_t n_jobs, cap_jobs;
    peer *peers;
    size_t n_peers, cap_peers;
    uint32_t sched_minor;        /* the scheduler's protocol minor */
    /* outcomes to report: task threads add, the reporter thread sends */
    pthread_cond_t rcond;        /* outcomes to send */
    rn_rpc_stream *rst;          /* the TasksDone call (reporter thread only) */
    taskout *r_head, *r_tail;
    pthread_t conn_tid, hb_tid, rep_tid, *task_tids;
    int conn_started, hb_started, rep_started, n_task_started;
    int stopping, retiring;
    int policy_set;              /* we set core/io's policy */
    int running;
    uint64_t tasks_done, tasks_failed;
    int paused;
};

/* Sleeps up to ms, less when the worker stops. */
static void nap(rn_worker *w, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    if (!w->stopping)
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    pthread_mutex_unlock(&w->lock);
}

static int stopping(rn_worker *w)
{
    int s;
    pthread_mutex_lock(&w->lock);
    s = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return s;
}

/* ------------------------------------------------------ local state -- */

static void free_qtask(qtask *q)
{
    rn_pb_free(q->rt);
    rn_free(q);
}

/* Under the lock. */
static void clear_queue(rn_worker *w, const char *job)
{
    qtask **pp = &w->q_head, *last = NULL;
    while (*pp) {
        qtask *q = *pp;
        if (!job || strcmp(q->rt->job_id, job) == 0) {
            *pp = q->next;
            free_qtask(q);
        } else {
            last = q;
            pp = &q->next;
        }
    }
    w->q_tail = last;
}

/* Drops a job: its plan (once its running tasks end), queued tasks and
 * partitions. */
static void drop_job(rn_worker *w, const char *job)
{
    rn_jobrun *jr = NULL;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_jobs; i++)
        if (strcmp(w->jobs[i]->job_id, job) == 0) {
            jr = w->jobs[i];
            w->jobs[i] = w->jobs[--w->n_jobs];
            break;
        }
    clear_queue(w, job);
    pthread_mutex_unlock(&w->lock);
    if (jr) {
        atomic_store(&jr->cancel, true);
        rn_jobrun_unref(jr);
    }
    rn_partstore_drop_job(w->parts, job);
}

static void drop_everything(rn_worker *w)
{
    pthread_mutex_lock(&w->lock);
    clear_queue(w, NULL);
    while (w->n_jobs) {
        rn_jobrun *jr = w->jobs[--w->n_jobs];
        atomic_store(&jr->cancel, true);
        rn_jobrun_unref(jr);
    }
    pthread_mutex_unlock(&w->lock);
    rn_partstore_clear(w->parts);
}

static void cancel_job(rn_worker *w, const char *job)
{
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_jobs; i++)
        if (strcmp(w->jobs[i]->job_id, job) == 0)
            atomic_store(&w->jobs[i]->cancel, true);
    clear_queue(w, job);
    pthread_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------- plugins -- */

static int ensure_plugin(rn_worker *w, const char *id, rn_errbuf *err)
{
    return rn_plugfetch(w->sched, w->cache, w->reg, id, NULL, err);
}

/* A new reference to the job's plan here, or NULL. */
static rn_jobrun *find_jobrun(rn_worker *w, const char *job)
{
    rn_jobrun *jr = NULL;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_jobs && !jr; i++)
        if (strcmp(w->jobs[i]->job_id, job) == 0)
            jr = w->jobs[i];
    if (jr)
        rn_jobrun_ref(jr);
    pthread_mutex_unlock(&w->lock);
    return jr;
}

/* The job's plan in this process: found, or built (plugins first). */
static int get_jobrun(rn_worker *w, const Runnel__V1__RunTask *rt,
                      rn_jobrun **out, rn_errbuf *err)
{
    rn_manifest *m = NULL;
    rn_jobrun *jr = NULL;
    int rc = 0;

    *out = NULL;
    if ((jr = find_jobrun(w, rt->job_id))) {
        *out = jr;
        return 0;
    }
    pthread_mutex_lock(&w->create_lock);
    if ((jr = find_jobrun(w, rt->job_id))) /* made while we waited */
        goto done;
    if ((rc = rn_manifest_parse_job("job manifest", rt->manifest, strlen(rt->manifest),
                                &m, err)))
        goto done;
    for (size_t i = 0; i < m->n_plugins; i++) {
        /* a worker loads only what the scheduler's store verified: a
         * path could name a file a job wrote */
        if (strncmp(m->plugins[i], "sha256:", 7) != 0) {
            rc = rn_error_set(err, RN_EPERM,
                              "plugin '%.200s' is named by path: a worker only "
                              "loads plugins by sha256: id",
                              m->plugins[i]);
            goto done;
        }
        if ((rc = ensure_plugin(w, m->plugins[i] + 7, err)))
            goto done;
    }
    if ((rc = rn_jobrun_new(rt->job_id, rt->manifest, strlen(rt->manifest), w->reg,
                            &jr, err)))
        goto done;
    snprintf(jr->cap, sizeof(jr->cap), "%s", rt->capability);
    jr->first_seen_ms = rn_rpc_now_ms();
    pthread_mutex_lock(&w->lock);
    if (w->n_jobs == w->cap_jobs) {
        size_t cap = w->cap_jobs ? w->cap_jobs * 2 : 8;
        rn_jobrun **nj = rn_realloc(w->jobs, cap * sizeof(*nj));
        if (!nj) {
            pthread_mutex_unlock(&w->lock);
            rn_jobrun_unref(jr);
            jr = NULL;
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
        w->jobs = nj;
        w->cap_jobs = cap;
    }
    w->jobs[w->n_jobs++] = jr; /* the table's reference */
    rn_jobrun_ref(jr);         /* the caller's */
    pthread_mutex_unlock(&w->lock);
done:
    pthread_mutex_unlock(&w->create_lock);
    rn_manifest_free(m);
    *out = jr;
    return rc;
}

/* ------------------------------------------------------------ tasks -- */

static rn_rpc_channel *peer_channel(rn_worker *w, const char *address,
                                    rn_errbuf *err)
{
    char target[256];
    rn_rpc_channel *ch = NULL;
    if (rn_rpc_target(address, target, sizeof(target), err))
        return NULL;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_peers; i++)
        if (strcmp(w->peers[i].address, address) == 0)
            ch = w->peers[i].ch;
    if (!ch && (w->n_peers < w->cap_peers || w->cap_peers < 4096)) {
        if (w->n_peers == w->cap_peers) {
            size_t cap = w->cap_peers ? w->cap_peers * 2 : 16;
            peer *np = rn_realloc(w->peers, cap * sizeof(*np));
            if (np) {
                w->peers = np;
                w->cap_peers = cap;
            }
        }
        if (w->n_peers < w->cap_peers && (ch = rn_rpc_channel_new(target, w->tls, RN_TLS_NAME_WORKER))) {
            w->peers[w->n_peers].address = rn_strdup(address);
            if (w->peers[w->n_peers].address) {
                w->peers[w->n_peers].ch = ch;
                w->n_peers++;
            } else {
                rn_rpc_channel_free(ch);
                ch = NULL;
            }
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (!ch)
        rn_error_set(err, RN_ENOMEM, "out of memory");
    return ch;
}

/* Monotonic seconds, finer than rn_rpc_now_ms (tasks of microseconds). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An input's encoded bytes, released by the task once read: a spilled
 * file of this worker mapped, or what a peer sent. */
typedef struct input_bytes {
    void *map;      /* a mapping, or NULL */
    size_t map_len;
    rn_buf buf;     /* else the bytes received */
} input_bytes;

static void input_bytes_release(void *owner)
{
    input_bytes *ib = owner;
    if (ib->map)
        munmap(ib->map, ib->map_len);
    rn_buf_release(&ib->buf);
    rn_free(ib);
}

/* A spilled partition of this worker, mapped from its file (the page
 * cache holds it, not the budget): in->data. */
static int map_input(int fd, uint64_t size, rn_taskrun_in *in, rn_errbuf *err)
{
    long page = sysconf(_SC_PAGESIZE);
    off_t at = lseek(fd, 0, SEEK_CUR), base;
    input_bytes *ib;
    if (at < 0 || page <= 0 || size > SIZE_MAX / 2)
        return rn_error_set(err, RN_EIO, "cannot map a spilled partition: %s",
                            strerror(errno));
    if (!(ib = rn_calloc(1, sizeof(*ib))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    base = at - at % page;
    ib->map_len = (size_t)(at - base) + (size_t)size;
    ib->map = mmap(NULL, ib->map_len, PROT_READ, MAP_PRIVATE, fd, base);
    if (ib->map == MAP_FAILED) {
        int e = errno;
        rn_free(ib);
        return rn_error_set(err, RN_EIO, "cannot map a spilled partition: %s",
                            strerror(e));
    }
    madvise(ib->map, ib->map_len, MADV_SEQUENTIAL);
    in->data = (const uint8_t *)ib->map + (at - base);
    in->len = (size_t)size;
    in->release = input_bytes_release;
    in->owner = ib;
    return 0;
}

/* Input `in` of a task: this worker's own partition (in memory, or its
 * spilled file mapped), or a peer's fetched as its encoded bytes (checked
 * whole, header to checksum, before the task reads a value of it). */
static int fetch_input(rn_worker *w, const char *job, const char *cap,
                       const Runnel__V1__InputRef *ref, rn_taskrun_in *in,
                       rn_errbuf *err)
{
    Runnel__V1__FetchPartitionRequest req = RUNNEL__V1__FETCH_PARTITION_REQUEST__INIT;
    rn_rpc_stream *st = NULL;
    rn_rpc_channel *ch;
    rn_codec_batches check;
    input_bytes *ib;
    char what[128];
    double t0;
    int rc;

    if (strcmp(ref->address, w->address) == 0) {
        rn_errbuf e2;
        uint64_t size = 0;
        int fd = -1;
        rn_error_clear(&e2);
        rc = rn_partstore_open(w->parts, job, ref->task_id, ref->bucket, &in->p,
                               &fd, &size, &e2);
        if (rc == 0 && fd >= 0) {
            rc = map_input(fd, size, in, &e2);
            close(fd);
        }
        if (rc)
            return rn_error_set(err, RN_ENOTFOUND,
                                "task %u's output is no longer here%s%s",
                                ref->task_id, e2.msg[0] ? ": " : "", e2.msg);
        return 0;
    }
    if (!(ch = peer_channel(w, ref->address, err)))
        return err->code ? err->code : RN_EIO;
    if (!(ib = rn_calloc(1, sizeof(*ib))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    rn_buf_init(&ib->buf, 0);
    req.job_id = (char *)job;
    req.task_id = ref->task_id;
    req.bucket = ref->bucket;
    req.capability = (char *)cap;
    snprintf(what, sizeof(what), "task %u's output from %s", ref->task_id,
             ref->address);
    t0 = now_s();
    if ((rc = rn_rpc_stream_open_pb(ch, RN_M_FETCH_PARTITION, &req, 0, &st, err)) ||
        (rc = rn_chunk_recv(st, &ib->buf, 0, FETCH_TIMEOUT_MS, what, err)) ||
        (rc = rn_codec_batches_open(&check, ib->buf.ptr, ib->buf.len, err))) {
        if (rc == RN_EFORMAT)
            rn_error_prefix(err, "%s: ", what);
        rn_rpc_stream_free(st);
        input_bytes_release(ib);
        return rc;
    }
    rn_rpc_stream_free(st);
    /* one line per fetch with -v: what bench/shuffle.sh adds up (bytes
     * moved between workers and the time spent receiving them) */
    rn_logf(RN_LOG_DEBUG, "worker: fetched job %s task %u bucket %u from %s: "
            "%zu bytes, %llu values in %.3f ms", job, ref->task_id, ref->bucket,
            ref->address, ib->buf.len, (unsigned long long)check.count,
            (now_s() - t0) * 1e3);
    in->data = ib->buf.ptr;
    in->len = ib->buf.len;
    in->release = input_bytes_release;
    in->owner = ib;
    return 0;
}

static void free_taskout(taskout *r)
{
    if (!r)
        return;
    rn_free(r->job_id);
    rn_free(r->error);
    rn_free(r);
}

/* Queues a task's outcome for the reporter thread: the task thread goes
 * on with its next task at once, so a worker given tasks to queue ahead
 * never waits for the scheduler between two of them. */
static void report(rn_worker *w, const Runnel__V1__RunTask *rt, int outcome,
                   const char *error, uint32_t missing, uint64_t bytes,
                   uint64_t items, uint64_t bytes_read, double seconds)
{
    taskout *r = rn_calloc(1, sizeof(*r));
    if (!r || !(r->job_id = rn_strdup(rt->job_id)) ||
        !(r->error = rn_strdup(error ? error : ""))) {
        /* the task stays assigned here until the worker is lost or
         * registers again; its output is dropped */
        rn_logf(RN_LOG_ERROR, "worker: out of memory reporting task %u",
                rt->task_id);
        free_taskout(r);
        if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_OK)
            rn_partstore_drop_attempt(w->parts, rt->job_id, rt->task_id,
                                      rt->attempt);
        return;
    }
    r->task_id = rt->task_id;
    r->attempt = rt->attempt;
    r->outcome = outcome;
    r->missing = missing;
    r->bytes = bytes;
    r->items = items;
    r->bytes_read = bytes_read;
    r->seconds = seconds;
    pthread_mutex_lock(&w->lock);
    if (w->r_tail)
        w->r_tail->next = r;
    else
        w->r_head = r;
    w->r_tail = r;
    pthread_cond_signal(&w->rcond);
    pthread_mutex_unlock(&w->lock);
}

static void fill_done(Runnel__V1__TaskDoneRequest *req, const taskout *r,
                      char *wid)
{
    runnel__v1__task_done_request__init(req);
    req->worker_id = wid;
    req->job_id = r->job_id;
    req->task_id = r->task_id;
    req->attempt = r->attempt;
    req->outcome = (Runnel__V1__TaskOutcome)r->outcome;
    req->error = r->error;
    req->missing_task = r->missing;
    req->bytes = r->bytes;
    req->items = r->items;
    req->bytes_read = r->bytes_read;
    req->seconds = r->seconds;
}

/* One batch on the TasksDone call (opened when there is none): 0 and the
 * reply, or an error (the call is then dropped, to be opened again). */
static int send_batch(rn_worker *w, const Runnel__V1__TasksDoneRequest *req,
                      Runnel__V1__TasksDoneReply **rep, rn_errbuf *err)
{
    int rc;
    *rep = NULL;
    if (!w->rst && (rc = rn_rpc_stream_open(w->sched, RN_M_TASKS_DONE, NULL, 0, 0,
                                            0, &w->rst, err)))
        return rc;
    if ((rc = rn_rpc_stream_send_pb(w->rst, req)) == 0) {
        rc = rn_rpc_stream_recv_pb(w->rst,
                                   &runnel__v1__tasks_done_reply__descriptor,
                                   (void **)rep, 10000);
        if (rc == 1 && (*rep)->n_accepted == req->n_tasks)
            return 0;
        rc = rc == 0 || rc == 1 ? RN_EREMOTE : rc;
        if (rc != RN_EFORMAT)
            rn_rpc_stream_finish(w->rst, err); /* the status, for the log */
    }
    rn_pb_free(*rep);
    *rep = NULL;
    rn_rpc_stream_free(w->rst);
    w->rst = NULL;
    return rc == RN_EFORMAT ? RN_EFORMAT : RN_EREMOTE;
}

/* Sends n outcomes (list rs) and sets acc[i] for the accepted ones: on
 * the TasksDone call when the scheduler speaks minor 1, else TaskDone
 * each. Retries while the scheduler is unreachable, as long as we run. */
static void send_reports(rn_worker *w, taskout **rs, size_t n, int *acc)
{
    Runnel__V1__TaskDoneRequest *reqs = rn_calloc(n, sizeof(*reqs));
    Runnel__V1__TaskDoneRequest **preqs = rn_calloc(n, sizeof(*preqs));
    char wid[24];
    uint32_t minor;
    rn_errbuf err;

    pthread_mutex_lock(&w->lock);
    snprintf(wid, sizeof(wid), "%s", w->worker_id);
    minor = w->sched_minor;
    pthread_mutex_unlock(&w->lock);
    if (!reqs || !preqs)
        goto done; /* nothing accepted: outputs dropped */
    for (size_t i = 0; i < n; i++) {
        fill_done(&reqs[i], rs[i], wid);
        preqs[i] = &reqs[i];
    }
    for (size_t i = 0; i < n;) {
        Runnel__V1__TasksDoneRequest breq = RUNNEL__V1__TASKS_DONE_REQUEST__INIT;
        Runnel__V1__TasksDoneReply *brep = NULL;
        Runnel__V1__TaskDoneReply *rep = NULL;
        size_t m = minor >= 1 ? n - i : 1;
        int rc = RN_EREMOTE;
        breq.worker_id = wid;
        breq.tasks = &preqs[i];
        breq.n_tasks = m;
        for (int k = 0; k < REPORT_TRIES; k++) {
            rn_error_clear(&err);
            if (minor >= 1)
                rc = send_batch(w, &breq, &brep, &err);
            else
                rc = rn_rpc_unary_pb(w->sched, RN_M_TASK_DONE, &reqs[i],
                                     &runnel__v1__task_done_reply__descriptor,
                                     (void **)&rep, 10000, &err);
            if (rc != RN_EREMOTE || stopping(w))
                break;
            nap(w, 200 << k);
        }
        if (rc == 0 && brep)
            for (size_t k = 0; k < m; k++)
                acc[i + k] = brep->accepted[k];
        else if (rc == 0 && rep)
            acc[i] = rep->accepted;
        else if (rc)
            rn_logf(RN_LOG_WARN, "worker: cannot report %zu task outcome(s): %s",
                    m, err.msg[0] ? err.msg : "the scheduler did not answer");
        rn_pb_free(brep);
        rn_pb_free(rep);
        i += m;
    }
done:
    rn_free(reqs);
    rn_free(preqs);
}

/* The reporter thread: sends what the task threads finished, all that
 * piled up during the previous call in one batch, and drops the outputs
 * the scheduler did not accept (stale attempts). */
static void *rep_main(void *arg)
{
    rn_worker *w = arg;
    taskout *rs[MAX_REPORT_BATCH];
    int acc[MAX_REPORT_BATCH];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&w->lock);
        while (!w->r_head && !w->stopping)
            pthread_cond_wait(&w->rcond, &w->lock);
        if (w->stopping) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        while (w->r_head && n < MAX_REPORT_BATCH) {
            rs[n] = w->r_head;
            w->r_head = w->r_head->next;
            rs[n]->next = NULL;
            acc[n++] = 0;
        }
        if (!w->r_head)
            w->r_tail = NULL;
        pthread_mutex_unlock(&w->lock);
        send_reports(w, rs, n, acc);
        for (size_t i = 0; i < n; i++) {
            if (!acc[i] && rs[i]->outcome == RUNNEL__V1__TASK_OUTCOME__TASK_OK)
                rn_partstore_drop_attempt(w->parts, rs[i]->job_id,
                                          rs[i]->task_id, rs[i]->attempt);
            free_taskout(rs[i]);
        }
    }
    return NULL;
}

/* Past the budget's share for partitions, the least recently used go to
 * disk; past the high-water mark of the whole budget, down to half the
 * share. A full disk keeps them in memory, said once a minute. */
static void keep_partitions_in_budget(rn_worker *w)
{
    static _Atomic int64_t last_warn;
    uint64_t share = rn_budget_parts_share(), moved = 0;
    rn_errbuf err;
    if (share == UINT64_MAX)
        return;
    if (rn_budget_high())
        share /= 2;
    rn_error_clear(&err);
    if (rn_partstore_spill(w->parts, share, &moved, &err) &&
        rn_rpc_now_ms() - last_warn > 60000) {
        last_warn = rn_rpc_now_ms();
        rn_logf(RN_LOG_WARN, "worker: cannot spill partitions: %s", err.msg);
    }
}

/* A task's inputs, fetched when the task asks for them (taskrun.h): a
 * combine holds one at a time. One that cannot be had is remembered: the
 * task reports it missing and the scheduler recomputes it. */
typedef struct input_src {
    rn_worker *w;
    const Runnel__V1__RunTask *rt;
    int missing;
    uint32_t missing_task;
} input_src;

static int get_input(void *ud, size_t i, rn_taskrun_in *in, rn_errbuf *err)
{
    input_src *src = ud;
    int rc = fetch_input(src->w, src->rt->job_id, src->rt->capability,
                         src->rt->inputs[i], in, err);
    if (rc && !src->missing) {
        src->missing = 1;
        src->missing_task = src->rt->inputs[i]->task_id;
    }
    return rc;
}

static void run_task(rn_worker *w, qtask *q)
{
    const Runnel__V1__RunTask *rt = q->rt;
    rn_partition *split = NULL;
    rn_taskrun_out out = {0};
    rn_taskrun_task task = {0};
    rn_jobrun *jr = NULL;
    input_src src = {0};
    rn_errbuf err;
    double t0 = now_s();
    uint64_t bytes_read = 0, bytes = 0, items = 0;
    uint32_t missing = 0;
    int outcome = RUNNEL__V1__TASK_OUTCOME__TASK_OK, rc;

    rn_error_clear(&err);
    if ((rc = get_jobrun(w, rt, &jr, &err))) {
        outcome = RUNNEL__V1__TASK_OUTCOME__TASK_FAILED;
        goto report;
    }
    if (rt->kind == RUNNEL__V1__TASK_KIND__TASK_SOURCE) {
        if (!(split = rn_partition_new()) ||
            rn_codec_decode(rt->split.data ? (const void *)rt->split.data : "",
                            rt->split.len, split, &err) ||
            split->n != 1) {
            if (!err.msg[0])
                rn_error_set(&err, RN_EFORMAT, "a task's split is not one value");
            rn_error_prefix(&err, "split of partition %u: ", rt->partition);
            outcome = RUNNEL__V1__TASK_OUTCOME__TASK_FAILED;
            goto report;
        }
    }
    src.w = w;
    src.rt = rt;
    task.kind = (int)rt->kind;
    task.node = rt->node;
    task.input = rt->input;
    task.stage = rt->stage;
    task.partition = rt->partition;
    task.split = split ? &split->items[0] : NULL;
    task.where = rt->where;
    rc = rn_taskrun(jr, &task, get_input, &src, rt->n_inputs, &out,
                    &bytes_read, &err);
    if (rc && src.missing) {
        outcome = RUNNEL__V1__TASK_OUTCOME__TASK_INPUT_MISSING;
        missing = src.missing_task;
    } else if (rc == RN_ECANCELED) {
        outcome = RUNNEL__V1__TASK_OUTCOME__TASK_CANCELLED;
    } else if (rc) {
        outcome = RUNNEL__V1__TASK_OUTCOME__TASK_FAILED;
    } else {
        /* every bucket is stored (the store takes each reference) */
        for (uint32_t b = 0; b < out.n; b++) {
            rn_partition *p = out.parts[b];
            rn_taskrun_file *f = &out.files[b];
            if (f->path) { /* a result written to disk as it was made */
                items += f->items;
                bytes += f->size;
                if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_OK) {
                    char *path = f->path;
                    f->path = NULL; /* the store's, even when put fails */
                    if (rn_partstore_put_file(w->parts, rt->job_id,
                                              rt->task_id, b, rt->attempt,
                                              path, f->off, f->size)) {
                        rn_error_set(&err, RN_ENOMEM,
                                     "out of memory storing the output");
                        outcome = RUNNEL__V1__TASK_OUTCOME__TASK_FAILED;
                    }
                }
                continue; /* otherwise the release removes it */
            }
            out.parts[b] = NULL;
            items += p->n;
            bytes += rn_partition_bytes(p);
            if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_OK &&
                rn_partstore_put(w->parts, rt->job_id, rt->task_id, b,
                                 rt->attempt, p)) {
                rn_error_set(&err, RN_ENOMEM, "out of memory storing the output");
                outcome = RUNNEL__V1__TASK_OUTCOME__TASK_FAILED;
            } else if (outcome != RUNNEL__V1__TASK_OUTCOME__TASK_OK) {
                rn_partition_unref(p);
            }
        }
        if (outcome != RUNNEL__V1__TASK_OUTCOME__TASK_OK)
            rn_partstore_drop_attempt(w->parts, rt->job_id, rt->task_id,
                                      rt->attempt);
        keep_partitions_in_budget(w);
    }
report:
    if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_FAILED) {
        rn_budget_explain(&err);
        rn_logf(RN_LOG_WARN, "worker: job %s task %u failed: %s", rt->job_id,
                rt->task_id, err.msg);
    }
    else if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_INPUT_MISSING)
        rn_logf(RN_LOG_WARN, "worker: job %s task %u: input missing: %s",
                rt->job_id, rt->task_id, err.msg);
    pthread_mutex_lock(&w->lock);
    if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_OK)
        w->tasks_done++;
    else if (outcome == RUNNEL__V1__TASK_OUTCOME__TASK_FAILED)
        w->tasks_failed++;
    pthread_mutex_unlock(&w->lock);
    report(w, rt, outcome, err.msg, missing, bytes, items, bytes_read,
           now_s() - t0);
    rn_partition_unref(split);
    rn_taskrun_out_release(&out);
    rn_jobrun_unref(jr);
}

static void *task_main(void *arg)
{
    rn_worker *w = arg;
    rn_budget_task_thread(1); /* its allocations are held to the limit */
    for (;;) {
        qtask *q = NULL;
        pthread_mutex_lock(&w->lock);
        for (;;) {
            /* above the budget's high-water mark no new task starts
             * while another runs (which frees memory as it ends) */
            int over = rn_budget_high() && w->running > 0;
            if (w->stopping || w->retiring)
                break;
            if (w->q_head && !over)
                break;
            if (over && !w->paused) {
                w->paused = 1;
                rn_logf(RN_LOG_WARN, "worker: memory in use (%.0f MiB) is past "
                                     "%d%% of the limit (%.0f MiB): pausing new "
                                     "tasks",
                        (double)rn_alloc_in_use() / 1048576.0, RN_BUDGET_HIGH_PCT,
                        (double)w->memory_limit / 1048576.0);
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        if (w->stopping || w->retiring) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        w->paused = 0;
        q = w->q_head;
        w->q_head = q->next;
        if (!w->q_head)
            w->q_tail = NULL;
        if (q->gen != w->gen) { /* from before a re-registration */
            pthread_mutex_unlock(&w->lock);
            free_qtask(q);
            continue;
        }
        w->running++;
        pthread_mutex_unlock(&w->lock);
        run_task(w, q);
        free_qtask(q);
        pthread_mutex_lock(&w->lock);
        w->running--;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* ------------------------------------------------- scheduler link -- */

static int fill_plugins(rn_worker *w, Runnel__V1__PluginRef **refs,
                        Runnel__V1__PluginRef ***ptrs, size_t *n)
{
    size_t k = rn_registry_count(w->reg);
    /* the scheduler takes a bounded list: a worker that loaded more
     * plugins in its life reports the first ones */
    if (k > RN_PB_PLUGINS_MAX)
        k = RN_PB_PLUGINS_MAX;
    *refs = rn_calloc(k + 1, sizeof(**refs));
    *ptrs = rn_calloc(k + 1, sizeof(**ptrs));
    *n = 0;
    if (!*refs || !*ptrs)
        return RN_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        rn_plugin *p = rn_registry_at(w->reg, i);
        runnel__v1__plugin_ref__init(&(*refs)[i]);
        (*refs)[i].id = p->id;
        (*refs)[i].name = (char *)p->desc->name;
        (*refs)[i].version = (char *)p->desc->version;
        (*refs)[i].size = p->file_size;
        (*ptrs)[i] = &(*refs)[i];
    }
    *n = k;
    return 0;
}

static int do_register(rn_worker *w, rn_errbuf *err)
{
    Runnel__V1__RegisterRequest req = RUNNEL__V1__REGISTER_REQUEST__INIT;
    Runnel__V1__RegisterReply *rep = NULL;
    Runnel__V1__PluginRef *refs = NULL, **ptrs = NULL;
    char wid[24];
    size_t n = 0;
    int rc, fresh;

    pthread_mutex_lock(&w->lock);
    snprintf(wid, sizeof(wid), "%s", w->worker_id);
    pthread_mutex_unlock(&w->lock);
    fill_plugins(w, &refs, &ptrs, &n);
    req.protocol = RN_PROTOCOL_VERSION;
    req.address = w->address;
    req.name = w->name;
    req.nthreads = (uint32_t)w->nthreads;
    req.memory_limit = w->memory_limit;
    req.instance = w->instance;
    req.worker_id = wid;
    req.pid = (uint64_t)getpid();
    req.minor = RN_PROTOCOL_MINOR;
    req.plugins = ptrs;
    req.n_plugins = ptrs ? n : 0;
    rc = rn_rpc_unary_pb(w->sched, RN_M_REGISTER, &req,
                         &runnel__v1__register_reply__descriptor, (void **)&rep,
                         10000, err);
    rn_free(refs);
    rn_free(ptrs);
    if (rc)
        return rc;
    fresh = !rep->reattached || strcmp(rep->worker_id, wid) != 0;
    if (fresh)
        drop_everything(w); /* a new life: nothing of the old one counts */
    pthread_mutex_lock(&w->lock);
    clear_queue(w, NULL);
    snprintf(w->worker_id, sizeof(w->worker_id), "%s", rep->worker_id);
    w->hb_ms = rep->heartbeat_ms >= 50 ? (int)rep->heartbeat_ms : 1000;
    w->sched_minor = rep->minor;
    w->registered = 1;
    w->gen++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    rn_logf(RN_LOG_INFO, "worker %s %s with %s as %s (%d threads)", w->address,
            fresh ? "registered" : "re-attached", w->sched_url, rep->worker_id,
            w->nthreads);
    rn_pb_free(rep);
    return 0;
}

static void handle_cmd(rn_worker *w, Runnel__V1__WorkerCommand *cmd)
{
    switch (cmd->cmd_case) {
    case RUNNEL__V1__WORKER_COMMAND__CMD_RUN: {
        qtask *q = rn_calloc(1, sizeof(*q));
        if (!q)
            break; /* the task stays RUNNING until a heartbeat timeout... */
        q->rt = cmd->run;
        cmd->run = NULL; /* ours now */
        cmd->cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD__NOT_SET;
        pthread_mutex_lock(&w->lock);
        q->gen = w->gen;
        if (w->q_tail)
            w->q_tail->next = q;
        else
            w->q_head = q;
        w->q_tail = q;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        break;
    }
    case RUNNEL__V1__WORKER_COMMAND__CMD_RELEASE:
        if (cmd->release)
            rn_partstore_drop(w->parts, cmd->release->job_id, cmd->release->task_id);
        break;
    case RUNNEL__V1__WORKER_COMMAND__CMD_FORGET_JOB:
        drop_job(w, cmd->forget_job);
        break;
    case RUNNEL__V1__WORKER_COMMAND__CMD_CANCEL_JOB:
        cancel_job(w, cmd->cancel_job);
        break;
    default:
        break;
    }
    /* a burst (minor 1): the rest, in order */
    for (size_t i = 0; i < cmd->n_more; i++)
        handle_cmd(w, cmd->more[i]);
}

static void *conn_main(void *arg)
{
    rn_worker *w = arg;
    int backoff = 100, fails = 0;
    rn_errbuf err;

    while (!stopping(w)) {
        Runnel__V1__ConnectRequest creq = RUNNEL__V1__CONNECT_REQUEST__INIT;
        rn_rpc_stream *st = NULL;
        char wid[24];

        rn_error_clear(&err);
        if (do_register(w, &err)) {
            fails++;
            if (fails == 1 || fails % 20 == 0)
                rn_logf(RN_LOG_WARN, "worker: cannot register with %s: %s "
                                     "(retrying)",
                        w->sched_url, err.msg);
            nap(w, backoff + (int)(rand() % 100));
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        fails = 0;
        backoff = 100;
        pthread_mutex_lock(&w->lock);
        snprintf(wid, sizeof(wid), "%s", w->worker_id);
        pthread_mutex_unlock(&w->lock);
        creq.worker_id = wid;
        if (rn_rpc_stream_open_pb(w->sched, RN_M_CONNECT, &creq, 0, &st, &err)) {
            nap(w, 200);
            continue;
        }
        pthread_mutex_lock(&w->lock);
        if (w->stopping) {
            pthread_mutex_unlock(&w->lock);
            rn_rpc_stream_free(st);
            break;
        }
        w->stream = st;
        pthread_mutex_unlock(&w->lock);
        for (;;) {
            Runnel__V1__WorkerCommand *cmd = NULL;
            int r = rn_rpc_stream_recv_pb(st, &runnel__v1__worker_command__descriptor,
                                          (void **)&cmd, -1);
            if (r != 1)
                break;
            handle_cmd(w, cmd);
            rn_pb_free(cmd);
        }
        pthread_mutex_lock(&w->lock);
        w->stream = NULL;
        w->registered = 0;
        pthread_mutex_unlock(&w->lock);
        rn_rpc_stream_finish(st, &err);
        rn_rpc_stream_free(st);
        if (!stopping(w)) {
            rn_logf(RN_LOG_WARN, "worker: the scheduler's command stream ended "
                                 "(%s): reconnecting",
                    err.msg[0] ? err.msg : "closed");
            nap(w, 100);
        }
    }
    return NULL;
}

/* Cancels the command stream: the connection thread registers again. */
static void reconnect(rn_worker *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->stream)
        rn_rpc_stream_cancel(w->stream);
    pthread_mutex_unlock(&w->lock);
}

/* Drops jobs the scheduler no longer lists (a ForgetJob that got lost). */
static void collect_jobs(rn_worker *w, char **keep, size_t n, int64_t before)
{
    char *drop[16];
    size_t nd = 0;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_jobs && nd < 16; i++) {
        int kept = 0;
        for (size_t k = 0; k < n && !kept; k++)
            kept = strcmp(keep[k], w->jobs[i]->job_id) == 0;
        if (!kept && w->jobs[i]->first_seen_ms < before)
            drop[nd++] = rn_strdup(w->jobs[i]->job_id);
    }
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < nd; i++) {
        if (drop[i])
            drop_job(w, drop[i]);
        rn_free(drop[i]);
    }
}

static void *hb_main(void *arg)
{
    rn_worker *w = arg;
    int fails = 0;
    for (;;) {
        Runnel__V1__HeartbeatRequest req = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
        Runnel__V1__HeartbeatReply *rep = NULL;
        Runnel__V1__PluginRef *refs = NULL, **ptrs = NULL;
        char wid[24];
        size_t n = 0;
        int hb, registered, rc;
        int64_t sent;
        rn_errbuf err;

        pthread_mutex_lock(&w->lock);
        hb = w->hb_ms;
        pthread_mutex_unlock(&w->lock);
        nap(w, hb);
        if (stopping(w))
            break;
        pthread_mutex_lock(&w->lock);
        registered = w->registered;
        snprintf(wid, sizeof(wid), "%s", w->worker_id);
        req.running = (uint32_t)w->running;
        req.tasks_done = w->tasks_done;
        req.tasks_failed = w->tasks_failed;
        pthread_mutex_unlock(&w->lock);
        if (!registered)
            continue;
        req.worker_id = wid;
        keep_partitions_in_budget(w); /* also while paused */
        req.memory = rn_alloc_in_use();
        req.memory_peak = rn_alloc_peak();
        req.rss = rn_budget_rss();
        rn_budget_spill_stats(&req.spilled_bytes, &req.spilled_files);
        rn_partstore_stats(w->parts, &req.partitions, &req.partition_bytes);
        fill_plugins(w, &refs, &ptrs, &n);
        req.plugins = ptrs;
        req.n_plugins = ptrs ? n : 0;
        sent = rn_rpc_now_ms();
        rc = rn_rpc_unary_pb(w->sched, RN_M_HEARTBEAT, &req,
                             &runnel__v1__heartbeat_reply__descriptor,
                             (void **)&rep, hb * 3 > 2000 ? hb * 3 : 2000, &err);
        rn_free(refs);
        rn_free(ptrs);
        if (rc == RN_ENOTFOUND) {
            rn_logf(RN_LOG_WARN, "worker: %s: registering again", err.msg);
            reconnect(w);
        } else if (rc) {
            if (++fails >= 3) {
                rn_logf(RN_LOG_WARN, "worker: heartbeats fail (%s): reconnecting",
                        err.msg);
                reconnect(w);
                fails = 0;
            }
        } else {
            fails = 0;
            collect_jobs(w, rep->jobs, rep->n_jobs, sent);
        }
        rn_pb_free(rep);
    }
    return NULL;
}

/* ----------------------------------------------------- peer service -- */

/* 0 when the caller may read the job's partitions: with TLS a worker's,
 * client's or admin's certificate, and always the job's capability,
 * which only the scheduler hands out (to the workers running the job's
 * tasks and to the job's owner). */
static int may_fetch(rn_worker *w, rn_rpc_call *c,
                     const Runnel__V1__FetchPartitionRequest *req,
                     rn_errbuf *err)
{
    const char *subject = rn_rpc_peer_subject(c);
    rn_identity who;
    rn_jobrun *jr;
    int ok;
    if (subject) {
        if (rn_identity_from_subject(subject, &who, err))
            return err->code;
        if (who.role != RN_ROLE_WORKER && who.role != RN_ROLE_CLIENT &&
            who.role != RN_ROLE_ADMIN)
            return rn_error_set(err, RN_EPERM,
                                "FetchPartition is for workers and clients: %s "
                                "'%s' may not call it",
                                rn_role_name(who.role), who.name);
    }
    if (!(jr = find_jobrun(w, req->job_id)))
        return rn_error_set(err, RN_ENOTFOUND,
                            "worker %s holds nothing of job '%.40s'",
                            w->address, req->job_id);
    ok = strlen(req->capability) == strlen(jr->cap) && jr->cap[0] &&
         CRYPTO_memcmp(req->capability, jr->cap, strlen(jr->cap)) == 0;
    rn_jobrun_unref(jr);
    if (!ok)
        return rn_error_set(err, RN_EPERM,
                            "job %.40s: %s capability: the scheduler gives it "
                            "to the job's owner and workers",
                            req->job_id, req->capability[0] ? "wrong" : "no");
    return 0;
}

static void h_fetch_partition(rn_rpc_call *c, void *ud)
{
    rn_worker *w = ud;
    Runnel__V1__FetchPartitionRequest *req = NULL;
    rn_partition *p = NULL;
    uint64_t size = 0;
    int fd = -1, rc;
    rn_errbuf err;

    rn_error_clear(&err);
    if (rn_rpc_recv_pb(c, &runnel__v1__fetch_partition_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    if (may_fetch(w, c, req, &err)) {
        if (err.code == RN_EPERM)
            rn_logf(RN_LOG_WARN, "worker: refused FetchPartition from %s "
                                 "(%.200s): %s",
                    rn_rpc_peer(c), rn_rpc_peer_subject(c) ? rn_rpc_peer_subject(c) : "plaintext",
                    err.msg);
        rn_rpc_finish_err(c, &err);
    } else if ((rc = rn_partstore_open(w->parts, req->job_id, req->task_id,
                                       req->bucket, &p,
                                       &fd, &size, &err)) == RN_ENOTFOUND) {
        rn_rpc_finish(c, RN_RPC_NOT_FOUND,
                      "worker %s does not hold task %u's output of job '%.40s'",
                      w->address, req->task_id, req->job_id);
    } else if (rc) {
        rn_rpc_finish_err(c, &err);
    } else {
        /* a spilled partition goes out as its file holds it: the same
         * encoding, no decoding on the way */
        if ((p ? rn_chunk_send_partition(c, p, 60000, &err)
               : rn_chunk_send_file(c, fd, size, 60000, &err)) == 0)
            rn_rpc_finish_ok(c);
        else
            rn_rpc_finish_err(c, &err);
        rn_partition_unref(p);
        if (fd >= 0)
            close(fd);
    }
    rn_pb_free(req);
}

/* ------------------------------------------------------------ setup -- */

int rn_worker_start(const rn_worker_opts *o, rn_worker **out, rn_errbuf *err)
{
    rn_worker *w = rn_calloc(1, sizeof(*w));
    char host[128], port[16], shost[256], sport[16], ip[128];
    rn_errbuf e1;
    int rc;

    *out = NULL;
    if (!w)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->rcond, NULL);
    pthread_mutex_init(&w->create_lock, NULL);
    w->hb_ms = 1000;
    w->nthreads = o->nthreads > 0 ? o->nthreads : rn_cpu_count();
    w->memory_limit = o->memory_limit ? o->memory_limit : rn_budget_default();
    rn_budget_set_limit(w->memory_limit);
    rn_ident_random_hex(w->instance, 32);
    srand((unsigned)(getpid() ^ time(NULL)));
    w->tls = o->tls;
    if ((rc = rn_rpc_target(o->scheduler, w->target, sizeof(w->target), err)) ||
        rn_ident_split_hostport(w->target, shost, sizeof(shost), sport,
                                sizeof(sport))) {
        rn_worker_stop(w);
        return rc ? rc : rn_error_set(err, RN_EINVAL, "bad address %s", o->scheduler);
    }
    if (rn_rpc_url_is_tls(o->scheduler) != (o->tls != NULL)) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_EINVAL,
                            o->tls ? "%s: with --tls the scheduler's address is "
                                     "tls://HOST:PORT"
                                   : "%s: a tls:// scheduler needs --tls DIR "
                                     "(or RUNNEL_TLS)",
                            o->scheduler);
    }
    /* peers fetch partitions from us: without TLS only over loopback,
     * unless asked for in so many words */
    w->sched_url = rn_strdup(o->scheduler);
    w->listen = rn_strdup(o->listen            ? o->listen
                          : o->tls || o->insecure ? "0.0.0.0:0"
                          : rn_ident_is_loopback(shost) ? "127.0.0.1:0"
                                                         : "");
    if (!w->sched_url || !w->listen) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    if (!w->listen[0] || (!o->tls && !o->insecure &&
                          (rn_ident_split_hostport(w->listen, host, sizeof(host),
                                                   port, sizeof(port)) ||
                           !rn_ident_is_loopback(host)))) {
        rc = rn_error_set(err, RN_EPERM,
                          "%s: serving partitions to other machines in "
                          "plaintext lets anyone on the network read them; "
                          "give --tls DIR and a tls:// scheduler address "
                          "(certificates from `runnel security issue`), or "
                          "--insecure on a network you trust",
                          w->listen[0] ? w->listen : o->scheduler);
        rn_worker_stop(w); /* after the message: it names w's field */
        return rc;
    }
    if (rn_ident_split_hostport(w->listen, host, sizeof(host), port, sizeof(port))) {
        rc = rn_error_set(err, RN_EINVAL, "--listen %s: expected HOST:PORT",
                          w->listen);
        rn_worker_stop(w);
        return rc;
    }
    if (!(w->reg = rn_registry_new()) || !(w->parts = rn_partstore_new()) ||
        !(w->sched = rn_rpc_channel_new(w->target, o->tls, RN_TLS_NAME_SCHEDULER))) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    rn_error_clear(&e1);
    if (rn_registry_add_shipped(w->reg, &e1))
        rn_logf(RN_LOG_WARN, "worker: shipped plugins: %s", e1.msg);
    if ((rc = rn_plugstore_open(o->local_dir, &w->cache, err))) {
        rn_worker_stop(w);
        return rc;
    }
    {
        /* jobs never touch the worker's own files: its certificates,
         * its plugin cache */
        const char *deny[17];
        rn_io_policy pol;
        size_t nd = 0;
        for (size_t i = 0; i < o->n_deny && nd < 16; i++)
            deny[nd++] = o->deny[i];
        deny[nd++] = rn_plugstore_dir(w->cache);
        pol.allow = o->allow;
        pol.n_allow = o->n_allow;
        pol.deny = deny;
        pol.n_deny = nd;
        pol.block_link_local = 1;
        if ((rc = rn_io_policy_set(&pol, err))) {
            rn_error_prefix(err, "--allow-path: ");
            rn_worker_stop(w);
            return rc;
        }
        w->policy_set = 1;
    }
    {
        /* spilled partitions of a worker killed earlier are garbage; ours
         * live in a directory of this process */
        size_t swept = 0;
        rn_errbuf e2;
        rn_error_clear(&e2);
        if (rn_spill_dir_sweep(rn_plugstore_dir(w->cache), &swept, &e2))
            rn_logf(RN_LOG_WARN, "worker: %s", e2.msg);
        else if (swept)
            rn_logf(RN_LOG_INFO, "worker: removed %zu spill directories of "
                                 "processes that are gone",
                    swept);
        if ((rc = rn_spill_dir_open(&w->spill, rn_plugstore_dir(w->cache), NULL,
                                    err)) ||
            (rc = rn_partstore_set_spill_dir(w->parts, rn_spill_dir_path(w->spill))) ||
            (rc = rn_budget_set_spill_dir(rn_spill_dir_path(w->spill)))) {
            rn_worker_stop(w);
            return rc;
        }
    }
    if ((rc = rn_rpc_server_new(&w->srv, w->listen, o->tls, err))) {
        rn_worker_stop(w);
        return rc;
    }
    {
        /* every task thread of every peer may fetch from us at once */
        rn_rpc_limits lim;
        rn_rpc_method_opts mo = {0, 4096, 0};
        memset(&lim, 0, sizeof(lim));
        lim.pool_max[0] = 1024;
        lim.per_peer_max = 256;
        rn_rpc_server_set_limits(w->srv, &lim);
        rn_rpc_server_add_ex(w->srv, RN_M_FETCH_PARTITION, h_fetch_partition, w,
                             &mo);
    }
    if ((rc = rn_rpc_server_start(w->srv, &w->port, err))) {
        rn_worker_stop(w);
        return rc;
    }
    /* the address others reach us at: the listen host when it is one,
     * else the local address of the route to the scheduler */
    if (host[0] && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0)
        snprintf(ip, sizeof(ip), "%s", host);
    else if (rn_ident_route_ip(shost, sport, ip, sizeof(ip)) != 0)
        rn_ident_host_ip(ip, sizeof(ip));
    rn_ident_url(ip, w->port, w->address, sizeof(w->address));
    if (o->tls)
        memcpy(w->address, "tls", 3); /* "tcp://..." -> "tls://..." */
    if (!(w->name = rn_strdup(o->name && *o->name ? o->name : w->address))) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    if (!(w->task_tids = rn_calloc((size_t)w->nthreads, sizeof(pthread_t)))) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < w->nthreads; i++) {
        if (pthread_create(&w->task_tids[i], NULL, task_main, w) != 0)
            break;
        w->n_task_started++;
    }
    if (w->n_task_started == 0 ||
        pthread_create(&w->rep_tid, NULL, rep_main, w) != 0) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "cannot start threads");
    }
    w->rep_started = 1;
    if (pthread_create(&w->hb_tid, NULL, hb_main, w) != 0) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "cannot start threads");
    }
    w->hb_started = 1;
    if (pthread_create(&w->conn_tid, NULL, conn_main, w) != 0) {
        rn_worker_stop(w);
        return rn_error_set(err, RN_ENOMEM, "cannot start threads");
    }
    w->conn_started = 1;
    rn_logf(RN_LOG_INFO, "worker %s (%s) serving peers, %d threads, plugins "
                         "cached in %s, scheduler %s",
            w->address, w->name, w->nthreads, rn_plugstore_dir(w->cache),
            w->sched_url);
    if (o->n_allow)
        for (size_t i = 0; i < o->n_allow; i++)
            rn_logf(RN_LOG_INFO, "worker: jobs may read and write local files "
                                 "under %s",
                    o->allow[i]);
    else if (geteuid() == 0)
        rn_logf(RN_LOG_WARN, "worker: running as root without --allow-path: "
                             "jobs may read and write any local file of this "
                             "machine; run as an unprivileged user "
                             "(examples/systemd) or give --allow-path DIR");
    if (!o->tls && !rn_ident_is_loopback(host))
        rn_logf(RN_LOG_WARN, "worker: INSECURE: serving partitions in plaintext "
                             "on %s (--insecure): anyone who reaches it can "
                             "read them with a job's capability sniffed off "
                             "the network; use --tls",
                w->listen);
    *out = w;
    return 0;
}

const char *rn_worker_address(const rn_worker *w)
{
    return w->address;
}

void rn_worker_retire(rn_worker *w)
{
    Runnel__V1__RetireRequest req = RUNNEL__V1__RETIRE_REQUEST__INIT;
    Runnel__V1__RetireReply *rep = NULL;
    char wid[24];
    int registered;
    rn_errbuf err;

    pthread_mutex_lock(&w->lock);
    w->retiring = 1;
    registered = w->registered;
    snprintf(wid, sizeof(wid), "%s", w->worker_id);
    clear_queue(w, NULL);
    for (size_t i = 0; i < w->n_jobs; i++)
        atomic_store(&w->jobs[i]->cancel, true);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (!registered)
        return;
    req.worker_id = wid;
    if (rn_rpc_unary_pb(w->sched, RN_M_RETIRE, &req,
                        &runnel__v1__retire_reply__descriptor, (void **)&rep, 5000,
                        &err) == 0) {
        rn_logf(RN_LOG_INFO, "worker %s retired: %u task(s) handed back",
                w->address, rep->tasks_handed_back);
        rn_pb_free(rep);
    } else {
        rn_logf(RN_LOG_WARN, "worker %s: cannot retire cleanly: %s", w->address,
                err.msg);
    }
}

void rn_worker_stop(rn_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    for (size_t i = 0; i < w->n_jobs; i++)
        atomic_store(&w->jobs[i]->cancel, true);
    if (w->stream)
        rn_rpc_stream_cancel(w->stream);
    pthread_cond_broadcast(&w->cond);
    pthread_cond_broadcast(&w->rcond);
    pthread_mutex_unlock(&w->lock);
    if (w->conn_started)
        pthread_join(w->conn_tid, NULL);
    if (w->hb_started)
        pthread_join(w->hb_tid, NULL);
    for (int i = 0; i < w->n_task_started; i++)
        pthread_join(w->task_tids[i], NULL);
    if (w->rep_started)
        pthread_join(w->rep_tid, NULL);
    rn_rpc_stream_free(w->rst);
    while (w->r_head) { /* never sent: we are stopping */
        taskout *r = w->r_head;
        w->r_head = r->next;
        free_taskout(r);
    }
    rn_rpc_server_free(w->srv, 1000);
    pthread_mutex_lock(&w->lock);
    clear_queue(w, NULL);
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < w->n_jobs; i++)
        rn_jobrun_unref(w->jobs[i]);
    rn_free(w->jobs);
    for (size_t i = 0; i < w->n_peers; i++) {
        rn_rpc_channel_free(w->peers[i].ch);
        rn_free(w->peers[i].address);
    }
    rn_free(w->peers);
    rn_partstore_free(w->parts);
    rn_budget_set_spill_dir(NULL);
    rn_spill_dir_free(w->spill);
    if (w->policy_set)
        rn_io_policy_set(NULL, NULL);
    rn_rpc_channel_free(w->sched);
    rn_plugstore_free(w->cache);
    rn_registry_free(w->reg);
    rn_free(w->task_tids);
    rn_free(w->sched_url);
    rn_free(w->listen);
    rn_free(w->name);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->rcond);
    pthread_mutex_destroy(&w->create_lock);
    rn_free(w);
}
