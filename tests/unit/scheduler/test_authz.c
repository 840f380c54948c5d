/* Who may do what on a scheduler with mutual TLS (core/scheduler/frame.c
 * and the handlers): each role only reaches its own methods, a job only
 * shows to its owner (and admins), a worker id only answers to the
 * certificate that registered it, plugin pushes can be kept to admins,
 * and oversized or overlong requests are refused. A real scheduler with
 * certificates of a test CA, on loopback. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "scheduler/scheduler.h"
#include "security/ca.h"
#include "testutil.h"
#include "transport/methods.h"
#include "transport/rpc.h"
#include "value/codec.h"

#include "runnel_scheduler.pb-c.h"

static char *g_dir;
static rn_scheduler *g_s;
static rn_tls_files *g_sched_tls;
static int g_port;

static rn_tls_files *load(const char *who)
{
    char path[4096];
    rn_tls_files *f = NULL;
    rn_errbuf err;
    snprintf(path, sizeof(path), "%s/%s", g_dir, who);
    if (rn_tls_load(path, &f, &err))
        fail_msg("%s: %s", who, err.msg);
    return f;
}

static rn_scheduler *start(int push_admin_only, int *port)
{
    rn_scheduler_opts o;
    rn_scheduler *s = NULL;
    rn_rpc_tls t = {g_sched_tls->ca_pem, g_sched_tls->cert_pem,
                    g_sched_tls->key_pem};
    rn_errbuf err;
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.tls = &t;
    o.heartbeat_timeout_ms = 60000;
    o.push_admin_only = push_admin_only;
    if (rn_scheduler_start(&o, &s, &err))
        fail_msg("%s", err.msg);
    *port = rn_scheduler_port(s);
    assert_int_equal(strncmp(rn_scheduler_address(s), "tls://", 6), 0);
    return s;
}

/* A channel to the scheduler on port as `who`. */
static rn_rpc_channel *as(const char *who, int port)
{
    rn_tls_files *f = load(who);
    rn_rpc_tls t = {f->ca_pem, f->cert_pem, f->key_pem};
    char target[64];
    rn_rpc_channel *ch;
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    ch = rn_rpc_channel_new(target, &t, "runnel-scheduler");
    rn_tls_files_free(f);
    assert_non_null(ch);
    return ch;
}

static int call(rn_rpc_channel *ch, const char *m, const void *req,
                const ProtobufCMessageDescriptor *d, void **rep, rn_errbuf *err)
{
    *rep = NULL;
    rn_error_clear(err);
    return rn_rpc_unary_pb(ch, m, req, d, rep, 30000, err);
}

/* Expects method m to be refused to ch with RN_EPERM naming needle. */
static void refused(rn_rpc_channel *ch, const char *m, const void *req,
                    const ProtobufCMessageDescriptor *d, const char *needle)
{
    void *rep = NULL;
    rn_errbuf err;
    int rc = call(ch, m, req, d, &rep, &err);
    rn_pb_free(rep);
    if (rc != RN_EPERM || !strstr(err.msg, needle))
        fail_msg("%s: got %d '%s', wanted RN_EPERM with '%s'", m, rc, err.msg,
                 needle);
}

/* A job of the shipped `range` source: queued forever (no worker). */
static char *submit(rn_rpc_channel *ch)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec st = RUNNEL__V1__STAGE_SPEC__INIT, *pst = &st;
    Runnel__V1__SubmitJobReply *rep = NULL;
    rn_value one = rn_int(1);
    rn_errbuf err;
    rn_buf enc;
    char *id;
    rn_buf_init(&enc, 0);
    assert_int_equal(rn_codec_encode(&enc, &one, 1), 0);
    req.protocol = RN_PROTOCOL_VERSION;
    req.name = "mine";
    req.stages = &pst;
    req.n_stages = 1;
    req.splits.data = (uint8_t *)enc.ptr;
    req.splits.len = enc.len;
    req.manifest = "source: range\n";
    if (call(ch, RN_M_SUBMIT_JOB, &req, &runnel__v1__submit_job_reply__descriptor,
             (void **)&rep, &err))
        fail_msg("submit: %s", err.msg);
    id = strdup(rep->job_id);
    rn_pb_free(rep);
    rn_buf_release(&enc);
    return id;
}

