/* A manifest's datasets -> a graph of pipelines (plan/graph.h). */
#define _GNU_SOURCE
#include "plan/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/similar.h"
#include "exec/join.h"

#define ERRPOS(err, code, pos, ...) rn_mpos_error((err), (code), (pos), __VA_ARGS__)
#define NONE UINT32_MAX
/* A node's name past this is cut (a long chain of fused datasets). */
#define NAME_MAX_SHOWN 200

/* ---- building state --------------------------------------------------- */

typedef struct spec_in {
    uint32_t spec;     /* the spec read (resolve through rep) */
    int side;
    const char *label; /* the dataset's name as written here */
} spec_in;

/* A node before it is planned: what it reads and the steps it runs. */
typedef struct spec {
    int kind;                 /* rn_pn_kind */
    const rn_mstep *source;
    spec_in *in;
    size_t n_in;
    rn__pstep *steps;
    size_t n_steps, cap_steps;
    const rn_mstep *sink;
    const char *sink_label;   /* an output's sink: the operator's name */
    const char *name;
    rn_mpos pos;
    uint32_t uses;
    uint32_t rep;             /* itself, or the spec it was fused into */
    uint32_t node;            /* its index in g->nodes once planned */
    rn_plan *plan;            /* once planned (then owned by g->plans) */
    int unused;               /* of a dataset no output reads: planned
                                 to be checked, then dropped */
} spec;

/* A reference from one dataset to another. */
typedef struct dep {
    uint32_t ds;
    rn_mpos pos;
    const rn_mnode *node;
} dep;

typedef struct dsinfo {
    dep *deps;      /* inputs (from/concat/zip), then joins' `with` */
    size_t n_deps, n_inputs;
    int color;      /* cycle search: 0 new, 1 on the path, 2 done */
    int planned;    /* its specs are made */
    uint32_t last;  /* the spec holding its result */
} dsinfo;

typedef struct builder {
    const rn_manifest *m;
    rn_registry *reg;
    rn_pgraph *g;
    rn_errbuf *err;
    uint32_t *sorted; /* dataset indexes sorted by name */
    dsinfo *ds;
    spec *specs;
    size_t n_specs, cap_specs;
    size_t n_joins;
    int unused; /* planning datasets no output reads */
} builder;

static int nomem(builder *b)
{
    return rn_error_set(b->err, RN_ENOMEM, "out of memory");
}

/* A name as messages show it (never a substituted value). */
static const char *shown(const rn_mref *r, char *buf, size_t cap)
{
    size_t n;
    const char *s = rn_mnode_display(r->node, &n);
    return rn__excerpt(buf, cap, s, n);
}

/* ---- names ------------------------------------------------------------ */

static const rn_manifest *sort_m; /* qsort has no user pointer */

static int name_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    int c = strcmp(sort_m->datasets[a].name.name, sort_m->datasets[b].name.name);
    return c ? c : (a < b ? -1 : a > b);
}

static uint32_t lookup(const builder *b, const char *name)
{
    size_t lo = 0, hi = b->m->n_datasets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->m->datasets[b->sorted[mid]].name.name, name);
        if (c == 0)
            return b->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NONE;
}

/* "unknown dataset 'lgos' (did you mean 'logs'?)" at the reference. */
static int unknown(builder *b, const char *what, const rn_mref *r)
{
    const rn_manifest *m = b->m;
    size_t best = SIZE_MAX, at = 0, len = strlen(r->name);
    char ex[64], ex2[64], known[160];
    size_t o = 0;

    for (size_t i = 0; i < m->n_datasets; i++) {
        size_t d = rn_edit_distance(r->name, strlen(r->name),
                                    m->datasets[i].name.name,
                                    strlen(m->datasets[i].name.name));
        if (d < best) {
            best = d;
            at = i;
        }
    }
    shown(r, ex, sizeof(ex));
    /* close enough to be a typo: one or two edits (more in a long name),
     * and not every letter */
    if (rn_similar_enough(best, len))
        return ERRPOS(b->err, RN_EINVAL, r->pos,
                      "%sunknown dataset '%s' (did you mean '%s'?)", what, ex,
                      shown(&m->datasets[at].name, ex2, sizeof(ex2)));
    /* else the names there are, as many as fit */
    known[0] = '\0';
    for (size_t i = 0; i < m->n_datasets && o < sizeof(known) - 70; i++) {
        int k = snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "",
                         shown(&m->datasets[i].name, ex2, sizeof(ex2)));
        if (k > 0)
            o += (size_t)k;
        if (i + 1 < m->n_datasets && o >= sizeof(known) - 70) {
            snprintf(known + o, sizeof(known) - o, ", ...");
            break;
        }
    }
    return ERRPOS(b->err, RN_EINVAL, r->pos,
                  "%sunknown dataset '%s' (the datasets are %s)", what, ex,
                  known);
}

