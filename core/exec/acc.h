/*
 * Fold accumulators: one plain accumulator value (FOLD) or a table of
 * key -> accumulator (FOLDBY), with the memory both need.
 *
 * The keyed table hashes with rn_value_hash, identical on every machine,
 * so partial tables computed anywhere combine correctly. Partials travel
 * as partitions: FOLD -> one value (the accumulator), FOLDBY -> one
 * [key, acc] list per key.
 *
 * Ownership: an accumulator owns its arena (keys, accumulator memory).
 * One thread at a time.
 */
#ifndef RN_CORE_ACC_H
#define RN_CORE_ACC_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "exec/ctx.h"
#include "plan/plan.h"
#include "value/partition.h"

/* One slot of the keyed table: 64 bytes, one cache line, so a lookup that
 * hits touches one line: hash, key and accumulator together, and short
 * keys (strings and bytes up to RN_ACC_INLINE bytes) stored in the slot
 * itself. key.kind == RN_ACC_EMPTY marks a free slot. */
#define RN_ACC_INLINE 24
#define RN_ACC_EMPTY 0xffffffffu

typedef struct rn_acc_entry {
    uint64_t hash;
    rn_value key;
    rn_value acc;
    char inl[RN_ACC_INLINE];
} rn_acc_entry;

typedef struct rn_acc {
    const rn_opinst *oi;
    int keyed;
    rn_arena arena;
    rn_value value;         /* FOLD */
    rn_acc_entry *slots;    /* FOLDBY: open addressing, linear probing */
    size_t nslots;          /* power of two (0 before the first key) */
    size_t n;               /* keys held */
} rn_acc;

/* Starts an empty accumulator (calls fold_init for FOLD). ctx supplies the
 * error buffer; its keep arena is redirected to the accumulator's own. */
int rn_acc_init(rn_acc *a, const rn_opinst *oi, rn_task_ctx *ctx);
void rn_acc_release(rn_acc *a);

/* Adds elements. */
int rn_acc_step(rn_acc *a, rn_task_ctx *ctx, const rn_value *vals, size_t n);
/* Merges `other` (then left untouched; release it yourself). */
int rn_acc_merge(rn_acc *a, rn_task_ctx *ctx, const rn_acc *other);
/* Partial accumulator as values (appended to p) / merged back from them. */
int rn_acc_save(const rn_acc *a, rn_partition *p);
int rn_acc_load(rn_acc *a, rn_task_ctx *ctx, const rn_partition *p);
/* Final result: calls finish (or the default) with ctx's emit. */
int rn_acc_finish(rn_acc *a, rn_task_ctx *ctx);

#endif
