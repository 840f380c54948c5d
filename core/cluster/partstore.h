/*
 * The partitions a worker holds: task outputs, keyed by (job, task),
 * served to peers and clients until the scheduler releases them.
 *
 * Ownership: the store holds one reference per partition; get returns a
 * new reference. Thread-safety: every function locks.
 */
#ifndef RN_CLUSTER_PARTSTORE_H
#define RN_CLUSTER_PARTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "value/partition.h"

typedef struct rn_partstore rn_partstore;

rn_partstore *rn_partstore_new(void);
void rn_partstore_free(rn_partstore *ps); /* NULL ok */

/* Stores p (takes the caller's reference) as the output of `attempt` of
 * the task, replacing an older attempt's. */
int rn_partstore_put(rn_partstore *ps, const char *job, uint32_t task,
                     uint32_t attempt, rn_partition *p);
/* A new reference, or NULL. */
rn_partition *rn_partstore_get(rn_partstore *ps, const char *job,
                               uint32_t task);
void rn_partstore_drop(rn_partstore *ps, const char *job, uint32_t task);
/* Drops the output only if it is still the one `attempt` stored (a stale
 * attempt must not drop a newer one's output). */
void rn_partstore_drop_attempt(rn_partstore *ps, const char *job,
                               uint32_t task, uint32_t attempt);
void rn_partstore_drop_job(rn_partstore *ps, const char *job);
void rn_partstore_clear(rn_partstore *ps);
void rn_partstore_stats(rn_partstore *ps, uint32_t *count, uint64_t *bytes);

#endif
