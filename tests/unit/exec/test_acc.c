/* Fold accumulators and the keyed table (core/exec/acc.c): many keys,
 * equal hashes, every kind of key, growth, merges, save/load, sorted
 * walks, clearing, allocation failures and the memory a key costs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "exec/acc.h"
#include "value/partition.h"
#include "value/value.h"

/* ---- test operators ---------------------------------------------------
 * cnt:    frequencies (COUNTING, COMMUTATIVE): acc is the int count.
 * sumkey: key callback ([key, n] elements), acc += n through step (no
 *         COUNTING), COMMUTATIVE.
 * cat:    not commutative: acc is a string of one letter per element,
 *         built in rn_alloc_keep memory; combine appends (order shows). */

static int int0_init(void *st, rn_ctx *ctx, rn_value *acc)
{
    (void)st;
    (void)ctx;
    *acc = rn_int(0);
    return 0;
}

static int cnt_step(void *st, rn_ctx *ctx, rn_value *acc, const rn_value *in)
{
    (void)st;
    (void)ctx;
    (void)in;
    acc->u.i++;
    return 0;
}

static int add_combine(void *st, rn_ctx *ctx, rn_value *acc,
                       const rn_value *other)
{
    (void)st;
    (void)ctx;
    acc->u.i += other->u.i;
    return 0;
}

static int pair_key(void *st, rn_ctx *ctx, const rn_value *in, rn_value *key)
{
    (void)st;
    (void)ctx;
    *key = in->u.items[0];
    return 0;
}

static int sum_step(void *st, rn_ctx *ctx, rn_value *acc, const rn_value *in)
{
    (void)st;
    (void)ctx;
    acc->u.i += in->u.items[1].u.i;
    return 0;
}

static int str_init(void *st, rn_ctx *ctx, rn_value *acc)
{
    (void)st;
    (void)ctx;
    *acc = rn_string("", 0);
    return 0;
}

static int cat_append(rn_ctx *ctx, rn_value *acc, const char *s, size_t n)
{
    char *p = rn_alloc_keep(ctx, acc->len + n);
    if (!p)
        return RN_ENOMEM;
    if (acc->len)
        memcpy(p, acc->u.s, acc->len);
    memcpy(p + acc->len, s, n);
    *acc = rn_string(p, acc->len + n);
    return 0;
}

static int cat_step(void *st, rn_ctx *ctx, rn_value *acc, const rn_value *in)
{
    (void)st;
    return cat_append(ctx, acc, in->u.items[1].u.s, in->u.items[1].len);
}

static int cat_combine(void *st, rn_ctx *ctx, rn_value *acc,
                       const rn_value *other)
{
    (void)st;
    return cat_append(ctx, acc, other->u.s, other->len);
}

static const rn_op_desc cnt_desc = {
    .kind = RN_OP_FOLDBY,
    .name = "cnt",
    .flags = RN_OPF_COMMUTATIVE | RN_OPF_COUNTING,
    .fold_init = int0_init,
    .step = cnt_step,
    .combine = add_combine,
};

static const rn_op_desc sum_desc = {
    .kind = RN_OP_FOLDBY,
    .name = "sumkey",
    .flags = RN_OPF_COMMUTATIVE,
    .key = pair_key,
    .fold_init = int0_init,
    .step = sum_step,
    .combine = add_combine,
};

static const rn_op_desc cat_desc = {
    .kind = RN_OP_FOLDBY,
    .name = "cat",
    .key = pair_key,
    .fold_init = str_init,
    .step = cat_step,
    .combine = cat_combine,
};

static const rn_op_desc count_desc = {
    .kind = RN_OP_FOLD,
    .name = "count",
    .flags = RN_OPF_COMMUTATIVE | RN_OPF_COUNTING,
    .fold_init = int0_init,
    .step = cnt_step,
    .combine = add_combine,
};

static rn_opinst op_of(const rn_op_desc *d)
{
    rn_opinst oi;
    memset(&oi, 0, sizeof(oi));
    oi.op = d;
    oi.params = rn_null();
    oi.label = d->name;
    return oi;
}

/* A task context with its own scratch arena and error buffer. */
typedef struct tctx {
    rn_arena scratch;
    rn_errbuf err;
    rn_task_ctx ctx;
} tctx;

