/* The k-way merge of sorted runs (core/spill/merge.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "spill/merge.h"
#include "spill/run.h"
#include "testutil.h"
#include "value/value.h"

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Keys are "k<id>"; their hash is rn_value_hash, or, with `collide`,
 * a deliberately poor one (id / 8 % 50) so that many distinct keys share
 * a hash, within a run and across runs. */
static int collide;

static rn_value key_of(char *buf, size_t cap, unsigned id)
{
    int n = snprintf(buf, cap, "k%u", id);
    return rn_string(buf, (size_t)n);
}

static uint64_t hash_of(unsigned id)
{
    char buf[32];
    rn_value k = key_of(buf, sizeof(buf), id);
    return collide ? (uint64_t)(id / 8 % 50) * 1000 : rn_value_hash(&k);
}

static unsigned key_id(const rn_value *k)
{
    char buf[32];
    assert_int_equal(k->kind, RN_STRING);
    assert_true(k->len > 1 && k->len < sizeof(buf));
    memcpy(buf, k->u.s + 1, k->len - 1);
    buf[k->len - 1] = '\0';
    return (unsigned)strtoul(buf, NULL, 10);
}

typedef struct item {
    uint64_t hash;
    unsigned id;
    uint64_t tie; /* random: keys of one hash in any order */
} item;

static int by_hash(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->tie < y->tie ? -1 : x->tie > y->tie;
}

/* A run of the given key ids (distinct), each with [key, int(value)]. */
static char *write_keys(const char *dir, const unsigned *ids, size_t n,
                        int64_t value, size_t block)
{
    item *it = calloc(n ? n : 1, sizeof(item));
    rn_run_write_opts o = {RN_RUN_ZSTD, 0, block};
    rn_run_writer *w;
    rn_run_info info;
    rn_errbuf err;
    char *path;
    for (size_t i = 0; i < n; i++) {
        it[i].id = ids[i];
        it[i].hash = hash_of(ids[i]);
        it[i].tie = next_rand();
    }
    qsort(it, n, sizeof(item), by_hash);
    assert_int_equal(rn_run_writer_open(&w, dir, 2, &o, &err), 0);
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        rn_value v[2] = {key_of(buf, sizeof(buf), it[i].id), rn_int(value)};
        assert_int_equal(rn_run_writer_add(w, it[i].hash, v, &err), 0);
    }
    assert_int_equal(rn_run_writer_finish(w, &info, &err), 0);
    path = strdup(info.path);
    rn_run_info_release(&info);
    free(it);
    return path;
}

#define NKEYS 20000
#define NRUNS 6

/* Runs holding random overlapping subsets of the keys: the merge gives
 * each key once, in hash order, with one record per run holding it (in
 * run order), whatever the hashes' collisions. */
static void merge_overlapping(int with_collisions)
{
    char *dir = rn_test_tmpdir("spill-merge");
    char *paths[NRUNS];
    unsigned char *in = calloc((size_t)NKEYS * NRUNS, 1);
    unsigned *seen = calloc(NKEYS, sizeof(unsigned));
    unsigned *ids = malloc(NKEYS * sizeof(unsigned));
    rn_run_reader *rd[NRUNS];
    rn_merge_input inputs[NRUNS];
    rn_merge *m;
    rn_merge_group g;
    rn_errbuf err;
    uint64_t prev = 0;
    size_t keys = 0, shared_hash = 0, multi = 0;
    int rc;

    collide = with_collisions;
    for (int r = 0; r < NRUNS; r++) {
        size_t n = 0;
        for (unsigned id = 0; id < NKEYS; id++)
            if (next_rand() % 3 == 0) {
                ids[n++] = id;
                in[(size_t)id * NRUNS + r] = 1;
            }
        paths[r] = write_keys(dir, ids, n, 100 + r, 2048);
        assert_int_equal(rn_run_reader_open(&rd[r], paths[r], &err), 0);
        inputs[r] = rn_run_reader_input(rd[r]);
    }
    assert_int_equal(rn_merge_open(&m, inputs, NRUNS, &err), 0);
    while ((rc = rn_merge_next(m, &g, &err)) == 1) {
        unsigned id = key_id(g.key);
        size_t expect = 0, j = 0;
        assert_true(g.hash >= prev);
        if (keys && g.hash == prev)
            shared_hash++;
        prev = g.hash;
        assert_int_equal(g.hash, hash_of(id));
        assert_int_equal(seen[id]++, 0); /* each key once */
        for (int r = 0; r < NRUNS; r++)
            expect += in[(size_t)id * NRUNS + r];
        assert_int_equal(g.n, expect);
        if (g.n > 1)
            multi++;
        for (int r = 0; r < NRUNS; r++) {
            if (!in[(size_t)id * NRUNS + r])
                continue;
            /* the records in run order, each the key's, its run's value */
            assert_int_equal(g.input[j], r);
            assert_true(rn_value_equal(&g.values[j][0], g.key));
            assert_int_equal(g.values[j][1].u.i, 100 + r);
            j++;
        }
        keys++;
    }
    if (rc)
        fail_msg("merge: %s", err.msg);
    for (unsigned id = 0; id < NKEYS; id++) {
        size_t any = 0;
        for (int r = 0; r < NRUNS; r++)
            any += in[(size_t)id * NRUNS + r];
        assert_int_equal(seen[id], any ? 1 : 0);
    }
    assert_true(multi > 1000);
    if (with_collisions)
        assert_true(shared_hash > 10000); /* keys really did collide */
    else
        assert_int_equal(shared_hash, 0);
    assert_int_equal(rn_merge_next(m, &g, &err), 0);
    rn_merge_free(m);
    for (int r = 0; r < NRUNS; r++) {
        rn_run_reader_free(rd[r]);
        free(paths[r]);
    }
    free(in);
    free(seen);
    free(ids);
    rn_test_rmtree(dir);
    free(dir);
    collide = 0;
}

