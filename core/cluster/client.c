/* The client side of a cluster. */
#define _GNU_SOURCE
#include "cluster/client.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cluster/jobspec.h"
#include "cluster/plugfetch.h"
#include "exec/chain.h"
#include "security/identity.h"
#include "transport/chunk.h"
#include "transport/methods.h"
#include "transport/rpc.h"
#include "value/codec.h"

#include "runnel_worker.pb-c.h"

#define CALL_TIMEOUT_MS 30000
/* Rounds of "fetch, report the missing ones, wait" before giving up. */
#define FETCH_ROUNDS 8

typedef struct cpeer {
    char *address;
    rn_rpc_channel *ch;
} cpeer;

struct rn_client {
    char *url;
    const rn_rpc_tls *tls; /* the caller's */
    rn_rpc_channel *ch;
    cpeer *peers;
    size_t n_peers;
    int verbose;
    rn_plugstore *cache; /* plugins fetched by id, opened on demand */
};

int rn_client_open(const char *url, const rn_rpc_tls *tls, rn_client **out,
                   rn_errbuf *err)
{
    char target[256];
    rn_client *c;
    int rc;
    *out = NULL;
    if ((rc = rn_rpc_target(url, target, sizeof(target), err)))
        return rc;
    if (rn_rpc_url_is_tls(url) && !tls)
        return rn_error_set(err, RN_EINVAL,
                            "%s: a tls:// scheduler needs a certificate: give "
                            "--tls DIR (or set RUNNEL_TLS)",
                            url);
    if (!rn_rpc_url_is_tls(url) && tls)
        return rn_error_set(err, RN_EINVAL,
                            "%s: with --tls (or RUNNEL_TLS) the scheduler's "
                            "address is tls://HOST:PORT",
                            url);
    if (!(c = rn_calloc(1, sizeof(*c))) || !(c->url = rn_strdup(url)) ||
        !(c->ch = rn_rpc_channel_new(target, tls, RN_TLS_NAME_SCHEDULER))) {
        rn_client_close(c);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    c->verbose = 1;
    c->tls = tls;
    *out = c;
    return 0;
}

void rn_client_close(rn_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_peers; i++) {
        rn_rpc_channel_free(c->peers[i].ch);
        rn_free(c->peers[i].address);
    }
    rn_free(c->peers);
    rn_plugstore_free(c->cache);
    rn_rpc_channel_free(c->ch);
    rn_free(c->url);
    rn_free(c);
}

void rn_client_set_verbose(rn_client *c, int verbose)
{
    c->verbose = verbose;
}

int rn_client_info(rn_client *c, Runnel__V1__InfoReply **out, rn_errbuf *err)
{
    Runnel__V1__InfoRequest req = RUNNEL__V1__INFO_REQUEST__INIT;
    return rn_rpc_unary_pb(c->ch, RN_M_INFO, &req,
                           &runnel__v1__info_reply__descriptor, (void **)out,
                           CALL_TIMEOUT_MS, err);
}

int rn_client_list_plugins(rn_client *c, Runnel__V1__ListPluginsReply **out,
                           rn_errbuf *err)
{
    Runnel__V1__ListPluginsRequest req = RUNNEL__V1__LIST_PLUGINS_REQUEST__INIT;
    return rn_rpc_unary_pb(c->ch, RN_M_LIST_PLUGINS, &req,
                           &runnel__v1__list_plugins_reply__descriptor,
                           (void **)out, CALL_TIMEOUT_MS, err);
}

static int has_plugin(const Runnel__V1__ListPluginsReply *l, const char *id)
{
    for (size_t i = 0; l && i < l->n_plugins; i++)
        if (strcmp(l->plugins[i]->id, id) == 0)
            return 1;
    return 0;
}