static void tctx_init(tctx *t)
{
    memset(t, 0, sizeof(*t));
    rn_arena_init(&t->scratch, 0);
    rn_task_ctx_init(&t->ctx, &t->scratch, &t->scratch, &t->err);
}

static void tctx_release(tctx *t)
{
    rn_task_ctx_release(&t->ctx);
    rn_arena_release(&t->scratch);
}

/* Key i as a string: "k" and 7 digits (8 bytes, inline), or with long,
 * that and a 24-byte tail (32 bytes: in the key blocks). */
static rn_value str_key(rn_arena *ar, size_t i, int longkey)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), longkey ? "k%07zu-a-long-key-tail-xxxxxx"
                                               : "k%07zu", i);
    return rn_string(rn_arena_memdup(ar, buf, (size_t)n), (size_t)n);
}

/* Steps vals in batches of 512 (as the chain does). */
static void step_all(rn_acc *a, tctx *t, const rn_value *vals, size_t n)
{
    for (size_t i = 0; i < n; i += 512) {
        size_t m = n - i < 512 ? n - i : 512;
        int rc = rn_acc_step(a, &t->ctx, vals + i, m);
        if (rc)
            fail_msg("step: %s", t->err.msg);
    }
}

/* Finishes a into a new partition. */
static rn_partition *finish_all(rn_acc *a, tctx *t)
{
    rn_partition *out = rn_partition_new();
    assert_non_null(out);
    t->ctx.emit = rn__emit_to_partition;
    t->ctx.target = out;
    if (rn_acc_finish(a, &t->ctx))
        fail_msg("finish: %s", t->err.msg);
    t->ctx.emit = NULL;
    t->ctx.target = NULL;
    return out;
}

/* Output pairs [key, acc] in ascending (hash & mask, key) order. */
static void assert_hash_order(const rn_partition *p, uint64_t mask)
{
    for (size_t i = 1; i < p->n; i++) {
        const rn_value *x = &p->items[i - 1].u.items[0];
        const rn_value *y = &p->items[i].u.items[0];
        uint64_t hx = rn_value_hash(x) & mask, hy = rn_value_hash(y) & mask;
        if (hx > hy || (hx == hy && rn_value_compare(x, y) >= 0))
            fail_msg("output %zu out of hash order", i);
    }
}

/* The number in a key made by str_key (its strings are not terminated). */
static long key_num(const rn_value *k)
{
    long n = 0;
    for (uint32_t i = 1; i < k->len && i < 8; i++)
        n = n * 10 + (k->u.s[i] - '0');
    return n;
}

static void assert_same_output(const rn_partition *x, const rn_partition *y)
{
    assert_int_equal(x->n, y->n);
    for (size_t i = 0; i < x->n; i++)
        assert_true(rn_value_equal(&x->items[i], &y->items[i]));
}

/* ---- many keys -------------------------------------------------------- */

static void test_many_keys(void **state)
{
    (void)state;
    const size_t n = 1000000;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(2 * n * sizeof(*vals));
    rn_acc a;
    tctx t;
    rn_partition *out;
    size_t before = rn_alloc_in_use();

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    /* every key twice, the second time in another order; every 7th key
     * long */
    for (size_t i = 0; i < n; i++)
        vals[i] = str_key(&ar, i, i % 7 == 0);
    for (size_t i = 0; i < n; i++)
        vals[n + i] = vals[(i * 7919) % n];
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    step_all(&a, &t, vals, 2 * n);
    assert_int_equal(a.n, n);
    assert_true(a.nslots >= n * 4 / 3 && a.nslots <= n * 8 / 3);
    out = finish_all(&a, &t);
    assert_int_equal(out->n, n);
    for (size_t i = 0; i < out->n; i++) {
        const rn_value *pair = &out->items[i];
        assert_int_equal(pair->kind, RN_LIST);
        assert_int_equal(pair->u.items[1].u.i, 2);
    }
    assert_hash_order(out, ~(uint64_t)0);
    rn_partition_unref(out);
    rn_acc_release(&a);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
    assert_int_equal(rn_alloc_in_use(), before);
}

/* ---- equal hashes ----------------------------------------------------- */

/* n keys whose hashes keep only the bits of mask: many keys per slot,
 * equal tags and equal full hashes; counts, order, save/load. */
