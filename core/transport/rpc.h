/*
 * gRPC (C core) with protobuf-c messages, as runnel's processes use it:
 * a server whose registered methods each run on a thread of their own,
 * synchronous client calls (unary, server-streaming, client-streaming)
 * with deadlines, and the mapping between gRPC status codes and rn_err.
 *
 * Every call has a private completion queue that only its own thread
 * plucks, so handlers and callers are written as plain blocking code.
 * Method paths are "/runnel.v1.Service/Method" (docs/PROTOCOL.md).
 *
 * Process rules (docs/PROTOCOL.md, "gRPC core"): call rn_rpc_init before
 * anything else here and rn_rpc_shutdown at the end; never fork() after
 * rn_rpc_init; block the signals you want before rn_rpc_init so gRPC's
 * threads inherit the mask.
 *
 * Ownership: messages returned by the *_pb functions are freed with
 * rn_pb_free. Thread-safety: a server or channel may be used from any
 * number of threads; one rn_rpc_call / rn_rpc_stream belongs to one
 * thread at a time, except rn_rpc_stream_cancel (any thread).
 */
#ifndef RN_TRANSPORT_RPC_H
#define RN_TRANSPORT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/buf.h"
#include "base/error.h"

/* The largest message either side accepts: requests such as a job with
 * many splits may pass gRPC's 4 MiB default; partitions and plugin files
 * never come near it (they travel in RN_RPC_CHUNK pieces). */
#define RN_RPC_MAX_MESSAGE ((size_t)64 << 20)
#define RN_RPC_CHUNK ((size_t)1 << 20)

/* gRPC status codes (the numbers are gRPC's). */
enum {
    RN_RPC_OK = 0,
    RN_RPC_CANCELLED = 1,
    RN_RPC_UNKNOWN = 2,
    RN_RPC_INVALID_ARGUMENT = 3,
    RN_RPC_DEADLINE_EXCEEDED = 4,
    RN_RPC_NOT_FOUND = 5,
    RN_RPC_ALREADY_EXISTS = 6,
    RN_RPC_PERMISSION_DENIED = 7,
    RN_RPC_RESOURCE_EXHAUSTED = 8,
    RN_RPC_FAILED_PRECONDITION = 9,
    RN_RPC_ABORTED = 10,
    RN_RPC_OUT_OF_RANGE = 11,
    RN_RPC_UNIMPLEMENTED = 12,
    RN_RPC_INTERNAL = 13,
    RN_RPC_UNAVAILABLE = 14,
    RN_RPC_DATA_LOSS = 15,
    RN_RPC_UNAUTHENTICATED = 16
};

/* rn_err <-> gRPC status. */
int rn_rpc_status_from_err(int rn_code);
int rn_rpc_err_from_status(int status);
const char *rn_rpc_status_name(int status);

void rn_rpc_init(void);     /* grpc_init (reference-counted) */
void rn_rpc_shutdown(void); /* grpc_shutdown */

/* "tcp://HOST:PORT" or "HOST:PORT" -> "HOST:PORT" for gRPC (IPv6 hosts in
 * brackets). RN_EINVAL, with a message naming url, when it is neither. */
int rn_rpc_target(const char *url, char *out, size_t cap, rn_errbuf *err);

/* protobuf-c allocations through the engine's counting allocator. */
extern ProtobufCAllocator rn_pb_allocator;
void rn_pb_free(void *msg); /* a message from any *_pb call; NULL ok */
/* Unpacks data[0..n) (hostile bytes: never crashes): the encoded bytes
 * are walked against runnel's bounds (transport/pbbounds.h) before
 * protobuf-c allocates anything, the message checked again after. NULL
 * when malformed (RN_EFORMAT) or over a bound (RN_ELIMIT), the reason in
 * err. */
void *rn_pb_unpack_checked(const ProtobufCMessageDescriptor *d,
                           const void *data, size_t n, rn_errbuf *err);
/* The same, the reason dropped. */
void *rn_pb_unpack(const ProtobufCMessageDescriptor *d, const void *data,
                   size_t n);

/* "tls://HOST:PORT" names a peer that speaks mutual TLS, "tcp://HOST:PORT"
 * (or "HOST:PORT") one that speaks plaintext. */
int rn_rpc_url_is_tls(const char *url);

/* Mutual TLS material: PEM text, NUL-terminated (security/tls.h loads it
 * from a --tls directory). gRPC copies it when a server or channel is
 * made with it. Both sides present a certificate and verify the other's
 * against ca_pem, the cluster's CA, and nothing else. */
typedef struct rn_rpc_tls {
    const char *ca_pem;
    const char *cert_pem;
    const char *key_pem;
} rn_rpc_tls;

/* ------------------------------------------------------------ server -- */

typedef struct rn_rpc_server rn_rpc_server;
typedef struct rn_rpc_call rn_rpc_call;

/* A handler owns its call until it returns: it reads requests, writes
 * replies and ends with rn_rpc_finish (a handler that forgets gets
 * UNKNOWN sent for it). Runs on a thread of its own. */
