/* The scheduler daemon. */
#define _GNU_SOURCE
#include "cluster/scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cluster/ident.h"
#include "cluster/jobgraph.h"
#include "cluster/plugstore.h"
#include "exec/ctx.h"
#include "manifest/manifest.h"
#include "transport/chunk.h"
#include "transport/methods.h"
#include "transport/rpc.h"
#include "value/codec.h"

#include "runnel_scheduler.pb-c.h"

/* Finished jobs whose results nobody fetched are forgotten after these. */
#define UNWATCHED_KEEP_MS (60 * 1000)
#define DETACHED_KEEP_MS (60 * 60 * 1000)
/* Job records kept for `runnel jobs` (oldest finished ones go first). */
#define MAX_JOB_RECORDS 1000
/* A registered worker without a command stream for this long is lost. */
#define SEND_TIMEOUT_MS 10000
/* Queueing ahead (see worker_cap): a worker that speaks minor 1 holds as
 * many tasks beyond its threads as its threads run in QUEUE_AHEAD_S at
 * the recent run time of tasks like the one placed (same stage, same
 * kind: chain or merge), at most MAX_QUEUE_AHEAD, once MIN_TIMED_TASKS
 * of those have reported their time. */
#define QUEUE_AHEAD_S 0.005
#define MAX_QUEUE_AHEAD 64
#define MIN_TIMED_TASKS 4
/* Commands packed into one stream message (WorkerCommand.more), bytes. */
#define MAX_BURST_BYTES ((size_t)1 << 20)
/* Watchers are woken at most this often for progress (state changes at
 * once); they send at most one update per 200 ms anyway. */
#define WATCH_WAKE_MS 50

enum {
    JOB_QUEUED = RUNNEL__V1__JOB_STATE__JOB_QUEUED,
    JOB_RUNNING = RUNNEL__V1__JOB_STATE__JOB_RUNNING,
    JOB_DONE = RUNNEL__V1__JOB_STATE__JOB_DONE,
    JOB_FAILED = RUNNEL__V1__JOB_STATE__JOB_FAILED,
    JOB_CANCELLED = RUNNEL__V1__JOB_STATE__JOB_CANCELLED
};

typedef struct outmsg {
    struct outmsg *next;
    uint8_t *data;
    size_t len;
} outmsg;

typedef struct sworker {
    uint32_t wid; /* the worker's handle in task graphs */
    char id[24];
    char *address, *name, *instance;
    uint32_t nthreads;
    uint32_t minor;              /* protocol minor it registered with */
    uint64_t memory_limit, memory, pid;
    int64_t last_seen_ms;
    double last_seen_unix;
    uint32_t assigned;           /* tasks RUNNING there, by our count */
    uint64_t tasks_done, tasks_failed;
    uint32_t partitions;
    uint64_t partition_bytes;
    rn_plugentry *plugins;
    size_t n_plugins;
    outmsg *out_head, *out_tail;
    uint32_t stream_gen;
    int connected;
    int64_t disconnected_ms;
} sworker;

typedef struct sstage {
    int terminal;
    int commutative;
    /* run time of this stage's tasks: [0] source/chain, [1] combine/finish
     * (moving average, seconds) and how many reported it */
    double avg_s[2];
    uint32_t n_timed[2];
    char **ops;
    int *user;
    size_t n_ops;
} sstage;

typedef struct sjob {
    char id[16];
    char *name, *client, *manifest, *error;
    size_t manifest_len;
    rn_partition *splits;
    sstage *stages;
    size_t n_stages;
    uint32_t split_every;
    rn_jobgraph *g;
    int state;
    int notified_state;           /* watchers were last woken for this */
    int64_t notified_ms;
    double submitted_unix;
    int64_t submitted_ms, started_ms, finished_ms;
    uint64_t bytes_read;
    uint32_t recomputed;
    uint32_t n_tasks, n_done; /* kept when the graph is gone */
    int detached, watchers, released, forgotten;
    int64_t unwatched_ms;
    uint64_t version;
} sjob;

struct rn_scheduler {
    rn_rpc_server *srv;
    rn_plugstore *store;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* outboxes, workers (command streams wait) */
    pthread_cond_t jobcond; /* jobs (watchers wait) */
    pthread_cond_t tick; /* the loop's wake-up */
    sworker **workers;
    size_t n_workers, cap_workers;
    sjob **jobs;
    size_t n_jobs, cap_jobs;
    uint32_t next_wid;
    size_t rr; /* round-robin start among equally good workers */
    char id[48];
    char address[160];
    int port;
    double started_unix;
    int hb_timeout_ms, hb_interval_ms;
    int stopping;
    pthread_t loop_tid;
    int loop_started;
    /* addresses of workers that are gone, for error messages */
    struct {
        uint32_t wid;
        char address[160];
    } ghosts[64];
    size_t n_ghosts;
};

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A copy of a client's string, cut at 200 bytes. */
static char *dup_short(const char *s)
{
    return rn_strndup(s, strnlen(s, 200));
}

static int is_final(int state)
{
    return state == JOB_DONE || state == JOB_FAILED || state == JOB_CANCELLED;
}

static const char *state_name(int state)
{
    switch (state) {
    case JOB_QUEUED: return "queued";
    case JOB_RUNNING: return "running";
    case JOB_DONE: return "done";
    case JOB_FAILED: return "failed";
    case JOB_CANCELLED: return "cancelled";
    default: return "?";
    }
}

/* ---------------------------------------------------------- workers -- */

static sworker *worker_by_id(rn_scheduler *s, const char *id)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (strcmp(s->workers[i]->id, id) == 0)
            return s->workers[i];
    return NULL;
}

static sworker *worker_by_wid(rn_scheduler *s, uint32_t wid)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i]->wid == wid)
            return s->workers[i];
    return NULL;
}

static sworker *worker_by_address(rn_scheduler *s, const char *a)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (strcmp(s->workers[i]->address, a) == 0)
            return s->workers[i];
    return NULL;
}

static void outbox_clear(sworker *w)
{
    outmsg *m = w->out_head;
    while (m) {
        outmsg *next = m->next;
        rn_free(m->data);
        rn_free(m);
        m = next;
    }
    w->out_head = w->out_tail = NULL;
}

static void worker_free(sworker *w)
{
    if (!w)
        return;
    outbox_clear(w);
    rn_free(w->address);
    rn_free(w->name);
    rn_free(w->instance);
    rn_free(w->plugins);
    rn_free(w);
}

/* Queues a command for a worker's stream (packed now). */
static void send_cmd(rn_scheduler *s, sworker *w, const Runnel__V1__WorkerCommand *c)
{
    outmsg *m = rn_calloc(1, sizeof(*m));
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

static void send_job_cmd(rn_scheduler *s, sworker *w, int forget, const char *job)
{
    Runnel__V1__WorkerCommand c = RUNNEL__V1__WORKER_COMMAND__INIT;
    if (forget) {
        c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_FORGET_JOB;
        c.forget_job = (char *)job;
    } else {
        c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_CANCEL_JOB;
        c.cancel_job = (char *)job;
    }
    send_cmd(s, w, &c);
}

static void broadcast_job_cmd(rn_scheduler *s, int forget, const char *job)
{
    for (size_t i = 0; i < s->n_workers; i++)
        send_job_cmd(s, s->workers[i], forget, job);
}

/* ------------------------------------------------------------- jobs -- */

static sjob *job_by_id(rn_scheduler *s, const char *id)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (strcmp(s->jobs[i]->id, id) == 0)
            return s->jobs[i];
    return NULL;
}

/* Drops what a job holds (graph, splits, manifest); the record stays. */
static void job_drop_data(sjob *j)
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
}

