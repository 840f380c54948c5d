#include "exec/acc.h"

#include <string.h>

#include "base/alloc.h"
#include "base/budget.h"
#include "exec/acc_spill.h"
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

/* Keys of a batch are looked up this many at a time (see rn_acc_step):
 * 64 measured ~5% less CPU than 32 on word count (more misses in
 * flight), 128 no better. */
#define RN_ACC_CHUNK 64

/* ---- layout ----------------------------------------------------------
 *
 * An entry: 48 bytes. The key is an rn_value (scalars; long strings and
 * bytes pointing into the key blocks; lists and records into the arena)
 * or, for strings and bytes of up to RN_ACC_INLINE bytes, its kind and
 * length followed by the bytes themselves (`in`), where the value's
 * pointer would be. Entries never move while keys are added (only the
 * first chunk, while it is small, is reallocated), but sorting moves
 * them: a key view is built from its entry each time (entry_key). */
struct rn_acc_entry {
    uint64_t hash;
    rn_value acc;
    union {
        rn_value v;
        struct {
            uint32_t kind, len;
            char b[RN_ACC_INLINE];
        } in;
    } key;
};

_Static_assert(sizeof(rn_acc_entry) == 48, "an entry is 48 bytes");

struct rn_acc_kblock {
    rn_acc_kblock *next;
    size_t size; /* bytes after this header */
};

/* Chunks of entries are 2 MiB (one huge page; never copied). A slot of
 * the index is ix_hash(hash) >> 32 << 32 | chunk << 17 | where, `where` the
 * entry's place in its chunk in 16-byte units (so that finding the
 * entry is a shift and an add), and 0 marks a free slot (zeroed memory
 * is an empty index): entry 0 of every chunk is left unused. */
#define CHUNK_BYTES ((size_t)2 << 20)
#define CHUNK_ENTRIES (CHUNK_BYTES / sizeof(rn_acc_entry) - 1) /* 43689 */
#define MAX_CHUNKS ((size_t)1 << 15) /* 1.4 G keys */
#define FIRST_ENTRIES 32 /* the first chunk's room, x4 per growth */
#define MIN_SLOTS 128
/* Arrays this big come from rn_malloc_large (huge pages): every lookup of
 * a cold key would otherwise miss the TLB as well as the cache. */
#define LARGE ((size_t)2 << 20)
#define KBLOCK_MIN 4096
#define KBLOCK_MAX ((size_t)1 << 20)

_Static_assert(CHUNK_BYTES <= (size_t)16 << 17, "places fit 17 bits");
_Static_assert(sizeof(rn_acc_entry) % 16 == 0, "entries are 16-byte units");

static int bad_rc(rn_task_ctx *ctx, int rc, const char *what)
{
    if (rc > 0 || (ctx->err && ctx->err->code == 0))
        return rn_error_set(ctx->err, rc > 0 ? RN_EPLUGIN : rc,
                            "%s failed (%s) without a message", what,
                            rn_err_name(rc > 0 ? RN_EPLUGIN : rc));
    return rc;
}

/* What the index keeps of a hash, and where a key's home slot is: its
 * top 32 bits are the hash's top and low halves xored. Not the top bits
 * alone: they are what orders a finished table (ascending hash) and
 * what picks a key's partition (rn_acc_bucket), so the keys a table is
 * fed are often from one corner of the hash space (a reduce task's
 * bucket, or the sorted output of another keyed fold) and would pile up
 * in one corner of the index: probe runs as long as the table, a
 * quadratic build. The low half is independent of both. */
static inline uint64_t ix_hash(uint64_t h)
{
    return h ^ (h << 32);
}

static inline uint64_t slot_make(uint64_t h, size_t chunk, size_t off)
{
    return (ix_hash(h) >> 32) << 32 | (uint64_t)chunk << 17 |
           off * (sizeof(rn_acc_entry) / 16);
}

static inline rn_acc_entry *slot_entry(rn_acc_entry *const *chunks,
                                       uint64_t s)
{
    return (rn_acc_entry *)((char *)chunks[(uint32_t)s >> 17] +
                            ((s & 0x1ffff) << 4));
}

static inline rn_acc_entry *entry_at(const rn_acc *a, uint64_t s)
{
    return slot_entry(a->chunks, s);
}

/* Entries held by chunk c. */
static inline size_t chunk_count(const rn_acc *a, size_t c)
{
    return c + 1 == a->nchunks ? a->used : CHUNK_ENTRIES;
}

