/*
 * The agg plugin's keyed operators, like Dask's bag methods of the same
 * names:
 *
 *   foldby   key, value = null, agg = count, default = null, strict
 *            [key, result] for each distinct key. key and value are key
 *            paths (runnel/keypath.h); value null aggregates whole
 *            elements. agg:
 *              sum      as the fold sum: int64, a double once a double is
 *                       seen or on overflow; non-numbers fail
 *              count    elements with the key (value is not read)
 *              min max  by the engine's order (rn_compare; ties between
 *                       equal-comparing values such as 1 and 1.0 by
 *                       rn__agg_total_cmp)
 *              mean     a double
 *              collect  the values, in input order (a list)
 *              first last  in input order
 *   groupby  key, default, strict: [key, [elements...]], in input order
 * and, for agg.c's frequencies and distinct, their optional `key`:
 *   frequencies {key}  [key, count] per key (the count agg)
 *   distinct {key}     the first element of each key, in input order
 *                      (the first agg, emitting the element only)
 * (without a key both stay as they were: the element is the key, and
 * distinct keeps nothing per key).
 *
 * An element lacking the key fails the task (naming the key and quoting
 * the element) unless `default` gives a key for it, or `strict: false`
 * groups it under null (as pluck). An element lacking its value always
 * fails.
 *
 * Input order and RN_OPF_COMMUTATIVE. Operator flags are fixed per
 * operator, not per parameter, and sum or count must not lose the
 * engine's per-thread tables to collect's needs. So both operators are
 * commutative, and the order-sensitive aggregations carry their order
 * with them: every value they keep is tagged with its input partition
 * (rn_partition_index), and within a partition values reach an
 * accumulator in input order (one task reads a partition, and a spilled
 * table's partials are combined in the order they were written, the
 * only place two partials of one partition meet). Combining then merges
 * by partition, whatever order the engine combines partials in: per
 * thread, smaller table into larger, or tree-wise on a cluster.
 *
 * Accumulators (the shapes cross the wire, so combine checks `other`):
 *   count, sum  RN_INT or RN_DOUBLE
 *   mean        [sum, count]
 *   min, max    [seen (bool), best]
 *   first, last [partition (int) or null, value]
 *   collect     [[partition, v, v...], [partition, v...]...]: segments
 *               in ascending partition order, a partition's values in
 *               input order (two segments may share a partition after
 *               a spill: the older first)
 *
 * combine may be handed an accumulator that is a plain copy of one of
 * these (the engine merging spilled runs copies the first partial) and
 * must rely on nothing but its visible items; step only ever sees
 * accumulators made by fold_init and changed by step and combine, and
 * may rely on what those arranged: the box behind the two visible slots
 * of min, max and last (the memory of the kept value, reused), and the
 * capacity of the lists collect appends to (cap_for below).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accum.h"
#include "keyed.h"

typedef enum agg_kind {
    AGG_SUM,
    AGG_COUNT,
    AGG_MIN,
    AGG_MAX,
    AGG_MEAN,
    AGG_COLLECT,
    AGG_FIRST,
    AGG_LAST
} agg_kind;

/* In agg_kind order. */
static const char *const agg_names[] = {"sum",  "count",   "min",
                                        "max",  "mean",    "collect",
                                        "first", "last",   NULL};

typedef struct keyed_state {
    rn_keypath *key;
    rn_keypath *value; /* NULL: the whole element */
    agg_kind agg;
    rn_value def;      /* the key of elements lacking it */
    int has_default;
} keyed_state;

#define KEY_HELP                                                             \
    "record field (string), list index (int, negative from the end), or "  \
    "a path: \"a.b[0]\" or a list [a, b, 0] (runnel/keypath.h)"

