/*
 * libFuzzer target for the manifest parser: arbitrary bytes must give a
 * manifest or an error, never a crash, a leak or unbounded memory. When a
 * manifest parses, its steps are also bound against a small table so the
 * parameter conversions (sizes, durations, lists, ANY) are exercised, and
 * it goes through a job spec (cluster/jobspec.c) and back: the text the
 * client writes must always parse where it runs (rn_manifest_parse_job)
 * into the same pipeline (with datasets: the same datasets, inputs,
 * steps and outputs, which the planner turns into the same graph), and
 * its binding errors must never show the value of ${FUZZ_SECRET}.
 */
#define _GNU_SOURCE /* setenv, memmem */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cluster/jobspec.h"
#include "manifest/manifest.h"

/* What ${FUZZ_SECRET} holds: no message may contain it, unless the input
 * has it written out (libFuzzer learns strings from comparisons). */
#define FUZZ_SECRET "q7Zk-secret-3vX9"

static int checking; /* the input does not hold FUZZ_SECRET itself */

static const char *const modes[] = {"fast", "slow", NULL};

static const rn_param_spec params[] = {
    {.name = "k", .type = RN_PT_INT, .min = 1, .max = 1000},
    {.name = "ratio", .type = RN_PT_DOUBLE, .def = "0.5"},
    {.name = "lower", .type = RN_PT_BOOL, .def = "false"},
    {.name = "sep", .type = RN_PT_STRING, .def = ", "},
    {.name = "blocksize", .type = RN_PT_SIZE, .def = "64MiB"},
    {.name = "timeout", .type = RN_PT_DURATION, .def = "30s"},
    {.name = "urls", .type = RN_PT_STRING_LIST, .def = "[\"a\", \"b\"]"},
    {.name = "mode", .type = RN_PT_STRING, .def = "fast", .choices = modes},
    {.name = "items", .type = RN_PT_ANY},
};

static const rn_op_desc op = {
    RN_OP_HEAD(RN_OP_MAP, "fuzz", "fuzzing table"), RN_OP_PARAMS(params)};

static void never_shown(const rn_errbuf *err)
{
    if (checking && memmem(err->msg, strlen(err->msg), FUZZ_SECRET,
               sizeof(FUZZ_SECRET) - 1)) {
        fprintf(stderr, "a substituted value is shown: %s\n", err->msg);
        abort();
    }
}

/* Binds a step; returns the result's code and message into err. */
static int bind(rn_arena *a, const rn_mstep *s, rn_errbuf *err)
{
    rn_value v;
    int rc;
    rn_error_clear(err);
    rc = rn_params_bind(a, &op, s->op, s->params, s->pos, &v, err);
    never_shown(err);
    return rc;
}

/* Both sides bind the same step the same way (an error on one is an
 * error with the same code on the other). */
static void same_binding(rn_arena *a, const rn_mstep *s1, const rn_mstep *s2)
{
    rn_errbuf e1, e2;
    int r1 = bind(a, s1, &e1), r2 = bind(a, s2, &e2);
    if (r1 != r2 && r1 != RN_ENOMEM && r2 != RN_ENOMEM) {
        fprintf(stderr, "binds differently after the job spec: %d (%s) "
                        "vs %d (%s)\n", r1, e1.msg, r2, e2.msg);
        abort();
    }
}

static int same_ref(const rn_mref *r1, const rn_mref *r2)
{
    return strcmp(r1->name, r2->name) == 0;
}

