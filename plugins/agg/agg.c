/*
 * Shipped plugin "agg": aggregations with the semantics of Dask's bag
 * methods of the same names.
 *
 * Folds (one result for the whole bag):
 *   count  int, the number of elements.
 *   sum    ints and bools add as int64; when a sum would overflow int64 it
 *          continues as a double (never wraps). A double anywhere makes the
 *          result a double. Empty bag: 0. Non-numbers: RN_ETYPE.
 *   min    the smallest / largest element in the engine's total order
 *   max    (rn_compare: null < bool < numbers < string < bytes < list <
 *          record); the first of equal ones. Empty bag: null.
 *   mean   double; the sum follows sum's rules. Empty bag: null.
 *   var    (ddof = 0) variance, std its square root, any, all: stats.c.
 *   take   (n = 10) the first n elements in bag order, one output each.
 *   topk   (k, key = null, smallest = false) the k largest, largest first
 *          (smallest: the k smallest, smallest first), one output each.
 *          key: a key path (runnel/keypath.h) to compare by (elements
 *          lacking it fail the task); equal keys are ordered by the whole
 *          element, so the result never depends on partitioning.
 * count, sum, min, max, mean, var, std, any and all are scalar
 * (RN_OPF_SCALAR): the last step.
 *
 * Keyed folds (the engine keeps one accumulator per distinct element):
 *   frequencies  [element, count] per distinct element (order unspecified)
 *   distinct     each distinct element once (order unspecified)
 *   (both take an optional key path, `key`: keyed.c)
 * A filter: random_sample (sample.c).
 * and, in keyed.c, those keyed by a key path (one accumulator per key):
 *   foldby       [key, sum / count / min / max / mean / collect / first /
 *                last of the values] per key
 *   groupby      [key, [elements...]] per key, in input order
 * (accum.c: what the accumulators of both files share).
 *
 * Memory: accumulators live in task memory (rn_alloc_keep). The operators
 * that keep copies of elements (min, max, topk) copy into buffers they
 * reuse, so a bag sorted the unlucky way does not pile up one copy per
 * element; take copies each kept element once.
 *
 * Accumulators passed to step, combine and finish of the (unkeyed) folds
 * here are always ones this plugin's fold_init made (so they may carry
 * private bookkeeping behind their visible items): the engine copies
 * accumulators only when it merges a keyed table's spilled runs (see
 * keyed.c). `other` in combine may come from another machine and is only
 * read, and checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <runnel/runnel.h>

#include "accum.h"
#include "keyed.h"
#include "stats.h"

/* ---- count ---------------------------------------------------------- */

static int int0_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    *acc = rn_int(0);
    return 0;
}

static int count_step(void *state, rn_ctx *ctx, rn_value *acc,
                      const rn_value *in)
{
    acc->u.i++;
    return 0;
}

static int count_combine(void *state, rn_ctx *ctx, rn_value *acc,
                         const rn_value *other)
{
    if (other->kind != RN_INT)
        return rn__agg_malformed(ctx, "a count must be an int");
    acc->u.i += other->u.i;
    return 0;
}

/* ---- sum ------------------------------------------------------------ */

static int sum_step(void *state, rn_ctx *ctx, rn_value *acc,
                    const rn_value *in)
{
    return rn__agg_num_add(ctx, acc, in);
}

static int sum_combine(void *state, rn_ctx *ctx, rn_value *acc,
                       const rn_value *other)
{
    if (other->kind != RN_INT && other->kind != RN_DOUBLE)
        return rn__agg_malformed(ctx, "a sum must be a number");
    return rn__agg_num_add(ctx, acc, other);
}

/* ---- min / max ------------------------------------------------------ */

/* acc is a list of 0 items (nothing seen) or 1 (the best so far); its
 * items pointer is this struct, whose box holds the item's memory. */
typedef struct minmax_acc {
    rn_value item;
    rn__agg_box mem;
} minmax_acc;

static int minmax_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    minmax_acc *m = rn_alloc_keep(ctx, sizeof *m);
    if (!m)
        return RN_ENOMEM;
    memset(m, 0, sizeof *m);
    *acc = rn_list(&m->item, 0);
    return 0;
}

