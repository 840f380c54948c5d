/* The planner: stages cut from a manifest, shape errors at their
 * positions, the name to show, substituted values kept out of messages,
 * and building (and running) plans whose cost grows linearly with the
 * number of steps. */
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
#include "exec/local.h"
#include "manifest/manifest.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "value/value.h"

/* A marker no message may ever contain. */
#define SECRET "s3cr3t-Marker-7f1e"

static rn_registry *reg;

static int setup(void **state)
{
    rn_errbuf err = {0};
    (void)state;
    /* ctest sets it; run by hand, the build tree's plugins */
    setenv("RUNNEL_PLUGIN_PATH", RN_TEST_BUILD_DIR "/plugins", 0);
    reg = rn_registry_new();
    if (!reg)
        return -1;
    /* a broken file in the directory is reported, the others load */
    rn_registry_add_shipped(reg, &err);
    if (!rn_registry_by_name(reg, "text") || !rn_registry_by_name(reg, "agg")) {
        print_error("shipped plugins: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rn_registry_free(reg);
    return 0;
}

static rn_plan *build_ok(const char *text, rn_manifest **mout)
{
    rn_manifest *m = NULL;
    rn_plan *p = NULL;
    rn_errbuf err = {0};
    if (rn_manifest_parse("p.yaml", text, strlen(text), &m, &err) ||
        rn_plan_build(m, reg, &p, &err))
        fail_msg("unexpected error: %s", err.msg);
    if (mout)
        *mout = m;
    else
        rn_manifest_free(m);
    return p;
}

/* Builds text, expects failure with `code` and exactly `msg`. */
static void build_err(const char *text, int code, const char *msg)
{
    rn_manifest *m = NULL;
    rn_plan *p = NULL;
    rn_errbuf err = {0};
    int rc = rn_manifest_parse("p.yaml", text, strlen(text), &m, &err);
    if (rc == 0)
        rc = rn_plan_build(m, reg, &p, &err);
    assert_null(p);
    if (rc != code || strcmp(err.msg, msg) != 0)
        print_error("got %d '%s'\nwant %d '%s'\n", rc, err.msg, code, msg);
    assert_int_equal(rc, code);
    assert_string_equal(err.msg, msg);
    rn_manifest_free(m);
}

/* ---- ordinary plans ------------------------------------------------ */

static void test_stages(void **state)
{
    rn_plan *p;
    (void)state;

    p = build_ok("name: wc\n"
                 "source: {from_sequence: {items: [\"A b\", c]}}\n"
                 "steps:\n"
                 "  - split\n"
                 "  - lower\n"
                 "  - frequencies\n"
                 "  - grep: {pattern: x}\n"
                 "  - topk: {k: 3, key: 1}\n",
                 NULL);
    assert_string_equal(p->name, "wc");
    assert_string_equal(p->display_name, "wc");
    assert_int_equal(p->n_ops, 6);
    assert_string_equal(p->source->label, "sources.from_sequence");
    assert_int_equal(p->n_stages, 2);
    assert_int_equal(p->stages[0].n_narrow, 2);
    assert_string_equal(p->stages[0].narrow[0]->label, "text.split");
    assert_string_equal(p->stages[0].narrow[1]->label, "text.lower");
    assert_string_equal(p->stages[0].terminal->label, "agg.frequencies");
    assert_int_equal(p->stages[1].n_narrow, 1);
    assert_string_equal(p->stages[1].narrow[0]->label, "text.grep");
    assert_string_equal(p->stages[1].terminal->label, "agg.topk");
    assert_int_equal(p->ops[4].pos.line, 7);
    assert_int_equal(p->ops[4].pos.col, 5);
    rn_plan_free(p);

    /* narrow steps only: one stage, no terminal; a sink ends the last */
    p = build_ok("source: {range: {n: 3}}\nsteps: [json_dump, lower]\n"
                 "sink: {to_textfiles: {path: /tmp/never-written-*.txt}}\n",
                 NULL);
    assert_string_equal(p->name, "p"); /* from the label */
    assert_int_equal(p->n_stages, 1);
    assert_int_equal(p->stages[0].n_narrow, 2);
    assert_string_equal(p->stages[0].terminal->label, "textio.to_textfiles");
    rn_plan_free(p);

    p = build_ok("source: {range: {n: 3}}\n", NULL);
    assert_int_equal(p->n_stages, 1);
    assert_int_equal(p->stages[0].n_narrow, 0);
    assert_null(p->stages[0].terminal);
    rn_plan_free(p);
}

static void test_shape_errors(void **state)
{
    (void)state;
    build_err("source: {range: {n: 3}}\nsteps: [count, lower]\n", RN_EINVAL,
              "p.yaml:2:16: 'text.lower' cannot follow 'agg.count': "
              "'agg.count' produces a single value and must be the last "
              "step");
    build_err("source: lower\n", RN_EINVAL,
              "p.yaml:1:9: 'text.lower' is a map operator, but `source` "
              "needs a source (such as read_text, from_sequence or range)");
    build_err("source: {range: {n: 3}}\nsteps: [{range: {n: 1}}]\n",
              RN_EINVAL,
              "p.yaml:2:10: 'sources.range' is a source: it can only be the "
              "manifest's `source`");
    build_err("source: {range: {n: 3}}\nsteps: [{to_textfiles: {path: o}}]\n",
              RN_EINVAL,
              "p.yaml:2:10: 'textio.to_textfiles' is a sink: put it under "
              "`sink:`, after the steps");
    build_err("source: {range: {n: 3}}\nsink: lower\n", RN_EINVAL,
              "p.yaml:2:7: 'text.lower' is a map operator, but `sink` needs "
              "a sink (such as to_textfiles)");
    build_err("source: {range: {n: 3}}\nsteps: [nosuchop]\n", RN_ENOTFOUND,
              "p.yaml:2:9: unknown operator 'nosuchop'");
    build_err("source: {range: {n: 3}}\nsteps:\n  - topk: {k: 0}\n",
              RN_ERANGE,
              "p.yaml:3:15: agg.topk: k: 0 is out of range (min 1, max "
              "4294967295)");
}

static void test_describe(void **state)
{
    rn_plan *p;
    rn_buf b;
    (void)state;

    p = build_ok("name: d\nsource: {range: {n: 3}}\n"
                 "steps: [json_dump, lower, frequencies]\n",
                 NULL);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_plan_describe(p, &b), 0);
    assert_string_equal(b.ptr,
                        "pipeline d: 1 stage\n"
                        "  source   sources.range\n"
                        "  stage 0: one task per split -> json.json_dump -> "
                        "text.lower -> agg.frequencies (foldby, combined as "
                        "a tree)\n");
    rn_buf_release(&b);
    rn_plan_free(p);
}

/* ---- substituted values are never shown ----------------------------- */

static void assert_no_secret(const char *msg)
{
    if (strstr(msg, SECRET))
        fail_msg("the value of a variable is shown: %s", msg);
}

static void test_display_name(void **state)
{
    rn_manifest *m = NULL;
    rn_plan *p;
    rn_buf b;
    (void)state;

    setenv("RN_TP_DATE", SECRET, 1);
    p = build_ok("name: nightly-${RN_TP_DATE}\nsource: {range: {n: 3}}\n",
                 &m);
    assert_string_equal(p->name, "nightly-" SECRET); /* the value */
    assert_string_equal(p->display_name, "nightly-${RN_TP_DATE}");
    assert_string_equal(m->display_name, "nightly-${RN_TP_DATE}");
    rn_buf_init(&b, 0);
    rn_plan_describe(p, &b);
    assert_no_secret(b.ptr);
    assert_non_null(strstr(b.ptr, "pipeline nightly-${RN_TP_DATE}: "));
    rn_buf_release(&b);
    rn_plan_free(p);
    rn_manifest_free(m);

    /* no substitution: the name is the name */
    p = build_ok("name: plain\nsource: {range: {n: 3}}\n", NULL);
    assert_string_equal(p->display_name, "plain");
    rn_plan_free(p);
    unsetenv("RN_TP_DATE");
}

static void test_substituted_errors(void **state)
{
    (void)state;
    setenv("RN_TP_K", SECRET, 1);
    setenv("RN_TP_OP", "no_such_op_" "s3cr3t", 1);
    setenv("RN_TP_DIR", "/nonexistent/" SECRET, 1);
    setenv("RN_TP_MODE", "x" SECRET, 1);

    build_err("source: {range: {n: 3}}\nsteps:\n"
              "  - topk: {k: \"${RN_TP_K}\"}\n",
              RN_ETYPE,
              "p.yaml:3:15: agg.topk: k: expected int, got string "
              "'${RN_TP_K}'");
    build_err("source: {range: {n: 3}}\nsteps:\n"
              "  - topk:\n      k: 1${RN_TP_K}\n",
              RN_ETYPE,
              "p.yaml:4:10: agg.topk: k: expected int, got string "
              "'1${RN_TP_K}'");
    build_err("source:\n  read_text:\n    urls: a\n"
              "    compression: ${RN_TP_MODE}\n",
              RN_EINVAL,
              "p.yaml:4:18: textio.read_text: compression: '${RN_TP_MODE}' "
              "is not one of: infer, none, gzip, bz2, xz, zstd, lz4");
    build_err("source: {range: {n: 3}}\nsteps:\n  - ${RN_TP_OP}\n",
              RN_ENOTFOUND, "p.yaml:3:5: unknown operator '${RN_TP_OP}'");
    build_err("source: {range: {n: 3}}\nsteps:\n"
              "  - split: {\"${RN_TP_K}\": 1}\n",
              RN_EINVAL,
              "p.yaml:3:13: text.split: unknown parameter '${RN_TP_K}' "
              "(expected sep, lower)");
    {
        /* the loader's message names the file: the path as written */
        rn_manifest *m = NULL;
        rn_plan *p = NULL;
        rn_errbuf err = {0};
        const char *t = "plugins: [\"${RN_TP_DIR}/libx.so\"]\n"
                        "source: {range: {n: 3}}\n";
        assert_int_equal(rn_manifest_parse("p.yaml", t, strlen(t), &m, &err),
                         0);
        assert_int_not_equal(rn_plan_build(m, reg, &p, &err), 0);
        assert_no_secret(err.msg);
        assert_non_null(strstr(err.msg, "p.yaml:1:11: plugin "
                                        "${RN_TP_DIR}/libx.so"));
        rn_manifest_free(m);
    }
    unsetenv("RN_TP_K");
    unsetenv("RN_TP_OP");
    unsetenv("RN_TP_DIR");
    unsetenv("RN_TP_MODE");
}

/* A plugin's init error that quotes its parameter (grep: "bad regex
 * \"...\"") is cleaned by the plan. */
static void test_init_error_redacted(void **state)
{
    rn_manifest *m = NULL;
    rn_plan *p;
    rn_errbuf err = {0};
    (void)state;

    setenv("RN_TP_PAT", "(" SECRET, 1);
    p = build_ok("source: {range: {n: 3}}\nsteps:\n"
                 "  - grep: {pattern: \"a${RN_TP_PAT}\", regex: true}\n",
                 &m);
    assert_int_not_equal(rn_plan_init_ops(p, &err), 0);
    assert_no_secret(err.msg);
    assert_non_null(strstr(err.msg, "p.yaml:3:5: text.grep: bad regex "
                                    "\"a${RN_TP_PAT}\""));
    rn_plan_free(p);
    rn_manifest_free(m);
    unsetenv("RN_TP_PAT");
}

/* ---- cost linear in the number of steps ----------------------------- */

/* A manifest of n steps: narrow steps with and without parameters, and
 * a fold now and then (so there are several stages). */
static char *many_steps(size_t n, int folds)
{
    rn_buf b;
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "name: many\nsource: {from_sequence: {items: [Ab, "
                    "\"c D\"]}}\nsteps:\n");
    for (size_t i = 0; i < n; i++) {
        if (folds && i % 500 == 499)
            rn_buf_puts(&b, "  - distinct\n");
        else if (!folds)
            rn_buf_puts(&b, "  - lower\n");
        else if (i % 4 == 0)
            rn_buf_puts(&b, "  - lower\n");
        else if (i % 4 == 1)
            rn_buf_printf(&b, "  - grep: {pattern: \"%zu\", invert: true}\n",
                          i);
        else if (i % 4 == 2)
            rn_buf_puts(&b, "  - strip: {chars: \" x\"}\n");
        else
            rn_buf_puts(&b, "  - split: {sep: \" \", lower: true}\n");
    }
    return rn_buf_detach(&b, NULL);
}

