/*
 * Inside the scheduler (tier 2, this module's own): the state behind its
 * one lock and the functions its files share. The files:
 *
 *   scheduler.c   start, stop, the loop thread (heartbeats, scheduling
 *                 rounds, forgetting old jobs)
 *   frame.c       every RPC goes through one frame: authenticate the peer,
 *                 check its role, read and bound the request, call the
 *                 handler, reply. The method table is there.
 *   registry.c    workers: lookup, outboxes of commands, loss, removal
 *   jobs.c        job records: creation from a submission, ownership,
 *                 ending, forgetting, JobInfo
 *   assign.c      placement of ready tasks and task outcomes
 *   api_worker.c  the methods workers call
 *   api_client.c  the methods clients call
 *
 * Locking: every field of rn_scheduler below `lock` is guarded by it;
 * handlers take it for as short as they can and never send or receive
 * while holding it. Functions named *_locked, and every rn__sched_*
 * function unless its comment says otherwise, expect it held.
 */
#ifndef RN_SCHEDULER_SCHED_H
#define RN_SCHEDULER_SCHED_H

#include <pthread.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "cluster/jobgraph.h"
#include "cluster/plugstore.h"
#include "scheduler/scheduler.h"
#include "security/identity.h"
#include "transport/rpc.h"
#include "value/partition.h"

#include "runnel_scheduler.pb-c.h"

/* Finished jobs whose results nobody fetched are forgotten after these. */
#define RN_SCHED_UNWATCHED_KEEP_MS (60 * 1000)
#define RN_SCHED_DETACHED_KEEP_MS (60 * 60 * 1000)
/* Job records kept for `runnel jobs` (oldest finished ones go first). */
#define RN_SCHED_MAX_JOB_RECORDS 1000
/* Jobs queued or running at once, per owner and in all. */
#define RN_SCHED_MAX_ACTIVE_JOBS_PER_OWNER 256
#define RN_SCHED_MAX_ACTIVE_JOBS 4096
/* Workers registered at once, and plugins one may list. */
#define RN_SCHED_MAX_WORKERS 4096
#define RN_SCHED_MAX_WORKER_PLUGINS 256
/* A registered worker without a command stream for this long is lost. */
#define RN_SCHED_SEND_TIMEOUT_MS 10000

enum {
    JOB_QUEUED = RUNNEL__V1__JOB_STATE__JOB_QUEUED,
    JOB_RUNNING = RUNNEL__V1__JOB_STATE__JOB_RUNNING,
    JOB_DONE = RUNNEL__V1__JOB_STATE__JOB_DONE,
    JOB_FAILED = RUNNEL__V1__JOB_STATE__JOB_FAILED,
    JOB_CANCELLED = RUNNEL__V1__JOB_STATE__JOB_CANCELLED
};

/* A packed WorkerCommand waiting for the worker's command stream. */
typedef struct rn__outmsg {
    struct rn__outmsg *next;
    uint8_t *data;
    size_t len;
} rn__outmsg;

typedef struct rn__sworker {
    uint32_t wid; /* the worker's handle in task graphs */
    char id[24];
    char *address, *name, *instance;
    char owner[RN_IDENTITY_NAME_MAX + 1]; /* certificate name (TLS) */
    uint32_t nthreads;
    uint32_t minor;              /* protocol minor it registered with */
    uint64_t memory_limit, memory, memory_peak, rss, pid;
    uint64_t spilled_bytes, spilled_files;
    int64_t last_seen_ms;
    double last_seen_unix;
    uint32_t assigned;           /* tasks RUNNING there, by our count */
    uint64_t tasks_done, tasks_failed;
    uint32_t partitions;
    uint64_t partition_bytes;
    rn_plugentry *plugins;
    size_t n_plugins;
    rn__outmsg *out_head, *out_tail;
    uint32_t stream_gen;
    int connected;
    int64_t disconnected_ms;
} rn__sworker;

typedef struct rn__sstage {
    int terminal;
    int commutative;
    uint32_t nparts; /* a keyed fold's npartitions (1: none) */
    /* run time of this stage's tasks: [0] source/chain, [1] combine/finish
     * (moving average, seconds) and how many reported it */
    double avg_s[2];
    uint32_t n_timed[2];
    char **ops;
    int *user;
    size_t n_ops;
} rn__sstage;

