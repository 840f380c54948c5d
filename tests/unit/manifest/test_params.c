/* Parameter binding against declared tables, sizes and durations. */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <runnel/params.h>

#include "base/buf.h"
#include "manifest/manifest.h"
#include "value/value.h"

#define DATA RN_TEST_DATA_DIR "/manifests/"

/* ---- tables --------------------------------------------------------- */

static const char *const compressions[] = {"infer", "gzip", "none", NULL};

static const rn_param_spec read_params[] = {
    {.name = "urls", .type = RN_PT_STRING_LIST, .flags = RN_PF_REQUIRED,
     .help = "paths or URLs"},
    {.name = "blocksize", .type = RN_PT_SIZE, .def = "64MiB", .min = 4096,
     .max = 1073741824.0},
    {.name = "compression", .type = RN_PT_STRING, .def = "infer",
     .choices = compressions},
    {.name = "include_path", .type = RN_PT_BOOL, .def = "false"},
    {.name = "timeout", .type = RN_PT_DURATION, .def = "30s"},
    {.name = "ratio", .type = RN_PT_DOUBLE, .def = "0.5", .min = 0, .max = 1},
    {.name = "sep", .type = RN_PT_STRING, .def = ", "},
    {.name = "tags", .type = RN_PT_STRING_LIST, .def = "[\"a\", \"b\"]"},
    {.name = "extra", .type = RN_PT_ANY},
    {.name = "space", .type = RN_PT_STRING, .def = "\" \""},
};

static const rn_op_desc read_op = {
    RN_OP_HEAD(RN_OP_SOURCE, "read_text", "reads text"),
    RN_OP_PARAMS(read_params)};

static const rn_param_spec topk_params[] = {
    {.name = "k", .type = RN_PT_INT, .flags = RN_PF_REQUIRED, .min = 1,
     .max = 1000},
    {.name = "key", .type = RN_PT_INT, .def = "0"},
};

static const rn_op_desc topk_op = {
    RN_OP_HEAD(RN_OP_FOLD, "topk", "the k largest"), RN_OP_PARAMS(topk_params)};

static const rn_op_desc count_op = {
    RN_OP_HEAD(RN_OP_FOLD, "count", "counts")};

static const rn_param_spec bad_def_params[] = {
    {.name = "n", .type = RN_PT_INT, .def = "ten"},
};

static const rn_op_desc bad_def_op = {
    RN_OP_HEAD(RN_OP_MAP, "broken", "bad default"),
    RN_OP_PARAMS(bad_def_params)};

/* ---- helpers -------------------------------------------------------- */

static rn_arena arena;

static int setup(void **state)
{
    (void)state;
    rn_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rn_arena_release(&arena);
    return 0;
}

static const rn_mpos where = {"m.yaml", 7, 5};

/* Binds `yaml` (a mapping, or "" for none) and returns the record. */
static int bind(const rn_op_desc *op, const char *yaml, rn_value *out,
                rn_errbuf *err)
{
    rn_mnode *n = NULL;
    int rc;
    memset(err, 0, sizeof(*err));
    rc = rn_mnode_parse(&arena, "m.yaml", yaml, strlen(yaml), &n, err);
    if (rc)
        return rc;
    return rn_params_bind(&arena, op, NULL, rn_mnode_is_null(n) ? NULL : n,
                          where, out, err);
}

static void bind_ok(const rn_op_desc *op, const char *yaml, const char *json)
{
    rn_value v;
    rn_errbuf err;
    rn_buf b;
    int rc = bind(op, yaml, &v, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(v.kind, RN_RECORD);
    assert_int_equal(v.len, op->n_params);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_value_to_json(&b, &v), 0);
    if (strcmp(b.ptr, json) != 0)
        print_error("got  %s\nwant %s\n", b.ptr, json);
    assert_string_equal(b.ptr, json);
    rn_buf_release(&b);
}