const rn_param_spec rn__agg_foldby_params[RN__AGG_FOLDBY_NPARAMS] = {
    {.name = "key", .type = RN_PT_ANY, .flags = RN_PF_REQUIRED,
     .help = "what to group by: " KEY_HELP},
    {.name = "value", .type = RN_PT_ANY, .def = NULL,
     .help = "what to aggregate, a key path as for key; null = the whole "
             "element"},
    {.name = "agg", .type = RN_PT_STRING, .def = "count",
     .choices = agg_names,
     .help = "sum, count, min, max, mean (a double), collect (a list in "
             "input order), first or last (in input order)"},
    {.name = "default", .type = RN_PT_ANY, .def = NULL,
     .help = "key for elements lacking it; null = none (fail)"},
    {.name = "strict", .type = RN_PT_BOOL, .def = "true",
     .help = "without a default, fail on a missing key; false groups such "
             "elements under null"},
};

const rn_param_spec rn__agg_groupby_params[RN__AGG_GROUPBY_NPARAMS] = {
    {.name = "key", .type = RN_PT_ANY, .flags = RN_PF_REQUIRED,
     .help = "what to group by: " KEY_HELP},
    {.name = "default", .type = RN_PT_ANY, .def = NULL,
     .help = "key for elements lacking it; null = none (fail)"},
    {.name = "strict", .type = RN_PT_BOOL, .def = "true",
     .help = "without a default, fail on a missing key; false groups such "
             "elements under null"},
};

const rn_param_spec rn__agg_bykey_params[RN__AGG_BYKEY_NPARAMS] = {
    {.name = "key", .type = RN_PT_ANY, .def = NULL,
     .help = "what makes elements the same: " KEY_HELP
             "; null = the whole element"},
};

/* ---- init ------------------------------------------------------------ */

/* How keyed_init reads the parameters. */
enum {
    WITH_VALUE = 1,   /* foldby: a value path */
    KEY_OPTIONAL = 2  /* frequencies, distinct: no key = the element */
};

static int keyed_init(rn_ctx *ctx, const rn_value *params, agg_kind agg,
                      int how, void **state)
{
    const rn_value *key = rn_record_get(params, "key");
    const rn_value *value = how & WITH_VALUE ? rn_record_get(params, "value")
                                             : NULL;
    const rn_value *def = rn_record_get(params, "default");
    keyed_state *st;
    int rc;

    /* memory of init lives as long as the plan: nothing to destroy */
    if (!(st = rn_alloc_keep(ctx, sizeof *st)))
        return RN_ENOMEM;
    memset(st, 0, sizeof *st);
    if (!key && !(how & KEY_OPTIONAL))
        return rn_error(ctx, RN_EINVAL, "key is required");
    if (key && !(key->kind == RN_NULL && (how & KEY_OPTIONAL)) &&
        (rc = rn_keypath_parse(ctx, key, "key", &st->key)) < 0)
        return rc;
    if (value && value->kind != RN_NULL &&
        (rc = rn_keypath_parse(ctx, value, "value", &st->value)) < 0)
        return rc;
    st->agg = agg;
    st->def = def ? *def : rn_null();
    /* an absent optional parameter is null, like "default: null":
     * strict: false asks for null keys (as pluck does) */
    st->has_default = st->def.kind != RN_NULL ||
                      !rn_param_bool(params, "strict", 1);
    *state = st;
    return 0;
}

int rn__agg_foldby_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    rn_str name = rn_param_str(params, "agg", "count");
    for (int i = 0; agg_names[i]; i++)
        if (rn_str_eq(name, agg_names[i]))
            return keyed_init(ctx, params, (agg_kind)i, WITH_VALUE, state);
    /* the engine checked the choices: only a changed table gets here */
    return rn_error(ctx, RN_EINVAL, "agg: unknown aggregation \"%.*s\"",
                    (int)(name.len > 32 ? 32 : name.len), name.ptr);
}

int rn__agg_groupby_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    return keyed_init(ctx, params, AGG_COLLECT, 0, state);
}

