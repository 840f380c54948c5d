/*
 * The `runnel` command line: one binary, one file per group of
 * subcommands. Each cmd_* returns the process exit status:
 *   0 success, 1 the work failed (bad manifest, bad plugin, a task
 *   failed...), 2 wrong usage.
 */
#ifndef RN_CLI_H
#define RN_CLI_H

#include <stdio.h>

#include "base/error.h"
#include "plugin/registry.h"
#include "security/ca.h"
#include "security/identity.h"
#include "transport/rpc.h"

int rn_cmd_run(int argc, char **argv);
int rn_cmd_lint(int argc, char **argv);
int rn_cmd_plugin(int argc, char **argv);
int rn_cmd_cluster(const char *name, int argc, char **argv);
int rn_cmd_security(int argc, char **argv);

/* Prints "runnel: <msg>" on stderr; returns 1. */
int rn_cli_fail(const rn_errbuf *err);
/* Prints "runnel <cmd>: <fmt>" and a hint to use --help; returns 2. */
int rn_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A registry with the shipped plugins loaded (broken shipped files are
 * reported as warnings). NULL on failure (reported). */
rn_registry *rn_cli_registry(void);
/* 1 when s is "-h" or "--help". */
int rn_cli_is_help(const char *s);

/* "--name VALUE" or "--name=VALUE" at argv[*i] (advances *i): 1 matched
 * (*val set), -1 the value is missing or empty, 0 another argument. */
int rn_cli_opt(int argc, char **argv, int *i, const char *name,
               const char **val);

/* A command's certificates (--tls DIR, else $RUNNEL_TLS, else none). */
typedef struct rn_cli_tls {
    rn_tls_files *files; /* NULL: plaintext */
    rn_rpc_tls rpc;      /* views files */
} rn_cli_tls;
/* Loads them and checks the certificate is of one of roles (bits
 * 1 << rn_role). 0 (out->files NULL without any), or 1 after printing
 * why not. */
int rn_cli_tls_load(const char *dir, unsigned roles, rn_cli_tls *out);
/* NULL without TLS. */
const rn_rpc_tls *rn_cli_tls_rpc(const rn_cli_tls *t);
void rn_cli_tls_release(rn_cli_tls *t);
#define RN_CLI_CLIENT_ROLES ((1u << RN_ROLE_CLIENT) | (1u << RN_ROLE_ADMIN))

#endif