static void bind_err(const rn_op_desc *op, const char *yaml, int code,
                     const char *msg)
{
    rn_value v;
    rn_errbuf err;
    int rc = bind(op, yaml, &v, &err);
    if (rc != code || strcmp(err.msg, msg) != 0)
        print_error("got %d '%s'\nwant %d '%s'\n", rc, err.msg, code, msg);
    assert_int_equal(rc, code);
    assert_string_equal(err.msg, msg);
}

/* ---- sizes and durations ------------------------------------------- */

static void size_is(const char *s, int64_t want)
{
    int64_t v = -1;
    int rc = rn_parse_size(s, strlen(s), &v);
    if (rc || v != want)
        print_error("'%s' -> rc %d, %lld\n", s, rc, (long long)v);
    assert_int_equal(rc, 0);
    assert_true(v == want);
}

static void size_bad(const char *s)
{
    int64_t v = 12345;
    int rc = rn_parse_size(s, strlen(s), &v);
    if (rc != RN_EINVAL)
        print_error("'%s' was accepted: %lld\n", s, (long long)v);
    assert_int_equal(rc, RN_EINVAL);
    assert_true(v == 12345);
}

static void test_sizes(void **state)
{
    (void)state;
    size_is("4096", 4096);
    size_is("0", 0);
    size_is("64MiB", 64ll << 20);
    size_is("64mib", 64ll << 20);
    size_is("1GB", 1000000000ll);
    size_is("1gb", 1000000000ll);
    size_is("1G", 1000000000ll);
    size_is("1Gi", 1ll << 30);
    size_is("1.5KiB", 1536);
    size_is("1.5 KiB", 1536);
    size_is("  2k ", 2000);
    size_is("10B", 10);
    size_is(".5MB", 500000);
    size_is("0.1KiB", 102); /* fractions of a byte dropped */
    size_is("7PiB", 7ll << 50);
    size_is("9223372036854775807", INT64_MAX);
    size_is("8191PiB", 8191ll << 50);
    size_bad("");
    size_bad("   ");
    size_bad("MiB");
    size_bad("-1");
    size_bad("-1KB");
    size_bad("1.2.3");
    size_bad("1 2");
    size_bad("64 MiBs");
    size_bad("64XB");
    size_bad("1e3");
    size_bad("0x10");
    size_bad("8192PiB");              /* 2^63: one past the top */
    size_bad("9223372036854775808");  /* INT64_MAX + 1 */
    size_bad("99999999999999999999"); /* > UINT64_MAX */
    size_bad(".");
    assert_int_equal(rn_parse_size("12KiBxx", 5, &(int64_t){0}), 0);
}

static void dur_is(const char *s, int64_t want)
{
    int64_t v = -1;
    int rc = rn_parse_duration(s, strlen(s), &v);
    if (rc || v != want)
        print_error("'%s' -> rc %d, %lld\n", s, rc, (long long)v);
    assert_int_equal(rc, 0);
    assert_true(v == want);
}

static void dur_bad(const char *s)
{
    int64_t v = 12345;
    int rc = rn_parse_duration(s, strlen(s), &v);
    if (rc != RN_EINVAL)
        print_error("'%s' was accepted: %lld\n", s, (long long)v);
    assert_int_equal(rc, RN_EINVAL);
    assert_true(v == 12345);
}

static void test_durations(void **state)
{
    (void)state;
    dur_is("500ms", 500000000ll);
    dur_is("30s", 30000000000ll);
    dur_is("2m", 120000000000ll);
    dur_is("1h", 3600000000000ll);
    dur_is("250us", 250000ll);
    dur_is("250\xc2\xb5s", 250000ll);
    dur_is("7ns", 7);
    dur_is("1d", 86400000000000ll);
    dur_is("1.5s", 1500000000ll);
    dur_is("1h30m", 5400000000000ll);
    dur_is("1h 30m 15s", 5415000000000ll);
    dur_is(" 10 s ", 10000000000ll);
    dur_is("0", 0);
    dur_is("0s", 0);
    dur_is("106751d", 106751ll * 86400000000000ll);
    dur_bad("");
    dur_bad("30");
    dur_bad("00");
    dur_bad("s");
    dur_bad("-1s");
    dur_bad("1S");
    dur_bad("1sec");
    dur_bad("1ms5");
    dur_bad("1.2.3s");
    dur_bad("5y");
    dur_bad("106752d"); /* past INT64_MAX nanoseconds */
    dur_bad("99999999999999999999s");
}

