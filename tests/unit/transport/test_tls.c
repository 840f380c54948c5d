#define _GNU_SOURCE
/* Mutual TLS in the transport (core/transport/rpc.c) with certificates of
 * the cluster CA (core/security): who may connect, what a handler learns
 * of its peer, and the per-peer, per-method and size limits that keep one
 * peer from starving the others. Real gRPC on loopback. */
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
#include "security/ca.h"
#include "testutil.h"
#include "transport/rpc.h"

#define M_WHO "/test.Tls/Who"
#define M_HOLD "/test.Tls/Hold"
#define M_SMALL "/test.Tls/Small"

static char *g_dir;

/* Replies with the peer's certificate subject ("-" without TLS). */
static void h_who(rn_rpc_call *c, void *ud)
{
    rn_buf b;
    const char *s = rn_rpc_peer_subject(c);
    (void)ud;
    rn_buf_init(&b, 1 << 20);
    if (rn_rpc_recv(c, &b, 5000) == 1 &&
        rn_rpc_send(c, s ? s : "-", strlen(s ? s : "-"), 5000) == 0)
        rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

/* Holds the call until the client goes away (or 10 s). */
static void h_hold(rn_rpc_call *c, void *ud)
{
    rn_buf b;
    (void)ud;
    rn_buf_init(&b, 1 << 20);
    rn_rpc_recv(c, &b, 5000);
    for (int i = 0; i < 1000 && !rn_rpc_should_stop(c); i++)
        usleep(10000);
    rn_rpc_finish_ok(c);
    rn_buf_release(&b);
}

static rn_tls_files *load(const char *who)
{
    char path[4096];
    rn_tls_files *f = NULL;
    rn_errbuf err;
    snprintf(path, sizeof(path), "%s/%s", g_dir, who);
    if (rn_tls_load(path, &f, &err))
        fail_msg("%s: %s", who, err.msg);
    return f;
}

static rn_rpc_tls rpc_tls(const rn_tls_files *f)
{
    rn_rpc_tls t = {f->ca_pem, f->cert_pem, f->key_pem};
    return t;
}

/* A server with the certificate of `who` (NULL: plaintext). */
static rn_rpc_server *serve(const char *who, const rn_rpc_limits *lim,
                            int *port)
{
    rn_tls_files *f = who ? load(who) : NULL;
    rn_rpc_tls t;
    rn_rpc_server *s = NULL;
    rn_rpc_method_opts small = {0, 100, 0}, hold = {1, 0, 3};
    rn_errbuf err;
    if (f)
        t = rpc_tls(f);
    assert_int_equal(rn_rpc_server_new(&s, "127.0.0.1:0", f ? &t : NULL, &err), 0);
    rn_tls_files_free(f); /* the server keeps copies */
    if (lim)
        rn_rpc_server_set_limits(s, lim);
    assert_int_equal(rn_rpc_server_add(s, M_WHO, h_who, NULL), 0);
    assert_int_equal(rn_rpc_server_add_ex(s, M_HOLD, h_hold, NULL, &hold), 0);
    assert_int_equal(rn_rpc_server_add_ex(s, M_SMALL, h_who, NULL, &small), 0);
    if (rn_rpc_server_start(s, port, &err))
        fail_msg("%s", err.msg);
    return s;
}

/* A channel to port as `who` (NULL: plaintext) expecting peer_name. */
static rn_rpc_channel *dial(int port, const char *who, const char *peer_name)
{
    char target[64];
    rn_tls_files *f = who ? load(who) : NULL;
    rn_rpc_tls t;
    rn_rpc_channel *ch;
    if (f)
        t = rpc_tls(f);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    ch = rn_rpc_channel_new(target, f ? &t : NULL, peer_name);
    rn_tls_files_free(f); /* gRPC copied the PEM text */
    assert_non_null(ch);
    return ch;
}

/* Calls Who; returns the rn_err, the reply in out. */
static int who(rn_rpc_channel *ch, const char *method, size_t n, char *out,
               size_t cap, rn_errbuf *err)
{
    rn_buf b;
    char *req = calloc(1, n + 1);
    int rc;
    rn_buf_init(&b, 1 << 20);
    memset(req, 'x', n);
    rc = rn_rpc_unary(ch, method, req, n, &b, 5000, err);
    free(req);
    if (rc == 0)
        snprintf(out, cap, "%.*s", (int)b.len, b.ptr);
    rn_buf_release(&b);
    return rc;
}

static void test_mutual_tls(void **state)
{
    int port;
    rn_rpc_server *s = serve("scheduler", NULL, &port);
    rn_rpc_channel *ch;
    rn_errbuf err;
    char out[256];
    (void)state;

    /* a client of the cluster's CA: its verified subject reaches us */
    ch = dial(port, "alice", "runnel-scheduler");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), 0);
    assert_string_equal(out, "CN=alice,OU=client,O=runnel");
    rn_rpc_channel_free(ch);
    ch = dial(port, "w1", "runnel-scheduler");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), 0);
    assert_string_equal(out, "CN=w1,OU=worker,O=runnel");
    rn_rpc_channel_free(ch);

    /* a certificate of another CA: no connection */
    ch = dial(port, "mallory", "runnel-scheduler");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), RN_EREMOTE);
    assert_non_null(strstr(err.msg, "not of the same CA"));
    rn_rpc_channel_free(ch);
    /* plaintext to a TLS port: no connection */
    ch = dial(port, NULL, NULL);
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), RN_EREMOTE);
    assert_non_null(strstr(err.msg, "use its tls:// address"));
    rn_rpc_channel_free(ch);
    /* a client that wants a worker finds a scheduler's certificate: it
     * hangs up (a role is proven by the certificate's DNS name) */
    ch = dial(port, "alice", "runnel-worker");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), RN_EREMOTE);
    assert_non_null(strstr(err.msg, "not a worker's"));
    rn_rpc_channel_free(ch);
    rn_rpc_server_free(s, 1000);

    /* a worker's server, a client expecting a worker: fine */
    s = serve("w2", NULL, &port);
    ch = dial(port, "bob", "runnel-worker");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), 0);
    assert_string_equal(out, "CN=bob,OU=client,O=runnel");
    rn_rpc_channel_free(ch);
    /* ... but not one expecting the scheduler there */
    ch = dial(port, "bob", "runnel-scheduler");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), RN_EREMOTE);
    rn_rpc_channel_free(ch);
    rn_rpc_server_free(s, 1000);

    /* TLS to a plaintext port: no connection; plaintext: no subject */
    s = serve(NULL, NULL, &port);
    ch = dial(port, "alice", "runnel-scheduler");
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), RN_EREMOTE);
    assert_non_null(strstr(err.msg, "speaks plaintext"));
    rn_rpc_channel_free(ch);
    ch = dial(port, NULL, NULL);
    assert_int_equal(who(ch, M_WHO, 1, out, sizeof(out), &err), 0);
    assert_string_equal(out, "-");
    rn_rpc_channel_free(ch);
    rn_rpc_server_free(s, 1000);
}

