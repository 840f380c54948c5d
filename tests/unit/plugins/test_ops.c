/*
 * Data-driven tests of the shipped operators (jq's tests/jq.test is the
 * model): every tests/data/ops/ *.test file holds cases run through the
 * SDK test harness against the plugins in the build tree.
 *
 * File format, one directive per line:
 *
 *   # text                   a comment (blank lines are ignored too)
 *   %% PLUGIN.OP [PARAMS]    starts a case; PARAMS is the operator's YAML
 *                            flow mapping ("{k: 2, key: 1}"), "-" or
 *                            nothing for none. The plugin is loaded from
 *                            ${RN_TEST_BUILD_DIR}/plugins/libPLUGIN.so.
 *   @ unordered              outputs may come in any order (keyed folds)
 *   < JSON                   pushes one input element
 *   <x HEX                   pushes one string made of these raw bytes
 *                            (for inputs JSON cannot spell: bad UTF-8)
 *   > JSON                   one expected output, in order
 *   ! TEXT                   the case must fail (when the operator is
 *                            prepared, fed or finished) with an error
 *                            message containing TEXT; outputs are ignored
 *   <file NAME JSON          before the case runs, writes the JSON string
 *                            to the file NAME of the case's own temporary
 *                            directory (sources read files)
 *   >file NAME JSON          after it ran, the file NAME there must hold
 *                            exactly the JSON string's bytes (sinks)
 *
 * "$DIR" in PARAMS, in ">" lines and in "!" text stands for the case's
 * temporary directory (made when the case has a file or says $DIR).
 *
 * A case without ">" or "!" lines expects no output at all. Outputs and
 * expectations are compared as JSON values after a round trip through
 * jansson, so spacing does not matter but kinds do: 1 is not 1.0.
 *
 * Usage: unit_plugins_ops [FILE.test...] (default: every file).
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strndup */

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <runnel/harness.h>

#include "testutil.h"

typedef struct input {
    const char *json;     /* NULL for raw bytes */
    unsigned char *bytes; /* raw string (malloc'd) */
    size_t len;
} input;

typedef struct tfile {
    const char *name;
    const char *json; /* a JSON string: the content */
    int expect;       /* 1: compare after the run; 0: write before */
} tfile;

typedef struct tcase {
    char name[256]; /* "file.test:LINE plugin.op" */
    const char *file;
    int line;
    char plugin[64];
    const char *op;
    const char *params; /* NULL = none */
    int unordered;
    const char *error; /* expected error substring, or NULL */
    input *in;
    size_t n_in, cap_in;
    const char **out;
    size_t n_out, cap_out;
    tfile *files;
    size_t n_files;
} tcase;

typedef struct suite {
    tcase *cases;
    size_t n, cap;
    char **texts; /* file contents the cases point into */
    size_t n_texts;
} suite;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return q;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_error(const char *file, int line, const char *msg)
{
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    return -1;
}

