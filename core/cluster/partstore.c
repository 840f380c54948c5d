/* A worker's partitions. */
#include "cluster/partstore.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

typedef struct entry {
    char job[32];
    uint32_t task;
    uint32_t attempt;
    rn_partition *p;
    size_t bytes;
} entry;

struct rn_partstore {
    pthread_mutex_t lock;
    entry *e;
    size_t n, cap;
};

rn_partstore *rn_partstore_new(void)
{
    rn_partstore *ps = rn_calloc(1, sizeof(*ps));
    if (ps)
        pthread_mutex_init(&ps->lock, NULL);
    return ps;
}

void rn_partstore_free(rn_partstore *ps)
{
    if (!ps)
        return;
    rn_partstore_clear(ps);
    rn_free(ps->e);
    pthread_mutex_destroy(&ps->lock);
    rn_free(ps);
}

static entry *find(rn_partstore *ps, const char *job, uint32_t task)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->e[i].task == task && strcmp(ps->e[i].job, job) == 0)
            return &ps->e[i];
    return NULL;
}

int rn_partstore_put(rn_partstore *ps, const char *job, uint32_t task,
                     uint32_t attempt, rn_partition *p)
{
    entry *e;
    pthread_mutex_lock(&ps->lock);
    if ((e = find(ps, job, task))) {
        rn_partition_unref(e->p);
    } else {
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            entry *ne = rn_realloc(ps->e, cap * sizeof(*ne));
            if (!ne) {
                pthread_mutex_unlock(&ps->lock);
                rn_partition_unref(p);
                return RN_ENOMEM;
            }
            ps->e = ne;
            ps->cap = cap;
        }
        e = &ps->e[ps->n++];
        snprintf(e->job, sizeof(e->job), "%s", job);
        e->task = task;
    }
    e->p = p;
    e->attempt = attempt;
    e->bytes = rn_partition_bytes(p);
    pthread_mutex_unlock(&ps->lock);
    return 0;
}

rn_partition *rn_partstore_get(rn_partstore *ps, const char *job, uint32_t task)
{
    entry *e;
    rn_partition *p = NULL;
    pthread_mutex_lock(&ps->lock);
    if ((e = find(ps, job, task))) {
        p = e->p;
        rn_partition_ref(p);
    }
    pthread_mutex_unlock(&ps->lock);
    return p;
}

static void remove_at(rn_partstore *ps, size_t i)
{
    rn_partition_unref(ps->e[i].p);
    ps->e[i] = ps->e[--ps->n];
}

void rn_partstore_drop(rn_partstore *ps, const char *job, uint32_t task)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n; i++)
        if (ps->e[i].task == task && strcmp(ps->e[i].job, job) == 0) {
            remove_at(ps, i);
            break;
        }
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_drop_attempt(rn_partstore *ps, const char *job,
                               uint32_t task, uint32_t attempt)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n; i++)
        if (ps->e[i].task == task && strcmp(ps->e[i].job, job) == 0) {
            if (ps->e[i].attempt == attempt)
                remove_at(ps, i);
            break;
        }
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_drop_job(rn_partstore *ps, const char *job)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n;)
        if (strcmp(ps->e[i].job, job) == 0)
            remove_at(ps, i);
        else
            i++;
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_clear(rn_partstore *ps)
{
    pthread_mutex_lock(&ps->lock);
    while (ps->n)
        remove_at(ps, ps->n - 1);
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_stats(rn_partstore *ps, uint32_t *count, uint64_t *bytes)
{
    uint64_t b = 0;
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n; i++)
        b += ps->e[i].bytes;
    *count = (uint32_t)ps->n;
    *bytes = b;
    pthread_mutex_unlock(&ps->lock);
}
