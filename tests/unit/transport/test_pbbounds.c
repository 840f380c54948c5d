/* runnel's table of wire bounds (core/transport/pbbounds.c): every entry
 * names a real field, every repeated / string / bytes field of the three
 * .proto files has an entry, and the largest messages runnel's own code
 * sends pass it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/error.h"
#include "testutil.h"
#include "transport/pbbounds.h"
#include "transport/pbcheck.h"
#include "transport/rpc.h"

#include "runnel_scheduler.pb-c.h"
#include "runnel_worker.pb-c.h"

/* Every message a runnel process receives: the requests and replies of
 * both services (the rest hang below them). */
static size_t protocol_roots(const ProtobufCMessageDescriptor **out,
                             size_t cap)
{
    const ProtobufCServiceDescriptor *svc[] = {&runnel__v1__scheduler__descriptor,
                                               &runnel__v1__worker__descriptor};
    size_t n = 0;
    for (size_t s = 0; s < 2; s++)
        for (unsigned m = 0; m < svc[s]->n_methods; m++) {
            assert_true(n + 2 <= cap);
            out[n++] = svc[s]->methods[m].input;
            out[n++] = svc[s]->methods[m].output;
        }
    return n;
}

/* The roots and every message type they hold, once each. */
static size_t closure(const ProtobufCMessageDescriptor **v, size_t cap)
{
    size_t n = protocol_roots(v, cap), k = 0;
    /* dedupe the roots, then append children breadth-first */
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < k && v[j] != v[i]; j++)
            ;
        if (j == k)
            v[k++] = v[i];
    }
    for (size_t i = 0; i < k; i++)
        for (unsigned f = 0; f < v[i]->n_fields; f++) {
            const ProtobufCMessageDescriptor *c = v[i]->fields[f].descriptor;
            size_t j;
            if (v[i]->fields[f].type != PROTOBUF_C_TYPE_MESSAGE)
                continue;
            for (j = 0; j < k && v[j] != c; j++)
                ;
            if (j == k) {
                assert_true(k < cap);
                v[k++] = c;
            }
        }
    return k;
}

static const rn_pb_bound *entry(const rn_pb_limits *lim, const char *name)
{
    for (size_t i = 0; i < lim->n_bounds; i++)
        if (strcmp(lim->bounds[i].field, name) == 0)
            return &lim->bounds[i];
    return NULL;
}

/* ------------------------------------------------------- the entries -- */

static void test_entries_name_real_fields(void **state)
{
    const ProtobufCMessageDescriptor *roots[64];
    size_t n = protocol_roots(roots, 64);
    rn_errbuf err;
    (void)state;
    rn_error_clear(&err);
    if (rn_pb_limits_verify(rn_pb_runnel_limits(), roots, n, &err))
        fail_msg("%s", err.msg);
}

static void test_verify_catches_mistakes(void **state)
{
    static const struct {
        rn_pb_bound b;
        const char *msg;
    } cases[] = {
        {{"HeartbeatRequest.plugin", 10, 0},
         "bound 'HeartbeatRequest.plugin' names no field of that message"},
        {{"HeartbeatRequst.plugins", 10, 0},
         "bound 'HeartbeatRequst.plugins' names no message of the protocol"},
        {{"HeartbeatRequest.running", 10, 0},
         "bound 'HeartbeatRequest.running' names a field without a bound (a "
         "scalar or one message)"},
        {{"PushPluginRequest.plugin", 10, 0},
         "bound 'PushPluginRequest.plugin' names a field without a bound (a "
         "scalar or one message)"},
        {{"PluginRef.id[]", 10, 0},
         "bound 'PluginRef.id[]' has '[]' but is no repeated string or bytes "
         "field"},
        {{"HeartbeatRequest.plugins[]", 10, 0},
         "bound 'HeartbeatRequest.plugins[]' has '[]' but is no repeated "
         "string or bytes field"},
        {{"Chunk.data", 10, RN_PB_ANY_TEXT},
         "bound 'Chunk.data' has RN_PB_ANY_TEXT but is no string"},
        {{"InfoReply", 10, RN_PB_ANY_TEXT},
         "bound 'InfoReply' names a message (its total), which takes no flags"},
        {{"PluginRef.id", 10, 8},
         "bound 'PluginRef.id' has unknown flags"},
    };
    const ProtobufCMessageDescriptor *roots[64];
    size_t n = protocol_roots(roots, 64);
    rn_errbuf err;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rn_pb_limits lim = *rn_pb_runnel_limits();
        lim.bounds = &cases[i].b;
        lim.n_bounds = 1;
        rn_error_clear(&err);
        assert_int_equal(rn_pb_limits_verify(&lim, roots, n, &err), RN_EINVAL);
        assert_string_equal(err.msg, cases[i].msg);
    }
    {
        static const rn_pb_bound twice[] = {{"PluginRef.id", 64, 0},
                                            {"PluginRef.id", 65, 0}};
        rn_pb_limits lim = *rn_pb_runnel_limits();
        lim.bounds = twice;
        lim.n_bounds = 2;
        assert_int_equal(rn_pb_limits_verify(&lim, roots, n, &err), RN_EINVAL);
        assert_string_equal(err.msg, "bound 'PluginRef.id' is listed twice");
    }
}

