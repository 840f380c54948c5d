/* runnel run / runnel lint */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "cluster/client.h"
#include "exec/local.h"
#include "base/budget.h"
#include "spill/dir.h"
#include "manifest/manifest.h"
#include "plan/graph.h"
#include "plan/plan.h"
#include "value/value.h"

static const char run_usage[] =
    "usage: runnel run MANIFEST [--threads N] [--workers N] [--json] [--quiet]\n"
    "                           [--memory-limit SIZE] [--local-dir DIR]\n"
    "                           [--scheduler URL [--tls DIR] | --local]\n"
    "\n"
    "Runs the pipeline in MANIFEST. Without --scheduler (and without\n"
    "$RUNNEL_SCHEDULER) it runs on an embedded local cluster in this\n"
    "process. Without a sink the result is printed on stdout, one element\n"
    "per line as JSON; with a sink, where it wrote. Progress and logs go to\n"
    "stderr. A manifest with `datasets` and `outputs` (docs/MANIFEST.md)\n"
    "prints its outputs in their order, each after a line '# NAME' when\n"
    "there are several, here or on a cluster alike.\n"
    "\n"
    "  --threads N    threads per local worker (default: one per core)\n"
    "  --workers N    local workers (default 1); threads = workers x threads\n"
    "  --json         print one JSON object: {\"name\", \"result\": [...],\n"
    "                 \"partitions\", \"tasks\", \"bytes_read\", \"seconds\",\n"
    "                 \"spilled\": {\"bytes\", \"files\"}} (spilled: by this\n"
    "                 process to stay within --memory-limit)\n"
    "  --quiet        no progress bar and no summary on stderr\n"
    "  --scheduler U  run on the cluster at U (tcp://HOST:PORT, tls://...;\n"
    "                 default $RUNNEL_SCHEDULER): plugins named by path\n"
    "                 are pushed there (once, by hash); --threads and\n"
    "                 --workers do not apply\n"
    "  --local        run here even when RUNNEL_SCHEDULER is set\n"
    "  --memory-limit SIZE  the memory this run may use (64MiB, 2GB...; 0:\n"
    "                 none): keyed tables (frequencies, distinct, foldby)\n"
    "                 past their share spill to --local-dir and are merged\n"
    "                 back; a task that still needs more fails with an\n"
    "                 error naming the limit. Default: 3/4 of the machine's\n"
    "                 or cgroup's memory\n"
    "  --local-dir DIR  where spill files go (default $TMPDIR/runnel-UID);\n"
    "                 removed when the run ends\n"
    "  --tls DIR      a client certificate for a tls:// scheduler (default\n"
    "                 $RUNNEL_TLS): runnel security issue --role client\n"
    "\n"
    "Exit status: 0 done, 1 the manifest or a task failed, 2 wrong usage.\n";

static const char lint_usage[] =
    "usage: runnel lint MANIFEST\n"
    "\n"
    "Validates MANIFEST without running anything: YAML syntax, keys,\n"
    "${VAR} substitution, plugins, operator names and kinds, parameter\n"
    "names, types and bounds, and the shape of the pipeline; with\n"
    "`datasets`, the graph too (unknown names, cycles; datasets no output\n"
    "reads are warned about). Errors are printed as file:line:col:\n"
    "message. Prints the plan when it is valid.\n";

static int parse_int_arg(const char *cmd, const char *opt, const char *s,
                         int lo, int hi, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return rn_cli_usage_error(cmd, "%s: expected a number from %d to %d, got '%s'",
                                  opt, lo, hi, s);
    *out = (int)v;
    return 0;
}

/* The result on stdout: one JSON value per line, or one JSON object
 * with --json. Values come from the collected partitions, or one by one
 * while the run goes (a fold's result, however large: see
 * rn_run_opts.result_fn); written in pieces of 1 MiB. */
