/* The scheduler (core/cluster/scheduler.c) against bad input: garbage
 * payloads, plugin pushes that lie about their id or size, unknown jobs,
 * a worker registering twice, path plugins; and the plugin store's
 * persistence across a restart. A real scheduler on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "cluster/plugstore.h"
#include "scheduler/scheduler.h"
#include "plugin/loader.h"
#include "testutil.h"
#include "transport/methods.h"
#include "transport/rpc.h"
#include "value/codec.h"

#include "runnel_scheduler.pb-c.h"

static rn_scheduler *g_s;
static rn_rpc_channel *g_ch;
static char *g_dir;

static int start(void)
{
    rn_scheduler_opts o;
    rn_errbuf err;
    char target[64];
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.state_dir = g_dir;
    o.heartbeat_timeout_ms = 60000;
    if (rn_scheduler_start(&o, &g_s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(target, sizeof(target), "127.0.0.1:%d", rn_scheduler_port(g_s));
    g_ch = rn_rpc_channel_new(target, NULL, NULL);
    return g_ch ? 0 : -1;
}

static void stop(void)
{
    rn_rpc_channel_free(g_ch);
    rn_scheduler_stop(g_s);
    g_ch = NULL;
    g_s = NULL;
}

static int setup(void **state)
{
    (void)state;
    rn_rpc_init();
    g_dir = rn_test_tmpdir("sched");
    return start();
}

static int teardown(void **state)
{
    (void)state;
    stop();
    rn_test_rmtree(g_dir);
    free(g_dir);
    rn_rpc_shutdown();
    return 0;
}

static void expect_alive(void)
{
    Runnel__V1__InfoRequest req = RUNNEL__V1__INFO_REQUEST__INIT;
    Runnel__V1__InfoReply *rep = NULL;
    rn_errbuf err;
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_INFO, &req,
                                     &runnel__v1__info_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     0);
    assert_string_equal(rep->type, "Scheduler");
    assert_non_null(strstr(rep->id, "Scheduler-"));
    rn_pb_free(rep);
}

static void test_garbage_payloads(void **state)
{
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    static const char *const methods[] = {RN_M_REGISTER, RN_M_HEARTBEAT,
                                          RN_M_TASK_DONE, RN_M_TASKS_DONE,
                                          RN_M_SUBMIT_JOB, RN_M_GET_JOB,
                                          RN_M_PUSH_PLUGIN, RN_M_INFO};
    rn_errbuf err;
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        assert_int_equal(rn_rpc_unary(g_ch, methods[i], junk, sizeof(junk), &b,
                                      5000, &err),
                         RN_EINVAL);
        assert_non_null(strstr(err.msg, "malformed"));
    }
    rn_buf_release(&b);
    expect_alive();
}

/* Pushes `data` claiming id/size; returns the rn_err of the call. */
static int push(const char *id, uint64_t size, const void *data, size_t n,
                int *existed, rn_errbuf *err)
{
    Runnel__V1__PushPluginRequest req = RUNNEL__V1__PUSH_PLUGIN_REQUEST__INIT;
    Runnel__V1__PluginRef ref = RUNNEL__V1__PLUGIN_REF__INIT;
    Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
    Runnel__V1__PushPluginReply *rep = NULL;
    rn_rpc_stream *st = NULL;
    int rc;
    ref.id = (char *)id;
    ref.name = "fake";
    ref.version = "1";
    ref.size = size;
    req.plugin = &ref;
    ch.total = size;
    ch.data.data = (uint8_t *)data;
    ch.data.len = n;
    req.chunk = &ch;
    assert_int_equal(rn_rpc_stream_open(g_ch, RN_M_PUSH_PLUGIN, NULL, 0, 0, 10000,
                                        &st, err),
                     0);
    rn_rpc_stream_send_pb(st, &req);
    rn_rpc_stream_close_send(st);
    if (rn_rpc_stream_recv_pb(st, &runnel__v1__push_plugin_reply__descriptor,
                              (void **)&rep, 5000) == 1 && existed)
        *existed = rep->existed;
    rn_pb_free(rep);
    rc = rn_rpc_stream_finish(st, err);
    rn_rpc_stream_free(st);
    return rc;
}

