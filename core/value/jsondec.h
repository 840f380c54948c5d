/*
 * The engine's JSON decoder: one JSON text (RFC 8259) straight into an
 * rn_value whose memory comes from an arena. No tree in between, no
 * allocation per value: items and fields wait on a stack of the decoder
 * and are copied once into the arena when their list or record closes.
 *
 * What it makes:
 * - objects: records, keys in document order; a repeated key keeps its
 *   first place and its last value;
 * - arrays: lists; strings: strings (escapes decoded, \uXXXX surrogate
 *   pairs joined into one UTF-8 sequence); true/false: bools; null: null;
 * - numbers: an integer (no fraction, no exponent) that fits int64 is an
 *   RN_INT, every other number an RN_DOUBLE, rounded exactly as strtod
 *   rounds it (a fast exact path for short ones, strtod for the rest).
 *   With RN_JSONDEC_DOC_REAL, an integer beyond int64 makes every
 *   integer of the text a double (json_parse's rule), -0 included (-0.0).
 *
 * What it refuses (RN_EFORMAT), the same set jansson 2.14 refuses with
 * JSON_DECODE_ANY | JSON_ALLOW_NUL (what runnel used before):
 * - anything outside the grammar: empty or blank input, text after the
 *   value, leading zeros, "1.", "-", single quotes, comments, NaN...;
 * - a string with a raw control byte (< 0x20), invalid UTF-8 (overlong
 *   forms, encoded surrogates, beyond U+10FFFF, cut sequences), an
 *   unknown escape, or a \u escape of a lone or mismatched surrogate;
 * - an object key containing U+0000 (a string value may);
 * - a number whose magnitude overflows a double (1e400; an integer of
 *   more than 309 digits); underflow gives 0 or a subnormal, as strtod.
 * One deliberate difference: jansson skipped one NUL byte right after a
 * number or a literal ("0\0", "[true\0]" parsed, a bug of its
 * look-ahead); RFC 8259 allows none, and the decoder refuses them all.
 * Nesting deeper than RN_VALUE_MAX_DEPTH (a value at depth 65, the
 * outermost being depth 0) is RN_ELIMIT, as is a string, list or record
 * of 2^32 bytes or items or more. Out of arena or heap memory is
 * RN_ENOMEM.
 *
 * Error messages say what was wrong, where (byte offset from 0, line and
 * column from 1, the column in bytes), and quote the start of the text,
 * escaped: `invalid JSON: ']' expected at byte 5 (line 1, column 6) in
 * "[1, 2"`.
 *
 * Numbers assume the C locale's decimal point (runnel never calls
 * setlocale). Reentrant; one call uses one arena.
 */
#ifndef RN_CORE_JSONDEC_H
#define RN_CORE_JSONDEC_H

#include <stddef.h>

#include <runnel/value.h>

#include "base/arena.h"
#include "base/error.h"

/* Flags (the same numbers as the host's RN_JSON_*). */
/* Strings without escapes view `text` instead of being copied: the value
 * is then valid only as long as both the arena and the text are. */
#define RN_JSONDEC_VIEW 0x1u
/* An integer beyond int64 makes every integer of the text a double;
 * without it only that integer becomes one. */
#define RN_JSONDEC_DOC_REAL 0x2u
#define RN_JSONDEC_FLAGS (RN_JSONDEC_VIEW | RN_JSONDEC_DOC_REAL)

/* Decodes text[0..len) (text may be NULL when len is 0) into *out, with
 * every list, record and copied string allocated from a. Returns 0, or
 * RN_EFORMAT / RN_ELIMIT / RN_ENOMEM / RN_EINVAL (unknown flags) with the
 * reason in err (may be NULL). On error *out is untouched and what was
 * allocated from a stays there until a is reset. */
int rn_jsondec_parse(rn_arena *a, const char *text, size_t len,
                     unsigned flags, rn_value *out, rn_errbuf *err);

#endif
