/* runnel scheduler | worker | info | submit | jobs | status | cancel */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "cli/cli.h"
#include "cluster/client.h"
#include "scheduler/scheduler.h"
#include "cluster/worker.h"
#include "exec/ctx.h"
#include "exec/local.h"
#include "manifest/manifest.h"
#include "transport/methods.h"
#include "transport/rpc.h"

static const char scheduler_usage[] =
    "usage: runnel scheduler [--listen HOST:PORT] [--state-dir DIR]\n"
    "                        [--tls DIR] [--insecure] [--push-role ROLE]\n"
    "                        [--heartbeat-timeout DURATION]\n"
    "\n"
    "Runs the scheduler: workers register with it, clients submit jobs to\n"
    "it (runnel run --scheduler, submit, info...). Runs until SIGTERM or\n"
    "SIGINT; logs go to stderr.\n"
    "\n"
    "  --tls DIR                 mutual TLS with the certificates in DIR\n"
    "                            (ca.crt, tls.crt, tls.key of a scheduler:\n"
    "                            runnel security issue); default $RUNNEL_TLS.\n"
    "                            Every peer must then show a certificate of\n"
    "                            the same CA, and its role decides what it\n"
    "                            may do (docs/SECURITY.md)\n"
    "  --listen HOST:PORT        where to serve gRPC (default 0.0.0.0:8786\n"
    "                            with TLS, 127.0.0.1:8786 without)\n"
    "  --insecure                allow plaintext on an address beyond\n"
    "                            loopback: anyone who reaches it can run code\n"
    "                            on every worker\n"
    "  --push-role ROLE          who may push plugins: client (default: any\n"
    "                            client) or admin (only admins)\n"
    "  --state-dir DIR           keep pushed plugins in DIR/plugins, across\n"
    "                            restarts (default: a temporary directory)\n"
    "  --heartbeat-timeout D     a worker silent this long is lost and its\n"
    "                            work redone elsewhere (default 10s)\n"
    "  --dashboard HOST:PORT     accepted; the dashboard is not built yet\n";

static const char worker_usage[] =
    "usage: runnel worker tcp://HOST:PORT | tls://HOST:PORT [--tls DIR]\n"
    "                     [--nthreads N] [--memory-limit SIZE]\n"
    "                     [--local-dir DIR] [--name NAME] [--listen HOST:PORT]\n"
    "                     [--allow-path DIR]... [--insecure]\n"
    "\n"
    "Runs a worker for the scheduler at HOST:PORT (default\n"
    "$RUNNEL_SCHEDULER): it registers, runs tasks, serves its partitions to\n"
    "the other workers and reconnects with backoff when the scheduler goes\n"
    "away. SIGTERM (or SIGINT) retires it cleanly: its work is handed back\n"
    "to the scheduler. Without TLS the scheduler must be on this machine\n"
    "(tcp://127.0.0.1:PORT) unless --insecure.\n"
    "\n"
    "  --tls DIR             mutual TLS (tls:// address) with the worker\n"
    "                        certificate in DIR (ca.crt, tls.crt, tls.key);\n"
    "                        default $RUNNEL_TLS\n"
    "  --nthreads N          task threads (default: one per core)\n"
    "  --memory-limit SIZE   the worker's memory budget (64MiB, 2GB...;\n"
    "                        default: 3/4 of the machine's or cgroup's\n"
    "                        memory): past 85% no new task starts, a task\n"
    "                        that cannot fit fails with an error\n"
    "  --local-dir DIR       cache of fetched plugins (default: a temporary\n"
    "                        directory)\n"
    "  --name NAME           shown by runnel info (default: the address)\n"
    "  --listen HOST:PORT    where peers fetch partitions (default: any free\n"
    "                        port, on 0.0.0.0 with TLS, on 127.0.0.1 without)\n"
    "  --insecure            serve partitions in plaintext beyond loopback\n"
    "                        (a scheduler on another machine without TLS)\n"
    "  --allow-path DIR      jobs may read and write local files only under\n"
    "                        DIR (repeatable; default: wherever this user\n"
    "                        may, but never the worker's own --tls and\n"
    "                        --local-dir); paths must be absolute, without\n"
    "                        '..', and link-local addresses (cloud metadata)\n"
    "                        are never fetched\n";

