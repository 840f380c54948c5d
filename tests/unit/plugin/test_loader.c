/* The plugin loader and registry: good plugins load, every bad one is
 * refused with a precise message and nothing crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin/loader.h"
#include "plugin/registry.h"
#include "testutil.h"

#define BAD(name) RN_TEST_BUILD_DIR "/tests/plugins/lib" name ".so"

static void expect_refused(const char *path, int code, const char *needle)
{
    rn_plugin *p = NULL;
    rn_errbuf err;
    rn_error_clear(&err);
    int rc = rn_plugin_load(path, &p, &err);
    if (rc != code || !strstr(err.msg, needle))
        fprintf(stderr, "path %s: rc=%d msg=%s (wanted %d, '%s')\n", path, rc,
                err.msg, code, needle);
    assert_int_equal(rc, code);
    assert_null(p);
    assert_non_null(strstr(err.msg, needle));
}

static void test_good_plugin_loads(void **state)
{
    rn_plugin *p = NULL;
    rn_errbuf err;
    char hex[65];
    (void)state;
    assert_int_equal(rn_plugin_load(BAD("good"), &p, &err), 0);
    assert_string_equal(p->desc->name, "good");
    assert_string_equal(p->desc->version, "1.2.3");
    assert_int_equal(p->n_ops, 2);
    assert_string_equal(p->ops[0].name, "upper");
    assert_int_equal(p->ops[0].kind, RN_OP_MAP);
    assert_non_null(rn_plugin_find_op(p, "fail_on"));
    assert_null(rn_plugin_find_op(p, "nope"));
    /* identity = SHA-256 of the file's bytes */
    assert_int_equal(rn_sha256_file(BAD("good"), hex, NULL, &err), 0);
    assert_string_equal(hex, p->id);
    assert_int_equal(strlen(p->id), 64);
    rn_plugin_free(p);
}

static void test_sha256_known_value(void **state)
{
    char hex[65];
    (void)state;
    rn_sha256_hex("abc", 3, hex);
    assert_string_equal(
        hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_refused("/nonexistent/libnope.so", RN_ENOTFOUND,
                   "No such file or directory");
}

static void test_not_elf(void **state)
{
    char *dir = rn_test_tmpdir("loader");
    char path[512];
    (void)state;
    snprintf(path, sizeof(path), "%s/libtext.so", dir);
    assert_int_equal(rn_test_write_file(path, "hello, not a plugin\n", 20), 0);
    expect_refused(path, RN_EPLUGIN, "not an ELF shared object");
    /* an empty file too */
    assert_int_equal(rn_test_write_file(path, "", 0), 0);
    expect_refused(path, RN_EPLUGIN, "not an ELF shared object");
    rn_test_rmtree(dir);
    free(dir);
}

static void test_directory(void **state)
{
    (void)state;
    expect_refused("/tmp", RN_EINVAL, "not a regular file");
}

static void test_system_library_without_entry(void **state)
{
    static const char *const cands[] = {
        "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/aarch64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1",
        "/lib64/libz.so.1", NULL};
    (void)state;
    for (int i = 0; cands[i]; i++)
        if (access(cands[i], R_OK) == 0) {
            expect_refused(cands[i], RN_EPLUGIN,
                           "no runnel_plugin_v1 entry function: not a runnel plugin");
            return;
        }
    skip();
}

static void test_own_object_without_entry(void **state)
{
    (void)state;
    expect_refused(BAD("no_entry"), RN_EPLUGIN, "no runnel_plugin_v1 entry");
}

static void test_bad_magic(void **state)
{
    (void)state;
    expect_refused(BAD("bad_magic"), RN_EABI,
                   "bad descriptor magic: expected 0x4c504e52, got 0xdeadbeef");
}

static void test_abi_major(void **state)
{
    (void)state;
    expect_refused(BAD("abi_major"), RN_EABI, "expected ABI 1.x, got 2.0");
}

static void test_abi_minor_newer(void **state)
{
    (void)state;
    expect_refused(BAD("abi_minor"), RN_EABI,
                   "plugin needs ABI 1.3, this runnel provides 1.2");
}

static void test_counting_flag_on_a_map(void **state)
{
    (void)state;
    expect_refused(BAD("bad_counting"), RN_EPLUGIN,
                   "operator 'id': flag counting on a map (expected fold or "
                   "foldby)");
}

static void test_unknown_kind(void **state)
{
    (void)state;
    expect_refused(BAD("bad_kind"), RN_EPLUGIN,
                   "operator 'id' has unknown kind 99");
}

static void test_unknown_param_type(void **state)
{
    (void)state;
    expect_refused(BAD("bad_ptype"), RN_EPLUGIN,
                   "parameter 'n' has unknown type 42");
}

static void test_missing_callback(void **state)
{
    (void)state;
    expect_refused(BAD("no_callback"), RN_EPLUGIN,
                   "operator 'id' of kind map has no map callback");
}

static int noop_map(void *st, rn_ctx *ctx, const rn_value *in, rn_value *out)
{
    (void)st;
    (void)ctx;
    *out = *in;
    return 0;
}

static void test_validate_bounds(void **state)
{
    static const char *const too_many[] = {
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
        "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "a1", "b1",
        "c1", "d1", "e1", "f1", "g1", "h1", "i1", "j1", "k1", "l1", "m1", "n1",
        "o1", "p1", "q1", "r1", "s1", "t1", "u1", "v1", "w1", "x1", "y1", "z1",
        "a2", "b2", "c2", "d2", "e2", "f2", "g2", "h2", "i2", "j2", "k2", "l2",
        "m2", NULL};
    rn_param_spec ps[2] = {{.name = "x", .type = RN_PT_STRING, .choices = too_many},
                           {.name = "x", .type = RN_PT_INT}};
    rn_op_desc op = {RN_OP_HEAD(RN_OP_MAP, "m", "h"), .map = noop_map};
    rn_plugin_desc d = {RN_PLUGIN_MAGIC, RN_ABI_MAJOR, RN_ABI_MINOR,
                        sizeof(rn_plugin_desc), sizeof(rn_op_desc),
                        sizeof(rn_param_spec), sizeof(rn_value), "p", "1",
                        NULL, 1, &op};
    rn_errbuf err;
    (void)state;

    assert_int_equal(rn_plugin_validate(&d, &err), 0);
    d.name = "Bad-Name";
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EPLUGIN);
    assert_non_null(strstr(err.msg, "invalid plugin name"));
    d.name = "p";
    d.n_ops = RN_MAX_OPS + 1;
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EPLUGIN);
    d.n_ops = 0;
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EPLUGIN);
    d.n_ops = 1;
    d.value_size = 8;
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EABI);
    assert_non_null(strstr(err.msg, "value size: expected 16, got 8"));
    d.value_size = sizeof(rn_value);
    op.n_params = 1;
    op.params = ps;
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EPLUGIN);
    assert_non_null(strstr(err.msg, "more than 64 choices"));
    ps[0].choices = NULL;
    op.n_params = 2;
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EPLUGIN);
    assert_non_null(strstr(err.msg, "declares parameter 'x' twice"));
    op.n_params = RN_MAX_PARAMS + 1;
    assert_int_equal(rn_plugin_validate(&d, &err), RN_EPLUGIN);
    assert_int_equal(rn_plugin_validate(NULL, &err), RN_EPLUGIN);
}