static inline int is_inline(uint32_t kind, uint32_t len)
{
    return (kind == RN_STRING || kind == RN_BYTES) && len <= RN_ACC_INLINE;
}

/* A view of an entry's key, valid while the entry stays where it is. */
static inline rn_value entry_key(const rn_acc_entry *e)
{
    rn_value k = e->key.v;
    if (is_inline(k.kind, k.len))
        k.u.s = e->key.in.b;
    return k;
}

/* ---- memory ---------------------------------------------------------- */

static uint64_t *slots_alloc(size_t ns)
{
    size_t bytes = ns * sizeof(uint64_t);
    return bytes >= LARGE ? rn_malloc_large(bytes)
                          : rn_calloc(ns, sizeof(uint64_t));
}

static void slots_free(rn_acc *a)
{
    size_t bytes = a->nslots * sizeof(uint64_t);
    if (!a->slots)
        return;
    if (bytes >= LARGE)
        rn_free_large(a->slots, bytes);
    else
        rn_free(a->slots);
    a->bytes -= bytes;
    a->slots = NULL;
    a->nslots = a->grow_at = 0;
}

/* A chunk is large (rn_malloc_large) unless it is the first one still
 * growing. */
static inline int chunk_large(const rn_acc *a, size_t c)
{
    return c > 0 || a->cap0 == CHUNK_ENTRIES;
}

static size_t chunk_bytes(const rn_acc *a, size_t c)
{
    return chunk_large(a, c) ? CHUNK_BYTES
                             : (a->cap0 + 1) * sizeof(rn_acc_entry);
}

static void chunk_free(rn_acc *a, size_t c)
{
    if (!a->chunks[c])
        return;
    a->bytes -= chunk_bytes(a, c);
    if (chunk_large(a, c))
        rn_free_large(a->chunks[c], CHUNK_BYTES);
    else
        rn_free(a->chunks[c]);
    a->chunks[c] = NULL;
}

static void kblocks_free(rn_acc *a)
{
    rn_acc_kblock *b = a->kblocks, *next;
    for (; b; b = next) {
        next = b->next;
        a->bytes -= sizeof(*b) + b->size;
        rn_free(b);
    }
    a->kblocks = NULL;
    a->kcur = a->kend = NULL;
    a->kblock_size = 0;
}

/* Frees the keyed table's memory (not the arena). */
static void table_free(rn_acc *a)
{
    slots_free(a);
    for (size_t c = 0; c < a->nchunks; c++)
        chunk_free(a, c);
    if (a->chunks) {
        a->bytes -= a->chunks_cap * sizeof(*a->chunks);
        rn_free(a->chunks);
    }
    a->chunks = NULL;
    a->nchunks = a->chunks_cap = a->used = a->cap0 = 0;
    kblocks_free(a);
    a->n = 0;
}

/* Makes room for one more entry in the last chunk. The first chunk
 * starts with FIRST_ENTRIES and grows x4 by reallocation (at most ~400
 * KiB copied) until it is a full 2 MiB chunk; later chunks are full from
 * the start and never move. */
static int entry_room(rn_acc *a)
{
    rn_acc_entry *c;
    size_t cap;

    if (a->nchunks && a->used < (a->nchunks == 1 ? a->cap0 : CHUNK_ENTRIES))
        return 0;
    if (a->nchunks == 0 || a->cap0 < CHUNK_ENTRIES) {
        cap = a->nchunks ? a->cap0 * 4 : FIRST_ENTRIES;
        if (cap > CHUNK_ENTRIES / 2)
            cap = CHUNK_ENTRIES;
        if (!a->chunks) {
            if (!(a->chunks = rn_malloc(4 * sizeof(*a->chunks))))
                return RN_ENOMEM;
            a->chunks_cap = 4;
            a->bytes += 4 * sizeof(*a->chunks);
        }
        if (cap == CHUNK_ENTRIES) {
            if (!(c = rn_malloc_large(CHUNK_BYTES)))
                return RN_ENOMEM;
            if (a->nchunks) {
                memcpy(c, a->chunks[0], (a->cap0 + 1) * sizeof(*c));
                chunk_free(a, 0);
            }
            a->bytes += CHUNK_BYTES;
        } else {
            c = rn_realloc(a->nchunks ? a->chunks[0] : NULL,
                           (cap + 1) * sizeof(*c));
            if (!c)
                return RN_ENOMEM;
            a->bytes += (cap + 1) * sizeof(*c);
            if (a->nchunks)
                a->bytes -= (a->cap0 + 1) * sizeof(*c);
        }
        a->chunks[0] = c;
        a->cap0 = cap;
        if (!a->nchunks) {
            a->nchunks = 1;
            a->used = 0;
        }
        return 0;
    }
    if (a->nchunks == MAX_CHUNKS)
        return RN_ERANGE;
    if (a->nchunks == a->chunks_cap) {
        rn_acc_entry **cs = rn_realloc(a->chunks,
                                       2 * a->chunks_cap * sizeof(*cs));
        if (!cs)
            return RN_ENOMEM;
        a->bytes += a->chunks_cap * sizeof(*cs);
        a->chunks = cs;
        a->chunks_cap *= 2;
    }
    if (!(c = rn_malloc_large(CHUNK_BYTES)))
        return RN_ENOMEM;
    a->bytes += CHUNK_BYTES;
    a->chunks[a->nchunks++] = c;
    a->used = 0;
    return 0;
}

