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

#include "base/buf.h"
#include "cluster/jobspec.h"
#include "manifest/manifest.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
