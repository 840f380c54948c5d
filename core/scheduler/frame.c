/*
 * The one way into the scheduler: every method of the Scheduler service
 * is served by frame(), which authenticates the peer (its certificate,
 * verified by TLS, names a role and an identity), checks that the role
 * may call the method, reads and bounds the request, runs the handler
 * and replies. Handlers only decide; ownership of jobs and workers is
 * checked by the handlers through rn__sched_job_access and
 * rn__sched_seen_worker, with the identity the frame established.
 *
 * Calls are also counted per pool (workers, clients, file transfers) and
 * per peer by the RPC layer, so one kind of caller, or one identity,
 * cannot take the threads the others need (transport/rpc.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "exec/ctx.h"
#include "scheduler/sched.h"
#include "transport/methods.h"

#include "runnel_scheduler.pb-c.h"

#define ROLE(r) (1u << (r))
#define WORKERS ROLE(RN_ROLE_WORKER)
#define CLIENTS (ROLE(RN_ROLE_CLIENT) | ROLE(RN_ROLE_ADMIN))

/* The pools of calls (transport/rpc.h): a flood of one kind cannot
 * starve another. */
enum { POOL_WORKERS, POOL_CLIENTS, POOL_FILES };

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

struct rn__sched_method {
    const char *path;
    /* the request the frame reads first; NULL: the handler reads a
     * stream of them itself */
    const ProtobufCMessageDescriptor *req;
    rn__sched_unary_fn unary; /* or */
    rn__sched_stream_fn stream;
    unsigned roles;
    rn_rpc_method_opts opts; /* pool, largest request, calls at once */
};

