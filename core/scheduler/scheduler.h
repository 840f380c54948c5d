/*
 * The scheduler daemon (`runnel scheduler`): the worker registry with
 * heartbeats, the content-addressed plugin store, the job queue, one task
 * graph per job (cluster/jobgraph.h), assignment with data locality and
 * load balance, recomputation of what lost workers held, and the client
 * API (info, plugins, submit, watch, cancel). Protocol: docs/PROTOCOL.md;
 * behaviour: docs/CLUSTER.md; who may call what: docs/SECURITY.md.
 *
 * Every call goes through one frame (frame.c): with TLS the peer's
 * certificate says who it is (security/identity.h) and its role decides
 * which methods it may call; jobs belong to the identity that submitted
 * them. All state sits behind one lock; gRPC handlers run on threads of
 * their own (transport/rpc.h) and one loop thread checks heartbeats,
 * assigns ready tasks and forgets old jobs. The files of the module are
 * listed in sched.h.
 *
 * Ownership: rn_scheduler_stop stops and frees everything. Jobs live in
 * memory only (a restarted scheduler has none); plugins persist in
 * <state-dir>/plugins.
 */
#ifndef RN_CLUSTER_SCHEDULER_H
#define RN_CLUSTER_SCHEDULER_H

#include "base/error.h"
#include "transport/rpc.h"

typedef struct rn_scheduler_opts {
    const char *listen;        /* "HOST:PORT"; NULL: "0.0.0.0:8786" with
                                  TLS, "127.0.0.1:8786" without */
    const char *state_dir;     /* NULL: a temporary directory */
    int heartbeat_timeout_ms;  /* 0: 10000; a worker silent this long is
                                  lost */
    const rn_rpc_tls *tls;     /* NULL: plaintext (see insecure) */
    int insecure;              /* plaintext beyond loopback is allowed
                                  (else refused at start) */
    int push_admin_only;       /* only admins push plugins */
} rn_scheduler_opts;

typedef struct rn_scheduler rn_scheduler;

/* Starts listening and serving (needs rn_rpc_init). */
int rn_scheduler_start(const rn_scheduler_opts *o, rn_scheduler **out,
                       rn_errbuf *err);
/* "tcp://IP:PORT" (or tls://) as reported by Info. */
const char *rn_scheduler_address(const rn_scheduler *s);
int rn_scheduler_port(const rn_scheduler *s);
/* Stops serving (running calls end) and frees. NULL ok. */
void rn_scheduler_stop(rn_scheduler *s);

#endif
