/* The JSON decoder (core/value/jsondec.c): what it makes, what it
 * refuses, numbers rounded as strtod rounds them, limits, messages. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "value/jsondec.h"
#include "value/value.h"

typedef struct fixture {
    rn_arena a;
    rn_errbuf err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rn_arena_init(&f->a, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rn_arena_release(&f->a);
    free(f);
    return 0;
}

static int parse_n(fixture *f, const char *text, size_t len, unsigned flags,
                   rn_value *v)
{
    memset(&f->err, 0, sizeof(f->err));
    return rn_jsondec_parse(&f->a, text, len, flags, v, &f->err);
}

static int parse(fixture *f, const char *text, unsigned flags, rn_value *v)
{
    return parse_n(f, text, strlen(text), flags, v);
}

/* Parses text (it must parse) and compares rn_value_to_json of it. */
static void expect_out(fixture *f, const char *text, unsigned flags,
                       const char *want)
{
    rn_value v;
    rn_buf b;
    if (parse(f, text, flags, &v))
        fail_msg("%s: %s", text, f->err.msg);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_value_to_json(&b, &v), 0);
    if (strcmp(b.ptr, want) != 0)
        fail_msg("%s: got %s, want %s", text, b.ptr, want);
    rn_buf_release(&b);
}

/* The string text decodes to (len bytes of want). */
static void expect_str(fixture *f, const char *text, const char *want,
                       size_t len)
{
    rn_value v;
    if (parse(f, text, 0, &v))
        fail_msg("%s: %s", text, f->err.msg);
    assert_int_equal(v.kind, RN_STRING);
    assert_int_equal(v.len, len);
    assert_memory_equal(v.u.s, want, len);
}

/* text must be refused with code, and the message must hold `part`. */
static void expect_fail(fixture *f, const char *text, size_t len,
                        unsigned flags, int code, const char *part)
{
    rn_value v;
    int rc = parse_n(f, text, len, flags, &v);
    if (rc != code)
        fail_msg("\"%.*s\": expected %s, got %s (%s)", (int)len, text,
                 rn_err_name(code), rn_err_name(rc), f->err.msg);
    if (part && !strstr(f->err.msg, part))
        fail_msg("\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, text,
                 f->err.msg, part);
}

static void expect_bad(fixture *f, const char *text)
{
    expect_fail(f, text, strlen(text), 0, RN_EFORMAT, "invalid JSON");
}

static void expect_double_bits(fixture *f, const char *text, double want)
{
    rn_value v;
    if (parse(f, text, 0, &v))
        fail_msg("%s: %s", text, f->err.msg);
    if (v.kind != RN_DOUBLE || memcmp(&v.u.d, &want, sizeof(double)) != 0)
        fail_msg("%s: got %s %.17g, want %.17g", text, rn_kind_name(v.kind),
                 v.u.d, want);
}

static void expect_int(fixture *f, const char *text, unsigned flags,
                       int64_t want)
{
    rn_value v;
    if (parse(f, text, flags, &v))
        fail_msg("%s: %s", text, f->err.msg);
    if (v.kind != RN_INT || v.u.i != want)
        fail_msg("%s: got %s %lld, want %lld", text, rn_kind_name(v.kind),
                 (long long)v.u.i, (long long)want);
}

/* ---- kinds and structure -------------------------------------------- */

