/* gRPC C core + protobuf-c: server, client calls, status mapping. */
#define _GNU_SOURCE
#include "transport/rpc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "base/alloc.h"
#include "transport/pbbounds.h"
#include "exec/ctx.h"

/* Handler threads alive at once; calls past it get RESOURCE_EXHAUSTED. */
#define MAX_ACTIVE_CALLS 1024
/* Requests kept posted per method, so a burst waits less. */
#define POSTED_PER_METHOD 2
/* How long a server send or status may take before the call is cut. */
#define SERVER_SEND_TIMEOUT_MS 60000

/* ------------------------------------------------------------ common -- */

static void *pb_alloc(void *data, size_t n)
{
    (void)data;
    return rn_malloc(n ? n : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    rn_free(p);
}

ProtobufCAllocator rn_pb_allocator = {pb_alloc, pb_free, NULL};

void rn_pb_free(void *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)msg,
                                         &rn_pb_allocator);
}

void *rn_pb_unpack_checked(const ProtobufCMessageDescriptor *d,
                           const void *data, size_t n, rn_errbuf *err)
{
    const rn_pb_limits *lim = rn_pb_runnel_limits();
    ProtobufCMessage *m;
    /* bounded before protobuf-c allocates (or recurses) anything */
    if (rn_pb_check_wire(d, data, n, lim, err))
        return NULL;
    if (!(m = protobuf_c_message_unpack(d, &rn_pb_allocator, n,
                                        (const uint8_t *)data))) {
        rn_error_set(err, RN_EFORMAT, "malformed %s message (%zu bytes)",
                     d->short_name, n);
        return NULL;
    }
    if (rn_pb_check(m, lim, err)) {
        rn_pb_free(m);
        return NULL;
    }
    return m;
}

void *rn_pb_unpack(const ProtobufCMessageDescriptor *d, const void *data,
                   size_t n)
{
    rn_errbuf err;
    return rn_pb_unpack_checked(d, data, n, &err);
}

/* gRPC's own log lines go through the engine's logger: its errors mostly
 * repeat what runnel reports in its own words, so they show at INFO (the
 * daemons' level), the rest only at DEBUG (runnel -v). */
static void grpc_log(gpr_log_func_args *a)
{
    rn_logf(a->severity == GPR_LOG_SEVERITY_ERROR ? RN_LOG_INFO : RN_LOG_DEBUG,
            "grpc: %s", a->message);
}

void rn_rpc_init(void)
{
    gpr_set_log_function(grpc_log);
    grpc_init();
}

void rn_rpc_shutdown(void)
{
    /* the last user waits for gRPC's threads: a process that exits while
     * one still reconnects a TLS channel crashed in OpenSSL's exit-time
     * clean-up (seen under load after a connection timed out) */
    if (grpc_is_initialized())
        grpc_shutdown_blocking();
}

int64_t rn_rpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rn_rpc_status_from_err(int rn_code)
{
    switch (rn_code) {
    case 0: return RN_RPC_OK;
    case RN_EINVAL:
    case RN_EFORMAT:
    case RN_ETYPE: return RN_RPC_INVALID_ARGUMENT;
    case RN_EABI: return RN_RPC_FAILED_PRECONDITION; /* another version */
    case RN_ENOMEM:
    case RN_ELIMIT: return RN_RPC_RESOURCE_EXHAUSTED;
    case RN_ENOTFOUND: return RN_RPC_NOT_FOUND;
    case RN_ECANCELED: return RN_RPC_CANCELLED;
    case RN_EEXIST: return RN_RPC_ALREADY_EXISTS;
    case RN_ERANGE: return RN_RPC_OUT_OF_RANGE;
    case RN_EREMOTE: return RN_RPC_UNAVAILABLE;
    case RN_EPLUGIN: return RN_RPC_FAILED_PRECONDITION;
    case RN_EPERM: return RN_RPC_PERMISSION_DENIED;
    default: return RN_RPC_INTERNAL;
    }
}

int rn_rpc_err_from_status(int status)
{
    switch (status) {
    case RN_RPC_OK: return 0;
    case RN_RPC_CANCELLED: return RN_ECANCELED;
    case RN_RPC_INVALID_ARGUMENT:
    case RN_RPC_FAILED_PRECONDITION: return RN_EINVAL;
    case RN_RPC_NOT_FOUND: return RN_ENOTFOUND;
    case RN_RPC_ALREADY_EXISTS: return RN_EEXIST;
    case RN_RPC_RESOURCE_EXHAUSTED: return RN_ELIMIT;
    case RN_RPC_PERMISSION_DENIED:
    case RN_RPC_UNAUTHENTICATED: return RN_EPERM;
    case RN_RPC_OUT_OF_RANGE: return RN_ERANGE;
    case RN_RPC_INTERNAL:
    case RN_RPC_DATA_LOSS: return RN_EINTERNAL;
    default: return RN_EREMOTE;
    }
}

