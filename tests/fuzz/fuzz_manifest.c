/*
 * libFuzzer target for the manifest parser: arbitrary bytes must give a
 * manifest or an error, never a crash, a leak or unbounded memory. When a
 * manifest parses, its steps are also bound against a small table so the
 * parameter conversions (sizes, durations, lists, ANY) are exercised.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "manifest/manifest.h"

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

static void bind(rn_arena *a, const rn_mstep *s)
{
    rn_errbuf err;
    rn_value v;
    rn_params_bind(a, &op, s->op, s->params, s->pos, &v, &err);
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
        once = 1;
    }
    if (rn_manifest_parse("fuzz.yaml", (const char *)data, size, &m, &err))
        return 0;
    rn_arena_init(&a, 0);
    bind(&a, &m->source);
    for (size_t i = 0; i < m->n_steps; i++)
        bind(&a, &m->steps[i]);
    if (m->has_sink)
        bind(&a, &m->sink);
    rn_arena_release(&a);
    rn_manifest_free(m);
    return 0;
}
