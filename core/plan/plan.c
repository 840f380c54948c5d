#define _GNU_SOURCE
#include "plan/plan.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "exec/ctx.h"

#define ERRPOS(err, code, pos, ...) rn_mpos_error((err), (code), (pos), __VA_ARGS__)

static rn_plan *plan_new(void)
{
    rn_plan *p = rn_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    rn_arena_init(&p->arena, 16 * 1024);
    p->split_every = 8;
    return p;
}

static const char *make_label(rn_plan *p, const rn_plugin *pl,
                              const rn_op_desc *op)
{
    size_t n = strlen(pl->desc->name) + strlen(op->name) + 2;
    char *s = rn_arena_alloc(&p->arena, n);
    if (s)
        snprintf(s, n, "%s.%s", pl->desc->name, op->name);
    return s;
}

/* The loader's message about plugin path `ref` (a substituted value),
 * with every occurrence of ref replaced by what the manifest shows. */
static void hide_path(rn_errbuf *e, const char *ref, const char *shown)
{
    rn_msecret s;
    s.value = ref;
    s.len = strlen(ref);
    s.shown = shown;
    if (s.len >= RN_MANIFEST_REDACT_MIN) {
        rn_msecrets_redact(&s, 1, e);
    } else {
        /* too short to search for without mangling the message */
        rn_error_set(e, e->code, "%s: cannot load it (%s)", shown,
                     rn_err_name(e->code));
    }
}

/* Loads a manifest's plugin entry: a path (relative to the working
 * directory, else to the manifest's directory) or a sha256: id. */
static int load_plugin(const rn_manifest *m, rn_registry *reg, size_t i,
                       rn_errbuf *err)
{
    const char *ref = m->plugins[i];
    rn_mpos pos = m->plugin_pos[i];
    const rn_mnode *node = m->plugin_nodes ? m->plugin_nodes[i] : NULL;
    const char *shown = node ? rn_mnode_display(node, NULL) : ref;
    rn_errbuf e1;
    char alt[4096];
    const char *slash;
    int rc;

    if (strncmp(ref, "sha256:", 7) == 0) {
        if (rn_registry_by_id(reg, ref + 7))
            return 0;
        return ERRPOS(err, RN_ENOTFOUND, pos,
                      "plugin %s is not available here (run on a cluster it "
                      "was pushed to, or name its .so file)",
                      shown);
    }
    rc = rn_registry_add_file(reg, ref, NULL, &e1);
    if (rc == RN_ENOTFOUND && ref[0] != '/' && m->file &&
        (slash = strrchr(m->file, '/'))) {
        snprintf(alt, sizeof(alt), "%.*s/%s", (int)(slash - m->file), m->file,
                 ref);
        if (access(alt, F_OK) == 0)
            rc = rn_registry_add_file(reg, alt, NULL, &e1);
    }
    if (rc) {
        if (node && node->subst)
            hide_path(&e1, ref, shown);
        rn_msecrets_redact(m->secrets, m->n_secrets, &e1);
        return ERRPOS(err, rc, pos, "plugin %s", e1.msg);
    }
    return 0;
}

/* npartitions: an int in 1..RN_PLAN_MAX_NPARTS (the node's position in
 * errors). */
static int parse_nparts(const rn_opinst *oi, const rn_mnode *v, uint32_t *out,
                        rn_errbuf *err)
{
    rn_value val;
    char d[96];
    if (v->type != RN_MN_SCALAR || rn_mnode_scalar_value(v, &val) ||
        val.kind != RN_INT || val.u.i < 1 || val.u.i > RN_PLAN_MAX_NPARTS)
        return ERRPOS(err, RN_EINVAL, v->pos,
                      "%s: npartitions: expected an int from 1 to %d, got %s",
                      oi->label, RN_PLAN_MAX_NPARTS,
                      rn__mnode_describe(d, sizeof(d), v));
    *out = (uint32_t)val.u.i;
    return 0;
}