/* The value of key `k` in a step's parameters, or NULL. */
static const rn_mnode *param(const rn_mstep *st, const char *k)
{
    if (!st->params || st->params->type != RN_MN_MAP)
        return NULL;
    for (size_t i = 0; i < st->params->n; i++)
        if (strlen(k) == st->params->keys[i]->len &&
            memcmp(st->params->keys[i]->text, k, st->params->keys[i]->len) == 0)
            return st->params->items[i];
    return NULL;
}

static int is_join(const rn_mstep *st)
{
    return strcmp(st->op, "join") == 0;
}

/* Names -> dataset indexes: every dataset's inputs and joins. */
static int resolve_refs(builder *b)
{
    const rn_manifest *m = b->m;
    char ex[64], d[96];

    b->sorted = rn_malloc(m->n_datasets * sizeof(*b->sorted));
    b->ds = rn_calloc(m->n_datasets, sizeof(*b->ds));
    if (!b->sorted || !b->ds)
        return nomem(b);
    for (size_t i = 0; i < m->n_datasets; i++)
        b->sorted[i] = (uint32_t)i;
    sort_m = m;
    qsort(b->sorted, m->n_datasets, sizeof(*b->sorted), name_cmp);
    for (size_t i = 1; i < m->n_datasets; i++) {
        const rn_mdataset *x = &m->datasets[b->sorted[i - 1]],
                          *y = &m->datasets[b->sorted[i]];
        if (strcmp(x->name.name, y->name.name) == 0)
            return ERRPOS(b->err, RN_EINVAL, y->name.pos,
                          "dataset '%s' is defined twice (first at %u:%u)",
                          shown(&y->name, ex, sizeof(ex)),
                          (unsigned)x->name.pos.line,
                          (unsigned)x->name.pos.col);
    }
    for (size_t i = 0; i < m->n_datasets; i++) {
        const rn_mdataset *ds = &m->datasets[i];
        dsinfo *di = &b->ds[i];
        size_t n = ds->n_inputs;
        for (size_t s = 0; s < ds->n_steps; s++)
            n += is_join(&ds->steps[s]);
        if (n && !(di->deps = rn_calloc(n, sizeof(*di->deps))))
            return nomem(b);
        for (size_t k = 0; k < ds->n_inputs; k++) {
            const rn_mref *r = &ds->inputs[k];
            uint32_t t = lookup(b, r->name);
            if (t == NONE)
                return unknown(b, "", r);
            di->deps[di->n_deps++] = (dep){t, r->pos, r->node};
        }
        di->n_inputs = di->n_deps;
        for (size_t s = 0; s < ds->n_steps; s++) {
            const rn_mstep *st = &ds->steps[s];
            const rn_mnode *w;
            rn_mref r;
            uint32_t t;
            if (!is_join(st))
                continue;
            if (!(w = param(st, "with")))
                return ERRPOS(b->err, RN_EINVAL, st->pos,
                              "join: missing required parameter 'with' (the "
                              "dataset to join with)");
            if (w->type != RN_MN_SCALAR || rn_mnode_is_null(w))
                return ERRPOS(b->err, RN_EINVAL, w->pos,
                              "join: with: expected a dataset name, got %s",
                              rn__mnode_describe(d, sizeof(d), w));
            r.name = w->text;
            r.pos = w->pos;
            r.node = w;
            if ((t = lookup(b, r.name)) == NONE)
                return unknown(b, "join: with: ", &r);
            di->deps[di->n_deps++] = (dep){t, r.pos, r.node};
        }
    }
    for (size_t o = 0; o < m->n_outputs; o++)
        if (lookup(b, m->outputs[o].dataset.name) == NONE)
            return unknown(b, "outputs: ", &m->outputs[o].dataset);
    return 0;
}

/* ---- cycles ----------------------------------------------------------- */

typedef struct frame {
    uint32_t ds;
    size_t next; /* the next dep to follow */
} frame;