typedef struct printer {
    rn_buf b;
    int json, begun, failed;
    size_t k;         /* values printed */
    uint64_t partitions;
    const rn_plan *plan;
} printer;

static int flush_out(printer *pr, size_t at_least)
{
    if (pr->b.len < at_least)
        return 0;
    if (pr->b.len && fwrite(pr->b.ptr, 1, pr->b.len, stdout) != pr->b.len) {
        pr->failed = 1;
        return RN_EIO;
    }
    rn_buf_reset(&pr->b);
    return 0;
}

static int print_value(void *ud, const rn_value *v)
{
    printer *pr = ud;
    int rc;
    if (!pr->begun && pr->json) {
        rn_value name = rn_string(pr->plan->display_name,
                                  strlen(pr->plan->display_name));
        rn_buf_puts(&pr->b, "{\"name\": ");
        rn_value_to_json(&pr->b, &name);
        rn_buf_puts(&pr->b, ", \"result\": [");
    }
    pr->begun = 1;
    if (!v)
        return 0;
    if (pr->json && pr->k)
        rn_buf_puts(&pr->b, ", ");
    if ((rc = rn_value_to_json(&pr->b, v)))
        return rc;
    if (!pr->json)
        rn_buf_putc(&pr->b, '\n');
    pr->k++;
    return flush_out(pr, (size_t)1 << 20);
}

static int write_result(printer *pr, const rn_run_result *res)
{
    int rc = 0;
    print_value(pr, NULL); /* the JSON head even without a value */
    for (size_t p = 0; p < res->n_parts && rc == 0; p++)
        for (size_t i = 0; i < res->parts[p]->n && rc == 0; i++)
            rc = print_value(pr, &res->parts[p]->items[i]);
    if (rc == 0 && pr->json) {
        /* what this process wrote to disk to stay within its memory */
        uint64_t sb, sf;
        rn_budget_spill_stats(&sb, &sf);
        rn_buf_printf(&pr->b,
                      "], \"partitions\": %llu, \"tasks\": %llu, "
                      "\"bytes_read\": %llu, \"seconds\": %.3f, "
                      "\"spilled\": {\"bytes\": %llu, \"files\": %llu}}\n",
                      (unsigned long long)(res->n_parts ? res->n_parts
                                                        : pr->partitions),
                      (unsigned long long)res->tasks,
                      (unsigned long long)res->bytes_read, res->seconds,
                      (unsigned long long)sb, (unsigned long long)sf);
    }
    if (rc == 0)
        rc = flush_out(pr, 0);
    if (rc == 0 && fflush(stdout) != 0)
        rc = RN_EIO;
    return rc;
}

/* ---- a manifest with datasets: its outputs in order ------------------
 * Plain: one output prints as a plain manifest does; with several, each
 * output's lines follow a header line "# LABEL" (no JSON value starts
 * with '#', so the stream stays unambiguous). --json: {"name",
 * "outputs": [{"output": LABEL, "result": [...], "partitions": N}...],
 * "tasks", "bytes_read", "seconds", "spilled"}. */
typedef struct gprinter {
    printer pr;
    const rn_pgraph *g;
} gprinter;

static int graph_begin(void *ud, size_t k)
{
    gprinter *gp = ud;
    printer *pr = &gp->pr;
    const char *label = gp->g->outputs[k].label;
    rn_value lv = rn_string(label, strlen(label));
    if (pr->json) {
        if (k == 0) {
            rn_value name = rn_string(gp->g->display_name,
                                      strlen(gp->g->display_name));
            rn_buf_puts(&pr->b, "{\"name\": ");
            rn_value_to_json(&pr->b, &name);
            rn_buf_puts(&pr->b, ", \"outputs\": [");
        } else {
            rn_buf_puts(&pr->b, ", ");
        }
        rn_buf_puts(&pr->b, "{\"output\": ");
        rn_value_to_json(&pr->b, &lv);
        rn_buf_puts(&pr->b, ", \"result\": [");
    } else if (gp->g->n_outputs > 1) {
        rn_buf_printf(&pr->b, "# %s\n", label);
    }
    pr->begun = 1;
    pr->k = 0;
    return flush_out(pr, (size_t)1 << 20);
}

