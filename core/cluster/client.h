/*
 * The client side of a cluster: what `runnel run --scheduler`, `submit`,
 * `jobs`, `status`, `cancel`, `info` and `plugin push|list --scheduler`
 * do over the scheduler's API (docs/PROTOCOL.md).
 *
 * A job is sent as jobspec.h describes: the client validates the manifest
 * and plans the source's splits itself, pushes the plugins the manifest
 * names by path (only those the scheduler lacks: a second run pushes
 * nothing) and sends the manifest with those paths turned into sha256 ids.
 * Results are fetched from the workers that hold them, in order; one a
 * worker lost on the way is recomputed and fetched again. A manifest
 * with datasets is sent as its graph of pipelines (jobspec.h) and its
 * results come per output, as the local run gives them.
 *
 * Ownership: messages returned are freed with rn_pb_free. One thread at a
 * time per client. Needs rn_rpc_init.
 */
#ifndef RN_CLUSTER_CLIENT_H
#define RN_CLUSTER_CLIENT_H

#include "base/error.h"
#include "exec/local.h"
#include "manifest/manifest.h"
#include "plan/graph.h"
#include "plan/plan.h"
#include "plugin/registry.h"
#include "transport/rpc.h"

#include "runnel_scheduler.pb-c.h"

typedef struct rn_client rn_client;

/* url: "tcp://HOST:PORT", or "tls://HOST:PORT" with tls (our client or
 * admin certificate; the caller keeps it alive while c lives). Connects
 * lazily: errors show on first use. */
int rn_client_open(const char *url, const rn_rpc_tls *tls, rn_client **out,
                   rn_errbuf *err);
void rn_client_close(rn_client *c); /* NULL ok */
/* Messages about pushed plugins on stderr (default on). */
void rn_client_set_verbose(rn_client *c, int verbose);

int rn_client_info(rn_client *c, Runnel__V1__InfoReply **out, rn_errbuf *err);

/* Validates the plugin (loads it here, as a worker would) and pushes it
 * unless the scheduler has it; *pushed says whether bytes were sent. */
int rn_client_push_plugin(rn_client *c, const char *path, char id[65],
                          int *pushed, rn_errbuf *err);
int rn_client_list_plugins(rn_client *c, Runnel__V1__ListPluginsReply **out,
                           rn_errbuf *err);

/* Before planning: makes every plugin m names by `sha256:` id loadable
 * here (fetched from the scheduler into the client's cache dir:
 * $RUNNEL_CACHE_DIR, else $XDG_CACHE_HOME/runnel, else ~/.cache/runnel). */
int rn_client_prepare(rn_client *c, const rn_manifest *m, rn_registry *reg,
                      rn_errbuf *err);

/* Submits the job of manifest m (plan built from it with reg). */
int rn_client_submit(rn_client *c, const rn_manifest *m, rn_registry *reg,
                     rn_plan *plan, int detached, char job_id[32],
                     rn_errbuf *err);
/* Submits the job of manifest m with datasets (g built from it with reg):
 * its graph of pipelines, with every source's splits planned here. */
int rn_client_submit_graph(rn_client *c, const rn_manifest *m,
                           rn_registry *reg, rn_pgraph *g, int detached,
                           char job_id[32], rn_errbuf *err);
/* Follows a job to its end (a progress bar on stderr when progress).
 * Returns its final info; a failed or cancelled job is also an error
 * (RN_EREMOTE / RN_ECANCELED with the job's message) with *out set. */
int rn_client_wait(rn_client *c, const char *job_id, int progress,
                   Runnel__V1__JobInfo **out, rn_errbuf *err);
/* submit + wait + fetch the results + release: what `run` does. */
int rn_client_run(rn_client *c, const rn_manifest *m, rn_registry *reg,
                  rn_plan *plan, int progress, rn_run_result *res,
                  rn_errbuf *err);
/* All of `runnel run --scheduler url`: prepare, plan (*plan, the
 * caller's), run; messages about pushes unless quiet. */
int rn_client_run_manifest(const char *url, const rn_rpc_tls *tls,
                           const rn_manifest *m,
                           rn_registry *reg, int quiet, int progress,
                           rn_plan **plan, rn_run_result *res, rn_errbuf *err);

/* The results of a done job (waits while it is recomputed). */
int rn_client_results(rn_client *c, const char *job_id, int progress,
                      rn_run_result *res, rn_errbuf *err);
/* The same for a job of datasets (g, the graph it was submitted from):
 * every output's values handed to out, output after output, as the local
 * run hands them (exec/local.h), once all are fetched; res gets the
 * totals (tasks, bytes read, seconds), no partitions. */
int rn_client_graph_results(rn_client *c, const char *job_id, int progress,
                            const rn_pgraph *g, const rn_graph_out *out,
                            rn_run_result *res, rn_errbuf *err);
/* submit_graph + wait + graph_results + release: what `run` does with
 * a manifest of datasets. */
int rn_client_run_graph(rn_client *c, const rn_manifest *m, rn_registry *reg,
                        rn_pgraph *g, int progress, const rn_graph_out *out,
                        rn_run_result *res, rn_errbuf *err);

int rn_client_job(rn_client *c, const char *method, const char *job_id,
                  Runnel__V1__JobInfo **out, rn_errbuf *err);
int rn_client_jobs(rn_client *c, Runnel__V1__ListJobsReply **out,
                   rn_errbuf *err);

#endif
