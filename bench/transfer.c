/*
 * Worker-to-worker partition transfer on loopback (a benchmark, not a
 * test): the code path of a task fetching its input from a peer.
 *
 *   transfer [--fetches 20] [--size 64MiB] [--shape lines|blobs|groups]
 *            [--streams 1] [--phases] [--tls DIR [--server-tls DIR]]
 *
 * Two processes, as two workers: the server process holds partitions in
 * an rn_partstore and serves runnel.v1.Worker/FetchPartition exactly as
 * the worker does (core/cluster/worker.c, h_fetch_partition: partstore
 * lookup, rn_chunk_send_partition = the partition encoded piece by piece
 * into 1 MiB Chunks, each sent while the next is encoded); the client
 * process fetches them as a worker fetches a task's input (fetch_input:
 * rn_rpc_stream_open_pb + rn_chunk_recv_partition = chunk checks and the
 * streaming decoder fed from gRPC's buffers, into a new partition). The
 * fork happens before rn_rpc_init in both processes (docs/PROTOCOL.md:
 * never fork after it).
 *
 * Shapes: `lines` are ~100-byte strings (text lines, ~600k values per
 * 64 MiB: the codec's per-value work counts), `blobs` are 1 MiB strings
 * (bytes only), `groups` the values of a groupby's shuffle bucket
 * (bench/shuffle.sh): [user, [[partition, record, record...]]] with 1 to
 * 8 records {user, bytes, status, url} of ~75 bytes of JSON each (many
 * small values: a record is 9 of them). One partition per shape is built
 * and stored under
 * --fetches task ids (the handler encodes it again for every fetch, as
 * the worker does).
 *
 * --tls DIR: mutual TLS as between two workers of a TLS cluster. DIR is
 * a worker identity (`runnel security issue CA_DIR --role worker --name
 * NAME --out DIR`); both processes use it: the server requires and
 * verifies the fetcher's certificate against DIR/ca.crt, as a worker's
 * service does, and the fetcher verifies that the server's certificate
 * is a worker's (DNS:runnel-worker), as a worker fetching from a peer
 * does (core/cluster/worker.c). --server-tls DIR gives the serving side
 * another worker identity (default: the same). Without --tls: plaintext.
 *
 * --phases times the parts of each fetch instead (see recv_phases), and
 * where the fetching thread's time went (on a CPU, waiting for one,
 * waiting for data: /proc/thread-self/schedstat).
 *
 * Prints `RESULT shape=... bytes=<encoded bytes per partition> fetches=N
 * seconds=S GBps=<encoded bytes / s / 1e9> ...` and, measured in the
 * client process on the same partition, the cost of encode alone and of
 * decode alone (the codec's share of a fetch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/error.h"
#include "cluster/partstore.h"
#include "security/ca.h"
#include "security/identity.h"
#include "transport/chunk.h"
#include "transport/methods.h"
#include "transport/rpc.h"
#include "value/codec.h"
#include "value/partition.h"

#include "runnel_worker.pb-c.h"

#define JOB "j-bench"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (!strcmp(end, "KiB")) v *= 1024.0;
    else if (!strcmp(end, "MiB")) v *= 1024.0 * 1024;
    else if (!strcmp(end, "GiB")) v *= 1024.0 * 1024 * 1024;
    else if (*end) {
        fprintf(stderr, "transfer: bad size '%s'\n", s);
        exit(2);
    }
    return (uint64_t)v;
}

/* About `bytes` bytes (as JSON) of groups: [user, [[7, rec...]]]. */
static rn_partition *make_groups(uint64_t bytes)
{
    static const char *const sections[] = {"/api/items/", "/static/img/",
                                           "/search/", "/user/"};
    rn_partition *p = rn_partition_new();
    uint64_t total = 0;
    if (!p) {
        fprintf(stderr, "transfer: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; total < bytes; i++) {
        char user[16], url[8][32];
        int ulen = snprintf(user, sizeof(user), "u%06zu", (i * 7919) % 1000000);
        size_t nrec = 1 + i % 8;
        rn_field f[8][4];
        rn_value seg[9], list, pair[2];
        seg[0] = rn_int(7);
        for (size_t r = 0; r < nrec; r++) {
            int n = snprintf(url[r], sizeof(url[r]), "%s%zu", sections[(i + r) % 4],
                             (i * 31 + r) % 100000);
            f[r][0] = (rn_field){{"user", 4}, rn_string(user, (uint32_t)ulen)};
            f[r][1] = (rn_field){{"bytes", 5}, rn_int((int64_t)(128 + (i + r) % 9000))};
            f[r][2] = (rn_field){{"status", 6}, rn_int(200)};
            f[r][3] = (rn_field){{"url", 3}, rn_string(url[r], (uint32_t)n)};
            seg[1 + r] = rn_record(f[r], 4);
            total += 45 + (uint64_t)ulen + (uint64_t)n;
        }
        list = rn_list(seg, nrec + 1);
        pair[0] = rn_string(user, (uint32_t)ulen);
        pair[1] = rn_list(&list, 1);
        rn_value v = rn_list(pair, 2);
        if (rn_partition_push(p, &v)) {
            fprintf(stderr, "transfer: out of memory\n");
            exit(1);
        }
    }
    return p;
}

/* A partition of about `bytes` bytes of string data (or groups). */
static rn_partition *make_partition(const char *shape, uint64_t bytes)
{
    if (strcmp(shape, "groups") == 0)
        return make_groups(bytes);

    rn_partition *p = rn_partition_new();
    size_t len = strcmp(shape, "blobs") == 0 ? (size_t)1 << 20 : 0;
    char *s = malloc(((size_t)1 << 20) + 256);
    uint64_t total = 0;
    if (!p || !s) {
        fprintf(stderr, "transfer: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; total < bytes; i++) {
        size_t n = len ? len : 60 + (i * 7919) % 81; /* 60..140, mean ~100 */
        for (size_t k = 0; k < n; k++)
            s[k] = (char)('a' + (i + k * 13) % 26);
        rn_value v = rn_string(s, (uint32_t)n);
        if (rn_partition_push(p, &v)) {
            fprintf(stderr, "transfer: out of memory\n");
            exit(1);
        }
        total += n;
    }
    free(s);
    return p;
}

/* ------------------------------------------------- the serving worker -- */

/* What core/cluster/worker.c's h_fetch_partition does. */
static void h_fetch_partition(rn_rpc_call *c, void *ud)
{
    rn_partstore *ps = ud;
    Runnel__V1__FetchPartitionRequest *req = NULL;
    rn_partition *p;
    rn_errbuf err;

    if (rn_rpc_recv_pb(c, &runnel__v1__fetch_partition_request__descriptor,
                       (void **)&req, 10000) != 1)
        return;
    if (!(p = rn_partstore_get(ps, req->job_id, req->task_id))) {
        rn_rpc_finish(c, RN_RPC_NOT_FOUND, "no task %u", req->task_id);
    } else {
        if (rn_chunk_send_partition(c, p, 60000, &err) == 0)
            rn_rpc_finish_ok(c);
        else
            rn_rpc_finish_err(c, &err);
        rn_partition_unref(p);
    }
    rn_pb_free(req);
}

/* The child: builds and stores the partition, serves until its parent
 * closes the control pipe (or dies). */
static int serve(int port_fd, int ctl_fd, const char *shape, uint64_t bytes,
                 int fetches, const rn_rpc_tls *tls)
{
    rn_partstore *ps;
    rn_rpc_server *srv = NULL;
    rn_partition *p;
    rn_errbuf err;
    int port = 0, rc = 0;
    char c;

    rn_rpc_init();
    ps = rn_partstore_new();
    p = make_partition(shape, bytes);
    for (int i = 0; i < fetches; i++) {
        rn_partition_ref(p);
        rn_partstore_put(ps, JOB, (uint32_t)i, 0, 1, p);
    }
    rn_partition_unref(p);
    rn_error_clear(&err);
    if (rn_rpc_server_new(&srv, "127.0.0.1:0", tls, &err) ||
        rn_rpc_server_add(srv, RN_M_FETCH_PARTITION, h_fetch_partition, ps) ||
        rn_rpc_server_start(srv, &port, &err)) {
        fprintf(stderr, "transfer: server: %s\n", err.msg[0] ? err.msg : "cannot start");
        port = -1;
    }
    if (write(port_fd, &port, sizeof(port)) != sizeof(port) || port < 0) {
        rc = 1;
        goto done;
    }
    close(port_fd);
    while (read(ctl_fd, &c, 1) > 0) /* EOF: the parent is done */
        ;
done:
    rn_rpc_server_free(srv, 1000);
    rn_partstore_free(ps);
    rn_rpc_shutdown();
    return rc;
}

/* ----------------------------------------------------- the fetching one -- */

typedef struct fetcher {
    rn_rpc_channel *ch;
    int first, step, fetches;
    double seconds; /* slowest single fetch */
    size_t values;
    int failed;
    /* --phases: sums over the fetches */
    int phases;
    double t_first, t_stream, t_decode;
    double t_cpu, t_runq; /* the fetching thread: on a CPU, waiting for one */
} fetcher;

/* This thread's CPU time and run-queue wait, in seconds (schedstat). */
static void thread_sched(double *cpu, double *runq)
{
    char path[64];
    unsigned long long c = 0, w = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/thread-self/schedstat");
    *cpu = *runq = 0;
    if (!(f = fopen(path, "r")))
        return;
    if (fscanf(f, "%llu %llu", &c, &w) == 2) {
        *cpu = (double)c / 1e9;
        *runq = (double)w / 1e9;
    }
    fclose(f);
}

/* rn_chunk_recv_partition taken apart (the same calls: stream_recv_msg,
 * chunk_rx_msg feeding the streaming decoder, stream_finish, chunk_rx_end,
 * codec_dec_end) to time its phases: until the first chunk arrives (the
 * server's lookup and first piece), the stream (decoding as it arrives),
 * the end (checksum compared, what was left to decode). */
static int recv_phases(fetcher *f, rn_rpc_stream *st, rn_partition *p,
                       double t0, rn_errbuf *err)
{
    rn_chunk_rx rx;
    rn_codec_dec d;
    double t1 = 0, t2, t3;
    int r, rc = 0;
    rn_chunk_rx_init(&rx, NULL, 0);
    rn_codec_dec_begin(&d, p);
    rx.dec = &d;
    for (;;) {
        rn_rpc_msg m;
        r = rn_rpc_stream_recv_msg(st, &m, 60000);
        if (!t1)
            t1 = now_s();
        if (r == 0)
            break;
        if (r < 0) {
            rc = rn_error_set(err, RN_EREMOTE, "stream broken");
            break;
        }
        rc = rn_chunk_rx_msg(&rx, &m, err);
        rn_rpc_msg_release(&m);
        if (rc)
            break;
    }
    if (!rc && !(rc = rn_rpc_stream_finish(st, err)))
        rc = rn_chunk_rx_end(&rx, "partition", err);
    t2 = now_s();
    if (!rc)
        rc = rn_codec_dec_end(&d, err);
    rn_codec_dec_release(&d);
    t3 = now_s();
    f->t_first += t1 - t0;
    f->t_stream += t2 - t1;
    f->t_decode += t3 - t2;
    return rc;
}

/* Set by the first failed fetch: every stream stops (one message, not
 * one per remaining fetch). */
static _Atomic int g_failed;

/* What core/cluster/worker.c's fetch_input does for a remote input. */
static void *fetch_loop(void *arg)
{
    fetcher *f = arg;
    for (int i = f->first; i < f->fetches && !g_failed; i += f->step) {
        Runnel__V1__FetchPartitionRequest req = RUNNEL__V1__FETCH_PARTITION_REQUEST__INIT;
        rn_rpc_stream *st = NULL;
        rn_partition *p = rn_partition_new();
        rn_errbuf err;
        char what[64];
        double t0 = now_s(), dt, c0, w0, c1, w1;
        thread_sched(&c0, &w0);

        req.job_id = JOB;
        req.task_id = (uint32_t)i;
        snprintf(what, sizeof(what), "task %d's output", i);
        if (!p || rn_rpc_stream_open_pb(f->ch, RN_M_FETCH_PARTITION, &req, 0, &st, &err) ||
            (f->phases ? recv_phases(f, st, p, t0, &err)
                       : rn_chunk_recv_partition(st, p, 60000, what, &err))) {
            if (!g_failed++)
                fprintf(stderr, "transfer: fetch %d: %s\n", i, p ? err.msg : "out of memory");
            f->failed = 1;
        } else {
            f->values = p->n;
        }
        rn_rpc_stream_free(st);
        rn_partition_unref(p);
        dt = now_s() - t0;
        thread_sched(&c1, &w1);
        f->t_cpu += c1 - c0;
        f->t_runq += w1 - w0;
        if (dt > f->seconds)
            f->seconds = dt;
    }
    return NULL;
}

/* Loads a --tls directory; it must hold a worker's identity. 0 or 1 after
 * printing why not. */
static int load_worker_tls(const char *dir, rn_tls_files **out)
{
    rn_errbuf err;
    if (rn_tls_load(dir, out, &err)) {
        fprintf(stderr, "transfer: --tls %s: %s\n", dir, err.msg);
        return 1;
    }
    if ((*out)->self.role != RN_ROLE_WORKER) {
        fprintf(stderr, "transfer: --tls %s: a %s's certificate; both sides "
                        "are workers (runnel security issue --role worker)\n",
                dir, rn_role_name((*out)->self.role));
        rn_tls_files_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

/* The codec's share, in this process, on the same partition: whole-buffer
 * encode and decode. *len: encoded bytes. */
static int codec_alone(const char *shape, uint64_t bytes, size_t *nvalues,
                       size_t *len, double *enc, double *dec)
{
    rn_partition *p = make_partition(shape, bytes), *q = NULL;
    rn_buf b;
    rn_errbuf err;
    double t0;
    int rc = 1;

    rn_buf_init(&b, 0);
    *nvalues = p->n;
    t0 = now_s();
    if (rn_codec_encode(&b, p->items, p->n)) {
        fprintf(stderr, "transfer: encode failed\n");
        goto done;
    }
    *enc = now_s() - t0;
    *len = b.len;
    rn_partition_unref(p);
    p = NULL;
    if (!(q = rn_partition_new())) {
        fprintf(stderr, "transfer: out of memory\n");
        goto done;
    }
    t0 = now_s();
    if (rn_codec_decode(b.ptr, b.len, q, &err)) {
        fprintf(stderr, "transfer: decode: %s\n", err.msg);
        goto done;
    }
    *dec = now_s() - t0;
    rc = 0;
done:
    if (p)
        rn_partition_unref(p);
    if (q)
        rn_partition_unref(q);
    rn_buf_release(&b);
    return rc;
}

int main(int argc, char **argv)
{
    const char *shape = "lines", *tls_dir = NULL, *srv_dir = NULL;
    uint64_t bytes = (uint64_t)64 << 20;
    int fetches = 20, streams = 1, phases = 0;
    int port_pipe[2], ctl_pipe[2], port = -1, status = 0, rc = 1;
    int grpc_up = 0, ctl = -1;
    pid_t child = -1;
    rn_tls_files *tf = NULL, *stf = NULL;
    rn_rpc_tls tls, stls, *tlsp = NULL, *stlsp = NULL;
    rn_rpc_channel *ch = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fetches") && i + 1 < argc)
            fetches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            bytes = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc)
            shape = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--phases"))
            phases = 1;
        else if (!strcmp(argv[i], "--tls") && i + 1 < argc)
            tls_dir = argv[++i];
        else if (!strcmp(argv[i], "--server-tls") && i + 1 < argc)
            srv_dir = argv[++i];
        else {
            fprintf(stderr, "usage: transfer [--fetches N] [--size 64MiB] "
                            "[--shape lines|blobs|groups] [--streams K] "
                            "[--phases] [--tls DIR [--server-tls DIR]]\n");
            return 2;
        }
    }
    if (fetches < 1 || streams < 1 || streams > 16 ||
        (strcmp(shape, "lines") && strcmp(shape, "blobs") &&
         strcmp(shape, "groups")) ||
        (srv_dir && !tls_dir)) {
        fprintf(stderr, "transfer: bad arguments\n");
        return 2;
    }
    /* the certificates are read before the fork */
    if (tls_dir) {
        if (load_worker_tls(tls_dir, &tf))
            return 2;
        if (srv_dir && load_worker_tls(srv_dir, &stf)) {
            rn_tls_files_free(tf);
            return 2;
        }
        tls = (rn_rpc_tls){tf->ca_pem, tf->cert_pem, tf->key_pem};
        tlsp = &tls;
        stls = stf ? (rn_rpc_tls){stf->ca_pem, stf->cert_pem, stf->key_pem} : tls;
        stlsp = &stls;
    }

    if (pipe(port_pipe) || pipe(ctl_pipe)) {
        perror("pipe");
        goto done;
    }
    rn_alloc_tune_for_daemon(); /* as `runnel worker` does */
    child = fork(); /* before rn_rpc_init, in both processes */
    if (child < 0) {
        perror("fork");
        goto done;
    }
    if (child == 0) {
        close(port_pipe[0]);
        close(ctl_pipe[1]);
        prctl(PR_SET_NAME, "xfer-server"); /* tells the two apart in perf */
        int r = serve(port_pipe[1], ctl_pipe[0], shape, bytes, fetches, stlsp);
        rn_tls_files_free(tf);
        rn_tls_files_free(stf);
        _exit(r);
    }
    close(port_pipe[1]);
    close(ctl_pipe[0]);
    ctl = ctl_pipe[1];
    if (read(port_pipe[0], &port, sizeof(port)) != sizeof(port) || port <= 0) {
        fprintf(stderr, "transfer: the server did not start\n");
        goto done;
    }

    prctl(PR_SET_NAME, "xfer-client");
    rn_rpc_init();
    grpc_up = 1;
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    /* as a worker dials a peer: the peer must show a worker's certificate */
    if (!(ch = rn_rpc_channel_new(target, tlsp, tlsp ? RN_TLS_NAME_WORKER : NULL))) {
        fprintf(stderr, "transfer: cannot make a channel to %s\n", target);
        goto done;
    }

    /* warm-up: connect (and the TLS handshake), one fetch not timed */
    {
        fetcher w = {ch, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        fetch_loop(&w);
        if (w.failed)
            goto done;
    }

    fetcher fs[16];
    pthread_t th[16];
    int started = 0, failed = 0;
    double t0 = now_s();
    for (int k = 0; k < streams; k++) {
        fs[k] = (fetcher){ch, k, streams, fetches, 0, 0, 0, phases, 0, 0, 0, 0, 0};
        if (pthread_create(&th[k], NULL, fetch_loop, &fs[k])) {
            fprintf(stderr, "transfer: cannot start a thread\n");
            failed = 1;
            break;
        }
        started++;
    }
    double slowest = 0, t_first = 0, t_stream = 0, t_decode = 0, t_cpu = 0, t_runq = 0;
    for (int k = 0; k < started; k++) {
        pthread_join(th[k], NULL);
        failed |= fs[k].failed;
        if (fs[k].seconds > slowest)
            slowest = fs[k].seconds;
        t_first += fs[k].t_first;
        t_stream += fs[k].t_stream;
        t_decode += fs[k].t_decode;
        t_cpu += fs[k].t_cpu;
        t_runq += fs[k].t_runq;
    }
    double secs = now_s() - t0;
    /* the server goes before the codec is timed alone (its memory, its CPU) */
    rn_rpc_channel_free(ch);
    ch = NULL;
    close(ctl);
    ctl = -1;
    if (waitpid(child, &status, 0) == child && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        failed = 1;
    child = -1;
    if (failed)
        goto done;

    size_t nvalues = 0, len = 0;
    double enc = 0, dec = 0;
    if (codec_alone(shape, bytes, &nvalues, &len, &enc, &dec))
        goto done;

    printf("RESULT shape=%s values=%zu bytes=%zu fetches=%d streams=%d tls=%d seconds=%.3f "
           "GBps=%.3f per_fetch_ms=%.1f slowest_ms=%.1f encode_GBps=%.3f "
           "decode_GBps=%.3f\n",
           shape, nvalues, len, fetches, streams, tlsp != NULL, secs,
           (double)len * fetches / secs / 1e9, secs / fetches * 1e3 * streams,
           slowest * 1e3, (double)len / enc / 1e9, (double)len / dec / 1e9);
    if (phases)
        printf("PHASES per fetch: first chunk after %.1f ms (server: lookup + first piece), "
               "stream %.1f ms (%.2f GB/s: gRPC + chunk checks + decoding as it arrives), "
               "end %.1f ms (checksum, the rest of the decoding)\n",
               t_first / fetches * 1e3, t_stream / fetches * 1e3,
               (double)len * fetches / t_stream / 1e9, t_decode / fetches * 1e3);
    if (phases)
        printf("THREAD per fetch: the fetching thread ran %.1f ms, waited %.1f ms for a CPU, "
               "%.1f ms for data\n",
               t_cpu / fetches * 1e3, t_runq / fetches * 1e3,
               (secs / fetches * streams - (t_cpu + t_runq) / fetches) * 1e3);
    rc = 0;
done:
    /* every way out: our channel and gRPC's threads are stopped before the
     * process exits (an exit with a TLS channel still reconnecting crashed
     * in OpenSSL's exit-time clean-up, core/transport/rpc.c), and the
     * server is told to stop (EOF on its pipe) and reaped */
    rn_rpc_channel_free(ch);
    if (grpc_up)
        rn_rpc_shutdown();
    if (ctl >= 0)
        close(ctl);
    if (child > 0 && waitpid(child, &status, 0) == child &&
        !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = 1;
    rn_tls_files_free(tf);
    rn_tls_files_free(stf);
    return rc;
}
