/*
 * textio through the SDK harness: read_text's block splits (every line
 * exactly once, in order, whatever the blocksize), its options and codecs,
 * and to_textfiles.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <runnel/harness.h>

#include "testutil.h"

#define PLUGIN RN_TEST_BUILD_DIR "/plugins/libtextio.so"

static char *dir;

static int setup(void **state)
{
    dir = rn_test_tmpdir("read-text");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    rn_test_rmtree(dir);
    free(dir);
    dir = NULL;
    return 0;
}

static const char *P(const char *name)
{
    static char ring[8][4096];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof(ring[0]), "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const void *data, size_t len)
{
    assert_int_equal(rn_test_write_file(P(name), data, len), 0);
}

static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* Runs op with params; returns the finished harness (NULL + message in err
 * when preparing failed); *rc gets rn_harness_finish's result. */
static rn_harness *run(const char *op, const char *params, int *rc,
                       char *err, size_t errlen)
{
    rn_harness *h = rn_harness_new(PLUGIN, op, params, err, errlen);
    if (!h) {
        *rc = -1;
        return NULL;
    }
    *rc = rn_harness_finish(h);
    snprintf(err, errlen, "%s", rn_harness_error(h));
    return h;
}

/* The lines of data as read_text defines them: split at '\n', "\r\n"
 * stripped, a last line without '\n' kept, nothing for empty data. */
typedef struct lines {
    const char **p;
    size_t *len;
    size_t n;
} lines;

static lines expected_lines(const char *data, size_t len)
{
    lines L = {malloc((len + 1) * sizeof(char *)),
               malloc((len + 1) * sizeof(size_t)), 0};
    size_t lo = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n')
            continue;
        size_t n = i - lo;
        if (n > 0 && data[i - 1] == '\r')
            n--;
        L.p[L.n] = data + lo;
        L.len[L.n++] = n;
        lo = i + 1;
    }
    if (lo < len) {
        L.p[L.n] = data + lo;
        L.len[L.n++] = len - lo;
    }
    return L;
}

static void lines_free(lines *L)
{
    free(L->p);
    free(L->len);
}

/* read_text over data with this blocksize gives exactly its lines. */
static void check_blocks(const char *name, const char *data, size_t len,
                         unsigned long long bs)
{
    char params[8192], err[2048];
    lines L = expected_lines(data, len);
    rn_harness *h;
    int rc;

    snprintf(params, sizeof(params), "{urls: [\"%s\"], blocksize: %llu}",
             P(name), bs);
    h = run("read_text", params, &rc, err, sizeof(err));
    if (!h || rc != 0)
        fail_msg("%s blocksize %llu: %s", name, bs, err);
    if (rn_harness_count(h) != L.n)
        fail_msg("%s blocksize %llu: %zu lines, want %zu:\n%s", name, bs,
                 rn_harness_count(h), L.n, rn_harness_output_json(h));
    for (size_t i = 0; i < L.n; i++) {
        const rn_value *v = rn_harness_output(h, i);
        assert_int_equal(v->kind, RN_STRING);
        if (v->len != L.len[i] || memcmp(v->u.s, L.p[i], L.len[i]) != 0)
            fail_msg("%s blocksize %llu: line %zu differs:\n%s", name, bs, i,
                     rn_harness_output_json(h));
    }
    rn_harness_free(h);
    lines_free(&L);
}

/* Every blocksize from 1 to past the end, and the default. */
static void check_all_blocksizes(const char *data, size_t len)
{
    put("f.txt", data, len);
    for (unsigned long long bs = 1; bs <= len + 2; bs++)
        check_blocks("f.txt", data, len, bs);
    check_blocks("f.txt", data, len, 64ull << 20);
}

