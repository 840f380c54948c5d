/*
 * runnel SDK — helpers for reading values and validated parameters
 * (implemented in the static helper library librunnel-sdk.a).
 *
 * All functions here are pure: they allocate nothing and are safe to call
 * from any thread. Returned pointers view the argument's memory.
 */
#ifndef RUNNEL_PARAMS_H
#define RUNNEL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "runnel/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Field `name` of a RN_RECORD, or NULL when absent (or rec is no record). */
const rn_value *rn_record_get(const rn_value *rec, const char *name);

/* Typed parameter getters for the record passed to rn_op_desc.init.
 * Return `def` when the parameter is absent or null. */
int64_t rn_param_int(const rn_value *params, const char *name, int64_t def);
double rn_param_double(const rn_value *params, const char *name, double def);
int rn_param_bool(const rn_value *params, const char *name, int def);
/* A string parameter as rn_str; {def, strlen(def)} when absent
 * (def may be NULL: then {NULL, 0}). */
rn_str rn_param_str(const rn_value *params, const char *name,
                    const char *def);

/* 1 when s equals the NUL-terminated z. */
int rn_str_eq(rn_str s, const char *z);

#ifdef __cplusplus
}
#endif

#endif /* RUNNEL_PARAMS_H */