/* n bytes for a long key: bump allocation without rounding, in blocks
 * of 4 KiB doubling up to 1 MiB; a key of more than a quarter block gets
 * a block of its own (behind the current one, which stays in use). */
static char *kbytes(rn_acc *a, size_t n)
{
    rn_acc_kblock *b;
    size_t size;
    char *p;

    if ((size_t)(a->kend - a->kcur) >= n) {
        p = a->kcur;
        a->kcur += n;
        return p;
    }
    size = a->kblock_size ? a->kblock_size : KBLOCK_MIN;
    if (n > size / 4) {
        if (!(b = rn_malloc(sizeof(*b) + n)))
            return NULL;
        b->size = n;
        a->bytes += sizeof(*b) + n;
        if (a->kblocks) {
            b->next = a->kblocks->next;
            a->kblocks->next = b;
        } else {
            b->next = NULL;
            a->kblocks = b;
            a->kcur = a->kend = (char *)(b + 1) + n;
        }
        return (char *)(b + 1);
    }
    if (!(b = rn_malloc(sizeof(*b) + size)))
        return NULL;
    b->size = size;
    a->bytes += sizeof(*b) + size;
    b->next = a->kblocks;
    a->kblocks = b;
    a->kblock_size = size * 2 > KBLOCK_MAX ? KBLOCK_MAX : size * 2;
    p = (char *)(b + 1);
    a->kcur = p + n;
    a->kend = p + size;
    return p;
}

/* ---- the index ------------------------------------------------------- */

/* Puts slot s (whose home is s >> shift: its top 32 bits are ix_hash's)
 * at the first free place from its home. */
static inline void slot_place(uint64_t *slots, size_t mask, unsigned shift,
                              uint64_t s)
{
    size_t j = (size_t)(s >> shift);
    while (slots[j])
        j = (j + 1) & mask;
    slots[j] = s;
}

static unsigned log2_exact(size_t ns)
{
    unsigned b = 0;
    while (((size_t)1 << b) < ns)
        b++;
    return b;
}

/* A new index of ns slots (a power of two, at most 2^32). From the old
 * index when there is one: its slots are visited in home order, so the
 * new one is written almost sequentially and no entry is read. Else from
 * the entries (after a sort, or for a table whose index was dropped). */
static int index_resize(rn_acc *a, size_t ns)
{
    unsigned b = log2_exact(ns), shift = 64 - b;
    size_t mask = ns - 1;
    uint64_t *slots;

    if (b > 32)
        return RN_ERANGE;
    if (!(slots = slots_alloc(ns)))
        return RN_ENOMEM;
    if (a->slots) {
        for (size_t j = 0; j < a->nslots; j++)
            if (a->slots[j])
                slot_place(slots, mask, shift, a->slots[j]);
        slots_free(a);
    } else {
        for (size_t c = 0; c < a->nchunks; c++) {
            size_t m = chunk_count(a, c);
            const rn_acc_entry *e = a->chunks[c];
            for (size_t o = 1; o <= m; o++)
                slot_place(slots, mask, shift,
                           slot_make(e[o].hash, c, o));
        }
    }
    a->slots = slots;
    a->nslots = ns;
    a->grow_at = ns / 4 * 3;
    a->shift = shift;
    a->bytes += ns * sizeof(uint64_t);
    return 0;
}

/* The index for the keys held (none yet, or dropped by a sort). */
static int index_build(rn_acc *a)
{
    size_t ns = MIN_SLOTS;
    while (ns / 4 * 3 < a->n + 1)
        ns *= 2;
    return index_resize(a, ns);
}

/* ---- keys ------------------------------------------------------------ */

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

/* Whether entry e holds key k. Strings (the common keys) without a
 * call: kind and length, then the bytes where they are. */
