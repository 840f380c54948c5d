/* The word-count example's words.split, through the SDK harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <runnel/harness.h>

#define WORDS RN_TEST_BUILD_DIR "/examples/wordcount/libwords.so"

static void split_case(const char *params, const char *in_json,
                       const char *want)
{
    char err[512];
    rn_harness *h = rn_harness_new(WORDS, "split", params, err, sizeof(err));
    if (!h)
        fail_msg("harness: %s", err);
    assert_int_equal(rn_harness_push_json(h, in_json), 0);
    assert_int_equal(rn_harness_finish(h), 0);
    if (strcmp(rn_harness_output_json(h), want) != 0)
        fail_msg("split %s of %s:\n got: %s\nwant: %s", params ? params : "-",
                 in_json, rn_harness_output_json(h), want);
    rn_harness_free(h);
}

static void test_split_basic(void **state)
{
    (void)state;
    split_case(NULL, "\"the quick  brown\\tfox\"",
               "\"the\"\n\"quick\"\n\"brown\"\n\"fox\"\n");
    split_case(NULL, "\"\"", "");
    split_case(NULL, "\"   \\t\\n  \"", "");
    split_case(NULL, "\"one\"", "\"one\"\n");
    split_case(NULL, "\"  lead and trail  \"", "\"lead\"\n\"and\"\n\"trail\"\n");
}

static void test_split_long_words_and_lower(void **state)
{
    (void)state;
    /* words longer than 8 bytes, separators at every offset of a chunk */
    split_case(NULL, "\"abcdefghijklmnop q abcdefgh abcdefghi\"",
               "\"abcdefghijklmnop\"\n\"q\"\n\"abcdefgh\"\n\"abcdefghi\"\n");
    split_case("{lower: true}", "\"Hello WORLD abcdefghijKLM xY\"",
               "\"hello\"\n\"world\"\n\"abcdefghijklm\"\n\"xy\"\n");
    /* without lower, case is kept */
    split_case("{lower: false}", "\"Hello WORLD\"", "\"Hello\"\n\"WORLD\"\n");
    /* bytes >= 0x80 (UTF-8) are word bytes and never lower-cased */
    split_case("{lower: true}", "\"\\u00c9t\\u00c9 Caf\\u00e9\"",
               "\"\xc3\x89t\xc3\x89\"\n\"caf\xc3\xa9\"\n");
}

static void test_split_control_bytes(void **state)
{
    (void)state;
    /* a control byte that is not whitespace stays inside the word, also
     * when the 8-byte scan meets it */
    split_case(NULL, "\"ab\\u0001cdefghij kl\"",
               "\"ab\\u0001cdefghij\"\n\"kl\"\n");
    split_case(NULL, "\"a\\rb\\u000bc\\fd\"", "\"a\"\n\"b\"\n\"c\"\n\"d\"\n");
}

/* The tokenizer works on 64-byte blocks: random lines of every length up
 * to several blocks, words across block ends, upper case on either side
 * of a block end, against a byte-at-a-time reference. */
static int ref_space(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13);
}

static void test_split_matches_reference(void **state)
{
    static const unsigned char alphabet[] = {'a', 'b', 'Z', 'Q', ' ', ' ',
                                             '\t', '\n', 0x01, 0xc3, 'x'};
    enum { LINES = 400, MAXLEN = 300 };
    static unsigned char lines[LINES][MAXLEN];
    size_t lens[LINES];
    char err[512];
    unsigned seed = 12345;
    (void)state;
    for (int lower = 0; lower < 2; lower++) {
        size_t nwords = 0;
        rn_harness *h = rn_harness_new(WORDS, "split",
                                       lower ? "{lower: true}" : NULL, err,
                                       sizeof(err));
        if (!h)
            fail_msg("harness: %s", err);
        for (int l = 0; l < LINES; l++) {
            seed = seed * 1103515245u + 12345u;
            lens[l] = (seed >> 8) % MAXLEN;
            for (size_t k = 0; k < lens[l]; k++) {
                seed = seed * 1103515245u + 12345u;
                /* every third line letters only: words over 64 bytes */
                lines[l][k] = alphabet[(seed >> 16) %
                                       (l % 3 ? sizeof(alphabet) : 4)];
            }
            rn_value v = rn_string((const char *)lines[l], lens[l]);
            assert_int_equal(rn_harness_push(h, &v), 0);
        }
        assert_int_equal(rn_harness_finish(h), 0);
        for (int l = 0; l < LINES; l++) {
            const unsigned char *line = lines[l];
            size_t i = 0, len = lens[l];
            while (i < len) {
                const rn_value *w;
                size_t st;
                while (i < len && ref_space(line[i]))
                    i++;
                if (i == len)
                    break;
                st = i;
                while (i < len && !ref_space(line[i]))
                    i++;
                w = rn_harness_output(h, nwords++);
                if (!w)
                    fail_msg("line %d: word %zu missing", l, nwords - 1);
                assert_int_equal(w->len, i - st);
                for (size_t k = 0; k < w->len; k++) {
                    unsigned char c = line[st + k];
                    if (lower && c >= 'A' && c <= 'Z')
                        c = (unsigned char)(c + 32);
                    if ((unsigned char)w->u.s[k] != c)
                        fail_msg("line %d: word %zu differs at byte %zu", l,
                                 nwords - 1, k);
                }
            }
        }
        assert_int_equal(rn_harness_count(h), nwords);
        rn_harness_free(h);
    }
}

static void test_split_rejects_non_strings(void **state)
{
    char err[512];
    rn_harness *h = rn_harness_new(WORDS, "split", NULL, err, sizeof(err));
    (void)state;
    assert_non_null(h);
    assert_int_equal(rn_harness_push_json(h, "42"), 0);
    assert_true(rn_harness_finish(h) < 0);
    assert_non_null(strstr(rn_harness_error(h), "expected a string, got int"));
    assert_non_null(strstr(rn_harness_error(h), "words.split"));
    rn_harness_free(h);
}

static void test_bad_param(void **state)
{
    char err[512];
    (void)state;
    assert_null(rn_harness_new(WORDS, "split", "{lower: maybe}", err, sizeof(err)));
    assert_non_null(strstr(err, "lower"));
    assert_null(rn_harness_new(WORDS, "split", "{upper: true}", err, sizeof(err)));
    assert_non_null(strstr(err, "unknown parameter 'upper'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_basic),
        cmocka_unit_test(test_split_long_words_and_lower),
        cmocka_unit_test(test_split_control_bytes),
        cmocka_unit_test(test_split_matches_reference),
        cmocka_unit_test(test_split_rejects_non_strings),
        cmocka_unit_test(test_bad_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