typedef struct cost {
    size_t peak;
    uint64_t total;
} cost;

/* What parsing, building, describing (`runnel lint`) and freeing a
 * manifest of n steps costs the allocator. */
static cost lint_cost(size_t n, int folds)
{
    char *text = many_steps(n, folds);
    size_t base;
    uint64_t t0;
    rn_manifest *m = NULL;
    rn_plan *p = NULL;
    rn_errbuf err = {0};
    rn_buf out;
    cost c;

    base = rn_alloc_in_use();
    rn_alloc_peak_reset();
    t0 = rn_alloc_total();
    if (rn_manifest_parse("many.yaml", text, strlen(text), &m, &err) ||
        rn_plan_build(m, reg, &p, &err))
        fail_msg("%zu steps: %s", n, err.msg);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_plan_describe(p, &out), 0);
    assert_non_null(strstr(out.ptr, "pipeline many: "));
    rn_buf_release(&out);
    rn_plan_free(p);
    rn_manifest_free(m);
    c.peak = rn_alloc_peak() - base;
    c.total = rn_alloc_total() - t0;
    assert_int_equal(rn_alloc_in_use(), base);
    rn_free(text);
    return c;
}

static void assert_linear(size_t n, int folds)
{
    cost c1 = lint_cost(n, folds), c4 = lint_cost(4 * n, folds);
    double rp = (double)c4.peak / (double)c1.peak;
    double rt = (double)c4.total / (double)c1.total;
    print_message("%zu -> %zu steps: peak %zu -> %zu bytes (x%.2f), "
                  "allocated %llu -> %llu (x%.2f)\n",
                  n, 4 * n, c1.peak, c4.peak, rp,
                  (unsigned long long)c1.total,
                  (unsigned long long)c4.total, rt);
    assert_true(rp <= 4.5);
    assert_true(rt <= 4.5);
}

