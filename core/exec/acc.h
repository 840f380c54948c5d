/*
 * Fold accumulators: one plain accumulator value (FOLD) or a table of
 * key -> accumulator (FOLDBY), with the memory both need.
 *
 * The keyed table hashes with rn_value_hash, identical on every machine,
 * so partial tables computed anywhere combine correctly. Partials travel
 * as partitions: FOLD -> one value (the accumulator), FOLDBY -> one
 * [key, acc] list per key.
 *
 * The keyed table (acc.c) is two parts:
 *  - dense entries of 48 bytes (64-bit hash, accumulator, key; strings
 *    and bytes of up to RN_ACC_INLINE bytes inside the entry, longer
 *    ones in a byte arena without rounding, lists and records in the
 *    accumulator's arena) in chunks of 2 MiB (the first one starts small
 *    and grows by reallocation up to that size) that are never copied,
 *    so an entry does not move while keys are added;
 *  - an index of 8-byte slots (a 32-bit tag of the hash: its high and
 *    low halves xored; chunk and offset of the entry), open addressing
 *    with linear probing from the tag's top bits, kept at most 3/4 full:
 *    growing it rebuilds only this array, never the entries. (Not the
 *    hash's high bits alone: keys sorted by hash, or from one bucket of
 *    rn_acc_bucket, would all have their homes in one run of slots.)
 * A short key costs 48 bytes plus 10.7 to 21.3 bytes of index; a longer
 * one its length more.
 *
 * Ownership: an accumulator owns its arena (keys, accumulator memory),
 * its entries and its index. One thread at a time. The struct holds no
 * pointer to itself: it may be moved (copied) as a whole.
 */
#ifndef RN_CORE_ACC_H
#define RN_CORE_ACC_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "exec/ctx.h"
#include "plan/plan.h"
#include "value/partition.h"

/* Strings and bytes up to this length live inside their entry. */
#define RN_ACC_INLINE 16

typedef struct rn_acc_entry rn_acc_entry; /* acc.c */
typedef struct rn_acc_kblock rn_acc_kblock;

typedef struct rn_acc {
    const rn_opinst *oi;
    int keyed;
    rn_arena arena;         /* accumulators (rn_alloc_keep), list keys */
    rn_value value;         /* FOLD */
    /* FOLDBY */
    uint64_t *slots;        /* the index (NULL: none yet, or dropped) */
    size_t nslots;          /* power of two, or 0 */
    size_t grow_at;         /* keys at which the index doubles */
    unsigned shift;         /* 64 - log2(nslots): home = slot >> shift */
    rn_acc_entry **chunks;  /* the entries */
    size_t nchunks, chunks_cap;
    size_t used;            /* entries in the last chunk */
    size_t cap0;            /* entries the first chunk has room for */
    rn_acc_kblock *kblocks; /* bytes of long keys */
    char *kcur, *kend;
    size_t kblock_size;
    size_t n;               /* keys held */
    size_t bytes;           /* index + entries + key bytes (not arena) */
    uint64_t hash_mask;     /* all ones; tests narrow it to force equal
                               hashes. Same in tables that combine. */
    /* Spilled (acc_spill.c): past its share of the memory budget a keyed
     * table is written to the budget's spill directory as a sorted run
     * (spill/run.h) and starts again empty; finish and save merge the
     * runs back, combining each key's partial accumulators in order. */
    char **runs;            /* run files, oldest first; owned, removed
                               at release */
    size_t nruns, runs_cap;
    int budgeted;           /* counted in the budget's keyed tables */
} rn_acc;

/* Starts an empty accumulator (calls fold_init for FOLD). ctx supplies the
 * error buffer; its keep arena is redirected to the accumulator's own. */
int rn_acc_init(rn_acc *a, const rn_opinst *oi, rn_task_ctx *ctx);
/* Frees everything; a released or zeroed accumulator may be released
 * again. */
void rn_acc_release(rn_acc *a);

