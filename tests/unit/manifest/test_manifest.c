/* Manifest parsing: the spec's example, env substitution, every error with
 * its exact file:line:col, limits and allocation failures. */
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
#include "value/value.h"

#define DATA RN_TEST_DATA_DIR "/manifests/"

static rn_manifest *parse_ok(const char *text)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    int rc = rn_manifest_parse("m.yaml", text, strlen(text), &m, &err);
    if (rc)
        print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(m);
    return m;
}

/* Parses text, expects failure with `code` and exactly `msg`. */
static void parse_err(const char *text, int code, const char *msg)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    int rc = rn_manifest_parse("m.yaml", text, strlen(text), &m, &err);
    assert_null(m);
    if (rc != code || strcmp(err.msg, msg) != 0)
        print_error("got %d '%s'\nwant %d '%s'\n", rc, err.msg, code, msg);
    assert_int_equal(rc, code);
    assert_string_equal(err.msg, msg);
}

static void assert_pos(rn_mpos p, unsigned line, unsigned col)
{
    assert_int_equal(p.line, line);
    assert_int_equal(p.col, col);
}

/* The JSON of a node, for compact structural checks. */
static void assert_node_json(const rn_mnode *n, const char *json)
{
    rn_arena a;
    rn_buf b;
    rn_value v;
    rn_errbuf err = {0};
    rn_arena_init(&a, 0);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_mnode_to_value(&a, n, &v, &err), 0);
    assert_int_equal(rn_value_to_json(&b, &v), 0);
    assert_string_equal(b.ptr, json);
    rn_buf_release(&b);
    rn_arena_release(&a);
}

static const rn_mnode *map_get(const rn_mnode *m, const char *key)
{
    assert_int_equal(m->type, RN_MN_MAP);
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i]->text, key) == 0)
            return m->items[i];
    return NULL;
}

/* ---- the spec's example -------------------------------------------- */

static void test_spec_example(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    const rn_mnode *p;
    (void)state;

    assert_int_equal(rn_manifest_load(DATA "wordcount.yaml", &m, &err), 0);
    assert_string_equal(m->name, "wordcount");
    assert_string_equal(m->file, DATA "wordcount.yaml");
    assert_int_equal(m->n_plugins, 1);
    assert_string_equal(m->plugins[0], "examples/wordcount/build/libwords.so");
    assert_pos(m->plugin_pos[0], 3, 5);
    assert_string_equal(m->plugin_pos[0].file, DATA "wordcount.yaml");

    assert_string_equal(m->source.op, "read_text");
    assert_pos(m->source.pos, 5, 3);
    p = m->source.params;
    assert_non_null(p);
    assert_int_equal(p->type, RN_MN_MAP);
    assert_int_equal(p->n, 2);
    assert_pos(p->pos, 6, 5);
    assert_node_json(map_get(p, "urls"),
                     "[\"s3://corpus/books/*.txt.gz\", \"data/extra.txt\"]");
    assert_string_equal(map_get(p, "blocksize")->text, "64MiB");
    assert_pos(map_get(p, "blocksize")->pos, 7, 16);

    assert_int_equal(m->n_steps, 3);
    assert_string_equal(m->steps[0].op, "words.split");
    assert_pos(m->steps[0].pos, 9, 5);
    assert_node_json(m->steps[0].params, "{\"lower\": true}");
    assert_string_equal(m->steps[1].op, "frequencies");
    assert_pos(m->steps[1].pos, 10, 5);
    assert_null(m->steps[1].params);
    assert_string_equal(m->steps[2].op, "topk");
    assert_pos(m->steps[2].pos, 11, 5);
    assert_node_json(m->steps[2].params, "{\"k\": 10, \"key\": 1}");
    assert_pos(m->steps[2].params->pos, 11, 11);
    assert_false(m->has_sink);
    rn_manifest_free(m);
}