static const char client_usage[] =
    "usage: runnel info --scheduler URL [--tls DIR] [--json]\n"
    "       runnel submit MANIFEST --scheduler URL [--tls DIR]\n"
    "       runnel jobs --scheduler URL [--tls DIR] [--json]\n"
    "       runnel status JOB --scheduler URL [--tls DIR] [--json] [--wait]\n"
    "       runnel cancel JOB --scheduler URL [--tls DIR] [--json]\n"
    "\n"
    "info    the cluster, like Dask's client.scheduler_info(): with --json one\n"
    "        object with the keys type, id, address, services, started and\n"
    "        workers (keyed by worker address)\n"
    "submit  sends a job and prints its id (it runs on without the client;\n"
    "        a sink says where the output goes)\n"
    "jobs    the jobs you submitted (every job with an admin certificate,\n"
    "        and without TLS)\n"
    "status  one job's state and progress; --wait follows it to its end\n"
    "cancel  stops a job\n"
    "\n"
    "--scheduler URL is tcp://HOST:PORT (plaintext) or tls://HOST:PORT\n"
    "(mutual TLS); default $RUNNEL_SCHEDULER. With tls://, --tls DIR\n"
    "(default $RUNNEL_TLS) holds a client or admin certificate (runnel\n"
    "security issue --role client): jobs belong to the certificate's name,\n"
    "and only it (or an admin) sees, fetches or cancels them.\n";

/* Blocks the signals a daemon waits for, before gRPC starts threads. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int daemon_log_level(void)
{
    if (rn_log_get_level() < RN_LOG_INFO)
        rn_log_set_level(RN_LOG_INFO);
    return 0;
}

static int cmd_scheduler(int argc, char **argv)
{
    rn_scheduler_opts o;
    rn_scheduler *s = NULL;
    rn_cli_tls tls;
    rn_errbuf err;
    sigset_t set;
    int sig = 0;
    const char *val, *tls_dir = NULL;

    memset(&o, 0, sizeof(o));
    for (int i = 1; i < argc; i++) {
        int r;
        if (rn_cli_is_help(argv[i])) {
            fputs(scheduler_usage, stdout);
            return 0;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--listen", &val))) {
            if (r < 0)
                return rn_cli_usage_error("scheduler", "--listen needs HOST:PORT");
            o.listen = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--state-dir", &val))) {
            if (r < 0)
                return rn_cli_usage_error("scheduler", "--state-dir needs a directory");
            o.state_dir = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--heartbeat-timeout", &val))) {
            int64_t ns;
            if (r < 0 || rn_parse_duration(val, strlen(val), &ns) || ns < 100000000LL ||
                ns > 3600LL * 1000000000LL)
                return rn_cli_usage_error("scheduler",
                                          "--heartbeat-timeout: expected a "
                                          "duration from 100ms to 1h");
            o.heartbeat_timeout_ms = (int)(ns / 1000000);
        } else if ((r = rn_cli_opt(argc, argv, &i, "--dashboard", &val))) {
            if (r < 0)
                return rn_cli_usage_error("scheduler", "--dashboard needs HOST:PORT");
            fprintf(stderr, "runnel: warning: --dashboard: the dashboard is not "
                            "built yet; ignored\n");
        } else if ((r = rn_cli_opt(argc, argv, &i, "--tls", &val))) {
            if (r < 0)
                return rn_cli_usage_error("scheduler", "--tls needs a directory");
            tls_dir = val;
        } else if (strcmp(argv[i], "--insecure") == 0) {
            o.insecure = 1;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--push-role", &val))) {
            if (r < 0 || (strcmp(val, "admin") != 0 && strcmp(val, "client") != 0))
                return rn_cli_usage_error("scheduler", "--push-role: expected "
                                                       "client or admin");
            o.push_admin_only = strcmp(val, "admin") == 0;
        } else {
            return rn_cli_usage_error("scheduler", "unknown argument '%s'", argv[i]);
        }
    }
    if (rn_cli_tls_load(tls_dir, 1u << RN_ROLE_SCHEDULER, &tls))
        return 1;
    if (tls.files && o.insecure) {
        rn_cli_tls_release(&tls);
        return rn_cli_usage_error("scheduler", "--insecure and --tls contradict "
                                               "each other");
    }
    if (o.push_admin_only && !tls.files)
        fprintf(stderr, "runnel: warning: --push-role admin means nothing "
                        "without --tls: plaintext peers have no role\n");
    o.tls = rn_cli_tls_rpc(&tls);
    daemon_log_level();
    block_signals(&set);
    rn_rpc_init();
    rn_error_clear(&err);
    if (rn_scheduler_start(&o, &s, &err)) {
        rn_rpc_shutdown();
        rn_cli_tls_release(&tls);
        return rn_cli_fail(&err);
    }
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        ; /* nothing to reload */
    rn_logf(RN_LOG_INFO, "scheduler: signal %d: stopping", sig);
    rn_scheduler_stop(s);
    rn_rpc_shutdown();
    rn_cli_tls_release(&tls);
    return 0;
}