/* Streams the file of a loaded plugin to the scheduler. */
static int push_file(rn_client *c, const rn_plugin *p, rn_errbuf *err)
{
    Runnel__V1__PushPluginRequest req = RUNNEL__V1__PUSH_PLUGIN_REQUEST__INIT;
    Runnel__V1__PluginRef ref = RUNNEL__V1__PLUGIN_REF__INIT;
    Runnel__V1__Chunk ch = RUNNEL__V1__CHUNK__INIT;
    Runnel__V1__PushPluginReply *rep = NULL;
    rn_rpc_stream *st = NULL;
    uint8_t *buf = NULL;
    uint64_t off = 0;
    int fd = -1, rc;

    if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 ||
        !(buf = rn_malloc(RN_RPC_CHUNK))) {
        rc = rn_error_set(err, RN_EIO, "%s: cannot read", p->path);
        goto done;
    }
    if ((rc = rn_rpc_stream_open(c->ch, RN_M_PUSH_PLUGIN, NULL, 0, 0, 300000, &st,
                                 err)))
        goto done;
    ref.id = (char *)p->id;
    ref.name = (char *)p->desc->name;
    ref.version = (char *)p->desc->version;
    ref.size = p->file_size;
    req.plugin = &ref;
    ch.total = p->file_size;
    for (;;) {
        ssize_t r = read(fd, buf, RN_RPC_CHUNK);
        if (r < 0) {
            rc = rn_error_set(err, RN_EIO, "%s: read error", p->path);
            goto done;
        }
        if (r == 0 && off > 0)
            break;
        ch.offset = off;
        ch.data.data = buf;
        ch.data.len = (size_t)r;
        req.chunk = &ch;
        if (rn_rpc_stream_send_pb(st, &req))
            break; /* the status tells why */
        req.plugin = NULL;
        off += (uint64_t)r;
        if (r == 0)
            break;
    }
    rn_rpc_stream_close_send(st);
    if (rn_rpc_stream_recv_pb(st, &runnel__v1__push_plugin_reply__descriptor,
                              (void **)&rep, CALL_TIMEOUT_MS) != 1) {
        if ((rc = rn_rpc_stream_finish(st, err)) == 0)
            rc = rn_error_set(err, RN_EREMOTE, "%s: no reply to the push", c->url);
        goto done;
    }
    rc = rn_rpc_stream_finish(st, err);
done:
    rn_pb_free(rep);
    rn_rpc_stream_free(st);
    rn_free(buf);
    if (fd >= 0)
        close(fd);
    if (rc)
        rn_error_prefix(err, "cannot push plugin %s: ", p->path);
    return rc;
}

static int ensure_pushed(rn_client *c, const rn_plugin *p,
                         Runnel__V1__ListPluginsReply *have, int *pushed,
                         rn_errbuf *err)
{
    int rc;
    *pushed = 0;
    if (has_plugin(have, p->id))
        return 0;
    if ((rc = push_file(c, p, err)))
        return rc;
    *pushed = 1;
    if (c->verbose)
        fprintf(stderr, "runnel: pushed plugin %s %s (sha256:%s) to %s\n",
                p->desc->name, p->desc->version, p->id, c->url);
    return 0;
}

int rn_client_push_plugin(rn_client *c, const char *path, char id[65],
                          int *pushed, rn_errbuf *err)
{
    Runnel__V1__ListPluginsReply *have = NULL;
    rn_plugin *p = NULL;
    int rc;
    if ((rc = rn_plugin_load(path, &p, err)))
        return rc;
    if ((rc = rn_client_list_plugins(c, &have, err)) == 0 &&
        (rc = ensure_pushed(c, p, have, pushed, err)) == 0)
        snprintf(id, 65, "%s", p->id);
    rn_pb_free(have);
    rn_plugin_free(p);
    return rc;
}

/* The loaded plugin a manifest's plugin entry named, resolved as the
 * planner does (the working directory, else the manifest's directory). */
static rn_plugin *entry_plugin(const rn_manifest *m, rn_registry *reg,
                               const char *ref)
{
    char alt[4096];
    const char *slash = m->file ? strrchr(m->file, '/') : NULL;
    if (slash)
        snprintf(alt, sizeof(alt), "%.*s/%s", (int)(slash - m->file), m->file,
                 ref);
    else
        alt[0] = '\0';
    for (size_t i = 0; i < rn_registry_count(reg); i++) {
        rn_plugin *p = rn_registry_at(reg, i);
        if (strcmp(p->path, ref) == 0 || (alt[0] && strcmp(p->path, alt) == 0))
            return p;
    }
    return NULL;
}