static void collide(uint64_t mask, size_t n)
{
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(3 * n * sizeof(*vals));
    rn_acc a, b;
    tctx t;
    rn_partition *out, *saved;

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < n; i++)
        vals[i] = str_key(&ar, i, i % 3 == 0);
    for (size_t i = 0; i < n; i++) {
        vals[n + i] = vals[n - 1 - i];
        vals[2 * n + i] = vals[(i * 31) % n];
    }
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    a.hash_mask = mask;
    step_all(&a, &t, vals, 3 * n);
    assert_int_equal(a.n, n);
    /* a round trip through save/load keeps every key apart */
    saved = rn_partition_new();
    assert_non_null(saved);
    assert_int_equal(rn_acc_save(&a, &t.ctx, saved), 0);
    assert_int_equal(saved->n, n);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    b.hash_mask = mask;
    assert_int_equal(rn_acc_load(&b, &t.ctx, saved), 0);
    assert_int_equal(b.n, n);
    rn_acc_release(&b);
    rn_partition_unref(saved);
    out = finish_all(&a, &t);
    assert_int_equal(out->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out->items[i].u.items[1].u.i, 3);
    assert_hash_order(out, mask);
    rn_partition_unref(out);
    rn_acc_release(&a);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
}

static void test_collisions(void **state)
{
    (void)state;
    /* 12 bits: ~25 keys per hash value, long runs in the index */
    collide(0xfff0000000000000ull, 100000);
    /* 12 low bits only: every key has home 0 (tags differ in their low
     * bits) */
    collide(0xfffull, 5000);
    /* one hash for all: the table is one sorted run */
    collide(0, 3000);
}

/* ---- keys from one corner of the hash space ---------------------------- */

/* How far the index's slots are from their homes: the mean and the
 * longest (the probes a lookup of an absent key may need). */
static void displacement(const rn_acc *a, double *mean, size_t *max)
{
    size_t used = 0, sum = 0, mask = a->nslots - 1;
    *max = 0;
    for (size_t j = 0; j < a->nslots; j++) {
        uint64_t s = a->slots[j];
        if (!s)
            continue;
        size_t d = (j - (size_t)(s >> a->shift)) & mask;
        sum += d;
        used++;
        if (d > *max)
            *max = d;
    }
    *mean = used ? (double)sum / (double)used : 0;
}

/* Keys in ascending hash order (another keyed fold's output) and the keys
 * of one bucket of rn_acc_bucket (a reduce task's input) are fed to a
 * table: their homes must spread over the index as random keys' do.
 * With homes from the hash's top bits alone both piled into one run of
 * slots (mean displacement in the tens of thousands: a quadratic build). */
static void test_clustered_keys(void **state)
{
    (void)state;
    const size_t n = 200000;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(n * sizeof(*vals));
    rn_partition *sorted, *parts[8];
    rn_acc a, b;
    tctx t;
    double mean;
    size_t max;

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < n; i++)
        vals[i] = str_key(&ar, i, i % 5 == 0);
    /* random order: the yardstick */
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    step_all(&a, &t, vals, n);
    displacement(&a, &mean, &max);
    assert_true(mean < 4 && max < 500);
    sorted = finish_all(&a, &t);
    rn_acc_release(&a);
    assert_int_equal(sorted->n, n);
    assert_hash_order(sorted, ~(uint64_t)0);
    /* ascending hash order: at every point the keys so far are a range
     * of the hash (the index is fine again once all have come) */
    for (size_t i = 0; i < n; i++)
        vals[i] = sorted->items[i].u.items[0];
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    for (size_t part = 0; part < 8; part++) {
        step_all(&a, &t, vals + part * (n / 8), n / 8);
        displacement(&a, &mean, &max);
        if (!(mean < 4 && max < 500))
            fail_msg("sorted keys, %zu/8 of them: mean displacement %.1f, "
                     "longest %zu", part + 1, mean, max);
    }
    assert_int_equal(a.n, n);
    /* one bucket of 8, loaded as a reduce task loads it */
    for (size_t i = 0; i < 8; i++)
        assert_non_null(parts[i] = rn_partition_new());
    assert_int_equal(rn_acc_save_split(&a, &t.ctx, parts, 8), 0);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_load(&b, &t.ctx, parts[3]), 0);
    assert_int_equal(b.n, parts[3]->n);
    assert_true(b.n > n / 10 && b.n < n / 6);
    displacement(&b, &mean, &max);
    if (!(mean < 4 && max < 500))
        fail_msg("one bucket: mean displacement %.1f, longest %zu", mean, max);
    for (size_t i = 0; i < 8; i++)
        rn_partition_unref(parts[i]);
    rn_partition_unref(sorted);
    rn_acc_release(&a);
    rn_acc_release(&b);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
}

