/*
 * avro_gen: writes the Avro benchmark's data set (issue 6) with avro-c,
 * an independent writer: N page views (the schema of examples/avro:
 * a nested record with an enum, strings, an int, longs, a union with
 * null and an array of strings), deflate codec, 64 KiB blocks.
 * Deterministic (xorshift64*, fixed seed). Prints the number of records
 * and the sum of `bytes` (what the readers must find).
 *
 *   avro_gen OUT.avro [N]        N defaults to 4000000
 *
 * Built by bench/avro.sh: cc -O2 avro_gen.c -lavro.
 */
#include <avro.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char SCHEMA[] =
    "{\"type\": \"record\", \"name\": \"PageView\", \"namespace\": "
    "\"example\", \"fields\": ["
    "{\"name\": \"user\", \"type\": {\"type\": \"record\", \"name\": "
    "\"User\", \"fields\": ["
    "{\"name\": \"name\", \"type\": \"string\"},"
    "{\"name\": \"country\", \"type\": {\"type\": \"enum\", \"name\": "
    "\"Country\", \"symbols\": [\"DE\", \"FR\", \"JP\", \"US\"]}}]}},"
    "{\"name\": \"url\", \"type\": \"string\"},"
    "{\"name\": \"status\", \"type\": \"int\"},"
    "{\"name\": \"bytes\", \"type\": \"long\"},"
    "{\"name\": \"referrer\", \"type\": [\"null\", \"string\"], "
    "\"default\": null},"
    "{\"name\": \"tags\", \"type\": {\"type\": \"array\", \"items\": "
    "\"string\"}},"
    "{\"name\": \"ts\", \"type\": {\"type\": \"long\", \"logicalType\": "
    "\"timestamp-micros\"}}]}";

static const char *const PATHS[] = {"/",          "/search",
                                    "/cart",      "/product/1",
                                    "/product/2", "/help",
                                    "/account",   "/checkout/confirm"};
static const char *const REFS[] = {"https://ex.org/",
                                   "https://www.google.com/search",
                                   "https://news.example.com/a/123"};
static const char *const TAGS[] = {"new", "mobile", "ad", "returning"};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static unsigned pick(unsigned n) { return (unsigned)(next() >> 33) % n; }

#define CHECK(x)                                                         \
    do {                                                                 \
        if (x) {                                                         \
            fprintf(stderr, "avro_gen: %s: %s\n", #x, avro_strerror()); \
            return 1;                                                    \
        }                                                                \
    } while (0)

int main(int argc, char **argv)
{
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_file_writer_t w;
    avro_value_t rec, user, f, br, el;
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 4000000;
    int64_t sum = 0, ts = 1700000000000000LL;
    char name[32], url[64];

    if (argc < 2 || n < 0) {
        fprintf(stderr, "usage: avro_gen OUT.avro [N]\n");
        return 2;
    }
    CHECK(avro_schema_from_json_length(SCHEMA, sizeof(SCHEMA) - 1, &schema));
    iface = avro_generic_class_from_schema(schema);
    CHECK(!iface);
    CHECK(avro_generic_value_new(iface, &rec));
    remove(argv[1]);
    CHECK(avro_file_writer_create_with_codec(argv[1], schema, &w, "deflate",
                                             64 << 10));
    for (long i = 0; i < n; i++) {
        unsigned u = pick(5000), nt = pick(4);
        int64_t bytes = 100 + (int64_t)pick(200000);
        avro_value_reset(&rec);
        CHECK(avro_value_get_by_index(&rec, 0, &user, NULL));
        snprintf(name, sizeof(name), "user%04u", u);
        CHECK(avro_value_get_by_index(&user, 0, &f, NULL));
        CHECK(avro_value_set_string(&f, name));
        CHECK(avro_value_get_by_index(&user, 1, &f, NULL));
        CHECK(avro_value_set_enum(&f, (int)(u % 4)));
        if (pick(2))
            snprintf(url, sizeof(url), "%s?q=%u", PATHS[pick(8)],
                     pick(100000));
        else
            snprintf(url, sizeof(url), "%s", PATHS[pick(8)]);
        CHECK(avro_value_get_by_index(&rec, 1, &f, NULL));
        CHECK(avro_value_set_string(&f, url));
        CHECK(avro_value_get_by_index(&rec, 2, &f, NULL));
        CHECK(avro_value_set_int(&f, pick(100) < 3 ? 500 : 200));
        CHECK(avro_value_get_by_index(&rec, 3, &f, NULL));
        CHECK(avro_value_set_long(&f, bytes));
        CHECK(avro_value_get_by_index(&rec, 4, &f, NULL));
        if (pick(10) < 4) {
            CHECK(avro_value_set_branch(&f, 0, &br));
            CHECK(avro_value_set_null(&br));
        } else {
            CHECK(avro_value_set_branch(&f, 1, &br));
            CHECK(avro_value_set_string(&br, REFS[pick(3)]));
        }
        CHECK(avro_value_get_by_index(&rec, 5, &f, NULL));
        for (unsigned k = 0; k < nt; k++) {
            CHECK(avro_value_append(&f, &el, NULL));
            CHECK(avro_value_set_string(&el, TAGS[(u + k) % 4]));
        }
        ts += 1 + (int64_t)pick(2000000);
        CHECK(avro_value_get_by_index(&rec, 6, &f, NULL));
        CHECK(avro_value_set_long(&f, ts));
        CHECK(avro_file_writer_append_value(w, &rec));
        sum += bytes;
    }
    CHECK(avro_file_writer_close(w));
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    printf("%ld %" PRId64 "\n", n, sum);
    return 0;
}