/* ---- binding --------------------------------------------------------- */

static void test_defaults(void **state)
{
    rn_value v;
    rn_errbuf err;
    (void)state;

    bind_ok(&read_op, "{urls: data.txt}",
            "{\"urls\": [\"data.txt\"], \"blocksize\": 67108864, "
            "\"compression\": \"infer\", \"include_path\": false, "
            "\"timeout\": 30000000000, \"ratio\": 0.5, \"sep\": \", \", "
            "\"tags\": [\"a\", \"b\"], \"extra\": null, \"space\": \" \"}");
    /* explicit null takes the default too */
    bind_ok(&topk_op, "{k: 3, key: ~}", "{\"k\": 3, \"key\": 0}");
    bind_ok(&count_op, "", "{}");
    bind_ok(&count_op, "{}", "{}");

    /* field names and order follow the table */
    assert_int_equal(bind(&read_op, "{timeout: 1m, urls: [a, b]}", &v, &err),
                     0);
    for (uint32_t i = 0; i < read_op.n_params; i++)
        assert_true(rn_str_eq(v.u.fields[i].name, read_params[i].name));
    assert_int_equal(rn_param_int(&v, "timeout", 0), 60000000000ll);
    assert_int_equal(rn_param_int(&v, "blocksize", 0), 64ll << 20);
}

static void test_all_types(void **state)
{
    (void)state;
    bind_ok(&read_op,
            "urls: [a, 'b', 3]\nblocksize: 8KiB\ncompression: gzip\n"
            "include_path: true\ntimeout: 1h30m\nratio: 1\nsep: 2024\n"
            "tags: single\nextra: {x: [1, 2.5, \"s\", ~], y: yes}\n"
            "space: ''\n",
            "{\"urls\": [\"a\", \"b\", \"3\"], \"blocksize\": 8192, "
            "\"compression\": \"gzip\", \"include_path\": true, "
            "\"timeout\": 5400000000000, \"ratio\": 1.0, \"sep\": \"2024\", "
            "\"tags\": [\"single\"], \"extra\": {\"x\": [1, 2.5, \"s\", null], "
            "\"y\": \"yes\"}, \"space\": \"\"}");
    bind_ok(&read_op, "{urls: [], blocksize: 4096, ratio: .25, extra: 7}",
            "{\"urls\": [], \"blocksize\": 4096, \"compression\": \"infer\", "
            "\"include_path\": false, \"timeout\": 30000000000, "
            "\"ratio\": 0.25, \"sep\": \", \", \"tags\": [\"a\", \"b\"], "
            "\"extra\": 7, \"space\": \" \"}");
}

static void test_required(void **state)
{
    rn_value v;
    rn_errbuf err;
    rn_mnode *n = NULL;
    (void)state;

    /* no params at all: the error is at `where` */
    assert_int_equal(rn_params_bind(&arena, &topk_op, "topk", NULL, where, &v,
                                    &err),
                     RN_EINVAL);
    assert_string_equal(err.msg,
                        "m.yaml:7:5: topk: missing required parameter 'k'");
    /* a mapping without it: at the mapping */
    bind_err(&topk_op, "{key: 1}", RN_EINVAL,
             "m.yaml:1:1: topk: missing required parameter 'k'");
    bind_err(&topk_op, "\n  key: 1\n", RN_EINVAL,
             "m.yaml:2:3: topk: missing required parameter 'k'");
    bind_err(&topk_op, "{k: ~}", RN_EINVAL,
             "m.yaml:1:5: topk: k: required, got null");
    /* a null params node counts as none */
    assert_int_equal(rn_mnode_parse(&arena, "m.yaml", "~", 1, &n, &err), 0);
    assert_int_equal(rn_params_bind(&arena, &topk_op, "x.topk", n, where, &v,
                                    &err),
                     RN_EINVAL);
    assert_string_equal(err.msg,
                        "m.yaml:1:1: x.topk: missing required parameter 'k'");
}