typedef void (*rn_rpc_handler)(rn_rpc_call *call, void *ud);

/* listen: "HOST:PORT" (":0" or port 0 picks a free port). tls: NULL for
 * plaintext; else every client must present a certificate of the CA. */
int rn_rpc_server_new(rn_rpc_server **out, const char *listen,
                      const rn_rpc_tls *tls, rn_errbuf *err);
/* Registers a method (before start), in pool 0 with the default bounds. */
int rn_rpc_server_add(rn_rpc_server *s, const char *method,
                      rn_rpc_handler fn, void *ud);

/* Calls are counted per pool and per peer, so that no peer, and no kind
 * of caller, can take every handler thread: a call past a limit is
 * answered RESOURCE_EXHAUSTED at once, before its request is read. */
#define RN_RPC_POOLS 4
typedef struct rn_rpc_method_opts {
    int pool;           /* 0 .. RN_RPC_POOLS-1 */
    size_t max_request; /* bytes of one request message; 0: the server's */
    int max_active;     /* calls of this method at once; 0: no own limit */
} rn_rpc_method_opts;
int rn_rpc_server_add_ex(rn_rpc_server *s, const char *method,
                         rn_rpc_handler fn, void *ud,
                         const rn_rpc_method_opts *o);
typedef struct rn_rpc_limits {
    int pool_max[RN_RPC_POOLS]; /* calls at once per pool; 0: 512 */
    int per_peer_max;           /* per peer per pool; 0: 64. A peer is
                                   its certificate's subject with TLS,
                                   its address (with port: one
                                   connection) without */
} rn_rpc_limits;
/* Before start. */
void rn_rpc_server_set_limits(rn_rpc_server *s, const rn_rpc_limits *l);
/* Binds and starts; *port gets the bound port. Unknown methods are
 * answered UNIMPLEMENTED at once. */
int rn_rpc_server_start(rn_rpc_server *s, int *port, rn_errbuf *err);
/* Stops taking calls, lets running ones end for grace_ms, cancels the
 * rest, waits for every handler to return and frees. NULL is a no-op. */
void rn_rpc_server_free(rn_rpc_server *s, int grace_ms);

/* Receives the next request message into msg (reset first): 1 got one,
 * 0 the client closed its side, negative when the call broke or
 * timeout_ms passed (< 0: wait for the call's deadline). A message over
 * the method's max_request is answered RESOURCE_EXHAUSTED here and is
 * RN_ELIMIT. */
int rn_rpc_recv(rn_rpc_call *c, rn_buf *msg, int timeout_ms);
/* Receives and unpacks one message (rn_pb_unpack_checked): 1, 0 (end), or
 * negative; a malformed message answers INVALID_ARGUMENT itself and
 * returns RN_EFORMAT, one over a bound RESOURCE_EXHAUSTED and RN_ELIMIT. */
int rn_rpc_recv_pb(rn_rpc_call *c, const ProtobufCMessageDescriptor *d,
                   void **msg, int timeout_ms);
/* Sends one reply message; negative when the client is gone or the send
 * did not complete within timeout_ms (the call is then cancelled). */
int rn_rpc_send(rn_rpc_call *c, const void *p, size_t n, int timeout_ms);
int rn_rpc_send_pb(rn_rpc_call *c, const void *msg, int timeout_ms);
/* Without copies, for large objects (transport/chunk.c): starts sending
 * mem[off..off+n) as one message and returns without waiting. mem (from
 * rn_malloc) is handed over: gRPC frees it when it no longer needs it,
 * also on failure. One send at a time: rn_rpc_send_wait(out) ends it, and
 * must come before the next send or rn_rpc_finish. */
typedef struct rn_rpc_sending {
    void *bb; /* grpc_byte_buffer in flight, or NULL */
} rn_rpc_sending;
int rn_rpc_send_start(rn_rpc_call *c, void *mem, size_t off, size_t n,
                      rn_rpc_sending *out);
/* The same, the message continuing with view[0..vlen): memory the caller
 * keeps valid until gRPC calls release(release_ud) (also on failure, and
 * possibly on another thread, after the send completed). */
int rn_rpc_send_start_view(rn_rpc_call *c, void *mem, size_t off, size_t n,
                           const void *view, size_t vlen,
                           void (*release)(void *), void *release_ud,
                           rn_rpc_sending *out);
/* 0 when sent (or nothing was in flight); negative as rn_rpc_send. */
int rn_rpc_send_wait(rn_rpc_call *c, rn_rpc_sending *sending,
                     int timeout_ms);
/* Ends the call with a status and a message for the client (printf
 * format). Only the first finish counts. */
void rn_rpc_finish(rn_rpc_call *c, int status, const char *fmt, ...)
    RN_FMT(3, 4);
/* Ends with status OK. */
void rn_rpc_finish_ok(rn_rpc_call *c);
/* Ends with status rn_rpc_status_from_err(err->code) and err's text. */
void rn_rpc_finish_err(rn_rpc_call *c, const rn_errbuf *err);
/* 1 when the client cancelled or went away, or the server is stopping:
 * long-running handlers poll this. */