/* A keyed fold's parameters: `npartitions` is the engine's (the hash
 * shuffle, rn_stage.nparts); the rest are bound against the operator's
 * table as for any operator. */
static int bind_keyed(rn_plan *p, const rn_mstep *st, rn_opinst *oi,
                      rn_errbuf *err)
{
    const rn_mnode *params = st->params;
    rn_mnode *rest;
    size_t at = 0;
    int rc;

    if (!params || params->type != RN_MN_MAP)
        return rn_params_bind(&p->arena, oi->op, oi->label, params, st->pos,
                              &oi->params, err);
    for (at = 0; at < params->n; at++)
        if (params->keys[at]->len == 11 &&
            memcmp(params->keys[at]->text, "npartitions", 11) == 0)
            break;
    if (at == params->n)
        return rn_params_bind(&p->arena, oi->op, oi->label, params, st->pos,
                              &oi->params, err);
    if ((rc = parse_nparts(oi, params->items[at], &oi->nparts, err)))
        return rc;
    /* the same mapping without it (the nodes are shared, not copied) */
    if (!(rest = rn_arena_alloc(&p->arena, sizeof(*rest))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    *rest = *params;
    rest->n = params->n - 1;
    if (rest->n) {
        rest->keys = rn_arena_alloc(&p->arena, rest->n * sizeof(*rest->keys));
        rest->items = rn_arena_alloc(&p->arena, rest->n * sizeof(*rest->items));
        if (!rest->keys || !rest->items)
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        for (size_t j = 0, k = 0; j < params->n; j++)
            if (j != at) {
                rest->keys[k] = params->keys[j];
                rest->items[k++] = params->items[j];
            }
    }
    return rn_params_bind(&p->arena, oi->op, oi->label, rest, st->pos,
                          &oi->params, err);
}

/* The names of what only a manifest with datasets can do. */
static int graph_only(const char *op)
{
    return strcmp(op, "join") == 0 || strcmp(op, "concat") == 0 ||
           strcmp(op, "zip") == 0;
}

static int resolve(rn_plan *p, rn_registry *reg, const rn_mstep *st,
                   const rn_op_desc *engine_op, rn_opinst *oi,
                   rn_errbuf *err)
{
    rn_plugin *pl;
    const rn_op_desc *op;
    rn_errbuf e1;
    int rc;

    if (engine_op) {
        pl = &rn__engine_plugin;
        op = engine_op;
    } else if ((rc = rn_registry_find_op(reg, st->op, &pl, &op, &e1))) {
        char ex[64];
        if (rc == RN_ENOTFOUND && graph_only(st->op))
            return ERRPOS(err, rc, st->pos,
                          "'%s' works between datasets: write the manifest "
                          "with `datasets` and `outputs` (docs/MANIFEST.md)%s",
                          st->op,
                          strcmp(st->op, "join") == 0
                              ? " and `join: {with: OTHER, key: ...}` as a "
                                "step of a dataset"
                              : "");
        /* the registry quotes the name it was given: a substituted one
         * is reported as written instead */
        if (!st->name_node || !st->name_node->subst)
            return ERRPOS(err, rc, st->pos, "%s", e1.msg);
        rn__mnode_excerpt(ex, sizeof(ex), st->name_node);
        if (rc == RN_ENOTFOUND)
            return ERRPOS(err, rc, st->pos, "unknown operator '%s'", ex);
        return ERRPOS(err, rc, st->pos,
                      "operator '%s' cannot be resolved (%s; write "
                      "plugin.op)",
                      ex, rn_err_name(rc));
    }
    oi->plugin = pl;
    oi->op = op;
    oi->pos = st->pos;
    oi->nparts = 1;
    if (pl == &rn__engine_plugin)
        oi->label = op->name; /* "join": what the manifest wrote */
    else
        oi->label = make_label(p, pl, op);
    if (!oi->label)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    if (op->kind == RN_OP_FOLDBY)
        return bind_keyed(p, st, oi, err);
    return rn_params_bind(&p->arena, op, oi->label, st->params, st->pos,
                          &oi->params, err);
}

static int copy_secrets(rn_plan *p, const rn_msecret *s, size_t n)
{
    rn_msecret *d;
    if (!n)
        return 0;
    if (!(d = rn_arena_alloc(&p->arena, n * sizeof(*d))))
        return RN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        d[i].len = s[i].len;
        d[i].value = rn_arena_strndup(&p->arena, s[i].value, s[i].len);
        d[i].shown = rn_arena_strndup(&p->arena, s[i].shown,
                                      strlen(s[i].shown));
        if (!d[i].value || !d[i].shown)
            return RN_ENOMEM;
    }
    p->secrets = d;
    p->n_secrets = n;
    return 0;
}

void rn_plan_redact(const rn_plan *plan, rn_errbuf *err)
{
    if (plan)
        rn_msecrets_redact(plan->secrets, plan->n_secrets, err);
}

static int add_stage(rn_plan *p, rn_stage *cur, size_t *cap)
{
    if (p->n_stages == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        rn_stage *ns = rn_realloc(p->stages, nc * sizeof(*ns));
        if (!ns)
            return RN_ENOMEM;
        p->stages = ns;
        *cap = nc;
    }
    p->stages[p->n_stages++] = *cur;
    memset(cur, 0, sizeof(*cur));
    return 0;
}

/* Every stage's chain is a slice of one array of the steps' operators
 * in order: cutting is one pass, with no copy per step (growing each
 * chain by one made building quadratic in the number of steps). */
static int cut_stages(rn_plan *p, size_t first_step, size_t n_steps,
                      rn_opinst *sink, rn_errbuf *err)
{
    rn_stage cur;
    size_t cap = 0, used = 0;
    rn_opinst **chain = NULL;

    memset(&cur, 0, sizeof(cur));
    if (n_steps &&
        !(chain = rn_arena_alloc(&p->arena, n_steps * sizeof(*chain))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = first_step; i < first_step + n_steps; i++) {
        rn_opinst *oi = &p->ops[i];
        switch (oi->op->kind) {
        case RN_OP_MAP:
        case RN_OP_FLAT_MAP:
        case RN_OP_FILTER:
        case RN_OP_PARTITION:
            if (!cur.n_narrow)
                cur.narrow = chain + used;
            chain[used++] = oi;
            cur.n_narrow++;
            break;
        case RN_OP_FOLD:
        case RN_OP_FOLDBY:
            cur.terminal = oi;
            cur.nparts = oi->nparts ? oi->nparts : 1;
            if (add_stage(p, &cur, &cap))
                return rn_error_set(err, RN_ENOMEM, "out of memory");
            break;
        default:
            return rn_error_set(err, RN_EINTERNAL, "unexpected kind");
        }
    }
    if (sink) {
        cur.terminal = sink;
        cur.nparts = 1;
        if (add_stage(p, &cur, &cap))
            return rn_error_set(err, RN_ENOMEM, "out of memory");
    } else if (cur.n_narrow || p->n_stages == 0) {
        cur.nparts = 1;
        if (add_stage(p, &cur, &cap))
            return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    return 0;
}

int rn__plan_load_plugins(const rn_manifest *m, rn_registry *reg,
                          rn_errbuf *err)
{
    int rc;
    for (size_t i = 0; i < m->n_plugins; i++)
        if ((rc = load_plugin(m, reg, i, err)))
            return rc;
    return 0;
}

/* The errors of a plan's steps, gathered so that all are reported. */
typedef struct errlist {
    rn_buf text; /* messages, one per line */
    size_t n;
    int first;   /* the first one's code */
} errlist;

/* Takes err's message into l and clears err; 0, or RN_ENOMEM. */
static int errlist_add(errlist *l, int rc, rn_errbuf *err)
{
    if (rc == RN_ENOMEM)
        return rc;
    if (l->n++ == 0)
        l->first = rc;
    if ((l->text.len && rn_buf_putc(&l->text, '\n')) ||
        rn_buf_puts(&l->text, err->msg))
        return RN_ENOMEM;
    rn_error_clear(err);
    return 0;
}

/* 0 when l is empty, else the first error's code with every message in
 * err (as many as fit, then how many more there were); frees l. */
static int errlist_end(errlist *l, rn_errbuf *err)
{
    int rc = 0;
    if (l->n) {
        size_t cap = sizeof(err->msg) - 40, cut = l->text.len;
        size_t shown = l->n;
        if (cut > cap) { /* whole lines only */
            cut = cap;
            while (cut > 0 && l->text.ptr[cut] != '\n')
                cut--;
            shown = 0;
            for (size_t i = 0; i < cut; i++)
                shown += l->text.ptr[i] == '\n';
            shown++;
        }
        if (shown < l->n)
            rc = rn_error_set(err, l->first, "%.*s\n(and %zu more errors)",
                              (int)cut, l->text.ptr, l->n - shown);
        else
            rc = rn_error_set(err, l->first, "%.*s", (int)cut, l->text.ptr);
    }
    rn_buf_release(&l->text);
    return rc;
}

int rn__plan_build_steps(const rn_manifest *m, rn_registry *reg,
                         const rn_mstep *source, const rn__pstep *steps,
                         size_t n_steps, const rn_mstep *sink, rn_plan **out,
                         rn_errbuf *err)
{
    rn_plan *p = NULL;
    size_t n, first;
    errlist all = {0};
    int rc = 0;

    *out = NULL;
    if (!(p = plan_new()))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    rn_buf_init(&all.text, 0);
    p->name = m->name ? rn_arena_strndup(&p->arena, m->name, strlen(m->name))
                      : "pipeline";
    p->display_name =
        m->display_name ? rn_arena_strndup(&p->arena, m->display_name,
                                           strlen(m->display_name))
                        : "pipeline";
    if (!p->name || !p->display_name ||
        (rc = copy_secrets(p, m->secrets, m->n_secrets))) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    first = source ? 1 : 0;
    n = first + n_steps + (sink ? 1 : 0);
    p->ops = rn_arena_alloc(&p->arena, (n ? n : 1) * sizeof(rn_opinst));
    if (!p->ops) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    memset(p->ops, 0, (n ? n : 1) * sizeof(rn_opinst));
    p->n_ops = n;

    /* Every step is resolved and bound even after one failed: all their
     * errors are reported at once (errlist), each with its position. */
    /* source */
    if (source) {
        if ((rc = resolve(p, reg, source, NULL, &p->ops[0], err)) == 0 &&
            p->ops[0].op->kind != RN_OP_SOURCE)
            rc = ERRPOS(err, RN_EINVAL, source->pos,
                        "'%s' is a %s operator, but `source` needs a source "
                        "(such as read_text, from_sequence or range)",
                        p->ops[0].label, rn_op_kind_name(p->ops[0].op->kind));
        if (rc && (rc = errlist_add(&all, rc, err)))
            goto done;
        p->source = &p->ops[0];
    }

    /* steps */
    for (size_t i = 0; i < n_steps; i++) {
        const rn_mstep *st = steps[i].step;
        rn_opinst *oi = &p->ops[first + i];
        const rn_opinst *prev = first + i > 0 ? &p->ops[first + i - 1] : NULL;
        if ((rc = resolve(p, reg, st, steps[i].engine_op, oi, err)) != 0) {
        } else if (oi->op->kind == RN_OP_SOURCE) {
            rc = ERRPOS(err, RN_EINVAL, st->pos,
                        "'%s' is a source: it can only be %s", oi->label,
                        m->n_datasets ? "a dataset's `source`"
                                      : "the manifest's `source`");
        } else if (oi->op->kind == RN_OP_SINK) {
            rc = ERRPOS(err, RN_EINVAL, st->pos,
                        m->n_datasets
                            ? "'%s' is a sink: write it in `outputs` as "
                              "{dataset: NAME, sink: ...}"
                            : "'%s' is a sink: put it under `sink:`, after "
                              "the steps",
                        oi->label);
        } else if (prev && prev->op && prev->op->kind != RN_OP_SOURCE &&
                   !steps[i].starts_dataset &&
                   (prev->op->flags & RN_OPF_SCALAR)) {
            rc = ERRPOS(err, RN_EINVAL, st->pos,
                        "'%s' cannot follow '%s': '%s' produces a single value "
                        "and must be the last step",
                        oi->label, prev->label, prev->label);
        }
        if (rc && (rc = errlist_add(&all, rc, err)))
            goto done;
    }

    /* sink */
    if (sink) {
        rn_opinst *oi = &p->ops[n - 1];
        if ((rc = resolve(p, reg, sink, NULL, oi, err)) == 0 &&
            oi->op->kind != RN_OP_SINK)
            rc = ERRPOS(err, RN_EINVAL, sink->pos,
                        "'%s' is a %s operator, but `sink` needs a sink (such "
                        "as to_textfiles)",
                        oi->label, rn_op_kind_name(oi->op->kind));
        if (rc && (rc = errlist_add(&all, rc, err)))
            goto done;
    }
    if ((rc = errlist_end(&all, err)))
        goto done;
    rc = cut_stages(p, first, n_steps, sink ? &p->ops[n - 1] : NULL, err);
done:
    rn_buf_release(&all.text);
    if (rc) {
        rn_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int rn_plan_build(const rn_manifest *m, rn_registry *reg, rn_plan **out,
                  rn_errbuf *err)
{
    rn__pstep *steps = NULL;
    int rc;

    *out = NULL;
    if (m->n_datasets)
        /* plan/graph.h builds those; the cluster runs one pipeline */
        return ERRPOS(err, RN_EINVAL, m->datasets[0].name.pos,
                      "several datasets run locally only for now (issue "
                      "12): run this manifest without a scheduler");
    if (m->n_steps &&
        !(steps = rn_calloc(m->n_steps, sizeof(*steps))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_steps; i++)
        steps[i].step = &m->steps[i];
    if ((rc = rn__plan_load_plugins(m, reg, err)) == 0)
        rc = rn__plan_build_steps(m, reg, &m->source, steps, m->n_steps,
                                  m->has_sink ? &m->sink : NULL, out, err);
    rn_free(steps);
    return rc;
}

int rn_plan_single(rn_plugin *pl, const rn_op_desc *op, const rn_value *params,
                   rn_plan **out, rn_errbuf *err)
{
    rn_plan *p;
    int rc;
    *out = NULL;
    if (!(p = plan_new()))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    p->name = p->display_name = "harness";
    p->ops = rn_arena_alloc(&p->arena, sizeof(rn_opinst));
    if (!p->ops) {
        rn_plan_free(p);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    memset(p->ops, 0, sizeof(rn_opinst));
    p->n_ops = 1;
    p->ops[0].plugin = pl;
    p->ops[0].op = op;
    p->ops[0].params = *params;
    p->ops[0].label = make_label(p, pl, op);
    p->ops[0].pos.file = "<harness>";
    if (op->kind == RN_OP_SOURCE) {
        p->source = &p->ops[0];
        rc = cut_stages(p, 1, 0, NULL, err);
    } else if (op->kind == RN_OP_SINK) {
        rc = cut_stages(p, 1, 0, &p->ops[0], err);
    } else {
        rc = cut_stages(p, 0, 1, NULL, err);
    }
    if (rc) {
        rn_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int rn_plan_init_ops(rn_plan *plan, rn_errbuf *err)
{
    for (size_t i = 0; i < plan->n_ops; i++) {
        rn_opinst *oi = &plan->ops[i];
        rn_task_ctx ctx;
        int rc;
        if (oi->inited)
            continue;
        if (!oi->op->init) {
            oi->inited = 1;
            continue;
        }
        /* init may allocate through the ctx: that memory lives as long as
         * the plan */
        rn_task_ctx_init(&ctx, &plan->arena, &plan->arena, err);
        ctx.label = oi->label;
        rc = oi->op->init(&ctx.pub, &oi->params, &oi->state);
        rn_task_ctx_release(&ctx);
        if (rc) {
            if (rc > 0)
                rc = RN_EPLUGIN;
            if (err->msg[0] == '\0')
                rn_error_set(err, rc, "init failed (%s) without a message",
                             rn_err_name(rc));
            /* a plugin may quote its parameters: never their values */
            rn_plan_redact(plan, err);
            rn_error_prefix(err, "%s:%u:%u: %s: ",
                            oi->pos.file ? oi->pos.file : "<manifest>",
                            oi->pos.line, oi->pos.col, oi->label);
            return rc;
        }
        oi->inited = 1;
    }
    return 0;
}

void rn_plan_free(rn_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_ops; i++) {
        rn_opinst *oi = &plan->ops[i];
        if (oi->inited && oi->op->destroy)
            oi->op->destroy(oi->state);
    }
    rn_free(plan->stages);
    rn_arena_release(&plan->arena);
    rn_free(plan);
}

int rn_plan_describe(const rn_plan *plan, rn_buf *out)
{
    rn_buf_printf(out, "pipeline %s: %zu stage%s\n", plan->display_name,
                  plan->n_stages, plan->n_stages == 1 ? "" : "s");
    return rn_plan_describe_stages(plan, "  ", out);
}

int rn_plan_describe_stages(const rn_plan *plan, const char *indent,
                            rn_buf *out)
{
    if (plan->source)
        rn_buf_printf(out, "%ssource   %s\n", indent, plan->source->label);
    for (size_t s = 0; s < plan->n_stages; s++) {
        const rn_stage *st = &plan->stages[s];
        rn_buf_printf(out, "%sstage %zu: %s", indent, s,
                      s == 0 && plan->source ? "one task per split"
                                             : "one task per partition");
        for (size_t i = 0; i < st->n_narrow; i++)
            rn_buf_printf(out, " -> %s", st->narrow[i]->label);
        if (st->terminal && st->nparts > 1)
            rn_buf_printf(out, " -> %s (%s, hash-shuffled into %u "
                               "partitions)",
                          st->terminal->label,
                          rn_op_kind_name(st->terminal->op->kind),
                          (unsigned)st->nparts);
        else if (st->terminal)
            rn_buf_printf(out, " -> %s (%s%s)", st->terminal->label,
                          rn_op_kind_name(st->terminal->op->kind),
                          st->terminal->op->kind == RN_OP_SINK
                              ? ""
                              : ", combined as a tree");
        rn_buf_printf(out, "\n");
    }
    return 0;
}

const rn_mpos *rn_plan_position_of(rn_plan *const *plans, size_t n,
                                   const char *label, size_t label_len)
{
    const rn_mpos *found = NULL;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < plans[k]->n_ops; i++) {
            const rn_opinst *oi = &plans[k]->ops[i];
            if (!oi->label || strlen(oi->label) != label_len ||
                memcmp(oi->label, label, label_len) != 0)
                continue;
            if (found)
                return NULL; /* twice: which one failed is not known here */
            found = &oi->pos;
        }
    return found && found->line ? found : NULL;
}

void rn_plan_forget_positions(rn_plan *p)
{
    for (size_t i = 0; i < p->n_ops; i++)
        p->ops[i].pos.line = p->ops[i].pos.col = 0;
}
