/*
 * The CSV block decoder: bytes in, records out, through libcsv (RFC 4180
 * quoting: fields in quotes may hold delimiters, CR, LF and doubled
 * quotes). Independent of the engine (no rn_ctx), so the fuzz target
 * (tests/fuzz/fuzz_csv_block.c) runs it as it is.
 *
 * Rules (libcsv's, with one choice of ours: no character is a "space",
 * so fields keep their blanks, as Python's csv module does):
 *   - records end at CR, LF or CRLF outside quotes; blank lines are no
 *     records;
 *   - lenient by default: a quote inside an unquoted field is data, and
 *     after a closing quote anything but a delimiter or a line end goes
 *     on as data of the (still quoted) field; with `strict`, both are
 *     errors (RN_CSV_ERR_STRICT, with the byte offset);
 *   - a quoted field still open at the end of the data is an error
 *     (RN_CSV_ERR_UNTERMINATED);
 *   - a UTF-8 byte order mark at the very start is skipped when asked.
 *
 * Each record goes to a callback with its fields as views, valid during
 * the call, each followed by a NUL (not counted in len) so that a field
 * can be handed to strtod. A record is at most max_record bytes
 * (RN_CSV_ERR_TOO_LONG).
 *
 * Ownership: the decoder owns its buffers (malloc); release frees them.
 */
#ifndef RN_CSV_DECODE_H
#define RN_CSV_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <csv.h>

typedef struct rn_csv_field {
    const char *ptr;
    size_t len;
} rn_csv_field;

/* Returns 0 to go on, anything else stops the decoder (kept in rc). */
typedef int (*rn_csv_row_fn)(void *arg, const rn_csv_field *fields,
                             size_t n);

typedef enum rn_csv_err {
    RN_CSV_OK = 0,
    RN_CSV_ERR_ROW_FN,       /* the callback returned non-zero */
    RN_CSV_ERR_STRICT,       /* strict: a misplaced quote at err_offset */
    RN_CSV_ERR_UNTERMINATED, /* a quoted field open at the end */
    RN_CSV_ERR_TOO_LONG,     /* a record longer than max_record */
    RN_CSV_ERR_NOMEM
} rn_csv_err;

typedef struct rn_csv_decoder {
    struct csv_parser p;
    int parser_ready;
    int strict;
    rn_csv_row_fn row;
    void *arg;
    size_t max_record;
    /* the record being read: field bytes, each NUL-terminated */
    char *buf;
    size_t len, cap;
    size_t *ends; /* end of field i in buf (its NUL) */
    size_t nfields, cap_fields;
    rn_csv_field *views;
    size_t cap_views;
    /* byte order mark: bytes of it matched so far, -1 when done */
    int bom;
    uint64_t fed;   /* bytes accepted so far (the BOM included) */
    uint64_t rows;  /* records delivered */
    rn_csv_err err;
    int rc;             /* the callback's return, with ERR_ROW_FN */
    uint64_t err_offset; /* ERR_STRICT: offset of the byte at fault */
} rn_csv_decoder;

/* delim and quote must differ and be neither CR nor LF (checked by the
 * caller). Returns 0, or -1 when out of memory. */
int rn_csv_decoder_init(rn_csv_decoder *d, unsigned char delim,
                        unsigned char quote, int strict, int skip_bom,
                        size_t max_record, rn_csv_row_fn row, void *arg);

/* Decodes n more bytes. Returns RN_CSV_OK, or the error (also kept in
 * d->err; the decoder is then done). */
rn_csv_err rn_csv_decoder_feed(rn_csv_decoder *d, const void *p, size_t n);

/* The end of the data: the last record, or ERR_UNTERMINATED. */
rn_csv_err rn_csv_decoder_finish(rn_csv_decoder *d);

void rn_csv_decoder_release(rn_csv_decoder *d);

#endif
