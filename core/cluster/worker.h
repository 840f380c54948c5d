/*
 * The worker daemon (`runnel worker tcp://HOST:PORT`): registers with the
 * scheduler (address, name, threads, memory limit), heartbeats, runs the
 * tasks it is sent on N threads, holds their output partitions and serves
 * them to peers (worker-to-worker, never through the scheduler), fetches
 * missing plugins from the scheduler by id, verifies their SHA-256,
 * caches them in its local dir and loads them. When the scheduler goes
 * away it reconnects with backoff; when it was declared lost meanwhile it
 * starts afresh under a new id. Protocol: docs/PROTOCOL.md.
 *
 * With TLS every connection is mutual TLS: the scheduler's certificate
 * must be a scheduler's, peers' a worker's, and a partition is only
 * served to a worker or client that shows the job's capability.
 *
 * Threads: a connection thread (register + the command stream), a
 * heartbeat thread, N task threads and the gRPC server's handlers.
 *
 * Ownership: rn_worker_stop frees everything. Needs rn_rpc_init.
 */
#ifndef RN_CLUSTER_WORKER_H
#define RN_CLUSTER_WORKER_H

#include <stdint.h>

#include "base/error.h"
#include "transport/rpc.h"

typedef struct rn_worker_opts {
    const char *scheduler;  /* "tcp://HOST:PORT", or "tls://HOST:PORT" */
    const char *listen;     /* where peers connect; NULL: "0.0.0.0:0"
                               with TLS, "127.0.0.1:0" without */
    const rn_rpc_tls *tls;  /* our certificate (role worker) for the
                               scheduler and for peers; NULL: plaintext */
    int insecure;           /* serve peers in plaintext beyond loopback */
    const char *name;       /* NULL: the address */
    const char *local_dir;  /* plugin cache; NULL: a temporary directory */
    int nthreads;           /* 0: one per CPU */
    uint64_t memory_limit;  /* bytes; 0: rn_budget_default(). The
                               process's budget (base/budget.h): past its
                               high-water mark no new task starts while
                               another runs; a task that needs more fails */
    /* What jobs may read and write here (core/io's policy, set for the
     * whole process while the worker runs): local files only inside
     * allow (none: anywhere this process may), never inside deny (the
     * TLS directory; the local dir is added here), never link-local
     * addresses (cloud metadata) over HTTP or S3. */
    const char *const *allow;
    size_t n_allow;
    const char *const *deny;
    size_t n_deny;
} rn_worker_opts;

typedef struct rn_worker rn_worker;

int rn_worker_start(const rn_worker_opts *o, rn_worker **out, rn_errbuf *err);
/* "tcp://IP:PORT" that peers and the scheduler know it by. */
const char *rn_worker_address(const rn_worker *w);
/* Leaves on purpose: tells the scheduler (which hands this worker's
 * running tasks and partitions to the others) and stops taking work. */
void rn_worker_retire(rn_worker *w);
/* Stops every thread and frees. NULL ok. */
void rn_worker_stop(rn_worker *w);

#endif