/* sign: -1 keeps the smallest, +1 the largest. */
static int minmax_add(rn_ctx *ctx, rn_value *acc, const rn_value *in,
                      int sign)
{
    minmax_acc *m = (minmax_acc *)(void *)acc->u.items;
    int rc;

    if (acc->len && rn_compare(ctx, in, &m->item) * sign <= 0)
        return 0;
    /* scalars carry no memory: skip the rn__agg_box */
    if (in->kind < RN_STRING)
        m->item = *in;
    else if ((rc = rn__agg_box_set(ctx, &m->mem, in, &m->item)) < 0)
        return rc;
    acc->len = 1;
    return 0;
}

static int minmax_merge(rn_ctx *ctx, rn_value *acc, const rn_value *other,
                        int sign)
{
    if (other->kind != RN_LIST || other->len > 1)
        return rn__agg_malformed(ctx, "expected a list of at most one item");
    return other->len ? minmax_add(ctx, acc, &other->u.items[0], sign) : 0;
}

static int min_step(void *state, rn_ctx *ctx, rn_value *acc,
                    const rn_value *in)
{
    return minmax_add(ctx, acc, in, -1);
}

static int max_step(void *state, rn_ctx *ctx, rn_value *acc,
                    const rn_value *in)
{
    return minmax_add(ctx, acc, in, 1);
}

static int min_combine(void *state, rn_ctx *ctx, rn_value *acc,
                       const rn_value *other)
{
    return minmax_merge(ctx, acc, other, -1);
}

static int max_combine(void *state, rn_ctx *ctx, rn_value *acc,
                       const rn_value *other)
{
    return minmax_merge(ctx, acc, other, 1);
}

static int minmax_finish(void *state, rn_ctx *ctx, const rn_value *key,
                         const rn_value *acc)
{
    rn_value none = rn_null();
    if (acc->kind == RN_LIST && acc->len == 1)
        return rn_emit(ctx, &acc->u.items[0]);
    return rn_emit(ctx, &none);
}

/* ---- mean ----------------------------------------------------------- */

/* acc: [sum, count], both items in task memory owned by acc. */
static int mean_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    rn_value *items = rn_alloc_keep(ctx, 2 * sizeof *items);
    if (!items)
        return RN_ENOMEM;
    items[0] = rn_int(0);
    items[1] = rn_int(0);
    *acc = rn_list(items, 2);
    return 0;
}

static int mean_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in)
{
    rn_value *items = (rn_value *)(void *)acc->u.items;
    int rc = rn__agg_num_add(ctx, &items[0], in);
    if (rc < 0)
        return rc;
    items[1].u.i++;
    return 0;
}

static int mean_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    rn_value *items = (rn_value *)(void *)acc->u.items;
    const rn_value *o = other->u.items;
    int rc;

    if (other->kind != RN_LIST || other->len != 2 ||
        (o[0].kind != RN_INT && o[0].kind != RN_DOUBLE) ||
        o[1].kind != RN_INT)
        return rn__agg_malformed(ctx, "expected [sum, count]");
    if ((rc = rn__agg_num_add(ctx, &items[0], &o[0])) < 0)
        return rc;
    items[1].u.i += o[1].u.i;
    return 0;
}

static int mean_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc)
{
    const rn_value *items = acc->u.items;
    rn_value out = rn_null();
    int ok;

    if (acc->kind == RN_LIST && acc->len == 2 && items[1].u.i > 0)
        out = rn_double(rn_value_as_double(&items[0], &ok) /
                        (double)items[1].u.i);
    return rn_emit(ctx, &out);
}

/* ---- take ----------------------------------------------------------- */

/* acc: a list whose items follow a header holding their capacity. */
typedef struct vec_hdr {
    size_t cap;
    size_t unused; /* keeps the items 16-byte aligned */
} vec_hdr;

static size_t vec_cap(const rn_value *acc)
{
    return acc->u.items ? ((const vec_hdr *)(const void *)acc->u.items - 1)->cap
                        : 0;
}