/* ---- every kind of key ------------------------------------------------ */

static void test_value_kinds(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&cnt_desc);
    static const char b17[] = "0123456789abcdefg";
    rn_value l1[2] = {rn_int(1), rn_string("x", 1)};
    rn_value l2[2] = {rn_int(1), rn_string("y", 1)};
    rn_value nested[2] = {rn_list(l1, 2), rn_null()};
    rn_field f1[2] = {{{"a", 1}, rn_int(1)}, {{"b", 1}, rn_list(l2, 2)}};
    rn_field f2[1] = {{{"a", 1}, rn_int(1)}};
    rn_value keys[] = {
        rn_null(),
        rn_bool(0),
        rn_bool(1),
        rn_int(0),
        rn_int(2),
        rn_int(-7),
        rn_int(INT64_MIN),
        rn_double(2.5),
        rn_double(-0.125),
        rn_string("", 0),
        rn_string("a", 1),
        rn_string(b17, 16),  /* the longest inline */
        rn_string(b17, 17),  /* the shortest in the key blocks */
        rn_bytes("", 0),
        rn_bytes("a", 1),    /* not the string "a" */
        rn_bytes(b17, 17),
        rn_list(NULL, 0),
        rn_list(l1, 2),
        rn_list(l2, 2),
        rn_list(nested, 2),
        rn_record(f1, 2),
        rn_record(f2, 1),
    };
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    rn_value in[3 * sizeof(keys) / sizeof(keys[0]) + 1];
    rn_acc a;
    tctx t;
    rn_partition *out;
    size_t m = 0;

    tctx_init(&t);
    /* key i comes i % 3 + 1 times */
    for (size_t i = 0; i < nk; i++)
        for (size_t r = 0; r <= i % 3; r++)
            in[m++] = keys[i];
    in[m++] = rn_double(2.0); /* equal to the int 2: the same key */
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    step_all(&a, &t, in, m);
    assert_int_equal(a.n, nk);
    out = finish_all(&a, &t);
    assert_int_equal(out->n, nk);
    assert_hash_order(out, ~(uint64_t)0);
    for (size_t i = 0; i < nk; i++) {
        size_t found = 0;
        for (size_t j = 0; j < out->n; j++) {
            const rn_value *p = out->items[j].u.items;
            if (p[0].kind != keys[i].kind || !rn_value_equal(&p[0], &keys[i]))
                continue;
            found++;
            assert_int_equal(p[1].u.i,
                             (int64_t)(i % 3 + 1) + (i == 4 ? 1 : 0));
        }
        if (found != 1)
            fail_msg("key %zu found %zu times", i, found);
    }
    rn_partition_unref(out);
    rn_acc_release(&a);
    tctx_release(&t);
}

/* ---- growth ----------------------------------------------------------- */

/* No step of growth holds twice the table: entries are never copied
 * (but the small first chunk), only the index is rebuilt. */
static void test_growth(void **state)
{
    (void)state;
    const size_t n = 300000;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(n * sizeof(*vals));
    rn_acc a;
    tctx t;
    size_t base, prev_slots = 0, grows = 0, peak, bytes;

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < n; i++)
        vals[i] = str_key(&ar, i, i % 2 == 0);
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    base = rn_alloc_in_use();
    rn_alloc_peak_reset();
    for (size_t i = 0; i < n; i += 100) {
        assert_int_equal(rn_acc_step(&a, &t.ctx, vals + i, 100), 0);
        if (a.nslots != prev_slots) {
            grows++;
            assert_true(a.nslots == prev_slots * 2 || prev_slots == 0);
            prev_slots = a.nslots;
        }
        assert_int_equal(rn_acc_bytes(&a), rn_alloc_in_use() - base);
    }
    assert_true(grows >= 10);
    peak = rn_alloc_peak() - base;
    bytes = rn_acc_bytes(&a);
    /* the last doubling of the index held the old one too */
    assert_true(peak <= bytes + a.nslots * sizeof(uint64_t) / 2 + 4096);
    /* and the keys are all there */
    step_all(&a, &t, vals, n);
    assert_int_equal(a.n, n);
    rn_acc_release(&a);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
}

