/* Bounds of received protobuf messages (core/transport/pbcheck.c): each
 * kind of bound on the unpacked message and on the encoded one, paths in
 * the errors, oneofs, optional fields, depth, totals, unknown fields,
 * UTF-8, the Heartbeat attack, the cost of a check and the uncached
 * path. Bounds of runnel's own table: test_pbbounds.c. */
#define _GNU_SOURCE /* clock_gettime */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/error.h"
#include "transport/pbcheck.h"
#include "transport/rpc.h"

#include "runnel_scheduler.pb-c.h"

/* ------------------------------------------------------------ helpers -- */

#define TEST_BOUNDS                                                          \
    {                                                                        \
        {"HeartbeatRequest.plugins", 4, 0},                                  \
        {"HeartbeatRequest.worker_id", 16, 0},                               \
        {"StageSpec.ops", 10, 0},                                            \
        {"StageSpec.ops[]", 8, 0},                                           \
        {"SubmitJobRequest.splits", 100, 0},                                 \
        {"RunTask.inputs", 3, 0},                                            \
        {"TaskDoneRequest.error", RN_PB_DEFAULT, RN_PB_ANY_TEXT},            \
        {"TasksDoneRequest", 50, 0}, /* its total */                         \
    }

/* protobuf-c's unpack alone: rn_pb_unpack bounds the message first, and
 * these tests check what the bounds see after an unbounded unpack. */
static void *raw_unpack(const ProtobufCMessageDescriptor *d, const void *data,
                        size_t n)
{
    return protobuf_c_message_unpack(d, &rn_pb_allocator, n,
                                     (const uint8_t *)data);
}

static const rn_pb_bound test_bounds[] = TEST_BOUNDS;
/* The same bounds elsewhere: a table the cache has not seen. */
static const rn_pb_bound test_bounds_copy[] = TEST_BOUNDS;

/* Small numbers, so each bound is easy to reach. */
#define TEST_LIMITS(b)                                                       \
    {                                                                        \
        32,  /* string_max */                                                \
        64,  /* bytes_max */                                                 \
        20,  /* repeated_max */                                              \
        6,   /* depth_max */                                                 \
        100, /* total_max */                                                 \
        2,   /* unknown_max */                                               \
        b, sizeof(b) / sizeof(b[0]),                                         \
    }

static const rn_pb_limits limits_a = TEST_LIMITS(test_bounds);
static const rn_pb_limits limits_b = TEST_LIMITS(test_bounds_copy);
/* What the tests check with (limits_b once the cache is full). */
static const rn_pb_limits *cur = &limits_a;
#define test_limits (*cur)

static uint8_t *pack(const ProtobufCMessage *m, size_t *n)
{
    uint8_t *b;
    *n = protobuf_c_message_get_packed_size(m);
    b = rn_malloc(*n ? *n : 1);
    assert_non_null(b);
    assert_int_equal(protobuf_c_message_pack(m, b), *n);
    return b;
}

/* m as a peer's message: checked as built, on the wire, and unpacked.
 * wire_code is for rn_pb_check_wire (which does not look at UTF-8),
 * code for the others; msg is every failing check's message. */
static void expect3(const ProtobufCMessage *m, const rn_pb_limits *lim,
                    int wire_code, int code, const char *msg)
{
    size_t n;
    uint8_t *b = pack(m, &n);
    ProtobufCMessage *u;
    rn_errbuf err;

    rn_error_clear(&err);
    assert_int_equal(rn_pb_check(m, lim, &err), code);
    if (code)
        assert_string_equal(err.msg, msg);
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check_wire(m->descriptor, b, n, lim, &err), wire_code);
    if (wire_code)
        assert_string_equal(err.msg, msg);
    u = raw_unpack(m->descriptor, b, n);
    assert_non_null(u);
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check(u, lim, &err), code);
    if (code)
        assert_string_equal(err.msg, msg);
    rn_pb_free(u);
    rn_free(b);
}

static void expect(const ProtobufCMessage *m, const rn_pb_limits *lim,
                   int code, const char *msg)
{
    expect3(m, lim, code, code, msg);
}

/* A HeartbeatRequest with n plugins (refs and ptrs hold n). */
static void heartbeat(Runnel__V1__HeartbeatRequest *hb,
                      Runnel__V1__PluginRef *refs,
                      Runnel__V1__PluginRef **ptrs, size_t n)
{
    runnel__v1__heartbeat_request__init(hb);
    hb->worker_id = (char *)"w-0123abcd";
    hb->running = 3;
    for (size_t i = 0; i < n; i++) {
        runnel__v1__plugin_ref__init(&refs[i]);
        refs[i].id = (char *)"f3a1";
        refs[i].name = (char *)"text";
        refs[i].version = (char *)"1.0";
        ptrs[i] = &refs[i];
    }
    hb->plugins = ptrs;
    hb->n_plugins = n;
}

