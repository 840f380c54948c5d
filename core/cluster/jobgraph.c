/* The task graph of a cluster job. */
#include "cluster/jobgraph.h"

#include <stdio.h>
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

int rn_jobgraph_merging(int kind)
{
    return kind == RN_GT_COMBINE || kind == RN_GT_FINISH ||
           kind == RN_GT_REDUCE;
}

/* The graph being built: tasks appended, capacity known in advance. */
typedef struct dagb {
    rn_jobgraph *g;
    size_t cap;
    uint32_t node, gstage0; /* the node being built, its first stage */
} dagb;

static rn_gtask *new_task(dagb *b, int kind, uint32_t stage,
                          uint32_t partition)
{
    rn_jobgraph *g = b->g;
    rn_gtask *t;
    if (g->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        rn_gtask *nt = rn_realloc(g->tasks, nc * sizeof(*nt));
        if (!nt)
            return NULL;
        g->tasks = nt;
        b->cap = nc;
    }
    t = &g->tasks[g->n];
    memset(t, 0, sizeof(*t));
    t->id = (uint32_t)g->n;
    t->kind = kind;
    t->stage = stage;
    t->partition = partition;
    t->node = b->node;
    t->gstage = b->gstage0 + stage;
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

/* Bucket bk of a shuffle's tasks `maps` for its reducer, in *wide: the
 * tasks themselves, or, past RN_JOBGRAPH_FAN_IN of them, COMBINE tasks
 * merging runs of at most that many (the first level reading bucket bk,
 * the next ones whole partials); *k numbers the stage's combines. */
static int wide_bucket(dagb *b, uint32_t stage, uint32_t bk, const ids *maps,
                       ids *wide, uint32_t *k)
{
    ids lvl = {0};
    int rc = RN_ENOMEM;

    wide->n = 0;
    for (size_t i = 0; i < maps->n; i++)
        if (ids_push(wide, maps->v[i]))
            goto done;
    for (uint32_t bucket = bk; wide->n > RN_JOBGRAPH_FAN_IN; bucket = 0) {
        size_t groups = (wide->n + RN_JOBGRAPH_FAN_IN - 1) / RN_JOBGRAPH_FAN_IN;
        size_t per = (wide->n + groups - 1) / groups;
        lvl.n = 0;
        for (size_t j = 0; j < wide->n; j += per) {
            size_t m = wide->n - j < per ? wide->n - j : per;
            rn_gtask *t = new_task(b, RN_GT_COMBINE, stage, (*k)++);
            if (!t)
                goto done;
            t->bucket = bucket;
            if (ids_push(&lvl, t->id) || set_inputs(b->g, t->id, &wide->v[j], m))
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

/* ---- checking a graph before it is made ------------------------------- */

/* Counts past this are "too many" whatever they are: sums and products
 * of counts are taken saturated, so no overflow can hide a huge graph. */
#define SAT ((uint64_t)1 << 40)

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b > SAT ? SAT : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a && b > SAT / a)
        return SAT;
    return a * b > SAT ? SAT : a * b;
}

/* Tasks and task inputs of one node whose stage 0 has n0 tasks with e0
 * inputs in all; its result partitions in *parts. RN_ELIMIT for a
 * shuffle past RN_JOBGRAPH_MAX_SHUFFLE_EDGES. */
static int count_node(const rn_jg_node *nd, uint64_t n0, uint64_t e0,
                      uint32_t split_every, uint64_t *tasks, uint64_t *edges,
                      uint64_t *parts)
{
    uint64_t cur = n0, t = n0, e = e0;
    for (size_t s = 0; s < nd->n_stages; s++) {
        uint32_t np = nd->nparts && nd->nparts[s] > 1 ? nd->nparts[s] : 1;
        if (s > 0) { /* a chain task per partition of the stage before */
            t = sat_add(t, cur);
            e = sat_add(e, cur);
        }
        if (nd->terminals[s] != RN_TERM_FOLD)
            continue;
        if (np > 1) {
            uint64_t w = cur; /* a reducer's inputs, as wide_bucket cuts */
            if (cur > RN_JOBGRAPH_MAX_SHUFFLE_EDGES / np)
                return RN_ELIMIT;
            while (w > RN_JOBGRAPH_FAN_IN) {
                uint64_t groups = (w + RN_JOBGRAPH_FAN_IN - 1) / RN_JOBGRAPH_FAN_IN;
                t = sat_add(t, sat_mul(groups, np));
                e = sat_add(e, sat_mul(w, np));
                w = groups;
            }
            t = sat_add(t, np);
            e = sat_add(e, sat_mul(w, np));
            cur = np;
            continue;
        }
        while (cur > split_every) { /* the combine tree */
            uint64_t next = (cur + split_every - 1) / split_every;
            t = sat_add(t, next);
            e = sat_add(e, cur);
            cur = next;
        }
        t = sat_add(t, 1); /* the finish */
        e = sat_add(e, cur);
        cur = 1;
    }
    *tasks = t;
    *edges = e;
    *parts = cur;
    return 0;
}

/* The nodes in an order where every node follows those it reads (a
 * depth-first search from each node in turn); a cycle is an error that
 * names it. */
static int topo_order(const rn_jg_node *nodes, size_t n, uint32_t *order,
                      rn_errbuf *err)
{
    uint8_t *color = rn_calloc(n, 1); /* 0 new, 1 on the path, 2 done */
    uint32_t *stack = rn_malloc(n * sizeof(uint32_t));
    size_t *next = rn_calloc(n, sizeof(size_t));
    size_t k = 0;
    int rc = 0;

    if (!color || !stack || !next) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t root = 0; root < n && rc == 0; root++) {
        size_t depth = 0;
        if (color[root])
            continue;
        stack[depth++] = (uint32_t)root;
        color[root] = 1;
        while (depth && rc == 0) {
            uint32_t x = stack[depth - 1], y;
            const rn_jg_node *nd = &nodes[x];
            if (next[x] == nd->n_inputs) {
                color[x] = 2;
                order[k++] = x;
                depth--;
                continue;
            }
            y = nd->inputs[next[x]++].node;
            if (y == RN_JG_SOURCE)
                continue;
            if (color[y] == 1) {
                /* the path from y to x, then y again */
                char path[512];
                size_t from = depth, o = 0;
                while (from > 0 && stack[from - 1] != y)
                    from--;
                for (size_t i = from ? from - 1 : 0; i < depth && o < 400; i++)
                    o += (size_t)snprintf(path + o, sizeof(path) - o,
                                          "node %u -> ", stack[i]);
                snprintf(path + o, sizeof(path) - o, "node %u", y);
                rc = rn_error_set(err, RN_EINVAL,
                                  "the job's nodes read each other in a "
                                  "cycle: %s (each reads the next)",
                                  path);
            } else if (color[y] == 0) {
                color[y] = 1;
                stack[depth++] = y;
            }
        }
    }
done:
    rn_free(color);
    rn_free(stack);
    rn_free(next);
    return rc;
}

/* Everything rn_jobgraph_build_dag checks before it allocates a task:
 * order[] gets the order to build in, parts[] every node's result
 * partitions, *n_tasks the tasks there will be. */
static int check_dag(const rn_jg_node *nodes, size_t n,
                     const uint32_t *outputs, size_t n_outputs,
                     uint32_t split_every, uint32_t *order, uint64_t *parts,
                     size_t *n_tasks, rn_errbuf *err)
{
    uint64_t tasks = 0, edges = 0;
    int rc;

    if (n == 0 || n_outputs == 0)
        return rn_error_set(err, RN_EINVAL, "a job of datasets needs nodes "
                                            "and outputs (got %zu and %zu)",
                            n, n_outputs);
    for (size_t o = 0; o < n_outputs; o++)
        if (outputs[o] >= n)
            return rn_error_set(err, RN_EINVAL,
                                "output %zu reads node %u: the job has %zu "
                                "nodes",
                                o, outputs[o], n);
    for (size_t i = 0; i < n; i++) {
        const rn_jg_node *nd = &nodes[i];
        if (nd->n_stages == 0 || !nd->terminals)
            return rn_error_set(err, RN_EINVAL, "node %zu has no stage", i);
        if (nd->n_inputs == 0 || !nd->inputs)
            return rn_error_set(err, RN_EINVAL, "node %zu reads nothing", i);
        for (size_t q = 0; q < nd->n_inputs; q++) {
            const rn_jg_input *in = &nd->inputs[q];
            if (in->node == RN_JG_SOURCE) {
                if (nd->zip)
                    return rn_error_set(err, RN_EINVAL,
                                        "node %zu zips input %zu, a source: "
                                        "a zip reads other nodes",
                                        i, q);
                continue;
            }
            if (in->node >= n)
                return rn_error_set(err, RN_EINVAL,
                                    "node %zu, input %zu reads node %u: the "
                                    "job has %zu nodes",
                                    i, q, in->node, n);
        }
    }
    if ((rc = topo_order(nodes, n, order, err)))
        return rc;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        const rn_jg_node *nd = &nodes[i];
        uint64_t n0 = 0, e0 = 0, t, e;
        for (size_t q = 0; q < nd->n_inputs; q++) {
            const rn_jg_input *in = &nd->inputs[q];
            uint64_t p = in->node == RN_JG_SOURCE ? in->n_splits
                                                  : parts[in->node];
            if (nd->zip) {
                if (q > 0 && p != n0)
                    return rn_error_set(err, RN_EINVAL,
                                        "node %u zips node %u, of %llu "
                                        "partitions, with node %u, of %llu "
                                        "(a zip pairs up partitions: its "
                                        "inputs need as many)",
                                        i, nd->inputs[0].node,
                                        (unsigned long long)n0, in->node,
                                        (unsigned long long)p);
                n0 = p;
                e0 = sat_add(e0, p);
            } else {
                n0 = sat_add(n0, p);
                if (in->node != RN_JG_SOURCE)
                    e0 = sat_add(e0, p);
            }
        }
        if ((rc = count_node(nd, n0, e0, split_every, &t, &e, &parts[i])))
            return rn_error_set(err, rc,
                                "the job's shuffle is too large: its tasks "
                                "times npartitions may be at most %zu",
                                RN_JOBGRAPH_MAX_SHUFFLE_EDGES);
        tasks = sat_add(tasks, t);
        edges = sat_add(edges, e);
    }
    if (tasks > RN_JOBGRAPH_MAX_TASKS || edges > RN_JOBGRAPH_MAX_EDGES)
        return rn_error_set(err, RN_ELIMIT,
                            "the job would have %s%llu tasks and %s%llu "
                            "task inputs: at most %zu and %zu",
                            tasks >= SAT ? "over " : "",
                            (unsigned long long)tasks,
                            edges >= SAT ? "over " : "",
                            (unsigned long long)edges, RN_JOBGRAPH_MAX_TASKS,
                            RN_JOBGRAPH_MAX_EDGES);
    *n_tasks = (size_t)tasks;
    return 0;
}