/* Every field a peer can make large has an entry: a number, or
 * RN_PB_DEFAULT when the default was found to fit. A field added to a
 * .proto file without one fails here. */
static void test_every_field_has_an_entry(void **state)
{
    const rn_pb_limits *lim = rn_pb_runnel_limits();
    const ProtobufCMessageDescriptor *v[128];
    size_t n = closure(v, 128), missing = 0;
    (void)state;
    for (size_t i = 0; i < n; i++)
        for (unsigned f = 0; f < v[i]->n_fields; f++) {
            const ProtobufCFieldDescriptor *fd = &v[i]->fields[f];
            char name[128];
            if (fd->label != PROTOBUF_C_LABEL_REPEATED &&
                fd->type != PROTOBUF_C_TYPE_STRING &&
                fd->type != PROTOBUF_C_TYPE_BYTES)
                continue;
            snprintf(name, sizeof(name), "%s.%s", v[i]->short_name, fd->name);
            if (!entry(lim, name)) {
                printf("no entry for %s\n", name);
                missing++;
            }
        }
    assert_int_equal(missing, 0);
}

/* The closure is every message of the .proto files (none hangs outside
 * the services), so the test above saw them all. */
static void test_every_message_is_reachable(void **state)
{
    static const char *const files[] = {"runnel_common.proto",
                                        "runnel_scheduler.proto",
                                        "runnel_worker.proto"};
    const ProtobufCMessageDescriptor *v[128];
    size_t n = closure(v, 128), seen = 0;
    (void)state;
    for (size_t f = 0; f < 3; f++) {
        char path[512];
        char *text, *line;
        size_t len;
        snprintf(path, sizeof(path), "%s/core/transport/proto/%s",
                 RN_TEST_SOURCE_DIR, files[f]);
        text = rn_test_read_file(path, &len);
        assert_non_null(text);
        for (line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            const char *p = line + 8;
            char name[64];
            size_t k = 0, i;
            if (strncmp(line, "message ", 8) != 0)
                continue;
            while (k + 1 < sizeof(name) && *p != ' ' && *p != '{' && *p != '\n' && *p)
                name[k++] = *p++;
            name[k] = '\0';
            for (i = 0; i < n && strcmp(v[i]->short_name, name) != 0; i++)
                ;
            if (i == n)
                printf("message %s of %s is not reachable\n", name, files[f]);
            assert_true(i < n);
            seen++;
        }
        free(text);
    }
    assert_int_equal(seen, n);
}

/* ------------------------------------------ what runnel's code sends -- */

/* m passes as a peer's message: on the wire, unpacked (when unpack) and
 * as built. */
static void passes(const ProtobufCMessage *m, int unpack)
{
    const rn_pb_limits *lim = rn_pb_runnel_limits();
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = rn_malloc(n ? n : 1);
    rn_errbuf err;
    assert_non_null(b);
    protobuf_c_message_pack(m, b);
    rn_error_clear(&err);
    if (rn_pb_check(m, lim, &err))
        fail_msg("%s", err.msg);
    if (rn_pb_check_wire(m->descriptor, b, n, lim, &err))
        fail_msg("%s", err.msg);
    if (unpack) {
        ProtobufCMessage *u = rn_pb_unpack(m->descriptor, b, n);
        assert_non_null(u);
        if (rn_pb_check(u, lim, &err))
            fail_msg("%s", err.msg);
        rn_pb_free(u);
    }
    rn_free(b);
}