static void test_full_manifest(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;

    setenv("RN_TEST_ENV", "prod", 1);
    unsetenv("RN_TEST_INPUT");
    assert_int_equal(rn_manifest_load(DATA "full.yaml", &m, &err), 0);
    assert_string_equal(m->name, "logs-prod");
    assert_int_equal(m->n_plugins, 2);
    assert_string_equal(m->plugins[0], "sha256:0123456789abcdef0123456789ab"
                                       "cdef0123456789abcdef0123456789abcdef");
    assert_pos(m->plugin_pos[1], 5, 5);
    assert_string_equal(m->source.op, "read_text");
    assert_pos(m->source.pos, 6, 10);
    assert_node_json(m->source.params, "{\"urls\": \"data/logs.jsonl\"}");
    assert_int_equal(m->n_steps, 3);
    assert_string_equal(m->steps[0].op, "json_parse");
    assert_null(m->steps[0].params);
    assert_node_json(m->steps[1].params,
                     "{\"pattern\": \"ERROR\", \"invert\": false}");
    assert_true(m->has_sink);
    assert_string_equal(m->sink.op, "to_textfiles");
    assert_pos(m->sink.pos, 14, 3);
    assert_node_json(m->sink.params, "{\"path\": \"out/part-*.txt.gz\"}");
    rn_manifest_free(m);
    unsetenv("RN_TEST_ENV");
}

static void test_minimal_and_defaults(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;

    assert_int_equal(rn_manifest_load(DATA "minimal.yaml", &m, &err), 0);
    assert_string_equal(m->name, "minimal"); /* from the file name */
    assert_int_equal(m->n_plugins, 0);
    assert_int_equal(m->n_steps, 0);
    assert_string_equal(m->source.op, "range");
    assert_null(m->source.params);
    rn_manifest_free(m);

    m = parse_ok("source: {range: {n: 5}}\nsteps:\nplugins: ~\n"
                 "sink: {to_textfiles: ~}\n");
    assert_string_equal(m->name, "m");
    assert_int_equal(m->n_steps, 0);
    assert_true(m->has_sink);
    assert_null(m->sink.params);
    assert_node_json(m->source.params, "{\"n\": 5}");
    rn_manifest_free(m);

    m = parse_ok("source: range\nsteps: [count, {topk: {k: 3}}, "
                 "\"frequencies\"]\n");
    assert_int_equal(m->n_steps, 3);
    assert_string_equal(m->steps[2].op, "frequencies");
    assert_pos(m->steps[1].pos, 2, 17);
    rn_manifest_free(m);
    rn_manifest_free(NULL);
}

/* ---- environment substitution -------------------------------------- */

static rn_arena subst_arena;

static const char *subst1(const char *yaml_value, rn_mnode **node)
{
    rn_errbuf err = {0};
    rn_mnode *n = NULL;
    int rc = rn_mnode_parse(&subst_arena, "v", yaml_value, strlen(yaml_value), &n, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n->type, RN_MN_SCALAR);
    if (node)
        *node = n;
    return n->text;
}

