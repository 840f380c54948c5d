/*
 * Where CSV records start, without decoding them: the automaton of
 * libcsv's parser (csv_parse in its default, lenient mode, with no
 * character taken for a space) reduced to its states, which is all that
 * decides whether a byte is data or ends a record.
 *
 *   ROW      no field of a record begun (libcsv's ROW_NOT_BEGUN)
 *   FIELD    after a delimiter (FIELD_NOT_BEGUN)
 *   BARE     inside an unquoted field (FIELD_BEGUN, quoted = 0)
 *   QUOTED   inside a quoted field (FIELD_BEGUN, quoted = 1)
 *   CLOSING  a quote seen inside a quoted field (FIELD_MIGHT_HAVE_ENDED)
 *
 * transitions (term = CR or LF; a quote only opens a field at its start):
 *   ROW:     term -> ROW (a blank line: no record); delim -> FIELD;
 *            quote -> QUOTED; other -> BARE
 *   FIELD:   term -> ROW (record ends); delim -> FIELD; quote -> QUOTED;
 *            other -> BARE
 *   BARE:    term -> ROW (record ends); delim -> FIELD; other (quote
 *            too) -> BARE
 *   QUOTED:  quote -> CLOSING; other (delim, term too) -> QUOTED
 *   CLOSING: term -> ROW (record ends); delim -> FIELD; anything else ->
 *            QUOTED (a doubled quote, or lenient libcsv going on with a
 *            field that is still quoted)
 *
 * A position where the automaton is in ROW is a safe place to start
 * parsing with a fresh parser: libcsv is in the same state there (the
 * fuzz target tests/fuzz/fuzz_csv_block.c checks both agree on every
 * input). read_csv cuts its blocks only at such positions.
 *
 * Plain data, no allocation; one scanner per thread.
 */
#ifndef RN_CSV_SCAN_H
#define RN_CSV_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum {
    RN_CSV_ROW = 0,
    RN_CSV_FIELD,
    RN_CSV_BARE,
    RN_CSV_QUOTED,
    RN_CSV_CLOSING
};

typedef struct rn_csv_scan {
    int state;
    unsigned char delim, quote;
    uint64_t rows; /* records ended so far */
    unsigned char cls[256]; /* byte -> class (other, delim, quote, term) */
} rn_csv_scan;

void rn_csv_scan_init(rn_csv_scan *s, unsigned char delim,
                      unsigned char quote);

/* Runs s over p[0, n) until it stands in ROW at an index >= from: returns
 * that index (0 .. n; bytes before it consumed, none after), or n + 1
 * when there is none (all n bytes consumed). */
size_t rn_csv_scan_to_row(rn_csv_scan *s, const unsigned char *p, size_t n,
                          size_t from);

/* Runs s over p[0, n) until the first byte of record number `row` (0 for
 * the first record the scanner meets, counting s->rows): returns its
 * index (that byte not consumed), or n + 1 when it is not in p (all
 * consumed). */
size_t rn_csv_scan_to_record(rn_csv_scan *s, const unsigned char *p,
                             size_t n, uint64_t row);

/* The length of a UTF-8 byte order mark at p (3), or 0. */
size_t rn_csv_bom_len(const unsigned char *p, size_t n);

#endif
