/*
 * The process's memory budget (--memory-limit of `runnel run` and
 * `runnel worker`): one account for what the engine holds. Everything it
 * allocates goes through the counting allocator (base/alloc.h), so the
 * account is rn_alloc_in_use(); the budget divides the limit into shares
 * and says when to spill:
 *
 *   keyed tables   RN_BUDGET_TABLES_PCT of the limit, split among the
 *                  keyed accumulators alive at the moment: a table past
 *                  its share is written to disk as a sorted run
 *   partitions     RN_BUDGET_PARTS_PCT: a worker's finished partitions
 *                  past it move to disk, least recently used first
 *   the rest       batches, buffers, decoding, gRPC: headroom
 *
 * Above RN_BUDGET_HIGH_PCT of the limit a worker takes no new task; at the
 * limit itself, an allocation made by a task thread fails (the task fails
 * with an error that names the limit) rather than the process being
 * killed by the kernel.
 *
 * Without a limit set, nothing spills and nothing fails for the budget's
 * sake. The default limit of the command line is rn_budget_default():
 * three quarters of the machine's memory or of its cgroup's limit,
 * whichever is lower.
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef RN_BASE_BUDGET_H
#define RN_BASE_BUDGET_H

#include <stdint.h>

#define RN_BUDGET_TABLES_PCT 50
#define RN_BUDGET_PARTS_PCT 25
#define RN_BUDGET_HIGH_PCT 85

/* Sets the limit in bytes (0: none). Process-wide. */
void rn_budget_set_limit(uint64_t bytes);
uint64_t rn_budget_limit(void);

/* 3/4 of the smaller of MemTotal and the cgroup's memory limit (v2
 * memory.max or v1 memory.limit_in_bytes), never below 64 MiB. */
uint64_t rn_budget_default(void);

/* The process's resident set size (bytes), from /proc/self/statm; 0 if
 * unknown. What `info` shows beside the accounted bytes. */
uint64_t rn_budget_rss(void);

/* Keyed accumulators: each says when it starts and ends, and asks for its
 * share (the tables' part of the limit divided among those alive, at
 * least 1 MiB); SIZE_MAX-like UINT64_MAX without a limit. */
void rn_budget_table_begin(void);
void rn_budget_table_end(void);
uint64_t rn_budget_table_share(void);

/* The partition store's part of the limit (UINT64_MAX without one). */
uint64_t rn_budget_parts_share(void);

/* 1 when the accounted bytes are above the high-water mark; _with:
 * when they would be, with extra more. */
int rn_budget_high(void);
int rn_budget_high_with(uint64_t extra);

/* Task threads: while on, an allocation that would take the accounted
 * bytes past the limit fails (base/alloc.c). Per thread. */
void rn_budget_task_thread(int on);

/* When err says RN_ENOMEM while a limit is set, adds which limit was
 * reached, so a task that cannot fit says so in words. */
struct rn_errbuf;
void rn_budget_explain(struct rn_errbuf *err);

/* Where this process spills (a directory it owns: spill/dir.h), or NULL
 * (nothing spills). Set once at start; the string is copied. */
int rn_budget_set_spill_dir(const char *dir);
const char *rn_budget_spill_dir(void);

/* Spill statistics of the process: what was written to disk, in all. */
void rn_budget_spilled(uint64_t bytes, uint64_t files);
void rn_budget_spill_stats(uint64_t *bytes, uint64_t *files);

#endif
