/* Values substituted from ${VAR} are never shown: what a scalar displays
 * as, `!var` scalars, every error that quotes a scalar, the values kept
 * for cleaning other messages, and job specs that cannot read the
 * environment of the process parsing them. */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "manifest/manifest.h"

#define SECRET "s3cr3t-Marker-7f1e"

static int setup(void **state)
{
    (void)state;
    setenv("RN_TS_KEY", SECRET, 1);
    setenv("RN_TS_SHORT", "ab", 1);
    unsetenv("RN_TS_UNSET");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("RN_TS_KEY");
    unsetenv("RN_TS_SHORT");
    return 0;
}

static rn_manifest *parse_ok(const char *text)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    if (rn_manifest_parse("s.yaml", text, strlen(text), &m, &err))
        fail_msg("unexpected error: %s", err.msg);
    return m;
}

static const rn_mnode *get(const rn_mnode *map, const char *key)
{
    for (size_t i = 0; map && map->type == RN_MN_MAP && i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    fail_msg("no key %s", key);
    return NULL;
}

static const char *shown(const rn_mnode *n)
{
    return rn_mnode_display(n, NULL);
}

static void test_display(void **state)
{
    rn_manifest *m;
    const rn_mnode *p;
    size_t len;
    (void)state;

    m = parse_ok("source:\n  read_text:\n"
                 "    whole: ${RN_TS_KEY}\n"
                 "    part: s3://b/${RN_TS_KEY}/x\n"
                 "    quoted: \"${RN_TS_KEY}\"\n"
                 "    dflt: ${RN_TS_UNSET:-fallback}\n"
                 "    plain: as-is\n"
                 "    escaped: $${RN_TS_KEY}\n"
                 "    dollar: 100$\n");
    p = m->source.params;
    assert_string_equal(get(p, "whole")->text, SECRET);
    assert_true(get(p, "whole")->subst);
    assert_string_equal(shown(get(p, "whole")), "${RN_TS_KEY}");
    assert_string_equal(get(p, "part")->text, "s3://b/" SECRET "/x");
    assert_string_equal(shown(get(p, "part")), "s3://b/${RN_TS_KEY}/x");
    assert_string_equal(get(p, "part")->raw, "s3://b/${RN_TS_KEY}/x");
    assert_string_equal(shown(get(p, "quoted")), "${RN_TS_KEY}");
    assert_string_equal(get(p, "dflt")->text, "fallback");
    assert_string_equal(shown(get(p, "dflt")), "${RN_TS_UNSET:-fallback}");
    /* nothing substituted: the value is the text, shown as it is */
    assert_false(get(p, "plain")->subst);
    assert_null(get(p, "plain")->raw);
    assert_string_equal(rn_mnode_display(get(p, "plain"), &len), "as-is");
    assert_int_equal(len, 5);
    assert_false(get(p, "escaped")->subst);
    assert_string_equal(shown(get(p, "escaped")), "${RN_TS_KEY}");
    assert_false(get(p, "dollar")->subst);
    assert_string_equal(shown(get(p, "dollar")), "100$");
    /* not scalars: nothing */
    assert_string_equal(rn_mnode_display(p, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(rn_mnode_display(NULL, NULL), "");
    /* the name to show */
    assert_string_equal(m->display_name, "s");
    rn_manifest_free(m);

    m = parse_ok("name: nightly-${RN_TS_KEY}\nsource: range\n");
    assert_string_equal(m->name, "nightly-" SECRET);
    assert_string_equal(m->display_name, "nightly-${RN_TS_KEY}");
    rn_manifest_free(m);
}

/* `!var`: typed by its style, marked substituted, shown hidden. */
static void test_var_tag(void **state)
{
    rn_manifest *m;
    const rn_mnode *p;
    rn_value v;
    rn_errbuf err = {0};
    (void)state;

    m = parse_ok("name: !var \"" SECRET "\"\n"
                 "source: {r: {a: !var 10, b: !var \"10\", c: !var true, "
                 "!var \"k\": !var \"" SECRET "\", d: !var \"$${X}\"}}\n");
    p = m->source.params;
    assert_true(get(p, "a")->plain);
    assert_true(get(p, "a")->subst);
    assert_null(get(p, "a")->raw);
    assert_int_equal(rn_mnode_scalar_value(get(p, "a"), &v), 0);
    assert_int_equal(v.kind, RN_INT);
    assert_int_equal(v.u.i, 10);
    assert_string_equal(shown(get(p, "a")), RN_MNODE_HIDDEN);
    assert_false(get(p, "b")->plain);
    rn_mnode_scalar_value(get(p, "b"), &v);
    assert_int_equal(v.kind, RN_STRING);
    rn_mnode_scalar_value(get(p, "c"), &v);
    assert_int_equal(v.kind, RN_BOOL);
    assert_true(p->keys[3]->subst);
    assert_string_equal(shown(p->keys[3]), "${...}");
    assert_string_equal(get(p, "k")->text, SECRET);
    assert_string_equal(get(p, "d")->text, "${X}");
    assert_string_equal(m->name, SECRET);
    assert_string_equal(m->display_name, "${...}");
    rn_manifest_free(m);

    /* only on scalars */
    assert_int_equal(rn_manifest_parse("s.yaml", "source: !var {a: 1}\n", 20,
                                       &m, &err),
                     RN_EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:9: unsupported YAML tag '!var'");
}

/* Parses text, expects an error mentioning `shown` and never SECRET. */
static void err_shows(const char *text, const char *msg)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    assert_int_not_equal(rn_manifest_parse("s.yaml", text, strlen(text), &m,
                                           &err),
                         0);
    assert_null(m);
    if (strstr(err.msg, SECRET) || strcmp(err.msg, msg) != 0)
        fail_msg("got '%s'\nwant '%s'", err.msg, msg);
}

static void test_errors_never_show_values(void **state)
{
    (void)state;
    err_shows("source: range\n${RN_TS_KEY}: 1\n",
              "s.yaml:2:1: unknown key '${RN_TS_KEY}' (expected name, "
              "plugins, source, steps, sink, datasets, outputs)");
    err_shows("source: x${RN_TS_KEY}\n",
              "s.yaml:1:9: source: invalid operator name 'x${RN_TS_KEY}' "
              "(expected op or plugin.op, made of a-z, 0-9 and '_')");
    err_shows("source: {\"${RN_TS_KEY}\": [a]}\n",
              "s.yaml:1:10: source: invalid operator name '${RN_TS_KEY}' "
              "(expected op or plugin.op, made of a-z, 0-9 and '_')");
    err_shows("source: range\nplugins: [\"sha256:${RN_TS_KEY}\"]\n",
              "s.yaml:2:11: plugins: invalid plugin id "
              "'sha256:${RN_TS_KEY}' (expected sha256: and 64 lower-case "
              "hex digits)");
    err_shows("source: range\nplugins: ${RN_TS_KEY}\n",
              "s.yaml:2:10: plugins: expected a list of plugin paths or "
              "sha256: ids, got string '${RN_TS_KEY}'");
    err_shows("source: {r: {\"" SECRET "\": 1, \"${RN_TS_KEY}\": 2}}\n",
              "s.yaml:1:39: duplicate key '${RN_TS_KEY}' (first at 1:14)");
}

/* The values kept for rn_msecrets_redact, and the cleaning. */
static void test_secrets_and_redact(void **state)
{
    rn_manifest *m;
    rn_errbuf err;
    char big[RN_ERRBUF_SIZE + 100];
    rn_msecret one;
    (void)state;

    setenv("RN_TS_LONGER", SECRET "-and-more", 1);
    m = parse_ok("name: ${RN_TS_KEY}\n"
                 "source: {r: {a: \"${RN_TS_KEY}/${RN_TS_LONGER}\", "
                 "b: \"${RN_TS_KEY}\", c: \"${RN_TS_SHORT}\", "
                 "d: \"${RN_TS_UNSET:-literal default}\"}}\n");
    /* distinct, longest first; short ones and defaults are not kept */
    assert_int_equal(m->n_secrets, 2);
    assert_string_equal(m->secrets[0].value, SECRET "-and-more");
    assert_string_equal(m->secrets[0].shown, "${RN_TS_LONGER}");
    assert_string_equal(m->secrets[1].value, SECRET);
    assert_string_equal(m->secrets[1].shown, "${RN_TS_KEY}");

    rn_error_set(&err, RN_EIO, "cannot open s3://b/" SECRET "-and-more/x "
                               "(" SECRET "): ab denied");
    rn_msecrets_redact(m->secrets, m->n_secrets, &err);
    assert_string_equal(err.msg, "cannot open s3://b/${RN_TS_LONGER}/x "
                                 "(${RN_TS_KEY}): ab denied");
    assert_int_equal(err.code, RN_EIO);
    rn_msecrets_redact(m->secrets, m->n_secrets, NULL);
    rn_manifest_free(m);
    unsetenv("RN_TS_LONGER");

    /* a message cut by the buffer inside a value loses that tail */
    one.value = "0123456789abcdefghij";
    one.len = 20;
    one.shown = "${V}";
    memset(big, 'x', sizeof(big));
    memcpy(big + RN_ERRBUF_SIZE - 1 - 8, one.value, 20);
    big[sizeof(big) - 1] = '\0';
    rn_error_set(&err, RN_EIO, "%s", big);
    assert_int_equal(strlen(err.msg), RN_ERRBUF_SIZE - 1);
    rn_msecrets_redact(&one, 1, &err);
    assert_null(strstr(err.msg, "01234567"));
    assert_string_equal(err.msg + strlen(err.msg) - 5, "x${V}");

    /* growing the message keeps it within the buffer */
    one.value = "xxxx";
    one.len = 4;
    one.shown = "${A_LONGER_NAME}";
    rn_error_set(&err, RN_EIO, "%s", big);
    rn_msecrets_redact(&one, 1, &err);
    assert_true(strlen(err.msg) <= RN_ERRBUF_SIZE - 1);
    assert_null(strstr(err.msg, "xxxx"));

    /* `!var` values are kept and shown hidden */
    m = parse_ok("source: {r: {a: !var \"" SECRET "\"}}\n");
    assert_int_equal(m->n_secrets, 1);
    assert_string_equal(m->secrets[0].shown, RN_MNODE_HIDDEN);
    rn_error_set(&err, RN_EIO, "bad " SECRET);
    rn_msecrets_redact(m->secrets, m->n_secrets, &err);
    assert_string_equal(err.msg, "bad ${...}");
    rn_manifest_free(m);
}

/* A variable referenced a million times is one value to keep. */
static void test_many_references(void **state)
{
    rn_buf b;
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "source: {r: {a: \"");
    for (int i = 0; i < 200000; i++)
        rn_buf_puts(&b, "${RN_TS_KEY}");
    rn_buf_puts(&b, "\"}}\n");
    assert_int_equal(rn_manifest_parse("s.yaml", b.ptr, b.len, &m, &err), 0);
    assert_int_equal(m->n_secrets, 1);
    rn_manifest_free(m);
    rn_buf_release(&b);
}

/* What a cluster client submits: values substituted already, read
 * without the environment. */
static void test_parse_job(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    const char *ok = "name: !var \"n\"\nsource: {r: {a: \"$${RN_TS_KEY}\", "
                     "b: !var 3}}\n";
    const char *bad = "name: x\nsource: {r: {a: \"${RN_TS_KEY}\"}}\n";
    (void)state;

    assert_int_equal(rn_manifest_parse_job("job 1", ok, strlen(ok), &m, &err),
                     0);
    assert_string_equal(get(m->source.params, "a")->text, "${RN_TS_KEY}");
    assert_false(get(m->source.params, "a")->subst);
    assert_true(get(m->source.params, "b")->subst);
    assert_string_equal(m->display_name, "${...}");
    rn_manifest_free(m);
    /* the submitter cannot read this process's environment */
    assert_int_equal(rn_manifest_parse_job("job 1", bad, strlen(bad), &m,
                                           &err),
                     RN_EINVAL);
    assert_null(m);
    assert_null(strstr(err.msg, SECRET));
    assert_string_equal(err.msg, "job 1:2:17: '${RN_TS_KEY}' in a submitted "
                                 "job: variables are substituted where a "
                                 "job is submitted, never where it runs");
    /* nor read this process's files */
    const char *file = "name: x\nsource: {r: {a: !file /etc/passwd}}\n";
    assert_int_equal(rn_manifest_parse_job("job 1", file, strlen(file), &m,
                                           &err),
                     RN_EINVAL);
    assert_null(m);
    assert_string_equal(err.msg, "job 1:2:17: !file '/etc/passwd' in a "
                                 "submitted job: files are read where a job "
                                 "is submitted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_display),
        cmocka_unit_test(test_var_tag),
        cmocka_unit_test(test_errors_never_show_values),
        cmocka_unit_test(test_secrets_and_redact),
        cmocka_unit_test(test_many_references),
        cmocka_unit_test(test_parse_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
