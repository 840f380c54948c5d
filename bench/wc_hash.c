/* Plain-C word-count anchor from the company benchmark kit (shared/bench). */
/*
 * wc_hash.c - straightforward single-threaded word count with a hash table.
 *
 * Reference point for "what a plain C program does": read(2) in 4 MiB chunks,
 * split on ASCII whitespace (the set Python's str.split() uses for ASCII:
 * space, \t \n \v \f \r and \x1c-\x1f), FNV-1a hash, open addressing with
 * linear probing, words copied into an arena.  Prints total words, distinct
 * words, the top K (default 10) by count, and elapsed seconds.
 *
 * usage: wc_hash [--top K] FILE...
 * build: gcc -O2 -o wc_hash wc_hash.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct { uint64_t hash; uint64_t count; uint64_t off; uint32_t len; } entry_t;

static entry_t *tab;
static size_t cap, used;
static char *arena;
static size_t arena_len, arena_cap;

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) { perror("realloc"); exit(1); }
    return q;
}

static void grow(void) {
    size_t ncap = cap ? cap * 2 : 1 << 16;
    entry_t *nt = calloc(ncap, sizeof(entry_t));
    if (!nt) { perror("calloc"); exit(1); }
    for (size_t i = 0; i < cap; i++) {
        if (!tab[i].count) continue;
        size_t j = tab[i].hash & (ncap - 1);
        while (nt[j].count) j = (j + 1) & (ncap - 1);
        nt[j] = tab[i];
    }
    free(tab);
    tab = nt;
    cap = ncap;
}

static void add_word(const char *w, uint32_t len, uint64_t h) {
    if (used * 2 >= cap) grow();
    size_t i = h & (cap - 1);
    for (;;) {
        entry_t *e = &tab[i];
        if (!e->count) break;
        if (e->hash == h && e->len == len && memcmp(arena + e->off, w, len) == 0) { e->count++; return; }
        i = (i + 1) & (cap - 1);
    }
    if (arena_len + len > arena_cap) {
        arena_cap = arena_cap ? arena_cap * 2 : 1 << 20;
        while (arena_len + len > arena_cap) arena_cap *= 2;
        arena = xrealloc(arena, arena_cap);
    }
    memcpy(arena + arena_len, w, len);
    tab[i].hash = h; tab[i].count = 1; tab[i].off = arena_len; tab[i].len = len;
    arena_len += len;
    used++;
}

static unsigned char is_ws[256];

static int cmp_count_desc(const void *a, const void *b) {
    const entry_t *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(arena + x->off, arena + y->off, n);
    return c ? c : (int)x->len - (int)y->len;
}

int main(int argc, char **argv) {
    int top = 10, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--top")) { top = atoi(argv[2]); first = 3; }
    if (first >= argc) { fprintf(stderr, "usage: wc_hash [--top K] FILE...\n"); return 2; }
    const char *wsch = " \t\n\v\f\r\x1c\x1d\x1e\x1f";
    for (const char *p = wsch; *p; p++) is_ws[(unsigned char)*p] = 1;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const size_t BUF = 4 << 20;
    char *buf = malloc(BUF);
    char *carry = NULL;            /* partial word spanning two reads */
    size_t carry_len = 0, carry_cap = 0;
    uint64_t total = 0, bytes = 0;
    for (int a = first; a < argc; a++) {
        int fd = open(argv[a], O_RDONLY);
        if (fd < 0) { perror(argv[a]); return 1; }
        ssize_t n;
        while ((n = read(fd, buf, BUF)) > 0) {
            bytes += (uint64_t)n;
            size_t i = 0;
            while (i < (size_t)n) {
                while (i < (size_t)n && is_ws[(unsigned char)buf[i]]) {
                    if (carry_len) {   /* word ended exactly at the previous chunk end */
                        uint64_t h = 1469598103934665603ULL;
                        for (size_t k = 0; k < carry_len; k++) { h ^= (unsigned char)carry[k]; h *= 1099511628211ULL; }
                        add_word(carry, (uint32_t)carry_len, h); total++; carry_len = 0;
                    }
                    i++;
                }
                if (i >= (size_t)n) break;
                size_t s = i;
                while (i < (size_t)n && !is_ws[(unsigned char)buf[i]]) i++;
                if (i == (size_t)n) {  /* word may continue in the next chunk */
                    size_t L = i - s;
                    if (carry_len + L > carry_cap) { carry_cap = (carry_len + L) * 2; carry = xrealloc(carry, carry_cap); }
                    memcpy(carry + carry_len, buf + s, L);
                    carry_len += L;
                    break;
                }
                if (carry_len) {       /* finish a word that started in the previous chunk */
                    size_t L = i - s;
                    if (carry_len + L > carry_cap) { carry_cap = (carry_len + L) * 2; carry = xrealloc(carry, carry_cap); }
                    memcpy(carry + carry_len, buf + s, L);
                    carry_len += L;
                    uint64_t h = 1469598103934665603ULL;
                    for (size_t k = 0; k < carry_len; k++) { h ^= (unsigned char)carry[k]; h *= 1099511628211ULL; }
                    add_word(carry, (uint32_t)carry_len, h); total++; carry_len = 0;
                } else {
                    uint64_t h = 1469598103934665603ULL;
                    for (size_t k = s; k < i; k++) { h ^= (unsigned char)buf[k]; h *= 1099511628211ULL; }
                    add_word(buf + s, (uint32_t)(i - s), h); total++;
                }
            }
        }
        if (n < 0) { perror(argv[a]); return 1; }
        close(fd);
        if (carry_len) {               /* file ended inside a word */
            uint64_t h = 1469598103934665603ULL;
            for (size_t k = 0; k < carry_len; k++) { h ^= (unsigned char)carry[k]; h *= 1099511628211ULL; }
            add_word(carry, (uint32_t)carry_len, h); total++; carry_len = 0;
        }
    }
    /* compact and sort entries by count */
    size_t m = 0;
    for (size_t i = 0; i < cap; i++) if (tab[i].count) tab[m++] = tab[i];
    qsort(tab, m, sizeof(entry_t), cmp_count_desc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    for (int k = 0; k < top && (size_t)k < m; k++)
        printf("%10llu %.*s\n", (unsigned long long)tab[k].count, (int)tab[k].len, arena + tab[k].off);
    printf("total_words %llu distinct_words %zu bytes %llu elapsed_s %.3f MB/s %.1f\n",
           (unsigned long long)total, m, (unsigned long long)bytes, dt, bytes / 1e6 / dt);
    return 0;
}