static int cmd_worker(int argc, char **argv)
{
    rn_worker_opts o;
    rn_worker *w = NULL;
    const char *allow[64], *deny[1];
    rn_cli_tls tls;
    rn_errbuf err;
    sigset_t set;
    int sig = 0;
    const char *val, *tls_dir = NULL;

    memset(&o, 0, sizeof(o));
    for (int i = 1; i < argc; i++) {
        int r;
        if (rn_cli_is_help(argv[i])) {
            fputs(worker_usage, stdout);
            return 0;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--nthreads", &val))) {
            char *end;
            long n;
            errno = 0;
            n = r > 0 ? strtol(val, &end, 10) : 0;
            if (r < 0 || errno || *end || n < 1 || n > 1024)
                return rn_cli_usage_error("worker",
                                          "--nthreads: expected a number from 1 "
                                          "to 1024");
            o.nthreads = (int)n;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--memory-limit", &val))) {
            int64_t b;
            if (r < 0 || rn_parse_size(val, strlen(val), &b))
                return rn_cli_usage_error("worker",
                                          "--memory-limit: expected a size "
                                          "(4GiB, 512MB, bytes)");
            o.memory_limit = (uint64_t)b;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--local-dir", &val))) {
            if (r < 0)
                return rn_cli_usage_error("worker", "--local-dir needs a directory");
            o.local_dir = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--name", &val))) {
            if (r < 0 || strlen(val) > 128)
                return rn_cli_usage_error("worker", "--name needs a value of "
                                                    "at most 128 bytes");
            o.name = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--listen", &val))) {
            if (r < 0)
                return rn_cli_usage_error("worker", "--listen needs HOST:PORT");
            o.listen = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--tls", &val))) {
            if (r < 0)
                return rn_cli_usage_error("worker", "--tls needs a directory");
            tls_dir = val;
        } else if (strcmp(argv[i], "--insecure") == 0) {
            o.insecure = 1;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--allow-path", &val))) {
            if (r < 0 || o.n_allow == 64)
                return rn_cli_usage_error("worker", "--allow-path needs a "
                                                    "directory (at most 64)");
            allow[o.n_allow++] = val;
        } else if (argv[i][0] == '-') {
            return rn_cli_usage_error("worker", "unknown option '%s'", argv[i]);
        } else if (o.scheduler) {
            return rn_cli_usage_error("worker", "more than one scheduler given");
        } else {
            o.scheduler = argv[i];
        }
    }
    if (!o.scheduler && !(o.scheduler = getenv("RUNNEL_SCHEDULER")))
        return rn_cli_usage_error("worker", "no scheduler given "
                                            "(runnel worker tcp://HOST:PORT)");
    if (rn_cli_tls_load(tls_dir, 1u << RN_ROLE_WORKER, &tls))
        return 1;
    if (tls.files && o.insecure) {
        rn_cli_tls_release(&tls);
        return rn_cli_usage_error("worker", "--insecure and --tls contradict "
                                            "each other");
    }
    o.tls = rn_cli_tls_rpc(&tls);
    o.allow = allow;
    if (tls.files) {
        /* jobs never read the worker's own key */
        deny[0] = tls_dir ? tls_dir : getenv("RUNNEL_TLS");
        o.deny = deny;
        o.n_deny = 1;
    }
    daemon_log_level();
    rn_alloc_tune_for_daemon(); /* partitions come and go */
    block_signals(&set);
    rn_rpc_init();
    rn_error_clear(&err);
    if (rn_worker_start(&o, &w, &err)) {
        rn_rpc_shutdown();
        rn_cli_tls_release(&tls);
        return rn_cli_fail(&err);
    }
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        ;
    rn_logf(RN_LOG_INFO, "worker: signal %d: retiring", sig);
    rn_worker_retire(w);
    rn_worker_stop(w);
    rn_rpc_shutdown();
    rn_cli_tls_release(&tls);
    return 0;
}