static inline int key_equal(const rn_acc_entry *e, const rn_value *k)
{
    if (k->kind == RN_STRING) {
        uint64_t ek, kk;
        memcpy(&ek, &e->key.in, 8); /* kind and length at once */
        memcpy(&kk, k, 8);
        if (ek != kk)
            return 0;
        return bytes_eq(k->len <= RN_ACC_INLINE ? e->key.in.b
                                                : e->key.v.u.s,
                        k->u.s, k->len);
    }
    rn_value v = entry_key(e);
    return rn_value_equal(&v, k);
}

static inline uint64_t key_hash(const rn_value *k)
{
    return k->kind == RN_STRING ? rn__hash_str_inline(k->u.s, k->len)
                                : rn_value_hash(k);
}

/* Stores key k in entry e: short strings and bytes inline, longer ones
 * in the key blocks (or, with !copy, left where they are: blocks that
 * rn_acc_absorb took over), lists and records deep-copied into the
 * arena, scalars as they are. */
static int key_store(rn_acc *a, rn_acc_entry *e, const rn_value *k,
                     int copy)
{
    char *p;
    if (is_inline(k->kind, k->len)) {
        e->key.in.kind = k->kind;
        e->key.in.len = k->len;
        if (k->len)
            memcpy(e->key.in.b, k->u.s, k->len);
        return 0;
    }
    switch (k->kind) {
    case RN_STRING:
    case RN_BYTES:
        e->key.v = *k;
        if (copy) {
            if (!(p = kbytes(a, k->len)))
                return RN_ENOMEM;
            memcpy(p, k->u.s, k->len);
            e->key.v.u.s = p;
        }
        return 0;
    case RN_LIST:
    case RN_RECORD:
        return rn_value_copy(&a->arena, k, &e->key.v);
    default:
        e->key.v = *k;
        return 0;
    }
}

/* ---- lookups --------------------------------------------------------- */

/* Finds key k (hash h) or adds it with a fresh accumulator; NULL on error
 * (recorded in ctx). The slow path of rn_acc_step, and the only one of
 * merges and loads. A failure leaves the table as it was, except a
 * failing fold_init (the key stays, with a null accumulator). */
__attribute__((noinline)) static rn_acc_entry *
find_or_add(rn_acc *a, rn_task_ctx *ctx, const rn_value *k, uint64_t h,
            int copy)
{
    uint64_t s, x = ix_hash(h), tag = x >> 32;
    size_t j, mask;
    rn_acc_entry *e;
    int rc;

    if (!a->slots && (rc = index_build(a)))
        goto fail;
again:
    mask = a->nslots - 1;
    for (j = (size_t)(x >> a->shift); (s = a->slots[j]) != 0;
         j = (j + 1) & mask) {
        if (s >> 32 != tag)
            continue;
        e = entry_at(a, s);
        if (e->hash == h && key_equal(e, k))
            return e;
    }
    if (a->n + 1 > a->grow_at) {
        if ((rc = index_resize(a, a->nslots * 2)))
            goto fail;
        goto again;
    }
    if ((rc = entry_room(a)))
        goto fail;
    e = a->chunks[a->nchunks - 1] + a->used + 1;
    if ((rc = key_store(a, e, k, copy)))
        goto fail;
    e->hash = h;
    e->acc = rn_null();
    a->slots[j] = slot_make(h, a->nchunks - 1, a->used + 1);
    a->used++;
    a->n++;
    WITH_KEEP(a, ctx, a->oi->op->fold_init(a->oi->state, &ctx->pub, &e->acc));
    if (rc) {
        bad_rc(ctx, rc, "fold_init");
        return NULL;
    }
    return e;
fail:
    if (rc == RN_ERANGE)
        rn_error_set(ctx->err, RN_ENOMEM,
                     "keyed table full (%zu keys, the most one table holds)",
                     a->n);
    else
        rn_error_set(ctx->err, RN_ENOMEM,
                     "out of memory (keyed table of %zu keys, %zu bytes)",
                     a->n, rn_acc_bytes(a));
    return NULL;
}

/* ---- the accumulator ------------------------------------------------- */

int rn_acc_init(rn_acc *a, const rn_opinst *oi, rn_task_ctx *ctx)
{
    int rc = 0;
    memset(a, 0, sizeof(*a));
    a->oi = oi;
    a->keyed = oi->op->kind == RN_OP_FOLDBY;
    a->hash_mask = ~(uint64_t)0;
    rn_arena_init(&a->arena, 64 * 1024);
    if (a->keyed) {
        /* one more table shares the budget's part for tables */
        rn_budget_table_begin();
        a->budgeted = 1;
    }
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
    if (a->budgeted)
        rn_budget_table_end();
    rn__acc_runs_free(a);
    table_free(a);
    rn_arena_release(&a->arena);
    memset(a, 0, sizeof(*a));
}

