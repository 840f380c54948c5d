/*
 * The binary wire encoding of partitions: what travels between workers
 * (one buffer per partition, chunked only by the transport) and what is
 * spilled to disk. Byte layout and versioning rule: docs/ENCODING.md.
 *
 * In short: a 16-byte header (magic "\x89RNP", major, minor, flags, body
 * length), a body (element count, then each value as a kind tag and its
 * payload), and a CRC32C trailer over header and body.
 *
 * Decoding treats its input as hostile: every count is checked against the
 * bytes left before anything is allocated, nesting is limited to
 * RN_VALUE_MAX_DEPTH, and an error names the byte offset where the input
 * went wrong.
 *
 * All functions are reentrant and touch only their arguments.
 */
#ifndef RN_CORE_CODEC_H
#define RN_CORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/value.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/error.h"
#include "value/partition.h"

/* Format version written by rn_codec_encode. The decoder accepts every
 * minor of its major (docs/ENCODING.md, "Versioning"). */
#define RN_CODEC_MAJOR 1
#define RN_CODEC_MINOR 0

#define RN_CODEC_HEADER_SIZE 16
#define RN_CODEC_TRAILER_SIZE 4

/* Appends the encoding of items[0..n) to out.
 *
 * Values must be well formed (kinds 0..RN_KIND_MAX, nesting no deeper than
 * RN_VALUE_MAX_DEPTH, as rn_value_copy accepts). Returns 0, RN_ETYPE for an
 * unknown kind, RN_ELIMIT for a value nested too deep or when out would
 * pass its maximum, RN_ENOMEM. On error out->len is left as it was. */
int rn_codec_encode(rn_buf *out, const rn_value *items, size_t n);

/* Decodes one encoded partition (exactly `len` bytes: no trailing data),
 * appending its values to `into`. Strings, lists and records are allocated
 * in into->arena (each string copied once, densely packed).
 *
 * Returns 0; RN_EFORMAT for malformed or corrupted bytes, RN_ELIMIT for a
 * value past a limit (nesting depth, a length of 2^32 or more); RN_ENOMEM
 * when the arena or allocator refuses. err says why, naming the byte
 * offset. On error into->n is unchanged (into->arena may have grown).
 *
 * Never crashes on hostile bytes and never allocates more than about 16
 * times len (plus one arena chunk): no count is believed before the bytes
 * it needs have been seen to exist. */
int rn_codec_decode(const void *data, size_t len, rn_partition *into,
                    rn_errbuf *err);

/* ---- streaming ------------------------------------------------------
 *
 * The same bytes as rn_codec_encode / rn_codec_decode, a piece at a time,
 * so a sender ships the first piece before the last is encoded and a
 * receiver decodes while the rest is still arriving (core/transport/
 * chunk.c). Neither changes the format. */

/* Encoder state. Everything in it is private to codec.c. */
typedef struct rn_codec_enc {
    const rn_value *items;
    size_t n, i;          /* next top-level element */
    uint64_t total, done; /* size of the whole encoding, bytes produced */
    uint32_t crc;
    int stage;            /* header, body, trailer, finished */
    const uint8_t *pend;  /* bytes of a value still to copy out */
    size_t pend_len;
    int pend_view;        /* pend is in the values (not the spill) */
    size_t view_min;      /* see rn_codec_enc_view; 0: never */
    rn_buf spill;         /* one element larger than a piece, encoded whole */
} rn_codec_enc;

/* Smallest piece rn_codec_enc_next fills. */
#define RN_CODEC_PIECE_MIN 64

/* Checks items[0..n) (the errors of rn_codec_encode: RN_ETYPE, RN_ELIMIT)
 * and computes the size of their encoding (rn_codec_enc_total). items must
 * stay valid and unchanged until rn_codec_enc_release. */
int rn_codec_enc_begin(rn_codec_enc *e, const rn_value *items, size_t n);
static inline uint64_t rn_codec_enc_total(const rn_codec_enc *e)
{
    return e->total;
}
/* Writes the next at most cap (>= RN_CODEC_PIECE_MIN) bytes of the
 * encoding to buf; *len gets how many (a piece may be shorter than cap;
 * 0 once everything was produced). RN_ENOMEM, or RN_EINTERNAL if the
 * values changed since begin. */
int rn_codec_enc_next(rn_codec_enc *e, void *buf, size_t cap, size_t *len);
/* Long strings without a copy: once view_min is set (after begin), a run
 * of at least view_min bytes of a string or bytes value is not copied by
 * rn_codec_enc_next, which ends its piece before it; rn_codec_enc_view
 * then gives up to max bytes of it as a pointer into the values (*len 0
 * when the encoder is not at such a run). Those bytes are part of the
 * encoding (checksummed) and come right after the previous piece. */
void rn_codec_enc_view(rn_codec_enc *e, size_t max, const void **p,
                       size_t *len);
void rn_codec_enc_release(rn_codec_enc *e);

/* Decoder state. Everything in it is private to codec.c. */
typedef struct rn_codec_dec {
    rn_partition *into;
    size_t n0;            /* into->n at begin: nothing committed before end */
    uint64_t count, ndone; /* elements announced, decoded */
    int have_count;
    int stage;            /* header, body */
    int eager;            /* 0 once eager decoding gave up: all waits for end */
    uint8_t head[RN_CODEC_HEADER_SIZE];
    uint8_t trailer[RN_CODEC_TRAILER_SIZE];
    uint64_t got;         /* bytes fed */
    uint64_t body;        /* body length (once the header is in) */
    uint32_t crc;         /* over the header and the body bytes fed */
    uint8_t *w;           /* window: body bytes from stream offset woff */
    size_t wlen, wcap;
    uint64_t woff;
    uint64_t pos;         /* stream offset of the next element */
    uint64_t retry_at;    /* eager decoding waits for this many bytes */
    char *pool;           /* the decoder's string pool (see rn_codec_decode) */
    size_t pool_left;
} rn_codec_dec;

