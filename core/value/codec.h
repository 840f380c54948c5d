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
/* The table-driven version alone, whatever the CPU (for tests). */
uint32_t rn__codec_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
