/*
 * Sorted runs: the on-disk form of keyed data spilled under a memory
 * budget (issue 11) and exchanged by the hash shuffle (issue 12). Byte
 * layout: docs/SPILL.md.
 *
 * A run is a file of records in non-decreasing order of a 64-bit hash
 * (the key's rn_value_hash, which every machine computes alike). A
 * record is the hash and a fixed number of values, 1..RN_RUN_MAX_VALUES
 * per run (a keyed fold's: the key and its accumulator), each value in
 * the engine's value encoding (value/codec.h). Records are grouped into
 * blocks of about 256 KiB before compression, each compressed on its own
 * with zstd and checksummed (CRC32C); a footer indexes the blocks by
 * hash, so a reader of a hash range reads only the blocks that overlap
 * it.
 *
 * Writing: rn_run_writer_open in a directory, rn_run_writer_add in hash
 * order, rn_run_writer_finish. The file is written under a temporary
 * name and renamed into place by finish: a process killed while writing
 * leaves a *.tmp file, never one that looks like a finished run. Files
 * are created 0600, with O_CLOEXEC. Nothing is fsync'd: a run is scratch
 * that does not outlive the job, whose loss a crash of the machine makes
 * moot.
 *
 * Reading: rn_run_reader_open (a file) or rn_run_reader_open_mem (bytes),
 * optionally rn_run_reader_set_range, then rn_run_reader_next until it
 * returns 0. The reader treats the bytes as hostile (they may come from
 * another worker): every size, count, offset, order and checksum is
 * checked before it is used, memory is bounded by one block, and any
 * inconsistency is RN_EFORMAT naming the file, the byte offset and what
 * was wrong.
 *
 * Memory: everything (buffers, the block index, zstd's contexts) goes
 * through rn_malloc, so the budget sees it. A writer holds the block
 * being filled, its assembled and compressed copies and zstd's context:
 * about 2 MiB at the default block size and level. A reader holds one
 * compressed and one decompressed block, the decoded values of one
 * record (an arena of 256 KiB) and zstd's decompression context: about
 * 1.1 MiB, plus 32 bytes per block of the index.
 *
 * Thread-safety: a writer or a reader is used by one thread at a time;
 * distinct ones are independent (many readers of one file are fine).
 */
#ifndef RN_SPILL_RUN_H
#define RN_SPILL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/value.h>

#include "base/error.h"

/* Values per record: 1..RN_RUN_MAX_VALUES, a property of the run. */
#define RN_RUN_MAX_VALUES 4
/* Records are cut into blocks of about this many bytes before
 * compression (a block ends with the record that reaches it). */
#define RN_RUN_BLOCK_SIZE ((size_t)256 * 1024)
/* Largest block, before compression, a writer makes or a reader accepts:
 * a record must fit in one (RN_ELIMIT otherwise). It bounds a reader's
 * memory whatever the file says. */
#define RN_RUN_BLOCK_MAX ((size_t)64 * 1024 * 1024)

/* Fixed sizes of the layout (docs/SPILL.md), for tools and tests. */
#define RN_RUN_HEADER_SIZE 16       /* file header */
#define RN_RUN_BLOCK_HEADER_SIZE 36 /* before each block's bytes */
#define RN_RUN_FOOTER_FIXED 40      /* footer before its index entries */
#define RN_RUN_INDEX_ENTRY_SIZE 32  /* one per block */
#define RN_RUN_TRAILER_SIZE 24      /* the last bytes of the file */
/* The smallest run: header, empty footer (with its CRC), trailer. */
#define RN_RUN_MIN_SIZE                                                      \
    (RN_RUN_HEADER_SIZE + RN_RUN_FOOTER_FIXED + 4 + RN_RUN_TRAILER_SIZE)

/* Block compression (the file header's codec byte). */
enum {
    RN_RUN_STORED = 0, /* uncompressed (tests, fuzzing seeds) */
    RN_RUN_ZSTD = 1    /* the default */
};

typedef struct rn_run_write_opts {
    int codec;         /* RN_RUN_ZSTD (default) or RN_RUN_STORED */
    int level;         /* zstd level; 0: 1 (fast: spilling is on the hot
                        * path, and the files are short-lived) */
    size_t block_size; /* 0: RN_RUN_BLOCK_SIZE; 64..RN_RUN_BLOCK_MAX */
} rn_run_write_opts;

/* What a finished run holds. */
typedef struct rn_run_info {
    char *path;          /* the file (a writer's: rn_run_info_release);
                          * a reader's: its name, owned by the reader */
    unsigned nvals;      /* values per record */
    int codec;
    uint64_t records;
    uint64_t blocks;
    uint64_t raw_bytes;  /* records before compression: hashes + values */
    uint64_t file_bytes; /* size of the file */
    uint64_t min_hash;   /* first and last hash; 0 when empty */
    uint64_t max_hash;
} rn_run_info;