/* The cycle closed by edge e of the dataset on top of the stack: the
 * path from e's target to the top, then the target again. */
static int cycle_error(builder *b, const frame *stack, size_t depth,
                       const dep *e)
{
    const rn_manifest *m = b->m;
    rn_buf path;
    char ex[64];
    size_t from = depth;
    int rc;

    while (from > 0 && stack[from - 1].ds != e->ds)
        from--;
    rn_buf_init(&path, 600);
    for (size_t i = from ? from - 1 : 0; i < depth; i++)
        rn_buf_printf(&path, "%s -> ",
                      shown(&m->datasets[stack[i].ds].name, ex, sizeof(ex)));
    rn_buf_printf(&path, "%s",
                  shown(&m->datasets[e->ds].name, ex, sizeof(ex)));
    rc = ERRPOS(b->err, RN_EINVAL, e->pos,
                "datasets read each other in a cycle: %s (each reads the "
                "next)",
                path.ptr ? path.ptr : "?");
    rn_buf_release(&path);
    return rc;
}

static int find_cycles(builder *b)
{
    size_t n = b->m->n_datasets;
    frame *stack = rn_malloc(n * sizeof(*stack));
    int rc = 0;

    if (!stack)
        return nomem(b);
    for (size_t root = 0; root < n && rc == 0; root++) {
        size_t depth = 0;
        if (b->ds[root].color)
            continue;
        stack[depth++] = (frame){(uint32_t)root, 0};
        b->ds[root].color = 1;
        while (depth && rc == 0) {
            frame *f = &stack[depth - 1];
            dsinfo *di = &b->ds[f->ds];
            if (f->next == di->n_deps) {
                di->color = 2;
                depth--;
                continue;
            }
            const dep *e = &di->deps[f->next++];
            if (b->ds[e->ds].color == 1) {
                rc = cycle_error(b, stack, depth, e);
            } else if (b->ds[e->ds].color == 0) {
                b->ds[e->ds].color = 1;
                stack[depth++] = (frame){e->ds, 0};
            }
        }
    }
    rn_free(stack);
    return rc;
}

/* ---- specs ------------------------------------------------------------ */

static int spec_new(builder *b, int kind, const char *name, rn_mpos pos,
                    size_t n_in, uint32_t *out)
{
    spec *s;
    if (b->n_specs == b->cap_specs) {
        size_t nc = b->cap_specs ? b->cap_specs * 2 : 16;
        spec *ns = rn_realloc(b->specs, nc * sizeof(*ns));
        if (!ns)
            return nomem(b);
        b->specs = ns;
        b->cap_specs = nc;
    }
    s = &b->specs[b->n_specs];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->name = name;
    s->pos = pos;
    s->rep = (uint32_t)b->n_specs;
    s->unused = b->unused;
    if (n_in && !(s->in = rn_arena_alloc(&b->g->arena, n_in * sizeof(*s->in))))
        return nomem(b);
    *out = (uint32_t)b->n_specs++;
    return 0;
}

static int spec_add_step(builder *b, uint32_t si, const rn_mstep *st,
                         const rn_op_desc *engine_op, int starts)
{
    spec *s = &b->specs[si];
    if (s->n_steps == s->cap_steps) {
        size_t nc = s->cap_steps ? s->cap_steps * 2 : 8;
        rn__pstep *ns = rn_realloc(s->steps, nc * sizeof(*ns));
        if (!ns)
            return nomem(b);
        s->steps = ns;
        s->cap_steps = nc;
    }
    s->steps[s->n_steps].step = st;
    s->steps[s->n_steps].engine_op = engine_op;
    s->steps[s->n_steps].starts_dataset = starts;
    s->n_steps++;
    return 0;
}

static uint32_t rep(const builder *b, uint32_t s)
{
    while (b->specs[s].rep != s)
        s = b->specs[s].rep;
    return s;
}

static void spec_read(builder *b, uint32_t si, uint32_t from, int side,
                      const char *label)
{
    spec *s = &b->specs[si];
    s->in[s->n_in++] = (spec_in){from, side, label};
    if (!s->unused) /* a dataset never run reads nothing */
        b->specs[from].uses++;
}

static const char *arena_printf(builder *b, const char *fmt, ...)
    RN_FMT(2, 3);
static const char *arena_printf(builder *b, const char *fmt, ...)
{
    char tmp[NAME_MAX_SHOWN + 8];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n >= sizeof(tmp))
        memcpy(tmp + sizeof(tmp) - 4, "...", 4);
    return rn_arena_strndup(&b->g->arena, tmp, strlen(tmp));
}

