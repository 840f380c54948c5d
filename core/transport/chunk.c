/* Chunked objects over gRPC streams. */
#include "transport/chunk.h"

#include <string.h>

#include "value/codec.h"

/* The largest object a receiver takes in one piece. Partitions are
 * bounded by the codec (lengths < 2^32 per value) and by memory; a
 * plugin file is far smaller. */
#define MAX_OBJECT ((uint64_t)16 << 30)

int rn_chunk_send(rn_rpc_call *c, const void *data, size_t n, int timeout_ms)
{
    Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
    size_t off = 0;
    int rc;
    ch.total = n;
    do {
        size_t k = n - off < RN_RPC_CHUNK ? n - off : RN_RPC_CHUNK;
        ch.offset = off;
        ch.data.data = (uint8_t *)data + off;
        ch.data.len = k;
        if ((rc = rn_rpc_send_pb(c, &ch, timeout_ms)))
            return rc;
        off += k;
    } while (off < n);
    return 0;
}

void rn_chunk_rx_init(rn_chunk_rx *rx, rn_buf *out, uint64_t max)
{
    memset(rx, 0, sizeof(*rx));
    rx->out = out;
    rx->max = max ? max : MAX_OBJECT;
    rn_buf_reset(out);
}

int rn_chunk_rx_add(rn_chunk_rx *rx, const Runnel__V1__Chunk *ch,
                    rn_errbuf *err)
{
    uint64_t got = rx->out->len;
    int rc;
    if (!rx->started) {
        if (ch->total > rx->max)
            return rn_error_set(err, RN_ELIMIT,
                                "object of %llu bytes is over the limit of "
                                "%llu bytes",
                                (unsigned long long)ch->total,
                                (unsigned long long)rx->max);
        rx->total = ch->total;
        rx->started = 1;
        /* reserve what the sender announced, in one piece */
        if (rx->total &&
            (rc = rn_buf_reserve(rx->out, rx->total < ((uint64_t)64 << 20)
                                              ? (size_t)rx->total
                                              : (size_t)64 << 20)))
            return rn_error_set(err, rc, "cannot hold %llu bytes",
                                (unsigned long long)rx->total);
    }
    if (ch->total != rx->total)
        return rn_error_set(err, RN_EFORMAT,
                            "chunk says the object has %llu bytes, an "
                            "earlier one said %llu",
                            (unsigned long long)ch->total,
                            (unsigned long long)rx->total);
    if (ch->offset != got)
        return rn_error_set(err, RN_EFORMAT,
                            "chunk at offset %llu, expected %llu",
                            (unsigned long long)ch->offset,
                            (unsigned long long)got);
    if (ch->data.len > rx->total - got)
        return rn_error_set(err, RN_EFORMAT,
                            "chunk of %zu bytes at %llu runs past the total "
                            "of %llu",
                            ch->data.len, (unsigned long long)got,
                            (unsigned long long)rx->total);
    if (ch->data.len && (rc = rn_buf_append(rx->out, ch->data.data, ch->data.len)))
        return rn_error_set(err, rc, "cannot hold %llu bytes",
                            (unsigned long long)rx->total);
    return 0;
}

int rn_chunk_rx_end(rn_chunk_rx *rx, const char *what, rn_errbuf *err)
{
    if (!rx->started)
        return rn_error_set(err, RN_EFORMAT, "%s: empty stream (no chunk)", what);
    if (rx->out->len != rx->total)
        return rn_error_set(err, RN_EFORMAT,
                            "%s: truncated stream: got %zu of %llu bytes", what,
                            rx->out->len, (unsigned long long)rx->total);
    return 0;
}

int rn_chunk_recv(rn_rpc_stream *st, rn_buf *out, uint64_t max, int timeout_ms,
                  const char *what, rn_errbuf *err)
{
    rn_chunk_rx rx;
    int rc = 0, r;
    rn_chunk_rx_init(&rx, out, max);
    for (;;) {
        Runnel__V1__Chunk *ch = NULL;
        r = rn_rpc_stream_recv_pb(st, &runnel__v1__chunk__descriptor,
                                  (void **)&ch, timeout_ms);
        if (r == 0)
            break;
        if (r < 0) {
            if (r == RN_EFORMAT)
                rc = rn_error_set(err, RN_EFORMAT, "%s: malformed chunk message",
                                  what);
            else if ((rc = rn_rpc_stream_finish(st, err)) == 0)
                rc = rn_error_set(err, RN_EREMOTE, "%s: stream broken", what);
            rn_rpc_stream_cancel(st);
            return rc;
        }
        rc = rn_chunk_rx_add(&rx, ch, err);
        rn_pb_free(ch);
        if (rc) {
            rn_error_prefix(err, "%s: ", what);
            rn_rpc_stream_cancel(st);
            return rc;
        }
    }
    if ((rc = rn_rpc_stream_finish(st, err)))
        return rc;
    return rn_chunk_rx_end(&rx, what, err);
}

int rn_chunk_send_partition(rn_rpc_call *c, const rn_partition *p,
                            int timeout_ms, rn_errbuf *err)
{
    rn_buf b;
    int rc;
    rn_buf_init(&b, 0);
    if ((rc = rn_codec_encode(&b, p->items, p->n)))
        rn_error_set(err, rc, "cannot encode a partition of %zu values", p->n);
    else if ((rc = rn_chunk_send(c, b.ptr, b.len, timeout_ms)))
        rn_error_set(err, rc, "the receiver went away");
    rn_buf_release(&b);
    return rc;
}

int rn_chunk_recv_partition(rn_rpc_stream *st, rn_partition *into,
                            int timeout_ms, const char *what, rn_errbuf *err)
{
    rn_buf b;
    int rc;
    rn_buf_init(&b, 0);
    if ((rc = rn_chunk_recv(st, &b, 0, timeout_ms, what, err)) == 0 &&
        (rc = rn_codec_decode(b.ptr, b.len, into, err)))
        rn_error_prefix(err, "%s: ", what);
    rn_buf_release(&b);
    return rc;
}
