#define _GNU_SOURCE
/* The gRPC transport (core/transport): unary round trip, a 20 MiB
 * partition streamed in chunks, deadlines, unknown methods, garbage and
 * truncated streams. Real server and client on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "transport/chunk.h"
#include "transport/rpc.h"
#include "value/codec.h"
#include "value/value.h"

#include "runnel_scheduler.pb-c.h"
#include "runnel_worker.pb-c.h"

#define M_ECHO "/runnel.test.T/Echo"
#define M_SLOW "/runnel.test.T/Slow"
#define M_PART "/runnel.test.T/Part"
#define M_TRUNC "/runnel.test.T/Trunc"
#define M_UPLOAD "/runnel.test.T/Upload"
#define M_ODD "/runnel.test.T/Odd"
#define M_BADCHUNK "/runnel.test.T/BadChunk"
#define M_CORRUPT "/runnel.test.T/Corrupt"
#define M_BIG "/runnel.test.T/Big"

static rn_partition *big_partition(size_t bytes)
{
    rn_partition *p = rn_partition_new();
    char s[1000];
    size_t total = 0;
    for (size_t i = 0; total < bytes; i++) {
        size_t len = 200 + i % 700;
        for (size_t k = 0; k < len; k++)
            s[k] = (char)('a' + (i + k) % 26);
        rn_value v = rn_string(s, (uint32_t)len);
        assert_int_equal(rn_partition_push(p, &v), 0);
        v = rn_int((int64_t)i * 7919);
        assert_int_equal(rn_partition_push(p, &v), 0);
        total += len + 16;
    }
    return p;
}

static rn_partition *g_part; /* served by M_PART */
static rn_partition *g_big;  /* served by M_BIG: long strings, sent as views */

/* Echo: a RegisterRequest comes back as a RegisterReply with its name. */
static void h_echo(rn_rpc_call *c, void *ud)
{
    Runnel__V1__RegisterRequest *req = NULL;
    Runnel__V1__RegisterReply rep = RUNNEL__V1__REGISTER_REPLY__INIT;
    (void)ud;
    if (rn_rpc_recv_pb(c, &runnel__v1__register_request__descriptor,
                       (void **)&req, 5000) != 1)
        return; /* answered already (malformed) or the call broke */
    if (strcmp(req->name, "fail") == 0) {
        rn_rpc_finish(c, RN_RPC_NOT_FOUND, "no worker called %s", req->name);
    } else {
        rep.worker_id = req->name;
        rep.heartbeat_ms = req->nthreads * 2;
        rn_rpc_send_pb(c, &rep, 5000);
        rn_rpc_finish_ok(c);
    }
    rn_pb_free(req);
}

