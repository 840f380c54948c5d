/* Engine-side value operations (core/value/value.c): hashing, ordering,
 * deep copies, JSON out and in. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "value/value.h"

static double make_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* rn_value_to_json of v, compared with want. */
static void expect_json(rn_value v, const char *want)
{
    rn_buf b;
    rn_buf_init(&b, 0);
    assert_int_equal(rn_value_to_json(&b, &v), 0);
    assert_non_null(b.ptr);
    assert_int_equal(strlen(b.ptr), b.len);
    assert_string_equal(b.ptr, want);
    rn_buf_release(&b);
}

/* Parses text, writes it back, compares with want (the canonical form). */
static void expect_json_canonical(const char *text, const char *want)
{
    rn_arena a;
    rn_value v;
    rn_errbuf err = {0};
    rn_buf b;
    rn_arena_init(&a, 0);
    rn_buf_init(&b, 0);
    if (rn_value_from_json(&a, text, strlen(text), &v, &err))
        fail_msg("parsing %s: %s", text, err.msg);
    assert_int_equal(rn_value_to_json(&b, &v), 0);
    assert_string_equal(b.ptr, want);
    rn_buf_release(&b);
    rn_arena_release(&a);
}

/* ---- hashing -------------------------------------------------------- */

/* These numbers are what every worker of every version must compute for
 * the same keys: a mismatch means keyed operations would group wrongly
 * across a cluster of mixed builds. Change them only with a deliberate,
 * versioned change of the hash. */
static void test_hash_stable(void **state)
{
    (void)state;
    rn_value pair[2] = {rn_string("the", 3), rn_int(4171178)};
    rn_field user[1] = {{{"user", 4}, rn_string("x", 1)}};
    static const uint64_t want[] = {
        0x57aeb84e9f09e7ebull, 0xc86b135f3a813ccdull, 0xe16e920cd9cad733ull,
        0x39278e2fd6367528ull, 0xc34260922bea1317ull, 0x3927808f91a67990ull,
        0xb4a6414701d059bcull, 0x6a7db5ab67a92717ull, 0x6c31620bead73dbbull,
        0x41efea6f7f9c730full, 0x52e0e2d43f45d00bull, 0xdc624bd4f983eb8aull,
        0xc00bef0c8e2a1426ull, 0x4b5451e740ea4ceaull, 0x112952b03c55514full,
        0x03557890c4e21b57ull, 0x7411d261601b51b6ull,
    };
    rn_value vs[] = {
        rn_null(),
        rn_bool(0),
        rn_bool(1),
        rn_int(0),
        rn_int(42),
        rn_int(-1),
        rn_int(INT64_MIN),
        rn_double(0.5),
        rn_double(NAN),
        rn_string("", 0),
        rn_string("the", 3),
        rn_string("hello, world: longer than 8", 27),
        rn_bytes("ab", 2),
        rn_list(pair, 2),
        rn_record(user, 1),
        rn_list(NULL, 0),
        rn_record(NULL, 0),
    };
    assert_int_equal(sizeof(vs) / sizeof(vs[0]),
                     sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t h = rn_value_hash(&vs[i]);
        if (h != want[i])
            fail_msg("value %zu: hash 0x%016llx, expected 0x%016llx", i,
                     (unsigned long long)h, (unsigned long long)want[i]);
    }
    assert_int_equal(rn_hash_str("the", 3), 0x52e0e2d43f45d00bull);
}

