/* Corpus generator from the company benchmark kit (shared/bench), kept here
 * so benchmarks and the demo can build it. */
/*
 * gen_corpus.c - deterministic English-like text corpus generator.
 *
 * Vocabulary: ~100 common English words at the top ranks, then pseudo-English
 * words built from syllables, all distinct, ordered so that frequent ranks get
 * shorter words.  Tokens are drawn from a Zipf(s) distribution over the ranks
 * (Walker/Vose alias table, O(1) per token).  Lines hold 5..20 words separated
 * by single spaces and end in '\n'.  The output never exceeds SIZE bytes and
 * ends on a line boundary.
 *
 * The token stream depends only on --seed, --vocab and --zipf, not on --files:
 * splitting into N files cuts the same stream at line boundaries, so the
 * concatenation of the parts is byte-identical to the single-file output.
 *
 * usage: gen_corpus SIZE OUT [--files N] [--seed S] [--vocab V] [--zipf s]
 *   SIZE  bytes, with optional K/M/G suffix (binary: KiB/MiB/GiB)
 *   OUT   output file; with --files N > 1, a directory that receives
 *         part-00000.txt .. part-(N-1).txt
 *
 * build: gcc -O2 -o gen_corpus gen_corpus.c -lm
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------- RNG: splitmix64 (deterministic, fast) ---------- */
static uint64_t rng_state;
static inline uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline uint32_t rng_below(uint32_t n) { /* unbiased enough for n << 2^32 */
    return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* ---------- vocabulary ---------- */
static const char *COMMON[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "was", "on",
    "with", "he", "as", "be", "by", "at", "his", "this", "had", "not", "are",
    "but", "from", "or", "have", "an", "they", "which", "one", "you", "were",
    "her", "all", "she", "there", "would", "their", "we", "him", "been", "has",
    "when", "who", "will", "more", "no", "if", "out", "so", "said", "what",
    "up", "its", "about", "into", "than", "them", "can", "only", "other",
    "new", "some", "could", "time", "these", "two", "may", "then", "do",
    "first", "any", "my", "now", "such", "like", "our", "over", "man", "me",
    "even", "most", "made", "after", "also", "did", "many", "before", "must",
    "through", "back", "years", "where", "much", "your", "way", "well", "down",
    "should", "because", "each", "just", "those", "people", "how", "too",
    "little", "state", "good", "very", "make", "world", "still", "own", "see",
    "men", "work", "long", "get", "here", "between", "both", "life", "being",
    "under", "never", "day", "same", "another", "know", "while", "last",
};
#define NCOMMON (sizeof(COMMON) / sizeof(COMMON[0]))

static const char *ONSET[] = {
    "", "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r",
    "s", "t", "v", "w", "y", "z", "bl", "br", "ch", "cl", "cr", "dr", "fl",
    "fr", "gl", "gr", "pl", "pr", "sc", "sh", "sk", "sl", "sm", "sn", "sp",
    "st", "str", "sw", "th", "tr", "tw", "wh", "qu", "ph", "spl",
};
static const char *NUCLEUS[] = {
    "a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "ie", "oa",
    "oo", "ou", "ue", "y", "au", "oi",
};
static const char *CODA[] = {
    "", "", "", "", "b", "ck", "d", "ft", "g", "l", "ld", "lk", "ll", "lt",
    "m", "mp", "n", "nd", "ng", "nk", "nt", "p", "r", "rd", "rk", "rm", "rn",
    "rt", "s", "sh", "sk", "ss", "st", "t", "th", "x", "ze", "ve", "se", "ne",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct { char *s; uint32_t len; uint32_t order; } word_t;

/* simple open-addressing string set for uniqueness */
static char **set_tab;
static size_t set_cap;
static uint64_t hash_str(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}
static int set_insert(char *s) { /* 1 if inserted, 0 if present */
    size_t n = strlen(s);
    size_t i = hash_str(s, n) & (set_cap - 1);
    while (set_tab[i]) {
        if (strcmp(set_tab[i], s) == 0) return 0;
        i = (i + 1) & (set_cap - 1);
    }
    set_tab[i] = s;
    return 1;
}

static int cmp_len(const void *a, const void *b) {
    const word_t *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

static word_t *build_vocab(uint32_t V) {
    word_t *w = calloc(V, sizeof(word_t));
    set_cap = 1;
    while (set_cap < (size_t)V * 4) set_cap <<= 1;
    set_tab = calloc(set_cap, sizeof(char *));
    uint32_t n = 0;
    for (size_t i = 0; i < NCOMMON && n < V; i++) {
        char *s = strdup(COMMON[i]);
        if (set_insert(s)) { w[n].s = s; w[n].len = strlen(s); w[n].order = n; n++; }
    }
    uint32_t ncommon = n;
    char buf[64];
    while (n < V) {
        /* syllables: 1..4, weighted toward 2-3 */
        uint32_t r = rng_below(100);
        int syl = r < 15 ? 1 : r < 55 ? 2 : r < 88 ? 3 : 4;
        size_t p = 0;
        for (int k = 0; k < syl; k++) {
            const char *o = ONSET[rng_below(NELEM(ONSET))];
            const char *u = NUCLEUS[rng_below(NELEM(NUCLEUS))];
            const char *c = (k == syl - 1 || rng_below(3) == 0) ? CODA[rng_below(NELEM(CODA))] : "";
            p += (size_t)snprintf(buf + p, sizeof(buf) - p, "%s%s%s", o, u, c);
        }
        /* occasional English-like suffix */
        r = rng_below(100);
        const char *suf = r < 6 ? "ing" : r < 11 ? "ed" : r < 16 ? "s" : r < 19 ? "ly" : r < 21 ? "tion" : "";
        p += (size_t)snprintf(buf + p, sizeof(buf) - p, "%s", suf);
        buf[p] = 0;
        char *s = strdup(buf);
        if (set_insert(s)) { w[n].s = s; w[n].len = (uint32_t)p; w[n].order = n; n++; }
        else free(s);
    }
    /* Common words keep their ranks; pseudo-words are ordered shortest first. */
    qsort(w + ncommon, V - ncommon, sizeof(word_t), cmp_len);
    return w;
}

/* ---------- alias table for Zipf(s) over ranks 1..V ---------- */
static uint32_t *alias_idx, *alias_thr; /* threshold in [0, 2^32) */
static void build_alias(uint32_t V, double s) {
    double *p = malloc(sizeof(double) * V), sum = 0;
    for (uint32_t i = 0; i < V; i++) { p[i] = 1.0 / pow((double)(i + 1), s); sum += p[i]; }
    for (uint32_t i = 0; i < V; i++) p[i] = p[i] * V / sum;
    alias_idx = malloc(sizeof(uint32_t) * V);
    alias_thr = malloc(sizeof(uint32_t) * V);
    uint32_t *small = malloc(sizeof(uint32_t) * V), *large = malloc(sizeof(uint32_t) * V);
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < V; i++) { if (p[i] < 1.0) small[ns++] = i; else large[nl++] = i; }
    while (ns && nl) {
        uint32_t a = small[--ns], g = large[--nl];
        alias_thr[a] = (uint32_t)fmin(p[a] * 4294967296.0, 4294967295.0);
        alias_idx[a] = g;
        p[g] = (p[g] + p[a]) - 1.0;
        if (p[g] < 1.0) small[ns++] = g; else large[nl++] = g;
    }
    while (nl) { uint32_t g = large[--nl]; alias_thr[g] = 0xFFFFFFFFu; alias_idx[g] = g; }
    while (ns) { uint32_t a = small[--ns]; alias_thr[a] = 0xFFFFFFFFu; alias_idx[a] = a; }
    free(p); free(small); free(large);
}
static inline uint32_t sample_rank(uint32_t V) {
    uint64_t r = rng_next();
    uint32_t i = (uint32_t)(((r >> 32) * (uint64_t)V) >> 32);
    return ((uint32_t)r < alias_thr[i]) ? i : alias_idx[i];
}

/* ---------- size parsing ---------- */
static uint64_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    uint64_t mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1ULL << 10; break;
    case 'm': case 'M': mul = 1ULL << 20; break;
    case 'g': case 'G': mul = 1ULL << 30; break;
    case 0: break;
    default: fprintf(stderr, "bad size: %s\n", s); exit(2);
    }
    return (uint64_t)(v * (double)mul);
}