static void test_plugin_push_verified(void **state)
{
    static const char bytes[] = "\x7f" "ELF pretend plugin bytes";
    char id[RN_PLUGIN_ID_HEX + 1], other[RN_PLUGIN_ID_HEX + 1];
    Runnel__V1__ListPluginsRequest lreq = RUNNEL__V1__LIST_PLUGINS_REQUEST__INIT;
    Runnel__V1__ListPluginsReply *l = NULL;
    rn_errbuf err;
    int existed = -1;
    (void)state;
    rn_sha256_hex(bytes, sizeof(bytes), id);
    rn_sha256_hex("something else", 14, other);
    /* bytes that do not hash to the claimed id: refused, nothing stored */
    assert_int_equal(push(other, sizeof(bytes), bytes, sizeof(bytes), NULL, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "plugin bytes do not match the claimed id sha256:"));
    assert_non_null(strstr(err.msg, id)); /* says what they hash to */
    /* fewer bytes than announced: a truncated push */
    assert_int_equal(push(id, sizeof(bytes) + 10, bytes, sizeof(bytes), NULL, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "were announced"));
    /* not an id at all */
    assert_int_equal(push("../../etc/passwd", 4, "abcd", 4, NULL, &err), RN_EINVAL);
    assert_non_null(strstr(err.msg, "bad plugin id"));
    /* the real thing, twice */
    assert_int_equal(push(id, sizeof(bytes), bytes, sizeof(bytes), &existed, &err), 0);
    assert_int_equal(existed, 0);
    assert_int_equal(push(id, sizeof(bytes), bytes, sizeof(bytes), &existed, &err), 0);
    assert_int_equal(existed, 1);
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_LIST_PLUGINS, &lreq,
                                     &runnel__v1__list_plugins_reply__descriptor,
                                     (void **)&l, 5000, &err),
                     0);
    assert_int_equal(l->n_plugins, 1);
    assert_string_equal(l->plugins[0]->id, id);
    assert_string_equal(l->plugins[0]->name, "fake");
    rn_pb_free(l);

    /* fetch it back, byte for byte */
    {
        Runnel__V1__FetchPluginRequest f = RUNNEL__V1__FETCH_PLUGIN_REQUEST__INIT;
        Runnel__V1__Chunk *ch = NULL;
        rn_rpc_stream *st = NULL;
        f.id = id;
        assert_int_equal(rn_rpc_stream_open_pb(g_ch, RN_M_FETCH_PLUGIN, &f, 5000,
                                               &st, &err),
                         0);
        assert_int_equal(rn_rpc_stream_recv_pb(st, &runnel__v1__chunk__descriptor,
                                               (void **)&ch, 5000),
                         1);
        assert_int_equal(ch->data.len, sizeof(bytes));
        assert_memory_equal(ch->data.data, bytes, sizeof(bytes));
        rn_pb_free(ch);
        rn_rpc_stream_free(st);
        f.id = other;
        assert_int_equal(rn_rpc_stream_open_pb(g_ch, RN_M_FETCH_PLUGIN, &f, 5000,
                                               &st, &err),
                         0);
        assert_int_equal(rn_rpc_stream_recv_pb(st, &runnel__v1__chunk__descriptor,
                                               (void **)&ch, 5000),
                         0);
        assert_int_equal(rn_rpc_stream_finish(st, &err), RN_ENOTFOUND);
        assert_non_null(strstr(err.msg, "is not in the scheduler's store"));
        rn_rpc_stream_free(st);
    }

    /* persisted: a restarted scheduler on the same state dir has it; a
     * file whose bytes no longer match its name is ignored */
    stop();
    {
        char path[4096];
        snprintf(path, sizeof(path), "%s/plugins/%s.so", g_dir, other);
        rn_test_write_file(path, "tampered", 8);
    }
    assert_int_equal(start(), 0);
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_LIST_PLUGINS, &lreq,
                                     &runnel__v1__list_plugins_reply__descriptor,
                                     (void **)&l, 5000, &err),
                     0);
    assert_int_equal(l->n_plugins, 1);
    assert_string_equal(l->plugins[0]->id, id);
    rn_pb_free(l);
}