int rn_client_prepare(rn_client *c, const rn_manifest *m, rn_registry *reg,
                      rn_errbuf *err)
{
    for (size_t i = 0; i < m->n_plugins; i++) {
        const char *ref = m->plugins[i];
        int rc;
        if (strncmp(ref, "sha256:", 7) != 0 || rn_registry_by_id(reg, ref + 7))
            continue;
        if (!c->cache) {
            const char *d = getenv("RUNNEL_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"),
                       *h = getenv("HOME");
            char dir[4096];
            if (d && *d)
                snprintf(dir, sizeof(dir), "%s", d);
            else if (x && *x)
                snprintf(dir, sizeof(dir), "%s/runnel", x);
            else if (h && *h)
                snprintf(dir, sizeof(dir), "%s/.cache/runnel", h);
            if ((rc = rn_plugstore_open((d && *d) || (x && *x) || (h && *h) ? dir
                                                                            : NULL,
                                        &c->cache, err)))
                return rc;
        }
        if ((rc = rn_plugfetch(c->ch, c->cache, reg, ref + 7, NULL, err))) {
            rn_error_prefix(err, "%s: ", m->file);
            return rc;
        }
    }
    return 0;
}

typedef struct pushed_set {
    const char **ids;
    size_t n;
} pushed_set;

static int is_user_plugin(const rn_plugin *p, void *ud)
{
    const pushed_set *ps = ud;
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->ids[i], p->id) == 0)
            return 1;
    return 0;
}

static void client_name(char *out, size_t cap)
{
    char host[128] = "?";
    const struct passwd *pw = getpwuid(getuid());
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(out, cap, "%s@%s", pw && pw->pw_name ? pw->pw_name : "?", host);
}

/* What a job is sent with, whatever its form: the manifest text with
 * every plugin path replaced by the id of the file pushed (plugins the
 * scheduler lacks are pushed now), and in ps the ids of the plugins
 * named, which are users' (their operators are the likelier culprits
 * in messages). ps->ids and text belong to the caller. */
static int submit_prepare(rn_client *c, const rn_manifest *m,
                          rn_registry *reg, rn_buf *text, pushed_set *ps,
                          rn_errbuf *err)
{
    Runnel__V1__ListPluginsReply *have = NULL;
    char **refs = NULL;
    int rc;

    refs = rn_calloc(m->n_plugins + 1, sizeof(char *));
    ps->ids = rn_calloc(m->n_plugins + 1, sizeof(char *));
    ps->n = 0;
    if (!refs || !ps->ids) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = rn_client_list_plugins(c, &have, err)))
        goto done;
    for (size_t i = 0; i < m->n_plugins; i++) {
        const char *ref = m->plugins[i];
        rn_plugin *p;
        int pushed;
        if (strncmp(ref, "sha256:", 7) == 0) {
            p = rn_registry_by_id(reg, ref + 7);
            ps->ids[ps->n++] = ref + 7;
            if (!has_plugin(have, ref + 7) && !p) {
                rc = rn_error_set(err, RN_ENOTFOUND,
                                  "%s: plugin %s is neither on the cluster nor "
                                  "here (push it first)",
                                  m->file, ref);
                goto done;
            }
            if (p && (rc = ensure_pushed(c, p, have, &pushed, err)))
                goto done;
            continue;
        }
        if (!(p = entry_plugin(m, reg, ref))) {
            rc = rn_error_set(err, RN_EINTERNAL, "%s: plugin %s was not loaded",
                              m->file, ref);
            goto done;
        }
        if ((rc = ensure_pushed(c, p, have, &pushed, err)))
            goto done;
        if (!(refs[i] = rn_malloc(7 + RN_PLUGIN_ID_HEX + 1))) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
        snprintf(refs[i], 7 + RN_PLUGIN_ID_HEX + 1, "sha256:%s", p->id);
        ps->ids[ps->n++] = p->id;
    }
    rc = rn_jobspec_manifest(m, (const char *const *)refs, text, err);