static void usage(void) {
    fprintf(stderr,
            "usage: gen_corpus SIZE OUT [--files N] [--seed S] [--vocab V] [--zipf s]\n"
            "  SIZE accepts K/M/G suffixes (binary). With --files N>1, OUT is a directory\n"
            "  that receives part-00000.txt ... Defaults: --seed 42 --vocab 100000 --zipf 1.0\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3) usage();
    uint64_t size = parse_size(argv[1]);
    const char *out = argv[2];
    uint32_t nfiles = 1, V = 100000;
    uint64_t seed = 42;
    double zs = 1.0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--files") && i + 1 < argc) nfiles = (uint32_t)strtoul(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) V = (uint32_t)strtoul(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--zipf") && i + 1 < argc) zs = strtod(argv[++i], 0);
        else usage();
    }
    if (nfiles < 1 || V < NCOMMON + 1) usage();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rng_state = seed;
    word_t *w = build_vocab(V);
    build_alias(V, zs);
    rng_state = seed ^ 0xA5A5A5A5DEADBEEFULL; /* token stream */

    if (nfiles > 1 && mkdir(out, 0777) != 0 && errno != EEXIST) { perror(out); return 1; }

    const size_t BUFSZ = 1 << 20;
    char *buf = malloc(BUFSZ + 4096);
    char line[4096];
    char path[4096];
    uint64_t total = 0, nlines = 0, nwords = 0;
    uint32_t f = 0;
    FILE *fp = NULL;
    size_t bl = 0;