int rn__agg_frequencies_init(rn_ctx *ctx, const rn_value *params,
                             void **state)
{
    return keyed_init(ctx, params, AGG_COUNT, KEY_OPTIONAL, state);
}

int rn__agg_distinct_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    return keyed_init(ctx, params, AGG_FIRST, KEY_OPTIONAL, state);
}

/* ---- helpers --------------------------------------------------------- */

/* Capacity of a list this file grew to n > 0 items: the smallest power of
 * two >= max(n, 4). Lists made here always have it, so step can append
 * in place while n < cap_for(n). */
static size_t cap_for(size_t n)
{
    size_t c = 4;
    while (c < n)
        c <<= 1;
    return c;
}

/* Room for one more item in *l (a list made here, or empty): a new array
 * when it is full. *items = l's items. */
static int room(rn_ctx *ctx, rn_value *l, rn_value **items)
{
    size_t n = l->len, ncap;
    rn_value *p;

    if (n && n < cap_for(n)) {
        *items = (rn_value *)(void *)l->u.items;
        return 0;
    }
    if (n >= UINT32_MAX)
        return rn_error(ctx, RN_ELIMIT, "a group of more than %u values",
                        (unsigned)UINT32_MAX - 1);
    ncap = n ? 2 * n : 4;
    if (!(p = rn_alloc_keep(ctx, ncap * sizeof *p)))
        return RN_ENOMEM;
    if (n)
        memcpy(p, l->u.items, n * sizeof *p);
    l->u.items = p;
    *items = p;
    return 0;
}

/* *out = v in task memory (scalars need none). */
static int keep(rn_ctx *ctx, const rn_value *v, rn_value *out)
{
    if (v->kind < RN_STRING) {
        *out = *v;
        return 0;
    }
    return rn_copy(ctx, 1, v, out);
}

/* Two visible slots; step may use the box behind them (min, max, last). */
typedef struct slots2 {
    rn_value slot[2];
    rn__agg_box mem;
} slots2;

/* slot[1] = v: in the box, reused (step only; scalars need no memory). */
static int box_keep(rn_ctx *ctx, rn_value *acc, const rn_value *v)
{
    slots2 *s = (slots2 *)(void *)acc->u.items;
    if (v->kind < RN_STRING) {
        s->slot[1] = *v;
        return 0;
    }
    return rn__agg_box_set(ctx, &s->mem, v, &s->slot[1]);
}

static int not_number(rn_ctx *ctx, const keyed_state *st,
                      const rn_value *in, const rn_value *v)
{
    rn_str js = {"", 0};
    size_t cut;
    if (rn_to_json(ctx, in, &js) < 0)
        js.len = 0;
    cut = js.len > 160 ? 160 : js.len;
    /* on a character boundary */
    while (cut < js.len && cut > 0 &&
           ((unsigned char)js.ptr[cut] & 0xC0) == 0x80)
        cut--;
    return rn_error(ctx, RN_ETYPE,
                    "%s: expected a number, got %s; element: %.*s%s",
                    st->value ? "value" : "element", rn_kind_name(v->kind),
                    (int)cut, js.ptr, cut < js.len ? "..." : "");
}

static int64_t part_of(const rn_value *seg)
{
    return seg->u.items[0].u.i;
}

/* ---- key ------------------------------------------------------------- */

int rn__agg_keyed_key(void *state, rn_ctx *ctx, const rn_value *in,
                      rn_value *key)
{
    const keyed_state *st = state;
    const rn_value *k;
    if (!st->key) { /* frequencies, distinct without a key */
        *key = *in;
        return 0;
    }
    k = rn_keypath_get(st->key, in);
    if (k) {
        *key = *k;
        return 0;
    }
    if (st->has_default) {
        *key = st->def;
        return 0;
    }
    return rn_keypath_error(ctx, st->key, in, NULL);
}

/* ---- fold_init --------------------------------------------------------- */