/* ------------------------------------------------------------ clients -- */

typedef struct cargs {
    const char *scheduler;
    const char *tls;
    const char *arg; /* MANIFEST or JOB */
    int json, wait;
} cargs;

static int parse_client(const char *cmd, int argc, char **argv, int want_arg,
                        cargs *a)
{
    const char *val;
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        int r;
        if (rn_cli_is_help(argv[i])) {
            fputs(client_usage, stdout);
            return 0;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--scheduler", &val))) {
            if (r < 0)
                return rn_cli_usage_error(cmd, "--scheduler needs tcp://HOST:PORT");
            a->scheduler = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--tls", &val))) {
            if (r < 0)
                return rn_cli_usage_error(cmd, "--tls needs a directory");
            a->tls = val;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (strcmp(argv[i], "--wait") == 0 && strcmp(cmd, "status") == 0) {
            a->wait = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return rn_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (!want_arg || a->arg) {
            return rn_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            a->arg = argv[i];
        }
    }
    if (!a->scheduler && !(a->scheduler = getenv("RUNNEL_SCHEDULER")))
        return rn_cli_usage_error(cmd, "--scheduler tcp://HOST:PORT is required "
                                       "(or set RUNNEL_SCHEDULER)");
    if (want_arg && !a->arg)
        return rn_cli_usage_error(cmd, strcmp(cmd, "submit") == 0
                                           ? "no manifest given"
                                           : "no job id given");
    return -1; /* go on */
}

static void human(char *out, size_t n, double b)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int k = 0;
    while (b >= 1024 && k < 4) {
        b /= 1024;
        k++;
    }
    snprintf(out, n, k ? "%.1f %s" : "%.0f %s", b, u[k]);
}

static const char *state_text(int st)
{
    switch (st) {
    case RUNNEL__V1__JOB_STATE__JOB_QUEUED: return "queued";
    case RUNNEL__V1__JOB_STATE__JOB_RUNNING: return "running";
    case RUNNEL__V1__JOB_STATE__JOB_DONE: return "done";
    case RUNNEL__V1__JOB_STATE__JOB_FAILED: return "failed";
    case RUNNEL__V1__JOB_STATE__JOB_CANCELLED: return "cancelled";
    default: return "unknown";
    }
}

static json_t *plugins_json(Runnel__V1__PluginRef **p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(p[i]->name));
        json_object_set_new(o, "version", json_string(p[i]->version));
        json_object_set_new(o, "id", json_string(p[i]->id));
        json_object_set_new(o, "size", json_integer((json_int_t)p[i]->size));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *info_json(const Runnel__V1__InfoReply *r)
{
    json_t *o = json_object(), *svc = json_object(), *ws = json_object();
    json_object_set_new(o, "type", json_string(r->type));
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "address", json_string(r->address));
    for (size_t i = 0; i < r->n_services; i++)
        json_object_set_new(svc, r->services[i]->name,
                            json_integer(r->services[i]->port));
    json_object_set_new(o, "services", svc);
    json_object_set_new(o, "started", json_real(r->started));
    for (size_t i = 0; i < r->n_workers; i++) {
        const Runnel__V1__WorkerInfo *w = r->workers[i];
        json_t *jw = json_object(), *t = json_object(), *p = json_object();
        json_object_set_new(jw, "id", json_string(w->id));
        json_object_set_new(jw, "name", json_string(w->name));
        json_object_set_new(jw, "nthreads", json_integer(w->nthreads));
        json_object_set_new(jw, "memory_limit", json_integer((json_int_t)w->memory_limit));
        /* the process's memory, as Dask shows it; what the engine
         * accounts for beside it */
        json_object_set_new(jw, "memory", json_integer((json_int_t)(w->rss ? w->rss : w->memory)));
        json_object_set_new(jw, "memory_accounted", json_integer((json_int_t)w->memory));
        json_object_set_new(jw, "memory_accounted_peak",
                            json_integer((json_int_t)w->memory_peak));
        json_object_set_new(t, "running", json_integer(w->tasks ? w->tasks->running : 0));
        json_object_set_new(t, "done",
                            json_integer(w->tasks ? (json_int_t)w->tasks->done : 0));
        json_object_set_new(t, "failed",
                            json_integer(w->tasks ? (json_int_t)w->tasks->failed : 0));
        json_object_set_new(jw, "tasks", t);
        json_object_set_new(p, "count", json_integer(w->partitions));
        json_object_set_new(p, "bytes", json_integer((json_int_t)w->partition_bytes));
        json_object_set_new(jw, "partitions", p);
        {
            json_t *sp = json_object();
            json_object_set_new(sp, "bytes", json_integer((json_int_t)w->spilled_bytes));
            json_object_set_new(sp, "files", json_integer((json_int_t)w->spilled_files));
            json_object_set_new(jw, "spilled", sp);
        }
        json_object_set_new(jw, "plugins", plugins_json(w->plugins, w->n_plugins));
        json_object_set_new(jw, "last_seen", json_real(w->last_seen));
        json_object_set_new(jw, "status", json_string(w->status));
        if (w->identity[0])
            json_object_set_new(jw, "identity", json_string(w->identity));
        json_object_set_new(ws, w->address, jw);
    }
    json_object_set_new(o, "workers", ws);
    return o;
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(o);
}

