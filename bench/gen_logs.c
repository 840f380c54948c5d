/*
 * gen_logs.c - deterministic JSON-lines access logs for the grouping
 * benchmark (bench/shuffle.sh, issue 12).
 *
 *   gen_logs N OUT [--seed S] [--users U] [--zipf s] [--ref REF]
 *
 * Writes N records, one a line:
 *
 *   {"user": "u004213", "bytes": 5123, "status": 200, "url": "/api/items/48213"}
 *
 *   user    Zipf(s) over a space of U users (default 1,000,000, s = 1.0):
 *           rank r is drawn from an alias table (O(1) a draw) and mapped
 *           to the id (r * M + 123457) mod U with M = 7919 (or the next odd
 *           number coprime with U): a bijection that spreads the hot users
 *           over the id space instead of u000000..u000099. The name is
 *           "u" and the id in at least 6 digits
 *   bytes   log-uniform-ish: 128 + a number below 2^k, k uniform in
 *           4..16 (128 .. ~65,600)
 *   status  200 (85%), 304 (7%), 404 (5%), 500 (3%)
 *   url     one of 8 sections and a number below 100,000
 *
 * The stream depends only on --seed, --users and --zipf: the first M
 * records of a run with N > M are the records of a run with M, so a
 * smaller data set is a prefix of the larger one.
 *
 * --ref REF writes the expected answer, computed from the generated
 * numbers (not from the text): one line per user that occurs,
 * "USER SUM COUNT", ordered by the user's name (byte order).
 *
 * A benchmark helper, not part of runnel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: deterministic, fast, good enough for benchmark data */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
/* A number in [0, n), from the top 32 bits (n far below 2^32). */
static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* Alias table (Vose) over ranks 1..n with weights 1 / r^s. */
typedef struct alias {
    uint32_t n;
    double *prob;    /* [n]: keep column i with this probability */
    uint32_t *other; /* [n]: else take this one */
} alias;

static int alias_init(alias *a, uint32_t n, double s)
{
    double *w = malloc(n * sizeof(*w));
    uint32_t *small = malloc(n * sizeof(*small)), *large = malloc(n * sizeof(*large));
    uint32_t ns = 0, nl = 0;
    double total = 0;
    a->n = n;
    a->prob = malloc(n * sizeof(*a->prob));
    a->other = malloc(n * sizeof(*a->other));
    if (!w || !small || !large || !a->prob || !a->other) {
        free(w), free(small), free(large);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        total += (w[i] = pow((double)i + 1, -s));
    for (uint32_t i = 0; i < n; i++) {
        w[i] = w[i] * n / total;
        if (w[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t lo = small[--ns], hi = large[nl - 1];
        a->prob[lo] = w[lo];
        a->other[lo] = hi;
        w[hi] -= 1.0 - w[lo];
        if (w[hi] < 1.0) {
            nl--;
            small[ns++] = hi;
        }
    }
    /* what is left is 1 up to rounding */
    while (nl) {
        a->prob[large[--nl]] = 1.0;
        a->other[large[nl]] = large[nl];
    }
    while (ns) {
        a->prob[small[--ns]] = 1.0;
        a->other[small[ns]] = small[ns];
    }
    free(w), free(small), free(large);
    return 0;
}

/* A rank, 0-based (0 is the most frequent). */
static uint32_t alias_draw(const alias *a)
{
    uint64_t r = rng_next();
    uint32_t i = (uint32_t)(((r >> 32) * (uint64_t)a->n) >> 32);
    double u = (double)(r & 0xFFFFFFFFu) / 4294967296.0;
    return u < a->prob[i] ? i : a->other[i];
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static const char *const SECTIONS[] = {
    "/api/items/", "/api/cart/", "/static/img/", "/static/js/",
    "/search/",    "/user/",     "/blog/",       "/login/",
};

static int usage(void)
{
    fprintf(stderr, "usage: gen_logs N OUT [--seed S] [--users U] [--zipf s] "
                    "[--ref REF]\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t n, seed = 42, users = 1000000, mult = 7919;
    double s = 1.0;
    const char *out_path, *ref_path = NULL;
    char *end;
    FILE *out;
    alias a;
    int64_t *sum = NULL;
    uint64_t *count = NULL;
    static char buf[1 << 20];
    size_t used = 0;

    if (argc < 3)
        return usage();
    errno = 0;
    n = strtoull(argv[1], &end, 10);
    if (errno || *end || argv[1][0] == '-')
        return usage();
    out_path = argv[2];
    for (int i = 3; i < argc; i++) {
        if (i + 1 >= argc)
            return usage();
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--users"))
            users = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--zipf"))
            s = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--ref"))
            ref_path = argv[++i];
        else
            return usage();
    }
    if (users < 1 || users > 100000000 || !(s > 0)) {
        fprintf(stderr, "gen_logs: --users 1..100000000, --zipf > 0\n");
        return 2;
    }
    while (gcd(mult, users) != 1) /* keep rank -> id a bijection */
        mult += 2;
    if (alias_init(&a, (uint32_t)users, s)) {
        fprintf(stderr, "gen_logs: out of memory\n");
        return 1;
    }
    if (ref_path && (!(sum = calloc(users, sizeof(*sum))) ||
                     !(count = calloc(users, sizeof(*count))))) {
        fprintf(stderr, "gen_logs: out of memory\n");
        return 1;
    }
    if (!(out = fopen(out_path, "w"))) {
        fprintf(stderr, "gen_logs: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    rng_state = seed;
    for (uint64_t k = 0; k < n; k++) {
        uint32_t rank = alias_draw(&a);
        uint32_t id = (uint32_t)(((uint64_t)rank * mult + 123457) % users);
        uint32_t bytes = 128 + rng_below(1u << (4 + rng_below(13)));
        uint32_t p = rng_below(100);
        int status = p < 85 ? 200 : p < 92 ? 304 : p < 97 ? 404 : 500;
        uint32_t sec = rng_below(8), item = rng_below(100000);
        if (sizeof(buf) - used < 256) {
            fwrite(buf, 1, used, out);
            used = 0;
        }
        used += (size_t)snprintf(buf + used, sizeof(buf) - used,
                                 "{\"user\": \"u%06" PRIu32 "\", \"bytes\": %" PRIu32
                                 ", \"status\": %d, \"url\": \"%s%" PRIu32 "\"}\n",
                                 id, bytes, status, SECTIONS[sec], item);
        if (sum) {
            sum[id] += bytes;
            count[id]++;
        }
    }
    fwrite(buf, 1, used, out);
    if (fclose(out)) {
        fprintf(stderr, "gen_logs: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    if (ref_path) {
        /* ids of up to 6 digits sort by name as by number; longer ones
         * (users > 1,000,000) come after all 6-digit ones only when
         * sorted by name: the caller sorts (sort, LC_ALL=C) to be safe */
        FILE *ref = fopen(ref_path, "w");
        uint64_t distinct = 0;
        if (!ref) {
            fprintf(stderr, "gen_logs: %s: %s\n", ref_path, strerror(errno));
            return 1;
        }
        for (uint64_t id = 0; id < users; id++)
            if (count[id]) {
                fprintf(ref, "u%06" PRIu64 " %" PRId64 " %" PRIu64 "\n", id, sum[id],
                        count[id]);
                distinct++;
            }
        if (fclose(ref)) {
            fprintf(stderr, "gen_logs: %s: %s\n", ref_path, strerror(errno));
            return 1;
        }
        fprintf(stderr, "gen_logs: %" PRIu64 " records, %" PRIu64 " distinct users\n", n,
                distinct);
    }
    return 0;
}
