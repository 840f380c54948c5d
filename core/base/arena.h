/*
 * Arenas: bump allocation in chunks, released all at once (PostgreSQL
 * memory contexts, nginx pools). Job, task and batch memory live in arenas;
 * nothing inside one is freed individually.
 *
 * An arena is used by one thread at a time. Memory is 16-byte aligned.
 */
#ifndef RN_CORE_ARENA_H
#define RN_CORE_ARENA_H

#include <stddef.h>

typedef struct rn_arena_chunk rn_arena_chunk;

typedef struct rn_arena {
    rn_arena_chunk *head;  /* current chunk (newest first) */
    char *cur, *end;       /* free space in head */
    size_t chunk_size;     /* default size of new chunks */
    size_t total;          /* bytes held in chunks */
    size_t limit;          /* 0 = unlimited; allocation past it fails */
} rn_arena;

/* Embedded-struct lifecycle. chunk_size 0 picks 64 KiB. */
void rn_arena_init(rn_arena *a, size_t chunk_size);
/* Frees every chunk. The arena may be reused after init. */
void rn_arena_release(rn_arena *a);
/* Forgets every allocation but keeps the first chunk for reuse. */
void rn_arena_reset(rn_arena *a);

/* NULL when out of memory or over the limit. */
void *rn_arena_alloc(rn_arena *a, size_t n);
void *rn_arena_memdup(rn_arena *a, const void *p, size_t n);
/* Copies s[0..n) and appends a NUL. */
char *rn_arena_strndup(rn_arena *a, const char *s, size_t n);

static inline void *rn_arena_alloc_fast(rn_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if ((size_t)(a->end - a->cur) >= need && need >= n) {
        void *p = a->cur;
        a->cur += need;
        return p;
    }
    return rn_arena_alloc(a, n);
}

#endif