done:
    rn_pb_free(have);
    for (size_t i = 0; refs && i < m->n_plugins; i++)
        rn_free(refs[i]);
    rn_free(refs);
    return rc;
}

/* Sends req (its protocol, name, client and detached filled here). */
static int submit_send(rn_client *c, Runnel__V1__SubmitJobRequest *req,
                       const char *name, int detached, char job_id[32],
                       rn_errbuf *err)
{
    Runnel__V1__SubmitJobReply *rep = NULL;
    char who[256];
    int rc;
    client_name(who, sizeof(who));
    req->protocol = RN_PROTOCOL_VERSION;
    req->name = (char *)name; /* never a ${VAR} value */
    req->client = who;
    req->detached = detached;
    if ((rc = rn_rpc_unary_pb(c->ch, RN_M_SUBMIT_JOB, req,
                              &runnel__v1__submit_job_reply__descriptor,
                              (void **)&rep, CALL_TIMEOUT_MS, err)) == 0)
        snprintf(job_id, 32, "%s", rep->job_id);
    rn_pb_free(rep);
    return rc;
}

int rn_client_submit(rn_client *c, const rn_manifest *m, rn_registry *reg,
                     rn_plan *plan, int detached, char job_id[32],
                     rn_errbuf *err)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    Runnel__V1__StageSpec **stages = NULL;
    size_t n_stages = 0;
    pushed_set ps = {NULL, 0};
    rn_partition *splits = NULL;
    rn_buf text, enc;
    int rc;

    rn_buf_init(&text, 0);
    rn_buf_init(&enc, 0);
    if ((rc = submit_prepare(c, m, reg, &text, &ps, err)))
        goto done;
    if ((rc = rn_plan_init_ops(plan, err)))
        goto done;
    if (!(splits = rn_partition_new())) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = rn_source_plan(plan->source, splits, err)))
        goto done;
    if ((rc = rn_codec_encode(&enc, splits->items, splits->n))) {
        rn_error_set(err, rc, "cannot encode %zu splits", splits->n);
        goto done;
    }
    if ((rc = rn_jobspec_stages(plan, is_user_plugin, &ps, &stages, &n_stages, err)))
        goto done;
    req.manifest = text.ptr;
    req.stages = stages;
    req.n_stages = n_stages;
    req.split_every = (uint32_t)plan->split_every;
    req.splits.data = (uint8_t *)enc.ptr;
    req.splits.len = enc.len;
    rc = submit_send(c, &req, plan->display_name, detached, job_id, err);
done:
    rn_jobspec_stages_free(stages, n_stages);
    rn_partition_unref(splits);
    rn_free(ps.ids);
    rn_buf_release(&text);
    rn_buf_release(&enc);
    return rc;
}

int rn_client_submit_graph(rn_client *c, const rn_manifest *m,
                           rn_registry *reg, rn_pgraph *g, int detached,
                           char job_id[32], rn_errbuf *err)
{
    Runnel__V1__SubmitJobRequest req = RUNNEL__V1__SUBMIT_JOB_REQUEST__INIT;
    rn_jobspec_graph_out gw;
    pushed_set ps = {NULL, 0};
    rn_buf text;
    int rc;

    memset(&gw, 0, sizeof(gw));
    rn_buf_init(&text, 0);
    if ((rc = submit_prepare(c, m, reg, &text, &ps, err)))
        goto done;
    /* the sources plan their splits here, as in a job of one pipeline */
    if ((rc = rn_pgraph_init_ops(g, err)) ||
        (rc = rn_jobspec_graph(g, is_user_plugin, &ps, &gw, err)))
        goto done;
    req.manifest = text.ptr;
    req.nodes = gw.nodes;
    req.n_nodes = gw.n_nodes;
    req.outputs = gw.outputs;
    req.n_outputs = gw.n_outputs;
    /* every pipeline combines with the same fan-in (plan.c) */
    req.split_every = g->n_plans ? (uint32_t)g->plans[0]->split_every : 8;
    rc = submit_send(c, &req, g->display_name, detached, job_id, err);
done:
    rn_jobspec_graph_free(&gw);
    rn_free(ps.ids);
    rn_buf_release(&text);
    return rc;
}