#define LIMIT(f) ((f) == nfiles - 1 ? size : size / nfiles * ((uint64_t)(f) + 1))
#define OPEN(f) do { \
        if (nfiles > 1) snprintf(path, sizeof path, "%s/part-%05u.txt", out, (unsigned)(f)); \
        else snprintf(path, sizeof path, "%s", out); \
        fp = fopen(path, "wb"); if (!fp) { perror(path); return 1; } } while (0)
#define CLOSE() do { if (bl) fwrite(buf, 1, bl, fp); bl = 0; \
        if (fclose(fp) != 0) { perror(path); return 1; } } while (0)
    OPEN(0);
    uint64_t limit = LIMIT(0);
    for (;;) {
        uint32_t nw = 5 + rng_below(16);          /* 5..20 words */
        size_t ll = 0;
        for (uint32_t k = 0; k < nw; k++) {
            const word_t *x = &w[sample_rank(V)];
            if (k) line[ll++] = ' ';
            memcpy(line + ll, x->s, x->len);
            ll += x->len;
        }
        line[ll++] = '\n';
        if (total + ll > size) break;              /* never exceed SIZE */
        while (f < nfiles - 1 && total + ll > limit) { /* cut at a line boundary */
            CLOSE(); f++; OPEN(f); limit = LIMIT(f);
        }
        memcpy(buf + bl, line, ll);
        bl += ll;
        total += ll; nlines++; nwords += nw;
        if (bl >= BUFSZ) { fwrite(buf, 1, bl, fp); bl = 0; }
    }
    CLOSE();
    while (++f < nfiles) { OPEN(f); CLOSE(); }    /* tiny SIZE: leave empty parts */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "gen_corpus: %llu bytes, %llu lines, %llu words, vocab %u, zipf %.3f, seed %llu, %u file(s), %.2f s\n",
            (unsigned long long)total, (unsigned long long)nlines, (unsigned long long)nwords, V, zs,
            (unsigned long long)seed, nfiles, dt);
    return 0;
}
