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

#endif