/* ---- building --------------------------------------------------------- */

/* Node nd's tasks (reading the results res_of[x] of the nodes x it
 * reads); its result task ids end in prev, in order. */
static int build_node(dagb *b, const rn_jg_node *nd, uint32_t split_every,
                      uint32_t *const *res_of, const size_t *n_res_of,
                      ids *prev, ids *cur, ids *next, ids *wide,
                      uint32_t *zipin)
{
    rn_jobgraph *g = b->g;
    size_t n_base;

    /* stage 0: what the node reads, input after input, or zipped */
    cur->n = 0;
    if (nd->zip) {
        size_t np = n_res_of[nd->inputs[0].node];
        for (size_t p = 0; p < np; p++) {
            rn_gtask *t = new_task(b, RN_GT_ZIP, 0, (uint32_t)p);
            if (!t || ids_push(cur, t->id))
                return RN_ENOMEM;
            for (size_t q = 0; q < nd->n_inputs; q++)
                zipin[q] = res_of[nd->inputs[q].node][p];
            if (set_inputs(g, t->id, zipin, nd->n_inputs))
                return RN_ENOMEM;
        }
    } else {
        for (size_t q = 0; q < nd->n_inputs; q++) {
            const rn_jg_input *in = &nd->inputs[q];
            size_t m = in->node == RN_JG_SOURCE ? in->n_splits
                                                : n_res_of[in->node];
            for (size_t i = 0; i < m; i++) {
                rn_gtask *t = new_task(b, in->node == RN_JG_SOURCE
                                              ? RN_GT_SOURCE
                                              : RN_GT_CHAIN,
                                       0, (uint32_t)cur->n);
                if (!t || ids_push(cur, t->id))
                    return RN_ENOMEM;
                t->input = (uint32_t)q;
                if (in->node == RN_JG_SOURCE)
                    t->split = in->split0 + (uint32_t)i;
                else if (set_inputs(g, t->id, &res_of[in->node][i], 1))
                    return RN_ENOMEM;
            }
        }
    }
    for (size_t s = 0; s < nd->n_stages; s++) {
        uint32_t np = nd->nparts && nd->nparts[s] > 1 ? nd->nparts[s] : 1;
        if (s > 0) {
            cur->n = 0;
            n_base = prev->n;
            for (size_t i = 0; i < n_base; i++) {
                rn_gtask *t = new_task(b, RN_GT_CHAIN, (uint32_t)s, (uint32_t)i);
                if (!t || ids_push(cur, t->id) ||
                    set_inputs(g, t->id, &prev->v[i], 1))
                    return RN_ENOMEM;
            }
        }
        if (nd->terminals[s] == RN_TERM_FOLD && np > 1) {
            /* the shuffle: reducer bk reads bucket bk of every task */
            uint32_t k = 0;
            next->n = 0;
            for (uint32_t bk = 0; bk < np; bk++) {
                rn_gtask *t;
                /* past RN_JOBGRAPH_FAN_IN tasks, combines merge bucket bk
                 * of runs of them first, so no task reads more */
                if (wide_bucket(b, (uint32_t)s, bk, cur, wide, &k) ||
                    !(t = new_task(b, RN_GT_REDUCE, (uint32_t)s, bk)))
                    return RN_ENOMEM;
                t->bucket = wide->n == cur->n ? bk : 0;
                if (ids_push(next, t->id) ||
                    set_inputs(g, t->id, wide->v, wide->n))
                    return RN_ENOMEM;
            }
            ids tmp = *cur;
            *cur = *next;
            *next = tmp;
        } else if (nd->terminals[s] == RN_TERM_FOLD) {
            uint32_t k = 0;
            while (cur->n > split_every) {
                next->n = 0;
                for (size_t j = 0; j < cur->n; j += split_every) {
                    size_t m = cur->n - j < split_every ? cur->n - j : split_every;
                    rn_gtask *t = new_task(b, RN_GT_COMBINE, (uint32_t)s, k++);
                    if (!t || ids_push(next, t->id) ||
                        set_inputs(g, t->id, &cur->v[j], m))
                        return RN_ENOMEM;
                }
                ids tmp = *cur;
                *cur = *next;
                *next = tmp;
            }
            rn_gtask *f = new_task(b, RN_GT_FINISH, (uint32_t)s, 0);
            if (!f || set_inputs(g, f->id, cur->v, cur->n))
                return RN_ENOMEM;
            cur->n = 0;
            if (ids_push(cur, f->id))
                return RN_ENOMEM;
        }
        ids tmp = *prev;
        *prev = *cur;
        *cur = tmp;
    }
    return 0;
}