/* --------------------------------------------------------- each kind -- */

static void test_repeated(void **state)
{
    Runnel__V1__HeartbeatRequest hb;
    Runnel__V1__PluginRef refs[5], *ptrs[5];
    (void)state;
    heartbeat(&hb, refs, ptrs, 4);
    expect(&hb.base, &test_limits, 0, NULL);
    heartbeat(&hb, refs, ptrs, 5);
    expect(&hb.base, &test_limits, RN_ELIMIT,
           "HeartbeatRequest.plugins: 5 entries, at most 4");
    heartbeat(&hb, refs, ptrs, 0);
    expect(&hb.base, &test_limits, 0, NULL);
}

static void test_repeated_default_and_scalars(void **state)
{
    Runnel__V1__TasksDoneReply r = RUNNEL__V1__TASKS_DONE_REPLY__INIT;
    protobuf_c_boolean acc[21] = {0};
    (void)state;
    r.accepted = acc;
    r.n_accepted = 20; /* repeated_max, no entry */
    expect(&r.base, &test_limits, 0, NULL);
    r.n_accepted = 21; /* packed on the wire: counted as well */
    expect(&r.base, &test_limits, RN_ELIMIT,
           "TasksDoneReply.accepted: 21 entries, at most 20");
}

static void test_string(void **state)
{
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    Runnel__V1__RetireRequest rr = RUNNEL__V1__RETIRE_REQUEST__INIT;
    char s[40];
    (void)state;
    memset(s, 'a', sizeof(s));
    s[16] = '\0';
    hb.worker_id = s;
    expect(&hb.base, &test_limits, 0, NULL);
    s[16] = 'a';
    s[17] = '\0';
    expect(&hb.base, &test_limits, RN_ELIMIT,
           "HeartbeatRequest.worker_id: 17 bytes, at most 16");
    /* without an entry: string_max */
    memset(s, 'a', sizeof(s));
    s[32] = '\0';
    rr.worker_id = s;
    expect(&rr.base, &test_limits, 0, NULL);
    s[32] = 'a';
    s[33] = '\0';
    expect(&rr.base, &test_limits, RN_ELIMIT,
           "RetireRequest.worker_id: 33 bytes, at most 32");
}

static void test_bytes(void **state)
{
    Runnel__V1__SubmitJobRequest sj = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__RunTask rt = RUNNEL__V1__RUN_TASK__INIT;
    uint8_t data[101] = {0};
    (void)state;
    sj.splits.data = data;
    sj.splits.len = 100;
    expect(&sj.base, &test_limits, 0, NULL);
    sj.splits.len = 101;
    expect(&sj.base, &test_limits, RN_ELIMIT,
           "SubmitJobRequest.splits: 101 bytes, at most 100");
    /* without an entry: bytes_max */
    rt.split.data = data;
    rt.split.len = 65;
    expect(&rt.base, &test_limits, RN_ELIMIT,
           "RunTask.split: 65 bytes, at most 64");
}

/* SubmitJobRequest with four stages; stage 3 has nops ops of text op. */
static void submit(Runnel__V1__SubmitJobRequest *sj,
                   Runnel__V1__StageSpec *st, Runnel__V1__StageSpec **pst,
                   char **ops, size_t nops, char *op)
{
    runnel__v1__submit_job_request__init(sj);
    for (size_t i = 0; i < 4; i++) {
        runnel__v1__stage_spec__init(&st[i]);
        pst[i] = &st[i];
    }
    for (size_t i = 0; i < nops; i++)
        ops[i] = i == 2 ? op : (char *)"t.split";
    st[1].ops = ops;
    st[1].n_ops = 3;
    st[3].ops = ops;
    st[3].n_ops = nops;
    sj->stages = pst;
    sj->n_stages = 4;
    sj->manifest = (char *)"steps: [split]";
}