/* Frees the path of a writer's info (rn_run_writer_finish). */
void rn_run_info_release(rn_run_info *info);

/* ---- writing -------------------------------------------------------- */

typedef struct rn_run_writer rn_run_writer;

/* Starts a run in directory `dir` (which must exist), as
 * dir/run-<pid>-<n>.tmp until finished. nvals: 1..RN_RUN_MAX_VALUES;
 * opts NULL: defaults. RN_EINVAL for bad arguments, RN_EIO when the file
 * cannot be created ("spill to DIR: cannot create a run: ..."),
 * RN_ENOMEM. */
int rn_run_writer_open(rn_run_writer **out, const char *dir, unsigned nvals,
                       const rn_run_write_opts *opts, rn_errbuf *err);

/* Appends one record: its hash and nvals values (deep-copied into the
 * writer's encoding; the values may change after the call). Hashes must
 * come in non-decreasing order: a smaller hash than the previous record's
 * is refused with RN_EINVAL (the run is still usable). The hash is the
 * caller's (normally rn_value_hash of the key, values[0]); the run does
 * not recompute it. Errors: RN_ETYPE / RN_ELIMIT for a value the encoding
 * refuses or a record larger than RN_RUN_BLOCK_MAX (the run is still
 * usable), RN_EIO when writing a block fails ("spill to DIR: No space
 * left on device"; the file is removed at once and every later call
 * fails the same way), RN_ENOMEM. */
int rn_run_writer_add(rn_run_writer *w, uint64_t hash, const rn_value *values,
                      rn_errbuf *err);

/* Writes the last block, the index and the trailer, and renames the file
 * into place as dir/run-<pid>-<n>.run; *info (may be NULL) gets its
 * path (rn_run_info_release) and totals. Frees w whatever happens; on
 * error nothing is left on disk. */
int rn_run_writer_finish(rn_run_writer *w, rn_run_info *info,
                         rn_errbuf *err);

/* Removes the temporary file and frees w. NULL is a no-op. */
void rn_run_writer_abort(rn_run_writer *w);

/* Records added so far, and their size before compression (the bytes a
 * caller may weigh against a budget). */
uint64_t rn_run_writer_records(const rn_run_writer *w);
uint64_t rn_run_writer_raw_bytes(const rn_run_writer *w);

/* ---- reading -------------------------------------------------------- */

typedef struct rn_run_reader rn_run_reader;

/* Opens a run file and checks its header, trailer and block index
 * (blocks are checked as they are read). RN_ENOTFOUND when the file does
 * not exist, RN_EIO when it cannot be read, RN_EFORMAT when it is not a
 * complete, well-formed run ("bad spill run PATH at byte offset N: ..."),
 * RN_ENOMEM. */
int rn_run_reader_open(rn_run_reader **out, const char *path,
                       rn_errbuf *err);

/* The same over len bytes at data, which must stay valid and unchanged
 * until the reader is freed; `name` says what they are in messages. */
int rn_run_reader_open_mem(rn_run_reader **out, const void *data, size_t len,
                           const char *name, rn_errbuf *err);

/* Restricts the reader to hashes in [lo, hi] (inclusive): only the blocks
 * whose hashes overlap it are read. Call before the first read. */
void rn_run_reader_set_range(rn_run_reader *r, uint64_t lo, uint64_t hi);

/* The next record: 1 with *hash and *values (nvals values, valid until
 * the next call of rn_run_reader_next or _free, in memory the reader
 * owns), 0 at the end, or a negative code (RN_EFORMAT, RN_EIO,
 * RN_ENOMEM, RN_ELIMIT), after which every call fails the same way. */
int rn_run_reader_next(rn_run_reader *r, uint64_t *hash,
                       const rn_value **values, rn_errbuf *err);

/* The hash of the record rn_run_reader_next would return, without
 * returning it: 1, 0 at the end, or an error as _next. Values from the
 * previous _next stay valid (a merge looks ahead without copying). */
int rn_run_reader_peek(rn_run_reader *r, uint64_t *hash, rn_errbuf *err);

/* The run's totals, from its footer (info->path is the reader's name). */
const rn_run_info *rn_run_reader_info(const rn_run_reader *r);

/* Blocks read and bytes read from the file or buffer so far (headers,
 * index and blocks). */
void rn_run_reader_stats(const rn_run_reader *r, uint64_t *blocks,
                         uint64_t *bytes);

void rn_run_reader_free(rn_run_reader *r); /* NULL is a no-op */

#endif