void rn_acc_clear(rn_acc *a)
{
    if (!a->keyed)
        return;
    table_free(a);
    rn_arena_release(&a->arena);
    rn_arena_init(&a->arena, 64 * 1024);
    a->bytes = 0;
}

size_t rn_acc_bytes(const rn_acc *a)
{
    return a->bytes + a->arena.total;
}

/* One element into its key's accumulator (the slow path's twin of the
 * end of rn_acc_step's loop). */
static int count_one(const rn_op_desc *op, void *st, rn_task_ctx *ctx,
                     rn_acc_entry *e, const rn_value *in, uint32_t counted)
{
    int rc;
    if (e->acc.kind == counted) {
        e->acc.u.i++;
        return 0;
    }
    if ((rc = op->step(st, &ctx->pub, &e->acc, in)))
        return bad_rc(ctx, rc, "step");
    return 0;
}

int rn_acc_step(rn_acc *a, rn_task_ctx *ctx, const rn_value *vals, size_t n)
{
    const rn_op_desc *op = a->oi->op;
    void *st = a->oi->state;
    rn_arena *saved = ctx->keep;
    uint64_t hmask = a->hash_mask;
    int rc = 0;
    /* RN_OPF_COUNTING: an int accumulator is counted here; no kind is
     * this one otherwise */
    uint32_t counted = op->flags & RN_OPF_COUNTING ? RN_INT : UINT32_MAX;

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
    /* A chunk of keys goes through three passes so that the cache misses
     * of a big table overlap instead of queueing: hash every key and
     * prefetch its index slot; find each key's candidate slot (same tag,
     * ix_hash) and prefetch its entry; then check the entry and
     * count. A key whose candidate is not it (absent, added earlier in
     * the chunk, or a rare equal tag) takes the slow path. Entries do not
     * move while keys are added (but for the small first chunk, whose
     * growth voids the candidates that remain), so a candidate stays
     * valid. */
    for (size_t base = 0; base < n && rc == 0; base += RN_ACC_CHUNK) {
        size_t m = n - base < RN_ACC_CHUNK ? n - base : RN_ACC_CHUNK;
        rn_value keys[RN_ACC_CHUNK];
        uint64_t hs[RN_ACC_CHUNK];
        rn_acc_entry *es[RN_ACC_CHUNK];
        size_t k;
        /* without a key callback the elements are the keys: no copy */
        const rn_value *ks = op->key ? keys : vals + base;
        if (op->key)
            for (k = 0; k < m; k++)
                if ((rc = op->key(st, &ctx->pub, &vals[base + k], &keys[k]))) {
                    rc = bad_rc(ctx, rc, "key");
                    break;
                }
        if (rc)
            break;
        if (a->slots) {
            for (size_t k = 0; k < m; k++) {
                hs[k] = key_hash(&ks[k]) & hmask;
                __builtin_prefetch(&a->slots[ix_hash(hs[k]) >> a->shift]);
            }
        } else {
            for (size_t k = 0; k < m; k++)
                hs[k] = key_hash(&ks[k]) & hmask;
        }
        k = 0;
    probe:
        if (a->slots) {
            const uint64_t *sl = a->slots;
            rn_acc_entry *const *chunks = a->chunks;
            unsigned sh = a->shift;
            size_t mask = a->nslots - 1;
            for (size_t q = k; q < m; q++) {
                uint64_t s, x = ix_hash(hs[q]);
                size_t j = (size_t)(x >> sh);
                /* a slot whose top 32 bits are not ix_hash's is another
                 * key's */
                while ((s = sl[j]) != 0 && (s ^ x) >> 32)
                    j = (j + 1) & mask;
                es[q] = NULL;
                if (s) {
                    es[q] = slot_entry(chunks, s);
                    __builtin_prefetch(es[q]);
                    __builtin_prefetch((char *)es[q] +
                                       sizeof(rn_acc_entry) - 1);
                }
            }
        } else {
            for (size_t q = k; q < m; q++)
                es[q] = NULL;
        }
        for (; k < m; k++) {
            /* equal keys hash equal: no need to compare the hashes */
            rn_acc_entry *e = es[k];
            if (!e || !key_equal(e, &ks[k])) {
                size_t cap0 = a->cap0;
                if (!(e = find_or_add(a, ctx, &ks[k], hs[k], 1))) {
                    rc = ctx->err->code ? ctx->err->code : RN_ENOMEM;
                    break;
                }
                if (a->cap0 != cap0) {
                    /* the first chunk moved: count this key, then find
                     * the candidates of the next ones again */
                    if ((rc = count_one(op, st, ctx, e, &vals[base + k],
                                        counted)))
                        break;
                    k++;
                    goto probe;
                }
            }
            if (e->acc.kind == counted)
                e->acc.u.i++; /* RN_OPF_COUNTING: step without the call */
            else if ((rc = op->step(st, &ctx->pub, &e->acc, &vals[base + k]))) {
                rc = bad_rc(ctx, rc, "step");
                break;
            }
        }
    }
    ctx->keep = saved;
    /* past its share of the memory budget the table goes to disk */
    if (rc == 0)
        rc = rn_acc_maybe_spill(a, ctx);
    return rc;
}