static void test_merge_overlapping(void **state)
{
    (void)state;
    merge_overlapping(0);
}

static void test_merge_colliding_hashes(void **state)
{
    (void)state;
    merge_overlapping(1);
}

/* Sums the ints of a key's records (a keyed count's combine). */
static int sum_combine(void *arg, const rn_merge_group *g, rn_value *out,
                       rn_arena *scratch, rn_errbuf *err)
{
    int64_t s = 0;
    (void)scratch;
    (void)err;
    ++*(size_t *)arg;
    for (size_t i = 0; i < g->n; i++)
        s += g->values[i][1].u.i;
    out[0] = *g->key;
    out[1] = rn_int(s);
    return 0;
}

static int failing_combine(void *arg, const rn_merge_group *g, rn_value *out,
                           rn_arena *scratch, rn_errbuf *err)
{
    (void)arg;
    (void)g;
    (void)out;
    (void)scratch;
    return rn_error_set(err, RN_EPLUGIN, "combine refused");
}

/* More runs than the fan-in, merged in passes with rn_merge_to_run:
 * every key's sum is right, and each pass writes one run. */
static void test_merge_passes(void **state)
{
    enum { RUNS = 70, KEYS = 3000 };
    char *dir = rn_test_tmpdir("spill-passes");
    char *paths[RUNS];
    int64_t *expect = calloc(KEYS, sizeof(int64_t));
    unsigned *ids = malloc(KEYS * sizeof(unsigned));
    rn_run_reader *rd[RN_MERGE_MAX_FANIN + 1];
    rn_merge_input inputs[RN_MERGE_MAX_FANIN + 1];
    rn_run_info p1, p2, fin;
    rn_merge *m;
    rn_errbuf err;
    size_t combined = 0;
    (void)state;

    for (int r = 0; r < RUNS; r++) {
        size_t n = 0;
        for (unsigned id = 0; id < KEYS; id++)
            if (next_rand() % 4 == 0) {
                ids[n++] = id;
                expect[id] += r + 1;
            }
        paths[r] = write_keys(dir, ids, n, r + 1, 0);
    }
    /* more than the fan-in at once is refused */
    for (int r = 0; r <= RN_MERGE_MAX_FANIN; r++) {
        assert_int_equal(rn_run_reader_open(&rd[r], paths[r], &err), 0);
        inputs[r] = rn_run_reader_input(rd[r]);
    }
    assert_int_equal(rn_merge_open(&m, inputs, RN_MERGE_MAX_FANIN + 1, &err),
                     RN_ELIMIT);
    assert_non_null(strstr(err.msg, "in passes"));
    /* pass 1: runs 0..63; a failing combine leaves no file */
    assert_int_equal(rn_merge_to_run(inputs, RN_MERGE_MAX_FANIN, dir, NULL,
                                     failing_combine, NULL, &p1, &err),
                     RN_EPLUGIN);
    assert_string_equal(err.msg, "combine refused");
    assert_int_equal(count_files(dir), RUNS);
    for (int r = 0; r <= RN_MERGE_MAX_FANIN; r++) {
        rn_run_reader_free(rd[r]);
        assert_int_equal(rn_run_reader_open(&rd[r], paths[r], &err), 0);
        inputs[r] = rn_run_reader_input(rd[r]);
    }
    assert_int_equal(rn_merge_to_run(inputs, RN_MERGE_MAX_FANIN, dir, NULL,
                                     sum_combine, &combined, &p1, &err),
                     0);
    assert_true(combined > 0);
    for (int r = 0; r <= RN_MERGE_MAX_FANIN; r++)
        rn_run_reader_free(rd[r]);
    /* pass 2: runs 64..69 */
    for (int r = 0; r < RUNS - RN_MERGE_MAX_FANIN; r++) {
        assert_int_equal(
            rn_run_reader_open(&rd[r], paths[RN_MERGE_MAX_FANIN + r], &err),
            0);
        inputs[r] = rn_run_reader_input(rd[r]);
    }
    assert_int_equal(rn_merge_to_run(inputs, RUNS - RN_MERGE_MAX_FANIN, dir,
                                     NULL, sum_combine, &combined, &p2, &err),
                     0);
    for (int r = 0; r < RUNS - RN_MERGE_MAX_FANIN; r++)
        rn_run_reader_free(rd[r]);
    /* the last pass: the two results */
    assert_int_equal(rn_run_reader_open(&rd[0], p1.path, &err), 0);
    assert_int_equal(rn_run_reader_open(&rd[1], p2.path, &err), 0);
    inputs[0] = rn_run_reader_input(rd[0]);
    inputs[1] = rn_run_reader_input(rd[1]);
    assert_int_equal(rn_merge_to_run(inputs, 2, dir, NULL, sum_combine,
                                     &combined, &fin, &err),
                     0);
    rn_run_reader_free(rd[0]);
    rn_run_reader_free(rd[1]);
    {
        size_t distinct = 0;
        const rn_value *v;
        uint64_t h, prev = 0;
        int rc;
        for (unsigned id = 0; id < KEYS; id++)
            distinct += expect[id] != 0;
        assert_int_equal(fin.records, distinct);
        assert_int_equal(rn_run_reader_open(&rd[0], fin.path, &err), 0);
        while ((rc = rn_run_reader_next(rd[0], &h, &v, &err)) == 1) {
            unsigned id = key_id(&v[0]);
            assert_true(h >= prev);
            prev = h;
            assert_int_equal(v[1].u.i, expect[id]);
            expect[id] = -1; /* once */
        }
        assert_int_equal(rc, 0);
        rn_run_reader_free(rd[0]);
    }
    rn_run_info_release(&p1);
    rn_run_info_release(&p2);
    rn_run_info_release(&fin);
    for (int r = 0; r < RUNS; r++)
        free(paths[r]);
    free(expect);
    free(ids);
    rn_test_rmtree(dir);
    free(dir);
}