/* The specs of dataset d, after those of every dataset it reads
 * (depth-first: the order to run in). */
static int plan_dataset(builder *b, uint32_t d)
{
    const rn_mdataset *ds = &b->m->datasets[d];
    dsinfo *di = &b->ds[d];
    char ex[64], ex2[64];
    const char *name;
    uint32_t cur;
    size_t dep_i;
    int rc, starts = 1;

    if (di->planned)
        return 0;
    di->planned = 1;
    for (size_t k = 0; k < di->n_deps; k++)
        if ((rc = plan_dataset(b, di->deps[k].ds)))
            return rc;
    shown(&ds->name, ex, sizeof(ex));
    if (!(name = arena_printf(b, "%s", ex)))
        return nomem(b);
    if ((rc = spec_new(b,
                       ds->kind == RN_MDS_SOURCE ? RN_PN_SOURCE
                       : ds->kind == RN_MDS_ZIP  ? RN_PN_ZIP
                                                 : RN_PN_PARTS,
                       name, ds->kind == RN_MDS_ZIP ? ds->kind_pos : ds->name.pos,
                       di->n_inputs, &cur)))
        return rc;
    if (ds->kind == RN_MDS_SOURCE)
        b->specs[cur].source = &ds->source;
    for (size_t k = 0; k < di->n_inputs; k++) {
        const char *label =
            arena_printf(b, "%s", shown(&ds->inputs[k], ex2, sizeof(ex2)));
        if (!label)
            return nomem(b);
        spec_read(b, cur, b->ds[di->deps[k].ds].last, -1, label);
    }
    dep_i = di->n_inputs;
    for (size_t s = 0; s < ds->n_steps; s++) {
        const rn_mstep *st = &ds->steps[s];
        if (is_join(st)) {
            /* a node of its own: the part before (left) and `with` */
            uint32_t j, right = b->ds[di->deps[dep_i].ds].last;
            const rn_mdataset *w = &b->m->datasets[di->deps[dep_i].ds];
            dep_i++;
            b->n_joins++;
            if (!(name = arena_printf(b, "%s (join %zu, with %s)", ex,
                                      b->n_joins,
                                      shown(&w->name, ex2, sizeof(ex2)))) ||
                (rc = spec_new(b, RN_PN_PARTS, name, st->pos, 2, &j)))
                return rc ? rc : nomem(b);
            spec_read(b, j, cur, 0, b->specs[cur].name);
            if (!(name = arena_printf(b, "%s", ex2)))
                return nomem(b);
            spec_read(b, j, right, 1, name);
            cur = j;
            if ((rc = spec_add_step(b, cur, st, &rn_join_op, 1)))
                return rc;
            starts = 0;
            continue;
        }
        if ((rc = spec_add_step(b, cur, st, NULL, starts)))
            return rc;
        starts = 0;
    }
    di->last = cur;
    return 0;
}

/* Outputs: a printed one reads its dataset's last spec; one with a sink
 * is a spec of its own. Depth-first from the outputs in order. */
static int plan_outputs(builder *b)
{
    const rn_manifest *m = b->m;
    rn_pgraph *g = b->g;
    char ex[64];
    int rc;

    g->outputs = rn_arena_alloc(&g->arena, m->n_outputs * sizeof(*g->outputs));
    if (!g->outputs)
        return nomem(b);
    memset(g->outputs, 0, m->n_outputs * sizeof(*g->outputs));
    g->n_outputs = m->n_outputs;
    for (size_t o = 0; o < m->n_outputs; o++) {
        const rn_moutput *mo = &m->outputs[o];
        rn_poutput *po = &g->outputs[o];
        uint32_t d = lookup(b, mo->dataset.name), s;
        if ((rc = plan_dataset(b, d)))
            return rc;
        shown(&mo->dataset, ex, sizeof(ex));
        po->pos = mo->pos;
        po->has_sink = mo->has_sink;
        if (!mo->has_sink) {
            po->label = arena_printf(b, "%s", ex);
            po->node = b->ds[d].last; /* a spec for now */
            b->specs[po->node].uses++;
        } else {
            char op[64];
            const char *sname;
            rn__mnode_excerpt(op, sizeof(op), mo->sink.name_node);
            po->label = arena_printf(b, "%s -> %s", ex, op);
            sname = arena_printf(b, "%s", op);
            if (!po->label || !sname)
                return nomem(b);
            if ((rc = spec_new(b, RN_PN_PARTS, po->label, mo->pos, 1, &s)))
                return rc;
            /* fused into its dataset, it reads "both -> to_textfiles" */
            b->specs[s].sink_label = sname;
            spec_read(b, s, b->ds[d].last, -1, arena_printf(b, "%s", ex));
            b->specs[s].sink = &mo->sink;
            po->node = s;
            b->specs[s].uses++;
        }
        if (!po->label)
            return nomem(b);
    }
    return 0;
}

