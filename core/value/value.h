/*
 * Engine-side operations on values (the value struct itself is public:
 * sdk/include/runnel/value.h): stable hashing, ordering, deep copies into
 * arenas, and JSON in and out.
 *
 * All functions are reentrant; they touch only their arguments.
 */
#ifndef RN_CORE_VALUE_H
#define RN_CORE_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/value.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/error.h"

/* Deepest nesting of lists/records the engine accepts anywhere. */
#define RN_VALUE_MAX_DEPTH 64

/* 64-bit hash, identical on every machine and in every process (no
 * per-process seed: keyed operations must agree across workers). Numbers
 * that compare equal hash equal (2 and 2.0). */
uint64_t rn_value_hash(const rn_value *v);
/* Hash of raw string bytes, as rn_value_hash of an RN_STRING. */
uint64_t rn_hash_str(const char *p, size_t n);

/* Total order: null < bool < numbers < string < bytes < list < record;
 * returns <0, 0, >0. */
int rn_value_compare(const rn_value *a, const rn_value *b);
/* 1 when equal (faster than compare for strings). */
int rn_value_equal(const rn_value *a, const rn_value *b);

/* Deep copy of `in` into arena `a`. */
int rn_value_copy(rn_arena *a, const rn_value *in, rn_value *out);
/* Bytes a deep copy needs (an estimate good for memory accounting). */
size_t rn_value_deep_size(const rn_value *v);

/* Appends v as one line of JSON (no newline). Bytes become a string of
 * base64 prefixed "base64:"; non-finite doubles become null. */
int rn_value_to_json(rn_buf *b, const rn_value *v);
/* Parses JSON text into a value in arena `a`. Integers that fit int64 are
 * RN_INT, other numbers RN_DOUBLE, objects RN_RECORD (keys in order). */
int rn_value_from_json(rn_arena *a, const char *text, size_t len,
                       rn_value *out, rn_errbuf *err);

#endif
