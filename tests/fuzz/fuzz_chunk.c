/*
 * libFuzzer target for the receiving side of a Chunk stream
 * (core/transport/chunk.c): the bytes a peer sends when it streams a
 * partition or a plugin file.
 *
 * An input is a stream of messages, each one a 2-byte length (LE) and
 * that many bytes; each message is handed over as a gRPC byte buffer cut
 * into two slices at a point the input chooses (the in-place reader walks
 * slices). The stream is received twice:
 *   A. rn_chunk_rx_msg, the in-place Chunk reader;
 *   B. protobuf-c's unpack + rn_chunk_rx_add, the reference;
 * both must accept or refuse the same stream, and accepted streams must
 * give the same bytes. Then, when the object is complete, it is decoded as
 * a partition through the streaming decoder (rx with a decoder, as
 * rn_chunk_recv_partition does) and must agree with rn_codec_decode of the
 * reassembled bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

#include "base/buf.h"
#include "base/error.h"
#include "transport/chunk.h"
#include "transport/rpc.h"
#include "value/codec.h"
#include "value/partition.h"
#include "value/value.h"

#include "runnel_common.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define MAX_MSGS 64
#define MAX_OBJECT (1u << 20)

typedef struct msg {
    const uint8_t *p;
    size_t n, cut;
} msg;

static size_t split_input(const uint8_t *data, size_t size, msg *ms)
{
    size_t at = 0, k = 0;
    while (k < MAX_MSGS && size - at >= 3) {
        size_t n = (size_t)data[at] | (size_t)data[at + 1] << 8;
        size_t cut = data[at + 2];
        at += 3;
        if (n > size - at)
            n = size - at;
        ms[k].p = data + at;
        ms[k].n = n;
        ms[k].cut = n ? cut % (n + 1) : 0;
        at += n;
        k++;
    }
    return k;
}

static grpc_byte_buffer *to_bb(const msg *m)
{
    grpc_slice s[2];
    grpc_byte_buffer *bb;
    s[0] = grpc_slice_from_copied_buffer((const char *)m->p, m->cut);
    s[1] = grpc_slice_from_copied_buffer((const char *)m->p + m->cut,
                                         m->n - m->cut);
    bb = grpc_raw_byte_buffer_create(s, 2);
    grpc_slice_unref(s[0]);
    grpc_slice_unref(s[1]);
    return bb;
}

/* A: in place. Returns 0 when the whole stream was accepted. */
static int recv_in_place(const msg *ms, size_t k, rn_chunk_rx *rx)
{
    rn_errbuf err;
    rn_error_clear(&err);
    for (size_t i = 0; i < k; i++) {
        grpc_byte_buffer *bb = to_bb(&ms[i]);
        rn_rpc_msg m = {bb};
        int rc = rn_chunk_rx_msg(rx, &m, &err);
        grpc_byte_buffer_destroy(bb);
        if (rc) {
            CHECK(err.msg[0] != '\0');
            return rc;
        }
    }
    return rn_chunk_rx_end(rx, "fuzz", &err);
}

/* B: the bounded unpack every received message goes through
 * (rn_pb_unpack: the wire checks, then protobuf-c), then the checks. Not
 * protobuf-c alone: it accepts what the wire checks refuse (a tag past
 * 32 bits, say), so the in-place reader, which falls back to
 * rn_pb_unpack, must agree with rn_pb_unpack, not with protobuf-c. */
static int recv_unpacked(const msg *ms, size_t k, rn_chunk_rx *rx)
{
    rn_errbuf err;
    rn_error_clear(&err);
    for (size_t i = 0; i < k; i++) {
        Runnel__V1__Chunk *ch =
            rn_pb_unpack(&runnel__v1__chunk__descriptor, ms[i].p, ms[i].n);
        int rc;
        if (!ch)
            return RN_EFORMAT;
        rc = rn_chunk_rx_add(rx, ch, &err);
        rn_pb_free(ch);
        if (rc)
            return rc;
    }
    return rn_chunk_rx_end(rx, "fuzz", &err);
}

/* The complete object as a partition: streamed into the decoder as
 * chunks arrive must agree with decoding the reassembled bytes. */
static void decode_both(const msg *ms, size_t k, const rn_buf *whole)
{
    rn_partition *ps = rn_partition_new(), *pw = rn_partition_new();
    rn_chunk_rx rx;
    rn_codec_dec d;
    rn_errbuf es, ew;
    int rs = 0, rw;

    CHECK(ps && pw);
    rn_error_clear(&es);
    rn_error_clear(&ew);
    rn_chunk_rx_init(&rx, NULL, MAX_OBJECT);
    rn_codec_dec_begin(&d, ps);
    rx.dec = &d;
    for (size_t i = 0; i < k && rs == 0; i++) {
        grpc_byte_buffer *bb = to_bb(&ms[i]);
        rn_rpc_msg m = {bb};
        rs = rn_chunk_rx_msg(&rx, &m, &es);
        grpc_byte_buffer_destroy(bb);
    }
    if (rs == 0)
        rs = rn_chunk_rx_end(&rx, "fuzz", &es);
    if (rs == 0)
        rs = rn_codec_dec_end(&d, &es);
    rn_codec_dec_release(&d);
    rw = rn_codec_decode(whole->ptr ? (const void *)whole->ptr : "", whole->len,
                         pw, &ew);
    CHECK((rs == 0) == (rw == 0));
    if (rs == 0) {
        CHECK(ps->n == pw->n);
        for (size_t i = 0; i < ps->n; i++)
            CHECK(rn_value_equal(&ps->items[i], &pw->items[i]));
    } else {
        CHECK(strcmp(es.msg, ew.msg) == 0); /* the same message */
    }
    rn_partition_unref(ps);
    rn_partition_unref(pw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg ms[MAX_MSGS];
    size_t k = split_input(data, size, ms);
    rn_buf a, b;
    rn_chunk_rx rxa, rxb;
    int ra, rb;

    rn_buf_init(&a, MAX_OBJECT);
    rn_buf_init(&b, MAX_OBJECT);
    rn_chunk_rx_init(&rxa, &a, MAX_OBJECT);
    rn_chunk_rx_init(&rxb, &b, MAX_OBJECT);
    ra = recv_in_place(ms, k, &rxa);
    rb = recv_unpacked(ms, k, &rxb);
    CHECK((ra == 0) == (rb == 0));
    if (ra == 0) {
        CHECK(a.len == b.len);
        CHECK(a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
        decode_both(ms, k, &a);
    }
    rn_buf_release(&a);
    rn_buf_release(&b);
    return 0;
}