/* Decodes into `into` as bytes are fed. Elements whose bytes have all
 * arrived are decoded at once (into a private tail of into->items); only
 * the window from the first undecoded element on is kept. Every check of
 * rn_codec_decode is kept, in the same order: body errors are reported
 * only by rn_codec_dec_end, after the length and the checksum, with the
 * same messages and offsets. */
void rn_codec_dec_begin(rn_codec_dec *d, rn_partition *into);
/* RN_EFORMAT (a bad header, reported as soon as its 16 bytes are in) or
 * RN_ENOMEM. */
int rn_codec_dec_feed(rn_codec_dec *d, const void *p, size_t n,
                      rn_errbuf *err);
/* After the last byte: the result rn_codec_decode would give for all the
 * bytes fed; on success the values are appended to `into`. */
int rn_codec_dec_end(rn_codec_dec *d, rn_errbuf *err);
void rn_codec_dec_release(rn_codec_dec *d);

/* ---- single values --------------------------------------------------
 *
 * One value's encoding — its tag and payload, exactly as a partition's
 * body holds it — without a partition's header, count or checksum, for
 * formats that frame values their own way (spill runs: core/spill/run.c,
 * docs/SPILL.md). The rules are those of docs/ENCODING.md, "Values" and
 * "Limits": one encoding per value, the same checks. */

/* Appends the encoding of v to out. Errors as rn_codec_encode (RN_ETYPE,
 * RN_ELIMIT, RN_ENOMEM); on error out->len is left as it was. */
int rn_codec_value_encode(rn_buf *out, const rn_value *v);

/* A reader of encoded values laid back to back. Everything in it is
 * private to codec.c. */
typedef struct rn_codec_vdec {
    const uint8_t *base;
    size_t base_off;
    const uint8_t *p, *end;
    rn_arena *arena;
    char *pool;
    size_t pool_left;
    rn_errbuf *err;
    const char *what;
} rn_codec_vdec;

/* Reads values from data[0..len), which must stay valid while d is used;
 * nothing is allocated until a value is read. Strings, lists and records
 * go to `arena` (strings packed into pool blocks of at most 64 KiB, never
 * more than the bytes left). Errors read "bad <what> at byte offset N:
 * ...", N counted from data plus base_off; `what` must outlive d. */
void rn_codec_vdec_init(rn_codec_vdec *d, const void *data, size_t len,
                        size_t base_off, rn_arena *arena, const char *what);
/* The next value. RN_EFORMAT (malformed, or no bytes left: "truncated"),
 * RN_ELIMIT, RN_ENOMEM, as rn_codec_decode; after an error d is not to
 * be read from again. */
int rn_codec_vdec_next(rn_codec_vdec *d, rn_value *out, rn_errbuf *err);
/* Call after resetting or releasing the arena: the string pool it held is
 * gone (values already read go with it). */
static inline void rn_codec_vdec_forget_pool(rn_codec_vdec *d)
{
    d->pool = NULL;
    d->pool_left = 0;
}
/* Bytes not read yet. */
static inline size_t rn_codec_vdec_left(const rn_codec_vdec *d)
{
    return (size_t)(d->end - d->p);
}

/* ---- in batches -------------------------------------------------------
 *
 * A whole encoding held in memory (or mapped), decoded a batch at a time,
 * so whoever consumes it (a combine folding in a fetched partial) holds
 * the compact encoded bytes and one batch of values, not every value. The
 * checks of rn_codec_decode all hold: header, length and checksum at open
 * (before any value is believed), each value as it is read, and nothing
 * left over at the end. */
typedef struct rn_codec_batches {
    rn_codec_vdec d;
    uint64_t count, done;
} rn_codec_batches;
/* data[0..len) must stay valid while r is used. */
int rn_codec_batches_open(rn_codec_batches *r, const void *data, size_t len,
                          rn_errbuf *err);
/* Empties batch (rn_partition_clear: its values and their memory go)
 * and decodes up to max (> 0) next values into it; batch->n == 0 once
 * all were read. Errors as rn_codec_decode's; then r is not read again. */
int rn_codec_batches_next(rn_codec_batches *r, rn_partition *batch, size_t max,
                          rn_errbuf *err);

/* Reads the header at data[0..len) (at least RN_CODEC_HEADER_SIZE bytes)
 * and sets *total to the size of the whole encoding (header, body and
 * trailer), so a reader of a stream or a spill file knows how much to read
 * before calling rn_codec_decode. Checks magic, version and flags only. */
int rn_codec_frame_size(const void *data, size_t len, uint64_t *total,
                        rn_errbuf *err);

/* CRC32C (Castagnoli, reflected, as in iSCSI and ext4) of p[0..n),
 * continuing from crc (0 to start). Uses the CPU's instruction when there
 * is one. rn_codec_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t rn_codec_crc32c(uint32_t crc, const void *p, size_t n);
/* The CRC32C of A then B from crc_a = CRC of A and crc_b = CRC of B
 * (len_b bytes), without reading either again. */
uint32_t rn_codec_crc32c_combine(uint32_t crc_a, uint32_t crc_b,
                                 uint64_t len_b);
/* The table-driven version alone, whatever the CPU (for tests). */
uint32_t rn__codec_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