/* Parses one .test file into s->cases; the text stays in s->texts. */
static int load_file(suite *s, const char *path, const char *short_name)
{
    char *text = rn_test_read_file(path, NULL);
    char *line, *next;
    tcase *c = NULL;
    int lineno = 0;

    if (!text)
        return parse_error(path, 0, "cannot read");
    s->texts = xrealloc(s->texts, (s->n_texts + 1) * sizeof *s->texts);
    s->texts[s->n_texts++] = text;
    for (line = text; line; line = next) {
        char *body;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        body = trim(line);
        if (!*body || *body == '#')
            continue;
        if (strncmp(body, "%%", 2) == 0) {
            char *spec = trim(body + 2), *sp, *dot;
            if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 64;
                s->cases = xrealloc(s->cases, s->cap * sizeof *s->cases);
            }
            c = &s->cases[s->n++];
            memset(c, 0, sizeof *c);
            c->file = short_name;
            c->line = lineno;
            sp = spec + strcspn(spec, " \t");
            if (*sp)
                *sp++ = '\0';
            dot = strchr(spec, '.');
            if (!dot || (size_t)(dot - spec) >= sizeof c->plugin)
                return parse_error(path, lineno, "expected %% PLUGIN.OP");
            memcpy(c->plugin, spec, (size_t)(dot - spec));
            c->op = dot + 1;
            sp = trim(sp);
            c->params = (*sp && strcmp(sp, "-") != 0) ? sp : NULL;
            snprintf(c->name, sizeof c->name, "%s:%d %s", short_name, lineno,
                     spec);
            continue;
        }
        if (!c)
            return parse_error(path, lineno, "directive before any %% line");
        if (body[0] == '@') {
            if (strcmp(trim(body + 1), "unordered") != 0)
                return parse_error(path, lineno, "unknown @ flag");
            c->unordered = 1;
        } else if (strncmp(body, "<file", 5) == 0 ||
                   strncmp(body, ">file", 5) == 0) {
            char *name = trim(body + 5), *sp = name + strcspn(name, " \t");
            tfile *f;
            if (!*sp)
                return parse_error(path, lineno, "expected NAME JSON");
            *sp++ = '\0';
            c->files = xrealloc(c->files, (c->n_files + 1) * sizeof *c->files);
            f = &c->files[c->n_files++];
            f->name = name;
            f->json = trim(sp);
            f->expect = body[0] == '>';
        } else if (body[0] == '<' && body[1] == 'x') {
            char *hex = trim(body + 2);
            size_t n = strlen(hex);
            input *in;
            if (n % 2)
                return parse_error(path, lineno, "odd number of hex digits");
            if (c->n_in == c->cap_in) {
                c->cap_in = c->cap_in ? c->cap_in * 2 : 8;
                c->in = xrealloc(c->in, c->cap_in * sizeof *c->in);
            }
            in = &c->in[c->n_in++];
            in->json = NULL;
            in->len = n / 2;
            in->bytes = xrealloc(NULL, in->len + 1);
            for (size_t i = 0; i < in->len; i++) {
                int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return parse_error(path, lineno, "bad hex digit");
                in->bytes[i] = (unsigned char)(hi * 16 + lo);
            }
        } else if (body[0] == '<') {
            if (c->n_in == c->cap_in) {
                c->cap_in = c->cap_in ? c->cap_in * 2 : 8;
                c->in = xrealloc(c->in, c->cap_in * sizeof *c->in);
            }
            c->in[c->n_in].json = trim(body + 1);
            c->in[c->n_in].bytes = NULL;
            c->in[c->n_in].len = 0;
            c->n_in++;
        } else if (body[0] == '>') {
            if (c->n_out == c->cap_out) {
                c->cap_out = c->cap_out ? c->cap_out * 2 : 8;
                c->out = xrealloc(c->out, c->cap_out * sizeof *c->out);
            }
            c->out[c->n_out++] = trim(body + 1);
        } else if (body[0] == '!') {
            c->error = trim(body + 1);
        } else {
            return parse_error(path, lineno, "unknown directive");
        }
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(suite *s, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;

    if (!d)
        return parse_error(dir, 0, "cannot open directory");
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".test") == 0) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && load_file(s, path, names[i]) < 0)
            rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* JSON text -> canonical JSON text (malloc'd), NULL when it is not JSON. */
static char *canonical(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    char *out;
    if (!j)
        return NULL;
    out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

static int cmp_strs(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends to a bounded report buffer. */
static void say(char *buf, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    if (used + 1 >= cap)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
}

/* Compares the harness output with the case; "" on success, else why. */
static void check_outputs(const tcase *c, const char *got_text, char *why,
                          size_t cap)
{
    char **got = NULL, **want = NULL;
    size_t n_got = 0;
    const char *p = got_text;
    int same;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *canon = canonical(p, len);
        got = xrealloc(got, (n_got + 1) * sizeof *got);
        got[n_got++] = canon ? canon : strndup(p, len);
        p += len + (nl ? 1 : 0);
    }
    want = xrealloc(NULL, (c->n_out + 1) * sizeof *want);
    for (size_t i = 0; i < c->n_out; i++) {
        want[i] = canonical(c->out[i], strlen(c->out[i]));
        if (!want[i]) {
            say(why, cap, "expected output %zu is not JSON: %s\n", i + 1,
                c->out[i]);
            want[i] = strdup(c->out[i]);
        }
    }
    if (c->unordered) {
        qsort(got, n_got, sizeof *got, cmp_strs);
        qsort(want, c->n_out, sizeof *want, cmp_strs);
    }
    same = n_got == c->n_out;
    for (size_t i = 0; same && i < n_got; i++)
        same = strcmp(got[i], want[i]) == 0;
    if (!same) {
        say(why, cap, "outputs differ%s\n  expected (%zu):\n",
            c->unordered ? " (unordered)" : "", c->n_out);
        for (size_t i = 0; i < c->n_out; i++)
            say(why, cap, "    %s\n", want[i]);
        say(why, cap, "  got (%zu):\n", n_got);
        for (size_t i = 0; i < n_got; i++)
            say(why, cap, "    %s\n", got[i]);
    }
    for (size_t i = 0; i < n_got; i++)
        free(got[i]);
    for (size_t i = 0; i < c->n_out; i++)
        free(want[i]);
    free(got);
    free(want);
}

/* text with every "$DIR" replaced by dir (malloc'd). */
static char *with_dir(const char *text, const char *dir)
{
    size_t n = 0, dl = strlen(dir);
    const char *p;
    char *out, *o;
    for (p = text; (p = strstr(p, "$DIR")) != NULL; p += 4)
        n++;
    out = o = xrealloc(NULL, strlen(text) + n * dl + 1);
    for (p = text; *p;) {
        if (strncmp(p, "$DIR", 4) == 0) {
            memcpy(o, dir, dl);
            o += dl;
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* The bytes of a JSON string (malloc'd, *len set), NULL if it is none. */
static char *json_bytes(const char *text, size_t *len)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    char *out = NULL;
    if (j && json_is_string(j)) {
        *len = json_string_length(j);
        out = xrealloc(NULL, *len + 1);
        memcpy(out, json_string_value(j), *len);
    }
    json_decref(j);
    return out;
}

static void run_case(void **state);

/* Runs c with its files in a temporary directory and $DIR replaced. */
static void run_case_files(const tcase *c)
{
    char *dir = rn_test_tmpdir("ops");
    tcase cc = *c;
    char *params = NULL, *error = NULL, **outs;
    const tcase *pc = &cc;

    assert_non_null(dir);
    outs = xrealloc(NULL, (c->n_out + 1) * sizeof *outs);
    for (size_t i = 0; i < c->n_files; i++) {
        char path[4096], *bytes;
        size_t len = 0;
        if (c->files[i].expect)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, c->files[i].name);
        bytes = json_bytes(c->files[i].json, &len);
        if (!bytes)
            fail_msg("%s: <file %s: not a JSON string", c->name,
                     c->files[i].name);
        assert_int_equal(rn_test_write_file(path, bytes, len), 0);
        free(bytes);
    }
    if (c->params)
        cc.params = params = with_dir(c->params, dir);
    if (c->error)
        cc.error = error = with_dir(c->error, dir);
    for (size_t i = 0; i < c->n_out; i++)
        outs[i] = with_dir(c->out[i], dir);
    cc.out = (const char **)outs;
    cc.n_files = 0;
    run_case((void **)&pc);
    for (size_t i = 0; i < c->n_files; i++) {
        char path[4096], *want, *got;
        size_t wl = 0, gl = 0;
        if (!c->files[i].expect)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, c->files[i].name);
        want = json_bytes(c->files[i].json, &wl);
        got = rn_test_read_file(path, &gl);
        if (!want)
            fail_msg("%s: >file %s: not a JSON string", c->name,
                     c->files[i].name);
        if (!got)
            fail_msg("%s: >file %s: not written", c->name, c->files[i].name);
        if (gl != wl || memcmp(got, want, wl) != 0)
            fail_msg("%s: >file %s differs:\n  expected: %.*s\n  got:      "
                     "%.*s", c->name, c->files[i].name, (int)wl, want,
                     (int)gl, got);
        free(want);
        free(got);
    }
    for (size_t i = 0; i < c->n_out; i++)
        free(outs[i]);
    free(outs);
    free(params);
    free(error);
    rn_test_rmtree(dir);
    free(dir);
}

static void run_case(void **state)
{
    const tcase *c = *state;
    char path[4096], err[1024] = "", why[8192] = "";
    rn_harness *h;
    int rc = 0;

    if (c->n_files || (c->params && strstr(c->params, "$DIR"))) {
        run_case_files(c);
        return;
    }

    snprintf(path, sizeof path, "%s/plugins/lib%s.so", RN_TEST_BUILD_DIR,
             c->plugin);
    h = rn_harness_new(path, c->op, c->params, err, sizeof err);
    if (!h) {
        if (c->error && strstr(err, c->error))
            return;
        fail_msg("%s: cannot prepare the operator: %s%s%s", c->name, err,
                 c->error ? "\n  expected an error containing: " : "",
                 c->error ? c->error : "");
    }
    for (size_t i = 0; rc == 0 && i < c->n_in; i++) {
        const input *in = &c->in[i];
        if (in->json) {
            rc = rn_harness_push_json(h, in->json);
        } else {
            rn_value v = rn_string((const char *)in->bytes, in->len);
            rc = rn_harness_push(h, &v);
        }
    }
    if (rc == 0)
        rc = rn_harness_finish(h);
    if (c->error) {
        if (rc == 0)
            say(why, sizeof why,
                "expected an error containing \"%s\", got success:\n%s",
                c->error, rn_harness_output_json(h));
        else if (!strstr(rn_harness_error(h), c->error))
            say(why, sizeof why,
                "expected an error containing \"%s\", got: %s", c->error,
                rn_harness_error(h));
    } else if (rc != 0) {
        say(why, sizeof why, "failed: %s", rn_harness_error(h));
    } else {
        check_outputs(c, rn_harness_output_json(h), why, sizeof why);
    }
    rn_harness_free(h);
    if (why[0])
        fail_msg("%s: %s", c->name, why);
}

int main(int argc, char **argv)
{
    suite s = {0};
    struct CMUnitTest *tests;
    int rc;

    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            const char *base = strrchr(argv[i], '/');
            if (load_file(&s, argv[i], base ? base + 1 : argv[i]) < 0)
                return 2;
        }
    } else if (load_dir(&s, RN_TEST_DATA_DIR "/ops") < 0) {
        return 2;
    }
    if (s.n == 0) {
        fprintf(stderr, "no test cases found\n");
        return 2;
    }
    tests = xrealloc(NULL, s.n * sizeof *tests);
    for (size_t i = 0; i < s.n; i++) {
        memset(&tests[i], 0, sizeof tests[i]);
        tests[i].name = s.cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = &s.cases[i];
    }
    rc = _cmocka_run_group_tests("plugin operators", tests, s.n, NULL, NULL);
    for (size_t i = 0; i < s.n; i++) {
        for (size_t j = 0; j < s.cases[i].n_in; j++)
            free(s.cases[i].in[j].bytes);
        free(s.cases[i].in);
        free(s.cases[i].out);
        free(s.cases[i].files);
    }
    for (size_t i = 0; i < s.n_texts; i++)
        free(s.texts[i]);
    free(s.texts);
    free(s.cases);
    free(tests);
    return rc;
}