static size_t count_jobs(rn_rpc_channel *ch)
{
    Runnel__V1__ListJobsRequest req = RUNNEL__V1__LIST_JOBS_REQUEST__INIT;
    Runnel__V1__ListJobsReply *rep = NULL;
    rn_errbuf err;
    size_t n;
    assert_int_equal(call(ch, RN_M_LIST_JOBS, &req,
                          &runnel__v1__list_jobs_reply__descriptor,
                          (void **)&rep, &err),
                     0);
    n = rep->n_jobs;
    for (size_t i = 0; i < n; i++)
        assert_string_equal(rep->jobs[i]->owner, "alice");
    rn_pb_free(rep);
    return n;
}

/* Registers as a worker at address; returns its id. */
static char *register_worker(rn_rpc_channel *ch, const char *address,
                             const char *instance, int *rc, rn_errbuf *err)
{
    Runnel__V1__RegisterRequest req = RUNNEL__V1__REGISTER_REQUEST__INIT;
    Runnel__V1__RegisterReply *rep = NULL;
    char *id = NULL;
    req.protocol = RN_PROTOCOL_VERSION;
    req.address = (char *)address;
    req.nthreads = 1;
    req.instance = (char *)instance;
    *rc = call(ch, RN_M_REGISTER, &req, &runnel__v1__register_reply__descriptor,
               (void **)&rep, err);
    if (*rc == 0)
        id = strdup(rep->worker_id);
    rn_pb_free(rep);
    return id;
}

static void test_roles(void **state)
{
    rn_rpc_channel *alice = as("alice", g_port), *w1 = as("w1", g_port);
    rn_rpc_channel *sched = as("scheduler", g_port);
    Runnel__V1__InfoRequest info = RUNNEL__V1__INFO_REQUEST__INIT;
    Runnel__V1__InfoReply *ir = NULL;
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    Runnel__V1__SubmitJobRequest sj = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__JobRequest jr = RUNNEL__V1__JOB_REQUEST__INIT;
    Runnel__V1__ListPluginsRequest lp = RUNNEL__V1__LIST_PLUGINS_REQUEST__INIT;
    rn_errbuf err;
    int rc;
    (void)state;

    /* a client does not register, heartbeat or report as a worker */
    assert_null(register_worker(alice, "tls://127.0.0.1:9", "i-1", &rc, &err));
    assert_int_equal(rc, RN_EPERM);
    assert_non_null(strstr(err.msg, "RegisterWorker is for workers: client "
                                    "'alice' may not call it"));
    hb.worker_id = "w-whatever";
    refused(alice, RN_M_HEARTBEAT, &hb, &runnel__v1__heartbeat_reply__descriptor,
            "Heartbeat is for workers");
    /* a worker does not submit, list, watch or look at the cluster */
    refused(w1, RN_M_SUBMIT_JOB, &sj, &runnel__v1__submit_job_reply__descriptor,
            "SubmitJob is for clients and admins: worker 'w1'");
    refused(w1, RN_M_LIST_PLUGINS, &lp,
            &runnel__v1__list_plugins_reply__descriptor, "ListPlugins");
    jr.job_id = "j-0";
    refused(w1, RN_M_CANCEL_JOB, &jr, &runnel__v1__job_info__descriptor,
            "CancelJob is for clients");
    refused(w1, RN_M_INFO, &info, &runnel__v1__info_reply__descriptor, "Info");
    /* a scheduler's certificate is no client's either */
    refused(sched, RN_M_INFO, &info, &runnel__v1__info_reply__descriptor,
            "scheduler 'scheduler' may not call it");
    /* the right roles get through */
    assert_int_equal(call(alice, RN_M_INFO, &info, &runnel__v1__info_reply__descriptor,
                          (void **)&ir, &err),
                     0);
    assert_string_equal(ir->security, "mutual-tls");
    assert_int_equal(strncmp(ir->address, "tls://", 6), 0);
    rn_pb_free(ir);
    /* a worker registers with a tls:// address only */
    assert_null(register_worker(w1, "tcp://127.0.0.1:9", "i-1", &rc, &err));
    if (rc != RN_EINVAL)
        fail_msg("register with tcp://: %d %s", rc, err.msg);
    assert_non_null(strstr(err.msg, "need address tls://"));
    rn_rpc_channel_free(alice);
    rn_rpc_channel_free(w1);
    rn_rpc_channel_free(sched);
}