static int merge_one(rn_acc *a, rn_task_ctx *ctx, const rn_value *key,
                     uint64_t h, const rn_value *acc, int copy)
{
    rn_acc_entry *e = find_or_add(a, ctx, key, h, copy);
    int rc;
    if (!e)
        return ctx->err->code ? ctx->err->code : RN_ENOMEM;
    WITH_KEEP(a, ctx, a->oi->op->combine(a->oi->state, &ctx->pub, &e->acc, acc));
    return rc ? bad_rc(ctx, rc, "combine") : 0;
}

int rn_acc_merge(rn_acc *a, rn_task_ctx *ctx, const rn_acc *other)
{
    int rc = 0;
    if (other->nruns) /* runs move: rn_acc_absorb takes them */
        return rn_error_set(ctx->err, RN_EINTERNAL,
                            "rn_acc_merge of a spilled table");
    if (!a->keyed) {
        WITH_KEEP(a, ctx,
                  a->oi->op->combine(a->oi->state, &ctx->pub, &a->value,
                                     &other->value));
        return rc ? bad_rc(ctx, rc, "combine") : 0;
    }
    for (size_t c = 0; c < other->nchunks; c++) {
        size_t m = chunk_count(other, c);
        const rn_acc_entry *o = other->chunks[c];
        for (size_t i = 1; i <= m; i++) {
            rn_value k = entry_key(&o[i]);
            if ((rc = merge_one(a, ctx, &k, o[i].hash, &o[i].acc, 1)))
                return rc;
        }
    }
    return 0;
}

int rn_acc_absorb(rn_acc *a, rn_task_ctx *ctx, rn_acc *other)
{
    int rc = 0;
    if (!a->keyed) {
        WITH_KEEP(a, ctx,
                  a->oi->op->combine(a->oi->state, &ctx->pub, &a->value,
                                     &other->value));
        rn_acc_release(other);
        return rc ? bad_rc(ctx, rc, "combine") : 0;
    }
    if ((a->oi->op->flags & RN_OPF_COMMUTATIVE) && other->n > a->n) {
        rn_acc t = *a;
        *a = *other;
        *other = t;
    } else if (other->nruns && a->n) {
        /* order matters: a's table is older than other's runs, so it
         * goes to disk before them */
        if ((rc = rn_acc_spill(a, ctx))) {
            rn_acc_release(other);
            return rc;
        }
    }
    /* the runs of both are partials of the same fold: a owns them all */
    if ((rc = rn__acc_runs_take(a, other))) {
        rn_acc_release(other);
        return rn_error_set(ctx->err, rc, "out of memory");
    }
    /* other's index is not needed: free it before a's grows */
    slots_free(other);
    /* its long keys stay where they are: a takes over their blocks */
    if (other->kblocks) {
        rn_acc_kblock *tail = other->kblocks;
        size_t kb = 0;
        for (rn_acc_kblock *b = other->kblocks; b; b = b->next) {
            kb += sizeof(*b) + b->size;
            tail = b;
        }
        if (a->kblocks) {
            tail->next = a->kblocks->next;
            a->kblocks->next = other->kblocks;
        } else {
            a->kblocks = other->kblocks;
            a->kcur = other->kcur;
            a->kend = other->kend;
            a->kblock_size = other->kblock_size;
        }
        a->bytes += kb;
        other->bytes -= kb;
        other->kblocks = NULL;
        other->kcur = other->kend = NULL;
    }
    for (size_t c = 0; c < other->nchunks && rc == 0; c++) {
        size_t m = chunk_count(other, c);
        const rn_acc_entry *o = other->chunks[c];
        for (size_t i = 1; i <= m && rc == 0; i++) {
            rn_value k = entry_key(&o[i]);
            rc = merge_one(a, ctx, &k, o[i].hash, &o[i].acc, 0);
        }
        chunk_free(other, c); /* merged: give its memory back now */
        if (rc == 0)
            rc = rn_acc_maybe_spill(a, ctx);
    }
    rn_acc_release(other);
    return rc;
}