/* Adds elements. */
int rn_acc_step(rn_acc *a, rn_task_ctx *ctx, const rn_value *vals, size_t n);
/* Merges `other` (then left untouched; release it yourself). */
int rn_acc_merge(rn_acc *a, rn_task_ctx *ctx, const rn_acc *other);
/* Merges `other` into `a` and releases `other`, even on error: its
 * entries are freed as they are merged and its long keys are moved, not
 * copied, so the peak stays near the size of the result. A commutative
 * fold (RN_OPF_COMMUTATIVE) merges the smaller table into the larger one
 * (the structs are swapped: the result is in `a` either way); any other
 * combines a's accumulators with other's, in that order. */
int rn_acc_absorb(rn_acc *a, rn_task_ctx *ctx, rn_acc *other);
/* Partial accumulator as values (appended to p) / merged back from them.
 * save gives the keys in the order they were added (merged in hash order
 * when the table spilled: then it is consumed, as by finish). */
int rn_acc_save(rn_acc *a, rn_task_ctx *ctx, rn_partition *p);
/* The hash shuffle's partition of a key hash among n: ranges of the
 * hash's top 32 bits, so partitions 0..n-1 in order hold ascending
 * hashes (the order finish emits in) and the cut is the same in every
 * process. */
static inline uint32_t rn_acc_bucket(uint64_t hash, uint32_t n)
{
    return (uint32_t)(((hash >> 32) * (uint64_t)n) >> 32);
}
/* rn_acc_save cut into n partitions by rn_acc_bucket of each key's
 * hash: parts[b] gets the [key, acc] pairs of bucket b (a FOLD's one
 * value goes to parts[0]). Consumes the table like finish when it
 * spilled. */
int rn_acc_save_split(rn_acc *a, rn_task_ctx *ctx, rn_partition **parts,
                      uint32_t n);
int rn_acc_load(rn_acc *a, rn_task_ctx *ctx, const rn_partition *p);
/* Final result: calls finish (or the default) with ctx's emit. A keyed
 * accumulator gives its keys in ascending hash order (equal hashes: in
 * rn_value_compare order), so the output depends only on the set of keys,
 * not on the order they came in or on how partials were combined; it is
 * consumed on the way (entries are freed once emitted, so emit must copy,
 * as rn__emit_to_partition does): only rn_acc_release may follow. While
 * a key's values are emitted, ctx->key_hash is its hash (so an emit
 * function can route them by rn_acc_bucket). */
int rn_acc_finish(rn_acc *a, rn_task_ctx *ctx);

/* ---- for spilling a keyed table ------------------------------------
 * The memory the accumulator holds now: index, entries, key bytes and
 * its arena (accumulators, list keys), as counted by the allocator
 * (rounded to what was allocated). O(1). */
size_t rn_acc_bytes(const rn_acc *a);

/* Called once per key; a nonzero return stops the walk and is returned.
 * key and acc are views valid until the table changes. */
typedef int (*rn_acc_each_fn)(void *ud, uint64_t hash, const rn_value *key,
                              const rn_value *acc);
/* Visits every key of a keyed table once, in ascending hash order (equal
 * hashes in rn_value_compare order of their keys). Sorts the entries in
 * place (radix sort on the hash, no memory but ~25 KiB of stack)
 * and drops the index first (its memory is freed; the next lookup
 * rebuilds it), so it also lowers rn_acc_bytes. 0, or fn's return. */
int rn_acc_sorted_each(rn_acc *a, rn_acc_each_fn fn, void *ud);

/* Writes the table as a sorted run when it holds more than its share of
 * the memory budget (base/budget.h) and a spill directory is set; then
 * it starts again empty. 0, or the error of the write (a full disk:
 * RN_EIO naming the directory). acc.c calls it after every batch. */
int rn_acc_maybe_spill(rn_acc *a, rn_task_ctx *ctx);
/* The same, whatever its size (tests). */
int rn_acc_spill(rn_acc *a, rn_task_ctx *ctx);

/* Empties a keyed table so accumulation can go on after its entries were
 * written out: every key, accumulator, key byte and the index are freed
 * (rn_acc_bytes is then 0); the table grows again from its smallest
 * size. No-op for FOLD (one value, nothing to spill). */
void rn_acc_clear(rn_acc *a);

#endif
