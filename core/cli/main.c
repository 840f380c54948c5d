/* runnel: entry point and subcommand dispatch. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "exec/ctx.h"

static const char usage[] =
    "usage: runnel <command> [options]\n"
    "\n"
    "Run map / filter / fold pipelines over text, JSON lines and Avro, on\n"
    "this machine or on a cluster.\n"
    "\n"
    "Pipelines:\n"
    "  run MANIFEST        run a pipeline (local embedded cluster by default)\n"
    "  lint MANIFEST       validate a manifest without running it\n"
    "\n"
    "Plugins:\n"
    "  plugin inspect SO   show a plugin's ABI, identity and operators\n"
    "  plugin list         list the plugins available here\n"
    "  plugin push SO      push a plugin to a cluster (--scheduler)\n"
    "\n"
    "Cluster:\n"
    "  scheduler           run the scheduler daemon\n"
    "  worker URL          run a worker daemon\n"
    "  info                show the cluster (like Dask's scheduler_info())\n"
    "  submit MANIFEST     submit a job, print its id\n"
    "  jobs | status JOB | cancel JOB\n"
    "\n"
    "Security (mutual TLS):\n"
    "  security init DIR   create the cluster's CA\n"
    "  security issue DIR  issue a scheduler/worker/client/admin certificate\n"
    "  security show DIR   describe a certificate\n"
    "\n"
    "Every command has --help. Global: --version, --help.\n";

int rn_cli_is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

int rn_cli_fail(const rn_errbuf *err)
{
    fprintf(stderr, "runnel: %s\n", err->msg[0] ? err->msg : "failed");
    return 1;
}

int rn_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "runnel %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'runnel %s --help')\n", cmd);
    return 2;
}

rn_registry *rn_cli_registry(void)
{
    rn_registry *reg = rn_registry_new();
    rn_errbuf err;
    rn_error_clear(&err);
    if (!reg) {
        fprintf(stderr, "runnel: out of memory\n");
        return NULL;
    }
    if (rn_registry_add_shipped(reg, &err))
        fprintf(stderr, "runnel: warning: shipped plugins: %s\n", err.msg);
    return reg;
}

int main(int argc, char **argv)
{
    const char *cmd;
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    cmd = argv[1];
    if (rn_cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("runnel %s (plugin ABI %d.%d)\n", RN_VERSION, RN_ABI_MAJOR,
               RN_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "-v") == 0 || strcmp(cmd, "--verbose") == 0) {
        rn_log_set_level(RN_LOG_DEBUG);
        argv++;
        argc--;
        if (argc < 2) {
            fputs(usage, stderr);
            return 2;
        }
        cmd = argv[1];
    }
    if (strcmp(cmd, "run") == 0)
        return rn_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "lint") == 0)
        return rn_cmd_lint(argc - 1, argv + 1);
    if (strcmp(cmd, "plugin") == 0)
        return rn_cmd_plugin(argc - 1, argv + 1);
    if (strcmp(cmd, "security") == 0)
        return rn_cmd_security(argc - 1, argv + 1);
    if (strcmp(cmd, "scheduler") == 0 || strcmp(cmd, "worker") == 0 ||
        strcmp(cmd, "info") == 0 || strcmp(cmd, "submit") == 0 ||
        strcmp(cmd, "jobs") == 0 || strcmp(cmd, "status") == 0 ||
        strcmp(cmd, "cancel") == 0)
        return rn_cmd_cluster(cmd, argc - 1, argv + 1);
    fprintf(stderr, "runnel: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