static void test_hash_equal_numbers_hash_equal(void **state)
{
    (void)state;
    static const struct {
        int64_t i;
        double d;
    } eq[] = {
        {2, 2.0},
        {0, -0.0},
        {0, 0.0},
        {-7, -7.0},
        {(int64_t)1 << 53, 9007199254740992.0},
        {INT64_MIN, -9223372036854775808.0},
        {INT64_MAX - 1023, 9223372036854774784.0},
    };
    for (size_t k = 0; k < sizeof(eq) / sizeof(eq[0]); k++) {
        rn_value a = rn_int(eq[k].i), b = rn_double(eq[k].d);
        assert_int_equal(rn_value_compare(&a, &b), 0);
        assert_true(rn_value_equal(&a, &b));
        assert_int_equal(rn_value_hash(&a), rn_value_hash(&b));
    }
    /* -0.0 and 0.0 as doubles; NaNs of any sign or payload */
    {
        rn_value z1 = rn_double(0.0), z2 = rn_double(-0.0);
        rn_value n1 = rn_double(NAN), n2 = rn_double(-NAN),
                 n3 = rn_double(make_double(0x7FF00000DEADBEEFull));
        assert_int_equal(rn_value_hash(&z1), rn_value_hash(&z2));
        assert_int_equal(rn_value_compare(&n1, &n3), 0);
        assert_int_equal(rn_value_hash(&n1), rn_value_hash(&n2));
        assert_int_equal(rn_value_hash(&n1), rn_value_hash(&n3));
    }
    /* equal numbers inside containers */
    {
        rn_value li[2] = {rn_int(1), rn_string("k", 1)};
        rn_value ld[2] = {rn_double(1.0), rn_string("k", 1)};
        rn_value a = rn_list(li, 2), b = rn_list(ld, 2);
        assert_int_equal(rn_value_compare(&a, &b), 0);
        assert_int_equal(rn_value_hash(&a), rn_value_hash(&b));
    }
    /* and different ones differ */
    {
        rn_value a = rn_int(2), b = rn_double(2.5), s = rn_string("a", 1),
                 y = rn_bytes("a", 1), t = rn_bool(1), one = rn_int(1);
        assert_int_not_equal(rn_value_hash(&a), rn_value_hash(&b));
        assert_int_not_equal(rn_value_hash(&s), rn_value_hash(&y));
        assert_int_not_equal(rn_value_hash(&t), rn_value_hash(&one));
    }
}

