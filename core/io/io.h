/*
 * The engine's I/O layer: list, read (ranges or whole objects, decoded when
 * compressed) and write (aside, then published atomically) objects named by
 * local paths or URLs. The host table hands these to plugins (rn_io_* in
 * <runnel/host.h>); the engine uses them directly.
 *
 * URLs are dispatched by scheme to a back-end (core/io/backend.h):
 *   no scheme, file://   local files (file.c)
 *   http://, https://          libcurl (http.c; docs/IO.md)
 *   s3://                      libcurl + SigV4 (s3.c; docs/IO.md)
 *
 * Listing (rn_io_list_urls) of a local pattern:
 *   - an existing file: one entry with its size;
 *   - an existing directory: its regular files, not recursive, names
 *     starting with '.' skipped (so writers' temporary files never show);
 *   - otherwise, when it holds * ? or [: glob(3) matches that are regular
 *     files (no "**"); no match is RN_ENOTFOUND "no file matches 'x'";
 *   - otherwise RN_ENOTFOUND naming the path.
 * Entries are sorted by URL (byte order, the same on every machine) and
 * keep the spelling of the pattern (file:// stays file://). file:// URLs
 * are taken literally, without percent-decoding (as fsspec does), and must
 * be file:///abs/path or file://localhost/abs/path.
 *
 * Compression: .gz .bz2 .xz .zst .lz4 (any case) by name; gzip, bzip2, xz,
 * zstd and lz4 (frame and legacy) by magic bytes. Reading with
 * RN_IO_DECOMPRESS decodes streaming: gzip with zlib (libarchive 3.6.2
 * skips the gzip CRC and length checks), the others with libarchive,
 * registering only the filter the magic bytes name plus the raw and empty
 * formats — never format_all (its mtree reader eats one-token-per-line
 * text) nor filter_all (its uu/rpm bidders would re-interpret decoded
 * text). Concatenated gzip members and zero padding after them are read as
 * gzip -d reads them; other bytes after a member are an error.
 * Bytes without a known magic pass through unchanged, unless the name says
 * they are compressed: that is RN_EFORMAT, as gzip -d would say. Corrupt
 * or truncated input is an error naming the URL, never short data.
 *
 * Writing: rn_io_create_url writes to ".<name>.tmp-<pid>-<random>" in the
 * target's directory (creating missing parent directories), compressing
 * when the name ends in a compressed extension; commit fsyncs, renames over
 * the target (replacing it: a retried task publishes the same file once)
 * and fsyncs the directory; abort unlinks the temporary file.
 *
 * Threading: the functions are reentrant; one stream or writer is used by
 * one thread at a time. Errors: 0 / a count, or a negative rn_err with the
 * reason (naming the URL) in err.
 */
#ifndef RN_CORE_IO_H
#define RN_CORE_IO_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/host.h>

#include "base/arena.h"
#include "base/error.h"

/* Size of the buffers the layer reads and decodes with. */
#define RN_IO_BUFSIZE ((size_t)1 << 20)

struct rn_stream;
struct rn_writer;

/* Expands a path, URL or glob into objects. *out (the array and its
 * strings) is allocated in `a`. An empty match is RN_ENOTFOUND. */
int rn_io_list_urls(rn_arena *a, const char *pattern, rn_io_entry **out,
                    size_t *n, rn_errbuf *err);

/* Opens bytes [offset, offset + length) of url (length UINT64_MAX: to the
 * end). flags: RN_IO_DECOMPRESS (then offset must be 0) returns the decoded
 * bytes of the whole object. Close with rn_io_stream_close. */
int rn_io_open_url(const char *url, uint64_t offset, uint64_t length,
                   uint32_t flags, struct rn_stream **out, rn_errbuf *err);
/* Reads up to cap bytes: the count, 0 at the end, or a negative rn_err.
 * After an error every later read fails the same way. */
int64_t rn_io_stream_read(struct rn_stream *s, void *buf, size_t cap,
                          rn_errbuf *err);
void rn_io_stream_close(struct rn_stream *s); /* NULL ok */

/* Creates url for writing, aside until commit. */
int rn_io_create_url(const char *url, struct rn_writer **out,
                     rn_errbuf *err);
int rn_io_writer_write(struct rn_writer *w, const void *p, size_t n,
                       rn_errbuf *err);
/* Publishes atomically and frees w, also when it fails (then nothing is
 * left behind). */
int rn_io_writer_commit(struct rn_writer *w, rn_errbuf *err);
/* Discards everything written and frees w. NULL ok. */
void rn_io_writer_abort(struct rn_writer *w);

/* Compression codecs. */
typedef enum rn_io_codec {
    RN_CODEC_NONE = 0,
    RN_CODEC_GZIP = 1,
    RN_CODEC_BZIP2 = 2,
    RN_CODEC_XZ = 3,
    RN_CODEC_ZSTD = 4,
    RN_CODEC_LZ4 = 5
} rn_io_codec;

/* Bytes a magic-number check needs. */
#define RN_IO_MAGIC_MAX 6

/* The codec a name's extension says ("x.txt.gz" -> GZIP), NONE if none. */
rn_io_codec rn_io_codec_from_name(const char *name);
/* The codec the first n bytes of data start with, NONE if none. */
rn_io_codec rn_io_codec_from_magic(const void *p, size_t n);
/* "gzip", "bz2", "xz", "zstd", "lz4" or "none". */
const char *rn_io_codec_name(rn_io_codec c);

#endif
