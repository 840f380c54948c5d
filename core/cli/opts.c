/* What every command line shares: options with values, and --tls. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int rn_cli_opt(int argc, char **argv, int *i, const char *name,
               const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return *val[0] ? 1 : -1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc || !argv[*i + 1][0])
        return -1;
    *val = argv[++*i];
    return 1;
}

static void roles_text(unsigned roles, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int r = RN_ROLE_SCHEDULER; r <= RN_ROLE_ADMIN && n < cap; r++)
        if (roles & (1u << r))
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " or " : "",
                                  rn_role_name((rn_role)r));
}

int rn_cli_tls_load(const char *dir, unsigned roles, rn_cli_tls *out)
{
    rn_errbuf err;
    char want[64];
    memset(out, 0, sizeof(*out));
    if (!dir || !*dir)
        dir = getenv("RUNNEL_TLS");
    if (!dir || !*dir)
        return 0;
    rn_error_clear(&err);
    if (rn_tls_load(dir, &out->files, &err)) {
        rn_error_prefix(&err, "--tls %s: ", dir);
        return rn_cli_fail(&err);
    }
    if (!(roles & (1u << out->files->self.role))) {
        roles_text(roles, want, sizeof(want));
        rn_error_set(&err, RN_EPERM,
                     "--tls %s: the certificate is a %s's (%s); this command "
                     "needs a %s certificate (runnel security issue --role)",
                     dir, rn_role_name(out->files->self.role),
                     out->files->self.name, want);
        rn_cli_tls_release(out);
        return rn_cli_fail(&err);
    }
    if (out->files->warning[0])
        fprintf(stderr, "runnel: warning: --tls %s: %s\n", dir,
                out->files->warning);
    out->rpc.ca_pem = out->files->ca_pem;
    out->rpc.cert_pem = out->files->cert_pem;
    out->rpc.key_pem = out->files->key_pem;
    return 0;
}

const rn_rpc_tls *rn_cli_tls_rpc(const rn_cli_tls *t)
{
    return t->files ? &t->rpc : NULL;
}

void rn_cli_tls_release(rn_cli_tls *t)
{
    rn_tls_files_free(t->files);
    memset(t, 0, sizeof(*t));
}