const char *rn_rpc_status_name(int status)
{
    static const char *const names[] = {
        "OK",        "CANCELLED",          "UNKNOWN",
        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED",   "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED"};
    if (status < 0 || status > 16)
        return "UNKNOWN";
    return names[status];
}

int rn_rpc_target(const char *url, char *out, size_t cap, rn_errbuf *err)
{
    const char *p = url, *colon;
    char *end;
    long port;
    if (!url || !*url)
        return rn_error_set(err, RN_EINVAL, "no scheduler address given "
                                            "(expected tcp://HOST:PORT or tls://HOST:PORT)");
    if (strncmp(p, "tcp://", 6) == 0 || strncmp(p, "tls://", 6) == 0)
        p += 6;
    else if (strstr(p, "://"))
        return rn_error_set(err, RN_EINVAL,
                            "%s: unsupported scheme (expected tcp://HOST:PORT "
                            "or tls://HOST:PORT)",
                            url);
    colon = strrchr(p, ':');
    if (!colon || colon == p || (p[0] == '[' && colon[-1] != ']'))
        return rn_error_set(err, RN_EINVAL,
                            "%s: expected tcp://HOST:PORT or tls://HOST:PORT (the port is "
                            "missing)",
                            url);
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return rn_error_set(err, RN_EINVAL, "%s: bad port '%s'", url, colon + 1);
    for (const char *q = p; q < colon; q++)
        if (*q == '/' || *q == ' ')
            return rn_error_set(err, RN_EINVAL,
                                "%s: expected tcp://HOST:PORT or tls://HOST:PORT",
                                url);
    if (strlen(p) + 1 > cap)
        return rn_error_set(err, RN_ELIMIT, "%s: address too long", url);
    memcpy(out, p, strlen(p) + 1);
    return 0;
}

int rn_rpc_url_is_tls(const char *url)
{
    return url && strncmp(url, "tls://", 6) == 0;
}

static gpr_timespec deadline_in(int timeout_ms)
{
    if (timeout_ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* Waits for `tag` on the call's queue: 1 succeeded, 0 failed, -1 timed
 * out (the call is then cancelled and the tag collected). */
static int wait_tag(grpc_completion_queue *cq, grpc_call *call, void *tag,
                    int timeout_ms)
{
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, deadline_in(timeout_ms),
                                                NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        grpc_call_cancel(call, NULL);
        grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                    NULL);
        return -1;
    }
    return ev.type == GRPC_OP_COMPLETE && ev.success ? 1 : 0;
}

static void destroy_cq(grpc_completion_queue *cq)
{
    grpc_event ev;
    if (!cq)
        return;
    grpc_completion_queue_shutdown(cq);
    do {
        /* every operation has been plucked: this only sees the shutdown */
        ev = grpc_completion_queue_pluck(cq, (void *)cq,
                                         gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                         NULL);
    } while (ev.type != GRPC_QUEUE_SHUTDOWN);
    grpc_completion_queue_destroy(cq);
}

/* Copies a received message into msg (reset first), up to max bytes. */
static int read_bb(grpc_byte_buffer *bb, rn_buf *msg)
{
    grpc_byte_buffer_reader r;
    grpc_slice s;
    int rc = 0;
    rn_buf_reset(msg);
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return RN_EFORMAT;
    while (grpc_byte_buffer_reader_next(&r, &s)) {
        if (rc == 0)
            rc = rn_buf_append(msg, GRPC_SLICE_START_PTR(s),
                               GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_reader_destroy(&r);
    return rc;
}

static grpc_byte_buffer *make_bb(const void *p, size_t n)
{
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)p, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static grpc_byte_buffer *make_bb_pb(const void *msg)
{
    const ProtobufCMessage *m = msg;
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    grpc_byte_buffer *bb;
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void set_arg_int(grpc_arg *a, const char *key, int v)
{
    a->type = GRPC_ARG_INTEGER;
    a->key = (char *)key;
    a->value.integer = v;
}

/* ------------------------------------------------------------ server -- */

typedef struct method {
    char *path;
    void *handle; /* from grpc_server_register_method */
    rn_rpc_handler fn;
    void *ud;
    rn_rpc_method_opts o;
    int active; /* its calls running now */
} method;

/* Calls running now from one peer in one pool (see rn_rpc_limits). */
typedef struct peercount {
    struct peercount *next;
    int pool, n;
    char key[];
} peercount;

#define PEER_BUCKETS 256

struct rn_rpc_server {
    grpc_server *srv;
    grpc_completion_queue *ncq; /* notifications of new calls */
    char *listen;
    int tls;
    char *ca_pem, *cert_pem, *key_pem;
    method *methods;
    size_t n_methods, cap_methods;
    rn_rpc_limits lim;
    pthread_t accept_tid;
    int accept_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    int shutdown_done;
    int active; /* handler threads alive */
    int pool_active[RN_RPC_POOLS];
    peercount *peers[PEER_BUCKETS];
    int posted; /* requests posted and not yet completed */
    char shutdown_tag;
};

struct rn_rpc_call {
    rn_rpc_server *s;
    int method; /* index, or -1: not registered */
    grpc_call *call;
    grpc_completion_queue *cq;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* unregistered calls */
    int sent_md, finished, close_seen, cancelled;
    int close_posted;
    peercount *counted; /* its entry in the server's per-peer counts */
    char peer[128];
    char subject[256]; /* "" without TLS */
    char tag_op, tag_close;
};

static int post_request(rn_rpc_server *s, int m)
{
    rn_rpc_call *c = rn_calloc(1, sizeof(*c));
    grpc_call_error e;
    if (!c)
        return RN_ENOMEM;
    c->s = s;
    c->method = m;
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
    pthread_mutex_lock(&s->lock);
    s->posted++;
    pthread_mutex_unlock(&s->lock);
    if (m >= 0)
        e = grpc_server_request_registered_call(s->srv, s->methods[m].handle,
                                                &c->call, &c->deadline, &c->md,
                                                NULL, c->cq, s->ncq, c);
    else
        e = grpc_server_request_call(s->srv, &c->call, &c->details, &c->md,
                                     c->cq, s->ncq, c);
    if (e != GRPC_CALL_OK) {
        pthread_mutex_lock(&s->lock);
        s->posted--;
        pthread_mutex_unlock(&s->lock);
        grpc_metadata_array_destroy(&c->md);
        grpc_call_details_destroy(&c->details);
        destroy_cq(c->cq);
        rn_free(c);
        return RN_EINTERNAL;
    }
    return 0;
}

static void call_free(rn_rpc_call *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md);
    grpc_call_details_destroy(&c->details);
    destroy_cq(c->cq);
    rn_free(c);
}

void rn_rpc_finish(rn_rpc_call *c, int status, const char *fmt, ...)
{
    char msg[1024];
    grpc_op ops[2];
    grpc_slice details;
    size_t n = 0;
    va_list ap;

    if (c->finished)
        return;
    c->finished = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memset(ops, 0, sizeof(ops));
    if (!c->sent_md) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->sent_md = 1;
    }
    details = grpc_slice_from_copied_string(msg);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    ops[n].data.send_status_from_server.status_details = &details;
    n++;
    if (grpc_call_start_batch(c->call, ops, n, &c->tag_op, NULL) == GRPC_CALL_OK)
        wait_tag(c->cq, c->call, &c->tag_op, SERVER_SEND_TIMEOUT_MS);
    grpc_slice_unref(details);
}

void rn_rpc_finish_ok(rn_rpc_call *c)
{
    rn_rpc_finish(c, RN_RPC_OK, "%s", "");
}

void rn_rpc_finish_err(rn_rpc_call *c, const rn_errbuf *err)
{
    rn_rpc_finish(c, rn_rpc_status_from_err(err->code ? err->code : RN_EINTERNAL),
                  "%s", err->msg[0] ? err->msg : rn_err_name(err->code));
}

int rn_rpc_should_stop(rn_rpc_call *c)
{
    int stopping;
    if (!c->close_seen && c->close_posted) {
        grpc_event ev = grpc_completion_queue_pluck(
            c->cq, &c->tag_close, gpr_time_0(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_OP_COMPLETE)
            c->close_seen = 1;
    }
    if (c->close_seen)
        return 1; /* before our status: the client cancelled or vanished */
    pthread_mutex_lock(&c->s->lock);
    stopping = c->s->stopping;
    pthread_mutex_unlock(&c->s->lock);
    return stopping;
}

const char *rn_rpc_peer(rn_rpc_call *c)
{
    return c->peer;
}

const char *rn_rpc_peer_subject(rn_rpc_call *c)
{
    return c->s->tls ? c->subject : NULL;
}

int rn_rpc_recv(rn_rpc_call *c, rn_buf *msg, int timeout_ms)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op op;
    int r, rc;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &bb;
    if (grpc_call_start_batch(c->call, &op, 1, &c->tag_op, NULL) != GRPC_CALL_OK)
        return RN_EINTERNAL;
    r = wait_tag(c->cq, c->call, &c->tag_op, timeout_ms);
    if (r <= 0) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        return RN_EREMOTE;
    }
    if (!bb)
        return 0;
    if (c->method >= 0 && c->s->methods[c->method].o.max_request &&
        grpc_byte_buffer_length(bb) > c->s->methods[c->method].o.max_request) {
        /* refused before it is copied anywhere */
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED,
                      "request too large: %zu bytes, this method takes at "
                      "most %zu",
                      grpc_byte_buffer_length(bb),
                      c->s->methods[c->method].o.max_request);
        grpc_byte_buffer_destroy(bb);
        return RN_ELIMIT;
    }
    rc = read_bb(bb, msg);
    grpc_byte_buffer_destroy(bb);
    return rc ? rc : 1;
}