static void test_kinds(void **state)
{
    fixture *f = *state;
    rn_value v;

    expect_out(f, "null", 0, "null");
    expect_out(f, "true", 0, "true");
    expect_out(f, "false", 0, "false");
    expect_int(f, "42", 0, 42);
    expect_int(f, "-7", 0, -7);
    expect_double_bits(f, "2.0", 2.0);
    assert_int_equal(parse(f, "[]", 0, &v), 0);
    assert_true(v.kind == RN_LIST && v.len == 0);
    assert_int_equal(parse(f, "{}", 0, &v), 0);
    assert_true(v.kind == RN_RECORD && v.len == 0);
    assert_int_equal(parse(f, "\"\"", 0, &v), 0);
    assert_true(v.kind == RN_STRING && v.len == 0 && v.u.s);

    expect_out(f, "{\"a\": 1, \"b\": [true, null, 2.5, \"x\"]}", 0,
               "{\"a\": 1, \"b\": [true, null, 2.5, \"x\"]}");
    expect_out(f, "[[1,2],[3,[4,5]],{\"a\":[6,{\"b\":{}}]},[]]", 0,
               "[[1, 2], [3, [4, 5]], {\"a\": [6, {\"b\": {}}]}, []]");
    /* keys in document order */
    expect_out(f, "{\"z\":1,\"a\":2,\"m\":{\"y\":null,\"b\":[{}]}}", 0,
               "{\"z\": 1, \"a\": 2, \"m\": {\"y\": null, \"b\": [{}]}}");
}

/* More items and fields than the decoder keeps on the C stack, nested. */
static void test_large_containers(void **state)
{
    fixture *f = *state;
    rn_buf in, want;
    rn_value v;

    rn_buf_init(&in, 0);
    rn_buf_init(&want, 0);
    rn_buf_puts(&in, "[");
    rn_buf_puts(&want, "[");
    for (int i = 0; i < 1000; i++) {
        char tmp[96];
        snprintf(tmp, sizeof(tmp), "%s{\"i\": %d, \"l\": [%d, [%d]]}",
                 i ? ", " : "", i, i, -i);
        rn_buf_puts(&in, tmp);
        rn_buf_puts(&want, tmp);
    }
    rn_buf_puts(&in, "]");
    rn_buf_puts(&want, "]");
    expect_out(f, in.ptr, 0, want.ptr);
    assert_int_equal(parse(f, in.ptr, 0, &v), 0);
    assert_int_equal(v.len, 1000);
    rn_buf_release(&in);
    rn_buf_release(&want);

    /* a record of 300 fields inside a list inside a record */
    rn_buf_init(&in, 0);
    rn_buf_puts(&in, "{\"outer\": [{");
    for (int i = 0; i < 300; i++) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s\"k%d\": [%d]", i ? "," : "", i, i);
        rn_buf_puts(&in, tmp);
    }
    rn_buf_puts(&in, "}], \"after\": true}");
    assert_int_equal(parse(f, in.ptr, 0, &v), 0);
    assert_int_equal(v.len, 2);
    assert_int_equal(v.u.fields[0].value.u.items[0].len, 300);
    assert_int_equal(v.u.fields[0].value.u.items[0].u.fields[299]
                         .value.u.items[0].u.i,
                     299);
    assert_int_equal(v.u.fields[1].value.kind, RN_BOOL);
    rn_buf_release(&in);
}

/* jansson's rule, which json_parse always had: a repeated key keeps its
 * first place and takes the last value. */
static void test_duplicate_keys(void **state)
{
    fixture *f = *state;
    rn_buf in;
    rn_value v;

    expect_out(f, "{\"k\": 1, \"k\": 2}", 0, "{\"k\": 2}");
    expect_out(f, "{\"k\": 1, \"a\": 2, \"k\": [3], \"a\": {\"k\": 4, \"k\": 5}}",
               0, "{\"k\": [3], \"a\": {\"k\": 5}}");
    /* keys differing in length or one byte are different keys */
    expect_out(f, "{\"a\": 1, \"ab\": 2, \"b\": 3, \"a\\u0001\": 4}", 0,
               "{\"a\": 1, \"ab\": 2, \"b\": 3, \"a\\u0001\": 4}");
    /* an escaped key equals the same key written plainly */
    expect_out(f, "{\"\\u0061\": 1, \"a\": 2}", 0, "{\"a\": 2}");

    /* past the linear search: through the hash index, which grows */
    for (int dups = 0; dups < 2; dups++) {
        rn_buf_init(&in, 0);
        rn_buf_puts(&in, "{");
        for (int i = 0; i < 500; i++) {
            char tmp[48];
            snprintf(tmp, sizeof(tmp), "%s\"k%d\": %d", i ? ", " : "", i, i);
            rn_buf_puts(&in, tmp);
        }
        if (dups) /* every key again, values negated */
            for (int i = 0; i < 500; i++) {
                char tmp[48];
                snprintf(tmp, sizeof(tmp), ", \"k%d\": %d", i, -i);
                rn_buf_puts(&in, tmp);
            }
        rn_buf_puts(&in, "}");
        assert_int_equal(parse(f, in.ptr, 0, &v), 0);
        assert_int_equal(v.len, 500);
        for (int i = 0; i < 500; i++) {
            char name[16];
            int n = snprintf(name, sizeof(name), "k%d", i);
            assert_int_equal(v.u.fields[i].name.len, n);
            assert_memory_equal(v.u.fields[i].name.ptr, name, (size_t)n);
            assert_int_equal(v.u.fields[i].value.u.i, dups ? -i : i);
        }
        rn_buf_release(&in);
    }
}