typedef struct rn__sjob {
    char id[16];
    char *name, *client, *manifest, *error;
    char owner[RN_IDENTITY_NAME_MAX + 1]; /* "" without TLS */
    char cap[65];                 /* FetchPartition capability, hex */
    rn_partition *splits;      /* every source's (rn_gtask.split) */
    rn__sstage *stages;        /* node after node (rn_gtask.gstage) */
    size_t n_stages;
    char **where;              /* per node: a zip's place, or NULL */
    size_t n_nodes;            /* 1 for a job of one pipeline */
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
} rn__sjob;

/* One registered method and the scheduler it serves (frame.c). */
typedef struct rn__sched_method rn__sched_method;
typedef struct rn__sched_binding {
    rn_scheduler *s;
    const rn__sched_method *m;
    unsigned roles; /* bit (1 << rn_role) per role allowed */
} rn__sched_binding;

struct rn_scheduler {
    rn_rpc_server *srv;
    rn_plugstore *store;
    rn__sched_binding *bindings;
    size_t n_bindings;
    int tls;                 /* peers have verified identities */
    const char *security;    /* InfoReply.security */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* outboxes, workers (command streams wait) */
    pthread_cond_t jobcond; /* jobs (watchers wait) */
    pthread_cond_t tick; /* the loop's wake-up */
    rn__sworker **workers;
    size_t n_workers, cap_workers;
    rn__sjob **jobs;
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
    /* refusals logged in the current second (frame.c: a flood of bad
     * calls must not flood the log) */
    int64_t refusal_second;
    int refusals_logged;
};

/* A call as a handler sees it: who calls (authenticated by the frame)
 * and the call itself, for streaming handlers. */
typedef struct rn__sreq {
    rn_scheduler *s;
    rn_rpc_call *c;
    rn_identity who;
    const char *method; /* its short name, for messages */
} rn__sreq;

/* ---------------------------------------------------------- misc ----- */
double rn__sched_unix_now(void);
int rn__sched_is_final(int state);
const char *rn__sched_state_name(int state);
/* 1 when who may act on something owned by owner: without TLS anyone,
 * with TLS the owner itself and admins. Needs no lock. */
int rn__sched_owns(const rn_scheduler *s, const rn_identity *who,
                   const char *owner);

/* ----------------------------------------------------- registry.c ---- */
rn__sworker *rn__sched_worker_by_id(rn_scheduler *s, const char *id);
rn__sworker *rn__sched_worker_by_wid(rn_scheduler *s, uint32_t wid);
rn__sworker *rn__sched_worker_by_address(rn_scheduler *s, const char *a);
/* The address of a worker, present or gone ("?" when unknown). */
const char *rn__sched_wid_address(rn_scheduler *s, uint32_t wid);
void rn__sched_worker_free(rn__sworker *w); /* no lock needed */
void rn__sched_outbox_clear(rn__sworker *w);
/* Queues a command for a worker's stream (packed now). */
void rn__sched_send_cmd(rn_scheduler *s, rn__sworker *w,
                        const Runnel__V1__WorkerCommand *c);
/* CancelJob (forget 0) or ForgetJob (forget 1) to every worker. */
void rn__sched_broadcast_job_cmd(rn_scheduler *s, int forget, const char *job);
/* A worker is gone (lost or retired): its running tasks run elsewhere,
 * its outputs are recomputed from lineage where still wanted. */
void rn__sched_worker_gone(rn_scheduler *s, rn__sworker *w, int lost,
                           const char *why);
void rn__sched_worker_remove(rn_scheduler *s, rn__sworker *w);
/* A registered worker calling as who: finds it, checks that who is the
 * identity that registered it, and records that it was seen. NULL with
 * RN_ENOTFOUND (register again) or RN_EPERM in err. */
rn__sworker *rn__sched_seen_worker(rn_scheduler *s, const rn_identity *who,
                                   const char *id, rn_errbuf *err);

/* --------------------------------------------------------- jobs.c ---- */
rn__sjob *rn__sched_job_by_id(rn_scheduler *s, const char *id);
/* The job id names, if who may see it: RN_ENOTFOUND or RN_EPERM with the
 * reason in err. */
int rn__sched_job_access(rn_scheduler *s, const rn_identity *who,
                         const char *id, rn__sjob **out, rn_errbuf *err);
/* A job from a submission (no lock: nothing shared yet), owned by who.
 * Checks the request's shape and manifest first. */
int rn__sched_job_new(rn_scheduler *s, const rn_identity *who,
                      const Runnel__V1__SubmitJobRequest *req,
                      rn__sjob **out, rn_errbuf *err);
/* Adds a new job to the table; RN_ELIMIT when its owner (or everyone)
 * has too many queued or running. */