int rn_rpc_should_stop(rn_rpc_call *c);
/* "ipv4:127.0.0.1:5000" style peer of the call. */
const char *rn_rpc_peer(rn_rpc_call *c);
/* The peer's verified certificate subject (gRPC's x509_subject: RFC 2253,
 * "CN=alice,OU=client,O=runnel"), or NULL on a plaintext server. */
const char *rn_rpc_peer_subject(rn_rpc_call *c);

/* ------------------------------------------------------------ client -- */

typedef struct rn_rpc_channel rn_rpc_channel;
typedef struct rn_rpc_stream rn_rpc_stream;

/* target: "HOST:PORT" (see rn_rpc_target). Connects lazily. tls: NULL
 * for plaintext; else our certificate is presented and the server's is
 * verified against the CA and must name peer_name (a DNS name of its
 * certificate, security/identity.h: "runnel-scheduler", "runnel-worker")
 * instead of the host dialled. */
rn_rpc_channel *rn_rpc_channel_new(const char *target, const rn_rpc_tls *tls,
                                   const char *peer_name);
void rn_rpc_channel_free(rn_rpc_channel *ch); /* NULL ok */
const char *rn_rpc_channel_target(const rn_rpc_channel *ch);

/* One request, one reply, within timeout_ms (> 0). Errors read
 * "<target>: <details>" with the code mapped from the status
 * (UNAVAILABLE and DEADLINE_EXCEEDED -> RN_EREMOTE). */
int rn_rpc_unary(rn_rpc_channel *ch, const char *method, const void *req,
                 size_t n, rn_buf *reply, int timeout_ms, rn_errbuf *err);
int rn_rpc_unary_pb(rn_rpc_channel *ch, const char *method, const void *req,
                    const ProtobufCMessageDescriptor *reply_desc,
                    void **reply, int timeout_ms, rn_errbuf *err);

/* A streaming call. With req (server-streaming) the request is sent and
 * the client side closed at once; without (client-streaming or bidi) the
 * caller sends with rn_rpc_stream_send and closes with close_send.
 * timeout_ms <= 0: no deadline. */
int rn_rpc_stream_open(rn_rpc_channel *ch, const char *method,
                       const void *req, size_t n, int with_req,
                       int timeout_ms, rn_rpc_stream **out, rn_errbuf *err);
int rn_rpc_stream_open_pb(rn_rpc_channel *ch, const char *method,
                          const void *req, int timeout_ms,
                          rn_rpc_stream **out, rn_errbuf *err);
int rn_rpc_stream_send(rn_rpc_stream *st, const void *p, size_t n);
int rn_rpc_stream_send_pb(rn_rpc_stream *st, const void *msg);
int rn_rpc_stream_close_send(rn_rpc_stream *st);
/* 1 got a message, 0 end of stream (then call finish for the status),
 * negative on a broken call or after timeout_ms (< 0: no extra limit). */
int rn_rpc_stream_recv(rn_rpc_stream *st, rn_buf *msg, int timeout_ms);
/* As recv, unpacking (rn_pb_unpack_checked); a malformed message is
 * RN_EFORMAT, one over a bound RN_ELIMIT. */
int rn_rpc_stream_recv_pb(rn_rpc_stream *st,
                          const ProtobufCMessageDescriptor *d, void **msg,
                          int timeout_ms);
/* A received message as gRPC holds it (pieces of up to about 64 KiB),
 * read in place instead of copied. Release it before the next receive. */
typedef struct rn_rpc_msg {
    void *bb; /* grpc_byte_buffer */
} rn_rpc_msg;
typedef int (*rn_rpc_piece_fn)(void *ud, const uint8_t *p, size_t n);
/* As rn_rpc_stream_recv: 1 (m holds a message), 0 end, negative. */
int rn_rpc_stream_recv_msg(rn_rpc_stream *st, rn_rpc_msg *m, int timeout_ms);
size_t rn_rpc_msg_len(const rn_rpc_msg *m);
/* Calls fn on each piece in order; stops at and returns fn's first
 * nonzero return. */
int rn_rpc_msg_each(const rn_rpc_msg *m, rn_rpc_piece_fn fn, void *ud);
/* Copies the whole message into out (reset first). */
int rn_rpc_msg_read(const rn_rpc_msg *m, rn_buf *out);
void rn_rpc_msg_release(rn_rpc_msg *m); /* NULL bb ok */
/* Waits for the final status: 0 when OK, else the mapped error. */
int rn_rpc_stream_finish(rn_rpc_stream *st, rn_errbuf *err);
/* Cancels the call (any thread; the owner's waits end at once). */
void rn_rpc_stream_cancel(rn_rpc_stream *st);
/* Cancels if unfinished, frees. NULL ok. */
void rn_rpc_stream_free(rn_rpc_stream *st);

/* Monotonic milliseconds (for timers around calls). */
int64_t rn_rpc_now_ms(void);

#endif
