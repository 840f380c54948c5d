/* runnel plugin inspect | list | push */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cluster/client.h"
#include "plugin/loader.h"
#include "transport/rpc.h"

static const char plugin_usage[] =
    "usage: runnel plugin inspect FILE.so [--json]\n"
    "       runnel plugin list [--json] [--scheduler URL [--tls DIR]]\n"
    "       runnel plugin push FILE.so --scheduler URL [--tls DIR]\n"
    "\n"
    "inspect  loads FILE.so the way a worker would (every check included)\n"
    "         and prints its ABI, name, version, identity (SHA-256 of the\n"
    "         file) and every operator with its kind and parameters.\n"
    "list     the plugins available to this machine (the shipped ones);\n"
    "         with --scheduler, the plugins the scheduler stores.\n"
    "push     checks FILE.so as inspect does and uploads it to the\n"
    "         scheduler unless it is there already; prints its id\n"
    "         (sha256:...), which manifests may name instead of a path.\n"
    "         A scheduler started with --push-role admin takes plugins\n"
    "         from admins only.\n"
    "\n"
    "URL is tcp://HOST:PORT (plaintext) or tls://HOST:PORT (mutual TLS);\n"
    "push reads $RUNNEL_SCHEDULER when --scheduler is absent. With tls://,\n"
    "--tls DIR (default $RUNNEL_TLS) holds a client or admin certificate\n"
    "(runnel security issue).\n";

static const char *flag_names(uint32_t flags, char *buf, size_t n)
{
    /* each name with a leading comma; the first one's is skipped */
    snprintf(buf, n, "%s%s%s", (flags & RN_OPF_SCALAR) ? ",scalar" : "",
             (flags & RN_OPF_COMMUTATIVE) ? ",commutative" : "",
             (flags & RN_OPF_COUNTING) ? ",counting" : "");
    return buf[0] ? buf + 1 : buf;
}

static json_t *plugin_json(const rn_plugin *p)
{
    json_t *o = json_object(), *ops = json_array();
    char abi[32];
    snprintf(abi, sizeof(abi), "%u.%u", p->desc->abi_major, p->desc->abi_minor);
    json_object_set_new(o, "file", json_string(p->path));
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "abi", json_string(abi));
    json_object_set_new(o, "name", json_string(p->desc->name));
    json_object_set_new(o, "version", json_string(p->desc->version));
    json_object_set_new(o, "description",
                        p->desc->description ? json_string(p->desc->description)
                                             : json_null());
    for (uint32_t i = 0; i < p->n_ops; i++) {
        const rn_op_desc *op = &p->ops[i];
        json_t *jo = json_object(), *params = json_array(), *flags = json_array();
        json_object_set_new(jo, "name", json_string(op->name));
        json_object_set_new(jo, "kind", json_string(rn_op_kind_name(op->kind)));
        json_object_set_new(jo, "help", op->help ? json_string(op->help) : json_null());
        if (op->flags & RN_OPF_SCALAR)
            json_array_append_new(flags, json_string("scalar"));
        if (op->flags & RN_OPF_COMMUTATIVE)
            json_array_append_new(flags, json_string("commutative"));
        if (op->flags & RN_OPF_COUNTING)
            json_array_append_new(flags, json_string("counting"));
        json_object_set_new(jo, "flags", flags);
        for (uint32_t k = 0; k < op->n_params; k++) {
            const rn_param_spec *ps = &op->params[k];
            json_t *jp = json_object();
            json_object_set_new(jp, "name", json_string(ps->name));
            json_object_set_new(jp, "type", json_string(rn_param_type_name(ps->type)));
            json_object_set_new(jp, "required", json_boolean(ps->flags & RN_PF_REQUIRED));
            json_object_set_new(jp, "default", ps->def ? json_string(ps->def) : json_null());
            if (ps->min < ps->max) {
                json_object_set_new(jp, "min", json_real(ps->min));
                json_object_set_new(jp, "max", json_real(ps->max));
            }
            if (ps->choices) {
                json_t *ch = json_array();
                for (int c = 0; ps->choices[c]; c++)
                    json_array_append_new(ch, json_string(ps->choices[c]));
                json_object_set_new(jp, "choices", ch);
            }
            json_object_set_new(jp, "help", ps->help ? json_string(ps->help) : json_null());
            json_array_append_new(params, jp);
        }
        json_object_set_new(jo, "params", params);
        json_array_append_new(ops, jo);
    }
    json_object_set_new(o, "operators", ops);
    return o;
}