/* ---- inputs that are not runs --------------------------------------- */

typedef struct arr {
    const uint64_t *h;
    const rn_value *v; /* 1 value a record */
    size_t n, i;
} arr;

static int arr_peek(void *self, uint64_t *hash, rn_errbuf *err)
{
    arr *a = self;
    (void)err;
    if (a->i == a->n)
        return 0;
    *hash = a->h[a->i];
    return 1;
}

static int arr_next(void *self, uint64_t *hash, const rn_value **values,
                    rn_errbuf *err)
{
    arr *a = self;
    (void)err;
    if (a->i == a->n)
        return 0;
    *hash = a->h[a->i];
    *values = &a->v[a->i++];
    return 1;
}

/* A generic source merges like a run; one out of order is an error that
 * sticks; a corrupt run's error comes through the merge. */
static void test_merge_inputs_and_errors(void **state)
{
    static const uint64_t h1[] = {1, 5, 5, 9}, h2[] = {5, 7, 3};
    rn_value v1[] = {rn_int(1), rn_int(5), rn_int(50), rn_int(9)};
    rn_value v2[] = {rn_int(5), rn_int(7), rn_int(3)};
    arr a1 = {h1, v1, 4, 0}, a2 = {h2, v2, 3, 0};
    rn_merge_input in[2] = {{&a1, 1, arr_peek, arr_next},
                            {&a2, 1, arr_peek, arr_next}};
    rn_merge *m;
    rn_merge_group g;
    rn_errbuf err, again;
    (void)state;

    assert_int_equal(rn_merge_open(&m, in, 2, &err), 0);
    assert_int_equal(rn_merge_next(m, &g, &err), 1);
    assert_int_equal(g.hash, 1);
    assert_int_equal(g.n, 1);
    /* hash 5: key 5 from both inputs, key 50 from the first */
    assert_int_equal(rn_merge_next(m, &g, &err), 1);
    assert_int_equal(g.hash, 5);
    assert_int_equal(g.key->u.i, 5);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.input[0], 0);
    assert_int_equal(g.input[1], 1);
    assert_int_equal(rn_merge_next(m, &g, &err), 1);
    assert_int_equal(g.hash, 5);
    assert_int_equal(g.key->u.i, 50);
    assert_int_equal(g.n, 1);
    /* 7 then the second input goes back to 3 */
    assert_int_equal(rn_merge_next(m, &g, &err), RN_EFORMAT);
    assert_non_null(strstr(err.msg, "out of order"));
    assert_int_equal(rn_merge_next(m, &g, &again), RN_EFORMAT);
    assert_string_equal(again.msg, err.msg);
    rn_merge_free(m);

    /* mismatched inputs */
    in[1].nvals = 2;
    assert_int_equal(rn_merge_open(&m, in, 2, &err), RN_EINVAL);
    /* no inputs: nothing */
    assert_int_equal(rn_merge_open(&m, NULL, 0, &err), 0);
    assert_int_equal(rn_merge_next(m, &g, &err), 0);
    rn_merge_free(m);

    /* a corrupted block in the middle of a run */
    {
        char *dir = rn_test_tmpdir("spill-merr");
        unsigned ids[4000];
        char *path;
        size_t len;
        char *file;
        rn_run_reader *rd;
        rn_merge_input ri;
        int rc;
        for (unsigned i = 0; i < 4000; i++)
            ids[i] = i;
        path = write_keys(dir, ids, 4000, 1, 1024);
        file = rn_test_read_file(path, &len);
        file[len / 2] ^= 0x40;
        assert_int_equal(rn_test_write_file(path, file, len), 0);
        assert_int_equal(rn_run_reader_open(&rd, path, &err), 0);
        ri = rn_run_reader_input(rd);
        assert_int_equal(rn_merge_open(&m, &ri, 1, &err), 0);
        while ((rc = rn_merge_next(m, &g, &err)) == 1)
            ;
        assert_int_equal(rc, RN_EFORMAT);
        assert_non_null(strstr(err.msg, path));
        assert_int_equal(rn_merge_next(m, &g, &again), RN_EFORMAT);
        rn_merge_free(m);
        rn_run_reader_free(rd);
        assert_int_equal(count_files(dir), 1);
        free(file);
        free(path);
        rn_test_rmtree(dir);
        free(dir);
    }
}