/* ---- ordering ------------------------------------------------------- */

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static void test_compare_total_order(void **state)
{
    (void)state;
    rn_value one = rn_int(1), two = rn_int(2);
    rn_value l1[1] = {one}, l12[2] = {one, two}, l2[1] = {two};
    rn_field fa1[1] = {{{"a", 1}, rn_int(1)}};
    rn_field fa2[1] = {{{"a", 1}, rn_int(2)}};
    rn_field fa1b[2] = {{{"a", 1}, rn_int(1)}, {{"b", 1}, rn_null()}};
    rn_field fb0[1] = {{{"b", 1}, rn_int(0)}};
    /* strictly increasing */
    rn_value order[] = {
        rn_null(),
        rn_bool(0),
        rn_bool(1),
        rn_double(-INFINITY),
        rn_double(-1e300),
        rn_int(INT64_MIN),
        rn_double(-1.5),
        rn_int(-1),
        rn_int(0),
        rn_double(0.5),
        rn_int(1),
        rn_int((int64_t)1 << 53),
        rn_int(((int64_t)1 << 53) + 1), /* not equal to 2^53 as a double */
        rn_double(9007199254740994.0),
        rn_int(INT64_MAX),
        rn_double(9223372036854775808.0), /* 2^63: above every int64 */
        rn_double(1e300),
        rn_double(INFINITY),
        rn_double(NAN),
        rn_string("", 0),
        rn_string("a", 1),
        rn_string("a\0", 2),
        rn_string("ab", 2),
        rn_string("b", 1),
        rn_string("\xc3\xa9", 2), /* bytes compare unsigned */
        rn_bytes("", 0),
        rn_bytes("a", 1),
        rn_list(NULL, 0),
        rn_list(l1, 1),
        rn_list(l12, 2),
        rn_list(l2, 1),
        rn_record(NULL, 0),
        rn_record(fa1, 1),
        rn_record(fa1b, 2),
        rn_record(fa2, 1),
        rn_record(fb0, 1),
    };
    size_t n = sizeof(order) / sizeof(order[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = rn_value_compare(&order[i], &order[j]);
            int want = (i > j) - (i < j);
            if (sign(c) != want)
                fail_msg("compare(#%zu, #%zu) = %d, expected %d", i, j, c,
                         want);
            assert_int_equal(rn_value_equal(&order[i], &order[j]), i == j);
        }
    /* the order holds next to an equal value of the other numeric kind */
    {
        rn_value a = rn_double(1.0), b = rn_int(1), c = rn_double(1.0000001);
        assert_int_equal(rn_value_compare(&a, &b), 0);
        assert_true(rn_value_compare(&b, &c) < 0);
        assert_true(rn_value_compare(&c, &b) > 0);
        a = rn_double(-0.5);
        b = rn_int(0);
        assert_true(rn_value_compare(&a, &b) < 0);
        a = rn_double(-1.5);
        b = rn_int(-1);
        assert_true(rn_value_compare(&a, &b) < 0);
        assert_true(rn_value_compare(&b, &a) > 0);
    }
}

/* ---- deep copy ------------------------------------------------------ */

static void test_copy_is_independent(void **state)
{
    (void)state;
    char word[] = "hello", name[] = "key", raw[] = {1, 2, 3};
    rn_value inner[3] = {rn_string(word, 5), rn_bytes(raw, 3), rn_int(7)};
    rn_field fields[2] = {{{name, 3}, rn_list(inner, 3)},
                          {{"e", 1}, rn_string("", 0)}};
    rn_value src = rn_record(fields, 2), copy, before;
    rn_arena a, snap;
    rn_arena_init(&a, 0);
    rn_arena_init(&snap, 0);
    assert_int_equal(rn_value_copy(&snap, &src, &before), 0);
    assert_int_equal(rn_value_copy(&a, &src, &copy), 0);

    assert_int_equal(rn_value_compare(&copy, &src), 0);
    assert_int_equal(rn_value_hash(&copy), rn_value_hash(&src));
    assert_ptr_not_equal(copy.u.fields, src.u.fields);
    assert_ptr_not_equal(copy.u.fields[0].name.ptr, name);
    assert_ptr_not_equal(copy.u.fields[0].value.u.items, inner);
    assert_ptr_not_equal(copy.u.fields[0].value.u.items[0].u.s, word);

    /* change everything the source views */
    word[0] = 'J';
    name[0] = 'X';
    raw[1] = 99;
    inner[2] = rn_int(8);
    fields[1].value = rn_null();
    assert_true(rn_value_compare(&copy, &src) != 0);
    assert_int_equal(rn_value_compare(&copy, &before), 0);
    assert_memory_equal(copy.u.fields[0].value.u.items[0].u.s, "hello", 5);
    assert_memory_equal(copy.u.fields[0].name.ptr, "key", 3);
    assert_int_equal(copy.u.fields[0].value.u.items[1].u.bytes[1], 2);
    assert_int_equal(copy.u.fields[0].value.u.items[2].u.i, 7);
    assert_int_equal(copy.u.fields[1].value.kind, RN_STRING);

    /* a copy of a copy, then the first arena gone */
    {
        rn_arena b;
        rn_value again;
        rn_arena_init(&b, 0);
        assert_int_equal(rn_value_copy(&b, &copy, &again), 0);
        rn_arena_release(&a);
        assert_int_equal(rn_value_compare(&again, &before), 0);
        rn_arena_release(&b);
    }
    assert_true(rn_value_deep_size(&before) >= 2 * sizeof(rn_field) +
                                                 3 * sizeof(rn_value));
    rn_arena_release(&snap);
}

static void test_copy_too_deep(void **state)
{
    (void)state;
    rn_value chain[RN_VALUE_MAX_DEPTH + 2], out;
    rn_arena a;
    rn_arena_init(&a, 0);
    chain[RN_VALUE_MAX_DEPTH + 1] = rn_int(1);
    for (int i = RN_VALUE_MAX_DEPTH; i >= 0; i--)
        chain[i] = rn_list(&chain[i + 1], 1);
    assert_int_equal(rn_value_copy(&a, &chain[1], &out), 0);
    assert_int_equal(rn_value_copy(&a, &chain[0], &out), RN_ELIMIT);
    rn_arena_release(&a);
}

/* ---- JSON out ------------------------------------------------------- */

static void test_json_output_format(void **state)
{
    (void)state;
    rn_value pair[2] = {rn_string("the", 3), rn_int(4171178)};
    rn_field user[1] = {{{"user", 4}, rn_string("x", 1)}};
    rn_value nested_items[2] = {rn_list(NULL, 0), rn_record(NULL, 0)};
    rn_field two[2] = {{{"a", 1}, rn_list(nested_items, 2)},
                       {{"b", 1}, rn_bool(0)}};
    expect_json(rn_list(pair, 2), "[\"the\", 4171178]");
    expect_json(rn_record(user, 1), "{\"user\": \"x\"}");
    expect_json(rn_string("a line", 6), "\"a line\"");
    expect_json(rn_int(42), "42");
    expect_json(rn_int(INT64_MIN), "-9223372036854775808");
    expect_json(rn_null(), "null");
    expect_json(rn_bool(1), "true");
    expect_json(rn_bool(0), "false");
    expect_json(rn_list(NULL, 0), "[]");
    expect_json(rn_record(NULL, 0), "{}");
    expect_json(rn_record(two, 2), "{\"a\": [[], {}], \"b\": false}");
    expect_json(rn_string(NULL, 0), "\"\"");
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    expect_json(rn_string("q\"b\\s/", 6), "\"q\\\"b\\\\s/\"");
    expect_json(rn_string("\n\r\t", 3), "\"\\n\\r\\t\"");
    expect_json(rn_string("\x01\x08\x0c\x1f", 4),
                "\"\\u0001\\u0008\\u000c\\u001f\"");
    expect_json(rn_string("a\0b", 3), "\"a\\u0000b\"");
    expect_json(rn_string("caf\xc3\xa9 \x7f", 7), "\"caf\xc3\xa9 \x7f\"");
    /* record names are escaped the same way */
    {
        rn_field f[1] = {{{"k\"\n", 3}, rn_int(1)}};
        expect_json(rn_record(f, 1), "{\"k\\\"\\n\": 1}");
    }
}

static void test_json_doubles(void **state)
{
    (void)state;
    expect_json(rn_double(2.0), "2.0");
    expect_json(rn_double(0.1), "0.1");
    expect_json(rn_double(-0.0), "-0.0");
    expect_json(rn_double(100.0), "100.0");
    expect_json(rn_double(123456789.0), "123456789.0");
    expect_json(rn_double(1.5e-7), "1.5e-07");
    expect_json(rn_double(1e300), "1e+300");
    expect_json(rn_double(1e21), "1e+21");
    expect_json(rn_double(1.0 / 3), "0.33333333333333331");
    /* 15 digits suffice when they read back exactly */
    expect_json(rn_double(5e-324), "4.94065645841247e-324");
    expect_json(rn_double(NAN), "null");
    expect_json(rn_double(INFINITY), "null");
    expect_json(rn_double(-INFINITY), "null");
}

static void test_json_bytes_base64(void **state)
{
    (void)state;
    expect_json(rn_bytes("", 0), "\"base64:\"");
    expect_json(rn_bytes("f", 1), "\"base64:Zg==\"");
    expect_json(rn_bytes("fo", 2), "\"base64:Zm8=\"");
    expect_json(rn_bytes("foo", 3), "\"base64:Zm9v\"");
    expect_json(rn_bytes("foobar", 6), "\"base64:Zm9vYmFy\"");
    expect_json(rn_bytes("\xff\x00\xfe", 3), "\"base64:/wD+\"");
}

static void test_json_too_deep(void **state)
{
    (void)state;
    rn_value chain[RN_VALUE_MAX_DEPTH + 2];
    rn_buf b;
    chain[RN_VALUE_MAX_DEPTH + 1] = rn_int(1);
    for (int i = RN_VALUE_MAX_DEPTH; i >= 0; i--)
        chain[i] = rn_list(&chain[i + 1], 1);
    rn_buf_init(&b, 0);
    assert_int_equal(rn_value_to_json(&b, &chain[1]), 0);
    rn_buf_reset(&b);
    assert_int_equal(rn_value_to_json(&b, &chain[0]), RN_ELIMIT);
    rn_buf_release(&b);
}

/* ---- JSON in -------------------------------------------------------- */

static void test_from_json_round_trip(void **state)
{
    (void)state;
    static const char *const canonical[] = {
        "[\"the\", 4171178]",
        "{\"user\": \"x\"}",
        "\"a line\"",
        "42",
        "null",
        "true",
        "false",
        "[]",
        "{}",
        "-9223372036854775808",
        "9223372036854775807",
        "[1.5, -0.0, 1e+300, 0.1, 2.0]",
        "{\"a\": [[], {}], \"b\": {\"c\": null}}",
        "\"tab\\t nl\\n ctl\\u0001 q\\\" bs\\\\\"",
        "\"nul\\u0000inside\"",
        "{\"z\": 1, \"a\": 2, \"m\": 3}",
    };
    for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
        rn_arena a;
        rn_value v, w;
        rn_errbuf err = {0};
        rn_buf b;
        rn_arena_init(&a, 0);
        rn_buf_init(&b, 0);
        expect_json_canonical(canonical[i], canonical[i]);
        /* value -> JSON -> value is the same value */
        assert_int_equal(rn_value_from_json(&a, canonical[i],
                                            strlen(canonical[i]), &v, &err),
                         0);
        assert_int_equal(rn_value_to_json(&b, &v), 0);
        assert_int_equal(rn_value_from_json(&a, b.ptr, b.len, &w, &err), 0);
        assert_int_equal(rn_value_compare(&v, &w), 0);
        assert_int_equal(v.kind, w.kind);
        rn_buf_release(&b);
        rn_arena_release(&a);
    }
    /* whitespace and escapes normalise */
    expect_json_canonical(" [ 1 ,\n\t{\"k\" : \"\\u00e9\\/\"} ] ",
                          "[1, {\"k\": \"\xc3\xa9/\"}]");
    expect_json_canonical("1E2", "100.0");
}