int rn__agg_keyed_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    const keyed_state *st = state;
    rn_value *items;
    slots2 *s;

    switch (st->agg) {
    case AGG_SUM:
    case AGG_COUNT:
        *acc = rn_int(0);
        return 0;
    case AGG_MEAN:
        if (!(items = rn_alloc_keep(ctx, 2 * sizeof *items)))
            return RN_ENOMEM;
        items[0] = rn_int(0);
        items[1] = rn_int(0);
        *acc = rn_list(items, 2);
        return 0;
    case AGG_MIN:
    case AGG_MAX:
    case AGG_FIRST:
    case AGG_LAST:
        if (!(s = rn_alloc_keep(ctx, sizeof *s)))
            return RN_ENOMEM;
        memset(s, 0, sizeof *s);
        s->slot[0] = st->agg == AGG_MIN || st->agg == AGG_MAX ? rn_bool(0)
                                                              : rn_null();
        s->slot[1] = rn_null();
        *acc = rn_list(s->slot, 2);
        return 0;
    case AGG_COLLECT:
    default:
        *acc = rn_list(NULL, 0);
        return 0;
    }
}

/* ---- step ------------------------------------------------------------ */

/* Appends v, kept, to the segment of partition part (made when there is
 * none: in order, usually at the end). */
static int collect_add(rn_ctx *ctx, rn_value *acc, uint32_t part,
                       const rn_value *v)
{
    rn_value *segs = (rn_value *)(void *)acc->u.items, *seg, *items;
    size_t n = acc->len, pos = n;
    int rc;

    if (!(n && part_of(&segs[n - 1]) == part)) {
        /* a partition this accumulator has not seen last: find its
         * place from the end (partitions come in ascending order to a
         * thread, so this is the end but for a rare straggler) */
        while (pos > 0 && part_of(&segs[pos - 1]) > part)
            pos--;
        if (!(pos > 0 && part_of(&segs[pos - 1]) == part)) {
            rn_value *first;
            if ((rc = room(ctx, acc, &segs)) < 0)
                return rc;
            if (!(first = rn_alloc_keep(ctx, cap_for(1) * sizeof *first)))
                return RN_ENOMEM;
            first[0] = rn_int(part);
            memmove(&segs[pos + 1], &segs[pos], (n - pos) * sizeof *segs);
            segs[pos] = rn_list(first, 1);
            acc->len++;
            pos++;
        }
    }
    seg = &segs[pos - 1];
    if ((rc = room(ctx, seg, &items)) < 0 ||
        (rc = keep(ctx, v, &items[seg->len])) < 0)
        return rc;
    seg->len++;
    return 0;
}

int rn__agg_keyed_step(void *state, rn_ctx *ctx, rn_value *acc,
                       const rn_value *in)
{
    const keyed_state *st = state;
    const rn_value *v = in;
    rn_value *items;
    int rc;

    if (st->agg == AGG_COUNT) {
        acc->u.i++;
        return 0;
    }
    if (st->value && !(v = rn_keypath_get(st->value, in)))
        return rn_keypath_error(ctx, st->value, in, "value");
    switch (st->agg) {
    case AGG_SUM:
        if (v->kind != RN_INT && v->kind != RN_DOUBLE && v->kind != RN_BOOL)
            return not_number(ctx, st, in, v);
        return rn__agg_num_add(ctx, acc, v);
    case AGG_MEAN:
        if (v->kind != RN_INT && v->kind != RN_DOUBLE && v->kind != RN_BOOL)
            return not_number(ctx, st, in, v);
        items = (rn_value *)(void *)acc->u.items;
        if ((rc = rn__agg_num_add(ctx, &items[0], v)) < 0)
            return rc;
        items[1].u.i++;
        return 0;
    case AGG_MIN:
    case AGG_MAX: {
        int sign = st->agg == AGG_MIN ? -1 : 1;
        items = (rn_value *)(void *)acc->u.items;
        if (items[0].u.i &&
            rn__agg_total_cmp(ctx, v, &items[1]) * sign <= 0)
            return 0;
        if ((rc = box_keep(ctx, acc, v)) < 0)
            return rc;
        items[0] = rn_bool(1);
        return 0;
    }
    case AGG_FIRST:
    case AGG_LAST: {
        int64_t part = rn_partition_index(ctx);
        items = (rn_value *)(void *)acc->u.items;
        if (items[0].kind == RN_INT &&
            (st->agg == AGG_FIRST ? part >= items[0].u.i
                                  : part < items[0].u.i))
            return 0;
        /* first keeps one value per key (a fresh copy); last replaces
         * it all the time (in the box) */
        rc = st->agg == AGG_FIRST ? keep(ctx, v, &items[1])
                                  : box_keep(ctx, acc, v);
        if (rc < 0)
            return rc;
        items[0] = rn_int(part);
        return 0;
    }
    case AGG_COLLECT:
    default:
        return collect_add(ctx, acc, rn_partition_index(ctx), v);
    }
}

