/*
 * avro_block: the bytes of Avro object container files, decoded into
 * runnel values with no I/O and no engine behind it (the read_avro
 * source and the fuzz target tests/fuzz/fuzz_avro_block.c share it).
 *
 * Everything read here comes from outside and is checked: every length
 * and count is compared with the bytes that remain before anything is
 * allocated, nesting is bounded, decompressed blocks are bounded.
 *
 * Why not avro-c's avro_value_read: it allocates what a length or a
 * count in the data says (a corrupt string length of 2^40 is a 1 TiB
 * malloc; an array of 2^62 nulls never ends). This decoder views the
 * block's bytes instead of copying strings, and stops at the first
 * inconsistency with the offset where it found it.
 */
#ifndef RN_PLUGIN_AVRO_BLOCK_H
#define RN_PLUGIN_AVRO_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/runnel.h>

#define RN_AVRO_MAGIC "Obj\x01"
#define RN_AVRO_SYNC_LEN 16
/* Limits for hostile input. */
#define RN_AVRO_MAX_HEADER ((size_t)16 << 20)
#define RN_AVRO_MAX_BLOCK ((size_t)256 << 20) /* compressed or not */
#define RN_AVRO_MAX_DEPTH 100
/* Values made for elements that take no bytes (null, empty records): a
 * few bytes could otherwise ask for billions of them. Per block. */
#define RN_AVRO_MAX_EMPTY_ITEMS ((size_t)1 << 20)

enum rn_avro_codec {
    RN_AVRO_CODEC_NULL = 0,
    RN_AVRO_CODEC_DEFLATE = 1,
    RN_AVRO_CODEC_SNAPPY = 2,
    RN_AVRO_CODEC_LZMA = 3, /* avro-c's "lzma": raw LZMA2 */
    RN_AVRO_CODEC_XZ = 4,   /* the spec's "xz": an .xz stream (Java) */
    RN_AVRO_CODEC_BZIP2 = 5
};

/* A compiled writer schema. Opaque; made by rn_avro_schema_parse. */
typedef struct rn_avro_schema rn_avro_schema;

/* Memory for the values a block decodes into (an arena: never freed one
 * by one). Returns NULL when out of memory. */
typedef struct rn_avro_alloc {
    void *(*fn)(void *ud, size_t n);
    void *ud;
} rn_avro_alloc;

/* A decoded header. schema is owned by the caller (rn_avro_schema_free). */
typedef struct rn_avro_header {
    rn_avro_schema *schema;
    int codec;                       /* enum rn_avro_codec */
    uint8_t sync[RN_AVRO_SYNC_LEN];
    size_t len;                      /* bytes, sync marker included */
} rn_avro_header;

/* Compiles a schema written as JSON (named types, recursion, unions,
 * logical types as their base type). 0, or RN_EFORMAT with err set. */
int rn_avro_schema_parse(const char *json, size_t len, rn_avro_schema **out,
                         char *err, size_t errlen);
void rn_avro_schema_free(rn_avro_schema *s);

/* The codec called `name` ("null", "deflate", "snappy", "xz", "bzip2" and
 * "lzma", avro-c's own name for raw LZMA2 blocks), or -1 when unknown or
 * not built in. */
int rn_avro_codec_from_name(const char *name, size_t len);
const char *rn_avro_codec_name(int codec);

/* Parses the header at the start of p[0, n). Returns 0 (h filled), 1
 * when more bytes are needed, or RN_EFORMAT with err set (err says the
 * byte offset). */
int rn_avro_header_parse(const uint8_t *p, size_t n, rn_avro_header *h,
                         char *err, size_t errlen);

/* Reads a zig-zag varint long at p[*pos, n): 0, 1 when the bytes end
 * first, RN_EFORMAT when longer than 10 bytes. */
int rn_avro_read_long(const uint8_t *p, size_t n, size_t *pos, int64_t *out);

/* Decompresses one block's data. *out is a malloc'd buffer of *cap bytes
 * reused between calls (grown as needed, at most RN_AVRO_MAX_BLOCK);
 * with the null codec, *data views `in` instead. 0 or RN_EFORMAT /
 * RN_ENOMEM with err set. */
int rn_avro_block_decompress(int codec, const uint8_t *in, size_t n,
                             uint8_t **buf, size_t *cap,
                             const uint8_t **data, size_t *len, char *err,
                             size_t errlen);

/* Decodes `count` data of schema s from p[0, n) and calls emit for each
 * (values view p, the schema, and memory from a). The block must be used
 * up exactly. 0, the first non-zero return of emit, or RN_EFORMAT /
 * RN_ENOMEM with err set and *bad (when not NULL) the offset in p. */
int rn_avro_block_decode(const rn_avro_schema *s, const uint8_t *p, size_t n,
                         int64_t count, rn_avro_alloc *a,
                         int (*emit)(void *ud, const rn_value *v), void *ud,
                         char *err, size_t errlen, size_t *bad);

#endif

/* ------------------------------------------------------------------ */
/* Writing                                                             */

/* A growable byte buffer (malloc'd; at most RN_AVRO_MAX_BLOCK bytes). */
typedef struct rn_avro_buf {
    uint8_t *p;
    size_t len, cap;
} rn_avro_buf;

void rn_avro_buf_release(rn_avro_buf *b);

/* Appends the container header (magic, avro.schema = schema_json as
 * given, avro.codec, sync). 0 or RN_ENOMEM / RN_ELIMIT. */
int rn_avro_header_write(rn_avro_buf *b, const char *schema_json,
                         size_t len, int codec,
                         const uint8_t sync[RN_AVRO_SYNC_LEN]);

/* Appends v encoded with schema s. A value that does not fit fails with
 * RN_ETYPE and err naming the field ("user.name: expected string, got
 * int"); b->len is then unspecified. Record fields missing from v are
 * written as null when the schema allows null; extra fields are
 * ignored; ints may stand for float/double; a string for bytes/fixed. */
int rn_avro_encode(const rn_avro_schema *s, const rn_value *v,
                   rn_avro_buf *b, char *err, size_t errlen);

/* Compresses in[0, n) with codec into out (replacing its contents). */
int rn_avro_block_compress(int codec, const uint8_t *in, size_t n,
                           rn_avro_buf *out, char *err, size_t errlen);

/* Appends the zig-zag varint of v. */
int rn_avro_put_long(rn_avro_buf *b, int64_t v);
