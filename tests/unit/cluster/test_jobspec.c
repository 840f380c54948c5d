#define _GNU_SOURCE
/* A job's manifest as the client re-emits it (core/cluster/jobspec.c):
 * variables substituted where the client runs, plugin paths replaced by
 * ids, every scalar keeping its YAML type and its exact text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <runnel/params.h>

#include "base/buf.h"
#include "cluster/jobspec.h"
#include "manifest/manifest.h"
#include "value/value.h"

static const rn_mnode *get(const rn_mnode *map, const char *key)
{
    for (size_t i = 0; map && map->type == RN_MN_MAP && i < map->n; i++)
        if (map->keys[i]->len == strlen(key) &&
            memcmp(map->keys[i]->text, key, map->keys[i]->len) == 0)
            return map->items[i];
    return NULL;
}

static void test_roundtrip(void **state)
{
    static const char text[] =
        "name: t\n"
        "plugins:\n"
        "  - ${RNT_LIBDIR}/libx.so\n"
        "source:\n"
        "  range:\n"
        "    n: ${RNT_N}\n"
        "    npartitions: \"${RNT_P}\"\n"
        "steps:\n"
        "  - grep: {pattern: \"a${RNT_X}b $${HOME} 100$ \\\"q\\\" \\t\"}\n"
        "  - topk: {k: 3, key: 1, flag: true, none: ~, s: '007'}\n";
    static const char *const refs[] = {
        "sha256:00ab000000000000000000000000000000000000000000000000000000000000"};
    rn_manifest *m = NULL, *m2 = NULL;
    const rn_mnode *src, *grep, *topk;
    rn_errbuf err;
    rn_buf out;
    (void)state;
    setenv("RNT_LIBDIR", "/opt/x", 1);
    setenv("RNT_N", "10", 1);
    setenv("RNT_P", "3", 1);
    setenv("RNT_X", " {y}: ", 1);
    if (rn_manifest_parse("t.yaml", text, sizeof(text) - 1, &m, &err))
        fail_msg("%s", err.msg);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_jobspec_manifest(m, refs, &out, &err), 0);
    /* where it is parsed again, the environment differs */
    unsetenv("RNT_LIBDIR");
    unsetenv("RNT_N");
    unsetenv("RNT_P");
    unsetenv("RNT_X");
    setenv("HOME", "/somewhere/else", 1);
    if (rn_manifest_parse("again", out.ptr, out.len, &m2, &err))
        fail_msg("%s\n%s", err.msg, out.ptr);
    assert_string_equal(m2->name, "t");
    assert_int_equal(m2->n_plugins, 1);
    assert_string_equal(m2->plugins[0], refs[0]);
    src = get(m2->source.params, "n");
    assert_non_null(src);
    assert_string_equal(src->text, "10");
    assert_true(src->plain);
    src = get(m2->source.params, "npartitions");
    assert_string_equal(src->text, "3");
    assert_true(src->plain); /* "${P}" bound as a number: still does */
    assert_int_equal(m2->n_steps, 2);
    grep = get(m2->steps[0].params, "pattern");
    assert_string_equal(grep->text, "a {y}: b ${HOME} 100$ \"q\" \t");
    assert_false(grep->plain);
    topk = m2->steps[1].params;
    assert_true(get(topk, "k")->plain);
    assert_string_equal(get(topk, "flag")->text, "true");
    assert_true(rn_mnode_is_null(get(topk, "none")));
    assert_false(get(topk, "s")->plain);
    assert_string_equal(get(topk, "s")->text, "007");
    rn_manifest_free(m);
    rn_manifest_free(m2);
    rn_buf_release(&out);
}

#define SECRET "s3cr3t-Marker-7f1e"

static const rn_param_spec k_params[] = {
    {.name = "k", .type = RN_PT_INT, .min = 1, .max = 1000},
    {.name = "s", .type = RN_PT_STRING},
};
static const rn_op_desc k_op = {RN_OP_HEAD(RN_OP_MAP, "kop", "test"),
                                RN_OP_PARAMS(k_params)};

/* Substituted scalars travel tagged `!var`; where the text is parsed
 * again they bind to the same values, and nothing shows them. */