/* Room for at least one more item (but never more than max in all). */
static rn_value *vec_reserve(rn_ctx *ctx, rn_value *acc, size_t max)
{
    size_t cap = vec_cap(acc), ncap;
    vec_hdr *h;
    rn_value *items;

    if (acc->len < cap)
        return (rn_value *)(void *)acc->u.items;
    ncap = cap ? cap * 2 : 16;
    if (ncap > max)
        ncap = max;
    h = rn_alloc_keep(ctx, sizeof *h + ncap * sizeof(rn_value));
    if (!h)
        return NULL;
    h->cap = ncap;
    items = (rn_value *)(void *)(h + 1);
    if (acc->len)
        memcpy(items, acc->u.items, acc->len * sizeof(rn_value));
    acc->u.items = items;
    return items;
}

typedef struct take_state {
    int64_t n;
} take_state;

static const rn_param_spec take_params[] = {
    {.name = "n", .type = RN_PT_INT, .def = "10", .min = 0,
     .max = 4294967295.0, .help = "how many elements to take"},
};

static int take_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    /* the state is one number: keep it in the pointer, nothing to free */
    *state = (void *)(uintptr_t)rn_param_int(params, "n", 10);
    return 0;
}

static int take_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    *acc = rn_list(NULL, 0);
    return 0;
}

static int take_add(void *state, rn_ctx *ctx, rn_value *acc,
                    const rn_value *in)
{
    size_t n = (size_t)(uintptr_t)state;
    rn_value *items;

    if (acc->len >= n)
        return 0;
    items = vec_reserve(ctx, acc, n);
    if (!items)
        return RN_ENOMEM;
    if (in->kind < RN_STRING) {
        items[acc->len] = *in;
    } else {
        int rc = rn_copy(ctx, 1, in, &items[acc->len]);
        if (rc < 0)
            return rc;
    }
    acc->len++;
    return 0;
}

