/* Chunked objects over gRPC streams. */
#include "transport/chunk.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "value/codec.h"

/* The largest object a receiver takes in one piece. Partitions are
 * bounded by the codec (lengths < 2^32 per value) and by memory; a
 * plugin file is far smaller. */
#define MAX_OBJECT ((uint64_t)16 << 30)

/* Room kept before a chunk's data for its protobuf header: three tags, two
 * 10-byte varints and a 5-byte length. */
#define HEAD_ROOM 32

/* Data bytes per chunk sent (docs/PROTOCOL.md: at most 1 MiB). */
#ifndef PIECE
#define PIECE RN_RPC_CHUNK
#endif

/* protobuf field keys of runnel.v1.Chunk (runnel_common.proto) */
#define KEY_OFFSET 0x08 /* field 1, varint */
#define KEY_TOTAL 0x10  /* field 2, varint */
#define KEY_DATA 0x1a   /* field 3, length-delimited */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Writes Chunk{offset, total, data: len bytes} as protobuf-c packs it
 * (fields in order; proto3 leaves zero fields out) into the HEAD_ROOM
 * bytes before mem + HEAD_ROOM, where the data is. Returns where the
 * message starts in mem. */
static size_t put_head(uint8_t *mem, uint64_t offset, uint64_t total,
                       size_t len)
{
    uint8_t h[HEAD_ROOM], *p = h;
    if (offset) {
        *p++ = KEY_OFFSET;
        p = put_varint(p, offset);
    }
    if (total) {
        *p++ = KEY_TOTAL;
        p = put_varint(p, total);
    }
    if (len) {
        *p++ = KEY_DATA;
        p = put_varint(p, len);
    }
    memcpy(mem + HEAD_ROOM - (size_t)(p - h), h, (size_t)(p - h));
    return HEAD_ROOM - (size_t)(p - h);
}

/* Fills dst (room for cap bytes) with the next piece of the object. */
typedef int (*fill_fn)(void *ud, uint8_t *dst, size_t cap, size_t *len);

/* Long strings of a partition go out from where they are, each slice
 * holding a reference to the partition. */
#define VIEW_MIN ((size_t)64 * 1024)

typedef struct source {
    fill_fn fill;
    void *ud;
    rn_codec_enc *enc;  /* views from here (NULL: none) */
    rn_partition *part; /* what they point into */
} source;

static void release_part(void *p)
{
    rn_partition_unref(p);
}

/* The sending loop: piece k+1 is produced while piece k is being sent. */
static int send_pieces(rn_rpc_call *c, uint64_t total, const source *src,
                       int timeout_ms, int *local)
{
    rn_rpc_sending sending = {NULL};
    uint64_t off = 0;
    int rc = 0, r;
    *local = 0;
    do {
        /* a small object takes a small buffer, not a whole piece */
        size_t cap = total - off < PIECE ? (size_t)(total - off) : PIECE;
        size_t len = 0, at, vlen = 0;
        const void *view = NULL;
        uint8_t *mem;
        if (cap < RN_CODEC_PIECE_MIN)
            cap = RN_CODEC_PIECE_MIN;
        mem = rn_malloc(HEAD_ROOM + cap);
        if (!mem) {
            rc = RN_ENOMEM;
            *local = 1;
            break;
        }
        if ((rc = src->fill(src->ud, mem + HEAD_ROOM, cap, &len))) {
            rn_free(mem);
            *local = 1;
            break;
        }
        if (src->enc && len < cap)
            rn_codec_enc_view(src->enc, cap - len, &view, &vlen);
        if (len + vlen > total - off || (!len && !vlen && total)) {
            rc = RN_EINTERNAL;
            rn_free(mem);
            *local = 1;
            break;
        }
        at = put_head(mem, off, total, len + vlen);
        if ((rc = rn_rpc_send_wait(c, &sending, timeout_ms))) {
            rn_free(mem);
            break;
        }
        if (view) {
            rn_partition_ref(src->part);
            rc = rn_rpc_send_start_view(c, mem, at, HEAD_ROOM - at + len,
                                        view, vlen, release_part, src->part,
                                        &sending);
        } else {
            rc = rn_rpc_send_start(c, mem, at, HEAD_ROOM - at + len,
                                   &sending);
        }
        if (rc)
            break;
        off += len + vlen;
    } while (off < total);
    r = rn_rpc_send_wait(c, &sending, timeout_ms);
    return rc ? rc : r;
}