static void test_nested_path(void **state)
{
    Runnel__V1__SubmitJobRequest sj;
    Runnel__V1__StageSpec st[4], *pst[4];
    char *ops[11], op[16] = "t.count";
    (void)state;
    submit(&sj, st, pst, ops, 10, op);
    expect(&sj.base, &test_limits, 0, NULL);
    submit(&sj, st, pst, ops, 11, op);
    expect(&sj.base, &test_limits, RN_ELIMIT,
           "SubmitJobRequest.stages[3].ops: 11 entries, at most 10");
    /* an element of a repeated string: "[]" entry */
    memcpy(op, "t.counter", 10);
    submit(&sj, st, pst, ops, 10, op);
    expect(&sj.base, &test_limits, RN_ELIMIT,
           "SubmitJobRequest.stages[1].ops[2]: 9 bytes, at most 8");
}

static void test_oneof(void **state)
{
    Runnel__V1__WorkerCommand c = RUNNEL__V1__WORKER_COMMAND__INIT;
    Runnel__V1__WorkerCommand m0 = RUNNEL__V1__WORKER_COMMAND__INIT;
    Runnel__V1__WorkerCommand m1 = RUNNEL__V1__WORKER_COMMAND__INIT;
    Runnel__V1__WorkerCommand *more[2] = {&m0, &m1};
    Runnel__V1__RunTask rt = RUNNEL__V1__RUN_TASK__INIT;
    Runnel__V1__InputRef in[4], *pin[4];
    char id[40];
    (void)state;
    memset(id, 'j', sizeof(id));
    id[39] = '\0';
    /* ping: the union holds a bool, which must never be read as the
     * string pointer of forget_job or cancel_job */
    c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_PING;
    c.ping = 1;
    expect(&c.base, &test_limits, 0, NULL);
    c.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_CANCEL_JOB;
    c.cancel_job = id;
    expect(&c.base, &test_limits, RN_ELIMIT,
           "WorkerCommand.cancel_job: 39 bytes, at most 32");
    id[32] = '\0';
    expect(&c.base, &test_limits, 0, NULL);
    /* a message member, in a burst */
    for (size_t i = 0; i < 4; i++) {
        runnel__v1__input_ref__init(&in[i]);
        in[i].task_id = (uint32_t)i;
        in[i].address = (char *)"tcp://10.0.0.1:7000";
        pin[i] = &in[i];
    }
    rt.job_id = (char *)"j-0123456789";
    rt.inputs = pin;
    rt.n_inputs = 4;
    m1.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_RUN;
    m1.run = &rt;
    m0.cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_FORGET_JOB;
    m0.forget_job = (char *)"j-1";
    c.more = more;
    c.n_more = 2;
    expect(&c.base, &test_limits, RN_ELIMIT,
           "WorkerCommand.more[1].run.inputs: 4 entries, at most 3");
    rt.n_inputs = 3;
    expect(&c.base, &test_limits, 0, NULL);
}

/* n WorkerCommands, each the only `more` of the one before. */
typedef struct cmdchain {
    Runnel__V1__WorkerCommand *c;
    Runnel__V1__WorkerCommand **p;
} cmdchain;

static cmdchain chain_new(size_t n)
{
    cmdchain ch = {rn_calloc(n, sizeof(*ch.c)), rn_calloc(n, sizeof(*ch.p))};
    assert_non_null(ch.c);
    assert_non_null(ch.p);
    for (size_t i = 0; i < n; i++) {
        runnel__v1__worker_command__init(&ch.c[i]);
        ch.c[i].cmd_case = RUNNEL__V1__WORKER_COMMAND__CMD_PING;
        ch.c[i].ping = 1;
        if (i + 1 < n) {
            ch.p[i] = &ch.c[i + 1];
            ch.c[i].more = &ch.p[i];
            ch.c[i].n_more = 1;
        }
    }
    return ch;
}

static void chain_free(cmdchain ch)
{
    rn_free(ch.c);
    rn_free(ch.p);
}

static void test_depth(void **state)
{
    cmdchain ch;
    (void)state;
    ch = chain_new(6);
    expect(&ch.c[0].base, &test_limits, 0, NULL);
    chain_free(ch);
    ch = chain_new(7);
    expect(&ch.c[0].base, &test_limits, RN_ELIMIT,
           "WorkerCommand.more[0].more[0].more[0].more[0].more[0].more[0]: "
           "messages nested deeper than 6");
    chain_free(ch);
}

/* A WorkerCommand with n levels of `more` below it, encoded by hand from
 * the inside out (as protobuf-c would pack it). */
