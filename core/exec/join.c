/* The engine's join: tags for each side and the cogroup keyed fold
 * (exec/join.h). */
#include "exec/join.h"

#include <stdint.h>
#include <string.h>

#include <runnel/host.h>
#include <runnel/keypath.h>

#include "exec/ctx.h"

/* The engine's operators belong to this plugin: no file, no id; they are
 * never looked up by name (the planner names them itself). */
static const rn_plugin_desc engine_desc = {
    RN_PLUGIN_MAGIC,
    RN_ABI_MAJOR,
    RN_ABI_MINOR,
    (uint32_t)sizeof(rn_plugin_desc),
    (uint32_t)sizeof(rn_op_desc),
    (uint32_t)sizeof(rn_param_spec),
    (uint32_t)sizeof(rn_value),
    "runnel",
    "1",
    "operators of the engine itself",
    0,
    NULL};

rn_plugin rn__engine_plugin = {.path = (char *)"<engine>",
                               .desc = &engine_desc};

typedef struct join_state {
    rn_keypath *key[2]; /* left, right */
    int left_join;      /* how: left */
} join_state;

enum { P_WITH, P_KEY, P_RIGHT_KEY, P_HOW };

static int join_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    join_state *st;
    const rn_field *f = params->u.fields;
    int rc;

    if (params->kind != RN_RECORD || params->len != 4)
        return rn_error(ctx, RN_EINTERNAL, "join: unexpected parameters");
    if (!(st = rn_alloc_keep(ctx, sizeof(*st))))
        return RN_ENOMEM;
    memset(st, 0, sizeof(*st));
    if ((rc = rn_keypath_parse(ctx, &f[P_KEY].value, "key", &st->key[0])))
        return rc;
    if (f[P_RIGHT_KEY].value.kind == RN_NULL)
        st->key[1] = st->key[0];
    else if ((rc = rn_keypath_parse(ctx, &f[P_RIGHT_KEY].value, "right_key",
                                    &st->key[1])))
        return rc;
    st->left_join = f[P_HOW].value.kind == RN_STRING &&
                    f[P_HOW].value.len == 4 &&
                    memcmp(f[P_HOW].value.u.s, "left", 4) == 0;
    *state = st;
    return 0;
}

/* The code of the error a helper recorded (RN_ENOMEM when it recorded
 * none: an allocation failed). */
static int ctx_code(rn_ctx *ctx)
{
    const rn_task_ctx *tc = (const rn_task_ctx *)ctx;
    return tc->err && tc->err->code ? tc->err->code : RN_ENOMEM;
}

/* An element as the tags made it: [side, element]. */
static int untag(rn_ctx *ctx, const rn_value *in, int *side,
                 const rn_value **v)
{
    if (in->kind != RN_LIST || in->len != 2 || in->u.items[0].kind != RN_INT ||
        (uint64_t)in->u.items[0].u.i > 1)
        return rn_error(ctx, RN_EINTERNAL, "join: an untagged element");
    *side = (int)in->u.items[0].u.i;
    *v = &in->u.items[1];
    return 0;
}

static int join_key(void *state, rn_ctx *ctx, const rn_value *in,
                    rn_value *key)
{
    const join_state *st = state;
    const rn_value *v = NULL, *k;
    int side = 0, rc;
    if ((rc = untag(ctx, in, &side, &v)))
        return rc;
    if (!(k = rn_keypath_get(st->key[side], v)))
        return rn_keypath_error(ctx, st->key[side], v,
                                side ? "right element" : "left element");
    *key = *k;
    return 0;
}

/* The room a list of n items made here has: lists grow by doubling from
 * 4, so an append needs new memory only when n is 0 or a power of two
 * of 4 or more. */
static size_t cap_for(size_t n)
{
    size_t c = 4;
    while (c < n)
        c *= 2;
    return c;
}

/*
 * The accumulator is [lefts, rights]; each side is a list of segments
 * [partition, v, v...] in ascending partition order, a partition's
 * elements in input order. Tagging elements with their partition makes
 * the fold commutative: the engine keeps one table per thread and
 * combines them in any order (the larger table absorbs the smaller),
 * and combining merges segments by partition, so each side comes out in
 * input order anyway. Two segments share a partition only after a table
 * spilled (its partials combined in the order written: the older first).
 *
 * step only sees accumulators made by fold_init, step and combine, whose
 * lists have the room cap_for promises; combine may be handed a plain
 * copy (the merge of spilled runs copies the first partial) and relies on
 * nothing but what is visible.
 */
static int join_fold_init(void *state, rn_ctx *ctx, rn_value *acc)
{
    rn_value *sides = rn_alloc_keep(ctx, 2 * sizeof(*sides));
    (void)state;
    if (!sides)
        return RN_ENOMEM;
    sides[0] = rn_list(NULL, 0);
    sides[1] = rn_list(NULL, 0);
    *acc = rn_list(sides, 2);
    return 0;
}

