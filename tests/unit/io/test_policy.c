/*
 * The worker's file policy (io.h: rn_io_policy): relative paths and ".."
 * refused, allowed roots and denied directories, symbolic links that lead
 * outside (read, listed, or in place of a sink's directory), a link at a
 * sink's final name replaced and not followed, FIFOs, the policy cleared;
 * and the same refusals through the engine (manifest -> plan -> local run
 * of the shipped read_text, to_textfiles and to_avro).
 * The network half (block_link_local) is in test_http.c, beside its server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "exec/local.h"
#include "io/io.h"
#include "manifest/manifest.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "testutil.h"

static char *dir; /* per-test scratch directory */
static char cwd0[4096];

static int setup(void **state)
{
    (void)state;
    dir = rn_test_tmpdir("policy");
    if (!dir || !getcwd(cwd0, sizeof(cwd0)))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rn_io_policy_set(NULL, NULL);
    if (chdir(cwd0) != 0)
        return -1;
    rn_test_rmtree(dir);
    free(dir);
    dir = NULL;
    return 0;
}

/* dir + "/" + name, in a static ring so a test can hold a few. */
static const char *P(const char *name)
{
    static char ring[16][4096];
    static int k;
    char *p = ring[k++ % 16];
    snprintf(p, sizeof(ring[0]), "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    assert_int_equal(rn_test_write_file(P(name), text, strlen(text)), 0);
}

static void mk(const char *name)
{
    assert_int_equal(mkdir(P(name), 0777), 0);
}

static void link_to(const char *target, const char *name)
{
    assert_int_equal(symlink(target, P(name)), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Reads url whole into buf (NUL-terminated); the rn_err. */
static int slurp(const char *url, char *buf, size_t cap, rn_errbuf *err)
{
    struct rn_stream *s = NULL;
    size_t have = 0;
    int rc = rn_io_open_url(url, 0, UINT64_MAX, 0, &s, err);
    while (rc == 0 && have + 1 < cap) {
        int64_t k = rn_io_stream_read(s, buf + have, cap - 1 - have, err);
        if (k < 0)
            rc = (int)k;
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    rn_io_stream_close(s);
    buf[have] = '\0';
    return rc;
}

/* Writes text to url and commits; the rn_err. */
static int write_url(const char *url, const char *text, rn_errbuf *err)
{
    struct rn_writer *w = NULL;
    int rc = rn_io_create_url(url, &w, err);
    if (rc)
        return rc;
    if ((rc = rn_io_writer_write(w, text, strlen(text), err))) {
        rn_io_writer_abort(w);
        return rc;
    }
    return rn_io_writer_commit(w, err);
}

static int list_n(const char *pattern, size_t *n, rn_errbuf *err)
{
    rn_arena a;
    rn_io_entry *e;
    int rc;
    rn_arena_init(&a, 0);
    rc = rn_io_list_urls(&a, pattern, &e, n, err);
    rn_arena_release(&a);
    return rc;
}

/* allow: the roots (NULL-terminated, names under dir); deny likewise. */
static void set_policy(const char *const *allow, const char *const *deny,
                       int block)
{
    const char *a[8], *d[8];
    size_t na = 0, nd = 0;
    rn_io_policy p = {0};
    rn_errbuf err = {0};
    for (; allow && allow[na]; na++)
        a[na] = P(allow[na]);
    for (; deny && deny[nd]; nd++)
        d[nd] = P(deny[nd]);
    p.allow = a;
    p.n_allow = na;
    p.deny = d;
    p.n_deny = nd;
    p.block_link_local = block;
    assert_int_equal(rn_io_policy_set(&p, &err), 0);
}

/* The usual layout: dir/allowed/{a.txt}, dir/outside/{secret.txt}. */
static void layout(void)
{
    mk("allowed");
    mk("outside");
    put("allowed/a.txt", "allowed\n");
    put("outside/secret.txt", "secret\n");
}

/* ------------------------------------------------------------------ */

/* Without a policy: relative paths, "..", links anywhere, all as before. */
static void test_no_policy_unchanged(void **state)
{
    char buf[256];
    rn_errbuf err = {0};
    size_t n;
    (void)state;
    layout();
    link_to("../outside/secret.txt", "allowed/link.txt");
    link_to("../outside", "allowed/outdir");

    assert_int_equal(slurp(P("allowed/../outside/secret.txt"), buf,
                           sizeof(buf), &err),
                     0);
    assert_string_equal(buf, "secret\n");
    assert_int_equal(slurp(P("allowed/link.txt"), buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "secret\n");
    assert_int_equal(list_n(P("allowed"), &n, &err), 0);
    assert_int_equal(n, 2); /* a.txt and the link */
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(slurp("allowed/a.txt", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "allowed\n");
    assert_int_equal(write_url("rel/x.txt", "r\n", &err), 0);
    assert_true(exists(P("rel/x.txt")));
    /* a sink through a linked directory, and through "..", as today */
    assert_int_equal(write_url(P("allowed/outdir/new/x.txt"), "o\n", &err),
                     0);
    assert_true(exists(P("outside/new/x.txt")));
    assert_int_equal(write_url(P("allowed/../outside/y.txt"), "y\n", &err),
                     0);
    assert_true(exists(P("outside/y.txt")));
    /* a directory one may write in but not list (root may anyway) */
    mk("wx");
    assert_int_equal(chmod(P("wx"), 0300), 0);
    assert_int_equal(write_url(P("wx/z.txt"), "z\n", &err), 0);
    assert_int_equal(chmod(P("wx"), 0700), 0);
    assert_true(exists(P("wx/z.txt")));
}

static void test_dotdot_refused(void **state)
{
    char buf[256], url[4200];
    rn_errbuf err = {0};
    size_t n;
    struct rn_writer *w = NULL;
    (void)state;
    layout();
    set_policy(NULL, NULL, 0); /* no roots: ".." is refused all the same */

    assert_int_equal(slurp(P("allowed/../outside/secret.txt"), buf,
                           sizeof(buf), &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "/allowed/../outside/secret.txt: '..' is "
                                    "not allowed in paths on a cluster "
                                    "worker"));
    snprintf(url, sizeof(url), "file://%s", P("allowed/../outside/s.txt"));
    assert_int_equal(slurp(url, buf, sizeof(buf), &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "file://"));
    assert_int_equal(list_n(P("allowed/.."), &n, &err), RN_EPERM);
    assert_int_equal(list_n(P("allowed/../outside/*.txt"), &n, &err),
                     RN_EPERM);

    /* a sink: refused before anything is created */
    assert_int_equal(rn_io_create_url(P("allowed/out/../../outside/x-0.txt"),
                                      &w, &err),
                     RN_EPERM);
    assert_null(w);
    assert_non_null(strstr(err.msg, "'..' is not allowed"));
    assert_false(exists(P("allowed/out")));
    assert_false(exists(P("outside/x-0.txt")));

    /* the same names without ".." are fine (no roots: anywhere) */
    assert_int_equal(slurp(P("outside/secret.txt"), buf, sizeof(buf), &err),
                     0);
    assert_string_equal(buf, "secret\n");
    /* "." and doubled slashes are only spelling */
    assert_int_equal(slurp(P("allowed/.//a.txt"), buf, sizeof(buf), &err), 0);
}

static void test_relative_refused(void **state)
{
    char buf[256];
    rn_errbuf err = {0};
    size_t n;
    struct rn_writer *w = NULL;
    (void)state;
    layout();
    assert_int_equal(chdir(dir), 0);
    set_policy(NULL, NULL, 0);
    assert_int_equal(slurp("allowed/a.txt", buf, sizeof(buf), &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "allowed/a.txt: a relative path is not "
                                    "allowed on a cluster worker"));
    assert_int_equal(list_n("allowed", &n, &err), RN_EPERM);
    assert_int_equal(rn_io_create_url("rel/x.txt", &w, &err), RN_EPERM);
    assert_false(exists(P("rel")));
    assert_int_equal(rn_io_create_url("x.txt", &w, &err), RN_EPERM);
}

static void test_outside_roots(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    char buf[256];
    rn_errbuf err = {0};
    size_t n;
    (void)state;
    layout();
    mk("allowed2");
    put("allowed2/b.txt", "b\n");
    set_policy(allow, NULL, 0);

    assert_int_equal(slurp(P("allowed/a.txt"), buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "allowed\n");
    assert_int_equal(slurp(P("outside/secret.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "/outside/secret.txt: outside the "
                                    "directories this worker allows "
                                    "(--allow-path)"));
    /* whole components: allowed2 is not inside allowed */
    assert_int_equal(slurp(P("allowed2/b.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);
    assert_int_equal(slurp("/etc/passwd", buf, sizeof(buf), &err), RN_EPERM);
    /* a name outside that does not exist gets the same answer */
    assert_int_equal(slurp(P("outside/nope.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);

    assert_int_equal(list_n(P("allowed"), &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list_n(P("outside/secret.txt"), &n, &err), RN_EPERM);
    assert_int_equal(list_n(P("outside"), &n, &err), RN_EPERM);
    assert_int_equal(list_n(P("outside/*.txt"), &n, &err), RN_EPERM);

    assert_int_equal(write_url(P("allowed/out/x.txt"), "x\n", &err), 0);
    assert_true(exists(P("allowed/out/x.txt")));
    assert_int_equal(write_url(P("outside/x.txt"), "x\n", &err), RN_EPERM);
    assert_int_equal(write_url(P("outside/new/x.txt"), "x\n", &err),
                     RN_EPERM);
    assert_false(exists(P("outside/x.txt")));
    assert_false(exists(P("outside/new")));
}

/* A root given through a link is allowed in both spellings. */
static void test_root_spellings(void **state)
{
    static const char *const allow[] = {"alias", NULL};
    char buf[256];
    rn_errbuf err = {0};
    (void)state;
    layout();
    link_to("allowed", "alias");
    set_policy(allow, NULL, 0);
    assert_int_equal(slurp(P("alias/a.txt"), buf, sizeof(buf), &err), 0);
    assert_int_equal(slurp(P("allowed/a.txt"), buf, sizeof(buf), &err), 0);
    assert_int_equal(write_url(P("alias/o/x.txt"), "x\n", &err), 0);
    assert_true(exists(P("allowed/o/x.txt")));
    assert_int_equal(slurp(P("outside/secret.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);
}

static void test_symlink_escape(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    char buf[256];
    rn_errbuf err = {0};
    size_t n;
    (void)state;
    layout();
    link_to("../outside/secret.txt", "allowed/link.txt");
    link_to("../outside", "allowed/sub");
    link_to("a.txt", "allowed/inner.txt"); /* a link that stays inside */
    set_policy(allow, NULL, 0);

    assert_int_equal(slurp(P("allowed/link.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "/allowed/link.txt: outside the "
                                    "directories this worker allows "
                                    "(--allow-path), once symbolic links "
                                    "are followed"));
    assert_null(strstr(err.msg, "secret")); /* where it leads is not told */
    assert_string_equal(buf, "");
    assert_int_equal(slurp(P("allowed/sub/secret.txt"), buf, sizeof(buf),
                           &err),
                     RN_EPERM);
    assert_int_equal(slurp(P("allowed/inner.txt"), buf, sizeof(buf), &err),
                     0);
    assert_string_equal(buf, "allowed\n");

    /* listings leave out what leads outside; a named one is refused */
    assert_int_equal(list_n(P("allowed"), &n, &err), 0);
    assert_int_equal(n, 2); /* a.txt, inner.txt */
    assert_int_equal(list_n(P("allowed/*.txt"), &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list_n(P("allowed/link.txt"), &n, &err), RN_EPERM);
    assert_int_equal(list_n(P("allowed/sub"), &n, &err), RN_EPERM);
    assert_int_equal(list_n(P("allowed/sub/*"), &n, &err), RN_ENOTFOUND);
}

/* A link planted at a sink's final name is replaced, its target untouched.
 * (rename(2) never followed its target: this passed before the policy
 * too, and guards the openat/renameat rewrite.) */
static void test_sink_final_link_not_followed(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    char *b;
    size_t n;
    struct stat st;
    rn_errbuf err = {0};
    (void)state;
    layout();
    mk("allowed/out");
    link_to("../../outside/secret.txt", "allowed/out/part-0.txt");
    set_policy(allow, NULL, 0);

    assert_int_equal(write_url(P("allowed/out/part-0.txt"), "mine\n", &err),
                     0);
    b = rn_test_read_file(P("outside/secret.txt"), &n);
    assert_string_equal(b, "secret\n");
    free(b);
    assert_int_equal(lstat(P("allowed/out/part-0.txt"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    b = rn_test_read_file(P("allowed/out/part-0.txt"), &n);
    assert_string_equal(b, "mine\n");
    free(b);
}

static void test_sink_dir_link_refused(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    rn_errbuf err = {0};
    struct rn_writer *w = NULL;
    (void)state;
    layout();
    link_to("../outside", "allowed/out");
    set_policy(allow, NULL, 0);

    assert_int_equal(rn_io_create_url(P("allowed/out/x.txt"), &w, &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "/allowed/out/x.txt: outside the "
                                    "directories this worker allows"));
    /* missing directories below the link are not made either */
    assert_int_equal(rn_io_create_url(P("allowed/out/new/sub/x.txt"), &w,
                                      &err),
                     RN_EPERM);
    assert_false(exists(P("outside/x.txt")));
    assert_false(exists(P("outside/new")));
    /* nothing left in outside but the secret (no temporary file) */
    assert_int_equal(write_url(P("allowed/fine/x.txt"), "ok\n", &err), 0);
    {
        char *b;
        size_t n;
        rn_io_policy_set(NULL, NULL);
        assert_int_equal(list_n(P("outside"), &n, &err), 0);
        assert_int_equal(n, 1);
        b = rn_test_read_file(P("allowed/fine/x.txt"), &n);
        assert_string_equal(b, "ok\n");
        free(b);
    }
}

static void test_deny_wins(void **state)
{
    static const char *const allow[] = {"", NULL}; /* dir itself */
    static const char *const deny[] = {"allowed/state", "later", NULL};
    char buf[256];
    rn_errbuf err = {0};
    size_t n;
    (void)state;
    layout();
    mk("allowed/state");
    put("allowed/state/key.pem", "PRIVATE\n");
    link_to("state/key.pem", "allowed/k.pem");
    set_policy(allow, deny, 0);

    assert_int_equal(slurp(P("allowed/a.txt"), buf, sizeof(buf), &err), 0);
    assert_int_equal(slurp(P("allowed/state/key.pem"), buf, sizeof(buf),
                           &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "/allowed/state/key.pem: a directory of "
                                    "the worker itself"));
    assert_int_equal(slurp(P("allowed/k.pem"), buf, sizeof(buf), &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "a directory of the worker itself"));
    assert_int_equal(list_n(P("allowed/state"), &n, &err), RN_EPERM);
    assert_int_equal(list_n(P("allowed"), &n, &err), 0);
    assert_int_equal(n, 1); /* a.txt; not k.pem */
    assert_int_equal(write_url(P("allowed/state/x"), "x\n", &err), RN_EPERM);
    assert_int_equal(write_url(P("allowed/state/new/x"), "x\n", &err),
                     RN_EPERM);
    assert_false(exists(P("allowed/state/x")));
    assert_false(exists(P("allowed/state/new")));

    /* a denied directory made after the policy was set */
    mk("later");
    put("later/x.txt", "later\n");
    assert_int_equal(slurp(P("later/x.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);
    assert_non_null(strstr(err.msg, "a directory of the worker itself"));
}

static void test_fifo_refused(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    char buf[64];
    rn_errbuf err = {0};
    (void)state;
    layout();
    assert_int_equal(mkfifo(P("allowed/fifo"), 0600), 0);
    set_policy(allow, NULL, 0);
    alarm(20); /* a blocking open would hang here */
    assert_int_equal(slurp(P("allowed/fifo"), buf, sizeof(buf), &err),
                     RN_EPERM);
    alarm(0);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_set_errors_and_clear(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    const char *missing[] = {P("missing")};
    rn_io_policy bad = {.allow = missing, .n_allow = 1};
    char buf[256];
    rn_errbuf err = {0};
    size_t before = rn_alloc_in_use();
    (void)state;
    layout();
    set_policy(allow, NULL, 0);

    /* a root that does not exist: an error, the previous policy stays */
    assert_int_equal(rn_io_policy_set(&bad, &err), RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "allowed path"));
    assert_non_null(strstr(err.msg, "/missing"));
    assert_int_equal(slurp(P("outside/secret.txt"), buf, sizeof(buf), &err),
                     RN_EPERM);
    bad.n_allow = 0;
    bad.allow = NULL;
    bad.n_deny = 1; /* a count without a list */
    assert_int_equal(rn_io_policy_set(&bad, &err), RN_EINVAL);

    /* cleared: everything as before */
    assert_int_equal(rn_io_policy_set(NULL, &err), 0);
    assert_int_equal(slurp(P("outside/secret.txt"), buf, sizeof(buf), &err),
                     0);
    assert_int_equal(slurp(P("allowed/../outside/secret.txt"), buf,
                           sizeof(buf), &err),
                     0);
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(slurp("outside/secret.txt", buf, sizeof(buf), &err), 0);
    assert_int_equal(rn_alloc_in_use(), before);
}

/* ------------------------------------------------------------------ */
/* Through the engine: a manifest run by the local executor, which runs
 * the shipped plugins as a worker does. */

static int run_manifest(const char *yaml, rn_errbuf *err)
{
    rn_manifest *m = NULL;
    rn_registry *reg = NULL;
    rn_plan *plan = NULL;
    rn_run_opts opts = {.threads = 2};
    rn_run_result res;
    int rc;

    memset(&res, 0, sizeof(res));
    if ((rc = rn_manifest_parse("policy.yaml", yaml, strlen(yaml), &m, err)))
        goto done;
    if (!(reg = rn_registry_new())) {
        rc = RN_ENOMEM;
        goto done;
    }
    if ((rc = rn_registry_add_shipped(reg, err)) ||
        (rc = rn_plan_build(m, reg, &plan, err)))
        goto done;
    rc = rn_local_run(plan, &opts, &res, err);
done:
    rn_run_result_release(&res);
    rn_plan_free(plan);
    rn_registry_free(reg);
    rn_manifest_free(m);
    return rc;
}

static void test_engine(void **state)
{
    static const char *const allow[] = {"allowed", NULL};
    static const char *const deny[] = {"allowed/state", NULL};
    char yaml[8192];
    rn_errbuf err = {0};
    (void)state;
    layout();
    mk("allowed/state");
    put("allowed/state/key.pem", "PRIVATE\n");
    put("allowed/schema.avsc", "\"long\"");
    put("allowed/state/schema.avsc", "\"long\"");

    /* allowed without a policy: the manifests themselves are fine */
    snprintf(yaml, sizeof(yaml),
             "name: p\nsource: {read_text: {urls: [\"%s\"]}}\n"
             "steps: [count]\n",
             P("allowed/state/key.pem"));
    assert_int_equal(run_manifest(yaml, &err), 0);

    set_policy(allow, deny, 1);
    assert_int_equal(run_manifest(yaml, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "read_text"));
    assert_non_null(strstr(err.msg, "/allowed/state/key.pem: a directory of "
                                    "the worker itself"));
    assert_null(strstr(err.msg, "PRIVATE"));

    snprintf(yaml, sizeof(yaml),
             "name: p\nsource: {read_text: {urls: [\"%s\"]}}\n"
             "steps: [count]\n",
             P("allowed/a.txt"));
    assert_int_equal(run_manifest(yaml, &err), 0);

    /* a sink with ".." */
    snprintf(yaml, sizeof(yaml),
             "name: p\nsource: {range: {n: 10, npartitions: 2}}\n"
             "sink: {to_textfiles: {path: \"%s\"}}\n",
             P("allowed/out/../../outside/x-*.txt"));
    assert_int_equal(run_manifest(yaml, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "to_textfiles"));
    assert_non_null(strstr(err.msg, "/allowed/out/../../outside/x-"));
    assert_non_null(strstr(err.msg, ".txt: '..' is not allowed in paths on "
                                    "a cluster worker"));
    assert_false(exists(P("outside/x-0.txt")));
    assert_false(exists(P("allowed/out")));

    /* to_avro reads its schema file through the engine too */
    snprintf(yaml, sizeof(yaml),
             "name: p\nsource: {range: {n: 10}}\n"
             "sink: {to_avro: {path: \"%s\", schema: \"%s\"}}\n",
             P("allowed/o-*.avro"), P("allowed/state/schema.avsc"));
    assert_int_equal(run_manifest(yaml, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "schema.avsc: a directory of the worker "
                                    "itself"));
    snprintf(yaml, sizeof(yaml),
             "name: p\nsource: {range: {n: 10}}\n"
             "sink: {to_avro: {path: \"%s\", schema: \"%s\"}}\n",
             P("outside/o-*.avro"), P("allowed/schema.avsc"));
    assert_int_equal(run_manifest(yaml, &err), RN_EPERM);
    assert_non_null(strstr(err.msg, "outside the directories this worker "
                                    "allows"));
    assert_false(exists(P("outside/o-0.avro")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_policy_unchanged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outside_roots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_final_link_not_followed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_dir_link_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deny_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_errors_and_clear, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
