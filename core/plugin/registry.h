/*
 * The plugin registry: every plugin a process has loaded, keyed by id
 * (SHA-256) and by name, and operator lookup by "op" or "plugin.op".
 *
 * Ownership: the registry owns its plugins. Thread-safety: all functions
 * lock; returned plugin pointers stay valid until rn_registry_free (plugins
 * are never removed).
 */
#ifndef RN_CORE_REGISTRY_H
#define RN_CORE_REGISTRY_H

#include <stddef.h>

#include "base/error.h"
#include "plugin/loader.h"

typedef struct rn_registry rn_registry;

rn_registry *rn_registry_new(void);
void rn_registry_free(rn_registry *r);

/* Loads path (or finds it already loaded by id). A different plugin with
 * the same name as a loaded one is refused (names must be unambiguous). */
int rn_registry_add_file(rn_registry *r, const char *path, rn_plugin **out,
                         rn_errbuf *err);
/* Loads the shipped plugins: every lib*.so in the first existing
 * directory of $RUNNEL_PLUGIN_PATH (colon-separated), <exe dir>/plugins,
 * <exe dir>/../lib/runnel/plugins, the build tree and the install dir.
 * Broken files there are reported in err but do not stop the others. */
int rn_registry_add_shipped(rn_registry *r, rn_errbuf *err);
/* The directory add_shipped used ("" when none). */
const char *rn_registry_shipped_dir(const rn_registry *r);

rn_plugin *rn_registry_by_id(rn_registry *r, const char *id);
rn_plugin *rn_registry_by_name(rn_registry *r, const char *name);
size_t rn_registry_count(rn_registry *r);
rn_plugin *rn_registry_at(rn_registry *r, size_t i);

/* Resolves "op" (must be provided by exactly one plugin) or "plugin.op". */
int rn_registry_find_op(rn_registry *r, const char *name, rn_plugin **plugin,
                        const rn_op_desc **op, rn_errbuf *err);

#endif