int rn_rpc_recv_pb(rn_rpc_call *c, const ProtobufCMessageDescriptor *d,
                   void **out, int timeout_ms)
{
    size_t max = RN_RPC_MAX_MESSAGE;
    rn_errbuf err;
    rn_buf b;
    int rc;
    *out = NULL;
    rn_buf_init(&b, max);
    rc = rn_rpc_recv(c, &b, timeout_ms);
    if (rc == RN_ELIMIT) { /* the first finish counts: rn_rpc_recv's */
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED,
                      "%s message too large (more than %zu bytes)",
                      d->short_name, max);
    } else if (rc == 1) {
        rn_error_clear(&err);
        if (!(*out = rn_pb_unpack_checked(d, b.ptr ? b.ptr : "", b.len, &err))) {
            if (err.code == RN_EFORMAT && !strstr(err.msg, "malformed"))
                rn_error_prefix(&err, "malformed %s message: ", d->short_name);
            rn_rpc_finish_err(c, &err);
            rc = err.code;
        }
    }
    rn_buf_release(&b);
    return rc;
}

static int send_bb(rn_rpc_call *c, grpc_byte_buffer *bb, int timeout_ms)
{
    grpc_op ops[2];
    size_t n = 0;
    int r;
    memset(ops, 0, sizeof(ops));
    if (!c->sent_md) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = 1;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
    if (grpc_call_start_batch(c->call, ops, n, &c->tag_op, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        return RN_EINTERNAL;
    }
    r = wait_tag(c->cq, c->call, &c->tag_op, timeout_ms);
    grpc_byte_buffer_destroy(bb);
    return r == 1 ? 0 : RN_EREMOTE;
}

int rn_rpc_send(rn_rpc_call *c, const void *p, size_t n, int timeout_ms)
{
    return send_bb(c, make_bb(p, n), timeout_ms);
}

int rn_rpc_send_pb(rn_rpc_call *c, const void *msg, int timeout_ms)
{
    return send_bb(c, make_bb_pb(msg), timeout_ms);
}

static void free_owned(void *mem)
{
    rn_free(mem);
}

int rn_rpc_send_start(rn_rpc_call *c, void *mem, size_t off, size_t n,
                      rn_rpc_sending *out)
{
    return rn_rpc_send_start_view(c, mem, off, n, NULL, 0, NULL, NULL, out);
}

int rn_rpc_send_start_view(rn_rpc_call *c, void *mem, size_t off, size_t n,
                           const void *view, size_t vlen,
                           void (*release)(void *), void *release_ud,
                           rn_rpc_sending *out)
{
    grpc_slice s[2];
    grpc_byte_buffer *bb;
    grpc_op ops[2];
    size_t k = 0, ns = 1;
    s[0] = grpc_slice_new_with_user_data((char *)mem + off, n, free_owned,
                                         mem);
    if (view) {
        s[1] = grpc_slice_new_with_user_data((void *)view, vlen, release,
                                             release_ud);
        ns = 2;
    }
    bb = grpc_raw_byte_buffer_create(s, ns);
    /* bb holds the slices; each is released with its last reference */
    for (size_t i = 0; i < ns; i++)
        grpc_slice_unref(s[i]);
    memset(ops, 0, sizeof(ops));
    if (!c->sent_md) {
        ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = 1;
    }
    ops[k].op = GRPC_OP_SEND_MESSAGE;
    ops[k].data.send_message.send_message = bb;
    k++;
    out->bb = NULL;
    if (grpc_call_start_batch(c->call, ops, k, &c->tag_op, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        return RN_EINTERNAL;
    }
    out->bb = bb; /* must live until the operation completes */
    return 0;
}

int rn_rpc_send_wait(rn_rpc_call *c, rn_rpc_sending *sending, int timeout_ms)
{
    int r;
    if (!sending->bb)
        return 0;
    r = wait_tag(c->cq, c->call, &c->tag_op, timeout_ms);
    grpc_byte_buffer_destroy(sending->bb);
    sending->bb = NULL;
    return r == 1 ? 0 : RN_EREMOTE;
}

/* Releases what dispatch counted for c (lock held). */
static void uncount_locked(rn_rpc_server *s, rn_rpc_call *c)
{
    s->active--;
    if (c->method >= 0) {
        s->methods[c->method].active--;
        s->pool_active[s->methods[c->method].o.pool]--;
    }
    if (c->counted)
        c->counted->n--; /* entries stay: at most one per peer and pool */
    c->counted = NULL;
}

static void *call_main(void *arg)
{
    rn_rpc_call *c = arg;
    rn_rpc_server *s = c->s;
    grpc_op op;
    int cancelled = 0;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &cancelled;
    if (grpc_call_start_batch(c->call, &op, 1, &c->tag_close, NULL) == GRPC_CALL_OK)
        c->close_posted = 1;
    if (c->method >= 0) {
        s->methods[c->method].fn(c, s->methods[c->method].ud);
        if (!c->finished)
            rn_rpc_finish(c, RN_RPC_UNKNOWN, "the handler sent no status");
    } else {
        char *m = grpc_slice_to_c_string(c->details.method);
        rn_rpc_finish(c, RN_RPC_UNIMPLEMENTED, "unknown method %s", m ? m : "?");
        gpr_free(m);
    }
    if (c->close_posted && !c->close_seen)
        grpc_completion_queue_pluck(c->cq, &c->tag_close,
                                    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    pthread_mutex_lock(&s->lock);
    uncount_locked(s, c);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    call_free(c);
    return NULL;
}

/* Who is calling: the certificate's subject (verified by the handshake)
 * with TLS, else the connection's address. */
static void identify(rn_rpc_server *s, rn_rpc_call *c)
{
    char *peer = grpc_call_get_peer(c->call);
    if (peer) {
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
        gpr_free(peer);
    }
    if (s->tls) {
        grpc_auth_context *ctx = grpc_call_auth_context(c->call);
        grpc_auth_property_iterator it;
        const grpc_auth_property *p;
        if (ctx) {
            it = grpc_auth_context_find_properties_by_name(
                ctx, GRPC_X509_SUBJECT_PROPERTY_NAME);
            if ((p = grpc_auth_property_iterator_next(&it)) && p->value &&
                p->value_length < sizeof(c->subject)) {
                memcpy(c->subject, p->value, p->value_length);
                c->subject[p->value_length] = '\0';
            }
            grpc_auth_context_release(ctx);
        }
    }
}

static uint32_t key_hash(const char *k, int pool)
{
    uint32_t h = 2166136261u ^ (uint32_t)pool;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 16777619u;
    return h;
}

/* The count of calls from c's peer in pool (lock held); NULL when out of
 * memory. */
static peercount *peer_entry_locked(rn_rpc_server *s, rn_rpc_call *c, int pool)
{
    const char *key = s->tls ? c->subject : c->peer;
    uint32_t b = key_hash(key, pool) % PEER_BUCKETS;
    size_t n;
    peercount *e;
    for (e = s->peers[b]; e; e = e->next)
        if (e->pool == pool && strcmp(e->key, key) == 0)
            return e;
    /* without TLS a peer is a connection: drop idle entries as they go */
    for (peercount **pp = &s->peers[b]; *pp;) {
        if ((*pp)->n == 0 && !s->tls) {
            peercount *dead = *pp;
            *pp = dead->next;
            rn_free(dead);
        } else {
            pp = &(*pp)->next;
        }
    }
    n = strlen(key);
    if (!(e = rn_calloc(1, sizeof(*e) + n + 1)))
        return NULL;
    memcpy(e->key, key, n + 1);
    e->pool = pool;
    e->next = s->peers[b];
    s->peers[b] = e;
    return e;
}

/* Counts the call against the server's, its pool's, its peer's and its
 * method's limits; 0, or the reason it is refused in why. */
static int count_locked(rn_rpc_server *s, rn_rpc_call *c, char *why, size_t cap)
{
    const method *m = c->method >= 0 ? &s->methods[c->method] : NULL;
    int pool = m ? m->o.pool : 0;
    peercount *e = NULL;
    if (s->active >= MAX_ACTIVE_CALLS || s->pool_active[pool] >= s->lim.pool_max[pool]) {
        snprintf(why, cap, "server busy: too many calls");
        return -1;
    }
    if (m && m->o.max_active && m->active >= m->o.max_active) {
        snprintf(why, cap, "server busy: too many %s calls at once",
                 strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path);
        return -1;
    }
    if (!(e = peer_entry_locked(s, c, pool))) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    if (e->n >= s->lim.per_peer_max) {
        snprintf(why, cap, "too many calls at once from %.180s (at most %d)",
                 s->tls ? c->subject : c->peer, s->lim.per_peer_max);
        return -1;
    }
    e->n++;
    c->counted = e;
    s->active++;
    s->pool_active[pool]++;
    if (m)
        s->methods[c->method].active++;
    return 0;
}

static void dispatch(rn_rpc_server *s, rn_rpc_call *c)
{
    pthread_t tid;
    pthread_attr_t attr;
    char why[256];
    int busy;
    identify(s, c);
    pthread_mutex_lock(&s->lock);
    busy = count_locked(s, c, why, sizeof(why));
    pthread_mutex_unlock(&s->lock);
    if (busy) {
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "%s", why);
        call_free(c);
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, call_main, c) != 0) {
        pthread_mutex_lock(&s->lock);
        uncount_locked(s, c);
        pthread_mutex_unlock(&s->lock);
        rn_rpc_finish(c, RN_RPC_RESOURCE_EXHAUSTED, "cannot start a thread");
        call_free(c);
    }
    pthread_attr_destroy(&attr);
}

static void *accept_main(void *arg)
{
    rn_rpc_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            s->ncq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        rn_rpc_call *c;
        int stopping;
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &s->shutdown_tag) {
            pthread_mutex_lock(&s->lock);
            s->shutdown_done = 1;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        c = ev.tag;
        pthread_mutex_lock(&s->lock);
        s->posted--;
        stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (!ev.success) {
            call_free(c);
            continue;
        }
        if (!stopping)
            post_request(s, c->method);
        dispatch(s, c);
    }
    return NULL;
}