static rn_value *items_of(const rn_value *list)
{
    return (rn_value *)(uintptr_t)list->u.items;
}

/* Makes room for one more item in *list (made here: its room is
 * cap_for(len)); returns its items. */
static rn_value *room(rn_ctx *ctx, rn_value *list)
{
    size_t n = list->len;
    rn_value *items = items_of(list);
    if (n == UINT32_MAX) {
        rn_error(ctx, RN_ELIMIT,
                 "join: more than %u elements with one key on one side",
                 (unsigned)UINT32_MAX);
        return NULL;
    }
    if (n == 0 || n == cap_for(n)) {
        rn_value *grown = rn_alloc_keep(ctx, cap_for(n + 1) * sizeof(*grown));
        if (!grown)
            return NULL;
        if (n)
            memcpy(grown, items, n * sizeof(*grown));
        items = grown;
        list->u.items = grown;
    }
    return items;
}

static int64_t seg_part(const rn_value *seg)
{
    return seg->u.items[0].u.i;
}

/* A side as this fold makes it (checked before a partial from elsewhere
 * is read): segments [int partition, ...] in ascending order. */
static int is_side(const rn_value *side)
{
    if (side->kind != RN_LIST)
        return 0;
    for (size_t i = 0; i < side->len; i++) {
        const rn_value *seg = &side->u.items[i];
        if (seg->kind != RN_LIST || seg->len < 1 ||
            seg->u.items[0].kind != RN_INT ||
            (i && seg_part(&side->u.items[i - 1]) > seg_part(seg)))
            return 0;
    }
    return 1;
}

static int is_acc(const rn_value *a)
{
    return a->kind == RN_LIST && a->len == 2 && is_side(&a->u.items[0]) &&
           is_side(&a->u.items[1]);
}

/* Appends a kept copy of v to the segment of partition part (made when
 * there is none: at the end, but for a rare straggler). */
static int side_add(rn_ctx *ctx, rn_value *side, uint32_t part,
                    const rn_value *v)
{
    rn_value *segs = items_of(side), *seg, *items;
    size_t n = side->len, pos = n;

    if (!(n && seg_part(&segs[n - 1]) == part)) {
        while (pos > 0 && seg_part(&segs[pos - 1]) > part)
            pos--;
        if (!(pos > 0 && seg_part(&segs[pos - 1]) == part)) {
            rn_value *first;
            if (!(segs = room(ctx, side)))
                return ctx_code(ctx);
            if (!(first = rn_alloc_keep(ctx, cap_for(1) * sizeof(*first))))
                return RN_ENOMEM;
            first[0] = rn_int(part);
            memmove(&segs[pos + 1], &segs[pos], (n - pos) * sizeof(*segs));
            segs[pos] = rn_list(first, 1);
            side->len++;
            pos++;
        }
    }
    seg = &segs[pos - 1];
    if (!(items = room(ctx, seg)))
        return ctx_code(ctx);
    if (rn_copy(ctx, 1, v, &items[seg->len]))
        return RN_ENOMEM;
    seg->len++;
    return 0;
}

static int join_step(void *state, rn_ctx *ctx, rn_value *acc,
                     const rn_value *in)
{
    const rn_value *v = NULL;
    int side = 0, rc;
    (void)state;
    if ((rc = untag(ctx, in, &side, &v)))
        return rc;
    return side_add(ctx, &items_of(acc)[side], rn_partition_index(ctx), v);
}

/* A kept deep copy of a segment, with room to grow. */
static int seg_copy(rn_ctx *ctx, const rn_value *seg, rn_value *out)
{
    rn_value *items = rn_alloc_keep(ctx, cap_for(seg->len) * sizeof(*items));
    if (!items)
        return RN_ENOMEM;
    items[0] = seg->u.items[0];
    for (size_t i = 1; i < seg->len; i++)
        if (rn_copy(ctx, 1, &seg->u.items[i], &items[i]))
            return RN_ENOMEM;
    *out = rn_list(items, seg->len);
    return 0;
}

/* acc's segments and other's merged by partition (acc's first when they
 * share one: the older partial); acc's are kept as they are (they live
 * in the same keep memory), other's copied. */