/* Memory: a merge of 16 runs of 100k records holds about one block per
 * run, and gives everything back. */
static void test_merge_memory(void **state)
{
    enum { RUNS = 16, N = 100000 };
    char *dir = rn_test_tmpdir("spill-mmem");
    char *paths[RUNS];
    unsigned *ids = malloc(N * sizeof(unsigned));
    rn_run_reader *rd[RUNS];
    rn_merge_input in[RUNS];
    rn_merge *m;
    rn_merge_group g;
    rn_errbuf err;
    size_t before, keys = 0;
    (void)state;
    for (int r = 0; r < RUNS; r++) {
        for (unsigned i = 0; i < N; i++)
            ids[i] = i * RUNS + (unsigned)r; /* disjoint */
        paths[r] = write_keys(dir, ids, N, r, 0);
    }
    before = rn_alloc_in_use();
    rn_alloc_peak_reset();
    for (int r = 0; r < RUNS; r++) {
        assert_int_equal(rn_run_reader_open(&rd[r], paths[r], &err), 0);
        in[r] = rn_run_reader_input(rd[r]);
    }
    assert_int_equal(rn_merge_open(&m, in, RUNS, &err), 0);
    while (rn_merge_next(m, &g, &err) == 1)
        keys++;
    assert_int_equal(keys, (size_t)RUNS * N);
    print_message("merge of %d runs: peak %zu bytes\n", RUNS,
                  rn_alloc_peak() - before);
    assert_true(rn_alloc_peak() - before < (size_t)RUNS * 1536 * 1024);
    rn_merge_free(m);
    for (int r = 0; r < RUNS; r++) {
        rn_run_reader_free(rd[r]);
        free(paths[r]);
    }
    assert_int_equal(rn_alloc_in_use(), before);
    free(ids);
    rn_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_overlapping),
        cmocka_unit_test(test_merge_colliding_hashes),
        cmocka_unit_test(test_merge_passes),
        cmocka_unit_test(test_merge_inputs_and_errors),
        cmocka_unit_test(test_merge_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