static void test_unknown_keys(void **state)
{
    rn_value v;
    rn_errbuf err;
    rn_mnode *n = NULL;
    const char *yaml = "{lowr: true}";
    (void)state;

    bind_err(&topk_op, "{k: 1, kez: 2}", RN_EINVAL,
             "m.yaml:1:8: topk: unknown parameter 'kez' (expected k, key); "
             "did you mean 'key'?");
    bind_err(&topk_op, "{k: 1, limit: 2}", RN_EINVAL,
             "m.yaml:1:8: topk: unknown parameter 'limit' (expected k, key)");
    bind_err(&read_op, "{urls: a, compresion: gzip}", RN_EINVAL,
             "m.yaml:1:11: read_text: unknown parameter 'compresion' "
             "(expected urls, blocksize, compression, include_path, timeout, "
             "ratio, sep, tags, extra, space); did you mean 'compression'?");
    bind_err(&count_op, "{by: x}", RN_EINVAL,
             "m.yaml:1:2: count: unknown parameter 'by' (count takes no "
             "parameters)");
    /* the label given by the planner is used as is */
    assert_int_equal(rn_mnode_parse(&arena, "w.yaml", yaml, strlen(yaml), &n,
                                    &err),
                     0);
    assert_int_equal(rn_params_bind(&arena, &count_op, "stats.count", n,
                                    where, &v, &err),
                     RN_EINVAL);
    assert_string_equal(err.msg, "w.yaml:1:2: stats.count: unknown parameter "
                                 "'lowr' (stats.count takes no parameters)");
}

static void test_type_errors(void **state)
{
    (void)state;
    bind_err(&topk_op, "{k: ten}", RN_ETYPE,
             "m.yaml:1:5: topk: k: expected int, got string 'ten'");
    bind_err(&topk_op, "{k: \"10\"}", RN_ETYPE,
             "m.yaml:1:5: topk: k: expected int, got string '10'");
    bind_err(&topk_op, "{k: 1.5}", RN_ETYPE,
             "m.yaml:1:5: topk: k: expected int, got double 1.5");
    bind_err(&topk_op, "{k: [1]}", RN_ETYPE,
             "m.yaml:1:5: topk: k: expected int, got a list");
    bind_err(&topk_op, "{k: true}", RN_ETYPE,
             "m.yaml:1:5: topk: k: expected int, got bool true");
    bind_err(&read_op, "{urls: a, include_path: yes}", RN_ETYPE,
             "m.yaml:1:25: read_text: include_path: expected bool, got "
             "string 'yes'");
    bind_err(&read_op, "{urls: a, include_path: 'true'}", RN_ETYPE,
             "m.yaml:1:25: read_text: include_path: expected bool, got "
             "string 'true'");
    bind_err(&read_op, "{urls: a, ratio: half}", RN_ETYPE,
             "m.yaml:1:18: read_text: ratio: expected double, got string "
             "'half'");
    bind_err(&read_op, "{urls: a, sep: {a: 1}}", RN_ETYPE,
             "m.yaml:1:16: read_text: sep: expected string, got a mapping");
    bind_err(&read_op, "{urls: a, blocksize: big}", RN_ETYPE,
             "m.yaml:1:22: read_text: blocksize: expected a size (e.g. 64MiB, "
             "1GB, 4096), got string 'big'");
    bind_err(&read_op, "{urls: a, blocksize: -5}", RN_ETYPE,
             "m.yaml:1:22: read_text: blocksize: expected a size (e.g. 64MiB, "
             "1GB, 4096), got int -5");
    bind_err(&read_op, "{urls: a, timeout: 30}", RN_ETYPE,
             "m.yaml:1:20: read_text: timeout: expected a duration (e.g. "
             "500ms, 30s, 2m, 1h30m), got int 30");
    bind_err(&read_op, "{urls: {a: 1}}", RN_ETYPE,
             "m.yaml:1:8: read_text: urls: expected a string or a list of "
             "strings, got a mapping");
    bind_err(&read_op, "{urls: [a, [b]]}", RN_ETYPE,
             "m.yaml:1:12: read_text: urls: item 2: expected a string, got a "
             "list");
    bind_err(&read_op, "{urls: [a, ~]}", RN_ETYPE,
             "m.yaml:1:12: read_text: urls: item 2: expected a string, got "
             "null");
    bind_err(&count_op, "[urls]", RN_EINVAL,
             "m.yaml:1:1: count: parameters must be a mapping, got a list (a "
             "bare value goes to an operator's one required or only "
             "parameter; count has 0 required of 0)");
    /* a bare value: the one required parameter (with the defaults), or
     * the only one */
    bind_ok(&topk_op, "7", "{\"k\": 7, \"key\": 0}");
    bind_ok(&bad_def_op, "3", "{\"n\": 3}");
    bind_err(&topk_op, "x", RN_ETYPE, "m.yaml:1:1: topk: k: expected int, got "
                                      "string 'x'");
}

