/*
 * The record-boundary automaton of csv_scan.h.
 */
#include <string.h>

#include "csv_scan.h"

enum { C_OTHER, C_DELIM, C_QUOTE, C_TERM };

/* next[state][class]: the transitions of csv_scan.h; a record ends on
 * the transitions to ROW from FIELD, BARE and CLOSING (ENDS below). */
static const unsigned char next[5][4] = {
    /* ROW */ {RN_CSV_BARE, RN_CSV_FIELD, RN_CSV_QUOTED, RN_CSV_ROW},
    /* FIELD */ {RN_CSV_BARE, RN_CSV_FIELD, RN_CSV_QUOTED, RN_CSV_ROW},
    /* BARE */ {RN_CSV_BARE, RN_CSV_FIELD, RN_CSV_BARE, RN_CSV_ROW},
    /* QUOTED */ {RN_CSV_QUOTED, RN_CSV_QUOTED, RN_CSV_CLOSING, RN_CSV_QUOTED},
    /* CLOSING */ {RN_CSV_QUOTED, RN_CSV_FIELD, RN_CSV_QUOTED, RN_CSV_ROW},
};

void rn_csv_scan_init(rn_csv_scan *s, unsigned char delim,
                      unsigned char quote)
{
    s->state = RN_CSV_ROW;
    s->delim = delim;
    s->quote = quote;
    s->rows = 0;
    memset(s->cls, C_OTHER, sizeof(s->cls));
    s->cls[delim] = C_DELIM;
    s->cls[quote] = C_QUOTE;
    s->cls['\r'] = C_TERM;
    s->cls['\n'] = C_TERM;
}

/* Runs s over p[i, n) in local variables until it stands in ROW at an
 * index >= from (returned), or to the end (n + 1). With want_row, stops
 * instead at the first byte (not a line end) of record `row`. */
static size_t run(rn_csv_scan *s, const unsigned char *p, size_t n,
                  size_t from, int want_row, uint64_t row)
{
    const unsigned char *cls = s->cls;
    unsigned char quote = s->quote;
    int st = s->state;
    uint64_t rows = s->rows;
    size_t i = 0, found = n + 1;

    while (i < n) {
        int cl;
        if (st == RN_CSV_ROW) {
            if (want_row ? rows == row && cls[p[i]] != C_TERM : i >= from) {
                found = i;
                break;
            }
        } else if (st == RN_CSV_QUOTED) {
            /* inside a quoted field only a quote matters */
            const unsigned char *q = memchr(p + i, quote, n - i);
            if (!q) {
                i = n;
                break;
            }
            i = (size_t)(q - p);
        }
        cl = cls[p[i++]];
        rows += cl == C_TERM && st != RN_CSV_ROW && st != RN_CSV_QUOTED;
        st = next[st][cl];
    }
    if (found > n && !want_row && st == RN_CSV_ROW && n >= from)
        found = n;
    s->state = st;
    s->rows = rows;
    return found;
}

size_t rn_csv_scan_to_row(rn_csv_scan *s, const unsigned char *p, size_t n,
                          size_t from)
{
    return run(s, p, n, from, 0, 0);
}

size_t rn_csv_scan_to_record(rn_csv_scan *s, const unsigned char *p,
                             size_t n, uint64_t row)
{
    return run(s, p, n, 0, 1, row);
}

size_t rn_csv_bom_len(const unsigned char *p, size_t n)
{
    return n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? 3 : 0;
}