static void test_unknown_job(void **state)
{
    Runnel__V1__JobRequest req = RUNNEL__V1__JOB_REQUEST__INIT;
    Runnel__V1__JobInfo *ji = NULL;
    static const char *const methods[] = {RN_M_GET_JOB, RN_M_CANCEL_JOB,
                                          RN_M_RELEASE_JOB};
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    (void)state;
    req.job_id = "j-nosuchjob";
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rn_rpc_unary_pb(g_ch, methods[i], &req,
                                         &runnel__v1__job_info__descriptor,
                                         (void **)&ji, 5000, &err),
                         RN_ENOTFOUND);
        assert_string_equal(err.msg, "unknown job 'j-nosuchjob'");
    }
    assert_int_equal(rn_rpc_stream_open_pb(g_ch, RN_M_WATCH_JOB, &req, 5000, &st, &err),
                     0);
    assert_int_equal(rn_rpc_stream_recv_pb(st, &runnel__v1__job_info__descriptor,
                                           (void **)&ji, 5000),
                     0);
    assert_int_equal(rn_rpc_stream_finish(st, &err), RN_ENOTFOUND);
    rn_rpc_stream_free(st);
}

static int do_register(const char *addr, const char *instance, const char *id,
                       Runnel__V1__RegisterReply **rep, rn_errbuf *err)
{
    Runnel__V1__RegisterRequest req = RUNNEL__V1__REGISTER_REQUEST__INIT;
    req.protocol = RN_PROTOCOL_VERSION;
    req.address = (char *)addr;
    req.name = "t";
    req.nthreads = 2;
    req.instance = (char *)instance;
    req.worker_id = (char *)id;
    *rep = NULL;
    return rn_rpc_unary_pb(g_ch, RN_M_REGISTER, &req,
                           &runnel__v1__register_reply__descriptor, (void **)rep,
                           5000, err);
}

static void test_register_twice(void **state)
{
    Runnel__V1__RegisterReply *a = NULL, *b = NULL;
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    Runnel__V1__HeartbeatReply *hr = NULL;
    rn_errbuf err;
    (void)state;
    assert_int_equal(do_register("tcp://127.0.0.9:7000", "inst-a", "", &a, &err), 0);
    assert_false(a->reattached);
    /* another process at the same address while the first is alive */
    assert_int_equal(do_register("tcp://127.0.0.9:7000", "inst-b", "", &b, &err),
                     RN_EEXIST);
    assert_non_null(strstr(err.msg, "a worker is already registered at "
                                    "tcp://127.0.0.9:7000"));
    /* the same process again (its stream broke): re-attached, same id */
    assert_int_equal(do_register("tcp://127.0.0.9:7000", "inst-a", a->worker_id, &b,
                                 &err),
                     0);
    assert_true(b->reattached);
    assert_string_equal(a->worker_id, b->worker_id);
    rn_pb_free(b);
    /* bad registrations */
    assert_int_equal(do_register("127.0.0.9:7001", "x", "", &b, &err), RN_EINVAL);
    /* heartbeats: known and unknown ids */
    hb.worker_id = a->worker_id;
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_HEARTBEAT, &hb,
                                     &runnel__v1__heartbeat_reply__descriptor,
                                     (void **)&hr, 5000, &err),
                     0);
    rn_pb_free(hr);
    hb.worker_id = "w-nobody";
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_HEARTBEAT, &hb,
                                     &runnel__v1__heartbeat_reply__descriptor,
                                     (void **)&hr, 5000, &err),
                     RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "register again"));
    /* minor 1: batched outcomes (a unary call works too: one request,
     * one reply); a job that is gone is not accepted */
    assert_int_equal(a->minor, RN_PROTOCOL_MINOR);
    {
        Runnel__V1__TasksDoneRequest td = RUNNEL__V1__TASKS_DONE_REQUEST__INIT;
        Runnel__V1__TaskDoneRequest one = RUNNEL__V1__TASK_DONE_REQUEST__INIT;
        Runnel__V1__TaskDoneRequest *two[2] = {&one, &one};
        Runnel__V1__TasksDoneReply *tr = NULL;
        one.job_id = "j-nothing";
        one.outcome = RUNNEL__V1__TASK_OUTCOME__TASK_OK;
        td.worker_id = a->worker_id;
        td.tasks = two;
        td.n_tasks = 2;
        assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_TASKS_DONE, &td,
                                         &runnel__v1__tasks_done_reply__descriptor,
                                         (void **)&tr, 5000, &err),
                         0);
        assert_int_equal(tr->n_accepted, 2);
        assert_false(tr->accepted[0]);
        assert_false(tr->accepted[1]);
        rn_pb_free(tr);
        /* an unknown worker: nothing accepted, the call goes on */
        td.worker_id = "w-nobody";
        assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_TASKS_DONE, &td,
                                         &runnel__v1__tasks_done_reply__descriptor,
                                         (void **)&tr, 5000, &err),
                         0);
        assert_int_equal(tr->n_accepted, 2);
        assert_false(tr->accepted[0]);
        rn_pb_free(tr);
    }
    rn_pb_free(a);
    expect_alive();
}

