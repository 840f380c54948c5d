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
#include <string.h>

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

/* ---- the string hash, inline for the keyed-table hot path ---------- */
static inline uint64_t rn__hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Little-endian loads by construction so the hash is the same on every
 * machine whatever its byte order. */
static inline uint64_t rn__load_le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

#define RN__K0 0x9E3779B97F4A7C15ull
#define RN__K1 0xE7037ED1A0B428DBull
#define RN__K2 0x8EBC6AF09C88C6E3ull
#define RN__K3 0x589965CC75374CC3ull

static inline uint32_t rn__load_le32(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#else
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
#endif
}

/* Short strings (the common keys: words, names) take two overlapping
 * loads and two multiplies; longer ones 16 bytes per round. */
static inline uint64_t rn__hash_str_inline(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = RN__K0 ^ ((uint64_t)n * RN__K1);
    uint64_t a, b;

    if (n <= 16) {
        if (n >= 8) {
            a = rn__load_le64(p);
            b = rn__load_le64(p + n - 8);
        } else if (n >= 4) {
            a = rn__load_le32(p);
            b = rn__load_le32(p + n - 4);
        } else if (n > 0) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
        return rn__hash_mix(rn__hash_mix(a ^ RN__K2, b ^ h), RN__K3 ^ n);
    }
    while (n > 16) {
        h = rn__hash_mix(rn__load_le64(p) ^ RN__K2, rn__load_le64(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    a = rn__load_le64(p + n - 16);
    b = rn__load_le64(p + n - 8);
    return rn__hash_mix(rn__hash_mix(a ^ RN__K2, b ^ h), RN__K3 ^ n);
}

/* Total order: null < bool < numbers < string < bytes < list < record;
 * returns <0, 0, >0. */
int rn_value_compare(const rn_value *a, const rn_value *b);
/* 1 when equal (faster than compare for strings). */
int rn_value_equal(const rn_value *a, const rn_value *b);
/* 1 when a and b are the same bit for bit: kinds, lengths, ints, doubles
 * (-0.0 is not 0.0, NaN payloads differ), bytes, and the order of items
 * and fields. What the wire encoding and the JSON decoder are tested
 * against (rn_value_equal calls 2 and 2.0 equal). */
int rn_value_identical(const rn_value *a, const rn_value *b);

/* Deep copy of `in` into arena `a`. */
int rn_value_copy(rn_arena *a, const rn_value *in, rn_value *out);
/* Bytes a deep copy needs (an estimate good for memory accounting). */
size_t rn_value_deep_size(const rn_value *v);

/* Appends v as one line of JSON (no newline). Bytes become a string of
 * base64 prefixed "base64:"; non-finite doubles become null. */
int rn_value_to_json(rn_buf *b, const rn_value *v);
/* Parses JSON text into a value in arena `a` (strings copied): integers
 * that fit int64 are RN_INT, other numbers (fractions, exponents,
 * integers beyond int64) RN_DOUBLE, objects RN_RECORD (keys in document
 * order). rn_jsondec_parse (value/jsondec.h) with no flags: what it
 * accepts and refuses is said there. */
int rn_value_from_json(rn_arena *a, const char *text, size_t len,
                       rn_value *out, rn_errbuf *err);

#endif