static void test_env_substitution(void **state)
{
    rn_mnode *n;
    rn_value v;
    (void)state;

    setenv("RN_T_A", "alpha", 1);
    setenv("RN_T_EMPTY", "", 1);
    setenv("RN_T_K", "10", 1);
    unsetenv("RN_T_UNSET");
    rn_arena_init(&subst_arena, 0);

    assert_string_equal(subst1("${RN_T_A}", NULL), "alpha");
    assert_string_equal(subst1("x-${RN_T_A}-${RN_T_A}y", NULL),
                        "x-alpha-alphay");
    assert_string_equal(subst1("${RN_T_UNSET:-dflt}", NULL), "dflt");
    assert_string_equal(subst1("${RN_T_EMPTY:-dflt}", NULL), "dflt");
    assert_string_equal(subst1("${RN_T_A:-dflt}", NULL), "alpha");
    assert_string_equal(subst1("${RN_T_UNSET:-}", NULL), "");
    assert_string_equal(subst1("'${RN_T_UNSET:-a b: c}'", NULL), "a b: c");
    assert_string_equal(subst1("${RN_T_EMPTY}", NULL), "");
    /* the escape, and '$' elsewhere kept as written */
    assert_string_equal(subst1("$${RN_T_A}", NULL), "${RN_T_A}");
    assert_string_equal(subst1("\"$$ a$b 100$ $\"", NULL), "$$ a$b 100$ $");
    /* in quoted scalars too; typing is decided by the quoting */
    assert_string_equal(subst1("\"${RN_T_K}\"", &n), "10");
    assert_int_equal(rn_mnode_scalar_value(n, &v), 0);
    assert_int_equal(v.kind, RN_STRING);
    assert_string_equal(subst1("${RN_T_K}", &n), "10");
    assert_int_equal(rn_mnode_scalar_value(n, &v), 0);
    assert_int_equal(v.kind, RN_INT);
    assert_int_equal(v.u.i, 10);
    assert_true(n->subst);
    assert_false(subst1("plain", &n) && n->subst);
    rn_arena_release(&subst_arena);

    /* keys are substituted too */
    rn_manifest *m = parse_ok("source:\n  ${RN_T_OP:-range}:\n    n: ${RN_T_K}\n");
    assert_string_equal(m->source.op, "range");
    assert_node_json(m->source.params, "{\"n\": 10}");
    rn_manifest_free(m);

    parse_err("source: range\nname: x-${RN_T_UNSET}\n", RN_EINVAL,
              "m.yaml:2:7: environment variable 'RN_T_UNSET' is not set "
              "(write ${RN_T_UNSET:-default} to give a default)");
    parse_err("source: range\nname: \"${RN_T_A\"\n", RN_EINVAL,
              "m.yaml:2:7: unterminated '${RN_T_A' (missing '}')");
    parse_err("source: range\nname: \"${RN_T_A:-x\"\n", RN_EINVAL,
              "m.yaml:2:7: unterminated '${RN_T_A:-' (missing '}')");
    parse_err("source: range\nname: ${1X}\n", RN_EINVAL,
              "m.yaml:2:7: invalid variable name in '${1X}' (expected "
              "${NAME} or ${NAME:-default}, NAME made of letters, digits "
              "and '_'; write $${ for a literal ${)");
    parse_err("source: range\nname: ${RN_T_A-x}\n", RN_EINVAL,
              "m.yaml:2:7: unsupported expansion '${RN_T_A-x}' (expected "
              "${RN_T_A} or ${RN_T_A:-default})");

    assert_int_equal(rn_manifest_parse("bad_env.yaml", "", 0, &m, NULL),
                     RN_EINVAL); /* NULL errbuf is fine */
    {
        rn_errbuf err = {0};
        const char *want = "bad_env.yaml:4:11: environment variable "
                           "'RN_TEST_SURELY_UNSET_VAR' is not set";
        assert_int_equal(rn_manifest_load(DATA "bad_env.yaml", &m, &err),
                         RN_EINVAL);
        assert_non_null(strstr(err.msg, want));
    }
    unsetenv("RN_T_A");
    unsetenv("RN_T_EMPTY");
    unsetenv("RN_T_K");
}

/* ---- errors, each at its exact position ---------------------------- */

/* Loads a data file; expects its message after the path to be `msg`. */
static void load_err(const char *file, int code, const char *msg)
{
    char path[512];
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    snprintf(path, sizeof(path), DATA "%s", file);
    assert_int_equal(rn_manifest_load(path, &m, &err), code);
    assert_null(m);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    if (strcmp(err.msg + strlen(path), msg) != 0)
        print_error("got '%s'\nwant '%s'\n", err.msg + strlen(path), msg);
    assert_string_equal(err.msg + strlen(path), msg);
}

static void test_error_files(void **state)
{
    (void)state;
    load_err("bad_unknown_key.yaml", RN_EINVAL,
             ":2:1: unknown key 'sorce' (expected name, plugins, source, "
             "steps, sink, datasets, outputs)");
    load_err("bad_missing_source.yaml", RN_EINVAL,
             ":1:1: missing required key 'source'");
    load_err("bad_syntax.yaml", RN_EFORMAT,
             ":3:26: did not find expected ',' or ']' (while parsing a flow "
             "sequence at 3:21)");
    load_err("bad_duplicate.yaml", RN_EINVAL,
             ":5:1: duplicate key 'steps' (first at 3:1)");
    load_err("bad_step_two_keys.yaml", RN_EINVAL,
             ":3:5: step: expected an operator name or a one-key map from "
             "operator name to parameters, got a mapping with 2 keys "
             "(indent the parameters under the operator name)");
    load_err("bad_plugin_id.yaml", RN_EINVAL,
             ":2:5: plugins: invalid plugin id 'sha256:abc' (expected "
             "sha256: and 64 lower-case hex digits)");
}