static int join_combine(void *state, rn_ctx *ctx, rn_value *acc,
                        const rn_value *other)
{
    rn_value *sides;
    int rc;
    (void)state;
    if (!is_acc(other) || !is_acc(acc))
        return rn_error(ctx, RN_EPLUGIN,
                        "join: a partial result is not [lefts, rights] in "
                        "segments by partition");
    if (!(sides = rn_alloc_keep(ctx, 2 * sizeof(*sides))))
        return RN_ENOMEM;
    for (int s = 0; s < 2; s++) {
        const rn_value *a = &acc->u.items[s], *o = &other->u.items[s];
        size_t n = (size_t)a->len + o->len, i = 0, j = 0, k = 0;
        rn_value *segs;
        if (!n) {
            sides[s] = rn_list(NULL, 0);
            continue;
        }
        if (n > UINT32_MAX)
            return rn_error(ctx, RN_ELIMIT, "join: too many segments");
        if (!(segs = rn_alloc_keep(ctx, cap_for(n) * sizeof(*segs))))
            return RN_ENOMEM;
        while (i < a->len || j < o->len) {
            if (j == o->len ||
                (i < a->len &&
                 seg_part(&a->u.items[i]) <= seg_part(&o->u.items[j])))
                segs[k++] = a->u.items[i++];
            else if ((rc = seg_copy(ctx, &o->u.items[j++], &segs[k++])))
                return rc;
        }
        sides[s] = rn_list(segs, n);
    }
    *acc = rn_list(sides, 2);
    return 0;
}

static int join_finish(void *state, rn_ctx *ctx, const rn_value *key,
                       const rn_value *acc)
{
    const join_state *st = state;
    const rn_value *l, *r;
    rn_value pair[2], out;
    int rc, any_right = 0;
    (void)key;
    if (!is_acc(acc))
        return rn_error(ctx, RN_EPLUGIN,
                        "join: a partial result is not [lefts, rights] in "
                        "segments by partition");
    l = &acc->u.items[0];
    r = &acc->u.items[1];
    for (size_t j = 0; j < r->len; j++)
        any_right |= r->u.items[j].len > 1;
    out = rn_list(pair, 2);
    /* left-major, each side in input order (segments by partition); the
     * pair is a view: the engine takes it through before emit returns
     * (exec/local.c, chain.c) */
    for (size_t i = 0; i < l->len; i++) {
        const rn_value *ls = &l->u.items[i];
        for (size_t li = 1; li < ls->len; li++) {
            pair[0] = ls->u.items[li];
            if (!any_right && st->left_join) {
                pair[1] = rn_null();
                if ((rc = rn_emit(ctx, &out)))
                    return rc;
            }
            for (size_t j = 0; j < r->len; j++) {
                const rn_value *rs = &r->u.items[j];
                for (size_t ri = 1; ri < rs->len; ri++) {
                    pair[1] = rs->u.items[ri];
                    if ((rc = rn_emit(ctx, &out)))
                        return rc;
                }
            }
        }
    }
    return 0;
}

static const char *const how_choices[] = {"inner", "left", NULL};

static const rn_param_spec join_params[] = {
    {"with", RN_PT_STRING, RN_PF_REQUIRED, NULL, 0, 0, NULL,
     "the dataset to join with: its elements are the right side"},
    {"key", RN_PT_ANY, RN_PF_REQUIRED, NULL, 0, 0, NULL,
     "the key of an element: a field, an index or a path (a.b[0])"},
    {"right_key", RN_PT_ANY, 0, NULL, 0, 0, NULL,
     "the key of a right element (default: key)"},
    {"how", RN_PT_STRING, 0, "inner", 0, 0, how_choices,
     "inner: keys on both sides; left: every left element, with null "
     "when no right element has its key"},
};

const rn_op_desc rn_join_op = {
    RN_OP_HEAD(RN_OP_FOLDBY, "join",
               "[left, right] for every pair of elements with equal keys"),
    RN_OP_PARAMS(join_params),
    /* order is kept by the partitions the segments carry */
    .flags = RN_OPF_COMMUTATIVE,
    .init = join_init,
    .key = join_key,
    .fold_init = join_fold_init,
    .step = join_step,
    .combine = join_combine,
    .finish = join_finish,
};

static int tag(rn_ctx *ctx, int side, const rn_value *in, rn_value *out)
{
    rn_value *items = rn_alloc(ctx, 2 * sizeof(*items));
    if (!items)
        return RN_ENOMEM;
    items[0] = rn_int(side);
    items[1] = *in;
    *out = rn_list(items, 2);
    return 0;
}

static int tag_left(void *st, rn_ctx *ctx, const rn_value *in, rn_value *out)
{
    (void)st;
    return tag(ctx, 0, in, out);
}

static int tag_right(void *st, rn_ctx *ctx, const rn_value *in,
                     rn_value *out)
{
    (void)st;
    return tag(ctx, 1, in, out);
}

const rn_op_desc rn_join_tag_ops[2] = {
    {RN_OP_HEAD(RN_OP_MAP, "join_left", "v -> [0, v]"), .map = tag_left},
    {RN_OP_HEAD(RN_OP_MAP, "join_right", "v -> [1, v]"), .map = tag_right},
};