static void test_from_json_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t kind;
    } cases[] = {
        {"2", RN_INT},          {"-0", RN_INT},    {"2.0", RN_DOUBLE},
        {"1e2", RN_DOUBLE},     {"\"s\"", RN_STRING}, {"[1]", RN_LIST},
        {"{\"a\":1}", RN_RECORD}, {"true", RN_BOOL}, {"null", RN_NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rn_arena a;
        rn_value v;
        rn_errbuf err = {0};
        rn_arena_init(&a, 0);
        assert_int_equal(rn_value_from_json(&a, cases[i].text,
                                            strlen(cases[i].text), &v, &err),
                         0);
        assert_int_equal(v.kind, cases[i].kind);
        rn_arena_release(&a);
    }
}

/* Integers beyond int64 are doubles (value.h), not an error. */
static void test_from_json_big_integers(void **state)
{
    (void)state;
    const char *text = "[9223372036854775808, -9223372036854775809, "
                       "\"12345678901234567890123\", 9223372036854775807, "
                       "123456789012345678901234567890, -1, "
                       "{\"k\": 18446744073709551616}]";
    rn_arena a;
    rn_value v;
    rn_errbuf err = {0};
    rn_arena_init(&a, 0);
    if (rn_value_from_json(&a, text, strlen(text), &v, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(v.kind, RN_LIST);
    assert_int_equal(v.len, 7);
    assert_int_equal(v.u.items[0].kind, RN_DOUBLE);
    assert_true(v.u.items[0].u.d == 9223372036854775808.0);
    assert_int_equal(v.u.items[1].kind, RN_DOUBLE);
    assert_true(v.u.items[1].u.d == -9223372036854775809.0);
    assert_int_equal(v.u.items[2].kind, RN_STRING);
    assert_int_equal(v.u.items[2].len, 23);
    assert_memory_equal(v.u.items[2].u.s, "12345678901234567890123", 23);
    assert_int_equal(v.u.items[3].kind, RN_INT); /* fits: stays an int */
    assert_int_equal(v.u.items[3].u.i, INT64_MAX);
    assert_int_equal(v.u.items[4].kind, RN_DOUBLE);
    assert_true(v.u.items[4].u.d == 123456789012345678901234567890.0);
    assert_int_equal(v.u.items[5].kind, RN_INT);
    assert_int_equal(v.u.items[6].u.fields[0].value.kind, RN_DOUBLE);
    rn_arena_release(&a);
}

static void test_from_json_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "{", "[1,]", "{\"a\" 1}", "tru",
                                      "[1] 2", "\"\\x\"", "\"\xff\"",
                                      "1e999"};
    char deep[300];
    rn_arena a;
    rn_value v;
    rn_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rn_errbuf err = {0};
        int rc = rn_value_from_json(&a, bad[i], strlen(bad[i]), &v, &err);
        if (rc != RN_EFORMAT)
            fail_msg("\"%s\": expected EFORMAT, got %s", bad[i],
                     rn_err_name(rc));
        assert_non_null(strstr(err.msg, "line"));
    }
    /* RN_VALUE_MAX_DEPTH + 1 nested arrays are fine, one more is not */
    for (int depth = RN_VALUE_MAX_DEPTH + 1; depth <= 140;
         depth += 140 - RN_VALUE_MAX_DEPTH - 1) {
        rn_errbuf err = {0};
        int rc;
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        rc = rn_value_from_json(&a, deep, 2 * (size_t)depth, &v, &err);
        assert_int_equal(rc, depth == RN_VALUE_MAX_DEPTH + 1 ? 0 : RN_ELIMIT);
    }
    {
        rn_errbuf err = {0};
        memset(deep, '[', RN_VALUE_MAX_DEPTH + 2);
        memset(deep + RN_VALUE_MAX_DEPTH + 2, ']', RN_VALUE_MAX_DEPTH + 2);
        assert_int_equal(rn_value_from_json(&a, deep,
                                            2 * (RN_VALUE_MAX_DEPTH + 2), &v,
                                            &err),
                         RN_ELIMIT);
        assert_non_null(strstr(err.msg, "deeper than 64"));
    }
    rn_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_stable),
        cmocka_unit_test(test_hash_equal_numbers_hash_equal),
        cmocka_unit_test(test_compare_total_order),
        cmocka_unit_test(test_copy_is_independent),
        cmocka_unit_test(test_copy_too_deep),
        cmocka_unit_test(test_json_output_format),
        cmocka_unit_test(test_json_string_escapes),
        cmocka_unit_test(test_json_doubles),
        cmocka_unit_test(test_json_bytes_base64),
        cmocka_unit_test(test_json_too_deep),
        cmocka_unit_test(test_from_json_round_trip),
        cmocka_unit_test(test_from_json_kinds),
        cmocka_unit_test(test_from_json_big_integers),
        cmocka_unit_test(test_from_json_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