static void test_registry(void **state)
{
    rn_registry *r = rn_registry_new();
    rn_plugin *p1 = NULL, *p2 = NULL, *pl = NULL;
    const rn_op_desc *op = NULL;
    rn_errbuf err;
    (void)state;

    assert_int_equal(rn_registry_add_file(r, BAD("good"), &p1, &err), 0);
    /* the same bytes again: same plugin, nothing new loaded */
    assert_int_equal(rn_registry_add_file(r, BAD("good"), &p2, &err), 0);
    assert_ptr_equal(p1, p2);
    assert_int_equal(rn_registry_count(r), 1);
    assert_ptr_equal(rn_registry_by_id(r, p1->id), p1);
    assert_ptr_equal(rn_registry_by_name(r, "good"), p1);
    assert_int_equal(rn_registry_find_op(r, "upper", &pl, &op, &err), 0);
    assert_string_equal(op->name, "upper");
    assert_int_equal(rn_registry_find_op(r, "good.fail_on", &pl, &op, &err), 0);
    assert_string_equal(op->name, "fail_on");
    assert_int_equal(rn_registry_find_op(r, "nope", &pl, &op, &err), RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "unknown operator 'nope'"));
    assert_int_equal(rn_registry_find_op(r, "other.upper", &pl, &op, &err),
                     RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no plugin named 'other'"));
    assert_int_equal(rn_registry_find_op(r, "good.nope", &pl, &op, &err),
                     RN_ENOTFOUND);
    /* a broken file is refused and the registry is unchanged */
    assert_int_equal(rn_registry_add_file(r, BAD("abi_major"), NULL, &err), RN_EABI);
    assert_int_equal(rn_registry_count(r), 1);
    rn_registry_free(r);
}

static void test_shipped_plugins_load(void **state)
{
    rn_registry *r = rn_registry_new();
    rn_plugin *pl;
    const rn_op_desc *op;
    rn_errbuf err;
    (void)state;
    rn_error_clear(&err);
    assert_int_equal(rn_registry_add_shipped(r, &err), 0);
    assert_true(rn_registry_count(r) >= 4);
    assert_int_equal(rn_registry_find_op(r, "frequencies", &pl, &op, &err), 0);
    assert_int_equal(op->kind, RN_OP_FOLDBY);
    assert_int_equal(rn_registry_find_op(r, "read_text", &pl, &op, &err), 0);
    assert_int_equal(op->kind, RN_OP_SOURCE);
    rn_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugin_loads),
        cmocka_unit_test(test_sha256_known_value),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_elf),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_system_library_without_entry),
        cmocka_unit_test(test_own_object_without_entry),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_abi_major),
        cmocka_unit_test(test_abi_minor_newer),
        cmocka_unit_test(test_counting_flag_on_a_map),
        cmocka_unit_test(test_unknown_kind),
        cmocka_unit_test(test_unknown_param_type),
        cmocka_unit_test(test_missing_callback),
        cmocka_unit_test(test_validate_bounds),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_shipped_plugins_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