int rn_rpc_server_new(rn_rpc_server **out, const char *listen,
                      const rn_rpc_tls *tls, rn_errbuf *err)
{
    rn_rpc_server *s = rn_calloc(1, sizeof(*s));
    grpc_arg args[5];
    grpc_channel_args cargs;

    *out = NULL;
    if (!s || !(s->listen = rn_strdup(listen)) ||
        (tls && (!(s->ca_pem = rn_strdup(tls->ca_pem)) ||
                 !(s->cert_pem = rn_strdup(tls->cert_pem)) ||
                 !(s->key_pem = rn_strdup(tls->key_pem))))) {
        if (s) {
            rn_free(s->listen);
            rn_free(s->ca_pem);
            rn_free(s->cert_pem);
            rn_free(s->key_pem);
        }
        rn_free(s);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    s->tls = tls != NULL;
    rn_rpc_server_set_limits(s, NULL);
    set_arg_int(&args[0], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                (int)RN_RPC_MAX_MESSAGE);
    /* clients send keepalive pings on long streams: allow them */
    set_arg_int(&args[1], GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                5000);
    set_arg_int(&args[2], GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    /* gRPC sets SO_REUSEPORT by default: a second scheduler on a busy
     * port would "start" and share its connections. Refuse instead. */
    set_arg_int(&args[3], GRPC_ARG_ALLOW_REUSEPORT, 0);
    /* HTTP/2 streams one connection may have open: more wait on the
     * client's side, they do not reach the handlers */
    set_arg_int(&args[4], GRPC_ARG_MAX_CONCURRENT_STREAMS, 100);
    cargs.num_args = 5;
    cargs.args = args;
    s->srv = grpc_server_create(&cargs, NULL);
    s->ncq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->srv, s->ncq, NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    *out = s;
    return 0;
}

void rn_rpc_server_set_limits(rn_rpc_server *s, const rn_rpc_limits *l)
{
    if (l)
        s->lim = *l;
    else
        memset(&s->lim, 0, sizeof(s->lim));
    for (int i = 0; i < RN_RPC_POOLS; i++)
        if (s->lim.pool_max[i] <= 0)
            s->lim.pool_max[i] = 512;
    if (s->lim.per_peer_max <= 0)
        s->lim.per_peer_max = 64;
}

int rn_rpc_server_add(rn_rpc_server *s, const char *path, rn_rpc_handler fn,
                      void *ud)
{
    return rn_rpc_server_add_ex(s, path, fn, ud, NULL);
}

int rn_rpc_server_add_ex(rn_rpc_server *s, const char *path, rn_rpc_handler fn,
                         void *ud, const rn_rpc_method_opts *o)
{
    method *m;
    if (o && (o->pool < 0 || o->pool >= RN_RPC_POOLS))
        return RN_EINVAL;
    if (s->n_methods == s->cap_methods) {
        size_t cap = s->cap_methods ? s->cap_methods * 2 : 16;
        method *nm = rn_realloc(s->methods, cap * sizeof(*nm));
        if (!nm)
            return RN_ENOMEM;
        s->methods = nm;
        s->cap_methods = cap;
    }
    m = &s->methods[s->n_methods];
    if (!(m->path = rn_strdup(path)))
        return RN_ENOMEM;
    m->handle = grpc_server_register_method(s->srv, m->path, NULL,
                                            GRPC_SRM_PAYLOAD_NONE, 0);
    if (!m->handle) {
        rn_free(m->path);
        return RN_EINVAL;
    }
    m->fn = fn;
    m->ud = ud;
    if (o)
        m->o = *o;
    else
        memset(&m->o, 0, sizeof(m->o));
    m->active = 0;
    s->n_methods++;
    return 0;
}

int rn_rpc_server_start(rn_rpc_server *s, int *port, rn_errbuf *err)
{
    grpc_server_credentials *creds;
    int p;
    if (s->tls) {
        grpc_ssl_pem_key_cert_pair pair = {s->key_pem, s->cert_pem};
        creds = grpc_ssl_server_credentials_create_ex(
            s->ca_pem, &pair, 1,
            GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    if (!creds)
        return rn_error_set(err, RN_EINVAL, "cannot use the TLS certificates "
                                            "(not PEM?)");
    p = grpc_server_add_http2_port(s->srv, s->listen, creds);
    grpc_server_credentials_release(creds);
    if (p <= 0)
        return rn_error_set(err, RN_EIO,
                            "cannot listen on %s (address in use, or not an "
                            "address of this machine%s)",
                            s->listen, s->tls ? ", or unusable TLS files" : "");
    grpc_server_start(s->srv);
    for (size_t m = 0; m < s->n_methods; m++)
        for (int k = 0; k < POSTED_PER_METHOD; k++)
            post_request(s, (int)m);
    post_request(s, -1);
    if (pthread_create(&s->accept_tid, NULL, accept_main, s) != 0)
        return rn_error_set(err, RN_ENOMEM, "cannot start a thread");
    s->accept_started = 1;
    if (port)
        *port = p;
    return 0;
}

static void wait_flag(rn_rpc_server *s, int *flag, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!*flag)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&s->lock);
}

void rn_rpc_server_free(rn_rpc_server *s, int grace_ms)
{
    if (!s)
        return;
    if (s->accept_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        pthread_mutex_unlock(&s->lock);
        grpc_server_shutdown_and_notify(s->srv, s->ncq, &s->shutdown_tag);
        wait_flag(s, &s->shutdown_done, grace_ms);
        pthread_mutex_lock(&s->lock);
        int done = s->shutdown_done;
        pthread_mutex_unlock(&s->lock);
        if (!done) {
            grpc_server_cancel_all_calls(s->srv);
            pthread_mutex_lock(&s->lock);
            while (!s->shutdown_done)
                pthread_cond_wait(&s->cond, &s->lock);
            pthread_mutex_unlock(&s->lock);
        }
        /* handlers still finishing their last lines */
        pthread_mutex_lock(&s->lock);
        while (s->active > 0)
            pthread_cond_wait(&s->cond, &s->lock);
        pthread_mutex_unlock(&s->lock);
    }
    grpc_server_destroy(s->srv);
    grpc_completion_queue_shutdown(s->ncq);
    if (s->accept_started)
        pthread_join(s->accept_tid, NULL);
    else {
        grpc_event ev;
        do
            ev = grpc_completion_queue_next(s->ncq,
                                            gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                            NULL);
        while (ev.type != GRPC_QUEUE_SHUTDOWN);
    }
    grpc_completion_queue_destroy(s->ncq);
    for (size_t m = 0; m < s->n_methods; m++)
        rn_free(s->methods[m].path);
    rn_free(s->methods);
    rn_free(s->listen);
    rn_free(s->ca_pem);
    rn_free(s->cert_pem);
    if (s->key_pem) {
        /* the private key does not linger in freed memory */
        memset(s->key_pem, 0, strlen(s->key_pem));
        rn_free(s->key_pem);
    }
    for (int b = 0; b < PEER_BUCKETS; b++)
        while (s->peers[b]) {
            peercount *e = s->peers[b];
            s->peers[b] = e->next;
            rn_free(e);
        }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    rn_free(s);
}

/* ------------------------------------------------------------ client -- */

struct rn_rpc_channel {
    grpc_channel *ch;
    char *target;
    const char *peer_name; /* with TLS: the role's DNS name we expect */
};

struct rn_rpc_stream {
    rn_rpc_channel *ch;
    grpc_call *call;
    grpc_completion_queue *cq;
    grpc_metadata_array init_md, trail_md;
    int got_md, finished, closed_send;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    rn_errbuf unpack_err; /* why the last message was refused */
    char method[128];
    char tag_op, tag_status;
};

rn_rpc_channel *rn_rpc_channel_new(const char *target, const rn_rpc_tls *tls,
                                   const char *peer_name)
{
    rn_rpc_channel *c = rn_calloc(1, sizeof(*c));
    grpc_channel_credentials *creds;
    grpc_arg args[7];
    grpc_channel_args cargs;
    if (!c || !(c->target = rn_strdup(target))) {
        rn_free(c);
        return NULL;
    }
    set_arg_int(&args[0], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                (int)RN_RPC_MAX_MESSAGE);
    /* a restarted peer is found again within a second or two, not after
     * gRPC's default backoff of up to two minutes. The "minimum" backoff is
     * also how long one connection attempt may take, handshake included:
     * a TLS handshake on a loaded machine needs far more than 100 ms */
    set_arg_int(&args[1], GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    set_arg_int(&args[2], GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
    set_arg_int(&args[3], GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    /* a peer that vanished without closing (power off, cable) is noticed
     * on long streams */
    set_arg_int(&args[4], GRPC_ARG_KEEPALIVE_TIME_MS, 15000);
    set_arg_int(&args[5], GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    cargs.num_args = 6;
    cargs.args = args;
    if (tls) {
        grpc_ssl_pem_key_cert_pair pair = {tls->key_pem, tls->cert_pem};
        /* the server proves its role by a DNS name of its certificate,
         * not by the address we dialled (addresses of a cluster change;
         * its CA is its own) */
        args[6].type = GRPC_ARG_STRING;
        args[6].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[6].value.string = (char *)(peer_name ? peer_name : "runnel");
        cargs.num_args = 7;
        creds = grpc_ssl_credentials_create_ex(tls->ca_pem, &pair, NULL, NULL);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    if (!creds) {
        rn_free(c->target);
        rn_free(c);
        return NULL;
    }
    c->peer_name = tls ? (peer_name ? peer_name : "runnel") : NULL;
    c->ch = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    if (!c->ch) {
        rn_free(c->target);
        rn_free(c);
        return NULL;
    }
    return c;
}

void rn_rpc_channel_free(rn_rpc_channel *ch)
{
    if (!ch)
        return;
    grpc_channel_destroy(ch->ch);
    rn_free(ch->target);
    rn_free(ch);
}

const char *rn_rpc_channel_target(const rn_rpc_channel *ch)
{
    return ch->target;
}

static grpc_call *new_call(rn_rpc_channel *ch, const char *method,
                           grpc_completion_queue *cq, int timeout_ms)
{
    grpc_slice m = grpc_slice_from_copied_string(method);
    gpr_timespec dl = timeout_ms > 0 ? deadline_in(timeout_ms)
                                     : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_call *call = grpc_channel_create_call(ch->ch, NULL,
                                               GRPC_PROPAGATE_DEFAULTS, cq, m,
                                               NULL, dl, NULL);
    grpc_slice_unref(m);
    return call;
}

/* What a failed connection most likely means, from gRPC's words. */
static const char *tls_hint(const rn_rpc_channel *ch, const char *d)
{
    if (!d)
        return "";
    if (strstr(d, "certificate verify failed"))
        return ": the peer's certificate and ours are not of the same CA "
               "(check ca.crt of both --tls directories)";
    if (strstr(d, "is not in peer certificate"))
        return ch->peer_name && strcmp(ch->peer_name, "runnel-worker") == 0
                   ? ": the peer's certificate is not a worker's"
                   : ": the peer's certificate is not a scheduler's";
    if (strstr(d, "wrong version number"))
        return ": the peer speaks plaintext (a tcp:// address, without --tls)";
    if (!ch->peer_name && strstr(d, "Socket closed"))
        return ": if it speaks TLS, use its tls:// address and --tls DIR";
    return "";
}

/* "target: details" with the status mapped to an rn_err. */
static int status_error(rn_errbuf *err, const rn_rpc_channel *ch,
                        const char *method, grpc_status_code st,
                        grpc_slice details)
{
    char *d = grpc_slice_to_c_string(details);
    int code = rn_rpc_err_from_status((int)st);
    const char *slash = strrchr(method, '/');
    if (st == GRPC_STATUS_UNAVAILABLE)
        rn_error_set(err, code, "cannot reach %s (%s)%s", ch->target,
                     d && *d ? d : "unavailable", tls_hint(ch, d));
    else if (st == GRPC_STATUS_DEADLINE_EXCEEDED)
        rn_error_set(err, code, "%s: %s timed out", ch->target,
                     slash ? slash + 1 : method);
    else if (d && *d)
        rn_error_set(err, code, "%s", d);
    else
        rn_error_set(err, code, "%s: %s failed: %s", ch->target, method,
                     rn_rpc_status_name((int)st));
    gpr_free(d);
    return code;
}

static int unary_bb(rn_rpc_channel *ch, const char *method,
                    grpc_byte_buffer *req, rn_buf *reply, int timeout_ms,
                    rn_errbuf *err)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = NULL;
    grpc_metadata_array init_md, trail_md;
    grpc_byte_buffer *resp = NULL;
    grpc_status_code st = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    const char *error_string = NULL;
    grpc_op ops[6];
    char tag;
    int rc = 0;

    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    if (!(call = new_call(ch, method, cq, timeout_ms > 0 ? timeout_ms : 30000))) {
        rc = rn_error_set(err, RN_EINTERNAL, "%s: cannot create a call", ch->target);
        goto done;
    }
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &st;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.error_string = &error_string;
    if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
        rc = rn_error_set(err, RN_EINTERNAL, "%s: cannot start a call", ch->target);
        goto done;
    }
    /* the call's deadline ends the batch; the margin only guards bugs */
    wait_tag(cq, call, &tag, (timeout_ms > 0 ? timeout_ms : 30000) + 5000);
    if (st != GRPC_STATUS_OK) {
        rc = status_error(err, ch, method, st, details);
        goto done;
    }
    if (!resp) {
        rc = rn_error_set(err, RN_EFORMAT, "%s: %s: no reply message", ch->target,
                          method);
        goto done;
    }
    if ((rc = read_bb(resp, reply)))
        rn_error_set(err, rc, "%s: %s: reply too large", ch->target, method);
done:
    if (resp)
        grpc_byte_buffer_destroy(resp);
    grpc_byte_buffer_destroy(req);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    if (call)
        grpc_call_unref(call);
    destroy_cq(cq);
    return rc;
}

int rn_rpc_unary(rn_rpc_channel *ch, const char *method, const void *req,
                 size_t n, rn_buf *reply, int timeout_ms, rn_errbuf *err)
{
    return unary_bb(ch, method, make_bb(req, n), reply, timeout_ms, err);
}

int rn_rpc_unary_pb(rn_rpc_channel *ch, const char *method, const void *req,
                    const ProtobufCMessageDescriptor *reply_desc, void **reply,
                    int timeout_ms, rn_errbuf *err)
{
    rn_buf b;
    int rc;
    *reply = NULL;
    rn_buf_init(&b, RN_RPC_MAX_MESSAGE);
    rc = unary_bb(ch, method, make_bb_pb(req), &b, timeout_ms, err);
    if (rc == 0 &&
        !(*reply = rn_pb_unpack_checked(reply_desc, b.ptr ? b.ptr : "", b.len, err))) {
        rn_error_prefix(err, "%s: %s reply: ", ch->target, reply_desc->short_name);
        rc = err->code;
    }
    rn_buf_release(&b);
    return rc;
}

static int stream_open_bb(rn_rpc_channel *ch, const char *method,
                          grpc_byte_buffer *req, int timeout_ms,
                          rn_rpc_stream **out, rn_errbuf *err)
{
    rn_rpc_stream *st = rn_calloc(1, sizeof(*st));
    grpc_op ops[3];
    size_t n = 0;
    *out = NULL;
    if (!st) {
        if (req)
            grpc_byte_buffer_destroy(req);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    st->ch = ch;
    snprintf(st->method, sizeof(st->method), "%s", method);
    st->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_metadata_array_init(&st->init_md);
    grpc_metadata_array_init(&st->trail_md);
    st->details = grpc_empty_slice();
    if (!(st->call = new_call(ch, method, st->cq, timeout_ms))) {
        if (req)
            grpc_byte_buffer_destroy(req);
        rn_rpc_stream_free(st);
        return rn_error_set(err, RN_EINTERNAL, "%s: cannot create a call",
                            ch->target);
    }
    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (req) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = req;
        n++;
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        st->closed_send = 1;
    }
    if (grpc_call_start_batch(st->call, ops, n, &st->tag_op, NULL) != GRPC_CALL_OK) {
        if (req)
            grpc_byte_buffer_destroy(req);
        rn_rpc_stream_free(st);
        return rn_error_set(err, RN_EINTERNAL, "%s: cannot start a call",
                            ch->target);
    }
    /* sending completes locally even when the peer is down: the failure
     * shows in the first receive or in the status */
    wait_tag(st->cq, st->call, &st->tag_op, -1);
    if (req)
        grpc_byte_buffer_destroy(req);
    *out = st;
    return 0;
}

int rn_rpc_stream_open(rn_rpc_channel *ch, const char *method, const void *req,
                       size_t n, int with_req, int timeout_ms,
                       rn_rpc_stream **out, rn_errbuf *err)
{
    return stream_open_bb(ch, method, with_req ? make_bb(req, n) : NULL,
                          timeout_ms, out, err);
}

int rn_rpc_stream_open_pb(rn_rpc_channel *ch, const char *method,
                          const void *req, int timeout_ms, rn_rpc_stream **out,
                          rn_errbuf *err)
{
    return stream_open_bb(ch, method, req ? make_bb_pb(req) : NULL, timeout_ms,
                          out, err);
}

static int stream_send_bb(rn_rpc_stream *st, grpc_byte_buffer *bb)
{
    grpc_op op;
    int r;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    if (st->closed_send ||
        grpc_call_start_batch(st->call, &op, 1, &st->tag_op, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        return RN_EINTERNAL;
    }
    r = wait_tag(st->cq, st->call, &st->tag_op, -1);
    grpc_byte_buffer_destroy(bb);
    return r == 1 ? 0 : RN_EREMOTE;
}

int rn_rpc_stream_send(rn_rpc_stream *st, const void *p, size_t n)
{
    return stream_send_bb(st, make_bb(p, n));
}

int rn_rpc_stream_send_pb(rn_rpc_stream *st, const void *msg)
{
    return stream_send_bb(st, make_bb_pb(msg));
}

int rn_rpc_stream_close_send(rn_rpc_stream *st)
{
    grpc_op op;
    if (st->closed_send)
        return 0;
    st->closed_send = 1;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    if (grpc_call_start_batch(st->call, &op, 1, &st->tag_op, NULL) != GRPC_CALL_OK)
        return RN_EINTERNAL;
    return wait_tag(st->cq, st->call, &st->tag_op, -1) == 1 ? 0 : RN_EREMOTE;
}

int rn_rpc_stream_recv(rn_rpc_stream *st, rn_buf *msg, int timeout_ms)
{
    rn_rpc_msg m;
    int rc = rn_rpc_stream_recv_msg(st, &m, timeout_ms);
    if (rc != 1)
        return rc;
    rc = rn_rpc_msg_read(&m, msg);
    rn_rpc_msg_release(&m);
    return rc ? rc : 1;
}

int rn_rpc_stream_recv_pb(rn_rpc_stream *st, const ProtobufCMessageDescriptor *d,
                          void **out, int timeout_ms)
{
    rn_buf b;
    int rc;
    *out = NULL;
    rn_buf_init(&b, RN_RPC_MAX_MESSAGE);
    rc = rn_rpc_stream_recv(st, &b, timeout_ms);
    if (rc == 1 && !(*out = rn_pb_unpack_checked(d, b.ptr ? b.ptr : "", b.len,
                                                 &st->unpack_err)))
        rc = st->unpack_err.code;
    rn_buf_release(&b);
    return rc;
}

int rn_rpc_stream_recv_msg(rn_rpc_stream *st, rn_rpc_msg *m, int timeout_ms)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    size_t n = 0;
    int r;
    m->bb = NULL;
    memset(ops, 0, sizeof(ops));
    if (!st->got_md) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n].data.recv_initial_metadata.recv_initial_metadata = &st->init_md;
        n++;
        st->got_md = 1;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &bb;
    n++;
    if (grpc_call_start_batch(st->call, ops, n, &st->tag_op, NULL) != GRPC_CALL_OK)
        return RN_EINTERNAL;
    r = wait_tag(st->cq, st->call, &st->tag_op, timeout_ms);
    if (r < 0) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        return RN_EREMOTE;
    }
    if (!bb)
        return 0; /* end of stream, or a failed call: finish tells */
    m->bb = bb;
    return 1;
}

size_t rn_rpc_msg_len(const rn_rpc_msg *m)
{
    return m->bb ? grpc_byte_buffer_length(m->bb) : 0;
}

int rn_rpc_msg_each(const rn_rpc_msg *m, rn_rpc_piece_fn fn, void *ud)
{
    grpc_byte_buffer_reader r;
    grpc_slice *s;
    int rc = 0;
    if (!m->bb)
        return 0;
    if (!grpc_byte_buffer_reader_init(&r, m->bb))
        return RN_EFORMAT;
    /* peek: the message outlives the loop and nobody changes it */
    while (rc == 0 && grpc_byte_buffer_reader_peek(&r, &s))
        if (GRPC_SLICE_LENGTH(*s))
            rc = fn(ud, GRPC_SLICE_START_PTR(*s), GRPC_SLICE_LENGTH(*s));
    grpc_byte_buffer_reader_destroy(&r);
    return rc;
}

int rn_rpc_msg_read(const rn_rpc_msg *m, rn_buf *out)
{
    if (!m->bb) {
        rn_buf_reset(out);
        return 0;
    }
    return read_bb(m->bb, out);
}

void rn_rpc_msg_release(rn_rpc_msg *m)
{
    if (m->bb)
        grpc_byte_buffer_destroy(m->bb);
    m->bb = NULL;
}

int rn_rpc_stream_finish(rn_rpc_stream *st, rn_errbuf *err)
{
    grpc_op op;
    if (!st->finished) {
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op.data.recv_status_on_client.trailing_metadata = &st->trail_md;
        op.data.recv_status_on_client.status = &st->status;
        op.data.recv_status_on_client.status_details = &st->details;
        op.data.recv_status_on_client.error_string = &st->error_string;
        st->status = GRPC_STATUS_UNKNOWN;
        if (grpc_call_start_batch(st->call, &op, 1, &st->tag_status, NULL) !=
            GRPC_CALL_OK)
            return rn_error_set(err, RN_EINTERNAL, "%s: %s: cannot get status",
                                st->ch->target, st->method);
        /* a status always arrives: at the end, at the deadline, on cancel */
        wait_tag(st->cq, st->call, &st->tag_status, -1);
        st->finished = 1;
    }
    if (st->status != GRPC_STATUS_OK)
        return status_error(err, st->ch, st->method, st->status, st->details);
    return 0;
}

void rn_rpc_stream_cancel(rn_rpc_stream *st)
{
    if (st && st->call)
        grpc_call_cancel(st->call, NULL);
}

void rn_rpc_stream_free(rn_rpc_stream *st)
{
    if (!st)
        return;
    if (st->call) {
        if (!st->finished) {
            grpc_call_cancel(st->call, NULL);
            rn_rpc_stream_finish(st, NULL);
        }
        grpc_call_unref(st->call);
    }
    grpc_metadata_array_destroy(&st->init_md);
    grpc_metadata_array_destroy(&st->trail_md);
    grpc_slice_unref(st->details);
    gpr_free((void *)st->error_string);
    destroy_cq(st->cq);
    rn_free(st);
}
