/*
 * libFuzzer target for runnel's JSON decoder (core/value/jsondec.c),
 * differential: jansson and the conversion runnel used before the
 * decoder existed (kept below as the reference) must agree with it on
 * every input.
 *
 * - rn_jsondec_parse without flags (what rn_value_from_json does) against
 *   jansson + value.c's old from_jansson, where an integer beyond int64
 *   was made a double by rewriting it "N.0" and parsing again;
 * - with RN_JSONDEC_DOC_REAL, and again with RN_JSONDEC_VIEW too (what
 *   json_parse does), against jansson + json.c's old from_json, where an
 *   integer beyond int64 made jansson parse the text again with
 *   JSON_DECODE_INT_AS_REAL.
 *
 * Both must accept the same texts (but for jansson's NUL byte, below)
 * and make identical values (doubles bit for bit, field order, kinds); where the reference says too deep
 * (RN_ELIMIT), so must the decoder. Where it refuses, the decoder may say
 * too deep instead of malformed: it stops at depth 65, the reference
 * parsed everything first.
 *
 * Then, as before the decoder, an accepted value's own JSON output must
 * parse back to an equal value with the same output, and the value must
 * survive the wire encoding unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "value/codec.h"
#include "value/jsondec.h"
#include "value/partition.h"
#include "value/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* ---- the reference: jansson and the old conversion ------------------ */

static int from_jansson(rn_arena *a, json_t *j, rn_value *out, int depth)
{
    if (depth > RN_VALUE_MAX_DEPTH)
        return RN_ELIMIT;
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = rn_null();
        return 0;
    case JSON_TRUE:
        *out = rn_bool(1);
        return 0;
    case JSON_FALSE:
        *out = rn_bool(0);
        return 0;
    case JSON_INTEGER:
        *out = rn_int((int64_t)json_integer_value(j));
        return 0;
    case JSON_REAL:
        *out = rn_double(json_real_value(j));
        return 0;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        char *p = rn_arena_memdup(a, json_string_value(j), n);
        if (!p)
            return RN_ENOMEM;
        *out = rn_string(p, n);
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        rn_value *items = n ? rn_arena_alloc(a, n * sizeof(rn_value)) : NULL;
        if (n && !items)
            return RN_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            int rc = from_jansson(a, json_array_get(j, i), &items[i],
                                  depth + 1);
            if (rc)
                return rc;
        }
        *out = rn_list(items, n);
        return 0;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        rn_field *fields = n ? rn_arena_alloc(a, n * sizeof(rn_field)) : NULL;
        const char *key;
        size_t klen;
        json_t *val;
        if (n && !fields)
            return RN_ENOMEM;
        json_object_keylen_foreach(j, key, klen, val)
        {
            int rc;
            fields[i].name.ptr = rn_arena_memdup(a, key, klen);
            fields[i].name.len = klen;
            if (!fields[i].name.ptr)
                return RN_ENOMEM;
            if ((rc = from_jansson(a, val, &fields[i].value, depth + 1)))
                return rc;
            i++;
        }
        *out = rn_record(fields, n);
        return 0;
    }
    }
    return RN_EFORMAT;
}

static int int_overflows(const char *digits, size_t n, int neg)
{
    if (n != 19)
        return n > 19;
    return memcmp(digits, neg ? "9223372036854775808" : "9223372036854775807",
                  19) > 0;
}

/* The text with ".0" after every integer literal beyond int64; NULL when
 * there is none. */
static char *widen_big_ints(const char *text, size_t len, size_t *out_len)
{
    rn_buf b;
    size_t i = 0, copied = 0;
    int in_str = 0, found = 0;
    rn_buf_init(&b, 0);
    while (i < len) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        size_t start = i, digits = 0;
        int integral = 1;
        while (i < len && (text[i] == '-' || text[i] == '+' || text[i] == '.' ||
                           text[i] == 'e' || text[i] == 'E' ||
                           (text[i] >= '0' && text[i] <= '9'))) {
            if (text[i] >= '0' && text[i] <= '9')
                digits++;
            else if (text[i] != '-' || i != start)
                integral = 0;
            i++;
        }
        if (!integral ||
            !int_overflows(text + i - digits, digits, text[start] == '-'))
            continue;
        CHECK(rn_buf_append(&b, text + copied, i - copied) == 0);
        CHECK(rn_buf_append(&b, ".0", 2) == 0);
        copied = i;
        found = 1;
    }
    if (!found) {
        rn_buf_release(&b);
        return NULL;
    }
    CHECK(rn_buf_append(&b, text + copied, len - copied) == 0);
    return rn_buf_detach(&b, out_len);
}

