/*
 * Files in and out for the plugins that read and write text formats
 * (textio's read_text and to_textfiles, csv's read_csv and to_csv): what
 * they share, built once as the static library runnel_textio_files and
 * linked into each plugin (plugins link nothing but the SDK and their own
 * libraries, so this cannot live in another plugin's .so).
 *
 * Sources: the `urls` and `compression` parameters, listing every pattern
 * through the host, deciding which objects are read whole (compressed, by
 * name or first bytes; size unknown; no byte ranges) and the split value
 * {url, start, end, whole} that travels between machines.
 *
 * Sinks: one file per partition named from a `path` template ('*' = the
 * partition number, else a directory), written through a buffer into the
 * host's atomic writer (aside until commit, compressed by extension);
 * commit emits the path written.
 *
 * Everything here runs inside plugin callbacks and allocates only through
 * the ctx given (scratch or task memory), but for rn_tio_path_copy.
 */
#ifndef RN_PLUGIN_TIO_FILES_H
#define RN_PLUGIN_TIO_FILES_H

#include <stdint.h>

#include <runnel/runnel.h>

/* ---- sources ---------------------------------------------------------- */

enum { RN_TIO_COMP_INFER = -1, RN_TIO_COMP_NONE = 0 };

/* "infer", "none", "gzip", "bz2", "xz", "zstd", "lz4", NULL: the choices
 * of a `compression` parameter. */
extern const char *const rn_tio_compression_choices[];

/* The codec number of a `compression` value (RN_TIO_COMP_INFER for
 * "infer" or anything unknown). */
int rn_tio_comp_parse(rn_str s);

/* Checks a bound `urls` parameter: a non-empty list of non-empty strings
 * without NUL. Returns 0 or RN_EINVAL after rn_error. */
int rn_tio_urls_check(rn_ctx *ctx, const rn_value *urls);

/* Called once per object listed: `whole` says it must be read in one
 * split (decoded when compressed); otherwise e->size is known (> 0) and
 * byte ranges can be read. */
typedef int (*rn_tio_entry_fn)(void *arg, rn_ctx *ctx, const rn_io_entry *e,
                               int whole);

/* Lists every pattern of `urls` (sorted per pattern, as rn_io_list does),
 * decides whole or ranged per object under `comp` (a codec named by
 * `compression` must match the data's first bytes) and calls fn. */
int rn_tio_plan(rn_ctx *ctx, const rn_value *urls, int comp,
                rn_tio_entry_fn fn, void *arg);

/* Emits the split {url, start, end, whole}. For a whole object end is
 * informative only (its size, 0 when unknown). */
int rn_tio_emit_split(rn_ctx *ctx, const char *url, uint64_t start,
                      uint64_t end, int whole);

/* Fixed cuts of `blocksize` bytes (read_text's plan; whole objects get
 * one split). */
int rn_tio_emit_blocks(rn_ctx *ctx, const rn_io_entry *e, int whole,
                       uint64_t blocksize);

/* A split as read back: url NUL-terminated in task memory. */
typedef struct rn_tio_split {
    const char *url;
    size_t url_len;
    uint64_t start, end;
    int whole;
} rn_tio_split;

/* Checks and unpacks a split made by rn_tio_emit_split. */
int rn_tio_split_get(rn_ctx *ctx, const rn_value *split, rn_tio_split *out);

/* Opens a whole object for reading, decoded unless comp is
 * RN_TIO_COMP_NONE. */
int rn_tio_open_whole(rn_ctx *ctx, const char *url, int comp,
                      rn_stream **out);

/* ---- sinks ------------------------------------------------------------ */

/* *out = a copy of the `path` parameter in malloc'd memory (the
 * operator's state owns it: free it in destroy). Returns 0, or an error
 * after rn_error. */
int rn_tio_path_copy(rn_ctx *ctx, const rn_value *params, char **out);

/* One partition's file being written. Lives in task memory. */
typedef struct rn_tio_out rn_tio_out;

/* Creates the file of this task's partition from template `tmpl`: every
 * '*' becomes the partition number; without '*', tmpl is a directory
 * and the file is <tmpl>/<n><dir_suffix> (".part", ".csv"). */
int rn_tio_out_open(rn_ctx *ctx, const char *tmpl, const char *dir_suffix,
                    rn_tio_out **out);

/* Appends bytes (buffered: one host write per 256 KiB). */
int rn_tio_out_put(rn_ctx *ctx, rn_tio_out *o, const void *p, size_t n);

/* Flushes, publishes the file and emits its path. The writer is gone
 * afterwards, published or not. */
int rn_tio_out_commit(rn_ctx *ctx, rn_tio_out *o);

/* Removes what was written (o may be NULL or committed: nothing then). */
void rn_tio_out_abort(rn_ctx *ctx, rn_tio_out *o);

#endif