static int take_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    /* partials arrive in partition order: ours come first */
    if (other->kind != RN_LIST)
        return rn__agg_malformed(ctx, "expected a list");
    for (uint32_t i = 0; i < other->len; i++) {
        int rc = take_add(state, ctx, acc, &other->u.items[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int emit_items(void *state, rn_ctx *ctx, const rn_value *key,
                      const rn_value *acc)
{
    if (acc->kind != RN_LIST)
        return rn__agg_malformed(ctx, "expected a list");
    for (uint32_t i = 0; i < acc->len; i++) {
        int rc = rn_emit(ctx, &acc->u.items[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- topk ----------------------------------------------------------- */

typedef struct topk_state {
    int64_t k;
    rn_keypath *key; /* NULL: the whole element */
    int sign;        /* 1: the largest; -1: the smallest */
} topk_state;

static const rn_param_spec topk_params[] = {
    {.name = "k", .type = RN_PT_INT, .flags = RN_PF_REQUIRED, .min = 1,
     .max = 4294967295.0, .help = "how many elements to keep"},
    {.name = "key", .type = RN_PT_ANY, .def = NULL,
     .help = "compare by this key path (a record field, a list index, or "
             "a path such as user.age or [a, 0]); null compares whole "
             "elements"},
    {.name = "smallest", .type = RN_PT_BOOL, .def = "false",
     .help = "the k smallest, smallest first, instead of the largest"},
};

static int topk_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    const rn_value *key = rn_record_get(params, "key");
    topk_state *st;
    int rc;

    st = calloc(1, sizeof *st);
    if (!st)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    /* the path's memory lives as long as the plan */
    if (key && key->kind != RN_NULL &&
        (rc = rn_keypath_parse(ctx, key, "key", &st->key)) < 0) {
        free(st);
        return rc;
    }
    st->k = rn_param_int(params, "k", 1);
    st->sign = rn_param_bool(params, "smallest", 0) ? -1 : 1;
    *state = st;
    return 0;
}

static void topk_destroy(void *state)
{
    free(state);
}

/* The key of v, or NULL when v lacks it. */
static const rn_value *topk_key(const topk_state *st, const rn_value *v)
{
    return st->key ? rn_keypath_get(st->key, v) : v;
}

static int topk_no_key(rn_ctx *ctx, const topk_state *st, const rn_value *v)
{
    return rn_keypath_error(ctx, st->key, v, "key");
}

/* Orders by key, then by the whole element (deterministic ties); with
 * smallest, the other way round, so the heap below keeps the k "largest"
 * in this order either way. Both values have their key (checked on the
 * way in). */
static int topk_cmp(const topk_state *st, rn_ctx *ctx, const rn_value *a,
                    const rn_value *b)
{
    int c = 0;
    if (st->key)
        c = rn_compare(ctx, topk_key(st, a), topk_key(st, b));
    if (!c)
        c = rn_compare(ctx, a, b);
    return st->sign * c;
}

/* Min-heap helpers; boxes (when not NULL) move with their items. */
static void heap_swap(rn_value *items, rn__agg_box *boxes, size_t i, size_t j)
{
    rn_value t = items[i];
    items[i] = items[j];
    items[j] = t;
    if (boxes) {
        rn__agg_box b = boxes[i];
        boxes[i] = boxes[j];
        boxes[j] = b;
    }
}

static void heap_up(const topk_state *st, rn_ctx *ctx, rn_value *items,
                    rn__agg_box *boxes, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (topk_cmp(st, ctx, &items[i], &items[p]) >= 0)
            break;
        heap_swap(items, boxes, i, p);
        i = p;
    }
}

static void heap_down(const topk_state *st, rn_ctx *ctx, rn_value *items,
                      rn__agg_box *boxes, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && topk_cmp(st, ctx, &items[l], &items[m]) < 0)
            m = l;
        if (r < n && topk_cmp(st, ctx, &items[r], &items[m]) < 0)
            m = r;
        if (m == i)
            return;
        heap_swap(items, boxes, i, m);
        i = m;
    }
}

/* acc: a list in heap order (smallest first) whose items follow this
 * header; one box per item (after the items) holds its memory. */
typedef struct topk_hdr {
    size_t cap;
    rn__agg_box *boxes;
} topk_hdr;

static topk_hdr *topk_hdr_of(const rn_value *acc)
{
    return (topk_hdr *)(void *)acc->u.items - 1;
}

static int topk_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    const topk_state *st = state;
    size_t cap = st->k < 16 ? (size_t)st->k : 16;
    topk_hdr *h = rn_alloc_keep(ctx, sizeof *h + cap * (sizeof(rn_value) +
                                                        sizeof(rn__agg_box)));
    rn_value *items;

    if (!h)
        return RN_ENOMEM;
    items = (rn_value *)(void *)(h + 1);
    h->cap = cap;
    h->boxes = (rn__agg_box *)(void *)(items + cap);
    memset(h->boxes, 0, cap * sizeof(rn__agg_box));
    *acc = rn_list(items, 0);
    return 0;
}

static int topk_grow(const topk_state *st, rn_ctx *ctx, rn_value *acc)
{
    topk_hdr *old = topk_hdr_of(acc), *h;
    size_t cap = old->cap * 2;
    rn_value *items;

    if (cap > (size_t)st->k)
        cap = (size_t)st->k;
    h = rn_alloc_keep(ctx, sizeof *h + cap * (sizeof(rn_value) +
                                              sizeof(rn__agg_box)));
    if (!h)
        return RN_ENOMEM;
    items = (rn_value *)(void *)(h + 1);
    h->cap = cap;
    h->boxes = (rn__agg_box *)(void *)(items + cap);
    memcpy(items, acc->u.items, acc->len * sizeof(rn_value));
    memcpy(h->boxes, old->boxes, acc->len * sizeof(rn__agg_box));
    memset(h->boxes + acc->len, 0, (cap - acc->len) * sizeof(rn__agg_box));
    acc->u.items = items;
    return 0;
}

static int topk_add(void *state, rn_ctx *ctx, rn_value *acc,
                    const rn_value *in)
{
    const topk_state *st = state;
    rn_value *items = (rn_value *)(void *)acc->u.items;
    topk_hdr *h = topk_hdr_of(acc);
    size_t n = acc->len;
    int rc;

    if (!topk_key(st, in))
        return topk_no_key(ctx, st, in);
    if (n == (size_t)st->k) {
        /* full: replace the smallest when in is larger */
        if (topk_cmp(st, ctx, in, &items[0]) <= 0)
            return 0;
        if ((rc = rn__agg_box_set(ctx, &h->boxes[0], in, &items[0])) < 0)
            return rc;
        heap_down(st, ctx, items, h->boxes, n, 0);
        return 0;
    }
    if (n == h->cap) {
        if ((rc = topk_grow(st, ctx, acc)) < 0)
            return rc;
        items = (rn_value *)(void *)acc->u.items;
        h = topk_hdr_of(acc);
    }
    if ((rc = rn__agg_box_set(ctx, &h->boxes[n], in, &items[n])) < 0)
        return rc;
    acc->len++;
    heap_up(st, ctx, items, h->boxes, n);
    return 0;
}

static int topk_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    if (other->kind != RN_LIST)
        return rn__agg_malformed(ctx, "expected a list");
    for (uint32_t i = 0; i < other->len; i++) {
        int rc = topk_add(state, ctx, acc, &other->u.items[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int topk_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc)
{
    const topk_state *st = state;
    size_t n = acc->len;
    rn_value *heap, *out;

    if (acc->kind != RN_LIST)
        return rn__agg_malformed(ctx, "expected a list");
    if (n == 0)
        return 0;
    heap = rn_alloc(ctx, 2 * n * sizeof *heap);
    if (!heap)
        return RN_ENOMEM;
    out = heap + n;
    memcpy(heap, acc->u.items, n * sizeof *heap);
    for (size_t i = n / 2; i-- > 0;)
        heap_down(st, ctx, heap, NULL, n, i);
    /* popping the smallest first fills the result from its end */
    for (size_t m = n; m > 0; m--) {
        out[m - 1] = heap[0];
        heap[0] = heap[m - 1];
        heap_down(st, ctx, heap, NULL, m - 1, 0);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = rn_emit(ctx, &out[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- frequencies / distinct (keyed) --------------------------------- */

static int freq_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in)
{
    acc->u.i++; /* the word-count hot path: nothing else */
    return 0;
}

/* ---- descriptor ----------------------------------------------------- */

static const rn_op_desc agg_ops[] = {
    {RN_OP_HEAD(RN_OP_FOLD, "count", "number of elements"),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE | RN_OPF_COUNTING,
     .fold_init = int0_init, .step = count_step,
     .combine = count_combine},
    {RN_OP_HEAD(RN_OP_FOLD, "sum",
                "sum of numbers (int64, a double once a double is seen or "
                "on overflow)"),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE, .fold_init = int0_init,
     .step = sum_step,
     .combine = sum_combine},
    {RN_OP_HEAD(RN_OP_FOLD, "min", "smallest element (null when empty)"),
     .flags = RN_OPF_SCALAR, .fold_init = minmax_init, .step = min_step,
     .combine = min_combine, .finish = minmax_finish},
    {RN_OP_HEAD(RN_OP_FOLD, "max", "largest element (null when empty)"),
     .flags = RN_OPF_SCALAR, .fold_init = minmax_init, .step = max_step,
     .combine = max_combine, .finish = minmax_finish},
    {RN_OP_HEAD(RN_OP_FOLD, "mean",
                "arithmetic mean as a double (null when empty)"),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE, .fold_init = mean_init,
     .step = mean_step,
     .combine = mean_combine, .finish = mean_finish},
    {RN_OP_HEAD(RN_OP_FOLD, "take", "the first n elements, in order"),
     RN_OP_PARAMS(take_params), .init = take_init,
     .fold_init = take_fold_init, .step = take_add,
     .combine = take_combine, .finish = emit_items},
    {RN_OP_HEAD(RN_OP_FOLD, "var",
                "variance of numbers (ddof = 0: population; Welford, "
                "combined pairwise; null when n <= ddof)"),
     RN_OP_PARAMS(rn__agg_var_params),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE, .init = rn__agg_var_init,
     .fold_init = rn__agg_var_fold_init, .step = rn__agg_var_step,
     .combine = rn__agg_var_combine, .finish = rn__agg_var_finish},
    {RN_OP_HEAD(RN_OP_FOLD, "std",
                "standard deviation of numbers: the square root of var"),
     RN_OP_PARAMS(rn__agg_var_params),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE, .init = rn__agg_var_init,
     .fold_init = rn__agg_var_fold_init, .step = rn__agg_var_step,
     .combine = rn__agg_var_combine, .finish = rn__agg_std_finish},
    {RN_OP_HEAD(RN_OP_FOLD, "any",
                "true when some element is truthy (Python's truthiness); "
                "false when empty"),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE,
     .fold_init = rn__agg_any_init, .step = rn__agg_any_step,
     .combine = rn__agg_any_combine},
    {RN_OP_HEAD(RN_OP_FOLD, "all",
                "true when every element is truthy (Python's truthiness); "
                "true when empty"),
     .flags = RN_OPF_SCALAR | RN_OPF_COMMUTATIVE,
     .fold_init = rn__agg_all_init, .step = rn__agg_all_step,
     .combine = rn__agg_all_combine},
    {RN_OP_HEAD(RN_OP_FILTER, "random_sample",
                "keeps each element with probability prob, decided by "
                "seed and the element's content (the same sample on every "
                "run, partitioning and cluster)"),
     RN_OP_PARAMS(rn__agg_sample_params), .init = rn__agg_sample_init,
     .filter = rn__agg_sample_filter},
    {RN_OP_HEAD(RN_OP_FOLD, "topk",
                "the k largest elements, largest first (or the k "
                "smallest, smallest first)"),
     RN_OP_PARAMS(topk_params), .flags = RN_OPF_COMMUTATIVE,
     .init = topk_init, .destroy = topk_destroy,
     .fold_init = topk_fold_init, .step = topk_add,
     .combine = topk_combine, .finish = topk_finish},
    {RN_OP_HEAD(RN_OP_FOLDBY, "frequencies",
                "[element, count] for each distinct element (or [key, "
                "count] per distinct key)"),
     RN_OP_PARAMS(rn__agg_bykey_params),
     .flags = RN_OPF_COMMUTATIVE | RN_OPF_COUNTING,
     .init = rn__agg_frequencies_init, .key = rn__agg_keyed_key,
     .fold_init = int0_init, .step = freq_step,
     .combine = count_combine},
    {RN_OP_HEAD(RN_OP_FOLDBY, "distinct",
                "each distinct element once (or the first element of each "
                "distinct key)"),
     RN_OP_PARAMS(rn__agg_bykey_params), .flags = RN_OPF_COMMUTATIVE,
     .init = rn__agg_distinct_init, .key = rn__agg_keyed_key,
     .fold_init = rn__agg_distinct_fold_init,
     .step = rn__agg_distinct_step, .combine = rn__agg_distinct_combine,
     .finish = rn__agg_distinct_finish},
    /* commutative whatever the agg: keyed.c says why collect, first and
     * last stay in input order all the same */
    {RN_OP_HEAD(RN_OP_FOLDBY, "foldby",
                "[key, aggregate] per key: the sum, count, min, max, mean, "
                "collect (list), first or last of the values"),
     RN_OP_PARAMS(rn__agg_foldby_params), .flags = RN_OPF_COMMUTATIVE,
     .init = rn__agg_foldby_init, .key = rn__agg_keyed_key,
     .fold_init = rn__agg_keyed_fold_init, .step = rn__agg_keyed_step,
     .combine = rn__agg_keyed_combine, .finish = rn__agg_keyed_finish},
    {RN_OP_HEAD(RN_OP_FOLDBY, "groupby",
                "[key, [elements...]] per key, elements in input order"),
     RN_OP_PARAMS(rn__agg_groupby_params), .flags = RN_OPF_COMMUTATIVE,
     .init = rn__agg_groupby_init, .key = rn__agg_keyed_key,
     .fold_init = rn__agg_keyed_fold_init, .step = rn__agg_keyed_step,
     .combine = rn__agg_keyed_combine, .finish = rn__agg_keyed_finish},
};

RN_PLUGIN_DEFINE("agg", "1.1.0",
                 "aggregations: count, sum, min, max, mean, var, std, any, "
                 "all, take, topk, frequencies, distinct, foldby, groupby; "
                 "random_sample",
                 agg_ops)
