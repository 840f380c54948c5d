/*
 * JSON decoding alone, one thread, no I/O (not a test): the lines of a
 * JSON-lines file are read into memory, then decoded ROUNDS times by
 *   - rn_jsondec_parse with RN_JSONDEC_VIEW | RN_JSONDEC_DOC_REAL (what
 *     json_parse does), and without flags (strings copied:
 *     rn_value_from_json);
 *   - jansson's json_loadb + json_decref, the flags json_parse used
 *     before the decoder: a lower bound of what it cost, since it also
 *     converted jansson's tree into values.
 * Prints the best round of each: CPU ns per line and MB/s of text.
 *
 *   bench_jsondec FILE [LINES (default 1000000)] [ROUNDS (default 5)]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/arena.h"
#include "base/error.h"
#include "value/jsondec.h"

typedef struct line {
    const char *p;
    size_t n;
} line;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass; returns CPU seconds, -1 on a decoding error. */
static double pass(const line *ls, size_t n, int how, rn_arena *a)
{
    double t0 = cpu_now();
    rn_errbuf err;
    for (size_t i = 0; i < n; i++) {
        if (how < 2) {
            rn_value v;
            unsigned fl = how == 0 ? RN_JSONDEC_VIEW | RN_JSONDEC_DOC_REAL : 0;
            if (rn_jsondec_parse(a, ls[i].p, ls[i].n, fl, &v, &err)) {
                fprintf(stderr, "line %zu: %s\n", i + 1, err.msg);
                return -1;
            }
            if ((i & 511) == 511) /* a batch's scratch memory */
                rn_arena_reset(a);
        } else {
            json_error_t jerr;
            json_t *j = json_loadb(ls[i].p, ls[i].n,
                                   JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            if (!j) {
                fprintf(stderr, "line %zu: %s\n", i + 1, jerr.text);
                return -1;
            }
            json_decref(j);
        }
    }
    rn_arena_reset(a);
    return cpu_now() - t0;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {
        "rn_jsondec_parse, VIEW | DOC_REAL (json_parse)",
        "rn_jsondec_parse, strings copied (rn_value_from_json)",
        "jansson json_loadb + json_decref (no conversion)"};
    size_t want = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    int rounds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
    char *text = NULL;
    size_t len = 0, cap = 0, n = 0, bytes = 0;
    line *ls = NULL;
    FILE *f;
    rn_arena a;
    int rc = 1;

    rn_arena_init(&a, 0);
    if (argc < 2 || rounds < 1) {
        fprintf(stderr, "usage: bench_jsondec FILE [LINES] [ROUNDS]\n");
        rn_arena_release(&a);
        return 2;
    }
    if (!(f = fopen(argv[1], "rb"))) {
        perror(argv[1]);
        goto done;
    }
    /* the first `want` lines, in one buffer */
    for (;;) {
        int c = getc(f);
        if (len == cap) {
            char *nt;
            cap = cap ? cap * 2 : 1 << 20;
            if (!(nt = realloc(text, cap)))
                goto done;
            text = nt;
        }
        if (c == EOF)
            break;
        text[len++] = (char)c;
        if (c == '\n' && ++n == want)
            break;
    }
    fclose(f);
    f = NULL;
    if (!(ls = calloc(n + 1, sizeof(*ls))))
        goto done;
    n = 0;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i == len || text[i] == '\n') {
            if (i > start) {
                ls[n].p = text + start;
                ls[n].n = i - start;
                bytes += i - start;
                n++;
            }
            start = i + 1;
        }
    }
    printf("%zu lines, %zu bytes of JSON, best of %d rounds\n", n, bytes,
           rounds);
    for (int how = 0; how < 3; how++) {
        double best = -1;
        for (int r = 0; r < rounds; r++) {
            double t = pass(ls, n, how, &a);
            if (t < 0)
                goto done;
            if (best < 0 || t < best)
                best = t;
        }
        printf("%-56s %7.1f ns/line %8.1f MB/s\n", names[how],
               best * 1e9 / (double)n, (double)bytes / best / 1e6);
    }
    rc = 0;
done:
    rn_arena_release(&a);
    if (f)
        fclose(f);
    free(ls);
    free(text);
    return rc;
}