static void info_text(const Runnel__V1__InfoReply *r)
{
    struct timespec ts;
    double now;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    char a[32], b[32];
    printf("%s %s\n", r->type, r->id);
    printf("  address   %s\n", r->address);
    if (r->security[0])
        printf("  security  %s%s\n", r->security,
               strcmp(r->security, "plaintext-insecure") == 0
                   ? "  WARNING: plaintext beyond loopback: anyone who reaches "
                     "the port can run code on every worker"
                   : "");
    printf("  up        %.0f s\n", now - r->started);
    printf("  jobs      %u running, %u queued\n", r->jobs_running, r->jobs_queued);
    printf("  workers   %zu\n", r->n_workers);
    for (size_t i = 0; i < r->n_workers; i++) {
        const Runnel__V1__WorkerInfo *w = r->workers[i];
        human(a, sizeof(a), (double)(w->rss ? w->rss : w->memory));
        human(b, sizeof(b), (double)w->partition_bytes);
        printf("\n  %s  %s\n", w->address, w->name);
        printf("    threads %u, memory %s", w->nthreads, a);
        if (w->memory_limit) {
            human(a, sizeof(a), (double)w->memory_limit);
            printf(" of %s", a);
        }
        printf(", tasks %u running / %llu done / %llu failed\n",
               w->tasks ? w->tasks->running : 0,
               (unsigned long long)(w->tasks ? w->tasks->done : 0),
               (unsigned long long)(w->tasks ? w->tasks->failed : 0));
        printf("    partitions %u (%s), plugins %zu, last seen %.1f s ago, %s\n",
               w->partitions, b, w->n_plugins,
               now > w->last_seen ? now - w->last_seen : 0.0, w->status);
    }
}

static json_t *job_json(const Runnel__V1__JobInfo *j)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->job_id));
    json_object_set_new(o, "name", json_string(j->name));
    json_object_set_new(o, "state", json_string(state_text(j->state)));
    json_object_set_new(o, "tasks_done", json_integer(j->tasks_done));
    json_object_set_new(o, "tasks_total", json_integer(j->tasks_total));
    json_object_set_new(o, "tasks_recomputed", json_integer(j->tasks_recomputed));
    json_object_set_new(o, "bytes_read", json_integer((json_int_t)j->bytes_read));
    json_object_set_new(o, "submitted", json_real(j->submitted));
    json_object_set_new(o, "seconds", json_real(j->seconds));
    json_object_set_new(o, "client", json_string(j->client));
    if (j->owner[0])
        json_object_set_new(o, "owner", json_string(j->owner));
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    return o;
}

static void job_line(const Runnel__V1__JobInfo *j)
{
    printf("%-14s %-10s %-20s %u/%u tasks  %.1f s%s%s\n", j->job_id,
           state_text(j->state), j->name, j->tasks_done, j->tasks_total, j->seconds,
           j->error[0] ? "  " : "", j->error);
}