static void test_ranges_and_choices(void **state)
{
    (void)state;
    bind_err(&topk_op, "{k: 0}", RN_ERANGE,
             "m.yaml:1:5: topk: k: 0 is out of range (min 1, max 1000)");
    bind_err(&topk_op, "{k: 1001}", RN_ERANGE,
             "m.yaml:1:5: topk: k: 1001 is out of range (min 1, max 1000)");
    bind_ok(&topk_op, "{k: 1000, key: -3}", "{\"k\": 1000, \"key\": -3}");
    bind_ok(&topk_op, "{k: 0x10}", "{\"k\": 16, \"key\": 0}");
    bind_err(&read_op, "{urls: a, ratio: 1.5}", RN_ERANGE,
             "m.yaml:1:18: read_text: ratio: 1.5 is out of range (min 0, "
             "max 1)");
    bind_err(&read_op, "{urls: a, ratio: .nan}", RN_ERANGE,
             "m.yaml:1:18: read_text: ratio: nan is out of range");
    bind_err(&read_op, "{urls: a, blocksize: 1KiB}", RN_ERANGE,
             "m.yaml:1:22: read_text: blocksize: 1KiB is out of range (min "
             "4096, max 1073741824)");
    bind_err(&read_op, "{urls: a, compression: zip}", RN_EINVAL,
             "m.yaml:1:24: read_text: compression: 'zip' is not one of: "
             "infer, gzip, none");
}

static const char *const list_choices[] = {"x", "y", NULL};
static const rn_param_spec choice_list_params[] = {
    {.name = "axes", .type = RN_PT_STRING_LIST, .choices = list_choices},
};
static const rn_op_desc choice_list_op = {
    RN_OP_HEAD(RN_OP_MAP, "axes", "axes"), RN_OP_PARAMS(choice_list_params)};

static void test_string_list(void **state)
{
    (void)state;
    bind_ok(&choice_list_op, "{axes: x}", "{\"axes\": [\"x\"]}");
    bind_ok(&choice_list_op, "{axes: [x, y, x]}",
            "{\"axes\": [\"x\", \"y\", \"x\"]}");
    bind_ok(&choice_list_op, "{}", "{\"axes\": null}");
    bind_err(&choice_list_op, "{axes: [x, z]}", RN_EINVAL,
             "m.yaml:1:12: axes: axes: 'z' is not one of: x, y");
}

