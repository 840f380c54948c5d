/* runnel security init | issue | show */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "security/ca.h"

static const char security_usage[] =
    "usage: runnel security init CA_DIR [--days N] [--name NAME] [--force]\n"
    "       runnel security issue CA_DIR --role ROLE --name NAME --out DIR\n"
    "                             [--host HOST]... [--days N] [--force]\n"
    "       runnel security show DIR|FILE\n"
    "\n"
    "The certificates of a mutual-TLS cluster: every scheduler, worker and\n"
    "client holds one of the cluster's CA, whose subject names its role and\n"
    "its name (O=runnel, OU=ROLE, CN=NAME).\n"
    "\n"
    "init   creates the CA in CA_DIR (made 0700): ca.key (0600, keep it off\n"
    "       the cluster) and ca.crt, an EC P-256 key and its self-signed\n"
    "       certificate, valid --days N (default 3650). --name sets its CN\n"
    "       (default \"runnel cluster CA\").\n"
    "issue  writes DIR/ca.crt, DIR/tls.crt and DIR/tls.key (0600), the\n"
    "       layout of a Kubernetes TLS secret, for one peer:\n"
    "         --role scheduler|worker|client|admin\n"
    "         --name NAME   1 to 64 of A-Z a-z 0-9 . _ @ -\n"
    "         --host HOST   an extra IP address or DNS name the certificate\n"
    "                       holds (repeat it); a scheduler's certificate\n"
    "                       always holds DNS:runnel-scheduler, a worker's\n"
    "                       DNS:runnel-worker\n"
    "         --days N      validity (default 365, never past the CA's)\n"
    "show   describes DIR/tls.crt (or DIR/ca.crt when DIR holds no tls.crt)\n"
    "       or FILE: subject, role, name, issuer, serial, validity, SANs,\n"
    "       key usages.\n"
    "\n"
    "Existing files are kept unless --force. Exit status: 0 done, 1 failed,\n"
    "2 wrong usage.\n";

/* Matches "--name VALUE" or "--name=VALUE"; advances *i. 1 when matched,
 * -1 when the value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

/* The length of dir without trailing '/', for printing dir/file. */
static int dir_len(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return n > 4096 ? 4096 : (int)n;
}

static int parse_days(const char *cmd, const char *s, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > RN_CERT_MAX_DAYS)
        return rn_cli_usage_error(cmd,
                                  "--days: expected a number from 1 to %d, "
                                  "got '%s'",
                                  RN_CERT_MAX_DAYS, s);
    *out = (int)v;
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    const char *dir = NULL, *val;
    rn_ca_opts o = {NULL, 0, 0};
    char crt[4200], key[4200], d[16];
    long long until = 0;
    rn_errbuf err;
    int r;
    rn_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(security_usage, stdout);
            return 0;
        }
        if ((r = opt_value(argc, argv, &i, "--days", &val))) {
            if (r < 0)
                return rn_cli_usage_error("security init", "--days needs N");
            if (parse_days("security init", val, &o.days))
                return 2;
        } else if ((r = opt_value(argc, argv, &i, "--name", &val))) {
            if (r < 0 || !*val)
                return rn_cli_usage_error("security init", "--name needs NAME");
            o.name = val;
        } else if (strcmp(argv[i], "--force") == 0) {
            o.force = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return rn_cli_usage_error("security init", "unknown option '%s'",
                                      argv[i]);
        } else if (dir) {
            return rn_cli_usage_error("security init",
                                      "more than one directory given");
        } else {
            dir = argv[i];
        }
    }
    if (!dir || !*dir)
        return rn_cli_usage_error("security init", "no CA directory given");
    if (rn_ca_init(dir, &o, &err))
        return rn_cli_fail(&err);
    snprintf(crt, sizeof(crt), "%.*s/ca.crt", dir_len(dir), dir);
    snprintf(key, sizeof(key), "%.*s/ca.key", dir_len(dir), dir);
    if (rn_cert_not_after(crt, &until, &err))
        return rn_cli_fail(&err);
    printf("wrote %s (CA \"%s\", valid until %s)\n", crt,
           o.name ? o.name : "runnel cluster CA",
           rn_cert_date(until, d, sizeof(d)));
    printf("wrote %s (keep it secret: whoever holds it can join the "
           "cluster as anyone)\n",
           key);
    return 0;
}

