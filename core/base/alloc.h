/*
 * The one allocator wrapper of the engine. Every heap allocation of core
 * goes through it, so the bytes in use are known (that backs the workers'
 * --memory-limit) and tests can make allocation fail on purpose.
 *
 * Thread-safe. rn_free(NULL) is a no-op. Memory from these functions must
 * be released with rn_free, never free().
 */
#ifndef RN_CORE_ALLOC_H
#define RN_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *rn_malloc(size_t n);
void *rn_calloc(size_t count, size_t size);
void *rn_realloc(void *p, size_t n);
void rn_free(void *p);
char *rn_strdup(const char *s);
char *rn_strndup(const char *s, size_t n);

/* Large tables that are probed at random (the keyed fold's): memory from
 * mmap aligned to 2 MiB and advised for transparent huge pages, so a
 * lookup does not also miss the TLB. Zero-filled. Free with
 * rn_free_large(p, n) with the same n. Counted like rn_malloc. */
void *rn_malloc_large(size_t n);
void rn_free_large(void *p, size_t n);

/* For long-running processes that move partitions (workers): keeps freed
 * heap memory (up to 256 MiB) for reuse instead of returning it to the
 * kernel, and serves blocks below 64 MiB from the heap, so a partition
 * received after another one does not fault in fresh pages (a fifth of a
 * receiver's time before). Process-wide; call once, before threads
 * start. No-op where the C library has no mallopt. */
void rn_alloc_tune_for_daemon(void);

/* Bytes currently allocated through the wrapper, and the peak. */
size_t rn_alloc_in_use(void);
size_t rn_alloc_peak(void);
/* Starts a new peak from the bytes in use now, so the peak of one piece
 * of work can be read as rn_alloc_peak() - (in use before it). Process-
 * wide: meaningful only while no other thread allocates (tests, tools). */
void rn_alloc_peak_reset(void);
/* Bytes ever allocated (every rn_malloc, and what rn_realloc grows by),
 * never decreasing: the work a piece of code puts on the allocator,
 * which the peak hides when memory is copied and freed as it goes. */
uint64_t rn_alloc_total(void);

/* For base/budget.c: the limit allocations of task threads may not pass
 * (0: none), and whether this thread is one. */
void rn__alloc_set_task_limit(size_t bytes);
void rn__alloc_task_thread(int on);

/* Tests: make the n-th allocation from now (1 = the next) and every later
 * one fail; 0 disables. */
void rn_alloc_fail_after(uint64_t n);

#endif