static uint8_t *nested_bytes(size_t n, size_t *len)
{
    size_t cap = n * 6 + 16;
    uint8_t *b = rn_malloc(cap), *t = rn_malloc(cap), *x;
    assert_non_null(b);
    assert_non_null(t);
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0, l = *len;
        t[k++] = (6 << 3) | 2;
        while (l >= 0x80) {
            t[k++] = (uint8_t)(l | 0x80);
            l >>= 7;
        }
        t[k++] = (uint8_t)l;
        memcpy(t + k, b, *len);
        *len += k;
        x = b;
        b = t;
        t = x;
    }
    rn_free(t);
    return b;
}

/* 20000 levels in 80 KB overflow protobuf_c_message_unpack's stack
 * (9000 do on 8 MiB): the wire check refuses them without recursing. */
static void test_depth_bomb_on_the_wire(void **state)
{
    size_t n;
    uint8_t *b = nested_bytes(20000, &n);
    rn_errbuf err;
    (void)state;
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check_wire(&runnel__v1__worker_command__descriptor, b,
                                      n, &test_limits, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "messages nested deeper than 6"));
    assert_int_equal(strncmp(err.msg, "WorkerCommand.more[0].more[0].", 30), 0);
    rn_free(b);
    /* and what fits passes: 5 levels below the root */
    b = nested_bytes(5, &n);
    assert_int_equal(rn_pb_check_wire(&runnel__v1__worker_command__descriptor, b,
                                      n, &test_limits, &err),
                     0);
    rn_free(b);
}

static void test_total(void **state)
{
    Runnel__V1__ListJobsReply lj = RUNNEL__V1__LIST_JOBS_REPLY__INIT;
    Runnel__V1__JobInfo ji[6], *pji[6];
    Runnel__V1__ResultRef res[16], *pres[16];
    (void)state;
    /* total_max (100) across fields and levels: 6 jobs of 16 results */
    for (size_t i = 0; i < 16; i++) {
        runnel__v1__result_ref__init(&res[i]);
        res[i].task_id = (uint32_t)i;
        pres[i] = &res[i];
    }
    for (size_t i = 0; i < 6; i++) {
        runnel__v1__job_info__init(&ji[i]);
        ji[i].results = pres;
        ji[i].n_results = 16;
        pji[i] = &ji[i];
    }
    lj.jobs = pji;
    lj.n_jobs = 6; /* 6 + 6 * 16 = 102 */
    expect(&lj.base, &test_limits, RN_ELIMIT,
           "ListJobsReply: more than 100 repeated entries and unknown fields "
           "in all");
    ji[5].n_results = 14; /* 100 */
    expect(&lj.base, &test_limits, 0, NULL);
}

/* The entry "TasksDoneRequest" (50) is the total of that message as the
 * root; unknown fields count. */
static void test_root_total(void **state)
{
    Runnel__V1__TasksDoneRequest r = RUNNEL__V1__TASKS_DONE_REQUEST__INIT;
    Runnel__V1__TaskDoneRequest t[20], *pt[20];
    ProtobufCMessageUnknownField uf[2];
    uint8_t one = 1;
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        uf[k].tag = 100 + (uint32_t)k;
        uf[k].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
        uf[k].len = 1;
        uf[k].data = &one;
    }
    for (size_t i = 0; i < 20; i++) {
        runnel__v1__task_done_request__init(&t[i]);
        pt[i] = &t[i];
    }
    r.tasks = pt;
    r.n_tasks = 20;
    expect(&r.base, &test_limits, 0, NULL);
    for (size_t i = 0; i < 15; i++) {
        t[i].base.n_unknown_fields = 2;
        t[i].base.unknown_fields = uf;
    }
    expect(&r.base, &test_limits, 0, NULL); /* 20 + 30 */
    t[15].base.n_unknown_fields = 1;
    t[15].base.unknown_fields = uf;
    expect(&r.base, &test_limits, RN_ELIMIT,
           "TasksDoneRequest: more than 50 repeated entries and unknown "
           "fields in all");
}

static void test_unknown_fields(void **state)
{
    Runnel__V1__RetireRequest rr = RUNNEL__V1__RETIRE_REQUEST__INIT;
    ProtobufCMessageUnknownField uf[3];
    uint8_t one = 1, data[66];
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        uf[k].tag = 20 + (uint32_t)k;
        uf[k].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
        uf[k].len = 1;
        uf[k].data = &one;
    }
    rr.base.unknown_fields = uf;
    rr.base.n_unknown_fields = 2;
    expect(&rr.base, &test_limits, 0, NULL);
    rr.base.n_unknown_fields = 3;
    expect(&rr.base, &test_limits, RN_ELIMIT,
           "RetireRequest: 3 unknown fields, at most 2");
    /* protobuf-c keeps a length-delimited value with its length */
    memset(data, 'x', sizeof(data));
    data[0] = 64;
    uf[0].wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    uf[0].len = 65;
    uf[0].data = data;
    rr.base.n_unknown_fields = 1;
    expect(&rr.base, &test_limits, 0, NULL);
    data[0] = 65;
    uf[0].len = 66;
    expect(&rr.base, &test_limits, RN_ELIMIT,
           "RetireRequest: unknown field 20: 65 bytes, at most 64");
}

