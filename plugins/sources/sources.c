/*
 * Shipped plugin "sources": bags made from the manifest itself.
 *
 *   from_sequence  items (a list, required), npartitions (int, 1): the
 *                  items, in order, cut into npartitions slices
 *   range          n (int >= 0, required), npartitions (int, 1): the ints
 *                  0 .. n-1, like Dask's from_sequence(range(n))
 *
 * Partitioning: `len` elements over `p` partitions give min(p, len)
 * partitions (one empty partition when len is 0) whose sizes differ by at
 * most one, the larger first. (Dask sizes from_sequence's partitions
 * ceil(len / p) and may make fewer; equal slices balance the work.)
 *
 * A split is the record {start: int, stop: int}: the slice bounds, not the
 * items, since the parameters are the same on every machine. read checks
 * the bounds against its own parameters before trusting them.
 */
#include <stdint.h>
#include <stdlib.h>

#include <runnel/runnel.h>

/* Values pushed downstream per rn_flush while reading. */
#define FLUSH_EVERY 4096

static const rn_param_spec from_sequence_params[] = {
    {.name = "items", .type = RN_PT_ANY, .flags = RN_PF_REQUIRED,
     .help = "the elements of the bag (a list)"},
    {.name = "npartitions", .type = RN_PT_INT, .def = "1", .min = 1,
     .max = 1048576, .help = "how many partitions to cut the items into"},
};

static const rn_param_spec range_params[] = {
    {.name = "n", .type = RN_PT_INT, .flags = RN_PF_REQUIRED, .min = 0,
     .max = 9.2e18, .help = "emit the ints 0 .. n-1"},
    {.name = "npartitions", .type = RN_PT_INT, .def = "1", .min = 1,
     .max = 1048576, .help = "how many partitions to cut the range into"},
};

typedef struct seq_state {
    const rn_value *items; /* from_sequence: views params until destroy */
    uint64_t len;          /* elements in the bag */
    uint64_t nparts;       /* partitions actually made */
} seq_state;

static int seq_new(rn_ctx *ctx, const rn_value *items, uint64_t len,
                   const rn_value *params, void **state)
{
    seq_state *st = calloc(1, sizeof *st);
    int64_t p = rn_param_int(params, "npartitions", 1);

    if (!st)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    st->items = items;
    st->len = len;
    st->nparts = p < 1 ? 1 : (uint64_t)p;
    if (st->nparts > len)
        st->nparts = len ? len : 1;
    *state = st;
    return 0;
}

static int from_sequence_init(rn_ctx *ctx, const rn_value *params,
                              void **state)
{
    const rn_value *items = rn_record_get(params, "items");
    if (!items || items->kind != RN_LIST)
        return rn_error(ctx, RN_EINVAL, "items must be a list, got %s",
                        items ? rn_kind_name(items->kind) : "nothing");
    return seq_new(ctx, items, items->len, params, state);
}

static int range_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    int64_t n = rn_param_int(params, "n", 0);
    if (n < 0)
        return rn_error(ctx, RN_EINVAL, "n must be >= 0, got %lld",
                        (long long)n);
    return seq_new(ctx, NULL, (uint64_t)n, params, state);
}

static void seq_destroy(void *state)
{
    free(state);
}

static int seq_plan(void *state, rn_ctx *ctx)
{
    const seq_state *st = state;
    uint64_t size = st->len / st->nparts, extra = st->len % st->nparts;
    uint64_t start = 0;

    for (uint64_t i = 0; i < st->nparts; i++) {
        uint64_t stop = start + size + (i < extra ? 1 : 0);
        rn_field *f = rn_alloc(ctx, 2 * sizeof *f);
        rn_value split;
        int rc;

        if (!f)
            return RN_ENOMEM;
        f[0].name.ptr = "start";
        f[0].name.len = 5;
        f[0].value = rn_int((int64_t)start);
        f[1].name.ptr = "stop";
        f[1].name.len = 4;
        f[1].value = rn_int((int64_t)stop);
        split = rn_record(f, 2);
        if ((rc = rn_emit(ctx, &split)) < 0)
            return rc;
        start = stop;
    }
    return 0;
}

/* Reads {start, stop} from a split and checks it against the bag. */
static int split_bounds(const seq_state *st, rn_ctx *ctx,
                        const rn_value *split, uint64_t *start,
                        uint64_t *stop)
{
    const rn_value *a = rn_record_get(split, "start");
    const rn_value *b = rn_record_get(split, "stop");

    if (!a || !b || a->kind != RN_INT || b->kind != RN_INT || a->u.i < 0 ||
        a->u.i > b->u.i || (uint64_t)b->u.i > st->len)
        return rn_error(ctx, RN_EFORMAT,
                        "malformed split: expected {start, stop} within "
                        "0..%llu",
                        (unsigned long long)st->len);
    *start = (uint64_t)a->u.i;
    *stop = (uint64_t)b->u.i;
    return 0;
}

static int from_sequence_read(void *state, rn_ctx *ctx,
                              const rn_value *split)
{
    const seq_state *st = state;
    uint64_t start, stop;
    int rc = split_bounds(st, ctx, split, &start, &stop);

    for (uint64_t i = start; rc == 0 && i < stop; i++) {
        rc = rn_emit(ctx, &st->items->u.items[i]);
        if (rc == 0 && (i - start + 1) % FLUSH_EVERY == 0)
            rc = rn_flush(ctx);
    }
    return rc < 0 ? rc : 0;
}

static int range_read(void *state, rn_ctx *ctx, const rn_value *split)
{
    const seq_state *st = state;
    uint64_t start, stop;
    int rc = split_bounds(st, ctx, split, &start, &stop);

    for (uint64_t i = start; rc == 0 && i < stop; i++) {
        rn_value v = rn_int((int64_t)i);
        rc = rn_emit(ctx, &v);
        if (rc == 0 && (i - start + 1) % FLUSH_EVERY == 0)
            rc = rn_flush(ctx);
    }
    return rc < 0 ? rc : 0;
}

static const rn_op_desc sources_ops[] = {
    {RN_OP_HEAD(RN_OP_SOURCE, "from_sequence",
                "a bag of the given items, cut into npartitions"),
     RN_OP_PARAMS(from_sequence_params), .init = from_sequence_init,
     .destroy = seq_destroy, .plan = seq_plan, .read = from_sequence_read},
    {RN_OP_HEAD(RN_OP_SOURCE, "range", "the ints 0 .. n-1"),
     RN_OP_PARAMS(range_params), .init = range_init,
     .destroy = seq_destroy, .plan = seq_plan, .read = range_read},
};

RN_PLUGIN_DEFINE("sources", "1.0.0", "sources: from_sequence, range",
                 sources_ops)