/* ---- combine ------------------------------------------------------------ */

/* Checks that other is a collect accumulator: segments [part, ...] in
 * ascending partition order. */
static int collect_check(rn_ctx *ctx, const rn_value *other)
{
    int64_t last = -1;
    if (other->kind != RN_LIST)
        return rn__agg_malformed(ctx, "collect: expected a list of segments");
    for (uint32_t i = 0; i < other->len; i++) {
        const rn_value *seg = &other->u.items[i];
        if (seg->kind != RN_LIST || seg->len < 1 ||
            seg->u.items[0].kind != RN_INT || seg->u.items[0].u.i < 0 ||
            seg->u.items[0].u.i > UINT32_MAX)
            return rn__agg_malformed(ctx, "collect: expected segments "
                                          "[partition, values...]");
        if (seg->u.items[0].u.i < last)
            return rn__agg_malformed(ctx, "collect: segments out of "
                                          "partition order");
        last = seg->u.items[0].u.i;
    }
    return 0;
}

/* A copy of segment seg with the capacity step relies on. */
static int segment_copy(rn_ctx *ctx, const rn_value *seg, rn_value *out)
{
    rn_value *items = rn_alloc_keep(ctx, cap_for(seg->len) * sizeof *items);
    if (!items)
        return RN_ENOMEM;
    items[0] = seg->u.items[0];
    for (uint32_t i = 1; i < seg->len; i++)
        if (keep(ctx, &seg->u.items[i], &items[i]) < 0)
            return RN_ENOMEM;
    *out = rn_list(items, seg->len);
    return 0;
}

/* Merges other's segments into acc's by partition, acc's first among
 * equals (they came first). acc's segments are kept as they are (views),
 * other's copied; the new list of segments has the capacity step relies
 * on, whatever acc's had. */
static int collect_combine(rn_ctx *ctx, rn_value *acc, const rn_value *other)
{
    const rn_value *a = acc->u.items, *o = other->u.items;
    size_t na = acc->len, no = other->len, i = 0, j = 0, k = 0;
    rn_value *segs;
    int rc;

    if ((rc = collect_check(ctx, other)) < 0)
        return rc;
    if (acc->kind != RN_LIST || collect_check(ctx, acc) < 0)
        return rn__agg_malformed(ctx, "collect: the accumulator is not one");
    if (no == 0)
        return 0;
    if (na + no > UINT32_MAX)
        return rn_error(ctx, RN_ELIMIT, "collect: too many segments");
    if (!(segs = rn_alloc_keep(ctx, cap_for(na + no) * sizeof *segs)))
        return RN_ENOMEM;
    while (i < na || j < no) {
        if (j == no || (i < na && part_of(&a[i]) <= part_of(&o[j]))) {
            segs[k++] = a[i++];
        } else if ((rc = segment_copy(ctx, &o[j++], &segs[k++])) < 0) {
            return rc;
        }
    }
    *acc = rn_list(segs, k);
    return 0;
}