static void test_job_ownership(void **state)
{
    rn_rpc_channel *alice = as("alice", g_port), *bob = as("bob", g_port);
    rn_rpc_channel *root = as("root", g_port);
    Runnel__V1__JobRequest jr = RUNNEL__V1__JOB_REQUEST__INIT;
    Runnel__V1__ReportMissingRequest rm = RUNNEL__V1__REPORT_MISSING_REQUEST__INIT;
    Runnel__V1__JobInfo *ji = NULL;
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    size_t before = count_jobs(alice);
    char *job;
    (void)state;

    job = submit(alice);
    jr.job_id = job;
    /* alice sees it, with her name on it */
    assert_int_equal(call(alice, RN_M_GET_JOB, &jr, &runnel__v1__job_info__descriptor,
                          (void **)&ji, &err),
                     0);
    assert_string_equal(ji->owner, "alice");
    rn_pb_free(ji);
    assert_int_equal(count_jobs(alice), before + 1);
    /* bob does not: not listed, not readable, not cancellable... */
    assert_int_equal(count_jobs(bob), 0);
    refused(bob, RN_M_GET_JOB, &jr, &runnel__v1__job_info__descriptor,
            "belongs to another identity than 'bob'");
    refused(bob, RN_M_CANCEL_JOB, &jr, &runnel__v1__job_info__descriptor,
            "belongs to another identity");
    refused(bob, RN_M_RELEASE_JOB, &jr, &runnel__v1__job_info__descriptor,
            "belongs to another identity");
    rm.job_id = job;
    rm.address = "tls://127.0.0.1:1";
    refused(bob, RN_M_REPORT_MISSING, &rm, &runnel__v1__job_info__descriptor,
            "belongs to another identity");
    /* ... nor watchable */
    assert_int_equal(rn_rpc_stream_open_pb(bob, RN_M_WATCH_JOB, &jr, 30000, &st, &err), 0);
    assert_int_equal(rn_rpc_stream_recv(st, &(rn_buf){0}, 30000), 0);
    assert_int_equal(rn_rpc_stream_finish(st, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "belongs to another identity"));
    rn_rpc_stream_free(st);
    /* it is still queued: bob's cancel did nothing */
    assert_int_equal(call(alice, RN_M_GET_JOB, &jr, &runnel__v1__job_info__descriptor,
                          (void **)&ji, &err),
                     0);
    assert_int_equal(ji->state, RUNNEL__V1__JOB_STATE__JOB_QUEUED);
    rn_pb_free(ji);
    /* an admin sees and cancels anyone's */
    assert_true(count_jobs(root) >= 1);
    assert_int_equal(call(root, RN_M_CANCEL_JOB, &jr, &runnel__v1__job_info__descriptor,
                          (void **)&ji, &err),
                     0);
    assert_int_equal(ji->state, RUNNEL__V1__JOB_STATE__JOB_CANCELLED);
    assert_non_null(strstr(ji->error, "cancelled by admin root"));
    rn_pb_free(ji);
    free(job);
    rn_rpc_channel_free(alice);
    rn_rpc_channel_free(bob);
    rn_rpc_channel_free(root);
}

static void test_worker_ids_are_bound(void **state)
{
    rn_rpc_channel *w1 = as("w1", g_port), *w2 = as("w2", g_port);
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    Runnel__V1__HeartbeatReply *hr = NULL;
    Runnel__V1__RetireRequest re = RUNNEL__V1__RETIRE_REQUEST__INIT;
    Runnel__V1__ConnectRequest co = RUNNEL__V1__CONNECT_REQUEST__INIT;
    Runnel__V1__TasksDoneRequest td = RUNNEL__V1__TASKS_DONE_REQUEST__INIT;
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    char *id, *other;
    int rc;
    (void)state;

    id = register_worker(w1, "tls://127.0.0.1:7001", "inst-w1", &rc, &err);
    if (!id)
        fail_msg("register w1: %d %s", rc, err.msg);
    hb.worker_id = id;
    assert_int_equal(call(w1, RN_M_HEARTBEAT, &hb,
                          &runnel__v1__heartbeat_reply__descriptor, (void **)&hr,
                          &err),
                     0);
    rn_pb_free(hr);
    /* another worker's certificate cannot speak for w1's id */
    refused(w2, RN_M_HEARTBEAT, &hb, &runnel__v1__heartbeat_reply__descriptor,
            "registered by another identity than 'w2'");
    re.worker_id = id;
    refused(w2, RN_M_RETIRE, &re, &runnel__v1__retire_reply__descriptor,
            "registered by another identity");
    co.worker_id = id;
    assert_int_equal(rn_rpc_stream_open_pb(w2, RN_M_CONNECT, &co, 30000, &st, &err), 0);
    assert_int_equal(rn_rpc_stream_recv(st, &(rn_buf){0}, 30000), 0);
    assert_int_equal(rn_rpc_stream_finish(st, &err), RN_EPERM);
    rn_rpc_stream_free(st);
    td.worker_id = id;
    assert_int_equal(rn_rpc_stream_open(w2, RN_M_TASKS_DONE, NULL, 0, 0, 30000, &st,
                                        &err),
                     0);
    assert_int_equal(rn_rpc_stream_send_pb(st, &td), 0);
    assert_true(rn_rpc_stream_recv(st, &(rn_buf){0}, 30000) <= 0);
    assert_int_equal(rn_rpc_stream_finish(st, &err), RN_EPERM);
    rn_rpc_stream_free(st);
    /* nor take over its address */
    other = register_worker(w2, "tls://127.0.0.1:7001", "inst-w2", &rc, &err);
    assert_null(other);
    assert_int_equal(rc, RN_EEXIST);
    /* w1 itself still can */
    assert_int_equal(call(w1, RN_M_RETIRE, &re, &runnel__v1__retire_reply__descriptor,
                          (void **)&hr, &err),
                     0);
    rn_pb_free(hr);
    free(id);
    rn_rpc_channel_free(w1);
    rn_rpc_channel_free(w2);
}