static void refused(const ProtobufCMessage *m, const char *msg)
{
    rn_errbuf err;
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check(m, rn_pb_runnel_limits(), &err), RN_ELIMIT);
    assert_string_equal(err.msg, msg);
}

static void fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

/* worker.c: RegisterRequest and HeartbeatRequest list every plugin of
 * the registry, each with its 64-digit id and names of up to
 * RN_MAX_NAME (64) bytes; the address fits char[160]; --name defaults to
 * the address; the instance is 32 hex digits. */
static void test_worker_messages(void **state)
{
    static Runnel__V1__PluginRef refs[RN_PB_PLUGINS_MAX + 1];
    static Runnel__V1__PluginRef *ptrs[RN_PB_PLUGINS_MAX + 1];
    Runnel__V1__RegisterRequest rr = RUNNEL__V1__REGISTER_REQUEST__INIT;
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    char id[65], name[65], version[65], address[160], instance[33];
    (void)state;
    fill(id, 64, 'f');
    fill(name, 64, 'n');
    fill(version, 64, 'v');
    fill(instance, 32, 'a');
    memcpy(address, "tcp://", 6);
    fill(address + 6, 159 - 6, '1');
    for (size_t i = 0; i <= RN_PB_PLUGINS_MAX; i++) {
        runnel__v1__plugin_ref__init(&refs[i]);
        refs[i].id = id;
        refs[i].name = name;
        refs[i].version = version;
        refs[i].size = 1 << 20;
        ptrs[i] = &refs[i];
    }
    rr.protocol = 1;
    rr.address = address;
    rr.name = address;
    rr.nthreads = 4096;
    rr.instance = instance;
    rr.worker_id = (char *)"w-0123abcd";
    rr.plugins = ptrs;
    rr.n_plugins = RN_PB_PLUGINS_MAX;
    rr.minor = 1;
    passes(&rr.base, 1);
    hb.worker_id = (char *)"w-0123abcd";
    hb.plugins = ptrs;
    hb.n_plugins = RN_PB_PLUGINS_MAX;
    passes(&hb.base, 1);
    hb.n_plugins = RN_PB_PLUGINS_MAX + 1;
    refused(&hb.base, "HeartbeatRequest.plugins: 257 entries, at most 256");
    /* unknown fields spread over the plugins: each message within
     * unknown_max, the heartbeat over its own total */
    {
        ProtobufCMessageUnknownField uf[4];
        uint8_t one = 1;
        for (size_t k = 0; k < 4; k++) {
            uf[k].tag = 50 + (uint32_t)k;
            uf[k].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
            uf[k].len = 1;
            uf[k].data = &one;
        }
        for (size_t i = 0; i < RN_PB_PLUGINS_MAX; i++) {
            refs[i].base.unknown_fields = uf;
            refs[i].base.n_unknown_fields = 3;
        }
        hb.n_plugins = RN_PB_PLUGINS_MAX;
        passes(&hb.base, 1); /* 256 + 768 */
        refs[0].base.n_unknown_fields = 4;
        refused(&hb.base, "HeartbeatRequest: more than 1024 repeated entries "
                          "and unknown fields in all");
        for (size_t i = 0; i < RN_PB_PLUGINS_MAX; i++)
            refs[i].base.n_unknown_fields = 0;
    }
}

/* worker.c rep_main: up to MAX_REPORT_BATCH outcomes per request, each
 * error an rn_errbuf's text (1023 bytes), possibly cut inside a
 * character; the scheduler answers one bool per task. */