static const rn__sched_method methods[] = {
    {RN_M_REGISTER, &runnel__v1__register_request__descriptor,
     rn__sched_register, NULL, WORKERS, {POOL_WORKERS, 64 * KIB, 0}},
    {RN_M_CONNECT, &runnel__v1__connect_request__descriptor, NULL,
     rn__sched_connect, WORKERS, {POOL_WORKERS, 1 * KIB, 0}},
    {RN_M_HEARTBEAT, &runnel__v1__heartbeat_request__descriptor,
     rn__sched_heartbeat, NULL, WORKERS, {POOL_WORKERS, 64 * KIB, 0}},
    {RN_M_TASK_DONE, &runnel__v1__task_done_request__descriptor,
     rn__sched_task_done_1, NULL, WORKERS, {POOL_WORKERS, 64 * KIB, 0}},
    /* up to 1024 outcomes with their error texts */
    {RN_M_TASKS_DONE, NULL, NULL, rn__sched_tasks_done, WORKERS,
     {POOL_WORKERS, 4 * MIB, 0}},
    {RN_M_FETCH_PLUGIN, &runnel__v1__fetch_plugin_request__descriptor, NULL,
     rn__sched_fetch_plugin, WORKERS | CLIENTS, {POOL_FILES, 1 * KIB, 0}},
    {RN_M_RETIRE, &runnel__v1__retire_request__descriptor, rn__sched_retire,
     NULL, WORKERS, {POOL_WORKERS, 1 * KIB, 0}},
    {RN_M_INFO, &runnel__v1__info_request__descriptor, rn__sched_info, NULL,
     CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    /* chunks of 1 MiB; uploads wait for memory and disk, so at most 64
     * run at once */
    {RN_M_PUSH_PLUGIN, NULL, NULL, rn__sched_push_plugin, CLIENTS,
     {POOL_FILES, 2 * MIB, 64}},
    {RN_M_LIST_PLUGINS, &runnel__v1__list_plugins_request__descriptor,
     rn__sched_list_plugins, NULL, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    /* a manifest and its splits: the one large request; few at once */
    {RN_M_SUBMIT_JOB, &runnel__v1__submit_job_request__descriptor,
     rn__sched_submit, NULL, CLIENTS, {POOL_CLIENTS, 64 * MIB, 8}},
    {RN_M_WATCH_JOB, &runnel__v1__job_request__descriptor, NULL,
     rn__sched_watch_job, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    {RN_M_GET_JOB, &runnel__v1__job_request__descriptor, rn__sched_get_job,
     NULL, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    {RN_M_LIST_JOBS, &runnel__v1__list_jobs_request__descriptor,
     rn__sched_list_jobs, NULL, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    {RN_M_CANCEL_JOB, &runnel__v1__job_request__descriptor,
     rn__sched_cancel_job, NULL, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    {RN_M_RELEASE_JOB, &runnel__v1__job_request__descriptor,
     rn__sched_release_job, NULL, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
    {RN_M_REPORT_MISSING, &runnel__v1__report_missing_request__descriptor,
     rn__sched_report_missing, NULL, CLIENTS, {POOL_CLIENTS, 1 * KIB, 0}},
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static const char *short_name(const char *path)
{
    const char *p = strrchr(path, '/');
    return p ? p + 1 : path;
}

/* Who may call it, in words, for refusals. */
static const char *roles_words(unsigned roles)
{
    if (roles == WORKERS)
        return "workers";
    if (roles == ROLE(RN_ROLE_ADMIN))
        return "admins";
    if (roles == CLIENTS)
        return "clients and admins";
    return "workers, clients and admins";
}

/* Refusals are logged, but a flood of them is not: at most 10 a second. */
static void log_refusal(rn_scheduler *s, const rn__sreq *r, const rn_errbuf *err)
{
    int64_t sec = rn_rpc_now_ms() / 1000;
    int log;
    pthread_mutex_lock(&s->lock);
    if (s->refusal_second != sec) {
        s->refusal_second = sec;
        s->refusals_logged = 0;
    }
    log = s->refusals_logged++ < 10;
    pthread_mutex_unlock(&s->lock);
    if (log)
        rn_logf(RN_LOG_WARN, "scheduler: refused %s from %s%s%s%s (%s): %s",
                r->method, r->who.role ? rn_role_name(r->who.role) : "",
                r->who.role ? " '" : "", r->who.name, r->who.role ? "'" : "",
                rn_rpc_peer(r->c), err->msg);
}

static void frame(rn_rpc_call *c, void *ud)
{
    const rn__sched_binding *b = ud;
    const rn__sched_method *m = b->m;
    const char *subject = rn_rpc_peer_subject(c);
    rn__sreq r;
    void *req = NULL;
    rn_errbuf err;
    rn_buf reply;

    memset(&r, 0, sizeof(r));
    r.s = b->s;
    r.c = c;
    r.method = short_name(m->path);
    rn_error_clear(&err);
    rn_buf_init(&reply, 0);
    /* 1. who: with TLS the handshake verified the certificate against
     * the cluster's CA; its subject names the role and the identity */
    if (subject && rn_identity_from_subject(subject, &r.who, &err)) {
        rn_error_prefix(&err, "certificate '%.200s': ", subject);
        goto refused;
    }
    /* 2. may this role call this method */
    if (subject && !(b->roles & ROLE(r.who.role))) {
        rn_error_set(&err, RN_EPERM, "%s is for %s%s: %s '%s' may not call it",
                     r.method, roles_words(b->roles),
                     b->roles != m->roles ? " on this cluster" : "",
                     rn_role_name(r.who.role), r.who.name);
        goto refused;
    }
    /* 3. the request, bounded (answered here when refused) */
    if (m->req && rn_rpc_recv_pb(c, m->req, &req, 10000) != 1)
        goto done;
    /* 4. the handler; 5. the reply */
    if (m->stream) {
        m->stream(&r, req);
        goto done;
    }
    if (m->unary(&r, req, &reply, &err))
        goto refused;
    if (rn_rpc_send(c, reply.ptr ? reply.ptr : "", reply.len, 10000) == 0)
        rn_rpc_finish_ok(c);
    goto done;
refused:
    if (err.code == RN_EPERM)
        log_refusal(r.s, &r, &err);
    rn_rpc_finish_err(c, &err);
done:
    rn_buf_release(&reply);
    rn_pb_free(req);
}

int rn__sched_pack(const void *msg, rn_buf *out, rn_errbuf *err)
{
    const ProtobufCMessage *m = msg;
    size_t n = protobuf_c_message_get_packed_size(m);
    rn_buf_reset(out);
    if (rn_buf_reserve(out, n + 1))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    out->len = protobuf_c_message_pack(m, (uint8_t *)out->ptr);
    return 0;
}

int rn__sched_frame_register(rn_scheduler *s, int push_admin_only,
                             rn_errbuf *err)
{
    rn_rpc_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.pool_max[POOL_WORKERS] = 2048; /* ~4 long calls per worker */
    lim.pool_max[POOL_CLIENTS] = 1024;
    lim.pool_max[POOL_FILES] = 256;
    lim.per_peer_max = 64;
    rn_rpc_server_set_limits(s->srv, &lim);
    if (!(s->bindings = rn_calloc(N_METHODS, sizeof(*s->bindings))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < N_METHODS; i++) {
        rn__sched_binding *b = &s->bindings[i];
        b->s = s;
        b->m = &methods[i];
        b->roles = methods[i].roles;
        if (push_admin_only && strcmp(methods[i].path, RN_M_PUSH_PLUGIN) == 0)
            b->roles = ROLE(RN_ROLE_ADMIN);
        if (rn_rpc_server_add_ex(s->srv, methods[i].path, frame, b,
                                 &methods[i].opts))
            return rn_error_set(err, RN_ENOMEM, "cannot register %s",
                                methods[i].path);
    }
    s->n_bindings = N_METHODS;
    return 0;
}