static void print_num(double d)
{
    if (d == floor(d) && fabs(d) < 1e15)
        printf("%.0f", d);
    else
        printf("%g", d);
}

static void plugin_text(const rn_plugin *p)
{
    char fl[64];
    printf("plugin      %s %s\n", p->desc->name, p->desc->version);
    printf("file        %s (%llu bytes)\n", p->path,
           (unsigned long long)p->file_size);
    printf("id          sha256:%s\n", p->id);
    printf("abi         %u.%u (this runnel: %d.%d)\n", p->desc->abi_major,
           p->desc->abi_minor, RN_ABI_MAJOR, RN_ABI_MINOR);
    if (p->desc->description)
        printf("description %s\n", p->desc->description);
    printf("operators   %u\n", p->n_ops);
    for (uint32_t i = 0; i < p->n_ops; i++) {
        const rn_op_desc *op = &p->ops[i];
        printf("\n  %s.%s  [%s%s%s]\n", p->desc->name, op->name,
               rn_op_kind_name(op->kind), op->flags ? ", " : "",
               flag_names(op->flags, fl, sizeof(fl)));
        if (op->help)
            printf("    %s\n", op->help);
        for (uint32_t k = 0; k < op->n_params; k++) {
            const rn_param_spec *ps = &op->params[k];
            printf("    %-14s %-11s", ps->name, rn_param_type_name(ps->type));
            if (ps->flags & RN_PF_REQUIRED)
                printf(" required");
            else
                printf(" default %s", ps->def ? ps->def : "null");
            if (ps->min < ps->max) {
                printf(" [");
                print_num(ps->min);
                printf("..");
                print_num(ps->max);
                printf("]");
            }
            if (ps->choices) {
                printf(" one of");
                for (int c = 0; ps->choices[c]; c++)
                    printf("%s%s", c ? "|" : " ", ps->choices[c]);
            }
            if (ps->help)
                printf("\n      %s", ps->help);
            printf("\n");
        }
    }
}

static int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    rn_plugin *p = NULL;
    rn_errbuf err;
    rn_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(plugin_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return rn_cli_usage_error("plugin inspect", "unknown option '%s'",
                                      argv[i]);
        else if (path)
            return rn_cli_usage_error("plugin inspect", "more than one file given");
        else
            path = argv[i];
    }
    if (!path)
        return rn_cli_usage_error("plugin inspect", "no plugin file given");
    if (rn_plugin_load(path, &p, &err))
        return rn_cli_fail(&err);
    if (json) {
        json_t *o = plugin_json(p);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        plugin_text(p);
    }
    rn_plugin_free(p);
    return 0;
}

/* plugin list --scheduler: what the scheduler's store holds. */
static int list_remote(const char *url, const char *tls_dir, int json)
{
    Runnel__V1__ListPluginsReply *rep = NULL;
    rn_client *c = NULL;
    rn_cli_tls tls;
    rn_errbuf err;
    int status = 1;
    if (rn_cli_tls_load(tls_dir, RN_CLI_CLIENT_ROLES, &tls))
        return 1;
    rn_error_clear(&err);
    rn_rpc_init();
    if (rn_client_open(url, rn_cli_tls_rpc(&tls), &c, &err) ||
        rn_client_list_plugins(c, &rep, &err))
        goto done;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < rep->n_plugins; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_string(rep->plugins[i]->id));
            json_object_set_new(o, "name", json_string(rep->plugins[i]->name));
            json_object_set_new(o, "version", json_string(rep->plugins[i]->version));
            json_object_set_new(o, "size", json_integer((json_int_t)rep->plugins[i]->size));
            json_array_append_new(arr, o);
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "[]");
        free(s);
        json_decref(arr);
    } else {
        printf("plugins stored by the scheduler at %s:\n", url);
        for (size_t i = 0; i < rep->n_plugins; i++)
            printf("  %-10s %-8s sha256:%s  %llu bytes\n", rep->plugins[i]->name,
                   rep->plugins[i]->version, rep->plugins[i]->id,
                   (unsigned long long)rep->plugins[i]->size);
    }
    status = 0;