typedef struct copy_src {
    const uint8_t *p;
    size_t left;
} copy_src;

static int fill_copy(void *ud, uint8_t *dst, size_t cap, size_t *len)
{
    copy_src *s = ud;
    size_t k = s->left < cap ? s->left : cap;
    if (k)
        memcpy(dst, s->p, k);
    s->p += k;
    s->left -= k;
    *len = k;
    return 0;
}

int rn_chunk_send(rn_rpc_call *c, const void *data, size_t n, int timeout_ms)
{
    copy_src s = {data, n};
    source src = {fill_copy, &s, NULL, NULL};
    int local;
    /* an empty object is one empty chunk: the loop runs once */
    return send_pieces(c, n, &src, timeout_ms, &local);
}

typedef struct file_src {
    int fd;
    uint64_t left;
} file_src;

static int fill_file(void *ud, uint8_t *dst, size_t cap, size_t *len)
{
    file_src *s = ud;
    size_t want = s->left < cap ? (size_t)s->left : cap, got = 0;
    while (got < want) {
        ssize_t r = read(s->fd, dst + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return RN_EIO; /* shorter than it was: the object is broken */
        got += (size_t)r;
    }
    s->left -= got;
    *len = got;
    return 0;
}

int rn_chunk_send_file(rn_rpc_call *c, int fd, uint64_t size, int timeout_ms,
                       rn_errbuf *err)
{
    file_src s = {fd, size};
    source src = {fill_file, &s, NULL, NULL};
    int rc, local;
    if ((rc = send_pieces(c, size, &src, timeout_ms, &local)))
        rn_error_set(err, rc, local ? "cannot read a spilled partition"
                                    : "the receiver went away");
    return rc;
}

static int fill_encode(void *ud, uint8_t *dst, size_t cap, size_t *len)
{
    return rn_codec_enc_next(ud, dst, cap, len);
}

int rn_chunk_send_partition(rn_rpc_call *c, const rn_partition *p,
                            int timeout_ms, rn_errbuf *err)
{
    rn_codec_enc e;
    source src = {fill_encode, &e, &e, (rn_partition *)p};
    int rc, local;
    if ((rc = rn_codec_enc_begin(&e, p->items, p->n))) {
        rn_error_set(err, rc, "cannot encode a partition of %zu values", p->n);
    } else {
        e.view_min = VIEW_MIN;
        if ((rc = send_pieces(c, rn_codec_enc_total(&e), &src, timeout_ms,
                              &local)))
            rn_error_set(err, rc,
                         local ? "cannot encode a partition of %zu values"
                               : "the receiver went away",
                         p->n);
    }
    rn_codec_enc_release(&e);
    return rc;
}

/* ---------------------------------------------------------- receiving -- */

void rn_chunk_rx_init(rn_chunk_rx *rx, rn_buf *out, uint64_t max)
{
    memset(rx, 0, sizeof(*rx));
    rx->out = out;
    rx->max = max ? max : MAX_OBJECT;
    if (out)
        rn_buf_reset(out);
}

/* The checks of one chunk's place in the object. */
static int rx_check(rn_chunk_rx *rx, uint64_t offset, uint64_t total,
                    size_t len, rn_errbuf *err)
{
    int rc;
    if (!rx->started) {
        if (total > rx->max)
            return rn_error_set(err, RN_ELIMIT,
                                "object of %llu bytes is over the limit of "
                                "%llu bytes",
                                (unsigned long long)total,
                                (unsigned long long)rx->max);
        rx->total = total;
        rx->started = 1;
        /* reserve what the sender announced, in one piece (believed up
         * to 64 MiB: past that the buffer grows as bytes really come) */
        if (rx->out && rx->total &&
            (rc = rn_buf_reserve(rx->out, rx->total < ((uint64_t)64 << 20)
                                              ? (size_t)rx->total
                                              : (size_t)64 << 20)))
            return rn_error_set(err, rc, "cannot hold %llu bytes",
                                (unsigned long long)rx->total);
    }
    if (total != rx->total)
        return rn_error_set(err, RN_EFORMAT,
                            "chunk says the object has %llu bytes, an "
                            "earlier one said %llu",
                            (unsigned long long)total,
                            (unsigned long long)rx->total);
    if (offset != rx->got)
        return rn_error_set(err, RN_EFORMAT,
                            "chunk at offset %llu, expected %llu",
                            (unsigned long long)offset,
                            (unsigned long long)rx->got);
    if (len > rx->total - rx->got)
        return rn_error_set(err, RN_EFORMAT,
                            "chunk of %zu bytes at %llu runs past the total "
                            "of %llu",
                            len, (unsigned long long)rx->got,
                            (unsigned long long)rx->total);
    return 0;
}

/* Bytes of a checked chunk, in order. */
static int rx_data(rn_chunk_rx *rx, const uint8_t *p, size_t n,
                   rn_errbuf *err)
{
    int rc;
    rx->got += n;
    if (rx->dec)
        return rn_codec_dec_feed(rx->dec, p, n, err);
    if ((rc = rn_buf_append(rx->out, p, n)))
        return rn_error_set(err, rc, "cannot hold %llu bytes",
                            (unsigned long long)rx->total);
    return 0;
}

int rn_chunk_rx_add(rn_chunk_rx *rx, const Runnel__V1__Chunk *ch,
                    rn_errbuf *err)
{
    int rc;
    if ((rc = rx_check(rx, ch->offset, ch->total, ch->data.len, err)))
        return rc;
    return ch->data.len ? rx_data(rx, ch->data.data, ch->data.len, err) : 0;
}

int rn_chunk_rx_end(rn_chunk_rx *rx, const char *what, rn_errbuf *err)
{
    if (!rx->started)
        return rn_error_set(err, RN_EFORMAT, "%s: empty stream (no chunk)", what);
    if (rx->got != rx->total)
        return rn_error_set(err, RN_EFORMAT,
                            "%s: truncated stream: got %llu of %llu bytes", what,
                            (unsigned long long)rx->got,
                            (unsigned long long)rx->total);
    return 0;
}

/* Walking a message's pieces: the first `skip` bytes go to head (up to
 * head_cap of them), the rest to the receiver. */
typedef struct walk {
    rn_chunk_rx *rx;
    rn_errbuf *err;
    size_t skip;
    uint8_t *head;
    size_t head_len, head_cap;
} walk;

static int walk_head(void *ud, const uint8_t *p, size_t n)
{
    walk *w = ud;
    size_t k = w->head_cap - w->head_len;
    if (k > n)
        k = n;
    memcpy(w->head + w->head_len, p, k);
    w->head_len += k;
    return w->head_len == w->head_cap; /* 1: stop, enough */
}

static int walk_data(void *ud, const uint8_t *p, size_t n)
{
    walk *w = ud;
    if (w->skip >= n) {
        w->skip -= n;
        return 0;
    }
    p += w->skip;
    n -= w->skip;
    w->skip = 0;
    return rx_data(w->rx, p, n, w->err);
}

/* Reads a varint of h[*at..n); 0 when it does not end there. */
static int get_varint(const uint8_t *h, size_t n, size_t *at, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; *at < n && shift < 64; shift += 7) {
        uint8_t b = h[(*at)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* Whole message through protobuf-c: any layout a valid Chunk may have. */
static int rx_msg_unpacked(rn_chunk_rx *rx, const rn_rpc_msg *m,
                           rn_errbuf *err)
{
    Runnel__V1__Chunk *ch = NULL;
    rn_buf b;
    int rc;
    rn_buf_init(&b, RN_RPC_MAX_MESSAGE);
    if ((rc = rn_rpc_msg_read(m, &b)))
        rc = rn_error_set(err, rc, "chunk message of %zu bytes",
                          rn_rpc_msg_len(m));
    else if (!(ch = rn_pb_unpack(&runnel__v1__chunk__descriptor,
                                 b.ptr ? b.ptr : "", b.len)))
        rc = rn_error_set(err, RN_EFORMAT, "malformed chunk message");
    else
        rc = rn_chunk_rx_add(rx, ch, err);
    rn_pb_free(ch);
    rn_buf_release(&b);
    return rc;
}

/* One received Chunk. The usual layout (what put_head writes: varint
 * fields, then data as the last field) is read in place; anything else
 * goes through protobuf-c. */
int rn_chunk_rx_msg(rn_chunk_rx *rx, const rn_rpc_msg *m, rn_errbuf *err)
{
    uint8_t h[HEAD_ROOM];
    size_t len = rn_rpc_msg_len(m), at = 0, data_at = len;
    uint64_t offset = 0, total = 0, key, v, dlen = 0;
    walk w = {rx, err, 0, h, 0, len < HEAD_ROOM ? len : HEAD_ROOM};
    int rc;

    if (w.head_cap && (rc = rn_rpc_msg_each(m, walk_head, &w)) < 0)
        return rx_msg_unpacked(rx, m, err);
    while (at < w.head_len) {
        if (!get_varint(h, w.head_len, &at, &key) ||
            !get_varint(h, w.head_len, &at, &v))
            return rx_msg_unpacked(rx, m, err);
        if (key == KEY_OFFSET) {
            offset = v;
        } else if (key == KEY_TOTAL) {
            total = v;
        } else if (key == KEY_DATA && v == len - at) {
            dlen = v; /* the last field: the rest of the message */
            data_at = at;
            break;
        } else {
            return rx_msg_unpacked(rx, m, err);
        }
    }
    if (data_at == len && at != len) /* fields past what h holds */
        return rx_msg_unpacked(rx, m, err);
    if ((rc = rx_check(rx, offset, total, (size_t)dlen, err)))
        return rc;
    if (!dlen)
        return 0;
    w.skip = data_at;
    return rn_rpc_msg_each(m, walk_data, &w);
}

/* Receives chunks into rx until the stream ends, then the call's status. */
static int recv_all(rn_rpc_stream *st, rn_chunk_rx *rx, int timeout_ms,
                    const char *what, rn_errbuf *err)
{
    int rc = 0, r;
    for (;;) {
        rn_rpc_msg m;
        r = rn_rpc_stream_recv_msg(st, &m, timeout_ms);
        if (r == 0)
            break;
        if (r < 0) {
            if ((rc = rn_rpc_stream_finish(st, err)) == 0)
                rc = rn_error_set(err, RN_EREMOTE, "%s: stream broken", what);
            rn_rpc_stream_cancel(st);
            return rc;
        }
        rc = rn_chunk_rx_msg(rx, &m, err);
        rn_rpc_msg_release(&m);
        if (rc) {
            rn_error_prefix(err, "%s: ", what);
            rn_rpc_stream_cancel(st);
            return rc;
        }
    }
    if ((rc = rn_rpc_stream_finish(st, err)))
        return rc;
    return rn_chunk_rx_end(rx, what, err);
}

int rn_chunk_recv(rn_rpc_stream *st, rn_buf *out, uint64_t max, int timeout_ms,
                  const char *what, rn_errbuf *err)
{
    rn_chunk_rx rx;
    rn_chunk_rx_init(&rx, out, max);
    return recv_all(st, &rx, timeout_ms, what, err);
}

int rn_chunk_recv_partition_n(rn_rpc_stream *st, rn_partition *into,
                              int timeout_ms, const char *what,
                              uint64_t *bytes, rn_errbuf *err)
{
    rn_chunk_rx rx;
    rn_codec_dec d;
    int rc;
    rn_chunk_rx_init(&rx, NULL, 0);
    rn_codec_dec_begin(&d, into);
    rx.dec = &d;
    if ((rc = recv_all(st, &rx, timeout_ms, what, err)) == 0 &&
        (rc = rn_codec_dec_end(&d, err)))
        rn_error_prefix(err, "%s: ", what);
    rn_codec_dec_release(&d);
    if (!rc && bytes)
        *bytes = rx.total;
    return rc;
}

int rn_chunk_recv_partition(rn_rpc_stream *st, rn_partition *into,
                            int timeout_ms, const char *what, rn_errbuf *err)
{
    return rn_chunk_recv_partition_n(st, into, timeout_ms, what, NULL, err);
}
