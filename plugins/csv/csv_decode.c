/*
 * The CSV block decoder (csv_decode.h) over libcsv.
 */
#include <stdlib.h>
#include <string.h>

#include "csv_decode.h"

/* libcsv grows its field buffer by this much at a time (its default, 128,
 * would realloc every 128 bytes of a long field). */
#define LIBCSV_BLOCK ((size_t)64 << 10)

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

int rn_csv_decoder_init(rn_csv_decoder *d, unsigned char delim,
                        unsigned char quote, int strict, int skip_bom,
                        size_t max_record, rn_csv_row_fn row, void *arg)
{
    memset(d, 0, sizeof(*d));
    if (csv_init(&d->p, strict ? CSV_STRICT : 0) != 0)
        return -1;
    d->parser_ready = 1;
    csv_set_delim(&d->p, delim);
    csv_set_quote(&d->p, quote);
    csv_set_space_func(&d->p, no_space);
    csv_set_blk_size(&d->p, LIBCSV_BLOCK);
    d->strict = strict;
    d->row = row;
    d->arg = arg;
    d->max_record = max_record;
    d->bom = skip_bom ? 0 : -1;
    return 0;
}

void rn_csv_decoder_release(rn_csv_decoder *d)
{
    if (d->parser_ready)
        csv_free(&d->p);
    free(d->buf);
    free(d->ends);
    free(d->views);
    memset(d, 0, sizeof(*d));
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 16;
    void *np;
    while (c < need)
        c *= 2;
    if (c == *cap)
        return 0;
    if (!(np = realloc(*p, c * size)))
        return -1;
    *p = np;
    *cap = c;
    return 0;
}

/* libcsv's end-of-field callback: the field's bytes and a NUL. */
static void on_field(void *data, size_t n, void *arg)
{
    rn_csv_decoder *d = arg;
    if (d->err)
        return;
    if (d->len + n + 1 > d->max_record) {
        d->err = RN_CSV_ERR_TOO_LONG;
        return;
    }
    if (grow((void **)&d->buf, &d->cap, d->len + n + 1, 1) < 0 ||
        grow((void **)&d->ends, &d->cap_fields, d->nfields + 1,
             sizeof(*d->ends)) < 0) {
        d->err = RN_CSV_ERR_NOMEM;
        return;
    }
    if (n)
        memcpy(d->buf + d->len, data, n);
    d->len += n;
    d->buf[d->len] = '\0';
    d->ends[d->nfields++] = d->len++;
}

/* libcsv's end-of-record callback. */
static void on_row(int c, void *arg)
{
    rn_csv_decoder *d = arg;
    size_t start = 0;
    (void)c;
    if (d->err)
        return;
    if (grow((void **)&d->views, &d->cap_views, d->nfields,
             sizeof(*d->views)) < 0) {
        d->err = RN_CSV_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        d->views[i].ptr = d->buf + start;
        d->views[i].len = d->ends[i] - start;
        start = d->ends[i] + 1;
    }
    d->rows++;
    if ((d->rc = d->row(d->arg, d->views, d->nfields)) != 0)
        d->err = RN_CSV_ERR_ROW_FN;
    d->len = 0;
    d->nfields = 0;
}

static rn_csv_err parse(rn_csv_decoder *d, const void *p, size_t n)
{
    size_t done = csv_parse(&d->p, p, n, on_field, on_row, d);
    if (d->err)
        return d->err;
    if (done < n) {
        if (csv_error(&d->p) == CSV_EPARSE) {
            d->err = RN_CSV_ERR_STRICT;
            d->err_offset = d->fed + done;
        } else {
            d->err = RN_CSV_ERR_NOMEM;
        }
        return d->err;
    }
    /* a record still open counts towards its limit too (the parser's
     * own buffer holds the field being read) */
    if (d->len + d->p.entry_pos > d->max_record)
        return d->err = RN_CSV_ERR_TOO_LONG;
    d->fed += n;
    return RN_CSV_OK;
}

rn_csv_err rn_csv_decoder_feed(rn_csv_decoder *d, const void *p, size_t n)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    const unsigned char *b = p;
    rn_csv_err e;

    if (d->err)
        return d->err;
    /* match the byte order mark across feeds; a partial match that fails
     * is data */
    while (d->bom >= 0 && n > 0) {
        if (b[0] != bom[d->bom]) {
            int had = d->bom;
            d->bom = -1;
            if (had && (e = parse(d, bom, (size_t)had)))
                return e;
            break;
        }
        d->bom++;
        b++;
        n--;
        if (d->bom == 3) {
            d->bom = -1;
            d->fed += 3;
        }
    }
    return n ? parse(d, b, n) : RN_CSV_OK;
}

rn_csv_err rn_csv_decoder_finish(rn_csv_decoder *d)
{
    rn_csv_err e;
    if (d->err)
        return d->err;
    if (d->bom > 0) { /* the data was a BOM's start only */
        int had = d->bom;
        d->bom = -1;
        if ((e = parse(d, (const unsigned char *)"\xEF\xBB", (size_t)had)))
            return e;
    }
    /* CSV_STRICT | CSV_STRICT_FINI make csv_fini refuse a quoted field
     * without its closing quote; the options matter there only */
    csv_set_opts(&d->p, (unsigned char)(CSV_STRICT | CSV_STRICT_FINI));
    if (csv_fini(&d->p, on_field, on_row, d) != 0)
        return d->err = RN_CSV_ERR_UNTERMINATED;
    csv_set_opts(&d->p, d->strict ? CSV_STRICT : 0);
    return d->err;
}
