/*
 * A partition: a sequence of values and the arena that holds their memory.
 * It is the unit that tasks produce, workers hold and serve, and the wire
 * encoding (value/codec.h) carries.
 *
 * Ownership: a partition is reference-counted (it crosses threads: the
 * task that made it, the executor, peers fetching it). New partitions start
 * with one reference; the last unref frees items and arena. Appending is
 * for the single thread building it; once published it is read-only and
 * may be read by any number of threads.
 */
#ifndef RN_CORE_PARTITION_H
#define RN_CORE_PARTITION_H

#include <stdatomic.h>
#include <stddef.h>

#include <runnel/value.h>

#include "base/arena.h"

typedef struct rn_partition {
    rn_value *items;
    size_t n, cap;
    rn_arena arena; /* memory of the items' strings, lists, records */
    atomic_int refs;
} rn_partition;

rn_partition *rn_partition_new(void);
void rn_partition_ref(rn_partition *p);
void rn_partition_unref(rn_partition *p); /* NULL is a no-op */

/* Appends a deep copy of v (its memory copied into p->arena). */
int rn_partition_push(rn_partition *p, const rn_value *v);
/* Appends v as is: its memory must already belong to p->arena (or be
 * static). */
int rn_partition_push_view(rn_partition *p, const rn_value *v);
/* Empties p for its single builder: values and their memory go, the
 * items array stays. */
void rn_partition_clear(rn_partition *p);
/* Approximate bytes held (items array + arena). */
size_t rn_partition_bytes(const rn_partition *p);

#endif
