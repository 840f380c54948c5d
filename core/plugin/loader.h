/*
 * The plugin loader: opens a shared object, finds the entry function,
 * validates the descriptor it returns, and computes the plugin's identity
 * (SHA-256 of the file's bytes).
 *
 * Ownership: rn_plugin_load returns a plugin owned by the caller (normally
 * handed to the registry at once). A plugin whose operator code may have
 * run is never dlclose'd (its code could still be referenced by threads or
 * atexit handlers): rn_plugin_free frees the bookkeeping and leaves the
 * object mapped.
 *
 * Thread-safety: load may run on any thread; a loaded plugin is read-only.
 */
#ifndef RN_CORE_LOADER_H
#define RN_CORE_LOADER_H

#include <runnel/plugin.h>

#include "base/error.h"

#define RN_PLUGIN_ID_HEX 64

typedef struct rn_plugin {
    char *path;                      /* as given to load */
    char id[RN_PLUGIN_ID_HEX + 1];   /* lower-case hex SHA-256 of the file */
    void *handle;                    /* dlopen handle */
    const rn_plugin_desc *desc;      /* the plugin's own static descriptor */
    /* The operators normalised to the engine's struct size (a plugin built
     * against an older minor has a shorter rn_op_desc: missing trailing
     * fields read as zero). n_ops == desc->n_ops. */
    rn_op_desc *ops;
    uint32_t n_ops;
    uint64_t file_size;
} rn_plugin;

/* Loads and validates path. Errors say what is wrong and with which file:
 * "x.so: not an ELF shared object", "x.so: expected ABI 1.x, got 2.0",
 * "x.so: no runnel_plugin_v1 entry function: not a runnel plugin". */
int rn_plugin_load(const char *path, rn_plugin **out, rn_errbuf *err);
void rn_plugin_free(rn_plugin *p); /* NULL is a no-op */

/* Validates a descriptor (exposed for tests with hand-made descriptors). */
int rn_plugin_validate(const rn_plugin_desc *d, rn_errbuf *err);

/* SHA-256 of a file / of memory as lower-case hex. */
int rn_sha256_file(const char *path, char hex[RN_PLUGIN_ID_HEX + 1],
                   uint64_t *size, rn_errbuf *err);
void rn_sha256_hex(const void *p, size_t n, char hex[RN_PLUGIN_ID_HEX + 1]);

/* Finds an operator by name in a plugin; NULL when absent. */
const rn_op_desc *rn_plugin_find_op(const rn_plugin *p, const char *name);

#endif