static void test_build_linear(void **state)
{
    (void)state;
    assert_linear(2000, 0); /* one chain of maps */
    assert_linear(2000, 1); /* filters, flat_maps, params, folds */
}

/* `runnel lint` of the largest manifest allowed; one more step is
 * refused before any plan is built. */
static void test_lint_max_steps(void **state)
{
    char *text = many_steps(RN_MANIFEST_MAX_STEPS, 1);
    rn_manifest *m = NULL;
    rn_plan *p = NULL;
    rn_errbuf err = {0};
    rn_buf out;
    (void)state;

    assert_int_equal(rn_manifest_parse("max.yaml", text, strlen(text), &m,
                                       &err),
                     0);
    assert_int_equal(rn_plan_build(m, reg, &p, &err), 0);
    assert_int_equal(p->n_ops, RN_MANIFEST_MAX_STEPS + 1);
    rn_buf_init(&out, 0);
    assert_int_equal(rn_plan_describe(p, &out), 0);
    if (!strstr(out.ptr, "pipeline many: 20 stages\n"))
        fail_msg("%.200s", out.ptr);
    rn_buf_release(&out);
    rn_plan_free(p);
    rn_manifest_free(m);
    rn_free(text);

    text = many_steps(RN_MANIFEST_MAX_STEPS + 1, 1);
    assert_int_equal(rn_manifest_parse("max.yaml", text, strlen(text), &m,
                                       &err),
                     RN_ELIMIT);
    assert_string_equal(err.msg, "max.yaml:10004:5: steps: more than 10000 "
                                 "steps (the limit)");
    rn_free(text);
}