static void test_blocks_edge_cases(void **state)
{
    static const char *const cases[] = {
        "a\nbb\nccc\n",
        "a\nbb\nccc",            /* no trailing newline */
        "",                       /* empty file */
        "\n",
        "\n\n\n",                 /* only empty lines */
        "x",
        "a\n\nb\n\n",             /* empty lines between */
        "\nfirst empty\n",
        "one\r\ntwo\r\n\r\nthree", /* CRLF */
        "\r\n",
        "lone\rcr\n",             /* a lone CR stays */
        "0123456789012345678901234567890123456789", /* one line, no '\n' */
        "long line one is here\nshort\nx\nanother long line at the end\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_all_blocksizes(cases[i], strlen(cases[i]));
}

/* Lines longer than the read buffer (4 KiB for small blocks, 1 MiB at
 * most), crossing many blocks. */
static void test_blocks_long_lines(void **state)
{
    size_t len = 0, cap = 3 << 20;
    char *t = malloc(cap);
    memset(t, 'a', 10000);
    len = 10000;
    t[len++] = '\n';
    t[len++] = 'b';
    t[len++] = '\n';
    memset(t + len, 'c', 5000);
    len += 5000;
    put("long.txt", t, len);
    static const unsigned long long sizes[] = {1,    2,     3,     100,
                                               4095, 4096,  4097,  9999,
                                               10000, 10001, 10002, 12000,
                                               15002, 15003, 64ull << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        check_blocks("long.txt", t, len, sizes[i]);

    /* one 2.5 MiB line: the 1 MiB buffer grows */
    memset(t, 'z', (5 << 19));
    len = 5 << 19;
    t[len++] = '\n';
    memcpy(t + len, "tail\n", 5);
    len += 5;
    put("huge.txt", t, len);
    check_blocks("huge.txt", t, len, 64ull << 20);
    check_blocks("huge.txt", t, len, 1 << 20);
    free(t);
}

/* Random lines (empty, CRLF, long), random blocksizes. */
static void test_blocks_random(void **state)
{
    unsigned seed = 12345;
    for (int round = 0; round < 12; round++) {
        size_t len = 0;
        char t[6000];
        while (len < sizeof(t) - 600) {
            int kind = rand_r(&seed) % 10;
            size_t n = kind == 0 ? 0 : kind < 8 ? (size_t)(rand_r(&seed) % 40)
                                               : (size_t)(rand_r(&seed) % 500);
            for (size_t i = 0; i < n; i++)
                t[len++] = (char)('a' + rand_r(&seed) % 26);
            if (rand_r(&seed) % 7 == 0)
                t[len++] = '\r';
            t[len++] = '\n';
        }
        if (round % 2) /* half without a final newline */
            len--;
        put("r.txt", t, len);
        for (int k = 0; k < 15; k++)
            check_blocks("r.txt", t, len,
                         1 + (unsigned long long)(rand_r(&seed) % len));
        check_blocks("r.txt", t, len, 64ull << 20);
    }
}

/* Output as JSON lines, for the compact cases. */
static char *run_json(const char *params, int want_rc, char *err,
                      size_t errlen)
{
    int rc;
    rn_harness *h = run("read_text", params, &rc, err, errlen);
    char *out;
    if (want_rc == 0 && (!h || rc != 0))
        fail_msg("%s: %s", params, err);
    if (want_rc != 0) {
        assert_true(!h || rc != 0);
        rn_harness_free(h);
        return NULL;
    }
    out = strdup(rn_harness_output_json(h));
    rn_harness_free(h);
    return out;
}

static void test_several_files_glob_include_path(void **state)
{
    char params[8192], err[2048], want[8192];
    char *out;

    put("b.txt", "b1\nb2\n", 6);
    put("a.txt", "a1\n", 3);
    put("c.log", "c1", 2);
    put("empty.txt", "", 0);
    snprintf(params, sizeof(params),
             "{urls: [\"%s\", \"%s\"], blocksize: 2}", P("*.txt"),
             P("c.log"));
    out = run_json(params, 0, err, sizeof(err));
    assert_string_equal(out, "\"a1\"\n\"b1\"\n\"b2\"\n\"c1\"\n");
    free(out);

    snprintf(params, sizeof(params),
             "{urls: \"%s\", include_path: true}", P("b.txt"));
    out = run_json(params, 0, err, sizeof(err));
    snprintf(want, sizeof(want), "[\"b1\", \"%s\"]\n[\"b2\", \"%s\"]\n",
             P("b.txt"), P("b.txt"));
    /* spacing of the JSON writer aside */
    {
        char *a = out, *b = want, norm[8192];
        size_t k = 0;
        for (; *b; b++)
            if (*b != ' ')
                norm[k++] = *b;
        norm[k] = '\0';
        k = 0;
        for (char *c = a; *c; c++)
            if (*c != ' ')
                a[k++] = *c;
        a[k] = '\0';
        assert_string_equal(a, norm);
    }
    free(out);

    /* a directory reads its files */
    snprintf(params, sizeof(params), "{urls: \"%s\"}", dir);
    out = run_json(params, 0, err, sizeof(err));
    assert_string_equal(out, "\"a1\"\n\"b1\"\n\"b2\"\n\"c1\"\n");
    free(out);

    /* nothing matches */
    snprintf(params, sizeof(params), "{urls: \"%s\"}", P("*.nope"));
    run_json(params, -1, err, sizeof(err));
    assert_non_null(strstr(err, "no file matches"));
    assert_non_null(strstr(err, "*.nope"));
    snprintf(params, sizeof(params), "{urls: \"%s\"}", P("missing.txt"));
    run_json(params, -1, err, sizeof(err));
    assert_non_null(strstr(err, "missing.txt: No such file or directory"));
}

static void test_compressed(void **state)
{
    static const char *const tools[][2] = {{"gzip", ".gz"},
                                           {"bzip2", ".bz2"},
                                           {"xz", ".xz"},
                                           {"zstd -q", ".zst"},
                                           {"lz4 -q", ".lz4"}};
    char params[8192], err[2048];
    const char *text = "{\"a\":1}\n{\"b\":2}\nword\n\nlast";
    const char *want =
        "\"{\\\"a\\\":1}\"\n\"{\\\"b\\\":2}\"\n\"word\"\n\"\"\n\"last\"\n";
    char *out;

    put("t.txt", text, strlen(text));
    for (size_t i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof(name), "t.txt%s", tools[i][1]);
        sh("%s -c < %s > %s", tools[i][0], P("t.txt"), P(name));
        /* blocksize would split a plain file: a compressed one is whole */
        snprintf(params, sizeof(params), "{urls: \"%s\", blocksize: 3}",
                 P(name));
        out = run_json(params, 0, err, sizeof(err));
        assert_string_equal(out, want);
        free(out);
    }

    /* no extension: found by the first bytes */
    sh("cp %s %s", P("t.txt.zst"), P("noext"));
    snprintf(params, sizeof(params), "{urls: \"%s\", blocksize: 3}",
             P("noext"));
    out = run_json(params, 0, err, sizeof(err));
    assert_string_equal(out, want);
    free(out);

    /* compression named explicitly */
    snprintf(params, sizeof(params), "{urls: \"%s\", compression: zstd}",
             P("noext"));
    out = run_json(params, 0, err, sizeof(err));
    assert_string_equal(out, want);
    free(out);
    snprintf(params, sizeof(params), "{urls: \"%s\", compression: gzip}",
             P("noext"));
    run_json(params, -1, err, sizeof(err));
    assert_non_null(strstr(err, "compression is 'gzip'"));
    snprintf(params, sizeof(params), "{urls: \"%s\", compression: brotli}",
             P("noext"));
    run_json(params, -1, err, sizeof(err));

    /* none: the bytes as they are */
    snprintf(params, sizeof(params), "{urls: \"%s\", compression: none}",
             P("t.txt"));
    out = run_json(params, 0, err, sizeof(err));
    assert_string_equal(out, want);
    free(out);
    snprintf(params, sizeof(params), "{urls: \"%s\", compression: none}",
             P("t.txt.gz"));
    out = run_json(params, 0, err, sizeof(err));
    assert_string_not_equal(out, want);
    free(out);

    /* a truncated .gz is an error naming the file, not short data */
    {
        size_t zlen;
        char *z = rn_test_read_file(P("t.txt.gz"), &zlen);
        put("cut.gz", z, zlen - 6);
        free(z);
        snprintf(params, sizeof(params), "{urls: \"%s\"}", P("cut.gz"));
        run_json(params, -1, err, sizeof(err));
        assert_non_null(strstr(err, "cut.gz"));
    }
}

/* A 3 MiB line inside a .gz (whole split, 1 MiB buffer that grows). */
static void test_compressed_long_line(void **state)
{
    size_t len = 3 << 20;
    char *t = malloc(len + 16), params[8192], err[2048];
    rn_harness *h;
    int rc;

    memset(t, 'q', len);
    memcpy(t + len, "\nend\n", 5);
    put("big.txt", t, len + 5);
    sh("gzip %s", P("big.txt"));
    snprintf(params, sizeof(params), "{urls: \"%s\"}", P("big.txt.gz"));
    h = run("read_text", params, &rc, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(rc, 0);
    assert_int_equal(rn_harness_count(h), 2);
    assert_int_equal(rn_harness_output(h, 0)->len, len);
    assert_memory_equal(rn_harness_output(h, 0)->u.s, t, len);
    assert_int_equal(rn_harness_output(h, 1)->len, 3);
    rn_harness_free(h);
    free(t);
}

/* ------------------------------------------------------------------ */
/* to_textfiles                                                        */

static rn_harness *sink(const char *params, const char *const *inputs,
                        int *rc, char *err, size_t errlen)
{
    rn_harness *h = rn_harness_new(PLUGIN, "to_textfiles", params, err,
                                   errlen);
    if (!h)
        fail_msg("%s: %s", params, err);
    for (; *inputs; inputs++)
        assert_int_equal(rn_harness_push_json(h, *inputs), 0);
    *rc = rn_harness_finish(h);
    snprintf(err, errlen, "%s", rn_harness_error(h));
    return h;
}

static void test_to_textfiles(void **state)
{
    static const char *const in[] = {"\"plain line\"", "42", "[1, \"x\"]",
                                     "{\"k\": null}", "\"\"", NULL};
    char params[8192], err[2048], want[4200];
    rn_harness *h;
    char *b;
    size_t n;
    int rc;

    snprintf(params, sizeof(params), "{path: \"%s\"}", P("out/part-*.txt"));
    h = sink(params, in, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    snprintf(want, sizeof(want), "\"%s\"\n", P("out/part-0.txt"));
    assert_string_equal(rn_harness_output_json(h), want);
    rn_harness_free(h);
    b = rn_test_read_file(P("out/part-0.txt"), &n);
    assert_non_null(b);
    {
        /* JSON spacing is the engine's business: compare without spaces
         * outside the first line */
        char *nl = strchr(b, '\n');
        assert_non_null(nl);
        assert_memory_equal(b, "plain line\n", 11);
        size_t k = (size_t)(nl + 1 - b);
        for (char *c = nl + 1; *c; c++)
            if (*c != ' ')
                b[k++] = *c;
        b[k] = '\0';
        assert_string_equal(b, "plain line\n42\n[1,\"x\"]\n{\"k\":null}\n\n");
    }
    free(b);

    /* compressed by extension; round trip through read_text */
    snprintf(params, sizeof(params), "{path: \"%s\"}", P("gz/p*.txt.gz"));
    h = sink(params, in, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    rn_harness_free(h);
    sh("gzip -t %s", P("gz/p0.txt.gz"));
    snprintf(params, sizeof(params), "{urls: \"%s\"}", P("gz/*"));
    b = run_json(params, 0, err, sizeof(err));
    assert_memory_equal(b, "\"plain line\"\n\"42\"\n", 18);
    free(b);

    /* no '*': a directory of <n>.part files, as Dask writes */
    snprintf(params, sizeof(params), "{path: \"%s/\"}", P("dirout"));
    h = sink(params, in, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    snprintf(want, sizeof(want), "\"%s\"\n", P("dirout/0.part"));
    assert_string_equal(rn_harness_output_json(h), want);
    rn_harness_free(h);

    /* nothing but the published files is left behind */
    {
        char names[256] = "";
        sh("ls -A %s > %s", P("out"), P("ls.txt"));
        b = rn_test_read_file(P("ls.txt"), &n);
        snprintf(names, sizeof(names), "%s", b);
        free(b);
        assert_string_equal(names, "part-0.txt\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blocks_edge_cases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blocks_long_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blocks_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_files_glob_include_path,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_long_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_to_textfiles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
