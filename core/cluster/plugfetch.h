/*
 * Getting a plugin by id, as workers (and clients given a manifest that
 * names plugins by id) do: already loaded, else cached in a local plugin
 * store, else fetched from the scheduler (FetchPlugin), verified against
 * its SHA-256 on the way into the cache, then loaded into the registry.
 *
 * Thread-safety: as the registry and store (both lock); fetching the same
 * id from two threads at once is safe (identical bytes, last rename wins).
 */
#ifndef RN_CLUSTER_PLUGFETCH_H
#define RN_CLUSTER_PLUGFETCH_H

#include "base/error.h"
#include "cluster/plugstore.h"
#include "plugin/registry.h"
#include "transport/rpc.h"

/* *fetched (may be NULL) says whether bytes came over the network. */
int rn_plugfetch(rn_rpc_channel *sched, rn_plugstore *cache, rn_registry *reg,
                 const char *id, int *fetched, rn_errbuf *err);

#endif