static void test_task_reports(void **state)
{
    enum { N = RN_PB_REPORT_MAX };
    Runnel__V1__TasksDoneRequest r = RUNNEL__V1__TASKS_DONE_REQUEST__INIT;
    Runnel__V1__TasksDoneReply rep = RUNNEL__V1__TASKS_DONE_REPLY__INIT;
    Runnel__V1__TaskDoneRequest *t = rn_calloc(N, sizeof(*t));
    Runnel__V1__TaskDoneRequest **pt = rn_calloc(N + 1, sizeof(*pt));
    protobuf_c_boolean *acc = rn_calloc(N, sizeof(*acc));
    char error[1024];
    (void)state;
    assert_non_null(t);
    assert_non_null(pt);
    assert_non_null(acc);
    fill(error, 1023, 'e');
    memcpy(error + 1020, "\xc3\xa9\xc3", 3); /* cut: "...é" + half of one */
    for (size_t i = 0; i < N; i++) {
        runnel__v1__task_done_request__init(&t[i]);
        t[i].worker_id = (char *)"w-0123abcd";
        t[i].job_id = (char *)"j-0123456789";
        t[i].task_id = (uint32_t)i;
        t[i].outcome = RUNNEL__V1__TASK_OUTCOME__TASK_FAILED;
        t[i].error = error;
        pt[i] = &t[i];
    }
    r.worker_id = (char *)"w-0123abcd";
    r.tasks = pt;
    r.n_tasks = N;
    passes(&r.base, 1);
    rep.accepted = acc;
    rep.n_accepted = N;
    passes(&rep.base, 1);
    pt[N] = &t[0];
    r.n_tasks = N + 1;
    refused(&r.base, "TasksDoneRequest.tasks: 1025 entries, at most 1024");
    rn_free(t);
    rn_free(pt);
    rn_free(acc);
}

/* scheduler.c send_batch: a burst of queued commands, each packed alone,
 * the later ones appended as `more` elements, up to MAX_BURST_BYTES. The
 * smallest command it queues is a forget_job (or cancel_job). */
static void test_command_burst(void **state)
{
    const size_t max_burst = (size_t)1 << 20; /* scheduler.c */
    Runnel__V1__WorkerCommand c = RUNNEL__V1__WORKER_COMMAND__INIT;
    Runnel__V1__WorkerCommand *got;
    uint8_t one[64], *burst = rn_malloc(max_burst);
    size_t n1, len = 0, count = 0;
    rn_errbuf err;
    (void)state;
    assert_non_null(burst);
    c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_FORGET_JOB;
    c.forget_job = (char *)"j-0123456789";
    n1 = runnel__v1__worker_command__pack(&c, one);
    for (;;) {
        /* as send_batch: the first as it is, then (6 << 3 | 2, length) */
        size_t h = len ? 2 : 0;
        if (len + h + n1 + 16 > max_burst)
            break;
        if (h) {
            burst[len++] = (6 << 3) | 2;
            burst[len++] = (uint8_t)n1;
        }
        memcpy(burst + len, one, n1);
        len += n1;
        count++;
    }
    assert_true(count > 60000);
    rn_error_clear(&err);
    if (rn_pb_check_wire(&runnel__v1__worker_command__descriptor, burst, len,
                         rn_pb_runnel_limits(), &err))
        fail_msg("%s", err.msg);
    got = rn_pb_unpack(&runnel__v1__worker_command__descriptor, burst, len);
    assert_non_null(got);
    assert_int_equal(got->n_more, count - 1);
    if (rn_pb_check(&got->base, rn_pb_runnel_limits(), &err))
        fail_msg("%s", err.msg);
    rn_pb_free(got);
    rn_free(burst);
}

/* A minor-1 worker may hold up to MAX_QUEUE_AHEAD (64) queued tasks plus
 * split_every more: a burst of RunTasks, each a combine of RN_PB_FAN_IN_MAX
 * inputs with the job's manifest. */
static void test_run_tasks(void **state)
{
    static Runnel__V1__InputRef in[RN_PB_FAN_IN_MAX];
    static Runnel__V1__InputRef *pin[RN_PB_FAN_IN_MAX];
    Runnel__V1__WorkerCommand c = RUNNEL__V1__WORKER_COMMAND__INIT;
    Runnel__V1__WorkerCommand m[8], *pm[8];
    Runnel__V1__RunTask rt = RUNNEL__V1__RUN_TASK__INIT;
    char *manifest = rn_malloc(100000);
    uint8_t split[4096] = {0};
    (void)state;
    assert_non_null(manifest);
    fill(manifest, 99999, 'y');
    for (size_t i = 0; i < RN_PB_FAN_IN_MAX; i++) {
        runnel__v1__input_ref__init(&in[i]);
        in[i].task_id = (uint32_t)i;
        in[i].address = (char *)"tcp://[2001:db8::1]:40000";
        in[i].bytes = 1 << 20;
        pin[i] = &in[i];
    }
    rt.job_id = (char *)"j-0123456789";
    rt.kind = RUNNEL__V1__TASK_KIND__TASK_COMBINE;
    rt.inputs = pin;
    rt.n_inputs = RN_PB_FAN_IN_MAX;
    rt.split.data = split;
    rt.split.len = sizeof(split);
    rt.manifest = manifest;
    for (size_t i = 0; i < 8; i++) {
        runnel__v1__worker_command__init(&m[i]);
        m[i].cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RUN;
        m[i].run = &rt;
        pm[i] = &m[i];
    }
    c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RUN;
    c.run = &rt;
    c.more = pm;
    c.n_more = 8;
    passes(&c.base, 1);
    rn_free(manifest);
}