static void h_slow(rn_rpc_call *c, void *ud)
{
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_rpc_recv(c, &b, 5000);
    for (int i = 0; i < 100 && !rn_rpc_should_stop(c); i++)
        usleep(20 * 1000);
    rn_rpc_send(c, "x", 1, 1000);
    rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

static void h_part(rn_rpc_call *c, void *ud)
{
    rn_errbuf err;
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_rpc_recv(c, &b, 5000);
    if (rn_chunk_send_partition(c, g_part, 10000, &err))
        rn_rpc_finish_err(c, &err);
    else
        rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

static void h_big(rn_rpc_call *c, void *ud)
{
    rn_errbuf err;
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_rpc_recv(c, &b, 5000);
    if (rn_chunk_send_partition(c, g_big, 10000, &err))
        rn_rpc_finish_err(c, &err);
    else
        rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

/* Announces 3 MiB and sends 1: a truncated stream, ending OK. */
static void h_trunc(rn_rpc_call *c, void *ud)
{
    Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
    static uint8_t data[1 << 20];
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_rpc_recv(c, &b, 5000);
    ch.total = 3 << 20;
    ch.data.data = data;
    ch.data.len = sizeof(data);
    rn_rpc_send_pb(c, &ch, 5000);
    rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

/* "0123456789" as two chunks in layouts protobuf allows but the sender
 * never writes: fields in reverse order, then an unknown field after the
 * data. The receiver must take them through protobuf-c. */
static void h_odd(rn_rpc_call *c, void *ud)
{
    static const uint8_t one[] = {0x1a, 4, '0', '1', '2', '3', 0x10, 10};
    static const uint8_t two[] = {0x10, 10, 0x08, 4, 0x1a, 6, '4', '5', '6',
                                  '7', '8', '9', 0x48, 0x01};
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_rpc_recv(c, &b, 5000);
    rn_rpc_send(c, one, sizeof(one), 5000);
    rn_rpc_send(c, two, sizeof(two), 5000);
    rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

/* A chunk that is not a protobuf message. */
static void h_badchunk(rn_rpc_call *c, void *ud)
{
    static const uint8_t junk[] = {0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1};
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_rpc_recv(c, &b, 5000);
    rn_rpc_send(c, junk, sizeof(junk), 5000);
    rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

/* g_part's encoding with one body byte flipped, in chunks. */
static void h_corrupt(rn_rpc_call *c, void *ud)
{
    rn_buf b, enc;
    (void)ud;
    rn_buf_init(&b, 0);
    rn_buf_init(&enc, 0);
    rn_rpc_recv(c, &b, 5000);
    if (rn_codec_encode(&enc, g_part->items, g_part->n) == 0) {
        enc.ptr[enc.len / 2] ^= 0x20;
        rn_chunk_send(c, enc.ptr, enc.len, 10000);
    }
    rn_rpc_finish_ok(c);
    rn_buf_release(&enc);
    rn_buf_release(&b);
}

/* Client-streaming: counts the bytes of every chunk. */
static void h_upload(rn_rpc_call *c, void *ud)
{
    Runnel__V1__PushPluginReply rep = RUNNEL__V1__PUSH_PLUGIN_REPLY__INIT;
    uint64_t n = 0;
    char id[32];
    int r;
    (void)ud;
    for (;;) {
        Runnel__V1__Chunk *ch = NULL;
        r = rn_rpc_recv_pb(c, &runnel__v1__chunk__descriptor, (void **)&ch, 5000);
        if (r <= 0)
            break;
        n += ch->data.len;
        rn_pb_free(ch);
    }
    if (r < 0)
        return;
    snprintf(id, sizeof(id), "%llu", (unsigned long long)n);
    rep.id = id;
    rn_rpc_send_pb(c, &rep, 5000);
    rn_rpc_finish_ok(c);
}

static rn_rpc_server *g_srv;
static rn_rpc_channel *g_ch;

static int setup(void **state)
{
    rn_errbuf err;
    int port = 0;
    char target[64];
    (void)state;
    rn_rpc_init();
    if (rn_rpc_server_new(&g_srv, "127.0.0.1:0", NULL, &err))
        return -1;
    rn_rpc_server_add(g_srv, M_ECHO, h_echo, NULL);
    rn_rpc_server_add(g_srv, M_SLOW, h_slow, NULL);
    rn_rpc_server_add(g_srv, M_PART, h_part, NULL);
    rn_rpc_server_add(g_srv, M_TRUNC, h_trunc, NULL);
    rn_rpc_server_add(g_srv, M_UPLOAD, h_upload, NULL);
    rn_rpc_server_add(g_srv, M_ODD, h_odd, NULL);
    rn_rpc_server_add(g_srv, M_BADCHUNK, h_badchunk, NULL);
    rn_rpc_server_add(g_srv, M_CORRUPT, h_corrupt, NULL);
    rn_rpc_server_add(g_srv, M_BIG, h_big, NULL);
    if (rn_rpc_server_start(g_srv, &port, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    g_ch = rn_rpc_channel_new(target, NULL, NULL);
    g_part = big_partition((size_t)20 << 20);
    /* strings of 1.5 MiB, 64 KiB, 64 KiB - 1, 300 KB and small ones
     * between: pieces of views and of copies */
    if ((g_big = rn_partition_new())) {
        static const size_t lens[] = {1572864, 7, 65536, 65535, 1, 300000, 0};
        char *s = malloc(1572864);
        if (!s)
            return -1;
        for (size_t i = 0; i < 1572864; i++)
            s[i] = (char)(i * 7 + i / 4096);
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            rn_value v = i % 2 ? rn_bytes(s + i, (uint32_t)lens[i])
                               : rn_string(s + i, (uint32_t)lens[i]);
            rn_value w = rn_int((int64_t)i);
            rn_partition_push(g_big, &v);
            rn_partition_push(g_big, &w);
        }
        free(s);
    }
    return g_ch ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rn_rpc_channel_free(g_ch);
    rn_rpc_server_free(g_srv, 1000);
    rn_partition_unref(g_part);
    rn_partition_unref(g_big);
    rn_rpc_shutdown();
    return 0;
}

static void test_unary_roundtrip(void **state)
{
    Runnel__V1__RegisterRequest req = RUNNEL__V1__REGISTER_REQUEST__INIT;
    Runnel__V1__RegisterReply *rep = NULL;
    rn_errbuf err;
    (void)state;
    req.name = "w1";
    req.nthreads = 21;
    assert_int_equal(rn_rpc_unary_pb(g_ch, M_ECHO, &req,
                                     &runnel__v1__register_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     0);
    assert_string_equal(rep->worker_id, "w1");
    assert_int_equal(rep->heartbeat_ms, 42);
    rn_pb_free(rep);
    /* a status with details reaches the client as an rn_err */
    req.name = "fail";
    assert_int_equal(rn_rpc_unary_pb(g_ch, M_ECHO, &req,
                                     &runnel__v1__register_reply__descriptor,
                                     (void **)&rep, 5000, &err),
                     RN_ENOTFOUND);
    assert_null(rep);
    assert_string_equal(err.msg, "no worker called fail");
}

static void test_garbage_payload(void **state)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34};
    rn_errbuf err;
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_rpc_unary(g_ch, M_ECHO, junk, sizeof(junk), &b, 5000, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "malformed"));
    rn_buf_release(&b);
    /* and the server still answers */
    test_unary_roundtrip(state);
}

static void test_partition_20mib(void **state)
{
    rn_rpc_stream *st = NULL;
    rn_partition *got = rn_partition_new();
    rn_errbuf err;
    int64_t t0 = rn_rpc_now_ms();
    (void)state;
    assert_int_equal(rn_rpc_stream_open(g_ch, M_PART, "", 0, 1, 30000, &st, &err), 0);
    assert_int_equal(rn_chunk_recv_partition(st, got, 10000, "partition", &err), 0);
    assert_int_equal(got->n, g_part->n);
    for (size_t i = 0; i < got->n; i++)
        assert_true(rn_value_equal(&got->items[i], &g_part->items[i]));
    rn_rpc_stream_free(st);
    rn_partition_unref(got);
    print_message("20 MiB partition in %lld ms\n", (long long)(rn_rpc_now_ms() - t0));
}

static void test_truncated_stream(void **state)
{
    rn_rpc_stream *st = NULL;
    rn_buf b;
    rn_errbuf err;
    (void)state;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_rpc_stream_open(g_ch, M_TRUNC, "", 0, 1, 10000, &st, &err), 0);
    assert_int_equal(rn_chunk_recv(st, &b, 0, 10000, "partition 7", &err), RN_EFORMAT);
    assert_non_null(strstr(err.msg, "partition 7: truncated stream: got 1048576 of 3145728 bytes"));
    rn_rpc_stream_free(st);
    rn_buf_release(&b);
}

/* The chunks a partition is sent in are byte for byte what protobuf-c
 * packs (the sender writes their header by hand), at most RN_RPC_CHUNK of
 * data each, contiguous. */
static void chunks_are_canonical(const char *method)
{
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    rn_buf msg, packed;
    uint64_t off = 0, total = 0;
    int r, n = 0;
    rn_buf_init(&msg, 0);
    rn_buf_init(&packed, 0);
    assert_int_equal(rn_rpc_stream_open(g_ch, method, "", 0, 1, 30000, &st, &err), 0);
    while ((r = rn_rpc_stream_recv(st, &msg, 10000)) == 1) {
        Runnel__V1__Chunk *ch = rn_pb_unpack(&runnel__v1__chunk__descriptor,
                                             msg.ptr, msg.len);
        assert_non_null(ch);
        assert_int_equal(ch->offset, off);
        assert_true(ch->data.len <= RN_RPC_CHUNK && ch->data.len > 0);
        if (n++ == 0)
            total = ch->total;
        assert_int_equal(ch->total, total);
        off += ch->data.len;
        rn_buf_reset(&packed);
        assert_int_equal(rn_buf_reserve(&packed, msg.len + 1), 0);
        assert_int_equal(protobuf_c_message_pack(&ch->base, (uint8_t *)packed.ptr),
                         msg.len);
        assert_memory_equal(packed.ptr, msg.ptr, msg.len);
        rn_pb_free(ch);
    }
    assert_int_equal(r, 0);
    assert_int_equal(rn_rpc_stream_finish(st, &err), 0);
    assert_int_equal(off, total);
    assert_true(n > 1);
    rn_rpc_stream_free(st);
    rn_buf_release(&msg);
    rn_buf_release(&packed);
}

static void test_chunks_are_canonical(void **state)
{
    (void)state;
    chunks_are_canonical(M_PART);
    chunks_are_canonical(M_BIG); /* with long strings sent as views */
}

/* Long strings leave from the partition's own memory (gRPC holds a
 * reference to it): what arrives is the same partition. */
static void test_partition_long_strings(void **state)
{
    rn_rpc_stream *st = NULL;
    rn_partition *got = rn_partition_new();
    rn_errbuf err;
    (void)state;
    assert_non_null(g_big);
    assert_non_null(got);
    assert_int_equal(rn_rpc_stream_open(g_ch, M_BIG, "", 0, 1, 30000, &st, &err), 0);
    assert_int_equal(rn_chunk_recv_partition(st, got, 10000, "partition", &err), 0);
    assert_int_equal(got->n, g_big->n);
    for (size_t i = 0; i < got->n; i++)
        assert_true(rn_value_equal(&got->items[i], &g_big->items[i]));
    rn_rpc_stream_free(st);
    rn_partition_unref(got);
}

static void test_chunks_in_other_layouts(void **state)
{
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_rpc_stream_open(g_ch, M_ODD, "", 0, 1, 10000, &st, &err), 0);
    assert_int_equal(rn_chunk_recv(st, &b, 0, 10000, "object", &err), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.ptr, "0123456789", 10);
    rn_rpc_stream_free(st);

    assert_int_equal(rn_rpc_stream_open(g_ch, M_BADCHUNK, "", 0, 1, 10000, &st, &err), 0);
    assert_int_equal(rn_chunk_recv(st, &b, 0, 10000, "object 3", &err), RN_EFORMAT);
    assert_string_equal(err.msg, "object 3: malformed chunk message");
    rn_rpc_stream_free(st);
    rn_buf_release(&b);
}

/* A corrupted partition is refused whole, with the checksum error, even
 * though most of it was decoded while it arrived. */
static void test_corrupted_partition(void **state)
{
    rn_rpc_stream *st = NULL;
    rn_partition *got = rn_partition_new();
    rn_errbuf err;
    (void)state;
    assert_non_null(got);
    assert_int_equal(rn_rpc_stream_open(g_ch, M_CORRUPT, "", 0, 1, 30000, &st, &err), 0);
    assert_int_equal(rn_chunk_recv_partition(st, got, 10000, "partition 2", &err),
                     RN_EFORMAT);
    assert_non_null(strstr(err.msg, "partition 2: bad encoded partition at byte offset "));
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    assert_int_equal(got->n, 0);
    rn_rpc_stream_free(st);
    rn_partition_unref(got);
}

static void test_client_stream(void **state)
{
    Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
    Runnel__V1__PushPluginReply *rep = NULL;
    static uint8_t data[300000];
    rn_rpc_stream *st = NULL;
    rn_errbuf err;
    (void)state;
    assert_int_equal(rn_rpc_stream_open(g_ch, M_UPLOAD, NULL, 0, 0, 10000, &st, &err), 0);
    for (int i = 0; i < 10; i++) {
        ch.data.data = data;
        ch.data.len = sizeof(data);
        assert_int_equal(rn_rpc_stream_send_pb(st, &ch), 0);
    }
    assert_int_equal(rn_rpc_stream_close_send(st), 0);
    assert_int_equal(rn_rpc_stream_recv_pb(st, &runnel__v1__push_plugin_reply__descriptor,
                                           (void **)&rep, 5000),
                     1);
    assert_string_equal(rep->id, "3000000");
    rn_pb_free(rep);
    assert_int_equal(rn_rpc_stream_finish(st, &err), 0);
    rn_rpc_stream_free(st);
}

static void test_deadline(void **state)
{
    rn_errbuf err;
    rn_buf b;
    int64_t t0 = rn_rpc_now_ms(), dt;
    (void)state;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_rpc_unary(g_ch, M_SLOW, "", 0, &b, 200, &err), RN_EREMOTE);
    dt = rn_rpc_now_ms() - t0;
    assert_non_null(strstr(err.msg, "timed out"));
    assert_true(dt >= 150 && dt < 1500);
    rn_buf_release(&b);
}

static void test_unknown_method(void **state)
{
    rn_errbuf err;
    rn_buf b;
    int64_t t0 = rn_rpc_now_ms();
    (void)state;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_rpc_unary(g_ch, "/runnel.test.T/Nope", "", 0, &b, 10000, &err),
                     RN_EREMOTE);
    /* answered at once, not at the deadline */
    assert_true(rn_rpc_now_ms() - t0 < 3000);
    assert_non_null(strstr(err.msg, "unknown method /runnel.test.T/Nope"));
    rn_buf_release(&b);
}

static void test_unreachable(void **state)
{
    rn_rpc_channel *ch = rn_rpc_channel_new("127.0.0.1:1", NULL, NULL);
    rn_errbuf err;
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_rpc_unary(ch, M_ECHO, "", 0, &b, 2000, &err), RN_EREMOTE);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    rn_buf_release(&b);
    rn_rpc_channel_free(ch);
}