static void test_env_typed(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    rn_value v;
    const char *text = "source: range\nsteps:\n"
                       "  - topk: {k: \"${RN_T_K}\", key: \"${RN_T_KEY:-1}\"}\n"
                       "  - topk:\n      k: ${RN_T_K}\n"
                       "  - read_text: {urls: a, extra: \"${RN_T_K}\","
                       " sep: \"${RN_T_K}\"}\n";
    (void)state;

    setenv("RN_T_K", "10", 1);
    assert_int_equal(rn_manifest_parse("m.yaml", text, strlen(text), &m, &err),
                     0);
    assert_int_equal(rn_params_bind(&arena, &topk_op, m->steps[0].op,
                                    m->steps[0].params, m->steps[0].pos, &v,
                                    &err),
                     0);
    assert_int_equal(rn_param_int(&v, "k", 0), 10);
    assert_int_equal(rn_param_int(&v, "key", 0), 1);
    assert_int_equal(rn_params_bind(&arena, &topk_op, m->steps[1].op,
                                    m->steps[1].params, m->steps[1].pos, &v,
                                    &err),
                     0);
    assert_int_equal(rn_param_int(&v, "k", 0), 10);
    assert_int_equal(rn_params_bind(&arena, &read_op, m->steps[2].op,
                                    m->steps[2].params, m->steps[2].pos, &v,
                                    &err),
                     0);
    /* ANY keeps the quoted one a string; STRING takes the text */
    assert_int_equal(rn_record_get(&v, "extra")->kind, RN_STRING);
    assert_true(rn_str_eq(rn_param_str(&v, "sep", NULL), "10"));
    rn_manifest_free(m);

    setenv("RN_T_K", "ten", 1);
    assert_int_equal(rn_manifest_parse("m.yaml", text, strlen(text), &m, &err),
                     0);
    assert_int_equal(rn_params_bind(&arena, &topk_op, m->steps[0].op,
                                    m->steps[0].params, m->steps[0].pos, &v,
                                    &err),
                     RN_ETYPE);
    /* the value of a variable is never shown: the text as written is */
    assert_string_equal(err.msg, "m.yaml:3:15: topk: k: expected int, got "
                                 "string '${RN_T_K}'");
    rn_manifest_free(m);
    unsetenv("RN_T_K");
}

static void test_manifest_file(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    rn_value v;
    (void)state;

    assert_int_equal(rn_manifest_load(DATA "bad_params_type.yaml", &m, &err),
                     0);
    assert_int_equal(rn_params_bind(&arena, &topk_op, m->steps[0].op,
                                    m->steps[0].params, m->steps[0].pos, &v,
                                    &err),
                     RN_ETYPE);
    assert_string_equal(err.msg, DATA "bad_params_type.yaml:3:15: topk: k: "
                                      "expected int, got string 'ten'");
    rn_manifest_free(m);

    /* the bound record outlives the manifest: it lives in `arena` only */
    assert_int_equal(rn_manifest_load(DATA "wordcount.yaml", &m, &err), 0);
    assert_int_equal(rn_params_bind(&arena, &read_op, m->source.op,
                                    m->source.params, m->source.pos, &v,
                                    &err),
                     0);
    rn_manifest_free(m);
    assert_int_equal(rn_param_int(&v, "blocksize", 0), 64ll << 20);
    assert_int_equal(rn_record_get(&v, "urls")->len, 2);
    assert_true(rn_str_eq(rn_value_str(&rn_record_get(&v, "urls")->u.items[1]),
                          "data/extra.txt"));
}

static void test_bad_defaults(void **state)
{
    rn_value v;
    rn_errbuf err;
    (void)state;

    bind_err(&bad_def_op, "{}", RN_EPLUGIN,
             "m.yaml:1:1: broken: invalid default 'ten' for parameter 'n' (a "
             "bug in the plugin): expected int, got string 'ten'");
    assert_int_equal(rn_params_bind(&arena, &bad_def_op, NULL, NULL, where,
                                    &v, &err),
                     RN_EPLUGIN);
    assert_string_equal(err.msg, "m.yaml:7:5: broken: invalid default 'ten' "
                                 "for parameter 'n' (a bug in the plugin): "
                                 "expected int, got string 'ten'");
    assert_int_equal(rn_params_check_defaults(&bad_def_op, &err), RN_EPLUGIN);
    assert_string_equal(err.msg, "broken: invalid default 'ten' for "
                                 "parameter 'n': expected int, got string "
                                 "'ten'");
    assert_int_equal(rn_params_check_defaults(&read_op, &err), 0);
    assert_int_equal(rn_params_check_defaults(&topk_op, &err), 0);
    assert_int_equal(rn_params_check_defaults(&count_op, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_and_choices, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_string_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_defaults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
