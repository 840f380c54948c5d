#define _GNU_SOURCE
/* The local executor for a manifest with datasets (exec/local.h,
 * rn_local_run_graph): the graph's pipelines one after the other, each
 * on the whole thread pool, results held between them as partitions
 * only while a reader is still to run. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "exec/local.h"

typedef struct held {
    rn_partition **parts; /* the node's result (refs), while uses_left */
    size_t n;
    uint32_t uses_left;
    int done;
} held;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void held_drop(held *h)
{
    for (size_t i = 0; i < h->n; i++)
        rn_partition_unref(h->parts[i]);
    rn_free(h->parts);
    h->parts = NULL;
    h->n = 0;
}

/* One reader is done with h: the result goes after the last. */
static void held_used(held *h)
{
    if (h->uses_left && --h->uses_left == 0)
        held_drop(h);
}

/* The partitions of h for one reader, as references it owns: moved
 * when it is the last reader (so the run frees each as it is read),
 * else shared. */
static int held_take(held *h, rn_partition ***out, size_t *n, rn_errbuf *err)
{
    *n = h->n;
    if (h->uses_left == 1) {
        *out = h->parts;
        h->parts = NULL;
        h->n = 0;
        h->uses_left = 0;
        if (!*out && !(*out = rn_calloc(1, sizeof(**out))))
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        return 0;
    }
    if (!(*out = rn_calloc(h->n ? h->n : 1, sizeof(**out))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < h->n; i++) {
        rn_partition_ref(h->parts[i]);
        (*out)[i] = h->parts[i];
    }
    if (h->uses_left)
        h->uses_left--;
    return 0;
}

/* Output k from a held result. */
static int print_held(const rn_graph_out *out, size_t k, held *h)
{
    int rc;
    if ((rc = out->begin(out->ud, k)))
        return rc;
    for (size_t p = 0; p < h->n; p++)
        for (size_t i = 0; i < h->parts[p]->n; i++)
            if ((rc = out->value(out->ud, &h->parts[p]->items[i])))
                return rc;
    if ((rc = out->end(out->ud, k, h->n)))
        return rc;
    held_used(h);
    return 0;
}

/* Runs node i: its inputs taken from what is held, its result held or
 * (stream) handed to output k as it comes. */
static int run_node(rn_pgraph *g, size_t i, held *hs, const rn_run_opts *o,
                    const rn_graph_out *out, int stream, size_t k,
                    rn_run_result *tot, rn_errbuf *err)
{
    const rn_pnode *nd = &g->nodes[i];
    rn_run_input *ins = NULL;
    rn_run_inputs ri;
    rn_run_result res;
    rn_run_opts opts = *o;
    char where[256];
    int rc = 0;

    memset(&res, 0, sizeof(res));
    memset(&ri, 0, sizeof(ri));
    opts.result_fn = NULL;
    opts.result_ud = NULL;
    if (nd->n_inputs) {
        if (!(ins = rn_calloc(nd->n_inputs, sizeof(*ins)))) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t q = 0; q < nd->n_inputs; q++) {
            ins[q].first = &nd->inputs[q].first;
            ins[q].label = nd->inputs[q].label;
            ins[q].source = nd->inputs[q].source;
            if (!ins[q].source &&
                (rc = held_take(&hs[nd->inputs[q].node], &ins[q].parts,
                                &ins[q].n_parts, err)))
                goto done;
        }
        rn_pgraph_zip_where(nd, where, sizeof(where));
        ri.in = ins;
        ri.n = nd->n_inputs;
        ri.zip = nd->kind == RN_PN_ZIP;
        ri.where = where;
    }
    if (stream) {
        if ((rc = out->begin(out->ud, k)))
            goto done;
        /* a fold's result goes out as it is finished */
        opts.result_fn = out->value;
        opts.result_ud = out->ud;
    }
    rc = nd->n_inputs ? rn__local_run_inputs(nd->plan, &ri, &opts, &res, err)
                      : rn_local_run(nd->plan, &opts, &res, err);
    if (rc)
        goto done;
    tot->tasks += res.tasks;
    tot->bytes_read += res.bytes_read;
    hs[i].done = 1;
    if (stream) {
        /* collected when the last stage was no fold */
        for (size_t p = 0; p < res.n_parts && rc == 0; p++)
            for (size_t j = 0; j < res.parts[p]->n && rc == 0; j++)
                rc = out->value(out->ud, &res.parts[p]->items[j]);
        if (rc == 0)
            rc = out->end(out->ud, k,
                          res.n_parts ? res.n_parts
                                      : nd->plan->stages[nd->plan->n_stages - 1]
                                            .nparts);
        hs[i].uses_left = 0;
    } else {
        hs[i].parts = res.parts;
        hs[i].n = res.n_parts;
        res.parts = NULL;
        res.n_parts = 0;
    }
done:
    if (ins) {
        for (size_t q = 0; q < nd->n_inputs; q++) {
            for (size_t p = 0; ins[q].parts && p < ins[q].n_parts; p++)
                rn_partition_unref(ins[q].parts[p]);
            rn_free(ins[q].parts);
        }
        rn_free(ins);
    }
    rn_run_result_release(&res);
    return rc;
}

int rn_local_run_graph(rn_pgraph *g, const rn_run_opts *opts,
                       const rn_graph_out *out, rn_run_result *res,
                       rn_errbuf *err)
{
    held *hs = NULL;
    size_t next = 0; /* the output to print next */
    double t0 = now_s();
    int rc = 0;

    memset(res, 0, sizeof(*res));
    if ((rc = rn_pgraph_init_ops(g, err)))
        return rc;
    if (!(hs = rn_calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*hs))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->n_nodes; i++)
        hs[i].uses_left = g->nodes[i].n_uses;
    for (size_t i = 0; i < g->n_nodes && rc == 0; i++) {
        /* its one reader is the output due next: no need to hold it */
        int stream = g->nodes[i].n_uses == 1 && next < g->n_outputs &&
                     g->outputs[next].node == i;
        rc = run_node(g, i, hs, opts, out, stream, next, res, err);
        if (rc == 0 && stream)
            next++;
        /* the outputs whose results are all there, in their order */
        while (rc == 0 && next < g->n_outputs && hs[g->outputs[next].node].done) {
            rc = print_held(out, next, &hs[g->outputs[next].node]);
            next++;
        }
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        held_drop(&hs[i]);
    rn_free(hs);
    if (rc == 0 && next != g->n_outputs)
        rc = rn_error_set(err, RN_EINTERNAL, "%zu outputs were not printed",
                          g->n_outputs - next);
    res->seconds = now_s() - t0;
    return rc;
}