int rn__sched_job_add(rn_scheduler *s, rn__sjob *j, rn_errbuf *err);
void rn__sched_job_free(rn__sjob *j); /* no lock needed for a new job */
void rn__sched_job_changed(rn_scheduler *s, rn__sjob *j);
/* Ends a job (failed or cancelled): workers stop its tasks and drop it. */
void rn__sched_job_end(rn_scheduler *s, rn__sjob *j, int state,
                       const char *fmt, ...) RN_FMT(4, 5);
/* The job is done and its results were fetched (or abandoned). */
void rn__sched_job_forget(rn_scheduler *s, rn__sjob *j);
void rn__sched_check_complete(rn_scheduler *s, rn__sjob *j);
/* "plugin words, operator words.split, partition 3 (stage ...)". */
void rn__sched_describe_task(const rn__sjob *j, const rn_gtask *t, char *out,
                             size_t cap);
/* Running tasks whose input is gone are assigned afresh. */
void rn__sched_unassign_orphans(rn_scheduler *s, rn__sjob *j);
/* The job's JobInfo packed into out (results and capability included
 * when done and with_results). */
int rn__sched_pack_job(rn_scheduler *s, const rn__sjob *j, int with_results,
                       rn_buf *out);
/* Drops old records (the loop). */
void rn__sched_trim_jobs(rn_scheduler *s, int64_t now);

/* ------------------------------------------------------- assign.c ---- */
/* Places every ready task it can. */
void rn__sched_schedule(rn_scheduler *s);
/* One task's outcome from worker w: 1 accepted, 0 not (stale attempt,
 * job gone: the worker drops the output), RN_EINVAL for a task the job
 * does not have. */
int rn__sched_task_done(rn_scheduler *s, rn__sworker *w,
                        const Runnel__V1__TaskDoneRequest *req);

/* ------------------------------------------------ the two APIs ------- */
/* Unary handlers: read req (already bounded by the frame), append the
 * packed reply to reply, or return an error for the frame to send.
 * Stream handlers own the rest of the call (req: the first message of a
 * server-streaming call, NULL for client streaming). Handlers take the
 * lock themselves. */
typedef int (*rn__sched_unary_fn)(rn__sreq *r, const void *req, rn_buf *reply,
                                  rn_errbuf *err);
typedef void (*rn__sched_stream_fn)(rn__sreq *r, const void *req);

int rn__sched_register(rn__sreq *r, const void *req, rn_buf *reply,
                       rn_errbuf *err);
void rn__sched_connect(rn__sreq *r, const void *req);
int rn__sched_heartbeat(rn__sreq *r, const void *req, rn_buf *reply,
                        rn_errbuf *err);
int rn__sched_task_done_1(rn__sreq *r, const void *req, rn_buf *reply,
                          rn_errbuf *err);
void rn__sched_tasks_done(rn__sreq *r, const void *req);
void rn__sched_fetch_plugin(rn__sreq *r, const void *req);
int rn__sched_retire(rn__sreq *r, const void *req, rn_buf *reply,
                     rn_errbuf *err);

int rn__sched_info(rn__sreq *r, const void *req, rn_buf *reply,
                   rn_errbuf *err);
void rn__sched_push_plugin(rn__sreq *r, const void *req);
int rn__sched_list_plugins(rn__sreq *r, const void *req, rn_buf *reply,
                           rn_errbuf *err);
int rn__sched_submit(rn__sreq *r, const void *req, rn_buf *reply,
                     rn_errbuf *err);
void rn__sched_watch_job(rn__sreq *r, const void *req);
int rn__sched_get_job(rn__sreq *r, const void *req, rn_buf *reply,
                      rn_errbuf *err);
int rn__sched_list_jobs(rn__sreq *r, const void *req, rn_buf *reply,
                        rn_errbuf *err);
int rn__sched_cancel_job(rn__sreq *r, const void *req, rn_buf *reply,
                         rn_errbuf *err);
int rn__sched_release_job(rn__sreq *r, const void *req, rn_buf *reply,
                          rn_errbuf *err);
int rn__sched_report_missing(rn__sreq *r, const void *req, rn_buf *reply,
                             rn_errbuf *err);

/* ------------------------------------------------------- frame.c ----- */
/* Registers every method of the Scheduler service on s->srv. */
int rn__sched_frame_register(rn_scheduler *s, int push_admin_only,
                             rn_errbuf *err);
/* Packs msg into out (reset first): for unary handlers. */
int rn__sched_pack(const void *msg, rn_buf *out, rn_errbuf *err);

#endif