static void draw(const Runnel__V1__JobInfo *ji)
{
    int width = 28, fill = ji->tasks_total
                               ? (int)((double)ji->tasks_done / ji->tasks_total * width)
                               : 0;
    char bar[64];
    for (int k = 0; k < width; k++)
        bar[k] = k < fill ? '#' : '-';
    bar[width] = '\0';
    fprintf(stderr, "\r\033[K[%s] %s  %u/%u tasks  %.1f MiB read  %.1fs", bar,
            ji->job_id, ji->tasks_done, ji->tasks_total,
            (double)ji->bytes_read / 1048576.0, ji->seconds);
    fflush(stderr);
}

int rn_client_wait(rn_client *c, const char *job_id, int progress,
                   Runnel__V1__JobInfo **out, rn_errbuf *err)
{
    Runnel__V1__JobRequest req = RUNNEL__V1__JOB_REQUEST__INIT;
    Runnel__V1__JobInfo *last = NULL;
    rn_rpc_stream *st = NULL;
    int rc;

    *out = NULL;
    req.job_id = (char *)job_id;
    if ((rc = rn_rpc_stream_open_pb(c->ch, RN_M_WATCH_JOB, &req, 0, &st, err)))
        return rc;
    for (;;) {
        Runnel__V1__JobInfo *ji = NULL;
        int r = rn_rpc_stream_recv_pb(st, &runnel__v1__job_info__descriptor,
                                      (void **)&ji, -1);
        if (r != 1)
            break;
        rn_pb_free(last);
        last = ji;
        if (progress)
            draw(ji);
    }
    if (progress)
        fprintf(stderr, "\r\033[K");
    rc = rn_rpc_stream_finish(st, err);
    rn_rpc_stream_free(st);
    if (rc == 0 && (!last || (last->state != RUNNEL__V1__JOB_STATE__JOB_DONE &&
                              last->state != RUNNEL__V1__JOB_STATE__JOB_FAILED &&
                              last->state != RUNNEL__V1__JOB_STATE__JOB_CANCELLED)))
        rc = rn_error_set(err, RN_EREMOTE, "%s: the job's progress stream ended "
                                           "early",
                          c->url);
    if (rc) {
        rn_pb_free(last);
        return rc;
    }
    *out = last;
    if (last->state == RUNNEL__V1__JOB_STATE__JOB_FAILED)
        return rn_error_set(err, RN_EREMOTE, "job %s failed: %s", job_id,
                            last->error);
    if (last->state == RUNNEL__V1__JOB_STATE__JOB_CANCELLED)
        return rn_error_set(err, RN_ECANCELED, "job %s was cancelled: %s", job_id,
                            last->error);
    return 0;
}

static rn_rpc_channel *peer(rn_client *c, const char *address, rn_errbuf *err)
{
    char target[256];
    cpeer *np;
    for (size_t i = 0; i < c->n_peers; i++)
        if (strcmp(c->peers[i].address, address) == 0)
            return c->peers[i].ch;
    if (rn_rpc_target(address, target, sizeof(target), err))
        return NULL;
    if (!(np = rn_realloc(c->peers, (c->n_peers + 1) * sizeof(*np)))) {
        rn_error_set(err, RN_ENOMEM, "out of memory");
        return NULL;
    }
    c->peers = np;
    np[c->n_peers].address = rn_strdup(address);
    np[c->n_peers].ch = rn_rpc_channel_new(target, c->tls, RN_TLS_NAME_WORKER);
    if (!np[c->n_peers].address || !np[c->n_peers].ch) {
        rn_free(np[c->n_peers].address);
        rn_rpc_channel_free(np[c->n_peers].ch);
        rn_error_set(err, RN_ENOMEM, "out of memory");
        return NULL;
    }
    return np[c->n_peers++].ch;
}

