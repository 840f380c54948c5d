/*
 * runnel SDK — key paths: where a key (or a value) sits in an element
 * (implemented in the static helper library librunnel-sdk.a). The shipped
 * operators `pluck`, `foldby` and `groupby` take their keys this way, and
 * so can any plugin.
 *
 * How a manifest spells one:
 *
 *   user            a record field: a string with neither '.' nor '['
 *   2, -1           a list index (negative counts from the end)
 *   a.b[2].c        a string holding '.' or '[' is a path: field names
 *   [0]             joined by '.', list indexes in brackets, and
 *   ["a.b"].c       ["..."] for a field whose name holds '.', '[', ']'
 *                   or '"' (inside the quotes \" and \\ are escapes)
 *   [a, 2, "x.y"]   a list is a path too: its strings are field names
 *                   taken as they are (never parsed), its ints indexes
 *
 * So a field named "a.b" is ["a.b"] (a list) or '["a.b"]' (a string).
 * An empty string is the field named "". A path has at most
 * RN_KEYPATH_MAX steps.
 *
 * Parse once, from an operator's init (rn_keypath_parse); apply per
 * element with rn_keypath_get, which allocates nothing and only reads.
 *
 * Thread-safety: a parsed path is immutable; any number of threads may
 * apply it at once.
 */
#ifndef RUNNEL_KEYPATH_H
#define RUNNEL_KEYPATH_H

#include <stddef.h>
#include <stdint.h>

#include "runnel/host.h"
#include "runnel/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RN_KEYPATH_MAX 64 /* steps in one path */

typedef struct rn_keypath rn_keypath; /* opaque */

/* Parses spec (a string, an int or a list as above) into *out. `what`
 * names the parameter in error messages ("key", "value"; may be NULL).
 * Memory comes from rn_alloc_keep(ctx): called from init, it lives as
 * long as the plan, so there is nothing to free. The path may view
 * spec's memory (an operator's parameters, valid until destroy).
 * Returns 0, or RN_EINVAL / RN_ENOMEM after rn_error said why. */
int rn_keypath_parse(rn_ctx *ctx, const rn_value *spec, const char *what,
                     rn_keypath **out);

/* The value at kp in v (a view into v), or NULL when v lacks it: a field
 * absent, an index out of range, or a step that meets a value of the
 * wrong kind (a field of a list, an index of a record). */
const rn_value *rn_keypath_get(const rn_keypath *kp, const rn_value *v);

/* Records why rn_keypath_get(kp, v) found nothing, naming the step and
 * the path and quoting v as JSON (cut after ~160 bytes), e.g.
 *   key "b" of path "a.b" not found in the record; element: {"a": {}}
 * `what` (may be NULL) starts the message ("value: key ..."). Returns
 * RN_ENOTFOUND (absent field, index out of range) or RN_ETYPE (wrong
 * kind), as rn_error does. */
int rn_keypath_error(rn_ctx *ctx, const rn_keypath *kp, const rn_value *v,
                     const char *what);

/* The path written as text: the string it was parsed from, or for a list
 * the equivalent string form (a[2]["x.y"]). Views kp's memory. */
rn_str rn_keypath_text(const rn_keypath *kp);

/* Steps in the path (1 for a plain field or index). */
size_t rn_keypath_steps(const rn_keypath *kp);

#ifdef __cplusplus
}
#endif

#endif /* RUNNEL_KEYPATH_H */