/* Checks a two-slot partial: [bool, v] (min, max) or [int or null, v]. */
static int slots_check(rn_ctx *ctx, const rn_value *other, int seen_flag)
{
    if (other->kind != RN_LIST || other->len != 2)
        return rn__agg_malformed(ctx, "expected a list of two items");
    if (seen_flag ? other->u.items[0].kind != RN_BOOL
                  : (other->u.items[0].kind != RN_NULL &&
                     other->u.items[0].kind != RN_INT))
        return rn__agg_malformed(ctx, seen_flag
                                          ? "expected [seen, best]"
                                          : "expected [partition, value]");
    return 0;
}

int rn__agg_keyed_combine(void *state, rn_ctx *ctx, rn_value *acc,
                          const rn_value *other)
{
    const keyed_state *st = state;
    const rn_value *o = other->u.items;
    rn_value *items;
    int rc;

    switch (st->agg) {
    case AGG_COUNT:
        if (other->kind != RN_INT || acc->kind != RN_INT)
            return rn__agg_malformed(ctx, "a count must be an int");
        acc->u.i += other->u.i;
        return 0;
    case AGG_SUM:
        if (other->kind != RN_INT && other->kind != RN_DOUBLE)
            return rn__agg_malformed(ctx, "a sum must be a number");
        return rn__agg_num_add(ctx, acc, other);
    case AGG_MEAN:
        if (other->kind != RN_LIST || other->len != 2 ||
            (o[0].kind != RN_INT && o[0].kind != RN_DOUBLE) ||
            o[1].kind != RN_INT || acc->kind != RN_LIST || acc->len != 2)
            return rn__agg_malformed(ctx, "expected [sum, count]");
        items = (rn_value *)(void *)acc->u.items;
        if ((rc = rn__agg_num_add(ctx, &items[0], &o[0])) < 0)
            return rc;
        items[1].u.i += o[1].u.i;
        return 0;
    case AGG_MIN:
    case AGG_MAX: {
        int sign = st->agg == AGG_MIN ? -1 : 1;
        if ((rc = slots_check(ctx, other, 1)) < 0 ||
            (rc = slots_check(ctx, acc, 1)) < 0)
            return rc;
        items = (rn_value *)(void *)acc->u.items;
        if (!o[0].u.i ||
            (items[0].u.i &&
             rn__agg_total_cmp(ctx, &o[1], &items[1]) * sign <= 0))
            return 0;
        /* acc may be a plain copy (no box): a fresh copy of the value */
        if ((rc = keep(ctx, &o[1], &items[1])) < 0)
            return rc;
        items[0] = rn_bool(1);
        return 0;
    }
    case AGG_FIRST:
    case AGG_LAST:
        if ((rc = slots_check(ctx, other, 0)) < 0 ||
            (rc = slots_check(ctx, acc, 0)) < 0)
            return rc;
        items = (rn_value *)(void *)acc->u.items;
        /* equal partitions: acc's came first */
        if (o[0].kind != RN_INT ||
            (items[0].kind == RN_INT &&
             (st->agg == AGG_FIRST ? o[0].u.i >= items[0].u.i
                                   : o[0].u.i < items[0].u.i)))
            return 0;
        if ((rc = keep(ctx, &o[1], &items[1])) < 0)
            return rc;
        items[0] = o[0];
        return 0;
    case AGG_COLLECT:
    default:
        return collect_combine(ctx, acc, other);
    }
}

/* ---- finish ------------------------------------------------------------ */

static int emit_pair(rn_ctx *ctx, const rn_value *key, const rn_value *v)
{
    rn_value pair[2];
    rn_value l;
    pair[0] = *key;
    pair[1] = *v;
    l = rn_list(pair, 2);
    return rn_emit(ctx, &l);
}