/* client.c rn_client_submit: every step of a 10 000-step manifest in
 * 1024 stages, a 1 MiB manifest and 8 MiB of splits. */
static void test_submit(void **state)
{
    enum { STAGES = RN_PB_STAGES_MAX };
    Runnel__V1__SubmitJobRequest sj = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec *st = rn_calloc(STAGES, sizeof(*st));
    Runnel__V1__StageSpec **pst = rn_calloc(STAGES, sizeof(*pst));
    char **ops = rn_calloc(RN_PB_OPS_MAX, sizeof(*ops));
    protobuf_c_boolean *user = rn_calloc(RN_PB_OPS_MAX, sizeof(*user));
    char label[130], *manifest = rn_malloc(1 << 20);
    uint8_t *splits = rn_calloc(8, 1 << 20);
    size_t at = 0;
    (void)state;
    assert_non_null(st);
    assert_non_null(pst);
    assert_non_null(ops);
    assert_non_null(user);
    assert_non_null(manifest);
    assert_non_null(splits);
    fill(label, 129, 'o'); /* two RN_MAX_NAME names and a dot */
    label[64] = '.';
    fill(manifest, (1 << 20) - 1, 'm');
    for (size_t i = 0; i < RN_PB_OPS_MAX; i++)
        ops[i] = label;
    for (size_t s = 0; s < STAGES; s++) {
        size_t k = s + 1 < STAGES ? RN_PB_OPS_MAX / STAGES : RN_PB_OPS_MAX - at;
        runnel__v1__stage_spec__init(&st[s]);
        st[s].terminal = s + 1 < STAGES ? RUNNEL__V1__TERMINAL__TERMINAL_FOLD
                                        : RUNNEL__V1__TERMINAL__TERMINAL_SINK;
        st[s].ops = ops + at;
        st[s].n_ops = k;
        st[s].user_ops = user + at;
        st[s].n_user_ops = k;
        at += k;
        pst[s] = &st[s];
    }
    assert_int_equal(at, RN_PB_OPS_MAX);
    sj.protocol = 1;
    sj.name = (char *)"wordcount";
    sj.manifest = manifest;
    sj.stages = pst;
    sj.n_stages = STAGES;
    sj.split_every = 8;
    sj.splits.data = splits;
    sj.splits.len = (size_t)8 << 20;
    sj.client = (char *)"someone@somewhere.example.org";
    passes(&sj.base, 1);
    /* one stage with every op is fine too; more ops than steps are not */
    st[0].ops = ops;
    st[0].n_ops = RN_PB_OPS_MAX;
    sj.n_stages = 1;
    passes(&sj.base, 0);
    st[0].n_ops = RN_PB_OPS_MAX + 1;
    refused(&sj.base, "SubmitJobRequest.stages[0].ops: 10001 entries, at most "
                      "10000");
    rn_free(st);
    rn_free(pst);
    rn_free(ops);
    rn_free(user);
    rn_free(manifest);
    rn_free(splits);
}

/* Replies a client reads: a full cluster's InfoReply (every worker with
 * RN_PB_PLUGINS_MAX plugins), a JobInfo with RN_PB_RESULTS_MAX results
 * and a name cut by dup_short inside a character, ListJobsReply. */