/* A spec reading one spec's result whole (from, a sink output), its
 * only reader, goes on in that spec's pipeline. Specs are in run order,
 * so what a spec reads is final when it is reached. */
static int fuse(builder *b)
{
    for (size_t i = 0; i < b->n_specs; i++) {
        spec *y = &b->specs[i], *p;
        uint32_t pi;
        int rc;
        for (size_t k = 0; k < y->n_in; k++)
            y->in[k].spec = rep(b, y->in[k].spec);
        if (y->unused)
            continue;
        if (y->kind != RN_PN_PARTS || y->n_in != 1 || y->in[0].side >= 0)
            continue;
        pi = y->in[0].spec;
        p = &b->specs[pi];
        if (!y->n_steps && !y->sink) {
            /* `from: x` and nothing more (or a join's empty left part):
             * x's result itself, whoever reads it */
            p->uses += y->uses - 1;
            y->rep = pi;
            y->uses = 0;
            continue;
        }
        if (p->uses != 1 || p->sink)
            continue;
        for (size_t s = 0; s < y->n_steps; s++)
            if ((rc = spec_add_step(b, pi, y->steps[s].step,
                                    y->steps[s].engine_op,
                                    s == 0 ? 1 : y->steps[s].starts_dataset)))
                return rc;
        p->sink = y->sink;
        p->uses = y->uses;
        if (!(p->name = y->sink_label
                            ? arena_printf(b, "%s -> %s", p->name,
                                           y->sink_label)
                            : arena_printf(b, "%s, %s", p->name, y->name)))
            return nomem(b);
        y->rep = pi;
        y->uses = 0;
    }
    return 0;
}

/* ---- the graph -------------------------------------------------------- */

/* The tags a join input's first stage starts with (no state, no
 * parameters: nothing to init). */
static rn_opinst *tag_inst(builder *b, int side)
{
    rn_opinst *oi = rn_arena_alloc(&b->g->arena, sizeof(*oi));
    if (!oi)
        return NULL;
    memset(oi, 0, sizeof(*oi));
    oi->plugin = &rn__engine_plugin;
    oi->op = &rn_join_tag_ops[side];
    oi->params = rn_record(NULL, 0);
    oi->inited = 1;
    oi->label = side ? "join (right side)" : "join (left side)";
    oi->nparts = 1;
    return oi;
}

/* One input of a node as its stage 0 reads it, before nodes exist:
 * another spec's result or a source, through `narrow` (the stage's own
 * narrow operators, behind a join's tag, behind those of narrow specs
 * absorbed on the way). */
typedef struct xin {
    uint32_t spec;            /* NONE: reads `source` */
    const rn_opinst *source;
    rn_opinst **narrow;
    size_t n_narrow;
    int side;
    const char *label;
} xin;

typedef struct xlist {
    xin *v;
    size_t n;
} xlist;

/* prefix ++ [tag] ++ stage 0's narrow operators, in the graph's arena. */
static rn_opinst **narrow_cat(builder *b, rn_opinst *const *prefix, size_t np,
                              rn_opinst *tag, const rn_stage *st0, size_t *n)
{
    rn_opinst **v;
    size_t k = 0;
    *n = np + (tag ? 1 : 0) + st0->n_narrow;
    if (!(v = rn_arena_alloc(&b->g->arena, (*n ? *n : 1) * sizeof(*v))))
        return NULL;
    for (size_t i = 0; i < np; i++)
        v[k++] = prefix[i];
    if (tag)
        v[k++] = tag;
    for (size_t i = 0; i < st0->n_narrow; i++)
        v[k++] = st0->narrow[i];
    return v;
}

/* A spec read whole by one other spec's stage 0 (not a zip's) that is
 * one stage of narrow operators is absorbed: its reader's tasks read
 * what it reads and run its operators first, so its result is never
 * held (a join or concat of sources streams into the keyed table). */