typedef struct holder {
    rn_rpc_stream *st[8];
    size_t n;
} holder;

/* Opens Hold calls from ch and waits until the server holds them. */
static void hold(rn_rpc_channel *ch, holder *h, size_t n)
{
    rn_errbuf err;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rn_rpc_stream_open(ch, M_HOLD, "x", 1, 1, 20000,
                                            &h->st[h->n++], &err),
                         0);
    usleep(300000);
}

static void release(holder *h)
{
    for (size_t i = 0; i < h->n; i++)
        rn_rpc_stream_free(h->st[i]);
    h->n = 0;
}

static void test_limits(void **state)
{
    rn_rpc_limits lim;
    rn_rpc_channel *alice, *bob, *w1;
    rn_rpc_server *s;
    holder h = {{0}, 0}, hb = {{0}, 0};
    rn_errbuf err;
    char out[256];
    int port;
    (void)state;

    memset(&lim, 0, sizeof(lim));
    lim.per_peer_max = 2;
    lim.pool_max[1] = 4;
    s = serve("scheduler", &lim, &port);
    alice = dial(port, "alice", "runnel-scheduler");
    bob = dial(port, "bob", "runnel-scheduler");
    w1 = dial(port, "w1", "runnel-scheduler");

    /* alice holds two calls of pool 1: a third from her is refused at
     * once, while bob and calls of another pool go on */
    hold(alice, &h, 2);
    assert_int_equal(rn_rpc_unary(alice, M_HOLD, "x", 1, &(rn_buf){0}, 5000, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "too many calls at once from CN=alice"));
    assert_int_equal(who(bob, M_WHO, 1, out, sizeof(out), &err), 0);
    assert_int_equal(who(alice, M_WHO, 1, out, sizeof(out), &err), 0);
    /* Hold allows 3 calls at once whoever calls: bob gets one more */
    hold(bob, &hb, 1);
    assert_int_equal(rn_rpc_unary(bob, M_HOLD, "x", 1, &(rn_buf){0}, 5000, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "too many Hold calls at once"));
    /* the worker's calls are in pool 0: untouched */
    assert_int_equal(who(w1, M_WHO, 1, out, sizeof(out), &err), 0);
    release(&h);
    release(&hb);
    usleep(300000);
    /* their slots are back */
    hold(alice, &h, 2);
    release(&h);

    /* a request over its method's size is refused before it is read */
    assert_int_equal(who(alice, M_SMALL, 100, out, sizeof(out), &err), 0);
    assert_int_equal(who(alice, M_SMALL, 101, out, sizeof(out), &err), RN_ELIMIT);

    rn_rpc_channel_free(alice);
    rn_rpc_channel_free(bob);
    rn_rpc_channel_free(w1);
    rn_rpc_server_free(s, 1000);
}

static int setup(void **state)
{
    (void)state;
    rn_rpc_init();
    g_dir = rn_test_tmpdir("tls");
    return g_dir ? rn_test_pki(g_dir) : -1;
}

static int teardown(void **state)
{
    (void)state;
    rn_test_rmtree(g_dir);
    free(g_dir);
    rn_rpc_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
