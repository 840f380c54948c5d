/*
 * Large byte objects over gRPC: an encoded partition (value/codec.h) or a
 * plugin file travels as a stream of runnel.v1.Chunk messages of at most
 * RN_RPC_CHUNK bytes, far below gRPC's 4 MiB receive limit. The receiver
 * checks every chunk (contiguous offsets, one total, no excess) and that
 * the stream reached its total: a truncated stream is an error, never a
 * short object.
 *
 * Copies are what limits a stream on one machine, so none is made that
 * the format does not need: a sender encodes a partition piece by piece
 * straight into the memory gRPC sends (encoding the next piece while the
 * previous one is on its way; strings of 64 KiB or more go out from the
 * partition's own memory, gRPC holding a reference to the partition),
 * with the small Chunk header written by hand, byte for byte what
 * protobuf-c would pack; a receiver reads the
 * Chunk header in place and feeds the data from gRPC's own slices to the
 * streaming decoder (value/codec.h), which decodes while the rest is
 * arriving. Messages in any other valid protobuf layout are unpacked by
 * protobuf-c, as before.
 *
 * Thread-safety: as the call or stream used.
 */
#ifndef RN_TRANSPORT_CHUNK_H
#define RN_TRANSPORT_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "transport/rpc.h"
#include "value/codec.h"
#include "value/partition.h"

#include "runnel_common.pb-c.h"

/* Sends data[0..n) as Chunks on a server call (one empty chunk when n is
 * 0). Negative when the client went away. */
int rn_chunk_send(rn_rpc_call *c, const void *data, size_t n, int timeout_ms);

/* Receiving state: first a chunk sets the total, then each is checked.
 * The bytes go to out, or (rn_chunk_recv_partition) straight into a
 * streaming decoder. */
typedef struct rn_chunk_rx {
    rn_buf *out;
    rn_codec_dec *dec;
    uint64_t total;
    uint64_t got;
    uint64_t max;
    int started;
} rn_chunk_rx;

void rn_chunk_rx_init(rn_chunk_rx *rx, rn_buf *out, uint64_t max);
/* Appends one chunk; RN_EFORMAT / RN_ELIMIT with a message when it does
 * not fit what came before. */
int rn_chunk_rx_add(rn_chunk_rx *rx, const Runnel__V1__Chunk *ch,
                    rn_errbuf *err);
/* Appends one received Chunk message (read in place when it has the
 * usual layout; see above); the same checks and errors. */
int rn_chunk_rx_msg(rn_chunk_rx *rx, const rn_rpc_msg *m, rn_errbuf *err);
/* After the last chunk: RN_EFORMAT "truncated ..." unless complete. */
int rn_chunk_rx_end(rn_chunk_rx *rx, const char *what, rn_errbuf *err);

/* Reads a whole server-streamed object into out (reset first), then the
 * call's status: 0, or the error (the server's own, a broken call, a
 * truncated or malformed stream, more than max bytes). `what` names the
 * object in messages ("partition 3 of job j1"). */
int rn_chunk_recv(rn_rpc_stream *st, rn_buf *out, uint64_t max,
                  int timeout_ms, const char *what, rn_errbuf *err);

/* A partition as one encoded buffer, sent in chunks / received and
 * decoded (the decoder checks the CRC and every length). */
int rn_chunk_send_partition(rn_rpc_call *c, const rn_partition *p,
                            int timeout_ms, rn_errbuf *err);
int rn_chunk_recv_partition(rn_rpc_stream *st, rn_partition *into,
                            int timeout_ms, const char *what,
                            rn_errbuf *err);
/* The same; *bytes (may be NULL) is set to the encoded size received
 * (the stream's total) when it succeeds. */
int rn_chunk_recv_partition_n(rn_rpc_stream *st, rn_partition *into,
                              int timeout_ms, const char *what,
                              uint64_t *bytes, rn_errbuf *err);
/* An encoded partition kept in a file (a spilled one: its first size
 * bytes from fd's current offset), sent as it is, in chunks. */
int rn_chunk_send_file(rn_rpc_call *c, int fd, uint64_t size, int timeout_ms,
                       rn_errbuf *err);

#endif
