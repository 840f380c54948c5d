#include "value/partition.h"

#include "base/alloc.h"
#include "value/value.h"

rn_partition *rn_partition_new(void)
{
    rn_partition *p = rn_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    rn_arena_init(&p->arena, 256 * 1024);
    atomic_init(&p->refs, 1);
    return p;
}

void rn_partition_ref(rn_partition *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void rn_partition_unref(rn_partition *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    rn_free(p->items);
    rn_arena_release(&p->arena);
    rn_free(p);
}

static int grow(rn_partition *p)
{
    size_t cap = p->cap ? p->cap * 2 : 64;
    rn_value *items = rn_realloc(p->items, cap * sizeof(rn_value));
    if (!items)
        return RN_ENOMEM;
    p->items = items;
    p->cap = cap;
    return 0;
}

int rn_partition_push_view(rn_partition *p, const rn_value *v)
{
    int rc;
    if (p->n == p->cap && (rc = grow(p)))
        return rc;
    p->items[p->n++] = *v;
    return 0;
}

int rn_partition_push(rn_partition *p, const rn_value *v)
{
    int rc;
    if (p->n == p->cap && (rc = grow(p)))
        return rc;
    rc = rn_value_copy(&p->arena, v, &p->items[p->n]);
    if (rc)
        return rc;
    p->n++;
    return 0;
}

size_t rn_partition_bytes(const rn_partition *p)
{
    return p->cap * sizeof(rn_value) + p->arena.total;
}

void rn_partition_clear(rn_partition *p)
{
    rn_arena_release(&p->arena);
    rn_arena_init(&p->arena, 256 * 1024);
    p->n = 0;
}