static void test_schema_errors(void **state)
{
    (void)state;
    parse_err("", RN_EINVAL,
              "m.yaml:1:1: the manifest is empty (expected a mapping with "
              "keys name, plugins, source, steps, sink, datasets, "
              "outputs)");
    parse_err("# only a comment\n", RN_EINVAL,
              "m.yaml:1:1: the manifest is empty (expected a mapping with "
              "keys name, plugins, source, steps, sink, datasets, "
              "outputs)");
    parse_err("- a\n- b\n", RN_EINVAL,
              "m.yaml:1:1: the manifest must be a mapping with keys name, "
              "plugins, source, steps, sink, datasets, outputs; got a "
              "list");
    parse_err("# comment\n\nname: x\n", RN_EINVAL,
              "m.yaml:3:1: missing required key 'source'");
    parse_err("source: range\nname: [a]\n", RN_EINVAL,
              "m.yaml:2:7: name: expected a non-empty string, got a list");
    parse_err("source: range\nname: ''\n", RN_EINVAL,
              "m.yaml:2:7: name: expected a non-empty string, got an empty "
              "string");
    parse_err("source: range\nplugins: lib.so\n", RN_EINVAL,
              "m.yaml:2:10: plugins: expected a list of plugin paths or "
              "sha256: ids, got string 'lib.so'");
    parse_err("source: range\nplugins: [a.so, {x: 1}]\n", RN_EINVAL,
              "m.yaml:2:17: plugins: expected a plugin path or sha256: id, "
              "got a mapping");
    parse_err("source: range\nplugins: [\"sha256:0123456789ABCDEF0123456789"
              "abcdef0123456789abcdef0123456789abcdef\"]\n",
              RN_EINVAL,
              "m.yaml:2:11: plugins: invalid plugin id 'sha256:0123456789"
              "ABCDEF0123456789abcdef012345678...' (expected sha256: and 64 "
              "lower-case hex digits)");
    parse_err("source: range\nplugins: [\"a\\0b\"]\n", RN_EINVAL,
              "m.yaml:2:11: plugins: a path cannot contain NUL");
    parse_err("source:\n", RN_EINVAL,
              "m.yaml:1:8: source: expected an operator name or a one-key "
              "map from operator name to parameters, got null");
    parse_err("source: [a]\n", RN_EINVAL,
              "m.yaml:1:9: source: expected an operator name or a one-key "
              "map from operator name to parameters, got a list");
    parse_err("source: {}\n", RN_EINVAL,
              "m.yaml:1:9: source: expected an operator name or a one-key "
              "map from operator name to parameters, got a mapping with 0 "
              "keys");
    parse_err("source: Read-Text\n", RN_EINVAL,
              "m.yaml:1:9: source: invalid operator name 'Read-Text' "
              "(expected op or plugin.op, made of a-z, 0-9 and '_')");
    parse_err("source: a.b.c\n", RN_EINVAL,
              "m.yaml:1:9: source: invalid operator name 'a.b.c' (expected "
              "op or plugin.op, made of a-z, 0-9 and '_')");
    /* `source: {read_text: [a]}` parses: a bare value is bound to the
     * operator's one required parameter when the plan binds it */
    parse_err("source: range\nsteps: count\n", RN_EINVAL,
              "m.yaml:2:8: steps: expected a list of operators, got string "
              "'count'");
    parse_err("source: range\nsteps:\n  - count\n  -\n", RN_EINVAL,
              "m.yaml:4:4: step: expected an operator name or a one-key map "
              "from operator name to parameters, got null");
    parse_err("source: range\nsteps:\n  - [count]\n", RN_EINVAL,
              "m.yaml:3:5: step: expected an operator name or a one-key map "
              "from operator name to parameters, got a list");
    parse_err("source: range\nsink: 7\n", RN_EINVAL,
              "m.yaml:2:7: sink: invalid operator name '7' (expected op or "
              "plugin.op, made of a-z, 0-9 and '_')");
}