static int cmd_issue(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *val;
    const char **hosts = NULL;
    rn_cert_req req;
    rn_cert_issued got;
    rn_errbuf err;
    char d[16];
    int r, status = 2, have_role = 0;

    memset(&req, 0, sizeof(req));
    rn_error_clear(&err);
    if (!(hosts = rn_calloc((size_t)argc, sizeof(*hosts)))) {
        fprintf(stderr, "runnel: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(security_usage, stdout);
            status = 0;
            goto done;
        }
        if ((r = opt_value(argc, argv, &i, "--role", &val))) {
            if (r < 0) {
                rn_cli_usage_error("security issue", "--role needs a role");
                goto done;
            }
            if (rn_role_parse(val, &req.role, &err)) {
                rn_cli_usage_error("security issue", "--role: %s", err.msg);
                goto done;
            }
            have_role = 1;
        } else if ((r = opt_value(argc, argv, &i, "--name", &val))) {
            if (r < 0) {
                rn_cli_usage_error("security issue", "--name needs NAME");
                goto done;
            }
            req.name = val;
        } else if ((r = opt_value(argc, argv, &i, "--out", &val))) {
            if (r < 0 || !*val) {
                rn_cli_usage_error("security issue", "--out needs DIR");
                goto done;
            }
            out = val;
        } else if ((r = opt_value(argc, argv, &i, "--host", &val))) {
            if (r < 0) {
                rn_cli_usage_error("security issue", "--host needs HOST");
                goto done;
            }
            hosts[req.n_hosts++] = val;
        } else if ((r = opt_value(argc, argv, &i, "--days", &val))) {
            if (r < 0) {
                rn_cli_usage_error("security issue", "--days needs N");
                goto done;
            }
            if (parse_days("security issue", val, &req.days))
                goto done;
        } else if (strcmp(argv[i], "--force") == 0) {
            req.force = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rn_cli_usage_error("security issue", "unknown option '%s'",
                               argv[i]);
            goto done;
        } else if (dir) {
            rn_cli_usage_error("security issue",
                               "more than one CA directory given");
            goto done;
        } else {
            dir = argv[i];
        }
    }
    if (!dir || !*dir) {
        rn_cli_usage_error("security issue", "no CA directory given");
        goto done;
    }
    if (!have_role || !req.name || !out) {
        rn_cli_usage_error("security issue", "%s is required",
                           !have_role ? "--role" : !req.name ? "--name"
                                                             : "--out DIR");
        goto done;
    }
    req.hosts = hosts;
    status = 1;
    if (rn_ca_issue(dir, &req, out, &got, &err)) {
        rn_cli_fail(&err);
        goto done;
    }
    if (got.warning[0])
        fprintf(stderr, "runnel: warning: %s\n", got.warning);
    printf("wrote %.*s/tls.crt (%s %s, valid until %s)\n", dir_len(out), out,
           rn_role_name(req.role), req.name,
           rn_cert_date(got.not_after, d, sizeof(d)));
    printf("wrote %.*s/tls.key\n", dir_len(out), out);
    printf("wrote %.*s/ca.crt\n", dir_len(out), out);
    status = 0;
done:
    rn_free(hosts);
    return status;
}

static int cmd_show(int argc, char **argv)
{
    const char *what = NULL;
    char path[4200];
    struct stat st;
    rn_buf b;
    rn_errbuf err;
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(security_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return rn_cli_usage_error("security show", "unknown option '%s'",
                                      argv[i]);
        if (what)
            return rn_cli_usage_error("security show",
                                      "more than one file given");
        what = argv[i];
    }
    if (!what || !*what)
        return rn_cli_usage_error("security show", "no DIR or FILE given");
    snprintf(path, sizeof(path), "%s", what);
    if (stat(what, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof(path), "%.*s/tls.crt", dir_len(what), what);
        /* a CA directory has no tls.crt: show its certificate */
        if (stat(path, &st) != 0) {
            char ca[4200];
            snprintf(ca, sizeof(ca), "%.*s/ca.crt", dir_len(what), what);
            if (stat(ca, &st) == 0)
                snprintf(path, sizeof(path), "%s", ca);
        }
    }
    rn_error_clear(&err);
    rn_buf_init(&b, 0);
    if (rn_cert_describe(path, &b, &err)) {
        rn_buf_release(&b);
        return rn_cli_fail(&err);
    }
    fputs(b.ptr, stdout);
    rn_buf_release(&b);
    return 0;
}

int rn_cmd_security(int argc, char **argv)
{
    if (argc < 2 || rn_cli_is_help(argv[1])) {
        fputs(security_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "issue") == 0)
        return cmd_issue(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    return rn_cli_usage_error("security", "unknown subcommand '%s'", argv[1]);
}