static int graph_value(void *ud, const rn_value *v)
{
    return print_value(&((gprinter *)ud)->pr, v);
}

static int graph_end(void *ud, size_t k, uint64_t partitions)
{
    printer *pr = &((gprinter *)ud)->pr;
    (void)k;
    if (pr->json)
        rn_buf_printf(&pr->b, "], \"partitions\": %llu}",
                      (unsigned long long)partitions);
    return flush_out(pr, (size_t)1 << 20);
}

/* Runs a manifest with datasets (plan/graph.h): here, or on the cluster
 * at `scheduler` (tls: our certificate, or NULL). The same graph, the
 * same output. */
static int run_graph(const rn_manifest *m, rn_registry *reg,
                     rn_run_opts *opts, int json, int quiet,
                     const char *scheduler, const rn_rpc_tls *tls,
                     rn_errbuf *err)
{
    rn_pgraph *g = NULL;
    rn_client *c = NULL;
    gprinter gp;
    rn_graph_out out;
    rn_run_result res;
    int rc;

    memset(&gp, 0, sizeof(gp));
    memset(&res, 0, sizeof(res));
    rn_buf_init(&gp.pr.b, 0);
    if (scheduler) {
        /* plugins named by id are fetched before the graph is planned */
        rn_rpc_init();
        if ((rc = rn_client_open(scheduler, tls, &c, err)))
            goto done;
        rn_client_set_verbose(c, !quiet);
        if ((rc = rn_client_prepare(c, m, reg, err)))
            goto done;
    }
    if ((rc = rn_pgraph_build(m, reg, &g, err)))
        goto done;
    if (!quiet)
        for (size_t i = 0; i < g->n_warnings; i++)
            fprintf(stderr, "runnel: %s\n", g->warnings[i]);
    gp.g = g;
    gp.pr.json = json;
    out.begin = graph_begin;
    out.value = graph_value;
    out.end = graph_end;
    out.ud = &gp;
    if (c)
        rc = rn_client_run_graph(c, m, reg, g, opts->progress, &out, &res, err);
    else
        rc = rn_local_run_graph(g, opts, &out, &res, err);
    if (rc)
        goto done;
    if (json) {
        uint64_t sb, sf;
        rn_budget_spill_stats(&sb, &sf);
        rn_buf_printf(&gp.pr.b,
                      "], \"tasks\": %llu, \"bytes_read\": %llu, "
                      "\"seconds\": %.3f, \"spilled\": {\"bytes\": %llu, "
                      "\"files\": %llu}}\n",
                      (unsigned long long)res.tasks,
                      (unsigned long long)res.bytes_read, res.seconds,
                      (unsigned long long)sb, (unsigned long long)sf);
    }
    if ((rc = flush_out(&gp.pr, 0)) == 0 && fflush(stdout) != 0)
        rc = RN_EIO;
    if (rc) {
        rn_error_set(err, rc, "cannot write the result to stdout");
        goto done;
    }
    if (!quiet && isatty(STDERR_FILENO))
        fprintf(stderr, "runnel: %s: %llu tasks, %.1f MiB read, %.2f s\n",
                g->display_name, (unsigned long long)res.tasks,
                (double)res.bytes_read / 1048576.0, res.seconds);
done:
    if (rc && gp.pr.failed)
        rn_error_set(err, RN_EIO, "cannot write the result to stdout");
    if (rc)
        rn_pgraph_redact(g, err); /* a ${VAR} value is never printed */
    if (scheduler) {
        rn_client_close(c);
        rn_rpc_shutdown();
    }
    rn_pgraph_free(g);
    rn_buf_release(&gp.pr.b);
    return rc;
}