/* A new key that makes the small first chunk grow in the middle of a
 * chunk of lookups: the candidates found before it moved are dropped
 * (ASan would see them read freed memory). */
static void test_first_chunk_moves(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value vals[64];
    rn_acc a;
    tctx t;
    rn_partition *out;

    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < 33; i++)
        vals[i] = str_key(&ar, i, 0);
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_step(&a, &t.ctx, vals, 32), 0);
    /* key 32 (new: the first chunk grows), then 0..30 again */
    for (size_t i = 0; i < 31; i++)
        vals[33 + i] = vals[i];
    assert_int_equal(rn_acc_step(&a, &t.ctx, vals + 32, 32), 0);
    assert_int_equal(a.n, 33);
    out = finish_all(&a, &t);
    for (size_t i = 0; i < out->n; i++) {
        const rn_value *p = out->items[i].u.items;
        int first31 = key_num(&p[0]) < 31;
        assert_int_equal(p[1].u.i, first31 ? 2 : 1);
    }
    rn_partition_unref(out);
    rn_acc_release(&a);
    tctx_release(&t);
    rn_arena_release(&ar);
}

/* ---- merges, save/load ------------------------------------------------ */

/* Elements [key, n] for keys lo..hi-1 (every 5th long), n = 1. */
static rn_value *pairs(rn_arena *ar, size_t lo, size_t hi)
{
    rn_value *v = rn_arena_alloc(ar, (hi - lo) * sizeof(*v));
    for (size_t i = lo; i < hi; i++) {
        rn_value *p = rn_arena_alloc(ar, 2 * sizeof(*p));
        p[0] = str_key(ar, i, i % 5 == 0);
        p[1] = rn_int(1);
        v[i - lo] = rn_list(p, 2);
    }
    return v;
}

static void test_merge(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&sum_desc);
    rn_arena ar;
    rn_acc x, y, small, big, whole;
    rn_value *v1, *v2;
    tctx t;
    rn_partition *o1, *o2, *o3;

    rn_arena_init(&ar, 0);
    tctx_init(&t);
    v1 = pairs(&ar, 0, 60000);     /* keys 0..59999 */
    v2 = pairs(&ar, 40000, 200000); /* 40000..199999: 20000 shared */
    /* one table fed everything */
    assert_int_equal(rn_acc_init(&whole, &oi, &t.ctx), 0);
    step_all(&whole, &t, v1, 60000);
    step_all(&whole, &t, v2, 160000);
    /* merge: other untouched */
    assert_int_equal(rn_acc_init(&x, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_init(&y, &oi, &t.ctx), 0);
    step_all(&x, &t, v1, 60000);
    step_all(&y, &t, v2, 160000);
    assert_int_equal(rn_acc_merge(&x, &t.ctx, &y), 0);
    assert_int_equal(x.n, 200000);
    assert_int_equal(y.n, 160000);
    /* absorb: the smaller table goes into the larger (swapped), and the
     * absorbed one is released */
    assert_int_equal(rn_acc_init(&small, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_init(&big, &oi, &t.ctx), 0);
    step_all(&small, &t, v1, 60000);
    step_all(&big, &t, v2, 160000);
    assert_int_equal(rn_acc_absorb(&small, &t.ctx, &big), 0);
    assert_int_equal(small.n, 200000);
    assert_int_equal(big.n, 0);
    assert_int_equal(rn_acc_bytes(&big), 0);
    o1 = finish_all(&whole, &t);
    o2 = finish_all(&x, &t);
    o3 = finish_all(&small, &t);
    /* the same keys give the same output, however they were combined */
    assert_same_output(o1, o2);
    assert_same_output(o1, o3);
    for (size_t i = 0; i < o1->n; i++) {
        const rn_value *p = o1->items[i].u.items;
        long k = key_num(&p[0]);
        assert_int_equal(p[1].u.i, k >= 40000 && k < 60000 ? 2 : 1);
    }
    rn_partition_unref(o1);
    rn_partition_unref(o2);
    rn_partition_unref(o3);
    rn_acc_release(&x);
    rn_acc_release(&y);
    rn_acc_release(&small);
    rn_acc_release(&big);
    rn_acc_release(&whole);
    tctx_release(&t);
    rn_arena_release(&ar);
}

/* Combining two big tables does not hold both and the result at once:
 * absorb frees the absorbed table's index first and each of its chunks
 * once merged, so the peak stays near the memory of the two tables
 * before (plus half the final index, the old one while it doubles, and
 * one chunk). rn_acc_merge + release would add a whole table. */
static void test_absorb_peak(void **state)
{
    (void)state;
    const size_t n = 300000;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(2 * n * sizeof(*vals));
    rn_acc a, b;
    tctx t;
    size_t before, base, peak;
    char buf[16];

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < 2 * n; i++) {
        int len = snprintf(buf, sizeof(buf), "key%07zu", i);
        vals[i] = rn_string(rn_arena_memdup(&ar, buf, (size_t)len),
                            (size_t)len);
    }
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    step_all(&a, &t, vals, n);
    step_all(&b, &t, vals + n, n);
    base = rn_alloc_in_use() - rn_acc_bytes(&a) - rn_acc_bytes(&b);
    before = rn_acc_bytes(&a) + rn_acc_bytes(&b);
    rn_alloc_peak_reset();
    assert_int_equal(rn_acc_absorb(&a, &t.ctx, &b), 0);
    peak = rn_alloc_peak() - base;
    assert_int_equal(a.n, 2 * n);
    print_message("absorb of 2 x %zu keys: %zu bytes before, peak %zu, "
                  "after %zu\n", n, before, peak, rn_acc_bytes(&a));
    assert_true(peak <= before + a.nslots * sizeof(uint64_t) / 2 +
                             ((size_t)2 << 20) + 65536);
    assert_true(peak < before + n * 40);
    rn_acc_release(&a);
    rn_acc_release(&b);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
}