static int fetch_one(rn_client *c, const char *job, const char *cap,
                     const Runnel__V1__ResultRef *r, rn_partition **out,
                     rn_errbuf *err)
{
    Runnel__V1__FetchPartitionRequest req = RUNNEL__V1__FETCH_PARTITION_REQUEST__INIT;
    rn_rpc_stream *st = NULL;
    rn_rpc_channel *ch;
    rn_partition *p;
    char what[256];
    int rc;

    *out = NULL;
    if (!(ch = peer(c, r->address, err)))
        return err->code ? err->code : RN_EINVAL;
    if (!(p = rn_partition_new()))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    req.job_id = (char *)job;
    req.task_id = r->task_id;
    req.capability = (char *)cap;
    snprintf(what, sizeof(what), "result from %s", r->address);
    if ((rc = rn_rpc_stream_open_pb(ch, RN_M_FETCH_PARTITION, &req, 0, &st, err)) ||
        (rc = rn_chunk_recv_partition(st, p, 30000, what, err))) {
        rn_rpc_stream_free(st);
        rn_partition_unref(p);
        return rc;
    }
    rn_rpc_stream_free(st);
    *out = p;
    return 0;
}

/* twin[i]: the index of an earlier result of the same task (two outputs
 * of one dataset list the same partitions), or SIZE_MAX. Results come
 * output after output; an output is listed whole, so a repeated one
 * starts with the same task and has as many. */
static int result_twins(const Runnel__V1__JobInfo *ji, size_t *twin,
                        const char *job_id, rn_errbuf *err)
{
    size_t n = ji->n_results, start = 0;
    for (size_t i = 0; i < n; i++) {
        twin[i] = SIZE_MAX;
        if (i && ji->results[i]->output < ji->results[i - 1]->output)
            return rn_error_set(err, RN_EREMOTE, "job %s: its results are not "
                                                 "in the order of its outputs",
                                job_id);
    }
    while (start < n) {
        uint32_t o = ji->results[start]->output;
        size_t end = start;
        while (end < n && ji->results[end]->output == o)
            end++;
        for (size_t p = 0; p < start;) {
            size_t pe = p;
            while (pe < n && ji->results[pe]->output == ji->results[p]->output)
                pe++;
            if (pe - p == end - start &&
                ji->results[p]->task_id == ji->results[start]->task_id) {
                for (size_t k = 0; k < end - start; k++)
                    twin[start + k] = p + k;
                break;
            }
            p = pe;
        }
        start = end;
    }
    return 0;
}

/* Waits for the job and fetches every result partition (parts[i] for
 * (*out)->results[i]; one a worker lost on the way is recomputed and
 * fetched again). */
