/* Plugins by id: loaded, cached or fetched and verified. */
#include "cluster/plugfetch.h"

#include <stdio.h>
#include <string.h>

#include "exec/ctx.h"
#include "transport/methods.h"

#include "runnel_common.pb-c.h"
#include "runnel_scheduler.pb-c.h"

/* Makes plugin `id` available in the registry: already loaded, cached in
 * the local dir, or fetched from the scheduler (verified on the way in). */
int rn_plugfetch(rn_rpc_channel *sched, rn_plugstore *cache, rn_registry *reg,
                 const char *id, int *fetched, rn_errbuf *err)
{
    Runnel__V1__FetchPluginRequest req = RUNNEL__V1__FETCH_PLUGIN_REQUEST__INIT;
    rn_rpc_stream *st = NULL;
    rn_plugput *pp = NULL;
    char path[4096];
    uint64_t got = 0;
    int rc = 0, exists = 0;

    if (fetched)
        *fetched = 0;
    if (rn_registry_by_id(reg, id))
        return 0;
    if (!rn_plugstore_valid_id(id))
        return rn_error_set(err, RN_EINVAL, "bad plugin id sha256:%.80s", id);
    if (rn_plugstore_path(cache, id, path, sizeof(path)) != 0) {
        req.id = (char *)id;
        if ((rc = rn_rpc_stream_open_pb(sched, RN_M_FETCH_PLUGIN, &req, 0, &st,
                                        err)))
            goto done;
        for (;;) {
            Runnel__V1__Chunk *ch = NULL;
            int r = rn_rpc_stream_recv_pb(st, &runnel__v1__chunk__descriptor,
                                          (void **)&ch, 30000);
            if (r == 0)
                break;
            if (r < 0) {
                if ((rc = rn_rpc_stream_finish(st, err)) == 0)
                    rc = rn_error_set(err, RN_EREMOTE, "the stream broke");
                goto done;
            }
            if (!pp && !exists &&
                (rc = rn_plugstore_begin(cache, id, "", "", ch->total, &pp,
                                         &exists, err))) {
                rn_pb_free(ch);
                goto done;
            }
            if (ch->offset != got)
                rc = rn_error_set(err, RN_EFORMAT, "chunk at %llu, expected %llu",
                                  (unsigned long long)ch->offset,
                                  (unsigned long long)got);
            else if (pp)
                rc = rn_plugput_write(pp, ch->data.data, ch->data.len, err);
            got += ch->data.len;
            rn_pb_free(ch);
            if (rc)
                goto done;
        }
        if ((rc = rn_rpc_stream_finish(st, err)))
            goto done;
        if (pp) {
            rc = rn_plugput_commit(pp, err);
            pp = NULL;
            if (rc)
                goto done;
        }
        if ((rc = rn_plugstore_path(cache, id, path, sizeof(path)))) {
            rn_error_set(err, rc, "the scheduler sent no bytes");
            goto done;
        }
        if (fetched)
            *fetched = 1;
        rn_logf(RN_LOG_INFO, "fetched plugin sha256:%.12s... (%llu "
                             "bytes), verified, cached in %s",
                id, (unsigned long long)got, rn_plugstore_dir(cache));
    }
    {
        rn_plugin *p = NULL;
        if ((rc = rn_registry_add_file(reg, path, &p, err)))
            goto done;
        if (strcmp(p->id, id) != 0) /* the cache changed under us */
            rc = rn_error_set(err, RN_EINVAL, "%s does not hash to its id", path);
        else
            rn_logf(RN_LOG_INFO, "loaded plugin %s %s (sha256:%.12s...)",
                    p->desc->name, p->desc->version, id);
    }
done:
    rn_plugput_abort(pp);
    rn_rpc_stream_free(st);
    if (rc)
        rn_error_prefix(err, "plugin sha256:%.12s...: ", id);
    return rc;
}