static int cmd_client(const char *cmd, int argc, char **argv)
{
    cargs a;
    rn_client *c = NULL;
    rn_cli_tls tls;
    rn_errbuf err;
    int status = 1, r;
    int want_arg = strcmp(cmd, "info") != 0 && strcmp(cmd, "jobs") != 0;

    if ((r = parse_client(cmd, argc, argv, want_arg, &a)) >= 0)
        return r;
    if (rn_cli_tls_load(a.tls, RN_CLI_CLIENT_ROLES, &tls))
        return 1;
    rn_error_clear(&err);
    rn_rpc_init();
    if (rn_client_open(a.scheduler, rn_cli_tls_rpc(&tls), &c, &err))
        goto done;
    if (strcmp(cmd, "info") == 0) {
        Runnel__V1__InfoReply *rep = NULL;
        if (rn_client_info(c, &rep, &err))
            goto done;
        if (a.json)
            print_json(info_json(rep));
        else
            info_text(rep);
        rn_pb_free(rep);
    } else if (strcmp(cmd, "submit") == 0) {
        rn_manifest *m = NULL;
        rn_registry *reg = NULL;
        rn_plan *plan = NULL;
        rn_pgraph *g = NULL;
        char job[32];
        int rc = rn_manifest_load(a.arg, &m, &err);
        if (rc == 0 && !(reg = rn_cli_registry()))
            rc = rn_error_set(&err, RN_ENOMEM, "out of memory");
        if (rc == 0)
            rc = rn_client_prepare(c, m, reg, &err);
        if (rc == 0 && m->n_datasets) {
            /* a job of datasets: its outputs are best sinks, as ever */
            if ((rc = rn_pgraph_build(m, reg, &g, &err)) == 0)
                for (size_t i = 0; i < g->n_warnings; i++)
                    fprintf(stderr, "runnel: %s\n", g->warnings[i]);
            if (rc == 0)
                rc = rn_client_submit_graph(c, m, reg, g, 1, job, &err);
        } else if (rc == 0) {
            if ((rc = rn_plan_build(m, reg, &plan, &err)) == 0)
                rc = rn_client_submit(c, m, reg, plan, 1, job, &err);
        }
        if (rc == 0)
            printf("%s\n", job);
        if (rc && g)
            rn_pgraph_redact(g, &err);
        else if (rc && plan)
            rn_plan_redact(plan, &err);
        rn_pgraph_free(g);
        rn_plan_free(plan);
        rn_registry_free(reg);
        rn_manifest_free(m);
        if (rc)
            goto done;
    } else if (strcmp(cmd, "jobs") == 0) {
        Runnel__V1__ListJobsReply *rep = NULL;
        if (rn_client_jobs(c, &rep, &err))
            goto done;
        if (a.json) {
            json_t *arr = json_array();
            for (size_t i = 0; i < rep->n_jobs; i++)
                json_array_append_new(arr, job_json(rep->jobs[i]));
            print_json(arr);
        } else {
            for (size_t i = 0; i < rep->n_jobs; i++)
                job_line(rep->jobs[i]);
            if (!rep->n_jobs)
                printf("no jobs\n");
        }
        rn_pb_free(rep);
    } else {
        Runnel__V1__JobInfo *ji = NULL;
        int rc;
        if (a.wait && strcmp(cmd, "status") == 0)
            rc = rn_client_wait(c, a.arg, isatty(STDERR_FILENO), &ji, &err);
        else
            rc = rn_client_job(c, strcmp(cmd, "cancel") == 0 ? RN_M_CANCEL_JOB
                                                             : RN_M_GET_JOB,
                               a.arg, &ji, &err);
        if (ji) {
            if (a.json)
                print_json(job_json(ji));
            else
                job_line(ji);
        }
        rn_pb_free(ji);
        if (rc)
            goto done;
    }
    status = 0;
done:
    if (status)
        rn_cli_fail(&err);
    rn_client_close(c);
    rn_rpc_shutdown();
    rn_cli_tls_release(&tls);
    return status;
}

int rn_cmd_cluster(const char *name, int argc, char **argv)
{
    if (strcmp(name, "scheduler") == 0)
        return cmd_scheduler(argc, argv);
    if (strcmp(name, "worker") == 0)
        return cmd_worker(argc, argv);
    return cmd_client(name, argc, argv);
}