static void test_yaml_errors(void **state)
{
    (void)state;
    parse_err("source: range\nsteps: [a\n", RN_EFORMAT,
              "m.yaml:3:1: did not find expected ',' or ']' (while parsing "
              "a flow sequence at 2:8)");
    parse_err("source: range\n  bad: indent\n", RN_EFORMAT,
              "m.yaml:2:6: mapping values are not allowed in this context");
    parse_err("source: \"range\n", RN_EFORMAT,
              "m.yaml:2:1: found unexpected end of stream (while scanning a "
              "quoted scalar at 1:9)");
    parse_err("source: range\nname: \"a\xff\"\n", RN_EFORMAT,
              "m.yaml:2:9: invalid leading UTF-8 octet (#FF)");
    parse_err("source: range\nname: a\tb\x01\n", RN_EFORMAT,
              "m.yaml:2:10: control characters are not allowed (#1)");
    {
        const char text[] = "source: range\nname: a\0b\n";
        rn_manifest *m = NULL;
        rn_errbuf err = {0};
        assert_int_equal(rn_manifest_parse("m.yaml", text, sizeof(text) - 1,
                                           &m, &err),
                         RN_EFORMAT);
        assert_string_equal(err.msg, "m.yaml:2:8: control characters are "
                                     "not allowed (#0)");
    }
    parse_err("source: range\nname: &a x\nsteps: [*a]\n", RN_EINVAL,
              "m.yaml:3:9: YAML aliases (*name) are not supported");
    parse_err("source: !!int range\n", RN_EINVAL,
              "m.yaml:1:9: unsupported YAML tag 'tag:yaml.org,2002:int' "
              "(only !!str and !file are understood)");
    parse_err("source: !foo {a: 1}\n", RN_EINVAL,
              "m.yaml:1:9: unsupported YAML tag '!foo'");
    parse_err("source: range\n---\nsource: range\n", RN_EINVAL,
              "m.yaml:2:1: expected a single YAML document, found another "
              "one");
    parse_err("source: range\n? [a, b]\n: c\n", RN_EINVAL,
              "m.yaml:2:3: mapping keys must be scalars");
    parse_err("source: range\nsteps: [{a: 1, b: 2, a: 3}]\n", RN_EINVAL,
              "m.yaml:2:22: duplicate key 'a' (first at 2:10)");
    parse_err("source: {r: {\"x\": 1, x: 2}}\n", RN_EINVAL,
              "m.yaml:1:22: duplicate key 'x' (first at 1:14)");
}