static void test_target(void **state)
{
    char t[64];
    rn_errbuf err;
    (void)state;
    assert_int_equal(rn_rpc_target("tcp://10.0.0.1:8786", t, sizeof(t), &err), 0);
    assert_string_equal(t, "10.0.0.1:8786");
    assert_int_equal(rn_rpc_target("host:1", t, sizeof(t), &err), 0);
    assert_int_equal(rn_rpc_target("tcp://[::1]:99", t, sizeof(t), &err), 0);
    assert_string_equal(t, "[::1]:99");
    assert_int_equal(rn_rpc_target("tcp://host", t, sizeof(t), &err), RN_EINVAL);
    assert_int_equal(rn_rpc_target("http://h:1", t, sizeof(t), &err), RN_EINVAL);
    assert_int_equal(rn_rpc_target("tcp://h:99999", t, sizeof(t), &err), RN_EINVAL);
    assert_int_equal(rn_rpc_target("", t, sizeof(t), &err), RN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_unary_roundtrip),
        cmocka_unit_test(test_garbage_payload),
        cmocka_unit_test(test_partition_20mib),
        cmocka_unit_test(test_truncated_stream),
        cmocka_unit_test(test_chunks_are_canonical),
        cmocka_unit_test(test_partition_long_strings),
        cmocka_unit_test(test_chunks_in_other_layouts),
        cmocka_unit_test(test_corrupted_partition),
        cmocka_unit_test(test_client_stream),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_unknown_method),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