static int fetch_results(rn_client *c, const char *job_id, int progress,
                         Runnel__V1__JobInfo **out, rn_partition ***out_parts,
                         rn_errbuf *err)
{
    Runnel__V1__JobInfo *ji = NULL;
    rn_partition **parts = NULL;
    size_t n = 0, *twin = NULL;
    int rc = 0;

    *out = NULL;
    *out_parts = NULL;
    for (int round = 0;; round++) {
        size_t missing = 0;
        rn_errbuf ferr;
        rn_pb_free(ji);
        ji = NULL;
        if ((rc = rn_client_wait(c, job_id, progress, &ji, err)))
            goto done;
        if (!parts) {
            n = ji->n_results;
            if (!(parts = rn_calloc(n + 1, sizeof(*parts))) ||
                !(twin = rn_calloc(n + 1, sizeof(*twin)))) {
                rc = rn_error_set(err, RN_ENOMEM, "out of memory");
                goto done;
            }
            if ((rc = result_twins(ji, twin, job_id, err)))
                goto done;
        } else if (ji->n_results != n) {
            rc = rn_error_set(err, RN_EREMOTE, "job %s: the number of results "
                                               "changed",
                              job_id);
            goto done;
        }
        rn_error_clear(&ferr);
        for (size_t i = 0; i < n; i++) {
            const Runnel__V1__ResultRef *r = ji->results[i];
            Runnel__V1__ReportMissingRequest mr =
                RUNNEL__V1__REPORT_MISSING_REQUEST__INIT;
            Runnel__V1__JobInfo *ack = NULL;
            rn_errbuf e2;
            if (parts[i])
                continue;
            if (twin[i] != SIZE_MAX && parts[twin[i]]) {
                rn_partition_ref(parts[twin[i]]);
                parts[i] = parts[twin[i]];
                continue;
            }
            if (fetch_one(c, job_id, ji->capability, r, &parts[i], &ferr) == 0)
                continue;
            missing++;
            mr.job_id = (char *)job_id;
            mr.task_id = r->task_id;
            mr.address = r->address;
            rn_rpc_unary_pb(c->ch, RN_M_REPORT_MISSING, &mr,
                            &runnel__v1__job_info__descriptor, (void **)&ack,
                            CALL_TIMEOUT_MS, &e2);
            rn_pb_free(ack);
        }
        if (!missing)
            break;
        if (round + 1 >= FETCH_ROUNDS) {
            rc = rn_error_set(err, RN_EREMOTE, "job %s: cannot fetch its results: "
                                               "%s",
                              job_id, ferr.msg);
            goto done;
        }
        if (progress)
            fprintf(stderr, "runnel: %zu result(s) lost (%s): recomputing\n",
                    missing, ferr.msg);
    }
    *out = ji;
    *out_parts = parts;
    ji = NULL;
    parts = NULL;
done:
    for (size_t i = 0; parts && i < n; i++)
        rn_partition_unref(parts[i]);
    rn_free(parts);
    rn_free(twin);
    rn_pb_free(ji);
    return rc;
}

int rn_client_results(rn_client *c, const char *job_id, int progress,
                      rn_run_result *res, rn_errbuf *err)
{
    Runnel__V1__JobInfo *ji = NULL;
    rn_partition **parts = NULL;
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = fetch_results(c, job_id, progress, &ji, &parts, err)))
        return rc;
    res->parts = parts;
    res->n_parts = ji->n_results;
    res->bytes_read = ji->bytes_read;
    res->tasks = ji->tasks_total;
    res->seconds = ji->seconds;
    rn_pb_free(ji);
    return 0;
}

int rn_client_graph_results(rn_client *c, const char *job_id, int progress,
                            const rn_pgraph *g, const rn_graph_out *out,
                            rn_run_result *res, rn_errbuf *err)
{
    Runnel__V1__JobInfo *ji = NULL;
    rn_partition **parts = NULL;
    size_t at = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = fetch_results(c, job_id, progress, &ji, &parts, err)))
        return rc;
    if (ji->n_results && ji->results[ji->n_results - 1]->output >= g->n_outputs) {
        rc = rn_error_set(err, RN_EREMOTE, "job %s: a result of output %u, of "
                                           "%zu",
                          job_id, ji->results[ji->n_results - 1]->output,
                          g->n_outputs);
        goto done;
    }
    /* the outputs in their order, each after its own header */
    for (size_t o = 0; o < g->n_outputs && rc == 0; o++) {
        size_t first = at;
        if ((rc = out->begin(out->ud, o)))
            break;
        for (; at < ji->n_results && ji->results[at]->output == o && rc == 0; at++)
            for (size_t i = 0; i < parts[at]->n && rc == 0; i++)
                rc = out->value(out->ud, &parts[at]->items[i]);
        if (rc == 0)
            rc = out->end(out->ud, o, at - first);
    }
    res->bytes_read = ji->bytes_read;
    res->tasks = ji->tasks_total;
    res->seconds = ji->seconds;
done:
    for (size_t i = 0; i < ji->n_results; i++)
        rn_partition_unref(parts[i]);
    rn_free(parts);
    rn_pb_free(ji);
    return rc;
}

int rn_client_job(rn_client *c, const char *method, const char *job_id,
                  Runnel__V1__JobInfo **out, rn_errbuf *err)
{
    Runnel__V1__JobRequest req = RUNNEL__V1__JOB_REQUEST__INIT;
    req.job_id = (char *)job_id;
    return rn_rpc_unary_pb(c->ch, method, &req, &runnel__v1__job_info__descriptor,
                           (void **)out, CALL_TIMEOUT_MS, err);
}