static int absorbable(const builder *b, const spec *p, const uint8_t *zip_read)
{
    const rn_plan *pl = p->plan;
    return p->uses == 1 && p->kind != RN_PN_ZIP && !p->sink &&
           pl->n_stages == 1 && !pl->stages[0].terminal &&
           !zip_read[p - b->specs];
}

static int make_nodes(builder *b)
{
    rn_pgraph *g = b->g;
    rn_opinst *tags[2];
    xlist *xs = NULL;
    uint8_t *readers = NULL, *absorbed = NULL, *zip_read = NULL;
    size_t n = 0;
    int rc = 0;

    if (!(tags[0] = tag_inst(b, 0)) || !(tags[1] = tag_inst(b, 1)))
        return nomem(b);
    xs = rn_calloc(b->n_specs, sizeof(*xs));
    readers = rn_calloc(b->n_specs, 1);  /* read by a spec (not printed) */
    absorbed = rn_calloc(b->n_specs, 1);
    zip_read = rn_calloc(b->n_specs, 1); /* read by a zip */
    g->plans = rn_arena_alloc(&g->arena, b->n_specs * sizeof(*g->plans));
    if (!xs || !readers || !absorbed || !zip_read || !g->plans) {
        rc = nomem(b);
        goto done;
    }
    /* every pipeline, checked; those of unused datasets then dropped */
    for (size_t i = 0; i < b->n_specs; i++) {
        spec *s = &b->specs[i];
        if (s->rep != i)
            continue;
        if ((rc = rn__plan_build_steps(b->m, b->reg, s->source, s->steps,
                                       s->n_steps, s->sink, &s->plan,
                                       b->err)))
            goto done;
        if (s->unused) {
            rn_plan_free(s->plan);
            s->plan = NULL;
            continue;
        }
        g->plans[g->n_plans++] = s->plan; /* owned from now on */
        for (size_t k = 0; k < s->n_in; k++) {
            readers[s->in[k].spec] = 1;
            if (s->kind == RN_PN_ZIP)
                zip_read[s->in[k].spec] = 1;
        }
    }
    /* what each stage 0 reads, absorbing narrow specs on the way (specs
     * are in run order: what one reads is expanded already) */
    for (size_t i = 0; i < b->n_specs; i++) {
        spec *s = &b->specs[i];
        const rn_stage *st0;
        size_t cap = 0;
        if (s->rep != i || s->unused)
            continue;
        st0 = &s->plan->stages[0];
        if (s->kind == RN_PN_SOURCE) {
            if (!(xs[i].v = rn_arena_alloc(&g->arena, sizeof(xin))))
                goto oom;
            xs[i].n = 1;
            xs[i].v[0] = (xin){NONE, s->plan->source, st0->narrow,
                               st0->n_narrow, -1, s->name};
        } else {
            for (size_t k = 0; k < s->n_in; k++) {
                uint32_t p = s->in[k].spec;
                cap += absorbed[p] ? xs[p].n : 1;
            }
            if (!(xs[i].v = rn_arena_alloc(&g->arena, (cap ? cap : 1) *
                                                          sizeof(xin))))
                goto oom;
        }
        for (size_t k = 0; k < s->n_in; k++) {
            uint32_t p = s->in[k].spec;
            int side = s->in[k].side;
            rn_opinst *tag = side >= 0 ? tags[side] : NULL;
            if (absorbed[p]) {
                for (size_t j = 0; j < xs[p].n; j++) {
                    xin x = xs[p].v[j];
                    x.narrow = narrow_cat(b, x.narrow, x.n_narrow, tag, st0,
                                          &x.n_narrow);
                    if (!x.narrow)
                        goto oom;
                    x.side = side;
                    xs[i].v[xs[i].n++] = x;
                }
                continue;
            }
            xin x = {p, NULL, NULL, 0, side, s->in[k].label};
            /* a join's left side is the part of the dataset before it:
             * named by what computes it */
            if (side == 0)
                x.label = b->specs[p].name;
            if (!(x.narrow = narrow_cat(b, NULL, 0, tag, st0, &x.n_narrow)))
                goto oom;
            xs[i].v[xs[i].n++] = x;
        }
        absorbed[i] = s->kind != RN_PN_ZIP && readers[i] &&
                      absorbable(b, s, zip_read);
    }
    /* the nodes: the specs neither fused nor absorbed */
    for (size_t i = 0; i < b->n_specs; i++)
        n += b->specs[i].rep == i && !b->specs[i].unused && !absorbed[i];
    g->nodes = rn_arena_alloc(&g->arena, (n ? n : 1) * sizeof(*g->nodes));
    if (!g->nodes)
        goto oom;
    memset(g->nodes, 0, (n ? n : 1) * sizeof(*g->nodes));
    for (size_t i = 0; i < b->n_specs; i++) {
        spec *s = &b->specs[i];
        rn_pnode *nd;
        size_t nin = 0;
        if (s->rep != i || s->unused || absorbed[i])
            continue;
        s->node = (uint32_t)g->n_nodes;
        nd = &g->nodes[g->n_nodes++];
        nd->name = s->name;
        nd->pos = s->pos;
        nd->kind = s->kind;
        nd->n_uses = s->uses;
        nd->plan = s->plan;
        /* a source read by the node's own tasks is an input like another
         * once something was absorbed into it; a plain source node reads
         * its plan's source */
        if (s->kind == RN_PN_SOURCE)
            continue;
        if (xs[i].n &&
            !(nd->inputs = rn_arena_alloc(&g->arena,
                                          xs[i].n * sizeof(*nd->inputs))))
            goto oom;
        for (size_t k = 0; k < xs[i].n; k++) {
            const xin *x = &xs[i].v[k];
            rn_pinput *in = &nd->inputs[nin++];
            in->node = x->spec == NONE ? NONE : b->specs[x->spec].node;
            in->source = x->source;
            in->side = x->side;
            in->label = x->label ? x->label : "?";
            in->first = s->plan->stages[0];
            in->first.narrow = x->narrow;
            in->first.n_narrow = x->n_narrow;
        }
        nd->n_inputs = nin;
    }
    for (size_t o = 0; o < g->n_outputs; o++)
        g->outputs[o].node = b->specs[rep(b, g->outputs[o].node)].node;
    goto done;
oom:
    rc = nomem(b);
done:
    rn_free(xs);
    rn_free(readers);
    rn_free(absorbed);
    rn_free(zip_read);
    return rc;
}