/* ---- strings -------------------------------------------------------- */

static void test_escapes(void **state)
{
    fixture *f = *state;

    expect_str(f, "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
               "\" \\ / \b \f \n \r \t", 15);
    expect_str(f, "\"caf\\u00e9\"", "caf\xc3\xa9", 5);
    expect_str(f, "\"\\u00E9\\u4e2D\"", "\xc3\xa9\xe4\xb8\xad", 5);
    expect_str(f, "\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"",
               "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 11);
    /* U+0000 inside a string value survives */
    expect_str(f, "\"a\\u0000b\"", "a\0b", 3);
    /* surrogate pairs become one 4-byte sequence */
    expect_str(f, "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
    expect_str(f, "\"x\\uD834\\uDD1Ey\"", "x\xf0\x9d\x84\x9ey", 6);
    expect_str(f, "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);
    /* an escaped string next to plain ones, and escapes at both ends */
    expect_out(f, "[\"plain\", \"\\tx\\n\", \"end\"]", 0,
               "[\"plain\", \"\\tx\\n\", \"end\"]");

    expect_bad(f, "\"\\x41\"");
    expect_bad(f, "\"\\a\"");
    expect_bad(f, "\"\\u12\"");
    expect_bad(f, "\"\\u12g4\"");
    expect_bad(f, "\"\\U0041\"");
    expect_bad(f, "\"\\\"");
    expect_bad(f, "\"abc\\");
}

static void test_surrogates(void **state)
{
    fixture *f = *state;
    expect_fail(f, "\"\\ud83d\"", 8, 0, RN_EFORMAT, "surrogate");
    expect_fail(f, "\"\\ud83d x\"", 10, 0, RN_EFORMAT, "surrogate");
    expect_fail(f, "\"\\ude00\"", 8, 0, RN_EFORMAT, "surrogate");
    expect_fail(f, "\"\\ude00\\ud83d\"", 14, 0, RN_EFORMAT, "surrogate");
    expect_fail(f, "\"\\ud83d\\u0041\"", 14, 0, RN_EFORMAT, "surrogate");
    expect_fail(f, "\"\\ud83d\\ud83d\"", 14, 0, RN_EFORMAT, "surrogate");
    expect_bad(f, "\"\\ud83d\\u12\"");
    expect_bad(f, "\"\\ud83d\\n\"");
}

static void test_utf8(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "\"\xc0\xaf\"",             /* overlong '/' */
        "\"\xc1\xbf\"",             /* overlong */
        "\"\xe0\x9f\xbf\"",         /* overlong 3-byte */
        "\"\xf0\x8f\xbf\xbf\"",     /* overlong 4-byte */
        "\"\xed\xa0\x80\"",         /* encoded surrogate D800 */
        "\"\xed\xbf\xbf\"",         /* encoded surrogate DFFF */
        "\"\xf4\x90\x80\x80\"",     /* U+110000 */
        "\"\xf5\x80\x80\x80\"",     /* past F4 */
        "\"\xff\"",
        "\"\x80\"",                 /* a stray continuation byte */
        "\"\xe4\xb8\"",             /* cut before the quote */
        "\"\xc3(\"",                /* not a continuation byte */
        "\"abcdefghij\xc3\"",       /* cut, after the 8-byte scan */
        "\xc3\xa9",                 /* outside a string */
    };

    expect_str(f, "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 "
                  "\xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80\"",
               "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf "
               "\xed\x9f\xbf \xee\x80\x80",
               27);
    expect_str(f, "\"0123456789abcdef\xc3\xa9\x7f\"",
               "0123456789abcdef\xc3\xa9\x7f", 19);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_fail(f, bad[i], strlen(bad[i]), 0, RN_EFORMAT, "invalid JSON");
    expect_fail(f, "\"\xc3\xa9\xe4\"", 5, 0, RN_EFORMAT, "UTF-8");
}

static void test_control_bytes(void **state)
{
    fixture *f = *state;
    expect_fail(f, "\"a\tb\"", 5, 0, RN_EFORMAT, "control byte");
    expect_fail(f, "\"a\nb\"", 5, 0, RN_EFORMAT, "control byte");
    expect_fail(f, "\"0123456789\x1f\"", 13, 0, RN_EFORMAT, "control byte");
    expect_fail(f, "\"a\0b\"", 5, 0, RN_EFORMAT, "control byte");
    expect_fail(f, "[1]\0", 4, 0, RN_EFORMAT, "end of input expected");
    /* jansson skipped a NUL right after a number or a literal */
    expect_fail(f, "0\0", 2, 0, RN_EFORMAT, "end of input expected");
    expect_fail(f, "1.5\0", 4, 0, RN_EFORMAT, "end of input expected");
    expect_fail(f, "[true\0]", 7, 0, RN_EFORMAT, "',' or ']' expected");
    expect_str(f, "\"\x7f\"", "\x7f", 1); /* DEL is not a control byte */
}

/* U+0000 is refused in keys (jansson's keys were C strings) and kept in
 * values. */
static void test_nul_in_key(void **state)
{
    fixture *f = *state;
    expect_fail(f, "{\"a\\u0000b\": 1}", 15, 0, RN_EFORMAT, "U+0000");
    expect_out(f, "{\"a\": \"\\u0000\"}", 0, "{\"a\": \"\\u0000\"}");
}

/* Strings without escapes view the text with RN_JSONDEC_VIEW, and are
 * copied without it; decoded strings are always the decoder's. */
static void test_view(void **state)
{
    fixture *f = *state;
    const char *text = "{\"plain\": \"value\", \"esc\\n\": \"a\\tb\"}";
    const char *end = text + strlen(text);
    rn_value v;
    const rn_field *fl;

    assert_int_equal(parse(f, text, RN_JSONDEC_VIEW, &v), 0);
    fl = v.u.fields;
    assert_ptr_equal(fl[0].name.ptr, text + 2);
    assert_ptr_equal(fl[0].value.u.s, text + 11);
    assert_true(fl[1].name.ptr < text || fl[1].name.ptr >= end);
    assert_true(fl[1].value.u.s < text || fl[1].value.u.s >= end);
    assert_memory_equal(fl[1].name.ptr, "esc\n", 4);

    assert_int_equal(parse(f, text, 0, &v), 0);
    fl = v.u.fields;
    for (int i = 0; i < 2; i++) {
        assert_true(fl[i].name.ptr < text || fl[i].name.ptr >= end);
        assert_true(fl[i].value.u.s < text || fl[i].value.u.s >= end);
    }
    assert_memory_equal(fl[0].value.u.s, "value", 5);
}

/* ---- numbers -------------------------------------------------------- */

static void test_integers(void **state)
{
    fixture *f = *state;
    rn_value v;

    expect_int(f, "9223372036854775807", 0, INT64_MAX);
    expect_int(f, "-9223372036854775808", 0, INT64_MIN);
    expect_int(f, "-0", 0, 0);
    expect_int(f, "0", 0, 0);

    /* beyond int64: that integer is a double */
    expect_double_bits(f, "9223372036854775808", 9223372036854775808.0);
    expect_double_bits(f, "-9223372036854775809", -9223372036854775809.0);
    expect_double_bits(f, "10000000000000000000000", 1e22);
    assert_int_equal(parse(f, "[1, 99999999999999999999, -0]", 0, &v), 0);
    assert_int_equal(v.u.items[0].kind, RN_INT);
    assert_int_equal(v.u.items[1].kind, RN_DOUBLE);
    assert_int_equal(v.u.items[2].kind, RN_INT);
}

/* RN_JSONDEC_DOC_REAL (json_parse): one integer beyond int64 makes all of
 * the text's integers doubles, as jansson's JSON_DECODE_INT_AS_REAL did:
 * -0 becomes -0.0. */
static void test_doc_real(void **state)
{
    fixture *f = *state;
    rn_value v;
    const char *text = "{\"a\": 1, \"b\": -0, \"c\": [99999999999999999999, "
                       "\"9\", 2.5], \"d\": 9223372036854775807}";

    assert_int_equal(parse(f, text, RN_JSONDEC_DOC_REAL, &v), 0);
    assert_int_equal(v.u.fields[0].value.kind, RN_DOUBLE);
    assert_true(v.u.fields[0].value.u.d == 1.0);
    assert_int_equal(v.u.fields[1].value.kind, RN_DOUBLE);
    assert_true(v.u.fields[1].value.u.d == 0.0 &&
                signbit(v.u.fields[1].value.u.d));
    assert_true(v.u.fields[2].value.u.items[0].u.d == 1e20);
    assert_int_equal(v.u.fields[2].value.u.items[1].kind, RN_STRING);
    assert_int_equal(v.u.fields[3].value.kind, RN_DOUBLE);
    assert_true(v.u.fields[3].value.u.d == 9223372036854775807.0);
    /* no big integer: ints stay ints */
    assert_int_equal(parse(f, "[1, -0, 9223372036854775807]",
                           RN_JSONDEC_DOC_REAL, &v),
                     0);
    assert_int_equal(v.u.items[1].kind, RN_INT);
    assert_int_equal(v.u.items[2].kind, RN_INT);
    /* with a big integer and an error after it: still an error */
    expect_fail(f, "[99999999999999999999, 1,]", 26, RN_JSONDEC_DOC_REAL,
                RN_EFORMAT, "byte 25");
    /* an integer too big for a double */
    {
        char big[400];
        memset(big, '9', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        expect_fail(f, big, strlen(big), RN_JSONDEC_DOC_REAL, RN_EFORMAT,
                    "range of a double");
        expect_fail(f, big, strlen(big), 0, RN_EFORMAT, "range of a double");
    }
}

static void test_reals(void **state)
{
    fixture *f = *state;
    static const char *const texts[] = {
        "0.1", "0.30000000000000004", "2.2250738585072011e-308",
        "2.2250738585072014e-308", "4.9e-324", "5e-324", "2.4703282292062327e-324",
        "1.7976931348623157e308", "1.7976931348623158e308", "9007199254740993.0",
        "9007199254740992.0", "123456789012345678901e-5", "1e22", "1e23",
        "1e-22", "1e-23", "8.5e-1", "3.141592653589793238462643383279",
        "-2.5E+3", "123456.789e3", "0.000001", "1E0", "1e+0", "1e-0",
        "0.0000000000000000000000000000000000000001", "1e-400", "-1e-400",
        "100000000000000000000000000000000000000000000000000.0",
        "7.2057594037927933e16", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "0e400", "0.0e-9999999999999999999999", "1e-99999999999999999999",
        "0.00000000000000000000000000000000000000000000000000001e55",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        expect_double_bits(f, texts[i], strtod(texts[i], NULL));

    /* -0.0 keeps its sign; -0 (an integer) is 0 */
    expect_double_bits(f, "-0.0", -0.0);
    expect_double_bits(f, "-0e5", -0.0);
    expect_double_bits(f, "-0.000", -0.0);

    /* many numbers of every shape, against strtod */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        char text[64];
        uint64_t m;
        int digits, exp, point, k = 0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        digits = 1 + (int)((s >> 33) % 20);
        exp = (int)((s >> 40) % 80) - 40;
        point = (int)((s >> 50) % (uint64_t)(digits + 1));
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        m = s;
        if (s & 1)
            text[k++] = '-';
        for (int j = 0; j < digits; j++) {
            if (j == point && j > 0)
                text[k++] = '.';
            text[k++] = (char)('0' + (j == 0 ? 1 + m % 9 : m % 10));
            m /= 10;
            if (!m)
                m = s ^ (uint64_t)j;
        }
        if (i & 1)
            k += snprintf(text + k, sizeof(text) - (size_t)k, "e%d", exp);
        else if (point == 0 || point >= digits)
            k += snprintf(text + k, sizeof(text) - (size_t)k, ".5");
        text[k] = '\0';
        expect_double_bits(f, text, strtod(text, NULL));
    }
}

static void test_number_syntax(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "01", "-01", "00", "1.", "1.e5", ".5", "-", "-a", "+1", "1e", "1e+",
        "1E-", "0x10", "NaN", "Infinity", "-Infinity", "1.5.2", "--1", "1e5e5",
        "1 2", "- 1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, bad[i]);
    /* overflow of a double is an error; underflow is 0 */
    expect_fail(f, "1e400", 5, 0, RN_EFORMAT, "range of a double");
    expect_fail(f, "[-1e400]", 8, 0, RN_EFORMAT, "byte 1");
    expect_fail(f, "1.8e308", 7, 0, RN_EFORMAT, "range of a double");
    expect_double_bits(f, "1e-400", 0.0);
}

/* ---- the text around the value -------------------------------------- */

static void test_literals(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"tru", "truex", "True", "nul", "NULL",
                                      "fals", "falsey", "nulll", "t"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, bad[i]);
    expect_out(f, "[true,false,null]", 0, "[true, false, null]");
}

static void test_whitespace_and_trailing(void **state)
{
    fixture *f = *state;
    rn_value v;

    expect_out(f, " \t\r\n [ 1 ,\n\t{ \"a\" : null } ] \r\n", 0,
               "[1, {\"a\": null}]");
    expect_out(f, "\n42\n", 0, "42");
    expect_fail(f, "", 0, 0, RN_EFORMAT, "end of input");
    assert_int_equal(parse_n(f, NULL, 0, 0, &v), RN_EFORMAT);
    expect_fail(f, "   \n ", 5, 0, RN_EFORMAT, "value expected");
    expect_fail(f, "\f1", 2, 0, RN_EFORMAT, "invalid token");
    expect_fail(f, "\xc2\xa0" "1", 3, 0, RN_EFORMAT, "invalid token");
    expect_fail(f, "1 2", 3, 0, RN_EFORMAT, "end of input expected");
    expect_fail(f, "{} x", 4, 0, RN_EFORMAT, "end of input expected");
    expect_fail(f, "[1]]", 4, 0, RN_EFORMAT, "end of input expected");
    expect_fail(f, "\"a\"\"b\"", 6, 0, RN_EFORMAT, "end of input expected");
    expect_bad(f, "[1,]");
    expect_bad(f, "[,1]");
    expect_bad(f, "[1 2]");
    expect_bad(f, "{\"a\" 1}");
    expect_bad(f, "{\"a\":}");
    expect_bad(f, "{\"a\":1,}");
    expect_bad(f, "{a:1}");
    expect_bad(f, "{'a':1}");
    expect_bad(f, "{1:1}");
    expect_bad(f, "[");
    expect_bad(f, "{");
    expect_bad(f, "{\"a\"");
    expect_bad(f, "[1, 2");
    expect_bad(f, "\"abc");
    expect_bad(f, "/* c */ 1");
}

/* A value at depth 64 (the outermost is 0) is fine, at 65 not: 65 nested
 * empty lists parse, 66 do not, nor 65 around a scalar. Deep texts stop
 * there, whatever their length. */
static void test_depth(void **state)
{
    fixture *f = *state;
    static char deep[200002];
    rn_value v;
    int n = RN_VALUE_MAX_DEPTH + 1;

    memset(deep, '[', (size_t)n);
    memset(deep + n, ']', (size_t)n);
    assert_int_equal(parse_n(f, deep, 2 * (size_t)n, 0, &v), 0);

    memset(deep, '[', (size_t)n + 1);
    memset(deep + n + 1, ']', (size_t)n + 1);
    expect_fail(f, deep, 2 * (size_t)n + 2, 0, RN_ELIMIT, "deeper than 64");

    memset(deep, '[', (size_t)n);
    deep[n] = '1';
    memset(deep + n + 1, ']', (size_t)n);
    expect_fail(f, deep, 2 * (size_t)n + 1, 0, RN_ELIMIT, "byte 65");

    /* records count the same */
    {
        rn_buf b;
        rn_buf_init(&b, 0);
        for (int i = 0; i < n; i++)
            rn_buf_puts(&b, "{\"a\":");
        rn_buf_puts(&b, "1");
        for (int i = 0; i < n; i++)
            rn_buf_puts(&b, "}");
        expect_fail(f, b.ptr, b.len, 0, RN_ELIMIT, "deeper than 64");
        rn_buf_release(&b);
    }

    /* 100,000 levels: refused at the 66th, no deep recursion */
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    expect_fail(f, deep, 200000, 0, RN_ELIMIT, "deeper than 64");
}

/* ---- messages, flags, memory ---------------------------------------- */

static void test_messages(void **state)
{
    fixture *f = *state;
    char long_text[100];

    expect_fail(f, "[1, 2", 5, 0, RN_EFORMAT,
                "invalid JSON: ',' or ']' expected at byte 5 (line 1, "
                "column 6) in \"[1, 2\"");
    expect_fail(f, "{\"a\": 1,\n \"b\": tru}", 19, 0, RN_EFORMAT,
                "invalid token at byte 15 (line 2, column 7)");
    /* binary garbage is quoted escaped */
    expect_fail(f, "\xff\x00\xfe" "A", 4, 0, RN_EFORMAT,
                "in \"\\xff\\x00\\xfeA\"");
    /* the quote stops after 40 bytes */
    memset(long_text, 'x', sizeof(long_text));
    expect_fail(f, long_text, sizeof(long_text), 0, RN_EFORMAT,
                "in \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
}

static void test_bad_flags(void **state)
{
    fixture *f = *state;
    expect_fail(f, "1", 1, 0x80, RN_EINVAL, "flags");
}

static void test_out_of_memory(void **state)
{
    fixture *f = *state;
    rn_arena small;
    rn_value v;
    rn_errbuf err = {0};
    rn_buf b;

    /* the arena refuses */
    rn_arena_init(&small, 4096);
    small.limit = 4096;
    rn_buf_init(&b, 0);
    rn_buf_puts(&b, "[");
    for (int i = 0; i < 2000; i++)
        rn_buf_puts(&b, i ? ", \"a\\n\"" : "\"a\\n\"");
    rn_buf_puts(&b, "]");
    assert_int_equal(rn_jsondec_parse(&small, b.ptr, b.len, 0, &v, &err),
                     RN_ENOMEM);
    assert_non_null(strstr(err.msg, "out of memory"));
    rn_arena_release(&small);

    /* the heap refuses the decoder's stack (past its 64 inline items) */
    rn_alloc_fail_after(1);
    assert_int_equal(parse_n(f, b.ptr, b.len, 0, &v), RN_ENOMEM);
    rn_alloc_fail_after(0);
    assert_int_equal(parse_n(f, b.ptr, b.len, 0, &v), 0);
    assert_int_equal(v.len, 2000);
    rn_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_containers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surrogates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_real, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_number_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whitespace_and_trailing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
