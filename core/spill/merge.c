#include "spill/merge.h"

#include <string.h>

#include "base/alloc.h"
#include "value/value.h"

/* ---- run readers as inputs ------------------------------------------ */

static int reader_peek(void *self, uint64_t *hash, rn_errbuf *err)
{
    return rn_run_reader_peek(self, hash, err);
}

static int reader_next(void *self, uint64_t *hash, const rn_value **values,
                       rn_errbuf *err)
{
    return rn_run_reader_next(self, hash, values, err);
}

rn_merge_input rn_run_reader_input(rn_run_reader *r)
{
    rn_merge_input in;
    in.self = r;
    in.nvals = rn_run_reader_info(r)->nvals;
    in.peek = reader_peek;
    in.next = reader_next;
    return in;
}

/* ---- the merge ------------------------------------------------------ */

/* One record of the current hash. */
typedef struct rec {
    uint32_t input;
    uint32_t key;         /* distinct-key number within the hash */
    const rn_value *vals;
} rec;

struct rn_merge {
    rn_merge_input *in;
    size_t k;
    unsigned nvals;

    /* min-heap of the inputs that have records left, by (hash of their
     * next record, input number); the hashes sit in the heap itself so
     * that sifting touches one array */
    struct hent {
        uint64_t hash;
        uint32_t input;
    } *heap;
    size_t nheap;
    int started;

    /* the records of the current hash, and its keys in output order */
    uint64_t hash;
    rec *recs;
    size_t nrec, rcap;
    const rn_value **ovals;
    uint32_t *oinput;
    size_t *kstart;       /* key i: records kstart[i]..kstart[i+1] */
    size_t nkeys, kpos;
    rn_arena copies;      /* records that had to outlive their input's
                           * next call */

    int rc;               /* sticky */
    rn_errbuf fail;
};

static inline int before(const struct hent *a, const struct hent *b)
{
    return a->hash < b->hash || (a->hash == b->hash && a->input < b->input);
}

static void heap_push(rn_merge *m, uint32_t input, uint64_t hash)
{
    struct hent e = {hash, input};
    size_t c = m->nheap++;
    while (c) {
        size_t p = (c - 1) / 2;
        if (!before(&e, &m->heap[p]))
            break;
        m->heap[c] = m->heap[p];
        c = p;
    }
    m->heap[c] = e;
}

/* Puts e at the top's place and sifts it down: the top input's next
 * hash (one pass instead of a pop and a push), or the last entry after
 * a pop. */
static void heap_sift_top(rn_merge *m, struct hent e)
{
    size_t c = 0, n = m->nheap;
    for (;;) {
        size_t l = 2 * c + 1, s;
        if (l >= n)
            break;
        s = l + 1 < n && before(&m->heap[l + 1], &m->heap[l]) ? l + 1 : l;
        if (!before(&m->heap[s], &e))
            break;
        m->heap[c] = m->heap[s];
        c = s;
    }
    m->heap[c] = e;
}

static void heap_pop(rn_merge *m)
{
    if (--m->nheap)
        heap_sift_top(m, m->heap[m->nheap]);
}

int rn_merge_open(rn_merge **out, const rn_merge_input *inputs, size_t k,
                  rn_errbuf *err)
{
    rn_merge *m;
    *out = NULL;
    if (k > RN_MERGE_MAX_FANIN)
        return rn_error_set(err, RN_ELIMIT,
                            "cannot merge %zu runs at once (the fan-in is "
                            "%d): merge them in passes",
                            k, RN_MERGE_MAX_FANIN);
    for (size_t i = 0; i < k; i++)
        if (inputs[i].nvals < 1 || inputs[i].nvals > RN_RUN_MAX_VALUES ||
            inputs[i].nvals != inputs[0].nvals || !inputs[i].peek ||
            !inputs[i].next)
            return rn_error_set(err, RN_EINVAL,
                                "merge input %zu has %u values per record, "
                                "input 0 %u", i, inputs[i].nvals,
                                inputs[0].nvals);
    if (!(m = rn_calloc(1, sizeof(*m))))
        goto nomem;
    rn_arena_init(&m->copies, 0);
    m->k = k;
    m->nvals = k ? inputs[0].nvals : 1;
    if (k && (!(m->in = rn_calloc(k, sizeof(*m->in))) ||
              !(m->heap = rn_calloc(k, sizeof(*m->heap)))))
        goto nomem;
    if (k)
        memcpy(m->in, inputs, k * sizeof(*inputs));
    *out = m;
    return 0;
nomem:
    rn_merge_free(m);
    return rn_error_set(err, RN_ENOMEM, "out of memory for a merge");
}