static void job_free(sjob *j)
{
    if (!j)
        return;
    job_drop_data(j);
    rn_free(j->name);
    rn_free(j->client);
    rn_free(j->error);
    rn_free(j);
}

static void job_changed(rn_scheduler *s, sjob *j)
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

/* Ends a job (failed or cancelled): workers stop its tasks and drop it. */
static void job_end(rn_scheduler *s, sjob *j, int state, const char *fmt, ...)
    RN_FMT(4, 5);

static void job_end(rn_scheduler *s, sjob *j, int state, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (is_final(j->state) && j->state != JOB_DONE)
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
                sworker *w = worker_by_wid(s, j->g->tasks[t].worker);
                if (w && w->assigned)
                    w->assigned--;
            }
        j->n_done = (uint32_t)rn_jobgraph_count_done(j->g);
    }
    broadcast_job_cmd(s, 0, j->id);
    broadcast_job_cmd(s, 1, j->id);
    job_drop_data(j);
    j->forgotten = 1;
    rn_logf(state == JOB_FAILED ? RN_LOG_WARN : RN_LOG_INFO, "job %s (%s) %s: %s",
            j->id, j->name, state_name(state), msg);
    job_changed(s, j);
}

/* The job is done and its results were fetched (or abandoned). */
static void job_forget(rn_scheduler *s, sjob *j)
{
    if (j->forgotten)
        return;
    if (j->g)
        j->n_done = (uint32_t)rn_jobgraph_count_done(j->g);
    broadcast_job_cmd(s, 1, j->id);
    job_drop_data(j);
    j->forgotten = 1;
    job_changed(s, j);
}

/* "plugin words, operator words.split, partition 3" for a task: the
 * operator of a pushed (user) plugin in the task's chain when there is
 * one (shipped operators are the less likely culprits), else the fold
 * for a combine task, else the chain's first operator. */
static void describe_task(const sjob *j, const rn_gtask *t, char *out, size_t cap)
{
    const sstage *st = &j->stages[t->stage];
    const char *op = NULL, *dot;
    size_t n;
    int combine = t->kind == RN_GT_COMBINE || t->kind == RN_GT_FINISH;
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

static const char *wid_address(rn_scheduler *s, uint32_t wid);

/* A running task whose input is gone cannot finish (it may be stuck
 * fetching from a stopped peer): it is assigned afresh once the input is
 * recomputed; its current attempt's report will be refused. */
static void unassign_orphans(rn_scheduler *s, sjob *j)
{
    for (size_t i = 0; i < j->g->n; i++) {
        rn_gtask *t = &j->g->tasks[i];
        int orphan = 0;
        if (t->state != RN_TS_RUNNING)
            continue;
        for (uint32_t k = 0; k < t->n_inputs && !orphan; k++)
            orphan = j->g->tasks[t->inputs[k]].state != RN_TS_DONE;
        if (orphan) {
            sworker *w = worker_by_wid(s, t->worker);
            if (w && w->assigned)
                w->assigned--;
            rn_jobgraph_unassign(j->g, t->id);
        }
    }
}

/* A worker is gone (lost or retired): its running tasks run elsewhere,
 * its outputs are recomputed from lineage where still wanted. */
static void worker_gone(rn_scheduler *s, sworker *w, int lost, const char *why)
{
    size_t running = w->assigned, outputs = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        sjob *j = s->jobs[i];
        size_t n_lost = 0;
        uint32_t failed;
        if (!j->g)
            continue;
        if (!lost) {
            rn_jobgraph_worker_left(j->g, w->wid);
            unassign_orphans(s, j);
            job_changed(s, j);
            continue;
        }
        failed = rn_jobgraph_worker_lost(j->g, w->wid, &n_lost);
        outputs += n_lost;
        if (failed != UINT32_MAX && !is_final(j->state)) {
            const rn_gtask *t = &j->g->tasks[failed];
            char what[512], addrs[512];
            size_t n = 0;
            addrs[0] = '\0';
            for (uint32_t k = 0; k < RN_JOBGRAPH_MAX_STRIKES && n < sizeof(addrs); k++)
                n += (size_t)snprintf(addrs + n, sizeof(addrs) - n, "%s%s",
                                      k ? ", " : "",
                                      wid_address(s, t->lost_workers[k]));
            describe_task(j, t, what, sizeof(what));
            job_end(s, j, JOB_FAILED,
                    "%s: the task was running on %d workers that were lost "
                    "(%s); giving up (does the operator crash its worker?)",
                    what, RN_JOBGRAPH_MAX_STRIKES, addrs);
            continue;
        }
        if (j->state == JOB_DONE && !rn_jobgraph_complete(j->g))
            j->state = JOB_RUNNING; /* results lost before they were fetched */
        unassign_orphans(s, j);
        job_changed(s, j);
    }
    rn_logf(lost ? RN_LOG_WARN : RN_LOG_INFO,
            "worker %s (%s) %s: %s; %zu running task(s) and %zu partition(s) "
            "to redo elsewhere",
            w->address, w->name, lost ? "lost" : "retired", why, running, outputs);
    w->assigned = 0;
}

static const char *wid_address(rn_scheduler *s, uint32_t wid)
{
    sworker *w = worker_by_wid(s, wid);
    if (w)
        return w->address;
    for (size_t i = 0; i < s->n_ghosts && i < 64; i++)
        if (s->ghosts[i].wid == wid)
            return s->ghosts[i].address;
    return "?";
}

static void worker_remove(rn_scheduler *s, sworker *w)
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
    worker_free(w);
    pthread_cond_broadcast(&s->cond);
    pthread_cond_signal(&s->tick);
}

/* ------------------------------------------------------- scheduling -- */

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
static uint32_t worker_cap(const sworker *w, const sjob *j, const rn_gtask *t)
{
    const sstage *st = &j->stages[t->stage];
    int k = t->kind >= RN_GT_COMBINE;
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
static uint32_t siblings_on(const sjob *j, const rn_gtask *t, uint32_t wid)
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
static sworker *pick_worker(rn_scheduler *s, const sjob *j, const rn_gtask *t)
{
    sworker *best = NULL;
    uint64_t best_local = 0;
    uint32_t best_sib = 0;
    double best_load = 0;
    for (size_t k = 0; k < s->n_workers; k++) {
        sworker *w = s->workers[(s->rr + k) % s->n_workers];
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

static int assign(rn_scheduler *s, sjob *j, uint32_t tid, sworker *w)
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
        sworker *h = worker_by_wid(s, in->worker);
        runnel__v1__input_ref__init(&refs[i]);
        refs[i].task_id = in->id;
        refs[i].address = h ? h->address : (char *)"";
        refs[i].bytes = in->bytes;
        prefs[i] = &refs[i];
    }
    if (t->kind == RN_GT_SOURCE &&
        (rc = rn_codec_encode(&split, &j->splits->items[t->partition], 1)))
        goto done;
    rt.job_id = j->id;
    rt.task_id = tid;
    rt.attempt = rn_jobgraph_assign(j->g, tid, w->wid);
    rt.kind = (Runnel__V1__TaskKind)t->kind;
    rt.stage = t->stage;
    rt.partition = t->partition;
    rt.n_inputs = t->n_inputs;
    rt.inputs = prefs;
    rt.split.data = (uint8_t *)split.ptr;
    rt.split.len = split.len;
    rt.manifest = j->manifest;
    c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RUN;
    c.run = &rt;
    send_cmd(s, w, &c);
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

static void check_complete(rn_scheduler *s, sjob *j)
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
        job_changed(s, j);
    }
}