/* A fold that is not commutative: absorb never swaps, and combines a's
 * accumulators with other's in that order. */
static void test_absorb_order(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&cat_desc);
    rn_arena ar;
    rn_acc a, b;
    tctx t;
    rn_value ea[2], eb[6], pa[2][2], pb[6][2];
    rn_partition *out;

    rn_arena_init(&ar, 0);
    tctx_init(&t);
    /* a: k -> "A"; b: k -> "BC", and more keys than a */
    pa[0][0] = rn_string("k", 1);
    pa[0][1] = rn_string("A", 1);
    ea[0] = rn_list(pa[0], 2);
    for (int i = 0; i < 6; i++) {
        static const char *ks[] = {"k", "k", "m", "n", "o",
                                   "a-long-key-of-more-than-16"};
        static const char *vs[] = {"B", "C", "x", "y", "z", "w"};
        pb[i][0] = rn_string(ks[i], strlen(ks[i]));
        pb[i][1] = rn_string(vs[i], 1);
        eb[i] = rn_list(pb[i], 2);
    }
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_step(&a, &t.ctx, ea, 1), 0);
    assert_int_equal(rn_acc_step(&b, &t.ctx, eb, 6), 0);
    assert_int_equal(rn_acc_absorb(&a, &t.ctx, &b), 0);
    assert_int_equal(a.n, 5);
    out = finish_all(&a, &t);
    for (size_t i = 0; i < out->n; i++) {
        const rn_value *p = out->items[i].u.items;
        if (p[0].len == 1 && p[0].u.s[0] == 'k')
            assert_memory_equal(p[1].u.s, "ABC", 3);
        if (p[0].len > 16)
            assert_memory_equal(p[1].u.s, "w", 1);
    }
    rn_partition_unref(out);
    rn_acc_release(&a);
    rn_acc_release(&b);
    tctx_release(&t);
    rn_arena_release(&ar);
}