/* m2 has m's datasets and outputs, each binding its steps the same. */
static int same_datasets(const rn_manifest *m, const rn_manifest *m2,
                         rn_arena *a)
{
    if (m2->n_datasets != m->n_datasets || m2->n_outputs != m->n_outputs)
        return 0;
    for (size_t d = 0; d < m->n_datasets; d++) {
        const rn_mdataset *x = &m->datasets[d], *y = &m2->datasets[d];
        if (!same_ref(&x->name, &y->name) || x->kind != y->kind ||
            x->n_inputs != y->n_inputs || x->n_steps != y->n_steps)
            return 0;
        for (size_t k = 0; k < x->n_inputs; k++)
            if (!same_ref(&x->inputs[k], &y->inputs[k]))
                return 0;
        if (x->kind == RN_MDS_SOURCE) {
            if (strcmp(x->source.op, y->source.op))
                return 0;
            same_binding(a, &x->source, &y->source);
        }
        for (size_t i = 0; i < x->n_steps; i++) {
            if (strcmp(x->steps[i].op, y->steps[i].op))
                return 0;
            same_binding(a, &x->steps[i], &y->steps[i]);
        }
    }
    for (size_t o = 0; o < m->n_outputs; o++) {
        const rn_moutput *x = &m->outputs[o], *y = &m2->outputs[o];
        if (!same_ref(&x->dataset, &y->dataset) || x->has_sink != y->has_sink ||
            (x->has_sink && strcmp(x->sink.op, y->sink.op)))
            return 0;
        if (x->has_sink)
            same_binding(a, &x->sink, &y->sink);
    }
    return 1;
}

/* The job spec of m parses back into the same pipeline, or the same
 * datasets and outputs. */
static void roundtrip(const rn_manifest *m, rn_arena *a)
{
    rn_manifest *m2 = NULL;
    rn_errbuf err;
    rn_buf out;
    int rc;

    rn_buf_init(&out, 0);
    rc = rn_jobspec_manifest(m, NULL, &out, &err);
    if (rc == 0)
        rc = rn_manifest_parse_job("job", out.ptr, out.len, &m2, &err);
    if (rc == 0 && m->n_datasets) {
        if (!same_datasets(m, m2, a) || m2->n_plugins != m->n_plugins ||
            strcmp(m2->name, m->name)) {
            fprintf(stderr, "the job spec has other datasets:\n%s\n",
                    out.ptr);
            abort();
        }
        if (checking && strstr(m2->display_name, FUZZ_SECRET))
            abort();
    } else if (rc == 0) {
        if (m2->n_steps != m->n_steps || m2->n_plugins != m->n_plugins ||
            m2->has_sink != m->has_sink || strcmp(m2->name, m->name) ||
            strcmp(m2->source.op, m->source.op)) {
            fprintf(stderr, "the job spec is another pipeline:\n%s\n",
                    out.ptr);
            abort();
        }
        same_binding(a, &m->source, &m2->source);
        for (size_t i = 0; i < m->n_steps; i++)
            same_binding(a, &m->steps[i], &m2->steps[i]);
        if (m->has_sink)
            same_binding(a, &m->sink, &m2->sink);
        if (checking && strstr(m2->display_name, FUZZ_SECRET))
            abort();
    } else if (rc != RN_ENOMEM && rc != RN_ELIMIT) {
        fprintf(stderr, "the job spec does not parse: %s\n%s\n", err.msg,
                out.ptr ? out.ptr : "");
        abort();
    }
    rn_manifest_free(m2);
    rn_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    rn_manifest *m = NULL;
    rn_errbuf err;
    rn_arena a;

    if (!once) {
        /* something for ${VAR} to find; other names stay unset */
        setenv("FUZZ", "10", 1);
        setenv("FUZZ_SECRET", FUZZ_SECRET, 1);
        once = 1;
    }
    checking = !memmem(data, size, FUZZ_SECRET, sizeof(FUZZ_SECRET) - 1);
    if (rn_manifest_parse("fuzz.yaml", (const char *)data, size, &m, &err)) {
        never_shown(&err);
        /* the same bytes submitted as a job: never read the environment */
        if (rn_manifest_parse_job("job", (const char *)data, size, &m,
                                  &err) == 0)
            rn_manifest_free(m);
        return 0;
    }
    if (checking && strstr(m->display_name, FUZZ_SECRET))
        abort();
    rn_arena_init(&a, 0);
    if (m->n_datasets) {
        /* bound, and sent as a job (its steps bound on both sides) */
        roundtrip(m, &a);
        rn_arena_release(&a);
        rn_manifest_free(m);
        return 0;
    }
    bind(&a, &m->source, &err);
    for (size_t i = 0; i < m->n_steps; i++)
        bind(&a, &m->steps[i], &err);
    if (m->has_sink)
        bind(&a, &m->sink, &err);
    roundtrip(m, &a);
    rn_arena_release(&a);
    rn_manifest_free(m);
    return 0;
}
