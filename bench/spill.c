/*
 * Spill runs (core/spill): write, read and merge throughput (a benchmark,
 * not a test).
 *
 *   bench_spill [--records 20000000] [--runs 8] [--keys 10000000]
 *               [--dir DIR] [--level 1] [--block BYTES]
 *
 * The shape of a keyed count that spilled --runs times: each run holds
 * records/runs distinct keys drawn at random from --keys, 10-byte
 * strings, each with an int accumulator (its count in the run), sorted
 * by rn_value_hash as the table would write them. Keys recur across runs,
 * so the merge combines most of them.
 *
 * Phases, each timed alone (generating and sorting the records is not):
 *   write      rn_run_writer_add + finish for every run
 *   read       every run read back whole (rn_run_reader_next)
 *   merge      the k-way merge of all runs, summing each key's counts
 *   merge_run  the same merge written as one new run (rn_merge_to_run)
 * MB/s are of records before compression (the 8-byte hash and the
 * encoded key and count: what the table handed over), "ratio" is those
 * bytes over the bytes on disk. Prints one `RESULT phase=...` line each.
 * The merged counts are checked against the total.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/error.h"
#include "spill/merge.h"
#include "spill/run.h"
#include "value/value.h"

#define KEY_LEN 10

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the process (one thread): on a shared machine the wall
 * clock also counts other tenants' work, this does not. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Key id -> 10 lower-case letters and digits (a scrambled id: keys that
 * look like words or ids, not like a counter). */
static void key_of(uint32_t id, char *out)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    for (int i = 0; i < KEY_LEN; i++) {
        out[i] = al[x % 36];
        x /= 36;
        if (i == 5)
            x = x * 0xBF58476D1CE4E5B9ull + id;
    }
}

typedef struct rec {
    uint64_t hash;
    uint32_t id;
    uint32_t count;
} rec;

static int by_hash(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static uint64_t rng = 0x853C49E6748FEA9Bull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what, const rn_errbuf *err)
{
    fprintf(stderr, "bench_spill: %s: %s\n", what, err->msg);
    exit(1);
}

typedef struct sum_state {
    uint64_t total, keys, combined;
} sum_state;