/* Datasets no output reads: warned about, not planned. */
static int warn_unused(builder *b)
{
    const rn_manifest *m = b->m;
    rn_pgraph *g = b->g;
    size_t n = 0;
    char ex[64];

    for (size_t i = 0; i < m->n_datasets; i++)
        n += !b->ds[i].planned;
    if (!n)
        return 0;

    if (!(g->warnings = rn_arena_alloc(&g->arena, n * sizeof(*g->warnings))))
        return nomem(b);
    for (size_t i = 0; i < m->n_datasets; i++) {
        const rn_mdataset *ds = &m->datasets[i];
        const char *w;
        if (b->ds[i].planned)
            continue;
        w = arena_printf(b,
                         "%s:%u:%u: warning: dataset '%s' is never used (no "
                         "output reads it, directly or through other "
                         "datasets): it is not computed",
                         ds->name.pos.file ? ds->name.pos.file : "<manifest>",
                         (unsigned)ds->name.pos.line,
                         (unsigned)ds->name.pos.col,
                         shown(&ds->name, ex, sizeof(ex)));
        if (!w)
            return nomem(b);
        g->warnings[g->n_warnings++] = w;
    }
    /* planned too, to be checked (not run, reading nothing) */
    b->unused = 1;
    for (size_t i = 0; i < m->n_datasets; i++) {
        int rc;
        if (!b->ds[i].planned && (rc = plan_dataset(b, (uint32_t)i)))
            return rc;
    }
    return 0;
}

