#include "exec/acc.h"

#include <string.h>

#include "base/alloc.h"
#include "value/value.h"

/* Calls a fold callback with ctx->keep pointing at the accumulator's
 * arena, so rn_alloc_keep memory lives as long as the accumulator. */
#define WITH_KEEP(a, ctx, call)                                              \
    do {                                                                     \
        rn_arena *saved_ = (ctx)->keep;                                      \
        (ctx)->keep = &(a)->arena;                                           \
        rc = (call);                                                         \
        (ctx)->keep = saved_;                                                \
    } while (0)

#define RN_ACC_CHUNK 32

static int bad_rc(rn_task_ctx *ctx, int rc, const char *what)
{
    if (rc > 0 || (ctx->err && ctx->err->code == 0))
        return rn_error_set(ctx->err, rc > 0 ? RN_EPLUGIN : rc,
                            "%s failed (%s) without a message", what,
                            rn_err_name(rc > 0 ? RN_EPLUGIN : rc));
    return rc;
}

/* Big tables get huge pages: every lookup of a cold key would otherwise
 * miss the TLB as well as the cache. */
#define LARGE_TABLE ((size_t)2 << 20)

static rn_acc_entry *slot_alloc(size_t ns)
{
    size_t bytes = ns * sizeof(rn_acc_entry);
    return bytes >= LARGE_TABLE ? rn_malloc_large(bytes) : rn_malloc(bytes);
}

static void slot_free(rn_acc_entry *slots, size_t ns)
{
    size_t bytes = ns * sizeof(rn_acc_entry);
    if (bytes >= LARGE_TABLE)
        rn_free_large(slots, bytes);
    else
        rn_free(slots);
}

int rn_acc_init(rn_acc *a, const rn_opinst *oi, rn_task_ctx *ctx)
{
    int rc = 0;
    memset(a, 0, sizeof(*a));
    a->oi = oi;
    a->keyed = oi->op->kind == RN_OP_FOLDBY;
    rn_arena_init(&a->arena, 64 * 1024);
    if (!a->keyed) {
        a->value = rn_null();
        WITH_KEEP(a, ctx, oi->op->fold_init(oi->state, &ctx->pub, &a->value));
        if (rc)
            return bad_rc(ctx, rc, "fold_init");
    }
    return 0;
}

void rn_acc_release(rn_acc *a)
{
    slot_free(a->slots, a->nslots);
    rn_arena_release(&a->arena);
    memset(a, 0, sizeof(*a));
}

/* Points a slot's key at its inline copy when it lives there. */
static inline void fix_inline(rn_acc_entry *e, int was_inline)
{
    if (was_inline)
        e->key.u.s = e->inl;
}

static inline int is_inline(const rn_acc_entry *e)
{
    return (e->key.kind == RN_STRING || e->key.kind == RN_BYTES) &&
           e->key.len <= RN_ACC_INLINE && e->key.len > 0 &&
           e->key.u.s == e->inl;
}

static int grow_slots(rn_acc *a)
{
    size_t ns = a->nslots ? a->nslots * 2 : 1024;
    rn_acc_entry *slots = slot_alloc(ns);
    if (!slots)
        return RN_ENOMEM;
    for (size_t i = 0; i < ns; i++)
        slots[i].key.kind = RN_ACC_EMPTY;
    for (size_t i = 0; i < a->nslots; i++) {
        rn_acc_entry *o = &a->slots[i];
        size_t j;
        int inl;
        if (o->key.kind == RN_ACC_EMPTY)
            continue;
        inl = is_inline(o);
        j = (size_t)o->hash & (ns - 1);
        while (slots[j].key.kind != RN_ACC_EMPTY)
            j = (j + 1) & (ns - 1);
        slots[j] = *o;
        fix_inline(&slots[j], inl);
    }
    slot_free(a->slots, a->nslots);
    a->slots = slots;
    a->nslots = ns;
    return 0;
}

static inline int bytes_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y, z, w;
    uint32_t x4, y4, z4, w4;
    if (n >= 8 && n <= 16) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        memcpy(&z, a + n - 8, 8);
        memcpy(&w, b + n - 8, 8);
        return ((x ^ y) | (z ^ w)) == 0;
    }
    if (n >= 4 && n < 8) {
        memcpy(&x4, a, 4);
        memcpy(&y4, b, 4);
        memcpy(&z4, a + n - 4, 4);
        memcpy(&w4, b + n - 4, 4);
        return ((x4 ^ y4) | (z4 ^ w4)) == 0;
    }
    if (n < 4) /* bytes 0, n/2 and n-1 cover every position */
        return n == 0 || (a[0] == b[0] && a[n >> 1] == b[n >> 1] &&
                          a[n - 1] == b[n - 1]);
    return memcmp(a, b, n) == 0;
}