static void test_var_tags(void **state)
{
    static const char text[] =
        "name: nightly-${RNT_DATE}\n"
        "plugins:\n"
        "  - ${RNT_LIBDIR}/libx.so\n"
        "  - ${RNT_LIBDIR}/liby.so\n"
        "source:\n"
        "  range:\n"
        "    n: ${RNT_N}\n"
        "    npartitions: \"${RNT_P}\"\n"
        "    plain: 7\n"
        "steps:\n"
        "  - kop: {k: \"${RNT_K}\", s: \"x-${RNT_S}\"}\n"
        "  - kop: {\"${RNT_KEY}\": 5}\n";
    static const char *const refs[] = {
        "sha256:00ab000000000000000000000000000000000000000000000000000000000000",
        NULL};
    rn_manifest *m = NULL, *m2 = NULL;
    const rn_mnode *n;
    rn_errbuf err;
    rn_buf out;
    rn_arena a;
    rn_value v;
    (void)state;

    setenv("RNT_DATE", SECRET, 1);
    setenv("RNT_LIBDIR", "/opt/" SECRET, 1);
    setenv("RNT_N", "10", 1);
    setenv("RNT_P", "3", 1);
    setenv("RNT_K", "4", 1);
    setenv("RNT_S", SECRET, 1);
    setenv("RNT_KEY", "k", 1);
    if (rn_manifest_parse("t.yaml", text, sizeof(text) - 1, &m, &err))
        fail_msg("%s", err.msg);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_jobspec_manifest(m, refs, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "\nname: !var \"nightly-" SECRET "\"\n"));
    assert_non_null(strstr(out.ptr, "\n  - \"sha256:00ab"));
    assert_non_null(strstr(out.ptr, "\n  - !var \"/opt/" SECRET
                                    "/liby.so\"\n"));
    assert_non_null(strstr(out.ptr, "\"n\": !var 10, "));
    assert_non_null(strstr(out.ptr, "\"npartitions\": !var 3, "));
    assert_non_null(strstr(out.ptr, "\"plain\": 7}"));
    assert_non_null(strstr(out.ptr, "{\"k\": !var 4, \"s\": !var \"x-" SECRET
                                    "\"}"));
    assert_non_null(strstr(out.ptr, "{!var \"k\": 5}"));

    /* where it runs: no environment, the same values */
    unsetenv("RNT_DATE");
    unsetenv("RNT_LIBDIR");
    unsetenv("RNT_N");
    unsetenv("RNT_P");
    unsetenv("RNT_K");
    unsetenv("RNT_S");
    unsetenv("RNT_KEY");
    if (rn_manifest_parse_job("job 1", out.ptr, out.len, &m2, &err))
        fail_msg("%s\n%s", err.msg, out.ptr);
    assert_string_equal(m2->name, "nightly-" SECRET);
    assert_string_equal(m2->display_name, "${...}");
    assert_string_equal(m2->plugins[1], "/opt/" SECRET "/liby.so");
    assert_string_equal(rn_mnode_display(m2->plugin_nodes[1], NULL), "${...}");
    assert_false(m2->plugin_nodes[0]->subst);
    n = get(m2->source.params, "n");
    assert_true(n->plain && n->subst);
    assert_null(n->raw);
    assert_string_equal(n->text, "10");
    assert_true(get(m2->source.params, "npartitions")->plain);
    assert_false(get(m2->source.params, "plain")->subst);
    rn_arena_init(&a, 0);
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m2->steps[0].params,
                                    m2->steps[0].pos, &v, &err),
                     0);
    assert_int_equal(rn_record_get(&v, "k")->u.i, 4);
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m2->steps[1].params,
                                    m2->steps[1].pos, &v, &err),
                     0);
    assert_int_equal(rn_record_get(&v, "k")->u.i, 5);
    rn_manifest_free(m2);

    /* a bad value: the worker's message does not repeat it either */
    rn_buf_reset(&out);
    setenv("RNT_K", "99999", 1);
    rn_manifest_free(m);
    {
        const char *t = "source: {kop: {k: \"${RNT_K}\"}}\n";
        assert_int_equal(rn_manifest_parse("t.yaml", t, strlen(t), &m, &err),
                         0);
    }
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m->source.params,
                                    m->source.pos, &v, &err),
                     RN_ERANGE);
    assert_string_equal(err.msg, "t.yaml:1:19: kop: k: ${RNT_K} is out of "
                                 "range (min 1, max 1000)");
    assert_int_equal(rn_jobspec_manifest(m, NULL, &out, &err), 0);
    unsetenv("RNT_K");
    assert_int_equal(rn_manifest_parse_job("job 2", out.ptr, out.len, &m2,
                                           &err),
                     0);
    assert_int_equal(rn_params_bind(&a, &k_op, "kop", m2->source.params,
                                    m2->source.pos, &v, &err),
                     RN_ERANGE);
    assert_null(strstr(err.msg, "99999"));
    assert_non_null(strstr(err.msg, ": kop: k: ${...} is out of range"));
    rn_arena_release(&a);
    rn_manifest_free(m);
    rn_manifest_free(m2);
    rn_buf_release(&out);
}

/* Values longer than their references can make the text too long for
 * the side that parses it: refused where it is written. */
static void test_too_large(void **state)
{
    static char big[1 << 20];
    rn_manifest *m = NULL;
    rn_errbuf err;
    rn_buf text, out;
    (void)state;
    memset(big, 'b', sizeof(big) - 1);
    setenv("RNT_BIG", big, 1);
    rn_buf_init(&text, 0);
    rn_buf_puts(&text, "source: {r: {a: [");
    for (int i = 0; i < 17; i++)
        rn_buf_puts(&text, "\"${RNT_BIG}\", ");
    rn_buf_puts(&text, "]}}\n");
    assert_int_equal(rn_manifest_parse("big.yaml", text.ptr, text.len, &m,
                                       &err),
                     0);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_jobspec_manifest(m, NULL, &out, &err), RN_ELIMIT);
    assert_string_equal(err.msg, "big.yaml: with its variables substituted "
                                 "the manifest is larger than 16777216 "
                                 "bytes (the limit a job's manifest has)");
    rn_buf_release(&out);
    rn_buf_release(&text);
    rn_manifest_free(m);
    unsetenv("RNT_BIG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_var_tags),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