/* doc_real 0: rn_value_from_json before the decoder; 1: json_parse. */
static int reference(rn_arena *a, const char *text, size_t len, int doc_real,
                     rn_value *out)
{
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, flags, &jerr);
    int rc;

    if (!j && json_error_code(&jerr) == json_error_numeric_overflow) {
        if (doc_real) {
            j = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
        } else {
            size_t wlen;
            char *wide = widen_big_ints(text, len, &wlen);
            if (wide) {
                j = json_loadb(wide, wlen, flags, &jerr);
                rn_free(wide);
            }
        }
    }
    if (!j)
        return RN_EFORMAT;
    rc = from_jansson(a, j, out, 0);
    json_decref(j);
    return rc;
}

/* ---- comparing ------------------------------------------------------ */

static void dump(const char *what, const rn_value *v)
{
    rn_buf b;
    rn_buf_init(&b, 0);
    if (rn_value_to_json(&b, v) == 0)
        fprintf(stderr, "%s: %.*s\n", what, (int)b.len, b.ptr ? b.ptr : "");
    rn_buf_release(&b);
}

/* The decoder with flags against the reference's rc and value. */
static void differ(const uint8_t *data, size_t size, unsigned flags,
                   int ref_rc, const rn_value *ref)
{
    rn_arena a;
    rn_value v;
    rn_errbuf err = {0};
    int rc;

    rn_arena_init(&a, 0);
    rc = rn_jsondec_parse(&a, (const char *)data, size, flags, &v, &err);
    if ((rc == 0) != (ref_rc == 0)) {
        fprintf(stderr, "flags 0x%x: decoder %s (%s), reference %s\n", flags,
                rn_err_name(rc), rc ? err.msg : "", rn_err_name(ref_rc));
        if (!rc)
            dump("decoder", &v);
        abort();
    }
    if (rc) {
        CHECK(rc == RN_EFORMAT || rc == RN_ELIMIT);
        CHECK(ref_rc != RN_ELIMIT || rc == RN_ELIMIT);
        CHECK(err.msg[0] != '\0');
    } else if (!rn_value_identical(&v, ref)) {
        fprintf(stderr, "flags 0x%x: values differ\n", flags);
        dump("decoder", &v);
        dump("reference", ref);
        abort();
    }
    rn_arena_release(&a);
}

/* ---- the round trip ------------------------------------------------- */

static void round_trip(const rn_value *v)
{
    rn_arena a;
    rn_value w;
    rn_errbuf err;
    rn_buf out, again, wire;
    rn_partition *p;
    int rc;

    rn_arena_init(&a, 0);
    rn_buf_init(&out, 0);
    rn_buf_init(&again, 0);
    rn_buf_init(&wire, 0);

    CHECK(rn_value_to_json(&out, v) == 0);
    rc = rn_value_from_json(&a, out.ptr, out.len, &w, &err);
    if (rc) {
        fprintf(stderr, "own output does not parse: %s\n%s\n", err.msg,
                out.ptr);
        abort();
    }
    CHECK(rn_value_compare(v, &w) == 0);
    CHECK(rn_value_hash(v) == rn_value_hash(&w));
    CHECK(rn_value_to_json(&again, &w) == 0);
    CHECK(again.len == out.len && memcmp(again.ptr, out.ptr, out.len) == 0);

    p = rn_partition_new();
    CHECK(p != NULL);
    CHECK(rn_codec_encode(&wire, v, 1) == 0);
    CHECK(rn_codec_decode(wire.ptr, wire.len, p, &err) == 0);
    CHECK(p->n == 1 && rn_value_compare(v, &p->items[0]) == 0);
    rn_partition_unref(p);

    rn_buf_release(&wire);
    rn_buf_release(&again);
    rn_buf_release(&out);
    rn_arena_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rn_arena a;
    rn_value ref, doc;
    int rc, rc_doc;

    rn_arena_init(&a, 0);
    /* jansson needs a pointer even for no bytes */
    rc = reference(&a, size ? (const char *)data : "", size, 0, &ref);
    rc_doc = reference(&a, size ? (const char *)data : "", size, 1, &doc);
    CHECK(rc != RN_ENOMEM && rc_doc != RN_ENOMEM);
    /* The one deliberate difference: jansson skips a NUL byte right after
     * a number or a literal ("0\0", "[true\0]" parse: its look-ahead reads
     * the NUL, and once put back the NUL reads as an empty buffer). RFC
     * 8259 allows no NUL byte outside strings, nor raw inside them: the
     * decoder refuses every text with one. */
    if (memchr(data, 0, size)) {
        rc = rc ? rc : RN_EFORMAT;
        rc_doc = rc_doc ? rc_doc : RN_EFORMAT;
    }
    differ(data, size, 0, rc, &ref);
    differ(data, size, RN_JSONDEC_DOC_REAL, rc_doc, &doc);
    differ(data, size, RN_JSONDEC_DOC_REAL | RN_JSONDEC_VIEW, rc_doc, &doc);
    if (rc == 0)
        round_trip(&ref);
    rn_arena_release(&a);
    return 0;
}
