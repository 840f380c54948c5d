/* Manifests with datasets and outputs: the shape (kinds, inputs, steps,
 * outputs with and without a sink) and every shape error with its exact
 * file:line:col. Which names exist and cycles are the planner's
 * (tests/unit/plan/test_graph.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "manifest/manifest.h"

static rn_manifest *parse_ok(const char *text)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    int rc = rn_manifest_parse("d.yaml", text, strlen(text), &m, &err);
    if (rc)
        fail_msg("unexpected error: %s", err.msg);
    return m;
}

static void parse_err(const char *text, int code, const char *msg)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    int rc = rn_manifest_parse("d.yaml", text, strlen(text), &m, &err);
    assert_null(m);
    if (rc != code || strcmp(err.msg, msg) != 0)
        fail_msg("got %d '%s'\nwant %d '%s'", rc, err.msg, code, msg);
}

static void assert_pos(rn_mpos p, unsigned line, unsigned col)
{
    if (p.line != line || p.col != col)
        fail_msg("at %u:%u, wanted %u:%u", p.line, p.col, line, col);
}

static void test_shape(void **state)
{
    rn_manifest *m;
    (void)state;
    m = parse_ok("name: report\n"
                 "datasets:\n"
                 "  logs: {source: {range: {n: 5}}, steps: [lower]}\n"
                 "  users:\n"
                 "    source: range\n"
                 "  big: {from: logs, steps: [{grep: {pattern: x}}, count]}\n"
                 "  both: {concat: [logs, users]}\n"
                 "  pairs: {zip: [logs, users]}\n"
                 "  joined:\n"
                 "    from: logs\n"
                 "    steps:\n"
                 "      - join: {with: users, key: user}\n"
                 "outputs:\n"
                 "  - joined\n"
                 "  - {dataset: both, sink: {to_textfiles: {path: o}}}\n"
                 "  - {dataset: big}\n");
    assert_string_equal(m->name, "report");
    assert_null(m->source.op);
    assert_int_equal(m->n_steps, 0);
    assert_int_equal(m->n_datasets, 6);
    assert_string_equal(m->datasets[0].name.name, "logs");
    assert_pos(m->datasets[0].name.pos, 3, 3);
    assert_int_equal(m->datasets[0].kind, RN_MDS_SOURCE);
    assert_string_equal(m->datasets[0].source.op, "range");
    assert_int_equal(m->datasets[0].n_steps, 1);
    assert_string_equal(m->datasets[0].steps[0].op, "lower");
    assert_int_equal(m->datasets[1].kind, RN_MDS_SOURCE);
    assert_pos(m->datasets[1].kind_pos, 5, 5);
    assert_null(m->datasets[1].source.params);
    assert_int_equal(m->datasets[2].kind, RN_MDS_FROM);
    assert_int_equal(m->datasets[2].n_inputs, 1);
    assert_string_equal(m->datasets[2].inputs[0].name, "logs");
    assert_pos(m->datasets[2].inputs[0].pos, 6, 15);
    assert_int_equal(m->datasets[2].n_steps, 2);
    assert_int_equal(m->datasets[3].kind, RN_MDS_CONCAT);
    assert_int_equal(m->datasets[3].n_inputs, 2);
    assert_string_equal(m->datasets[3].inputs[1].name, "users");
    assert_int_equal(m->datasets[4].kind, RN_MDS_ZIP);
    assert_int_equal(m->datasets[5].n_steps, 1);
    assert_string_equal(m->datasets[5].steps[0].op, "join");
    assert_pos(m->datasets[5].steps[0].pos, 12, 9);
    assert_int_equal(m->n_outputs, 3);
    assert_string_equal(m->outputs[0].dataset.name, "joined");
    assert_false(m->outputs[0].has_sink);
    assert_string_equal(m->outputs[1].dataset.name, "both");
    assert_true(m->outputs[1].has_sink);
    assert_string_equal(m->outputs[1].sink.op, "to_textfiles");
    assert_pos(m->outputs[1].pos, 15, 5);
    assert_string_equal(m->outputs[2].dataset.name, "big");
    assert_false(m->outputs[2].has_sink);
    rn_manifest_free(m);
}

static void test_shape_errors(void **state)
{
    (void)state;
    parse_err("source: range\ndatasets: {a: {source: range}}\noutputs: [a]\n",
              RN_EINVAL,
              "d.yaml:1:1: 'source' cannot be used with `datasets` and "
              "`outputs`: write the pipeline as a dataset (a source and "
              "steps) and its sink in `outputs`");
    parse_err("datasets: {a: {source: range}}\nsink: to_textfiles\n"
              "outputs: [a]\n",
              RN_EINVAL,
              "d.yaml:2:1: 'sink' cannot be used with `datasets` and "
              "`outputs`: write the pipeline as a dataset (a source and "
              "steps) and its sink in `outputs`");
    parse_err("datasets: {a: {source: range}}\n", RN_EINVAL,
              "d.yaml:1:1: `datasets` needs `outputs` (a list of the "
              "datasets to print or write)");
    parse_err("name: x\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:1: `outputs` needs `datasets` (the datasets it "
              "names)");
    parse_err("datasets: []\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:1:11: datasets: expected a mapping from dataset "
              "names to datasets, got a list");
    parse_err("datasets: {}\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:1:11: datasets: expected a mapping from dataset "
              "names to datasets, got an empty mapping");
    parse_err("datasets:\n  a: {steps: [lower]}\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:3: dataset 'a': needs one of source, from, concat "
              "or zip");
    parse_err("datasets:\n  a: {source: range, from: b}\noutputs: [a]\n",
              RN_EINVAL,
              "d.yaml:2:22: dataset 'a': 'source' and 'from' exclude each "
              "other (a dataset has one of source, from, concat, zip)");
    parse_err("datasets:\n  a: {source: range, sink: to_textfiles}\n"
              "outputs: [a]\n",
              RN_EINVAL,
              "d.yaml:2:22: dataset 'a': a dataset has no sink: write it "
              "in `outputs` as {dataset: a, sink: ...}");
    parse_err("datasets:\n  a: {source: range, stepz: []}\noutputs: [a]\n",
              RN_EINVAL,
              "d.yaml:2:22: dataset 'a': unknown key 'stepz' (expected one "
              "of source, from, concat, zip, and steps)");
    parse_err("datasets:\n  a: range\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:6: dataset 'a': expected a mapping with one of "
              "source, from, concat, zip and optional steps, got string "
              "'range'");
    parse_err("datasets:\n  1a: {source: range}\noutputs: [1a]\n", RN_EINVAL,
              "d.yaml:2:3: datasets: invalid dataset name '1a' (expected "
              "letters, digits, '_' and '-', starting with a letter or "
              "'_', at most 64 bytes)");
    parse_err("datasets:\n  a: {from: [b]}\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:13: from: expected a dataset name, got a list");
    parse_err("datasets:\n  a: {zip: [b]}\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:12: zip: expected a list of two or more dataset "
              "names, got one");
    parse_err("datasets:\n  a: {concat: []}\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:15: concat: expected a list of one or more dataset "
              "names, got an empty list");
    parse_err("datasets:\n  a: {concat: b}\noutputs: [a]\n", RN_EINVAL,
              "d.yaml:2:15: concat: expected a list of one or more dataset "
              "names, got string 'b'");
    parse_err("datasets:\n  a: {source: range, steps: [{a: 1, b: 2}]}\n"
              "outputs: [a]\n",
              RN_EINVAL,
              "d.yaml:2:30: step: expected an operator name or a one-key "
              "map from operator name to parameters, got a mapping with 2 "
              "keys (indent the parameters under the operator name)");
    parse_err("datasets: {a: {source: range}}\noutputs: []\n", RN_EINVAL,
              "d.yaml:2:10: outputs: expected a list of datasets to print "
              "or write, got an empty list");
    parse_err("datasets: {a: {source: range}}\noutputs: a\n", RN_EINVAL,
              "d.yaml:2:10: outputs: expected a list of datasets to print "
              "or write, got string 'a'");
    parse_err("datasets: {a: {source: range}}\noutputs: [{sink: x}]\n",
              RN_EINVAL,
              "d.yaml:2:11: outputs: missing key 'dataset' (the dataset "
              "to print or write)");
    parse_err("datasets: {a: {source: range}}\n"
              "outputs: [{dataset: a, to: x}]\n",
              RN_EINVAL,
              "d.yaml:2:24: outputs: unknown key 'to' (expected dataset "
              "and an optional sink)");
    parse_err("datasets: {a: {source: range}}\noutputs: [[a]]\n", RN_EINVAL,
              "d.yaml:2:11: outputs: expected a dataset name or {dataset: "
              "NAME, sink: ...}, got a list");
}

/* Every dataset's steps count against the one bound on steps. */
static void test_steps_bound(void **state)
{
    char *text;
    size_t cap = 64 + (size_t)RN_MANIFEST_MAX_STEPS * 8, n = 0;
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;
    text = test_malloc(cap);
    n += (size_t)snprintf(text + n, cap - n,
                          "datasets:\n  a: {source: range, steps: [");
    for (int i = 0; i < RN_MANIFEST_MAX_STEPS / 2 + 1; i++)
        n += (size_t)snprintf(text + n, cap - n, "%slower", i ? "," : "");
    n += (size_t)snprintf(text + n, cap - n,
                          "]}\n  b: {from: a, steps: [");
    for (int i = 0; i < RN_MANIFEST_MAX_STEPS / 2; i++)
        n += (size_t)snprintf(text + n, cap - n, "%slower", i ? "," : "");
    n += (size_t)snprintf(text + n, cap - n, "]}\noutputs: [b]\n");
    assert_int_equal(rn_manifest_parse("d.yaml", text, n, &m, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "more than 10000 steps"));
    test_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_steps_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