int rn_cmd_run(int argc, char **argv)
{
    const char *path = NULL, *scheduler = NULL, *val, *tls_dir = NULL;
    rn_cli_tls tls;
    printer pr;
    int64_t mem_limit = -1;
    const char *local_dir = NULL;
    rn_spill_dir *spill = NULL;
    char tmp_local[4096];
    int threads = 0, workers = 1, json = 0, quiet = 0, local = 0, rc, status = 1;
    rn_manifest *m = NULL;
    rn_registry *reg = NULL;
    rn_plan *plan = NULL;
    rn_run_result res;
    rn_run_opts opts;
    rn_errbuf err;

    memset(&res, 0, sizeof(res));
    memset(&tls, 0, sizeof(tls));
    memset(&pr, 0, sizeof(pr));
    memset(&opts, 0, sizeof(opts));
    rn_buf_init(&pr.b, 0);

    rn_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        int r;
        if (rn_cli_is_help(argv[i])) {
            fputs(run_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(argv[i], "--local") == 0) {
            local = 1;
            continue;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--threads", &val))) {
            if (r < 0)
                return rn_cli_usage_error("run", "--threads needs a value");
            if (parse_int_arg("run", "--threads", val, 1, 1024, &threads))
                return 2;
            continue;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--workers", &val))) {
            if (r < 0)
                return rn_cli_usage_error("run", "--workers needs a value");
            if (parse_int_arg("run", "--workers", val, 1, 256, &workers))
                return 2;
            continue;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--scheduler", &val))) {
            if (r < 0)
                return rn_cli_usage_error("run", "--scheduler needs a URL");
            scheduler = val;
            continue;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--local-dir", &val))) {
            if (r < 0)
                return rn_cli_usage_error("run", "--local-dir needs a directory");
            local_dir = val;
            continue;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--memory-limit", &val))) {
            int64_t b;
            if (r < 0 || rn_parse_size(val, strlen(val), &b) || b < 0)
                return rn_cli_usage_error("run", "--memory-limit: expected a size "
                                                 "(4GiB, 512MB, bytes; 0: none)");
            mem_limit = b;
            continue;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--tls", &val))) {
            if (r < 0)
                return rn_cli_usage_error("run", "--tls needs a directory");
            tls_dir = val;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return rn_cli_usage_error("run", "unknown option '%s'", argv[i]);
        if (path)
            return rn_cli_usage_error("run", "more than one manifest given");
        path = argv[i];
    }
    if (!path)
        return rn_cli_usage_error("run", "no manifest given");
    if (local && scheduler)
        return rn_cli_usage_error("run", "--local and --scheduler contradict "
                                         "each other");
    if (!local && !scheduler && (scheduler = getenv("RUNNEL_SCHEDULER")) &&
        !*scheduler)
        scheduler = NULL;
    if ((rc = rn_manifest_load(path, &m, &err)))
        goto done;
    if (!(reg = rn_cli_registry()))
        goto done;
    /* the engine's memory budget: keyed tables spill past their share,
     * a task that cannot fit fails in words instead of being killed */
    rn_budget_set_limit(mem_limit >= 0 ? (uint64_t)mem_limit : rn_budget_default());
    if (!scheduler) {
        /* keyed tables past their share spill here; what a killed run
         * left is swept first */
        if (!local_dir) {
            const char *t = getenv("TMPDIR");
            snprintf(tmp_local, sizeof(tmp_local), "%s/runnel-%u",
                     t && *t ? t : "/tmp", (unsigned)getuid());
            local_dir = tmp_local;
        }
        rn_spill_dir_sweep(local_dir, NULL, &err);
        rn_error_clear(&err);
        if ((rc = rn_spill_dir_open(&spill, local_dir, NULL, &err)) ||
            (rc = rn_budget_set_spill_dir(rn_spill_dir_path(spill)))) {
            rn_error_prefix(&err, "--local-dir %s: ", local_dir);
            goto done;
        }
    }
    opts.threads = (threads ? threads : rn_cpu_count()) * workers;
    opts.progress = !quiet && isatty(STDERR_FILENO);
    if (scheduler && rn_cli_tls_load(tls_dir, RN_CLI_CLIENT_ROLES, &tls))
        goto done;
    if (m->n_datasets) {
        if (run_graph(m, reg, &opts, json, quiet, scheduler,
                      scheduler ? rn_cli_tls_rpc(&tls) : NULL, &err) == 0)
            status = 0;
        goto done;
    } else if (scheduler) {
        /* on the cluster: the same plan, the same output */
        if ((rc = rn_client_run_manifest(scheduler, rn_cli_tls_rpc(&tls), m, reg,
                                         quiet, opts.progress, &plan, &res, &err)))
            goto done;
    } else {
        if ((rc = rn_plan_build(m, reg, &plan, &err)))
            goto done;
        /* a fold's result goes out as it is finished: it may be larger
         * than the memory limit */
        pr.plan = plan;
        pr.json = json;
        pr.partitions = 1;
        opts.result_fn = print_value;
        opts.result_ud = &pr;
        if ((rc = rn_local_run(plan, &opts, &res, &err)))
            goto done;
    }
    pr.plan = plan;
    pr.json = json;
    if ((rc = write_result(&pr, &res))) {
        rn_error_set(&err, rc, "cannot write the result to stdout");
        goto done;
    }
    if (!quiet && isatty(STDERR_FILENO))
        fprintf(stderr, "runnel: %s: %llu tasks, %.1f MiB read, %.2f s\n",
                plan->display_name, (unsigned long long)res.tasks,
                (double)res.bytes_read / 1048576.0, res.seconds);
    status = 0;
done:
    if (plan)
        rn_plan_redact(plan, &err); /* a ${VAR} value is never printed */
    if (status && err.msg[0])
        rn_cli_fail(&err);
    rn_run_result_release(&res);
    rn_plan_free(plan);
    rn_registry_free(reg);
    rn_manifest_free(m);
    rn_cli_tls_release(&tls);
    rn_budget_set_spill_dir(NULL);
    rn_spill_dir_free(spill);
    rn_buf_release(&pr.b);
    return status;
}

int rn_cmd_lint(int argc, char **argv)
{
    const char *path = NULL;
    rn_manifest *m = NULL;
    rn_registry *reg = NULL;
    rn_plan *plan = NULL;
    rn_pgraph *graph = NULL;
    rn_errbuf err;
    rn_buf out;
    int status = 1;

    rn_error_clear(&err);
    rn_buf_init(&out, 0);
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(lint_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return rn_cli_usage_error("lint", "unknown option '%s'", argv[i]);
        if (path)
            return rn_cli_usage_error("lint", "more than one manifest given");
        path = argv[i];
    }
    if (!path)
        return rn_cli_usage_error("lint", "no manifest given");
    if (rn_manifest_load(path, &m, &err))
        goto done;
    if (!(reg = rn_cli_registry()))
        goto done;
    if (m->n_datasets) {
        if (rn_pgraph_build(m, reg, &graph, &err))
            goto done;
        for (size_t i = 0; i < graph->n_warnings; i++)
            fprintf(stderr, "%s\n", graph->warnings[i]);
        rn_pgraph_describe(graph, &out);
    } else {
        if (rn_plan_build(m, reg, &plan, &err))
            goto done;
        rn_plan_describe(plan, &out);
    }
    printf("%s: ok\n%s", path, out.ptr ? out.ptr : "");
    status = 0;
done:
    if (status && err.msg[0])
        fprintf(stderr, "%s\n", err.msg);
    rn_buf_release(&out);
    rn_pgraph_free(graph);
    rn_plan_free(plan);
    rn_registry_free(reg);
    rn_manifest_free(m);
    return status;
}
