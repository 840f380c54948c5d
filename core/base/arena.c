#include "base/arena.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

struct rn_arena_chunk {
    rn_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    /* 16-byte aligned payload follows */
};

#define HDR (((sizeof(rn_arena_chunk)) + 15) & ~(size_t)15)

void rn_arena_init(rn_arena *a, size_t chunk_size)
{
    memset(a, 0, sizeof(*a));
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
}

void rn_arena_release(rn_arena *a)
{
    rn_arena_chunk *c = a->head, *next;
    while (c) {
        next = c->next;
        rn_free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->total = 0;
}

void rn_arena_reset(rn_arena *a)
{
    rn_arena_chunk *c, *next;
    if (!a->head)
        return;
    /* keep the oldest chunk (normally the default size), free the rest */
    c = a->head;
    while (c->next) {
        next = c->next;
        a->total -= c->size;
        rn_free(c);
        c = next;
    }
    a->head = c;
    a->cur = (char *)c + HDR;
    a->end = a->cur + c->size;
}

void *rn_arena_alloc(rn_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    size_t size;
    rn_arena_chunk *c;
    char *p;

    if (need < n)
        return NULL;
    if ((size_t)(a->end - a->cur) >= need) {
        p = a->cur;
        a->cur += need;
        return p;
    }
    size = need > a->chunk_size / 4 ? need : a->chunk_size;
    if (a->limit && a->total + size > a->limit)
        return NULL;
    if (size > SIZE_MAX - HDR)
        return NULL;
    c = rn_malloc(HDR + size);
    if (!c)
        return NULL;
    c->size = size;
    a->total += size;
    if (size == need && a->head) {
        /* a large block: link it behind the head so the head's free space
         * stays usable */
        c->next = a->head->next;
        a->head->next = c;
        return (char *)c + HDR;
    }
    c->next = a->head;
    a->head = c;
    a->cur = (char *)c + HDR + need;
    a->end = (char *)c + HDR + size;
    return (char *)c + HDR;
}

void *rn_arena_memdup(rn_arena *a, const void *p, size_t n)
{
    void *d = rn_arena_alloc_fast(a, n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

char *rn_arena_strndup(rn_arena *a, const char *s, size_t n)
{
    char *d = rn_arena_alloc_fast(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