static void test_replies(void **state)
{
    enum { W = RN_PB_WORKERS_MAX, P = RN_PB_PLUGINS_MAX };
    Runnel__V1__InfoReply info = RUNNEL__V1__INFO_REPLY__INIT;
    Runnel__V1__Service svc = RUNNEL__V1__SERVICE__INIT, *psvc = &svc;
    Runnel__V1__WorkerInfo *wi = rn_calloc(W, sizeof(*wi));
    Runnel__V1__WorkerInfo **pwi = rn_calloc(W, sizeof(*pwi));
    Runnel__V1__PluginRef ref = RUNNEL__V1__PLUGIN_REF__INIT;
    Runnel__V1__PluginRef **prefs = rn_calloc(P, sizeof(*prefs));
    Runnel__V1__JobInfo ji = RUNNEL__V1__JOB_INFO__INIT;
    Runnel__V1__ResultRef res = RUNNEL__V1__RESULT_REF__INIT;
    Runnel__V1__ResultRef **pres = rn_calloc(RN_PB_RESULTS_MAX, sizeof(*pres));
    Runnel__V1__ListJobsReply lj = RUNNEL__V1__LIST_JOBS_REPLY__INIT;
    Runnel__V1__JobInfo **pji = rn_calloc(RN_PB_JOBS_MAX, sizeof(*pji));
    char name[201];
    (void)state;
    assert_non_null(wi);
    assert_non_null(pwi);
    assert_non_null(prefs);
    assert_non_null(pres);
    assert_non_null(pji);
    for (size_t i = 0; i < P; i++)
        prefs[i] = &ref;
    for (size_t i = 0; i < W; i++) {
        runnel__v1__worker_info__init(&wi[i]);
        wi[i].address = (char *)"tcp://10.1.2.3:40000";
        wi[i].id = (char *)"w-0123abcd";
        wi[i].name = (char *)"worker";
        wi[i].status = (char *)"running";
        wi[i].plugins = prefs;
        wi[i].n_plugins = P;
        pwi[i] = &wi[i];
    }
    svc.name = (char *)"grpc";
    info.type = (char *)"Scheduler";
    info.id = (char *)"Scheduler-01234567-89ab-cdef-0123-456789abcdef";
    info.address = (char *)"tcp://10.1.2.3:8786";
    info.services = &psvc;
    info.n_services = 1;
    info.workers = pwi;
    info.n_workers = W;
    passes(&info.base, 0); /* 1 M PluginRefs: not unpacked here */

    for (size_t i = 0; i < RN_PB_RESULTS_MAX; i++)
        pres[i] = &res;
    res.address = (char *)"tcp://10.1.2.3:40000";
    fill(name, 200, 'n');
    memcpy(name + 198, "\xe2\x82", 2); /* 200 bytes, the last char cut */
    ji.job_id = (char *)"j-0123456789";
    ji.name = name;
    ji.state = RUNNEL__V1__JOB_STATE__JOB_DONE;
    ji.results = pres;
    ji.n_results = RN_PB_RESULTS_MAX;
    ji.client = (char *)"someone@somewhere";
    passes(&ji.base, 0);

    ji.results = NULL;
    ji.n_results = 0;
    for (size_t i = 0; i < RN_PB_JOBS_MAX; i++)
        pji[i] = &ji;
    lj.jobs = pji;
    lj.n_jobs = RN_PB_JOBS_MAX;
    passes(&lj.base, 1);

    rn_free(wi);
    rn_free(pwi);
    rn_free(prefs);
    rn_free(pres);
    rn_free(pji);
}

/* Plugin files and partitions travel in chunks of RN_RPC_CHUNK. */
static void test_chunks(void **state)
{
    Runnel__V1__PushPluginRequest pp = RUNNEL__V1__PUSH_PLUGIN_REQUEST__INIT;
    Runnel__V1__PluginRef ref = RUNNEL__V1__PLUGIN_REF__INIT;
    Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
    uint8_t *data = rn_calloc(1, RN_RPC_CHUNK + 64 * 1024 + 1);
    char id[65];
    (void)state;
    assert_non_null(data);
    fill(id, 64, '0');
    ref.id = id;
    ref.name = (char *)"textio";
    ref.version = (char *)"1.2.3";
    ch.total = 5 << 20;
    ch.data.data = data;
    ch.data.len = RN_RPC_CHUNK;
    pp.plugin = &ref;
    pp.chunk = &ch;
    passes(&pp.base, 1);
    passes(&ch.base, 1);
    ch.data.len = RN_RPC_CHUNK + 64 * 1024 + 1;
    refused(&ch.base, "Chunk.data: 1114113 bytes, at most 1114112");
    rn_free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_name_real_fields),
        cmocka_unit_test(test_verify_catches_mistakes),
        cmocka_unit_test(test_every_field_has_an_entry),
        cmocka_unit_test(test_every_message_is_reachable),
        cmocka_unit_test(test_worker_messages),
        cmocka_unit_test(test_task_reports),
        cmocka_unit_test(test_command_burst),
        cmocka_unit_test(test_run_tasks),
        cmocka_unit_test(test_submit),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