static int collect_finish(rn_ctx *ctx, const rn_value *key,
                          const rn_value *acc)
{
    size_t total = 0, k = 0;
    rn_value *all, out;
    int rc;

    if (acc->len == 1) { /* the usual case: one segment, no copy */
        out = rn_list(acc->u.items[0].u.items + 1, acc->u.items[0].len - 1);
        return emit_pair(ctx, key, &out);
    }
    for (uint32_t i = 0; i < acc->len; i++)
        total += acc->u.items[i].len - 1;
    if (total > UINT32_MAX)
        return rn_error(ctx, RN_ELIMIT, "a group of %zu values (at most %u)",
                        total, (unsigned)UINT32_MAX);
    /* emit copies before it returns (host.h): a buffer for this key only,
     * rather than scratch memory that would hold every group until the
     * end of finish */
    all = total ? malloc(total * sizeof *all) : NULL;
    if (total && !all)
        return rn_error(ctx, RN_ENOMEM, "out of memory (a group of %zu)",
                        total);
    for (uint32_t i = 0; i < acc->len; i++) {
        const rn_value *seg = &acc->u.items[i];
        if (seg->len > 1)
            memcpy(all + k, seg->u.items + 1,
                   (seg->len - 1) * sizeof *all);
        k += seg->len - 1;
    }
    out = rn_list(all, total);
    rc = emit_pair(ctx, key, &out);
    free(all);
    return rc;
}

int rn__agg_keyed_finish(void *state, rn_ctx *ctx, const rn_value *key,
                         const rn_value *acc)
{
    const keyed_state *st = state;
    rn_value out = rn_null();
    int ok;

    switch (st->agg) {
    case AGG_SUM:
    case AGG_COUNT:
        return emit_pair(ctx, key, acc);
    case AGG_MEAN:
        if (acc->kind == RN_LIST && acc->len == 2 &&
            acc->u.items[1].u.i > 0)
            out = rn_double(rn_value_as_double(&acc->u.items[0], &ok) /
                            (double)acc->u.items[1].u.i);
        return emit_pair(ctx, key, &out);
    case AGG_MIN:
    case AGG_MAX:
    case AGG_FIRST:
    case AGG_LAST:
        if (acc->kind == RN_LIST && acc->len == 2)
            out = acc->u.items[1];
        return emit_pair(ctx, key, &out);
    case AGG_COLLECT:
    default:
        if (collect_check(ctx, acc) < 0)
            return RN_EPLUGIN;
        return collect_finish(ctx, key, acc);
    }
}

/* ---- distinct ---------------------------------------------------------- */

/* Without a key the element is the key: nothing to keep per key. */

int rn__agg_distinct_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    const keyed_state *st = state;
    if (!st->key) {
        *acc = rn_null();
        return 0;
    }
    return rn__agg_keyed_fold_init(state, ctx, acc);
}

int rn__agg_distinct_step(void *state, rn_ctx *ctx, rn_value *acc,
                          const rn_value *in)
{
    const keyed_state *st = state;
    return st->key ? rn__agg_keyed_step(state, ctx, acc, in) : 0;
}

int rn__agg_distinct_combine(void *state, rn_ctx *ctx, rn_value *acc,
                             const rn_value *other)
{
    const keyed_state *st = state;
    return st->key ? rn__agg_keyed_combine(state, ctx, acc, other) : 0;
}

int rn__agg_distinct_finish(void *state, rn_ctx *ctx, const rn_value *key,
                            const rn_value *acc)
{
    const keyed_state *st = state;
    if (!st->key)
        return rn_emit(ctx, key);
    if (acc->kind != RN_LIST || acc->len != 2)
        return rn__agg_malformed(ctx, "expected [partition, value]");
    return rn_emit(ctx, &acc->u.items[1]);
}