static void test_utf8(void **state)
{
    static const struct {
        const char *s;
        size_t bad; /* SIZE_MAX: valid */
    } cases[] = {
        {"ascii, 8 bytes at a time: ok", SIZE_MAX},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", SIZE_MAX},
        {"\xed\x9f\xbf \xee\x80\x80", SIZE_MAX}, /* around the surrogates */
        {"abc\x80", 3},                 /* a lone continuation byte */
        {"ab\xc0\x80", 2},              /* overlong NUL */
        {"\xc1\xbf", 0},                /* overlong */
        {"x\xe0\x9f\xbf", 1},           /* overlong 3-byte */
        {"xy\xed\xa0\x80", 2},          /* a surrogate */
        {"\xf0\x8f\xbf\xbf", 0},        /* overlong 4-byte */
        {"12345678\xf4\x90\x80\x80", 8}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"abc\xe2\x82", 3},             /* cut inside a character */
        {"\xe2\x28\xa1", 0},            /* a bad second byte */
        {"\xf0\x9f\x98", 0},
    };
    Runnel__V1__TaskDoneRequest t = RUNNEL__V1__TASK_DONE_REQUEST__INIT;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[128];
        t.job_id = (char *)cases[i].s;
        if (cases[i].bad == SIZE_MAX) {
            expect(&t.base, &test_limits, 0, NULL);
            continue;
        }
        snprintf(msg, sizeof(msg),
                 "TaskDoneRequest.job_id: not valid UTF-8 (byte %zu)",
                 cases[i].bad);
        expect3(&t.base, &test_limits, 0, RN_EFORMAT, msg);
    }
    /* RN_PB_ANY_TEXT: not checked */
    t.job_id = (char *)"j-1";
    t.error = (char *)"bad line '\xff\xfe' in caf\xc3";
    expect(&t.base, &test_limits, 0, NULL);
}

static void test_wire_malformed(void **state)
{
    static const struct {
        const char *b;
        size_t n;
        const char *why;
    } cases[] = {
        {"\x0a\x05" "ab", 4, ""},   /* a length past the end */
        {"\x0a", 1, ""},            /* no length */
        {"\x10\xff\xff", 3, ""},    /* a varint cut */
        {"\x11\x01\x02", 3, ""},    /* fixed64 cut */
        {"\x00\x01", 2, " (a field number out of range)"},
        {"\x0b\x0c", 2, " (a group or an unknown wire type)"},
        {"\x0f", 1, " (a group or an unknown wire type)"},
    };
    rn_errbuf err;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "HeartbeatRequest: malformed message%s",
                 cases[i].why);
        rn_error_clear(&err);
        assert_int_equal(rn_pb_check_wire(&runnel__v1__heartbeat_request__descriptor,
                                          cases[i].b, cases[i].n, &test_limits,
                                          &err),
                         RN_EFORMAT);
        assert_string_equal(err.msg, msg);
        /* protobuf-c refuses them too */
        assert_null(raw_unpack(&runnel__v1__heartbeat_request__descriptor,
                                 cases[i].b, cases[i].n));
    }
    /* inside a nested message: the path says where */
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check_wire(&runnel__v1__heartbeat_request__descriptor,
                                      "\x42\x02\x0a\x05", 4, &test_limits, &err),
                     RN_EFORMAT);
    assert_string_equal(err.msg,
                        "HeartbeatRequest.plugins[0]: malformed message");
    /* empty is a valid message */
    assert_int_equal(rn_pb_check_wire(&runnel__v1__heartbeat_request__descriptor,
                                      NULL, 0, &test_limits, &err),
                     0);
}

/* Packed and unpacked encodings of a repeated scalar count the same;
 * merged occurrences of a message field are counted after unpacking. */
