/*
 * A partition written to disk as it is made: the wire encoding of
 * value/codec.h (docs/ENCODING.md), built a batch of values at a time,
 * for a task output too big to hold in memory (a keyed fold's result
 * partition on a worker past its budget: cluster/taskrun.c). The
 * finished file is what rn_codec_encode would give for all the values
 * pushed, in order, so the partition store serves it to peers as it is
 * and reads it back with rn_codec_decode.
 *
 * The element count leads the body as a varint whose length is known
 * only at the end, and a decoder accepts only minimal varints: the
 * writer leaves room for the longest one before the values and writes
 * header and count, right-aligned, at the end. The encoding therefore
 * starts at a small offset into the file (rn_pfile_end says which); the
 * bytes before it are unused. The CRC is kept over the values as they
 * are written and combined with the header's at the end: nothing is
 * read back.
 *
 * Memory: one buffer of encoded values (flushed at about 1 MiB) through
 * rn_malloc. Errors (a full disk) leave no file behind.
 *
 * Ownership: the writer owns its file until rn_pfile_end hands it over
 * (the caller then removes it when done); rn_pfile_abort removes it.
 * Thread-safety: a writer is used by one thread.
 */
#ifndef RN_SPILL_PFILE_H
#define RN_SPILL_PFILE_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/value.h>

#include "base/buf.h"
#include "base/error.h"

typedef struct rn_pfile {
    char *path;
    int fd;
    uint64_t count;   /* values pushed */
    uint64_t vbytes;  /* their encoded bytes written or buffered */
    uint32_t crc;     /* of the values' bytes */
    rn_buf buf;       /* encoded, not yet written */
} rn_pfile;

/* Creates a new file in dir (0600, a unique name ending in .rnp). */
int rn_pfile_begin(rn_pfile *w, const char *dir, rn_errbuf *err);
/* Appends items[0..n) (they may be freed once this returns). */
int rn_pfile_push(rn_pfile *w, const rn_value *items, size_t n,
                  rn_errbuf *err);
/* Finishes the encoding. *path gets the file (the caller's now, to free
 * with rn_free and unlink), *off where its encoding starts, *size its
 * length. On error the file is removed. The writer is released either
 * way. */
int rn_pfile_end(rn_pfile *w, char **path, uint64_t *off, uint64_t *size,
                 rn_errbuf *err);
/* Removes the file and releases the writer (after begin; twice is fine). */
void rn_pfile_abort(rn_pfile *w);

#endif