/* Appends v to p; a failure is said in ctx's error. */
static int push_part(rn_task_ctx *ctx, rn_partition *p, const rn_value *v)
{
    int rc = rn_partition_push(p, v);
    return rc ? rn_error_set(ctx->err, rc, "%s",
                             rc == RN_ENOMEM ? "out of memory"
                                             : rn_err_name(rc))
              : 0;
}

int rn_acc_save_split(rn_acc *a, rn_task_ctx *ctx, rn_partition **parts,
                      uint32_t n)
{
    int rc;
    if (!a->keyed)
        return push_part(ctx, parts[0], &a->value);
    if (a->nruns)
        return rn__acc_drain(a, ctx, parts, n);
    for (size_t c = 0; c < a->nchunks; c++) {
        size_t m = chunk_count(a, c);
        const rn_acc_entry *e = a->chunks[c];
        for (size_t i = 1; i <= m; i++) {
            rn_value pair[2] = {entry_key(&e[i]), e[i].acc};
            rn_value l = rn_list(pair, 2);
            uint32_t b = n > 1 ? rn_acc_bucket(e[i].hash, n) : 0;
            if ((rc = push_part(ctx, parts[b], &l)))
                return rc;
        }
    }
    return 0;
}

int rn_acc_save(rn_acc *a, rn_task_ctx *ctx, rn_partition *p)
{
    return rn_acc_save_split(a, ctx, &p, 1);
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
        if ((rc = merge_one(a, ctx, &v->u.items[0],
                            key_hash(&v->u.items[0]) & a->hash_mask,
                            &v->u.items[1], 1)))
            return rc;
        if ((i & 4095) == 4095 && (rc = rn_acc_maybe_spill(a, ctx)))
            return rc;
    }
    return a->keyed ? rn_acc_maybe_spill(a, ctx) : 0;
}

/* ---- sorting by hash --------------------------------------------------
 *
 * In place (the table may be all the memory there is): an MSD radix sort
 * on the hash's bytes from the top (American flag sort: count, then swap
 * each entry into its bucket), entries moved whole. Hashes are uniform,
 * so the first pass leaves buckets of n/256 entries that the next passes
 * sort in cache; small buckets finish with an insertion sort, and equal
 * hashes are ordered by key (rn_value_compare) so the order depends only
 * on the set of keys. A range inside one chunk is sorted as a plain
 * array. */

#define SORT_SMALL 24

/* The entries being sorted: the table's (position p in chunk order:
 * every chunk but the last is full), or one array when chunks is NULL. */
typedef struct sview {
    rn_acc_entry *const *chunks;
    rn_acc_entry *flat;
} sview;

static inline rn_acc_entry *at(const sview *v, size_t p)
{
    if (!v->chunks)
        return v->flat + p;
    return v->chunks[p / CHUNK_ENTRIES] + 1 + p % CHUNK_ENTRIES;
}

static int entry_cmp(const rn_acc_entry *x, const rn_acc_entry *y)
{
    rn_value kx, ky;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    kx = entry_key(x);
    ky = entry_key(y);
    return rn_value_compare(&kx, &ky);
}

static inline void entry_swap(rn_acc_entry *x, rn_acc_entry *y)
{
    rn_acc_entry t = *x;
    *x = *y;
    *y = t;
}

static void insertion_sort(const sview *v, size_t lo, size_t hi)
{
    for (size_t i = lo + 1; i < hi; i++) {
        rn_acc_entry t = *at(v, i);
        size_t j = i;
        for (; j > lo && entry_cmp(at(v, j - 1), &t) > 0; j--)
            *at(v, j) = *at(v, j - 1);
        *at(v, j) = t;
    }
}

/* Equal hashes throughout [lo, hi): by key, in O(m log m) (a heap sort:
 * in place; only crafted keys get here in numbers). */
static void sift_down(const sview *v, size_t lo, size_t i, size_t m)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, big = i;
        if (l < m && entry_cmp(at(v, lo + l), at(v, lo + big)) > 0)
            big = l;
        if (r < m && entry_cmp(at(v, lo + r), at(v, lo + big)) > 0)
            big = r;
        if (big == i)
            return;
        entry_swap(at(v, lo + i), at(v, lo + big));
        i = big;
    }
}