static void test_wire_encodings(void **state)
{
    /* TasksDoneReply.accepted (1), 21 entries: unpacked, then packed in
     * two runs */
    uint8_t b[64];
    size_t n = 0;
    rn_errbuf err;
    Runnel__V1__TasksDoneReply *r;
    (void)state;
    for (int i = 0; i < 21; i++) {
        b[n++] = 0x08;
        b[n++] = 1;
    }
    assert_int_equal(rn_pb_check_wire(&runnel__v1__tasks_done_reply__descriptor, b,
                                      n, &test_limits, &err),
                     RN_ELIMIT);
    assert_string_equal(err.msg, "TasksDoneReply.accepted: 21 entries, at most 20");
    n = 0;
    b[n++] = 0x0a;
    b[n++] = 11;
    memset(b + n, 1, 11);
    n += 11;
    b[n++] = 0x0a;
    b[n++] = 10;
    memset(b + n, 0, 10);
    n += 10;
    assert_int_equal(rn_pb_check_wire(&runnel__v1__tasks_done_reply__descriptor, b,
                                      n, &test_limits, &err),
                     RN_ELIMIT);
    assert_string_equal(err.msg, "TasksDoneReply.accepted: 21 entries, at most 20");
    r = raw_unpack(&runnel__v1__tasks_done_reply__descriptor, b, n);
    assert_non_null(r);
    assert_int_equal(r->n_accepted, 21);
    rn_pb_free(r);

    /* PushPluginRequest.plugin (a message, not repeated) twice, each
     * with 3 bytes of id: protobuf-c keeps one (the later) */
    n = 0;
    for (int k = 0; k < 2; k++) {
        b[n++] = 0x0a;
        b[n++] = 5;
        b[n++] = 0x0a;
        b[n++] = 3;
        memcpy(b + n, "abc", 3);
        n += 3;
    }
    assert_int_equal(rn_pb_check_wire(&runnel__v1__push_plugin_request__descriptor,
                                      b, n, &test_limits, &err),
                     0);
}

/* ------------------------------------------- proto2 / proto3 optional -- */

/* protoc-c 1.4 makes no proto3 `optional` fields; newer ones make them
 * as proto2 optionals: LABEL_OPTIONAL, with a has_ member for bytes and
 * scalars, a NULL pointer for an absent string or message. A message
 * type written by hand, as protoc-c would generate it for
 *   message Inner { optional string s = 1; }
 *   message Opt { optional string s = 1; optional bytes b = 2;
 *                 required string r = 3; optional Inner m = 4; } */
typedef struct t_inner {
    ProtobufCMessage base;
    char *s;
} t_inner;

typedef struct t_opt {
    ProtobufCMessage base;
    char *s;
    protobuf_c_boolean has_b;
    ProtobufCBinaryData b;
    char *r;
    t_inner *m;
} t_opt;

static const ProtobufCMessageDescriptor t_inner_desc;
static const ProtobufCMessageDescriptor t_opt_desc;

static void t_inner_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(t_inner));
    m->descriptor = &t_inner_desc;
}

static void t_opt_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(t_opt));
    m->descriptor = &t_opt_desc;
}

static const ProtobufCFieldDescriptor t_inner_fields[1] = {
    {"s", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0,
     offsetof(t_inner, s), NULL, NULL, 0, 0, NULL, NULL},
};
static const unsigned t_inner_by_name[] = {0};
static const ProtobufCIntRange t_inner_ranges[2] = {{1, 0}, {0, 1}};
static const ProtobufCMessageDescriptor t_inner_desc = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "t.Inner", "Inner", "T__Inner", "t",
    sizeof(t_inner), 1, t_inner_fields, t_inner_by_name, 1, t_inner_ranges,
    t_inner_init, NULL, NULL, NULL};

static const ProtobufCFieldDescriptor t_opt_fields[4] = {
    {"s", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0,
     offsetof(t_opt, s), NULL, NULL, 0, 0, NULL, NULL},
    {"b", 2, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_BYTES,
     offsetof(t_opt, has_b), offsetof(t_opt, b), NULL, NULL, 0, 0, NULL, NULL},
    {"r", 3, PROTOBUF_C_LABEL_REQUIRED, PROTOBUF_C_TYPE_STRING, 0,
     offsetof(t_opt, r), NULL, NULL, 0, 0, NULL, NULL},
    {"m", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_MESSAGE, 0,
     offsetof(t_opt, m), &t_inner_desc, NULL, 0, 0, NULL, NULL},
};
static const unsigned t_opt_by_name[] = {1, 3, 2, 0}; /* b m r s */
static const ProtobufCIntRange t_opt_ranges[2] = {{1, 0}, {0, 4}};
static const ProtobufCMessageDescriptor t_opt_desc = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "t.Opt", "Opt", "T__Opt", "t",
    sizeof(t_opt), 4, t_opt_fields, t_opt_by_name, 1, t_opt_ranges,
    t_opt_init, NULL, NULL, NULL};

