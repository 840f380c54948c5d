/* The scheduler daemon: start, stop, and the loop thread. */
#define _GNU_SOURCE
#include "scheduler/scheduler.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "cluster/ident.h"
#include "exec/ctx.h"
#include "scheduler/sched.h"

double rn__sched_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int rn__sched_is_final(int state)
{
    return state == JOB_DONE || state == JOB_FAILED || state == JOB_CANCELLED;
}

const char *rn__sched_state_name(int state)
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

int rn__sched_owns(const rn_scheduler *s, const rn_identity *who,
                   const char *owner)
{
    return !s->tls || who->role == RN_ROLE_ADMIN || strcmp(owner, who->name) == 0;
}

static void *loop_main(void *arg)
{
    rn_scheduler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        int64_t now = rn_rpc_now_ms();
        struct timespec ts;
        for (size_t i = 0; i < s->n_workers;) {
            rn__sworker *w = s->workers[i];
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
            rn__sched_worker_gone(s, w, 1, why);
            rn__sched_worker_remove(s, w);
        }
        rn__sched_schedule(s);
        rn__sched_trim_jobs(s, now);
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

int rn_scheduler_start(const rn_scheduler_opts *o, rn_scheduler **out,
                       rn_errbuf *err)
{
    rn_scheduler *s = rn_calloc(1, sizeof(*s));
    const rn_rpc_tls *tls = o ? o->tls : NULL;
    const char *listen = o && o->listen ? o->listen
                         : tls          ? "0.0.0.0:8786"
                                        : "127.0.0.1:8786";
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
    s->started_unix = rn__sched_unix_now();
    s->tls = tls != NULL;
    rn_ident_random_hex(hex, 32);
    snprintf(s->id, sizeof(s->id), "Scheduler-%.8s-%.4s-%.4s-%.4s-%.12s", hex,
             hex + 8, hex + 12, hex + 16, hex + 20);
    if (rn_ident_split_hostport(listen, host, sizeof(host), port, sizeof(port))) {
        rn_scheduler_stop(s);
        return rn_error_set(err, RN_EINVAL, "--listen %s: expected HOST:PORT",
                            listen);
    }
    /* a plaintext port beyond loopback lets anyone who reaches it run
     * native code on every worker: only when asked for in so many words */
    if (tls)
        s->security = "mutual-tls";
    else if (rn_ident_is_loopback(host))
        s->security = "plaintext-loopback";
    else if (o && o->insecure)
        s->security = "plaintext-insecure";
    else {
        rn_scheduler_stop(s);
        return rn_error_set(err, RN_EPERM,
                            "--listen %s without --tls: anyone who reaches "
                            "this port could run code on every worker; give "
                            "--tls DIR (certificates from `runnel security "
                            "issue`), listen on 127.0.0.1, or add --insecure "
                            "on a network you trust",
                            listen);
    }
    if ((rc = rn_plugstore_open(o ? o->state_dir : NULL, &s->store, err))) {
        rn_scheduler_stop(s);
        return rc;
    }
    if ((rc = rn_rpc_server_new(&s->srv, listen, tls, err)) ||
        (rc = rn__sched_frame_register(s, o && o->push_admin_only, err)) ||
        (rc = rn_rpc_server_start(s->srv, &s->port, err))) {
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
    if (tls)
        memcpy(s->address, "tls", 3); /* "tcp://..." -> "tls://..." */
    if (pthread_create(&s->loop_tid, NULL, loop_main, s) != 0) {
        rn_scheduler_stop(s);
        return rn_error_set(err, RN_ENOMEM, "cannot start a thread");
    }
    s->loop_started = 1;
    rn_logf(RN_LOG_INFO, "scheduler %s listening at %s (plugins in %s)", s->id,
            s->address, rn_plugstore_dir(s->store));
    if (strcmp(s->security, "plaintext-insecure") == 0)
        rn_logf(RN_LOG_WARN,
                "scheduler: INSECURE: plaintext on %s (--insecure): anyone who "
                "reaches this port can submit jobs, push plugins and so run "
                "code on every worker, and read every job's results; use "
                "--tls beyond a network you fully trust",
                listen);
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
        rn__sched_worker_free(s->workers[i]);
    rn_free(s->workers);
    for (size_t i = 0; i < s->n_jobs; i++)
        rn__sched_job_free(s->jobs[i]);
    rn_free(s->jobs);
    rn_free(s->bindings);
    rn_plugstore_free(s->store);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->jobcond);
    pthread_cond_destroy(&s->tick);
    rn_free(s);
}