/* A task of a chain of the most steps allowed: correct, and its buffers
 * bounded (a 512-value batch per operator was 80 MiB per task). */
static void test_run_max_steps(void **state)
{
    char *text = many_steps(RN_MANIFEST_MAX_STEPS, 0);
    rn_manifest *m = NULL;
    rn_plan *p = NULL;
    rn_errbuf err = {0};
    rn_run_opts opts = {.threads = 1};
    rn_run_result res;
    rn_buf b;
    size_t base;
    (void)state;

    assert_int_equal(rn_manifest_parse("run.yaml", text, strlen(text), &m,
                                       &err),
                     0);
    assert_int_equal(rn_plan_build(m, reg, &p, &err), 0);
    assert_int_equal(rn_plan_init_ops(p, &err), 0);
    base = rn_alloc_in_use();
    rn_alloc_peak_reset();
    if (rn_local_run(p, &opts, &res, &err))
        fail_msg("%s", err.msg);
    print_message("a task of %d steps: %zu bytes at the peak\n",
                  RN_MANIFEST_MAX_STEPS, rn_alloc_peak() - base);
    assert_true(rn_alloc_peak() - base < ((size_t)16 << 20));
    rn_buf_init(&b, 0);
    for (size_t i = 0; i < res.n_parts; i++)
        for (size_t k = 0; k < res.parts[i]->n; k++) {
            rn_value_to_json(&b, &res.parts[i]->items[k]);
            rn_buf_putc(&b, ' ');
        }
    assert_string_equal(b.ptr, "\"ab\" \"c d\" ");
    rn_buf_release(&b);
    rn_run_result_release(&res);
    rn_plan_free(p);
    rn_manifest_free(m);
    rn_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stages),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_display_name),
        cmocka_unit_test(test_substituted_errors),
        cmocka_unit_test(test_init_error_redacted),
        cmocka_unit_test(test_build_linear),
        cmocka_unit_test(test_lint_max_steps),
        cmocka_unit_test(test_run_max_steps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