static void test_save_load(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&sum_desc);
    rn_arena ar;
    rn_acc a, b;
    tctx t;
    rn_value *v = NULL, bad = rn_int(3);
    rn_partition *p, *o1, *o2;

    rn_arena_init(&ar, 0);
    tctx_init(&t);
    v = pairs(&ar, 0, 50000);
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    step_all(&a, &t, v, 50000);
    step_all(&a, &t, v, 25000);
    p = rn_partition_new();
    assert_int_equal(rn_acc_save(&a, &t.ctx, p), 0);
    assert_int_equal(p->n, 50000);
    /* save gives the keys in the order they came */
    for (size_t i = 0; i < p->n; i++)
        assert_true(rn_value_equal(&p->items[i].u.items[0],
                                   &v[i].u.items[0]));
    assert_int_equal(rn_acc_load(&b, &t.ctx, p), 0);
    o1 = finish_all(&a, &t);
    o2 = finish_all(&b, &t);
    assert_same_output(o1, o2);
    /* a malformed partial is refused */
    rn_partition_unref(p);
    p = rn_partition_new();
    assert_int_equal(rn_partition_push(p, &bad), 0);
    rn_acc_release(&b);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_load(&b, &t.ctx, p), RN_EFORMAT);
    assert_non_null(strstr(t.err.msg, "not a [key, acc] pair"));
    rn_partition_unref(p);
    rn_partition_unref(o1);
    rn_partition_unref(o2);
    rn_acc_release(&a);
    rn_acc_release(&b);
    tctx_release(&t);
    rn_arena_release(&ar);
}

/* ---- sorted walk and clear --------------------------------------------- */

typedef struct walk {
    uint64_t last;
    size_t n, sum;
    int first;
} walk;

static int walk_fn(void *ud, uint64_t h, const rn_value *key,
                   const rn_value *acc)
{
    walk *w = ud;
    if (!w->first && h < w->last)
        return 99;
    if (rn_value_hash(key) != h)
        return 98;
    w->first = 0;
    w->last = h;
    w->n++;
    w->sum += (size_t)acc->u.i;
    return 0;
}

static int stop_fn(void *ud, uint64_t h, const rn_value *key,
                   const rn_value *acc)
{
    (void)h;
    (void)key;
    (void)acc;
    return ++*(int *)ud == 10 ? 7 : 0;
}

static void test_sorted_each_and_clear(void **state)
{
    (void)state;
    const size_t n = 200000;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(n * sizeof(*vals));
    rn_acc a;
    tctx t;
    walk w = {0, 0, 0, 1};
    size_t bytes;
    int stops = 0;
    rn_partition *out;

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < n; i++)
        vals[i] = str_key(&ar, i, i % 4 == 0);
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    step_all(&a, &t, vals, n);
    bytes = rn_acc_bytes(&a);
    assert_int_equal(rn_acc_sorted_each(&a, walk_fn, &w), 0);
    assert_int_equal(w.n, n);
    assert_int_equal(w.sum, n);
    /* the index went: less memory held */
    assert_true(rn_acc_bytes(&a) < bytes);
    assert_int_equal(rn_acc_sorted_each(&a, stop_fn, &stops), 7);
    assert_int_equal(stops, 10);
    /* the table goes on after a walk (the index is rebuilt) */
    step_all(&a, &t, vals, n / 2);
    assert_int_equal(a.n, n);
    memset(&w, 0, sizeof(w));
    w.first = 1;
    assert_int_equal(rn_acc_sorted_each(&a, walk_fn, &w), 0);
    assert_int_equal(w.n, n);
    assert_int_equal(w.sum, n + n / 2);
    /* cleared: nothing held, and usable again */
    rn_acc_clear(&a);
    assert_int_equal(a.n, 0);
    assert_int_equal(rn_acc_bytes(&a), 0);
    memset(&w, 0, sizeof(w));
    w.first = 1;
    assert_int_equal(rn_acc_sorted_each(&a, walk_fn, &w), 0);
    assert_int_equal(w.n, 0);
    step_all(&a, &t, vals + n / 2, n / 2);
    step_all(&a, &t, vals + n / 2, 1000);
    assert_int_equal(a.n, n / 2);
    out = finish_all(&a, &t);
    assert_int_equal(out->n, n / 2);
    for (size_t i = 0; i < out->n; i++) {
        const rn_value *p = out->items[i].u.items;
        long k = key_num(&p[0]);
        assert_true(k >= (long)(n / 2));
        assert_int_equal(p[1].u.i, k < (long)(n / 2 + 1000) ? 2 : 1);
    }
    rn_partition_unref(out);
    rn_acc_release(&a);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
}

/* ---- allocation failures ----------------------------------------------- */

/* Every allocation of a run made to fail in turn: a clear error, and
 * everything freed by release (and absorb). */