static void test_big_map_duplicates(void **state)
{
    rn_buf b;
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;

    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "source: {r: {");
    for (int i = 0; i < 1000; i++)
        rn_buf_printf(&b, "k%d: %d, ", i, i);
    rn_buf_puts(&b, "}}\n");
    assert_int_equal(rn_manifest_parse("m.yaml", b.ptr, b.len, &m, &err), 0);
    assert_int_equal(m->source.params->n, 1000);
    rn_manifest_free(m);

    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: {r: {");
    for (int i = 0; i < 1000; i++)
        rn_buf_printf(&b, "k%d: %d, ", i, i);
    rn_buf_puts(&b, "k500: 1, k3: 2, k500: 3}}\n"); /* the first dup wins */
    assert_int_equal(rn_manifest_parse("m.yaml", b.ptr, b.len, &m, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate key 'k500' (first at 1:"));
    rn_buf_release(&b);
}

static void test_limits(void **state)
{
    rn_buf b;
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    char *big;
    (void)state;

    /* nesting: 63 levels inside the root mapping is fine, 64 is not */
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "source: {r: {x: ");
    for (int i = 0; i < RN_MANIFEST_MAX_DEPTH - 3; i++)
        rn_buf_putc(&b, '[');
    for (int i = 0; i < RN_MANIFEST_MAX_DEPTH - 3; i++)
        rn_buf_putc(&b, ']');
    rn_buf_puts(&b, "}}\n");
    assert_int_equal(rn_manifest_parse("m.yaml", b.ptr, b.len, &m, &err), 0);
    rn_manifest_free(m);
    rn_buf_reset(&b);
    rn_buf_puts(&b, "source: {r: {x: ");
    for (int i = 0; i < 100000; i++)
        rn_buf_putc(&b, '[');
    assert_int_equal(rn_manifest_parse("m.yaml", b.ptr, b.len, &m, &err),
                     RN_ELIMIT);
    assert_string_equal(err.msg, "m.yaml:1:78: nesting deeper than 64 levels");
    rn_buf_release(&b);

    /* size */
    big = rn_malloc(RN_MANIFEST_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, ' ', RN_MANIFEST_MAX_BYTES + 1);
    assert_int_equal(rn_manifest_parse("m.yaml", big,
                                       RN_MANIFEST_MAX_BYTES + 1, &m, &err),
                     RN_ELIMIT);
    assert_string_equal(err.msg, "m.yaml:1:16777217: the manifest passes "
                                 "the limit of 16777216 bytes here");
    rn_free(big);

    /* substitution cannot blow a small file up without bound */
    big = rn_malloc(1 << 20);
    assert_non_null(big);
    memset(big, 'x', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    setenv("RN_T_BIG", big, 1);
    rn_free(big);
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "source: range\nsteps: [");
    for (int i = 0; i < 100; i++)
        rn_buf_puts(&b, "\"${RN_T_BIG}${RN_T_BIG}\", ");
    rn_buf_puts(&b, "]\n");
    assert_int_equal(rn_manifest_parse("m.yaml", b.ptr, b.len, &m, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "scalars expand to more than 67108864 "
                                    "bytes"));
    rn_buf_release(&b);
    unsetenv("RN_T_BIG");
}

static void test_load_errors(void **state)
{
    rn_manifest *m = NULL;
    rn_errbuf err = {0};
    (void)state;
    assert_int_equal(rn_manifest_load(DATA "no_such_file.yaml", &m, &err),
                     RN_ENOTFOUND);
    assert_null(m);
    assert_string_equal(err.msg, DATA "no_such_file.yaml: No such file or "
                                      "directory");
    assert_int_equal(rn_manifest_load(DATA, &m, &err), RN_EIO);
}

/* ---- rn_mnode_parse and typing ------------------------------------- */

static void test_mnode_parse(void **state)
{
    rn_arena a;
    rn_mnode *n = NULL;
    rn_errbuf err = {0};
    const char *flow = "{k: 10, key: 1}";
    (void)state;

    rn_arena_init(&a, 0);
    assert_int_equal(rn_mnode_parse(&a, "p", flow, strlen(flow), &n, &err), 0);
    assert_int_equal(n->type, RN_MN_MAP);
    assert_int_equal(n->n, 2);
    assert_string_equal(n->keys[1]->text, "key");
    assert_pos(n->keys[1]->pos, 1, 9);
    assert_string_equal(n->keys[1]->pos.file, "p");
    assert_node_json(n, "{\"k\": 10, \"key\": 1}");

    assert_int_equal(rn_mnode_parse(&a, "p", "", 0, &n, &err), 0);
    assert_true(rn_mnode_is_null(n));
    assert_int_equal(rn_mnode_parse(&a, "p", NULL, 0, &n, &err), 0);
    assert_true(rn_mnode_is_null(n));
    assert_true(rn_mnode_is_null(NULL));

    assert_int_equal(rn_mnode_parse(&a, "p", "{a: [1", 6, &n, &err),
                     RN_EFORMAT);
    assert_null(n);
    rn_arena_release(&a);
}

static void test_scalar_typing(void **state)
{
    rn_arena a;
    rn_mnode *n = NULL;
    rn_errbuf err = {0};
    const char *doc =
        "- null\n"
        "- Null\n"
        "- NULL\n"
        "- ~\n"
        "- \n"
        "- true\n"
        "- True\n"
        "- TRUE\n"
        "- false\n"
        "- FALSE\n"
        "- tRue\n"
        "- 0\n"
        "- -5\n"
        "- +7\n"
        "- 0x1F\n"
        "- 0o17\n"
        "- 0x\n"
        "- 0o\n"
        "- 9223372036854775807\n"
        "- -9223372036854775808\n"
        "- 9223372036854775808\n"
        "- 1.5\n"
        "- -.5\n"
        "- 5.\n"
        "- 1e3\n"
        "- 2E-2\n"
        "- .inf\n"
        "- -.Inf\n"
        "- .nan\n"
        "- .NaN\n"
        "- .e5\n"
        "- 1e\n"
        "- 1_000\n"
        "- 0b101\n"
        "- 12:30\n"
        "- \"10\"\n"
        "- 'true'\n"
        "- !!str 42\n"
        "- ! 42\n"
        "- |\n  7\n\n"
        "- >-\n  x\n   y\n";
    (void)state;

    rn_arena_init(&a, 0);
    assert_int_equal(rn_mnode_parse(&a, "t", doc, strlen(doc), &n, &err), 0);
    assert_node_json(
        n, "[null, null, null, null, null, true, true, true, false, false, \"tRue\", "
           "0, -5, 7, 31, 15, \"0x\", \"0o\", 9223372036854775807, "
           "-9223372036854775808, 9.2233720368547758e+18, 1.5, -0.5, 5.0, "
           "1000.0, 0.02, null, null, null, null, \".e5\", \"1e\", \"1_000\", "
           "\"0b101\", \"12:30\", \"10\", \"true\", \"42\", \"42\", \"7\\n\", "
           "\"x\\n y\"]");
    rn_arena_release(&a);
}

static void test_to_value_record(void **state)
{
    rn_arena a;
    rn_mnode *n = NULL;
    rn_errbuf err = {0};
    rn_value v;
    const char *doc = "{a: 1, \"b c\": [x, {d: ~}], 10: y}";
    (void)state;

    rn_arena_init(&a, 0);
    assert_int_equal(rn_mnode_parse(&a, "t", doc, strlen(doc), &n, &err), 0);
    assert_int_equal(rn_mnode_to_value(&a, n, &v, &err), 0);
    assert_int_equal(v.kind, RN_RECORD);
    assert_int_equal(v.len, 3);
    assert_int_equal(v.u.fields[2].name.len, 2);
    assert_memory_equal(v.u.fields[2].name.ptr, "10", 2);
    assert_node_json(n, "{\"a\": 1, \"b c\": [\"x\", {\"d\": null}], "
                        "\"10\": \"y\"}");
    assert_int_equal(rn_mnode_scalar_value(n, &v), RN_ETYPE);
    assert_int_equal(rn_mnode_to_value(&a, NULL, &v, &err), 0);
    assert_int_equal(v.kind, RN_NULL);
    rn_arena_release(&a);
}

/* ---- allocation failures: an error, never a crash or a leak --------- */

static void test_alloc_failures(void **state)
{
    const char *text =
        "name: ${RN_T_NAME:-x}\nplugins: [a.so, b.so]\n"
        "source: {read_text: {urls: [a, b, c], blocksize: 64MiB}}\n"
        "steps:\n  - split: {lower: true}\n  - frequencies\n"
        "  - topk: {k: 10, key: 1}\nsink: {to_textfiles: {path: o}}\n";
    size_t base = rn_alloc_in_use();
    int ok = 0;
    (void)state;

    for (uint64_t i = 1; i < 200 && !ok; i++) {
        rn_manifest *m = NULL;
        rn_errbuf err = {0};
        rn_alloc_fail_after(i);
        int rc = rn_manifest_parse("m.yaml", text, strlen(text), &m, &err);
        rn_alloc_fail_after(0);
        if (rc == 0) {
            ok = 1;
            assert_int_equal(m->n_steps, 3);
            rn_manifest_free(m);
        } else {
            assert_int_equal(rc, RN_ENOMEM);
            assert_null(m);
        }
        assert_int_equal(rn_alloc_in_use(), base);
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_full_manifest),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_error_files),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_big_map_duplicates),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_mnode_parse),
        cmocka_unit_test(test_scalar_typing),
        cmocka_unit_test(test_to_value_record),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
