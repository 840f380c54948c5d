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
 * Writing creates the temporary file with openat(2) in the directory it
 * opened (O_EXCL | O_NOFOLLOW) and publishes it with renameat(2) in the
 * same directory, so a symbolic link at the target's name is replaced,
 * never followed.
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

/*
 * The policy of a cluster worker: what the jobs it runs may make the engine
 * open. Workers open manifest paths and URLs with their own rights; without
 * a policy (`runnel run` on a laptop) nothing below applies and the layer
 * behaves as described above. docs/IO.md, "On a cluster worker".
 *
 * Under a policy, local paths (plain and file://):
 *   - must be absolute and have no ".." component (RN_EPERM), even when no
 *     allowed root is set;
 *   - as written, must lie in an allowed root (when n_allow > 0; in its
 *     given or its resolved spelling) and outside every denied path;
 *   - reads open the file (O_NONBLOCK, so a FIFO cannot hang a thread),
 *     then check the path the descriptor really refers to (readlink of
 *     /proc/self/fd/N): a symbolic link or a rename race cannot lead
 *     outside. Only regular files are read;
 *   - listings check a named file or directory the same way (by realpath)
 *     and refuse it with RN_EPERM; inside a directory or a glob's matches,
 *     what resolves outside is left out of the listing (every open is
 *     checked again anyway);
 *   - writes open the longest existing part of the target's directory,
 *     check where it really is, create the missing directories below it
 *     with mkdirat + openat(O_NOFOLLOW | O_DIRECTORY) one component at a
 *     time, check the final directory again, and write and publish inside
 *     that directory descriptor (see Writing above).
 * Errors: "PATH: '..' is not allowed in paths on a cluster worker",
 * "PATH: outside the directories this worker allows (--allow-path)",
 * "PATH: a directory of the worker itself", all RN_EPERM.
 *
 * With block_link_local, HTTP(S) and S3 connections (redirects included,
 * and names resolving there) to 169.254.0.0/16, fe80::/10, fd00:ec2::254,
 * 0.0.0.0/8 and :: (also IPv4-mapped) are refused before a packet is sent
 * (CURLOPT_OPENSOCKETFUNCTION), and every request (also on a reused or a
 * proxy's connection) is checked again for its peer and for a URL host
 * that is such an address (CURLOPT_PREREQFUNCTION): RN_EPERM naming the
 * URL, never retried. Through a proxy, a host name is resolved by the
 * proxy and cannot be checked here. Loopback stays allowed. Any policy
 * also limits curl to http and https, redirects included.
 *
 * Not confined: plugin code itself. A plugin is native code running in
 * the worker's process and may call open(2) directly; the policy covers
 * what the engine opens for plugins (the host table's io_* functions,
 * which every shipped plugin uses). Who may push plugins to a cluster is
 * what keeps native code out (docs/CLUSTER.md).
 */
typedef struct rn_io_policy {
    const char *const *allow; /* roots jobs may read and write in;
                                 n_allow == 0: anywhere the process may */
    size_t n_allow;
    const char *const *deny;  /* never, even inside an allowed root (the
                                 worker's TLS, local and state dirs) */
    size_t n_deny;
    int block_link_local;     /* refuse link-local / metadata addresses */
} rn_io_policy;

/* Sets the process-wide policy: copies p (NULL clears it). Allowed roots
 * are resolved with realpath(3) and must exist (RN_ENOTFOUND otherwise);
 * denied paths may not exist yet (their existing part is resolved). On
 * error the previous policy stays. Thread-safe (checks read an immutable
 * snapshot under a lock), but meant to be set once, before the worker
 * runs tasks: an open in flight may meet the old and the new policy. */
int rn_io_policy_set(const rn_io_policy *p, rn_errbuf *err);

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
