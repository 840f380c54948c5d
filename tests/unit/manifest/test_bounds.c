/* Every bound on a manifest (manifest.h, RN_MANIFEST_MAX_*): at the bound
 * it parses, one past it is refused with RN_ELIMIT (or RN_EINVAL for
 * aliases) and a "file:line:col: ..." message where it is passed. */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "manifest/manifest.h"
#include "testutil.h"

static rn_manifest *parse_buf(const rn_buf *b, int want_rc, rn_errbuf *err)
{
    rn_manifest *m = NULL;
    int rc = rn_manifest_parse("b.yaml", b->ptr, b->len, &m, err);
    if (rc != want_rc)
        fail_msg("got %d (%s), wanted %d", rc, err->msg, want_rc);
    return m;
}

static void expect_ok(const rn_buf *b)
{
    rn_errbuf err = {0};
    rn_manifest_free(parse_buf(b, 0, &err));
}

static void expect_limit(const rn_buf *b, int code, const char *msg)
{
    rn_errbuf err = {0};
    assert_null(parse_buf(b, code, &err));
    if (strcmp(err.msg, msg) != 0)
        fail_msg("got '%s'\nwant '%s'", err.msg, msg);
}

/* "source: range\nsteps:\n" and n steps */
static void steps_doc(rn_buf *b, size_t n)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: range\nsteps:\n");
    for (size_t i = 0; i < n; i++)
        rn_buf_puts(b, "  - lower\n");
}

static void test_steps(void **state)
{
    rn_buf b;
    rn_errbuf err = {0};
    rn_manifest *m;
    (void)state;
    rn_buf_init(&b, 0);
    steps_doc(&b, RN_MANIFEST_MAX_STEPS);
    m = parse_buf(&b, 0, &err);
    assert_int_equal(m->n_steps, RN_MANIFEST_MAX_STEPS);
    rn_manifest_free(m);
    steps_doc(&b, RN_MANIFEST_MAX_STEPS + 1);
    expect_limit(&b, RN_ELIMIT,
                 "b.yaml:10003:5: steps: more than 10000 steps (the limit)");
    rn_buf_release(&b);
}

static void plugins_doc(rn_buf *b, size_t n)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: range\nplugins:\n");
    for (size_t i = 0; i < n; i++)
        rn_buf_printf(b, "  - lib%zu.so\n", i);
}

static void test_plugins(void **state)
{
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    plugins_doc(&b, RN_MANIFEST_MAX_PLUGINS);
    expect_ok(&b);
    plugins_doc(&b, RN_MANIFEST_MAX_PLUGINS + 1);
    expect_limit(&b, RN_ELIMIT,
                 "b.yaml:259:5: plugins: more than 256 plugins (the limit)");
    rn_buf_release(&b);
}

/* A valid manifest padded with a comment to exactly `size` bytes. */
static void sized_doc(rn_buf *b, size_t size)
{
    static const char head[] = "source: range\n#";
    rn_buf_reset(b);
    rn_buf_puts(b, head);
    while (b->len < size - 1)
        rn_buf_putc(b, 'x');
    rn_buf_putc(b, '\n');
}

static void test_document_size(void **state)
{
    rn_buf b;
    char *dir, path[512];
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;

    rn_buf_init(&b, 0);
    sized_doc(&b, RN_MANIFEST_MAX_BYTES);
    assert_int_equal(b.len, RN_MANIFEST_MAX_BYTES);
    expect_ok(&b);
    sized_doc(&b, RN_MANIFEST_MAX_BYTES + 1);
    expect_limit(&b, RN_ELIMIT,
                 "b.yaml:2:16777203: the manifest passes the limit of "
                 "16777216 bytes here");

    /* from a file: read no further than the limit, same message */
    dir = rn_test_tmpdir("bounds");
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    assert_int_equal(rn_test_write_file(path, b.ptr, b.len), 0);
    assert_int_equal(rn_manifest_load(path, &m, &err), RN_ELIMIT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "big.yaml:2:16777203: the manifest "
                                    "passes the limit of 16777216 bytes "
                                    "here"));
    sized_doc(&b, RN_MANIFEST_MAX_BYTES);
    assert_int_equal(rn_test_write_file(path, b.ptr, b.len), 0);
    assert_int_equal(rn_manifest_load(path, &m, &err), 0);
    rn_manifest_free(m);
    rn_test_rmtree(dir);
    free(dir);
    rn_buf_release(&b);
}