static void heap_sort(const sview *v, size_t lo, size_t hi)
{
    size_t m = hi - lo;
    for (size_t i = m / 2; i-- > 0;)
        sift_down(v, lo, i, m);
    for (size_t k = m; k-- > 1;) {
        entry_swap(at(v, lo), at(v, lo + k));
        sift_down(v, lo, 0, k);
    }
}

/* Distributes [lo, hi) into 256 buckets by the byte at `shift`; end[d]
 * receives the end of bucket d. 1 when every entry has the same byte
 * (nothing moved). */
static int flag_pass(const sview *v, size_t lo, size_t hi, unsigned shift,
                     size_t end[256])
{
    size_t count[256] = {0}, next[256], pos = lo;
    for (size_t p = lo; p < hi; p++)
        count[(at(v, p)->hash >> shift) & 0xff]++;
    for (unsigned d = 0; d < 256; d++) {
        if (count[d] == hi - lo)
            return 1;
        next[d] = pos;
        pos += count[d];
        end[d] = pos;
    }
    for (unsigned d = 0; d < 256; d++) {
        while (next[d] < end[d]) {
            rn_acc_entry *x = at(v, next[d]);
            unsigned b = (unsigned)(x->hash >> shift) & 0xff;
            if (b == d) {
                next[d]++;
                continue;
            }
            entry_swap(x, at(v, next[b]));
            /* the bucket's next slot is read when the next entry of b
             * comes, ~256 swaps later in the first pass: fetch it now */
            if (++next[b] < end[b])
                __builtin_prefetch(at(v, next[b]));
        }
    }
    return 0;
}

static void sort_range(const sview *v, size_t lo, size_t hi, int byte)
{
    size_t end[256], start;
    if (v->chunks && lo / CHUNK_ENTRIES == (hi - 1) / CHUNK_ENTRIES) {
        sview f = {NULL, at(v, lo)};
        sort_range(&f, 0, hi - lo, byte);
        return;
    }
    for (;;) {
        if (hi - lo <= SORT_SMALL) {
            insertion_sort(v, lo, hi);
            return;
        }
        if (byte < 0) {
            heap_sort(v, lo, hi);
            return;
        }
        if (!flag_pass(v, lo, hi, (unsigned)byte * 8, end))
            break;
        byte--; /* one byte value throughout: the next byte */
    }
    start = lo;
    for (unsigned d = 0; d < 256; d++) {
        if (end[d] - start > 1)
            sort_range(v, start, end[d], byte - 1);
        start = end[d];
    }
}

/* Sorts the entries by (hash, key); the index no longer matches them
 * and is dropped (rebuilt by the next lookup). */
static void entries_sort(rn_acc *a)
{
    slots_free(a);
    sview v = {a->chunks, NULL};
    if (a->n > 1)
        sort_range(&v, 0, a->n, 7);
}

int rn_acc_sorted_each(rn_acc *a, rn_acc_each_fn fn, void *ud)
{
    int rc;
    if (!a->keyed)
        return 0;
    entries_sort(a);
    for (size_t c = 0; c < a->nchunks; c++) {
        size_t m = chunk_count(a, c);
        const rn_acc_entry *e = a->chunks[c];
        for (size_t i = 1; i <= m; i++) {
            rn_value k = entry_key(&e[i]);
            if ((rc = fn(ud, e[i].hash, &k, &e[i].acc)))
                return rc;
        }
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
    if (a->nruns) /* spilled: the runs and the rest, merged */
        return rn__acc_drain(a, ctx, NULL, 0);
    /* In hash order, which depends only on the keys; each chunk is freed
     * once emitted, so the table shrinks as the output grows. */
    entries_sort(a);
    for (size_t c = 0; c < a->nchunks; c++) {
        size_t m = chunk_count(a, c);
        const rn_acc_entry *e = a->chunks[c];
        for (size_t i = 1; i <= m; i++) {
            rn_value k = entry_key(&e[i]);
            ctx->key_hash = e[i].hash;
            if (op->finish) {
                WITH_KEEP(a, ctx, op->finish(st, &ctx->pub, &k, &e[i].acc));
            } else {
                rn_value pair[2] = {k, e[i].acc};
                rn_value l = rn_list(pair, 2);
                rc = rn_emit(&ctx->pub, &l);
            }
            if (rc)
                return bad_rc(ctx, rc, "finish");
        }
        chunk_free(a, c);
    }
    return 0;
}
