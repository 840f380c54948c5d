#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A 16-byte header keeps the size (so frees can be counted) and preserves
 * the 16-byte alignment malloc gives. */
typedef union hdr {
    size_t size;
    max_align_t align;
} hdr;

static atomic_size_t in_use;
static atomic_size_t peak;
static atomic_uint_fast64_t fail_countdown; /* 0 = never fail */

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
    if (should_fail() || n > SIZE_MAX - sizeof(hdr))
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

void rn_alloc_fail_after(uint64_t n)
{
    atomic_store(&fail_countdown, n);
}