static inline int key_eq(const rn_value *x, const rn_value *y)
{
    if (x->kind == RN_STRING && y->kind == RN_STRING)
        return x->len == y->len && bytes_eq(x->u.s, y->u.s, x->len);
    return rn_value_equal(x, y);
}

static inline uint64_t key_hash(const rn_value *k)
{
    return k->kind == RN_STRING ? rn__hash_str_inline(k->u.s, k->len)
                                : rn_value_hash(k);
}

/* The hit path, small enough to inline into the step loop. */
__attribute__((always_inline)) static inline rn_acc_entry *
find(const rn_acc *a, const rn_value *key, uint64_t h, size_t *slot)
{
    size_t mask = a->nslots - 1, j = (size_t)h & mask;
    if (!a->nslots) {
        *slot = 0;
        return NULL;
    }
    for (;;) {
        rn_acc_entry *e = &a->slots[j];
        if (e->key.kind == RN_ACC_EMPTY)
            break;
        if (e->hash == h && key_eq(&e->key, key))
            return e;
        j = (j + 1) & mask;
    }
    *slot = j;
    return NULL;
}

/* Inserts key (absent, would go to `slot`); NULL on error, recorded. */
__attribute__((noinline)) static rn_acc_entry *
insert(rn_acc *a, rn_task_ctx *ctx, const rn_value *key, uint64_t h,
       size_t slot)
{
    rn_acc_entry *e;
    int rc;

    if ((a->n + 1) * 2 > a->nslots) {
        if (a->nslots >= ((size_t)1 << 40) || grow_slots(a)) {
            rn_error_set(ctx->err, RN_ENOMEM, "out of memory (keyed table)");
            return NULL;
        }
        find(a, key, h, &slot); /* the table moved: find the free slot */
    }
    e = &a->slots[slot];
    e->hash = h;
    if ((key->kind == RN_STRING || key->kind == RN_BYTES) && key->len > 0 &&
        key->len <= RN_ACC_INLINE) {
        e->key = *key;
        memcpy(e->inl, key->u.s, key->len);
        e->key.u.s = e->inl;
    } else if (rn_value_copy(&a->arena, key, &e->key)) {
        e->key.kind = RN_ACC_EMPTY;
        rn_error_set(ctx->err, RN_ENOMEM, "out of memory (keys)");
        return NULL;
    }
    e->acc = rn_null();
    a->n++;
    WITH_KEEP(a, ctx,
              a->oi->op->fold_init(a->oi->state, &ctx->pub, &e->acc));
    if (rc) {
        bad_rc(ctx, rc, "fold_init");
        return NULL;
    }
    return e;
}

/* Finds or inserts key; returns the entry (NULL on error, recorded). */
__attribute__((always_inline)) static inline rn_acc_entry *
lookup(rn_acc *a, rn_task_ctx *ctx, const rn_value *key, uint64_t h)
{
    size_t slot;
    rn_acc_entry *e = find(a, key, h, &slot);
    return e ? e : insert(a, ctx, key, h, slot);
}