int rn_client_jobs(rn_client *c, Runnel__V1__ListJobsReply **out, rn_errbuf *err)
{
    Runnel__V1__ListJobsRequest req = RUNNEL__V1__LIST_JOBS_REQUEST__INIT;
    return rn_rpc_unary_pb(c->ch, RN_M_LIST_JOBS, &req,
                           &runnel__v1__list_jobs_reply__descriptor, (void **)out,
                           CALL_TIMEOUT_MS, err);
}

/* We have what we wanted of the job (or gave up): workers may drop it. */
static void release_job(rn_client *c, const char *job)
{
    Runnel__V1__JobInfo *ji = NULL;
    rn_errbuf e2;
    if (rn_client_job(c, RN_M_RELEASE_JOB, job, &ji, &e2) == 0)
        rn_pb_free(ji);
}

int rn_client_run(rn_client *c, const rn_manifest *m, rn_registry *reg,
                  rn_plan *plan, int progress, rn_run_result *res,
                  rn_errbuf *err)
{
    char job[32];
    int rc;
    if ((rc = rn_client_submit(c, m, reg, plan, 0, job, err)))
        return rc;
    rc = rn_client_results(c, job, progress, res, err);
    release_job(c, job);
    return rc;
}

static void place_error(rn_plan *const *plans, size_t n_plans,
                        rn_errbuf *err);

int rn_client_run_graph(rn_client *c, const rn_manifest *m, rn_registry *reg,
                        rn_pgraph *g, int progress, const rn_graph_out *out,
                        rn_run_result *res, rn_errbuf *err)
{
    char job[32];
    int rc;
    if ((rc = rn_client_submit_graph(c, m, reg, g, 0, job, err)))
        return rc;
    rc = rn_client_graph_results(c, job, progress, g, out, res, err);
    release_job(c, job);
    if (rc == RN_EREMOTE)
        place_error(g->plans, g->n_plans, err);
    return rc;
}

/* A failed job's message names the operator that failed, as "X
 * (partition N)" (the worker's words) or "operator X" (the scheduler's):
 * when the manifest has one step X, its file:line:col goes first, as a
 * local run's error has it. */
static void place_error(rn_plan *const *plans, size_t n_plans,
                        rn_errbuf *err)
{
    static const char *const marks[] = {" (partition ", "operator "};
    for (size_t k = 0; k < 2; k++)
        for (size_t p = 0; p < n_plans; p++)
            for (size_t i = 0; i < plans[p]->n_ops; i++) {
                const char *l = plans[p]->ops[i].label, *at;
                char pat[160];
                const rn_mpos *pos;
                if (!l)
                    continue;
                snprintf(pat, sizeof(pat), k == 0 ? "%s%s" : "%2$s%1$s", l,
                         marks[k]);
                if (!(at = strstr(err->msg, pat)))
                    continue;
                if ((pos = rn_plan_position_of(plans, n_plans, l, strlen(l))))
                    rn_error_prefix(err, "%s:%u:%u: ",
                                    pos->file ? pos->file : "<manifest>",
                                    pos->line, pos->col);
                return;
            }
}

int rn_client_run_manifest(const char *url, const rn_rpc_tls *tls,
                           const rn_manifest *m,
                           rn_registry *reg, int quiet, int progress,
                           rn_plan **plan, rn_run_result *res, rn_errbuf *err)
{
    rn_client *c = NULL;
    int rc;
    *plan = NULL;
    rn_rpc_init();
    if ((rc = rn_client_open(url, tls, &c, err)) == 0) {
        rn_client_set_verbose(c, !quiet);
        if ((rc = rn_client_prepare(c, m, reg, err)) == 0 &&
            (rc = rn_plan_build(m, reg, plan, err)) == 0)
            rc = rn_client_run(c, m, reg, *plan, progress, res, err);
        if (rc == RN_EREMOTE && *plan)
            place_error(plan, 1, err);
    }
    rn_client_close(c);
    rn_rpc_shutdown();
    return rc;
}