/* Consumers (from the inputs), the ready heap's arrays, finals. */
static int finish_graph(rn_jobgraph *g)
{
    size_t nf = 0;
    for (size_t t = 0; t < g->n; t++)
        for (uint32_t k = 0; k < g->tasks[t].n_inputs; k++)
            g->tasks[g->tasks[t].inputs[k]].n_consumers++;
    for (size_t t = 0; t < g->n; t++) {
        rn_gtask *task = &g->tasks[t];
        if (task->n_consumers &&
            !(task->consumers = rn_malloc(task->n_consumers * sizeof(uint32_t))))
            return RN_ENOMEM;
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
        return RN_ENOMEM;
    g->dirty = 1;
    /* the results, each task once however many outputs list it */
    for (size_t i = 0; i < g->out_off[g->n_outputs]; i++)
        if (!g->tasks[g->out_tasks[i]].final) {
            g->tasks[g->out_tasks[i]].final = 1;
            nf++;
        }
    g->n_finals = nf;
    if (!(g->finals = rn_malloc((nf + 1) * sizeof(uint32_t))))
        return RN_ENOMEM;
    nf = 0;
    for (size_t t = 0; t < g->n; t++)
        if (g->tasks[t].final)
            g->finals[nf++] = (uint32_t)t;
    return 0;
}

int rn_jobgraph_build_dag(const rn_jg_node *nodes, size_t n,
                          const uint32_t *outputs, size_t n_outputs,
                          uint32_t split_every, rn_jobgraph **out,
                          rn_errbuf *err)
{
    rn_jobgraph *g = NULL;
    uint32_t *order = NULL, *zipin = NULL, *gstage0 = NULL;
    uint32_t **res_of = NULL;
    size_t *n_res_of = NULL, n_tasks = 0, max_in = 1;
    uint64_t *parts = NULL;
    ids prev = {0}, cur = {0}, next = {0}, wide = {0};
    dagb b;
    int rc;

    *out = NULL;
    if (split_every < 2)
        split_every = 2;
    order = rn_malloc((n + 1) * sizeof(*order));
    parts = rn_calloc(n + 1, sizeof(*parts));
    if (!order || !parts) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = check_dag(nodes, n, outputs, n_outputs, split_every, order,
                        parts, &n_tasks, err)))
        goto done;
    for (size_t i = 0; i < n; i++)
        if (nodes[i].n_inputs > max_in)
            max_in = nodes[i].n_inputs;
    g = rn_calloc(1, sizeof(*g));
    res_of = rn_calloc(n, sizeof(*res_of));
    n_res_of = rn_calloc(n, sizeof(*n_res_of));
    gstage0 = rn_calloc(n, sizeof(*gstage0));
    zipin = rn_malloc(max_in * sizeof(*zipin));
    if (!g || !res_of || !n_res_of || !gstage0 || !zipin)
        goto oom;
    for (size_t i = 1; i < n; i++)
        gstage0[i] = gstage0[i - 1] + (uint32_t)nodes[i - 1].n_stages;
    memset(&b, 0, sizeof(b));
    b.g = g;
    b.cap = n_tasks ? n_tasks : 1;
    if (!(g->tasks = rn_malloc(b.cap * sizeof(*g->tasks))))
        goto oom;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        b.node = i;
        b.gstage0 = gstage0[i];
        if ((rc = build_node(&b, &nodes[i], split_every, res_of, n_res_of,
                             &prev, &cur, &next, &wide, zipin)))
            goto oom;
        if (prev.n && !(res_of[i] = rn_malloc(prev.n * sizeof(uint32_t))))
            goto oom;
        memcpy(res_of[i], prev.v, prev.n * sizeof(uint32_t));
        n_res_of[i] = prev.n;
    }
    g->n_outputs = n_outputs;
    if (!(g->out_off = rn_calloc(n_outputs + 1, sizeof(size_t))))
        goto oom;
    for (size_t o = 0; o < n_outputs; o++)
        g->out_off[o + 1] = g->out_off[o] + n_res_of[outputs[o]];
    if (!(g->out_tasks = rn_malloc((g->out_off[n_outputs] + 1) *
                                   sizeof(uint32_t))))
        goto oom;
    for (size_t o = 0; o < n_outputs; o++)
        memcpy(&g->out_tasks[g->out_off[o]], res_of[outputs[o]],
               n_res_of[outputs[o]] * sizeof(uint32_t));
    if (finish_graph(g))
        goto oom;
    rc = 0;
    goto done;
oom:
    rc = rn_error_set(err, RN_ENOMEM, "out of memory");
done:
    for (size_t i = 0; res_of && i < n; i++)
        rn_free(res_of[i]);
    rn_free(res_of);
    rn_free(n_res_of);
    rn_free(gstage0);
    rn_free(zipin);
    rn_free(order);
    rn_free(parts);
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

int rn_jobgraph_build(const int *terminals, const uint32_t *nparts,
                      size_t n_stages, size_t n_splits, uint32_t split_every,
                      rn_jobgraph **out)
{
    rn_jg_input in = {RN_JG_SOURCE, (uint32_t)n_splits, 0};
    rn_jg_node nd = {0, terminals, nparts, n_stages, &in, 1};
    uint32_t output = 0;
    *out = NULL;
    if (n_splits > UINT32_MAX)
        return RN_ELIMIT;
    return rn_jobgraph_build_dag(&nd, 1, &output, 1, split_every, out, NULL);
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
    rn_free(g->out_tasks);
    rn_free(g->out_off);
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
    int ma = rn_jobgraph_merging(g->tasks[a].kind);
    int mb = rn_jobgraph_merging(g->tasks[b].kind);
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