static void test_bad_jobs(void **state)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec st = RUNNEL__V1__STAGE_SPEC__INIT, *pst = &st;
    Runnel__V1__SubmitJobReply *rep = NULL;
    rn_errbuf err;
    rn_buf enc;
    rn_value one = rn_int(1);
    (void)state;
    rn_buf_init(&enc, 0);
    assert_int_equal(rn_codec_encode(&enc, &one, 1), 0);
    req.protocol = RN_PROTOCOL_VERSION;
    req.name = "bad";
    req.stages = &pst;
    req.n_stages = 1;
    req.splits.data = (uint8_t *)enc.ptr;
    req.splits.len = enc.len;
    /* a plugin by path cannot be loaded by the workers */
    req.manifest = "plugins: [/tmp/libx.so]\nsource: range\n";
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_SUBMIT_JOB, &req,
                                     &runnel__v1__submit_job_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "is named by path"));
    /* an id the store lacks */
    req.manifest = "plugins: [\"sha256:00000000000000000000000000000000000000000"
                   "00000000000000000000000\"]\nsource: range\n";
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_SUBMIT_JOB, &req,
                                     &runnel__v1__submit_job_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "is not in the scheduler's store"));
    /* not YAML */
    req.manifest = "source: [unclosed\n";
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_SUBMIT_JOB, &req,
                                     &runnel__v1__submit_job_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     RN_EINVAL); /* RN_EFORMAT travels as INVALID_ARGUMENT */
    /* corrupt splits */
    req.manifest = "source: range\n";
    req.splits.len = enc.len - 1;
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_SUBMIT_JOB, &req,
                                     &runnel__v1__submit_job_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "malformed splits"));
    /* another protocol */
    req.splits.len = enc.len;
    req.protocol = 99;
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_SUBMIT_JOB, &req,
                                     &runnel__v1__submit_job_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "protocol version 99"));
    /* a good one is queued (no worker) and can be cancelled */
    req.protocol = RN_PROTOCOL_VERSION;
    assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_SUBMIT_JOB, &req,
                                     &runnel__v1__submit_job_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     0);
    {
        Runnel__V1__JobRequest jr = RUNNEL__V1__JOB_REQUEST__INIT;
        Runnel__V1__JobInfo *ji = NULL;
        jr.job_id = rep->job_id;
        assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_GET_JOB, &jr,
                                         &runnel__v1__job_info__descriptor,
                                         (void **)&ji, 5000, &err),
                         0);
        assert_int_equal(ji->state, RUNNEL__V1__JOB_STATE__JOB_QUEUED);
        rn_pb_free(ji);
        assert_int_equal(rn_rpc_unary_pb(g_ch, RN_M_CANCEL_JOB, &jr,
                                         &runnel__v1__job_info__descriptor,
                                         (void **)&ji, 5000, &err),
                         0);
        assert_int_equal(ji->state, RUNNEL__V1__JOB_STATE__JOB_CANCELLED);
        rn_pb_free(ji);
    }
    rn_pb_free(rep);
    rn_buf_release(&enc);
    expect_alive();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_payloads),
        cmocka_unit_test(test_plugin_push_verified),
        cmocka_unit_test(test_unknown_job),
        cmocka_unit_test(test_register_twice),
        cmocka_unit_test(test_bad_jobs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