void rn_merge_free(rn_merge *m)
{
    if (!m)
        return;
    rn_arena_release(&m->copies);
    rn_free(m->in);
    rn_free(m->heap);
    rn_free(m->recs);
    rn_free(m->ovals);
    rn_free(m->oinput);
    rn_free(m->kstart);
    rn_free(m);
}

static int failed(rn_merge *m, int rc, rn_errbuf *err)
{
    m->rc = rc;
    if (err != &m->fail)
        m->fail = *err;
    return rc;
}

/* Reads input i's next record into the heap (or drops the input at its
 * end). */
static int refill(rn_merge *m, uint32_t i, rn_errbuf *err)
{
    uint64_t h;
    int rc = m->in[i].peek(m->in[i].self, &h, err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        heap_push(m, i, h);
    return 0;
}

static int add_rec(rn_merge *m, uint32_t input, const rn_value *vals,
                   rn_errbuf *err)
{
    if (m->nrec == RN_MERGE_MAX_SAME_HASH)
        return rn_error_set(err, RN_ELIMIT,
                            "more than %d spilled records share the hash "
                            "0x%016llx",
                            RN_MERGE_MAX_SAME_HASH,
                            (unsigned long long)m->hash);
    if (m->nrec == m->rcap) {
        /* each array grown on its own: one that grew stays valid if a
         * later one fails, and rcap moves only when all did */
        size_t cap = m->rcap ? 2 * m->rcap : 64;
        void *p;
        if (!(p = rn_realloc(m->recs, cap * sizeof(*m->recs))))
            goto nomem;
        m->recs = p;
        if (!(p = rn_realloc(m->ovals, cap * sizeof(*m->ovals))))
            goto nomem;
        m->ovals = p;
        if (!(p = rn_realloc(m->oinput, cap * sizeof(*m->oinput))))
            goto nomem;
        m->oinput = p;
        if (!(p = rn_realloc(m->kstart, (cap + 1) * sizeof(*m->kstart))))
            goto nomem;
        m->kstart = p;
        m->rcap = cap;
    }
    m->recs[m->nrec].input = input;
    m->recs[m->nrec].key = 0;
    m->recs[m->nrec].vals = vals;
    m->nrec++;
    return 0;
nomem:
    return rn_error_set(err, RN_ENOMEM, "out of memory for a merge");
}

/* A deep copy of a record's values into the merge's arena. */
static int copy_rec(rn_merge *m, const rn_value *vals, const rn_value **out,
                    rn_errbuf *err)
{
    rn_value *c = rn_arena_alloc(&m->copies, m->nvals * sizeof(rn_value));
    if (!c)
        goto nomem;
    for (unsigned i = 0; i < m->nvals; i++)
        if (rn_value_copy(&m->copies, &vals[i], &c[i]))
            goto nomem;
    *out = c;
    return 0;
nomem:
    return rn_error_set(err, RN_ENOMEM, "out of memory for a merge");
}

/* Takes every record of the smallest pending hash from the inputs, in
 * input order (the heap breaks ties by input number). */
static int load_hash(rn_merge *m, rn_errbuf *err)
{
    int rc;

    m->nrec = m->nkeys = m->kpos = 0;
    rn_arena_reset(&m->copies);
    m->hash = m->heap[0].hash;
    while (m->nheap && m->heap[0].hash == m->hash) {
        uint32_t i = m->heap[0].input;
        for (;;) {
            const rn_value *vals;
            uint64_t h, nh;
            rc = m->in[i].next(m->in[i].self, &h, &vals, err);
            if (rc < 0)
                return rc;
            if (rc == 0 || h != m->hash)
                return rn_error_set(err, RN_EFORMAT,
                                    "merge input %u: the record after hash "
                                    "0x%016llx is not the one announced",
                                    i, (unsigned long long)m->hash);
            if ((rc = add_rec(m, i, vals, err)))
                return rc;
            if ((rc = m->in[i].peek(m->in[i].self, &nh, err)) < 0)
                return rc;
            if (rc == 0) {
                heap_pop(m);
                break;
            }
            if (nh < m->hash)
                return rn_error_set(err, RN_EFORMAT,
                                    "merge input %u: hash 0x%016llx after "
                                    "0x%016llx, out of order",
                                    i, (unsigned long long)nh,
                                    (unsigned long long)m->hash);
            if (nh > m->hash) {
                struct hent e = {nh, i};
                heap_sift_top(m, e);
                break;
            }
            /* another record of this hash from the same input (a
             * colliding key): the one read must outlive the next call */
            if ((rc = copy_rec(m, vals, &m->recs[m->nrec - 1].vals, err)))
                return rc;
        }
    }

    /* distinct keys, numbered in the order they were first met */
    if (m->nrec == 1) {
        m->ovals[0] = m->recs[0].vals;
        m->oinput[0] = m->recs[0].input;
        m->kstart[0] = 0;
        m->kstart[1] = 1;
        m->nkeys = 1;
        return 0;
    }
    for (size_t j = 0; j < m->nrec; j++) {
        size_t kk;
        /* kstart holds each key's first record for now */
        for (kk = 0; kk < m->nkeys; kk++)
            if (rn_value_equal(&m->recs[m->kstart[kk]].vals[0],
                               &m->recs[j].vals[0]))
                break;
        if (kk == m->nkeys)
            m->kstart[m->nkeys++] = j;
        m->recs[j].key = (uint32_t)kk;
    }
    /* records grouped by key, each key's in input order */
    {
        size_t o = 0;
        for (size_t kk = 0; kk < m->nkeys; kk++) {
            m->kstart[kk] = o;
            for (size_t j = 0; j < m->nrec; j++)
                if (m->recs[j].key == kk) {
                    m->ovals[o] = m->recs[j].vals;
                    m->oinput[o] = m->recs[j].input;
                    o++;
                }
        }
        m->kstart[m->nkeys] = o;
    }
    return 0;
}

int rn_merge_next(rn_merge *m, rn_merge_group *g, rn_errbuf *err)
{
    size_t a, b;
    int rc;

    if (!err)
        err = &m->fail;
    if (m->rc) {
        if (err != &m->fail)
            *err = m->fail;
        return m->rc;
    }
    if (!m->started) {
        m->started = 1;
        for (uint32_t i = 0; i < m->k; i++)
            if ((rc = refill(m, i, err)))
                return failed(m, rc, err);
    }
    if (m->kpos == m->nkeys) {
        if (!m->nheap)
            return 0;
        if ((rc = load_hash(m, err)))
            return failed(m, rc, err);
    }
    a = m->kstart[m->kpos];
    b = m->kstart[m->kpos + 1];
    m->kpos++;
    g->hash = m->hash;
    g->key = &m->ovals[a][0];
    g->n = b - a;
    g->input = m->oinput + a;
    g->values = m->ovals + a;
    return 1;
}

/* ---- merging into a run --------------------------------------------- */

int rn_merge_to_run(const rn_merge_input *inputs, size_t k, const char *dir,
                    const rn_run_write_opts *opts, rn_merge_combine_fn combine,
                    void *arg, rn_run_info *info, rn_errbuf *err)
{
    rn_merge *m = NULL;
    rn_run_writer *w = NULL;
    rn_arena scratch;
    rn_merge_group g;
    rn_value out[RN_RUN_MAX_VALUES];
    int rc;

    rn_arena_init(&scratch, 0);
    if (info)
        memset(info, 0, sizeof(*info));
    if ((rc = rn_merge_open(&m, inputs, k, err)))
        goto done;
    if ((rc = rn_run_writer_open(&w, dir, m->nvals, opts, err)))
        goto done;
    while ((rc = rn_merge_next(m, &g, err)) == 1) {
        const rn_value *vals = g.values[0];
        if (g.n > 1) {
            for (unsigned i = 0; i < m->nvals; i++)
                out[i] = rn_null();
            rn_arena_reset(&scratch);
            if ((rc = combine(arg, &g, out, &scratch, err)))
                goto done;
            vals = out;
        }
        if ((rc = rn_run_writer_add(w, g.hash, vals, err)))
            goto done;
    }
    if (rc < 0)
        goto done;
    rc = rn_run_writer_finish(w, info, err);
    w = NULL;
done:
    rn_run_writer_abort(w);
    rn_merge_free(m);
    rn_arena_release(&scratch);
    return rc;
}