int rn_pgraph_build(const rn_manifest *m, rn_registry *reg, rn_pgraph **out,
                    rn_errbuf *err)
{
    builder b;
    rn_pgraph *g;
    int rc;

    *out = NULL;
    if (!m->n_datasets)
        return rn_error_set(err, RN_EINVAL,
                            "%s: no datasets (a plain manifest is one "
                            "pipeline: rn_plan_build)",
                            m->file);
    if (!(g = rn_calloc(1, sizeof(*g))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    rn_arena_init(&g->arena, 16 * 1024);
    memset(&b, 0, sizeof(b));
    b.m = m;
    b.reg = reg;
    b.g = g;
    b.err = err;
    g->name = rn_arena_strndup(&g->arena, m->name, strlen(m->name));
    g->display_name = rn_arena_strndup(&g->arena, m->display_name,
                                       strlen(m->display_name));
    if (!g->name || !g->display_name) {
        rc = nomem(&b);
        goto done;
    }
    if ((rc = resolve_refs(&b)) || (rc = find_cycles(&b)) ||
        (rc = plan_outputs(&b)) || (rc = warn_unused(&b)) ||
        (rc = fuse(&b)) || (rc = rn__plan_load_plugins(m, reg, err)) ||
        (rc = make_nodes(&b)))
        goto done;
done:
    for (size_t i = 0; i < b.n_specs; i++)
        rn_free(b.specs[i].steps);
    rn_free(b.specs);
    if (b.ds)
        for (size_t i = 0; i < m->n_datasets; i++)
            rn_free(b.ds[i].deps);
    rn_free(b.ds);
    rn_free(b.sorted);
    if (rc) {
        rn_pgraph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int rn_pgraph_init_ops(rn_pgraph *g, rn_errbuf *err)
{
    int rc;
    for (size_t i = 0; i < g->n_plans; i++)
        if ((rc = rn_plan_init_ops(g->plans[i], err)))
            return rc;
    return 0;
}

void rn_pgraph_free(rn_pgraph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_plans; i++)
        rn_plan_free(g->plans[i]);
    rn_arena_release(&g->arena);
    rn_free(g);
}

void rn_pgraph_redact(const rn_pgraph *g, rn_errbuf *err)
{
    /* every plan holds the manifest's substituted values */
    if (g && g->n_plans)
        rn_plan_redact(g->plans[0], err);
}

void rn_pgraph_zip_where(const rn_pnode *nd, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%u:%u: zip",
             nd->pos.file ? nd->pos.file : "<manifest>",
             (unsigned)nd->pos.line, (unsigned)nd->pos.col);
}

int rn_pgraph_describe(const rn_pgraph *g, rn_buf *out)
{
    rn_buf_printf(out, "graph %s: %zu pipeline%s, %zu output%s\n",
                  g->display_name, g->n_nodes, g->n_nodes == 1 ? "" : "s",
                  g->n_outputs, g->n_outputs == 1 ? "" : "s");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const rn_pnode *nd = &g->nodes[i];
        rn_buf_printf(out, "  pipeline %zu: %s (%zu stage%s", i + 1,
                      nd->name, nd->plan->n_stages,
                      nd->plan->n_stages == 1 ? "" : "s");
        if (nd->n_uses > 1)
            rn_buf_printf(out, "; computed once, read %u times",
                          (unsigned)nd->n_uses);
        rn_buf_printf(out, ")\n");
        if (nd->n_inputs) {
            rn_buf_printf(out, "    %s  ", nd->kind == RN_PN_ZIP ? "zip  " : "reads");
            for (size_t k = 0; k < nd->n_inputs; k++) {
                const rn_pinput *in = &nd->inputs[k];
                const char *side = in->side == 0   ? ", left side"
                                   : in->side == 1 ? ", right side"
                                                   : "";
                if (in->source)
                    rn_buf_printf(out, "%s%s (its source %s read here%s)",
                                  k ? ", " : "", in->label,
                                  in->source->label, side);
                else
                    rn_buf_printf(out, "%s%s (pipeline %u%s)", k ? ", " : "",
                                  in->label, (unsigned)in->node + 1, side);
            }
            rn_buf_printf(out, "\n");
            for (size_t k = 0; k < nd->n_inputs; k++) {
                const rn_pinput *in = &nd->inputs[k];
                const rn_stage *st0 = &nd->plan->stages[0];
                /* what runs before the node's own stage 0 for this input */
                size_t extra = in->first.n_narrow - st0->n_narrow;
                if (!extra)
                    continue;
                rn_buf_printf(out, "    input %zu:", k + 1);
                for (size_t j = 0; j < extra; j++)
                    rn_buf_printf(out, " -> %s", in->first.narrow[j]->label);
                rn_buf_printf(out, ", then stage 0\n");
            }
        }
        rn_plan_describe_stages(nd->plan, "    ", out);
    }
    for (size_t o = 0; o < g->n_outputs; o++)
        rn_buf_printf(out, "  output %zu: %s (%s pipeline %u)\n", o + 1,
                      g->outputs[o].label,
                      g->outputs[o].has_sink ? "written by" : "printed from",
                      (unsigned)g->outputs[o].node + 1);
    return 0;
}
