#define _GNU_SOURCE
#include "base/alloc.h"

#include <sys/mman.h>
#include <stdint.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* A 16-byte header keeps the size (so frees can be counted) and preserves
 * the 16-byte alignment malloc gives. */
typedef union hdr {
    size_t size;
    max_align_t align;
} hdr;

static atomic_size_t in_use;
static atomic_size_t peak;
static atomic_uint_fast64_t total;
static atomic_uint_fast64_t fail_countdown; /* 0 = never fail */
/* The memory budget's limit for task threads (base/budget.h), 0 = none */
static atomic_size_t task_limit;
static _Thread_local int task_thread;

void rn__alloc_set_task_limit(size_t bytes)
{
    atomic_store(&task_limit, bytes);
}

void rn__alloc_task_thread(int on)
{
    task_thread = on;
}

/* 1 when n more bytes would take a task thread past the budget. */
static inline int over_budget(size_t n)
{
    size_t lim;
    if (!task_thread)
        return 0;
    lim = atomic_load_explicit(&task_limit, memory_order_relaxed);
    return lim && atomic_load_explicit(&in_use, memory_order_relaxed) + n > lim;
}

static int should_fail(void)
{
    uint_fast64_t c = atomic_load_explicit(&fail_countdown,
                                           memory_order_relaxed);
    if (c == 0)
        return 0;
    if (c == 1)
        return 1; /* stays at 1: every later allocation fails too */
    return atomic_fetch_sub(&fail_countdown, 1) == 1;
}

static void account(size_t add, size_t sub)
{
    size_t now;
    if (add) {
        now = atomic_fetch_add_explicit(&in_use, add, memory_order_relaxed) +
              add;
        atomic_fetch_add_explicit(&total, add, memory_order_relaxed);
        size_t p = atomic_load_explicit(&peak, memory_order_relaxed);
        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
            ;
    }
    if (sub)
        atomic_fetch_sub_explicit(&in_use, sub, memory_order_relaxed);
}

void *rn_malloc(size_t n)
{
    hdr *h;
    if (should_fail() || n > SIZE_MAX - sizeof(hdr) || over_budget(n))
        return NULL;
    h = malloc(sizeof(hdr) + n);
    if (!h)
        return NULL;
    h->size = n;
    account(n, 0);
    return h + 1;
}

void *rn_calloc(size_t count, size_t size)
{
    void *p;
    if (size && count > SIZE_MAX / size)
        return NULL;
    p = rn_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *rn_realloc(void *p, size_t n)
{
    hdr *h, *nh;
    size_t old;
    if (!p)
        return rn_malloc(n);
    if (should_fail() || n > SIZE_MAX - sizeof(hdr))
        return NULL;
    h = (hdr *)p - 1;
    old = h->size;
    if (n > old && over_budget(n - old))
        return NULL;
    nh = realloc(h, sizeof(hdr) + n);
    if (!nh)
        return NULL;
    nh->size = n;
    if (n > old)
        account(n - old, 0);
    else
        account(0, old - n);
    return nh + 1;
}

void rn_free(void *p)
{
    hdr *h;
    if (!p)
        return;
    h = (hdr *)p - 1;
    account(0, h->size);
    free(h);
}

char *rn_strndup(const char *s, size_t n)
{
    char *d = rn_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *rn_strdup(const char *s)
{
    return rn_strndup(s, strlen(s));
}

size_t rn_alloc_in_use(void)
{
    return atomic_load(&in_use);
}

size_t rn_alloc_peak(void)
{
    return atomic_load(&peak);
}

void rn_alloc_peak_reset(void)
{
    atomic_store(&peak, atomic_load(&in_use));
}

uint64_t rn_alloc_total(void)
{
    return (uint64_t)atomic_load(&total);
}

void rn_alloc_fail_after(uint64_t n)
{
    atomic_store(&fail_countdown, n);
}

#define HUGE_PAGE ((size_t)2 << 20)

void *rn_malloc_large(size_t n)
{
    size_t len, pad;
    char *raw, *p;
    if (should_fail() || n == 0 || n > SIZE_MAX - 2 * HUGE_PAGE || over_budget(n))
        return NULL;
    len = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    /* keep the 2 MiB-aligned part, give back the rest */
    p = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    pad = (size_t)(p - raw);
    if (pad)
        munmap(raw, pad);
    if (HUGE_PAGE - pad)
        munmap(p + len, HUGE_PAGE - pad);
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* advice only: fine if refused */
#endif
    account(len, 0);
    return p;
}

void rn_free_large(void *p, size_t n)
{
    size_t len;
    if (!p)
        return;
    len = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    munmap(p, len);
    account(0, len);
}

void rn_alloc_tune_for_daemon(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
#endif
}