static const rn_pb_bound opt_bounds[] = {
    {"Opt.s", 4, 0},
    {"Opt.b", 4, 0},
    {"Opt.r", 4, 0},
    {"Inner.s", 2, 0},
};
static const rn_pb_limits opt_limits = {
    32, 64, 20, 6, 100, 2, opt_bounds, sizeof(opt_bounds) / sizeof(opt_bounds[0]),
};

static void test_optional_fields(void **state)
{
    t_opt o;
    t_inner in;
    uint8_t data[8] = {0};
    (void)state;
    t_opt_init(&o.base);
    t_inner_init(&in.base);
    o.r = (char *)"req";
    /* absent: a NULL string, has_b 0 (whatever b holds), no message */
    o.b.len = 1u << 30;
    o.b.data = NULL;
    expect3(&o.base, &opt_limits, 0, 0, NULL);
    o.has_b = 1;
    o.b.len = 5;
    o.b.data = data;
    expect(&o.base, &opt_limits, RN_ELIMIT, "Opt.b: 5 bytes, at most 4");
    o.b.len = 4;
    o.s = (char *)"12345";
    expect(&o.base, &opt_limits, RN_ELIMIT, "Opt.s: 5 bytes, at most 4");
    o.s = (char *)"1234";
    o.m = &in;
    expect(&o.base, &opt_limits, 0, NULL);
    in.s = (char *)"abc";
    expect(&o.base, &opt_limits, RN_ELIMIT, "Opt.m.s: 3 bytes, at most 2");
    in.s = NULL;
    o.r = (char *)"12345";
    expect(&o.base, &opt_limits, RN_ELIMIT, "Opt.r: 5 bytes, at most 4");
}

/* -------------------------------------------------- the Heartbeat attack -- */

/* One 2 MB HeartbeatRequest listing 1 M empty plugins grew a scheduler
 * from 113 MB to 662 MB. Refused on the wire before anything is
 * unpacked, and again after unpacking. */
static void test_heartbeat_attack(void **state)
{
    enum { N = 1000000 };
    Runnel__V1__HeartbeatRequest hb = RUNNEL__V1__HEARTBEAT_REQUEST__INIT;
    Runnel__V1__PluginRef empty = RUNNEL__V1__PLUGIN_REF__INIT;
    Runnel__V1__PluginRef **ptrs = rn_malloc(N * sizeof(*ptrs));
    Runnel__V1__HeartbeatRequest *got;
    static const rn_pb_bound b[] = {{"HeartbeatRequest.plugins", 256, 0}};
    static const rn_pb_limits lim = {4096, 65536, 1024, 16, 1 << 20, 1024, b, 1};
    uint8_t *buf;
    size_t n, before;
    rn_errbuf err;
    (void)state;
    assert_non_null(ptrs);
    for (size_t i = 0; i < N; i++)
        ptrs[i] = &empty;
    hb.worker_id = (char *)"w-0123abcd";
    hb.plugins = ptrs;
    hb.n_plugins = N;
    buf = pack(&hb.base, &n);
    rn_free(ptrs);
    assert_true(n < 2100000);

    before = rn_alloc_in_use();
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check_wire(&runnel__v1__heartbeat_request__descriptor,
                                      buf, n, &lim, &err),
                     RN_ELIMIT);
    assert_string_equal(err.msg,
                        "HeartbeatRequest.plugins: 1000000 entries, at most 256");
    assert_int_equal(rn_alloc_in_use(), before); /* nothing allocated */

    got = raw_unpack(&runnel__v1__heartbeat_request__descriptor, buf, n);
    assert_non_null(got);
    assert_int_equal(got->n_plugins, N);
    rn_error_clear(&err);
    assert_int_equal(rn_pb_check(&got->base, &lim, &err), RN_ELIMIT);
    assert_string_equal(err.msg,
                        "HeartbeatRequest.plugins: 1000000 entries, at most 256");
    rn_pb_free(got);
    rn_free(buf);
}

