/*
 * to_textfiles: one file per partition, one line per value (Dask's
 * bag.to_textfiles). Strings are written as they are, everything else as
 * one line of JSON. Every '*' in `path` becomes the partition number; a
 * path without '*' is a directory, written as <path>/<n>.part (as Dask
 * does). The file is compressed when its name ends in .gz, .bz2, .xz, .zst
 * or .lz4, written aside and published on commit by the host's I/O layer,
 * so a failed or retried task never leaves a partial file. Commit emits the
 * path written.
 */
#include <stdlib.h>

#include "textio.h"
#include "tio_files.h"

const rn_param_spec rn_textio_to_textfiles_params[1] = {
    {.name = "path",
     .type = RN_PT_STRING,
     .flags = RN_PF_REQUIRED,
     .help = "file to write per partition, '*' replaced by the partition "
             "number (out/part-*.txt.gz); without '*', a directory"},
};

int rn_textio_to_textfiles_init(rn_ctx *ctx, const rn_value *params,
                                void **state)
{
    char *path = NULL;
    int rc = rn_tio_path_copy(ctx, params, &path);
    *state = path;
    return rc;
}

void rn_textio_to_textfiles_destroy(void *state)
{
    free(state);
}

int rn_textio_to_textfiles_open(void *state, rn_ctx *ctx, void **w)
{
    rn_tio_out *o = NULL;
    int rc = rn_tio_out_open(ctx, state, ".part", &o);
    *w = o;
    return rc;
}

int rn_textio_to_textfiles_write(void *state, rn_ctx *ctx, void *w,
                                 const rn_value *v)
{
    rn_str s;
    int rc;

    if (v->kind == RN_STRING) {
        s = rn_value_str(v);
    } else if ((rc = rn_to_json(ctx, v, &s))) {
        return rc;
    }
    if ((rc = rn_tio_out_put(ctx, w, s.ptr, s.len)))
        return rc;
    return rn_tio_out_put(ctx, w, "\n", 1);
}

int rn_textio_to_textfiles_commit(void *state, rn_ctx *ctx, void *w)
{
    return rn_tio_out_commit(ctx, w);
}

void rn_textio_to_textfiles_abort(void *state, rn_ctx *ctx, void *w)
{
    rn_tio_out_abort(ctx, w);
}