static int sum_combine(void *arg, const rn_merge_group *g, rn_value *out,
                       rn_arena *scratch, rn_errbuf *err)
{
    int64_t s = 0;
    (void)scratch;
    (void)err;
    for (size_t i = 0; i < g->n; i++)
        s += g->values[i][1].u.i;
    ((sum_state *)arg)->combined++;
    out[0] = *g->key;
    out[1] = rn_int(s);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t records = 20000000, keys = 10000000;
    int runs = 8, level = 1;
    size_t block = 0;
    const char *base = getenv("TMPDIR");
    char dir[4096];
    char **paths;
    rn_run_write_opts opts;
    rn_errbuf err;
    uint64_t raw_total = 0, file_total = 0, count_total = 0, nrec_total = 0;
    double t0, c0, t_write = 0, c_write = 0;

    if (!base || !*base)
        base = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            records = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
            keys = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            base = argv[++i];
        else if (!strcmp(argv[i], "--level") && i + 1 < argc)
            level = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--block") && i + 1 < argc)
            block = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_spill [--records N] [--runs K] "
                            "[--keys N] [--dir DIR] [--level L] "
                            "[--block BYTES]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > RN_MERGE_MAX_FANIN || !keys || keys > UINT32_MAX) {
        fprintf(stderr, "bench_spill: 1..%d runs, 1..2^32 keys\n",
                RN_MERGE_MAX_FANIN);
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/bench-spill-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    opts.codec = RN_RUN_ZSTD;
    opts.level = level;
    opts.block_size = block;
    paths = calloc((size_t)runs, sizeof(char *));

    /* ---- write ---- */
    {
        uint64_t per = records / (uint64_t)runs;
        rec *r = malloc(per * sizeof(rec));
        for (int k = 0; k < runs; k++) {
            rn_run_writer *w;
            rn_run_info info;
            size_t n = 0;
            /* draws, then duplicates folded into counts: a table's
             * content */
            for (uint64_t i = 0; i < per; i++) {
                char key[KEY_LEN];
                rn_value kv;
                r[i].id = (uint32_t)(next_rand() % keys);
                key_of(r[i].id, key);
                kv = rn_string(key, KEY_LEN);
                r[i].hash = rn_value_hash(&kv);
                r[i].count = 1;
            }
            qsort(r, per, sizeof(rec), by_hash);
            for (uint64_t i = 0; i < per; i++) {
                if (n && r[n - 1].id == r[i].id)
                    r[n - 1].count++;
                else
                    r[n++] = r[i];
            }
            t0 = now_s();
            c0 = cpu_s();
            if (rn_run_writer_open(&w, dir, 2, &opts, &err))
                die("open", &err);
            for (size_t i = 0; i < n; i++) {
                char key[KEY_LEN];
                rn_value v[2];
                key_of(r[i].id, key);
                v[0] = rn_string(key, KEY_LEN);
                v[1] = rn_int(r[i].count);
                if (rn_run_writer_add(w, r[i].hash, v, &err))
                    die("add", &err);
            }
            if (rn_run_writer_finish(w, &info, &err))
                die("finish", &err);
            t_write += now_s() - t0;
            c_write += cpu_s() - c0;
            raw_total += info.raw_bytes;
            file_total += info.file_bytes;
            nrec_total += info.records;
            count_total += per;
            paths[k] = strdup(info.path);
            rn_run_info_release(&info);
        }
        free(r);
    }
    printf("RESULT phase=write runs=%d records=%llu raw_MB=%.1f file_MB=%.1f "
           "ratio=%.2f seconds=%.3f MBps=%.1f cpu_seconds=%.3f cpu_MBps=%.1f "
           "cpu_Mrecps=%.2f\n",
           runs, (unsigned long long)nrec_total, raw_total / 1e6,
           file_total / 1e6, (double)raw_total / (double)file_total, t_write,
           raw_total / 1e6 / t_write, c_write, raw_total / 1e6 / c_write,
           nrec_total / 1e6 / c_write);

    /* ---- read ---- */
    {
        uint64_t n = 0;
        t0 = now_s();
        c0 = cpu_s();
        for (int k = 0; k < runs; k++) {
            rn_run_reader *rd;
            const rn_value *v;
            uint64_t h;
            int rc;
            if (rn_run_reader_open(&rd, paths[k], &err))
                die("read", &err);
            while ((rc = rn_run_reader_next(rd, &h, &v, &err)) == 1)
                n++;
            if (rc)
                die("read", &err);
            rn_run_reader_free(rd);
        }
        t0 = now_s() - t0;
        c0 = cpu_s() - c0;
        printf("RESULT phase=read records=%llu seconds=%.3f MBps=%.1f "
               "cpu_seconds=%.3f cpu_MBps=%.1f cpu_Mrecps=%.2f\n",
               (unsigned long long)n, t0, raw_total / 1e6 / t0, c0,
               raw_total / 1e6 / c0, n / 1e6 / c0);
    }

    /* ---- merge ---- */
    {
        rn_run_reader **rd = calloc((size_t)runs, sizeof(*rd));
        rn_merge_input *in = calloc((size_t)runs, sizeof(*in));
        rn_merge *m;
        rn_merge_group g;
        uint64_t groups = 0, sum = 0;
        size_t before = rn_alloc_in_use();
        int rc;
        rn_alloc_peak_reset();
        t0 = now_s();
        c0 = cpu_s();
        for (int k = 0; k < runs; k++) {
            if (rn_run_reader_open(&rd[k], paths[k], &err))
                die("merge", &err);
            in[k] = rn_run_reader_input(rd[k]);
        }
        if (rn_merge_open(&m, in, (size_t)runs, &err))
            die("merge", &err);
        while ((rc = rn_merge_next(m, &g, &err)) == 1) {
            for (size_t i = 0; i < g.n; i++)
                sum += (uint64_t)g.values[i][1].u.i;
            groups++;
        }
        if (rc)
            die("merge", &err);
        t0 = now_s() - t0;
        c0 = cpu_s() - c0;
        if (sum != count_total) {
            fprintf(stderr, "bench_spill: merged counts %llu, expected %llu\n",
                    (unsigned long long)sum,
                    (unsigned long long)count_total);
            return 1;
        }
        printf("RESULT phase=merge runs=%d records=%llu keys=%llu "
               "seconds=%.3f MBps=%.1f cpu_seconds=%.3f cpu_MBps=%.1f "
               "cpu_Mrecps=%.2f peak_MiB=%.1f\n",
               runs, (unsigned long long)nrec_total,
               (unsigned long long)groups, t0, raw_total / 1e6 / t0, c0,
               raw_total / 1e6 / c0, nrec_total / 1e6 / c0,
               (rn_alloc_peak() - before) / 1048576.0);
        rn_merge_free(m);
        for (int k = 0; k < runs; k++)
            rn_run_reader_free(rd[k]);

        /* ---- merge into a run ---- */
        {
            sum_state st = {0, 0, 0};
            rn_run_info info;
            t0 = now_s();
            c0 = cpu_s();
            for (int k = 0; k < runs; k++) {
                if (rn_run_reader_open(&rd[k], paths[k], &err))
                    die("merge_run", &err);
                in[k] = rn_run_reader_input(rd[k]);
            }
            if (rn_merge_to_run(in, (size_t)runs, dir, &opts, sum_combine,
                                &st, &info, &err))
                die("merge_run", &err);
            t0 = now_s() - t0;
            c0 = cpu_s() - c0;
            printf("RESULT phase=merge_run records_in=%llu records_out=%llu "
                   "combined=%llu out_MB=%.1f seconds=%.3f MBps=%.1f "
                   "cpu_seconds=%.3f cpu_MBps=%.1f cpu_Mrecps=%.2f\n",
                   (unsigned long long)nrec_total,
                   (unsigned long long)info.records,
                   (unsigned long long)st.combined, info.file_bytes / 1e6, t0,
                   raw_total / 1e6 / t0, c0, raw_total / 1e6 / c0,
                   nrec_total / 1e6 / c0);
            unlink(info.path);
            rn_run_info_release(&info);
            for (int k = 0; k < runs; k++)
                rn_run_reader_free(rd[k]);
        }
        free(rd);
        free(in);
    }

    for (int k = 0; k < runs; k++) {
        unlink(paths[k]);
        free(paths[k]);
    }
    free(paths);
    rmdir(dir);
    return 0;
}