int rn_acc_step(rn_acc *a, rn_task_ctx *ctx, const rn_value *vals, size_t n)
{
    const rn_op_desc *op = a->oi->op;
    void *st = a->oi->state;
    rn_arena *saved = ctx->keep;
    int rc = 0, counting = (op->flags & RN_OPF_COUNTING) != 0;

    ctx->keep = &a->arena;
    if (!a->keyed) {
        if ((op->flags & RN_OPF_COUNTING) && a->value.kind == RN_INT) {
            a->value.u.i += (int64_t)n; /* what step would do n times */
            ctx->keep = saved;
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            if ((rc = op->step(st, &ctx->pub, &a->value, &vals[i])))
                break;
        ctx->keep = saved;
        return rc ? bad_rc(ctx, rc, "step") : 0;
    }
    /* Keys of a chunk are hashed first and their slots prefetched, so the
     * cache misses of a big table overlap instead of queueing. */
    for (size_t base = 0; base < n && rc == 0; base += RN_ACC_CHUNK) {
        size_t m = n - base < RN_ACC_CHUNK ? n - base : RN_ACC_CHUNK;
        rn_value keys[RN_ACC_CHUNK];
        uint64_t hs[RN_ACC_CHUNK];
        /* without a key callback the elements are the keys: no copy */
        const rn_value *ks = op->key ? keys : vals + base;
        if (op->key)
            for (size_t k = 0; k < m; k++)
                if ((rc = op->key(st, &ctx->pub, &vals[base + k], &keys[k]))) {
                    rc = bad_rc(ctx, rc, "key");
                    break;
                }
        if (rc)
            break;
        if (a->nslots) {
            size_t mask = a->nslots - 1;
            for (size_t k = 0; k < m; k++) {
                hs[k] = key_hash(&ks[k]);
                __builtin_prefetch(&a->slots[(size_t)hs[k] & mask]);
            }
        } else {
            for (size_t k = 0; k < m; k++)
                hs[k] = key_hash(&ks[k]);
        }
        for (size_t k = 0; k < m && rc == 0; k++) {
            rn_acc_entry *e = lookup(a, ctx, &ks[k], hs[k]);
            if (!e) {
                rc = ctx->err->code ? ctx->err->code : RN_ENOMEM;
                break;
            }
            if (counting && e->acc.kind == RN_INT)
                e->acc.u.i++; /* RN_OPF_COUNTING: step without the call */
            else if ((rc = op->step(st, &ctx->pub, &e->acc, &vals[base + k])))
                rc = bad_rc(ctx, rc, "step");
        }
    }
    ctx->keep = saved;
    return rc;
}

static int merge_one(rn_acc *a, rn_task_ctx *ctx, const rn_value *key,
                     uint64_t h, const rn_value *acc)
{
    rn_acc_entry *e = lookup(a, ctx, key, h);
    int rc;
    if (!e)
        return ctx->err->code ? ctx->err->code : RN_ENOMEM;
    WITH_KEEP(a, ctx, a->oi->op->combine(a->oi->state, &ctx->pub, &e->acc, acc));
    return rc ? bad_rc(ctx, rc, "combine") : 0;
}

int rn_acc_merge(rn_acc *a, rn_task_ctx *ctx, const rn_acc *other)
{
    int rc = 0;
    if (!a->keyed) {
        WITH_KEEP(a, ctx,
                  a->oi->op->combine(a->oi->state, &ctx->pub, &a->value,
                                     &other->value));
        return rc ? bad_rc(ctx, rc, "combine") : 0;
    }
    for (size_t i = 0; i < other->nslots; i++) {
        const rn_acc_entry *o = &other->slots[i];
        if (o->key.kind == RN_ACC_EMPTY)
            continue;
        if ((rc = merge_one(a, ctx, &o->key, o->hash, &o->acc)))
            return rc;
    }
    return 0;
}

int rn_acc_save(const rn_acc *a, rn_partition *p)
{
    int rc;
    if (!a->keyed)
        return rn_partition_push(p, &a->value);
    for (size_t i = 0; i < a->nslots; i++) {
        if (a->slots[i].key.kind == RN_ACC_EMPTY)
            continue;
        rn_value pair[2] = {a->slots[i].key, a->slots[i].acc};
        rn_value l = rn_list(pair, 2);
        if ((rc = rn_partition_push(p, &l)))
            return rc;
    }
    return 0;
}

int rn_acc_load(rn_acc *a, rn_task_ctx *ctx, const rn_partition *p)
{
    int rc = 0;
    for (size_t i = 0; i < p->n; i++) {
        const rn_value *v = &p->items[i];
        if (!a->keyed) {
            WITH_KEEP(a, ctx,
                      a->oi->op->combine(a->oi->state, &ctx->pub, &a->value, v));
            if (rc)
                return bad_rc(ctx, rc, "combine");
            continue;
        }
        if (v->kind != RN_LIST || v->len != 2)
            return rn_error_set(ctx->err, RN_EFORMAT,
                                "partial keyed fold: element %zu is not a "
                                "[key, acc] pair",
                                i);
        if ((rc = merge_one(a, ctx, &v->u.items[0], key_hash(&v->u.items[0]),
                            &v->u.items[1])))
            return rc;
    }
    return 0;
}

int rn_acc_finish(rn_acc *a, rn_task_ctx *ctx)
{
    const rn_op_desc *op = a->oi->op;
    void *st = a->oi->state;
    int rc = 0;

    if (!a->keyed) {
        if (op->finish)
            WITH_KEEP(a, ctx, op->finish(st, &ctx->pub, NULL, &a->value));
        else
            rc = rn_emit(&ctx->pub, &a->value);
        return rc ? bad_rc(ctx, rc, "finish") : 0;
    }
    for (size_t i = 0; i < a->nslots; i++) {
        rn_acc_entry *e = &a->slots[i];
        if (e->key.kind == RN_ACC_EMPTY)
            continue;
        if (op->finish) {
            WITH_KEEP(a, ctx, op->finish(st, &ctx->pub, &e->key, &e->acc));
        } else {
            rn_value pair[2] = {e->key, e->acc};
            rn_value l = rn_list(pair, 2);
            rc = rn_emit(&ctx->pub, &l);
        }
        if (rc)
            return bad_rc(ctx, rc, "finish");
    }
    return 0;
}