static void schedule(rn_scheduler *s)
{
    for (size_t i = 0; i < s->n_jobs; i++) {
        sjob *j = s->jobs[i];
        uint32_t t;
        int changed = 0;
        if (!j->g || is_final(j->state))
            continue;
        while ((t = rn_jobgraph_peek(j->g)) != UINT32_MAX) {
            sworker *w = pick_worker(s, j, &j->g->tasks[t]);
            if (!w) {
                if (changed)
                    job_changed(s, j);
                return; /* every worker is busy */
            }
            if (assign(s, j, t, w)) {
                job_end(s, j, JOB_FAILED, "out of memory assigning tasks");
                break;
            }
            changed = 1;
        }
        if (changed)
            job_changed(s, j);
        check_complete(s, j);
    }
}

static void *loop_main(void *arg)
{
    rn_scheduler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        int64_t now = rn_rpc_now_ms();
        struct timespec ts;
        for (size_t i = 0; i < s->n_workers;) {
            sworker *w = s->workers[i];
            char why[128];
            if (now - w->last_seen_ms > s->hb_timeout_ms)
                snprintf(why, sizeof(why), "no heartbeat for %.1f s",
                         (double)(now - w->last_seen_ms) / 1000.0);
            else if (!w->connected && now - w->disconnected_ms > s->hb_timeout_ms)
                snprintf(why, sizeof(why), "no command stream for %.1f s",
                         (double)(now - w->disconnected_ms) / 1000.0);
            else {
                i++;
                continue;
            }
            worker_gone(s, w, 1, why);
            worker_remove(s, w);
        }
        schedule(s);
        /* forget finished jobs nobody will fetch, trim old records */
        size_t finished = 0;
        for (size_t i = 0; i < s->n_jobs; i++) {
            sjob *j = s->jobs[i];
            if (is_final(j->state))
                finished++;
            if (j->state == JOB_DONE && !j->forgotten && j->watchers == 0 &&
                j->unwatched_ms &&
                now - j->unwatched_ms > (j->detached ? DETACHED_KEEP_MS
                                                     : UNWATCHED_KEEP_MS))
                job_forget(s, j);
        }
        for (size_t i = 0; i < s->n_jobs && finished > MAX_JOB_RECORDS;) {
            sjob *j = s->jobs[i];
            if (is_final(j->state) && j->forgotten && j->watchers == 0) {
                memmove(&s->jobs[i], &s->jobs[i + 1],
                        (s->n_jobs - i - 1) * sizeof(sjob *));
                s->n_jobs--;
                job_free(j);
                finished--;
            } else {
                i++;
            }
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->tick, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* --------------------------------------------------- worker methods -- */

static void h_register(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__RegisterRequest *req = NULL;
    Runnel__V1__RegisterReply rep = RUNNEL__V1__REGISTER_REPLY__INIT;
    sworker *w = NULL;
    char id[24];

    if (rn_rpc_recv_pb(c, &runnel__v1__register_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    if (req->protocol != RN_PROTOCOL_VERSION) {
        rn_rpc_finish(c, RN_RPC_FAILED_PRECONDITION,
                      "protocol version %u is not supported (this scheduler "
                      "speaks %d)",
                      req->protocol, RN_PROTOCOL_VERSION);
        goto done;
    }
    if (strncmp(req->address, "tcp://", 6) != 0 || req->nthreads == 0 ||
        req->nthreads > 4096 || !req->instance[0]) {
        rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT,
                      "bad registration: need address tcp://HOST:PORT, "
                      "nthreads 1..4096 and an instance (got '%.100s', %u)",
                      req->address, req->nthreads);
        goto done;
    }
    pthread_mutex_lock(&s->lock);
    if (req->worker_id[0])
        w = worker_by_id(s, req->worker_id);
    if (!w)
        w = worker_by_address(s, req->address);
    if (w && strcmp(w->instance, req->instance) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "a worker is already registered at %s (name %s, id %s, last "
                 "seen %.1f s ago): a second one cannot register there until "
                 "the first leaves or is declared lost",
                 w->address, w->name, w->id,
                 (double)(rn_rpc_now_ms() - w->last_seen_ms) / 1000.0);
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_ALREADY_EXISTS, "%s", msg);
        goto done;
    }
    if (w) {
        /* the same process again (its stream broke): it keeps what it
         * holds, but commands in flight may be lost, so what it was
         * running is assigned afresh */
        for (size_t i = 0; i < s->n_jobs; i++) {
            sjob *j = s->jobs[i];
            if (!j->g)
                continue;
            for (size_t t = 0; t < j->g->n; t++)
                if (j->g->tasks[t].state == RN_TS_RUNNING &&
                    j->g->tasks[t].worker == w->wid)
                    rn_jobgraph_unassign(j->g, (uint32_t)t);
        }
        w->assigned = 0;
        outbox_clear(w);
        rep.reattached = 1;
        rn_logf(RN_LOG_INFO, "worker %s (%s) re-attached", w->address, w->name);
    } else {
        if (s->n_workers == s->cap_workers) {
            size_t cap = s->cap_workers ? s->cap_workers * 2 : 16;
            sworker **nw = rn_realloc(s->workers, cap * sizeof(*nw));
            if (!nw) {
                pthread_mutex_unlock(&s->lock);
                rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
                goto done;
            }
            s->workers = nw;
            s->cap_workers = cap;
        }
        w = rn_calloc(1, sizeof(*w));
        if (w) {
            w->address = rn_strdup(req->address);
            w->name = rn_strdup(req->name[0] ? req->name : req->address);
            w->instance = rn_strdup(req->instance);
        }
        if (!w || !w->address || !w->name || !w->instance) {
            worker_free(w);
            pthread_mutex_unlock(&s->lock);
            rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
            goto done;
        }
        w->wid = ++s->next_wid;
        rn_ident_random_hex(id, 8);
        snprintf(w->id, sizeof(w->id), "w-%.8s", id);
        w->disconnected_ms = rn_rpc_now_ms();
        s->workers[s->n_workers++] = w;
        rn_logf(RN_LOG_INFO, "worker %s (%s) registered: %u threads, memory "
                             "limit %llu",
                w->address, w->name, req->nthreads,
                (unsigned long long)req->memory_limit);
    }
    w->nthreads = req->nthreads;
    w->minor = req->minor;
    w->memory_limit = req->memory_limit;
    w->pid = req->pid;
    w->last_seen_ms = rn_rpc_now_ms();
    w->last_seen_unix = unix_now();
    snprintf(id, sizeof(id), "%s", w->id);
    rep.worker_id = id;
    rep.scheduler_id = s->id;
    rep.heartbeat_ms = (uint32_t)s->hb_interval_ms;
    rep.minor = RN_PROTOCOL_MINOR;
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    rn_pb_free(req);
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
static int send_batch(rn_rpc_call *c, outmsg *batch, uint32_t minor)
{
    rn_buf burst;
    int failed = 0;
    rn_buf_init(&burst, 0);
    while (batch) {
        outmsg *next = batch->next;
        uint8_t hdr[16];
        size_t h = burst.len ? more_header(hdr, batch->len) : 0;
        if (failed) {
            /* dropped: the worker registers again, its tasks are reset */
        } else if (minor < 1) {
            failed = rn_rpc_send(c, batch->data, batch->len, SEND_TIMEOUT_MS);
        } else if ((h && rn_buf_append(&burst, hdr, h)) ||
                   rn_buf_append(&burst, batch->data, batch->len)) {
            failed = 1; /* out of memory: as a broken stream */
        } else if (!next || burst.len + next->len + 16 > MAX_BURST_BYTES) {
            failed = rn_rpc_send(c, burst.ptr, burst.len, SEND_TIMEOUT_MS);
            burst.len = 0;
        }
        rn_free(batch->data);
        rn_free(batch);
        batch = next;
    }
    rn_buf_release(&burst);
    return failed;
}

static void h_connect(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__ConnectRequest *req = NULL;
    sworker *w;
    uint32_t gen;
    char wid[24];
    int64_t last_send;
    int ended = 0;

    if (rn_rpc_recv_pb(c, &runnel__v1__connect_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    snprintf(wid, sizeof(wid), "%s", req->worker_id);
    rn_pb_free(req);
    pthread_mutex_lock(&s->lock);
    if (!(w = worker_by_id(s, wid))) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_NOT_FOUND, "unknown worker id '%s': register first",
                      wid);
        return;
    }
    gen = ++w->stream_gen;
    w->connected = 1;
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);

    /* a first message at once: the worker knows the stream is up */
    {
        Runnel__V1__WorkerCommand ping = RUNNEL__V1__WORKER_COMMAND__INIT;
        ping.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_PING;
        ping.ping = 1;
        if (rn_rpc_send_pb(c, &ping, SEND_TIMEOUT_MS))
            ended = 1;
    }
    last_send = rn_rpc_now_ms();
    while (!ended) {
        outmsg *batch = NULL;
        uint32_t minor;
        struct timespec ts;
        if (rn_rpc_should_stop(c))
            break;
        pthread_mutex_lock(&s->lock);
        w = worker_by_id(s, wid);
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
            w = worker_by_id(s, wid);
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
            Runnel__V1__WorkerCommand ping = RUNNEL__V1__WORKER_COMMAND__INIT;
            ping.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_PING;
            ping.ping = 1;
            if (rn_rpc_send_pb(c, &ping, SEND_TIMEOUT_MS))
                ended = 1;
            last_send = rn_rpc_now_ms();
        }
    }
    pthread_mutex_lock(&s->lock);
    w = worker_by_id(s, wid);
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

/* A call from a registered worker: finds it and records that it was seen
 * (lock held). An unknown id answers NOT_FOUND, releases the lock and
 * returns NULL. */
static sworker *seen_worker_locked(rn_scheduler *s, rn_rpc_call *c,
                                   const char *id)
{
    sworker *w = worker_by_id(s, id);
    if (!w) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_NOT_FOUND,
                      "unknown worker id '%s' (declared lost?): register again",
                      id);
        return NULL;
    }
    w->last_seen_ms = rn_rpc_now_ms();
    w->last_seen_unix = unix_now();
    return w;
}