done:
    if (status)
        rn_cli_fail(&err);
    rn_pb_free(rep);
    rn_client_close(c);
    rn_rpc_shutdown();
    rn_cli_tls_release(&tls);
    return status;
}

/* plugin push FILE.so --scheduler URL */
static int cmd_push(int argc, char **argv)
{
    const char *path = NULL, *url = getenv("RUNNEL_SCHEDULER"), *val;
    const char *tls_dir = NULL;
    rn_client *c = NULL;
    rn_cli_tls tls;
    rn_errbuf err;
    char id[65];
    int pushed = 0, status = 1, r;
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(plugin_usage, stdout);
            return 0;
        }
        if ((r = rn_cli_opt(argc, argv, &i, "--scheduler", &val))) {
            if (r < 0)
                return rn_cli_usage_error("plugin push", "--scheduler needs "
                                                         "tcp://HOST:PORT");
            url = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--tls", &val))) {
            if (r < 0)
                return rn_cli_usage_error("plugin push", "--tls needs a directory");
            tls_dir = val;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return rn_cli_usage_error("plugin push", "unknown option '%s'", argv[i]);
        } else if (path) {
            return rn_cli_usage_error("plugin push", "more than one file given");
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return rn_cli_usage_error("plugin push", "no plugin file given");
    if (!url)
        return rn_cli_usage_error("plugin push", "--scheduler tcp://HOST:PORT is "
                                                 "required");
    if (rn_cli_tls_load(tls_dir, RN_CLI_CLIENT_ROLES, &tls))
        return 1;
    rn_error_clear(&err);
    rn_rpc_init();
    if (rn_client_open(url, rn_cli_tls_rpc(&tls), &c, &err))
        goto done;
    rn_client_set_verbose(c, 0);
    if (rn_client_push_plugin(c, path, id, &pushed, &err))
        goto done;
    printf("sha256:%s %s\n", id, pushed ? "pushed" : "already there");
    status = 0;
done:
    if (status)
        rn_cli_fail(&err);
    rn_client_close(c);
    rn_rpc_shutdown();
    rn_cli_tls_release(&tls);
    return status;
}

static int cmd_list(int argc, char **argv)
{
    int json = 0, r;
    rn_registry *reg;
    const char *url = NULL, *tls_dir = NULL, *val;
    for (int i = 1; i < argc; i++) {
        if (rn_cli_is_help(argv[i])) {
            fputs(plugin_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if ((r = rn_cli_opt(argc, argv, &i, "--scheduler", &val))) {
            if (r < 0)
                return rn_cli_usage_error("plugin list", "--scheduler needs "
                                                         "tcp://HOST:PORT");
            url = val;
        } else if ((r = rn_cli_opt(argc, argv, &i, "--tls", &val))) {
            if (r < 0)
                return rn_cli_usage_error("plugin list", "--tls needs a directory");
            tls_dir = val;
        } else
            return rn_cli_usage_error("plugin list", "unknown argument '%s'",
                                      argv[i]);
    }
    if (url)
        return list_remote(url, tls_dir, json);
    if (!(reg = rn_cli_registry()))
        return 1;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < rn_registry_count(reg); i++)
            json_array_append_new(arr, plugin_json(rn_registry_at(reg, i)));
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "[]");
        free(s);
        json_decref(arr);
    } else {
        printf("shipped plugins in %s:\n", rn_registry_shipped_dir(reg));
        for (size_t i = 0; i < rn_registry_count(reg); i++) {
            const rn_plugin *p = rn_registry_at(reg, i);
            printf("  %-10s %-8s sha256:%.16s...  ", p->desc->name,
                   p->desc->version, p->id);
            for (uint32_t k = 0; k < p->n_ops; k++)
                printf("%s%s", k ? " " : "", p->ops[k].name);
            printf("\n");
        }
    }
    rn_registry_free(reg);
    return 0;
}

int rn_cmd_plugin(int argc, char **argv)
{
    if (argc < 2 || rn_cli_is_help(argv[1])) {
        fputs(plugin_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "push") == 0)
        return cmd_push(argc - 1, argv + 1);
    return rn_cli_usage_error("plugin", "unknown subcommand '%s'", argv[1]);
}