/* The root mapping, `source`'s mapping and `r`'s are 3 levels; `levels`
 * more lists inside. */
static void nested_doc(rn_buf *b, int levels)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: {r: {x: ");
    for (int i = 0; i < levels; i++)
        rn_buf_putc(b, '[');
    for (int i = 0; i < levels; i++)
        rn_buf_putc(b, ']');
    rn_buf_puts(b, "}}\n");
}

static void test_depth(void **state)
{
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    nested_doc(&b, RN_MANIFEST_MAX_DEPTH - 3);
    expect_ok(&b);
    nested_doc(&b, RN_MANIFEST_MAX_DEPTH - 2);
    expect_limit(&b, RN_ELIMIT, "b.yaml:1:78: nesting deeper than 64 levels");
    rn_buf_release(&b);
}

/* One scalar of the most bytes allowed after substitution, then one
 * with one byte more. */
static void test_scalar_length(void **state)
{
    rn_buf b;
    char *v;
    (void)state;

    v = rn_malloc(RN_MANIFEST_MAX_SCALAR + 2);
    assert_non_null(v);
    memset(v, 'v', RN_MANIFEST_MAX_SCALAR + 1);
    v[RN_MANIFEST_MAX_SCALAR] = '\0';
    setenv("RN_TB_BIG", v, 1);
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "source: {r: {x: \"${RN_TB_BIG}\"}}\n");
    expect_ok(&b);
    v[RN_MANIFEST_MAX_SCALAR - 1] = '\0';
    setenv("RN_TB_BIG", v, 1); /* one byte less, and one more around */
    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: {r: {x: \"${RN_TB_BIG}ab\"}}\n");
    expect_limit(&b, RN_ELIMIT,
                 "b.yaml:1:17: a scalar longer than 16777216 bytes (the "
                 "limit) after substitution");
    unsetenv("RN_TB_BIG");
    rn_free(v);
    rn_buf_release(&b);
}

static void list_doc(rn_buf *b, size_t n)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: {r: {x: [");
    for (size_t i = 0; i < n; i++)
        rn_buf_puts(b, "0,");
    rn_buf_puts(b, "]}}\n");
}

static void map_doc(rn_buf *b, size_t n)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: {r: {");
    for (size_t i = 0; i < n; i++)
        rn_buf_printf(b, "k%zu: 0,", i);
    rn_buf_puts(b, "}}\n");
}

static void test_items(void **state)
{
    rn_buf b;
    char want[128];
    (void)state;
    rn_buf_init(&b, 0);
    list_doc(&b, RN_MANIFEST_MAX_ITEMS);
    expect_ok(&b);
    list_doc(&b, RN_MANIFEST_MAX_ITEMS + 1);
    /* the first item past the limit: 17 + 2 * 2^18 + 1 */
    expect_limit(&b, RN_ELIMIT,
                 "b.yaml:1:524306: a list with more than 262144 items (the "
                 "limit)");

    map_doc(&b, RN_MANIFEST_MAX_ITEMS);
    expect_ok(&b);
    map_doc(&b, RN_MANIFEST_MAX_ITEMS + 1);
    snprintf(want, sizeof(want),
             "b.yaml:1:%zu: a mapping with more than 262144 keys (the "
             "limit)",
             (size_t)(strstr(b.ptr, "k262144:") - b.ptr) + 1);
    expect_limit(&b, RN_ELIMIT, want);
    rn_buf_release(&b);
}

/* Four lists: 13 other nodes and 4 * per items. */
static void nodes_doc(rn_buf *b, size_t per)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: {r: {");
    for (int l = 0; l < 4; l++) {
        rn_buf_printf(b, "%c: [", 'a' + l);
        for (size_t i = 0; i < per; i++)
            rn_buf_puts(b, "0,");
        rn_buf_puts(b, "], ");
    }
    rn_buf_puts(b, "}}\n");
}

static void test_nodes(void **state)
{
    rn_buf b;
    rn_errbuf err = {0};
    (void)state;
    rn_buf_init(&b, 0);
    nodes_doc(&b, (RN_MANIFEST_MAX_NODES - 13) / 4);
    expect_ok(&b);
    nodes_doc(&b, RN_MANIFEST_MAX_ITEMS);
    assert_null(parse_buf(&b, RN_ELIMIT, &err));
    assert_non_null(strstr(err.msg, ": too many YAML nodes (the limit is "
                                    "1048576)"));
    rn_buf_release(&b);
}

static void name_doc(rn_buf *b, size_t n)
{
    rn_buf_reset(b);
    rn_buf_puts(b, "source: range\nname: ");
    for (size_t i = 0; i < n; i++)
        rn_buf_putc(b, 'n');
    rn_buf_putc(b, '\n');
}

static void test_name(void **state)
{
    rn_buf b;
    rn_errbuf err = {0};
    rn_manifest *m;
    char *dir, path[512], file[300];
    (void)state;

    rn_buf_init(&b, 0);
    name_doc(&b, RN_MANIFEST_MAX_NAME);
    expect_ok(&b);
    name_doc(&b, RN_MANIFEST_MAX_NAME + 1);
    expect_limit(&b, RN_ELIMIT,
                 "b.yaml:2:7: name: longer than 128 bytes (the limit)");
    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: range\nname: \"a\\e[31mb\"\n");
    expect_limit(&b, RN_EINVAL,
                 "b.yaml:2:7: name: control characters are not allowed");

    /* a substituted name: its value is bounded, and its text as written
     * too (cut, never refused: it is what the author wrote) */
    setenv("RN_TB_N", "abc", 1);
    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: range\nname: ");
    for (int i = 0; i < 40; i++)
        rn_buf_puts(&b, "${RN_TB_N}");
    rn_buf_putc(&b, '\n');
    m = parse_buf(&b, 0, &err);
    assert_int_equal(strlen(m->name), 120);
    assert_int_equal(strlen(m->display_name), RN_MANIFEST_MAX_NAME);
    assert_memory_equal(m->display_name, "${RN_TB_N}${RN_TB_N}", 20);
    rn_manifest_free(m);
    setenv("RN_TB_N", "a\tb", 1);
    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: range\nname: x${RN_TB_N}\n");
    expect_limit(&b, RN_EINVAL,
                 "b.yaml:2:7: name: control characters are not allowed");
    unsetenv("RN_TB_N");

    /* without `name`, the file's base name, cut to the limit */
    dir = rn_test_tmpdir("bounds");
    assert_non_null(dir);
    memset(file, 'f', 200);
    memcpy(file + 200, ".yaml", 6);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    assert_int_equal(rn_test_write_file(path, "source: range\n", 14), 0);
    assert_int_equal(rn_manifest_load(path, &m, &err), 0);
    assert_int_equal(strlen(m->name), RN_MANIFEST_MAX_NAME);
    assert_string_equal(m->name, m->display_name);
    rn_manifest_free(m);
    rn_test_rmtree(dir);
    free(dir);
    rn_buf_release(&b);
}

/* "Billion laughs": aliases of aliases would multiply the tree. They are
 * refused at the first one, before anything is expanded. */
static void test_aliases(void **state)
{
    rn_buf b;
    (void)state;
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                    "source: {from_sequence: {items: *d}}\n");
    expect_limit(&b, RN_EINVAL,
                 "b.yaml:2:8: YAML aliases (*name) are not supported");
    /* an anchor alone is harmless */
    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: &s range\n");
    expect_ok(&b);
    rn_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_plugins),
        cmocka_unit_test(test_document_size),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_scalar_length),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_aliases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