static void test_bounds(void **state)
{
    rn_rpc_channel *w1 = as("w1", g_port);
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    Runnel__V1__PluginRef *refs, **prefs;
    void *rep = NULL;
    rn_errbuf err;
    (void)state;

    /* 1 M empty plugin entries in 2 MB: refused before it is unpacked */
    refs = calloc(1000000, sizeof(*refs));
    prefs = calloc(1000000, sizeof(*prefs));
    for (size_t i = 0; i < 1000000; i++) {
        runnel__v1__plugin_ref__init(&refs[i]);
        prefs[i] = &refs[i];
    }
    hb.worker_id = "w-x";
    hb.plugins = prefs;
    hb.n_plugins = 1000000;
    assert_int_equal(call(w1, RN_M_HEARTBEAT, &hb,
                          &runnel__v1__heartbeat_reply__descriptor, &rep, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "request too large"));
    /* 300 fit in the bytes but not in the count */
    hb.n_plugins = 300;
    assert_int_equal(call(w1, RN_M_HEARTBEAT, &hb,
                          &runnel__v1__heartbeat_reply__descriptor, &rep, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "plugins"));
    free(refs);
    free(prefs);
    rn_rpc_channel_free(w1);
}

static void test_push_role_admin(void **state)
{
    int port;
    rn_scheduler *s = start(1, &port);
    rn_rpc_channel *alice = as("alice", port), *root = as("root", port);
    Runnel__V1__PushPluginRequest req = RUNNEL__V1__PUSH_PLUGIN_REQUEST__INIT;
    Runnel__V1__PluginRef ref = RUNNEL__V1__PLUGIN_REF__INIT;
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    (void)state;

    ref.id = "0000000000000000000000000000000000000000000000000000000000000000";
    ref.name = "x";
    ref.version = "1";
    ref.size = 1;
    req.plugin = &ref;
    assert_int_equal(rn_rpc_stream_open(alice, RN_M_PUSH_PLUGIN, NULL, 0, 0, 30000,
                                        &st, &err),
                     0);
    rn_rpc_stream_send_pb(st, &req);
    rn_rpc_stream_close_send(st);
    assert_true(rn_rpc_stream_recv(st, &(rn_buf){0}, 30000) <= 0);
    assert_int_equal(rn_rpc_stream_finish(st, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "PushPlugin is for admins on this cluster: "
                                    "client 'alice'"));
    rn_rpc_stream_free(st);
    /* an admin's push gets past the frame (and fails on its lie) */
    assert_int_equal(rn_rpc_stream_open(root, RN_M_PUSH_PLUGIN, NULL, 0, 0, 30000,
                                        &st, &err),
                     0);
    rn_rpc_stream_send_pb(st, &req);
    rn_rpc_stream_close_send(st);
    assert_true(rn_rpc_stream_recv(st, &(rn_buf){0}, 30000) <= 0);
    assert_int_not_equal(rn_rpc_stream_finish(st, &err), RN_EPERM);
    rn_rpc_stream_free(st);
    rn_rpc_channel_free(alice);
    rn_rpc_channel_free(root);
    rn_scheduler_stop(s);
}

static int setup(void **state)
{
    (void)state;
    rn_rpc_init();
    if (!(g_dir = rn_test_tmpdir("authz")) || rn_test_pki(g_dir))
        return -1;
    g_sched_tls = load("scheduler");
    g_s = start(0, &g_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rn_scheduler_stop(g_s);
    rn_tls_files_free(g_sched_tls);
    rn_test_rmtree(g_dir);
    free(g_dir);
    rn_rpc_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_job_ownership),
        cmocka_unit_test(test_worker_ids_are_bound),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_push_role_admin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
