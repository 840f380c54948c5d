/*
 * The record-boundary automaton of csv_scan.h.
 */
#include <string.h>

#include "csv_scan.h"

void rn_csv_scan_init(rn_csv_scan *s, unsigned char delim,
                      unsigned char quote)
{
    s->state = RN_CSV_ROW;
    s->delim = delim;
    s->quote = quote;
    s->rows = 0;
}

static int is_term(unsigned char c)
{
    return c == '\r' || c == '\n';
}

/* One byte. */
static void step(rn_csv_scan *s, unsigned char c)
{
    switch (s->state) {
    case RN_CSV_ROW:
    case RN_CSV_FIELD:
        if (is_term(c)) {
            if (s->state == RN_CSV_FIELD)
                s->rows++;
            s->state = RN_CSV_ROW;
        } else if (c == s->delim) {
            s->state = RN_CSV_FIELD;
        } else if (c == s->quote) {
            s->state = RN_CSV_QUOTED;
        } else {
            s->state = RN_CSV_BARE;
        }
        break;
    case RN_CSV_BARE:
        if (is_term(c)) {
            s->rows++;
            s->state = RN_CSV_ROW;
        } else if (c == s->delim) {
            s->state = RN_CSV_FIELD;
        }
        break;
    case RN_CSV_QUOTED:
        if (c == s->quote)
            s->state = RN_CSV_CLOSING;
        break;
    case RN_CSV_CLOSING:
    default:
        if (is_term(c)) {
            s->rows++;
            s->state = RN_CSV_ROW;
        } else if (c == s->delim) {
            s->state = RN_CSV_FIELD;
        } else {
            s->state = RN_CSV_QUOTED;
        }
        break;
    }
}

/* Inside a quoted field only a quote matters: skip to the next. */
static size_t skip_quoted(const rn_csv_scan *s, const unsigned char *p,
                          size_t i, size_t n)
{
    const unsigned char *q = memchr(p + i, s->quote, n - i);
    return q ? (size_t)(q - p) : n;
}

size_t rn_csv_scan_to_row(rn_csv_scan *s, const unsigned char *p, size_t n,
                          size_t from)
{
    size_t i = 0;
    while (i < n) {
        if (s->state == RN_CSV_ROW && i >= from)
            return i;
        if (s->state == RN_CSV_QUOTED) {
            i = skip_quoted(s, p, i, n);
            if (i == n)
                break;
        }
        step(s, p[i++]);
    }
    return s->state == RN_CSV_ROW && n >= from ? n : n + 1;
}

size_t rn_csv_scan_to_record(rn_csv_scan *s, const unsigned char *p,
                             size_t n, uint64_t row)
{
    size_t i = 0;
    while (i < n) {
        if (s->state == RN_CSV_ROW && s->rows == row && !is_term(p[i]))
            return i;
        if (s->state == RN_CSV_QUOTED) {
            i = skip_quoted(s, p, i, n);
            if (i == n)
                break;
        }
        step(s, p[i++]);
    }
    return n + 1;
}

size_t rn_csv_bom_len(const unsigned char *p, size_t n)
{
    return n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? 3 : 0;
}