static void test_alloc_failure(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&cat_desc);
    rn_arena ar;
    rn_value *v;
    size_t before, failures = 0;

    rn_arena_init(&ar, 0);
    v = pairs(&ar, 0, 6000); /* long keys too; cat allocates per step */
    for (size_t i = 0; i < 6000; i++) {
        rn_value *p = (rn_value *)v[i].u.items;
        p[1] = rn_string("q", 1);
    }
    before = rn_alloc_in_use();
    for (uint64_t k = 1;; k += k < 64 ? 1 : 7) {
        rn_acc a, b;
        tctx t;
        int rc = 0, ok = 0;
        tctx_init(&t);
        assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
        assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
        rn_alloc_fail_after(k);
        for (size_t i = 0; rc == 0 && i < 6000; i += 500)
            rc = rn_acc_step(&a, &t.ctx, v + i, 500);
        for (size_t i = 3000; rc == 0 && i < 6000; i += 500)
            rc = rn_acc_step(&b, &t.ctx, v + i, 500);
        if (rc == 0)
            rc = rn_acc_absorb(&a, &t.ctx, &b);
        rn_alloc_fail_after(0);
        if (rc == 0) {
            ok = 1;
            assert_int_equal(a.n, 6000);
        } else {
            failures++;
            assert_int_equal(rc, RN_ENOMEM);
            if (!strstr(t.err.msg, "out of memory") &&
                !strstr(t.err.msg, "without a message"))
                fail_msg("unclear error: %s", t.err.msg);
        }
        rn_acc_release(&a);
        rn_acc_release(&b);
        tctx_release(&t);
        assert_int_equal(rn_alloc_in_use(), before);
        if (ok)
            break;
    }
    assert_true(failures > 20);
    rn_arena_release(&ar);
}

/* ---- memory per key ----------------------------------------------------- */

/* 1 M distinct 10-byte keys cost at most 64 + 10 bytes each, everything
 * the table allocated at its peak counted (deterministic: the
 * allocator's own counters). */
static void test_bytes_per_key(void **state)
{
    (void)state;
    const size_t n = 1000000;
    rn_opinst oi = op_of(&cnt_desc);
    rn_arena ar;
    rn_value *vals = malloc(n * sizeof(*vals));
    rn_acc a;
    tctx t;
    size_t base, peak;
    char buf[16];

    assert_non_null(vals);
    rn_arena_init(&ar, 0);
    tctx_init(&t);
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof(buf), "key%07zu", i);
        assert_int_equal(len, 10);
        vals[i] = rn_string(rn_arena_memdup(&ar, buf, 10), 10);
    }
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    base = rn_alloc_in_use();
    rn_alloc_peak_reset();
    step_all(&a, &t, vals, n);
    peak = rn_alloc_peak() - base;
    print_message("1M 10-byte keys: peak %zu bytes (%.1f per key), held "
                  "%zu (%.1f per key)\n",
                  peak, (double)peak / (double)n, rn_acc_bytes(&a),
                  (double)rn_acc_bytes(&a) / (double)n);
    assert_true(peak <= (64 + 10) * n + (4u << 20));
    assert_true(rn_acc_bytes(&a) <= peak);
    rn_acc_release(&a);
    tctx_release(&t);
    rn_arena_release(&ar);
    free(vals);
}

/* ---- FOLD (one value) ----------------------------------------------- */

static void test_fold(void **state)
{
    (void)state;
    rn_opinst oi = op_of(&count_desc);
    rn_value v[3] = {rn_int(1), rn_int(2), rn_int(3)};
    rn_acc a, b;
    tctx t;
    rn_partition *out;

    tctx_init(&t);
    assert_int_equal(rn_acc_init(&a, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_init(&b, &oi, &t.ctx), 0);
    assert_int_equal(rn_acc_step(&a, &t.ctx, v, 3), 0);
    assert_int_equal(rn_acc_step(&b, &t.ctx, v, 2), 0);
    rn_acc_clear(&a); /* no-op: one value */
    assert_int_equal(rn_acc_sorted_each(&a, walk_fn, NULL), 0);
    assert_int_equal(rn_acc_absorb(&a, &t.ctx, &b), 0);
    out = finish_all(&a, &t);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->items[0].u.i, 5);
    rn_partition_unref(out);
    rn_acc_release(&a);
    rn_acc_release(&b);
    tctx_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_clustered_keys),
        cmocka_unit_test(test_value_kinds),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_first_chunk_moves),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_absorb_peak),
        cmocka_unit_test(test_absorb_order),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_sorted_each_and_clear),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_bytes_per_key),
        cmocka_unit_test(test_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