/* ------------------------------------------------------------- speed -- */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The per-batch check of the scheduler's busiest call: 1024 outcomes. */
/* No allocation per check; what one check costs is printed. */
static void test_cost_of_tasks_done(void **state)
{
    enum { N = 1024, ROUNDS = 300 };
    static const rn_pb_bound b[] = {
        {"TasksDoneRequest.tasks", 1024, 0},
        {"TaskDoneRequest.error", 4096, RN_PB_ANY_TEXT},
    };
    static const rn_pb_limits lim = {4096, 65536, 1024, 16, 1 << 20, 1024, b, 2};
    Runnel__V1__TasksDoneRequest r = RUNNEL__V1__TASKS_DONE_REQUEST__INIT;
    Runnel__V1__TaskDoneRequest *t = rn_calloc(N, sizeof(*t));
    Runnel__V1__TaskDoneRequest **pt = rn_calloc(N, sizeof(*pt));
    Runnel__V1__TasksDoneRequest *got;
    uint8_t *buf;
    size_t n, before;
    double t0, post, wire;
    (void)state;
    assert_non_null(t);
    assert_non_null(pt);
    for (size_t i = 0; i < N; i++) {
        runnel__v1__task_done_request__init(&t[i]);
        t[i].worker_id = (char *)"w-0123abcd";
        t[i].job_id = (char *)"j-0123456789";
        t[i].task_id = (uint32_t)i;
        t[i].attempt = 1;
        t[i].outcome = RUNNEL__V1__TASK_OUTCOME__TASK_OK;
        t[i].bytes = 123456;
        t[i].items = 1000;
        t[i].seconds = 0.0042;
        pt[i] = &t[i];
    }
    r.worker_id = (char *)"w-0123abcd";
    r.tasks = pt;
    r.n_tasks = N;
    buf = pack(&r.base, &n);
    got = raw_unpack(&runnel__v1__tasks_done_request__descriptor, buf, n);
    assert_non_null(got);
    assert_int_equal(rn_pb_check(&got->base, &lim, NULL), 0); /* warm */
    before = rn_alloc_in_use();
    t0 = now_us();
    for (int k = 0; k < ROUNDS; k++)
        assert_int_equal(rn_pb_check(&got->base, &lim, NULL), 0);
    post = (now_us() - t0) / ROUNDS;
    t0 = now_us();
    for (int k = 0; k < ROUNDS; k++)
        assert_int_equal(rn_pb_check_wire(&runnel__v1__tasks_done_request__descriptor,
                                          buf, n, &lim, NULL),
                         0);
    wire = (now_us() - t0) / ROUNDS;
    assert_int_equal(rn_alloc_in_use(), before); /* no allocation per check */
    printf("TasksDoneRequest of %d tasks (%zu bytes): rn_pb_check %.1f us, "
           "rn_pb_check_wire %.1f us\n",
           N, n, post, wire);
    /* the cost is printed, not asserted: timings belong in bench/ (about
     * 14 and 35 us here, built with -O2) */
    rn_pb_free(got);
    rn_free(buf);
    rn_free(t);
    rn_free(pt);
}

/* ------------------------------------------------- without the cache -- */

/* Runs the scenarios of the tests above, once with the cache of
 * resolved bounds available and once after it is full: the same
 * results. Kept last: the cache stays full for the process. */
static void run_all_kinds(void)
{
    test_repeated(NULL);
    test_repeated_default_and_scalars(NULL);
    test_string(NULL);
    test_bytes(NULL);
    test_nested_path(NULL);
    test_oneof(NULL);
    test_depth(NULL);
    test_depth_bomb_on_the_wire(NULL);
    test_total(NULL);
    test_root_total(NULL);
    test_unknown_fields(NULL);
    test_utf8(NULL);
    test_wire_malformed(NULL);
    test_wire_encodings(NULL);
    test_optional_fields(NULL);
}

static void test_cache_full(void **state)
{
    Runnel__V1__InfoReply info = RUNNEL__V1__INFO_REPLY__INIT;
    rn_errbuf err;
    (void)state;
    /* each distinct table makes plans for InfoReply, Service, WorkerInfo,
     * TaskCounts and PluginRef: 200 tables fill the 512 places */
    for (size_t i = 0; i < 200; i++) {
        rn_pb_limits lim = limits_a;
        lim.string_max = 1000 + i;
        assert_int_equal(rn_pb_check(&info.base, &lim, &err), 0);
    }
    /* a table the cache has not seen: bounds resolved on every use */
    cur = &limits_b;
    run_all_kinds();
    cur = &limits_a;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated),
        cmocka_unit_test(test_repeated_default_and_scalars),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_nested_path),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_depth_bomb_on_the_wire),
        cmocka_unit_test(test_total),
        cmocka_unit_test(test_root_total),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_wire_malformed),
        cmocka_unit_test(test_wire_encodings),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_heartbeat_attack),
        cmocka_unit_test(test_cost_of_tasks_done),
        cmocka_unit_test(test_cache_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
