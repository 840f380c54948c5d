#define _GNU_SOURCE
#include "exec/local.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/budget.h"
#include "exec/acc.h"
#include "exec/chain.h"
#include "exec/ctx.h"

int rn_cpu_count(void)
{
    cpu_set_t set;
    long n;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What a task of a graph pipeline's stage 0 reads besides a partition. */
typedef struct task_in {
    const rn_stage *stage;
    const rn_opinst *source; /* a source read by this task: split */
    const rn_value *split;
} task_in;

/* One stage being run. */
typedef struct stage_run {
    rn_plan *plan;
    const rn_stage *stage;
    int first;                 /* reads the source's splits */
    const rn_partition *splits;
    rn_partition **inputs;     /* previous stage's outputs (not first) */
    /* Stage 0 of a graph's pipeline (rn__local_run_inputs): what task i
     * reads (inputs[i], or a split of a source read here) and the stage
     * it runs (a join's tag in front for its input), or NULL: all read
     * inputs[i] and run `stage`; and the zipped inputs (n_tasks
     * partitions each) when it zips. */
    const task_in *tin;
    const rn_run_inputs *zip;
    size_t n_tasks;
    rn_partition **outputs;    /* per task (collect / sink) */
    rn_acc *accs;              /* per thread (commutative) or per task */
    int *acc_ready;
    int per_thread;
    atomic_size_t next;
    atomic_size_t done;
    atomic_int running;
    atomic_bool cancel;
    atomic_uint_fast64_t *bytes_read;
    pthread_mutex_t lock;
    rn_errbuf err;             /* first error */
    int rc;
} stage_run;

typedef struct thread_arg {
    stage_run *sr;
    size_t idx;
} thread_arg;

static void record_error(stage_run *sr, int rc, const rn_errbuf *e)
{
    pthread_mutex_lock(&sr->lock);
    /* the first real failure wins over the cancellations it caused */
    if (sr->rc == 0 || (sr->rc == RN_ECANCELED && rc != RN_ECANCELED)) {
        sr->rc = rc;
        sr->err = *e;
    }
    pthread_mutex_unlock(&sr->lock);
    atomic_store(&sr->cancel, true);
}

static int acc_prepare(stage_run *sr, size_t slot, rn_errbuf *err)
{
    rn_task_ctx ctx;
    int rc;
    if (sr->acc_ready[slot])
        return 0;
    rn_task_ctx_init(&ctx, NULL, NULL, err);
    ctx.label = sr->stage->terminal->label;
    rc = rn_acc_init(&sr->accs[slot], sr->stage->terminal, &ctx);
    rn_task_ctx_release(&ctx);
    if (rc) {
        rn_error_prefix(err, "%s: ", sr->stage->terminal->label);
        return rc;
    }
    sr->acc_ready[slot] = 1;
    return 0;
}

/* Pushes [x, y, ...] made of element j of partition p of every zipped
 * input through c (the inputs outlive the task). */
static int push_zipped(stage_run *sr, rn_chain *c, size_t p, rn_errbuf *err)
{
    const rn_run_inputs *z = sr->zip;
    size_t k = z->n, n = z->in[0].parts[p]->n;
    const rn_value **cols = NULL;
    int rc;

    for (size_t q = 1; q < k; q++)
        if (z->in[q].parts[p]->n != n)
            return rn_chain_zip_len_error(err, z->where, p, z->in[0].label, n,
                                          z->in[q].label,
                                          z->in[q].parts[p]->n);
    if (!(cols = rn_malloc(k * sizeof(*cols))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t q = 0; q < k; q++)
        cols[q] = z->in[q].parts[p]->items;
    rc = rn_chain_push_zip(c, cols, k, n);
    rn_free(cols);
    return rc;
}

static int run_task(stage_run *sr, size_t thread, size_t i, rn_errbuf *err)
{
    rn_chain *c = NULL;
    rn_acc *acc = NULL;
    rn_partition *out = NULL;
    const rn_stage *stage = sr->tin ? sr->tin[i].stage : sr->stage;
    int rc;

    if (sr->stage->terminal && sr->stage->terminal->op->kind != RN_OP_SINK) {
        size_t slot = sr->per_thread ? thread : i;
        if ((rc = acc_prepare(sr, slot, err)))
            return rc;
        acc = &sr->accs[slot];
    } else {
        if (!(out = rn_partition_new()))
            return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    rc = rn_chain_open(&c, stage, (uint32_t)i, acc, out, sr->bytes_read,
                       &sr->cancel, err);
    if (rc == 0) {
        if (sr->first)
            rc = rn_chain_run_source(c, sr->plan->source, &sr->splits->items[i]);
        else if (sr->tin && sr->tin[i].source)
            rc = rn_chain_run_source(c, sr->tin[i].source, sr->tin[i].split);
        else if (sr->zip)
            rc = push_zipped(sr, c, i, err);
        else
            rc = rn_chain_push(c, sr->inputs[i]->items, sr->inputs[i]->n);
        int rc2 = rn_chain_close(c, rc == 0);
        if (rc == 0)
            rc = rc2;
    }
    if (rc) {
        rn_partition_unref(out);
        return rc;
    }
    if (out)
        sr->outputs[i] = out;
    if (sr->zip) { /* the inputs are consumed: free them early */
        for (size_t q = 0; q < sr->zip->n; q++) {
            rn_partition_unref(sr->zip->in[q].parts[i]);
            sr->zip->in[q].parts[i] = NULL;
        }
    } else if (!sr->first) {
        rn_partition_unref(sr->inputs[i]);
        sr->inputs[i] = NULL;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    thread_arg *ta = arg;
    stage_run *sr = ta->sr;
    rn_errbuf err;
    size_t i;

    rn_budget_task_thread(1); /* held to the memory limit */
    while (!atomic_load(&sr->cancel) &&
           (i = atomic_fetch_add(&sr->next, 1)) < sr->n_tasks) {
        rn_error_clear(&err);
        int rc = run_task(sr, ta->idx, i, &err);
        if (rc) {
            rn_budget_explain(&err);
            record_error(sr, rc, &err);
        }
        atomic_fetch_add(&sr->done, 1);
    }
    atomic_fetch_sub(&sr->running, 1);
    return NULL;
}

static void human_bytes(char *out, size_t n, uint64_t b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void draw_progress(size_t done, size_t total, uint64_t bytes,
                          double elapsed, int stage, int n_stages)
{
    char hb[32];
    int width = 28, fill = total ? (int)((double)done / (double)total * width) : 0;
    char bar[64];
    for (int k = 0; k < width; k++)
        bar[k] = k < fill ? '#' : '-';
    bar[width] = '\0';
    human_bytes(hb, sizeof(hb), bytes);
    fprintf(stderr, "\r\033[K[%s] stage %d/%d  %zu/%zu tasks  %s read  %.1fs",
            bar, stage + 1, n_stages, done, total, hb, elapsed);
    fflush(stderr);
}

/* Where a fold's finished values go when they are not collected whole:
 * the caller's result function; the chains of the stage after it (one
 * task per partition of the fold's output, run one after the other as
 * the fold finishes in hash order); or the fold's own output partitions
 * (a keyed stage cut into nparts). */
typedef struct result_sink {
    rn_emit_fn emit;
    rn_run_value_fn fn;
    void *ud;
    /* emit_to_chain: the next stage and its task `cur` being fed */
    stage_run *next;
    rn_chain *chain;
    rn_partition *out;
    uint32_t cur, nparts;
    int open;
    /* emit_to_parts */
    rn_partition **parts;
} result_sink;

static int emit_to_fn(rn_task_ctx *ctx, const rn_value *v)
{
    const result_sink *s = ctx->target;
    int rc = s->fn(s->ud, v);
    return rc ? rn_error_set(ctx->err, rc, "cannot write the result: %s",
                             rn_err_name(rc))
              : 0;
}

static int emit_to_parts(rn_task_ctx *ctx, const rn_value *v)
{
    const result_sink *s = ctx->target;
    uint32_t b = s->nparts > 1 ? rn_acc_bucket(ctx->key_hash, s->nparts) : 0;
    int rc = rn_partition_push(s->parts[b], v);
    return rc ? rn_error_set(ctx->err, rc, "out of memory") : 0;
}

static int acc_prepare(stage_run *sr, size_t slot, rn_errbuf *err);

/* Opens the chain of the next stage's task s->cur. */
static int next_task_open(result_sink *s, rn_errbuf *err)
{
    stage_run *next = s->next;
    rn_acc *acc = NULL;
    int rc;
    s->out = NULL;
    if (next->accs) {
        size_t slot = next->per_thread ? 0 : s->cur;
        if ((rc = acc_prepare(next, slot, err)))
            return rc;
        acc = &next->accs[slot];
    } else if (!(s->out = rn_partition_new())) {
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    if ((rc = rn_chain_open(&s->chain, next->stage, s->cur, acc, s->out,
                            next->bytes_read, &next->cancel, err))) {
        rn_partition_unref(s->out);
        s->out = NULL;
        return rc;
    }
    s->open = 1;
    return 0;
}

/* Closes the open chain (committing when ok); its output is kept. */
static int next_task_close(result_sink *s, int ok, rn_errbuf *err)
{
    int rc;
    if (!s->open)
        return 0;
    s->open = 0;
    rc = rn_chain_close(s->chain, ok);
    s->chain = NULL;
    if (rc || !ok) {
        rn_partition_unref(s->out);
        s->out = NULL;
        return rc;
    }
    s->next->outputs[s->cur] = s->out;
    s->out = NULL;
    atomic_fetch_add(&s->next->done, 1);
    return 0;
}

/* Moves the feed to task b, closing and opening those in between (an
 * empty partition still runs its task: a sink writes its file). */
static int next_task_seek(result_sink *s, uint32_t b, rn_errbuf *err)
{
    int rc;
    while (s->cur < b) {
        if ((rc = next_task_close(s, 1, err)))
            return rc;
        s->cur++;
        if ((rc = next_task_open(s, err)))
            return rc;
    }
    return 0;
}

/* The chain takes the value through to its terminal before returning
 * (chain.c: deliver), so a view of the fold's memory is enough. */
static int emit_to_chain(rn_task_ctx *ctx, const rn_value *v)
{
    result_sink *s = ctx->target;
    int rc;
    if (s->nparts > 1 &&
        (rc = next_task_seek(s, rn_acc_bucket(ctx->key_hash, s->nparts),
                             ctx->err)))
        return rc;
    return rn_chain_push(s->chain, v, 1);
}

/* Folds the stage's accumulators (in task order when order matters) and
 * finishes into one partition, or into sink when given. */
static int fold_finish(stage_run *sr, size_t n_slots, const result_sink *sink,
                       rn_partition **result, rn_errbuf *err)
{
    const rn_opinst *toi = sr->stage->terminal;
    rn_arena scratch;
    rn_task_ctx ctx;
    rn_acc *root = NULL;
    rn_partition *out = NULL;
    int rc = 0;

    rn_arena_init(&scratch, 64 * 1024);
    rn_task_ctx_init(&ctx, &scratch, &scratch, err);
    ctx.label = toi->label;
    /* Combine as a tree with fan-in split_every, keeping partition order
     * (an order-sensitive fold such as take needs it): each round merges
     * runs of `fan` neighbours into the first of the run. */
    {
        size_t fan = sr->plan->split_every >= 2 ? (size_t)sr->plan->split_every : 8;
        size_t stride = 1;
        while (stride < n_slots) {
            for (size_t g = 0; g < n_slots; g += stride * fan) {
                size_t first = n_slots;
                for (size_t k = g; k < g + stride * fan && k < n_slots; k += stride) {
                    if (!sr->acc_ready[k])
                        continue;
                    if (first == n_slots) {
                        first = k;
                        continue;
                    }
                    /* absorb frees accs[k] as it merges (even on error),
                     * so two big tables do not coexist at full size */
                    rc = rn_acc_absorb(&sr->accs[first], &ctx, &sr->accs[k]);
                    sr->acc_ready[k] = 0;
                    if (rc)
                        goto done;
                }
                /* the run's result moves to its head slot */
                if (first != n_slots && first != g) {
                    sr->accs[g] = sr->accs[first];
                    sr->acc_ready[g] = 1;
                    sr->acc_ready[first] = 0;
                    memset(&sr->accs[first], 0, sizeof(rn_acc));
                }
            }
            stride *= fan;
        }
        if (n_slots && sr->acc_ready[0])
            root = &sr->accs[0];
    }
    if (!root) { /* no input at all: the fold of nothing */
        if ((rc = acc_prepare(sr, 0, err)))
            goto done;
        root = &sr->accs[0];
    }
    if (!(out = rn_partition_new())) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    /* finish emits the result: collected, or handed on as it comes */
    ctx.emit = sink ? sink->emit : rn__emit_to_partition;
    ctx.target = sink ? (void *)sink : (void *)out;
    rc = rn_acc_finish(root, &ctx);
done:
    if (rc && !strstr(err->msg, toi->label))
        rn_error_prefix(err, "%s (combine): ", toi->label);
    rn_task_ctx_release(&ctx);
    rn_arena_release(&scratch);
    if (rc || sink) {
        rn_partition_unref(out);
        return rc;
    }
    *result = out;
    return 0;
}

/* Sets up sr for stage s with n_tasks tasks on n_threads threads (its
 * accumulators or output slots); *n_slots gets the accumulators. */
static int stage_init(stage_run *sr, rn_plan *plan, size_t s, size_t n_tasks,
                      size_t n_threads, size_t *n_slots, rn_errbuf *err)
{
    const rn_stage *stage = &plan->stages[s];
    int is_fold = stage->terminal && stage->terminal->op->kind != RN_OP_SINK;
    memset(sr, 0, sizeof(*sr));
    sr->plan = plan;
    sr->stage = stage;
    sr->first = s == 0 && plan->source;
    sr->n_tasks = n_tasks;
    pthread_mutex_init(&sr->lock, NULL);
    atomic_init(&sr->running, 0);
    *n_slots = 0;
    sr->outputs = rn_calloc(n_tasks ? n_tasks : 1, sizeof(rn_partition *));
    if (is_fold) {
        sr->per_thread = (stage->terminal->op->flags & RN_OPF_COMMUTATIVE) != 0;
        *n_slots = sr->per_thread ? n_threads : (n_tasks ? n_tasks : 1);
        sr->accs = rn_calloc(*n_slots, sizeof(rn_acc));
        sr->acc_ready = rn_calloc(*n_slots, sizeof(int));
    }
    if (!sr->outputs || (is_fold && (!sr->accs || !sr->acc_ready)))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    return 0;
}

static void stage_release(stage_run *sr, size_t n_slots)
{
    if (sr->outputs) {
        for (size_t i = 0; i < sr->n_tasks; i++)
            rn_partition_unref(sr->outputs[i]);
        rn_free(sr->outputs);
    }
    if (sr->accs) {
        for (size_t k = 0; k < n_slots; k++)
            if (sr->acc_ready[k])
                rn_acc_release(&sr->accs[k]);
        rn_free(sr->accs);
    }
    rn_free(sr->acc_ready);
    pthread_mutex_destroy(&sr->lock);
    memset(sr, 0, sizeof(*sr));
}

/* Runs sr's tasks on n_threads threads. */
static int stage_run_tasks(stage_run *sr, size_t n_threads, int progress,
                           double t0, size_t s, rn_errbuf *err)
{
    pthread_t *tids = rn_calloc(n_threads, sizeof(pthread_t));
    thread_arg *args = rn_calloc(n_threads, sizeof(thread_arg));
    size_t started = 0;
    int rc = 0;
    if (!tids || !args) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < n_threads; t++) {
        args[t].sr = sr;
        args[t].idx = t;
        atomic_fetch_add(&sr->running, 1);
        if (pthread_create(&tids[t], NULL, worker_main, &args[t])) {
            atomic_fetch_sub(&sr->running, 1);
            break;
        }
        started++;
    }
    if (started == 0) {
        rc = rn_error_set(err, RN_ENOMEM, "cannot start threads");
        goto done;
    }
    while (atomic_load(&sr->running) > 0) {
        if (progress)
            draw_progress(atomic_load(&sr->done), sr->n_tasks,
                          atomic_load(sr->bytes_read), now_s() - t0, (int)s,
                          (int)sr->plan->n_stages);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    if (progress)
        draw_progress(atomic_load(&sr->done), sr->n_tasks,
                      atomic_load(sr->bytes_read), now_s() - t0, (int)s,
                      (int)sr->plan->n_stages);
    if (sr->rc) {
        rc = sr->rc;
        *err = sr->err;
    }
done:
    rn_free(tids);
    rn_free(args);
    return rc;
}

/* Stage s ended in a fold; stage s+1 has one task per partition of
 * that fold's result (its nparts): the fold finishes straight into
 * their chains, one after the other in partition order, so the result
 * is never held whole (it may be larger than the memory limit). next
 * becomes stage s+1, its tasks done. */
static int finish_into_next(stage_run *sr, size_t n_slots, stage_run *next,
                            size_t *next_slots, size_t s, rn_errbuf *err)
{
    uint32_t nparts = sr->stage->nparts > 1 ? sr->stage->nparts : 1;
    result_sink sink;
    int rc;
    if ((rc = stage_init(next, sr->plan, s + 1, nparts, 1, next_slots, err)))
        return rc;
    next->bytes_read = sr->bytes_read;
    memset(&sink, 0, sizeof(sink));
    sink.emit = emit_to_chain;
    sink.next = next;
    sink.nparts = nparts;
    if ((rc = next_task_open(&sink, err)))
        return rc;
    rc = fold_finish(sr, n_slots, &sink, NULL, err);
    if (rc == 0)
        rc = next_task_seek(&sink, nparts - 1, err);
    {
        int rc2 = next_task_close(&sink, rc == 0, err);
        if (rc == 0)
            rc = rc2;
    }
    return rc;
}

/* The last stage's keyed result collected as its nparts partitions. */
static int finish_into_parts(stage_run *sr, size_t n_slots,
                             rn_partition ***parts, size_t *n_parts,
                             rn_errbuf *err)
{
    uint32_t n = sr->stage->nparts;
    result_sink sink;
    int rc;
    memset(&sink, 0, sizeof(sink));
    if (!(sink.parts = rn_calloc(n, sizeof(*sink.parts))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (uint32_t b = 0; b < n; b++)
        if (!(sink.parts[b] = rn_partition_new())) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
    sink.emit = emit_to_parts;
    sink.nparts = n;
    rc = fold_finish(sr, n_slots, &sink, NULL, err);
done:
    if (rc) {
        for (uint32_t b = 0; b < n; b++)
            rn_partition_unref(sink.parts[b]);
        rn_free(sink.parts);
        return rc;
    }
    *parts = sink.parts;
    *n_parts = n;
    return 0;
}

/* Stage 0's inputs (rn__local_run_inputs) as the stage reads them:
 * every input in order, each a task per partition (the refs move to
 * *flat: the caller's slots are NULL afterwards) or per split of its
 * source (planned here into splits[q]), with the stage it runs; or,
 * zipping, the partition count they share. */
static int inputs_flatten(const rn_run_inputs *ri, rn_partition **splits,
                          rn_partition ***flat, task_in **tin,
                          size_t *n_tasks, rn_errbuf *err)
{
    size_t n = 0, t = 0;
    int rc;
    *flat = NULL;
    *tin = NULL;
    if (ri->zip) {
        for (size_t q = 1; q < ri->n; q++)
            if (ri->in[q].n_parts != ri->in[0].n_parts)
                return rn_chain_zip_parts_error(err, ri->where,
                                                ri->in[0].label,
                                                ri->in[0].n_parts,
                                                ri->in[q].label,
                                                ri->in[q].n_parts);
        *n_tasks = ri->n ? ri->in[0].n_parts : 0;
        return 0;
    }
    for (size_t q = 0; q < ri->n; q++) {
        if (ri->in[q].source) {
            if (!(splits[q] = rn_partition_new()))
                return rn_error_set(err, RN_ENOMEM, "out of memory");
            if ((rc = rn_source_plan(ri->in[q].source, splits[q], err)))
                return rc;
            n += splits[q]->n;
        } else {
            n += ri->in[q].n_parts;
        }
    }
    *flat = rn_calloc(n ? n : 1, sizeof(**flat));
    *tin = rn_calloc(n ? n : 1, sizeof(**tin));
    if (!*flat || !*tin) {
        rn_free(*flat);
        rn_free(*tin);
        *flat = NULL;
        *tin = NULL;
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    for (size_t q = 0; q < ri->n; q++) {
        if (ri->in[q].source) {
            for (size_t i = 0; i < splits[q]->n; i++) {
                (*tin)[t].source = ri->in[q].source;
                (*tin)[t].split = &splits[q]->items[i];
                (*tin)[t++].stage = ri->in[q].first;
            }
            continue;
        }
        for (size_t i = 0; i < ri->in[q].n_parts; i++) {
            (*flat)[t] = ri->in[q].parts[i];
            ri->in[q].parts[i] = NULL;
            (*tin)[t++].stage = ri->in[q].first;
        }
    }
    *n_tasks = n;
    return 0;
}

static int run_pipeline(rn_plan *plan, const rn_run_inputs *ri,
                        const rn_run_opts *opts, rn_run_result *res,
                        rn_errbuf *err)
{
    rn_partition *splits = NULL;
    rn_partition **prev = NULL;
    rn_partition **in_splits = NULL; /* per input read from its source */
    task_in *tin = NULL;
    size_t n_prev = 0;
    atomic_uint_fast64_t bytes_read;
    int threads = opts && opts->threads > 0 ? opts->threads : rn_cpu_count();
    int progress = opts && opts->progress;
    double t0 = now_s();
    uint64_t tasks_run = 0;
    /* the stage being run, and the one a fold finishes into (then run
     * already: carried); they swap places */
    stage_run runs[2], *cur = &runs[0], *nxt = &runs[1];
    size_t n_slots = 0, next_slots = 0;
    int carried = 0;
    int rc = 0;

    memset(res, 0, sizeof(*res));
    memset(runs, 0, sizeof(runs));
    atomic_init(&bytes_read, 0);
    if ((rc = rn_plan_init_ops(plan, err)))
        return rc;
    if (!(splits = rn_partition_new()))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    if (ri) {
        if (ri->n && !(in_splits = rn_calloc(ri->n, sizeof(*in_splits)))) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
        if ((rc = inputs_flatten(ri, in_splits, &prev, &tin, &n_prev, err)))
            goto done;
    } else if ((rc = rn_source_plan(plan->source, splits, err))) {
        goto done;
    }

    for (size_t s = 0; s < plan->n_stages; s++) {
        const rn_stage *stage = &plan->stages[s];
        int is_fold = stage->terminal && stage->terminal->op->kind != RN_OP_SINK;

        if (carried) {
            /* its tasks ran while the stage before finished */
            stage_run *t = cur;
            cur = nxt;
            nxt = t;
            n_slots = next_slots;
            next_slots = 0;
            carried = 0;
            tasks_run += atomic_load(&cur->done);
        } else {
            size_t n_tasks = s == 0 && !ri ? splits->n : n_prev;
            size_t n_threads = (size_t)threads < n_tasks ? (size_t)threads : n_tasks;
            if (n_threads == 0)
                n_threads = 1;
            if ((rc = stage_init(cur, plan, s, n_tasks, n_threads, &n_slots, err)))
                goto stage_done;
            cur->splits = splits;
            cur->inputs = prev;
            if (s == 0 && ri) {
                cur->tin = tin;
                cur->zip = ri->zip ? ri : NULL;
            }
            cur->bytes_read = &bytes_read;
            if (n_tasks && (rc = stage_run_tasks(cur, n_threads, progress, t0, s, err)))
                goto stage_done;
            tasks_run += atomic_load(&cur->done);
        }
        /* this stage's output becomes the next one's input */
        for (size_t i = 0; i < n_prev; i++)
            rn_partition_unref(prev ? prev[i] : NULL);
        rn_free(prev);
        prev = NULL;
        n_prev = 0;
        if (is_fold) {
            rn_partition *one = NULL;
            result_sink sink;
            int last = s + 1 == plan->n_stages;
            memset(&sink, 0, sizeof(sink));
            sink.emit = emit_to_fn;
            sink.fn = opts ? opts->result_fn : NULL;
            sink.ud = opts ? opts->result_ud : NULL;
            /* merging the partials is task work: held to the limit too */
            rn_budget_task_thread(1);
            if (!last) {
                rc = finish_into_next(cur, n_slots, nxt, &next_slots, s, err);
                carried = rc == 0;
            } else if (!sink.fn && stage->nparts > 1) {
                rc = finish_into_parts(cur, n_slots, &prev, &n_prev, err);
            } else {
                rc = fold_finish(cur, n_slots, sink.fn ? &sink : NULL, &one, err);
            }
            rn_budget_task_thread(0);
            if (rc) {
                rn_budget_explain(err);
                goto stage_done;
            }
            if (last && one) { /* collected (else handed to result_fn) */
                prev = rn_calloc(1, sizeof(*prev));
                if (!prev) {
                    rn_partition_unref(one);
                    rc = rn_error_set(err, RN_ENOMEM, "out of memory");
                    goto stage_done;
                }
                prev[0] = one;
                n_prev = 1;
            }
        } else {
            prev = cur->outputs;
            n_prev = cur->n_tasks;
            cur->outputs = NULL;
        }
    stage_done:
        stage_release(cur, n_slots);
        if (rc)
            goto done;
    }
done:
    if (nxt->outputs)
        stage_release(nxt, next_slots);
    if (progress)
        fprintf(stderr, "\r\033[K");
    rn_partition_unref(splits);
    rn_free(tin);
    for (size_t q = 0; in_splits && q < ri->n; q++)
        rn_partition_unref(in_splits[q]);
    rn_free(in_splits);
    if (ri && ri->zip) /* what a failed zip did not read */
        for (size_t q = 0; q < ri->n; q++)
            for (size_t i = 0; i < ri->in[q].n_parts; i++) {
                rn_partition_unref(ri->in[q].parts[i]);
                ri->in[q].parts[i] = NULL;
            }
    if (rc) {
        for (size_t i = 0; prev && i < n_prev; i++)
            rn_partition_unref(prev[i]);
        rn_free(prev);
        return rc;
    }
    res->parts = prev;
    res->n_parts = n_prev;
    res->bytes_read = atomic_load(&bytes_read);
    res->tasks = tasks_run;
    res->seconds = now_s() - t0;
    return 0;
}

int rn_local_run(rn_plan *plan, const rn_run_opts *opts, rn_run_result *res,
                 rn_errbuf *err)
{
    return run_pipeline(plan, NULL, opts, res, err);
}

int rn__local_run_inputs(rn_plan *plan, const rn_run_inputs *in,
                         const rn_run_opts *opts, rn_run_result *res,
                         rn_errbuf *err)
{
    return run_pipeline(plan, in, opts, res, err);
}

void rn_run_result_release(rn_run_result *res)
{
    for (size_t i = 0; i < res->n_parts; i++)
        rn_partition_unref(res->parts[i]);
    rn_free(res->parts);
    memset(res, 0, sizeof(*res));
}