static void h_heartbeat(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__HeartbeatRequest *req = NULL;
    Runnel__V1__HeartbeatReply rep = RUNNEL__V1__HEARTBEAT_REPLY__INIT;
    char **jobs = NULL;
    sworker *w;

    if (rn_rpc_recv_pb(c, &runnel__v1__heartbeat_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    pthread_mutex_lock(&s->lock);
    if (!(w = seen_worker_locked(s, c, req->worker_id)))
        goto done;
    w->memory = req->memory;
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
    jobs = rn_calloc(s->n_jobs + 1, sizeof(char *));
    for (size_t i = 0; jobs && i < s->n_jobs; i++)
        if (!s->jobs[i]->forgotten)
            jobs[rep.n_jobs++] = rn_strdup(s->jobs[i]->id);
    pthread_mutex_unlock(&s->lock);
    rep.scheduler_time = unix_now();
    rep.jobs = jobs;
    for (size_t i = 0; i < rep.n_jobs; i++)
        if (!jobs[i])
            rep.n_jobs = i; /* out of memory: keep what was copied */
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
    for (size_t i = 0; jobs && jobs[i]; i++)
        rn_free(jobs[i]);
    rn_free(jobs);
done:
    rn_pb_free(req);
}

/* One task's outcome from worker w (lock held). Returns 1 when accepted,
 * 0 when not (a stale attempt, a job that is gone: the worker drops the
 * output), RN_EINVAL for a task the job does not have. */
static int task_done_locked(rn_scheduler *s, sworker *w,
                            const Runnel__V1__TaskDoneRequest *req)
{
    sjob *j = job_by_id(s, req->job_id);
    rn_gtask *t;
    int accepted = 0;

    if (!j || !j->g || (is_final(j->state) && j->state != JOB_DONE))
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
        if (req->seconds >= 0 && t->stage < j->n_stages) {
            sstage *st = &j->stages[t->stage];
            int k = t->kind >= RN_GT_COMBINE;
            st->avg_s[k] = st->n_timed[k] ? 0.8 * st->avg_s[k] + 0.2 * req->seconds
                                          : req->seconds;
            st->n_timed[k]++;
        }
        for (size_t k = 0; k < n_rel; k++) {
            const rn_gtask *in = &j->g->tasks[relp[k]];
            sworker *h = worker_by_wid(s, in->worker);
            if (h) {
                Runnel__V1__WorkerCommand cmd = RUNNEL__V1__WORKER_COMMAND__INIT;
                Runnel__V1__PartitionRef pr = RUNNEL__V1__PARTITION_REF__INIT;
                pr.job_id = j->id;
                pr.task_id = in->id;
                cmd.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RELEASE;
                cmd.release = &pr;
                send_cmd(s, h, &cmd);
            }
            rn_jobgraph_release(j->g, relp[k]);
        }
        if (relp != rel)
            rn_free(relp);
        accepted = 1;
        check_complete(s, j);
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
        job_end(s, j, JOB_FAILED, "%s", req->error[0] ? req->error : "a task failed");
        break;
    }
    job_changed(s, j);
    return accepted;
}

static void h_task_done(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__TaskDoneRequest *req = NULL;
    Runnel__V1__TaskDoneReply rep = RUNNEL__V1__TASK_DONE_REPLY__INIT;
    sworker *w;
    int r;

    if (rn_rpc_recv_pb(c, &runnel__v1__task_done_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    pthread_mutex_lock(&s->lock);
    if (!(w = seen_worker_locked(s, c, req->worker_id)))
        goto done;
    if ((r = task_done_locked(s, w, req)) < 0) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT, "job %s has no task %u",
                      req->job_id, req->task_id);
        goto done;
    }
    rep.accepted = r == 1;
    schedule(s); /* here, not in the loop: no hand-over between threads */
    pthread_mutex_unlock(&s->lock);
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    rn_pb_free(req);
}

/* Outcomes, a batch per message, on one call that lasts as long as the
 * worker's connection (minor 1): no call - and no thread - per task. A
 * batch is one scheduling round. An unknown worker (lost, or we
 * restarted) gets nothing accepted; its heartbeat tells it to register
 * again. */
static void h_tasks_done(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    for (;;) {
        Runnel__V1__TasksDoneRequest *req = NULL;
        Runnel__V1__TasksDoneReply rep = RUNNEL__V1__TASKS_DONE_REPLY__INIT;
        protobuf_c_boolean *acc;
        sworker *w;
        int r = rn_rpc_recv_pb(c, &runnel__v1__tasks_done_request__descriptor,
                               (void **)&req, -1);
        if (r == 0)
            break; /* the worker closed its side */
        if (r < 0)
            return; /* broken, or malformed (answered) */
        if (!(acc = rn_calloc(req->n_tasks + 1, sizeof(*acc)))) {
            rn_pb_free(req);
            rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        pthread_mutex_lock(&s->lock);
        if ((w = worker_by_id(s, req->worker_id))) {
            w->last_seen_ms = rn_rpc_now_ms();
            w->last_seen_unix = unix_now();
            for (size_t i = 0; i < req->n_tasks; i++)
                /* a task the job lacks is refused alone, not the batch */
                acc[i] = task_done_locked(s, w, req->tasks[i]) == 1;
            schedule(s);
        }
        pthread_mutex_unlock(&s->lock);
        rep.accepted = acc;
        rep.n_accepted = req->n_tasks;
        r = rn_rpc_send_pb(c, &rep, 10000);
        rn_free(acc);
        rn_pb_free(req);
        if (r)
            return;
    }
    rn_rpc_finish_ok(c);
}

static void h_fetch_plugin(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__FetchPluginRequest *req = NULL;
    char path[4096];
    uint8_t *buf = NULL;
    int fd = -1;
    uint64_t size = 0;

    if (rn_rpc_recv_pb(c, &runnel__v1__fetch_plugin_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    if (rn_plugstore_path(s->store, req->id, path, sizeof(path)) != 0) {
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
            ssize_t r = read(fd, buf, RN_RPC_CHUNK);
            if (r < 0) {
                rn_rpc_finish(c, RN_RPC_INTERNAL, "cannot read %s: %s", path,
                              strerror(errno));
                goto done;
            }
            ch.offset = off;
            ch.data.data = buf;
            ch.data.len = (size_t)r;
            if (rn_rpc_send_pb(c, &ch, 30000))
                goto done;
            off += (uint64_t)r;
            if (r == 0)
                break;
        } while (off < size);
    }
    rn_rpc_finish_ok(c);
done:
    if (fd >= 0)
        close(fd);
    rn_free(buf);
    rn_pb_free(req);
}

static void h_retire(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__RetireRequest *req = NULL;
    Runnel__V1__RetireReply rep = RUNNEL__V1__RETIRE_REPLY__INIT;
    sworker *w;

    if (rn_rpc_recv_pb(c, &runnel__v1__retire_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    pthread_mutex_lock(&s->lock);
    if (!(w = worker_by_id(s, req->worker_id))) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_NOT_FOUND, "unknown worker id '%s'",
                      req->worker_id);
        goto done;
    }
    rep.tasks_handed_back = w->assigned;
    worker_gone(s, w, 0, "retired (SIGTERM)");
    worker_remove(s, w);
    pthread_mutex_unlock(&s->lock);
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    rn_pb_free(req);
}

/* --------------------------------------------------- client methods -- */

static Runnel__V1__PluginRef *plugrefs(const rn_plugentry *e, size_t n,
                                       Runnel__V1__PluginRef ***ptrs)
{
    Runnel__V1__PluginRef *refs = rn_calloc(n ? n : 1, sizeof(*refs));
    *ptrs = rn_calloc(n ? n : 1, sizeof(**ptrs));
    if (!refs || !*ptrs) {
        rn_free(refs);
        rn_free(*ptrs);
        *ptrs = NULL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        runnel__v1__plugin_ref__init(&refs[i]);
        refs[i].id = (char *)e[i].id;
        refs[i].name = (char *)e[i].name;
        refs[i].version = (char *)e[i].version;
        refs[i].size = e[i].size;
        (*ptrs)[i] = &refs[i];
    }
    return refs;
}

static void h_info(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__InfoRequest *req = NULL;
    Runnel__V1__InfoReply rep = RUNNEL__V1__INFO_REPLY__INIT;
    Runnel__V1__Service svc = RUNNEL__V1__SERVICE__INIT, *psvc = &svc;
    Runnel__V1__WorkerInfo *wi = NULL, **pwi = NULL;
    Runnel__V1__TaskCounts *tc = NULL;
    Runnel__V1__PluginRef **prefs_all = NULL;
    Runnel__V1__PluginRef *refs_all = NULL;
    sworker **copy = NULL;
    size_t n = 0, np = 0, at = 0;

    if (rn_rpc_recv_pb(c, &runnel__v1__info_request__descriptor, (void **)&req,
                       10000) != 1)
        return;
    pthread_mutex_lock(&s->lock);
    n = s->n_workers;
    for (size_t i = 0; i < n; i++)
        np += s->workers[i]->n_plugins;
    wi = rn_calloc(n + 1, sizeof(*wi));
    pwi = rn_calloc(n + 1, sizeof(*pwi));
    tc = rn_calloc(n + 1, sizeof(*tc));
    refs_all = rn_calloc(np + 1, sizeof(*refs_all));
    prefs_all = rn_calloc(np + 1, sizeof(*prefs_all));
    copy = rn_calloc(n + 1, sizeof(*copy));
    if (!wi || !pwi || !tc || !refs_all || !prefs_all || !copy) {
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        /* copies: the reply is sent after the lock is released */
        sworker *w = rn_calloc(1, sizeof(*w));
        if (!w)
            break;
        *w = *s->workers[i];
        w->address = rn_strdup(w->address);
        w->name = rn_strdup(w->name);
        w->instance = NULL;
        w->out_head = w->out_tail = NULL;
        w->plugins = NULL;
        copy[i] = w;
        runnel__v1__worker_info__init(&wi[i]);
        runnel__v1__task_counts__init(&tc[i]);
        wi[i].address = w->address ? w->address : (char *)"";
        wi[i].id = w->id;
        wi[i].name = w->name ? w->name : (char *)"";
        wi[i].nthreads = w->nthreads;
        wi[i].memory_limit = w->memory_limit;
        wi[i].memory = w->memory;
        tc[i].running = w->assigned;
        tc[i].done = w->tasks_done;
        tc[i].failed = w->tasks_failed;
        wi[i].tasks = &tc[i];
        wi[i].partitions = w->partitions;
        wi[i].partition_bytes = w->partition_bytes;
        wi[i].last_seen = w->last_seen_unix;
        wi[i].status = (char *)(w->connected ? "running" : "connecting");
        wi[i].plugins = &prefs_all[at];
        wi[i].n_plugins = s->workers[i]->n_plugins;
        for (size_t k = 0; k < s->workers[i]->n_plugins; k++, at++) {
            const rn_plugentry *e = &s->workers[i]->plugins[k];
            runnel__v1__plugin_ref__init(&refs_all[at]);
            refs_all[at].id = rn_strdup(e->id);
            refs_all[at].name = rn_strdup(e->name);
            refs_all[at].version = rn_strdup(e->version);
            refs_all[at].size = e->size;
            prefs_all[at] = &refs_all[at];
        }
        pwi[i] = &wi[i];
        rep.n_workers++;
    }
    for (size_t i = 0; i < s->n_jobs; i++) {
        rep.jobs_running += s->jobs[i]->state == JOB_RUNNING;
        rep.jobs_queued += s->jobs[i]->state == JOB_QUEUED;
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < at; i++) {
        if (!refs_all[i].id)
            refs_all[i].id = (char *)"";
        if (!refs_all[i].name)
            refs_all[i].name = (char *)"";
        if (!refs_all[i].version)
            refs_all[i].version = (char *)"";
    }
    rep.type = (char *)"Scheduler";
    rep.id = s->id;
    rep.address = s->address;
    svc.name = (char *)"grpc";
    svc.port = (uint32_t)s->port;
    rep.services = &psvc;
    rep.n_services = 1;
    rep.started = s->started_unix;
    rep.workers = pwi;
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    for (size_t i = 0; copy && i < n; i++)
        worker_free(copy[i]);
    for (size_t i = 0; refs_all && i < at; i++) {
        if (refs_all[i].id && refs_all[i].id[0])
            rn_free(refs_all[i].id);
        if (refs_all[i].name && refs_all[i].name[0])
            rn_free(refs_all[i].name);
        if (refs_all[i].version && refs_all[i].version[0])
            rn_free(refs_all[i].version);
    }
    rn_free(copy);
    rn_free(wi);
    rn_free(pwi);
    rn_free(tc);
    rn_free(refs_all);
    rn_free(prefs_all);
    rn_pb_free(req);
}

static void h_push_plugin(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__PushPluginRequest *req = NULL;
    Runnel__V1__PushPluginReply rep = RUNNEL__V1__PUSH_PLUGIN_REPLY__INIT;
    rn_plugput *pp = NULL;
    rn_errbuf err;
    char id[65] = "", name[64] = "";
    uint64_t got = 0;
    int exists = 0, r;

    rn_error_clear(&err);
    r = rn_rpc_recv_pb(c, &runnel__v1__push_plugin_request__descriptor,
                       (void **)&req, 30000);
    if (r != 1) {
        if (r == 0)
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
        r = rn_rpc_recv_pb(c, &runnel__v1__push_plugin_request__descriptor,
                           (void **)&req, 30000);
        if (r == 0)
            break;
        if (r < 0)
            goto done; /* broken or malformed (answered) */
    }
    if (pp) {
        int rc = rn_plugput_commit(pp, &err);
        pp = NULL;
        if (rc) {
            rn_logf(RN_LOG_WARN, "scheduler: plugin push refused: %s", err.msg);
            rn_rpc_finish_err(c, &err);
            goto done;
        }
        rn_logf(RN_LOG_INFO, "plugin %s stored as sha256:%s (%llu bytes)", name,
                id, (unsigned long long)got);
    }
    rep.id = id;
    rep.existed = exists;
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    rn_plugput_abort(pp);
    rn_pb_free(req);
}

static void h_list_plugins(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__ListPluginsRequest *req = NULL;
    Runnel__V1__ListPluginsReply rep = RUNNEL__V1__LIST_PLUGINS_REPLY__INIT;
    Runnel__V1__PluginRef *refs = NULL, **ptrs = NULL;
    rn_plugentry *ents = NULL;
    size_t n = 0;

    if (rn_rpc_recv_pb(c, &runnel__v1__list_plugins_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    if (rn_plugstore_list(s->store, &ents, &n) ||
        !(refs = plugrefs(ents, n, &ptrs))) {
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
    }
    rep.plugins = ptrs;
    rep.n_plugins = n;
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    rn_free(refs);
    rn_free(ptrs);
    rn_free(ents);
    rn_pb_free(req);
}

/* Checks a submitted manifest: parses, every plugin is an id we store. */
static int check_manifest(rn_scheduler *s, const char *text, size_t len,
                          rn_errbuf *err)
{
    rn_manifest *m = NULL;
    char path[4096];
    int rc;
    if ((rc = rn_manifest_parse("submitted manifest", text, len, &m, err)))
        return rc;
    for (size_t i = 0; i < m->n_plugins; i++) {
        const char *p = m->plugins[i];
        if (strncmp(p, "sha256:", 7) != 0) {
            rc = rn_error_set(err, RN_EINVAL,
                              "plugin '%s' is named by path: on a cluster push "
                              "it and name it sha256:<id> (runnel run and "
                              "submit do that)",
                              p);
            break;
        }
        if (rn_plugstore_path(s->store, p + 7, path, sizeof(path)) != 0) {
            rc = rn_error_set(err, RN_ENOTFOUND,
                              "plugin %s is not in the scheduler's store: push "
                              "it first (runnel plugin push)",
                              p);
            break;
        }
    }
    rn_manifest_free(m);
    return rc;
}

static void h_submit(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__SubmitJobRequest *req = NULL;
    Runnel__V1__SubmitJobReply rep = RUNNEL__V1__SUBMIT_JOB_REPLY__INIT;
    sjob *j = NULL;
    int *terms = NULL;
    rn_errbuf err;
    char hex[16];

    rn_error_clear(&err);
    if (rn_rpc_recv_pb(c, &runnel__v1__submit_job_request__descriptor,
                       (void **)&req, 30000) != 1)
        return;
    if (req->protocol != RN_PROTOCOL_VERSION) {
        rn_rpc_finish(c, RN_RPC_FAILED_PRECONDITION,
                      "protocol version %u is not supported (this scheduler "
                      "speaks %d)",
                      req->protocol, RN_PROTOCOL_VERSION);
        goto done;
    }
    if (!req->manifest[0] || req->n_stages == 0 || req->n_stages > 1024) {
        rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT,
                      "a job needs a manifest and 1 to 1024 stages (got %zu)",
                      req->n_stages);
        goto done;
    }
    if (check_manifest(s, req->manifest, strlen(req->manifest), &err)) {
        rn_rpc_finish_err(c, &err);
        goto done;
    }
    if (!(j = rn_calloc(1, sizeof(*j))) || !(j->splits = rn_partition_new()) ||
        !(terms = rn_calloc(req->n_stages, sizeof(int))) ||
        !(j->stages = rn_calloc(req->n_stages, sizeof(sstage)))) {
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
    }
    if (rn_codec_decode(req->splits.data ? (const void *)req->splits.data : "",
                        req->splits.len, j->splits, &err)) {
        rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT, "malformed splits: %s", err.msg);
        goto done;
    }
    j->n_stages = req->n_stages;
    for (size_t i = 0; i < req->n_stages; i++) {
        const Runnel__V1__StageSpec *sp = req->stages[i];
        sstage *st = &j->stages[i];
        if (sp->terminal > RUNNEL__V1__TERMINAL__TERMINAL_SINK ||
            (i + 1 < req->n_stages &&
             sp->terminal != RUNNEL__V1__TERMINAL__TERMINAL_FOLD)) {
            rn_rpc_finish(c, RN_RPC_INVALID_ARGUMENT,
                          "stage %zu: only the last stage may end without a "
                          "fold",
                          i);
            goto done;
        }
        terms[i] = (int)sp->terminal;
        st->terminal = (int)sp->terminal;
        st->commutative = sp->commutative;
        st->ops = rn_calloc(sp->n_ops + 1, sizeof(char *));
        st->user = rn_calloc(sp->n_ops + 1, sizeof(int));
        if (!st->ops || !st->user) {
            rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
            goto done;
        }
        for (size_t k = 0; k < sp->n_ops; k++) {
            st->ops[k] = dup_short(sp->ops[k]);
            st->user[k] = k < sp->n_user_ops && sp->user_ops[k];
            st->n_ops++;
        }
    }
    j->split_every = req->split_every >= 2 ? req->split_every : 8;
    if (rn_jobgraph_build(terms, j->n_stages, j->splits->n, j->split_every, &j->g) ||
        !(j->manifest = rn_strdup(req->manifest)) ||
        !(j->name = dup_short(req->name[0] ? req->name : "job")) ||
        !(j->client = dup_short(req->client))) {
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
    }
    j->manifest_len = strlen(j->manifest);
    j->detached = req->detached;
    j->state = JOB_QUEUED;
    j->submitted_unix = unix_now();
    j->submitted_ms = rn_rpc_now_ms();
    j->n_tasks = (uint32_t)j->g->n;
    rn_ident_random_hex(hex, 10);
    snprintf(j->id, sizeof(j->id), "j-%.10s", hex);
    pthread_mutex_lock(&s->lock);
    if (s->n_jobs == s->cap_jobs) {
        size_t cap = s->cap_jobs ? s->cap_jobs * 2 : 16;
        sjob **nj = rn_realloc(s->jobs, cap * sizeof(*nj));
        if (!nj) {
            pthread_mutex_unlock(&s->lock);
            rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
            goto done;
        }
        s->jobs = nj;
        s->cap_jobs = cap;
    }
    s->jobs[s->n_jobs++] = j;
    rn_logf(RN_LOG_INFO, "job %s (%s) submitted by %s: %zu splits, %zu stages, "
                         "%zu tasks",
            j->id, j->name, j->client[0] ? j->client : "?", j->splits->n,
            j->n_stages, j->g->n);
    snprintf(hex, sizeof(hex), "%s", j->id);
    check_complete(s, j); /* a job with no task at all */
    j = NULL;
    schedule(s);
    pthread_mutex_unlock(&s->lock);
    rep.job_id = hex;
    if (rn_rpc_send_pb(c, &rep, 10000) == 0)
        rn_rpc_finish_ok(c);
done:
    job_free(j);
    rn_free(terms);
    rn_pb_free(req);
}

/* Fills info from j (under the lock); strings point into j or static
 * storage, results into the arrays given (n_finals long). */
static void job_info(rn_scheduler *s, const sjob *j, Runnel__V1__JobInfo *ji,
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
    ji->seconds = (double)((is_final(j->state) ? j->finished_ms : rn_rpc_now_ms()) -
                           j->submitted_ms) /
                  1000.0;
    ji->tasks_recomputed = j->recomputed;
    ji->client = j->client ? j->client : (char *)"";
    if (j->state == JOB_DONE && j->g && res) {
        for (size_t i = 0; i < j->g->n_finals; i++) {
            const rn_gtask *t = &j->g->tasks[j->g->finals[i]];
            sworker *w = worker_by_wid(s, t->worker);
            runnel__v1__result_ref__init(&res[i]);
            res[i].task_id = t->id;
            snprintf(addrs[i], sizeof(addrs[i]), "%s", w ? w->address : "");
            res[i].address = addrs[i];
            res[i].bytes = t->bytes;
            res[i].items = t->items;
            pres[i] = &res[i];
        }
        ji->results = pres;
        ji->n_results = j->g->n_finals;
    }
}

/* A job's info packed (results included when done), under the lock:
 * *buf is rn_malloc'd. RN_ENOTFOUND for an unknown job. */
static int pack_job(rn_scheduler *s, const char *id, uint8_t **buf, size_t *len,
                    int *final, uint64_t *version)
{
    Runnel__V1__JobInfo ji;
    Runnel__V1__ResultRef *res = NULL, **pres = NULL;
    char(*addrs)[160] = NULL;
    sjob *j;
    size_t nf;

    *buf = NULL;
    if (!(j = job_by_id(s, id)))
        return RN_ENOTFOUND;
    nf = j->g ? j->g->n_finals : 0;
    res = rn_calloc(nf + 1, sizeof(*res));
    pres = rn_calloc(nf + 1, sizeof(*pres));
    addrs = rn_calloc(nf + 1, sizeof(*addrs));
    if (res && pres && addrs) {
        job_info(s, j, &ji, res, pres, addrs);
        *len = runnel__v1__job_info__get_packed_size(&ji);
        if ((*buf = rn_malloc(*len ? *len : 1)))
            runnel__v1__job_info__pack(&ji, *buf);
    }
    if (final)
        *final = is_final(j->state);
    if (version)
        *version = j->version;
    rn_free(res);
    rn_free(pres);
    rn_free(addrs);
    return *buf ? 0 : RN_ENOMEM;
}

/* Sends a packed job info and ends the call (unary replies). */
static void reply_job(rn_rpc_call *c, const char *id, int rc, uint8_t *buf,
                      size_t len)
{
    if (rc == RN_ENOTFOUND)
        rn_rpc_finish(c, RN_RPC_NOT_FOUND, "unknown job '%.80s'", id);
    else if (rc)
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
    else if (rn_rpc_send(c, buf, len, 10000) == 0)
        rn_rpc_finish_ok(c);
    rn_free(buf);
}

static int recv_job_request(rn_rpc_call *c, char *id, size_t cap)
{
    Runnel__V1__JobRequest *req = NULL;
    if (rn_rpc_recv_pb(c, &runnel__v1__job_request__descriptor, (void **)&req,
                       10000) != 1)
        return -1;
    snprintf(id, cap, "%s", req->job_id);
    rn_pb_free(req);
    return 0;
}

static void unknown_job(rn_rpc_call *c, const char *id)
{
    reply_job(c, id, RN_ENOTFOUND, NULL, 0);
}

static void h_get_job(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    uint8_t *buf;
    size_t len = 0;
    char id[128];
    int rc;
    if (recv_job_request(c, id, sizeof(id)))
        return;
    pthread_mutex_lock(&s->lock);
    rc = pack_job(s, id, &buf, &len, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    reply_job(c, id, rc, buf, len);
}

static void h_watch_job(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    uint64_t version = 0, seen = (uint64_t)-1;
    int final = 0, vanished = 0;
    int64_t last = 0;
    char id[128];
    sjob *j;

    if (recv_job_request(c, id, sizeof(id)))
        return;
    pthread_mutex_lock(&s->lock);
    if (!(j = job_by_id(s, id))) {
        pthread_mutex_unlock(&s->lock);
        unknown_job(c, id);
        return;
    }
    j->watchers++;
    pthread_mutex_unlock(&s->lock);
    for (;;) {
        int64_t now = rn_rpc_now_ms(), wait_ms = 250;
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = 0;
        pthread_mutex_lock(&s->lock);
        j = job_by_id(s, id);
        version = j ? j->version : 0;
        /* at most one update every 200 ms, the final one at once */
        if (j && version != seen &&
            (now - last >= 200 || (is_final(j->state) && j->state != JOB_DONE) ||
             j->state == JOB_DONE))
            rc = pack_job(s, id, &buf, &len, &final, &seen);
        else if (j && version != seen)
            wait_ms = 200 - (now - last);
        pthread_mutex_unlock(&s->lock);
        if (!j || rc)
            break;
        if (buf) {
            rc = rn_rpc_send(c, buf, len, 30000);
            rn_free(buf);
            if (rc) {
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
        {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)wait_ms * 1000 * 1000;
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            j = job_by_id(s, id);
            if (j && (j->version == seen || wait_ms < 250))
                pthread_cond_timedwait(&s->jobcond, &s->lock, &ts);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&s->lock);
    if ((j = job_by_id(s, id))) {
        j->watchers--;
        if (vanished && !j->detached && !is_final(j->state) && j->watchers == 0)
            job_end(s, j, JOB_CANCELLED, "the client went away");
        else if (j->state == JOB_DONE && j->watchers == 0 && !j->unwatched_ms)
            j->unwatched_ms = rn_rpc_now_ms();
    }
    pthread_mutex_unlock(&s->lock);
    if (!vanished)
        rn_rpc_finish_ok(c);
}

static void h_list_jobs(rn_rpc_call *c, void *ud)
{
    rn_scheduler *s = ud;
    Runnel__V1__ListJobsRequest *req = NULL;
    Runnel__V1__ListJobsReply rep = RUNNEL__V1__LIST_JOBS_REPLY__INIT;
    Runnel__V1__JobInfo *infos = NULL, **pinfos = NULL;
    uint8_t *buf = NULL;
    size_t n;

    if (rn_rpc_recv_pb(c, &runnel__v1__list_jobs_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    rn_pb_free(req);
    pthread_mutex_lock(&s->lock);
    infos = rn_calloc(s->n_jobs + 1, sizeof(*infos));
    pinfos = rn_calloc(s->n_jobs + 1, sizeof(*pinfos));
    if (infos && pinfos) {
        for (size_t i = 0; i < s->n_jobs; i++) {
            job_info(s, s->jobs[i], &infos[i], NULL, NULL, NULL);
            pinfos[i] = &infos[i];
        }
        rep.jobs = pinfos;
        rep.n_jobs = s->n_jobs;
        n = runnel__v1__list_jobs_reply__get_packed_size(&rep);
        if ((buf = rn_malloc(n ? n : 1)))
            runnel__v1__list_jobs_reply__pack(&rep, buf);
    }
    pthread_mutex_unlock(&s->lock);
    if (!buf)
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "out of memory");
    else if (rn_rpc_send(c, buf, n, 10000) == 0)
        rn_rpc_finish_ok(c);
    rn_free(buf);
    rn_free(infos);
    rn_free(pinfos);
}

static void h_cancel_job(rn_rpc_call *c, void *ud)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rn_scheduler *s = ud;
    char id[128];
    sjob *j;
    int rc;
    if (recv_job_request(c, id, sizeof(id)))
        return;
    pthread_mutex_lock(&s->lock);
    if ((j = job_by_id(s, id)) && !is_final(j->state))
        job_end(s, j, JOB_CANCELLED, "cancelled by a client (%s)", rn_rpc_peer(c));
    rc = pack_job(s, id, &buf, &len, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    reply_job(c, id, rc, buf, len);
}

static void h_release_job(rn_rpc_call *c, void *ud)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rn_scheduler *s = ud;
    char id[128];
    sjob *j;
    int rc;
    if (recv_job_request(c, id, sizeof(id)))
        return;
    pthread_mutex_lock(&s->lock);
    if ((j = job_by_id(s, id))) {
        if (j->state == JOB_DONE)
            job_forget(s, j);
        j->released = 1;
    }
    rc = pack_job(s, id, &buf, &len, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    reply_job(c, id, rc, buf, len);
}

static void h_report_missing(rn_rpc_call *c, void *ud)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rn_scheduler *s = ud;
    Runnel__V1__ReportMissingRequest *req = NULL;
    char id[128];
    sjob *j;
    int rc;
    if (rn_rpc_recv_pb(c, &runnel__v1__report_missing_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    snprintf(id, sizeof(id), "%s", req->job_id);
    pthread_mutex_lock(&s->lock);
    if ((j = job_by_id(s, id)) && j->g && req->task_id < j->g->n &&
        j->g->tasks[req->task_id].state == RN_TS_DONE) {
        sworker *w = worker_by_wid(s, j->g->tasks[req->task_id].worker);
        if (!w || strcmp(w->address, req->address) == 0) {
            rn_logf(RN_LOG_WARN, "job %s: result %u could not be fetched from "
                                 "%s: recomputing it",
                    j->id, req->task_id, req->address);
            rn_jobgraph_forget_output(j->g, req->task_id);
            if (j->state == JOB_DONE)
                j->state = JOB_RUNNING;
            job_changed(s, j);
            pthread_cond_signal(&s->tick);
        }
    }
    rc = pack_job(s, id, &buf, &len, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    rn_pb_free(req);
    reply_job(c, id, rc, buf, len);
}

/* ------------------------------------------------------------ setup -- */

int rn_scheduler_start(const rn_scheduler_opts *o, rn_scheduler **out,
                       rn_errbuf *err)
{
    rn_scheduler *s = rn_calloc(1, sizeof(*s));
    const char *listen = o && o->listen ? o->listen : "0.0.0.0:8786";
    char host[128], port[16], hex[40];
    int rc;

    *out = NULL;
    if (!s)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->jobcond, NULL);
    pthread_cond_init(&s->tick, NULL);
    s->hb_timeout_ms = o && o->heartbeat_timeout_ms > 0 ? o->heartbeat_timeout_ms
                                                        : 10000;
    s->hb_interval_ms = s->hb_timeout_ms / 5;
    if (s->hb_interval_ms > 1000)
        s->hb_interval_ms = 1000;
    if (s->hb_interval_ms < 50)
        s->hb_interval_ms = 50;
    s->started_unix = unix_now();
    rn_ident_random_hex(hex, 32);
    snprintf(s->id, sizeof(s->id), "Scheduler-%.8s-%.4s-%.4s-%.4s-%.12s", hex,
             hex + 8, hex + 12, hex + 16, hex + 20);
    if (rn_ident_split_hostport(listen, host, sizeof(host), port, sizeof(port))) {
        rn_scheduler_stop(s);
        return rn_error_set(err, RN_EINVAL, "--listen %s: expected HOST:PORT",
                            listen);
    }
    if ((rc = rn_plugstore_open(o ? o->state_dir : NULL, &s->store, err))) {
        rn_scheduler_stop(s);
        return rc;
    }
    if ((rc = rn_rpc_server_new(&s->srv, listen, NULL, err))) {
        rn_scheduler_stop(s);
        return rc;
    }
    rn_rpc_server_add(s->srv, RN_M_REGISTER, h_register, s);
    rn_rpc_server_add(s->srv, RN_M_CONNECT, h_connect, s);
    rn_rpc_server_add(s->srv, RN_M_HEARTBEAT, h_heartbeat, s);
    rn_rpc_server_add(s->srv, RN_M_TASK_DONE, h_task_done, s);
    rn_rpc_server_add(s->srv, RN_M_TASKS_DONE, h_tasks_done, s);
    rn_rpc_server_add(s->srv, RN_M_FETCH_PLUGIN, h_fetch_plugin, s);
    rn_rpc_server_add(s->srv, RN_M_RETIRE, h_retire, s);
    rn_rpc_server_add(s->srv, RN_M_INFO, h_info, s);
    rn_rpc_server_add(s->srv, RN_M_PUSH_PLUGIN, h_push_plugin, s);
    rn_rpc_server_add(s->srv, RN_M_LIST_PLUGINS, h_list_plugins, s);
    rn_rpc_server_add(s->srv, RN_M_SUBMIT_JOB, h_submit, s);
    rn_rpc_server_add(s->srv, RN_M_WATCH_JOB, h_watch_job, s);
    rn_rpc_server_add(s->srv, RN_M_GET_JOB, h_get_job, s);
    rn_rpc_server_add(s->srv, RN_M_LIST_JOBS, h_list_jobs, s);
    rn_rpc_server_add(s->srv, RN_M_CANCEL_JOB, h_cancel_job, s);
    rn_rpc_server_add(s->srv, RN_M_RELEASE_JOB, h_release_job, s);
    rn_rpc_server_add(s->srv, RN_M_REPORT_MISSING, h_report_missing, s);
    if ((rc = rn_rpc_server_start(s->srv, &s->port, err))) {
        rn_scheduler_stop(s);
        return rc;
    }
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || !host[0]) {
        char ip[64];
        rn_ident_host_ip(ip, sizeof(ip));
        rn_ident_url(ip, s->port, s->address, sizeof(s->address));
    } else {
        rn_ident_url(host, s->port, s->address, sizeof(s->address));
    }
    if (pthread_create(&s->loop_tid, NULL, loop_main, s) != 0) {
        rn_scheduler_stop(s);
        return rn_error_set(err, RN_ENOMEM, "cannot start a thread");
    }
    s->loop_started = 1;
    rn_logf(RN_LOG_INFO, "scheduler %s listening at %s (plugins in %s)", s->id,
            s->address, rn_plugstore_dir(s->store));
    *out = s;
    return 0;
}

const char *rn_scheduler_address(const rn_scheduler *s)
{
    return s->address;
}

int rn_scheduler_port(const rn_scheduler *s)
{
    return s->port;
}

void rn_scheduler_stop(rn_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_cond_broadcast(&s->jobcond);
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);
    if (s->loop_started)
        pthread_join(s->loop_tid, NULL);
    rn_rpc_server_free(s->srv, 2000);
    for (size_t i = 0; i < s->n_workers; i++)
        worker_free(s->workers[i]);
    rn_free(s->workers);
    for (size_t i = 0; i < s->n_jobs; i++)
        job_free(s->jobs[i]);
    rn_free(s->jobs);
    rn_plugstore_free(s->store);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->jobcond);
    pthread_cond_destroy(&s->tick);
    rn_free(s);
}
