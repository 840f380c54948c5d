/*
 * The partitions a worker holds: task outputs, keyed by (job, task,
 * bucket), served to peers and clients until the scheduler releases
 * them. A task has one output partition (bucket 0), or, in a keyed stage
 * cut into npartitions (the hash shuffle), one per bucket; dropping a
 * task drops all of them.
 *
 * Past the memory budget's share for partitions (base/budget.h), the
 * least recently used ones move to disk in their wire encoding
 * (value/codec.h, docs/ENCODING.md): a peer fetching one is sent the
 * file's bytes as they are (transport/chunk.h); a task of this worker
 * reading one gets its own decoded copy (the store keeps only the file,
 * so reading does not take its memory past its share). A task's result
 * too big to hold may also be written to disk as it is made and handed
 * over as a file (rn_partstore_put_file). Spilled files live in a directory the caller
 * owns (a spill directory, spill/dir.h) and are removed with their
 * partition.
 *
 * Ownership: the store holds one reference per partition in memory; get
 * returns a new reference. A partition being written to disk stays
 * readable. Thread-safety: every function locks; disk writes and reads
 * happen outside the lock.
 */
#ifndef RN_CLUSTER_PARTSTORE_H
#define RN_CLUSTER_PARTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "value/partition.h"

typedef struct rn_partstore rn_partstore;

rn_partstore *rn_partstore_new(void);
void rn_partstore_free(rn_partstore *ps); /* NULL ok; removes its files */

/* Where spilled partitions go (copied; NULL: they never spill). */
int rn_partstore_set_spill_dir(rn_partstore *ps, const char *dir);

/* Stores p (takes the caller's reference) as bucket `bucket` of the
 * output of `attempt` of the task, replacing an older attempt's. */
int rn_partstore_put(rn_partstore *ps, const char *job, uint32_t task,
                     uint32_t bucket, uint32_t attempt, rn_partition *p);
/* Stores a partition already on disk: the wire encoding at [off,
 * off + size) of the file at path (spill/pfile.h), which the store now
 * owns (path is rn_malloc'd; both go with the partition). On error the
 * file is removed and path freed. */
int rn_partstore_put_file(rn_partstore *ps, const char *job, uint32_t task,
                          uint32_t bucket, uint32_t attempt, char *path,
                          uint64_t off, uint64_t size);
/* A new reference (decoded from disk when spilled), or NULL: not here,
 * or (err set) its file could not be read back. */
rn_partition *rn_partstore_get_err(rn_partstore *ps, const char *job,
                                   uint32_t task, uint32_t bucket,
                                   rn_errbuf *err);
/* Bucket 0, errors dropped. */
rn_partition *rn_partstore_get(rn_partstore *ps, const char *job,
                               uint32_t task);
/* For serving: the partition in memory (*p, a new reference), or its
 * spilled file opened (*fd, the caller closes it; *size its bytes).
 * RN_ENOTFOUND when the store does not hold it. */
int rn_partstore_open(rn_partstore *ps, const char *job, uint32_t task,
                      uint32_t bucket, rn_partition **p, int *fd,
                      uint64_t *size, rn_errbuf *err);
/* Drops every bucket of the task's output. */
void rn_partstore_drop(rn_partstore *ps, const char *job, uint32_t task);
/* Drops the output (every bucket) only if it is still the one `attempt` stored (a stale
 * attempt must not drop a newer one's output). */
void rn_partstore_drop_attempt(rn_partstore *ps, const char *job,
                               uint32_t task, uint32_t attempt);
void rn_partstore_drop_job(rn_partstore *ps, const char *job);
void rn_partstore_clear(rn_partstore *ps);

/* Writes least recently used partitions to disk until those in memory
 * take at most max bytes (by rn_partition_bytes). 0, or the error of the
 * first write that failed (a full disk: the partition stays in memory,
 * nothing partial is left). *moved gets the bytes written (may be NULL). */
int rn_partstore_spill(rn_partstore *ps, uint64_t max, uint64_t *moved,
                       rn_errbuf *err);

typedef struct rn_partstore_stats_t {
    uint32_t count;       /* partitions held, in memory or on disk */
    uint64_t bytes;       /* in memory (rn_partition_bytes) */
    uint32_t spilled;     /* of them, on disk */
    uint64_t spilled_bytes; /* their files */
} rn_partstore_stats_t;
void rn_partstore_stats(rn_partstore *ps, uint32_t *count, uint64_t *bytes);
void rn_partstore_stats_ex(rn_partstore *ps, rn_partstore_stats_t *out);

#endif
