/* The task graph of a cluster job. */
#include "cluster/jobgraph.h"

#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

typedef struct ids {
    uint32_t *v;
    size_t n, cap;
} ids;

static int ids_push(ids *a, uint32_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        uint32_t *nv = rn_realloc(a->v, cap * sizeof(*nv));
        if (!nv)
            return RN_ENOMEM;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static rn_gtask *new_task(rn_jobgraph *g, size_t *cap, int kind,
                          uint32_t stage, uint32_t partition)
{
    rn_gtask *t;
    if (g->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        rn_gtask *nt = rn_realloc(g->tasks, nc * sizeof(*nt));
        if (!nt)
            return NULL;
        g->tasks = nt;
        *cap = nc;
    }
    t = &g->tasks[g->n];
    memset(t, 0, sizeof(*t));
    t->id = (uint32_t)g->n;
    t->kind = kind;
    t->stage = stage;
    t->partition = partition;
    g->n++;
    return t;
}

static int set_inputs(rn_jobgraph *g, uint32_t t, const uint32_t *in, size_t n)
{
    rn_gtask *task = &g->tasks[t];
    if (n == 0)
        return 0;
    if (!(task->inputs = rn_malloc(n * sizeof(uint32_t))))
        return RN_ENOMEM;
    memcpy(task->inputs, in, n * sizeof(uint32_t));
    task->n_inputs = (uint32_t)n;
    return 0;
}

/* Bucket b of a shuffle's tasks `maps` for its reducer, in *wide: the
 * tasks themselves, or, past RN_JOBGRAPH_FAN_IN of them, COMBINE tasks
 * merging runs of at most that many (the first level reading bucket b,
 * the next ones whole partials); *k numbers the stage's combines. */
static int wide_bucket(rn_jobgraph *g, size_t *cap, uint32_t stage,
                       uint32_t b, const ids *maps, ids *wide, uint32_t *k)
{
    ids lvl = {0};
    int rc = RN_ENOMEM;

    wide->n = 0;
    for (size_t i = 0; i < maps->n; i++)
        if (ids_push(wide, maps->v[i]))
            goto done;
    for (uint32_t bucket = b; wide->n > RN_JOBGRAPH_FAN_IN; bucket = 0) {
        size_t groups = (wide->n + RN_JOBGRAPH_FAN_IN - 1) / RN_JOBGRAPH_FAN_IN;
        size_t per = (wide->n + groups - 1) / groups;
        lvl.n = 0;
        for (size_t j = 0; j < wide->n; j += per) {
            size_t m = wide->n - j < per ? wide->n - j : per;
            rn_gtask *t = new_task(g, cap, RN_GT_COMBINE, stage, (*k)++);
            if (!t)
                goto done;
            t->bucket = bucket;
            if (ids_push(&lvl, t->id) || set_inputs(g, t->id, &wide->v[j], m))
                goto done;
        }
        ids swap = *wide;
        *wide = lvl;
        lvl = swap;
    }
    rc = 0;
done:
    rn_free(lvl.v);
    return rc;
}

int rn_jobgraph_build(const int *terminals, const uint32_t *nparts,
                      size_t n_stages, size_t n_splits, uint32_t split_every,
                      rn_jobgraph **out)
{
    rn_jobgraph *g = rn_calloc(1, sizeof(*g));
    ids prev = {0}, cur = {0}, next = {0}, wide = {0};
    size_t cap = 0;
    int rc = RN_ENOMEM;

    *out = NULL;
    if (!g)
        return RN_ENOMEM;
    if (split_every < 2)
        split_every = 2;
    for (size_t s = 0; s < n_stages; s++) {
        cur.n = 0;
        size_t n_base = s == 0 ? n_splits : prev.n;
        for (size_t i = 0; i < n_base; i++) {
            rn_gtask *t = new_task(g, &cap, s == 0 ? RN_GT_SOURCE : RN_GT_CHAIN,
                                   (uint32_t)s, (uint32_t)i);
            if (!t || ids_push(&cur, t->id))
                goto done;
            if (s > 0 && set_inputs(g, t->id, &prev.v[i], 1))
                goto done;
        }
        uint32_t np = nparts && nparts[s] > 1 ? nparts[s] : 1;
        if (terminals[s] == RN_TERM_FOLD && np > 1) {
            /* the shuffle: reducer b reads bucket b of every task */
            if (cur.n > RN_JOBGRAPH_MAX_SHUFFLE_EDGES / np) {
                rc = RN_ELIMIT;
                goto done;
            }
            next.n = 0;
            uint32_t k = 0;
            for (uint32_t b = 0; b < np; b++) {
                rn_gtask *t;
                /* past RN_JOBGRAPH_FAN_IN tasks, combines merge bucket b
                 * of runs of them first, so no task reads more */
                if (wide_bucket(g, &cap, (uint32_t)s, b, &cur, &wide, &k) ||
                    !(t = new_task(g, &cap, RN_GT_REDUCE, (uint32_t)s, b)))
                    goto done;
                t->bucket = wide.n == cur.n ? b : 0;
                if (ids_push(&next, t->id) ||
                    set_inputs(g, t->id, wide.v, wide.n))
                    goto done;
            }
            ids tmp = cur;
            cur = next;
            next = tmp;
        } else if (terminals[s] == RN_TERM_FOLD) {
            uint32_t k = 0;
            while (cur.n > split_every) {
                next.n = 0;
                for (size_t j = 0; j < cur.n; j += split_every) {
                    size_t m = cur.n - j < split_every ? cur.n - j : split_every;
                    rn_gtask *t = new_task(g, &cap, RN_GT_COMBINE, (uint32_t)s, k++);
                    if (!t || ids_push(&next, t->id) ||
                        set_inputs(g, t->id, &cur.v[j], m))
                        goto done;
                }
                ids tmp = cur;
                cur = next;
                next = tmp;
            }
            rn_gtask *f = new_task(g, &cap, RN_GT_FINISH, (uint32_t)s, 0);
            if (!f || set_inputs(g, f->id, cur.v, cur.n))
                goto done;
            cur.n = 0;
            if (ids_push(&cur, f->id))
                goto done;
        }
        ids tmp = prev;
        prev = cur;
        cur = tmp;
    }
    /* consumers, from the inputs */
    for (size_t t = 0; t < g->n; t++)
        for (uint32_t k = 0; k < g->tasks[t].n_inputs; k++)
            g->tasks[g->tasks[t].inputs[k]].n_consumers++;
    for (size_t t = 0; t < g->n; t++) {
        rn_gtask *task = &g->tasks[t];
        if (task->n_consumers &&
            !(task->consumers = rn_malloc(task->n_consumers * sizeof(uint32_t))))
            goto done;
        task->n_consumers = 0;
    }
    for (size_t t = 0; t < g->n; t++)
        for (uint32_t k = 0; k < g->tasks[t].n_inputs; k++) {
            rn_gtask *in = &g->tasks[g->tasks[t].inputs[k]];
            in->consumers[in->n_consumers++] = (uint32_t)t;
        }
    if (!(g->heap = rn_malloc((g->n + 1) * sizeof(uint32_t))) ||
        !(g->inheap = rn_calloc(g->n + 1, 1)) ||
        !(g->want = rn_calloc(g->n + 1, 1)))
        goto done;
    g->dirty = 1;
    g->n_finals = n_stages ? prev.n : 0;
    if (g->n_finals) {
        if (!(g->finals = rn_malloc(g->n_finals * sizeof(uint32_t))))
            goto done;
        memcpy(g->finals, prev.v, g->n_finals * sizeof(uint32_t));
        for (size_t i = 0; i < g->n_finals; i++)
            g->tasks[g->finals[i]].final = 1;
    }
    rc = 0;
done:
    rn_free(prev.v);
    rn_free(cur.v);
    rn_free(next.v);
    rn_free(wide.v);
    if (rc) {
        rn_jobgraph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void rn_jobgraph_free(rn_jobgraph *g)
{
    if (!g)
        return;
    for (size_t t = 0; t < g->n; t++) {
        rn_free(g->tasks[t].inputs);
        rn_free(g->tasks[t].consumers);
    }
    rn_free(g->tasks);
    rn_free(g->finals);
    rn_free(g->heap);
    rn_free(g->inheap);
    rn_free(g->want);
    rn_free(g);
}

static int progress(const rn_gtask *t)
{
    return t->state == RN_TS_DONE || t->released;
}

/* Every change of a task's state or `released` goes through here, so the
 * counters behind rn_jobgraph_complete and _count_done stay exact. */
static void set_state(rn_jobgraph *g, rn_gtask *t, int state, int released)
{
    int was = progress(t), was_final_done = t->final && t->state == RN_TS_DONE;
    t->state = state;
    t->released = released;
    g->n_progress = g->n_progress - (size_t)was + (size_t)progress(t);
    if (t->final)
        g->finals_done = g->finals_done - (size_t)was_final_done +
                         (size_t)(state == RN_TS_DONE);
}

/* want[t]: t must (re)run for the job to finish. Inputs have smaller ids
 * than consumers, so one pass from the end settles it. */
static void compute_want(const rn_jobgraph *g, uint8_t *want)
{
    for (size_t i = g->n; i-- > 0;) {
        const rn_gtask *t = &g->tasks[i];
        uint8_t w = 0;
        if (t->state != RN_TS_DONE) {
            if (t->final)
                w = 1;
            for (uint32_t k = 0; !w && k < t->n_consumers; k++) {
                const rn_gtask *c = &g->tasks[t->consumers[k]];
                /* a consumer that will run reads this output */
                if (want[c->id] && c->state == RN_TS_WAITING)
                    w = 1;
            }
        }
        want[i] = w;
    }
}

size_t rn_jobgraph_ready(const rn_jobgraph *g, uint8_t *want, uint32_t *out,
                         size_t max)
{
    size_t n = 0;
    compute_want(g, want);
    for (size_t i = 0; i < g->n && n < max; i++) {
        const rn_gtask *t = &g->tasks[i];
        int ok = want[i] && t->state == RN_TS_WAITING;
        for (uint32_t k = 0; ok && k < t->n_inputs; k++)
            ok = g->tasks[t->inputs[k]].state == RN_TS_DONE;
        if (ok)
            out[n++] = (uint32_t)i;
    }
    return n;
}

/* ---- the ready heap ----
 * Merging tasks (COMBINE, FINISH) first, then the lowest id: a combine
 * runs as soon as its partials exist, on the worker that just made them
 * (locality: it has just reported, so it has room), and partials are
 * released early, instead of every source running first and all their
 * outputs waiting in memory (depth first, as dask.order does). */
static int before(const rn_jobgraph *g, uint32_t a, uint32_t b)
{
    int ma = g->tasks[a].kind >= RN_GT_COMBINE;
    int mb = g->tasks[b].kind >= RN_GT_COMBINE;
    if (ma != mb)
        return ma;
    return a < b;
}

static void heap_push(rn_jobgraph *g, uint32_t t)
{
    size_t i;
    if (g->inheap[t])
        return;
    g->inheap[t] = 1;
    i = g->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(g, t, g->heap[p]))
            break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = t;
}

static void heap_pop(rn_jobgraph *g)
{
    uint32_t last;
    size_t i = 0;
    g->inheap[g->heap[0]] = 0;
    last = g->heap[--g->n_heap];
    if (g->n_heap == 0)
        return;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->n_heap)
            break;
        if (c + 1 < g->n_heap && before(g, g->heap[c + 1], g->heap[c]))
            c++;
        if (!before(g, g->heap[c], last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    g->heap[i] = last;
}

static int is_ready(const rn_jobgraph *g, const rn_gtask *t)
{
    if (!g->want[t->id] || t->state != RN_TS_WAITING)
        return 0;
    for (uint32_t k = 0; k < t->n_inputs; k++)
        if (g->tasks[t->inputs[k]].state != RN_TS_DONE)
            return 0;
    return 1;
}

/* want and the heap from scratch: O(n), after events off the normal path. */
static void rebuild(rn_jobgraph *g)
{
    compute_want(g, g->want);
    for (size_t i = 0; i < g->n_heap; i++)
        g->inheap[g->heap[i]] = 0;
    g->n_heap = 0;
    for (size_t i = 0; i < g->n; i++)
        if (is_ready(g, &g->tasks[i]))
            heap_push(g, (uint32_t)i);
    g->dirty = 0;
}

uint32_t rn_jobgraph_peek(rn_jobgraph *g)
{
    if (g->dirty)
        rebuild(g);
    while (g->n_heap) {
        uint32_t t = g->heap[0];
        if (is_ready(g, &g->tasks[t]))
            return t;
        heap_pop(g); /* a stale candidate */
    }
    return UINT32_MAX;
}

/* Why the heap stays right without a rescan on the normal path (assign,
 * done, release): want[x] depends only on x's state and on its consumers
 * that are WAITING and wanted. Assigning t moves it WAITING -> RUNNING,
 * which only matters to t's inputs, all DONE (not wanted anyway); done
 * moves t RUNNING -> DONE (want[t] = 0; a RUNNING t wanted none of its
 * inputs); a release concerns an output all of whose consumers are DONE
 * (want = 0). So the only new ready tasks are consumers of a task that
 * finished. */
uint32_t rn_jobgraph_assign(rn_jobgraph *g, uint32_t t, uint32_t worker)
{
    rn_gtask *task = &g->tasks[t];
    if (g->n_heap && g->heap[0] == t)
        heap_pop(g);
    set_state(g, task, RN_TS_RUNNING, task->released);
    task->worker = worker;
    return ++task->attempt;
}

void rn_jobgraph_done(rn_jobgraph *g, uint32_t t, uint64_t bytes,
                      uint64_t items, uint32_t *rel, size_t *n_rel)
{
    rn_gtask *task = &g->tasks[t];
    set_state(g, task, RN_TS_DONE, 0);
    g->want[t] = 0;
    task->bytes = bytes;
    task->items = items;
    task->runs++;
    *n_rel = 0;
    for (uint32_t k = 0; k < task->n_consumers; k++) {
        const rn_gtask *c = &g->tasks[task->consumers[k]];
        if (is_ready(g, c))
            heap_push(g, c->id);
    }
    for (uint32_t k = 0; k < task->n_inputs; k++) {
        rn_gtask *in = &g->tasks[task->inputs[k]];
        int all = in->state == RN_TS_DONE && !in->final;
        for (uint32_t c = 0; all && c < in->n_consumers; c++)
            all = g->tasks[in->consumers[c]].state == RN_TS_DONE;
        if (all)
            rel[(*n_rel)++] = in->id;
    }
}

void rn_jobgraph_release(rn_jobgraph *g, uint32_t t)
{
    rn_gtask *task = &g->tasks[t];
    if (task->state == RN_TS_DONE) {
        set_state(g, task, RN_TS_WAITING, 1);
        g->want[t] = 0; /* every consumer is done */
    }
}

void rn_jobgraph_unassign(rn_jobgraph *g, uint32_t t)
{
    rn_gtask *task = &g->tasks[t];
    if (task->state == RN_TS_RUNNING) {
        set_state(g, task, RN_TS_WAITING, task->released);
        g->dirty = 1;
    }
}

void rn_jobgraph_forget_output(rn_jobgraph *g, uint32_t t)
{
    rn_gtask *task = &g->tasks[t];
    if (task->state == RN_TS_DONE) {
        set_state(g, task, RN_TS_WAITING, task->released);
        g->dirty = 1;
    }
}

uint32_t rn_jobgraph_worker_lost(rn_jobgraph *g, uint32_t worker,
                                 size_t *n_lost_outputs)
{
    uint32_t failed = UINT32_MAX;
    size_t lost = 0;
    for (size_t i = 0; i < g->n; i++) {
        rn_gtask *t = &g->tasks[i];
        if (t->worker != worker)
            continue;
        if (t->state == RN_TS_RUNNING) {
            if (t->strikes < RN_JOBGRAPH_MAX_STRIKES)
                t->lost_workers[t->strikes] = worker;
            t->strikes++;
            set_state(g, t, RN_TS_WAITING, t->released);
            if (t->strikes >= RN_JOBGRAPH_MAX_STRIKES && failed == UINT32_MAX)
                failed = t->id;
        } else if (t->state == RN_TS_DONE) {
            set_state(g, t, RN_TS_WAITING, t->released);
            lost++;
        }
    }
    g->dirty = 1;
    if (n_lost_outputs)
        *n_lost_outputs = lost;
    return failed;
}

void rn_jobgraph_worker_left(rn_jobgraph *g, uint32_t worker)
{
    for (size_t i = 0; i < g->n; i++) {
        rn_gtask *t = &g->tasks[i];
        if (t->worker == worker &&
            (t->state == RN_TS_RUNNING || t->state == RN_TS_DONE))
            set_state(g, t, RN_TS_WAITING, t->released);
    }
    g->dirty = 1;
}

int rn_jobgraph_complete(const rn_jobgraph *g)
{
    return g->finals_done == g->n_finals;
}

size_t rn_jobgraph_count_done(const rn_jobgraph *g)
{
    return g->n_progress;
}
