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
#include "manifest/manifest.h"
#include "plan/plan.h"
#include "value/value.h"

static const char run_usage[] =
    "usage: runnel run MANIFEST [--threads N] [--workers N] [--json] [--quiet]\n"
    "                           [--memory-limit SIZE]\n"
    "                           [--scheduler URL [--tls DIR] | --local]\n"
    "\n"
    "Runs the pipeline in MANIFEST. Without --scheduler (and without\n"
    "$RUNNEL_SCHEDULER) it runs on an embedded local cluster in this\n"
    "process. Without a sink the result is printed on stdout, one element\n"
    "per line as JSON; with a sink, where it wrote. Progress and logs go to\n"
    "stderr.\n"
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
    "                 none): a task that needs more fails with an error\n"
    "                 naming it. Default: 3/4 of the machine's or cgroup's\n"
    "                 memory\n"
    "  --tls DIR      a client certificate for a tls:// scheduler (default\n"
    "                 $RUNNEL_TLS): runnel security issue --role client\n"
    "\n"
    "Exit status: 0 done, 1 the manifest or a task failed, 2 wrong usage.\n";

static const char lint_usage[] =
    "usage: runnel lint MANIFEST\n"
    "\n"
    "Validates MANIFEST without running anything: YAML syntax, keys,\n"
    "${VAR} substitution, plugins, operator names and kinds, parameter\n"
    "names, types and bounds, and the shape of the pipeline. Errors are\n"
    "printed as file:line:col: message. Prints the plan when it is valid.\n";

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

static int write_result(const rn_plan *plan, const rn_run_result *res,
                        int json)
{
    rn_buf b;
    int rc = 0;
    rn_buf_init(&b, 0);
    if (json) {
        rn_value name = rn_string(plan->display_name, strlen(plan->display_name));
        rn_buf_puts(&b, "{\"name\": ");
        rn_value_to_json(&b, &name);
        rn_buf_puts(&b, ", \"result\": [");
    }
    size_t k = 0;
    for (size_t p = 0; p < res->n_parts; p++) {
        const rn_partition *part = res->parts[p];
        for (size_t i = 0; i < part->n; i++, k++) {
            if (json && k)
                rn_buf_puts(&b, ", ");
            if ((rc = rn_value_to_json(&b, &part->items[i])))
                goto done;
            if (!json)
                rn_buf_putc(&b, '\n');
            if (b.len >= (1 << 20)) {
                if (fwrite(b.ptr, 1, b.len, stdout) != b.len) {
                    rc = RN_EIO;
                    goto done;
                }
                rn_buf_reset(&b);
            }
        }
    }
    if (json) {
        /* what this process wrote to disk to stay within its memory */
        uint64_t sb, sf;
        rn_budget_spill_stats(&sb, &sf);
        rn_buf_printf(&b,
                      "], \"partitions\": %zu, \"tasks\": %llu, "
                      "\"bytes_read\": %llu, \"seconds\": %.3f, "
                      "\"spilled\": {\"bytes\": %llu, \"files\": %llu}}\n",
                      res->n_parts, (unsigned long long)res->tasks,
                      (unsigned long long)res->bytes_read, res->seconds,
                      (unsigned long long)sb, (unsigned long long)sf);
    }
    if (b.len && fwrite(b.ptr, 1, b.len, stdout) != b.len)
        rc = RN_EIO;
done:
    rn_buf_release(&b);
    if (fflush(stdout) != 0)
        rc = RN_EIO;
    return rc;
}

int rn_cmd_run(int argc, char **argv)
{
    const char *path = NULL, *scheduler = NULL, *val, *tls_dir = NULL;
    rn_cli_tls tls;
    int64_t mem_limit = -1;
    int threads = 0, workers = 1, json = 0, quiet = 0, local = 0, rc, status = 1;
    rn_manifest *m = NULL;
    rn_registry *reg = NULL;
    rn_plan *plan = NULL;
    rn_run_result res;
    rn_run_opts opts;
    rn_errbuf err;

    memset(&res, 0, sizeof(res));
    memset(&tls, 0, sizeof(tls));
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
    opts.threads = (threads ? threads : rn_cpu_count()) * workers;
    opts.progress = !quiet && isatty(STDERR_FILENO);
    if (scheduler) {
        /* on the cluster: the same plan, the same output */
        if (rn_cli_tls_load(tls_dir, RN_CLI_CLIENT_ROLES, &tls))
            goto done;
        if ((rc = rn_client_run_manifest(scheduler, rn_cli_tls_rpc(&tls), m, reg,
                                         quiet, opts.progress, &plan, &res, &err)))
            goto done;
    } else {
        if ((rc = rn_plan_build(m, reg, &plan, &err)))
            goto done;
        if ((rc = rn_local_run(plan, &opts, &res, &err)))
            goto done;
    }
    if ((rc = write_result(plan, &res, json))) {
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
    return status;
}

int rn_cmd_lint(int argc, char **argv)
{
    const char *path = NULL;
    rn_manifest *m = NULL;
    rn_registry *reg = NULL;
    rn_plan *plan = NULL;
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
    if (rn_plan_build(m, reg, &plan, &err))
        goto done;
    rn_plan_describe(plan, &out);
    printf("%s: ok\n%s", path, out.ptr ? out.ptr : "");
    status = 0;
done:
    if (status && err.msg[0])
        fprintf(stderr, "%s\n", err.msg);
    rn_buf_release(&out);
    rn_plan_free(plan);
    rn_registry_free(reg);
    rn_manifest_free(m);
    return status;
}
